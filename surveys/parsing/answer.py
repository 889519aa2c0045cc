""":func:`parse_answer`: the stored value for a chat reply to a question, by question type."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from surveys.parsing.bounds import _bounded
from surveys.parsing.choices import _parse_choice
from surveys.parsing.content import _WORD, _content
from surveys.parsing.corrections import _corrected
from surveys.parsing.greetings import _without_greeting
from surveys.parsing.list_index import _index, _ListIndex
from surveys.parsing.names import _parse_person_name
from surveys.parsing.normalize import _tokens
from surveys.parsing.numbers import _pure_numbers
from surveys.parsing.replies import _says_none
from surveys.parsing.result import (
    AMBIGUOUS,
    EMPTY,
    MAX_TEXT_LEN,
    NONE_GIVEN,
    OUT_OF_RANGE,
    TOO_LONG,
    UNKNOWN,
    Parsed,
    _empty_reason,
    _fail,
)
from surveys.parsing.yes_no import _BASE_YN, _N, _NO_EMOJI, _P, _Y, _YES_EMOJI, _yes_no_core
from surveys.schema import QType, Question, Questionnaire

_YN_TYPES = frozenset({QType.CONSENT, QType.YES_NO, QType.YES_NO_PARTIAL})


def _parse_yes_no_type(index: _ListIndex | None, qtype: QType, raw: str, tokens: tuple[str, ...]) -> Parsed:
    allow_partial = qtype == QType.YES_NO_PARTIAL
    allowed = {_Y, _N, _P} if allow_partial else {_Y, _N}
    if index is not None and index.choices:
        canon: tuple[str | None, ...] = index.canon
        names = tuple(c.name for c in index.choices)
    else:
        canon = names = (_Y, _N, _P) if allow_partial else (_Y, _N)
    if not tokens:
        if any(ch in _YES_EMOJI or ch in _NO_EMOJI for ch in raw):
            value, reason, confirm = _yes_no_core((), _BASE_YN, allow_partial=allow_partial, raw=raw)
            return Parsed(True, value, confirm) if value else _fail(reason or UNKNOWN)
        return _fail(_empty_reason(raw))
    numbers = _pure_numbers(tokens, len(names))
    if numbers is not None:
        if len(numbers) != 1 or numbers[0].kind in ("range", "list", "frac"):
            return _fail(AMBIGUOUS)
        if numbers[0].kind == "dec":
            return _fail(OUT_OF_RANGE)
        k = numbers[0].values[0]
        if not 1 <= k <= len(names):
            return _fail(OUT_OF_RANGE)
        value = canon[k - 1] or names[k - 1]
        return Parsed(True, value) if value in allowed or canon[k - 1] is None else _fail(OUT_OF_RANGE)
    yn = index.yes_no if index is not None else _BASE_YN
    value, reason, confirm = _yes_no_core(tokens, yn, allow_partial=allow_partial, raw=raw)
    if value is None:
        return _fail(reason or UNKNOWN)
    return Parsed(True, value, confirm)


_MODES: Final[Mapping[QType, str]] = MappingProxyType({
    QType.SELECT_ONE: "one",
    QType.SCALE: "scale",
    QType.SELECT_MULTIPLE: "multi",
    QType.RATING: "rating",
})


def parse_answer(questionnaire: Questionnaire, question: Question, text: str, *, today: date | None = None) -> Parsed:
    """The stored value for a chat reply to ``question`` (see the module docstring for the rules).

    ``today`` is the respondent's local date, needed by DATE questions ("el viernes")."""
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    qtype = question.type
    stripped = raw.strip()
    if qtype == QType.ENTITY:  # resolved against DIVIPOLA by surveys.entities
        return Parsed(True, stripped) if stripped else _fail(EMPTY)
    if len(stripped) > MAX_TEXT_LEN:
        return _fail(TOO_LONG)
    tokens = _tokens(stripped)
    if qtype == QType.TEXT:
        return _parse_text(question, stripped, tokens)
    if qtype == QType.DATE:
        return _parse_date(stripped, today)
    if tokens:
        tokens = _without_greeting(tokens)  # "hola buenas, 4": the greeting is not part of the answer
        if not tokens:
            return _fail(UNKNOWN)
    options = questionnaire.options(question)
    if qtype in _YN_TYPES:
        index = _index(options) if options else None
        # "no" is itself an answer here, never a correction marker ("creo que sí, no estoy seguro")
        return _corrected(tokens, lambda toks, text: _parse_yes_no_type(index, qtype, text, toks), stripped,
                          multi=False, no_marker=False)
    mode = _MODES.get(qtype)
    if mode is None:
        return _fail(UNKNOWN)
    index, context = _index(options), _label_stems(question.label)
    if mode in ("rating", "scale"):
        bounded = _bounded(index, mode, tokens)  # "menos de 3", "no llega a excelente"
        if bounded is not None:
            return bounded
    return _corrected(tokens, lambda toks, text: _parse_choice(index, mode, text, toks, context), stripped,
                      multi=mode == "multi")


def _parse_text(question: Question, text: str, tokens: tuple[str, ...]) -> Parsed:
    """An open answer. An emoji alone says nothing; an optional question answered "no", "nada más" or
    "ninguna, gracias" is skipped (``none_given``), not stored as a suggestion; a name is a name."""
    if not tokens:
        return _fail(_empty_reason(text))
    if question.asks_name:
        return _parse_person_name(text, tokens)
    if not question.required and _says_none(None, _without_greeting(tokens)):
        return _fail(NONE_GIVEN)
    return Parsed(True, text)


def _parse_date(text: str, today: date | None) -> Parsed:
    from surveys.dates import read_date  # surveys.dates reads this module's reasons

    if today is None:
        raise ValueError("a date question is read against the turn's date: pass today=")
    reading = read_date(text, today)
    if reading.value is None:
        return _fail(reading.reason or UNKNOWN)
    return Parsed(True, reading.value.isoformat(), confirm=True)  # a date is always read back


@lru_cache(maxsize=256)
def _label_stems(label: str) -> frozenset[str]:
    return frozenset(c[0] for c in _content(_tokens(label)) if c[1] == _WORD)
