"""Strict JSON everywhere: a value that cannot be measured is written as null, never NaN (JavaScript's JSON.parse
and jq reject NaN and Infinity)."""

import io
import json

import numpy as np
import pytest

from mapsynth_backend.runtime.jsonsafe import dumps, strict
from mapsynth_backend.runtime.protocol import JsonLinesReporter


def refuse(name: str):
    raise ValueError(f"{name} is not JSON")


def test_non_finite_numbers_become_null_and_numpy_plain_json():
    value = {"a": float("nan"), "b": [np.float32(np.inf), np.float64(1.5), np.int64(3)], "c": np.array([np.nan, 2.0]),
             "d": (np.bool_(True), "text")}
    parsed = json.loads(dumps(value), parse_constant=refuse)
    assert parsed == {"a": None, "b": [None, 1.5, 3], "c": [None, 2.0], "d": [True, "text"]}
    assert strict(-np.inf) is None and strict(0.25) == 0.25


def test_protocol_events_are_strict_json():
    stream = io.StringIO()
    JsonLinesReporter(stream, None).emit("result", outputs={"periodicity_db": {"B02": float("nan")}, "n": np.int32(4)})
    event = json.loads(stream.getvalue(), parse_constant=refuse)
    assert event["outputs"] == {"periodicity_db": {"B02": None}, "n": 4}


def test_a_nan_that_escapes_strict_is_refused_not_written():
    class Opaque:
        def __float__(self):
            return float("nan")

    with pytest.raises(ValueError):
        dumps({"x": Opaque()}, default=float)
