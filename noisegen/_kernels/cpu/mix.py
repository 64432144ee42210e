"""Mixing kernels: power sums and the fused crop-with-wrap-around + scale + add.

Noise is read from row ``noise[c if noise.shape[0] > 1 else 0]`` starting at
``offset`` and wrapping around at its end, so a short noise is tiled without
ever building the tiled copy. Loops run over contiguous runs between wrap
points, which lets LLVM vectorise them.

Sums of squares run four independent vector accumulators (explicit vectors,
in the input's dtype, from :func:`~noisegen._kernels.cpu._simd.dot_products`)
whose lane sums are combined in a fixed tree and added to a float64 total
every :data:`CHAIN` samples; the last few samples are summed in float64 in a fixed
order (:func:`_tail_squares`, compiled without fast-math flags). The
order of every addition is fixed by the run's length alone, so a sum has the
same bits at any memory alignment. A float32 partial sum holds 16 products
per lane (relative error ~1e-7, below the input's own rounding); when a
float32 total comes out
non-finite or below :data:`TINY` (where squares overflow or underflow
float32) it is summed again wholly in float64, so no finite input is called
too loud and no quiet one silent.
"""

from __future__ import annotations

import math

import numpy as np

from ..._core.jit import exact_kernel, kernel
from ..snr import noise_scale
from ._simd import dot_products

#: Samples of one accumulator chain between float64 additions.
CHAIN = 128
#: Float32 totals below this are summed again in float64 (squares below ~1e-38 lose bits in float32).
TINY = 1e-25
#: float32's normal range (smallest normal, largest finite): a scale in it keeps all its bits in float32.
NORMAL32 = (1.1754943508222875e-38, 3.4028234663852886e38)


@kernel
def _run_sum_squares(v, a, n, chain, exact):
    """Sum of ``v[a:a + n] ** 2`` in float64 (module notes); ``chain``: a multiple of 8.

    Four vector chains, each over its own quarter of the run (four streams
    from memory at once, which hides more of the latency of a crop fetched
    from a large noise bank than four neighbouring chains), adding their lane
    sums to the float64 total every ``chain`` samples; the last
    ``< 4 * chain`` samples, or everything when ``exact`` (or ``v`` is
    strided), in float64.
    """
    quarter = 0 if exact or v.strides[0] != v.itemsize else n // (4 * chain) * chain
    total = 0.0
    for p in range(a, a + quarter, chain):
        q = (p, p + quarter, p + 2 * quarter, p + 3 * quarter)
        s = dot_products(v, q, v, q, chain)
        total += (np.float64(s[0]) + np.float64(s[1])) + (np.float64(s[2]) + np.float64(s[3]))
    return total + _tail_squares(v, a + 4 * quarter, a + n)


@exact_kernel
def _tail_squares(v, a, b):
    """Sum of ``v[a:b] ** 2`` in float64 in one fixed order: four accumulators over the
    indices mod 4, then ``(t0 + t1) + (t2 + t3)``. Exact arithmetic (no fast-math flags): with
    ``reassoc`` LLVM vectorised this loop differently where it was inlined (numba 0.59: the
    float64 recounts of :func:`sum_squares` and :func:`crop_powers` differed in the last bit)."""
    t0, t1, t2, t3 = 0.0, 0.0, 0.0, 0.0
    i = a
    while i + 4 <= b:
        # np.float64(v[i]): as plain Python (NUMBA_DISABLE_JIT=1) 1.0 * v[i] stays a NumPy float32
        # (NumPy 2), whose squares of 1e-30 underflow to 0; float() keeps float32 in Numba
        x0, x1, x2, x3 = np.float64(v[i]), np.float64(v[i + 1]), np.float64(v[i + 2]), np.float64(v[i + 3])
        t0 += x0 * x0
        t1 += x1 * x1
        t2 += x2 * x2
        t3 += x3 * x3
        i += 4
    for j in range(i, b):
        x = np.float64(v[j])
        t0 += x * x
    return (t0 + t1) + (t2 + t3)


