"""The augmentation experiment scored on independent polygons: the scored labels come from the polygon layer and
not from the imagery, no scored pixel lies in any training patch of the segmenter, its validation block or the
arm's generator (checked from the footprints, independently of the experiment's own bookkeeping, and for the
generator from the dataset its model card says it trained on), every polygon is scored once per seed, the seeds are
paired across arms, Holm's correction matches a hand computation, results.json is strict JSON with per-seed values
and per-polygon confusion rows, a resumed experiment redoes only its missing runs without retraining a generator,
and a generator fine-tuned from MODEL (which may have seen the polygons) is flagged in the log and the report."""

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import rasterio

sys.path.insert(0, str(Path(__file__).parent))

from experiment_fixtures import make_label_polygons, make_model_card, make_scene_dataset  # noqa: E402

from mapsynth_backend.experiment import stats  # noqa: E402
from mapsynth_backend.experiment.command import COMMANDS  # noqa: E402
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError  # noqa: E402

CELLS = [(12, 1), (12, 3), (14, 2), (2, 18), (4, 18), (3, 20)]  # 8 px fields: two clusters far apart
GUARD = 4
SETTINGS = {
    "label_field": "class",
    "real_fractions": "0.25,1.0",
    "seeds": 2,
    "steps": 20,
    "validate_every": 10,
    "patience": 2,
    "batch_size": 4,
    "generator_preset": "tiny",
    "generator_steps": 2,
    "generation_steps": 2,
    "variations": 1,
    "folds": 2,
    "guard": GUARD,
    "threads": 1,
    "device": "cpu",
}


def run(out: Path, dataset: Path, labels: Path, model: Path, **given) -> dict:
    params = COMMANDS[0].resolve(
        {"dataset": str(dataset), "model": str(model), "labels": str(labels), "output_dir": str(out)} | SETTINGS | given
    )
    result = COMMANDS[0].run(params, ConsoleReporter(json_result=False))
    return json.loads(Path(result["results"]).read_text(), parse_constant=_no_constants)


def _no_constants(name: str):
    raise AssertionError(f"results.json holds {name}: not strict JSON")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("polygons")
    dataset = make_scene_dataset(root / "dataset")
    labels = make_label_polygons(dataset, root / "labels.gpkg", CELLS)
    model = make_model_card(root / "model")
    results = run(root / "out", dataset, labels, model)
    return {"root": root, "dataset": dataset, "labels": labels, "model": model, "results": results}


def _footprints(dataset: Path) -> dict:
    import shapely

    out = {}
    for split in ("train", "validation"):
        for line in (dataset / split / "metadata.jsonl").read_text().splitlines():
            record = json.loads(line)
            out[record["patch_id"]] = shapely.box(*record["bounds"])
    return out


def _polygons(labels: Path) -> dict:
    """fid -> (class, geometry in the dataset's CRS), read with OGR-independent code paths (pyogrio + pyproj)."""
    import shapely
    from pyogrio.raw import read
    from pyproj import Transformer

    _, fids, wkb, fields = read(str(labels), return_fids=True)
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32630", always_xy=True)
    out = {}
    for fid, blob, name in zip(fids, wkb, fields[0], strict=True):
        geometry = shapely.transform(shapely.from_wkb(blob), lambda xy: np.column_stack(to_utm.transform(*xy.T)))
        out[int(fid)] = (name, geometry)
    return out


def _generator_training_patches(out: Path) -> dict[str, frozenset]:
    """Generator folder -> the patch ids of the dataset its model card says it was trained on (that dataset's
    train/metadata.jsonl), each a training pair of the experiment's dataset; the card's count must agree."""
    found = {}
    for card_path in sorted(out.glob("generators/*/training/model/model_card.json")):
        card = json.loads(card_path.read_text())
        records = [json.loads(line) for line in (Path(card["dataset"]) / "train" / "metadata.jsonl").open()]
        assert len(records) == card["data"]["train"] and card["data"]["validation"] == card["data"]["test"] == 0
        assert all("/dataset/train/multispectral/" in r["multispectral"] for r in records)
        found[card_path.parents[2].name] = frozenset(r["patch_id"] for r in records)
    assert found, "no generator was trained"
    return found


