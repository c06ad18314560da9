"""`generate`: K variations per grid patch from its rendered map, as georeferenced reflectance GeoTIFFs.

The noise of an item depends only on (seed, patch_id, variation), so outputs do not depend on batch size,
order or the number of processes; ``accelerate launch --num_processes N mapsynth generate ...`` shards the
items. Finished files are skipped; every file is written under a temporary name and renamed.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..grid import load_grid
from ..models import load_model
from ..radiometry import ENCODING, encode_reflectance
from ..runtime.geotiff import write_geotiff
from ..runtime.jobs import Command, Param
from ..runtime.outputs import MANIFEST, prepare_output_dir
from ..runtime.protocol import Reporter, UserError
from ..runtime.torch_state import restores_torch_state
from .class_guidance import DEFAULT_CLASS_MARGIN, check_class_guidance, generation_weights, parse_class_guidance
from .folder import recorded_setting, write_index
from .nodata import MapNodata, empty_cells, is_semantic
from .sampling import item_noise, map_to_model, remap_map, stack_noise, to_reflectance

DEFAULT_STEPS = 20  # DPM-Solver++ steps of models whose card names no default_steps


def resolve_device(requested: str, state) -> str:
    import torch

    if requested == "auto":
        return (
            str(state.device)
            if state.distributed_type.value != "NO"
            else ("cuda" if torch.cuda.is_available() else "cpu")
        )
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"DEVICE: {requested} was asked for but this backend's torch sees no CUDA GPU (see doctor)")
    return requested


def default_steps(params: dict[str, Any], card: dict[str, Any]) -> int:
    """STEPS 0 = the card's ``default_steps`` (few-step students record theirs; older cards mean 20)."""
    return int(params["steps"] or card.get("default_steps") or DEFAULT_STEPS)


