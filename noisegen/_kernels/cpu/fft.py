"""Real FFTs of even lengths by the four-step method, with batched Stockham passes.

A real transform of ``N = 2 M`` points is the ``M``-point complex transform
of ``z[n] = x[2n] + i x[2n+1]``, untangled (:func:`rfft_rows`); the inverse
tangles the spectrum into ``M`` complex points and transforms them back
(:func:`irfft_rows`). The complex transform of ``M = M1 M2`` points views
``z`` as ``(M1, M2)`` (``n = n1 M2 + n2``):

1. ``M2`` transforms of ``M1`` points down the columns,
2. each output times ``w_M^(k1 n2)`` (``w_M = exp(-2 pi i / M)``), written
   transposed to ``(M2, M1)``,
3. ``M1`` transforms of ``M2`` points down the columns,

and the result comes out in natural order (``k = k1 + M1 k2`` at row ``k2``,
column ``k1``). The column transforms run over slices of ``S1`` (``S2``)
columns at a time, so that a slice and its scratch stay in the L2 cache:
Stockham passes of radix 8, 4, 2, 3 and 5 whose inner loop runs along a row
of the slice, contiguous, so that it is vectorised across columns instead of
along one transform. Every radix is an explicit-SIMD butterfly
(:func:`._fft_simd.butterfly`, one vector of columns a call): LLVM's vectoriser
left a radix-8 loop over row views scalar (16 load and 16 store streams: its
runtime alias checks give up), and its radix-3, 4 and 5 loops were 1.2-1.5x
slower. The first pass reads the columns where they
lie, the last writes them back. Step 2 is one explicit-SIMD tile
transposition (:func:`._fft_simd.twiddle_transpose`).

Real and imaginary parts are kept in separate arrays ("split" format). The
plan (:mod:`noisegen.effects.spectra`) hands the kernels ``fac`` (``M1``,
``M2``, ``S1``, ``S2``, then each one's radices, each list led by its count)
and ``tab``, the twiddles in the data's dtype, laid end to end: ``w_M1^j``
(real parts, then imaginary), ``w_M2^j``, ``w_M^(k1 n2)`` as ``(M2, M1)``,
and ``w_N^k`` for ``k < M``. ``M1``, ``M2`` and the slice widths are
multiples of 8 (whole tiles).
"""

from __future__ import annotations


from ..._core.jit import kernel
from ._fft_simd import butterfly, reversed_vector, twiddle_transpose
from ._simd import VECTOR_BYTES

#: Floats of padding after each row of the scratch arrays: rows a power of two apart would
#: otherwise share a set of the cache (a radix-4 pass reads four rows and writes four).
PAD = 16


# A pass of radix r over ``L`` rows (``q = L / r``; ``ns``: the product of the earlier radices):
# input rows ``j + t q`` (``t < r``), times ``w_L^(t k L / (r ns))`` (``k = j mod ns``), go through an
# ``r``-point DFT into output rows ``(j // ns) r ns + k + t ns``. A row ``i`` of the input is
# ``sr[so + i ss : ... + w]``, of the output ``dr[do + i ds : ... + w]``: the first pass reads the
# data's columns where they lie, the last writes them back there, the others stay in scratch.


