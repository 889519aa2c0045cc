"""``m360 chat``: the bot in a terminal, a channel adapter like the webhooks (scriptable from stdin)."""

from __future__ import annotations

import secrets
import sys

import click

from bot.cli.common import clock_now
from bot.runtime.coding_worker import interview_coding_job
from bot.runtime.setup import prepare
from bot.service import ChatService
from surveys.messages import Inbound


@click.command("chat")
@click.option("--address", help="Contact id on the console channel (default: a new contact each run).")
def chat(address: str | None) -> None:
    """Chat with the bot in the terminal; reads one message per line from stdin, so it can be scripted."""
    sessions = prepare()
    coding = interview_coding_job(sessions.kw["bind"])
    # No thread here: coded before the reply. The command line's clock (M360_NOW) dates the turns.
    service = ChatService(sessions, on_coded_answer=coding.run_once, clock=clock_now)
    address = address or f"consola-{secrets.token_hex(4)}"
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f"(contacto {address}; escriba y presione Enter; Ctrl-D para salir)")
    while True:
        if interactive:
            click.echo("> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if not interactive:
            click.echo(f"> {text}")
        for reply in service.handle(Inbound(channel="console", address=address, text=text)):
            click.echo(reply.text)
            if reply.options and not any(f"{o.reply}. " in reply.text for o in reply.options):
                click.echo("  [" + " | ".join(o.label for o in reply.options) + "]")
            click.echo()
