"""The JSON API for the DER and analysts: help requests (tickets) and alerts. The DER registers
requests that came by phone, e-mail or in person (``POST /api/v1/help-requests``, bot.helpdesk.intake) and
may set a ticket's due date with its reason (``PATCH``: ``due_date`` and ``due_reason``).

Bearer tokens with roles (webhooks.auth): analysts read, the DER also changes tickets and
acknowledges alerts, admin may do everything. Errors are JSON ``{"error": ...}`` with a 4xx
status; a request that fails validation writes nothing (one transaction per request). Tickets
and alerts of simulator conversations (test data) are left out of the lists; one can still be read
or changed by its code or id.

A ticket carries an ``ETag`` (GET and PATCH). A PATCH with ``If-Match`` is applied only to the
ticket as the caller read it, else 412: two people editing at once do not overwrite each other
unseen, and a PATCH retried after a lost response is not applied (and told to the requester) twice.
A POST with an ``Idempotency-Key`` retried after a lost response answers the ticket it made
(``Idempotent-Replayed: true``) instead of making a second one (bot.helpdesk.idempotency).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import func, select

from bot import labels
from bot.alerts import alerting
from bot.helpdesk import idempotency, intake, ticketing
from bot.helpdesk.themes import load_taxonomy
from surveys import db, settings
from surveys.models import Entity
from webhooks import clock
from webhooks.app import engine
from webhooks.auth import MANAGERS, READERS, require_role
from webhooks.jsonapi import BadRequest, bounded_int, flag, json_body, moment, one_of

bp = Blueprint("api", __name__, url_prefix="/api/v1")

REQUESTS = ticketing.REQUESTS
EVENTS = ticketing.EVENTS
ALERTS = alerting.ALERTS
ENTITIES = Entity.__table__
MAX_LIMIT = 500
MAX_OFFSET = 10**12  # far past any table; a larger one overflows SQLite's LIMIT/OFFSET arithmetic
#: The longest value of each field a PATCH may set (the columns' sizes; openapi.yaml says the same).
PATCHABLE = {"status": 20, "assignee": 120, "note": 2000, "referred_to": 200, "due_date": 10, "due_reason": 2000}


@bp.errorhandler(ticketing.InvalidTransition)
def invalid_transition(exc: ticketing.InvalidTransition) -> Any:
    status = 400 if isinstance(exc, ticketing.InvalidValue) else 404 if str(exc).startswith("unknown ticket") else 409
    return jsonify(error=str(exc)), status


@bp.errorhandler(intake.IntakeError)
def invalid_request(exc: intake.IntakeError) -> Any:
    return jsonify(error=str(exc), field=exc.field), 404 if isinstance(exc, intake.UnknownReference) else 400


def _reveal() -> bool:
    """Requesters' numbers in full for the DER and admins; masked for analysts (bot.privacy.personal_data)."""
    return g.role in MANAGERS


def _today() -> str:
    return clock.today().isoformat()


def _paging() -> tuple[int, int]:
    return (bounded_int(request.args.get("limit"), "limit", 100, 1, MAX_LIMIT),
            bounded_int(request.args.get("offset"), "offset", 0, 0, MAX_OFFSET))




# ------------------------------------------------------------------ help requests


@bp.get("/help-requests")
@require_role(*READERS)
def list_help_requests() -> Any:
    limit, offset = _paging()
    # Tickets opened in the simulator are test data: never listed here (the panel shows them on request).
    statuses = None
    if (status := request.args.get("status")) is not None:
        wanted = {part: labels.status_code(part) for part in status.split(",")}  # "en gestión" as en_gestion
        unknown = {part for part, code in wanted.items() if code is None}
        if unknown:
            raise BadRequest(f"unknown status {sorted(unknown)}; use {', '.join(ticketing.STATUSES)}")
        statuses = tuple(sorted({code for code in wanted.values() if code}))
    enlace = request.args.get("enlace")
    wanted_tickets = ticketing.TicketFilter(
        statuses=statuses, entity=request.args.get("entity") or None, region=request.args.get("region") or None,
        enlace=None if enlace is None else bounded_int(enlace, "enlace", 0), on_hold=flag("on_hold"),
        overdue=flag("overdue"), theme=one_of("theme", load_taxonomy().ids))
    with engine().connect() as conn:
        rows = ticketing.find_tickets(conn, wanted_tickets, _today())
        page = rows[offset:offset + limit]
        items = [ticketing.as_json(conn, row, today=_today(), reveal_address=_reveal()) for row in page]
    return jsonify(items=items, total=len(rows), limit=limit, offset=offset)


@bp.get("/help-requests/<code>")
@require_role(*READERS)
def get_help_request(code: str) -> Any:
    with engine().connect() as conn:
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.code == code.upper())).one_or_none()
        if row is None:
            return jsonify(error=f"unknown ticket {code}"), 404
        response = jsonify(ticketing.as_json(conn, row, events=True, today=_today(), reveal_address=_reveal()))
        response.set_etag(ticketing.version(conn, row.code) or "")
    return response


