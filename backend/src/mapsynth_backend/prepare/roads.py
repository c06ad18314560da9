"""Roads and lanes in a Sentinel-2 patch, for the derived maps of the demo model (derive-maps).

At 10 m a street or lane is a one-pixel line that is brighter in the visible bands and lower in NDVI than what
lies either side of it (asphalt and verges between fields, gardens or roofs). A Sato ridge filter on each of the
two indices finds such lines; a pixel is road where both respond, vegetation is sparse, and it is not water. The
candidates are thinned to their skeleton (one pixel, as the OSM render draws a road at >= 8 m) and skeleton
pieces shorter than ``MIN_LENGTH`` pixels (roof edges, field corners) are dropped. Hedgerows are the opposite
signature (dark NIR, high NDVI) and stay a separate class.
"""

from __future__ import annotations

import numpy as np

# Thresholds in reflectance units of the Sato response (sigma 0.7-1 px), set by looking at the Aberystwyth scene:
# about the 95th percentile of the visible-brightness response and the 93rd of the low-NDVI response.
BRIGHT_RIDGE = 0.004
LOW_NDVI_RIDGE = 0.03
MAX_NDVI = 0.8
MIN_LENGTH = 10


def road_lines(reflectance: np.ndarray, water: np.ndarray) -> np.ndarray:
    """(B02, B03, B04, B08) reflectance (4, H, W) -> boolean (H, W): one-pixel road/lane skeleton."""
    from skimage.filters import sato
    from skimage.measure import label
    from skimage.morphology import skeletonize

    blue, green, red, nir = (np.nan_to_num(b).astype(np.float64) for b in reflectance)
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = np.nan_to_num((nir - red) / (nir + red))
    visible = (blue + green + red) / 3
    bright = sato(visible, sigmas=(0.7, 1.0), black_ridges=False, mode="reflect")
    bare = sato(-ndvi, sigmas=(0.7, 1.0), black_ridges=False, mode="reflect")
    candidate = (bright > BRIGHT_RIDGE) & (bare > LOW_NDVI_RIDGE) & (ndvi < MAX_NDVI) & ~water
    skeleton = skeletonize(candidate)
    pieces = label(skeleton, connectivity=2)
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0
    return sizes[pieces] >= MIN_LENGTH
