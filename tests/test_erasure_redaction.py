"""Erasure reaches what the person typed: after BORRAR MIS DATOS, ``m360 contacts forget`` or the
retention sweep, their phone numbers, e-mail addresses and name are gone from the free text the
entity keeps — ticket needs, the DER's notes, alerts and the copies sent to the DER, interview
answers — while the rest of each text stays for the entity. Real chat turns on a real database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.alerting import Alerts, Destination
from bot.cli.root import main
from bot.helpdesk import ticketing
from bot.privacy import personal_data, redaction
from bot.service import ChatService
from surveys import db
from surveys.folding import fold
from surveys.models import Alert, Answer, AnswerCoding, OutboxMessage, Ticket, TicketEvent
from tests.support.conversation import INTERVIEW, Chat, start_interview

NEED = ("Soy Pedro Gómez, escríbame al 315 777 8899 o a pedro.gomez@genova.gov.co; necesitamos apoyo para "
        "armonizar el presupuesto con el plan indicativo")
# What must not survive anywhere, however it was written.
TRACES = re.compile(r"3157778899|315 777 8899|315-777-88-99|3001112233|pedro\.gomez@|pedro|gomez", re.IGNORECASE)


def register_as_pedro(chat: Chat) -> None:
    assert "Ley 1581" in chat.say("Hola")
    chat.say("si")
    assert "Génova (Quindío)" in chat.say("genova quindio")
    assert "nombre" in chat.say("sí")
    assert "cargo" in chat.say("pedro gomez")  # typed in lower case, without the accent
    assert "Quedó registrado" in chat.say("1")


def pedro_writes_everything(sessions: sessionmaker[Session]) -> Chat:
    der = Alerts(destinations=(Destination("telegram", "-100777"),))
    chat = Chat(ChatService(sessions, alerts=der), address="+573001112233", channel="whatsapp")
    register_as_pedro(chat)
    chat.say("2")
    chat.say(NEED)
    for text in ("si", "asistencia tecnica", "peticion general", "2", "puntual", "si"):
        chat.say(text)
    assert "¿Para el" in chat.say("antes del 15 de diciembre")  # the date is read back, then confirmed
    assert "¿La enviamos así?" in chat.say("sí")  # the summary, read back
    assert "Registramos" in chat.say("sí")
    chat.say("MENU")
    start_interview(chat)
    answers = {1: "Muy buena. La asesora me llamó al 3157778899 y Pedro Gómez quedó contento",
               18: "catastro, escriban a PEDRO.GOMEZ@genova.gov.co", 20: "mas visitas; atentamente Pedro"}
    for index, (text, _) in enumerate(INTERVIEW):
        chat.say(answers.get(index, text))
    engine = sessions.kw["bind"]
    with db.transaction(engine) as conn:
        code = conn.execute(select(Ticket.code).where(Ticket.source == "chat")).scalar_one()
        ticketing.change(conn, code, actor="der:luis", now=chat.now, note="Llamé a Pedro Gómez al 315 777 8899",
                        assignee="Marta")
    return chat


def kept_texts(sessions: sessionmaker[Session]) -> dict[str, list[Any]]:
    with sessions() as s:
        return {
            "answers": [(a.question, a.raw_text, a.value) for a in s.scalars(select(Answer))],
            "tickets": [(t.need, t.requested_by_date) for t in s.scalars(select(Ticket))],
            "notes": list(s.scalars(select(TicketEvent.note))),
            "alerts": [(a.title, a.detail, a.data) for a in s.scalars(select(Alert))],
            "outbox": [(o.text, o.payload)
                       for o in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))],
        }


def erase(how: str, chat: Chat, sessions: sessionmaker[Session], db_url: str,
          monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sessions.kw["bind"]
    with engine.connect() as conn:
        contact_id = conn.execute(select(Ticket.contact_id)).scalars().first()
    if how == "chat":
        chat.say("BORRAR MIS DATOS")
        assert "borramos sus datos personales" in chat.say("si")
    elif how == "command":
        monkeypatch.setenv("M360_DATABASE_URL", db_url)
        db.default_engine.cache_clear()
        result = CliRunner().invoke(main, ["contacts", "forget", "--id", str(contact_id), "--yes"])
        db.default_engine.cache_clear()
        assert result.exit_code == 0, result.output
    else:
        with db.transaction(engine) as conn:
            assert personal_data.purge_expired(conn, chat.now + timedelta(days=731), days=730) == [contact_id]


@pytest.mark.parametrize("how", ["chat", "command", "retention"])
def test_erasure_redacts_phones_emails_and_name_in_what_the_person_wrote(
        how: str, sessions: sessionmaker[Session], db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    chat = pedro_writes_everything(sessions)
    before = kept_texts(sessions)
    assert TRACES.search(fold(repr(before))), "the scenario must start with the identifiers present"
    erase(how, chat, sessions, db_url, monkeypatch)
    after = kept_texts(sessions)
    assert not TRACES.search(fold(repr(after))), TRACES.findall(fold(repr(after)))
    # The rest is the entity's and stays: the need, the deadline, the answers and their values.
    [(need, by_date)] = [t for t in after["tickets"] if t[0].startswith("Soy")]
    assert need == ("Soy [nombre], escríbame al [teléfono] o a [correo]; necesitamos apoyo para armonizar el "
                    "presupuesto con el plan indicativo")
    assert by_date == "2026-12-15"  # a date: nothing personal left in it
    answers = {q: (raw, value) for q, raw, value in after["answers"]}
    assert answers["valoracion_general"][1] == ("Muy buena. La asesora me llamó al [teléfono] y [nombre] quedó "
                                                "contento")
    assert answers["demanda_otro"][1] == "catastro, escriban a [correo]"
    assert answers["sugerencias"][1] == "mas visitas; atentamente [nombre]"
    assert answers["puntaje_general"] == before_answer(before, "puntaje_general")
    assert "asignada a Marta; Llamé a [nombre] al [teléfono]" in after["notes"]
    assert any("[teléfono]" in detail for _, detail, _ in after["alerts"])
    assert after["outbox"] and all("[teléfono]" in text for text, _ in after["outbox"] if "escríbame" in text)
    assert len(after["answers"]) == len(before["answers"]) and len(after["alerts"]) == len(before["alerts"])


def before_answer(texts: dict[str, list[Any]], question: str) -> tuple[Any, Any]:
    return next((raw, value) for q, raw, value in texts["answers"] if q == question)


def test_a_redacted_answer_keeps_its_reviewed_coding(sessions: sessionmaker[Session]) -> None:
    """Redaction is not a new answer: the coder does not code it afresh over a person's review."""
    chat = pedro_writes_everything(sessions)
    engine = sessions.kw["bind"]
    with db.transaction(engine) as conn:
        answer_id = conn.execute(select(Answer.id).where(Answer.question == "valoracion_general")).scalar_one()
        conn.execute(AnswerCoding.__table__.insert().values(
            answer_id=answer_id, codebook="valoracion", codes=["oportunidad"], predicted_codes=["oportunidad"],
            scores={}, confidence=0.9, coder_version="v", codebook_version="1", model_hash="h", status="confirmed",
            text_hash="old", coded_at=datetime(2026, 11, 10, tzinfo=UTC)))
    chat.say("borrar mis datos")
    chat.say("si")
    from analysis.coding import storage

    with engine.connect() as conn:
        value, raw = conn.execute(select(Answer.value, Answer.raw_text).where(Answer.id == answer_id)).one()
        coding = conn.execute(select(AnswerCoding.status, AnswerCoding.text_hash, AnswerCoding.codes)).one()
    assert coding == ("confirmed", storage.text_hash(storage.answer_text(value, raw)), ["oportunidad"])


