"""Demand alerts for the DER (docs/alerts.md).

Rules (bot/alerts/alerts.yaml, each can be switched off and tuned):

| rule | raised when | dedupe key |
|---|---|---|
| ticket_nuevo | a help request is created (chat or API) | ticket |
| ticket_urgente | … and it is urgent (instead of ticket_nuevo) | ticket |
| contacto_asesor | a completed interview answered 5.2 "Sí" (its ticket is named) | interview |
| insatisfaccion | a completed interview's entity score is below the threshold (3,5) | interview |
| contribucion_no | "No" to a Bloque 4 question | interview |
| tema_mala | Mala/Muy mala on a Bloque 3 theme | interview |
| pico_demanda | ≥ N entities of one region asked for one theme within D days | region+theme, once per window |
| ticket_vencido | an open ticket is past its due date | ticket + due date (+ every N business days late) |
| envio_fallido | a ticket notification could not reach the requester (e.g. no WhatsApp template) | outbox row |
| envio_revisar | a message may or may not have gone out, and the provider cannot tell: a person decides | outbox row |
| entidad_por_validar | a grupo de valor outside DIVIPOLA waits for the DER (bot.helpdesk.grupos) | entity |
| ola_no_creada | a recurring wave could not be drawn this month (bot.waves.scheduler) | schedule+period |

An alert is stored once (unique ``dedupe_key``) in the transaction of what caused it, and queued
in the outbox, in that same transaction, for every destination its rule's ``to:`` names (default
``[der]``): ``der``, the central destinations configured in the environment; ``enlace``, the
enlace territorial who covers the alert's entity; ``articulador``, the articulador(a) of its region
(bot.directory.staff: the directory of ``m360 staff import`` and the panel). The central destinations:

| variable | destination |
|---|---|
| M360_DER_TELEGRAM_CHAT_ID | the DER's Telegram group (the bot must be a member) |
| M360_DER_WHATSAPP_TO | a WhatsApp number, E.164 (outside the 24-hour window: M360_DER_WHATSAPP_CONTENT_SID) |
| M360_ALERT_WEBHOOK_URL, M360_ALERT_WEBHOOK_SECRET | a JSON webhook signed with HMAC-SHA256 (bot.channels.webhook) |

Open alerts are summarised once a day (``digest``); ``check_overdue`` and ``send_digest_if_due``
run periodically in ``m360 serve`` (``AlertMonitor``) and on demand (``m360 alerts check``).

Test data (a simulator conversation, surveys.messages.TEST_CHANNELS) raises its alerts with
``test`` set: stored, so the panel can show them on request, but never delivered, never in the
digest or the API, and never counted towards a demand spike.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.channels import templates
from bot.directory import staff
from bot.helpdesk import deadlines, ticketing
from bot.helpdesk.themes import theme_labels
from bot.outbox import sending
from bot.runtime.periodic import Periodic
from surveys import db, formats, settings, store
from surveys.messages import TEST_CHANNELS, is_test_channel
from surveys.models import Alert, Answer, Contact, Entity, Interview, QuestionnaireVersion, Ticket, utcnow
from surveys.scoring import SCORE_QUESTIONS, THRESHOLD, entity_score  # one definition (also analysis.indicators)
from surveys.statuses import InterviewStatus

log = logging.getLogger(__name__)

ALERTS = Alert.__table__
ENTITIES = Entity.__table__
REQUESTS = Ticket.__table__
INTERVIEWS = Interview.__table__
ANSWERS = Answer.__table__
CONTACTS = Contact.__table__
# The statements of a turn that completes an interview or opens a ticket, built once (building a
# statement and its cache key cost as much as running it).
_ALERT_BY_ID = select(ALERTS).where(ALERTS.c.id == bindparam("b_id"))
_TICKET = select(REQUESTS).where(REQUESTS.c.id == bindparam("b_id"))
_INTERVIEW_PERIOD = select(INTERVIEWS.c.period).where(INTERVIEWS.c.id == bindparam("b_id"))
_INTERVIEW = (select(INTERVIEWS.c.id, INTERVIEWS.c.entity_code, INTERVIEWS.c.period, INTERVIEWS.c.questionnaire_id,
                     INTERVIEWS.c.channel)
              .where(INTERVIEWS.c.id == bindparam("b_id")))
_ANNOUNCED_SPIKES = (select(ALERTS.c.data)
                     .where(ALERTS.c.rule == "pico_demanda", ALERTS.c.region == bindparam("b_region"),
                            ALERTS.c.created_at >= bindparam("b_since")))
_TICKETS_ASKING = (select(REQUESTS.c.entity_code, REQUESTS.c.themes)
                   .join(ENTITIES, ENTITIES.c.code == REQUESTS.c.entity_code)
                   .where(REQUESTS.c.created_at >= bindparam("b_since"), ENTITIES.c.region == bindparam("b_region"),
                          store.real_channel(REQUESTS.c.channel)))
_INTERVIEWS_ASKING = (select(INTERVIEWS.c.entity_code, ANSWERS.c.value)
                      .join(ENTITIES, ENTITIES.c.code == INTERVIEWS.c.entity_code)
                      .join(ANSWERS, (ANSWERS.c.interview_id == INTERVIEWS.c.id)
                            & (ANSWERS.c.question == "demanda_temas"))
                      .where(INTERVIEWS.c.finished_at >= bindparam("b_since"),
                             INTERVIEWS.c.status == InterviewStatus.COMPLETA,
                             ENTITIES.c.region == bindparam("b_region"), INTERVIEWS.c.channel.not_in(TEST_CHANNELS)))
_INSERT_ONCE = {dialect: insert(ALERTS).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(ALERTS.c.id)
                for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))}
QUESTIONNAIRES = QuestionnaireVersion.__table__

RULES = ("ticket_nuevo", "ticket_urgente", "contacto_asesor", "insatisfaccion", "contribucion_no", "tema_mala",
         "pico_demanda", "ticket_vencido", "envio_fallido", "envio_revisar", "entidad_por_validar", "ola_no_creada")
SEVERITIES = ("alta", "media", "baja")
class AlertStatus(StrEnum):
    ABIERTA = "abierta"
    RECONOCIDA = "reconocida"  # acknowledged by the DER (with an optional note)


STATUSES = tuple(AlertStatus)
#: Who a rule's alerts go to (``to:`` in alerts.yaml): the central destinations, the entity's enlace,
#: the region's articulador(a).
RECIPIENTS = ("der", "enlace", "articulador")
DEFAULT_CONFIG = Path(__file__).with_name("alerts.yaml")


# ------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class Rule:
    id: str
    enabled: bool
    severity: str
    title: str
    params: Mapping[str, Any] = field(default_factory=dict)
    to: tuple[str, ...] = ("der",)  # RECIPIENTS


@dataclass(frozen=True)
class AlertConfig:
    rules: Mapping[str, Rule]
    digest: Mapping[str, Any]

    def active(self, rule_id: str) -> Rule | None:
        rule = self.rules.get(rule_id)
        return rule if rule is not None and rule.enabled else None


def parse_config(data: Any, source: str = "alerts config") -> AlertConfig:
    if not isinstance(data, dict) or not isinstance(data.get("rules"), dict):
        raise ValueError(f"{source}: expected a mapping with 'rules'")
    unknown = set(data["rules"]) - set(RULES)
    if unknown:
        raise ValueError(f"{source}: unknown rules {sorted(unknown)}; known: {', '.join(RULES)}")
    rules = {}
    for rule_id in RULES:
        spec = dict(data["rules"].get(rule_id) or {"enabled": False})
        enabled, severity = bool(spec.pop("enabled", True)), str(spec.pop("severity", "media"))
        title = str(spec.pop("title", rule_id))
        if severity not in SEVERITIES:
            raise ValueError(f"{source}: {rule_id}.severity must be alta, media or baja")
        to = spec.pop("to", ["der"])
        to = [to] if isinstance(to, str) else to
        if not isinstance(to, list) or not to or set(to) - set(RECIPIENTS):
            raise ValueError(f"{source}: {rule_id}.to must list some of {', '.join(RECIPIENTS)}")
        _check_placeholders(title, f"{source}: {rule_id}.title")
        repeat = spec.get("repeat_every_business_days", 0)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 0:
            raise ValueError(f"{source}: {rule_id}.repeat_every_business_days must be a whole number ≥ 0 (0: never)")
        rules[rule_id] = Rule(rule_id, enabled, severity, title, spec, tuple(dict.fromkeys(to)))
    digest = dict(data.get("digest") or {"enabled": False})
    start, until = digest.get("hour", 7), digest.get("until", 24)
    if not all(isinstance(h, int) and not isinstance(h, bool) for h in (start, until)) or not 0 <= start < until <= 24:
        raise ValueError(f"{source}: digest.hour and digest.until are whole hours, 0 ≤ hour < until ≤ 24")
    for key in ("title", "empty"):
        if key in digest:
            _check_placeholders(str(digest[key]), f"{source}: digest.{key}", allowed=("date", "count"))
    return AlertConfig(rules, digest)


def _check_placeholders(text: str, where: str, allowed: tuple[str, ...] | None = None) -> None:
    """A title the DER edited must render: checked when the file is read (the service does not
    start), not when an alert is raised — in the transaction of a requester's new ticket, or of the
    round that raises the overdue alerts."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None]
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}; a placeholder is written {{name}} (a literal brace: {{{{ or }}}})") \
            from None
    for name, spec, conversion in fields:
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"{where}: {{{name}{'!' + conversion if conversion else ''}"
                             f"{':' + spec if spec else ''}}} — use plain placeholders such as {{entity}}")
        if allowed is not None and name not in allowed:
            known = ", ".join(f"{{{a}}}" for a in allowed)
            raise ValueError(f"{where}: unknown placeholder {{{name}}}; use {known}")


