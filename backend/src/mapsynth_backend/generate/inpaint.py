"""`inpaint-scenario`: what-if edits (a housing estate, a lake, a burned field) inpainted into a real or synthetic
reflectance raster, with the change mask and the edited map.

Only the edits plus MARGIN pixels are regenerated; every other pixel is BASE's DN, copied. The regenerated zone
is sampled conditioned on the known pixels around it (RePaint, :mod:`generate.repaint`) on canvases just large
enough for the model's windows, then blended into BASE across the margin (weight 1 on the edit, falling to 0 at
the margin's outer edge), so the boundary has no step. Variation ``v`` is fixed by (SEED, v) and the canvas.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..models import load_card, load_model
from ..runtime.geotiff import write_geotiff
from ..runtime.jobs import Command, Param
from ..runtime.protocol import Reporter, UserError
from .coverage import read_coverages, write_coverages
from .scenario import EDITED, MARGIN, UNCHANGED, Base, area_map, paint, rasterise, read_base, read_edits

DEMO_MODEL = Path(__file__).resolve().parents[4] / "resources" / "models" / "mapsynth-demo-pixel-small"
SEAM_STRIDE = 8  # seam metric: each boundary pair is compared with the pair 4 px further inside one side


def model_dir(requested: str) -> Path:
    if requested:
        return Path(requested)
    if not (DEMO_MODEL / "model_card.json").exists():
        raise UserError("MODEL: no model given and the embedded demo model is not next to this backend; give MODEL")
    return DEMO_MODEL


def blend_weights(mask: np.ndarray, margin: int) -> np.ndarray:
    """1 on the edit, 1 - d / (margin + 1) at distance d <= margin from it, 0 beyond (BASE untouched)."""
    from scipy.ndimage import distance_transform_edt

    if margin == 0:
        return mask.astype(np.float64)
    distance = distance_transform_edt(~mask)
    return np.where(distance <= margin, 1 - distance / (margin + 1), 0.0)


def plan_canvases(region: np.ndarray, size: int, step: int, context: int) -> tuple[np.ndarray, list]:
    """One canvas per connected part of the region: its box plus ``context`` known pixels, at least one window
    large, on multiples of ``step`` (the latent factor). Returns the part labels and (label, (y, x, h, w))."""
    from scipy import ndimage

    height, width = region.shape
    if height < size or width < size:
        raise UserError(f"BASE: {width} x {height} px is smaller than the model's patch ({size} px)")
    labels, _ = ndimage.label(region)

    def span(start: int, stop: int, length: int) -> tuple[int, int]:
        start, stop = max(0, start - context), min(length, stop + context)
        extent = min(max(size, -(-(stop - start) // step) * step), length // step * step)
        begin = min(max(0, start - (extent - (stop - start)) // 2), length - extent)
        return begin, extent

    canvases = []
    for number, box in enumerate(ndimage.find_objects(labels), start=1):
        y, h = span(box[0].start, box[0].stop, height)
        x, w = span(box[1].start, box[1].stop, width)
        canvases.append((number, (y, x, h, w)))
    return labels, canvases


def inpaint_canvas(model, current, edited_map, free, box, params, variation: int, device: str, reporter, weights=None):
    """Reflectance (bands, h, w) of one canvas: RePaint conditioned on ``current`` (BASE with the parts done so
    far) outside ``free``; ``weights``: per-pixel guidance on BASE's grid (:mod:`generate.class_guidance`)."""
    import torch

    from .joint import window_offsets
    from .repaint import RePaint
    from .sampling import clip_range, item_seed, map_to_model, remap_map, to_reflectance

    y, x, h, w = box
    window = (slice(y, y + h), slice(x, x + w))
    size, step = model.card["patch_size"], model.window_step
    unit, _ = clip_range(model.card).forward(current[:, window[0], window[1]])
    known = model.known_values(np.nan_to_num(unit, nan=0.5))
    unknown = torch.from_numpy(free[window].astype(np.float32))
    map_canvas = map_to_model(remap_map(edited_map[:, window[0], window[1]], model.card.get("map_remap"))).to(device)
    key = f"inpaint|{y}|{x}|{h}|{w}"
    noise_gen = torch.Generator("cpu").manual_seed(item_seed(params["seed"], key, variation))
    noises = {name: torch.randn(model.noise_shape(h, w), generator=noise_gen).to(device) for name in model.noise_names}
    resample_gen = torch.Generator("cpu").manual_seed(item_seed(params["seed"], key + "|resample", variation))
    stride = max(step, (size // 2) // step * step)
    windows = [(wy, wx) for wy in window_offsets(h, size, stride) for wx in window_offsets(w, size, stride)]
    repaint = RePaint(known, unknown, params["resample"], resample_gen, reporter, jump=params["jump"])
    extra = {} if weights is None else {"guidance_map": torch.from_numpy(weights[window]).to(device)}
    outputs = model.sample_canvas(
        map_canvas,
        noises,
        windows,
        params["steps"],
        params["batch_size"],
        repaint,
        guidance=params["guidance"],
        control_scale=params["control_scale"],
        negative_prompt=params["negative_prompt"],
        **extra,
    )
    return to_reflectance(model, outputs)[0]


def inpaint_guidance(model, requested: float) -> float:
    """GUIDANCE 0 (auto): the card's ``inpaint_guidance``; else none (1.0) for pixel models, whose map guidance
    pushes built-up spectra to the clip range (measured on the real scene, docs/history/measurements-2026-11.md;
    per-class weights, e.g. for water, come on top: :func:`auto_weights`); else the model's own (controlnet-sd15 needs
    its prompt guidance)."""
    if requested:
        return float(requested)
    if model.card.get("inpaint_guidance"):
        return float(model.card["inpaint_guidance"])
    return 1.0 if model.card.get("family") == "pixel" else model.guidance_scale(0.0)


def auto_weights(model, requested: float, edits, index: np.ndarray, margin: int) -> np.ndarray | None:
    """GUIDANCE 0 with a pixel model trained with map dropout: the per-class guidance map; else None (one
    value everywhere: an explicit GUIDANCE, or a family with its own guidance)."""
    from .class_guidance import guidance_by_class, guidance_map

    if requested or model.card.get("family") != "pixel" or not model.card.get("map_dropout"):
        return None
    base = inpaint_guidance(model, 0.0)
    return guidance_map(edits, index, margin, guidance_by_class(model.card), base)


def scenario_key(params: dict[str, Any], model_path: Path) -> str:
    """What a finished variation file was made from: a rerun with other settings does not reuse it."""
    ignored = ("device", "batch_size", "building_coverage", "nonresidential_coverage")  # not in the raster
    keep = {k: v for k, v in params.items() if not k.startswith("output") and k not in ignored}
    keep["model"] = str(model_path.resolve())
    for name in ("base", "edits", "map"):
        path = Path(keep.get(name) or "")
        if keep.get(name) and path.is_file():
            keep[name] = [str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns]
    return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]


def variation_path(output: Path, variation: int) -> Path:
    return output if variation == 0 else output.with_name(f"{output.stem}_v{variation:02d}{output.suffix}")


def write_raster(path: Path, data: np.ndarray, base: Base, **options: Any) -> None:
    """A GeoTIFF on BASE's grid; ``options``: nodata, descriptions, scale/offset, tags."""
    write_geotiff(
        path,
        data,
        base.profile["crs"],
        base.profile["transform"],
        nodata=options.get("nodata"),
        descriptions=options.get("descriptions") or (),
        tags=options.get("tags"),
        scale_offset=None if options.get("scale") is None else (options["scale"], options["offset"]),
        tiled=True,
    )


def edit_statistics(edits, index, base: Base, after: np.ndarray, bands: list[str]) -> list[dict[str, Any]]:
    """Per edit: its pixels and the median NDVI / NDWI before and after."""
    red, nir, green = bands.index("B04"), bands.index("B08"), bands.index("B03")

    def indices(values: np.ndarray, where: np.ndarray) -> tuple[float, float]:
        r, n, g = values[red][where], values[nir][where], values[green][where]
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.nanmedian((n - r) / (n + r))), float(np.nanmedian((g - n) / (g + n)))

    stats = []
    for number, (_, name) in enumerate(edits):
        where = index == number
        if not where.any():
            stats.append({"feature": number + 1, "class": name, "pixels": 0})
            continue
        ndvi_before, ndwi_before = indices(base.reflectance, where)
        ndvi_after, ndwi_after = indices(after, where)
        stats.append(
            {
                "feature": number + 1,
                "class": name,
                "pixels": int(where.sum()),
                "ndvi_before": ndvi_before,
                "ndvi_after": ndvi_after,
                "ndwi_before": ndwi_before,
                "ndwi_after": ndwi_after,
            }
        )
    return stats


