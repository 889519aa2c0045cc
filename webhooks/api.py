"""The JSON API for the DER and analysts: help requests (tickets) and alerts. The DER registers
requests that came by phone, e-mail or in person (``POST /api/v1/help-requests``, bot.intake) and
may set a ticket's due date with its reason (``PATCH``: ``due_date`` and ``due_reason``).

Bearer tokens with roles (webhooks.auth): analysts read, the DER also changes tickets and
acknowledges alerts, admin may do everything. Errors are JSON ``{"error": ...}`` with a 4xx
status; a request that fails validation writes nothing (one transaction per request).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import func, select

from bot import alerts, helpdesk, intake, labels
from bot.config import Settings
from bot.themes import load_taxonomy
from surveys import db
from surveys.models import Entity
from webhooks import clock
from webhooks.app import engine
from webhooks.auth import MANAGERS, READERS, require_role
from webhooks.jsonapi import BadRequest, json_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")

REQUESTS = helpdesk.REQUESTS
EVENTS = helpdesk.EVENTS
ALERTS = alerts.ALERTS
ENTITIES = Entity.__table__
MAX_LIMIT = 500
MAX_OFFSET = 10**12  # far past any table; a larger one overflows the database integer (500 before)


@bp.errorhandler(helpdesk.InvalidTransition)
def invalid_transition(exc: helpdesk.InvalidTransition) -> Any:
    status = 400 if isinstance(exc, helpdesk.InvalidValue) else 404 if str(exc).startswith("unknown ticket") else 409
    return jsonify(error=str(exc)), status


@bp.errorhandler(intake.IntakeError)
def invalid_request(exc: intake.IntakeError) -> Any:
    return jsonify(error=str(exc), field=exc.field), 400


def _reveal() -> bool:
    """Requesters' numbers in full for the DER and admins; masked for analysts (bot.privacy)."""
    return g.role in MANAGERS


def _today() -> str:
    return clock.today().isoformat()


def _paging() -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", 100))
        offset = int(request.args.get("offset", 0))
    except ValueError as exc:
        raise BadRequest("limit and offset must be integers") from exc
    if not 1 <= limit <= MAX_LIMIT or not 0 <= offset <= MAX_OFFSET:  # a database integer has 64 bits
        raise BadRequest(f"limit must be 1–{MAX_LIMIT} and offset 0–{MAX_OFFSET}")
    return limit, offset


def _flag(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None:
        return None
    if value.lower() in ("1", "true", "si", "sí", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise BadRequest(f"{name} must be true or false")


# ------------------------------------------------------------------ help requests


@bp.get("/help-requests")
@require_role(*READERS)
def list_help_requests() -> Any:
    limit, offset = _paging()
    query = select(REQUESTS).outerjoin(ENTITIES, ENTITIES.c.code == REQUESTS.c.entity_code)
    status = request.args.get("status")
    if status:
        wanted = {part: labels.status_code(part) for part in status.split(",")}  # "en gestión" as en_gestion
        unknown = {part for part, code in wanted.items() if code is None}
        if unknown:
            raise BadRequest(f"unknown status {sorted(unknown)}; use {', '.join(helpdesk.STATUSES)}")
        query = query.where(REQUESTS.c.status.in_(set(wanted.values())))
    if entity := request.args.get("entity"):
        query = query.where(REQUESTS.c.entity_code == entity)
    if region := request.args.get("region"):
        query = query.where(ENTITIES.c.region == region)
    if (enlace := request.args.get("enlace")) is not None:
        if not enlace.isdigit() or len(enlace) > 18:
            raise BadRequest("enlace must be a staff id (see the panel's Enlaces page)")
        query = query.where(REQUESTS.c.staff_id == int(enlace))
    on_hold = _flag("on_hold")
    if on_hold is not None:
        query = query.where(REQUESTS.c.on_hold.is_(on_hold))
    overdue = _flag("overdue")
    if overdue is not None:
        late = (REQUESTS.c.status.in_(helpdesk.OPEN)) & (REQUESTS.c.due_date < _today())
        query = query.where(late if overdue else ~late)
    theme = request.args.get("theme")
    if theme and load_taxonomy().get(theme) is None:
        raise BadRequest(f"unknown theme {theme!r}; see bot/themes.yaml")
    query = query.order_by(REQUESTS.c.created_at.desc(), REQUESTS.c.id.desc())
    with engine().connect() as conn:
        rows = conn.execute(query).all()
        if theme:  # a JSON list: filtered here, the same on SQLite and PostgreSQL
            rows = [r for r in rows if theme in (r.themes or ())]
        page = rows[offset:offset + limit]
        items = [helpdesk.as_json(conn, row, today=_today(), reveal_address=_reveal()) for row in page]
    return jsonify(items=items, total=len(rows), limit=limit, offset=offset)


@bp.get("/help-requests/<code>")
@require_role(*READERS)
def get_help_request(code: str) -> Any:
    with engine().connect() as conn:
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.code == code.upper())).one_or_none()
        if row is None:
            return jsonify(error=f"unknown ticket {code}"), 404
        return jsonify(helpdesk.as_json(conn, row, events=True, today=_today(), reveal_address=_reveal()))


