"""Tone layouts: a piecewise-even picture of where one field ends and the next begins, as extra map channels.

Real fields at 10 m are one even tone each with sharp edges that no map draws (docs/BENCHMARKS.md, realism-fields);
the models paint mottled fields instead, and drawing the edges into the map did not help (realism-parcels): the
tone of a field is one choice for a whole region, which a small UNet does not make. A tone layout makes that choice
outside the network. For training it is read off the real patch: the patch is cut into segments (Felzenszwalb's
graph segmentation on the clip-scaled bands, never across a map-class border) and every segment takes its mean
tone. For generation, where no real image exists, it is drawn at random: every connected map region is cut into
Voronoi cells as many as the training segments of its class would give for its area, and every cell takes the
tone of a segment of its class in a training patch of similar map (``ToneBank``). Both are (bands, H, W) in [0, 1]
of the clip range. Used by scripts/realism_tones.py (make bench-realism-tones), an experiment of issue 28.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Felzenszwalb's parameters on clip-scaled bands (values in [0, 1]): set by looking at training patches of the
# Aberystwyth scene so that one field is about one segment (median 30 px, area-weighted mean about 110 px)
SCALE = 5.0
SIGMA = 0.5
MIN_SIZE = 30


def map_codes(map_rgb: np.ndarray) -> np.ndarray:
    """(3, H, W) uint8 map -> (H, W) int64 colour code (r << 16 | g << 8 | b)."""
    return (map_rgb[0].astype(np.int64) << 16) | (map_rgb[1].astype(np.int64) << 8) | map_rgb[2]


def segments(unit: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(bands, H, W) clip-scaled reflectance and (H, W) map codes -> (H, W) segment ids 0..n-1; no segment crosses
    a map-class border."""
    import warnings

    from skimage.segmentation import felzenszwalb

    with warnings.catch_warnings():  # 4 bands are 4 channels here, not an RGBA image (skimage's warning)
        warnings.simplefilter("ignore", RuntimeWarning)
        labels = felzenszwalb(
            np.nan_to_num(unit).transpose(1, 2, 0), scale=SCALE, sigma=SIGMA, min_size=MIN_SIZE, channel_axis=-1
        )
    _, ids = np.unique(labels.astype(np.int64) * (1 << 24) + codes, return_inverse=True)
    return ids.reshape(codes.shape)


def map_regions(codes: np.ndarray) -> np.ndarray:
    """(H, W) map codes -> (H, W) ids 0..n-1 of the map's own regions: the 8-connected pieces of each class, so a
    hedge drawn as a diagonal staircase of pixels is one region, not one per pixel (4-connected pieces put 3.7 % of
    the demo's training pixels in regions of 3 px or less, 8-connected 1.5 %). Around Aberystwyth the derived maps'
    hedges rarely close a field: the largest grass region holds about 80 % of a patch's grass."""
    from scipy import ndimage

    ids = np.zeros(codes.shape, dtype=np.int64)
    count = 0
    for code in np.unique(codes):
        labels, n = ndimage.label(codes == code, structure=np.ones((3, 3)))
        ids[labels > 0] = labels[labels > 0] + count - 1
        count += n
    return ids


