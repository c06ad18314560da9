"""`export-netcdf`: a mosaic (and its masks and label map) as a CF-1.8 netCDF-4 file, and optionally one small
file per patch for dataset users.

Reflectance stays packed as in the GeoTIFFs (scale_factor 1e-4, add_offset -0.1, _FillValue 0), as ``short``
because CF-1.8 has no unsigned types (DN up to 32767, reflectance up to 3.17: lossless in practice); the CRS is
a CF grid mapping (``spatial_ref``) with its WKT. The mosaic is written strip by strip (netCDF4), so its size is
not limited by memory; per-patch files go through xarray/rioxarray.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .grid import load_grid, read_status
from .radiometry import ENCODING
from .runtime.jobs import Command, Param
from .runtime.outputs import atomic_write
from .runtime.protocol import Reporter, UserError

WAVELENGTH_NM = {"B02": 490, "B03": 560, "B04": 665, "B08": 842}
BAND_NAMES = {"B02": "blue", "B03": "green", "B04": "red", "B08": "near infrared"}
ATTRIBUTION = "© OpenStreetMap contributors; Contains modified Copernicus Sentinel data"
STRIP = 512


def _open(path: str, label: str):
    import rasterio

    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise UserError(f"{label}: cannot read {path}") from exc


def _variable_name(path: str, description: str | None) -> str:
    stem = Path(path).stem.lower()
    for suffix in ("_10m",):
        stem = stem.removesuffix(suffix)
    return "".join(c if c.isalnum() else "_" for c in stem).strip("_") or (description or "mask")


def global_attributes(tags: dict[str, str], source_name: str) -> dict[str, str]:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {
        "Conventions": "CF-1.8",
        "title": "MapSynth synthetic Sentinel-2-like surface reflectance",
        "summary": "Synthetic multispectral imagery generated from a map by a conditioned diffusion model "
        "(MapSynth); not an observation.",
        "source": f"MapSynth {__version__} ({tags.get('model_family', 'model')} {tags.get('model', 'unknown')})",
        "history": f"{now}: mapsynth export-netcdf from {source_name}",
        "date_created": now,
        "mapsynth_version": __version__,
        "model": tags.get("model", "unknown"),
        "seed": tags.get("generation_seed", "unknown"),
        "selection_seed": tags.get("seed", "unknown"),
        "grid_fingerprint": tags.get("grid_fingerprint", "unknown"),
        "attribution": ATTRIBUTION,
        "references": "https://github.com/mapsynth/mapsynth",
    }


def _coordinates(transform, width: int, height: int):
    x = transform.c + (np.arange(width) + 0.5) * transform.a
    y = transform.f + (np.arange(height) + 0.5) * transform.e
    return x, y


def export_netcdf(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import netCDF4
    from pyproj import CRS

    mosaic = _open(params["mosaic"], "MOSAIC")
    with mosaic:
        tags = mosaic.tags()
        if tags.get("encoding") != ENCODING["formula"]:
            raise UserError(f"MOSAIC: {params['mosaic']} is not a MapSynth reflectance mosaic (no encoding tag)")
        if mosaic.crs is None:
            raise UserError(f"MOSAIC: {params['mosaic']} has no CRS")
        names = [d or f"band_{i}" for i, d in enumerate(mosaic.descriptions, start=1)]
        transform, width, height = mosaic.transform, mosaic.width, mosaic.height
        extras = []
        for path, kind in [(p, "mask") for p in params["masks"]] + (
            [(params["labels"], "labels")] if params["labels"] else []
        ):
            with _open(path, "MASKS" if kind == "mask" else "LABELS") as src:
                if src.transform != transform or src.shape != (height, width):
                    raise UserError(
                        f"{'MASKS' if kind == 'mask' else 'LABELS'}: {path} is not on the mosaic's grid "
                        f"({src.res[0]} m, {src.width} x {src.height}); give masks at the mosaic's pixel size"
                    )
                extras.append((path, kind, src.descriptions[0]))
        extra_names = ["label" if kind == "labels" else _variable_name(path, d) for path, kind, d in extras]
        cf = CRS.from_user_input(mosaic.crs.to_wkt()).to_cf()
        out = Path(params["output"])
        out.parent.mkdir(parents=True, exist_ok=True)

        def write(tmp: Path) -> None:
            with netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
                nc.setncatts(global_attributes(tags, Path(params["mosaic"]).name))
                nc.createDimension("y", height)
                nc.createDimension("x", width)
                x, y = _coordinates(transform, width, height)
                for name, values, axis in (("x", x, "X"), ("y", y, "Y")):
                    var = nc.createVariable(name, "f8", (name,))
                    var[:] = values
                    var.setncatts(
                        {
                            "standard_name": f"projection_{name}_coordinate",
                            "units": "m",
                            "axis": axis,
                            "long_name": f"{name} coordinate of the pixel centre",
                        }
                    )
                crs_var = nc.createVariable("spatial_ref", "i4")
                crs_var.setncatts({**cf, "spatial_ref": cf.get("crs_wkt", "")})
                chunks = (min(STRIP, height), min(STRIP, width))
                variables = []
                for name in names:
                    var = nc.createVariable(
                        name,
                        "i2",
                        ("y", "x"),
                        zlib=True,
                        complevel=4,
                        chunksizes=chunks,
                        fill_value=np.int16(ENCODING["nodata"]),
                    )
                    var.set_auto_maskandscale(False)
                    var.setncatts(
                        {
                            "standard_name": "surface_bidirectional_reflectance",
                            "units": "1",
                            "long_name": f"synthetic Sentinel-2 {name} ({BAND_NAMES.get(name, name)}) "
                            "surface reflectance",
                            "scale_factor": np.float64(ENCODING["scale"]),
                            "add_offset": np.float64(ENCODING["offset"]),
                            "valid_min": np.int16(1),
                            "valid_max": np.int16(32767),
                            "grid_mapping": "spatial_ref",
                            "sensor_band_identifier": name,
                            "wavelength_nm": WAVELENGTH_NM.get(name, -1),
                        }
                    )
                    variables.append(var)
                extra_vars = []
                for path, kind, description in extras:
                    if kind == "labels":
                        var = nc.createVariable(
                            "label", "i4", ("y", "x"), zlib=True, chunksizes=chunks, fill_value=np.int32(-1)
                        )
                        var.setncatts(
                            {
                                "long_name": "source grid cell and variation of each pixel",
                                "comment": "(row * columns + col) * 1000 + variation",
                                "grid_mapping": "spatial_ref",
                            }
                        )
                    else:
                        var = nc.createVariable(
                            _variable_name(path, description), "f4", ("y", "x"), zlib=True, chunksizes=chunks
                        )
                        var.setncatts(
                            {
                                "long_name": description or Path(path).stem,
                                "units": "1",
                                "valid_min": np.float32(0),
                                "valid_max": np.float32(1),
                                "grid_mapping": "spatial_ref",
                            }
                        )
                    extra_vars.append((path, var))
                for top in range(0, height, STRIP):
                    reporter.check_cancel()
                    rows = min(STRIP, height - top)
                    window = ((top, top + rows), (0, width))
                    data = mosaic.read(window=window)
                    for var, band in zip(variables, data, strict=True):
                        # CF-1.8 has no unsigned types: DN above 32767 (reflectance > 3.17) is clipped
                        var[top : top + rows, :] = np.minimum(band, 32767).astype(np.int16)
                    for path, var in extra_vars:
                        with _open(path, "MASKS") as src:
                            var[top : top + rows, :] = src.read(1, window=window)
                    reporter.progress(0.8 * (top + rows) / height, "writing netCDF", "export-netcdf")

        atomic_write(out, write)
    result = {"output": str(out), "variables": names + extra_names}
    if params["per_patch"]:
        result["patch_files"] = export_patches(params, out, names, extras, reporter)
    reporter.progress(1.0, "done", "export-netcdf")
    return result


def export_patches(params, out: Path, names, extras, reporter) -> int:
    """One netCDF per grid patch (reflectance + masks) with xarray/rioxarray."""
    import rioxarray  # noqa: F401 - registers the .rio accessor
    import xarray as xr

    grid = load_grid(params["per_patch"])
    generated = read_status(grid.path, "generate")  # the patches that were generated (empty: unknown, keep all)
    folder = out.with_name(out.stem + "_patches")
    folder.mkdir(exist_ok=True)
    with xr.open_dataset(out, mask_and_scale=False, decode_coords="all") as full:
        x0, x1 = float(full.x.min()), float(full.x.max())
        y0, y1 = float(full.y.min()), float(full.y.max())
        written = 0
        for number, patch in enumerate(grid.patches):
            reporter.check_cancel()
            if generated and patch.patch_id not in generated:
                continue
            bx0, by0, bx1, by1 = grid.bounds(patch.row, patch.col)
            if bx1 < x0 or bx0 > x1 or by1 < y0 or by0 > y1:
                continue
            piece = full.sel(x=slice(bx0, bx1), y=slice(by1, by0))
            if not piece.sizes["x"] or not piece.sizes["y"]:
                continue
            piece = piece.load()
            if not (piece[names[0]] != ENCODING["nodata"]).any():
                continue  # no generated pixel in this patch
            piece.attrs.update(
                patch_id=patch.patch_id, split=patch.split, history=f"{full.attrs['history']}; per-patch file"
            )
            encoding = {
                name: {"zlib": True, "_FillValue": full[name].encoding.get("_FillValue"), "grid_mapping": "spatial_ref"}
                for name in piece.data_vars
                if name != "spatial_ref"
            }
            encoding.update({"x": {"_FillValue": None}, "y": {"_FillValue": None}, "spatial_ref": {"_FillValue": None}})
            target = folder / f"{patch.patch_id}.nc"
            atomic_write(target, lambda tmp, p=piece, e=encoding: p.to_netcdf(tmp, encoding=e))
            written += 1
            reporter.progress(0.8 + 0.2 * (number + 1) / len(grid.patches), "per-patch files", "export-netcdf")
    return written


COMMANDS = (
    Command(
        "export-netcdf",
        "Export a mosaic (+ masks, label map) to CF-1.8 netCDF-4, optionally one file per patch.",
        export_netcdf,
        (
            Param("mosaic", "path", help="assembled mosaic (COG)"),
            Param("masks", "paths", [], "coverage masks on the mosaic grid"),
            Param("labels", "str", "", "label raster of the assembly"),
            Param("per_patch", "str", "", "patch grid: also write one file per patch"),
            Param("output", "path", help="netCDF file"),
        ),
    ),
)