@cache
def load_config(path: str | None = None) -> AlertConfig:
    source = Path(path or settings.current().alerts_config or DEFAULT_CONFIG)
    return parse_config(yaml.safe_load(source.read_text(encoding="utf-8")), str(source))


@dataclass(frozen=True)
class Destination:
    channel: str  # telegram | whatsapp | webhook
    address: str  # chat id | E.164 number | URL
    payload: Mapping[str, Any] = field(default_factory=dict)


def destinations_from_env(env: Mapping[str, str] | None = None) -> list[Destination]:
    """The DER's destinations in this process's settings (or in the variables ``env`` gives)."""
    config = settings.current() if env is None else settings.Settings.from_environ(env)
    found = []
    if config.der_telegram_chat_id:
        found.append(Destination("telegram", config.der_telegram_chat_id))
    if config.der_whatsapp_to:
        template = config.der_whatsapp_content_sid
        found.append(Destination("whatsapp", config.der_whatsapp_to, {"content_sid": template} if template else {}))
    if config.alert_webhook_url:
        found.append(Destination("webhook", config.alert_webhook_url))
    return found


def whatsapp_problem(conn: Connection, destinations: Iterable[Destination], now: datetime) -> Any:
    """Why alerts to the DER's WhatsApp number cannot be delivered now (outside the 24-hour window
    of that number's last message, and no ``der_alert`` template), or None."""
    for dest in destinations:
        if dest.channel == templates.WHATSAPP and not dest.payload.get("content_sid"):
            last = conn.execute(select(CONTACTS.c.last_inbound_at).where(
                CONTACTS.c.channel == dest.channel, CONTACTS.c.address == dest.address)).scalar()
            return templates.problem(dest.channel, "der_alert", last, now)
    return None


