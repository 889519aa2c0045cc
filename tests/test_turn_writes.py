"""The per-turn database path. The writes that end a turn (surveys/turn_writes.py): one statement
on PostgreSQL, separate statements on SQLite, and the same rows either way — the same interview
through the chat service leaves the same message log (replies in the order sent), answers and
interview on both; a stale contact or a redelivered message fails the turn and writes nothing.
Statements run on the driver's cursor (surveys/db.py DirectStatement) answer as Core does, raise
SQLAlchemy's errors, and a lost connection is replaced."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, bindparam, func, select, text
from sqlalchemy.exc import DataError, IntegrityError, NoResultFound, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from bot.service import ChatService
from surveys import db, turn_writes
from surveys.models import Answer, Contact, Interview, MessageLog
from tests.support import pgserver
from tests.support.conversation import INTERVIEW, Chat, register, start_interview

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "postgresql" and pgserver.unavailable():
        pytest.skip(f"PostgreSQL not available: {pgserver.unavailable()}")
    url = request.getfixturevalue("pg_db_url" if request.param == "postgresql" else "db_url")
    engine = db.make_engine(url)
    yield engine
    engine.dispose()


def transcript(engine: Engine) -> dict[str, Any]:
    """What the turns left: the log in id order, the answers, the interview; no ids or times."""
    with engine.connect() as conn:
        log = conn.execute(select(MessageLog.direction, MessageLog.external_id, MessageLog.text, MessageLog.options,
                                  MessageLog.in_reply_to, MessageLog.interview_id.is_(None))
                           .order_by(MessageLog.id)).all()
        answers = dict(conn.execute(select(Answer.question, Answer.value)).all())
        raw = dict(conn.execute(select(Answer.question, Answer.raw_text)).all())
        interviews = conn.execute(select(Interview.status, Interview.entity_code, Interview.period)).all()
        contact = conn.execute(select(Contact.state_version, Contact.name, Contact.cargo, Contact.consent)).all()
    return {"log": [tuple(row) for row in log], "answers": answers, "raw": raw,
            "interviews": [tuple(row) for row in interviews], "contact": [tuple(row) for row in contact]}


class WhatsAppChat(Chat):
    """A WhatsApp contact: every message has its MessageSid (the log's unique key)."""

    def __init__(self, engine: Engine, address: str):
        super().__init__(ChatService(db.session_factory(engine)), address=address, channel="whatsapp")
        self.sent = 0

    def say(self, text: str, external_id: str | None = None) -> str:
        self.sent += 1
        return super().say(text, external_id or f"SM{self.address[-4:]}{self.sent:04d}")


def run_interview(engine: Engine) -> dict[str, Any]:
    chat = WhatsAppChat(engine, "+573001112233")
    register(chat)
    start_interview(chat)
    chat.say("atras")  # an answer cleared and asked again
    for reply, _ in INTERVIEW:
        chat.say(reply)
    return transcript(engine)


def test_a_whole_interview_leaves_the_same_rows_on_both_databases(engine: Engine, template_db: Path,
                                                                   tmp_path: Path) -> None:
    reference = tmp_path / "reference.sqlite3"  # SQLite, the writes as separate statements
    shutil.copyfile(template_db, reference)
    other = db.make_engine(f"sqlite:///{reference}")
    try:
        expected = run_interview(other)
    finally:
        other.dispose()
    got = run_interview(engine)
    assert got == expected
    assert got["interviews"] == [("completa", "63302", "2026-11")] and len(got["answers"]) >= 20
    replies = [row for row in got["log"] if row[0] == "out"]
    assert len(replies) > len(got["log"]) // 2  # several replies to some messages, each in the order sent


def prepared_turn(engine: Engine) -> tuple[int, int, int]:
    """A contact in an interview (via the chat service); its id, state_version and interview id."""
    chat = WhatsAppChat(engine, "+573009998877")
    register(chat)
    start_interview(chat)
    with engine.connect() as conn:
        contact_id, version = conn.execute(select(Contact.id, Contact.state_version)).one()
        interview_id = conn.execute(select(Interview.id)).scalar_one()
    return contact_id, version, interview_id


def writes_for(contact_id: int, version: int, interview_id: int, sid: str) -> turn_writes.TurnWrites:
    writes = turn_writes.TurnWrites(contact_id, version, "whatsapp", NOW, interview_id=interview_id)
    writes.contact = {"state": {"mode": "interview"}, "state_version": version + 1, "last_inbound_at": NOW}
    writes.interview = {"last_activity_at": NOW}
    writes.answer(interview_id, "puntaje_general", 2, "dos", "chat")
    writes.answer(interview_id, "puntaje_general", 4, "mejor cuatro", "chat")  # the last one counts
    writes.log = [
        {"direction": "in", "external_id": sid, "text": "mejor cuatro", "options": None, "in_reply_to": None},
        {"direction": "out", "external_id": None, "text": "Anotado", "options": [["Sí", "si"]], "in_reply_to": sid},
        {"direction": "out", "external_id": None, "text": "Siguiente", "options": None, "in_reply_to": sid},
    ]
    return writes


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_the_writes_land_with_the_last_answer_per_question(engine: Engine) -> None:
    contact_id, version, interview_id = prepared_turn(engine)
    logged = count(engine, MessageLog)
    with db.transaction(engine) as conn:
        turn_writes.write(conn, writes_for(contact_id, version, interview_id, "SMnew"))
    with engine.connect() as conn:
        assert conn.execute(select(Answer.value, Answer.raw_text).where(Answer.question == "puntaje_general")
                            ).one() == (4, "mejor cuatro")
        assert conn.execute(select(Contact.state, Contact.state_version)).one() == ({"mode": "interview"},
                                                                                    version + 1)
        rows = conn.execute(select(MessageLog.text, MessageLog.options, MessageLog.in_reply_to,
                                   MessageLog.interview_id).order_by(MessageLog.id.desc()).limit(3)).all()
    assert [tuple(r) for r in reversed(rows)] == [("mejor cuatro", None, None, interview_id),
                                                  ("Anotado", [["Sí", "si"]], "SMnew", interview_id),
                                                  ("Siguiente", None, "SMnew", interview_id)]
    assert count(engine, MessageLog) == logged + 3


def test_a_stale_contact_or_a_redelivery_writes_nothing(engine: Engine) -> None:
    contact_id, version, interview_id = prepared_turn(engine)
    before = transcript(engine)
    with pytest.raises(StaleDataError), db.transaction(engine) as conn:
        turn_writes.write(conn, writes_for(contact_id, version - 1, interview_id, "SMstale"))
    assert transcript(engine) == before
    with engine.connect() as conn:
        seen = conn.execute(select(MessageLog.external_id).where(MessageLog.direction == "in")
                            .order_by(MessageLog.id.desc())).first()
    with pytest.raises(IntegrityError), db.transaction(engine) as conn:
        turn_writes.write(conn, writes_for(contact_id, version, interview_id, seen[0]))
    assert transcript(engine) == before


@pytest.fixture
def pg_engine(pg_db_url: str) -> Iterator[Engine]:
    engine = db.make_engine(pg_db_url)
    yield engine
    engine.dispose()


CONTACT_BY_ADDRESS = db.DirectStatement(select(Contact.__table__.c.id, Contact.__table__.c.state)
                                        .where(Contact.__table__.c.address == bindparam("b_address")))


def test_direct_statements_answer_like_core_on_both_databases(engine: Engine) -> None:
    with db.transaction(engine) as conn:
        conn.execute(Contact.__table__.insert(), dict(channel="whatsapp", address="+573001110000",
                                                      state={"mode": "menu"}, state_version=0, opted_out=False,
                                                      created_at=NOW))
        found = CONTACT_BY_ADDRESS.execute(conn, {"b_address": "+573001110000"}).one()
        assert found.state == {"mode": "menu"} and found.id > 0
        assert CONTACT_BY_ADDRESS.execute(conn, {"b_address": "+570000000000"}).one_or_none() is None
        with pytest.raises(NoResultFound):
            CONTACT_BY_ADDRESS.execute(conn, {"b_address": "+570000000000"}).one()


def test_direct_statements_read_many_rows_and_serve_a_session_too(engine: Engine) -> None:
    """first() and iteration as Core's result gives them; given an ORM session it runs the statement
    through the session (the alerts and the tickets are called with either)."""
    statement = select(Contact.__table__.c.address).where(Contact.__table__.c.channel == bindparam("b_channel")) \
        .order_by(Contact.__table__.c.address)
    direct = db.DirectStatement(statement)
    with db.transaction(engine) as conn:
        conn.execute(Contact.__table__.insert(), [
            dict(channel="sms", address=f"+5730011100{i:02d}", state={}, state_version=0, opted_out=False,
                 created_at=NOW) for i in (3, 1, 2)])
        core = conn.execute(statement, {"b_channel": "sms"}).all()
        assert [tuple(row) for row in direct.execute(conn, {"b_channel": "sms"})] == [tuple(row) for row in core]
        assert direct.execute(conn, {"b_channel": "sms"}).first().address == core[0].address == "+573001110001"
        assert direct.execute(conn, {"b_channel": "telegram"}).first() is None
    with db.session_factory(engine)() as session:
        assert [row.address for row in direct.execute(session, {"b_channel": "sms"})] == [r.address for r in core]


CONTACT_ROW = select(*(Contact.__table__.c[name] for name in ("id", "state", "created_at", "opted_out"))).where(
    Contact.__table__.c.address == bindparam("b_address"))
SET_VERSION = db.DirectStatement(Contact.__table__.update().where(Contact.__table__.c.address == bindparam("b_address"))
                                 .values(state_version=bindparam("b_version")))


def test_direct_statements_convert_columns_and_join_the_transaction_as_core_does(engine: Engine) -> None:
    """Dates, booleans and JSON come back as Core gives them (SQLite stores them as text and
    integers); a write run first on a plain connection is inside its transaction: rolled back, gone."""
    with db.transaction(engine) as conn:
        conn.execute(Contact.__table__.insert(), dict(channel="telegram", address="4242", state={"mode": "menu"},
                                                      state_version=0, opted_out=True, created_at=NOW))
        assert db.DirectStatement(CONTACT_ROW).execute(conn, {"b_address": "4242"}).one() == \
            conn.execute(CONTACT_ROW, {"b_address": "4242"}).one()
    with engine.connect() as conn:
        assert SET_VERSION.execute(conn, {"b_address": "4242", "b_version": 7}).rowcount == 1
        assert conn.in_transaction()
        conn.rollback()
    with engine.connect() as conn:
        assert conn.execute(select(Contact.state_version).where(Contact.address == "4242")).scalar_one() == 0


def test_direct_statement_errors_are_sqlalchemys_and_a_lost_connection_is_replaced(pg_engine: Engine) -> None:
    with db.transaction(pg_engine) as conn:
        conn.execute(Contact.__table__.insert(), dict(channel="whatsapp", address="+573001110001", state={},
                                                      state_version=0, opted_out=False, created_at=NOW))
    with pytest.raises(DataError), db.transaction(pg_engine) as conn:  # PostgreSQL text holds no NUL
        CONTACT_BY_ADDRESS.execute(conn, {"b_address": "+57\x00"})
    with pytest.raises(OperationalError) as lost, db.transaction(pg_engine) as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with pg_engine.connect() as admin:  # the server ends this session, as a restart would
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        CONTACT_BY_ADDRESS.execute(conn, {"b_address": "+573001110001"})
    assert lost.value.connection_invalidated
    with db.transaction(pg_engine) as conn:  # the pool gives a new connection
        assert CONTACT_BY_ADDRESS.execute(conn, {"b_address": "+573001110001"}).one().state == {}


def test_json_columns_keep_what_the_standard_library_kept(engine: Engine) -> None:
    """orjson writes and reads the JSON columns (surveys/db.py): Spanish text, emoji, nested lists,
    numbers and integer keys come back as json.dumps/json.loads gave them."""
    value = {"texto": "¿Cómo le fue? Muy bien 👍 — gracias", "puntajes": {1: 4, 2: [5, 3.5]}, "vacío": None,
             "lista": [["Sí", "si"], ["No", "no"]], "grande": 2**53}
    with db.transaction(engine) as conn:
        conn.execute(Contact.__table__.insert(), dict(channel="whatsapp", address="+573001112299", state=value,
                                                      state_version=0, opted_out=False, created_at=NOW))
    with engine.connect() as conn:
        stored = conn.execute(select(Contact.state).where(Contact.address == "+573001112299")).scalar_one()
    assert stored == json.loads(json.dumps(value))  # integer keys become strings, as before
    assert db.json_loads("4") == 4 and db.json_loads(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(TypeError):
        db.json_loads(4)  # SQLite hands back a JSON number as a number: SQLAlchemy expects TypeError
