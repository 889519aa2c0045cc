"""The ``m360`` command."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from surveys import db


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Monitoreo 360: entrevistas por chat, mesa de ayuda y alertas (DNP)."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    from bot.config import now as clock_now

    try:
        clock_now()  # a bad M360_NOW is said once, here, not as a traceback mid-command
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


# ---------------------------------------------------------------- database and reference data


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to M360_DATABASE_URL."""
    db.upgrade(revision=revision)
    click.echo(f"database at {revision}: {_safe_url(db.database_url())}")


@main.group("entities")
def entities_group() -> None:
    """DIVIPOLA entities (alcaldías and gobernaciones), and the other grupos de valor the DER validates."""


@entities_group.command("load")
@click.option("--dir", "csv_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder with the four reference CSVs (default: the copies shipped in the package).")
@click.option("--municipios", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="An updated official divipola_municipios.csv (same columns).")
@click.option("--scheme", help="Regional scheme (default M360_REGION_SCHEME or region_pnd_2018_2022).")
def entities_load(csv_dir: Path | None, municipios: Path | None, scheme: str | None) -> None:
    """Load or update the entities (idempotent: unchanged rows are left alone)."""
    from surveys import entities

    try:
        infos = entities.read_reference(csv_dir, scheme=scheme, municipios=municipios)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    db.upgrade()
    with db.write_session(db.default_engine()) as session:
        report = entities.load_entities(session, infos)
    click.echo(f"{len(infos)} entities: " + ", ".join(f"{k} {v}" for k, v in report.items()))


# ---------------------------------------------------------------- serving and simulators


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "5000")), show_default="PORT or 5000")
@click.option("--debug", is_flag=True)
@click.option("--production", is_flag=True,
              help="gunicorn with several workers; background jobs run in `m360 worker` (docs/deploy.md).")
@click.option("--workers", type=click.IntRange(1), default=lambda: int(os.environ.get("WEB_CONCURRENCY", "2")),
              show_default="WEB_CONCURRENCY or 2", help="--production: gunicorn worker processes.")
@click.option("--threads", type=click.IntRange(1), default=4, show_default=True,
              help="--production: threads per worker process.")
def serve(host: str, port: int, debug: bool, production: bool, workers: int, threads: int) -> None:
    """Serve the web app: simulator (/simulador), exports and health (/health)."""
    if production:
        return _serve_production(host, port, workers, threads)
    from webhooks.app import create_app

    app = create_app(outbox_worker=True)
    base = os.environ.get("M360_PUBLIC_URL", "").rstrip("/") or f"http://{host}:{port}"
    click.echo(f"Monitoreo 360 on http://{host}:{port}  (simulador: http://{host}:{port}/simulador, "
               f"panel: http://{host}:{port}/panel)")
    click.echo(f"database: {_safe_url(db.database_url())}")
    worker = app.extensions.get("m360.outbox")
    sending = [channel for channel in (worker.sender.providers if worker else ()) if channel != "simulator"]
    for line in channel_summary(base, sending):
        click.echo(line)
    app.run(host=host, port=port, debug=debug, use_reloader=False, threaded=True)


def _serve_production(host: str, port: int, workers: int, threads: int) -> None:
    from bot import production
    from bot.providers import from_env

    production.prepare_once()  # once, here: not raced by every worker on a fresh database
    base = os.environ.get("M360_PUBLIC_URL", "").rstrip("/") or f"http://{host}:{port}"
    simulator = {"1": "open to anyone", "on": "open to anyone", "0": "off", "off": "off"}.get(
        os.environ.get("M360_SIMULATOR", "").strip().lower(), "panel sign-in required; M360_SIMULATOR=1 opens it")
    click.echo(f"Monitoreo 360 (production) on http://{host}:{port}  (simulador: http://{host}:{port}/simulador, "
               f"test data only: {simulator})")
    click.echo(f"database: {_safe_url(db.database_url())}")
    click.echo(f"gunicorn: {workers} worker process(es) × {threads} thread(s)")
    if production.ensure_secret_key():
        click.echo("M360_SECRET_KEY unset: a random key for this run (panel sessions end when it restarts)")
    for line in channel_summary(base, sorted(from_env())):
        click.echo(line)
    broker = os.environ.get("M360_CELERY_BROKER")
    if broker:
        click.echo(f"background jobs: Celery on {_safe_url(broker)} — run `celery -A bot.tasks worker` and one "
                   "`celery -A bot.tasks beat`")
    else:
        click.echo("background jobs (outbox, coder, alerts, waves, retention): NOT in the web workers; "
                   "run one `m360 worker` beside this server (or set M360_CELERY_BROKER for Celery)")
    limits = os.environ.get("M360_RATELIMIT_STORAGE", "memory://")
    click.echo(f"rate limits: counters in {_safe_url(limits)}"
               + (" (per worker process: set M360_RATELIMIT_STORAGE=redis://… to share them)"
                  if limits.startswith("memory") else ""))
    production.run_gunicorn(production.gunicorn_options(host, port, workers, threads))


