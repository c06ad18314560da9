"""The frozen Stable Diffusion base of the controlnet-sd15 family: a local diffusers folder, or a hub id only
when the user allowed downloads; its scheduler config is the noise schedule the ControlNets train and sample with."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..runtime.protocol import UserError
from .card import check_safetensors_only, require_files


def load_base(base_model: str, allow_download: bool, device: str = "cpu", dtype=None) -> dict[str, Any]:
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    local = Path(base_model)
    if local.is_dir():
        require_files(
            local, "unet/config.json", "vae/config.json", "text_encoder/config.json", "tokenizer", "scheduler"
        )
        check_safetensors_only(local)
        source, kwargs = str(local), {"local_files_only": True}
    elif allow_download:
        source, kwargs = base_model, {}
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
                source, subfolder="unet", use_safetensors=True, torch_dtype=dtype, **kwargs
            ),
            "vae": AutoencoderKL.from_pretrained(
                source, subfolder="vae", use_safetensors=True, torch_dtype=dtype, **kwargs
            ),
            "text_encoder": CLIPTextModel.from_pretrained(
                source, subfolder="text_encoder", use_safetensors=True, torch_dtype=dtype, **kwargs
            ),
            "tokenizer": CLIPTokenizer.from_pretrained(source, subfolder="tokenizer", **kwargs),
            # the noise schedule the base model was trained with: the ControlNets must use the same one
            "scheduler_config": dict(DDPMScheduler.from_pretrained(source, subfolder="scheduler", **kwargs).config),
        }
    except OSError as exc:
        raise UserError(f"BASE_MODEL: cannot load {base_model}: {str(exc).splitlines()[0]}") from exc
    for name in ("unet", "vae", "text_encoder"):
        base[name].requires_grad_(False)
        base[name].to(device).eval()
    return base
