"""Business-day deadlines for mesa de ayuda tickets (SPEC §5).

Terms follow Ley 1755 de 2015 (derecho de petición): 15 días hábiles in general, 10 for requests of
documents and 30 for consultas. A día hábil is Monday to Friday and not a Colombian public holiday;
holidays come from the maintained ``holidays`` library (Ley 51 de 1983 "Ley Emiliani" moves most of
them to Monday, and Congress adds new ones), never from a hand-written list.

Counting rule (the usual reading of the law): the day a request arrives is not counted; a request that
arrives on a weekend or holiday is taken as received on the next business day, and counting starts after
that. So ``add_business_days(friday, 1)`` is the next business day and ``add_business_days(saturday, 0)``
is the following Monday (if it is not a holiday).

| variable | default | meaning |
|---|---|---|
| M360_TICKET_DEADLINE_DAYS | 15 | business days to answer a ticket when no term is given |
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DEFAULT_DAYS",
    "TERMS",
    "TIMEZONE",
    "add_business_days",
    "business_days_between",
    "deadline_for",
    "default_days",
    "holiday_name",
    "is_business_day",
    "is_overdue",
]

DEFAULT_DAYS: Final = 15
TERMS: Final = MappingProxyType({"general": 15, "documentos": 10, "consulta": 30})
TIMEZONE: Final = "America/Bogota"
ENV_DAYS: Final = "M360_TICKET_DEADLINE_DAYS"

_ONE_DAY: Final = timedelta(days=1)


@lru_cache(maxsize=64)
def _holidays(year: int) -> dict[date, str]:
    # One immutable snapshot per year: a shared HolidayBase grows itself on lookup, which is not thread-safe.
    return dict(holidays.Colombia(years=year, language="es"))


def holiday_name(day: date) -> str | None:
    """The Spanish name of the Colombian public holiday on ``day`` ("Navidad"), or None."""
    return _holidays(day.year).get(day)


def is_business_day(day: date) -> bool:
    """Monday to Friday and not a Colombian public holiday."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def _next_business_day(day: date) -> date:
    day += _ONE_DAY
    while not is_business_day(day):
        day += _ONE_DAY
    return day


def add_business_days(start: date, days: int) -> date:
    """The date ``days`` business days after ``start`` (``start`` itself is not counted).

    A non-business ``start`` (weekend, holiday) counts as received on the next business day, so with
    ``days=0`` the result is ``start`` when it is a business day, otherwise the next business day.
    Raises ValueError for negative ``days``.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    if isinstance(start, datetime):  # a datetime is a date subclass; its clock would leak into the result
        start = start.date()
    day = start if is_business_day(start) else _next_business_day(start)
    for _ in range(days):
        day = _next_business_day(day)
    return day


def business_days_between(start: date, end: date) -> int:
    """Business days in the interval (``start``, ``end``]; negative when ``end`` is before ``start``.

    ``business_days_between(today, due)`` is the days left (0 on the due date, negative once overdue), and
    for a business-day ``start`` it inverts :func:`add_business_days`.
    """
    if isinstance(start, datetime):
        start = start.date()
    if isinstance(end, datetime):
        end = end.date()
    if end < start:
        return -business_days_between(end, start)
    # Whole weeks first (5 weekdays each), then the remainder day by day: ticket ages stay cheap for any span.
    span = (end - start).days
    weeks, rest = divmod(span, 7)
    count = weeks * 5
    day = start + timedelta(days=weeks * 7)
    for _ in range(rest):
        day += _ONE_DAY
        if day.weekday() < 5:
            count += 1
    for year in range(start.year, end.year + 1):
        count -= sum(1 for h in _holidays(year) if start < h <= end and h.weekday() < 5)
    return count


def default_days() -> int:
    """The general term in business days: env ``M360_TICKET_DEADLINE_DAYS``, else :data:`DEFAULT_DAYS`."""
    raw = os.environ.get(ENV_DAYS, "").strip()
    if not raw:
        return DEFAULT_DAYS
    try:
        days = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_DAYS} must be a whole number of business days, got {raw!r}") from None
    if days < 0:
        raise ValueError(f"{ENV_DAYS} must be >= 0, got {days}")
    return days


def deadline_for(created_at: datetime, days: int | None = None, tz: str = TIMEZONE) -> date:
    """The due date of a ticket created at ``created_at`` (aware; stored times are UTC).

    The creation day is the local date in ``tz`` (a ticket opened at 21:00 in Bogotá on Friday is a Friday
    ticket even though it is Saturday in UTC). ``days`` defaults to :func:`default_days`; pass
    ``TERMS["documentos"]`` or ``TERMS["consulta"]`` for the special terms.
    """
    if created_at.tzinfo is None:
        # Same rule as surveys.models.UTCDateTime: a naive time is ambiguous by up to a day here.
        raise ValueError("naive datetime given; pass an aware datetime (surveys.models.utcnow())")
    local_day = created_at.astimezone(ZoneInfo(tz)).date()
    return add_business_days(local_day, default_days() if days is None else days)


def local_today(now: datetime | None = None, tz: str | None = None) -> date:
    """The calendar day it is in ``tz`` (default ``M360_TIMEZONE``, else Bogotá) at ``now`` (default:
    now): what due dates and periods are compared with."""
    from surveys.models import utcnow

    return (now or utcnow()).astimezone(ZoneInfo(tz or os.environ.get("M360_TIMEZONE") or TIMEZONE)).date()


def is_overdue(due: date, today: date) -> bool:
    """True once ``today`` is past ``due`` (the due date itself is still on time)."""
    return today > due
