"""RePaint-style inpainting (Lugmayr et al. 2022) inside MapSynth's own windowed canvas loop.

At every step the known region is replaced by the known values noised to the step's level, and the schedule
travels back in time (RePaint's jumps: ``jump`` levels re-noised, ``resample`` visits of each jump point; jump 1
redoes every step), so that the generated region harmonises with its surroundings instead of merely touching
them. The step is DDIM (eta 0) on the family's own noise schedule (stateless, so a step can be redone;
DPM-Solver's multistep history cannot), with "trailing" spacing so the first step starts from pure noise. The
same loop serves both families: it is handed to a family's ``sample_canvas`` as its ``denoise`` callable, and
works in whatever space the family denoises (pixel space, or SD latents: the unknown mask is max-pooled onto
the latent grid, so a latent cell touching the region is free).
"""

from __future__ import annotations

from typing import Any

from .joint import blended_prediction, hann_weights


def inpaint_scheduler(scheduler, steps: int):
    """A DDIM scheduler on ``scheduler``'s noise schedule (betas, prediction type), trailing spacing."""
    from diffusers import DDIMScheduler

    ddim = DDIMScheduler.from_config(
        scheduler.config, clip_sample=False, timestep_spacing="trailing", steps_offset=0, set_alpha_to_one=True
    )
    ddim.set_timesteps(steps)
    return ddim


def pool_mask(unknown, height: int, width: int):
    """Pixel mask (H, W), 1 = to generate -> the noise grid (h, w): a cell is free if any of its pixels is."""
    import torch.nn.functional as F

    factor = unknown.shape[0] // height
    if factor <= 1:
        return unknown[None]
    return F.max_pool2d(unknown[None, None], factor)[0, :, :height, :width]


class RePaint:
    """The ``denoise`` callable of :meth:`ModelFamily.sample_canvas` with known-region conditioning.

    ``known`` holds the known values per noise name, in the family's ``noise_names`` order, which is the order
    in which ``sample_canvas`` denoises (controlnet-sd15: RGB latents, then NIR latents).
    """

    def __init__(self, known: dict[str, Any], unknown, resample: int, generator, reporter=None, jump: int = 1) -> None:
        self.known = list(known.values())
        self.unknown = unknown  # (H, W) float, 1 = generate, pixel grid
        self.resample = resample
        self.jump = jump
        self.generator = generator
        self.reporter = reporter
        self.calls = 0

    def _noise(self, like):
        import torch

        return torch.randn(like.shape, generator=self.generator).to(like.device, like.dtype)

    def __call__(self, noise, windows, size: int, scheduler, predict, batch_size: int):
        import torch

        known = self.known[self.calls].to(noise.device, noise.dtype)
        self.calls += 1
        free = pool_mask(self.unknown.to(noise.device, noise.dtype), noise.shape[1], noise.shape[2])
        # only windows that see a free cell: elsewhere every step is replaced by the known values anyway
        windows = [(y, x) for y, x in windows if free[:, y : y + size, x : x + size].any()]
        keep = free > 0
        ddim = inpaint_scheduler(scheduler, len(scheduler.timesteps))
        weights = hann_weights(size).to(noise.device, noise.dtype)
        alphas = ddim.alphas_cumprod.to(noise.device, noise.dtype)
        ratio = ddim.config.num_train_timesteps // ddim.num_inference_steps
        steps = len(ddim.timesteps)

        def alpha(t: int):
            return alphas[t] if t >= 0 else torch.tensor(float(ddim.final_alpha_cumprod)).to(alphas)

        canvas = noise * ddim.init_noise_sigma
        path = travel(steps, self.jump, self.resample)
        moves = len(path) - 1
        for move, (here, there) in enumerate(zip(path, path[1:], strict=False), start=1):
            if self.reporter is not None:
                self.reporter.check_cancel()
            if there < here:  # one DDIM step down, the known region replaced by BASE noised to the new level
                t = ddim.timesteps[steps - here]
                prediction = blended_prediction(canvas, t, windows, size, ddim, predict, batch_size, weights)
                previous = ddim.step(prediction, t, canvas, eta=0.0).prev_sample
                a_prev = alpha(int(t) - ratio)
                known_prev = a_prev.sqrt() * known + (1 - a_prev).sqrt() * self._noise(known)
                canvas = torch.where(keep, previous, known_prev)  # cells no window sees are NaN: not kept
            else:  # one level back up: q(x_t | x_prev)
                t = int(ddim.timesteps[steps - there])
                ratio_a = alpha(t) / alpha(t - ratio)
                canvas = ratio_a.sqrt() * canvas + (1 - ratio_a).sqrt() * self._noise(canvas)
            if self.reporter is not None:
                self.reporter.progress(move / moves, f"inpainting step {steps - min(here, there) + 1}", "inpaint")
        return canvas


def travel(steps: int, jump: int, resample: int) -> list[int]:
    """RePaint's time-travel schedule as noise levels (``steps`` = pure noise ... 0 = clean): on reaching a level
    that is a multiple of ``jump`` (with ``jump`` levels above it), go back up ``jump`` levels and denoise again,
    ``resample - 1`` times. ``jump`` 1 redoes every step (but the last) ``resample`` times."""
    jumps = {level: resample - 1 for level in range(jump, steps, jump) if level + jump <= steps}
    level, path = steps, [steps]
    while level > 0:
        level -= 1
        path.append(level)
        if jumps.get(level, 0) > 0:
            jumps[level] -= 1
            for _ in range(jump):
                level += 1
                path.append(level)
    return path
