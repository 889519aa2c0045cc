"""Database connection and migrations.

``M360_DATABASE_URL`` selects the database; the embedded default is a SQLite file under
``M360_DATA_DIR`` (``./var``). Schema changes are Alembic migrations in ``surveys/migrations``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def data_dir() -> Path:
    return Path(os.environ.get("M360_DATA_DIR", "var")).resolve()


def database_url() -> str:
    url = os.environ.get("M360_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'm360.sqlite3'}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (see _sqlite_begin), so the driver must not.
    dbapi_conn.isolation_level = None
    # WAL lets the web app read while a turn writes; NORMAL sync is durable across process crashes
    # (a power cut may lose the last commits, never corrupt the file).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        try:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # the first connection reports it (and /health answers 503)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Any) -> None:
    # A deferred transaction that reads and then writes fails at once ("database is locked") when
    # another connection wrote in between; the busy timeout does not help it. Writers therefore ask
    # for the lock up front: connections from writer(engine) begin IMMEDIATE and wait their turn.
    statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get("m360_writer") else "BEGIN"
    conn.connection.driver_connection.execute(statement)  # straight to sqlite3: this runs every turn


def writer(engine: Engine) -> Engine:
    """The same engine for read-then-write transactions (BEGIN IMMEDIATE on SQLite; no-op elsewhere)."""
    return engine.execution_options(m360_writer=True)


@cache
def default_engine() -> Engine:
    return make_engine()


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    return sessionmaker(engine or default_engine(), expire_on_commit=False)


def alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", (url or database_url()).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database schema up to date (``m360 db upgrade``)."""
    from alembic import command

    url = url or database_url()
    make_engine(url).dispose()  # creates the SQLite directory if needed
    command.upgrade(alembic_config(url), revision)
