"""Everything the experiment takes from the rest of the backend, in one place: when modules move (the backend's
stage layout), only these imports change."""

from __future__ import annotations

from ..evaluate.report import Report
from ..generate.command import write_generated
from ..generate.sampling import item_noise, map_to_model, remap_map, stack_noise, to_reflectance
from ..models import load_card as read_card
from ..models import load_model
from ..prepare.landcover import palette
from ..radiometry import decode_reflectance, encode_reflectance
from ..runtime.jobs import Command, Param
from ..runtime.outputs import atomic_write, prepare_output_dir
from ..runtime.protocol import Reporter, UserError

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
