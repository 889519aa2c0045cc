"""Bearer tokens with roles for the JSON API.

Roles: ``analyst`` reads; ``der`` also manages tickets and alerts; ``admin`` may do everything.
Tokens are created with ``m360 tokens create`` and shown once; only their SHA-256 is stored, so a
leaked database does not leak usable tokens. ``M360_ADMIN_TOKEN`` (app config or environment) is
accepted as an admin token: it bootstraps a fresh install and the tests.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import current_app, g, jsonify, request
from sqlalchemy import Connection, select, update

from surveys import db
from surveys.models import ApiToken, utcnow

ROLES = ("analyst", "der", "admin")
TOKENS = ApiToken.__table__
LAST_USED_RESOLUTION = timedelta(minutes=10)
F = TypeVar("F", bound=Callable[..., Any])


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


def authenticate(conn: Connection, token: str, admin_token: str | None) -> tuple[str, str] | None:
    """(role, actor) for a presented token, or None."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return "admin", "admin"
    row = conn.execute(select(TOKENS.c.id, TOKENS.c.name, TOKENS.c.role, TOKENS.c.last_used_at)
                       .where(TOKENS.c.token_hash == token_hash(token), TOKENS.c.revoked_at.is_(None))).one_or_none()
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:  # not a write per request
        with db.transaction(conn.engine) as writer:
            writer.execute(update(TOKENS).where(TOKENS.c.id == row.id).values(last_used_at=now))
    return row.role, f"{row.role}:{row.name}"


def _error(status: int, message: str) -> Any:
    headers = {"WWW-Authenticate": 'Bearer realm="m360"'} if status == 401 else {}
    return jsonify(error=message), status, headers


def require_role(*roles: str) -> Callable[[F], F]:
    """Decorator: the request must carry ``Authorization: Bearer <token>`` of one of ``roles``
    (admin always passes). Sets ``g.role`` and ``g.actor`` (who is recorded in audit trails)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _error(401, "missing bearer token (Authorization: Bearer <token>)")
            admin_token = current_app.config.get("M360_ADMIN_TOKEN") or os.environ.get("M360_ADMIN_TOKEN")
            engine = current_app.extensions["m360.sessions"].kw["bind"]
            with engine.connect() as conn:
                found = authenticate(conn, token.strip(), admin_token)
            if found is None:
                return _error(401, "invalid or revoked token")
            role, actor = found
            if role != "admin" and role not in roles:
                return _error(403, f"role {role} may not do this (needs {' or '.join(roles)})")
            g.role, g.actor = role, actor
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