def test_no_scored_pixel_lies_in_any_training_patch(world):
    footprints, polygons = _footprints(world["dataset"]), _polygons(world["labels"])
    runs = world["results"]["runs"]
    assert len(runs) == 20 and not world["results"]["runs_missing"]
    for run in runs:
        used = set(run["train_patches"]) | set(run["validation_patches"])
        used |= set(run["generator_patches"]) | set(run["synthetic_map_patches"])
        assert used and run["scored_polygons"]
        for fid in run["scored_polygons"]:
            geometry = polygons[fid][1]
            closest = min(geometry.distance(footprints[pid]) for pid in used)
            assert closest >= GUARD * 10 - 1e-6, (run["key"], fid)
    same_maps = [r for r in runs if r["arm"] == "real+same_maps"]
    assert same_maps and all(r["generator_patches"] == r["train_patches"] for r in same_maps)
    trained_on = _generator_training_patches(world["root"] / "out")  # what the generators really saw, from disk
    synthetic = [r for r in runs if r["arm"] in ("real+same_maps", "real+unpaired_maps")]
    assert {frozenset(r["train_patches"]) for r in synthetic} == set(trained_on.values())
    for run in synthetic:
        for fid in run["scored_polygons"]:
            closest = min(polygons[fid][1].distance(footprints[pid]) for pid in run["train_patches"])
            assert closest >= GUARD * 10 - 1e-6, (run["key"], fid)
    unpaired = [r for r in runs if r["arm"] == "real+unpaired_maps"]
    assert unpaired and all(not set(r["synthetic_map_patches"]) & set(r["train_patches"]) for r in unpaired)
    full = [r for r in runs if r["real_fraction"] == 1.0]
    assert {r["fold"] for r in full} == {0, 1}
    assert {r["arm"] for r in full} == {"real", "real+classical", "real+same_maps"}
    # a generator per fold at fraction 1, each trained on its fold's block only
    full_synthetic = [r for r in full if r["arm"] == "real+same_maps"]
    assert len({frozenset(r["generator_patches"]) for r in full_synthetic}) == 2


def test_every_polygon_is_scored_once_per_seed_and_arm(world):
    results = world["results"]
    ids = {p["id"] for p in results["polygons"]}
    assert ids == set(_polygons(world["labels"]))
    scored: dict[tuple, Counter] = {}
    for run in results["runs"]:
        scored.setdefault((run["arm"], run["real_fraction"], run["seed"]), Counter()).update(run["scored_polygons"])
    assert len(scored) == 14
    for counter in scored.values():
        assert set(counter) == ids and set(counter.values()) == {1}


def test_the_scored_labels_are_the_polygons_pixels(world):
    """Each polygon's scored pixels are exactly the pixel centres inside it (counted here from the geometry),
    whatever the segmenter predicted, and its class is the polygon's."""
    import shapely

    polygons = _polygons(world["labels"])
    x0, y0 = 420000.0, 5809000.0
    centres = [
        shapely.Point(x0 + 10 * c + 5, y0 - 10 * r - 5) for r in range(128) for c in range(176)
    ]  # the scene's pixels
    for entry in world["results"]["polygons"]:
        name, geometry = polygons[entry["id"]]
        inside = sum(geometry.contains(p) for p in centres if geometry.bounds[0] - 10 < p.x < geometry.bounds[2] + 10)
        assert entry["pixels"] == inside > 0 and entry["class"] == name
    for run in world["results"]["runs"]:
        for fid, row in run["polygon_counts"].items():
            assert sum(row) == next(p["pixels"] for p in world["results"]["polygons"] if p["id"] == int(fid))


def test_altering_the_imagery_does_not_change_the_labels(world, tmp_path):
    from mapsynth_backend.experiment.data import load_dataset
    from mapsynth_backend.experiment.independent import Experiment

    altered = shutil.copytree(world["dataset"], tmp_path / "altered")
    for path in altered.glob("*/multispectral/*.tif"):
        with rasterio.open(path, "r+") as dst:
            dst.write(np.random.default_rng(0).integers(1000, 6000, (4, 32, 32)).astype("uint16"))
    params = COMMANDS[0].resolve(
        {"dataset": str(world["dataset"]), "model": "m", "labels": str(world["labels"]), "output_dir": "o"} | SETTINGS
    )
    built = [
        Experiment(load_dataset(d, None, need_test=False), params, [], [0.25]) for d in (world["dataset"], altered)
    ]
    assert not np.array_equal(built[0].image, built[1].image)
    assert np.array_equal(built[0].polygons.raster, built[1].polygons.raster)
    assert built[0].polygons.label_names == built[1].polygons.label_names
    assert np.array_equal(built[0].polygons.fold, built[1].polygons.fold)


def test_seeds_are_paired_across_arms(world):
    by_seed: dict[int, set] = {}
    for run in world["results"]["runs"]:
        by_seed.setdefault(run["seed"], set()).add(run["initial_weights"])
        if run["unit"].startswith("f0.25"):
            by_seed.setdefault(("samples", run["seed"]), set()).add(run["real_samples"])
    assert all(len(digests) == 1 for digests in by_seed.values())
    assert by_seed[0] != by_seed[1] and by_seed[("samples", 0)] != by_seed[("samples", 1)]


