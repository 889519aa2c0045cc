"""The one sending service for messages the bot starts (invitations, reminders, ticket updates,
alerts) and for replies that cannot ride on a webhook response.

- ``enqueue`` writes a row in the caller's transaction, *before* anything is sent: what caused the
  message and the message itself commit together or not at all. A text longer than its channel
  allows becomes several rows (bot.channels.text: split after formatting, at a paragraph or
  sentence), each due only once the one before it is done, so the pieces arrive in order.
- ``Sender.run_once`` claims due rows one by one with a compare-and-set lease (several senders can
  run), delivers each through its channel's ``Provider`` and records the outcome.
- **In doubt.** A send that may have reached the provider — the sender died holding the lease, or
  the request failed in a way that does not prove it was refused (a timeout, a dropped connection,
  a 5xx) — leaves the row *in doubt*. Before an in-doubt row is sent again, the provider is asked
  whether the message went out (``Provider.reconcile``); this holds on every later attempt too,
  until the provider answers. A provider that cannot be asked right now is asked again with
  backoff; past ``max_attempts`` the row goes to ``review``: a person decides (alert + panel), the
  sender never guesses. Providers with no way to ask (``reconciles = False``: Telegram, webhooks,
  the simulator) are resent: at least once.
- Retries: 429 waits for the provider's Retry-After; 5xx and network errors back off exponentially
  (with jitter). ``attempts`` counts every claim, on every path, and is bounded: after
  ``max_attempts`` the row is ``failed`` (surely not sent) or ``review`` (maybe sent). A provider's
  "unsubscribed"/"blocked" answer marks the contact opted out. Opted-out contacts get no proactive
  message (replies to their own messages still go).
- A message the provider refused for good is reported where someone will see it: a ticket
  notification that could not reach the requester raises an alert (``envio_fallido``), a row in
  ``review`` raises one too (``envio_revisar``), and both are listed on the panel (Envíos).
- Rate limits: a token bucket per provider (Telegram ~30/s overall, Twilio configurable) and a
  minimum interval per chat (Telegram 1/s).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.channels.templates import WHATSAPP_WINDOW, content_sid
from bot.channels.text import split_for
from bot.runtime.periodic import Periodic
from surveys import db, settings
from surveys.models import Contact, OutboxMessage, utcnow

log = logging.getLogger(__name__)

OUTBOX = OutboxMessage.__table__
PREVIOUS = OUTBOX.alias("previous")
CONTACTS = Contact.__table__
# Kinds the bot sends on its own: never to a contact who opted out (replies to their own messages still go).
PROACTIVE = frozenset({"message", "invitation", "reminder", "ticket", "alert", "results", "followup"})
TO_THE_DER = frozenset({"alert", "digest"})  # their failures are shown on the panel, never raised as alerts


class Status(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    REVIEW = "review"  # maybe sent, and the provider cannot tell: a person decides
    SKIPPED = "skipped"  # a later piece of a message a WhatsApp template replaced as a whole


# A row after one of these lets the next piece of its message go.
DONE = frozenset({Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED, Status.UNDELIVERED, Status.SKIPPED})
NOT_SENT = frozenset({Status.FAILED, Status.UNDELIVERED, Status.SKIPPED})
# Did not reach the person, and nothing more will be tried: listed for a person (panel «No entregados»,
# `m360 outbox review --failed`), who can send it again.
FAILED_FOR_GOOD = (Status.FAILED, Status.UNDELIVERED)


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
    kind: str = "message"


class SendError(Exception):
    """A send that did not succeed. ``maybe_sent``: the provider may have accepted it anyway (a
    timeout, a dropped connection, a 5xx), so it is reconciled before any resend. ``no_template``:
    outside WhatsApp's window with no template for the message's kind."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False,
                 opted_out: bool = False, maybe_sent: bool = False, no_template: bool = False):
        super().__init__(message)
        self.retry_after, self.permanent, self.opted_out = retry_after, permanent, opted_out
        self.maybe_sent, self.no_template = maybe_sent, no_template


class ReconcileError(Exception):
    """The provider could not be asked whether a message went out (its list call failed)."""