@main.command("worker")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between outbox polls.")
@click.option("--alert-interval", type=float, default=300.0, show_default=True, help="Seconds between alert checks.")
@click.option("--wave-interval", type=float, default=60.0, show_default=True, help="Seconds between wave rounds.")
def worker_command(interval: float, alert_interval: float, wave_interval: float) -> None:
    """The background jobs of `m360 serve --production`: outbox sender, alert checks, wave scheduler.
    Run exactly one."""
    from bot import production

    click.echo(f"database: {_safe_url(db.database_url())}")
    production.run_worker(interval, alert_interval, wave_interval, echo=click.echo)


def channel_summary(base: str, sending: list[str]) -> list[str]:
    """What `m360 serve` says about each channel's configuration (never the secrets themselves)."""
    from bot.alerts import destinations_from_env

    public = os.environ.get("M360_PUBLIC_URL")
    twilio = bool(os.environ.get("TWILIO_AUTH_TOKEN"))
    telegram = bool(os.environ.get("TELEGRAM_WEBHOOK_SECRET"))
    return [
        f"public URL: {public}" if public else "public URL: M360_PUBLIC_URL unset (signatures checked against the "
        "URL requests arrive on; set it behind a proxy)",
        f"WhatsApp/SMS (Twilio): POST {base}/webhooks/twilio — "
        + ("signature check on (TWILIO_AUTH_TOKEN set)" if twilio
           else "OFF: TWILIO_AUTH_TOKEN unset, requests refused"),
        f"Telegram: POST {base}/webhooks/telegram — "
        + ("secret token check on (TELEGRAM_WEBHOOK_SECRET set)" if telegram
           else "OFF: TELEGRAM_WEBHOOK_SECRET unset, requests refused"),
        "sending (outbox): " + (", ".join(sorted(sending)) or "no provider configured (TWILIO_ACCOUNT_SID + "
                                "TWILIO_AUTH_TOKEN, TELEGRAM_BOT_TOKEN); messages stay queued"),
        "DER alerts to: " + (", ".join(f"{d.channel} ({'sending' if d.channel in sending else 'NO PROVIDER'})"
                                       for d in destinations_from_env())
                             or "no destination (M360_DER_TELEGRAM_CHAT_ID, M360_DER_WHATSAPP_TO, "
                                "M360_ALERT_WEBHOOK_URL); alerts are stored and served at /api/v1/alerts"),
        "API (/api/v1): " + ("admin token from M360_ADMIN_TOKEN; " if os.environ.get("M360_ADMIN_TOKEN") else "")
        + "create tokens with `m360 tokens create --role analyst|der|admin`",
    ]


@main.group("outbox")
def outbox_group() -> None:
    """Messages the bot sends on its own (invitations, reminders, alerts)."""


@outbox_group.command("send")
@click.option("--loop", is_flag=True, help="Keep sending as messages become due (Ctrl-C to stop).")
def outbox_send(loop: bool) -> None:
    """Deliver the messages that are due through the configured providers."""
    import time

    from bot.outbox import Sender
    from bot.providers import from_env

    db.upgrade()
    providers = from_env()
    if not providers:
        raise click.ClickException("no provider configured: set TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN or "
                                   "TELEGRAM_BOT_TOKEN")
    sender = Sender(db.default_engine(), providers)
    while True:
        handled = sender.run_once()
        if not loop:
            click.echo(f"{handled} messages handled")
            return
        if not handled:
            time.sleep(1)


