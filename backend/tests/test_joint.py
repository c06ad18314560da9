"""SEAMLESS generation: joint denoising agrees in the overlaps before any cut; independent patches do not."""

import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from mapsynth_backend.generate.command import COMMANDS as GENERATE
from mapsynth_backend.generate.command import generate
from mapsynth_backend.generate.joint import hann_weights, window_offsets
from mapsynth_backend.mosaic.command import COMMANDS as ASSEMBLE
from mapsynth_backend.mosaic.command import assemble
from mapsynth_backend.runtime.protocol import ConsoleReporter
from mapsynth_backend.train.command import COMMANDS as TRAIN
from mapsynth_backend.train.command import train

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid, synthetic_scene, write_map_patches  # noqa: E402
from tiny_models import build_tiny_sd  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
P, OV, N = 16, 8, 3


def overlapping_maps(folder: Path, grid: dict) -> Path:
    """Map patches cut from one continuous map, as render_map_patches produces them."""
    colours, _ = synthetic_scene(np.random.default_rng(5), 48)
    stride = P - OV
    return write_map_patches(
        folder,
        grid,
        lambda row, col: colours[:, row * stride : row * stride + P, col * stride : col * stride + P],
        P,
        stride,
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("joint")
    training_grid = make_grid(folder / "train.gpkg", 2, 3, P)
    dataset = make_dataset(folder / "data", training_grid)
    train(
        TRAIN[0].resolve(
            {
                "dataset": str(dataset),
                "family": "pixel",
                "preset": "tiny",
                "max_steps": 20,
                "batch_size": 4,
                "learning_rate": 2e-3,
                "validation_every": 0,
                "device": "cpu",
                "output_dir": str(folder / "training"),
            }
        ),
        REPORTER,
    )
    grid = make_grid(folder / "grid.gpkg", N, N, P, OV)
    return folder, grid, overlapping_maps(folder, grid)


def run_generate(folder, model, out, **extra):
    return generate(
        GENERATE[0].resolve(
            {
                "model": str(model),
                "patch_grid": str(folder / "grid.gpkg"),
                "map_dir": str(folder / "maps"),
                "steps": 4,
                "device": "cpu",
                "variations": 1,
                "output_dir": str(out),
                **extra,
            }
        ),
        REPORTER,
    )


def run_assemble(folder, generated, out):
    return assemble(
        ASSEMBLE[0].resolve(
            {"patch_grid": str(folder / "grid.gpkg"), "generated_dir": str(generated), "output": str(out)}
        ),
        REPORTER,
    )


def test_joint_denoising_agrees_in_overlaps_where_independent_patches_do_not(setup):
    folder, _, _ = setup
    model = folder / "training" / "model"
    run_generate(folder, model, folder / "independent")
    joint = run_generate(folder, model, folder / "joint", seamless=True, window_stride=4)
    assert joint["patch_count"] == N * N and joint["windows"] == 25
    independent = run_assemble(folder, folder / "independent", folder / "independent.tif")
    seamless = run_assemble(folder, folder / "joint", folder / "joint.tif")
    assert independent["overlap_disagreement"] > 1e-3
    assert seamless["overlap_disagreement"] < 0.01 * independent["overlap_disagreement"]
    again = run_generate(folder, model, folder / "joint-again", seamless=True, window_stride=4)
    assert again["patch_count"] == N * N
    for path in (folder / "joint").glob("r*.tif"):
        assert np.array_equal(rasterio.open(path).read(), rasterio.open(folder / "joint-again" / path.name).read())


def test_controlnet_family_joint_denoising_runs(setup, tmp_path):
    folder, _, _ = setup
    base = build_tiny_sd(tmp_path / "tiny-sd")
    train(
        TRAIN[0].resolve(
            {
                "dataset": str(folder / "data" / "dataset"),
                "family": "controlnet-sd15",
                "preset": "tiny",
                "base_model": str(base),
                "max_steps": 1,
                "batch_size": 2,
                "validation_every": 0,
                "device": "cpu",
                "output_dir": str(tmp_path / "cn"),
            }
        ),
        REPORTER,
    )
    result = run_generate(folder, tmp_path / "cn" / "model", tmp_path / "gen", seamless=True, steps=2)
    assert result["patch_count"] == N * N
    with rasterio.open(tmp_path / "gen" / "r0001_c0001_v00.tif") as src:
        assert src.count == 4 and src.read().min() > 0


def test_windows_cover_the_canvas_with_tapered_positive_weights():
    assert window_offsets(48, 16, 8) == [0, 8, 16, 24, 32]
    assert window_offsets(50, 16, 8)[-1] == 34
    weights = hann_weights(16)
    assert weights.min() > 0 and weights[8, 8] > 0.9 and weights[0, 0] < 0.01
