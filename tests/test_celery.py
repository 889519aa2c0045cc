"""Background work on Celery with a real Redis broker (bot/runtime/tasks.py): a ticket update made through
the API reaches the requester through a Celery worker; with Redis down the API still answers and
the message goes out once Redis is back (beat's sweep); a row left pending with no kick at all is
sent by the sweep; open answers are coded there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.accounts import create_token
from bot.alerts.alerting import Alerts
from bot.helpdesk import ticketing
from bot.outbox import sending
from bot.service import ChatService
from surveys import db
from surveys.models import Answer, AnswerCoding, Contact, OutboxMessage
from tests.support import redisserver
from tests.support.conversation import INTERVIEW, Chat, register, start_interview
from tests.support.fakes import FakeTelegram
from tests.support.redisserver import RedisServer
from webhooks.app import create_app

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    reason = redisserver.unavailable()
    if reason:
        pytest.skip(reason)
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def environment(db_url: str, redis_server: RedisServer, telegram_fake: FakeTelegram, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    if redis_server.process is None:
        redis_server.start()
    values = {"M360_DATABASE_URL": db_url, "M360_CELERY_BROKER": redis_server.url,
              "TELEGRAM_BOT_TOKEN": telegram_fake.token, "TELEGRAM_API_BASE": telegram_fake.base_url,
              "M360_BEAT_SEND_OUTBOX_S": "1", "M360_BEAT_CODE_ANSWERS_S": "1"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def celery_worker(environment: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``celery -A bot.runtime.tasks worker -B`` (worker and beat) in its own process, as production runs it."""
    log = (tmp_path / "celery.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bot.runtime.tasks", "worker", "-B", "--pool=solo", "--loglevel=INFO",
         "-Q", "m360", "-s", str(tmp_path / "beat-schedule"), "--without-gossip", "--without-mingle"],
        cwd=ROOT, env={**os.environ, **environment}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield process
    os.killpg(process.pid, signal.SIGKILL)  # the worker and its embedded beat process
    process.wait(timeout=10)
    log.close()


@pytest.fixture
def app(environment: dict[str, str]) -> Flask:
    return create_app(environment["M360_DATABASE_URL"])  # a production web worker: no background threads


def requester_ticket(app: Flask) -> tuple[str, dict[str, str]]:
    engine = app.extensions["m360.sessions"].kw["bind"]
    with db.transaction(engine) as conn:
        contact_id = conn.execute(Contact.__table__.insert().values(
            channel="telegram", address="5151", name="Ana", state={}, state_version=0, opted_out=False,
            created_at=NOW)).inserted_primary_key[0]
        code = ticketing.create(conn, entity_code="63302", region=None, contact_id=contact_id, channel="telegram",
                               need="ayuda con el plan", themes=["plan_indicativo"], now=NOW,
                               alerts=Alerts(destinations=())).code
        token = create_token(conn, role="der", name="mesa")
    return code, {"Authorization": f"Bearer {token}"}


def test_a_ticket_update_reaches_the_requester_through_celery(app: Flask, celery_worker: subprocess.Popen[bytes],
                                                               telegram_fake: FakeTelegram) -> None:
    code, der = requester_ticket(app)
    response = app.test_client().patch(f"/api/v1/help-requests/{code}", headers=der,
                                       json={"status": "asignada", "note": "La asesora la llamará."})
    assert response.status_code == 200
    [sent] = telegram_fake.wait_for(1, timeout=60)
    assert sent["chat_id"] == 5151 and code in sent["text"] and "La asesora la llamará." in sent["text"]


def test_with_redis_down_the_api_answers_and_the_message_goes_out_when_it_is_back(
        app: Flask, celery_worker: subprocess.Popen[bytes], telegram_fake: FakeTelegram,
        redis_server: RedisServer) -> None:
    code, der = requester_ticket(app)
    redis_server.stop()
    started = time.monotonic()
    response = app.test_client().patch(f"/api/v1/help-requests/{code}", headers=der, json={"note": "Seguimos."})
    assert response.status_code == 200 and time.monotonic() - started < 10
    engine = app.extensions["m360.sessions"].kw["bind"]
    with engine.connect() as conn:
        assert conn.execute(select(OutboxMessage.status)).scalars().all() == ["pending"]
    redis_server.start()  # same port: the worker reconnects, beat's sweep sends what is pending
    [sent] = telegram_fake.wait_for(1, timeout=90)
    assert "Seguimos." in sent["text"]


def test_the_sweep_sends_a_row_nobody_kicked(environment: dict[str, str], celery_worker: subprocess.Popen[bytes],
                                             telegram_fake: FakeTelegram) -> None:
    engine = db.make_engine(environment["M360_DATABASE_URL"])
    with db.transaction(engine) as conn:
        sending.enqueue(conn, channel="telegram", address="4242", text="Recordatorio", kind="reminder")
    [sent] = telegram_fake.wait_for(1, timeout=60)
    assert sent["chat_id"] == 4242 and sent["text"] == "Recordatorio"
    engine.dispose()


def test_open_answers_are_coded_by_the_celery_worker(environment: dict[str, str], sessions: sessionmaker[Session],
                                                    celery_worker: subprocess.Popen[bytes]) -> None:
    chat = Chat(ChatService(sessions))  # a web worker's chat service: it stores, Celery codes
    register(chat)
    start_interview(chat)
    for text, _ in INTERVIEW[:13]:  # up to porque_articulacion
        chat.say(text)
    deadline, coded = time.monotonic() + 60, None
    while coded is None and time.monotonic() < deadline:
        with sessions() as s:
            coded = s.scalar(select(AnswerCoding.codebook).join(Answer, Answer.id == AnswerCoding.answer_id)
                             .where(Answer.question == "porque_articulacion"))
        time.sleep(0.2)
    assert coded == "articulacion"
