"""How entities are named: Spanish title case for DIVIPOLA's upper-case names and the product's display
name ("Génova (Quindío)", "Gobernación del Meta", "Bogotá, D.C.")."""

from __future__ import annotations

from surveys.entities.kinds import BOGOTA_DEPT, NATIONAL_DEPT, OTHER_KIND

# Departments whose name takes the article in common usage ("Gobernación del Meta"); the rest take "de".
_TAKES_DEL = frozenset(
    {"08", "18", "19", "20", "27", "41", "47", "50", "63", "73", "76", "85", "86", "88", "91", "94", "95", "97", "99"}
)
# Short department names for "Municipio (Departamento)" labels where the official one is too long for a chat.
DEPT_SHORT_NAMES = {"88": "San Andrés y Providencia"}


NAME_PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "el"})


def title_es(name: str) -> str:
    """Spanish title case for DIVIPOLA's upper-case names: "SAN JOSÉ DEL GUAVIARE" → "San José del Guaviare"."""
    words = []
    for i, word in enumerate(name.split()):
        low = word.lower()
        if i > 0 and low in NAME_PARTICLES:
            words.append(low)
        elif "." in word:  # initials such as "D.C."
            words.append(word.upper())
        else:
            words.append("-".join(part.capitalize() for part in word.split("-")))
    return " ".join(words)


def display_name(name: str, kind: str, dept_code: str, dept_name: str) -> str:
    """How the product names an entity (bot, alerts, tickets, reports): "Génova (Quindío)",
    "Gobernación del Meta", "Bogotá, D.C."; another grupo de valor by its name ("Asociación de
    Municipios del Sur (Huila)")."""
    if kind == OTHER_KIND:
        return name if dept_code == NATIONAL_DEPT else f"{name} ({dept_name})"
    if kind == "gobernacion":
        if dept_code == BOGOTA_DEPT:  # a Distrito Capital has no gobernación
            return f"{name} (nivel departamental)"
        return f"Gobernación {'del' if dept_code in _TAKES_DEL else 'de'} {name}"
    if dept_code == BOGOTA_DEPT:
        return name
    return f"{name} ({DEPT_SHORT_NAMES.get(dept_code, dept_name)})"
