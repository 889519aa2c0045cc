"""Results back to the entities (CONPES 4091 de 2022, diagnóstico: "difícil acceso a los resultados", no
"retroalimentación"; its implementation methodology, Actividad 4: "Publique y socialice el estado de avance").

- **Mis resultados** (menu option 4): the entity's ficha as short chat text — its score beside its
  region's and the country's, its best and worst aspects, the themes it asked for, its open tickets
  — and a login-free link to the printable ficha (``/ficha/<token>``, webhooks/fichas.py).
- **After a wave closes**, each entity that completed it can be sent its results, once the DER has
  approved the messages (``m360 wave results ID [--approve]``, the API and the panel's wave page):
  the approval is recorded (who, when) and the messages go through the outbox in office hours.

The figures are those of the ficha municipal (analysis.report.build_report with the entity's
filter), so the chat, the link and the panel never disagree. A link shows one entity and one
period, expires (``M360_FICHA_LINK_DAYS``, default 30) and is stored only as its SHA-256.
The link's base is ``M360_PUBLIC_URL``; the variables are in the README's configuration table.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from analysis.indicators import Filters
from analysis.periods import parse
from analysis.report import build_report, entity_summaries
from bot.channels import templates
from bot.outbox import sending
from bot.waves import campaign
from surveys import formats, settings
from surveys.entities import is_territorial
from surveys.messages import Outbound
from surveys.models import Contact, Interview, OutboxMessage, QuestionnaireVersion, ResultLink
from surveys.statuses import InterviewStatus
from surveys.texts import texts

LINKS = ResultLink.__table__
INTERVIEWS = Interview.__table__
QUESTIONNAIRES = QuestionnaireVersion.__table__
CONTACTS = Contact.__table__
OUTBOX = OutboxMessage.__table__
KIND = "results"  # outbox kind of a wave's results (proactive: never to an opted-out contact)
TOKEN_BYTES = 24


def link_days() -> int:
    return settings.current().ficha_link_days


def public_url() -> str:
    found = settings.current()
    return (found.public_url or f"http://127.0.0.1:{found.port}").rstrip("/")


# ------------------------------------------------------------------ links


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_link(conn: Connection, entity_code: str, period: str, *, now: datetime, contact_id: int | None = None,
                wave_id: int | None = None, days: int | None = None) -> tuple[str, datetime]:
    """A new token for the ficha of ``entity_code`` in ``period`` and when it expires."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = now + timedelta(days=days or link_days())
    conn.execute(LINKS.insert(), dict(token_hash=token_hash(token), entity_code=entity_code, period=period,
                                      contact_id=contact_id, wave_id=wave_id, created_at=now, expires_at=expires,
                                      views=0))
    return token, expires


@dataclass(frozen=True)
class Resolved:
    entity_code: str
    period: str
    expired: bool
    expires_at: datetime


def resolve(conn: Connection, token: str, now: datetime) -> Resolved | None:
    """The link behind ``token`` (None when there is none); a view is counted while it is valid."""
    row = conn.execute(select(LINKS).where(LINKS.c.token_hash == token_hash(token))).one_or_none()
    if row is None:
        return None
    expired = row.expires_at <= now
    if not expired:
        conn.execute(update(LINKS).where(LINKS.c.id == row.id).values(views=row.views + 1, last_viewed_at=now))
    return Resolved(row.entity_code, row.period, expired, row.expires_at)


def url(token: str) -> str:
    return f"{public_url()}/ficha/{token}"


# ------------------------------------------------------------------ the ficha


def latest_period(conn: Connection, entity_code: str, qid: str = "monitoreo360") -> str | None:
    """The last month with a completed Monitoreo 360 interview of the entity."""
    return conn.execute(select(func.max(INTERVIEWS.c.period))
                        .join(QUESTIONNAIRES, QUESTIONNAIRES.c.id == INTERVIEWS.c.questionnaire_id)
                        .where(INTERVIEWS.c.entity_code == entity_code, INTERVIEWS.c.status == InterviewStatus.COMPLETA,
                               QUESTIONNAIRES.c.qid == qid)).scalar()


def ficha(conn: Connection, entity_code: str, period: str, now: datetime) -> dict[str, Any]:
    """The ficha municipal of ``entity_code`` for ``period``: the report dict the link renders."""
    return build_report(conn, parse(period), Filters(entity=entity_code), now=now)


