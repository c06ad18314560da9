"""Both model families, tiny configs on the CPU: train -> checkpoint -> resume -> save -> load -> generate."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch

from mapsynth_backend.generate.command import generate
from mapsynth_backend.models import load_model
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError
from mapsynth_backend.train.command import COMMANDS as TRAIN_COMMANDS
from mapsynth_backend.train.command import train

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid  # noqa: E402
from tiny_models import build_tiny_sd  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
# accelerate launch with two CPU processes, running the backend CLI
TWO_CPU_PROCESSES = [
    str(Path(sys.executable).parent / "accelerate"),
    "launch",
    "--cpu",
    "--num_processes",
    "2",
    "--num_machines",
    "1",
    "--mixed_precision",
    "no",
    "--dynamo_backend",
    "no",
    "-m",
    "mapsynth_backend",
]


def train_params(**overrides):
    return TRAIN_COMMANDS[0].resolve(
        {
            "max_steps": 4,
            "batch_size": 2,
            "checkpoint_every": 2,
            "validation_every": 0,
            "validation_samples": 2,
            "validation_steps": 2,
            "learning_rate": 1e-3,
            "device": "cpu",
            **overrides,
        }
    )


def generate_params(**overrides):
    from mapsynth_backend.generate.command import COMMANDS

    return COMMANDS[0].resolve({"steps": 3, "device": "cpu", "variations": 2, **overrides})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    grid = make_grid(folder / "grid.gpkg", 2, 3, 16)
    return folder, make_dataset(folder, grid)


@pytest.fixture(scope="module")
def pixel_run(data, tmp_path_factory):
    folder, dataset = data
    out = tmp_path_factory.mktemp("pixel")
    result = train(
        train_params(dataset=str(dataset), family="pixel", preset="tiny", output_dir=str(out), validation_every=2),
        REPORTER,
    )
    return out, result


def losses(folder):
    with open(folder / "loss.csv") as handle:
        return [(int(r["step"]), r["loss"]) for r in csv.DictReader(handle)]


def test_pixel_training_writes_checkpoints_validation_loss_and_model(pixel_run):
    out, result = pixel_run
    assert result["steps"] == 4
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert (out / "validation" / "step-000002.png").is_file() and (out / "validation" / "final.png").is_file()
    assert (out / "loss.png").stat().st_size > 1000 and [s for s, _ in losses(out)] == [1, 2, 3, 4]
    card = json.loads((out / "model" / "model_card.json").read_text())
    assert card["family"] == "pixel" and card["bands"] == ["B02", "B03", "B04", "B08"] and card["steps"] == 4
    assert card["radiometry"]["clip"]["B08"] == [0.05, 0.6] and card["pixel_size"] == 10.0
    assert any("Sentinel" in line for line in card["data_licenses"])
    weights = list((out / "model").rglob("*.safetensors"))
    assert weights and not list((out / "model").rglob("*.bin"))


def test_resume_continues_the_same_loss_curve(data, pixel_run, tmp_path):
    _, dataset = data
    full, _ = pixel_run
    train(
        train_params(dataset=str(dataset), family="pixel", preset="tiny", output_dir=str(tmp_path), max_steps=2),
        REPORTER,
    )
    train(
        train_params(dataset=str(dataset), family="pixel", preset="tiny", output_dir=str(tmp_path), resume="latest"),
        REPORTER,
    )
    assert losses(tmp_path) == losses(full)
    a = load_model(full / "model").unet.state_dict()
    b = load_model(tmp_path / "model").unet.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def read_all(folder):
    return {p.name: rasterio.open(p).read() for p in sorted(folder.glob("r*_v*.tif"))}


def test_generation_is_georeferenced_deterministic_and_resumable(data, pixel_run, tmp_path):
    folder, _ = data
    model = pixel_run[0] / "model"
    common = {"model": str(model), "patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / "maps")}
    first = generate(generate_params(**common, batch_size=3, output_dir=str(tmp_path / "a")), REPORTER)
    assert first["patch_count"] == 6 and first["files"] == 12
    generate(generate_params(**common, batch_size=3, output_dir=str(tmp_path / "b")), REPORTER)
    single = generate(generate_params(**common, batch_size=1, output_dir=str(tmp_path / "c")), REPORTER)
    other = generate(generate_params(**common, batch_size=3, seed=1, output_dir=str(tmp_path / "d")), REPORTER)
    a, b, c, d = (read_all(tmp_path / n) for n in "abcd")
    assert all(np.array_equal(a[k], b[k]) for k in a), "same inputs must give bitwise the same output"
    assert max(np.abs(a[k].astype(int) - c[k].astype(int)).max() for k in a) <= 1  # batch size: float reassociation
    assert all(not np.array_equal(a[k], d[k]) for k in a), "another seed must give other images"
    assert not np.array_equal(a["r0000_c0000_v00.tif"], a["r0000_c0000_v01.tif"])
    with (
        rasterio.open(tmp_path / "a" / "r0001_c0002_v01.tif") as src,
        rasterio.open(folder / "maps" / "r0001_c0002.tif") as ref,
    ):
        assert src.transform == ref.transform and src.crs == ref.crs
        assert list(src.descriptions) == ["B02", "B03", "B04", "B08"] and src.dtypes[0] == "uint16"
    stamp = (tmp_path / "a" / "r0000_c0000_v00.tif").stat().st_mtime_ns
    (tmp_path / "a" / "r0001_c0001_v01.tif").unlink()
    resumed = generate(generate_params(**common, batch_size=3, output_dir=str(tmp_path / "a")), REPORTER)
    assert resumed["written"] == 1 and (tmp_path / "a" / "r0000_c0000_v00.tif").stat().st_mtime_ns == stamp
    assert np.array_equal(read_all(tmp_path / "a")["r0001_c0001_v01.tif"], b["r0001_c0001_v01.tif"])
    assert len((tmp_path / "a" / "index.jsonl").read_text().splitlines()) == 12
    # Resumed with another batch size and thread count: the folder's recorded layout is used, so the files are
    # still bitwise a clean run's, and the caller's thread count is put back afterwards.
    threads = torch.get_num_threads()
    for name in ("r0000_c0002_v00.tif", "r0001_c0000_v01.tif"):
        (tmp_path / "a" / name).unlink()
    torch.set_num_threads(1 if threads > 1 else 3)
    try:
        again = generate(generate_params(**common, batch_size=1, output_dir=str(tmp_path / "a")), REPORTER)
        assert torch.get_num_threads() == (1 if threads > 1 else 3)
    finally:
        torch.set_num_threads(threads)
    assert again["written"] == 2
    resumed_files = read_all(tmp_path / "a")
    assert all(np.array_equal(resumed_files[k], b[k]) for k in b), "a resumed folder must equal a clean run bitwise"
    assert other["files"] == single["files"] == 12


@pytest.mark.slow
def test_two_processes_give_the_single_process_output(data, pixel_run, tmp_path):
    folder, _ = data
    common = [
        "--model",
        str(pixel_run[0] / "model"),
        "--patch-grid",
        str(folder / "grid.gpkg"),
        "--map-dir",
        str(folder / "maps"),
        "--steps",
        "3",
        "--variations",
        "2",
        "--batch-size",
        "1",
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [
            *TWO_CPU_PROCESSES,
            "generate",
            *common,
            "--output-dir",
            str(tmp_path / "two"),
            "--log-file",
            str(tmp_path / "two.log"),
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=600,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mapsynth_backend",
            "generate",
            *common,
            "--output-dir",
            str(tmp_path / "one"),
            "--log-file",
            str(tmp_path / "one.log"),
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=600,
    )
    one, two = read_all(tmp_path / "one"), read_all(tmp_path / "two")
    assert len(one) == 12 and one.keys() == two.keys()
    assert all(np.array_equal(one[k], two[k]) for k in one)


def test_controlnet_family_nir_sees_the_generated_rgb(data, tmp_path):
    folder, dataset = data
    base = build_tiny_sd(tmp_path / "tiny-sd")
    out = tmp_path / "cn"
    result = train(
        train_params(
            dataset=str(dataset),
            family="controlnet-sd15",
            preset="tiny",
            max_steps=2,
            base_model=str(base),
            output_dir=str(out),
        ),
        REPORTER,
    )
    assert result["steps"] == 2 and (out / "validation" / "final.png").is_file()
    model = load_model(out / "model")
    assert model.family == "controlnet-sd15"
    assert model.controlnet_rgb.config.conditioning_channels == 3
    assert model.controlnet_nir.config.conditioning_channels == 6
    seen = {}

    def record(module, args, kwargs):
        seen.setdefault("cond", kwargs["controlnet_cond"].clone())

    model.controlnet_nir.register_forward_pre_hook(record, with_kwargs=True)
    import torch

    maps = torch.rand(1, 3, 16, 16) * 2 - 1
    noise = {"rgb": torch.randn(1, *model.noise_shape(16)), "nir": torch.randn(1, *model.noise_shape(16))}
    outputs = model.sample(maps, noise, steps=2, guidance=1.0)
    assert torch.allclose(seen["cond"][:, :3], (maps + 1) / 2)
    assert torch.allclose(seen["cond"][:, 3:], (outputs["rgb"] + 1) / 2, atol=1e-6)
    generated = generate(
        generate_params(
            model=str(out / "model"),
            patch_grid=str(folder / "grid.gpkg"),
            map_dir=str(folder / "maps"),
            variations=1,
            steps=2,
            output_dir=str(tmp_path / "gen"),
        ),
        REPORTER,
    )
    assert generated["patch_count"] == 6


def test_wrong_family_band_count_and_pickles_are_refused(pixel_run, tmp_path):
    model_dir = pixel_run[0] / "model"
    with pytest.raises(UserError, match="is a pixel model, not controlnet-sd15"):
        load_model(model_dir, family="controlnet-sd15")
    broken = tmp_path / "bands"
    shutil.copytree(model_dir, broken)
    card = json.loads((broken / "model_card.json").read_text())
    card["bands"] = ["B02", "B03", "B04"]
    (broken / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="has a UNet for 4 bands but its model card lists 3"):
        load_model(broken)
    pickled = tmp_path / "pickled"
    shutil.copytree(model_dir, pickled)
    weights = next((pickled / "unet").glob("*.safetensors"))
    weights.rename(weights.with_suffix(".bin"))
    with pytest.raises(UserError, match="pickle weights"):
        load_model(pickled)
    with pytest.raises(UserError, match="no model_card.json"):
        load_model(tmp_path)


def test_pixel_presets_grow_in_capacity_and_check_the_patch_size():
    """medium is the capacity step above small (issue 28's ablation): more parameters and more full-resolution
    channels; each preset refuses a patch size its levels cannot halve, and a preset of another family by name."""
    from mapsynth_backend.models.pixel import PixelModel

    bands = ["B02", "B03", "B04", "B08"]
    models = {name: PixelModel.create(name, bands, 64, {}) for name in ("tiny", "small", "medium")}
    sizes = {name: sum(p.numel() for p in m.unet.parameters()) for name, m in models.items()}
    assert sizes["tiny"] < sizes["small"] < sizes["medium"]
    widths = {name: m.unet.config.block_out_channels[0] for name, m in models.items()}
    assert widths["small"] < widths["medium"]
    sample = torch.zeros(1, 7, 64, 64)
    assert models["medium"].unet(sample, torch.tensor([10])).sample.shape == (1, 4, 64, 64)
    with pytest.raises(UserError, match="multiple of 8 for preset medium"):
        PixelModel.create("medium", bands, 60, {})
    with pytest.raises(UserError, match="is not a pixel preset"):
        PixelModel.create("sd15", bands, 64, {})


@pytest.mark.slow
def test_ema_and_two_process_training(data, pixel_run, tmp_path):
    _, dataset = data
    ema = train(
        train_params(dataset=str(dataset), family="pixel", preset="tiny", output_dir=str(tmp_path / "ema"), ema=True),
        REPORTER,
    )
    assert ema["steps"] == 4
    plain = load_model(pixel_run[0] / "model").unet.state_dict()
    averaged = load_model(tmp_path / "ema" / "model").unet.state_dict()
    assert any(not np.array_equal(plain[k].numpy(), averaged[k].numpy()) for k in plain)
    subprocess.run(
        [
            *TWO_CPU_PROCESSES,
            "train",
            "--dataset",
            str(dataset),
            "--family",
            "pixel",
            "--preset",
            "tiny",
            "--max-steps",
            "2",
            "--batch-size",
            "1",
            "--checkpoint-every",
            "1",
            "--validation-every",
            "0",
            "--device",
            "cpu",
            "--output-dir",
            str(tmp_path / "ddp"),
            "--log-file",
            str(tmp_path / "ddp.log"),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
    )
    assert json.loads((tmp_path / "ddp" / "model" / "model_card.json").read_text())["steps"] == 2
    assert [s for s, _ in losses(tmp_path / "ddp")] == [1, 2]


def test_map_dropout_trains_a_map_free_branch_that_guidance_uses(data, pixel_run, tmp_path):
    import torch

    from mapsynth_backend.models.pixel import NULL_MAP

    folder, dataset = data
    common = {"dataset": str(dataset), "family": "pixel", "preset": "tiny"}
    train(train_params(**common, output_dir=str(tmp_path / "drop"), map_dropout=0.5), REPORTER)
    assert losses(tmp_path / "drop") != losses(pixel_run[0]), "dropping maps must change the training batches"
    guided = load_model(tmp_path / "drop" / "model")
    assert guided.card["map_dropout"] == 0.5 and guided.card["guidance"] > 1
    plain = load_model(pixel_run[0] / "model")
    assert plain.guidance_scale(3.0) == 1.0, "a model without a map-free branch cannot be guided"
    assert guided.guidance_scale(0.0) == guided.card["guidance"] and guided.guidance_scale(3.0) == 3.0

    maps = torch.rand(2, 3, 16, 16) * 2 - 1
    inputs, t = torch.randn(2, 4, 16, 16), torch.tensor(500)
    with torch.inference_mode():
        mapped = guided.unet(torch.cat([inputs, maps], 1), t).sample
        free = guided.unet(torch.cat([inputs, torch.full_like(maps, NULL_MAP)], 1), t).sample
        combined = guided.predict(inputs, maps, t, 3.0)
    assert torch.allclose(combined, free + 3.0 * (mapped - free), atol=1e-4)
    assert torch.allclose(guided.predict(inputs, maps, t, 1.0), mapped, atol=1e-5)

    grid = {"patch_grid": str(folder / "grid.gpkg"), "map_dir": str(folder / "maps"), "variations": 1}
    for name, model, guidance in (("p1", plain, 1.0), ("p3", plain, 3.0), ("g1", guided, 1.0), ("g3", guided, 3.0)):
        generate(
            generate_params(
                **grid,
                model=str(model_dir(model, pixel_run, tmp_path)),
                guidance=guidance,
                output_dir=str(tmp_path / name),
            ),
            REPORTER,
        )
    p1, p3, g1, g3 = (read_all(tmp_path / n) for n in ("p1", "p3", "g1", "g3"))
    assert all(np.array_equal(p1[k], p3[k]) for k in p1)
    assert all(not np.array_equal(g1[k], g3[k]) for k in g1)
    details = json.loads((tmp_path / "g3" / "mapsynth_output.json").read_text())["details"]
    assert details["guidance"] == 3.0
    with pytest.raises(UserError, match="MAP_DROPOUT"):
        train(
            train_params(**{**common, "family": "controlnet-sd15"}, output_dir=str(tmp_path / "c"), map_dropout=0.1),
            REPORTER,
        )


def model_dir(model, pixel_run, tmp_path):
    return tmp_path / "drop" / "model" if model.card.get("map_dropout") else pixel_run[0] / "model"


def test_a_hub_model_id_is_refused_unless_downloads_are_allowed(data, tmp_path):
    _, dataset = data
    params = train_params(
        dataset=str(dataset),
        family="controlnet-sd15",
        preset="tiny",
        output_dir=str(tmp_path),
        base_model="stable-diffusion-v1-5/stable-diffusion-v1-5",
    )
    with pytest.raises(UserError, match="BASE_MODEL: .* is not a local folder and downloads were not allowed"):
        train(params, REPORTER)
    assert not (tmp_path / "model").exists()
