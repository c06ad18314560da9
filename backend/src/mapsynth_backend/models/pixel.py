"""``pixel``: a conditional UNet2DModel in pixel space that denoises all bands jointly (B02, B03, B04, B08 by
default) given the map's RGB channels; RGB and NIR agree by construction."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.protocol import UserError
from .band_scaling import from_diffusion, to_diffusion
from .base import check_prediction_type, training_target
from .card import check_safetensors_only, require_files, write_card
from .refine import load_refiner, refined

PIXEL_PRESETS = {
    "tiny": {
        "block_out_channels": (16, 32),
        "down_block_types": ("DownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "UpBlock2D"),
        "layers_per_block": 1,
        "norm_num_groups": 8,
    },
    "small": {
        "block_out_channels": (32, 64, 96, 128),
        "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        "layers_per_block": 1,
        "norm_num_groups": 16,
        "attention_head_dim": 16,
    },
    # 2.5x small's parameters (9.1 M), half again as wide at full resolution and two layers per block: the capacity
    # ablation of issue 28 (make bench-realism-preset); about 2.6x small's training step on a CPU
    "medium": {
        "block_out_channels": (48, 96, 128, 160),
        "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        "layers_per_block": 2,
        "norm_num_groups": 16,
        "attention_head_dim": 16,
    },
}
# The "no map" input of map dropout: 0 is never a real map value (maps are round(x) / 127.5 - 1).
NULL_MAP = 0.0
# card "sampler": deterministic ODE solvers and, marked in STOCHASTIC, samplers that inject noise at every step;
# LOG_SNR: a DPM-Solver whose steps are uniform in log-SNR (diffusers' use_lu_lambdas, Lu et al. 2022) instead of in
# timesteps, so more of them fall at low noise, where the last pixel-scale detail (and residual noise) is settled
LOG_SNR = "-logsnr"
SAMPLERS = (
    "dpmsolver++",
    "ddim-trailing",
    "sde-dpmsolver++",
    "ddim-eta1",
    "dpmsolver++-logsnr",
    "sde-dpmsolver++-logsnr",
)
STOCHASTIC = ("sde-dpmsolver++", "ddim-eta1", "sde-dpmsolver++-logsnr")
TRAIN_SCHEDULER = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2", "prediction_type": "v_prediction"}


def _per_sample(t, inputs) -> bool:
    """Whether ``t`` holds one timestep per sample (distillation's teacher) rather than one for the batch."""
    import torch

    return torch.is_tensor(t) and t.ndim > 0 and len(t) == len(inputs)


class PixelModel:
    """Pixel-space diffusion on all bands at once, conditioned on the map's RGB channels."""

    family = "pixel"
    presets = tuple(PIXEL_PRESETS)
    noise_names = ("bands",)
    supports_map_dropout = True
    window_step = 1

    def __init__(self, unet, card: dict[str, Any]) -> None:
        self.unet = unet
        self.card = card
        self.refiner = None  # a teacher's low-noise pass after a few-step student (models/refine.py)
        self.snr_gamma = 0.0  # training: min-SNR loss weighting when > 0 (train-model SNR_GAMMA)

    @classmethod
    def create(
        cls, preset: str, bands: list[str], size: int, card: dict[str, Any], base_model: str = "", **_: Any
    ) -> PixelModel:
        """A new model; with ``base_model`` (a pixel model folder of the same preset and bands) its weights are the
        starting point (fine-tuning, e.g. onto new map classes or clip ranges)."""
        from diffusers import UNet2DModel

        if preset not in PIXEL_PRESETS:
            raise UserError(f"PRESET: {preset!r} is not a pixel preset ({', '.join(PIXEL_PRESETS)})")
        levels = len(PIXEL_PRESETS[preset]["block_out_channels"])
        if size % 2 ** (levels - 1):
            raise UserError(f"patch size {size} must be a multiple of {2 ** (levels - 1)} for preset {preset}")
        map_channels = int(card.get("map_channels") or 3)  # more than 3: a tone layout's too (tone_layout.py)
        unet = UNet2DModel(
            sample_size=size, in_channels=len(bands) + map_channels, out_channels=len(bands), **PIXEL_PRESETS[preset]
        )
        if base_model:
            start = Path(base_model) / "unet"
            require_files(Path(base_model), "unet/config.json")
            check_safetensors_only(Path(base_model))
            weights = UNet2DModel.from_pretrained(start, use_safetensors=True).state_dict()
            if {k: v.shape for k, v in weights.items()} != {k: v.shape for k, v in unet.state_dict().items()}:
                raise UserError(
                    f"BASE_MODEL: {base_model} is not a pixel model of preset {preset} for {len(bands)} bands"
                )
            unet.load_state_dict(weights)
            card_file = Path(base_model) / "model_card.json"
            base_card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.is_file() else {}
            if base_card.get("band_scaling"):  # fine-tuning stays in the space the weights diffuse in
                card = {**card, "band_scaling": base_card["band_scaling"]}
        return cls(
            unet,
            {
                **card,
                "family": cls.family,
                "preset": preset,
                "bands": bands,
                "map_channels": map_channels,
                "train_scheduler": TRAIN_SCHEDULER,
            },
        )

    @classmethod
    def load(cls, model_dir: Path, card: dict[str, Any], device: str = "cpu", dtype=None) -> PixelModel:
        from diffusers import UNet2DModel

        require_files(model_dir, "unet/config.json")
        check_safetensors_only(model_dir)
        unet = UNet2DModel.from_pretrained(model_dir / "unet", use_safetensors=True, torch_dtype=dtype)
        bands = card.get("bands") or []
        if unet.config.out_channels != len(bands) or unet.config.in_channels != len(bands) + card.get(
            "map_channels", 3
        ):
            raise UserError(
                f"MODEL: {model_dir} has a UNet for {unet.config.out_channels} bands but its model card"
                f" lists {len(bands)} ({', '.join(bands)}); the directory is inconsistent"
            )
        import torch

        model = cls(unet.to(device, memory_format=torch.channels_last).eval(), card)
        model.refiner = load_refiner(model_dir, card, device, dtype)
        return model

    def modules(self) -> dict[str, Any]:
        return {"unet": self.unet}

    def trainable(self) -> list:
        return [self.unet]

    def prepare_training(self, device, mixed_precision: str) -> None:
        """Nothing is frozen: accelerate places the UNet."""

    @classmethod
    def training_item(cls, row: dict[str, Any], read_png: Callable[[str], np.ndarray], clip) -> dict[str, Any]:
        import rasterio
        import torch

        from ..radiometry import decode_reflectance

        with rasterio.open(Path(row["root"]) / row["multispectral"]) as src:
            reflectance = decode_reflectance(src.read())
        unit, _ = clip.forward(reflectance)
        valid = np.isfinite(unit).all(axis=0)
        return {
            "target": torch.from_numpy((np.nan_to_num(unit) * 2 - 1).astype(np.float32)),
            "valid": torch.from_numpy(valid[None].astype(np.float32)),
        }

    def train_scheduler(self):
        from diffusers import DDPMScheduler

        scheduler = DDPMScheduler(**self.card["train_scheduler"])
        check_prediction_type(scheduler.config.prediction_type)
        return scheduler

    def _sampler(self, steps: int, noise=None):
        """DPM-Solver++ by default; distilled students (card ``sampler``) take the DDIM grid they were distilled on.
        Stochastic samplers (``sde-dpmsolver++``, ``ddim-eta1``) inject fresh noise at every step, drawn from
        generators seeded by each item's (or the canvas's) initial noise, so an item's result does not depend on
        its batch."""
        from functools import partial

        from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

        from .consistency import item_generators

        name = self.card.get("sampler") or "dpmsolver++"
        if name not in SAMPLERS:
            raise UserError(f"MODEL: unknown sampler '{name}' in the model card; one of {', '.join(SAMPLERS)}")
        config = self.card["train_scheduler"]
        if name.startswith("ddim"):
            scheduler = DDIMScheduler(**config, clip_sample=False, set_alpha_to_one=True, timestep_spacing="trailing")
        else:
            algorithm = name.removesuffix(LOG_SNR)
            scheduler = DPMSolverMultistepScheduler(
                **config, algorithm_type=algorithm, use_lu_lambdas=name != algorithm
            )
        scheduler.set_timesteps(steps)
        if name in STOCHASTIC and noise is not None:
            extra = {"eta": 1.0} if name == "ddim-eta1" else {}
            scheduler.step = partial(scheduler.step, generator=item_generators(noise, "cpu"), **extra)
        return scheduler

    def loss(self, batch: dict, scheduler, generator=None):
        import torch
        import torch.nn.functional as F

        target = to_diffusion(self.card, batch["target"])  # (B, bands, H, W) in [-1, 1], then the card's band_scaling
        noise = torch.randn(target.shape, generator=generator, device="cpu").to(target)
        steps = torch.randint(0, scheduler.config.num_train_timesteps, (target.shape[0],), generator=generator)
        steps = steps.to(target.device)
        noisy = scheduler.add_noise(target, noise, steps)
        maps = batch["map"]
        dropout = float(self.card.get("map_dropout") or 0.0)
        if dropout > 0:  # learn the map-free prediction too, for classifier-free map guidance at sampling
            keep = (torch.rand(target.shape[0], generator=generator) >= dropout).to(maps.device)
            maps = torch.where(keep[:, None, None, None], maps, torch.full_like(maps, NULL_MAP))
        prediction = self.unet(torch.cat([noisy, maps], dim=1), steps).sample
        goal = training_target(scheduler, target, noise, steps)
        valid = batch["valid"].to(target.dtype)
        weights = valid
        if self.snr_gamma:  # min-SNR-gamma (Hang et al. 2023), as diffusers' --snr_gamma, for v-prediction
            from diffusers.training_utils import compute_snr

            snr = compute_snr(scheduler, steps)
            weights = valid * (snr.clamp(max=self.snr_gamma) / (snr + 1)).to(valid)[:, None, None, None]
        per_band = self.card.get("band_loss_weights")  # train-model BAND_WEIGHTS (train/band_weights.py)
        if per_band:
            weights = weights * torch.tensor([per_band[b] for b in self.card["bands"]]).to(valid)[None, :, None, None]
        return (F.mse_loss(prediction.float(), goal.float(), reduction="none") * weights).sum() / (
            valid.sum() * target.shape[1]
        ).clamp(min=1)

    def spectral_hold(self):
        """The card's class spectra held at every sampling step (generate/class_spectra.py), or a pass-through."""
        from ..generate.class_spectra import spectral_hold

        hold = spectral_hold(self.card, self.train_scheduler)
        return hold if hold is not None else (lambda prediction, *_: prediction)

    def noise_shape(self, height: int, width: int | None = None) -> tuple[int, int, int]:
        return (len(self.card["bands"]), height, width or height)

    def guidance_scale(self, requested: float) -> float:
        """0 = the card's recommendation; models trained without map dropout (distilled students: guidance folded
        in) have no map-free branch (1)."""
        if not self.card.get("map_dropout"):
            return 1.0
        return float(requested or self.card.get("default_guidance") or self.card.get("guidance") or 1.0)

    def predict(self, inputs, maps, t, guidance):
        """One UNet evaluation; with guidance != 1 the map-free branch runs in the same batch. ``guidance`` is a
        number or a per-pixel weight (B, 1, H, W) (inpainting's per-class guidance): ``free + w * (mapped - free)``.

        The card's ``guidance_rescale`` (Lin et al. 2023, as diffusers' ``guidance_rescale``) pulls the guided
        prediction's per-sample spread back towards the map-conditioned one: plain guidance overshoots, which
        pushed classes to the clip floor (water NIR 0, NDVI -1)."""
        import torch

        layout = torch.channels_last  # with load()'s channels-last weights, about 20 % faster convolutions
        if torch.is_tensor(guidance):  # per-pixel weights: the map-free branch only for samples that need it
            unguided = (guidance == 1).flatten(1).all(dim=1)
            if bool(unguided.all()):
                guidance = 1.0
            elif bool(unguided.any()):
                mapped = self.unet(torch.cat([inputs, maps], dim=1).contiguous(memory_format=layout), t).sample
                needed = t[~unguided] if _per_sample(t, inputs) else t
                mapped[~unguided] = self.predict(inputs[~unguided], maps[~unguided], needed, guidance[~unguided])
                return mapped
        if not torch.is_tensor(guidance) and guidance == 1.0:  # no map-free branch
            return self.unet(torch.cat([inputs, maps], dim=1).contiguous(memory_format=layout), t).sample
        both = torch.cat([torch.cat([inputs, maps], dim=1), torch.cat([inputs, torch.full_like(maps, NULL_MAP)], 1)])
        if _per_sample(t, inputs):
            t = t.repeat(2)
        mapped, free = self.unet(both.contiguous(memory_format=layout), t).sample.chunk(2)
        guided = free + guidance * (mapped - free)
        rescale = float(self.card.get("guidance_rescale") or 0.0)
        if rescale > 0:
            dims = tuple(range(1, guided.ndim))
            ratio = mapped.std(dim=dims, keepdim=True) / guided.std(dim=dims, keepdim=True).clamp(min=1e-6)
            guided = rescale * guided * ratio + (1 - rescale) * guided
        return guided

    def sample(self, maps, noises, steps: int, guidance: float = 0.0, guidance_map=None, **_: Any) -> dict[str, Any]:
        """maps (B, 3, H, W) in [-1, 1], noises per sample -> {"bands": (B, bands, H, W) in [-1, 1]};
        ``guidance_map`` (B, 1, H, W), a per-pixel guidance weight, replaces ``guidance`` where given."""
        import torch

        guidance = self.guidance_scale(guidance)
        if guidance_map is not None and self.card.get("map_dropout"):
            guidance = guidance_map.to(maps.device, next(self.unet.parameters()).dtype)
        scheduler = self._sampler(steps, noises["bands"])
        dtype = next(self.unet.parameters()).dtype
        maps = maps.to(dtype)
        sample = noises["bands"].to(dtype) * scheduler.init_noise_sigma
        hold = self.spectral_hold()
        with torch.inference_mode():
            for t in scheduler.timesteps:
                inputs = scheduler.scale_model_input(sample, t)
                prediction = hold(self.predict(inputs, maps, t, guidance), inputs, maps, t)
                sample = scheduler.step(prediction, t, sample).prev_sample
            if self.refiner is not None:

                def loop(start, schedule):
                    for t in schedule.timesteps:
                        prediction = hold(self.refiner.predict(start, maps, t, 1.0), start, maps, t)
                        start = schedule.step(prediction, t, start).prev_sample
                    return start

                sample = refined(self.refiner, self.card["refiner"], sample, noises["bands"], loop)
        return self._outputs(from_diffusion(self.card, sample.float()).clamp(-1, 1), maps)

    def _outputs(self, bands, maps) -> dict[str, Any]:
        """{"bands": ...}, with "held" (B, 1, H, W), the pixels of classes the card holds, when the card also has a
        sensor transfer function: to_reflectance keeps them as sampled (the hold's promise stays exact)."""
        from ..generate.class_spectra import held_zone

        outputs = {"bands": bands}
        zone = held_zone(self.card, maps) if self.card.get("sensor_mtf") else None
        if zone is not None:
            outputs["held"] = zone
        return outputs

    def sample_canvas(
        self,
        map_canvas,
        noises,
        windows,
        steps: int,
        batch_size: int,
        denoise,
        guidance: float = 0.0,
        guidance_map=None,
        **_: Any,
    ) -> dict[str, Any]:
        """Joint denoising in pixel space: every window sees its crop of the map canvas (and of ``guidance_map``,
        a per-pixel guidance weight (H, W) on the canvas that replaces ``guidance`` where given)."""
        import torch

        size = self.card["patch_size"]
        scheduler = self._sampler(steps, noises["bands"])
        dtype = next(self.unet.parameters()).dtype
        guidance = self.guidance_scale(guidance)

        hold = self.spectral_hold()

        def predict(inputs, t, offsets):
            maps = torch.stack([map_canvas[:, y : y + size, x : x + size] for y, x in offsets]).to(dtype)
            weight = guidance
            if guidance_map is not None and self.card.get("map_dropout"):
                crops = [guidance_map[y : y + size, x : x + size] for y, x in offsets]
                weight = torch.stack(crops)[:, None].to(maps.device, dtype)
            return hold(self.predict(inputs.to(dtype), maps, t, weight), inputs.to(dtype), maps, t).to(inputs.dtype)

        with torch.inference_mode():
            canvas = denoise(noises["bands"], windows, size, scheduler, predict, batch_size)
            if self.refiner is not None:

                def refiner_predict(inputs, t, offsets):
                    maps = torch.stack([map_canvas[:, y : y + size, x : x + size] for y, x in offsets]).to(dtype)
                    prediction = self.refiner.predict(inputs.to(dtype), maps, t, 1.0)
                    return hold(prediction, inputs.to(dtype), maps, t).to(inputs.dtype)

                canvas = refined(
                    self.refiner,
                    self.card["refiner"],
                    canvas,
                    noises["bands"],
                    lambda start, schedule: denoise(start, windows, size, schedule, refiner_predict, batch_size),
                )
        return self._outputs(from_diffusion(self.card, canvas[None].float()).clamp(-1, 1), map_canvas[None])

    def known_values(self, unit) -> dict[str, Any]:
        import torch

        return {"bands": to_diffusion(self.card, torch.as_tensor(np.asarray(unit, np.float32) * 2 - 1))}

    def to_unit(self, outputs: dict[str, Any]) -> np.ndarray:
        return (outputs["bands"].cpu().numpy().astype(np.float64) + 1) / 2

    def denoiser(self):
        return self.unet

    def configure_decoding(self, tiling: bool, slicing: bool) -> None:
        """Pixel space: there is no decoder."""

    def save(self, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        self.unet.save_pretrained(model_dir / "unet", safe_serialization=True)
        write_card(model_dir, self.card)
