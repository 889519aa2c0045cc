"""``m360 report`` (the informe de percepción and the fichas) and ``m360 responses import``;
registered in bot/cli.py. pandas is imported when a command runs, not when ``m360`` starts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from surveys import db

FORMATS = ("html", "xlsx", "json")
SHOWN_ERRORS = 50  # a file with thousands of bad rows is not printed line by line


def filters_from(region: str | None, department: str | None, kind: str | None, pdet: str | None,
                 entity: str | None) -> Any:
    from analysis.indicators import Filters

    return Filters(region=region or None, department=department or None, kind=kind or None,
                   pdet=None if pdet in (None, "") else pdet.lower() in ("si", "sí", "true", "1"),
                   entity=entity or None)


@click.command("report")
@click.option("--period", required=True, help="AAAA-MM (mes), AAAA-Qn (trimestre) o AAAA (año).")
@click.option("--region", help="Only this region (ficha regional).")
@click.option("--entity", "entity", help="Only this entity, DIVIPOLA code (ficha municipal).")
@click.option("--department", help="Only this department (code or name).")
@click.option("--kind", type=click.Choice(["alcaldia", "gobernacion"]), help="Only alcaldías or gobernaciones.")
@click.option("--pdet", type=click.Choice(["si", "no"]), help="Only PDET municipalities (si) or the rest (no).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option("--questionnaire", default="monitoreo360", show_default=True)
@click.option("--score-questions", help="Comma-separated 1–5 questions whose mean is the entity score "
                                        "(default: puntaje_general and the six aspecto_*).")
@click.option("--threshold", type=float, help="Insatisfecho below this score (default 3.5).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: informe_percepcion_<period>.<format>; '-' for stdout).")
def report(period: str, region: str | None, entity: str | None, department: str | None, kind: str | None,
           pdet: str | None, fmt: str, questionnaire: str, score_questions: str | None, threshold: float | None,
           output: Path | None) -> None:
    """Write the informe de percepción of a period (HTML with charts, XLSX, JSON); with --region or
    --entity, the ficha of that region or municipality."""
    from analysis import report as reports
    from analysis.indicators import Options
    from analysis.periods import parse

    try:
        cut = parse(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    defaults = Options()
    options = Options(
        score_questions=tuple(q.strip() for q in score_questions.split(",") if q.strip())
        if score_questions else defaults.score_questions,
        threshold=defaults.threshold if threshold is None else threshold)
    db.upgrade()
    with db.session_factory()() as session:
        data = reports.build_report(session, cut, filters_from(region, department, kind, pdet, entity), options,
                                    qid=questionnaire)
    if entity and data.get("entity", {}).get("entity") is None:
        raise click.BadParameter(f"unknown entity {entity!r} (DIVIPOLA code)", param_hint="--entity")
    path = write(reports.render(data, fmt), output, reports.default_name(data, fmt))
    if path is None:
        return
    s = data["summary"]
    click.echo(f"{data['title']} {data['period_label']}: {s['interviews']} entrevistas, "
               f"{len(data['priority'])} entidades prioritarias → {path}")


def write(payload: bytes, output: Path | None, default: str) -> Path | None:
    """A report's bytes to ``output`` (``-``: stdout, and None is returned) or to ``default``."""
    if str(output) == "-":
        sys.stdout.buffer.write(payload)
        return None
    path = output or Path(default)
    path.write_bytes(payload)
    return path


@click.command("import")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Write the valid rows even if some are bad (those are reported).")
@click.option("--questionnaire", default="monitoreo360", show_default=True)
def responses_import(source: Path, skip_invalid: bool, questionnaire: str) -> None:
    """Load interviews from a .xlsx or .csv in the export format (one row per interview, canonical
    column names). Every row is validated; with any bad row nothing is written unless --skip-invalid.
    Importing the same file again does not duplicate (same entity + period are updated)."""
    from analysis import importer

    db.upgrade()
    try:
        with db.write_session(db.default_engine()) as session:
            result = importer.import_responses(session, source, skip_invalid=skip_invalid,
                                               questionnaire=questionnaire)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in result.file_errors:
        click.echo(f"{source.name}: {problem}", err=True)
    for error in result.errors[:SHOWN_ERRORS]:
        click.echo(f"{source.name}: {error}", err=True)
    if len(result.errors) > SHOWN_ERRORS:
        click.echo(f"{source.name}: … y {len(result.errors) - SHOWN_ERRORS:,} errores más "
                   f"en {len(result.bad_rows):,} filas", err=True)
    if result.file_errors:
        raise click.ClickException(f"{source.name}: nothing imported (fix the file)")
    if result.errors and not result.written:
        raise click.ClickException(f"{source.name}: {len(result.bad_rows)} of {result.rows} rows are invalid; "
                                   "nothing imported (fix them, or use --skip-invalid)")
    click.echo(f"{source.name}: {result.rows} rows, {result.valid} valid, {len(result.bad_rows)} invalid; "
               f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged")
    code_imported(result.answer_ids, questionnaire)


def code_imported(answer_ids: list[int], questionnaire: str) -> None:
    """Code the open answers the import stored (as the chat's background coder would), and say how
    many went to the review queue. Without a model, or if coding fails, they stay for the background
    coder (``m360 serve`` / ``m360 worker``) or ``m360 coder recode``: the import itself is committed."""
    from analysis.coding.deferred import AnswerCodingJob
    from surveys import schema

    job = AnswerCodingJob.for_questionnaires(db.default_engine(), [schema.builtin(questionnaire)])
    try:
        done = job.code_answers(answer_ids)
    except Exception as exc:  # the interviews are stored: coding can be done later
        click.echo(f"open answers not coded now ({exc}); the background coder or `m360 coder recode --all` "
                   "will code them", err=True)
        return
    if not done.seen:
        return
    message = f"open answers: {done.coded} coded, {done.review} sent to the review queue (panel → Cola de revisión)"
    if done.uncoded:
        message += (f"; {done.uncoded} left for the background coder: no model for "
                    f"{', '.join(sorted(done.without_model))} (m360 coder train --all)")
    click.echo(message)
