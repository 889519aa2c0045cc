"""The mesa de ayuda's own numbers, as a service report (the DNP's Modelo Integrado de Llegada a Territorio:
the mesa de ayuda as a procedure; the CONPES 4091 implementation methodology: follow up, ask how the service
went): one dict (JSON-ready) that ``m360 tickets report``,
``GET /api/v1/reports/mesa/<period>`` and the panel's "Informe mesa de ayuda" render (HTML and XLSX
in analysis.mesa), so they show the same numbers.

The cut is the tickets *received* in a month, quarter or year (Bogotá dates), optionally of one
region, theme or enlace. Tickets of a grupo de valor still waiting for validation do not count yet.

Definitions (business days, Colombian holidays excluded, as the terms are counted):

- **primera respuesta**: the first thing the DER did on the ticket after it arrived (a change of
  status, an assignment or a note: what the requester hears about), from the day it arrived;
- **respuesta de fondo**: the ticket reached respondida, remitida or cerrada: the answer the term is
  about. **A tiempo** when that happened on or before its due date (the share is of the answered);
- **cierre**: cerrada or remitida;
- **vencidas**: open (nueva, asignada, en gestión) and past their due date on the report's day;
- **remitidas**: referred to another entity; **satisfacción**: the requesters' 1–5 ratings.

A ticket with several themes counts once in each of them (the theme table can add up to more than
the total). Medians and means are of the tickets that got there.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, select

from analysis.indicators import mean, pct
from analysis.periods import Period, month_label, parse
from bot.directory import staff
from bot.helpdesk import deadlines, terms, ticketing
from bot.helpdesk.themes import load_taxonomy
from surveys import formats
from surveys.entities import display_name
from surveys.models import Entity
from surveys.tickets import ANSWERED, TicketStatus

TZ = formats.TZ
ENTITIES = Entity.__table__
NOT_STAFF = ("chat", "monitoreo360", "solicitante", ticketing.SYSTEM)  # who is not the DER answering
CHANNELS = {"whatsapp": "WhatsApp", "telegram": "Telegram", "sms": "SMS", "simulator": "Simulador web",
            "console": "Consola", **ticketing.ORIGINS}
NO_ENLACE = "Sin enlace asignado"


@dataclass(frozen=True)
class Filters:
    region: str | None = None
    theme: str | None = None
    enlace: int | None = None  # a staff id
    staff_ids: frozenset[int] | None = None  # a panel account of role enlace sees only theirs

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("region", self.region), ("theme", self.theme), ("enlace", self.enlace)) if v}


def build(conn: Connection, period: str | Period, filters: Filters | None = None, *,
          now: datetime) -> dict[str, Any]:
    """Every figure of the mesa de ayuda for ``period`` (YYYY-MM, YYYY-Qn, YYYY); ValueError for a
    bad period or an unknown theme."""
    cut = parse(period) if isinstance(period, str) else period
    filters = filters or Filters()
    taxonomy = load_taxonomy()
    if filters.theme and taxonomy.get(filters.theme) is None:
        raise ValueError(f"unknown theme {filters.theme!r}; see bot/helpdesk/themes.yaml")
    today = deadlines.local_today(now)
    rows = [r for r in _records(conn, cut, today) if _passes(r, filters)]
    theme_label = {t.id: t.label for t in taxonomy.themes}
    all_terms = terms.load()
    people = {p["id"]: p["name"] for p in staff.listing(conn, include_inactive=True)}
    return {
        "report": "mesa", "title": "Informe de la mesa de ayuda",
        "period": cut.key, "period_kind": cut.kind, "period_label": cut.label, "months": list(cut.months),
        "filters": {**filters.as_dict(), **({"enlace_name": people.get(filters.enlace)} if filters.enlace else {})},
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds"), "today": today.isoformat(),
        "summary": summarize(rows),
        "by_month": [{"period": m, "label": month_label(m), **summarize([r for r in rows if r["month"] == m])}
                     for m in cut.months],
        "by_theme": breakdown(rows, lambda r: r["themes"] or ["sin_tema"],
                              lambda k: theme_label.get(k, "Sin tema")),
        "by_region": breakdown(rows, lambda r: [r["region"] or "Sin región"]),
        "by_channel": breakdown(rows, lambda r: [r["channel"] or "sin_canal"], lambda k: CHANNELS.get(k, k)),
        "by_enlace": breakdown(rows, lambda r: [r["enlace"] or NO_ENLACE]),
        "by_request_type": breakdown(rows, lambda r: [r["request_type"] or all_terms.default],
                                     lambda k: all_terms.get(k).label),
        "by_status": [{"status": s, "n": sum(r["status"] == s for r in rows)} for s in ticketing.STATUSES],
        "overdue": sorted(({k: r[k] for k in ("code", "entity", "region", "enlace", "due_date", "days_overdue",
                                                "status")} for r in rows if r["overdue"]),
                          key=lambda x: -x["days_overdue"]),
        "referrals": breakdown([r for r in rows if r["referred_to"]], lambda r: [r["referred_to"]]),
        "definitions": DEFINITIONS,
    }


DEFINITIONS = {
    "received": "solicitudes recibidas en el periodo (sin las de entidades por validar)",
    "first_response": "días hábiles hasta la primera actuación de la DER (cambio de estado, asignación o nota)",
    "answer": "días hábiles hasta la respuesta de fondo (respondida, remitida o cerrada)",
    "on_time": "respuestas de fondo a más tardar en su plazo, sobre las respondidas",
    "close": "días hábiles hasta el cierre (cerrada o remitida)",
    "overdue": "abiertas (nueva, asignada, en gestión) con el plazo vencido el día del informe",
}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in rows if r["answered_at"] is not None]
    on_time = sum(bool(r["on_time"]) for r in answered)
    ratings = [r["satisfaction"] for r in rows if r["satisfaction"] is not None]
    return {
        "received": len(rows),
        "open": sum(r["status"] in ticketing.OPEN for r in rows),
        "answered": len(answered), "answered_on_time": on_time, "answered_late": len(answered) - on_time,
        "pct_on_time": pct(on_time, len(answered)),
        "overdue": sum(r["overdue"] for r in rows),
        "closed": sum(r["closed_at"] is not None for r in rows),
        "referred": sum(r["status"] == TicketStatus.REMITIDA for r in rows),
        "urgent": sum(bool(r["urgent"]) for r in rows),
        "first_response_days": _stats(r["days_to_first_response"] for r in rows),
        "answer_days": _stats(r["days_to_answer"] for r in rows),
        "close_days": _stats(r["days_to_close"] for r in rows),
        "satisfaction": {"n": len(ratings), "mean": mean(ratings),
                         "pct_satisfied": pct(sum(x >= 4 for x in ratings), len(ratings)),
                         "distribution": [{"value": v, "n": ratings.count(v)} for v in (1, 2, 3, 4, 5)],
                         "pct_rated": pct(len(ratings), sum(r["closed_at"] is not None for r in rows))},
    }


def breakdown(rows: list[dict[str, Any]], groups: Callable[[dict[str, Any]], Iterable[str]],
              label: Callable[[str], str] = str) -> list[dict[str, Any]]:
    """One summary per group (a row may be in several), most received first."""
    members: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        for key in dict.fromkeys(groups(row)):
            members.setdefault(key, []).append(row)
    out = [{"key": key, "label": label(key), **summarize(group)} for key, group in members.items()]
    return sorted(out, key=lambda x: (-x["received"], x["label"]))


def _stats(values: Iterable[int | None]) -> dict[str, Any]:
    known = [v for v in values if v is not None]
    return {"n": len(known), "median": float(statistics.median(known)) if known else None, "mean": mean(known)}


def _passes(row: dict[str, Any], filters: Filters) -> bool:
    if filters.region and (row["region"] or "").casefold() != filters.region.casefold():
        return False
    if filters.theme and filters.theme not in row["themes"]:
        return False
    if filters.enlace is not None and row["staff_id"] != filters.enlace:
        return False
    return filters.staff_ids is None or row["staff_id"] in filters.staff_ids


def local_day(moment: datetime | None) -> date | None:
    """The Bogotá date of a stored (UTC) time."""
    return moment.astimezone(TZ).date() if moment is not None else None


def _bounds(cut: Period) -> tuple[datetime, datetime]:
    year, month = int(cut.first[:4]), int(cut.first[5:])
    start = datetime.combine(date(year, month, 1), time(0), TZ)
    year, month = int(cut.last[:4]), int(cut.last[5:])
    end = datetime.combine(date(year + month // 12, month % 12 + 1, 1), time(0), TZ)
    return start.astimezone(UTC), end.astimezone(UTC)


def _records(conn: Connection, cut: Period, today: date) -> list[dict[str, Any]]:
    """One record per ticket received in the cut, with its times worked out from its events."""
    start, end = _bounds(cut)
    requests, events = ticketing.REQUESTS, ticketing.EVENTS
    tickets = conn.execute(
        select(requests, ENTITIES.c.name.label("entity_name"), ENTITIES.c.kind, ENTITIES.c.dept_code,
               ENTITIES.c.dept_name, ENTITIES.c.region, staff.STAFF.c.name.label("enlace"))
        .outerjoin(ENTITIES, ENTITIES.c.code == requests.c.entity_code)
        .outerjoin(staff.STAFF, staff.STAFF.c.id == requests.c.staff_id)
        .where(requests.c.created_at >= start, requests.c.created_at < end, requests.c.on_hold.is_(False))
        .order_by(requests.c.created_at, requests.c.id)).all()
    history: dict[int, list[Any]] = {}
    if tickets:
        for event in conn.execute(select(events).where(events.c.request_id.in_([t.id for t in tickets]))
                                  .order_by(events.c.id)):
            history.setdefault(event.request_id, []).append(event)
    out = []
    for t in tickets:
        created = local_day(t.created_at)
        assert created is not None
        trail = history.get(t.id, [])
        first = next((e.created_at for e in trail if e.from_status is not None and e.actor not in NOT_STAFF), None)
        answered = next((e.created_at for e in trail if e.to_status in ANSWERED and e.from_status != e.to_status),
                        None)
        due = date.fromisoformat(t.due_date) if t.due_date else None
        open_ = t.status in ticketing.OPEN
        overdue = open_ and due is not None and today > due
        out.append({
            "id": t.id, "code": t.code, "month": created.strftime("%Y-%m"), "created": created.isoformat(),
            "entity": display_name(t.entity_name, t.kind, t.dept_code, t.dept_name) if t.entity_name else None,
            "region": t.region, "themes": list(t.themes or ()), "channel": t.channel, "source": t.source,
            "request_type": t.request_type, "status": t.status, "urgent": t.urgent, "staff_id": t.staff_id,
            "enlace": t.enlace, "due_date": t.due_date, "satisfaction": t.satisfaction,
            "referred_to": t.referred_to if t.status == TicketStatus.REMITIDA else None,
            "answered_at": answered, "closed_at": t.closed_at,
            "on_time": None if answered is None or due is None else local_day(answered) <= due,
            "days_to_first_response": _days(created, first), "days_to_answer": _days(created, answered),
            "days_to_close": _days(created, t.closed_at),
            "overdue": overdue, "days_overdue": deadlines.business_days_between(due, today) if overdue and due else 0,
        })
    return out


def _days(created: date, moment: datetime | None) -> int | None:
    """Business days from the day a ticket arrived to ``moment``, counted as its term is: a ticket that
    arrived on a weekend or holiday was received on the next business day (0: answered that day)."""
    day = local_day(moment)
    received = deadlines.add_business_days(created, 0)
    return None if day is None else max(0, deadlines.business_days_between(received, day))
