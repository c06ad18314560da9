"""Few-step student vs its teacher (issue 22), run in the backend venv by scripts/bench_fewstep.py; prints one JSON
object. On the held-out (test) patches of the demo model's real dataset: seconds per patch (batch 8, after a
warm-up batch, teacher and student taking turns batch by batch), Wasserstein distance per band to the real patches, NDVI
median per map class, map adherence (the augmentation experiment's segmenter, when present); then seam visibility
of a 4 x 4 grid (overlap 32) on the real scene generated independently by each model at its default steps. Both
models also run at seeds 1 and 2: how much each measure moves with the noise alone.

Usage: bench_fewstep_quality.py TEACHER_DIR STUDENT_DIR DATASET_DIR [SEGMENTER_DIR]
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import wasserstein_distance

from mapsynth_backend.generate.class_guidance import generation_weights
from mapsynth_backend.generate.command import default_steps
from mapsynth_backend.generate.sampling import clip_range, item_noise, stack_noise, to_reflectance
from mapsynth_backend.models import load_model
from mapsynth_backend.prepare.landcover import palette
from mapsynth_backend.radiometry import decode_reflectance
from mapsynth_backend.train.data import load_pair, read_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_seams import GENERATION, SCENE, backend, make_grid  # noqa: E402

BATCH = 8
SEAM_GRID = {"rows": 4, "cols": 4}
SEEDS = (0, 1, 2)


def generate_all(runs: dict, maps, keys, folded: tuple[dict, int]) -> tuple[dict, dict]:
    """Reflectance of every held-out patch (variation 0) per run (name -> (model, seed)), and its seconds per
    patch; the runs take turns batch by batch, so all see the same machine load. Each model samples as generate
    does at STEPS 0 and GUIDANCE 0, the teacher's runs with ``folded`` (the student's folded-in per-class
    guidance and its margin) as CLASS_GUIDANCE."""
    noise = {name: [item_noise(model, seed, key, 0, maps.shape[-1]) for key in keys] for name, (model, seed) in
             runs.items()}
    steps = {name: default_steps({"steps": 0}, model.card) for name, (model, _) in runs.items()}

    def sample(name, model, i):
        table, margin = folded if name.startswith("teacher") else ({}, 0)
        weights = generation_weights(model, table, margin, model.guidance_scale(0.0), maps[i : i + BATCH])
        extra = {} if weights is None else {"guidance_map": weights}
        return model.sample(maps[i : i + BATCH], stack_noise(noise[name][i : i + BATCH], "cpu"), steps[name], **extra)

    for name, (model, _) in runs.items():  # warm-up
        sample(name, model, 0)
    out, seconds = {name: [] for name in runs}, dict.fromkeys(runs, 0.0)
    for i in range(0, len(keys), BATCH):
        for name, (model, _) in runs.items():
            start = time.perf_counter()
            out[name].append(to_reflectance(model, sample(name, model, i)))
            seconds[name] += time.perf_counter() - start
    return {n: np.concatenate(v) for n, v in out.items()}, {n: s / len(keys) for n, s in seconds.items()}


def ndvi(values: np.ndarray) -> np.ndarray:
    red, nir = values[:, 2], values[:, 3]  # B02 B03 B04 B08
    return (nir - red) / np.maximum(nir + red, 1e-6)


def per_class(values: np.ndarray, codes: np.ndarray, names: dict[int, str]) -> dict[str, float]:
    index = ndvi(values)
    return {
        names.get(int(c), f"#{int(c):06x}"): float(np.nanmedian(index[codes == c]))
        for c, n in zip(*np.unique(codes, return_counts=True), strict=True)
        if n >= 200
    }


def water_stats(values: np.ndarray, codes: np.ndarray, names: dict[int, str]) -> dict[str, float]:
    """Water in well-conditioned terms: its median NIR (B08) reflectance and its water-like share (NDWI > 0);
    where NIR is near 0, NDVI swings between -1 and beyond with any tiny NIR difference."""
    code = next((c for c, n in names.items() if n == "water"), None)
    water = codes == code
    if code is None or water.sum() < 200:
        return {}
    green, nir = values[:, 1], values[:, 3]  # B02 B03 B04 B08
    ndwi = (green - nir) / np.maximum(np.abs(green + nir), 1e-6)
    return {"b08_median": float(np.median(nir[water])), "water_like": float((ndwi[water] > 0).mean())}


def strip(values: np.ndarray) -> np.ndarray:
    """(N, bands, H, W) -> (bands, H, N * W): one image the segmenter reads."""
    return np.concatenate(list(values), axis=-1)


def class_guidance_args(name: str, folded: tuple[dict, int]) -> list[str]:
    """generate's options for the per-class guidance the student folded in (the teacher's runs only)."""
    table, margin = folded
    if not name.startswith("teacher") or not table:
        return []
    text = ",".join(f"{k}={v}" for k, v in table.items())
    return ["--class-guidance", text, "--class-guidance-margin", str(margin)]


def seams(folder: Path, model_dir: Path, name: str, seed: int, folded: tuple[dict, int]) -> dict:
    g = {**GENERATION, **SEAM_GRID}
    grid = folder / "grid.gpkg"
    if not grid.exists():
        import rasterio

        with rasterio.open(SCENE) as src:
            x, y = src.transform * (g["first_pixel"][1], g["first_pixel"][0])
        make_grid(grid, g["rows"], g["cols"], g["patch"], g["overlap"], 27700, (x, y))
        backend(folder, "crop-sentinel2", "--patch-grid", str(grid), "--input", str(SCENE), "--scale", "0.001",
                "--output-dir", str(folder / "s2"))  # fmt: skip
        backend(folder, "derive-maps", "--patch-grid", str(grid), "--s2-dir", str(folder / "s2"),
                "--output-dir", str(folder / "maps"))  # fmt: skip
    start = time.perf_counter()
    backend(folder, "generate", "--model", str(model_dir), "--patch-grid", str(grid), "--map-dir",
            str(folder / "maps"), "--variations", "1", "--seed", str(seed), "--device", "cpu", "--no-seamless",
            *class_guidance_args(name, folded),
            "--output-dir", str(folder / name))  # fmt: skip
    seconds = time.perf_counter() - start
    assembled = backend(folder, "assemble", "--patch-grid", str(grid), "--generated-dir", str(folder / name),
                        "--output", str(folder / f"{name}.tif"))  # fmt: skip
    patches = g["rows"] * g["cols"]
    return {"seam_visibility": assembled["seam_visibility"], "generate_cli_s": seconds, "patches": patches}


def main() -> None:
    teacher_dir, student_dir, dataset = (Path(a) for a in sys.argv[1:4])
    segmenter = sys.argv[4] if len(sys.argv) > 4 and Path(sys.argv[4]).is_dir() else ""
    splits, _, _ = read_dataset(dataset)
    rows = splits["test"]
    models = {"teacher": load_model(teacher_dir), "student": load_model(student_dir)}
    distilled = models["student"].card["distilled"]
    folded = (distilled.get("teacher_class_guidance") or {}, distilled.get("teacher_class_guidance_margin") or 0)
    # both models at two more seeds: how much their measures move with the noise alone
    runs = {"teacher": (models["teacher"], 0), "student": (models["student"], 0)}
    for name in ("teacher", "student"):
        runs.update({f"{name} seed {seed}": (models[name], seed) for seed in SEEDS[1:]})
    clip = clip_range(models["teacher"].card)
    pairs = [load_pair(row, "pixel", clip) for row in rows]
    maps = torch.stack([p["map"] for p in pairs])
    import rasterio

    real = []
    for row in rows:
        with rasterio.open(Path(row["root"]) / row["multispectral"]) as src:
            real.append(decode_reflectance(src.read()))
    real = np.stack(real)
    rgb = ((maps.numpy() + 1) * 127.5).round().astype(np.int64)
    codes = (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
    names = {(r << 16) | (g << 8) | b: key for key, (r, g, b) in palette().items()}
    keys = [row["patch_id"] for row in rows]
    result = {"patches": len(rows), "threads": torch.get_num_threads(), "models": {}}
    images, times = generate_all(runs, maps, keys, folded)
    bands = models["teacher"].card["bands"]
    valid = np.isfinite(real).all(axis=1)
    real_classes = per_class(real, codes, names)
    for name, (model, _) in runs.items():
        values = images[name]
        entry = {
            "steps": default_steps({"steps": 0}, model.card),
            "guidance": model.guidance_scale(0.0),
            "class_guidance": folded[0] if name.startswith("teacher") else None,
            "s_per_patch": times[name],
            "wasserstein": {
                b: float(wasserstein_distance(values[:, i][valid], real[:, i][valid])) for i, b in enumerate(bands)
            },
            "ndvi_medians": per_class(values, codes, names),
            "water": water_stats(values, codes, names),
        }
        if segmenter:
            from mapsynth_backend.experiment.adherence import map_adherence

            adherence = map_adherence(segmenter, strip(codes[:, None])[0], (strip(values), bands), (strip(real), bands))
            entry["map_adherence_miou"] = adherence["synthetic"]["miou"]
            result["real_ceiling_miou"] = adherence["real_ceiling"]["miou"]
        result["models"][name] = entry
    result["real_ndvi_medians"] = real_classes
    with tempfile.TemporaryDirectory(prefix="mapsynth-fewstep-") as tmp:
        for name, (_, seed) in runs.items():
            model_dir = student_dir if name.startswith("student") else teacher_dir
            result["models"][name]["seams"] = seams(Path(tmp), model_dir, name.replace(" ", "_"), seed, folded)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
