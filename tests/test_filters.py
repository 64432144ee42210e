"""Filters: equality with scipy's Butterworth sos + sosfilt, chunk invariance, EQ gains."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.signal as ss

import noisegen as ng
from noisegen.effects.filters import design_sos, sos_filter

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


@pytest.mark.parametrize("q", [5e-324, 1e-315, 1e-308, 1e-306, 1e-250])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_peaking_eq_with_the_tiniest_q_is_its_gain_everywhere(q, dtype):
    """q -> 0 widens the bell to the whole band (gain A**2 but at DC and Nyquist). Below ~1e-306 the
    cookbook's alpha = sin(w0) / 2q overflowed, every coefficient was NaN and the call was refused as
    the input overflowing ("peaking_eq(...) overflows float64 for this input (peak 0)"), silence included."""
    x = np.random.default_rng(8).standard_normal((2, 3000)).astype(dtype)
    for center_hz in (1e-5 * SR, 1000.0, 7000.0):
        for gain_db in (-60.0, 0.0, 13.0, 60.0):
            kwargs = dict(center_hz=center_hz, gain_db=gain_db, q=q, sample_rate=SR)
            sos = design_sos("peaking", **kwargs)
            assert np.isfinite(sos).all()
            silent = ng.peaking_eq(np.zeros_like(x), **kwargs)
            assert silent.dtype == dtype and not silent.any()
            out = ng.peaking_eq(x, **kwargs)
            np.testing.assert_allclose(out, 10.0 ** (gain_db / 20.0) * x.astype(np.float64), rtol=1e-6, atol=0)


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


@pytest.mark.parametrize("kind, given, name", [
    ("lowpass", dict(cutoff_hz=1000.0, q=0.7), "q"),
    ("highpass", dict(cutoff_hz=1000.0, gain_db="nan"), "gain_db"),
    ("bandpass", dict(low_hz=300.0, high_hz=3000.0, cutoff_hz=1000.0), "cutoff_hz"),
    ("peaking", dict(center_hz=1000.0, gain_db=6.0, q=1.0, order=8), "order"),
    ("low_shelf", dict(cutoff_hz=1000.0, gain_db=6.0, center_hz=float("nan")), "center_hz"),
])
def test_design_sos_refuses_an_argument_its_kind_does_not_read(kind, given, name):
    """design_sos ignored arguments its kind does not read: q=0.7 for a low-pass (or NaN, a dict) gave a
    plain Butterworth without a word (found by sigfuzz)."""
    with pytest.raises(ng.ParameterError, match=f"{name} is not used by kind='{kind}'"):
        design_sos(kind, sample_rate=SR, **given)
    design_sos(kind, sample_rate=SR, **{k: v for k, v in given.items() if k != name}, order=4)


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


# ----------------------------------------------------------------------------- accuracy over the whole accepted range
# Tolerance: 1e-4 of the reference's max |value|, plus the output dtype's
# smallest normal number (a float32 output cannot hold a reference that lies
# below float32's range; order 32 at 0.16 Hz rings up for tens of seconds).

FMIN, FMAX = 1e-5 * SR, (0.5 - 1e-5) * SR  # the accepted frequency range (filters.FREQ_MARGIN)
GRID_HZ = [FMIN, 1.0, 10.0, 100.0, 1000.0, 4000.0, 7000.0, 7990.0, FMAX]
# every accepted order runs in the slow pass; the default pass takes a dense subset with the max
ALL_ORDERS = tuple(range(1, 33))
ORDERS = [pytest.param((1, 2, 3, 4, 5, 8, 11, 16, 23, 31, 32), id="orders-subset"),
          pytest.param(ALL_ORDERS, id="orders-all", marks=pytest.mark.slow)]
GRID_BANDS = [(FMIN, 2 * FMIN), (FMIN, FMAX), (10.0, 20.0), (20.0, 7000.0), (50.0, 1000.0), (300.0, 3400.0),
              (1000.0, 1000.01), (7900.0, FMAX)]


def _grid_signal(dtype, stereo):
    x = np.random.default_rng(11).standard_normal((2, 2000))
    x[1] = np.cumsum(x[1]) / 30  # a channel with strong low frequencies
    x = x.astype(dtype)
    return x if stereo else x[0]


def _assert_close(out, ref, x, what):
    ref = np.asarray(ref, dtype=np.float64)
    assert out.dtype == x.dtype and out.shape == x.shape
    assert np.isfinite(out).all(), what
    tol = 1e-4 * np.max(np.abs(ref)) + np.finfo(x.dtype).tiny
    err = np.max(np.abs(out - ref))
    assert err <= tol, f"{what}: error {err:.3g} > {tol:.3g}"


def _scipy_float64(sos, x):
    """scipy's own design (``sos`` from ``butter``) run by scipy in float64: the literal reference."""
    return ss.sosfilt(sos, x.astype(np.float64), axis=-1)


