"""Evaluation: metrics against known relations, sections skipped with notes, and the report rendering in
headless Chromium with its images."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from safetensors.torch import save_file

from mapsynth_backend.evaluate.command import COMMANDS, evaluate
from mapsynth_backend.evaluate.fid_inception import FIDInceptionV3, load_fid_inception
from mapsynth_backend.evaluate.metrics import psnr, ssim
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid  # noqa: E402
from test_mosaic import COLS, OV, ROWS, P, cut, run, smooth_image, write_candidates  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_ssim_and_psnr_use_the_data_range():
    rng = np.random.default_rng(0)
    a = rng.random((64, 64)) * 0.3
    assert ssim(a, a, 0.3) == pytest.approx(1.0)
    noisy = a + rng.normal(0, 0.01, a.shape)
    assert 0 < ssim(noisy, a, 0.3) < 1
    assert psnr(noisy, a, 0.3) == pytest.approx(10 * np.log10(0.3**2 / np.mean((noisy - a) ** 2)))
    assert psnr(noisy, a, 0.3) < psnr(noisy, a, 1.0)  # a wider (wrong) range flatters PSNR, as 255 did


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    grid = make_grid(folder / "grid.gpkg", ROWS, COLS, P, OV)
    image = smooth_image(np.random.default_rng(2), (ROWS - 1) * (P - OV) + P, (COLS - 1) * (P - OV) + P)
    rng = np.random.default_rng(3)
    write_candidates(
        folder / "gen",
        grid,
        lambda r, c, v: np.clip(cut(image, r, c).astype(int) + rng.integers(-40, 40, (4, P, P)), 1, 65535).astype(
            np.uint16
        ),
        2,
    )
    assembled = run(folder, folder / "grid.gpkg", folder / "gen")
    with rasterio.open(assembled["output"]) as src:
        profile = src.profile
    profile.update(driver="GTiff")
    for key in ("blockxsize", "blockysize", "tiled"):
        profile.pop(key, None)
    with rasterio.open(folder / "real.tif", "w", **profile) as dst:  # the "real" scene: the clean image
        dst.write(image)
        dst.update_tags(encoding="reflectance = DN * 0.0001 - 0.1; DN 0 = nodata")
        for i, name in enumerate(("B02", "B03", "B04", "B08"), start=1):
            dst.set_band_description(i, name)
    classes = (np.arange(image.shape[2])[None, :] // 20 % 2).repeat(image.shape[1], 0)
    colours = np.array([[140, 205, 95], [180, 40, 40]], np.uint8)[classes].transpose(2, 0, 1)
    profile.update(count=3, dtype="uint8", nodata=None)
    with rasterio.open(folder / "map.tif", "w", **profile) as dst:
        dst.write(colours)
    torch.manual_seed(0)  # the real FID Inception-v3 architecture, random weights (no download possible here)
    save_file(FIDInceptionV3().state_dict(), str(folder / "fid_inception.safetensors"))
    return folder, assembled


@pytest.mark.slow
def test_all_sections_with_all_inputs(scene):
    folder, assembled = scene
    palette = Path(__file__).resolve().parents[2] / "resources" / "styles" / "semantic_palette.json"
    params = COMMANDS[0].resolve(
        {
            "synthetic": assembled["output"],
            "real": str(folder / "real.tif"),
            "map": str(folder / "map.tif"),
            "palette": str(palette),
            "inception_weights": str(folder / "fid_inception.safetensors"),
            "unverified_fid": True,  # random weights: accepted only as an unverified run
            "c2st_repeats": 1,  # repeated C2ST: test_realism.py
            "output_dir": str(folder / "rep"),
        }
    )
    result = evaluate(params, REPORTER)
    assert result["sections"] == ["wasserstein", "ndvi_per_class", "streets", "paired", "seams", "realism", "fid_kid"]
    metrics = json.loads((folder / "rep" / "metrics.json").read_text())
    assert metrics["streets"]["all_roads"]["road_pixels"] == 0  # this map draws no roads: no blocks to measure
    assert (
        metrics["streets"]["all_roads"]["ndvi"]["units"] == 0
        and "Streets" in (folder / "rep" / "report.html").read_text()
    )
    assert set(metrics["ndvi_per_class"]) == {"grass", "residential_building"}
    assert 0.8 < metrics["paired"]["B04"]["ssim"] < 1.0 and metrics["paired"]["B04"]["psnr_db"] > 20
    assert all(v < 0.01 for v in metrics["wasserstein"].values())
    # the formulas are checked against closed forms in test_metric_formulas.py; here: they ran on the patches
    assert np.isfinite([metrics["fid_kid"]["fid"], metrics["fid_kid"]["kid"]]).all()
    assert metrics["fid_kid"]["real_patches"] > 1
    assert metrics["fid_kid"]["verified"] is False and "prefer KID" in metrics["fid_kid"]["warning"]
    page = (folder / "rep" / "report.html").read_text()
    assert "UNVERIFIED" in page and "prefer KID" in page and "0.5-99.5 percentile range" in page
    assert metrics["paired"]["B04"]["data_range_method"] == "0.5-99.5 percentile range"
    assert set(metrics["seams"]) == {"B02", "B03", "B04", "B08"}


def test_missing_inputs_are_noted_not_errors(scene):
    folder, assembled = scene
    result = evaluate(
        COMMANDS[0].resolve({"synthetic": assembled["output"], "output_dir": str(folder / "bare")}), REPORTER
    )
    assert result["sections"] == ["seams"]
    page = (folder / "bare" / "report.html").read_text()
    assert (
        page.count('class="note"') == 7
        and "the street metric is skipped" in page
        and "nothing is downloaded" in page
        and "No SEGMENTER" in page
    )


def test_report_renders_with_its_images_in_headless_chromium(scene):
    folder, assembled = scene
    evaluate(
        COMMANDS[0].resolve(
            {
                "synthetic": assembled["output"],
                "real": str(folder / "real.tif"),
                "map": str(folder / "map.tif"),
                "c2st_repeats": 1,
                "output_dir": str(folder / "browser"),
            }
        ),
        REPORTER,
    )
    assert Path(CHROMIUM).exists(), "Chromium is needed for this test: 'make setup' installs it (Debian: chromium)"
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={folder / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            (folder / "browser" / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    loaded = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert loaded, dom[:500]
    assert int(loaded.group(1)) == int(loaded.group(2)) >= 4


def test_feature_network_loads_from_safetensors_only(scene, tmp_path):
    """FID weights never go through an unpickler: a TorchScript/pickle file and a foreign state dict are refused
    with one line before any work; the network gives 2048 features like pytorch-fid's."""
    folder, assembled = scene
    archive = tmp_path / "features.pt"
    torch.jit.save(torch.jit.script(torch.nn.Flatten()), str(archive))
    foreign = tmp_path / "tiny.safetensors"
    save_file({"conv.weight": torch.zeros(8, 3, 5, 5)}, str(foreign))
    for weights, message in ((archive, "not a .safetensors file"), (foreign, "not the FID Inception-v3 network")):
        params = COMMANDS[0].resolve(
            {
                "synthetic": assembled["output"],
                "inception_weights": str(weights),
                "output_dir": str(tmp_path / weights.stem),
            }
        )
        with pytest.raises(UserError, match=message):
            evaluate(params, REPORTER)
        assert not (tmp_path / weights.stem / "report.html").exists()
    with pytest.raises(UserError, match="not the recognised FID Inception weights"):
        load_fid_inception(folder / "fid_inception.safetensors")  # random weights: refused by default
    network = load_fid_inception(folder / "fid_inception.safetensors", allow_unverified=True)
    assert network.verification["verified"] is False
    with torch.inference_mode():
        assert network(torch.rand(2, 3, 64, 64)).shape == (2, 2048)