# ------------------------------------------------------------------ raising and delivering


@dataclass(frozen=True)
class Alerts:
    """Raises alerts on the caller's connection. Built once per process (config + destinations)."""

    config: AlertConfig = field(default_factory=load_config)
    destinations: tuple[Destination, ...] = field(default_factory=lambda: tuple(destinations_from_env()))
    timezone: str = formats.TIMEZONE
    # Question labels by (database, questionnaire version): see _Labels.
    labels: dict[tuple[Any, int], dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def raise_alert(self, conn: Connection, rule: Rule, *, key: str, now: datetime, entity_code: str | None = None,
                    help_request_id: int | None = None, interview_id: int | None = None,
                    region: str | None = None, data: Mapping[str, Any] | None = None,
                    detail: str = "", test: bool = False, **title_fields: Any) -> int | None:
        """Store the alert unless its key was raised before, and queue it for every destination
        (a ``test`` alert is only stored). Returns its id, or None for a duplicate."""
        entity = store.entity(conn, entity_code)
        region = region or (entity.region if entity is not None else None)
        fields = {"entity": entity.display if entity is not None else (entity_code or "entidad sin registrar"),
                  "region": region or "sin región", **{k: _text(v) for k, v in title_fields.items()}}
        row = dict(rule=rule.id, dedupe_key=f"{rule.id}:{key}", severity=rule.severity,
                   title=rule.title.format_map(_Defaulting(fields))[:300], detail=detail,
                   entity_code=entity.code if entity is not None else None, region=region,
                   help_request_id=help_request_id, interview_id=interview_id, data=dict(data or {}),
                   status=AlertStatus.ABIERTA, test=test, created_at=now)
        alert_id = _insert_once(conn, row)
        if alert_id is None:
            return None
        if not test:  # test data (the simulator) is stored and shown on request, never sent to anyone
            self.deliver(conn, conn.execute(_ALERT_BY_ID, {"b_id": alert_id}).one(), now, rule.to)
        log.info("alert %s raised: %s", alert_id, row["title"])
        return alert_id

    def deliver(self, conn: Connection, alert: Any, now: datetime, to: Iterable[str] = ("der",)) -> None:
        """Queue the alert for its recipients: the central destinations (``der``), the entity's enlace
        and the region's articulador(a); an address that is already a central destination gets it once."""
        to = tuple(to)
        people = self._people(conn, alert, to)
        if not people and not ("der" in to and self.destinations):
            return
        event, text = {"event": "alert.created", "alert": as_json(conn, alert)}, _chat_text(alert)
        central = self.destinations if "der" in to else ()
        for dest in central:
            self._send(conn, dest, kind="alert", text=text, dedupe=f"alert:{alert.id}:{dest.channel}", event=event,
                       now=now)
        sent = {(d.channel, d.address) for d in central}
        for person_id, dest in people:
            if (dest.channel, dest.address) not in sent:
                sent.add((dest.channel, dest.address))
                self._send(conn, dest, kind="alert", text=text, dedupe=f"alert:{alert.id}:staff:{person_id}",
                           event=event, now=now)

    def _people(self, conn: Connection, alert: Any, to: tuple[str, ...]) -> list[tuple[int, Destination]]:
        """The enlace and the articulador(a) the alert goes to, where the directory has them with a channel."""
        found = []
        if "enlace" in to:
            found.append(staff.enlace_for(conn, alert.entity_code))
        if "articulador" in to:
            found.append(staff.articulador_for(conn, alert.region))
        sid = settings.current().der_whatsapp_content_sid  # the same one-variable alert template
        return [(p.id, Destination(p.channel, p.address,
                                   {"content_sid": sid} if sid and p.channel == "whatsapp" else {}))
                for p in found if p is not None and p.channel and p.address]

    def _send(self, conn: Connection, dest: Destination, *, kind: str, text: str, dedupe: str,
              event: Mapping[str, Any], now: datetime) -> int | None:
        payload: dict[str, Any] = dict(dest.payload)
        if dest.channel == "webhook":
            payload = dict(event)
        elif dest.channel == templates.WHATSAPP:  # outside the 24-hour window: the DER alert's template
            payload.update(templates.payload("der_alert", {"1": text}))
        contact_id = None
        if dest.channel in ("whatsapp", "telegram"):  # a DER member who also chats with the bot: use its window
            contact_id = conn.execute(select(CONTACTS.c.id).where(CONTACTS.c.channel == dest.channel,
                                                                  CONTACTS.c.address == dest.address)).scalar()
        return sending.enqueue(conn, channel=dest.channel, address=dest.address, text=text, kind=kind,
                              payload=payload, contact_id=contact_id, dedupe_key=dedupe, now=now)

    # -- rules on tickets

    def ticket_created(self, conn: Connection, request_id: int, now: datetime) -> None:
        ticket = conn.execute(_TICKET, {"b_id": request_id}).one()
        themes = theme_labels(ticket.themes)
        test = is_test_channel(ticket.channel)
        if ticket.source == "interview":
            rule = self.config.active("contacto_asesor")
            if rule is not None and ticket.interview_id is not None:
                period = conn.execute(_INTERVIEW_PERIOD, {"b_id": ticket.interview_id}).scalar()
                self.raise_alert(conn, rule, key=str(ticket.interview_id), now=now, entity_code=ticket.entity_code,
                                 help_request_id=ticket.id, interview_id=ticket.interview_id, code=ticket.code,
                                 themes=themes, period=period, detail=ticket.need, test=test,
                                 data={"ticket": ticket.code, "themes": list(ticket.themes)})
        else:
            rule = self.config.active("ticket_urgente") if ticket.urgent else None
            rule = rule or self.config.active("ticket_nuevo")
            if rule is not None:
                deadline = _deadline(ticket.requested_by_date)
                self.raise_alert(conn, rule, key=ticket.code, now=now, entity_code=ticket.entity_code,
                                 help_request_id=ticket.id, code=ticket.code, themes=themes, deadline=deadline,
                                 detail=ticket.need, test=test,
                                 data={"ticket": ticket.code, "themes": list(ticket.themes), "urgent": ticket.urgent})
        # A 5.2 ticket has the 5.1 themes (interview_completed counts them); test data counts nowhere.
        if ticket.source != "interview" and not test:
            self.demand_spike(conn, store.entity_region(conn, ticket.entity_code), list(ticket.themes), now)

    def check_overdue(self, conn: Connection, now: datetime) -> int:
        """Raise ticket_vencido for open tickets past their due date (local calendar), once per ticket
        and due date: a ticket the DER gave another due date that it misses too is alerted again. With
        ``repeat_every_business_days`` (alerts.yaml), a ticket still open that many business days later
        is alerted again, and again: an acknowledged alert does not make a request forgotten.
        Returns how many."""
        rule = self.config.active("ticket_vencido")
        if rule is None:
            return 0
        local = deadlines.local_today(now, self.timezone)
        every = int(rule.params.get("repeat_every_business_days") or 0)
        overdue = conn.execute(select(REQUESTS).where(REQUESTS.c.status.in_(ticketing.OPEN),
                                                      REQUESTS.c.due_date < local.isoformat())).all()
        raised = 0
        for ticket in overdue:
            try:
                with conn.begin_nested():  # one ticket that cannot be alerted must not silence the others
                    raised += self._overdue(conn, rule, ticket, local, every, now)
            except Exception:
                log.exception("ticket_vencido: ticket %s could not be checked (due date %r)", ticket.code,
                              ticket.due_date)
        return raised

    def _overdue(self, conn: Connection, rule: Rule, ticket: Any, local: date, every: int, now: datetime) -> bool:
        late = deadlines.business_days_between(date.fromisoformat(ticket.due_date), local)
        again = late // every * every if every > 0 else 0  # 0: the first alert for this due date
        if not again and _overdue_alerted_before(conn, ticket):
            return False
        return self.raise_alert(
            conn, rule, key=f"{ticket.code}:{ticket.due_date}" + (f":+{again}" if again else ""), now=now,
            entity_code=ticket.entity_code, help_request_id=ticket.id, code=ticket.code,
            due=formats.day(ticket.due_date), status=_status_label(ticket.status), themes=theme_labels(ticket.themes),
            late=_late(late), detail=ticket.need, test=is_test_channel(ticket.channel),
            data={"ticket": ticket.code, "due_date": ticket.due_date, "business_days_late": late}) is not None

    # -- rules on the outbox (bot.outbox.sending.tell_a_person)

    def delivery_problem(self, conn: Connection, row: Any, status: str, now: datetime) -> int | None:
        """A message that needs a person: ``failed`` (a requester was not told about their ticket)
        or ``review`` (it may have gone out; the panel's Envíos page settles it)."""
        rule = self.config.active("envio_revisar" if status == "review" else "envio_fallido")
        if rule is None:
            return None
        code = (row.payload or {}).get("ticket")
        ticket = conn.execute(select(REQUESTS.c.id, REQUESTS.c.entity_code).where(REQUESTS.c.code == code)
                              ).one_or_none() if code else None
        return self.raise_alert(
            conn, rule, key=str(row.id), now=now, entity_code=ticket.entity_code if ticket else None,
            help_request_id=ticket.id if ticket else None, code=code or "-", outbox=row.id, kind=row.kind,
            channel=row.channel, reason=(row.error or "")[:200], detail=row.text[:600],
            data={"outbox": row.id, "channel": row.channel, "kind": row.kind, "ticket": code})

    # -- rules on a completed interview

    def interview_completed(self, conn: Connection, interview_id: int, now: datetime) -> None:
        interview = conn.execute(_INTERVIEW, {"b_id": interview_id}).one()
        answers = store.answers_of(conn, interview_id)
        labels = _Labels(conn, interview.questionnaire_id, self.labels)
        test = is_test_channel(interview.channel)
        common = dict(now=now, entity_code=answers.get("entidad") or interview.entity_code,
                      interview_id=interview_id, period=interview.period, test=test)

        if (rule := self.config.active("insatisfaccion")) is not None:
            threshold = float(rule.params.get("threshold", THRESHOLD))
            score = entity_score(answers, rule.params.get("questions") or SCORE_QUESTIONS)
            if score is not None and score < threshold:
                self.raise_alert(conn, rule, key=str(interview_id), score=_decimal(score),
                                 threshold=_decimal(threshold), data={"score": round(score, 2)}, **common)
        if (rule := self.config.active("contribucion_no")) is not None:
            said_no = [q for q in rule.params.get("questions", ()) if answers.get(q) == "no"]
            if said_no:
                reasons = {q: answers.get(q.replace("contribuye_", "porque_")) for q in said_no}
                self.raise_alert(conn, rule, key=str(interview_id), items="; ".join(labels.get(q, q) for q in said_no),
                                 detail="\n".join(f"{labels.get(q, q)}: {r}" for q, r in reasons.items() if r),
                                 data={"questions": said_no}, **common)
        if (rule := self.config.active("tema_mala")) is not None:
            bad_values = set(rule.params.get("values", ("mala", "muy_mala")))
            bad = {q: answers[q] for q in rule.params.get("questions", ()) if answers.get(q) in bad_values}
            if bad:
                items = "; ".join(f"{labels.get(q, q)}: {v.replace('_', ' ')}" for q, v in bad.items())
                self.raise_alert(conn, rule, key=str(interview_id), items=items, data={"ratings": bad}, **common)
        themes = [t for t in answers.get("demanda_temas") or [] if t != "otro"]
        if themes and not test:
            # This interview is not stored as complete yet (the turn marks it after its effects): count it here.
            self.demand_spike(conn, store.entity_region(conn, common["entity_code"]), themes, now,
                              asking=common["entity_code"])

    # -- demand spike

    def demand_spike(self, conn: Connection, region: str | None, themes: Iterable[str], now: datetime,
                     asking: str | None = None) -> None:
        """≥ min_entities entities of ``region`` asked for a theme (ticket or 5.1) within window_days,
        counting ``asking`` (the entity asking now) for ``themes``. One alert per region and theme per
        window: a spike is not re-announced while it lasts."""
        rule = self.config.active("pico_demanda")
        if rule is None or region is None:
            return
        days = int(rule.params.get("window_days", 14))
        minimum = int(rule.params.get("min_entities", 3))
        since = now - timedelta(days=days)
        # A spike already announced in the window is not counted again: once a region's demand for a
        # theme is high, every later request would otherwise re-read the whole window.
        announced = _announced_spikes(conn, region, since)
        pending = [t for t in dict.fromkeys(themes) if t != "otro" and t not in announced]
        if not pending:
            return
        counted = _entities_asking(conn, region, pending, since)
        for theme in pending:
            entities = counted[theme] | ({asking} if asking else set())
            if len(entities) < minimum:
                continue
            label = theme_labels([theme])
            self.raise_alert(conn, rule, key=f"{region}:{theme}:{now.date().isoformat()}", now=now, region=region,
                             theme=label, count=len(entities), days=days,
                             data={"theme": theme, "entities": sorted(entities), "window_days": days})

    # -- the daily digest

    def digest_text(self, conn: Connection, now: datetime) -> tuple[str, int]:
        config = self.config.digest
        local = deadlines.local_today(now, self.timezone)
        rows = conn.execute(select(ALERTS).where(ALERTS.c.status == AlertStatus.ABIERTA, ALERTS.c.test.is_(False))
                            .order_by(ALERTS.c.created_at, ALERTS.c.id)).all()
        day = formats.day(local)
        if not rows:
            return str(config.get("empty", "{date}: 0")).format(date=day), 0
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.rule] = counts.get(row.rule, 0) + 1
        lines = [str(config.get("title", "{date}: {count}")).format(date=day, count=len(rows))]
        lines.append(" · ".join(f"{rule}: {n}" for rule, n in sorted(counts.items(), key=lambda x: -x[1])))
        order = {"alta": 0, "media": 1, "baja": 2}
        limit = int(config.get("max_lines", 15))
        for row in sorted(rows, key=lambda r: (order.get(r.severity, 3), r.created_at))[:limit]:
            age = (local - deadlines.local_today(row.created_at, self.timezone)).days
            lines.append(f"• #{row.id} [{row.severity}] {row.title} ({age} d)")
        if len(rows) > limit:
            lines.append(f"… y {len(rows) - limit} más (GET /api/v1/alerts?status=abierta)")
        return "\n".join(lines), len(rows)

    def send_digest(self, conn: Connection, now: datetime, *, force: bool = False) -> int:
        """Queue today's digest for every destination (once a day: dedupe by local date).
        Returns how many destinations it was queued for."""
        local_day = deadlines.local_today(now, self.timezone)
        text, count = self.digest_text(conn, now)
        stamp = now.isoformat() if force else local_day.isoformat()
        event = {"event": "alerts.digest", "date": local_day.isoformat(), "open_alerts": count, "text": text}
        return sum(self._send(conn, dest, kind="digest", text=text, dedupe=f"digest:{stamp}:{dest.channel}",
                              event=event, now=now) is not None for dest in self.destinations)

    def send_digest_if_due(self, conn: Connection, now: datetime) -> int:
        config = self.config.digest
        if not config.get("enabled", True):
            return 0
        hour = now.astimezone(ZoneInfo(self.timezone)).hour
        # Within its hours only: a worker back at 23:30 sends no digest then, hours before the next one.
        if not int(config.get("hour", 7)) <= hour < int(config.get("until", 24)):
            return 0
        return self.send_digest(conn, now)


