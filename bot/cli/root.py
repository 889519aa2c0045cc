"""The root ``m360`` group: logging, the command line's clock, and where each command lives.

A command's module is imported when that command runs, so ``m360 wave tick`` from cron does not
load pandas, spaCy or Flask, and ``m360 --help`` lists the commands from their docstrings without
importing any of them."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
from collections.abc import Mapping
from typing import Any

import click

from surveys import settings

# name → "module:attribute" of the click command or group.
COMMANDS = {
    "alerts": "bot.cli.alerts:alerts_group",
    "chat": "bot.cli.chat:chat",
    "coder": "analysis.coding.cli:coder",
    "contacts": "bot.cli.contacts:contacts",
    "db": "bot.cli.database:db_group",
    "entities": "bot.cli.entities:entities_group",
    "interviews": "bot.cli.interviews:interviews_group",
    "invitations": "bot.cli.invitations:invitations_group",
    "outbox": "bot.cli.outbox:outbox_group",
    "questionnaire": "bot.cli.questionnaire:questionnaire_group",
    "report": "bot.cli.report:report",
    "responses": "bot.cli.responses:responses_group",
    "serve": "bot.cli.serve:serve",
    "staff": "bot.cli.staff:staff",
    "telegram": "bot.cli.telegram:telegram_group",
    "templates": "bot.cli.templates:templates_command",
    "tickets": "bot.cli.tickets:tickets_group",
    "tokens": "bot.cli.accounts:tokens_group",
    "users": "bot.cli.accounts:users_group",
    "wave": "bot.cli.waves:wave",
    "worker": "bot.cli.serve:worker_command",
}


def load(reference: str) -> click.Command:
    """The command a ``module:attribute`` reference names (importing its module)."""
    module, attribute = reference.split(":")
    command = getattr(importlib.import_module(module), attribute)
    assert isinstance(command, click.Command), reference
    return command


def docstring(reference: str) -> str | None:
    """The docstring of the function behind a command, read from its module's source without
    running the module (None when it is not a plain function with a docstring)."""
    module, attribute = reference.split(":")
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None  # no source to read (a compiled-only install): the caller imports the module instead
    try:
        with open(spec.origin, encoding="utf-8") as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return ast.get_docstring(node)
    return None


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; its help lists them from their docstrings."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(load(self.lazy_commands[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Stand-ins carrying each docstring: listing the commands must not import their modules.
        listing: dict[str, click.Command] = {}
        for name in self.list_commands(ctx):
            reference = self.lazy_commands.get(name)
            help_text = docstring(reference) if reference and name not in self.commands else None
            command = click.Command(name, help=help_text) if help_text else self.get_command(ctx, name)
            if command is not None:
                listing[name] = command
        click.Group(commands=listing).format_commands(ctx, formatter)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS)
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Monitoreo 360: entrevistas por chat, mesa de ayuda y alertas (DNP)."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings.current()  # a bad variable (M360_NOW, …) is said once, here, not as a traceback mid-command
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
