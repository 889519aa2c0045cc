"""The one sending service for messages the bot starts (invitations, reminders, ticket updates,
alerts) and for replies that cannot ride on a webhook response.

- ``enqueue`` writes a row in the caller's transaction, *before* anything is sent: what caused the
  message and the message itself commit together or not at all.
- ``Sender.run_once`` claims due rows one by one with a compare-and-set lease (several senders can
  run), delivers each through its channel's ``Provider`` and records the outcome. A process killed
  before sending leaves the row pending; one killed while sending leaves a lease that expires, and
  the provider is asked whether the message went out (``Provider.reconcile``) before it is resent.
- Retries: 429 waits for the provider's Retry-After; 5xx and network errors back off exponentially
  (with jitter); after ``max_attempts`` the row is failed. A provider's "unsubscribed"/"blocked"
  answer marks the contact opted out. Opted-out contacts get no proactive message (replies to
  their own messages still go).
- Rate limits: a token bucket per provider (Telegram ~30/s overall, Twilio configurable) and a
  minimum interval per chat (Telegram 1/s).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from surveys import db
from surveys.models import Contact, OutboxMessage, utcnow

log = logging.getLogger(__name__)

OUTBOX = OutboxMessage.__table__
CONTACTS = Contact.__table__
WHATSAPP_WINDOW = timedelta(hours=24)  # free text only within 24 h of the contact's last message
# Kinds the bot sends on its own: never to a contact who opted out (replies to their own messages still go).
PROACTIVE = frozenset({"message", "invitation", "reminder", "ticket", "alert", "results", "followup"})


# ------------------------------------------------------------------ providers


@dataclass(frozen=True)
class Outgoing:
    """What a provider needs to deliver one outbox row."""

    id: int
    channel: str
    address: str
    text: str
    options: tuple[tuple[str, str], ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict)
    within_window: bool = True  # WhatsApp: inside the 24-hour customer-service window


class SendError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 opted_out: bool = False):
        super().__init__(message)
        self.retry_after, self.permanent, self.opted_out = retry_after, permanent, opted_out


class Provider(Protocol):
    max_per_second: float  # overall rate limit
    per_chat_interval: float  # minimum seconds between two messages to one chat

    def send(self, message: Outgoing) -> str | None:
        """Deliver; returns the provider's id for the message. Raises SendError."""

    def reconcile(self, message: Outgoing, since: datetime, known: Container[str] = ()) -> str | None:
        """The provider id if this message was already accepted (after a crash mid-send), else None.
        ``known``: ids already recorded for other rows to this address (not this row's message)."""


# ------------------------------------------------------------------ enqueueing


def enqueue(conn: Connection, *, channel: str, address: str, text: str, kind: str = "message",
            options: tuple[tuple[str, str], ...] | list[list[str]] = (), contact_id: int | None = None,
            payload: Mapping[str, Any] | None = None, dedupe_key: str | None = None,
            now: datetime | None = None) -> int | None:
    """Queue a message in the caller's transaction. Returns its id, or None when ``dedupe_key``
    was queued before (nothing is queued twice)."""
    now = now or utcnow()
    row = dict(channel=channel, address=address, contact_id=contact_id, kind=kind, text=text,
               options=[list(o) for o in options] or None, payload=dict(payload) if payload else None,
               status="pending", attempts=0, next_attempt_at=now, dedupe_key=dedupe_key, created_at=now,
               updated_at=now)
    statement = _insert_once(conn.dialect.name) if dedupe_key is not None else None
    if statement is not None:
        inserted = conn.execute(statement, row).scalar_one_or_none()  # RETURNING: nothing when skipped
        return int(inserted) if inserted is not None else None
    return int(conn.execute(_INSERT, row).inserted_primary_key[0])


_INSERT = OUTBOX.insert()


