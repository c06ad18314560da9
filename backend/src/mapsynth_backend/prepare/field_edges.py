"""Field edges in a Sentinel-2 patch, for derive-maps' parcel boundaries: where one field meets the next.

At 10 m a real field is one even tone and changes sharply at its edge (docs/BENCHMARKS.md, realism-fields), but
the derived maps draw only the edges that are hedgerows (dark lines in NIR); the edge between two fields of
different tone is not in the map, so a model trained on those maps cannot know where a field ends and mottles
instead. Here: the gradient of each band after a Gaussian blur of 1 px, each scaled by that band's typical spread
in fields, combined; pixels above ``THRESHOLD`` in vegetation are thinned to a one-pixel skeleton (as an OSM render
draws a parcel boundary) and pieces shorter than ``MIN_LENGTH`` pixels are dropped.
"""

from __future__ import annotations

import numpy as np

# Reflectance spread of each band (B02, B03, B04, B08) inside fields, to weigh the bands alike; the threshold is in
# those units per pixel, set by looking at the training patches of the Aberystwyth scene (about the 75th percentile
# of the combined gradient inside grass), like roads.py's thresholds.
BAND_SCALE = (0.02, 0.02, 0.025, 0.08)
BLUR_PX = 1.0
THRESHOLD = 0.45
MIN_LENGTH = 6


def edge_strength(reflectance: np.ndarray) -> np.ndarray:
    """(4, H, W) reflectance -> (H, W): the combined, band-weighted gradient magnitude after a 1 px blur."""
    from scipy import ndimage

    scaled = np.nan_to_num(reflectance).astype(np.float64) / np.asarray(BAND_SCALE)[:, None, None]
    smooth = ndimage.gaussian_filter(scaled, sigma=(0, BLUR_PX, BLUR_PX), mode="reflect")
    gy, gx = np.gradient(smooth, axis=(1, 2))
    return np.sqrt((gx**2 + gy**2).sum(axis=0))


def field_edges(reflectance: np.ndarray, vegetation: np.ndarray) -> np.ndarray:
    """(4, H, W) reflectance and a boolean (H, W) vegetation mask -> boolean (H, W): one-pixel field edges."""
    from skimage.measure import label
    from skimage.morphology import skeletonize

    candidate = (edge_strength(reflectance) > THRESHOLD) & vegetation
    skeleton = skeletonize(candidate)
    pieces = label(skeleton, connectivity=2)
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    return sizes[pieces] >= MIN_LENGTH
