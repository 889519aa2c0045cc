"""The conversation's saved state: the typed records read and write the JSON shape stored in
``contacts.state`` (a state saved by an earlier version still loads), the changes made between
turns (a wave's invitation, a ticket's rating), the read port, and a chat turn that loads what it
needs before it locks the contact's row."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select

from bot.conversation import (
    ContactView,
    Conversation,
    ConversationState,
    EntitySwitch,
    InterviewStarted,
    Mode,
    Suspended,
    TicketsQuery,
    TicketView,
    WaveInvitation,
    ask_rating,
    invite,
    stored,
)
from bot.helpdesk.themes import KeywordClassifier, load_taxonomy
from bot.service import ChatService
from surveys import db, store
from surveys.engine import FlowState
from surveys.entities import EntityIndex
from surveys.models import Contact, Interview
from surveys.schema import builtin
from surveys.texts import texts
from tests.support.conversation import Chat, register

NOW = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
INTERVIEW, INTAKE, REGISTRATION = builtin("monitoreo360"), builtin("solicitud"), builtin("registro")
CONTACT = ContactView(consent=True, entity_code="63302", name="Ana Pérez", cargo="secretario")

# A help request written while an interview waits, a wave's invitation pending and another closed
# ticket queued for its rating: every record, exactly as the state has been stored until now.
INTERVIEW_FLOW = FlowState(questionnaire=INTERVIEW.key, current="valoracion_general",
                           answers={"puntaje_general": 4}, history=("puntaje_general",)).to_json()
STORED: dict[str, Any] = {
    "mode": "helpdesk",
    "flow": FlowState(questionnaire=INTAKE.key, current="necesidad").to_json(),
    "interview_id": None, "paused": False, "last_activity": None,
    "suspended": {"flow": INTERVIEW_FLOW, "interview_id": 41, "last_activity": "2026-11-10T14:50:00+00:00",
                  "wave": 3},
    "invitation": {"wave": 3, "period": "2026-10", "questionnaire": INTERVIEW.key},
    "rating_queue": ["MDA-2026-00008"],
}
SWITCHING: dict[str, Any] = {"mode": "switch_entity", "flow": None, "interview_id": None, "paused": False,
                             "last_activity": None, "switch": {"token": "tok123", "entity": "05001", "back": "menu"}}

fast = pytest.mark.fast  # pure, in process: `make test-fast`


def conversation() -> Conversation:
    return Conversation(registration=REGISTRATION, interview=INTERVIEW, helpdesk=INTAKE,
                        entities=EntityIndex.from_reference(), text=texts(),
                        classifier=KeywordClassifier(load_taxonomy()))


@fast
def test_a_state_stored_in_todays_shape_loads_into_records_and_is_written_back_the_same() -> None:
    state = ConversationState.from_json(STORED)
    assert state.mode is Mode.HELPDESK
    assert state.suspended == Suspended(INTERVIEW_FLOW, 41, "2026-11-10T14:50:00+00:00", 3)
    assert state.invitation == WaveInvitation(3, "2026-10", INTERVIEW.key)
    assert state.rating_queue == ("MDA-2026-00008",)
    assert state.to_json() == STORED
    switching = ConversationState.from_json(SWITCHING)
    assert switching.switch == EntitySwitch("tok123", "05001", Mode.MENU)
    assert switching.to_json() == SWITCHING


@fast
@pytest.mark.parametrize("saved", [None, {}, {"mode": "menu", "flow": None, "interview_id": None, "paused": False,
                                                 "last_activity": None}])
def test_an_empty_or_minimal_stored_state_loads(saved: dict[str, Any] | None) -> None:
    state = ConversationState.from_json(saved)
    assert state.invitation is None and state.suspended is None and state.switch is None
    assert state.mode in (Mode.NEW, Mode.MENU)


@fast
def test_a_mode_given_as_text_is_the_mode() -> None:
    assert ConversationState(mode="rating").mode is Mode.RATING  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ConversationState(mode="limbo")  # type: ignore[arg-type]


@fast
def test_the_suspended_interview_comes_back_when_the_request_is_dropped() -> None:
    turn = conversation().handle(ConversationState.from_json(STORED), CONTACT, "menu", NOW)
    assert turn.state.mode is Mode.MENU  # the menu shows, CONTINUAR resumes …
    assert turn.state.interview_id == 41 and turn.state.flow == INTERVIEW_FLOW and turn.state.wave == 3
    assert turn.state.invitation == WaveInvitation(3, "2026-10", INTERVIEW.key)  # … and the invitation waits
    resumed = conversation().handle(turn.state, CONTACT, "continuar", NOW)
    assert INTERVIEW.question("valoracion_general").label in "\n".join(r.text for r in resumed.replies)
    assert resumed.state.interview_id == 41 and resumed.state.invitation is None  # the wave's: answered


@fast
def test_an_invitation_stored_in_todays_shape_starts_its_waves_interview() -> None:
    saved = {"mode": "menu", "flow": None, "interview_id": None, "paused": False, "last_activity": None,
             "invitation": {"wave": 7, "period": "2026-10", "questionnaire": INTERVIEW.key}}
    turn = conversation().handle(ConversationState.from_json(saved), CONTACT, "sí, empecemos", NOW)
    assert InterviewStarted(INTERVIEW.key, 7, "2026-10") in turn.effects
    assert turn.state.mode is Mode.INTERVIEW and turn.state.wave == 7 and turn.state.invitation is None
    assert turn.state.interview_id is None  # the host creates the row …
    assert turn.state.with_interview(88).interview_id == 88  # … and the conversation points at it
    assert ConversationState(mode=Mode.IDLE).with_interview(88).interview_id is None  # a declined one does not


@fast
def test_an_invitation_or_a_rating_waits_while_the_contact_is_busy() -> None:
    busy = ConversationState.from_json(STORED)  # writing a help request
    assert invite(busy, WaveInvitation(4, "2026-11", INTERVIEW.key)) is None
    assert ask_rating(busy, "MDA-2026-00009") is None
    idle = ConversationState(mode=Mode.IDLE)
    assert invite(idle, WaveInvitation(4, "2026-11", INTERVIEW.key)).to_json()["invitation"] == {  # type: ignore[union-attr]
        "wave": 4, "period": "2026-11", "questionnaire": INTERVIEW.key}
    first = ask_rating(idle, "MDA-2026-00009")
    assert first is not None and first.mode is Mode.RATING and first.rating == "MDA-2026-00009"
    second = ask_rating(first, "MDA-2026-00010")
    assert second is not None and second.rating == "MDA-2026-00009" and second.rating_queue == ("MDA-2026-00010",)


class Tickets:
    """A read port with the tickets of one entity."""

    def __init__(self, *tickets: TicketView):
        self.rows = list(tickets)

    def tickets(self) -> list[TicketView]:
        return self.rows

    def ticket(self, code: str) -> TicketView | None:
        return next((t for t in self.rows if t.code == code), None)


TICKET = TicketView("MDA-2026-00012", ("plan_indicativo",), "en_gestion", datetime(2026, 11, 3, 16, tzinfo=UTC),
                    "2026-11-24", last_note="Le escribimos el lunes")


@fast
def test_the_conversation_shows_tickets_read_through_its_port_before_the_menu() -> None:
    menu = ConversationState(mode=Mode.MENU)
    listed = conversation().handle(menu, CONTACT, "3", NOW, Tickets(TICKET))
    assert TicketsQuery() in listed.effects
    assert "MDA-2026-00012" in listed.replies[0].text and "Plan indicativo" in listed.replies[0].text
    assert listed.replies[-1].options  # the menu follows
    one = conversation().handle(menu, CONTACT, "estado mda 2026 12", NOW, Tickets(TICKET))
    assert "Le escribimos el lunes" in one.replies[0].text and "24 de noviembre de 2026" in one.replies[0].text
    unknown = conversation().handle(menu, CONTACT, "MDA-2026-00099", NOW, Tickets(TICKET))
    assert "MDA-2026-00099" in unknown.replies[0].text
    none = conversation().handle(menu, CONTACT, "mis solicitudes", NOW, Tickets())
    assert none.replies[0].text == texts()("tickets_none")
    without_port = conversation().handle(menu, CONTACT, "3", NOW)
    assert [r.text for r in without_port.replies] == [r.text for r in listed.replies[1:]]


def test_a_turn_never_holds_two_connections_even_for_a_version_stored_meanwhile(service: ChatService,
                                                                                 chat: Chat) -> None:
    """A wave prepared by another process invites to a questionnaire version this service has never
    seen: the turn that starts it runs it, and never opens a second connection while it holds the
    contact's row (it is loaded between two attempts of the turn)."""
    register(chat)
    newer = dataclasses.replace(INTERVIEW, version=f"{INTERVIEW.version}-b")
    with db.write_session(service.engine) as session:
        store.QuestionnaireStore().ensure(session, newer)
    with pytest.raises(KeyError):
        service.questionnaires.cached(newer.key)
    with service.engine.begin() as conn:
        contact = conn.execute(select(Contact.id, Contact.state, Contact.state_version)
                               .where(Contact.address == chat.address)).one()
        invited = invite(ConversationState.from_json(contact.state), WaveInvitation(99, "2026-10", newer.key))
        assert invited is not None
        stored.save(conn, contact.id, contact.state_version, invited)
    held, most = 0, 0

    def checkout(*_: Any) -> None:
        nonlocal held, most
        held += 1
        most = max(most, held)

    def checkin(*_: Any) -> None:
        nonlocal held
        held -= 1

    event.listen(service.engine, "checkout", checkout)
    event.listen(service.engine, "checkin", checkin)
    try:
        assert "20 preguntas" in chat.say("si")
        chat.say("4")
    finally:
        event.remove(service.engine, "checkout", checkout)
        event.remove(service.engine, "checkin", checkin)
    assert most == 1  # the version was read before the turn's transaction, not inside it
    with service.sessions() as session:
        interview = session.scalars(select(Interview).where(Interview.wave_id == 99)).one()
        assert interview.questionnaire.version == newer.version
