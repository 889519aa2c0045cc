"""Mesa de ayuda: help requests as tracked tickets (docs/helpdesk.md; the intake and follow-up of the CONPES 4091
implementation methodology, Actividades 1 and 4).

Tickets are created from the chat intake (``solicitud`` questionnaire), from an interview whose
5.2 answer was "Sí", or by the DER for a request that came by phone, e-mail or in person (the API
and the panel: ``origin``). Each change of status is recorded (who, when, note) and told to the
requester through the outbox. Deadlines are business days on Colombian holidays (bot.helpdesk.deadlines)
after the term of the request's type (bot/helpdesk/terms.yaml: documentos 10, general 15, consulta 30);
the DER can set another due date with its reason. Routing names the theme's dirección técnica
(bot/helpdesk/themes.yaml), assigns the ticket to the entity's enlace and names the region's articulador
(bot.directory.staff). A ticket of a grupo de valor the DER has not validated is ``on_hold``: no term, no
alert, until the entity is validated (bot.helpdesk.grupos).

Lifecycle: nueva → asignada → en_gestion → respondida → cerrada, or remitida (referred to the
pertinent entity) — see ``TRANSITIONS``. On closing, a requester who is not in the middle of
something is asked for a 1–5 rating (``rate`` stores it). A new ticket raises the DER's alert
(bot.alerts.alerting). All functions work on the caller's connection, so a ticket, what caused it, its
alert and its notifications commit together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, func, select, update

from bot import labels
from bot.channels import templates
from bot.conversation import ConversationState, Mode, ask_rating, rating_options, stored
from bot.conversation.prompts import prompt_token
from bot.directory import staff
from bot.helpdesk import deadlines, terms
from bot.helpdesk.themes import load_taxonomy
from bot.outbox import sending
from surveys import formats, store
from surveys.messages import is_test_channel
from surveys.models import Contact, Entity, Ticket, TicketEvent
from surveys.texts import texts
from surveys.tickets import FINAL, OPEN, STATUSES, TRANSITIONS, TicketStatus

if TYPE_CHECKING:
    from bot.alerts.alerting import Alerts

REQUESTS = Ticket.__table__
EVENTS = TicketEvent.__table__
_SET_CODE = update(REQUESTS).where(REQUESTS.c.id == bindparam("b_id"))  # built once: on a turn's path
CONTACTS = Contact.__table__
ENTITIES = Entity.__table__
SYSTEM = staff.SYSTEM  # the actor of what the product does on its own (default assignment, validation)
# Where a request registered by the DER came from (its ``channel``); its requester is not written to
# through the outbox: the DER answers by the same means.
ORIGINS = {"telefono": "Teléfono", "correo": "Correo electrónico", "presencial": "Presencial",
           "oficio": "Oficio o carta"}
CONTINUITY = ("puntual", "continua")


class InvalidTransition(ValueError):
    pass


class InvalidValue(InvalidTransition):
    """A value the change cannot take (a due date before the request, on a holiday …)."""


@dataclass(frozen=True)
class Created:
    id: int
    code: str
    due_date: str | None  # None while on hold
    themes: tuple[str, ...]
    term: terms.Term | None = None
    enlace: str | None = None  # the enlace it was assigned to
    on_hold: bool = False


def create(conn: Connection, *, entity_code: str | None, region: str | None, contact_id: int | None,
           channel: str | None, need: str, themes: list[str], now: datetime, support_type: str | None = None,
           phase: str | None = None, urgent: bool = False, requested_by_date: str | None = None,
           source: str = "chat", interview_id: int | None = None, actor: str = "chat",
           alerts: Alerts | None = None, request_type: str | None = None,
           continuity: str | None = None) -> Created:
    taxonomy = load_taxonomy()
    first = taxonomy.get(themes[0]) if themes else None
    if region is None:
        region = store.entity_region(conn, entity_code)
    term = terms.load().get(request_type)
    on_hold = _pending_entity(conn, entity_code)
    due = None if on_hold else deadlines.deadline_for(now, term.days).isoformat()
    enlace = staff.enlace_for(conn, entity_code)
    articulador = staff.articulador_for(conn, region)
    request_id = int(conn.execute(REQUESTS.insert(), dict(
        entity_code=entity_code, contact_id=contact_id, channel=channel, source=source, interview_id=interview_id,
        need=need, themes=list(themes), support_type=support_type, phase=phase, urgent=urgent,
        requested_by_date=requested_by_date, status=TicketStatus.NUEVA, request_type=term.id, continuity=continuity,
        direccion_tecnica=first.direccion_tecnica if first is not None else None,
        articulador=articulador.name if articulador is not None else taxonomy.articulador(region) if region else None,
        assignee=enlace.name if enlace is not None else None, staff_id=enlace.id if enlace is not None else None,
        on_hold=on_hold, followups=0, due_date=due, created_at=now, updated_at=now,
    )).inserted_primary_key[0])
    code = f"MDA-{deadlines.local_today(now).year}-{request_id:05d}"  # the year it is where it was asked
    conn.execute(_SET_CODE, {"b_id": request_id, "code": code})
    new = TicketStatus.NUEVA
    events = [dict(request_id=request_id, from_status=None, to_status=new, actor=actor, note=None, created_at=now)]
    if enlace is not None:
        events.append(dict(request_id=request_id, from_status=new, to_status=new, actor=SYSTEM,
                           note=f"asignada por defecto a {enlace.name} (enlace territorial)", created_at=now))
    if on_hold:
        events.append(dict(request_id=request_id, from_status=new, to_status=new, actor=SYSTEM,
                           note="en espera: la DER debe validar la entidad antes de que corra el plazo",
                           created_at=now))
    conn.execute(EVENTS.insert(), events)
    if not on_hold:
        announce(conn, request_id, now, alerts)
    return Created(request_id, code, due, tuple(themes), term, enlace.name if enlace is not None else None, on_hold)


def announce(conn: Connection, request_id: int, now: datetime, alerts: Alerts | None = None) -> None:
    """The DER's alert for a ticket that counts (at creation, or when its entity is validated)."""
    if alerts is None:
        from bot.alerts.alerting import Alerts  # alerts read this module's statuses: imported when first needed

        alerts = Alerts()
    alerts.ticket_created(conn, request_id, now)


