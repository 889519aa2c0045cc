"""The results API: the informe de percepción as JSON and the export rows (docs/reports.md).

- ``GET /api/v1/reports/<period>``: the report dict of :func:`analysis.report.build_report`;
  ``period`` is YYYY-MM, YYYY-Qn or YYYY; query parameters ``region``, ``department``, ``kind``
  (alcaldia|gobernacion), ``pdet`` (true|false), ``entity`` (DIVIPOLA code), ``questionnaire``.
- ``GET /api/v1/responses?period=YYYY-MM``: the rows of the responses export (analysis.export),
  ``{"items": [...], "total": N, "period": …}``.

- ``GET /api/v1/reports/mesa/<period>``: the mesa de ayuda's report (bot.helpdesk.mesa): volumes by theme,
  region, channel and enlace, times to answer, share answered on time, overdue, referrals,
  satisfaction; query parameters ``region``, ``theme``, ``enlace`` (a staff id).

Roles analyst, der and admin may read them."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from analysis import export
from analysis import report as reports
from analysis.indicators import Filters
from analysis.periods import is_month, parse
from bot.helpdesk import mesa
from bot.helpdesk.themes import load_taxonomy
from webhooks import clock
from webhooks.app import engine
from webhooks.auth import READERS, require_role
from webhooks.jsonapi import bounded_int, flag, one_of

bp = Blueprint("reports", __name__, url_prefix="/api/v1")
def filters_from_args() -> Filters:
    """The report filters of the query string (a BadRequest for a bad pdet or kind)."""
    args = request.args
    return Filters(region=args.get("region") or None, department=args.get("department") or None,
                   kind=one_of("kind", ("alcaldia", "gobernacion")), pdet=flag("pdet"),
                   entity=args.get("entity") or None)


@bp.get("/reports/<period>")
@require_role(*READERS)
def report(period: str) -> Any:
    try:
        cut = parse(period)
    except ValueError:
        return jsonify(error="period must be YYYY-MM, YYYY-Qn or YYYY"), 400
    filters = filters_from_args()
    with current_app.extensions["m360.sessions"]() as session:
        data = reports.build_report(session, cut, filters, qid=request.args.get("questionnaire", "monitoreo360"))
    if filters.entity and data["entity"]["entity"] is None:
        return jsonify(error=f"unknown entity {filters.entity}"), 404
    return jsonify(data)


def _json_cell(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


@bp.get("/responses")
@require_role(*READERS)
def responses() -> Any:
    period = request.args.get("period", "")
    if not is_month(period):
        return jsonify(error="period must be YYYY-MM"), 400
    with current_app.extensions["m360.sessions"]() as session:
        frame = export.export_frame(session, period, request.args.get("questionnaire", "monitoreo360"))
    items = [{k: _json_cell(v) for k, v in row.items()} for row in frame.to_dict("records")]
    return jsonify(items=items, total=len(items), period=period, columns=list(frame.columns))


@bp.get("/reports/mesa/<period>")
@require_role(*READERS)
def mesa_report(period: str) -> Any:
    try:
        cut = parse(period)
    except ValueError:
        return jsonify(error="period must be YYYY-MM, YYYY-Qn or YYYY"), 400
    enlace = request.args.get("enlace")
    filters = mesa.Filters(region=request.args.get("region") or None, theme=one_of("theme", load_taxonomy().ids),
                           enlace=None if enlace is None else bounded_int(enlace, "enlace", 0))
    with engine().connect() as conn:
        try:
            data = mesa.build(conn, cut, filters, now=clock.now())
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
    return jsonify(data)
