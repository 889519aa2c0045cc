""":class:`ReferenceEntity`: one territorial entity with every reference attribute, as read from the CSVs
or the ``entity`` table (``surveys/store.py`` has the short :class:`~surveys.store.EntityView` alerts and
tickets show)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from surveys.entities.names import display_name
from surveys.models import Entity


@dataclass(frozen=True)
class ReferenceEntity:
    """One territorial entity, as read from the reference CSVs or the ``entity`` table."""

    code: str  # 5-digit DIVIPOLA municipal code, or 2-digit department code for a gobernación
    name: str  # display name: "Génova", "Bogotá, D.C.", "Quindío"
    official_name: str  # as in DIVIPOLA: "GÉNOVA"
    kind: str  # alcaldia | gobernacion
    muni_type: str | None  # Municipio, Isla, Área no municipalizada; "Departamento" for gobernaciones
    dept_code: str
    dept_name: str  # display form: "Quindío"
    region: str | None  # the configured regional scheme's region
    regions: dict[str, str] = field(default_factory=dict, hash=False)  # every scheme: name → region
    pdet: bool = False
    pdet_subregion: str | None = None
    lat: float | None = None
    lon: float | None = None

    @property
    def display(self) -> str:
        return display_name(self.name, self.kind, self.dept_code, self.dept_name)

    def columns(self) -> dict[str, Any]:
        """The values of the ``Entity`` ORM row."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["regions"] = dict(self.regions)
        return values

    @classmethod
    def from_row(cls, row: Entity) -> ReferenceEntity:
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["regions"] = dict(row.regions or {})
        return cls(**values)
