"""Package the trained demo model into resources/models/mapsynth-demo-pixel-small with an honest model card:
what it is, how it was made, and metrics on the held-out test split of the scene. Run in the backend venv:

    .venv-backend/bin/python scripts/package_demo_model.py WORK_DIR
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from scipy.stats import wasserstein_distance

from mapsynth_backend.evaluate.metrics import ndvi, ssim
from mapsynth_backend.generate.sampling import item_noise, stack_noise, to_reflectance
from mapsynth_backend.models import load_model
from mapsynth_backend.prepare.landcover import STYLE, palette, remap_table
from mapsynth_backend.train.data import load_pair, read_dataset

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "resources" / "models" / "mapsynth-demo-pixel-small"
BANDS = ["B02", "B03", "B04", "B08"]
PROTOTYPE = {"model": "4.3 M-parameter pixel UNet, flat land-cover classes, 2,500 steps, 45 min on 2 cores",
             "grass_ndvi": {"synthetic": 0.857, "real": 0.856}, "water_like_fraction": 0.95,
             "observed": "colours and per-class NDVI right, but farmland as mottled blobs without fields, hedgerows "
                         "or lanes, and the beach turned into town"}


def held_out_metrics(work: Path, model) -> dict:
    splits, radiometry, _ = read_dataset(work / "dataset")
    rows = splits["test"] + splits["validation"]
    from mapsynth_backend.radiometry import ClipRange

    clip = ClipRange(np.array([radiometry["clip"][b][0] for b in BANDS]),
                     np.array([radiometry["clip"][b][1] for b in BANDS]))
    hedge_rgb, grass_rgb = (torch.tensor(palette()[name], dtype=torch.float32)[None, :, None, None] / 127.5 - 1
                            for name in ("hedge", "grass"))
    real, fake, flat, maps = [], [], [], []
    for start in range(0, len(rows), 8):
        batch = rows[start:start + 8]
        items = [load_pair(row, "pixel", clip) for row in batch]
        noise = stack_noise([item_noise(model, 0, row["patch_id"], 0, 64) for row in batch], "cpu")
        conditions = torch.stack([item["map"] for item in items])
        fake.append(to_reflectance(model, model.sample(conditions, noise, 20)))
        # the same maps with hedgerow/field-boundary lines painted as grass: what flat classes give (the prototype)
        lines = (conditions - hedge_rgb).abs().amax(1, keepdim=True) < 0.5 / 127.5
        flat.append(to_reflectance(model, model.sample(torch.where(lines, grass_rgb, conditions), noise, 20)))
        real.append(np.stack([clip.inverse((item["target"].numpy() + 1) / 2) for item in items]))
        maps.append(np.stack([((item["map"].numpy() + 1) * 127.5).round().astype(np.uint8) for item in items]))
    real, fake, flat, maps = (np.concatenate(v) for v in (real, fake, flat, maps))
    codes = (maps[:, 0].astype(int) << 16) | (maps[:, 1].astype(int) << 8) | maps[:, 2]
    masks = {name: codes == ((rgb[0] << 16) | (rgb[1] << 8) | rgb[2]) for name, rgb in palette().items()}
    per_class = {}
    for name, mask in masks.items():
        if mask.sum() < 100:
            continue
        r_ndvi = np.concatenate([ndvi(v, BANDS)[m] for v, m in zip(real, mask, strict=True)])
        f_ndvi = np.concatenate([ndvi(v, BANDS)[m] for v, m in zip(fake, mask, strict=True)])
        per_class[name] = {"pixels": int(mask.sum()), "real_ndvi_median": round(float(np.nanmedian(r_ndvi)), 3),
                           "synthetic_ndvi_median": round(float(np.nanmedian(f_ndvi)), 3)}
        if name == "water":
            def ndwi(v):
                return (v[:, 1] - v[:, 3]) / (v[:, 1] + v[:, 3])
            per_class[name]["synthetic_water_like_fraction"] = round(float((ndwi(fake)[mask] > 0).mean()), 3)
    bands = {}
    for i, band in enumerate(BANDS):
        data_range = float(real[:, i].max() - real[:, i].min())
        bands[band] = {
            "wasserstein": round(float(wasserstein_distance(real[:, i].ravel(), fake[:, i].ravel())), 4),
            "ssim_mean": round(float(np.mean([ssim(f, r, data_range) for f, r in zip(fake[:, i], real[:, i],
                                                                                      strict=True)])), 3)}
    hedge, grass = masks["hedge"], masks["grass"]
    structure = {"what": "hedgerow/field-boundary lines: median NIR (B08) of grass within 2 px of a line minus median "
                         "NIR on the line, held-out patches; 0 = no line drawn",
                 "real": line_contrast(real, hedge, grass), "synthetic": line_contrast(fake, hedge, grass),
                 "synthetic_same_maps_lines_painted_as_grass": line_contrast(flat, hedge, grass)}
    return {"held_out_patches": len(rows), "splits": ["test", "validation"], "per_class": per_class, "bands": bands,
            "hedgerow_structure": structure}


def line_contrast(values: np.ndarray, line: np.ndarray, field: np.ndarray) -> float:
    near = np.stack([ndimage.binary_dilation(m, iterations=2) for m in line]) & field & ~line
    nir = values[:, BANDS.index("B08")]
    return round(float(np.median(nir[near]) - np.median(nir[line])), 4)


def main(work: Path) -> None:
    source = work / "training" / "model"
    model = load_model(source)
    metrics = held_out_metrics(work, model)
    if TARGET.exists():
        shutil.rmtree(TARGET)
    shutil.copytree(source, TARGET)
    card = json.loads((TARGET / "model_card.json").read_text())
    card.pop("dataset", None)
    card.update({
        "name": "mapsynth-demo-pixel-small",
        "description": "A DEMONSTRATION model of land-cover -> Sentinel-2 appearance, not a production model. It was "
                       "trained on one real Sentinel-2 scene (Aberystwyth, Wales, 2021-05-27) with maps derived from "
                       "the scene itself (water, forest, grass/farmland, bare/sand, built-up, and hedgerow/field-"
                       "boundary and lane lines), because no OpenStreetMap extract of that area is available. "
                       "OpenStreetMap renders are remapped onto those classes at generation (map_remap).",
        "map_style": STYLE, "map_remap": remap_table(),
        "training_command": "make train-demo-model  (scripts/train_demo_model.sh; DEMO_STEPS, default 2500)",
        "held_out_evaluation": metrics, "baseline_prototype": PROTOTYPE,
        "licenses": {"code": "Apache-2.0", "data": card.get("data_licenses")},
    })
    (TARGET / "model_card.json").write_text(json.dumps(card, indent=2))
    validation = work / "training" / "validation" / "final.png"
    if validation.exists():
        shutil.copy(validation, ROOT / "docs" / "demo_model_validation.png")
    size = sum(p.stat().st_size for p in TARGET.rglob("*") if p.is_file())
    assert size <= 25 * 2**20, f"the demo model is {size / 2**20:.1f} MB, over 25 MB"
    print(json.dumps({"model": str(TARGET), "size_mb": round(size / 2**20, 2), "evaluation": metrics}, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