@cache
def _insert_once(dialect: str) -> Any:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING, built once per dialect: a wave queues
    thousands of rows, and building the statement cost more than running it."""
    insert_for = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}.get(dialect)
    return (insert_for(OUTBOX).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(OUTBOX.c.id)
            if insert_for else None)


# ------------------------------------------------------------------ sending


class RateLimiter:
    """Token bucket (overall) plus a minimum interval per chat, in this process."""

    def __init__(self, per_second: float, per_chat_interval: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.capacity = per_second, max(1.0, per_second)
        self.tokens, self.stamp = self.capacity, clock()
        self.per_chat = per_chat_interval
        self.last_by_chat: dict[str, float] = {}
        self.clock = clock

    def chat_wait(self, address: str) -> float:
        """Seconds until this chat may receive another message (0 when it may now)."""
        last = self.last_by_chat.get(address)
        return 0.0 if last is None else max(0.0, last + self.per_chat - self.clock())

    def take(self, address: str, sleep: Callable[[float], None]) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            sleep((1 - self.tokens) / self.rate)
            self.tokens, self.stamp = 1.0, self.clock()
        self.tokens -= 1
        self.last_by_chat[address] = self.clock()


class Sender:
    def __init__(self, engine: Engine, providers: Mapping[str, Provider], *, lease: timedelta | None = None,
                 max_attempts: int = 8, backoff_base: float = 5.0, backoff_cap: float = 600.0,
                 clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep):
        self.engine = engine
        self.providers = providers
        # How long a claimed row is the claimer's: a sender killed mid-send delays the row this long.
        self.lease = lease or timedelta(seconds=float(os.environ.get("M360_OUTBOX_LEASE_S", "60")))
        self.max_attempts = max_attempts
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.clock, self.sleep = clock, sleep
        # One limiter per provider: WhatsApp and SMS share Twilio's rate.
        shared: dict[int, RateLimiter] = {}
        seconds = lambda: self.clock().timestamp()  # noqa: E731 - the limiter runs on the sender's clock
        self.limiters = {
            channel: shared.setdefault(id(p), RateLimiter(p.max_per_second, p.per_chat_interval, seconds))
            for channel, p in providers.items()
        }

    def run_once(self, limit: int = 100) -> int:
        """Deliver what is due now; returns how many rows were handled (sent, retried or failed)."""
        handled = 0
        for row_id in self._due(limit):
            claimed = self._claim(row_id)
            if claimed is not None:
                self._deliver(*claimed)
                handled += 1
        return handled

    def _due_condition(self, now: datetime) -> Any:
        return or_(and_(OUTBOX.c.status == "pending", OUTBOX.c.next_attempt_at <= now),
                   and_(OUTBOX.c.status == "sending", OUTBOX.c.locked_until < now))

    def _due(self, limit: int) -> list[int]:
        query = (
            select(OUTBOX.c.id)
            .where(self._due_condition(self.clock()), OUTBOX.c.channel.in_(list(self.providers)))
            .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def _claim(self, row_id: int) -> tuple[Any, bool] | None:
        """Take the row with a lease if it is still due (another sender may have taken it).
        Returns it (as it was before the claim) and whether a previous lease had expired."""
        now = self.clock()
        with db.transaction(self.engine) as conn:
            row = conn.execute(
                select(OUTBOX, CONTACTS.c.opted_out, CONTACTS.c.last_inbound_at)
                .outerjoin(CONTACTS, CONTACTS.c.id == OUTBOX.c.contact_id)
                .where(OUTBOX.c.id == row_id, self._due_condition(now))
                .with_for_update(of=OUTBOX)
            ).one_or_none()
            if row is None:
                return None
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(
                status="sending", locked_until=now + self.lease, attempts=row.attempts + 1, updated_at=now))
        return row, row.status == "sending"

    def _deliver(self, row: Any, lease_expired: bool) -> None:
        provider, limiter = self.providers[row.channel], self.limiters[row.channel]
        attempt = row.attempts + 1
        if row.opted_out and row.kind in PROACTIVE:
            return self._finish(row.id, status="failed", error="opted_out")
        message = Outgoing(
            id=row.id, channel=row.channel, address=row.address, text=row.text,
            options=tuple((label, reply) for label, reply in row.options or ()), payload=row.payload or {},
            within_window=row.last_inbound_at is not None and self.clock() - row.last_inbound_at < WHATSAPP_WINDOW,
        )
        if lease_expired:
            # The sender holding it died: the message may have gone out just before. Ask first.
            provider_id = provider.reconcile(message, row.created_at, self._recorded_ids(row))
            if provider_id is not None:
                return self._finish(row.id, status="sent", provider_id=provider_id, sent=True)
        wait = limiter.chat_wait(row.address)
        if wait > 0:  # too soon for this chat: come back later, without counting an attempt
            return self._retry(row.id, wait, "per-chat rate limit", attempts=row.attempts)
        limiter.take(row.address, self.sleep)
        try:
            provider_id = provider.send(message)
        except SendError as exc:
            if exc.opted_out and row.contact_id is not None:
                self._opt_out(row.contact_id)
            if exc.permanent or exc.opted_out or attempt >= self.max_attempts:
                log.warning("outbox %s failed for good after %s attempt(s): %s", row.id, attempt, exc)
                return self._finish(row.id, status="failed", error=str(exc))
            delay = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
            return self._retry(row.id, delay, str(exc))
        self._finish(row.id, status="sent", provider_id=provider_id, sent=True)

    def _recorded_ids(self, row: Any) -> set[str]:
        """Provider ids of the other rows to this address finished since this one was written."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(OUTBOX.c.provider_id).where(
                OUTBOX.c.channel == row.channel, OUTBOX.c.address == row.address, OUTBOX.c.id != row.id,
                OUTBOX.c.provider_id.is_not(None), OUTBOX.c.updated_at >= row.created_at)).scalars())

    def _backoff(self, attempts: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempts - 1))
        return delay * random.uniform(0.8, 1.2)  # jitter: retries of a burst do not come back together

    def _retry(self, row_id: int, delay: float, error: str, attempts: int | None = None) -> None:
        now = self.clock()
        values: dict[str, Any] = dict(status="pending", next_attempt_at=now + timedelta(seconds=delay),
                                      locked_until=None, error=error, updated_at=now)
        if attempts is not None:
            values["attempts"] = attempts
        with db.transaction(self.engine) as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(**values))

    def _finish(self, row_id: int, *, status: str, provider_id: str | None = None, error: str | None = None,
                sent: bool = False) -> None:
        now = self.clock()
        values: dict[str, Any] = dict(status=status, locked_until=None, error=error, updated_at=now)
        if provider_id is not None:
            values["provider_id"] = provider_id
        if sent:
            values["sent_at"] = now
        with db.transaction(self.engine) as conn:
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(**values))

    def _opt_out(self, contact_id: int) -> None:
        with db.transaction(self.engine) as conn:
            opt_out(conn, contact_id, self.clock())


