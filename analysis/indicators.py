"""The indicators of the informe de percepción (the 22 charts of the 2020 Monitoreo 360 informe), computed
with pandas from the frame of :mod:`analysis.frame` (one row per completed interview).

Rounding, everywhere: percentages to one decimal, means to two, half away from zero
(:func:`pct`, :func:`mean`); every percentage comes with its count and denominator so nothing
has to be recomputed from rounded figures. Denominators:

- satisfaction: completed interviews with an entity score (:mod:`surveys.scoring`);
- a theme's labels (Bloque 3): the interviews that rated it, «No aplica» excluded and counted apart;
- Sí/No/Parcialmente (Bloque 4): the interviews that answered the question;
- code shares: the answers of the question whose coding is *decided* (accepted by the coder or
  reviewed by a person; an answer may carry several codes, so the shares of a month can add up to
  more than 100 %); codings waiting for review are counted apart as ``pending``;
- cumulative demand: theme *mentions* in question 5.1 (each interview may name several themes;
  the shares add up to 100 %, as in the 2020 informe's Gráfico 22); the share of interviews that named
  each theme is given too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from analysis.frame import CODES_SUFFIX, PENDING_SUFFIX
from surveys import schema
from surveys.folding import fold
from surveys.scoring import SCORE_QUESTIONS, THRESHOLD, entity_score

RATINGS = (1, 2, 3, 4, 5)
THEME_QUESTIONS = ("tema_plan_indicativo", "tema_armonizacion", "tema_seguimiento")
CONTRIBUTION_QUESTIONS = ("contribuye_articulacion", "contribuye_necesidades", "contribuye_capacidades")
BAD_THEME_VALUES = ("mala", "muy_mala")
THEME_ORDER = ("excelente", "buena", "regular", "mala", "muy_mala")  # as the report shows them
NOT_APPLICABLE = "no_aplica"
DEMAND_QUESTION = "demanda_temas"
SUMMARY_COLUMNS = ("periodo", "entidad_codigo", "puntaje_general", "puntaje_entidad", "insatisfecho")


def _round(value: float, places: int) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def pct(part: float, whole: float) -> float | None:
    """100·part/whole to one decimal (half away from zero); None when whole is 0."""
    if not whole:
        return None
    return _round(100.0 * part / whole, 1)


def mean(values: Iterable[float]) -> float | None:
    """The mean to two decimals (half away from zero); None for no values."""
    numbers = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return _round(sum(numbers) / len(numbers), 2) if numbers else None


def whole_percent(value: float | None) -> int | None:
    """A percentage as the report prints it (a whole number, half away from zero): 7,4 → 7; 34,6 → 35."""
    return None if value is None else int(_round(value, 0))


@dataclass(frozen=True)
class Options:
    """What the satisfaction score is (configurable: surveys/scoring.py)."""

    score_questions: tuple[str, ...] = SCORE_QUESTIONS
    threshold: float = THRESHOLD


@dataclass(frozen=True)
class Filters:
    """Which entities a report covers. ``department``: DIVIPOLA code or name; ``kind``: alcaldia |
    gobernacion; ``entity``: one DIVIPOLA code (the ficha municipal)."""

    region: str | None = None
    department: str | None = None
    kind: str | None = None
    pdet: bool | None = None
    entity: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _fold(value: Any) -> str:
    """A filter value or a cell compared without case or accents (cells may be numbers or NaN); canonical
    decomposition, as these filters always compared ("4.º" keeps its "º")."""
    return fold(str(value), compatibility=False)


def apply_filters(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The rows of ``frame`` that pass ``filters`` (names compared without case or accents)."""
    mask = pd.Series(True, index=frame.index)
    if filters.region:
        mask &= frame["region"].map(_fold) == _fold(filters.region)
    if filters.department:
        dept = _fold(filters.department)
        mask &= (frame["dept_code"].map(_fold) == dept) | (frame["departamento"].map(_fold) == dept)
    if filters.kind:
        mask &= frame["entidad_tipo"] == filters.kind
    if filters.pdet is not None:
        mask &= frame["pdet"].fillna(False).astype(bool) == filters.pdet
    if filters.entity:
        mask &= frame["entidad_codigo"] == filters.entity
    return frame[mask]


