"""The informe de percepción as data: one dict (JSON-ready) with every figure of the report for a
cut (month, quarter or year) and a set of filters. The HTML (:mod:`analysis.html`), the XLSX
(:mod:`analysis.xlsx`), ``m360 report`` and ``GET /api/v1/reports/<period>`` all render this dict,
so they show the same numbers.

Spans: the cut's own interviews give the distribution, satisfaction, regions and priority list;
the month-to-month series (aspects, themes, Bloque 4, codes) run from the first month of the
cut's year that has interviews up to the last month of the cut that has (:func:`span`: no empty
trailing months); the cumulative demand covers that same span; the code shares also come as a
total over the cut's months; the change compares with the previous cut of the same kind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from analysis import frame as frames
from analysis import indicators as ind
from analysis.periods import Period, month_label, parse
from surveys.clock import utcnow
from surveys.entities import display_name
from surveys.models import Answer, Entity, Interview, Ticket
from surveys.statuses import InterviewStatus
from surveys.store import real_channel
from surveys.tickets import OPEN

REQUESTS = Ticket.__table__
ENTITIES = Entity.__table__
ANSWERS, INTERVIEWS = Answer.__table__, Interview.__table__

NOT_REPORTED = ("consentimiento", "cargo", "contacto_asesor")
KIND_TITLES = {"informe": "Informe de percepción", "region": "Ficha regional", "entidad": "Ficha municipal"}


def _connection(source: Connection | Session) -> Connection:
    return source.connection() if isinstance(source, Session) else source


def urgent_tickets(conn: Connection, until: str | None = None, include_test: bool = False) -> pd.DataFrame:
    """Open urgent help requests (created up to the end of month ``until`` if given), with the
    entity's attributes in the frame's column names; those opened in the simulator only if asked."""
    query = (select(REQUESTS.c.code.label("ticket"), REQUESTS.c.created_at,
                    REQUESTS.c.entity_code.label("entidad_codigo"),
                    ENTITIES.c.name.label("entidad_nombre"), ENTITIES.c.kind.label("entidad_tipo"),
                    ENTITIES.c.dept_name.label("departamento"), ENTITIES.c.dept_code, ENTITIES.c.region,
                    ENTITIES.c.pdet, ENTITIES.c.lat, ENTITIES.c.lon)
             .join(ENTITIES, ENTITIES.c.code == REQUESTS.c.entity_code)
             .where(REQUESTS.c.urgent.is_(True), REQUESTS.c.status.in_(OPEN))
             .order_by(REQUESTS.c.created_at))
    if not include_test:
        query = query.where(real_channel(REQUESTS.c.channel))
    rows = [dict(r._mapping) for r in conn.execute(query)]
    if until is not None:
        year, month = int(until[:4]), int(until[5:])
        end = datetime(year + month // 12, month % 12 + 1, 1, 5, tzinfo=UTC)  # 00:00 Bogotá of the next month
        rows = [r for r in rows if r["created_at"] < end]
    for r in rows:
        r["entidad"] = display_name(r["entidad_nombre"], r["entidad_tipo"], r["dept_code"], r["departamento"])
        r["periodo"] = None
    columns = ["ticket", "entidad_codigo", "entidad_nombre", "entidad", "entidad_tipo", "departamento", "dept_code",
               "region", "pdet", "lat", "lon", "periodo"]
    return pd.DataFrame.from_records(rows, columns=columns)


def span(cut: Period, with_data: set[str]) -> list[str]:
    """The months of the month-to-month series: from the first month of the cut's year that has
    interviews to the last one that has, never ending before the cut begins (a month without
    interviews still shows itself) and never after it ends. No trailing empty months: a 2020-Q4 cut
    with interviews in October and November runs to November."""
    year = cut.year_to_date()
    found = [m for m in year if m in with_data]
    if not found:
        return [cut.first]
    end = max(found[-1], cut.first)
    return [m for m in year if found[0] <= m <= end]


def build_report(source: Connection | Session, period: str | Period, filters: ind.Filters | None = None,
                 options: ind.Options | None = None, *, qid: str = "monitoreo360",
                 now: datetime | None = None, include_test: bool = False) -> dict[str, Any]:
    """Every figure of the informe for ``period`` (YYYY-MM, YYYY-Qn or YYYY) restricted to
    ``filters`` (see the module doc for the spans). Simulator conversations (test data) count only
    with ``include_test``. Raises ValueError for a bad period. ``now`` stamps ``generated_at``
    (default: the wall clock)."""
    conn = _connection(source)
    cut = parse(period) if isinstance(period, str) else period
    filters, options = filters or ind.Filters(), options or ind.Options()
    previous = cut.previous()
    months = sorted(set(cut.year_to_date()) | set(previous.months))
    q, _ = frames.questionnaire(conn, qid)
    # The ficha municipal shows every answer; the rest of the report needs no identification answers.
    questions = None if filters.entity else [x.name for x in q.questions if x.name not in NOT_REPORTED]
    loaded = frames.load_frame(conn, months, qid=qid, questions=questions, include_test=include_test)
    labels = ind.Labels.of(q)

    scored = ind.with_scores(ind.apply_filters(loaded, filters), options)
    series_months = span(cut, set(scored["periodo"]) if not scored.empty else set())
    current = scored[scored["periodo"].isin(cut.months)]
    before = scored[scored["periodo"].isin(previous.months)]
    series = scored[scored["periodo"].isin(series_months)]
    tickets = ind.apply_filters(urgent_tickets(conn, cut.last, include_test), filters)

    headline = ind.summary(current, options)
    previous_summary = ind.summary(before, options)
    kind = "entidad" if filters.entity else "region" if filters.region else "informe"
    report: dict[str, Any] = {
        "report": kind,
        "title": KIND_TITLES[kind],
        "questionnaire": q.key,
        "period": cut.key, "period_kind": cut.kind, "period_label": cut.label, "months": list(cut.months),
        "series_months": series_months, "series_labels": [month_label(m) for m in series_months],
        "filters": filters.as_dict(),
        "generated_at": (now or utcnow()).astimezone(UTC).isoformat(timespec="seconds"),
        "rounding": "percentages to 1 decimal and means to 2, half away from zero; the text rounds "
                    "percentages to whole numbers the same way",
        "summary": headline,
        "previous": {"period": previous.key, "period_label": previous.label, "summary": previous_summary,
                     "change": ind.change(headline, previous_summary)},
        "satisfaction": ind.satisfaction(current, options),
        "puntaje_general": ind.score_distribution(current, labels),
        "puntaje_general_by_month": ind.distribution_by_month(series, series_months, labels),
        "by_region": ind.by_region(current),
        "monthly": ind.monthly_series(series, series_months, options),
        "aspects": ind.aspects_by_month(series, series_months, labels),
        "themes": ind.themes_by_month(series, series_months, labels),
        "contribution": ind.contribution_by_month(series, series_months, labels),
        "codes": ind.codes_by_month(series, series_months, labels, [m for m in cut.months if m in series_months]),
        "demand": ind.cumulative_demand(series, labels, series_months[0], series_months[-1]),
        "priority": ind.priority_list(current, tickets, labels),
    }
    if filters.entity:
        report["entity"] = entity_detail(conn, filters.entity, series, labels)
        everyone = ind.with_scores(loaded[loaded["periodo"].isin(cut.months)], options) if not loaded.empty else scored
        region = (report["entity"]["entity"] or {}).get("region")
        report["comparison"] = entity_comparison(everyone, filters.entity, region)
    return report


#: A region's figure is shown beside an entity's only with this many entities in it: fewer would
#: neither be a fair comparison nor keep the other entities' answers out of sight.
MIN_GROUP = 3


def _group(frame: pd.DataFrame) -> dict[str, Any]:
    aspects = {a: ind.mean(pd.to_numeric(frame[a], errors="coerce").dropna().tolist()) if a in frame.columns else None
               for a in ind.ASPECT_LABELS}
    general = pd.to_numeric(frame["puntaje_general"], errors="coerce").dropna() if "puntaje_general" in frame else []
    scores = frame["puntaje_entidad"].dropna().tolist() if "puntaje_entidad" in frame else []
    return {"interviews": int(len(frame)),
            "entities": int(frame["entidad_codigo"].nunique()) if not frame.empty else 0,
            "mean_score": ind.mean(scores), "mean_puntaje_general": ind.mean(list(general)), "aspects": aspects}


def entity_comparison(everyone: pd.DataFrame, code: str, region: str | None) -> dict[str, Any]:
    """An entity's scores of the cut beside its region's and the country's (every entity that
    answered in the cut, the entity included). The region's are shown only from MIN_GROUP entities."""
    mine = everyone[everyone["entidad_codigo"] == code] if not everyone.empty else everyone
    in_region = everyone[everyone["region"] == region] if region and not everyone.empty else everyone.iloc[0:0]
    regional = _group(in_region)
    return {"entity": _group(mine), "region": {"name": region, "shown": regional["entities"] >= MIN_GROUP,
                                               **regional},
            "country": _group(everyone), "min_group": MIN_GROUP,
            "aspect_labels": dict(ind.ASPECT_LABELS)}


