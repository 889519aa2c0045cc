"""The mesa de ayuda's report (the dict of bot.helpdesk.mesa.build) as a standalone HTML page with charts,
a workbook or JSON: the same numbers everywhere (``m360 tickets report``, the API, the panel)."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd
from markupsafe import Markup

from analysis import charts
from analysis.html import STYLES, TEMPLATES, whole
from surveys.spreadsheet import neutralise_workbook


def _charts(r: dict[str, Any]) -> dict[str, Markup]:
    def bars(rows: list[dict[str, Any]], title: str) -> Markup:
        return Markup(charts.hbars([(x["label"], x["received"]) for x in rows[:15]], title, unit="", decimals=0))

    out = {
        "chart_themes": bars(r["by_theme"], "Solicitudes por tema"),
        "chart_regions": bars(r["by_region"], "Solicitudes por región"),
        "chart_channels": bars(r["by_channel"], "Solicitudes por canal de origen"),
        "chart_enlaces": bars(r["by_enlace"], "Solicitudes por enlace territorial"),
        "chart_months": Markup(charts.stacked(
            [(m["label"], [("A tiempo", _share(m["answered_on_time"], m["received"])),
                           ("Fuera de plazo", _share(m["answered_late"], m["received"])),
                           ("Sin respuesta de fondo", _share(m["received"] - m["answered"], m["received"]))])
             for m in r["by_month"]], "Respuesta de fondo por mes de llegada (% de las recibidas)",
            colors=("#2e9e5b", "#c0392b", "#bbbbbb"))),
        "chart_satisfaction": Markup(charts.columns(
            [str(d["value"]) for d in r["summary"]["satisfaction"]["distribution"]],
            [("Calificaciones", [d["n"] for d in r["summary"]["satisfaction"]["distribution"]])],
            "Satisfacción de los solicitantes (1 muy mala … 5 excelente)", decimals=0)),
    }
    return out


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _context(r: dict[str, Any]) -> dict[str, Any]:
    return dict(r=r, s=r["summary"], num=charts.number, whole=whole, styles=Markup(STYLES), **_charts(r))


def render_html(r: dict[str, Any]) -> str:
    return TEMPLATES.get_template("page.html").render(body="mesa_body.html", **_context(r))


def render_body(r: dict[str, Any]) -> str:
    """Without <html>/<head>, for the panel (style it with analysis.html.STYLES)."""
    return TEMPLATES.get_template("mesa_body.html").render(**_context(r))


def tables(r: dict[str, Any]) -> dict[str, pd.DataFrame]:
    def flat(rows: list[dict[str, Any]], first: str) -> pd.DataFrame:
        return pd.DataFrame([{first: x.get("label", x.get("period")), **_flat(x)} for x in rows])

    s = r["summary"]
    out = {"resumen": pd.DataFrame([{"indicador": k, "valor": v} for k, v in _flat(s).items()]
                                   + [{"indicador": f"filtro_{k}", "valor": v} for k, v in r["filters"].items()]
                                   + [{"indicador": "periodo", "valor": r["period"]}])}
    out["por_mes"] = flat(r["by_month"], "mes")
    for key, name, first in (("by_theme", "por_tema", "tema"), ("by_region", "por_region", "region"),
                             ("by_channel", "por_canal", "canal"), ("by_enlace", "por_enlace", "enlace"),
                             ("by_request_type", "por_tipo", "tipo"), ("referrals", "remitidas", "entidad")):
        out[name] = flat(r[key], first)
    out["vencidas"] = pd.DataFrame(r["overdue"], columns=["code", "entity", "region", "enlace", "due_date",
                                                          "days_overdue", "status"])
    return out


def _flat(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary as one level of columns: first_response_days.median → primera_respuesta_mediana …"""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if key in ("key", "label", "period"):
            continue
        if isinstance(value, dict):
            for sub, inner in value.items():
                if sub != "distribution":
                    out[f"{key}_{sub}"] = inner
        else:
            out[key] = value
    return out


def render(r: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(r, ensure_ascii=False, indent=1, default=str).encode("utf-8")
    if fmt == "html":
        return render_html(r).encode("utf-8")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
            for name, table in tables(r).items():
                neutralise_workbook(table).to_excel(writer, sheet_name=name[:31], index=False)
        return buffer.getvalue()
    raise ValueError(f"unknown format {fmt!r}: use html, xlsx or json")


def default_name(r: dict[str, Any], fmt: str) -> str:
    return f"informe_mesa_{r['period']}.{fmt}"
