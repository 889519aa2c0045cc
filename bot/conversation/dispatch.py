"""The mode dispatch: ``Conversation.handle(state, contact, text, now, reads)`` → ``Turn`` (the replies,
the new state and the effects the host must store). Pure: it reads only its arguments, the
questionnaires and texts it was built with, and the read port; it writes nothing.

Modes (``Mode``): ``new`` → ``registro`` (consent + entity, once per contact) → ``menu`` ⇄ ``interview``;
``resume_prompt`` asks whether to continue a paused interview; ``resubscribe`` asks an opted-out
contact whether to receive messages again; ``helpdesk`` takes a help request (a paused interview
waits in ``suspended`` meanwhile); ``rating`` takes the 1–5 rating of a ticket that was just closed
(``bot.conversation.proactive.ask_rating``); ``forget_confirm`` and ``switch_entity`` wait for a
confirmation. A wave's invitation (``proactive.invite``) waits in ``invitation`` until the contact
answers it: their next message starts or resumes that wave's interview, "No" declines it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from bot.conversation import previous_answer, proactive, replies, summary
from bot.conversation.builtin import (
    MENU_ACTIONS,
    menu_question,
    menu_questionnaire,
    rating_options,
    rating_questionnaire,
    yes_no_options,
)
from bot.conversation.commands import LIST_CHOICE, POLITE, TYPO_TAKEN, command_of, command_typo, ticket_code
from bot.conversation.effects import (
    ConsentRecorded,
    Effect,
    EntitySwitched,
    Forget,
    InterviewEvent,
    InterviewStarted,
    InterviewStatusChanged,
    OptedIn,
    OptedOut,
    OtherEntityRegistered,
    ProfileUpdated,
    ResultsQuery,
    TicketRated,
    TicketRequested,
    TicketsQuery,
    Turn,
    WaveJoined,
)
from bot.conversation.reads import Reads
from bot.conversation.state import INVITABLE_MODES, ContactView, ConversationState, EntitySwitch, Mode
from bot.helpdesk.themes import ThemeClassifier
from surveys import dates, formats, parsing
from surveys.engine import AnswerSet, Finished, FlowState, Interviewer, Step
from surveys.entities import is_territorial
from surveys.messages import Option, Outbound
from surveys.parsing import normalize, plain_words
from surveys.pending import Suggestion
from surveys.schema import QType, Question, Questionnaire
from surveys.statuses import InterviewStatus
from surveys.texts import Texts

# What people put before a request said in a few words ("quiero …", "¿cómo hago para …?").
_WISH = re.compile(r"^(?:(?:yo|ya|bueno|hola)\s+)*(?:quiero|quisiera|queremos|quisieramos|necesito|necesitamos|deseo|"
                   r"me gustaria|como puedo|como hago para|como hago|puedo|se puede)\s+")
BUSY_MAX_WORDS = 8  # "ahorita no puedo, estoy en reunión": a busy reply is short


class Conversation:
    def __init__(
        self,
        *,
        registration: Questionnaire,
        interview: Questionnaire,
        entities: Any,
        text: Texts,
        questionnaire_by_key: Callable[[str], Questionnaire] | None = None,
        expiry: timedelta = timedelta(days=7),
        helpdesk: Questionnaire | None = None,
        classifier: ThemeClassifier | None = None,
    ):
        self.registration = registration
        self.interview = interview
        self.helpdesk = helpdesk
        self.classifier = classifier  # bot.helpdesk.themes.ThemeClassifier: proposes themes for a need
        self.entities = entities
        self.t = text
        self.expiry = expiry
        known = {q.key: q for q in (registration, interview, helpdesk) if q is not None}
        self._by_key = questionnaire_by_key or known.__getitem__
        self._engines: dict[str, Interviewer] = {}
        self._menu = menu_question(text)
        self._option_words: dict[str, frozenset[str]] = {}  # by questionnaire key: see _mistyped_command

    def engine(self, key: str) -> Interviewer:
        if key not in self._engines:
            rating = rating_questionnaire()
            questionnaire = rating if key == rating.key else self._by_key(key)
            self._engines[key] = Interviewer(questionnaire, self.entities, self.t, suggester=self._suggest)
        return self._engines[key]

    # -- entry point

    def handle(self, state: ConversationState, contact: ContactView, text: str, now: datetime,
               reads: Reads | None = None) -> Turn:
        """The turn of one inbound message. With ``reads``, what the message asked to see (the
        contact's tickets, one ticket's status) is read through it and shown before the replies."""
        turn = self._handle(state, contact, text, now)
        if reads is None:
            return turn
        shown = [self._tickets(reads, contact, e.code) for e in turn.effects if isinstance(e, TicketsQuery)]
        return dataclasses.replace(turn, replies=shown + turn.replies) if shown else turn

    def conclude(self, turn: Turn, outcomes: replies.Outcomes, contact: ContactView) -> Turn:
        """The turn with what the host's writes produced told in place (a ticket's code, the results'
        ficha, a link that is gone): see ``replies.around``."""
        if not outcomes:
            return turn
        before_last = [replies.interview_ticket(self.t, outcomes.interview_ticket, outcomes.interview_ticket_themes)] \
            if outcomes.interview_ticket else []
        after = [replies.ticket_opened(self.t, outcomes.ticket)] if outcomes.ticket is not None else []
        gone = Outbound(self.t("switch_entity.gone", entity=self.entity_display(contact.entity_code))) \
            if outcomes.link_gone else None
        placed = replies.around(turn.replies, outcomes.before, before_last, after, gone)
        return dataclasses.replace(turn, replies=placed)

    def _tickets(self, reads: Reads, contact: ContactView, code: str | None) -> Outbound:
        if code is not None:
            return replies.ticket_detail(self.t, code, reads.ticket(code))
        entity = self.entities.get(contact.entity_code) if contact.entity_code else None
        return replies.ticket_list(self.t, entity.display if entity else contact.entity_code, reads.tickets())

    def _handle(self, state: ConversationState, contact: ContactView, text: str, now: datetime) -> Turn:
        command = command_of(text) or self._back_asked(state, text)
        if state.mode == Mode.FORGET_CONFIRM:
            return self._forget_confirm(state, contact, text, now)
        if command == "forget":  # a right under Ley 1581: also for people who opted out
            return Turn([Outbound(self.t("forget_confirm"), yes_no_options(self.t))],
                        dataclasses.replace(state, mode=Mode.FORGET_CONFIRM),
                        [InterviewStatusChanged(InterviewStatus.PAUSADA)]
                        if state.in_interview and not state.paused else [])
        if contact.opted_out:
            return self._opted_out(state, contact, text, command, now)
        if command == "optout":
            return self._opt_out(state)
        if command is None and (typo := self._mistyped_command(state, text)) is not None:
            if typo not in TYPO_TAKEN:  # "atrs": ATRAS asked, not done (the reply may have meant something else)
                named = self.t(f"command_names.{typo}")
                return Turn([Outbound(self.t("command_typo", command=named))] + self.current_prompt(state, contact),
                            state)
            command = typo
        if state.mode == Mode.SWITCH_ENTITY and state.switch is not None:
            return self._switch_entity(state, contact, text, command)
        if state.in_interview and self._expired(state, now):
            expired = self._expire(state)
            menu = self._show_menu(expired.state)
            return Turn(expired.replies + menu.replies, menu.state, expired.effects)
        intent = self._intent(text) if command is None else None
        if intent is not None and (answered := self._small_talk(state, contact, intent)) is not None:
            return answered
        if state.mode == Mode.REGISTRO or not _registered(contact):
            return self._registration(state, contact, text, command, now)
        if state.invitation is not None:
            answered = self._invitation_reply(state, contact, text, command, now)
            if answered is not None:
                return answered
        if state.mode == Mode.RESUME_PROMPT:
            return self._resume_prompt(state, text, command, now)
        if state.mode == Mode.INTERVIEW and state.in_interview:
            return self._interview(state, contact, text, command, now)
        if state.mode == Mode.HELPDESK and state.flow is not None:
            return self._helpdesk(state, contact, text, command, now)
        if state.mode == Mode.RATING:
            return self._rating(state, contact, text, command, now)
        return self._menu_turn(state, contact, text, command, now)

    def _intent(self, text: str) -> str | None:
        """ "¿Quién es?", "hablar con una persona", "gracias": the whole message (``intents`` in texts.es.yaml)."""
        folded = plain_words(normalize(text)) or text.strip()
        bare = POLITE.sub("", folded)
        wish = _WISH.sub("", bare)  # "quiero actualizar mis datos", "¿cómo hago para hablar con una persona?"
        for candidate in dict.fromkeys((folded, bare, wish)):
            for intent in ("about", "privacy", "profile", "human", "thanks"):
                if candidate in self.t.words(f"intents.{intent}"):
                    return intent
        return None

    def _small_talk(self, state: ConversationState, contact: ContactView, intent: str) -> Turn | None:
        """Who we are, how to reach a person, "de nada": said, and what was waiting is asked again
        (nothing stored, nothing lost). At the menu a person is reached through a help request, which
        starts. None: the message is read as usual (a thank-you outside the menu, or nothing asked yet)."""
        at_menu = state.mode in INVITABLE_MODES and _registered(contact)
        if intent == "thanks":  # "ok", "listo" to a wave's invitation say yes to it: not a thank-you
            return Turn([Outbound(self.t("welcome"))], state) if state.mode == Mode.MENU and at_menu \
                and state.invitation is None else None
        if intent == "human" and at_menu:  # a wave's invitation keeps waiting, as for menu choice 2
            started = self._start_helpdesk(state)
            return dataclasses.replace(started, replies=[Outbound(self.t("human_menu"))] + started.replies)
        if at_menu:  # who we are, then the invitation or the menu
            shown = [self._wave_ready()] if state.invitation is not None else self._show_menu(state).replies
            return Turn([Outbound(self.t(intent))] + shown, state)
        waiting = self.current_prompt(state, contact)
        if state.mode == Mode.HELPDESK and state.flow is not None and not state.paused:
            flow = FlowState.from_json(state.flow)
            if flow.finished:  # the intake's summary waits for its Sí/No
                waiting = [self._summary(flow, None)]
        if not waiting:
            return None
        if intent == "human" and state.mode == Mode.HELPDESK:  # already writing the request an asesor answers
            intent = "human_menu"
        return Turn([Outbound(self.t(intent))] + waiting, state)

    def _back_asked(self, state: ConversationState, text: str) -> str | None:
        """ "me equivoqué en la anterior" while a question (or the intake's summary) waits: ATRAS."""
        if state.flow is None or state.paused or state.mode not in (Mode.REGISTRO, Mode.INTERVIEW, Mode.HELPDESK):
            return None
        if not parsing.wants_back(text):  # the cheap test first: most replies stop here
            return None
        flow = FlowState.from_json(state.flow)
        question = self.engine(flow.questionnaire).q.question(flow.current) if flow.current else None
        open_answer = question is not None and question.type is QType.TEXT
        return "back" if not open_answer or parsing.wants_back(text, open_answer=True) else None

    def _mistyped_command(self, state: ConversationState, text: str) -> str | None:
        """ "mneu", "atrs", "contnuar": a command mistyped, unless the word answers the question waiting (an
        option's text, "buenaa"), or a name or a place is asked (a person may be called Ayda)."""
        command = command_typo(text)
        if command is None or state.flow is None or state.paused or state.mode not in (
                Mode.REGISTRO, Mode.INTERVIEW, Mode.HELPDESK):
            return command
        flow = FlowState.from_json(state.flow)
        engine = self.engine(flow.questionnaire)
        if flow.questionnaire not in self._option_words:
            self._option_words[flow.questionnaire] = _option_words(engine.q)
        if normalize(text).strip(" .!¡?¿") in self._option_words[flow.questionnaire]:  # "continua" at a summary
            return None
        question = engine.q.question(flow.current) if flow.current and flow.pending is None else None
        if question is None:
            return command
        if question.type is QType.ENTITY or question.asks_name:
            return None
        if question.type is not QType.TEXT:
            parsed = parsing.parse_answer(engine.q, question, text)
            if parsed.ok or parsed.candidates:
                return None
        return command

    # -- what is being asked, and a deep link for another entity

    def current_prompt(self, state: ConversationState, contact: ContactView) -> list[Outbound]:
        """What the conversation waits for, asked again, changing nothing (after an edited message,
        or a switch of entity declined); nothing when it waits for nothing in particular."""
        if state.mode == Mode.FORGET_CONFIRM:
            return [Outbound(self.t("forget_confirm"), yes_no_options(self.t))]
        if state.mode == Mode.RESUBSCRIBE or contact.opted_out:
            return [Outbound(self.t("resubscribe_prompt"), yes_no_options(self.t))]
        if state.mode == Mode.SWITCH_ENTITY and state.switch is not None:
            return [self._switch_question(state.switch, contact)]
        if state.mode == Mode.RESUME_PROMPT and state.flow is not None:
            return [self._resume_question(FlowState.from_json(state.flow))]
        if state.mode == Mode.RATING:
            return [Outbound(self.t("ticket_rate"), rating_options(self.t))]
        if state.mode in (Mode.REGISTRO, Mode.INTERVIEW, Mode.HELPDESK) and state.flow is not None and not state.paused:
            flow = FlowState.from_json(state.flow)
            return self.engine(flow.questionnaire).prompt(flow)
        if state.mode == Mode.MENU:
            return self._show_menu(state).replies
        return []

    def offer_switch(self, state: ConversationState, contact: ContactView, entity: str, token: str) -> Turn:
        """A deep link for ``entity`` opened in a chat registered for another one: the chat is not
        rebound (nor the link used up) unless the person says so."""
        back = state.switch.back if state.mode == Mode.SWITCH_ENTITY and state.switch else state.mode
        switch = EntitySwitch(token, entity, back)
        return Turn([self._switch_question(switch, contact)],
                    dataclasses.replace(state, mode=Mode.SWITCH_ENTITY, switch=switch))

    def _switch_question(self, switch: EntitySwitch, contact: ContactView) -> Outbound:
        return Outbound(self.t("switch_entity.confirm", current=self.entity_display(contact.entity_code),
                               entity=self.entity_display(switch.entity)), yes_no_options(self.t))

    def _switch_entity(self, state: ConversationState, contact: ContactView, text: str, command: str | None) -> Turn:
        assert state.switch is not None
        answer = parsing.parse_yes_no(text)
        back = dataclasses.replace(state, mode=state.switch.back, switch=None)
        if answer == "si":
            effects: list[Effect] = [EntitySwitched(state.switch.token, state.switch.entity)]
            if back.mode == Mode.HELPDESK:  # a request being written for the other entity is left unsent
                back = back.restored(Mode.MENU)
            if back.in_interview and not back.paused:  # it was the other entity's interview: it waits, paused
                effects.append(InterviewStatusChanged(InterviewStatus.PAUSADA))
            done = [Outbound(self.t("switch_entity.done", entity=self.entity_display(state.switch.entity)))]
            if back.in_interview:
                done.append(Outbound(self.t("interview_waiting")))
            menu = self._show_menu(dataclasses.replace(back, paused=back.in_interview or back.paused))
            return Turn(done + menu.replies, menu.state, effects)
        if answer == "no" or command in ("menu", "hello", "resume", "back", "pause"):
            kept = Outbound(self.t("switch_entity.kept", entity=self.entity_display(contact.entity_code)))
            return Turn([kept] + self.current_prompt(back, contact), back)
        return Turn([Outbound(self.t("hint.yes_no")), self._switch_question(state.switch, contact)], state)

    def entity_display(self, code: str | None) -> str:
        entity = self.entities.get(code) if code else None
        return entity.display if entity is not None else (code or "-")

    # -- registration (consent, entity, name, cargo)

    def _registration(self, state: ConversationState, contact: ContactView, text: str, command: str | None,
                      now: datetime) -> Turn:
        engine = self.engine(self.registration.key)
        if state.mode != Mode.REGISTRO or state.flow is None:
            # The registration questionnaire's intro is the greeting.
            start = ConversationState(mode=Mode.REGISTRO, invitation=state.invitation)
            return self._registration_step(start, [], engine.start(_prefill(contact)))
        flow = FlowState.from_json(state.flow)
        if state.paused:
            return Turn([Outbound(self.t("resumed"))] + engine.prompt(flow), dataclasses.replace(state, paused=False))
        if command == "help":
            return Turn([Outbound(self.t("help"))] + engine.prompt(flow), state)
        if command == "pause":
            return Turn([Outbound(self.t("paused"))], dataclasses.replace(state, paused=True))
        if command in ("menu", "hello", "resume"):
            return Turn(engine.prompt(flow), state)
        if command is None and self._later(engine, flow, text, now):
            return Turn([Outbound(self.t("later"))], dataclasses.replace(state, paused=True))
        step = _navigate(engine, flow, command) or engine.reply(flow, text)
        return self._registration_step(state, [], step)

    def _registration_step(self, state: ConversationState, before: list[Outbound], step: Step) -> Turn:
        effects: list[Effect] = []
        for event in step.events:
            if isinstance(event, AnswerSet):
                effects.extend(self._registration_answer(event))
        finished = next((e for e in step.events if isinstance(e, Finished)), None)
        if finished is None:
            return Turn(before + step.messages, dataclasses.replace(state, flow=step.state.to_json()), effects)
        if finished.status == InterviewStatus.RECHAZADA:
            return Turn(before + step.messages, ConversationState(mode=Mode.NEW), effects)
        answers = step.state.answers
        entity = self.entities.get(answers.get("entidad", ""))
        done = [Outbound(self.t("registered", entity=entity.display))] if entity is not None else []
        if entity is None and answers.get("entidad"):  # "OTRA": a grupo de valor, validated by the DER
            name = " ".join(str(answers.get("entidad_nombre") or "").split())[:120]
            effects.append(OtherEntityRegistered(str(answers.get("grupo_valor") or "otro"), name,
                                                 answers.get("entidad_sede")))
            done = [Outbound(self.t("registered_other", entity=name))]
        if state.invitation is not None:  # came through a wave's link: offer its interview, not the menu
            ready = self._wave_ready()
            return Turn(before + step.messages + done + [ready],
                        ConversationState(mode=Mode.MENU, invitation=state.invitation), effects)
        menu = self._show_menu(ConversationState(mode=Mode.MENU))
        return Turn(before + step.messages + done + menu.replies, menu.state, effects)

    def _registration_answer(self, event: AnswerSet) -> list[Effect]:
        if event.source == "prefill":
            return []
        question = self.registration.question(event.question)
        if question.type is QType.CONSENT:
            return [ConsentRecorded(event.value == "si", self.registration.version, question.label)]
        if question.prefill is None:  # about a grupo de valor: used when registration finishes
            return []
        if question.type is QType.ENTITY:  # "OTRA" is not an entity yet (OtherEntityRegistered)
            return [ProfileUpdated({"entity_code": event.value})] if self.entities.get(str(event.value)) else []
        return [ProfileUpdated({question.prefill: event.value})]

    # -- menu

    def _menu_turn(
        self, state: ConversationState, contact: ContactView, text: str, command: str | None, now: datetime
    ) -> Turn:
        code = ticket_code(text)
        if code is not None:  # "estado MDA-2026-00042", from the menu or after a conversation
            menu = self._show_menu(state)
            return Turn(menu.replies, menu.state, [TicketsQuery(code)])
        if command == "resume" and state.in_interview:  # CONTINUAR from anywhere in the menu
            return self._start_or_resume(state, contact, now)
        if state.mode != Mode.MENU or command in ("menu", "hello"):
            # "new": first contact after registration data came from elsewhere; "idle": after an interview.
            greet = state.mode == Mode.NEW or command == "hello"
            greeting = [Outbound(self.t("greeting", name=f" {contact.name}" if contact.name else ""))]
            if command is None:  # a choice or a need written right after a ticket or an interview is taken
                routed = self._route(dataclasses.replace(state, mode=Mode.MENU), contact, text, now, praise=False)
                if routed is not None:
                    return Turn((greeting if greet else []) + routed.replies, routed.state, routed.effects)
            turn = self._show_menu(state)
            return Turn((greeting if greet else []) + turn.replies, turn.state)
        if command == "help":
            return self._with_menu(state, self.t("help"))
        routed = self._route(state, contact, text, now)
        if routed is not None:
            return routed
        return Turn([Outbound(self.t("menu_invalid", n=len(MENU_ACTIONS)), self._menu_options())], state)

    def _route(self, state: ConversationState, contact: ContactView, text: str, now: datetime,
               praise: bool = True) -> Turn | None:
        """What a message at the menu asks for; None when it names no choice.

        A menu choice is navigation, not a stored answer: one choice named among other words ("ver mis
        solicitudes por favor") is taken without a "¿Quiso decir?"; MENU undoes it. A message that rates
        or praises the assistance ("quiero calificar la asistencia", "… le pondría un cuatro") starts the
        interview; one that describes a need starts the request with it; one that does both is asked which.
        Without ``praise`` (right after an interview or a ticket, where "excelente la atención, gracias"
        is a thank-you) only a choice or a need is taken."""
        parsed = parsing.parse_answer(menu_questionnaire(), self._menu, text)
        rating, need = praise and self._looks_like_rating(text), self._looks_like_need(text)
        if rating and need:
            return self._with_menu(state, self.t("menu_which"))
        if rating:
            return self._start_or_resume(state, contact, now)
        # "necesito ayuda con el plan indicativo" is the request itself; "necesito saber cómo va mi solicitud"
        # and "necesito responder la encuesta" name another choice in so many words.
        if need and (not parsed.ok or (parsed.confirm and parsed.value not in ("interview", "my_requests"))):
            return self._start_helpdesk(state, need=text)
        if parsed.candidates:  # "mis solicitudes y la ayuda": two choices named apart
            return self._with_menu(state, self.t("menu_unclear"))
        if not parsed.ok:
            return None
        action = parsed.value
        if action in ("interview", "my_results") and not is_territorial(contact.entity_code):
            return self._with_menu(state, self.t("territorial_only"))  # a grupo de valor: the mesa de ayuda
        if action == "interview":
            return self._start_or_resume(state, contact, now)
        if action == "helpdesk":
            return self._start_helpdesk(state)
        if action == "my_requests":
            menu = self._show_menu(state)
            return Turn(menu.replies, menu.state, [TicketsQuery()])
        if action == "my_results":
            menu = self._show_menu(state)
            return Turn(menu.replies, menu.state, [ResultsQuery()])
        return self._with_menu(state, self.t("help"))

    # -- mesa de ayuda (the intake of a help request)

    def _start_helpdesk(self, state: ConversationState, need: str | None = None) -> Turn:
        if self.helpdesk is None:
            return self._with_menu(state, self.t("helpdesk_soon"))
        # A paused interview waits in ``suspended`` and is offered again from the menu afterwards.
        step = self.engine(self.helpdesk.key).start({"need": need} if need else None)
        return self._helpdesk_step(dataclasses.replace(state.suspend_interview(), mode=Mode.HELPDESK), step)

    def _helpdesk(self, state: ConversationState, contact: ContactView, text: str, command: str | None,
                  now: datetime) -> Turn:
        assert state.flow is not None
        flow = FlowState.from_json(state.flow)
        engine = self.engine(flow.questionnaire)
        if command == "menu":
            menu = self._show_menu(state.restored(Mode.MENU))
            return Turn([Outbound(self.t("ticket_cancelled"))] + menu.replies, menu.state)
        if command == "pause":  # PAUSA keeps the request where it is; MENU leaves it unsent
            return Turn([Outbound(self.t("paused"))], dataclasses.replace(state, paused=True))
        today = formats.local(now).date()
        if state.paused:  # back after PAUSA or "ahorita no puedo": the question waiting, asked again
            waiting = [self._summary(flow, today)] if flow.finished else engine.prompt(flow)
            return Turn([Outbound(self.t("resumed"))] + waiting, dataclasses.replace(state, paused=False))
        if command is None and not flow.finished and self._later(engine, flow, text, now):
            return Turn([Outbound(self.t("later"))], dataclasses.replace(state, paused=True))
        if flow.finished:
            return self._review(state, engine, flow, text, command, today)
        if command in ("hello", "resume"):
            return Turn(engine.prompt(flow), state)
        if command == "help":
            return Turn([Outbound(self.t("help") + "\n\n" + self.t("continue_with"))] + engine.prompt(flow), state)
        rerouted = self._menu_corrected(state.restored(Mode.MENU), contact, flow, text, command, now)
        if rerouted is not None:  # "no perdón, quería la 1" as the need: the menu choice meant, nothing sent
            return rerouted
        if isinstance(flow.pending, Suggestion) and LIST_CHOICE.fullmatch(text):
            # "1" at "Entiendo que su solicitud es sobre … ¿Es correcto?": the theme list was never
            # shown, so a number chooses nothing from it. Ask Sí/No again ("no" shows the list).
            return Turn([Outbound(self.t("hint.yes_no"))] + engine.prompt(flow), state)
        step = _navigate(engine, flow, command, today) \
            or previous_answer.correct_previous(self.t, engine, flow, text, command, today) \
            or engine.reply(flow, text, today)
        return self._helpdesk_step(state, step, today)

    def _helpdesk_step(self, state: ConversationState, step: Step, today: date | None = None) -> Turn:
        state = dataclasses.replace(state, flow=step.state.to_json())
        if step.state.status == InterviewStatus.COMPLETA:  # nothing is sent before the person has read it back
            return Turn(step.messages + [self._summary(step.state, today)], state)
        return Turn(step.messages, state)

    def _review(self, state: ConversationState, engine: Interviewer, flow: FlowState, text: str,
                command: str | None, today: date) -> Turn:
        """The reply to the intake's summary: Sí sends it, ATRAS goes back to correct, MENU drops it."""
        if command == "back":
            step = engine.back(dataclasses.replace(flow, status=InterviewStatus.EN_CURSO))
            return Turn(step.messages, dataclasses.replace(state, flow=step.state.to_json()))
        read_back = self._summary(flow, today)
        if command == "help":
            return Turn([Outbound(self.t("help")), read_back], state)
        answer = parsing.parse_yes_no(text) if command is None else None
        said = POLITE.sub("", plain_words(normalize(text))) if command is None else ""
        if said in self.t.words("intake.send_words"):  # "envíela", "mándela así"
            answer = "si"
        elif said in self.t.words("intake.cancel_words"):  # "cancelar", "no la envíe"
            menu = self._show_menu(state.restored(Mode.MENU))
            return Turn([Outbound(self.t("ticket_cancelled"))] + menu.replies, menu.state)
        if command is None and said not in self.t.words("intake.send_words"):
            # "la fecha está mal", "cambiar la 3": that question again; "sí, la fecha es el 20" is a change too,
            # not a yes to send it as it was (only a line named in words counts after a "sí").
            fixed = self._fix(state, engine, flow, text, today, named_only=answer == "si")
            if fixed is not None:
                return fixed
        if answer == "si":
            done = state.restored(Mode.IDLE)
            reminder = [Outbound(self.t("interview_waiting"))] if done.in_interview else []
            return Turn(reminder, done, [TicketRequested(dict(flow.answers))])
        if answer == "no":
            return Turn([Outbound(self.t("intake.fix"), yes_no_options(self.t))], state)
        if command is not None:
            return Turn([read_back], state)
        return Turn([Outbound(self.t("pending_again", prompt=read_back.text), read_back.options)], state)

    def _summary(self, flow: FlowState, today: date | None) -> Outbound:
        """ "Revisemos su solicitud: 1. Necesidad: … 2. Temas: …" (``bot.conversation.summary``)."""
        engine = self.engine(flow.questionnaire)
        shown = summary.lines(engine, summary.answered(engine, flow.answers), flow.answers, today, self._field_label)
        return Outbound(self.t("intake.summary", lines="\n".join(shown)), yes_no_options(self.t))

    def _fix_by_value(self, state: ConversationState, engine: Interviewer, flow: FlowState,
                      questions: list[Question], text: str, today: date) -> Turn | None:
        """ "No, es continua", "no, para el 20": a new value that only one line of the summary can take
        (a choice or the date) is that line's new answer, read like one typed at its question."""
        rest = parsing.after_no(text) or text
        # An option's number means nothing here (each line numbers its own list): only words choose, and
        # numbers only a date ("no, el 20").
        numeric = any(summary.line_number(t) is not None for t in normalize(rest).replace(",", " ").split())
        kinds = (QType.DATE,) if numeric else (QType.SELECT_ONE, QType.DATE)
        fits = [q for q in questions if q.type in kinds
                and (parsed := parsing.parse_answer(engine.q, q, rest, today=today)).ok
                and parsed.value != flow.answers.get(q.name)]
        if len(fits) != 1:
            return None
        again = dataclasses.replace(flow, status=InterviewStatus.EN_CURSO, current=fits[0].name, pending=None,
                                    failures=0)
        return self._helpdesk_step(state, engine.reply(again, rest, today), today)

    def _field_label(self, question: Question) -> str:
        key = f"intake.fields.{question.name}"
        return self.t(key) if self.t.has(key) else question.label

    def _fix(self, state: ConversationState, engine: Interviewer, flow: FlowState, text: str,
             today: date, named_only: bool = False) -> Turn | None:
        """A correction at the summary: the line it names (by its words or its number) is asked again,
        with the answer it had; a value said with it ("la fecha es el 20") is read as the new answer.
        None: the reply names no line (the summary is asked again)."""
        questions = summary.answered(engine, flow.answers)
        tokens = [t for t in normalize(text).replace(",", " ").split()]
        named = summary.named_line(tokens, questions, self._field_phrases, named_only)
        if named is None:
            return None if named_only else self._fix_by_value(state, engine, flow, questions, text, today)
        if named.ambiguous:
            return Turn([Outbound(self.t("intake.fix_which"))], state)
        target = named.target
        assert target is not None  # a Named that is not ambiguous names its line
        again = dataclasses.replace(flow, status=InterviewStatus.EN_CURSO, current=target, pending=None, failures=0)
        question = engine.q.question(target)
        if named.span is not None and question.type not in (QType.TEXT, QType.SELECT_MULTIPLE):
            at, size = named.span
            rest = " ".join(tokens[:at] + tokens[at + size :])
            parsed = parsing.parse_answer(engine.q, question, rest, today=today)
            if parsed.ok or parsed.candidates:  # "la fecha es el 20": the new date, read back
                return self._helpdesk_step(state, engine.reply(again, rest, today), today)
        return Turn(engine.prompt(again), dataclasses.replace(state, flow=again.to_json()))

    def _field_phrases(self, question: Question) -> tuple[str, ...]:
        """The words that name a summary line ("la fecha", "el tema"), or its label."""
        return tuple(self.t.words(f"intake.field_words.{question.name}")) or (normalize(self._field_label(question)),)

    def _suggest(self, question: Question, source: Any, today: date | None = None) -> Any:
        """What a need already says, proposed for a later question (confirmed, never stored unasked): its
        themes (bot.helpdesk.themes), that it is urgent ("es urgente", or a deadline in it), the deadline
        ("para el viernes"). None when it says nothing about it: the question is asked."""
        if question.type is QType.DATE:
            reading = dates.read_date(str(source), today) if today is not None else None
            return reading.value.isoformat() if reading is not None and reading.value is not None else None
        if question.type is QType.YES_NO:
            folded = plain_words(normalize(str(source)))
            said = [re.search(rf"(?:^|(\w+) (?:es |hay |tan |muy )?){re.escape(w)}\b", folded)
                    for w in self.t.words("intake.urgent_words")]
            if any(m is not None and m.group(1) in ("no", "sin", "nada", "ni") for m in said):
                return None  # "no es urgente", "sin afán": asked, never proposed
            dated = today is not None and dates.read_date(str(source), today).value is not None
            return "si" if any(said) or dated else None
        if self.classifier is None or question.type is not QType.SELECT_MULTIPLE:
            return None
        ids = [theme for theme, _ in self.classifier.classify(str(source))]
        allowed = {c.name for c in self._by_key(self.helpdesk.key).options(question)} if self.helpdesk else set()
        ids = [i for i in ids if i in allowed]
        return ids or None

    def _looks_like_need(self, text: str) -> bool:
        if self.helpdesk is None or self.classifier is None or len(text.split()) < 3:
            return False
        strong = [theme for theme, score in self.classifier.classify(text) if score >= 0.5]  # not "pdt" alone
        folded = normalize(text)
        return bool(strong) or any(w in folded for w in self.t.words("need_words"))

    def _looks_like_rating(self, text: str) -> bool:
        """ "quiero calificar la asistencia", "le pondría un cuatro", "la atención ha sido excelente": an
        evaluation, which is the interview."""
        folded = f" {normalize(text)} "

        def says(key: str) -> bool:
            return any(f" {w}" in folded for w in self.t.words(key))

        return says("rating_words") or (says("praise_words") and says("praise_subjects"))

    def _show_menu(self, state: ConversationState) -> Turn:
        lines = [self.t("menu_title")] + [f"{i}. {self.t(f'menu.{a}')}" for i, a in enumerate(MENU_ACTIONS, 1)]
        state = dataclasses.replace(state, mode=Mode.MENU, paused=False)
        return Turn([Outbound("\n".join(lines), self._menu_options())], state)

    def _with_menu(self, state: ConversationState, message: str) -> Turn:
        menu = self._show_menu(state)
        return Turn([Outbound(message)] + menu.replies, menu.state)

    def _menu_options(self) -> tuple[Option, ...]:
        return tuple(Option(self.t(f"menu.{a}"), str(i)) for i, a in enumerate(MENU_ACTIONS, 1))

    # -- the requester's rating of a closed ticket

    def _rating(self, state: ConversationState, contact: ContactView, text: str, command: str | None,
                now: datetime) -> Turn:
        """The reply to "¿Cómo califica la atención…?" after a ticket closed. Read like any rating question
        (a two-value reply such as "muy buena" gets the pick "¿4 o 5?"); anything that is not a rating is an
        ordinary message: the rating, and those queued after it, are not insisted on."""
        code = state.rating
        if command is None and code is not None:
            rating = rating_questionnaire()
            engine = self.engine(rating.key)
            flow = (FlowState.from_json(state.rating_flow) if state.rating_flow is not None
                    else FlowState(questionnaire=rating.key, current=rating.questions[0].name))
            step = engine.reply(flow, text)
            score = next((e.value for e in step.events if isinstance(e, AnswerSet)), None)
            if score is not None:
                return self._rated(state, code, int(score))
            if step.state.pending is not None and step.state.failures <= flow.failures:  # a pick, not a repeat
                return Turn(step.messages, dataclasses.replace(state, rating_flow=step.state.to_json()))
        back = dataclasses.replace(state, mode=Mode.MENU, rating=None, rating_queue=(), rating_flow=None)
        return self._handle(back, contact, text, now)

    def _rated(self, state: ConversationState, code: str, score: int) -> Turn:
        thanks = Outbound(self.t("ticket_rated", code=code, score=score))
        effects: list[Effect] = [TicketRated(code, score)]
        if state.rating_queue:  # another ticket closed meanwhile: its rating is asked now
            following, *rest = state.rating_queue
            ask = Outbound(self.t("ticket_rate_next", code=following), rating_options(self.t))
            after = dataclasses.replace(state, rating=following, rating_queue=tuple(rest), rating_flow=None)
            return Turn([thanks, ask], after, effects)
        menu = self._show_menu(dataclasses.replace(state, mode=Mode.MENU, rating=None, rating_flow=None))
        return Turn([thanks] + menu.replies, menu.state, effects)

    # -- the interview

    def _start_or_resume(self, state: ConversationState, contact: ContactView, now: datetime) -> Turn:
        invitation = state.invitation
        if state.in_interview and state.flow is not None:
            return self._resume(state, now)
        key = invitation.questionnaire if invitation is not None else self.interview.key
        step = self.engine(key).start(_prefill(contact))
        wave = invitation.wave if invitation is not None else None
        state = ConversationState(mode=Mode.INTERVIEW, last_activity=now.isoformat(), wave=wave)
        period = invitation.period if invitation is not None else None
        effects: list[Effect] = [InterviewStarted(key, wave, period)]
        return self._interview_step(state, step, effects)

    def _invitation_reply(self, state: ConversationState, contact: ContactView, text: str, command: str | None,
                          now: datetime) -> Turn | None:
        """A message while a wave's invitation is pending. It starts (or resumes) that wave's
        interview, "No" declines it; commands, ticket codes, menu choices 2–5 and help requests
        take their usual course (the invitation keeps waiting). None: not an answer to it."""
        if not proactive.available(state):
            return None
        if command in ("menu", "help", "back", "skip", "pause") or ticket_code(text) is not None:
            return None
        if command is None:
            if parsing.not_now(text):  # "más tarde", "ahora no, estoy en reunión": not a refusal; it waits
                return Turn([Outbound(self.t("wave.later"))], state)
            if parsing.parse_yes_no(text) == "no":
                return self._decline_invitation(state)
            if state.mode != Mode.INTERVIEW:  # at the menu: its other choices keep their meaning
                choice = parsing.parse_answer(menu_questionnaire(), self._menu, text)
                if choice.ok and not choice.confirm and choice.value != "interview":
                    return None
                if not choice.ok and self._looks_like_need(text):
                    return None
        return self._start_or_resume(state, contact, now)

    def _wave_ready(self) -> Outbound:
        return Outbound(self.t("wave.ready"), (Option(self.t("wave.start_button"), self.t("wave.start_reply")),))

    def _decline_invitation(self, state: ConversationState) -> Turn:
        """Recorded as the wave's interview with status rechazada (it shows in the export and progress)."""
        invitation = state.invitation
        assert invitation is not None
        started = InterviewStarted(invitation.questionnaire, invitation.wave, invitation.period)
        effects: list[Effect] = [started, InterviewEvent(Finished(InterviewStatus.RECHAZADA))]
        # "idle": the next message shows the menu (a paused interview stays paused, not replaced).
        after = dataclasses.replace(state, invitation=None, mode=Mode.IDLE)
        return Turn([Outbound(self.t("wave.declined"))], after, effects)

    def _resume(self, state: ConversationState, now: datetime) -> Turn:
        assert state.flow is not None
        flow = FlowState.from_json(state.flow)
        engine = self.engine(flow.questionnaire)
        state = dataclasses.replace(state, mode=Mode.INTERVIEW, paused=False, last_activity=now.isoformat())
        effects: list[Effect] = [InterviewStatusChanged(InterviewStatus.EN_CURSO)]
        invitation = state.invitation
        if invitation is not None and state.wave in (None, invitation.wave):
            # A wave's invitation is answered by finishing the paused interview: it joins the wave.
            if state.wave is None:
                effects.append(WaveJoined(invitation.wave, invitation.period))
            state = dataclasses.replace(state, invitation=None, wave=invitation.wave)
        return Turn([Outbound(self.t("resumed"))] + engine.prompt(flow), state, effects)

    def _interview(
        self, state: ConversationState, contact: ContactView, text: str, command: str | None, now: datetime
    ) -> Turn:
        assert state.flow is not None
        flow = FlowState.from_json(state.flow)
        engine = self.engine(flow.questionnaire)
        if state.paused:
            if command in ("resume", "menu", "hello") or command is None:
                prompt = self._resume_question(flow)
                return Turn([prompt], dataclasses.replace(state, mode=Mode.RESUME_PROMPT, paused=False))
        if command == "menu":
            menu = self._show_menu(dataclasses.replace(state, paused=True))
            return Turn(menu.replies, menu.state, [InterviewStatusChanged(InterviewStatus.PAUSADA)])
        if command == "help":
            return Turn([Outbound(self.t("help") + "\n\n" + self.t("continue_with"))] + engine.prompt(flow), state)
        if command == "pause":
            paused = dataclasses.replace(state, paused=True)
            return Turn([Outbound(self.t("paused"))], paused, [InterviewStatusChanged(InterviewStatus.PAUSADA)])
        if command in ("hello", "resume"):
            return Turn(engine.prompt(flow), state)
        if command is None and self._later(engine, flow, text, now):  # "ahorita no puedo, estoy en reunión"
            paused = dataclasses.replace(state, paused=True)
            return Turn([Outbound(self.t("paused"))], paused, [InterviewStatusChanged(InterviewStatus.PAUSADA)])
        today = formats.local(now).date()
        rerouted = self._menu_corrected(dataclasses.replace(state, paused=True), contact, flow, text, command, now)
        if rerouted is not None:  # "no perdón, quería la 2" at the first question: the menu choice meant
            return dataclasses.replace(rerouted, effects=[InterviewStatusChanged(InterviewStatus.PAUSADA),
                                                          *rerouted.effects])
        asked = previous_answer.which_answer(self.t, engine, flow, text, command, today)
        if asked is not None:  # "no, 3": a correction of the answer just given, or the answer to this question?
            return Turn(asked, state)
        step = _navigate(engine, flow, command) \
            or previous_answer.correct_previous(self.t, engine, flow, text, command, today) \
            or engine.reply(flow, text, today)
        if command is None and self._need_instead(engine, flow, step, text):
            # "necesito ayuda con el POT" at a rating: a help request, not a bad answer. It is taken now,
            # with the interview paused; the reminder to continue comes when the request is sent.
            paused = dataclasses.replace(state, paused=True, last_activity=now.isoformat())
            started = self._start_helpdesk(paused, need=text)
            return Turn([Outbound(self.t("need_in_interview"))] + started.replies, started.state,
                        [InterviewStatusChanged(InterviewStatus.PAUSADA)])
        return self._interview_step(dataclasses.replace(state, last_activity=now.isoformat()), step, [])

    def _menu_corrected(self, back: ConversationState, contact: ContactView, flow: FlowState, text: str,
                        command: str | None, now: datetime) -> Turn | None:
        """At the first question of what a menu choice started, "no perdón, quería la 1" corrects the menu
        choice: that choice is taken from ``back`` (the menu state to return to). None otherwise."""
        if command is not None or flow.history or flow.pending is not None or flow.answers.keys() - {
                q.name for q in self.engine(flow.questionnaire).q.questions if q.prefill}:
            return None
        tail = parsing.leading_correction(parsing.tokenize(text))
        choice = parsing.parse_answer(menu_questionnaire(), self._menu, " ".join(tail)) if tail else None
        if tail is None or choice is None or not choice.ok or choice.confirm:
            return None
        engine = self.engine(flow.questionnaire)
        question = engine.q.question(flow.current) if flow.current else None
        if question is not None and question.type is not QType.TEXT:
            answer = parsing.parse_answer(engine.q, question, " ".join(tail), today=formats.local(now).date())
            if answer.ok or answer.candidates:  # "quise decir 3" at a rating: its answer, as it reads
                return None
        return self._route(dataclasses.replace(back, mode=Mode.MENU), contact, " ".join(tail), now)

    def _need_instead(self, engine: Interviewer, flow: FlowState, step: Step, text: str) -> bool:
        """The reply was not an answer to a closed question (asked again) and describes a need."""
        question = engine.q.question(flow.current) if flow.current else None
        if question is None or question.type is QType.TEXT or self.helpdesk is None:
            return False
        not_an_answer = not step.events and step.state.pending is None and step.state.failures > flow.failures
        return not_an_answer and self._says_need(text)

    def _says_need(self, text: str) -> bool:
        """A need said in so many words ("necesito", "ayuda con"), where a need is not what was asked: a
        long answer that names a theme in passing ("la virtualidad mala") is not one."""
        folded = normalize(text)
        return self._looks_like_need(text) and any(w in folded for w in self.t.words("need_words"))

    def _later(self, engine: Interviewer, flow: FlowState, text: str, now: datetime) -> bool:
        """ "Ahorita no, estoy en reunión": the person is busy, which is neither an answer nor a refusal.
        At a consent question it never counts as a "No" (Ley 1581: consent is a free choice, and a busy
        person has not made it); elsewhere only when it does not answer the question ("por ahora no" is a
        fine "No" to "¿Desea que un asesor lo contacte?")."""
        if flow.current is None or not parsing.not_now(text):
            return False
        question = engine.q.question(flow.current)
        if question.type is QType.CONSENT:
            return True
        if not parsing.not_now(text, busy_only=True):  # "más adelante" may answer "¿Desea que lo contacten?"
            return False
        if flow.pending is not None:
            return True
        if question.type is QType.TEXT:  # "un momento, ya le digo" is not the answer to an open question …
            return len(text.split()) <= BUSY_MAX_WORDS  # … a long answer that mentions "le confirmo" is
        parsed = parsing.parse_answer(engine.q, question, text, today=formats.local(now).date())
        if parsed.reason == parsing.NONE_GIVEN and not question.required:
            return False  # "por ahora no" to an optional question: nothing to give, skipped
        return not ((parsed.ok and not parsed.confirm) or parsed.candidates)

    def _interview_step(self, state: ConversationState, step: Step, effects: list[Effect]) -> Turn:
        effects = effects + [InterviewEvent(e) for e in step.events]
        if step.state.finished:
            # The outro closes the conversation; the next message shows the menu (or answers
            # another wave's invitation that came meanwhile).
            pending = state.invitation if state.invitation and state.invitation.wave != state.wave else None
            return Turn(step.messages, ConversationState(mode=Mode.IDLE, invitation=pending), effects)
        return Turn(step.messages, dataclasses.replace(state, flow=step.state.to_json()), effects)

    def _resume_question(self, flow: FlowState) -> Outbound:
        title = self._by_key(flow.questionnaire).title
        options = (Option(self.t("resume_yes"), self.t("option_yes")), Option(self.t("resume_no"), self.t("option_no")))
        return Outbound(self.t("resume_prompt", title=title), options)

    def _resume_prompt(self, state: ConversationState, text: str, command: str | None, now: datetime) -> Turn:
        answer = "si" if command == "resume" else parsing.parse_yes_no(text)
        if answer == "si" and state.flow is not None:
            return self._resume(state, now)
        if answer == "no" or command in ("menu", "hello", "help"):
            turn = self._show_menu(state)
            return Turn(([Outbound(self.t("help"))] if command == "help" else []) + turn.replies, turn.state)
        if command == "pause" or parsing.not_now(text):  # "PAUSA", "más tarde": it stays paused
            return Turn([Outbound(self.t("paused"))], dataclasses.replace(state, mode=Mode.INTERVIEW, paused=True))
        if command is None and self._says_need(text):  # a help request first: the interview keeps waiting
            return self._start_helpdesk(dataclasses.replace(state, mode=Mode.MENU, paused=True), need=text)
        assert state.flow is not None
        again = self._resume_question(FlowState.from_json(state.flow))
        return Turn([Outbound(self.t("pending_again", prompt=again.text), again.options)], state)

    def _expired(self, state: ConversationState, now: datetime) -> bool:
        if state.last_activity is None:
            return False
        return now - datetime.fromisoformat(state.last_activity) > self.expiry

    def _expire(self, state: ConversationState) -> Turn:
        return Turn([Outbound(self.t("expired"))], ConversationState(mode=Mode.MENU, invitation=state.invitation),
                    [InterviewStatusChanged(InterviewStatus.EXPIRADA)])

    # -- opt-out

    def _opt_out(self, state: ConversationState) -> Turn:
        effects: list[Effect] = [OptedOut()]
        if state.in_interview and not state.paused:
            effects.append(InterviewStatusChanged(InterviewStatus.PAUSADA))
            state = dataclasses.replace(state, paused=True)
        return Turn([Outbound(self.t("opted_out"))], state, effects)

    def _opted_out(
        self, state: ConversationState, contact: ContactView, text: str, command: str | None, now: datetime
    ) -> Turn:
        answer = parsing.parse_yes_no(text) if state.mode == Mode.RESUBSCRIBE else None
        if command == "hello" or answer == "si":
            # Back to where they were: a paused interview, registration or request is offered again.
            back = dataclasses.replace(state, mode=self._flow_mode(state), paused=state.flow is not None)
            turn = self._handle(back, dataclasses.replace(contact, opted_out=False), "hola", now)
            return Turn([Outbound(self.t("resubscribed"))] + turn.replies, turn.state, [OptedIn(), *turn.effects])
        if answer == "no":
            return Turn([Outbound(self.t("stay_out"))], state)
        prompt = Outbound(self.t("resubscribe_prompt"), yes_no_options(self.t))
        return Turn([prompt], dataclasses.replace(state, mode=Mode.RESUBSCRIBE))

    def _forget_confirm(self, state: ConversationState, contact: ContactView, text: str, now: datetime) -> Turn:
        """Only a clear "Sí" erases; anything else leaves everything as it was and goes on from there."""
        if parsing.parse_yes_no(text) == "si":
            return Turn([Outbound(self.t("forget_done"))], ConversationState(), [Forget()])
        paused = state.flow is not None
        back = dataclasses.replace(state, mode=self._flow_mode(state), paused=paused)
        if contact.opted_out:
            return Turn([Outbound(self.t("forget_cancelled"))], back)
        turn = self._handle(back, contact, "hola", now)
        return Turn([Outbound(self.t("forget_cancelled"))] + turn.replies, turn.state, turn.effects)

    def _flow_mode(self, state: ConversationState) -> Mode:
        """The mode a saved flow belongs to (the mode itself is replaced while opted out)."""
        if state.rating is not None:
            return Mode.MENU
        if state.in_interview:
            return Mode.INTERVIEW
        if state.flow is None:
            return Mode.NEW
        key = FlowState.from_json(state.flow).questionnaire
        return Mode.HELPDESK if self.helpdesk is not None and key == self.helpdesk.key else Mode.REGISTRO


# ------------------------------------------------------------------ helpers


def _registered(contact: ContactView) -> bool:
    return contact.consent is True and contact.entity_code is not None


def _prefill(contact: ContactView) -> dict[str, Any]:
    return {
        "consent": "si" if contact.consent else None,
        "entity": contact.entity_code,
        "name": contact.name,
        "cargo": contact.cargo,
    }


def _option_words(questionnaire: Questionnaire) -> frozenset[str]:
    """Every option's label and synonyms, folded: a word the questionnaire takes is no mistyped command."""
    return frozenset(normalize(w) for choices in questionnaire.choice_lists.values() for c in choices
                     for w in (c.label, *c.synonyms))


def _navigate(engine: Interviewer, flow: FlowState, command: str | None, today: date | None = None) -> Step | None:
    if command == "back":
        return engine.back(flow)
    if command == "skip":
        return engine.skip(flow, today)
    return None
