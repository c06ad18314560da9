"""The two model families behind one interface, saved as diffusers directories with a ``model_card.json``.

- ``pixel``: a conditional UNet2DModel in pixel space that denoises all bands jointly (B02, B03, B04, B08 by
  default) given the map; RGB and NIR agree by construction.
- ``controlnet-sd15``: Stable Diffusion 1.5 with two ControlNets. The RGB ControlNet sees the map; the NIR
  ControlNet sees the map *and the RGB image* (6 channels), so NIR follows RGB pixel for pixel.

Only safetensors are loaded, never with ``trust_remote_code``; pickle weights are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..runtime.protocol import UserError

FAMILIES = ("pixel", "controlnet-sd15")
PRESETS = {"pixel": ("tiny", "small"), "controlnet-sd15": ("tiny", "sd15")}
CARD = "model_card.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
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
}
# The "no map" input of map dropout: 0 is never a real map value (maps are round(x) / 127.5 - 1).
NULL_MAP = 0.0
TRAIN_SCHEDULER = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2", "prediction_type": "v_prediction"}
SD_LICENSE = "CreativeML OpenRAIL-M (Stable Diffusion 1.5 base weights)"
DATA_LICENSES = [
    "OpenStreetMap data: ODbL 1.0, (c) OpenStreetMap contributors",
    "Copernicus Sentinel data: free and open, 'Contains modified Copernicus Sentinel data'",
]


def check_safetensors_only(model_dir: Path) -> None:
    """Refuse component folders whose weights exist only as pickles (loading a pickle can run code)."""
    for config in model_dir.rglob("config.json"):
        folder = config.parent
        pickles = [p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
        if pickles and not any(p.suffix == ".safetensors" for p in folder.iterdir()):
            raise UserError(
                f"MODEL: {folder} holds pickle weights ({', '.join(pickles)}); MapSynth loads safetensors only."
                " Convert them (load in a trusted environment and save_pretrained(..., safe_serialization=True))"
            )


def read_card(model_dir: str | Path) -> dict[str, Any]:
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UserError(f"MODEL: not a folder: {model_dir}")
    try:
        card = json.loads((model_dir / CARD).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"MODEL: {model_dir} has no {CARD}; it is not a MapSynth model directory") from exc
    except ValueError as exc:
        raise UserError(f"MODEL: {model_dir / CARD} is not valid JSON") from exc
    if card.get("family") not in FAMILIES:
        raise UserError(f"MODEL: {model_dir} is of unknown family {card.get('family')!r}")
    return card


def write_card(model_dir: Path, card: dict[str, Any]) -> None:
    (model_dir / CARD).write_text(json.dumps(card, indent=2), encoding="utf-8")


def _missing(folder: Path, *names: str) -> None:
    for name in names:
        if not (folder / name).exists():
            raise UserError(f"MODEL: {folder} lacks {name}; the model directory is incomplete")


class PixelModel:
    """Pixel-space diffusion on all bands at once, conditioned on the map's RGB channels."""

    family = "pixel"

    def __init__(self, unet, card: dict[str, Any]) -> None:
        self.unet = unet
        self.card = card

    @classmethod
    def create(cls, preset: str, bands: list[str], size: int, card: dict[str, Any]) -> PixelModel:
        from diffusers import UNet2DModel

        if preset not in PIXEL_PRESETS:
            raise UserError(f"PRESET: {preset!r} is not a pixel preset ({', '.join(PIXEL_PRESETS)})")
        levels = len(PIXEL_PRESETS[preset]["block_out_channels"])
        if size % 2 ** (levels - 1):
            raise UserError(f"patch size {size} must be a multiple of {2 ** (levels - 1)} for preset {preset}")
        unet = UNet2DModel(
            sample_size=size, in_channels=len(bands) + 3, out_channels=len(bands), **PIXEL_PRESETS[preset]
        )
        return cls(
            unet,
            {
                **card,
                "family": cls.family,
                "preset": preset,
                "bands": bands,
                "map_channels": 3,
                "train_scheduler": TRAIN_SCHEDULER,
            },
        )

    @classmethod
    def load(cls, model_dir: Path, card: dict[str, Any], device: str = "cpu", dtype=None) -> PixelModel:
        from diffusers import UNet2DModel

        _missing(model_dir, "unet/config.json")
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

        return cls(unet.to(device, memory_format=torch.channels_last).eval(), card)

    def modules(self) -> dict[str, Any]:
        return {"unet": self.unet}

    def trainable(self) -> list:
        return [self.unet]

    def train_scheduler(self):
        from diffusers import DDPMScheduler

        return DDPMScheduler(**self.card["train_scheduler"])

    def loss(self, batch: dict, scheduler, generator=None):
        import torch
        import torch.nn.functional as F

        target = batch["target"]  # (B, bands, H, W) in [-1, 1]
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
        goal = (
            scheduler.get_velocity(target, noise, steps)
            if scheduler.config.prediction_type == "v_prediction"
            else noise
        )
        weights = batch["valid"].to(target.dtype)
        return (F.mse_loss(prediction.float(), goal.float(), reduction="none") * weights).sum() / (
            weights.sum() * target.shape[1]
        ).clamp(min=1)

    def noise_shape(self, size: int) -> tuple[int, int, int]:
        return (len(self.card["bands"]), size, size)

    def guidance_scale(self, requested: float) -> float:
        """0 = the card's recommendation; models trained without map dropout have no map-free branch (1)."""
        if not self.card.get("map_dropout"):
            return 1.0
        return float(requested or self.card.get("guidance") or 1.0)

    def predict(self, inputs, maps, t, guidance: float):
        """One UNet evaluation; with guidance > 1 the map-free branch runs in the same batch."""
        import torch

        layout = torch.channels_last  # with load()'s channels-last weights, about 20 % faster convolutions
        if guidance == 1.0:
            return self.unet(torch.cat([inputs, maps], dim=1).contiguous(memory_format=layout), t).sample
        both = torch.cat([torch.cat([inputs, maps], dim=1), torch.cat([inputs, torch.full_like(maps, NULL_MAP)], 1)])
        mapped, free = self.unet(both.contiguous(memory_format=layout), t).sample.chunk(2)
        return free + guidance * (mapped - free)

    def sample(self, maps, noises, steps: int, guidance: float = 0.0, **_: Any) -> dict[str, Any]:
        """maps (B, 3, H, W) in [-1, 1], noises per sample -> {"bands": (B, bands, H, W) in [-1, 1]}."""
        import torch
        from diffusers import DPMSolverMultistepScheduler

        guidance = self.guidance_scale(guidance)

        scheduler = DPMSolverMultistepScheduler(**self.card["train_scheduler"], algorithm_type="dpmsolver++")
        scheduler.set_timesteps(steps)
        dtype = next(self.unet.parameters()).dtype
        maps = maps.to(dtype)
        sample = noises["bands"].to(dtype) * scheduler.init_noise_sigma
        with torch.inference_mode():
            for t in scheduler.timesteps:
                prediction = self.predict(scheduler.scale_model_input(sample, t), maps, t, guidance)
                sample = scheduler.step(prediction, t, sample).prev_sample
        return {"bands": sample.float().clamp(-1, 1)}

    def save(self, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        self.unet.save_pretrained(model_dir / "unet", safe_serialization=True)
        write_card(model_dir, self.card)


def load_model(model_dir: str | Path, device: str = "cpu", dtype=None, family: str | None = None):
    """Load either family from its directory, after checking the card (family, files, safetensors)."""
    from .controlnet import ControlNetPair

    model_dir = Path(model_dir)
    card = read_card(model_dir)
    if family and card["family"] != family:
        raise UserError(f"MODEL: {model_dir} is a {card['family']} model, not {family}")
    cls = PixelModel if card["family"] == "pixel" else ControlNetPair
    return cls.load(model_dir, card, device, dtype)
