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
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from bot.config import Settings
from bot.conversation import (
    ConsentRecorded,
    ContactView,
    Conversation,
    ConversationState,
    Effect,
    InterviewEvent,
    InterviewStarted,
    InterviewStatus,
    OptedIn,
    OptedOut,
    ProfileUpdated,
    Turn,
)
from surveys import schema, store
from surveys.engine import AnswerCleared, AnswerSet, Finished
from surveys.entities import EntityIndex
from surveys.messages import Inbound, Option, Outbound
from surveys.models import Contact, Interview, MessageLog, utcnow
from surveys.texts import texts

log = logging.getLogger(__name__)

RETRIES = 3  # a turn that lost a race (same contact, same delivery) is run again from fresh state


class ChatService:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings | None = None,
                 entities: EntityIndex | None = None):
        self.sessions = sessions
        self.settings = settings or Settings()
        self.questionnaires = store.QuestionnaireStore()
        registration = schema.builtin("registro")
        interview = schema.builtin(self.settings.questionnaire)
        with sessions.begin() as session:
            for q in (registration, interview):
                self.questionnaires.ensure(session, q)
            self.entities = entities or EntityIndex.from_session(session)
        self.conversation = Conversation(
            registration=registration,
            interview=interview,
            entities=self.entities,
            text=texts(),
            questionnaire_by_key=self._questionnaire,
            expiry=self.settings.expiry,
        )

    def _questionnaire(self, key: str) -> schema.Questionnaire:
        with self.sessions() as session:
            return self.questionnaires.get(session, key)

    # -- the turn

    def handle(self, inbound: Inbound) -> list[Outbound]:
        for attempt in range(RETRIES):
            try:
                return self._turn(inbound)
            except (StaleDataError, IntegrityError) as exc:  # lost a race: redo on fresh state
                log.info("turn retried (%s/%s) for %s:%s: %s", attempt + 1, RETRIES, inbound.channel,
                         inbound.address, type(exc).__name__)
        return self._turn(inbound)

    def _turn(self, inbound: Inbound) -> list[Outbound]:
        now = inbound.received_at or utcnow()
        with self.sessions.begin() as session:
            if inbound.external_id is not None:
                replayed = self._replay(session, inbound)
                if replayed is not None:
                    return replayed
            contact = self._contact(session, inbound.channel, inbound.address, now)
            state = ConversationState.from_json(contact.state)
            if inbound.media and not inbound.text.strip():
                turn = Turn([Outbound(texts()("only_text"))], state)
            else:
                turn = self.conversation.handle(state, _view(contact), inbound.text, now)
            state, interview = self._apply(session, contact, state, turn, inbound.channel, now)
            contact.state = state.to_json()
            contact.last_inbound_at = now
            self._log(session, contact, inbound, turn.replies, interview.id if interview else None, now)
            return turn.replies

    def _contact(self, session: Session, channel: str, address: str, now: datetime) -> Contact:
        contact = session.scalar(select(Contact).where(Contact.channel == channel, Contact.address == address))
        if contact is None:
            contact = Contact(channel=channel, address=address, state={}, created_at=now)
            session.add(contact)
            session.flush()  # a concurrent first message for the same address fails here and is retried
        return contact

    def _apply(self, session: Session, contact: Contact, before: ConversationState, turn: Turn, channel: str,
               now: datetime) -> tuple[ConversationState, Interview | None]:
        """Store the turn's effects. Returns the new state (with the id of an interview it created)
        and the interview the turn touched, if any (a finishing turn leaves the state without one)."""
        state = turn.state
        interview_id = before.interview_id or state.interview_id
        interview = session.get(Interview, interview_id) if interview_id is not None else None
        for effect in turn.effects:
            interview = self._apply_one(session, contact, effect, interview, channel, now)
        if interview is not None:
            interview.last_activity_at = now
            if state.interview_id is None and state.mode == "interview":
                state = dataclasses.replace(state, interview_id=interview.id)
        return state, interview

    def _apply_one(self, session: Session, contact: Contact, effect: Effect, interview: Interview | None,
                   channel: str, now: datetime) -> Interview | None:
        match effect:
            case ConsentRecorded(given=given, version=version, text=text):
                contact.consent, contact.consent_at = given, now
                contact.consent_version, contact.consent_text = version, text
            case ProfileUpdated(fields=fields):
                for name, value in fields.items():
                    setattr(contact, name, value)
            case OptedOut():
                contact.opted_out, contact.opted_out_at = True, now
            case OptedIn():
                contact.opted_out = False
            case InterviewStarted(questionnaire=key):
                interview = store.new_interview(
                    session, questionnaire_id=self.questionnaires.id_of(session, key), contact_id=contact.id,
                    entity_code=contact.entity_code, channel=channel, now=now, tz=self.settings.timezone,
                )
            case InterviewStatus(status=status) if interview is not None:
                interview.status = status
                interview.finished_at = now if status == "expirada" else None
            case InterviewEvent(event=event) if interview is not None:
                self._interview_event(session, interview, event, now)
        return interview

    @staticmethod
    def _interview_event(session: Session, interview: Interview, event: object, now: datetime) -> None:
        match event:
            case AnswerSet(question=question, value=value, raw_text=raw, source=source):
                store.record_answer(session, interview.id, question, value, raw, source, now)
                if question == "entidad":
                    interview.entity_code = value
            case AnswerCleared(question=question):
                store.clear_answer(session, interview.id, question)
            case Finished(status=status):
                interview.status, interview.finished_at = status, now

    # -- message log and idempotency

    def _log(self, session: Session, contact: Contact, inbound: Inbound, replies: list[Outbound],
             interview_id: int | None, now: datetime) -> None:
        text = inbound.text if not inbound.media else "\n".join([inbound.text, *inbound.media]).strip()
        row = MessageLog(contact_id=contact.id, interview_id=interview_id, channel=inbound.channel, direction="in",
                         external_id=inbound.external_id, text=text, created_at=now)
        session.add(row)
        session.flush()
        session.add_all(
            MessageLog(contact_id=contact.id, interview_id=interview_id, channel=inbound.channel, direction="out",
                       text=reply.text, options=[[o.label, o.reply] for o in reply.options] or None,
                       reply_to=row.id, created_at=now)
            for reply in replies
        )

    @staticmethod
    def _replay(session: Session, inbound: Inbound) -> list[Outbound] | None:
        seen = session.scalar(
            select(MessageLog.id).where(MessageLog.channel == inbound.channel, MessageLog.direction == "in",
                                        MessageLog.external_id == inbound.external_id)
        )
        if seen is None:
            return None
        rows = session.scalars(select(MessageLog).where(MessageLog.reply_to == seen).order_by(MessageLog.id))
        return [Outbound(r.text, tuple(Option(label, reply) for label, reply in r.options or ())) for r in rows]


def _view(contact: Contact) -> ContactView:
    return ContactView(consent=contact.consent, entity_code=contact.entity_code, name=contact.name,
                       cargo=contact.cargo, opted_out=contact.opted_out)
