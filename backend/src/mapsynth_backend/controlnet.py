"""``controlnet-sd15``: Stable Diffusion 1.5 + an RGB ControlNet (map) + a NIR ControlNet (map + RGB).

The base model comes from a local diffusers directory, or from the hub only when the user allows downloads.
The NIR ControlNet is trained on the real RGB (teacher forcing) and run on the generated RGB, so NIR agrees
with RGB pixel for pixel (the prior art's independent NIR model did not).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

from .models import SD_LICENSE, _missing, check_safetensors_only, write_card
from .protocol import UserError

# Hub downloads are pinned to a commit, never a branch: a moved "main" must not change (or poison) a model.
# Default: the commit of stable-diffusion-v1-5/stable-diffusion-v1-5 (formerly runwayml/stable-diffusion-v1-5)
# found in hub caches as .../models--stable-diffusion-v1-5--stable-diffusion-v1-5/snapshots/<commit>.
SD15_HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SD15_REVISION = "451f4fe16113bff5a5d2269ed5ad43b0592e9a14"  # pragma: allowlist secret (a public commit id)
SD15_UNET = {"cross_attention_dim": 768, "block_out_channels": [320, 640, 1280, 1280]}
SD_TRAIN_SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
}


def pinned_revision(revision: str) -> str:
    """A hub revision must be a commit hash (7-40 hex digits): branch and tag names can move."""
    if not re.fullmatch(r"[0-9a-f]{7,40}", revision or ""):
        raise UserError(
            f"REVISION: {revision!r} is not a commit hash; pin the hub download to a commit (40 hex digits), "
            f"e.g. {SD15_REVISION} for {SD15_HUB_ID}"
        )
    return revision


def load_base(
    base_model: str, allow_download: bool, device: str = "cpu", dtype=None, revision: str = SD15_REVISION
) -> dict[str, Any]:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    local = Path(base_model)
    if local.is_dir():
        _missing(local, "unet/config.json", "vae/config.json", "text_encoder/config.json", "tokenizer")
        check_safetensors_only(local)
        source, pin, kwargs = str(local), None, {"local_files_only": True}
    elif allow_download:
        source, pin, kwargs = base_model, pinned_revision(revision), {}
    else:
        raise UserError(
            f"BASE_MODEL: {base_model} is not a local folder and downloads were not allowed; give a local diffusers"
            " directory of Stable Diffusion 1.5, or allow the download (ALLOW_DOWNLOAD / --allow-download)"
        )
    if not allow_download:
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        base = {
            "unet": UNet2DConditionModel.from_pretrained(
                source, subfolder="unet", revision=pin, use_safetensors=True, torch_dtype=dtype, **kwargs
            ),
            "vae": AutoencoderKL.from_pretrained(
                source, subfolder="vae", revision=pin, use_safetensors=True, torch_dtype=dtype, **kwargs
            ),
            "text_encoder": CLIPTextModel.from_pretrained(
                source, subfolder="text_encoder", revision=pin, use_safetensors=True, torch_dtype=dtype, **kwargs
            ),
            "tokenizer": CLIPTokenizer.from_pretrained(source, subfolder="tokenizer", revision=pin, **kwargs),
        }
    except OSError as exc:
        raise UserError(f"BASE_MODEL: cannot load {base_model}: {str(exc).splitlines()[0]}") from exc
    for name in ("unet", "vae", "text_encoder"):
        base[name].requires_grad_(False)
        base[name].to(device).eval()
    return base


class ControlNetPair:
    family = "controlnet-sd15"

    def __init__(self, base: dict[str, Any], controlnet_rgb, controlnet_nir, card: dict[str, Any]) -> None:
        self.base, self.controlnet_rgb, self.controlnet_nir, self.card = base, controlnet_rgb, controlnet_nir, card
        self.vae_factor = 2 ** (len(base["vae"].config.block_out_channels) - 1)
        self.timings: dict[str, float] = {}

    @classmethod
    def create(
        cls,
        preset: str,
        bands: list[str],
        size: int,
        card: dict[str, Any],
        base_model: str = "",
        allow_download: bool = False,
        revision: str = SD15_REVISION,
    ) -> ControlNetPair:
        from diffusers import ControlNetModel

        if preset not in ("tiny", "sd15"):
            raise UserError(f"PRESET: {preset!r} is not a controlnet-sd15 preset (tiny, sd15)")
        if not base_model:
            raise UserError("BASE_MODEL: the controlnet-sd15 family needs a Stable Diffusion 1.5 base model")
        if not {"B02", "B03", "B04", "B08"} <= set(bands):
            raise UserError(f"the controlnet-sd15 family needs bands B02, B03, B04 and B08, the dataset has {bands}")
        base = load_base(base_model, allow_download, revision=revision)
        config = base["unet"].config
        if preset == "sd15" and any(
            list(getattr(config, k)) != v if isinstance(v, list) else getattr(config, k) != v
            for k, v in SD15_UNET.items()
        ):
            raise UserError(f"BASE_MODEL: {base_model} is not Stable Diffusion 1.5 sized (use PRESET tiny for others)")
        factor = 2 ** (len(base["vae"].config.block_out_channels) - 1)
        if size % (factor * 8 if preset == "sd15" else factor):
            raise UserError(f"patch size {size} is not a multiple of the VAE factor {factor}")
        # the conditioning embedding must downsample the map exactly as the VAE does (8 for SD 1.5)
        embedding = (16, 32, 96, 256)[: factor.bit_length()]
        rgb = ControlNetModel.from_unet(
            base["unet"], conditioning_channels=3, conditioning_embedding_out_channels=embedding
        )
        nir = ControlNetModel.from_unet(
            base["unet"], conditioning_channels=6, conditioning_embedding_out_channels=embedding
        )
        base_ref = str(Path(base_model).resolve()) if Path(base_model).is_dir() else base_model
        return cls(
            base,
            rgb,
            nir,
            {
                **card,
                "family": cls.family,
                "preset": preset,
                "bands": bands,
                "base_model": base_ref,
                "base_model_revision": None if Path(base_model).is_dir() else revision,
                "base_model_license": SD_LICENSE,
                "rgb_bands": ["B04", "B03", "B02"],
                "nir_band": "B08",
            },
        )

    @classmethod
    def load(cls, model_dir: Path, card: dict[str, Any], device: str = "cpu", dtype=None) -> ControlNetPair:
        from diffusers import ControlNetModel

        _missing(model_dir, "controlnet_rgb/config.json", "controlnet_nir/config.json")
        check_safetensors_only(model_dir)
        base = load_base(card["base_model"], allow_download=False, device=device, dtype=dtype)
        nets = [
            ControlNetModel.from_pretrained(model_dir / name, use_safetensors=True, torch_dtype=dtype)
            for name in ("controlnet_rgb", "controlnet_nir")
        ]
        return cls(base, *(net.to(device).eval() for net in nets), card)

    def modules(self) -> dict[str, Any]:
        return {"controlnet_rgb": self.controlnet_rgb, "controlnet_nir": self.controlnet_nir}

    def trainable(self) -> list:
        return [self.controlnet_rgb, self.controlnet_nir]

    def train_scheduler(self):
        from diffusers import DDPMScheduler

        return DDPMScheduler(**SD_TRAIN_SCHEDULER)

    def encode_prompt(self, texts: list[str]):
        tokenizer = self.base["tokenizer"]
        ids = tokenizer(
            texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids
        encoder = self.base["text_encoder"]
        return encoder(ids.to(encoder.device))[0]

    def _encode(self, images):
        vae = self.base["vae"]
        return vae.encode(images.to(vae.dtype)).latent_dist.mode() * vae.config.scaling_factor

    def _predict(self, controlnet, latents, t, hidden, cond, scale: float = 1.0):
        down, mid = controlnet(
            latents, t, encoder_hidden_states=hidden, controlnet_cond=cond, conditioning_scale=scale, return_dict=False
        )
        return self.base["unet"](
            latents,
            t,
            encoder_hidden_states=hidden,
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
        ).sample

    def loss(self, batch: dict, scheduler, generator=None):
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            hidden = self.encode_prompt(batch["text"])
            rgb_latents = self._encode(batch["rgb"])
            nir_latents = self._encode(batch["nir"].repeat(1, 3, 1, 1))
        map01 = (batch["map"] + 1) / 2
        total = 0.0
        for controlnet, latents, cond in (
            (self.controlnet_rgb, rgb_latents, map01),
            (self.controlnet_nir, nir_latents, torch.cat([map01, (batch["rgb"] + 1) / 2], dim=1)),
        ):
            noise = torch.randn(latents.shape, generator=generator).to(latents)
            t = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator)
            t = t.to(latents.device)
            prediction = self._predict(
                controlnet, scheduler.add_noise(latents, noise, t), t, hidden, cond.to(latents.dtype)
            )
            total = total + F.mse_loss(prediction.float(), noise.float())
        return total

    def noise_shape(self, size: int) -> tuple[int, int, int]:
        latent = size // self.vae_factor
        return (self.base["unet"].config.in_channels, latent, latent)

    def _denoise(self, controlnet, noise, cond, hidden, steps, guidance, control_scale):
        import torch
        from diffusers import DPMSolverMultistepScheduler

        scheduler = DPMSolverMultistepScheduler(**SD_TRAIN_SCHEDULER, algorithm_type="dpmsolver++")
        scheduler.set_timesteps(steps)
        latents = noise * scheduler.init_noise_sigma
        cfg = guidance > 1.0
        cond_in = torch.cat([cond, cond]) if cfg else cond
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(torch.cat([latents, latents]) if cfg else latents, t)
            prediction = self._predict(controlnet, model_input, t, hidden, cond_in, control_scale)
            if cfg:
                uncond, text = prediction.chunk(2)
                prediction = uncond + guidance * (text - uncond)
            latents = scheduler.step(prediction, t, latents).prev_sample
        return latents

    def _decode(self, latents):
        vae = self.base["vae"]
        return vae.decode(latents / vae.config.scaling_factor).sample.float().clamp(-1, 1)

    def sample(
        self,
        maps,
        noises,
        steps: int,
        guidance: float = 4.0,
        control_scale: float = 1.0,
        prompt: str = "",
        negative_prompt: str = "",
        **_: Any,
    ) -> dict[str, Any]:
        import torch

        dtype = self.base["unet"].dtype
        sync = torch.cuda.synchronize if maps.is_cuda else (lambda: None)
        with torch.inference_mode():
            start = time.perf_counter()
            n = maps.shape[0]
            text = self.encode_prompt([prompt or self.card.get("prompt", "")] * n)
            hidden = torch.cat([self.encode_prompt([negative_prompt] * n), text]) if guidance > 1.0 else text
            map01 = ((maps + 1) / 2).to(dtype)
            sync()
            self.timings["conditioning_s"] = time.perf_counter() - start
            start = time.perf_counter()
            rgb_latents = self._denoise(
                self.controlnet_rgb, noises["rgb"].to(dtype), map01, hidden, steps, guidance, control_scale
            )
            sync()
            denoise = time.perf_counter() - start
            start = time.perf_counter()
            rgb = self._decode(rgb_latents)
            sync()
            decode = time.perf_counter() - start
            start = time.perf_counter()
            cond = torch.cat([map01, ((rgb + 1) / 2).to(dtype)], dim=1)  # NIR sees the generated RGB
            nir_latents = self._denoise(
                self.controlnet_nir, noises["nir"].to(dtype), cond, hidden, steps, guidance, control_scale
            )
            sync()
            denoise += time.perf_counter() - start
            start = time.perf_counter()
            nir = self._decode(nir_latents).mean(dim=1, keepdim=True)
            sync()
            self.timings.update(denoise_s=denoise, vae_decode_s=decode + time.perf_counter() - start)
        return {"rgb": rgb, "nir": nir}

    def save(self, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        self.controlnet_rgb.save_pretrained(model_dir / "controlnet_rgb", safe_serialization=True)
        self.controlnet_nir.save_pretrained(model_dir / "controlnet_nir", safe_serialization=True)
        write_card(model_dir, self.card)
