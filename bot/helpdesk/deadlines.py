"""Business-day deadlines for mesa de ayuda tickets (docs/helpdesk.md).

Terms follow Ley 1755 de 2015 (derecho de petición): 15 días hábiles in general, 10 for requests of
documents and 30 for consultas. A día hábil is Monday to Friday and not a Colombian public holiday; the
counting itself lives in ``surveys.workdays`` (re-exported here), which the chat's date reading shares.

Counting rule (the usual reading of the law): the day a request arrives is not counted; a request that
arrives on a weekend or holiday is taken as received on the next business day, and counting starts after
that. So ``add_business_days(friday, 1)`` is the next business day and ``add_business_days(saturday, 0)``
is the following Monday (if it is not a holiday).

The general term can be changed with ``M360_TICKET_DEADLINE_DAYS`` (README, Configuration).
"""

from __future__ import annotations

from datetime import date, datetime
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from surveys import settings
from surveys.formats import TIMEZONE
from surveys.workdays import add_business_days, business_days_between, holiday_name, is_business_day

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


def default_days() -> int:
    """The general term in business days: env ``M360_TICKET_DEADLINE_DAYS``, else :data:`DEFAULT_DAYS`."""
    days = settings.current().ticket_deadline_days
    return DEFAULT_DAYS if days is None else days


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

    return (now or utcnow()).astimezone(ZoneInfo(tz or TIMEZONE)).date()


def is_overdue(due: date, today: date) -> bool:
    """True once ``today`` is past ``due`` (the due date itself is still on time)."""
    return today > due
