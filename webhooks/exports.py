"""Downloads: the responses export for a period (CSV or XLSX). Roles analyst, der and admin
(``Authorization: Bearer <token>``, webhooks.auth): the rows carry respondents' answers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from analysis import export
from webhooks.auth import require_role
from webhooks.reports import started_cut

bp = Blueprint("exports", __name__)

@bp.get("/export/responses")
@require_role("analyst", "der", "admin")
def responses() -> Any:
    period, fmt = started_cut(request.args.get("period", ""), month_only=True).key, request.args.get("format", "csv")
    if fmt not in export.MEDIA_TYPES:
        return jsonify(error="format must be csv or xlsx"), 400
    with current_app.extensions["m360.sessions"]() as session:
        frame = export.export_frame(session, period, request.args.get("questionnaire", "monitoreo360"))
    filename = f"monitoreo360_{period}.{fmt}"
    return Response(export.to_bytes(frame, fmt), mimetype=export.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
