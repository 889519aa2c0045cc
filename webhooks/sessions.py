"""The panel's sign-in state, kept in the database so that every web worker shares it:

- **sessions**: signing in stores a session (a random token; the cookie carries the token, the
  database only its SHA-256). Every request looks it up, so signing out, changing the password or
  disabling the account ends it at once — a copied cookie is worth nothing afterwards. Flask's
  signed cookie alone could not be taken back before it expired.
- **the sign-in throttle**: each attempt for a (username, address) is counted before the password
  is checked, by one atomic upsert; once ``MAX_ATTEMPTS`` were made in the ``WINDOW``, the rest of
  the window is refused without checking anything. Sixty guesses sent at once get the limit checked,
  not sixty, whichever gunicorn worker takes them. A successful sign-in clears the count.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from surveys import db
from surveys.models import LoginThrottle, PanelSession, UserAccount

SESSIONS = PanelSession.__table__
THROTTLE = LoginThrottle.__table__
USERS = UserAccount.__table__

LIFETIME = timedelta(hours=12)  # a working day
MAX_ATTEMPTS = 8
WINDOW = timedelta(minutes=15)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------ sessions


def start(conn: Connection, user_id: int, now: datetime) -> str:
    """A new session for the account; returns the token for the cookie (seen only here)."""
    token = secrets.token_urlsafe(32)
    conn.execute(delete(SESSIONS).where(SESSIONS.c.expires_at < now - LIFETIME))  # keep the table small
    conn.execute(SESSIONS.insert().values(token_hash=_hash(token), user_id=user_id, created_at=now,
                                          expires_at=now + LIFETIME))
    return token


def user(conn: Connection, token: Any, now: datetime) -> Any:
    """The active account of a live session, or None (unknown, ended, expired, or account disabled)."""
    if not isinstance(token, str) or not token:
        return None
    return conn.execute(
        select(USERS).join(SESSIONS, SESSIONS.c.user_id == USERS.c.id)
        .where(SESSIONS.c.token_hash == _hash(token), SESSIONS.c.ended_at.is_(None), SESSIONS.c.expires_at > now,
               USERS.c.disabled_at.is_(None))).one_or_none()


def end(conn: Connection, token: Any, now: datetime) -> None:
    """Sign out this session (nothing happens for an unknown token)."""
    if isinstance(token, str) and token:
        conn.execute(update(SESSIONS).where(SESSIONS.c.token_hash == _hash(token), SESSIONS.c.ended_at.is_(None))
                     .values(ended_at=now))


# ------------------------------------------------------------------ the sign-in throttle


def throttle_key(username: str, address: str) -> str:
    return _hash(f"{username.strip().lower()}\n{address}")


def count_attempt(engine: Engine, key: str, now: datetime) -> int:
    """Count one sign-in attempt for ``key`` and return how many were made in the current window,
    this one included. Committed before the caller checks the password: concurrent attempts each
    get their own number."""
    cutoff = now - WINDOW
    insert_for = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}[engine.dialect.name]
    stale = THROTTLE.c.window_start <= cutoff  # the window lasts WINDOW, not a moment more
    statement = insert_for(THROTTLE).values(key=key, attempts=1, window_start=now).on_conflict_do_update(
        index_elements=["key"],
        set_={"attempts": case((stale, 1), else_=THROTTLE.c.attempts + 1),
              "window_start": case((stale, now), else_=THROTTLE.c.window_start)},
    ).returning(THROTTLE.c.attempts)
    with db.transaction(engine) as conn:
        conn.execute(delete(THROTTLE).where(stale, THROTTLE.c.key != key))  # windows long over
        return int(conn.execute(statement).scalar_one())


def clear_attempts(conn: Connection, key: str) -> None:
    conn.execute(delete(THROTTLE).where(THROTTLE.c.key == key))
