"""Who may do what, below the HTTP layer: bearer tokens for the JSON API and user accounts for the
web panel (``m360 tokens``/``m360 users`` and the panel's sign-in use the same functions).

Roles: ``analyst`` reads; ``der`` also manages tickets and alerts; ``admin`` may do everything; a
panel account may be ``enlace``, scoped to the entities of an enlace territorial or articulador.
Tokens are shown once; only their SHA-256 is stored, so a leaked database does not leak usable
tokens. Passwords are stored as a salted scrypt hash by werkzeug.security. A password change or a
disabled account ends every panel session of the account (``end_sessions``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from surveys import db
from surveys.models import ApiToken, PanelSession, UserAccount, utcnow

ROLES = ("analyst", "der", "admin")
READERS = ROLES  # every role reads
MANAGERS = ("der", "admin")  # change tickets, acknowledge alerts, run waves
# Panel accounts may also be ``enlace``: an enlace territorial or articulador who sees and works only
# the tickets and alerts of the entities the directory gives them (bot.directory.staff.scope); not for API tokens.
ENLACE = "enlace"
PANEL_ROLES = (*ROLES, ENLACE)
TOKENS = ApiToken.__table__
USERS = UserAccount.__table__
SESSIONS = PanelSession.__table__
MIN_PASSWORD = 10
LAST_USED_RESOLUTION = timedelta(minutes=10)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, *, role: str, name: str, now: datetime | None = None) -> str:
    """Store a new token for ``role`` and return it (the only time it is seen in clear)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    token = "m360_" + secrets.token_urlsafe(32)
    conn.execute(TOKENS.insert(), dict(name=name, role=role, token_hash=token_hash(token), created_at=now or utcnow()))
    return token


def revoke_token(conn: Connection, token_id: int, now: datetime | None = None) -> bool:
    result = conn.execute(update(TOKENS).where(TOKENS.c.id == token_id, TOKENS.c.revoked_at.is_(None))
                          .values(revoked_at=now or utcnow()))
    return result.rowcount == 1


def authenticate(conn: Connection, token: str, admin_token: str | None,
                 now: datetime | None = None) -> tuple[str, str] | None:
    """(role, actor) for a presented token, or None; ``now`` marks the token's last use."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return "admin", "admin"
    row = conn.execute(select(TOKENS.c.id, TOKENS.c.name, TOKENS.c.role, TOKENS.c.last_used_at)
                       .where(TOKENS.c.token_hash == token_hash(token), TOKENS.c.revoked_at.is_(None))).one_or_none()
    if row is None:
        return None
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:  # not a write per request
        with db.transaction(conn.engine) as writer:
            writer.execute(update(TOKENS).where(TOKENS.c.id == row.id).values(last_used_at=now))
    return row.role, f"{row.role}:{row.name}"


def create_user(conn: Connection, *, username: str, name: str, role: str, password: str,
                now: datetime | None = None) -> int:
    """A panel account. Raises ValueError for an unknown role, a taken username or a short password."""
    from werkzeug.security import generate_password_hash

    username = username.strip().lower()
    if role not in PANEL_ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(PANEL_ROLES)}")
    if not username or len(password) < MIN_PASSWORD:
        raise ValueError(f"a username and a password of at least {MIN_PASSWORD} characters are needed")
    if conn.execute(select(USERS.c.id).where(USERS.c.username == username)).first() is not None:
        raise ValueError(f"the username {username} is taken")
    return int(conn.execute(USERS.insert(), dict(
        username=username, name=name.strip() or username, role=role, password_hash=generate_password_hash(password),
        created_at=now or utcnow())).inserted_primary_key[0])


def check_user(conn: Connection, username: str, password: str) -> Any:
    """The active account with these credentials, or None. The hash is checked even for an unknown
    username, so the answer takes as long either way."""
    from werkzeug.security import check_password_hash, generate_password_hash

    row = conn.execute(select(USERS).where(USERS.c.username == username.strip().lower(),
                                           USERS.c.disabled_at.is_(None))).one_or_none()
    stored = row.password_hash if row is not None else _dummy_hash(generate_password_hash)
    return row if check_password_hash(stored, password) and row is not None else None


@functools.cache
def _dummy_hash(generate: Callable[[str], str]) -> str:
    return generate(secrets.token_hex(16))


def disable_user(conn: Connection, username: str, now: datetime | None = None) -> bool:
    """Disable an account and end its panel sessions."""
    now = now or utcnow()
    user_id = conn.execute(update(USERS).where(USERS.c.username == username.strip().lower(),
                                               USERS.c.disabled_at.is_(None)).values(disabled_at=now)
                           .returning(USERS.c.id)).scalar_one_or_none()
    if user_id is None:
        return False
    end_sessions(conn, user_id, now)
    return True


def change_password(conn: Connection, username: str, password: str, now: datetime | None = None) -> int:
    """Set an active account's password and end every panel session it has (a stolen cookie too).
    Returns the account id; ValueError for an unknown account or a short password."""
    from werkzeug.security import generate_password_hash

    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    now = now or utcnow()
    user_id = conn.execute(update(USERS).where(USERS.c.username == username.strip().lower(),
                                               USERS.c.disabled_at.is_(None))
                           .values(password_hash=generate_password_hash(password)).returning(USERS.c.id)
                           ).scalar_one_or_none()
    if user_id is None:
        raise ValueError(f"no active user {username}")
    end_sessions(conn, user_id, now)
    return int(user_id)


def end_sessions(conn: Connection, user_id: int, now: datetime) -> int:
    """Sign the account out everywhere (password changed, account disabled). Returns how many ended."""
    return conn.execute(update(SESSIONS).where(SESSIONS.c.user_id == user_id, SESSIONS.c.ended_at.is_(None))
                        .values(ended_at=now)).rowcount or 0