@outbox_group.command("status")
def outbox_status() -> None:
    """How many outbox messages are in each state, by channel."""
    from sqlalchemy import func, select

    from surveys.models import OutboxMessage

    db.upgrade()
    with db.session_factory()() as session:
        rows = session.execute(select(OutboxMessage.channel, OutboxMessage.status, func.count())
                               .group_by(OutboxMessage.channel, OutboxMessage.status)).all()
    for channel, status, count in rows:
        click.echo(f"{channel:10s} {status:12s} {count}")
    if not rows:
        click.echo("outbox empty")
    if any(status == "review" for _, status, _ in rows):
        click.echo("messages in 'review' may or may not have gone out: see `m360 outbox review`", err=True)


@outbox_group.command("review")
@click.option("--failed", is_flag=True, help="Also list the messages that did not reach their person (failed or "
                                             "undelivered, last 30 days).")
def outbox_review(failed: bool) -> None:
    """Messages a person must decide on (status review: maybe sent, the provider could not tell)."""
    from datetime import timedelta

    from sqlalchemy import select

    from bot import outbox
    from bot.config import now as clock_now

    db.upgrade()
    statuses = [outbox.Status.REVIEW.value] + ([s.value for s in outbox.FAILED_FOR_GOOD] if failed else [])
    with db.default_engine().connect() as conn:
        rows = conn.execute(select(outbox.OUTBOX).where(
            outbox.OUTBOX.c.status.in_(statuses), outbox.OUTBOX.c.kind != "callback",
            outbox.OUTBOX.c.updated_at >= clock_now() - timedelta(days=30)).order_by(outbox.OUTBOX.c.id)).all()
    for row in rows:
        click.echo(f"#{row.id}  {row.status:11s} {row.kind:10s} {row.channel}:{row.address}  {row.attempts} attempt(s)")
        click.echo(f"    {row.error or ''}")
        click.echo(f"    «{row.text[:120]}»")
    if not rows:
        click.echo("nothing to decide")
    else:
        click.echo("decide with: m360 outbox resolve ID --sent | --resend | --drop")


@outbox_group.command("resolve")
@click.argument("row_id", type=int)
@click.option("--sent", "decision", flag_value="sent", help="It did arrive: record it as sent.")
@click.option("--resend", "decision", flag_value="resend", help="It did not: send it again.")
@click.option("--drop", "decision", flag_value="drop", help="Leave it undelivered.")
@click.option("--actor", default=lambda: os.environ.get("USER", "der"), show_default="$USER")
def outbox_resolve(row_id: int, decision: str | None, actor: str) -> None:
    """A person's decision on a message in review (or a failed one to send again)."""
    from bot import outbox
    from bot.config import now as clock_now

    if decision is None:
        raise click.UsageError("say what happened: --sent, --resend or --drop")
    db.upgrade()
    with db.transaction(db.default_engine()) as conn:
        row = outbox.resolve(conn, row_id, decision, actor=actor, now=clock_now())
    if row is None:
        raise click.ClickException(f"message #{row_id} is not waiting for that decision")
    click.echo(f"#{row.id}: {row.status}")


@main.command("templates")
def templates_command() -> None:
    """The WhatsApp templates, one per message the bot starts: text, variables, whether configured."""
    from bot.channels import templates

    missing = 0
    for template in templates.catalogue().values():
        sid = template.content_sid
        missing += sid is None
        click.echo(f"{template.kind} ({template.name}): {sid or 'NOT CONFIGURED'} [{template.env}]")
        click.echo(f"    {template.body}")
        for number, meaning in template.variables.items():
            click.echo(f"    {{{{{number}}}}} = {meaning}")
    if missing:
        click.echo(f"{missing} template(s) not configured: WhatsApp contacts outside the 24-hour window do not "
                   "receive those messages (docs/whatsapp-templates.md)", err=True)


NOT_NOTIFIED = 3  # exit status of `tickets update` when the change is saved but the requester cannot be told


@main.group("tickets")
def tickets_group() -> None:
    """Mesa de ayuda tickets: list, change, the mesa's report, follow-ups."""


