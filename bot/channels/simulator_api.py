"""Delivery to the web chat simulator: a proactive message (a ticket update, an invitation) is
written to the message log, where the simulator page picks it up (it polls its history).

So the outbox works end to end on the embedded default, with no credentials."""

from __future__ import annotations

from collections.abc import Callable, Container
from datetime import datetime

from sqlalchemy import Engine, select

from bot.outbox.sending import Outgoing, SendError
from surveys import db
from surveys.models import Contact, MessageLog, utcnow

CONTACTS = Contact.__table__
MESSAGES = MessageLog.__table__


class SimulatorProvider:
    max_per_second = 1000.0
    per_chat_interval = 0.0
    reconciles = False

    def __init__(self, engine: Engine, clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.clock = clock  # the message's time in the simulator's history (ordered by it)

    def send(self, message: Outgoing) -> str | None:
        with db.transaction(self.engine) as conn:
            contact_id = conn.execute(select(CONTACTS.c.id).where(
                CONTACTS.c.channel == "simulator", CONTACTS.c.address == message.address)).scalar_one_or_none()
            if contact_id is None:
                raise SendError(f"no simulator session {message.address}", permanent=True)
            row_id = conn.execute(MESSAGES.insert(), dict(
                contact_id=contact_id, channel="simulator", direction="out", text=message.text,
                options=[list(o) for o in message.options] or None, created_at=self.clock())).inserted_primary_key[0]
        return f"sim-{row_id}"

    def reconcile(self, message: Outgoing, since: datetime, known: Container[str] = ()) -> str | None:
        return None  # a crash mid-send at worst shows the message twice in a demo
