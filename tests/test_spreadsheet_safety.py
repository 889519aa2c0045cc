"""Formula injection: no file the product writes (responses export CSV/XLSX, the informe workbook,
the panel's downloads, the XLSForm, the wave links) carries a cell a spreadsheet would run, however
the respondent wrote their answers. Opened with openpyxl and the csv module, as an analyst's Excel
would read them."""

from __future__ import annotations

import csv
import io
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
from bot.service import ChatService
from surveys import schema
from surveys.spreadsheet import FORMULA_PREFIXES
from surveys.xlsform import from_xlsform, to_xlsform
from tests.support.conversation import INTERVIEW, Chat, register, start_interview
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
    "sugerencias": "\r=1+1",
}


def hostile_interview(chat: Chat) -> None:
    """A whole interview whose open answers are the hostile texts (the rest as a hurried official)."""
    register(chat)
    start_interview(chat)
    replacements = {1: "valoracion_general", 12: "porque_articulacion", 14: "porque_necesidades",
                    16: "porque_capacidades", 18: "demanda_otro", 20: "sugerencias"}
    for index, (text, _) in enumerate(INTERVIEW):
        chat.say(HOSTILE[replacements[index]] if index in replacements else text)


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
    app = create_app(db_url, M360_ADMIN_TOKEN=ADMIN)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN}"}
    xlsx = client.get("/export/responses?period=2026-11&format=xlsx", headers=headers)
    text = client.get("/export/responses?period=2026-11&format=csv", headers=headers)
    app.extensions["m360.sessions"].kw["bind"].dispose()
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
    from bot.accounts import create_user
    from surveys import db

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
