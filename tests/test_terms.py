"""Terms by request type and the DER's due dates, and the periodic follow-up with requesters, on a
real SQLite database: the chat shows each type's term (documentos 10, general 15, consulta 30
business days, or the DER's own file), the DER sets another due date with its reason through the
API, the panel and the CLI (an event, told to the requester), and a requester with an open ticket
hears from the bot at the configured cadence, never in the middle of something."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.accounts import create_user
from bot.alerts.alerting import Alerts
from bot.helpdesk import followup, terms, ticketing
from bot.service import ChatService
from bot.waves import campaign
from surveys import db
from surveys.models import Contact, OutboxMessage, Ticket, TicketEvent
from tests.support.conversation import Chat, register, start_interview
from tests.support.panel import PASSWORD, csrf, signed_in
from tests.support.processes import m360
from webhooks.app import create_app

FRIDAY = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # 9:00 in Bogotá; 8 and 25 December are holidays
ADMIN = "terms-admin"


@pytest.fixture(autouse=True)
def fresh_terms() -> Iterator[None]:
    terms.load.cache_clear()
    yield
    terms.load.cache_clear()


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


def intake(chat: Chat, kind: str) -> str:
    """The whole intake, answering the request type with ``kind`` as people write it."""
    chat.say("2")
    chat.say("necesitamos copia del concepto sobre el plan indicativo")
    chat.say("si")
    assert "tipo de petición" in chat.say("informacion")
    assert "fase del ciclo" in chat.say(kind)
    chat.say("planeacion")
    chat.say("una sola vez")
    assert "¿La enviamos así?" in chat.say("no")  # the summary, read back
    return chat.say("si")


def ticket(engine: Engine) -> Ticket:
    with Session(engine) as s:
        return s.scalars(select(Ticket).order_by(Ticket.id.desc())).first()


@pytest.mark.parametrize(("kind", "request_type", "days", "due", "shown"), [
    ("documentos", "documentos", 10, "2026-12-21", "21 de diciembre de 2026"),
    ("1", "general", 15, "2026-12-29", "29 de diciembre de 2026"),
    ("es una consulta", "consulta", 30, "2027-01-21", "21 de enero de 2027"),
    ("Consulta (un concepto técnico)", "consulta", 30, "2027-01-21", "21 de enero de 2027"),
])
def test_each_request_type_has_its_term_and_the_requester_is_told(chat: Chat, engine: Engine, kind: str,
                                                                  request_type: str, days: int, due: str,
                                                                  shown: str) -> None:
    register(chat)
    chat.now = FRIDAY
    done = intake(chat, kind)
    assert f"el plazo es de {days} días hábiles: le responderemos a más tardar el {shown}" in done
    made = ticket(engine)
    assert (made.request_type, made.due_date, made.continuity) == (request_type, due, "puntual")


def test_the_der_configures_its_own_terms(chat: Chat, engine: Engine, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "plazos.yaml"
    own.write_text("terms:\n  general: {days: 5, label: petición general}\n  documentos: {days: 3, label: documentos}\n"
                   "  consulta: {days: 20, label: consulta}\ndefault: general\nfollowup: {every_business_days: 2, "
                   "max: 1}\n", encoding="utf-8")
    monkeypatch.setenv("M360_TERMS_CONFIG", str(own))
    register(chat)
    chat.now = FRIDAY
    done = intake(chat, "2")
    assert "el plazo es de 3 días hábiles: le responderemos a más tardar el 10 de diciembre de 2026" in done
    assert terms.load().followup_days == 2
    for wrong, message in (("terms: {}", "expected a mapping"), ("terms:\n  general: {days: 0}", "1–365"),
                           ("terms:\n  general: 15\ndefault: rapida", "default")):
        with pytest.raises(ValueError, match=message):
            terms.parse(__import__("yaml").safe_load(wrong))
    assert terms.parse({"terms": {"general": 15}}, env={"M360_TICKET_DEADLINE_DAYS": "12"}).get(None).days == 12


# ------------------------------------------------------------------ the DER sets a due date


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(db_url, providers={}, M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=lambda: FRIDAY, SECRET_KEY="terms")
    with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    yield app
    app.extensions["m360.sessions"].kw["bind"].dispose()


def chat_ticket(app: Flask) -> str:
    from tests.support.channels import WebChat

    chat = WebChat(app.test_client(), session="plazos-0000001")
    register(chat)  # type: ignore[arg-type]
    for text in ("2", "necesito ayuda con el plan indicativo", "si", "1", "1", "1", "1", "no", "si"):
        chat.say(text)
    with app.extensions["m360.sessions"].kw["bind"].connect() as conn:
        return str(conn.execute(select(Ticket.code)).scalar_one())


def patch(app: Flask, code: str, body: dict[str, Any]) -> Any:
    return app.test_client().patch(f"/api/v1/help-requests/{code}", json=body,
                                   headers={"Authorization": f"Bearer {ADMIN}"})


def test_the_der_sets_a_due_date_with_its_reason(app: Flask, db_url: str, tmp_path: Path) -> None:
    code = chat_ticket(app)
    engine = app.extensions["m360.sessions"].kw["bind"]
    assert patch(app, code, {"due_date": "2027-01-15"}).get_json()["error"].startswith("a new due date needs its")
    for wrong, status, message in (("2026-12-25", 400, "Navidad"), ("2026-12-03", 400, "before the request"),
                                   ("15/01/2027", 400, "YYYY-MM-DD"), ("2027-01-16", 400, "not a business day")):
        answer = patch(app, code, {"due_date": wrong, "due_reason": "más tiempo"})
        assert answer.status_code == status and message in answer.get_json()["error"], wrong
    assert patch(app, code, {"due_reason": "sin fecha"}).status_code == 400
    moved = patch(app, code, {"due_date": "2027-01-15", "due_reason": "Esperamos el concepto de la Dirección técnica"})
    body = moved.get_json()
    assert moved.status_code == 200 and body["due_date"] == "2027-01-15" and body["overdue"] is False
    assert body["events"][-1]["note"] == ("plazo: 2026-12-29 → 2027-01-15. Motivo: Esperamos el concepto de la "
                                          "Dirección técnica") and body["events"][-1]["actor"] == "admin"
    with Session(engine) as s:
        told = s.scalars(select(OutboxMessage.text).where(OutboxMessage.kind == "ticket")).all()
    assert any("le responderemos a más tardar el 15 de enero de 2027. Motivo: Esperamos el concepto" in t for t in told)

    # The panel's form and the CLI do the same; a closed ticket's term no longer runs.
    der = signed_in(app, "luis")
    page = der.get(f"/panel/solicitudes/{code}")
    assert "Cambiar el plazo" in page.get_data(as_text=True)
    saved = der.post(f"/panel/solicitudes/{code}", data={"due_date": "2027-01-20", "due_reason": "Lo pidió la entidad",
                                                         "csrf": csrf(page.data)}, follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert "Cambio guardado" in text and "2027-01-15 → 2027-01-20. Motivo: Lo pidió la entidad" in text
    refused = der.post(f"/panel/solicitudes/{code}", data={"due_date": "2027-01-01", "due_reason": "x",
                                                           "csrf": csrf(page.data)}, follow_redirects=True)
    assert "No se guardó" in refused.get_data(as_text=True) and "Año Nuevo" in refused.get_data(as_text=True)
    out = m360("tickets", "update", code, "--due", "2027-01-22", "--reason", "Reunión aplazada", url=db_url,
               cwd=tmp_path).stdout
    assert f"{code}: Nueva, vence 22 de enero de 2027" in out
    assert "needs its reason" in m360("tickets", "update", code, "--due", "2027-01-25", url=db_url, cwd=tmp_path,
                                      ok=False).stderr
    patch(app, code, {"status": "cerrada"})
    assert patch(app, code, {"due_date": "2027-01-25", "due_reason": "x"}).status_code == 409


# ------------------------------------------------------------------ follow-ups


def test_a_requester_with_an_open_ticket_hears_from_the_bot_at_the_configured_cadence(
        sessions: sessionmaker[Session], engine: Engine) -> None:
    chat = Chat(ChatService(sessions, alerts=Alerts(destinations=())))
    register(chat)
    chat.now = FRIDAY
    intake(chat, "1")
    code = ticket(engine).code
    hours = campaign.OfficeHours()

    def run(when: datetime) -> int:
        with db.transaction(engine) as conn:
            return followup.send_due(conn, when, hours)

    four_days = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)  # Friday 11: 4 business days (the 8th is a holiday)
    assert run(four_days) == 0
    five_days = four_days + timedelta(days=3)  # Monday 14: 5 business days
    assert run(five_days.replace(hour=23)) == 0  # 18:00 in Bogotá: after office hours
    assert run(five_days) == 1
    assert run(five_days + timedelta(hours=1)) == 0  # once per quiet spell
    with Session(engine) as s:
        sent = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "followup")).one()
        made = s.scalars(select(Ticket)).one()
        note = s.scalars(select(TicketEvent.note).order_by(TicketEvent.id.desc())).first()
    assert f"Seguimiento de su solicitud *{code}*" in sent.text and "nueva" in sent.text
    assert "a más tardar el 29 de diciembre de 2026" in sent.text and sent.options == [["Ver estado", f"estado {code}"]]
    assert (made.followups, note) == (1, "seguimiento 1 enviado al solicitante")
    chat.now = five_days + timedelta(minutes=5)
    assert f"*{code}*" in chat.say(f"estado {code}") and "Estado: nueva" in chat.last[0].text  # the button's reply

    # News from the DER restarts the count; in the middle of an interview, the bot waits.
    with db.transaction(engine) as conn:
        ticketing.change(conn, code, actor="der", now=five_days + timedelta(days=2), note="La llamamos mañana")
    next_due = datetime(2026, 12, 23, 15, 0, tzinfo=UTC)  # 5 business days after Wednesday 16
    assert run(next_due - timedelta(days=1)) == 0
    chat.now = next_due - timedelta(hours=1)
    start_interview(chat)
    assert run(next_due) == 0
    chat.say("PAUSA")  # a paused interview is not in the way
    assert run(next_due + timedelta(minutes=1)) == 1
    # Opted out, or asked by phone: never.
    with db.transaction(engine) as conn:
        conn.execute(update(Contact).values(opted_out=True))
    assert run(next_due + timedelta(days=14)) == 0
    with db.transaction(engine) as conn:
        ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="telefono", need="x",
                        themes=["otro"], now=FRIDAY, alerts=Alerts(destinations=()))
    assert run(next_due + timedelta(days=14)) == 0
    assert date.fromisoformat(ticket(engine).due_date) == date(2026, 12, 29)
