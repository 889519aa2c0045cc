"""The results API through real HTTP requests to the Flask app: ``GET /api/v1/reports/<period>``
(filters as query parameters) and ``GET /api/v1/responses?period=``, readable by the analyst,
der and admin roles with a bearer token; and the token the responses download now needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from bot.accounts import create_token
from surveys import db
from tests.support.data import ROWS
from webhooks.app import create_app

ADMIN = "reports-admin-token"


@pytest.fixture
def app(db_url: str, seeded: object) -> Iterator[Flask]:  # noqa: F811
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN)
    yield app
    app.extensions["m360.sessions"].kw["bind"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(db_url: str, role: str) -> str:
    engine = db.make_engine(db_url)
    with db.transaction(engine) as conn:
        token = create_token(conn, role=role, name=f"test {role}")
    engine.dispose()
    return token


def test_reports_need_a_reader_token(client: FlaskClient, db_url: str) -> None:
    for path in ("/api/v1/reports/2020-11", "/api/v1/responses?period=2020-11", "/export/responses?period=2020-11"):
        response = client.get(path)
        assert response.status_code == 401 and "error" in response.get_json(), path
        assert client.get(path, headers=bearer("not-a-token")).status_code == 401
    for role in ("analyst", "der"):
        headers = bearer(token_for(db_url, role))
        assert client.get("/api/v1/reports/2020-11", headers=headers).status_code == 200, role
        assert client.get("/api/v1/responses?period=2020-11", headers=headers).status_code == 200, role
        assert client.get("/export/responses?period=2020-11", headers=headers).status_code == 200, role


def test_report_with_filters(client: FlaskClient) -> None:
    headers = bearer(ADMIN)
    whole = client.get("/api/v1/reports/2020-11", headers=headers).get_json()
    assert whole["period"] == "2020-11" and whole["summary"]["interviews"] == 4 and whole["filters"] == {}
    assert whole["summary"]["insatisfechos"] == 1 and whole["demand"]["themes"][0]["theme"] == "seguimiento_pdt"
    pacific = client.get("/api/v1/reports/2020-11", query_string={"region": "Pacífico"}, headers=headers).get_json()
    assert pacific["summary"]["interviews"] == 2 and pacific["filters"] == {"region": "Pacífico"}
    pdet = client.get("/api/v1/reports/2020-11", query_string={"pdet": "false", "kind": "alcaldia"},
                      headers=headers).get_json()
    assert pdet["summary"]["interviews"] == 1 and pdet["filters"] == {"kind": "alcaldia", "pdet": False}
    dept = client.get("/api/v1/reports/2020-11?department=Quindio", headers=headers).get_json()
    assert dept["summary"]["interviews"] == 2
    ficha = client.get("/api/v1/reports/2020-11?entity=19050", headers=headers).get_json()
    assert ficha["report"] == "entidad" and ficha["entity"]["entity"]["name"] == "Argelia"
    quarter = client.get("/api/v1/reports/2020-Q4", headers=headers).get_json()
    assert quarter["summary"]["interviews"] == len(ROWS) and quarter["months"][0] == "2020-10"


def test_report_rejects_bad_parameters(client: FlaskClient) -> None:
    headers = bearer(ADMIN)
    for path in ("/api/v1/reports/2020-13", "/api/v1/reports/noviembre", "/api/v1/reports/2020-11?pdet=quizas",
                 "/api/v1/reports/2020-11?kind=otro", "/api/v1/responses", "/api/v1/responses?period=2020"):
        response = client.get(path, headers=headers)
        assert response.status_code == 400 and "error" in response.get_json(), path
    assert client.get("/api/v1/reports/2020-11?entity=99999", headers=headers).status_code == 404


def test_responses_are_the_export_rows(client: FlaskClient, tmp_path: Path) -> None:
    body = client.get("/api/v1/responses", query_string={"period": "2020-11"}, headers=bearer(ADMIN)).get_json()
    assert body["total"] == 4 and body["period"] == "2020-11"
    assert body["columns"][:3] == ["periodo", "entidad_codigo", "entidad_nombre"]
    argelia = next(r for r in body["items"] if r["entidad_codigo"] == "19050")
    assert argelia["estado"] == "completa" and argelia["canal"] == "import" and argelia["puntaje_general"] == 3
    assert argelia["porque_articulacion"] == "<script>alert(1)</script>"  # JSON carries text as data
    assert argelia["demanda_temas"] == "seguimiento_pdt" and argelia["sugerencias"] is None
    assert client.get("/api/v1/responses?period=2019-01", headers=bearer(ADMIN)).get_json()["total"] == 0
