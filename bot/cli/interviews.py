"""``m360 interviews``: interviews in progress."""

from __future__ import annotations

import click

from bot.cli.common import Database, clock_now, pass_database
from surveys import settings, store


@click.group("interviews")
def interviews_group() -> None:
    """Interviews in progress."""


@interviews_group.command("expire")
@pass_database
def interviews_expire(database: Database) -> None:
    """Mark interviews silent for longer than M360_INTERVIEW_EXPIRY_HOURS as expirada."""
    now = clock_now()
    with database.write_session() as session:
        count = store.expire_stale(session, now - settings.current().expiry, now)
    click.echo(f"{count} interviews expired")