def acknowledge(conn: Connection, alert_id: int, *, actor: str, now: datetime, note: str | None = None) -> Any:
    """Mark an alert as seen. Idempotent: a second acknowledgement keeps the first one's who/when.
    Returns the alert row, or None if there is no such alert."""
    conn.execute(update(ALERTS).where(ALERTS.c.id == alert_id, ALERTS.c.status == AlertStatus.ABIERTA)
                 .values(status=AlertStatus.RECONOCIDA, acknowledged_at=now, acknowledged_by=actor, ack_note=note))
    return conn.execute(select(ALERTS).where(ALERTS.c.id == alert_id)).one_or_none()


def settle_overdue(conn: Connection, ticket_id: int, status: str, *, actor: str, now: datetime) -> int:
    """A ticket that left the open statuses (answered, referred, closed): its open ``ticket_vencido``
    alerts are acknowledged for the DER (by ``actor``, with the new status in the note), so the daily
    digest no longer counts as overdue a request that was answered. Returns how many."""
    settled = conn.execute(update(ALERTS).where(
        ALERTS.c.help_request_id == ticket_id, ALERTS.c.rule == "ticket_vencido",
        ALERTS.c.status == AlertStatus.ABIERTA,
    ).values(status=AlertStatus.RECONOCIDA, acknowledged_at=now, acknowledged_by=actor,
             ack_note=f"la solicitud pasó a {_status_label(status)}"))
    return int(settled.rowcount or 0)


