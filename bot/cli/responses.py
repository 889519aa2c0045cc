"""``m360 responses``: interview results out (export) and in (import, in the export's format)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import Engine

from analysis import export, importer
from analysis.coding.deferred import AnswerCodingJob
from analysis.periods import is_month
from bot.cli.common import Database, pass_database, write
from surveys import schema

SHOWN_ERRORS = 50  # a file with thousands of bad rows is not printed line by line


@click.group("responses")
def responses_group() -> None:
    """Interview results."""


@responses_group.command("export")
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--questionnaire", default="monitoreo360", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: monitoreo360_<period>.<format>; '-' for stdout).")
@pass_database
def responses_export(database: Database, period: str, fmt: str, questionnaire: str, output: Path | None) -> None:
    """One row per interview of the period, one column per question (its canonical name)."""
    if not is_month(period):
        raise click.BadParameter("use YYYY-MM", param_hint="--period")
    with database.session() as session:
        frame = export.export_frame(session, period, questionnaire)
    path = write(export.to_bytes(frame, fmt), output, f"{questionnaire}_{period}.{fmt}")
    if path is None:
        return
    click.echo(f"{len(frame)} interviews → {path}")


@responses_group.command("import")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Write the valid rows even if some are bad (those are reported).")
@click.option("--questionnaire", default="monitoreo360", show_default=True)
@pass_database
def responses_import(database: Database, source: Path, skip_invalid: bool, questionnaire: str) -> None:
    """Load interviews from a .xlsx or .csv in the export format (one row per interview, canonical
    column names). Every row is validated; with any bad row nothing is written unless --skip-invalid.
    Importing the same file again does not duplicate (same entity + period are updated)."""
    engine = database.engine()
    try:
        with database.write_session() as session:
            result = importer.import_responses(session, source, skip_invalid=skip_invalid,
                                               questionnaire=questionnaire)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    for problem in result.file_errors:
        click.echo(f"{source.name}: {problem}", err=True)
    for error in result.errors[:SHOWN_ERRORS]:
        click.echo(f"{source.name}: {error}", err=True)
    if len(result.errors) > SHOWN_ERRORS:
        click.echo(f"{source.name}: … y {len(result.errors) - SHOWN_ERRORS:,} errores más "
                   f"en {len(result.bad_rows):,} filas", err=True)
    if result.file_errors:
        raise click.ClickException(f"{source.name}: nothing imported (fix the file)")
    if result.errors and not result.written:
        raise click.ClickException(f"{source.name}: {len(result.bad_rows)} of {result.rows} rows are invalid; "
                                   "nothing imported (fix them, or use --skip-invalid)")
    click.echo(f"{source.name}: {result.rows} rows, {result.valid} valid, {len(result.bad_rows)} invalid; "
               f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged")
    _code_imported(engine, result.answer_ids, questionnaire)


def _code_imported(engine: Engine, answer_ids: list[int], questionnaire: str) -> None:
    """Code the open answers the import stored (as the chat's background coder would), and say how
    many went to the review queue. Without a model, or if coding fails, they stay for the background
    coder (``m360 serve`` / ``m360 worker``) or ``m360 coder recode``: the import itself is committed."""
    job = AnswerCodingJob.for_questionnaires(engine, [schema.builtin(questionnaire)])
    try:
        done = job.code_answers(answer_ids)
    except Exception as exc:  # the interviews are stored: coding can be done later
        click.echo(f"open answers not coded now ({exc}); the background coder or `m360 coder recode --all` "
                   "will code them", err=True)
        return
    if not done.seen:
        return
    message = f"open answers: {done.coded} coded, {done.review} sent to the review queue (panel → Cola de revisión)"
    if done.uncoded:
        message += (f"; {done.uncoded} left for the background coder: no model for "
                    f"{', '.join(sorted(done.without_model))} (m360 coder train --all)")
    click.echo(message)
