"""The informe de percepción (and the fichas) as one self-contained HTML page: inline SVG charts
(:mod:`analysis.charts`), tables, print styles; no script, no external resource. Rendered with
Jinja2 with autoescaping: respondents' free text is escaped like every other value."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from analysis import charts, maps
from analysis.indicators import short_label, whole_percent
from analysis.periods import month_label
from surveys import formats, settings


def _signed(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + charts.number(value, decimals)


def whole(value: float | None) -> str:
    """A percentage as printed: a whole number (half away from zero), «—» without data."""
    figure = whole_percent(value)
    return "—" if figure is None else str(figure)


def _all_codes(block: dict[str, Any]) -> list[tuple[str, str]]:
    return list(dict.fromkeys((c["code"], c["label"]) for m in block["months"] for c in m["codes"]))


def _span_label(months: list[str]) -> str:
    """«nov. 2020», or «oct. 2020 a nov. 2020» for several months."""
    if not months:
        return ""
    return month_label(months[0]) if len(months) == 1 else f"{month_label(months[0])} a {month_label(months[-1])}"


def review_url_from_env(codebook: str) -> str:
    """The panel's review queue of ``codebook``: under ``M360_PUBLIC_URL`` when it is set (a report
    file opened outside the panel), else the path on the server that serves the report."""
    base = (settings.current().public_url or "").rstrip("/")
    return f"{base}{REVIEW_PATH}?{urlencode({'codebook': codebook})}"


def _share(month: dict[str, Any], code: str) -> float | None:
    return next((c["pct"] for c in month["codes"] if c["code"] == code), 0.0 if month["coded"] else None)


def _code_chart(block: dict[str, Any]) -> Markup:
    """The shares over the whole cut (every month of it that has interviews)."""
    total = block["total"]
    return Markup(charts.hbars([(c["label"], c["pct"]) for c in total["codes"]],
                               f"{block['label']} — categorías, {_span_label(total['months'])}"))


def _chart_data(r: dict[str, Any]) -> dict[str, Markup]:
    months = [month_label(m) for m in r["series_months"]]
    out: dict[str, Any] = {}
    out["chart_distribution"] = charts.stacked(
        [(month_label(m["period"]), [(f"{d['value']} {d['label']}", d["pct"]) for d in reversed(m["distribution"])])
         for m in r["puntaje_general_by_month"]], "Distribución del puntaje general por mes")
    out["chart_regions"] = charts.hbars([(g["region"], g["mean_puntaje_general"]) for g in r["by_region"]],
                                        "Puntaje general promedio por región", unit="", maximum=5, decimals=2)
    out["chart_satisfaction"] = charts.stacked(
        [(month_label(m["period"]), [("Satisfecho", m["pct_satisfied"]), ("Insatisfecho", m["pct_insatisfechos"])])
         for m in r["monthly"]], "Satisfecho vs. insatisfecho por mes", colors=("#2e9e5b", "#c0392b"))
    out["chart_monthly"] = charts.line(months, [("Puntaje general", [m["mean_puntaje_general"] for m in r["monthly"]]),
                                                ("Puntaje de la entidad", [m["mean_score"] for m in r["monthly"]])],
                                       "Puntaje promedio mes a mes")
    out["chart_aspects"] = charts.columns([a["label"] for a in r["aspects"]],
                                          [(lab, [a["months"][i]["mean"] for a in r["aspects"]])
                                           for i, lab in enumerate(months)], "Calificación por aspectos mes a mes",
                                          maximum=5)
    out["theme_charts"] = [Markup(charts.stacked(
        [(month_label(m["period"]), [(lab["label"], lab["pct"]) for lab in m["labels"]]) for m in t["months"]],
        t["label"])) for t in r["themes"]]
    out["contribution_charts"] = [Markup(charts.stacked(
        [(month_label(m["period"]), [(a["label"], a["pct"]) for a in m["answers"]]) for m in c["months"]],
        c["label"], colors=[charts.YES_PARTIAL_NO.get(a["value"], "#999") for a in c["months"][0]["answers"]]))
        for c in r["contribution"]]
    out["chart_demand"] = charts.hbars([(t["label"], t["pct_mentions"]) for t in r["demand"]["themes"]],
                                       "Demanda acumulada por tema (% de menciones)")
    out["map_priority"] = maps.priority_map(r["priority"], f"Entidades prioritarias — {r['period_label']}",
                                            anchor="p-")
    if r.get("comparison"):
        out["chart_comparison"] = _comparison_chart(r)
    return {k: (Markup(v) if isinstance(v, str) else v) for k, v in out.items()}


def _comparison_chart(r: dict[str, Any]) -> str:
    """The entity's score and aspects beside its region's and the country's (grouped columns)."""
    c = r["comparison"]
    keys = [("mean_score", "Puntaje de la entidad"), ("mean_puntaje_general", "Puntaje general")]
    keys += [(("aspects", a), label) for a, label in c["aspect_labels"].items()]

    def values(group: dict[str, Any]) -> list[float | None]:
        return [group["aspects"].get(k[1]) if isinstance(k, tuple) else group.get(k) for k, _ in keys]

    entity = (r.get("entity") or {}).get("entity") or {}
    series = [(entity.get("name") or "Entidad", values(c["entity"]))]
    if c["region"]["shown"]:
        series.append((f"Región {c['region']['name']}", values(c["region"])))
    series.append(("País", values(c["country"])))
    return charts.columns([label for _, label in keys], series, "Su entidad frente a la región y el país",
                          maximum=5)

