"""No page, API call or chat turn reads the machine's clock: the app runs on an injected clock
(``M360_CLOCK``) set years away from every fixture date here, and what it stores and shows follows
that clock. A handler that read the wall clock instead would store today's month, count "overdue"
from today, or default the panel to today's period, and these tests would fail on any day."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot.accounts import create_user
from bot.alerts.alerting import Alerts
from bot.helpdesk import ticketing
from surveys import db, schema, store
from surveys.models import Contact, Interview, MessageLog
from tests.support.panel import PASSWORD, signed_in
from webhooks.app import create_app

FAR = datetime(2031, 3, 4, 15, 30, tzinfo=UTC)  # a Tuesday, years after the fixtures' 2026 dates
ADMIN = "admin-bootstrap-token"
ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(FAR)


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[Flask]:
    app = create_app(db_url, providers={}, SECRET_KEY="test-secret", M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=clock)
    with db.transaction(engine(app)) as conn:
        create_user(conn, username="luis", name="Luis", role="der", password=PASSWORD)
    yield app
    engine(app).dispose()


def engine(app: Flask) -> Any:
    return app.extensions["m360.sessions"].kw["bind"]


def test_a_chat_turn_is_stamped_and_filed_by_the_apps_clock(app: Flask, clock: Clock) -> None:
    client = app.test_client()
    for text in ("Hola", "si", "genova quindio", "si", "Ana", "1", "1", "4"):
        response = client.post("/simulador/api/send", json={"session": "reloj-2031", "text": text})
        assert response.status_code == 200, response.get_json()
        clock.now += timedelta(minutes=1)
    with engine(app).connect() as conn:
        contact = conn.execute(select(Contact).where(Contact.address == "reloj-2031")).one()
        interview = conn.execute(select(Interview).where(Interview.contact_id == contact.id)).one()
        stamps = conn.scalars(select(MessageLog.created_at).where(MessageLog.contact_id == contact.id)).all()
    assert interview.period == "2031-03"  # the month of the app's clock, in Bogotá
    assert interview.started_at.replace(tzinfo=UTC) >= FAR
    assert stamps and all(s.replace(tzinfo=UTC) >= FAR for s in stamps)


def test_overdue_tickets_are_counted_from_the_apps_clock(app: Flask) -> None:
    with db.transaction(engine(app)) as conn:
        late = ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="whatsapp",
                               need="necesitamos ayuda con el plan indicativo", themes=["plan_indicativo"],
                               now=FAR - timedelta(days=60), alerts=Alerts(destinations=())).code
        fresh = ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="whatsapp",
                                need="ayuda con el presupuesto", themes=["armonizacion_presupuestal"],
                                now=FAR - timedelta(days=1), alerts=Alerts(destinations=())).code
    client = app.test_client()
    auth = {"Authorization": f"Bearer {ADMIN}"}

    def listed(**query: str) -> list[str]:
        response = client.get("/api/v1/help-requests", query_string=query, headers=auth)
        assert response.status_code == 200, response.get_json()
        return [item["code"] for item in response.get_json()["items"]]

    assert listed(overdue="true") == [late] and listed(overdue="false") == [fresh]
    panel = signed_in(app, "luis")
    page = panel.get("/panel/solicitudes", query_string={"vencidas": "1"}).get_data(as_text=True)
    assert late in page and fresh not in page


def test_the_panel_defaults_to_the_month_of_the_apps_clock(app: Flask) -> None:
    page = signed_in(app, "luis").get("/panel/").get_data(as_text=True)
    assert re.search(r'<option value="2031-03"[^>]*selected', page), "the panel's period is not the clock's month"


def test_reports_are_stamped_by_the_apps_clock_and_a_cut_not_begun_is_refused(app: Flask) -> None:
    """«generado el …» is the app's time; a cut that starts after the clock's month cannot hold an
    answer, and its empty report would read as «no interviews»: the API has none (404), and says why."""
    api = app.test_client()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    report = api.get("/api/v1/reports/2031-03", headers=auth)
    assert report.status_code == 200 and report.get_json()["generated_at"] == "2031-03-04T15:30:00+00:00"
    download = signed_in(app, "luis").get("/panel/descargas/informe.json?periodo=2031-03")
    assert json.loads(download.data)["generated_at"] == "2031-03-04T15:30:00+00:00"
    for started in ("2031-03", "2031-Q1", "2031", "2030-12"):  # the month in progress counts as begun
        assert api.get(f"/api/v1/reports/{started}", headers=auth).status_code == 200, started
        assert api.get(f"/api/v1/reports/mesa/{started}", headers=auth).status_code == 200, started
    for path in ("/api/v1/reports/2031-04", "/api/v1/reports/2031-Q2", "/api/v1/reports/2032",
                 "/api/v1/reports/mesa/2031-04", "/api/v1/responses?period=2031-04",
                 "/export/responses?period=2031-04&format=xlsx"):
        refused = api.get(path, headers=auth)
        assert refused.status_code == 404, path
        assert "has not started yet (today is 2031-03-04)" in refused.get_json()["error"], path
    assert api.get("/api/v1/responses?period=2031-03", headers=auth).get_json()["items"] == []
    # A wave for April launched early files its interviews under April: that cut has begun.
    with app.extensions["m360.sessions"]() as session:
        version = store.QuestionnaireStore().ensure(session, schema.builtin("monitoreo360"))
        session.commit()
    with db.transaction(engine(app)) as conn:
        store.new_interview(conn, questionnaire_id=version, contact_id=None, entity_code="63302", channel="whatsapp",
                            now=FAR, tz="America/Bogota", period="2031-04")
    assert api.get("/api/v1/reports/2031-04", headers=auth).status_code == 200
    assert api.get("/api/v1/responses?period=2031-04", headers=auth).get_json()["total"] == 1


# Wall-clock reads in request handlers: each is a date a test cannot move. webhooks/clock.py is the
# one place the app's handlers take the time from; the rate limiter counts real seconds on purpose.
WALL_CLOCK = {("datetime", "now"), ("date", "today"), ("time", "time")}
ALLOWED = {"webhooks/clock.py", "webhooks/limits.py"}


def _wall_clock_reads(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # ``now or utcnow()``: a function whose caller passes the time, the wall clock only as its default.
    defaults = {id(op.values[-1]) for op in ast.walk(tree) if isinstance(op, ast.BoolOp) and isinstance(op.op, ast.Or)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or id(node) in defaults:
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in {"utcnow", "local_today"} and not node.args:
            found.append(f"{func.id}() line {node.lineno}")
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if (func.value.id, func.attr) in WALL_CLOCK or (func.attr == "local_today" and not node.args):
                found.append(f"{func.value.id}.{func.attr}() line {node.lineno}")
    return found


def test_request_handlers_take_the_time_from_the_apps_clock() -> None:
    offenders = {}
    for path in sorted((ROOT / "webhooks").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name not in ALLOWED and (reads := _wall_clock_reads(path)):
            offenders[name] = reads
    assert offenders == {}
