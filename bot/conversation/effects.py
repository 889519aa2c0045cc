"""What a turn asks the host to store or do (the conversation itself writes nothing), and the turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.conversation.state import ConversationState
from surveys.engine import Event
from surveys.messages import Outbound
from surveys.statuses import InterviewStatus


@dataclass(frozen=True)
class ConsentRecorded:
    given: bool
    version: str
    text: str


@dataclass(frozen=True)
class ProfileUpdated:
    fields: dict[str, Any]  # entity_code | name | cargo


@dataclass(frozen=True)
class OptedOut:
    pass


@dataclass(frozen=True)
class OptedIn:
    pass


@dataclass(frozen=True)
class Forget:
    """The person confirmed "BORRAR MIS DATOS": the host erases their personal data (bot.privacy.personal_data)."""


@dataclass(frozen=True)
class EntitySwitched:
    """The person confirmed that this chat now answers for the entity of invitation ``token``: the
    host uses the invitation (checking it is still free) and binds the chat to its entity."""

    token: str
    entity: str


@dataclass(frozen=True)
class InterviewStarted:
    """The host creates the interview row and puts its id in the state (``ConversationState.with_interview``)."""

    questionnaire: str  # Questionnaire.key
    wave: int | None = None  # started from a wave's invitation: the interview takes its id and period
    period: str | None = None


@dataclass(frozen=True)
class WaveJoined:
    """A paused interview resumed from a wave's invitation becomes that wave's."""

    wave: int
    period: str


@dataclass(frozen=True)
class InterviewEvent:
    event: Event


@dataclass(frozen=True)
class InterviewStatusChanged:
    status: InterviewStatus  # EN_CURSO, PAUSADA or EXPIRADA


@dataclass(frozen=True)
class TicketRequested:
    """The intake is complete: the host opens a ticket and tells the requester its code."""

    answers: dict[str, Any]


@dataclass(frozen=True)
class TicketRated:
    """The requester rated a closed ticket (1–5)."""

    code: str
    score: int


@dataclass(frozen=True)
class TicketsQuery:
    """The entity's tickets (code None) or one ticket's status were asked for (the conversation
    renders them from its read port)."""

    code: str | None = None


@dataclass(frozen=True)
class ResultsQuery:
    """"Mis resultados" was asked for: the entity's ficha as chat text, with a link to the printable
    one (read through the read port; bot.waves.results renders it)."""


@dataclass(frozen=True)
class OtherEntityRegistered:
    """Registration finished for a grupo de valor outside DIVIPOLA ("OTRA"): the host registers the
    entity (pending the DER's validation) and links the contact to it (bot.helpdesk.grupos)."""

    group: str  # esquema_asociativo | instancia_participacion | entidad_nacional | cooperante | otro
    name: str
    seat: str | None  # where it is, as written ("Huila", "nacional")


Effect = (ConsentRecorded | ProfileUpdated | OptedOut | OptedIn | InterviewStarted | InterviewEvent
          | InterviewStatusChanged | TicketRequested | TicketsQuery | TicketRated | WaveJoined | Forget | ResultsQuery
          | OtherEntityRegistered | EntitySwitched)


@dataclass(frozen=True)
class Turn:
    replies: list[Outbound]
    state: ConversationState
    effects: list[Effect] = field(default_factory=list)
