"""The augmentation experiment scored on independent polygon labels (LABELS + LABEL_FIELD).

Per real fraction and fold (design.py): the segmenter of every arm trains on the block's real pairs (derived maps
as weak labels), plus, on top of them, synthetic images from the block's own generator (same maps, or held-back
maps) or classically augmented copies (the control); it stops early on a validation block far from every polygon
and predicts the whole area; each scored polygon's pixels give one row of a confusion matrix. Every run is a file
under runs/, so a killed experiment resumes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import design, segmenter, stats, training
from .data import Dataset, class_table, targets
from .generator import block_key, synthetic_images, train_generator
from .labels import Polygons, correct_classes, load_polygons, mosaic, polygon_counts, scene_grid, touches
from .links import Reporter, UserError, atomic_write, palette
from .report_polygons import write_polygon_report

BOOTSTRAP_DRAWS = 2000
GENERATION_SHARE = 0.3


def _dump(path: Path, value: Any) -> None:
    text = json.dumps(stats.strict(value), indent=1, allow_nan=False)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _pool(pairs, classes, images=None, classical=False) -> training.Pool:
    images = images if images is not None else [p.image for p in pairs]
    return training.Pool(
        np.stack(images).astype(np.float32), np.stack([targets(p.map_rgb, classes) for p in pairs]), classical
    )


class Experiment:
    """Everything fixed before the first run: data, polygons, units, plan, comparisons."""

    def __init__(self, dataset: Dataset, params: dict[str, Any], sources: list[str], fractions: list[float]):
        self.dataset, self.params = dataset, params
        self.classes = class_table(dataset, palette())
        self.names = [n for n, _ in self.classes]
        every = [p for pairs in dataset.pairs.values() for p in pairs]
        self.grid = scene_grid(every)
        self.image, self.derived = mosaic(self.grid, every, self.classes)
        size = dataset.pairs["train"][0].image.shape[-1]
        valid = np.isfinite(self.image).all(axis=0)
        self.polygons: Polygons = load_polygons(
            params["labels"], params["label_field"], self.grid, valid, params["folds"], size
        )
        self.correct = correct_classes(self.polygons.label_names, self.names)
        guard_m = params["guard"] * self.grid.pixel
        self.units, self.notes = design.units(dataset.pairs["train"], self.polygons, fractions, sources, guard_m)
        near = touches(dataset.pairs["validation"], self.polygons.geometries, guard_m)
        self.validation = [p for p in dataset.pairs["validation"] if p.patch_id not in near]
        if not self.validation:
            raise UserError(
                f"GUARD: no validation patch is farther than {params['guard']} px from every labelled polygon;"
                " early stopping needs one: lower GUARD or rebuild the grid with a larger VAL_FRACTION"
            )
        self.runs = design.plan(self.units, params["seeds"])
        self.primary, self.secondary = design.comparisons(self.units)

    def preregistration(self) -> dict[str, Any]:
        """What plan.json records before any run: the primary comparison and the corrected family."""
        return {
            "primary": design.describe(self.primary),
            "secondary_holm": [design.describe(c) for c in self.secondary],
            "runs": [r.key for r in self.runs],
            "units": {
                u.name: {
                    "fraction": u.fraction,
                    "fold": u.fold,
                    "train_patches": sorted(p.patch_id for p in u.block),
                    "unpaired_map_patches": sorted(p.patch_id for p in u.unpaired),
                    "scored_polygons": [self.polygons.ids[i] for i in u.scored],
                    "arms": list(u.arms),
                }
                for u in self.units
            },
            "validation_patches": sorted(p.patch_id for p in self.validation),
        }


def prepare_synthetic(exp: Experiment, out: Path, reporter: Reporter) -> dict[str, dict[str, list]]:
    """unit name -> {'same_maps': patch_id -> images, 'unpaired_maps': ...} for the units with synthetic arms."""
    wanted = [u for u in exp.units if any(a in u.arms for a in ("real+same_maps", "real+unpaired_maps"))]
    found: dict[str, dict[str, list]] = {}
    for number, unit in enumerate(wanted):
        low = GENERATION_SHARE * number / len(wanted)
        high = GENERATION_SHARE * (number + 1) / len(wanted)
        folder = out / "generators" / block_key(unit.block)
        model = train_generator(Path(exp.params["dataset"]), unit.block, folder, exp.params, reporter)
        maps = unit.block + unit.unpaired
        images = synthetic_images(model, maps, folder / "synthetic", exp.params, reporter, (low, high))
        ids = {p.patch_id for p in unit.block}
        found[unit.name] = {
            "same_maps": {k: v for k, v in images.items() if k in ids},
            "unpaired_maps": {k: v for k, v in images.items() if k not in ids},
        }
    return found


def one_run(exp: Experiment, run: design.Run, synthetic, reporter: Reporter) -> dict[str, Any]:
    unit = next(u for u in exp.units if u.name == run.unit)
    params = exp.params
    real = _pool(unit.block, exp.classes)
    extra, synthetic_pairs = None, []
    if run.arm == "real+classical":
        extra = _pool(unit.block, exp.classes, classical=True)
    elif run.arm in ("real+same_maps", "real+unpaired_maps"):
        source = run.arm[5:]
        synthetic_pairs = unit.block if source == "same_maps" else unit.unpaired
        images = [image for p in synthetic_pairs for image in synthetic[unit.name][source][p.patch_id]]
        maps = [p for p in synthetic_pairs for _ in synthetic[unit.name][source][p.patch_id]]
        extra = _pool(maps, exp.classes, images)
    band_stats = segmenter.band_stats(real.images)
    schedule = training.Schedule(
        params["steps"], params["batch_size"], params["batch_size"], params["validate_every"], params["patience"]
    )

    def check(step: int) -> None:
        if step % 10 == 0:
            reporter.check_cancel()

    began = time.monotonic()
    model, info = training.train(
        real, extra, _pool(exp.validation, exp.classes), band_stats, len(exp.names), schedule, run.seed, check
    )
    predicted = segmenter.predict_large(model, segmenter.normalise(exp.image, *band_stats))
    counts = polygon_counts(predicted, exp.polygons.raster, unit.scored, len(exp.names))
    return {
        "key": run.key,
        "unit": unit.name,
        "arm": run.arm,
        "real_fraction": unit.fraction,
        "fold": unit.fold,
        "seed": run.seed,
        "real_images": len(unit.block),
        "real_per_step": params["batch_size"],
        "extra_per_step": params["batch_size"] if extra is not None else 0,
        "synthetic_images": len(extra.images) if extra is not None and not extra.classical else 0,
        "train_patches": sorted(p.patch_id for p in unit.block),
        "validation_patches": sorted(p.patch_id for p in exp.validation),
        "generator_patches": sorted(p.patch_id for p in unit.block) if synthetic_pairs else [],
        "synthetic_map_patches": sorted(p.patch_id for p in synthetic_pairs),
        "scored_polygons": [exp.polygons.ids[i] for i in unit.scored],
        "polygon_counts": {str(exp.polygons.ids[i]): row.tolist() for i, row in zip(unit.scored, counts, strict=True)},
        **info,
        "seconds": round(time.monotonic() - began, 1),
    }


def run_all(exp: Experiment, out: Path, reporter: Reporter) -> None:
    (out / "runs").mkdir(exist_ok=True)
    _dump(out / "plan.json", exp.preregistration())
    synthetic = prepare_synthetic(exp, out, reporter)
    done = [r for r in exp.runs if (out / "runs" / f"{r.key}.json").exists()]
    if done:
        reporter.log(f"resuming: {len(done)} of {len(exp.runs)} runs already finished")
    start = GENERATION_SHARE if synthetic else 0.0
    for number, run in enumerate(exp.runs):
        path = out / "runs" / f"{run.key}.json"
        if path.exists():
            continue
        reporter.check_cancel()
        reporter.progress(start + (1 - start) * number / len(exp.runs), f"run {number + 1}/{len(exp.runs)}: {run.key}")
        result = one_run(exp, run, synthetic, reporter)
        _dump(path, result)
        reporter.log(f"{run.key}: {result['steps']} steps (best {result['best_step']}), {result['seconds']} s")


def _matrix(exp: Experiment, runs: list[dict[str, Any]]) -> tuple[list[int], np.ndarray] | None:
    """(seeds, counts (seeds, polygons, classes)) of one arm and fraction, seeds whose every polygon is scored."""
    by_seed: dict[int, dict[str, list]] = {}
    for run in runs:
        by_seed.setdefault(run["seed"], {}).update(run["polygon_counts"])
    ids = [str(i) for i in exp.polygons.ids]
    seeds = sorted(s for s, found in by_seed.items() if set(found) == set(ids))
    if not seeds:
        return None
    return seeds, np.array([[by_seed[s][i] for i in ids] for s in seeds], np.int64)


def summarise(exp: Experiment, finished: list[dict[str, Any]]) -> dict[str, Any]:
    pol, n_labels, seed = exp.polygons, len(exp.polygons.label_names), exp.params["generation_seed"]
    groups: dict[tuple[str, float], list] = {}
    for run in finished:
        groups.setdefault((run["arm"], run["real_fraction"]), []).append(run)
    scored: dict[tuple[str, float], tuple[list[int], np.ndarray, np.ndarray]] = {}
    rows = []
    derived = polygon_counts(exp.derived, pol.raster, list(range(len(pol.ids))), len(exp.names))
    for key, counts in [(("derived-map rule", None), derived[None])] + [
        (k, m[1])
        for k in sorted(groups, key=lambda k: (k[1], design.ARMS.index(k[0])))
        if (m := _matrix(exp, groups[k]))
    ]:
        hits, totals = map(
            np.array, zip(*(stats.recall_table(c, pol.label_class, exp.correct) for c in counts), strict=True)
        )
        per_seed = [stats.macro_recall(h, t, pol.label_class, n_labels) for h, t in zip(hits, totals, strict=True)]
        seeds = _matrix(exp, groups[key])[0] if key in groups else []
        if key in groups:
            scored[key] = (seeds, hits, totals)
        low, high = stats.bootstrap_interval(hits, totals, pol.label_class, n_labels, BOOTSTRAP_DRAWS, seed)
        per_class = np.array([[np.nan if v is None else v for v in pc] for _, pc in per_seed])
        rows.append(
            {
                "arm": key[0],
                "real_fraction": key[1],
                "seeds": seeds,
                "macro_recall": float(np.mean([m for m, _ in per_seed])),
                "interval": [low, high],
                "per_seed_macro_recall": [m for m, _ in per_seed],
                "per_class_recall": dict(zip(pol.label_names, np.nanmean(per_class, axis=0).tolist(), strict=True)),
            }
        )
    tests = []
    for role, comparison in [("primary", exp.primary)] + [("secondary", c) for c in exp.secondary]:
        a, b = (scored.get(side) for side in comparison)
        if a is None or b is None:
            tests.append({"comparison": design.describe(comparison), "role": role, "missing": True})
            continue
        common = sorted(set(a[0]) & set(b[0]))
        if not common:
            tests.append({"comparison": design.describe(comparison), "role": role, "missing": True})
            continue
        pick = [[s.index(c) for c in common] for s in (a[0], b[0])]
        result = stats.paired_comparison(
            (a[1][pick[0]], a[2][pick[0]]),
            (b[1][pick[1]], b[2][pick[1]]),
            pol.label_class,
            n_labels,
            BOOTSTRAP_DRAWS,
            seed,
        )
        tests.append({"comparison": design.describe(comparison), "role": role, "seeds": common, **result})
    secondary = [t for t in tests if t["role"] == "secondary" and "p" in t]
    for test, adjusted in zip(secondary, stats.holm([t["p"] for t in secondary]), strict=True):
        test["p_holm"] = adjusted
    return {"rows": rows, "comparisons": tests}


def finish(exp: Experiment, out: Path, header: dict[str, Any]) -> dict[str, Any]:
    paths = {r.key: out / "runs" / f"{r.key}.json" for r in exp.runs}
    finished = [json.loads(p.read_text(encoding="utf-8")) for p in paths.values() if p.exists()]
    if not finished:
        raise UserError(f"OUTPUT_DIR: no run of this experiment has finished yet in {out}")
    pol = exp.polygons
    results = {
        **header,
        "mode": "independent polygon labels",
        "classes": exp.names,
        "label_classes": pol.label_names,
        "correct_classes": {
            n: [exp.names[j] for j in np.flatnonzero(row)] for n, row in zip(pol.label_names, exp.correct, strict=True)
        },
        "polygons": [
            {
                "id": i,
                "class": pol.label_names[c],
                "pixels": int((pol.raster == n + 1).sum()),
                "fold": int(f),
                "cluster": int(k),
            }
            for n, (i, c, f, k) in enumerate(zip(pol.ids, pol.label_class, pol.fold, pol.cluster, strict=True))
        ],
        "polygons_without_pixels": pol.dropped,
        "design_notes": exp.notes,
        "preregistration": {k: v for k, v in exp.preregistration().items() if k not in ("runs", "units")},
        **summarise(exp, finished),
        "runs": finished,
        "runs_missing": [key for key, path in paths.items() if not path.exists()],
    }
    _dump(out / "results.json", results)
    report = write_polygon_report(out, results)
    return {"results": str(out / "results.json"), "report": str(report), "runs": len(finished)}
