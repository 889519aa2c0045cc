"""Panel pages of the results: the period's summary (the 2020 informe's charts, with filters), the priority
entities on a map, open answers by category with drill-down, the coding review queue, and
downloads. The figures come from analysis.report.build_report, the same dict the informe, its
XLSX and the API render, so the panel never disagrees with a downloaded report."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import Connection, func, select

from analysis import export, maps
from analysis import html as report_html
from analysis.coding import codebooks, storage
from analysis.indicators import Filters
from analysis.periods import parse
from analysis.report import build_report, default_name, render
from surveys import store
from surveys.messages import TEST_CHANNELS
from surveys.models import DECIDED, Answer, AnswerCoding, CodingStatus, Entity, Interview
from surveys.statuses import InterviewStatus
from webhooks import clock
from webhooks.jsonapi import MAX_INT
from webhooks.panel import bp, engine, include_test, login_required
from webhooks.public_url import public_base

ANSWERS, CODINGS = Answer.__table__, AnswerCoding.__table__
INTERVIEWS, ENTITIES = Interview.__table__, Entity.__table__
KINDS = {"alcaldia": "Alcaldías", "gobernacion": "Gobernaciones"}
REPORT_TYPES = {"html": "text/html", "xlsx": export.MEDIA_TYPES["xlsx"], "json": "application/json"}


# ------------------------------------------------------------------ filters shared by the result pages


def _periods(conn: Connection) -> list[str]:
    """Months with completed interviews, newest first; this month when there are none yet."""
    query = select(INTERVIEWS.c.period).where(INTERVIEWS.c.status == InterviewStatus.COMPLETA)
    if not include_test():
        query = query.where(INTERVIEWS.c.channel.not_in(TEST_CHANNELS))
    found = [p for (p,) in conn.execute(query.distinct().order_by(INTERVIEWS.c.period.desc()))]
    return found or [clock.today().strftime("%Y-%m")]


def _choices(conn: Connection) -> dict[str, list[Any]]:
    departments = list(conn.execute(select(ENTITIES.c.dept_code, ENTITIES.c.dept_name).distinct()
                                    .where(ENTITIES.c.kind != "otro").order_by(ENTITIES.c.dept_name)))
    return {"regions": store.regions(conn), "departments": departments}


def _selection(conn: Connection) -> tuple[str, Filters, dict[str, Any]]:
    """The period and filters asked for in the query string (bad values are ignored, not errors:
    the page then shows the latest period for everyone)."""
    periods = _periods(conn)
    period = chosen_period(periods)
    pdet = {"si": True, "no": False}.get(request.args.get("pdet", ""))
    kind = request.args.get("tipo") if request.args.get("tipo") in KINDS else None
    filters = Filters(region=request.args.get("region") or None, department=request.args.get("departamento") or None,
                      kind=kind, pdet=pdet)
    form = {"periodo": period, "region": filters.region or "", "departamento": filters.department or "",
            "tipo": kind or "", "pdet": request.args.get("pdet", ""), "periods": periods,
            "quarters": quarters(periods), "years": sorted({p[:4] for p in periods}, reverse=True),
            "month_label": lambda p: parse(p).label, "kinds": KINDS, **_choices(conn)}
    return period, filters, form


def chosen_period(available: list[str]) -> str:
    """The period asked for in ``?periodo=`` (month, quarter or year, normalised), or the newest of
    ``available`` when it is missing or not a period."""
    try:
        return parse(request.args.get("periodo") or available[0]).key
    except ValueError:
        return available[0]


def quarters(months: list[str]) -> list[str]:
    """The quarters (YYYY-Qn) of these months, newest first."""
    return sorted({f"{m[:4]}-Q{(int(m[5:]) - 1) // 3 + 1}" for m in months}, reverse=True)


def _review_url(codebook: str) -> str:
    """The review queue of ``codebook``, absolute (a downloaded report is opened outside the panel): at the
    public address when one is configured (the request may have come by an internal name), else the
    request's."""
    base = public_base(current_app.config)
    if base:
        return base + url_for("panel.review_queue", codebook=codebook)
    return url_for("panel.review_queue", codebook=codebook, _external=True)


