"""The OpenAPI document (/api/v1/openapi.json) describes every JSON route of the app, and
schemathesis, generating requests from it against the real app, finds no server error and no
response that contradicts the document."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

from webhooks.app import create_app
from webhooks.openapi import document

ADMIN = "openapi-admin-token"
NOT_IN_THE_DOCUMENT = re.compile(r"^(/panel|/static|/simulador$|/$)")  # HTML pages for browsers


@pytest.fixture(scope="module")
def app(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    path = tmp_path_factory.mktemp("openapi") / "m360.sqlite3"
    shutil.copyfile(template_db, path)
    app = create_app(f"sqlite:///{path}", M360_ADMIN_TOKEN=ADMIN, TWILIO_AUTH_TOKEN="t", TELEGRAM_WEBHOOK_SECRET="s",
                     M360_RATELIMIT_ENABLED="0")
    yield app
    app.extensions["m360.sessions"].kw["bind"].dispose()


def test_the_document_is_served_and_describes_every_json_route(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json["openapi"].startswith("3.")
    documented = {path: {m.upper() for m in ops if m != "parameters"} for path, ops in response.json["paths"].items()}
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if NOT_IN_THE_DOCUMENT.match(rule.rule):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    assert routes == documented


@pytest.fixture(scope="module")
def api_schema(app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


OPERATIONS = [(path, method) for path, ops in document()["paths"].items() for method in ops if method != "parameters"]


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_generated_requests_find_no_server_error(api_schema: schemathesis.BaseSchema, path: str, method: str) -> None:
    """schemathesis' checks: no 5xx, documented status codes, content types, headers and response
    bodies, and a request valid by the schema is accepted — the document states the vocabularies the
    app checks (theme ids, codebooks, calendar dates). .ci/api-conformance runs every check, invalid
    requests included, against a server with data. (Hypothesis drives the schema's strategy
    directly: schemathesis' pytest plugin does not run on this pytest.)"""
    operation = api_schema[path][method]

    @given(operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"})  # positive_data_acceptance included

    check()


def test_the_document_states_the_servers_own_vocabularies() -> None:
    """What the server checks is what the document says, from one source each."""
    from analysis.coding import codebooks
    from bot.alerts import alerting
    from bot.helpdesk.themes import load_taxonomy
    from webhooks.jsonapi import FLAGS, MOMENT

    doc = document()
    assert doc["components"]["schemas"]["Moment"]["pattern"] == MOMENT
    assert doc["components"]["schemas"]["Flag"]["enum"] == list(FLAGS)
    params = {p["name"]: p for p in doc["paths"]["/api/v1/help-requests"]["get"]["parameters"] if "name" in p}
    assert params["theme"]["schema"]["enum"] == list(load_taxonomy().ids)
    rules = {p["name"]: p for p in doc["paths"]["/api/v1/alerts"]["get"]["parameters"] if "name" in p}["rule"]
    assert rules["schema"]["enum"] == list(alerting.RULES)
    books = doc["paths"]["/api/v1/review-queue"]["get"]["parameters"][0]["schema"]["enum"]
    assert books == codebooks.available()

    def unfilled(node: object) -> bool:
        if isinstance(node, dict):
            return ("x-m360-enum" in node and "enum" not in node) or any(unfilled(v) for v in node.values())
        return isinstance(node, list) and any(unfilled(v) for v in node)

    assert not unfilled(doc)
    # A simulator message must hold something besides spaces, as str.strip() sees them.
    text = doc["paths"]["/simulador/api/send"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    not_blank = re.compile(text["properties"]["text"]["pattern"])
    assert all(bool(not_blank.search(chr(c))) != chr(c).isspace() for c in range(0x3100))


SAMPLE_PATH = {"code": "MDA-2026-99999", "alert_id": "999999", "answer_id": "999999", "wave_id": "999999",
               "period": "2026-11"}
PROTECTED = [(path, method, operation["x-roles"]) for path, ops in document()["paths"].items()
             for method, operation in ops.items() if method != "parameters" and "x-roles" in operation]


def test_every_api_operation_states_its_roles() -> None:
    unstated = [(path, method) for path, ops in document()["paths"].items() for method, op in ops.items()
                if method != "parameters" and op.get("security") != [] and "x-roles" not in op]
    assert not unstated


@pytest.mark.parametrize(("path", "method", "roles"), PROTECTED, ids=[f"{m.upper()} {p}" for p, m, _ in PROTECTED])
def test_roles_are_enforced_as_documented(app: Flask, path: str, method: str, roles: list[str]) -> None:
    from bot.accounts import ROLES, create_token
    from surveys import db

    url = re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH[m[1]], path) + ("?period=2026-11" if "responses" in path else "")
    client = app.test_client()
    call = getattr(client, method)
    assert call(url, json={}).status_code == 401
    with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
        tokens = {role: create_token(conn, role=role, name=f"roles-{role}") for role in ROLES}
    for role in ROLES:
        status = call(url, json={}, headers={"Authorization": f"Bearer {tokens[role]}"}).status_code
        assert (status == 403) == (role not in roles), (role, status)
        assert status != 401


def _parameter(path: str, name: str) -> dict[str, object]:
    operation = document()["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p.get("name") == name)["schema"]


def test_requests_the_document_allows_are_accepted(app: Flask) -> None:
    """The probe's refusals of allowed requests: every rule, codebook and theme the document lists,
    an ISO moment in any form the document allows, answer 0 (a 404, not a 400)."""
    client, auth = app.test_client(), {"Authorization": f"Bearer {ADMIN}"}
    for rule in _parameter("/api/v1/alerts", "rule")["enum"]:  # type: ignore[union-attr]
        assert client.get(f"/api/v1/alerts?rule={rule}", headers=auth).status_code == 200, rule
    for book in _parameter("/api/v1/review-queue", "codebook")["enum"]:  # type: ignore[union-attr]
        assert client.get(f"/api/v1/review-queue?codebook={book}", headers=auth).status_code == 200, book
    for theme in _parameter("/api/v1/help-requests", "theme")["enum"]:  # type: ignore[union-attr]
        assert client.get(f"/api/v1/help-requests?theme={theme}", headers=auth).status_code == 200, theme
    assert _parameter("/api/v1/help-requests", "overdue") == {"$ref": "#/components/schemas/Flag"}
    for flag in document()["components"]["schemas"]["Flag"]["enum"]:
        assert client.get(f"/api/v1/help-requests?overdue={flag}", headers=auth).status_code == 200, flag
        assert client.get(f"/api/v1/reports/2026-11?pdet={flag}", headers=auth).status_code == 200, flag
    for at in ("2026-12-01", "2026-12-01T09:00", "2026-12-01 09:00:30.25", "2026-12-01T09:00-05:00", "2028-02-29"):
        assert re.fullmatch(document()["components"]["schemas"]["Moment"]["pattern"], at)
        assert client.post("/api/v1/waves/999999/launch", json={"at": at}, headers=auth).status_code == 404, at
    assert client.post("/api/v1/answers/0/codes", json={"accept": True}, headers=auth).status_code == 404
    assert client.patch("/api/v1/help-requests/MDA-2026-99999", json={"note": None}, headers=auth).status_code == 404


def test_requests_the_document_forbids_are_refused(app: Flask) -> None:
    """The probe's accepted-but-forbidden requests, and their neighbours, are 400s."""
    client, auth = app.test_client(), {"Authorization": f"Bearer {ADMIN}"}
    for query in ("severity=null", "severity=", "rule=", "since=ma%C3%B1ana", "offset=", "status=todas"):
        assert client.get(f"/api/v1/alerts?{query}", headers=auth).status_code == 400, query
    for query in ("overdue=maybe", "overdue=", "theme=", "theme=astrologia", "status=", "status=nueva,"):
        assert client.get(f"/api/v1/help-requests?{query}", headers=auth).status_code == 400, query
    for query in ("pdet=", "pdet=quizas", "kind=", "kind=vereda"):
        assert client.get(f"/api/v1/reports/2026-11?{query}", headers=auth).status_code == 400, query
    assert client.get("/api/v1/review-queue?codebook=", headers=auth).status_code == 400
    for body in ({"referred_to": "x" * 201}, {"assignee": "x" * 121}, {"estado": "cerrada"}):
        assert client.patch("/api/v1/help-requests/MDA-2026-99999", json=body, headers=auth).status_code == 400
    for body in ({"accept": True, "codes": ["x"]}, {"codes": []}, {"accept": True, "extra": 1}):
        assert client.post("/api/v1/answers/1/codes", json=body, headers=auth).status_code == 400, body
    assert client.post("/api/v1/waves/1/launch", json={"at": "el lunes"}, headers=auth).status_code == 400
    for body in ({"session": "openapi-01", "text": {}}, {"session": "openapi-01", "text": "\x1c"},
                 {"session": "openapi-01", "text": "hola", "id": 7}):
        assert client.post("/simulador/api/send", json=body).status_code == 400, body
    assert client.get("/simulador/api/history?session=corta").status_code == 400
