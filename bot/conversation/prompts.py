"""Which prompt a keyboard answers.

A button's reply is only meaningful for the question it was shown with: "Buena" pressed on an old
message must not answer whatever question is current now. Every reply with options carries the
token of the conversation's prompt after the turn (``Outbound.prompt``); a channel with buttons
sends it back with the press (``Inbound.prompt``), and the chat service compares it with the token
of the contact's state before the turn.

The token names the prompt, not the turn: the same question asked again (after an invalid reply)
keeps its token, so its earlier keyboard still answers it; a different question, a different
interview or a different pending confirmation changes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from bot.conversation.state import Mode

ANY = ""  # a button valid whatever the conversation is doing (a proactive message's commands)


def prompt_token(state: Mapping[str, Any] | None) -> str:
    """Eight lowercase base32 characters identifying the prompt of a saved conversation state."""
    state = state or {}
    flow = state.get("flow") or {}
    identity = [state.get("mode") or Mode.NEW, state.get("interview_id"), state.get("rating"),
                flow.get("questionnaire"), flow.get("current"), flow.get("pending")]
    digest = hashlib.blake2s(json.dumps(identity, sort_keys=True, default=str).encode(), digest_size=5).digest()
    return base64.b32encode(digest).decode().lower()


def is_current(pressed: str | None, state: Mapping[str, Any] | None) -> bool:
    """Whether a press (its token; None: typed text) answers the state's prompt."""
    return pressed is None or pressed == ANY or pressed == prompt_token(state)
