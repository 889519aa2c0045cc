"""``m360 staff``: enlaces territoriales and articuladores regionales (bot.directory.staff), who alerts and
tickets go to."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.common import Database, pass_database
from bot.directory import contacts
from bot.directory import staff as directory


@click.group("staff")
def staff() -> None:
    """Enlaces territoriales and articuladores regionales: who alerts and tickets go to."""


@staff.command("import")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the valid people even if some rows are invalid.")
@click.option("--replace", "replace_all", is_flag=True,
              help="The file is the whole directory: deactivate the people it does not name.")
@pass_database
def staff_import(database: Database, source: Path, skip_invalid: bool, replace_all: bool) -> None:
    """Load FILE.csv|xlsx with columns rol, nombre, canal, direccion, correo, region, entidades,
    usuario, activo (docs/enlaces.md). Every row is validated; with an invalid row nothing is
    written unless --skip-invalid."""
    try:
        rows = contacts.read_rows(source)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"{source}: {exc}") from exc
    with database.transaction() as conn:
        report = directory.import_rows(conn, rows, skip_invalid=skip_invalid, replace_all=replace_all)
    for problem in report.problems:
        click.echo(str(problem), err=True)
    click.echo(f"{source.name}: {len(rows)} rows; {report.summary()}")
    if report.reassigned:
        click.echo(f"entities that changed enlace: {', '.join(report.reassigned)}")
    if report.problems and not report.written:
        raise click.ClickException("invalid rows: nothing imported (fix them, or use --skip-invalid)")


@staff.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Also the inactive.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_database
def staff_list(database: Database, include_inactive: bool, fmt: str) -> None:
    """The directory: articuladores by region, then enlaces with their entities."""
    with database.connect() as conn:
        people = directory.listing(conn, include_inactive=include_inactive)
    if fmt == "json":
        click.echo(json.dumps(people, ensure_ascii=False, indent=2))
        return
    for p in people:
        where = f"{p['channel']} {p['address']}" if p["channel"] else "sin canal"
        scope = p["region"] if p["role"] == "articulador" else ", ".join(e.get("name") or e["code"]
                                                                         for e in p["entities"])
        state = "" if p["active"] else " (inactivo)"
        click.echo(f"#{p['id']} {p['role']:11s} {p['name']}{state} · {where}"
                   f"{' · panel: ' + p['username'] if p['username'] else ''}\n    {scope}")
    if not people:
        click.echo("no enlaces or articuladores yet: m360 staff import FILE.csv")
