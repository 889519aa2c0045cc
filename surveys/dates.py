"""Dates people write in a chat ("el 30 de este mes", "el viernes", "en dos semanas", "15/01",
"antes del 20 de diciembre") read against the turn's clock, never the wall clock.

Two layers. This module finds the date expression in the message and rewrites the Spanish
phrasings the library does not know ("de este mes", "el próximo viernes", "pasado mañana", "fin de
mes", number words). ``dateparser`` (Spanish, day-month-year order, future dates preferred, the
turn's date as its relative base) then does the calendar work: month names and abbreviations,
numeric forms, "hoy", "mañana"; this module computes weekdays and "en 2 semanas" itself.

A message that names two different dates ("el 15 o el 20"), a weekday that does not match its date,
a month without a day, a date already past or more than two years away is not guessed: the reason
says why and the engine asks again. Every date read is confirmed back to the respondent anyway.

Colombian usage this module follows: a day and month without a year is this year's (today is today),
or next year's when that month is already behind ("15 de enero" said in December); a day of this month
already gone ("5 de diciembre" on the 7th) has passed and is asked again, never moved a year ahead.
"El lunes pasado", "ayer" are past. "El otro martes" and "la otra semana, el martes" are next week's.
"En 8 días" is a week and "en 15 días" two (as people count them); "en 10 días hábiles" counts
business days with Colombian holidays (surveys.workdays). "Para ayer" means as soon as possible: today.
A correction is taken: "el 15, no perdón, el 20" is the 20th.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import dateparser

from surveys.folding import fold
from surveys.parsing import (
    AMBIGUOUS,
    EMPTY,
    NO_DAY,
    NO_SUCH_DAY,
    NONE_GIVEN,
    OUT_OF_RANGE,
    UNKNOWN,
    number_words,
    says_none,
)
from surveys.workdays import add_business_days

__all__ = ["DateReading", "read_date"]

HORIZON: Final = timedelta(days=2 * 366)  # a deadline further away than this is a typo ("2062")

_SETTINGS: Final = {"PREFER_DATES_FROM": "future", "DATE_ORDER": "DMY", "PREFER_DAY_OF_MONTH": "first",
                    "RETURN_AS_TIMEZONE_AWARE": False}

_MONTHS: Final = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
                  "noviembre", "diciembre")
_MONTH = (r"(?:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
          r"|ene|feb|mar|abr|may|jun|jul|ago|sept|sep|set|oct|nov|dic)\.?")
_WEEKDAYS: Final = ("lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo")
_WEEKDAY = "(?:" + "|".join(_WEEKDAYS) + ")"
_YEAR = r"(?:\s*(?:de|del)?\s*(?:20\d\d))?"

# Date expressions, most specific first; each match is one date (see read_date).
_PATTERNS: Final = tuple(re.compile(p) for p in (
    r"\b\d{4}-\d{1,2}-\d{1,2}\b",  # ISO
    rf"(?:\b{_WEEKDAY}\s+)?\b\d{{1,2}}\s*(?:de\s+)?{_MONTH}(?![a-z]){_YEAR}",  # (viernes) 11 de diciembre (de 2026)
    rf"\b{_MONTH}\s+\d{{1,2}}\b{_YEAR}",  # diciembre 11
    r"(?:\b" + _WEEKDAY + r"\s+)?\b\d{1,2}[/.-]\d{1,2}(?:[/.-](?:\d{4}|\d{2}))?\b",  # 15/01, 15-01-2027
    r"\b(?:hoy|manana)\b",
    rf"\b{_WEEKDAY}(?:\s+(?:el\s+)?\d{{1,2}}\b)?",  # viernes, viernes 11
    r"(?:\b(?:el|del|al)\s+(?:dia\s+)?|\bdia\s+)\d{1,2}\b",  # el 15, el día 15, antes del 24
))
_MONTH_ONLY: Final = re.compile(rf"(?<!\d\s)\b{_MONTH}(?![a-z])")

# Said when there is no deadline: the (optional) question is skipped.
_NONE: Final = frozenset({
    "no", "nop", "no hay", "no tenemos", "no tengo", "ninguna", "ninguno", "no hay fecha", "sin fecha",
    "no tenemos fecha", "no tengo fecha", "no hay fecha limite", "no tiene", "no se", "nose", "no sabemos",
    "no hay plazo", "sin plazo", "no hay afan", "lo antes posible", "cuanto antes", "lo mas pronto posible",
    "lo mas pronto", "ya", "asap", "urgente", "no definida", "no esta definida", "por definir", "aun no", "todavia no",
    "todavia no sabemos", "aun no sabemos", "no sabemos todavia", "no sabemos aun", "no se sabe", "no sabria decir",
    "no tenemos fecha definida", "no hay fecha definida", "sin definir", "por confirmar", "no tengo claro",
})

_NUMBER_WORDS: Final = {
    **number_words(), "un": 1, "una": 1, "veintiuno": 21, "veintiun": 21, "veintidos": 22, "veintitres": 23,
    "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26, "veintisiete": 27, "veintiocho": 28,
    "veintinueve": 29, "treinta": 30, "treinta y uno": 31, "treintaiuno": 31,
}
_NUMBER_WORD = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + r")\b")


@dataclass(frozen=True)
class DateReading:
    value: date | None = None
    reason: str | None = None  # when value is None: empty | unknown | ambiguous | out_of_range | none_given


# "el 15, no perdón, el 20": what follows the last correction marker is the date meant.
_CORRECTION: Final = re.compile(r"\b(?:no\s+perdon|perdon|perdone|disculpe|disculpa|mejor\s+dicho|quise\s+decir"
                                r"|quiero\s+decir|queria\s+decir|digo|corrijo|o\s+sea|no\s+mejor|mejor)\b")
# "para ayer": wanted as soon as possible, which is today.
_AT_ONCE: Final = re.compile(r"\b(?:para|pa)\s+(?:ayer|antier|anteayer)\b|\bya\s+mismo\b|\bhoy\s+mismo\b")
# Days gone by: "el lunes pasado", "ayer", "la semana pasada", "hace 3 días".
_PAST: Final = re.compile(r"\b(?:pasad[oa]s?|ayer|antier|anteayer)\b|\bhace\s+\d")


def read_date(text: str, today: date) -> DateReading:
    """The one date ``text`` names, relative to ``today`` (the respondent's local date)."""
    folded = _plain(text)
    if not folded:
        return DateReading(reason=EMPTY)
    if folded in _NONE or folded.removeprefix("no ") in ("hay", "tenemos", "tengo") or says_none(folded):
        return DateReading(reason=NONE_GIVEN)
    parts = _CORRECTION.split(folded)
    if len(parts) > 1 and parts[-1].strip():
        corrected = read_date(parts[-1], today)
        if corrected.value is not None or corrected.reason == OUT_OF_RANGE:
            return corrected
    if _AT_ONCE.search(folded):
        return DateReading(value=today)
    rewritten = _rewrite(folded, today)
    if _PAST.search(rewritten):
        return DateReading(reason=OUT_OF_RANGE)
    found: list[date | None] = []
    rest = rewritten
    for pattern in _PATTERNS:
        for match in pattern.finditer(rest):
            found.append(_resolve(match.group(), today))
        rest = pattern.sub(" ", rest)
    if len(found) == 1 and found[0] is None and not re.search(r"\d", rest) and _no_such_day(rewritten, today):
        return DateReading(reason=NO_SUCH_DAY)  # "31 de noviembre", "15/13"
    if any(d is None for d in found) or len(set(found)) > 1 or (found and re.search(r"\d", rest)):
        return DateReading(reason=AMBIGUOUS)  # two dates, a leftover number, a weekday that contradicts its date
    if not found:
        # "diciembre", "a mediados de enero", "la otra semana": a date was meant but no day is given.
        if _MONTH_ONLY.search(rest) or re.search(r"\bsemana\b", rest):
            return DateReading(reason=NO_DAY)
        return DateReading(reason=AMBIGUOUS if re.search(r"\d", rest) else UNKNOWN)
    value = found[0]
    assert value is not None  # a None among them was ambiguous above
    if value < today or value > today + HORIZON:
        return DateReading(reason=OUT_OF_RANGE)
    return DateReading(value=value)


def _no_such_day(text: str, today: date) -> bool:
    """The one expression names a day and month the calendar does not have (not a weekday mismatch):
    "31 de noviembre", "31/11", or a bare "el 31" said in November."""
    for pattern in _PATTERNS[1:4]:  # "31 de noviembre", "noviembre 31", "31/11"
        match = pattern.search(text)
        if match is not None:
            body = re.sub(rf"^{_WEEKDAY}\s+", "", match.group())
            return _day_month(re.sub(r"\b(?:el|dia|de|del)\s+(?=\d)", "", body).strip(), today) is None
    bare = _PATTERNS[-1].search(text)  # "el 31": this month's, or next month's once past
    return bare is not None and not _PATTERNS[-2].search(text) and _resolve(bare.group(), today) is None


def _plain(text: str) -> str:
    """Folded (``surveys.folding``), punctuation off except inside numbers ("15.01", "15-01", "15/01")."""
    text = re.sub(r"[^\w/.\-]+", " ", fold(text or "")).replace("_", " ")
    text = re.sub(r"(?<!\d)[.\-]|[.\-](?!\d)", " ", text)  # keep "15.01" and "15-01", drop sentence dots
    return " ".join(text.split())


def _rewrite(text: str, today: date) -> str:
    """Spanish phrasings turned into what the patterns and dateparser read."""
    text = _NUMBER_WORD.sub(lambda m: str(_NUMBER_WORDS[m.group(1)]), text)
    text = re.sub(r"\b2\s+mil(?:\s+(\d{1,2}))?\b", lambda m: str(2000 + int(m.group(1) or 0)), text)  # "dos mil 27"
    text = re.sub(r"\b(\d{1,2})(?:ro|ero|o|º)(?=\s|$)", r"\1", text)  # "1ro de enero", "2o"
    text = re.sub(r"\b(?:en|por|de|a)\s+la\s+(?:manana|tarde|noche)\b", " ", text)  # "el viernes en la mañana"
    this_month, next_month = _MONTHS[today.month - 1], _MONTHS[today.month % 12]
    text = re.sub(r"\bdel?\s+(?:mes\s+)?(?:proximo|siguiente|entrante)(?:\s+mes)?\b|\bdel\s+mes\s+que\s+viene\b"
                  r"|\bdel\s+otro\s+mes\b", f" de {next_month} ", text)
    text = re.sub(r"\bdentro\s+de\b", " en ", text)
    text = re.sub(r"\ben\s+(\d{1,3})\s+dias?\s+(?:habiles|laborales|utiles)\b",
                  lambda m: " " + _numeric(add_business_days(today, int(m.group(1)))) + " ", text)
    text = re.sub(r"\ben\s+(?:(\d{1,3})\s+)?(dias?|semanas?|mes(?:es)?)\s+y\s+medi[oa]\b",  # "en un mes y medio"
                  lambda m: " " + _numeric(_after(today, int(m.group(1) or 1), m.group(2), half=True)) + " ", text)
    text = re.sub(r"\ben\s+(\d{1,3})\s+(dias?|semanas?|mes(?:es)?)\b",
                  lambda m: " " + _numeric(_after(today, int(m.group(1)), m.group(2))) + " ", text)
    text = re.sub(r"\b(?:a\s+)?(?:fin|final|finales)\s+(?:de|del)\s+(?:este\s+)?mes\b|\bultimo\s+dia\s+del\s+mes\b",
                  lambda _: " " + _numeric(date(today.year, today.month,
                                                 calendar.monthrange(today.year, today.month)[1])) + " ", text)
    text = re.sub(r"\b(?:a\s+)?(?:fin|final|finales)\s+(?:de|del)\s+(?:este\s+)?ano\b",
                  " " + _numeric(date(today.year, 12, 31)) + " ", text)
    text = re.sub(r"\b(?:de|del)\s+(?:este|el|presente)\s+mes\b|\bdel\s+mes\b", f" de {this_month} ", text)
    text = re.sub(r"\bpasado\s+manana\b", " " + _numeric(today + timedelta(days=2)) + " ", text)
    # "el próximo viernes", "el viernes que viene": the next one; "el viernes de la otra semana": next week's.
    text = re.sub(rf"\b(?:el\s+)?(?:proximo|siguiente)\s+({_WEEKDAY})\b|\b({_WEEKDAY})\s+(?:que\s+viene|entrante)\b",
                  lambda m: " " + _numeric(_next_weekday(today, m.group(1) or m.group(2), False)) + " ", text)
    next_week = r"(?:(?:otra|proxima|siguiente)\s+semana|semana\s+(?:que\s+viene|entrante))"
    text = re.sub(rf"\b({_WEEKDAY})\s+de\s+la\s+{next_week}\b"
                  rf"|\b(?:el\s+)?otro\s+({_WEEKDAY})\b"  # "el otro martes": Colombian for next week's
                  rf"|\b(?:la\s+)?{next_week}\s+(?:el\s+)?({_WEEKDAY})\b",
                  lambda m: " " + _numeric(_next_weekday(today, m.group(1) or m.group(2) or m.group(3), True)) + " ",
                  text)
    text = re.sub(rf"\b(?:a\s+)?(?:fin|final|finales)\s+de\s+({_MONTH})(?![a-z])",  # "a finales de enero"
                  lambda m: " " + _numeric(_month_end(today, _month_number(m.group(1)))) + " ", text)
    return " ".join(text.split())


def _next_weekday(today: date, name: str, next_week: bool) -> date:
    """The next ``name`` after today (a week on when said on that weekday); ``next_week``: in the next week."""
    ahead = (_WEEKDAYS.index(name) - today.weekday()) % 7 or 7
    if next_week and today.weekday() + ahead <= 6:
        ahead += 7
    return today + timedelta(days=ahead)


# "en 8 días" is a week and "en 15 días" two, as people in Colombia count them (the day counted twice).
_SPOKEN_DAYS: Final = {8: 7, 15: 14}


def _after(today: date, n: int, unit: str, *, half: bool = False) -> date:
    """ "en 2 semanas", "en 1 mes" (the same day of the month, or the month's last), "en 8 días" (a week);
    ``half``: and a half ("en un mes y medio": 15 days more, "en semana y media": 4)."""
    if unit.startswith("mes"):
        months = today.month - 1 + n
        year, month_number = today.year + months // 12, months % 12 + 1
        day = date(year, month_number, min(today.day, calendar.monthrange(year, month_number)[1]))
        return day + timedelta(days=15 if half else 0)
    if unit.startswith("semana"):
        return today + timedelta(days=7 * n + (4 if half else 0))
    return today + timedelta(days=(n if half else _SPOKEN_DAYS.get(n, n)) + (1 if half else 0))


def _month_number(name: str) -> int:
    key = name.rstrip(".")[:3]
    return {"set": 9}.get(key) or next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(key))


