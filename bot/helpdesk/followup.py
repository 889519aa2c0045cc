"""Periodic follow-up with the requester of an open ticket (the CONPES 4091 implementation methodology,
Actividad 4: follow up "con cierta periodicidad … y hágales saber el estado de avance de cada actividad").

Every ``followup.every_business_days`` business days without news on a ticket (no change by the DER,
no earlier follow-up), its requester gets its status, due date and enlace, with a button that
shows the detail ("estado MDA-…"); at most ``followup.max`` times (bot/helpdesk/terms.yaml). Only in office
hours, only to requesters who asked through the chat and can still be written to, and never in the
middle of a conversation (the round after will try again). Each follow-up is an event of the ticket
by ``sistema``; it does not count as the DER's answer in the mesa de ayuda's report.

``FollowUps`` runs a round every 15 minutes in ``m360 serve`` and ``m360 worker`` (Celery: the
``m360.follow_up`` task); ``m360 tickets followup`` runs one round from cron.

WhatsApp outside the 24-hour window needs an approved template: ``M360_TICKET_FOLLOWUP_CONTENT_SID``
(variables 1 = ticket code, 2 = status, 3 = due date).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from bot.channels import templates
from bot.conversation import ConversationState, available
from bot.directory import staff
from bot.helpdesk import deadlines, terms, ticketing
from bot.helpdesk.themes import theme_labels
from bot.outbox import sending
from bot.runtime.periodic import Periodic
from bot.waves import campaign
from surveys import db, formats
from surveys.models import utcnow
from surveys.texts import texts

KIND = "followup"
log = logging.getLogger(__name__)


def send_due(conn: Connection, now: datetime, hours: campaign.OfficeHours | None = None) -> int:
    """Queue the follow-ups that are due; returns how many."""
    config = terms.load()
    if config.followup_days <= 0 or not (hours or campaign.OfficeHours.from_env()).open(now):
        return 0
    today = deadlines.local_today(now)
    requests, contacts = ticketing.REQUESTS, ticketing.CONTACTS
    due = conn.execute(
        select(requests, contacts.c.channel.label("contact_channel"), contacts.c.address, contacts.c.state,
               contacts.c.consent, contacts.c.opted_out, contacts.c.forgotten_at)
        .join(contacts, contacts.c.id == requests.c.contact_id)
        .where(requests.c.status.in_(ticketing.OPEN), requests.c.on_hold.is_(False),
               requests.c.followups < config.followup_max, contacts.c.channel.in_(campaign.REACHABLE))
        .order_by(requests.c.id).with_for_update(of=requests)).all()
    sent = 0
    for ticket in due:
        try:
            with conn.begin_nested():  # one ticket that cannot be followed up must not hold back the others
                sent += _follow_up(conn, ticket, today, config.followup_days, now)
        except Exception:
            log.exception("follow-up of ticket %s failed", ticket.code)
    return sent


def _follow_up(conn: Connection, ticket: Any, today: date, every: int, now: datetime) -> int:
    """Queue one ticket's follow-up if it is due; 1 when queued."""
    t = texts()
    quiet_since = max(m for m in (ticket.updated_at, ticket.last_followup_at, ticket.created_at) if m)
    if deadlines.business_days_between(deadlines.local_today(quiet_since), today) < every:
        return 0
    if not ticket.consent or ticket.opted_out or ticket.forgotten_at is not None:
        return 0
    if not available(ConversationState.from_json(ticket.state)):
        return 0  # in the middle of something: the next round tries again
    status = t(f"ticket_status.{ticket.status}")
    day = formats.day(ticket.due_date) if ticket.due_date else "-"
    enlace = staff.enlace_for(conn, ticket.entity_code)
    text = t("ticket_followup", code=ticket.code, themes=theme_labels(ticket.themes), status=status, due=day,
             enlace=t("ticket_followup_enlace", name=enlace.name) if enlace is not None else "")
    payload = templates.payload("ticket_followup", {"1": ticket.code, "2": status, "3": day}) \
        if ticket.contact_channel == templates.WHATSAPP else None
    queued = sending.enqueue(conn, channel=ticket.contact_channel, address=ticket.address,
                            contact_id=ticket.contact_id, kind=KIND, text=text, payload=payload,
                            options=((t("ticket_followup_button"), f"estado {ticket.code}"),),
                            dedupe_key=f"followup:{ticket.code}:{ticket.followups + 1}", now=now)
    conn.execute(update(ticketing.REQUESTS).where(ticketing.REQUESTS.c.id == ticket.id).values(
        followups=ticket.followups + 1, last_followup_at=now))
    if queued is not None:
        conn.execute(ticketing.EVENTS.insert(), dict(
            request_id=ticket.id, from_status=ticket.status, to_status=ticket.status, actor=ticketing.SYSTEM,
            note=f"seguimiento {ticket.followups + 1} enviado al solicitante", created_at=now))
        return 1
    return 0


class FollowUps(Periodic):
    """``send_due`` every ``interval`` seconds in a thread (``m360 serve``, ``m360 worker``)."""

    name = "m360-followups"

    def __init__(self, engine: Engine, interval: float = 900.0, on_queued: Callable[[], None] | None = None,
                 clock: Callable[[], datetime] = utcnow):
        super().__init__(interval)
        self.engine, self.on_queued, self.clock = engine, on_queued, clock

    def run_once(self) -> int:
        with db.transaction(self.engine) as conn:
            sent = send_due(conn, self.clock())
        if sent and self.on_queued is not None:
            self.on_queued()
        return sent
