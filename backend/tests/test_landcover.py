"""Derived land-cover maps and the OSM -> derived-class remap."""

import numpy as np

from mapsynth_backend.generate.sampling import remap_map
from mapsynth_backend.prepare.landcover import MAP_REMAP, derive, palette, remap_table


def scene():
    """Left: sea; middle: grass field crossed by a dark hedgerow; right: town and a bright beach strip."""
    refl = np.zeros((4, 40, 60))
    refl[:, :, :20] = np.array([0.06, 0.05, 0.03, 0.015])[:, None, None]  # water
    refl[:, :, 20:40] = np.array([0.03, 0.06, 0.035, 0.45])[:, None, None]  # grass
    refl[:, :, 30] = np.array([0.02, 0.035, 0.02, 0.25])[:, None]  # hedgerow: a dark line in NIR
    refl[:, 10, 20:40] = np.array([0.09, 0.1, 0.1, 0.25])[:, None]  # a lane: a bright, bare line across the field
    refl[:, :, 40:50] = np.array([0.08, 0.085, 0.09, 0.14])[:, None, None]  # built-up
    refl[:, :, 50:] = np.array([0.12, 0.13, 0.15, 0.19])[:, None, None]  # sand
    return refl


def colour_at(rgb, y, x):
    return tuple(int(v) for v in rgb[:, y, x])


def test_classes_and_linear_structure_are_derived():
    colours = palette()
    rgb = derive(scene())
    assert colour_at(rgb, 20, 5) == colours["water"]
    assert colour_at(rgb, 20, 25) == colours["grass"]
    assert colour_at(rgb, 20, 30) == colours["hedge"]
    assert colour_at(rgb, 20, 45) == colours["other_building"]
    assert colour_at(rgb, 20, 55) == colours["bare"]
    assert all(colour_at(rgb, 10, x) == colours["minor_road"] for x in range(23, 38))
    assert colour_at(rgb, 11, 25) == colours["grass"] and colour_at(rgb, 30, 30) == colours["hedge"]


def test_every_osm_class_is_remapped_onto_a_derived_class():
    colours = palette()
    assert set(MAP_REMAP) == set(colours)
    table = remap_table()
    osm = np.zeros((3, 2, 2), np.uint8)
    osm[:, 0, 0] = colours["farmland"]
    osm[:, 0, 1] = colours["major_road"]
    osm[:, 1, 0] = colours["water"]
    osm[:, 1, 1] = colours["parcel_boundary"]
    out = remap_map(osm, table)
    assert colour_at(out, 0, 0) == colours["grass"] and colour_at(out, 0, 1) == colours["minor_road"]
    assert colour_at(out, 1, 0) == colours["water"] and colour_at(out, 1, 1) == colours["hedge"]
    assert remap_map(osm, None) is osm


def test_the_backend_palette_is_the_plugin_palette():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    plugin_copy = root / "resources" / "styles" / "semantic_palette.json"
    backend_copy = root / "backend" / "src" / "mapsynth_backend" / "data" / "semantic_palette.json"
    assert plugin_copy.read_text() == backend_copy.read_text()


def two_fields():
    """Two grass fields side by side, a lighter and a darker green meeting at x = 30 (no hedge between them), and a
    field with a smooth brightness ramp across it (no edge anywhere) below them."""
    refl = np.zeros((4, 60, 60))
    refl[:, :30, :30] = np.array([0.04, 0.08, 0.045, 0.42])[:, None, None]
    refl[:, :30, 30:] = np.array([0.03, 0.06, 0.035, 0.30])[:, None, None]
    ramp = np.linspace(0.0, 1.0, 60)[None, None, :]
    refl[:, 30:, :] = (
        np.array([0.03, 0.06, 0.035, 0.30])[:, None, None] + ramp * np.array([0.01, 0.02, 0.01, 0.12])[:, None, None]
    )
    return refl


def test_parcel_boundaries_draw_where_two_fields_meet_and_nowhere_in_an_even_or_smoothly_varying_field():
    colours = palette()
    plain, parcels = derive(two_fields()), derive(two_fields(), parcel_boundaries=True)
    boundary = np.all(parcels == np.array(colours["parcel_boundary"])[:, None, None], axis=0)
    assert not np.all(plain == np.array(colours["parcel_boundary"])[:, None, None], axis=0).any()  # off by default
    rows, cols = np.nonzero(boundary)
    on_a_step = np.isin(cols, [29, 30, 31]) | np.isin(rows, [29, 30, 31])  # the fields meet at x = 30 and y = 30
    assert len(rows) and on_a_step.all()  # lines on the steps, one pixel wide
    vertical = rows[np.isin(cols, [29, 30, 31]) & (rows < 28)]
    assert len(vertical) >= 24 and vertical.min() <= 4  # along the whole edge between the two fields
    assert not boundary[33:].any()  # inside the ramp, 0.002 NIR per pixel: no edge
    others = ~boundary
    assert np.array_equal(parcels[:, others], plain[:, others])  # every other pixel keeps its class


def test_the_classes_are_unchanged_without_parcel_boundaries():
    assert np.array_equal(derive(scene()), derive(scene(), parcel_boundaries=False))


def suburb():
    """Left half: a suburb, grey roofs of 3 x 3 px every 6 px in gardens; right half: an open pasture with one farm
    building; along the bottom of the pasture a yellow sand strip (not sealed ground)."""
    refl = np.zeros((4, 64, 64))
    refl[:] = np.array([0.03, 0.06, 0.035, 0.45])[:, None, None]  # grass
    for y in range(2, 60, 6):
        for x in range(2, 30, 6):
            refl[:, y : y + 3, x : x + 3] = np.array([0.08, 0.085, 0.09, 0.14])[:, None, None]  # roofs
    refl[:, 20:23, 50:53] = np.array([0.08, 0.085, 0.09, 0.14])[:, None, None]  # a farm building
    refl[:, 56:, 34:] = np.array([0.12, 0.13, 0.15, 0.19])[:, None, None]  # sand
    return refl


def test_settlements_turn_the_gardens_of_a_town_into_residential_land_use_and_nothing_else():
    colours = palette()
    plain, town = derive(suburb()), derive(suburb(), settlements=True)
    residential = np.all(town == np.array(colours["residential_landuse"])[:, None, None], axis=0)
    assert not np.all(plain == np.array(colours["residential_landuse"])[:, None, None], axis=0).any()  # off by default
    gardens = np.all(plain == np.array(colours["grass"])[:, None, None], axis=0)
    assert residential[8:50, 6:26][gardens[8:50, 6:26]].all()  # every garden inside the suburb
    assert not residential[:, 40:].any()  # the pasture, its farm building and the sand next to it stay as they were
    assert colour_at(town, 21, 51) == colours["other_building"] and colour_at(town, 3, 3) == colours["other_building"]
    assert np.array_equal(town[:, ~residential], plain[:, ~residential])  # only vegetation changed class
    assert np.array_equal(derive(suburb()), derive(suburb(), settlements=False))
