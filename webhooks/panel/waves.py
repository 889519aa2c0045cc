"""Panel: monthly waves (bot.waves) — the list, and one wave's frame, strata and progress by region.
Read-only here; waves are created and launched with ``m360 wave`` or the API (docs/waves.md)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request

from bot import waves
from webhooks.jsonapi import MAX_INT
from webhooks.panel import bp, engine, login_required

LABELS = {"sampled": "En la muestra", "invited": "Invitadas", "delivered": "Entregadas", "started": "Iniciadas",
          "completed": "Completas", "late": "Tardías", "declined": "Rechazadas", "no_contact": "Sin contacto",
          "failed": "Entrega fallida", "reminders": "Recordatorios"}
WAITING = {"conversacion": "en una conversación", "ticket": "con un ticket en gestión del DER",
           "otra_ola": "con otra ola pendiente", "baja": "se dieron de baja"}


@bp.get("/olas")
@login_required()
def waves_page() -> Any:
    with engine().connect() as conn:
        items = waves.listing(conn, limit=60)
        chosen = request.args.get("ola", type=int) or (items[0]["id"] if items else None)
        if chosen is not None and not 0 < chosen <= MAX_INT:
            abort(404)
        try:
            wave = waves.progress(conn, chosen) if chosen is not None else None
        except waves.WaveError:
            abort(404)
    return render_template("panel/waves.html", items=items, wave=wave, labels=LABELS, waiting=WAITING)
