"""The respondent corpus (tests/data/conversation_cases.yaml) run against the pure conversation.

Each case puts one contact at one question of the Monitoreo 360, the registration, the mesa de
ayuda intake, the rating of a closed ticket or the menu, sends the reply (or a few replies, when the
case answers a confirmation) through ``Conversation.handle`` with the corpus's clock, and checks the
outcome: the value stored, the single value confirmed back, the values offered as a pick, the
question asked again, the conversation paused, or the menu action taken. Any other outcome is a
failure, so a reply stored differently from what the corpus says the respondent meant (a silent
misread) fails the run."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.conversation import (
    ConsentRecorded,
    ContactView,
    Conversation,
    ConversationState,
    InterviewEvent,
    InterviewStarted,
    ProfileUpdated,
    ResultsQuery,
    TicketRated,
    TicketRequested,
    TicketsQuery,
    Turn,
)
from bot.helpdesk.themes import KeywordClassifier, load_taxonomy
from surveys.engine import AnswerSet, FlowState
from surveys.entities import EntityIndex
from surveys.pending import Choose, Confirm, Pending, PendingKind
from surveys.schema import builtin
from surveys.texts import texts

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

DATA = yaml.safe_load((Path(__file__).parent / "data" / "conversation_cases.yaml").read_text(encoding="utf-8"))
NOW = datetime.fromisoformat(DATA["now"])
OUTCOMES = ("store", "confirm", "pick", "ask_again", "skip", "action", "pause")
CONTACT = ContactView(consent=True, entity_code="63302", name="Ana Pérez", cargo="secretario")
NEWCOMER = ContactView()  # registering: no consent, entity or name yet
TICKET = "MDA-2026-00007"  # the closed ticket a `rating` case rates

INTERVIEW, INTAKE, REGISTRATION = builtin("monitoreo360"), builtin("solicitud"), builtin("registro")
CONVERSATION = Conversation(
    registration=REGISTRATION, interview=INTERVIEW, helpdesk=INTAKE, entities=EntityIndex.from_reference(),
    text=texts(), classifier=KeywordClassifier(load_taxonomy()),
)
# Earlier answers that make every question relevant when a case is put at it.
BEFORE: dict[str, Any] = {
    **{q.name: 4 for q in INTERVIEW.questions if q.type.value == "rating"},
    "consentimiento": "si", "entidad": "63302", "cargo": "secretario", "valoracion_general": "Buena",
    "tema_plan_indicativo": "buena", "tema_armonizacion": "buena", "tema_seguimiento": "buena",
    "contribuye_articulacion": "si", "porque_articulacion": "x", "contribuye_necesidades": "si",
    "porque_necesidades": "x", "contribuye_capacidades": "si", "porque_capacidades": "x",
    "demanda_temas": ["plan_indicativo", "otro"], "demanda_otro": "catastro",
    "necesidad": "Necesitamos ayuda con el plan indicativo", "temas": ["plan_indicativo"],
    "tipo_apoyo": "asistencia_tecnica", "fase": "planeacion", "urgente": "si",
}


def _question(where: str) -> str:
    return where.split(".", 1)[-1]


def _state_at(where: str) -> ConversationState:
    if where == "menu":
        return ConversationState(mode="menu")
    if where == "rating":
        return ConversationState(mode="rating", rating=TICKET)
    prefix = where.split(".", 1)[0] if "." in where else ""
    questionnaire = {"solicitud": INTAKE, "registro": REGISTRATION}.get(prefix, INTERVIEW)
    name = _question(where)
    earlier = [q.name for q in questionnaire.questions[: questionnaire.index(name)]]
    # The interview's prefilled questions (consent, entity, cargo) are never asked, so never in its history.
    asked = tuple(q for q in earlier if questionnaire is not INTERVIEW or questionnaire.question(q).prefill is None)
    flow = FlowState(questionnaire=questionnaire.key, current=name,
                     answers={k: BEFORE[k] for k in earlier if k in BEFORE}, history=asked)
    if questionnaire is INTAKE:
        return ConversationState(mode="helpdesk", flow=flow.to_json())
    if questionnaire is REGISTRATION:
        return ConversationState(mode="registro", flow=flow.to_json())
    return ConversationState(mode="interview", flow=flow.to_json(), interview_id=1, last_activity=NOW.isoformat())


def _run(case: dict[str, Any]) -> tuple[list[Turn], dict[str, Any]]:
    """The turns of the case's replies and what was stored for its question."""
    name = case.get("field", _question(case["q"]))
    state, turns, stored = _state_at(case["q"]), [], {}
    contact = NEWCOMER if case["q"].startswith("registro.") else CONTACT
    replies = case["say"] if isinstance(case["say"], list) else [case["say"]]
    for text in replies:
        turn = CONVERSATION.handle(state, contact, text, NOW)
        turns.append(turn)
        state = turn.state
        for effect in turn.effects:
            if isinstance(effect, InterviewEvent) and isinstance(effect.event, AnswerSet):
                stored[effect.event.question] = effect.event.value
            elif isinstance(effect, TicketRequested) and name in effect.answers:
                stored[name] = effect.answers[name]
            elif isinstance(effect, ConsentRecorded):
                stored["consentimiento"] = "si" if effect.given else "no"
            elif isinstance(effect, ProfileUpdated):
                stored.update({{"entity_code": "entidad"}.get(k, k if k != "name" else "nombre"): v
                               for k, v in effect.fields.items()})
            elif isinstance(effect, TicketRated):
                stored["rating"] = effect.score
        if state.mode == "helpdesk" and state.flow is not None:
            answers = FlowState.from_json(state.flow).answers
            if name in answers:
                stored[name] = answers[name]
    return turns, stored


