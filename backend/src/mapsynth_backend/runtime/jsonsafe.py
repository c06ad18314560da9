"""Strict JSON: NaN and infinities are not JSON (JavaScript's JSON.parse and jq reject Python's NaN), so every
file and protocol event MapSynth writes goes through ``strict`` first: a value that cannot be measured is null."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def strict(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None, numpy scalars and arrays plain numbers and lists (json.dumps
    with allow_nan=False then never fails on a number)."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """json.dumps of ``strict(value)`` that refuses any NaN left (allow_nan=False)."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)