def _scipy_extended(sos, x):
    """scipy's sosfilt in extended precision (long double) over the given sections."""
    return ss.sosfilt(np.asarray(sos, dtype=np.longdouble), x.astype(np.longdouble), axis=-1)


def _assert_streams_exactly(fn, x, kwargs):
    whole = fn(x, sample_rate=SR, **kwargs)
    a, zf = fn(x[..., :1234], sample_rate=SR, zi="zeros", **kwargs)
    b, _ = fn(x[..., 1234:], sample_rate=SR, zi=zf, **kwargs)
    np.testing.assert_array_equal(np.concatenate([a, b], axis=-1), whole)


@pytest.mark.parametrize("orders", ORDERS)
@pytest.mark.parametrize("stereo", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["lowpass", "highpass"])
def test_butterworth_matches_scipy_for_every_order_and_cutoff(kind, dtype, stereo, orders):
    x = _grid_signal(dtype, stereo)
    for order in orders:
        for cutoff in GRID_HZ:
            out = getattr(ng, kind)(x, cutoff_hz=cutoff, sample_rate=SR, order=order)
            ref = _scipy_float64(ss.butter(order, cutoff, btype=kind, fs=SR, output="sos"), x)
            _assert_close(out, ref, x, f"{kind} order={order} cutoff_hz={cutoff:g}")


@pytest.mark.parametrize("orders", ORDERS)
@pytest.mark.parametrize("stereo", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["bandpass", "bandstop"])
def test_band_filters_match_extended_precision_for_every_order_and_band(kind, dtype, stereo, orders):
    x = _grid_signal(dtype, stereo)
    for order in orders:
        for lo, hi in GRID_BANDS:
            out = getattr(ng, kind)(x, low_hz=lo, high_hz=hi, sample_rate=SR, order=order)
            sos = design_sos(kind, sample_rate=SR, low_hz=lo, high_hz=hi, order=order)
            what = f"{kind} order={order} band=({lo:g}, {hi:g})"
            _assert_close(out, _scipy_extended(sos, x), x, what)
            # scipy's own float64 pass is accurate for band-passes, and for band-stops up to order 7;
            # beyond, its section order loses digits, all of them by order 12 (see the test below)
            if kind == "bandpass" or order <= 7:
                with np.errstate(all="ignore"):  # scipy's gain overflows at the widest bands
                    sos_scipy = ss.butter(order, [lo, hi], btype=kind, fs=SR, output="sos")
                if np.isfinite(sos_scipy).all():
                    _assert_close(out, _scipy_float64(sos_scipy, x), x, what + " (scipy float64)")


@pytest.mark.parametrize("orders", ORDERS)
@pytest.mark.parametrize("kind", ["lowpass", "highpass", "bandpass", "bandstop"])
def test_design_is_scipys_butterworth(kind, orders):
    """Same poles, zeros and gain as scipy's design, for every order, over the grid."""
    w = np.concatenate([np.geomspace(1e-6, 1.0, 300), np.linspace(1.0, np.pi - 1e-6, 300)])
    edges = [(f,) for f in GRID_HZ] if kind in ("lowpass", "highpass") else GRID_BANDS
    for order in orders:
        for freqs in edges:
            wn = freqs[0] if len(freqs) == 1 else list(freqs)
            with np.errstate(all="ignore"):
                z, p, k = ss.butter(order, wn, btype=kind, fs=SR, output="zpk")
            if not (np.isfinite(k) and k != 0):  # scipy's gain under/overflowed: nothing to compare with
                continue
            _, h_ref = ss.freqz_zpk(z, p, k, worN=w)
            names = ("cutoff_hz",) if len(freqs) == 1 else ("low_hz", "high_hz")
            sos = design_sos(kind, sample_rate=SR, order=order, **dict(zip(names, freqs)))
            _, h = ss.sosfreqz(sos, worN=w)
            assert np.max(np.abs(h - h_ref)) <= 1e-6 * np.max(np.abs(h_ref)), f"{kind} order={order} {freqs}"


