"""A low-noise teacher pass after a few-step student (model card ``refiner``).

Why: a 4-step DDIM-trailing student predicts its output from t = 249, where a v-prediction error reaches x0 scaled
by sqrt(1 - alpha_bar) = 0.39, so its images carry a white, band-independent noise floor (3x real Sentinel-2's
high-frequency power share, band correlations 0.1 too low) that a classifier sees at once. Re-noising the
student's result to a small t (24: noise std 0.06 in model units) and letting the teacher denoise it in one DDIM
step removes that floor and keeps the student's content. Measured in docs/BENCHMARKS.md (section realism).

Card: ``"refiner": {"model": "../teacher-folder", "start": 24, "steps": 1}`` (path relative to the student's
folder). The re-noising draws fresh noise seeded from the bytes of the item's (or canvas's) own noise, so it
depends on nothing but the item, whatever the batch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..runtime.protocol import UserError


class RefineSchedule:
    """DDIM (eta 0, v-prediction) on an explicit grid ``start, start - stride, ...`` down to x0; the subset of a
    diffusers scheduler's interface that the sampling loops use (timesteps, init_noise_sigma, scale_model_input,
    step(...).prev_sample)."""

    init_noise_sigma = 1.0

    def __init__(self, alphas_cumprod, start: int, steps: int) -> None:
        import torch

        stride = (start + 1) / steps
        self.timesteps = torch.tensor([round(start - k * stride) for k in range(steps)], dtype=torch.long)
        self.alphas = alphas_cumprod

    def scale_model_input(self, sample, _t):
        return sample

    def step(self, prediction, t, sample):
        from types import SimpleNamespace

        import torch

        index = int((self.timesteps == int(t)).nonzero()[0])
        a = self.alphas[int(t)].to(sample.dtype)
        a_prev = self.alphas[int(self.timesteps[index + 1])] if index + 1 < len(self.timesteps) else torch.tensor(1.0)
        a_prev = a_prev.to(sample.dtype)
        x0 = a.sqrt() * sample - (1 - a).sqrt() * prediction
        eps = (1 - a).sqrt() * sample + a.sqrt() * prediction
        return SimpleNamespace(prev_sample=a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps)


def load_refiner(model_dir: Path, card: dict[str, Any], device: str, dtype) -> Any | None:
    """The refiner model named by the card (None without one), checked against the student it serves."""
    spec = card.get("refiner")
    if not spec:
        return None
    from . import load_model

    folder = (Path(model_dir) / spec["model"]).resolve()
    if not (folder / "model_card.json").is_file():
        raise UserError(
            f"MODEL: {model_dir} is refined by the model {spec['model']} (its model card's 'refiner'), which is"
            f" missing at {folder}; keep the two model folders side by side"
        )
    refiner = load_model(folder, device=device, dtype=dtype)
    for key in ("family", "bands", "patch_size", "train_scheduler", "band_scaling"):
        if refiner.card.get(key) != card.get(key):
            raise UserError(f"MODEL: the refiner {folder} differs from {model_dir} in '{key}'")
    if refiner.card["train_scheduler"].get("prediction_type") != "v_prediction":
        raise UserError(f"MODEL: the refiner {folder} must be a v-prediction model")
    start, steps = int(spec["start"]), int(spec["steps"])
    if not (0 < steps <= start < refiner.card["train_scheduler"]["num_train_timesteps"]):
        raise UserError(f"MODEL: {model_dir}: refiner start {start} / steps {steps} out of range")
    return refiner


def fresh_noise(noise):
    """Standard normal noise of ``noise``'s shape, seeded by its bytes (CPU float32): one item, one draw."""
    import torch

    digest = hashlib.sha256(noise.detach().float().cpu().contiguous().numpy().tobytes()).digest()
    generator = torch.Generator("cpu").manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return torch.randn(noise.shape, generator=generator).to(noise.device, noise.dtype)


def refined(refiner, spec: dict[str, Any], sample, noise, denoise):
    """The refiner's pass over ``sample`` (model units): re-noised to ``spec['start']`` with fresh noise seeded by
    ``noise`` (per item: pass one item's noise, or a batch whose items are seeded one by one), then denoised by
    ``denoise(start_sample, schedule)``, the caller's loop (a batch or a seamless canvas)."""
    import torch

    fresh = torch.stack([fresh_noise(item) for item in noise]) if noise.ndim == 4 else fresh_noise(noise)
    alphas = refiner.train_scheduler().alphas_cumprod
    a = alphas[int(spec["start"])].to(sample.dtype)
    start = a.sqrt() * sample + (1 - a).sqrt() * fresh.to(sample.dtype)
    return denoise(start, RefineSchedule(alphas, int(spec["start"]), int(spec["steps"])))
