"""The web app through real HTTP requests (Flask's test client) on a real SQLite database: health, pages,
a whole interview through the simulator API, its transcript, the responses export, idempotent retries,
input validation and untrusted respondent text."""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from surveys.models import Contact, MessageLog
from tests.support.channels import EXPORT, HISTORY, SEND, WebChat
from tests.support.conversation import EXPECTED, INTERVIEW, register, start_interview
from webhooks.app import create_app

ADMIN = "web-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}  # the export needs a reader's token (analyst, der, admin)

# For each step of INTERVIEW: does the question asked next come with quick-reply options? (single-choice
# questions do; open questions, the multiple choice demanda_temas and the outro do not)
NEXT_HAS_OPTIONS = [False, True, True, True, True, True, True, True, True, True, True,
                    False, True, False, True, False, False, False, True, False, False]


def _dispose(app: Flask) -> None:
    app.extensions["m360.sessions"].kw["bind"].dispose()


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN)
    yield app
    _dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def shared_app(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for the tests that must not store anything (input validation): cheaper than one per case."""
    path = tmp_path_factory.mktemp("validation") / "m360.sqlite3"
    shutil.copyfile(template_db, path)
    app = create_app(f"sqlite:///{path}", M360_ADMIN_TOKEN=ADMIN)
    yield app
    _dispose(app)


def stored_messages(app: Flask) -> int:
    with app.extensions["m360.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(MessageLog)) or 0


def bogota_month() -> str:
    return datetime.now(ZoneInfo("America/Bogota")).strftime("%Y-%m")


def history(client: FlaskClient, session: str) -> list[tuple[str, str]]:
    response = client.get(HISTORY, query_string={"session": session})
    assert response.status_code == 200 and response.mimetype == "application/json"
    messages = response.get_json()["messages"]
    assert all(set(m) == {"id", "direction", "text", "options"} for m in messages)
    assert [m["id"] for m in messages] == sorted(m["id"] for m in messages)
    return [(m["direction"], m["text"]) for m in messages]


def expected_cells() -> dict[str, Any]:
    return {name: ";".join(value) if isinstance(value, list) else value for name, value in EXPECTED.items()}


# ---------------------------------------------------------------- health


def test_health_ok(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_503_when_the_database_goes_away(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    app = create_app(f"sqlite:///{folder}/m360.sqlite3")
    client = app.test_client()
    assert client.get("/health").status_code == 200
    shutil.rmtree(folder)
    _dispose(app)  # drop pooled connections: the next check must open the (now missing) file
    for _ in range(2):  # the handler answers, and keeps answering; it does not crash or recreate the file
        response = client.get("/health")
        assert response.status_code == 503
        assert response.get_json() == {"status": "error", "database": "unreachable"}
    assert not folder.exists()


def test_health_503_when_the_file_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "m360.sqlite3"
    app = create_app(f"sqlite:///{path}")
    _dispose(app)
    for leftover in tmp_path.glob("m360.sqlite3*"):
        leftover.unlink()
    path.write_bytes(b"this is not a database" * 100)
    response = app.test_client().get("/health")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"


# ---------------------------------------------------------------- pages


def _check_security_headers(response: Any) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = {d.split()[0]: d.split()[1:] for d in response.headers["Content-Security-Policy"].split(";") if d.strip()}
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp.get("script-src", [])  # scripts only from files of the app


def test_index_page(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="es-CO">' in html and "Simulador de chat" in html and "Panel de resultados" in html
    assert 'href="/simulador"' in html and 'href="/panel/"' in html and 'href="/health"' in html
    _check_security_headers(response)


def test_simulator_page(client: FlaskClient) -> None:
    response = client.get("/simulador")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="es-CO">' in html and "Escriba un mensaje" in html and "Nueva conversación" in html
    assert 'src="/static/simulador.js"' in html
    assert 'data-send="/simulador/api/send"' in html and 'data-history="/simulador/api/history"' in html
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all("src=" in tag for tag in scripts)  # no inline script (the CSP would block it)
    _check_security_headers(response)
    script = client.get("/static/simulador.js")
    assert script.status_code == 200 and "textContent" in script.get_data(as_text=True)
    script.close()


# ---------------------------------------------------------------- a whole interview over HTTP


def signed_in_panel(client: FlaskClient) -> FlaskClient:
    """The same browser, signed in to the panel as an analyst."""
    from bot.accounts import create_user
    from surveys import db

    app = client.application
    with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
        create_user(conn, username="analista", name="Analista", role="analyst", password="una clave larga")
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/panel/login").get_data(as_text=True))
    assert token is not None
    assert client.post("/panel/login", data={"username": "analista", "password": "una clave larga",
                                             "csrf": token.group(1)}).status_code == 302
    return client


def test_full_interview_history_and_export(client: FlaskClient) -> None:
    chat = WebChat(client)
    register(chat)  # type: ignore[arg-type]  # same say()/last interface as tests.support.conversation.Chat
    start_interview(chat)  # type: ignore[arg-type]
    first = chat.last[-1]["options"]
    assert [o["label"] for o in first] == ["Muy mala", "Mala", "Regular", "Buena", "Excelente"]
    assert [o["reply"] for o in first] == ["1", "2", "3", "4", "5"]
    assert len(NEXT_HAS_OPTIONS) == len(INTERVIEW)
    for (text, expected), has_options in zip(INTERVIEW, NEXT_HAS_OPTIONS, strict=True):
        assert expected in chat.say(text), text
        assert bool(chat.last[-1]["options"]) is has_options, (text, chat.last[-1])
    assert "Muchas gracias" in chat.last[-1]["text"]

    # The transcript, in order, exactly as the API answered it.
    assert history(client, chat.session) == chat.transcript
    assert history(client, "nobody-here-1") == []

    # A simulator interview is test data: the export leaves it out; the panel gives it when asked.
    period = bogota_month()
    official = client.get(EXPORT, query_string={"period": period, "format": "csv"}, headers=AUTH)
    assert official.status_code == 200 and official.data.decode("utf-8-sig").count("\n") == 1  # the header only
    client = signed_in_panel(client)
    panel = {"periodo": period, "pruebas": "1"}
    response = client.get("/panel/descargas/respuestas.csv", query_string=panel)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f'filename="monitoreo360_{period}.csv"' in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, so Excel shows the accents
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["periodo"], row["entidad_codigo"], row["entidad_nombre"], row["departamento"]) == (
        period, "63302", "Génova", "Quindío")
    assert (row["canal"], row["estado"], row["entidad_tipo"]) == ("simulator", "completa", "alcaldia")
    assert {name: row[name] for name in EXPECTED} == {k: str(v) for k, v in expected_cells().items()}

    response = client.get("/panel/descargas/respuestas.xlsx", query_string=panel)
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    header, *data = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(data) == 1
    cells = dict(zip(header, data[0], strict=True))
    assert cells["entidad_codigo"] == "63302" and cells["periodo"] == period and cells["estado"] == "completa"
    assert {name: cells[name] for name in EXPECTED} == expected_cells()

    # Another month has no interviews: the header only.
    year, month = map(int, period.split("-"))
    other = f"{year - 1}-{month:02d}"
    empty = client.get(EXPORT, query_string={"period": other}, headers=AUTH)
    assert empty.status_code == 200
    assert len(list(csv.reader(io.StringIO(empty.data.decode("utf-8-sig"))))) == 1


# ---------------------------------------------------------------- retries


def test_retry_with_same_id_is_answered_once(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    chat = WebChat(client, "retry-session-1")
    first = chat.post("Hola", "msg-1")
    again = chat.post("Hola", "msg-1")
    assert first == again and "Ley 1581" in first[-1]["text"]
    assert "alcaldía o gobernación" in chat.say("si", "msg-2")
    assert chat.post("si", "msg-2") == chat.last  # a late retry of the previous message: the same answer again
    log = history(client, chat.session)
    assert [t for d, t in log if d == "in"] == ["Hola", "si"]
    with sessions() as s:
        inbound = s.scalars(select(MessageLog.text).where(MessageLog.direction == "in")).all()
        assert inbound == ["Hola", "si"]
        contact = s.scalars(select(Contact)).one()
        assert contact.consent is True and contact.entity_code is None  # "si" was processed exactly once
    # The next message moves on exactly once too: the entity question is still the current one.
    assert "Génova (Quindío)" in chat.say("genova quindio", "msg-3")


def test_ids_are_per_session(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    # The id comes from the browser: another session that reuses it must get its own answer, never this one's.
    a, b = WebChat(client, "session-aaaa"), WebChat(client, "session-bbbb")
    a.say("Hola", "same-id-1")
    assert "alcaldía o gobernación" in a.say("si", "same-id-2")
    assert "Ley 1581" in b.say("Hola", "same-id-2")
    assert history(client, b.session) == b.transcript
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageLog).where(MessageLog.direction == "in")) == 3


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "body",
    [
        {"session": "short", "text": "hola"},
        {"session": "has spaces in it", "text": "hola"},
        {"session": "x" * 65, "text": "hola"},
        {"session": "<script>x</script>", "text": "hola"},
        {"text": "hola"},
        {"session": "valid-session-1", "text": ""},
        {"session": "valid-session-1", "text": "   \n "},
        {"session": "valid-session-1"},
        {"session": "valid-session-1", "text": "x" * 4001},
        [1, 2],
        "hola",
        42,
        None,
    ],
    ids=["short-session", "space-session", "long-session", "html-session", "no-session", "empty-text",
         "blank-text", "no-text", "text-4001", "json-list", "json-string", "json-number", "json-null"],
)
def test_send_rejects_bad_input(shared_app: Flask, body: Any) -> None:
    response = shared_app.test_client().post(SEND, json=body)
    assert response.status_code == 400 and response.mimetype == "application/json"
    assert "error" in response.get_json()
    assert stored_messages(shared_app) == 0


def test_send_rejects_non_json_and_huge_bodies(shared_app: Flask) -> None:
    client = shared_app.test_client()
    assert client.post(SEND, data="session=valid-session-1&text=hola").status_code == 400
    assert client.post(SEND, data="{not json", content_type="application/json").status_code == 400
    huge = {"session": "valid-session-1", "text": "x" * (2 * 1024 * 1024)}
    assert client.post(SEND, json=huge).status_code == 413  # refused before it is read (MAX_CONTENT_LENGTH)
    assert stored_messages(shared_app) == 0


def test_send_accepts_4000_characters(client: FlaskClient) -> None:
    chat = WebChat(client, "long-text-1")
    chat.say("x" * 4000)
    assert history(client, chat.session)[0] == ("in", "x" * 4000)


def test_export_rejects_bad_parameters(shared_app: Flask) -> None:
    client = shared_app.test_client()
    anonymous = client.get(EXPORT, query_string={"period": "2026-11"})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(EXPORT, query_string={"period": "2026-11"},
                      headers={"Authorization": "Bearer wrong"}).status_code == 401
    for query in ({}, {"period": "2026"}, {"period": "2026-13"}, {"period": "2026-00"}, {"period": "26-11"},
                  {"period": "2026-11-01"}, {"period": "2026-11", "format": "pdf"},
                  {"period": "2026-11", "format": "CSV"}):
        response = client.get(EXPORT, query_string=query, headers=AUTH)
        assert response.status_code == 400 and response.mimetype == "application/json", query
        assert "error" in response.get_json()


# ---------------------------------------------------------------- untrusted respondent text


def test_respondent_html_is_never_rendered(client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    payload = "<script>alert(1)</script>"
    chat = WebChat(client, "xss-session-1")
    chat.say("Hola")
    chat.say("si")
    chat.say("genova quindio")
    assert "nombre" in chat.say("sí")
    assert "Escriba su nombre" in chat.say(payload)  # markup is not a name; the message is logged as data
    assert "cargo" in chat.say("OMITIR")
    for path in ("/simulador", "/"):
        html = client.get(path).get_data(as_text=True)
        assert payload not in html and "alert(1)" not in html
    response = client.get(HISTORY, query_string={"session": chat.session})
    assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert ("in", payload) in history(client, chat.session)
    sent = client.post(SEND, json={"session": chat.session, "text": payload})
    assert sent.mimetype == "application/json" and sent.headers["X-Content-Type-Options"] == "nosniff"


def test_health_is_503_when_the_database_is_down_at_boot(tmp_path: Path) -> None:
    missing = tmp_path / "not-a-dir"
    missing.write_text("a file where the database folder should be")
    app = create_app(f"sqlite:///{missing}/m360.sqlite3", prepare_database=False)
    response = app.test_client().get("/health")
    assert response.status_code == 503 and response.get_json() == {"status": "error", "database": "unreachable"}


def test_proactive_messages_reach_the_simulator(client: FlaskClient) -> None:
    """A ticket update goes through the outbox to the simulator session, where the page polls for it."""
    from datetime import UTC, datetime

    from bot.helpdesk import ticketing
    from surveys import db
    from surveys.models import Ticket

    app = client.application
    chat = WebChat(client)
    register(chat)  # type: ignore[arg-type]
    chat.say("2")
    for text in ("necesito ayuda con el plan indicativo", "si", "1", "1", "1", "1", "no", "si"):
        chat.say(text)
    last_id = client.post(SEND, json={"session": chat.session, "text": "gracias", "id": "m-last"}).get_json()["last_id"]
    sessions = app.extensions["m360.sessions"]
    with sessions() as s:
        code = s.scalars(select(Ticket.code)).one()
    with db.transaction(sessions.kw["bind"]) as conn:
        ticketing.transition(conn, code, "asignada", actor="der", now=datetime.now(UTC), note="Le enviamos la guía.")
    assert app.extensions["m360.outbox"].sender.run_once() == 1
    response = client.get(HISTORY, query_string={"session": chat.session, "after": last_id})
    [update] = response.get_json()["messages"]
    assert update["direction"] == "out" and code in update["text"] and "Le enviamos la guía." in update["text"]
    assert client.get(HISTORY, query_string={"session": chat.session, "after": update["id"]}).get_json() == {
        "messages": []}
