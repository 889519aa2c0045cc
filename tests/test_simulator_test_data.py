"""The web simulator is test data: anyone can open it and claim any entity, so its interviews,
tickets and alerts never reach the informe, the exports, the DER, the waves or the API (the panel
shows them when asked); in production it needs a panel sign-in; and a simulator conversation lists
only the tickets it opened itself. Real HTTP requests to the Flask app on a real SQLite database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from analysis import export
from analysis.report import build_report
from bot.accounts import create_user
from bot.alerts.alerting import Alerts
from bot.service import ChatService
from bot.waves import campaign
from surveys import db
from surveys.models import Alert, Interview, OutboxMessage, Ticket, WaveMember
from tests.support.channels import WebChat
from tests.support.conversation import INTERVIEW, Chat, register, request_help, start_interview
from tests.support.panel import PASSWORD, csrf
from webhooks.app import create_app

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
ADMIN = "sim-admin"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
# An interview that would raise every alert: "Muy mala", "No", score 1, wants an adviser.
SPITEFUL = {0: "1", 2: "1", 3: "1", 4: "1", 5: "1", 6: "1", 7: "1", 8: "muy mala", 9: "mala", 11: "no",
            13: "no", 15: "no", 19: "si"}


def engine(app: Flask) -> Any:
    return app.extensions["m360.sessions"].kw["bind"]


@pytest.fixture
def app(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("M360_DER_TELEGRAM_CHAT_ID", "-100777")  # a destination: a real alert would be queued
    monkeypatch.delenv("M360_SIMULATOR", raising=False)
    monkeypatch.delenv("M360_PUBLIC_URL", raising=False)
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN, M360_RATELIMIT_ENABLED="0", M360_CLOCK=lambda: NOW)
    with db.transaction(engine(app)) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    yield app
    engine(app).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def interview(chat: Any, replace: dict[int, str] | None = None) -> None:
    register(chat)
    start_interview(chat)
    for index, (text, _) in enumerate(INTERVIEW):
        chat.say((replace or {}).get(index, text))


def real_official(app: Flask) -> Chat:
    return Chat(ChatService(app.extensions["m360.sessions"]), address="+573001110000", channel="whatsapp")


def signed_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    token = csrf(client.get("/panel/login").data)
    assert client.post("/panel/login", data={"username": "luis", "password": PASSWORD,
                                             "csrf": token}).status_code == 302
    return client


def test_simulator_interviews_count_nowhere_and_raise_no_der_alert(app: Flask, client: FlaskClient) -> None:
    """One real interview for Génova, then two spiteful ones typed in the simulator claiming Génova."""
    interview(real_official(app))
    for session in ("sim-spite-0001", "sim-spite-0002"):
        interview(WebChat(client, session), SPITEFUL)
    with app.extensions["m360.sessions"]() as session:
        report = build_report(session, "2026-11")
        rows = export.export_frame(session, "2026-11")
        everything = build_report(session, "2026-11", include_test=True)
        assert session.scalar(select(func.count()).select_from(Interview)) == 3  # stored, not lost
    assert report["summary"]["interviews"] == 1 and everything["summary"]["interviews"] == 3
    assert list(rows["canal"]) == ["whatsapp"]
    assert client.get("/api/v1/reports/2026-11", headers=AUTH).get_json()["summary"]["interviews"] == 1
    assert client.get("/api/v1/responses?period=2026-11", headers=AUTH).get_json()["total"] == 1
    exported = client.get("/export/responses?period=2026-11&format=csv", headers=AUTH).data.decode("utf-8-sig")
    assert exported.count("\r\n") == 2 and "simulator" not in exported  # the header and the real row
    # The spiteful interviews raised their alerts as test data: stored, never queued for the DER.
    with engine(app).connect() as conn:
        alerts = conn.execute(select(Alert.rule, Alert.test)).all()
        queued = conn.execute(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "alert")).scalar_one()
    assert {rule for rule, test in alerts if test} >= {"insatisfaccion", "tema_mala", "contribucion_no"}
    # The real official's own: 5.2 "Sí" and a "No" in Bloque 4 — each queued once for the DER.
    real = sorted(rule for rule, test in alerts if not test)
    assert real == ["contacto_asesor", "contribucion_no"] and queued == 2
    listed = client.get("/api/v1/alerts?limit=500", headers=AUTH).get_json()
    assert sorted(a["rule"] for a in listed["items"]) == real and listed["total"] == 2
    assert [t["channel"] for t in client.get("/api/v1/help-requests", headers=AUTH).get_json()["items"]] == [
        "whatsapp"]


def test_simulator_demand_never_makes_a_spike(app: Flask, client: FlaskClient) -> None:
    """Three simulator sessions claiming three Eje Cafetero entities ask for one theme: no pico_demanda."""
    for session, entity, display in (("sim-pico-0001", "genova quindio", "Génova (Quindío)"),
                                     ("sim-pico-0002", "armenia quindio", "Armenia (Quindío)"),
                                     ("sim-pico-0003", "calarca", "Calarcá (Quindío)")):
        chat = WebChat(client, session)
        register(chat, entity=entity, display=display)  # type: ignore[arg-type]
        request_help(chat)  # type: ignore[arg-type]
    with engine(app).connect() as conn:
        assert conn.execute(select(func.count()).select_from(Ticket)).scalar_one() == 3
        assert conn.execute(select(Alert.rule).where(Alert.rule == "pico_demanda")).all() == []


def test_the_panel_shows_simulator_data_only_when_asked(app: Flask, client: FlaskClient) -> None:
    real = real_official(app)
    register(real)
    request_help(real)
    interview(WebChat(client, "sim-panel-0001"), SPITEFUL)
    panel = signed_in(app)

    def tickets(query: str = "") -> list[str]:
        return re.findall(r"MDA-2026-\d{5}", panel.get(f"/panel/solicitudes?estado=todas{query}").get_data(
            as_text=True))

    def summary(query: str = "") -> str:
        return panel.get(f"/panel/?periodo=2026-11{query}").get_data(as_text=True)

    assert len(set(tickets())) == 1 and len(set(tickets("&pruebas=1"))) == 2
    assert "prueba" in panel.get("/panel/solicitudes?estado=todas&pruebas=1").get_data(as_text=True)
    alerts, with_test = (panel.get(f"/panel/alertas?estado=todas{q}").get_data(as_text=True)
                         for q in ("", "&pruebas=1"))
    assert "Insatisfacción" not in alerts and "insatisf" in with_test.lower()
    assert 'name="pruebas"' in summary() and "checked" not in summary().split('name="pruebas"')[1][:20]
    csv_real = panel.get("/panel/descargas/respuestas.csv?periodo=2026-11").data.decode("utf-8-sig")
    csv_all = panel.get("/panel/descargas/respuestas.csv?periodo=2026-11&pruebas=1").data.decode("utf-8-sig")
    assert "simulator" not in csv_real and "simulator" in csv_all


def test_a_simulator_conversation_lists_only_the_tickets_it_opened(app: Flask, client: FlaskClient) -> None:
    real = real_official(app)
    register(real)
    request_help(real)
    with engine(app).connect() as conn:
        real_code = conn.execute(select(Ticket.code)).scalar_one()
    probe = WebChat(client, "sim-probe-0001")
    register(probe)  # type: ignore[arg-type]  # claims Génova, as the real official did
    assert real_code not in probe.say("3")
    assert "No encontré la solicitud" in probe.say(f"estado {real_code}")
    probe.say("MENU")
    done = request_help(probe)  # type: ignore[arg-type]
    own = re.search(r"MDA-2026-\d{5}", done)
    assert own is not None
    probe.say("MENU")
    listing = probe.say("3")
    assert own.group(0) in listing and real_code not in listing
    # And the real official of Génova never sees the simulator's ticket among the entity's.
    real.say("MENU")
    listing = real.say("3")
    assert real_code in listing and own.group(0) not in listing
    assert "No encontré la solicitud" in real.say(f"estado {own.group(0)}")


def test_waves_never_invite_through_a_simulator_conversation(app: Flask, client: FlaskClient) -> None:
    register(WebChat(client, "sim-wave-0001"))  # type: ignore[arg-type]  # consents and claims Génova
    register(real_official(app), entity="armenia quindio", display="Armenia (Quindío)")
    with db.transaction(engine(app)) as conn:
        spec = campaign.Spec(period="2026-11", size=None, regions=("Eje Cafetero y Antioquia",))
        created = campaign.create(conn, spec, now=NOW)
        members = dict(conn.execute(select(WaveMember.entity_code, WaveMember.contact_id)
                                    .where(WaveMember.wave_id == created.id)).all())
    assert members.get("63001") is not None  # the real official of Armenia is Armenia's contact
    assert members.get("63302") is None  # Génova has none: the simulator session is not one


@pytest.mark.parametrize(("config", "env", "expected"), [
    ({}, {}, "open"),
    ({"M360_PRODUCTION": True}, {}, "login"),
    ({}, {"M360_PUBLIC_URL": "https://m360.dnp.gov.co"}, "login"),
    ({"M360_PRODUCTION": True}, {"M360_SIMULATOR": "1"}, "open"),
    ({}, {"M360_SIMULATOR": "0"}, "off"),
    ({}, {"M360_SIMULATOR": "login"}, "login"),
])
def test_in_production_the_simulator_needs_a_panel_sign_in(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                            config: dict[str, Any], env: dict[str, str],
                                                            expected: str) -> None:
    for name in ("M360_SIMULATOR", "M360_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app(db_url, M360_RATELIMIT_ENABLED="0", **config)
    with db.transaction(engine(app)) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    try:
        anonymous = app.test_client()
        page = anonymous.get("/simulador")
        send = anonymous.post("/simulador/api/send", json={"session": "sim-gate-0001", "text": "Hola"})
        history = anonymous.get("/simulador/api/history?session=sim-gate-0001")
        status = {"open": (200, 200, 200), "login": (302, 401, 401), "off": (404, 404, 404)}[expected]
        assert (page.status_code, send.status_code, history.status_code) == status
        if expected == "login":
            assert "/panel/login" in page.headers["Location"] and "simulador" in page.headers["Location"]
            assert send.is_json and "panel" in send.get_json()["error"]
            with engine(app).connect() as conn:  # nothing was stored for the anonymous message
                assert conn.execute(select(func.count()).select_from(Interview)).scalar_one() == 0
            staff = signed_in(app)
            assert staff.get("/simulador").status_code == 200
            assert staff.post("/simulador/api/send", json={"session": "sim-gate-0002", "text": "Hola"}
                              ).status_code == 200
    finally:
        engine(app).dispose()


def test_a_simulator_ticket_past_its_deadline_raises_only_a_test_alert(app: Flask, client: FlaskClient) -> None:
    chat = WebChat(client, "sim-late-0001")
    register(chat)  # type: ignore[arg-type]
    request_help(chat)  # type: ignore[arg-type]
    with db.transaction(engine(app)) as conn:
        assert Alerts().check_overdue(conn, NOW + timedelta(days=40)) == 1
    with engine(app).connect() as conn:
        assert conn.execute(select(Alert.test).where(Alert.rule == "ticket_vencido")).scalar_one() is True
        assert conn.execute(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.kind == "alert")).scalar_one() == 0
