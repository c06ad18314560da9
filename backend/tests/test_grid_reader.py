"""The backend's grid reader. The QGIS tier cross-checks it against grids written by the plugin."""

import json
import sqlite3

import pytest

from mapsynth_backend.grid import GRID_FORMAT, PatchGrid, fingerprint, load_grid, patch_id
from mapsynth_backend.runtime.protocol import UserError

DEFINITION = {
    "format": GRID_FORMAT,
    "format_version": 1,
    "crs_wkt": "PROJCRS[...]",
    "origin_x": 385000.0,
    "origin_y": 6673000.0,
    "pixel_size": 10.0,
    "patch_size": 64,
    "overlap": 12,
    "rows": 3,
    "cols": 4,
}


def write_grid(path, definition, cells):
    """Only the two tables the reader uses (the real writer is the plugin: see tests/qgis)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE mapsynth_grid (fid INTEGER PRIMARY KEY, definition TEXT, fingerprint TEXT)")
        conn.execute(
            "INSERT INTO mapsynth_grid (definition, fingerprint) VALUES (?, ?)",
            (json.dumps(definition), definition.get("fingerprint")),
        )
        conn.execute(
            "CREATE TABLE patches (fid INTEGER PRIMARY KEY, patch_id TEXT, row INTEGER, col INTEGER, split TEXT)"
        )
        conn.executemany("INSERT INTO patches (patch_id, row, col, split) VALUES (?, ?, ?, ?)", cells)


def test_fingerprint_changes_with_geometry_only():
    base = fingerprint(DEFINITION)
    assert base == fingerprint({**DEFINITION, "created": "another day"})
    for key, value in (("origin_x", 385010.0), ("overlap", 8), ("rows", 4), ("crs_wkt", "PROJCRS[..x]")):
        assert fingerprint({**DEFINITION, key: value}) != base, key


def test_bounds_follow_stride_with_row0_north():
    grid = PatchGrid(None, {**DEFINITION, "fingerprint": fingerprint(DEFINITION)}, ())
    assert grid.stride == 52
    assert grid.bounds(0, 0) == (385000.0, 6673000.0 - 640.0, 385640.0, 6673000.0)
    x0, y0, x1, y1 = grid.bounds(2, 3)
    assert (x0, y1) == (385000.0 + 3 * 520.0, 6673000.0 - 2 * 520.0)
    assert grid.transform(1, 1) == (385520.0, 10.0, 0.0, 6672480.0, 0.0, -10.0)
    assert patch_id(3, 12) == "r0003_c0012"


def test_load_grid_reads_and_verifies(tmp_path):
    definition = {**DEFINITION, "fingerprint": fingerprint(DEFINITION)}
    write_grid(tmp_path / "g.gpkg", definition, [("r0000_c0001", 0, 1, "train"), ("r0002_c0003", 2, 3, "test")])
    grid = load_grid(tmp_path / "g.gpkg")
    assert [p.patch_id for p in grid.patches] == ["r0000_c0001", "r0002_c0003"]
    assert grid.patch("r0002_c0003").split == "test"


def test_load_grid_refuses_a_tampered_definition(tmp_path):
    tampered = {**DEFINITION, "fingerprint": fingerprint(DEFINITION), "overlap": 10}
    write_grid(tmp_path / "g.gpkg", tampered, [])
    with pytest.raises(UserError, match="fingerprint mismatch"):
        load_grid(tmp_path / "g.gpkg")


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b""])
def test_load_grid_refuses_non_grids(tmp_path, content):
    path = tmp_path / "x y ü.gpkg"
    path.write_bytes(content)
    with pytest.raises(UserError, match="not a MapSynth patch grid"):
        load_grid(path)


def test_load_grid_refuses_cells_outside_the_grid(tmp_path):
    definition = {**DEFINITION, "fingerprint": fingerprint(DEFINITION)}
    write_grid(tmp_path / "g.gpkg", definition, [("r0009_c0000", 9, 0, "train")])
    with pytest.raises(UserError, match="outside"):
        load_grid(tmp_path / "g.gpkg")