_VALIDATION = select(ENTITIES.c.validation).where(ENTITIES.c.code == bindparam("b_code"))  # built once


def _pending_entity(conn: Connection, entity_code: str | None) -> bool:
    if not entity_code:
        return False
    return conn.execute(_VALIDATION, {"b_code": entity_code}).scalar() == "pendiente"


def set_due_date(conn: Connection, code: str, due: date, *, reason: str, actor: str, now: datetime) -> Any:
    """The DER sets another due date, with its reason (an event; the requester is told). The date
    must be a business day, not before the day of the request; only an open ticket's term runs."""
    ticket = conn.execute(select(REQUESTS).where(REQUESTS.c.code == code).with_for_update()).one_or_none()
    if ticket is None:
        raise InvalidTransition(f"unknown ticket {code}")
    if ticket.status not in OPEN:
        raise InvalidTransition(f"{code} is {ticket.status}: its term no longer runs")
    if ticket.on_hold:
        raise InvalidTransition(f"{code} waits for its entity to be validated: its term has not started")
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidValue("a new due date needs its reason (due_reason)")
    if due < deadlines.local_today(ticket.created_at):
        raise InvalidValue(f"the due date {due.isoformat()} is before the request "
                           f"({deadlines.local_today(ticket.created_at).isoformat()})")
    if not deadlines.is_business_day(due):
        holiday = deadlines.holiday_name(due)
        raise InvalidValue(f"{due.isoformat()} is not a business day" + (f" ({holiday})" if holiday else ""))
    if ticket.due_date == due.isoformat():
        raise InvalidValue(f"{code} is already due on {due.isoformat()}")
    conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(due_date=due.isoformat(), updated_at=now))
    conn.execute(EVENTS.insert(), dict(request_id=ticket.id, from_status=ticket.status, to_status=ticket.status,
                                       actor=actor, note=f"plazo: {ticket.due_date or '—'} → {due.isoformat()}. "
                                                         f"Motivo: {reason}", created_at=now))
    t = texts()
    tell(conn, ticket, t("ticket_due_changed", code=ticket.code, due=formats.day(due), reason=reason),
          now)
    return conn.execute(select(REQUESTS).where(REQUESTS.c.id == ticket.id)).one()


