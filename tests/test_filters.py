"""Filters: equality with scipy's Butterworth sos + sosfilt, chunk invariance, EQ gains."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

import noisegen as ng
from noisegen.filters import design_sos, sos_filter

SR = 16000


def naive_sosfilt(sos, x, zi=None):
    """Slow, obvious twin of the kernel: direct form II transposed, one section at a time."""
    y = np.array(x, dtype=np.float64)
    zf = np.zeros((sos.shape[0], 2)) if zi is None else np.array(zi, dtype=np.float64)
    for s, (b0, b1, b2, a0, a1, a2) in enumerate(sos):
        z1, z2 = zf[s]
        out = np.empty_like(y)
        for i, v in enumerate(y):
            out[i] = b0 * v + z1
            z1, z2 = b1 * v - a1 * out[i] + z2, b2 * v - a2 * out[i]
        zf[s] = z1, z2
        y = out
    return y, zf


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


CASES = [
    ("lowpass", dict(cutoff_hz=4000.0), 4000.0, "lowpass"),
    ("highpass", dict(cutoff_hz=300.0), 300.0, "highpass"),
    ("bandpass", dict(low_hz=300.0, high_hz=3400.0), [300.0, 3400.0], "bandpass"),
    ("bandstop", dict(low_hz=900.0, high_hz=1100.0), [900.0, 1100.0], "bandstop"),
]


@pytest.mark.parametrize("name,kwargs,wn,btype", CASES)
@pytest.mark.parametrize("order", [2, 4, 5, 8])
def test_matches_scipy_butter_sosfilt(speech_16k, name, kwargs, wn, btype, order):
    x = speech_16k
    ref = ss.sosfilt(ss.butter(order, wn, btype=btype, fs=SR, output="sos"), x)
    out = getattr(ng, name)(x, sample_rate=SR, order=order, **kwargs)
    assert out.dtype == np.float64 and out.shape == x.shape
    assert _rel(out, ref) < 1e-5


def test_float32_in_float32_out_close_to_scipy(speech_16k):
    x = speech_16k.astype(np.float32)
    out = ng.bandpass(x, low_hz=300, high_hz=3400, sample_rate=SR)
    ref = ss.sosfilt(ss.butter(4, [300, 3400], "bandpass", fs=SR, output="sos"), speech_16k)
    assert out.dtype == np.float32
    assert _rel(out, ref) < 1e-5


def test_kernel_matches_naive_twin_with_state():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(500)
    sos = np.array(design_sos("bandpass", sample_rate=SR, low_hz=200, high_hz=2000, order=3))
    zi = rng.standard_normal((sos.shape[0], 2))
    zi_before = zi.copy()
    out, zf = sos_filter(x, sos=sos, zi=zi)
    np.testing.assert_array_equal(zi, zi_before)  # the caller's state is not modified
    ref, ref_zf = naive_sosfilt(sos, x, zi)
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(zf, ref_zf, rtol=1e-9, atol=1e-12)


def test_zf_matches_scipy_zf(speech_16k):
    sos = np.array(design_sos("lowpass", sample_rate=SR, cutoff_hz=1000))
    zi = np.zeros((sos.shape[0], 2))
    out, zf = ng.lowpass(speech_16k, cutoff_hz=1000, sample_rate=SR, zi=zi)
    ref, ref_zf = ss.sosfilt(sos, speech_16k, zi=zi)
    assert _rel(out, ref) < 1e-9
    np.testing.assert_allclose(zf, ref_zf, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 64, 65, 8193])
@pytest.mark.parametrize("name,kwargs,wn,btype", CASES)
def test_chunked_equals_one_pass(speech_16k, chunk, name, kwargs, wn, btype):
    fn = getattr(ng, name)
    x = speech_16k[:20000] if chunk == 1 else speech_16k
    whole = fn(x, sample_rate=SR, **kwargs)
    zi = "zeros"
    parts = []
    for start in range(0, x.shape[0], chunk):
        part, zi = fn(x[start:start + chunk], sample_rate=SR, zi=zi, **kwargs)
        parts.append(part)
    assert _rel(np.concatenate(parts), whole) < 1e-6


def test_multichannel_rows_filtered_independently_and_chunked():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5000))
    out = ng.highpass(x, cutoff_hz=500, sample_rate=SR)
    for c in range(3):
        np.testing.assert_allclose(out[c], ng.highpass(x[c], cutoff_hz=500, sample_rate=SR), rtol=1e-12)
    a, zf = ng.highpass(x[:, :1234], cutoff_hz=500, sample_rate=SR, zi="zeros")
    assert zf.shape == (2, 3, 2)
    b, _ = ng.highpass(x[:, 1234:], cutoff_hz=500, sample_rate=SR, zi=zf)
    assert _rel(np.concatenate([a, b], axis=1), out) < 1e-9


def _tone_gain_db(fn, freq, **kwargs):
    t = np.arange(SR) / SR
    y = np.sin(2 * np.pi * freq * t)
    out = fn(y, sample_rate=SR, **kwargs)
    return 20 * np.log10(np.sqrt(np.mean(out[SR // 2:] ** 2)) / np.sqrt(np.mean(y[SR // 2:] ** 2)))


def test_peaking_eq_gain_at_centre_and_flat_far_away():
    assert _tone_gain_db(ng.peaking_eq, 1000, center_hz=1000, gain_db=9.0, q=2.0) == pytest.approx(9.0, abs=0.05)
    assert _tone_gain_db(ng.peaking_eq, 1000, center_hz=1000, gain_db=-9.0, q=2.0) == pytest.approx(-9.0, abs=0.05)
    assert abs(_tone_gain_db(ng.peaking_eq, 6000, center_hz=500, gain_db=9.0, q=2.0)) < 0.1


def test_shelves_gain_in_and_out_of_shelf():
    assert _tone_gain_db(ng.low_shelf, 50, cutoff_hz=500, gain_db=6.0) == pytest.approx(6.0, abs=0.1)
    assert abs(_tone_gain_db(ng.low_shelf, 6000, cutoff_hz=500, gain_db=6.0)) < 0.1
    assert _tone_gain_db(ng.high_shelf, 7000, cutoff_hz=1000, gain_db=-8.0) == pytest.approx(-8.0, abs=0.1)
    assert abs(_tone_gain_db(ng.high_shelf, 60, cutoff_hz=1000, gain_db=-8.0)) < 0.1
    # half the shelf gain (in dB) at the corner frequency
    assert _tone_gain_db(ng.high_shelf, 1000, cutoff_hz=1000, gain_db=-8.0) == pytest.approx(-4.0, abs=0.2)


def test_lowpass_kills_tone_above_cutoff_keeps_tone_below():
    assert _tone_gain_db(ng.lowpass, 6000, cutoff_hz=1000) < -60
    assert abs(_tone_gain_db(ng.lowpass, 100, cutoff_hz=1000)) < 0.01
    assert _tone_gain_db(ng.lowpass, 1000, cutoff_hz=1000) == pytest.approx(-3.01, abs=0.05)


def test_design_is_cached_and_read_only():
    a = design_sos("bandpass", sample_rate=SR, low_hz=300, high_hz=3400)
    b = design_sos("bandpass", sample_rate=SR, low_hz=300, high_hz=3400)
    assert a is b
    assert not a.flags.writeable


@pytest.mark.parametrize(
    "call",
    [
        lambda y: ng.lowpass(y, cutoff_hz=9000, sample_rate=SR),
        lambda y: ng.lowpass(y, cutoff_hz=0, sample_rate=SR),
        lambda y: ng.lowpass(y, cutoff_hz=1000, sample_rate=SR, order=0),
        lambda y: ng.bandpass(y, low_hz=3000, high_hz=300, sample_rate=SR),
        lambda y: ng.peaking_eq(y, center_hz=1000, gain_db=3, q=0, sample_rate=SR),
        lambda y: ng.lowpass(y, cutoff_hz=1000, sample_rate=SR, zi=np.zeros((3, 2))),
        lambda y: ng.lowpass(np.array([1.0, np.nan]), cutoff_hz=1000, sample_rate=SR),
    ],
)
def test_bad_arguments_raise_parameter_error(call):
    with pytest.raises(ng.ParameterError):
        call(np.zeros(100))


def test_cuda_backend_refused_for_now():
    with pytest.raises(ng.BackendError):
        ng.lowpass(np.zeros(10), cutoff_hz=1000, sample_rate=SR, backend="cuda")


def test_empty_input():
    out, zf = ng.lowpass(np.zeros(0, np.float32), cutoff_hz=1000, sample_rate=SR, zi="zeros")
    assert out.shape == (0,) and out.dtype == np.float32 and np.all(zf == 0)
