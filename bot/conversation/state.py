"""The conversation's state and what it may know about the contact.

``ConversationState`` is what the contact row stores (``contacts.state``, JSON). Its parts that are
records of their own — a wave's ``WaveInvitation``, the interview ``Suspended`` during a help request,
the ``EntitySwitch`` waiting for confirmation — are typed here, and each reads and writes the same
JSON shape the state has always been stored in, so a state saved by an older version still loads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Mode(StrEnum):
    """Where a conversation is (``ConversationState.mode``), stored as these strings."""

    NEW = "new"  # nothing yet: the consent comes first
    REGISTRO = "registro"  # registering the contact and its entity
    MENU = "menu"
    IDLE = "idle"  # after a finished interview or ticket: the next message is read as a menu choice
    INTERVIEW = "interview"
    HELPDESK = "helpdesk"  # the mesa de ayuda's intake
    RATING = "rating"  # waiting for a closed ticket's 1–5 rating
    RESUME_PROMPT = "resume_prompt"  # "¿Seguimos donde quedó?"
    RESUBSCRIBE = "resubscribe"  # an opted-out person wrote again
    FORGET_CONFIRM = "forget_confirm"  # BORRAR MIS DATOS, waiting for its confirmation
    SWITCH_ENTITY = "switch_entity"  # a deep link for another entity, waiting for its confirmation


# Where a proactive message (a wave's invitation, a ticket's rating) may come without breaking anything.
INVITABLE_MODES = (Mode.NEW, Mode.MENU, Mode.IDLE)


@dataclass(frozen=True)
class ContactView:
    """What the conversation may know about the contact (read from the database each turn)."""

    consent: bool | None = None
    entity_code: str | None = None
    name: str | None = None
    cargo: str | None = None
    opted_out: bool = False


@dataclass(frozen=True)
class WaveInvitation:
    """A wave's invitation waiting for the contact's answer. Stored as {"wave", "period", "questionnaire"}."""

    wave: int
    period: str
    questionnaire: str  # Questionnaire.key

    def to_json(self) -> dict[str, Any]:
        return {"wave": self.wave, "period": self.period, "questionnaire": self.questionnaire}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WaveInvitation:
        return cls(wave=data["wave"], period=data["period"], questionnaire=data["questionnaire"])


@dataclass(frozen=True)
class Suspended:
    """An interview set aside (paused) while the contact writes a help request.
    Stored as {"flow", "interview_id", "last_activity", "wave"}."""

    flow: dict[str, Any] | None = None  # FlowState JSON
    interview_id: int | None = None
    last_activity: str | None = None
    wave: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow, "interview_id": self.interview_id, "last_activity": self.last_activity,
                "wave": self.wave}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Suspended:
        return cls(flow=data.get("flow"), interview_id=data.get("interview_id"),
                   last_activity=data.get("last_activity"), wave=data.get("wave"))


@dataclass(frozen=True)
class EntitySwitch:
    """A deep link for another entity than the chat's, waiting for the person's confirmation.
    Stored as {"token", "entity", "back"}."""

    token: str  # the invitation's token
    entity: str  # the entity it would bind the chat to
    back: Mode  # where the conversation goes on afterwards

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "entity": self.entity, "back": str(self.back)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EntitySwitch:
        return cls(token=data["token"], entity=data["entity"], back=Mode(data["back"]))


@dataclass(frozen=True)
class ConversationState:
    mode: Mode = Mode.NEW
    flow: dict[str, Any] | None = None  # FlowState JSON of the registration or the interview
    interview_id: int | None = None  # the interview row (``with_interview``, once the host created it)
    paused: bool = False
    last_activity: str | None = None  # ISO time of the last interview turn (for expiry)
    suspended: Suspended | None = None  # a paused interview during a help request
    rating: str | None = None  # the closed ticket whose 1–5 rating is expected (mode "rating")
    rating_queue: tuple[str, ...] = ()  # tickets closed meanwhile, rated one after the other
    rating_flow: dict[str, Any] | None = None  # the rating's pick or confirmation ("muy buena": ¿4 o 5?)
    invitation: WaveInvitation | None = None  # a wave's pending invitation
    wave: int | None = None  # the wave of the interview in progress, if it belongs to one
    switch: EntitySwitch | None = None  # mode "switch_entity"

    def __post_init__(self) -> None:
        if not isinstance(self.mode, Mode):  # built from a stored or typed string
            object.__setattr__(self, "mode", Mode(self.mode))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mode": str(self.mode), "flow": self.flow, "interview_id": self.interview_id,
                                "paused": self.paused, "last_activity": self.last_activity}
        if self.suspended is not None:
            data["suspended"] = self.suspended.to_json()
        if self.rating is not None:
            data["rating"] = self.rating
        if self.rating_queue:
            data["rating_queue"] = list(self.rating_queue)
        if self.rating_flow is not None:
            data["rating_flow"] = self.rating_flow
        if self.invitation is not None:
            data["invitation"] = self.invitation.to_json()
        if self.wave is not None:
            data["wave"] = self.wave
        if self.switch is not None:
            data["switch"] = self.switch.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ConversationState:
        if not data:
            return cls()
        records = {"suspended": Suspended.from_json, "invitation": WaveInvitation.from_json,
                   "switch": EntitySwitch.from_json}
        fields: dict[str, Any] = {k: (records[k](v) if k in records and v is not None else v) for k, v in data.items()}
        return cls(**{**fields, "rating_queue": tuple(data.get("rating_queue", ()))})

    def suspend_interview(self) -> ConversationState:
        """A fresh state whose ``suspended`` keeps this one's paused interview."""
        saved = Suspended(self.flow, self.interview_id, self.last_activity, self.wave) if self.in_interview else None
        return ConversationState(suspended=saved, invitation=self.invitation)

    def restored(self, mode: Mode) -> ConversationState:
        """Back to ``mode`` with the suspended interview (paused) in place again."""
        if self.suspended is None:
            return ConversationState(mode=mode, invitation=self.invitation)
        return ConversationState(mode=mode, paused=True, invitation=self.invitation, flow=self.suspended.flow,
                                 interview_id=self.suspended.interview_id,
                                 last_activity=self.suspended.last_activity, wave=self.suspended.wave)

    def with_interview(self, interview_id: int) -> ConversationState:
        """This state once the host has created the row of the interview the turn started
        (``InterviewStarted``): an interview in progress points at it; any other state is unchanged
        (a wave's invitation declined starts and finishes its interview in one turn)."""
        return dataclasses.replace(self, interview_id=interview_id) if self.mode == Mode.INTERVIEW else self

    @property
    def in_interview(self) -> bool:
        return self.interview_id is not None and self.flow is not None