@kernel
def _pair_sum_squares(s, noise, b, n):
    """``(_run_sum_squares(s, 0, n, CHAIN, False), _run_sum_squares(noise, b, n, CHAIN, False))`` for
    contiguous ``s`` and ``noise``, with the same additions in the same order (the same bits), in
    one pass: eight streams from memory at once instead of four, which hides more of the latency
    of a crop fetched from a large noise bank (~15 % off the powers of a 4 s mix)."""
    quarter = n // (4 * CHAIN) * CHAIN
    ts, tn = 0.0, 0.0
    for p in range(0, quarter, CHAIN):
        q = (p, p + quarter, p + 2 * quarter, p + 3 * quarter)
        r = (b + p, b + p + quarter, b + p + 2 * quarter, b + p + 3 * quarter)
        u = dot_products(s, q, s, q, CHAIN)
        v = dot_products(noise, r, noise, r, CHAIN)
        ts += (np.float64(u[0]) + np.float64(u[1])) + (np.float64(u[2]) + np.float64(u[3]))
        tn += (np.float64(v[0]) + np.float64(v[1])) + (np.float64(v[2]) + np.float64(v[3]))
    return ts + _tail_squares(s, 4 * quarter, n), tn + _tail_squares(noise, b + 4 * quarter, b + n)


@kernel
def _trusted(total):
    """A block total needs no float64 recount: finite and not where float32 squares underflow."""
    return math.isfinite(total) and total >= TINY


@kernel
def _rows_sum_squares(x, exact):
    total = 0.0
    for c in range(x.shape[0]):
        total += _run_sum_squares(x[c], 0, x.shape[1], CHAIN, exact)
    return total


@kernel
def _wrapped_rows(noise, offset, n, exact):
    m = noise.shape[1]
    total = 0.0
    for c in range(noise.shape[0]):
        row = noise[c]
        j = offset
        left = n
        while left > 0:
            run = min(left, m - j)
            total += _run_sum_squares(row, j, run, CHAIN, exact)
            left -= run
            j = 0
    return total


@kernel
def sum_squares(x):
    """Sum of ``x**2`` over a 2-D array, in float64 (module notes: blocks, exact recount)."""
    total = _rows_sum_squares(x, False)
    if not _trusted(total):
        total = _rows_sum_squares(x, True)
    return total


@kernel
def wrapped_sum_squares(noise, offset, n):
    """Sum of squares of the ``n`` samples of every row from ``offset`` with wrap-around."""
    total = _wrapped_rows(noise, offset, n, False)
    if not _trusted(total):
        total = _wrapped_rows(noise, offset, n, True)
    return total


@kernel
def _contiguous_rows(a, b):
    """Whether the rows of the 2-D ``a`` and ``b`` are contiguous."""
    return a.strides[1] == a.itemsize and b.strides[1] == b.itemsize


@kernel
def crop_powers(signal, noise, offset):
    """``(sum_squares(signal), wrapped_sum_squares(noise, offset, n))``: both of a mix's sums, one call
    (one pass over both for a mono signal and a crop that does not wrap: :func:`_pair_sum_squares`)."""
    n = signal.shape[1]
    if signal.shape[0] != 1 or noise.shape[0] != 1 or offset + n > noise.shape[1] or not _contiguous_rows(signal, noise):
        return sum_squares(signal), wrapped_sum_squares(noise, offset, n)
    signal_total, noise_total = _pair_sum_squares(signal[0], noise[0], offset, n)
    if not _trusted(signal_total):
        signal_total = _rows_sum_squares(signal, True)
    if not _trusted(noise_total):
        noise_total = _wrapped_rows(noise, offset, n, True)
    return signal_total, noise_total


@kernel
def mix_at_ratio(signal, noise, offset, ratio, out):
    """Mix at a power ratio in one call: :func:`crop_powers`, then, when both sums are finite
    and non-zero, ``out = signal + g * crop`` with ``g = sqrt(P_signal / (P_noise * ratio))``
    (mean powers; ``ratio = 10 ** (snr_db / 10)``). Returns ``(signal sum, noise sum, g)``,
    ``g = 0`` with ``out`` untouched when the sums allow no mix (the caller sorts out why)."""
    n = signal.shape[1]
    signal_total, noise_total = crop_powers(signal, noise, offset)
    ok = math.isfinite(signal_total) and math.isfinite(noise_total) and signal_total > 0.0 and noise_total > 0.0
    g = 0.0
    if ok:
        g = noise_scale(signal_total / signal.size, noise_total / (n * noise.shape[0]), ratio)
    if g > 0.0:
        mix_wrapped(signal, noise, offset, g, out)
    return signal_total, noise_total, g


