"""Who is talking and what they are doing: registration, the menu, commands, pause/resume, the
mesa de ayuda's intake, a ticket's rating and a wave's invitation.

Pure like the engine: ``Conversation.handle(state, contact, text, now, reads)`` returns the replies,
the new state and the *effects* the host must store (consent, profile, interview answers …). The
host (``bot.service``) runs it inside one database transaction per inbound message, with
everything it needs loaded before the contact's row is locked.

One concern per module:

- ``state``: ``ConversationState`` and its typed records (``WaveInvitation``, ``Suspended``,
  ``EntitySwitch``), ``Mode``, ``ContactView``; the JSON shape stored in ``contacts.state``.
- ``effects``: what a turn asks the host to store (``InterviewStarted``, ``TicketRequested`` …) and ``Turn``.
- ``dispatch``: ``Conversation``, the mode dispatch.
- ``commands``: whole-message commands (MENU, PAUSA …), ticket codes as people type them.
- ``builtin``: the menu and a ticket's rating as questionnaires of their own.
- ``reads``: the read port (``Reads``) the host binds to each turn.
- ``replies``: tickets and other outcomes of the host's writes, rendered and placed.
- ``proactive``: a wave's invitation and a ticket's rating put into a saved state between turns.
- ``stored``: the one place outside a turn that writes a contact's saved state back.
"""

from bot.conversation.builtin import MENU_ACTIONS, rating_options
from bot.conversation.commands import COMMANDS, command_of, ticket_code
from bot.conversation.dispatch import Conversation
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
from bot.conversation.proactive import ask_rating, available, invite
from bot.conversation.reads import Reads, TicketView
from bot.conversation.replies import Outcomes, TicketOpened
from bot.conversation.state import (
    INVITABLE_MODES,
    ContactView,
    ConversationState,
    EntitySwitch,
    Mode,
    Suspended,
    WaveInvitation,
)

__all__ = [
    "COMMANDS", "INVITABLE_MODES", "MENU_ACTIONS", "ConsentRecorded", "ContactView", "Conversation",
    "ConversationState", "Effect", "EntitySwitch", "EntitySwitched", "Forget", "TicketRequested", "InterviewEvent",
    "InterviewStarted", "InterviewStatusChanged", "WaveInvitation", "Mode", "OptedIn", "OptedOut",
    "OtherEntityRegistered", "Outcomes", "ProfileUpdated", "Reads", "ResultsQuery", "Suspended", "TicketOpened",
    "TicketRated", "TicketView", "TicketsQuery", "Turn", "WaveJoined", "ask_rating", "available", "command_of",
    "invite", "rating_options", "ticket_code",
]