def entity_summaries(source: Connection | Session, period: str | Period, codes: list[str],
                     options: ind.Options | None = None, *, qid: str = "monitoreo360") -> dict[str, dict[str, Any]]:
    """What the short ficha of each entity in ``codes`` says (the chat's "Mis resultados", a wave's
    results): its scores beside its region's and the country's, the themes it asked for, its open
    tickets — the figures of the ficha municipal, from one load of the data for them all."""
    conn = _connection(source)
    cut = parse(period) if isinstance(period, str) else period
    options = options or ind.Options()
    q, _ = frames.questionnaire(conn, qid)
    labels = ind.Labels.of(q)
    # Only the cut's interviews and only the scored answers: a chat turn reads this, not a report.
    loaded = frames.load_frame(conn, list(cut.months), qid=qid,
                               questions=list(dict.fromkeys(("puntaje_general", *options.score_questions))))
    everyone = ind.with_scores(loaded, options)
    out = {}
    for code in codes:
        info = entity_info(conn, code)
        out[code] = {"period": cut.key, "period_label": cut.label, "threshold": options.threshold, "entity": info,
                     "comparison": entity_comparison(everyone, code, (info or {}).get("region")),
                     "themes": _entity_themes(conn, code, cut.year_to_date(), labels),
                     "tickets": _open_tickets(conn, code, labels)}
    return out


