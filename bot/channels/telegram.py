"""Telegram: an Update (checked, then parsed with python-telegram-bot) → what it means for the bot;
replies → Bot API calls.

- Private chats only. A message addressed to the bot in a group (a command or an @mention), or the
  bot being added to one, gets one polite note with a link to a private chat; the group's other
  messages are ignored, and nothing about a group is stored (no contact, consent or answer).
- Text messages and bot commands (``/menu``, ``/ayuda``, ``/baja``; ``/start`` greets; a deep link's
  ``/start <token>`` binds the chat to an invitation) become text.
- An inline keyboard press (``callback_query``) becomes the text of the option chosen, with the
  token of the prompt its keyboard was sent for (``callback_data`` is ``<token>~<reply>``): the
  chat service refuses a press whose prompt is no longer the current one.
- Photos, voice notes, stickers, locations, contacts, forwarded stories… become media (only text is
  understood). A service message in a private chat (a message pinned, the auto-delete timer
  changed…) is not the person writing: it is ignored (200, nothing stored).
- Edited messages are not answers: the bot says so, and asks again what it is waiting for, instead
  of changing a stored answer.
- ``my_chat_member`` with status ``kicked`` in a private chat (the person blocked the bot) marks
  the contact unreachable (opted out).
- An update that does not have Telegram's documented shape is ``Unreadable``: the webhook
  acknowledges it (200) and logs it, so Telegram does not retry it for hours.

Idempotency keys include the chat (``<chat id>:<update id>``): Telegram may reuse an update_id
after a week without updates, and a reused id must never replay another chat's replies.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import MessageAttachmentType

from bot.channels.text import TELEGRAM_LIMIT, split_for, telegram_length, to_html
from bot.outbox import sending
from surveys.messages import Inbound, Outbound
from surveys.texts import texts

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = TELEGRAM_LIMIT
CALLBACK_BYTES = 64  # Telegram's limit for callback_data, in bytes
PROMPT_SEPARATOR = "~"
STALE_PROMPT = "!"  # the prompt of a button with no token (a keyboard older than tokens): never current
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what Telegram allows in a deep-link payload
_PROMPT = re.compile(r"[a-z0-9]{0,16}")
_MAX_ID = 2**53  # Telegram ids have at most 52 significant bits
_MAX_DATE = 2**32  # Unix time: a date beyond 2106 is not a date Telegram sends
PRIVATE = "private"
GROUPS = frozenset({"group", "supergroup"})
# What a person can send besides text (python-telegram-bot's list: photos, voice notes, stickers,
# locations, contacts, polls, forwarded stories…). A payment receipt is a service message, not content.
ATTACHMENTS = tuple(kind.value for kind in MessageAttachmentType
                    if kind is not MessageAttachmentType.SUCCESSFUL_PAYMENT)
LOGGED_WITH_FILE = frozenset({"photo", "voice", "audio", "document", "video", "video_note", "sticker", "animation"})


class Unreadable(ValueError):
    """An update that does not have the documented shape (wrong types, impossible dates or ids)."""


@dataclass(frozen=True)
class Parsed:
    """What an update means for the bot."""

    inbound: Inbound | None = None
    chat_id: int | None = None
    note: str | None = None  # texts key to answer with, without touching the conversation
    callback_id: str | None = None  # a button press to acknowledge
    callback_message_id: int | None = None  # the message whose keyboard was pressed (removed once answered)
    group: bool = False  # a group or supergroup: the note goes to the group, nothing is stored
    unreachable: bool = False  # the person blocked the bot
    bot_username: str | None = None


# ------------------------------------------------------------------ reading an update


def parse_update(data: Any, bot_username: str | None = None) -> Parsed:
    """Raises Unreadable for anything that is not a well-formed update."""
    _check_update(data)
    try:
        update = Update.de_json(data, None)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, OSError) as exc:
        raise Unreadable(f"{type(exc).__name__}: {exc}") from exc
    if update is None:
        raise Unreadable("empty update")
    if update.my_chat_member is not None:
        return _member_change(update, bot_username)
    if update.edited_message is not None:
        edited = update.edited_message
        if edited.chat.type != PRIVATE:
            return Parsed()
        inbound = Inbound(CHANNEL, str(edited.chat.id), edited.text or edited.caption or "",
                          external_id=f"{edited.chat.id}:{update.update_id}", edited=True)
        return Parsed(inbound=inbound, chat_id=edited.chat.id)
    if update.callback_query is not None:
        return _callback(update)
    message = update.message
    if message is None:  # channel posts, polls, inline queries…: nothing to answer
        return Parsed()
    if message.chat.type != PRIVATE:
        return _group_message(message, bot_username)
    media = _attachments(message)
    if not (message.text or message.caption or media):
        # A service message (a message pinned, the auto-delete timer changed, a forum topic…):
        # Telegram wrote it, not the person. Nothing to answer, nothing stored.
        return Parsed(chat_id=message.chat.id)
    return Parsed(inbound=_inbound(message, update.update_id, media), chat_id=message.chat.id)


def _attachments(message: Message) -> tuple[str, ...]:
    """The message's non-text content: file ids are logged; a location, a contact card, a poll…
    only by kind (no coordinates, no phone number)."""
    media = []
    for kind in ATTACHMENTS:
        value = getattr(message, kind, None)
        if not value:
            continue
        if kind == "photo":
            value = value[-1]  # the largest size
        file_id = getattr(value, "file_id", None) if kind in LOGGED_WITH_FILE else None
        media.append(f"{CHANNEL}:{kind}:{file_id}" if file_id else f"{CHANNEL}:{kind}")
    return tuple(media)


def _inbound(message: Message, update_id: int, media: tuple[str, ...]) -> Inbound:
    text = message.text or message.caption or ""
    invitation = None
    command, _, argument = text.partition(" ")
    if command.split("@", 1)[0] == "/start":
        # A deep link t.me/<bot>?start=<token> arrives as "/start <token>": it binds the chat to the
        # invited entity (bot.service); the conversation itself just starts.
        token = argument.strip()
        invitation = token if _TOKEN.fullmatch(token) else None
        text = "hola"
    elif command.startswith("/") and "@" in command:  # /menu@m360_bot → /menu
        text = " ".join(x for x in (command.split("@", 1)[0], argument) if x)
    return Inbound(CHANNEL, str(message.chat.id), text if not media else message.caption or "",
                   external_id=f"{message.chat.id}:{update_id}", media=media, invitation=invitation)


def _callback(update: Update) -> Parsed:
    query = update.callback_query
    assert query is not None
    message = query.message
    chat_id = message.chat.id if message is not None else query.from_user.id
    if message is not None and message.chat.type != PRIVATE:
        return Parsed(chat_id=chat_id, callback_id=query.id, group=True)  # a keyboard in a group: not ours
    prompt, reply = parse_callback_data(query.data or "")
    inbound = Inbound(CHANNEL, str(chat_id), reply, external_id=f"{chat_id}:{update.update_id}", prompt=prompt)
    message_id = message.message_id if message is not None and message.message_id else None
    return Parsed(inbound=inbound, chat_id=chat_id, callback_id=query.id, callback_message_id=message_id)


def _group_message(message: Any, bot_username: str | None) -> Parsed:
    """Only a message addressed to this bot in a group gets the note; the rest is the group's chat."""
    if message.chat.type not in GROUPS:
        return Parsed()
    if message.migrate_to_chat_id:  # the group became a supergroup: a new chat id (bot.channels.telegram_api)
        log.warning("Telegram group %s became the supergroup %s; if it is the DER's alert group, set "
                    "M360_DER_TELEGRAM_CHAT_ID=%s", message.chat.id, message.migrate_to_chat_id,
                    message.migrate_to_chat_id)
        return Parsed()
    text = message.text or message.caption or ""
    command = text.split(" ", 1)[0]
    name = (bot_username or "").lstrip("@").lower()
    addressed = (
        (command.startswith("/") and ("@" not in command or (name and command.lower().endswith(f"@{name}"))))
        or (name and f"@{name}" in text.lower())
    )
    if not addressed:
        return Parsed()
    return Parsed(chat_id=message.chat.id, note="group_private_only", group=True, bot_username=bot_username)


