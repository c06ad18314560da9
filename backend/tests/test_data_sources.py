"""A model card names the data its training used: build-training-dataset decides the sources and licences from the
map and Sentinel-2 folders' manifests (dataset_card.json), and train-model copies them into the model card. Maps
derived from the imagery (how the demo model was made) carry no OpenStreetMap licence; OpenStreetMap renders do."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from mapsynth_backend.commands import load_command
from mapsynth_backend.data_sources import COPERNICUS_LICENSE, OSM_LICENSE, SOURCES_FILE, dataset_sources, map_source
from mapsynth_backend.runtime.protocol import ConsoleReporter

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
SIZE, ROWS, COLS, ORIGIN = 16, 2, 3, (420000.0, 5809000.0)


def run(command: str, **params):
    cmd = load_command(command)
    return cmd.run(cmd.resolve(params), REPORTER)


def scene(path: Path) -> Path:
    """Water, grass and built-up fields as Sentinel-2 DNs (reflectance = DN * 0.0001 - 0.1), covering the grid."""
    rng = np.random.default_rng(0)
    side = SIZE * max(ROWS, COLS) + 8
    classes = rng.integers(0, 3, (side // 4 + 1, side // 4 + 1)).repeat(4, 0).repeat(4, 1)[:side, :side]
    spectra = np.array([[0.06, 0.05, 0.03, 0.02], [0.03, 0.06, 0.04, 0.4], [0.09, 0.1, 0.12, 0.2]])
    dn = ((spectra[classes].transpose(2, 0, 1) + 0.1) * 10000).astype(np.uint16)
    profile = {
        "driver": "GTiff",
        "width": side,
        "height": side,
        "count": 4,
        "dtype": "uint16",
        "crs": "EPSG:32630",
        "transform": from_origin(ORIGIN[0] - 40, ORIGIN[1] + 40, 10, 10),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(dn)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The demo model's chain in small: grid, crop, derive-maps, dataset; and the same maps marked as an OSM render."""
    root = tmp_path_factory.mktemp("sources")
    grid = str(root / "grid.gpkg")
    make_grid(root / "grid.gpkg", ROWS, COLS, SIZE, origin=ORIGIN)
    run(
        "crop-sentinel2",
        patch_grid=grid,
        input=str(scene(root / "scene.tif")),
        scale=0.0001,
        offset=-0.1,
        output_dir=str(root / "s2"),
    )
    run("derive-maps", patch_grid=grid, s2_dir=str(root / "s2"), output_dir=str(root / "derived"))
    run(
        "build-training-dataset",
        patch_grid=grid,
        map_dir=str(root / "derived"),
        s2_dir=str(root / "s2"),
        output_dir=str(root / "dataset_derived"),
    )
    # what render_map_patches records for an OpenStreetMap render (plugin/output_dir.py, same contract)
    shutil.copytree(root / "derived", root / "osm")
    manifest = json.loads((root / "osm" / "mapsynth_output.json").read_text())
    manifest["details"] = {"osm_file": "Helsinki.osm.pbf", "style": "semantic v3"}
    (root / "osm" / "mapsynth_output.json").write_text(json.dumps(manifest))
    run(
        "build-training-dataset",
        patch_grid=grid,
        map_dir=str(root / "osm"),
        s2_dir=str(root / "s2"),
        output_dir=str(root / "dataset_osm"),
    )
    return root


def test_a_dataset_of_derived_maps_names_only_the_imagery_licence(built):
    sources = json.loads((built / "dataset_derived" / SOURCES_FILE).read_text())
    assert sources["data_licenses"] == [COPERNICUS_LICENSE]
    maps = next(s for s in sources["data_sources"] if s["role"] == "maps")
    assert "derived from the Sentinel-2 patches" in maps["source"] and maps["license"] is None
    imagery = next(s for s in sources["data_sources"] if s["role"] == "imagery")
    assert "scene.tif" in imagery["source"]
    card = (built / "dataset_derived" / "dataset_card.md").read_text()
    assert "OpenStreetMap" not in card and "derived from the Sentinel-2 patches" in card


