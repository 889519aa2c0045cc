"""Panel pages of the mesa de ayuda: tickets (list, detail, changes, a new due date with its reason,
a request that came by phone or e-mail) and DER alerts. An ``enlace`` account sees and works only
the tickets and alerts of its entities (webhooks.panel.scope)."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.alerts import alerting
from bot.directory.contacts import normalize_address
from bot.helpdesk import grupos, idempotency, intake, terms, ticketing
from bot.helpdesk.themes import load_taxonomy
from surveys import db, store
from surveys.models import Entity
from surveys.schema import builtin
from webhooks import clock
from webhooks.panel import ENLACE, MANAGERS, READERS, WORKERS, bp, engine, include_test, login_required, scope

ENTITIES = Entity.__table__
PAGE = 50
INTAKE = builtin("solicitud")
ONCE = "idempotency_key"  # the new-request form's one-time token


def _today() -> str:
    return clock.today().isoformat()


def _visible(ticket: Any) -> bool:
    seen = scope()
    return seen is None or seen.covers(ticket.entity_code)


def _notify_outbox() -> None:
    worker = current_app.extensions.get("m360.outbox")
    if worker is not None:
        worker.notify()


@bp.get("/solicitudes")
@login_required(*READERS, ENLACE)
def tickets() -> Any:
    status = request.args.get("estado", "abiertas")
    region, theme = request.args.get("region", ""), request.args.get("tema", "")
    overdue_only = request.args.get("vencidas") == "1"
    waiting_only = request.args.get("por_validar") == "1"
    seen = scope()
    wanted = ticketing.TicketFilter(
        statuses=ticketing.OPEN if status == "abiertas" else (status,) if status in ticketing.STATUSES else None,
        entities=tuple(seen.entities) if seen is not None else None, region=region or None,
        on_hold=True if waiting_only else None, overdue=True if overdue_only else None, theme=theme or None,
        include_test=include_test())
    today = _today()
    with engine().connect() as conn:
        rows = ticketing.find_tickets(conn, wanted, today)
        items = [ticketing.as_json(conn, r, today=today, reveal_address=g.user.role in WORKERS) for r in rows[:PAGE]]
        regions = store.regions(conn)
    return render_template("panel/tickets.html", items=items, total=len(rows), status=status, region=region,
                           theme=theme, overdue_only=overdue_only, waiting_only=waiting_only,
                           statuses=ticketing.STATUSES, regions=regions, themes=load_taxonomy().themes,
                           can_register=g.user.role in MANAGERS, scoped=seen is not None)


@bp.get("/solicitudes/<code>")
@login_required(*READERS, ENLACE)
def ticket(code: str) -> Any:
    with engine().connect() as conn:
        row = conn.execute(select(ticketing.REQUESTS).where(ticketing.REQUESTS.c.code == code.upper())).one_or_none()
        if row is None or not _visible(row):
            return render_template("panel/not_found.html", what=f"la solicitud {code}"), 404
        item = ticketing.as_json(conn, row, today=_today(), events=True, reveal_address=g.user.role in WORKERS)
        version = ticketing.version(conn, row.code)
    moves = sorted(ticketing.TRANSITIONS[row.status], key=ticketing.STATUSES.index)
    return render_template("panel/ticket.html", t=item, moves=moves, can_manage=g.user.role in WORKERS,
                           can_move_due=row.status in ticketing.OPEN and not row.on_hold, version=version)


@bp.post("/solicitudes/<code>")
@login_required(*WORKERS)
def change_ticket(code: str) -> Any:
    form = {k: (request.form.get(k) or "").strip() or None for k in ("status", "note", "assignee", "referred_to",
                                                                     "due_date", "due_reason")}
    with engine().connect() as conn:
        row = conn.execute(select(ticketing.REQUESTS.c.entity_code).where(ticketing.REQUESTS.c.code == code.upper())
                           ).one_or_none()
    if row is not None and not _visible(row):
        abort(403)
    due_text, seen = form.pop("due_date"), request.form.get("version")
    try:
        due = date.fromisoformat(due_text) if due_text else None
        with db.transaction(engine()) as conn:
            if seen and seen != ticketing.version(conn, code.upper(), lock=True):
                # Saved by someone else meanwhile, or this very form sent twice (a double click).
                raise ValueError("la solicitud cambió mientras la veía (otra persona la actualizó, o el "
                                 "formulario se envió dos veces); revise cómo quedó y vuelva a intentarlo")
            before = conn.execute(select(ticketing.REQUESTS.c.status).where(
                ticketing.REQUESTS.c.code == code.upper())).scalar()
            ticketing.change(conn, code.upper(), actor=g.actor, now=clock.now(), due_date=due, **form)
            told = (form["note"] is not None or due is not None
                    or (form["status"] is not None and form["status"] != before))
            problem = ticketing.notification_problem(conn, code, clock.now()) if told else None
    except ValueError as exc:  # InvalidTransition, or a date that is not one
        flash(f"No se guardó: {exc}", "error")
    else:
        if problem is not None:  # saved, but the requester will not hear of it: never shown as a success
            flash(f"Cambio guardado, pero el solicitante NO recibirá el aviso: {problem}. Llámelo o configure la "
                  "plantilla (Envíos).", "error")
        elif told:
            flash("Cambio guardado; el solicitante recibe el aviso por el chat.", "ok")
        else:
            flash("Cambio guardado.", "ok")
        _notify_outbox()
    return redirect(url_for("panel.ticket", code=code.upper()))


@bp.route("/solicitudes/nueva", methods=["GET", "POST"])
@login_required(*MANAGERS)
def new_ticket() -> Any:
    """A request that came by phone, e-mail, in person or by letter (bot.helpdesk.intake, as the API's POST)."""
    values: dict[str, Any] = {k: v.strip() for k, v in request.form.items() if k not in ("csrf", ONCE)}
    # The form's one-time token (bot.helpdesk.idempotency): a double click or a browser's re-POST
    # shows the ticket the first submit made instead of making another. A refused form keeps its token.
    once, error = request.form.get(ONCE, ""), None
    if not idempotency.valid_key(once):  # a form of an older page, or tampered with: a fresh token
        once = secrets.token_urlsafe(24)
    if request.method == "POST":
        try:
            fields = _intake_fields(values, request.form.getlist("themes"))  # before the write lock is taken
            now = clock.now()
            outcome = idempotency.create_once(
                engine(), idempotency.Key(f"panel:{g.actor}", once, idempotency.fingerprint(fields)), now,
                lambda conn: intake.register(conn, intake.parse(conn, fields), actor=g.actor, now=now,
                                             source="panel"))
        except idempotency.KeyReused as exc:  # the form sent again after it was changed (back, edit, send)
            error, once = (f"este formulario ya registró la solicitud {exc.code}; si es otra solicitud, "
                           "revise los datos y envíelo de nuevo"), secrets.token_urlsafe(24)
        except intake.IntakeError as exc:
            error = str(exc)
        else:
            if outcome.replayed:
                code = _code_of(outcome.ticket_id)
                flash(f"La solicitud {code} ya estaba registrada (el formulario se envió dos veces): "
                      "no se creó otra.", "ok")
                return redirect(url_for("panel.ticket", code=code))
            created = outcome.created
            flash(f"Solicitud {created.code} registrada" + (f", asignada a {created.enlace}" if created.enlace else "")
                  + (" (en espera: la entidad debe validarse)" if created.on_hold else "") + ".", "ok")
            _notify_outbox()
            return redirect(url_for("panel.ticket", code=created.code))
    return render_template("panel/ticket_new.html", values=values, chosen=request.form.getlist("themes"), once=once,
                           error=error, origins=ticketing.ORIGINS, themes=load_taxonomy().themes,
                           terms=terms.load(), lists=INTAKE.choice_lists, groups=grupos.GROUPS,
                           departments=_departments()), 400 if error else 200


def _code_of(ticket_id: int) -> str:
    with engine().connect() as conn:
        return str(conn.execute(select(ticketing.REQUESTS.c.code).where(ticketing.REQUESTS.c.id == ticket_id))
                   .scalar_one())


def _intake_fields(values: dict[str, str], themes: list[str]) -> dict[str, Any]:
    """The form as bot.helpdesk.intake reads the API's body. The entity may be typed by name ("Génova")."""
    fields: dict[str, Any] = {k: values.get(k) or None for k in ("channel", "need", "request_type", "support_type",
                                                                  "phase", "continuity", "requested_by_date")}
    fields["urgent"] = values.get("urgent") == "si"
    fields["themes"] = themes or None
    fields["requester"] = {k: values[f"requester_{k}"] for k in ("name", "cargo", "phone", "email")
                           if values.get(f"requester_{k}")}
    if "phone" in fields["requester"]:  # "300 123 4567" as typed; the API takes +573001234567
        typed = fields["requester"]["phone"]
        fields["requester"]["phone"] = normalize_address("whatsapp", typed) or typed
    if values.get("new_entity_name"):
        fields["new_entity"] = {"name": values["new_entity_name"], "group": values.get("new_entity_group") or "otro",
                                "department": (values.get("new_entity_department") or "00").zfill(2)}
    else:
        fields["entity"] = _entity_code(values.get("entity", ""))
    return {k: v for k, v in fields.items() if v is not None}


def _entity_code(typed: str) -> str | None:
    """A code as typed, or the entity a name finds (asks to be precise when several match)."""
    if not typed:
        return None
    if typed.isdigit() or typed.upper().startswith("X"):
        return typed.upper()
    from webhooks.app import chat_service

    found = chat_service(current_app).entities.lookup(typed)
    if found.status == "found":
        return str(found.candidates[0].code)
    names = ", ".join(f"{e.display} ({e.code})" for e in found.candidates[:5])
    raise intake.IntakeError("entity", f"«{typed}» is not one entity" + (f"; did you mean {names}?" if names else ""))


def _departments() -> list[tuple[str, str]]:
    with engine().connect() as conn:
        return [(r.code, r.name) for r in conn.execute(select(ENTITIES.c.code, ENTITIES.c.name)
                                                       .where(ENTITIES.c.kind == "gobernacion")
                                                       .order_by(ENTITIES.c.name))]


@bp.get("/alertas")
@login_required(*READERS, ENLACE)
def alerts() -> Any:
    status = request.args.get("estado", "abierta")
    rule = request.args.get("regla", "")
    seen = scope()
    query = alerting.alert_query(alerting.AlertFilter(
        status=status if status in alerting.STATUSES else None, rule=rule if rule in alerting.RULES else None,
        scope_entities=tuple(seen.entities) if seen is not None else None,
        scope_regions=tuple(seen.regions) if seen is not None else (), include_test=include_test()))
    with engine().connect() as conn:
        items = [alerting.as_json(conn, row) for row in conn.execute(query.limit(PAGE * 2))]
        whatsapp = alerting.whatsapp_problem(conn, alerting.destinations_from_env(), clock.now())
    return render_template("panel/alerts.html", items=items, status=status, rule=rule, rules=alerting.RULES,
                           can_manage=g.user.role in WORKERS, whatsapp_problem=whatsapp)


@bp.post("/alertas/<int:alert_id>/reconocer")
@login_required(*WORKERS)
def acknowledge(alert_id: int) -> Any:
    seen = scope()
    if seen is not None:
        with engine().connect() as conn:
            row = conn.execute(select(alerting.ALERTS.c.entity_code, alerting.ALERTS.c.region)
                               .where(alerting.ALERTS.c.id == alert_id)).one_or_none()
        if row is not None and not (seen.covers(row.entity_code) or row.region in seen.regions):
            abort(403)
    with db.transaction(engine()) as conn:
        row = alerting.acknowledge(conn, alert_id, actor=g.actor, now=clock.now(),
                                 note=(request.form.get("note") or "").strip() or None)
    flash(f"Alerta #{alert_id} reconocida." if row is not None else f"No existe la alerta #{alert_id}.",
          "ok" if row is not None else "error")
    return redirect(url_for("panel.alerts"))
