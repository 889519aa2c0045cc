"""Monthly waves (the practice of the 2020 Monitoreo 360 informe de percepción; the DNP's Modelo Integrado de
Llegada a Territorio adds: at least quarterly, only of those who consent): a questionnaire + a period + a
sample of entities + a schedule, as one operation the DER can create, launch, follow and close.

- ``create`` builds the frame (entities with a consenting, non-opted-out contact; the rest are
  listed as "sin contacto"), draws the stratified sample (bot.waves.sampling) and stores frame, strata,
  seed and draw.
- ``launch`` opens the wave; ``dispatch`` (run at launch and by the scheduler, bot.waves.scheduler)
  queues invitations and reminders through the outbox, only within office hours. A message never
  breaks a conversation in progress (``bot.conversation.invite`` says when one is), never goes to an
  entity whose ticket a DER staff member is handling, and never twice (dedupe keys: re-launching
  never re-invites). The invitation sets the contact's pending invitation in the same transaction,
  so their next message opens that wave's interview.
- Reminders go after ``reminder_days`` business days (default 2 and 5) to entities that have not
  completed or declined, through contacts that have not opted out; each keeps its gap after the
  one before, so reminders owed after a pause of the scheduler are spread, not sent together.
- ``close`` ends the wave; answers after its closing time are still stored, and counted as late.
- ``progress`` is derived from the members, the outbox and the interviews (nothing else to keep in step).

WhatsApp outside the 24-hour window needs approved templates (bot/channels/templates.yaml:
``invitation`` and ``reminder``, SIDs in ``M360_WAVE_INVITATION_CONTENT_SID`` and
``M360_WAVE_REMINDER_CONTENT_SID``; variables 1 = name, 2 = entity, 3 = month).
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from bot.channels import templates
from bot.conversation import ConversationState, Mode, WaveInvitation, invite, stored
from bot.conversation.prompts import prompt_token
from bot.helpdesk import deadlines
from bot.outbox import sending
from bot.waves import sampling
from surveys import db, formats, schema, settings, store
from surveys.models import (
    Contact,
    Entity,
    Interview,
    Invitation,
    OutboxMessage,
    Ticket,
    Wave,
    WaveMember,
    utcnow,
)
from surveys.statuses import InterviewStatus
from surveys.texts import texts
from surveys.tickets import HANDLED

WAVES = Wave.__table__
MEMBERS = WaveMember.__table__
CONTACTS = Contact.__table__
ENTITIES = Entity.__table__
INTERVIEWS = Interview.__table__
REQUESTS = Ticket.__table__
OUTBOX = OutboxMessage.__table__
INVITATIONS = Invitation.__table__
LINK_DAYS = 30  # a wave's links keep working this long after it closes (late answers)

TZ = formats.TZ
# Channels a wave writes through: the outbox can deliver there, and they are not test data (a
# simulator conversation may claim any entity: it must never receive that entity's invitation).
REACHABLE = ("whatsapp", "telegram", "sms")
DEFAULT_REMINDERS = (2, 5)
BATCH = 250  # members per transaction: chat turns are not kept waiting behind a census

# Built once (a census queues a thousand invitations; building statements cost more than running them).
_SET_MEMBER = MEMBERS.update().where(MEMBERS.c.id == bindparam("b_id"))


class WaveError(ValueError):
    pass


@dataclass(frozen=True)
class Spec:
    """What ``m360 wave create`` takes."""

    period: str
    size: int | None = 52  # None: census (every eligible entity)
    gobernaciones: int | None = None
    seed: int | None = None
    regions: tuple[str, ...] = ()
    pdet_only: bool = False
    exclude_recent: int = 0  # leave out entities sampled in the previous K waves
    questionnaire: str = "monitoreo360"
    reminder_days: tuple[int, ...] = DEFAULT_REMINDERS
    closes_at: datetime | None = None  # default: the end of the period (Bogotá)
    name: str | None = None

    @classmethod
    def from_params(cls, period: str, params: dict[str, Any]) -> Spec:
        known = {k: v for k, v in params.items() if k in cls.__dataclass_fields__ and k != "period"}
        for key in ("regions", "reminder_days"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(period=period, **known)


@dataclass
class Created:
    id: int
    entities: list[str]
    strata: dict[str, int]
    frame: int
    no_contact: list[str]
    excluded: list[str]
    seed: int


@dataclass
class Dispatched:
    invited: int = 0
    reminded: int = 0
    waiting: dict[str, int] = field(default_factory=dict)

    def add(self, other: Dispatched) -> None:
        self.invited += other.invited
        self.reminded += other.reminded
        for k, v in other.waiting.items():
            self.waiting[k] = self.waiting.get(k, 0) + v


# ------------------------------------------------------------------ creating


def month_name(period: str) -> str:
    year, month = period.split("-")
    return f"{texts()(f'wave.month.{int(month)}')} de {year}"


def end_of_period(period: str) -> datetime:
    year, month = (int(x) for x in period.split("-"))
    last = calendar.monthrange(year, month)[1]
    return datetime.combine(date(year, month, last), time(23, 59, 59), TZ)


def _eligible_contacts(conn: Connection) -> dict[str, int]:
    """Entity → the contact a wave writes to: consenting, not opted out, on a channel the outbox
    reaches; the one heard from most recently (then the oldest) when there are several."""
    rows = conn.execute(
        select(CONTACTS.c.id, CONTACTS.c.entity_code, CONTACTS.c.last_inbound_at)
        .where(CONTACTS.c.entity_code.is_not(None), CONTACTS.c.consent.is_(True), CONTACTS.c.opted_out.is_(False),
               CONTACTS.c.channel.in_(REACHABLE))
    )
    best: dict[str, tuple[float, int]] = {}
    for contact_id, code, last in rows:
        key = (-(last.timestamp() if last else 0.0), contact_id)
        if code not in best or key < best[code]:
            best[code] = key
    return {code: key[1] for code, key in best.items()}


def _recently_sampled(conn: Connection, waves: int) -> set[str]:
    if waves <= 0:
        return set()
    recent = select(WAVES.c.id).where(WAVES.c.status.in_(("en_curso", "cerrada"))) \
        .order_by(WAVES.c.period.desc(), WAVES.c.id.desc()).limit(waves).subquery()
    return set(conn.execute(select(MEMBERS.c.entity_code).where(MEMBERS.c.wave_id.in_(select(recent.c.id))))
               .scalars())


def create(conn: Connection, spec: Spec, *, now: datetime | None = None, actor: str = "cli",
           schedule_id: int | None = None) -> Created:
    """Draw and store a wave (status creada). Raises WaveError when the sample cannot be drawn."""
    now = now or utcnow()
    if not _valid_period(spec.period):
        raise WaveError(f"period must be YYYY-MM, got {spec.period!r}")
    questionnaire = _questionnaire_key(conn, spec.questionnaire)
    query = select(ENTITIES.c.code, ENTITIES.c.region, ENTITIES.c.kind, ENTITIES.c.pdet) \
        .where(ENTITIES.c.kind.in_(("alcaldia", "gobernacion")))
    if spec.regions:
        query = query.where(ENTITIES.c.region.in_(spec.regions))
    if spec.pdet_only:
        query = query.where(ENTITIES.c.pdet.is_(True))
    entities = conn.execute(query.order_by(ENTITIES.c.code)).all()
    if spec.regions:
        unknown = set(spec.regions) - {e.region for e in entities}
        if unknown:
            raise WaveError(f"unknown or empty regions: {', '.join(sorted(unknown))}")
    contacts = _eligible_contacts(conn)
    recent = _recently_sampled(conn, spec.exclude_recent)
    no_contact = [e.code for e in entities if e.code not in contacts]
    excluded = [e.code for e in entities if e.code in contacts and e.code in recent]
    units = [sampling.Unit(e.code, e.region or "Sin región", e.kind) for e in entities
             if e.code in contacts and e.code not in recent]
    seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
    try:
        sample = sampling.draw(units, spec.size, seed, spec.gobernaciones)
    except sampling.SampleError as exc:
        raise WaveError(str(exc)) from exc
    closes_at = spec.closes_at or end_of_period(spec.period)
    frame = {"eligible": len(units), "by_region": {r: s["frame"] for r, s in sample.strata.items()},
             "sin_contacto": no_contact, "excluidas_recientes": excluded}
    wave_id = int(conn.execute(WAVES.insert(), dict(
        name=spec.name or f"Monitoreo 360 · {month_name(spec.period)}", questionnaire=questionnaire,
        period=spec.period, mode="censo" if spec.size is None else "muestra", size=len(sample.drawn),
        gobernaciones=spec.gobernaciones, seed=seed,
        filters={"regions": list(spec.regions), "pdet_only": spec.pdet_only, "exclude_recent": spec.exclude_recent},
        frame=frame, strata=sample.strata, reminder_days=list(spec.reminder_days), status="creada",
        closes_at=closes_at, schedule_id=schedule_id, created_by=actor, created_at=now,
    )).inserted_primary_key[0])
    if sample.drawn:
        conn.execute(MEMBERS.insert(), [dict(wave_id=wave_id, entity_code=d.unit.code, region=d.unit.region,
                                             rank=d.rank, contact_id=contacts[d.unit.code], reminders=0)
                                        for d in sample.drawn])
    return Created(wave_id, sorted(d.unit.code for d in sample.drawn),
                   {r: int(s["sample"]) for r, s in sample.strata.items()}, len(units), no_contact, excluded, seed)


def _valid_period(period: str) -> bool:
    try:
        datetime.strptime(period, "%Y-%m")
    except ValueError:
        return False
    return len(period) == 7


def _questionnaire_key(conn: Connection, name: str) -> str:
    """The stored key (id@version) of a shipped questionnaire, storing it if new."""
    from sqlalchemy.orm import Session

    q = schema.builtin(name.split("@")[0])
    with Session(bind=conn) as session:
        store.QuestionnaireStore().ensure(session, q)
        session.flush()
    return q.key


# ------------------------------------------------------------------ launching and closing


def get(conn: Connection, wave_id: int) -> Any:
    wave = conn.execute(select(WAVES).where(WAVES.c.id == wave_id)).one_or_none()
    if wave is None:
        raise WaveError(f"no wave #{wave_id}")
    return wave


def launch(engine: Engine, wave_id: int, *, now: datetime | None = None, at: datetime | None = None,
           hours: OfficeHours | None = None) -> Dispatched:
    """Open the wave and queue what office hours allow now (the scheduler sends the rest). With
    ``at``, the wave is only scheduled (status programada) and the scheduler launches it then.
    Launching again is harmless: nobody is invited twice."""
    now = now or utcnow()
    with db.transaction(engine) as conn:
        wave = get(conn, wave_id)
        if wave.status == "cerrada":
            raise WaveError(f"wave #{wave_id} is closed")
        if wave.closes_at is not None and wave.closes_at <= (at if at is not None and at > now else now):
            # A past period's wave (its default closing is the end of its month): inviting now would only
            # collect late answers. Create it again with a later closing date.
            raise WaveError(f"wave #{wave_id} closes at {wave.closes_at.astimezone(TZ):%Y-%m-%d %H:%M} (Bogotá), "
                            "before it would open; create it with a later closing date (closes_at)")
        if at is not None and at > now and wave.status in ("creada", "programada"):
            conn.execute(update(WAVES).where(WAVES.c.id == wave_id).values(status="programada", launch_at=at))
            return Dispatched()
        if wave.status != "en_curso":
            conn.execute(update(WAVES).where(WAVES.c.id == wave_id)
                         .values(status="en_curso", launched_at=now, launch_at=wave.launch_at or now))
    return dispatch(engine, wave_id, now=now, hours=hours)


def close(conn: Connection, wave_id: int, *, now: datetime | None = None) -> Any:
    """No more invitations or reminders. Interviews still running may finish: they count as late."""
    now = now or utcnow()
    wave = get(conn, wave_id)
    if wave.status != "cerrada":
        values: dict[str, Any] = dict(status="cerrada", closed_at=now)
        if wave.closes_at is None or wave.closes_at > now:
            values["closes_at"] = now
        conn.execute(update(WAVES).where(WAVES.c.id == wave_id).values(**values))
    return get(conn, wave_id)


# ------------------------------------------------------------------ office hours


@dataclass(frozen=True)
class OfficeHours:
    """When proactive messages may go: business days (Colombian holidays) between ``start`` and
    ``end``, local time. ``M360_OFFICE_HOURS`` (default ``08:00-17:00``)."""

    start: time = time(8, 0)
    end: time = time(17, 0)
    tz: ZoneInfo = TZ

    @classmethod
    def from_env(cls) -> OfficeHours:
        start, end = settings.current().office_hours
        return cls(start, end)

    def open(self, now: datetime) -> bool:
        local = now.astimezone(self.tz)
        return deadlines.is_business_day(local.date()) and self.start <= local.time() < self.end

    def next_open(self, now: datetime) -> datetime:
        """``now`` if open, else when office hours next begin."""
        if self.open(now):
            return now
        local = now.astimezone(self.tz)
        day = local.date() if local.time() < self.start else local.date() + timedelta(days=1)
        while not deadlines.is_business_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, self.start, self.tz)


# ------------------------------------------------------------------ invitations and reminders


def dispatch(engine: Engine, wave_id: int, *, now: datetime | None = None,
             hours: OfficeHours | None = None) -> Dispatched:
    """Queue the invitations and reminders that are due for one open wave (outside office hours,
    nothing). Each batch of members is one transaction."""
    now = now or utcnow()
    hours = hours or OfficeHours.from_env()
    total = Dispatched()
    if not hours.open(now):
        return total
    with engine.connect() as conn:
        wave = get(conn, wave_id)
        if wave.status != "en_curso" or (wave.closes_at is not None and wave.closes_at <= now):
            return total  # past its closing time: the scheduler closes it, nobody is invited to a closed wave
        member_ids = list(conn.execute(select(MEMBERS.c.id).where(MEMBERS.c.wave_id == wave_id)
                                       .order_by(MEMBERS.c.id)).scalars())
    for start in range(0, len(member_ids), BATCH):
        with db.transaction(engine) as conn:
            total.add(_dispatch_batch(conn, wave, member_ids[start:start + BATCH], now, hours))
    return total


def _dispatch_batch(conn: Connection, wave: Any, member_ids: Sequence[int], now: datetime,
                    hours: OfficeHours) -> Dispatched:
    done = Dispatched()
    # Locked (PostgreSQL): two schedulers running at once decide each member once.
    members = conn.execute(select(MEMBERS).where(MEMBERS.c.id.in_(member_ids)).order_by(MEMBERS.c.id)
                           .with_for_update()).all()
    codes = [m.entity_code for m in members]
    outcome = _outcomes(conn, wave.id, codes)
    handled = set(conn.execute(select(REQUESTS.c.entity_code).where(REQUESTS.c.entity_code.in_(codes),
                                                                   REQUESTS.c.status.in_(HANDLED))).scalars())
    entities = {e.code: e for e in conn.execute(select(ENTITIES.c.code, ENTITIES.c.name, ENTITIES.c.kind,
                                                       ENTITIES.c.dept_name).where(ENTITIES.c.code.in_(codes)))}
    reachable: dict[str, int] | None = None
    contact_ids = {m.contact_id for m in members if m.contact_id is not None}
    contacts = {c.id: c for c in conn.execute(
        select(CONTACTS.c.id, CONTACTS.c.channel, CONTACTS.c.address, CONTACTS.c.name, CONTACTS.c.consent,
               CONTACTS.c.opted_out, CONTACTS.c.entity_code, CONTACTS.c.state, CONTACTS.c.state_version)
        .where(CONTACTS.c.id.in_(contact_ids)).with_for_update())}
    invitation = WaveInvitation(wave.id, wave.period, wave.questionnaire)
    open_waves = set(conn.execute(select(WAVES.c.id).where(WAVES.c.status == "en_curso")).scalars())
    for member in members:
        if outcome.get(member.entity_code) in (InterviewStatus.COMPLETA, InterviewStatus.RECHAZADA):
            _wait(conn, member, None)
            continue
        contact = contacts.get(member.contact_id) if member.contact_id is not None else None
        if not _reachable(contact, member.entity_code):
            if member.invitation_id is not None:  # invited, then opted out or withdrew: never chased
                _wait(conn, member, "baja")
                continue
            reachable = reachable if reachable is not None else _eligible_contacts(conn)
            replacement = reachable.get(member.entity_code)
            contact = _contact(conn, replacement) if replacement is not None else None
            if contact is None:
                _wait(conn, member, "sin_contacto", done)
                continue
            conn.execute(update(MEMBERS).where(MEMBERS.c.id == member.id).values(contact_id=contact.id))
        if member.entity_code in handled:
            _wait(conn, member, "ticket", done)
            continue
        kind = _due(wave, member, now)
        if kind is None:
            _wait(conn, member, None)
            continue
        state = ConversationState.from_json(contact.state)
        started = outcome.get(member.entity_code) in InterviewStatus.unfinished()
        if kind == "reminder" and state.mode == Mode.INTERVIEW and state.wave == wave.id and not state.paused:
            _wait(conn, member, None)  # answering right now: a reminder would only interrupt
            continue
        pending = state.invitation.wave if state.invitation else None
        if pending not in (None, wave.id) and pending in open_waves:
            _wait(conn, member, "otra_ola", done)  # one wave at a time: this one waits until that is answered
            continue
        invited = invite(state, invitation)
        if invited is None:
            _wait(conn, member, "conversacion", done)
            continue
        entity = entities[member.entity_code]
        # The next message answers the invitation.
        saved = stored.save(conn, contact.id, contact.state_version, invited)
        message_id = _queue(conn, wave, member, contact, entity, kind, started, now, prompt_token(saved))
        values: dict[str, Any] = dict(b_id=member.id, contact_id=contact.id, waiting=None)
        if kind == "invitation":
            values.update(invitation_id=message_id, invited_at=now)
            done.invited += 1
        else:
            values.update(reminder_id=message_id, reminded_at=now, reminders=member.reminders + 1)
            done.reminded += 1
        conn.execute(_SET_MEMBER, values)
    return done


def _due(wave: Any, member: Any, now: datetime) -> str | None:
    """"invitation", "reminder" or None (nothing due for this member now)."""
    if member.invitation_id is None:
        return "invitation"
    days = list(wave.reminder_days or ())
    if member.reminders >= len(days) or member.invited_at is None:
        return None
    owed = member.reminders
    today = now.astimezone(TZ).date()
    if deadlines.business_days_between(member.invited_at.astimezone(TZ).date(), today) < int(days[owed]):
        return None
    if owed and member.reminded_at is not None:
        # Each reminder keeps its gap after the one before (at least a business day): after a pause (the
        # scheduler stopped for days, office hours closed) the owed reminders are spread, never sent together.
        gap = max(1, int(days[owed]) - int(days[owed - 1]))
        if deadlines.business_days_between(member.reminded_at.astimezone(TZ).date(), today) < gap:
            return None
    return "reminder"


def _reachable(contact: Any, entity_code: str) -> bool:
    return (contact is not None and contact.consent is True and not contact.opted_out
            and contact.entity_code == entity_code and contact.channel in REACHABLE)


def _contact(conn: Connection, contact_id: int) -> Any:
    return conn.execute(
        select(CONTACTS.c.id, CONTACTS.c.channel, CONTACTS.c.address, CONTACTS.c.name, CONTACTS.c.consent,
               CONTACTS.c.opted_out, CONTACTS.c.entity_code, CONTACTS.c.state, CONTACTS.c.state_version)
        .where(CONTACTS.c.id == contact_id).with_for_update()).one_or_none()


def _wait(conn: Connection, member: Any, reason: str | None, done: Dispatched | None = None) -> None:
    if done is not None and reason is not None:
        done.waiting[reason] = done.waiting.get(reason, 0) + 1
    if member.waiting != reason:
        conn.execute(_SET_MEMBER, {"b_id": member.id, "waiting": reason})


def _queue(conn: Connection, wave: Any, member: Any, contact: Any, entity: Any, kind: str, started: bool,
           now: datetime, prompt: str) -> int:
    t = texts()
    display = entity.name if entity.kind == "gobernacion" else f"{entity.name} ({entity.dept_name})"
    month = month_name(wave.period)
    name = f" {contact.name}" if contact.name else ""
    key = "wave.invitation" if kind == "invitation" else ("wave.reminder_started" if started else "wave.reminder")
    text = t(key, name=name, month=month, entity=display)
    options = [(t("wave.start_button"), t("wave.start_reply"))]
    if not started:
        options.append((t("wave.later_button"), t("wave.later_reply")))
    # The buttons answer the invitation the contact's state now expects (bot.conversation.prompts), nothing later.
    payload: dict[str, Any] = {"prompt": prompt}
    if contact.channel == templates.WHATSAPP:
        # The approved template for outside the 24-hour window: 1 name, 2 entity, 3 month.
        payload.update(templates.payload(kind, {"1": (contact.name or "").strip() or t("wave.nobody"),
                                                "2": display, "3": month}))
    dedupe = f"invite:{wave.id}:{member.entity_code}" if kind == "invitation" \
        else f"remind:{wave.id}:{member.entity_code}:{member.reminders + 1}"
    message_id = sending.enqueue(conn, channel=contact.channel, address=contact.address, contact_id=contact.id,
                                kind=kind, text=text, options=options, payload=payload, dedupe_key=dedupe, now=now)
    if message_id is None:  # queued before (a crash between the queue and the member's update): reuse it
        message_id = conn.execute(select(OUTBOX.c.id).where(OUTBOX.c.dedupe_key == dedupe)).scalar_one()
    return int(message_id)


# ------------------------------------------------------------------ links (Telegram deep links)


def links(conn: Connection, wave_id: int, *, now: datetime | None = None) -> list[tuple[str, str]]:
    """(entity code, token) for every sampled entity: ``t.me/<bot>?start=<token>`` binds the chat to
    the entity and opens the wave's interview (after consent). For people the bot cannot write to
    first (a Telegram bot may only answer those who started it): the DER sends the link by e-mail.
    Tokens made before are reused."""
    now = now or utcnow()
    wave = get(conn, wave_id)
    made = dict(conn.execute(select(INVITATIONS.c.entity_code, INVITATIONS.c.token)
                             .where(INVITATIONS.c.wave_id == wave_id)).all())
    expires = (wave.closes_at or end_of_period(wave.period)) + timedelta(days=LINK_DAYS)
    result = []
    for code in conn.execute(select(MEMBERS.c.entity_code).where(MEMBERS.c.wave_id == wave_id)
                             .order_by(MEMBERS.c.entity_code)).scalars():
        if code not in made:
            made[code] = secrets.token_urlsafe(16)
            conn.execute(INVITATIONS.insert(), dict(token=made[code], entity_code=code, wave_id=wave_id,
                                                    created_at=now, expires_at=expires))
        result.append((code, made[code]))
    return result


def invited_by_link(conn: Connection, token: str, state: ConversationState) -> ConversationState:
    """The state after a deep link: pending on the link's wave when it has one and the contact is
    free (bot.service calls this once the link's entity is bound)."""
    row = conn.execute(select(WAVES.c.id, WAVES.c.period, WAVES.c.questionnaire)
                       .join(INVITATIONS, INVITATIONS.c.wave_id == WAVES.c.id)
                       .where(INVITATIONS.c.token == token)).one_or_none()
    if row is None:
        return state
    invited = invite(state, WaveInvitation(row.id, row.period, row.questionnaire))
    return invited if invited is not None else state


# ------------------------------------------------------------------ progress


def _outcomes(conn: Connection, wave_id: int, codes: Iterable[str] | None = None) -> dict[str, str]:
    """Entity → its best interview status in this wave: completa > rechazada > started (en_curso…)."""
    query = select(INTERVIEWS.c.entity_code, INTERVIEWS.c.status).where(INTERVIEWS.c.wave_id == wave_id)
    if codes is not None:
        query = query.where(INTERVIEWS.c.entity_code.in_(list(codes)))
    rank = {InterviewStatus.COMPLETA: 3, InterviewStatus.RECHAZADA: 2}
    best: dict[str, str] = {}
    for code, status in conn.execute(query):
        if code is None:
            continue
        if code not in best or rank.get(status, 1) > rank.get(best[code], 1):
            best[code] = status
    return best


DELIVERED = ("delivered", "read")
FAILED = ("failed", "undelivered")


def progress(conn: Connection, wave_id: int) -> dict[str, Any]:
    """Invited / delivered / started / completed (and late) / declined / no contact / failed delivery,
    and the response rate by region."""
    wave = get(conn, wave_id)
    members = conn.execute(
        select(MEMBERS.c.entity_code, MEMBERS.c.region, MEMBERS.c.invitation_id, MEMBERS.c.reminders,
               MEMBERS.c.waiting, OUTBOX.c.status.label("delivery"), OUTBOX.c.channel,
               CONTACTS.c.opted_out)
        .outerjoin(OUTBOX, OUTBOX.c.id == MEMBERS.c.invitation_id)
        .outerjoin(CONTACTS, CONTACTS.c.id == MEMBERS.c.contact_id)
        .where(MEMBERS.c.wave_id == wave_id)).all()
    outcome = _outcomes(conn, wave_id)
    late = set()
    if wave.closes_at is not None:
        late = set(conn.execute(select(INTERVIEWS.c.entity_code).where(
            INTERVIEWS.c.wave_id == wave_id, INTERVIEWS.c.status == InterviewStatus.COMPLETA,
            INTERVIEWS.c.finished_at > wave.closes_at)).scalars())
    totals = dict.fromkeys(("sampled", "invited", "delivered", "started", "completed", "late", "declined",
                            "no_contact", "failed", "reminders", "waiting"), 0)
    waiting: dict[str, int] = {}
    regions: dict[str, dict[str, Any]] = {}
    for m in members:
        status = outcome.get(m.entity_code)
        region = regions.setdefault(m.region or "Sin región", {"sampled": 0, "invited": 0, "completed": 0})
        totals["sampled"] += 1
        region["sampled"] += 1
        totals["reminders"] += m.reminders
        if m.invitation_id is not None:
            totals["invited"] += 1
            region["invited"] += 1
            answered = status is not None
            sent_is_delivered = m.delivery == "sent" and m.channel in ("telegram", "simulator")  # no receipts there
            if answered or m.delivery in DELIVERED or sent_is_delivered:
                totals["delivered"] += 1
            elif m.delivery in FAILED:
                totals["failed"] += 1
        if status is not None and status != InterviewStatus.RECHAZADA:
            totals["started"] += 1
        if status == InterviewStatus.COMPLETA:
            totals["completed"] += 1
            region["completed"] += 1
            totals["late"] += m.entity_code in late
        elif status == InterviewStatus.RECHAZADA or (m.invitation_id is not None and m.opted_out):
            totals["declined"] += 1
        if m.invitation_id is None and m.waiting == "sin_contacto":
            totals["no_contact"] += 1
        if m.waiting and m.waiting != "sin_contacto":
            waiting[m.waiting] = waiting.get(m.waiting, 0) + 1
    totals["waiting"] = sum(waiting.values())
    for r in regions.values():
        r["response_rate"] = round(r["completed"] / r["sampled"], 3) if r["sampled"] else 0.0
    totals["response_rate"] = round(totals["completed"] / totals["sampled"], 3) if totals["sampled"] else 0.0
    frame = wave.frame or {}
    return {
        "id": wave.id, "name": wave.name, "questionnaire": wave.questionnaire, "period": wave.period,
        "mode": wave.mode, "status": wave.status, "size": wave.size, "gobernaciones": wave.gobernaciones,
        "seed": wave.seed, "filters": wave.filters, "reminder_days": wave.reminder_days,
        "launch_at": _iso(wave.launch_at), "launched_at": _iso(wave.launched_at), "closes_at": _iso(wave.closes_at),
        "closed_at": _iso(wave.closed_at), "created_at": _iso(wave.created_at), "created_by": wave.created_by,
        "frame": {"eligible": frame.get("eligible"), "by_region": frame.get("by_region", {}),
                  "sin_contacto": len(frame.get("sin_contacto", [])),
                  "excluidas_recientes": len(frame.get("excluidas_recientes", []))},
        "strata": {r: int(s["sample"]) for r, s in (wave.strata or {}).items()},
        "allocation": wave.strata,
        "entities": sorted(m.entity_code for m in members),
        "progress": totals, "waiting": waiting, "regions": dict(sorted(regions.items())),
    }


def listing(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    counts = dict(conn.execute(select(MEMBERS.c.wave_id, func.count()).group_by(MEMBERS.c.wave_id)).all())
    rows = conn.execute(select(WAVES).order_by(WAVES.c.id.desc()).limit(limit)).all()
    return [{"id": w.id, "name": w.name, "period": w.period, "mode": w.mode, "status": w.status,
             "size": counts.get(w.id, 0), "seed": w.seed, "launch_at": _iso(w.launch_at),
             "closes_at": _iso(w.closes_at)} for w in rows]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
