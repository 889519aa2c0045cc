"""Panel pages of the mesa de ayuda: tickets (list, detail, changes) and DER alerts."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot import alerts as alerting
from bot import helpdesk
from bot.themes import load_taxonomy
from surveys import db, store
from surveys.models import Entity
from webhooks import clock
from webhooks.panel import MANAGERS, bp, engine, include_test, login_required

ENTITIES = Entity.__table__
PAGE = 50


def _today() -> str:
    return clock.today().isoformat()


@bp.get("/solicitudes")
@login_required()
def tickets() -> Any:
    status = request.args.get("estado", "abiertas")
    region, theme = request.args.get("region", ""), request.args.get("tema", "")
    overdue_only = request.args.get("vencidas") == "1"
    query = (select(helpdesk.REQUESTS).outerjoin(ENTITIES, ENTITIES.c.code == helpdesk.REQUESTS.c.entity_code)
             .order_by(helpdesk.REQUESTS.c.created_at.desc(), helpdesk.REQUESTS.c.id.desc()))
    if not include_test():
        query = query.where(store.real_channel(helpdesk.REQUESTS.c.channel))
    if status == "abiertas":
        query = query.where(helpdesk.REQUESTS.c.status.in_(helpdesk.OPEN))
    elif status in helpdesk.STATUSES:
        query = query.where(helpdesk.REQUESTS.c.status == status)
    if region:
        query = query.where(ENTITIES.c.region == region)
    today = _today()
    with engine().connect() as conn:
        rows = [r for r in conn.execute(query) if (not theme or theme in (r.themes or ()))
                and (not overdue_only or helpdesk.is_overdue(r, today))]
        items = [helpdesk.as_json(conn, r, today=today, reveal_address=g.user.role in MANAGERS) for r in rows[:PAGE]]
        regions = store.regions(conn)
    return render_template("panel/tickets.html", items=items, total=len(rows), status=status, region=region,
                           theme=theme, overdue_only=overdue_only, statuses=helpdesk.STATUSES, regions=regions,
                           themes=load_taxonomy().themes)


@bp.get("/solicitudes/<code>")
@login_required()
def ticket(code: str) -> Any:
    with engine().connect() as conn:
        row = conn.execute(select(helpdesk.REQUESTS).where(helpdesk.REQUESTS.c.code == code.upper())).one_or_none()
        if row is None:
            return render_template("panel/not_found.html", what=f"la solicitud {code}"), 404
        item = helpdesk.as_json(conn, row, today=_today(), events=True, reveal_address=g.user.role in MANAGERS)
    moves = sorted(helpdesk.TRANSITIONS[row.status], key=helpdesk.STATUSES.index)
    return render_template("panel/ticket.html", t=item, moves=moves, can_manage=g.user.role in MANAGERS)


@bp.post("/solicitudes/<code>")
@login_required(*MANAGERS)
def change_ticket(code: str) -> Any:
    form = {k: (request.form.get(k) or "").strip() or None for k in ("status", "note", "assignee", "referred_to")}
    try:
        with db.transaction(engine()) as conn:
            helpdesk.change(conn, code.upper(), actor=g.actor, now=clock.now(), **form)
    except helpdesk.InvalidTransition as exc:
        flash(f"No se guardó: {exc}", "error")
    else:
        flash("Cambio guardado; el solicitante recibe el aviso por el chat.", "ok")
        worker = current_app.extensions.get("m360.outbox")
        if worker is not None:
            worker.notify()
    return redirect(url_for("panel.ticket", code=code.upper()))


@bp.get("/alertas")
@login_required()
def alerts() -> Any:
    status = request.args.get("estado", "abierta")
    rule = request.args.get("regla", "")
    query = select(alerting.ALERTS).order_by(alerting.ALERTS.c.created_at.desc(), alerting.ALERTS.c.id.desc())
    if status in ("abierta", "reconocida"):
        query = query.where(alerting.ALERTS.c.status == status)
    if rule in alerting.RULES:
        query = query.where(alerting.ALERTS.c.rule == rule)
    if not include_test():
        query = query.where(alerting.ALERTS.c.test.is_(False))
    with engine().connect() as conn:
        items = [alerting.as_json(conn, row) for row in conn.execute(query.limit(PAGE * 2))]
    return render_template("panel/alerts.html", items=items, status=status, rule=rule, rules=alerting.RULES,
                           can_manage=g.user.role in MANAGERS)


@bp.post("/alertas/<int:alert_id>/reconocer")
@login_required(*MANAGERS)
def acknowledge(alert_id: int) -> Any:
    with db.transaction(engine()) as conn:
        row = alerting.acknowledge(conn, alert_id, actor=g.actor, now=clock.now(),
                                 note=(request.form.get("note") or "").strip() or None)
    flash(f"Alerta #{alert_id} reconocida." if row is not None else f"No existe la alerta #{alert_id}.",
          "ok" if row is not None else "error")
    return redirect(url_for("panel.alerts"))
