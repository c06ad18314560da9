"""Datasets with tone layouts for make bench-realism-tones (backend prepare/tone_layout.py): the demo dataset's
pairs, each with a tone_image beside its map. Training patches get the layout read off their own real image (the
model learns to paint a given tone as one even field with sharp edges); held-out patches get random layouts drawn
from the training patches' segments only (a random partition of every map region and tones of training segments
of the same class), as a generation without real imagery would, so nothing of a held-out real image reaches the
model. One dataset per layout seed: OUT/seed-S; seed-S for S > first links the first's training folder. With
--regions the segments are the map's own regions (tone_layout.map_regions) instead of the real image's, for
training and drawing alike (make bench-realism-regions).

Run in the backend venv:
  .venv-backend/bin/python scripts/realism_tones.py --out WORK/dataset-tones --seeds 0,1,2 [--picture PNG] \
      [--calibrated] [--oracle] [--cascade MODEL] [--regions [--area PX]] [--tile-stats]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from mapsynth_backend.radiometry import ClipRange

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
DATASET = ROOT / ".mapsynth-demo-training" / "dataset"
FOLDERS = ("conditioning", "images", "nir", "multispectral")


def clip_of(radiometry: dict) -> ClipRange:
    """The dataset's clip range in its band order (generate's clip_range of a card with this radiometry)."""
    from mapsynth_backend.generate.sampling import clip_range

    return clip_range({"radiometry": radiometry, "bands": radiometry["bands"]})


def unit_of(reflectance: np.ndarray, clip: ClipRange) -> np.ndarray:
    """Reflectance (..., bands, H, W) scaled by the clip range, not clipped (a segment's mean sees the true values)."""
    low, high = (np.asarray(v, np.float64)[:, None, None] for v in (clip.low, clip.high))
    return (reflectance - low) / (high - low)


def patch(root: Path, row: dict, clip: ClipRange) -> tuple[np.ndarray, np.ndarray]:
    """Clip-scaled real reflectance (bands, H, W; NaN = nodata) and the map (3, H, W) uint8 of one row."""
    import cv2
    import rasterio

    from mapsynth_backend.radiometry import decode_reflectance

    with rasterio.open(root / row["multispectral"]) as src:
        real = decode_reflectance(src.read())
    map_rgb = cv2.imread(str(root / row["conditioning_image"]), cv2.IMREAD_UNCHANGED)[:, :, ::-1].transpose(2, 0, 1)
    return unit_of(real, clip), map_rgb


def split_folder(source: Path, target: Path, rows: list[dict], layouts: dict[str, np.ndarray]) -> None:
    """target/: links to source's image folders, tones/ and metadata.jsonl with each row's tone_image."""
    from mapsynth_backend.prepare.tone_layout import write_png

    target.mkdir(parents=True, exist_ok=True)
    for name in FOLDERS:
        link = target / name
        if not link.exists():
            link.symlink_to((source / name).resolve(), target_is_directory=True)
    lines = []
    for row in rows:
        name = f"tones/{row['patch_id']}.png"
        (target / "tones").mkdir(exist_ok=True)
        write_png(target / name, layouts[row["patch_id"]])
        lines.append(json.dumps({k: v for k, v in row.items() if k != "root"} | {"tone_image": name}))
    (target / "metadata.jsonl").write_text("\n".join(lines) + "\n")


def layout_dataset(dataset: Path, target: Path, train: Path, layouts: dict[str, dict[str, np.ndarray]]) -> Path:
    """TARGET: a dataset of DATASET's pairs with tone layouts, LAYOUTS per split (patch id -> layout); the training
    split is written to TRAIN when LAYOUTS has it and TRAIN is TARGET's own, else linked there. radiometry.json is
    written last: it marks the folder complete."""
    from mapsynth_backend.train.data import read_dataset

    splits, _, _ = read_dataset(dataset)
    target.mkdir(parents=True, exist_ok=True)
    if "train" in layouts and target / "train" == train:
        split_folder(dataset / "train", train, splits["train"], layouts["train"])
    else:
        (target / "train").symlink_to(train.resolve(), target_is_directory=True)
    for split in ("validation", "test"):
        if split in layouts:
            split_folder(dataset / split, target / split, splits[split], layouts[split])
    for name in ("mapsynth_output.json", "dataset_card.json"):
        if (dataset / name).exists():
            shutil.copy(dataset / name, target / name)
    shutil.copy(dataset / "radiometry.json", target / "radiometry.json")
    return target


def first_train(out: Path) -> Path:
    """The training split with real layouts that build() wrote (OUT/seed-FIRST/train)."""
    return next(p for p in sorted(out.glob("seed-*")) if not (p / "train").is_symlink()) / "train"


def oracle(dataset: Path, out: Path, regions: bool = False, area: float = 0.0) -> Path:
    """OUT/oracle: the held-out patches with the layouts read off their own real image, a diagnosis only (how far
    would the model get with the right layout?); it uses the held-out images, so it is no generation."""
    from mapsynth_backend.prepare.tone_layout import real_layout
    from mapsynth_backend.train.data import read_dataset

    target = out / "oracle"
    if (target / "radiometry.json").exists():
        return target
    splits, radiometry, _ = read_dataset(dataset)
    clip = clip_of(radiometry)
    layouts = {
        split: {
            row["patch_id"]: real_layout(*patch(Path(row["root"]), row, clip), regions=regions, area=area, seed=index)
            for index, row in enumerate(splits[split])
        }
        for split in ("validation", "test")
    }
    return layout_dataset(dataset, target, first_train(out), layouts)


CASCADE_SEED = 1000  # the first model's noise seed is the layout seed + this, so the two stages draw other noise


def cascade(dataset: Path, out: Path, model: Path, seed: int, name: str = "cascade") -> Path:
    """OUT/NAME-SEED: the validation patches with layouts read off MODEL's generation of their maps (a model on
    maps alone, noise seed SEED + CASCADE_SEED, guidance 1), segmented like a real patch: a two-stage generation in
    which the first model chooses the tones and the second paints them as fields. Nothing of a held-out image. MODEL
    may be a layout model (``layout_targets``): then the first stage draws the field mosaic itself."""
    import argparse

    from measure_realism import card_settings, generate, held_out

    from mapsynth_backend.prepare.tone_layout import real_layout
    from mapsynth_backend.train.data import read_dataset

    target = out / f"{name}-{seed}"
    if (target / "radiometry.json").exists():
        return target
    _, radiometry, _ = read_dataset(dataset)
    rows, _, maps = held_out(dataset, ["validation"])
    settings = card_settings(argparse.Namespace(seed=seed + CASCADE_SEED))
    settings.guidance = 1.0
    synthetic, _ = generate(model, rows, maps, settings)
    unit = unit_of(synthetic, clip_of(radiometry))
    layouts = {row["patch_id"]: real_layout(u, m) for row, u, m in zip(rows, unit, maps, strict=True)}
    return layout_dataset(dataset, target, first_train(out), {"validation": layouts})


# Layout draws (prepare/tone_layout.py ToneBank): folder prefix -> the bank's settings. 'seed': plain, every cell an
# independent draw (measured first); 'calibrated': the defaults, set on the training patches alone
DRAWS = {"seed": {"contrast": 1.0, "cells": 1.0, "matched": False}, "calibrated": {}}


def build(
    dataset: Path,
    out: Path,
    seeds: list[int],
    draws: tuple[str, ...] = ("seed",),
    regions: bool = False,
    area: float = 0.0,
) -> dict[str, Path]:
    """OUT/seed-S (and OUT/calibrated-S): the first holds the training split with real layouts, the others link it.
    ``regions``: segments are map regions, cut into Voronoi cells of ``area`` px (one draw setting, ToneBank's
    regions; no calibrated draws; training patch i's cells cut with seed i)."""
    from mapsynth_backend.prepare.tone_layout import ToneBank, real_layout
    from mapsynth_backend.train.data import read_dataset

    splits, radiometry, _ = read_dataset(dataset)
    clip = clip_of(radiometry)
    bank, real_layouts = ToneBank(regions=regions, area=area), {}
    for index, row in enumerate(splits["train"]):
        unit, map_rgb = patch(Path(row["root"]), row, clip)
        bank.add(unit, map_rgb, seed=index)
        real_layouts[row["patch_id"]] = real_layout(unit, map_rgb, regions=regions, area=area, seed=index)
    folders = {}
    train = out / f"seed-{seeds[0]}" / "train"
    for draw in ("seed", *(d for d in draws if d != "seed")):
        drawn = ToneBank(bank.donors, regions=True, area=area) if regions else ToneBank(bank.donors, **DRAWS[draw])
        for seed in seeds:
            target = out / f"{draw}-{seed}"
            folders[target.name] = target
            if (target / "radiometry.json").exists():
                continue
            layouts = {"train": real_layouts}
            for split in ("validation", "test"):
                rng = np.random.default_rng([seed, 7919])
                layouts[split] = {
                    row["patch_id"]: drawn.layout(patch(Path(row["root"]), row, clip)[1], rng) for row in splits[split]
                }
            layout_dataset(dataset, target, train, layouts)
    return folders


def picture(folders: list[Path], path: Path, count: int = 4) -> None:
    """Training rows, then validation rows: map | real true colour | the tone layout of each folder (training rows:
    their real layout, the same in every folder; validation rows: each folder's draw)."""
    import cv2
    from bench_doc import compact_png

    from mapsynth_backend.prepare.tone_layout import read_png
    from mapsynth_backend.train.data import read_dataset

    datasets = [read_dataset(folder) for folder in folders]
    bands = datasets[0][1]["bands"]
    clip = clip_of(datasets[0][1])
    rgb = [bands.index(b) for b in ("B04", "B03", "B02")]

    def view(values: np.ndarray) -> np.ndarray:
        return np.clip(np.nan_to_num(values) * 255, 0, 255).astype(np.uint8)

    lines = []
    for split in ("train", "validation"):
        picked = range(0, len(datasets[0][0][split]), max(1, len(datasets[0][0][split]) // count))
        for index in list(picked)[:count]:
            row = datasets[0][0][split][index]
            unit, map_rgb = patch(Path(row["root"]), row, clip)
            cells = [map_rgb.transpose(1, 2, 0), view(unit[rgb].transpose(1, 2, 0))]
            for splits, _, _ in datasets:
                other = splits[split][index]
                tone = read_png(Path(other["root"]) / other["tone_image"])
                cells.append(np.ascontiguousarray(tone[rgb].transpose(1, 2, 0)))
            lines.append(np.concatenate(cells, axis=1))
    image = np.concatenate(lines, axis=0).repeat(3, axis=0).repeat(3, axis=1)
    cv2.imwrite(str(path), image[:, :, ::-1])
    compact_png(path)


def calibration(dataset: Path) -> dict[str, dict]:
    """How the layout draws compare with real layouts on the training patches alone (how ToneBank's calibrated
    settings were set): a bank of the first half of the training patches draws layouts for the maps of the second
    half, compared with the second half's real layouts: the mean tone step between neighbouring segments of one map
    class (per band), the share of pixels at such a step, and the spread of tones in a patch (per band)."""
    from mapsynth_backend.prepare.tone_layout import ToneBank, map_codes, real_layout
    from mapsynth_backend.train.data import read_dataset

    splits, radiometry, _ = read_dataset(dataset)
    bands = radiometry["bands"]
    clip = clip_of(radiometry)
    rows = splits["train"]
    bank = ToneBank()
    for row in rows[: len(rows) // 2]:
        bank.add(*patch(Path(row["root"]), row, clip))
    held = [patch(Path(row["root"]), row, clip) for row in rows[len(rows) // 2 :]]

    def stats(layouts: list[np.ndarray]) -> dict:
        steps, edges, spread = [], [], []
        for layout, (_, map_rgb) in zip(layouts, held, strict=True):
            codes = map_codes(map_rgb)
            step = np.abs(np.diff(layout, axis=2))
            edge = (step.sum(axis=0) > 1e-6) & (codes[:, 1:] == codes[:, :-1])
            steps.append(step[:, edge].mean(axis=1) if edge.any() else np.zeros(len(bands)))
            edges.append(edge.mean())
            spread.append(layout.reshape(len(bands), -1).std(axis=1))
        return {
            "step": np.mean(steps, axis=0).round(3).tolist(),
            "pixels_at_a_step": round(float(np.mean(edges)), 3),
            "spread": np.mean(spread, axis=0).round(3).tolist(),
        }

    out = {"real": stats([real_layout(unit, map_rgb) for unit, map_rgb in held])}
    for draw, settings in DRAWS.items():
        drawn, rng = ToneBank(bank.donors, **settings), np.random.default_rng(0)
        out["plain" if draw == "seed" else draw] = stats([drawn.layout(map_rgb, rng) for _, map_rgb in held])
    return out


def layout_targets(dataset: Path, target: Path) -> Path:
    """TARGET: the demo dataset with each training and validation patch's Sentinel-2 image replaced by its tone layout
    (``real_layout``: the real image's segments, each its mean tone) as a reflectance GeoTIFF of the same grid and
    encoding, so that train-model learns a layout model: one that draws the field mosaic (where one field ends and
    the next begins, and each field's tone) from a map alone. Only the GeoTIFFs (what a pixel model trains on) hold
    layouts: the PNG views (images/, nir/) are linked from DATASET, and so is the test split (never read)."""
    import rasterio

    from mapsynth_backend.prepare.tone_layout import real_layout
    from mapsynth_backend.radiometry import encode_reflectance, set_band_encoding
    from mapsynth_backend.train.data import read_dataset

    if (target / "radiometry.json").exists():
        return target
    splits, radiometry, _ = read_dataset(dataset)
    clip = clip_of(radiometry)
    low = np.asarray(clip.low, np.float64)[:, None, None]
    width = np.asarray(clip.high, np.float64)[:, None, None] - low
    for split in ("train", "validation"):
        folder = target / split
        (folder / "multispectral").mkdir(parents=True, exist_ok=True)
        for name in ("conditioning", "images", "nir"):
            if not (folder / name).exists():
                (folder / name).symlink_to((dataset / split / name).resolve(), target_is_directory=True)
        for row in splits[split]:
            unit, map_rgb = patch(Path(row["root"]), row, clip)
            reflectance = low + real_layout(unit, map_rgb) * width
            with rasterio.open(Path(row["root"]) / row["multispectral"]) as src:
                profile, names = src.profile, src.descriptions
            with rasterio.open(folder / row["multispectral"], "w", **profile) as dst:
                dst.write(encode_reflectance(reflectance, np.isfinite(unit)))
                set_band_encoding(dst, names)
        shutil.copy(dataset / split / "metadata.jsonl", folder / "metadata.jsonl")
    if not (target / "test").exists():
        (target / "test").symlink_to((dataset / "test").resolve(), target_is_directory=True)
    for name in ("mapsynth_output.json", "dataset_card.json"):
        if (dataset / name).exists():
            shutil.copy(dataset / name, target / name)
    shutil.copy(dataset / "radiometry.json", target / "radiometry.json")
    return target


def tile_stats(folders: dict[str, Path], split: str = "validation", tile: int = 32) -> dict[str, dict]:
    """How each folder's layouts of SPLIT look to a classifier that sees only a tile's mean colour (section
    realism-cues' 'mean spectrum' view), with no model in between: the spread of the 32 px tiles' mean tone per band,
    in reflectance, the correlation of the tiles' mean B03 and B08, and the C2ST of evaluate (5 runs, seed 0) on the
    real images' tiles against the layout's, both as their mean colour. The oracle folder's layouts keep every
    region's real mean, so its tiles' means are the real images' (up to 8-bit rounding)."""
    from mapsynth_backend.evaluate.c2st import c2st
    from mapsynth_backend.prepare.tone_layout import read_png
    from mapsynth_backend.train.data import read_dataset

    def tile_means(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        means, groups = [], []
        for index, image in enumerate(images):
            for y in range(0, image.shape[1] - tile + 1, tile):
                for x in range(0, image.shape[2] - tile + 1, tile):
                    means.append(np.nanmean(image[:, y : y + tile, x : x + tile], axis=(1, 2)))
                    groups.append(index)
        return np.array(means), np.array(groups)

    splits, radiometry, _ = read_dataset(next(iter(folders.values())))
    clip, bands = clip_of(radiometry), radiometry["bands"]
    low = np.asarray(clip.low, np.float64)
    width = np.asarray(clip.high, np.float64) - low
    real, groups = tile_means([patch(Path(row["root"]), row, clip)[0] for row in splits[split]])
    real = real * width + low

    def as_tiles(means: np.ndarray) -> np.ndarray:
        return np.broadcast_to(means[:, :, None, None], (*means.shape, tile, tile)).astype(np.float32)

    def summary(means: np.ndarray) -> dict:
        return {
            "tiles": len(means),
            "spread": dict(zip(bands, means.std(axis=0).round(4).tolist(), strict=True)),
            "r_B03_B08": round(float(np.corrcoef(means[:, bands.index("B03")], means[:, bands.index("B08")])[0, 1]), 2),
        }

    out = {}
    for name, folder in folders.items():
        rows = read_dataset(folder)[0][split]
        means = tile_means([read_png(Path(row["root"]) / row["tone_image"]) / 255.0 for row in rows])[0] * width + low
        test = c2st(as_tiles(real), as_tiles(means), groups, seed=0, control=False, repeats=5)
        out[name] = summary(means) | {"c2st_mean_colour": round(100 * test["accuracy"], 1)}
    out["real"] = summary(real)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seeds", default="0,1,2", help="layout seeds of the held-out patches")
    parser.add_argument(
        "--picture", type=Path, help="PNG: training rows (real layouts), then validation rows (each draw, first seed)"
    )
    parser.add_argument("--calibrated", action="store_true", help="also OUT/calibrated-S: the calibrated draws")
    parser.add_argument("--oracle", action="store_true", help="also OUT/oracle: held-out layouts from the real images")
    parser.add_argument(
        "--cascade", type=Path, help="a model on maps alone: also OUT/cascade-S, validation layouts from its images"
    )
    parser.add_argument(
        "--calibration", action="store_true", help="print how the draws compare with real layouts (training only)"
    )
    parser.add_argument(
        "--regions", action="store_true", help="segments are the map's own regions (training and draws alike)"
    )
    parser.add_argument("--cascade-name", default="cascade", help="the --cascade folders' prefix (OUT/NAME-S)")
    parser.add_argument(
        "--layout-targets",
        type=Path,
        help="write a dataset whose images are the training and validation patches' tone layouts here, and stop",
    )
    parser.add_argument(
        "--area", type=float, default=0.0, help="with --regions: cut each region into Voronoi cells of this many px"
    )
    parser.add_argument(
        "--tile-stats",
        action="store_true",
        help="also OUT/tile_stats.json: the validation layouts' tile means (a few minutes: a C2ST per folder)",
    )
    args = parser.parse_args()
    if args.regions and (args.calibrated or args.cascade or args.calibration):
        parser.error("--regions draws one way: no --calibrated, --cascade or --calibration")
    if args.calibration:
        print(json.dumps(calibration(args.dataset)))
        return
    if args.layout_targets:
        print(json.dumps({"layout_targets": str(layout_targets(args.dataset, args.layout_targets))}))
        return
    if not args.out:
        parser.error("--out is required (unless --calibration)")
    draws = ("seed", "calibrated") if args.calibrated else ("seed",)
    if args.area and not args.regions:
        parser.error("--area cuts the map's regions: give --regions")
    folders = build(args.dataset, args.out, [int(s) for s in args.seeds.split(",")], draws, args.regions, args.area)
    if args.oracle:
        folders["oracle"] = oracle(args.dataset, args.out, args.regions, args.area)
    for seed in [int(s) for s in args.seeds.split(",")] if args.cascade else []:
        folders[f"{args.cascade_name}-{seed}"] = cascade(args.dataset, args.out, args.cascade, seed, args.cascade_name)
    if args.tile_stats and not (args.out / "tile_stats.json").exists():
        stats = tile_stats({name: folder for name, folder in folders.items() if not name.startswith(args.cascade_name)})
        (args.out / "tile_stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    if args.picture:
        first = args.seeds.split(",")[0]
        picture([folders[f"{draw}-{first}"] for draw in draws], args.picture)
    print(json.dumps({str(seed): str(folder) for seed, folder in folders.items()}))


if __name__ == "__main__":
    main()
