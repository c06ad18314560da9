"""mapsynth:augmentation_experiment through processing.run: a real (tiny) generator makes the synthetic images,
the backend trains and scores the segmenters; with LABELS they are scored on the polygons; without, the log and
the report warn; DEVICE has one default in QGIS and the CLI; bad inputs fail with one line."""

import json
import subprocess
from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

from ..conftest import ROOT, tiny_pixel_model  # noqa: TID252

FIXTURES = ROOT / "backend" / "tests"


def _backend(backend_python, code: str) -> str:
    done = subprocess.run([str(backend_python), "-c", f"import sys; sys.path.insert(0, {str(FIXTURES)!r}); {code}"],
                          capture_output=True, text=True, timeout=600, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, backend_python):
    root = tmp_path_factory.mktemp("augmentation")
    dataset = _backend(backend_python, "from experiment_fixtures import make_split_dataset as m; "
                                       f"print(m(__import__('pathlib').Path({str(root / 'dataset')!r}), 4, 4))")
    no_test = _backend(backend_python, "from experiment_fixtures import make_split_dataset as m; "
                                       f"print(m(__import__('pathlib').Path({str(root / 'no-test')!r}), splits=False))")
    model = tiny_pixel_model(32)
    three_bands = _backend(backend_python, "from experiment_fixtures import make_model_card as m; "
                                           f"print(m(__import__('pathlib').Path({str(root / 'rgb')!r}), "
                                           "['B02', 'B03', 'B04']))")
    scene = _backend(backend_python, "from experiment_fixtures import make_scene_dataset as m; "
                                     f"print(m(__import__('pathlib').Path({str(root / 'scene')!r})))")
    labels = _backend(backend_python, "from experiment_fixtures import make_label_polygons as m; from pathlib import "
                                      f"Path; print(m(Path({scene!r}), Path({str(root / 'labels.gpkg')!r}), "
                                      "[(12, 1), (12, 3), (2, 18), (4, 18)]))")
    return {"dataset": dataset, "no_test": no_test, "model": model, "three_bands": three_bands,
            "backend_python": backend_python, "scene": scene, "labels": labels}


def test_with_labels_the_segmenters_are_scored_on_the_polygons(run_alg, inputs, tmp_path):
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(inputs["labels"], "labels", "ogr")
    assert layer.isValid() and layer.featureCount() == 4
    out = tmp_path / "experiment"
    result = run_alg("augmentation_experiment", {
        "DATASET": inputs["scene"], "MODEL": inputs["model"], "LABELS": layer, "LABEL_FIELD": "class",
        "REAL_FRACTIONS": "0.25", "SYNTHETIC": [], "SEEDS": 2, "STEPS": 10, "FOLDS": 2, "GUARD": 4,
        "OUTPUT_DIR": str(out)})
    results = json.loads((out / "results.json").read_text())
    assert results["mode"] == "independent polygon labels" and result["RUNS"] == 4
    assert {p["id"] for p in results["polygons"]} == {1, 2, 3, 4}
    assert {(r["arm"], r["real_fraction"]) for r in results["rows"]} == {
        ("derived-map rule", None), ("real", 0.25), ("real+classical", 0.25)}
    assert results["comparisons"][0]["comparison"] == "real+classical @ 0.25 - real @ 0.25"


def test_without_labels_the_log_warns_that_the_labels_come_from_the_imagery(run_alg, inputs, tmp_path):
    from qgis.core import QgsProcessingFeedback

    class Recorder(QgsProcessingFeedback):
        warnings: list = []

        def pushWarning(self, text):  # noqa: N802 - QGIS API name
            self.warnings.append(text)

    feedback = Recorder()
    run_alg("augmentation_experiment", {"DATASET": inputs["dataset"], "MODEL": inputs["model"],
                                        "REAL_FRACTIONS": "1.0", "SYNTHETIC": [], "SEEDS": 1, "STEPS": 5,
                                        "OUTPUT_DIR": str(tmp_path / "out")}, feedback)
    assert any("labels come from the imagery itself" in w for w in feedback.warnings)
    assert "labels come from the imagery itself" in (tmp_path / "out" / "report.html").read_text()


