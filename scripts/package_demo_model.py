"""Package the trained demo model into resources/models/mapsynth-demo-pixel-small with an honest model card:
what it is, how it was made, and metrics on the held-out test split of the scene (make bench-realism then adds
held_out_evaluation.realism; tests/unit/test_model_card_realism.py fails until it has). Run in the backend venv:

    .venv-backend/bin/python scripts/package_demo_model.py WORK_DIR
"""

import json
import shutil
import sys
from pathlib import Path

import demo_class_spectra
import numpy as np
import torch
from scipy import ndimage
from scipy.stats import wasserstein_distance

from mapsynth_backend.evaluate.metrics import ndvi, ssim
from mapsynth_backend.evaluate.spectra import class_masks, class_ndvi, saturated_fraction
from mapsynth_backend.evaluate.streets import NOT_BESIDE, street_contrast
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
# Issue 19, measured before the retrain on the previous model (derived land cover v1, clip B02 0-0.15, B03 0-0.17,
# B04 0-0.18, B08 0-0.7), held-out patches (55), 20 DPM-Solver++ steps: sampling-only fixes.
BEFORE_RETRAIN = {
    "real_ndvi": {"grass": 0.858, "bare": 0.23, "water": -0.183, "hedge": 0.806, "other_building": 0.307},
    "guidance 2.0 (the previous default)": {
        "ndvi": {"grass": 0.863, "bare": 0.199, "water": -1.0, "hedge": 0.743, "other_building": 0.066},
        "saturated": {"B02": 0.0063, "B03": 0.0041, "B04": 0.0121, "B08": 0.038}},
    "guidance 2.0, guidance_rescale 0.7": {
        "ndvi": {"grass": 0.856, "bare": 0.22, "water": -1.0, "hedge": 0.729, "other_building": 0.105},
        "saturated": {"B02": 0.0044, "B03": 0.0026, "B04": 0.0098, "B08": 0.0357}},
    "guidance 1.5, guidance_rescale 0.7": {
        "ndvi": {"grass": 0.854, "bare": 0.231, "water": -1.0, "hedge": 0.754, "other_building": 0.162},
        "saturated": {"B02": 0.003, "B03": 0.0016, "B04": 0.0069, "B08": 0.0305}},
    "guidance 1.0 (none)": {
        "ndvi": {"grass": 0.852, "bare": 0.263, "water": -0.687, "hedge": 0.783, "other_building": 0.237},
        "saturated": {"B02": 0.0018, "B03": 0.0007, "B04": 0.0036, "B08": 0.0117}},
    "saturated": "fraction of pixels at a band's clip floor or ceiling (floor + ceiling)",
}
# Sampling settings written into the card, chosen by measurement on held-out patches (README, "Demo model: roads
# and spectra in range"): after the retrain, guidance 1.0 puts every class's NDVI within 0.10 of real.
GUIDANCE = 1.0
GUIDANCE_RESCALE = 0.0
# The sampler written into the card, chosen on the validation patches (never the test ones) by C2ST accuracy over
# three generation + classifier seeds: DPM-Solver++ 71.0 / 69.3 / 69.3 %, SDE-DPM-Solver++ 75.6 / 63.6 / 67.0 %
# (lower in 2 of 3, not every seed: the rule keeps the deterministic solver; scripts/measure_realism.py --splits
# validation --guidance 1 --seed S --variant MODEL,20,dpmsolver++ --variant MODEL,20,sde-dpmsolver++). The previous
# teacher (no band scaling): 73.9 / 72.7 / 75.0 % against 72.2 / 72.2 / 73.9 %, so it used SDE-DPM-Solver++.
SAMPLER = "dpmsolver++"
SAMPLER_CHOICE = {
    "split": "validation",
    "rule": "the stochastic sampler only if its C2ST accuracy is lower at every seed",
    "c2st_accuracy_by_seed": {"dpmsolver++": [0.710, 0.693, 0.693], "sde-dpmsolver++": [0.756, 0.636, 0.670]},
    "command": "scripts/measure_realism.py --splits validation --guidance 1 --seed S --variant MODEL,20,dpmsolver++ "
    "--variant MODEL,20,sde-dpmsolver++  (S = 0, 1, 2)",
}
# How this model was made (issue 28): make train-demo-model's recipe from scratch on the guarded split (no training
# pixel in a validation or test patch), with an exponential moving average of the weights and each band diffused at
# spread 0.5 around its training-split mean (band scaling), both chosen on the validation patches (BENCHMARKS,
# realism-band-weights and realism-scaling: C2ST 85.2-89.2 % without EMA, 73.9 % with it, 69.3-71.0 % with both).
REPLACES = ("mapsynth-demo-pixel-small of commit 5ea9b31: the same recipe without band scaling (each band's clip range "
            "mapped to [-1, 1], so the dark visible bands were diffused at less than half of NIR's spread)")


