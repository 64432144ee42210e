"""Mixing kernels: power sums and the fused crop-with-wrap-around + scale + add.

Noise is read from row ``noise[c if noise.shape[0] > 1 else 0]`` starting at
``offset`` and wrapping around at its end, so a short noise is tiled without
ever building the tiled copy. Loops run over contiguous runs between wrap
points, which lets LLVM vectorise them.
"""

from __future__ import annotations

import math

from ..._core.jit import kernel


@kernel
def _sum_squares_1d(v):
    acc = 0.0
    for i in range(v.shape[0]):
        x = 1.0 * v[i]
        acc += x * x
    return acc


@kernel
def _axpy(out, s, noise, scale):
    """out[k] = s[k] + scale * noise[k] over equal-length 1-D views (vectorised)."""
    for k in range(out.shape[0]):
        out[k] = s[k] + scale * noise[k]


@kernel
def sum_squares(x):
    """Sum of ``x**2`` over a 2-D array, in float64."""
    acc = 0.0
    for c in range(x.shape[0]):
        acc += _sum_squares_1d(x[c])
    return acc


@kernel
def wrapped_sum_squares(noise, offset, n):
    """Sum of squares of the ``n`` samples of every row from ``offset`` with wrap-around."""
    m = noise.shape[1]
    acc = 0.0
    for c in range(noise.shape[0]):
        row = noise[c]
        j = offset
        left = n
        while left > 0:
            run = min(left, m - j)
            acc += _sum_squares_1d(row[j:j + run])
            left -= run
            j = 0
    return acc


@kernel
def mix_wrapped(signal, noise, offset, scale, out):
    """``out[c, i] = signal[c, i] + scale * noise[c', (offset + i) % m]`` (``out`` may be ``signal``)."""
    m = noise.shape[1]
    n = signal.shape[1]
    for c in range(signal.shape[0]):
        s = signal[c]
        nz = noise[c if noise.shape[0] > 1 else 0]
        o = out[c]
        j = offset
        i0 = 0
        while i0 < n:
            run = min(n - i0, m - j)
            _axpy(o[i0:i0 + run], s[i0:i0 + run], nz[j:j + run], scale)
            i0 += run
            j = 0


@kernel
def add_wrapped(out, noise, offset, start, scale, fade_in, fade_out):
    """Add ``scale * noise`` (wrapped from ``offset``) into ``out[:, start:start + length]``.

    ``length = min(noise length, out length - start)``; the first ``fade_in``
    and last ``fade_out`` samples of the added sound are ramped with a raised
    cosine. Returns nothing; ``out`` is updated in place.
    """
    m = noise.shape[1]
    length = min(m, out.shape[1] - start)
    fi = min(fade_in, length)
    fo = min(fade_out, length)
    for c in range(out.shape[0]):
        nz = noise[c if noise.shape[0] > 1 else 0]
        o = out[c]
        j = offset
        for k in range(length):
            w = scale
            if k < fi:
                w *= 0.5 - 0.5 * math.cos(math.pi * (k + 0.5) / fi)
            if k >= length - fo:
                w *= 0.5 - 0.5 * math.cos(math.pi * (length - k - 0.5) / fo)
            o[start + k] += w * nz[j]
            j += 1
            if j == m:
                j = 0


@kernel
def frame_energies(x, frame, out):
    """Mean square of each ``frame``-sample block (over all rows); the last block may be short."""
    n = x.shape[1]
    n_frames = out.shape[0]
    for f in range(n_frames):
        a = f * frame
        b = min(a + frame, n)
        acc = 0.0
        for c in range(x.shape[0]):
            row = x[c]
            for i in range(a, b):
                v = 1.0 * row[i]
                acc += v * v
        out[f] = acc / ((b - a) * x.shape[0])
