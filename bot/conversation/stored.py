"""A contact's saved state written back outside a turn (a wave's invitation, a ticket's rating:
``bot.conversation.proactive``). A turn writes its own state with its other rows
(``surveys.turn_writes``); this is the only other writer of ``contacts.state``."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam

from bot.conversation.state import ConversationState
from surveys.models import Contact

CONTACTS = cast(Table, Contact.__table__)
_SET_STATE = CONTACTS.update().where(CONTACTS.c.id == bindparam("b_id"))


def save(conn: Connection, contact_id: int, read_version: int, state: ConversationState) -> dict[str, Any]:
    """Write ``state`` over the saved state read (locked) at ``read_version``; the version moves on,
    so a turn of this contact in flight redoes itself on the new state. Returns the JSON written."""
    saved = state.to_json()
    conn.execute(_SET_STATE, {"b_id": contact_id, "state": saved, "state_version": read_version + 1})
    return saved