@tickets_group.command("list")
@click.option("--status", help="Nueva, Asignada, En gestión, Respondida, Cerrada or Remitida (accents optional).")
@click.option("--entity", "entity_code", help="DIVIPOLA code.")
def tickets_list(status: str | None, entity_code: str | None) -> None:
    """Tickets, newest first, with theme, routing and deadline."""
    from sqlalchemy import select

    from bot import labels
    from bot.themes import theme_labels
    from surveys import formats
    from surveys.models import HelpRequest

    db.upgrade()
    query = select(HelpRequest).order_by(HelpRequest.id.desc())
    if status:
        code = labels.status_code(status)
        if code is None:
            raise click.BadParameter(f"unknown status {status!r}", param_hint="--status")
        query = query.where(HelpRequest.status == code)
    if entity_code:
        query = query.where(HelpRequest.entity_code == entity_code)
    with db.session_factory()() as session:
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
@click.option("--actor", default=lambda: os.environ.get("USER", "der"), show_default="$USER")
@click.option("--assignee")
@click.option("--referred-to", help="For status remitida: the entity it is referred to.")
@click.option("--due", "due", help="Another due date (YYYY-MM-DD, a business day); needs --reason.")
@click.option("--reason", help="Why the due date changes (recorded and told to the requester).")
@click.option("--wait", type=click.FloatRange(0, 600), default=10.0, show_default=True,
              help="Seconds to wait for the sender's outcome when the notice can only go as a WhatsApp template.")
def tickets_update(code: str, status: str | None, note: str | None, actor: str, assignee: str | None,
                   referred_to: str | None, due: str | None, reason: str | None, wait: float) -> None:
    """Change a ticket: its status, assignee, due date or a note (the requester is told through the outbox).

    Exit status 3 when the change is saved but the requester is known NOT to have been notified.
    Whether a WhatsApp template can go is the sender's environment's to say, not this shell's: when
    the requester's 24-hour window is closed, the command waits for the sender's outcome (``--wait``)
    and, if it has none yet, says what it depends on."""
    from datetime import date

    from bot import helpdesk, labels, outbox
    from bot.config import now as clock_now
    from surveys import formats

    try:
        due_date = date.fromisoformat(due) if due else None
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--due") from exc
    db.upgrade()
    engine, now = db.default_engine(), clock_now()
    try:
        with db.transaction(engine) as conn:
            ticket = helpdesk.change(conn, code.upper(), actor=actor, now=now, status=status, note=note,
                                     assignee=assignee, referred_to=referred_to, due_date=due_date, due_reason=reason)
            notice = helpdesk.notice_queued(conn, ticket, now)
            needed = helpdesk.template_needed(conn, ticket.code, now)
    except helpdesk.InvalidTransition as exc:
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
    if row.status in (outbox.Status.SENT, outbox.Status.DELIVERED, outbox.Status.READ):
        click.echo(f"the requester was notified with the WhatsApp template «{template.name}» (message #{row.id})")
    elif row.status in outbox.FAILED_FOR_GOOD:
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


def _settled(engine: Any, row_id: int, wait: float) -> Any:
    """The outbox row once the sender has dealt with it, or as it is after ``wait`` seconds."""
    import time

    from sqlalchemy import select

    from bot import outbox

    deadline = time.monotonic() + wait
    while True:
        with engine.connect() as conn:
            row = conn.execute(select(outbox.OUTBOX).where(outbox.OUTBOX.c.id == row_id)).one()
        if row.status not in (outbox.Status.PENDING, outbox.Status.SENDING) or time.monotonic() >= deadline:
            return row
        time.sleep(0.25)


@main.group("alerts")
def alerts_group() -> None:
    """Demand alerts for the DER (rules in bot/alerts.yaml, destinations from the environment)."""


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["abierta", "reconocida"]), default="abierta", show_default=True)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--test", "include_test", is_flag=True, help="Also those raised by simulator conversations.")
def alerts_list(status: str, limit: int, include_test: bool) -> None:
    """Alerts, newest first (simulator conversations are test data: their alerts only with --test)."""
    from sqlalchemy import select

    from bot import labels
    from surveys import formats
    from surveys.models import Alert

    db.upgrade()
    with db.session_factory()() as session:
        rows = session.scalars(select(Alert).where(Alert.status == status, *(() if include_test else (~Alert.test,)))
                               .order_by(Alert.id.desc()).limit(limit)).all()
    for a in rows:
        click.echo(f"#{a.id}  {formats.moment(a.created_at)}  [{labels.label('severity', a.severity)}] "
                   f"{labels.label('rule', a.rule)}: {a.title}" + (" (prueba)" if a.test else ""))
    if not rows:
        click.echo(f"no alerts ({status})")


