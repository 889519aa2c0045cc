"""Requests that arrive by phone, e-mail, in person or by letter: the DER registers them
(``POST /api/v1/help-requests`` and the panel's "Registrar solicitud"), with their channel of
origin, so that every request is in the same queue, terms, alerts and report as the chat's.

The fields are those of the chat's intake (``solicitud``) plus the requester's name, cargo, phone
and e-mail. A requester who already chats with the bot about the same entity (the phone given is
their WhatsApp or SMS number) is linked to that conversation and hears about changes there; anyone
else is kept as a contact on the channel of origin, and the DER answers them the same way. A grupo
de valor outside DIVIPOLA can be registered with the request (``new_entity``): it waits for the
DER's validation like one registered in the chat (bot.helpdesk.grupos).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from bot.directory.contacts import normalize_address
from bot.helpdesk import grupos, terms, ticketing
from bot.helpdesk.themes import KeywordClassifier, load_taxonomy
from surveys import schema, store
from surveys.entities import NATIONAL_DEPT
from surveys.models import Contact

CONTACTS = Contact.__table__
MAX_NEED = 4000
# The API takes these exactly as webhooks/openapi.yaml describes them (the panel tidies what is typed),
# read as JSON Schema reads a pattern (a search), so that the document and the server agree. White
# space is spelled out (what str.strip removes): ``\s`` differs between Python and JSON Schema's ECMA.
_SPACE = r"\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_SEP = fr"[{_SPACE}\-().]*"  # spaces, dashes, dots or brackets between the digits of a phone
PATTERNS = {
    "visible": re.compile(fr"[^{_SPACE}]"),  # a text that is not only white space
    "email": re.compile(fr"^([^@{_SPACE}]+@[^@{_SPACE}]+\.[^@{_SPACE}]+)$"),
    # E.164, a Colombian mobile's 10 digits, or 57 and them
    "phone": re.compile(fr"^({_SEP}(\+{_SEP}[1-9]({_SEP}[0-9]){{7,14}}|3({_SEP}[0-9]){{9}}"
                        fr"|5{_SEP}7({_SEP}[0-9]){{10}}){_SEP})$"),
    "entity_code": re.compile(r"^([0-9]{2}|[0-9]{5}|X[0-9]{4})$"),  # gobernación, alcaldía, grupo de valor
    "department": re.compile(r"^([0-9]{2})$"),
}
_INTAKE = schema.builtin("solicitud")
FIELDS = ("entity", "new_entity", "channel", "need", "themes", "request_type", "support_type", "phase",
          "continuity", "urgent", "requested_by_date", "requester")


class IntakeError(ValueError):
    """A field the request cannot take; ``field`` names it (the API answers 400, the panel shows it)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


class UnknownReference(IntakeError):
    """A well-formed code of an entity or department that does not exist (the API answers 404)."""


def _choices(list_name: str) -> tuple[str, ...]:
    return tuple(c.name for c in _INTAKE.choice_lists[list_name])


@dataclass(frozen=True)
class OfflineRequest:
    channel: str  # ticketing.ORIGINS
    need: str
    entity: str | None = None  # a known entity's code
    new_entity: dict[str, str] | None = None  # {"name", "group", "department"}: a grupo de valor to validate
    themes: tuple[str, ...] = ()
    request_type: str | None = None
    support_type: str | None = None
    phase: str | None = None
    continuity: str | None = None
    urgent: bool = False
    requested_by_date: str | None = None
    requester_name: str | None = None
    requester_cargo: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None


def parse(conn: Connection, data: dict[str, Any]) -> OfflineRequest:
    """Validate what the API's body or the panel's form says; IntakeError names the first bad field."""
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise IntakeError(sorted(unknown)[0], f"unknown field; allowed: {', '.join(FIELDS)}")
    _no_nulls(data)
    channel = data.get("channel")
    if not isinstance(channel, str) or channel not in ticketing.ORIGINS:
        raise IntakeError("channel", f"use one of {', '.join(ticketing.ORIGINS)}")
    need = _text(data, "need", MAX_NEED)
    if not need:
        raise IntakeError("need", "describe the request (1–4,000 characters)")
    entity, new_entity = data.get("entity"), data.get("new_entity")
    if (entity is None) == (new_entity is None):
        raise IntakeError("entity", "give the entity's code, or new_entity for a grupo de valor outside DIVIPOLA")
    if entity is not None:
        if not isinstance(entity, str) or not PATTERNS["entity_code"].search(entity):
            raise IntakeError("entity", "a DIVIPOLA code (05001, or 05 for a gobernación) or a grupo de valor's X0001")
        found = store.entity(conn, entity)
        if found is None or _rejected(conn, entity):
            raise UnknownReference("entity", f"no entity {entity!r}")
    else:
        new_entity = _new_entity(conn, new_entity)
    themes = data.get("themes")
    if themes is not None:
        known = set(load_taxonomy().ids)
        if not isinstance(themes, list) or not themes or not all(isinstance(t, str) and t in known for t in themes):
            raise IntakeError("themes",
                              f"a list of theme ids from bot/helpdesk/themes.yaml: {', '.join(sorted(known))}")
    request_type = _choice(data, "request_type", terms.load().ids)
    urgent = data.get("urgent", False)
    if not isinstance(urgent, bool):
        raise IntakeError("urgent", "true or false")
    requester = data.get("requester", {})
    if not isinstance(requester, dict) or set(requester) - {"name", "cargo", "phone", "email"}:
        raise IntakeError("requester", "an object with name, cargo, phone and email (all optional)")
    _no_nulls(requester, "requester.")
    phone = requester.get("phone")
    if phone is not None:
        if not isinstance(phone, str) or not PATTERNS["phone"].search(phone):
            raise IntakeError("requester.phone", "a phone number such as +573001234567 or 3001234567")
        phone = normalize_address("whatsapp", phone)
    email = _text(requester, "email", 120)
    if email is not None and not PATTERNS["email"].search(requester["email"]):
        raise IntakeError("requester.email", "not an e-mail address")
    return OfflineRequest(
        channel=channel, need=need, entity=entity, new_entity=new_entity,
        themes=tuple(dict.fromkeys(themes or ())), request_type=request_type,
        support_type=_choice(data, "support_type", _choices("tipo_apoyo")), phase=_choice(data, "phase",
                                                                                        _choices("fase")),
        continuity=_choice(data, "continuity", ticketing.CONTINUITY), urgent=urgent,
        requested_by_date=_text(data, "requested_by_date", 80), requester_name=_text(requester, "name", 120),
        requester_cargo=_text(requester, "cargo", 60), phone=phone, email=email)


