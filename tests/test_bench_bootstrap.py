"""bench/bootstrap.py: the paired bootstrap the coder bench reports beside each macro-F1 margin."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from bootstrap import mean_of, paired_margin  # noqa: E402

from analysis.coding import metrics  # noqa: E402

CODES = ["claridad", "coordinacion", "otro", "sin_respuesta"]


def noisy(gold: list[list[str]], right: float, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [g if rng.random() < right else [rng.choice(CODES)] for g in gold]


@pytest.fixture
def gold() -> list[list[str]]:
    rng = random.Random(7)
    return [rng.sample(CODES[:2], 2) if rng.random() < 0.2 else [rng.choice(CODES)] for _ in range(300)]


def test_the_point_estimate_is_the_margin_of_score_codes(gold: list[list[str]]) -> None:
    mine, theirs = noisy(gold, 0.9, 1), noisy(gold, 0.8, 2)
    found = paired_margin(gold, mine, theirs, CODES)
    expected = metrics.score_codes(gold, mine, CODES).macro_f1 - metrics.score_codes(gold, theirs, CODES).macro_f1
    assert found.margin == pytest.approx(expected)
    assert found.low < found.margin < found.high


@pytest.mark.parametrize(("right_mine", "right_theirs", "above_zero"), [
    (0.95, 0.70, True),   # a far better model: the whole interval is above zero
    (0.80, 0.80, False),  # two equivalent models: the interval straddles zero
])
def test_the_interval_says_whether_the_sample_can_tell_them_apart(gold: list[list[str]], right_mine: float,
                                                                   right_theirs: float, above_zero: bool) -> None:
    found = paired_margin(gold, noisy(gold, right_mine, 3), noisy(gold, right_theirs, 4), CODES)
    assert (found.low > 0) is above_zero
    assert 0.0 <= found.share_at_least <= 1.0


def test_identical_models_have_no_spread_and_a_mean_keeps_the_point(gold: list[list[str]]) -> None:
    same = noisy(gold, 0.85, 5)
    found = paired_margin(gold, same, same, CODES)
    assert (found.margin, found.low, found.high, found.share_at_least) == (0.0, 0.0, 0.0, 0.0)
    better = paired_margin(gold, noisy(gold, 0.95, 6), noisy(gold, 0.75, 7), CODES)
    mean = mean_of([found, better])
    assert mean.margin == pytest.approx(better.margin / 2)
    assert mean.low < mean.margin < mean.high
