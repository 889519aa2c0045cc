"""Kinds of entity: alcaldías and gobernaciones (DIVIPOLA codes, all digits) and other grupos de valor."""

from __future__ import annotations

import re
from typing import Literal

BOGOTA_DEPT = "11"
CUNDINAMARCA = "25"  # Bogotá is its capital, and often written "Bogotá, Cundinamarca"


Kind = Literal["alcaldia", "gobernacion"]
# Other grupos de valor (esquemas asociativos, instancias de participación, entidades nacionales,
# cooperantes) registered through the chat or the DER (bot.helpdesk.grupos): kind "otro", a code outside DIVIPOLA's
# digits, and "00" as the department of an entity of national scope.
OTHER_KIND = "otro"
OTHER_CODE = re.compile(r"X\d{4}")
NATIONAL_DEPT = "00"


def is_territorial(code: str | None) -> bool:
    """An alcaldía or a gobernación (a DIVIPOLA code), not another grupo de valor."""
    return bool(code) and str(code).isdigit()
