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
SELECTION_STEP = 4  # candidate errors on every 4th overlap pixel: a ranking, not a cut


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

    def _error(self, candidate: np.ndarray, reference: np.ndarray) -> float:
        step = SELECTION_STEP
        a, b = candidate[:, ::step, ::step], reference[:, ::step, ::step]
        diff = (a - b) / self.scale
        valid = np.isfinite(diff[0])
        return float(np.square(diff[:, valid]).sum() / max(valid.sum(), 1))

    def choose(self, candidates: list[np.ndarray], left: np.ndarray | None, x: int, rng) -> tuple[int, list[int]]:
        """Index of the chosen candidate (and blob sizes) from errors in the top overlap and against the left
        neighbour's candidate (whose pixels fill this cell's left overlap below the top overlap)."""
        top = self.strip[:, : self.ov, x : x + self.p]
        errors = []
        for candidate in candidates:
            error = self._error(candidate[:, : self.ov], top) if np.isfinite(top[0]).any() else 0.0
            if left is not None:
                error += self._error(candidate[:, self.ov :, : self.ov], left[:, self.ov :, self.s :])
            errors.append(error)
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
            alpha = np.ones((p, p), np.float32)
            alpha[:ov] = np.minimum(alpha[:ov], top_alpha[i])
            alpha[:, :ov] = np.minimum(alpha[:, :ov], left_alpha[i])
            target = self.strip[:, :, x : x + p]
            empty = ~np.isfinite(target[0])
            overlap = ~empty
            overlap[ov:, ov:] = False
            if overlap.any():
                self.disagreement[0] += float(np.abs(patch[:, overlap] - target[:, overlap]).sum())
                self.disagreement[1] += int(overlap.sum()) * patch.shape[0]
            alpha[empty] = 1.0
            np.copyto(target, alpha * patch + (1 - alpha) * np.nan_to_num(target))
            self.labels[:, x : x + p][alpha >= 0.5] = label
        return cuts

    def _cut_cost(self, new: np.ndarray, old: np.ndarray) -> np.ndarray:
        cost = np.square((new - old) / self.scale).sum(axis=0)
        return np.nan_to_num(cost, nan=0.0)
