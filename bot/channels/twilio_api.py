"""Sending through Twilio's Messages API (WhatsApp and SMS), with the official twilio library.

Inside WhatsApp's 24-hour customer-service window the text goes as a free-form ``Body``; outside
it only an approved template may be sent (``ContentSid`` + ``ContentVariables``): the row's
``payload`` names its template kind and variables (bot.channels.templates), the SID comes from the
environment. Twilio refusing the free text as outside the window (63016: our estimate of the window
was wrong) is retried at once, a single time, as the template.

Errors become outbox decisions: 429 → retry after Retry-After (surely not sent); 5xx and network
errors → back off, *in doubt* (Twilio may have created the message: reconciled before any resend);
21610 (recipient unsubscribed) → opted out; other 4xx → failed; outside the window with no template
→ failed, reported.

``reconcile`` asks Twilio's list of messages to the recipient whether an in-doubt message went out;
when that call fails (a dropped connection, a 5xx, Twilio unreachable) it raises ReconcileError and
the outbox asks again later — it never guesses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Container
from datetime import datetime, timedelta
from typing import Any

import requests
import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.channels import templates
from bot.channels.twilio import address_for
from bot.outbox.sending import Outgoing, ReconcileError, SendError
from surveys import settings

UNSUBSCRIBED = 21610  # "Attempt to send to unsubscribed recipient"
OUTSIDE_WINDOW = 63016  # "Failed to send freeform message because you are outside the allowed window"
OPT_OUT_CODES = frozenset({UNSUBSCRIBED})
NOT_DELIVERED = frozenset({"failed", "undelivered", "canceled"})  # a listed message that did not go out
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
    reconciles = True  # the Messages list tells whether an in-doubt message went out

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
        found = settings.current()
        sid, token = found.twilio_account_sid, found.twilio_auth_token
        if not (sid and token):
            return None
        return cls(
            sid, token, whatsapp_from=found.twilio_whatsapp_from, sms_from=found.twilio_sms_from,
            messaging_service_sid=found.twilio_messaging_service_sid, base_url=found.twilio_api_base,
            status_callback=f"{public_url.rstrip('/')}/webhooks/twilio/status" if public_url else None,
            max_per_second=found.twilio_max_per_second,
        )

    def _params(self, message: Outgoing, *, as_template: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"to": address_for(message.channel, message.address)}
        sender = self.whatsapp_from if message.channel == "whatsapp" else self.sms_from
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        elif sender:
            params["from_"] = address_for(message.channel, sender.removeprefix("whatsapp:"))
        else:
            raise SendError(f"no sender number configured for {message.channel}", permanent=True)
        if message.channel == "whatsapp" and (as_template or not message.within_window
                                              or message.payload.get("force_template")):
            params["content_sid"] = _content_sid(message)
            params["content_variables"] = json.dumps(message.payload.get("content_variables") or {})
        else:
            params["body"] = message.text
        if self.status_callback:
            params["status_callback"] = f"{self.status_callback}?outbox={message.id}"
        return params

    def send(self, message: Outgoing) -> str | None:
        params = self._params(message)
        try:
            return self._create(params)
        except TwilioRestException as exc:
            if exc.code != OUTSIDE_WINDOW or "content_sid" in params or message.channel != "whatsapp":
                raise self._error(exc) from exc
        # Refused as outside the 24-hour window (our clock said otherwise): once more, as the template.
        try:
            return self._create(self._params(message, as_template=True))
        except TwilioRestException as exc:
            raise self._error(exc) from exc

    def _create(self, params: dict[str, Any]) -> str:
        try:
            return str(self.client.messages.create(**params).sid)
        except TwilioRestException:
            raise
        except requests.RequestException as exc:
            raise SendError(f"network error: {exc}", maybe_sent=_maybe_sent(exc)) from exc
        except TwilioException as exc:  # the library's own failures (an unreadable answer…)
            raise SendError(f"twilio: {exc}", maybe_sent=True) from exc

    def _error(self, exc: TwilioRestException) -> SendError:
        text = f"twilio {exc.status} {exc.code}: {exc.msg}"
        if exc.code in OPT_OUT_CODES:
            return SendError(text, opted_out=True)
        if exc.status == 429:
            response = self.http.last
            retry_after = (response.headers or {}).get("Retry-After") if response is not None else None
            return SendError(text, retry_after=float(retry_after) if retry_after else None)
        if exc.status >= 500:
            return SendError(text, maybe_sent=True)  # Twilio may have created it before failing
        return SendError(text, permanent=True)

    def reconcile(self, message: Outgoing, since: datetime, known: Container[str] = ()) -> str | None:
        """A message to the same recipient since the row was written, with this row's body (a
        template's rendered body holds this row's variables), not one recorded for another row
        (``known``) and not one Twilio failed, means it went out. Raises ReconcileError when Twilio
        cannot be asked."""
        to = address_for(message.channel, message.address)
        variables = [str(v) for v in (message.payload.get("content_variables") or {}).values()]
        try:
            # Newest first, by creation: a DateSent filter would miss a message Twilio still has queued.
            for sent in self.client.messages.list(to=to, limit=50):
                if sent.date_created is not None and sent.date_created < since - CLOCK_SKEW:
                    break
                body = sent.body or ""
                if str(sent.sid) not in known and str(sent.status) not in NOT_DELIVERED and (
                        body == message.text or (variables and all(v in body for v in variables))):
                    return str(sent.sid)
        except (TwilioException, requests.RequestException) as exc:
            raise ReconcileError(f"{type(exc).__name__}: {exc}") from exc
        return None


def _content_sid(message: Outgoing) -> str:
    kind = message.payload.get("template")
    sid = message.payload.get("content_sid") or templates.content_sid(kind)
    if sid:
        return str(sid)
    if kind in templates.catalogue():
        hint = f"no template for «{kind}» (set {templates.get(kind).env})"
    else:
        hint = f"no template for a «{message.kind}» message"
    raise SendError(f"outside WhatsApp's 24-hour window and {hint}", permanent=True, no_template=True)


def _maybe_sent(exc: requests.RequestException) -> bool:
    """Whether the request may have reached Twilio: not when the connection was never made."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return not isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.NameResolutionError)