# ---------------------------------------------------------------- labels from the questionnaire


@dataclass(frozen=True)
class Labels:
    """Question and choice labels of the questionnaire (what the report prints)."""

    questionnaire: schema.Questionnaire
    questions: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # question → value → label

    @classmethod
    def of(cls, q: schema.Questionnaire) -> Labels:
        questions = {x.name: schema.question_title(q, x.name) for x in q.questions}
        choices = {x.name: {c.name: c.label for c in q.choice_lists.get(x.choices, ())}
                   for x in q.questions if x.choices}
        return cls(q, questions, choices)

    def question(self, name: str) -> str:
        return self.questions.get(name, name)

    def choice(self, question: str, value: Any) -> str:
        return self.choices.get(question, {}).get(str(value), str(value))

    def values(self, question: str) -> list[str]:
        return list(self.choices.get(question, {}))


ASPECT_LABELS = {"aspecto_oportunidad": "Oportunidad", "aspecto_materiales": "Materiales",
                 "aspecto_virtualidad": "Asistencia virtual", "aspecto_profundidad": "Profundidad",
                 "aspecto_kpt": "Kit de Planeación Territorial (KPT)", "aspecto_asesor": "Asesor"}
THEME_LABELS = {"tema_plan_indicativo": "Plan Indicativo", "tema_armonizacion": "Armonización presupuestal",
                "tema_seguimiento": "Sistema de seguimiento al PDT"}
SHORT_LABELS = {"puntaje_general": "calificación general"}  # what a caption calls a question


def short_label(name: str) -> str:
    """A question's name in a caption ("Oportunidad", "calificación general"): never its code."""
    return (SHORT_LABELS.get(name) or ASPECT_LABELS.get(name) or THEME_LABELS.get(name)
            or CONTRIBUTION_LABELS.get(name) or name.replace("_", " "))


CONTRIBUTION_LABELS = {"contribuye_articulacion": "Articulación de instrumentos de planeación territorial",
                       "contribuye_necesidades": "Se ajusta a las necesidades y debilidades de la entidad",
                       "contribuye_capacidades": "Fortalecimiento de las capacidades de la entidad"}


# ---------------------------------------------------------------- scores


def _numbers(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series.map(lambda v: v if isinstance(v, int | float) and not isinstance(v, bool) else None),
                         errors="coerce")


def with_scores(frame: pd.DataFrame, options: Options = Options()) -> pd.DataFrame:
    """``frame`` plus ``puntaje_entidad`` (surveys.scoring.entity_score over the options' questions)
    and ``insatisfecho`` (True/False; None without a score)."""
    out = frame.copy()
    questions = [q for q in options.score_questions if q in out.columns]
    if out.empty:
        out["puntaje_entidad"] = pd.Series(dtype=float)
        out["insatisfecho"] = pd.Series(dtype=object)
        return out
    columns = [out[q].tolist() for q in questions]
    scores = [entity_score(dict(zip(questions, values, strict=True)), questions)
              for values in zip(*columns, strict=True)]
    out["puntaje_entidad"] = pd.Series(scores, index=out.index, dtype=float)
    out["insatisfecho"] = [None if s is None else s < options.threshold for s in scores]
    return out


