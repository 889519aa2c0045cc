"""The one message shape every channel translates to and from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

#: Channels whose conversations are test data: the web simulator, where anyone may type anything for
#: any entity. Their interviews and tickets keep the channel (and their alerts ``alert.test``), and are
#: left out of reports, exports, alerts, waves and the API; the panel shows them on request.
TEST_CHANNELS = ("simulator",)


def is_test_channel(channel: str | None) -> bool:
    return channel in TEST_CHANNELS


@dataclass(frozen=True)
class Option:
    """A quick reply: Telegram renders it as an inline button, the simulator as a button,
    WhatsApp as the numbered line already in the text. ``reply`` is what choosing it sends."""

    label: str
    reply: str


@dataclass(frozen=True)
class Outbound:
    text: str
    options: tuple[Option, ...] = ()
    # The prompt the options answer (an opaque token, bot.conversation.prompts): a button pressed later comes
    # back with it, and the chat service refuses it once the conversation has moved on.
    prompt: str | None = None
    # A short notice about the person's action rather than a turn of the conversation ("that option
    # is no longer active"): Telegram shows it on the pressed button.
    notice: bool = False


@dataclass(frozen=True)
class Inbound:
    channel: str  # whatsapp | telegram | sms | simulator | console
    address: str  # E.164 number, Telegram chat id, simulator session id
    text: str
    external_id: str | None = None  # provider id (MessageSid, update_id) for idempotency
    received_at: datetime | None = None
    media: tuple[str, ...] = field(default=())  # media URLs; the bot only understands text
    invitation: str | None = None  # an invitation token (Telegram /start <token> deep link)
    # A button press: the token of the prompt its keyboard was sent for ("" = any prompt); None for
    # typed text.
    prompt: str | None = None
    edited: bool = False  # an edit of an earlier message (Telegram): not an answer

    def __post_init__(self) -> None:
        # Text a database cannot store would make the turn fail on every redelivery: PostgreSQL text
        # cannot hold NUL characters (SQLite can), and no database takes a lone surrogate (a broken
        # emoji escaped in a Telegram update as \ud83d). No channel means anything by the first, so it
        # is dropped; the second is shown as U+FFFD, as a broken character is.
        for name in ("address", "text", "external_id", "invitation"):
            value = getattr(self, name)
            if isinstance(value, str) and not is_storable(value):
                object.__setattr__(self, name, storable(value))
        if not all(is_storable(m) for m in self.media):
            object.__setattr__(self, "media", tuple(storable(m) for m in self.media))


_SURROGATE = re.compile("[\ud800-\udfff]")


def is_storable(text: str) -> bool:
    """No NUL character and no lone surrogate (an ASCII text is checked without the regex: the turn's path)."""
    return "\x00" not in text and (text.isascii() or _SURROGATE.search(text) is None)


def storable(text: str) -> str:
    """``text`` as a database stores it: without NUL characters, a lone surrogate as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text.replace("\x00", ""))
