"""``m360 contacts``: the directory of contacts (secretarios de planeación) that waves write to, and
their rights over their personal data (Ley 1581 de 2012: bot.privacy.personal_data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy import Connection, select

from bot.cli.common import Database, pass_database
from bot.directory import contacts as directory
from bot.privacy import personal_data
from surveys import formats
from surveys.models import Contact


@click.group("contacts")
def contacts() -> None:
    """The directory of contacts (secretarios de planeación) waves write to."""


@contacts.command("import")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even if some are invalid.")
@pass_database
def contacts_import(database: Database, source: Path, skip_invalid: bool) -> None:
    """Load FILE.csv|xlsx with columns entidad_codigo, canal, direccion, nombre, cargo, consentimiento.
    Every row is validated; with an invalid row nothing is written unless --skip-invalid."""
    try:
        rows = directory.read_rows(source)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.ClickException(f"{source}: {exc}") from exc
    with database.transaction() as conn:
        report = directory.import_rows(conn, rows, source=source.name, skip_invalid=skip_invalid)
    for problem in report.problems:
        click.echo(str(problem), err=True)
    click.echo(f"{source.name}: {len(rows)} rows; {report.summary()}")
    if report.problems and not report.written:
        raise click.ClickException("invalid rows: nothing imported (fix them, or use --skip-invalid)")


def _contact_options(command: Any) -> Any:
    command = click.option("--address", help="The number (E.164) or Telegram chat id, with --channel.")(command)
    command = click.option("--channel", type=click.Choice(["whatsapp", "telegram", "sms", "simulator", "console"]))(
        command)
    return click.option("--id", "contact_id", type=int, help="The contact's id.")(command)


def _find_contact(conn: Connection, contact_id: int | None, channel: str | None, address: str | None) -> Any:
    """The contact given by --id, or by --channel and --address (as people type numbers)."""
    if contact_id is None and not (channel and address):
        raise click.UsageError("give --id, or --channel and --address")
    query = select(Contact.id, Contact.forgotten_at)
    if contact_id is not None:
        query = query.where(Contact.id == contact_id)
    else:
        assert channel is not None and address is not None
        query = query.where(Contact.channel == channel,
                            Contact.address == (directory.normalize_address(channel, address) or address.strip()))
    found = conn.execute(query).one_or_none()
    if found is None:
        raise click.ClickException("no such contact")
    return found


@contacts.command("forget")
@_contact_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_database
def contacts_forget(database: Database, contact_id: int | None, channel: str | None, address: str | None,
                    yes: bool) -> None:
    """Erase a person's personal data (Ley 1581 de 2012), as their BORRAR MIS DATOS does: number,
    name, cargo, conversation and messages. Their entity's answers and tickets stay, anonymised."""
    with database.transaction() as conn:
        found = _find_contact(conn, contact_id, channel, address)
        if found.forgotten_at is not None:
            click.echo(f"contact {found.id}: already erased on {found.forgotten_at:%Y-%m-%d}")
            return
        if not yes and not click.confirm(f"Erase the personal data of contact {found.id}?"):
            raise click.Abort()
        report = personal_data.forget(conn, found.id)
    click.echo(f"contact {report.contact_id}: personal data erased ({report.messages} messages deleted, "
               f"{report.outbox} outbox rows blanked); answers kept, anonymised")


@contacts.command("consents")
@_contact_options
@pass_database
def contacts_consents(database: Database, contact_id: int | None, channel: str | None, address: str | None) -> None:
    """A person's consent history (Ley 1581 de 2012): each consent given or declined, when, through
    what, and the version of the notice. It outlives an erasure."""
    with database.connect() as conn:
        found = _find_contact(conn, contact_id, channel, address)
        records = personal_data.consents(conn, found.id)
    if not records:
        click.echo(f"contact {found.id}: no consent recorded")
    for record in records:
        click.echo(f"{formats.moment(record.created_at)}  {'given' if record.given else 'declined':8}  "
                   f"version {record.version or '-'}  via {record.source}")


@contacts.command("purge")
@click.option("--days", type=int, help="Retention in days (default: M360_RETENTION_DAYS, or 730).")
@pass_database
def contacts_purge(database: Database, days: int | None) -> None:
    """Erase the personal data of every contact silent for longer than the retention period."""
    days = personal_data.retention_days() if days is None else days
    with database.transaction() as conn:
        erased = personal_data.purge_expired(conn, days=days)
    click.echo(f"retention {days} days: {len(erased)} contact(s) erased" if days > 0 else
               "retention is off (0 days): nothing erased")