@dataclass(frozen=True)
class AlertFilter:
    """Which alerts a list shows: the API's and the panel's parameters read into one filter. None
    means "any"."""

    status: str | None = None
    rule: str | None = None
    severity: str | None = None
    region: str | None = None
    entity: str | None = None
    since: datetime | None = None
    scope_entities: tuple[str, ...] | None = None  # an enlace's scope: its entities' alerts …
    scope_regions: tuple[str, ...] = ()  # … and its regions'
    include_test: bool = False  # alerts of simulator conversations (test data)


def alert_query(wanted: AlertFilter) -> Any:
    """The SELECT of the alerts ``wanted`` selects, newest first."""
    query = select(ALERTS).order_by(ALERTS.c.created_at.desc(), ALERTS.c.id.desc())
    if not wanted.include_test:
        query = query.where(ALERTS.c.test.is_(False))
    for column, value in ((ALERTS.c.status, wanted.status), (ALERTS.c.rule, wanted.rule),
                          (ALERTS.c.severity, wanted.severity), (ALERTS.c.region, wanted.region),
                          (ALERTS.c.entity_code, wanted.entity)):
        if value is not None:
            query = query.where(column == value)
    if wanted.since is not None:
        query = query.where(ALERTS.c.created_at >= wanted.since)
    if wanted.scope_entities is not None:
        query = query.where(ALERTS.c.entity_code.in_(sorted(wanted.scope_entities))
                            | ALERTS.c.region.in_(sorted(wanted.scope_regions)))
    return query


