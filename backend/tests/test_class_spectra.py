"""Class spectra held during sampling (model card ``class_spectra``): the spectra measured on the training split,
the hold's arithmetic on v-predictions, and generation keeping every pixel of a held class inside its ellipsoid in
both generation modes, which the same model without the hold does not."""

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
import torch

from mapsynth_backend.generate.class_spectra import SpectralHold, measure_class_spectra
from mapsynth_backend.models.pixel import TRAIN_SCHEDULER
from mapsynth_backend.radiometry import decode_reflectance
from mapsynth_backend.runtime.protocol import UserError

sys.path.insert(0, str(Path(__file__).parent))
from test_class_guidance import run  # noqa: E402

WATER = (40, 90, 200)
BANDS = ["B02", "B03", "B04", "B08"]


def training_pixels(dataset: Path, colour, split: str = "train") -> np.ndarray:
    """Reflectance (N, 4) of a split under ``colour``, clipped to the dataset's range, read here without the
    backend's reader."""
    root = dataset / split
    clip = json.loads((dataset / "radiometry.json").read_text())["clip"]
    low, high = (np.array([clip[b][i] for b in BANDS])[:, None] for i in (0, 1))
    out = []
    for line in (root / "metadata.jsonl").read_text().splitlines():
        row = json.loads(line)
        rgb = cv2.imread(str(root / row["conditioning_image"]))[:, :, ::-1]
        with rasterio.open(root / row["multispectral"]) as src:
            reflectance = src.read().astype(np.float64) * 1e-4 - 0.1
        out.append(np.clip(reflectance[:, np.all(rgb == colour, axis=2)], low, high).T)
    return np.concatenate(out)


def distances(pixels: np.ndarray, spec: dict) -> np.ndarray:
    diff = pixels - np.asarray(spec["mean"])
    return np.sqrt(np.einsum("ij,jk,ik->i", diff, np.linalg.inv(np.asarray(spec["covariance"])), diff))


def test_spectra_come_from_the_training_split_only(teacher):
    _, dataset, _ = teacher
    spec = measure_class_spectra(dataset, ("water",), 0.8)["water"]
    pixels = training_pixels(dataset, WATER)
    assert spec["pixels"] == len(pixels) and spec["split"] == "train"
    assert np.allclose(spec["mean"], pixels.mean(axis=0), atol=1e-6)
    assert np.allclose(spec["covariance"], np.cov(pixels.T), rtol=1e-5, atol=2e-8)  # + 1e-8 ridge
    distance = distances(pixels, spec)
    assert (distance <= spec["radius"] + 1e-3).mean() >= 0.8 > (distance < spec["radius"] - 1e-3).mean()
    assert len(training_pixels(dataset, WATER, "validation")) > 0  # there is water the spectra must not see
    with pytest.raises(UserError, match="no training pixel of class 'bare'"):
        measure_class_spectra(dataset, ("bare",))


def card_with(spec: dict) -> dict:
    clip = {"B02": [0.0, 0.25], "B03": [0.0, 0.28], "B04": [0.0, 0.3], "B08": [-0.05, 0.8]}
    return {"bands": BANDS, "radiometry": {"clip": clip}, "class_spectra": {"water": spec},
            "train_scheduler": TRAIN_SCHEDULER}