def _pending(turn: Turn) -> Pending | None:
    flow = turn.state.rating_flow if turn.state.mode == "rating" else turn.state.flow
    return FlowState.from_json(flow).pending if flow else None


@pytest.mark.parametrize("case", DATA["cases"], ids=lambda c: f"{c['q']}:{c['say']!r}"[:90])
def test_reply(case: dict[str, Any]) -> None:
    outcome = [k for k in OUTCOMES if k in case]
    assert len(outcome) == 1, f"a case names exactly one outcome: {case}"
    turns, stored = _run(case)
    last = turns[-1]
    name = case.get("field", _question(case["q"]))
    said = "\n".join(m.text for m in last.replies)
    if "store" in case:
        expected = case["store"]
        assert stored.get(name, "<nothing stored>") == expected, said
    elif "action" in case:
        effects = [type(e) for e in last.effects]
        taken = ("interview" if InterviewStarted in effects else "helpdesk" if last.state.mode == "helpdesk"
                 else "my_requests" if TicketsQuery in effects else "my_results" if ResultsQuery in effects
                 else "help" if "Puede escribir" in said else None)
        assert taken == case["action"], said
    else:
        assert name not in stored, f"stored {stored.get(name)!r} without asking: {said}"
        pending = _pending(last)
        if "confirm" in case:
            assert isinstance(pending, Confirm) and pending.kind is PendingKind.CONFIRM, said
            assert pending.value == case["confirm"], said
            if "says" in case:
                assert case["says"] in said
        elif "pick" in case:
            assert isinstance(pending, Choose) and pending.kind is PendingKind.CHOOSE, said
            assert list(pending.values) == case["pick"], said
        elif "skip" in case:
            assert name in FlowState.from_json(last.state.flow).skipped if last.state.flow else True, said
        elif "pause" in case:  # "ahorita no, estoy en reunión": neither an answer nor a refusal
            assert last.state.paused and not stored, said
        elif case["q"] == "rating":  # not a rating: an ordinary message, nothing stored (not insisted on)
            assert pending is None and last.state.mode != "rating", said
        else:  # ask_again: the same question, nothing pending, a hint that says what to write
            assert pending is None and FlowState.from_json(last.state.flow).current == name, said
            assert not last.state.paused, said


def test_the_corpus_is_large_and_varied() -> None:
    cases = DATA["cases"]
    styles = Counter(c["style"] for c in cases)
    assert len(cases) >= 150
    assert set(styles) >= {"formal", "terse", "voice", "typos", "emoji", "correcting"}, styles
    assert min(styles.values()) >= 8, styles
    outcomes = Counter(next(k for k in OUTCOMES if k in c) for c in cases)
    assert outcomes["store"] >= 80 and outcomes["pick"] + outcomes["confirm"] >= 20, outcomes
