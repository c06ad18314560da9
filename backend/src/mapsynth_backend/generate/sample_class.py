"""`sample-class`: COUNT patches of one palette CLASS without drawing a map, written as a training dataset.

The model sees a flat map of the class (recoloured through the card's ``map_remap``, as generation does). With a
pixel model trained with map dropout, the card's map guidance (GUIDANCE 0) pushes the samples from the map-free
prediction towards the class; how close each setting came to the class's real NDVI:
docs/history/measurements-2026-11.md. The output is a dataset folder (radiometry.json + train/metadata.jsonl,
images/, nir/, multispectral/, conditioning/) that `train-model` and other tools read like one from
build-training-dataset; the GeoTIFFs lie side by side on a synthetic grid (origin 0, 0 of the model's CRS), flagged
as synthetic. Sample i's noise depends only on (seed, class, i), so reruns resume and a larger COUNT extends a
smaller one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..models import load_model
from ..prepare.dataset import _png
from ..prepare.landcover import palette
from ..radiometry import ENCODING, encode_reflectance
from ..runtime.jobs import Command, Param
from ..runtime.outputs import atomic_write, prepare_output_dir
from ..runtime.protocol import Reporter
from .command import default_steps, resolve_device, write_generated
from .sampling import clip_range, item_noise, map_to_model, remap_map, stack_noise, to_reflectance

PALETTE_FILE = Path(__file__).resolve().parents[1] / "data" / "semantic_palette.json"
# Line classes (roads, hedges, ...) are a few metres wide: a patch of nothing but road is no scene to learn from.
AREA_CLASSES = tuple(
    c["key"] for c in json.loads(PALETTE_FILE.read_text(encoding="utf-8"))["classes"] if c["geometry"] == "area"
)


def flat_map(class_key: str, size: int, remap: dict | None) -> np.ndarray:
    """(3, size, size) uint8: the class colour everywhere, recoloured onto the model's classes."""
    rgb = np.array(palette()[class_key], np.uint8)
    return remap_map(np.broadcast_to(rgb[:, None, None], (3, size, size)).copy(), remap)


def sample_id(class_key: str, index: int) -> str:
    return f"{class_key}_{index:05d}"


def sample_class(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import torch
    from accelerate import PartialState
    from rasterio.transform import from_origin

    device = resolve_device(params["device"], PartialState(cpu=params["device"] == "cpu"))
    model = load_model(params["model"], device, torch.float32)
    card = model.card
    guidance = model.guidance_scale(params["guidance"])
    params = {**params, "steps": default_steps(params, card)}
    key, size = params["class"], card["patch_size"]
    out = Path(params["output_dir"])
    details = {"model": str(Path(params["model"]).resolve()), "class": key, "seed": params["seed"]}
    details.update(steps=params["steps"], guidance=guidance, family=card["family"])
    grid_id = hashlib.sha256(f"{details['model']}|{size}".encode()).hexdigest()[:16]
    prepare_output_dir(out, "class-samples", grid_id, details)
    split = out / "train"
    for sub in ("images", "nir", "multispectral", "conditioning"):
        (split / sub).mkdir(parents=True, exist_ok=True)
    radiometry = card["radiometry"]
    atomic_write(out / "radiometry.json", lambda tmp: tmp.write_text(json.dumps(radiometry, indent=2)))
    conditioning = flat_map(key, size, card.get("map_remap"))
    pixel = float(card.get("pixel_size") or 10.0)
    clip, index = clip_range(card), {b: i for i, b in enumerate(card["bands"])}
    rgb = [index[b] for b in radiometry.get("rgb_bands", ("B04", "B03", "B02")) if b in index]
    records, todo = [], []
    for i in range(params["count"]):
        pid = sample_id(key, i)
        x0 = i * size * pixel
        records.append(
            {
                "file_name": f"images/{pid}.png",
                "conditioning_image": f"conditioning/{pid}.png",
                "nir_image": f"nir/{pid}.png" if "B08" in index else None,
                "multispectral": f"multispectral/{pid}.tif",
                "text": card.get("prompt", ""),
                "patch_id": pid,
                "split": "train",
                "bounds": [x0, 0.0, x0 + size * pixel, size * pixel],
                "crs": card.get("crs"),
                "synthetic_class": key,
            }
        )
        if not (split / f"multispectral/{pid}.tif").exists():
            todo.append(i)
    maps = map_to_model(conditioning)[None].to(device)
    for start in range(0, len(todo), params["batch_size"]):
        reporter.check_cancel()
        batch = todo[start : start + params["batch_size"]]
        noises = stack_noise([item_noise(model, params["seed"], key, i, size) for i in batch], device)
        outputs = model.sample(maps.expand(len(batch), -1, -1, -1), noises, params["steps"], guidance=guidance)
        for i, values in zip(batch, to_reflectance(model, outputs), strict=True):
            record = records[i]
            image, _ = clip.to_uint8(values)
            if len(rgb) == 3:
                _png(split / record["file_name"], image[rgb])
            if record["nir_image"]:
                _png(split / record["nir_image"], image[index["B08"]])
            _png(split / record["conditioning_image"], conditioning)
            profile = {
                "crs": card.get("crs"),
                "transform": from_origin(record["bounds"][0], size * pixel, pixel, pixel),
            }
            tags = {"patch_id": record["patch_id"], "class": key, "seed": str(params["seed"]), "family": card["family"]}
            tags.update(georeference="synthetic grid: the location means nothing", encoding=ENCODING["formula"])
            dn = encode_reflectance(values, np.ones(values.shape[1:], bool)[None])
            write_generated(split / record["multispectral"], dn, profile, card["bands"], tags)
        done = start + len(batch)
        reporter.progress(done / len(todo), f"{done}/{len(todo)} samples", "sample-class")
    lines = "\n".join(json.dumps(r) for r in records) + "\n"
    atomic_write(split / "metadata.jsonl", lambda tmp: tmp.write_text(lines))
    reporter.progress(1.0, "done", "sample-class")
    return {"output_dir": str(out), "written": len(todo), "count": params["count"], "guidance": guidance}


COMMANDS = (
    Command(
        "sample-class",
        "COUNT patches of one palette CLASS from a flat single-class map, written as a training dataset folder.",
        sample_class,
        (
            Param("model", "path", help="model directory (model_card.json)"),
            Param("class", "str", "forest", "palette class (area classes)", choices=AREA_CLASSES),
            Param("count", "int", 16, "patches to generate", minimum=1, maximum=10000),
            Param("seed", "int", 0, "seed; noise depends only on (seed, class, index)", minimum=0),
            Param("steps", "int", 0, "denoising steps; 0 = the card's default_steps (pix2pix: ignored)", minimum=0),
            Param(
                "guidance",
                "float",
                0.0,
                "map guidance; 0 = the model's default (pixel with map dropout: its card's; pix2pix: none)",
                minimum=0,
            ),
            Param("batch_size", "int", 8, "patches per forward pass", minimum=1),
            Param("device", "str", "auto", "auto, cpu, cuda or cuda:N"),
            Param("output_dir", "path", help="dataset folder (radiometry.json, train/metadata.jsonl, ...)"),
        ),
    ),
)
