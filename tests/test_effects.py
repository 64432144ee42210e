"""gain, clip, bitcrush, time_mask: laws, dtypes, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import noisegen as ng

SR = 16000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gain_law_and_dtype(speech_16k, dtype):
    y = speech_16k.astype(dtype)
    for g in (-20.0, -6.0, 0.0, 3.5, 12.0):
        out = ng.gain(y, gain_db=g)
        assert out.dtype == dtype and out.shape == y.shape
        measured = 10 * np.log10(np.mean(out.astype(np.float64) ** 2) / np.mean(y.astype(np.float64) ** 2))
        assert measured == pytest.approx(g, abs=1e-4)
    stereo = np.stack([y, -y])
    np.testing.assert_allclose(ng.gain(stereo, gain_db=6.0)[1], -ng.gain(y, gain_db=6.0))


def test_clip_threshold_and_percentile(speech_16k):
    y = speech_16k
    peak = np.max(np.abs(y))
    out = ng.clip(y, threshold=0.5 * peak)
    assert np.max(np.abs(out)) == pytest.approx(0.5 * peak)
    keep = np.abs(y) <= 0.5 * peak
    np.testing.assert_array_equal(out[keep], y[keep])
    for p in (1.0, 10.0, 40.0):
        out = ng.clip(y, percentile=p)
        clipped = np.count_nonzero(np.abs(y) > np.max(np.abs(out)))
        assert clipped / y.size == pytest.approx(p / 100, abs=0.002)
    assert ng.clip(y.astype(np.float32), percentile=5).dtype == np.float32


def test_clip_warns_on_heavy_clipping_only():
    with pytest.warns(ng.NoisegenWarning, match="more than half"):
        ng.clip(np.full(10, 2.0), threshold=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ng.clip(np.array([0.1, 0.2, 3.0]), threshold=1.0)
        ng.clip(np.full(10, 2.0), percentile=90)  # asked for explicitly


def test_bitcrush_grid_and_error_bound():
    rng = np.random.default_rng(0)
    y = rng.uniform(-1, 1, 10000)
    for bits in (1, 2, 4, 8, 16):
        out = ng.bitcrush(y, bit_depth=bits)
        step = 2.0 ** -(bits - 1)
        np.testing.assert_allclose(out / step, np.round(out / step), atol=1e-9)
        assert np.max(np.abs(out - y)) <= step / 2 + 1e-12
        assert len(np.unique(out)) <= 2 ** bits + 1
    y16 = (rng.integers(-32768, 32767, 1000) / 32768).astype(np.float32)
    np.testing.assert_array_equal(ng.bitcrush(y16, bit_depth=16), y16)  # already on the 16-bit grid


def test_time_mask_zeroes_stretch_with_fades(speech_16k):
    y = speech_16k
    out = ng.time_mask(y, start_s=1.0, duration_s=0.5, sample_rate=SR, fade_s=0.01)
    a, b, f = SR, SR + SR // 2, SR // 100
    np.testing.assert_array_equal(out[:a], y[:a])
    np.testing.assert_array_equal(out[b:], y[b:])
    assert not np.any(out[a + f:b - f])
    w = out[a:a + f] / np.where(y[a:a + f] == 0, 1, y[a:a + f])
    assert np.all(np.diff(w[y[a:a + f] != 0]) <= 1e-12)  # fading out
    hard = ng.time_mask(y, start_s=1.0, duration_s=0.5, sample_rate=SR, fade_s=0)
    assert not np.any(hard[a:b])
    past_end = ng.time_mask(y, start_s=3.8, duration_s=2.0, sample_rate=SR)
    np.testing.assert_array_equal(past_end[: int(3.8 * SR)], y[: int(3.8 * SR)])
    assert not np.any(past_end[int(3.8 * SR) + 80:])
    assert ng.time_mask(np.ones((2, 100), np.float32), start_s=0, duration_s=0.001, sample_rate=SR).dtype == np.float32


@pytest.mark.parametrize(
    "call",
    [
        lambda: ng.gain(np.ones(3), gain_db=np.nan),
        lambda: ng.gain(np.array([1.0, np.nan]), gain_db=0),
        lambda: ng.gain(np.ones(3, np.int16), gain_db=0),
        lambda: ng.clip(np.ones(3), threshold=0),
        lambda: ng.clip(np.ones(3), percentile=100),
        lambda: ng.bitcrush(np.ones(3), bit_depth=0),
        lambda: ng.bitcrush(np.ones(3), bit_depth=2.5),
        lambda: ng.time_mask(np.ones(3), start_s=-1, duration_s=0.1, sample_rate=SR),
        lambda: ng.gain(np.ones(3), gain_db=1, backend="gpu"),
    ],
)
def test_bad_arguments(call):
    with pytest.raises(ng.ParameterError):
        call()


def test_cuda_backend_not_yet():
    with pytest.raises(ng.BackendError):
        ng.gain(np.ones(3), gain_db=0, backend="cuda")
