"""Buildings and their evidence for residential / non-residential use, from OpenStreetMap or any layers.

Everything is computed in the (metric) target CRS: footprint area, compactness, elongation, the share of the
footprint inside residential and non-residential land use, the distance to non-residential land use, the
amenity/shop/office POIs inside or on the footprint and the local building density. Tag tables: docs/MASKS.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..runtime.protocol import UserError

RESIDENTIAL_TAGS = {
    "house",
    "detached",
    "residential",
    "apartments",
    "terrace",
    "semidetached_house",
    "semi",
    "bungalow",
    "dormitory",
    "cabin",
    "farm",
    "houseboat",
    "static_caravan",
    "flats",
    "villa",
}
NONRESIDENTIAL_TAGS = {
    "industrial",
    "commercial",
    "retail",
    "warehouse",
    "office",
    "school",
    "hospital",
    "church",
    "cathedral",
    "chapel",
    "mosque",
    "synagogue",
    "temple",
    "religious",
    "university",
    "college",
    "kindergarten",
    "public",
    "civic",
    "government",
    "train_station",
    "transportation",
    "hotel",
    "supermarket",
    "kiosk",
    "garages",
    "parking",
    "hangar",
    "barn",
    "stable",
    "farm_auxiliary",
    "cowshed",
    "sports_hall",
    "sports_centre",
    "stadium",
    "fire_station",
    "museum",
    "theatre",
    "library",
    "manufacture",
    "factory",
    "bunker",
    "military",
    "greenhouse",
    "toilets",
    "data_center",
    "service",
    "storage_tank",
    "silo",
    "gatehouse",
    "pavilion",
    "grandstand",
}
NONRESIDENTIAL_LANDUSE = {
    "landuse": {
        "industrial",
        "commercial",
        "retail",
        "railway",
        "military",
        "education",
        "institutional",
        "religious",
        "port",
        "garages",
        "depot",
        "quarry",
    },
    "amenity": {
        "school",
        "university",
        "college",
        "hospital",
        "kindergarten",
        "clinic",
        "prison",
        "bus_station",
        "marketplace",
    },
    "aeroway": {"aerodrome"},
}
RESIDENTIAL_LANDUSE = {"landuse": {"residential"}}
POI_KEYS = ("amenity", "shop", "office", "craft", "tourism", "healthcare")
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
DENSITY_RADIUS_M = 100.0


def parse_tags(record: dict[str, Any]) -> dict[str, str]:
    tags = {k: v for k, v in _HSTORE.findall(record.get("other_tags") or "")}
    tags.update({k: str(v) for k, v in record.items() if v not in (None, "") and k != "other_tags"})
    return tags


def tag_class(tags: dict[str, str]) -> str | None:
    """'residential' or 'non_residential' when the tags say so, else None (building=yes and the like)."""
    use = tags.get("building:use", "").split(";")[0]
    for value in (use, tags.get("building", "")):
        if value in RESIDENTIAL_TAGS:
            return "residential"
        if value in NONRESIDENTIAL_TAGS:
            return "non_residential"
    return None


def _matches(tags: dict[str, str], table: dict[str, set[str]]) -> bool:
    return any(tags.get(key) in values for key, values in table.items())


@dataclass
class Inputs:
    buildings: list  # shapely geometries in the target CRS
    building_tags: list[dict[str, str]]
    nonres_landuse: list = field(default_factory=list)
    res_landuse: list = field(default_factory=list)
    pois: list = field(default_factory=list)
    repaired: int = 0
    reprojected: list = field(default_factory=list)


def _read(path: str, layer: str, bbox, columns=None, label: str = "OSM_FILE"):
    import pyogrio

    try:
        meta, _, geometry, values = pyogrio.raw.read(path, layer=layer, bbox=bbox, columns=columns)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input for the user
        raise UserError(f"{label}: cannot read layer {layer!r} of {path}: {str(exc).splitlines()[0]}") from exc
    names = list(meta["fields"])
    records = (
        [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)] if names else [{} for _ in geometry]
    )
    return meta.get("crs"), geometry, records


OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.gz", ".osm.bz2", ".gpkg")


def osm_source(path: str) -> str:
    """The name GDAL opens an OSM extract by: /vsigzip/ reads .osm.gz in place; .osm.bz2 (no /vsibz2/ in every
    GDAL build) is decompressed once into the temp folder. Other suffixes are refused with the accepted list."""
    import bz2
    import hashlib
    import shutil
    import tempfile
    from pathlib import Path

    lower = path.lower()
    if not lower.endswith(OSM_SUFFIXES):
        raise UserError(
            f"OSM_FILE: expected .osm.pbf, .osm, .osm.gz, .osm.bz2 or a GeoPackage of OGR OSM layers "
            f"(.gpkg), got {path}"
        )
    if lower.endswith(".gz"):
        return "/vsigzip/" + str(Path(path).resolve())
    if not lower.endswith(".bz2"):
        return path
    stat = Path(path).stat()
    key = hashlib.sha256(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / "mapsynth-osm" / f"{Path(path).name[:-4]}.{key}.osm"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkstemp(dir=target.parent, suffix=".part")[1])
        try:
            with bz2.open(path, "rb") as source, open(partial, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
        except (OSError, EOFError) as exc:
            partial.unlink(missing_ok=True)
            raise UserError(f"OSM_FILE: cannot decompress {path}: {exc}") from exc
        partial.replace(target)
    return str(target)


def read_inputs(osm_file: str, buildings: str, landuse: str, pois: str, target_crs, bounds) -> Inputs:
    """Read OSM (or explicit layers) inside ``bounds`` (target CRS) and return geometries in the target CRS."""
    import shapely
    from pyproj import CRS, Transformer

    target = CRS.from_user_input(target_crs)

    def transformed(crs, wkbs):
        if crs is None:
            raise UserError("an input layer has no CRS; assign one before computing masks")
        geoms = shapely.from_wkb(wkbs, on_invalid="fix")  # clipped extracts hold degenerate rings
        source = CRS.from_user_input(crs)
        if source != target:
            result.reprojected.append(source.to_string())
            transformer = Transformer.from_crs(source, target, always_xy=True)
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
        return geoms

    def bbox_in(crs):
        source = CRS.from_user_input(crs) if crs else target
        transformer = Transformer.from_crs(target, source, always_xy=True)
        return transformer.transform_bounds(*bounds)

    result = Inputs([], [])
    osm_file = osm_source(osm_file) if osm_file else ""
    sources = (
        [(osm_file, "multipolygons", "buildings"), (osm_file, "multipolygons", "landuse"), (osm_file, "points", "pois")]
        if osm_file
        else [(p, None, kind) for p, kind in ((buildings, "buildings"), (landuse, "landuse"), (pois, "pois")) if p]
    )
    if not osm_file and not buildings:
        raise UserError("give OSM_FILE, or BUILDINGS (with LANDUSE and POIS where available)")
    import pyogrio

    for path, layer, kind in sources:
        label = "OSM_FILE" if osm_file else kind.upper()
        try:
            crs = pyogrio.read_info(path, layer=layer).get("crs") if path else None
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input for the user
            raise UserError(f"{label}: cannot read {path}: {str(exc).splitlines()[0]}") from exc
        _, wkbs, records = _read(path, layer, bbox_in(crs), label=label)
        if not len(wkbs):
            continue
        geoms = transformed(crs, wkbs)
        result.repaired += int(sum(g is None for g in geoms))
        for geom, record in zip(geoms, records, strict=True):
            if geom is None or geom.is_empty:
                continue
            tags = parse_tags(record)
            if kind == "buildings":
                if osm_file and tags.get("building", "no") == "no":
                    continue
                if geom.geom_type not in ("Polygon", "MultiPolygon"):
                    continue
                if not geom.is_valid:
                    geom = shapely.make_valid(geom)
                    result.repaired += 1
                    geom = shapely.union_all(
                        [g for g in getattr(geom, "geoms", [geom]) if g.geom_type in ("Polygon", "MultiPolygon")]
                    )
                    if geom.is_empty:
                        continue
                result.buildings.append(geom)
                result.building_tags.append(tags)
            elif kind == "landuse" and geom.geom_type in ("Polygon", "MultiPolygon"):
                geom = geom if geom.is_valid else shapely.make_valid(geom)
                if _matches(tags, NONRESIDENTIAL_LANDUSE):
                    result.nonres_landuse.append(geom)
                elif _matches(tags, RESIDENTIAL_LANDUSE):
                    result.res_landuse.append(geom)
            elif kind == "pois" and (not osm_file or any(tags.get(k) for k in POI_KEYS)):
                result.pois.append(geom)
    return result


def evidence(inputs: Inputs) -> dict[str, np.ndarray]:
    """Per-building evidence features (arrays aligned with ``inputs.buildings``)."""
    import shapely

    geoms = np.array(inputs.buildings, dtype=object)
    if not len(geoms):
        raise UserError("no buildings in the target area (is the area right, and does the input have building=*?)")
    area = shapely.area(geoms)
    perimeter = np.maximum(shapely.length(geoms), 1e-9)
    rectangles = shapely.minimum_rotated_rectangle(geoms)
    elongation = np.ones(len(geoms))
    for i, rect in enumerate(rectangles):
        coords = np.asarray(rect.exterior.coords) if rect.geom_type == "Polygon" else None
        if coords is not None and len(coords) >= 4:
            sides = np.hypot(*np.diff(coords[:3], axis=0).T)
            elongation[i] = max(sides) / max(min(sides), 1e-9)

    def share(polygons):
        if not polygons:
            return np.zeros(len(geoms))
        union = shapely.union_all(polygons)
        return np.clip(shapely.area(shapely.intersection(geoms, union)) / np.maximum(area, 1e-9), 0, 1)

    if inputs.nonres_landuse:
        tree = shapely.STRtree(inputs.nonres_landuse)
        _, distances = tree.query_nearest(geoms, return_distance=True, all_matches=False)
        distance = np.minimum(distances, 500.0)
    else:
        distance = np.full(len(geoms), 500.0)
    pois = np.zeros(len(geoms))
    if inputs.pois:
        hits = shapely.STRtree(geoms).query(np.array(inputs.pois, dtype=object), predicate="intersects")
        np.add.at(pois, hits[1], 1)
    pois += np.array([any(tags.get(k) for k in POI_KEYS) for tags in inputs.building_tags], float)
    centroids = shapely.centroid(geoms)
    near = shapely.STRtree(centroids).query(centroids, predicate="dwithin", distance=DENSITY_RADIUS_M)
    density = np.bincount(near[0], minlength=len(geoms)) / (np.pi * DENSITY_RADIUS_M**2 / 1e4)
    return {
        "area_m2": area,
        "log_area": np.log10(np.maximum(area, 1.0)),
        "compactness": 4 * np.pi * area / perimeter**2,
        "elongation": np.minimum(elongation, 10.0),
        "nonres_share": share(inputs.nonres_landuse),
        "res_share": share(inputs.res_landuse),
        "nonres_distance_m": distance,
        "pois": np.minimum(pois, 5.0),
        "density_per_ha": np.minimum(density, 60.0),
    }
