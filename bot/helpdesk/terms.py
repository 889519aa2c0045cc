"""Terms of the mesa de ayuda by request type, and the cadence of follow-ups, as editable data
(``bot/helpdesk/terms.yaml``; another file with ``M360_TERMS_CONFIG``).

Ley 1755 de 2015 gives 15 business days for a general petition, 10 for documents or information and
30 for a consulta (``bot.helpdesk.deadlines.TERMS``); the DER may change them. ``M360_TICKET_DEADLINE_DAYS``,
the older setting, still overrides the general term.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from surveys import settings

DEFAULT_PATH = Path(__file__).with_name("terms.yaml")


@dataclass(frozen=True)
class Term:
    id: str  # general | documentos | consulta
    days: int  # business days
    label: str  # "petición de documentos o información"


@dataclass(frozen=True)
class Terms:
    terms: Mapping[str, Term]
    default: str
    followup_days: int  # business days without news before a follow-up; 0: none
    followup_max: int

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.terms)

    def get(self, request_type: str | None) -> Term:
        """The term of ``request_type`` (the default one when it is None or unknown)."""
        return self.terms.get(request_type or "", self.terms[self.default])


def parse(data: Any, source: str = "terms config", env: Mapping[str, str] | None = None) -> Terms:
    if not isinstance(data, dict) or not isinstance(data.get("terms"), dict) or not data["terms"]:
        raise ValueError(f"{source}: expected a mapping with 'terms'")
    terms: dict[str, Term] = {}
    for term_id, spec in data["terms"].items():
        spec = spec if isinstance(spec, dict) else {"days": spec}
        days = spec.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 0 < days <= 365:
            raise ValueError(f"{source}: terms.{term_id}.days must be a whole number of business days (1–365)")
        terms[str(term_id)] = Term(str(term_id), days, str(spec.get("label") or term_id))
    default = str(data.get("default") or next(iter(terms)))
    if default not in terms:
        raise ValueError(f"{source}: default {default!r} is not one of the terms ({', '.join(terms)})")
    general = (settings.current() if env is None else settings.Settings.from_environ(env)).ticket_deadline_days
    if "general" in terms and general is not None:
        terms["general"] = Term("general", general, terms["general"].label)
    followup = data.get("followup") or {}
    every, most = followup.get("every_business_days", 0), followup.get("max", 0)
    for name, value in (("every_business_days", every), ("max", most)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{source}: followup.{name} must be a whole number ≥ 0")
    return Terms(MappingProxyType(terms), default, every, most)


@cache
def load(path: str | None = None) -> Terms:
    source = Path(path or settings.current().terms_config or DEFAULT_PATH)
    return parse(yaml.safe_load(source.read_text(encoding="utf-8")), str(source))
