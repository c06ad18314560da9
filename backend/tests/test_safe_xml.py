"""Sentinel-2 metadata XML is parsed with defusedxml: entity tricks in a SAFE product are one clear error."""

import pytest

from mapsynth_backend.prepare.sentinel2 import _mtd_values, open_safe
from mapsynth_backend.runtime.protocol import UserError

MTD = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
  <PROCESSING_BASELINE>05.10</PROCESSING_BASELINE>
  <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
  <BOA_ADD_OFFSET band_id="1">-1000</BOA_ADD_OFFSET>
</n1:Level-2A_User_Product>"""

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<Level-2A_User_Product><PROCESSING_BASELINE>&lol2;</PROCESSING_BASELINE></Level-2A_User_Product>"""

EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Level-2A_User_Product><PROCESSING_BASELINE>&xxe;</PROCESSING_BASELINE></Level-2A_User_Product>"""


def test_real_shaped_metadata_is_read():
    assert _mtd_values(MTD.encode()) == {"offsets": {1: -1000.0}, "quantification": 10000.0, "baseline": "05.10"}


@pytest.mark.parametrize("xml", [BOMB, EXTERNAL, "<not xml"], ids=["entity-expansion", "external-entity", "broken"])
def test_hostile_or_broken_metadata_is_one_user_error(tmp_path, xml):
    safe = tmp_path / "S2B_MSIL2A_X.SAFE"
    safe.mkdir()
    (safe / "MTD_MSIL2A.xml").write_text(xml)
    with pytest.raises(UserError, match=r"^INPUT: MTD_MSIL2A.xml is not a readable Sentinel-2 metadata file"):
        open_safe(safe, ["B02", "B03", "B04", "B08"])
