"""The entity satisfaction score (the 2020 Monitoreo 360 informe de percepción, Gráfico 10: "Satisfecho vs
Insatisfecho (Umbral 3,5/5,0)"): ONE definition, used by the DER
alerts (bot.alerts.alerting, rule ``insatisfaccion``) and by the reports (analysis.indicators).

The score is the mean of the 1–5 answers to ``puntaje_general`` (1.1) and the Bloque 2 aspects
(configurable: pass other questions). A score below 3,5 is *insatisfecho*; exactly 3,5 is satisfied.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

THRESHOLD = 3.5
ASPECTS = ("aspecto_oportunidad", "aspecto_materiales", "aspecto_virtualidad", "aspecto_profundidad", "aspecto_kpt",
           "aspecto_asesor")
SCORE_QUESTIONS = ("puntaje_general", *ASPECTS)


def rating(value: Any) -> float | None:
    """A 1–5 answer as a number (stored ratings are ints; booleans, text and NaN are not ratings)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def entity_score(answers: Mapping[str, Any], questions: Iterable[str] = SCORE_QUESTIONS) -> float | None:
    """The entity's satisfaction score: the mean of the 1–5 answers among ``questions`` (None if none)."""
    values = [v for q in questions if (v := rating(answers.get(q))) is not None]
    return sum(values) / len(values) if values else None


def is_insatisfecho(score: float | None, threshold: float = THRESHOLD) -> bool | None:
    """True below the threshold, False at or above it, None without a score."""
    return None if score is None else score < threshold
