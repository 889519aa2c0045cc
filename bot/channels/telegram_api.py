"""Sending through the Telegram Bot API with python-telegram-bot (async, run on a private loop).

Errors become outbox decisions: RetryAfter (429) → retry after the given seconds; Forbidden ("bot
was blocked by the user") → opted out; BadRequest → failed; other network errors → back off (in
doubt, but the Bot API cannot list sent messages: a resend is at least once).

A group that became a supergroup (the DER's alert group, when someone enables a supergroup
feature) changes its chat id: Telegram refuses the old one with ``ChatMigrated`` and names the new
one. That refusal is certain (nothing was sent), so the message goes at once to the new id — the
same group — and this process keeps sending that chat's messages there; a warning names the
setting to update (``M360_DER_TELEGRAM_CHAT_ID``), since after a restart the old id would cost one
refused call per message again. If the new id fails too, the row fails for good naming both ids.

An outbox row whose payload holds ``callback_query_id`` answers a button press instead (with a
short ``notice`` on the button when given) and removes the pressed message's keyboard
(``clear_keyboard_of``: editMessageReplyMarkup), so an answered or stale keyboard cannot be pressed
again. Both are idempotent: a press already answered, or a keyboard already gone, is success.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Container
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError

from bot.channels.telegram import keyboard
from bot.channels.text import to_html
from bot.outbox.sending import Outgoing, SendError
from surveys import settings
from surveys.messages import Option

log = logging.getLogger(__name__)

# BadRequest descriptions that mean the call's effect is already there (an earlier attempt did it).
_ALREADY_DONE = ("query is too old", "query id is invalid", "message is not modified", "message to edit not found",
                 "message can't be edited")


class TelegramProvider:
    max_per_second = 30.0  # Bot API: about 30 messages per second overall
    per_chat_interval = 1.0  # and one per second to the same chat
    reconciles = False  # the Bot API cannot list sent messages: at least once

    def __init__(self, token: str, *, base_url: str | None = None):
        self.bot = Bot(token, base_url=base_url or "https://api.telegram.org/bot")
        # One event loop in its own thread, started on first use; callers in any thread submit to it. Calls
        # overlap: a reply is sent while `m360 telegram poll` waits in a long getUpdates (PTB keeps a
        # separate connection for getUpdates), instead of queueing behind it for up to its timeout.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.migrated: dict[str, int] = {}  # a group's old chat id → its supergroup's (ChatMigrated)

    @classmethod
    def from_env(cls) -> TelegramProvider | None:
        found = settings.current()
        return cls(found.telegram_bot_token, base_url=found.telegram_api_base) if found.telegram_bot_token else None

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._running_loop()).result()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="telegram-api", daemon=True).start()
            return self._loop

    def send(self, message: Outgoing) -> str | None:
        try:
            return self._send_following_migrations(message)
        except ChatMigrated as exc:
            raise SendError(f"telegram: the group {message.address} became the supergroup {exc.new_chat_id}, and "
                            f"sending there failed too: {exc}", permanent=True) from exc
        except RetryAfter as exc:
            seconds = exc.retry_after.total_seconds() if isinstance(exc.retry_after, timedelta) else exc.retry_after
            raise SendError(f"telegram 429: {exc}", retry_after=float(seconds)) from exc
        except Forbidden as exc:
            raise SendError(f"telegram 403: {exc}", opted_out=True) from exc
        except BadRequest as exc:
            raise SendError(f"telegram 400: {exc}", permanent=True) from exc
        except TelegramError as exc:  # NetworkError, TimedOut: the request may have arrived
            raise SendError(f"telegram: {exc}", maybe_sent=True) from exc

    def _send_following_migrations(self, message: Outgoing) -> str | None:
        chat_id = self.migrated.get(message.address, message.address)
        try:
            return self.run(self._send(message, chat_id))
        except ChatMigrated as exc:
            if message.address in self.migrated:  # it moved again: never follow in circles
                raise
            self.migrated[message.address] = int(exc.new_chat_id)
            log.warning("Telegram chat %s became the supergroup %s: its messages go there now. If it is the DER's "
                        "alert group, set M360_DER_TELEGRAM_CHAT_ID=%s", message.address, exc.new_chat_id,
                        exc.new_chat_id)
            return self.run(self._send(message, self.migrated[message.address]))

    async def _send(self, message: Outgoing, chat_id: int | str) -> str | None:
        callback = message.payload.get("callback_query_id")
        if callback:
            await _idempotent(self.bot.answer_callback_query(callback, text=message.payload.get("notice")))
            pressed = message.payload.get("clear_keyboard_of")
            if pressed:
                await _idempotent(self.bot.edit_message_reply_markup(chat_id=int(chat_id),
                                                                     message_id=int(pressed), reply_markup=None))
            return None
        options = tuple(Option(label, reply) for label, reply in message.options)
        markup = keyboard(options, message.payload.get("prompt")) if options else None
        sent = await self.bot.send_message(chat_id=int(chat_id), text=to_html(message.text),
                                           parse_mode="HTML", reply_markup=markup)
        return str(sent.message_id)

    def reconcile(self, message: Outgoing, since: datetime, known: Container[str] = ()) -> str | None:
        return None  # never asked (reconciles = False)


async def _idempotent(call: Any) -> None:
    try:
        await call
    except BadRequest as exc:
        if not any(text in str(exc).lower() for text in _ALREADY_DONE):
            raise
