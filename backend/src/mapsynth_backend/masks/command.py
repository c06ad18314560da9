"""`masks`: residential / non-residential building masks exactly on the grid (or a target raster).

Explicit ``building=*`` values dominate; the fuzzy system (fuzzy.py) decides the rest. Coverage fractions are
area-weighted (a 10 m pixel half covered by a building reads 0.5): polygons are rasterised SUPERSAMPLE times
finer, window by window, and averaged back, at the working pixel size and at 10 m.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import load_grid, snapped_grid
from ..runtime.geotiff import write_geotiff
from ..runtime.jobs import Command, Param
from ..runtime.outputs import GPKG_OPTIONS, atomic_write
from ..runtime.protocol import Reporter, UserError
from .buildings import evidence, read_inputs, tag_class
from .fuzzy import nonresidential_degree

WINDOW = 256  # output pixels per window side
CLASS_CODES = {"residential": 1, "non_residential": 2, "uncertain": 3}


def target_grid(params: dict[str, Any]):
    """(crs, transform, width, height) of the masks."""
    import rasterio
    from rasterio.transform import Affine

    if params["target_raster"]:
        try:
            with rasterio.open(params["target_raster"]) as src:
                if src.crs is None:
                    raise UserError(f"TARGET_RASTER: {params['target_raster']} has no CRS")
                return src.crs, src.transform, src.width, src.height
        except rasterio.errors.RasterioIOError as exc:
            raise UserError(f"TARGET_RASTER: cannot read {params['target_raster']}") from exc
    if not params["patch_grid"]:
        raise UserError("give PATCH_GRID or TARGET_RASTER to align the masks to")
    grid = load_grid(params["patch_grid"])
    if not grid.patches:
        raise UserError(f"PATCH_GRID {grid.path} has no patches")
    boxes = np.array([grid.bounds(p.row, p.col) for p in grid.patches])
    x0, y1 = boxes[:, 0].min(), boxes[:, 3].max()
    width = round((boxes[:, 2].max() - x0) / grid.pixel_size)
    height = round((y1 - boxes[:, 1].min()) / grid.pixel_size)
    return (
        rasterio.crs.CRS.from_wkt(grid.crs_wkt),
        Affine(grid.pixel_size, 0, x0, 0, -grid.pixel_size, y1),
        width,
        height,
    )


def coverage(geometries: list, transform, width: int, height: int, supersample: int, reporter=None) -> np.ndarray:
    """Area-weighted coverage fraction of the union of ``geometries`` per pixel (float32)."""
    import shapely
    from rasterio.features import rasterize
    from rasterio.transform import Affine

    out = np.zeros((height, width), np.float32)
    if not geometries:
        return out
    tree = shapely.STRtree(geometries)
    fine = Affine(transform.a / supersample, 0, transform.c, 0, transform.e / supersample, transform.f)
    for top in range(0, height, WINDOW):
        if reporter is not None:
            reporter.check_cancel()
        for left in range(0, width, WINDOW):
            rows, cols = min(WINDOW, height - top), min(WINDOW, width - left)
            x0, y1 = transform.c + left * transform.a, transform.f + top * transform.e
            box = shapely.box(x0, y1 + rows * transform.e, x0 + cols * transform.a, y1)
            hits = tree.query(box, predicate="intersects")
            if not len(hits):
                continue
            window_transform = fine * Affine.translation(left * supersample, top * supersample)
            burned = rasterize(
                [(geometries[i], 1) for i in hits],
                out_shape=(rows * supersample, cols * supersample),
                transform=window_transform,
                fill=0,
                dtype="uint8",
            )
            out[top : top + rows, left : left + cols] = burned.reshape(rows, supersample, cols, supersample).mean(
                axis=(1, 3)
            )
    return out


def write_mask(path: Path, data: np.ndarray, crs, transform, description: str) -> None:
    write_geotiff(
        path,
        data[None],
        crs,
        transform,
        descriptions=[description],
        tags={"units": "fraction of pixel area covered", "range": "0-1"},
        tiled=data.shape[0] >= 256 and data.shape[1] >= 256,
    )


def classify(degree: np.ndarray, residential_max: float, nonresidential_min: float) -> list[str]:
    return [
        "residential" if d <= residential_max else "non_residential" if d >= nonresidential_min else "uncertain"
        for d in degree
    ]


def building_masks(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import shapely

    if not params["residential_max"] < params["nonresidential_min"]:
        raise UserError("RESIDENTIAL_MAX must be below NONRESIDENTIAL_MIN")
    crs, transform, width, height = target_grid(params)
    if crs.is_geographic:
        raise UserError("the target CRS is geographic; masks need a projected, metric grid")
    bounds = (transform.c, transform.f + height * transform.e, transform.c + width * transform.a, transform.f)
    margin = 500.0  # context (land use, POIs, density) reaches beyond the area
    reporter.progress(0.05, "reading buildings, land use and POIs", "masks")
    inputs = read_inputs(
        params["osm_file"],
        params["buildings"],
        params["landuse"],
        params["pois"],
        crs.to_wkt(),
        (bounds[0] - margin, bounds[1] - margin, bounds[2] + margin, bounds[3] + margin),
    )
    for source in sorted(set(inputs.reprojected)):
        reporter.log(f"inputs in {source} were reprojected to the target CRS", "warning")
    if inputs.repaired:
        reporter.log(f"{inputs.repaired} invalid building geometries were repaired", "warning")
    area = shapely.box(*bounds)
    inside = [i for i, g in enumerate(inputs.buildings) if g.intersects(area)]
    if not inside:
        raise UserError("no buildings in the target area (check the OSM extract or layers against the grid)")
    reporter.progress(0.3, f"evidence for {len(inputs.buildings)} buildings", "masks")
    features = evidence(inputs)
    context = nonresidential_degree(features)
    tagged = [tag_class(tags) for tags in inputs.building_tags]
    degree = np.array(
        [
            0.0 if t == "residential" else 1.0 if t == "non_residential" else c
            for t, c in zip(tagged, context, strict=True)
        ]
    )
    classes = classify(degree, params["residential_max"], params["nonresidential_min"])
    known = [i for i, t in enumerate(tagged) if t]
    context_classes = classify(context, params["residential_max"], params["nonresidential_min"])
    hidden_correct = sum(context_classes[i] == tagged[i] for i in known)
    decided = sum(context_classes[i] != "uncertain" for i in known)
    reporter.log(
        f"context only (tags hidden) on {len(known)} tagged buildings: {hidden_correct} correct, {decided} decided"
    )
    out_dir = Path(params["output_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_buildings(
        Path(params["output_buildings"] or out_dir / "buildings.gpkg"),
        inputs,
        features,
        degree,
        context,
        classes,
        tagged,
        crs,
    )
    geoms = inputs.buildings
    nonres = [geoms[i] for i in range(len(geoms)) if classes[i] == "non_residential"]
    outputs = {}
    grids = [("", transform, width, height)]
    if abs(transform.a - 10.0) > 1e-6:
        grids.append(("_10m", *snapped_grid(transform, width, height, 10.0)))
    for step, (suffix, grid_transform, grid_width, grid_height) in enumerate(grids):
        factor = max(params["supersample"], math.ceil(grid_transform.a / 1.25))
        for name, selection, label in (
            ("buildings", geoms, "building coverage fraction"),
            ("nonresidential", nonres, "non-residential building coverage fraction"),
        ):
            data = coverage(selection, grid_transform, grid_width, grid_height, factor, reporter)
            path = out_dir / f"{name}_coverage{suffix}.tif"
            write_mask(path, data, crs, grid_transform, label)
            outputs[f"{name}{suffix or '_working'}"] = str(path)
        reporter.progress(0.6 + 0.4 * (step + 1) / len(grids), f"masks{suffix or ' at the working size'}", "masks")
    counts = {c: classes.count(c) for c in CLASS_CODES}
    return {
        "output_dir": str(out_dir),
        "buildings": len(geoms),
        "classes": counts,
        "masks": outputs,
        "tagged": len(known),
        "hidden_tag_accuracy": hidden_correct / len(known) if known else None,
        "hidden_tag_decided": decided / len(known) if known else None,
        "repaired_geometries": inputs.repaired,
    }


def _write_buildings(path: Path, inputs, features, degree, context, classes, tagged, crs) -> None:
    import shapely
    from pyogrio.raw import write

    ids = [tags.get("osm_id") or tags.get("osm_way_id") or "" for tags in inputs.building_tags]
    fields = {
        "osm_id": ids,
        "building": [tags.get("building", "") for tags in inputs.building_tags],
        "tag_class": [t or "" for t in tagged],
        **{k: v.astype(float) for k, v in features.items()},
        "context_degree": context,
        "nonres_degree": degree,
        "class": classes,
    }
    names = list(fields)
    data = [np.asarray(fields[n], dtype=object if isinstance(fields[n], list) else float) for n in names]
    geometry = np.array([shapely.to_wkb(_multi(g)) for g in inputs.buildings], dtype=object)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(
        path,
        lambda tmp: write(
            str(tmp),
            geometry,
            data,
            names,
            layer="buildings",
            driver="GPKG",
            geometry_type="MultiPolygon",
            crs=crs.to_wkt(),
            dataset_options=GPKG_OPTIONS,
        ),
    )


def _multi(geometry):
    import shapely

    return geometry if geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([geometry])


COMMANDS = (
    Command(
        "building-masks",
        "Residential / non-residential building masks from OSM tags and geometry, with fuzzy inference.",
        building_masks,
        (
            Param("osm_file", "str", "", "OSM extract (.osm.pbf, .osm, .osm.gz, .osm.bz2, .gpkg of OSM layers)"),
            Param("buildings", "str", "", "or: building polygons (field building)"),
            Param("landuse", "str", "", "land-use polygons (fields landuse, amenity)"),
            Param("pois", "str", "", "amenity/shop/office points"),
            Param("patch_grid", "str", "", "align to this grid"),
            Param("target_raster", "str", "", "or: align to this raster (e.g. an assembled mosaic)"),
            Param(
                "residential_max",
                "float",
                0.4,
                "degree at or below which a building is residential",
                minimum=0,
                maximum=1,
            ),
            Param(
                "nonresidential_min",
                "float",
                0.6,
                "degree at or above which it is non-residential",
                minimum=0,
                maximum=1,
            ),
            Param("supersample", "int", 8, "sub-pixels per pixel side for coverage fractions", minimum=1, maximum=64),
            Param("output_buildings", "str", "", "buildings GeoPackage (default OUTPUT_DIR/buildings.gpkg)"),
            Param("output_dir", "path", help="folder for the coverage GeoTIFFs"),
        ),
    ),
)
