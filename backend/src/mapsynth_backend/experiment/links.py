"""Everything the experiment takes from the rest of the backend, in one place: when modules move (the backend's
stage layout), only these imports change."""

from __future__ import annotations

from ..generate import write_generated
from ..jobs import Command, Param
from ..landcover import palette
from ..models import load_model, read_card
from ..outputs import atomic_write, prepare_output_dir
from ..protocol import Reporter, UserError
from ..radiometry import decode_reflectance, encode_reflectance
from ..report import Report
from ..sampling import item_noise, map_to_model, remap_map, stack_noise, to_reflectance

__all__ = [
    "Command",
    "Param",
    "Report",
    "Reporter",
    "UserError",
    "atomic_write",
    "decode_reflectance",
    "encode_reflectance",
    "item_noise",
    "load_model",
    "map_to_model",
    "palette",
    "prepare_output_dir",
    "read_card",
    "remap_map",
    "stack_noise",
    "to_reflectance",
    "write_generated",
]
