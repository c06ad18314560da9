"""evaluate's Realism section: real and synthetic rasters cut into 32 px tiles (nodata tiles left out), the
classifier two-sample test and the texture and band-correlation measures of realism, each explained in the
report with what real imagery scores. Also used by scripts/measure_realism.py on held-out patches."""

from __future__ import annotations

from typing import Any

import numpy as np

from .c2st import REPEATS, c2st
from .metrics import band_index
from .realism import (
    CLASS_GROUPS,
    DETAIL_SIGMA,
    HIGH_FREQUENCY,
    MAJORITY,
    MIN_GROUP_TILES,
    TILE,
    block_groups,
    cut_tiles,
    detail,
    finite,
    per_group,
    spectra_figure,
    statistics,
    tile_groups,
)

BLOCK = 4 * TILE  # a mosaic's cross-validation groups: 128 px blocks (16 tiles)
MAX_TILES = 2000  # per side: C2ST stays well under a minute on 2 cores

MEANING = {
    "c2st": "How often a small CNN, trained on other groups of tiles, tells a real tile from a synthetic one: 50 %"
    " means indistinguishable (two sets of real tiles score about 50 %), 100 % means always told apart. One run of"
    " the test moves by several points with the classifier's own seed (its folds, weights and batches), so it is"
    " run several times on the same tiles and the accuracy is their mean; the spread column is the runs' standard"
    " deviation.",
    "c2st_detail": f"The same test on the tiles' detail only (each tile minus its Gaussian blur of {DETAIL_SIGMA:g}"
    " px, real and synthetic alike): texture and pixel noise without layout or colour. Two sets of real tiles score"
    " about 50 %; well above the whole tiles' accuracy, the texture gives the synthetic tiles away more than the"
    " whole tiles show.",
    "shuffled_control": "The same test with the labels shuffled: it should score about 50 %; far from it, the test"
    " itself is biased and its accuracy means nothing.",
    "gradient_ratio": "Mean squared difference between neighbouring pixels, synthetic / real: real imagery scores 1;"
    " above 1 is noisier or sharper than real (salt-and-pepper), below 1 smoother.",
    "high_frequency_share": f"Share of a tile's spectral power (mean removed, Hann window) above {HIGH_FREQUENCY} cycle"
    " per pixel, averaged over tiles: real imagery scores the real column; a higher synthetic share is pixel noise.",
    "band_correlation": "Pearson correlation between two bands within a tile, averaged over tiles: real bands move"
    " together; a difference (synthetic - real) of 0 matches real, a negative one means decorrelated (colour) noise.",
    "per_class": f"The same measures on tiles of which at least {MAJORITY:.0%} of the map is one group of classes,"
    f" for groups with at least {MIN_GROUP_TILES} tiles on both sides (built-up, vegetation, water, bare).",
}


def _subsample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, cap, replace=False)) if n > cap else np.arange(n)


