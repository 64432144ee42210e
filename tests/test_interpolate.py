"""The 2x interpolator: its equiripple design, the folded kernel against float64, streaming, overflow, images."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from noisegen import Resampler, resample
from noisegen._design.resample import Plan, design_filter
from noisegen._kernels.cpu import decimate as dec

TWO = Fraction(2)


def _reference(x, plan):
    """Float64 upsampling by 2 with the plan's rows: ``y[2 i + p] = sum_j row_p[j] x[i + 1 - half + j]``."""
    half, n = plan.half, x.shape[-1]
    rows = x.reshape(math.prod(x.shape[:-1]), n).astype(np.float64)
    out = np.zeros((rows.shape[0], 2 * n))
    for p in (0, 1):
        h = plan.table[p, : 2 * half].astype(np.float64)
        for r, row in enumerate(rows):
            if n:
                out[r, p::2] = np.convolve(row, h[::-1])[half : half + n]
    return out.reshape(x.shape[:-1] + (2 * n,))


def _lengths_near_blocks(dtype):
    """Input lengths around the kernel's groups (8 vectors of instants) and staged blocks."""
    group = dec.VECTORS * dec.VECTOR_BYTES // np.dtype(dtype).itemsize
    block = dec.BLOCK_INPUTS // group * group
    sizes = [1, group - 1, group, group + 1, 2 * group + 3, block - 1, block, block + 1, 2 * block + group - 1]
    return sorted({0, 1, 2, 3} | {m + e for m in sizes for e in (-1, 0, 1) if m + e > 0})


def test_design_is_equiripple_symmetric_and_shorter_than_the_kaiser_sinc():
    """The prototype (the two rows interleaved) keeps the pass band (to 0.9 of the input Nyquist
    frequency) within 1.5e-3 and everything from the input Nyquist frequency on 84 dB down, with
    fewer taps a side than the Kaiser sinc of the same edges; both rows are exactly symmetric
    (the kernel folds them) and each has unit DC gain to the ripple."""
    for dtype in (np.float32, np.float64):
        plan = Plan(TWO, dtype)
        half, table = plan.half, plan.table.astype(np.float64)
        assert plan.fold_up is not None and half < design_filter(2.0).half
        even, odd = table[0, : 2 * half - 1], table[1, : 2 * half]
        assert np.array_equal(even, even[::-1]) and np.array_equal(odd, odd[::-1])
        assert not np.any(table[0, 2 * half - 1 :]) and not np.any(table[1, 2 * half :])
        np.testing.assert_allclose(table.sum(axis=1), 1.0, atol=1.5e-3)
    proto = np.zeros(4 * half - 1)
    proto[0::2], proto[1::2] = odd, even  # output-rate taps, in time order
    f = np.fft.rfftfreq(1 << 16) * 2  # units of the input rate
    mag = np.abs(np.fft.rfft(proto, 1 << 16)) / 2
    assert np.max(np.abs(mag[f <= 0.45] - 1.0)) <= 1.5e-3
    assert 20 * np.log10(np.max(mag[f >= 0.5])) <= -84.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 2, 3])
def test_matches_float64_convolution(dtype, channels):
    """Upsampling by 2 (the folded kernel) equals a float64 convolution with the same rows, to
    rounding, for lengths around every group and block boundary, 1 to 3 channels."""
    plan = Plan(TWO, dtype)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    rng = np.random.default_rng(3)
    for n in _lengths_near_blocks(dtype):
        x = rng.standard_normal((n,) if channels is None else (channels, n)).astype(dtype)
        out = resample(x, orig_sample_rate=8000, target_sample_rate=16000)
        assert out.dtype == dtype and out.shape == x.shape[:-1] + (2 * n,)
        np.testing.assert_allclose(out, _reference(x, plan), rtol=0, atol=tol, err_msg=f"n={n}")


def _streamed(x, cuts):
    r = Resampler(orig_sample_rate=8000, target_sample_rate=16000)
    bounds = [0, *cuts, x.shape[-1]]
    parts = [r.process(x[..., a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return np.concatenate(parts + [r.flush()], axis=-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 2])
def test_streams_bit_for_bit_at_every_split(dtype, channels):
    """The streaming interpolator equals the one-shot one bit for bit wherever the input is cut in
    two (every split of a few groups), and at three-way splits around a staged block."""
    rng = np.random.default_rng(4)
    n = 3 * 64 + 5
    x = rng.standard_normal((n,) if channels is None else (channels, n)).astype(dtype)
    whole = resample(x, orig_sample_rate=8000, target_sample_rate=16000)
    for cut in range(n + 1):
        np.testing.assert_array_equal(_streamed(x, [cut]), whole, err_msg=f"cut={cut}")
    block = dec.BLOCK_INPUTS
    n = 2 * block + 77
    x = rng.standard_normal((n,) if channels is None else (channels, n)).astype(dtype)
    whole = resample(x, orig_sample_rate=8000, target_sample_rate=16000)
    for a in range(block - 9, block + 10, 3):
        np.testing.assert_array_equal(_streamed(x, [a, a + block // 2 + 1]), whole, err_msg=f"a={a}")


def test_overflowed_pairs_fall_back():
    """Near float32's largest value a pair sum overflows though the output fits: those outputs are
    recomputed plainly (finite, equal to float64 to rounding), one-shot and streamed alike."""
    t = (np.arange(6000) + 0.5) / 8000
    square = np.sign(np.sin(2 * np.pi * 97.0 * t))
    x = np.stack([square, -square]) * 2.0**127  # pairs of equal signs: 2**128 overflows float32
    x32 = x.astype(np.float32)
    ref = _reference(x, Plan(TWO, np.float32))
    assert np.max(np.abs(ref)) < np.finfo(np.float32).max
    out = resample(x32, orig_sample_rate=8000, target_sample_rate=16000)
    np.testing.assert_allclose(out / 2.0**127, ref / 2.0**127, rtol=0, atol=1e-5)
    for cut in (1, 999, 3001):
        np.testing.assert_array_equal(_streamed(x32, [cut]), out)


@pytest.mark.parametrize("frac", [0.05, 0.5, 0.85, 0.9])
def test_images_rejected_80_db(frac):
    """A tone at ``f`` in the pass band comes out at its level with its image at ``fs - f`` (the
    zero-stuffing image) more than 80 dB down."""
    f = frac * 4000
    t = np.arange(8000) / 8000
    out = resample(np.sin(2 * np.pi * f * t), orig_sample_rate=8000, target_sample_rate=16000)
    mid = slice(len(out) // 4, 3 * len(out) // 4)
    u = np.arange(len(out))[mid] / 16000

    def amplitude(freq):
        return 2 * abs(np.mean(out[mid] * np.exp(-2j * np.pi * freq * u)))

    assert abs(20 * np.log10(amplitude(f))) < 0.02
    assert 20 * np.log10(amplitude(8000 - f) + 1e-30) < -80


def test_kaiser_fallback_folds_too(monkeypatch):
    """Should the equiripple design fail, the Kaiser sinc's rows are symmetric as well: the plan
    still folds them, and its outputs equal a float64 convolution with them."""
    from noisegen._design import resample as design

    monkeypatch.setattr(design, "interpolation_design", lambda dtype_char: None)
    plan = Plan(TWO, np.float64)
    assert plan.fold_up is not None and plan.half == design_filter(2.0).half
    x = np.random.default_rng(5).standard_normal((2, 1000))
    out = np.empty((2, 2000))
    plan.run(x, 0, 0, out)
    np.testing.assert_allclose(out, _reference(x, plan), rtol=0, atol=1e-12)
