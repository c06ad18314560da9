"""`assemble`: one seamless, georeferenced mosaic from K generated variations per grid cell.

Raster order (row 0 = north, west to east). Per patch-row: (1) candidates are chosen one cell after the other by
their error against what is already placed (top overlap and left neighbour, all bands normalised per band,
optionally a seeded random pick among the best few; candidates with saturated cloud-like blobs above MAX_BLOB px
are rejected); (2) the horizontal cuts of the whole row and then (3) its vertical cuts are found by dynamic
programming, batched over the row; (4) cells are placed with one mask for all bands, so every band comes from the
same source pixel. Only a strip of patch height x mosaic width is in memory (float32).
"""

from __future__ import annotations

import numpy as np

from .seams import cut_alpha, horizontal_cuts, vertical_cuts

LABEL_NODATA = -1
SATURATION_DN = 4000  # reflectance 0.3 in the patch encoding: bright in every visible band = cloud-like
SELECTION_STEP = 8  # candidate errors on every 8th overlap pixel: a ranking, not a cut


def label_of(row: int, col: int, cols: int, variation: int) -> int:
    """Label raster value: (row * cols + col) * 1000 + variation."""
    return (row * cols + col) * 1000 + variation


def largest_blob(patch: np.ndarray, visible: list[int]) -> int:
    import cv2

    mask = np.all(patch[visible] >= SATURATION_DN, axis=0).astype(np.uint8)
    if not mask.any():
        return 0
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return int(stats[1:, cv2.CC_STAT_AREA].max())


