"""Channel webhooks: Twilio (WhatsApp and SMS, plus delivery status) and Telegram.

Both refuse (403, nothing stored) a request they cannot authenticate, and both are idempotent
through the chat service: a redelivered MessageSid / update_id is answered again from the message
log, never processed twice. When the database is unavailable they answer 503 so the provider
retries later.

Configuration (environment or app config):
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

from bot import outbox
from bot.channels import telegram, twilio
from bot.channels.twilio_api import OPT_OUT_CODES
from surveys import db
from webhooks import clock
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


def _twilio_refusal() -> Response | None:
    """None when the request carries a valid Twilio signature, else the 403 to answer."""
    token = _setting("TWILIO_AUTH_TOKEN")
    if not token:
        return _forbidden("TWILIO_AUTH_TOKEN is not configured")
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
    if not signature:
        return _forbidden("unsigned Twilio request")
    validator, url, form = RequestValidator(token), _public_url(), _SignedForm(request.form)
    # The common case first: signed for the URL exactly as we see it (one HMAC). validate() then
    # tries the port variants and a JSON body's hash, computing the HMAC twice.
    try:
        exact = "bodySHA256" not in request.args and hmac.compare_digest(
            validator.compute_signature(url, form, algorithm), signature)
    except ValueError:  # an algorithm this twilio version does not know: validate() refuses it
        exact = False
    if not exact and not validator.validate(url, form, signature, algorithm):
        return _forbidden("bad Twilio signature")
    return None


class _SignedForm:
    """The posted form as twilio's RequestValidator reads parameters (``getall``). Given werkzeug's
    MultiDict itself, it first tries ``getall`` and raises and catches an AttributeError for every
    field of every webhook."""

    def __init__(self, form: Any):
        self.form = form

    def __iter__(self) -> Any:
        return iter(self.form)

    def __len__(self) -> int:
        return len(self.form)

    def getall(self, name: str) -> list[str]:
        return list(self.form.getlist(name))


@bp.post("/twilio")
def twilio_inbound() -> Any:
    refusal = _twilio_refusal()
    if refusal is not None:
        return refusal
    inbound = twilio.inbound_from_form(request.form.to_dict())
    if not inbound.address:
        return Response(twilio.twiml([]), mimetype="application/xml")
    replies = chat_service(current_app).handle(inbound)
    return Response(twilio.twiml(replies), mimetype="application/xml")


@bp.post("/twilio/status")
def twilio_status() -> Any:
    """Delivery reports for messages the outbox sent (StatusCallback)."""
    refusal = _twilio_refusal()
    if refusal is not None:
        return refusal
    sid, status = request.form.get("MessageSid", ""), request.form.get("MessageStatus", "")
    code = request.form.get("ErrorCode") or None
    outbox_id = request.args.get("outbox", type=int)
    if not sid or not status:
        return jsonify(error="MessageSid and MessageStatus are required"), 400
    with db.transaction(chat_service(current_app).engine) as conn:
        contact_id = outbox.record_status(conn, provider_id=sid, status=status, outbox_id=outbox_id,
                                          error=f"twilio error {code}" if code else None)
        if code and code.isdigit() and int(code) in OPT_OUT_CODES and contact_id is not None:
            outbox.opt_out(conn, contact_id, clock.now())
    return Response(status=204)


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
        parsed, replies = telegram.handle_update(chat_service(current_app), data)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("unreadable Telegram update %s: %s", data.get("update_id"), exc)
        return jsonify(error="not a Telegram update"), 400
    worker = current_app.extensions.get("m360.outbox")
    can_send = worker is not None and "telegram" in worker.sender.providers
    message = telegram.combine(replies)
    too_long = message is not None and not telegram.fits(message)
    if can_send and (parsed.callback_id is not None or too_long):
        # The button press must be acknowledged, and a reply too long for one message is split:
        # both through the outbox (the webhook response carries a single call).
        with db.transaction(chat_service(current_app).engine) as conn:
            telegram.enqueue_callback_answer(conn, parsed)
            if too_long and parsed.chat_id is not None:
                telegram.enqueue_replies(conn, parsed.chat_id, replies, data["update_id"])
        worker.notify()
        if too_long:
            return Response(status=200)
    if parsed.chat_id is None or not replies:
        return Response(status=200)
    return jsonify(telegram.send_message(parsed.chat_id, replies))
