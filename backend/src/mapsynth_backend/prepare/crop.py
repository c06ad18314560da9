"""`crop-sentinel2`: one 4-band reflectance GeoTIFF per grid patch, resampled onto the grid's pixels."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import load_grid
from ..radiometry import ENCODING, encode_reflectance
from ..runtime.geotiff import write_geotiff
from ..runtime.jobs import Command, Param
from ..runtime.outputs import prepare_output_dir
from ..runtime.protocol import Reporter, UserError
from .finish import finish_patches
from .sentinel2 import open_source, scl_masks

RESAMPLING = ("auto", "nearest", "bilinear", "cubic", "average")


def _boxes_overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def crop_sentinel2(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import rasterio
    from rasterio._err import CPLE_BaseError
    from rasterio.crs import CRS
    from rasterio.enums import Resampling
    from rasterio.errors import RasterioError
    from rasterio.transform import Affine
    from rasterio.warp import reproject, transform_bounds

    grid = load_grid(params["patch_grid"])
    if not grid.patches:
        raise UserError(f"PATCH_GRID {grid.path} has no patches")
    source = open_source(params["input"], params["bands"], params["scale"], params["offset"])
    grid_crs = CRS.from_wkt(grid.crs_wkt)
    names = [band.name for band in source.bands]
    out_dir = Path(params["output_dir"])
    with ExitStack() as stack:
        datasets = {}
        for path in {band.path for band in source.bands} | ({source.scl_path} if source.scl_path else set()):
            try:
                datasets[path] = stack.enter_context(rasterio.open(path))
            except rasterio.errors.RasterioIOError as exc:
                raise UserError(f"INPUT: cannot read {path}: {exc}") from exc
        for band in source.bands:
            dataset = datasets[band.path]
            if not 1 <= band.index <= dataset.count:
                raise UserError(f"BANDS: {band.name} is band {band.index} but {band.path} has {dataset.count} band(s)")
            if dataset.crs is None:
                raise UserError(f"INPUT: {band.path} has no CRS; assign one (gdal_edit.py -a_srs) before cropping")
        reference = datasets[source.bands[0].path]
        footprint = transform_bounds(reference.crs, grid_crs, *reference.bounds, densify_pts=21)
        inside = [p for p in grid.patches if _boxes_overlap(grid.bounds(p.row, p.col), footprint)]
        if not inside:
            raise UserError(
                f"INPUT does not overlap the grid: its footprint {tuple(round(v) for v in footprint)} lies"
                f" outside every patch (grid CRS {grid.definition.get('crs_authid')})"
            )
        method = params["resampling"]
        if method == "auto":
            method = "average" if grid.pixel_size > 1.2 * abs(reference.res[0]) else "bilinear"
        resampling = Resampling[method]
        prepare_output_dir(
            out_dir,
            "sentinel2",
            grid.fingerprint,
            {"source": source.description, "bands": names, "resampling": method, "encoding": ENCODING["formula"]},
        )
        groups: dict[str, list[int]] = {}
        for position, band in enumerate(source.bands):
            groups.setdefault(band.path, []).append(position)
        scales = np.array([b.scale for b in source.bands], np.float32)[:, None, None]
        offsets = np.array([b.offset for b in source.bands], np.float32)[:, None, None]
        size = grid.patch_size
        records, written, skipped = [], 0, 0
        started = time.perf_counter()
        for number, patch in enumerate(grid.patches):
            reporter.check_cancel()
            reporter.progress(number / len(grid.patches), f"patch {patch.patch_id}", "crop-sentinel2")
            target = out_dir / f"{patch.patch_id}.tif"
            if target.exists():
                skipped += 1
                continue
            bounds = grid.bounds(patch.row, patch.col)
            if not _boxes_overlap(bounds, footprint):
                records.append({"patch_id": patch.patch_id, "status": "outside", "valid_fraction": 0.0})
                continue
            transform = Affine(grid.pixel_size, 0, bounds[0], 0, -grid.pixel_size, bounds[3])
            data = np.full((len(names), size, size), np.nan, np.float32)
            for path, positions in groups.items():
                dataset = datasets[path]
                out = np.full((len(positions), size, size), np.nan, np.float32)
                try:
                    reproject(
                        rasterio.band(dataset, [source.bands[p].index for p in positions]),
                        out,
                        src_nodata=dataset.nodata,
                        dst_transform=transform,
                        dst_crs=grid_crs,
                        dst_nodata=np.nan,
                        resampling=resampling,
                    )
                except (RasterioError, CPLE_BaseError) as exc:  # a damaged or truncated file fails only here
                    raise UserError(
                        f"INPUT: cannot read {path} under patch {patch.patch_id} ({exc}); the file is damaged or"
                        " incomplete (patches written so far are complete)"
                    ) from exc
                data[positions] = out
            reflectance = data * scales + offsets
            valid = np.isfinite(reflectance).all(axis=0)
            cloud = np.zeros_like(valid)
            if source.scl_path:
                scl = np.zeros((size, size), np.uint8)
                reproject(
                    rasterio.band(datasets[source.scl_path], 1),
                    scl,
                    src_nodata=0,
                    dst_transform=transform,
                    dst_crs=grid_crs,
                    dst_nodata=0,
                    resampling=Resampling.nearest,
                )
                scl_valid, cloud = scl_masks(scl)
                valid &= scl_valid
            valid_fraction = float(valid.mean())
            if valid_fraction == 0.0:
                records.append({"patch_id": patch.patch_id, "status": "outside", "valid_fraction": 0.0})
                continue
            cloud_fraction = float((cloud & valid).sum() / valid.sum())
            dn = encode_reflectance(reflectance, valid[None])
            tags = {
                "patch_id": patch.patch_id,
                "grid_fingerprint": grid.fingerprint,
                "encoding": ENCODING["formula"],
                "source": source.description,
                "cloud_fraction": f"{cloud_fraction:.6f}",
            }
            write_geotiff(target, dn, grid_crs, transform, reflectance_bands=names, tags=tags, predictor=2)
            written += 1
            records.append(
                {
                    "patch_id": patch.patch_id,
                    "status": "ok",
                    "valid_fraction": valid_fraction,
                    "cloud_fraction": cloud_fraction,
                    "output": str(target),
                }
            )
        elapsed = time.perf_counter() - started
        if not written + skipped:
            raise UserError(
                f"INPUT has no valid pixel under any patch of the grid: {params['input']} overlaps it only with"
                " nodata (or SCL no-data); choose the scene that covers this area"
            )
    counts = finish_patches(grid, "s2", records, (written, skipped), reporter, "crop-sentinel2", "outside the scene")
    return {
        "output_dir": str(out_dir),
        **counts,
        "skipped": skipped,
        "resampling": method,
        "source": source.description,
        "loop_seconds": round(elapsed, 3),
    }


COMMANDS = (
    Command(
        "crop-sentinel2",
        "Crop and resample a Sentinel-2 L2A SAFE (folder or zip) or a raster onto every patch of the grid.",
        crop_sentinel2,
        (
            Param("patch_grid", "path", help="the grid GeoPackage"),
            Param("input", "path", help="SAFE folder, its zip, its MTD_MSIL2A.xml, or a raster"),
            Param("bands", "str", "B02,B03,B04,B08", "band names (raster: NAME, NAME=index or NAME=path[:index])"),
            Param("scale", "float", 0.0, "raster only: reflectance = DN * SCALE + OFFSET"),
            Param("offset", "float", 0.0, "raster only: see SCALE"),
            Param("resampling", "str", "auto", "auto = average when downsampling, else bilinear", choices=RESAMPLING),
            Param("output_dir", "path", help="folder for <patch_id>.tif"),
        ),
    ),
)