def test_results_name_the_primary_comparison_before_the_runs_and_keep_per_seed_values(world):
    results, root = world["results"], world["root"]
    plan = json.loads((root / "out" / "plan.json").read_text())
    assert plan["primary"] == "real+same_maps @ 0.25 - real @ 0.25" == results["preregistration"]["primary"]
    tests = results["comparisons"]
    assert tests[0]["role"] == "primary" and "p_holm" not in tests[0] and len(tests[0]["per_seed_difference"]) == 2
    secondary = [t for t in tests if t["role"] == "secondary"]
    assert secondary and all(t["p_holm"] >= t["p"] for t in secondary)
    rows = {(r["arm"], r["real_fraction"]): r for r in results["rows"]}
    assert rows[("derived-map rule", None)]["seeds"] == []
    for key in [("real", 0.25), ("real+classical", 1.0), ("real+unpaired_maps", 0.25)]:
        row = rows[key]
        assert (
            len(row["per_seed_macro_recall"]) == 2 and row["interval"][0] <= row["macro_recall"] <= row["interval"][1]
        )
    text = (root / "out" / "report.html").read_text()
    assert "weak training labels" in text and "derived-map rule" in text


def test_holm_matches_a_hand_computed_example():
    # sorted: 0.005 x4 = 0.02; 0.01 x3 = 0.03; 0.03 x2 = 0.06; 0.04 x1 = 0.04 -> 0.06 (monotone)
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_macro_recall_pools_pixels_within_a_class():
    counts = np.array([[8, 2, 0], [1, 9, 0], [0, 0, 5], [3, 0, 1]])  # 4 polygons, 3 predicted classes
    label_class = np.array([0, 1, 2, 2])
    hits, totals = stats.recall_table(counts, label_class, np.eye(3, dtype=bool))
    macro, per_class = stats.macro_recall(hits, totals, label_class, 3)
    assert per_class == pytest.approx([0.8, 0.9, 6 / 9]) and macro == pytest.approx((0.8 + 0.9 + 6 / 9) / 3)


def test_a_label_field_or_class_that_does_not_fit_fails_with_one_line(world, tmp_path):
    for labels, given, expected in (
        (world["labels"], {"label_field": "name"}, "LABEL_FIELD: 'name' is not a field"),
        (world["labels"], {"label_field": ""}, "LABEL_FIELD: name the field"),
        (tmp_path / "none.gpkg", {}, "LABELS: .* does not exist"),
    ):
        with pytest.raises(UserError, match=expected):
            run(tmp_path / "out", world["dataset"], labels, world["model"], **given)
    assert not (tmp_path / "out" / "results.json").exists()


def _mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_a_resumed_polygon_experiment_redoes_only_the_missing_run_and_keeps_its_generator(world, tmp_path, capsys):
    out = shutil.copytree(world["root"] / "out", tmp_path / "out")  # copies keep their modification times
    lost = "f0.25_all_real_same_maps_s1.json"
    before = json.loads((out / "runs" / lost).read_text())
    (out / "runs" / lost).unlink()
    runs, generators = _mtimes(out / "runs"), _mtimes(out / "generators")
    assert any("model" in name for name in generators) and any(name.endswith(".tif") for name in generators)
    capsys.readouterr()
    results = run(out, world["dataset"], world["labels"], world["model"])
    log = capsys.readouterr().err
    assert "resuming: 19 of 20 runs already finished" in log and "generator of block" not in log
    assert len(results["runs"]) == 20 and not results["runs_missing"]
    now = _mtimes(out / "runs")
    assert set(now) == set(runs) | {lost} and {k: now[k] for k in runs} == runs
    assert _mtimes(out / "generators") == generators, "the generator was retrained or its images regenerated"
    again = json.loads((out / "runs" / lost).read_text())
    assert again["polygon_counts"] == before["polygon_counts"] and again["best_step"] == before["best_step"]


def test_a_generator_fine_tuned_from_model_is_flagged_in_the_log_and_the_report(world, tmp_path, capsys):
    """The base model may have seen the polygons' pixels: the experiment says so (and does not when the
    generators are trained from scratch). MODEL here is a real generator of this dataset's bands and size."""
    base = next((world["root"] / "out" / "generators").glob("*/training/model"))
    capsys.readouterr()
    given = {"generator_from": "model", "real_fractions": "0.25", "seeds": 1, "synthetic": "same_maps"}
    results = run(tmp_path / "out", world["dataset"], world["labels"], base, **given)
    log = capsys.readouterr().err
    lines = [line for line in log.splitlines() if "GENERATOR_FROM=model" in line]  # tqdm may prefix a cursor move
    assert len(lines) == 1 and "WARNING: GENERATOR_FROM=model" in lines[0]
    assert "imagery of the labelled polygons" in lines[0]
    assert "fine-tuning" in log  # the warning is about a generator that really was fine-tuned from MODEL
    assert len(results["warnings"]) == 1 and "imagery of the labelled polygons" in results["warnings"][0]
    assert "GENERATOR_FROM=model" in (tmp_path / "out" / "report.html").read_text()
    assert world["results"]["warnings"] == []
    assert "GENERATOR_FROM" not in (world["root"] / "out" / "report.html").read_text()
