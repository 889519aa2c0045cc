"""The chat service: one inbound message → one database transaction → the replies.

Every channel adapter (simulator, console, Twilio, Telegram) calls ``ChatService.handle``. The
turn's effects, the new conversation state and the message log are committed together, so an
accepted answer is never lost and a crash between turns resumes from the last commit. A
delivery seen before (same channel + external id) is answered again from the log, never
processed twice.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from bot.alerts.alerting import Alerts
from bot.conversation import (
    ConsentRecorded,
    ContactView,
    Conversation,
    ConversationState,
    EntitySwitched,
    Forget,
    InterviewEvent,
    InterviewStarted,
    InterviewStatusChanged,
    Mode,
    OptedIn,
    OptedOut,
    OtherEntityRegistered,
    Outcomes,
    ProfileUpdated,
    ResultsQuery,
    TicketOpened,
    TicketRated,
    TicketRequested,
    TicketsQuery,
    TicketView,
    Turn,
    WaveJoined,
    prompts,
)
from bot.helpdesk import grupos, ticketing
from bot.helpdesk.theme_model import ModelThemeClassifier, theme_classifier
from bot.helpdesk.themes import KeywordClassifier, load_taxonomy
from bot.privacy import personal_data
from bot.waves import campaign, results
from surveys import db, schema, store, turn_writes
from surveys.engine import AnswerCleared, AnswerSet, Finished
from surveys.entities import EntityIndex
from surveys.messages import Inbound, Option, Outbound, is_test_channel
from surveys.models import Contact, Invitation, MessageLog, utcnow
from surveys.settings import Settings, current
from surveys.statuses import InterviewStatus
from surveys.texts import texts

log = logging.getLogger(__name__)

RETRIES = 3  # a turn that lost a race (same contact, same delivery) is run again from fresh state


CONTACTS = Contact.__table__
MESSAGES = MessageLog.__table__
INVITATIONS = Invitation.__table__
# Built once: per-turn statements only bind parameters (building them cost more than running them).
# Only what the conversation reads: unused columns (datetimes especially) cost parsing every turn.
SEEN = select(MESSAGES.c.id).where(MESSAGES.c.channel == bindparam("b_channel"), MESSAGES.c.direction == "in",
                                   MESSAGES.c.external_id == bindparam("b_external_id"))
# ``seen``: this delivery is in the log already (a provider's retry), found with the lock in the same
# statement, so a redelivery is answered from the log before the conversation runs. Only a shortcut:
# the log's unique key still refuses one that commits concurrently (the turn rolls back and replays).
SELECT_CONTACT = db.DirectStatement(
    select(*(CONTACTS.c[name] for name in ("id", "state", "state_version", "entity_code", "consent", "name",
                                            "cargo", "opted_out")), SEEN.exists().label("seen"))
    .where(CONTACTS.c.channel == bindparam("b_channel"), CONTACTS.c.address == bindparam("b_address"))
    .with_for_update(of=CONTACTS)
)
INSERT_CONTACT = CONTACTS.insert()

# A redelivered message (a provider's retry) is answered from the log: built once, run on the driver's cursor.
REPLAY_SEEN = db.DirectStatement(SEEN.with_only_columns(MESSAGES.c.id, MESSAGES.c.contact_id))
REPLAY_REPLIES = db.DirectStatement(select(MESSAGES.c.text, MESSAGES.c.options).where(
    MESSAGES.c.contact_id == bindparam("b_contact"), MESSAGES.c.id > bindparam("b_id"),
    MESSAGES.c.in_reply_to == bindparam("b_external_id")).order_by(MESSAGES.c.id))
REPLAY_STATE = db.DirectStatement(select(CONTACTS.c.state).where(CONTACTS.c.id == bindparam("b_contact")))


class ChatService:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings | None = None,
                 entities: EntityIndex | None = None, alerts: Alerts | None = None,
                 on_coded_answer: Callable[[], None] | None = None, clock: Callable[[], datetime] | None = None):
        """``on_coded_answer`` is called after a turn that stored an answer to a question with a
        codebook: the coder (analysis.coding.deferred) codes it off the turn's path. ``clock`` gives
        the time of a turn whose message carries none (the real one by default; tests move it)."""
        self.sessions = sessions
        self.clock = clock or utcnow
        self.on_coded_answer = on_coded_answer
        self.alerts = alerts or Alerts()
        self.engine: Engine = sessions.kw["bind"]
        self.settings = settings or current()
        self.questionnaires = store.QuestionnaireStore()
        registration = schema.builtin("registro")
        interview = schema.builtin(self.settings.questionnaire)
        intake = schema.builtin("solicitud")
        with db.write_session(self.engine) as session:  # the outbox and jobs may already be writing
            for q in (registration, interview, intake):
                self.questionnaires.ensure(session, q)
            self.questionnaires.load_new(session)  # interviews of older versions resume without a lookup
            self.entities = entities or EntityIndex.from_session(session)
        self.coded_questions = frozenset(q.name for q in interview.questions if q.codebook)
        self.classifier = theme_classifier(KeywordClassifier(load_taxonomy()))
        if isinstance(self.classifier, ModelThemeClassifier):
            # spaCy loads here, when the service starts, not in the first person's turn: that reply would
            # wait seconds for it (each turn then only checks, once a second at most, for new model files).
            self.classifier.warm()
        # The conversation looks questionnaires up in what is loaded (``_load_questionnaires``): no database
        # read in a turn.
        self.conversation = Conversation(
            registration=registration,
            interview=interview,
            helpdesk=intake,
            classifier=self.classifier,
            entities=self.entities,
            text=texts(),
            questionnaire_by_key=self.questionnaires.cached,
            expiry=self.settings.expiry,
        )

    def _load_questionnaires(self) -> None:
        """Versions stored since (a wave's, by another process): loaded when a turn met one it did not
        know, after that turn rolled back and before it is run again (never while it holds a lock)."""
        with self.engine.connect() as conn:
            self.questionnaires.load_new(conn)

    # -- the turn

    def handle(self, inbound: Inbound) -> list[Outbound]:
        for attempt in range(RETRIES + 1):
            try:
                turn = self._turn(inbound)
                if self.on_coded_answer is not None and self._stores_coded_answer(turn):
                    self.on_coded_answer()
                return turn.replies
            except _Redelivery:
                replies = self._replay(inbound)
                if replies is not None:
                    return replies
            except store.NotLoaded as exc:  # a questionnaire version stored meanwhile: load it, then redo
                if attempt == RETRIES:
                    raise KeyError(exc.args[0]) from exc
                self._load_questionnaires()
            except (StaleDataError, IntegrityError) as exc:  # lost a race: redo on fresh state
                if attempt == RETRIES:
                    raise
                log.info("turn retried (%s/%s) for %s:%s: %s", attempt + 1, RETRIES, inbound.channel,
                         inbound.address, type(exc).__name__)
        raise RuntimeError("unreachable")

    def _stores_coded_answer(self, turn: Turn) -> bool:
        return any(isinstance(e, InterviewEvent) and isinstance(e.event, AnswerSet)
                   and e.event.question in self.coded_questions for e in turn.effects)

    def _turn(self, inbound: Inbound) -> Turn:
        """One inbound message in one transaction, which takes the contact's lock first (BEGIN
        IMMEDIATE on SQLite, SELECT … FOR UPDATE elsewhere), so turns of one contact never
        interleave; state_version stays as a safety net. Core statements on a plain connection:
        this is the hot path."""
        now = inbound.received_at or self.clock()
        key = {"b_channel": inbound.channel, "b_address": inbound.address, "b_external_id": inbound.external_id}
        if isinstance(self.classifier, ModelThemeClassifier):
            self.classifier.warm()  # spaCy loads (or reloads new model files) before the lock, not in it
        with db.transaction(self.engine) as conn:
            contact = SELECT_CONTACT.execute(conn, key).one_or_none()
            if not prompts.is_current(inbound.prompt, contact.state if contact is not None else None):
                # A button of a keyboard whose prompt is past: it answers nothing, and nothing is written —
                # unless it is this very press delivered again (its turn moved the prompt on): replay it.
                if inbound.external_id is not None and conn.execute(SEEN, {
                        "b_channel": inbound.channel, "b_external_id": inbound.external_id}).first() is not None:
                    raise _Redelivery
                return Turn([Outbound(texts()("stale_option"), notice=True)], ConversationState())
            if contact is not None and contact.seen:
                raise _Redelivery
            if inbound.edited:  # not an answer: say so, ask again what is being asked; nothing is written
                saved = contact.state if contact is not None else None
                state = ConversationState.from_json(saved)
                asked = self.conversation.current_prompt(state, _view(contact)) if contact is not None else []
                return Turn([Outbound(texts()("edited_ignored")), *_with_prompt(asked, saved)], state)
            if contact is None:
                # A concurrent first message for the same address fails here (unique) and is retried.
                conn.execute(INSERT_CONTACT, dict(channel=inbound.channel, address=inbound.address, state={},
                                                  state_version=0, opted_out=False, created_at=now))
                contact = SELECT_CONTACT.execute(conn, key).one()
            state = ConversationState.from_json(contact.state)
            changes: dict[str, Any] = {}
            view = _view(contact)
            switch_to = None
            if inbound.invitation:
                entity_code = self._invitation_entity(conn, inbound.invitation, contact.id, now)
                if entity_code is not None and view.entity_code not in (None, entity_code) and view.consent:
                    # Registered for another entity: never rebound silently — the person confirms
                    # (bot.conversation.offer_switch); the link is used only then.
                    switch_to = entity_code if not view.opted_out else None
                elif entity_code is not None:
                    self._bind_invitation(conn, inbound.invitation, contact.id, now)
                    changes["entity_code"] = entity_code
                    view = dataclasses.replace(view, entity_code=entity_code)
                    # a wave's link opens its interview
                    state = campaign.invited_by_link(conn, inbound.invitation, state)
            if switch_to is not None and inbound.invitation:
                turn = self.conversation.offer_switch(state, view, switch_to, inbound.invitation)
            elif inbound.media and not inbound.text.strip() and state.mode == Mode.NEW:
                # A first message that is a voice note or a photo: greet as for "hola", saying why.
                turn = self.conversation.handle(state, view, "hola", now)
                turn = dataclasses.replace(turn, replies=[Outbound(texts()("only_text_first")), *turn.replies])
            elif inbound.media and not inbound.text.strip():
                turn = Turn([Outbound(texts()("only_text"))], state)
            else:
                # A simulator conversation sees only the tickets it opened (anyone may claim any entity there).
                own = contact.id if is_test_channel(inbound.channel) else None
                turn = self.conversation.handle(state, view, inbound.text, now, _TurnReads(conn, view.entity_code, own))
            writes = turn_writes.TurnWrites(contact.id, contact.state_version, inbound.channel, now)
            new_state, outcomes = self._apply(conn, writes, view.entity_code, state, turn, changes)
            turn = self.conversation.conclude(turn, outcomes, view)
            saved = new_state.to_json()
            turn = dataclasses.replace(turn, replies=_with_prompt(turn.replies, saved))
            writes.contact = {"state": saved, "state_version": contact.state_version + 1,
                              "last_inbound_at": now, **changes}
            writes.log = _log_rows(inbound, turn.replies)
            try:
                # Another delivery for this contact committed first: StaleDataError, and the turn is redone.
                turn_writes.write(conn, writes)
            except IntegrityError as exc:  # the log's unique key: this delivery was processed before
                if inbound.external_id is None:
                    raise
                raise _Redelivery from exc
        return turn

    def _apply(self, conn: Connection, writes: turn_writes.TurnWrites, entity_code: str | None,
               before: ConversationState, turn: Turn, changes: dict[str, Any]) -> tuple[ConversationState, Outcomes]:
        """Store the turn's effects. Contact changes are collected in ``changes`` (written with the new
        state in one UPDATE); answers and the interview's changes in ``writes`` (written with it at the
        end of the turn, unless something in between reads them). Returns the new state (with the id of
        an interview it created); ``writes.interview_id`` is the interview the turn touched, if any (a
        finishing turn leaves the state without one)."""
        state = turn.state
        contact_id, channel, now = writes.contact_id, writes.channel, writes.now
        interview_id = before.interview_id or state.interview_id
        interview_changes: dict[str, Any] = {}
        outcomes = Outcomes()
        for effect in turn.effects:
            if not _only_changes_turn_rows(effect):
                writes.flush_answers(conn)  # what follows may read the answers (or remove them)
            match effect:
                case TicketRequested(answers=answers):
                    outcomes.ticket = self._open_ticket(conn, contact_id, entity_code, channel, answers, now)
                case TicketRated(code=code, score=score):
                    ticketing.rate(conn, code, score, contact_id=contact_id, now=now)
                case TicketsQuery():
                    pass  # read and shown by the conversation (``_TurnReads``)
                case ResultsQuery():  # bot.waves.results renders the ficha and makes its link (a write)
                    outcomes.before.extend(results.for_chat(conn, changes.get("entity_code", entity_code), contact_id,
                                                            now))
                case OtherEntityRegistered(group=group, name=name, seat=seat):
                    changes["entity_code"] = grupos.register(conn, group=group, name=name, now=now,
                                                             seat=grupos.seat_of(self.entities, seat),
                                                             alerts=self.alerts)
                case ConsentRecorded(given=given, version=version, text=text):
                    changes.update(consent=given, consent_at=now, consent_version=version, consent_text=text)
                    personal_data.record_consent(conn, contact_id, given=given, version=version, text=text,
                                                 source=channel, now=now)
                case ProfileUpdated(fields=fields):
                    changes.update(fields)
                case EntitySwitched(token=token, entity=entity):
                    if self._use_invitation(conn, token, contact_id, now) == entity:
                        changes["entity_code"] = entity
                        state = campaign.invited_by_link(conn, token, state)
                    else:  # the link expired or someone else used it while the person was deciding
                        outcomes.link_gone = True
                case OptedOut():
                    changes.update(opted_out=True, opted_out_at=now)
                case OptedIn():
                    changes.update(opted_out=False)
                case Forget():
                    personal_data.forget(conn, contact_id, now)
                    changes.clear()  # nothing about the person is written back
                case InterviewStarted(questionnaire=key, wave=wave_id, period=period):
                    interview_id = store.new_interview(
                        conn, questionnaire_id=self.questionnaires.cached_id(key), contact_id=contact_id,
                        entity_code=changes.get("entity_code", entity_code), channel=channel, now=now,
                        tz=self.settings.timezone, wave_id=wave_id, period=period,
                    )
                    state = state.with_interview(interview_id)
                case WaveJoined(wave=wave_id, period=period) if interview_id is not None:
                    interview_changes.update(wave_id=wave_id, period=period)
                case InterviewStatusChanged(status=status) if interview_id is not None:
                    finished = now if status == InterviewStatus.EXPIRADA else None
                    interview_changes.update(status=status, finished_at=finished)
                case InterviewEvent(event=AnswerSet(question=q, value=value, raw_text=raw, source=source)):
                    if interview_id is not None:
                        writes.answer(interview_id, q, value, raw, source)
                        if q == "entidad":
                            interview_changes["entity_code"] = value
                case InterviewEvent(event=AnswerCleared(question=q)) if interview_id is not None:
                    store.clear_answer(conn, interview_id, q)
                case InterviewEvent(event=Finished(status=status)) if interview_id is not None:
                    interview_changes.update(status=status, finished_at=now)
                    if status == InterviewStatus.COMPLETA:
                        self._ticket_from_interview(conn, interview_id, contact_id, entity_code, channel, now,
                                                    outcomes)
                        self.alerts.interview_completed(conn, interview_id, now)
        writes.interview_id = interview_id
        if interview_id is not None and (interview_changes or state.mode == Mode.INTERVIEW):
            writes.interview = dict(last_activity_at=now, **interview_changes)
        return state, outcomes

    # -- mesa de ayuda

    def _region(self, entity_code: str | None) -> str | None:
        entity = self.entities.get(entity_code) if entity_code else None
        return entity.region if entity is not None else None

    def _open_ticket(self, conn: Connection, contact_id: int, entity_code: str | None, channel: str,
                     answers: dict[str, Any], now: datetime) -> TicketOpened:
        created = ticketing.create(
            conn, entity_code=entity_code, region=self._region(entity_code), contact_id=contact_id, channel=channel,
            need=str(answers.get("necesidad", "")), themes=list(answers.get("temas") or []), now=now,
            support_type=answers.get("tipo_apoyo"), phase=answers.get("fase"), urgent=answers.get("urgente") == "si",
            requested_by_date=answers.get("fecha_limite"), alerts=self.alerts,
            request_type=answers.get("tipo_peticion"), continuity=answers.get("continuidad"))
        assert created.term is not None
        requested = answers.get("fecha_limite")
        return TicketOpened(created.code, created.themes, created.term.days, created.term.label, created.due_date,
                            created.on_hold, created.enlace, str(requested) if requested else None)

    def _ticket_from_interview(self, conn: Connection, interview_id: int, contact_id: int, entity_code: str | None,
                               channel: str, now: datetime, outcomes: Outcomes) -> None:
        """5.2 "Sí" (wants an adviser to contact them) opens a ticket with the themes of 5.1."""
        answers = store.answers_of(conn, interview_id)
        if answers.get("contacto_asesor") != "si":
            return
        themes = list(answers.get("demanda_temas") or [])
        need = answers.get("demanda_otro") or texts()("ticket_need_from_interview")
        created = ticketing.create(
            conn, entity_code=answers.get("entidad", entity_code), region=self._region(entity_code),
            contact_id=contact_id, channel=channel, need=str(need), themes=themes, now=now, source="interview",
            interview_id=interview_id, actor="monitoreo360", alerts=self.alerts)
        outcomes.interview_ticket, outcomes.interview_ticket_themes = created.code, created.themes

    @staticmethod
    def _invitation_entity(conn: Connection, token: str, contact_id: int, now: datetime) -> str | None:
        """The entity an invitation would bind this contact to; None if unknown, expired or used by another."""
        invitation = conn.execute(select(INVITATIONS.c.entity_code, INVITATIONS.c.expires_at, INVITATIONS.c.contact_id)
                                  .where(INVITATIONS.c.token == token)).one_or_none()
        if invitation is None or (invitation.expires_at is not None and invitation.expires_at < now):
            log.info("invitation %s unknown or expired", token[:6])
            return None
        if invitation.contact_id not in (None, contact_id):
            log.info("invitation %s already used by another contact", token[:6])
            return None
        return str(invitation.entity_code)

    def _use_invitation(self, conn: Connection, token: str, contact_id: int, now: datetime) -> str | None:
        """Use the invitation for this contact if it still can be (not expired, not taken by another
        contact meanwhile); its entity, or None."""
        entity_code = self._invitation_entity(conn, token, contact_id, now)
        if entity_code is not None:
            self._bind_invitation(conn, token, contact_id, now)
        return entity_code

    @staticmethod
    def _bind_invitation(conn: Connection, token: str, contact_id: int, now: datetime) -> None:
        """The invitation is this contact's from now on (checked by ``_invitation_entity``)."""
        conn.execute(update(INVITATIONS).where(INVITATIONS.c.token == token).values(
            contact_id=contact_id, used_at=func.coalesce(INVITATIONS.c.used_at, now)))

    # -- message log and idempotency

    def _replay(self, inbound: Inbound) -> list[Outbound] | None:
        """The replies already sent for a delivery seen before (None if it vanished: process it again)."""
        with self.engine.connect() as conn:
            seen = REPLAY_SEEN.execute(conn, {"b_channel": inbound.channel,
                                              "b_external_id": inbound.external_id}).one_or_none()
            if seen is None:
                return None
            rows = REPLAY_REPLIES.execute(conn, {"b_contact": seen.contact_id, "b_id": seen.id,
                                                 "b_external_id": inbound.external_id})
            contact = REPLAY_STATE.execute(conn, {"b_contact": seen.contact_id}).one_or_none()
            state = contact.state if contact is not None else None
            replies = [Outbound(text, tuple(Option(label, reply) for label, reply in options or ()))
                       for text, options in rows]
            return _with_prompt(replies, state)


