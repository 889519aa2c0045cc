"""Telegram: an Update (parsed with python-telegram-bot) → Inbound; replies → a Bot API call.

- Text messages and bot commands (``/menu``, ``/ayuda``, ``/baja``; ``/start`` greets) become text.
- An inline keyboard press (``callback_query``) becomes the text of the option chosen.
- Photos, voice notes and documents become media (only text is understood).
- Edited messages are not answers: the bot says so instead of changing a stored answer.

Replies are rendered as one ``sendMessage`` (Telegram allows one method in the webhook response):
the texts joined, the last options as an inline keyboard, WhatsApp-style *bold*/_italic_ as HTML.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import outbox
from bot.channels.text import split_text
from surveys.messages import Inbound, Outbound
from surveys.texts import texts

MAX_TEXT = 4096  # Telegram's limit for one message
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what Telegram allows in a deep-link payload
CHANNEL = "telegram"


@dataclass(frozen=True)
class Parsed:
    """What an update means for the bot: an inbound message, a fixed note, or nothing."""

    inbound: Inbound | None = None
    chat_id: int | None = None
    note: str | None = None  # texts key to answer with, without touching the conversation
    callback_id: str | None = None  # a button press to acknowledge


def parse_update(data: dict[str, Any]) -> Parsed:
    update = Update.de_json(data, None)
    external_id = str(update.update_id)
    if update.edited_message is not None:
        return Parsed(chat_id=update.edited_message.chat.id, note="edited_ignored")
    if update.callback_query is not None:
        query = update.callback_query
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        inbound = Inbound(CHANNEL, str(chat_id), query.data or "", external_id=external_id)
        return Parsed(inbound=inbound, chat_id=chat_id, callback_id=query.id)
    message = update.message
    if message is None:  # channel posts, polls, member updates…: nothing to answer
        return Parsed()
    text = message.text or message.caption or ""
    invitation = None
    if text.startswith("/start"):
        # A deep link t.me/<bot>?start=<token> arrives as "/start <token>": it binds the chat to the
        # invited entity (bot.service); the conversation itself just starts.
        token = text.removeprefix("/start").strip()
        invitation = token if _TOKEN.fullmatch(token) else None
        text = "hola"
    media = tuple(
        f"telegram:{kind}:{obj.file_id}"
        for kind, obj in (("photo", message.photo[-1] if message.photo else None), ("voice", message.voice),
                          ("audio", message.audio), ("document", message.document), ("video", message.video))
        if obj is not None
    )
    inbound = Inbound(CHANNEL, str(message.chat.id), text if not media else message.caption or "",
                      external_id=external_id, media=media, invitation=invitation)
    return Parsed(inbound=inbound, chat_id=message.chat.id)


_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")


def to_html(text: str) -> str:
    """WhatsApp-style *bold* and _italic_ as Telegram HTML, everything else escaped (respondent
    text may contain <, > or &)."""
    escaped = html.escape(text, quote=False)
    return _ITALIC.sub(r"<i>\1</i>", _BOLD.sub(r"<b>\1</b>", escaped))


def combine(replies: list[Outbound]) -> Outbound | None:
    """The replies of one turn as one Telegram message: texts joined, the last options as buttons."""
    if not replies:
        return None
    options = next((r.options for r in reversed(replies) if r.options), ())
    return Outbound("\n\n".join(r.text for r in replies), options)


def pieces(message: Outbound) -> list[Outbound]:
    """A message too long for Telegram as several, split at paragraph/line boundaries; the
    buttons go with the last piece."""
    texts = split_text(message.text, MAX_TEXT // 2)  # room for HTML escaping to grow the text
    return [Outbound(text, message.options if i == len(texts) - 1 else ()) for i, text in enumerate(texts)]


def fits(message: Outbound) -> bool:
    return len(to_html(message.text)) <= MAX_TEXT


def send_message(chat_id: int, replies: list[Outbound]) -> dict[str, Any] | None:
    """The replies as one sendMessage call (the webhook response body). If they do not fit, the
    earliest are left out (the last carries the current question): callers that can queue
    several messages split them with ``pieces`` instead."""
    while len(replies) > 1 and not fits(combine(replies) or Outbound("")):
        replies = replies[1:]
    message = combine(replies)
    if message is None:
        return None
    call: dict[str, Any] = {"method": "sendMessage", "chat_id": chat_id, "parse_mode": "HTML",
                            "text": to_html(message.text)[:MAX_TEXT]}
    if message.options:
        call["reply_markup"] = keyboard(message.options).to_dict()
    return call


def enqueue_replies(conn: Any, chat_id: int, replies: list[Outbound], update_id: int) -> None:
    """The turn's replies through the outbox, split if needed (deduplicated by update_id)."""
    message = combine(replies)
    if message is None:
        return
    for i, piece in enumerate(pieces(message)):
        outbox.enqueue(conn, channel=CHANNEL, address=str(chat_id), text=piece.text, kind="reply",
                       options=[(o.label, o.reply) for o in piece.options], dedupe_key=f"tg-reply:{update_id}:{i}")


def handle_update(service: Any, data: dict[str, Any]) -> tuple[Parsed, list[Outbound]]:
    """An update through the chat service (webhook and long polling alike): what it was and the
    replies to send."""
    parsed = parse_update(data)
    if parsed.note is not None:
        return parsed, [Outbound(texts()(parsed.note))]
    if parsed.inbound is None:
        return parsed, []
    return parsed, service.handle(parsed.inbound)


def enqueue_callback_answer(conn: Any, parsed: Parsed) -> None:
    """Acknowledge a button press through the outbox (or the button keeps spinning)."""
    if parsed.callback_id is not None:
        outbox.enqueue(conn, channel=CHANNEL, address=str(parsed.chat_id or ""), text="", kind="callback",
                       payload={"callback_query_id": parsed.callback_id},
                       dedupe_key=f"tg-callback:{parsed.callback_id}")


def keyboard(options: tuple[Any, ...]) -> InlineKeyboardMarkup:
    """Short labels two to a row, long ones alone; the button sends the option's reply."""
    rows: list[list[InlineKeyboardButton]] = []
    for option in options:
        button = InlineKeyboardButton(option.label, callback_data=option.reply[:64])
        if rows and len(rows[-1]) == 1 and len(option.label) <= 14 and len(rows[-1][0].text) <= 14:
            rows[-1].append(button)
        else:
            rows.append([button])
    return InlineKeyboardMarkup(rows)