def as_json(conn: Connection, alert: Any) -> dict[str, Any]:
    """The alert as the API and the outgoing webhook show it."""
    ticket = None
    if alert.help_request_id is not None:
        ticket = conn.execute(select(REQUESTS.c.code).where(REQUESTS.c.id == alert.help_request_id)).scalar()
    return {
        "id": alert.id, "rule": alert.rule, "severity": alert.severity, "title": alert.title, "detail": alert.detail,
        "entity": store.entity_json(conn, alert.entity_code),
        "region": alert.region, "help_request": ticket, "interview_id": alert.interview_id, "data": alert.data,
        "status": alert.status, "created_at": alert.created_at.isoformat(),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by, "ack_note": alert.ack_note, "test": alert.test,
    }


# ------------------------------------------------------------------ the periodic checks in `m360 serve`


class AlertMonitor(Periodic):
    """Every ``interval`` seconds: overdue tickets, then the daily digest when its hour has come."""

    name = "m360-alerts"

    def __init__(self, engine: Engine, alerts: Alerts | None = None, interval: float = 300.0,
                 on_queued: Any = None, clock: Callable[[], datetime] = utcnow):
        super().__init__(interval)
        self.engine, self.alerts, self.clock = engine, alerts or Alerts(), clock
        self.on_queued = on_queued  # e.g. OutboxWorker.notify: send what was queued without waiting

    def run_once(self, now: datetime | None = None) -> tuple[int, int]:
        now = now or self.clock()
        with db.transaction(self.engine) as conn:
            overdue = self.alerts.check_overdue(conn, now)
        with db.transaction(self.engine) as conn:  # its own: a digest that fails never undoes the overdue alerts
            digests = self.alerts.send_digest_if_due(conn, now)
        if (overdue or digests) and self.on_queued is not None:
            self.on_queued()
        return overdue, digests


