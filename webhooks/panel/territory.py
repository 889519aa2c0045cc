"""Panel pages of the DER's work with the territories: the directory of enlaces and articuladores
(bot.directory.staff; the DER edits it), the grupos de valor waiting for validation (bot.helpdesk.grupos), and the
mesa de ayuda's report (bot.helpdesk.mesa, with its downloads). An ``enlace`` account sees the report of
its own tickets only."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from analysis import html as report_html
from analysis import mesa as mesa_render
from analysis.periods import parse
from bot.directory import staff
from bot.directory.contacts import Problem
from bot.helpdesk import grupos, mesa, ticketing
from bot.helpdesk.themes import load_taxonomy
from surveys import db, store
from webhooks import clock
from webhooks.jsonapi import MAX_INT
from webhooks.panel import ENLACE, MANAGERS, READERS, bp, engine, login_required, scope
from webhooks.panel.results import REPORT_TYPES, chosen_period, quarters

# ------------------------------------------------------------------ enlaces and articuladores


@bp.route("/enlaces", methods=["GET", "POST"])
@login_required(*READERS)
def staff_page() -> Any:
    """The directory; the DER adds or edits one person at a time (the columns of ``m360 staff import``)."""
    editing = request.args.get("editar", type=int)
    values: dict[str, str] = {}
    problems: list[Any] = []
    if request.method == "POST":
        if g.user.role not in MANAGERS:
            abort(403)
        values = {k: (request.form.get(k) or "").strip() for k in staff.COLUMNS}
        staff_id = request.form.get("id", type=int)
        with db.transaction(engine()) as conn:
            if staff_id is not None and (not 0 < staff_id <= MAX_INT or staff.get(conn, staff_id) is None):
                # The form was for someone no longer there (or its id was changed by hand).
                problems = [Problem(1, "id", f"no existe la persona #{staff_id} del directorio; recargue la página")]
                taken = []
            else:
                saved, problems, taken = staff.save(conn, values, staff_id=staff_id, now=clock.now())
        if not problems:
            flash(f"{values['nombre']} guardado(a)." + (f" Cambiaron de enlace: {', '.join(taken)}." if taken else ""),
                  "ok")
            return redirect(url_for("panel.staff_page"))
        editing = staff_id
    with engine().connect() as conn:
        people = staff.listing(conn, include_inactive=True)
        regions = store.regions(conn)
        if editing and not values:
            person = staff.get(conn, editing)
            values = staff.as_form(person) if person is not None else {}
    return render_template("panel/staff.html", people=people, regions=regions, values=values, editing=editing,
                           problems=problems, can_manage=g.user.role in MANAGERS), 400 if problems else 200


# ------------------------------------------------------------------ grupos de valor waiting for validation


@bp.route("/entidades", methods=["GET", "POST"])
@login_required(*READERS)
def pending_entities() -> Any:
    if request.method == "POST":
        if g.user.role not in MANAGERS:
            abort(403)
        code, action = request.form.get("code", ""), request.form.get("action")
        try:
            with db.transaction(engine()) as conn:
                if action == "validar":
                    n = grupos.validate(conn, code, actor=g.actor, now=clock.now(),
                                        name=request.form.get("name") or None, group=request.form.get("group") or None,
                                        dept_code=request.form.get("department") or None)
                    message = f"{code} validada: {n} solicitud(es) empiezan a correr su plazo hoy."
                elif action == "rechazar":
                    n = grupos.reject(conn, code, actor=g.actor, now=clock.now(), note=request.form.get("note"))
                    message = f"{code} rechazada: {n} solicitud(es) cerradas y sus solicitantes avisados."
                else:
                    abort(400)
        except grupos.GroupError as exc:
            flash(f"No se guardó: {exc}", "error")
        else:
            flash(message, "ok")
        return redirect(url_for("panel.pending_entities"))
    with engine().connect() as conn:
        waiting = grupos.pending(conn)
        departments = [(r.code, r.name) for r in conn.execute(
            select(store.ENTITIES.c.code, store.ENTITIES.c.name).where(store.ENTITIES.c.kind == "gobernacion")
            .order_by(store.ENTITIES.c.name))]
    return render_template("panel/pending_entities.html", waiting=waiting, groups=grupos.GROUPS,
                           departments=departments, can_manage=g.user.role in MANAGERS)


# ------------------------------------------------------------------ the mesa de ayuda's report


def _mesa_selection(conn: Any) -> tuple[str, mesa.Filters, dict[str, Any]]:
    """The period and filters asked for (bad values fall back, as on the result pages)."""
    months = _months(conn)
    period = chosen_period(months)
    seen = scope()
    enlace = request.args.get("enlace", type=int)
    theme = request.args.get("tema") or None
    if theme is not None and load_taxonomy().get(theme) is None:
        theme = None
    filters = mesa.Filters(region=request.args.get("region") or None, theme=theme,
                           enlace=enlace if seen is None else None,
                           staff_ids=seen.staff_ids if seen is not None else None)
    form = {"periodo": period, "periods": months, "quarters": quarters(months),
            "years": sorted({m[:4] for m in months}, reverse=True), "label": lambda p: parse(p).label,
            "region": filters.region or "", "tema": theme or "", "enlace": enlace or "",
            "regions": store.regions(conn), "themes": load_taxonomy().themes,
            "people": [p for p in staff.listing(conn) if p["role"] == "enlace"], "scoped": seen is not None}
    return period, filters, form


def _months(conn: Any) -> list[str]:
    """Months with tickets (Bogotá), newest first; this month when there are none."""
    found = {mesa.local_day(moment).strftime("%Y-%m") for (moment,) in conn.execute(
        select(ticketing.REQUESTS.c.created_at))}
    return sorted(found, reverse=True) or [clock.today().strftime("%Y-%m")]


@bp.get("/mesa")
@login_required(*READERS, ENLACE)
def mesa_report() -> Any:
    with engine().connect() as conn:
        period, filters, form = _mesa_selection(conn)
        report = mesa.build(conn, period, filters, now=clock.now())
    return render_template("panel/mesa.html", form=form, report=report, styles=Markup(report_html.STYLES),
                           body=Markup(mesa_render.render_body(report)))


@bp.get("/mesa/informe.<fmt>")
@login_required(*READERS, ENLACE)
def mesa_download(fmt: str) -> Any:
    if fmt not in REPORT_TYPES:
        abort(404)
    with engine().connect() as conn:
        period, filters, _ = _mesa_selection(conn)
        report = mesa.build(conn, period, filters, now=clock.now())
    return Response(mesa_render.render(report, fmt), mimetype=REPORT_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{mesa_render.default_name(report, fmt)}"'})
