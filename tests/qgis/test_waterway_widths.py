"""Waterways at their real width: a stream or ditch a few metres wide is not water in a 10 m pixel (it shows the
land around it), so the render leaves it out at 10 m and draws it at finer pixels; rivers and canals stay, and a
width tag wins."""

import pytest


@pytest.mark.parametrize(("tags", "pixel", "drawn"), [
    ({"waterway": "stream"}, 10, False), ({"waterway": "ditch"}, 10, False), ({"waterway": "drain"}, 10, False),
    ({"waterway": "stream"}, 5, True), ({"waterway": "river"}, 10, True), ({"waterway": "canal"}, 10, True),
    ({"waterway": "stream", "width": "8"}, 10, True), ({"waterway": "river", "width": "3 m"}, 10, False),
    ({"waterway": "stream", "width": "wide"}, 10, False),
])
def test_waterways_are_drawn_where_they_fill_half_a_pixel(plugin, tags, pixel, drawn):
    from mapsynth.plugin.osm_layers import resolvable
    from mapsynth.plugin.osm_semantic import classify_line

    cls, width = classify_line(tags)
    assert cls == "waterway"
    assert resolvable(cls, width, pixel) is drawn
