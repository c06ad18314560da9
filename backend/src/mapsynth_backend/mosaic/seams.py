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


WINDOW = 16  # px along a seam (or a gradient line) over which signed steps are averaged: texture cancels, a step stays


class SeamMeter:
    """Seam visibility and tiling periodicity of a raster fed as consecutive blocks of rows: ``assemble`` feeds
    its strips as it writes them, ``evaluate`` the whole image at once, and both get the same numbers (pairs of
    rows across block boundaries are kept, so no seam falls between blocks).

    Visibility (per band): every pair of neighbours across a seam (labels differ) is matched with the pair
    ``stride // 2`` further on inside the same label. Signed differences are normalised per band: clipped at
    the band's robust spread of interior differences (1.4826 x median |difference|), so an edge such as a
    coastline counts no more than one typical step in any band; then averaged over ``WINDOW`` px along each
    seam (per pair of labels), so texture cancels and a step between tiles remains. Index = mean |averaged
    seam step| / mean |averaged interior step|; 1.0 = invisible. Seam pairs are kept (32 bytes each) until
    :meth:`visibility`.

    Periodicity (per band): the profile, across columns and across rows, of the mean square of the sign of the
    gradient averaged over ``WINDOW`` px along the line. The sign is scale-free (an edge counts no more than
    any step, NIR's strong texture is just noise), and a step between tiles biases every sign along a seam the
    same way while texture averages out over the whole image length. Power of that profile at the tiling
    frequency and its harmonics over the power of the neighbouring frequencies, per axis, averaged over both, in
    dB. A seam-free image scores about 0 dB at any stride.
    """

    def __init__(self, bands: int, width: int, stride: int, nodata_label: int = -1) -> None:
        self.bands, self.stride, self.nodata = bands, stride, nodata_label
        self.shift = max(1, stride // 2)
        self.pairs: dict[tuple[int, int, int], list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.col_sum = np.zeros((bands, width - 1))
        self.col_n = np.zeros((bands, width - 1))
        self.row_profile: list[np.ndarray] = []  # per pair of consecutive rows, per band
        self.carry: tuple[np.ndarray, np.ndarray] | None = None  # rows still needed by uncounted row pairs
        self.carry_start = 0  # global index of the first carried row
        self.next_pair = 0  # row pairs (r, r + 1) with r below this are counted
        self.rows_seen = 0
        self.dx_carry = np.zeros((bands, 0, width - 1))  # last WINDOW - 1 rows of column differences

    def add(self, values: np.ndarray, labels: np.ndarray) -> None:
        """Next rows: ``values`` (bands, h, W) float with NaN for nodata, ``labels`` (h, W)."""
        values = np.asarray(values, np.float64)
        dx = np.concatenate([self.dx_carry, np.diff(values, axis=2)], axis=1)
        local = _window_means(np.sign(dx), axis=1)
        self.col_sum += np.nansum(local**2, axis=1)
        self.col_n += np.isfinite(local).sum(axis=1)
        self.dx_carry = dx[:, dx.shape[1] - min(WINDOW - 1, dx.shape[1]) :]
        self._pairs(values, labels, 2, 0, self.rows_seen)
        self.rows_seen += values.shape[1]
        if self.carry is not None:
            values = np.concatenate([self.carry[0], values], axis=1)
            labels = np.concatenate([self.carry[1], labels], axis=0)
        origin = self.carry_start
        local = _window_means(np.sign(np.diff(values, axis=1)), axis=2) ** 2
        with np.errstate(all="ignore"):
            for i in range(len(self.row_profile) - origin, local.shape[1]):
                self.row_profile.append(np.nanmean(local[:, i], axis=1))
        self.next_pair = origin + self._pairs(values, labels, 1, self.next_pair - origin, 0)
        keep = self.next_pair - origin
        self.carry, self.carry_start = (values[:, keep:], labels[keep:]), self.next_pair

    def _pairs(self, values: np.ndarray, labels: np.ndarray, axis: int, first: int, origin: int) -> int:
        """Keep the seam pairs along ``axis`` (2: across columns, 1: across rows) from pair index ``first`` on,
        as far as their interior partner lies in the block, with their position along the seam; returns the
        index of the first pair not kept."""
        shift = self.shift
        a = np.moveaxis(values, axis, -1)
        lab = np.moveaxis(labels, axis - 1, -1)
        last = a.shape[-1] - 1 - shift
        if last <= first:
            return first
        diff = a[..., 1:] - a[..., :-1]
        lab_a, lab_b = lab[..., :-1], lab[..., 1:]
        valid = (lab_a != self.nodata) & (lab_b != self.nodata) & np.isfinite(diff).all(axis=0)
        matched = np.zeros_like(valid)
        matched[..., first:last] = (valid & (lab_a != lab_b))[..., first:last] & (valid & (lab_a == lab_b))[
            ..., first + shift : last + shift
        ]
        index = np.nonzero(matched)
        if not len(index[0]):
            return last
        inner = (*index[:-1], index[-1] + shift)
        along = index[0] + origin  # position along the seam: a global row for vertical seams
        keys = np.stack([lab_a[index], lab_b[index]], axis=1).astype(np.int64)
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
        seam, interior = diff[(slice(None), *index)].astype(np.float32), diff[(slice(None), *inner)].astype(np.float32)
        for k, (la, lb) in enumerate(unique.tolist()):
            sel = order[bounds[k] : bounds[k + 1]]
            self.pairs.setdefault((axis, la, lb), []).append((along[sel], seam[:, sel], interior[:, sel]))
        return last

    def visibility(self) -> list[float]:
        if not self.pairs:
            return [float("nan")] * self.bands
        groups = []
        for pieces in self.pairs.values():
            along = np.concatenate([p[0] for p in pieces])
            order = np.argsort(along, kind="stable")
            groups.append(
                (
                    np.concatenate([p[1] for p in pieces], 1)[:, order],
                    np.concatenate([p[2] for p in pieces], 1)[:, order],
                )
            )
        interior = np.concatenate([g[1] for g in groups], axis=1)
        spread = 1.4826 * np.median(np.abs(interior), axis=1)
        spread = np.where(spread > 0, spread, 1.2533 * np.mean(np.abs(interior), axis=1))[:, None]
        seam_total = inner_total = np.zeros(self.bands)
        for seam, inner in groups:
            seam_total = seam_total + np.abs(_run_mean(np.clip(seam, -spread, spread))).sum(axis=1)
            inner_total = inner_total + np.abs(_run_mean(np.clip(inner, -spread, spread))).sum(axis=1)
        return [float(s / i) if i > 0 else float("nan") for s, i in zip(seam_total, inner_total, strict=True)]

    def periodicity_db(self) -> list[float]:
        with np.errstate(all="ignore"):
            cols = self.col_sum / self.col_n
        rows = np.array(self.row_profile).T if self.row_profile else np.zeros((self.bands, 0))
        result = []
        for b in range(self.bands):
            # each axis as its own ratio (their profiles differ in power), then the mean of the two
            ratios = [p / bg for p, bg in (harmonic_power(cols[b], self.stride), harmonic_power(rows[b], self.stride))]
            ratios = [r for r in ratios if np.isfinite(r)]
            result.append(float(10 * np.log10(np.mean(ratios))) if ratios else float("nan"))
        return result


def _run_mean(steps: np.ndarray) -> np.ndarray:
    """Means of ``WINDOW`` consecutive steps along a seam (bands, n); a shorter seam gives its one mean."""
    if steps.shape[1] <= WINDOW:
        return steps.mean(axis=1, keepdims=True)
    total = np.cumsum(np.pad(steps, ((0, 0), (1, 0))), axis=1, dtype=np.float64)
    return (total[:, WINDOW:] - total[:, :-WINDOW]) / WINDOW


def _window_means(diff: np.ndarray, axis: int) -> np.ndarray:
    """Trailing means of ``WINDOW`` values along ``axis`` (NaN where a window holds nodata); fewer values
    than a window give none."""
    diff = np.moveaxis(diff, axis, -1)
    if diff.shape[-1] < WINDOW:
        return np.moveaxis(np.zeros((*diff.shape[:-1], 0)), -1, axis)
    finite = np.isfinite(diff)
    pad = [(0, 0)] * (diff.ndim - 1) + [(1, 0)]
    total = np.cumsum(np.pad(np.where(finite, diff, 0.0), pad), axis=-1)
    count = np.cumsum(np.pad(finite, pad), axis=-1)
    sums, counts = total[..., WINDOW:] - total[..., :-WINDOW], count[..., WINDOW:] - count[..., :-WINDOW]
    return np.moveaxis(np.where(counts == WINDOW, sums / WINDOW, np.nan), -1, axis)


def harmonic_power(profile: np.ndarray, stride: int, width: int = 4) -> tuple[float, float]:
    """Power of a profile at the tiling frequency and its harmonics, and what the neighbouring frequencies (1 to
    ``width`` bins away) predict for them. The profile is cut to whole periods, so every harmonic falls on one
    bin and a seam pattern's power is not spread by a window."""
    profile = np.nan_to_num(np.asarray(profile, np.float64), nan=float(np.nanmean(profile)) if len(profile) else 0)
    periods = profile.size // stride
    if periods < 6:
        return float("nan"), float("nan")
    profile = profile[: periods * stride]
    power = np.abs(np.fft.rfft(profile - profile.mean())) ** 2
    peak = background = 0.0
    for centre in range(periods, periods * ((stride - 1) // 2) + 1, periods):
        ring = [b for j in range(1, width + 1) for b in (centre - j, centre + j) if 0 < b < power.size]
        peak += float(power[centre])
        background += float(power[ring].mean())
    return (peak, background) if background > 0 else (float("nan"), float("nan"))


def shifted_labels(labels: np.ndarray, dy: int, dx: int, nodata_label: int = -1) -> np.ndarray:
    """The label raster moved by (dy, dx) px: its boundaries then lie where no cut is (the rows and columns moved
    in from outside, and nodata of the original, are ``nodata_label``)."""
    moved = np.full_like(labels, nodata_label)
    h, w = labels.shape
    moved[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = labels[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    moved[labels == nodata_label] = nodata_label
    return moved


def no_cut_range(
    values: np.ndarray, labels: np.ndarray, stride: int, nodata_label: int = -1
) -> tuple[list[float], list[float]]:
    """Per band (lowest, highest) seam visibility on lines where no cut lies: the cut raster shifted by 1/4, 1/2
    or 3/4 of the stride along both axes (9 shifts, so that neither the rows nor the columns of cuts stay). On a
    small mosaic the index at the real cuts is evidence of a seam only above this range; inside it, it is the
    image's own content."""
    steps = [round(stride * f) for f in (0.25, 0.5, 0.75)]
    results = [
        seam_visibility(values, shifted_labels(labels, dy, dx, nodata_label), stride, nodata_label)
        for dy in steps
        for dx in steps
    ]
    table = np.array(results, dtype=float)
    with np.errstate(all="ignore"):
        return list(np.nanmin(table, axis=0)), list(np.nanmax(table, axis=0))


def seam_visibility(values: np.ndarray, labels: np.ndarray, stride: int, nodata_label: int = -1) -> list[float]:
    """Per band seam visibility index of a whole image (see :class:`SeamMeter`); 1.0 = invisible."""
    meter = SeamMeter(values.shape[0], values.shape[2], stride, nodata_label)
    meter.add(values, labels)
    return meter.visibility()


def tiling_periodicity_db(values: np.ndarray, stride: int) -> list[float]:
    """Per band tiling periodicity of a whole image in dB (see :class:`SeamMeter`); about 0 = no seam pattern."""
    meter = SeamMeter(values.shape[0], values.shape[2], stride)
    meter.add(values, np.zeros(values.shape[1:], np.int32))
    return meter.periodicity_db()


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