@bp.post("/help-requests")
@require_role(*MANAGERS)
def create_help_request() -> Any:
    """A request that came by phone, e-mail, in person or by letter (bot.intake)."""
    with db.transaction(engine()) as conn:
        asked = intake.parse(conn, json_body())
        created = intake.register(conn, asked, actor=g.actor, now=clock.now(), source="api")
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.id == created.id)).one()
        result = helpdesk.as_json(conn, row, events=True, today=_today(), reveal_address=_reveal())
    _wake_outbox()
    return jsonify(result), 201


PATCHABLE = {"status", "assignee", "note", "referred_to", "due_date", "due_reason"}


def due_date_of(value: str | None) -> date | None:
    """A due date as the API and the panel take it: YYYY-MM-DD."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest("due_date must be a date, YYYY-MM-DD") from exc


@bp.patch("/help-requests/<code>")
@require_role(*MANAGERS)
def patch_help_request(code: str) -> Any:
    body = json_body()
    unknown = set(body) - PATCHABLE
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}; allowed: {', '.join(sorted(PATCHABLE))}")
    for name in PATCHABLE & set(body):
        if body[name] is not None and (not isinstance(body[name], str) or len(body[name]) > 2000):
            raise BadRequest(f"{name} must be a string (at most 2,000 characters)")
    values = {k: (body.get(k) or "").strip() or None for k in PATCHABLE}
    with db.transaction(engine()) as conn:
        helpdesk.change(conn, code.upper(), actor=g.actor, now=clock.now(), status=values["status"],
                        note=values["note"], assignee=values["assignee"], referred_to=values["referred_to"],
                        due_date=due_date_of(values["due_date"]), due_reason=values["due_reason"])
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.code == code.upper())).one()
        result = helpdesk.as_json(conn, row, events=True, today=_today(), reveal_address=_reveal())
    _wake_outbox()
    return jsonify(result)


# ------------------------------------------------------------------ alerts


@bp.get("/alerts")
@require_role(*READERS)
def list_alerts() -> Any:
    limit, offset = _paging()
    query = select(ALERTS)
    status = request.args.get("status")
    if status:
        if status not in ("abierta", "reconocida"):
            raise BadRequest("status must be abierta or reconocida")
        query = query.where(ALERTS.c.status == status)
    rule = request.args.get("rule")
    if rule:
        if rule not in alerts.RULES:
            raise BadRequest(f"unknown rule {rule!r}; use {', '.join(alerts.RULES)}")
        query = query.where(ALERTS.c.rule == rule)
    if severity := request.args.get("severity"):
        query = query.where(ALERTS.c.severity == severity)
    if region := request.args.get("region"):
        query = query.where(ALERTS.c.region == region)
    if entity := request.args.get("entity"):
        query = query.where(ALERTS.c.entity_code == entity)
    if since := request.args.get("since"):
        try:
            moment = datetime.fromisoformat(since)
        except ValueError as exc:
            raise BadRequest("since must be an ISO 8601 date or time") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(Settings().timezone))
        query = query.where(ALERTS.c.created_at >= moment)
    with engine().connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.order_by(ALERTS.c.created_at.desc(), ALERTS.c.id.desc())
                            .limit(limit).offset(offset)).all()
        items = [alerts.as_json(conn, row) for row in rows]
    return jsonify(items=items, total=total, limit=limit, offset=offset)


@bp.get("/alerts/<int:alert_id>")
@require_role(*READERS)
def get_alert(alert_id: int) -> Any:
    with engine().connect() as conn:
        row = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).one_or_none()
        if row is None:
            return jsonify(error=f"unknown alert {alert_id}"), 404
        return jsonify(alerts.as_json(conn, row))


@bp.post("/alerts/<int:alert_id>/ack")
@require_role(*MANAGERS)
def acknowledge_alert(alert_id: int) -> Any:
    body = json_body()
    unknown = set(body) - {"note"}
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}; allowed: note")
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        raise BadRequest("note must be a string")
    with db.transaction(engine()) as conn:
        row = alerts.acknowledge(conn, alert_id, actor=g.actor, now=clock.now(), note=(note or "").strip() or None)
        if row is None:
            return jsonify(error=f"unknown alert {alert_id}"), 404
        return jsonify(alerts.as_json(conn, row))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _wake_outbox() -> None:
    worker = current_app.extensions.get("m360.outbox")
    if worker is not None:
        worker.notify()  # the requester's notification goes now, not at the next poll
