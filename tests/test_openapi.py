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
from schemathesis.specs.openapi.checks import positive_data_acceptance

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
    """schemathesis' default checks: no 5xx, documented status codes, content types, headers and
    response bodies — all but "a request valid by the schema is accepted": the document states
    shapes, the app also checks meaning (a theme id that exists, a month with data) and answers 400.
    (Hypothesis drives the schema's strategy directly: schemathesis' pytest plugin does not run on
    this pytest.)"""
    operation = api_schema[path][method]

    @given(operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, excluded_checks=[positive_data_acceptance])

    check()


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
    from surveys import db
    from webhooks.auth import ROLES, create_token

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
