"""Street metric: do roads the map draws show as linear structure in the image?

Like the hedgerow metric: for each unit (a patch, or a block of a mosaic) the median of an index on the road line
minus its median within ``width`` pixels beside the line (the neighbouring land, roads and water excluded). A
synthetic image with a uniform texture where the map has streets scores about 0; real streets score clearly.
The 95 % interval is a bootstrap over units (patches or mosaic blocks), since pixels of one street are not
independent. Indices: NDVI (roads are less vegetated than what lies beside them: negative) and visible brightness,
mean of B02, B03, B04 (asphalt and concrete are brighter than gardens and roofs' shade: positive).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .metrics import band_index, ndvi

ROAD_CLASSES = ("minor_road", "major_road")
NOT_BESIDE = ("water", "waterway", "minor_road", "major_road", "path", "railway")


def index_image(values: np.ndarray, bands: list[str], index: str) -> np.ndarray:
    """(bands, ...) reflectance -> the index (...): 'ndvi' or 'visible' (mean of B02, B03, B04)."""
    if index == "ndvi":
        out = ndvi(values, bands)
        if out is None:
            raise ValueError("NDVI needs B04 and B08")
        return out
    if index == "visible":
        picks = [band_index(bands, b) for b in ("B02", "B03", "B04")]
        if None in picks:
            raise ValueError("visible brightness needs B02, B03 and B04")
        return np.mean([values[i] for i in picks], axis=0)
    raise ValueError(f"unknown index {index!r}")


def unit_contrasts(
    index: np.ndarray, line: np.ndarray, beside: np.ndarray, width: int = 2, min_pixels: int = 10
) -> np.ndarray:
    """index, line, beside (N, H, W) -> per unit: median(index on line) - median(index within width px beside)."""
    out = []
    for values, on, allowed in zip(index, line, beside, strict=True):
        near = ndimage.binary_dilation(on, iterations=width) & allowed & ~on
        a, b = values[on & np.isfinite(values)], values[near & np.isfinite(values)]
        if a.size >= min_pixels and b.size >= min_pixels:
            out.append(float(np.median(a) - np.median(b)))
    return np.asarray(out)


def bootstrap_interval(values: np.ndarray, draws: int = 2000, seed: int = 0) -> dict:
    """Mean of per-unit contrasts with its 95 % percentile-bootstrap interval (over units)."""
    if values.size == 0:
        return {"mean": None, "low": None, "high": None, "units": 0}
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (draws, values.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {
        "mean": round(float(values.mean()), 4),
        "low": round(float(low), 4),
        "high": round(float(high), 4),
        "units": int(values.size),
    }


def street_contrast(values: np.ndarray, bands: list[str], line: np.ndarray, beside: np.ndarray, width: int = 2) -> dict:
    """Reflectance (N, bands, H, W), road line and allowed-beside masks (N, H, W) -> contrast with interval per
    index."""
    out = {}
    for name in ("ndvi", "visible"):
        index = index_image(np.moveaxis(values, 1, 0), bands, name)
        out[name] = bootstrap_interval(unit_contrasts(index, line, beside, width))
    return out


def blocks(array: np.ndarray, size: int) -> np.ndarray:
    """(..., H, W) -> (N, ..., size, size): whole blocks of a mosaic (a ragged edge is left out)."""
    h, w = array.shape[-2] // size * size, array.shape[-1] // size * size
    lead = array.shape[:-2]
    cut = array[..., :h, :w].reshape(*lead, h // size, size, w // size, size)
    cut = np.moveaxis(cut, (-4, -2), (0, 1))
    return cut.reshape(-1, *lead, size, size)


def mosaic_street_contrast(
    mosaic: np.ndarray,
    bands: list[str],
    map_rgb: np.ndarray,
    palette: dict,
    block: int = 64,
    width: int = 2,
    roads: tuple[str, ...] = ROAD_CLASSES,
) -> dict:
    """A generated mosaic (bands, H, W) and its rendered semantic map (3, H, W) uint8 on the same grid -> street
    contrast over ``block``-pixel blocks. Roads are the map's ``roads`` classes (minor roads are drawn 8 m, major
    14 m wide: both >= 1 px at 10 m; ``("major_road",)`` keeps those >= 10 m only); beside is any other land class
    with finite pixels."""
    from .spectra import class_masks

    masks = class_masks(map_rgb, palette)
    line = np.any([masks[k] for k in roads if k in masks], axis=0)
    excluded = np.any([masks[k] for k in NOT_BESIDE if k in masks], axis=0)
    finite = np.isfinite(mosaic).all(axis=0)
    line, beside = line & finite, ~excluded & finite
    result = street_contrast(blocks(mosaic, block), bands, blocks(line, block), blocks(beside, block), width)
    result["road_pixels"] = int(line.sum())
    return result
