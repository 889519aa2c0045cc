"""What the interview engine is waiting for the respondent to confirm (``FlowState.pending``).

One small record per kind, because each kind carries different things: a guess has one value
(and, for a date, the day it was read against), a pick has the values offered, an entity has a
DIVIPOLA code or the codes offered. A record cannot be a "choose" without values or an entity
confirmation without a code, and mypy checks every read.

Each record reads and writes exactly the JSON shape a flow has always been stored in,
``{"kind": "confirm", "value": …, "raw": …}`` and so on, so a state saved by an earlier version
still loads, and the prompt token (``bot/conversation/prompts.py``), which hashes that JSON, does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, ClassVar


class PendingKind(StrEnum):
    """The ``"kind"`` of a stored pending confirmation."""

    CONFIRM = "confirm"  # "¿Quiso decir X?" for a value read with doubt
    SUGGESTION = "suggestion"  # an answer proposed from an earlier one ("Entiendo que … ¿Es correcto?")
    CHOOSE = "choose"  # "¿Quiso decir 4 (Buena) o 5 (Excelente)?"
    ENTITY_CONFIRM = "entity_confirm"  # "¿Se refiere a Armenia (Quindío)?"
    ENTITY_PICK = "entity_pick"  # a numbered list of municipios or departamentos


@dataclass(frozen=True)
class Confirm:
    """A value read with doubt, to confirm. ``today`` is the day a date was read against (its
    read-back names the year when it is not this one); stored only for date questions."""

    kind: ClassVar[PendingKind] = PendingKind.CONFIRM
    value: Any
    raw: str  # the reply it was read from (stored with the answer)
    today: date | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": str(self.kind), "value": self.value, "raw": self.raw}
        if self.today is not None:
            data["today"] = self.today.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Confirm:
        today = data.get("today")
        return cls(data["value"], data["raw"], date.fromisoformat(today) if today else None)


@dataclass(frozen=True)
class Suggestion:
    """An answer worked out from an earlier one (``Question.suggest``); ``raw`` is that answer."""

    kind: ClassVar[PendingKind] = PendingKind.SUGGESTION
    value: Any
    raw: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "value": self.value, "raw": self.raw}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Suggestion:
        return cls(data["value"], data["raw"])


@dataclass(frozen=True)
class Choose:
    """A reply that could mean any of ``values``, in the order offered."""

    kind: ClassVar[PendingKind] = PendingKind.CHOOSE
    values: tuple[Any, ...]
    raw: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "values": list(self.values), "raw": self.raw}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Choose:
        return cls(tuple(data["values"]), data["raw"])


@dataclass(frozen=True)
class EntityConfirm:
    """One entity found for the reply, to confirm."""

    kind: ClassVar[PendingKind] = PendingKind.ENTITY_CONFIRM
    code: str  # DIVIPOLA code
    raw: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "code": self.code, "raw": self.raw}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntityConfirm:
        return cls(data["code"], data["raw"])


@dataclass(frozen=True)
class EntityPick:
    """Several entities that fit the reply, offered as a numbered list."""

    kind: ClassVar[PendingKind] = PendingKind.ENTITY_PICK
    codes: tuple[str, ...]
    raw: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "codes": list(self.codes), "raw": self.raw}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EntityPick:
        return cls(tuple(data["codes"]), data["raw"])


Pending = Confirm | Suggestion | Choose | EntityConfirm | EntityPick
_BY_KIND: dict[PendingKind, type[Pending]] = {
    r.kind: r for r in (Confirm, Suggestion, Choose, EntityConfirm, EntityPick)
}


def pending_from_json(data: Mapping[str, Any]) -> Pending:
    """The record of a stored pending confirmation, by its ``"kind"``."""
    return _BY_KIND[PendingKind(data["kind"])].from_json(data)
