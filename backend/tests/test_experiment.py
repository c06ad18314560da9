"""The augmentation experiment measures something real: synthetic copies of the real pairs score like real,
noise scores worse at the smallest fraction, the seed changes the numbers, no test patch enters any arm, a killed
experiment resumes; and evaluate's map adherence with the segmenter the experiment writes."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

sys.path.insert(0, str(Path(__file__).parent))

from experiment_fixtures import SIZE, fill_synthetic, make_model_card, make_split_dataset, map_raster  # noqa: E402

from mapsynth_backend.evaluate.command import COMMANDS as EVALUATE  # noqa: E402
from mapsynth_backend.experiment.command import COMMANDS  # noqa: E402
from mapsynth_backend.runtime.protocol import ConsoleReporter  # noqa: E402

FAST = {"steps": 40, "batch_size": 8, "threads": 1, "variations": 1}


def run_experiment(out: Path, dataset: Path, model: Path, synthetic_dir: Path, **given) -> dict:
    params = COMMANDS[0].resolve(
        {"dataset": str(dataset), "model": str(model), "synthetic_dir": str(synthetic_dir), "output_dir": str(out)}
        | FAST
        | given
    )
    result = COMMANDS[0].run(params, ConsoleReporter(json_result=False))
    return json.loads(Path(result["results"]).read_text())


def summary(results: dict) -> dict[tuple[str, float], dict]:
    return {(s["arm"], s["real_fraction"]): s for s in results["summary"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiment")
    dataset = make_split_dataset(root / "dataset")
    model = make_model_card(root / "model")
    copy_dir = fill_synthetic(dataset, root / "copy", "copy")
    copies = run_experiment(root / "copies", dataset, model, copy_dir, real_fractions="0.2,1.0", seeds=2)
    noise = run_experiment(
        root / "noise",
        dataset,
        model,
        fill_synthetic(dataset, root / "noise-images", "noise"),
        real_fractions="0.2",
        seeds=2,
        synthetic="same_maps",
    )
    return {"root": root, "dataset": dataset, "model": model, "copies": copies, "noise": noise}


def test_copies_of_the_real_pairs_score_like_real(world):
    found = summary(world["copies"])
    for fraction in (0.2, 1.0):
        real = found[("real", fraction)]["miou"]
        assert real > 0.6, "the segmenter must learn the task for the comparison to mean anything"
        assert abs(found[("synthetic_only", fraction)]["miou"] - real) < 0.05
        assert abs(found[("real+same_maps", fraction)]["miou"] - real) < 0.05
    assert ("real+unpaired_maps", 1.0) not in found  # nothing is withheld at fraction 1
    assert abs(found[("real+unpaired_maps", 0.2)]["miou"] - found[("real", 0.2)]["miou"]) < 0.05


def test_noise_as_synthetic_imagery_scores_worse_at_the_smallest_fraction(world):
    noise, copies = summary(world["noise"]), summary(world["copies"])
    real = noise[("real", 0.2)]["miou"]
    assert noise[("synthetic_only", 0.2)]["miou"] < real - 0.3
    assert noise[("synthetic_only", 0.2)]["miou"] < copies[("synthetic_only", 0.2)]["miou"] - 0.3


def test_the_seed_changes_the_numbers(world):
    runs = [r for r in world["copies"]["runs"] if r["arm"] == "real" and r["real_fraction"] == 0.2]
    assert sorted(r["seed"] for r in runs) == [0, 1]
    first, second = (json.dumps(r["per_class"], sort_keys=True) for r in runs)
    assert first != second
    assert summary(world["copies"])[("real", 0.2)]["miou_std"] > 0


def test_no_test_patch_enters_any_arm_and_fractions_are_nested_contiguous_blocks(world):
    dataset = world["dataset"]

    def ids(split):
        return {json.loads(line)["patch_id"] for line in (dataset / split / "metadata.jsonl").read_text().splitlines()}

    train, test = ids("train"), ids("test")
    for run in world["copies"]["runs"] + world["noise"]["runs"]:
        seen = set(run["train_patches"]) | set(run["synthetic_map_patches"])
        assert seen <= train and not seen & test, run["arm"]
    real = {r["real_fraction"]: set(r["train_patches"]) for r in world["copies"]["runs"] if r["arm"] == "real"}
    assert real[0.2] < real[1.0] == train
    cells = {tuple(int(part[1:]) for part in pid.split("_")) for pid in real[0.2]}
    assert len(cells) == round(0.2 * len(train))
    for row, col in cells:  # one block: every cell touches another cell of the block
        assert {(row + 1, col), (row - 1, col), (row, col + 1), (row, col - 1)} & cells
    unpaired = next(r for r in world["copies"]["runs"] if r["arm"] == "real+unpaired_maps")
    assert set(unpaired["synthetic_map_patches"]) == train - real[0.2]


def test_results_and_report_are_written(world):
    out = world["root"] / "copies"
    results = world["copies"]
    assert {"real_fraction", "synthetic", "seed", "miou", "per_class"} <= set(results["runs"][0])
    assert set(results["runs"][0]["per_class"]) == {"water", "residential_building", "grass"}
    text = (out / "report.html").read_text()
    assert "Learning curve" in text and "data:image/png;base64," in text
    assert "labels come from the imagery itself" in text  # the derived-label mode says what it measures
    assert (out / "learning_curve.png").stat().st_size > 1000
    card = json.loads((out / "segmenter" / "segmenter_card.json").read_text())
    assert card["bands"] == ["B02", "B03", "B04", "B08"] and len(card["classes"]) == 3


@pytest.mark.slow
def test_a_killed_experiment_continues_with_the_runs_it_has_not_finished(world, tmp_path, backend_cmd):
    root, dataset = world["root"], world["dataset"]
    args = [
        *backend_cmd,
        "augmentation-experiment",
        *("--dataset", str(dataset), "--model", str(world["model"]), "--synthetic-dir", str(root / "copy")),
        *("--real-fractions", "0.2,1.0", "--seeds", "1", "--steps", "40", "--batch-size", "8", "--threads", "1"),
        *("--variations", "1", "--output-dir", str(tmp_path / "out"), "--log-file", str(tmp_path / "log")),
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    runs = tmp_path / "out" / "runs"
    deadline = time.monotonic() + 600  # generous: two short runs on shared cores
    try:  # killed on the event (the second finished run), not after a time that a busy machine can overrun
        while len(list(runs.glob("*.json"))) < 2:
            assert process.poll() is None, f"the experiment ended (code {process.returncode}) before it was killed"
            assert time.monotonic() < deadline, "no two runs finished within 600 s"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already: the assertion above says why
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")}
    assert 2 <= len(finished) < 7 and not (tmp_path / "out" / "results.json").exists()
    partial = subprocess.run([*args, "--report-only"], capture_output=True, text=True, timeout=300, check=False)
    assert partial.returncode == 0, partial.stderr[-2000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(results["runs"]) == len(finished) and len(results["runs_missing"]) == 7 - len(finished)
    assert "have not finished yet" in (tmp_path / "out" / "report.html").read_text()
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming: {len(finished)} of 7 runs already finished" in done.stderr
    assert {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json") if p.name in finished} == finished
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())["runs"]) == 7


def _noise_like(path: Path, like: str) -> str:
    from mapsynth_backend.radiometry import set_band_encoding

    with rasterio.open(like) as src:
        profile = src.profile
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.random.default_rng(1).integers(1000, 6000, (4, SIZE, SIZE)).astype("uint16"))
        set_band_encoding(dst, ["B02", "B03", "B04", "B08"])
    return str(path)


def test_evaluate_scores_map_adherence_against_the_real_ceiling(world, tmp_path):
    dataset, segmenter = world["dataset"], world["root"] / "copies" / "segmenter"
    real, map_path = map_raster(dataset, tmp_path / "map.tif")
    scores = {}
    for name, synthetic in (("copy", real), ("noise", _noise_like(tmp_path / "noise.tif", real))):
        params = EVALUATE[0].resolve(
            {"synthetic": synthetic, "real": real, "map": map_path, "segmenter": str(segmenter)}
            | {"output_dir": str(tmp_path / name)}
        )
        EVALUATE[0].run(params, ConsoleReporter(json_result=False))
        scores[name] = json.loads((tmp_path / name / "metrics.json").read_text())["map_adherence"]
        assert "Map adherence" in (tmp_path / name / "report.html").read_text()
    ceiling = scores["copy"]["real_ceiling"]["miou"]
    assert ceiling > 0.6
    assert scores["copy"]["synthetic"]["miou"] == ceiling
    assert scores["noise"]["synthetic"]["miou"] < ceiling - 0.3
    assert set(scores["noise"]["synthetic"]["per_class"]) == {"water", "grass", "residential_building"}
