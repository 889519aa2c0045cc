"""WhatsApp and SMS through Twilio: a webhook form post → Inbound; replies → TwiML.

Twilio posts ``From`` (``whatsapp:+57…`` for WhatsApp, ``+57…`` for SMS), ``Body``,
``MessageSid`` (unique per message: our idempotency key), ``NumMedia``/``MediaUrlN`` for media,
``ButtonPayload`` when a WhatsApp template button was pressed, and ``OptOutType`` (STOP/START/HELP)
when Twilio's Advanced Opt-Out recognised a keyword.
"""

from __future__ import annotations

from collections.abc import Mapping

from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.text import split_text
from surveys.messages import Inbound, Outbound

#: Twilio's limit for one message body (WhatsApp and concatenated SMS).
MAX_BODY = 1600
WHATSAPP = "whatsapp:"


def inbound_from_form(form: Mapping[str, str]) -> Inbound:
    sender = form.get("From", "")
    channel = "whatsapp" if sender.startswith(WHATSAPP) else "sms"
    count = int(form.get("NumMedia") or 0) if (form.get("NumMedia") or "0").isdigit() else 0
    media = tuple(form[f"MediaUrl{i}"] for i in range(count) if form.get(f"MediaUrl{i}"))
    text = form.get("ButtonPayload") or form.get("Body", "")
    # Twilio's Advanced Opt-Out recognises STOP/START keywords in many forms (STOPALL, UNSUBSCRIBE…):
    # its verdict decides, whatever the exact word was.
    text = {"STOP": "STOP", "START": "hola"}.get(form.get("OptOutType", "").upper(), text)
    return Inbound(channel=channel, address=sender.removeprefix(WHATSAPP), text=text,
                   external_id=form.get("MessageSid") or None, media=media)


def twiml(replies: list[Outbound]) -> str:
    """One <Message> per reply (long ones split at paragraph/line boundaries). Quick-reply options
    are already written as numbered lines or "Responda Sí o No" in the text: WhatsApp users type."""
    response = MessagingResponse()
    for reply in replies:
        for piece in split_text(reply.text, MAX_BODY):
            response.message(piece)
    return str(response)


def address_for(channel: str, address: str) -> str:
    """The ``To`` of an outbound message: ``whatsapp:+57…`` or the bare number for SMS."""
    return f"{WHATSAPP}{address}" if channel == "whatsapp" else address
