"""The intervals and paired comparisons of the polygon-scored experiment (experiment/stats.py) against answers
known without it: degenerate data whose interval is a single point, the coverage and width of the cluster
bootstrap on simulated polygons whose true recall is known, and a paired comparison whose mean difference is
computed here by hand and whose p-value agrees with the normal approximation and with scipy's paired t-test."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from mapsynth_backend.experiment import stats


def _macro_by_hand(hits: np.ndarray, totals: np.ndarray, label_class: np.ndarray, n_labels: int) -> float:
    per_class = []
    for c in range(n_labels):
        members = [i for i in range(len(label_class)) if label_class[i] == c]
        per_class.append(sum(hits[i] for i in members) / sum(totals[i] for i in members))
    return sum(per_class) / n_labels


def test_the_interval_of_data_that_every_resample_reproduces_is_a_point():
    # three polygons per class, all of a class with the same recall (0.8 and 0.25): every resample has the same
    # macro recall (0.8 + 0.25) / 2; two seeds (0.525 and, with class 1 at 0.75, 0.775) average to 0.65
    label_class = np.array([0, 0, 0, 1, 1, 1])
    totals = np.array([[10, 20, 5, 4, 8, 12], [10, 20, 5, 4, 8, 12]], float)
    hits = np.array([[8, 16, 4, 1, 2, 3], [8, 16, 4, 3, 6, 9]], float)
    low, high = stats.bootstrap_interval(hits[:1], totals[:1], label_class, 2, draws=500, seed=0)
    assert low == pytest.approx(0.525, abs=1e-12) and high == pytest.approx(0.525, abs=1e-12)
    low, high = stats.bootstrap_interval(hits, totals, label_class, 2, draws=500, seed=0)
    assert low == pytest.approx(0.65, abs=1e-12) and high == pytest.approx(0.65, abs=1e-12)


def _simulate(rng, per_class: int, truth=(0.7, 0.5, 0.85)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hits, totals, label_class) of one seed: per polygon a recall drawn around the class's truth (polygons
    differ), 100 pixels each, so the pooled class recall's expectation is the truth."""
    label_class = np.repeat(np.arange(len(truth)), per_class)
    recall = np.clip(np.array(truth)[label_class] + rng.normal(0, 0.15, len(label_class)), 0, 1)
    totals = np.full(len(label_class), 100.0)
    return rng.binomial(100, recall).astype(float)[None], totals[None], label_class


def test_the_cluster_bootstrap_covers_the_true_macro_recall_and_its_width_follows_the_polygon_count():
    truth = (0.7, 0.5, 0.85)
    rng = np.random.default_rng(0)
    covered, trials = 0, 150
    for trial in range(trials):
        hits, totals, label_class = _simulate(rng, 25, truth)
        low, high = stats.bootstrap_interval(hits, totals, label_class, 3, draws=400, seed=trial)
        covered += low <= np.mean(truth) <= high
    assert 0.85 <= covered / trials <= 0.99, covered / trials  # nominal 95 %

    hits, totals, label_class = _simulate(np.random.default_rng(1), 40, truth)
    low, high = stats.bootstrap_interval(hits, totals, label_class, 3, draws=4000, seed=0)
    estimate = _macro_by_hand(hits[0], totals[0], label_class, 3)
    assert low < estimate < high
    # the standard error of a mean of per-class means of equal-size polygons, by formula
    recall = hits[0] / totals[0]
    se = np.sqrt(sum(recall[label_class == c].var(ddof=1) / 40 for c in range(3))) / 3
    assert (high - low) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.15)
    more = _simulate(np.random.default_rng(2), 160, truth)
    low4, high4 = stats.bootstrap_interval(*more, 3, draws=4000, seed=0)
    assert (high4 - low4) / (high - low) == pytest.approx(0.5, abs=0.12), "4x the polygons: half the width"


