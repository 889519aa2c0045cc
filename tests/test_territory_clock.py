"""The territory loop when the clock does what nobody planned for: a scheduler that stopped for days,
a due date the DER moved, a grupo de valor validated after its ticket was closed, the year's last
evening in Bogotá (already next year in UTC). Each through the public functions the jobs call, on a
real SQLite database, with the clock injected."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.waves import campaign, scheduler
from surveys import db
from surveys.models import OutboxMessage
from tests.support.data import contact_on

BOGOTA = timedelta(hours=5)  # UTC−5 all year: Colombia has no daylight saving time

pytestmark = pytest.mark.usefixtures("no_internet")  # tests/conftest.py


def bogota(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Bogotá, as the UTC moment a server sees."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + BOGOTA


@pytest.fixture
def engine(sessions: sessionmaker[Session]) -> Engine:
    return sessions.kw["bind"]


def reminders_queued(engine: Engine) -> list[Any]:
    with Session(engine) as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "reminder")
                              .order_by(OutboxMessage.id)))


# ------------------------------------------------------------------ waves: a scheduler that stopped

# (invited on, reminder_days, [(a round of the scheduler in Bogotá, reminders queued by that round)])
SCHEDULER_PAUSES = [
    pytest.param(date(2026, 11, 10), (2, 5), [
        # Down from the invitation until Thursday 19 (six business days, Monday 16 a holiday): both
        # reminders are owed; only the first goes, and not again a minute later.
        (bogota(date(2026, 11, 19), 10), 1), (bogota(date(2026, 11, 19), 10, 1), 0),
        (bogota(date(2026, 11, 20), 10), 0), (bogota(date(2026, 11, 23), 16), 0),
        (bogota(date(2026, 11, 24), 8), 1),  # three business days after the first: the second
        (bogota(date(2026, 11, 30), 9), 0)], id="worker down a week, a holiday inside"),
    pytest.param(date(2026, 12, 30), (2, 5), [
        # Across the year end: 31 Dec, (1 Jan holiday, weekend), Mon 4 Jan; Reyes moved to Mon 11 Jan.
        (bogota(date(2027, 1, 4), 8), 1),
        (bogota(date(2027, 1, 7), 9), 1),  # 5 business days after the invitation, 3 after the first
        (bogota(date(2027, 1, 12), 9), 0)], id="on time across the year end"),
    pytest.param(date(2026, 12, 30), (2, 5), [
        # Nobody ran the scheduler until Tuesday 12 January (Monday 11 is Reyes): one, then the gap.
        (bogota(date(2027, 1, 11), 10), 0),  # a holiday: nothing goes
        (bogota(date(2027, 1, 12), 8), 1), (bogota(date(2027, 1, 12), 16, 59), 0),
        (bogota(date(2027, 1, 14), 9), 0), (bogota(date(2027, 1, 15), 9), 1)], id="down over Reyes"),
    pytest.param(date(2026, 12, 4), (1, 2, 3), [
        # Reminders a day apart, the scheduler back after the Inmaculada (Tuesday 8 December): one a day.
        (bogota(date(2026, 12, 8), 10), 0), (bogota(date(2026, 12, 9), 10), 1),
        (bogota(date(2026, 12, 9), 14), 0), (bogota(date(2026, 12, 10), 8), 1),
        (bogota(date(2026, 12, 11), 8), 1), (bogota(date(2026, 12, 14), 8), 0)], id="daily reminders"),
]


@pytest.mark.parametrize(("invited_on", "reminder_days", "rounds"), SCHEDULER_PAUSES)
def test_reminders_owed_after_a_pause_are_spread_not_sent_together(
        engine: Engine, invited_on: date, reminder_days: tuple[int, ...],
        rounds: list[tuple[datetime, int]]) -> None:
    contact_on(engine, "76001", "+573001112233")
    period = f"{invited_on.year}-{invited_on.month:02d}"
    with db.transaction(engine) as conn:
        wave_id = campaign.create(conn, campaign.Spec(
            period=period, size=None, regions=(), reminder_days=reminder_days,
            closes_at=datetime(2027, 3, 1, tzinfo=UTC)), now=bogota(invited_on, 7)).id
    assert campaign.launch(engine, wave_id, now=bogota(invited_on, 9)).invited == 1
    for moment, expected in rounds:
        assert scheduler.tick(engine, moment).dispatched.reminded == expected, moment
    assert len(reminders_queued(engine)) == sum(expected for _, expected in rounds)
