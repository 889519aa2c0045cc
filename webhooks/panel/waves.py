"""Panel: monthly waves (bot.waves.campaign) — the list, and one wave's frame, strata and progress by region;
once a wave is closed, the results each entity that completed it would be sent, and the DER's
approval that sends them (bot.waves.results). Waves are created and launched with ``m360 wave`` or the
API (docs/waves.md)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for

from bot.waves import campaign, results
from surveys import db
from webhooks import clock
from webhooks.jsonapi import MAX_INT
from webhooks.panel import MANAGERS, bp, engine, login_required

LABELS = {"sampled": "En la muestra", "invited": "Invitadas", "delivered": "Entregadas", "started": "Iniciadas",
          "completed": "Completas", "late": "Tardías", "declined": "Rechazadas", "no_contact": "Sin contacto",
          "failed": "Entrega fallida", "reminders": "Recordatorios"}
WAITING = {"conversacion": "en una conversación", "ticket": "con un ticket en gestión del DER",
           "otra_ola": "con otra ola pendiente", "baja": "se dieron de baja"}


@bp.get("/olas")
@login_required()
def waves_page() -> Any:
    with engine().connect() as conn:
        items = campaign.listing(conn, limit=60)
        chosen = request.args.get("ola", type=int) or (items[0]["id"] if items else None)
        if chosen is not None and not 0 < chosen <= MAX_INT:
            abort(404)
        try:
            wave = campaign.progress(conn, chosen) if chosen is not None else None
        except campaign.WaveError:
            abort(404)
        outcome = results.wave_results(conn, wave["id"]).as_json() \
            if wave is not None and wave["status"] == "cerrada" else None
    return render_template("panel/waves.html", items=items, wave=wave, labels=LABELS, waiting=WAITING,
                           results=outcome, can_manage=g.user.role in MANAGERS)


@bp.post("/olas/<int:wave_id>/resultados")
@login_required(*MANAGERS)
def approve_results(wave_id: int) -> Any:
    """The DER approves the results messages of a closed wave: recorded and sent (once per entity)."""
    try:
        with db.transaction(engine()) as conn:
            done = results.approve(conn, wave_id, actor=g.actor, now=clock.now())
    except campaign.WaveError as exc:
        flash(f"No se enviaron: {exc}", "error")
    else:
        flash(f"Resultados aprobados: {done.queued} mensaje(s) en cola (salen en horario de oficina).", "ok")
        worker = current_app.extensions.get("m360.outbox")
        if done.queued and worker is not None:
            worker.notify()
    return redirect(url_for("panel.waves_page", ola=wave_id))
