"""inpaint-scenario's auto guidance (GUIDANCE 0) for pixel models: a per-pixel weight per edit class (water 1.5
under water edits and their margin, 1 elsewhere), applied as ``free + w(x) * (mapped - free)``."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from mapsynth_backend.generate.class_guidance import DEFAULT_GUIDANCE_BY_CLASS, guidance_by_class, guidance_map
from mapsynth_backend.generate.inpaint import COMMANDS, inpaint_scenario
from mapsynth_backend.generate.scenario import rasterise, read_base, read_edits
from mapsynth_backend.models import load_model
from mapsynth_backend.prepare.landcover import palette

sys.path.insert(0, str(Path(__file__).parent))
from test_inpaint import POLYGONS, REPORTER, write_base, write_edits  # noqa: E402

MARGIN = 2


@pytest.fixture(scope="module")
def setup(teacher, tmp_path_factory):
    """The session's tiny pixel teacher (trained with map dropout, so it has a map-free branch; read-only: cards
    change on copies), BASE, a water and a built-up edit."""
    folder = tmp_path_factory.mktemp("guidance")
    base = write_base(folder / "base.tif")
    edits = write_edits(folder / "edits.gpkg", POLYGONS, ["water", "residential_building"])
    return folder, teacher[2], base, edits


def model_with(folder: Path, model: Path, name: str, **card) -> Path:
    """A copy of ``model`` whose card has ``card``'s keys."""
    copy = folder / name
    if not copy.exists():
        shutil.copytree(model, copy)
        data = json.loads((copy / "model_card.json").read_text())
        (copy / "model_card.json").write_text(json.dumps({**data, **card}))
    return copy


def run(setup, out: Path, model: Path | None = None, **extra):
    folder, trained, base, edits = setup
    out.mkdir(parents=True, exist_ok=True)
    params = {"base": str(base), "edits": str(edits), "model": str(model or trained), "steps": 3, "resample": 2,
              "margin": MARGIN, "device": "cpu", "output": str(out / "after.tif"),
              "output_mask": str(out / "mask.tif"), **extra}
    result = inpaint_scenario(COMMANDS[0].resolve(params), REPORTER)
    with rasterio.open(out / "after.tif") as src, rasterio.open(out / "mask.tif") as mask:
        return result, src.read(), mask.read(1)


def test_weight_map_is_the_class_rule(setup):
    _, model, base_path, edits_path = setup
    base = read_base(str(base_path), ["B02", "B03", "B04", "B08"], 0, 0)
    edits = read_edits(str(edits_path), "class", base, palette())
    _, index = rasterise(edits, base)
    weights = guidance_map(edits, index, MARGIN, guidance_by_class(load_model(model).card))
    # the rule by brute force: 1.5 within MARGIN px (Euclidean, pixel centres) of a water edit's pixel, else 1
    rows, cols = np.nonzero(index == 0)
    yy, xx = np.mgrid[: index.shape[0], : index.shape[1]]
    distance = np.sqrt((yy[..., None] - rows) ** 2 + (xx[..., None] - cols) ** 2).min(axis=-1)
    expected = np.where(distance <= MARGIN, 1.5, 1.0)
    np.testing.assert_array_equal(weights, expected)
    assert (weights[index == 1] == 1.0).all() and (weights == 1.5).sum() > (index == 0).sum()
    assert DEFAULT_GUIDANCE_BY_CLASS == {"water": 1.5}
    # a card's table replaces the default; one that gives every class the base weight means uniform guidance
    card = {"inpaint_guidance_by_class": {"residential_building": 2}}
    card_weights = guidance_map(edits, index, 0, guidance_by_class(card))
    np.testing.assert_array_equal(card_weights, np.where(index == 1, 2.0, 1.0))
    assert guidance_map(edits, index, MARGIN, guidance_by_class({"inpaint_guidance_by_class": {}})) is None


def test_per_pixel_weight_is_free_plus_w_times_mapped_minus_free(setup):
    _, model_dir, *_ = setup
    model = load_model(model_dir)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn((2, 4, 16, 16), generator=generator)
    maps = torch.rand((2, 3, 16, 16), generator=generator) * 2 - 1
    t = torch.tensor(500)
    with torch.inference_mode():
        mapped, plain = model.predict(inputs, maps, t, 1.0), model.predict(inputs, maps, t, 1.5)
        weight = torch.ones((2, 1, 16, 16))
        np.testing.assert_array_equal(model.predict(inputs, maps, t, weight).numpy(), mapped.numpy())
        weight[:, :, :, 8:] = 1.5
        mixed = model.predict(inputs, maps, t, weight).numpy()
    np.testing.assert_allclose(mixed[..., :8], mapped.numpy()[..., :8], atol=1e-5)
    np.testing.assert_allclose(mixed[..., 8:], plain.numpy()[..., 8:], atol=1e-5)
    assert np.abs(mixed[..., 8:] - mapped.numpy()[..., 8:]).max() > 1e-4  # the map-free branch did something


def test_one_run_with_water_and_built_up_edits(setup, tmp_path):
    folder, model, base, _ = setup
    auto, after, mask = run(setup, tmp_path / "auto")
    assert auto["guidance"] == 1.0 and auto["guidance_by_class"] == {"water": 1.5, "residential_building": 1.0}
    _, again, _ = run(setup, tmp_path / "again")
    np.testing.assert_array_equal(after, again)  # deterministic
    with rasterio.open(base) as src:
        before = src.read()
    np.testing.assert_array_equal(after[:, mask == 0], before[:, mask == 0])  # outside edits + margin: BASE
    uniform, flat, _ = run(setup, tmp_path / "uniform", guidance=1.0)
    assert uniform["guidance_by_class"] == {}
    assert (after != flat).any()  # the water zone got guidance 1.5
    # the only difference is the guidance: a card giving water 1.0 (no class weights) is the uniform run, bitwise
    neutral = model_with(folder, model, "neutral", inpaint_guidance_by_class={"water": 1.0})
    _, same, _ = run(setup, tmp_path / "neutral", model=neutral)
    np.testing.assert_array_equal(same, flat)
    # an explicit GUIDANCE keeps its meaning: one value everywhere
    explicit, *_ = run(setup, tmp_path / "explicit", guidance=1.5)
    assert explicit["guidance"] == 1.5 and explicit["guidance_by_class"] == {}
