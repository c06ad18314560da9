"""Assembly benchmark, run in the backend venv by scripts/bench.py; prints one JSON object.

Same synthetic candidates for both: MapSynth's assembly (choices + DP cuts batched per patch-row) against a
straightforward reference of the prior art's method (full L2 overlap error for every candidate, then a
per-patch Dijkstra shortest path on a heap over the overlap error, as in classic image quilting).
512 px patches, overlap 96, K = 15 variations, 4 bands. Disk I/O excluded.
"""

import heapq
import json
import time
import tracemalloc

import numpy as np

from mapsynth_backend.mosaic.assembler import RowAssembler

P, OV, K, BANDS, ROWS, COLS = 512, 96, 15, 4, 2, 24
S = P - OV


def candidates(rng):
    height, width = (ROWS - 1) * S + P, (COLS - 1) * S + P
    image = rng.normal(0, 1, (BANDS, height, width)).cumsum(axis=1).cumsum(axis=2).astype(np.float32)
    image = 1500 + 2 * (image - image.mean())
    return {(r, c): [image[:, r * S:r * S + P, c * S:c * S + P] + rng.normal(0, 30, (BANDS, P, P)).astype(np.float32)
                     for _ in range(K)] for r in range(ROWS) for c in range(COLS)}, (height, width)


def ours(cells, shape):
    assembler = RowAssembler(P, OV, shape[1], BANDS, np.full(BANDS, 500.0), 0.0, 0, [0, 1, 2])
    start = time.perf_counter()
    for row in range(ROWS):
        if row:
            assembler.next_row()
        placed, previous = [], None
        for col in range(COLS):
            patches = cells[(row, col)]
            index, _ = assembler.choose(patches, previous, col * S, np.random.default_rng(0))
            placed.append((col * S, patches[index], row * COLS + col, previous is not None))
            previous = patches[index]
        assembler.place_row(placed)
    return time.perf_counter() - start


def dijkstra_cut(cost):
    """Top-to-bottom path through cost (H, W), moving down, down-left or down-right."""
    height, width = cost.shape
    best = {(0, x): float(cost[0, x]) for x in range(width)}
    heap = [(float(cost[0, x]), 0, x) for x in range(width)]
    heapq.heapify(heap)
    parent = {}
    while heap:
        d, y, x = heapq.heappop(heap)
        if d > best.get((y, x), np.inf):
            continue
        if y == height - 1:
            path = [x]
            while (y, x) in parent:
                y, x = parent[(y, x)]
                path.append(x)
            return path[::-1]
        for dx in (-1, 0, 1):
            nx = x + dx
            if 0 <= nx < width:
                nd = d + float(cost[y + 1, nx])
                if nd < best.get((y + 1, nx), np.inf):
                    best[(y + 1, nx)] = nd
                    parent[(y + 1, nx)] = (y, x)
                    heapq.heappush(heap, (nd, y + 1, nx))
    raise RuntimeError("no path")


def reference_cell(canvas, patches, y, x, has_top, has_left):
    start = time.perf_counter()
    errors = []
    for patch in patches:
        error = 0.0
        if has_left:
            error += float(np.square(patch[:, :, :OV] - canvas[:, y:y + P, x:x + OV]).sum())
        if has_top:
            error += float(np.square(patch[:, :OV] - canvas[:, y:y + OV, x:x + P]).sum())
        errors.append(error)
    patch = patches[int(np.argmin(errors))]
    mask = np.ones((P, P), bool)
    if has_left:
        cost = np.square(patch[:, :, :OV] - canvas[:, y:y + P, x:x + OV]).sum(axis=0)
        for row, cut in enumerate(dijkstra_cut(cost)):
            mask[row, :cut] = False
    if has_top:
        cost = np.square(patch[:, :OV] - canvas[:, y:y + OV, x:x + P]).sum(axis=0).T
        for col, cut in enumerate(dijkstra_cut(cost)):
            mask[:cut, col] = False
    region = canvas[:, y:y + P, x:x + P]
    region[:, mask] = patch[:, mask]
    return time.perf_counter() - start


def reference(cells, shape):
    canvas = np.zeros((BANDS, *shape), np.float32)
    times = []
    for (row, col), patches in sorted(cells.items()):
        times.append(reference_cell(canvas, patches, row * S, col * S, row > 0, col > 0))
    interior = [t for (r, c), t in zip(sorted(cells), times, strict=True) if r > 0 and c > 0]
    return sum(times), float(np.mean(interior))


if __name__ == "__main__":
    cells, shape = candidates(np.random.default_rng(0))
    ours(cells, shape)  # warm-up
    ours_s = min(ours(cells, shape) for _ in range(5))
    tracemalloc.start()  # separately: tracing slows numpy allocations down
    ours(cells, shape)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ref_total, ref_interior = reference(cells, shape)
    pixels = shape[0] * shape[1]
    print(json.dumps({
        "patches": ROWS * COLS, "mosaic_px": pixels, "ours_s": ours_s, "ours_s_per_patch": ours_s / (ROWS * COLS),
        "ours_mpx_per_s": pixels / ours_s / 1e6, "reference_s": ref_total,
        "reference_s_per_patch": ref_total / (ROWS * COLS), "reference_s_per_interior_patch": ref_interior,
        "speedup_per_patch": ref_total / ours_s, "ours_peak_mib_beyond_inputs": peak / 2**20,
        "strip_mib_20000px": BANDS * P * 20000 * 4 / 2**20,
    }))