def _member_change(update: Update, bot_username: str | None) -> Parsed:
    change = update.my_chat_member
    assert change is not None
    status, chat = change.new_chat_member.status, change.chat
    if chat.type == PRIVATE:
        return Parsed(chat_id=chat.id, unreachable=status == "kicked")
    if chat.type in GROUPS and status in ("member", "administrator"):  # the bot was added to a group
        username = change.new_chat_member.user.username or bot_username
        return Parsed(chat_id=chat.id, note="group_private_only", group=True, bot_username=username)
    return Parsed()


def parse_callback_data(data: str) -> tuple[str, str]:
    """(prompt token, reply). Data without a token comes from a keyboard older than tokens, which
    cannot be matched to a prompt: it gets a prompt that is never current."""
    prompt, separator, reply = data.partition(PROMPT_SEPARATOR)
    if not separator or not _PROMPT.fullmatch(prompt):
        return STALE_PROMPT, data
    return prompt, reply


def callback_data(prompt: str | None, reply: str) -> str:
    """``<token>~<reply>`` cut to Telegram's 64 bytes at a character boundary. An empty token: the
    button is valid whatever the conversation is doing (a proactive message's commands)."""
    data = f"{prompt or ''}{PROMPT_SEPARATOR}{reply}"
    encoded = data.encode()
    if len(encoded) <= CALLBACK_BYTES:
        return data
    return encoded[:CALLBACK_BYTES].decode(errors="ignore")


