"""Channel webhooks: Twilio (WhatsApp and SMS) and Telegram.

Both refuse (403, nothing stored) a request they cannot authenticate, and both are idempotent
through the chat service: a redelivered MessageSid / update_id is answered again from the message
log, never processed twice. When the database is unavailable they answer 503 so the provider
retries later.

Configuration (environment):
- ``TWILIO_AUTH_TOKEN``: checks ``X-Twilio-Signature`` with twilio's RequestValidator.
- ``M360_PUBLIC_URL``: the public base URL Twilio calls (e.g. ``https://m360.dnp.gov.co``), needed
  behind a proxy or TLS terminator because the signature covers the URL Twilio saw.
- ``TELEGRAM_WEBHOOK_SECRET``: must equal ``X-Telegram-Bot-Api-Secret-Token`` (set it with
  ``setWebhook(secret_token=…)``).
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from bot.channels import telegram, twilio
from surveys.messages import Outbound
from surveys.texts import texts
from webhooks.app import chat_service

bp = Blueprint("channels", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)


def _setting(name: str) -> str:
    return str(current_app.config.get(name) or os.environ.get(name) or "")


def _public_url() -> str:
    """The URL as the provider requested it (the public one when configured)."""
    base = _setting("M360_PUBLIC_URL").rstrip("/")
    if not base:
        return request.url
    query = request.query_string.decode()
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def _forbidden(reason: str) -> Response:
    log.warning("webhook refused (%s) from %s", reason, request.remote_addr)
    return Response("forbidden\n", status=403, mimetype="text/plain")


@bp.post("/twilio")
def twilio_inbound() -> Any:
    token = _setting("TWILIO_AUTH_TOKEN")
    if not token:
        return _forbidden("TWILIO_AUTH_TOKEN is not configured")
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
    if not signature or not RequestValidator(token).validate(_public_url(), request.form, signature, algorithm):
        return _forbidden("bad Twilio signature")
    inbound = twilio.inbound_from_form(request.form.to_dict())
    if not inbound.address:
        return Response(twilio.twiml([]), mimetype="application/xml")
    replies = chat_service(current_app).handle(inbound)
    return Response(twilio.twiml(replies), mimetype="application/xml")


@bp.post("/telegram")
def telegram_inbound() -> Any:
    secret = _setting("TELEGRAM_WEBHOOK_SECRET")
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not secret:
        return _forbidden("TELEGRAM_WEBHOOK_SECRET is not configured")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return _forbidden("bad Telegram secret token")
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return jsonify(error="not a Telegram update"), 400
    try:
        parsed = telegram.parse_update(data)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("unreadable Telegram update %s: %s", data.get("update_id"), exc)
        return jsonify(error="not a Telegram update"), 400
    if parsed.note is not None and parsed.chat_id is not None:
        return jsonify(telegram.send_message(parsed.chat_id, [Outbound(texts()(parsed.note))]))
    if parsed.inbound is None or parsed.chat_id is None:
        return Response(status=200)
    replies = chat_service(current_app).handle(parsed.inbound)
    return jsonify(telegram.send_message(parsed.chat_id, replies) or {})

