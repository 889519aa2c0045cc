"""``m360 outbox``: the messages the bot sends on its own, and a person's decision on doubtful ones."""

from __future__ import annotations

import time
from datetime import timedelta

import click
from sqlalchemy import func, select

from bot.cli.common import Database, actor_option, clock_now, pass_database
from bot.outbox import sending as outbox
from bot.outbox.providers import from_env
from surveys.models import OutboxMessage


@click.group("outbox")
def outbox_group() -> None:
    """Messages the bot sends on its own (invitations, reminders, alerts)."""


@outbox_group.command("send")
@click.option("--loop", is_flag=True, help="Keep sending as messages become due (Ctrl-C to stop).")
@pass_database
def outbox_send(database: Database, loop: bool) -> None:
    """Deliver the messages that are due through the configured providers."""
    engine = database.engine()
    providers = from_env()
    if not providers:
        raise click.ClickException("no provider configured: set TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN or "
                                   "TELEGRAM_BOT_TOKEN")
    sender = outbox.Sender(engine, providers)
    while True:
        handled = sender.run_once()
        if not loop:
            click.echo(f"{handled} messages handled")
            return
        if not handled:
            time.sleep(1)


@outbox_group.command("status")
@pass_database
def outbox_status(database: Database) -> None:
    """How many outbox messages are in each state, by channel."""
    with database.session() as session:
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
@pass_database
def outbox_review(database: Database, failed: bool) -> None:
    """Messages a person must decide on (status review: maybe sent, the provider could not tell)."""
    statuses = [outbox.Status.REVIEW.value] + ([s.value for s in outbox.FAILED_FOR_GOOD] if failed else [])
    with database.connect() as conn:
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
@actor_option
@pass_database
def outbox_resolve(database: Database, row_id: int, decision: str | None, actor: str) -> None:
    """A person's decision on a message in review (or a failed one to send again)."""
    if decision is None:
        raise click.UsageError("say what happened: --sent, --resend or --drop")
    with database.transaction() as conn:
        row = outbox.resolve(conn, row_id, decision, actor=actor, now=clock_now())
    if row is None:
        raise click.ClickException(f"message #{row_id} is not waiting for that decision")
    click.echo(f"#{row.id}: {row.status}")