# ------------------------------------------------------------------ helpers


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _entities_asking(conn: Connection, region: str, themes: list[str], since: datetime) -> dict[str, set[str]]:
    """Per theme, the entities of ``region`` that asked for it since ``since``: in a ticket, or in
    5.1 of a completed interview. Only the window's rows are read (indexed on their dates), once for
    all themes; their JSON lists are filtered here, the same on SQLite and PostgreSQL."""
    asking: dict[str, set[str]] = {theme: set() for theme in themes}

    def count(code: str, asked: Any) -> None:
        if isinstance(asked, list):
            for theme in asked:
                if theme in asking:
                    asking[theme].add(code)

    for statement in (_TICKETS_ASKING, _INTERVIEWS_ASKING):
        for code, asked in conn.execute(statement, {"b_since": since, "b_region": region}):
            count(code, asked)
    return asking


class _Labels:
    """Question labels of a questionnaire version, read only when an alert names a question, then
    kept in ``cache`` (by database and questionnaire id): a version an interview was completed in
    never changes (surveys/store.py QuestionnaireStore)."""

    def __init__(self, conn: Connection, questionnaire_id: int, cache: dict[tuple[Any, int], dict[str, str]]):
        self.conn, self.questionnaire_id, self.cache = conn, questionnaire_id, cache
        self.key = (conn.engine.url, questionnaire_id)

    def get(self, name: str, default: str) -> str:
        labels = self.cache.get(self.key)
        if labels is None:
            definition = self.conn.execute(select(QUESTIONNAIRES.c.definition)
                                           .where(QUESTIONNAIRES.c.id == self.questionnaire_id)).scalar()
            labels = {q["name"]: q.get("label", q["name"]) for q in (definition or {}).get("questions", [])}
            self.cache[self.key] = labels
        return labels.get(name, default)