def score_distribution(frame: pd.DataFrame, labels: Labels) -> dict[str, Any]:
    """Gráficos 1–4: how many interviews gave each 1–5 to ``puntaje_general``, and the mean."""
    values = _numbers(frame.get("puntaje_general", pd.Series(dtype=object))).dropna()
    n = int(len(values))
    counts = values.astype(int).value_counts()
    return {
        "n": n, "mean": mean(values.tolist()),
        "distribution": [{"value": v, "label": labels.choice("puntaje_general", v), "n": int(counts.get(v, 0)),
                          "pct": pct(int(counts.get(v, 0)), n)} for v in RATINGS],
    }


def distribution_by_month(frame: pd.DataFrame, months: Sequence[str], labels: Labels) -> list[dict[str, Any]]:
    """Gráficos 1–4 month by month."""
    slim = frame[["periodo", "puntaje_general"]] if "puntaje_general" in frame.columns else frame[["periodo"]]
    groups = dict(iter(slim.groupby("periodo"))) if not slim.empty else {}
    return [{"period": m, **score_distribution(groups.get(m, slim.iloc[0:0]), labels)} for m in months]


def satisfaction(scored: pd.DataFrame, options: Options = Options()) -> dict[str, Any]:
    """Gráfico 10: satisfied vs insatisfecho (score below the threshold), per 100 interviews."""
    known = scored[scored["insatisfecho"].notna()] if not scored.empty else scored
    n = int(len(known))
    unhappy = int(sum(bool(x) for x in known["insatisfecho"])) if n else 0
    return {
        "n": n, "threshold": options.threshold, "score_questions": list(options.score_questions),
        "mean_score": mean(known["puntaje_entidad"].tolist()) if n else None,
        "satisfied": n - unhappy, "insatisfechos": unhappy,
        "pct_satisfied": pct(n - unhappy, n), "pct_insatisfechos": pct(unhappy, n),
    }


def summary(scored: pd.DataFrame, options: Options = Options()) -> dict[str, Any]:
    """The headline figures of a cut."""
    general = _numbers(scored.get("puntaje_general", pd.Series(dtype=object))).dropna()
    sat = satisfaction(scored, options)
    return {
        "interviews": int(len(scored)),
        "entities": int(scored["entidad_codigo"].nunique()) if not scored.empty else 0,
        "mean_puntaje_general": mean(general.tolist()),
        "mean_score": sat["mean_score"],
        "insatisfechos": sat["insatisfechos"], "pct_insatisfechos": sat["pct_insatisfechos"],
        "satisfied": sat["satisfied"], "pct_satisfied": sat["pct_satisfied"],
    }


def by_region(scored: pd.DataFrame) -> list[dict[str, Any]]:
    """Gráfico 9: mean of puntaje_general and of the entity score by region."""
    out = []
    if scored.empty:
        return out
    for region, group in scored.groupby(scored["region"].fillna("Sin región"), sort=True):
        known = group[group["insatisfecho"].notna()]
        unhappy = int(sum(bool(x) for x in known["insatisfecho"]))
        out.append({"region": region, "n": int(len(group)),
                    "mean_puntaje_general": mean(_numbers(group["puntaje_general"]).dropna().tolist()),
                    "mean_score": mean(known["puntaje_entidad"].tolist()),
                    "insatisfechos": unhappy, "pct_insatisfechos": pct(unhappy, len(known))})
    return out


def monthly_series(scored: pd.DataFrame, months: Sequence[str], options: Options = Options()) -> list[dict[str, Any]]:
    """Gráfico 11 (and 10 per month): per month, interviews, means and insatisfechos; months without
    interviews are listed with n = 0."""
    slim = scored[[c for c in SUMMARY_COLUMNS if c in scored.columns]]
    groups = dict(iter(slim.groupby("periodo"))) if not slim.empty else {}
    return [{"period": month, **summary(groups.get(month, slim.iloc[0:0]), options)} for month in months]


