"""What the bot may do to a contact's state between their messages: a wave's invitation (bot.waves.campaign)
and a closed ticket's rating (bot.helpdesk.ticketing) wait in the state for the contact's next message.

These are the only changes made to a saved state outside a turn; ``bot.conversation.stored``
writes the result back.
"""

from __future__ import annotations

import dataclasses

from bot.conversation.state import INVITABLE_MODES, ConversationState, Mode, WaveInvitation


def available(state: ConversationState) -> bool:
    """Whether a proactive message may come now: not while the contact is in the middle of
    something (an interview, a request, registration, a rating). A paused interview is not in the way."""
    return state.mode in INVITABLE_MODES or (state.mode == Mode.INTERVIEW and state.paused)


def invite(state: ConversationState, invitation: WaveInvitation) -> ConversationState | None:
    """The state in which the next message answers a wave's invitation; None while the contact is
    not ``available``: a proactive message never breaks a conversation, so the caller tries again
    later (accepting resumes a paused interview)."""
    if not available(state):
        return None
    return dataclasses.replace(state, invitation=invitation)


def ask_rating(state: ConversationState, code: str) -> ConversationState | None:
    """The state in which the next message rates closed ticket ``code``; None when the contact is in
    the middle of something (an interview, a request, registration): then they are not asked. While
    another ticket's rating is awaited, ``code`` waits its turn (``rating`` stays that other ticket):
    the two are asked one after the other."""
    if state.mode not in (Mode.MENU, Mode.IDLE, Mode.RATING):
        return None
    if state.mode == Mode.RATING and state.rating not in (None, code):
        queue = state.rating_queue if code in state.rating_queue else (*state.rating_queue, code)
        return dataclasses.replace(state, rating_queue=queue)
    return dataclasses.replace(state, mode=Mode.RATING, rating=code, rating_flow=None)