@pytest.mark.parametrize(("written", "expected"), [
    ("soy pedro gomez y necesitamos ayuda con el PDT", "soy [nombre] y necesitamos ayuda con el PDT"),
    ("Me llamo María Paz, mi número es +57 300 123 4567", "Me llamo [nombre], mi número es [teléfono]"),
    ("mi nombre es Luz Dary Ortiz. Cel 3001234567", "mi nombre es [nombre]. Cel [teléfono]"),
    ("Llámenos al (601) 234 5678 o al 300.123.45.67", "Llámenos al [teléfono] o al [teléfono]"),
    ("Soy el secretario de planeación, escribir a planeacion@genova-quindio.gov.co",
     "Soy el secretario de planeación, escribir a [correo]"),
    ("acuerdos de paz y $1.500.000 para 2026 (código 63302)", "acuerdos de paz y $1.500.000 para 2026 (código 63302)"),
    ("Atentamente,\nAna Pérez\nSecretaria de Planeación", "Atentamente,\n[nombre]\nSecretaria de Planeación"),
    ("🙏 gracias, soy nueva en el cargo", "🙏 gracias, soy nueva en el cargo"),
])
def test_redaction_keeps_the_rest_of_the_text(written: str, expected: str) -> None:
    who = redaction.identifiers([written])
    assert redaction.redact(written, who) == expected