@alerts_group.command("ack")
@click.argument("alert_id", type=int)
@click.option("--note")
@click.option("--actor", default=lambda: os.environ.get("USER", "der"), show_default="$USER")
def alerts_ack(alert_id: int, note: str | None, actor: str) -> None:
    """Acknowledge an alert."""
    from bot import alerts
    from bot.config import now as clock_now

    db.upgrade()
    with db.transaction(db.default_engine()) as conn:
        row = alerts.acknowledge(conn, alert_id, actor=actor, now=clock_now(), note=note)
    if row is None:
        raise click.ClickException(f"no alert #{alert_id}")
    click.echo(f"#{row.id}: {row.status} by {row.acknowledged_by} at {row.acknowledged_at:%Y-%m-%d %H:%M}")


@alerts_group.command("check")
@click.option("--digest", "force_digest", is_flag=True, help="Also queue the daily digest now, whatever the hour.")
def alerts_check(force_digest: bool) -> None:
    """Raise overdue-ticket alerts and queue the daily digest when due (what `m360 serve` does
    every few minutes; run it from cron when the web app runs elsewhere)."""
    from bot.alerts import AlertMonitor, Alerts
    from bot.config import now as clock_now

    db.upgrade()
    engine = db.default_engine()
    overdue, digests = AlertMonitor(engine).run_once()
    if force_digest:
        with db.transaction(engine) as conn:
            digests += Alerts().send_digest(conn, clock_now(), force=True)
    click.echo(f"{overdue} overdue-ticket alert(s) raised; digest queued for {digests} destination(s)")
    from bot.alerts import destinations_from_env, whatsapp_problem

    with engine.connect() as conn:
        problem = whatsapp_problem(conn, destinations_from_env(), clock_now())
    if problem is not None:
        click.echo(f"warning: alerts to the DER's WhatsApp (M360_DER_WHATSAPP_TO) are not delivered — {problem}",
                   err=True)


@main.group("users")
def users_group() -> None:
    """Accounts of the web panel (/panel)."""


def _read_password(label: str, from_stdin: bool) -> str:
    """One line of stdin, or asked twice without echo."""
    from bot.accounts import MIN_PASSWORD

    if from_stdin or not sys.stdin.isatty():  # a script, CI, a container: the first line of stdin
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise click.ClickException("no password given: pipe it in, e.g. printf '%s\\n' 'una-clave-larga' | "
                                       "m360 users create --username ana --role admin --password-stdin")
        return password
    return str(click.prompt(f"{label} (at least {MIN_PASSWORD} characters)", hide_input=True,
                            confirmation_prompt=True))


@users_group.command("create")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["analyst", "der", "admin", "enlace"]), required=True,
              help="enlace: sees only the tickets and alerts of the entities or region the directory gives "
                   "the person whose `usuario` is this username (docs/enlaces.md).")
