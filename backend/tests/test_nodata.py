"""No data, no pixels (issue 19): where the map carries no information (outside the map's data bounds, patches
without any mapped feature) generation writes nodata, assembly carries it through and evaluate reports it; a
grid whose maps are all empty is an error. Seam metrics of a mosaic without its label raster."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.evaluate.command import COMMANDS as EVALUATE
from mapsynth_backend.evaluate.command import evaluate
from mapsynth_backend.evaluate.coverage import grid_labels, seam_metrics
from mapsynth_backend.generate.command import COMMANDS as GENERATE
from mapsynth_backend.generate.command import generate
from mapsynth_backend.mosaic.command import COMMANDS as ASSEMBLE
from mapsynth_backend.mosaic.command import assemble
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError
from mapsynth_backend.train.command import COMMANDS as TRAIN
from mapsynth_backend.train.command import train

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_dataset, make_grid, synthetic_scene, write_map_patches  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
P, OV, N = 16, 8, 3
SIZE = (N - 1) * (P - OV) + P  # 32 px
PALETTE = Path(__file__).resolve().parents[2] / "resources" / "styles" / "semantic_palette.json"
BACKGROUND = (242, 239, 233)


def semantic_maps(folder: Path, grid: dict, canvas: np.ndarray) -> Path:
    """Map patches cut from one continuous semantic map, with render_map_patches' manifest."""
    stride = P - OV
    maps = write_map_patches(
        folder,
        grid,
        lambda row, col: canvas[:, row * stride : row * stride + P, col * stride : col * stride + P],
        P,
        stride,
        {"style": "semantic v1"},
    )
    with rasterio.open(
        folder / "map.tif", "w", driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8", crs="EPSG:32630",
        transform=from_origin(grid["origin_x"], grid["origin_y"], 10, 10),
    ) as dst:  # fmt: skip
        dst.write(canvas)
    return maps


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nodata")
    dataset = make_dataset(folder / "data", make_grid(folder / "train.gpkg", 2, 3, P))
    train(
        TRAIN[0].resolve(
            {"dataset": str(dataset), "family": "pixel", "preset": "tiny", "max_steps": 10, "batch_size": 4,
             "validation_every": 0, "device": "cpu", "output_dir": str(folder / "training")}
        ),
        REPORTER,
    )  # fmt: skip
    grid = make_grid(folder / "grid.gpkg", N, N, P, OV)
    canvas, _ = synthetic_scene(np.random.default_rng(3), SIZE)
    canvas[:, :, 27:] = 0  # outside the data bounds: the east edge, partly inside the cells of column 2
    canvas[:, :16, :16] = np.array(BACKGROUND, np.uint8)[:, None, None]  # cell r0000_c0000: no mapped feature
    semantic_maps(folder, grid, canvas)
    return folder, canvas


def run_generate(folder: Path, out: Path, maps: Path | None = None, **extra) -> dict:
    params = {"model": str(folder / "training" / "model"), "patch_grid": str(folder / "grid.gpkg"),
              "map_dir": str(maps or folder / "maps"), "steps": 3, "device": "cpu", "variations": 2,
              "output_dir": str(out), **extra}  # fmt: skip
    return generate(GENERATE[0].resolve(params), REPORTER)


def expected_nodata(canvas: np.ndarray, row: int, col: int) -> np.ndarray:
    stride = P - OV
    if (row, col) == (0, 0):
        return np.ones((P, P), bool)
    return (canvas[:, row * stride : row * stride + P, col * stride : col * stride + P] == 0).all(axis=0)


def generated(folder: Path, seamless: bool) -> Path:
    """The generation of the module's grid, run once by whichever test needs it first (any test order)."""
    out = folder / f"gen-{seamless}"
    if not (out / "mapsynth_output.json").exists():
        result = run_generate(folder, out, seamless=seamless, window_stride=8)
        assert result["patch_count"] == N * N
    return out


@pytest.mark.parametrize("seamless", [False, True], ids=["independent", "seamless"])
def test_generation_writes_nodata_exactly_where_the_map_has_no_information(setup, seamless):
    folder, canvas = setup
    out = generated(folder, seamless)
    for row in range(N):
        for col in range(N):
            for variation in range(2):
                with rasterio.open(out / f"r{row:04d}_c{col:04d}_v{variation:02d}.tif") as src:
                    dn = src.read()
                    assert src.nodata == 0
                nodata = expected_nodata(canvas, row, col)
                assert (dn[:, nodata] == 0).all(), (row, col)
                assert (dn[:, ~nodata] > 0).all(), (row, col)


