"""The monthly sample (the 2020 Monitoreo 360 informe de percepción: "una muestra aleatoria mensual de 52
entidades … representativa por regiones"): stratified by region, proportional allocation with at least one
entity per region, reproducible from a seed. Pure: the frame comes in, the allocation and the draw go out.

- **Allocation.** Region r gets about ``n · N_r / N`` (its quota): first one each, then one at a time
  to the region furthest below its quota (largest remainder). Every region is represented and,
  unless the minimum forces it, no region is more than one entity off its quota.
- **Gobernaciones.** With ``gobernaciones=G``, G of the sample are gobernaciones, spread over the
  regions in proportion to their gobernaciones (within each region's total); the rest are alcaldías.
  A region whose reachable alcaldías cannot fill its share (Seaflower, when only its gobernación
  answers the bot) takes its gobernación first; G must leave room for those.
- **Draw.** Within a stratum, entities are ordered by ``sha256("<seed>:<code>")`` and the first n
  are taken. The order is a fixed function of the seed and the code: the same seed and frame give the
  same sample on any machine and Python version, and anyone can check it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """One entity of the frame (it has a contact the wave can reach)."""

    code: str
    region: str
    kind: str  # alcaldia | gobernacion


@dataclass(frozen=True)
class Drawn:
    unit: Unit
    rank: int  # position in its stratum's order (0 = first drawn)


@dataclass(frozen=True)
class Sample:
    drawn: list[Drawn]
    strata: dict[str, dict[str, float | int]]  # region → frame, quota, sample


class SampleError(ValueError):
    pass


def allocate(sizes: Mapping[str, int], total: int, minimum: int = 1,
             caps: Mapping[str, int] | None = None, floors: Mapping[str, int] | None = None) -> dict[str, int]:
    """Split ``total`` over strata in proportion to ``sizes``, each at least ``minimum`` (or its
    floor, when higher) and at most its cap (default its size), by largest remainder."""
    caps = dict(sizes) if caps is None else {k: min(caps[k], sizes[k]) for k in sizes}
    strata = sorted(k for k in sizes if caps[k] > 0)
    frame = sum(sizes[k] for k in strata)
    if not strata:
        raise SampleError("no entity to sample from: load them first (`m360 entities load`), or widen the "
                          "filters (--region, --pdet-only, --exclude-recent)")
    if total > sum(caps[k] for k in strata):
        raise SampleError(f"the frame holds {sum(caps[k] for k in strata)} entities; {total} asked")
    if minimum and total < minimum * len(strata):
        raise SampleError(f"{total} is less than one per region ({len(strata)} regions)")
    quota = {k: total * sizes[k] / frame if frame else 0.0 for k in strata}
    share = {k: max(min(minimum, caps[k]), min((floors or {}).get(k, 0), caps[k])) for k in strata}
    while sum(share.values()) < total:
        open_ = [k for k in strata if share[k] < caps[k]]
        best = max(open_, key=lambda k: (quota[k] - share[k], sizes[k], k))
        share[best] += 1
    return share


def order_key(seed: int, code: str) -> str:
    return hashlib.sha256(f"{seed}:{code}".encode()).hexdigest()


def draw(units: Sequence[Unit], size: int | None, seed: int, gobernaciones: int | None = None) -> Sample:
    """The stratified sample of ``size`` units (all of them, a census, when ``size`` is None)."""
    by_region: dict[str, list[Unit]] = {}
    for unit in units:
        by_region.setdefault(unit.region, []).append(unit)
    sizes = {region: len(members) for region, members in by_region.items()}
    frame = sum(sizes.values())
    if size is None:
        shares = dict(sizes)
    else:
        if size <= 0:
            raise SampleError("the sample size must be positive")
        shares = allocate(sizes, size)
    take: dict[tuple[str, str], int] = {}
    if gobernaciones is None or size is None:
        for region, n in shares.items():
            take[(region, "*")] = n
    else:
        govs = {r: sum(1 for u in m if u.kind == "gobernacion") for r, m in by_region.items()}
        if gobernaciones > sum(govs.values()):
            raise SampleError(f"only {sum(govs.values())} gobernaciones in the frame; {gobernaciones} asked")
        caps = {r: min(govs[r], shares[r]) for r in sizes}
        # Regions whose alcaldías cannot fill their share need their gobernaciones first.
        needed = {r: min(caps[r], max(0, shares[r] - (sizes[r] - govs[r]))) for r in sizes}
        if sum(needed.values()) > gobernaciones:
            short = ", ".join(sorted(r for r, n in needed.items() if n))
            raise SampleError(f"{short}: only the gobernación can represent the region in the frame; "
                              f"ask at least {sum(needed.values())} gobernaciones ({gobernaciones} asked)")
        per_region = allocate(govs, gobernaciones, minimum=0, caps=caps, floors=needed) if gobernaciones else {}
        for region, n in shares.items():
            g = per_region.get(region, 0)
            alcaldias = sum(1 for u in by_region[region] if u.kind != "gobernacion")
            if n - g > alcaldias:
                raise SampleError(f"{region}: {n - g} alcaldías asked, {alcaldias} in the frame")
            take[(region, "gobernacion")] = g
            take[(region, "alcaldia")] = n - g
    drawn: list[Drawn] = []
    for (region, kind), n in sorted(take.items()):
        pool = [u for u in by_region[region] if kind == "*" or (u.kind == "gobernacion") == (kind == "gobernacion")]
        pool.sort(key=lambda u: order_key(seed, u.code))
        drawn.extend(Drawn(u, rank) for rank, u in enumerate(pool[:n]))
    strata = {region: {"frame": sizes[region],
                       "quota": round((size if size is not None else frame) * sizes[region] / frame, 2),
                       "sample": shares[region]}
              for region in sorted(sizes)}
    return Sample(drawn, strata)
