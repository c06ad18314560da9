"""A small but real dataset folder (the layout build-dataset writes) and grid for model tests."""

import json
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.grid import GRID_FORMAT, fingerprint
from mapsynth_backend.radiometry import encode_reflectance

BANDS = ["B02", "B03", "B04", "B08"]
CLIP = {"B02": [0.0, 0.15], "B03": [0.0, 0.2], "B04": [0.0, 0.25], "B08": [0.05, 0.6]}


def make_grid(
    path: Path, rows: int, cols: int, size: int, overlap: int = 0, epsg: int = 32630, origin=(420000.0, 5809000.0)
) -> dict:
    definition = {
        "format": GRID_FORMAT,
        "format_version": 1,
        "crs_wkt": rasterio.crs.CRS.from_epsg(epsg).to_wkt(),
        "crs_authid": f"EPSG:{epsg}",
        "origin_x": float(origin[0]),
        "origin_y": float(origin[1]),
        "pixel_size": 10.0,
        "patch_size": size,
        "overlap": overlap,
        "rows": rows,
        "cols": cols,
    }
    definition["fingerprint"] = fingerprint(definition)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE mapsynth_grid (fid INTEGER PRIMARY KEY, definition TEXT, fingerprint TEXT)")
        conn.execute(
            "INSERT INTO mapsynth_grid (definition, fingerprint) VALUES (?, ?)",
            (json.dumps(definition), definition["fingerprint"]),
        )
        conn.execute(
            "CREATE TABLE patches (fid INTEGER PRIMARY KEY, patch_id TEXT, row INTEGER, col INTEGER, split TEXT)"
        )
        conn.executemany(
            "INSERT INTO patches (patch_id, row, col, split) VALUES (?, ?, ?, ?)",
            [(f"r{r:04d}_c{c:04d}", r, c, "train") for r in range(rows) for c in range(cols)],
        )
    return definition


def write_map_patches(folder: Path, grid: dict, patch_for, size: int, stride: int, details=None) -> Path:
    """folder/maps: every cell of ``grid`` as render_map_patches writes it (an RGB GeoTIFF on the cell's 10 m
    pixels, the folder manifest); ``patch_for(row, col)`` gives the cell's (3, size, size) uint8 colours."""
    maps = folder / "maps"
    maps.mkdir()
    manifest = {"kind": "map", "grid_fingerprint": grid["fingerprint"]}
    (maps / "mapsynth_output.json").write_text(
        json.dumps(manifest if details is None else {**manifest, "details": details})
    )
    for row in range(grid["rows"]):
        for col in range(grid["cols"]):
            transform = from_origin(grid["origin_x"] + col * stride * 10, grid["origin_y"] - row * stride * 10, 10, 10)
            profile = {"driver": "GTiff", "width": size, "height": size, "crs": "EPSG:32630", "transform": transform}
            with rasterio.open(maps / f"r{row:04d}_c{col:04d}.tif", "w", count=3, dtype="uint8", **profile) as dst:
                dst.write(patch_for(row, col))
    return maps


def synthetic_scene(rng, size):
    """Fields (map colours) with plausible reflectance: the model has something to learn."""
    classes = rng.integers(0, 3, (size // 8, size // 8)).repeat(8, 0).repeat(8, 1)
    colours = np.array([[40, 90, 200], [140, 205, 95], [180, 40, 40]], np.uint8)
    spectra = np.array([[0.06, 0.05, 0.03, 0.02], [0.03, 0.06, 0.04, 0.4], [0.09, 0.1, 0.12, 0.2]])
    reflectance = spectra[classes].transpose(2, 0, 1) + rng.normal(0, 0.005, (4, size, size))
    return colours[classes].transpose(2, 0, 1), reflectance


def make_dataset(folder: Path, grid_def: dict, n_val: int = 2, seed: int = 0) -> Path:
    """Dataset folder plus the map folder of the same grid (for generation)."""
    rng = np.random.default_rng(seed)
    size, cols = grid_def["patch_size"], grid_def["cols"]
    scenes = [synthetic_scene(rng, size) for _ in range(grid_def["rows"] * cols)]  # (map colours, reflectance)
    folder.mkdir(parents=True, exist_ok=True)
    write_map_patches(folder, grid_def, lambda row, col: scenes[row * cols + col][0], size, size, {"style": "test"})
    records = {"train": [], "validation": []}
    for index, (colours, reflectance) in enumerate(scenes):
        row, col = divmod(index, cols)
        pid = f"r{row:04d}_c{col:04d}"
        split = "validation" if index < n_val else "train"
        base = folder / "dataset" / split
        for sub in ("images", "nir", "multispectral", "conditioning"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        transform = from_origin(grid_def["origin_x"] + col * size * 10, grid_def["origin_y"] - row * size * 10, 10, 10)
        profile = {"driver": "GTiff", "width": size, "height": size, "crs": "EPSG:32630", "transform": transform}
        with rasterio.open(
            base / "multispectral" / f"{pid}.tif", "w", count=4, dtype="uint16", nodata=0, **profile
        ) as dst:
            dst.write(encode_reflectance(reflectance, np.ones((1, size, size), bool)))
        unit = [(reflectance[i] - CLIP[b][0]) / (CLIP[b][1] - CLIP[b][0]) for i, b in enumerate(BANDS)]
        u8 = np.rint(np.clip(np.stack(unit), 0, 1) * 255).astype(np.uint8)
        cv2.imwrite(str(base / "images" / f"{pid}.png"), u8[[2, 1, 0]].transpose(1, 2, 0)[:, :, ::-1])
        cv2.imwrite(str(base / "nir" / f"{pid}.png"), u8[3])
        cv2.imwrite(str(base / "conditioning" / f"{pid}.png"), colours.transpose(1, 2, 0)[:, :, ::-1])
        x0 = transform.c
        records[split].append(
            {
                "file_name": f"images/{pid}.png",
                "conditioning_image": f"conditioning/{pid}.png",
                "nir_image": f"nir/{pid}.png",
                "multispectral": f"multispectral/{pid}.tif",
                "text": "a Sentinel-2 satellite image",
                "patch_id": pid,
                "split": split,
                "bounds": [x0, transform.f - size * 10, x0 + size * 10, transform.f],
                "crs": "EPSG:32630",
            }
        )
    for split, rows in records.items():
        (folder / "dataset" / split / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (folder / "dataset" / "radiometry.json").write_text(json.dumps({"bands": BANDS, "clip": CLIP}))
    return folder / "dataset"
