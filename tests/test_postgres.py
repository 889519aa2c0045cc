"""PostgreSQL (psycopg 3) as the system of record: the Alembic migrations, a whole interview through
the chat service, and what concurrent webhook workers do to one database — the same delivery twice
and at once, concurrent turns of one contact, several outbox senders, help-desk tickets and their
alerts raised from several threads, a wave created and launched.

A throwaway cluster is started for the run (tests/support/pgserver.py: initdb + pg_ctl on 127.0.0.1, a
random port, as the unprivileged ``postgres`` user when run as root); each test gets its own copy
of a migrated template database. Skipped, with the reason, when no PostgreSQL server binary (or
psycopg) is available. ``M360_TEST_BACKEND=postgresql make test`` runs the whole suite on it.

Besides the tests written here, chosen tests of other modules run again on PostgreSQL: they are
marked ``also_on_postgresql`` in their own modules (tests/conftest.py runs them on both backends).
``pytest -m postgresql`` runs this module and those runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.alerting import Alerts
from bot.helpdesk import ticketing
from bot.outbox import sending
from bot.outbox.sending import Sender
from bot.service import ChatService
from bot.waves import campaign
from surveys import db
from surveys.messages import Inbound
from surveys.models import Alert, Answer, Contact, Interview, MessageLog, OutboxMessage, Ticket
from tests.support import pgserver
from tests.support.channels import twilio_provider
from tests.support.conversation import INTERVIEW, Chat, register, start_interview
from tests.support.fakes import FakeTwilio

UNAVAILABLE = pgserver.unavailable()
pytestmark = [pytest.mark.postgresql,
              pytest.mark.skipif(UNAVAILABLE is not None, reason=f"PostgreSQL not available: {UNAVAILABLE}")]

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def db_url(pg_db_url: str) -> str:
    """Every test here (and every test imported below) runs on a fresh PostgreSQL database."""
    return pg_db_url


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


def together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` for i in range(n) in n threads released at the same moment; their results
    (an exception is re-raised)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def count(engine: Engine, query: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


# ------------------------------------------------------------------ the schema


def test_migrations_reach_head_on_postgresql(engine: Engine) -> None:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(db.alembic_config(str(engine.url))).get_current_head()
    with engine.connect() as conn:
        assert conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg"
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
        assert conn.execute(text("SELECT count(*) FROM entity")).scalar_one() == 1155
    db.upgrade(str(engine.url))  # idempotent


# ------------------------------------------------------------------ the chat service


def test_a_whole_interview_through_the_chat_service(service: ChatService, sessions: sessionmaker[Session]) -> None:
    chat = Chat(service)
    register(chat)
    start_interview(chat)
    for reply, expected in INTERVIEW:
        assert expected in chat.say(reply), reply
    with sessions() as s:
        interview = s.scalars(select(Interview)).one()
        assert interview.status == "completa" and interview.period == "2026-11"
        assert interview.finished_at is not None and interview.finished_at.tzinfo is not None
        stored = dict(s.execute(select(Answer.question, Answer.value)
                                .where(Answer.interview_id == interview.id)).all())
        # 5.2 "sí" opened a ticket and raised its alert in the same turn (and the "No" of 4.3 its own).
        assert s.scalar(select(func.count()).select_from(Ticket)) == 1
        assert set(s.scalars(select(Alert.rule))) == {"contacto_asesor", "contribucion_no"}
    assert stored["demanda_temas"] == ["plan_indicativo", "seguimiento_pdt", "otro"]  # JSON round trip
    assert stored["puntaje_general"] == 4 and stored["entidad"] == "63302"


def test_the_same_delivery_twice_and_concurrently_has_one_effect(service: ChatService, engine: Engine) -> None:
    chat = Chat(service, channel="whatsapp")
    register(chat)
    start_interview(chat)
    version = count(engine, select(Contact.state_version))
    inbound = Inbound("whatsapp", chat.address, "4", external_id="SMdup0001", received_at=NOW + timedelta(hours=1))
    replies = together(8, lambda _: service.handle(inbound))
    replies.append(service.handle(inbound))  # and once more, later
    texts = {tuple(r.text for r in reply) for reply in replies}
    assert len(texts) == 1 and "En pocas palabras" in "\n".join(texts.pop())  # everyone got the same answer
    assert count(engine, select(func.count()).select_from(Answer).where(Answer.question == "puntaje_general")) == 1
    assert count(engine, select(func.count()).select_from(MessageLog)
                 .where(MessageLog.external_id == "SMdup0001")) == 1
    assert count(engine, select(Contact.state_version)) == version + 1


def test_concurrent_turns_of_one_contact_lose_no_update(service: ChatService, engine: Engine) -> None:
    """Eight different messages of one contact at once: each turn sees the state the previous one
    committed (the contact row is locked), so they answer eight successive questions (the eight
    1–5 ratings after the open "¿cómo valora?", where a bare "4" is asked again in words)."""
    chat = Chat(service, channel="whatsapp")
    register(chat)
    start_interview(chat)
    chat.say("4")
    chat.say("Muy buena, el asesor siempre responde")
    version = count(engine, select(Contact.state_version))
    answers_before = count(engine, select(func.count()).select_from(Answer))
    together(8, lambda i: service.handle(Inbound("whatsapp", chat.address, "4", external_id=f"SMturn{i}",
                                                 received_at=NOW + timedelta(hours=1, seconds=i))))
    assert count(engine, select(Contact.state_version)) == version + 8
    with engine.connect() as conn:
        stored = dict(conn.execute(select(Answer.question, Answer.value)
                                   .where(Answer.question.like("aspecto_%") | Answer.question.like("tema_%"))).all())
    assert count(engine, select(func.count()).select_from(Answer)) == answers_before + 8
    assert stored == {"aspecto_oportunidad": 4, "aspecto_materiales": 4, "aspecto_virtualidad": 4,
                      "aspecto_profundidad": 4, "aspecto_kpt": 4, "aspecto_asesor": 4,
                      "tema_plan_indicativo": "buena", "tema_armonizacion": "buena"}
    # The conversation goes on from the ninth question.
    assert "articulación" in chat.say("buena")


def test_a_new_contacts_first_messages_at_once_make_one_contact(service: ChatService, engine: Engine) -> None:
    together(6, lambda i: service.handle(Inbound("telegram", "4242", "Hola", external_id=f"u{i}",
                                                 received_at=NOW + timedelta(seconds=i))))
    assert count(engine, select(func.count()).select_from(Contact).where(Contact.address == "4242")) == 1
    assert count(engine, select(Contact.state_version).where(Contact.address == "4242")) == 6
    assert count(engine, select(func.count()).select_from(MessageLog).where(MessageLog.direction == "in")) == 6


def test_a_nul_character_in_a_message_is_dropped_not_fatal(service: ChatService, engine: Engine) -> None:
    """PostgreSQL text cannot hold NUL (SQLite can): the message is stored without it."""
    replies = service.handle(Inbound("whatsapp", "+573009998877", "Ho\x00la", external_id="SM\x00nul",
                                     received_at=NOW))
    assert "Ley 1581" in "\n".join(r.text for r in replies)
    with engine.connect() as conn:
        assert conn.execute(select(MessageLog.text).where(MessageLog.direction == "in")).scalar_one() == "Hola"


# ------------------------------------------------------------------ the outbox


def test_several_senders_send_each_message_exactly_once(engine: Engine, twilio_fake: FakeTwilio) -> None:
    with db.transaction(engine) as conn:
        for i in range(60):
            sending.enqueue(conn, channel="sms", address=f"+5730000{i:05d}", kind="reply", text=f"mensaje {i}",
                           now=NOW)
    senders = [Sender(engine, {"sms": twilio_provider(twilio_fake, sms_from="+15005550006", max_per_second=1000)},
                      clock=lambda: NOW + timedelta(seconds=1)) for _ in range(4)]

    def drain(i: int) -> int:
        handled = 0
        while (done := senders[i].run_once(limit=10)) > 0:
            handled += done
        return handled

    assert sum(together(4, drain)) == 60
    assert sorted(m["Body"] for m in twilio_fake.sent) == sorted(f"mensaje {i}" for i in range(60))
    assert count(engine, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")) == 60


def test_a_dedupe_key_queued_from_several_threads_is_queued_once(engine: Engine) -> None:
    def queue(i: int) -> int | None:
        with db.transaction(engine) as conn:
            return sending.enqueue(conn, channel="telegram", address="99", text=f"hola {i}", kind="reminder",
                                  dedupe_key="wave:1:reminder:63302", now=NOW)

    ids = together(6, queue)
    assert len([i for i in ids if i is not None]) == 1
    assert count(engine, select(func.count()).select_from(OutboxMessage)) == 1
    with db.transaction(engine) as conn:  # and later, sequentially
        assert sending.enqueue(conn, channel="telegram", address="99", text="otra", dedupe_key="wave:1:reminder:63302",
                              now=NOW) is None


# ------------------------------------------------------------------ help desk and alerts


def test_tickets_from_several_threads_get_distinct_codes_and_one_alert_each(engine: Engine, der: Alerts) -> None:
    def create(i: int) -> ticketing.Created:
        with db.transaction(engine) as conn:
            return ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="whatsapp",
                                   need=f"necesidad {i}", themes=["plan_indicativo"], now=NOW, alerts=der)

    created = together(6, create)
    assert len({c.code for c in created}) == 6 and all(c.code.startswith("MDA-2026-") for c in created)
    with engine.connect() as conn:
        keys = sorted(conn.execute(select(Alert.dedupe_key)).scalars())
    assert keys == sorted(f"ticket_nuevo:{c.code}" for c in created)
    # Each alert queued once per destination.
    assert count(engine, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "alert")) == 12

    # The same alert raised again, from several threads at once: nothing new.
    def again(_: int) -> None:
        with db.transaction(engine) as conn:
            der.ticket_created(conn, created[0].id, NOW + timedelta(hours=1))

    together(4, again)
    assert count(engine, select(func.count()).select_from(Alert)) == 6
    assert count(engine, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "alert")) == 12


def test_a_ticket_status_change_reaches_the_requester(service: ChatService, engine: Engine) -> None:
    chat = Chat(service)
    register(chat)
    with db.transaction(engine) as conn:
        contact_id = conn.execute(select(Contact.id)).scalar_one()
        created = ticketing.create(conn, entity_code="63302", region=None, contact_id=contact_id, channel="whatsapp",
                                  need="ayuda con el plan", themes=["plan_indicativo"], now=NOW, alerts=Alerts())
    with db.transaction(engine) as conn:
        ticketing.change(conn, created.code, actor="der", now=NOW + timedelta(hours=2), status="asignada",
                        note="Lo llamamos mañana")
    with engine.connect() as conn:
        texts = list(conn.execute(select(OutboxMessage.text).where(OutboxMessage.kind == "ticket")).scalars())
    assert any(created.code in t for t in texts)


# ------------------------------------------------------------------ waves


def test_a_wave_is_created_and_launched_once(service: ChatService, engine: Engine) -> None:
    from tests.support.data import contact_on

    for i, code in enumerate(("63302", "05001", "11001", "76001", "08001", "68001")):
        contact_on(engine, code, f"+57300000{i:04d}")
    with db.transaction(engine) as conn:
        wave = campaign.create(conn, campaign.Spec(period="2026-11", size=None), now=NOW)
    at = NOW  # 10:00 in Bogotá, a Tuesday: office hours
    together(3, lambda i: campaign.launch(engine, wave.id, now=at + timedelta(seconds=i)))  # launched thrice at once
    campaign.launch(engine, wave.id, now=at + timedelta(minutes=1))  # and again later
    invitations = count(engine, select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == "invitation"))
    assert invitations == 6  # nobody invited twice
    with engine.connect() as conn:
        assert campaign.progress(conn, wave.id)["progress"]["invited"] == 6