def change(conn: Connection, code: str, *, actor: str, now: datetime, status: str | None = None,
           note: str | None = None, assignee: str | None = None, referred_to: str | None = None,
           due_date: date | None = None, due_reason: str | None = None) -> Any:
    """A DER user's change: another due date (with its reason), then a new status
    (``transition``), or only an assignee and/or a note on the current one (recorded as an event;
    a note is told to the requester)."""
    ticket = conn.execute(select(REQUESTS).where(REQUESTS.c.code == code).with_for_update()).one_or_none()
    if ticket is None:
        raise InvalidTransition(f"unknown ticket {code}")
    if status:
        status = labels.status_code(status) or status  # "En gestión" as well as en_gestion
    if due_date is not None:
        ticket = set_due_date(conn, code, due_date, reason=due_reason or "", actor=actor, now=now)
        if status in (None, ticket.status) and not assignee and not note:
            return ticket
    elif due_reason:
        raise InvalidValue("due_reason goes with a new due_date")
    if status is not None and status != ticket.status:
        return transition(conn, code, status, actor=actor, now=now, note=note, assignee=assignee,
                          referred_to=referred_to)
    if not assignee and not note:
        raise InvalidTransition(f"nothing to change: {code} is already {ticket.status}" if status
                                else "nothing to change: give status, assignee or note")
    if ticket.status in FINAL and assignee:
        raise InvalidTransition(f"{code} is {ticket.status}: it cannot be reassigned")
    # A note is news too: the follow-ups (bot.helpdesk.followup) count quiet days from here.
    conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(
        updated_at=now, **({"assignee": assignee} if assignee else {})))
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
    to_status = labels.status_code(to_status) or to_status  # people type what they read: "en gestión"
    if to_status not in STATUSES:
        known = ", ".join(labels.label("status", s) for s in STATUSES)
        raise InvalidTransition(f"unknown status {to_status!r}; use one of: {known}")
    if to_status not in TRANSITIONS[ticket.status]:
        raise InvalidTransition(f"{code} is {ticket.status}: it cannot become {to_status}")
    if to_status == TicketStatus.REMITIDA and not (referred_to or "").strip():
        raise InvalidTransition("a referral needs the entity it is referred to (referred_to)")
    values: dict[str, Any] = dict(status=to_status, updated_at=now)
    if assignee:
        values["assignee"] = assignee
    if to_status == TicketStatus.REMITIDA:
        values["referred_to"] = referred_to
    if to_status in FINAL:
        values["closed_at"] = now
    conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(**values))
    conn.execute(EVENTS.insert(), dict(request_id=ticket.id, from_status=ticket.status, to_status=to_status,
                                       actor=actor, note=note, created_at=now))
    _notify(conn, ticket, to_status, note, referred_to, now)
    if to_status not in OPEN:  # answered: its overdue alerts no longer call for anyone
        from bot.alerts.alerting import settle_overdue  # alerts read this module: imported when needed

        settle_overdue(conn, ticket.id, to_status, actor=actor, now=now)
    return conn.execute(select(REQUESTS).where(REQUESTS.c.id == ticket.id)).one()


