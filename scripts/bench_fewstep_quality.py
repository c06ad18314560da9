"""Few-step student vs its teacher (issue 22), run in the backend venv by scripts/bench_fewstep.py; prints one JSON
object. On the held-out (test) patches of the demo model's real dataset: seconds per patch (batch 8, after a
warm-up batch, teacher and student taking turns batch by batch), Wasserstein distance per band to the real patches, NDVI
median per map class, map adherence (the augmentation experiment's segmenter, when present); then seam visibility
of a 4 x 4 grid (overlap 32) on the real scene generated independently by each model at its default steps.

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


def generate_all(models: dict, maps, keys) -> tuple[dict, dict]:
    """Reflectance of every held-out patch (variation 0, seed 0) per model, and its seconds per patch; the models
    take turns batch by batch, so both see the same machine load."""
    noise = [item_noise(models["teacher"], 0, key, 0, maps.shape[-1]) for key in keys]
    steps = {name: default_steps({"steps": 0}, model.card) for name, model in models.items()}
    for name, model in models.items():  # warm-up
        model.sample(maps[:BATCH], stack_noise(noise[:BATCH], "cpu"), steps[name])
    out, seconds = {name: [] for name in models}, dict.fromkeys(models, 0.0)
    for i in range(0, len(keys), BATCH):
        batch = stack_noise(noise[i : i + BATCH], "cpu")
        for name, model in models.items():
            start = time.perf_counter()
            out[name].append(to_reflectance(model, model.sample(maps[i : i + BATCH], batch, steps[name])))
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


def strip(values: np.ndarray) -> np.ndarray:
    """(N, bands, H, W) -> (bands, H, N * W): one image the segmenter reads."""
    return np.concatenate(list(values), axis=-1)


def seams(folder: Path, model_dir: Path, name: str) -> dict:
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
            str(folder / "maps"), "--variations", "1", "--seed", "0", "--device", "cpu", "--no-seamless",
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
    images, times = generate_all(models, maps, keys)
    bands = models["teacher"].card["bands"]
    valid = np.isfinite(real).all(axis=1)
    real_classes = per_class(real, codes, names)
    for name, model in models.items():
        values = images[name]
        entry = {
            "steps": default_steps({"steps": 0}, model.card),
            "guidance": model.guidance_scale(0.0),
            "s_per_patch": times[name],
            "wasserstein": {
                b: float(wasserstein_distance(values[:, i][valid], real[:, i][valid])) for i, b in enumerate(bands)
            },
            "ndvi_medians": per_class(values, codes, names),
        }
        if segmenter:
            from mapsynth_backend.experiment.adherence import map_adherence

            adherence = map_adherence(segmenter, strip(codes[:, None])[0], (strip(values), bands), (strip(real), bands))
            entry["map_adherence_miou"] = adherence["synthetic"]["miou"]
            result["real_ceiling_miou"] = adherence["real_ceiling"]["miou"]
        result["models"][name] = entry
    result["real_ndvi_medians"] = real_classes
    with tempfile.TemporaryDirectory(prefix="mapsynth-fewstep-") as tmp:
        for name, model_dir in (("teacher", teacher_dir), ("student", student_dir)):
            result["models"][name]["seams"] = seams(Path(tmp), model_dir, name)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