def register(conn: Connection, request: OfflineRequest, *, actor: str, now: datetime, source: str = "api",
             alerts: Any = None) -> ticketing.Created:
    """Store the request as a ticket (and its grupo de valor, and its requester)."""
    code = request.entity
    if code is None:
        assert request.new_entity is not None
        seat = store.entity(conn, request.new_entity["department"]) if request.new_entity["department"] != \
            NATIONAL_DEPT else None
        code = grupos.register(conn, group=request.new_entity["group"], name=request.new_entity["name"],
                               seat=_Seat(seat) if seat is not None else None, now=now, alerts=alerts)
    themes = list(request.themes) or [t for t, _ in KeywordClassifier(load_taxonomy()).classify(request.need)] \
        or ["otro"]
    return ticketing.create(
        conn, entity_code=code, region=None, contact_id=_requester(conn, request, code, now), channel=request.channel,
        need=request.need, themes=themes, now=now, support_type=request.support_type, phase=request.phase,
        urgent=request.urgent, requested_by_date=request.requested_by_date, source=source, actor=actor,
        alerts=alerts, request_type=request.request_type, continuity=request.continuity)


@dataclass(frozen=True)
class _Seat:
    """A gobernación as the seat of a grupo de valor registered by the DER."""

    entity: Any

    @property
    def dept_code(self) -> str:
        return str(self.entity.code)

    @property
    def dept_name(self) -> str:
        return str(self.entity.dept_name)


def _requester(conn: Connection, request: OfflineRequest, entity_code: str, now: datetime) -> int | None:
    """The contact the ticket belongs to: their chat when they already talk to the bot for this
    entity, else a contact on the channel of origin (None when nothing about them was given)."""
    if request.phone is not None:
        chat = conn.execute(select(CONTACTS.c.id).where(
            CONTACTS.c.address == request.phone, CONTACTS.c.channel.in_(("whatsapp", "sms")),
            CONTACTS.c.entity_code == entity_code, CONTACTS.c.consent.is_(True), CONTACTS.c.opted_out.is_(False),
            CONTACTS.c.forgotten_at.is_(None))).scalar()
        if chat is not None:
            return int(chat)
    if not (request.requester_name or request.phone or request.email):
        return None
    address = (request.phone if request.channel == "telefono" else request.email) or request.phone or request.email \
        or f"sin-dato-{secrets.token_hex(6)}"
    known = conn.execute(select(CONTACTS.c.id).where(CONTACTS.c.channel == request.channel,
                                                     CONTACTS.c.address == address)).scalar()
    values = dict(name=request.requester_name, cargo=request.requester_cargo, entity_code=entity_code)
    if known is not None:
        conn.execute(CONTACTS.update().where(CONTACTS.c.id == known).values(
            **{k: v for k, v in values.items() if v is not None}))
        return int(known)
    return int(conn.execute(CONTACTS.insert(), dict(channel=request.channel, address=address, state={},
                                                    state_version=0, opted_out=False, created_at=now, **values)
                            ).inserted_primary_key[0])


def _new_entity(conn: Connection, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) - {"name", "group", "department"}:
        raise IntakeError("new_entity", "an object with name, group and department")
    _no_nulls(value, "new_entity.")
    name = _text(value, "name", 120)
    if not name:
        raise IntakeError("new_entity.name", "the grupo de valor's name (up to 120 characters)")
    group = value.get("group", "otro")
    if not isinstance(group, str) or group not in grupos.GROUPS:
        raise IntakeError("new_entity.group", f"use one of {', '.join(grupos.GROUPS)}")
    department = value.get("department", NATIONAL_DEPT)
    if not isinstance(department, str) or not PATTERNS["department"].search(department):
        raise IntakeError("new_entity.department", "a department's 2-digit DIVIPOLA code, or 00 (national)")
    if department != NATIONAL_DEPT:
        found = store.entity(conn, department)
        if found is None or found.kind != "gobernacion":
            raise UnknownReference("new_entity.department", f"no department {department!r}")
    return {"name": name, "group": group, "department": department}


def _no_nulls(data: dict[str, Any], prefix: str = "") -> None:
    """null is not a value: a field is given or left out, as the document says."""
    for name, value in data.items():
        if value is None:
            raise IntakeError(prefix + name, "null is not a value; leave the field out")


def _rejected(conn: Connection, code: str) -> bool:
    from surveys.models import Entity

    return conn.execute(select(Entity.validation).where(Entity.code == code)).scalar() == grupos.REJECTED


def _text(data: dict[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise IntakeError(name, f"a text of at most {limit} characters")
    if name == "need":  # the requester's words, line breaks included
        return value.strip() or None
    return " ".join(value.split()) or None


def _choice(data: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise IntakeError(name, f"use one of {', '.join(allowed)}")
    return str(value)
