"""Faults under load, with the production processes as real subprocesses (docs/deploy.md):

- the web server (gunicorn master and workers) and the background worker (``m360 worker``) are
  killed with SIGKILL in the middle of a load of interviews and started again: every message the
  channel saw acknowledged is stored exactly once, the deliveries that failed are retried by the
  "provider" (same MessageSid), every interview goes on to its end, every DER alert the interviews
  raised is sent once (a send cut off by the kill is reconciled with Twilio, not repeated) and
  every open answer is coded;
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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import bindparam, create_engine, text
from twilio.request_validator import RequestValidator

from surveys import schema, settings
from tests.support import pgserver
from tests.support.fakes import FakeTwilio
from tests.support.pgserver import PostgresServer
from tests.support.phone import CLOSING, MODELS, SCRIPT, TOKEN, Phone
from tests.support.processes import M360, environment, free_port, wait_for_production_health

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install -e '.[production]')")
pytestmark = pytest.mark.usefixtures("no_internet")

DER = "+573001230000"  # the DER's WhatsApp number: alerts go there through the worker
WHILE_DOWN = "SM" + "dd" * 16  # the MessageSid delivered while PostgreSQL is down


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


class Service:
    """An ``m360`` command in its own process group (so SIGKILL reaches gunicorn's workers too)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, port: int | None = None):
        self.args, self.env, self.log, self.port = args, env, log, port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([*M360, *self.args], env=self.env, cwd=self.log.parent, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        if self.port is not None:
            wait_for_production_health(self.port, self.process, self.log)
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


def web(env: dict[str, str], log: Path) -> Service:
    """``m360 serve --production``: gunicorn, 2 workers × 2 threads."""
    port = free_port()
    return Service(["serve", "--production", "--workers", "2", "--threads", "2", "--port", str(port)], env, log,
                   port)


def service_env(url: str, **extra: str) -> dict[str, str]:
    return environment(M360_DATABASE_URL=url, TWILIO_AUTH_TOKEN=TOKEN, M360_RATELIMIT_ENABLED="0", **extra)


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


def outbox_rows(url: str) -> list[tuple[str, str, str | None]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [(kind, status, provider_id) for kind, status, provider_id in conn.execute(text(
            "SELECT kind, status, provider_id FROM outbox ORDER BY id"))]
    engine.dispose()
    return rows


def uncoded(url: str) -> int:
    """Open answers of the interview with no coding yet (the worker codes them)."""
    questions = sorted(q.name for q in schema.builtin(settings.current().questionnaire).questions if q.codebook)
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(text(
            "SELECT count(*) FROM answer a LEFT JOIN answer_coding c ON c.answer_id = a.id "
            "WHERE c.id IS NULL AND a.question IN :questions").bindparams(bindparam("questions", expanding=True)),
            {"questions": questions}).scalar_one()
    engine.dispose()
    return int(count)


def wait_until(ready: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)


def test_killing_the_web_server_and_the_worker_mid_load_loses_and_duplicates_nothing(
        cluster: PostgresServer, tmp_path: Path) -> None:
    """8 respondents, each pausing a little longer than the previous one (so interviews end over
    several seconds, each raising a DER alert the worker sends). SIGKILL the web server and the
    worker together well into the load; later SIGKILL the worker again once alerts are going out."""
    url = cluster.create_database()
    with FakeTwilio(auth_token=TOKEN) as twilio:
        env = service_env(url, TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_WHATSAPP_FROM="+14155238886",
                          TWILIO_API_BASE=twilio.base_url, M360_DER_WHATSAPP_TO=DER,
                          M360_DER_WHATSAPP_CONTENT_SID="HX" + "0" * 32, M360_MODELS_DIR=str(MODELS),
                          M360_OUTBOX_LEASE_S="5")
        server = web(env, tmp_path / "web.log").start()
        worker = Service(["worker", "--interval", "0.2"], env, tmp_path / "worker.log").start()
        phones = [Phone(server.port, f"+5730055{i:05d}", pause=0.03 * i) for i in range(8)]
        deadline = time.monotonic() + 240
        threads = [threading.Thread(target=p.interview, args=(deadline,), daemon=True) for p in phones]
        try:
            for thread in threads:
                thread.start()
            wait_until(lambda: sum(len(p.acknowledged) for p in phones) >= 40, 60, "40 messages")  # well into it
            server.kill()
            worker.kill()
            time.sleep(1)  # deliveries fail meanwhile; the phones keep retrying
            server.start()
            worker.start()
            twilio.wait_for(1, timeout=120)  # the first alerts are going out, more interviews are ending
            worker.kill()
            time.sleep(1)
            worker.start()
            for thread in threads:
                thread.join(timeout=max(1, deadline - time.monotonic()))
            # A row the killed worker was sending waits out its lease (5 s), then is reconciled, not resent.
            # (A digest longer than one WhatsApp message goes as one template: its later pieces are skipped.)
            wait_until(lambda: {status for _, status, _ in outbox_rows(url)} <= {"sent", "skipped"}, 120, "the outbox")
            wait_until(lambda: uncoded(url) == 0, 60, "the open answers to be coded")
        finally:
            worker.stop()
            server.stop()
        sent = twilio.sent
    assert all(CLOSING in p.last for p in phones), [p.last[-200:] for p in phones]
    assert sum(p.retries for p in phones) > 0  # the kill did interrupt deliveries
    sids, interviews = stored(url)
    acknowledged = [sid for p in phones for sid in p.acknowledged]
    assert sorted(sids) == sorted(set(acknowledged)) and set(sids.values()) == {1}  # each stored once
    counts = {interviews[p.number] for p in phones}
    assert len(counts) == 1 and next(iter(counts))[0] == "completa"  # every interview whole, same answers
    rows = outbox_rows(url)
    assert sum(kind == "alert" for kind, _, _ in rows) >= len(phones)  # «contacto asesor» at least, per interview
    assert sorted(m["sid"] for m in sent) == sorted(provider_id for _, status, provider_id in rows
                                                    if status == "sent")  # each sent once
    assert all(m["To"] == f"whatsapp:{DER}" for m in sent)


def test_postgresql_down_gives_503_and_nothing_half_written(cluster: PostgresServer, tmp_path: Path) -> None:
    url = cluster.create_database()
    server = web(service_env(url), tmp_path / "web.log").start()
    phone = Phone(server.port, "+573009990001")
    try:
        deadline = time.monotonic() + 60
        for i, message in enumerate(SCRIPT[:8]):
            phone.deliver(message, f"SMd0{i:04d}" + "0" * 26, deadline)
        cluster.pause()
        try:
            form = {"From": f"whatsapp:{phone.number}", "To": "whatsapp:+14155238886", "Body": SCRIPT[8],
                    "MessageSid": WHILE_DOWN, "NumMedia": "0"}
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(phone.url, form)}
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("POST", "/webhooks/twilio", urllib.parse.urlencode(form), headers)
            response = conn.getresponse()
            assert response.status == 503 and response.getheader("Retry-After")
            response.read()
            conn.close()
        finally:
            cluster.resume()
        reply = phone.deliver(SCRIPT[8], WHILE_DOWN, time.monotonic() + 60)  # the provider's retry
        assert "Oportunidad" in reply  # processed now: the next question
    finally:
        server.stop()
    sids, interviews = stored(url)
    assert sids[WHILE_DOWN] == 1 and set(sids.values()) == {1}
    assert interviews[phone.number][0] == "en_curso"
