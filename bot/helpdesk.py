"""Mesa de ayuda: help requests as tracked tickets (SPEC §5; seed 004 L97–212, L343–346).

Tickets are created from the chat intake (``solicitud`` questionnaire) or from an interview
whose 5.2 answer was "Sí". Each change of status is recorded (who, when, note) and told to the
requester through the outbox. Deadlines are business days on Colombian holidays (bot.deadlines);
routing names the theme's dirección técnica and the region's articulador (bot/themes.yaml).

Lifecycle: nueva → asignada → en_gestion → respondida → cerrada, or remitida (referred to the
pertinent entity) — see ``TRANSITIONS``. On closing, a requester who is not in the middle of
something is asked for a 1–5 rating (``rate`` stores it). A new ticket raises the DER's alert
(bot.alerts). All functions work on the caller's connection, so a ticket, what caused it, its
alert and its notifications commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update

from bot import deadlines, outbox
from bot.conversation import ConversationState, ask_rating, rating_options
from bot.themes import load_taxonomy
from surveys import store
from surveys.models import Contact, HelpRequest, HelpRequestEvent
from surveys.texts import texts

if TYPE_CHECKING:
    from bot.alerts import Alerts

REQUESTS = HelpRequest.__table__
EVENTS = HelpRequestEvent.__table__
_SET_CODE = update(REQUESTS).where(REQUESTS.c.id == bindparam("b_id"))  # built once: on a turn's path
CONTACTS = Contact.__table__

STATUSES = ("nueva", "asignada", "en_gestion", "respondida", "cerrada", "remitida")
OPEN = ("nueva", "asignada", "en_gestion")  # the DER still owes an answer: these can be overdue
TRANSITIONS: dict[str, frozenset[str]] = {
    "nueva": frozenset({"asignada", "en_gestion", "remitida", "cerrada"}),
    "asignada": frozenset({"en_gestion", "respondida", "remitida", "cerrada"}),
    "en_gestion": frozenset({"asignada", "respondida", "remitida"}),
    "respondida": frozenset({"en_gestion", "cerrada"}),  # reopened when the answer did not solve it
    "cerrada": frozenset(),
    "remitida": frozenset(),
}


class InvalidTransition(ValueError):
    pass


@dataclass(frozen=True)
class Created:
    id: int
    code: str
    due_date: str
    themes: tuple[str, ...]


def create(conn: Connection, *, entity_code: str | None, region: str | None, contact_id: int | None,
           channel: str | None, need: str, themes: list[str], now: datetime, support_type: str | None = None,
           phase: str | None = None, urgent: bool = False, requested_by_date: str | None = None,
           source: str = "chat", interview_id: int | None = None, actor: str = "chat",
           alerts: Alerts | None = None) -> Created:
    taxonomy = load_taxonomy()
    first = taxonomy.get(themes[0]) if themes else None
    if region is None:
        region = store.entity_region(conn, entity_code)
    due = deadlines.deadline_for(now).isoformat()
    request_id = int(conn.execute(REQUESTS.insert(), dict(
        entity_code=entity_code, contact_id=contact_id, channel=channel, source=source, interview_id=interview_id,
        need=need, themes=list(themes), support_type=support_type, phase=phase, urgent=urgent,
        requested_by_date=requested_by_date, status="nueva",
        direccion_tecnica=first.direccion_tecnica if first is not None else None,
        articulador=taxonomy.articulador(region) if region else None,
        due_date=due, created_at=now, updated_at=now,
    )).inserted_primary_key[0])
    code = f"MDA-{now.year}-{request_id:05d}"
    conn.execute(_SET_CODE, {"b_id": request_id, "code": code})
    conn.execute(EVENTS.insert(), dict(request_id=request_id, from_status=None, to_status="nueva", actor=actor,
                                       note=None, created_at=now))
    if alerts is None:
        from bot.alerts import Alerts  # alerts read this module's statuses: imported when first needed

        alerts = Alerts()
    alerts.ticket_created(conn, request_id, now)
    return Created(request_id, code, due, tuple(themes))


def change(conn: Connection, code: str, *, actor: str, now: datetime, status: str | None = None,
           note: str | None = None, assignee: str | None = None, referred_to: str | None = None) -> Any:
    """A DER user's change: a new status (``transition``), or only an assignee and/or a note on
    the current one (recorded as an event; a note is told to the requester)."""
    ticket = conn.execute(select(REQUESTS).where(REQUESTS.c.code == code).with_for_update()).one_or_none()
    if ticket is None:
        raise InvalidTransition(f"unknown ticket {code}")
    if status is not None and status != ticket.status:
        return transition(conn, code, status, actor=actor, now=now, note=note, assignee=assignee,
                          referred_to=referred_to)
    if not assignee and not note:
        raise InvalidTransition("nothing to change: give status, assignee or note")
    if ticket.status in ("cerrada", "remitida") and assignee:
        raise InvalidTransition(f"{code} is {ticket.status}: it cannot be reassigned")
    if assignee:
        conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(assignee=assignee, updated_at=now))
    event_note = "; ".join(x for x in (f"asignada a {assignee}" if assignee else None, note) if x)
    conn.execute(EVENTS.insert(), dict(request_id=ticket.id, from_status=ticket.status, to_status=ticket.status,
                                       actor=actor, note=event_note, created_at=now))
    if note:
        _notify(conn, ticket, ticket.status, note, None, now)
    return conn.execute(select(REQUESTS).where(REQUESTS.c.id == ticket.id)).one()


def rate(conn: Connection, code: str, score: int, *, contact_id: int, now: datetime) -> bool:
    """The requester's 1–5 rating of a closed ticket (only the requester, only once)."""
    if not 1 <= score <= 5:
        raise ValueError("a rating is 1 to 5")
    ticket = conn.execute(select(REQUESTS.c.id, REQUESTS.c.status).where(
        REQUESTS.c.code == code, REQUESTS.c.contact_id == contact_id, REQUESTS.c.satisfaction.is_(None))).one_or_none()
    if ticket is None:
        return False
    conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(satisfaction=score, satisfaction_at=now))
    conn.execute(EVENTS.insert(), dict(request_id=ticket.id, from_status=ticket.status, to_status=ticket.status,
                                       actor="solicitante", note=f"calificación {score}/5", created_at=now))
    return True


