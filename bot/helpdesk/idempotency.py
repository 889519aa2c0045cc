"""A retried ticket creation never makes two tickets: the ``Idempotency-Key`` of the API's
``POST /api/v1/help-requests`` (as Stripe's, and the IETF draft "The Idempotency-Key HTTP Header
Field") and the one-time token of the panel's new-request form (docs/api.md, docs/panel.md).

The first request with a key takes it — a row unique per (caller, key), written in the request's
own transaction before its ticket — with a fingerprint of its body; once the ticket is written the
row names it, and both commit together (a request refused for a bad field leaves no key behind).
A retry with the same key and the same body is answered with that ticket and writes nothing (no
second alert, no second notification); with another body it is refused (``KeyReused``). Two
requests with one key at once: the second's INSERT waits on the unique index until the first
commits, then fails, and ``create_once`` runs it again, now as a replay. A key lasts ``KEY_TTL``
by the caller's clock (the app's ``M360_CLOCK``); after that it may make a new ticket.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.helpdesk.ticketing import REQUESTS
from surveys import db
from surveys.models import TicketIdempotencyKey

KEYS = TicketIdempotencyKey.__table__
#: How long a key is remembered (the draft leaves it to the server; Stripe keeps them 24 hours).
KEY_TTL = timedelta(hours=24)
#: The longest key taken (the column's size); a UUID is 36 characters.
MAX_KEY = 255
#: What a key may be: visible ASCII and spaces, not starting with a space (openapi.yaml says the same).
_KEY = re.compile(fr"[\x21-\x7e][\x20-\x7e]{{0,{MAX_KEY - 1}}}")


def valid_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


class KeyReused(ValueError):
    """The key was already used by this caller for another request (a different body)."""

    def __init__(self, key: str, code: str | None):
        super().__init__(f"Idempotency-Key {key!r} was already used with a different request body "
                         f"(it created {code}); send a new key for a new request")
        self.code = code


@dataclass(frozen=True)
class Key:
    """Who sent a key, the key, and the fingerprint of what they sent with it."""

    caller: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Outcome:
    ticket_id: int
    replayed: bool  # True: an earlier request with the key made the ticket; nothing was written now
    created: Any = None  # what ``create`` returned (None on a replay)


def fingerprint(body: Any) -> str:
    """SHA-256 of a request body as read (JSON, keys sorted): the same fields in another order are the same."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def claim(conn: Connection, key: Key, now: datetime) -> int | None:
    """The ticket an earlier request with this key made, or None after taking the key for this one
    (``settle`` then names its ticket). Raises KeyReused for the same key with another body."""
    conn.execute(delete(KEYS).where(KEYS.c.created_at <= now - KEY_TTL))  # expired keys go first
    found = conn.execute(select(KEYS.c.fingerprint, KEYS.c.request_id, REQUESTS.c.code)
                         .join(REQUESTS, REQUESTS.c.id == KEYS.c.request_id, isouter=True)
                         .where(KEYS.c.caller == key.caller, KEYS.c.key == key.key)).one_or_none()
    if found is not None:
        if found.fingerprint != key.fingerprint:
            raise KeyReused(key.key, found.code)
        return int(found.request_id)
    # Unique (caller, key): a concurrent request with this key waits here, then fails (create_once retries it).
    conn.execute(KEYS.insert(), dict(caller=key.caller, key=key.key, fingerprint=key.fingerprint, created_at=now))
    return None


def settle(conn: Connection, key: Key, ticket_id: int) -> None:
    conn.execute(update(KEYS).where(KEYS.c.caller == key.caller, KEYS.c.key == key.key).values(request_id=ticket_id))


def create_once(engine: Engine, key: Key | None, now: datetime,
                create: Callable[[Connection], Any]) -> Outcome:
    """Run ``create`` (which writes a ticket and returns something with its ``id``) in one
    transaction, unless ``key`` already made a ticket: then that ticket, replayed."""
    for attempt in (1, 2):
        try:
            with db.transaction(engine) as conn:
                earlier = claim(conn, key, now) if key is not None else None
                if earlier is not None:
                    return Outcome(earlier, replayed=True)
                created = create(conn)
                if key is not None:
                    settle(conn, key, created.id)
                return Outcome(created.id, replayed=False, created=created)
        except IntegrityError:
            if key is None or attempt == 2:
                raise
    raise AssertionError("unreachable")
