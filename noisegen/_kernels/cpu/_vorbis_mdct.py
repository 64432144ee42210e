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
input written in bit-reversed order by the pre-twiddle. The butterflies' intrinsics have
pure-Python twins (:func:`py_radix22`, :func:`py_radix2`), which run instead with
``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir
from numba.core import types

from ..._core.jit import intrinsic_or, kernel
from ._twins import ARRAY_OPS

_F32 = ir.FloatType()


def _vector_ops(context, builder, signature, args, lanes):
    """Pointers to the float32 data of the first four array arguments, and vector load and store."""
    vt = ir.VectorType(_F32, lanes)
    ptrs = [context.make_array(signature.args[i])(context, builder, args[i]).data for i in range(4)]

    def load(k, at):
        return builder.load(builder.bitcast(builder.gep(ptrs[k], [at]), vt.as_pointer()), align=4)

    def store(k, at, value):
        builder.store(value, builder.bitcast(builder.gep(ptrs[k], [at]), vt.as_pointer()), align=4)

    return load, store


def _cmul(builder, xr, xi, wr, wi):
    return (builder.fsub(builder.fmul(xr, wr), builder.fmul(xi, wi)),
            builder.fadd(builder.fmul(xr, wi), builder.fmul(xi, wr)))


def py_radix22(lanes, re, im, wr, wi, a, h, at):
    """Twin of the intrinsic of :func:`_radix22` (for ``NUMBA_DISABLE_JIT=1``): its code on arrays."""
    b, c, d = a + h, a + 2 * h, a + 3 * h
    v = lambda x, k: x[k:k + lanes]  # noqa: E731
    w1r, w1i, w2r, w2i = v(wr, at), v(wi, at), v(wr, at + h), v(wi, at + h)
    tr, ti = _cmul(ARRAY_OPS, v(re, b), v(im, b), w1r, w1i)
    xr, xi = v(re, a), v(im, a)
    ar, ai, br, bi = xr + tr, xi + ti, xr - tr, xi - ti
    tr, ti = _cmul(ARRAY_OPS, v(re, d), v(im, d), w1r, w1i)
    xr, xi = v(re, c), v(im, c)
    cr, ci, dr, di = xr + tr, xi + ti, xr - tr, xi - ti
    tr, ti = _cmul(ARRAY_OPS, cr, ci, w2r, w2i)
    ur, ui = _cmul(ARRAY_OPS, dr, di, w2r, w2i)  # times -i
    re[a:a + lanes], im[a:a + lanes], re[c:c + lanes], im[c:c + lanes] = ar + tr, ai + ti, ar - tr, ai - ti
    re[b:b + lanes], im[b:b + lanes], re[d:d + lanes], im[d:d + lanes] = br + ui, bi - ur, br - ui, bi + ur


def _radix22(lanes):
    @intrinsic_or(functools.partial(py_radix22, lanes))
    def radix22(typingctx, re, im, wr, wi, a, h, at):
        """``lanes`` radix-2x2 butterflies at ``a .. a + lanes`` of span ``h``, twiddles from ``at``."""
        def codegen(context, builder, signature, args):
            load, store = _vector_ops(context, builder, signature, args, lanes)
            a_, h_, at_ = args[4], args[5], args[6]
            b_ = builder.add(a_, h_)
            c_ = builder.add(b_, h_)
            d_ = builder.add(c_, h_)
            w1r, w1i = load(2, at_), load(3, at_)
            w2r, w2i = load(2, builder.add(at_, h_)), load(3, builder.add(at_, h_))
            tr, ti = _cmul(builder, load(0, b_), load(1, b_), w1r, w1i)
            xr, xi = load(0, a_), load(1, a_)
            ar, ai = builder.fadd(xr, tr), builder.fadd(xi, ti)
            br, bi = builder.fsub(xr, tr), builder.fsub(xi, ti)
            tr, ti = _cmul(builder, load(0, d_), load(1, d_), w1r, w1i)
            xr, xi = load(0, c_), load(1, c_)
            cr, ci = builder.fadd(xr, tr), builder.fadd(xi, ti)
            dr, di = builder.fsub(xr, tr), builder.fsub(xi, ti)
            tr, ti = _cmul(builder, cr, ci, w2r, w2i)
            store(0, a_, builder.fadd(ar, tr))
            store(1, a_, builder.fadd(ai, ti))
            store(0, c_, builder.fsub(ar, tr))
            store(1, c_, builder.fsub(ai, ti))
            tr, ti = _cmul(builder, dr, di, w2r, w2i)  # times -i
            store(0, b_, builder.fadd(br, ti))
            store(1, b_, builder.fsub(bi, tr))
            store(0, d_, builder.fsub(br, ti))
            store(1, d_, builder.fadd(bi, tr))
            return context.get_dummy_value()

        return types.void(re, im, wr, wi, a, h, at), codegen

    return radix22


