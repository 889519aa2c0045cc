"""``m360 entities``: the DIVIPOLA reference (alcaldías and gobernaciones) and the grupos de valor
outside it that the DER validates (bot.helpdesk.grupos)."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import Database, actor, clock_now, pass_database
from bot.helpdesk import grupos
from surveys import entities


@click.group("entities")
def entities_group() -> None:
    """DIVIPOLA entities (alcaldías and gobernaciones), and the other grupos de valor the DER validates."""


@entities_group.command("load")
@click.option("--dir", "csv_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder with the four reference CSVs (default: the copies shipped in the package).")
@click.option("--municipios", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="An updated official divipola_municipios.csv (same columns).")
@click.option("--scheme", help="Regional scheme (default M360_REGION_SCHEME or region_pnd_2018_2022).")
@pass_database
def entities_load(database: Database, csv_dir: Path | None, municipios: Path | None, scheme: str | None) -> None:
    """Load or update the entities (idempotent: unchanged rows are left alone)."""
    try:
        infos = entities.read_reference(csv_dir, scheme=scheme, municipios=municipios)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with database.write_session() as session:
        report = entities.load_entities(session, infos)
    click.echo(f"{len(infos)} entities: " + ", ".join(f"{k} {v}" for k, v in report.items()))


@entities_group.command("pending")
@pass_database
def entities_pending(database: Database) -> None:
    """Grupos de valor outside DIVIPOLA waiting for the DER's validation."""
    with database.connect() as conn:
        waiting = grupos.pending(conn)
    for e in waiting:
        people = "; ".join(f"{c['name'] or 'sin nombre'} ({c['channel']})" for c in e["contacts"]) or "—"
        click.echo(f"{e['code']}  {e['name']} · {e['group_label']} · {e['department']} · registered "
                   f"{(e['registered_at'] or '')[:10]} · {len(e['tickets'])} ticket(s) waiting · {people}")
    if not waiting:
        click.echo("no grupos de valor waiting for validation")


@entities_group.command("validate")
@click.argument("code")
@click.option("--name", help="Correct the name.")
@click.option("--group", help="Correct the kind: esquema_asociativo, instancia_participacion, entidad_nacional, "
                              "cooperante or otro.")
@click.option("--department", help="Correct the department: its 2-digit DIVIPOLA code, 00 for national scope.")
@pass_database
def entities_validate(database: Database, code: str, name: str | None, group: str | None,
                      department: str | None) -> None:
    """Validate a grupo de valor: its waiting tickets start their terms today (the requesters are told)."""
    try:
        with database.transaction() as conn:
            released = grupos.validate(conn, code.upper(), actor=actor(), now=clock_now(), name=name, group=group,
                                       dept_code=department)
    except grupos.GroupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{code.upper()}: validada; {released} ticket(s) released")


@entities_group.command("reject")
@click.argument("code")
@click.option("--note", help="Why (told to the requesters).")
@pass_database
def entities_reject(database: Database, code: str, note: str | None) -> None:
    """Reject a grupo de valor: its waiting tickets are closed and the requesters told."""
    try:
        with database.transaction() as conn:
            closed = grupos.reject(conn, code.upper(), actor=actor(), now=clock_now(), note=note)
    except grupos.GroupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{code.upper()}: rechazada; {closed} ticket(s) closed")