class Provider(Protocol):
    max_per_second: float  # overall rate limit
    per_chat_interval: float  # minimum seconds between two messages to one chat
    reconciles: bool  # whether ``reconcile`` can tell a sent message from an unsent one

    def send(self, message: Outgoing) -> str | None:
        """Deliver; returns the provider's id for the message. Raises SendError."""

    def reconcile(self, message: Outgoing, since: datetime, known: Container[str] = ()) -> str | None:
        """The provider id if this message was already accepted (after a send that may have gone
        out), else None. ``known``: ids recorded for other rows to this address (not this row's
        message). Raises ReconcileError when the provider cannot answer."""


# ------------------------------------------------------------------ enqueueing


def enqueue(conn: Connection, *, channel: str, address: str, text: str, kind: str = "message",
            options: tuple[tuple[str, str], ...] | list[list[str]] = (), contact_id: int | None = None,
            payload: Mapping[str, Any] | None = None, dedupe_key: str | None = None,
            now: datetime | None = None) -> int | None:
    """Queue a message in the caller's transaction. Returns its id (the first piece's, when the text
    is split), or None when ``dedupe_key`` was queued before (nothing is queued twice).

    A split message: the options and the ``prompt`` go with the last piece (the keyboard ends the
    message), a WhatsApp template with the first (outside the window it stands for the whole)."""
    now = now or utcnow()
    parts = split_for(channel, text) if text else [text]
    payload = dict(payload or {})
    prompt = payload.pop("prompt", None)
    first: int | None = None
    previous: int | None = None
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        extra = dict(payload) if i == 0 else {k: v for k, v in payload.items() if k not in TEMPLATE_KEYS}
        if last and prompt:
            extra["prompt"] = prompt
        row = dict(channel=channel, address=address, contact_id=contact_id, kind=kind, text=part,
                   options=[list(o) for o in options] or None if last else None, payload=extra or None,
                   status=Status.PENDING.value, attempts=0, next_attempt_at=now, created_at=now, updated_at=now,
                   dedupe_key=dedupe_key if i == 0 or dedupe_key is None else f"{dedupe_key}#{i}",
                   after_id=previous, in_doubt=False)
        previous = _insert(conn, row)
        if previous is None:  # queued before, all its pieces with it
            return None
        first = first if first is not None else previous
    return first


TEMPLATE_KEYS = frozenset({"template", "content_sid", "content_variables"})
_INSERT = OUTBOX.insert()


