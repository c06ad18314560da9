"""OpenStreetMap tags -> MapSynth semantic classes (resources/styles/semantic_palette.json).

The classification is the documented contract of the semantic style (docs/SEMANTIC_STYLE.md); it is pure
Python so it is testable without QGIS and identical for training and inference renders.
"""

from __future__ import annotations

import json
import re
from typing import Optional

from .about import PLUGIN_DIR

PALETTE_PATH = PLUGIN_DIR / "resources" / "styles" / "semantic_palette.json"
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')

RESIDENTIAL_BUILDINGS = {
    "house", "detached", "residential", "apartments", "terrace", "semidetached_house", "bungalow", "dormitory",
    "cabin", "farm", "houseboat", "static_caravan", "semi", "flats",
}
AREA_RULES = (  # (key, values, class); the first match wins; "*" = any value
    ("natural", {"water", "bay", "strait"}, "water"),
    ("water", {"*"}, "water"),
    ("waterway", {"riverbank", "dock", "canal"}, "water"),
    ("landuse", {"reservoir", "basin", "salt_pond"}, "water"),
    ("natural", {"wetland"}, "wetland"),
    ("landuse", {"forest"}, "forest"),
    ("natural", {"wood"}, "forest"),
    ("natural", {"sand", "beach", "bare_rock", "scree", "shingle", "rock", "mud"}, "bare"),
    ("landuse", {"quarry", "construction", "brownfield", "landfill", "greenfield"}, "bare"),
    ("landuse", {"farmland", "farmyard", "orchard", "vineyard", "allotments", "plant_nursery",
                 "greenhouse_horticulture"}, "farmland"),
    ("landuse", {"grass", "meadow", "village_green", "recreation_ground", "cemetery"}, "grass"),
    ("leisure", {"park", "garden", "golf_course", "pitch", "playground", "dog_park", "nature_reserve", "common"},
     "grass"),
    ("natural", {"grassland", "heath", "scrub", "fell"}, "grass"),
    ("landuse", {"residential"}, "residential_landuse"),
    ("landuse", {"industrial", "commercial", "retail", "railway", "military", "port", "garages", "education",
                 "institutional", "religious"}, "nonresidential_landuse"),
    ("amenity", {"parking", "marketplace"}, "paved"),
    ("place", {"square"}, "paved"),
    ("highway", {"pedestrian", "service", "footway"}, "paved"),
    ("area:highway", {"*"}, "paved"),
)
LINE_RULES = (
    ("highway", {"motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary",
                 "secondary_link"}, "major_road"),
    ("highway", {"tertiary", "tertiary_link", "unclassified", "residential", "service", "living_street", "road",
                 "busway"}, "minor_road"),
    ("highway", {"footway", "cycleway", "path", "pedestrian", "steps", "track", "bridleway"}, "path"),
    ("railway", {"rail", "light_rail", "tram", "narrow_gauge", "monorail", "preserved"}, "railway"),
    ("waterway", {"river", "stream", "canal", "drain", "ditch", "brook"}, "waterway"),
    ("barrier", {"hedge", "hedge_bank"}, "hedge"),
    ("natural", {"tree_row"}, "hedge"),
    ("barrier", {"wall", "fence", "retaining_wall", "city_wall", "guard_rail"}, "wall"),
)
# field-like parcels: their outlines are hedges, fences and lanes; urban land-use edges are streets, drawn as such
PARCEL_CLASSES = {"farmland", "grass", "forest", "wetland", "bare"}
# Typical widths (m) where a way has no numeric width tag: rivers and canals show as water at 10 m; streams,
# ditches and drains are a few metres wide, mostly under bank vegetation, and at 10 m a satellite pixel over them
# shows the land around (drawn 1 px wide as water they came out as green-blue mixed pixels: median NDVI +0.54 on
# the Liechtenstein demo). resolvable() leaves them out where they are narrower than half a pixel.
WATERWAY_WIDTHS = {"river": 12.0, "canal": 10.0, "stream": 3.0, "brook": 3.0, "ditch": 2.0, "drain": 2.0}


def tagged_width(tags: dict[str, str]) -> Optional[float]:
    """The way's width tag in metres ("12", "12 m", "12.5"), or None."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(?:m)?\s*", tags.get("width", ""))
    return float(match.group(1)) if match else None


def load_palette() -> dict:
    return json.loads(PALETTE_PATH.read_text(encoding="utf-8"))


def parse_other_tags(text: Optional[str]) -> dict[str, str]:
    """GDAL's OSM driver puts tags without a column of their own into an hstore string."""
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE.findall(text or "")}


def _match(tags: dict[str, str], rules) -> Optional[str]:
    for key, values, cls in rules:
        value = tags.get(key)
        if value and ("*" in values or value in values):
            return cls
    return None


def hidden(tags: dict[str, str]) -> bool:
    """Not visible from above: tunnels, culverts, underground features."""
    return (tags.get("tunnel", "no") not in ("no", "") or tags.get("location") in ("underground", "underwater")
            or tags.get("layer", "0").lstrip("-").isdigit() and int(tags.get("layer", "0")) < 0
            or tags.get("covered") == "yes")


def classify_area(tags: dict[str, str]) -> Optional[str]:
    building = tags.get("building")
    if building and building != "no" and not hidden(tags):
        return "residential_building" if building in RESIDENTIAL_BUILDINGS else "other_building"
    if tags.get("natural") == "coastline":
        return None  # sea is built from the coastline ways, islands keep their land use
    return _match(tags, AREA_RULES)


def classify_line(tags: dict[str, str]) -> Optional[tuple[str, Optional[float]]]:
    """(class, width override in metres or None for the palette width)."""
    if tags.get("area") == "yes" or hidden(tags):
        return None
    cls = _match(tags, LINE_RULES)
    if cls is None:
        return None
    if cls != "waterway":
        return cls, None
    width = tagged_width(tags)
    return cls, width if width is not None else WATERWAY_WIDTHS.get(tags.get("waterway", ""))