def _month_end(today: date, month_number: int) -> date:
    """The last day of that month: this year's, or next year's when the month is behind."""
    year = today.year + (month_number < today.month)
    return date(year, month_number, calendar.monthrange(year, month_number)[1])


def _upcoming(today: date, day_number: int, month_number: int) -> date | None:
    """A day and month without a year: this year's (today included); next year's when the month is
    already behind ("15 de enero" in December); this year's even if gone, when the month is this one or
    still ahead in the year ("5 de diciembre" on the 7th: it has passed, and read_date says so)."""
    candidate = _day_in(today.year, month_number, day_number)
    if candidate is not None and candidate < today and month_number < today.month:
        return _day_in(today.year + 1, month_number, day_number)
    return candidate


_DAY_MONTH: Final = (
    re.compile(rf"(?P<day>\d{{1,2}})\s*(?:de\s+)?(?P<month>{_MONTH})(?:\s*(?:de|del)?\s*(?P<year>20\d\d))?"),
    re.compile(rf"(?P<month>{_MONTH})\s+(?P<day>\d{{1,2}})(?:\s*(?:de|del)?\s*(?P<year>20\d\d))?"),
    re.compile(r"(?P<day>\d{1,2})[/.-](?P<num>\d{1,2})(?:[/.-](?P<year>\d{4}|\d{2}))?"),
)


