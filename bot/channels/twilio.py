"""WhatsApp and SMS through Twilio: a webhook form post → Inbound; replies → TwiML.

Twilio posts ``From`` (``whatsapp:+57…`` for WhatsApp, ``+57…`` for SMS), ``Body``,
``MessageSid`` (unique per message: our idempotency key), ``NumMedia``/``MediaUrlN`` for media,
and ``OptOutType`` (STOP/START/HELP) when Twilio's Advanced Opt-Out recognised a keyword. WhatsApp
messages also carry ``MessageType``:

- ``text``, and ``button``/``interactive`` (a quick-reply or list option was tapped): text. For a
  tap the answer is the option as the person saw it, ``ButtonText`` — never ``ButtonPayload``, an
  id set in a template's definition (ours have no buttons, so a payload is never one of ours).
- ``image``, ``video``, ``audio``, ``document``, ``sticker``: media; a caption in ``Body`` is read as
  text (as Telegram's).
- anything else — ``location`` (``Latitude``/``Longitude``/``Address``/``Label``), ``contacts`` (a
  vCard), ``reaction`` (an emoji on an earlier message: a 👍 is not a «sí»), ``unsupported``, a tap
  with no text, a type Twilio adds later — is not text: the chat answers "solo entiendo mensajes de
  texto" and the question's tries are not used up. Only its kind is logged (no coordinates, no
  contact card).

The fields are checked against Twilio's formats before anything is read (``Invalid``: the webhook
answers 400 and stores nothing). Twilio's signature is an HMAC of the URL and the parameters'
names and values concatenated, so moving a boundary between two parameters keeps it valid
(``MessageSid=SM…c05`` + ``NumMedia=0`` → ``MessageSid=SM…c05NumMedia0``); a strict MessageSid and
required fields make such a shifted replay fail the check instead of passing for a new message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.sax.saxutils import escape

from bot.channels.text import TWILIO_LIMIT, split_for
from surveys.messages import Inbound, Outbound

#: Twilio's limit for one message body (WhatsApp and concatenated SMS).
MAX_BODY = TWILIO_LIMIT
TWIML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
MAX_MEDIA = 10  # Twilio delivers at most 10 media per message
WHATSAPP = "whatsapp:"
MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-f]{32}")  # e.g. SM + 32 lowercase hex digits
ADDRESS = re.compile(r"(whatsapp:)?\+[1-9][0-9]{4,14}")  # E.164, WhatsApp's with its prefix
NUM_MEDIA = re.compile(r"[0-9]{1,2}")
ERROR_CODE = re.compile(r"[0-9]{1,6}")
TEXT_TYPES = frozenset({"text", "button", "interactive"})  # typed, or an option tapped
MEDIA_TYPES = frozenset({"image", "video", "audio", "document", "sticker"})  # MediaUrlN; Body is a caption
MESSAGE_TYPE = re.compile(r"[a-z_]{1,32}")
STATUSES = frozenset({"accepted", "scheduled", "queued", "sending", "sent", "delivered", "read", "undelivered",
                      "failed", "canceled", "receiving", "received", "partially_delivered"})


class Invalid(ValueError):
    """A signed request whose fields do not have Twilio's formats."""


def inbound_from_form(form: Mapping[str, str]) -> Inbound:
    """Raises Invalid for a form Twilio would not send."""
    sid, sender = _field(form, "MessageSid"), _field(form, "From")
    if not MESSAGE_SID.fullmatch(sid):
        raise Invalid("MessageSid must be SM or MM followed by 32 hexadecimal digits")
    if not ADDRESS.fullmatch(sender):
        raise Invalid("From must be a phone number in E.164 (whatsapp:+57… or +57…)")
    for twin in ("SmsSid", "SmsMessageSid"):  # older names of the same id: when present, the same value
        if twin in form and form[twin] != sid:
            raise Invalid(f"{twin} differs from MessageSid")
    count = num_media(_field(form, "NumMedia"))
    channel = "whatsapp" if sender.startswith(WHATSAPP) else "sms"
    address = sender.removeprefix(WHATSAPP)
    media = tuple(form[f"MediaUrl{i}"] for i in range(count) if form.get(f"MediaUrl{i}"))
    text = _field(form, "ButtonText") or _field(form, "Body")
    kind = _field(form, "MessageType").strip().lower()  # WhatsApp only
    if (kind and kind not in TEXT_TYPES | MEDIA_TYPES) or (kind in TEXT_TYPES and not text.strip() and not media):
        # A location, a contact card, a reaction…: not an answer. Logged by kind only.
        marker = kind if MESSAGE_TYPE.fullmatch(kind) else "unknown"
        return Inbound(channel=channel, address=address, text="", external_id=sid, media=(f"{channel}:{marker}",))
    # Twilio's Advanced Opt-Out recognises STOP/START keywords in many forms (STOPALL, UNSUBSCRIBE…):
    # its verdict decides, whatever the exact word was.
    text = {"STOP": "STOP", "START": "hola"}.get(_field(form, "OptOutType").upper(), text)
    return Inbound(channel=channel, address=address, text=text, external_id=sid, media=media)


