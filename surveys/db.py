"""Database connection and migrations.

``M360_DATABASE_URL`` selects the database; the embedded default is a SQLite file under
``M360_DATA_DIR`` (``./var``). Schema changes are Alembic migrations in ``surveys/migrations``.
"""

from __future__ import annotations

import fcntl
import threading
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Dialect, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound
from sqlalchemy.orm import Session, sessionmaker

from surveys import settings


def data_dir() -> Path:
    return settings.current().resolved_data_dir()


def database_url() -> str:
    return settings.current().resolved_database_url()


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
    engine = create_engine(url, future=True, json_serializer=json_dumps, json_deserializer=json_loads)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def json_dumps(value: Any) -> str:
    """JSON columns are written with orjson: the conversation's state and the message log are
    JSON written on every turn, and the standard library's encoder was a twentieth of one
    (docs/performance.md). Non-string keys become strings, as with json.dumps."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def json_loads(value: Any) -> Any:
    """JSON columns read with orjson. Like json.loads, anything but text is a TypeError: SQLite hands
    back a JSON number as a number, and SQLAlchemy's SQLite JSON type counts on that error."""
    if not isinstance(value, str | bytes | bytearray | memoryview):
        raise TypeError(f"the JSON object must be str or bytes, not {type(value).__name__}")
    return orjson.loads(value)


def _sqlite_begin(conn: Any) -> None:
    # A deferred transaction that reads and then writes fails at once ("database is locked") when
    # another connection wrote in between; the busy timeout does not help it. Writers therefore ask
    # for the lock up front: connections from transaction() begin IMMEDIATE and wait their turn.
    statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get("m360_writer") else "BEGIN"
    conn.connection.driver_connection.execute(statement)  # straight to sqlite3: this runs every turn


def _writer(engine: Engine) -> Engine:
    """The same engine for read-then-write transactions (BEGIN IMMEDIATE on SQLite; no-op elsewhere).
    Built once per engine and kept on it: building an option engine costs more than a turn's statements."""
    writer = engine.__dict__.get("_m360_writer")
    if writer is None:
        writer = engine.__dict__["_m360_writer"] = engine.execution_options(m360_writer=True)
    return writer


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A read-then-write transaction. On SQLite, writers queue on a lock first (a thread lock in
    this process, an flock on ``<database>.lock`` across processes): both wake the next writer the
    moment the lock is released, where SQLite's busy handler sleeps in steps of up to 100 ms
    (seconds of tail latency under load). Other databases lock rows themselves."""
    path = _sqlite_path(engine)
    if path is None:
        with _committed(engine) as conn:
            yield conn
        return
    thread_lock, lock_file = _write_locks(path)
    with thread_lock:
        if lock_file is None:  # no lock file where the database should be: connecting says why (503)
            with _writer(engine).begin() as conn:
                yield conn
            return
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # releases the GIL while it waits
        try:
            with _writer(engine).begin() as conn:
                yield conn
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


@contextmanager
def _committed(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` for the databases that lock rows themselves, without the writer option
    engine (its flag matters only to SQLite) and begin()'s context manager: docs/performance.md,
    step 16. Committed before the caller answers; any exception, including a failed commit, rolls
    back before the connection goes back to the pool."""
    conn = engine.connect()
    try:
        conn.begin()
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """An ORM session for a read-then-write unit of work, inside ``transaction`` (so on SQLite it
    queues with the other writers instead of failing with "database is locked" when a background
    job wrote between its read and its write)."""
    with transaction(engine) as conn, Session(bind=conn, expire_on_commit=False) as session:
        yield session
        session.flush()


