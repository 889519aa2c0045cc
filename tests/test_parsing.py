"""Tolerant parsing of chat answers: the table in data/parsing_cases.yaml and invariants (its speed:
bench/hotpaths.py)."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveys.parsing import (
    MAX_TEXT_LEN,
    Parsed,
    normalize,
    number_words,
    parse_answer,
    parse_yes_no,
)
from surveys.schema import Choice, QType, Question, Questionnaire, builtin
from tests.support.parsing_cases import DATA, TODAY, Q, questionnaire

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

REASONS = {"empty", "unknown", "out_of_range", "ambiguous", "too_long", "none_given", "no_day", "no_such_day"}


CASES = [
    pytest.param(name, case, id=f"{name}-{i}-{case['in']!r}")
    for name, cases in DATA["cases"].items()
    for i, case in enumerate(cases)
]


def assert_valid(questionnaire: Questionnaire, question: Question, text: str, parsed: Parsed) -> None:
    """An ok result holds a value the question can store; a failure says why."""
    assert isinstance(parsed, Parsed)
    if not parsed.ok:
        assert parsed.reason in REASONS, parsed
        assert parsed.value is None and not parsed.confirm
        return
    assert parsed.reason is None
    names = [c.name for c in questionnaire.options(question)]
    value = parsed.value
    match question.type:
        case QType.CONSENT | QType.YES_NO:
            assert value in ("si", "no")
        case QType.YES_NO_PARTIAL:
            assert value in ("si", "no", "parcialmente")
        case QType.SELECT_ONE | QType.SCALE:
            assert value in names
        case QType.RATING if isinstance(value, str):  # a rating's way out ("no_aplica"), never a number
            assert value in names and not value.strip().isdigit()
        case QType.RATING:
            assert isinstance(value, int) and not isinstance(value, bool)
            assert str(value) in {n.strip() for n in names} or value in {int(n) for n in names if n.isdigit()}
        case QType.SELECT_MULTIPLE:
            assert isinstance(value, list) and value
            assert len(set(value)) == len(value)
            assert value == sorted(value, key=names.index)
        case QType.TEXT if question.asks_name:  # a person's name, taken from the reply
            assert value and normalize(value) in normalize(text) and len(value) <= MAX_TEXT_LEN
        case QType.TEXT:
            assert value == text.strip() and value and len(value) <= MAX_TEXT_LEN
        case QType.ENTITY:
            assert value == text.strip() and value
        case QType.DATE:
            assert date.fromisoformat(value) >= TODAY and parsed.confirm


# ---------------------------------------------------------------- the table


@pytest.mark.parametrize(("name", "case"), CASES)
def test_case(name: str, case: dict[str, Any]) -> None:
    question = Q.question(name)
    parsed = parse_answer(Q, question, case["in"], today=TODAY)
    if "reason" in case:
        assert (parsed.ok, parsed.reason) == (False, case["reason"]), parsed
        assert parsed.candidates == tuple(case.get("candidates", ())), parsed
    else:
        expected = Parsed(ok=True, value=case["value"], confirm=case.get("confirm", False))
        assert parsed == expected
    assert_valid(Q, question, case["in"], parsed)


def test_table_covers_every_question_type() -> None:
    covered = {Q.question(name).type for name in DATA["cases"]}
    assert covered == set(QType)


@pytest.mark.parametrize("case", DATA["parse_yes_no"], ids=lambda c: repr(c["in"]))
def test_parse_yes_no(case: dict[str, Any]) -> None:
    assert parse_yes_no(case["in"]) == case["value"]


@pytest.mark.parametrize("case", DATA["normalize"], ids=lambda c: repr(c["in"]))
def test_normalize(case: dict[str, Any]) -> None:
    assert normalize(case["in"]) == case["out"]


def test_normalize_is_idempotent() -> None:
    for case in DATA["normalize"]:
        once = normalize(case["in"])
        assert normalize(once) == once


def test_number_words() -> None:
    words = number_words()
    assert [words[w] for w in ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho",
                               "nueve", "diez")] == list(range(11))
    assert words["primera"] == 1 and words["tercero"] == 3


# ---------------------------------------------------------------- edges the table cannot express


def test_text_too_long() -> None:
    question = Q.question("text")
    assert parse_answer(Q, question, "a" * MAX_TEXT_LEN).ok
    assert parse_answer(Q, question, "a" * (MAX_TEXT_LEN + 1)) == Parsed(False, reason="too_long")
    assert parse_answer(Q, question, "  " + "a" * MAX_TEXT_LEN + "  ").ok  # measured after stripping


def test_long_choice_reply_is_too_long() -> None:
    assert parse_answer(Q, Q.question("rating"), "4 " * MAX_TEXT_LEN).reason == "too_long"


def test_equal_lists_share_parsing() -> None:
    """The per-list cache is keyed by value: a rebuilt questionnaire parses the same."""
    again = questionnaire()
    for name in ("temas", "rating", "consent_names"):
        for text in ("1", "seguimiento y armonización", "excelente", "no acepto"):
            assert parse_answer(again, again.question(name), text) == parse_answer(Q, Q.question(name), text)


def test_rating_accepts_any_integer_list() -> None:
    q = Questionnaire(
        "r", "1", "r",
        (Question("nps", QType.RATING, "¿Recomendaría…?", choices="nps"),),
        {"nps": tuple(Choice(str(i), str(i)) for i in range(-2, 3))},
    )
    question = q.question("nps")
    assert parse_answer(q, question, "-2") == Parsed(True, -2)
    assert parse_answer(q, question, "0") == Parsed(True, 0)
    assert parse_answer(q, question, "3").reason == "out_of_range"


def test_yes_no_without_choice_list() -> None:
    # Defensive: a yes/no question whose list is missing still reads Sí/No/Parcialmente in that order.
    q = Questionnaire("x", "1", "x", ())
    question = Question("x", QType.YES_NO_PARTIAL, "x", choices="missing")
    assert parse_answer(q, question, "3") == Parsed(True, "parcialmente")
    assert parse_answer(q, question, "claro") == Parsed(True, "si")


# ---------------------------------------------------------------- never raises, always valid

VOCAB = [
    "si", "no", "sí", "claro", "que", "acepto", "no", "parcialmente", "más", "o", "menos", "muy", "buena", "mala",
    "excelente", "regular", "no aplica", "N/A", "secretario", "jefa", "de", "planeación", "otro", "todas", "menos",
    "formulación", "pdt", "seguimiento", "y", "armonización", "proyectos", "plan", "indicativo", "1", "3", "13",
    "4/5", "4,5", "1-3", "8/10", "-1", "0", "cuatro", "la", "primera", "última", "del", "al", "a", "de", "⭐", "👍",
    "👎", "4️⃣", "🔟", ",", ".", "!", "?", "pero", "ninguna", "nada", "no sé", "bien", "99999999999999", "１",
    "٣", "ñ", "\n", "  ",
]
replies = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(VOCAB), max_size=8).map(" ".join),
    st.lists(st.sampled_from(VOCAB), max_size=8).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(DATA["questions"])), text=replies)
def test_never_raises_and_ok_is_valid(name: str, text: str) -> None:
    question = Q.question(name)
    parsed = parse_answer(Q, question, text, today=TODAY)
    assert_valid(Q, question, text, parsed)
    assert parse_answer(Q, question, text, today=TODAY) == parsed  # deterministic (caches do not leak state)


@settings(max_examples=200, deadline=None)
@given(text=replies)
def test_parse_yes_no_and_normalize_never_raise(text: str) -> None:
    assert parse_yes_no(text) in ("si", "no", None)
    folded = normalize(text)
    assert folded == folded.strip() and "  " not in folded


# ---------------------------------------------------------------- the shipped questionnaires

SHIPPED = ("monitoreo360", "sistematizacion", "registro", "solicitud")
shipped = functools.cache(builtin)


def _first(q: Questionnaire, qtype: QType) -> Question | None:
    return next((x for x in q.questions if x.type is qtype), None)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_questionnaires_parse_the_basics(name: str) -> None:
    """Whatever labels and synonyms the analysts write, numbers and plain yes/no keep working."""
    q = shipped(name)
    for question in q.questions:
        options = q.options(question)
        if question.type in (QType.CONSENT, QType.YES_NO, QType.YES_NO_PARTIAL):
            assert parse_answer(q, question, "si") == Parsed(True, "si")
            assert parse_answer(q, question, "no acepto").value == "no"
            assert parse_answer(q, question, "2") == Parsed(True, "no")
        elif question.type in (QType.SELECT_ONE, QType.SCALE):
            assert parse_answer(q, question, "1") == Parsed(True, options[0].name)
            assert parse_answer(q, question, str(len(options) + 1)).reason == "out_of_range"
        elif question.type is QType.SELECT_MULTIPLE:
            assert parse_answer(q, question, "1, 3") == Parsed(True, [options[0].name, options[2].name])
            assert parse_answer(q, question, "1 y 1") == Parsed(True, [options[0].name])
        elif question.type is QType.RATING:
            top = max(int(c.name) for c in options if c.name.isdigit())
            assert parse_answer(q, question, f"{top}/{top}") == Parsed(True, top)
            assert parse_answer(q, question, str(top + 1)).reason == "out_of_range"
        for label in (c.label for c in options):
            parsed = parse_answer(q, question, label)
            assert parsed.ok, (question.name, label, parsed)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(SHIPPED), pick=st.integers(min_value=0), text=replies)
def test_shipped_questionnaires_never_raise(name: str, pick: int, text: str) -> None:
    q = shipped(name)
    question = q.questions[pick % len(q.questions)]
    assert_valid(q, question, text, parse_answer(q, question, text, today=TODAY))