def _field(form: Mapping[str, str], name: str) -> str:
    """A field of the form, "" when absent. Tested with ``in`` first: werkzeug's ``MultiDict.get``
    builds (and drops) a BadRequestKeyError, an HTTP exception, for each absent field."""
    return form[name] if name in form else ""


def num_media(value: str | None) -> int:
    if value is None or value == "":
        return 0
    if not NUM_MEDIA.fullmatch(value) or int(value) > MAX_MEDIA:
        raise Invalid(f"NumMedia must be a number from 0 to {MAX_MEDIA}")
    return int(value)


def status_report(form: Mapping[str, str], outbox: str | None) -> tuple[str, str, int | None, int | None]:
    """(MessageSid, MessageStatus, ErrorCode, outbox id) of a delivery report. Raises Invalid."""
    sid, status, code = form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("ErrorCode") or None
    if not MESSAGE_SID.fullmatch(sid):
        raise Invalid("MessageSid must be SM or MM followed by 32 hexadecimal digits")
    if status not in STATUSES:
        raise Invalid(f"MessageStatus must be one of {', '.join(sorted(STATUSES))}")
    if code is not None and not ERROR_CODE.fullmatch(code):
        raise Invalid("ErrorCode must be a number of at most 6 digits")
    if outbox is not None and not (outbox.isascii() and outbox.isdigit() and len(outbox) <= 18):
        raise Invalid("outbox must be a row id")
    return sid, status, int(code) if code else None, int(outbox) if outbox else None


# Twilio's names for the delivery errors a status report most often carries (the rest: its docs page).
ERRORS = {
    21610: "attempt to send to unsubscribed recipient",
    30003: "unreachable destination handset",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    30007: "message filtered",
    30008: "unknown error",
    63003: "channel could not find the To address (no WhatsApp on that number)",
    63016: "outside the 24-hour window",
    63024: "invalid message recipient",
}


def error_text(code: int) -> str:
    """A report's ErrorCode as a person reads it in an alert or on the panel."""
    name = ERRORS.get(code)
    return f"twilio error {code}" + (f": {name}" if name else "") + f" (https://www.twilio.com/docs/errors/{code})"


def twiml(replies: list[Outbound]) -> str:
    """One <Message> per reply (long ones split at paragraph/sentence boundaries, never inside
    *bold*). Quick-reply options are already written as numbered lines or "Responda Sí o No" in
    the text: WhatsApp users type.

    The document is written here, not built with twilio's ``MessagingResponse``: that builds an
    ElementTree per reply, about 4 % of a turn's instructions (docs/performance.md, step 9). The text is the same
    to the byte (tests/test_twiml.py compares them): ElementTree escapes ``&``, ``<`` and
    ``>`` in text as ``escape`` does, and writes an empty element as ``<Message />``."""
    messages = "".join(f"<Message>{escape(piece)}</Message>" if piece else "<Message />"
                       for reply in replies for piece in split_for("whatsapp", reply.text))
    return f"{TWIML_DECLARATION}<Response>{messages}</Response>" if messages else f"{TWIML_DECLARATION}<Response />"


def address_for(channel: str, address: str) -> str:
    """The ``To`` of an outbound message: ``whatsapp:+57…`` or the bare number for SMS."""
    return f"{WHATSAPP}{address}" if channel == "whatsapp" else address