def mosaic_tiles(
    real: tuple[np.ndarray, list[str]],
    synthetic: tuple[np.ndarray, list[str]],
    bands: list[str],
    paired: bool,
    classes: tuple[np.ndarray, dict[int, str]] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Tiles of both rasters (``bands`` only), groups (128 px blocks; on the same grid a block is one group on
    both sides) and each tile's class group (synthetic grid; the real tiles' too when paired)."""
    rng = np.random.default_rng(seed)
    r = np.stack([real[0][band_index(real[1], b)] for b in bands])
    s = np.stack([synthetic[0][band_index(synthetic[1], b)] for b in bands])
    codes, names = classes if classes is not None else (None, {})
    if paired:
        tiles, origins = cut_tiles(np.concatenate([r, s]))
        keep = _subsample(len(tiles), MAX_TILES, rng)
        tiles, origins = tiles[keep], origins[keep]
        groups = block_groups(origins, BLOCK)
        real_tiles, synth_tiles = tiles[:, : len(bands)], tiles[:, len(bands) :]
        real_groups = synth_groups = groups
        synth_origins = real_origins = origins
    else:
        real_tiles, real_origins = cut_tiles(r)
        synth_tiles, synth_origins = cut_tiles(s)
        keep_r, keep_s = _subsample(len(real_tiles), MAX_TILES, rng), _subsample(len(synth_tiles), MAX_TILES, rng)
        real_tiles, real_origins = real_tiles[keep_r], real_origins[keep_r]
        synth_tiles, synth_origins = synth_tiles[keep_s], synth_origins[keep_s]
        real_groups = block_groups(real_origins, BLOCK)
        synth_groups = -1 - block_groups(synth_origins, BLOCK)  # other places: never the same group as a real block
    out = {
        "real": real_tiles,
        "synthetic": synth_tiles,
        "groups": (real_groups, synth_groups),
        "real_classes": None,
        "synthetic_classes": None,
    }
    if codes is not None:
        code_tiles = (
            np.stack([codes[y : y + TILE, x : x + TILE] for y, x in synth_origins]) if len(synth_origins) else codes[:0]
        )
        out["synthetic_classes"] = tile_groups(code_tiles, names)
        if paired:
            out["real_classes"] = out["synthetic_classes"]
    return out


def patch_tiles(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patches (N, bands, H, W) -> 32 px tiles without nodata, the patch index of each (its group) and its origin."""
    tiles, groups, origins = [], [], []
    for i, patch in enumerate(patches):
        t, o = cut_tiles(patch)
        tiles.append(t)
        groups.append(np.full(len(t), i))
        origins.append(o)
    return np.concatenate(tiles), np.concatenate(groups), np.concatenate(origins)


def measure(
    tiles: dict[str, Any],
    bands: list[str],
    seed: int = 0,
    folds: int = 5,
    with_c2st: bool = True,
    repeats: int = 1,
) -> dict[str, Any]:
    """All realism measures of tiles as mosaic_tiles returns them; strict-JSON ready (None, never NaN). ``repeats``:
    C2ST runs averaged (c2st.py), for whole tiles and detail alike (evaluate: its C2ST_REPEATS, default 5)."""
    real, synthetic = tiles["real"], tiles["synthetic"]
    if len(real) == 0 or len(synthetic) == 0:
        return {
            "note": "no 32 px tile without nodata on one side",
            "tiles": {"real": len(real), "synthetic": len(synthetic)},
        }
    result: dict[str, Any] = {"tile_px": TILE, "bands": list(bands), **statistics(real, synthetic, bands)}
    if with_c2st:
        result["c2st"] = finite(c2st(real, synthetic, tiles["groups"], folds=folds, seed=seed, repeats=repeats))
        result["c2st_detail"] = finite(
            c2st(detail(real), detail(synthetic), tiles["groups"], folds=folds, seed=seed, control=False,
                 repeats=repeats)
        )  # fmt: skip
    if tiles["real_classes"] is not None and tiles["synthetic_classes"] is not None:
        result["per_class"] = per_group(real, synthetic, tiles["real_classes"], tiles["synthetic_classes"], bands)
    result["meaning"] = MEANING
    return result


def _cells(row: list) -> list:
    return ["n/a" if v is None else v for v in row]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _spread(entry: dict[str, Any]) -> str:
    runs, spread = entry.get("repeats") or 1, entry.get("spread_sd")
    if runs == 1 or spread is None:
        return "1 run"
    return f"{runs} runs, SD {100 * spread:.1f} points ({', '.join(f'{100 * a:.0f}' for a in entry['runs'])} %)"


