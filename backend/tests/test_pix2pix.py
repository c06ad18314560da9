"""The pix2pix family (tiny config, CPU): train -> checkpoint -> resume -> safetensors -> generate, its refusals of
diffusion-only options, and `sample-class` (map-free class samples written as a training dataset)."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from mapsynth_backend.generate.command import COMMANDS as GENERATE_COMMANDS
from mapsynth_backend.generate.command import generate
from mapsynth_backend.generate.sample_class import COMMANDS as SAMPLE_COMMANDS
from mapsynth_backend.generate.sample_class import sample_class
from mapsynth_backend.models import load_model
from mapsynth_backend.prepare.landcover import palette
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError
from mapsynth_backend.train.command import COMMANDS as TRAIN_COMMANDS
from mapsynth_backend.train.command import train
from mapsynth_backend.train.data import load_pair, read_dataset

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)


def train_params(**overrides):
    base = {"max_steps": 4, "batch_size": 2, "checkpoint_every": 2, "validation_every": 0, "validation_samples": 2}
    base.update(learning_rate=2e-4, device="cpu", family="pix2pix", preset="tiny")
    return TRAIN_COMMANDS[0].resolve({**base, **overrides})


def generate_params(**overrides):
    return GENERATE_COMMANDS[0].resolve({"steps": 3, "device": "cpu", "variations": 2, **overrides})


def sample_params(**overrides):
    return SAMPLE_COMMANDS[0].resolve({"steps": 2, "device": "cpu", "count": 3, "batch_size": 2, **overrides})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    grid = make_grid(folder / "grid.gpkg", 2, 3, 16)
    return folder, make_dataset(folder, grid)


@pytest.fixture(scope="module")
def p2p_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("pix2pix")
    return out, train(train_params(dataset=str(data[1]), output_dir=str(out)), REPORTER)


def losses(folder):
    return (folder / "loss.csv").read_text().splitlines()


def read_all(folder):
    return {p.name: rasterio.open(p).read() for p in sorted(folder.glob("r*_v*.tif"))}


def test_pix2pix_trains_resumes_and_saves_safetensors_only(data, p2p_run, tmp_path):
    out, result = p2p_run
    assert result["steps"] == 4 and sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "checkpoint-2",
        "checkpoint-4",
    ]
    card = json.loads((out / "model" / "model_card.json").read_text())
    assert card["family"] == "pix2pix" and card["preset"] == "tiny" and card["bands"] == ["B02", "B03", "B04", "B08"]
    files = sorted(p.relative_to(out / "model").as_posix() for p in (out / "model").rglob("*") if p.is_file())
    assert files == ["generator/config.json", "generator/model.safetensors", "model_card.json"]
    # a resumed run continues the exact loss curve and ends on the same generator weights
    train(train_params(dataset=str(data[1]), output_dir=str(tmp_path), max_steps=2), REPORTER)
    train(train_params(dataset=str(data[1]), output_dir=str(tmp_path), resume="latest"), REPORTER)
    assert losses(tmp_path) == losses(out)
    # resuming at MAX_STEPS trains nothing more and writes the model of that checkpoint
    shutil.rmtree(tmp_path / "model")
    again = train(train_params(dataset=str(data[1]), output_dir=str(tmp_path), resume="latest"), REPORTER)
    last_loss = float(losses(tmp_path)[-1].split(",")[1])
    assert again["steps"] == 4 and again["final_loss"] == last_loss
    assert (tmp_path / "model" / "model_card.json").is_file()
    a, b = (load_model(f / "model").generator.state_dict() for f in (out, tmp_path))
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_pix2pix_refuses_map_dropout_and_pickles(data, p2p_run, tmp_path):
    with pytest.raises(UserError, match="MAP_DROPOUT: the pix2pix family trains no map-free branch"):
        train(train_params(dataset=str(data[1]), output_dir=str(tmp_path / "t"), map_dropout=0.1), REPORTER)
    pickled = tmp_path / "pickled"
    shutil.copytree(p2p_run[0] / "model", pickled)
    (pickled / "generator" / "model.safetensors").rename(pickled / "generator" / "model.bin")
    with pytest.raises(UserError, match="holds pickle weights"):
        load_model(pickled)


def test_pix2pix_generation_is_deterministic_and_one_pass(data, p2p_run, tmp_path):
    folder, _ = data
    common = {
        "model": str(p2p_run[0] / "model"),
        "patch_grid": str(folder / "grid.gpkg"),
        "map_dir": str(folder / "maps"),
    }
    first = generate(generate_params(**common, batch_size=3, output_dir=str(tmp_path / "a")), REPORTER)
    assert first["patch_count"] == 6 and first["files"] == 12
    generate(generate_params(**common, batch_size=1, steps=7, output_dir=str(tmp_path / "b")), REPORTER)
    generate(generate_params(**common, batch_size=3, seed=1, output_dir=str(tmp_path / "c")), REPORTER)
    a, b, c = (read_all(tmp_path / n) for n in "abc")
    # STEPS is a documented no-op and the batch size does not matter (up to float reassociation)
    assert max(np.abs(a[k].astype(int) - b[k].astype(int)).max() for k in a) <= 1
    assert any(not np.array_equal(a[k], c[k]) for k in a), "another seed must change the noise input"
    assert not np.array_equal(a["r0000_c0000_v00.tif"], a["r0000_c0000_v01.tif"])
    with rasterio.open(tmp_path / "a" / "r0001_c0002_v01.tif") as src:
        assert list(src.descriptions) == ["B02", "B03", "B04", "B08"] and src.tags()["family"] == "pix2pix"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"guidance": 2.0}, "GUIDANCE: pix2pix models have no classifier-free guidance"),
        ({"seamless": True}, "SEAMLESS:"),
    ],
)
def test_pix2pix_refuses_diffusion_options_before_writing(data, p2p_run, tmp_path, option, message):
    folder, _ = data
    common = {
        "model": str(p2p_run[0] / "model"),
        "patch_grid": str(folder / "grid.gpkg"),
        "map_dir": str(folder / "maps"),
    }
    with pytest.raises(UserError, match=message):
        generate(generate_params(**common, **option, output_dir=str(tmp_path / "out")), REPORTER)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def guided_pixel(data, tmp_path_factory):
    """A tiny pixel model trained with map dropout, so its card carries a map-guidance scale."""
    out = tmp_path_factory.mktemp("pixel")
    train(train_params(dataset=str(data[1]), output_dir=str(out), family="pixel", map_dropout=0.3), REPORTER)
    return out / "model"


def test_sample_class_writes_a_deterministic_resumable_dataset(guided_pixel, tmp_path):
    first = sample_class(
        sample_params(model=str(guided_pixel), **{"class": "water"}, output_dir=str(tmp_path / "a")), REPORTER
    )
    assert first["written"] == 3 and first["guidance"] == 2.0
    sample_class(sample_params(model=str(guided_pixel), **{"class": "water"}, output_dir=str(tmp_path / "b")), REPORTER)
    more = sample_class(
        sample_params(model=str(guided_pixel), **{"class": "water"}, count=5, output_dir=str(tmp_path / "a")), REPORTER
    )
    assert more["written"] == 2, "a larger COUNT only adds the missing samples"
    a = {p.name: rasterio.open(p).read() for p in (tmp_path / "a" / "train" / "multispectral").glob("*.tif")}
    b = {p.name: rasterio.open(p).read() for p in (tmp_path / "b" / "train" / "multispectral").glob("*.tif")}
    assert sorted(a) == [f"water_{i:05d}.tif" for i in range(5)] and all(np.array_equal(a[k], b[k]) for k in b)
    assert not np.array_equal(a["water_00000.tif"], a["water_00001.tif"])
    splits, radiometry, _ = read_dataset(tmp_path / "a")
    assert len(splits["train"]) == 5 and radiometry["bands"] == ["B02", "B03", "B04", "B08"]
    pair = load_pair(splits["train"][0], "pixel", _clip(radiometry))
    water = np.array(palette()["water"]) / 127.5 - 1
    assert np.allclose(pair["map"].numpy(), water[:, None, None], atol=1e-6) and pair["target"].shape == (4, 16, 16)
    trained = train(train_params(dataset=str(tmp_path / "a"), output_dir=str(tmp_path / "t"), max_steps=1), REPORTER)
    assert trained["steps"] == 1, "the class samples are a training dataset"


def _clip(radiometry):
    from mapsynth_backend.radiometry import ClipRange

    bands = radiometry["bands"]
    return ClipRange(
        np.array([radiometry["clip"][b][0] for b in bands]), np.array([radiometry["clip"][b][1] for b in bands])
    )


def test_sample_class_refuses_line_classes_and_pix2pix_guidance(p2p_run, tmp_path):
    with pytest.raises(UserError, match="CLASS: 'minor_road' is not one of"):
        sample_params(model=str(p2p_run[0] / "model"), **{"class": "minor_road"}, output_dir=str(tmp_path))
    params = sample_params(model=str(p2p_run[0] / "model"), guidance=3.0, output_dir=str(tmp_path / "g"))
    with pytest.raises(UserError, match="GUIDANCE: pix2pix"):
        sample_class(params, REPORTER)
    assert not (tmp_path / "g").exists()
    done = sample_class(sample_params(model=str(p2p_run[0] / "model"), output_dir=str(tmp_path / "p")), REPORTER)
    assert done["written"] == 3 and (tmp_path / "p" / "train" / "metadata.jsonl").is_file()
