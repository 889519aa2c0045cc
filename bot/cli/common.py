"""What the command modules share: the database a command works on, who acts, URLs without passwords."""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from surveys import db, settings


class Database:
    """The database of M360_DATABASE_URL for one command, brought to the latest schema the first time
    the command touches it: after its arguments are checked, so a mistyped option never migrates or
    creates a database. Commands receive it with ``@pass_database``."""

    def __init__(self) -> None:
        self._migrated = False

    def engine(self) -> Engine:
        if not self._migrated:
            db.upgrade()
            self._migrated = True
        return db.default_engine()

    def session(self) -> Session:
        """A read session: ``with database.session() as session``."""
        return db.session_factory(self.engine())()

    def connect(self) -> Connection:
        return self.engine().connect()

    def transaction(self) -> AbstractContextManager[Connection]:
        return db.transaction(self.engine())

    def write_session(self) -> AbstractContextManager[Session]:
        return db.write_session(self.engine())


# One Database per command run (created on first use, found again by nested helpers).
pass_database = click.make_pass_decorator(Database, ensure=True)


def login(default: str) -> str:
    """The operating system's login name (``$USER``): who runs a command, for audit trails. Not a product
    setting, so not in surveys/settings.py."""
    return os.environ.get("USER", default)


def actor() -> str:
    """Who acts, for the audit trail of commands without an --actor option."""
    return login("cli")


# --actor of the commands that record a person's decision (outbox resolve, tickets update, alerts ack).
actor_option = click.option("--actor", default=lambda: login("der"), show_default="$USER")


def safe_url(url: str) -> str:
    """A database or broker URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def write(payload: bytes, output: Path | None, default: str) -> Path | None:
    """A report's or export's bytes to ``output`` (``-``: stdout, and None is returned) or to ``default``."""
    if str(output) == "-":
        sys.stdout.buffer.write(payload)
        return None
    path = output or Path(default)
    path.write_bytes(payload)
    return path


def clock_now() -> datetime:
    """The command line's clock: ``M360_NOW`` (an ISO 8601 moment) when set — tests, replaying a past
    day — else the real time. The web app's clock is injected in its config (webhooks/clock.py)."""
    return settings.current().now()
