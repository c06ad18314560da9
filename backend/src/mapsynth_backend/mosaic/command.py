"""`assemble` command: streams patch-rows through :class:`mosaic.RowAssembler` into a COG, a label raster and
a GeoPackage of seam lines, and measures seam quality on the way."""

from __future__ import annotations

import json
import re
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import load_grid, snapped_grid
from ..radiometry import ENCODING, set_band_encoding
from ..runtime.jobs import Command, Param
from ..runtime.outputs import GPKG_OPTIONS, MANIFEST, atomic_write
from ..runtime.protocol import Reporter, UserError
from .assembler import LABEL_NODATA, RowAssembler, label_of
from .seams import SeamMeter


def _read(path: Path) -> np.ndarray:
    """A generated patch as float32 DN (the patch encoding), NaN where nodata."""
    import rasterio

    with rasterio.open(path) as src:
        dn = src.read().astype(np.float32)
    dn[dn == ENCODING["nodata"]] = np.nan
    return dn


def _seam_line(kind: str, path: np.ndarray, x: int, top: int, x0: float, y0: float, px: float) -> bytes:
    """A cut as a line in map coordinates along the pixel edges it separates."""
    if kind == "v":
        points = [(x0 + (x + int(c)) * px, y0 - (top + y + 0.5) * px) for y, c in enumerate(path)]
    else:
        points = [(x0 + (x + i + 0.5) * px, y0 - (top + int(r)) * px) for i, r in enumerate(path)]
    return _line_wkb(points)


def _candidates(folder: Path, kind: str | None) -> dict[str, list[tuple[int, Path]]]:
    """Generated variations ``<patch_id>_vNN.tif``; a crop_sentinel2 folder holds one real patch per cell,
    ``<patch_id>.tif``, taken as variation 0 (the real image cut on the grid reassembles exactly)."""
    found: dict[str, list[tuple[int, Path]]] = {}
    if kind == "sentinel2":
        for path in sorted(folder.glob("*.tif")):
            if not path.name.startswith("."):
                found[path.stem] = [(0, path)]
        return found
    for path in sorted(folder.glob("*_v*.tif")):
        match = re.fullmatch(r"(.+)_v(\d+)\.tif", path.name)
        if match:
            found.setdefault(match.group(1), []).append((int(match.group(2)), path))
    return found


def _band_scale(found: dict[str, list[tuple[int, Path]]], bands: int) -> np.ndarray:
    """Per band spread (DN) of the first 16 cells that hold data (cells outside the map's data are all nodata)."""
    sample = []
    for variations in found.values():
        patch = _read(variations[0][1])
        if np.isfinite(patch).any():
            sample.append(patch)
        if len(sample) == 16:
            break
    if not sample:
        raise UserError("GENERATED_DIR: every generated patch is nodata: nothing to assemble")
    stacked = np.stack(sample)
    return np.array([max(float(np.nanstd(stacked[:, b])), 1.0) for b in range(bands)])


def _line_wkb(points: list[tuple[float, float]]) -> bytes:
    return struct.pack("<BII", 1, 2, len(points)) + b"".join(struct.pack("<dd", x, y) for x, y in points)


def _write_seams(path: Path, lines: list[dict], crs_wkt: str) -> None:
    from pyogrio.raw import write

    geometry = np.array([line.pop("wkb") for line in lines], dtype=object)
    fields = ["patch_id", "kind"]
    data = [np.array([line[f] for line in lines], dtype=object) for f in fields]
    atomic_write(
        path,
        lambda tmp: write(
            str(tmp),
            geometry,
            data,
            fields,
            layer="seams",
            driver="GPKG",
            geometry_type="LineString",
            crs=crs_wkt,
            dataset_options=GPKG_OPTIONS,
        ),
    )


