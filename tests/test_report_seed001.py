"""The results, as a new user would get them: the 2020 example data set (four monthly waves,
agosto–noviembre de 2020, built by tests/data/seed001/build.py) is imported with
``m360 responses import``, and the informe (``m360 report`` JSON, HTML, XLSX) and the API
(``GET /api/v1/reports/<period>``) reproduce the figures the 2020 Monitoreo 360 informe de percepción publishes:

- insatisfechos per 100 completed interviews: 11, 0, 7, 7 (agosto–noviembre);
- Plan Indicativo «excelente»: 35 % (septiembre), 40 % (octubre), 48 % (noviembre);
- Armonización presupuestal «Mala»: 5 % (agosto–octubre), 2 % (noviembre);
- cumulative demand to noviembre: seguimiento_pdt first with 33 %, then planeacion_financiera,
  then armonizacion_presupuestal.

Rounding (analysis.indicators): JSON percentages carry one decimal, the printed figure is the whole
number, both half away from zero; the test checks both, plus the counts behind them."""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from flask import Flask

from analysis.indicators import whole_percent
from tests.support.processes import m360
from webhooks.app import create_app

DATA = Path(__file__).parent / "data" / "seed001"
WAVES = ["2020-08", "2020-09", "2020-10", "2020-11"]
ADMIN = "seed001-admin"
AUTH = {"Authorization": f"Bearer {ADMIN}"}

INSATISFECHOS = {"2020-08": 11, "2020-09": 0, "2020-10": 7, "2020-11": 7}
PLAN_EXCELENTE = {"2020-09": 35, "2020-10": 40, "2020-11": 48}
ARMONIZACION_MALA = {"2020-08": 5, "2020-09": 5, "2020-10": 5, "2020-11": 2}