def map_cells(codes: np.ndarray, area: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """(H, W) map codes -> (H, W) ids 0..n-1: the map's regions (``map_regions``), each cut into Voronoi cells of
    about ``area`` pixels (seeds drawn by ``rng`` among its pixels; none when ``area`` is 0), so a layout can vary
    inside a region at about the scale of a field without any image to say where the fields are."""
    from scipy.spatial import cKDTree

    ids = map_regions(codes)
    if area <= 0:
        return ids
    rng = rng if rng is not None else np.random.default_rng(0)
    out = np.zeros_like(ids)
    count = 0
    for region in range(int(ids.max()) + 1):
        ys, xs = np.nonzero(ids == region)
        cells = max(1, int(round(len(ys) / area)))
        if cells > 1:
            seeds = rng.choice(len(ys), size=cells, replace=False)  # every seed is a pixel of the region: no empty cell
            out[ys, xs] = count + cKDTree(np.stack([ys[seeds], xs[seeds]], 1)).query(np.stack([ys, xs], 1))[1]
        else:
            out[ys, xs] = count
        count += cells
    return out


def segment_means(unit: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(bands, H, W) and (H, W) ids -> (n, bands): each segment's mean, NaN pixels left out."""
    n = int(ids.max()) + 1
    out = np.zeros((n, unit.shape[0]))
    for band, values in enumerate(unit):
        finite = np.isfinite(values)
        total = np.bincount(ids[finite], values[finite], n)
        count = np.bincount(ids[finite], None, n)
        out[:, band] = total / np.maximum(count, 1)
    return out


def real_layout(
    unit: np.ndarray, map_rgb: np.ndarray, regions: bool = False, area: float = 0.0, seed: int = 0
) -> np.ndarray:
    """The training layout of one patch: (bands, H, W) in [0, 1], each segment (``regions``: each map region, cut
    into Voronoi cells of about ``area`` px drawn with ``seed``; ``map_cells``) its mean tone."""
    codes = map_codes(map_rgb)
    ids = map_cells(codes, area, np.random.default_rng(seed)) if regions else segments(unit, codes)
    return np.clip(segment_means(unit, ids)[ids].transpose(2, 0, 1), 0, 1)


@dataclass
class Donor:
    """One training patch's segments: per map class, their tones (n, bands) and sizes (n,) in pixels."""

    tones: dict[int, np.ndarray]
    sizes: dict[int, np.ndarray]
    layout: np.ndarray  # (bands, H, W): the patch's own layout
    codes: np.ndarray  # (H, W): its map codes

    def share(self) -> dict[int, float]:
        total = sum(int(s.sum()) for s in self.sizes.values())
        return {code: float(s.sum()) / total for code, s in self.sizes.items()}


def _distance(a: dict[int, float], b: dict[int, float]) -> float:
    return sum(abs(a.get(code, 0.0) - b.get(code, 0.0)) for code in set(a) | set(b))


@dataclass
class ToneBank:
    """The training patches' segments, one ``Donor`` per patch. A random layout takes its tones from one of the
    ``NEIGHBOURS`` training patches whose map-class shares are closest to the map's (a sea patch's tones from a sea
    patch, a town's from a town), so neighbouring cells have the tones one scene has side by side, not a draw from
    every patch of the class; a class that patch lacks comes from the closest patch that has it."""

    donors: list[Donor] = field(default_factory=list)
    # How a layout is drawn. Plain (contrast 1, cells 1, unmatched): every cell an independent draw, as many cells
    # as the donor's segments per area. Calibrated (the defaults): each cell takes the tone the donor patch has at
    # the cell's seed (where the donor shows the same class there; elsewhere a draw), so neighbouring cells get
    # neighbouring tones; tones pulled towards the class's mean by ``contrast``; twice the cells (Voronoi cells are
    # compact, real segments ragged). Set on the training patches alone (scripts/realism_tones.py --calibration:
    # layouts drawn for one half of them from a bank of the other half): tone steps between neighbouring segments
    # 0.021 / 0.024 / 0.031 / 0.067 (B02 / B03 / B04 / B08) against real 0.018 / 0.023 / 0.026 / 0.063 (plain:
    # 0.033 / 0.041 / 0.049 / 0.099), share of pixels at a step 0.083 (real 0.098, plain 0.068).
    contrast: float = 0.7
    cells: float = 2.0
    matched: bool = True
    # Map regions (``regions``): segments are the map's own regions (``map_regions``; with ``area``, cut into Voronoi
    # cells) in training and generation alike, so the layout's edges are where the map (or the cut) has them; each
    # cell of a map takes the tone of one cell of its class in the donor patch, drawn with weight min(a, b) / max(a,
    # b) of the two areas (a field's tone for a field, a hedge's for a hedge). contrast, cells, matched do not apply.
    regions: bool = False
    # With ``regions``: each region cut into Voronoi cells of about this many pixels (``map_cells``), in training
    # (add's seed) and drawing alike; 0 = whole regions
    area: float = 0.0
    NEIGHBOURS = 5

    def add(self, unit: np.ndarray, map_rgb: np.ndarray, seed: int = 0) -> None:
        """One training patch; ``seed`` cuts its Voronoi cells (``area``), as real_layout's does."""
        codes = map_codes(map_rgb)
        ids = map_cells(codes, self.area, np.random.default_rng(seed)) if self.regions else segments(unit, codes)
        means = segment_means(unit, ids)
        sizes = np.bincount(ids.ravel())
        code_of = np.zeros(len(sizes), dtype=np.int64)
        code_of[ids.ravel()] = codes.ravel()  # every segment lies in one class: any of its pixels' code
        self.donors.append(
            Donor(
                {int(c): means[code_of == c] for c in np.unique(code_of)},
                {int(c): sizes[code_of == c] for c in np.unique(code_of)},
                np.clip(means[ids].transpose(2, 0, 1), 0, 1),
                codes,
            )
        )

    def layout(self, map_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random layout for one map: (bands, H, W) in [0, 1]. A class no training patch has takes the mean tone
        of the chosen patch."""
        from scipy import ndimage
        from scipy.spatial import cKDTree

        codes = map_codes(map_rgb)
        present, counts = np.unique(codes, return_counts=True)
        share = {int(c): n / codes.size for c, n in zip(present, counts, strict=True)}
        order = np.argsort([_distance(share, donor.share()) for donor in self.donors], kind="stable")
        first = int(rng.integers(min(self.NEIGHBOURS, len(order))))
        ranked = [self.donors[order[first]]] + [self.donors[i] for i in order if i != order[first]]
        fallback = np.average(
            np.concatenate(list(ranked[0].tones.values())),
            axis=0,
            weights=np.concatenate(list(ranked[0].sizes.values())),
        )
        if self.regions:
            return self._cell_layout(codes, ranked, fallback, rng)
        out = np.zeros((len(fallback), *codes.shape))
        for code in present.tolist():
            donor = next((d for d in ranked if code in d.tones), None)
            regions, n_regions = ndimage.label(codes == code)
            for region in range(1, n_regions + 1):
                ys, xs = np.nonzero(regions == region)
                if donor is None:
                    out[:, ys, xs] = fallback[:, None]
                    continue
                sizes, tones = donor.sizes[code], donor.tones[code]
                cells = max(1, int(round(self.cells * len(ys) * len(sizes) / sizes.sum())))
                seeds = rng.choice(len(ys), size=min(cells, len(ys)), replace=False)
                nearest = cKDTree(np.stack([ys[seeds], xs[seeds]], 1)).query(np.stack([ys, xs], 1))[1]
                picks = tones[rng.choice(len(sizes), size=len(seeds), p=sizes / sizes.sum())]
                if self.matched:  # the donor's pixel at the seed's place (scaled if the patches differ in size)
                    sy = ys[seeds] * donor.codes.shape[0] // codes.shape[0]
                    sx = xs[seeds] * donor.codes.shape[1] // codes.shape[1]
                    same = donor.codes[sy, sx] == code
                    picks[same] = donor.layout[:, sy[same], sx[same]].T
                if self.contrast != 1.0:
                    mean = np.average(tones, axis=0, weights=sizes)
                    picks = mean + self.contrast * (picks - mean)
                out[:, ys, xs] = picks[nearest].T
        return np.clip(out, 0, 1)

    def _cell_layout(self, codes, ranked: list[Donor], fallback: np.ndarray, rng) -> np.ndarray:
        """``regions``: every cell of the map (``map_cells``) the tone of a donor cell of its class, drawn with weight
        min/max of the two areas."""
        ids = map_cells(codes, self.area, rng)
        flat_codes, flat_ids = codes.ravel(), ids.ravel()
        sizes_of = np.bincount(flat_ids)
        code_of = np.zeros(len(sizes_of), dtype=np.int64)
        code_of[flat_ids] = flat_codes
        tones_of = np.empty((len(sizes_of), len(fallback)))
        for cell, (size, code) in enumerate(zip(sizes_of, code_of, strict=True)):
            donor = next((d for d in ranked if int(code) in d.tones), None)
            if donor is None:
                tones_of[cell] = fallback
                continue
            sizes, tones = donor.sizes[int(code)], donor.tones[int(code)]
            weights = np.minimum(sizes, size) / np.maximum(sizes, size)
            tones_of[cell] = tones[rng.choice(len(sizes), p=weights / weights.sum())]
        return np.clip(tones_of[ids].transpose(2, 0, 1), 0, 1)


def write_png(path, layout: np.ndarray) -> None:
    """(bands, H, W) in [0, 1] -> an 8-bit PNG of the clip range (up to 4 bands) that train/data.py's load_pair
    reads back in band order."""
    import cv2

    values = np.round(np.clip(layout, 0, 1) * 255).astype(np.uint8)
    if not cv2.imwrite(str(path), values.transpose(1, 2, 0)[:, :, ::-1]):
        raise OSError(f"cannot write {path}")


def read_png(path) -> np.ndarray:
    """A layout PNG written by ``write_png`` -> (bands, H, W) uint8 in band order (as load_pair's reader gives it)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise OSError(f"cannot read {path}")
    return image[:, :, ::-1].transpose(2, 0, 1)
