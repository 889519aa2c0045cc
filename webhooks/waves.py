"""Monthly waves in the JSON API (bot.waves.campaign), under ``/api/v1``:

- ``GET /api/v1/waves`` — waves, newest first (roles analyst, der, admin);
- ``POST /api/v1/waves`` — draw a wave (der, admin): ``{"period": "2026-11", "size": 52, "seed": 7, …}``;
- ``GET /api/v1/waves/<id>`` — the wave, its frame, strata and progress (analyst, der, admin);
- ``POST /api/v1/waves/<id>/launch`` — launch now, or ``{"at": "2026-12-01T09:00"}`` later (der, admin);
- ``POST /api/v1/waves/<id>/close`` — close it (der, admin);
- ``GET /api/v1/waves/<id>/results`` — once closed, the results message each entity that completed it
  would get (analyst, der, admin);
- ``POST /api/v1/waves/<id>/results/approve`` — the DER approves them: recorded, and sent through
  the outbox in office hours, once per entity (der, admin).

Errors are ``{"error": …}``: 400 for a bad body, 404 for an unknown wave, 409 for a sample that
cannot be drawn or a closed wave.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify

from bot.waves import campaign, results
from surveys import db, settings
from webhooks import clock
from webhooks.app import engine
from webhooks.auth import MANAGERS, READERS, require_role
from webhooks.jsonapi import BadRequest, json_body, moment

bp = Blueprint("waves", __name__, url_prefix="/api/v1")
MAX_FIELD = 2**31 - 1  # what an integer column holds on every database
MAX_REMINDER = 60  # business days after the invitation: about three months
FIELDS = {"period", "size", "census", "gobernaciones", "seed", "regions", "pdet_only", "exclude_recent",
          "reminder_days", "closes_at", "name", "questionnaire"}


@bp.errorhandler(campaign.WaveError)
def wave_error(exc: campaign.WaveError) -> Any:
    return jsonify(error=str(exc)), 404 if str(exc).startswith("no wave") else 409


def _moment(value: Any, name: str) -> datetime:
    return moment(value, name, campaign.TZ)


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_FIELD:
        raise BadRequest(f"{name} must be a whole number from 0 to {MAX_FIELD}")
    return value


def _spec(body: dict[str, Any]) -> campaign.Spec:
    unknown = set(body) - FIELDS
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    if not isinstance(body.get("period"), str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", body["period"]):
        raise BadRequest("period (YYYY-MM) is required")
    regions = body.get("regions") or []
    days = body.get("reminder_days", list(campaign.DEFAULT_REMINDERS))
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        raise BadRequest("regions must be a list of region names")
    if not isinstance(days, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= MAX_REMINDER
                                             for d in days):
        raise BadRequest(f"reminder_days must be whole numbers from 1 to {MAX_REMINDER}, e.g. [2, 5]")
    days = sorted(set(days))  # [5, 2, 2] means reminders on business days 2 and 5
    for flag in ("census", "pdet_only"):
        if not isinstance(body.get(flag, False), bool):
            raise BadRequest(f"{flag} must be true or false")
    return campaign.Spec(
        period=body["period"], size=None if body.get("census") else (_int(body, "size") or 52),
        gobernaciones=_int(body, "gobernaciones"), seed=_int(body, "seed"), regions=tuple(regions),
        pdet_only=bool(body.get("pdet_only")), exclude_recent=_int(body, "exclude_recent") or 0,
        questionnaire=str(body.get("questionnaire") or settings.current().questionnaire), reminder_days=tuple(days),
        closes_at=_moment(body["closes_at"], "closes_at") if body.get("closes_at") else None,
        name=str(body["name"]) if body.get("name") else None,
    )


@bp.get("/waves")
@require_role(*READERS)
def list_waves() -> Any:
    with engine().connect() as conn:
        items = campaign.listing(conn, limit=200)
    return jsonify(items=items, total=len(items))


@bp.post("/waves")
@require_role(*MANAGERS)
def create_wave() -> Any:
    spec = _spec(json_body())
    with db.transaction(engine()) as conn:
        created = campaign.create(conn, spec, actor=g.actor, now=clock.now())
        data = campaign.progress(conn, created.id)
    return jsonify(data), 201


@bp.get("/waves/<int:wave_id>")
@require_role(*READERS)
def show_wave(wave_id: int) -> Any:
    with engine().connect() as conn:
        return jsonify(campaign.progress(conn, wave_id))


@bp.post("/waves/<int:wave_id>/launch")
@require_role(*MANAGERS)
def launch_wave(wave_id: int) -> Any:
    body = json_body()
    unknown = set(body) - {"at"}
    if unknown:
        raise BadRequest(f"unknown fields: {', '.join(sorted(unknown))}")
    at = _moment(body["at"], "at") if body.get("at") else None
    done = campaign.launch(engine(), wave_id, at=at, now=clock.now())
    worker = current_app.extensions.get("m360.outbox")
    if done.invited and worker is not None:
        worker.notify()  # send what was queued without waiting for the next round
    with engine().connect() as conn:
        data = campaign.progress(conn, wave_id)
    data["queued"] = {"invitations": done.invited, "reminders": done.reminded, "waiting": done.waiting}
    return jsonify(data)


@bp.post("/waves/<int:wave_id>/close")
@require_role(*MANAGERS)
def close_wave(wave_id: int) -> Any:
    with db.transaction(engine()) as conn:
        campaign.close(conn, wave_id, now=clock.now())
        return jsonify(campaign.progress(conn, wave_id))


@bp.get("/waves/<int:wave_id>/results")
@require_role(*READERS)
def wave_results(wave_id: int) -> Any:
    with engine().connect() as conn:
        return jsonify(results.wave_results(conn, wave_id).as_json())


@bp.post("/waves/<int:wave_id>/results/approve")
@require_role(*MANAGERS)
def approve_wave_results(wave_id: int) -> Any:
    if json_body():
        raise BadRequest("no fields expected")
    with db.transaction(engine()) as conn:
        done = results.approve(conn, wave_id, actor=g.actor, now=clock.now())
    worker = current_app.extensions.get("m360.outbox")
    if done.queued and worker is not None:
        worker.notify()
    return jsonify(done.as_json())
