"""Panel page «Envíos»: the messages a person must look at, and the WhatsApp templates.

- *Por decidir*: rows the outbox left in ``review`` — a send may have gone out and the provider
  could not say (bot.outbox.sending). The DER decides: it arrived (``sent``), send it again (``resend``),
  or leave it (``drop``).
- *No entregados*: rows that did not reach their person in the last 30 days — refused by the
  sender (``failed``) or reported undeliverable by the provider afterwards (``undelivered``) — with
  the reason (no template outside WhatsApp's window, a number without WhatsApp, the person blocked
  the bot…); one can be sent again once the cause is fixed (e.g. the template configured).
- *Plantillas de WhatsApp*: which kinds have their Content SID configured.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.channels import templates
from bot.outbox import sending
from surveys import db
from webhooks import clock
from webhooks.panel import MANAGERS, bp, engine, login_required

RECENT = timedelta(days=30)
LIMIT = 200
DECISIONS = {"sent": "marcado como entregado", "resend": "puesto de nuevo en la cola", "drop": "descartado"}


def _row(row: Any) -> dict[str, Any]:
    """A message as the page shows it: the full address (the DER calls people back)."""
    return {"id": row.id, "kind": row.kind, "channel": row.channel, "status": row.status,
            "address": row.address, "text": row.text,
            "error": row.error, "attempts": row.attempts, "ticket": (row.payload or {}).get("ticket"),
            "created_at": row.created_at, "updated_at": row.updated_at}


@bp.get("/envios")
@login_required(*MANAGERS)
def deliveries() -> Any:
    since = clock.now() - RECENT
    with engine().connect() as conn:
        review = conn.execute(select(sending.OUTBOX).where(sending.OUTBOX.c.status == sending.Status.REVIEW)
                              .order_by(sending.OUTBOX.c.id).limit(LIMIT)).all()
        failed = conn.execute(select(sending.OUTBOX).where(sending.OUTBOX.c.status.in_(sending.FAILED_FOR_GOOD),
                                                          sending.OUTBOX.c.kind != "callback",
                                                          sending.OUTBOX.c.updated_at >= since)
                              .order_by(sending.OUTBOX.c.updated_at.desc()).limit(LIMIT)).all()
    return render_template("panel/deliveries.html", review=[_row(r) for r in review],
                           failed=[_row(r) for r in failed], templates=list(templates.catalogue().values()))


@bp.post("/envios/<int:row_id>")
@login_required(*MANAGERS)
def decide_delivery(row_id: int) -> Any:
    decision = request.form.get("decision", "")
    if decision not in DECISIONS:
        flash("Decisión desconocida.", "error")
        return redirect(url_for("panel.deliveries"))
    with db.transaction(engine()) as conn:
        row = sending.resolve(conn, row_id, decision, actor=g.actor, now=clock.now())
    if row is None:
        flash(f"El mensaje #{row_id} ya no espera esa decisión.", "error")
    else:
        flash(f"Mensaje #{row_id} {DECISIONS[decision]}.", "ok")
        worker = current_app.extensions.get("m360.outbox")
        if worker is not None and decision == "resend":
            worker.notify()
    return redirect(url_for("panel.deliveries"))
