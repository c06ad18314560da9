"""Joint denoising (the SEAMLESS generation mode): the whole area is denoised at once with overlapping windows
whose predictions are blended with tapered (Hann) weights at every step, MultiDiffusion-style, so neighbouring
patches agree before any cut. The family's ``sample_canvas`` says what a window sees (pixel: its map crop in pixel
space; controlnet-sd15: latent windows, each with its own control crop); this module holds what they share."""

from __future__ import annotations

from typing import Any

# Default window stride, as a share of the patch: on the Aberystwyth benchmark (docs/BENCHMARKS.md, 'Independent vs
# joint generation') 3/4 gave seams as invisible as 1/2 (the old default) at about half the windows, which brings
# seamless generation's cost within 1.5x of independent generation's on the demo's grid (overlap 12 of 64 px).
DEFAULT_WINDOW_STRIDE = 0.75


def default_window_stride(size: int) -> int:
    return max(int(size * DEFAULT_WINDOW_STRIDE), 1)


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


def blended_prediction(canvas, t, windows: list[tuple[int, int]], size: int, scheduler, predict, batch_size, weights):
    """The model's prediction for the whole canvas at step ``t``: window predictions blended with ``weights``."""
    import torch

    total = torch.zeros_like(canvas)
    norm = torch.zeros_like(canvas[:1])
    for start in range(0, len(windows), batch_size):
        batch = windows[start : start + batch_size]
        crops = torch.stack([canvas[:, y : y + size, x : x + size] for y, x in batch])
        predictions = predict(scheduler.scale_model_input(crops, t), t, batch)
        for (y, x), prediction in zip(batch, predictions, strict=True):
            total[:, y : y + size, x : x + size] += prediction * weights
            norm[:, y : y + size, x : x + size] += weights
    return total / norm  # NaN where no window lies (inpainting skips windows over known pixels only)


def denoise_canvas(
    noise, windows: list[tuple[int, int]], size: int, scheduler, predict, batch_size: int, reporter=None
):
    """noise (C, H, W); predict(inputs (B, C, size, size), t, offsets) -> predictions; returns the canvas."""
    weights = hann_weights(size).to(noise.device, noise.dtype)
    canvas = noise * scheduler.init_noise_sigma
    for number, t in enumerate(scheduler.timesteps):
        if reporter is not None:
            reporter.check_cancel()
        prediction = blended_prediction(canvas, t, windows, size, scheduler, predict, batch_size, weights)
        canvas = scheduler.step(prediction, t, canvas).prev_sample
        if reporter is not None:
            reporter.progress((number + 1) / len(scheduler.timesteps), f"joint step {number + 1}", "generate")
    return canvas


def canvas_noise(model, seed: int, variation: int, height: int, width: int):
    """Noise of a whole canvas, fixed by (seed, variation) and the canvas size."""
    import torch

    from .sampling import item_seed

    generator = torch.Generator("cpu").manual_seed(item_seed(seed, "seamless-canvas", variation))
    shape = model.noise_shape(height, width)
    return {name: torch.randn(shape, generator=generator) for name in model.noise_names}


def crop_outputs(outputs: dict[str, Any], y: int, x: int, size: int) -> dict[str, Any]:
    return {key: value[:, :, y : y + size, x : x + size] for key, value in outputs.items()}
