"""Model directories: the ``model_card.json`` every family writes, and the safetensors-only rule.

Only safetensors are loaded, never with ``trust_remote_code``; pickle weights are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..runtime.protocol import UserError

CARD = "model_card.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


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


def read_card(model_dir: str | Path, families: tuple[str, ...] | dict[str, Any]) -> dict[str, Any]:
    """The card of ``model_dir``, refused unless its family is one of ``families``."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise UserError(f"MODEL: not a folder: {model_dir}")
    try:
        card = json.loads((model_dir / CARD).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UserError(f"MODEL: {model_dir} has no {CARD}; it is not a MapSynth model directory") from exc
    except ValueError as exc:
        raise UserError(f"MODEL: {model_dir / CARD} is not valid JSON") from exc
    if card.get("family") not in families:
        raise UserError(f"MODEL: {model_dir} is of unknown family {card.get('family')!r}")
    return card


def write_card(model_dir: Path, card: dict[str, Any]) -> None:
    (model_dir / CARD).write_text(json.dumps(card, indent=2), encoding="utf-8")


def require_files(folder: Path, *names: str) -> None:
    for name in names:
        if not (folder / name).exists():
            raise UserError(f"MODEL: {folder} lacks {name}; the model directory is incomplete")
