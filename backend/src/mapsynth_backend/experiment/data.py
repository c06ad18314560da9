"""The experiment's data: real pairs of a `build-dataset` folder (its spatial splits kept), the map classes as
targets, and the real fractions as spatially contiguous blocks of the training split.

Targets are the map's colours, recoloured with the generator's ``map_remap`` (the classes the generator knows) and
named through the semantic palette; a colour that is no palette class is ignored in loss and scores (``IGNORE``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .links import UserError, decode_reflectance, remap_map

IGNORE = 255
SPLIT_FOLDERS = {"train": "train", "validation": "validation", "test": "test"}


@dataclass
class Pair:
    patch_id: str
    split: str
    bounds: tuple[float, float, float, float]
    crs: str
    image: np.ndarray  # (bands, H, W) reflectance, NaN = nodata
    map_rgb: np.ndarray  # (3, H, W) uint8, after the generator's map_remap


@dataclass
class Dataset:
    folder: Path
    bands: list[str]
    pairs: dict[str, list[Pair]]  # split -> pairs

    def fingerprint(self) -> str:
        """Which pairs are in which split: a resumed experiment must see the same data."""
        ids = {split: sorted(p.patch_id for p in pairs) for split, pairs in self.pairs.items()}
        return hashlib.sha256(json.dumps(ids, sort_keys=True).encode()).hexdigest()[:16]


def _read_records(folder: Path, split: str) -> list[dict[str, Any]]:
    path = folder / SPLIT_FOLDERS[split] / "metadata.jsonl"
    if not path.is_file():
        return []
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except ValueError as exc:
        raise UserError(f"DATASET: {path} is not valid JSON lines: {exc}") from exc


def load_dataset(folder: str | Path, map_remap: dict[str, list[int]] | None, need_test: bool = True) -> Dataset:
    """All pairs in memory (a dataset of a few thousand 64 px patches fits easily). Patches of the ``guard``
    split (between split blocks) are never read: nothing trains or scores on them. ``need_test``: the
    derived-label mode scores on the test split; the polygon-scored mode does not need one."""
    import cv2
    import rasterio

    folder = Path(folder)
    if not (folder / "radiometry.json").is_file():
        raise UserError(f"DATASET: {folder} is not a MapSynth training dataset (no radiometry.json); run build_dataset")
    bands = json.loads((folder / "radiometry.json").read_text(encoding="utf-8"))["bands"]
    pairs: dict[str, list[Pair]] = {}
    for split in SPLIT_FOLDERS:
        pairs[split] = []
        for record in _read_records(folder, split):
            base = folder / SPLIT_FOLDERS[split]
            try:
                with rasterio.open(base / record["multispectral"]) as src:
                    image = decode_reflectance(src.read())
            except rasterio.errors.RasterioError as exc:
                raise UserError(f"DATASET: cannot read {base / record['multispectral']}: {exc}") from exc
            bgr = cv2.imread(str(base / record["conditioning_image"]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise UserError(f"DATASET: cannot read the map {base / record['conditioning_image']}")
            rgb = np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1))
            pairs[split].append(
                Pair(
                    record["patch_id"],
                    split,
                    tuple(record["bounds"]),
                    record.get("crs", ""),
                    image,
                    remap_map(rgb, map_remap),
                )
            )
    if need_test and not pairs["test"]:
        raise UserError(
            f"DATASET: {folder} has no test split (test/metadata.jsonl); the experiment scores on held-out real"
            " pairs only: create the patch grid with TEST_FRACTION > 0 and rebuild the dataset"
        )
    if not pairs["train"]:
        raise UserError(f"DATASET: {folder} has no training split (train/metadata.jsonl)")
    return Dataset(folder, bands, pairs)


def class_table(dataset: Dataset, palette: dict[str, tuple[int, int, int]]) -> list[tuple[str, tuple[int, int, int]]]:
    """The palette classes that occur in the (remapped) maps, in palette order: the segmentation targets."""
    codes = set()
    for pairs in dataset.pairs.values():
        for pair in pairs:
            rgb = pair.map_rgb.astype(np.int64)
            codes.update(np.unique((rgb[0] << 16) | (rgb[1] << 8) | rgb[2]).tolist())
    table = [(name, rgb) for name, rgb in palette.items() if (rgb[0] << 16) | (rgb[1] << 8) | rgb[2] in codes]
    if len(table) < 2:
        raise UserError("DATASET: its maps show fewer than two classes of the semantic palette; nothing to segment")
    return table


def targets(map_rgb: np.ndarray, classes: list[tuple[str, tuple[int, int, int]]]) -> np.ndarray:
    """Map colours (3, H, W) -> class index per pixel, IGNORE for colours that are no class."""
    rgb = map_rgb.astype(np.int64)
    codes = (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]
    out = np.full(codes.shape, IGNORE, np.uint8)
    for index, (_, (r, g, b)) in enumerate(classes):
        out[codes == ((r << 16) | (g << 8) | b)] = index
    return out


def hilbert_index(order: int, x: int, y: int) -> int:
    """Position of cell (x, y) along the Hilbert curve of a 2^order square: neighbours on the curve are
    neighbours on the ground, so any prefix of the curve is one compact block."""
    n, d = 1 << order, 0
    s = n >> 1
    while s:
        rx, ry = int(x & s > 0), int(y & s > 0)
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x, y = n - 1 - x, n - 1 - y
            x, y = y, x
        s >>= 1
    return d


def contiguous_order(pairs: list[Pair]) -> list[Pair]:
    """Training pairs in Hilbert order of their grid cells (cells from the pairs' bounds)."""
    xs = sorted({p.bounds[0] for p in pairs})
    ys = sorted({p.bounds[3] for p in pairs}, reverse=True)
    col, row = {x: i for i, x in enumerate(xs)}, {y: i for i, y in enumerate(ys)}
    order = max(1, int(np.ceil(np.log2(max(len(xs), len(ys), 2)))))
    return sorted(pairs, key=lambda p: hilbert_index(order, col[p.bounds[0]], row[p.bounds[3]]))


def real_subset(ordered: list[Pair], fraction: float) -> tuple[list[Pair], list[Pair]]:
    """(real pairs of this fraction, the rest of the training split, whose imagery is withheld). Nested:
    a smaller fraction's block is the start of a larger one's."""
    count = min(len(ordered), max(1, round(fraction * len(ordered))))
    return ordered[:count], ordered[count:]


def parse_fractions(text: str) -> list[float]:
    try:
        values = [float(item) for item in text.replace(";", ",").split(",") if item.strip()]
    except ValueError as exc:
        raise UserError(f"REAL_FRACTIONS: expected numbers separated by commas, got {text!r}") from exc
    if not values:
        raise UserError("REAL_FRACTIONS: give at least one fraction, e.g. 0.1,0.25,1.0")
    bad = [v for v in values if not 0 < v <= 1]
    if bad:
        raise UserError(f"REAL_FRACTIONS: {bad[0]:g} is outside (0, 1]; fractions of the training split, e.g. 0.1,1.0")
    return sorted(set(values))
