"""``m360 tickets``: the mesa de ayuda's tickets (bot.helpdesk.ticketing), its report (bot.helpdesk.mesa) as HTML, XLSX
or JSON, and the follow-ups with requesters of open tickets (bot.helpdesk.followup)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine, select

from analysis.periods import parse
from bot import labels
from bot.cli.common import Database, actor_option, clock_now, pass_database, write
from bot.helpdesk import ticketing
from bot.helpdesk.followup import FollowUps
from bot.helpdesk.themes import theme_labels
from bot.outbox import sending
from surveys import db, formats
from surveys.models import Ticket

NOT_NOTIFIED = 3  # exit status of `tickets update` when the change is saved but the requester cannot be told


@click.group("tickets")
def tickets_group() -> None:
    """Mesa de ayuda tickets: list, change, the mesa's report, follow-ups."""


@tickets_group.command("list")
@click.option("--status", help="Nueva, Asignada, En gestión, Respondida, Cerrada or Remitida (accents optional).")
@click.option("--entity", "entity_code", help="DIVIPOLA code.")
@pass_database
def tickets_list(database: Database, status: str | None, entity_code: str | None) -> None:
    """Tickets, newest first, with theme, routing and deadline."""
    query = select(Ticket).order_by(Ticket.id.desc())
    if status:
        code = labels.status_code(status)
        if code is None:
            raise click.BadParameter(f"unknown status {status!r}", param_hint="--status")
        query = query.where(Ticket.status == code)
    if entity_code:
        query = query.where(Ticket.entity_code == entity_code)
    with database.session() as session:
        rows = session.scalars(query).all()
    for t in rows:
        click.echo(f"{t.code}  {labels.label('status', t.status):10s}  {t.entity_code or '-':5s}  "
                   f"vence {formats.day(t.due_date) if t.due_date else 'al validar'}  "
                   f"{'pedida para ' + formats.day(t.requested_by_date) + '  ' if t.requested_by_date else ''}"
                   f"{'URGENTE ' if t.urgent else ''}{theme_labels(t.themes)}  → {t.direccion_tecnica or '-'}"
                   f" / {t.articulador or '-'}")
        click.echo(f"    {t.need[:150]}")
    if not rows:
        click.echo("no tickets")


@tickets_group.command("update")
@click.argument("code")
@click.option("--status", help="The new status as shown (\"En gestión\") or its code (en_gestion).")
@click.option("--note", help="Told to the requester in the chat.")
@actor_option
@click.option("--assignee")
@click.option("--referred-to", help="For status remitida: the entity it is referred to.")
@click.option("--due", "due", help="Another due date (YYYY-MM-DD, a business day); needs --reason.")
@click.option("--reason", help="Why the due date changes (recorded and told to the requester).")
@click.option("--wait", type=click.FloatRange(0, 600), default=10.0, show_default=True,
              help="Seconds to wait for the sender's outcome when the notice can only go as a WhatsApp template.")
@pass_database
def tickets_update(database: Database, code: str, status: str | None, note: str | None, actor: str,
                   assignee: str | None, referred_to: str | None, due: str | None, reason: str | None,
                   wait: float) -> None:
    """Change a ticket: its status, assignee, due date or a note (the requester is told through the outbox).

    Exit status 3 when the change is saved but the requester is known NOT to have been notified.
    Whether a WhatsApp template can go is the sender's environment's to say, not this shell's: when
    the requester's 24-hour window is closed, the command waits for the sender's outcome (``--wait``)
    and, if it has none yet, says what it depends on."""
    try:
        due_date = date.fromisoformat(due) if due else None
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--due") from exc
    engine, now = database.engine(), clock_now()
    try:
        with db.transaction(engine) as conn:
            ticket = ticketing.change(conn, code.upper(), actor=actor, now=now, status=status, note=note,
                                     assignee=assignee, referred_to=referred_to, due_date=due_date, due_reason=reason)
            notice = ticketing.notice_queued(conn, ticket, now)
            needed = ticketing.template_needed(conn, ticket.code, now)
    except ticketing.InvalidTransition as exc:
        raise click.ClickException(str(exc)) from exc

    due_shown = formats.day(ticket.due_date) if ticket.due_date else "—"
    click.echo(f"{ticket.code}: {labels.label('status', ticket.status)}, vence {due_shown}")
    if notice is None:
        return
    if needed is None:
        click.echo(f"the requester is notified by {labels.label('channel', notice.channel)} (message #{notice.id})")
        return
    template = needed[0]
    row = _settled(engine, notice.id, wait)
    if row.status in (sending.Status.SENT, sending.Status.DELIVERED, sending.Status.READ):
        click.echo(f"the requester was notified with the WhatsApp template «{template.name}» (message #{row.id})")
    elif row.status in sending.FAILED_FOR_GOOD:
        click.echo(f"warning: the requester was NOT notified — {row.error}. Call them, or fix the cause (for a "
                   f"missing template: {template.env} in the sender's environment, see `m360 templates`) and "
                   f"resend #{row.id} from `m360 outbox review --failed`.", err=True)
        raise SystemExit(NOT_NOTIFIED)
    else:  # no outcome yet: say what it depends on, never that it worked
        here = "set in this shell too" if template.content_sid else "not set in this shell, which may differ"
        click.echo(f"notice queued (message #{row.id}), not confirmed: the requester's 24-hour WhatsApp window is "
                   f"closed, so it can only go as the template «{template.name}», if the sender's environment has "
                   f"{template.env} ({here}). If it cannot go, the sender fails it, raises the «envio_fallido» alert "
                   "and lists it in `m360 outbox review --failed`.", err=True)


def _settled(engine: Engine, row_id: int, wait: float) -> Any:
    """The outbox row once the sender has dealt with it, or as it is after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        with engine.connect() as conn:
            row = conn.execute(select(sending.OUTBOX).where(sending.OUTBOX.c.id == row_id)).one()
        if row.status not in (sending.Status.PENDING, sending.Status.SENDING) or time.monotonic() >= deadline:
            return row
        time.sleep(0.25)


@tickets_group.command("report")
@click.option("--period", required=True, help="AAAA-MM (mes), AAAA-Qn (trimestre) o AAAA (año).")
@click.option("--region", help="Only this region.")
@click.option("--theme", help="Only this theme (an id of bot/helpdesk/themes.yaml).")
@click.option("--enlace", type=int, help="Only this enlace's tickets (staff id: m360 staff list).")
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "json"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: informe_mesa_<period>.<format>; '-' for stdout).")
@pass_database
def tickets_report(database: Database, period: str, region: str | None, theme: str | None, enlace: int | None,
                   fmt: str, output: Path | None) -> None:
    """The mesa de ayuda's report: volumes by theme, region, channel and enlace, times to answer
    and close, share answered on time, overdue, referrals and satisfaction, with charts."""
    # Lazy: the report's tables and charts need pandas, which the other tickets commands do not.
    from analysis import mesa as render
    from bot.helpdesk import mesa

    try:
        cut = parse(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    with database.connect() as conn:
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


@tickets_group.command("followup")
@pass_database
def tickets_followup(database: Database) -> None:
    """One round of follow-ups with the requesters of open tickets (what `m360 serve` does every
    15 minutes; cron elsewhere)."""
    click.echo(f"{FollowUps(database.engine(), clock=clock_now).run_once()} follow-up(s) queued")
