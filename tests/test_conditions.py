"""Table tests for surveys.conditions: the XLSForm `relevant` subset, its ODK semantics and its checks."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from surveys import conditions
from surveys.conditions import ConditionError, check, evaluate, references
from surveys.schema import Questionnaire, builtin

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

ANSWERS: dict[str, Any] = {
    "contribuye": "parcialmente",
    "vacia": "",
    "temas": ["seguimiento_pdt", "otro"],
    "ninguno": [],
    "uno": ["plan_indicativo"],
    "puntaje": 3,
    "puntaje_txt": "4",
    "nombre": "Génova",
    "decimal": 3.5,
}

# (expression, expected) — each line is one behaviour worth keeping.
CASES: list[tuple[str | None, bool]] = [
    (None, True),
    ("", True),
    ("   ", True),
    # answered / unanswered: an unanswered question is ''
    ("${contribuye} != ''", True),
    ("${contribuye} = ''", False),
    ("${sin_respuesta} = ''", True),
    ("${sin_respuesta} != ''", False),
    ("${vacia} = ''", True),
    # string equality, both quote styles
    ("${contribuye} = 'parcialmente'", True),
    ('${contribuye} = "parcialmente"', True),
    ("'parcialmente' = ${contribuye}", True),
    ("${contribuye} = 'si'", False),
    ("${contribuye} != 'si'", True),
    # select_multiple: membership, count, emptiness
    ("selected(${temas}, 'otro')", True),
    ("selected(${temas}, 'plan_indicativo')", False),
    ("selected(${ninguno}, 'otro')", False),
    ("selected(${sin_respuesta}, 'otro')", False),
    ("selected(${contribuye}, 'parcialmente')", True),  # works on a select_one answer too
    ("count-selected(${temas}) = 2", True),
    ("count-selected(${temas}) >= 3", False),
    ("count-selected(${ninguno}) = 0", True),
    ("${ninguno} = ''", True),
    ("${temas} != ''", True),
    ("${uno} = 'plan_indicativo'", True),  # one selection compares like its value
    ("${temas} = 'otro'", False),
    # numbers: numeric when both sides are numeric
    ("${puntaje} = 3", True),
    ("${puntaje} = '3'", True),
    ("${puntaje} = '3.0'", True),
    ("${puntaje_txt} > 3", True),
    ("${puntaje} <= 2", False),
    ("${puntaje} < 3.5", True),
    ("${decimal} >= 3.5", True),
    ("${puntaje} >= -1", True),
    # relational on a non-number is false (XPath NaN), so unanswered ratings never trigger follow-ups
    ("${sin_respuesta} <= 2", False),
    ("${sin_respuesta} > 2", False),
    ("${nombre} > 1", False),
    # string-length
    ("string-length(${nombre}) = 6", True),
    ("string-length(${sin_respuesta}) = 0", True),
    ("string-length(${nombre}) > 10", False),
    # boolean logic, precedence (and binds tighter than or), parentheses, not()
    ("${contribuye} = 'no' or ${contribuye} = 'parcialmente'", True),
    ("${contribuye} = 'no' and ${puntaje} = 3", False),
    ("${contribuye} = 'no' or ${puntaje} = 3 and ${vacia} = ''", True),
    ("(${contribuye} = 'no' or ${puntaje} = 3) and ${vacia} != ''", False),
    ("not(${contribuye} = 'si')", True),
    ("not(selected(${temas}, 'otro'))", False),
    ("not(${vacia})", True),
    ("${nombre}", True),  # a bare value is true when non-empty
    ("${vacia}", False),
    ("true()", True),
    ("false() or true()", True),
    ("true() and false()", False),
    # whitespace is free
    ("  ${puntaje}>=3   and   selected( ${temas} ,'otro' )  ", True),
]


@pytest.mark.parametrize(("expr", "expected"), CASES)
def test_evaluate(expr: str | None, expected: bool) -> None:
    assert evaluate(expr, ANSWERS) is expected


@pytest.mark.parametrize(
    ("expr", "refs"),
    [
        (None, set()),
        ("true()", set()),
        ("${a} != ''", {"a"}),
        ("selected(${a}, 'x') and (${b} > 2 or not(${c} = ${a}))", {"a", "b", "c"}),
        ("count-selected(${temas}) > string-length(${nombre})", {"temas", "nombre"}),
    ],
)
def test_references(expr: str | None, refs: set[str]) -> None:
    assert references(expr) == refs


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("${a} = ", "expected a value"),
        ("${a} = 'x", "unterminated string"),
        ("${a} == 'x'", "expected a value"),
        ("${a} = 'x' and", "expected a value"),
        ("(${a} = 'x'", "expected ')'"),
        ("${a} = 'x')", "an operator or the end"),
        ("${a} = 1 = 2", "do not chain"),
        ("regex(${a}, 'x')", "unknown function"),
        ("selected(${a})", "takes 2 argument"),
        ("not()", "takes 1 argument"),
        (". >= 1", "unexpected character '.'"),
        ("${a} + 1", "unexpected character '+'"),
        ("${} = ''", "unexpected character '$'"),
        ("${a} & ${b}", "unexpected character '&'"),
        ("${a} 'x'", "an operator or the end"),
    ],
)
def test_syntax_errors(expr: str, message: str) -> None:
    with pytest.raises(ConditionError, match=re.escape(message)):
        evaluate(expr, ANSWERS)


def test_compiled_once() -> None:
    expr = "${puntaje} >= 3 and selected(${temas}, 'otro')"
    assert conditions.compile_condition(expr) is conditions.compile_condition(expr)


# ---------------------------------------------------------------- check()


def _with_relevant(q: Questionnaire, name: str, relevant: str) -> Questionnaire:
    questions = tuple(dataclasses.replace(x, relevant=relevant) if x.name == name else x for x in q.questions)
    return dataclasses.replace(q, questions=questions)


@pytest.mark.parametrize("name", ["monitoreo360", "sistematizacion", "registro"])
def test_shipped_questionnaires_are_clean(name: str) -> None:
    assert check(builtin(name)) == []


@pytest.mark.parametrize(
    ("question", "relevant", "problem"),
    [
        ("porque_articulacion", "${contribuye_articulacion} != ''", None),
        ("porque_articulacion", "${contribuye_articulacion} = 'parcialmente'", None),
        ("sugerencias", "${puntaje_general} <= 2", None),
        ("porque_articulacion", "${no_existe} != ''", "unknown question ${no_existe}"),
        ("porque_articulacion", "${porque_articulacion} != ''", "not asked before it"),
        ("porque_articulacion", "${sugerencias} != ''", "not asked before it"),
        ("porque_articulacion", "${contribuye_articulacion} = 'tal_vez'", "not one of"),
        ("demanda_otro", "selected(${demanda_temas}, 'otros')", "not one of"),
        ("sugerencias", "${puntaje_general} = '6'", "not one of"),
        ("porque_articulacion", "${contribuye_articulacion} = ", "expected a value"),
    ],
)
def test_check_reports(question: str, relevant: str, problem: str | None) -> None:
    q = _with_relevant(builtin("monitoreo360"), question, relevant)
    errors = check(q)
    if problem is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(f"{question}: ") and problem in errors[0], errors