def py_radix2(lanes, re, im, wr, wi, p, h, at):
    """Twin of the intrinsic of :func:`_radix2` (for ``NUMBA_DISABLE_JIT=1``): its code on arrays."""
    s = p + h
    tr, ti = _cmul(ARRAY_OPS, re[s:s + lanes], im[s:s + lanes], wr[at:at + lanes], wi[at:at + lanes])
    xr, xi = re[p:p + lanes], im[p:p + lanes]
    re[s:s + lanes], im[s:s + lanes], re[p:p + lanes], im[p:p + lanes] = xr - tr, xi - ti, xr + tr, xi + ti


def _radix2(lanes):
    @intrinsic_or(functools.partial(py_radix2, lanes))
    def radix2(typingctx, re, im, wr, wi, p, h, at):
        """``lanes`` radix-2 butterflies at ``p .. p + lanes`` of span ``h``, twiddles from ``at``."""
        def codegen(context, builder, signature, args):
            load, store = _vector_ops(context, builder, signature, args, lanes)
            p_, h_, at_ = args[4], args[5], args[6]
            s_ = builder.add(p_, h_)
            tr, ti = _cmul(builder, load(0, s_), load(1, s_), load(2, at_), load(3, at_))
            xr, xi = load(0, p_), load(1, p_)
            store(0, s_, builder.fsub(xr, tr))
            store(1, s_, builder.fsub(xi, ti))
            store(0, p_, builder.fadd(xr, tr))
            store(1, p_, builder.fadd(xi, ti))
            return context.get_dummy_value()

        return types.void(re, im, wr, wi, p, h, at), codegen

    return radix2


_radix22_4 = _radix22(4)
_radix22_8 = _radix22(8)
_radix2_8 = _radix2(8)


def mdct_tables(n: int):
    """``(twiddle re, twiddle im, pass twiddles re, im, bit reversal, window)`` for blocks of ``n``.

    The pass twiddles hold, for each radix-2x2 pass of span ``h`` (h = 4, 16, ...), ``W_2h^j`` then
    ``W_4h^j`` for j < h, and for a last radix-2 pass of span ``h``, ``W_2h^j``; end to end.
    """
    m = n // 2
    q = n // 4
    k = np.arange(q)
    tw = np.exp(-1j * np.pi * (k + 0.125) / m)
    parts = []
    h = 4
    while 4 * h <= q:
        j = np.arange(h)
        parts += [np.exp(-2j * np.pi * j / (2 * h)), np.exp(-2j * np.pi * j / (4 * h))]
        h *= 4
    if 2 * h <= q:
        parts.append(np.exp(-2j * np.pi * np.arange(h) / (2 * h)))
    w = np.concatenate(parts) if parts else np.ones(1, complex)
    bits = q.bit_length() - 1
    rev = np.zeros(q, np.int64)
    for i in range(q):
        rev[i] = int(format(i, f"0{bits}b")[::-1], 2) if bits else 0
    x = (np.arange(m) + 0.5) / m * (np.pi / 2)
    window = np.sin(np.pi / 2 * np.sin(x) ** 2).astype(np.float32)  # the rising half, m samples
    return (tw.real.astype(np.float32), tw.imag.astype(np.float32), w.real.astype(np.float32),
            w.imag.astype(np.float32), rev, window)


@kernel(inline="always")
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
    # spans 1 and 2 together: radix-4 butterflies without twiddles
    h = 1
    if q >= 4:
        for p in range(0, q, 4):
            ar, ai = re[p] + re[p + 1], im[p] + im[p + 1]
            br, bi = re[p] - re[p + 1], im[p] - im[p + 1]
            cr, ci = re[p + 2] + re[p + 3], im[p + 2] + im[p + 3]
            dr, di = re[p + 2] - re[p + 3], im[p + 2] - im[p + 3]
            re[p], im[p] = ar + cr, ai + ci
            re[p + 2], im[p + 2] = ar - cr, ai - ci
            re[p + 1], im[p + 1] = br + di, bi - dr  # b + (-i) d
            re[p + 3], im[p + 3] = br - di, bi + dr
        h = 4
    at = 0
    while 4 * h <= q:
        for base in range(0, q, 4 * h):
            if h >= 8:
                for j in range(0, h, 8):
                    _radix22_8(re, im, wr, wi, base + j, h, at + j)
            else:  # h == 4
                _radix22_4(re, im, wr, wi, base, h, at)
        at += 2 * h
        h *= 4
    if 2 * h <= q:
        if h >= 8:
            for base in range(0, q, 2 * h):
                for j in range(0, h, 8):
                    _radix2_8(re, im, wr, wi, base + j, h, at + j)
        else:
            for base in range(0, q, 2 * h):
                for j in range(h):
                    cr = wr[at + j]
                    ci = wi[at + j]
                    p = base + j
                    s = p + h
                    tr = re[s] * cr - im[s] * ci
                    ti = re[s] * ci + im[s] * cr
                    re[s] = re[p] - tr
                    im[s] = im[p] - ti
                    re[p] += tr
                    im[p] += ti
    for p in range(q):
        cr = re[p] * twr[p] - im[p] * twi[p]
        ci = re[p] * twi[p] + im[p] * twr[p]
        u[2 * p] = cr
        u[m - 1 - 2 * p] = -ci