def _announced_spikes(conn: Connection, region: str, since: datetime) -> set[str]:
    """Themes whose demand spike in ``region`` was already announced since ``since``."""
    rows = conn.execute(_ANNOUNCED_SPIKES, {"b_region": region, "b_since": since})
    return {str((data or {}).get("theme")) for (data,) in rows}


def _overdue_alerted_before(conn: Connection, ticket: Any) -> bool:
    """Whether an alert stored before the due date was part of the key (``ticket_vencido:<code>``)
    already announced this ticket past this same due date."""
    data = conn.execute(select(ALERTS.c.data).where(ALERTS.c.dedupe_key == f"ticket_vencido:{ticket.code}")).scalar()
    return data is not None and (data or {}).get("due_date") == ticket.due_date


def _insert_once(conn: Connection, row: dict[str, Any]) -> int | None:
    insert_once = _INSERT_ONCE.get(conn.dialect.name)
    if insert_once is not None:
        # RETURNING, not rowcount: on PostgreSQL a skipped insert may still report a row count.
        inserted = conn.execute(insert_once, row).scalar_one_or_none()
        return int(inserted) if inserted is not None else None
    if conn.execute(select(ALERTS.c.id).where(ALERTS.c.dedupe_key == row["dedupe_key"])).first() is not None:
        return None
    return int(conn.execute(ALERTS.insert(), row).inserted_primary_key[0])


def _deadline(requested: str | None) -> str:
    """ " (para el 15 de diciembre de 2026)"; an older ticket's deadline kept as typed is shown as typed."""
    if not requested:
        return ""
    shown = formats.day(requested)
    return f" (para el {shown})" if shown != requested else f" (para {requested})"


def _status_label(status: str) -> str:
    from surveys.texts import texts

    return texts()(f"ticket_status.{status}")


def _late(days: int) -> str:
    """ " (3 días hábiles de retraso)"; nothing on the weekend right after the due date (0 business days)."""
    return "" if days <= 0 else f" ({days} día hábil de retraso)" if days == 1 else f" ({days} días hábiles de retraso)"


def _decimal(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")  # Colombian notation: 3,4


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _chat_text(alert: Any) -> str:
    icon = {"alta": "🔴", "media": "🟠", "baja": "🟢"}.get(alert.severity, "•")
    detail = f"\n{alert.detail[:600]}" if alert.detail else ""
    return f"{icon} Alerta #{alert.id} ({alert.rule}): {alert.title}{detail}"
