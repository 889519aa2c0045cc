"""The web chat simulator (/simulador): try the bot without WhatsApp or Telegram.

Each browser tab is a contact on the ``simulator`` channel; it drives the same ChatService as the
real channels. Its conversations are test data (surveys.messages.TEST_CHANNELS): anyone can claim
any entity there, so they are left out of reports, exports, alerts, waves and the API, and it lists
only the tickets the conversation itself opened.

Who may use it (``M360_SIMULATOR``, app config or environment):

- ``1`` (or ``on``): anyone, as on a developer's machine;
- ``login``: people signed in to the panel (any role);
- ``0`` (or ``off``): nobody (404);
- unset: ``login`` in production (``m360 serve --production``, or an https ``M360_PUBLIC_URL``),
  else ``1`` — ``make run`` keeps the simulator open with no credentials."""

from __future__ import annotations

import hashlib
import re
import uuid
from enum import StrEnum
from typing import Any

from flask import Blueprint, Flask, abort, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select

from surveys import settings
from surveys.messages import Inbound, Outbound
from surveys.models import Contact, MessageLog
from webhooks.app import chat_service
from webhooks.jsonapi import bounded_int, valid_unicode
from webhooks.panel import current_user
from webhooks.public_url import public_base

bp = Blueprint("simulator", __name__)


class Access(StrEnum):
    OPEN = "open"
    LOGIN = "login"
    OFF = "off"


SETTINGS = {"1": Access.OPEN, "on": Access.OPEN, "true": Access.OPEN, "open": Access.OPEN,
            "login": Access.LOGIN, "0": Access.OFF, "off": Access.OFF, "false": Access.OFF}


def access(app: Flask) -> Access:
    """Who may use the simulator in this app (see the module doc)."""
    found = settings.current()
    setting = str(app.config.get("M360_SIMULATOR") or found.simulator).strip().lower()
    if setting:
        return SETTINGS.get(setting, Access.LOGIN)  # a value we do not know: the safe reading
    production = bool(app.config.get("M360_PRODUCTION")) or public_base(app.config).startswith("https://")
    return Access.LOGIN if production else Access.OPEN


@bp.before_request
def check_access() -> Any:
    allowed = access(current_app)
    if allowed is Access.OFF:
        abort(404)
    if allowed is Access.LOGIN and current_user() is None:
        if request.path.startswith("/simulador/api/"):
            return jsonify(error="sign in to the panel (/panel/login) to use the simulator"), 401
        return redirect(url_for("panel.login", next=request.full_path.rstrip("?")))
    return None

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # fullmatch: "$" would let a trailing newline through


def _json(replies: list[Outbound]) -> list[dict[str, Any]]:
    return [{"text": r.text, "options": [{"label": o.label, "reply": o.reply} for o in r.options]} for r in replies]


@bp.get("/simulador")
def page() -> str:
    return render_template("simulador.html")


@bp.post("/simulador/api/send")
def send() -> Any:
    body = request.get_json(silent=True)  # None for bad JSON, nested too deep included (jsonapi.JSONProvider)
    if not isinstance(body, dict):  # a JSON list, string or number is as bad as no JSON at all
        body = {}
    session_id, text, message_id = body.get("session"), body.get("text"), body.get("id")
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        return jsonify(error="session must be 8–64 letters, digits, - or _"), 400
    if not isinstance(text, str) or not text.strip() or len(text) > 4000:
        return jsonify(error="text must be a string of 1–4000 characters"), 400
    if not valid_unicode(text):
        return jsonify(error="text is not valid Unicode (a lone surrogate such as \\ud800)"), 400
    if message_id is not None and (not isinstance(message_id, str) or not 1 <= len(message_id) <= 200
                                   or not valid_unicode(message_id)):
        return jsonify(error="id must be a string of 1–200 characters"), 400
    message_id = message_id or str(uuid.uuid4())  # the page retries with the same id on a bad connection
    # The id is chosen by the browser: scope it to the session, or another session reusing it would be
    # answered with this session's replies (redeliveries are matched on channel + external id only).
    external_id = hashlib.sha256(f"{session_id}\n{message_id}".encode()).hexdigest()
    inbound = Inbound(channel="simulator", address=session_id, text=text, external_id=external_id)
    replies = chat_service(current_app).handle(inbound)
    return jsonify(replies=_json(replies), last_id=_last_id(session_id))


def _contact_id(session: Any, session_id: str) -> int | None:
    return session.scalar(select(Contact.id).where(Contact.channel == "simulator", Contact.address == session_id))


def _last_id(session_id: str) -> int:
    """The newest message of this session: the page then polls for what comes after it."""
    with current_app.extensions["m360.sessions"]() as session:
        contact_id = _contact_id(session, session_id)
        return int(session.scalar(select(func.max(MessageLog.id)).where(MessageLog.contact_id == contact_id)) or 0)


@bp.get("/simulador/api/history")
def history() -> Any:
    after = bounded_int(request.args.get("after"), "after", 0)  # only what came after (the page polls)
    session_id = request.args.get("session", "")
    if not _SESSION_ID.fullmatch(session_id):
        return jsonify(error="session must be 8–64 letters, digits, - or _"), 400
    with current_app.extensions["m360.sessions"]() as session:
        contact_id = _contact_id(session, session_id)
        rows = session.scalars(
            select(MessageLog).where(MessageLog.contact_id == contact_id, MessageLog.id > after)
            .order_by(MessageLog.id)
        ).all() if contact_id else []
    # Quick replies come back too: after a reload the page shows the buttons of the last question again.
    return jsonify(messages=[{"id": r.id, "direction": r.direction, "text": r.text,
                              "options": [{"label": label, "reply": reply} for label, reply in r.options or ()]}
                             for r in rows])
