"""The ``m360`` command as a real subprocess: its environment (none of the caller's M360_*, channel
settings or PORT), one-shot commands, a server process and its /health, a free loopback port, and
SQL on the database a command wrote."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from surveys import db
from tests.support.pgserver import free_port  # noqa: F401  (re-exported: one free-port helper for every server)

_SCRIPT = Path(sys.executable).parent / "m360"
M360 = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]


def environment(**extra: str) -> dict[str, str]:
    """The caller's environment without any M360_*, channel setting or PORT, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("M360_", "TWILIO_", "TELEGRAM_")) and k != "PORT"}
    env.update(extra)
    return env


def m360(*args: str, url: str, cwd: Path, stdin: str = "", ok: bool = True,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*M360, *args], input=stdin, capture_output=True,
                            text=True, encoding="utf-8", cwd=cwd, env=environment(M360_DATABASE_URL=url, **(env or {})),
                            timeout=120)
    if ok:
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
    else:
        assert result.returncode != 0, result.stdout
        assert "Traceback" not in result.stderr, result.stderr  # a clear message, not a crash
    return result


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    if not url.startswith("sqlite"):  # M360_TEST_BACKEND=postgresql: the same SQL, psycopg's placeholders
        engine = db.make_engine(url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.exec_driver_sql(sql.replace("?", "%s"), params)]
        finally:
            engine.dispose()
    with sqlite3.connect(sqlite_path(url)) as conn:
        return conn.execute(sql, params).fetchall()


@contextmanager
def server(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen([*M360, *args], env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_health(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                assert response.status == 200
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail(f"m360 serve did not answer /health on port {port} within {timeout}s:\n{log.read_text()}")


def wait_for_production_health(port: int, process: subprocess.Popen[bytes], log: Path,
                               timeout: float = 90) -> dict[str, str]:
    """/health once a gunicorn worker has loaded the app (a connection accepted by the master may
    wait for a booting worker longer than one read's timeout on a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
                return dict(json.loads(response.read()))
        except OSError:  # refused, reset or timed out: not up yet
            time.sleep(0.2)
    pytest.fail(f"no /health on port {port} within {timeout}s:\n{log.read_text()}")
