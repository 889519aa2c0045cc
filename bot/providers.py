"""The sending providers configured in the environment, by channel.

| variable | meaning |
|---|---|
| TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN | Twilio account (the token also checks inbound signatures) |
| TWILIO_WHATSAPP_FROM | the WhatsApp sender number, E.164 (e.g. +14155238886) |
| TWILIO_SMS_FROM | an SMS sender number (optional) |
| TWILIO_MESSAGING_SERVICE_SID | send through a Messaging Service instead of a number (optional) |
| TWILIO_API_BASE | Twilio REST base URL (default https://api.twilio.com; tests point it at a fake) |
| TWILIO_MAX_PER_SECOND | outbound rate limit (default 10) |
| TELEGRAM_BOT_TOKEN | the bot's token from @BotFather |
| TELEGRAM_API_BASE | Bot API base URL (default https://api.telegram.org/bot) |
| M360_ALERT_WEBHOOK_URL, M360_ALERT_WEBHOOK_SECRET | outgoing JSON webhook for alerts, HMAC-SHA256 signed |
"""

from __future__ import annotations

import os
from typing import Any

from bot.outbox import Provider


def from_env(public_url: str | None = None) -> dict[str, Provider]:
    from bot.channels.telegram_api import TelegramProvider
    from bot.channels.twilio_api import TwilioProvider
    from bot.channels.webhook import WebhookProvider

    providers: dict[str, Provider] = {}
    twilio = TwilioProvider.from_env(public_url or os.environ.get("M360_PUBLIC_URL"))
    if twilio is not None:
        providers["whatsapp"] = providers["sms"] = twilio
    telegram = TelegramProvider.from_env()
    if telegram is not None:
        providers["telegram"] = telegram
    webhook = WebhookProvider.from_env()
    if webhook is not None:
        providers["webhook"] = webhook
    return providers


def for_sending(engine: Any, public_url: str | None = None) -> dict[str, Provider]:
    """What a sender delivers through: the configured providers, plus the simulator's, so that
    proactive messages reach /simulador (m360 serve, m360 worker and the Celery worker alike)."""
    from bot.channels.simulator_api import SimulatorProvider

    providers = from_env(public_url)
    providers["simulator"] = SimulatorProvider(engine)
    return providers
