"""Días hábiles in Colombia: Monday to Friday, not a public holiday.

Holidays come from the maintained ``holidays`` library (Ley 51 de 1983 "Ley Emiliani" moves most of
them to Monday, and Congress adds new ones), never from a hand-written list. Here in ``surveys`` so
that reading a chat reply ("en 10 días hábiles", surveys.dates) and a ticket's legal deadline
(bot.helpdesk.deadlines) count the same days.

Counting rule (the usual reading of Ley 1755 de 2015): the day something arrives is not counted; a day
that is not hábil counts as the next business day. So ``add_business_days(friday, 1)`` is the next
business day and ``add_business_days(saturday, 0)`` is the following Monday (if it is not a holiday).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Final

import holidays

__all__ = ["add_business_days", "business_days_between", "holiday_name", "is_business_day"]

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