def _insert(conn: Connection, row: dict[str, Any]) -> int | None:
    statement = _insert_once(conn.dialect.name) if row["dedupe_key"] is not None else None
    if statement is not None:
        inserted = conn.execute(statement, row).scalar_one_or_none()  # RETURNING: nothing when skipped
        return int(inserted) if inserted is not None else None
    return int(conn.execute(_INSERT, row).inserted_primary_key[0])


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

    def take(self, address: str | None, sleep: Callable[[float], None]) -> None:
        """One token (waiting for it); ``address``: the chat the message goes to, if it counts there."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            sleep((1 - self.tokens) / self.rate)
            self.tokens, self.stamp = 1.0, self.clock()
        self.tokens -= 1
        if address is not None:
            self.last_by_chat[address] = self.clock()


Attention = Callable[[Connection, Any, str, datetime], None]
# With the default backoff (5 s doubling, capped at 10 min) 20 attempts span about two hours: a provider
# down for less (a network blip, a Telegram or Twilio incident) delays the DER's alerts, loses none.
MAX_ATTEMPTS = 20


class Sender:
    def __init__(self, engine: Engine, providers: Mapping[str, Provider], *, lease: timedelta | None = None,
                 max_attempts: int = MAX_ATTEMPTS, backoff_base: float = 5.0, backoff_cap: float = 600.0,
                 clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep,
                 on_attention: Attention | None = None):
        """``on_attention(conn, row, status, now)``: called in the transaction that leaves a row
        ``failed`` or ``review``, to tell a person (default: bot.alerts.alerting raises the alert)."""
        self.engine = engine
        self.providers = providers
        # How long a claimed row is the claimer's: a sender killed mid-send delays the row this long.
        self.lease = lease or settings.current().outbox_lease
        self.max_attempts = max_attempts
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.clock, self.sleep = clock, sleep
        self.on_attention = on_attention or tell_a_person
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
                try:
                    self._deliver(*claimed)
                except Exception:  # a bug or a database hiccup: the lease expires and the row is reconciled
                    log.exception("outbox %s: delivery failed unexpectedly", row_id)
                handled += 1
        return handled

    @staticmethod
    def _due_condition(now: datetime) -> Any:
        due = or_(and_(OUTBOX.c.status == Status.PENDING, OUTBOX.c.next_attempt_at <= now),
                  and_(OUTBOX.c.status == Status.SENDING, OUTBOX.c.locked_until < now))
        # The next piece of a message waits for the one before it.
        return and_(due, or_(OUTBOX.c.after_id.is_(None), PREVIOUS.c.status.in_([s.value for s in DONE])))

    def _due(self, limit: int) -> list[int]:
        query = (
            select(OUTBOX.c.id)
            .select_from(OUTBOX.outerjoin(PREVIOUS, PREVIOUS.c.id == OUTBOX.c.after_id))
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
                select(OUTBOX, CONTACTS.c.opted_out, CONTACTS.c.last_inbound_at,
                       PREVIOUS.c.status.label("previous_status"))
                .select_from(OUTBOX.outerjoin(CONTACTS, CONTACTS.c.id == OUTBOX.c.contact_id)
                             .outerjoin(PREVIOUS, PREVIOUS.c.id == OUTBOX.c.after_id))
                .where(OUTBOX.c.id == row_id, self._due_condition(now))
                .with_for_update(of=OUTBOX)
            ).one_or_none()
            if row is None:
                return None
            if row.attempts >= self.max_attempts:  # used up (a sender kept dying on it): no further try
                in_doubt = bool(row.in_doubt) or row.status == Status.SENDING
                if in_doubt and self.providers[row.channel].reconciles:
                    self._record(conn, row, Status.REVIEW, now, error=f"{row.error or 'the sender kept stopping'}; "
                                 f"gave up after {row.attempts} attempt(s) without knowing whether it went out")
                else:
                    self._record(conn, row, Status.FAILED, now, error=f"gave up after {row.attempts} attempt(s)")
                return None
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(
                status=Status.SENDING, locked_until=now + self.lease, attempts=row.attempts + 1, updated_at=now))
        return row, row.status == Status.SENDING

    def _deliver(self, row: Any, lease_expired: bool) -> None:
        provider, limiter = self.providers[row.channel], self.limiters[row.channel]
        attempt = row.attempts + 1  # the claim counted this one
        in_doubt = bool(row.in_doubt) or lease_expired  # the last try may have reached the provider
        if row.opted_out and row.kind in PROACTIVE:
            return self._finish(row, Status.FAILED, error="opted_out")
        if row.previous_status in NOT_SENT:  # the message's earlier piece did not go: neither does this one
            status = Status.SKIPPED if row.previous_status == Status.SKIPPED else Status.FAILED
            return self._finish(row, status, error=f"an earlier piece of this message is {row.previous_status}")
        message = Outgoing(
            id=row.id, channel=row.channel, address=row.address, text=row.text,
            options=tuple((label, reply) for label, reply in row.options or ()), payload=row.payload or {},
            within_window=row.last_inbound_at is not None and self.clock() - row.last_inbound_at < WHATSAPP_WINDOW,
            kind=row.kind,
        )
        per_chat = row.kind != "callback"  # a button acknowledgement is not a message in the chat
        wait = limiter.chat_wait(row.address) if per_chat else 0.0
        if wait > 0:  # too soon for this chat: come back later, without counting an attempt
            return self._retry(row, wait, "per-chat rate limit", in_doubt=in_doubt, attempts=row.attempts)
        if in_doubt and provider.reconciles:
            try:
                provider_id = provider.reconcile(message, row.created_at, self._recorded_ids(row))
            except Exception as exc:  # ReconcileError, or anything the client library raised
                return self._cannot_tell(row, attempt, exc)
            if provider_id is not None:
                return self._finish(row, Status.SENT, provider_id=provider_id)
        limiter.take(row.address if per_chat else None, self.sleep)
        try:
            provider_id = provider.send(message)
        except SendError as exc:
            return self._failed_send(row, attempt, exc, provider, message)
        except Exception as exc:  # the client library's own errors: nothing proves the message was refused
            log.exception("outbox %s: unexpected error from the %s provider", row.id, row.channel)
            failure = SendError(f"{type(exc).__name__}: {exc}", maybe_sent=True)
            return self._failed_send(row, attempt, failure, provider, message)
        self._finish(row, Status.SENT, provider_id=provider_id)

    def _cannot_tell(self, row: Any, attempt: int, exc: Exception) -> None:
        reason = f"cannot tell whether it was sent: {type(exc).__name__}: {exc}"
        if attempt >= self.max_attempts:
            log.warning("outbox %s needs a person: %s", row.id, reason)
            return self._finish(row, Status.REVIEW, error=reason)
        return self._retry(row, self._backoff(attempt), reason, in_doubt=True)

    def _failed_send(self, row: Any, attempt: int, exc: SendError, provider: Provider, message: Outgoing) -> None:
        if exc.opted_out and row.contact_id is not None:
            self._opt_out(row.contact_id)
        if exc.no_template and row.after_id is not None:  # the first piece went as the template
            return self._finish(row, Status.SKIPPED, error="outside WhatsApp's 24-hour window: the template sent "
                                                           "with the first piece stands for the whole message")
        if exc.permanent or exc.opted_out:
            log.warning("outbox %s failed for good: %s", row.id, exc)
            return self._finish(row, Status.FAILED, error=str(exc))
        if attempt < self.max_attempts:
            delay = exc.retry_after if exc.retry_after is not None else self._backoff(attempt)
            return self._retry(row, delay, str(exc), in_doubt=exc.maybe_sent)
        log.warning("outbox %s: gave up after %s attempt(s): %s", row.id, attempt, exc)
        if exc.maybe_sent and provider.reconciles:  # the last try may have gone out: ask once more
            try:
                provider_id = provider.reconcile(message, row.created_at, self._recorded_ids(row))
            except Exception as reconcile_error:
                return self._finish(row, Status.REVIEW, error=f"{exc}; and cannot tell: {reconcile_error}")
            if provider_id is not None:
                return self._finish(row, Status.SENT, provider_id=provider_id)
        note = " (it may have gone out: this provider cannot be asked)" if exc.maybe_sent and not provider.reconciles \
            else ""
        return self._finish(row, Status.FAILED, error=f"{exc}{note}")

    def _recorded_ids(self, row: Any) -> set[str]:
        """Provider ids of the other rows to this address finished since this one was written, and
        the ids this row's own earlier, refused sends had (payload ``superseded``)."""
        with self.engine.connect() as conn:
            ids = set(conn.execute(select(OUTBOX.c.provider_id).where(
                OUTBOX.c.channel == row.channel, OUTBOX.c.address == row.address, OUTBOX.c.id != row.id,
                OUTBOX.c.provider_id.is_not(None), OUTBOX.c.updated_at >= row.created_at)).scalars())
        return ids | set((row.payload or {}).get("superseded") or ())

    def _backoff(self, attempts: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempts - 1))
        return delay * random.uniform(0.8, 1.2)  # jitter: retries of a burst do not come back together

    def _retry(self, row: Any, delay: float, error: str, *, in_doubt: bool, attempts: int | None = None) -> None:
        now = self.clock()
        values: dict[str, Any] = dict(status=Status.PENDING, next_attempt_at=now + timedelta(seconds=delay),
                                      locked_until=None, error=error, updated_at=now, in_doubt=in_doubt)
        if attempts is not None:
            values["attempts"] = attempts
        with db.transaction(self.engine) as conn:
            if conn.execute(update(OUTBOX).where(_claimed(row)).values(**values)).rowcount != 1:
                _overtaken(row, "retry")

    def _finish(self, row: Any, status: Status, *, provider_id: str | None = None, error: str | None = None) -> None:
        with db.transaction(self.engine) as conn:
            self._record(conn, row, status, self.clock(), provider_id=provider_id, error=error, claimed=True)

    def _record(self, conn: Connection, row: Any, status: Status, now: datetime, *, provider_id: str | None = None,
                error: str | None = None, claimed: bool = False) -> None:
        """The sender's outcome for a row. ``claimed``: written only if the row is still as this
        sender's claim left it (``sending``, this attempt) — see ``_claimed``."""
        values: dict[str, Any] = dict(status=status, locked_until=None, error=error, updated_at=now,
                                      in_doubt=status == Status.REVIEW)
        if provider_id is not None:
            values["provider_id"] = provider_id
        if status == Status.SENT:
            values["sent_at"] = now
        where = _claimed(row) if claimed else OUTBOX.c.id == row.id
        if conn.execute(update(OUTBOX).where(where).values(**values)).rowcount != 1:
            return _overtaken(row, status)
        interval = self.providers[row.channel].per_chat_interval
        if status == Status.SENT and interval > 0:
            # The next piece of this message: not before the chat's interval, whichever sender takes it.
            conn.execute(update(OUTBOX).where(OUTBOX.c.after_id == row.id, OUTBOX.c.status == Status.PENDING)
                         .values(next_attempt_at=now + timedelta(seconds=interval)))
        if status in (*FAILED_FOR_GOOD, Status.REVIEW):
            outcome = SimpleNamespace(**{**row._asdict(), "error": error})
            try:
                with conn.begin_nested():  # telling a person must never lose the outcome itself
                    self.on_attention(conn, outcome, status, now)
            except Exception:
                log.exception("outbox %s: could not raise the alert for a person", row.id)

    def _opt_out(self, contact_id: int) -> None:
        with db.transaction(self.engine) as conn:
            opt_out(conn, contact_id, self.clock())