@pytest.mark.parametrize("scaling", [None, {"center": [-0.6, -0.5, -0.7, 0.1], "scale": [3.5, 3.0, 2.5, 1.5]}])
def test_the_hold_moves_x0_onto_the_ellipsoid_and_nothing_else(scaling):
    """x0 of water pixels outside the ellipsoid lands on it, on the line to the mean; water pixels inside it, and
    every other pixel, keep their prediction bitwise; x_t is unchanged, so the v rewrite is exact. The same in a
    model that diffuses each band scaled (card band_scaling, train-model --data-scaling std)."""
    from diffusers import DDPMScheduler

    spec = {"mean": [0.06, 0.06, 0.04, 0.03], "covariance": (np.diag([4, 4, 5, 3]) * 1e-5).tolist(),
            "radius": 2.0, "coverage": 0.9}
    card = card_with(spec)
    center, gain = (np.array(scaling[k])[:, None] if scaling else (0.0 if k == "center" else 1.0)
                    for k in ("center", "scale"))  # fmt: skip
    if scaling:
        card["band_scaling"] = scaling
    alphas = DDPMScheduler(**TRAIN_SCHEDULER).alphas_cumprod
    hold = SpectralHold(card, alphas)
    low = np.array([card["radiometry"]["clip"][b][0] for b in BANDS])
    high = np.array([card["radiometry"]["clip"][b][1] for b in BANDS])
    to_model = lambda r: gain * (2 * (r - low[:, None]) / (high - low)[:, None] - 1 - center)  # noqa: E731
    far, near, grass = [0.09, 0.08, 0.07, 0.30], [0.061, 0.059, 0.041, 0.031], [0.03, 0.06, 0.04, 0.4]
    x0 = torch.tensor(to_model(np.array([far, near, grass]).T), dtype=torch.float32).reshape(1, 4, 1, 3)
    maps = torch.tensor([WATER, WATER, (140, 205, 95)], dtype=torch.float32).T.reshape(1, 3, 1, 3) / 127.5 - 1
    t = torch.tensor(400)
    a = alphas[400]
    x_t = torch.randn(1, 4, 1, 3, generator=torch.Generator().manual_seed(0))
    v = (a.sqrt() * x_t - x0) / (1 - a).sqrt()  # the v whose x0 is x0
    held = hold(v, x_t, maps, t)
    assert torch.equal(held[..., 1:], v[..., 1:])
    new_x0 = (a.sqrt() * x_t - (1 - a).sqrt() * held).double().reshape(4, 3).numpy()
    reflectance = low[:, None] + (new_x0 / gain + center + 1) / 2 * (high - low)[:, None]
    assert distances(reflectance[:, :1].T, spec)[0] == pytest.approx(2.0, rel=1e-4)
    direction = (reflectance[:, 0] - spec["mean"]) / (np.array(far) - spec["mean"])
    assert np.allclose(direction, direction[0], rtol=1e-4) and 0 < direction[0] < 1
    assert np.allclose(reflectance[:, 0], np.array(spec["mean"]) + direction[0] * (np.array(far) - spec["mean"]))


def water_distances(outputs: dict, folder: Path, spec: dict) -> np.ndarray:
    out = []
    for name, dn in outputs.items():
        with rasterio.open(folder / "maps" / (name.split("_v")[0] + ".tif")) as src:
            water = np.all(src.read() == np.array(WATER)[:, None, None], axis=0)
        out.append(distances(decode_reflectance(dn).astype(np.float64)[:, water].T, spec))
    return np.concatenate(out)


@pytest.mark.parametrize("seamless", [False, True])
def test_generation_keeps_held_classes_inside_their_ellipsoid(setup_hold, tmp_path, seamless):
    folder, plain, held, spec = setup_hold
    mode = {"seamless": seamless, "steps": 3}
    before = water_distances(run((folder, None, plain), tmp_path / "plain", **mode), folder, spec)
    after_outputs = run((folder, None, held), tmp_path / "held", **mode)
    after = water_distances(after_outputs, folder, spec)
    # the files round to 1e-4 reflectance (|error| <= 0.5e-4 per band): at most this much Mahalanobis distance
    rounding = 1e-4 / np.sqrt(np.linalg.eigvalsh(np.asarray(spec["covariance"])).min())
    assert (before > spec["radius"] + rounding).mean() > 0.5  # the tiny model's water is far from real water
    assert after.max() <= spec["radius"] + rounding
    details = json.loads((tmp_path / "held" / "mapsynth_output.json").read_text())["details"]
    assert details["class_spectra_held"] == {"water": spec["coverage"]}
    plain_details = json.loads((tmp_path / "plain" / "mapsynth_output.json").read_text())["details"]
    assert plain_details["class_spectra_held"] is None


@pytest.fixture(scope="module")
def setup_hold(teacher, tmp_path_factory):
    """The session's tiny teacher, as it is and with the water spectra of its training split held (coverage 0.9)."""
    source, dataset, teacher_dir = teacher
    folder = tmp_path_factory.mktemp("class_spectra")
    shutil.copy(source / "grid.gpkg", folder)
    shutil.copytree(source / "maps", folder / "maps")
    held = folder / "held"
    shutil.copytree(teacher_dir, held)
    card = json.loads((held / "model_card.json").read_text())
    spec = measure_class_spectra(dataset, ("water",), 0.9)
    card["class_spectra"] = spec
    (held / "model_card.json").write_text(json.dumps(card))
    return folder, teacher_dir, held, spec["water"]
