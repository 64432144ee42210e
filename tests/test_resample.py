"""Band-limited resampler: lengths, pass/stop band, soxr agreement, NumPy twin, streaming."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import noisegen
from noisegen import BackendError, ParameterError, Resampler, resample
from noisegen._design.resample import design_filter
from noisegen._design.ratios import NearRatio, near_ratio
from noisegen._design.resample import Plan
from noisegen.effects.resample import resample_to_length as _apply

from naive_resample import naive_resample

PAIRS = [(16000, 8000), (8000, 16000), (48000, 16000), (44100, 16000), (16000, 22050), (16000, 44100), (22050, 16000), (16000, 12000)]


def tone(freq, sample_rate, seconds=1.0, dtype=np.float64):
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return np.sin(2 * np.pi * freq * t).astype(dtype)


def level_db(y):
    """Amplitude (dB re a full-scale sine) of the middle half of ``y``."""
    mid = y[len(y) // 4 : 3 * len(y) // 4].astype(np.float64)
    return 20 * np.log10(np.sqrt(2 * np.mean(mid**2)) + 1e-30)


@pytest.mark.parametrize("n", [0, 1, 7, 160, 16001, 44099])
@pytest.mark.parametrize("orig, target", PAIRS)
def test_length_is_ceil(n, orig, target):
    y = np.zeros(n, dtype=np.float32)
    out = resample(y, orig_sample_rate=orig, target_sample_rate=target)
    assert out.shape == (math.ceil(n * target / orig),)
    assert out.dtype == np.float32


@pytest.mark.parametrize("orig, target", PAIRS)
def test_passband_tone_within_0p1_db(orig, target):
    nyq = min(orig, target) / 2
    for f in (0.05 * nyq, 0.5 * nyq, 0.9 * nyq):
        out = resample(tone(f, orig), orig_sample_rate=orig, target_sample_rate=target)
        assert abs(level_db(out)) < 0.1, (f, level_db(out))
        # and it is the same tone, at the same time
        ref = tone(f, target, seconds=len(out) / target)[: len(out)]
        mid = slice(len(out) // 4, 3 * len(out) // 4)
        assert np.max(np.abs(out[mid] - ref[mid])) < 2e-3  # the design's ripple: 1.5e-3 at most


@pytest.mark.parametrize("orig, target", [p for p in PAIRS if p[1] < p[0]])
def test_tone_above_output_nyquist_rejected_80_db(orig, target):
    nyq_out = target / 2
    for f in (1.005 * nyq_out, 1.1 * nyq_out, 1.5 * nyq_out, 0.95 * orig / 2):
        out = resample(tone(f, orig), orig_sample_rate=orig, target_sample_rate=target)
        assert level_db(out) < -80, (f, level_db(out))


@pytest.mark.parametrize("orig, target", [(48000, 16000), (44100, 16000), (16000, 22050), (16000, 8000), (8000, 16000)])
def test_matches_soxr_hq(orig, target):
    soxr = pytest.importorskip("soxr")
    rng = np.random.default_rng(1)
    # band-limited noise, well inside both pass bands
    x = rng.standard_normal(orig)
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1 / orig) > 0.85 * min(orig, target) / 2] = 0
    x = np.fft.irfft(spec, len(x))
    ours = resample(x, orig_sample_rate=orig, target_sample_rate=target)
    ref = soxr.resample(x, orig, target, quality="HQ")
    n = min(len(ours), len(ref))
    mid = slice(n // 10, n - n // 10)
    err = ours[mid] - ref[mid]
    snr = 10 * np.log10(np.sum(ref[mid] ** 2) / np.sum(err**2))
    assert snr > 60, snr
    assert abs(len(ours) - len(ref)) <= 1


@pytest.mark.parametrize("rows, denom", [(257, 256), (147, 147), (160, 160), (129, 128), (3, 3), (1, 1)])
def test_filter_tables_hold_the_windowed_sinc_at_every_phase_and_tap(rows, denom):
    """Every entry is h(r / denom + half - 1 - j), against the definition evaluated entry by entry
    (numpy's i0 and sinc), for cut-offs from 1/10 to 1 and the WSOLA fractional-delay design."""
    from noisegen._design.kaiser import filter_table, kaiser_spec

    specs = [kaiser_spec(0.9 * s, s) for s in np.geomspace(0.1, 1.0, 9)] + [(1.0, 8.0, 0.1102 * (60.0 - 8.7), 8, 16)]
    for fc, half_width, beta, half, n_taps in specs:
        table = filter_table(rows, denom, n_taps, half, fc, half_width, beta)
        tau = np.arange(rows)[:, None] / denom + (half - 1 - np.arange(n_taps))[None, :]
        u = np.clip(tau / half_width, -1.0, 1.0)
        window = np.i0(beta * np.sqrt(1.0 - u * u)) / np.i0(beta)
        ref = np.where(np.abs(tau) < half_width, fc * np.sinc(fc * tau) * window, 0.0)
        assert table.shape == (rows, n_taps)
        np.testing.assert_allclose(table, ref, rtol=0, atol=1e-6 * fc)  # the Bessel series: rel. error < 2e-7


def test_equiripple_polyphase_is_shorter_and_meets_the_band_edges():
    """44.1 kHz -> 16 kHz: the equiripple prototype needs 240 taps where the Kaiser sinc needs 304;
    its measured response keeps the pass band within 1.5e-3 and the stop band 83 dB down."""
    from noisegen._design.kaiser import kaiser_table
    from noisegen._design.resample import _polyphase_ok, equiripple_polyphase

    spec, table = equiripple_polyphase(160, 441, "d")
    assert table.shape == (160, 240) and kaiser_table(160, 160, 0.9 * 160 / 441, 160 / 441, "d")[1].shape == (160, 304)
    assert _polyphase_ok(table, 160 / 441)
    assert not _polyphase_ok(table, 0.9 * 160 / 441)  # the check can fail: a lower ratio needs more
    np.testing.assert_allclose(table.sum(axis=1), 1.0, atol=1.5e-3)  # unit DC gain in every phase, to the ripple
    assert Plan(Fraction(160, 441), np.float64).table is not None
    assert equiripple_polyphase(10, 11, "d") is None  # near 1 the Kaiser sinc is shorter


@pytest.mark.parametrize("ratio", [Fraction(1, 9), Fraction(2, 3), Fraction(10, 9), Fraction(160, 441), 2 ** (-3 / 12), 2 ** (5 / 12)])
def test_kernel_matches_numpy_twin(ratio):
    x = np.random.default_rng(2).standard_normal(300)
    n_out = int(len(x) * float(ratio))
    fast = _apply(x, ratio, n_out)
    slow = naive_resample(x, ratio, n_out)
    # rational: exact rows; irrational: 256 interpolated phases (error ~1e-5)
    tol = 1e-9 if isinstance(ratio, Fraction) else 3e-5
    np.testing.assert_allclose(fast, slow, atol=tol)
    assert Plan(ratio, np.float64).rational == isinstance(ratio, Fraction)


@pytest.mark.parametrize("down", [2, 3, 4, 6, 8])
def test_decimator_matches_numpy_twin(down):
    """Integer decimation uses the equiripple FIR: a plain convolution, kept every ``down``-th sample."""
    from noisegen._design.resample import equiripple_taps as _equiripple_taps

    plan = Plan(Fraction(1, down), np.float64)
    h = _equiripple_taps(down)
    assert h is not None and np.allclose(h, h[::-1])
    assert len(h) < 2 * design_filter(1 / down).half_width  # shorter than the Kaiser sinc
    x = np.random.default_rng(5).standard_normal(3000)
    n_out = -(-len(x) // down)
    fast = _apply(x, Fraction(1, down), n_out)
    slow = np.convolve(x, h)[plan.half - 1 :: down][:n_out]
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    # the response it was chosen for: ripple <= 1.5e-3 (0.013 dB) to 0.9, >= 84 dB from 1.0 of the output Nyquist
    f = np.linspace(0, 0.5, 20000)
    mag = np.abs(np.exp(-2j * np.pi * f[:, None] * np.arange(len(h))[None, :]) @ h)
    assert np.max(np.abs(mag[f <= 0.45 / down] - 1)) <= 1.5e-3
    assert 20 * np.log10(np.max(mag[f >= 0.5 / down])) <= -84


@pytest.mark.parametrize("orig, target", [(48000, 16000), (16000, 22050), (16000, 17777), (8000, 16000), (16000, 8000)])
@pytest.mark.parametrize("chunks", [[1] * 50 + [999], [64, 65, 8192, 8193], [3000, 1, 7, 2500]])
@pytest.mark.parametrize("shape", [(), (2,)])
def test_streaming_equals_one_shot(orig, target, chunks, shape):
    rng = np.random.default_rng(3)
    n = sum(chunks)
    x = rng.standard_normal(shape + (n,)).astype(np.float32)
    whole = resample(x, orig_sample_rate=orig, target_sample_rate=target)
    r = Resampler(orig_sample_rate=orig, target_sample_rate=target)
    parts, at = [], 0
    for c in chunks:
        parts.append(r.process(x[..., at : at + c]))
        at += c
    parts.append(r.flush())
    streamed = np.concatenate(parts, axis=-1)
    assert streamed.dtype == np.float32
    np.testing.assert_array_equal(streamed, whole)
    # the object is reset by flush and can run a second stream
    again = np.concatenate([r.process(x), r.flush()], axis=-1)
    np.testing.assert_array_equal(again, whole)


@pytest.mark.parametrize("near", [False, True])
@pytest.mark.parametrize("steps", [-7.3, -1.1, 0.7, 3.9, 11.5])
def test_arbitrary_ratio_pass_and_stop_band(steps, near):
    """Irrational ratios (pitch shifts) use the interpolated table, alone or through the nearby
    fraction pitch_shift takes (its rows blended per phase): same guarantees."""
    ratio = 2.0 ** (-steps / 12)  # output samples per input sample
    n_out = int(SR_ARB * ratio)
    if near:
        ratio = near_ratio(ratio, n_out)
        assert isinstance(ratio, NearRatio)
    nyq = min(1.0, float(ratio)) * SR_ARB / 2
    t = np.arange(SR_ARB) / SR_ARB
    for f, ok in ((0.9 * nyq, lambda db: abs(db) < 0.1), (0.3 * nyq, lambda db: abs(db) < 0.1)):
        out = _apply(np.sin(2 * np.pi * f * t), ratio, n_out)
        assert ok(level_db(out)), (f, level_db(out))
    if ratio < 1:
        for f in (1.002 * nyq, min(1.2 * nyq, 0.99 * SR_ARB / 2)):
            out = _apply(np.sin(2 * np.pi * f * t), ratio, n_out)
            assert level_db(out) < -80, (f, level_db(out))


SR_ARB = 16000


def test_multichannel_rows_independent():
    x = np.random.default_rng(4).standard_normal((3, 1000))
    out = resample(x, orig_sample_rate=16000, target_sample_rate=8000)
    for c in range(3):
        np.testing.assert_array_equal(out[c], resample(x[c], orig_sample_rate=16000, target_sample_rate=8000))


def test_same_rate_is_a_copy():
    x = np.ones(10, dtype=np.float32)
    out = resample(x, orig_sample_rate=16000, target_sample_rate=16000)
    assert out is not x and np.array_equal(out, x)


def test_validation():
    x = np.zeros(100)
    with pytest.raises(ParameterError, match="orig_sample_rate"):
        resample(x, orig_sample_rate=0, target_sample_rate=16000)
    with pytest.raises(ParameterError, match="target_sample_rate"):
        resample(x, orig_sample_rate=16000, target_sample_rate=float("nan"))
    with pytest.raises(ParameterError, match="finite"):
        resample(np.array([0.0, np.nan]), orig_sample_rate=16000, target_sample_rate=8000)
    with pytest.raises(ParameterError, match="integer"):
        resample(np.zeros(4, dtype=np.int16), orig_sample_rate=16000, target_sample_rate=8000)
    with pytest.raises(BackendError):
        resample(x, orig_sample_rate=16000, target_sample_rate=8000, backend="cuda")
    r = Resampler(orig_sample_rate=16000, target_sample_rate=8000)
    r.process(np.zeros(10, dtype=np.float32))
    with pytest.raises(ParameterError, match="chunk"):
        r.process(np.zeros(10, dtype=np.float64))


@pytest.mark.parametrize("stream", [lambda: Resampler(orig_sample_rate=16000, target_sample_rate=8000),
                                    lambda: noisegen.RirConvolver(np.r_[1.0, 0.5])])
def test_ragged_list_chunk_is_a_parameter_error(stream):
    """A list of rows of different lengths raised NumPy's raw ValueError ("inhomogeneous shape")."""
    with pytest.raises(ParameterError, match=r"chunk must be .*\[\[0\.0, 1\.0\], \[2\.0\]\]"):
        stream().process([[0.0, 1.0], [2.0]])


def test_top_level_names():
    assert noisegen.resample is resample and noisegen.Resampler is Resampler


@pytest.mark.parametrize("orig, target", [(16000, 8000), (44100, 16000), (16000, 22050), (14400, 16000)])
def test_outputs_do_not_depend_on_the_buffer(orig, target):
    """The rational kernel reads 32-byte-aligned windows through a per-phase shift of the
    table row. The shift follows the absolute input index, not the buffer: a buffer that
    starts elsewhere (another offset, a misaligned pointer) is slower, never different."""
    import importlib

    rs = importlib.import_module("noisegen.effects.resample")  # the module (noisegen.resample is the function)
    x = np.random.default_rng(11).standard_normal((2, 3001)).astype(np.float32)
    ratio = Fraction(target, orig)
    n_out = -(-3001 * target // orig)
    ref = _apply(x, ratio, n_out)
    plan = Plan(ratio, np.float32)
    assert rs._aligned_zeros(3, 10, np.float32).ctypes.data % 64 == 0
    for skew in (1, 3, 8):
        for c in range(2):
            lead = plan.lead + skew
            raw = np.zeros(lead + 3001 + plan.reach + 64 + 1, dtype=np.float32)[1:]  # 4 bytes off
            raw[lead : lead + 3001] = x[c]
            out = np.empty((1, n_out), dtype=np.float32)
            plan.run(raw.reshape(1, -1), -lead, 0, out)
            np.testing.assert_array_equal(out[0], ref[c])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_products_same_bits_alone_or_in_a_group(dtype):
    """The resampler's explicit-SIMD dot products: each product has the same bits whether it is
    computed alone, as one of four or as one of twelve, with a shared row or a row of its own
    (what keeps chunked runs equal to one-shot ones), and equals the float64 dot product to
    rounding."""
    import numba

    from noisegen._kernels.cpu._simd import dot_products

    @numba.njit
    def twelve_shared(x, row, s):
        starts = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11])
        return dot_products(x, starts, row, 0, row.shape[0])

    @numba.njit
    def four_own_rows(x, table, s, r, n):
        return dot_products(x, (s[0], s[1], s[2], s[3]), table, (r[0], r[1], r[2], r[3]), n)

    @numba.njit
    def one(x, table, s, r, n):
        return dot_products(x, (s,), table, (r,), n)

    rng = np.random.default_rng(12)
    x = rng.standard_normal(4000).astype(dtype)
    table = rng.standard_normal((5, 168)).astype(dtype)
    flat = table.reshape(-1)
    starts = rng.integers(0, 4000 - 168, 12)
    grouped = np.array(twelve_shared(x, table[2], starts))
    ref = np.array([np.dot(table[2].astype(np.float64), x[s : s + 168].astype(np.float64)) for s in starts])
    np.testing.assert_allclose(grouped, ref, rtol=0, atol=2e-5 if dtype == np.float32 else 1e-12)
    for w in range(12):
        assert one(x, flat, starts[w], 2 * 168, 168)[0] == grouped[w]
    rows = np.array([0, 3, 2, 4]) * 168
    own = np.array(four_own_rows(x, flat, starts[:4], rows, 168))
    for w in range(4):
        assert own[w] == one(x, flat, starts[w], rows[w], 168)[0]
    assert own[2] == grouped[2]  # row 2 shared or its own: same bits


@pytest.mark.parametrize("call", [
    lambda x: resample(x, orig_sample_rate=16000, target_sample_rate=8000),
    lambda x: resample(x, orig_sample_rate=44100, target_sample_rate=16000),
    lambda x: resample(x, orig_sample_rate=8000, target_sample_rate=16000),  # folded 2x interpolator
    lambda x: noisegen.speed(x, factor=1.1, sample_rate=16000),
    lambda x: noisegen.speed(x, factor=2 ** (1 / 12), sample_rate=16000),  # interpolated table
])
@pytest.mark.parametrize("where", [0, 4999, 9999])
def test_nan_or_inf_anywhere_is_refused(call, where):
    """Rational and interpolated paths, either channel, any position."""
    x = np.zeros((2, 10000), dtype=np.float32)
    x[1, where] = np.inf if where else np.nan
    with pytest.raises(ParameterError, match="y must be finite, got 1 NaN/inf"):
        call(x)


@pytest.mark.parametrize("ratio", [Fraction(1, 2), Fraction(2), Fraction(160, 441), Fraction(1, 9), Fraction(10, 9),
                                   Fraction(441, 160), 2 ** (-3 / 12), 2 ** (7 / 12)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_every_input_position_reaches_the_output(ratio, bad):
    """The NaN/inf check reads the output: a non-finite sample anywhere must reach it."""
    n = 240
    n_out = -(-n * ratio.numerator // ratio.denominator) if isinstance(ratio, Fraction) else round(n * ratio)
    for i in range(n):
        x = np.zeros((1, n), dtype=np.float32)
        x[0, i] = bad
        with pytest.raises(ParameterError, match="finite"):
            _apply(x, ratio, n_out)
    # A finite input whose output overflows is not called non-finite: the error says it overflowed.
    # Output 60 of the 2:1 decimator reads x[33 + j] with weight h[j].
    h = Plan(Fraction(1, 2), np.float32).table[0, :175].astype(np.float64)
    assert np.sum(np.abs(h)) * 3.3e38 > np.finfo(np.float32).max
    huge = np.zeros(n, dtype=np.float32)
    huge[33 : 33 + 175] = 3.3e38 * np.sign(h)
    with pytest.raises(ParameterError, match="overflows float32 for this input"):
        _apply(huge, Fraction(1, 2), n // 2)


@pytest.mark.parametrize("target", [8000, 22050, 44100, 48000])
def test_overflow_near_float32_max_is_refused_not_returned(target):
    # a square wave at full float32 scale: the band-limited result overshoots past float32's max
    t = (np.arange(4000) + 0.5) / 16000
    square = np.sign(np.sin(2 * np.pi * 210.0 * t))
    for y in (square, np.stack([square, -square])):
        y32 = (y * np.finfo(np.float32).max).astype(np.float32)
        ref = resample(y.astype(np.float64), orig_sample_rate=16000, target_sample_rate=target)
        assert np.max(np.abs(ref)) > 1.0  # the overshoot
        with pytest.raises(ParameterError, match="overflows float32"):
            resample(y32, orig_sample_rate=16000, target_sample_rate=target)
        r = Resampler(orig_sample_rate=16000, target_sample_rate=target)
        with pytest.raises(ParameterError, match="overflows float32"):
            r.process(y32)
            r.flush()
        # half of full scale fits, and equals the float64 result scaled
        half = resample((y * 2.0**127).astype(np.float32), orig_sample_rate=16000, target_sample_rate=target)
        np.testing.assert_allclose(half / 2.0**127, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("first", [False, True])
def test_chunk_refused_for_overflow_leaves_the_stream_as_it_was(first):
    # the refused chunk stayed in the stream's buffer, so every later chunk was refused too (and a refused
    # first chunk fixed the stream's dtype): the stream goes on as if it had never been passed
    y = np.random.default_rng(3).standard_normal(3000)
    big = np.r_[np.zeros(500), np.full(500, 3.3e38)].astype(np.float32)  # a step: the overshoot overflows
    chunks = [y[:1000], y[1000:]] if first else [y[:1000].astype(np.float32), y[1000:].astype(np.float32)]
    before = 0 if first else 1  # chunks passed before the refused one
    r = Resampler(orig_sample_rate=44100, target_sample_rate=16000)
    parts = [r.process(c) for c in chunks[:before]]
    with pytest.raises(ParameterError, match="overflows float32"):
        r.process(big)
    parts += [r.process(c) for c in chunks[before:]]
    whole = np.concatenate(chunks)
    np.testing.assert_array_equal(np.concatenate(parts + [r.flush()]),
                                  resample(whole, orig_sample_rate=44100, target_sample_rate=16000))


def _decimation_reference(x, down, plan):
    """Float64 decimation by the plan's own taps: ``np.convolve``, every ``down``-th sample from the centre."""
    h = plan.table[0, : 2 * plan.half - 1].astype(np.float64)
    n_out = -(-x.shape[-1] // down)
    rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1]).astype(np.float64)
    ref = [np.convolve(r, h)[plan.half - 1 :: down][:n_out] if n_out else r[:0] for r in rows]
    return np.stack(ref).reshape(x.shape[:-1] + (n_out,))


def _lengths_near_blocks(down, dtype):
    """Input lengths around the folded decimator's group (8 vectors of outputs) and block boundaries."""
    from noisegen._kernels.cpu import decimate as dec

    group = dec.VECTORS * dec.VECTOR_BYTES // np.dtype(dtype).itemsize
    block = dec.BLOCK_INPUTS // down // group * group  # outputs per staged block
    outputs = [1, group - 1, group, group + 1, 2 * group + 3, block - 1, block, block + 1, 2 * block + group - 1]
    return sorted({0, 1, down - 1} | {down * m + e for m in outputs for e in (-1, 0, 1) if down * m + e > 0})


@pytest.mark.parametrize("down", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 2, 3])
def test_folded_decimator_matches_float64_convolution(down, dtype, channels):
    """Integer decimation (the folded, deinterleaved kernel) equals a float64 convolution with the
    same taps, to rounding, for lengths around every group and block boundary, 1 to 3 channels."""
    plan = Plan(Fraction(1, down), dtype)
    assert plan.fold is not None  # the folded path is the one under test
    tol = 2e-5 if dtype == np.float32 else 1e-12
    rng = np.random.default_rng(down)
    for n in _lengths_near_blocks(down, dtype):
        x = rng.standard_normal((n,) if channels is None else (channels, n)).astype(dtype)
        out = resample(x, orig_sample_rate=16000 * down, target_sample_rate=16000)
        assert out.dtype == dtype and out.shape == x.shape[:-1] + (-(-n // down),)
        np.testing.assert_allclose(out, _decimation_reference(x, down, plan), rtol=0, atol=tol, err_msg=f"n={n}")


def _streamed(x, down, cuts):
    r = Resampler(orig_sample_rate=16000 * down, target_sample_rate=16000)
    bounds = [0, *cuts, x.shape[-1]]
    parts = [r.process(x[..., a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return np.concatenate(parts + [r.flush()], axis=-1)


@pytest.mark.parametrize("down", [2, 3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 2, 3])
def test_folded_decimator_streams_bit_for_bit_at_every_split(down, dtype, channels):
    """The streaming decimator equals the one-shot one bit for bit wherever the input is cut in two
    (every split of a few groups of outputs), and at three-way splits around a staged block."""
    from noisegen._kernels.cpu import decimate as dec

    rng = np.random.default_rng(10 + down)
    n = 3 * 64 * down + 5
    x = rng.standard_normal((n,) if channels is None else (channels, n)).astype(dtype)
    whole = resample(x, orig_sample_rate=16000 * down, target_sample_rate=16000)
    for cut in range(n + 1):
        np.testing.assert_array_equal(_streamed(x, down, [cut]), whole, err_msg=f"cut={cut}")
    block = dec.BLOCK_INPUTS
    n = 2 * block + 77
    x = rng.standard_normal((n,) if channels is None else (channels, n)).astype(dtype)
    whole = resample(x, orig_sample_rate=16000 * down, target_sample_rate=16000)
    for a in range(block - 9, block + 10, 3):
        np.testing.assert_array_equal(_streamed(x, down, [a, a + block // 2 + 1]), whole, err_msg=f"a={a}")


@pytest.mark.parametrize("down", [2, 3, 4])
def test_folded_decimator_overflowed_pairs_fall_back(down):
    """Near float32's largest value a folded pair sum overflows though the output fits: those
    outputs are recomputed plainly (finite, equal to float64 to rounding), one-shot and streamed alike."""
    t = (np.arange(6000) + 0.5) / 48000
    square = np.sign(np.sin(2 * np.pi * 97.0 * t))
    x = np.stack([square, -square]) * 2.0**127  # pairs of equal signs: 2**128 overflows float32
    x32 = x.astype(np.float32)
    plan = Plan(Fraction(1, down), np.float32)
    ref = _decimation_reference(x, down, plan)
    assert np.max(np.abs(ref)) < np.finfo(np.float32).max
    out = resample(x32, orig_sample_rate=16000 * down, target_sample_rate=16000)
    np.testing.assert_allclose(out / 2.0**127, ref / 2.0**127, rtol=0, atol=1e-5)
    for cut in (1, 999, 3001):
        np.testing.assert_array_equal(_streamed(x32, down, [cut]), out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_last_slots_of_a_phase_in_any_group_have_the_bits_of_one_slot_alone(dtype):
    """The rational kernel computes a phase's last slots four, three or two together, or alone
    (_slot_group_tail): every count of slots gives each the bits it has computed alone."""
    from noisegen._kernels.cpu import resample as kernels

    rng = np.random.default_rng(21)
    x = rng.standard_normal(4000).astype(dtype)
    row = rng.standard_normal(136).astype(dtype)
    jump, spacing = 88, 3
    alone = np.empty(40, dtype)
    for w in range(11):
        kernels._slot_group_tail(x, 5 + w * jump, jump, 1, row, alone, w * spacing, spacing)
    for count in range(1, 12):
        out = np.full(40, np.nan, dtype)
        total = kernels._slot_group_tail(x, 5, jump, count, row, out, 0, spacing)
        slots = np.arange(count) * spacing
        assert np.array_equal(out[slots], alone[slots]), count
        assert np.isnan(np.delete(out, slots)).all() and math.isfinite(total)


@pytest.mark.parametrize("target", [16000, 8000])
def test_repr_counts_the_samples_in(target):
    # at equal rates the stream passes chunks through and its repr said samples_in=0 throughout
    r = Resampler(orig_sample_rate=16000, target_sample_rate=target)
    r.process(np.zeros(300))
    r.process(np.zeros(45))
    assert repr(r) == f"Resampler(orig_sample_rate=16000, target_sample_rate={target}, samples_in=345)"
    r.flush()
    assert repr(r).endswith("samples_in=0)")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exact_ratio_plans_kept_are_bounded_in_bytes(monkeypatch, dtype):
    # Exact-ratio plans were kept by count (128, and their tables by count again in kaiser_table's
    # 160): a plan holds `up` rows, twice, so a Resample drawing rates from 8-48 kHz at 48 kHz kept
    # up to ~0.85 GB (odd rates: 100 MB a plan), and equiripple tables by count (16) likewise. Shrunk
    # here, the tables still alive after many ratios (up, down, odd, even, equiripple or Kaiser) stay
    # within the bound.
    import gc
    import weakref

    from noisegen._core.lru import BytesCache
    from noisegen._design import resample as design

    bound = 1 << 20
    monkeypatch.setattr(design, "_RATIONAL_PLANS", BytesCache(bound), raising=False)
    y = np.random.default_rng(3).standard_normal(3001).astype(dtype)
    alive = []
    for up in range(1000, 1024):
        ratios = [Fraction(up, up + 1 + up // 3), Fraction(up, up - 37)]
        ratios += [Fraction(up, 2 * up + 1)] if up % 8 == 1 else []  # equiripple designs (r <= 0.6)
        for ratio in ratios:
            out = resample(y, orig_sample_rate=ratio.denominator * 8, target_sample_rate=ratio.numerator * 8)
            assert out.dtype == dtype and out.shape[-1] == -(-3001 * ratio.numerator // ratio.denominator)
            plan = design.cached_plan(ratio, np.dtype(dtype).char)
            alive += [weakref.ref(a) for a in (plan.table, plan.padded)]
            del plan
    gc.collect()
    assert sum(a().nbytes for a in alive if a() is not None) <= bound


@pytest.mark.parametrize("orig, target", [(768000, 8008), (384000, 4004), (192000, 8008), (768000, 10010)])
def test_large_downsampling_by_many_phases_keeps_its_table_small(orig, target):
    # 768 kHz -> 8,008 Hz is 1001 / 96000: one exact row per phase held 1001 rows of 10,304 taps (82 MB in
    # float32, twice; 0.5 GB while designing, 7-14 s for 10 samples, and as much on disk per ratio). Such a
    # ratio uses the interpolated table (257 rows), with the same pass band, stop band and streaming.
    from noisegen._design.resample import cached_plan

    plan = cached_plan(Fraction(target, orig), "f")
    assert plan.nbytes <= 16 << 20, plan.nbytes
    n = orig // 20
    for f, ok in ((1000.0, lambda db: abs(db) < 0.02), (0.9 * target / 2, lambda db: abs(db) < 0.02),
                  (1.01 * target / 2, lambda db: db < -80), (0.3 * orig, lambda db: db < -80)):
        out = resample(tone(f, orig, seconds=n / orig, dtype=np.float32), orig_sample_rate=orig,
                       target_sample_rate=target)
        assert out.dtype == np.float32 and out.shape == (-(-n * target // orig),)
        assert ok(level_db(out)), (f, level_db(out))
    x = np.random.default_rng(7).standard_normal((2, 20000)).astype(np.float32)
    r = Resampler(orig_sample_rate=orig, target_sample_rate=target)
    parts = [r.process(x[:, :1]), r.process(x[:, 1:9999]), r.process(x[:, 9999:]), r.flush()]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1),
                                  resample(x, orig_sample_rate=orig, target_sample_rate=target))
    # common rates keep one exact row per phase (22.05 -> 16 kHz: 320 rows; 11.025 -> 16 kHz: 640)
    assert cached_plan(Fraction(16000, 22050), "f").rational and cached_plan(Fraction(16000, 11025), "f").rational
