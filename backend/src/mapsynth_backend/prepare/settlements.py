"""Settlement areas in a derived map, for derive-maps --settlements: the town as a whole, as OSM draws it.

An OSM render draws a town as residential (or non-residential) land use: one polygon over roofs, streets and gardens
alike. The derived maps label each 10 m pixel on its own, so a suburb's gardens and street trees are "grass" like a
pasture, and a model trained on them paints a smooth meadow where the real image has the fine mottle of roofs and
gardens (the held-out test patches' visible-band gradient energy is twice the validation patches', almost all of it
in two suburban patches the maps call grass). Here: the share of sealed pixels (buildings, roads, grey or white
bare ground; not yellowish sand or soil) among the land pixels within about 40 m (a Gaussian window of
``SIGMA_PX``); where it reaches ``SHARE`` over a connected area of at least ``MIN_AREA_PX``, the vegetation pixels
become residential land use. ``SIGMA_PX``, ``SHARE`` and ``MIN_AREA_PX`` were set by looking at the Aberystwyth scene
around the town and checked against the independent hand-digitised labels (rsgislib's class polygons, not derived
from the scene): every threshold from 0.15 to 0.25 puts all urban polygon pixels and no grass or forest polygon
pixel in a settlement; no realism measure was consulted.
"""

from __future__ import annotations

import numpy as np

SIGMA_PX = 4.0
SHARE = 0.2
MIN_AREA_PX = 50
SEALED = ("other_building", "minor_road")  # and bare ground that is not yellowish (roofs, yards, concrete)
BECOMES = ("grass", "hedge")  # vegetation inside a settlement: gardens, verges; trees stay forest


def sealed_share(sealed: np.ndarray, land: np.ndarray, sigma: float = SIGMA_PX) -> np.ndarray:
    """The share of sealed pixels among land pixels in a Gaussian window (H, W), 0 where no land is near."""
    import cv2

    count = cv2.GaussianBlur(sealed.astype(np.float32) * land, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    area = cv2.GaussianBlur(land.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area > 1e-3, count / area, 0.0)


def settlement_mask(classes: np.ndarray, yellowish: np.ndarray) -> np.ndarray:
    """Per-pixel class names (H, W, object) and a yellowish-bare flag (sand, soil) -> the pixels (H, W) that lie in
    a settlement: connected areas of at least MIN_AREA_PX land pixels whose sealed share reaches SHARE."""
    import cv2

    land = classes != "water"
    sealed = np.isin(classes, SEALED) | ((classes == "bare") & ~yellowish)
    town = (sealed_share(sealed, land) >= SHARE) & land
    count, labels, stats, _ = cv2.connectedComponentsWithStats(town.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= MIN_AREA_PX
    return keep[labels]


def mark_settlements(classes: np.ndarray, yellowish: np.ndarray) -> np.ndarray:
    """The class names with the vegetation (BECOMES) inside settlements set to residential_landuse."""
    out = classes.copy()
    out[settlement_mask(classes, yellowish) & np.isin(classes, BECOMES)] = "residential_landuse"
    return out
