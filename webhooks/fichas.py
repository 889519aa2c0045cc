"""``GET /ficha/<token>``: the printable ficha of one entity, for its officials, without signing in
(bot.waves.results makes the links; the chat's "Mis resultados" and a wave's results send them).

The token is the only key: it shows the entity and the period it was made for, nothing else, and
stops working when it expires (410, with how to ask for a new one). Only its SHA-256 is stored. The
page is the standalone informe (analysis.html): no script, nothing external, printable; it is not
cached, not indexed and sends no referrer."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, render_template

from analysis import html
from bot.waves import results
from surveys import db
from webhooks import clock
from webhooks.app import engine

bp = Blueprint("fichas", __name__)
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
PRIVATE = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}


@bp.get("/ficha/<token>")
def ficha(token: str) -> Any:
    now = clock.now()
    found = None
    if TOKEN.fullmatch(token):
        with db.transaction(engine()) as conn:  # short: the view is counted, the ficha built after
            found = results.resolve(conn, token, now)
        if found is not None and not found.expired:
            with engine().connect() as conn:
                page = html.render(results.ficha(conn, found.entity_code, found.period, now))
            return page, 200, {**PRIVATE, "Content-Type": "text/html; charset=utf-8"}
    status = 410 if found is not None else 404
    return render_template("ficha_gone.html", expired=found is not None), status, PRIVATE
