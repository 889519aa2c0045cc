"""Calibrated confidence per code: a logistic regression (Platt scaling, stacked) per code over

    [logit(model score of the code), rule hits for it, rule hits against it,
     logit(the highest model score of any other code),
     rule hits for any other code, rule hits against any other code]

fitted on out-of-fold predictions of the training split (the model never scores an answer it was
trained on here), so the combined score of rules and model reads as a probability. The last feature
lets a code learn from its competitors: ``otro`` (on topic, but no other code) and ``sin_respuesta``
rise when nothing else is likely; a substantive code learns how it co-occurs. The last two let a code
learn from the other codes' keywords: a keyword of another code denied or praised ("no tuvimos
problemas de conexion") is evidence for ``otro``, a keyword of another code stated is evidence against it.
Newton's method with a small L2 penalty; numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EPS = 1e-4
N_FEATURES = 6
#: Used when a code has no positive (or no negative) training example: the model score as is.
IDENTITY = (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
RULE_CAP = 3


def logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def features(score: float, support: int, against: int, best_other: float, support_others: int = 0,
             against_others: int = 0) -> list[float]:
    return [logit(score), float(min(support, RULE_CAP)), float(min(against, RULE_CAP)), logit(best_other),
            float(min(support_others, RULE_CAP)), float(min(against_others, RULE_CAP))]


def others_sum(m: np.ndarray) -> np.ndarray:
    """For a (answers × codes) matrix, the sum over the *other* codes, per cell."""
    return m.sum(axis=1, keepdims=True) - m


def fit(x: Sequence[Sequence[float]], y: Sequence[bool], l2: float = 0.1, iterations: int = 50
        ) -> tuple[float, ...]:
    """Weights (one per feature, then the bias) of P(code | features)."""
    if not any(y) or all(y):
        return IDENTITY
    a = np.hstack([np.asarray(x, dtype=float), np.ones((len(x), 1))])
    t = np.asarray(y, dtype=float)
    n = a.shape[1]
    w = np.zeros(n)
    w[0] = 1.0
    penalty = np.diag([l2] * (n - 1) + [0.0])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(a @ w, -30, 30)))
        grad = a.T @ (p - t) + penalty @ w
        hessian = a.T @ (a * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(n)
        step = np.linalg.solve(hessian, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return tuple(float(v) for v in w)


def best_others(scores: np.ndarray) -> np.ndarray:
    """For a (answers × codes) matrix, the highest score of any *other* code, per cell."""
    if scores.shape[1] < 2:
        return np.zeros_like(scores)
    order = np.sort(scores, axis=1)
    top, second = order[:, -1:], order[:, -2:-1]
    return np.where(scores >= top, second, top)


def apply_matrix(weights: np.ndarray, scores: np.ndarray, support: np.ndarray, against: np.ndarray) -> np.ndarray:
    """Calibrated probabilities for (answers × codes) matrices; ``weights`` is (codes × 7), or
    (codes × 7 + codes) when every code's regression also reads the logits of all codes (``stacked``)."""
    def lg(m: np.ndarray) -> np.ndarray:
        m = np.clip(m, EPS, 1 - EPS)
        return np.log(m / (1 - m))

    logits = lg(scores)
    z = (weights[:, 0] * logits + weights[:, 1] * np.minimum(support, RULE_CAP)
         + weights[:, 2] * np.minimum(against, RULE_CAP) + weights[:, 3] * lg(best_others(scores))
         + weights[:, 4] * np.minimum(others_sum(support), RULE_CAP)
         + weights[:, 5] * np.minimum(others_sum(against), RULE_CAP) + weights[:, -1])
    if weights.shape[1] > N_FEATURES + 1:
        z = z + logits @ weights[:, N_FEATURES:-1].T
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))
