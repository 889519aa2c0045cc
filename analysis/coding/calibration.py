"""Calibrated confidence per code: logistic regressions (Platt scaling, stacked) per code over

    [logit(score of the code) for each text classifier,
     rule hits for it, rule hits against it,
     logit(the highest mean score of any other code),
     rule hits for any other code, rule hits against any other code]

fitted on out-of-fold predictions of the training split (a classifier never scores an answer it was
trained on here), so the combined score of rules and classifiers reads as a probability. There is
one classifier per *view* of the text (lemmas, character n-grams: :mod:`analysis.coding.model`);
the regression learns, per code, how much each is worth. The competitor's score lets ``otro`` (on
topic, but no other code) and ``sin_respuesta`` rise when nothing else is likely; the other codes'
rule hits let a code learn from the other codes' keywords: a keyword of another code denied or
praised ("no tuvimos problemas de conexion") is evidence for ``otro``, stated is evidence against it.

The *stacked* regression also reads every code's score of every classifier (a code learns from its
neighbours). Newton's method with an L2 penalty; numpy only. One design matrix serves fitting and
prediction, so both always see the same features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPS = 1e-4
RULE_CAP = 3
N_RULE_FEATURES = 5  # rule hits for, against; best other; others' hits for, against


def n_features(views: int, codes: int = 0, stacked: bool = False) -> int:
    """Width of a code's feature row (without the bias)."""
    return views + N_RULE_FEATURES + (views * codes if stacked else 0)


def identity(views: int, codes: int = 0, stacked: bool = False) -> tuple[float, ...]:
    """Weights used when a code has no positive (or no negative) training example: the first
    classifier's score as is."""
    return (1.0,) + (0.0,) * (n_features(views, codes, stacked) - 1) + (0.0,)


def logit(m: np.ndarray) -> np.ndarray:
    m = np.clip(m, EPS, 1 - EPS)
    return np.log(m / (1 - m))


def best_others(scores: np.ndarray) -> np.ndarray:
    """For a (answers × codes) matrix, the highest score of any *other* code, per cell."""
    if scores.shape[1] < 2:
        return np.zeros_like(scores)
    order = np.sort(scores, axis=1)
    top, second = order[:, -1:], order[:, -2:-1]
    return np.where(scores >= top, second, top)


def others_sum(m: np.ndarray) -> np.ndarray:
    """For a (answers × codes) matrix, the sum over the *other* codes, per cell."""
    return m.sum(axis=1, keepdims=True) - m


def design(scores: Sequence[np.ndarray], support: np.ndarray, against: np.ndarray,
           stacked: bool = False) -> np.ndarray:
    """The (answers × codes × features) design of the regressions: ``scores`` holds one
    (answers × codes) matrix of probabilities per classifier, ``support``/``against`` the rule hits."""
    logits = [logit(s) for s in scores]
    mean = np.mean(scores, axis=0)
    columns = [*logits, np.minimum(support, RULE_CAP), np.minimum(against, RULE_CAP), logit(best_others(mean)),
               np.minimum(others_sum(support), RULE_CAP), np.minimum(others_sum(against), RULE_CAP)]
    x = np.stack(columns, axis=2)
    if stacked:
        n_answers, n_codes = support.shape
        every = np.concatenate(logits, axis=1)  # answers × (views·codes)
        x = np.concatenate([x, np.broadcast_to(every[:, None, :], (n_answers, n_codes, every.shape[1]))], axis=2)
    return x


def fit(x: np.ndarray, y: Sequence[bool], l2: float = 0.1, iterations: int = 50) -> tuple[float, ...]:
    """Weights (one per feature, then the bias) of P(code | features); ``x`` is (answers × features)."""
    if not any(y) or all(y):
        return (1.0,) + (0.0,) * x.shape[1]
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


def fit_all(x: np.ndarray, gold: np.ndarray, l2: float) -> np.ndarray:
    """One regression per code: ``x`` (answers × codes × features), ``gold`` (answers × codes) booleans;
    returns (codes × features + 1) weights."""
    return np.array([fit(x[:, j, :], gold[:, j], l2=l2) for j in range(x.shape[1])])


def apply(weights: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Calibrated probabilities (answers × codes) of the design ``x`` under (codes × features + 1) ``weights``."""
    z = np.einsum("acf,cf->ac", x, weights[:, :-1]) + weights[:, -1]
    return 1 / (1 + np.exp(-np.clip(z, -30, 30)))
