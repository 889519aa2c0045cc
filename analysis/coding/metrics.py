"""Evaluation of multi-label codes against gold codes.

- per code: precision, recall, F1 (a code never predicted and never gold is left out of the macro);
- macro-F1: the unweighted mean of the per-code F1 (rare codes count as much as frequent ones);
- Cohen's kappa: per code on the binary present/absent decision over all answers, and their mean
  (``kappa``), the agreement beyond chance a human coder would be measured with;
- exact match: the share of answers whose whole code set is right;
- auto-accept: at a confidence threshold, the share of answers accepted (coverage) and the precision
  of the codes given to them (and their exact-match rate).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeScore:
    code: str
    precision: float
    recall: float
    f1: float
    support: int  # gold answers with the code
    predicted: int
    kappa: float


@dataclass
class Evaluation:
    n: int
    per_code: list[CodeScore] = field(default_factory=list)
    macro_f1: float = 0.0
    min_recall: float = 0.0
    kappa: float = 0.0
    exact_match: float = 0.0
    threshold: float | None = None
    coverage: float | None = None
    auto_precision: float | None = None
    auto_exact: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n, "macro_f1": round(self.macro_f1, 4), "min_recall": round(self.min_recall, 4),
            "kappa": round(self.kappa, 4), "exact_match": round(self.exact_match, 4),
            "threshold": self.threshold, "coverage": _r(self.coverage), "auto_precision": _r(self.auto_precision),
            "auto_exact": _r(self.auto_exact),
            "per_code": {s.code: {"precision": round(s.precision, 4), "recall": round(s.recall, 4),
                                  "f1": round(s.f1, 4), "support": s.support, "predicted": s.predicted,
                                  "kappa": round(s.kappa, 4)} for s in self.per_code},
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two binary codings of the same items: (p_o − p_e) / (1 − p_e); 1.0 when both
    are constant and equal (perfect agreement with no variation)."""
    n = len(a)
    if n == 0:
        return 0.0
    agree = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    if expected == 1.0:
        return 1.0 if agree == 1.0 else 0.0
    return (agree - expected) / (1 - expected)


def score_codes(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], codes: Sequence[str]) -> Evaluation:
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    n = len(gold)
    g_sets = [set(x) for x in gold]
    p_sets = [set(x) for x in predicted]
    per_code = []
    for code in codes:
        g = [code in s for s in g_sets]
        p = [code in s for s in p_sets]
        if not any(g) and not any(p):
            continue
        tp = sum(x and y for x, y in zip(g, p, strict=True))
        precision, recall = _div(tp, sum(p)), _div(tp, sum(g))
        f1 = _div(2 * precision * recall, precision + recall)
        per_code.append(CodeScore(code, precision, recall, f1, sum(g), sum(p), cohen_kappa(g, p)))
    ev = Evaluation(n=n, per_code=per_code)
    if per_code:
        ev.macro_f1 = sum(s.f1 for s in per_code) / len(per_code)
        with_support = [s.recall for s in per_code if s.support]
        ev.min_recall = min(with_support) if with_support else 0.0
        ev.kappa = sum(s.kappa for s in per_code) / len(per_code)
    ev.exact_match = _div(sum(g == p for g, p in zip(g_sets, p_sets, strict=True)), n)
    return ev


def code_hits(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> tuple[int, int]:
    """(codes given that are right, codes given) over these answers: what a code precision is made of."""
    right = sum(len(set(p) & set(g)) for g, p in zip(gold, predicted, strict=True))
    return right, sum(len(set(p)) for p in predicted)


def auto_accept(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], confidence: Sequence[float],
                threshold: float) -> tuple[float, float, float]:
    """(coverage, code precision, exact-match rate) of the answers whose confidence ≥ threshold.
    Precision and exact match are 1.0 when nothing is accepted (no accepted code is wrong)."""
    accepted = [i for i, c in enumerate(confidence) if c >= threshold]
    if not accepted:
        return 0.0, 1.0, 1.0
    tp, given = code_hits([gold[i] for i in accepted], [predicted[i] for i in accepted])
    exact = sum(set(predicted[i]) == set(gold[i]) for i in accepted)
    return len(accepted) / len(gold), _div(tp, given), exact / len(accepted)


def curve(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
          confidence: Sequence[float]) -> list[tuple[float, float, float]]:
    """The coverage/precision curve: (threshold, coverage, precision) at every distinct confidence."""
    return [(t, *auto_accept(gold, predicted, confidence, t)[:2]) for t in sorted(set(confidence))]


def wilson_lower(successes: int, n: int, z: float) -> float:
    """The lower end of the Wilson score interval of a proportion (one-sided, ``z`` standard errors)."""
    if n == 0:
        return 0.0
    p = successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def choose_threshold(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], confidence: Sequence[float],
                     target_precision: float = 0.95, floor: float = 0.5, z: float = 0.0) -> float:
    """The lowest threshold (≥ ``floor``) whose accepted answers keep code precision ≥
    ``target_precision``: the most coverage that still meets the target. With ``z`` > 0 the
    precision must hold with that margin: the lower end of its Wilson interval (``z`` standard
    errors, counted over the codes given) must reach the target. 1.0 (nothing accepted
    automatically) if no threshold does."""
    # From the most confident answer down: each threshold accepts the answers at or above it.
    order = sorted(range(len(confidence)), key=lambda i: -confidence[i])
    given = right = 0
    lowest = 1.0
    for rank, i in enumerate(order):
        given += len(set(predicted[i]))
        right += len(set(predicted[i]) & set(gold[i]))
        t = confidence[i]
        last_of_tie = rank + 1 == len(order) or confidence[order[rank + 1]] != t
        if last_of_tie and t >= floor and given and wilson_lower(right, given, z) >= target_precision:
            lowest = t
    return round(lowest, 6)
