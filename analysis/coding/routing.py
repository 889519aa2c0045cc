"""Routing: which codes count in an answer's confidence, and how training chooses that rule per codebook.

An answer is accepted without review when its confidence — the least sure of the per-code decisions
that count (``p`` for a code given, ``1 − p`` for a code left out) — reaches the codebook's threshold.
Which codes left out count is the *rule* (:class:`Rule`). Training chooses it per codebook
(:func:`choose`) on the cross-fitted predictions of the training answers only, by nested
cross-validation over the family folds: for each fold, the threshold is chosen on the other folds'
predictions (:func:`analysis.coding.metrics.choose_threshold`, the same margin as the final one) and
applied to the held fold. A rule is **eligible** when, pooled over the held folds, its accepted codes
keep precision ≥ the target at the lower end of a one-sided Wilson interval (``z``), and every held
fold on its own keeps the target (a rule that holds on average but not in one fold is not stable).
The eligible rule with the most nested coverage wins; none eligible: :attr:`Rule.EVERY`, the rule
the margin was first set for (docs/coding.md *Threshold*).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from analysis.coding import metrics

#: A code left out counts in the PLAUSIBLE rule's confidence from this calibrated score up.
PLAUSIBLE_FROM = 0.3


class Rule(StrEnum):
    """Which per-code decisions count in an answer's confidence (in the order of preference on a tie)."""

    EVERY = "every"  # every code: p if given, 1 − p if left out
    PLAUSIBLE = "plausible"  # the codes given and those left out at p ≥ PLAUSIBLE_FROM
    GIVEN = "given"  # the codes given only

    @property
    def label(self) -> str:
        return {Rule.EVERY: "every code", Rule.PLAUSIBLE: f"given + left out at p ≥ {PLAUSIBLE_FROM}",
                Rule.GIVEN: "codes given only"}[self]


def confidence(rule: Rule, codes: Sequence[str], scores: dict[str, float], given: Sequence[str]) -> float:
    """The least sure of the decisions that ``rule`` counts."""
    if rule is Rule.EVERY:
        counted: Sequence[str] = codes
    elif rule is Rule.PLAUSIBLE:
        counted = [c for c in codes if c in given or scores[c] >= PLAUSIBLE_FROM]
    else:
        counted = given
    return min(scores[c] if c in given else 1 - scores[c] for c in counted)


@dataclass(frozen=True)
class Nested:
    """One rule judged by nested cross-validation: what its held folds accepted, pooled and per fold."""

    rule: Rule
    coverage: float
    precision: float
    exact: float  # exact-match rate of the accepted answers (a code left out of one is not a precision error)
    precision_lower: float  # the pooled precision's Wilson lower bound
    fold_precision: tuple[float, ...]
    eligible: bool

    def as_dict(self) -> dict[str, object]:
        out = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}
        out.update(rule=self.rule.value, fold_precision=[round(p, 4) for p in self.fold_precision])
        return out


def nested(rule: Rule, gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
           confidence_: Sequence[float], fold_of: Sequence[int], target: float, z: float,
           judge_z: float | None = None) -> Nested:
    """``rule``'s confidences judged by nested cross-validation: each fold's threshold chosen on the other
    folds (precision ≥ ``target`` at the Wilson margin ``z``), applied to it; eligibility judged at
    ``judge_z`` (default ``z``)."""
    judge_z = z if judge_z is None else judge_z
    accepted = [False] * len(gold)
    folds = sorted(set(fold_of))
    per_fold = []
    for held in folds:
        rest = [i for i, f in enumerate(fold_of) if f != held]
        t = metrics.choose_threshold([gold[i] for i in rest], [predicted[i] for i in rest],
                                     [confidence_[i] for i in rest], target, z=z)
        mine = [i for i, f in enumerate(fold_of) if f == held]
        for i in mine:
            accepted[i] = confidence_[i] >= max(t, 0.5)
        per_fold.append(metrics.auto_accept([gold[i] for i in mine], [predicted[i] for i in mine],
                                            [float(accepted[i]) for i in mine], 1.0)[1])
    taken = [i for i, a in enumerate(accepted) if a]
    right, given = metrics.code_hits([gold[i] for i in taken], [predicted[i] for i in taken])
    coverage, precision, exact = metrics.auto_accept(gold, predicted, [float(a) for a in accepted], 1.0)
    lower = metrics.wilson_lower(right, given, judge_z) if given else 0.0
    eligible = bool(taken) and lower >= target and all(p >= target for p in per_fold)
    return Nested(rule, coverage, precision, exact, lower, tuple(per_fold), eligible)


def choose(judged: Sequence[Nested]) -> Rule:
    """The eligible rule with the most nested coverage (ties: the earlier rule); none: :attr:`Rule.EVERY`."""
    eligible = [n for n in judged if n.eligible]
    if not eligible:
        return Rule.EVERY
    order = list(Rule)
    return max(eligible, key=lambda n: (n.coverage, -order.index(n.rule))).rule


def marker(rule: Rule, eligible: bool, chosen: Rule) -> str:
    """How a printed table of judged rules marks ``rule``: the one chosen (and why), or one not eligible."""
    if rule is chosen:
        return "  ← chosen" if eligible else "  ← chosen (none eligible: the default)"
    return "" if eligible else "  (not eligible)"
