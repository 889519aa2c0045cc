"""Coded summaries analysts can trust, as an analyst meets them: only *decided* codings (accepted by
the coder or reviewed by a person) count as categories in the informe (JSON, HTML, XLSX), the panel,
the API and the exports; codings waiting for review are shown beside them as «n pendientes de
revisión» with a link to the review queue; quarter and year reports cover the months of the cut
that have interviews, without empty trailing months; ``m360 responses import`` codes what it stores.

The data go in as a person would put them: a spreadsheet through ``analysis.importer`` (or the
``m360`` command), codings through the coder's table or the real coder."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from analysis import export, html, importer
from analysis.coding import storage
from analysis.coding.deferred import AnswerCodingJob
from analysis.report import build_report, render
from bot.accounts import create_user
from surveys import db, schema
from surveys.models import Answer, AnswerCoding, Entity, Interview, utcnow
from tests.support.coding import load_demo, product_models, train_demo
from tests.support.panel import PASSWORD, csrf, signed_in
from tests.support.processes import M360, environment
from webhooks.app import create_app

COLUMNS = export.ID_COLUMNS + export.question_columns([schema.builtin("monitoreo360")])
#: 50 of 54 secretarios of one month say, in their own ways, that the assistance was useful.
USEFUL = ["acompañamiento útil", "Acompañamiento útil", "acompañamiento util", "útil", "Útil!!", "muy útil",
          "acompañamiento útil 👍", "util el acompañamiento", "fue útil", "ACOMPAÑAMIENTO UTIL"]
OTHERS = ["excelente, nos ayudó con el plan", "regular, todo llegó tarde", "muy bueno", "malo, no sirvió"]


def entity_codes(sessions: sessionmaker[Session], n: int) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Entity.code).where(Entity.kind == "alcaldia").order_by(Entity.code)
                                    .limit(n)))


def import_rows(sessions: sessionmaker[Session], rows: list[dict[str, Any]], folder: Path) -> importer.ImportReport:
    path = folder / f"rows-{len(list(folder.glob('rows-*.csv')))}.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with sessions.begin() as session:
        result = importer.import_responses(session, path)
    assert not result.errors and result.written, result.errors
    return result


def code_answers(sessions: sessionmaker[Session], question: str, codebook: str,
                 coding: dict[str, tuple[list[str], str]]) -> None:
    """A coding for each answer of ``question`` whose text is in ``coding`` (text → codes, status)."""
    with sessions.begin() as session:
        for answer in session.scalars(select(Answer).where(Answer.question == question)):
            if answer.value not in coding:
                continue
            codes, status = coding[answer.value]
            session.add(AnswerCoding(answer_id=answer.id, codebook=codebook, codes=codes, predicted_codes=codes,
                                     scores={c: 0.34 for c in codes}, confidence=0.34 if status == "review" else 0.9,
                                     coder_version="t", codebook_version="t", model_hash="t",
                                     needs_review=status == "review", status=status,
                                     text_hash=storage.text_hash(answer.value), coded_at=utcnow()))


def block(report: dict[str, Any], question: str) -> dict[str, Any]:
    return next(c for c in report["codes"] if c["question"] == question)


@pytest.fixture
def useful_month(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """November 2020: 54 interviews; 50 say the assistance was useful, 4 say other things."""
    codes = entity_codes(sessions, 54)
    texts = [USEFUL[i % len(USEFUL)] for i in range(50)] + OTHERS
    rows = [dict(periodo="2020-11", entidad_codigo=code, puntaje_general=5 if i < 50 else 3, valoracion_general=text)
            for i, (code, text) in enumerate(zip(codes, texts, strict=True))]
    import_rows(sessions, rows, tmp_path)
    return sessions


# ---------------------------------------------------------------- only decided codes count

OTHERS_CODED = {"excelente, nos ayudó con el plan": (["valoracion_positiva", "util_pertinente"], "auto"),
                "regular, todo llegó tarde": (["valoracion_negativa", "destiempo"], "auto"),
                "muy bueno": (["valoracion_positiva"], "confirmed"),
                "malo, no sirvió": (["valoracion_negativa"], "corrected")}


@pytest.mark.parametrize(("status", "counted", "pending"), [
    ("review", False, 50),  # the coder had to pick something (0.34): a suggestion, never a share
    ("auto", True, 0),  # the coder was confident: it counts
    ("confirmed", True, 0),  # a person accepted it
    ("corrected", True, 0),  # a person set it
])
def test_only_decided_codings_count(useful_month: sessionmaker[Session], status: str, counted: bool,
                                    pending: int) -> None:
    code_answers(useful_month, "valoracion_general", "valoracion_general",
                 {**{t: (["valoracion_negativa"], status) for t in USEFUL}, **OTHERS_CODED})
    with useful_month() as session:
        report = build_report(session, "2020-11")
    month = block(report, "valoracion_general")["months"][-1]
    shares = {c["code"]: (c["n"], c["pct"]) for c in month["codes"]}
    assert (month["answers"], month["coded"], month["pending"], month["uncoded"]) == (
        54, 4 + (50 if counted else 0), pending, 0)
    if counted:
        assert shares["valoracion_negativa"] == (52, 96.3)
    else:  # only the two answers that really were negative
        assert shares["valoracion_negativa"] == (2, 50.0) and shares["valoracion_positiva"] == (2, 50.0)
    assert block(report, "valoracion_general")["total"]["pending"] == pending


def test_pending_codings_are_shown_beside_every_coded_view(useful_month: sessionmaker[Session], db_url: str) -> None:
    code_answers(useful_month, "valoracion_general", "valoracion_general",
                 {**{t: (["valoracion_negativa"], "review") for t in USEFUL}, **OTHERS_CODED})
    with useful_month() as session:
        report = build_report(session, "2020-11")
    # HTML: the caption counts the decided ones and links the pending ones to the review queue.
    page = render(report, "html", lambda book: f"https://m360.example/panel/revision?codebook={book}").decode()
    assert "4 respuestas codificadas de 54 en nov. 2020" in page
    assert ('<a class="pending" href="https://m360.example/panel/revision?codebook=valoracion_general">'
            "50 pendientes de revisión</a>") in page
    assert "54 respuestas codificadas" not in page
    # JSON: pending per month.
    data = json.loads(render(report, "json"))
    assert block(data, "valoracion_general")["months"][-1]["pending"] == 50
    # XLSX: the coding sheet says it per question and month; the category rows carry it too.
    book = openpyxl.load_workbook(io.BytesIO(render(report, "xlsx")))
    sheet = [dict(zip([c.value for c in book["codificacion"][1]], [c.value for c in row], strict=True))
             for row in book["codificacion"].iter_rows(min_row=2)]
    november = next(r for r in sheet if r["pregunta"] == "valoracion_general" and r["periodo"] == "2020-11")
    assert (november["respuestas"], november["codificadas"], november["pendientes_revision"],
            november["sin_codificar"]) == (54, 4, 50, 0)
    # The responses export: codes only when decided, and the coding's state beside them.
    with useful_month() as session:
        frame = export.export_frame(session, "2020-11")
    useful = frame[frame["valoracion_general"].isin(USEFUL)]
    assert set(useful["valoracion_general__codes_estado"]) == {"pendiente"}
    assert useful["valoracion_general__codes"].isna().all()
    assert set(frame[frame["valoracion_general"] == "muy bueno"]["valoracion_general__codes"]) == {
        "valoracion_positiva"}
    # The panel (summary, open answers, downloads) and the API.
    app = create_app(db_url, SECRET_KEY="test-secret", M360_ADMIN_TOKEN="admin-token")
    try:
        with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
            create_user(conn, username="ana", name="Ana", role="analyst", password=PASSWORD)
        analyst = signed_in(app, "ana")
        for path in ("/panel/?periodo=2020-11", "/panel/respuestas?periodo=2020-11",
                     "/panel/descargas/informe.html?periodo=2020-11"):
            shown = analyst.get(path).get_data(as_text=True)
            assert "50 pendientes de revisión" in shown, path
            assert "/panel/revision?codebook=valoracion_general" in shown, path
        drill = analyst.get("/panel/respuestas?periodo=2020-11&pregunta=valoracion_general&codigo=valoracion_negativa")
        assert drill.get_data(as_text=True).count("<tr><td>2020-11</td>") == 2  # decided ones only, as counted
        api = app.test_client().get("/api/v1/reports/2020-11", headers={"Authorization": "Bearer admin-token"})
        assert block(api.get_json(), "valoracion_general")["months"][-1]["pending"] == 50
        rows = app.test_client().get("/api/v1/responses?period=2020-11",
                                     headers={"Authorization": "Bearer admin-token"}).get_json()["items"]
        assert {r["valoracion_general__codes_estado"] for r in rows if r["valoracion_general"] in USEFUL} == {
            "pendiente"}
    finally:
        app.extensions["m360.sessions"].kw["bind"].dispose()


# ---------------------------------------------------------------- the coder decides only what it is sure of


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return product_models(tmp_path_factory.mktemp("models"), ["valoracion_general"])


def test_a_useful_month_never_shows_as_negative(useful_month: sessionmaker[Session], models: Path) -> None:
    """The real coder codes the month; whatever it is unsure of waits for review, and no positive
    verdict is counted as a negative one."""
    engine = useful_month.kw["bind"]
    coded_at = datetime(2020, 12, 2, 14, 0, tzinfo=UTC)  # the job's clock, not the machine's
    job = AnswerCodingJob.for_questionnaires(engine, [schema.builtin("monitoreo360")], models, clock=lambda: coded_at)
    with useful_month() as session:
        ids = list(session.scalars(select(Answer.id).where(Answer.question == "valoracion_general")))
    done = job.code_answers(ids)
    assert (done.coded, done.uncoded) == (54, 0)
    with useful_month() as session:
        assert set(session.scalars(select(AnswerCoding.coded_at))) == {coded_at}
    with useful_month() as session:
        month = block(build_report(session, "2020-11"), "valoracion_general")["months"][-1]
    negative = dict((c["code"], c["n"]) for c in month["codes"]).get("valoracion_negativa", 0)
    assert negative <= 2  # "regular, todo llegó tarde" and "malo, no sirvió"
    assert month["coded"] + month["pending"] == 54


@pytest.mark.parametrize("text", USEFUL + ["bien", "muy bien la verdad", "nos sirvió bastante", "excelente"])
def test_a_positive_verdict_is_never_decided_negative(models: Path, text: str) -> None:
    from analysis.coding import registry

    p = registry.load("valoracion_general", models).predict_one(text)
    assert p.needs_review or not {"valoracion_negativa", "sin_respuesta"} & set(p.codes), (text, p)


def test_a_forced_guess_always_waits_for_review(tmp_path: Path) -> None:
    """When no code reaches 0.5 the coder still names the likeliest one (a suggestion for the reviewer),
    but never as a decided coding, whatever the auto-accept threshold."""
    train_demo(tmp_path)
    coder = load_demo(tmp_path)
    coder.threshold = 0.0
    for p in coder.predict(["asdf qwerty", "el clima", "1234 hola", "depende"]):
        if max(p.scores.values()) < 0.5:
            assert p.needs_review and len(p.codes) == 1


# ---------------------------------------------------------------- whole quarters and years


@pytest.fixture
def fourth_quarter(sessions: sessionmaker[Session], tmp_path: Path) -> sessionmaker[Session]:
    """2020-Q4 with interviews in October and November only (as in the 2020 informe's waves); every answer of
    «¿por qué?» (articulación) coded and decided."""
    codes = entity_codes(sessions, 6)
    rows = [dict(periodo=period, entidad_codigo=code, puntaje_general=4, contribuye_articulacion="si",
                 porque_articulacion=f"entendimos la ruta del plan ({period})", demanda_temas="seguimiento_pdt")
            for period, group in (("2020-10", codes[:3]), ("2020-11", codes[3:])) for code in group]
    import_rows(sessions, rows, tmp_path)
    code_answers(sessions, "porque_articulacion", "articulacion",
                 {f"entendimos la ruta del plan ({p})": (["integralidad_proceso"], "auto")
                  for p in ("2020-10", "2020-11")})
    return sessions


OCT_NOV = ["2020-10", "2020-11"]


@pytest.mark.parametrize(("period", "series", "cut_months", "caption"), [
    ("2020-Q4", OCT_NOV, OCT_NOV, "6 respuestas codificadas de 6 en oct. 2020 a nov. 2020"),
    ("2020", OCT_NOV, OCT_NOV, "6 respuestas codificadas de 6 en oct. 2020 a nov. 2020"),
    ("2020-11", ["2020-10", "2020-11"], ["2020-11"], "3 respuestas codificadas de 3 en nov. 2020"),
    ("2020-10", ["2020-10"], ["2020-10"], "3 respuestas codificadas de 3 en oct. 2020"),
])
def test_quarter_and_year_reports_cover_their_months(fourth_quarter: sessionmaker[Session], period: str,
                                                     series: list[str], cut_months: list[str], caption: str) -> None:
    with fourth_quarter() as session:
        report = build_report(session, period)
    assert report["series_months"] == series
    assert [m["period"] for m in report["monthly"]] == series  # no empty trailing month row
    assert [m["period"] for t in report["themes"] for m in t["months"]] == series * len(report["themes"])
    assert (report["demand"]["since"], report["demand"]["until"]) == (series[0], series[-1])
    articulation = block(report, "porque_articulacion")
    assert articulation["total"]["months"] == cut_months
    assert articulation["total"]["codes"][0]["code"] == "integralidad_proceso"
    page = html.render(report)
    assert caption in page
    assert "dic. 2020" not in page and "sin codificar" not in page


def test_sin_codificar_only_when_answers_wait_for_the_coder(fourth_quarter: sessionmaker[Session],
                                                            tmp_path: Path) -> None:
    codes = entity_codes(fourth_quarter, 8)[6:]
    import_rows(fourth_quarter, [dict(periodo="2020-11", entidad_codigo=c, puntaje_general=4,
                                      porque_articulacion="las secretarias ya trabajan juntas") for c in codes],
                tmp_path)
    with fourth_quarter() as session:
        report = build_report(session, "2020-Q4")
    total = block(report, "porque_articulacion")["total"]
    assert (total["answers"], total["coded"], total["pending"], total["uncoded"]) == (8, 6, 0, 2)
    page = html.render(report)
    assert "6 respuestas codificadas de 8 en oct. 2020 a nov. 2020; 2 aún sin codificar" in page
    # Questions nobody answered in the cut say so, not "sin codificar".
    assert "Sin respuestas en oct. 2020 a nov. 2020." in page


def test_an_empty_month_still_shows_itself(fourth_quarter: sessionmaker[Session]) -> None:
    with fourth_quarter() as session:
        report = build_report(session, "2020-12")
    assert report["series_months"] == ["2020-10", "2020-11", "2020-12"] and report["summary"]["interviews"] == 0
    assert "Sin respuestas en dic. 2020." in html.render(report)


# ---------------------------------------------------------------- the import codes what it imports


def test_responses_import_codes_what_it_stores(db_url: str, tmp_path: Path, models: Path) -> None:
    engine = db.make_engine(db_url)
    sessions = db.session_factory(engine)
    codes = entity_codes(sessions, 6)
    path = tmp_path / "respuestas.csv"
    texts = ["excelente, muy útil para el plan", "regular", "acompañamiento útil", "no se", "la asesora muy atenta",
             "llegó tarde la guía de armonización"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows([dict(periodo="2020-11", entidad_codigo=c, puntaje_general=4, valoracion_general=t,
                               porque_articulacion="entendimos la ruta") for c, t in zip(codes, texts, strict=True)])
    only = tmp_path / "models"  # the valoración's model only: articulación's answers wait for it
    shutil.copytree(models / "valoracion_general", only / "valoracion_general")
    env = environment(M360_DATABASE_URL=db_url, M360_MODELS_DIR=str(only))
    result = subprocess.run([*M360, "responses", "import", str(path)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    with engine.connect() as conn:
        codings = conn.execute(select(AnswerCoding.status).join(Answer, Answer.id == AnswerCoding.answer_id)
                               .join(Interview).where(Answer.question == "valoracion_general")).scalars().all()
    review = sum(s == "review" for s in codings)
    assert len(codings) == 6  # every imported answer of the valoración is coded
    # articulación has no model here: its answers wait for the background coder, and the command says so.
    assert f"open answers: 6 coded, {review} sent to the review queue" in result.stdout
    assert "6 left for the background coder: no model for articulacion" in result.stdout
    again = subprocess.run([*M360, "responses", "import", str(path)], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=300)
    assert "6 unchanged" in again.stdout and "open answers" not in again.stdout  # nothing new to code
    engine.dispose()


@pytest.mark.parametrize(("public_url", "link"), [
    # Behind a proxy the panel may be reached by an internal name: a downloaded informe is opened later,
    # elsewhere, so its links take the public address when one is configured.
    ("https://m360.dnp.gov.co", "https://m360.dnp.gov.co/panel/revision?codebook=valoracion_general"),
    ("https://m360.dnp.gov.co/", "https://m360.dnp.gov.co/panel/revision?codebook=valoracion_general"),
    (None, "https://m360-interno:8000/panel/revision?codebook=valoracion_general"),  # none: the request's host
])
def test_a_downloaded_informe_links_the_review_queue_at_the_public_address(
        useful_month: sessionmaker[Session], db_url: str, public_url: str | None, link: str) -> None:
    code_answers(useful_month, "valoracion_general", "valoracion_general",
                 {**{t: (["valoracion_negativa"], "review") for t in USEFUL}, **OTHERS_CODED})
    app = create_app(db_url, SECRET_KEY="test-secret", M360_PUBLIC_URL=public_url)
    try:
        with db.transaction(app.extensions["m360.sessions"].kw["bind"]) as conn:
            create_user(conn, username="ana", name="Ana", role="analyst", password=PASSWORD)
        analyst, internal = app.test_client(), "https://m360-interno:8000"
        login = analyst.get("/panel/login", base_url=internal)
        analyst.post("/panel/login", base_url=internal,
                     data={"username": "ana", "password": PASSWORD, "csrf": csrf(login.data)})
        page = analyst.get("/panel/descargas/informe.html?periodo=2020-11", base_url=internal).get_data(as_text=True)
        assert f'href="{link}"' in page, page[:2000]
    finally:
        app.extensions["m360.sessions"].kw["bind"].dispose()
