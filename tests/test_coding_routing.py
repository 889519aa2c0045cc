"""The routing rule (which codes count in an answer's confidence), chosen per codebook by nested
cross-validation: the criterion on synthetic cross-fitted predictions, then through training (the rule
saved in coder.json and used by the loaded coder; a model saved without it routes as before)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.coding import corpus, routing, training
from analysis.coding.routing import Rule
from tests.support.coding import FIXTURE_CORPUS, load_demo, train_demo

#: A fold of cross-fitted predictions: tiers of (answers, their confidence, how many are coded right).
Fold = list[tuple[int, float, int]]

# Every fold alike, its accepted codes right at 0.98: clears the target with room.
SOLID: list[Fold] = [[(300, 0.95, 297), (200, 0.7, 195)]] * 3
# Sure only at the top: the low tier is poor, so the threshold stops above it (60 % coverage, 0.99).
CAUTIOUS: list[Fold] = [[(300, 0.95, 297), (200, 0.6, 160)]] * 3
# Holds pooled (0.967, lower bound 0.961) but not in one fold (0.934): not stable.
ONE_FOLD_BAD: list[Fold] = [[(300, 0.95, 297), (200, 0.7, 195)]] * 2 + [[(300, 0.95, 297), (200, 0.7, 170)]]
# At the edge, as sugerencias is: every held fold ≥ 0.95 and 0.958 pooled, but the lower end of its
# Wilson interval (480 codes) is 0.945: a rule that would pass by luck.
EDGE: list[Fold] = [[(80, 0.95, 77), (160, 0.8, 149), (80, 0.6, 78)],
                    [(40, 0.95, 38), (40, 0.8, 39), (80, 0.6, 79)],
                    [(80, 0.95, 79), (160, 0.8, 158), (80, 0.6, 77)]]
# Nothing the threshold can accept: 0.9 right at every confidence.
POOR: list[Fold] = [[(300, 0.95, 270), (200, 0.7, 180)]] * 3


def judge(rule: Rule, folds: list[Fold]) -> routing.Nested:
    gold, predicted, confidence, fold_of = [], [], [], []
    for f, tiers in enumerate(folds):
        for n, c, right in tiers:
            for i in range(n):
                gold.append(("conectividad",))
                predicted.append(("conectividad",) if i >= n - right else ("destiempo",))
                confidence.append(c)
                fold_of.append(f)
    return routing.nested(rule, gold, predicted, confidence, fold_of, training.TARGET_PRECISION,
                          training.MARGIN_Z)


@pytest.mark.parametrize(("folds", "eligible", "coverage", "precision"), [
    (SOLID, True, 1.0, 0.984),
    (CAUTIOUS, True, 0.6, 0.99),
    (ONE_FOLD_BAD, False, 1.0, 0.967),
    (EDGE, False, 0.6, 0.958),
    (POOR, False, 0.0, 1.0),
])
def test_a_rule_is_eligible_only_with_margin_in_every_fold(folds: list[Fold], eligible: bool, coverage: float,
                                                            precision: float) -> None:
    judged = judge(Rule.GIVEN, folds)
    assert (judged.eligible, judged.coverage, judged.precision) == (eligible, pytest.approx(coverage, abs=1e-3),
                                                                    pytest.approx(precision, abs=1e-3))
    assert len(judged.fold_precision) == 3


@pytest.mark.parametrize(("every", "plausible", "given", "chosen"), [
    # The rule that clears the margin with the most coverage wins.
    (CAUTIOUS, CAUTIOUS, SOLID, Rule.GIVEN),
    (CAUTIOUS, SOLID, CAUTIOUS, Rule.PLAUSIBLE),
    # More coverage is not enough: unstable across folds, or at the edge of the target.
    (CAUTIOUS, ONE_FOLD_BAD, EDGE, Rule.EVERY),
    (POOR, SOLID, EDGE, Rule.PLAUSIBLE),
    # A tie keeps the rule the margin was set for.
    (SOLID, SOLID, SOLID, Rule.EVERY),
    # None clears it: every code, even if it does not clear it either.
    (POOR, EDGE, ONE_FOLD_BAD, Rule.EVERY),
])
def test_the_rule_chosen(every: list[Fold], plausible: list[Fold], given: list[Fold], chosen: Rule) -> None:
    judged = [judge(Rule.EVERY, every), judge(Rule.PLAUSIBLE, plausible), judge(Rule.GIVEN, given)]
    assert routing.choose(judged) is chosen


@pytest.mark.parametrize(("scores", "given", "every", "plausible", "only_given"), [
    # A code left out at 0.12 counts only for the every-code rule.
    ({"conectividad": 0.97, "destiempo": 0.12, "otro": 0.04}, ["conectividad"], 0.88, 0.97, 0.97),
    # At 0.35 it is plausible: it counts for both but the given-only rule.
    ({"conectividad": 0.97, "destiempo": 0.35, "otro": 0.04}, ["conectividad"], 0.65, 0.65, 0.97),
    # Two codes given: the less sure one, whatever the rule.
    ({"conectividad": 0.91, "destiempo": 0.83, "otro": 0.02}, ["conectividad", "destiempo"], 0.83, 0.83, 0.83),
])
def test_which_codes_count(scores: dict[str, float], given: list[str], every: float, plausible: float,
                           only_given: float) -> None:
    codes = ("conectividad", "destiempo", "otro")
    found = [routing.confidence(rule, codes, scores, given) for rule in Rule]
    assert found == pytest.approx([every, plausible, only_given])


# ---------------------------------------------------------------- through training


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo codebook trained with a target every rule clears: the rule with the most nested coverage
    (one that ignores some codes left out) is chosen, not the default one."""
    models = tmp_path_factory.mktemp("lenient")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "TARGET_PRECISION", 0.5)
        result = train_demo(models)
    assert result.routing["rule"] != Rule.EVERY
    return models


def test_the_chosen_rule_is_saved_and_used_on_load(lenient: Path, tmp_path: Path) -> None:
    meta = json.loads((lenient / "demo" / "coder.json").read_text(encoding="utf-8"))
    rule = Rule(meta["routing"]["rule"])
    nested = meta["routing"]["nested"]
    assert set(nested) == {r.value for r in Rule}
    assert nested[rule]["eligible"] and nested[rule]["coverage"] == max(n["coverage"] for n in nested.values()
                                                                        if n["eligible"])
    coder = load_demo(lenient)
    assert coder.routing is rule
    texts = [e.text for e in corpus.load(coder.codebook, FIXTURE_CORPUS) if not training.is_blank(e.text)]
    predictions = coder.predict(texts)
    assert [p.confidence for p in predictions] == [
        pytest.approx(routing.confidence(rule, coder.codes, p.scores, p.codes), abs=1e-4) for p in predictions]
    # The same model saved without the field (as before this rule existed) routes by every code.
    shutil.copytree(lenient / "demo", tmp_path / "demo")
    del meta["routing"]
    (tmp_path / "demo" / "coder.json").write_text(json.dumps(meta), encoding="utf-8")
    old = load_demo(tmp_path)
    assert old.routing is Rule.EVERY
    again = old.predict(texts)
    assert [p.codes for p in again] == [p.codes for p in predictions]
    assert [p.confidence for p in again] == [
        pytest.approx(routing.confidence(Rule.EVERY, old.codes, p.scores, p.codes), abs=1e-4) for p in again]
    assert any(a.confidence < p.confidence for a, p in zip(again, predictions, strict=True))