def transition(conn: Connection, code: str, to_status: str, *, actor: str, now: datetime, note: str | None = None,
               assignee: str | None = None, referred_to: str | None = None) -> Any:
    """Move a ticket; records the event and queues the requester's notification. Raises
    InvalidTransition (nothing written) for an unknown ticket, status or move."""
    ticket = conn.execute(select(REQUESTS).where(REQUESTS.c.code == code).with_for_update()).one_or_none()
    if ticket is None:
        raise InvalidTransition(f"unknown ticket {code}")
    if to_status not in STATUSES:
        raise InvalidTransition(f"unknown status {to_status!r}; use one of {', '.join(STATUSES)}")
    if to_status not in TRANSITIONS[ticket.status]:
        raise InvalidTransition(f"{code} is {ticket.status}: it cannot become {to_status}")
    if to_status == "remitida" and not (referred_to or "").strip():
        raise InvalidTransition("a referral needs the entity it is referred to (referred_to)")
    values: dict[str, Any] = dict(status=to_status, updated_at=now)
    if assignee:
        values["assignee"] = assignee
    if to_status == "remitida":
        values["referred_to"] = referred_to
    if to_status in ("cerrada", "remitida"):
        values["closed_at"] = now
    conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(**values))
    conn.execute(EVENTS.insert(), dict(request_id=ticket.id, from_status=ticket.status, to_status=to_status,
                                       actor=actor, note=note, created_at=now))
    _notify(conn, ticket, to_status, note, referred_to, now)
    return conn.execute(select(REQUESTS).where(REQUESTS.c.id == ticket.id)).one()


def _notify(conn: Connection, ticket: Any, status: str, note: str | None, referred_to: str | None,
            now: datetime) -> None:
    if ticket.contact_id is None:
        return
    contact = conn.execute(select(CONTACTS.c.channel, CONTACTS.c.address, CONTACTS.c.state, CONTACTS.c.state_version)
                           .where(CONTACTS.c.id == ticket.contact_id).with_for_update()).one_or_none()
    if contact is None:
        return
    t = texts()
    suffix = f"\n{note}" if note else ""
    options: tuple[Any, ...] = ()
    if status == "remitida":
        text = t("ticket_referred", code=ticket.code, entity=referred_to, note=suffix)
    elif status == "cerrada":
        text = t("ticket_closed", code=ticket.code, note=suffix)
        asking = ask_rating(ConversationState.from_json(contact.state), ticket.code) if ticket.satisfaction is None \
            else None
        if asking is not None:  # the next message is the rating (state_version: a turn in flight redoes itself)
            conn.execute(update(CONTACTS).where(CONTACTS.c.id == ticket.contact_id).values(
                state=asking.to_json(), state_version=contact.state_version + 1))
            text += "\n\n" + t("ticket_rate")
            options = tuple((o.label, o.reply) for o in rating_options(t))
    else:
        text = t("ticket_update", code=ticket.code, status=t(f"ticket_status.{status}"), note=suffix)
    outbox.enqueue(conn, channel=contact.channel, address=contact.address, contact_id=ticket.contact_id,
                   kind="ticket", text=text, options=options, now=now)


