"""Property tests: no sequence of inbound texts crashes the bot, loses an accepted answer or leaves
an interview in an invalid state — checked on the pure engine and through the stored service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.conversation import ConversationState
from bot.service import ChatService
from surveys import conditions, store
from surveys.engine import AnswerCleared, AnswerSet, FlowState, Interviewer
from surveys.entities import EntityIndex
from surveys.messages import Inbound
from surveys.models import Contact, Interview
from surveys.schema import QType, Questionnaire, builtin

WAIT = "<8 días después>"  # not a message: moves the clock past the interview expiry
VOCAB = [
    "si", "sí", "no", "nop", "1", "2", "3", "4", "5", "6", "12", "1,3", "2 y 12", "parcialmente", "excelente",
    "muy buena", "no aplica", "genova quindio", "Buenavista", "quindio", "gobernacion del meta", "Ana", "otro",
    "atras", "ATRÁS", "omitir", "pausa", "salir", "menu", "ayuda", "baja", "STOP", "hola", "continuar", "",
    "🙂", "asdf", "no sé", "4/5", "cuatro", "la conexión es mala", WAIT,
]
# A valid way through the interview (after registration). Examples take a random part of it, then a
# mix of valid answers, commands and noise, so deep states are reached: Bloque 5, ATRAS and OMITIR
# over conditional questions, completion, expiry.
PATH = ["4", "bien", "5", "4", "3", "4", "2", "5", "excelente", "buena", "no aplica", "si", "porque si",
        "parcialmente", "a medias", "no", "no hubo", "1, 12", "catastro", "si", "ninguna"]
# Detours: going back over answers that others depend on, then changing or skipping them.
DETOURS = [["atras", "atras", "2"], ["atras", "omitir"], ["atras", "atras", "omitir"], ["atras", "1, 12"]]
step = st.one_of(st.sampled_from(PATH).map(lambda t: [t]), st.sampled_from(VOCAB).map(lambda t: [t]),
                 st.sampled_from(DETOURS), st.text(max_size=25).map(lambda t: [t]))
# Half of the examples start in Bloque 5, where answers depend on each other (demanda_temas → otro, 5.2).
prefix = st.one_of(st.integers(0, len(PATH)), st.integers(17, len(PATH)))
texts = st.builds(lambda k, rest: PATH[:k] + [t for group in rest for t in group], prefix,
                  st.lists(step, max_size=25))

ENTITIES = EntityIndex.from_reference()


def valid_value(q: Questionnaire, name: str, value: Any) -> bool:
    question = q.question(name)
    names = [c.name for c in q.options(question)]
    if question.type is QType.RATING:  # a number, or the rating's way out by name ("no_aplica")
        return str(value) in names and (isinstance(value, int) or not str(value).strip().isdigit())
    if question.type is QType.SELECT_MULTIPLE:
        return isinstance(value, list) and len(value) == len(set(value)) and set(value) <= set(names)
    if question.type is QType.ENTITY:
        return ENTITIES.get(value) is not None
    if question.type is QType.TEXT:
        return isinstance(value, str) and value.strip() != ""
    return value in names


def check_flow(q: Questionnaire, flow: FlowState) -> None:
    assert set(flow.answers) <= {x.name for x in q.questions}
    for name, value in flow.answers.items():
        assert valid_value(q, name, value), (name, value)
        assert conditions.evaluate(q.question(name).relevant, flow.answers), f"{name} answered but not relevant"
    assert (flow.current is None) == flow.finished
    if flow.status == "completa":
        for question in q.questions:
            if question.required and conditions.evaluate(question.relevant, flow.answers):
                assert question.name in flow.answers, f"completed without required {question.name}"
    if flow.current is not None:
        assert conditions.evaluate(q.question(flow.current).relevant, flow.answers)
        assert flow.current not in flow.skipped


@settings(max_examples=300, deadline=None)
@given(texts)
def test_engine_never_breaks(inputs: list[str]) -> None:
    q = builtin("monitoreo360")
    engine = Interviewer(q, ENTITIES)
    step = engine.start({"consent": "si", "entity": "63302"})
    flow, answers = step.state, {e.question: e.value for e in step.events if isinstance(e, AnswerSet)}
    for text in inputs:
        if flow.finished:
            break
        step = (engine.back(flow) if text == "atras" else engine.skip(flow) if text == "omitir"
                else engine.reply(flow, text))
        # The events are the only thing stored: replaying them must give exactly the state's answers.
        for event in step.events:
            if isinstance(event, AnswerSet):
                answers[event.question] = event.value
            elif isinstance(event, AnswerCleared):
                answers.pop(event.question, None)
        flow = step.state
        assert step.messages or flow.finished, f"no reply to {text!r}"
        assert answers == flow.answers
        check_flow(q, flow)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts)
@example(["menu", "atras", "atras", "2"])  # a help request while the interview is paused (found by CI)
def test_service_never_breaks(service: ChatService, sessions: sessionmaker[Session], inputs: list[str]) -> None:
    address = f"prop-{uuid.uuid4().hex[:12]}"
    now = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    for text in ["hola", "si", "genova quindio", "si", "omitir", "1", "1", *inputs]:
        if text == WAIT:
            now += timedelta(days=8)
            continue
        now += timedelta(minutes=1)
        replies = service.handle(Inbound("simulator", address, text, received_at=now))
        assert replies, f"no reply to {text!r}"
        with sessions() as s:
            check_stored(s, service, address)


def check_stored(s: Session, service: ChatService, address: str) -> None:
    contact = s.scalars(select(Contact).where(Contact.address == address)).one()
    state = ConversationState.from_json(contact.state)
    interviews = s.scalars(select(Interview).where(Interview.contact_id == contact.id)).all()
    open_ones = [i for i in interviews if i.status in ("en_curso", "pausada")]
    assert len(open_ones) <= 1, "more than one open interview"
    # The interview the conversation points at: the current one, or one kept aside (paused) while
    # the contact makes a help request.
    current = state if state.in_interview else (
        ConversationState(**state.suspended.to_json()) if state.suspended and state.suspended.flow else None)
    if current is not None:
        assert current.flow is not None and current.interview_id is not None
        assert [i.id for i in open_ones] == [current.interview_id]
        flow = FlowState.from_json(current.flow)
        stored = store.answers_of(s, current.interview_id)
        assert stored == flow.answers, "stored answers differ from the conversation's"
        check_flow(service.questionnaires.get(s, flow.questionnaire), flow)
    else:
        assert not open_ones, "an interview left open with no conversation pointing at it"
    for interview in interviews:
        q = service.questionnaires.get(s, f"{interview.questionnaire.qid}@{interview.questionnaire.version}")
        for answer in interview.answers:
            assert valid_value(q, answer.question, answer.value)
        if interview.status == "completa":
            answered = {a.question for a in interview.answers}
            values = {a.question: a.value for a in interview.answers}
            required = {x.name for x in q.questions if x.required and conditions.evaluate(x.relevant, values)}
            assert required <= answered
