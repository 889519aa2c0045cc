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

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select

from analysis import export
from analysis import report as reports
from analysis.indicators import Filters
from analysis.periods import Period, parse
from bot.helpdesk import mesa
from bot.helpdesk.themes import load_taxonomy
from surveys.models import Interview
from webhooks import clock
from webhooks.app import engine
from webhooks.auth import READERS, require_role
from webhooks.jsonapi import BadRequest, bounded_int, flag, one_of

bp = Blueprint("reports", __name__, url_prefix="/api/v1")


def started_cut(text: str, *, month_only: bool = False) -> Period:
    """The period asked for, which must have begun by the app's clock (in Bogotá): a cut that starts
    after this month holds no answer yet (unless a wave for it was launched early), and its empty
    report would read as «no interviews»: there is no report of it (404). A period that is not one
    is a BadRequest."""
    try:
        cut = parse(text)
    except ValueError:
        cut = None
    if cut is None or (month_only and cut.kind != "month"):
        raise BadRequest("period must be YYYY-MM" if month_only else "period must be YYYY-MM, YYYY-Qn or YYYY")
    today = clock.today()
    if cut.first > today.strftime("%Y-%m") and not _filed_in(cut):
        abort(404, f"period {cut.key} has not started yet (today is {today.isoformat()})")
    return cut


def _filed_in(cut: Period) -> bool:
    """Whether an interview is filed in the cut already (a wave for next month launched early)."""
    with engine().connect() as conn:
        return conn.execute(select(Interview.id).where(Interview.period.in_(cut.months)).limit(1)).first() is not None


def filters_from_args() -> Filters:
    """The report filters of the query string (a BadRequest for a bad pdet or kind)."""
    args = request.args
    return Filters(region=args.get("region") or None, department=args.get("department") or None,
                   kind=one_of("kind", ("alcaldia", "gobernacion")), pdet=flag("pdet"),
                   entity=args.get("entity") or None)


@bp.get("/reports/<period>")
@require_role(*READERS)
def report(period: str) -> Any:
    cut = started_cut(period)
    filters = filters_from_args()
    with current_app.extensions["m360.sessions"]() as session:
        data = reports.build_report(session, cut, filters, qid=request.args.get("questionnaire", "monitoreo360"),
                                    now=clock.now())
    if filters.entity and data["entity"]["entity"] is None:
        return jsonify(error=f"unknown entity {filters.entity}"), 404
    return jsonify(data)


def _json_cell(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


@bp.get("/responses")
@require_role(*READERS)
def responses() -> Any:
    period = started_cut(request.args.get("period", ""), month_only=True).key
    with current_app.extensions["m360.sessions"]() as session:
        frame = export.export_frame(session, period, request.args.get("questionnaire", "monitoreo360"))
    items = [{k: _json_cell(v) for k, v in row.items()} for row in frame.to_dict("records")]
    return jsonify(items=items, total=len(items), period=period, columns=list(frame.columns))


@bp.get("/reports/mesa/<period>")
@require_role(*READERS)
def mesa_report(period: str) -> Any:
    cut = started_cut(period)
    enlace = request.args.get("enlace")
    filters = mesa.Filters(region=request.args.get("region") or None, theme=one_of("theme", load_taxonomy().ids),
                           enlace=None if enlace is None else bounded_int(enlace, "enlace", 0))
    with engine().connect() as conn:
        try:
            data = mesa.build(conn, cut, filters, now=clock.now())
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
    return jsonify(data)