def _claimed(row: Any) -> Any:
    """The row as this sender's claim left it: ``sending``, at the attempt the claim counted.

    The sender writes its outcome only then. Meanwhile the provider may have reported on the message
    (a status callback can arrive before the sender's own commit), a person may have decided, or —
    after the lease expired — another sender may have claimed it; each of those is newer than what
    this sender knows, so its write must not undo them. Pair by pair, where the row stands when the
    sender finishes → what happens to the sender's sent / failed / review / retry:

    - ``sending`` (this claim) → written: nobody else has spoken.
    - ``sent``/``delivered``/``read`` (reported) → kept: the provider has the message; no resend.
    - ``failed``/``undelivered`` (reported) → kept: the provider could not deliver it, and says so
      with its own error code (the report raised the alert and, for 63016, queued the template).
    - ``pending`` (a 63016 report queued the template) → kept: the template still goes.
    - ``sending`` under a later claim (this lease expired) → kept: that claim decides."""
    return and_(OUTBOX.c.id == row.id, OUTBOX.c.status == Status.SENDING, OUTBOX.c.attempts == row.attempts + 1)


def _overtaken(row: Any, outcome: str) -> None:
    log.info("outbox %s: its status changed while it was being sent (a delivery report, a person, another "
             "sender); this sender's %s is not recorded", row.id, outcome)


