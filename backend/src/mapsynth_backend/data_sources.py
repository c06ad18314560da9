"""Where a training dataset's data came from and under which licences. Decided once, when the dataset is built, from
the manifests of its map and Sentinel-2 folders (dataset_card.json), and copied into the card of every model trained
on it: a model card names only the sources its training actually used (maps derived from the imagery carry no
OpenStreetMap licence).

Shared by prepare (writes it) and train (reads it); standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SOURCES_FILE = "dataset_card.json"
OSM_LICENSE = "OpenStreetMap data: ODbL 1.0, (c) OpenStreetMap contributors"
COPERNICUS_LICENSE = "Copernicus Sentinel data: free and open, 'Contains modified Copernicus Sentinel data'"
DERIVED_MAPS = "Sentinel-2 patches"  # derive-maps' manifest "source": the maps are thresholds of the imagery itself


def map_source(details: dict[str, Any] | None) -> dict[str, Any]:
    """The maps' source and licence from the map folder's manifest details (render_map_patches, derive-maps,
    map-from-land-cover write them); a licence MapSynth cannot know is said to be unknown, never guessed."""
    details = details or {}
    style = details.get("style") or "style not recorded"
    if details.get("osm_file"):
        return {
            "role": "maps",
            "source": f"OpenStreetMap extract {details['osm_file']} ({style})",
            "license": OSM_LICENSE,
        }
    if details.get("source") == DERIVED_MAPS:
        return {
            "role": "maps",
            "source": f"derived from the Sentinel-2 patches themselves ({style}, derive-maps)",
            "license": None,
        }  # the imagery's own licence covers them
    if str(details.get("source", "")).startswith("land cover:"):
        return {
            "role": "maps",
            "source": f"{details['source']} ({style})",
            "license": f"{details['source'][len('land cover:') :].strip()}: the land-cover product's own licence "
            "(not recorded by MapSynth)",
        }
    if details.get("layers"):
        names = ", ".join(map(str, details["layers"]))
        return {
            "role": "maps",
            "source": f"QGIS layers {names}",
            "license": f"layers {names}: their own licences (not recorded by MapSynth)",
        }
    return {"role": "maps", "source": "not recorded", "license": "map data: licence not recorded"}


def data_sources(map_details: dict[str, Any] | None, s2_details: dict[str, Any] | None) -> dict[str, Any]:
    """dataset_card.json's content: each source with its licence, and the licences once each."""
    imagery = (s2_details or {}).get("source") or "not recorded"
    sources = [
        map_source(map_details),
        {"role": "imagery", "source": f"Sentinel-2: {imagery}", "license": COPERNICUS_LICENSE},
    ]
    licenses = list(dict.fromkeys(s["license"] for s in sources if s["license"]))
    return {"data_sources": sources, "data_licenses": licenses}


def write_sources(path: Path, sources: dict[str, Any]) -> None:
    path.write_text(json.dumps(sources, indent=2) + "\n", encoding="utf-8")


def dataset_sources(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """A dataset's sources: its dataset_card.json, or (a dataset built before it existed) decided the same way from
    the dataset's manifest, which records the map and Sentinel-2 folders' details."""
    try:
        return json.loads((folder / SOURCES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        details = manifest.get("details") or {}
        return data_sources(details.get("map"), details.get("s2"))
