"""Who may call the JSON API: the ``Authorization: Bearer`` check (``require_role``). Tokens,
accounts and roles live in ``bot/accounts.py``. ``M360_ADMIN_TOKEN`` (app config or environment)
is accepted as an admin token: it bootstraps a fresh install and the tests. Panel sign-in and its
server-side sessions are in ``webhooks/panel/account.py`` and ``webhooks/sessions.py``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, jsonify, request

from bot.accounts import ENLACE, MANAGERS, PANEL_ROLES, READERS, ROLES, authenticate
from surveys import settings
from webhooks import clock, limits

__all__ = ["ENLACE", "MANAGERS", "PANEL_ROLES", "READERS", "ROLES", "require_role"]

F = TypeVar("F", bound=Callable[..., Any])


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
            budget = limits.token_refusals()
            if budget is not None and budget.exhausted():  # this address keeps guessing: not even checked
                return budget.too_many()
            admin_token = current_app.config.get("M360_ADMIN_TOKEN") or settings.current().admin_token
            from webhooks.app import engine

            with engine().connect() as conn:
                found = authenticate(conn, token.strip(), admin_token, clock.now())
            if found is None:
                if budget is not None:
                    budget.count()
                return _error(401, "invalid or revoked token")
            role, actor = found
            if role != "admin" and role not in roles:
                return _error(403, f"role {role} may not do this (needs {' or '.join(roles)})")
            g.role, g.actor = role, actor
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