def _check_update(data: Any) -> None:
    """The fields this adapter reads have the types Telegram documents, in range."""
    if not isinstance(data, dict):
        raise Unreadable("not a JSON object")
    _integer(data.get("update_id"), "update_id", 0, _MAX_ID)
    for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
        if key in data:
            _message(data[key], key)
    if "callback_query" in data:
        query = data["callback_query"]
        if not isinstance(query, dict) or not isinstance(query.get("id"), str):
            raise Unreadable("callback_query: not an object with a string id")
        _user(query.get("from"), "callback_query.from")
        if "data" in query and not isinstance(query["data"], str):
            raise Unreadable("callback_query.data: not a string")
        if "message" in query:
            _message(query["message"], "callback_query.message", inaccessible=True)
    if "my_chat_member" in data:
        change = data["my_chat_member"]
        if not isinstance(change, dict) or not isinstance(change.get("new_chat_member"), dict):
            raise Unreadable("my_chat_member: not an object with new_chat_member")
        _chat(change.get("chat"), "my_chat_member.chat")
        _integer(change.get("date"), "my_chat_member.date", 0, _MAX_DATE)
        if not isinstance(change["new_chat_member"].get("status"), str):
            raise Unreadable("my_chat_member.new_chat_member.status: not a string")


def _message(message: Any, where: str, inaccessible: bool = False) -> None:
    if not isinstance(message, dict):
        raise Unreadable(f"{where}: not an object")
    _integer(message.get("message_id"), f"{where}.message_id", 0, _MAX_ID)
    # An inaccessible message (a button under a message older than 48 h) has date 0.
    _integer(message.get("date"), f"{where}.date", 0 if inaccessible else 1, _MAX_DATE)
    if "edit_date" in message:
        _integer(message["edit_date"], f"{where}.edit_date", 0, _MAX_DATE)
    _chat(message.get("chat"), f"{where}.chat")
    if "from" in message:
        _user(message["from"], f"{where}.from")
    for key in ("text", "caption"):
        if key in message and not isinstance(message[key], str):
            raise Unreadable(f"{where}.{key}: not a string")


def _chat(chat: Any, where: str) -> None:
    if not isinstance(chat, dict) or not isinstance(chat.get("type"), str):
        raise Unreadable(f"{where}: not an object with a type")
    _integer(chat.get("id"), f"{where}.id", -_MAX_ID, _MAX_ID)


def _user(user: Any, where: str) -> None:
    if not isinstance(user, dict):
        raise Unreadable(f"{where}: not an object")
    _integer(user.get("id"), f"{where}.id", 0, _MAX_ID)


