"""The help request's read-back: its numbered lines, and which line a correction names.

Pure functions of the questionnaire, the answers and the reply; the dispatch (``Conversation._review``)
turns what they find into a turn — the line asked again, its new value read back, or "¿cuál?".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from surveys import parsing
from surveys.engine import Interviewer
from surveys.schema import Question

SUMMARY_MAX = 280  # characters of one answer in the intake's summary (a long need is cut: it is stored whole)
FEW_WORDS = 6  # "cambiar la 3", "la pregunta 2 está mal": a line chosen by its number is said in a few words


def answered(engine: Interviewer, answers: dict[str, Any]) -> list[Question]:
    """The questions the summary shows, in the questionnaire's order."""
    return [q for q in engine.q.questions if q.name in answers]


def lines(engine: Interviewer, questions: Sequence[Question], answers: dict[str, Any], today: date | None,
          label: Callable[[Question], str]) -> list[str]:
    """ "1. Necesidad: …": every answer as the person reads it, numbered so a line can be named by its number."""
    out = []
    for i, question in enumerate(questions, 1):
        value = engine.describe(question, answers[question.name], today)
        if len(value) > SUMMARY_MAX:
            value = value[: SUMMARY_MAX - 1].rstrip() + "…"
        out.append(f"{i}. {label(question)}: {value}")
    return out


def line_number(token: str) -> int | None:
    """ "3", "tres": a line's number as typed."""
    return int(token) if token.isdigit() else parsing.number_words().get(token)


@dataclass(frozen=True)
class Named:
    """What a correction names: one line (``target``, and where its words are when named in words:
    ``span`` = (start, length) in the reply's tokens), or several (``ambiguous``)."""

    target: str | None = None
    span: tuple[int, int] | None = None
    ambiguous: bool = False


def named_line(tokens: list[str], questions: Sequence[Question],
               phrases: Callable[[Question], Sequence[str]], named_only: bool = False) -> Named | None:
    """The line a reply names, by its words ("la fecha está mal") or its number with words around it
    ("cambiar la 3"; "3" alone at a Sí/No is not a line). ``named_only``: only words count (after a "sí").
    None: no line is named."""
    spans: dict[str, tuple[int, int]] = {}
    for question in questions:
        for phrase in sorted(phrases(question), key=len, reverse=True):
            words = phrase.split()
            at = next((i for i in range(len(tokens)) if tokens[i : i + len(words)] == words), None)
            if at is not None:
                spans[question.name] = (at, len(words))
                break
    numbers = {n for t in tokens if (n := line_number(t)) is not None and 1 <= n <= len(questions)} \
        if len(tokens) > 1 else set()
    if named_only and len(spans) != 1:
        return None
    if len(spans) == 1:
        ((target, span),) = spans.items()
        return Named(target, span)
    if not spans and len(numbers) == 1 and len(tokens) <= FEW_WORDS:
        return Named(questions[numbers.pop() - 1].name)
    if spans or numbers:  # two lines named: which one?
        return Named(ambiguous=True)
    return None
