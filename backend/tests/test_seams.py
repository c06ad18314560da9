"""DP cuts against brute force, alpha masks and seam metrics."""

import itertools

import numpy as np
import pytest

from mapsynth_backend.mosaic.seams import (
    SeamMeter,
    cut_alpha,
    horizontal_cuts,
    no_cut_range,
    path_cost,
    seam_visibility,
    shifted_labels,
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


def tiled(rng, size=960, stride=48, texture=(0.002, 0.003, 0.004, 0.012)):
    """A 4-band field with large-scale variation, per-band texture (NIR-like: 4-6x) and sharp edges, and the
    label map of a grid of tiles."""
    from scipy.ndimage import gaussian_filter

    smooth = gaussian_filter(rng.normal(0, 1, (4, size, size)), (0, 6, 6))
    smooth /= smooth.std(axis=(1, 2), keepdims=True)
    image = 0.1 + 0.02 * smooth + rng.normal(0, 1, (4, size, size)) * np.array(texture)[:, None, None]
    image[:, :, size // 3 :] += np.array([0.0, 0.01, -0.02, 0.25])[:, None, None]  # a coastline
    rows, cols = np.indices((size, size)) // stride
    return image, rows * 100 + cols


def with_offsets(image, labels, rng, amplitude):
    offsets = rng.choice([-amplitude, amplitude], size=labels.max() + 1)
    return image + offsets[labels][None]


def test_visibility_is_one_without_seams_and_reacts_alike_in_every_band():
    """Item 4: ±0.003 reflectance per tile shows in every band, also one with four times the texture."""
    rng = np.random.default_rng(1)
    image, labels = tiled(rng)
    clean = seam_visibility(image, labels, 48)
    assert np.allclose(clean, 1.0, atol=0.05), clean
    offset = with_offsets(image, labels, rng, 0.003)
    stepped = seam_visibility(offset, labels, 48)
    content = no_cut_range(offset, labels, 48)[1]  # the same image's index on lines without a cut
    assert all(s > c for s, c in zip(stepped, content, strict=True)), (stepped, content)


def test_periodicity_is_about_zero_without_seams_at_any_stride_and_rises_with_offsets():
    """Item 2: a seam-free image scores about 0 dB whatever stride it is measured at; tile offsets raise it in
    every band, also the one with four times the texture. (Over 8 such fields and 4 strides the seam-free
    scores had a standard deviation of 0.6-1.2 dB per band, so 3 dB is about three of them.)"""
    rng = np.random.default_rng(2)
    image, labels = tiled(rng)
    for stride in (32, 40, 48, 64):
        assert np.abs(tiling_periodicity_db(image, stride)).max() < 3.0, stride
    clean = tiling_periodicity_db(image, 48)
    stepped = tiling_periodicity_db(with_offsets(image, labels, rng, 0.003), 48)
    # above the same band's seam-free score by more than three of those standard deviations (3 dB)
    assert all(s > c + 3.0 for s, c in zip(stepped, clean, strict=True)), (stepped, clean)


def test_streamed_strips_give_the_whole_images_numbers_and_count_seams_on_strip_boundaries():
    """Item 3: seams lying exactly on the boundaries between the blocks fed (as assemble's 48-row strips) are
    counted; any block size gives the numbers of the whole image."""
    rng = np.random.default_rng(3)
    image, labels = tiled(rng)
    rows_only = np.indices(labels.shape)[0] // 48  # horizontal seams only, at rows 48, 96, ... = strip edges
    stepped = with_offsets(image, rows_only, rng, 0.003)
    whole = SeamMeter(4, image.shape[2], 48)
    whole.add(stepped, rows_only)
    for block in (48, 37, 200):
        meter = SeamMeter(4, image.shape[2], 48)
        for top in range(0, image.shape[1], block):
            meter.add(stepped[:, top : top + block], rows_only[top : top + block])
        assert np.allclose(meter.visibility(), whole.visibility()) and min(meter.visibility()) > 1.3
        assert np.allclose(meter.periodicity_db(), whole.periodicity_db())
        assert np.isfinite(meter.periodicity_db()).all()
    assert min(whole.periodicity_db()) > 3.0


def test_no_cut_range_brackets_content_and_a_real_seam_rises_above_it():
    """On lines without a cut the index is what content gives: a seamless image's cuts lie inside that range, a
    +-0.003 step between tiles lies above it in every band."""
    rng = np.random.default_rng(2)
    image, labels = tiled(rng, size=480)
    low, high = no_cut_range(image, labels, 48)
    clean = seam_visibility(image, labels, 48)
    assert all(lo - 0.05 <= c <= hi + 0.05 for lo, c, hi in zip(low, clean, high, strict=True)), (low, clean, high)
    stepped = with_offsets(image, labels, rng, 0.003)
    visible = seam_visibility(stepped, labels, 48)
    low, high = no_cut_range(stepped, labels, 48)
    assert all(v > hi for v, hi in zip(visible, high, strict=True)), (visible, high)


def test_shifted_labels_move_the_boundaries_and_keep_nodata():
    labels = np.repeat(np.repeat(np.arange(4).reshape(2, 2), 4, axis=0), 4, axis=1)
    labels[5, 5] = -1  # a nodata pixel of the mosaic stays nodata whatever the shift
    moved = shifted_labels(labels, 1, 2)
    assert (moved[0] == -1).all() and (moved[:, :2] == -1).all()
    expected = labels[:-1, :-2].copy()
    expected[4, 3] = -1  # (5, 5) in the moved raster
    assert np.array_equal(moved[1:, 2:], expected)
    assert moved[5, 5] == -1 and (moved != -1).sum() == 7 * 6 - 2