class RowAssembler:
    """Assembles one patch-row into the strip; pure array work (benchmarked without I/O)."""

    def __init__(
        self,
        patch: int,
        overlap: int,
        width: int,
        bands: int,
        scale: np.ndarray,
        feather: float,
        max_blob: int,
        visible: list[int],
        selection: str = "best",
        top_k: int = 3,
    ) -> None:
        self.p, self.ov, self.s = patch, overlap, patch - overlap
        self.scale = scale.astype(np.float32)[:, None, None]
        self.feather, self.max_blob, self.visible = feather, max_blob, visible
        self.selection, self.top_k = selection, top_k
        self.strip = np.full((bands, patch, width), np.nan, np.float32)
        self.labels = np.full((patch, width), LABEL_NODATA, np.int32)
        self.rejected = 0
        self.disagreement = [0.0, 0]  # sum of |new - placed| (DN, all bands) in overlaps before cutting, count

    def next_row(self) -> None:
        """Keep the bottom overlap rows of the previous patch-row as the top of the new strip."""
        self.strip[:, : self.ov] = self.strip[:, self.s :]
        self.strip[:, self.ov :] = np.nan
        self.labels[: self.ov] = self.labels[self.s :]
        self.labels[self.ov :] = LABEL_NODATA

    def _errors(self, candidates: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """Mean normalised squared error of each candidate (K, bands, h, w) against ``reference``."""
        diff = (candidates - reference[None]) / self.scale[None]
        valid = np.isfinite(reference[0])
        count = max(int(valid.sum()), 1)
        return np.where(np.isfinite(diff), np.square(diff), 0).sum(axis=(1, 2, 3)) / count

    def choose(self, candidates: list[np.ndarray], left: np.ndarray | None, x: int, rng) -> tuple[int, list[int]]:
        """Index of the chosen candidate (and blob sizes) from errors in the top overlap and against the left
        neighbour's candidate (whose pixels fill this cell's left overlap below the top overlap)."""
        step, ov = SELECTION_STEP, self.ov
        top = self.strip[:, :ov:step, x : x + self.p : step]
        errors = np.zeros(len(candidates))
        if np.isfinite(top[0]).any():
            errors += self._errors(np.stack([c[:, :ov:step, ::step] for c in candidates]), top)
        if left is not None:
            errors += self._errors(
                np.stack([c[:, ov::step, :ov:step] for c in candidates]), left[:, ov::step, self.s :: step]
            )
        order = list(np.argsort(errors, kind="stable"))
        blobs = {}
        acceptable = []
        for index in order:
            if self.max_blob:
                blobs[index] = largest_blob(candidates[index], self.visible)
                if blobs[index] > self.max_blob:
                    self.rejected += 1
                    continue
            acceptable.append(index)
            if self.selection == "best" or len(acceptable) == self.top_k:
                break
        if not acceptable:  # every candidate is cloudy: take the least cloudy rather than leave a hole
            acceptable = [min(blobs, key=blobs.get)]
        choice = acceptable[0] if self.selection == "best" else acceptable[int(rng.integers(len(acceptable)))]
        return int(choice), [blobs.get(i, 0) for i in range(len(candidates))]

    def place_row(self, cells: list[tuple[int, np.ndarray, int, bool]]) -> list[tuple[str, int, np.ndarray]]:
        """cells: (x offset in the strip, chosen patch (bands, P, P), label, has left neighbour).

        Returns the cuts made: ("h" | "v", index of the cell in ``cells``, path)."""
        p, ov = self.p, self.ov
        cuts = []
        top_alpha = [np.ones((ov, p), np.float32) for _ in cells]
        tops = [i for i, (x, _, _, _) in enumerate(cells) if np.isfinite(self.strip[0, :ov, x : x + p]).any()]
        if tops:
            costs = np.stack(
                [self._cut_cost(cells[i][1][:, :ov], self.strip[:, :ov, cells[i][0] : cells[i][0] + p]) for i in tops]
            )
            for i, path in zip(tops, horizontal_cuts(costs), strict=True):
                top_alpha[i] = cut_alpha(path, ov, self.feather).T
                cuts.append(("h", i, path))
        lefts = [i for i, cell in enumerate(cells) if cell[3] and i > 0]
        left_alpha = [np.ones((p, ov), np.float32) for _ in cells]
        if lefts:
            costs = []
            for i in lefts:
                x = cells[i][0]
                previous_x, previous, _, _ = cells[i - 1]
                # what the left neighbour leaves in this cell's left overlap once placed
                region = previous[:, :, x - previous_x : x - previous_x + ov].copy()
                corner = self.strip[:, :ov, x : x + ov]
                a = top_alpha[i - 1][:, x - previous_x : x - previous_x + ov]
                region[:, :ov] = np.where(np.isfinite(corner), a * region[:, :ov] + (1 - a) * corner, region[:, :ov])
                costs.append(self._cut_cost(cells[i][1][:, :, :ov], region))
            for i, path in zip(lefts, vertical_cuts(np.stack(costs)), strict=True):
                left_alpha[i] = cut_alpha(path, ov, self.feather)
                cuts.append(("v", i, path))
        for i, (x, patch, label, _) in enumerate(cells):
            target = self.strip[:, :, x : x + p]
            labels = self.labels[:, x : x + p]
            # the interior takes the new patch whole; only the top and left overlap bands are cut or blended
            target[:, ov:, ov:] = patch[:, ov:, ov:]
            labels[ov:, ov:] = label
            for rows, cols, alpha in (
                (slice(0, ov), slice(0, p), top_alpha[i].copy()),
                (slice(ov, p), slice(0, ov), left_alpha[i][ov:].copy()),
            ):
                if rows.start == 0:
                    alpha[:, :ov] = np.minimum(alpha[:, :ov], left_alpha[i][:ov])
                old, new = target[:, rows, cols], patch[:, rows, cols]
                empty = ~np.isfinite(old[0])
                alpha[empty] = 1.0
                # a statistic: every 4th pixel in each direction is plenty; only where both sides hold data
                sampled = ~empty[::4, ::4] & np.isfinite(new[0, ::4, ::4])
                placed = int(sampled.sum())
                if placed:
                    self.disagreement[0] += float(np.abs(new[:, ::4, ::4] - old[:, ::4, ::4]).sum(where=sampled[None]))
                    self.disagreement[1] += placed * patch.shape[0]
                if self.feather > 0:
                    target[:, rows, cols] = alpha * new + (1 - alpha) * np.where(empty, 0, old)
                else:
                    np.copyto(target[:, rows, cols], new, where=(alpha >= 0.5)[None])
                labels[rows, cols][alpha >= 0.5] = label
        return cuts

    def _cut_cost(self, new: np.ndarray, old: np.ndarray) -> np.ndarray:
        cost = np.square((new - old) / self.scale).sum(axis=0, dtype=np.float32)
        return np.nan_to_num(cost, nan=0.0)
