"""The Vorbis inverse MDCT, by a complex FFT of a quarter of the block, and its power-sine window.

For a block of ``N`` samples and ``M = N / 2`` coefficients, the IMDCT is
``y[n] = sum_k X[k] cos(pi / M (n + 1/2 + M/2) (k + 1/2))``, which is the
DCT-IV ``u`` of ``X`` read at ``n + M/2`` with its symmetries
(``u[2M - 1 - m] = -u[m]``, ``u[m + 2M] = -u[m]``):

    y[n] = u[n + M/2]          n <  M/2
    y[n] = -u[3M/2 - 1 - n]    M/2 <= n < 3M/2
    y[n] = -u[n - 3M/2]        n >= 3M/2

and the DCT-IV of size ``M`` is one complex FFT of size ``M / 2``: with
``z[m] = (X[2m] + i X[M - 1 - 2m]) e^{-i pi (m + 1/8) / M}`` and
``C = e^{-i pi (p + 1/8) / M} FFT(z)[p]``, ``u[2p] = Re C[p]`` and
``u[M - 1 - 2p] = -Im C[p]``. The FFT is radix-2, decimation in time, its
input written in bit-reversed order by the pre-twiddle.
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import kernel


def mdct_tables(n: int):
    """``(twiddle re, twiddle im, fft re, fft im, bit reversal, window)`` for blocks of ``n`` samples."""
    m = n // 2
    q = n // 4
    k = np.arange(q)
    tw = np.exp(-1j * np.pi * (k + 0.125) / m)
    j = np.arange(max(q // 2, 1))
    w = np.exp(-2j * np.pi * j / q)
    bits = q.bit_length() - 1
    rev = np.zeros(q, np.int64)
    for i in range(q):
        rev[i] = int(format(i, f"0{bits}b")[::-1], 2) if bits else 0
    x = (np.arange(m) + 0.5) / m * (np.pi / 2)
    window = np.sin(np.pi / 2 * np.sin(x) ** 2).astype(np.float32)  # the rising half, m samples
    return (tw.real.astype(np.float32), tw.imag.astype(np.float32), w.real.astype(np.float32),
            w.imag.astype(np.float32), rev, window)


@kernel
def dct4(x, m, t, re, im, u):
    """``u[:m]`` = the DCT-IV of ``x[:m]`` (``t``: :func:`mdct_tables` of blocks of ``2 m``)."""
    twr, twi, wr, wi, rev = t[0], t[1], t[2], t[3], t[4]
    q = m >> 1
    for k in range(q):
        a = x[2 * k]
        b = x[m - 1 - 2 * k]
        r = rev[k]
        re[r] = a * twr[k] - b * twi[k]
        im[r] = a * twi[k] + b * twr[k]
    size = 2
    while size <= q:
        half = size >> 1
        step = q // size
        for start in range(0, q, size):
            for j in range(half):
                cr = wr[j * step]
                ci = wi[j * step]
                p = start + j
                s = p + half
                tr = re[s] * cr - im[s] * ci
                ti = re[s] * ci + im[s] * cr
                re[s] = re[p] - tr
                im[s] = im[p] - ti
                re[p] += tr
                im[p] += ti
        size <<= 1
    for p in range(q):
        cr = re[p] * twr[p] - im[p] * twi[p]
        ci = re[p] * twi[p] + im[p] * twr[p]
        u[2 * p] = cr
        u[m - 1 - 2 * p] = -ci
