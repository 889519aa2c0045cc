"""The stored concepts, as SQLAlchemy 2 typed models. Schema changes go through Alembic
(``surveys/migrations``); ``m360 db upgrade`` applies them.

Times are stored in UTC. History belongs to the entity (staff rotate), so interviews carry the
entity code they were answered for, not only the contact who answered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from surveys.clock import utcnow  # the wall clock, re-exported: `from surveys.models import utcnow` is common


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use surveys.models.utcnow()")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Entity(Base):
    """A territorial entity from DIVIPOLA: an alcaldía (5-digit code) or a gobernación (2-digit code)."""

    __tablename__ = "entity"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))  # display name, e.g. "Génova"
    official_name: Mapped[str] = mapped_column(String(120))  # as in DIVIPOLA, e.g. "GÉNOVA"
    kind: Mapped[str] = mapped_column(String(20))  # alcaldia | gobernacion | otro
    muni_type: Mapped[str | None] = mapped_column(String(40))  # Municipio, Área no municipalizada, …
    dept_code: Mapped[str] = mapped_column(String(2), index=True)
    dept_name: Mapped[str] = mapped_column(String(120))
    region: Mapped[str | None] = mapped_column(String(60), index=True)
    regions: Mapped[dict[str, Any]] = mapped_column(default=dict)  # every regional scheme: name → region
    pdet: Mapped[bool] = mapped_column(Boolean, default=False)
    pdet_subregion: Mapped[str | None] = mapped_column(String(80))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # Other grupos de valor (kind "otro", code "X0001"…; bot.helpdesk.grupos): what they are, and the DER's check
    # of who they say they are. DIVIPOLA entities leave these empty.
    group_kind: Mapped[str | None] = mapped_column(String(40))  # esquema_asociativo | instancia_participacion | …
    validation: Mapped[str | None] = mapped_column(String(20), index=True)  # pendiente | validada | rechazada
    validated_at: Mapped[datetime | None]
    validated_by: Mapped[str | None] = mapped_column(String(120))
    registered_at: Mapped[datetime | None]


class Contact(Base):
    """Somebody on a channel: a WhatsApp number (E.164) or a Telegram chat id."""

    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # whatsapp | telegram | sms | simulator | console
    address: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(120))
    cargo: Mapped[str | None] = mapped_column(String(60))
    entity_code: Mapped[str | None] = mapped_column(ForeignKey("entity.code"), index=True)
    consent: Mapped[bool | None] = mapped_column(Boolean)  # None: never asked / not answered
    consent_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(40))  # version of the text they agreed to
    consent_text: Mapped[str | None] = mapped_column(Text)
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None]
    forgotten_at: Mapped[datetime | None]  # personal data erased (bot.privacy.personal_data): the row only keeps links
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The conversation's state (surveys.engine / bot.conversation), saved after every turn.
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state_version: Mapped[int] = mapped_column(Integer, default=0)
    last_inbound_at: Mapped[datetime | None]

    entity: Mapped[Entity | None] = relationship()

    # Optimistic locking: two deliveries racing for one contact cannot both save their state.
    __mapper_args__ = {"version_id_col": state_version}


class ConsentRecord(Base):
    """Every consent given or declined, as it happened (Ley 1581 de 2012: the authorisation must be
    provable later): when, through what, and the version and text of the notice. ``contact`` holds
    only the latest; these rows are never changed, and an erasure keeps them (the text is the
    notice's, not the person's)."""

    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    given: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(60))  # the channel it was given on, or directorio:<file>
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionnaireVersion(Base):
    """A questionnaire as it was when interviews were taken with it (versions never change)."""

    __tablename__ = "questionnaire"
    __table_args__ = (UniqueConstraint("qid", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    qid: Mapped[str] = mapped_column(String(60))
    version: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column()  # surveys.schema.to_dict()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Interview(Base):
    """One respondent taking one questionnaire once."""

    __tablename__ = "interview"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaire.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    entity_code: Mapped[str | None] = mapped_column(ForeignKey("entity.code"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM: the wave's, or the month it started
    wave_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # en_curso | pausada | completa | rechazada | expirada  (export: en_curso/pausada → incompleta)
    status: Mapped[str] = mapped_column(String(20), default="en_curso", index=True)
    source: Mapped[str] = mapped_column(String(20), default="chat")  # chat | import
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(index=True)  # windows of alerts and reports

    questionnaire: Mapped[QuestionnaireVersion] = relationship()
    contact: Mapped[Contact | None] = relationship()
    entity: Mapped[Entity | None] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="interview", cascade="all, delete-orphan")


class Answer(Base):
    """An accepted answer; committed in the same transaction as the turn that accepted it."""

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("interview_id", "question"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interview_id: Mapped[int] = mapped_column(ForeignKey("interview.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(80))
    raw_text: Mapped[str | None] = mapped_column(Text)  # what the respondent wrote
    value: Mapped[Any] = mapped_column(JSON)  # parsed: int, str (choice name), list[str], free text
    source: Mapped[str] = mapped_column(String(20), default="chat")  # chat | prefill | import
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # the coder's queue

    interview: Mapped[Interview] = relationship(back_populates="answers")


class MessageLog(Base):
    """Every message in and out, for audit and idempotency (external_id = MessageSid / update_id)."""

    __tablename__ = "message_log"
    # Few indexes on purpose: every turn writes here. A replay (rare) finds replies through contact_id.
    __table_args__ = (UniqueConstraint("channel", "direction", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    interview_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    external_id: Mapped[str | None] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    options: Mapped[list[Any] | None] = mapped_column(JSON)  # quick replies sent with an outbound message
    # The provider id of the inbound message this one answers: a redelivery is answered again from here.
    in_reply_to: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message to send, written before it is sent (in the transaction of whatever caused it).

    The sender (bot.outbox.sending) claims due rows with a lease, delivers them through the provider and
    records the outcome; a process that dies mid-send leaves a lease that expires, so the row is
    picked up again. ``dedupe_key`` makes enqueueing idempotent (a wave re-launched never
    re-invites)."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="message")  # reply | message | invitation | reminder …
    text: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[list[Any] | None] = mapped_column(JSON)  # [[label, reply], …]
    # WhatsApp template (Content SID + variables) used outside the 24-hour window; Telegram extras.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # pending | sending | sent | delivered | read | failed | undelivered | review (a person decides)
    # | skipped (a later piece of a message a WhatsApp template replaced) — bot.outbox.sending.Status
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A send may have reached the provider (the sender died mid-send, or the request failed without
    # proof of refusal): the provider is asked before the row is sent again.
    in_doubt: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The piece of the same message that must be done before this one (a long text split in order).
    after_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(80), index=True)  # MessageSid / message_id
    error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    """A link that binds a chat to an entity: Telegram ``/start <token>`` deep links (and, with
    waves, the invitation a wave sends). Using it sets the contact's entity; consent is still asked."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    entity_code: Mapped[str] = mapped_column(ForeignKey("entity.code"))
    wave_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))


