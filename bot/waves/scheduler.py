"""What runs on its own for waves: scheduled launches, recurring monthly waves, closing, and the
invitations and reminders office hours held back (bot.waves.campaign).

``tick`` does one round; ``WaveScheduler`` runs it every minute in ``m360 serve`` (the embedded
default), ``m360 wave tick`` runs it from cron, and the production worker takes it over. A round
is safe to repeat or to run in two places at once: launches, closings and messages are each
decided in a transaction, and messages are deduplicated in the outbox.

A recurring wave (``m360 wave schedule``) is created and launched on the n-th business day of each
month (Colombian holidays), from its hour (Bogotá) on, once per month. One that cannot be drawn (too
few contacts) raises the alert ``ola_no_creada`` and is not retried that month.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from bot.helpdesk import deadlines
from bot.runtime.periodic import Periodic
from bot.waves import campaign
from surveys import db
from surveys.models import WaveSchedule, utcnow

log = logging.getLogger(__name__)

SCHEDULES = WaveSchedule.__table__


def nth_business_day(year: int, month: int, n: int) -> date:
    """The n-th business day of the month (1 = the first), Colombian holidays excluded."""
    if n < 1:
        raise ValueError("n starts at 1")
    day, seen = date(year, month, 1), 0
    while True:
        if deadlines.is_business_day(day):
            seen += 1
            if seen == n:
                return day
        day += timedelta(days=1)
        if day.month != month:
            raise ValueError(f"{year}-{month:02d} has fewer than {n} business days")


def add_schedule(conn: Connection, *, name: str, params: dict[str, Any], business_day: int = 1, hour: int = 9,
                 now: datetime | None = None) -> int:
    if not 1 <= business_day <= 15 or not 0 <= hour <= 23:
        raise campaign.WaveError("business_day is 1–15 and hour 0–23")
    campaign.Spec.from_params("2000-01", params)  # fails now, not next month, on a bad parameter
    now = now or utcnow()
    local = now.astimezone(campaign.TZ)
    # A month whose day has already passed is not caught up on: the first wave is next month's.
    passed = local.date() > nth_business_day(local.year, local.month, business_day)
    return int(conn.execute(SCHEDULES.insert(), dict(
        name=name, params=params, business_day=business_day, hour=hour, active=True, created_at=now,
        last_period=local.strftime("%Y-%m") if passed else None)).inserted_primary_key[0])


@dataclass
class Round:
    launched: list[int] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    dispatched: campaign.Dispatched = field(default_factory=campaign.Dispatched)

    @property
    def queued(self) -> int:
        return self.dispatched.invited + self.dispatched.reminded


def tick(engine: Engine, now: datetime | None = None, hours: campaign.OfficeHours | None = None) -> Round:
    now = now or utcnow()
    hours = hours or campaign.OfficeHours.from_env()
    done = Round()
    done.created = _run_schedules(engine, now)
    with db.transaction(engine) as conn:
        due = conn.execute(select(campaign.WAVES.c.id).where(campaign.WAVES.c.status == "programada",
                                                          campaign.WAVES.c.launch_at <= now)).scalars().all()
        for wave_id in [*done.created, *due]:
            waves = campaign.WAVES
            conn.execute(update(waves).where(waves.c.id == wave_id, waves.c.status != "en_curso")
                         .values(status="en_curso", launched_at=now))
            done.launched.append(wave_id)
        ending = conn.execute(select(campaign.WAVES.c.id).where(campaign.WAVES.c.status == "en_curso",
                                                             campaign.WAVES.c.closes_at <= now)).scalars().all()
        for wave_id in ending:
            campaign.close(conn, wave_id, now=now)
            done.closed.append(wave_id)
        running = conn.execute(select(campaign.WAVES.c.id).where(campaign.WAVES.c.status == "en_curso")
                               .order_by(campaign.WAVES.c.id)).scalars().all()
    for wave_id in running:
        done.dispatched.add(campaign.dispatch(engine, wave_id, now=now, hours=hours))
    return done


def _run_schedules(engine: Engine, now: datetime) -> list[int]:
    local = now.astimezone(campaign.TZ)
    period = local.strftime("%Y-%m")
    created = []
    with db.transaction(engine) as conn:
        schedules = conn.execute(select(SCHEDULES).where(SCHEDULES.c.active.is_(True)).with_for_update()).all()
        for schedule in schedules:
            if schedule.last_period is not None and schedule.last_period >= period:
                continue
            day = nth_business_day(local.year, local.month, schedule.business_day)
            if local.date() < day or (local.date() == day and local.hour < schedule.hour):
                continue
            # Marked first: a schedule whose draw fails (too few contacts) is not retried every minute.
            conn.execute(update(SCHEDULES).where(SCHEDULES.c.id == schedule.id).values(last_period=period))
            spec = campaign.Spec.from_params(period, dict(schedule.params))
            try:
                wave = campaign.create(conn, spec, now=now, actor=f"programacion:{schedule.name}",
                                    schedule_id=schedule.id)
            except campaign.WaveError as exc:
                log.error("scheduled wave %s for %s not created: %s", schedule.name, period, exc)
                _not_created(conn, schedule, period, str(exc), now)
                continue
            created.append(wave.id)
    return created


def _not_created(conn: Connection, schedule: Any, period: str, reason: str, now: datetime) -> None:
    """The DER expects its monthly wave: one that cannot be drawn is an alert (``ola_no_creada``), not
    only a line in a log nobody reads."""
    from bot.alerts.alerting import Alerts  # alerts are raised only here, rarely: imported when needed

    alerts = Alerts()
    rule = alerts.config.active("ola_no_creada")
    if rule is not None:
        alerts.raise_alert(conn, rule, key=f"{schedule.id}:{period}", now=now, schedule=schedule.name,
                           period=period, reason=reason[:200], detail=reason,
                           data={"schedule": schedule.id, "period": period})


class WaveScheduler(Periodic):
    """Runs ``tick`` every ``interval`` seconds in a thread (next to the outbox worker and the
    alert monitor in ``m360 serve``)."""

    name = "m360-waves"

    def __init__(self, engine: Engine, interval: float = 60.0, on_queued: Callable[[], None] | None = None,
                 clock: Callable[[], datetime] = utcnow):
        super().__init__(interval)
        self.engine, self.on_queued, self.clock = engine, on_queued, clock

    def run_once(self) -> Round:
        done = tick(self.engine, self.clock())
        if done.queued and self.on_queued is not None:
            self.on_queued()
        return done
