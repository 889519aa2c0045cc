"""A retried ticket creation never makes two tickets (bot.helpdesk.idempotency), through real HTTP
requests to the Flask app: the API's ``Idempotency-Key`` (a client whose response was lost on a bad
connection sends the same request again) and the panel's one-time form token (a double click on
«Registrar», the browser's re-POST). Time is the app's injected clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.accounts import create_token, create_user
from bot.helpdesk.idempotency import KEY_TTL, MAX_KEY
from surveys import db
from surveys.models import Alert, OutboxMessage, Ticket, TicketEvent, TicketIdempotencyKey
from tests.support.clock import Clock
from tests.support.panel import PASSWORD, csrf, engine, signed_in
from webhooks.app import create_app

ADMIN = "admin-bootstrap-token"
NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
BODY = {"channel": "telefono", "entity": "63302", "urgent": True,
        "need": "Llamó la secretaria de Génova: necesitan ayuda urgente con el plan indicativo",
        "requester": {"name": "Carmen Ruiz", "phone": "310 444 5566"}}

pytestmark = pytest.mark.usefixtures("no_internet")


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Flask]:
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=clock, SECRET_KEY="test-secret")
    yield app
    engine(app).dispose()


def bearer(app: Flask, role: str = "der", name: str = "mesa") -> dict[str, str]:
    with db.transaction(engine(app)) as conn:
        return {"Authorization": f"Bearer {create_token(conn, role=role, name=name)}"}


def post(client: FlaskClient, body: Any, key: str | None, auth: dict[str, str] | None = None) -> Any:
    headers = dict(auth or {"Authorization": f"Bearer {ADMIN}"})
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/help-requests", json=body, headers=headers)


def counts(app: Flask) -> dict[str, int]:
    with engine(app).connect() as conn:
        return {model.__name__: int(conn.execute(select(func.count()).select_from(model.__table__)).scalar_one())
                for model in (Ticket, TicketEvent, Alert, OutboxMessage, TicketIdempotencyKey)}


@pytest.mark.also_on_postgresql
def test_a_retry_with_the_same_key_answers_the_same_ticket_and_writes_nothing(app: Flask) -> None:
    client = app.test_client()
    first = post(client, BODY, "5f0c6a4e-1b2d-4c3e-9f00-a1b2c3d4e5f6")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    after_first = counts(app)
    assert after_first["Ticket"] == 1 and after_first["Alert"] == 1  # an urgent request: the DER is alerted once
    # The same request again (its response was lost), the fields in another order: the same ticket.
    again = post(client, dict(reversed(list(BODY.items()))), "5f0c6a4e-1b2d-4c3e-9f00-a1b2c3d4e5f6")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["code"] == first.get_json()["code"]
    assert counts(app) == after_first  # no second ticket, event, alert or notification
    # Without a key nothing changes: each POST is a new request.
    assert post(client, BODY, None).get_json()["code"] != first.get_json()["code"]
    assert counts(app)["Ticket"] == 2


@pytest.mark.also_on_postgresql
def test_the_same_key_with_another_body_is_refused_and_writes_nothing(app: Flask) -> None:
    client = app.test_client()
    code = post(client, BODY, "orden-17").get_json()["code"]
    before = counts(app)
    other = post(client, {**BODY, "need": "Otra cosa: el banco de proyectos"}, "orden-17")
    assert other.status_code == 409
    assert other.get_json()["field"] == "Idempotency-Key" and code in other.get_json()["error"]
    assert counts(app) == before


def test_a_request_refused_for_a_bad_field_leaves_its_key_free(app: Flask) -> None:
    client = app.test_client()
    assert post(client, {**BODY, "entity": "6330"}, "k-1").status_code == 400
    assert counts(app)["TicketIdempotencyKey"] == 0
    assert post(client, BODY, "k-1").status_code == 201  # corrected and sent with the same key


@pytest.mark.parametrize("key", ["", "   ", "x" * (MAX_KEY + 1), "clave\tcon tab", "llave-ñ"])
def test_an_empty_overlong_or_non_ascii_key_is_a_400(app: Flask, key: str) -> None:
    refused = post(app.test_client(), BODY, key)
    assert refused.status_code == 400 and "Idempotency-Key" in refused.get_json()["error"]
    assert counts(app)["Ticket"] == 0


def test_a_key_expires_after_its_time_by_the_apps_clock(app: Flask, clock: Clock) -> None:
    client = app.test_client()
    first = post(client, BODY, "dia-1").get_json()["code"]
    clock.now = NOW + KEY_TTL - timedelta(minutes=1)
    assert post(client, BODY, "dia-1").get_json()["code"] == first
    clock.now = NOW + KEY_TTL + timedelta(minutes=1)
    later = post(client, BODY, "dia-1")
    assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
    assert later.get_json()["code"] != first and counts(app)["Ticket"] == 2


def test_two_callers_with_one_key_make_two_tickets(app: Flask) -> None:
    client = app.test_client()
    mesa, otra = bearer(app, "der", "mesa"), bearer(app, "der", "otra")
    one = post(client, BODY, "1", mesa)
    two = post(client, BODY, "1", otra)
    admin = post(client, BODY, "1")
    assert {r.status_code for r in (one, two, admin)} == {201}
    assert len({r.get_json()["code"] for r in (one, two, admin)}) == 3
    assert post(client, BODY, "1", mesa).get_json()["code"] == one.get_json()["code"]


@pytest.mark.also_on_postgresql
def test_two_requests_with_one_key_at_once_make_one_ticket(app: Flask) -> None:
    """The key is a unique row taken before the ticket is written: the second request waits for the
    first and then answers its ticket (not a check-then-insert race)."""
    auth = bearer(app)
    start, answers = threading.Barrier(2), []

    def send() -> None:
        start.wait()
        answers.append(post(app.test_client(), BODY, "doble-envio", auth))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a.status_code for a in answers) == [201, 201]
    assert len({a.get_json()["code"] for a in answers}) == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "") for a in answers) == ["", "true"]
    assert counts(app)["Ticket"] == 1 and counts(app)["Alert"] == 1


# ------------------------------------------------------------------ the panel's form


@pytest.fixture
def der(app: Flask) -> FlaskClient:
    with db.transaction(engine(app)) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    return signed_in(app, "luis")


def form_of(page: bytes, **fields: str) -> dict[str, str]:
    import re

    once = re.search(rb'name="idempotency_key" value="([^"]+)"', page)
    assert once, "no one-time token on the form"
    return {"channel": "correo", "entity": "63302", "need": "Piden asistencia con el plan indicativo",
            "request_type": "general", "urgent": "si", "csrf": csrf(page), "idempotency_key": once.group(1).decode(),
            **fields}


def test_a_double_submit_of_the_new_request_form_makes_one_ticket(app: Flask, der: FlaskClient) -> None:
    form = form_of(der.get("/panel/solicitudes/nueva").data)
    first = der.post("/panel/solicitudes/nueva", data=form)
    assert first.status_code == 302
    after_first = counts(app)
    again = der.post("/panel/solicitudes/nueva", data=form, follow_redirects=True)  # the second click
    shown = again.get_data(as_text=True)
    assert again.status_code == 200 and "ya estaba registrada" in shown and "no se creó otra" in shown
    assert again.request.path == first.headers["Location"]  # the ticket the first click made
    assert counts(app) == after_first and after_first["Ticket"] == 1 and after_first["Alert"] == 1
    # Back, change the need, send: the form's token made a ticket already; a fresh token is offered.
    changed = der.post("/panel/solicitudes/nueva", data={**form, "need": "Ahora piden otra cosa"})
    assert changed.status_code == 400 and "ya registró la solicitud" in changed.get_data(as_text=True)
    assert counts(app)["Ticket"] == 1
    resent = der.post("/panel/solicitudes/nueva", data=form_of(changed.data, need="Ahora piden otra cosa"))
    assert resent.status_code == 302 and counts(app)["Ticket"] == 2
    # A new form is a new request, even with the same fields.
    assert der.post("/panel/solicitudes/nueva", data=form_of(der.get("/panel/solicitudes/nueva").data)
                    ).status_code == 302
    assert counts(app)["Ticket"] == 3


@pytest.mark.also_on_postgresql
def test_a_form_without_a_usable_token_still_registers_once(app: Flask, der: FlaskClient) -> None:
    """A page opened before the token existed, or a token tampered with (NUL, too long, empty): the
    request is registered, with a token of its own, never a 500."""
    page = der.get("/panel/solicitudes/nueva").data
    for number, token in enumerate(("", "\x00nul", "x" * (MAX_KEY + 1), "  "), start=1):
        sent = der.post("/panel/solicitudes/nueva", data=form_of(page, idempotency_key=token))
        assert sent.status_code == 302 and counts(app)["Ticket"] == number
