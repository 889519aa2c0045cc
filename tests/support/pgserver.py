"""A throwaway PostgreSQL server for tests: ``initdb`` + ``pg_ctl start`` in a temporary directory,
listening on 127.0.0.1 at a free port (and a unix socket in that directory), with ``fsync=off``.

Run as root (CI), the cluster belongs to the unprivileged ``postgres`` user (PostgreSQL refuses to
run as root): the server binaries run under that user, the tests connect over TCP.

``M360_TEST_POSTGRES_URL`` (``postgresql+psycopg://user@host:port/db``, a role allowed to CREATE
DATABASE) uses an existing server instead. ``unavailable()`` says why PostgreSQL tests must skip.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")


def bin_dir() -> Path | None:
    """Where initdb/pg_ctl live: ``M360_PG_BIN``, Debian's /usr/lib/postgresql/<newest>/bin, or PATH."""
    candidates = [os.environ.get("M360_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    initdb = shutil.which("initdb")
    candidates.append(str(Path(initdb).parent) if initdb else "")
    for candidate in filter(None, candidates):
        if all((Path(candidate) / name).is_file() for name in SERVER_BINARIES):
            return Path(candidate)
    return None


def unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here (None when they can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]')"
    if os.environ.get("M360_TEST_POSTGRES_URL"):
        return None
    if bin_dir() is None:
        return ("no PostgreSQL server binaries (initdb, pg_ctl) found: apt-get install postgresql, "
                "set M360_PG_BIN, or point M360_TEST_POSTGRES_URL at a server")
    if os.geteuid() == 0 and _user("postgres") is None:
        return "running as root and there is no unprivileged 'postgres' user to own the test cluster"
    return None


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One running cluster. ``url(db)`` gives a SQLAlchemy URL; ``create_database`` / ``drop_database``."""

    def __init__(self, durable: bool = False) -> None:
        """``durable``: fsync and synchronous commits on, as in production (bench/load.py); tests
        run without them."""
        self.durable = durable
        self.external = os.environ.get("M360_TEST_POSTGRES_URL")
        self.directory: Path | None = None
        self.process_user: pwd.struct_passwd | None = None
        self.port = 0
        self._options = ""
        self._admin: Any = None

    # -- lifecycle

    def start(self) -> PostgresServer:
        if self.external:
            return self
        binaries = bin_dir()
        assert binaries is not None, unavailable()
        # As root the cluster's owner must reach the directory: /tmp, not a private TMPDIR.
        parent = "/tmp" if os.geteuid() == 0 and Path("/tmp").is_dir() else None
        self.directory = Path(tempfile.mkdtemp(prefix="m360-pg-", dir=parent))
        data = self.directory / "data"
        if os.geteuid() == 0:
            self.process_user = _user("postgres")
            assert self.process_user is not None
            os.chown(self.directory, self.process_user.pw_uid, self.process_user.pw_gid)
        self._run([binaries / "initdb", "-D", data, "-U", "m360", "--auth=trust", "-E", "UTF8", "--locale=C",
                   "--no-sync", "--no-instructions"])
        self.port = free_port()
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} "
                   "-c max_connections=200 -c shared_buffers=64MB -c timezone=UTC")
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._options = options
        self.resume()
        atexit.register(self.stop)
        return self

    def pause(self) -> None:
        """Stop the server abruptly (as a crash would), keeping its data: ``resume`` starts it again on
        the same port (the fault tests)."""
        binaries = bin_dir()
        assert binaries is not None and self.directory is not None and not self.external
        self._run([binaries / "pg_ctl", "stop", "-D", self.directory / "data", "-m", "immediate", "-w"])

    def resume(self) -> None:
        binaries = bin_dir()
        assert binaries is not None and self.directory is not None
        self._run([binaries / "pg_ctl", "start", "-w", "-t", "60", "-D", self.directory / "data",
                   "-l", self.directory / "server.log", "-o", self._options])

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None
        if self.external or self.directory is None:
            return
        binaries = bin_dir()
        if binaries is not None and (self.directory / "data" / "postmaster.pid").exists():
            self._run([binaries / "pg_ctl", "stop", "-D", self.directory / "data", "-m", "immediate", "-w"],
                      check=False)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def log(self) -> str:
        path = self.directory / "server.log" if self.directory else None
        return path.read_text(errors="replace")[-4000:] if path and path.exists() else ""

    def _run(self, argv: list[Any], check: bool = True) -> None:
        kwargs: dict[str, Any] = {}
        if self.process_user is not None:
            kwargs.update(user=self.process_user.pw_uid, group=self.process_user.pw_gid, extra_groups=[])
        env = dict(os.environ, LC_ALL="C", TZ="UTC")
        result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env,
                                cwd=self.directory or None, **kwargs)
        if check and result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n"
                               f"{self.log()}")

    # -- databases

    def url(self, database: str = "postgres") -> str:
        if self.external:
            return make_url(self.external).set(database=database).render_as_string(hide_password=False)
        return f"postgresql+psycopg://m360@127.0.0.1:{self.port}/{database}"

    def admin(self) -> Any:
        if self._admin is None:
            admin_db = make_url(self.external).database if self.external else "postgres"
            self._admin = create_engine(self.url(admin_db or "postgres"), isolation_level="AUTOCOMMIT",
                                        poolclass=_null_pool())
        return self._admin

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A new database (optionally a copy of ``template``, which must have no connections); its URL."""
        name = name or f"m360_{uuid.uuid4().hex[:12]}"
        with self.admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self.admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool
