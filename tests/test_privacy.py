"""Personal data (Ley 1581 de 2012): BORRAR MIS DATOS in the chat and over WhatsApp,
``m360 contacts forget`` and ``purge`` (retention), and numbers masked for the analyst role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.accounts import create_token
from bot.alerts.alerting import Alerts
from bot.cli.root import main
from bot.directory import contacts as contacts_module
from bot.helpdesk import ticketing
from bot.outbox import sending
from bot.privacy import personal_data
from bot.service import ChatService
from surveys import db
from surveys.models import Answer, Contact, Interview, MessageLog, OutboxMessage
from tests.support.channels import WhatsApp
from tests.support.conversation import INTERVIEW, Chat, register, start_interview
from webhooks.app import create_app

pytestmark = pytest.mark.usefixtures("no_internet")


def contacts(sessions: sessionmaker[Session]) -> list[Any]:
    with sessions() as s:
        return s.execute(select(Contact.id, Contact.address, Contact.name, Contact.cargo, Contact.entity_code,
                                Contact.state, Contact.opted_out, Contact.forgotten_at, Contact.consent_version)
                         .order_by(Contact.id)).all()


def logged(sessions: sessionmaker[Session], contact_id: int) -> list[str]:
    with sessions() as s:
        return list(s.scalars(select(MessageLog.text).where(MessageLog.contact_id == contact_id)
                              .order_by(MessageLog.id)))


def test_borrar_mis_datos_erases_the_person_and_keeps_the_entity_s_answers(
        sessions: sessionmaker[Session]) -> None:
    chat = Chat(ChatService(sessions), address="+573001112233", channel="whatsapp")
    register(chat)
    start_interview(chat)
    for text, _ in INTERVIEW[:3]:
        chat.say(text)
    with sessions() as s:
        stored = s.scalar(select(func.count()).select_from(Answer))
    assert "borremos sus datos personales" in chat.say("BORRAR MIS DATOS")
    assert [o.label for o in chat.last[-1].options] == ["Sí", "No"]
    assert "borramos sus datos personales" in chat.say("sí")

    [person] = contacts(sessions)
    assert person.address == f"borrado:{person.id}" and person.name is None and person.cargo is None
    assert not person.state.get("flow") and not person.state.get("interview_id")
    assert person.opted_out and person.forgotten_at is not None
    assert person.entity_code == "63302" and person.consent_version  # the entity and the consent's basis stay
    assert logged(sessions, person.id) == ["sí", chat.last[0].text]  # only the turn that erased
    with sessions() as s:  # what the entity answered is kept, for aggregates
        interview = s.execute(select(Interview.entity_code, Interview.contact_id)).one()
        assert interview == ("63302", person.id)
        assert s.scalar(select(func.count()).select_from(Answer)) == stored

    # The same number writing again is somebody new: consent first, nothing remembered.
    assert "Ley 1581" in chat.say("hola")
    assert [c.address for c in contacts(sessions)] == [f"borrado:{person.id}", "+573001112233"]


@pytest.mark.parametrize("yes", ["de una", "Sí, bórrelos", "hágale"])
def test_a_chat_yes_erases(sessions: sessionmaker[Session], yes: str) -> None:
    """One yes/no lexicon for the whole product: "de una" (Colombian "sure") is a yes here too."""
    chat = Chat(ChatService(sessions))
    register(chat)
    chat.say("BORRAR MIS DATOS")
    assert "borramos sus datos personales" in chat.say(yes)


def test_anything_but_yes_keeps_everything_and_the_interview_goes_on(sessions: sessionmaker[Session]) -> None:
    chat = Chat(ChatService(sessions))
    register(chat)
    start_interview(chat)
    chat.say(INTERVIEW[0][0])
    before = contacts(sessions)[0]
    chat.say("borrar mis datos")
    reply = chat.say("no")
    assert "no borramos nada" in reply and "¿Desea continuar?" in reply
    assert INTERVIEW[0][1] in chat.say("si")  # back at the question it stopped on
    after = contacts(sessions)[0]
    assert (after.address, after.name, after.forgotten_at) == (before.address, "Ana Pérez", None)


def test_a_person_who_opted_out_can_still_erase_their_data(sessions: sessionmaker[Session]) -> None:
    chat = Chat(ChatService(sessions))
    register(chat)
    chat.say("BAJA")
    assert "borremos" in chat.say("borrar mis datos")
    assert "borramos sus datos" in chat.say("si")
    assert contacts(sessions)[0].forgotten_at is not None


def test_erasing_cancels_pending_messages_and_blanks_sent_ones(sessions: sessionmaker[Session]) -> None:
    chat = Chat(ChatService(sessions), address="+573001112233", channel="whatsapp")
    register(chat)
    contact_id = contacts(sessions)[0].id
    engine = sessions.kw["bind"]
    with db.transaction(engine) as conn:
        pending = sending.enqueue(conn, channel="whatsapp", address="+573001112233", contact_id=contact_id,
                                 text="Recordatorio para Ana", kind="reminder")
    chat.say("borrar mis datos")
    chat.say("si")
    with sessions() as s:
        row = s.get(OutboxMessage, pending)
        assert row is not None
        assert (row.status, row.address, row.text) == ("failed", "borrado", "borrado")


def test_contacts_forget_and_purge_commands(db_url: str, sessions: sessionmaker[Session],
                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("M360_DATABASE_URL", db_url)
    db.default_engine.cache_clear()
    chat = Chat(ChatService(sessions), address="+573001112233", channel="whatsapp")
    register(chat)
    runner = CliRunner()
    result = runner.invoke(main, ["contacts", "forget", "--channel", "whatsapp", "--address", "300 111 2233",
                                  "--yes"])
    assert result.exit_code == 0, result.output
    assert "personal data erased" in result.output and contacts(sessions)[0].name is None
    again = runner.invoke(main, ["contacts", "forget", "--id", str(contacts(sessions)[0].id), "--yes"])
    assert again.exit_code == 0 and "already erased" in again.output
    assert runner.invoke(main, ["contacts", "forget", "--id", "999", "--yes"]).exit_code != 0

    recent = Chat(ChatService(sessions), address="+573009998877", channel="whatsapp")
    register(recent)
    purge = runner.invoke(main, ["contacts", "purge", "--days", "730"])
    assert purge.exit_code == 0 and "0 contact(s) erased" in purge.output  # Chat's clock: November 2026
    db.default_engine.cache_clear()


def test_every_consent_is_kept_with_its_notice_and_outlives_an_erasure(
        db_url: str, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    chat = Chat(ChatService(sessions), address="+573001112233", channel="whatsapp")
    register(chat)  # "si" to the notice, in the chat
    engine = sessions.kw["bind"]
    with db.transaction(engine) as conn:  # then the DER's directory says the authorisation was withdrawn
        report = contacts_module.import_rows(conn, [{"entidad_codigo": "63302", "canal": "whatsapp",
                                                     "direccion": "+573001112233", "consentimiento": "no"}],
                                             source="directorio-2026-12.csv")
        assert report.updated == 1
        contacts_module.import_rows(conn, [{"entidad_codigo": "63302", "canal": "whatsapp",  # the same again
                                            "direccion": "+573001112233", "consentimiento": "no"}])
    [person] = contacts(sessions)
    with engine.connect() as conn:
        first, second = personal_data.consents(conn, person.id)
    assert (first.given, first.source) == (True, "whatsapp") and "Ley 1581" in first.text
    assert first.version and first.version != "directorio"  # the registro questionnaire's version
    assert person.consent_version == "directorio"  # the contact row holds only the latest
    assert (second.given, second.version, second.source) == (False, "directorio", "directorio:directorio-2026-12.csv")

    monkeypatch.setenv("M360_DATABASE_URL", db_url)
    db.default_engine.cache_clear()
    runner = CliRunner()
    assert runner.invoke(main, ["contacts", "forget", "--id", str(person.id), "--yes"]).exit_code == 0
    shown = runner.invoke(main, ["contacts", "consents", "--id", str(person.id)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert len(lines) == 2 and "given" in lines[0] and "via whatsapp" in lines[0]
    assert "declined" in lines[1] and "version directorio" in lines[1]
    db.default_engine.cache_clear()


def test_retention_forgets_contacts_silent_for_longer_than_the_period(sessions: sessionmaker[Session]) -> None:
    chat = Chat(ChatService(sessions))
    register(chat)  # last message on 10 November 2026 (the Chat's clock)
    engine = sessions.kw["bind"]
    with db.transaction(engine) as conn:
        assert personal_data.purge_expired(conn, datetime(2027, 11, 1, tzinfo=UTC), days=730) == []
        assert personal_data.purge_expired(conn, datetime(2030, 1, 1, tzinfo=UTC), days=0) == []  # off
        [erased] = personal_data.purge_expired(conn, datetime(2028, 11, 11, tzinfo=UTC), days=730)
        assert personal_data.purge_expired(conn, datetime(2028, 11, 12, tzinfo=UTC), days=730) == []  # once
    assert contacts(sessions)[0].id == erased and contacts(sessions)[0].forgotten_at is not None


@pytest.mark.parametrize(("address", "shown"), [
    ("+573001234567", "+57 300 ••• ••67"),
    ("whatsapp:+573001234567", "whatsapp:+57 300 ••• ••67"),
    ("+14155238886", "+14•••••••86"),
    ("987654321", "98•••••21"),
    ("123", "•••"),
    ("borrado:7", "borrado:7"),
    (None, None),
])
def test_numbers_are_masked(address: str | None, shown: str | None) -> None:
    assert personal_data.mask_address(address) == shown


def test_ticket_requester_number_is_masked_for_analysts_not_for_the_der(db_url: str) -> None:
    app: Flask = create_app(db_url)
    engine = app.extensions["m360.sessions"].kw["bind"]
    now = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
    with db.transaction(engine) as conn:
        contact_id = conn.execute(Contact.__table__.insert().values(
            channel="whatsapp", address="+573001234567", name="Ana Pérez", cargo="secretario", state={},
            state_version=0, opted_out=False, created_at=now)).inserted_primary_key[0]
        code = ticketing.create(conn, entity_code="63302", region=None, contact_id=contact_id, channel="whatsapp",
                               need="ayuda con el plan", themes=["plan_indicativo"], now=now,
                               alerts=Alerts(destinations=())).code
        tokens = {role: create_token(conn, role=role, name=role) for role in ("analyst", "der", "admin")}
    client = app.test_client()

    def requester(role: str) -> dict[str, Any]:
        response = client.get(f"/api/v1/help-requests/{code}", headers={"Authorization": f"Bearer {tokens[role]}"})
        assert response.status_code == 200
        listed = client.get("/api/v1/help-requests", headers={"Authorization": f"Bearer {tokens[role]}"})
        assert listed.json["items"][0]["requester"] == response.json["requester"]
        return response.json["requester"]

    assert requester("analyst") == {"name": "Ana Pérez", "cargo": "secretario", "channel": "whatsapp",
                                    "address": "+57 300 ••• ••67"}
    assert requester("der")["address"] == requester("admin")["address"] == "+573001234567"
    with db.transaction(engine) as conn:
        personal_data.forget(conn, contact_id, now + timedelta(days=1))
    assert requester("der") == {"erased": True}  # the ticket stays the entity's


def test_borrar_mis_datos_over_whatsapp(db_url: str, sessions: sessionmaker[Session]) -> None:
    app = create_app(db_url, TWILIO_AUTH_TOKEN="twilio-test-auth-token")
    phone = WhatsApp(app.test_client())
    phone.say("Hola")
    assert "borremos" in phone.say("Borrar mis datos")
    assert "borramos sus datos" in phone.say("Sí")
    assert contacts(sessions)[0].address.startswith("borrado:")