def _sqlite_path(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    return engine.url.database


_locks: dict[str, tuple[threading.Lock, Any]] = {}
_locks_guard = threading.Lock()


def _write_locks(path: str) -> tuple[threading.Lock, Any]:
    with _locks_guard:
        if path not in _locks:
            try:
                _locks[path] = (threading.Lock(), open(f"{path}.lock", "a+b"))  # noqa: SIM115 - lives with the process
            except OSError:  # the database's directory is missing or not one: nothing to lock yet
                return threading.Lock(), None
        return _locks[path]


DIRECT_DIALECTS = ("postgresql", "sqlite")  # psycopg and sqlite3: the drivers DirectStatement runs on


class DirectStatement:
    """A Core statement of the per-turn path, run straight on the driver's cursor.

    Each ``Connection.execute`` costs SQLAlchemy about as much CPU as the driver and the database
    together (an execution context, a result object, its row processors, per statement): on the
    web worker's path that was a sixth of a turn (docs/performance.md). Here SQLAlchemy still
    writes the SQL (compiled once per dialect), converts the parameters and the result columns
    with its own type processors, and owns the connection and the transaction; only the execution
    is the driver's. Its errors are wrapped as SQLAlchemy wraps them (IntegrityError,
    OperationalError, DataError…) and a lost connection is invalidated, so callers and error
    handlers see no difference. Dialects other than PostgreSQL and SQLite run it through
    ``Connection.execute``."""

    def __init__(self, statement: Any):
        self.statement = statement
        self._compiled: dict[Dialect, _Compiled] = {}

    def execute(self, conn: Connection | Session, params: dict[str, Any]) -> Any:
        """A result with ``rowcount``, ``one()``, ``one_or_none()`` and ``first()``, iterable (rows with
        named columns)."""
        if not isinstance(conn, Connection) or conn.dialect.name not in DIRECT_DIALECTS:  # a Session: its own
            return conn.execute(self.statement, params)
        compiled = self._compiled.get(conn.dialect) or self._compile(conn.dialect)
        cursor = self._run(conn, compiled, lambda cursor: cursor.execute(compiled.sql, compiled.values(params)))
        return _DirectResult(cursor, compiled)

    def executemany(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if conn.dialect.name not in DIRECT_DIALECTS:
            conn.execute(self.statement, rows)
            return
        compiled = self._compiled.get(conn.dialect) or self._compile(conn.dialect)
        self._run(conn, compiled, lambda cursor: cursor.executemany(compiled.sql, [compiled.values(r) for r in rows]))

    @staticmethod
    def _run(conn: Connection, compiled: _Compiled, run: Callable[[Any], Any]) -> Any:
        if not conn.in_transaction():
            conn.begin()  # as Connection.execute's autobegin (SQLite's driver runs without its own BEGIN)
        dialect, fairy = conn.dialect, conn.connection
        driver = fairy.dbapi_connection
        assert driver is not None  # a checked-out connection has its driver's
        cursor = fairy.info.get("m360.cursor")  # one per connection: creating a cursor costs a turn 2 %
        if cursor is None or cursor.connection is not driver:
            cursor = fairy.info["m360.cursor"] = driver.cursor()
        try:
            run(cursor)
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, driver, cursor)
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(compiled.sql, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                                      dialect=dialect) from exc
        return cursor

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.escaped_bind_names:
            raise ValueError("parameter names that need escaping are not supported here")
        columns = list(getattr(self.statement, "selected_columns", ()))
        results = [c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns]
        entry = self._compiled[dialect] = _Compiled(
            compiled=compiled, sql=compiled.string,
            positions=list(compiled.positiontup or ()) if dialect.positional else None,
            binds={name: process for name, bind in compiled.binds.items()
                   if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None},
            results=results if any(results) else None,
            row=namedtuple("Row", [c.key for c in columns]) if columns else None)  # type: ignore[misc]
        return entry


@dataclass(frozen=True)
class _Compiled:
    compiled: Any
    sql: str
    positions: list[str] | None  # the parameters' order for a positional driver (sqlite3), else named
    binds: dict[str, Callable[[Any], Any]]  # SQLAlchemy's bind processors, by parameter
    results: list[Callable[[Any], Any] | None] | None  # and its result processors, by column
    row: Any  # a namedtuple of the selected columns (None: no rows)

    def values(self, params: dict[str, Any]) -> Any:
        values = self.compiled.construct_params(params)
        for name, process in self.binds.items():
            values[name] = process(values[name])
        return values if self.positions is None else [values[name] for name in self.positions]

    def make_row(self, values: Any) -> Any:
        if self.results is not None:
            values = [value if process is None else process(value)
                      for process, value in zip(self.results, values, strict=True)]
        return self.row._make(values)


class _DirectResult:
    def __init__(self, cursor: Any, compiled: _Compiled):
        self.rowcount = cursor.rowcount
        self.rows = [compiled.make_row(values) for values in cursor.fetchall()] if compiled.row is not None else []

    def one_or_none(self) -> Any:
        if len(self.rows) > 1:
            raise MultipleResultsFound("more than one row")
        return self.rows[0] if self.rows else None

    def first(self) -> Any:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def one(self) -> Any:
        found = self.one_or_none()
        if found is None:
            raise NoResultFound("no row")
        return found


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
