"""The production processes as real subprocesses (docs/deploy.md): ``m360 serve --production`` runs
gunicorn with several workers and answers /health; the web workers send nothing on their own; one
``m360 worker`` sends what is queued in the outbox (to the loopback Twilio fake). On SQLite, and on
PostgreSQL when a server can be started (tests/support/pgserver.py)."""

from __future__ import annotations

import re
import subprocess
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from bot.outbox import sending as outbox
from bot.runtime.setup import prepare
from surveys import db
from surveys.models import Contact, OutboxMessage, utcnow
from tests.support.fakes import FakeTwilio
from tests.support.processes import M360, environment, free_port, server, wait_for_production_health

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install -e '.[production]')")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_db_url"))
    return f"sqlite:///{tmp_path / 'm360.sqlite3'}"


def queue_whatsapp(url: str, text: str) -> int:
    """A message for a contact who wrote a minute ago (inside WhatsApp's 24-hour window)."""
    engine = prepare(url).kw["bind"]
    now = utcnow()
    with db.transaction(engine) as conn:
        contact_id = conn.execute(Contact.__table__.insert(), dict(
            channel="whatsapp", address="+573001112233", state={}, state_version=0, opted_out=False,
            created_at=now, last_inbound_at=now - timedelta(minutes=1))).inserted_primary_key[0]
        row_id = outbox.enqueue(conn, channel="whatsapp", address="+573001112233", text=text, kind="ticket",
                                contact_id=contact_id, now=now)
    engine.dispose()
    assert row_id is not None
    return row_id


def status_of(url: str, row_id: int) -> str:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(OutboxMessage.__table__.select()
                                    .where(OutboxMessage.__table__.c.id == row_id)).one().status)
    finally:
        engine.dispose()


def twilio_env(fake: FakeTwilio, url: str) -> dict[str, str]:
    return environment(M360_DATABASE_URL=url, TWILIO_ACCOUNT_SID=fake.account_sid, TWILIO_AUTH_TOKEN=fake.auth_token,
                       TWILIO_WHATSAPP_FROM="+14155238886", TWILIO_API_BASE=fake.base_url)


def test_serve_production_runs_gunicorn_workers_and_the_worker_sends_the_outbox(
        url: str, tmp_path: Path, twilio_fake: FakeTwilio) -> None:
    row_id = queue_whatsapp(url, "Su solicitud MDA-2026-00001 fue asignada.")
    env = twilio_env(twilio_fake, url)
    port = free_port()
    log = tmp_path / "serve.log"
    with server(["serve", "--production", "--workers", "2", "--threads", "2", "--port", str(port)], env,
                log) as web:
        assert wait_for_production_health(port, web, log) == {"status": "ok", "database": "ok"}
        # In production the simulator (test data) needs a panel sign-in: the page sends people to it,
        # the API refuses anonymous messages and stores nothing.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/simulador", timeout=30) as response:
            assert response.status == 200 and "/panel/login?next=/simulador" in response.geturl()
        anonymous = urllib.request.Request(f"http://127.0.0.1:{port}/simulador/api/send", method="POST",
                                           data=b'{"session": "sin-sesion-01", "text": "Hola"}',
                                           headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(anonymous, timeout=30)
        assert refused.value.code == 401
        deadline = time.monotonic() + 20
        while len(re.findall(r"Booting worker with pid", log.read_text())) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        printed = log.read_text(encoding="utf-8")
        assert f"Monitoreo 360 (production) on http://127.0.0.1:{port}" in printed
        assert "gunicorn: 2 worker process(es) × 2 thread(s)" in printed
        assert "run one `m360 worker`" in printed and "sending (outbox): sms, whatsapp" in printed
        assert len(re.findall(r"Booting worker with pid", printed)) == 2
        time.sleep(2)  # the web workers run no outbox sender: the message waits for `m360 worker`
        assert twilio_fake.sent == [] and status_of(url, row_id) == "pending"

        worker_log = tmp_path / "worker.log"
        with server(["worker", "--interval", "0.2"], env, worker_log) as worker:
            twilio_fake.wait_for(1, timeout=30)
            deadline = time.monotonic() + 10
            while status_of(url, row_id) != "sent" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert worker.poll() is None, worker_log.read_text()
        assert [m["Body"] for m in twilio_fake.sent] == ["Su solicitud MDA-2026-00001 fue asignada."]
        assert status_of(url, row_id) == "sent"
        printed = worker_log.read_text(encoding="utf-8")
        assert "sending (outbox): sms, whatsapp" in printed and "m360 worker running" in printed
        assert "m360 worker stopped" in printed  # SIGTERM stops it cleanly
    assert web.returncode == 0, log.read_text()  # gunicorn's master shut down cleanly on SIGTERM


def test_wsgi_module_serves_the_app_without_background_threads(tmp_path: Path) -> None:
    """``gunicorn 'webhooks.wsgi:app'`` (documented): the app module itself, after `m360 db upgrade`."""
    url = f"sqlite:///{tmp_path / 'm360.sqlite3'}"
    env = environment(M360_DATABASE_URL=url, M360_SECRET_KEY="x" * 32)
    subprocess.run([*M360, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    code = ("import threading, webhooks.wsgi as w; "
            "names = sorted(t.name for t in threading.enumerate() if t.name.startswith('m360')); "
            "print(w.app.name, names, 'm360.alert_monitor' in w.app.extensions)")
    result = subprocess.run([str(Path(M360[0]).parent / "python"), "-c", code], env=env, capture_output=True,
                            text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "webhooks.app [] False"
