"""``m360 templates``: the WhatsApp templates the bot needs outside the 24-hour window."""

from __future__ import annotations

import click

from bot.channels import templates


@click.command("templates")
def templates_command() -> None:
    """The WhatsApp templates, one per message the bot starts: text, variables, whether configured."""
    missing = 0
    for template in templates.catalogue().values():
        sid = template.content_sid
        missing += sid is None
        click.echo(f"{template.kind} ({template.name}): {sid or 'NOT CONFIGURED'} [{template.env}]")
        click.echo(f"    {template.body}")
        for number, meaning in template.variables.items():
            click.echo(f"    {{{{{number}}}}} = {meaning}")
    if missing:
        click.echo(f"{missing} template(s) not configured: WhatsApp contacts outside the 24-hour window do not "
                   "receive those messages (docs/whatsapp-templates.md)", err=True)