def _day_month(body: str, today: date) -> date | None | bool:
    """ "11 de diciembre", "diciembre 11", "15/01", "15-01-2027"; False when ``body`` is not one of them,
    None when it names a day that does not exist ("31/02")."""
    for pattern in _DAY_MONTH:
        m = pattern.fullmatch(body)
        if m is None:
            continue
        groups = m.groupdict()
        month_number = int(groups["num"]) if groups.get("num") else _month_number(groups["month"])
        if not 1 <= month_number <= 12:
            return None
        day_number = int(m["day"])
        if groups.get("year"):
            year = int(groups["year"]) + (2000 if len(groups["year"]) == 2 else 0)
            return _day_in(year, month_number, day_number)
        return _upcoming(today, day_number, month_number)
    return False


def _numeric(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _resolve(expression: str, today: date) -> date | None:
    """One expression's date (None: it names a day that does not exist or contradicts its weekday)."""
    expression = re.sub(r"\b(?:el|dia|de|del)\s+(?=\d)", "", expression).strip()
    weekday = next((w for w in _WEEKDAYS if re.match(rf"{w}\b", expression)), None)
    body = expression[len(weekday):].strip() if weekday else expression
    if weekday is not None and not body:
        return _next_weekday(today, weekday, False)
    explicit = _day_month(body, today)
    if re.fullmatch(r"\d{1,2}", body):  # a day of the month: this month's, or next month's once past
        day_number = int(body)
        candidate = _day_in(today.year, today.month, day_number)
        if candidate is not None and candidate < today:
            year, month_number = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
            candidate = _day_in(year, month_number, day_number)
        value = candidate
    elif explicit is not False:
        value = explicit if isinstance(explicit, date) else None
    else:
        base = datetime(today.year, today.month, today.day, 12)
        parsed = dateparser.parse(body or expression, languages=["es"], settings={**_SETTINGS, "RELATIVE_BASE": base})
        value = parsed.date() if parsed is not None else None
    if value is None:
        return None
    if weekday is not None and body and _WEEKDAYS[value.weekday()] != weekday:
        return None  # "el viernes 12" when the 12th is a Saturday: two dates are possible
    return value


def _day_in(year: int, month_number: int, day_number: int) -> date | None:
    try:
        return date(year, month_number, day_number)
    except ValueError:
        return None
