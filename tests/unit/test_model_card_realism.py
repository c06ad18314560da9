"""The embedded models' cards say how easily a classifier tells their images from real (the realism block that
make bench-realism writes), with numbers that are the BENCHMARKS realism section's, and a targets_met that follows
from those numbers (recomputed here from the card's own values, not read back)."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["mapsynth-demo-pixel-small", "mapsynth-demo-pixel-fewstep"]


def _realism(name: str) -> dict:
    card = json.loads((ROOT / "resources" / "models" / name / "model_card.json").read_text())
    assert "realism" in card.get("held_out_evaluation", {}), f"{name}: no realism block (run make bench-realism)"
    return card["held_out_evaluation"]["realism"]


def _section_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    section = text.split("## Realism: what a discriminator sees", 1)[1].split("<!-- /section -->", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| ")]


@pytest.mark.parametrize("name", MODELS)
def test_the_card_states_realism_on_the_test_patches(name):
    block = _realism(name)
    test = block["c2st"]
    assert block["split"] == "test" and block["patches"] > 0 and block["tiles_per_side"] > 0
    assert 0 <= test["interval_95"][0] <= test["accuracy"] <= test["interval_95"][1] <= 1
    assert set(block["gradient_energy_ratio"]) == {"B02", "B03", "B04", "B08"}
    assert len(block["band_correlation"]) == 6


@pytest.mark.parametrize("name", MODELS)
def test_targets_met_follow_from_the_numbers(name):
    block = _realism(name)
    targets, met = block["targets"], block["targets_met"]
    low, high = targets["gradient_ratio"]
    assert met["c2st"] == (block["c2st"]["accuracy"] <= targets["c2st_accuracy_max"])
    assert met["gradient_ratio"] == sum(low <= r <= high for r in block["gradient_energy_ratio"].values())
    assert met["high_frequency_share"] == sum(
        abs(v["synthetic"] - v["real"]) <= targets["high_frequency_share_within"] * v["real"]
        for v in block["high_frequency_share"].values()
    )
    within = targets["band_correlation_within"]
    assert met["band_correlation"] == sum(
        abs(v["synthetic"] - v["real"]) <= within for v in block["band_correlation"].values()
    )


@pytest.mark.parametrize("name", MODELS)
def test_the_card_is_the_benchmark_row_of_its_own_settings(name):
    """The card's row in BENCHMARKS: same model, steps and sampler, same C2ST and gradient ratios as printed."""
    block = _realism(name)
    c2st = f"{100 * block['c2st']['accuracy']:.1f} %"
    ratios = [f"{block['gradient_energy_ratio'][b]:.2f}" for b in ("B02", "B03", "B04", "B08")]
    rows = [r for r in _section_rows() if r[0].startswith(name) and r[1] == str(block["settings"]["steps"])]
    matching = [r for r in rows if r[3].startswith(c2st) and r[5:9] == ratios]
    assert matching, f"{name}: the card's realism ({c2st}, {ratios}) is not a row of the BENCHMARKS section"
    detail = f"{100 * block['c2st_detail']['accuracy']:.1f} %"  # the classifier on the tiles' detail only
    assert any(r[-1].startswith(detail) for r in matching), f"{name}: C2ST on detail {detail} is not in its row"
    refined = block["settings"]["refiner"] is not None
    assert all(bool(re.search(r"refined", r[0])) == refined for r in matching if "fewstep" in name)


@pytest.mark.parametrize("name", MODELS)
def test_a_card_has_sensor_gains_only_as_packaged_and_valid(name):
    """The student's card carries a sensor transfer function exactly when package_fewstep_model.py's SENSOR_MTF says
    so (the teacher's never: the realism-sensor-mtf section's verdict for it is 'does not meet the rule'); gains a
    card carries are a radial table per band, 1 at zero frequency, inside the fit's clip range."""
    card = json.loads((ROOT / "resources" / "models" / name / "model_card.json").read_text())
    flag = re.search(r"^SENSOR_MTF = (True|False)$", (ROOT / "scripts" / "package_fewstep_model.py").read_text(), re.M)
    section = (ROOT / "docs" / "BENCHMARKS.md").read_text().split("## Realism: the sensor's transfer function", 1)[1]
    section = section.split("<!-- /section -->", 1)[0]
    if name == "mapsynth-demo-pixel-fewstep":
        assert bool(card.get("sensor_mtf")) == (flag.group(1) == "True")
    else:
        assert "- embedded teacher: " in section and not card.get("sensor_mtf")
    spec = card.get("sensor_mtf")
    if spec:
        frequency = spec["frequency"]
        assert frequency[0] == 0 and all(b > a for a, b in zip(frequency, frequency[1:], strict=False))
        assert set(spec["gain"]) == set(card["bands"])
        for gains in spec["gain"].values():
            assert len(gains) == len(frequency) and gains[0] == 1
            assert all(1 / 3 - 1e-4 <= g <= 3 for g in gains)
