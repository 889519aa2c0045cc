"""``m360 alerts``: demand alerts for the DER (bot.alerts.alerting)."""

from __future__ import annotations

import click
from sqlalchemy import select

from bot import labels
from bot.alerts import alerting
from bot.cli.common import Database, actor_option, clock_now, pass_database
from surveys import formats
from surveys.models import Alert


@click.group("alerts")
def alerts_group() -> None:
    """Demand alerts for the DER (rules in bot/alerts/alerting.yaml, destinations from the environment)."""


@alerts_group.command("list")
@click.option("--status", type=click.Choice(["abierta", "reconocida"]), default="abierta", show_default=True)
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--test", "include_test", is_flag=True, help="Also those raised by simulator conversations.")
@pass_database
def alerts_list(database: Database, status: str, limit: int, include_test: bool) -> None:
    """Alerts, newest first (simulator conversations are test data: their alerts only with --test)."""
    with database.session() as session:
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
@actor_option
@pass_database
def alerts_ack(database: Database, alert_id: int, note: str | None, actor: str) -> None:
    """Acknowledge an alert."""
    with database.transaction() as conn:
        row = alerting.acknowledge(conn, alert_id, actor=actor, now=clock_now(), note=note)
    if row is None:
        raise click.ClickException(f"no alert #{alert_id}")
    click.echo(f"#{row.id}: {row.status} by {row.acknowledged_by} at {row.acknowledged_at:%Y-%m-%d %H:%M}")


@alerts_group.command("check")
@click.option("--digest", "force_digest", is_flag=True, help="Also queue the daily digest now, whatever the hour.")
@pass_database
def alerts_check(database: Database, force_digest: bool) -> None:
    """Raise overdue-ticket alerts and queue the daily digest when due (what `m360 serve` does
    every few minutes; run it from cron when the web app runs elsewhere)."""
    engine = database.engine()
    overdue, digests = alerting.AlertMonitor(engine, clock=clock_now).run_once()
    if force_digest:
        with database.transaction() as conn:
            digests += alerting.Alerts().send_digest(conn, clock_now(), force=True)
    click.echo(f"{overdue} overdue-ticket alert(s) raised; digest queued for {digests} destination(s)")
    with engine.connect() as conn:
        problem = alerting.whatsapp_problem(conn, alerting.destinations_from_env(), clock_now())
    if problem is not None:
        click.echo(f"warning: alerts to the DER's WhatsApp (M360_DER_WHATSAPP_TO) are not delivered — {problem}",
                   err=True)
