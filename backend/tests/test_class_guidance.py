"""Generation's per-class guidance (CLASS_GUIDANCE, e.g. water=1.5: 1.5 on water and MARGIN px around it, GUIDANCE
elsewhere), in both generation modes, and distillation folding exactly that into a student."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from mapsynth_backend.generate.class_guidance import class_weight_map, parse_class_guidance
from mapsynth_backend.generate.command import generate
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError

sys.path.insert(0, str(Path(__file__).parent))
from test_distill import distill  # noqa: E402
from test_models import generate_params, losses  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
WATER, GRASS = (40, 90, 200), (140, 205, 95)


@pytest.fixture(scope="module")
def setup(teacher, tmp_path_factory):
    """The session's tiny pixel teacher (it has a map-free branch), copied with card guidance 1; the maps of its grid
    as drawn (water, grass, buildings), with water painted as grass, and all water."""
    source, dataset, teacher_dir = teacher
    folder = tmp_path_factory.mktemp("class_guidance")
    shutil.copy(source / "grid.gpkg", folder)
    shutil.copytree(source / "maps", folder / "maps")
    model = folder / "model"
    shutil.copytree(teacher_dir, model)
    card = json.loads((model / "model_card.json").read_text())
    card.update(guidance=1.0)
    (model / "model_card.json").write_text(json.dumps(card))
    grass, water = np.array(GRASS)[:, None, None], np.array(WATER)[:, None, None]
    for name, recolour in (("no_water", lambda rgb, wet: np.where(wet, grass, rgb)),
                           ("all_water", lambda rgb, wet: np.broadcast_to(water, rgb.shape))):
        shutil.copytree(folder / "maps", folder / name)
        for path in (folder / name).glob("r*.tif"):
            with rasterio.open(path, "r+") as dst:
                rgb = dst.read()
                dst.write(recolour(rgb, np.all(rgb == water, axis=0)).astype(np.uint8))
    return folder, dataset, model


def run(setup, out: Path, maps: str = "maps", **extra) -> dict[str, np.ndarray]:
    folder, _, model = setup
    params = {"model": str(model), "patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / maps),
              "variations": 1, "output_dir": str(out), **extra}
    generate(generate_params(**params), REPORTER)
    return {p.name: rasterio.open(p).read() for p in sorted(out.glob("r*_v*.tif"))}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_weight_map_covers_the_class_and_its_margin():
    maps = torch.full((1, 3, 12, 12), 0.0)
    water = torch.tensor(WATER, dtype=torch.float32) / 127.5 - 1
    maps[0, :, 4:6, 5:8] = water[:, None, None]  # 2 x 3 px of water
    weights = class_weight_map(maps, {"water": 1.5}, 2, 1.0)
    assert weights.shape == (1, 1, 12, 12)
    assert int((weights == 1.5).sum()) == (2 + 4) * (3 + 4) and int((weights == 1.0).sum()) == 144 - 42
    assert bool((weights[0, 0, 2:8, 3:10] == 1.5).all())
    assert bool((class_weight_map(maps, {"water": 1.5}, 0, 1.0) == 1.5).sum() == 6)


def test_class_guidance_text_is_parsed_or_refused_in_one_line():
    assert parse_class_guidance(" water=1.75, forest = 1.2 ,") == {"water": 1.75, "forest": 1.2}
    assert parse_class_guidance("") == {}
    for text, message in (("water", "is not class=weight"), ("water=x", "is not class=weight"),
                          ("water=-1", "is not class=weight"), ("lake=2", "'lake' is no semantic-palette class")):
        with pytest.raises(UserError, match=message):
            parse_class_guidance(text)


@pytest.mark.parametrize("seamless", [False, True])
def test_class_guidance_is_the_class_weight_where_the_class_is(setup, tmp_path, seamless):
    """water=1.5: 1.5 on all-water maps and GUIDANCE (the card's 1) on maps without water, bitwise; on mixed maps
    neither."""
    mode = {"seamless": seamless, "steps": 3, "class_guidance_margin": 1}
    water = {"class_guidance": "water=1.5", **mode}
    assert same(run(setup, tmp_path / "a", "all_water", **water), run(setup, tmp_path / "b", "all_water",
                                                                      guidance=1.5, **mode))
    assert same(run(setup, tmp_path / "c", "no_water", **water), run(setup, tmp_path / "d", "no_water", **mode))
    auto = run(setup, tmp_path / "e", **water)
    assert not same(auto, run(setup, tmp_path / "f", **mode))
    assert not same(auto, run(setup, tmp_path / "g", guidance=1.5, **mode))
    details = json.loads((tmp_path / "e" / "mapsynth_output.json").read_text())["details"]
    assert details["guidance"] == 1.0 and details["class_guidance"] == {"water": 1.5}
    assert details["class_guidance_margin"] == 1
    details = json.loads((tmp_path / "f" / "mapsynth_output.json").read_text())["details"]
    assert details["class_guidance"] is None


def test_a_model_without_a_map_free_branch_refuses_class_guidance(setup, tmp_path):
    folder, _, model = setup
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    card = json.loads((copy / "model_card.json").read_text())
    card.pop("map_dropout")
    (copy / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="CLASS_GUIDANCE: a pixel model trained without map dropout"):
        run((folder, None, copy), tmp_path / "out", class_guidance="water=1.5")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.tif"))


def test_distillation_folds_the_per_class_guidance_in(setup, tmp_path):
    """One teacher substep at the teacher's guidance 1 and water=1.5: without water on the maps the weight is 1
    everywhere, so the student (a copy of the teacher) already predicts the target (loss ~0); with water it does
    not."""
    folder, dataset, model = setup
    fold = {"distill_substeps": 1, "max_steps": 1, "distill_class_guidance": "water=1.5",
            "distill_class_guidance_margin": 1}
    distill(dataset, model, tmp_path / "one", **fold)
    assert float(losses(tmp_path / "one")[0][1]) > 1e-6
    card = json.loads((tmp_path / "one" / "model" / "model_card.json").read_text())
    assert card["distilled"]["teacher_class_guidance"] == {"water": 1.5}
    assert card["distilled"]["teacher_class_guidance_margin"] == 1
    assert "map_dropout" not in card
    dry = folder / "dry"
    if not dry.exists():
        shutil.copytree(dataset, dry)
        for path in (dry / "train" / "conditioning").glob("*.png"):
            import cv2

            bgr = cv2.imread(str(path))
            bgr[np.all(bgr == np.array(WATER[::-1]), axis=2)] = GRASS[::-1]
            cv2.imwrite(str(path), bgr)
    distill(dry, model, tmp_path / "dry", **fold)
    assert float(losses(tmp_path / "dry")[0][1]) < 1e-8
    with pytest.raises(UserError, match="DISTILL_CLASS_GUIDANCE: 'lake' is no semantic-palette class"):
        distill(dataset, model, tmp_path / "bad", **{**fold, "distill_class_guidance": "lake=2"})
