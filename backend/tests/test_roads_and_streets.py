"""Roads derived from Sentinel-2 (derive-maps), the street metric and the spectra-in-range numbers, on generated
fixtures: a drawn road must score, no road must score about 0."""

import numpy as np

from mapsynth_backend.evaluate.spectra import class_masks, class_ndvi, saturated_fraction
from mapsynth_backend.evaluate.streets import mosaic_street_contrast, street_contrast
from mapsynth_backend.prepare.landcover import palette
from mapsynth_backend.prepare.roads import road_lines

BANDS = ["B02", "B03", "B04", "B08"]
GRASS = np.array([0.03, 0.06, 0.035, 0.45])
ROAD = np.array([0.09, 0.1, 0.1, 0.2])


def field(rng, n=1, size=64, noise=0.004):
    values = GRASS[None, :, None, None] + rng.normal(0, noise, (n, 4, size, size))
    return np.clip(values, 0.001, None)


def test_road_lines_find_a_lane_and_not_a_hedgerow_or_an_empty_field():
    rng = np.random.default_rng(0)
    refl = field(rng)[0]
    refl[:, 20, 5:60] = ROAD[:, None]  # a lane
    refl[:, 30:60, 40] = np.array([0.02, 0.035, 0.02, 0.25])[:, None]  # a hedgerow: dark in NIR
    water = np.zeros((64, 64), bool)
    roads = road_lines(refl, water)
    assert roads[20, 8:57].mean() > 0.9
    assert not roads[32:58, 38:43].any()
    assert not road_lines(field(rng)[0], water).any()
    assert not road_lines(refl, np.ones((64, 64), bool)).any()  # never on water


def drawn_streets(rng, n, contrast):
    """n patches of grass with a road line in the map; the image shows it with ``contrast`` (0: not at all)."""
    values = field(rng, n)
    line = np.zeros((n, 64, 64), bool)
    for i in range(n):
        row = rng.integers(10, 54)
        line[i, row, :] = True
        values[i, :, row, :] = (GRASS + contrast * (ROAD - GRASS))[:, None] + rng.normal(0, 0.004, (4, 64))
    return values, line


def test_a_drawn_street_scores_and_no_street_scores_about_zero():
    rng = np.random.default_rng(1)
    values, line = drawn_streets(rng, 12, 1.0)
    beside = ~line
    seen = street_contrast(values, BANDS, line, beside)
    assert seen["ndvi"]["high"] < -0.2 and seen["visible"]["low"] > 0.04  # lower NDVI, brighter on the line
    assert seen["ndvi"]["units"] == 12
    flat, line = drawn_streets(rng, 12, 0.0)
    unseen = street_contrast(flat, BANDS, line, ~line)
    for index in ("ndvi", "visible"):
        assert unseen[index]["low"] <= 0 <= unseen[index]["high"]
        assert abs(unseen[index]["mean"]) < 0.01


def test_mosaic_street_contrast_reads_roads_from_the_rendered_map():
    rng = np.random.default_rng(2)
    colours = palette()
    mosaic = field(rng, 1, 128)[0]
    map_rgb = np.zeros((3, 128, 128), np.uint8)
    map_rgb[:] = np.array(colours["residential_landuse"], np.uint8)[:, None, None]
    for row in (20, 90):
        map_rgb[:, row, :] = np.array(colours["minor_road"], np.uint8)[:, None]
    map_rgb[:, :, 70] = np.array(colours["major_road"], np.uint8)[:, None]
    uniform = mosaic_street_contrast(mosaic, BANDS, map_rgb, colours)
    assert uniform["ndvi"]["units"] == 4 and abs(uniform["ndvi"]["mean"]) < 0.01
    for row in (20, 90):
        mosaic[:, row, :] = ROAD[:, None]
    mosaic[:, :, 70] = ROAD[:, None]
    streets = mosaic_street_contrast(mosaic, BANDS, map_rgb, colours)
    assert streets["ndvi"]["high"] < -0.2 and streets["road_pixels"] == 2 * 128 + 126
    major = mosaic_street_contrast(mosaic, BANDS, map_rgb, colours, roads=("major_road",))
    assert major["road_pixels"] == 128 and major["ndvi"]["units"] == 2  # the column crosses two of the four blocks


def test_class_ndvi_and_saturation_at_the_clip_limits():
    colours = palette()
    maps = np.zeros((1, 3, 40, 40), np.uint8)
    maps[0, :, :, :20] = np.array(colours["water"], np.uint8)[:, None, None]
    maps[0, :, :, 20:] = np.array(colours["grass"], np.uint8)[:, None, None]
    values = np.zeros((1, 4, 40, 40))
    values[0, :, :, 20:] = GRASS[:, None, None]
    values[0, :, :, :20] = np.array([0.06, 0.05, 0.03, 0.0])[:, None, None]  # water NIR pinned at the floor 0
    masks = class_masks(maps, colours)
    assert class_ndvi(values, masks, BANDS, 100) == {"grass": round((0.45 - 0.035) / 0.485, 3), "water": -1.0}
    assert class_ndvi(values, masks, BANDS, 1000) == {}
    low, high = np.zeros(4), np.array([0.15, 0.17, 0.18, 0.7])
    sat = saturated_fraction(values, low, high, BANDS)
    assert sat["B08"] == {"floor": 0.5, "ceiling": 0.0} and sat["B02"]["floor"] == 0.0
