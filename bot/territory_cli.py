"""Commands of the DER's work with the territories (registered in bot/cli.py):

- ``m360 staff import FILE.csv|xlsx`` / ``m360 staff list``: enlaces and articuladores (bot.staff);
- ``m360 entities pending`` / ``validate CODE`` / ``reject CODE``: grupos de valor outside DIVIPOLA
  (bot.grupos);
- ``m360 tickets report``: the mesa de ayuda's report (bot.mesa) as HTML, XLSX or JSON;
- ``m360 tickets followup``: one round of follow-ups with requesters of open tickets (bot.followup).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from surveys import db


def _actor() -> str:
    return os.environ.get("USER", "cli")


# ---------------------------------------------------------------- enlaces and articuladores


@click.group("staff")
def staff() -> None:
    """Enlaces territoriales and articuladores regionales: who alerts and tickets go to."""


@staff.command("import")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the valid people even if some rows are invalid.")
@click.option("--replace", "replace_all", is_flag=True,
              help="The file is the whole directory: deactivate the people it does not name.")
def staff_import(source: Path, skip_invalid: bool, replace_all: bool) -> None:
    """Load FILE.csv|xlsx with columns rol, nombre, canal, direccion, correo, region, entidades,
    usuario, activo (docs/enlaces.md). Every row is validated; with an invalid row nothing is
    written unless --skip-invalid."""
    from bot import contacts
    from bot import staff as directory

    try:
        rows = contacts.read_rows(source)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"{source}: {exc}") from exc
    db.upgrade()
    with db.transaction(db.default_engine()) as conn:
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
def staff_list(include_inactive: bool, fmt: str) -> None:
    """The directory: articuladores by region, then enlaces with their entities."""
    from bot import staff as directory

    db.upgrade()
    with db.default_engine().connect() as conn:
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


# ---------------------------------------------------------------- grupos de valor


@click.command("pending")
def entities_pending() -> None:
    """Grupos de valor outside DIVIPOLA waiting for the DER's validation."""
    from bot import grupos

    db.upgrade()
    with db.default_engine().connect() as conn:
        waiting = grupos.pending(conn)
    for e in waiting:
        people = "; ".join(f"{c['name'] or 'sin nombre'} ({c['channel']})" for c in e["contacts"]) or "—"
        click.echo(f"{e['code']}  {e['name']} · {e['group_label']} · {e['department']} · registered "
                   f"{(e['registered_at'] or '')[:10]} · {len(e['tickets'])} ticket(s) waiting · {people}")
    if not waiting:
        click.echo("no grupos de valor waiting for validation")


@click.command("validate")
@click.argument("code")
@click.option("--name", help="Correct the name.")
@click.option("--group", help="Correct the kind: esquema_asociativo, instancia_participacion, entidad_nacional, "
                              "cooperante or otro.")
@click.option("--department", help="Correct the department: its 2-digit DIVIPOLA code, 00 for national scope.")
def entities_validate(code: str, name: str | None, group: str | None, department: str | None) -> None:
    """Validate a grupo de valor: its waiting tickets start their terms today (the requesters are told)."""
    from bot import grupos
    from bot.config import now as clock_now

    db.upgrade()
    try:
        with db.transaction(db.default_engine()) as conn:
            released = grupos.validate(conn, code.upper(), actor=_actor(), now=clock_now(), name=name, group=group,
                                       dept_code=department)
    except grupos.GroupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{code.upper()}: validada; {released} ticket(s) released")


@click.command("reject")
@click.argument("code")
@click.option("--note", help="Why (told to the requesters).")
def entities_reject(code: str, note: str | None) -> None:
    """Reject a grupo de valor: its waiting tickets are closed and the requesters told."""
    from bot import grupos
    from bot.config import now as clock_now

    db.upgrade()
    try:
        with db.transaction(db.default_engine()) as conn:
            closed = grupos.reject(conn, code.upper(), actor=_actor(), now=clock_now(), note=note)
    except grupos.GroupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{code.upper()}: rechazada; {closed} ticket(s) closed")


# ---------------------------------------------------------------- the mesa de ayuda's report and follow-ups


@click.command("report")
@click.option("--period", required=True, help="AAAA-MM (mes), AAAA-Qn (trimestre) o AAAA (año).")
@click.option("--region", help="Only this region.")
@click.option("--theme", help="Only this theme (an id of bot/themes.yaml).")
@click.option("--enlace", type=int, help="Only this enlace's tickets (staff id: m360 staff list).")
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "json"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: informe_mesa_<period>.<format>; '-' for stdout).")
def tickets_report(period: str, region: str | None, theme: str | None, enlace: int | None, fmt: str,
                   output: Path | None) -> None:
    """The mesa de ayuda's report: volumes by theme, region, channel and enlace, times to answer
    and close, share answered on time, overdue, referrals and satisfaction, with charts."""
    from analysis import mesa as render
    from analysis.cli import write
    from analysis.periods import parse
    from bot import mesa
    from bot.config import now as clock_now

    try:
        cut = parse(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    db.upgrade()
    with db.default_engine().connect() as conn:
        try:
            data = mesa.build(conn, cut, mesa.Filters(region=region, theme=theme, enlace=enlace), now=clock_now())
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--theme") from exc
    path = write(render.render(data, fmt), output, render.default_name(data, fmt))
    if path is None:
        return
    s = data["summary"]
    click.echo(f"{data['title']} {data['period_label']}: {s['received']} recibidas, {s['answered']} con respuesta "
               f"de fondo ({s['pct_on_time'] if s['pct_on_time'] is not None else '—'} % a tiempo), "
               f"{s['overdue']} vencidas → {path}")


@click.command("followup")
def tickets_followup() -> None:
    """One round of follow-ups with the requesters of open tickets (what `m360 serve` does every
    15 minutes; cron elsewhere)."""
    from bot.followup import FollowUps

    db.upgrade()
    click.echo(f"{FollowUps(db.default_engine()).run_once()} follow-up(s) queued")
