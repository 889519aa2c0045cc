""":func:`parse_answer`: the stored value for a chat reply to a question, by question type."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from surveys.parsing.bounds import read_bounds
from surveys.parsing.choices import parse_choice
from surveys.parsing.content import WORD, content_of
from surveys.parsing.corrections import parse_corrected
from surveys.parsing.greetings import without_greeting
from surveys.parsing.list_index import ListIndex, index_of
from surveys.parsing.names import parse_person_name
from surveys.parsing.normalize import NUM_START, tokenize
from surveys.parsing.numbers import pure_numbers
from surveys.parsing.replies import says_none_in
from surveys.parsing.result import (
    AMBIGUOUS,
    EMPTY,
    MAX_TEXT_LEN,
    NONE_GIVEN,
    OUT_OF_RANGE,
    TOO_LONG,
    UNKNOWN,
    Parsed,
    empty_reason,
    fail,
)
from surveys.parsing.yes_no import BASE_YN, NO, NO_EMOJI, PARTIAL, YES, YES_EMOJI, read_yes_no
from surveys.schema import QType, Question, Questionnaire

_YN_TYPES = frozenset({QType.CONSENT, QType.YES_NO, QType.YES_NO_PARTIAL})


def _parse_yes_no_type(index: ListIndex | None, qtype: QType, raw: str, tokens: tuple[str, ...]) -> Parsed:
    allow_partial = qtype == QType.YES_NO_PARTIAL
    allowed = {YES, NO, PARTIAL} if allow_partial else {YES, NO}
    if index is not None and index.choices:
        canon: tuple[str | None, ...] = index.canon
        names = tuple(c.name for c in index.choices)
    else:
        canon = names = (YES, NO, PARTIAL) if allow_partial else (YES, NO)
    if not tokens:
        if any(ch in YES_EMOJI or ch in NO_EMOJI for ch in raw):
            value, reason, confirm = read_yes_no((), BASE_YN, allow_partial=allow_partial, raw=raw)
            return Parsed(True, value, confirm) if value else fail(reason or UNKNOWN)
        return fail(empty_reason(raw))
    numbers = pure_numbers(tokens, len(names))
    if numbers is not None:
        if len(numbers) != 1 or numbers[0].kind in ("range", "list", "frac"):
            return fail(AMBIGUOUS)
        if numbers[0].kind == "dec":
            return fail(OUT_OF_RANGE)
        k = numbers[0].values[0]
        if not 1 <= k <= len(names):
            return fail(OUT_OF_RANGE)
        value = canon[k - 1] or names[k - 1]
        return Parsed(True, value) if value in allowed or canon[k - 1] is None else fail(OUT_OF_RANGE)
    yn = index.yes_no if index is not None else BASE_YN
    value, reason, confirm = read_yes_no(tokens, yn, allow_partial=allow_partial, raw=raw)
    if value is None:
        return fail(reason or UNKNOWN)
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
        return Parsed(True, stripped) if stripped else fail(EMPTY)
    if len(stripped) > MAX_TEXT_LEN:
        return fail(TOO_LONG)
    tokens = tokenize(stripped)
    if qtype == QType.TEXT:
        return _parse_text(question, stripped, tokens)
    if qtype == QType.DATE:
        return _parse_date(stripped, today)
    if tokens:
        tokens = without_greeting(tokens)  # "hola buenas, 4": the greeting is not part of the answer
        if not tokens:
            return fail(UNKNOWN)
    options = questionnaire.options(question)
    if qtype in _YN_TYPES:
        index = index_of(options) if options else None
        # "no" is itself an answer here, never a correction marker ("creo que sí, no estoy seguro")
        return parse_corrected(tokens, lambda toks, text: _parse_yes_no_type(index, qtype, text, toks), stripped,
                          multi=False, no_marker=False)
    mode = _MODES.get(qtype)
    if mode is None:
        return fail(UNKNOWN)
    index, context = index_of(options), _label_stems(question.label)
    if mode in ("rating", "scale"):
        bounded = read_bounds(index, mode, tokens)  # "menos de 3", "no llega a excelente"
        if bounded is not None:
            return bounded
    return parse_corrected(tokens, lambda toks, text: parse_choice(index, mode, text, toks, context), stripped,
                      multi=mode == "multi")


def _parse_text(question: Question, text: str, tokens: tuple[str, ...]) -> Parsed:
    """An open answer. An emoji alone says nothing; an optional question answered "no", "nada más" or
    "ninguna, gracias" is skipped (``none_given``), not stored as a suggestion; a name is a name."""
    if not tokens:
        return fail(empty_reason(text))
    if question.asks_name:
        return parse_person_name(text, tokens)
    if not question.required and says_none_in(None, without_greeting(tokens)):
        return fail(NONE_GIVEN)
    if all(t in _NOT_WORDS or t[0] in NUM_START for t in tokens if t != ","):
        return fail(UNKNOWN)  # "5", "si", "ok" to "¿Por qué?" or "¿Qué necesita?": no words to store
    return Parsed(True, text)


# Replies that say nothing to an open question: a yes, a no, an acknowledgement (a number too).
_NOT_WORDS: Final = frozenset({"si", "no", "ok", "okey", "okay", "listo", "dale", "vale", "ya", "sip", "nop", "sii",
                               "noo", "aja"})


def _parse_date(text: str, today: date | None) -> Parsed:
    from surveys.dates import read_date  # surveys.dates reads this module's reasons

    if today is None:
        raise ValueError("a date question is read against the turn's date: pass today=")
    reading = read_date(text, today)
    if reading.value is None:
        return fail(reading.reason or UNKNOWN)
    return Parsed(True, reading.value.isoformat(), confirm=True)  # a date is always read back


@lru_cache(maxsize=256)
def _label_stems(label: str) -> frozenset[str]:
    return frozenset(c[0] for c in content_of(tokenize(label)) if c[1] == WORD)