@kernel
def _radix2(sr, si, so, ss, dr, di, do, ds, wr, wi, ns, w):
    q = wr.shape[0] // 2
    st = q // ns
    lanes = VECTOR_BYTES // sr.itemsize
    for j in range(q):
        k = j % ns
        o0 = do + ((j // ns) * ns * 2 + k) * ds
        i0 = so + j * ss
        for b in range(0, w, lanes):
            butterfly(2, sr, si, i0 + b, q * ss, dr, di, o0 + b, ns * ds, wr, wi, k * st, q)


@kernel
def _radix3(sr, si, so, ss, dr, di, do, ds, wr, wi, ns, w):
    q = wr.shape[0] // 3
    st = q // ns
    lanes = VECTOR_BYTES // sr.itemsize
    for j in range(q):
        k = j % ns
        o0 = do + ((j // ns) * ns * 3 + k) * ds
        i0 = so + j * ss
        for b in range(0, w, lanes):
            butterfly(3, sr, si, i0 + b, q * ss, dr, di, o0 + b, ns * ds, wr, wi, k * st, q)


@kernel
def _radix4(sr, si, so, ss, dr, di, do, ds, wr, wi, ns, w):
    q = wr.shape[0] // 4
    st = q // ns
    lanes = VECTOR_BYTES // sr.itemsize
    for j in range(q):
        k = j % ns
        o0 = do + ((j // ns) * ns * 4 + k) * ds
        i0 = so + j * ss
        for b in range(0, w, lanes):
            butterfly(4, sr, si, i0 + b, q * ss, dr, di, o0 + b, ns * ds, wr, wi, k * st, q)


@kernel
def _radix5(sr, si, so, ss, dr, di, do, ds, wr, wi, ns, w):
    q = wr.shape[0] // 5
    st = q // ns
    lanes = VECTOR_BYTES // sr.itemsize
    for j in range(q):
        k = j % ns
        o0 = do + ((j // ns) * ns * 5 + k) * ds
        i0 = so + j * ss
        for b in range(0, w, lanes):
            butterfly(5, sr, si, i0 + b, q * ss, dr, di, o0 + b, ns * ds, wr, wi, k * st, q)


@kernel
def _radix8(sr, si, so, ss, dr, di, do, ds, wr, wi, ns, w):
    q = wr.shape[0] // 8
    st = q // ns
    lanes = VECTOR_BYTES // sr.itemsize
    for j in range(q):
        k = j % ns
        o0 = do + ((j // ns) * ns * 8 + k) * ds
        i0 = so + j * ss
        for b in range(0, w, lanes):
            butterfly(8, sr, si, i0 + b, q * ss, dr, di, o0 + b, ns * ds, wr, wi, k * st, q)


@kernel
def _columns(sr, si, so, ss, dr, di, do, ds, ar, ai, br, bi, bs, wr, wi, fac, f0, w):
    """The ``L``-point transforms (``L = len(wr)``, radices ``fac[f0 + 1 : f0 + 1 + fac[f0]]``) of
    ``w`` columns: rows ``sr[so + i ss : ... + w]`` in, ``dr[do + i ds : ... + w]`` out (``sr`` kept),
    ``(ar, ai)`` and ``(br, bi)`` scratch of row stride ``bs``."""
    n = fac[f0]
    ns = 1
    xr, xi, xo, xs = sr, si, so, ss
    for s in range(n):
        r = fac[f0 + 1 + s]
        if s == n - 1:
            yr, yi, yo, ys = dr, di, do, ds
        elif s % 2 == 0:
            yr, yi, yo, ys = ar, ai, 0, bs
        else:
            yr, yi, yo, ys = br, bi, 0, bs
        if r == 4:
            _radix4(xr, xi, xo, xs, yr, yi, yo, ys, wr, wi, ns, w)
        elif r == 8:
            _radix8(xr, xi, xo, xs, yr, yi, yo, ys, wr, wi, ns, w)
        elif r == 2:
            _radix2(xr, xi, xo, xs, yr, yi, yo, ys, wr, wi, ns, w)
        elif r == 3:
            _radix3(xr, xi, xo, xs, yr, yi, yo, ys, wr, wi, ns, w)
        else:
            _radix5(xr, xi, xo, xs, yr, yi, yo, ys, wr, wi, ns, w)
        xr, xi, xo, xs = yr, yi, yo, ys
        ns *= r


@kernel
def _complex_fft(yr, yi, zr, zi, fac, tab, ar, ai, br, bi, cr, ci):
    """The ``M``-point transform of ``(yr, yi)`` (``(M1, M2)`` on entry: ``M1`` rows), in place,
    natural order (read as ``(M2, M1)`` on return). Scratch: ``(zr, zi)`` ``M2 (M1 + PAD)`` points,
    ``ar .. ci`` ``max(M1, M2) (max(S1, S2) + PAD)`` each (``S``: the slice widths)."""
    m1, m2 = fac[0], fac[1]
    f2 = 5 + fac[4]
    w1r, w1i = tab[:m1], tab[m1:2 * m1]
    o = 2 * m1
    w2r, w2i = tab[o:o + m2], tab[o + m2:o + 2 * m2]
    o += 2 * m2
    twr, twi = tab[o:o + m1 * m2], tab[o + m1 * m2:o + 2 * m1 * m2]
    pad = PAD
    m1p = m1 + pad
    # 1-2: columns of (M1, M2) slice by slice, twiddled and transposed into (M2, M1) in (zr, zi)
    sl = fac[2]
    for c0 in range(0, m2, sl):
        w = min(sl, m2 - c0)
        _columns(yr, yi, c0, m2, cr, ci, 0, sl + pad, ar, ai, br, bi, sl + pad, w1r, w1i, fac, 4, w)
        lanes = VECTOR_BYTES // yr.itemsize
        for kb in range(0, m1, lanes):  # z[n2, k1] = c[k1, n2 - c0] w_M^(k1 n2), tile by tile
            for bb in range(0, w, lanes):
                twiddle_transpose(cr, ci, kb * (sl + pad) + bb, sl + pad, zr, zi, (c0 + bb) * m1p + kb, m1p,
                                  twr, twi, (c0 + bb) * m1 + kb, m1)
    # 3: columns of (M2, M1), back into (yr, yi)
    sl = fac[3]
    for c0 in range(0, m1, sl):
        w = min(sl, m1 - c0)
        _columns(zr, zi, c0, m1p, yr, yi, c0, m1, ar, ai, br, bi, sl + pad, w2r, w2i, fac, f2, w)


@kernel
def _reverse(zr, zi, rr, ri, m):
    """``rr[k] = zr[m - k]``, ``ri[k] = zi[m - k]`` for ``0 < k < m``; ``rr[0] = zr[0]``, ``ri[0] = zi[0]``."""
    lanes = VECTOR_BYTES // zr.itemsize
    rr[0] = zr[0]
    ri[0] = zi[0]
    k = 1
    while k + lanes <= m:
        reversed_vector(zr, m - k, rr, k)
        reversed_vector(zi, m - k, ri, k)
        k += lanes
    while k < m:
        rr[k] = zr[m - k]
        ri[k] = zi[m - k]
        k += 1


@kernel
def rfft_rows(x, starts, n, out, fac, tab, big, small):
    """``out[r] = rfft(x[starts[r] : starts[r] + n], N)`` (``n <= N``, zero-padded) for each row
    ``r`` of ``out``, ``(rows, N + 2)`` in ``x``'s dtype: the complex spectrum's real and imaginary
    parts interleaved (a view of a complex array). Scratch: ``big`` ``(4, >= M2 (M1 + PAD))``,
    ``small`` ``(6, >= max(M1, M2) (max(S1, S2) + PAD))``."""
    m1, m2 = fac[0], fac[1]
    m = m1 * m2
    ur = tab[tab.shape[0] - 2 * m:tab.shape[0] - m]
    ui = tab[tab.shape[0] - m:]
    zr, zi, rr, ri = big[0], big[1], big[2], big[3]
    zero = x.dtype.type(0.0)
    half = x.dtype.type(0.5)
    for r in range(out.shape[0]):
        xr = x[starts[r]:starts[r] + n]
        full = min(n // 2, m)
        for j in range(full):  # z[j] = x[2j] + i x[2j + 1]
            zr[j] = xr[2 * j]
            zi[j] = xr[2 * j + 1]
        for j in range(full, m):
            zr[j] = xr[2 * j] if 2 * j < n else zero
            zi[j] = xr[2 * j + 1] if 2 * j + 1 < n else zero
        _complex_fft(zr, zi, rr, ri, fac, tab, small[0], small[1], small[2], small[3], small[4], small[5])
        # X[k] = E[k] + w_N^k O[k], E = (Z[k] + R[k]) / 2, O = (Z[k] - R[k]) / 2i, R[k] = conj Z[M-k]
        # (Z[M] = Z[0]); X[M] = E[0] - O[0]. (rr, ri): Z reversed, Z[M-k] at k
        _reverse(zr, zi, rr, ri, m)
        o = out[r]
        for k in range(m):
            er = half * (zr[k] + rr[k])
            ei = half * (zi[k] - ri[k])
            pr = half * (zi[k] + ri[k])
            pi = half * (rr[k] - zr[k])
            o[2 * k] = er + pr * ur[k] - pi * ui[k]
            o[2 * k + 1] = ei + pr * ui[k] + pi * ur[k]
        o[2 * m] = zr[0] - zi[0]
        o[2 * m + 1] = zero


@kernel
def irfft_rows(spec, h, out, skip, fac, tab, big, small):
    """``out[r] = irfft(spec[r] h[r], N)[skip : skip + W]`` (``W = out.shape[1] <= N - skip``):
    ``spec`` ``(rows, N + 2)`` interleaved as in :func:`rfft_rows` (the imaginary parts at 0 and
    ``N / 2`` ignored, as pocketfft does), ``out`` ``(rows, W)``, rows contiguous. ``h``, a spectrum
    the rows are multiplied by (a filter's: one row for all or one per row, interleaved alike) or
    ``(0, N + 2)`` for none: the product is formed as the rows are read, not stored."""
    m1, m2 = fac[0], fac[1]
    m = m1 * m2
    ur = tab[tab.shape[0] - 2 * m:tab.shape[0] - m]
    ui = tab[tab.shape[0] - m:]
    zr, zi, rr, ri = big[0], big[1], big[2], big[3]
    g = out.dtype.type(0.5 / m)  # the untangling's 1/2 and the inverse's 1/M
    zero = out.dtype.type(0.0)
    for r in range(spec.shape[0]):
        s = spec[r]
        # Z[k] = E[k] + i O[k], E = X[k] + R[k], O = (X[k] - R[k]) conj(w_N^k), R[k] = conj X[M-k]
        # (halved with the 1/M); the transform of conj(Z) / M is conj(z) (z = x[2j] + i x[2j + 1])
        if h.shape[0] == 0:
            for k in range(m + 1):  # X split into (zr, zi), then reversed into (rr, ri): X[M-k] at k
                zr[k] = s[2 * k]
                zi[k] = s[2 * k + 1]
        else:
            f = h[r if h.shape[0] > 1 else 0]
            for k in range(m + 1):  # X = spec times filter, split
                a, b, c, d = s[2 * k], s[2 * k + 1], f[2 * k], f[2 * k + 1]
                zr[k] = a * c - b * d
                zi[k] = a * d + b * c
        zi[0] = zero  # X[0] and X[N/2] real
        zi[m] = zero
        _reverse(zr, zi, rr, ri, m)
        rr[0] = zr[m]
        ri[0] = zero
        for k in range(m):
            er = zr[k] + rr[k]
            ei = zi[k] - ri[k]
            dr = zr[k] - rr[k]
            di = zi[k] + ri[k]
            pr = dr * ur[k] + di * ui[k]
            pi = di * ur[k] - dr * ui[k]
            zr[k] = g * (er - pi)  # conj(E + i P)
            zi[k] = -g * (ei + pr)
        _complex_fft(zr, zi, rr, ri, fac, tab, small[0], small[1], small[2], small[3], small[4], small[5])
        # samples skip .. stop - 1 of z[j / 2] (even j) or conj's (odd j)
        o = out[r]
        stop = skip + o.shape[0]
        if o.shape[0] == 0:
            continue
        if skip % 2 == 1:
            o[0] = -zi[skip // 2]
        for j in range((skip + 1) // 2, stop // 2):
            o[2 * j - skip] = zr[j]
            o[2 * j + 1 - skip] = -zi[j]
        if stop % 2 == 1:  # the last sample, even
            o[stop - 1 - skip] = zr[stop // 2]
