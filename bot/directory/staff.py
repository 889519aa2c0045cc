"""The DER's people in the territories, as data: enlaces territoriales (each covers about ten
entities) and the articulador(a) of each region. Alerts reach them (bot.alerts.alerting, ``to:`` in
bot/alerts/alerts.yaml), a new ticket is assigned to its entity's enlace (bot.helpdesk.ticketing), and a panel
account of role ``enlace`` linked to them (``usuario``) sees only their entities.

The directory is loaded with ``m360 staff import FILE.csv|xlsx`` and edited in the panel
(``/panel/enlaces``). Columns (one row per person; a person may also take several rows, whose
entities add up):

| column | meaning |
|---|---|
| ``rol`` | ``enlace`` or ``articulador`` |
| ``nombre`` | the person's name: with ``rol``, who the row is (an import updates that person) |
| ``canal``, ``direccion`` | where alerts reach them: ``whatsapp``/``sms`` + E.164 number, ``telegram`` + chat id |
| ``correo`` | optional e-mail, for the directory |
| ``region`` | an articulador's region (required for them; one active articulador per region) |
| ``entidades`` | an enlace's entities: DIVIPOLA codes separated by ``;``, ``,`` or spaces (leading zeros restored) |
| ``usuario`` | optional panel username (``m360 users create --role enlace``) |
| ``activo`` | ``si`` (default) or ``no`` |

Every row is validated first: with a bad row nothing is written unless ``skip_invalid``. The file
is the authority for the entities it lists: an entity listed for an enlace leaves whoever covered
it before. ``replace`` also deactivates the people the file does not name. The open tickets of an
entity follow its enlace (``follow_coverage``): a new enlace finds the requests already waiting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from bot.directory.contacts import CHANNELS, Problem, cell, entity_code, normalize_address, read_rows
from surveys import db, parsing, settings, store
from surveys.entities import OTHER_CODE
from surveys.models import Entity, Staff, StaffEntity, Ticket, TicketEvent, utcnow
from surveys.tickets import OPEN

STAFF = Staff.__table__
COVERAGE = StaffEntity.__table__
TICKETS, TICKET_EVENTS = Ticket.__table__, TicketEvent.__table__
SYSTEM = "sistema"  # the actor of what the product does on its own (bot.helpdesk.ticketing.SYSTEM)
ENTITIES = Entity.__table__
ROLES = ("enlace", "articulador")
COLUMNS = ("rol", "nombre", "canal", "direccion", "correo", "region", "entidades", "usuario", "activo")
REQUIRED = ("rol", "nombre")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_USERNAME = re.compile(r"[a-z0-9._-]{1,80}")
_CODES = re.compile(r"[;,\s]+")


@dataclass(frozen=True)
class Member:
    """One person of the directory, validated."""

    role: str
    name: str
    channel: str | None = None
    address: str | None = None
    email: str | None = None
    region: str | None = None
    entities: tuple[str, ...] = ()
    username: str | None = None
    active: bool = True
    line: int = 0  # where it came from (first row), for messages

    @property
    def key(self) -> tuple[str, str]:
        return self.role, parsing.normalize(self.name)


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    reassigned: list[str] = field(default_factory=list)  # entities that changed enlace
    problems: list[Problem] = field(default_factory=list)
    written: bool = False
    # Active people on WhatsApp while no alert template is configured: outside the 24-hour window
    # (they seldom write to the bot) their alerts fail, and only the panel's Envíos page shows it.
    no_template: list[str] = field(default_factory=list)

    def summary(self) -> str:
        done = (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.deactivated} deactivated, {len(self.reassigned)} entities reassigned") \
            if self.written else "nothing written"
        warning = (f"; warning: {', '.join(self.no_template)} on WhatsApp get alerts only within 24 hours of "
                   "writing to the bot — set M360_DER_WHATSAPP_CONTENT_SID (the der_alert template)"
                   if self.no_template else "")
        return f"{done}; {len(self.problems)} invalid row(s){warning}"


@dataclass(frozen=True)
class Scope:
    """What a panel account of role ``enlace`` may see: the entities its people cover (as
    enlaces) and the regions they articulate."""

    entities: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    staff_ids: frozenset[int] = frozenset()

    def covers(self, entity_code: str | None, region: str | None = None) -> bool:
        return (entity_code is not None and entity_code in self.entities) or (region is not None
                                                                             and region in self.regions)


# ------------------------------------------------------------------ validation


def parse_codes(text: str) -> tuple[list[str], list[str]]:
    """Entity codes written in a cell ("63302; 63001 5001"): the codes (zeros restored) and the
    pieces that are not codes."""
    codes, bad = [], []
    for piece in (p for p in _CODES.split(text or "") if p):
        code = piece.upper() if OTHER_CODE.fullmatch(piece.upper()) else entity_code(piece)
        (codes if code is not None else bad).append(code or piece)
    return list(dict.fromkeys(codes)), bad


def validate(raw_rows: Iterable[dict[str, Any]], entity_codes: set[str], regions: Sequence[str]
             ) -> tuple[list[Member], list[Problem]]:
    """Rows as people (rows of one person merged) and the problems found, each with its line."""
    raw_rows = list(raw_rows)
    if raw_rows:
        missing = [c for c in REQUIRED if c not in raw_rows[0]]
        if missing:
            return [], [Problem(1, ", ".join(missing), f"faltan columnas; se esperan {', '.join(COLUMNS)}")]
    by_region = {parsing.normalize(r): r for r in regions}
    people: dict[tuple[str, str], Member] = {}
    problems: list[Problem] = []
    for line, raw in enumerate(raw_rows, start=2):
        member, found = _member(line, raw, entity_codes, by_region)
        problems.extend(found)
        if member is None:
            continue
        before = people.get(member.key)
        if before is None:
            people[member.key] = member
            continue
        for name in ("channel", "address", "email", "region", "username"):
            if getattr(member, name) and getattr(before, name) and getattr(member, name) != getattr(before, name):
                problems.append(Problem(line, name, f"distinto de la fila {before.line} para {member.name}"))
        people[member.key] = replace(
            before, entities=tuple(dict.fromkeys(before.entities + member.entities)),
            **{n: getattr(before, n) or getattr(member, n) for n in ("channel", "address", "email", "region",
                                                                     "username")})
    problems.extend(_conflicts(list(people.values())))
    return list(people.values()), problems


def _member(line: int, raw: dict[str, Any], entity_codes: set[str], by_region: dict[str, str]
            ) -> tuple[Member | None, list[Problem]]:
    found: list[Problem] = []
    role = parsing.normalize(cell(raw.get("rol")))
    role = {"articuladora": "articulador", "enlace territorial": "enlace"}.get(role, role)
    if role not in ROLES:
        found.append(Problem(line, "rol", f"rol desconocido {cell(raw.get('rol'))!r}; use enlace o articulador"))
    name = " ".join(cell(raw.get("nombre")).split())
    if not name or len(name) > 120:
        found.append(Problem(line, "nombre", "falta el nombre (hasta 120 caracteres)"))
    channel = parsing.normalize(cell(raw.get("canal"))) or None
    address_text = cell(raw.get("direccion"))
    address = None
    if channel is not None and channel not in CHANNELS:
        found.append(Problem(line, "canal", f"canal desconocido {channel!r}; use {', '.join(CHANNELS)} o déjelo vacío"))
    elif channel is not None:
        address = normalize_address(channel, address_text)
        if address is None:
            expected = "un chat id numérico" if channel == "telegram" else "un número E.164 (+573001234567)"
            found.append(Problem(line, "direccion", f"{address_text!r} no es {expected}"))
    elif address_text:
        found.append(Problem(line, "canal", "falta el canal de la dirección (whatsapp, telegram o sms)"))
    email = cell(raw.get("correo")) or None
    if email is not None and not _EMAIL.fullmatch(email):
        found.append(Problem(line, "correo", f"{email!r} no es un correo electrónico"))
    region_text = cell(raw.get("region"))
    region = by_region.get(parsing.normalize(region_text)) if region_text else None
    if region_text and region is None:
        found.append(Problem(line, "region", f"región desconocida {region_text!r}; use una de: "
                                             f"{', '.join(by_region.values())}"))
    elif role == "articulador" and region is None:
        found.append(Problem(line, "region", "un articulador necesita su región"))
    codes, bad = parse_codes(cell(raw.get("entidades")))
    unknown = bad + [c for c in codes if c not in entity_codes]
    if unknown:
        found.append(Problem(line, "entidades", f"códigos desconocidos: {', '.join(unknown)}"))
    if role == "enlace" and not codes and not unknown:
        found.append(Problem(line, "entidades", "un enlace necesita al menos una entidad (códigos DIVIPOLA)"))
    if role == "articulador" and codes:
        found.append(Problem(line, "entidades", "las entidades son de los enlaces; el articulador cubre su región"))
    username = cell(raw.get("usuario")).lower() or None
    if username is not None and not _USERNAME.fullmatch(username):
        found.append(Problem(line, "usuario", f"{username!r}: use letras, números, punto, guion o guion bajo"))
    active_text = cell(raw.get("activo"))
    active = parsing.parse_yes_no(active_text) if active_text else "si"
    if active is None:
        found.append(Problem(line, "activo", f"{active_text!r}: use si o no"))
    if found:
        return None, found
    return Member(role, name, channel, address, email, region, tuple(codes), username, active == "si", line), []


def _conflicts(people: list[Member]) -> list[Problem]:
    """An entity with two enlaces, or a region with two active articuladores, in the same file."""
    problems: list[Problem] = []
    covered: dict[str, Member] = {}
    articulators: dict[str, Member] = {}
    for person in people:
        if not person.active:
            continue
        for code in person.entities:
            other = covered.setdefault(code, person)
            if other is not person:
                problems.append(Problem(person.line, "entidades",
                                        f"{code} ya lo cubre {other.name} (fila {other.line}): un enlace por entidad"))
        if person.role == "articulador" and person.region:
            other = articulators.setdefault(person.region, person)
            if other is not person:
                problems.append(Problem(person.line, "region", f"{person.region} ya tiene articulador(a): "
                                                               f"{other.name} (fila {other.line})"))
    return problems


# ------------------------------------------------------------------ writing


def known_codes(conn: Connection) -> set[str]:
    """Entities that may be covered: DIVIPOLA and the grupos de valor that were not rejected."""
    return set(conn.execute(select(ENTITIES.c.code).where(
        (ENTITIES.c.validation.is_(None)) | (ENTITIES.c.validation != "rechazada"))).scalars())


def import_file(conn: Connection, path: Path, *, skip_invalid: bool = False, replace_all: bool = False,
                now: datetime | None = None) -> Report:
    return import_rows(conn, read_rows(path), skip_invalid=skip_invalid, replace_all=replace_all, now=now)


def import_rows(conn: Connection, raw_rows: Iterable[dict[str, Any]], *, skip_invalid: bool = False,
                replace_all: bool = False, now: datetime | None = None) -> Report:
    """Validate, then upsert every person (nothing is written when a row is bad, unless
    ``skip_invalid``; then the people with a problem are left out)."""
    now = now or utcnow()
    people, problems = validate(raw_rows, known_codes(conn), store.regions(conn))
    report = Report(problems=problems)
    if problems and not skip_invalid:
        return report
    bad_lines = {p.line for p in problems}
    existing = {(r.role, parsing.normalize(r.name)): r.id for r in conn.execute(select(STAFF.c.id, STAFF.c.role,
                                                                                       STAFF.c.name))}
    before = _coverage(conn)
    kept: set[int] = set()
    for person in people:
        if person.line in bad_lines:
            continue
        staff_id, outcome = _upsert(conn, person, existing.get(person.key), now)
        _cover(conn, staff_id, person.entities)
        if outcome == "unchanged" and _coverage(conn, staff_id) != {c: staff_id for c, s in before.items()
                                                                    if s == staff_id}:
            outcome = "updated"
        setattr(report, outcome, getattr(report, outcome) + 1)
        kept.add(staff_id)
    if replace_all:
        gone = conn.execute(update(STAFF).where(STAFF.c.id.not_in(kept), STAFF.c.active.is_(True))
                            .values(active=False, updated_at=now))
        report.deactivated = int(gone.rowcount or 0)
    after = _coverage(conn)
    report.reassigned = sorted(c for c, s in after.items() if before.get(c) not in (None, s))
    follow_coverage(conn, now)
    report.written = True
    if not settings.current().der_whatsapp_content_sid:
        report.no_template = list(conn.execute(select(STAFF.c.name).where(
            STAFF.c.active.is_(True), STAFF.c.channel == "whatsapp").order_by(STAFF.c.name)).scalars())
    return report


def save(conn: Connection, raw: dict[str, Any], *, staff_id: int | None = None,
         now: datetime | None = None) -> tuple[int | None, list[Problem], list[str]]:
    """One person from the panel's form (the same columns as the file). Returns their id, the
    problems (nothing written when there are any) and the entities taken from another enlace."""
    now = now or utcnow()
    people, problems = validate([raw], known_codes(conn), store.regions(conn))
    if problems:
        return None, problems, []
    person = people[0]
    if person.active and person.role == "articulador":
        taken = conn.execute(select(STAFF.c.name).where(STAFF.c.role == "articulador", STAFF.c.region == person.region,
                                                        STAFF.c.active.is_(True), STAFF.c.id != (staff_id or 0))
                             ).scalar()
        if taken is not None:
            return None, [Problem(2, "region", f"{person.region} ya tiene articulador(a): {taken}; "
                                               "desactívelo primero")], []
    if staff_id is None:  # a new entry with the name of someone already there updates them
        staff_id = next((r.id for r in conn.execute(select(STAFF.c.id, STAFF.c.name).where(STAFF.c.role == person.role))
                         if parsing.normalize(r.name) == person.key[1]), None)
    before = _coverage(conn)
    staff_id, _ = _upsert(conn, person, staff_id, now)
    _cover(conn, staff_id, person.entities)
    follow_coverage(conn, now)
    return staff_id, [], sorted(c for c in person.entities if before.get(c) not in (None, staff_id))


def follow_coverage(conn: Connection, now: datetime) -> int:
    """Give each open ticket the enlace who covers its entity now (an event by ``sistema`` says so),
    after the directory changed: an entity taken over by another enlace, an enlace deactivated, an
    entity that had none. Otherwise its requests would stay with someone who no longer sees them (an
    enlace's panel and report show the tickets assigned to them). A ticket whose assignee the DER
    chose keeps that assignee. Returns how many tickets moved."""
    enlaces = {row.entity_code: row for row in conn.execute(
        select(COVERAGE.c.entity_code, STAFF.c.id, STAFF.c.name).join(STAFF, STAFF.c.id == COVERAGE.c.staff_id)
        .where(STAFF.c.active.is_(True)))}
    names: dict[int, str] = {row.id: row.name for row in conn.execute(select(STAFF.c.id, STAFF.c.name))}
    moved = 0
    for ticket in conn.execute(select(TICKETS.c.id, TICKETS.c.entity_code, TICKETS.c.staff_id, TICKETS.c.assignee,
                                      TICKETS.c.status).where(TICKETS.c.status.in_(OPEN),
                                                              TICKETS.c.entity_code.is_not(None))).all():
        enlace = enlaces.get(ticket.entity_code)
        staff_id = enlace.id if enlace is not None else None
        if staff_id == ticket.staff_id:
            continue
        # Not news to the requester: ``updated_at`` stays (the follow-ups count quiet days from it).
        values: dict[str, Any] = {"staff_id": staff_id}
        if ticket.assignee is None or ticket.assignee == names.get(ticket.staff_id):  # the default assignment
            values["assignee"] = enlace.name if enlace is not None else None
        conn.execute(update(TICKETS).where(TICKETS.c.id == ticket.id).values(**values))
        note = (f"asignada a {enlace.name} (enlace territorial): cambió el directorio" if enlace is not None
                else f"sin enlace: {names.get(ticket.staff_id, 'su enlace')} ya no cubre la entidad")
        conn.execute(TICKET_EVENTS.insert(), dict(request_id=ticket.id, from_status=ticket.status,
                                                  to_status=ticket.status, actor=SYSTEM, note=note,
                                                  created_at=now))
        moved += 1
    return moved


_FIELDS = ("role", "name", "channel", "address", "email", "region", "username", "active")


def _upsert(conn: Connection, person: Member, staff_id: int | None, now: datetime) -> tuple[int, str]:
    """Insert or update one person: their id and "created", "updated" or "unchanged"."""
    values = {name: getattr(person, name) for name in _FIELDS}
    if staff_id is None:
        row = dict(values, created_at=now, updated_at=now)
        return int(conn.execute(STAFF.insert(), row).inserted_primary_key[0]), "created"
    current = conn.execute(select(*(STAFF.c[n] for n in _FIELDS)).where(STAFF.c.id == staff_id)).one()
    if dict(current._mapping) == values:
        return staff_id, "unchanged"
    conn.execute(update(STAFF).where(STAFF.c.id == staff_id).values(**values, updated_at=now))
    return staff_id, "updated"


def _cover(conn: Connection, staff_id: int, codes: Sequence[str]) -> None:
    """Make ``codes`` exactly the entities of ``staff_id`` (taking them from whoever had them)."""
    conn.execute(delete(COVERAGE).where((COVERAGE.c.staff_id == staff_id) | COVERAGE.c.entity_code.in_(list(codes))))
    if codes:
        conn.execute(COVERAGE.insert(), [dict(staff_id=staff_id, entity_code=code) for code in codes])


def _coverage(conn: Connection, staff_id: int | None = None) -> dict[str, int]:
    """Entity → the staff id covering it (of one person when ``staff_id`` is given)."""
    query = select(COVERAGE.c.entity_code, COVERAGE.c.staff_id)
    if staff_id is not None:
        query = query.where(COVERAGE.c.staff_id == staff_id)
    return {code: int(sid) for code, sid in conn.execute(query)}


# ------------------------------------------------------------------ reading


# Built once with bind parameters and run on the driver's cursor (surveys/db.py DirectStatement): a
# completed interview's ticket and alerts look these up several times in its turn.
_ENLACE = db.DirectStatement(select(STAFF).join(COVERAGE, COVERAGE.c.staff_id == STAFF.c.id)
                              .where(COVERAGE.c.entity_code == bindparam("b_code"), STAFF.c.active.is_(True)))
_ARTICULADOR = db.DirectStatement(select(STAFF).where(STAFF.c.role == "articulador",
                                                      STAFF.c.region == bindparam("b_region"),
                                                      STAFF.c.active.is_(True)).order_by(STAFF.c.id))


def enlace_for(conn: Connection, entity_code: str | None) -> Any:
    """The active enlace covering ``entity_code`` (a staff row), or None."""
    if not entity_code:
        return None
    return _ENLACE.execute(conn, {"b_code": entity_code}).first()


def articulador_for(conn: Connection, region: str | None) -> Any:
    """The active articulador(a) of ``region`` (a staff row), or None."""
    if not region:
        return None
    return _ARTICULADOR.execute(conn, {"b_region": region}).first()


def scope(conn: Connection, username: str) -> Scope:
    """What the panel account ``username`` (role enlace) may see."""
    people = conn.execute(select(STAFF.c.id, STAFF.c.role, STAFF.c.region).where(
        STAFF.c.username == username.lower(), STAFF.c.active.is_(True))).all()
    ids = frozenset(p.id for p in people)
    regions = frozenset(p.region for p in people if p.role == "articulador" and p.region)
    codes = set(conn.execute(select(COVERAGE.c.entity_code).where(COVERAGE.c.staff_id.in_(list(ids)))).scalars())
    if regions:
        codes |= set(conn.execute(select(ENTITIES.c.code).where(ENTITIES.c.region.in_(list(regions)))).scalars())
    return Scope(frozenset(codes), regions, ids)


def get(conn: Connection, staff_id: int) -> dict[str, Any] | None:
    found = [p for p in listing(conn, include_inactive=True) if p["id"] == staff_id]
    return found[0] if found else None


def listing(conn: Connection, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    """The directory: articuladores by region, then enlaces by name, each with their entities."""
    query = select(STAFF).order_by(STAFF.c.role.desc(), STAFF.c.region, STAFF.c.name)
    if not include_inactive:
        query = query.where(STAFF.c.active.is_(True))
    rows = conn.execute(query).all()
    covered: dict[int, list[dict[str, Any]]] = {}
    for staff_id, code in conn.execute(select(COVERAGE.c.staff_id, COVERAGE.c.entity_code)
                                       .order_by(COVERAGE.c.entity_code)):
        covered.setdefault(staff_id, []).append(store.entity_json(conn, code) or {"code": code})
    return [{"id": r.id, "role": r.role, "name": r.name, "channel": r.channel, "address": r.address,
             "email": r.email, "region": r.region, "username": r.username, "active": r.active,
             "entities": covered.get(r.id, [])} for r in rows]


def as_form(person: dict[str, Any]) -> dict[str, str]:
    """A person as the panel's form shows it (the file's columns)."""
    return {"rol": person["role"], "nombre": person["name"], "canal": person["channel"] or "",
            "direccion": person["address"] or "", "correo": person["email"] or "", "region": person["region"] or "",
            "entidades": " ".join(e["code"] for e in person["entities"]), "usuario": person["username"] or "",
            "activo": "si" if person["active"] else "no"}
