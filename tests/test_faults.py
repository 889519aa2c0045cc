"""Faults under load, with the production processes as real subprocesses (issue 8):

- the web server (gunicorn master and workers) is killed with SIGKILL in the middle of a load of
  interviews and started again: every message the channel saw acknowledged is stored exactly once,
  the deliveries that failed are retried by the "provider" (same MessageSid) and every interview
  goes on to its end;
- PostgreSQL stops: the webhook answers 503 (so Twilio retries) and nothing is half-written; when
  the database is back the same delivery is processed once.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from tests import pgserver
from tests.pgserver import PostgresServer
from tests.test_cli import M360, environment, free_port
from tests.test_production import wait_for_health

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install -e '.[production]')")
pytestmark = pytest.mark.usefixtures("no_internet")

TOKEN = "fault-test-twilio-token"
SCRIPT = ["Hola", "si", "genova quindio", "sí", "Ana Pérez", "1", "1", "4", "Muy buena, el asesor siempre responde",
          "5", "cuatro", "3", "4/5", "2", "5", "excelente", "buena", "no aplica", "si", "porque articulamos el plan",
          "parcialmente", "la conexion es mala", "nop", "rotan mucho al personal", "2, 5 y 12", "catastro",
          "si", "mas visitas presenciales"]
CLOSING = "Muchas gracias"


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own (it is stopped and started again), durable as in
    production: with the test suite's synchronous_commit=off a crash loses acknowledged commits."""
    reason = pgserver.unavailable()
    if reason or os.environ.get("M360_TEST_POSTGRES_URL"):
        pytest.skip(reason or "the fault tests stop the server: not with an external one")
    server = PostgresServer(durable=True).start()
    yield server
    server.stop()


class Web:
    """``m360 serve --production`` in its own process group (so SIGKILL reaches every worker)."""

    def __init__(self, url: str, port: int, log: Path):
        self.url, self.port, self.log = url, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Web:
        env = environment(M360_DATABASE_URL=self.url, TWILIO_AUTH_TOKEN=TOKEN, M360_RATELIMIT_ENABLED="0")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*M360, "serve", "--production", "--workers", "2", "--threads", "2", "--port", str(self.port)],
                env=env, cwd=self.log.parent, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_health(self.port, self.process, self.log)
        return self

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Phone:
    """A WhatsApp number whose messages Twilio delivers, retrying a delivery (same MessageSid) until
    it is acknowledged with 200, as Twilio's retries do."""

    def __init__(self, port: int, number: str):
        self.port, self.number = port, number
        self.url = f"http://127.0.0.1:{port}/webhooks/twilio"
        self.acknowledged: list[str] = []
        self.retries = 0
        self.last = ""

    def deliver(self, text_: str, sid: str, deadline: float) -> str:
        form = {"From": f"whatsapp:{self.number}", "To": "whatsapp:+14155238886", "Body": text_, "MessageSid": sid,
                "NumMedia": "0", "AccountSid": "AC" + "0" * 32}
        body = urllib.parse.urlencode(form)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(self.url, form)}
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
            try:
                conn.request("POST", "/webhooks/twilio", body, headers)
                response = conn.getresponse()
                reply = response.read().decode()
                if response.status == 200:
                    self.acknowledged.append(sid)
                    return reply
            except (OSError, http.client.HTTPException):
                pass  # refused, reset or cut off mid-reply while the server is down: deliver again
            finally:
                conn.close()
            self.retries += 1
            time.sleep(0.1)
        raise AssertionError(f"{self.number}: {sid} never acknowledged")

    def interview(self, deadline: float) -> None:
        for i, message in enumerate(SCRIPT):
            self.last = self.deliver(message, f"SM{self.number[-6:]}{i:04d}" + "0" * 20, deadline)


def stored(url: str) -> tuple[Counter[str], dict[str, tuple[str, int]]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        sids = Counter(sid for (sid,) in conn.execute(text(
            "SELECT external_id FROM message_log WHERE direction = 'in'")))
        interviews = {address: (status, answers) for address, status, answers in conn.execute(text(
            "SELECT c.address, i.status, count(a.id) FROM contact c JOIN interview i ON i.contact_id = c.id "
            "LEFT JOIN answer a ON a.interview_id = i.id GROUP BY c.address, i.status"))}
    engine.dispose()
    return sids, interviews


def test_killing_the_web_server_mid_load_loses_and_duplicates_nothing(cluster: PostgresServer,
                                                                      tmp_path: Path) -> None:
    url = cluster.create_database()
    web = Web(url, free_port(), tmp_path / "web.log").start()
    phones = [Phone(web.port, f"+5730055{i:05d}") for i in range(8)]
    deadline = time.monotonic() + 240
    threads = [threading.Thread(target=p.interview, args=(deadline,), daemon=True) for p in phones]
    try:
        for thread in threads:
            thread.start()
        while sum(len(p.acknowledged) for p in phones) < 40:  # well into the load
            time.sleep(0.02)
        web.kill()
        time.sleep(1)  # deliveries fail meanwhile; the phones keep retrying
        web.start()
        for thread in threads:
            thread.join(timeout=max(1, deadline - time.monotonic()))
    finally:
        web.stop()
    assert all(CLOSING in p.last for p in phones), [p.last[-200:] for p in phones]
    assert sum(p.retries for p in phones) > 0  # the kill did interrupt deliveries
    sids, interviews = stored(url)
    acknowledged = [sid for p in phones for sid in p.acknowledged]
    assert sorted(sids) == sorted(set(acknowledged)) and set(sids.values()) == {1}  # each stored once
    counts = {interviews[p.number] for p in phones}
    assert len(counts) == 1 and next(iter(counts))[0] == "completa"  # every interview whole, same answers


def test_postgresql_down_gives_503_and_nothing_half_written(cluster: PostgresServer, tmp_path: Path) -> None:
    url = cluster.create_database()
    web = Web(url, free_port(), tmp_path / "web.log").start()
    phone = Phone(web.port, "+573009990001")
    try:
        deadline = time.monotonic() + 60
        for i, message in enumerate(SCRIPT[:8]):
            phone.deliver(message, f"SMdown{i:04d}" + "0" * 22, deadline)
        cluster.pause()
        try:
            form = {"From": f"whatsapp:{phone.number}", "To": "whatsapp:+14155238886", "Body": SCRIPT[8],
                    "MessageSid": "SMdown-while-down", "NumMedia": "0"}
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(phone.url, form)}
            conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=30)
            conn.request("POST", "/webhooks/twilio", urllib.parse.urlencode(form), headers)
            response = conn.getresponse()
            assert response.status == 503 and response.getheader("Retry-After")
            response.read()
            conn.close()
        finally:
            cluster.resume()
        reply = phone.deliver(SCRIPT[8], "SMdown-while-down", time.monotonic() + 60)  # the provider's retry
        assert "Oportunidad" in reply  # processed now: the next question
    finally:
        web.stop()
    sids, interviews = stored(url)
    assert sids["SMdown-while-down"] == 1 and set(sids.values()) == {1}
    assert interviews[phone.number][0] == "en_curso"