def _precondition_failed(conn: Any, code: str) -> Any:
    """With ``If-Match``, the 412 to answer when the ticket changed since the caller read it (a
    colleague's change, or this very request already applied and now retried); else None."""
    if "If-Match" not in request.headers:
        return None
    current = ticketing.version(conn, code, lock=True)
    if current is None or request.if_match.contains(current):
        return None  # an unknown ticket: ticketing.change answers it (404)
    response = jsonify(error=f"{code} changed since it was read (If-Match does not match its ETag): "
                             "read it again and decide on what it is now")
    response.status_code = 412
    response.set_etag(current)
    return response


def _idempotency_key(body: dict[str, Any]) -> idempotency.Key | None:
    """The request's ``Idempotency-Key`` (None without the header), scoped to the caller's token account."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not idempotency.valid_key(key):
        raise BadRequest(f"Idempotency-Key must be 1 to {idempotency.MAX_KEY} visible ASCII characters "
                         "(a UUID, for example)")
    return idempotency.Key(f"api:{g.actor}", key, idempotency.fingerprint(body))


@bp.errorhandler(idempotency.KeyReused)
def key_reused(exc: idempotency.KeyReused) -> Any:
    # 409, a conflict with what the key already did (the IETF draft says 422; schemathesis and most
    # clients read 409 as "valid, but not now").
    return jsonify(error=str(exc), field="Idempotency-Key"), 409


@bp.post("/help-requests")
@require_role(*MANAGERS)
def create_help_request() -> Any:
    """A request that came by phone, e-mail, in person or by letter (bot.helpdesk.intake). With an
    ``Idempotency-Key``, a retry answers the ticket the first request made (bot.helpdesk.idempotency)."""
    body = json_body()
    key = _idempotency_key(body)
    now = clock.now()

    def create(conn: Any) -> ticketing.Created:
        return intake.register(conn, intake.parse(conn, body), actor=g.actor, now=now, source="api")

    outcome = idempotency.create_once(engine(), key, now, create)
    with engine().connect() as conn:
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.id == outcome.ticket_id)).one()
        response = jsonify(ticketing.as_json(conn, row, events=True, today=_today(), reveal_address=_reveal()))
    response.status_code = 201
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        _wake_outbox()
    return response


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
    unknown = set(body) - PATCHABLE.keys()
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}; allowed: {', '.join(sorted(PATCHABLE))}")
    for name in PATCHABLE.keys() & set(body):
        if body[name] is not None and (not isinstance(body[name], str) or len(body[name]) > PATCHABLE[name]):
            raise BadRequest(f"{name} must be a string of at most {PATCHABLE[name]:,} characters")
    values = {k: (body.get(k) or "").strip() or None for k in PATCHABLE}
    due_date = due_date_of(values["due_date"])
    with db.transaction(engine()) as conn:
        refused = _precondition_failed(conn, code.upper())
        if refused is not None:
            return refused
        ticketing.change(conn, code.upper(), actor=g.actor, now=clock.now(), status=values["status"],
                        note=values["note"], assignee=values["assignee"], referred_to=values["referred_to"],
                        due_date=due_date, due_reason=values["due_reason"])
        row = conn.execute(select(REQUESTS).where(REQUESTS.c.code == code.upper())).one()
        response = jsonify(ticketing.as_json(conn, row, events=True, today=_today(), reveal_address=_reveal()))
        response.set_etag(ticketing.version(conn, row.code) or "")
    _wake_outbox()
    return response


# ------------------------------------------------------------------ alerts


@bp.get("/alerts")
@require_role(*READERS)
def list_alerts() -> Any:
    limit, offset = _paging()
    since = request.args.get("since")
    # Alerts of simulator conversations are test data: never listed here.
    query = alerting.alert_query(alerting.AlertFilter(
        status=one_of("status", alerting.STATUSES), rule=one_of("rule", alerting.RULES),
        severity=one_of("severity", alerting.SEVERITIES), region=request.args.get("region") or None,
        entity=request.args.get("entity") or None,
        since=None if since is None else moment(since, "since", settings.current().tz)))
    with engine().connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
        rows = conn.execute(query.limit(limit).offset(offset)).all()
        items = [alerting.as_json(conn, row) for row in rows]
    return jsonify(items=items, total=total, limit=limit, offset=offset)


@bp.get("/alerts/<int:alert_id>")
@require_role(*READERS)
def get_alert(alert_id: int) -> Any:
    with engine().connect() as conn:
        row = conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).one_or_none()
        if row is None:
            return jsonify(error=f"unknown alert {alert_id}"), 404
        return jsonify(alerting.as_json(conn, row))


@bp.post("/alerts/<int:alert_id>/ack")
@require_role(*MANAGERS)
def acknowledge_alert(alert_id: int) -> Any:
    body = json_body()
    unknown = set(body) - {"note"}
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}; allowed: note")
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > PATCHABLE["note"]):
        raise BadRequest(f"note must be a string of at most {PATCHABLE['note']:,} characters")
    with db.transaction(engine()) as conn:
        row = alerting.acknowledge(conn, alert_id, actor=g.actor, now=clock.now(), note=(note or "").strip() or None)
        if row is None:
            return jsonify(error=f"unknown alert {alert_id}"), 404
        return jsonify(alerting.as_json(conn, row))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _wake_outbox() -> None:
    worker = current_app.extensions.get("m360.outbox")
    if worker is not None:
        worker.notify()  # the requester's notification goes now, not at the next poll
