"""Minimum-error boundary cuts and seam-quality metrics, on plain arrays (the evaluation reuses them).

Cuts are found by dynamic programming over the overlap error, vectorised across many overlaps at once
(O(overlap area) per cut, one Python-level loop per overlap row). A vertical cut is a path x(y) with
|x(y+1) - x(y)| <= 1; pixels at or right of the path belong to the new patch.
"""

from __future__ import annotations

import numpy as np


def vertical_cuts(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost top-to-bottom paths through ``cost`` (N, H, W) -> x positions (N, H).

    Forward pass over rows of cumulative costs laid out (H, N, W + 2) with infinite borders, so each row is
    three contiguous array operations for all N overlaps at once; backtracking picks, row by row, the cheapest
    of x - 1, x, x + 1 (ties: x - 1 first) for all N paths at once.
    """
    cost = np.asarray(cost)
    dtype = np.float32 if cost.dtype == np.float32 else np.float64
    n, height, width = cost.shape
    by_row = np.ascontiguousarray(cost.transpose(1, 0, 2), dtype=dtype)
    totals = np.full((height, n, width + 2), np.inf, dtype)
    totals[0, :, 1:-1] = by_row[0]
    for y in range(1, height):
        previous, row = totals[y - 1], totals[y, :, 1:-1]
        np.minimum(previous[:, :-2], previous[:, 1:-1], out=row)
        np.minimum(row, previous[:, 2:], out=row)
        row += by_row[y]
    path = np.empty((n, height), np.int64)
    path[:, -1] = np.argmin(totals[-1, :, 1:-1], axis=1)
    rows = np.arange(n)[:, None]
    offsets = np.array([0, 1, 2])  # padded indices of x - 1, x, x + 1 relative to x
    for y in range(height - 2, -1, -1):
        options = path[:, y + 1, None] + offsets
        path[:, y] = path[:, y + 1] - 1 + np.argmin(totals[y][rows, options], axis=1)
    return path


def horizontal_cuts(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost left-to-right paths through ``cost`` (N, H, W) -> y positions (N, W)."""
    return vertical_cuts(np.swapaxes(cost, 1, 2))


def path_cost(cost: np.ndarray, path: np.ndarray) -> float:
    return float(cost[np.arange(len(path)), path].sum())


def cut_alpha(path: np.ndarray, length: int, feather: float) -> np.ndarray:
    """Weight of the new patch across an overlap of ``length`` px for a vertical cut (H,) -> (H, length).

    feather 0 gives a hard seam (1 at and right of the path); otherwise a linear ramp ``feather`` px wide
    centred on the cut, so labels (alpha >= 0.5) still follow the cut exactly.
    """
    x = np.arange(length)[None, :]
    if feather <= 0:
        return (x >= path[:, None]).astype(np.float32)
    return np.clip((x - path[:, None] + 0.5) / feather + 0.5, 0, 1).astype(np.float32)


def seam_visibility(values: np.ndarray, labels: np.ndarray, stride: int, nodata_label: int = -1) -> list[float]:
    """Per band: mean |difference| across seams / the same at interior lines shifted by half a stride.

    ``values`` (bands, H, W), ``labels`` (H, W). Seams are neighbouring pixels with different labels; each seam
    pair is matched with the pair ``stride // 2`` further along the same axis inside one label. 1.0 = invisible.
    """
    return visibility_from_sums(seam_sums(values, labels, stride, nodata_label))


def visibility_from_sums(sums: list[tuple[float, int, float, int]]) -> list[float]:
    return [
        float("nan") if not sn or not inn or not isum else (ssum / sn) / (isum / inn) for ssum, sn, isum, inn in sums
    ]


def seam_sums(values: np.ndarray, labels: np.ndarray, stride: int, nodata_label: int = -1):
    """Per band (seam |diff| sum, seam pairs, interior |diff| sum, interior pairs): additive over strips."""
    shift = max(1, stride // 2)
    result = []
    for band in values:
        seam_sum = interior_sum = 0.0
        seam_n = interior_n = 0
        for axis in (1, 0):
            a = np.moveaxis(band, axis, -1)
            lab = np.moveaxis(labels, axis, -1)
            diff = np.abs(a[..., 1:] - a[..., :-1])
            valid = (lab[..., 1:] != nodata_label) & (lab[..., :-1] != nodata_label) & np.isfinite(diff)
            seam = valid & (lab[..., 1:] != lab[..., :-1])
            same = valid & (lab[..., 1:] == lab[..., :-1])
            matched = np.zeros_like(seam)
            matched[..., :-shift] = seam[..., :-shift] & same[..., shift:]
            seam_sum += float(diff[matched].sum())
            seam_n += int(matched.sum())
            interior = np.zeros_like(seam)
            interior[..., shift:] = matched[..., :-shift]
            interior_sum += float(diff[interior].sum())
            interior_n += int(interior.sum())
        result.append((seam_sum, seam_n, interior_sum, interior_n))
    return result


def profile_peak_db(profile: np.ndarray, stride: int) -> float:
    """Power of a gradient profile at the tiling frequency and its harmonics over the median power, in dB."""
    profile = np.nan_to_num(profile - np.nanmean(profile))
    if profile.size < 3 * stride:
        return float("nan")
    power = np.abs(np.fft.rfft(profile)) ** 2
    freqs = np.fft.rfftfreq(profile.size)
    peaks = [int(np.argmin(np.abs(freqs - k / stride))) for k in (1, 2, 3) if k / stride < 0.5]
    background = float(np.median(power[1:])) or 1e-12
    return float(10 * np.log10(max(power[p] for p in peaks) / background + 1e-12))


def tiling_periodicity_db(values: np.ndarray, stride: int) -> list[float]:
    """Per band: power of the mean |gradient| profile at the tiling frequency (and its harmonics) over the
    median background power, in dB, the worse of the two axes. About 0 dB = no periodic seam pattern."""
    result = []
    for band in values:
        peaks = [
            profile_peak_db(np.nanmean(np.abs(np.diff(band, axis=1 - axis)), axis=axis), stride) for axis in (0, 1)
        ]
        result.append(float(np.nanmax(peaks)) if np.isfinite(peaks).any() else float("nan"))
    return result


def tile_line_difference(values: np.ndarray, stride: int, offset: int = 0) -> float:
    """Mean |difference| between neighbouring pixels across the lines x, y = offset + k * stride (all bands)."""
    total, count = 0.0, 0
    for axis in (1, 2):
        length = values.shape[axis]
        lines = np.arange(offset + stride, length, stride)
        if not len(lines):
            continue
        before = np.take(values, lines - 1, axis=axis)
        after = np.take(values, lines, axis=axis)
        diff = np.abs(after - before)
        total += float(np.nansum(diff))
        count += int(np.isfinite(diff).sum())
    return total / count if count else float("nan")
