"""Formula injection: no file the product writes (responses export CSV/XLSX, the informe workbook,
the panel's downloads, the XLSForm, the wave links) carries a cell a spreadsheet would run, however
the respondent wrote their answers. Opened with openpyxl and the csv module, as an analyst's Excel
would read them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from analysis import export
from analysis.indicators import Filters
from analysis.report import build_report, render
from bot.accounts import create_user
from bot.helpdesk import ticketing
from bot.service import ChatService
from surveys import db, schema
from surveys.spreadsheet import CELL_LIMIT, FORMULA_PREFIXES
from surveys.xlsform import from_xlsform, to_xlsform
from tests.support.conversation import INTERVIEW, Chat, register, start_interview
from tests.support.panel import PASSWORD, signed_in
from webhooks.app import create_app

ADMIN = "sheet-admin"
# What people (or someone probing) type into open answers: a DDE payload, a formula with @, a
# dictated "menos", a phone number with +, text after a tab, a carriage return.
HOSTILE = {
    "valoracion_general": "=cmd|' /C calc'!A0",
    "porque_articulacion": "@SUM(1+1)*cmd|' /C calc'!A0",
    "porque_necesidades": "-2+3 menos conectividad",
    "porque_capacidades": "+57 300 111 2233 llamen al secretario",
    "demanda_otro": "\tHYPERLINK(\"http://x.example\",\"clic\")",
    "sugerencias": "\r=1+1 y mas visitas",  # words: a bare "=1+1" is asked again in words
}


# Where each open answer is given in tests.support.conversation.INTERVIEW.
OPEN_ANSWERS = {1: "valoracion_general", 12: "porque_articulacion", 14: "porque_necesidades",
                16: "porque_capacidades", 18: "demanda_otro", 20: "sugerencias"}


def hostile_interview(chat: Chat, texts: dict[str, str] = HOSTILE) -> None:
    """A whole interview whose open answers are ``texts`` (the rest as a hurried official)."""
    register(chat)
    start_interview(chat)
    for index, (text, _) in enumerate(INTERVIEW):
        question = OPEN_ANSWERS.get(index)
        chat.say(texts[question] if question in texts else text)


def downloads(db_url: str) -> tuple[Any, Any]:
    """The responses export of 2026-11 as XLSX and CSV, through HTTP."""
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN}"}
    xlsx = client.get("/export/responses?period=2026-11&format=xlsx", headers=headers)
    text = client.get("/export/responses?period=2026-11&format=csv", headers=headers)
    app.extensions["m360.sessions"].kw["bind"].dispose()
    return xlsx, text


@pytest.fixture
def chat(sessions: sessionmaker[Session]) -> Chat:
    return Chat(ChatService(sessions), channel="whatsapp")


def assert_no_live_cell(values: list[Any]) -> None:
    texts = [v for v in values if isinstance(v, str)]
    assert texts, "nothing was read"
    assert not [v for v in texts if v.startswith(FORMULA_PREFIXES)]


def xlsx_cells(payload: bytes) -> list[Any]:
    """Every cell of every sheet; fails on any cell stored as a formula."""
    book = openpyxl.load_workbook(io.BytesIO(payload))  # formulas kept as formulas (data_only=False)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    return [c.value for c in cells]


def csv_cells(payload: bytes) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(payload.decode("utf-8-sig"), newline="")) for cell in row]


def test_the_responses_export_neutralises_formulas_in_csv_and_xlsx(chat: Chat, db_url: str) -> None:
    hostile_interview(chat)
    xlsx, text = downloads(db_url)
    assert xlsx.status_code == text.status_code == 200
    for values in (xlsx_cells(xlsx.data), csv_cells(text.data)):
        assert_no_live_cell(values)
        # The text is all there, behind an apostrophe: nothing the respondent wrote is lost (the
        # chat trims the leading tab and carriage return; the stored "=1+1" is neutralised).
        for hostile in HOSTILE.values():
            stored = hostile.strip()
            assert ("'" + stored if stored.startswith(FORMULA_PREFIXES) else stored) in values


def test_the_informe_workbook_and_the_ficha_neutralise_formulas(chat: Chat, sessions: sessionmaker[Session]) -> None:
    hostile_interview(chat)
    with sessions() as session:
        ficha = build_report(session, "2026-11", Filters(entity="63302"))
    values = xlsx_cells(render(ficha, "xlsx"))
    assert_no_live_cell(values)
    assert "'=cmd|' /C calc'!A0" in values


def test_the_panel_downloads_neutralise_formulas(chat: Chat, db_url: str) -> None:
    hostile_interview(chat)
    app: Flask = create_app(db_url)
    with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
        create_user(conn, username="ana", name="Ana", role="analyst", password="una clave larga")
    client = app.test_client()
    client.get("/panel/login")
    with client.session_transaction() as browser:
        csrf = browser["csrf"]
    client.post("/panel/login", data={"username": "ana", "password": "una clave larga", "csrf": csrf})
    for path in ("/panel/descargas/respuestas.xlsx?periodo=2026-11", "/panel/descargas/informe.xlsx?periodo=2026-11"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_no_live_cell(xlsx_cells(response.data))
    assert_no_live_cell(csv_cells(client.get("/panel/descargas/respuestas.csv?periodo=2026-11").data))
    app.extensions["m360.sessions"].kw["bind"].dispose()


def test_numbers_stay_numbers_and_only_text_is_neutralised() -> None:
    frame = pd.DataFrame([{"cambio": -3, "pct": -12.5, "texto": "-3", "nota": "menos 3", "tab": "\t=1",
                           "cr": "\r=1"}], dtype=object)
    book = openpyxl.load_workbook(io.BytesIO(export.to_bytes(frame, "xlsx")))
    row = [c for c in next(book.active.iter_rows(min_row=2))]
    # (XML reads a stored carriage return back as a line feed.)
    assert [(c.value, c.data_type) for c in row] == [(-3, "n"), (-12.5, "n"), ("'-3", "s"), ("menos 3", "s"),
                                                     ("'\t=1", "s"), ("'\n=1", "s")]
    assert csv_cells(export.to_bytes(frame, "csv"))[6:] == ["-3", "-12.5", "'-3", "menos 3", "'\t=1", "'\r=1"]


def test_a_text_longer_than_an_excel_cell_is_cut_in_the_workbook_and_whole_in_the_csv() -> None:
    long = "=" + "muy largo, " * 4000  # 44,001 characters: an import, a pasted document
    frame = pd.DataFrame([{"sugerencias": long, "nombre": 'Ana "la jefa"\nPérez, Secretaria'}], dtype=object)
    book = openpyxl.load_workbook(io.BytesIO(export.to_bytes(frame, "xlsx")))
    cut, name = (c.value for c in next(book.active.iter_rows(min_row=2)))
    assert len(cut) == CELL_LIMIT and cut.startswith("'=muy largo") and cut.endswith("…")
    assert name == 'Ana "la jefa"\nPérez, Secretaria'
    assert csv_cells(export.to_bytes(frame, "csv"))[2:] == ["'" + long, 'Ana "la jefa"\nPérez, Secretaria']


def test_the_xlsform_keeps_formula_like_labels_as_text(tmp_path: Path) -> None:
    """An XLSForm travels to KoBo: its labels must stay exactly as written, yet never be formulas."""
    q = schema.builtin("monitoreo360")
    first = q.questions[1]
    labels = {first.name: "=HYPERLINK(\"http://x.example\")", q.questions[2].name: "- Calificación del asesor",
              q.questions[3].name: "@asesor: ¿cómo le fue?"}
    changed = q.__class__(**{**q.__dict__, "questions": tuple(
        x.__class__(**{**x.__dict__, "label": labels.get(x.name, x.label)}) for x in q.questions)})
    path = tmp_path / "form.xlsx"
    to_xlsform(changed, path)
    book = openpyxl.load_workbook(path)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    risky = [c for c in cells if isinstance(c.value, str) and c.value in labels.values()]
    assert len(risky) == 3 and all(c.quotePrefix for c in risky)
    assert from_xlsform(path) == changed


# What a pasted answer carries that XML cannot: Word's manual line break (vertical tab), a form
# feed, a terminal's colour escape, a stray control character.
CONTROL = {"valoracion_general": "Buena\vmuy oportuna", "porque_articulacion": "ver anexo\f pag 2",
           "sugerencias": "\x1b[31mURGENTE\x1b[0m más visitas\x01", "demanda_otro": "otra\x0b=1+1"}


def test_the_responses_export_writes_a_workbook_whatever_control_characters_answers_hold(
        chat: Chat, db_url: str) -> None:
    hostile_interview(chat, CONTROL)
    xlsx, text = downloads(db_url)
    assert xlsx.status_code == 200, xlsx.data[:300]
    values = xlsx_cells(xlsx.data)
    assert_no_live_cell(values)
    # A line or page break stays a break; any other control character shows as U+FFFD; the text stays.
    assert "Buena\nmuy oportuna" in values and "ver anexo\n pag 2" in values
    assert "\ufffd[31mURGENTE\ufffd[0m más visitas\ufffd" in values
    # The CSV (what `m360 responses import` reads back) keeps the characters as they were written.
    assert text.status_code == 200 and "\x1b[31mURGENTE\x1b[0m más visitas\x01" in csv_cells(text.data)


def test_the_mesa_workbook_neutralises_what_the_der_typed(db_url: str) -> None:
    """The referral target is free text the DER types (PATCH referred_to); the mesa's workbook lists it."""
    app: Flask = create_app(db_url, M360_ADMIN_TOKEN=ADMIN, M360_CLOCK=lambda: datetime(2026, 11, 20, 15, tzinfo=UTC))
    with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
        create_user(conn, username="ana", name="Ana", role="analyst", password=PASSWORD)
        ticket = ticketing.create(conn, entity_code="63302", region=None, contact_id=None, channel="whatsapp",
                                  need="Apoyo con el PDT", themes=["seguimiento_pdt"],
                                  now=datetime(2026, 11, 10, tzinfo=UTC))
    hostile = '=HYPERLINK("http://x.example","Ministerio\vde Vivienda")'  # a line break pasted from Word
    response = app.test_client().patch(f"/api/v1/help-requests/{ticket.code}", headers={
        "Authorization": f"Bearer {ADMIN}"}, json={"status": "remitida", "referred_to": hostile})
    assert response.status_code == 200, response.data
    download = signed_in(app, "ana").get("/panel/mesa/informe.xlsx?periodo=2026-11")
    app.extensions["m360.sessions"].kw["bind"].dispose()
    assert download.status_code == 200
    values = xlsx_cells(download.data)
    assert_no_live_cell(values)
    assert "'" + hostile.replace("\v", "\n") in values
