"""``m360 users`` (accounts of the web panel) and ``m360 tokens`` (bearer tokens of the JSON API):
both are bot.accounts, the people and programs allowed in."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from bot.accounts import (
    MIN_PASSWORD,
    PANEL_ROLES,
    ROLES,
    change_password,
    create_token,
    create_user,
    disable_user,
    revoke_token,
)
from bot.cli.common import Database, login, pass_database
from surveys.models import ApiToken, UserAccount


@click.group("users")
def users_group() -> None:
    """Accounts of the web panel (/panel)."""


def _read_password(label: str, from_stdin: bool) -> str:
    """One line of stdin, or asked twice without echo."""
    if from_stdin or not sys.stdin.isatty():  # a script, CI, a container: the first line of stdin
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise click.ClickException("no password given: pipe it in, e.g. printf '%s\\n' 'una-clave-larga' | "
                                       "m360 users create --username ana --role admin --password-stdin")
        return password
    return str(click.prompt(f"{label} (at least {MIN_PASSWORD} characters)", hide_input=True,
                            confirmation_prompt=True))


@users_group.command("create")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(PANEL_ROLES), required=True,
              help="enlace: sees only the tickets and alerts of the entities or region the directory gives "
                   "the person whose `usuario` is this username (docs/enlaces.md).")
@click.option("--name", default="", help="Full name, shown in the panel and in audit trails.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin instead of prompting.")
@pass_database
def users_create(database: Database, username: str, role: str, name: str, password_stdin: bool) -> None:
    """Create a panel account. The password is asked twice at a terminal; without one (a script,
    CI, a container) it is read from the first line of stdin:
    printf '%s\n' 'una-clave-larga' | m360 users create --username ana --role admin --password-stdin"""
    password = _read_password("Password", password_stdin)
    try:
        with database.transaction() as conn:
            create_user(conn, username=username, name=name, role=role, password=password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"user {username.strip().lower()} ({role}) created: sign in at /panel/login")


@users_group.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin instead of prompting.")
@pass_database
def users_password(database: Database, username: str, password_stdin: bool) -> None:
    """Set an account's password; every panel session it has ends (signed out everywhere)."""
    password = _read_password("New password", password_stdin)
    try:
        with database.transaction() as conn:
            change_password(conn, username, password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password of {username.strip().lower()} changed; its panel sessions were ended")


@users_group.command("list")
@pass_database
def users_list(database: Database) -> None:
    """Panel accounts."""
    with database.session() as session:
        rows = session.scalars(select(UserAccount).order_by(UserAccount.username)).all()
    for u in rows:
        state = f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "active"
        last = f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
        click.echo(f"{u.username:20s} {u.role:8s} {u.name:30s} {state}  last sign-in {last}")
    if not rows:
        click.echo("no users")


@users_group.command("disable")
@click.argument("username")
@pass_database
def users_disable(database: Database, username: str) -> None:
    """Disable an account (its panel sessions end at once)."""
    with database.transaction() as conn:
        if not disable_user(conn, username):
            raise click.ClickException(f"no active user {username}")
    click.echo(f"user {username} disabled")


@click.group("tokens")
def tokens_group() -> None:
    """Bearer tokens for the JSON API (/api/v1)."""


@tokens_group.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", default=lambda: login("token"), show_default="$USER",
              help="Who or what uses it (shown in audit trails).")
@pass_database
def tokens_create(database: Database, role: str, name: str) -> None:
    """Create a token and print it once (only its hash is stored)."""
    with database.transaction() as conn:
        token = create_token(conn, role=role, name=name)
    click.echo(token)
    click.echo(f"role {role}, name {name}: keep it now, it cannot be shown again", err=True)


@tokens_group.command("list")
@pass_database
def tokens_list(database: Database) -> None:
    """Tokens (never their value)."""
    with database.session() as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
    for t in rows:
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        click.echo(f"{t.id}  {t.role:8s} {t.name:30s} {state}  last used {used}")
    if not rows:
        click.echo("no tokens")


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@pass_database
def tokens_revoke(database: Database, token_id: int) -> None:
    """Revoke a token by its id (see `m360 tokens list`)."""
    with database.transaction() as conn:
        if not revoke_token(conn, token_id):
            raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")