def aspects_by_month(frame: pd.DataFrame, months: Sequence[str], labels: Labels) -> list[dict[str, Any]]:
    """Gráfico 12: the mean of each Bloque 2 aspect, month by month."""
    aspects = [c for c in ASPECT_LABELS if c in frame.columns]
    numbers = pd.DataFrame({a: _numbers(frame[a]) for a in aspects}, index=frame.index)
    grouped = numbers.groupby(frame["periodo"])
    sums, counts = grouped.sum(), grouped.count()
    out = []
    for aspect in aspects:
        row = {"question": aspect, "label": ASPECT_LABELS.get(aspect, labels.question(aspect)), "months": []}
        for month in months:
            n = int(counts[aspect].get(month, 0)) if month in counts.index else 0
            total = float(sums[aspect].get(month, 0.0)) if n else 0.0
            row["months"].append({"period": month, "n": n, "mean": _round(total / n, 2) if n else None})
        out.append(row)
    return out


def _label_counts(frame: pd.DataFrame, question: str) -> dict[str, dict[str, int]]:
    """month → value → count of the non-empty text answers to ``question``."""
    values = frame[question]
    keep = values.map(lambda v: isinstance(v, str) and v != "").astype(bool)
    if not keep.any():
        return {}
    counts = pd.DataFrame({"periodo": frame["periodo"][keep], "value": values[keep]}).value_counts()
    out: dict[str, dict[str, int]] = {}
    for (month, value), n in counts.items():
        out.setdefault(month, {})[value] = int(n)
    return out


def themes_by_month(frame: pd.DataFrame, months: Sequence[str], labels: Labels) -> list[dict[str, Any]]:
    """Gráficos 13–15: each Bloque 3 theme's label distribution per month. «No aplica» is counted
    apart and left out of the percentages."""
    out = []
    for question in [q for q in THEME_QUESTIONS if q in frame.columns]:
        # Best first, whatever order the chat numbers them in (the colours of charts.SCALE follow it).
        values = sorted((v for v in labels.values(question) if v != NOT_APPLICABLE),
                        key=lambda v: THEME_ORDER.index(v) if v in THEME_ORDER else len(THEME_ORDER)) \
            or list(THEME_ORDER)
        row = {"question": question, "label": THEME_LABELS.get(question, labels.question(question)), "months": []}
        by_month = _label_counts(frame, question)
        for month in months:
            counts = by_month.get(month, {})
            answered = sum(counts.values())
            counts = {v: counts.get(v, 0) for v in [*values, NOT_APPLICABLE]}
            rated = answered - counts[NOT_APPLICABLE]
            row["months"].append({
                "period": month, "answered": answered, "n": rated, "no_aplica": counts[NOT_APPLICABLE],
                "labels": [{"value": v, "label": labels.choice(question, v), "n": counts[v],
                            "pct": pct(counts[v], rated)} for v in values],
            })
        out.append(row)
    return out


def contribution_by_month(frame: pd.DataFrame, months: Sequence[str], labels: Labels) -> list[dict[str, Any]]:
    """Gráficos 16/18/20: Sí / No / Parcialmente shares of each Bloque 4 question, per month."""
    out = []
    for question in [q for q in CONTRIBUTION_QUESTIONS if q in frame.columns]:
        values = labels.values(question) or ["si", "no", "parcialmente"]
        row = {"question": question, "label": CONTRIBUTION_LABELS.get(question, labels.question(question)),
               "text": labels.question(question), "months": []}
        by_month = _label_counts(frame, question)
        for month in months:
            found = by_month.get(month, {})
            n, counts = sum(found.values()), {v: found.get(v, 0) for v in values}
            row["months"].append({"period": month, "n": n,
                                  "answers": [{"value": v, "label": labels.choice(question, v), "n": counts[v],
                                               "pct": pct(counts[v], n)} for v in values]})
        out.append(row)
    return out


def _codebook(codebook_id: str) -> Any:
    """The coder's codebook (analysis.coding), or None if it cannot be read."""
    try:
        from analysis.coding import codebooks
    except ImportError:  # the coder is not installed
        return None
    try:
        return codebooks.cached(codebook_id)
    except Exception:  # a codebook being edited: show code ids without labels
        return None


