"""The web panel for analysts and the DER (Spanish): sign-in with roles, then the period's results,
priority entities, coded open answers, the review queue, help requests, alerts and downloads.

Server-rendered (Flask + Jinja); respondents' free text is escaped by Jinja's autoescaping
everywhere. Every POST carries the session's CSRF token. The signed session cookie holds only a
session token; the session and its account are read again on every request (webhooks/sessions.py),
so signing out, a password change or a disabled account takes effect at once.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, g, redirect, request, session, url_for
from markupsafe import Markup, escape

from bot import labels
from surveys import formats
from surveys.models import UserAccount
from webhooks import clock, sessions
from webhooks.app import engine
from webhooks.auth import ENLACE, MANAGERS, READERS

__all__ = ["ENLACE", "MANAGERS", "READERS", "WORKERS", "bp", "engine", "include_test", "login_required", "scope"]

bp = Blueprint("panel", __name__, url_prefix="/panel")
USERS = UserAccount.__table__
F = TypeVar("F", bound=Callable[..., Any])

# Who works tickets and alerts: the DER, and enlaces on their own entities' (``scope``).
WORKERS = (*MANAGERS, ENLACE)

# Pages in the navigation: (endpoint, label, roles that see it).
NAV = (
    ("panel.summary", "Resumen", READERS),
    ("panel.priority", "Entidades prioritarias", READERS),
    ("panel.open_answers", "Respuestas abiertas", READERS),
    ("panel.review_queue", "Cola de revisión", ("analyst", "admin")),
    ("panel.tickets", "Mesa de ayuda", (*READERS, ENLACE)),
    ("panel.alerts", "Alertas", (*READERS, ENLACE)),
    ("panel.mesa_report", "Informe mesa", (*READERS, ENLACE)),
    ("panel.deliveries", "Envíos", MANAGERS),
    ("panel.staff_page", "Enlaces", READERS),
    ("panel.pending_entities", "Por validar", READERS),
    ("panel.waves_page", "Olas", READERS),
    ("panel.downloads", "Descargas", READERS),
)


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf" value="{}">').format(escape(csrf_token()))


@bp.before_request
def check_csrf() -> None:
    if request.method == "POST":
        sent = request.form.get("csrf", "")
        if not sent or not hmac.compare_digest(sent, str(session.get("csrf", ""))):
            abort(400, "formulario vencido: recargue la página e intente de nuevo")


def include_test() -> bool:
    """``?pruebas=1``: also show simulator conversations (test data), which every page leaves out."""
    return request.args.get("pruebas") == "1"


@bp.app_context_processor
def panel_context() -> dict[str, Any]:
    user = g.get("user")
    nav = [(endpoint, label) for endpoint, label, roles in NAV if user is not None and user.role in roles]
    # One vocabulary and one formatting for every page: codes by their Spanish label (bot.labels),
    # numbers and dates by surveys.formats (Babel, es_CO), times in Bogotá time, labelled.
    return {"csrf_field": csrf_field, "panel_user": user, "panel_nav": nav, "label": labels.label,
            "num": formats.number, "pct": formats.percent, "when": formats.moment,
            "day": formats.day, "count": formats.count, "show_test": include_test()}


def login_required(*roles: str) -> Callable[[F], F]:
    """The signed-in account must be active and have one of ``roles`` (admin always passes);
    anonymous visitors go to the sign-in page and come back afterwards."""
    allowed = roles or READERS

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("panel.login", next=request.full_path.rstrip("?")))
            if user.role == ENLACE and request.endpoint == "panel.summary":
                return redirect(url_for("panel.tickets"))  # an enlace's home: their entities' tickets
            if user.role != "admin" and user.role not in allowed:
                abort(403)
            g.user, g.actor = user, f"{user.role}:{user.username}"
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def scope() -> Any:
    """What the signed-in account may see of tickets and alerts: None (everything) for the DER,
    analysts and admins; for an ``enlace`` account, the entities and regions the directory gives
    them (bot.directory.staff.Scope)."""
    if g.user.role != ENLACE:
        return None
    if "scope" not in g:
        from bot.directory import staff

        with engine().connect() as conn:
            g.scope = staff.scope(conn, g.user.username)
    return g.scope


def current_user() -> Any:
    """The account signed in on this browser (a live session of an active account), or None."""
    token = session.get("sid")
    if not token:
        return None
    with engine().connect() as conn:
        return sessions.user(conn, token, clock.now())


from webhooks.panel import account, deliveries, helpdesk, results, territory, waves  # noqa: E402,F401  (views register on bp)
