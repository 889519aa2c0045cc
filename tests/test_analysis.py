"""The indicators of the informe (analysis.report.build_report) on a small data set whose every
figure is known, imported through analysis.importer into a real SQLite database: the 3,5
threshold, «No aplica» apart, filters, code shares from the coder's table, the priority list with
urgent tickets, periods and change, and the ficha's escaping of respondents' text."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from analysis import html, importer, periods
from analysis.indicators import Filters, Options, pct, whole_percent
from analysis.report import build_report
from surveys import scoring
from surveys.models import Answer, Interview, Ticket
from tests.support.data import BAD, COLUMNS, EDGE, ROWS


def report(sessions: sessionmaker[Session], period: str = "2020-11", **kwargs: Any) -> dict[str, Any]:
    with sessions() as session:
        return build_report(session, period, **kwargs)


def test_one_score_definition_for_alerts_and_reports() -> None:
    from bot.alerts import alerting

    assert alerting.entity_score is scoring.entity_score
    assert scoring.entity_score(EDGE) == 3.5 and scoring.is_insatisfecho(3.5) is False
    assert scoring.is_insatisfecho(scoring.entity_score(BAD)) is True
    assert scoring.entity_score({"puntaje_general": True, "aspecto_kpt": "4", "aspecto_asesor": float("nan")}) is None


def test_rounding_is_half_away_from_zero() -> None:
    assert pct(1, 8) == 12.5 and pct(1, 3) == 33.3 and pct(2, 3) == 66.7 and pct(0, 0) is None
    assert pct(1, 16) == 6.3  # 6.25 → 6.3 (not banker's 6.2)
    assert whole_percent(7.4) == 7 and whole_percent(34.5) == 35 and whole_percent(None) is None


def test_satisfaction_threshold_and_distribution(seeded: sessionmaker[Session]) -> None:
    r = report(seeded)
    s = r["summary"]
    assert (s["interviews"], s["insatisfechos"], s["satisfied"], s["pct_insatisfechos"]) == (4, 1, 3, 25.0)
    assert r["satisfaction"]["threshold"] == 3.5
    assert r["puntaje_general"]["mean"] == 4.25  # (5 + 3 + 4 + 5) / 4
    assert [d["n"] for d in r["puntaje_general"]["distribution"]] == [0, 0, 1, 1, 2]
    assert [d["label"] for d in r["puntaje_general"]["distribution"]] == ["Muy mala", "Mala", "Regular", "Buena",
                                                                         "Excelente"]
    # A stricter threshold, or a score of puntaje_general alone, is a parameter.
    assert report(seeded, options=Options(threshold=3.6))["summary"]["insatisfechos"] == 2
    alone = report(seeded, options=Options(score_questions=("puntaje_general",)))
    assert alone["summary"]["insatisfechos"] == 1 and alone["summary"]["mean_score"] == 4.25


def test_themes_exclude_no_aplica_and_contribution_shares(seeded: sessionmaker[Session]) -> None:
    r = report(seeded)
    plan = next(t for t in r["themes"] if t["question"] == "tema_plan_indicativo")
    nov = plan["months"][-1]
    assert (nov["period"], nov["answered"], nov["n"], nov["no_aplica"]) == ("2020-11", 4, 3, 1)
    assert {x["value"]: (x["n"], x["pct"]) for x in nov["labels"]} == {
        "excelente": (2, 66.7), "buena": (1, 33.3), "regular": (0, 0.0), "mala": (0, 0.0), "muy_mala": (0, 0.0)}
    armon = next(t for t in r["themes"] if t["question"] == "tema_armonizacion")["months"][-1]
    assert (armon["n"], armon["no_aplica"]) == (2, 2)
    assert next(x for x in armon["labels"] if x["value"] == "mala")["pct"] == 50.0
    art = next(c for c in r["contribution"] if c["question"] == "contribuye_articulacion")["months"][-1]
    assert {a["value"]: (a["n"], a["pct"]) for a in art["answers"]} == {
        "si": (2, 50.0), "no": (1, 25.0), "parcialmente": (1, 25.0)}


def test_a_reused_frame_never_hides_a_change(seeded: sessionmaker[Session], tmp_path: Path) -> None:
    assert report(seeded)["summary"]["insatisfechos"] == 1
    assert report(seeded)["summary"]["insatisfechos"] == 1  # the same data: the loaded frame is reused
    path = tmp_path / "fix.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerow({**ROWS[2], **BAD})  # Génova's noviembre corrected: now insatisfecho
    with seeded.begin() as session:
        assert importer.import_responses(session, path).updated == 1
    assert report(seeded)["summary"]["insatisfechos"] == 2


def test_series_regions_and_change(seeded: sessionmaker[Session]) -> None:
    r = report(seeded)
    assert r["series_months"] == ["2020-10", "2020-11"]
    assert [(m["period"], m["interviews"], m["insatisfechos"]) for m in r["monthly"]] == [
        ("2020-10", 2, 1), ("2020-11", 4, 1)]
    assert r["previous"]["change"]["pct_insatisfechos"] == -25.0  # 50 % → 25 %
    assert r["previous"]["change"]["interviews"] == 2
    regions = {g["region"]: (g["n"], g["mean_puntaje_general"], g["insatisfechos"]) for g in r["by_region"]}
    assert regions == {"Eje Cafetero y Antioquia": (2, 5.0, 0), "Pacífico": (2, 3.5, 1)}
    kpt = next(a for a in r["aspects"] if a["question"] == "aspecto_kpt")
    assert [(m["n"], m["mean"]) for m in kpt["months"]] == [(2, 4.0), (4, 3.75)]
    oportunidad = next(a for a in r["aspects"] if a["question"] == "aspecto_oportunidad")
    assert oportunidad["months"][-1] == {"period": "2020-11", "n": 3, "mean": 3.67}  # EDGE did not answer it


def test_cumulative_demand_counts_mentions_up_to_the_period(seeded: sessionmaker[Session]) -> None:
    d = report(seeded)["demand"]
    assert (d["since"], d["until"], d["interviews"], d["interviews_with_demand"], d["mentions"]) == \
        ("2020-10", "2020-11", 6, 5, 7)
    assert [(t["theme"], t["n"], t["pct_mentions"], t["pct_interviews"]) for t in d["themes"]] == [
        ("seguimiento_pdt", 4, 57.1, 66.7), ("proyectos", 2, 28.6, 33.3), ("planeacion_financiera", 1, 14.3, 16.7)]
    october = report(seeded, "2020-10")["demand"]
    assert october["mentions"] == 2  # nothing after the period


def test_filters(seeded: sessionmaker[Session]) -> None:
    assert report(seeded, filters=Filters(region="pacifico"))["summary"]["interviews"] == 2  # accents, case
    assert report(seeded, filters=Filters(pdet=True))["summary"]["interviews"] == 2
    assert report(seeded, filters=Filters(pdet=False))["summary"]["interviews"] == 2
    assert report(seeded, filters=Filters(kind="gobernacion"))["summary"]["interviews"] == 1
    assert report(seeded, filters=Filters(department="Quindío"))["summary"]["interviews"] == 2
    assert report(seeded, filters=Filters(department="63"))["summary"]["interviews"] == 2
    region = report(seeded, filters=Filters(region="Pacífico"))
    assert region["report"] == "region" and region["title"] == "Ficha regional"
    assert region["summary"]["insatisfechos"] == 1 and region["demand"]["mentions"] == 2


def test_priority_list_with_urgent_tickets(seeded: sessionmaker[Session]) -> None:
    def ticket(code: str, entity: str, status: str, urgent: bool, created: datetime) -> Ticket:
        return Ticket(code=code, entity_code=entity, status=status, urgent=urgent, need="ayuda",
                           created_at=created, updated_at=created)

    with seeded.begin() as session:
        session.add_all([
            ticket("MDA-2020-00001", "05001", "nueva", True, datetime(2020, 11, 20, tzinfo=UTC)),  # counts
            ticket("MDA-2020-00002", "05002", "cerrada", True, datetime(2020, 11, 20, tzinfo=UTC)),  # closed
            ticket("MDA-2020-00003", "05004", "nueva", False, datetime(2020, 11, 20, tzinfo=UTC)),  # not urgent
            ticket("MDA-2020-00004", "05021", "asignada", True, datetime(2020, 12, 2, tzinfo=UTC)),  # after
        ])
    r = report(seeded)
    items = {p["entity_code"]: p for p in r["priority"]}
    assert set(items) == {"19050", "05001"}
    argelia = items["19050"]
    assert {x["reason"] for x in argelia["reasons"]} == {"insatisfecho", "contribucion_no", "tema_mala"}
    assert argelia["score"] == 3.43 and argelia["region"] == "Pacífico" and argelia["pdet"] is True
    assert argelia["lat"] is not None and argelia["lon"] is not None
    assert items["05001"]["tickets"] == ["MDA-2020-00001"] and items["05001"]["entity"] == "Medellín (Antioquia)"
    assert r["priority"][0]["entity_code"] == "19050"  # most reasons first
    assert report(seeded, filters=Filters(region="Caribe"))["priority"] == []


def test_code_shares_come_from_the_coder_table(seeded: sessionmaker[Session]) -> None:
    models = pytest.importorskip("surveys.models")
    coding = getattr(models, "AnswerCoding", None)
    if coding is None:
        pytest.skip("the coder's answer_coding table is not in this tree")
    before = next(c for c in report(seeded)["codes"] if c["question"] == "porque_articulacion")["months"][-1]
    assert (before["answers"], before["coded"], before["codes"]) == (4, 0, [])  # not coded yet: empty shares
    with seeded.begin() as session:
        answers = session.scalars(select(Answer).join(Interview).where(
            Answer.question == "porque_articulacion", Interview.period == "2020-11")).all()
        given = {"entendimos la ruta": ["integralidad_proceso", "apropiacion_temas"],
                 "apropiamos los temas": ["apropiacion_temas"], "a medias": ["otro"]}
        for answer in answers:
            if answer.value in given:
                session.add(coding(answer_id=answer.id, codebook="articulacion", codes=given[answer.value],
                                   predicted_codes=given[answer.value], scores={}, confidence=0.9,
                                   coder_version="test", codebook_version="test", model_hash="0" * 8,
                                   needs_review=False, status="auto", text_hash="x"))
    block = next(c for c in report(seeded)["codes"] if c["question"] == "porque_articulacion")
    nov = block["months"][-1]
    assert (nov["answers"], nov["coded"]) == (4, 3)
    assert {c["code"]: (c["n"], c["pct"]) for c in nov["codes"]} == {
        "integralidad_proceso": (1, 33.3), "apropiacion_temas": (2, 66.7), "otro": (1, 33.3)}
    labels = {c["code"]: c["label"] for c in nov["codes"]}
    assert labels["integralidad_proceso"] == "Comprensión de la integralidad del proceso"


def test_ficha_municipal_escapes_respondent_text(seeded: sessionmaker[Session]) -> None:
    r = report(seeded, filters=Filters(entity="19050"))
    assert r["report"] == "entidad" and r["entity"]["entity"]["entity"] == "Argelia (Cauca)"
    assert [i["period"] for i in r["entity"]["interviews"]] == ["2020-10", "2020-11"]
    nov = r["entity"]["interviews"][-1]
    assert nov["answers"]["porque_articulacion"] == "<script>alert(1)</script>"
    assert nov["answers"]["tema_armonizacion"] == "Mala" and nov["insatisfecho"] is True
    page = html.render(r)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Ficha municipal" in page and "Argelia (Cauca)" in page
    body = html.render_body(r)  # for a page that embeds the informe (the panel), styled with html.STYLES
    assert body.lstrip().startswith('<div class="informe">') and "<html" not in body and "<style" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    selectors = [line.strip() for line in html.STYLES.splitlines() if "{" in line and not line.startswith("@")]
    assert html.STYLES in page and selectors and all(s.startswith(".informe") for s in selectors)  # scoped


def test_empty_period_renders(sessions: sessionmaker[Session]) -> None:
    r = report(sessions, "2026-01")
    assert r["summary"]["interviews"] == 0 and r["summary"]["pct_insatisfechos"] is None
    assert r["priority"] == [] and r["demand"]["mentions"] == 0
    page = html.render(r)
    assert "Sin entrevistas en el periodo." in page and "Sin demanda registrada." in page
    assert "None" not in page and ">nan" not in page.lower()


def test_periods() -> None:
    assert periods.parse("2020-11").previous().key == "2020-10"
    assert periods.parse("2021-01").previous().key == "2020-12"
    q = periods.parse("2020-t4")
    assert (q.key, q.months, q.previous().key, q.label) == ("2020-Q4", ("2020-10", "2020-11", "2020-12"),
                                                            "2020-Q3", "4.º trimestre de 2020")
    assert periods.parse("2020-Q1").previous().key == "2019-Q4"
    y = periods.parse("2020")
    assert len(y.months) == 12 and y.previous().key == "2019" and y.year_to_date() == y.months
    assert periods.parse("2020-11").label == "noviembre de 2020"
    for bad in ("2020-13", "2020-Q5", "20-11", "", "2020-11-01"):
        with pytest.raises(ValueError):
            periods.parse(bad)


def test_an_aspect_that_does_not_apply_is_left_out_of_means(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    """"No aplica / no lo conozco" (the KPT unknown) is stored as no_aplica: never a number in a mean."""
    rows = [dict(periodo="2020-11", entidad_codigo="63302", puntaje_general=4, aspecto_kpt="no_aplica",
                 aspecto_asesor=3),
            dict(periodo="2020-11", entidad_codigo="19050", puntaje_general=5, aspecto_kpt="No aplica / no lo conozco",
                 aspecto_asesor=5),
            dict(periodo="2020-11", entidad_codigo="52835", puntaje_general=5, aspecto_kpt=2, aspecto_asesor=5)]
    path = tmp_path / "respuestas.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with sessions.begin() as session:
        result = importer.import_responses(session, path)
    assert result.created == 3 and not result.errors
    with sessions() as session:
        kpt = session.scalars(select(Answer.value).where(Answer.question == "aspecto_kpt").order_by(Answer.id)).all()
    assert kpt == ["no_aplica", "no_aplica", 2]
    r = report(sessions)
    aspect = next(a for a in r["aspects"] if a["question"] == "aspecto_kpt")
    assert aspect["months"][-1] == {"period": "2020-11", "n": 1, "mean": 2.0}
    assert r["summary"]["mean_score"] == 4.17  # (3.5 + 5 + 4) / 3: the scores leave no_aplica out
