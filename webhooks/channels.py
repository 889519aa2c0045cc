"""Channel webhooks: Twilio (WhatsApp and SMS, plus delivery status) and Telegram.

Both refuse (403, nothing stored) a request they cannot authenticate, and both are idempotent
through the chat service: a redelivered MessageSid / update_id is answered again from the message
log, never processed twice. When the database is unavailable they answer 503 so the provider
retries later. A signed Twilio request whose fields are not in Twilio's formats gets 400 (nothing
stored); a Telegram update that cannot be read is acknowledged with 200 and logged, so Telegram
stops retrying it.

Configuration (environment or app config):
- ``TWILIO_AUTH_TOKEN``: checks ``X-Twilio-Signature`` with twilio's RequestValidator.
- ``M360_PUBLIC_URL``: the public base URL Twilio calls (e.g. ``https://m360.dnp.gov.co``), needed
  behind a proxy or TLS terminator because the signature covers the URL Twilio saw.
- ``TELEGRAM_WEBHOOK_SECRET``: must equal ``X-Telegram-Bot-Api-Secret-Token`` (set it with
  ``setWebhook(secret_token=…)``).
- ``TELEGRAM_BOT_USERNAME``: the bot's @username, to tell a group message addressed to the bot and
  to link a group to the private chat.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Request, Response, current_app, g, jsonify, request
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm
from werkzeug.exceptions import RequestEntityTooLarge

from bot.channels import telegram, twilio
from bot.channels.twilio_api import OPT_OUT_CODES, OUTSIDE_WINDOW
from bot.outbox import sending
from surveys import db, settings
from webhooks import clock, limits
from webhooks.app import chat_service
from webhooks.public_url import public_base

bp = Blueprint("channels", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)


def _setting(name: str) -> str:
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup (see _current_request)
    return str(app.config.get(name) or settings.current().value_of(name) or "")


def _public_url(req: Request | None = None) -> str:
    """The URL as the provider requested it (the public one when configured)."""
    req = req or _current_request()
    base = public_base(current_app._get_current_object().config)  # type: ignore[attr-defined]  # see _setting
    if not base:
        return req.url
    query = req.query_string.decode()
    return f"{base}{req.path}" + (f"?{query}" if query else "")


def _current_request() -> Request:
    """The request itself, not its proxy: on Python 3.11 each attribute read through werkzeug's
    proxy builds and drops an AttributeError first (about a microsecond), and the webhook path made
    some fifty such reads a delivery (docs/performance.md, step 18)."""
    return request._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _forbidden(reason: str) -> Response:
    log.warning("webhook refused (%s) from %s", reason, request.remote_addr)
    return Response("forbidden\n", status=403, mimetype="text/plain")


_UNCHECKED = object()


def _refusal() -> Response | None:
    """None when this request to a channel webhook is authenticated, else the 403 to answer. Run
    once per request (webhooks.limits asks first, to count only authenticated requests per sender)."""
    req = _current_request()
    length = req.content_length
    if length:
        limit = req.max_content_length
        if limit and length > limit:
            raise RequestEntityTooLarge()  # refused before its body is read, signed or not
    store = g._get_current_object()  # type: ignore[attr-defined]
    found = store.get("m360_refusal", _UNCHECKED)
    if found is not _UNCHECKED:
        return found  # type: ignore[no-any-return]
    budget = limits.refusals()
    if budget is not None and budget.exhausted():  # this address keeps failing: not even checked
        refusal = budget.too_many()
    else:
        refusal = _telegram_refusal() if req.path.endswith("/telegram") else _twilio_refusal(req)
        if refusal is not None and budget is not None:
            budget.count()
    store.m360_refusal = refusal
    return refusal


def authenticated() -> bool:
    return _refusal() is None


def _twilio_refusal(req: Request) -> Response | None:
    token = _setting("TWILIO_AUTH_TOKEN")
    if not token:
        return _forbidden("TWILIO_AUTH_TOKEN is not configured")
    signature = req.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(req.headers.get(SIGNATURE_SETTINGS_HEADER, ""))
    if not signature:
        return _forbidden("unsigned Twilio request")
    validator, url, form = RequestValidator(token), _public_url(req), _SignedForm(req.form)
    # The common case first: signed for the URL exactly as we see it (one HMAC). validate() then
    # tries the port variants and a JSON body's hash, computing the HMAC twice.
    try:
        exact = "bodySHA256" not in req.args and hmac.compare_digest(
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


def _telegram_refusal() -> Response | None:
    secret = _setting("TELEGRAM_WEBHOOK_SECRET")
    if not secret:
        return _forbidden("TELEGRAM_WEBHOOK_SECRET is not configured")
    given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return _forbidden("bad Telegram secret token")
    return None


def _invalid(exc: Exception) -> Response:
    log.warning("Twilio request refused as malformed (%s) from %s", exc, request.remote_addr)
    response = jsonify(error=str(exc))
    response.status_code = 400
    return response


@bp.post("/twilio")
def twilio_inbound() -> Any:
    refusal = _refusal()
    if refusal is not None:
        return refusal
    try:
        inbound = twilio.inbound_from_form(_current_request().form)
    except twilio.Invalid as exc:
        return _invalid(exc)
    replies = chat_service(current_app._get_current_object()).handle(inbound)  # type: ignore[attr-defined]
    return Response(twilio.twiml(replies), mimetype="application/xml")


@bp.post("/twilio/status")
def twilio_status() -> Any:
    """Delivery reports for messages the outbox sent (StatusCallback). A report about a send the row
    no longer stands for (the free text a 63016 refusal replaced with the template) changes nothing.
    A failure is reported where a person sees it (bot.outbox.sending.tell_a_person: an alert for a ticket
    notice, the panel's «No entregados» for every kind); a WhatsApp free-text message refused as
    outside the 24-hour window (63016) is queued again once, as its template, instead."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    try:
        sid, status, code, outbox_id = twilio.status_report(request.form, request.args.get("outbox"))
    except twilio.Invalid as exc:
        return _invalid(exc)
    now, retried = clock.now(), False
    with db.transaction(chat_service(current_app).engine) as conn:
        row = sending.record_status(conn, provider_id=sid, status=status, outbox_id=outbox_id, now=now,
                                   error=twilio.error_text(code) if code else None)
        if row is not None and code in OPT_OUT_CODES and row.contact_id is not None:
            sending.opt_out(conn, row.contact_id, now)
        if row is not None and row.moved and row.status in sending.FAILED_FOR_GOOD:
            if code == OUTSIDE_WINDOW and row.channel == "whatsapp":
                retried = sending.retry_as_template(conn, row, now=now)  # tells a person when it cannot
            else:
                sending.tell_a_person(conn, row, row.status, now)
    if retried:
        _wake_outbox()
    return Response(status=204)


@bp.post("/telegram")
def telegram_inbound() -> Any:
    """Every authenticated update is acknowledged with 200, also one that cannot be read (it is
    logged): anything else makes Telegram deliver it again for hours."""
    refusal = _refusal()
    if refusal is not None:
        return refusal
    data = request.get_json(silent=True)
    service = chat_service(current_app)
    try:
        parsed, replies = telegram.handle_update(service, data, _setting("TELEGRAM_BOT_USERNAME") or None)
    except telegram.Unreadable as exc:
        update_id = data.get("update_id") if isinstance(data, dict) else None
        log.warning("Telegram update %r acknowledged but not read: %s", update_id, exc)
        return Response(status=200)
    worker = current_app.extensions.get("m360.outbox")
    can_send = worker is not None and "telegram" in worker.sender.providers
    notice = telegram.stale_notice(replies)
    message = telegram.combine(replies)
    too_long = message is not None and not notice and not telegram.fits(message)
    queued = can_send and (parsed.callback_id is not None or too_long)
    if queued:
        # The button press is acknowledged (its keyboard removed), and a reply too long for one
        # message is split: both through the outbox (the webhook response carries a single call).
        with db.transaction(service.engine) as conn:
            telegram.enqueue_callback_answer(conn, parsed, notice)
            if too_long and parsed.chat_id is not None:
                telegram.enqueue_replies(conn, parsed.chat_id, replies, data["update_id"])
        _wake_outbox()
    if notice and not queued:
        return jsonify(telegram.answer_callback(parsed, notice))
    if parsed.chat_id is None or not replies or notice or (queued and too_long):
        return Response(status=200)
    return jsonify(telegram.send_message(parsed.chat_id, replies))


def _wake_outbox() -> None:
    worker = current_app.extensions.get("m360.outbox")
    if worker is not None:
        worker.notify()