def tell_a_person(conn: Connection, row: Any, status: str, now: datetime) -> None:
    """The default ``on_attention``, also called for a failure the provider reports later: an alert
    for the DER (bot.alerts.alerting) for a row that needs a person to decide (``review``) or a ticket
    notification that could not reach the requester (``failed``/``undelivered``, whatever the cause:
    no template, a number WhatsApp cannot reach, the person opted out). Messages to the DER itself
    are only shown on the panel: an alert about them could fail the same way."""
    if row.kind in TO_THE_DER or (status in FAILED_FOR_GOOD and row.kind != "ticket"):
        return
    from bot.alerts.alerting import Alerts  # alerts queue through this module: imported when first needed

    Alerts().delivery_problem(conn, row, status, now)


def opt_out(conn: Connection, contact_id: int, now: datetime) -> None:
    """The provider says the contact unsubscribed or blocked the bot (Twilio 21610, Telegram 403)."""
    conn.execute(update(CONTACTS).where(CONTACTS.c.id == contact_id).values(opted_out=True, opted_out_at=now))


def mark_unreachable(engine: Engine, channel: str, address: str, now: datetime) -> None:
    """The person blocked the bot (Telegram ``my_chat_member`` → kicked): no proactive message goes
    to them until they write again. A chat the bot never spoke with stays unknown (nothing stored)."""
    with db.transaction(engine) as conn:
        conn.execute(update(CONTACTS).where(CONTACTS.c.channel == channel, CONTACTS.c.address == address,
                                            CONTACTS.c.opted_out.is_(False))
                     .values(opted_out=True, opted_out_at=now))


