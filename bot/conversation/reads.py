"""The conversation's read port: what it may look up during a turn besides the state and the contact.

The host (``bot.service``) binds one to each turn's transaction and contact; the conversation reads
through it and renders the replies itself. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class TicketView:
    """A help-desk ticket as its requester may see it."""

    code: str
    themes: tuple[str, ...]
    status: str  # bot.helpdesk.ticketing.TicketStatus
    created_at: datetime
    due_date: str | None  # ISO date; None while on hold
    requested_by_date: str | None = None  # the requester's own date, if they gave one
    last_note: str | None = None  # the latest note the staff wrote (only with ``Reads.ticket``)


class Reads(Protocol):
    def tickets(self) -> list[TicketView]:
        """The newest tickets the contact may see (their entity's)."""
        ...

    def ticket(self, code: str) -> TicketView | None:
        """Ticket ``code`` with its last note, None when unknown or not the contact's to see."""
        ...
