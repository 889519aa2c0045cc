"""Requests an outside probe sent to the simulator and the JSON API: each is refused with a 4xx and
a JSON error, never a 500, and nothing is written (no message, no contact, no ticket event)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.helpdesk import ticketing
from surveys import db
from surveys.models import Contact, MessageLog, TicketEvent
from webhooks.app import create_app

ADMIN = "hostile-admin"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
DEEP = 100_000


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN, M360_RATELIMIT_ENABLED="0")
    with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
        ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="whatsapp",
                        need="Apoyo con el PDT", themes=["seguimiento_pdt"], now=datetime(2026, 11, 10, tzinfo=UTC))
    yield app
    app.extensions["m360.sessions"].kw["bind"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def stored(app: Flask) -> tuple[int, int, int]:
    with app.extensions["m360.sessions"]() as session:
        return tuple(session.scalar(select(func.count()).select_from(table)) or 0  # type: ignore[return-value]
                     for table in (MessageLog, Contact, TicketEvent))


def refused(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:200])
    assert response.is_json and isinstance(response.get_json()["error"], str)
    return response.get_json()


def nested(depth: int, leaf: str = "null") -> str:
    return "[" * depth + leaf + "]" * depth


@pytest.mark.parametrize("body", [
    nested(DEEP),
    '{"session": "hostile-01", "text": ' + nested(DEEP, '"hola"') + "}",
    '{"session": "hostile-01", "text": "hola", "id": ' + "{\"a\":" * DEEP + "1" + "}" * DEEP + "}",
], ids=["array", "text", "id"])
def test_simulator_refuses_json_nested_100k_deep(app: Flask, client: FlaskClient, body: str) -> None:
    before = stored(app)
    refused(client.post("/simulador/api/send", data=body, content_type="application/json"))
    assert stored(app) == before


@pytest.mark.parametrize("text", ["\ud800 hola", "hola \udfff", "\udc00\ud800"])
def test_simulator_refuses_text_that_is_not_valid_unicode(app: Flask, client: FlaskClient, text: str) -> None:
    before = stored(app)
    body = json.dumps({"session": "hostile-02", "text": text})  # ensure_ascii: the \ud800 escape, as sent
    assert "\\ud" in body or "\\udc" in body
    error = refused(client.post("/simulador/api/send", data=body, content_type="application/json"))
    assert "Unicode" in error["error"]
    assert stored(app) == before


@pytest.mark.parametrize("body", [{"session": "hostile-03", "text": {}}, {"session": "hostile-03", "text": ["hola"]},
                                  {"session": "hostile-03", "text": 12345}, {"session": 12345678, "text": "hola"},
                                  {"session": "hostile-03", "text": "hola", "id": {"x": 1}}])
def test_simulator_refuses_text_session_or_id_that_are_not_strings(app: Flask, client: FlaskClient,
                                                                   body: dict[str, Any]) -> None:
    before = stored(app)
    refused(client.post("/simulador/api/send", json=body))
    assert stored(app) == before


@pytest.mark.parametrize("after", ["99999999999999999999999", "9223372036854775808", "-1", "1e9", "abc"])
def test_simulator_history_refuses_an_after_beyond_64_bits_or_not_a_number(client: FlaskClient, after: str) -> None:
    assert client.post("/simulador/api/send", json={"session": "hostile-04", "text": "hola"}).status_code == 200
    refused(client.get(f"/simulador/api/history?session=hostile-04&after={after}"))
    assert client.get("/simulador/api/history?session=hostile-04&after=9223372036854775807").get_json() == {
        "messages": []}


@pytest.mark.parametrize("path", ["/api/v1/alerts", "/api/v1/help-requests"])
@pytest.mark.parametrize("offset", ["1000000000001", "9223372036854775808", "99999999999999999999999", "-1", "1.5"])
def test_api_lists_refuse_an_offset_beyond_any_table(client: FlaskClient, path: str, offset: str) -> None:
    # 10^12 is far past any table and far from what a database integer or SQLite's LIMIT/OFFSET sum overflows at.
    refused(client.get(f"{path}?offset={offset}", headers=AUTH))
    assert client.get(f"{path}?offset=1000000000000", headers=AUTH).get_json()["items"] == []


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-02-30",
                                   "2026-11-31T10:00", "2025-02-29", "20261101", "2026-11-01T24:00", "mañana", ""])
def test_alerts_refuse_a_since_out_of_range_or_not_on_the_calendar(client: FlaskClient, since: str) -> None:
    error = refused(client.get("/api/v1/alerts", query_string={"since": since}, headers=AUTH))
    assert "since" in error["error"]


@pytest.mark.parametrize("since", ["2026-11-01", "2028-02-29", "2026-11-01T09:30", "2026-11-01 09:30:15.5",
                                   "2026-11-01T09:30:00Z", "2999-12-31T23:59:59-14:00", "1900-01-01T00:00+14:00"])
def test_alerts_accept_every_iso_moment_the_document_allows(client: FlaskClient, since: str) -> None:
    response = client.get("/api/v1/alerts", query_string={"since": since}, headers=AUTH)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("severity", ["null", "ALTA", "urgente"])
def test_alerts_refuse_an_unknown_severity(client: FlaskClient, severity: str) -> None:
    refused(client.get(f"/api/v1/alerts?severity={severity}", headers=AUTH))


@pytest.mark.parametrize("body", [
    '{"note": ' + nested(DEEP, '"x"') + "}",
    nested(DEEP),
    '{"status": "asignada", "assignee": ' + "{\"a\":" * DEEP + "1" + "}" * DEEP + "}",
    '{"note": "\\ud800 visita"}',
    json.dumps({"referred_to": "x" * 201}),
    json.dumps({"assignee": "x" * 121}),
    json.dumps({"note": "x" * 2001}),
], ids=["nested-note", "nested-array", "nested-assignee", "surrogate", "referred-to-too-long", "assignee-too-long",
        "note-too-long"])
def test_help_request_patch_refuses_deep_json_bad_unicode_and_overlong_fields(app: Flask, client: FlaskClient,
                                                                              body: str) -> None:
    before = stored(app)
    refused(client.patch("/api/v1/help-requests/MDA-2026-00001", data=body, content_type="application/json",
                         headers=AUTH))
    assert stored(app) == before


def test_alert_ack_and_wave_bodies_refuse_deep_json(app: Flask, client: FlaskClient) -> None:
    for path in ("/api/v1/alerts/1/ack", "/api/v1/waves", "/api/v1/answers/1/codes", "/api/v1/waves/1/launch"):
        refused(client.post(path, data=nested(DEEP), content_type="application/json", headers=AUTH))
    refused(client.post("/api/v1/waves", json={"period": "2026-11", "seed": 10**30}, headers=AUTH))
    refused(client.post("/api/v1/waves", json={"period": "2026-11", "reminder_days": [10**30]}, headers=AUTH))
    refused(client.post("/api/v1/waves", json={"period": "2026-11", "closes_at": "9999-12-31T23:59:59-14:00"},
                        headers=AUTH))


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_json_body_sent_without_the_json_content_type_is_refused_naming_it(app: Flask, client: FlaskClient,
                                                                             content_type: str | None) -> None:
    before = stored(app)
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    error = refused(client.patch("/api/v1/help-requests/MDA-2026-00001", data='{"note": "hola"}', headers=headers))
    assert "Content-Type: application/json" in error["error"]
    assert stored(app) == before


def test_setting_the_status_a_ticket_already_has_says_so(client: FlaskClient) -> None:
    response = client.patch("/api/v1/help-requests/MDA-2026-00001", json={"status": "nueva"}, headers=AUTH)
    assert response.status_code == 409 and response.get_json()["error"] == (
        "nothing to change: MDA-2026-00001 is already nueva")


@pytest.mark.parametrize("session", ["hostile-05\n", "hostile-05\r\n", "hostile-05\u2028"])
def test_simulator_refuses_a_session_id_with_a_line_break(app: Flask, client: FlaskClient, session: str) -> None:
    before = stored(app)
    refused(client.post("/simulador/api/send", json={"session": session, "text": "hola"}))
    refused(client.get("/simulador/api/history", query_string={"session": session}))
    assert stored(app) == before


@pytest.mark.parametrize(("path", "unknown"), [
    ("/api/v1/help-requests?estado=cerrada", "estado"), ("/api/v1/help-requests?status=cerrada&pagina=2", "pagina"),
    ("/api/v1/alerts?desde=2026-11-01", "desde"), ("/api/v1/reports/2026-11?region=Caribe&regon=Andina", "regon"),
    ("/api/v1/help-requests/MDA-2026-00001?fields=all", "fields"), ("/export/responses?period=2026-11&fmt=xlsx", "fmt"),
    ("/api/v1/waves?status=en_curso", "status")])
def test_a_query_parameter_the_operation_does_not_take_is_refused_naming_it(client: FlaskClient, path: str,
                                                                            unknown: str) -> None:
    """A misspelt filter must not answer with everything, unfiltered, as if it had been applied."""
    error = refused(client.get(path, headers=AUTH))["error"]
    assert error.startswith(f"unknown query parameter {unknown};"), error


def test_the_documented_query_parameters_are_taken(client: FlaskClient) -> None:
    for path in ("/api/v1/help-requests?status=nueva&theme=seguimiento_pdt&limit=5&offset=0&on_hold=no",
                 "/api/v1/alerts?severity=alta&since=2026-11-01", "/api/v1/reports/2026-11?region=Caribe&pdet=true",
                 "/api/v1/reports/mesa/2026-11?enlace=1", "/export/responses?period=2026-11&format=csv"):
        assert client.get(path, headers=AUTH).status_code == 200, path


@pytest.mark.parametrize(("path", "query"), [("/export/responses", {"period": "2026-11"}),
                                             ("/api/v1/responses", {"period": "2026-11"}),
                                             ("/api/v1/reports/2026-11", {"region": "Caribe"})])
@pytest.mark.parametrize("typo", ["monitoreo-360", "monitoreo360\x00", "Monitoreo360"])
def test_an_unknown_questionnaire_is_a_404_naming_it_not_an_empty_month(client: FlaskClient, path: str,
                                                                        query: dict[str, str], typo: str) -> None:
    response = client.get(path, query_string={**query, "questionnaire": typo}, headers=AUTH)
    assert response.status_code == 404 and "unknown questionnaire" in response.get_json()["error"]
    assert client.get(path, query_string={**query, "questionnaire": "monitoreo360"}, headers=AUTH).status_code == 200
