"""A "sí" to a proposed multiple choice that adds or removes options ("sí, y también regalías")."""

from __future__ import annotations

from typing import Any, Final

from surveys.parsing.answer import parse_answer
from surveys.parsing.greetings import without_greeting
from surveys.parsing.normalize import tokenize
from surveys.parsing.yes_no import leading_yes
from surveys.schema import Question, Questionnaire

_AMEND_JOINS: Final = frozenset({",", "y", "e", "pero", "aunque", "tambien", "ademas", "igual", "igualmente", "mas"})
_REMOVE_WORDS: Final = frozenset({"no", "menos", "excepto", "salvo", "sin", "quite", "quitar", "quiten", "quitemos"})


def parse_amendment(questionnaire: Questionnaire, question: Question, text: str
                    ) -> tuple[list[Any], list[Any], bool] | None:
    """A "sí" to a proposed multiple choice that adds or removes options: "sí, y también regalías" →
    (["proyectos"], [], False); "sí, pero no el PDT" or "sí, pero el PDT no" → ([], ["formulacion_pdt"],
    False). The flag says the options were guessed (confirm them). None when the reply is not a yes
    followed by options."""
    tokens = without_greeting(tokenize(text or ""))
    size = leading_yes(tokens)
    rest = list(tokens[size:]) if size else []
    while rest and rest[0] in _AMEND_JOINS:
        rest.pop(0)
    if not rest:
        return None
    removing = rest[0] in _REMOVE_WORDS
    body = rest[1:] if removing else rest
    if not removing and len(rest) > 1 and rest[-1] in ("no", "tampoco"):  # "sí, pero regalías no"
        removing, body = True, rest[:-1]
    parsed = parse_answer(questionnaire, question, " ".join(body))
    if not parsed.ok:
        return None
    if removing:
        return [], list(parsed.value), parsed.confirm
    return list(parsed.value), list(parsed.excluded), parsed.confirm
