"""Builds the 2020 example data set: four monthly waves of Monitoreo 360 (agosto–noviembre de 2020, the
months of the 2020 Monitoreo 360 informe de percepción) in the export format, one CSV per month, so that the
report reproduces the figures that informe publishes:

- insatisfechos (entity score < 3,5) per 100 completed interviews: 11, 0, 7, 7
  (6 of 53, 0 of 52, 4 of 54, 4 of 54 → 11,3 / 0,0 / 7,4 / 7,4 %);
- Plan Indicativo «excelente», «No aplica» left out: septiembre 14 of 40 (35,0 %), octubre 20 of
  50 (40,0 %), noviembre 24 of 50 (48,0 %);
- Armonización presupuestal «Mala»: 2 of 40 (5,0 %) in agosto, septiembre and octubre, 1 of 50
  (2,0 %) in noviembre;
- demand accumulated agosto–noviembre: 300 theme mentions, 99 of them seguimiento_pdt (33,0 %),
  then planeacion_financiera (57, 19,0 %) and armonizacion_presupuestal (42, 14,0 %).

Everything else (which entities, the other ratings, the texts) is drawn from a seeded random
generator, so the files are reproducible: ``python tests/data/seed001/build.py`` rewrites them
identically. The year is 2020, the informe's; the sample of 52–54 entities a month is drawn from
DIVIPOLA (mostly alcaldías, a few gobernaciones).
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

import pandas as pd  # noqa: E402

from analysis.export import ID_COLUMNS, question_columns  # noqa: E402
from surveys import schema  # noqa: E402
from surveys.entities import read_reference  # noqa: E402

SEED = 2020_001
YEAR = 2020
BOGOTA = ZoneInfo("America/Bogota")
ASPECTS = ["aspecto_oportunidad", "aspecto_materiales", "aspecto_virtualidad", "aspecto_profundidad",
           "aspecto_kpt", "aspecto_asesor"]

#: month → (interviews, insatisfechos, plan indicativo (rated, excelente), armonización (rated, mala))
WAVES = {
    8: (53, 6, (45, 12), (40, 2)),
    9: (52, 0, (40, 14), (40, 2)),
    10: (54, 4, (50, 20), (40, 2)),
    11: (54, 4, (50, 24), (50, 1)),
}
#: Theme mentions accumulated over the four waves (question 5.1); 300 in all.
DEMAND = {"seguimiento_pdt": 99, "planeacion_financiera": 57, "armonizacion_presupuestal": 42, "proyectos": 33,
          "plan_indicativo": 24, "rendicion_cuentas": 18, "formulacion_pdt": 9, "ordenamiento_territorial": 6,
          "agendas_regionales": 4, "gobierno_abierto": 3, "conectividad_digital": 3, "otro": 2}
NO_DEMAND = 20  # interviews that named no theme (5.1 is optional)

VALORACION_BUENA = ["Muy buen acompañamiento, el asesor siempre responde", "Excelente, nos ayudó a formular el plan",
                    "Buena, nos orientaron en todo el proceso", "Muy útil para articular el plan con el presupuesto",
                    "Positiva, resolvieron nuestras dudas a tiempo", "Buena, aunque quisiéramos más visitas"]
VALORACION_MALA = ["Regular, todo fue virtual y la conexión es mala", "Llegó tarde, ya habíamos entregado el plan",
                   "Poca profundidad, parece más seguimiento que asistencia", "El kit es para municipios grandes"]
PORQUE_SI = {
    "articulacion": ["Entendimos cómo se amarra el plan con el presupuesto", "Las dependencias trabajan alineadas",
                     "El equipo se apropió del plan indicativo"],
    "necesidades": ["El asesor nos atiende de forma personalizada",
                    "Tienen en cuenta las particularidades del municipio",
                    "Las herramientas se ajustan a nuestro contexto"],
    "capacidades": ["Ahora tenemos claridad en los procedimientos", "Mejoró la coordinación interna",
                    "Quedó capacidad instalada en el equipo"],
}
PORQUE_NO = ["La conectividad no permite seguir las sesiones", "Rotan mucho al personal", "Llegó a destiempo",
             "Todo es virtual, necesitamos visitas", "Es más seguimiento que asistencia"]
SUGERENCIAS = ["Más visitas presenciales", "Capacitar a los nuevos funcionarios", "Enviar los materiales antes",
               "", "", "Más acompañamiento en proyectos de regalías"]
OTRO_TEMA = ["Catastro multipropósito", "Gestión del riesgo"]


def _ratings(rng: random.Random, unhappy: bool) -> dict[str, int]:
    """puntaje_general and the six aspects; the entity score (their mean) is ≤ 3,0 when unhappy
    and ≥ 3,71 otherwise (far from the 3,5 threshold)."""
    while True:
        if unhappy:
            values = [rng.choice([2, 3])] + [rng.choice([2, 2, 3, 3, 4]) for _ in ASPECTS]
            ok = sum(values) / 7 <= 3.0
        else:
            values = [rng.choice([4, 4, 5, 5, 3])] + [rng.choice([3, 4, 4, 5, 5]) for _ in ASPECTS]
            ok = sum(values) / 7 >= 3.71 and values[0] >= 3
        if ok:
            return dict(zip(["puntaje_general", *ASPECTS], values, strict=True))


def _labels(rng: random.Random, total: int, rated: int, top: str, top_n: int, rest: list[str]) -> list[str]:
    """``total`` answers: ``total - rated`` no_aplica, ``top_n`` of ``top``, the rest from ``rest``."""
    values = ["no_aplica"] * (total - rated) + [top] * top_n + [rng.choice(rest) for _ in range(rated - top_n)]
    rng.shuffle(values)
    return values


def _demand(rng: random.Random, interviews: int) -> list[list[str]]:
    """Theme lists for ``interviews`` interviews with exactly the DEMAND mentions: each theme goes
    to the interviews with fewest themes that lack it (ties at random); NO_DEMAND get none."""
    lists: list[list[str]] = [[] for _ in range(interviews)]
    open_ = list(range(interviews))
    rng.shuffle(open_)
    takers = open_[NO_DEMAND:]
    for theme, count in DEMAND.items():
        ranked = sorted(takers, key=lambda i: (len(lists[i]), rng.random()))
        for i in ranked[:count]:
            lists[i].append(theme)
    order = list(DEMAND)
    return [sorted(x, key=order.index) for x in lists]


def build() -> dict[str, pd.DataFrame]:
    rng = random.Random(SEED)
    q = schema.builtin("monitoreo360")
    columns = ID_COLUMNS + question_columns([q])
    entities = [e for e in read_reference()]
    alcaldias = [e for e in entities if e.kind == "alcaldia"]
    gobernaciones = [e for e in entities if e.kind == "gobernacion" and e.code != "11"]
    demand = _demand(rng, sum(w[0] for w in WAVES.values()))
    frames: dict[str, pd.DataFrame] = {}
    k = 0
    for month, (n, unhappy, (pi_rated, pi_exc), (arm_rated, arm_mala)) in WAVES.items():
        period = f"{YEAR}-{month:02d}"
        sample = rng.sample(gobernaciones, 5) + rng.sample(alcaldias, n - 5)
        rng.shuffle(sample)
        unhappy_idx = set(rng.sample(range(n), unhappy))
        plan = _labels(rng, n, pi_rated, "excelente", pi_exc, ["buena", "buena", "buena", "regular"])
        armon = _labels(rng, n, arm_rated, "mala", arm_mala, ["excelente", "buena", "buena", "regular"])
        segui = _labels(rng, n, n - rng.randint(2, 6), "excelente", rng.randint(14, 20),
                        ["buena", "buena", "regular", "mala"] if month == 8 else ["buena", "buena", "regular"])
        rows = []
        for i, entity in enumerate(sample):
            sad = i in unhappy_idx
            start = datetime(YEAR, month, rng.randint(3, 26), rng.randint(8, 17), rng.randint(0, 59), tzinfo=BOGOTA)
            row: dict[str, object] = {
                "periodo": period, "entidad_codigo": entity.code, "entidad_nombre": entity.name,
                "entidad_tipo": entity.kind, "departamento": entity.dept_name, "region": entity.region,
                "canal": rng.choice(["whatsapp", "whatsapp", "telegram"]), "estado": "completa",
                "inicio": start.isoformat(timespec="seconds"),
                "fin": (start + timedelta(minutes=rng.randint(4, 15))).isoformat(timespec="seconds"),
                "consentimiento": "si", "cargo": rng.choice(["secretario", "secretario", "jefe", "otro"]),
                **_ratings(rng, sad),
                "valoracion_general": rng.choice(VALORACION_MALA if sad else VALORACION_BUENA),
                "tema_plan_indicativo": plan[i], "tema_armonizacion": armon[i], "tema_seguimiento": segui[i],
            }
            for topic in ("articulacion", "necesidades", "capacidades"):
                answer = (rng.choice(["no", "parcialmente", "parcialmente"]) if sad
                          else rng.choice(["si"] * 8 + ["parcialmente"]))
                row[f"contribuye_{topic}"] = answer
                row[f"porque_{topic}"] = rng.choice(PORQUE_SI[topic] if answer == "si" else PORQUE_NO)
            themes = demand[k]
            k += 1
            if themes:
                row["demanda_temas"] = ";".join(themes)
                if "otro" in themes:
                    row["demanda_otro"] = rng.choice(OTRO_TEMA)
                row["contacto_asesor"] = rng.choice(["si", "no", "no"])
            row["sugerencias"] = rng.choice(SUGERENCIAS)
            rows.append(row)
        frames[period] = pd.DataFrame(rows, columns=columns)
    return frames


def main() -> None:
    for period, frame in build().items():
        path = HERE / f"monitoreo360_{period}.csv"
        frame.to_csv(path, index=False)
        print(f"{path.relative_to(HERE.parents[2])}: {len(frame)} interviews")


if __name__ == "__main__":
    main()