#: Where the panel serves the coding review queue (webhooks.panel.results.review_queue).
REVIEW_PATH = "/panel/revision"

STYLES = resources.files("analysis").joinpath("templates/informe.css").read_text(encoding="utf-8")
"""The informe's CSS (scoped to ``.informe``): inlined in the standalone page; a page that embeds
:func:`render_body` under a CSP without inline styles serves it as a file."""

TEMPLATES = Environment(loader=PackageLoader("analysis", "templates"), autoescape=True, trim_blocks=True,
                   lstrip_blocks=True)


def _context(report: dict[str, Any], review_url: Callable[[str], str] | None = None) -> dict[str, Any]:
    """What the templates need: the report, its charts (SVG, escaped inside) and formatting helpers."""
    filters = report.get("filters") or {}
    names = {"region": "región", "department": "departamento", "kind": "tipo", "pdet": "PDET", "entity": "entidad"}
    shown = " · ".join(f"{names.get(k, k)}: {'sí' if v is True else 'no' if v is False else v}"
                       for k, v in filters.items())
    if report.get("entity") and report["entity"].get("entity"):
        shown = report["entity"]["entity"]["entity"] + (f" · {shown}" if shown else "")
    kinds = {"month": "Mes:", "quarter": "Trimestre:", "year": "Año:"}
    return dict(
        r=report, s=report["summary"], codes=report["codes"], filters=shown,
        kind_label=kinds.get(report["period_kind"], ""), num=charts.number, pct=charts.percent, whole=whole,
        signed=_signed, when=formats.moment, count=formats.count,
        qlabels=lambda names: ", ".join(map(short_label, names)),
        mlabel=month_label, all_codes=_all_codes, share=_share, code_chart=_code_chart, styles=Markup(STYLES),
        span_label=_span_label, review_url=review_url or review_url_from_env,
        **_chart_data(report))


def render(report: dict[str, Any], review_url: Callable[[str], str] | None = None) -> str:
    """The report dict of :func:`analysis.report.build_report` as one standalone HTML page (styles inline).
    ``review_url``: codebook → link to its review queue (default :func:`review_url_from_env`)."""
    return TEMPLATES.get_template("page.html").render(body="informe_body.html", **_context(report, review_url))


def render_body(report: dict[str, Any], review_url: Callable[[str], str] | None = None) -> str:
    """The same content without ``<html>``/``<head>``, inside ``<div class="informe">``, for a page
    that embeds it (the panel); style it with :data:`STYLES`."""
    return TEMPLATES.get_template("informe_body.html").render(**_context(report, review_url))
