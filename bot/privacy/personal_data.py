"""Personal data (Ley 1581 de 2012): what the product keeps about a person and how it lets it go.

Personal data here is a contact's number or chat id, name, cargo, conversation state and the text of
their messages. What an entity answered (interviews, answers, tickets) is the entity's and is kept,
anonymised: after :func:`forget` it is linked only to a contact row that says nothing about anyone,
and the phone numbers, e-mail addresses and name the person wrote into it are replaced by markers
(bot.privacy.redaction) — in their answers, their tickets and the DER's notes on them, the alerts those
raised and the copies of those alerts sent to the DER.

- :func:`forget` — a person's "BORRAR MIS DATOS" in the chat, ``m360 contacts forget``, and the
  retention sweep all end here, in the caller's transaction.
- :func:`purge_expired` — contacts silent for longer than ``M360_RETENTION_DAYS`` (default 730; 0 turns
  the sweep off) are forgotten; ``m360 contacts purge`` and the background jobs run it.
- :func:`mask_address` — numbers as the analyst role and exports show them (``+57 300 ••• ••67``).
- :func:`record_consent` — every consent given or declined is appended to ``consent_record`` with
  the notice's version and text (``contact`` keeps the latest); ``m360 contacts consents`` shows them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, or_, select, update

from analysis.coding import storage as coding_storage
from bot.privacy import redaction
from bot.runtime.periodic import Periodic
from surveys import db, settings
from surveys.models import (
    Alert,
    Answer,
    AnswerCoding,
    ConsentRecord,
    Contact,
    Interview,
    MessageLog,
    OutboxMessage,
    Ticket,
    TicketEvent,
    utcnow,
)

log = logging.getLogger(__name__)
CONTACTS = Contact.__table__
MESSAGES = MessageLog.__table__
OUTBOX = OutboxMessage.__table__
CONSENTS = ConsentRecord.__table__
INTERVIEWS, ANSWERS, CODINGS = Interview.__table__, Answer.__table__, AnswerCoding.__table__
REQUESTS, EVENTS, ALERTS = Ticket.__table__, TicketEvent.__table__, Alert.__table__
ERASED = "borrado"  # what stands in for an address, a name or a message text once forgotten


@dataclass
class Forgotten:
    contact_id: int
    messages: int  # message log rows deleted
    outbox: int  # outbox rows cancelled or blanked
    redacted: int = 0  # rows of what they wrote (answers, tickets, notes, alerts) with identifiers replaced


def record_consent(conn: Connection, contact_id: int, *, given: bool, version: str | None, text: str | None,
                   source: str, now: datetime) -> None:
    """Append a consent (or its refusal) to the contact's history, in the caller's transaction."""
    conn.execute(CONSENTS.insert(), dict(contact_id=contact_id, given=given, version=version, text=text,
                                         source=source[:60], created_at=now))  # one statement, its values bound


def consents(conn: Connection, contact_id: int) -> list[Any]:
    """A contact's consent history, oldest first."""
    return list(conn.execute(select(CONSENTS).where(CONSENTS.c.contact_id == contact_id)
                             .order_by(CONSENTS.c.created_at, CONSENTS.c.id)))


def erased_address(contact_id: int) -> str:
    """Unique per contact (the (channel, address) key stays unique); never a real address."""
    return f"{ERASED}:{contact_id}"


def forget(conn: Connection, contact_id: int, now: datetime | None = None) -> Forgotten:
    """Remove a contact's personal data; keep what they answered for their entity, anonymised.

    The contact row stays (interviews and tickets point at it) without number, name, cargo, state or
    consent text; it is opted out, so nothing is ever sent to it. Its message log goes (a chat turn
    that forgets logs its own message afterwards, so a redelivery of it is still recognised). Pending
    outbox rows are cancelled; every outbox row loses its address and text. The consent's version
    and date stay: they record on what basis data was processed."""
    now = now or utcnow()
    redacted = redact_writings(conn, contact_id)  # first: it reads the person's name, number and messages
    conn.execute(update(CONTACTS).where(CONTACTS.c.id == contact_id).values(
        address=erased_address(contact_id), name=None, cargo=None, consent_text=None, state={},
        opted_out=True, opted_out_at=now, forgotten_at=now))
    messages = conn.execute(delete(MESSAGES).where(MESSAGES.c.contact_id == contact_id)).rowcount or 0
    conn.execute(update(OUTBOX).where(OUTBOX.c.contact_id == contact_id, OUTBOX.c.status.in_(("pending", "sending")))
                 .values(status="failed", error="contact data erased", locked_until=None, updated_at=now))
    outbox = conn.execute(update(OUTBOX).where(OUTBOX.c.contact_id == contact_id)
                          .values(address=ERASED, text=ERASED, options=None, payload=None)).rowcount or 0
    log.info("contact %s: personal data erased (%s messages, %s outbox rows, %s texts redacted)", contact_id,
             messages, outbox, redacted)
    return Forgotten(contact_id, messages, outbox, redacted)


