"""The sending providers configured in the environment, by channel.

Twilio's account, sender numbers or Messaging Service, Telegram's bot token, the API bases and the
alert webhook: the variables are listed once, in the README's configuration table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.outbox.sending import Provider
from surveys import settings
from surveys.clock import utcnow


def from_env(public_url: str | None = None) -> dict[str, Provider]:
    from bot.channels.telegram_api import TelegramProvider
    from bot.channels.twilio_api import TwilioProvider
    from bot.channels.webhook import WebhookProvider

    providers: dict[str, Provider] = {}
    twilio = TwilioProvider.from_env(public_url or settings.current().public_url)
    if twilio is not None:
        providers["whatsapp"] = providers["sms"] = twilio
    telegram = TelegramProvider.from_env()
    if telegram is not None:
        providers["telegram"] = telegram
    webhook = WebhookProvider.from_env()
    if webhook is not None:
        providers["webhook"] = webhook
    return providers


def for_sending(engine: Any, public_url: str | None = None,
                clock: Callable[[], datetime] = utcnow) -> dict[str, Provider]:
    """What a sender delivers through: the configured providers, plus the simulator's, so that
    proactive messages reach /simulador (m360 serve, m360 worker and the Celery worker alike)."""
    from bot.channels.simulator_api import SimulatorProvider

    providers = from_env(public_url)
    providers["simulator"] = SimulatorProvider(engine, clock)
    return providers