def summaries(conn: Connection, codes: list[str], period: str) -> dict[str, dict[str, Any]]:
    """Each entity's short ficha of ``period`` (analysis.report.entity_summaries)."""
    return entity_summaries(conn, parse(period), codes)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """A short ficha as a few chat lines: score beside region and country, best and worst aspects,
    themes and open tickets."""
    t = texts()
    c = summary["comparison"]
    lines = [t("results.title", entity=summary["entity"]["entity"], period=summary["period_label"])]
    mine = c["entity"]["mean_score"]
    if mine is not None:
        verdict = t("results.satisfied") if mine >= summary["threshold"] else t("results.unsatisfied")
        lines.append(t("results.entity_score", score=_score(mine), verdict=verdict))
    region = c["region"]
    if region["name"] and region["shown"]:
        lines.append(t("results.region_score", region=region["name"], score=_score(region["mean_score"]),
                       n=region["entities"]))
    elif region["name"]:
        lines.append(t("results.region_few", region=region["name"], n=region["entities"]))
    lines.append(t("results.country_score", score=_score(c["country"]["mean_score"]), n=c["country"]["entities"]))
    aspects = [(label, c["entity"]["aspects"].get(a)) for a, label in c["aspect_labels"].items()]
    rated = [(label, v) for label, v in aspects if v is not None]
    if len(rated) >= 2:
        best, worst = max(rated, key=lambda x: x[1]), min(rated, key=lambda x: x[1])
        if best[1] > worst[1]:
            lines.append(t("results.best_worst", best=f"{best[0]} ({_score(best[1])})",
                           worst=f"{worst[0]} ({_score(worst[1])})"))
    if summary["themes"]:
        lines.append(t("results.themes", themes=", ".join(x["label"] for x in summary["themes"])))
    if summary["tickets"]:
        items = [t("results.ticket_item", code=x["code"], status=t(f"ticket_status.{x['status']}"),
                   due=_human(x["due_date"])) for x in summary["tickets"]]
        lines.append(t("results.tickets", tickets="; ".join(items)))
    else:
        lines.append(t("results.no_tickets"))
    return lines


def for_chat(conn: Connection, entity_code: str | None, contact_id: int | None, now: datetime) -> list[Outbound]:
    """"Mis resultados": the ficha in the chat and a fresh link to the printable one."""
    t = texts()
    if not entity_code or not is_territorial(entity_code):
        return [Outbound(t("territorial_only"))]
    period = latest_period(conn, entity_code)
    if period is None:
        return [Outbound(t("results.none"))]
    token, expires = create_link(conn, entity_code, period, now=now, contact_id=contact_id)
    lines = summary_lines(summaries(conn, [entity_code], period)[entity_code])
    lines.append(t("results.link", until=_local_day(expires), url=url(token)))
    return [Outbound("\n".join(lines))]


# ------------------------------------------------------------------ a wave's results, after the DER's approval


@dataclass
class Recipient:
    entity_code: str
    entity: str
    contact_id: int | None
    channel: str | None
    name: str | None
    text: str  # with "{url}" where the link goes (made when the message is queued)
    reachable: bool
    reason: str | None = None  # why it cannot be sent: sin_contacto | baja
    queued: bool = False  # already queued (approved before)


@dataclass
class WaveResults:
    wave: dict[str, Any]
    recipients: list[Recipient] = field(default_factory=list)
    approved_at: datetime | None = None
    approved_by: str | None = None
    queued: int = 0  # queued by this call

    def as_json(self) -> dict[str, Any]:
        return {"wave": self.wave, "approved_at": _iso(self.approved_at), "approved_by": self.approved_by,
                "queued": self.queued,
                "recipients": [{"entity_code": r.entity_code, "entity": r.entity, "channel": r.channel,
                                "reachable": r.reachable, "reason": r.reason, "sent": r.queued,
                                "text": r.text.replace("{until}", "dd/mm/aaaa").replace("{url}", url("…"))}
                               for r in self.recipients]}