# ------------------------------------------------------------------ a person's decision, and templates


def resolve(conn: Connection, row_id: int, decision: str, *, actor: str, now: datetime) -> Any:
    """A person's decision on a row in ``review`` (or one that failed for good): ``sent`` (it did
    arrive), ``resend`` (it did not: send it again, from scratch) or ``drop`` (leave it failed).
    Returns the row, or None when there is no such row in a state that allows it. A resend is a new
    send: reports about the earlier one no longer move the row (its id becomes ``superseded``)."""
    allowed = {"sent": (Status.REVIEW,), "resend": (Status.REVIEW, *FAILED_FOR_GOOD), "drop": (Status.REVIEW,)}
    if decision not in allowed:
        raise ValueError(f"unknown decision {decision!r}: use sent, resend or drop")
    row = conn.execute(select(OUTBOX).where(OUTBOX.c.id == row_id,
                                            OUTBOX.c.status.in_([s.value for s in allowed[decision]]))
                       .with_for_update()).one_or_none()
    if row is None:
        return None
    note = f"{decision} by {actor} at {now:%Y-%m-%d %H:%M} UTC"
    values: dict[str, Any] = {
        "sent": dict(status=Status.SENT, sent_at=now, error=note),
        "resend": dict(status=Status.PENDING, attempts=0, next_attempt_at=now, error=note,
                       **_superseding(row.payload, row.provider_id)),
        "drop": dict(status=Status.FAILED, error=note),
    }[decision]
    conn.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(
        in_doubt=False, locked_until=None, updated_at=now, **values))
    return conn.execute(select(OUTBOX).where(OUTBOX.c.id == row_id)).one()


def _superseding(payload: Mapping[str, Any] | None, provider_id: str | None, **more: Any) -> dict[str, Any]:
    """Column values that start a new send of a row: the earlier send's provider id is kept in
    ``payload.superseded`` (reports about it are ignored; reconcile never mistakes it for this one)."""
    payload = {**(payload or {}), **more}
    if provider_id:
        payload["superseded"] = [*payload.get("superseded", ()), provider_id]
    return {"payload": payload, "provider_id": None}


def retry_as_template(conn: Connection, row: Any, *, now: datetime) -> bool:
    """Twilio refused a free-text WhatsApp message as outside the 24-hour window (63016, reported
    after it was accepted): queue it once more, as its template. False when it cannot be (no
    template for its kind, or it was already retried): the row stays failed and a person is told."""
    payload = dict(row.payload or {})
    if payload.get("force_template") or not (payload.get("content_sid") or content_sid(payload.get("template"))):
        refused = SimpleNamespace(**{**_fields(row), "error": f"{row.error}: outside the 24-hour window and "
                                                             "no template to send instead"})
        tell_a_person(conn, refused, row.status, now)
        return False
    conn.execute(update(OUTBOX).where(OUTBOX.c.id == row.id).values(
        status=Status.PENDING, next_attempt_at=now, locked_until=None, in_doubt=False,
        error="63016: outside the 24-hour window; sending the template", updated_at=now,
        **_superseding(payload, row.provider_id, force_template=True)))
    return True


# ------------------------------------------------------------------ delivery status (provider callbacks)

# What a provider's report can say, as an outbox status ("queued": the provider has it).
REPORTED = {"accepted": Status.SENT, "queued": Status.SENT, "sending": Status.SENT, "sent": Status.SENT,
            "delivered": Status.DELIVERED, "read": Status.READ, "failed": Status.FAILED,
            "undelivered": Status.UNDELIVERED}
