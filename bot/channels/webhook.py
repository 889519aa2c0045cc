"""Outgoing JSON webhooks (alerts and the daily digest for other systems, e.g. SETA), signed.

Each delivery is a POST of the outbox row's JSON payload with:

| header | value |
|---|---|
| X-M360-Signature-256 | ``sha256=`` + hex HMAC-SHA256 of the raw body with M360_ALERT_WEBHOOK_SECRET |
| X-M360-Event | ``alert.created`` or ``alerts.digest`` |
| X-M360-Delivery | the outbox id: the same on every retry, so a receiver can drop duplicates |

2xx is delivered; 429 waits for Retry-After; 5xx and network errors back off; other 4xx fail for
good (the receiver refuses it: retrying would not help). ``verify`` is what a receiver runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Container
from datetime import datetime

import httpx

from bot.outbox.sending import Outgoing, SendError
from surveys import settings

SIGNATURE_HEADER = "X-M360-Signature-256"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """A receiver's check: constant-time comparison of the header with the body's HMAC."""
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)


def body_of(message: Outgoing) -> bytes:
    return json.dumps(dict(message.payload), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class WebhookProvider:
    max_per_second = 10.0
    per_chat_interval = 0.0
    reconciles = False  # at least once: receivers drop repeats by X-M360-Delivery

    def __init__(self, secret: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        if not secret:
            raise ValueError("an outgoing webhook needs a signing secret (M360_ALERT_WEBHOOK_SECRET)")
        self.secret = secret
        self.client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    @classmethod
    def from_env(cls) -> WebhookProvider | None:
        found = settings.current()
        if not found.alert_webhook_url:
            return None
        return cls(found.alert_webhook_secret)

    def send(self, message: Outgoing) -> str | None:
        body = body_of(message)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(self.secret, body),
            "X-M360-Event": str(message.payload.get("event", "alert.created")),
            "X-M360-Delivery": str(message.id),
            "User-Agent": "monitoreo360-webhook/1",
        }
        try:
            response = self.client.post(message.address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(f"webhook: {type(exc).__name__}: {exc}", maybe_sent=True) from exc
        if response.is_success:
            return f"webhook-{message.id}"
        if response.status_code == 429:
            raise SendError("webhook 429", retry_after=_seconds(response.headers.get("Retry-After")))
        if response.status_code >= 500:
            raise SendError(f"webhook {response.status_code}", maybe_sent=True)
        raise SendError(f"webhook {response.status_code}: {response.text[:200]}", permanent=True)

    def reconcile(self, message: Outgoing, since: datetime, known: Container[str] = ()) -> str | None:
        return None  # resent after a crash mid-send: receivers drop it by X-M360-Delivery


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