class Ticket(Base):
    """A mesa de ayuda ticket. History belongs to the entity (staff rotate), so tickets are listed
    by entity; the contact is who asked and who is told about changes."""

    __tablename__ = "help_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(20), unique=True)  # MDA-2026-00042
    entity_code: Mapped[str | None] = mapped_column(ForeignKey("entity.code"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), default="chat")  # chat | interview | api | panel
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interview.id"), unique=True)
    need: Mapped[str] = mapped_column(Text, default="")  # in the requester's words
    themes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # theme ids (bot/helpdesk/themes.yaml)
    support_type: Mapped[str | None] = mapped_column(String(30))  # informacion | capacitacion | …
    phase: Mapped[str | None] = mapped_column(String(30))  # planeacion | programacion | …
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by_date: Mapped[str | None] = mapped_column(String(80))  # ISO date (older rows: as typed)
    # nueva | asignada | en_gestion | respondida | cerrada | remitida
    status: Mapped[str] = mapped_column(String(20), default="nueva", index=True)
    assignee: Mapped[str | None] = mapped_column(String(120))
    direccion_tecnica: Mapped[str | None] = mapped_column(String(200))  # routing by theme
    articulador: Mapped[str | None] = mapped_column(String(200))  # routing by region
    referred_to: Mapped[str | None] = mapped_column(String(200))  # entity it was referred to (remitida)
    due_date: Mapped[str | None] = mapped_column(String(10))  # ISO date, business days (Ley 1755)
    request_type: Mapped[str | None] = mapped_column(String(20))  # general | documentos | consulta (terms.yaml)
    continuity: Mapped[str | None] = mapped_column(String(20))  # puntual | continua
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)  # the enlace it is assigned to
    # The requester's entity is a grupo de valor the DER has not validated yet: the ticket does not count
    # (no alert, no term, not in the queue) until it is (bot.helpdesk.grupos).
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    followups: Mapped[int] = mapped_column(Integer, default=0)  # periodic follow-ups sent (bot.helpdesk.followup)
    last_followup_at: Mapped[datetime | None]
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1–5, asked when the ticket is closed
    satisfaction_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class TicketEvent(Base):
    """Every change of a ticket: who, when, what, with a note (the requester is told)."""

    __tablename__ = "help_request_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_request.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketIdempotencyKey(Base):
    """A caller's ``Idempotency-Key`` for creating a ticket (the API's POST, the panel's new-request
    form): a retry with the same key answers the ticket the first request made (bot.helpdesk.idempotency).
    Unique per caller, so that two callers' keys never collide, and taken by a request before it
    writes its ticket, so that two requests with one key at once make one ticket."""

    __tablename__ = "ticket_idempotency_key"
    __table_args__ = (UniqueConstraint("caller", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caller: Mapped[str] = mapped_column(String(160))  # "api:der:ana", "panel:der:luis"
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request's body as it was read
    request_id: Mapped[int | None] = mapped_column(ForeignKey("help_request.id"))  # set in the same transaction
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ApiToken(Base):
    """A bearer token for the JSON API. Only its SHA-256 is stored: the token is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))  # analyst | der | admin
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class UserAccount(Base):
    """A person who signs in to the web panel (webhooks/panel). The password is stored as a salted
    scrypt hash (werkzeug.security); roles as for API tokens: analyst | der | admin."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class PanelSession(Base):
    """A browser signed in to the panel (webhooks/sessions.py). The session cookie carries a random
    token; only its SHA-256 is stored. Signing out ends this row; a password change or a disabled
    account ends every row of the account, so a copied cookie stops working at once."""

    __tablename__ = "panel_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Sign-in attempts per (username, address) in the current window, counted atomically in the
    database so that every web worker shares them (webhooks/sessions.py). The key is a hash: a
    password typed into the username field is never stored."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime]


class Alert(Base):
    """A demand alert for the DER (bot.alerts.alerting). Stored once per ``dedupe_key``; delivered through
    the outbox to the configured destinations; open until someone acknowledges it."""

    __tablename__ = "alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(40), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    severity: Mapped[str] = mapped_column(String(10), default="media")  # alta | media | baja
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")
    entity_code: Mapped[str | None] = mapped_column(ForeignKey("entity.code"), index=True)
    region: Mapped[str | None] = mapped_column(String(60), index=True)
    help_request_id: Mapped[int | None] = mapped_column(ForeignKey("help_request.id"), index=True)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interview.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="abierta", index=True)  # abierta | reconocida
    # Raised by test data (a simulator conversation): never delivered, left out of the API, the
    # digest and the panel unless asked for.
    test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    ack_note: Mapped[str | None] = mapped_column(Text)


class CodingStatus(StrEnum):
    """Where a coding stands. Only a *decided* coding counts in a report: the coder was confident
    (``auto``) or a person confirmed or corrected it; ``review`` waits in the review queue."""

    AUTO = "auto"
    REVIEW = "review"
    CONFIRMED = "confirmed"
    CORRECTED = "corrected"


#: The statuses whose codes count as categories in reports, the panel, the API and exports (plain
#: strings, as stored and as SQL ``IN`` lists bind them).
DECIDED = (CodingStatus.AUTO.value, CodingStatus.CONFIRMED.value, CodingStatus.CORRECTED.value)
REVIEWED = (CodingStatus.CONFIRMED.value, CodingStatus.CORRECTED.value)


class AnswerCoding(Base):
    """The codes of one open answer (analysis.coding): what the coder gave, what stands now, and
    whether a person confirmed or corrected it. Re-running the coder never overwrites a reviewed
    coding of the same text; a changed answer is coded afresh."""

    __tablename__ = "answer_coding"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answer.id", ondelete="CASCADE"), unique=True)
    codebook: Mapped[str] = mapped_column(String(40), index=True)
    codes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the codes that stand (machine or person)
    predicted_codes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # what the coder gave
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)  # code → calibrated probability
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    coder_version: Mapped[str] = mapped_column(String(120))  # codebook version + model hash
    codebook_version: Mapped[str] = mapped_column(String(60))
    model_hash: Mapped[str] = mapped_column(String(64))
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    status: Mapped[str] = mapped_column(String(20), default="auto", index=True)  # auto | review | confirmed | corrected
    text_hash: Mapped[str] = mapped_column(String(64))  # of the text that was coded (a changed answer is recoded)
    coded_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    reviewed_at: Mapped[datetime | None]