# A report moves a row forward only (callbacks arrive out of order). A failure overrides "sent" (the
# provider took it, then could not deliver it) but not "delivered"/"read", which override a failure
# (proof it arrived). A ``skipped`` row is never sent, so no report concerns it.
_REPORT_RANK = {Status.PENDING: 0, Status.SENDING: 1, Status.REVIEW: 1, Status.SENT: 2, Status.FAILED: 3,
                Status.UNDELIVERED: 3, Status.DELIVERED: 4, Status.READ: 5}
_REPORT_COLUMNS = (OUTBOX.c.id, OUTBOX.c.status, OUTBOX.c.provider_id, OUTBOX.c.contact_id, OUTBOX.c.kind,
                   OUTBOX.c.channel, OUTBOX.c.payload, OUTBOX.c.text)
_UPDATE_STATUS = update(OUTBOX).where(OUTBOX.c.id == bindparam("b_id"))


def record_status(conn: Connection, *, provider_id: str, status: str, error: str | None = None,
                  outbox_id: int | None = None, now: datetime | None = None) -> Any:
    """A provider's delivery report (queued/sent/delivered/read/failed/undelivered) about the
    message ``provider_id`` of row ``outbox_id`` (or, without it, the row that recorded that id).

    Returns the row as the report left it (``moved``: whether the report changed its status), or
    None when the report is about no send the outbox stands by: an unknown message, or one the row
    *superseded* (the free text a 63016 refusal replaced with the template, a send a person chose
    to repeat), or any other id than the one it recorded. A status that does not move the row
    forward is not written. A report for a row that has no provider id yet (the sender has not
    recorded its send; a send in doubt; a row in ``review``) is the provider's first word on it: it
    is taken, and settles the row."""
    now = now or utcnow()
    reported = REPORTED.get(status)
    if reported is None:  # scheduled, canceled, receiving…: nothing the outbox tracks
        return None
    where = OUTBOX.c.id == outbox_id if outbox_id is not None else OUTBOX.c.provider_id == provider_id
    # Locked: two reports about one row (Twilio sends them in parallel) apply one after the other.
    row = conn.execute(select(*_REPORT_COLUMNS).where(where).with_for_update()).first()
    if row is None or provider_id in ((row.payload or {}).get("superseded") or ()):
        return None
    if row.provider_id is not None and row.provider_id != provider_id:
        return None
    current = _REPORT_RANK.get(Status(row.status))
    if current is None or (row.provider_id is not None and _REPORT_RANK[reported] <= current):
        return SimpleNamespace(**_fields(row), moved=False)
    conn.execute(_UPDATE_STATUS, {"b_id": row.id, "status": reported, "provider_id": provider_id,
                                  "error": error, "updated_at": now, "in_doubt": False, "locked_until": None})
    return SimpleNamespace(**{**_fields(row), "status": reported, "provider_id": provider_id, "error": error,
                              "moved": True})


def _fields(row: Any) -> dict[str, Any]:
    return dict(row._asdict()) if hasattr(row, "_asdict") else dict(vars(row))


# ------------------------------------------------------------------ the in-process worker


class OutboxWorker(Periodic):
    """Runs a Sender in a background thread (the embedded default; production uses Celery): every
    ``interval`` seconds, and at once on ``notify()``, so replies queued by a webhook leave without
    waiting."""

    name = "m360-outbox"

    def __init__(self, sender: Sender, interval: float = 1.0, wake: Callable[[], None] | None = None):
        """``wake``: what ``notify`` does instead of waking this thread (production web workers, whose
        outbox is sent elsewhere: bot.runtime.tasks.Kick enqueues the Celery task)."""
        super().__init__(interval)
        self.sender, self.wake = sender, wake

    def run_once(self) -> int:
        """Send until nothing is due."""
        sent = 0
        while (n := self.sender.run_once()):
            sent += n
        return sent

    def notify(self) -> None:
        if self.wake is not None:
            self.wake()
        else:
            super().notify()