@kernel
def mix_at_ratio_1d(signal, noise, offset, ratio, out):
    """:func:`mix_at_ratio` on 1-D ``signal``, ``noise`` and ``out`` (C-contiguous): saves the
    caller the 2-D views (part of the fixed cost of a short mix)."""
    return mix_at_ratio(signal[None, :], noise[None, :], offset, ratio, out[None, :])


@kernel
def _axpy(out, s, noise, scale):
    """out[k] = s[k] + scale * noise[k] over equal-length 1-D views (vectorised)."""
    for k in range(out.shape[0]):
        out[k] = s[k] + scale * noise[k]


@kernel
def mix_wrapped(signal, noise, offset, scale, out):
    """``out[c, i] = signal[c, i] + scale * noise[c', (offset + i) % m]`` (``out`` may be ``signal``)."""
    m = noise.shape[1]
    n = signal.shape[1]
    g = out.dtype.type(scale)  # float32 audio mixes in float32, as numpy's float32 crop-and-scale
    # A scale outside float32's normal range, in float64, rounded once: past it (a subnormal noise) g is
    # inf; below it (a noise ~1e38 times the signal, or a float64 one louder still) g keeps few bits or
    # is 0, and the signal came back with the noise off its SNR or with none at all.
    wide = not NORMAL32[0] <= abs(g) <= NORMAL32[1]
    for c in range(signal.shape[0]):
        s = signal[c]
        nz = noise[c if noise.shape[0] > 1 else 0]
        o = out[c]
        j = offset
        i0 = 0
        while i0 < n:
            run = min(n - i0, m - j)
            if wide:
                _axpy(o[i0:i0 + run], s[i0:i0 + run], nz[j:j + run], scale)
            else:
                _axpy(o[i0:i0 + run], s[i0:i0 + run], nz[j:j + run], g)
            i0 += run
            j = 0


@kernel
def add_wrapped(out, noise, offset, start, scale, fade_in, fade_out):
    """Add ``scale * noise`` (wrapped from ``offset``) into ``out[:, start:start + length]``.

    ``length = min(noise length, out length - start)``; the first ``fade_in``
    and last ``fade_out`` samples of the whole ``m``-sample sound are ramped
    with a raised cosine, so a sound cut by the end of ``out`` keeps its own
    fade-in and has no fade-out at the cut (a recording of a longer event).
    Returns nothing; ``out`` is updated in place.
    """
    m = noise.shape[1]
    length = min(m, out.shape[1] - start)
    fi = min(fade_in, m)
    fo = min(fade_out, m)
    for c in range(out.shape[0]):
        nz = noise[c if noise.shape[0] > 1 else 0]
        o = out[c]
        j = offset
        for k in range(length):
            w = scale
            if k < fi:
                w *= 0.5 - 0.5 * math.cos(math.pi * (k + 0.5) / fi)
            if k >= m - fo:
                w *= 0.5 - 0.5 * math.cos(math.pi * (m - k - 0.5) / fo)
            o[start + k] += w * nz[j]
            j += 1
            if j == m:
                j = 0


@kernel
def add_sounds(out, noise, starts, scales, fade_ins, fade_outs):
    """:func:`add_wrapped` of ``noise`` (from offset 0) at each of ``starts``, one call for all
    the times a sound is placed (a Python call each cost more than the adding of a short sound)."""
    for e in range(starts.shape[0]):
        add_wrapped(out, noise, 0, starts[e], scales[e], fade_ins[e], fade_outs[e])


@kernel
def _frame_sums(x, frame, out, exact):
    n = x.shape[1]
    chain = max(8, frame // 32 * 8)  # one block of four chains per frame (20 ms at 16 kHz: 4 x 80)
    total = 0.0
    for f in range(out.shape[0]):
        a = f * frame
        b = min(a + frame, n)
        acc = 0.0
        for c in range(x.shape[0]):
            acc += _run_sum_squares(x[c], a, b - a, chain, exact)
        out[f] = acc / ((b - a) * x.shape[0])
        total += acc
    return total


@kernel
def frame_energies(x, frame, out):
    """Mean square of each ``frame``-sample block (over all rows; the last block may be short)
    into ``out``; returns the sum of squares of all of ``x`` (the frames' sums)."""
    total = _frame_sums(x, frame, out, False)
    if not _trusted(total):
        total = _frame_sums(x, frame, out, True)
    return total
