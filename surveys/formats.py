"""Numbers, dates and times as a reader in Colombia writes them: the one place that formats them.

Every screen (the chat's confirmations, the panel, the informe, the CLI) goes through these helpers,
which use Babel's CLDR data for ``es_CO`` (decimal comma, thousands point, Spanish month and weekday
names) instead of hand-written ``replace(".", ",")``. Times are shown in Bogotá time and say so.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from surveys import settings

LOCALE: Final = "es_CO"
# Where the DER works: periods, due dates, office hours and every time shown are read in it
# (M360_TIMEZONE, surveys/settings.py), bound once for the process when this module is imported.
TIMEZONE: Final = settings.process_timezone()
TZ: Final = ZoneInfo(TIMEZONE)
TZ_LABEL: Final = "hora de Bogotá" if TIMEZONE == "America/Bogota" else f"hora de {TIMEZONE}"
MISSING: Final = "—"  # a figure that cannot be computed (no data): never a 0 presented as a fact


def number(value: float | None, decimals: int = 1, *, trim: bool = False) -> str:
    """``4.2857`` → ``"4,29"`` (decimals=2); ``1122`` → ``"1.122"`` (decimals=0); None → «—».

    ``trim`` drops a zero decimal part ("5" rather than "5,0"), for axis ticks and chart labels."""
    if value is None:
        return MISSING
    pattern = "#,##0" + ("." + ("#" if trim else "0") * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=LOCALE, decimal_quantization=True)


def percent(value: float | None, decimals: int = 1, *, trim: bool = False) -> str:
    """A percentage already on the 0–100 scale: ``55.56`` → ``"55,6 %"``; None → «—» (never "— %")."""
    if value is None:
        return MISSING
    return f"{number(value, decimals, trim=trim)} %"


def count(n: int, singular: str, plural: str) -> str:
    """``"1 respuesta"``, ``"1.122 respuestas"``."""
    return f"{number(n, 0)} {singular if n == 1 else plural}"


def day(value: date | str | None) -> str:
    """``2026-12-11`` → ``"11 de diciembre de 2026"`` (an ISO string is accepted); None → «—»."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)  # a free-text date kept as the person wrote it
    return str(format_date(value, "d 'de' MMMM 'de' y", locale=LOCALE))


def weekday(value: date) -> str:
    """``"viernes 11 de diciembre"``, for the chat (the weekday is the date's own, computed by Babel)."""
    return format_date(value, "EEEE d 'de' MMMM", locale=LOCALE)


def weekday_year(value: date, today: date | None) -> str:
    """:func:`weekday`, with the year when it is not ``today``'s (always when ``today`` is unknown):
    ``"viernes 15 de enero de 2027"`` read on 7 December 2026."""
    text = weekday(value)
    return text if today is not None and value.year == today.year else f"{text} de {value.year}"


def month(period: str) -> str:
    """``"2020-11"`` → ``"noviembre de 2020"``."""
    year, mon = period.split("-")[:2]
    return format_date(date(int(year), int(mon), 1), "MMMM 'de' y", locale=LOCALE)


def local(moment: datetime) -> datetime:
    """An aware datetime (a naive one is taken as UTC, as the database stores it) in Bogotá time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TZ)


def moment(value: datetime | str | None, *, label: bool = True) -> str:
    """``"11 dic 2026, 10:05 a. m. (hora de Bogotá)"``; an ISO string is accepted; None → «—»."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    text = format_datetime(local(value), "d MMM y, h:mm a", locale=LOCALE)
    return f"{text} ({TZ_LABEL})" if label else text
