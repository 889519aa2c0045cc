"""Panel sessions live on the server: a cookie saved before signing out, changing the password or
disabling the account opens nothing afterwards; and the sign-in throttle is counted atomically in
the database, so parallel guesses sent to several workers at once get no more than the limit checked.
Real HTTP requests (Flask's test client) on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.accounts import create_user
from bot.alerts.alerting import Alerts, load_config
from surveys import db
from surveys.models import Alert
from tests.support.panel import PASSWORD, csrf, engine, signed_in
from tests.support.processes import m360
from webhooks import sessions
from webhooks.app import create_app

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(db_url, SECRET_KEY="sessions-secret", M360_RATELIMIT_ENABLED="0")
    with db.transaction(engine(app)) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    yield app
    engine(app).dispose()


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replayed(app: Flask, cookie: str) -> FlaskClient:
    """Another browser presenting a copy of a saved session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def open_alert(app: Flask) -> int:
    with db.transaction(engine(app)) as conn:
        alerts = Alerts(config=load_config(), destinations=())
        alert_id = alerts.raise_alert(conn, alerts.config.rules["ticket_nuevo"], key="sesiones", now=NOW,
                                      entity_code="63302", code="MDA-2026-00001", themes="Plan Indicativo")
    assert alert_id is not None
    return alert_id


def alert_status(app: Flask, alert_id: int) -> str:
    with engine(app).connect() as conn:
        return str(conn.execute(select(Alert.status).where(Alert.id == alert_id)).scalar_one())


def is_signed_out(response: Any) -> bool:
    return response.status_code == 302 and "/panel/login" in response.headers["Location"]


def test_a_cookie_saved_before_logout_cannot_acknowledge_an_alert(app: Flask) -> None:
    alert_id = open_alert(app)
    client = signed_in(app, "luis")
    token = csrf(client.get("/panel/alertas").data)
    saved = session_cookie(client)
    assert is_signed_out(client.post("/panel/logout", data={"csrf": token}))
    thief = replayed(app, saved)
    assert is_signed_out(thief.get("/panel/alertas"))
    assert is_signed_out(thief.post(f"/panel/alertas/{alert_id}/reconocer", data={"csrf": token}))
    assert alert_status(app, alert_id) == "abierta"
    # The same steps without signing out do acknowledge it: the refusal above is the logout's doing.
    client = signed_in(app, "luis")
    token = csrf(client.get("/panel/alertas").data)
    assert replayed(app, session_cookie(client)).post(f"/panel/alertas/{alert_id}/reconocer",
                                                      data={"csrf": token}).status_code == 302
    assert alert_status(app, alert_id) == "reconocida"


def test_a_password_change_in_the_panel_signs_out_every_other_session(app: Flask) -> None:
    office, phone = signed_in(app, "luis"), signed_in(app, "luis")
    saved = session_cookie(phone)
    page = office.get("/panel/clave")
    assert page.status_code == 200 and "Contraseña actual" in page.get_data(as_text=True)
    form = {"actual": PASSWORD, "nueva": "otra clave muy larga", "repetir": "otra clave muy larga",
            "csrf": csrf(page.data)}
    wrong = office.post("/panel/clave", data={**form, "actual": "no es esta-000"})
    assert wrong.status_code == 400 and "no es correcta" in wrong.get_data(as_text=True)
    assert office.get("/panel/alertas").status_code == 200 and phone.get("/panel/alertas").status_code == 200
    assert office.post("/panel/clave", data=form).status_code == 302
    assert office.get("/panel/alertas").status_code == 200  # who changed it stays signed in
    assert is_signed_out(phone.get("/panel/alertas"))
    assert is_signed_out(replayed(app, saved).get("/panel/alertas"))
    again = app.test_client()
    token = csrf(again.get("/panel/login").data)
    assert again.post("/panel/login", data={"username": "luis", "password": PASSWORD, "csrf": token}).status_code == 401
    assert again.post("/panel/login", data={"username": "luis", "password": "otra clave muy larga",
                                            "csrf": token}).status_code == 302


def test_an_enlace_changes_their_password_and_guesses_of_the_current_one_are_throttled(app: Flask) -> None:
    """Every account has the «Cambiar contraseña» link, an enlace's too; a browser left signed in
    is not a way to guess the password (the sign-in throttle counts these checks as well)."""
    with db.transaction(engine(app)) as conn:
        create_user(conn, username="marta", name="Marta", role="enlace", password=PASSWORD)
    client = signed_in(app, "marta")
    page = client.get("/panel/clave")
    assert page.status_code == 200 and "Contraseña actual" in page.get_data(as_text=True)
    form = {"actual": PASSWORD, "nueva": "clave nueva de marta", "repetir": "clave nueva de marta",
            "csrf": csrf(page.data)}
    assert client.post("/panel/clave", data=form).status_code == 302
    assert client.get("/panel/solicitudes").status_code == 200  # still signed in, on her entities' tickets
    page = client.get("/panel/clave")
    form = {**form, "actual": "clave nueva de marta", "nueva": "y otra mas larga", "repetir": "y otra mas larga",
            "csrf": csrf(page.data)}
    for guess in range(sessions.MAX_ATTEMPTS):
        wrong = client.post("/panel/clave", data={**form, "actual": f"adivina-{guess}"})
        assert wrong.status_code == 400 and "no es correcta" in wrong.get_data(as_text=True)
    refused = client.post("/panel/clave", data=form)  # the right one, after the limit: not even checked
    assert refused.status_code == 400 and "Demasiados intentos" in refused.get_data(as_text=True)
    other = app.test_client()
    token = csrf(other.get("/panel/login").data)
    assert other.post("/panel/login", data={"username": "marta", "password": "y otra mas larga",
                                            "csrf": token}).status_code == 401
    assert other.post("/panel/login", data={"username": "marta", "password": "clave nueva de marta",
                                            "csrf": token}).status_code == 401  # the same throttle