def for_entity(conn: Connection, entity_code: str, limit: int = 10) -> list[Any]:
    return list(conn.execute(select(REQUESTS).where(REQUESTS.c.entity_code == entity_code)
                             .order_by(REQUESTS.c.created_at.desc(), REQUESTS.c.id.desc()).limit(limit)))


def by_code(conn: Connection, code: str, entity_code: str | None = None) -> tuple[Any, str | None] | None:
    """A ticket and its last note; restricted to ``entity_code`` when given (a requester sees only
    their entity's tickets)."""
    query = select(REQUESTS).where(REQUESTS.c.code == code.upper())
    if entity_code is not None:
        query = query.where(REQUESTS.c.entity_code == entity_code)
    ticket = conn.execute(query).one_or_none()
    if ticket is None:
        return None
    note = conn.execute(select(EVENTS.c.note).where(EVENTS.c.request_id == ticket.id, EVENTS.c.note.is_not(None))
                        .order_by(EVENTS.c.id.desc()).limit(1)).scalar_one_or_none()
    return ticket, note


def is_overdue(ticket: Any, today: str) -> bool:
    """Open and past its due date (``today``: the local ISO date)."""
    return ticket.status in OPEN and ticket.due_date is not None and ticket.due_date < today


def as_json(conn: Connection, ticket: Any, *, today: str, events: bool = False,
            reveal_address: bool = False) -> dict[str, Any]:
    """A ticket as the API and the panel show it; with ``events``, its history. The requester's
    number is masked unless ``reveal_address`` (the DER and admins, who call people back)."""
    taxonomy = load_taxonomy()
    data: dict[str, Any] = {
        "code": ticket.code, "status": ticket.status, "source": ticket.source, "channel": ticket.channel,
        "entity": store.entity_json(conn, ticket.entity_code), "need": ticket.need,
        "themes": [{"id": t, "label": theme.label if (theme := taxonomy.get(t)) else t} for t in ticket.themes or ()],
        "support_type": ticket.support_type, "phase": ticket.phase, "urgent": ticket.urgent,
        "requested_by_date": ticket.requested_by_date, "assignee": ticket.assignee,
        "direccion_tecnica": ticket.direccion_tecnica, "articulador": ticket.articulador,
        "referred_to": ticket.referred_to, "due_date": ticket.due_date, "overdue": is_overdue(ticket, today),
        "satisfaction": ticket.satisfaction, "interview_id": ticket.interview_id,
        "created_at": _iso(ticket.created_at), "updated_at": _iso(ticket.updated_at),
        "closed_at": _iso(ticket.closed_at),
        "requester": _requester(conn, ticket.contact_id, reveal_address),
    }
    if events:
        data["events"] = [
            {"from": e.from_status, "to": e.to_status, "actor": e.actor, "note": e.note, "at": _iso(e.created_at)}
            for e in conn.execute(select(EVENTS).where(EVENTS.c.request_id == ticket.id).order_by(EVENTS.c.id))
        ]
    return data


def _requester(conn: Connection, contact_id: int | None, reveal_address: bool) -> dict[str, Any] | None:
    from bot.privacy import mask_address

    if contact_id is None:
        return None
    person = conn.execute(select(CONTACTS.c.name, CONTACTS.c.cargo, CONTACTS.c.channel, CONTACTS.c.address,
                                 CONTACTS.c.forgotten_at).where(CONTACTS.c.id == contact_id)).one_or_none()
    if person is None or person.forgotten_at is not None:
        return {"erased": True}  # BORRAR MIS DATOS: the ticket stays the entity's, nobody is named
    return {"name": person.name, "cargo": person.cargo, "channel": person.channel,
            "address": person.address if reveal_address else mask_address(person.address)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