class _TurnReads:
    """The conversation's read port (``bot.conversation.Reads``) on a turn's connection: the
    tickets the contact may see (their entity's; ``own``: only those a simulator contact opened)."""

    def __init__(self, conn: Connection, entity_code: str | None, own: int | None):
        self.conn, self.entity_code, self.own = conn, entity_code, own

    def tickets(self) -> list[TicketView]:
        return [_ticket_view(row) for row in ticketing.for_requester(self.conn, self.entity_code, self.own)]

    def ticket(self, code: str) -> TicketView | None:
        if not (self.entity_code or self.own):
            return None
        found = ticketing.by_code(self.conn, code, self.entity_code, self.own)
        return _ticket_view(found[0], found[1]) if found is not None else None


def _ticket_view(row: Any, note: str | None = None) -> TicketView:
    return TicketView(code=row.code, themes=tuple(row.themes or ()), status=row.status, created_at=row.created_at,
                      due_date=row.due_date, requested_by_date=row.requested_by_date, last_note=note)


class _Redelivery(Exception):
    """The provider delivered a message already processed (same channel and external id)."""


def _log_rows(inbound: Inbound, replies: list[Outbound]) -> list[dict[str, Any]]:
    """The message log of a turn: the inbound message (unique on its channel and external id: a
    redelivery fails there, and the whole turn rolls back with it) and its replies, in order."""
    text = inbound.text if not inbound.media else "\n".join([inbound.text, *inbound.media]).strip()
    rows = [dict(direction="in", external_id=inbound.external_id, text=text, options=None, in_reply_to=None)]
    rows += [dict(direction="out", external_id=None, text=reply.text,
                  options=[[o.label, o.reply] for o in reply.options] or None, in_reply_to=inbound.external_id)
             for reply in replies]
    return rows


def _only_changes_turn_rows(effect: Any) -> bool:
    """Effects that only change what the turn writes at its end (the contact, its interview, the
    answers): they need no answer written before them. Anything else may read the answers (a
    completed interview's alerts and ticket do) or remove them, so pending answers go first."""
    if isinstance(effect, InterviewEvent):
        event = effect.event
        return isinstance(event, AnswerSet) or (isinstance(event, Finished)
                                                and event.status != InterviewStatus.COMPLETA)
    return isinstance(effect, ConsentRecorded | ProfileUpdated | OptedOut | OptedIn | WaveJoined
                      | InterviewStatusChanged)


def _with_prompt(replies: list[Outbound], state: dict[str, Any] | None) -> list[Outbound]:
    """Replies with options carry the token of the prompt they answer (bot.conversation.prompts)."""
    if not any(r.options for r in replies):
        return replies
    token = prompts.prompt_token(state)
    return [dataclasses.replace(r, prompt=token) if r.options else r for r in replies]


def _view(contact: Row[Any]) -> ContactView:
    return ContactView(consent=contact.consent, entity_code=contact.entity_code, name=contact.name,
                       cargo=contact.cargo, opted_out=contact.opted_out)