def wave_results(conn: Connection, wave_id: int) -> WaveResults:
    """What each entity that completed the wave would be sent (the DER's preview). The wave must be
    closed: its figures do not move any more."""
    wave = campaign.get(conn, wave_id)
    if wave.status != "cerrada":
        raise campaign.WaveError(f"wave #{wave_id} is {wave.status}: results go out once it is closed")
    t = texts()
    done = conn.execute(select(INTERVIEWS.c.entity_code, INTERVIEWS.c.contact_id, INTERVIEWS.c.finished_at)
                        .where(INTERVIEWS.c.wave_id == wave_id, INTERVIEWS.c.status == InterviewStatus.COMPLETA)
                        .order_by(INTERVIEWS.c.entity_code, INTERVIEWS.c.finished_at)).all()
    answered_by = {row.entity_code: row.contact_id for row in done}  # the last to complete it
    members = dict(conn.execute(select(campaign.MEMBERS.c.entity_code, campaign.MEMBERS.c.contact_id)
                                .where(campaign.MEMBERS.c.wave_id == wave_id)).all())
    queued = set(conn.execute(select(OUTBOX.c.dedupe_key).where(OUTBOX.c.dedupe_key.like(f"results:{wave_id}:%")))
                 .scalars())
    result = WaveResults({"id": wave.id, "name": wave.name, "period": wave.period, "status": wave.status},
                         approved_at=wave.results_approved_at, approved_by=wave.results_approved_by)
    month = campaign.month_name(wave.period)
    found = summaries(conn, sorted(answered_by), wave.period)
    for code in sorted(answered_by):
        contact = _contact(conn, answered_by[code]) or _contact(conn, members.get(code))
        name = f" {contact.name}" if contact is not None and contact.name else ""
        entity = found[code]["entity"]["entity"]
        lines = [t("results.wave", name=name, month=month, entity=entity)] + summary_lines(found[code])[1:]
        lines.append(t("results.link", until="{until}", url="{url}"))
        reason = None if contact is not None and not contact.opted_out else "baja" if contact else "sin_contacto"
        result.recipients.append(Recipient(
            code, entity, contact.id if contact else None, contact.channel if contact else None,
            contact.name if contact else None, "\n".join(lines), reason is None, reason,
            f"results:{wave_id}:{code}" in queued))
    return result


def approve(conn: Connection, wave_id: int, *, actor: str, now: datetime,
            hours: campaign.OfficeHours | None = None) -> WaveResults:
    """The DER approves: the approval is recorded (the first approver stays), and each reachable
    entity's message is queued once (a second approval queues only what the first could not), to
    leave in office hours."""
    result = wave_results(conn, wave_id)
    if result.approved_at is None:
        conn.execute(update(campaign.WAVES).where(campaign.WAVES.c.id == wave_id)
                     .values(results_approved_at=now, results_approved_by=actor))
        result.approved_at, result.approved_by = now, actor
    send_at = (hours or campaign.OfficeHours.from_env()).next_open(now)
    month = campaign.month_name(result.wave["period"])
    for r in result.recipients:
        if not r.reachable or r.queued:
            continue
        contact = _contact(conn, r.contact_id)
        token, expires = create_link(conn, r.entity_code, result.wave["period"], now=now, contact_id=r.contact_id,
                                     wave_id=wave_id)
        text = r.text.replace("{until}", _local_day(expires)).replace("{url}", url(token))
        payload = None
        if contact.channel == templates.WHATSAPP:  # the approved template, for outside the 24-hour window
            payload = templates.payload("wave_results", {"1": (contact.name or "").strip() or texts()("wave.nobody"),
                                                         "2": r.entity, "3": month, "4": url(token)})
        message_id = sending.enqueue(conn, channel=contact.channel, address=contact.address, contact_id=contact.id,
                                    kind=KIND, text=text, payload=payload,
                                    dedupe_key=f"results:{wave_id}:{r.entity_code}", now=now)
        if message_id is not None:
            conn.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(next_attempt_at=send_at))
            r.queued, r.text = True, text
            result.queued += 1
    return result


def _contact(conn: Connection, contact_id: int | None) -> Any:
    if contact_id is None:
        return None
    contact = conn.execute(select(CONTACTS.c.id, CONTACTS.c.channel, CONTACTS.c.address, CONTACTS.c.name,
                                  CONTACTS.c.opted_out, CONTACTS.c.forgotten_at)
                           .where(CONTACTS.c.id == contact_id)).one_or_none()
    if contact is None or contact.forgotten_at is not None or contact.channel not in campaign.REACHABLE:
        return None
    return contact


def _score(value: float | None) -> str:
    """A 1–5 mean as the chat writes it: 3,9 (one decimal, decimal comma)."""
    return formats.number(value, 1)


def _local_day(moment: datetime) -> str:
    return formats.day(formats.local(moment).date())


def _human(iso: str | None) -> str:
    return formats.day(iso) if iso else "por definir"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None