def test_a_dataset_of_osm_renders_names_the_odbl(built):
    sources = json.loads((built / "dataset_osm" / SOURCES_FILE).read_text())
    assert sources["data_licenses"] == [OSM_LICENSE, COPERNICUS_LICENSE]
    assert "OpenStreetMap extract Helsinki.osm.pbf" in (built / "dataset_osm" / "dataset_card.md").read_text()


@pytest.mark.parametrize("dataset", ["dataset_derived", "dataset_osm"])
def test_the_model_card_takes_the_sources_from_the_dataset_card(built, dataset, tmp_path):
    run(
        "train-model",
        dataset=str(built / dataset),
        family="pixel",
        preset="tiny",
        max_steps=1,
        batch_size=2,
        checkpoint_every=1,
        validation_every=0,
        device="cpu",
        output_dir=str(tmp_path / "run"),
    )
    card = json.loads((tmp_path / "run" / "model" / "model_card.json").read_text())
    sources = json.loads((built / dataset / SOURCES_FILE).read_text())
    assert card["data_licenses"] == sources["data_licenses"]
    assert card["data_sources"] == sources["data_sources"]
    assert (OSM_LICENSE in card["data_licenses"]) == (dataset == "dataset_osm")


def test_a_dataset_without_a_sources_file_is_judged_from_its_manifest(built, tmp_path):
    """Datasets built before dataset_card.json: the same decision from the manifest's map and Sentinel-2 details."""
    manifest = json.loads((built / "dataset_derived" / "mapsynth_output.json").read_text())
    written = json.loads((built / "dataset_derived" / SOURCES_FILE).read_text())
    assert dataset_sources(tmp_path, manifest) == {key: written[key] for key in ("data_sources", "data_licenses")}


def test_unknown_map_licences_are_said_to_be_unknown():
    land_cover = map_source({"style": "semantic v3", "source": "land cover: worldcover.tif band 1"})
    assert "worldcover.tif band 1" in land_cover["license"] and "not recorded" in land_cover["license"]
    layers = map_source({"layers": ["parcels"]})
    assert "parcels" in layers["license"] and "not recorded" in layers["license"]
    assert map_source({})["license"] == "map data: licence not recorded"


def test_a_distilled_student_names_its_own_data_not_its_teachers_packaging(built, tmp_path):
    """The student's card starts from the teacher's: the teacher's data licences, how the teacher was fine-tuned and
    packaged must not survive into it."""
    common = {"family": "pixel", "preset": "tiny", "batch_size": 2, "validation_every": 0, "device": "cpu"}
    run(
        "train-model",
        dataset=str(built / "dataset_derived"),
        max_steps=1,
        map_dropout=0.5,
        output_dir=str(tmp_path / "teacher"),
        **common,
    )
    card_path = tmp_path / "teacher" / "model" / "model_card.json"
    card = json.loads(card_path.read_text())
    card.update(
        data_licenses=[OSM_LICENSE],
        fine_tuned_from="an older model",
        replaces="the previous demo model",
        licenses={"data": [OSM_LICENSE]},
        training_command="make train-demo-model",
    )  # as package_demo_model.py leaves a teacher
    card_path.write_text(json.dumps(card))
    run(
        "train-model",
        dataset=str(built / "dataset_derived"),
        distill_from=str(tmp_path / "teacher" / "model"),
        distill_steps=2,
        distill_substeps=2,
        max_steps=1,
        output_dir=str(tmp_path / "student"),
        **common,
    )
    student = json.loads((tmp_path / "student" / "model" / "model_card.json").read_text())
    assert student["data_licenses"] == [COPERNICUS_LICENSE]
    assert not {"fine_tuned_from", "replaces", "licenses", "training_command"} & set(student)


@pytest.mark.parametrize("card_path", sorted(Path(__file__).parents[2].glob("resources/models/*/model_card.json")))
def test_the_embedded_cards_licences_follow_their_sources(card_path):
    """The shipped demo cards: licences are exactly those of the sources they name (maps derived from the scene:
    no ODbL), in the card's two licence fields."""
    card = json.loads(card_path.read_text())
    licences = list(dict.fromkeys(s["license"] for s in card["data_sources"] if s["license"]))
    assert card["data_licenses"] == licences and card["licenses"]["data"] == licences
    maps = next(s for s in card["data_sources"] if s["role"] == "maps")
    assert (OSM_LICENSE in licences) == maps["source"].startswith("OpenStreetMap")