@pytest.mark.parametrize("kind", ["lowpass", "highpass", "bandpass", "bandstop"])
def test_design_is_scipys_butter_and_zpk2sos_bit_for_bit(kind):
    """noisegen designs and pairs as scipy.signal.butter and zpk2sos do (their code, without their array-API
    layers, which made a transform drawing its cut-off 2-4x slower than audiomentations' same design): over
    orders 1-32 and random edges at 8-192 kHz, the very same zeros, poles and sections."""
    from noisegen._design.butterworth import butter_zpk, zpk_sections

    rng = np.random.default_rng(7)
    for fs in (8000, 16000, 44100, 192000):
        for order in [*range(1, 13), 16, 23, 32]:
            lo, hi = np.log(fs * 1.01e-5), np.log(fs * 0.49998)
            wn = float(np.exp(rng.uniform(lo, hi))) if kind in ("lowpass", "highpass") else \
                [float(f) for f in np.sort(np.exp(rng.uniform(lo, hi, 2))) * [1.0, 1.001]]
            with np.errstate(all="ignore"):
                z, p, k = ss.butter(order, wn, btype=kind, fs=fs, output="zpk")
                ours = butter_zpk(kind, order, (wn,) if isinstance(wn, float) else tuple(wn), fs, with_gain=True)
            assert np.array_equal(ours[0], z) and np.array_equal(ours[1], p), (fs, order, wn)
            assert ours[2] == k or np.isnan(k) and np.isnan(ours[2]), (fs, order, wn)
            assert np.array_equal(zpk_sections(z, p), ss.zpk2sos(z, p, 1.0)), (fs, order, wn)


def test_high_order_wide_bandstop_is_accurate_where_scipys_section_order_is_not():
    x = _grid_signal(np.float64, False)
    out = ng.bandstop(x, low_hz=20.0, high_hz=7000.0, sample_rate=SR, order=12)
    ref = _scipy_extended(design_sos("bandstop", sample_rate=SR, low_hz=20.0, high_hz=7000.0, order=12), x)
    assert _rel(out, ref) < 1e-10
    scipy_out = _scipy_float64(ss.butter(12, [20.0, 7000.0], btype="bandstop", fs=SR, output="sos"), x)
    assert _rel(scipy_out, ref) > 1.0  # scipy's float64 pass of its own sections has no correct digit here


