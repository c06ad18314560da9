"""Issue 17: reflectance read from the file (never guessed), the SSIM data range, and FID weights that are
recognised or refused (convert-fid-weights with a weights-only loader)."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from safetensors import safe_open
from safetensors.torch import save_file

from mapsynth_backend.evaluate import fid_inception
from mapsynth_backend.evaluate.command import read_reflectance
from mapsynth_backend.evaluate.fid_inception import FIDInceptionV3, load_fid_inception
from mapsynth_backend.evaluate.metrics import data_range
from mapsynth_backend.runtime.protocol import UserError


def write(path, dn, tags=None, scale=None, offset=None, nodata=0):
    with rasterio.open(
        path, "w", driver="GTiff", width=dn.shape[2], height=dn.shape[1], count=dn.shape[0], dtype=dn.dtype,
        crs="EPSG:32630", transform=from_origin(420000, 5809000, 10, 10), nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(dn)
        if scale is not None:
            dst.scales, dst.offsets = (scale,) * dn.shape[0], (offset,) * dn.shape[0]
        dst.update_tags(**(tags or {}))
    return str(path)


SEA = np.full((4, 8, 8), 150, np.uint16)  # sea only, reflectance x 10000: 0.015 (the old guess read 0.15)
SEA[:, 0, 0] = 0


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"scale": 0.0001, "offset": 0.0}, 0.015),  # GDAL band scale first
        ({"scale": 0.0001, "offset": -0.1, "tags": {"SCALE": "0.5"}}, 0.015 - 0.1),  # ... over any tag
        ({"tags": {"SCALE": "0.0001"}}, 0.015),  # upper-case tag
        ({"tags": {"Reflectance_Scale": "1e-4", "ADD_OFFSET": "-0.005"}}, 0.01),
        ({"tags": {"scale": "surface reflectance x 10000 (inferred)"}}, 0.015),  # a documented text form
        ({"tags": {"encoding": "reflectance = DN * 0.0001 - 0.1; DN 0 = nodata"}}, 0.015 - 0.1),  # MapSynth
    ],
)
def test_reflectance_comes_from_the_files_declaration(tmp_path, kwargs, expected):
    values, _, _ = read_reflectance(write(tmp_path / "a.tif", SEA, **kwargs), "REAL")
    assert np.isnan(values[:, 0, 0]).all()
    assert np.nanmax(np.abs(values - expected)) < 1e-6


@pytest.mark.parametrize(
    "tags, message",
    [
        ({}, "does not say how its values encode reflectance"),
        ({"scale": "surface reflectance"}, "neither a number nor 'reflectance x N'"),
        ({"scale": "0.0001", "offset": "minus a tenth"}, "OFFSET tag .* is not a number"),
    ],
)
def test_undeclared_or_unreadable_encodings_are_one_clear_error(tmp_path, tags, message):
    with pytest.raises(UserError, match=message) as error:
        read_reflectance(write(tmp_path / "a.tif", SEA, tags=tags), "REAL")
    assert "\n" not in str(error.value) and "gdal_edit.py -scale" in str(error.value)


def test_ssim_data_range_ignores_a_few_bright_pixels():
    rng = np.random.default_rng(0)
    band = rng.uniform(0.02, 0.16, (200, 200))
    band[:3, :3] = 1.1  # glint / a roof: 9 pixels set max - min
    assert data_range(band, "minmax") == pytest.approx(1.1 - band[3:, 3:].min(), abs=1e-3)
    expected = np.percentile(band, 99.5) - np.percentile(band, 0.5)
    assert data_range(band, "percentile") == pytest.approx(expected) and data_range(band, "percentile") < 0.15


@pytest.fixture
def pth(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "weights.pth"
    torch.save({**FIDInceptionV3().state_dict(), "fc.weight": torch.zeros(3, 2048)}, path)
    return path


def convert(pth, out, *extra):
    return subprocess.run(
        [sys.executable, "-I", "-m", "mapsynth_backend", "convert-fid-weights", str(pth), str(out), "--json", *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_converter_refuses_a_file_that_is_not_pytorch_fids(pth, tmp_path):
    run = convert(pth, tmp_path / "fid.safetensors")
    assert run.returncode == 1 and "does not start with 6726825d" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "fid.safetensors").exists()
    run = convert(pth, tmp_path / "fid.safetensors", "--unverified-source")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    with safe_open(str(tmp_path / "fid.safetensors"), "pt") as handle:
        metadata, keys = handle.metadata(), set(handle.keys())
    assert metadata["source_verified"] == "false" and not any(k.startswith("fc.") for k in keys)
    assert metadata["tensor_fingerprint"] == result["tensor_fingerprint"]
    with pytest.raises(UserError, match="not the recognised FID Inception weights"):
        load_fid_inception(tmp_path / "fid.safetensors")


def test_a_source_with_the_right_hash_gives_verified_weights_until_they_change(pth, tmp_path, monkeypatch):
    """The conversion's source check is what verifies weights here (the real file cannot be downloaded): a source
    whose sha256 starts with the expected prefix converts into accepted weights; altered tensors are refused."""
    from mapsynth_backend.runtime.protocol import ConsoleReporter

    monkeypatch.setattr(fid_inception, "SOURCE_SHA256_PREFIX", hashlib.sha256(pth.read_bytes()).hexdigest()[:8])
    out = tmp_path / "fid.safetensors"
    params = {"input": str(pth), "output": str(out), "unverified_source": False}
    result = fid_inception.convert_fid_weights(params, ConsoleReporter(json_result=False))
    network = load_fid_inception(out)
    assert result["verified"] and network.verification == {
        "verified": True, "fingerprint": result["tensor_fingerprint"], "verified_by": "source sha256 at conversion"
    }  # fmt: skip
    with safe_open(str(out), "pt") as handle:
        metadata, state = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}
    state["Mixed_7c.branch_pool.conv.weight"] *= 0.5
    save_file(state, str(tmp_path / "edited.safetensors"), metadata=metadata)
    with pytest.raises(UserError, match="not the recognised"):
        load_fid_inception(tmp_path / "edited.safetensors")
