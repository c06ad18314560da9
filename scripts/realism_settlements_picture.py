"""The town at full resolution for make bench-realism-settlements: the held-out patches with the most residential land
use in the settlement maps, each model on its own map (seed 0, the card's settings, guidance 1), and the texture
measures of both models on all patches of the split (no C2ST: a diagnosis, nothing is chosen here).

Run in the backend venv after scripts/realism_settlements.sh:
  .venv-backend/bin/python scripts/realism_settlements_picture.py --split test --out WORK/settlements-town \
      --picture docs/realism_settlements_town.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "backend" / "src"))

from measure_realism import DATASET, generate, held_out, patch_table, tiles_of  # noqa: E402

WORK = ROOT / ".mapsynth-realism-training"
MODELS = {  # label -> (model folder, dataset of its maps)
    "maps as derived": (WORK / "scratch-ema-scaled" / "model", DATASET),
    "maps with settlements": (WORK / "scratch-ema-scaled-settlements" / "model", WORK / "dataset-settlements"),
}
SHOWN = 3


def residential_share(maps: np.ndarray) -> np.ndarray:
    from mapsynth_backend.prepare.landcover import palette

    colour = np.array(palette()["residential_landuse"], dtype=maps.dtype)[None, :, None, None]
    return (maps == colour).all(axis=1).mean(axis=(1, 2))


def main() -> None:
    from mapsynth_backend.evaluate.realism import statistics

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, required=True, help="folder for towns.json")
    parser.add_argument("--picture", type=Path, required=True)
    args = parser.parse_args()
    options = argparse.Namespace(steps=20, sampler="", guidance=1.0, class_guidance="", class_guidance_margin=2, seed=0)
    images, maps, measures = {}, {}, {}
    for label, (model, dataset) in MODELS.items():
        rows, real, maps[label] = held_out(dataset, [args.split])
        images[label], _ = generate(model, rows, maps[label], options)
        images[label][~np.isfinite(real)] = np.nan  # the same tiles on both sides, as measure_realism.py
        tiles = tiles_of(real, images[label], maps[label])
        measures[label] = statistics(tiles["real"], tiles["synthetic"], ["B02", "B03", "B04", "B08"])
    order = np.argsort(-residential_share(maps["maps with settlements"]), kind="stable")[:SHOWN]
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "split": args.split,
        "patches": len(rows),
        "shown": [rows[i]["patch_id"] for i in order],
        "gradient_ratio": {
            label: {band: m["gradient_energy"][band]["ratio"] for band in m["gradient_energy"]}
            for label, m in measures.items()
        },
    }
    (args.out / "towns.json").write_text(json.dumps(summary, indent=2))
    picture(args.picture, order, real, maps, images)
    print(json.dumps(summary))


def picture(path: Path, order: np.ndarray, real: np.ndarray, maps: dict, images: dict) -> None:
    """Each shown patch: both maps, real Sentinel-2 and each model on its own map (measure_realism's table)."""
    from bench_doc import compact_png

    columns = [(f"map: {label}", m, True) for label, m in maps.items()]
    columns += [("real Sentinel-2", real, False)] + [(f"model on {label}", im, False) for label, im in images.items()]
    patch_table(path, order, columns)
    compact_png(path)


if __name__ == "__main__":
    main()