@pytest.fixture(scope="module")
def seeded(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A database with the four waves imported through the command line, and a working folder."""
    folder = tmp_path_factory.mktemp("seed001")
    path = folder / "m360.sqlite3"
    shutil.copyfile(template_db, path)
    url = f"sqlite:///{path}"
    for period in WAVES:
        out = m360("responses", "import", str(DATA / f"monitoreo360_{period}.csv"), url=url, cwd=folder)
        assert "0 invalid" in out.stdout and "created" in out.stdout
    return url, folder


@pytest.fixture(scope="module")
def app(seeded: tuple[str, Path]) -> Iterator[Flask]:
    app = create_app(seeded[0], M360_ADMIN_TOKEN=ADMIN)
    yield app
    app.extensions["m360.sessions"].kw["bind"].dispose()


def report_json(seeded: tuple[str, Path], *args: str) -> dict[str, Any]:
    url, folder = seeded
    out = m360("report", *args, "--format", "json", "-o", "-", url=url, cwd=folder)
    return json.loads(out.stdout)


def check_seed_figures(report: dict[str, Any]) -> None:
    monthly = {m["period"]: m for m in report["monthly"]}
    assert report["series_months"] == WAVES
    assert {p: monthly[p]["interviews"] for p in WAVES} == {"2020-08": 53, "2020-09": 52, "2020-10": 54,
                                                           "2020-11": 54}
    assert {p: monthly[p]["insatisfechos"] for p in WAVES} == {"2020-08": 6, "2020-09": 0, "2020-10": 4,
                                                              "2020-11": 4}
    assert {p: monthly[p]["pct_insatisfechos"] for p in WAVES} == {"2020-08": 11.3, "2020-09": 0.0,
                                                                  "2020-10": 7.4, "2020-11": 7.4}
    assert {p: whole_percent(monthly[p]["pct_insatisfechos"]) for p in WAVES} == INSATISFECHOS

    themes = {t["question"]: {m["period"]: m for m in t["months"]} for t in report["themes"]}

    def share(question: str, period: str, value: str) -> tuple[int, int, float]:
        month = themes[question][period]
        label = next(x for x in month["labels"] if x["value"] == value)
        return label["n"], month["n"], label["pct"]

    assert {p: share("tema_plan_indicativo", p, "excelente") for p in PLAN_EXCELENTE} == {
        "2020-09": (14, 40, 35.0), "2020-10": (20, 50, 40.0), "2020-11": (24, 50, 48.0)}
    assert {p: whole_percent(share("tema_plan_indicativo", p, "excelente")[2]) for p in PLAN_EXCELENTE} == \
        PLAN_EXCELENTE
    # «No aplica» is reported apart and is not in the denominator.
    assert themes["tema_plan_indicativo"]["2020-09"]["no_aplica"] == 12
    assert themes["tema_plan_indicativo"]["2020-09"]["answered"] == 52
    assert {p: whole_percent(share("tema_armonizacion", p, "mala")[2]) for p in WAVES} == ARMONIZACION_MALA
    assert share("tema_armonizacion", "2020-11", "mala") == (1, 50, 2.0)

    demand = report["demand"]
    assert (demand["since"], demand["until"], demand["interviews"], demand["mentions"]) == \
        ("2020-08", "2020-11", 213, 300)
    ranked = [(t["theme"], t["n"], t["pct_mentions"]) for t in demand["themes"][:3]]
    assert ranked == [("seguimiento_pdt", 99, 33.0), ("planeacion_financiera", 57, 19.0),
                      ("armonizacion_presupuestal", 42, 14.0)]
    assert sum(t["n"] for t in demand["themes"]) == demand["mentions"]


def test_the_data_set_is_what_its_script_builds() -> None:
    sys.path.insert(0, str(DATA))
    try:
        import build  # tests/data/seed001/build.py
    finally:
        sys.path.remove(str(DATA))
    for period, frame in build.build().items():
        assert frame.to_csv(index=False) == (DATA / f"monitoreo360_{period}.csv").read_text(encoding="utf-8"), period
        assert 52 <= len(frame) <= 54


def test_report_json_reproduces_seed_001(seeded: tuple[str, Path]) -> None:
    report = report_json(seeded, "--period", "2020-11")
    check_seed_figures(report)
    assert report["summary"]["interviews"] == 54 and report["summary"]["insatisfechos"] == 4
    # Change against octubre: same insatisfechos per 100.
    assert report["previous"]["period"] == "2020-10" and report["previous"]["change"]["pct_insatisfechos"] == 0.0
    # The priority list: the 4 insatisfechos and the one «Mala» in armonización, each with its coordinates.
    reasons = [{r["reason"] for r in p["reasons"]} for p in report["priority"]]
    assert sum("insatisfecho" in r for r in reasons) == 4 and sum("tema_mala" in r for r in reasons) == 1
    assert all(p["lat"] is not None and p["lon"] is not None and p["region"] for p in report["priority"])


def test_api_reproduces_seed_001(app: Flask) -> None:
    client = app.test_client()
    response = client.get("/api/v1/reports/2020-11", headers=AUTH)
    assert response.status_code == 200 and response.mimetype == "application/json"
    report = response.get_json()
    check_seed_figures(report)
    rows = client.get("/api/v1/responses", query_string={"period": "2020-09"}, headers=AUTH).get_json()
    assert rows["total"] == 52 and len(rows["items"]) == 52
    assert {r["periodo"] for r in rows["items"]} == {"2020-09"}
    assert sum(r["tema_plan_indicativo"] == "excelente" for r in rows["items"]) == 14


def test_re_importing_a_wave_changes_nothing(seeded: tuple[str, Path]) -> None:
    url, folder = seeded
    out = m360("responses", "import", str(DATA / "monitoreo360_2020-10.csv"), url=url, cwd=folder)
    assert "0 created, 0 updated, 54 unchanged" in out.stdout
    check_seed_figures(report_json(seeded, "--period", "2020-11"))


def test_html_report_prints_the_seed_figures(seeded: tuple[str, Path]) -> None:
    url, folder = seeded
    m360("report", "--period", "2020-11", "--format", "html", "-o", "informe.html", url=url, cwd=folder)
    html = (folder / "informe.html").read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and '<html lang="es-CO">' in html
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<svg") >= 10  # the charts are inline SVG: readable offline and printable
    assert "@media print" in html
    # Gráfico 10's table: insatisfechos per 100 by month, as printed.
    for period, figure in INSATISFECHOS.items():
        month = {"2020-08": "ago. 2020", "2020-09": "sep. 2020", "2020-10": "oct. 2020", "2020-11": "nov. 2020"}
        assert f'<td>{month[period]}</td>' in html
        assert f'<td class="n">{figure}</td></tr>' in html
    assert "24 (48 %)" in html and "14 (35 %)" in html and "20 (40 %)" in html  # Plan Indicativo excelente
    assert "1 (2 %)" in html  # Armonización «Mala» in noviembre
    assert "Seguimiento y evaluación del PDT</td><td class=\"n\">99</td><td class=\"n\">33 %" in html
    # The priority entities on a map drawn offline: DIVIPOLA's municipalities as the country, each
    # priority entity a red dot that links to its row of the table.
    assert html.count('class="map"') == 1 and html.count('<circle cx=') > 1000
    rows = re.findall(r'<tr id="p-(\w+)">', html)
    markers = re.findall(r'<a href="#p-(\w+)">', html)
    assert len(rows) >= 4 and len(markers) >= 4 and set(markers) <= set(rows)


def test_xlsx_report_has_one_sheet_per_table(seeded: tuple[str, Path]) -> None:
    url, folder = seeded
    m360("report", "--period", "2020-11", "--format", "xlsx", "-o", "informe.xlsx", url=url, cwd=folder)
    book = openpyxl.load_workbook(io.BytesIO((folder / "informe.xlsx").read_bytes()))
    assert {"resumen", "puntaje_general", "por_region", "serie_mensual", "aspectos", "temas", "contribucion",
            "categorias", "demanda_acumulada", "prioritarias"} <= set(book.sheetnames)
    series = pd.read_excel(folder / "informe.xlsx", sheet_name="serie_mensual")
    assert series.set_index("periodo")["pct_insatisfechos"].to_dict() == {
        "2020-08": 11.3, "2020-09": 0.0, "2020-10": 7.4, "2020-11": 7.4}
    demand = pd.read_excel(folder / "informe.xlsx", sheet_name="demanda_acumulada")
    assert demand.iloc[0][["tema", "menciones", "pct_menciones"]].tolist() == ["seguimiento_pdt", 99, 33.0]


def test_quarter_and_year_cuts(seeded: tuple[str, Path]) -> None:
    quarter = report_json(seeded, "--period", "2020-Q4")
    assert quarter["months"] == ["2020-10", "2020-11", "2020-12"] and quarter["summary"]["interviews"] == 108
    assert quarter["summary"]["insatisfechos"] == 8 and quarter["previous"]["period"] == "2020-Q3"
    assert quarter["previous"]["summary"]["interviews"] == 105  # agosto + septiembre
    year = report_json(seeded, "--period", "2020")
    assert year["summary"]["interviews"] == 213 and year["series_months"][0] == "2020-08"
    assert year["demand"]["themes"][0]["pct_mentions"] == 33.0
