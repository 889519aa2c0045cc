"""Signing in and out of the panel, and changing one's password. Sessions and the sign-in
throttle live in the database (webhooks/sessions.py): shared by every worker, and ended for good."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import update

from bot.accounts import MIN_PASSWORD, PANEL_ROLES, change_password, check_user
from surveys import db
from webhooks import clock, sessions
from webhooks.panel import USERS, bp, engine, login_required


def _safe_next(target: str | None) -> str:
    """Only back into the panel or the simulator, as a plain path: never an open redirect to another
    site, nor a path with control characters (a CR LF cannot go into a Location header), a backslash,
    dot segments or empty ones (``/panel/..//evil.example``), which a browser resolves elsewhere."""
    if target and target.isprintable() and "\\" not in target:
        path = urlsplit(target)
        if (not path.scheme and not path.netloc and path.path.startswith(("/panel", "/simulador"))
                and "//" not in path.path and "/." not in path.path):
            return target
    return url_for("panel.summary")


def _sign_in(user_id: int) -> None:
    """A fresh session (and CSRF token) for this browser."""
    session.clear()
    session.permanent = True
    with db.transaction(engine()) as conn:
        session["sid"] = sessions.start(conn, user_id, clock.now())


TOO_MANY = "Demasiados intentos fallidos. Espere unos minutos e intente de nuevo."


def _throttled(username: str) -> tuple[str, bool]:
    """Count a password check for (username, address): (its throttle key, whether it is over the limit).
    Counted before the password is looked at: parallel guesses cannot all slip under the limit."""
    key = sessions.throttle_key(username, request.remote_addr or "")
    return key, sessions.count_attempt(engine(), key, clock.now()) > sessions.MAX_ATTEMPTS


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip().lower()
        key, throttled = _throttled(username)
        if throttled:
            error = TOO_MANY
        else:
            with engine().connect() as conn:
                user = check_user(conn, username, request.form.get("password", ""))
            if user is None:
                error = "Usuario o contraseña incorrectos."
            else:
                with db.transaction(engine()) as conn:
                    sessions.clear_attempts(conn, key)
                    conn.execute(update(USERS).where(USERS.c.id == user.id).values(last_login_at=clock.now()))
                _sign_in(user.id)
                return redirect(_safe_next(request.args.get("next")))
    return render_template("panel/login.html", error=error, username=username), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    with db.transaction(engine()) as conn:
        sessions.end(conn, session.get("sid"), clock.now())  # the cookie, even if kept, is worth nothing now
    session.clear()
    return redirect(url_for("panel.login"))


@bp.route("/clave", methods=["GET", "POST"])
@login_required(*PANEL_ROLES)
def password() -> Any:
    """Change one's own password (every account, enlaces too): every other session of the account
    ends; this browser gets a new one. Guesses of the current password count against the sign-in
    throttle, so a browser left signed in cannot be used to find the password."""
    error = None
    if request.method == "POST":
        current, new = request.form.get("actual", ""), request.form.get("nueva", "")
        key, throttled = _throttled(g.user.username)
        known = False
        if not throttled:
            with engine().connect() as conn:
                known = check_user(conn, g.user.username, current) is not None
        if throttled:
            error = TOO_MANY
        elif not known:
            error = "La contraseña actual no es correcta."
        elif new != request.form.get("repetir", ""):
            error = "La nueva contraseña y su repetición no coinciden."
        elif len(new) < MIN_PASSWORD:
            error = f"La nueva contraseña debe tener al menos {MIN_PASSWORD} caracteres."
        else:
            with db.transaction(engine()) as conn:
                sessions.clear_attempts(conn, key)
                change_password(conn, g.user.username, new, now=clock.now())
            _sign_in(g.user.id)
            flash("Contraseña cambiada. Las demás sesiones de su cuenta se cerraron.", "ok")
            return redirect(url_for("panel.summary"))
    return render_template("panel/password.html", error=error, minimum=MIN_PASSWORD), 400 if error else 200