def _report(conn: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report of the period and filters asked for, and the filters form to show."""
    period, filters, form = _selection(conn)
    return build_report(conn, period, filters, include_test=include_test(), now=clock.now()), form


# ------------------------------------------------------------------ pages


@bp.get("/")
@login_required()
def summary() -> Any:
    with engine().connect() as conn:
        report, form = _report(conn)
    return render_template("panel/summary.html", form=form, report=report, styles=Markup(report_html.STYLES),
                           body=Markup(report_html.render_body(report, _review_url)))


@bp.get("/prioritarias")
@login_required()
def priority() -> Any:
    with engine().connect() as conn:
        report, form = _report(conn)
        background = list(conn.execute(select(ENTITIES.c.lat, ENTITIES.c.lon)))
    items = report["priority"]
    title = f"Entidades prioritarias — {report['period_label']}"
    return render_template("panel/priority.html", form=form, report=report, items=items,
                           map=maps.priority_map(items, title, background))


@bp.get("/respuestas")
@login_required()
def open_answers() -> Any:
    """Counts per category of each coded question in the period, with quotes; ``pregunta`` and
    ``codigo`` drill down to the answers themselves."""
    question, code = request.args.get("pregunta", ""), request.args.get("codigo", "")
    with engine().connect() as conn:
        report, form = _report(conn)
        blocks = [c for c in report["codes"] if not question or c["question"] == question]
        answers = _answers(conn, report["months"], question, code) if question else []
    code_labels = {c.id: c.label for b in codebooks.load_all().values() for c in b.codes}
    for block in report["codes"]:  # the question's own codebook wins where two share a code id
        code_labels.update({c["code"]: c["label"] for m in block["months"] for c in m["codes"]
                            if block["question"] == question})
    return render_template("panel/open_answers.html", form=form, report=report, blocks=blocks, question=question,
                           code=code, answers=answers, code_labels=code_labels)


def _answers(conn: Connection, months: list[str], question: str, code: str, limit: int = 200) -> list[dict[str, Any]]:
    query = (select(ANSWERS.c.id, ANSWERS.c.raw_text, ANSWERS.c.value, INTERVIEWS.c.period, ENTITIES.c.name,
                    ENTITIES.c.dept_name, CODINGS.c.codes, CODINGS.c.status)
             .join(INTERVIEWS, INTERVIEWS.c.id == ANSWERS.c.interview_id)
             .outerjoin(ENTITIES, ENTITIES.c.code == INTERVIEWS.c.entity_code)
             .outerjoin(CODINGS, CODINGS.c.answer_id == ANSWERS.c.id)
             .where(ANSWERS.c.question == question, INTERVIEWS.c.period.in_(months),
                    INTERVIEWS.c.status == InterviewStatus.COMPLETA,
                    *(() if include_test() else (INTERVIEWS.c.channel.not_in(TEST_CHANNELS),)))
             .order_by(INTERVIEWS.c.period.desc(), ANSWERS.c.id.desc()))
    rows = []
    for r in conn.execute(query):
        codes = list(r.codes or [])
        if code and (code not in codes or r.status not in DECIDED):  # as counted in the table: decided only
            continue
        rows.append({"id": r.id, "text": storage.answer_text(r.value, r.raw_text), "period": r.period,
                     "entity": f"{r.name} ({r.dept_name})" if r.name else "—", "codes": codes, "status": r.status})
        if len(rows) >= limit:
            break
    return rows


@bp.route("/revision", methods=["GET", "POST"])
@login_required("analyst")
def review_queue() -> Any:
    available = codebooks.available()
    if request.method == "POST":
        answer_id = request.form.get("answer_id", type=int)
        if answer_id is None or not 0 < answer_id <= MAX_INT:
            abort(400)
        accept = request.form.get("action") == "accept"
        try:
            storage.review(engine(), answer_id, g.actor, codebook_of=codebooks.load,
                           codes=None if accept else request.form.getlist("codes"), accept=accept)
        except storage.ReviewError as exc:
            flash(f"No se guardó: {exc}", "error")
        else:
            flash("Codificación confirmada." if accept else "Codificación corregida.", "ok")
        return redirect(url_for("panel.review_queue", codebook=request.form.get("codebook") or None))
    book = request.args.get("codebook") or None
    if book is not None and book not in available:
        book = None
    with engine().connect() as conn:
        items = storage.review_queue(conn, book, 30, include_test=include_test())
        waiting_query = (select(CODINGS.c.codebook, func.count()).where(CODINGS.c.status == CodingStatus.REVIEW.value)
                         .join(ANSWERS, ANSWERS.c.id == CODINGS.c.answer_id)
                         .join(INTERVIEWS, INTERVIEWS.c.id == ANSWERS.c.interview_id))
        if not include_test():
            waiting_query = waiting_query.where(INTERVIEWS.c.channel.not_in(TEST_CHANNELS))
        waiting = dict(conn.execute(waiting_query.group_by(CODINGS.c.codebook)).all())
    books = codebooks.load_all()
    return render_template("panel/review.html", items=items, books=books, book=book, waiting=waiting)


@bp.get("/descargas")
@login_required()
def downloads() -> Any:
    with engine().connect() as conn:
        _, _, form = _selection(conn)
    return render_template("panel/downloads.html", form=form)


@bp.get("/descargas/informe.<fmt>")
@login_required()
def download_report(fmt: str) -> Any:
    if fmt not in REPORT_TYPES:
        abort(404)
    with engine().connect() as conn:
        report, _ = _report(conn)
    # The same bytes and file name as `m360 report`.
    return Response(render(report, fmt, _review_url), mimetype=REPORT_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{default_name(report, fmt)}"'})


@bp.get("/descargas/respuestas.<fmt>")
@login_required()
def download_responses(fmt: str) -> Any:
    if fmt not in export.MEDIA_TYPES:
        abort(404)
    with engine().connect() as conn:
        period, _, _ = _selection(conn)
    period = parse(period).last  # the export is monthly: a quarter or a year gives its last month
    with current_app.extensions["m360.sessions"]() as session:
        frame = export.export_frame(session, period, include_test=include_test())
    return Response(export.to_bytes(frame, fmt), mimetype=export.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="monitoreo360_{period}.{fmt}"'})