def _notify(conn: Connection, ticket: Any, status: str, note: str | None, referred_to: str | None,
            now: datetime) -> int | None:
    """Tell the requester, through the outbox. On WhatsApp the row carries its template (ticket
    update, or closing with the satisfaction question), for when the 24-hour window has closed."""
    if ticket.contact_id is None:
        return None
    contact = conn.execute(select(CONTACTS.c.channel, CONTACTS.c.address, CONTACTS.c.state, CONTACTS.c.state_version)
                           .where(CONTACTS.c.id == ticket.contact_id).with_for_update()).one_or_none()
    if contact is None or contact.channel in ORIGINS:  # asked by phone or e-mail: answered the same way
        return None
    t = texts()
    suffix = f"\n{note}" if note else ""
    no_note = note or t("ticket_no_note")
    options: tuple[Any, ...] = ()
    prompt = None
    template: tuple[str, dict[str, str]] = ("ticket_update", {"1": ticket.code, "2": t(f"ticket_status.{status}"),
                                                             "3": no_note})
    if status == TicketStatus.REMITIDA:
        text = t("ticket_referred", code=ticket.code, entity=referred_to, note=suffix)
        template[1]["2"] = f"{t('ticket_status.remitida')} ({referred_to})"
    elif status == TicketStatus.CERRADA:
        text = t("ticket_closed", code=ticket.code, note=suffix)
        asking = ask_rating(ConversationState.from_json(contact.state), ticket.code) if ticket.satisfaction is None \
            else None
        if asking is not None:  # the next message is the rating
            saved = stored.save(conn, ticket.contact_id, contact.state_version, asking)
            if asking.rating == ticket.code:
                text += "\n\n" + t("ticket_rate")
                options = tuple((o.label, o.reply) for o in rating_options(t))
                prompt = prompt_token(saved)  # the 1–5 buttons answer this rating, nothing later
                template = ("ticket_closed", {"1": ticket.code, "2": no_note})
            else:  # another closed ticket's rating is awaited: this one is asked right after it
                text += "\n" + t("ticket_rate_later", first=asking.rating)
    else:
        text = t("ticket_update", code=ticket.code, status=t(f"ticket_status.{status}"), note=suffix)
    payload: dict[str, Any] = {"ticket": ticket.code}
    if contact.channel == templates.WHATSAPP:
        payload.update(templates.payload(*template))
    if prompt:
        payload["prompt"] = prompt
    return sending.enqueue(conn, channel=contact.channel, address=contact.address, contact_id=ticket.contact_id,
                          kind="ticket", text=text, options=options, payload=payload, now=now)


def notification_problem(conn: Connection, code: str, now: datetime) -> templates.Problem | None:
    """Why the requester of ``code`` cannot be told about a change now (WhatsApp, 24-hour window
    closed, no template configured *in this process's environment*), or None: what the panel shows
    after a change (the panel runs where the sender runs; the CLI may not: it uses ``template_needed``)."""
    needed = template_needed(conn, code, now)
    return templates.Problem(needed[0], needed[1]) if needed is not None and not needed[0].content_sid else None


def template_needed(conn: Connection, code: str, now: datetime) -> tuple[templates.Template, datetime | None] | None:
    """The WhatsApp template the notice of ``code`` can only go as (the requester's 24-hour window
    is closed) and their last message's time; None when free text reaches them (another channel,
    the window open) or there is nobody to tell."""
    row = conn.execute(select(REQUESTS.c.status, CONTACTS.c.channel, CONTACTS.c.last_inbound_at, CONTACTS.c.state)
                       .join(CONTACTS, CONTACTS.c.id == REQUESTS.c.contact_id)
                       .where(REQUESTS.c.code == code.upper())).one_or_none()
    if row is None or row.channel != templates.WHATSAPP or templates.window_open(row.last_inbound_at, now):
        return None
    rating = row.status == TicketStatus.CERRADA and ConversationState.from_json(row.state).mode == Mode.RATING
    return templates.get("ticket_closed" if rating else "ticket_update"), row.last_inbound_at


