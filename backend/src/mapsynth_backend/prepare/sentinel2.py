"""Sentinel-2 sources (L2A .SAFE folders or zips, multiband or per-band rasters) cropped onto the patch grid.

SAFE products are read with their own radiometry: ``reflectance = (DN + BOA_ADD_OFFSET) / QUANTIFICATION``
(offsets exist from processing baseline 04.00), and the 20 m scene classification (SCL) flags cloud, shadow
and nodata. Other rasters need an explicit SCALE and OFFSET (``reflectance = DN * SCALE + OFFSET``).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml import ElementTree as ET

from ..runtime.protocol import UserError

BAND_IDS = {
    "B01": 0,
    "B02": 1,
    "B03": 2,
    "B04": 3,
    "B05": 4,
    "B06": 5,
    "B07": 6,
    "B08": 7,
    "B8A": 8,
    "B09": 9,
    "B10": 10,
    "B11": 11,
    "B12": 12,
}
SCL_NODATA = (0, 1)  # no data, saturated or defective
SCL_CLOUD = (3, 8, 9, 10)  # cloud shadow, cloud medium and high probability, thin cirrus


@dataclass(frozen=True)
class BandSource:
    name: str
    path: str  # a GDAL path (may be /vsizip/...)
    index: int  # 1-based band index in ``path``
    scale: float
    offset: float


@dataclass
class Sentinel2Source:
    description: str
    bands: list[BandSource]
    scl_path: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _safe_members(root: Path) -> tuple[list[str], callable, str]:
    """Member paths of a SAFE folder or zip, a reader for small files, and the GDAL prefix."""
    if root.suffix.lower() == ".zip":
        try:
            archive = zipfile.ZipFile(root)
        except zipfile.BadZipFile as exc:
            raise UserError(f"INPUT: {root} is not a readable zip file") from exc
        names = archive.namelist()
        return names, lambda name: archive.read(name), f"/vsizip/{root}/"
    names = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    return names, lambda name: (root / name).read_bytes(), f"{root}/"


def _mtd_values(xml_bytes: bytes, name: str = "MTD_MSIL2A.xml") -> dict[str, Any]:
    """Offsets, quantification and baseline; defusedxml refuses entity tricks (billion laughs, external DTDs)."""
    try:
        tree = ET.fromstring(xml_bytes)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise UserError(f"INPUT: {name} is not a readable Sentinel-2 metadata file ({exc})") from exc
    offsets: dict[int, float] = {}
    quantification = baseline = None
    for element in tree.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "BOA_ADD_OFFSET":
            offsets[int(element.get("band_id"))] = float(element.text)
        elif tag in ("BOA_QUANTIFICATION_VALUE", "QUANTIFICATION_VALUE") and quantification is None:
            quantification = float(element.text)
        elif tag == "PROCESSING_BASELINE":
            baseline = element.text.strip()
    return {"offsets": offsets, "quantification": quantification, "baseline": baseline}


def open_safe(root: Path, band_names: list[str]) -> Sentinel2Source:
    names, read, prefix = _safe_members(root)
    mtd = [n for n in names if n.rsplit("/", 1)[-1] in ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml")]
    if not mtd:
        raise UserError(f"INPUT: {root} has no MTD_MSIL2A.xml; it holds BOA_ADD_OFFSET and QUANTIFICATION_VALUE")
    values = _mtd_values(read(mtd[0]), mtd[0])
    if not values["quantification"]:
        raise UserError(f"INPUT: {mtd[0]} lacks QUANTIFICATION_VALUE")
    baseline = values["baseline"] or "00.00"
    honour_offsets = tuple(int(p) for p in re.findall(r"\d+", baseline)[:2]) >= (4, 0)
    bands = []
    for name in band_names:
        if name not in BAND_IDS:
            raise UserError(f"BANDS: unknown Sentinel-2 band {name!r}")
        found = [n for n in names if re.search(rf"IMG_DATA/R10m/[^/]*_{name}_10m\.jp2$", n)]
        found = found or [n for n in names if re.search(rf"IMG_DATA/[^/]*_{name}\.jp2$", n)]
        if not found:
            raise UserError(f"INPUT: {root} has no 10 m {name} band (GRANULE/*/IMG_DATA/R10m/*_{name}_10m.jp2)")
        offset = values["offsets"].get(BAND_IDS[name], 0.0) if honour_offsets else 0.0
        quant = values["quantification"]
        bands.append(BandSource(name, prefix + found[0], 1, 1.0 / quant, offset / quant))
    scl = [n for n in names if re.search(r"IMG_DATA/R20m/[^/]*_SCL_20m\.jp2$", n)]
    return Sentinel2Source(
        f"SAFE {root.name} (baseline {baseline})",
        bands,
        prefix + scl[0] if scl else None,
        {"baseline": baseline, "quantification": values["quantification"], "offsets_applied": honour_offsets},
    )


def parse_bands(spec: str, default_path: Path, scale: float, offset: float) -> Sentinel2Source:
    """BANDS for generic rasters: ``B02,B03,B04,B08`` (bands 1..n), ``B08=4`` or ``B08=/path/b8.tif[:1]``."""
    if not scale:
        raise UserError(
            "SCALE: give the factor from stored values to reflectance for this raster"
            " (e.g. 0.001 for reflectance x 1000, 0.0001 for x 10000)"
        )
    bands = []
    for position, item in enumerate(filter(None, (s.strip() for s in spec.split(","))), start=1):
        name, _, where = item.partition("=")
        path, index = str(default_path), position
        if where.isdigit():
            index = int(where)
        elif where:
            path, _, idx = where.rpartition(":") if re.search(r":\d+$", where) else (where, "", "1")
            index = int(idx)
        bands.append(BandSource(name.strip(), path, index, scale, offset))
    if not bands:
        raise UserError("BANDS: no band names given (e.g. B02,B03,B04,B08)")
    return Sentinel2Source(f"raster {default_path.name}", bands)


def open_source(input_path: str, bands: str, scale: float, offset: float) -> Sentinel2Source:
    path = Path(input_path)
    if path.name in ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml"):
        path = path.parent
    names = [b.strip().split("=")[0] for b in bands.split(",") if b.strip()]
    if path.suffix.upper() == ".SAFE" or (path.suffix.lower() == ".zip" and path.is_file()):
        if not path.exists():
            raise UserError(f"INPUT: not found: {path}")
        return open_safe(path, names)
    if not path.exists():
        raise UserError(f"INPUT: file not found: {path}")
    if path.is_dir():
        raise UserError(f"INPUT: {path} is a folder but not a .SAFE product")
    return parse_bands(bands, path, scale, offset)


def scl_masks(scl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(valid, cloud) from scene-classification values."""
    return ~np.isin(scl, SCL_NODATA), np.isin(scl, SCL_CLOUD)
