"""The mesa de ayuda's own report, on a real SQLite database with tickets whose whole history is
known: volumes by theme, region, channel and enlace, business days to the first answer and to the
answer the term is about, the share answered on time, overdue, referrals and satisfaction — the
same numbers through the CLI (HTML, XLSX, JSON), the API and the panel, per period and filter."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import Engine

from bot.accounts import create_user
from bot.alerts.alerting import Alerts
from bot.directory import staff
from bot.helpdesk import mesa, ticketing
from surveys import db
from surveys.models import Contact
from tests.support.panel import PASSWORD, signed_in
from tests.support.processes import m360
from webhooks.app import create_app

ADMIN = "mesa-admin"
REPORT_DAY = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)  # Thursday 10 December, 10:00 in Bogotá


def at(day: int, month: int = 11, hour: int = 10) -> datetime:
    """A Bogotá time as UTC."""
    return datetime(2026, month, day, hour + 5, 0, tzinfo=UTC)


def build_history(engine: Engine) -> dict[str, str]:
    """Five tickets of November and one of December, each with a known life:

    - A Génova (Eje Cafetero, enlace Marta), WhatsApp, plan indicativo, on Monday 2 November (a holiday:
      received on the 3rd): assigned the same day, answered on the 5th (2 business days), closed, rated 5;
    - B Medellín (Eje Cafetero, enlace Pedro), phone, proyectos + plan indicativo: first note 2 business
      days later, referred to the Ministerio de Hacienda 5 business days after it arrived;
    - C Cali (Pacífico, no enlace), e-mail, documentos (10 days): nobody touched it — overdue;
    - D Cali, e-mail, documentos: first touched and answered after 12 business days (late), closed, rated 2;
    - E a grupo de valor still waiting for validation: it does not count;
    - F Génova in December (only in the quarter).
    """
    alerts = Alerts(destinations=())
    with db.transaction(engine) as conn:
        staff.import_rows(conn, [{"rol": "enlace", "nombre": "Marta Gómez", "entidades": "63302", "usuario": "marta"},
                                 {"rol": "enlace", "nombre": "Pedro Ruiz", "entidades": "05001"}], now=at(1))
        requester = int(conn.execute(Contact.__table__.insert(), dict(
            channel="simulator", address="mesa-rater", entity_code="63302", consent=True, opted_out=False,
            state={}, state_version=0, created_at=at(1))).inserted_primary_key[0])

        def new(code: str, when: datetime, themes: list[str], channel: str, **kw: Any) -> str:
            return ticketing.create(conn, entity_code=code, region=None, contact_id=kw.pop("contact_id", None),
                                   channel=channel, need="…", themes=themes, now=when, alerts=alerts, **kw).code

        a = new("63302", at(2), ["plan_indicativo"], "whatsapp", contact_id=requester)
        ticketing.change(conn, a, actor="der:luis", now=at(2, hour=15), status="asignada")
        ticketing.change(conn, a, actor="der:luis", now=at(5), status="respondida", note="Le enviamos la guía")
        ticketing.change(conn, a, actor="der:luis", now=at(6), status="cerrada")
        ticketing.rate(conn, a, 5, contact_id=requester, now=at(6, hour=11))
        b = new("05001", at(3), ["proyectos", "plan_indicativo"], "telefono")
        ticketing.change(conn, b, actor="der:luis", now=at(5), note="Revisamos el caso")
        ticketing.change(conn, b, actor="der:luis", now=at(10), status="remitida",
                        referred_to="Ministerio de Hacienda")
        c = new("76001", at(4), ["seguimiento_pdt"], "correo", request_type="documentos")
        d = new("76001", at(5), ["seguimiento_pdt"], "correo", request_type="documentos")
        ticketing.change(conn, d, actor="der:luis", now=at(24, hour=9), status="asignada")  # 12 business days:
        ticketing.change(conn, d, actor="der:luis", now=at(24), status="respondida")  # 16 Nov is a holiday
        ticketing.change(conn, d, actor="der:luis", now=at(25), status="cerrada")
        conn.execute(ticketing.REQUESTS.update().where(ticketing.REQUESTS.c.code == d).values(satisfaction=2))
        from bot.helpdesk import grupos

        waiting = grupos.register(conn, group="cooperante", name="ONG Ejemplo", seat=None, now=at(6), alerts=alerts)
        new(waiting, at(6), ["otro"], "correo")
        f = new("63302", at(2, month=12), ["plan_indicativo"], "whatsapp")
    return {"A": a, "B": b, "C": c, "D": d, "F": f}


def test_the_figures_of_a_month(sessions: Any) -> None:
    engine = sessions.kw["bind"]
    codes = build_history(engine)
    with engine.connect() as conn:
        r = mesa.build(conn, "2026-11", now=REPORT_DAY)
    s = r["summary"]
    assert (s["received"], s["open"], s["answered"], s["answered_on_time"], s["answered_late"]) == (4, 1, 3, 2, 1)
    assert (s["pct_on_time"], s["overdue"], s["closed"], s["referred"]) == (66.7, 1, 3, 1)
    assert s["first_response_days"] == {"n": 3, "median": 2.0, "mean": 4.67}  # 0, 2 and 12 business days
    assert s["answer_days"] == {"n": 3, "median": 5.0, "mean": 6.33}  # 2, 5 and 12
    assert s["satisfaction"]["n"] == 2 and s["satisfaction"]["mean"] == 3.5 and s["satisfaction"]["pct_satisfied"] == 50
    by = {key: {x["label"]: x["received"] for x in r[key]} for key in ("by_theme", "by_region", "by_channel",
                                                                       "by_enlace", "by_request_type")}
    assert by["by_theme"] == {"Plan indicativo": 2, "Seguimiento y evaluación del PDT": 2,
                              "Proyectos, banco de proyectos y regalías": 1}
    assert by["by_region"] == {"Eje Cafetero y Antioquia": 2, "Pacífico": 2}
    assert by["by_channel"] == {"Correo electrónico": 2, "Teléfono": 1, "WhatsApp": 1}
    assert by["by_enlace"] == {"Sin enlace asignado": 2, "Marta Gómez": 1, "Pedro Ruiz": 1}
    assert by["by_request_type"] == {"petición de documentos o información": 2, "petición general": 2}
    [late] = r["overdue"]
    assert (late["code"], late["due_date"], late["days_overdue"]) == (codes["C"], "2026-11-19", 14)
    assert r["referrals"][0]["label"] == "Ministerio de Hacienda"
    pacific = next(x for x in r["by_region"] if x["label"] == "Pacífico")
    assert (pacific["answered"], pacific["pct_on_time"], pacific["overdue"]) == (1, 0.0, 1)

    with engine.connect() as conn:
        quarter = mesa.build(conn, "2026-Q4", now=REPORT_DAY)
        theme = mesa.build(conn, "2026-11", mesa.Filters(theme="plan_indicativo"), now=REPORT_DAY)
        region = mesa.build(conn, "2026", mesa.Filters(region="pacífico"), now=REPORT_DAY)
        with pytest.raises(ValueError, match="unknown theme"):
            mesa.build(conn, "2026-11", mesa.Filters(theme="inventado"), now=REPORT_DAY)
    assert quarter["summary"]["received"] == 5 and [m["received"] for m in quarter["by_month"]] == [0, 4, 1]
    assert theme["summary"]["received"] == 2 and region["summary"]["received"] == 2


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app(db_url, providers={}, M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=lambda: REPORT_DAY, SECRET_KEY="mesa")
    engine = app.extensions["m360.sessions"].kw["bind"]
    with db.transaction(engine) as conn:
        for username, role in (("ana", "analyst"), ("marta", "enlace")):
            create_user(conn, username=username, name=username.title(), role=role, password=PASSWORD)
    build_history(engine)
    yield app
    engine.dispose()


def test_the_api_and_the_panel_show_the_same_report(app: Flask) -> None:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN}"}
    answer = client.get("/api/v1/reports/mesa/2026-11", headers=headers)
    data = answer.get_json()
    assert answer.status_code == 200 and data["summary"]["received"] == 4 and data["summary"]["overdue"] == 1
    assert client.get("/api/v1/reports/mesa/2026-11?region=Pac%C3%ADfico", headers=headers
                      ).get_json()["summary"]["received"] == 2
    for bad in ("/api/v1/reports/mesa/2026-13", "/api/v1/reports/mesa/2026-11?theme=inventado",
                "/api/v1/reports/mesa/2026-11?enlace=marta"):
        assert client.get(bad, headers=headers).status_code == 400, bad

    analyst = signed_in(app, "ana")
    page = analyst.get("/panel/mesa?periodo=2026-11").get_data(as_text=True)
    assert "Informe de la mesa de ayuda" in page and "solicitudes recibidas" in page
    assert page.count("<svg") >= 5 and "Ministerio de Hacienda" in page and 'value="2026-Q4"' in page
    assert "Marta Gómez" in page and "Pedro Ruiz" in page
    html = analyst.get("/panel/mesa/informe.html?periodo=2026-11")
    assert "attachment" in html.headers["Content-Disposition"] and "<svg" in html.get_data(as_text=True)
    sheets = load_workbook(io.BytesIO(analyst.get("/panel/mesa/informe.xlsx?periodo=2026-11").data)).sheetnames
    assert {"resumen", "por_tema", "por_region", "por_canal", "por_enlace", "vencidas"} <= set(sheets)
    assert analyst.get("/panel/mesa/informe.json?periodo=2026-11").get_json() == data | {
        "generated_at": data["generated_at"]}
    # An enlace sees the report of their own tickets only.
    mine = signed_in(app, "marta").get("/panel/mesa?periodo=2026-Q4").get_data(as_text=True)
    assert "Solo las solicitudes asignadas a usted" in mine and "Pedro Ruiz" not in mine


def test_the_cli_writes_html_xlsx_and_json(sessions: Any, db_url: str, tmp_path: Path) -> None:
    build_history(sessions.kw["bind"])
    out = m360("tickets", "report", "--period", "2026-11", url=db_url, cwd=tmp_path).stdout
    assert "4 recibidas, 3 con respuesta de fondo (66.7 % a tiempo)" in out
    html = (tmp_path / "informe_mesa_2026-11.html").read_text(encoding="utf-8")
    assert "<svg" in html and "Solicitudes por tema" in html and "<script" not in html
    data = json.loads(m360("tickets", "report", "--period", "2026-11", "--format", "json", "-o", "-",
                           "--region", "Eje Cafetero y Antioquia", url=db_url, cwd=tmp_path).stdout)
    assert data["summary"]["received"] == 2 and data["filters"] == {"region": "Eje Cafetero y Antioquia"}
    m360("tickets", "report", "--period", "2026", "--format", "xlsx", "-o", str(tmp_path / "m.xlsx"),
         url=db_url, cwd=tmp_path)
    assert "por_mes" in load_workbook(tmp_path / "m.xlsx").sheetnames
    assert "periodo inválido" in m360("tickets", "report", "--period", "noviembre", url=db_url, cwd=tmp_path,
                                      ok=False).stderr
