"""The JSON API (/api/v1) through real HTTP requests to the Flask app on a real SQLite database:
bearer tokens and roles, help requests with filters and changes, alerts and acknowledgement — and
the mesa de ayuda's end-to-end story: a municipality asks for help on Telegram, the DER is alerted on
(loopback) Telegram and a signed webhook, moves the ticket through the API, and the requester is
told in the chat and asked to rate the service when it closes; the same request from the simulator
is test data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.accounts import create_token
from bot.alerts.alerting import Alerts
from bot.helpdesk import deadlines, ticketing
from bot.service import ChatService
from surveys import db
from surveys.models import Alert, ApiToken, Contact, OutboxMessage, Ticket, TicketEvent
from tests.support.channels import HISTORY, WebChat
from tests.support.conversation import Chat, register
from tests.support.fakes import FakeTelegram, WebhookReceiver
from tests.support.processes import m360
from webhooks.app import create_app

ADMIN = "admin-bootstrap-token"
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("no_internet")  # tests/conftest.py


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    # The API reads the app's clock ("overdue" is counted from today): the tickets' days, not the machine's.
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=lambda: NOW + timedelta(hours=2))
    yield app
    app.extensions["m360.sessions"].kw["bind"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def engine_of(app: Flask) -> Any:
    return app.extensions["m360.sessions"].kw["bind"]


def token(app: Flask, role: str, name: str = "ana") -> dict[str, str]:
    with db.transaction(engine_of(app)) as conn:
        return {"Authorization": f"Bearer {create_token(conn, role=role, name=name)}"}


def ticket(app: Flask, entity: str = "63302", themes: tuple[str, ...] = ("plan_indicativo",),
           now: datetime = NOW, contact_id: int | None = None, **kwargs: Any) -> str:
    with db.transaction(engine_of(app)) as conn:
        return ticketing.create(conn, entity_code=entity, region=None, contact_id=contact_id, channel="whatsapp",
                               need="necesitamos ayuda", themes=list(themes), now=now,
                               alerts=Alerts(destinations=()), **kwargs).code


def count(app: Flask, model: Any) -> int:
    with engine_of(app).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model.__table__)).scalar_one())


# ------------------------------------------------------------------ tokens and roles


def test_requests_without_a_valid_token_are_refused(app: Flask, client: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "},
                    {"Authorization": "Bearer m360_not-a-token"}):
        response = client.get("/api/v1/help-requests", headers=headers)
        assert response.status_code == 401 and "error" in response.get_json()
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/help-requests", headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200


def test_roles(app: Flask, client: FlaskClient) -> None:
    code = ticket(app)
    analyst, der = token(app, "analyst"), token(app, "der", "luis")
    assert client.get("/api/v1/help-requests", headers=analyst).status_code == 200
    refused = client.patch(f"/api/v1/help-requests/{code}", json={"status": "asignada"}, headers=analyst)
    assert refused.status_code == 403 and "der" in refused.get_json()["error"]
    assert client.post("/api/v1/alerts/1/ack", headers=analyst).status_code == 403
    moved = client.patch(f"/api/v1/help-requests/{code}", json={"status": "asignada", "assignee": "Luis"},
                         headers=der)
    assert moved.status_code == 200 and moved.get_json()["events"][-1]["actor"] == "der:luis"


def test_tokens_are_stored_hashed_and_can_be_revoked(app: Flask, client: FlaskClient) -> None:
    headers = token(app, "analyst")
    raw = headers["Authorization"].split()[1]
    with engine_of(app).connect() as conn:
        [row] = conn.execute(select(ApiToken.__table__)).all()
    assert raw not in (row.token_hash, row.name) and len(row.token_hash) == 64
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200
    with engine_of(app).connect() as conn:
        assert conn.execute(select(ApiToken.last_used_at)).scalar_one() is not None
    from bot.accounts import revoke_token

    with db.transaction(engine_of(app)) as conn:
        assert revoke_token(conn, row.id) and not revoke_token(conn, row.id)
    assert client.get("/api/v1/alerts", headers=headers).status_code == 401


def test_cli_creates_lists_and_revokes_tokens(db_url: str, tmp_path: Path) -> None:
    created = m360("tokens", "create", "--role", "der", "--name", "mesa-der", url=db_url, cwd=tmp_path)
    value = created.stdout.strip()
    assert value.startswith("m360_") and "cannot be shown again" in created.stderr
    app = create_app(db_url)
    try:
        client = app.test_client()
        assert client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {value}"}).status_code == 200
        listed = m360("tokens", "list", url=db_url, cwd=tmp_path).stdout
        assert "der" in listed and "mesa-der" in listed and value not in listed
        m360("tokens", "revoke", "1", url=db_url, cwd=tmp_path)
        assert client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {value}"}).status_code == 401
        assert "no active token" in m360("tokens", "revoke", "1", url=db_url, cwd=tmp_path, ok=False).stderr
        assert m360("tokens", "create", "--role", "root", url=db_url, cwd=tmp_path, ok=False).returncode == 2
    finally:
        engine_of(app).dispose()


# ------------------------------------------------------------------ help requests


def test_list_and_filter_help_requests(app: Flask, client: FlaskClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    genova = ticket(app, "63302", ("plan_indicativo", "armonizacion_presupuestal"))
    medellin = ticket(app, "08001", ("proyectos",), now=NOW + timedelta(minutes=1))
    old = ticket(app, "08001", ("proyectos",), now=datetime(2026, 9, 1, 15, tzinfo=UTC))
    with db.transaction(engine_of(app)) as conn:
        ticketing.transition(conn, medellin, "asignada", actor="der", now=NOW)

    def codes(**query: str) -> list[str]:
        response = client.get("/api/v1/help-requests", query_string=query, headers=admin)
        assert response.status_code == 200, response.get_json()
        return [item["code"] for item in response.get_json()["items"]]

    assert codes() == [medellin, genova, old]  # newest first
    assert codes(status="asignada") == [medellin] and codes(status="nueva,asignada") == [medellin, genova, old]
    assert codes(status="Nueva,ASIGNADA") == [medellin, genova, old]  # as the panel shows them, any case
    assert codes(theme="armonizacion_presupuestal") == [genova]
    assert codes(entity="08001") == [medellin, old]
    with engine_of(app).connect() as conn:
        from surveys.models import Entity

        region = conn.execute(select(Entity.region).where(Entity.code == "63302")).scalar_one()
    assert codes(region=region) == [genova]
    assert codes(overdue="true") == [old] and codes(overdue="false") == [medellin, genova]
    assert codes(limit="1", offset="1") == [genova]
    item = client.get("/api/v1/help-requests", query_string={"entity": "63302"}, headers=admin).get_json()["items"][0]
    assert item["entity"]["name"] == "Génova (Quindío)" and item["entity"]["region"] == region
    assert item["themes"][0] == {"id": "plan_indicativo", "label": "Plan indicativo"}
    assert item["direccion_tecnica"] and item["articulador"] and item["overdue"] is False
    for bad in ({"status": "abierta"}, {"theme": "astrologia"}, {"overdue": "quizas"}, {"limit": "0"},
                {"limit": "x"}, {"offset": "-1"}):
        response = client.get("/api/v1/help-requests", query_string=bad, headers=admin)
        assert response.status_code == 400 and "error" in response.get_json(), bad


def test_one_help_request_with_its_history(app: Flask, client: FlaskClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    code = ticket(app)
    client.patch(f"/api/v1/help-requests/{code}", json={"status": "asignada", "assignee": "Luis"}, headers=admin)
    body = client.get(f"/api/v1/help-requests/{code.lower()}", headers=admin).get_json()
    assert body["code"] == code and body["assignee"] == "Luis"
    assert [(e["from"], e["to"], e["actor"]) for e in body["events"]] == [(None, "nueva", "chat"),
                                                                          ("nueva", "asignada", "admin")]
    assert client.get("/api/v1/help-requests/MDA-2026-99999", headers=admin).status_code == 404


def test_invalid_changes_get_4xx_and_write_nothing(app: Flask, client: FlaskClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    code = ticket(app)
    before = (count(app, TicketEvent), count(app, OutboxMessage))
    cases = [
        ({"status": "respondida"}, 409),  # nueva cannot jump to respondida
        ({"status": "archivada"}, 409),
        ({"status": "remitida"}, 409),  # a referral needs the entity
        ({"estado": "asignada"}, 400),
        ({"note": 42}, 400),
        ({}, 409),  # nothing to change
        (["asignada"], 400),
    ]
    for body, status in cases:
        response = client.patch(f"/api/v1/help-requests/{code}", json=body, headers=admin)
        assert response.status_code == status and "error" in response.get_json(), body
    response = client.patch(f"/api/v1/help-requests/{code}", data="status=asignada", headers=admin,
                            content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert client.patch("/api/v1/help-requests/MDA-2026-99999", json={"status": "asignada"},
                        headers=admin).status_code == 404
    assert (count(app, TicketEvent), count(app, OutboxMessage)) == before
    with engine_of(app).connect() as conn:
        assert conn.execute(select(Ticket.status)).scalar_one() == "nueva"


def test_if_match_keeps_a_retried_or_concurrent_patch_from_applying_twice(app: Flask, client: FlaskClient) -> None:
    """GET gives the ticket's ETag. A PATCH with If-Match is applied to that version only: the same
    PATCH sent again (its response lost on a bad connection) is 412, not a second note told to the
    requester; a colleague's change made meanwhile is not overwritten unseen."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    chat = Chat(ChatService(app.extensions["m360.sessions"]), channel="whatsapp")
    register(chat)
    with db.transaction(engine_of(app)) as conn:
        contact = conn.execute(select(Contact.id)).scalar_one()
    code = ticket(app, contact_id=contact)
    read = client.get(f"/api/v1/help-requests/{code}", headers=admin)
    etag = read.headers["ETag"]
    assert read.status_code == 200 and etag.startswith('"')
    before = (count(app, TicketEvent), count(app, OutboxMessage))
    change = {"status": "asignada", "assignee": "Luis", "note": "Luis la atiende esta semana."}
    first = client.patch(f"/api/v1/help-requests/{code}", json=change, headers={**admin, "If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    told = (count(app, TicketEvent), count(app, OutboxMessage))
    assert told[0] == before[0] + 1 and told[1] == before[1] + 1  # one event, one message to the requester
    retried = client.patch(f"/api/v1/help-requests/{code}", json=change, headers={**admin, "If-Match": etag})
    assert retried.status_code == 412 and "changed since it was read" in retried.get_json()["error"]
    assert retried.headers["ETag"] == first.headers["ETag"]
    assert (count(app, TicketEvent), count(app, OutboxMessage)) == told
    # Two people read the same version; the second one's change waits for them to read it again.
    current = client.get(f"/api/v1/help-requests/{code}", headers=admin).headers["ETag"]
    assert current == first.headers["ETag"]
    marta = client.patch(f"/api/v1/help-requests/{code}", json={"status": "en_gestion"},
                         headers={**admin, "If-Match": current})
    assert marta.status_code == 200
    luis = client.patch(f"/api/v1/help-requests/{code}", json={"status": "respondida", "note": "Listo."},
                        headers={**admin, "If-Match": current})
    assert luis.status_code == 412
    for header in ('"otra-version"', "W/" + marta.headers["ETag"], "no es una etiqueta"):
        assert client.patch(f"/api/v1/help-requests/{code}", json={"note": "x"},
                            headers={**admin, "If-Match": header}).status_code == 412, header
    assert client.patch(f"/api/v1/help-requests/{code}", json={"status": "respondida", "note": "Listo."},
                        headers={**admin, "If-Match": "*"}).status_code == 200
    assert client.patch("/api/v1/help-requests/MDA-2026-99999", json={"note": "x"},
                        headers={**admin, "If-Match": "*"}).status_code == 404
    with engine_of(app).connect() as conn:
        assert conn.execute(select(Ticket.status)).scalar_one() == "respondida"


def test_referral_assignment_and_notes(app: Flask, client: FlaskClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    code = ticket(app)
    noted = client.patch(f"/api/v1/help-requests/{code}", json={"note": "Estamos revisando su caso."}, headers=admin)
    assert noted.status_code == 200 and noted.get_json()["status"] == "nueva"
    assert noted.get_json()["events"][-1]["note"] == "Estamos revisando su caso."
    assigned = client.patch(f"/api/v1/help-requests/{code}", json={"assignee": "Marta"}, headers=admin).get_json()
    assert assigned["assignee"] == "Marta" and assigned["events"][-1]["note"] == "asignada a Marta"
    referred = client.patch(f"/api/v1/help-requests/{code}", headers=admin,
                            json={"status": "remitida", "referred_to": "Ministerio de Vivienda"}).get_json()
    assert (referred["status"], referred["referred_to"]) == ("remitida", "Ministerio de Vivienda")
    assert client.patch(f"/api/v1/help-requests/{code}", json={"assignee": "Otro"}, headers=admin).status_code == 409


# ------------------------------------------------------------------ alerts


def test_alerts_list_filters_and_acknowledgement(app: Flask, client: FlaskClient) -> None:
    der = token(app, "der", "luis")
    with db.transaction(engine_of(app)) as conn:
        for entity, urgent in (("63302", False), ("08001", True)):
            ticketing.create(conn, entity_code=entity, region=None, contact_id=None, channel="whatsapp", need="x",
                            themes=["proyectos"], now=NOW, urgent=urgent, alerts=Alerts(destinations=()))
    listed = client.get("/api/v1/alerts", headers=der).get_json()
    assert listed["total"] == 2 and [a["rule"] for a in listed["items"]] == ["ticket_urgente", "ticket_nuevo"]
    urgent_id = listed["items"][0]["id"]
    assert client.get("/api/v1/alerts", query_string={"rule": "ticket_nuevo"}, headers=der).get_json()["total"] == 1
    assert client.get("/api/v1/alerts", query_string={"entity": "08001"}, headers=der).get_json()["total"] == 1
    assert client.get("/api/v1/alerts", query_string={"since": "2026-11-11"}, headers=der).get_json()["total"] == 0
    assert client.get("/api/v1/alerts", query_string={"severity": "alta"}, headers=der).get_json()["total"] == 1
    for bad in ({"rule": "nope"}, {"status": "cerrada"}, {"since": "ayer"}):
        assert client.get("/api/v1/alerts", query_string=bad, headers=der).status_code == 400
    acked = client.post(f"/api/v1/alerts/{urgent_id}/ack", json={"note": "llamé a Barranquilla"}, headers=der)
    assert acked.status_code == 200
    assert (acked.get_json()["status"], acked.get_json()["acknowledged_by"]) == ("reconocida", "der:luis")
    again = client.post(f"/api/v1/alerts/{urgent_id}/ack", headers=der).get_json()
    assert again["ack_note"] == "llamé a Barranquilla"  # idempotent: the first acknowledgement stays
    assert client.get("/api/v1/alerts", query_string={"status": "abierta"}, headers=der).get_json()["total"] == 1
    assert client.get(f"/api/v1/alerts/{urgent_id}", headers=der).get_json()["status"] == "reconocida"
    assert client.post("/api/v1/alerts/999/ack", headers=der).status_code == 404
    assert client.post(f"/api/v1/alerts/{urgent_id}/ack", json={"nota": "x"}, headers=der).status_code == 400


# ------------------------------------------------------------------ the whole story, end to end


@pytest.fixture
def der_app(db_url: str, monkeypatch: pytest.MonkeyPatch, telegram_fake: FakeTelegram) -> Iterator[Flask]:
    receiver = WebhookReceiver(secret="seta-secret")
    receiver.start()
    for name, value in {"TELEGRAM_BOT_TOKEN": telegram_fake.token, "TELEGRAM_API_BASE": telegram_fake.base_url,
                        "M360_DER_TELEGRAM_CHAT_ID": "-100777", "M360_ALERT_WEBHOOK_URL": receiver.url,
                        "M360_ALERT_WEBHOOK_SECRET": "seta-secret"}.items():
        monkeypatch.setenv(name, value)
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN)
    app.extensions["test.receiver"] = receiver
    yield app
    engine_of(app).dispose()
    receiver.stop()


def delivered(sender: Any, fake: FakeTelegram, chat_id: str, n: int, timeout: float = 15) -> list[dict[str, Any]]:
    """Send the outbox until ``chat_id`` got ``n`` messages (Telegram allows one a second per chat)."""
    deadline = time.monotonic() + timeout
    while True:
        sender.run_once()
        got = [m for m in fake.sent if str(m["chat_id"]) == chat_id]
        if len(got) >= n or time.monotonic() > deadline:
            assert len(got) >= n, got
            return got
        time.sleep(0.2)


def test_help_request_to_der_and_back(der_app: Flask, telegram_fake: FakeTelegram) -> None:
    """A municipality writes on Telegram; the DER is alerted on Telegram and a signed webhook, moves
    the ticket through the API, and the requester is told in their chat and asked to rate it."""
    client, receiver = der_app.test_client(), der_app.extensions["test.receiver"]
    sender = der_app.extensions["m360.outbox"].sender
    assert set(sender.providers) == {"telegram", "webhook", "simulator"}
    chat = Chat(ChatService(der_app.extensions["m360.sessions"]), address="424242", channel="telegram")
    register(chat)
    reply = chat.say("necesitamos ayuda para armonizar el presupuesto de este año")
    assert "Armonización presupuestal" in reply
    for text in ("si", "asistencia tecnica", "peticion general", "planeacion", "puntual", "no", "si"):
        reply = chat.say(text)
    assert "Registramos su solicitud" in reply

    der = token(der_app, "der", "luis")
    [item] = client.get("/api/v1/help-requests", headers=der).get_json()["items"]
    code = item["code"]
    assert code in reply and [t["id"] for t in item["themes"]] == ["armonizacion_presupuestal"]
    assert item["entity"]["code"] == "63302" and item["status"] == "nueva" and item["test"] is False
    created = datetime.fromisoformat(item["created_at"])
    assert item["due_date"] == deadlines.deadline_for(created).isoformat()

    sender.run_once()
    [alert_message] = telegram_fake.wait_for(1)
    assert alert_message["chat_id"] in (-100777, "-100777") and code in alert_message["text"]
    [hook] = receiver.wait_for(1)
    assert hook["json"]["alert"]["help_request"] == code and hook["json"]["alert"]["rule"] == "ticket_nuevo"
    [alert] = client.get("/api/v1/alerts", headers=der).get_json()["items"]
    assert client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=der).status_code == 200

    for status, note in (("asignada", None), ("respondida", "Le enviamos la guía de armonización.")):
        response = client.patch(f"/api/v1/help-requests/{code}", json={"status": status, "note": note}, headers=der)
        assert response.status_code == 200, response.get_json()
    updates = delivered(sender, telegram_fake, "424242", 2)
    assert "asignada" in updates[0]["text"]
    assert "respondida" in updates[1]["text"] and "Le enviamos la guía de armonización." in updates[1]["text"]

    # Closing asks the requester for a 1–5 rating; the reply is stored with the ticket.
    assert client.patch(f"/api/v1/help-requests/{code}", json={"status": "cerrada"}, headers=der).status_code == 200
    closing = delivered(sender, telegram_fake, "424242", 3)[-1]
    assert "quedó cerrada" in closing["text"] and "de 1 (muy mala) a 5" in closing["text"]
    assert "4/5" in chat.say("4")
    assert "1. Responder" in chat.last[-1].text  # back to the menu
    with engine_of(der_app).connect() as conn:
        assert conn.execute(select(Ticket.satisfaction)).scalar_one() == 4
    assert client.get(f"/api/v1/help-requests/{code}", headers=der).get_json()["satisfaction"] == 4


def test_a_help_request_from_the_simulator_is_test_data(der_app: Flask, telegram_fake: FakeTelegram) -> None:
    """The same request typed in the simulator (anyone may claim any entity there): nobody at the DER
    is alerted and the API lists nothing; the ticket can still be opened by its code and moved, and
    the simulator session is told, so trying the whole flow on `make run` still works."""
    client, receiver = der_app.test_client(), der_app.extensions["test.receiver"]
    sender = der_app.extensions["m360.outbox"].sender
    chat = WebChat(client, session="genova-sim-01")
    register(chat)  # type: ignore[arg-type]
    chat.say("necesitamos ayuda para armonizar el presupuesto de este año")
    for text in ("si", "asistencia tecnica", "peticion general", "planeacion", "puntual", "no", "si"):
        reply = chat.say(text)
    assert "Registramos su solicitud" in reply
    code = next(word for word in reply.replace("*", " ").split() if word.startswith("MDA-"))

    der = token(der_app, "der", "luis")
    assert client.get("/api/v1/help-requests", headers=der).get_json() | {"limit": 0} == {
        "items": [], "total": 0, "offset": 0, "limit": 0}
    assert client.get("/api/v1/alerts", headers=der).get_json()["total"] == 0
    assert client.get(f"/api/v1/help-requests/{code}", headers=der).get_json()["test"] is True
    sender.run_once()
    assert telegram_fake.sent == [] and receiver.received == []
    with engine_of(der_app).connect() as conn:
        assert conn.execute(select(Alert.test)).scalars().all() == [True]  # stored for the panel, flagged

    last = client.post("/simulador/api/send", json={"session": chat.session, "text": "gracias",
                                                    "id": "after-ticket"}).get_json()["last_id"]
    response = client.patch(f"/api/v1/help-requests/{code}", json={"status": "asignada"}, headers=der)
    assert response.status_code == 200
    sender.run_once()
    [update] = client.get(HISTORY, query_string={"session": chat.session, "after": last}).get_json()["messages"]
    assert "asignada" in update["text"]


def test_deadline_in_the_api_skips_colombian_holidays(app: Flask, client: FlaskClient) -> None:
    code = ticket(app, now=datetime(2026, 12, 4, 14, 0, tzinfo=UTC))  # Friday 4 December 2026
    body = client.get(f"/api/v1/help-requests/{code}", headers={"Authorization": f"Bearer {ADMIN}"}).get_json()
    assert body["due_date"] == "2026-12-29"  # 8 and 25 December are holidays


def test_alert_rows_are_not_written_by_reads(app: Flask, client: FlaskClient) -> None:
    ticket(app)
    before = count(app, Alert)
    client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {ADMIN}"})
    assert count(app, Alert) == before == 1