def _to_cog(src_path: Path, out: Path, resampling: str, target=None) -> None:
    """Copy to a Cloud-Optimized GeoTIFF (tags and band descriptions come along); with ``target``, first
    resample onto that grid with area averaging."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.shutil import copy
    from rasterio.vrt import WarpedVRT

    options = {
        "driver": "COG",
        "compress": "DEFLATE",
        "predictor": "2",
        "blocksize": 512,
        "overview_resampling": resampling,
        "bigtiff": "IF_SAFER",
    }
    if target is not None:
        warped = src_path.with_name(src_path.stem + ".resampled.tif")
        with (
            rasterio.open(src_path) as src,
            WarpedVRT(
                src,
                crs=src.crs,
                transform=target[0],
                width=target[1],
                height=target[2],
                resampling=Resampling.average,
                src_nodata=src.nodata,
                nodata=src.nodata,
            ) as vrt,
        ):
            copy(vrt, warped, driver="GTiff", tiled=True, compress="DEFLATE", bigtiff="IF_SAFER")
            with rasterio.open(warped, "r+") as dst:
                dst.update_tags(**src.tags())
                if src.tags().get("encoding") == ENCODING["formula"]:
                    set_band_encoding(dst, src.descriptions)
        try:
            atomic_write(out, lambda tmp: copy(warped, tmp, **options))
        finally:
            warped.unlink(missing_ok=True)
        return
    atomic_write(out, lambda tmp: copy(src_path, tmp, **options))


def assemble(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import rasterio
    from rasterio.transform import Affine

    grid = load_grid(params["patch_grid"])
    gen_dir = Path(params["generated_dir"])
    try:
        manifest = json.loads((gen_dir / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(
            f"GENERATED_DIR: {gen_dir} is not a folder of generated (or crop_sentinel2) patches (no {MANIFEST})"
        ) from exc
    if manifest.get("grid_fingerprint") != grid.fingerprint:
        raise UserError(f"GENERATED_DIR: {gen_dir} was generated for another grid; use the PATCH_GRID it was made on")
    found = _candidates(gen_dir, manifest.get("kind"))
    cells = [p for p in grid.patches if p.patch_id in found]
    if not cells:
        raise UserError(
            f"GENERATED_DIR: no patch files (<patch_id>_vNN.tif or <patch_id>.tif) of this grid in {gen_dir}"
        )
    p, ov, s, px = grid.patch_size, grid.overlap, grid.stride, grid.pixel_size
    if ov < 1:
        raise UserError("PATCH_GRID has no overlap: seams cannot be cut (create the grid with OVERLAP > 0)")
    rmin, rmax = min(c.row for c in cells), max(c.row for c in cells)
    cmin, cmax = min(c.col for c in cells), max(c.col for c in cells)
    width, height = (cmax - cmin) * s + p, (rmax - rmin) * s + p
    x0, y0 = grid.bounds(rmin, cmin)[0], grid.bounds(rmin, cmin)[3]
    with rasterio.open(found[cells[0].patch_id][0][1]) as first:
        names, bands, crs = list(first.descriptions), first.count, first.crs
    if first.width != p:
        raise UserError(f"GENERATED_DIR: patches are {first.width} px, the grid's are {p} px")
    visible = [i for i, n in enumerate(names) if n in ("B02", "B03", "B04")] or list(range(min(3, bands)))
    scale = _band_scale(found, bands)
    out = Path(params["output"])
    labels_path = Path(params["labels"] or out.with_name(out.stem + "_labels.tif"))
    seams_path = Path(params["seams"] or out.with_name(out.stem + "_seams.gpkg"))
    out.parent.mkdir(parents=True, exist_ok=True)
    transform = Affine(px, 0, x0, 0, -px, y0)
    work_mosaic = out.with_name(f".{out.stem}.work.tif")
    work_labels = out.with_name(f".{out.stem}.labels.work.tif")
    tiled = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "crs": crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "bigtiff": "IF_SAFER",
    }
    assembler = RowAssembler(
        p, ov, width, bands, scale, params["feather"], params["max_blob"], visible, params["selection"], params["top_k"]
    )
    by_row: dict[int, list] = {}
    for cell in cells:
        by_row.setdefault(cell.row, []).append(cell)
    seam_lines, chosen, nodata_px = [], {}, 0
    meter = SeamMeter(bands, width, s, LABEL_NODATA)
    started = time.perf_counter()
    try:
        with (
            rasterio.open(work_mosaic, "w", count=bands, dtype="uint16", nodata=ENCODING["nodata"], **tiled) as dst,
            rasterio.open(work_labels, "w", count=1, dtype="int32", nodata=LABEL_NODATA, **tiled) as lab,
        ):
            for number, row in enumerate(range(rmin, rmax + 1)):
                reporter.check_cancel()
                if number:
                    assembler.next_row()
                row_cells, previous = [], None
                for cell in sorted(by_row.get(row, []), key=lambda c: c.col):
                    x = (cell.col - cmin) * s
                    variations = found[cell.patch_id]
                    patches = [_read(path) for _, path in variations]
                    has_left = previous is not None and previous[0].col == cell.col - 1
                    rng = np.random.default_rng([params["seed"], cell.row, cell.col])
                    index, blobs = assembler.choose(patches, previous[1] if has_left else None, x, rng)
                    variation = variations[index][0]
                    chosen[cell.patch_id] = {"variation": variation, "largest_blob_px": blobs[index]}
                    row_cells.append(
                        (x, patches[index], label_of(cell.row, cell.col, grid.definition["cols"], variation), has_left)
                    )
                    previous = (cell, patches[index])
                row_ids = [c.patch_id for c in sorted(by_row.get(row, []), key=lambda c: c.col)]
                for kind, i, path in assembler.place_row(row_cells):
                    seam_lines.append(
                        {
                            "patch_id": row_ids[i],
                            "kind": "vertical" if kind == "v" else "horizontal",
                            "wkb": _seam_line(kind, path, row_cells[i][0], number * s, x0, y0, px),
                        }
                    )
                top = number * s
                last = row == rmax
                rows_out = p if last else s
                values = assembler.strip[:, :rows_out]
                dn = np.where(np.isfinite(values), np.clip(np.rint(values), 1, 65535), 0).astype(np.uint16)
                window = rasterio.windows.Window(0, top, width, rows_out)
                dst.write(dn, window=window)
                nodata_px += int((dn[0] == ENCODING["nodata"]).sum())
                lab.write(assembler.labels[:rows_out][None], window=window)
                meter.add(values, assembler.labels[:rows_out])
                reporter.progress(0.9 * (number + 1) / (rmax - rmin + 1), f"patch row {row}", "assemble")
            dst.update_tags(
                encoding=ENCODING["formula"],
                grid_fingerprint=grid.fingerprint,
                selection=params["selection"],
                seed=str(params["seed"]),
                model=str((manifest.get("details") or {}).get("model", "unknown")),
                model_family=str((manifest.get("details") or {}).get("family", "unknown")),
                generation_seed=str((manifest.get("details") or {}).get("seed", "unknown")),
                stride_px=str(s),
                overlap_px=str(ov),
                labels=Path(params["labels"] or out.with_name(out.stem + "_labels.tif")).name,
                feather=str(params["feather"]),
            )
            set_band_encoding(dst, names)
        elapsed = time.perf_counter() - started
        target = None
        if params["target_pixel_size"] and params["target_pixel_size"] != px:
            target = snapped_grid(transform, width, height, params["target_pixel_size"])
        reporter.progress(0.92, "writing the Cloud-Optimized GeoTIFF", "assemble")
        _to_cog(work_mosaic, out, "AVERAGE", target)
        _to_cog(work_labels, labels_path, "NEAREST")
        _write_seams(seams_path, seam_lines, crs.to_wkt())
    finally:
        work_mosaic.unlink(missing_ok=True)
        work_labels.unlink(missing_ok=True)
    visibility, periodicity = meter.visibility(), meter.periodicity_db()
    total, count = assembler.disagreement
    disagreement = total / count * ENCODING["scale"] if count else None  # None: no overlap with data on both sides
    reporter.log(
        f"overlap disagreement before cutting: mean |difference| {disagreement:.5f} reflectance"
        if disagreement is not None
        else "overlap disagreement before cutting: no overlap holds data on both sides"
    )
    reporter.log(f"nodata (no map information): {100 * nodata_px / (width * height):.1f} % of the mosaic")
    for b, name in enumerate(names):
        tiling = f"{periodicity[b]:.1f} dB" if np.isfinite(periodicity[b]) else "n/a (too few tile periods)"
        reporter.log(f"{name}: seam visibility index {visibility[b]:.3f}, tiling periodicity {tiling}")
    reporter.progress(1.0, "done", "assemble")
    return {
        "output": str(out),
        "labels": str(labels_path),
        "seams": str(seams_path),
        "width": width,
        "height": height,
        "patches": len(cells),
        "rejected_candidates": assembler.rejected,
        "seam_visibility": dict(zip(names, visibility, strict=True)),
        "periodicity_db": dict(zip(names, periodicity, strict=True)),
        "assembly_seconds": round(elapsed, 3),
        "overlap_disagreement": disagreement,
        "nodata_fraction": nodata_px / (width * height),
        "chosen": chosen,
    }


COMMANDS = (
    Command(
        "assemble-mosaic",
        "Assemble generated variations into one seamless mosaic (COG), a label raster and seam lines.",
        assemble,
        (
            Param("patch_grid", "path", help="the grid GeoPackage"),
            Param(
                "generated_dir",
                "path",
                help="folder of <patch_id>_vNN.tif from generate, or a crop-sentinel2 folder (one real patch per cell)",
            ),
            Param("selection", "str", "best", "best, or random among the best TOP_K", choices=("best", "random")),
            Param("top_k", "int", 3, "candidates a random selection picks from", minimum=1),
            Param("seed", "int", 0, "seed of the random selection", minimum=0),
            Param("feather", "float", 0.0, "blend width across the cut in pixels (0 = hard seam)", minimum=0),
            Param(
                "max_blob",
                "int",
                0,
                "reject candidates with a saturated blob larger than this (px; 0 = off)",
                minimum=0,
            ),
            Param(
                "target_pixel_size",
                "float",
                0.0,
                "resample onto this pixel size with area averaging (0 = no)",
                minimum=0,
            ),
            Param("output", "path", help="the mosaic (Cloud-Optimized GeoTIFF)"),
            Param("labels", "str", "", "label raster (default <output>_labels.tif)"),
            Param("seams", "str", "", "seam lines GeoPackage (default <output>_seams.gpkg)"),
        ),
    ),
)
