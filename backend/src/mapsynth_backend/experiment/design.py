"""The design of the polygon-scored experiment, fixed before any run: which patches each run may train on, which
polygons it scores, and which comparisons will be tested (the primary one named first).

A real fraction's block is a Hilbert-contiguous run of training patches that come no closer than GUARD to any
labelled polygon: such a block is valid for every fold at once, so one run per seed scores every polygon, and one
generator per block serves all its arms. The unpaired maps are the next polygon-free patches after the block (their
imagery is seen by nobody). At fraction 1 (or when too few polygon-free patches remain) the block is fold-specific:
every training patch farther than GUARD from the fold's polygons, with its own generator trained on that block only.
Those units have no unpaired-maps arm: every map far enough from the fold's polygons is already in the block, and
the others are derived from the imagery of the scored pixels themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .data import Pair, contiguous_order
from .labels import Polygons, touches

ARMS = ("real", "real+classical", "real+same_maps", "real+unpaired_maps")


@dataclass
class Unit:
    """One training situation: a fraction, a fold (None = all polygons), its real block and what it scores."""

    fraction: float
    fold: int | None
    block: list[Pair]
    scored: list[int]  # polygon indices
    unpaired: list[Pair] = field(default_factory=list)
    arms: tuple[str, ...] = ("real", "real+classical")

    @property
    def name(self) -> str:
        return f"f{self.fraction:g}_{'all' if self.fold is None else f'fold{self.fold}'}"


@dataclass(frozen=True)
class Run:
    unit: str
    arm: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.unit}_{self.arm.replace('+', '_')}_s{self.seed}"


def units(
    train: list[Pair], polygons: Polygons, fractions: list[float], sources: list[str], guard_m: float
) -> tuple[list[Unit], list[str]]:
    """(units, notes on what was cut)."""
    ordered = contiguous_order(train)
    near_any = touches(ordered, polygons.geometries, guard_m)
    free = [p for p in ordered if p.patch_id not in near_any]
    folds = sorted(set(polygons.fold.tolist()))
    everything = list(range(len(polygons.ids)))
    out, notes = [], []
    synthetic_arms = tuple(f"real+{s}" for s in sources)
    for fraction in fractions:
        count = min(len(ordered), max(1, round(fraction * len(ordered))))
        if fraction < 1 and count <= len(free):
            unpaired = free[count : 2 * count] if "unpaired_maps" in sources else []
            arms = ("real", "real+classical", *(a for a in synthetic_arms if a != "real+unpaired_maps" or unpaired))
            out.append(Unit(fraction, None, free[:count], everything, unpaired, arms))
            continue
        if fraction < 1:
            notes.append(
                f"fraction {fraction:g}: only {len(free)} training patches are farther than the guard from every"
                " polygon, fewer than its block; it runs per fold, with a generator per fold"
            )
        if "unpaired_maps" in sources:
            notes.append(
                f"fraction {fraction:g}: no unpaired-maps arm (every map far enough from a fold's polygons is in"
                " its block; the others are derived from the scored pixels' imagery)"
            )
        per_fold = ("real", "real+classical", *(a for a in synthetic_arms if a != "real+unpaired_maps"))
        for fold in folds:
            members = [i for i in everything if polygons.fold[i] == fold]
            near = touches(ordered, [polygons.geometries[i] for i in members], guard_m)
            allowed = [p for p in ordered if p.patch_id not in near]
            out.append(Unit(fraction, fold, allowed[:count], members, arms=per_fold))
    return out, notes


def plan(unit_list: list[Unit], seeds: int) -> list[Run]:
    """Seed-major, so that a partial experiment has every arm at the first seeds."""
    return [Run(u.name, arm, seed) for seed in range(seeds) for u in unit_list for arm in u.arms]


def comparisons(unit_list: list[Unit]) -> tuple[tuple, list[tuple]]:
    """(primary, secondaries): each ((arm, fraction), (arm, fraction)), A minus B. The primary is real + same-map
    synthetic against real alone at the smallest fraction that has it; the secondaries are every other synthetic
    or classical arm against real at its fraction, synthetic against the classical control, and the largest
    fraction against the smallest (real alone: does more real data help at all, a check of the setup)."""
    arms = {(arm, u.fraction) for u in unit_list for arm in u.arms}
    with_synthetic = sorted(f for a, f in arms if a == "real+same_maps")
    fractions = sorted({f for _, f in arms})
    primary_fraction = with_synthetic[0] if with_synthetic else fractions[0]
    primary_arm = "real+same_maps" if with_synthetic else "real+classical"
    primary = ((primary_arm, primary_fraction), ("real", primary_fraction))
    rest = []
    for fraction in fractions:
        for arm in ("real+same_maps", "real+unpaired_maps", "real+classical"):
            if (arm, fraction) in arms and ((arm, fraction), ("real", fraction)) != primary:
                rest.append(((arm, fraction), ("real", fraction)))
        for arm in ("real+same_maps", "real+unpaired_maps"):
            if (arm, fraction) in arms:
                rest.append(((arm, fraction), ("real+classical", fraction)))
    if len(fractions) > 1:
        rest.append((("real", fractions[-1]), ("real", fractions[0])))
    return primary, rest


def describe(comparison: tuple) -> str:
    (arm_a, f_a), (arm_b, f_b) = comparison
    return f"{arm_a} @ {f_a:g} - {arm_b} @ {f_b:g}"
