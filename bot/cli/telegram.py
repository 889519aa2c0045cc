"""``m360 telegram poll``: Telegram without a public URL (long polling instead of a webhook)."""

from __future__ import annotations

import click

from bot.channels.telegram_api import TelegramProvider
from bot.channels.telegram_poll import Poller
from bot.outbox.sending import OutboxWorker, Sender
from bot.runtime.coding_worker import CodingWorker, interview_coding_job
from bot.runtime.setup import prepare
from bot.service import ChatService


@click.group("telegram")
def telegram_group() -> None:
    """Telegram without a public URL."""


@telegram_group.command("poll")
@click.option("--timeout", default=25, show_default=True, help="Long-poll wait, seconds.")
def telegram_poll(timeout: int) -> None:
    """Receive updates by long polling (getUpdates) instead of a webhook; same engine, replies through
    the outbox. Deletes a configured webhook first, as Telegram requires."""
    provider = TelegramProvider.from_env()
    if provider is None:
        raise click.ClickException("set TELEGRAM_BOT_TOKEN")
    sessions = prepare()
    coder = CodingWorker(interview_coding_job(sessions.kw["bind"])).start()
    service = ChatService(sessions, on_coded_answer=coder.notify)
    worker = OutboxWorker(Sender(sessions.kw["bind"], {"telegram": provider})).start()
    click.echo("polling Telegram for updates (Ctrl-C to stop)")
    try:
        Poller(service, provider, worker, timeout=timeout).run()
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
        coder.stop()