@click.option("--name", default="", help="Full name, shown in the panel and in audit trails.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of prompting.")
def users_create(username: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a panel account. The password is asked twice at a terminal; without one (a script,
    CI, a container) it is read from the first line of stdin:
    printf '%s\n' 'una-clave-larga' | m360 users create --username ana --role admin --password-stdin"""
    from bot.accounts import create_user

    password = _read_password("Password", password_stdin)
    db.upgrade()
    try:
        with db.transaction(db.default_engine()) as conn:
            create_user(conn, username=username, name=name, role=role, password=password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {username.strip().lower()} ({role}) created: sign in at /panel/login")


@users_group.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin instead of prompting.")
def users_password(username: str, password_stdin: bool) -> None:
    """Set an account's password; every panel session it has ends (signed out everywhere)."""
    from bot.accounts import change_password

    password = _read_password("New password", password_stdin)
    db.upgrade()
    try:
        with db.transaction(db.default_engine()) as conn:
            change_password(conn, username, password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {username.strip().lower()} changed; its panel sessions were ended")


@users_group.command("list")
def users_list() -> None:
    """Panel accounts."""
    from sqlalchemy import select

    from surveys.models import UserAccount

    db.upgrade()
    with db.session_factory()() as session:
        rows = session.scalars(select(UserAccount).order_by(UserAccount.username)).all()
    for u in rows:
        state = f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "active"
        last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
        click.echo(f"{u.username:20s} {u.role:8s} {u.name:30s} {state}  last sign-in {last}")
    if not rows:
        click.echo("no users")


@users_group.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable an account (its panel sessions end at once)."""
    from bot.accounts import disable_user

    db.upgrade()
    with db.transaction(db.default_engine()) as conn:
        if not disable_user(conn, username):
            raise click.ClickException(f"no active user {username}")
    click.echo(f"user {username} disabled")


@main.group("tokens")
def tokens_group() -> None:
    """Bearer tokens for the JSON API (/api/v1)."""


@tokens_group.command("create")
@click.option("--role", type=click.Choice(["analyst", "der", "admin"]), required=True)
@click.option("--name", default=lambda: os.environ.get("USER", "token"), show_default="$USER",
              help="Who or what uses it (shown in audit trails).")
def tokens_create(role: str, name: str) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from bot.accounts import create_token

    db.upgrade()
    with db.transaction(db.default_engine()) as conn:
        token = create_token(conn, role=role, name=name)
    click.echo(token)
    click.echo(f"role {role}, name {name}: keep it now, it cannot be shown again", err=True)


@tokens_group.command("list")
def tokens_list() -> None:
    """Tokens (never their value)."""
    from sqlalchemy import select

    from surveys.models import ApiToken

    db.upgrade()
    with db.session_factory()() as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
    for t in rows:
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        click.echo(f"{t.id}  {t.role:8s} {t.name:30s} {state}  last used {used}")
    if not rows:
        click.echo("no tokens")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by its id (see `m360 tokens list`)."""
    from bot.accounts import revoke_token

    db.upgrade()
    with db.transaction(db.default_engine()) as conn:
        if not revoke_token(conn, token_id):
            raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@main.group("invitations")
def invitations_group() -> None:
    """Links that bind a chat to an entity (Telegram deep links)."""


@invitations_group.command("create")
@click.option("--entity", "entity_code", required=True, help="DIVIPOLA code (5 digits alcaldía, 2 gobernación).")
@click.option("--expires-days", type=int, default=30, show_default=True)
def invitations_create(entity_code: str, expires_days: int) -> None:
    """Create an invitation; prints its token and, with TELEGRAM_BOT_USERNAME, the t.me deep link."""
    from datetime import timedelta

    from bot.config import now as clock_now
    from surveys.models import Entity, Invitation

    db.upgrade()
    with db.write_session(db.default_engine()) as session:
        entity = session.get(Entity, entity_code)
        if entity is None:
            raise click.ClickException(f"unknown entity code {entity_code!r} (run `m360 entities load`?)")
        token = secrets.token_urlsafe(16)
        expires = clock_now() + timedelta(days=expires_days)
        session.add(Invitation(token=token, entity_code=entity_code, expires_at=expires))
    username = os.environ.get("TELEGRAM_BOT_USERNAME")
    click.echo(f"{entity.name} ({entity.dept_name}): {token}")
    if username:
        click.echo(f"https://t.me/{username.lstrip('@')}?start={token}")


@main.group("telegram")
def telegram_group() -> None:
    """Telegram without a public URL."""


@telegram_group.command("poll")
@click.option("--timeout", default=25, show_default=True, help="Long-poll wait, seconds.")
def telegram_poll(timeout: int) -> None:
    """Receive updates by long polling (getUpdates) instead of a webhook; same engine, replies through
    the outbox. Deletes a configured webhook first, as Telegram requires."""
    from bot.channels.telegram_api import TelegramProvider
    from bot.channels.telegram_poll import Poller
    from bot.coding_worker import CodingWorker, interview_coding_job
    from bot.outbox import OutboxWorker, Sender
    from bot.service import ChatService
    from bot.setup import prepare

    provider = TelegramProvider.from_env()
    if provider is None:
        raise click.ClickException("set TELEGRAM_BOT_TOKEN")
    sessions = prepare()
    coder = CodingWorker(interview_coding_job(sessions.kw["bind"])).start()
    service = ChatService(sessions, on_coded_answer=coder.notify)
    worker = OutboxWorker(Sender(sessions.kw["bind"], {"telegram": provider})).start()
    click.echo("polling Telegram for updates (Ctrl-C to stop)")
    try:
        Poller(service, provider, worker, timeout=timeout).run()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        coder.stop()


@main.command("chat")
@click.option("--address", help="Contact id on the console channel (default: a new contact each run).")
def chat(address: str | None) -> None:
    """Chat with the bot in the terminal; reads one message per line from stdin, so it can be scripted."""
    from bot.coding_worker import interview_coding_job
    from bot.config import now as clock_now
    from bot.service import ChatService
    from bot.setup import prepare
    from surveys.messages import Inbound

    sessions = prepare()
    coding = interview_coding_job(sessions.kw["bind"])
    # No thread here: coded before the reply. The command line's clock (M360_NOW) dates the turns.
    service = ChatService(sessions, on_coded_answer=coding.run_once, clock=clock_now)
    address = address or f"consola-{secrets.token_hex(4)}"
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f"(contacto {address}; escriba y presione Enter; Ctrl-D para salir)")
    while True:
        if interactive:
            click.echo("> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if not interactive:
            click.echo(f"> {text}")
        for reply in service.handle(Inbound(channel="console", address=address, text=text)):
            click.echo(reply.text)
            if reply.options and not any(f"{o.reply}. " in reply.text for o in reply.options):
                click.echo("  [" + " | ".join(o.label for o in reply.options) + "]")
            click.echo()


# ---------------------------------------------------------------- results


@main.group("responses")
def responses_group() -> None:
    """Interview results."""


@responses_group.command("export")
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--questionnaire", default="monitoreo360", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: monitoreo360_<period>.<format>; '-' for stdout).")
def responses_export(period: str, fmt: str, questionnaire: str, output: Path | None) -> None:
    """One row per interview of the period, one column per question (its canonical name)."""
    from analysis import export
    from analysis.periods import is_month

    if not is_month(period):
        raise click.BadParameter("use YYYY-MM", param_hint="--period")
    db.upgrade()
    with db.session_factory()() as session:
        frame = export.export_frame(session, period, questionnaire)
    data = export.to_bytes(frame, fmt)
    if str(output) == "-":
        sys.stdout.buffer.write(data)
        return
    path = output or Path(f"{questionnaire}_{period}.{fmt}")
    path.write_bytes(data)
    click.echo(f"{len(frame)} interviews → {path}")


@main.group("interviews")
def interviews_group() -> None:
    """Interviews in progress."""


@interviews_group.command("expire")
def interviews_expire() -> None:
    """Mark interviews silent for longer than M360_INTERVIEW_EXPIRY_HOURS as expirada."""
    from bot.config import Settings
    from bot.config import now as clock_now
    from surveys import store

    db.upgrade()
    now = clock_now()
    with db.write_session(db.default_engine()) as session:
        count = store.expire_stale(session, now - Settings().expiry, now)
    click.echo(f"{count} interviews expired")


# ---------------------------------------------------------------- questionnaires


@main.group("questionnaire")
def questionnaire_group() -> None:
    """Questionnaires as data: YAML in the repo, XLSForm for KoBoToolbox/ODK."""


@questionnaire_group.command("export")
@click.argument("name")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
def questionnaire_export(name: str, output: Path) -> None:
    """Write a shipped questionnaire (or a YAML file) as XLSForm .xlsx, or as YAML if OUTPUT ends in .yaml."""
    from surveys import schema, xlsform

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
    from surveys import conditions, schema, xlsform

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
    from surveys import conditions, schema, xlsform

    try:
        q = xlsform.from_xlsform(source) if source.suffix == ".xlsx" else schema.load_yaml(source)
        errors = conditions.check(q) + schema.digit_conflicts(q)
        xlsform.to_xform(q)
    except Exception as exc:  # report any problem in the file as a CLI error, not a traceback
        raise click.ClickException(f"{source}: {exc}") from exc
    if errors:
        raise click.ClickException("; ".join(errors))
    click.echo(f"{q.key}: OK ({len(q.questions)} questions)")


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


from analysis.coding.cli import coder  # noqa: E402  (spaCy is imported only by the coder commands)

main.add_command(coder)

from bot.wave_cli import contacts, wave  # noqa: E402

main.add_command(contacts)
main.add_command(wave)

from bot.territory_cli import (  # noqa: E402
    entities_pending,
    entities_reject,
    entities_validate,
    staff,
    tickets_followup,
    tickets_report,
)

main.add_command(staff)
for command in (entities_pending, entities_validate, entities_reject):
    entities_group.add_command(command)
for command in (tickets_report, tickets_followup):
    tickets_group.add_command(command)

from analysis.cli import report, responses_import  # noqa: E402  (pandas is imported only when they run)

main.add_command(report)
responses_group.add_command(responses_import)


if __name__ == "__main__":
    main()
