"""The stratified sample on its own (bot.waves.sampling): allocation by largest remainder with a minimum
per region, gobernaciones, census, and a draw that is a fixed function of the seed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.waves import sampling
from bot.waves.sampling import Unit

pytestmark = pytest.mark.fast  # pure, in process: `make test-fast`


def frame(sizes: dict[str, int], govs: dict[str, int] | None = None) -> list[Unit]:
    units = []
    for region, n in sizes.items():
        units += [Unit(f"{region[:3]}{i:03d}", region, "alcaldia") for i in range(n)]
        units += [Unit(f"{region[:3]}G{i:02d}", region, "gobernacion") for i in range((govs or {}).get(region, 0))]
    return units


@given(st.dictionaries(st.sampled_from("ABCDEFGH"), st.integers(1, 400), min_size=1),
       st.integers(8, 200))
def test_allocation_is_proportional_within_one_with_every_region(sizes: dict[str, int], total: int) -> None:
    total = min(total, sum(sizes.values()))
    if total < len(sizes):
        return
    shares = sampling.allocate(sizes, total)
    assert sum(shares.values()) == total and all(shares[r] >= 1 for r in sizes)
    small = {r for r in sizes if total * sizes[r] / sum(sizes.values()) < 1}
    # The minimum of one can push the others down by at most what it took, never by a whole entity each.
    if sum(1 - total * sizes[r] / sum(sizes.values()) for r in small) < 1:
        for r in sizes:
            assert abs(shares[r] - total * sizes[r] / sum(sizes.values())) < 1 + 1e-9, r


def test_the_seed_fixes_the_draw_and_another_seed_changes_it() -> None:
    units = frame({"Caribe": 195, "Central": 324, "Seaflower": 2})
    first, again = sampling.draw(units, 20, seed=7), sampling.draw(list(reversed(units)), 20, seed=7)
    assert [d.unit for d in first.drawn] == [d.unit for d in again.drawn]  # input order does not matter
    assert {d.unit.code for d in sampling.draw(units, 20, seed=8).drawn} != {d.unit.code for d in first.drawn}
    assert first.strata["Seaflower"] == {"frame": 2, "quota": 0.08, "sample": 1}
    assert sampling.order_key(7, "63302") == sampling.order_key(7, "63302") != sampling.order_key(8, "63302")


def test_gobernaciones_census_and_impossible_samples() -> None:
    units = frame({"Caribe": 195, "Central": 324, "Amazonía": 58}, govs={"Caribe": 7, "Central": 5, "Amazonía": 6})
    sample = sampling.draw(units, 30, seed=1, gobernaciones=4)
    kinds = [d.unit.kind for d in sample.drawn]
    assert len(kinds) == 30 and kinds.count("gobernacion") == 4
    assert len(sampling.draw(units, None, seed=1).drawn) == len(units)  # census
    with pytest.raises(sampling.SampleError, match="less than one per region"):
        sampling.draw(units, 2, seed=1)
    with pytest.raises(sampling.SampleError, match="holds"):
        sampling.draw(units, 10_000, seed=1)
    with pytest.raises(sampling.SampleError, match="gobernaciones"):
        sampling.draw(units, 30, seed=1, gobernaciones=40)


def test_a_region_reachable_only_through_its_gobernacion_takes_it_first() -> None:
    """Seaflower answers the bot only through its gobernación: with --gobernaciones it is drawn,
    whatever the proportional split of the gobernaciones would have said."""
    units = frame({"Caribe": 195, "Central": 324, "Amazonía": 58}, govs={"Caribe": 7, "Central": 5, "Amazonía": 6})
    units.append(Unit("88", "Seaflower Region", "gobernacion"))
    for seed in range(20):
        sample = sampling.draw(units, 52, seed=seed, gobernaciones=2)
        drawn = [d.unit for d in sample.drawn]
        assert len(drawn) == 52 and [u.kind for u in drawn].count("gobernacion") == 2
        assert [u.kind for u in drawn if u.region == "Seaflower Region"] == ["gobernacion"]
    # Every region stays represented; with no room left for the ones that need theirs, a clear refusal.
    with pytest.raises(sampling.SampleError, match="Seaflower Region.*at least 1 gobernaciones"):
        sampling.draw(units, 52, seed=1, gobernaciones=0)
    only_govs = frame({"Caribe": 195}, govs={"Caribe": 7}) + [Unit("88", "Seaflower Region", "gobernacion"),
                                                               Unit("91", "Amazonía", "gobernacion")]
    with pytest.raises(sampling.SampleError, match="Amazonía, Seaflower Region.*at least 2"):
        sampling.draw(only_govs, 20, seed=1, gobernaciones=1)
    assert len(sampling.draw(only_govs, 20, seed=1, gobernaciones=2).drawn) == 20
