"""Telegram by long polling (``m360 telegram poll``): for a machine without a public URL.

Updates come from getUpdates instead of the webhook and go through the same chat service; the
replies, which have no webhook response to ride on, are queued in the outbox (deduplicated by
update_id, so an update seen twice after a crash is answered once) and the worker is woken.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from telegram.error import NetworkError

from bot.channels import telegram
from bot.channels.telegram_api import TelegramProvider
from bot.outbox import sending
from surveys import db, settings

log = logging.getLogger(__name__)
# What the bot asks Telegram for (the same list goes to setWebhook's allowed_updates; README).
UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class Poller:
    def __init__(self, service: Any, provider: TelegramProvider, worker: sending.OutboxWorker, *, timeout: int = 25,
                 stop: threading.Event | None = None):
        self.service, self.provider, self.worker = service, provider, worker
        self.timeout = timeout
        self.stop = stop or threading.Event()
        self.username: str | None = settings.current().telegram_bot_username

    def run(self) -> None:
        self.provider.run(self.provider.bot.delete_webhook())  # Telegram refuses getUpdates while one is set
        if self.username is None:  # to tell a group message addressed to the bot, and to link a group to it
            try:
                self.username = self.provider.run(self.provider.bot.get_me()).username
            except NetworkError as exc:
                log.warning("getMe failed (%s): groups get the note only when the bot is added", exc)
        offset: int | None = None
        pause = 0.0
        while not self.stop.is_set():
            try:
                updates = self.provider.run(
                    self.provider.bot.get_updates(offset=offset, timeout=self.timeout, allowed_updates=UPDATES))
            except NetworkError as exc:  # includes TimedOut: a bad connection must not end the bot
                pause = min(30.0, max(0.5, pause * 2))
                log.warning("getUpdates failed (%s); retrying in %.1f s", exc, pause)
                self.stop.wait(pause)
                continue
            pause = 0.0
            for update in updates:
                try:
                    self.process(update.to_dict())
                except Exception:  # one bad update must not stop the bot; the others still flow
                    log.exception("Telegram update %s failed", update.update_id)
                offset = update.update_id + 1

    def process(self, data: dict[str, Any]) -> None:
        try:
            parsed, replies = telegram.handle_update(self.service, data, self.username)
        except telegram.Unreadable as exc:
            log.warning("Telegram update %r skipped: %s", data.get("update_id"), exc)
            return
        notice = telegram.stale_notice(replies)
        with db.transaction(self.service.engine) as conn:
            telegram.enqueue_callback_answer(conn, parsed, notice)
            if parsed.chat_id is not None and not notice:
                telegram.enqueue_replies(conn, parsed.chat_id, replies, data["update_id"])
        self.worker.notify()
