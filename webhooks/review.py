"""The review queue of coded open answers (docs/coding.md), under ``/api/v1``:

- ``GET /api/v1/review-queue?codebook=&limit=`` — answers the coder was not confident about, least
  confident first (roles analyst, der, admin);
- ``POST /api/v1/answers/<id>/codes`` — ``{"accept": true}`` confirms the predicted codes,
  ``{"codes": [...]}`` corrects them (roles analyst, admin). Unknown code ids are a 400 and nothing
  is written; every change is audited with the actor (``g.actor``). Reviewed answers go into the next
  ``m360 coder train``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request

from analysis.coding import codebooks, storage
from webhooks.app import engine
from webhooks.auth import require_role
from webhooks.jsonapi import one_of

bp = Blueprint("review", __name__, url_prefix="/api/v1")
MAX_LIMIT = 500


def _error(message: str, status: int = 400) -> Any:
    return jsonify(error=message), status


@bp.get("/review-queue")
@require_role("analyst", "der")
def review_queue() -> Any:
    codebook = one_of("codebook", codebooks.available())
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        return _error("limit must be an integer")
    if not 1 <= limit <= MAX_LIMIT:
        return _error(f"limit must be between 1 and {MAX_LIMIT}")
    with engine().connect() as conn:
        items = storage.review_queue(conn, codebook, limit)
    return jsonify(items=items, count=len(items))


@bp.post("/answers/<int:answer_id>/codes")
@require_role("analyst")
def review_answer(answer_id: int) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error('expected a JSON object: {"codes": [...]} or {"accept": true}')
    if set(body) - {"accept", "codes"}:
        return _error(f"unknown fields {sorted(set(body) - {'accept', 'codes'})}; allowed: accept, codes")
    accept = body.get("accept", False)
    codes = body.get("codes")
    if accept not in (True, False):
        return _error("accept must be true or false")
    try:
        coding = storage.review(engine(), answer_id, g.actor, codebook_of=codebooks.cached, codes=codes,
                                accept=bool(accept), known_codes=codebooks.all_code_ids())
    except storage.ReviewError as exc:
        return _error(str(exc), exc.status)
    with engine().connect() as conn:
        coding["history"] = storage.history(conn, answer_id)
    return jsonify(coding)
