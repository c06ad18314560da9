"""The model families behind one interface (:class:`base.ModelFamily`), saved as diffusers directories with a
``model_card.json``. A new family is one module plus one line in ``FAMILIES``.

- ``pixel``: pixel-space diffusion of all bands jointly, conditioned on the map.
- ``controlnet-sd15``: Stable Diffusion 1.5 with an RGB ControlNet (map) and a NIR ControlNet (map + RGB).
- ``pix2pix``: a one-step conditional GAN baseline (U-Net generator + PatchGAN discriminator).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..runtime.protocol import UserError
from ..runtime.torch_state import thread_invariant_group_norm
from .base import ModelFamily
from .card import read_card
from .controlnet import ControlNetPair
from .pix2pix import Pix2PixModel
from .pixel import PixelModel

FAMILIES: dict[str, type[ModelFamily]] = {
    "pixel": PixelModel,
    "controlnet-sd15": ControlNetPair,
    "pix2pix": Pix2PixModel,
}
PRESETS = {name: cls.presets for name, cls in FAMILIES.items()}


def family_class(name: str) -> type[ModelFamily]:
    if name not in FAMILIES:
        raise UserError(f"FAMILY: {name!r} is not one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def load_card(model_dir: str | Path) -> dict[str, Any]:
    return read_card(model_dir, FAMILIES)


def load_model(model_dir: str | Path, device: str = "cpu", dtype=None, family: str | None = None) -> ModelFamily:
    """Load either family from its directory, after checking the card (family, files, safetensors)."""
    model_dir = Path(model_dir)
    card = load_card(model_dir)
    if family and card["family"] != family:
        raise UserError(f"MODEL: {model_dir} is a {card['family']} model, not {family}")
    model = FAMILIES[card["family"]].load(model_dir, card, device, dtype)
    for module in model.modules().values():  # generation's bits must not depend on thread count or batch size
        if hasattr(module, "modules"):
            thread_invariant_group_norm(module)
    return model