def _map_manifest(map_dir: Path, fingerprint: str) -> dict[str, Any]:
    try:
        manifest = json.loads((map_dir / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"MAP_DIR: {map_dir} is not a folder of rendered map patches (no {MANIFEST})") from exc
    if manifest.get("grid_fingerprint") != fingerprint:
        raise UserError(
            f"MAP_DIR: {map_dir} was rendered for another grid ({manifest.get('grid_fingerprint')}, "
            f"this grid is {fingerprint}); render the maps for this PATCH_GRID"
        )
    return manifest


def write_generated(path: Path, dn: np.ndarray, profile: dict, bands: list[str], tags: dict[str, str]) -> None:
    write_geotiff(path, dn, profile["crs"], profile["transform"], reflectance_bands=bands, tags=tags, predictor=2)


@restores_torch_state
def generate(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    import rasterio
    import torch
    from accelerate import PartialState

    state = PartialState(cpu=params["device"] == "cpu")
    grid = load_grid(params["patch_grid"])
    map_dir, out = Path(params["map_dir"]), Path(params["output_dir"])
    reader = MapNodata(is_semantic(_map_manifest(map_dir, grid.fingerprint)))
    present, empty = empty_cells(grid, map_dir, reader)  # before any output: an all-empty grid is an error
    device = resolve_device(params["device"], state)
    on_cpu = device == "cpu"  # CPU results depend on the intra-op thread count (float reduction order)
    precision = params["precision"]
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(
        precision, torch.float16 if device.startswith("cuda") else torch.float32
    )
    model = load_model(params["model"], device, dtype)
    if params["consistency_lora"]:
        if not hasattr(model, "use_consistency_lora"):
            raise UserError(
                f"CONSISTENCY_LORA: a {model.card['family']} model takes no consistency LoRA (controlnet-sd15 only);"
                " distil a pixel model into a few-step one with train_model's DISTILL_FROM"
            )
        model.use_consistency_lora(Path(params["consistency_lora"]))
    card = model.card
    if card["bands"] != card["radiometry"]["bands"]:
        raise UserError(f"MODEL: its bands {card['bands']} differ from its radiometry {card['radiometry']['bands']}")
    if int(card.get("map_channels") or 3) != 3:
        raise UserError(
            f"MODEL: {params['model']} was trained on maps with tone layouts (make bench-realism-tones, an "
            "experiment); generate takes models trained on maps alone"
        )
    if params["compile"]:
        target = model.denoiser()
        target.forward = torch.compile(target.forward)
    model.configure_decoding(params["vae_tiling"], params["vae_slicing"])
    if hasattr(model, "check_generate_options"):  # pix2pix refuses diffusion-only options before writing
        model.check_generate_options(params)
    params = {**params, "guidance": model.guidance_scale(params["guidance"]), "steps": default_steps(params, card)}
    by_class = parse_class_guidance(params["class_guidance"])
    check_class_guidance(model, by_class)  # before anything is written
    params["by_class"] = by_class
    layout = {
        "batch_size": recorded_setting(out, "batch_size", params["batch_size"], reporter),
        "cpu_threads": recorded_setting(out, "cpu_threads", torch.get_num_threads(), reporter) if on_cpu else None,
    }
    details = {
        "model": str(Path(params["model"]).resolve()),
        "family": card["family"],
        "model_created": card.get("created"),
        "seed": params["seed"],
        "steps": params["steps"],
        "guidance": params["guidance"],
        "class_guidance": by_class or None,
        "class_guidance_margin": params["class_guidance_margin"] if by_class else None,
        "class_spectra_held": {name: spec["coverage"] for name, spec in (card.get("class_spectra") or {}).items()}
        or None,
        "control_scale": params["control_scale"],
        "bands": card["bands"],
        "seamless": params["seamless"],
        "window_stride": params["window_stride"],
    }
    details.update({key: value for key, value in layout.items() if value is not None})  # None: not recorded then
    params["batch_size"] = layout["batch_size"] or params["batch_size"]
    if layout["cpu_threads"]:
        torch.set_num_threads(layout["cpu_threads"])  # put back when the command ends (restores_torch_state)
    if state.is_main_process:
        prepare_output_dir(out, "generated", grid.fingerprint, details)
    state.wait_for_everyone()
    if params["seamless"]:
        result = _generate_seamless(model, grid, (map_dir, reader), out, params, reporter, state, device)
        state.wait_for_everyone()
        if state.is_main_process:
            result.update(write_index(out, grid, params["variations"]))
        return result
    missing = len(grid.patches) - len(present)
    work = [
        (patch.patch_id, variation, map_dir / f"{patch.patch_id}.tif", out / f"{patch.patch_id}_v{variation:02d}.tif")
        for patch in present
        for variation in range(params["variations"])
    ]
    items = [item for item in work if not item[3].exists()]
    rank, ranks = state.process_index, state.num_processes
    for pid, variation, map_path, target in [i for i in work if i[0] in empty][rank::ranks]:  # all nodata
        if target.exists():
            continue
        with rasterio.open(map_path) as src:
            profile = {"crs": src.crs, "transform": src.transform}
            dn = np.zeros((len(card["bands"]), src.height, src.width), np.uint16)
        write_generated(target, dn, profile, card["bands"], _tags(pid, variation, params, details, grid))
    # The batch layout is fixed by the whole item list, not by what is still missing: a resumed item is computed in
    # the same batch as in an uninterrupted run (its float arithmetic depends on the batch shape), so it comes out
    # bitwise the same; finished items of that batch are recomputed and not rewritten.
    sampled = [i for i in work if i[0] not in empty]
    batches = [sampled[s : s + params["batch_size"]] for s in range(0, len(sampled), params["batch_size"])]
    mine = [b for b in batches[rank::ranks] if any(not i[3].exists() for i in b)]
    done = 0
    for batch in mine:
        reporter.check_cancel()
        maps, profiles, nodata = [], [], []
        for _, _, map_path, _ in batch:
            with rasterio.open(map_path) as src:
                rgb, mask = reader.read(src)
                maps.append(map_to_model(remap_map(rgb, card.get("map_remap"))))
                nodata.append(mask)
                profiles.append({"crs": src.crs, "transform": src.transform, "size": src.width})
        size = profiles[0]["size"]
        if size != card["patch_size"]:
            raise UserError(f"MAP_DIR: map patches are {size} px but the model was trained on {card['patch_size']} px")
        pixel = profiles[0]["transform"].a
        if card.get("pixel_size") and abs(pixel - card["pixel_size"]) > 0.01 * card["pixel_size"]:
            raise UserError(f"PATCH_GRID: {pixel} m pixels, but the model works at {card['pixel_size']} m")
        noises = stack_noise([item_noise(model, params["seed"], pid, v, size) for pid, v, _, _ in batch], device)
        maps = torch.stack(maps).to(device)
        weights = _weights(model, params, maps)
        outputs = model.sample(
            maps,
            noises,
            params["steps"],
            guidance=params["guidance"],
            **({} if weights is None else {"guidance_map": weights}),
            control_scale=params["control_scale"],
            negative_prompt=params["negative_prompt"],
        )
        reflectance = to_reflectance(model, outputs)
        for (pid, variation, _, target), values, profile, mask in zip(
            batch, reflectance, profiles, nodata, strict=True
        ):
            if target.exists():
                continue
            dn = encode_reflectance(values, ~mask[None])
            write_generated(target, dn, profile, card["bands"], _tags(pid, variation, params, details, grid))
        done += 1
        reporter.progress(done / max(len(mine), 1), f"{done}/{len(mine)} batches", "generate")
    state.wait_for_everyone()
    result = {"output_dir": str(out), "written": len(items), "missing_maps": missing}
    if state.is_main_process:
        result.update(write_index(out, grid, params["variations"]))
    reporter.progress(1.0, "done", "generate")
    return result


def _weights(model, params, maps):
    """CLASS_GUIDANCE as a per-pixel weight for ``maps`` (B, 3, H, W), GUIDANCE elsewhere; None without it."""
    return generation_weights(model, params["by_class"], params["class_guidance_margin"], params["guidance"], maps)


def _tags(pid: str, variation: int, params, details, grid) -> dict[str, str]:
    return {
        "patch_id": pid,
        "variation": str(variation),
        "seed": str(params["seed"]),
        "model": details["model"],
        "family": details["family"],
        "encoding": ENCODING["formula"],
        "grid_fingerprint": grid.fingerprint,
    }


def _generate_seamless(model, grid, maps, out: Path, params, reporter, state, device) -> dict[str, Any]:
    """Joint denoising of the whole area per variation, then one file per cell cut from the canvas."""
    import rasterio
    import torch

    from .joint import canvas_noise, crop_outputs, default_window_stride, denoise_canvas, window_offsets

    if not state.is_main_process:
        return {"output_dir": str(out), "written": 0}
    map_dir, reader = maps
    cells = [p for p in grid.patches if (map_dir / f"{p.patch_id}.tif").exists()]
    if not cells:
        raise UserError(f"MAP_DIR: no map patches of this grid in {map_dir}")
    size, stride = grid.patch_size, grid.stride
    rmin, cmin = min(c.row for c in cells), min(c.col for c in cells)
    height = (max(c.row for c in cells) - rmin) * stride + size
    width = (max(c.col for c in cells) - cmin) * stride + size
    map_canvas = torch.full((3, height, width), float("nan"))
    profiles, nodata = {}, {}
    for cell in cells:
        with rasterio.open(map_dir / f"{cell.patch_id}.tif") as src:
            y, x = (cell.row - rmin) * stride, (cell.col - cmin) * stride
            rgb, nodata[cell.patch_id] = reader.read(src)
            map_canvas[:, y : y + size, x : x + size] = map_to_model(remap_map(rgb, model.card.get("map_remap")))
            profiles[cell.patch_id] = {"crs": src.crs, "transform": src.transform, "size": src.width}
    if next(iter(profiles.values()))["size"] != model.card["patch_size"]:
        raise UserError(f"MAP_DIR: map patches are not {model.card['patch_size']} px, the model's patch size")
    window_stride = params["window_stride"] or default_window_stride(size)
    step = model.window_step  # windows start on latent pixels
    window_stride = max(step, window_stride // step * step)
    windows = [
        (y, x)
        for y in window_offsets(height, size, window_stride)
        for x in window_offsets(width, size, window_stride)
        if torch.isfinite(map_canvas[0, y : y + size, x : x + size]).all()
    ]
    map_canvas = torch.nan_to_num(map_canvas).to(device)
    weights = _weights(model, params, map_canvas[None])
    extra = {} if weights is None else {"guidance_map": weights[0, 0]}
    written = 0
    for variation in range(params["variations"]):
        targets = {c.patch_id: out / f"{c.patch_id}_v{variation:02d}.tif" for c in cells}
        if all(t.exists() for t in targets.values()):
            continue
        noise = {k: v.to(device) for k, v in canvas_noise(model, params["seed"], variation, height, width).items()}
        outputs = model.sample_canvas(
            map_canvas,
            noise,
            windows,
            params["steps"],
            params["batch_size"],
            partial(denoise_canvas, reporter=reporter),
            guidance=params["guidance"],
            control_scale=params["control_scale"],
            negative_prompt=params["negative_prompt"],
            **extra,
        )
        for cell in cells:
            if targets[cell.patch_id].exists():
                continue
            y, x = (cell.row - rmin) * stride, (cell.col - cmin) * stride
            values = to_reflectance(model, crop_outputs(outputs, y, x, size))[0]
            dn = encode_reflectance(values, ~nodata[cell.patch_id][None])
            tags = {
                "patch_id": cell.patch_id,
                "variation": str(variation),
                "seed": str(params["seed"]),
                "mode": f"seamless (joint denoising, {len(windows)} windows, stride {window_stride})",
                "family": model.card["family"],
                "encoding": ENCODING["formula"],
                "grid_fingerprint": grid.fingerprint,
            }
            write_generated(targets[cell.patch_id], dn, profiles[cell.patch_id], model.card["bands"], tags)
            written += 1
    return {
        "output_dir": str(out),
        "written": written,
        "missing_maps": len(grid.patches) - len(cells),
        "windows": len(windows),
    }


COMMANDS = (
    Command(
        "generate-patches",
        "Generate VARIATIONS reflectance patches per grid patch from its rendered map.",
        generate,
        (
            Param("model", "path", help="model directory (model_card.json)"),
            Param("patch_grid", "path", help="the grid GeoPackage"),
            Param("map_dir", "path", help="rendered map patches of this grid"),
            Param("variations", "int", 4, "variations per patch", minimum=1, maximum=100),
            Param("seed", "int", 0, "seed; noise depends only on (seed, patch_id, variation)", minimum=0),
            Param(
                "steps",
                "int",
                0,
                "denoising steps; 0 = the card's default_steps (20 DPM-Solver++ steps for cards without one);"
                " pix2pix: ignored",
                minimum=0,
                maximum=1000,
            ),
            Param("batch_size", "int", 8, "items per forward pass", minimum=1),
            Param("device", "str", "auto", "auto, cpu, cuda or cuda:N"),
            Param(
                "precision", "str", "auto", "auto = fp16 on CUDA, fp32 on CPU", choices=("auto", "fp32", "fp16", "bf16")
            ),
            Param(
                "guidance",
                "float",
                0.0,
                "classifier-free guidance; 0 = the model's default (controlnet-sd15: 4; pixel: its card's, 1"
                " for models trained without map dropout)",
                minimum=0,
            ),
            Param(
                "class_guidance",
                "str",
                "",
                "pixel models with map dropout: map guidance per class, e.g. 'water=1.75' (GUIDANCE elsewhere)",
            ),
            Param(
                "class_guidance_margin",
                "int",
                DEFAULT_CLASS_MARGIN,
                "px around a CLASS_GUIDANCE class that get its weight",
                minimum=0,
                maximum=64,
            ),
            Param("control_scale", "float", 1.0, "ControlNet conditioning scale", minimum=0),
            Param("negative_prompt", "str", "clouds, haze, blurry, low quality", "negative prompt (controlnet-sd15)"),
            Param("seamless", "bool", False, "joint denoising of the whole area with Hann-weighted windows"),
            Param("window_stride", "int", 0, "seamless: window stride in pixels (0 = 3/4 of a patch)", minimum=0),
            Param(
                "consistency_lora",
                "str",
                "",
                "controlnet-sd15: local folder of a latent-consistency LoRA (LCM / TCD, safetensors) for 4-step"
                " sampling without guidance",
            ),
            Param("compile", "bool", False, "torch.compile the UNet"),
            Param("vae_tiling", "bool", False, "tiled VAE decoding (controlnet-sd15)"),
            Param("vae_slicing", "bool", False, "sliced VAE decoding (controlnet-sd15)"),
            Param("output_dir", "path", help="folder for <patch_id>_vNN.tif"),
        ),
    ),
)