def refuse_non_json(name: str):
    raise ValueError(f"{name} is not JSON (strict parsers such as JavaScript's and jq reject it)")


def test_assembly_carries_nodata_and_evaluate_reports_it_from_the_mosaic_alone(setup):
    folder, canvas = setup
    out = folder / "mosaic.tif"
    result = assemble(
        ASSEMBLE[0].resolve({"patch_grid": str(folder / "grid.gpkg"), "generated_dir": str(generated(folder, False)),
                             "output": str(out)}),
        REPORTER,
    )  # fmt: skip
    with rasterio.open(out) as src:
        dn = src.read()
        assert src.nodata == 0
    nodata = (dn == 0).all(axis=0)
    assert ((dn == 0).any(axis=0) == nodata).all()  # every band or none
    outside = (canvas == 0).all(axis=0)
    assert nodata[outside].all() and nodata[: P - OV, : P - OV].all()  # outside the data; the blank cell's own part
    mapped = ~outside
    mapped[:P] = False  # below the blank cell's rows: every pixel inside the data bounds has a value
    assert not nodata[mapped].any()
    assert result["nodata_fraction"] == pytest.approx(nodata.mean())
    # blank patches overlap mapped ones: the disagreement is measured where both hold data (a number, never NaN)
    assert result["overlap_disagreement"] is not None and 0 <= result["overlap_disagreement"] < 0.5
    Path(result["labels"]).rename(folder / "labels-elsewhere.tif")  # the mosaic alone: no label raster next to it
    report = folder / "report"
    params = {"synthetic": str(out), "map": str(folder / "map.tif"), "palette": str(PALETTE), "output_dir": str(report)}
    evaluate(EVALUATE[0].resolve(params), REPORTER)
    metrics = json.loads((report / "metrics.json").read_text(), parse_constant=refuse_non_json)
    assert metrics["nodata"]["fraction"] == pytest.approx(nodata.mean())
    assert metrics["nodata"]["outside_data_bounds"] == pytest.approx(outside.mean())
    assert metrics["nodata"]["inside_data_bounds"] == pytest.approx((nodata & ~outside).mean())
    assert metrics["seam_stride_px"] == P - OV and set(metrics["seams"]) == {"B02", "B03", "B04", "B08"}
    assert "outside_data" not in metrics["ndvi_per_class"]
    page = (report / "report.html").read_text()
    assert "of the mosaic is nodata" in page and "no label raster next to the mosaic" in page


def test_maps_without_any_information_are_an_error_not_nodata(setup, tmp_path):
    folder, _ = setup
    empty = np.zeros((3, SIZE, SIZE), np.uint8)
    empty[:, :, :20] = np.array(BACKGROUND, np.uint8)[:, None, None]  # background and outside only
    semantic_maps(tmp_path, json.loads(json.dumps(make_grid(tmp_path / "g.gpkg", N, N, P, OV))), empty)
    with pytest.raises(UserError, match="none of the 9 map patches .* shows a mapped feature"):
        run_generate(folder, tmp_path / "gen", maps=tmp_path / "maps", patch_grid=str(tmp_path / "g.gpkg"))
    assert not list((tmp_path / "gen").glob("*.tif"))


def test_tile_line_seams_are_found_without_a_label_raster():
    """Per-tile offsets show at the tile lines of the stride; a continuous image does not."""
    rng = np.random.default_rng(0)
    stride, overlap = 48, 16
    image = rng.normal(0.1, 0.01, (4, 400, 400)).astype(np.float32)
    labels = grid_labels(image.shape[1:], stride, overlap)
    assert len(np.unique(labels)) == 10 * 10 and (np.diff(labels[0]) != 0).sum() == 9  # at 8 + 48 k
    clean, _ = seam_metrics(image, labels, stride)
    offsets = rng.choice([-0.01, 0.01], (4, 10, 10))
    tiles = np.repeat(np.repeat(offsets, stride, axis=1), stride, axis=2)
    shifted = np.roll(tiles, overlap // 2, axis=(1, 2))[:, :400, :400]
    stepped, _ = seam_metrics(image + shifted.astype(np.float32), labels, stride)
    assert all(0.9 < v < 1.1 for v in clean), clean
    assert all(v > 1.5 for v in stepped), stepped
