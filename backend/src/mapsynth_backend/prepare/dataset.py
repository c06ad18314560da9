"""`build-dataset`: pair map patches with Sentinel-2 patches into a training dataset folder.

Layout (``datasets`` imagefolder with split folders; diffusers' ControlNet examples read the same columns)::

    <out>/{train,validation,test}/metadata.jsonl          one line per pair
    <out>/<split>/images/<id>.png         RGB (B04, B03, B02) through the radiometry map, 8 bit
    <out>/<split>/nir/<id>.png            B08 through the same map, 8 bit
    <out>/<split>/multispectral/<id>.tif  all bands, reflectance encoding of the crop step
    <out>/<split>/conditioning/<id>.png   the rendered map
    <out>/radiometry.json, dataset_card.md, dataset_card.json (data sources and licences, and the pixels the
    splits share; copied into model cards)
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import GUARD_SPLIT
from ..data_sources import SOURCES_FILE, data_sources, write_sources
from ..grid import load_grid, read_status
from ..radiometry import ENCODING, ClipRange, decode_reflectance, percentile_range
from ..runtime.jobs import Command, Param
from ..runtime.outputs import MANIFEST, atomic_write, prepare_output_dir
from ..runtime.protocol import Reporter, UserError
from .landcover import outside_data
from .split_check import held_out_mask, leak_warning, split_check

SPLIT_FOLDERS = {"train": "train", "val": "validation", "test": "test"}
RGB = ("B04", "B03", "B02")
SAMPLES_PER_PATCH = 4096
BLANK_WARNING = 0.1  # share of blank maps above which the dataset build warns (as render_map_patches does)


def _manifest(folder: Path, label: str, fingerprint: str) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{label}: {folder} is not a MapSynth patch folder (no {MANIFEST})") from exc
    if manifest.get("grid_fingerprint") != fingerprint:
        raise UserError(
            f"{label}: {folder} was made for another grid ({manifest.get('grid_fingerprint')}, this"
            f" grid is {fingerprint}); rerun that step with this PATCH_GRID"
        )
    return manifest


def _read_s2(path: Path) -> tuple[np.ndarray, list[str], float]:
    import rasterio

    try:
        with rasterio.open(path) as src:
            return decode_reflectance(src.read()), list(src.descriptions), float(src.tags().get("cloud_fraction", 0))
    except rasterio.errors.RasterioError as exc:
        raise UserError(
            f"S2_DIR: cannot read {path}: {str(exc).splitlines()[0]}; delete it and rerun the crop"
        ) from exc


def _read_map(path: Path) -> np.ndarray:
    import rasterio

    try:
        with rasterio.open(path) as src:
            return src.read([1, 2, 3])
    except (rasterio.errors.RasterioError, IndexError) as exc:
        raise UserError(f"MAP_DIR: cannot read {path} as an RGB map: {str(exc).splitlines()[0]}") from exc


def parse_clip(spec: str, bands: list[str]) -> ClipRange | None:
    """``B02:0:0.2,B03:0:0.25,...`` fixed ranges, or empty for percentiles of the training data."""
    if not spec.strip():
        return None
    ranges = {}
    for item in spec.split(","):
        try:
            name, low, high = item.strip().split(":")
            ranges[name] = (float(low), float(high))
        except ValueError as exc:
            raise UserError(f"CLIP: expected BAND:LOW:HIGH items, got {item!r}") from exc
    missing = [b for b in bands if b not in ranges]
    if missing:
        raise UserError(f"CLIP: no range for {', '.join(missing)}")
    try:
        return ClipRange(np.array([ranges[b][0] for b in bands]), np.array([ranges[b][1] for b in bands]))
    except ValueError as exc:
        raise UserError(f"CLIP: {exc}") from exc


def _png(path: Path, array: np.ndarray) -> None:
    import cv2

    image = array if array.ndim == 2 else np.ascontiguousarray(array.transpose(1, 2, 0)[:, :, ::-1])

    def write(tmp: Path) -> None:
        if not cv2.imwrite(str(tmp), image):
            raise OSError(f"cannot write {path}")

    atomic_write(path, write)


def _copy_hidden(source: Path, target: Path, mask: np.ndarray | None) -> None:
    """The Sentinel-2 patch as cropped, with ``mask``'s pixels set to nodata (DN 0) in every band."""
    if mask is None:
        shutil.copyfile(source, target)
        return
    import rasterio

    with rasterio.open(source) as src:
        profile, data, tags = src.profile, src.read(), src.tags()
        descriptions, scales, offsets = src.descriptions, src.scales, src.offsets
    data[:, mask] = 0
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions, dst.scales, dst.offsets = descriptions, scales, offsets
        dst.update_tags(**tags)