def redact_writings(conn: Connection, contact_id: int) -> int:
    """Replace the person's phone numbers, e-mail addresses and name in everything they wrote that
    the entity keeps, and in its copies; the rest of each text stays. Returns how many rows changed."""
    contact = conn.execute(select(CONTACTS.c.name, CONTACTS.c.address).where(CONTACTS.c.id == contact_id)).one()
    interviews = select(INTERVIEWS.c.id).where(INTERVIEWS.c.contact_id == contact_id).scalar_subquery()
    tickets = select(REQUESTS.c.id).where(REQUESTS.c.contact_id == contact_id).scalar_subquery()
    answers = conn.execute(select(ANSWERS.c.id, ANSWERS.c.raw_text, ANSWERS.c.value)
                           .where(ANSWERS.c.interview_id.in_(interviews))).all()
    requests = conn.execute(select(REQUESTS.c.id, REQUESTS.c.need, REQUESTS.c.requested_by_date)
                            .where(REQUESTS.c.contact_id == contact_id)).all()
    said = conn.execute(select(MESSAGES.c.text).where(MESSAGES.c.contact_id == contact_id,
                                                      MESSAGES.c.direction == "in")).scalars().all()
    written = [*said, *(a.raw_text for a in answers), *(a.value for a in answers if isinstance(a.value, str)),
               *(r.need for r in requests), *(r.requested_by_date for r in requests)]
    who = redaction.identifiers(written, name=contact.name,
                                address=None if contact.address.startswith(ERASED) else contact.address)
    changed = 0
    for answer in answers:
        raw, value = redaction.redact(answer.raw_text, who), redaction.redact_value(answer.value, who)
        if (raw, value) != (answer.raw_text, answer.value):
            conn.execute(update(ANSWERS).where(ANSWERS.c.id == answer.id).values(raw_text=raw, value=value))
            # The coding stands for the same answer: not coded afresh, a person's review is kept.
            conn.execute(update(CODINGS).where(CODINGS.c.answer_id == answer.id)
                         .values(text_hash=coding_storage.text_hash(coding_storage.answer_text(value, raw))))
            changed += 1
    for ticket in requests:
        need, by_date = redaction.redact(ticket.need, who), redaction.redact(ticket.requested_by_date, who)
        if (need, by_date) != (ticket.need, ticket.requested_by_date):
            conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(need=need,
                                                                                   requested_by_date=by_date))
            changed += 1
    for event in conn.execute(select(EVENTS.c.id, EVENTS.c.note).where(EVENTS.c.request_id.in_(tickets))).all():
        note = redaction.redact(event.note, who)
        if note != event.note:
            conn.execute(update(EVENTS).where(EVENTS.c.id == event.id).values(note=note))
            changed += 1
    raised = conn.execute(select(ALERTS.c.id, ALERTS.c.title, ALERTS.c.detail, ALERTS.c.data).where(
        or_(ALERTS.c.help_request_id.in_(tickets), ALERTS.c.interview_id.in_(interviews)))).all()
    for alert in raised:
        values = dict(title=redaction.redact(alert.title, who), detail=redaction.redact(alert.detail, who),
                      data=redaction.redact_value(alert.data, who))
        if values != dict(title=alert.title, detail=alert.detail, data=alert.data):
            conn.execute(update(ALERTS).where(ALERTS.c.id == alert.id).values(**values))
            changed += 1
        # The alert as it was sent to the DER (chat text, webhook payload) is a copy of the same words.
        for copy in conn.execute(select(OUTBOX.c.id, OUTBOX.c.text, OUTBOX.c.payload)
                                 .where(OUTBOX.c.dedupe_key.like(f"alert:{alert.id}:%"))).all():
            text, payload = redaction.redact(copy.text, who), redaction.redact_value(copy.payload, who)
            if (text, payload) != (copy.text, copy.payload):
                conn.execute(update(OUTBOX).where(OUTBOX.c.id == copy.id).values(text=text, payload=payload))
                changed += 1
    return changed


def retention_days() -> int:
    return settings.current().retention_days


def purge_expired(conn: Connection, now: datetime | None = None, days: int | None = None) -> list[int]:
    """Forget every contact silent for more than ``days`` (their last message, or when they were
    added if they never wrote). Returns the ids forgotten; nothing when ``days`` is 0."""
    now = now or utcnow()
    days = retention_days() if days is None else days
    if days <= 0:
        return []
    cutoff = now - timedelta(days=days)
    last_seen = func.coalesce(CONTACTS.c.last_inbound_at, CONTACTS.c.created_at)
    ids = list(conn.execute(select(CONTACTS.c.id).where(CONTACTS.c.forgotten_at.is_(None), last_seen < cutoff)
                            .order_by(CONTACTS.c.id)).scalars())
    for contact_id in ids:
        forget(conn, contact_id, now)
    return ids


def mask_address(address: str | None) -> str | None:
    """A number with all but its country code, first digits and last two hidden; chat ids likewise."""
    if not address or address.startswith(ERASED):
        return address
    prefix, _, bare = address.rpartition(":")  # "whatsapp:+57…" as Twilio writes it
    digits = bare.lstrip("+")
    if len(digits) <= 4:
        return "•" * len(bare)
    if bare.startswith("+57") and len(digits) == 12:  # Colombian mobile: +57 300 ••• ••67
        shown = f"+57 {digits[2:5]} ••• ••{digits[-2:]}"
    else:
        shown = ("+" if bare.startswith("+") else "") + digits[:2] + "•" * (len(digits) - 4) + digits[-2:]
    return f"{prefix}:{shown}" if prefix else shown


class RetentionSweeper(Periodic):
    """:func:`purge_expired` in the background (``m360 serve``'s thread, ``m360 worker``)."""

    name = "m360-retention"

    def __init__(self, engine: Engine, interval: float = 6 * 3600):
        super().__init__(interval)
        self.engine = engine

    def run_once(self) -> list[int]:
        with db.transaction(self.engine) as conn:
            return purge_expired(conn)
