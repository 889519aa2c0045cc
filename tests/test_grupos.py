"""Other grupos de valor and requests that do not come through the chat, on a real SQLite database:
an esquema asociativo registers in the chat ("OTRA"), its request waits until the DER validates the
entity (panel, CLI) and then starts its term, or is closed when the DER rejects it; the DER registers
phone and e-mail requests through ``POST /api/v1/help-requests`` and the panel's form, with their
channel of origin."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.accounts import create_token, create_user
from bot.directory import staff
from surveys import db
from surveys.models import Alert, Contact, Entity, OutboxMessage, Ticket
from tests.support.channels import WebChat
from tests.support.clock import Clock
from tests.support.panel import PASSWORD, csrf, signed_in
from tests.support.processes import m360
from webhooks.app import create_app

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # Tuesday, 10:00 in Bogotá
VALIDATED = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)  # a week later
ADMIN = "grupos-admin"

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Flask]:
    app = create_app(db_url, providers={}, M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=clock, SECRET_KEY="grupos")
    with db.transaction(engine(app)) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
        create_user(conn, username="ana", name="Ana", role="analyst", password=PASSWORD)
    yield app
    engine(app).dispose()


def engine(app: Flask) -> Engine:
    return app.extensions["m360.sessions"].kw["bind"]


def register_other(chat: WebChat, escape: str = "OTRA", kind: str = "1",
                   name: str = "Asociación de Municipios del Sur del Huila", seat: str = "huila") -> str:
    assert "Ley 1581" in chat.say("hola")
    asked = chat.say("si")
    assert "¿Es otra organización (esquema asociativo, entidad nacional…)? Escriba OTRA." in asked
    assert "¿Qué tipo de entidad es?" in chat.say(escape)
    assert "nombre de su entidad" in chat.say(kind)
    assert "sede" in chat.say(name)
    assert "nombre" in chat.say(seat)
    assert "cargo" in chat.say("Rosa")
    return chat.say("otro")


def ask(chat: WebChat, need: str = "necesitamos capacitacion en formulacion de proyectos para regalias") -> str:
    for text in ("2", need, "si", "2", "1", "1", "2", "no"):
        chat.say(text)
    return chat.say("si")  # to the summary


def tickets(app: Flask) -> list[Any]:
    with Session(engine(app)) as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.id)))


# ------------------------------------------------------------------ through the chat, validated by the DER


def test_an_esquema_asociativo_registers_and_its_request_waits_for_the_der(app: Flask, clock: Clock) -> None:
    client = app.test_client()
    chat = WebChat(client, session="grupo-huila-0001")
    done = register_other(chat)
    assert "Registramos a *Asociación de Municipios del Sur del Huila*" in done and "validará" in done
    assert "1. Responder el Monitoreo 360" in done
    with Session(engine(app)) as s:
        entity = s.scalars(select(Entity).where(Entity.kind == "otro")).one()
        contact = s.scalars(select(Contact).where(Contact.address == chat.session)).one()
    assert (entity.code, entity.group_kind, entity.validation) == ("X0001", "esquema_asociativo", "pendiente")
    assert (entity.dept_code, entity.dept_name, entity.region) == ("41", "Huila", "Central")
    assert contact.entity_code == "X0001" and contact.name == "Rosa"

    waiting = ask(chat)
    assert "Primero el DNP validará los datos de su entidad" in waiting and "15 días hábiles" in waiting
    [held] = tickets(app)
    assert held.on_hold and held.due_date is None and held.themes == ["proyectos"]
    with Session(engine(app)) as s:
        raised = [a.rule for a in s.scalars(select(Alert))]
    assert raised == ["entidad_por_validar"]  # the DER must validate it; the ticket does not count yet

    # A second person of the same association joins the same entity.
    other = WebChat(client, session="grupo-huila-0002")
    register_other(other, escape="otra entidad", kind="esquema asociativo",
                   name="asociacion de municipios del sur del huila", seat="Neiva")
    with Session(engine(app)) as s:
        assert s.scalars(select(Contact.entity_code).where(Contact.address == other.session)).one() == "X0001"

    der = signed_in(app, "luis")
    page = der.get("/panel/entidades")
    text = page.get_data(as_text=True)
    assert "Asociación de Municipios del Sur del Huila" in text and held.code in text and "Rosa" in text
    # A simulator conversation (test data): its ticket shows with the test data included.
    assert held.code in der.get("/panel/solicitudes?por_validar=1&pruebas=1").get_data(as_text=True)
    analyst = signed_in(app, "ana")
    assert analyst.post("/panel/entidades", data={"code": "X0001", "action": "validar",
                                                  "csrf": csrf(analyst.get("/panel/entidades").data)}
                        ).status_code == 403
    clock.now = VALIDATED
    der = signed_in(app, "luis")  # days later: yesterday's session has expired
    page = der.get("/panel/entidades")
    validated = der.post("/panel/entidades", data={"code": "X0001", "action": "validar",
                                                   "name": "Asociación de Municipios del Sur del Huila (AMSH)",
                                                   "group": "esquema_asociativo", "department": "41",
                                                   "csrf": csrf(page.data)}, follow_redirects=True)
    assert "X0001 validada: 1 solicitud(es) empiezan a correr su plazo hoy." in validated.get_data(as_text=True)
    [released] = tickets(app)
    assert not released.on_hold and released.due_date == "2026-12-09"  # 15 business days from the validation
    with Session(engine(app)) as s:
        assert "ticket_nuevo" in [a.rule for a in s.scalars(select(Alert))]
        told = s.scalars(select(OutboxMessage.text).where(OutboxMessage.address == chat.session)).all()
        assert s.get(Entity, "X0001").name == "Asociación de Municipios del Sur del Huila (AMSH)"
    assert any("Validamos los datos de *Asociación de Municipios del Sur del Huila (AMSH) (Huila)*" in t
               and "a más tardar el 9 de diciembre de 2026" in t for t in told)
    assert "No hay entidades por validar" in der.get("/panel/entidades").get_data(as_text=True)


def test_a_rejected_registration_closes_its_requests_and_asks_again(app: Flask, db_url: str,
                                                                    tmp_path: Path) -> None:
    chat = WebChat(app.test_client(), session="grupo-falso-0001")
    register_other(chat, escape="ninguna", kind="5", name="Fundación Inventada", seat="nacional")
    with Session(engine(app)) as s:
        entity = s.scalars(select(Entity).where(Entity.kind == "otro")).one()
    assert (entity.dept_code, entity.dept_name, entity.region) == ("00", "Nacional", None)
    ask(chat)
    assert "Fundación Inventada" in m360("entities", "pending", url=db_url, cwd=tmp_path).stdout
    out = m360("entities", "reject", entity.code, "--note", "No es una organización registrada.", url=db_url,
               cwd=tmp_path).stdout
    assert "rechazada; 1 ticket(s) closed" in out
    assert "already rechazada" in m360("entities", "validate", entity.code, url=db_url, cwd=tmp_path,
                                       ok=False).stderr
    [closed] = tickets(app)
    assert closed.status == "cerrada" and closed.closed_at is not None
    with Session(engine(app)) as s:
        told = s.scalars(select(OutboxMessage.text).where(OutboxMessage.address == chat.session)).all()
    assert any("No pudimos validar los datos de *Fundación Inventada*" in t and "No es una organización" in t
               for t in told)
    assert "alcaldía o gobernación" in chat.say("hola")  # unlinked: asked again for the entity, not consent


def test_a_place_name_is_never_taken_for_otra(app: Flask) -> None:
    """Only a reply that is one of the words of OTRA leaves DIVIPOLA: "Otanche", "Otrobanda" or a
    municipality with "otra" inside still go to the entity lookup."""
    chat = WebChat(app.test_client(), session="grupo-lugar-0001")
    chat.say("hola")
    chat.say("si")
    assert "Otanche (Boyacá)" in chat.say("otanche")
    with Session(engine(app)) as s:
        assert s.scalars(select(Entity).where(Entity.kind == "otro")).all() == []


# ------------------------------------------------------------------ phone and e-mail requests (API and panel)


def post(client: FlaskClient, body: Any, token: str = ADMIN) -> Any:
    return client.post("/api/v1/help-requests", json=body, headers={"Authorization": f"Bearer {token}"})


def test_the_der_registers_a_phone_request_through_the_api(app: Flask) -> None:
    client = app.test_client()
    with db.transaction(engine(app)) as conn:
        staff.import_rows(conn, [{"rol": "enlace", "nombre": "Marta Gómez", "canal": "telegram",
                                  "direccion": "555001", "entidades": "63302"}], now=NOW)
        analyst = create_token(conn, role="analyst", name="ana")
    body = {"channel": "telefono", "entity": "63302", "need": "Llamó la secretaria: necesitan ayuda con el "
            "banco de proyectos y las regalías", "request_type": "consulta", "continuity": "continua",
            "requester": {"name": "Carmen Ruiz", "cargo": "Secretaria de Planeación", "phone": "310 444 5566"}}
    assert post(client, body, analyst).status_code == 403
    created = post(client, body)
    ticket = created.get_json()
    assert created.status_code == 201 and ticket["code"].startswith("MDA-2026-")
    assert (ticket["channel"], ticket["source"], ticket["request_type"], ticket["term_days"]) == (
        "telefono", "api", "consulta", 30)
    assert ticket["due_date"] == "2026-12-24" and ticket["continuity"] == "continua"  # 16 Nov, 8 Dec: holidays
    assert [t["id"] for t in ticket["themes"]] == ["proyectos"]  # proposed from the need
    assert ticket["enlace"]["name"] == "Marta Gómez" and ticket["assignee"] == "Marta Gómez"
    assert ticket["requester"] == {"name": "Carmen Ruiz", "cargo": "Secretaria de Planeación", "channel": "telefono",
                                   "address": "+573104445566"}
    # Changes are not sent to a phone caller through the chat (the DER calls back).
    client.patch(f"/api/v1/help-requests/{ticket['code']}", json={"status": "asignada", "note": "La llamo"},
                 headers={"Authorization": f"Bearer {ADMIN}"})
    with Session(engine(app)) as s:
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "ticket")).all() == []

    # Someone who already chats with the bot for the same entity is linked to that chat and hears there.
    chat = WebChat(client, session="grupo-chat-0001")
    from tests.support.conversation import register

    register(chat)  # type: ignore[arg-type]
    with db.transaction(engine(app)) as conn:
        conn.execute(Contact.__table__.update().where(Contact.address == chat.session)
                     .values(channel="whatsapp", address="+573104445566"))
    second = post(client, {**body, "channel": "correo", "request_type": "documentos"}).get_json()
    assert second["requester"]["channel"] == "whatsapp" and second["term_days"] == 10

    # A grupo de valor outside DIVIPOLA, by e-mail: registered and on hold.
    held = post(client, {"channel": "correo", "need": "Solicitamos información sobre pactos territoriales",
                         "new_entity": {"name": "RAP Eje Cafetero", "group": "esquema_asociativo",
                                        "department": "63"}, "requester": {"email": "rap@ejemplo.org"}})
    held_body = held.get_json()
    assert held.status_code == 201 and held_body["on_hold"] is True and held_body["due_date"] is None
    assert held_body["entity"]["code"].startswith("X") and held_body["entity"]["kind"] == "otro"
    listed = client.get("/api/v1/help-requests?on_hold=true", headers={"Authorization": f"Bearer {ADMIN}"})
    assert [t["code"] for t in listed.get_json()["items"]] == [held_body["code"]]
    # Without a due date yet it is not overdue, and still listed among those that are not.
    not_late = client.get("/api/v1/help-requests?overdue=no", headers={"Authorization": f"Bearer {ADMIN}"})
    assert held_body["code"] in [t["code"] for t in not_late.get_json()["items"]]

    for bad, field in (({**body, "channel": "whatsapp"}, "channel"), ({**body, "channel": " correo"}, "channel"),
                       ({**body, "channel": {}}, "channel"), ({**body, "request_type": ["general"]}, "request_type"),
                       ({**body, "entity": "6330"}, "entity"), ({**body, "entity": None}, "entity"),
                       ({k: v for k, v in body.items() if k != "entity"}, "entity"),
                       ({**body, "need": "   "}, "need"), ({**body, "themes": ["inventado"]}, "themes"),
                       ({**body, "requester": {"phone": "123"}}, "requester.phone"),
                       ({**body, "requester": {"email": "no-es-correo"}}, "requester.email"),
                       ({**body, "requester": []}, "requester"), ({**body, "request_type": ""}, "request_type"),
                       ({**body, "urgent": "si"}, "urgent"), ({**body, "color": "rojo"}, "color"),
                       ({**body, "new_entity": {"name": "X"}}, "entity"),
                       ({"channel": "correo", "need": "x", "new_entity": {"name": "Y", "department": "5"}},
                        "new_entity.department")):
        refused = post(client, bad)
        assert refused.status_code == 400 and refused.get_json()["field"] == field, (bad, refused.get_json())
    # Well formed, but naming an entity or a department that does not exist: not found.
    for bad, field in (({**body, "entity": "99999"}, "entity"),
                       ({"channel": "correo", "need": "x", "new_entity": {"name": "Y", "department": "98"}},
                        "new_entity.department")):
        refused = post(client, bad)
        assert refused.status_code == 404 and refused.get_json()["field"] == field, (bad, refused.get_json())
    assert len(tickets(app)) == 3  # nothing written by a refused request


def test_the_der_registers_an_email_request_in_the_panel(app: Flask) -> None:
    der = signed_in(app, "luis")
    page = der.get("/panel/solicitudes/nueva")
    assert "Registrar una solicitud recibida" in page.get_data(as_text=True)
    form = {"channel": "correo", "entity": "san andres", "need": "Piden asistencia para el plan indicativo",
            "request_type": "general", "requester_name": "Jaime", "requester_email": "jaime@ejemplo.gov.co",
            "csrf": csrf(page.data)}
    ambiguous = der.post("/panel/solicitudes/nueva", data=form)
    text = ambiguous.get_data(as_text=True)
    assert ambiguous.status_code == 400 and "is not one entity" in text and "Jaime" in text  # the form keeps it
    done = der.post("/panel/solicitudes/nueva", data={**form, "entity": "genova quindio", "themes": "plan_indicativo",
                                                      "urgent": "si"}, follow_redirects=True)
    shown = done.get_data(as_text=True)
    assert "registrada" in shown and "Génova" in shown and "panel · correo" in shown
    [made] = tickets(app)
    assert (made.channel, made.source, made.urgent, made.entity_code) == ("correo", "panel", True, "63302")
    with Session(engine(app)) as s:
        assert s.scalars(select(Alert.rule)).all() == ["ticket_urgente"]
    analyst = signed_in(app, "ana")
    assert analyst.get("/panel/solicitudes/nueva").status_code == 403
