"""``controlnet-sd15``: Stable Diffusion 1.5 + an RGB ControlNet (map) + a NIR ControlNet (map + RGB).

The base model comes from a local diffusers directory, or from the hub only when the user allows downloads.
The NIR ControlNet is trained on the real RGB (teacher forcing) and run on the generated RGB, so NIR agrees
with RGB pixel for pixel (the prior art's independent NIR model did not).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.protocol import UserError
from .base import check_prediction_type, training_target
from .card import check_safetensors_only, require_files, write_card
from .sd_base import SD15_REVISION, load_base

SD15_UNET = {"cross_attention_dim": 768, "block_out_channels": [320, 640, 1280, 1280]}
SD_LICENSE = "CreativeML OpenRAIL-M (Stable Diffusion 1.5 base weights)"
DEFAULT_GUIDANCE = 4.0  # classifier-free guidance on the prompt when the job asks for the model's default


class ControlNetPair:
    """SD 1.5 frozen, two trained ControlNets: RGB from the map, NIR from the map and the RGB."""

    family = "controlnet-sd15"
    presets = ("tiny", "sd15")
    noise_names = ("rgb", "nir")
    supports_map_dropout = False

    def __init__(self, base: dict[str, Any], controlnet_rgb, controlnet_nir, card: dict[str, Any]) -> None:
        self.base, self.controlnet_rgb, self.controlnet_nir, self.card = base, controlnet_rgb, controlnet_nir, card
        self.vae_factor = 2 ** (len(base["vae"].config.block_out_channels) - 1)
        # cards written before the schedule was recorded use their base model's
        self.scheduler_config = card.get("train_scheduler") or base["scheduler_config"]
        self.timings: dict[str, float] = {}
        self.consistency: str | None = None  # LCMScheduler / TCDScheduler once a consistency LoRA is fused

    def use_consistency_lora(self, folder: Path) -> None:
        """Few-step sampling: fuse a latent-consistency LoRA into the base UNet (models/consistency.py)."""
        from .consistency import DEFAULT_STEPS, fuse_lora, scheduler_name

        name = scheduler_name(folder)
        layers = fuse_lora(self.base["unet"], folder)
        self.consistency = name
        self.card = {
            **self.card,
            "default_steps": DEFAULT_STEPS,
            "default_guidance": 1.0,
            "consistency_lora": {"folder": str(folder.resolve()), "scheduler": name, "layers": layers},
        }

    @property
    def window_step(self) -> int:
        return self.vae_factor

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

        if preset not in cls.presets:
            raise UserError(f"PRESET: {preset!r} is not a controlnet-sd15 preset (tiny, sd15)")
        if not base_model:
            raise UserError("BASE_MODEL: the controlnet-sd15 family needs a Stable Diffusion 1.5 base model")
        if not {"B02", "B03", "B04", "B08"} <= set(bands):
            raise UserError(f"the controlnet-sd15 family needs bands B02, B03, B04 and B08, the dataset has {bands}")
        base = load_base(base_model, allow_download, revision=revision)
        check_prediction_type(base["scheduler_config"].get("prediction_type"))
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
                "train_scheduler": base["scheduler_config"],
            },
        )

    @classmethod
    def load(cls, model_dir: Path, card: dict[str, Any], device: str = "cpu", dtype=None) -> ControlNetPair:
        from diffusers import ControlNetModel

        require_files(model_dir, "controlnet_rgb/config.json", "controlnet_nir/config.json")
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

    def prepare_training(self, device, mixed_precision: str) -> None:
        """Gradient checkpointing in the ControlNets; the frozen UNet in the training precision."""
        import torch

        for module in self.trainable():
            module.enable_gradient_checkpointing()
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mixed_precision, torch.float32)
        self.base["unet"].to(device, dtype=dtype)
        for name in ("vae", "text_encoder"):
            self.base[name].to(device)

    @classmethod
    def training_item(cls, row: dict[str, Any], read_png, clip) -> dict[str, Any]:
        import torch

        return {
            "rgb": torch.from_numpy(read_png("file_name").astype(np.float32) / 127.5 - 1),
            "nir": torch.from_numpy(read_png("nir_image").astype(np.float32) / 127.5 - 1),
        }

    def train_scheduler(self):
        from diffusers import DDPMScheduler

        scheduler = DDPMScheduler.from_config(self.scheduler_config)
        check_prediction_type(scheduler.config.prediction_type)
        return scheduler

    def _sampler(self, steps: int, noise=None):
        from diffusers import DPMSolverMultistepScheduler

        if self.consistency:
            from .consistency import consistency_sampler

            return consistency_sampler(self.consistency, self.scheduler_config, steps, noise)

        scheduler = DPMSolverMultistepScheduler.from_config(self.scheduler_config, algorithm_type="dpmsolver++")
        check_prediction_type(scheduler.config.prediction_type)
        scheduler.set_timesteps(steps)
        return scheduler

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

    def predict(self, controlnet, latents, t, hidden, cond, scale: float = 1.0):
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
            prediction = self.predict(
                controlnet, scheduler.add_noise(latents, noise, t), t, hidden, cond.to(latents.dtype)
            )
            goal = training_target(scheduler, latents, noise, t)
            total = total + F.mse_loss(prediction.float(), goal.float())
        return total

    def noise_shape(self, height: int, width: int | None = None) -> tuple[int, int, int]:
        width = width or height
        return (self.base["unet"].config.in_channels, height // self.vae_factor, width // self.vae_factor)

    def guidance_scale(self, requested: float) -> float:
        return float(requested or self.card.get("default_guidance") or DEFAULT_GUIDANCE)

    def denoiser(self):
        return self.base["unet"]

    def configure_decoding(self, tiling: bool, slicing: bool) -> None:
        if tiling:
            self.base["vae"].enable_tiling()
        if slicing:
            self.base["vae"].enable_slicing()

    def _denoise(self, controlnet, noise, cond, hidden, steps, guidance, control_scale):
        import torch

        scheduler = self._sampler(steps, noise)
        latents = noise * scheduler.init_noise_sigma
        cfg = guidance > 1.0
        cond_in = torch.cat([cond, cond]) if cfg else cond
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(torch.cat([latents, latents]) if cfg else latents, t)
            prediction = self.predict(controlnet, model_input, t, hidden, cond_in, control_scale)
            if cfg:
                uncond, text = prediction.chunk(2)
                prediction = uncond + guidance * (text - uncond)
            latents = scheduler.step(prediction, t, latents).prev_sample
        return latents

    def decode(self, latents):
        vae = self.base["vae"]
        return vae.decode(latents / vae.config.scaling_factor).sample.float().clamp(-1, 1)

    def sample(
        self,
        maps,
        noises,
        steps: int,
        guidance: float = DEFAULT_GUIDANCE,
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
            rgb = self.decode(rgb_latents)
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
            nir = self.decode(nir_latents).mean(dim=1, keepdim=True)
            sync()
            self.timings.update(denoise_s=denoise, vae_decode_s=decode + time.perf_counter() - start)
        return {"rgb": rgb, "nir": nir}

    def save(self, model_dir: Path) -> None:
        model_dir.mkdir(parents=True, exist_ok=True)
        self.controlnet_rgb.save_pretrained(model_dir / "controlnet_rgb", safe_serialization=True)
        self.controlnet_nir.save_pretrained(model_dir / "controlnet_nir", safe_serialization=True)
        write_card(model_dir, self.card)

    def known_values(self, unit) -> dict[str, Any]:
        """Known bands -> VAE latents of the RGB image and of the NIR image (NIR repeated on 3 channels)."""
        import torch

        index = {band: i for i, band in enumerate(self.card["bands"])}
        images = torch.as_tensor(np.asarray(unit, np.float32) * 2 - 1)
        rgb = images[[index["B04"], index["B03"], index["B02"]]][None]
        nir = images[[index["B08"]] * 3][None]
        device = self.base["vae"].device
        with torch.inference_mode():
            return {"rgb": self._encode(rgb.to(device))[0].float(), "nir": self._encode(nir.to(device))[0].float()}

    def to_unit(self, outputs: dict[str, Any]) -> np.ndarray:
        rgb = (outputs["rgb"].cpu().numpy().astype(np.float64) + 1) / 2
        nir = (outputs["nir"].cpu().numpy().astype(np.float64) + 1) / 2
        channels = {"B04": rgb[:, 0], "B03": rgb[:, 1], "B02": rgb[:, 2], "B08": nir[:, 0]}
        return np.stack([channels[b] for b in self.card["bands"]], axis=1)

    def sample_canvas(
        self,
        map_canvas,
        noises,
        windows,
        steps: int,
        batch_size: int,
        denoise,
        guidance: float = DEFAULT_GUIDANCE,
        control_scale: float = 1.0,
        negative_prompt: str = "",
        **_: Any,
    ) -> dict[str, Any]:
        """RGB then NIR, each over the whole latent canvas; the NIR windows see the jointly generated RGB."""
        import torch

        factor, size = self.vae_factor, self.card["patch_size"]
        latent_size, latent_windows = size // factor, [(y // factor, x // factor) for y, x in windows]
        dtype = self.base["unet"].dtype
        with torch.inference_mode():
            text = self.encode_prompt([self.card.get("prompt", "")])
            hidden = torch.cat([self.encode_prompt([negative_prompt]), text]) if guidance > 1.0 else text
            map01 = ((map_canvas + 1) / 2).to(dtype)

            def run(controlnet, noise, condition):
                def predict(inputs, t, offsets):
                    cond = torch.stack(
                        [
                            condition[:, y * factor : y * factor + size, x * factor : x * factor + size]
                            for y, x in offsets
                        ]
                    )
                    n = inputs.shape[0]
                    if guidance > 1.0:
                        both = self.predict(
                            controlnet,
                            torch.cat([inputs, inputs]).to(dtype),
                            t,
                            hidden.repeat_interleave(n, 0),
                            torch.cat([cond, cond]),
                            control_scale,
                        )
                        uncond, texted = both.chunk(2)
                        return (uncond + guidance * (texted - uncond)).to(inputs.dtype)
                    hidden_n = text.repeat(n, 1, 1)
                    return self.predict(controlnet, inputs.to(dtype), t, hidden_n, cond, control_scale).to(inputs.dtype)

                return denoise(
                    noise.to(dtype), latent_windows, latent_size, self._sampler(steps, noise), predict, batch_size
                )

            rgb = self.decode(run(self.controlnet_rgb, noises["rgb"], map01)[None])
            nir_condition = torch.cat([map01, ((rgb[0] + 1) / 2).to(dtype)])
            nir = self.decode(run(self.controlnet_nir, noises["nir"], nir_condition)[None]).mean(dim=1, keepdim=True)
        return {"rgb": rgb, "nir": nir}
