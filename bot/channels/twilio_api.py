"""Sending through Twilio's Messages API (WhatsApp and SMS), with the official twilio library.

Inside WhatsApp's 24-hour customer-service window the text goes as a free-form ``Body``; outside
it only an approved template may be sent (``ContentSid`` + ``ContentVariables``, from the outbox
row's payload). Errors become outbox decisions: 429 → retry after Retry-After, 5xx/network →
back off, 21610 (recipient unsubscribed) → opted out, other 4xx → failed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Container
from datetime import datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.channels.twilio import address_for
from bot.outbox import Outgoing, SendError

UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"
OPT_OUT_CODES = frozenset({UNSUBSCRIBED})
CLOCK_SKEW = timedelta(minutes=5)  # our clock against Twilio's, when reconciling a crashed send


class _HttpClient(TwilioHttpClient):
    """Keeps each thread's last response: TwilioRestException carries no headers (Retry-After)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self._local.response = None
        response = super().request(*args, **kwargs)
        self._local.response = response
        return response

    @property
    def last(self) -> Response | None:
        return getattr(self._local, "response", None)


class TwilioProvider:
    def __init__(self, account_sid: str, auth_token: str, *, whatsapp_from: str | None = None,
                 sms_from: str | None = None, messaging_service_sid: str | None = None,
                 base_url: str | None = None, status_callback: str | None = None,
                 max_per_second: float = 10.0, timeout: float = 15.0):
        self.http = _HttpClient(timeout)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        if base_url:
            self.client.api.base_url = base_url.rstrip("/")
        self.whatsapp_from, self.sms_from = whatsapp_from, sms_from
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        self.max_per_second, self.per_chat_interval = max_per_second, 0.0

    @classmethod
    def from_env(cls, public_url: str | None = None) -> TwilioProvider | None:
        sid, token = os.environ.get("TWILIO_ACCOUNT_SID"), os.environ.get("TWILIO_AUTH_TOKEN")
        if not (sid and token):
            return None
        return cls(
            sid, token, whatsapp_from=os.environ.get("TWILIO_WHATSAPP_FROM"),
            sms_from=os.environ.get("TWILIO_SMS_FROM"),
            messaging_service_sid=os.environ.get("TWILIO_MESSAGING_SERVICE_SID"),
            base_url=os.environ.get("TWILIO_API_BASE"),
            status_callback=f"{public_url.rstrip('/')}/webhooks/twilio/status" if public_url else None,
            max_per_second=float(os.environ.get("TWILIO_MAX_PER_SECOND", "10")),
        )

    def _params(self, message: Outgoing) -> dict[str, Any]:
        params: dict[str, Any] = {"to": address_for(message.channel, message.address)}
        sender = self.whatsapp_from if message.channel == "whatsapp" else self.sms_from
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        elif sender:
            params["from_"] = address_for(message.channel, sender.removeprefix("whatsapp:"))
        else:
            raise SendError(f"no sender number configured for {message.channel}", permanent=True)
        template = message.payload.get("content_sid")
        if message.channel == "whatsapp" and not message.within_window:
            if not template:
                raise SendError("outside WhatsApp's 24-hour window and no template (content_sid)", permanent=True)
            params["content_sid"] = template
            params["content_variables"] = json.dumps(message.payload.get("content_variables") or {})
        else:
            params["body"] = message.text
        if self.status_callback:
            params["status_callback"] = f"{self.status_callback}?outbox={message.id}"
        return params

    def send(self, message: Outgoing) -> str | None:
        params = self._params(message)
        try:
            return str(self.client.messages.create(**params).sid)
        except TwilioRestException as exc:
            raise self._error(exc) from exc
        except requests.RequestException as exc:
            raise SendError(f"network error: {exc}") from exc

    def _error(self, exc: TwilioRestException) -> SendError:
        text = f"twilio {exc.status} {exc.code}: {exc.msg}"
        if exc.code in OPT_OUT_CODES:
            return SendError(text, opted_out=True)
        if exc.status == 429:
            response = self.http.last
            retry_after = (response.headers or {}).get("Retry-After") if response is not None else None
            return SendError(text, retry_after=float(retry_after) if retry_after else None)
        if exc.status >= 500:
            return SendError(text)
        return SendError(text, permanent=True)

    def reconcile(self, message: Outgoing, since: datetime, known: Container[str] = ()) -> str | None:
        """After a crash mid-send: a message to the same recipient since the row was written, with
        this row's body (a template's rendered body holds this row's variables), and not one already
        recorded for another row (``known``), means it went out."""
        to = address_for(message.channel, message.address)
        variables = [str(v) for v in (message.payload.get("content_variables") or {}).values()]
        try:
            # Newest first, by creation: a DateSent filter would miss a message Twilio still has queued.
            for sent in self.client.messages.list(to=to, limit=50):
                if sent.date_created is not None and sent.date_created < since - CLOCK_SKEW:
                    break
                body = sent.body or ""
                if str(sent.sid) not in known and (
                        body == message.text or (variables and all(v in body for v in variables))):
                    return str(sent.sid)
        except (TwilioRestException, requests.RequestException):
            return None  # cannot tell: send again (at least once beats never)
        return None
