"""``m360 db``: the database schema."""

from __future__ import annotations

import click

from bot.cli.common import safe_url
from surveys import db


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to M360_DATABASE_URL."""
    db.upgrade(revision=revision)  # the one command that migrates on purpose (to any revision)
    click.echo(f"database at {revision}: {safe_url(db.database_url())}")
