"""DP cuts against brute force, alpha masks and seam metrics."""

import itertools

import numpy as np
import pytest

from mapsynth_backend.mosaic.seams import (
    cut_alpha,
    horizontal_cuts,
    path_cost,
    seam_visibility,
    tile_line_difference,
    tiling_periodicity_db,
    vertical_cuts,
)


def brute_force(cost):
    height, width = cost.shape
    best = np.inf
    for start in range(width):
        for steps in itertools.product((-1, 0, 1), repeat=height - 1):
            x, total, ok = start, cost[0, start], True
            for y, step in enumerate(steps, start=1):
                x += step
                if not 0 <= x < width:
                    ok = False
                    break
                total += cost[y, x]
            if ok:
                best = min(best, total)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_dp_cut_equals_the_brute_force_minimum(seed):
    rng = np.random.default_rng(seed)
    height, width = rng.integers(1, 7), rng.integers(1, 6)
    costs = rng.random((3, height, width)) * rng.choice([1, 100], size=(3, 1, 1))
    paths = vertical_cuts(costs)
    for cost, path in zip(costs, paths, strict=True):
        assert np.all(np.abs(np.diff(path)) <= 1) and path.min() >= 0 and path.max() < width
        assert path_cost(cost, path) == pytest.approx(brute_force(cost))
    for cost, path in zip(costs, horizontal_cuts(np.swapaxes(costs, 1, 2)), strict=True):
        assert path_cost(cost, path) == pytest.approx(brute_force(cost))


def test_cut_follows_a_cheap_valley():
    cost = np.ones((1, 50, 10))
    valley = np.arange(50) // 10 + 3
    cost[0, np.arange(50), valley] = 0
    assert np.array_equal(vertical_cuts(cost)[0], valley)


def test_alpha_is_hard_or_feathered_around_the_cut():
    path = np.array([2, 3, 3])
    hard = cut_alpha(path, 6, 0)
    assert hard.tolist()[0] == [0, 0, 1, 1, 1, 1]
    soft = cut_alpha(path, 6, 4)
    assert ((soft >= 0.5) == (hard == 1)).all() and 0 < soft[0, 1] < 0.5 < soft[0, 3] < 1


def test_seam_metrics_see_a_visible_seam_and_not_an_invisible_one():
    rng = np.random.default_rng(0)
    image = rng.normal(0, 0.01, (1, 512, 512)).cumsum(axis=2) * 0.1 + 0.2
    labels = np.repeat((np.arange(512) // 32)[None, :], 512, axis=0)
    invisible = seam_visibility(image, labels, 32)[0]
    stepped = image + (labels[None] % 2) * 0.05
    visible = seam_visibility(stepped, labels, 32)[0]
    assert 0.5 < invisible < 2.0 and visible > 5 * invisible
    assert tiling_periodicity_db(stepped, 32)[0] > tiling_periodicity_db(image, 32)[0] + 10
    assert tile_line_difference(stepped, 32) > 2 * tile_line_difference(image, 32)
