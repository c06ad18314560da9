"""`convert-fid-weights`: pytorch-fid's Inception weights as safetensors for evaluate (torch is imported only
when the command runs, so listing commands stays light)."""

from __future__ import annotations

from typing import Any

from ..runtime.jobs import Command, Param
from ..runtime.protocol import Reporter


def _convert_fid_weights(params: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    from .fid_inception import convert_fid_weights  # torch only for this command

    return convert_fid_weights(params, reporter)


COMMANDS = (
    Command(
        "convert-fid-weights",
        "Convert pytorch-fid's pt_inception-2015-12-05-6726825d.pth to safetensors for evaluate (weights only,"
        " sha256-checked; prints the tensor fingerprint).",
        _convert_fid_weights,
        (
            Param("input", "path", help="pt_inception-2015-12-05-6726825d.pth, as pytorch-fid downloads it"),
            Param("output", "path", help="the .safetensors file to write"),
            Param("unverified_source", "bool", False, "convert a file whose sha256 does not match (FID marks it)"),
        ),
    ),
)
