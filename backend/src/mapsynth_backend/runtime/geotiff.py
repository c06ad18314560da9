"""The one GeoTIFF writer of the per-patch steps: written under a temporary name and renamed when complete (a
killed job never leaves a file that looks finished), deflate-compressed, with band descriptions and tags; for
reflectance, the encoding every reader looks for (radiometry.set_band_encoding)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .outputs import atomic_write


def write_geotiff(
    path: Path,
    data: np.ndarray,
    crs: Any,
    transform: Any,
    *,
    nodata: float | None = None,
    descriptions: tuple[str, ...] | list[str] = (),
    tags: dict[str, str] | None = None,
    reflectance_bands: list[str] | None = None,
    mask: np.ndarray | None = None,
    scale_offset: tuple[float, float] | None = None,
    **options: Any,
) -> None:
    """``data`` (bands, H, W) in its own dtype. ``reflectance_bands``: DN patches in the standard encoding (its
    nodata, scale/offset and these band names); ``scale_offset``: another encoding, the same for every band;
    ``mask``: an internal 0/255 validity mask; ``options``: more creation options (predictor, tiled, photometric)."""
    import rasterio

    from ..radiometry import ENCODING, set_band_encoding

    if reflectance_bands is not None and nodata is None:
        nodata = ENCODING["nodata"]

    def write(tmp: Path) -> None:
        env = rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True) if mask is not None else rasterio.Env()
        with (
            env,
            rasterio.open(
                tmp,
                "w",
                driver="GTiff",
                width=data.shape[2],
                height=data.shape[1],
                count=data.shape[0],
                dtype=data.dtype.name,
                crs=crs,
                transform=transform,
                nodata=nodata,
                compress="deflate",
                **options,
            ) as dst,
        ):
            dst.write(data)
            if mask is not None:
                dst.write_mask(mask)
            for index, text in enumerate(descriptions, start=1):
                if text:
                    dst.set_band_description(index, text)
            if reflectance_bands is not None:
                set_band_encoding(dst, reflectance_bands)
            if scale_offset is not None:
                dst.scales, dst.offsets = [scale_offset[0]] * data.shape[0], [scale_offset[1]] * data.shape[0]
            dst.update_tags(**(tags or {}))

    atomic_write(path, write)
