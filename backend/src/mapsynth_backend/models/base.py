"""The interface every model family implements, so that training, generation and joint denoising hold no
family branches: a new family is one module plus one line in ``FAMILIES``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..runtime.protocol import UserError

PREDICTION_TYPES = ("epsilon", "v_prediction")


class ModelFamily(Protocol):
    """A conditional diffusion model of Sentinel-2 bands given a map, saved as a diffusers directory + card."""

    family: ClassVar[str]  # the card's "family" and the FAMILY parameter's option
    presets: ClassVar[tuple[str, ...]]  # architecture presets, the first is the default
    noise_names: ClassVar[tuple[str, ...]]  # the noise tensors of one item, drawn in this order
    supports_map_dropout: ClassVar[bool]  # trains a map-free branch (classifier-free map guidance)
    card: dict[str, Any]

    @classmethod
    def create(
        cls, preset: str, bands: list[str], size: int, card: dict[str, Any], *, base_model: str, allow_download: bool
    ) -> ModelFamily: ...

    @classmethod
    def load(cls, model_dir: Path, card: dict[str, Any], device: str = "cpu", dtype: Any = None) -> ModelFamily: ...

    @classmethod
    def training_item(cls, row: dict[str, Any], read_png: Callable[[str], Any], clip: Any) -> dict[str, Any]:
        """The training targets of one dataset row (the map is read by the caller)."""
        ...

    def save(self, model_dir: Path) -> None: ...

    def modules(self) -> dict[str, Any]:
        """The trained modules by attribute name (accelerate wraps and unwraps them)."""
        ...

    def trainable(self) -> list[Any]: ...

    def prepare_training(self, device: Any, mixed_precision: str) -> None:
        """Frozen parts onto the device, gradient checkpointing where it pays."""
        ...

    def train_scheduler(self) -> Any: ...

    def loss(self, batch: dict[str, Any], scheduler: Any, generator: Any = None) -> Any: ...

    def noise_shape(self, height: int, width: int | None = None) -> tuple[int, int, int]: ...

    def guidance_scale(self, requested: float) -> float:
        """The guidance scale to use when ``requested`` (0 = the model's default)."""
        ...

    def denoiser(self) -> Any:
        """The network evaluated at every step (what ``torch.compile`` wraps)."""
        ...

    def configure_decoding(self, tiling: bool, slicing: bool) -> None: ...

    def sample(self, maps: Any, noises: dict[str, Any], steps: int, **options: Any) -> dict[str, Any]: ...

    def to_unit(self, outputs: dict[str, Any]) -> Any:
        """Sampled outputs in [-1, 1] -> array (B, bands, H, W) in [0, 1], in the card's band order."""
        ...

    @property
    def window_step(self) -> int:
        """Joint denoising: window offsets are multiples of this (the latent factor)."""
        ...

    def sample_canvas(
        self,
        map_canvas: Any,
        noises: dict[str, Any],
        windows: list[tuple[int, int]],
        steps: int,
        batch_size: int,
        denoise: Callable[..., Any],
        **options: Any,
    ) -> dict[str, Any]:
        """Joint denoising of a whole canvas; ``denoise`` is :func:`generate.joint.denoise_canvas` (or the
        inpainting :class:`generate.repaint.RePaint`); the noises are denoised in ``noise_names`` order."""
        ...

    def known_values(self, unit: Any) -> dict[str, Any]:
        """Inpainting: known bands (bands, H, W) in [0, 1], card order -> the values the sampler denoises, per
        noise name (pixel: the bands in [-1, 1]; controlnet-sd15: the VAE latents of RGB and NIR)."""
        ...


def check_prediction_type(kind: str | None) -> str:
    """A scheduler's prediction type, refused when MapSynth does not train it (no silent fallback)."""
    if kind not in PREDICTION_TYPES:
        raise UserError(
            f"the noise scheduler predicts {kind!r}; MapSynth trains {' or '.join(PREDICTION_TYPES)} models"
        )
    return kind


def training_target(scheduler: Any, sample: Any, noise: Any, timesteps: Any) -> Any:
    """What the network learns to predict at ``timesteps``: the noise or the velocity."""
    if check_prediction_type(scheduler.config.prediction_type) == "v_prediction":
        return scheduler.get_velocity(sample, noise, timesteps)
    return noise