def _integer(value: Any, where: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value < high:
        raise Unreadable(f"{where}: not an integer in range")


# ------------------------------------------------------------------ replies


def combine(replies: list[Outbound]) -> Outbound | None:
    """The replies of one turn as one Telegram message: texts joined, the last options as buttons."""
    if not replies:
        return None
    last = next((r for r in reversed(replies) if r.options), None)
    return Outbound("\n\n".join(r.text for r in replies), last.options if last else (),
                    prompt=last.prompt if last else None)


def pieces(message: Outbound) -> list[Outbound]:
    """A message too long for Telegram as several (measured after formatting, cut at a paragraph
    or sentence, never inside bold/italic); the buttons go with the last piece."""
    parts = split_for(CHANNEL, message.text)
    last = len(parts) - 1
    return [Outbound(text, message.options if i == last else (), prompt=message.prompt if i == last else None)
            for i, text in enumerate(parts)]


def fits(message: Outbound) -> bool:
    return telegram_length(message.text) <= MAX_TEXT


def send_message(chat_id: int, replies: list[Outbound]) -> dict[str, Any] | None:
    """The replies as one sendMessage call (the webhook response body). If they do not fit, the
    earliest are left out (the last carries the current question), and a last reply too long on
    its own gives way to its last piece: callers that can queue several messages use the outbox."""
    while len(replies) > 1 and not fits(combine(replies) or Outbound("")):
        replies = replies[1:]
    message = combine(replies)
    if message is None:
        return None
    message = pieces(message)[-1]
    call: dict[str, Any] = {"method": "sendMessage", "chat_id": chat_id, "parse_mode": "HTML",
                            "text": to_html(message.text)}
    if message.options:
        call["reply_markup"] = keyboard(message.options, message.prompt).to_dict()
    return call


def answer_callback(parsed: Parsed, text: str | None = None) -> dict[str, Any]:
    """The answerCallbackQuery call for a press (``text``: a short notice shown on the button)."""
    call: dict[str, Any] = {"method": "answerCallbackQuery", "callback_query_id": parsed.callback_id}
    if text:
        call["text"] = text
    return call


def group_note(parsed: Parsed, username: str | None) -> Outbound:
    name = (parsed.bot_username or username or "").lstrip("@")
    t = texts()
    return Outbound(t("group_private_only", link=f"https://t.me/{name}" if name else t("group_private_link_unknown")))


def enqueue_replies(conn: Any, chat_id: int, replies: list[Outbound], update_id: int,
                    now: datetime | None = None) -> None:
    """The turn's replies through the outbox, split if needed, in order (deduplicated by chat and
    update_id: a redelivered update is not answered twice)."""
    message = combine(replies)
    if message is None:
        return
    sending.enqueue(conn, channel=CHANNEL, address=str(chat_id), text=message.text, kind="reply",
                   options=[(o.label, o.reply) for o in message.options],
                   payload={"prompt": message.prompt} if message.prompt else None,
                   dedupe_key=f"tg-reply:{chat_id}:{update_id}", now=now)


def enqueue_callback_answer(conn: Any, parsed: Parsed, notice: str | None = None) -> None:
    """Acknowledge a button press through the outbox (or the button keeps spinning), with a short
    notice when given, and remove the keyboard that was pressed (it belongs to a prompt now past)."""
    if parsed.callback_id is None:
        return
    payload: dict[str, Any] = {"callback_query_id": parsed.callback_id}
    if notice:
        payload["notice"] = notice
    if parsed.callback_message_id is not None and not parsed.group:
        payload["clear_keyboard_of"] = parsed.callback_message_id
    sending.enqueue(conn, channel=CHANNEL, address=str(parsed.chat_id or ""), text="", kind="callback",
                   payload=payload, dedupe_key=f"tg-callback:{parsed.chat_id}:{parsed.callback_id}")


def handle_update(service: Any, data: Any, bot_username: str | None = None) -> tuple[Parsed, list[Outbound]]:
    """An update through the chat service (webhook and long polling alike): what it was and the
    replies to send. Raises Unreadable. A person blocking the bot is recorded here."""
    parsed = parse_update(data, bot_username)
    if parsed.unreachable and parsed.chat_id is not None:
        sending.mark_unreachable(service.engine, CHANNEL, str(parsed.chat_id), service.clock())
        return parsed, []
    if parsed.group:
        return parsed, [group_note(parsed, bot_username)] if parsed.note else []
    if parsed.note is not None:
        return parsed, [Outbound(texts()(parsed.note))]
    if parsed.inbound is None:
        return parsed, []
    return parsed, service.handle(parsed.inbound)


def stale_notice(replies: list[Outbound]) -> str | None:
    """The notice text when the turn only says the pressed option is no longer active."""
    return replies[0].text if len(replies) == 1 and replies[0].notice else None


def keyboard(options: tuple[Any, ...], prompt: str | None = None) -> InlineKeyboardMarkup:
    """Short labels two to a row, long ones alone; the button sends the option's reply with the
    token of the prompt it answers."""
    rows: list[list[InlineKeyboardButton]] = []
    for option in options:
        button = InlineKeyboardButton(option.label, callback_data=callback_data(prompt, option.reply))
        if rows and len(rows[-1]) == 1 and len(option.label) <= 14 and len(rows[-1][0].text) <= 14:
            rows[-1].append(button)
        else:
            rows.append([button])
    return InlineKeyboardMarkup(rows)