def test_device_defaults_to_auto_in_qgis_and_the_cli(plugin, inputs):
    from mapsynth.processing_provider.base import job_default
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById("mapsynth:augmentation_experiment")
    described = json.loads(subprocess.run([str(inputs["backend_python"]), "-I", "-m", "mapsynth_backend", "describe",
                                           "--json"], capture_output=True, text=True, check=True, timeout=120).stdout)
    cli = described["augmentation_experiment"]
    assert job_default(algorithm.parameterDefinition("DEVICE")) == cli["device"]["default"] == "auto"
    assert job_default(algorithm.parameterDefinition("SEEDS")) == cli["seeds"]["default"] == 10


def test_the_experiment_runs_every_arm_and_writes_results_report_and_segmenter(run_alg, inputs, tmp_path):
    out = tmp_path / "experiment"
    result = run_alg("augmentation_experiment", {
        "DATASET": inputs["dataset"], "MODEL": inputs["model"], "REAL_FRACTIONS": "0.5,1.0", "SYNTHETIC": [0, 1],
        "VARIATIONS": 1, "SEEDS": 1, "STEPS": 5, "OUTPUT_DIR": str(out)})
    results = json.loads((out / "results.json").read_text())
    assert {(r["arm"], r["real_fraction"]) for r in results["runs"]} == {
        ("real", 0.5), ("real+same_maps", 0.5), ("real+unpaired_maps", 0.5), ("synthetic_only", 0.5),
        ("real", 1.0), ("real+same_maps", 1.0), ("synthetic_only", 1.0)}
    assert result["RUNS"] == 7 and result["REPORT"] == str(out / "report.html")
    train = len((ROOT / inputs["dataset"] / "train" / "metadata.jsonl").read_text().splitlines())
    assert len(list((out / "synthetic").glob("*_v00.tif"))) == train  # generated by the tiny model
    assert (ROOT / result["SEGMENTER"] / "segmenter.safetensors").is_file()
    # evaluate's map adherence with that segmenter: a copy of the real image scores exactly the real ceiling
    image, map_path = _backend(inputs["backend_python"], "from experiment_fixtures import map_raster; from pathlib "
                               f"import Path; print(*map_raster(Path({inputs['dataset']!r}), "
                               f"Path({str(tmp_path / 'map.tif')!r})))").split()
    evaluated = run_alg("evaluate", {"SYNTHETIC": image, "REAL": image, "MAP": map_path,
                                     "SEGMENTER": result["SEGMENTER"], "C2ST_REPEATS": 1,
                                     "OUTPUT_DIR": str(tmp_path / "report")})
    adherence = json.loads(Path(evaluated["METRICS"]).read_text())["map_adherence"]
    assert adherence["synthetic"]["miou"] == adherence["real_ceiling"]["miou"] > 0
    # and an image that does not follow the map (the real one mirrored, same grid) scores below that ceiling
    mirrored = gdal.Translate(str(tmp_path / "mirrored.tif"), image)
    for index in range(1, mirrored.RasterCount + 1):
        band = mirrored.GetRasterBand(index)
        band.WriteArray(band.ReadAsArray()[:, ::-1])
    mirrored = None  # written and closed
    evaluated = run_alg("evaluate", {"SYNTHETIC": str(tmp_path / "mirrored.tif"), "REAL": image, "MAP": map_path,
                                     "SEGMENTER": result["SEGMENTER"], "C2ST_REPEATS": 1,
                                     "OUTPUT_DIR": str(tmp_path / "mirrored")})
    adherence = json.loads(Path(evaluated["METRICS"]).read_text())["map_adherence"]
    assert adherence["synthetic"]["miou"] < adherence["real_ceiling"]["miou"]


@pytest.mark.parametrize("case, expected", [
    ("fractions", "REAL_FRACTIONS: 1.5 is outside (0, 1]"),
    ("no test split", "has no test split"),
    ("bands", "MODEL: it generates bands B02, B03, B04 but the dataset has B02, B03, B04, B08"),
])
def test_bad_input_fails_with_one_line(run_alg, inputs, tmp_path, case, expected):
    params = {"DATASET": inputs["dataset"], "MODEL": inputs["model"], "REAL_FRACTIONS": "0.1,1.5",
              "SEEDS": 1, "STEPS": 1, "OUTPUT_DIR": str(tmp_path / "out")}
    if case != "fractions":
        params["REAL_FRACTIONS"] = "1.0"
        params.update({"no test split": {"DATASET": inputs["no_test"]},
                       "bands": {"MODEL": inputs["three_bands"]}}[case])
    with pytest.raises(QgsProcessingException) as caught:
        run_alg("augmentation_experiment", params)
    assert expected in str(caught.value)
    assert "Traceback" not in str(caught.value)
    assert not (tmp_path / "out" / "results.json").exists()