def write_section(report, result: dict[str, Any], tiles: dict[str, Any], bands: list[str]) -> None:
    """The Realism section of report.html: one sentence per measure saying what it means and what real scores."""
    if "note" in result and "gradient_energy" not in result:
        report.note(f"Realism: {result['note']}.")
        return
    test = result.get("c2st")
    if test is not None:
        report.text(MEANING["c2st"] + " " + MEANING["shuffled_control"] + " " + MEANING["c2st_detail"])
        if test.get("accuracy") is None:
            report.note(f"C2ST skipped: {test['note']}.")
        else:
            rows = []
            for view, entry in (("whole tiles", test), ("detail only", result.get("c2st_detail") or {})):
                if entry.get("accuracy") is None:
                    continue
                low, high = entry["interval_95"]
                control = entry.get("shuffled_control_accuracy")
                rows.append([view, _pct(entry["accuracy"]), f"{_pct(low)} - {_pct(high)}", _spread(entry),
                             _pct(control) if control is not None else "-", entry["tiles"], entry["groups"],
                             entry["folds"]])  # fmt: skip
            report.table(
                ["view", "C2ST accuracy (mean of the runs)", "95 % interval", "runs, spread",
                 "shuffled-label control (first run)", "tiles", "groups", "folds"],
                rows,
            )  # fmt: skip
            report.text(f"Interval: {test['interval_method']}.")
    report.text(MEANING["gradient_ratio"] + " " + MEANING["high_frequency_share"])
    g, h = result["gradient_energy"], result["high_frequency_share"]
    report.table(
        ["band", "gradient energy real", "synthetic", "ratio (real = 1)", "high-freq. share real", "synthetic"],
        [_cells([b, g[b]["real"], g[b]["synthetic"], g[b]["ratio"], h[b]["real"], h[b]["synthetic"]]) for b in bands],
    )
    report.figure(
        spectra_figure(tiles["real"], tiles["synthetic"], bands),
        f"Radially averaged power spectra of {TILE} px tiles (dashed: {HIGH_FREQUENCY} cycle per pixel)",
    )
    report.text(MEANING["band_correlation"])
    report.table(
        ["band pair", "real correlation", "synthetic correlation", "difference (real = 0)"],
        [_cells([p, v["real"], v["synthetic"], v["difference"]]) for p, v in result["band_correlation"].items()],
    )
    per_class = result.get("per_class")
    if per_class is None:
        report.note("Per map class: needs a MAP (and its palette) and a REAL image on the same grid; skipped.")
    elif not per_class:
        report.note(f"Per map class: no class group has {MIN_GROUP_TILES} tiles on both sides; skipped.")
    else:
        report.text(
            MEANING["per_class"] + " Groups: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in CLASS_GROUPS.items())
        )
        rows = []
        for group, stats in per_class.items():
            worst = max(
                (abs(v["difference"]) for v in stats["band_correlation"].values() if v["difference"] is not None),
                default=None,
            )
            rows.append(
                _cells(
                    [group, stats["tiles"]["synthetic"]]
                    + [stats["gradient_energy"][b]["ratio"] for b in bands]
                    + [stats["high_frequency_share"][b]["ratio"] for b in bands]
                    + [worst]
                )
            )
        report.table(
            ["class group", "tiles"]
            + [f"gradient ratio {b}" for b in bands]
            + [f"high-freq. share ratio {b}" for b in bands]
            + ["largest |correlation difference|"],
            rows,
        )


def realism(
    report,
    real: tuple[np.ndarray, list[str]],
    synthetic: tuple[np.ndarray, list[str]],
    paired: bool,
    classes: tuple[np.ndarray, dict[int, str]] | None,
    seed: int = 0,
    repeats: int = REPEATS,
) -> dict[str, Any]:
    """evaluate's Realism section and its metrics: the bands both rasters have, 32 px tiles, 128 px blocks."""
    bands = [b for b in ("B02", "B03", "B04", "B08") if band_index(real[1], b) is not None]
    bands = [b for b in bands if band_index(synthetic[1], b) is not None]
    tiles = mosaic_tiles(real, synthetic, bands, paired, classes if paired else None, seed)
    report.text(
        f"Both images cut into {TILE} px tiles (tiles with any nodata left out, at most {MAX_TILES} per side);"
        f" cross-validation folds keep each {BLOCK} px block on one side"
        + (" (the same block of the real and the synthetic image together)." if paired else ".")
    )
    result = measure(tiles, bands, seed=seed, repeats=repeats)
    result["block_px"] = BLOCK
    write_section(report, result, tiles, bands)
    return result
