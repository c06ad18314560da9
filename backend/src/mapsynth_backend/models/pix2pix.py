"""``pix2pix``: a one-step conditional GAN baseline (Isola et al. 2017) beside the diffusion families.

A MONAI U-Net generator maps the map's RGB channels plus one noise channel to all bands in one forward pass;
a MONAI PatchGAN discriminator judges (map, bands) pairs. Loss: L1 x ``L1_WEIGHT`` + the adversarial loss. The
train loop has one loss and one optimizer, so both nets step together (simultaneous gradient descent): the
discriminator learns from the real pair and the detached fake, the generator's adversarial term runs through a
discriminator whose parameters do not record gradients. VARIATIONS come from the noise channel, drawn from
(seed, patch_id, variation) like every family's noise; pix2pix generators learn to largely ignore it, so the
variations differ little (the paper's finding; docs/history/measurements-2026-11.md has a measured spread).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.protocol import UserError
from .card import check_safetensors_only, require_files, write_card

P2P_PRESETS = {
    "tiny": {"channels": (16, 32, 64), "strides": (2, 2), "num_res_units": 1, "disc_channels": 16, "disc_layers": 2},
    "small": {
        "channels": (32, 64, 128, 256),
        "strides": (2, 2, 2),
        "num_res_units": 2,
        "disc_channels": 64,
        "disc_layers": 3,
    },
}
L1_WEIGHT = 100.0  # lambda of Isola et al. (2017)
NOISE_CHANNELS = 1
WEIGHTS = "model.safetensors"


def _generator(preset: dict[str, Any], bands: int):
    from monai.networks.nets import UNet

    return UNet(
        spatial_dims=2,
        in_channels=3 + NOISE_CHANNELS,
        out_channels=bands,
        channels=tuple(preset["channels"]),
        strides=tuple(preset["strides"]),
        num_res_units=preset["num_res_units"],
    )


def _discriminator(preset: dict[str, Any], bands: int):
    from monai.networks.nets import PatchDiscriminator

    return PatchDiscriminator(
        spatial_dims=2,
        channels=preset["disc_channels"],
        in_channels=3 + bands,
        num_layers_d=preset["disc_layers"],
    )


class Pix2PixModel:
    """U-Net generator + PatchGAN discriminator; only the generator is saved in the model directory."""

    family = "pix2pix"
    presets = tuple(P2P_PRESETS)
    noise_names = ("z",)
    supports_map_dropout = False
    window_step = 1
    optimizer_betas = (0.5, 0.999)  # Adam betas of Isola et al.

    def __init__(self, generator, card: dict[str, Any], discriminator=None) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.card = card

    @classmethod
    def create(cls, preset: str, bands: list[str], size: int, card: dict[str, Any], **_: Any) -> Pix2PixModel:
        if preset not in P2P_PRESETS:
            raise UserError(f"PRESET: {preset!r} is not a pix2pix preset ({', '.join(P2P_PRESETS)})")
        config = P2P_PRESETS[preset]
        factor = int(np.prod(config["strides"]))
        if size % factor:
            raise UserError(f"patch size {size} must be a multiple of {factor} for pix2pix preset {preset}")
        card = {**card, "family": cls.family, "preset": preset, "bands": bands, "map_channels": 3}
        return cls(_generator(config, len(bands)), card, _discriminator(config, len(bands)))

    @classmethod
    def load(cls, model_dir: Path, card: dict[str, Any], device: str = "cpu", dtype=None) -> Pix2PixModel:
        from safetensors.torch import load_file

        check_safetensors_only(model_dir)
        require_files(model_dir, "generator/config.json", f"generator/{WEIGHTS}")
        config = json.loads((model_dir / "generator" / "config.json").read_text(encoding="utf-8"))
        bands = card.get("bands") or []
        if config.get("out_channels") != len(bands):
            raise UserError(
                f"MODEL: {model_dir} has a generator for {config.get('out_channels')} bands but its model card"
                f" lists {len(bands)} ({', '.join(bands)}); the directory is inconsistent"
            )
        generator = _generator(config, len(bands))
        try:
            generator.load_state_dict(load_file(model_dir / "generator" / WEIGHTS))
        except RuntimeError as exc:
            raise UserError(f"MODEL: {model_dir}/generator weights do not match its config.json") from exc
        return cls(generator.to(device=device, dtype=dtype).eval(), card)

    def save(self, model_dir: Path) -> None:
        from safetensors.torch import save_file

        folder = model_dir / "generator"
        folder.mkdir(parents=True, exist_ok=True)
        config = {**P2P_PRESETS[self.card["preset"]], "out_channels": len(self.card["bands"])}
        (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        state = {k: v.detach().cpu().contiguous() for k, v in self.generator.state_dict().items()}
        save_file(state, folder / WEIGHTS)
        write_card(model_dir, self.card)

    def modules(self) -> dict[str, Any]:
        return {"generator": self.generator, "discriminator": self.discriminator}

    def trainable(self) -> list:
        return [self.generator, self.discriminator]

    def prepare_training(self, device, mixed_precision: str) -> None:
        """Nothing is frozen: accelerate places both nets."""

    @classmethod
    def training_item(cls, row: dict[str, Any], read_png: Callable[[str], np.ndarray], clip) -> dict[str, Any]:
        from .pixel import PixelModel

        return PixelModel.training_item(row, read_png, clip)  # the same targets: all bands in [-1, 1]

    def train_scheduler(self) -> None:
        """No noise schedule: one forward pass."""

    def forward(self, maps, z):
        import torch

        return torch.tanh(self.generator(torch.cat([maps, z.to(maps)], dim=1)))

    def loss(self, batch: dict, scheduler, generator=None):
        import torch
        import torch.nn.functional as F

        target, maps = batch["target"], batch["map"]
        z = torch.randn((target.shape[0], NOISE_CHANNELS, *target.shape[2:]), generator=generator).to(target)
        fake = self.forward(maps, z)
        weights = batch["valid"].to(target.dtype)
        l1 = (torch.abs(fake.float() - target.float()) * weights).sum() / (weights.sum() * target.shape[1]).clamp(1)

        def judge(bands):
            return self.discriminator(torch.cat([maps, bands], dim=1))[-1].float()

        real_logits, fake_logits = judge(target), judge(fake.detach())
        d_loss = 0.5 * (
            F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        )
        parameters = list(self.discriminator.parameters())
        for p in parameters:  # the generator's term must not train the discriminator to be fooled
            p.requires_grad_(False)
        try:
            fooled = judge(fake)
        finally:
            for p in parameters:
                p.requires_grad_(True)
        g_adv = F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled))
        return L1_WEIGHT * l1 + g_adv + d_loss

    def noise_shape(self, height: int, width: int | None = None) -> tuple[int, int, int]:
        return (NOISE_CHANNELS, height, width or height)

    def guidance_scale(self, requested: float) -> float:
        """A GAN has no guidance: 0 (the default) and 1 mean none; anything else is refused."""
        if requested not in (0, 1):
            raise UserError(
                f"GUIDANCE: pix2pix models have no classifier-free guidance (got {requested}); leave GUIDANCE at 0"
            )
        return 1.0

    def check_generate_options(self, params: dict[str, Any]) -> None:
        """Refused before anything is written: options that would change a diffusion model's output."""
        self.guidance_scale(params.get("guidance", 0))
        if params.get("seamless"):
            raise UserError(
                "SEAMLESS: pix2pix generates each patch in one forward pass and has no joint denoising;"
                " untick SEAMLESS or use a pixel model"
            )

    def sample(self, maps, noises, steps: int = 1, **_: Any) -> dict[str, Any]:
        """maps (B, 3, H, W) in [-1, 1], the noise channel -> {"bands": (B, bands, H, W) in [-1, 1]}; ``steps``
        and the diffusion options are ignored (one forward pass)."""
        import torch

        dtype = next(self.generator.parameters()).dtype
        with torch.inference_mode():
            bands = self.forward(maps.to(dtype), noises["z"].to(dtype))
        return {"bands": bands.float().clamp(-1, 1)}

    def sample_canvas(self, *_: Any, **__: Any) -> dict[str, Any]:
        raise UserError("SEAMLESS: pix2pix has no joint denoising; untick SEAMLESS or use a pixel model")

    def known_values(self, unit) -> dict[str, Any]:
        raise UserError("MODEL: pix2pix models cannot inpaint (no denoising to constrain); use a pixel model")

    def to_unit(self, outputs: dict[str, Any]) -> np.ndarray:
        return (outputs["bands"].cpu().numpy().astype(np.float64) + 1) / 2

    def denoiser(self):
        return self.generator

    def configure_decoding(self, tiling: bool, slicing: bool) -> None:
        """No decoder."""
