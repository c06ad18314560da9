"""The frozen Stable Diffusion base of the controlnet-sd15 family: a local diffusers folder, or a hub id only
when the user allowed downloads; its scheduler config is the noise schedule the ControlNets train and sample with."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..runtime.protocol import UserError
from .card import check_safetensors_only, require_files

# Hub downloads are pinned to a commit, never a branch: a moved "main" must not change (or poison) a model.
# Default: the commit of stable-diffusion-v1-5/stable-diffusion-v1-5 (formerly runwayml/stable-diffusion-v1-5)
# found in hub caches as .../models--stable-diffusion-v1-5--stable-diffusion-v1-5/snapshots/<commit>.
SD15_HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SD15_REVISION = "451f4fe16113bff5a5d2269ed5ad43b0592e9a14"  # pragma: allowlist secret (a public commit id)


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
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    local = Path(base_model)
    if local.is_dir():
        require_files(
            local, "unet/config.json", "vae/config.json", "text_encoder/config.json", "tokenizer", "scheduler"
        )
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
            # the noise schedule the base model was trained with: the ControlNets must use the same one
            "scheduler_config": dict(
                DDPMScheduler.from_pretrained(source, subfolder="scheduler", revision=pin, **kwargs).config
            ),
        }
    except OSError as exc:
        raise UserError(f"BASE_MODEL: cannot load {base_model}: {str(exc).splitlines()[0]}") from exc
    for name in ("unet", "vae", "text_encoder"):
        base[name].requires_grad_(False)
        base[name].to(device).eval()
    return base