@pytest.mark.parametrize("stereo", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cookbook_filters_match_scipy_over_the_accepted_range(dtype, stereo):
    x = _grid_signal(dtype, stereo)
    for freq in GRID_HZ:
        for gain_db in (-60.0, -6.0, 12.0, 60.0):
            cases = [("low_shelf", dict(cutoff_hz=freq)), ("high_shelf", dict(cutoff_hz=freq))]
            cases += [("peaking", dict(center_hz=freq, q=q)) for q in (0.01, 0.7, 30.0, 1000.0)]
            for kind, kwargs in cases:
                fn = ng.peaking_eq if kind == "peaking" else getattr(ng, kind)
                out = fn(x, gain_db=gain_db, sample_rate=SR, **kwargs)
                sos = np.array(design_sos(kind, sample_rate=SR, gain_db=gain_db, **kwargs))
                _assert_close(out, _scipy_float64(sos, x), x, f"{kind} gain_db={gain_db} {kwargs}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streaming_with_zi_equals_one_pass_over_the_grid(dtype):
    for stereo in (False, True):
        x = _grid_signal(dtype, stereo)
        for order in (1, 2, 7, 32):
            for cutoff in (FMIN, 10.0, 1000.0, FMAX):
                for kind in ("lowpass", "highpass"):
                    _assert_streams_exactly(getattr(ng, kind), x, dict(cutoff_hz=cutoff, order=order))
            for lo, hi in GRID_BANDS[:4]:
                for kind in ("bandpass", "bandstop"):
                    _assert_streams_exactly(getattr(ng, kind), x, dict(low_hz=lo, high_hz=hi, order=order))
        _assert_streams_exactly(ng.peaking_eq, x, dict(center_hz=1000.0, gain_db=12.0, q=30.0))


def test_sections_have_unit_gain_in_the_pass_band():
    # the root of the float32 underflow: scipy puts the whole gain (2e-87 here) in section 0
    sos = design_sos("lowpass", sample_rate=SR, cutoff_hz=10.0, order=32)
    dc_gain = sos[:, :3].sum(axis=1) / sos[:, 3:].sum(axis=1)
    np.testing.assert_allclose(dc_gain, 1.0, rtol=1e-9)


@pytest.mark.parametrize("cutoff_hz", [FMIN * 0.99, FMAX * 1.000001, 1e-300])
def test_frequencies_outside_the_accepted_range_are_refused(cutoff_hz):
    with pytest.raises(ng.ParameterError, match="cutoff_hz must be in"):
        ng.lowpass(np.zeros(10), sample_rate=SR, cutoff_hz=cutoff_hz)


FILTER_CALLS = [
    (ng.lowpass, dict(cutoff_hz=1000.0 / 3, order=4)),
    (ng.highpass, dict(cutoff_hz=1000.0 / 3, order=3)),
    (ng.bandpass, dict(low_hz=1000.0 / 3, high_hz=3000.0, order=2)),
    (ng.bandstop, dict(low_hz=1000.0 / 3, high_hz=3000.0, order=2)),
    (ng.peaking_eq, dict(center_hz=1000.0, gain_db=25.0 / 2, q=0.5)),
    (ng.low_shelf, dict(cutoff_hz=200.0, gain_db=25.0 / 2)),
    (ng.high_shelf, dict(cutoff_hz=2000.0, gain_db=25.0 / 2)),
]


@pytest.mark.parametrize("fn,kwargs", FILTER_CALLS, ids=[fn.__name__ for fn, _ in FILTER_CALLS])
def test_any_real_number_type_sets_a_filter(fn, kwargs):
    # A Fraction (a numbers.Real the checks accept) failed with TypeError when the overflow
    # label formatted it with :g: each argument of any real type now acts as its float, in
    # the output and, past float32's range, in the error message.
    from fractions import Fraction

    x = np.random.default_rng(4).standard_normal(500)
    huge = np.full(200, np.finfo(np.float32).max / 2, np.float32)

    def run(y, args):
        try:
            return fn(y, sample_rate=SR, **args)
        except ng.ParameterError as exc:
            return str(exc)

    for key, value in kwargs.items():
        for kind in (Fraction, np.float32, np.float64, np.int64):
            typed = {**kwargs, key: kind(value)}
            as_float = {**kwargs, key: float(typed[key])}
            np.testing.assert_array_equal(run(x, typed), run(x, as_float))
            np.testing.assert_array_equal(run(huge, typed), run(huge, as_float))  # out, or the same error
    refused = run(huge, {k: Fraction(v) for k, v in kwargs.items()})
    if fn in (ng.peaking_eq, ng.low_shelf, ng.high_shelf):  # +12.5 dB; the Butterworths have unit gain
        assert isinstance(refused, str) and "overflows float32" in refused


def _not_real(array):
    """Variants of a real array that float64 conversion would mangle (complex: ComplexWarning
    and the imaginary part dropped, even when it is 0; None: NaN) or that hold no numbers."""
    a = np.asarray(array, dtype=np.float64)
    with_none, one_complex = a.astype(object), a.astype(object)
    with_none.flat[-1] = None
    one_complex.flat[0] = complex(a.flat[0], 1e-3)
    return [a + 1j, a.astype(np.complex64), a.astype(complex), with_none, with_none.tolist(),
            one_complex.tolist(), a.astype(str)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_overflow_from_a_state_handed_in_names_zi(dtype):
    # the error blamed the filter and y's peak, never the state that overflowed
    y = (0.1 * ng.white_noise(500, rng=0)).astype(dtype)
    _, zi = ng.lowpass(y, cutoff_hz=100, sample_rate=8000, zi="zeros")
    huge = np.full(zi.shape, 1e300 if dtype == np.float32 else np.finfo(np.float64).max)
    with pytest.raises(ng.ParameterError, match=r"^lowpass\(cutoff_hz=100, order=4\) from zi \(peak 1.?[0-9]*e\+3[0-9]+\) "
                                                rf"overflows {np.dtype(dtype).name} for this input \(peak 0\.[0-9]+\)"):
        ng.lowpass(y, cutoff_hz=100, sample_rate=8000, zi=huge)
    assert (huge == huge.flat[0]).all()  # the caller's state is left as it was
    out, _ = ng.lowpass(y, cutoff_hz=100, sample_rate=8000, zi=np.full(zi.shape, 1e3))  # a large state that fits
    assert np.isfinite(out).all()


@pytest.mark.parametrize("stereo", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_too_loud_chunk_of_a_stream_is_blamed_on_the_input_not_on_zi(dtype, stereo):
    """Streaming, each chunk after the first has zi=zf: a chunk too loud for the filter was reported as
    "peaking_eq(...) from zi (peak 0) overflows ...", blaming a state of zeros; the error is now the one
    the chunk gives without a state, and zi is named only when the chunk alone fits."""
    big = np.finfo(dtype).max / 30
    t = np.arange(2000) / SR
    loud = (big * np.sin(2 * np.pi * 1000 * t)).astype(dtype)
    loud = np.stack([loud, loud[::-1]]) if stereo else loud
    calls = [(ng.peaking_eq, dict(center_hz=1000.0, gain_db=60.0, q=1.0)),
             (ng.low_shelf, dict(cutoff_hz=4000.0, gain_db=40.0)),
             (ng.high_shelf, dict(cutoff_hz=300.0, gain_db=35.0))]
    for fn, kwargs in calls:
        with pytest.raises(ng.ParameterError) as alone:
            fn(loud, sample_rate=SR, **kwargs)
        for before in (np.zeros_like(loud[..., :100]), 1e-3 * loud[..., :100] / big):  # a state of zeros, a small one
            _, zf = fn(before, sample_rate=SR, zi="zeros", **kwargs)
            with pytest.raises(ng.ParameterError) as streamed:
                fn(loud, sample_rate=SR, zi=zf, **kwargs)
            assert str(streamed.value) == str(alone.value), fn.__name__
            assert "from zi" not in str(streamed.value)


def test_non_finite_zi_is_refused_saying_how_many_values():
    # the message said only "zi must be finite", not what was received
    sos = design_sos("lowpass", sample_rate=SR, cutoff_hz=1000.0)
    zi = np.zeros((sos.shape[0], 2))
    zi[0, 1], zi[-1, 0] = np.nan, -np.inf
    with pytest.raises(ng.ParameterError, match=r"^zi must be finite, got 2 NaN/inf value\(s\)$"):
        sos_filter(np.zeros(10), sos=sos, zi=zi)


@pytest.mark.parametrize("stereo", [False, True])
def test_complex_or_non_numeric_sos_and_zi_are_refused(stereo):
    import warnings

    y = np.random.default_rng(6).standard_normal((2, 300) if stereo else 300)
    sos = np.array(design_sos("bandpass", sample_rate=SR, low_hz=300.0, high_hz=3000.0, order=3))
    zi = np.random.default_rng(7).standard_normal((3, 2, 2) if stereo else (3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning fails the test
        for bad in _not_real(sos):
            with pytest.raises(ng.ParameterError, match=r"^sos must be (real|a real array)"):
                sos_filter(y, sos=bad)
        for bad in _not_real(zi):
            with pytest.raises(ng.ParameterError, match=r"^zi must be (real|None, 'zeros' or a real array)"):
                sos_filter(y, sos=sos, zi=bad)
            with pytest.raises(ng.ParameterError, match=r"^zi must be"):
                ng.bandpass(y, low_hz=300.0, high_hz=3000.0, order=3, sample_rate=SR, zi=bad)
    # real values of any numeric type still pass, as their float64 values
    out, zf = sos_filter(y, sos=sos.tolist(), zi=zi.astype(np.float32).tolist())
    ref, ref_zf = sos_filter(y, sos=sos, zi=zi.astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(zf, ref_zf)


@pytest.mark.parametrize("where", [(0, 0), (0, 4), (1, 5)])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_sos_is_named_as_such(where, bad):
    """A NaN or inf coefficient in a section with a0 == 1 was reported as an overflow of the input
    ("sos overflows float64 for this input: the result is out of float64's range")."""
    sos = np.array(design_sos("lowpass", sample_rate=SR, cutoff_hz=1000))
    sos[where] = bad
    with pytest.raises(ng.ParameterError, match="sos must be finite"):
        sos_filter(np.ones(100), sos=sos, zi="zeros")


@pytest.mark.parametrize("a0", [1e-310, 5e-324, -1e-300, 1e-200])
@pytest.mark.parametrize("stereo", [False, True])
def test_an_a0_too_small_to_divide_by_is_refused_as_sos(a0, stereo):
    """An a0 whose division overflowed a coefficient gave numpy's RuntimeWarning and then blamed the input
    ("sos overflows float64 for this input (peak 0)"), silence included; one that divides cleanly still runs."""
    import warnings

    sos = np.array(design_sos("bandpass", sample_rate=SR, low_hz=300.0, high_hz=3000.0, order=3))
    bad = sos.copy()
    bad[1, 3], bad[1, 0] = a0, 1e110  # b0 / a0 passes float64
    y = np.zeros((2, 50) if stereo else 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for zi in (None, "zeros"):
            with pytest.raises(ng.ParameterError, match=r"^sos must have coefficients that stay finite divided by a0, "
                                                        r"got a0=.* in section 1"):
                sos_filter(y, sos=bad, zi=zi)
        scaled = sos * np.array([[1.0], [-1e-300], [1.0]])  # the same filter, a0 tiny: runs as the original
        np.testing.assert_allclose(sos_filter(y + 1.0, sos=scaled), sos_filter(y + 1.0, sos=sos), rtol=1e-12)


@pytest.mark.parametrize("sample_rate", [1, 3, 7, 100, 8000, 11025, 16000, 22050, 44100, 48000, 88200, 96000, 12345,
                                         768000])
def test_the_frequency_bounds_an_error_names_are_taken(sample_rate):
    """A frequency refused names its range; the bounds as named pass (at 11025 Hz the error said
    [0.11025, 5512.39] and refused both), and past them a little is still refused."""
    y = np.zeros(64)
    with pytest.raises(ng.ParameterError, match="cutoff_hz must be in") as info:
        ng.lowpass(y, cutoff_hz=float(sample_rate), sample_rate=sample_rate)
    low, high = (float(v) for v in re.search(r"\[([^,]+), ([^\]]+)\]", str(info.value)).groups())
    assert 0.0 < low < high < sample_rate / 2
    for value in (low, high):
        ng.lowpass(y, cutoff_hz=value, sample_rate=sample_rate)
        ng.highpass(y, cutoff_hz=value, sample_rate=sample_rate, order=2)
        ng.peaking_eq(y, center_hz=value, gain_db=3.0, q=1.0, sample_rate=sample_rate)
        ng.high_shelf(y, cutoff_hz=value, gain_db=3.0, sample_rate=sample_rate)
    ng.bandpass(y, low_hz=low, high_hz=high, sample_rate=sample_rate)
    for value in (low * 0.9999, high * 1.0001, sample_rate / 2):
        with pytest.raises(ng.ParameterError, match="cutoff_hz"):
            ng.lowpass(y, cutoff_hz=value, sample_rate=sample_rate)
    # the batch band-pass (noisegen.cuda.augment_batch, here on the CPU) names and takes the same bounds
    from noisegen.cuda import augment_batch

    batch = np.zeros((2, 64), np.float32)
    with pytest.raises(ng.ParameterError, match="band_hz edges must satisfy") as info:
        augment_batch(batch, sample_rate=sample_rate, band_hz=(0.0, float(sample_rate)), rng=0, backend="cpu")
    shown = re.search(r"satisfy ([^ ]+) <= low_hz < high_hz <= ([^ ]+) ", str(info.value)).groups()
    assert tuple(float(v) for v in shown) == (low, high)
    augment_batch(batch, sample_rate=sample_rate, band_hz=(low, high), rng=0, backend="cpu")
