"""``m360 report``: the informe de percepción of a period and the fichas of a region or municipality."""

from __future__ import annotations

from pathlib import Path

import click

from analysis import report as reports
from analysis.indicators import Filters, Options
from analysis.periods import parse
from bot.cli.common import Database, pass_database, write

FORMATS = ("html", "xlsx", "json")


def filters_from(region: str | None, department: str | None, kind: str | None, pdet: str | None,
                 entity: str | None) -> Filters:
    return Filters(region=region or None, department=department or None, kind=kind or None,
                   pdet=None if pdet in (None, "") else pdet.lower() in ("si", "sí", "true", "1"),
                   entity=entity or None)


@click.command("report")
@click.option("--period", required=True, help="AAAA-MM (mes), AAAA-Qn (trimestre) o AAAA (año).")
@click.option("--region", help="Only this region (ficha regional).")
@click.option("--entity", "entity", help="Only this entity, DIVIPOLA code (ficha municipal).")
@click.option("--department", help="Only this department (code or name).")
@click.option("--kind", type=click.Choice(["alcaldia", "gobernacion"]), help="Only alcaldías or gobernaciones.")
@click.option("--pdet", type=click.Choice(["si", "no"]), help="Only PDET municipalities (si) or the rest (no).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option("--questionnaire", default="monitoreo360", show_default=True)
@click.option("--score-questions", help="Comma-separated 1–5 questions whose mean is the entity score "
                                        "(default: puntaje_general and the six aspecto_*).")
@click.option("--threshold", type=float, help="Insatisfecho below this score (default 3.5).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: informe_percepcion_<period>.<format>; '-' for stdout).")
@pass_database
def report(database: Database, period: str, region: str | None, entity: str | None, department: str | None,
           kind: str | None, pdet: str | None, fmt: str, questionnaire: str, score_questions: str | None,
           threshold: float | None, output: Path | None) -> None:
    """Write the informe de percepción of a period (HTML with charts, XLSX, JSON); with --region or
    --entity, the ficha of that region or municipality."""
    try:
        cut = parse(period)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--period") from exc
    defaults = Options()
    options = Options(
        score_questions=tuple(q.strip() for q in score_questions.split(",") if q.strip())
        if score_questions else defaults.score_questions,
        threshold=defaults.threshold if threshold is None else threshold)
    with database.session() as session:
        data = reports.build_report(session, cut, filters_from(region, department, kind, pdet, entity), options,
                                    qid=questionnaire)
    if entity and data.get("entity", {}).get("entity") is None:
        raise click.BadParameter(f"unknown entity {entity!r} (DIVIPOLA code)", param_hint="--entity")
    path = write(reports.render(data, fmt), output, reports.default_name(data, fmt))
    if path is None:
        return
    s = data["summary"]
    click.echo(f"{data['title']} {data['period_label']}: {s['interviews']} entrevistas, "
               f"{len(data['priority'])} entidades prioritarias → {path}")
