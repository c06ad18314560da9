"""Building masks: membership functions, every rule, tag dominance, exact coverage fractions, bad inputs."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from mapsynth_backend.masks.buildings import NONRESIDENTIAL_TAGS, RESIDENTIAL_TAGS, tag_class
from mapsynth_backend.masks.command import COMMANDS, building_masks, coverage
from mapsynth_backend.masks.fuzzy import ANTECEDENTS, RULES, UNDECIDED, describe, membership, nonresidential_degree
from mapsynth_backend.runtime.protocol import ConsoleReporter, UserError

sys.path.insert(0, str(Path(__file__).parent))
from model_fixtures import make_grid  # noqa: E402

REPORTER = ConsoleReporter(json_result=False)
NEUTRAL = {
    "nonres_share": 0.0,
    "res_share": 0.0,
    "nonres_distance_m": 150.0,
    "pois": 0.0,
    "log_area": 2.5,
    "elongation": 1.5,
    "density_per_ha": 12.0,
}


@pytest.mark.parametrize("variable, spec, terms", ANTECEDENTS, ids=[a[0] for a in ANTECEDENTS])
def test_membership_functions_cover_their_universe_and_peak_at_one(variable, spec, terms):
    start, stop, _ = spec
    for value in np.linspace(start, stop, 97):
        assert max(membership(variable, term, value) for term in terms) > 0, (variable, value)
    for term, (kind, params) in terms.items():
        peak = params[1] if kind == "trimf" else (params[1] + params[2]) / 2
        assert membership(variable, term, peak) == pytest.approx(1.0), (variable, term)


def degree(**overrides):
    features = {k: np.array([v]) for k, v in {**NEUTRAL, **overrides}.items()}
    return float(nonresidential_degree(features)[0])


# For each rule: a building that fires it (strongly) and where it should push the degree.
RULE_CASES = {
    "R1": ({"nonres_share": 1.0, "nonres_distance_m": 0}, "high"),
    "R2": ({"res_share": 1.0, "nonres_distance_m": 300}, "low"),
    "R3": ({"pois": 5, "log_area": 2.5}, "high"),
    "R4": ({"pois": 1, "log_area": 3.3}, "high"),
    "R5": ({"log_area": 4.5}, "high"),
    "R6": ({"log_area": 3.2, "nonres_distance_m": 5}, "high"),
    "R7": ({"log_area": 1.8, "pois": 0, "nonres_distance_m": 300}, "low"),
    "R8": ({"log_area": 2.5, "nonres_distance_m": 400}, "low"),
    "R9": ({"res_share": 1.0, "log_area": 2.2}, "low"),
    "R10": ({"res_share": 1.0, "pois": 1.5}, "medium"),
    "R11": ({"elongation": 6, "log_area": 3.2, "nonres_distance_m": 5}, "high"),
    "R12": ({"density_per_ha": 2, "log_area": 1.8}, "low"),
    "R13": ({"nonres_distance_m": 400, "log_area": 2.4}, "low"),
    "R14": ({"nonres_share": 0.5, "nonres_distance_m": 0, "log_area": 2.5}, "medium"),
    "R15": ({"density_per_ha": 50, "pois": 1, "res_share": 0.5}, "medium"),
    "R16": ({"log_area": 1.0, "nonres_distance_m": 300}, "high"),
}


def test_every_documented_rule_has_a_case():
    assert {rule_id for rule_id, *_ in RULES} == set(RULE_CASES)
    text = describe()
    assert all(f"| {rule_id} |" in text for rule_id in RULE_CASES)


@pytest.mark.parametrize("rule_id", sorted(RULE_CASES, key=lambda r: int(r[1:])))
def test_rule_pushes_the_degree_its_way(rule_id):
    overrides, direction = RULE_CASES[rule_id]
    value = degree(**overrides)
    if direction == "high":
        assert value > 0.6, value
    elif direction == "low":
        assert value < 0.4, value
    else:
        assert 0.3 <= value <= 0.7, value


def test_no_firing_rule_gives_undecided_without_breaking_the_batch():
    """A 1,600 m2 building far from anything, without POIs, fires no rule: it stays undecided (0.5) while its
    neighbours in the same batch are evaluated normally, exactly as one by one."""
    isolated = {**NEUTRAL, "log_area": 3.2, "nonres_distance_m": 300.0, "density_per_ha": 5.0, "elongation": 1.2}
    rows = [{**NEUTRAL, "nonres_share": 1.0, "nonres_distance_m": 0.0}, isolated, {**NEUTRAL, "log_area": 1.8}]
    batch = nonresidential_degree({k: np.array([row[k] for row in rows]) for k in NEUTRAL})
    assert batch[1] == UNDECIDED
    assert batch[0] > 0.6 and batch[2] < 0.4
    assert batch.tolist() == pytest.approx([degree(**row) for row in rows])


def test_explicit_tags_are_classified_by_the_tables():
    assert tag_class({"building": "apartments"}) == "residential"
    assert tag_class({"building": "industrial"}) == "non_residential"
    assert tag_class({"building": "yes"}) is None
    assert tag_class({"building": "yes", "building:use": "residential"}) == "residential"
    assert not RESIDENTIAL_TAGS & NONRESIDENTIAL_TAGS


def test_coverage_fractions_equal_polygon_area_over_pixel_area():
    transform = from_origin(1000, 2000, 10, 10)
    square = shapely.box(1005, 1955, 1015, 1965)  # a 10 x 10 m building straddling 4 pixels
    triangle = shapely.Polygon([(1031.3, 1989.1), (1058.7, 1987.9), (1033.2, 1961.4)])
    data = coverage([square, triangle], transform, 8, 6, 16)
    assert data[3:5, 0:2].tolist() == [[0.25, 0.25], [0.25, 0.25]]
    assert data.sum() * 100 == pytest.approx(square.area + triangle.area, rel=0.01)
    assert data.max() <= 1.0


def write_layers(folder: Path) -> dict:
    """Buildings, land use and POIs as GeoPackages in EPSG:4326 (a CRS unlike the grid's)."""
    from pyogrio.raw import write
    from pyproj import Transformer

    to_wgs = Transformer.from_crs(32630, 4326, always_xy=True)

    def geo(g):
        return shapely.transform(g, lambda xy: np.column_stack(to_wgs.transform(xy[:, 0], xy[:, 1])))

    x0, y0 = 420100, 5808500
    houses = [shapely.box(x0 + 30 * i, y0, x0 + 30 * i + 12, y0 + 10) for i in range(5)]
    hall = shapely.box(x0, y0 - 200, x0 + 120, y0 - 150)
    bowtie = shapely.Polygon([(x0 + 200, y0), (x0 + 220, y0 + 20), (x0 + 220, y0), (x0 + 200, y0 + 20)])
    buildings = [*houses, hall, bowtie]
    tags = ["house"] * 2 + ["yes"] * 3 + ["yes", "yes"]
    write(
        str(folder / "buildings.gpkg"),
        np.array([shapely.to_wkb(geo(g)) for g in buildings], dtype=object),
        [np.array(tags, dtype=object)],
        ["building"],
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:4326",
    )
    landuse = [shapely.box(x0 - 20, y0 - 10, x0 + 200, y0 + 30), shapely.box(x0 - 20, y0 - 220, x0 + 150, y0 - 130)]
    write(
        str(folder / "landuse.gpkg"),
        np.array([shapely.to_wkb(geo(g)) for g in landuse], dtype=object),
        [np.array(["residential", "industrial"], dtype=object)],
        ["landuse"],
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:4326",
    )
    return {
        "buildings": str(folder / "buildings.gpkg"),
        "landuse": str(folder / "landuse.gpkg"),
        "houses": houses,
        "hall": hall,
    }


def test_layers_in_another_crs_are_reprojected_and_classified(tmp_path, capsys):
    layers = write_layers(tmp_path)
    make_grid(tmp_path / "grid.gpkg", 2, 2, 64)
    params = COMMANDS[0].resolve(
        {
            "buildings": layers["buildings"],
            "landuse": layers["landuse"],
            "patch_grid": str(tmp_path / "grid.gpkg"),
            "output_dir": str(tmp_path / "out"),
        }
    )
    result = building_masks(params, REPORTER)
    assert result["buildings"] == 7 and result["repaired_geometries"] >= 1  # the bow-tie was made valid
    messages = capsys.readouterr().err
    assert "EPSG:4326 were reprojected" in messages and "invalid building geometries were repaired" in messages
    import pyogrio

    meta, _, _, values = pyogrio.raw.read(str(tmp_path / "out" / "buildings.gpkg"))
    fields = dict(zip(meta["fields"], values, strict=True))
    assert list(fields["class"][:5]) == ["residential"] * 5  # tagged houses and untagged ones in residential use
    assert fields["class"][5] == "non_residential"  # a 6,000 m2 hall inside industrial land use
    with rasterio.open(result["masks"]["buildings_working"]) as src:
        assert src.transform == from_origin(420000, 5809000, 10, 10) and src.shape == (128, 128)
        total = src.read(1).sum() * 100
    expected = sum(g.area for g in layers["houses"]) + layers["hall"].area + 200
    assert total == pytest.approx(expected, rel=0.02)
    with rasterio.open(result["masks"]["nonresidential_working"]) as src:
        assert src.read(1).sum() * 100 == pytest.approx(layers["hall"].area, rel=0.02)


def test_bad_inputs_give_clear_errors(tmp_path):
    make_grid(tmp_path / "grid.gpkg", 1, 1, 16)
    resolve = COMMANDS[0].resolve
    with pytest.raises(UserError, match="give OSM_FILE, or BUILDINGS"):
        building_masks(resolve({"patch_grid": str(tmp_path / "grid.gpkg"), "output_dir": str(tmp_path)}), REPORTER)
    with pytest.raises(UserError, match="give PATCH_GRID or TARGET_RASTER"):
        building_masks(resolve({"buildings": "x.gpkg", "output_dir": str(tmp_path)}), REPORTER)
    with pytest.raises(UserError, match="RESIDENTIAL_MAX must be below"):
        building_masks(
            resolve(
                {
                    "buildings": "x",
                    "patch_grid": str(tmp_path / "grid.gpkg"),
                    "residential_max": 0.7,
                    "output_dir": str(tmp_path),
                }
            ),
            REPORTER,
        )
    layers = write_layers(tmp_path)
    far = make_grid(tmp_path / "far.gpkg", 1, 1, 16)
    assert far
    with pytest.raises(UserError, match="no buildings in the target area"):
        empty_dir = tmp_path / "empty"
        empty_dir.mkdir()
        from pyogrio.raw import write

        write(
            str(empty_dir / "none.gpkg"),
            np.array([], dtype=object),
            [np.array([], dtype=object)],
            ["building"],
            driver="GPKG",
            geometry_type="Polygon",
            crs="EPSG:4326",
        )
        building_masks(
            resolve(
                {
                    "buildings": str(empty_dir / "none.gpkg"),
                    "landuse": layers["landuse"],
                    "patch_grid": str(tmp_path / "far.gpkg"),
                    "output_dir": str(tmp_path / "o"),
                }
            ),
            REPORTER,
        )
    assert json.dumps(describe())


def test_docs_show_the_rule_base_the_code_uses():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "MASKS.md").read_text()
    assert describe() in docs
