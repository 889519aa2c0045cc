"""Report periods: a month (``2020-11``), a quarter (``2020-Q4``, also ``2020-T4``) or a year
(``2020``). Interviews are stored by month (YYYY-MM, America/Bogota); a cut is a set of months."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-[QqTt]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
# What a person may ask for: the period and its neighbours (trends) must be dates Python can hold.
YEARS = range(1900, 3000)

MONTH_NAMES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
               "noviembre", "diciembre")
KINDS = {"month": "mes", "quarter": "trimestre", "year": "año"}


def month(year: int, m: int) -> str:
    return f"{year:04d}-{m:02d}"


@dataclass(frozen=True)
class Period:
    key: str  # as given, normalised: 2020-11 | 2020-Q4 | 2020
    kind: str  # month | quarter | year
    year: int
    months: tuple[str, ...]  # the YYYY-MM months in the cut, in order

    @property
    def first(self) -> str:
        return self.months[0]

    @property
    def last(self) -> str:
        return self.months[-1]

    @property
    def label(self) -> str:
        """Spanish: «noviembre de 2020», «4.º trimestre de 2020», «2020»."""
        if self.kind == "month":
            return f"{MONTH_NAMES[int(self.key[5:]) - 1]} de {self.year}"
        if self.kind == "quarter":
            return f"{self.key[-1]}.º trimestre de {self.year}"
        return str(self.year)

    def previous(self) -> Period:
        """The cut of the same kind just before (noviembre → octubre, Q1 → Q4 of the year before)."""
        if self.kind == "month":
            y, m = self.year, int(self.key[5:])
            return _parse(month(y - 1, 12) if m == 1 else month(y, m - 1))
        if self.kind == "quarter":
            q = int(self.key[-1])
            return _parse(f"{self.year - 1}-Q4" if q == 1 else f"{self.year}-Q{q - 1}")
        return _parse(str(self.year - 1))

    def year_to_date(self) -> tuple[str, ...]:
        """January of the cut's year up to its last month (the span of series and cumulative demand)."""
        return tuple(month(self.year, m) for m in range(1, int(self.last[5:]) + 1))


def parse(text: str) -> Period:
    """A period from YYYY-MM, YYYY-Qn (or YYYY-Tn) or YYYY, in YEARS; ValueError otherwise."""
    period = _parse(text)
    if period.year not in YEARS:
        raise ValueError(f"periodo inválido {text!r}: el año debe estar entre {YEARS[0]} y {YEARS[-1]}")
    return period


def is_month(text: str) -> bool:
    """Whether ``text`` is a month (YYYY-MM) that :func:`parse` accepts."""
    try:
        return parse(text).kind == "month"
    except ValueError:
        return False


def _parse(text: str) -> Period:
    text = (text or "").strip()
    if m := _MONTH.match(text):
        return Period(text, "month", int(m[1]), (text,))
    if m := _QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        return Period(f"{year}-Q{q}", "quarter", year, tuple(month(year, 3 * (q - 1) + i) for i in (1, 2, 3)))
    if m := _YEAR.match(text):
        year = int(m[1])
        return Period(text, "year", year, tuple(month(year, i) for i in range(1, 13)))
    raise ValueError(f"periodo inválido {text!r}: use AAAA-MM (mes), AAAA-Qn (trimestre) o AAAA (año)")


def month_label(period: str) -> str:
    """«nov. 2020» style short label of a YYYY-MM month."""
    return f"{MONTH_NAMES[int(period[5:]) - 1][:3]}. {period[:4]}"
