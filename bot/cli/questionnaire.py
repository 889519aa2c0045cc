"""``m360 questionnaire``: questionnaires as data (YAML in the repo, XLSForm for KoBoToolbox/ODK)."""

from __future__ import annotations

from pathlib import Path

import click

from surveys import conditions, schema, xlsform


@click.group("questionnaire")
def questionnaire_group() -> None:
    """Questionnaires as data: YAML in the repo, XLSForm for KoBoToolbox/ODK."""


@questionnaire_group.command("export")
@click.argument("name")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def questionnaire_export(name: str, output: Path) -> None:
    """Write a shipped questionnaire (or a YAML file) as XLSForm .xlsx, or as YAML if OUTPUT ends in .yaml."""
    try:
        q = schema.load_yaml(name) if name.endswith((".yaml", ".yml")) else schema.builtin(name)
    except schema.UnknownQuestionnaire as exc:
        raise click.ClickException(f"{exc}; shipped: {', '.join(schema.builtin_names())}") from exc
    if output.suffix in (".yaml", ".yml"):
        schema.dump_yaml(q, output)
    else:
        xlsform.to_xlsform(q, output)
    click.echo(f"{q.key} → {output}")


@questionnaire_group.command("import")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def questionnaire_import(source: Path, output: Path) -> None:
    """Read an XLSForm (.xlsx), validate it and write it as questionnaire YAML."""
    try:
        q = xlsform.from_xlsform(source)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    errors = conditions.check(q)
    if errors:
        raise click.ClickException("; ".join(errors))
    schema.dump_yaml(q, output)
    click.echo(f"{q.key}: {len(q.questions)} questions → {output}")


@questionnaire_group.command("validate")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def questionnaire_validate(source: Path) -> None:
    """Check a questionnaire (YAML or XLSForm): types, choice lists, conditions, and pyxform conversion."""
    try:
        q = xlsform.from_xlsform(source) if source.suffix == ".xlsx" else schema.load_yaml(source)
        errors = conditions.check(q) + schema.digit_conflicts(q)
        xlsform.to_xform(q)
    except Exception as exc:  # report any problem in the file as a CLI error, not a traceback
        raise click.ClickException(f"{source}: {exc}") from exc
    if errors:
        raise click.ClickException("; ".join(errors))
    click.echo(f"{q.key}: OK ({len(q.questions)} questions)")