def test_a_password_change_or_disabling_from_the_command_line_ends_sessions(app: Flask, db_url: str,
                                                                          tmp_path: Path) -> None:
    client = signed_in(app, "luis")
    m360("users", "password", "luis", "--password-stdin", url=db_url, cwd=tmp_path,
         stdin="clave nueva desde la consola\n")
    assert is_signed_out(client.get("/panel/alertas"))
    short = m360("users", "password", "luis", "--password-stdin", url=db_url, cwd=tmp_path, stdin="corta\n", ok=False)
    assert "at least" in short.stderr
    client = app.test_client()
    token = csrf(client.get("/panel/login").data)
    assert client.post("/panel/login", data={"username": "luis", "password": "clave nueva desde la consola",
                                             "csrf": token}).status_code == 302
    m360("users", "disable", "luis", url=db_url, cwd=tmp_path)
    assert is_signed_out(client.get("/panel/alertas"))


def test_an_expired_session_is_refused_even_with_a_valid_signed_cookie(app: Flask) -> None:
    client = signed_in(app, "luis")
    with engine(app).connect() as conn:
        expires = conn.execute(select(sessions.SESSIONS.c.expires_at)).scalar_one()
    for moment, signed_out in ((expires - sessions.WINDOW, False), (expires, True)):
        clocked = create_app(str(engine(app).url), SECRET_KEY="sessions-secret", M360_CLOCK=lambda m=moment: m)
        try:
            assert is_signed_out(replayed(clocked, session_cookie(client)).get("/panel/alertas")) is signed_out
        finally:
            engine(clocked).dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, db_url: str) -> str:
    return db_url if request.param == "sqlite" else str(request.getfixturevalue("pg_db_url"))


def test_sixty_parallel_wrong_guesses_on_two_workers_get_at_most_the_limit_checked(shared_url: str) -> None:
    """Two apps on one database stand for two gunicorn workers; 60 guesses arrive at once."""
    workers = [create_app(shared_url, SECRET_KEY="sessions-secret", M360_RATELIMIT_ENABLED="0") for _ in range(2)]
    with db.transaction(engine(workers[0])) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    clients = []
    for index in range(60):
        client = workers[index % 2].test_client()
        clients.append((client, csrf(client.get("/panel/login").data)))
    start, answers, lock = threading.Barrier(60), [], threading.Lock()

    def guess(client: FlaskClient, token: str, index: int) -> None:
        start.wait()
        page = client.post("/panel/login", data={"username": "luis", "password": f"intento-{index:04d}",
                                                 "csrf": token}).get_data(as_text=True)
        with lock:
            answers.append(page)

    threads = [threading.Thread(target=guess, args=(c, t, i)) for i, (c, t) in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert len(answers) == 60
        checked = sum("Usuario o contraseña incorrectos" in page for page in answers)
        refused = sum("Demasiados intentos" in page for page in answers)
        assert checked == sessions.MAX_ATTEMPTS and refused == 60 - sessions.MAX_ATTEMPTS
        # The right password is refused too until the window passes, on either worker.
        for worker in workers:
            client = worker.test_client()
            token = csrf(client.get("/panel/login").data)
            locked = client.post("/panel/login", data={"username": "luis", "password": PASSWORD, "csrf": token})
            assert locked.status_code == 401 and "Demasiados intentos" in locked.get_data(as_text=True)
    finally:
        for worker in workers:
            engine(worker).dispose()


def test_the_throttle_window_passes_and_a_success_clears_the_count(app: Flask) -> None:
    key = sessions.throttle_key("Luis ", "10.0.0.9")
    assert key == sessions.throttle_key("luis", "10.0.0.9") and key != sessions.throttle_key("luis", "10.0.0.8")
    counts = [sessions.count_attempt(engine(app), key, NOW) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert sessions.count_attempt(engine(app), key, NOW + sessions.WINDOW) == 1  # a new window
    with db.transaction(engine(app)) as conn:
        sessions.clear_attempts(conn, key)
    assert sessions.count_attempt(engine(app), key, NOW + sessions.WINDOW) == 1
