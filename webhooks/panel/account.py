"""Signing in and out of the panel."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from sqlalchemy import update

from surveys import db
from webhooks import clock
from webhooks.auth import check_user
from webhooks.panel import USERS, bp, engine

# Failed sign-ins per (username, address): after MAX_FAILURES within WINDOW seconds, refuse for the
# rest of the window. Per process: enough to make guessing slow; a proxy can do more.
MAX_FAILURES, WINDOW = 8, 15 * 60
_lock = threading.Lock()


def _throttled(key: tuple[str, str], failed: bool = False) -> bool:
    failures: dict[tuple[str, str], list[float]] = current_app.extensions.setdefault("m360.login_failures", {})
    now = time.monotonic()
    with _lock:
        recent = [t for t in failures.get(key, []) if now - t < WINDOW]
        if failed:
            recent.append(now)
        failures[key] = recent
        return len(recent) >= MAX_FAILURES


def _safe_next(target: str | None) -> str:
    """Only back into the panel: never an open redirect to another site."""
    if target and target.startswith("/panel") and not target.startswith("//"):
        return target
    return url_for("panel.summary")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip().lower()
        key = (username, request.remote_addr or "")
        if _throttled(key):
            error = "Demasiados intentos fallidos. Espere unos minutos e intente de nuevo."
        else:
            with engine().connect() as conn:
                user = check_user(conn, username, request.form.get("password", ""))
            if user is None:
                _throttled(key, failed=True)
                error = "Usuario o contraseña incorrectos."
            else:
                session.clear()  # a fresh session (and CSRF token) at every sign-in
                session.permanent = True
                session["uid"] = user.id
                with db.transaction(engine()) as conn:
                    conn.execute(update(USERS).where(USERS.c.id == user.id).values(last_login_at=clock.now()))
                return redirect(_safe_next(request.args.get("next")))
    return render_template("panel/login.html", error=error, username=username), 401 if error else 200


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("panel.login"))
