"""Is the synthetic data useful? The downstream augmentation experiment (`augmentation-experiment`) and the
segmenter it writes, which `evaluate` uses for the map-adherence score."""

from .command import COMMANDS

__all__ = ["COMMANDS"]