def notice_queued(conn: Connection, ticket: Any, now: datetime) -> Any:
    """The outbox row (its first piece) of the notice a change of ``ticket`` at ``now`` queued, or None."""
    if ticket.contact_id is None:
        return None
    outbox_rows = sending.OUTBOX
    return conn.execute(select(outbox_rows).where(
        outbox_rows.c.contact_id == ticket.contact_id, outbox_rows.c.kind == "ticket",
        outbox_rows.c.created_at == now, outbox_rows.c.after_id.is_(None)).order_by(outbox_rows.c.id.desc())
    ).first()


def tell(conn: Connection, ticket: Any, text: str, now: datetime) -> None:
    """A message about the ticket to its requester (when they asked through the chat)."""
    if ticket.contact_id is None:
        return
    contact = conn.execute(select(CONTACTS.c.channel, CONTACTS.c.address).where(CONTACTS.c.id == ticket.contact_id)
                           ).one_or_none()
    if contact is None or contact.channel in ORIGINS:
        return
    sending.enqueue(conn, channel=contact.channel, address=contact.address, contact_id=ticket.contact_id,
                   kind="ticket", text=text, now=now)


def _visible(entity_code: str | None, contact_id: int | None) -> list[Any]:
    """What a requester may see: a simulator conversation (test data, anyone can claim any entity
    there) only the tickets it opened itself; anyone else their entity's real tickets."""
    if contact_id is not None:
        return [REQUESTS.c.contact_id == contact_id]
    return [REQUESTS.c.entity_code == entity_code, store.real_channel(REQUESTS.c.channel)]


def for_requester(conn: Connection, entity_code: str | None, contact_id: int | None = None,
                  limit: int = 10) -> list[Any]:
    """The newest tickets a requester may see (see ``_visible``): their entity's, or with
    ``contact_id`` (a simulator conversation) only their own."""
    if entity_code is None and contact_id is None:
        return []
    return list(conn.execute(select(REQUESTS).where(*_visible(entity_code, contact_id))
                             .order_by(REQUESTS.c.created_at.desc(), REQUESTS.c.id.desc()).limit(limit)))


