"""``m360 wave``: monthly waves (bot.waves.campaign): the sample, invitations, reminders, progress, results and
recurring schedules (bot.waves.scheduler)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime, time
from typing import Any

import click
from sqlalchemy import select, update

from bot.channels import templates
from bot.cli.common import Database, actor, clock_now, pass_database
from bot.waves import campaign, scheduler
from surveys import settings
from surveys.models import Entity, WaveSchedule
from surveys.spreadsheet import neutralise_row


def _local_moment(value: str, end_of_day: bool = False) -> datetime:
    """An ISO date or time, local (America/Bogota) when it has no zone."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time(23, 59, 59) if end_of_day else time(0, 0), campaign.TZ)
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=campaign.TZ)


def _days(raw: str) -> tuple[int, ...]:
    try:
        days = tuple(int(x) for x in raw.replace(" ", "").split(",") if x)
    except ValueError as exc:
        raise click.BadParameter("comma-separated whole numbers, e.g. 2,5", param_hint="--reminders") from exc
    if any(d <= 0 for d in days) or list(days) != sorted(days):
        raise click.BadParameter("increasing positive numbers, e.g. 2,5", param_hint="--reminders")
    return days


@click.group("wave")
def wave() -> None:
    """Monthly waves: sample, invitations, reminders, progress."""


@wave.command("create")
@click.option("--period", default=None, help="YYYY-MM (default: this month, Bogotá).")
@click.option("--size", type=int, default=52, show_default=True, help="Entities in the sample.")
@click.option("--census", is_flag=True, help="Every eligible entity instead of a sample.")
@click.option("--gobernaciones", type=int, help="How many of the sample are gobernaciones.")
@click.option("--seed", type=int, help="Seed of the draw (default: random, stored and shown).")
@click.option("--region", "regions", multiple=True, help="Only this region (repeatable).")
@click.option("--pdet-only", is_flag=True, help="Only PDET municipalities.")
@click.option("--exclude-recent", type=int, default=0, show_default=True,
              help="Leave out entities sampled in the previous K waves.")
@click.option("--questionnaire", default=lambda: settings.current().questionnaire,
              show_default="M360_QUESTIONNAIRE or monitoreo360")
@click.option("--reminders", default="2,5", show_default=True, help="Business days after the invitation.")
@click.option("--closes", help="Closing date (YYYY-MM-DD[THH:MM], Bogotá; default: end of the period).")
@click.option("--name")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_database
def wave_create(database: Database, period: str | None, size: int, census: bool, gobernaciones: int | None,
                seed: int | None, regions: tuple[str, ...], pdet_only: bool, exclude_recent: int, questionnaire: str,
                reminders: str, closes: str | None, name: str | None, fmt: str) -> None:
    """Draw a wave's sample: stratified by region, proportional, at least one per region."""
    spec = campaign.Spec(
        period=period or clock_now().astimezone(campaign.TZ).strftime("%Y-%m"), size=None if census else size,
        gobernaciones=gobernaciones, seed=seed, regions=regions, pdet_only=pdet_only, exclude_recent=exclude_recent,
        questionnaire=questionnaire, reminder_days=_days(reminders),
        closes_at=_local_moment(closes, end_of_day=True) if closes else None, name=name)
    try:
        with database.transaction() as conn:
            created = campaign.create(conn, spec, actor=actor())
    except campaign.WaveError as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps({"id": created.id, "entities": created.entities, "strata": created.strata,
                               "seed": created.seed}, ensure_ascii=False))
        return
    _show(database, created.id, entities=True)


@wave.command("launch")
@click.argument("wave_id", type=int)
@click.option("--at", "at", help="Launch later instead (YYYY-MM-DDTHH:MM, Bogotá): the scheduler does it.")
@pass_database
def wave_launch(database: Database, wave_id: int, at: str | None) -> None:
    """Open the wave and queue its invitations (within office hours; the scheduler sends the rest).
    Launching again never re-invites."""
    engine = database.engine()
    try:
        done = campaign.launch(engine, wave_id, at=_local_moment(at) if at else None, now=clock_now())
    except campaign.WaveError as exc:
        raise click.ClickException(str(exc)) from exc
    if at:
        click.echo(f"wave #{wave_id} scheduled for {_local_moment(at):%Y-%m-%d %H:%M} (Bogotá)")
        return
    click.echo(f"wave #{wave_id} launched: {done.invited} invitation(s) queued, {done.reminded} reminder(s)")
    _echo_waiting(done.waiting)
    hours = campaign.OfficeHours.from_env()
    if not hours.open(clock_now()):
        opens = hours.next_open(clock_now()).astimezone(campaign.TZ)
        click.echo(f"outside office hours: invitations go from {opens:%Y-%m-%d %H:%M} (m360 serve, or m360 wave "
                   "tick from cron)")
    for kind in ("invitation", "reminder"):
        if templates.content_sid(kind) is None:
            click.echo(f"warning: {templates.get(kind).env} unset: WhatsApp contacts outside the 24-hour window "
                       f"do not receive the {kind} (it fails; see `m360 templates`)", err=True)