def build_dataset(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    grid = load_grid(params["patch_grid"])
    map_dir, s2_dir, out = Path(params["map_dir"]), Path(params["s2_dir"]), Path(params["output_dir"])
    map_manifest = _manifest(map_dir, "MAP_DIR", grid.fingerprint)
    s2_manifest = _manifest(s2_dir, "S2_DIR", grid.fingerprint)
    pairs, dropped, hidden = [], Counter(), {}
    held = {(p.row, p.col) for p in grid.patches if p.split in ("val", "test")}
    for patch in grid.patches:
        if patch.split == GUARD_SPLIT:  # shares pixels with another split: left out, or trains with them hidden
            if not params.get("train_guard"):
                continue
            hidden[patch.patch_id] = held_out_mask(grid, patch, held)
            patch = replace(patch, split="train")  # noqa: PLW2901
        map_path, s2_path = map_dir / f"{patch.patch_id}.tif", s2_dir / f"{patch.patch_id}.tif"
        if not map_path.exists() or not s2_path.exists():
            dropped["missing map or Sentinel-2 patch"] += 1
            continue
        pairs.append((patch, map_path, s2_path))
    if not pairs:
        raise UserError(f"no patch has both a map in {map_dir} and a Sentinel-2 patch in {s2_dir}")
    pairs.sort(key=lambda pair: pair[0].patch_id in hidden)  # guard patches after the split's own, in grid order
    bands = _read_s2(pairs[0][2])[1]
    if not set(RGB) <= set(bands):
        raise UserError(f"S2_DIR: patches have bands {bands}; B02, B03 and B04 are needed")
    kept = []
    for number, (patch, map_path, s2_path) in enumerate(pairs):
        reporter.check_cancel()
        reporter.progress(0.3 * number / len(pairs), "checking pairs", "build-dataset")
        reflectance, _, cloud = _read_s2(s2_path)
        valid = float(np.isfinite(reflectance).all(axis=0).mean())  # before hiding: the patch's own data
        if valid < params["min_valid"]:
            dropped[f"valid fraction below {params['min_valid']}"] += 1
        elif cloud > params["max_cloud"]:
            dropped[f"cloud fraction above {params['max_cloud']}"] += 1
        else:
            kept.append((patch, map_path, s2_path, valid, cloud))
    if not kept:
        raise UserError(f"every pair was dropped ({dict(dropped)}); lower MIN_VALID or raise MAX_CLOUD")
    details = {
        "map": map_manifest.get("details"),
        "s2": s2_manifest.get("details"),
        "min_valid": params["min_valid"],
        "max_cloud": params["max_cloud"],
        "clip": params["clip"],
        "prompt": params["prompt"],
        **({"train_guard": True} if params.get("train_guard") else {}),  # absent when off: older folders resume
    }
    prepare_output_dir(out, "dataset", grid.fingerprint, details)
    radiometry_path = out / "radiometry.json"
    if radiometry_path.exists():  # a resumed run keeps the ranges it started with
        saved = json.loads(radiometry_path.read_text())
        clip = ClipRange(np.array([saved["clip"][b][0] for b in bands]), np.array([saved["clip"][b][1] for b in bands]))
    else:
        clip = parse_clip(params["clip"], bands) or _percentiles(kept, params, reporter)
    radiometry = {
        "bands": bands,
        "source_encoding": ENCODING,
        "clip": clip.to_json(tuple(bands)),
        "clip_method": "fixed"
        if params["clip"].strip()
        else f"percentiles {params['low_pct']}-{params['high_pct']} of the training split",
        "forward": "unit = (clip(reflectance, low, high) - low) / (high - low); png = round(unit * 255);"
        " model = 2 * unit - 1",
        "inverse": "reflectance = low + unit * (high - low)",
        "rgb_bands": list(RGB),
        "nir_band": "B08" if "B08" in bands else None,
    }
    atomic_write(radiometry_path, lambda tmp: tmp.write_text(json.dumps(radiometry, indent=2)))
    index = {b: i for i, b in enumerate(bands)}
    records, clipped = [], 0
    for number, (patch, map_path, s2_path, valid, cloud) in enumerate(kept):
        reporter.check_cancel()
        reporter.progress(0.4 + 0.6 * number / len(kept), f"pair {patch.patch_id}", "build-dataset")
        split_dir = out / SPLIT_FOLDERS.get(patch.split, patch.split)
        names = {
            kind: f"{kind}/{patch.patch_id}.{ext}"
            for kind, ext in (("images", "png"), ("nir", "png"), ("multispectral", "tif"), ("conditioning", "png"))
        }
        for kind in names:
            (split_dir / kind).mkdir(parents=True, exist_ok=True)
        if not all((split_dir / name).exists() for name in names.values()):
            mask = hidden.get(patch.patch_id)
            reflectance, _, _ = _read_s2(s2_path)
            if mask is not None:
                reflectance[:, mask] = np.nan
            image, n_clipped = clip.to_uint8(reflectance)
            clipped += n_clipped
            _png(split_dir / names["images"], image[[index[b] for b in RGB]])
            if "B08" in index:
                _png(split_dir / names["nir"], image[index["B08"]])
            map_rgb = _read_map(map_path)
            if mask is not None:
                map_rgb[:, mask] = np.array(outside_data(), np.uint8)[:, None]
            _png(split_dir / names["conditioning"], map_rgb)
            atomic_write(split_dir / names["multispectral"], lambda tmp: _copy_hidden(s2_path, tmp, mask))  # noqa: B023
        x_min, y_min, x_max, y_max = grid.bounds(patch.row, patch.col)
        records.append(
            (
                split_dir,
                {
                    "file_name": names["images"],
                    "conditioning_image": names["conditioning"],
                    "nir_image": names["nir"] if "B08" in index else None,
                    "multispectral": names["multispectral"],
                    "text": params["prompt"],
                    "patch_id": patch.patch_id,
                    "split": patch.split,
                    "bounds": [x_min, y_min, x_max, y_max],
                    "crs": grid.definition.get("crs_authid") or grid.crs_wkt,
                    "valid_fraction": valid,
                    "cloud_fraction": cloud,
                    **({"hidden_pixels": int(hidden[patch.patch_id].sum())} if patch.patch_id in hidden else {}),
                },
            )
        )
    counts = Counter(record["split"] for _, record in records)
    for split_dir in {d for d, _ in records}:
        lines = [json.dumps(r) for d, r in records if d == split_dir]
        atomic_write(split_dir / "metadata.jsonl", lambda tmp: tmp.write_text("\n".join(lines) + "\n"))  # noqa: B023
    for name in set(SPLIT_FOLDERS.values()) - {d.name for d, _ in records}:  # a rebuild on a regrouped grid
        (out / name / "metadata.jsonl").unlink(missing_ok=True)
    coverage = map_coverage(grid.path, [record["patch_id"] for _, record in records])
    if coverage["blank_fraction"] and coverage["blank_fraction"] >= BLANK_WARNING:
        reporter.log(f"{coverage['summary']}: check that the map source covers the whole grid", "warning")
    written = {patch.patch_id for patch, *_ in kept}  # guard patches dropped above neither train nor hide
    check = split_check(grid, [patch for patch, *_ in kept], {k: m for k, m in hidden.items() if k in written})
    warning = leak_warning(check)
    if warning:
        reporter.log(warning, "warning")
    sources = data_sources(details["map"], details["s2"])
    overlap = {
        key: check[key] for key in ("shared_pixels", "per_split", "guard_patches", "guard_band", "guard_trained")
    }
    atomic_write(out / SOURCES_FILE, lambda tmp: write_sources(tmp, {**sources, "split_overlap": overlap}))
    card = dataset_card(
        grid, counts, dropped, radiometry, details, clipped, coverage["summary"], check["summary"], sources
    )
    atomic_write(out / "dataset_card.md", lambda tmp: tmp.write_text(card, encoding="utf-8"))
    if clipped:
        reporter.log(f"{clipped} reflectance values fell outside the clip ranges and were clipped", "info")
    reporter.progress(1.0, "done", "build-dataset")
    return {
        "output_dir": str(out),
        "patch_count": len(records),
        "splits": dict(counts),
        "dropped": dict(dropped),
        "clipped_values": clipped,
        "blank_map_fraction": coverage["blank_fraction"],
        "shared_pixels": check["shared_pixels"],
        "shared_pixels_per_split": check["per_split"],
        "guard_patches": check["guard_patches"],
    }


def map_coverage(grid_path: Path, patch_ids: list[str]) -> dict[str, Any]:
    """How much of the pairs' maps is blank, from the map step's per-patch share of mapped pixels
    (render_map_patches records it as valid_fraction; 0 = a map that shows no mapped feature)."""
    status = read_status(grid_path, "map")
    shares = [status[p]["valid_fraction"] for p in patch_ids if status.get(p, {}).get("valid_fraction") is not None]
    if not shares:
        return {"blank_fraction": None, "summary": "Map coverage: not recorded for these maps"}
    blank = sum(1 for share in shares if share == 0.0)
    fraction, unmapped = blank / len(shares), 1 - sum(shares) / len(shares)
    return {
        "blank_fraction": fraction,
        "summary": f"Maps with no mapped feature at all: {blank} of {len(shares)} pairs ({100 * fraction:.1f} %);"
        f" pixels that show no mapped feature: {100 * unmapped:.1f} %",
    }


def _percentiles(kept, params, reporter) -> ClipRange:
    rng = np.random.default_rng(0)
    samples = []
    for patch, _, s2_path, _, _ in kept:
        if patch.split != "train":
            continue
        reflectance, _, _ = _read_s2(s2_path)
        flat = reflectance.reshape(reflectance.shape[0], -1)
        flat = flat[:, np.isfinite(flat).all(axis=0)]
        if flat.shape[1] > SAMPLES_PER_PATCH:
            flat = flat[:, rng.choice(flat.shape[1], SAMPLES_PER_PATCH, replace=False)]
        samples.append(flat)
    if not samples:
        raise UserError("no training-split pair is left to compute clip ranges from; give CLIP or adjust the split")
    reporter.log("clip ranges from percentiles of the training split")
    return percentile_range(np.concatenate(samples, axis=1), params["low_pct"], params["high_pct"])


def dataset_card(
    grid,
    counts,
    dropped,
    radiometry,
    details,
    clipped,
    coverage_line: str = "",
    split_line: str = "",
    sources: dict[str, Any] | None = None,
) -> str:
    sources = sources or data_sources(details["map"], details["s2"])
    d = grid.definition
    rows = "\n".join(f"| {b} | {lo:.4f} | {hi:.4f} |" for b, (lo, hi) in radiometry["clip"].items())
    return (
        f"""# MapSynth training dataset

Created {datetime.now(timezone.utc).isoformat(timespec="seconds")} by mapsynth-backend.

## Area
- Grid {d.get("crs_authid")}, origin ({d["origin_x"]}, {d["origin_y"]}), {d["rows"]} x {d["cols"]} patches of
  {d["patch_size"]} px at {d["pixel_size"]} m, overlap {d["overlap"]} px, fingerprint {grid.fingerprint}.
- Sentinel-2 source: {details["s2"].get("source") if details["s2"] else "unknown"}
  (resampling {details["s2"].get("resampling") if details["s2"] else "?"}). Acquisition date: as named by the source.
- Map source and style: {details["map"]}.

## Pairs
| split | pairs |
|---|---|
"""
        + "\n".join(f"| {s} | {counts.get(s, 0)} |" for s in ("train", "val", "test"))
        + f"""

Dropped: {dict(dropped) or "none"} (MIN_VALID {details["min_valid"]}, MAX_CLOUD {details["max_cloud"]}).
{coverage_line or "Map coverage: not recorded"}.
{split_line or "Pixels shared between splits: not measured"}.

## Radiometry
Sentinel-2 patches: {ENCODING["formula"]}. Images: {radiometry["forward"]} ({radiometry["clip_method"]});
exact inverse: {radiometry["inverse"]}. Values clipped: {clipped}.

| band | low reflectance | high reflectance |
|---|---|---|
{rows}

## Data sources and licences
"""
        + "\n".join(
            f"- {s['role']}: {s['source']}; licence: {s['license'] or 'that of the imagery'}"
            for s in sources["data_sources"]
        )
        + "\n"
    )


COMMANDS = (
    Command(
        "build-training-dataset",
        "Pair rendered map patches with Sentinel-2 patches into a training dataset folder.",
        build_dataset,
        (
            Param("patch_grid", "path", help="the grid GeoPackage"),
            Param("map_dir", "path", help="map patches (render_map_patches)"),
            Param("s2_dir", "path", help="Sentinel-2 patches (crop_sentinel2)"),
            Param("min_valid", "float", 1.0, "drop pairs whose valid fraction is below this", minimum=0, maximum=1),
            Param("max_cloud", "float", 0.05, "drop pairs whose cloud fraction is above this", minimum=0, maximum=1),
            Param("clip", "str", "", "fixed clip ranges B02:LOW:HIGH,...; empty = percentiles"),
            Param("low_pct", "float", 1.5, "lower percentile of the training data", minimum=0, maximum=50),
            Param("high_pct", "float", 98.5, "upper percentile of the training data", minimum=50, maximum=100),
            Param("prompt", "str", "a Sentinel-2 satellite image", "text prompt stored with each pair"),
            Param(
                "train_guard",
                "bool",
                False,
                "guard patches train too, with every pixel they share with a validation or test patch hidden "
                "(nodata, outside-data map colour): more training windows, still no held-out pixel",
            ),
            Param("output_dir", "path", help="dataset folder"),
        ),
    ),
)
