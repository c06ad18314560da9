"""RePaint-style inpainting (Lugmayr et al. 2022) inside MapSynth's own windowed canvas loop.

At every step the known region is replaced by the known values noised to the step's level, and each step is
repeated ``resample`` times (re-noising one step back in between), so that the generated region harmonises with
its surroundings instead of merely touching them. The step is DDIM (eta 0) on the family's own noise schedule
(stateless, so a step can be redone; DPM-Solver's multistep history cannot), with "trailing" spacing so the
first step starts from pure noise. The same loop serves both families: it is handed to a family's
``sample_canvas`` as its ``denoise`` callable, and works in whatever space the family denoises (pixel space, or
SD latents: the unknown mask is max-pooled onto the latent grid, so a latent cell touching the region is free).
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

    def __init__(self, known: dict[str, Any], unknown, resample: int, generator, reporter=None) -> None:
        self.known = list(known.values())
        self.unknown = unknown  # (H, W) float, 1 = generate, pixel grid
        self.resample = resample
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

        def alpha(t: int):
            return alphas[t] if t >= 0 else torch.tensor(float(ddim.final_alpha_cumprod)).to(alphas)

        canvas = noise * ddim.init_noise_sigma
        total = len(ddim.timesteps) * self.resample
        for number, t in enumerate(ddim.timesteps):
            t_prev = int(t) - ratio
            a_t, a_prev = alpha(int(t)), alpha(t_prev)
            for round_ in range(self.resample):
                if self.reporter is not None:
                    self.reporter.check_cancel()
                prediction = blended_prediction(canvas, t, windows, size, ddim, predict, batch_size, weights)
                previous = ddim.step(prediction, t, canvas, eta=0.0).prev_sample
                known_prev = a_prev.sqrt() * known + (1 - a_prev).sqrt() * self._noise(known)
                previous = torch.where(keep, previous, known_prev)  # cells no window sees are NaN: not kept
                if round_ < self.resample - 1 and t_prev >= 0:  # back to t: q(x_t | x_prev)
                    ratio_a = a_t / a_prev
                    canvas = ratio_a.sqrt() * previous + (1 - ratio_a).sqrt() * self._noise(previous)
                else:
                    canvas = previous
                if self.reporter is not None:
                    done = number * self.resample + round_ + 1
                    self.reporter.progress(done / total, f"inpainting step {number + 1}", "inpaint")
        return canvas