def _echo_waiting(waiting: dict[str, int]) -> None:
    labels = {"conversacion": "in a conversation (sent when it ends or pauses)",
              "ticket": "their ticket is being handled by the DER", "sin_contacto": "no reachable contact",
              "otra_ola": "invited to another open wave first", "baja": "opted out after the invitation"}
    for reason, count in sorted(waiting.items()):
        click.echo(f"  waiting: {count} {labels.get(reason, reason)}")


@wave.command("status")
@click.argument("wave_id", type=int, required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_database
def wave_status(database: Database, wave_id: int | None, fmt: str) -> None:
    """A wave's progress (the latest wave without WAVE_ID)."""
    with database.connect() as conn:
        if wave_id is None:
            latest = campaign.listing(conn, 1)
            if not latest:
                raise click.ClickException("no waves yet: m360 wave create")
            wave_id = int(latest[0]["id"])
        try:
            data = campaign.progress(conn, wave_id)
        except campaign.WaveError as exc:
            raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    _show(database, wave_id, data=data)


@wave.command("list")
@pass_database
def wave_list(database: Database) -> None:
    """Waves, newest first."""
    with database.connect() as conn:
        rows = campaign.listing(conn)
    for w in rows:
        click.echo(f"#{w['id']}  {w['period']}  {w['status']:10s} {w['mode']:8s} {w['size']:5d} entities  "
                   f"seed {w['seed']}  {w['name']}")
    if not rows:
        click.echo("no waves")


@wave.command("links")
@click.argument("wave_id", type=int)
@pass_database
def wave_links(database: Database, wave_id: int) -> None:
    """One Telegram deep link per sampled entity (CSV on stdout), for people the bot cannot write to
    first: the link binds the chat to the entity and opens the wave's interview. Needs
    TELEGRAM_BOT_USERNAME for the t.me address (otherwise only the tokens are printed)."""
    try:
        with database.transaction() as conn:
            rows = campaign.links(conn, wave_id)
            names = dict(conn.execute(select(Entity.code, Entity.name).where(
                Entity.code.in_([code for code, _ in rows]))).all())
    except campaign.WaveError as exc:
        raise click.ClickException(str(exc)) from exc
    bot_name = (settings.current().telegram_bot_username or "").lstrip("@")
    writer = csv.writer(sys.stdout)
    writer.writerow(["entidad_codigo", "entidad", "token", "enlace"])
    for code, token in rows:
        link = f"https://t.me/{bot_name}?start={token}" if bot_name else ""
        # Tokens are URL-safe base64: one may start with "-", which a spreadsheet would run.
        writer.writerow(neutralise_row([code, names.get(code, ""), token, link]))


@wave.command("close")
@click.argument("wave_id", type=int)
@pass_database
def wave_close(database: Database, wave_id: int) -> None:
    """Close a wave: no more invitations or reminders; later answers are stored as late."""
    try:
        with database.transaction() as conn:
            row = campaign.close(conn, wave_id)
    except campaign.WaveError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wave #{wave_id}: {row.status} ({row.closed_at:%Y-%m-%d %H:%M} UTC)")


@wave.command("results")
@click.argument("wave_id", type=int)
@click.option("--approve", is_flag=True, help="Approve and send them (once per entity, in office hours).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_database
def wave_results(database: Database, wave_id: int, approve: bool, fmt: str) -> None:
    """After a wave closes, the results message each entity that completed it gets: shown for review,
    then sent with --approve (the approval is recorded with your name)."""
    from bot.waves import results  # lazy: built from the report, with pandas, which the other wave commands do not need

    try:
        with database.transaction() as conn:
            done = (results.approve(conn, wave_id, actor=actor(), now=clock_now()) if approve
                    else results.wave_results(conn, wave_id))
    except campaign.WaveError as exc:
        raise click.ClickException(str(exc)) from exc
    data = done.as_json()
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for r in data["recipients"]:
        state = "enviado" if r["sent"] else "listo" if r["reachable"] else f"no se puede enviar ({r['reason']})"
        click.echo(f"--- {r['entity']} ({r['entity_code']}) · {r['channel'] or 'sin canal'} · {state}\n{r['text']}")
    reachable = sum(r["reachable"] for r in data["recipients"])
    if data["approved_at"]:
        click.echo(f"approved by {data['approved_by']} at {data['approved_at'][:16]}; {done.queued} queued now")
    else:
        click.echo(f"{reachable} of {len(data['recipients'])} can be sent: run again with --approve to send them")


@wave.command("tick")
@pass_database
def wave_tick(database: Database) -> None:
    """One round of the scheduler (what `m360 serve` does every minute): scheduled launches,
    recurring waves, closing, and the invitations and reminders due in office hours."""
    done = scheduler.tick(database.engine(), clock_now())
    click.echo(f"created {len(done.created)}, launched {len(done.launched)}, closed {len(done.closed)}; "
               f"{done.dispatched.invited} invitation(s), {done.dispatched.reminded} reminder(s) queued")
    _echo_waiting(done.dispatched.waiting)


@wave.command("schedule")
@click.option("--name", required=True)
@click.option("--business-day", type=int, default=1, show_default=True, help="n-th business day of each month.")
@click.option("--hour", type=int, default=9, show_default=True, help="From this hour (Bogotá).")
@click.option("--size", type=int, default=52, show_default=True)
@click.option("--census", is_flag=True)
@click.option("--gobernaciones", type=int)
@click.option("--region", "regions", multiple=True)
@click.option("--pdet-only", is_flag=True)
@click.option("--exclude-recent", type=int, default=0, show_default=True)
@click.option("--reminders", default="2,5", show_default=True)
@click.option("--questionnaire", default=lambda: settings.current().questionnaire)
@pass_database
def wave_schedule(database: Database, name: str, business_day: int, hour: int, size: int, census: bool,
                  gobernaciones: int | None, regions: tuple[str, ...], pdet_only: bool, exclude_recent: int,
                  reminders: str, questionnaire: str) -> None:
    """A recurring wave: drawn (new seed each month) and launched on the n-th business day."""
    params: dict[str, Any] = {"size": None if census else size, "gobernaciones": gobernaciones,
                              "regions": list(regions), "pdet_only": pdet_only, "exclude_recent": exclude_recent,
                              "reminder_days": list(_days(reminders)), "questionnaire": questionnaire}
    try:
        with database.transaction() as conn:
            schedule_id = scheduler.add_schedule(conn, name=name, params=params, business_day=business_day,
                                                 hour=hour)
    except campaign.WaveError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"schedule #{schedule_id} {name}: business day {business_day} of each month from {hour}:00 (Bogotá)")


@wave.command("schedules")
@pass_database
def wave_schedules(database: Database) -> None:
    """Recurring waves."""
    with database.session() as session:
        rows = session.scalars(select(WaveSchedule).order_by(WaveSchedule.id)).all()
    for s in rows:
        click.echo(f"#{s.id}  {'active ' if s.active else 'stopped'}  business day {s.business_day} from "
                   f"{s.hour}:00  last {s.last_period or '-'}  {s.name}  {json.dumps(s.params, ensure_ascii=False)}")
    if not rows:
        click.echo("no schedules")


@wave.command("unschedule")
@click.argument("schedule_id", type=int)
@pass_database
def wave_unschedule(database: Database, schedule_id: int) -> None:
    """Stop a recurring wave (its past waves stay)."""
    with database.transaction() as conn:
        result = conn.execute(update(WaveSchedule.__table__).where(WaveSchedule.__table__.c.id == schedule_id)
                              .values(active=False))
    if result.rowcount != 1:
        raise click.ClickException(f"no schedule #{schedule_id}")
    click.echo(f"schedule #{schedule_id} stopped")


def _show(database: Database, wave_id: int, *, data: dict[str, Any] | None = None, entities: bool = False) -> None:
    if data is None:
        with database.connect() as conn:
            data = campaign.progress(conn, wave_id)
    frame = data["frame"]
    click.echo(f"wave #{data['id']} {data['name']} — {data['period']}, {data['mode']}, {data['status']}, "
               f"seed {data['seed']}")
    click.echo(f"frame: {frame['eligible']} entities with a consenting contact; sin contacto {frame['sin_contacto']}"
               + (f"; excluded as recently sampled {frame['excluidas_recientes']}"
                  if frame["excluidas_recientes"] else ""))
    click.echo(f"{'region':28s} {'frame':>6s} {'quota':>6s} {'sample':>6s} {'done':>5s} {'rate':>6s}")
    for region, s in (data["allocation"] or {}).items():
        r = data["regions"].get(region, {"completed": 0, "response_rate": 0.0})
        click.echo(f"{region:28s} {s['frame']:6d} {s['quota']:6.2f} {s['sample']:6d} {r['completed']:5d} "
                   f"{r['response_rate']:6.0%}")
    p = data["progress"]
    click.echo("progress: " + ", ".join(f"{k} {p[k]}" for k in ("sampled", "invited", "delivered", "started",
                                                                "completed", "late", "declined", "no_contact",
                                                                "failed", "reminders")))
    _echo_waiting(data["waiting"])
    if data["closes_at"]:
        closes = datetime.fromisoformat(data["closes_at"]).astimezone(campaign.TZ)
        click.echo(f"closes {closes:%Y-%m-%d %H:%M} (Bogotá)")
    if entities:
        click.echo("entities: " + " ".join(data["entities"]))
