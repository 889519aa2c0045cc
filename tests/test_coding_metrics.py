"""Evaluation metrics against values computed by hand."""

from __future__ import annotations

import pytest

from analysis.coding import metrics

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`

GOLD = [["a"], ["a", "b"], ["b"], ["c"], ["a"]]
PRED = [["a"], ["a"], ["b", "c"], ["c"], ["b"]]


def test_per_code_scores_by_hand() -> None:
    ev = metrics.score_codes(GOLD, PRED, ["a", "b", "c", "unused"])
    by = {s.code: s for s in ev.per_code}
    assert set(by) == {"a", "b", "c"}  # a code never gold nor predicted is left out of the macro
    # a: gold in 0,1,4; predicted in 0,1 → tp 2, P 2/2, R 2/3
    assert by["a"].precision == pytest.approx(1.0) and by["a"].recall == pytest.approx(2 / 3)
    assert by["a"].f1 == pytest.approx(0.8)
    # b: gold in 1,2; predicted in 2,4 → tp 1, P 1/2, R 1/2
    assert (by["b"].precision, by["b"].recall, by["b"].f1) == pytest.approx((0.5, 0.5, 0.5))
    # c: gold in 3; predicted in 2,3 → tp 1, P 1/2, R 1
    assert (by["c"].precision, by["c"].recall) == pytest.approx((0.5, 1.0))
    assert by["c"].f1 == pytest.approx(2 / 3)
    assert ev.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert ev.min_recall == pytest.approx(0.5)
    assert ev.exact_match == pytest.approx(2 / 5)  # answers 0 and 3


def test_cohen_kappa_by_hand() -> None:
    # code a: gold [1,1,0,0,1], pred [1,1,0,0,0]: p_o = 4/5; p_e = .6*.4 + .4*.6 = .48 → κ = .32/.52
    a_gold = [True, True, False, False, True]
    a_pred = [True, True, False, False, False]
    assert metrics.cohen_kappa(a_gold, a_pred) == pytest.approx((0.8 - 0.48) / 0.52)
    assert metrics.cohen_kappa(a_gold, a_gold) == pytest.approx(1.0)
    assert metrics.cohen_kappa([True, False], [False, True]) == pytest.approx(-1.0)
    ev = metrics.score_codes(GOLD, PRED, ["a", "b", "c"])
    assert {s.code: s for s in ev.per_code}["a"].kappa == pytest.approx((0.8 - 0.48) / 0.52)


def test_auto_accept_by_hand() -> None:
    confidence = [0.99, 0.9, 0.4, 0.95, 0.6]
    # ≥ 0.9: answers 0, 1, 3 → codes given a, a, c all right → precision 1, exact 2/3 (answer 1 misses b)
    assert metrics.auto_accept(GOLD, PRED, confidence, 0.9) == pytest.approx((0.6, 1.0, 2 / 3))
    # ≥ 0.5: answers 0, 1, 3, 4 → given a, a, c, b; b wrong → precision 3/4
    assert metrics.auto_accept(GOLD, PRED, confidence, 0.5) == pytest.approx((0.8, 0.75, 0.5))
    assert metrics.auto_accept(GOLD, PRED, confidence, 1.5) == (0.0, 1.0, 1.0)


def test_threshold_is_the_most_coverage_meeting_the_precision_target() -> None:
    confidence = [0.99, 0.9, 0.4, 0.95, 0.6]
    assert metrics.choose_threshold(GOLD, PRED, confidence, target_precision=0.95) == pytest.approx(0.9)
    assert metrics.choose_threshold(GOLD, PRED, confidence, target_precision=0.7) == pytest.approx(0.6)
    # Nothing meets an impossible target: nothing is accepted automatically.
    wrong = [["b"]] * 5
    assert metrics.choose_threshold(GOLD, wrong, confidence, target_precision=0.95) == 1.0
    # With a margin the precision must hold at the lower end of its Wilson interval: 3 right codes of 3
    # are not enough evidence for 0.95 (lower end 0.65 at z = 1.28), so nothing is accepted.
    assert metrics.choose_threshold(GOLD, PRED, confidence, target_precision=0.95, z=1.28) == 1.0
    assert metrics.wilson_lower(3, 3, 1.28) == pytest.approx(0.647, abs=0.01)
    assert metrics.wilson_lower(960, 1000, 1.28) == pytest.approx(0.951, abs=0.002)
    assert metrics.wilson_lower(7, 10, 0.0) == pytest.approx(0.7)
    # The curve is monotone in coverage.
    points = metrics.curve(GOLD, PRED, confidence)
    coverages = [cov for _, cov, _ in points]
    assert coverages == sorted(coverages, reverse=True)