def test_a_constant_paired_difference_has_a_point_interval_whatever_the_seed_to_seed_spread():
    # one polygon per class, so only the seeds are resampled; arm A is arm B plus 0.1 recall in class 0 on every
    # seed, while the seeds themselves differ a lot: pairing leaves a difference of exactly 0.05 every time
    label_class = np.array([0, 1])
    base = np.array([[20, 30], [60, 70], [40, 10], [90, 50], [10, 80]], float)
    totals = np.full_like(base, 100.0)
    a, b = (base + [10, 0], totals), (base, totals)
    draws = 999
    result = stats.paired_comparison(a, b, label_class, 2, draws=draws, seed=0)
    assert result["difference"] == pytest.approx(0.05, abs=1e-12)
    assert result["per_seed_difference"] == pytest.approx([0.05] * 5, abs=1e-12)
    assert result["interval"] == pytest.approx([0.05, 0.05], abs=1e-12)
    assert result["p"] == pytest.approx(2 / (draws + 1))  # no resample at or below 0: the smallest possible p
    assert result["seeds_a_better"] == 5 and result["seeds"] == 5


def test_a_difference_that_varies_between_polygons_only_gets_its_interval_from_the_polygons():
    # three identical seeds, so resampling seeds changes nothing; 20 equal-size polygons per class whose
    # difference varies: the interval is the polygon bootstrap's, about +-1.96 standard errors of a mean of means
    rng = np.random.default_rng(4)
    label_class = np.repeat([0, 1], 20)
    b_hits = rng.integers(20, 80, 40).astype(float)
    gain = rng.integers(-10, 21, 40).astype(float)
    totals = np.full((3, 40), 100.0)
    a, b = (np.tile(b_hits + gain, (3, 1)), totals), (np.tile(b_hits, (3, 1)), totals)
    result = stats.paired_comparison(a, b, label_class, 2, draws=4000, seed=0)
    diff = gain / 100
    assert result["difference"] == pytest.approx((diff[:20].mean() + diff[20:].mean()) / 2, abs=1e-12)
    se = np.sqrt(diff[:20].var() / 20 + diff[20:].var() / 20) / 2
    low, high = result["interval"]
    assert (high - low) / (2 * 1.96 * se) == pytest.approx(1.0, abs=0.2), (low, high, se)


def test_a_paired_comparison_matches_the_hand_computed_difference_and_the_paired_t_test():
    rng = np.random.default_rng(3)
    seeds, label_class = 40, np.array([0, 0, 1, 1, 2])
    totals = rng.integers(50, 150, (seeds, 5)).astype(float)
    recall_b = np.clip(rng.uniform(0.3, 0.8, (seeds, 1)) + rng.normal(0, 0.05, (seeds, 5)), 0, 1)
    effect = rng.normal(0.012, 0.03, (seeds, 1)) + rng.normal(0, 0.01, (seeds, 5))  # per seed, per polygon
    recall_a = np.clip(recall_b + effect, 0, 1)
    a, b = (np.round(recall_a * totals), totals), (np.round(recall_b * totals), totals)
    macro_a = [_macro_by_hand(a[0][s], totals[s], label_class, 3) for s in range(seeds)]
    macro_b = [_macro_by_hand(b[0][s], totals[s], label_class, 3) for s in range(seeds)]
    differences = np.subtract(macro_a, macro_b)

    result = stats.paired_comparison(a, b, label_class, 3, draws=4000, seed=0)
    assert result["difference"] == pytest.approx(differences.mean(), abs=1e-12)
    assert result["per_seed_difference"] == pytest.approx(differences.tolist(), abs=1e-12)
    assert result["seeds_a_better"] == int((differences > 0).sum())
    t_test = scipy_stats.ttest_rel(macro_a, macro_b)
    assert 0.001 < t_test.pvalue < 0.05, "the data must give a clear but not overwhelming difference"
    # the bootstrap also resamples polygons, so its spread is at least the seeds' spread: its p is not far below
    # the t-test's, and of the same order
    assert t_test.pvalue / 3 < result["p"] < t_test.pvalue * 3, (result["p"], t_test.pvalue)
    low, high = result["interval"]
    half = scipy_stats.t.ppf(0.975, seeds - 1) * differences.std(ddof=1) / np.sqrt(seeds)
    assert low < differences.mean() < high and 0.8 < (high - low) / (2 * half) < 1.6
    swapped = stats.paired_comparison(b, a, label_class, 3, draws=4000, seed=0)
    assert swapped["difference"] == pytest.approx(-result["difference"]) and swapped["p"] == result["p"]