class AnswerCodingEvent(Base):
    """Audit of a coding: a person's confirmation or correction, or a recode that changed the codes
    (who, when, codes before and after)."""

    __tablename__ = "answer_coding_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    coding_id: Mapped[int] = mapped_column(ForeignKey("answer_coding.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # accepted | corrected | recoded
    actor: Mapped[str] = mapped_column(String(120))
    before: Mapped[list[Any]] = mapped_column(JSON, default=list)
    after: Mapped[list[Any]] = mapped_column(JSON, default=list)
    coder_version: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Wave(Base):
    """A monthly wave (bot.waves.campaign): a questionnaire, a period, a sample of entities and a schedule.
    The frame, the strata and the seed are stored so that the draw can be shown and repeated."""

    __tablename__ = "wave"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    questionnaire: Mapped[str] = mapped_column(String(100))  # Questionnaire.key, e.g. monitoreo360@2026.11
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM of its interviews
    mode: Mapped[str] = mapped_column(String(10), default="muestra")  # muestra | censo
    size: Mapped[int | None] = mapped_column(Integer)
    gobernaciones: Mapped[int | None] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)  # regions, pdet_only, exclude_recent
    frame: Mapped[dict[str, Any]] = mapped_column(default=dict)  # eligible counts, "sin contacto", excluded
    strata: Mapped[dict[str, Any]] = mapped_column(default=dict)  # region → frame size, quota, sample size
    reminder_days: Mapped[list[Any]] = mapped_column(JSON, default=list)  # business days after the invitation
    # creada | programada | en_curso | cerrada
    status: Mapped[str] = mapped_column(String(20), default="creada", index=True)
    launch_at: Mapped[datetime | None]  # a scheduled launch
    closes_at: Mapped[datetime | None]  # answers after this are stored, and counted as late
    launched_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # The DER approved sending each participating entity its results (bot.waves.results): who and when.
    results_approved_at: Mapped[datetime | None]
    results_approved_by: Mapped[str | None] = mapped_column(String(120))
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(120), default="cli")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaveMember(Base):
    """One sampled entity of a wave and the contact it is asked through. The invitation and the
    reminders are outbox rows (their delivery status is read there); answers are interviews with
    this ``wave_id``."""

    __tablename__ = "wave_member"
    __table_args__ = (UniqueConstraint("wave_id", "entity_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("wave.id", ondelete="CASCADE"), index=True)
    entity_code: Mapped[str] = mapped_column(ForeignKey("entity.code"), index=True)
    region: Mapped[str | None] = mapped_column(String(60))  # its stratum
    rank: Mapped[int] = mapped_column(Integer, default=0)  # order in the draw within the stratum
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(Integer)  # outbox row
    invited_at: Mapped[datetime | None]
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    reminder_id: Mapped[int | None] = mapped_column(Integer)  # the last reminder's outbox row
    reminded_at: Mapped[datetime | None]
    waiting: Mapped[str | None] = mapped_column(String(40))  # why the next message waits (conversation, ticket…)


class WaveSchedule(Base):
    """A recurring wave: created and launched on the n-th business day of every month."""

    __tablename__ = "wave_schedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    business_day: Mapped[int] = mapped_column(Integer, default=1)  # 1 = the first business day of the month
    hour: Mapped[int] = mapped_column(Integer, default=9)  # local time (America/Bogota)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what `m360 wave create` takes
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_period: Mapped[str | None] = mapped_column(String(7))  # the last month it created a wave for
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Staff(Base):
    """The DER's people in the territories (bot.directory.staff): enlaces territoriales, who cover about ten
    entities each, and the articulador(a) of each region. Alerts and tickets are routed to them;
    ``username`` links a panel account of role ``enlace`` that sees only their entities."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(20), index=True)  # enlace | articulador
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str | None] = mapped_column(String(20))  # whatsapp | telegram | sms: where alerts reach them
    address: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(120))
    region: Mapped[str | None] = mapped_column(String(60), index=True)  # an articulador's region
    username: Mapped[str | None] = mapped_column(String(80), index=True)  # panel account (role enlace)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffEntity(Base):
    """An entity an enlace covers: one enlace per entity."""

    __tablename__ = "staff_entity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    entity_code: Mapped[str] = mapped_column(ForeignKey("entity.code"), unique=True)


class ResultLink(Base):
    """A login-free link to one entity's printable ficha (bot.waves.results): ``/ficha/<token>``. Only the
    token's SHA-256 is stored; it shows that entity and that period only, until it expires."""

    __tablename__ = "result_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entity_code: Mapped[str] = mapped_column(ForeignKey("entity.code"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM (or YYYY-Qn)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    wave_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    views: Mapped[int] = mapped_column(Integer, default=0)
    last_viewed_at: Mapped[datetime | None]
