"""Corrections of the answer just given, read while the interview has moved on: "no perdón, era 3",
"me equivoqué, eran 2" (the previous closed question takes the value), and a bare "no, 3" (which answer
it is for is asked when both questions could take it). Pure functions of the questionnaire's engine, the
flow and the reply; the dispatch (``Conversation._interview``) turns them into a turn."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Final

from surveys import parsing
from surveys.engine import AnswerSet, FlowState, Interviewer, Step
from surveys.messages import Outbound
from surveys.schema import QType
from surveys.texts import Texts

_BARE_NO_SKIP: Final = frozenset({",", "era", "eran", "es", "la", "el", "fue", "mejor"})


def _bare_no(text: str) -> tuple[str, ...] | None:
    """ "No, 3", "no era regular", "NO. La 4": a bare "no" and a value in a word or two (else None)."""
    tokens = parsing.tokenize(text)
    if not tokens or tokens[0] != "no":
        return None
    i = 1
    while i < len(tokens) and tokens[i] in _BARE_NO_SKIP:
        i += 1
    tail = tokens[i:]
    return tail if 0 < len(tail) <= 2 and "no" not in tail and "," not in tail else None


def correct_previous(t: Texts, engine: Interviewer, flow: FlowState, text: str, command: str | None,
                       today: date) -> Step | None:
    """ "No perdón, era 3" sent after an answer corrects that answer, not the question now asked (it
    was stored there): back to the previous question, which reads the value ("Corregí su respuesta
    anterior"); then on to the question that was waiting. Only a closed previous question: an open
    one is changed with ATRAS. None: not such a correction."""
    if command is not None or flow.pending is not None or not flow.history:
        return None
    bare = bare_no_reading(engine, flow, text, today)
    if bare is not None and not bare[1]:  # "no, 3" where the question waiting cannot take 3 (an open one)
        return _corrected(t, engine, flow, bare[0], today)
    # At an open question a reply may start with an apology and be its answer ("disculpe, es que no hay
    # asesor"): there only a plain correction ("me equivoqué, era 3", "perdón, era no") of a plain value.
    current = engine.q.question(flow.current) if flow.current else None
    open_answer = current is not None and current.type is QType.TEXT
    tail = parsing.leading_correction(parsing.tokenize(text), strong=open_answer)
    parsed = _previous_reading(engine, flow, tail, today) if tail is not None else None
    if tail is None or parsed is None or (open_answer and (len(tail) > 2 or not parsed.ok or parsed.confirm)):
        return None
    return _corrected(t, engine, flow, tail, today)

def _previous_reading(engine: Interviewer, flow: FlowState, tail: tuple[str, ...],
                      today: date) -> parsing.Parsed | None:
    """``tail`` read as the answer to the previous question, when that one is closed and can take it."""
    previous = engine.q.question(flow.history[-1])
    if previous.type in (QType.TEXT, QType.ENTITY, QType.CONSENT):
        return None
    parsed = parsing.parse_answer(engine.q, previous, " ".join(tail), today=today)
    return parsed if parsed.ok or parsed.candidates else None

def _corrected(t: Texts, engine: Interviewer, flow: FlowState, tail: tuple[str, ...], today: date) -> Step | None:
    """The previous (closed) question answered with ``tail``, then on to the one that was waiting."""
    parsed = _previous_reading(engine, flow, tail, today)
    if parsed is None:
        return None
    step = engine.reply(engine.back(flow).state, " ".join(tail), today)
    if any(isinstance(e, AnswerSet) for e in step.events):
        done = t("corrected", answer=engine.describe(engine.q.question(flow.history[-1]), parsed.value,
                                                          today))
        return dataclasses.replace(step, messages=[Outbound(done)] + step.messages)
    return step

def bare_no_reading(engine: Interviewer, flow: FlowState, text: str,
                     today: date) -> tuple[tuple[str, ...], bool] | None:
    """ "No, 3" right after a closed answer that can take 3: the value, and whether the question waiting
    can take it too (an open one takes no bare value). None: not such a reply, or the "no" belongs to the
    waiting question's answer ("no aplica", "no lo conozco", "No" at a Sí/No question)."""
    bare = _bare_no(text) if flow.pending is None and flow.history else None
    if bare is None or _previous_reading(engine, flow, bare, today) is None:
        return None
    current = engine.q.question(flow.current) if flow.current else None
    if current is None or current.type is QType.TEXT:
        return bare, False
    whole, value = (parsing.parse_answer(engine.q, current, said, today=today) for said in (text, " ".join(bare)))
    if whole.ok and not (value.ok and value.value == whole.value):
        return None
    return bare, bool(whole.ok or whole.candidates or value.ok or value.candidates)

def which_answer(t: Texts, engine: Interviewer, flow: FlowState, text: str, command: str | None,
                  today: date) -> list[Outbound] | None:
    """ "No, 3" right after an answer, when both that answer and the question now asked can take 3: which
    one it is for is asked, nothing stored (the reply says how to write each). None: not such a reply."""
    bare = bare_no_reading(engine, flow, text, today) if command is None else None
    if bare is None or not bare[1]:
        return None
    return [Outbound(t("which_answer", value=" ".join(bare[0])))] + engine.prompt(flow)

