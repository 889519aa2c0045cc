"""WhatsApp message templates: one per kind of message the bot starts.

WhatsApp only takes free text within 24 hours of the person's last message; outside that window
Meta accepts nothing but an approved template (Twilio's Content API: ``ContentSid`` +
``ContentVariables``). Every proactive kind has one — its name, text, variables and sample values
live in ``templates.yaml`` (ready to submit for approval; docs/whatsapp-templates.md), its Content
SID in an environment variable (a field of surveys/settings.py).

Whoever queues a message to a WhatsApp contact puts its template and variables in the outbox row
(``payload``); the SID is looked up when the row is sent, so configuring it later (and restarting
the sender) is enough for the rows still waiting. A kind with no SID cannot reach a contact outside
the window: ``problem`` says so before anything is queued (the CLI, the panel) and the sender's
failure raises an alert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from surveys import settings

WHATSAPP_WINDOW = timedelta(hours=24)  # free text only within 24 h of the contact's last message
SOURCE = Path(__file__).with_name("templates.yaml")
MAX_VARIABLE = 600  # characters: WhatsApp's whole body is at most 1,024
WHATSAPP = "whatsapp"


@dataclass(frozen=True)
class Template:
    kind: str
    name: str
    env: str
    description: str
    body: str
    variables: Mapping[str, str]
    sample: Mapping[str, str]

    @property
    def content_sid(self) -> str | None:
        """The approved template's SID in this process's settings (looked up when a row is sent)."""
        return settings.current().value_of(self.env)  # type: ignore[no-any-return]

    def render(self, variables: Mapping[str, str]) -> str:
        return re.sub(r"\{\{(\d+)\}\}", lambda m: str(variables.get(m.group(1), m.group(0))), self.body)


@cache
def catalogue() -> dict[str, Template]:
    data = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    return {kind: Template(kind=kind, name=str(spec["name"]), env=str(spec["env"]),
                           description=str(spec.get("description", "")), body=str(spec["body"]),
                           variables={str(k): str(v) for k, v in spec["variables"].items()},
                           sample={str(k): str(v) for k, v in spec.get("sample", {}).items()})
            for kind, spec in data.items()}


def get(kind: str) -> Template:
    try:
        return catalogue()[kind]
    except KeyError:
        raise KeyError(f"no WhatsApp template {kind!r}; known: {', '.join(catalogue())}") from None


def content_sid(kind: str | None) -> str | None:
    return get(kind).content_sid if kind in catalogue() else None


def clean(value: Any, fallback: str = "-") -> str:
    """A variable as WhatsApp accepts it: one line, no runs of spaces, not empty, not too long."""
    text = re.sub(r"\s*\n\s*", " · ", str(value or "").strip())
    text = re.sub(r"[\t ]{2,}", " ", text)
    if len(text) > MAX_VARIABLE:
        text = text[: MAX_VARIABLE - 1].rstrip() + "…"
    return text or fallback


def payload(kind: str, variables: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The outbox payload for a message that has ``kind``'s template outside the window."""
    template = get(kind)
    missing = set(template.variables) - set(variables)
    if missing:
        raise ValueError(f"template {kind}: missing variables {sorted(missing)}")
    return {"template": kind, "content_variables": {k: clean(variables[k]) for k in sorted(variables)}, **extra}


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    return last_inbound_at is not None and now - last_inbound_at < WHATSAPP_WINDOW


@dataclass(frozen=True)
class Problem:
    """Why a message to a WhatsApp contact cannot be delivered now."""

    template: Template
    last_inbound_at: datetime | None

    def __str__(self) -> str:
        since = f"su último mensaje fue el {self.last_inbound_at:%Y-%m-%d %H:%M} UTC" if self.last_inbound_at \
            else "nunca ha escrito"
        return (f"no se le puede avisar por WhatsApp: pasaron más de 24 horas ({since}) y la plantilla "
                f"«{self.template.name}» no está configurada ({self.template.env})")


def problem(channel: str, kind: str, last_inbound_at: datetime | None, now: datetime) -> Problem | None:
    """A Problem when a message of template ``kind`` to this contact cannot go: WhatsApp, outside the
    window, and no SID for the kind. None when it can."""
    if channel != WHATSAPP or window_open(last_inbound_at, now) or content_sid(kind):
        return None
    return Problem(get(kind), last_inbound_at)
