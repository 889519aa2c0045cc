"""How much of a macro-F1 margin is the sample: a paired bootstrap of coder − peer on one evaluation set.

The answers are resampled with replacement (the same resample for both models: paired), the per-code
counts re-summed and both macro-F1 recomputed the way ``analysis.coding.metrics.score_codes`` does (a
code neither given nor gold in a resample is left out of the mean). The spread of the margin over the
resamples is what another set of the same size, written the same way, would move it by. Pure numpy:
one weight matrix (resamples × answers) times the answers' per-code hit counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MarginInterval:
    margin: float  # on the set itself
    low: float  # lower end of the central interval
    high: float
    share_at_least: float  # share of resamples whose margin reaches the target
    resampled: np.ndarray  # the margin of every resample (same seed: codebooks can be averaged resample-wise)


def _indicators(sets: Sequence[Sequence[str]], codes: Sequence[str]) -> np.ndarray:
    return np.array([[c in set(s) for c in codes] for s in sets], dtype=float).reshape(len(sets), len(codes))


def _macro_f1(weights: np.ndarray, gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    tp = weights @ (gold * predicted)
    fp = weights @ ((1 - gold) * predicted)
    fn = weights @ (gold * (1 - predicted))
    denominator = 2 * tp + fp + fn
    present = denominator > 0
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=present)
    return f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)


def paired_margin(gold: Sequence[Sequence[str]], mine: Sequence[Sequence[str]], theirs: Sequence[Sequence[str]],
                  codes: Sequence[str], *, target: float = 0.02, resamples: int = 2000, level: float = 0.90,
                  seed: int = 13) -> MarginInterval:
    n = len(gold)
    g, a, b = (_indicators(x, codes) for x in (gold, mine, theirs))
    rng = np.random.default_rng(seed)
    weights = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1 / n), size=resamples)])
    margins = _macro_f1(weights, g, a) - _macro_f1(weights, g, b)
    return interval(float(margins[0]), margins[1:], target=target, level=level)


def interval(margin: float, resampled: np.ndarray, *, target: float = 0.02, level: float = 0.90) -> MarginInterval:
    tail = (1 - level) / 2
    low, high = np.quantile(resampled, [tail, 1 - tail])
    return MarginInterval(margin, float(low), float(high), float(np.mean(resampled >= target)), resampled)


def mean_of(intervals: Sequence[MarginInterval], *, target: float = 0.02, level: float = 0.90) -> MarginInterval:
    """The mean margin over several sets (codebooks), each resampled independently."""
    return interval(float(np.mean([i.margin for i in intervals])), np.mean([i.resampled for i in intervals], axis=0),
                    target=target, level=level)