def by_code(conn: Connection, code: str, entity_code: str | None = None,
            contact_id: int | None = None) -> tuple[Any, str | None] | None:
    """A ticket and its last note; restricted to what a requester may see when ``entity_code`` or
    ``contact_id`` is given (see ``for_requester``)."""
    query = select(REQUESTS).where(REQUESTS.c.code == code.upper())
    if entity_code is not None or contact_id is not None:
        query = query.where(*_visible(entity_code, contact_id))
    ticket = conn.execute(query).one_or_none()
    if ticket is None:
        return None
    note = conn.execute(select(EVENTS.c.note).where(EVENTS.c.request_id == ticket.id, EVENTS.c.note.is_not(None))
                        .order_by(EVENTS.c.id.desc()).limit(1)).scalar_one_or_none()
    return ticket, note


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a list shows: the API's and the panel's parameters read into one filter, so the
    two lists cannot disagree. None means "any"."""

    statuses: tuple[str, ...] | None = None
    entity: str | None = None
    entities: tuple[str, ...] | None = None  # an enlace's scope (bot.directory.staff.scope)
    region: str | None = None
    enlace: int | None = None  # the staff id the ticket is assigned to
    on_hold: bool | None = None
    overdue: bool | None = None
    theme: str | None = None
    include_test: bool = False  # tickets of simulator conversations (test data)


def find_tickets(conn: Connection, wanted: TicketFilter, today: str) -> list[Any]:
    """The tickets ``wanted`` selects, newest first (``today``: the local ISO date, for overdue)."""
    query = (select(REQUESTS).outerjoin(ENTITIES, ENTITIES.c.code == REQUESTS.c.entity_code)
             .order_by(REQUESTS.c.created_at.desc(), REQUESTS.c.id.desc()))
    if not wanted.include_test:
        query = query.where(store.real_channel(REQUESTS.c.channel))
    if wanted.statuses is not None:
        query = query.where(REQUESTS.c.status.in_(wanted.statuses))
    if wanted.entity is not None:
        query = query.where(REQUESTS.c.entity_code == wanted.entity)
    if wanted.entities is not None:
        query = query.where(REQUESTS.c.entity_code.in_(sorted(wanted.entities)))
    if wanted.region is not None:
        query = query.where(ENTITIES.c.region == wanted.region)
    if wanted.enlace is not None:
        query = query.where(REQUESTS.c.staff_id == wanted.enlace)
    if wanted.on_hold is not None:
        query = query.where(REQUESTS.c.on_hold.is_(wanted.on_hold))
    # Themes are a JSON list and overdue needs today: both filtered here, the same on SQLite and PostgreSQL.
    return [row for row in conn.execute(query)
            if (wanted.theme is None or wanted.theme in (row.themes or ()))
            and (wanted.overdue is None or is_overdue(row, today) == wanted.overdue)]


def is_overdue(ticket: Any, today: str) -> bool:
    """Open and past its due date (``today``: the local ISO date)."""
    return ticket.status in OPEN and ticket.due_date is not None and ticket.due_date < today


def version(conn: Connection, code: str, *, lock: bool = False) -> str | None:
    """A ticket's version (the API's ETag, the panel form's hidden field): a digest of its stored
    row and the number of its events (every change writes one), so it changes with every change,
    whoever made it. None for an unknown ticket. ``lock``: FOR UPDATE, to change it next."""
    query = select(REQUESTS).where(REQUESTS.c.code == code)
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        return None
    events = conn.execute(select(func.count()).select_from(EVENTS).where(EVENTS.c.request_id == row.id)).scalar_one()
    return hashlib.sha256(f"{tuple(row)!r}\n{events}".encode()).hexdigest()[:20]


def as_json(conn: Connection, ticket: Any, *, today: str, events: bool = False,
            reveal_address: bool = False) -> dict[str, Any]:
    """A ticket as the API and the panel show it; with ``events``, its history. The requester's
    number is masked unless ``reveal_address`` (the DER and admins, who call people back)."""
    taxonomy = load_taxonomy()
    data: dict[str, Any] = {
        "code": ticket.code, "status": ticket.status, "source": ticket.source, "channel": ticket.channel,
        "test": is_test_channel(ticket.channel),
        "entity": store.entity_json(conn, ticket.entity_code), "need": ticket.need,
        "themes": [{"id": t, "label": theme.label if (theme := taxonomy.get(t)) else t} for t in ticket.themes or ()],
        "support_type": ticket.support_type, "phase": ticket.phase, "urgent": ticket.urgent,
        "requested_by_date": ticket.requested_by_date, "assignee": ticket.assignee,
        "request_type": ticket.request_type, "term_days": _term_days(ticket), "continuity": ticket.continuity,
        "enlace": _enlace(conn, ticket.staff_id), "on_hold": bool(ticket.on_hold), "followups": ticket.followups or 0,
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


def _term_days(ticket: Any) -> int | None:
    return terms.load().get(ticket.request_type).days if ticket.request_type else None


def _enlace(conn: Connection, staff_id: int | None) -> dict[str, Any] | None:
    if staff_id is None:
        return None
    row = conn.execute(select(staff.STAFF.c.id, staff.STAFF.c.name).where(staff.STAFF.c.id == staff_id)).one_or_none()
    return {"id": row.id, "name": row.name} if row is not None else None


def _requester(conn: Connection, contact_id: int | None, reveal_address: bool) -> dict[str, Any] | None:
    from bot.privacy.personal_data import mask_address

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
