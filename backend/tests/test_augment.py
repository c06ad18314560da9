"""Dihedral augmentation of training pairs (train-model --augment d4): the 8 symmetries of the square are distinct,
move the map and every target alike, and an augmented run is reproducible and resumes on the same loss curve."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mapsynth_backend.runtime.protocol import UserError
from mapsynth_backend.train.command import train
from mapsynth_backend.train.data import augmentation, dihedral

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid  # noqa: E402
from test_models import REPORTER, losses, train_params  # noqa: E402


def test_the_eight_symmetries_are_distinct_and_move_map_and_targets_together():
    image = torch.arange(5 * 5, dtype=torch.float32).reshape(5, 5)  # no symmetry of its own
    item = {"map": image.expand(3, 5, 5), "target": 10 * image.expand(4, 5, 5), "valid": image[None] > 3,
            "text": "a prompt"}  # fmt: skip
    seen = set()
    for k in range(8):
        out = dihedral(item, k)
        assert out["text"] == "a prompt"
        assert torch.equal(out["target"], 10 * out["map"][:1].expand(4, 5, 5)), k
        assert torch.equal(out["valid"], out["map"][:1] > 3), k
        reference = np.rot90(image.numpy(), k % 4)  # numpy's rot90 as the independent reference
        reference = np.fliplr(reference) if k >= 4 else reference
        assert np.array_equal(out["map"][0].numpy(), reference), k
        seen.add(out["map"][0].numpy().tobytes())
    assert len(seen) == 8
    assert torch.equal(dihedral(item, 0)["map"], item["map"])


def test_the_draws_cover_every_symmetry_and_none_means_identity():
    draws = [augmentation("d4", 0, step, position) for step in range(50) for position in range(8)]
    counts = np.bincount(draws, minlength=8)
    assert counts.min() > 25, counts  # 400 draws, 50 expected per symmetry
    assert draws == [augmentation("d4", 0, step, position) for step in range(50) for position in range(8)]
    assert {augmentation("none", 0, step, 0) for step in range(20)} == {0}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("augment")
    return make_dataset(folder, make_grid(folder / "grid.gpkg", 2, 3, 16))


def run(dataset, out, **overrides):
    common = {"dataset": str(dataset), "family": "pixel", "preset": "tiny", "output_dir": str(out)}
    return train(train_params(**common, **overrides), REPORTER)


def test_augmented_training_resumes_on_the_same_loss_curve_and_differs_from_plain(dataset, tmp_path):
    run(dataset, tmp_path / "full", augment="d4")
    run(dataset, tmp_path / "part", augment="d4", max_steps=2)
    run(dataset, tmp_path / "part", augment="d4", resume="latest")
    assert losses(tmp_path / "part") == losses(tmp_path / "full")
    run(dataset, tmp_path / "plain")
    assert losses(tmp_path / "plain") != losses(tmp_path / "full"), "the augmentation changed nothing"
    card = json.loads((tmp_path / "full" / "model" / "model_card.json").read_text())
    assert card["training"]["augment"] == "d4", card["training"]


def test_an_unknown_augmentation_is_refused(dataset, tmp_path):
    with pytest.raises(UserError, match="(?i)augment"):
        run(dataset, tmp_path, augment="rotate-45")
