"""docker-compose.yml without Docker (there is no Docker engine here): the services' own commands and
environments, as the file gives them, run as local processes against a throwaway PostgreSQL and
Redis. Only the hosts ``db`` and ``redis``, the published port, the bind address and beat's schedule
file are rewritten; what ``.env`` would hold (channel credentials) is added. So a typo in a command,
a wrong Celery option or a missing variable fails here.

The migrations run and exit; the web service passes its own healthcheck; a WhatsApp respondent does
a whole interview through it (asking an adviser to call opens a ticket); a DER member's update of
that ticket through the API reaches the respondent through the Celery worker (the Twilio fake); the
open answers are coded by the worker; beat is up.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.support import pgserver, redisserver
from tests.support.fakes import FakeTwilio
from tests.support.pgserver import PostgresServer, free_port
from tests.support.phone import CLOSING, MODELS, TOKEN, Phone
from tests.support.redisserver import RedisServer

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
BIN = Path(sys.executable).parent  # m360, celery and python, as on the image's PATH
ADMIN = "compose-test-admin-token"

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install -e '.[production]')")
pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PostgresServer, RedisServer]]:
    reason = pgserver.unavailable() or redisserver.unavailable()
    if reason:
        pytest.skip(reason)
    postgres, redis = PostgresServer().start(), RedisServer().start()
    yield postgres, redis
    redis.stop()
    redis.cleanup()
    postgres.stop()


class Compose:
    """The services of docker-compose.yml as local processes (each in its own process group)."""

    def __init__(self, database_url: str, redis: RedisServer, extra_env: dict[str, str], tmp: Path):
        self.database_url, self.redis, self.extra_env, self.tmp = database_url, redis, extra_env, tmp
        self.port = free_port()
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def local(self, value: str) -> str:
        value = value.replace("redis://redis:6379/", f"redis://127.0.0.1:{self.redis.port}/")
        return value.replace("0.0.0.0", "127.0.0.1").replace("8000", str(self.port)) \
            .replace("/tmp/celerybeat-schedule", str(self.tmp / "celerybeat-schedule"))

    def environment(self, service: str) -> dict[str, str]:
        given = {k: str(v) for k, v in COMPOSE["services"][service].get("environment", {}).items()}
        # The file's database URL names the db service, its user and database; here, the test database.
        assert re.fullmatch(r"postgresql\+psycopg://m360:\$\{POSTGRES_PASSWORD:\?[^}]+\}@db:5432/m360",
                            given["M360_DATABASE_URL"]), given["M360_DATABASE_URL"]
        assert given["M360_SECRET_KEY"].startswith("${M360_SECRET_KEY:?")  # required, never defaulted
        given.update(M360_DATABASE_URL=self.database_url, M360_SECRET_KEY="s" * 64)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("M360_", "TWILIO_", "TELEGRAM_"))}
        return {**base, "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}",
                **{k: self.local(v) for k, v in given.items()}, **self.extra_env}

    def command(self, service: str) -> list[str]:
        return [self.local(part) for part in COMPOSE["services"][service]["command"]]

    def run(self, service: str, timeout: float = 180) -> None:
        """A one-shot service (``migrate``): it must exit 0."""
        done = subprocess.run(self.command(service), env=self.environment(service), cwd=self.tmp,
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self, service: str) -> None:
        with (self.tmp / f"{service}.log").open("ab") as log:
            self.running[service] = subprocess.Popen(
                self.command(service), env=self.environment(service), cwd=self.tmp, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)

    def healthy(self, service: str, timeout: float = 90) -> None:
        """The service's own healthcheck command, until it passes."""
        check = COMPOSE["services"][service]["healthcheck"]["test"]
        assert check[0] == "CMD"
        argv = [str(BIN / "python") if part == "python" else self.local(part) for part in check[1:]]
        deadline = time.monotonic() + timeout
        while subprocess.run(argv, capture_output=True, timeout=30).returncode != 0:
            assert self.running[service].poll() is None, self.log(service)
            assert time.monotonic() < deadline, f"{service} never healthy:\n{self.log(service)}"
            time.sleep(0.5)

    def log(self, service: str) -> str:
        return (self.tmp / f"{service}.log").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def api(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1{path}", method=method, data=json.dumps(body).encode() if body else None,
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def coded_answers(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM answer_coding")).scalar_one()
    engine.dispose()
    return int(count)


def test_the_compose_services_run_the_product(servers: tuple[PostgresServer, RedisServer], tmp_path: Path) -> None:
    postgres, redis = servers
    assert set(COMPOSE["services"]) == {"db", "redis", "migrate", "web", "worker", "beat"}
    url = postgres.create_database()
    with FakeTwilio(auth_token=TOKEN) as twilio:
        dotenv = {"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": TOKEN,
                  "TWILIO_WHATSAPP_FROM": "+14155238886", "TWILIO_API_BASE": twilio.base_url,
                  "M360_ADMIN_TOKEN": ADMIN, "M360_MODELS_DIR": str(MODELS), "M360_BEAT_SEND_OUTBOX_S": "1"}
        compose = Compose(url, redis, dotenv, tmp_path)
        try:
            compose.run("migrate")
            for service in ("web", "worker", "beat"):
                compose.start(service)
            compose.healthy("web")
            phone = Phone(compose.port, "+573004445566")
            phone.interview(time.monotonic() + 120)
            assert CLOSING in phone.last

            [ticket] = api(compose.port, "GET", "/help-requests")["items"]
            api(compose.port, "PATCH", f"/help-requests/{ticket['code']}",
                {"status": "asignada", "note": "La asesora la llamará mañana."})
            [sent] = twilio.wait_for(1, timeout=60)  # through Redis and the Celery worker
            assert sent["To"] == "whatsapp:+573004445566" and ticket["code"] in sent["Body"]
            assert "La asesora la llamará mañana." in sent["Body"]

            deadline = time.monotonic() + 60
            while coded_answers(url) == 0:
                assert time.monotonic() < deadline, compose.log("worker")
                time.sleep(0.5)
            assert all(compose.running[s].poll() is None for s in ("web", "worker", "beat"))
            assert "beat: Starting" in compose.log("beat")
        finally:
            compose.stop()
