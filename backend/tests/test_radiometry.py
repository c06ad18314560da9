"""Reflectance encodings and the clip map: exact inverses, rounding, clipping counted."""

import numpy as np
import pytest

from mapsynth_backend.radiometry import ClipRange, decode_reflectance, encode_reflectance, percentile_range

RNG = np.random.default_rng(42)


def test_uint16_encoding_round_trips_within_half_a_step_and_keeps_nodata():
    reflectance = RNG.uniform(-0.05, 1.2, size=(4, 64, 64))
    valid = RNG.random((1, 64, 64)) > 0.1
    dn = encode_reflectance(reflectance, valid)
    assert dn.dtype == np.uint16 and (dn[:, ~valid[0]] == 0).all() and (dn[:, valid[0]] > 0).all()
    back = decode_reflectance(dn)
    assert np.isnan(back[:, ~valid[0]]).all()
    assert np.abs(back[:, valid[0]] - reflectance[:, valid[0]]).max() <= 0.5e-4 + 1e-7


def test_encoding_rounds_instead_of_truncating():
    dn = encode_reflectance(np.array([0.12345, 0.12355]), np.array([True, True]))
    assert dn.tolist() == [2234, 2236]  # 1234.5 + 1000 rounds to even, 1235.5 + 1000 rounds up


def test_clip_map_round_trip_is_within_half_a_quantisation_step():
    clip = ClipRange(np.array([0.0, 0.01, 0.02, 0.05]), np.array([0.15, 0.2, 0.25, 0.6]))
    reflectance = clip.inverse(RNG.random((4, 50, 50)))  # inside the ranges
    reflectance[:, 0, 0] = clip.low
    reflectance[:, 0, 1] = clip.high
    u8, clipped = clip.to_uint8(reflectance)
    assert clipped == 0
    error = np.abs(clip.from_uint8(u8) - reflectance)
    assert (error <= clip.step()[:, None, None] / 2 + 1e-12).all()
    unit, _ = clip.forward(reflectance)
    assert np.allclose(clip.inverse(unit), reflectance, atol=1e-12)


def test_values_outside_the_range_are_clipped_and_counted():
    clip = ClipRange(np.array([0.0]), np.array([0.5]))
    values = np.array([[-0.1, 0.25, 0.7, np.nan]])
    u8, clipped = clip.to_uint8(values)
    assert clipped == 2
    assert u8.tolist() == [[0, 128, 255, 0]]
    with pytest.raises(ValueError):
        ClipRange(np.array([0.3]), np.array([0.3]))


def test_percentile_range_ignores_nodata():
    samples = np.vstack([np.linspace(0, 1, 1001), np.full(1001, np.nan)])
    samples[1, :500] = 0.2
    clip = percentile_range(samples, 1.5, 98.5)
    assert clip.low[0] == pytest.approx(0.015) and clip.high[0] == pytest.approx(0.985)
    assert clip.low[1] == pytest.approx(0.2)