def entity_info(conn: Connection, code: str) -> dict[str, Any] | None:
    row = conn.execute(select(ENTITIES).where(ENTITIES.c.code == code)).one_or_none()
    return None if row is None else {
        "code": row.code, "name": row.name, "entity": display_name(row.name, row.kind, row.dept_code, row.dept_name),
        "kind": row.kind, "department": row.dept_name, "region": row.region, "pdet": bool(row.pdet),
        "pdet_subregion": row.pdet_subregion, "lat": row.lat, "lon": row.lon}


def entity_detail(conn: Connection, code: str, series: pd.DataFrame, labels: ind.Labels) -> dict[str, Any]:
    """The ficha municipal's own part: the entity and its interviews of the span, answer by answer."""
    info = entity_info(conn, code)
    interviews = []
    for record in series.to_dict("records"):
        answers = {}
        for question in labels.questionnaire.questions:
            value = record.get(question.name)
            if isinstance(value, list):
                answers[question.name] = [labels.choice(question.name, v) for v in value]
            elif value is not None and not (isinstance(value, float) and pd.isna(value)):
                answers[question.name] = labels.choice(question.name, value) if question.choices else value
        score = record.get("puntaje_entidad")
        interviews.append({"period": record["periodo"], "channel": record["canal"], "source": record["source"],
                           "score": None if score is None or pd.isna(score) else ind.mean([score]),
                           "insatisfecho": record.get("insatisfecho"), "answers": answers})
    return {"entity": info, "interviews": interviews,
            "questions": {q.name: labels.question(q.name) for q in labels.questionnaire.questions},
            "themes": _entity_themes(conn, code, series["periodo"].unique().tolist(), labels),
            "tickets": _open_tickets(conn, code, labels)}


def _entity_themes(conn: Connection, code: str, months: Iterable[str], labels: ind.Labels) -> list[dict[str, Any]]:
    """The themes the entity asked for: in 5.1 of its completed interviews of ``months``, and in its
    tickets."""
    found: dict[str, set[str]] = {}
    asked = conn.execute(select(ANSWERS.c.value).join(INTERVIEWS, INTERVIEWS.c.id == ANSWERS.c.interview_id).where(
        INTERVIEWS.c.entity_code == code, INTERVIEWS.c.status == InterviewStatus.COMPLETA,
        INTERVIEWS.c.period.in_(list(months)),
        ANSWERS.c.question == ind.DEMAND_QUESTION)).scalars()
    for value in asked:
        for theme in value if isinstance(value, list) else ():
            found.setdefault(theme, set()).add("monitoreo")
    for themes in conn.execute(select(REQUESTS.c.themes).where(REQUESTS.c.entity_code == code)).scalars():
        for theme in themes or ():
            found.setdefault(theme, set()).add("mesa de ayuda")
    return [{"id": t, "label": labels.choice(ind.DEMAND_QUESTION, t), "sources": sorted(found[t])}
            for t in sorted(found, key=lambda t: (t == "otro", labels.choice(ind.DEMAND_QUESTION, t)))]


def _open_tickets(conn: Connection, code: str, labels: ind.Labels) -> list[dict[str, Any]]:
    rows = conn.execute(select(REQUESTS.c.code, REQUESTS.c.status, REQUESTS.c.themes, REQUESTS.c.due_date)
                        .where(REQUESTS.c.entity_code == code, REQUESTS.c.status.in_(OPEN))
                        .order_by(REQUESTS.c.created_at))
    return [{"code": r.code, "status": r.status, "due_date": r.due_date,
             "themes": [labels.choice(ind.DEMAND_QUESTION, t) for t in r.themes or ()]} for r in rows]


def render(report: dict[str, Any], fmt: str, review_url: Callable[[str], str] | None = None) -> bytes:
    """The report dict as html, xlsx or json bytes (``m360 report`` and the panel's downloads);
    ``review_url`` links the HTML's pending codings to the panel's review queue."""
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=1).encode("utf-8")
    if fmt == "html":
        from analysis import html

        return html.render(report, review_url).encode("utf-8")
    if fmt == "xlsx":
        from analysis import xlsx

        return xlsx.render(report)
    raise ValueError(f"unknown format {fmt!r}: use html, xlsx or json")


def default_name(report: dict[str, Any], fmt: str) -> str:
    kind = {"informe": "informe_percepcion", "region": "ficha_region", "entidad": "ficha_entidad"}[report["report"]]
    suffix = report["filters"].get("entity") or report["filters"].get("region") or ""
    suffix = re.sub(r"[^A-Za-z0-9]+", "_", suffix).strip("_")
    return f"{kind}_{report['period']}{'_' + suffix if suffix else ''}.{fmt}"
