"""Data builders: imported interviews for the results (six, octubre–noviembre 2020), a contact as
the directory leaves it, the seed001 folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from analysis import export
from surveys import db, schema
from surveys.models import Contact
from tests.support.clock import NOW

COLUMNS = export.ID_COLUMNS + export.question_columns([schema.builtin("monitoreo360")])

GOOD = dict(puntaje_general=5, aspecto_oportunidad=4, aspecto_materiales=4, aspecto_virtualidad=4,
            aspecto_profundidad=4, aspecto_kpt=4, aspecto_asesor=4)  # score 29/7 = 4,14
BAD = dict(puntaje_general=3, aspecto_oportunidad=3, aspecto_materiales=3, aspecto_virtualidad=4,
           aspecto_profundidad=4, aspecto_kpt=4, aspecto_asesor=3)  # score 24/7 = 3,43: insatisfecho
EDGE = dict(puntaje_general=4, aspecto_kpt=3)  # other aspects unanswered: score exactly 3,5, satisfied

ROWS = [
    # octubre: 2 interviews
    dict(periodo="2020-10", entidad_codigo="63302", **GOOD, tema_plan_indicativo="buena", demanda_temas="proyectos"),
    dict(periodo="2020-10", entidad_codigo="19050", **BAD, tema_plan_indicativo="regular",
         demanda_temas="seguimiento_pdt"),
    # noviembre: 4 interviews
    dict(periodo="2020-11", entidad_codigo="63302", **GOOD, tema_plan_indicativo="excelente",
         tema_armonizacion="no_aplica", contribuye_articulacion="si", porque_articulacion="entendimos la ruta",
         demanda_temas="seguimiento_pdt;proyectos"),
    dict(periodo="2020-11", entidad_codigo="19050", **BAD, tema_plan_indicativo="no_aplica",
         tema_armonizacion="mala", contribuye_articulacion="no", porque_articulacion="<script>alert(1)</script>",
         demanda_temas="seguimiento_pdt"),
    dict(periodo="2020-11", entidad_codigo="52835", **EDGE, tema_plan_indicativo="buena",
         tema_armonizacion="no_aplica", contribuye_articulacion="parcialmente", porque_articulacion="a medias"),
    dict(periodo="2020-11", entidad_codigo="63", **GOOD, tema_plan_indicativo="excelente",
         tema_armonizacion="buena", contribuye_articulacion="si", porque_articulacion="apropiamos los temas",
         demanda_temas="seguimiento_pdt;planeacion_financiera"),
]


def contact_on(engine: Engine, code: str, address: str, channel: str = "whatsapp", **extra: Any) -> int:
    """A contact as the directory leaves it (consent, entity, cargo), on the channel of
    tests.support.conversation.Chat."""
    values = dict(channel=channel, address=address, entity_code=code, consent=True, consent_at=NOW,
                  consent_version="directorio", cargo="secretario", name=None, opted_out=False, state={},
                  state_version=0, created_at=NOW)
    values.update(extra)
    with db.transaction(engine) as conn:
        return int(conn.execute(Contact.__table__.insert(), values).inserted_primary_key[0])


SEED = Path(__file__).parent.parent / "data" / "seed001"
