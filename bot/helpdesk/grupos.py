"""Other grupos de valor in the mesa de ayuda: entities outside DIVIPOLA's municipalities and
departments — esquemas asociativos, instancias de participación, entidades nacionales, cooperantes
(the kinds of grupo de valor the DER serves; the model's ``kind="otro"``).

They register in the chat (the registration's "OTRA", then what they are, their name and where
their seat is) or are registered by the DER with a request that came by phone or e-mail. Each is an
``entity`` row with a code outside DIVIPOLA's digits (``X0001`` …) and ``validation = pendiente``:
its tickets wait ``on_hold`` — no term, no alert, not in the queue — until the DER validates it
(``validate``: the terms start that day and the requesters are told), or rejects it (``reject``:
its waiting tickets are closed and the requesters told; its contacts register again).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, update

from bot.helpdesk import deadlines, terms, ticketing
from surveys import formats, parsing, store
from surveys.entities import NATIONAL_DEPT, OTHER_KIND, EntityIndex
from surveys.models import Contact, Entity, Ticket, TicketEvent
from surveys.texts import texts
from surveys.tickets import TicketStatus

if TYPE_CHECKING:
    from bot.alerts.alerting import Alerts

ENTITIES = Entity.__table__
REQUESTS = Ticket.__table__
EVENTS = TicketEvent.__table__
CONTACTS = Contact.__table__

GROUPS = {"esquema_asociativo": "Esquema asociativo territorial",
          "instancia_participacion": "Instancia de participación",
          "entidad_nacional": "Entidad del orden nacional",
          "cooperante": "Cooperante u organización internacional",
          "otro": "Otra organización"}
PENDING, VALIDATED, REJECTED = "pendiente", "validada", "rechazada"
NATIONAL_WORDS = ("nacional", "nacion", "todo el pais", "colombia", "bogota nivel nacional")


class GroupError(ValueError):
    pass


def seat_of(entities: EntityIndex, text: str | None) -> Any:
    """The DIVIPOLA entity a seat written in the chat names ("Huila", "Neiva"), None for national
    scope or when it names nothing clear (the DER completes it when validating)."""
    if not text or parsing.normalize(text) in NATIONAL_WORDS:
        return None
    found = entities.lookup(text)
    return found.candidates[0] if found.status == "found" else None


def register(conn: Connection, *, group: str, name: str, seat: Any, now: datetime, alerts: Alerts | None = None) -> str:
    """The code of the grupo de valor ``name``: the one registered before with the same name and
    department (a second person of the same esquema asociativo), else a new one, pending the DER."""
    name = " ".join((name or "").split())[:120]
    if not name:
        raise GroupError("a grupo de valor needs its name")
    group = group if group in GROUPS else "otro"
    dept_code, dept_name = (seat.dept_code, seat.dept_name) if seat is not None else (NATIONAL_DEPT, "Nacional")
    for row in conn.execute(select(ENTITIES.c.code, ENTITIES.c.name).where(
            ENTITIES.c.kind == OTHER_KIND, ENTITIES.c.dept_code == dept_code, ENTITIES.c.validation != REJECTED)):
        if parsing.normalize(row.name) == parsing.normalize(name):
            return str(row.code)
    region = store.entity_region(conn, dept_code) if seat is not None else None
    code = _next_code(conn)
    conn.execute(ENTITIES.insert(), dict(
        code=code, name=name, official_name=name, kind=OTHER_KIND, muni_type=GROUPS[group], dept_code=dept_code,
        dept_name=dept_name, region=region, regions={}, pdet=False, lat=getattr(seat, "lat", None),
        lon=getattr(seat, "lon", None), group_kind=group, validation=PENDING, registered_at=now))
    _alert(conn, code, now, alerts)
    return code


def _next_code(conn: Connection) -> str:
    last = conn.execute(select(func.max(ENTITIES.c.code)).where(ENTITIES.c.kind == OTHER_KIND)).scalar()
    number = int(last[1:]) + 1 if last else 1
    if number > 9999:
        raise GroupError("no codes left for grupos de valor (X0001–X9999)")
    return f"X{number:04d}"


def _alert(conn: Connection, code: str, now: datetime, alerts: Alerts | None) -> None:
    """The DER must not miss a grupo de valor waiting to be validated."""
    if alerts is None:
        from bot.alerts.alerting import Alerts

        alerts = Alerts()
    rule = alerts.config.active("entidad_por_validar")
    if rule is not None:
        row = conn.execute(select(ENTITIES.c.group_kind).where(ENTITIES.c.code == code)).one()
        alerts.raise_alert(conn, rule, key=code, now=now, entity_code=code, group=GROUPS.get(row.group_kind, ""),
                           data={"group": row.group_kind})


def pending(conn: Connection) -> list[dict[str, Any]]:
    """Grupos de valor waiting for the DER, oldest first, with who registered them and their tickets."""
    rows = conn.execute(select(ENTITIES).where(ENTITIES.c.validation == PENDING).order_by(ENTITIES.c.registered_at,
                                                                                          ENTITIES.c.code)).all()
    out = []
    for row in rows:
        people = conn.execute(select(CONTACTS.c.name, CONTACTS.c.cargo, CONTACTS.c.channel)
                              .where(CONTACTS.c.entity_code == row.code, CONTACTS.c.forgotten_at.is_(None))).all()
        tickets = conn.execute(select(REQUESTS.c.code, REQUESTS.c.need).where(REQUESTS.c.entity_code == row.code)
                               .order_by(REQUESTS.c.id)).all()
        out.append({"code": row.code, "name": row.name, "group": row.group_kind, "group_label": GROUPS.get(
            row.group_kind or "otro"), "department": row.dept_name, "dept_code": row.dept_code, "region": row.region,
            "registered_at": row.registered_at.isoformat() if row.registered_at else None,
            "contacts": [{"name": p.name, "cargo": p.cargo, "channel": p.channel} for p in people],
            "tickets": [{"code": t.code, "need": t.need} for t in tickets]})
    return out


def validate(conn: Connection, code: str, *, actor: str, now: datetime, name: str | None = None,
             group: str | None = None, dept_code: str | None = None) -> int:
    """The DER validates a grupo de valor (correcting its name, kind or department if given). Its
    waiting tickets that are still open start their terms today and raise their alerts; the
    requesters are told. Returns how many tickets were released."""
    entity = _pending(conn, code)
    values: dict[str, Any] = dict(validation=VALIDATED, validated_at=now, validated_by=actor)
    if name and name.strip():
        values.update(name=" ".join(name.split())[:120], official_name=" ".join(name.split())[:120])
    if group:
        if group not in GROUPS:
            raise GroupError(f"unknown kind {group!r}; use {', '.join(GROUPS)}")
        values.update(group_kind=group, muni_type=GROUPS[group])
    if dept_code:
        if dept_code == NATIONAL_DEPT:
            values.update(dept_code=NATIONAL_DEPT, dept_name="Nacional", region=None)
        else:
            dept = store.entity(conn, dept_code)
            if dept is None or dept.kind != "gobernacion":
                raise GroupError(f"unknown department {dept_code!r} (a 2-digit DIVIPOLA code, or 00 for national)")
            values.update(dept_code=dept_code, dept_name=dept.dept_name, region=dept.region)
    conn.execute(update(ENTITIES).where(ENTITIES.c.code == code).values(**values))
    display = store.entity(conn, code)
    released = 0
    waiting = REQUESTS.c.entity_code == code, REQUESTS.c.on_hold.is_(True)
    # One the DER closed or referred while it waited has no term left to run: no due date, alert or notice.
    conn.execute(update(REQUESTS).where(*waiting, REQUESTS.c.status.not_in(ticketing.OPEN)).values(on_hold=False))
    for ticket in conn.execute(select(REQUESTS).where(*waiting)).all():
        due = deadlines.deadline_for(now, terms.load().get(ticket.request_type).days).isoformat()
        conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(on_hold=False, due_date=due,
                                                                                updated_at=now))
        conn.execute(EVENTS.insert(), dict(request_id=ticket.id, from_status=ticket.status, to_status=ticket.status,
                                           actor=actor, note=f"entidad validada; el plazo corre hasta el {due}",
                                           created_at=now))
        ticketing.tell(conn, ticket, texts()("ticket_validated", entity=display.display if display else entity.name,
                                            code=ticket.code, due=formats.day(due)), now)
        ticketing.announce(conn, ticket.id, now)
        released += 1
    return released


def reject(conn: Connection, code: str, *, actor: str, now: datetime, note: str | None = None) -> int:
    """The DER could not validate a grupo de valor: its waiting tickets are closed (the requesters
    are told why) and its contacts are unlinked, so their next message registers them again.
    Returns how many tickets were closed."""
    entity = _pending(conn, code)
    conn.execute(update(ENTITIES).where(ENTITIES.c.code == code).values(validation=REJECTED, validated_at=now,
                                                                        validated_by=actor))
    note = " ".join((note or "").split())
    closed = 0
    for ticket in conn.execute(select(REQUESTS).where(REQUESTS.c.entity_code == code, REQUESTS.c.on_hold.is_(True),
                                                      REQUESTS.c.status.in_(ticketing.OPEN))).all():
        conn.execute(update(REQUESTS).where(REQUESTS.c.id == ticket.id).values(
            status=TicketStatus.CERRADA, closed_at=now, updated_at=now))
        conn.execute(EVENTS.insert(), dict(request_id=ticket.id, from_status=ticket.status,
                                           to_status=TicketStatus.CERRADA, actor=actor,
                                           note="entidad no validada" + (f": {note}" if note else ""), created_at=now))
        ticketing.tell(conn, ticket, texts()("ticket_entity_rejected", entity=entity.name, code=ticket.code,
                                            note=f" {note}" if note else ""), now)
        closed += 1
    conn.execute(update(CONTACTS).where(CONTACTS.c.entity_code == code).values(entity_code=None))
    return closed


def _pending(conn: Connection, code: str) -> Any:
    entity = conn.execute(select(ENTITIES).where(ENTITIES.c.code == code)).one_or_none()
    if entity is None or entity.kind != OTHER_KIND:
        raise GroupError(f"no grupo de valor {code!r}")
    if entity.validation != PENDING:
        raise GroupError(f"{code} is already {entity.validation}")
    return entity