def codes_by_month(frame: pd.DataFrame, months: Sequence[str], labels: Labels,
                   cut: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Gráficos 5–8, 17, 19, 21: the share of each code among the *decided* codings (accepted by the
    coder or reviewed by a person) of each coded open question, per month, and over the months of
    ``cut`` (``total``; default: all ``months``). Per month and in total: ``answers`` (non-empty
    texts), ``coded`` (decided), ``pending`` (waiting in the review queue: never counted as
    categories) and ``uncoded`` (not coded yet)."""
    out = []
    for question in labels.questionnaire.questions:
        if not question.codebook or question.name not in frame.columns:
            continue
        book = _codebook(question.codebook)
        names = {c.id: c.label for c in book.codes} if book is not None else {}
        stats = _coding_stats(frame, question.name)
        out.append({"question": question.name, "label": labels.question(question.name),
                    "codebook": question.codebook,
                    "months": [{"period": m, **_tally(stats, [m], names)} for m in months],
                    "total": {"months": list(cut if cut is not None else months),
                              **_tally(stats, cut if cut is not None else months, names)}})
    return out


def _coding_stats(frame: pd.DataFrame, question: str) -> dict[str, dict[str, Any]]:
    """month → answers, coded, pending and code → n of one coded question."""
    stats: dict[str, dict[str, Any]] = {}

    def month(m: str) -> dict[str, Any]:
        return stats.setdefault(str(m), {"answers": 0, "coded": 0, "pending": 0, "codes": {}})

    texts = frame[question].map(lambda v: isinstance(v, str) and v.strip() != "").astype(bool)
    for m, n in frame["periodo"][texts].value_counts().items():
        month(m)["answers"] = int(n)
    pending = question + PENDING_SUFFIX
    if pending in frame.columns:
        for m, n in frame["periodo"][frame[pending].notna()].value_counts().items():
            month(m)["pending"] = int(n)
    column = question + CODES_SUFFIX
    codes = frame[column].dropna() if column in frame.columns else pd.Series(dtype=object)
    for m, given in zip(frame["periodo"][codes.index], codes, strict=True):
        if isinstance(given, list):
            entry = month(m)
            entry["coded"] += 1
            for code in dict.fromkeys(given):
                entry["codes"][code] = entry["codes"].get(code, 0) + 1
    return stats


def _tally(stats: Mapping[str, Mapping[str, Any]], span: Iterable[str], names: Mapping[str, str]) -> dict[str, Any]:
    """The counts and shares of the months in ``span`` together (codebook order, then unknown codes)."""
    months = [stats[m] for m in span if m in stats]
    found: dict[str, int] = {}
    for entry in months:
        for code, n in entry["codes"].items():
            found[code] = found.get(code, 0) + n
    answers, coded, pending = (sum(e[key] for e in months) for key in ("answers", "coded", "pending"))
    order = [c for c in names if c in found] + sorted(c for c in found if c not in names)
    return {"answers": answers, "coded": coded, "pending": pending, "uncoded": max(answers - coded - pending, 0),
            "codes": [{"code": c, "label": names.get(c, c), "n": found[c], "pct": pct(found[c], coded)}
                      for c in order]}


def cumulative_demand(frame: pd.DataFrame, labels: Labels, since: str, until: str) -> dict[str, Any]:
    """Gráfico 22: demand for assistance by theme (question 5.1) accumulated over the interviews of
    ``since``..``until``; shares of mentions (adding up to 100 %) and of interviews."""
    span = frame[(frame["periodo"] >= since) & (frame["periodo"] <= until)] if not frame.empty else frame
    answers = span[DEMAND_QUESTION].map(lambda v: list(dict.fromkeys(v)) if isinstance(v, list) else []) \
        if DEMAND_QUESTION in span.columns else pd.Series(dtype=object)
    counts: dict[str, int] = {}
    for themes in answers:
        for theme in themes:
            counts[theme] = counts.get(theme, 0) + 1
    mentions = sum(counts.values())
    interviews = int(len(span))
    order = labels.values(DEMAND_QUESTION)
    ranked = sorted(counts, key=lambda t: (-counts[t], order.index(t) if t in order else len(order), t))
    return {
        "since": since, "until": until, "interviews": interviews,
        "interviews_with_demand": int(sum(1 for a in answers if a)), "mentions": mentions,
        "themes": [{"theme": t, "label": labels.choice(DEMAND_QUESTION, t), "n": counts[t],
                    "pct_mentions": pct(counts[t], mentions), "pct_interviews": pct(counts[t], interviews)}
                   for t in ranked],
    }


def priority_list(scored: pd.DataFrame, tickets: pd.DataFrame, labels: Labels) -> list[dict[str, Any]]:
    """Entidades que requieren atención prioritaria: an interview of the cut insatisfecho,
    with a «No» in Bloque 4 or Mala/Muy mala on a Bloque 3 theme, or an open urgent ticket
    (``tickets``: entity rows with code, entity attributes and ``ticket``). Most reasons first,
    then the lowest score."""
    found: dict[str, dict[str, Any]] = {}

    def entry(row: Mapping[str, Any]) -> dict[str, Any]:
        code = row["entidad_codigo"]
        if code not in found:
            found[code] = {"entity_code": code, "entity": row.get("entidad"), "name": row.get("entidad_nombre"),
                           "kind": row.get("entidad_tipo"), "department": row.get("departamento"),
                           "region": row.get("region"), "pdet": row.get("pdet"), "lat": _num(row.get("lat")),
                           "lon": _num(row.get("lon")), "score": None, "periods": [], "reasons": [], "tickets": []}
        return found[code]

    for row in scored.to_dict("records"):
        reasons = []
        if row.get("insatisfecho"):
            reasons.append({"reason": "insatisfecho", "detail": f"puntaje {_comma(row['puntaje_entidad'])}"})
        for q in CONTRIBUTION_QUESTIONS:
            if row.get(q) == "no":
                reasons.append({"reason": "contribucion_no", "question": q,
                                "detail": f"«No»: {CONTRIBUTION_LABELS.get(q, labels.question(q))}"})
        for q in THEME_QUESTIONS:
            if row.get(q) in BAD_THEME_VALUES:
                reasons.append({"reason": "tema_mala", "question": q,
                                "detail": f"{THEME_LABELS.get(q, q)}: {labels.choice(q, row[q])}"})
        if not reasons:
            continue
        item = entry(row)
        item["reasons"].extend({**r, "period": row["periodo"]} for r in reasons)
        if row["periodo"] not in item["periods"]:
            item["periods"].append(row["periodo"])
        score = row.get("puntaje_entidad")
        if score is not None and not (isinstance(score, float) and math.isnan(score)):
            item["score"] = mean([score]) if item["score"] is None else min(item["score"], mean([score]))
    for row in tickets.to_dict("records"):
        item = entry(row)
        item["tickets"].append(row["ticket"])
        item["reasons"].append({"reason": "ticket_urgente", "detail": f"solicitud urgente abierta {row['ticket']}"})
    return sorted(found.values(), key=lambda x: (-len(x["reasons"]), x["score"] if x["score"] is not None else 9,
                                                 x["entity_code"]))


def change(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures against the previous cut (current − previous; None where either is missing)."""
    keys = ("interviews", "mean_puntaje_general", "mean_score", "pct_insatisfechos", "pct_satisfied")
    out: dict[str, Any] = {}
    for key in keys:
        a, b = current.get(key), previous.get(key)
        out[key] = None if a is None or b is None else _round(a - b, 2)
    return out


def _num(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _comma(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")
