"""``m360 invitations``: links that bind a chat to an entity (Telegram deep links)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import click

from bot.cli.common import Database, clock_now, pass_database
from surveys import settings
from surveys.models import Entity, Invitation


@click.group("invitations")
def invitations_group() -> None:
    """Links that bind a chat to an entity (Telegram deep links)."""


@invitations_group.command("create")
@click.option("--entity", "entity_code", required=True, help="DIVIPOLA code (5 digits alcaldía, 2 gobernación).")
@click.option("--expires-days", type=int, default=30, show_default=True)
@pass_database
def invitations_create(database: Database, entity_code: str, expires_days: int) -> None:
    """Create an invitation; prints its token and, with TELEGRAM_BOT_USERNAME, the t.me deep link."""
    with database.write_session() as session:
        entity = session.get(Entity, entity_code)
        if entity is None:
            raise click.ClickException(f"unknown entity code {entity_code!r} (run `m360 entities load`?)")
        token = secrets.token_urlsafe(16)
        expires = clock_now() + timedelta(days=expires_days)
        session.add(Invitation(token=token, entity_code=entity_code, expires_at=expires))
    username = settings.current().telegram_bot_username
    click.echo(f"{entity.name} ({entity.dept_name}): {token}")
    if username:
        click.echo(f"https://t.me/{username.lstrip('@')}?start={token}")