def held_out_metrics(work: Path, model) -> dict:
    splits, radiometry, _ = read_dataset(work / "dataset")
    rows = splits["test"] + splits["validation"]
    from mapsynth_backend.radiometry import ClipRange

    clip = ClipRange(np.array([radiometry["clip"][b][0] for b in BANDS]),
                     np.array([radiometry["clip"][b][1] for b in BANDS]))
    hedge_rgb, road_rgb, grass_rgb = (
        torch.tensor(palette()[name], dtype=torch.float32)[None, :, None, None] / 127.5 - 1
        for name in ("hedge", "minor_road", "grass"))
    real, fake, flat, maps = [], [], [], []
    for start in range(0, len(rows), 8):
        batch = rows[start:start + 8]
        items = [load_pair(row, "pixel", clip) for row in batch]
        noise = stack_noise([item_noise(model, 0, row["patch_id"], 0, 64) for row in batch], "cpu")
        conditions = torch.stack([item["map"] for item in items])
        fake.append(to_reflectance(model, model.sample(conditions, noise, 20)))
        # the same maps with hedgerow/field-boundary lines and roads painted as grass: what flat classes give
        lines = ((conditions - hedge_rgb).abs().amax(1, keepdim=True) < 0.5 / 127.5) | (
            (conditions - road_rgb).abs().amax(1, keepdim=True) < 0.5 / 127.5)
        flat.append(to_reflectance(model, model.sample(torch.where(lines, grass_rgb, conditions), noise, 20)))
        real.append(np.stack([clip.inverse((item["target"].numpy() + 1) / 2) for item in items]))
        maps.append(np.stack([((item["map"].numpy() + 1) * 127.5).round().astype(np.uint8) for item in items]))
    real, fake, flat, maps = (np.concatenate(v) for v in (real, fake, flat, maps))
    masks = class_masks(maps, palette())
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
    road = masks["minor_road"]
    beside = ~np.any([masks[k] for k in NOT_BESIDE], axis=0)
    streets = {"what": "roads/lanes (minor_road): per patch, median index on the road line minus median within 2 px "
                       "beside it (land, not water or road); mean over patches with a 95 % bootstrap interval. ndvi "
                       "< 0: the road is less vegetated; visible (mean B02-B04) > 0: brighter. The real value is "
                       "high by construction: derive-maps finds roads where the real image has such lines",
               "real": street_contrast(real, BANDS, road, beside),
               "synthetic": street_contrast(fake, BANDS, road, beside),
               "synthetic_same_maps_lines_painted_as_grass": street_contrast(flat, BANDS, road, beside)}
    spectra = {"min_pixels": 1000,
               "real_ndvi": class_ndvi(real, masks, BANDS, 1000),
               "synthetic_ndvi": class_ndvi(fake, masks, BANDS, 1000),
               "saturated_real": saturated_fraction(real, clip.low, clip.high, BANDS),
               "saturated_synthetic": saturated_fraction(fake, clip.low, clip.high, BANDS),
               "sampling": {"steps": 20, "guidance": model.guidance_scale(0.0),
                            "guidance_rescale": float(model.card.get("guidance_rescale") or 0.0)},
               "before_retrain": BEFORE_RETRAIN}
    return {"held_out_patches": len(rows), "splits": ["test", "validation"], "per_class": per_class, "bands": bands,
            "hedgerow_structure": structure, "street_structure": streets, "spectra_in_range": spectra}


def line_contrast(values: np.ndarray, line: np.ndarray, field: np.ndarray) -> float:
    near = np.stack([ndimage.binary_dilation(m, iterations=2) for m in line]) & field & ~line
    nir = values[:, BANDS.index("B08")]
    return round(float(np.median(nir[near]) - np.median(nir[line])), 4)


def main(work: Path) -> None:
    source = work / "training" / "model"
    model = load_model(source)
    held = demo_class_spectra.spectra(work / "dataset")  # generation holds them, so the metrics do too
    model.card.update({"guidance": GUIDANCE, "guidance_rescale": GUIDANCE_RESCALE, "class_spectra": held})
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
                       "the scene itself (water, forest, grass/farmland, bare/sand, built-up, hedgerow/field-"
                       "boundary lines, and roads and lanes), because no OpenStreetMap extract of that area is "
                       "available. "
                       "OpenStreetMap renders are remapped onto those classes at generation (map_remap).",
        "map_style": STYLE, "map_remap": remap_table(), "guidance": GUIDANCE, "guidance_rescale": GUIDANCE_RESCALE,
        "sampler": SAMPLER, "sampler_choice": SAMPLER_CHOICE,
        "class_spectra": held, "class_spectra_choice": demo_class_spectra.CHOICE,
        "training_command": "make train-demo-model  (scripts/train_demo_model.sh: 2,500 steps from scratch, batch 8, "
                            "learning rate 3e-4, EMA 0.999, band scaling std, seed 0, on the guarded split; about "
                            "25 min on 2 cores)",
        "replaces": REPLACES,
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