def opt_out(conn: Connection, contact_id: int, now: datetime) -> None:
    """The provider says the contact unsubscribed or blocked the bot (Twilio 21610, Telegram 403)."""
    conn.execute(update(CONTACTS).where(CONTACTS.c.id == contact_id).values(opted_out=True, opted_out_at=now))


# ------------------------------------------------------------------ delivery status (provider callbacks)

_STATUS_ORDER = {"pending": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5, "undelivered": 5}
_UPDATE_STATUS = update(OUTBOX).where(OUTBOX.c.id == bindparam("b_id"))


def record_status(conn: Connection, *, provider_id: str, status: str, error: str | None = None,
                  outbox_id: int | None = None, now: datetime | None = None) -> int | None:
    """A provider's delivery report (queued/sent/delivered/read/failed/undelivered). Statuses only
    move forward (callbacks can arrive out of order). Returns the outbox row's contact id."""
    now = now or utcnow()
    condition = OUTBOX.c.provider_id == provider_id
    if outbox_id is not None:
        condition = or_(condition, OUTBOX.c.id == outbox_id)
    row = conn.execute(select(OUTBOX.c.id, OUTBOX.c.status, OUTBOX.c.contact_id).where(condition)).first()
    if row is None:
        return None
    status = {"queued": "sent", "accepted": "sent", "sending": "sent"}.get(status, status)
    if _STATUS_ORDER.get(status, 0) > _STATUS_ORDER.get(row.status, 0):
        conn.execute(_UPDATE_STATUS, {"b_id": row.id, "status": status, "provider_id": provider_id,
                                      "error": error, "updated_at": now})
    return int(row.contact_id) if row.contact_id is not None else None


# ------------------------------------------------------------------ the in-process worker


class OutboxWorker:
    """Runs a Sender in a background thread (the embedded default; production uses Celery).
    ``notify()`` wakes it at once, so replies queued by a webhook leave without waiting."""

    def __init__(self, sender: Sender, interval: float = 1.0, wake: Callable[[], None] | None = None):
        """``wake``: what ``notify`` does instead of waking this thread (production web workers, whose
        outbox is sent elsewhere: bot.tasks.Kick enqueues the Celery task)."""
        self.sender, self.interval, self.wake = sender, interval, wake
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="m360-outbox", daemon=True)

    def start(self) -> OutboxWorker:
        self._thread.start()
        return self

    def notify(self) -> None:
        if self.wake is not None:
            self.wake()
        else:
            self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.sender.run_once():
                    pass
            except Exception:  # a bad row or a database hiccup must not kill the worker
                log.exception("outbox round failed")
            self._wake.wait(self.interval)
            self._wake.clear()
