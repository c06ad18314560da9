"""Joint denoising (the SEAMLESS generation mode): the whole area is denoised at once with overlapping windows
whose predictions are blended with tapered (Hann) weights at every step, MultiDiffusion-style, so neighbouring
patches agree before any cut. Pixel family: in pixel space; controlnet-sd15: in latent space, each window with
its own control crop."""

from __future__ import annotations

from typing import Any

import numpy as np


def window_offsets(length: int, size: int, stride: int) -> list[int]:
    offsets = list(range(0, max(length - size, 0) + 1, stride))
    if offsets[-1] != length - size:
        offsets.append(length - size)
    return offsets


def hann_weights(size: int):
    """Separable Hann taper that never reaches 0, so canvas borders (one window only) stay defined."""
    import torch

    ramp = torch.sin(torch.pi * (torch.arange(size, dtype=torch.float32) + 0.5) / size) ** 2
    return (ramp[:, None] * ramp[None, :]).clamp(min=1e-3)


def denoise_canvas(
    noise, windows: list[tuple[int, int]], size: int, steps: int, scheduler, predict, batch_size: int, reporter=None
):
    """noise (C, H, W); predict(inputs (B, C, size, size), t, offsets) -> predictions; returns the canvas."""
    import torch

    weights = hann_weights(size).to(noise.device, noise.dtype)
    canvas = noise * scheduler.init_noise_sigma
    for number, t in enumerate(scheduler.timesteps):
        if reporter is not None:
            reporter.check_cancel()
        total = torch.zeros_like(canvas)
        norm = torch.zeros_like(canvas[:1])
        for start in range(0, len(windows), batch_size):
            batch = windows[start : start + batch_size]
            crops = torch.stack([canvas[:, y : y + size, x : x + size] for y, x in batch])
            predictions = predict(scheduler.scale_model_input(crops, t), t, batch)
            for (y, x), prediction in zip(batch, predictions, strict=True):
                total[:, y : y + size, x : x + size] += prediction * weights
                norm[:, y : y + size, x : x + size] += weights
        canvas = scheduler.step(total / norm, t, canvas).prev_sample
        if reporter is not None:
            reporter.progress((number + 1) / len(scheduler.timesteps), f"joint step {number + 1}", "generate")
    return canvas


def pixel_joint(
    model, map_canvas, noise, windows, steps: int, batch_size: int, reporter=None, guidance: float = 0.0
) -> dict[str, Any]:
    import torch
    from diffusers import DPMSolverMultistepScheduler

    size = model.card["patch_size"]
    scheduler = DPMSolverMultistepScheduler(**model.card["train_scheduler"], algorithm_type="dpmsolver++")
    scheduler.set_timesteps(steps)
    dtype = next(model.unet.parameters()).dtype
    guidance = model.guidance_scale(guidance)

    def predict(inputs, t, offsets):
        maps = torch.stack([map_canvas[:, y : y + size, x : x + size] for y, x in offsets]).to(dtype)
        return model.predict(inputs.to(dtype), maps, t, guidance).to(inputs.dtype)

    with torch.inference_mode():
        canvas = denoise_canvas(noise, windows, size, steps, scheduler, predict, batch_size, reporter)
    return {"bands": canvas[None].float().clamp(-1, 1)}


def controlnet_joint(
    model,
    map_canvas,
    noises,
    windows,
    steps: int,
    batch_size: int,
    guidance: float,
    control_scale: float,
    negative_prompt: str,
    reporter=None,
) -> dict[str, Any]:
    """RGB then NIR, each over the whole latent canvas; the NIR windows see the jointly generated RGB."""
    import torch
    from diffusers import DPMSolverMultistepScheduler

    from ..models.controlnet import SD_TRAIN_SCHEDULER

    factor, size = model.vae_factor, model.card["patch_size"]
    latent_size, latent_windows = size // factor, [(y // factor, x // factor) for y, x in windows]
    dtype = model.base["unet"].dtype
    with torch.inference_mode():
        text = model.encode_prompt([model.card.get("prompt", "")])
        hidden = torch.cat([model.encode_prompt([negative_prompt]), text]) if guidance > 1.0 else text
        map01 = ((map_canvas + 1) / 2).to(dtype)

        def run(controlnet, noise, condition):
            scheduler = DPMSolverMultistepScheduler(**SD_TRAIN_SCHEDULER, algorithm_type="dpmsolver++")
            scheduler.set_timesteps(steps)

            def predict(inputs, t, offsets):
                cond = torch.stack(
                    [condition[:, y * factor : y * factor + size, x * factor : x * factor + size] for y, x in offsets]
                )
                n = inputs.shape[0]
                if guidance > 1.0:
                    both = model._predict(
                        controlnet,
                        torch.cat([inputs, inputs]).to(dtype),
                        t,
                        hidden.repeat_interleave(n, 0),
                        torch.cat([cond, cond]),
                        control_scale,
                    )
                    uncond, texted = both.chunk(2)
                    return (uncond + guidance * (texted - uncond)).to(inputs.dtype)
                return model._predict(controlnet, inputs.to(dtype), t, text.repeat(n, 1, 1), cond, control_scale).to(
                    inputs.dtype
                )

            return denoise_canvas(
                noise.to(dtype), latent_windows, latent_size, steps, scheduler, predict, batch_size, reporter
            )

        rgb = model._decode(run(model.controlnet_rgb, noises["rgb"], map01)[None])
        nir_condition = torch.cat([map01, ((rgb[0] + 1) / 2).to(dtype)])
        nir = model._decode(run(model.controlnet_nir, noises["nir"], nir_condition)[None]).mean(dim=1, keepdim=True)
    return {"rgb": rgb, "nir": nir}


def canvas_noise(model, seed: int, variation: int, height: int, width: int):
    """Noise of a whole canvas, fixed by (seed, variation) and the canvas size."""
    import torch

    from .sampling import item_seed

    generator = torch.Generator("cpu").manual_seed(item_seed(seed, "seamless-canvas", variation))
    if model.family == "pixel":
        return {"bands": torch.randn((len(model.card["bands"]), height, width), generator=generator)}
    channels = model.base["unet"].config.in_channels
    shape = (channels, height // model.vae_factor, width // model.vae_factor)
    return {"rgb": torch.randn(shape, generator=generator), "nir": torch.randn(shape, generator=generator)}


def crop_outputs(outputs: dict[str, Any], y: int, x: int, size: int) -> dict[str, Any]:
    return {key: value[:, :, y : y + size, x : x + size] for key, value in outputs.items()}


def mean_abs_overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.nanmean(np.abs(a.astype(np.float64) - b.astype(np.float64))))