def inpaint_scenario(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    from ..mosaic.seams import seam_visibility
    from ..prepare.landcover import palette
    from .command import resolve_device

    output, output_mask = Path(params["output"]), Path(params["output_mask"])
    path = model_dir(params["model"])
    bands = load_card(path)["bands"]  # inputs are checked before the (slow) model loading
    base = read_base(params["base"], bands, params["scale"], params["offset"])
    classes = palette()
    edits = read_edits(params["edits"], params["class_field"], base, classes)
    mask, index = rasterise(edits, base)
    if not mask.any():
        raise UserError("EDITS: the polygons cover no pixel centre of BASE; draw them larger than a pixel")
    edited_map = paint(area_map(params["map"], params["map_dir"], base), index, edits, classes)
    coverages = read_coverages(params, base)
    device = resolve_device(params["device"], _NoAccelerate())
    model = load_model(path, device)
    weights = blend_weights(mask, params["margin"])
    region = weights > 0
    change = np.where(mask, EDITED, np.where(region, MARGIN, UNCHANGED)).astype(np.uint8)
    guidance_weights = auto_weights(model, params["guidance"], edits, index, params["margin"])
    params = {**params, "guidance": inpaint_guidance(model, params["guidance"])}
    key = scenario_key(params, path)
    size = model.card["patch_size"]
    context = params["context"] or max(size // 4, params["margin"])
    parts, canvases = plan_canvases(region, size, model.window_step, context)
    reporter.log(
        f"{len(edits)} edits, {int(mask.sum())} px edited, {int(region.sum())} px regenerated, "
        f"{len(canvases)} canvas(es)"
    )
    tags = {
        "mapsynth": "inpaint-scenario",
        "scenario_key": key,
        "model": str(path.resolve()),
        "seed": str(params["seed"]),
    }
    descriptions = [
        d or (bands[base.bands.index(i)] if i in base.bands else None) for i, d in enumerate(base.descriptions)
    ]
    results, written = [], 0
    for variation in range(params["variations"]):
        target = variation_path(output, variation)
        if target.exists() and _tag(target, "scenario_key") == key:
            reporter.log(f"{target.name} is finished (same scenario); kept")
            continue
        after = base.reflectance.copy()
        for number, box in canvases:  # one part after the other: later parts see the earlier ones as known
            reporter.check_cancel()
            y, x, h, w = box
            part = parts == number
            generated = inpaint_canvas(
                model, after, edited_map, part, box, params, variation, device, reporter, guidance_weights
            )
            own = part[y : y + h, x : x + w]
            alpha = weights[y : y + h, x : x + w][own]
            after[:, y : y + h, x : x + w][:, own] = (
                alpha * generated[:, own] + (1 - alpha) * after[:, y : y + h, x : x + w][:, own]
            )
        dn = base.dn.copy()
        encoded = base.encode(np.nan_to_num(after))
        for model_band, base_band in enumerate(base.bands):
            dn[base_band][region] = encoded[model_band][region]
        reporter.check_cancel()
        write_raster(
            target,
            dn,
            base,
            nodata=base.nodata,
            descriptions=descriptions,
            scale=base.scale,
            offset=base.offset,
            tags={**tags, "variation": str(variation)},
        )
        written += 1
        labels = region.astype(np.int32)
        results.append(
            {
                "variation": variation,
                "path": str(target),
                "seam_visibility": float(np.nanmean(seam_visibility(after, labels, SEAM_STRIDE))),
                "seam_visibility_base": float(np.nanmean(seam_visibility(base.reflectance, labels, SEAM_STRIDE))),
                "edits": edit_statistics(edits, index, base, after, bands),
            }
        )
    write_raster(
        output_mask,
        change[None],
        base,
        descriptions=["change: 0 unchanged, 1 edit, 2 margin"],
        tags={**tags, "values": "0 unchanged (BASE's DNs), 1 edit (pixel centre in a polygon), 2 margin"},
    )
    if params["output_map"]:
        write_raster(Path(params["output_map"]), edited_map, base, descriptions=["red", "green", "blue"], tags=tags)
    written_coverages = write_coverages(coverages, edits, base)
    reporter.progress(1.0, "done", "inpaint")
    return {
        **written_coverages,
        "output": str(output),
        "outputs": [str(variation_path(output, v)) for v in range(params["variations"])],
        "output_mask": str(output_mask),
        "output_map": params["output_map"],
        "written": written,
        "edited_pixels": int(mask.sum()),
        "regenerated_pixels": int(region.sum()),
        "canvases": len(canvases),
        "guidance": params["guidance"],
        "guidance_by_class": _class_weights(guidance_weights, edits, index),
        "variations": results,
    }


class _NoAccelerate:
    """resolve_device's view of a run outside ``accelerate launch``."""

    class distributed_type:  # noqa: N801 - mirrors accelerate's attribute
        value = "NO"


def _class_weights(weights: np.ndarray | None, edits, index: np.ndarray) -> dict[str, float]:
    """The guidance each edited class got (the maximum over its pixels); empty for uniform guidance."""
    if weights is None:
        return {}
    return {
        name: float(weights[index == number].max()) for number, (_, name) in enumerate(edits) if (index == number).any()
    }


def _tag(path: Path, name: str) -> str | None:
    import rasterio

    try:
        with rasterio.open(path) as src:
            return src.tags().get(name)
    except rasterio.errors.RasterioIOError:
        return None


COMMANDS = (
    Command(
        "inpaint-scenario",
        "Inpaint map edits (EDITS polygons with a semantic class) into BASE: edited raster, change mask, map.",
        inpaint_scenario,
        (
            Param("base", "path", help="4-band reflectance raster to edit (Sentinel-2 crop or MapSynth mosaic)"),
            Param("edits", "path", help="polygon layer (any CRS) with a semantic-palette class per feature"),
            Param("class_field", "str", "class", "field of EDITS naming the class (e.g. residential_building)"),
            Param("model", "str", "", "model directory; empty = the embedded demo model"),
            Param("map", "str", "", "rendered map raster; empty = derived from BASE (or MAP_DIR)"),
            Param("map_dir", "str", "", "or: folder of rendered map patches"),
            Param("building_coverage", "str", "", "building-masks' building coverage, updated by the edits"),
            Param("nonresidential_coverage", "str", "", "building-masks' non-residential coverage, updated"),
            Param("margin", "int", 4, "pixels around each edit regenerated and blended", minimum=0, maximum=256),
            Param("seed", "int", 0, "seed; a variation depends only on (seed, variation, canvas)", minimum=0),
            Param("variations", "int", 1, "edited rasters (OUTPUT, then OUTPUT_vNN)", minimum=1, maximum=16),
            Param("steps", "int", 8, "DDIM steps", minimum=1, maximum=1000),
            Param("resample", "int", 2, "RePaint: visits of each jump point", minimum=1, maximum=20),
            Param("jump", "int", 1, "RePaint jump length: levels gone back at once", minimum=1, maximum=50),
            Param("context", "int", 0, "known px around each part on its canvas; 0 = patch/4", minimum=0),
            Param("guidance", "float", 0.0, "guidance; 0 = auto (pixel: per class, water 1.5, else 1)", minimum=0),
            Param("control_scale", "float", 1.0, "ControlNet conditioning scale", minimum=0),
            Param("negative_prompt", "str", "clouds, haze, blurry, low quality", "negative prompt (controlnet-sd15)"),
            Param("batch_size", "int", 8, "windows per forward pass", minimum=1),
            Param("device", "str", "auto", "auto, cpu, cuda or cuda:N"),
            Param("scale", "float", 0.0, "BASE reflectance = DN * SCALE + OFFSET; 0 = its metadata or DN/10000-0.1"),
            Param("offset", "float", 0.0, "see SCALE"),
            Param("output", "path", help="edited raster (GeoTIFF, BASE's grid and encoding)"),
            Param("output_mask", "path", help="change mask (GeoTIFF uint8 on BASE's grid)"),
            Param("output_map", "str", "", "edited map raster (optional)"),
            Param("output_building_coverage", "str", "", "updated BUILDING_COVERAGE (default OUTPUT_<name>)"),
            Param("output_nonresidential_coverage", "str", "", "updated NONRESIDENTIAL_COVERAGE (default as above)"),
        ),
    ),
)
