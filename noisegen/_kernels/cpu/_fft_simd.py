"""Explicit-SIMD pieces of the FFT kernels (:mod:`.fft`), written as LLVM vector IR through Numba
intrinsics, as :mod:`._simd`'s: where LLVM's vectoriser leaves a loop scalar (a backward copy, a
transposition, a butterfly with many load and store streams) or vectorises it poorly. Each has a
pure-Python twin (``py_*``), which runs instead with ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba.core import types

from ..._core.jit import intrinsic_or
from ._simd import _I32, VECTOR_BYTES, _mask
from ._twins import ARRAY_OPS, lanes_of

__all__ = ["butterfly", "reversed_vector", "twiddle_transpose"]


def py_twiddle_transpose(sr, si, s0, ss, dr, di, d0, ds, tr, ti, t0, ts):
    """Twin of :func:`twiddle_transpose` (for ``NUMBA_DISABLE_JIT=1``)."""
    lanes = lanes_of(sr)
    j, i = np.arange(lanes)[:, None], np.arange(lanes)[None, :]
    src, dst, tw = s0 + i * ss + j, d0 + j * ds + i, t0 + j * ts + i
    re, im, wr, wi = sr[src], si[src], tr[tw], ti[tw]
    dr[dst] = re * wr - im * wi
    di[dst] = re * wi + im * wr


def py_reversed_vector(src, s, dst, d):
    """Twin of :func:`reversed_vector` (for ``NUMBA_DISABLE_JIT=1``)."""
    lanes = lanes_of(src)
    dst[d:d + lanes] = src[s - np.arange(lanes)]


def py_butterfly(r, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q):
    """Twin of :func:`butterfly` (for ``NUMBA_DISABLE_JIT=1``): its scalar code, on arrays of columns."""
    lanes = lanes_of(sr)
    xs = []
    for t in range(r):
        at = i0 + t * iq
        xr, xi = sr[at:at + lanes], si[at:at + lanes]
        if t:
            a, b = wr[kst * t], wi[kst * t]
            xr, xi = xr * a - xi * b, xr * b + xi * a
        xs.append((xr, xi))
    if r == 3:
        ys = _dft3(ARRAY_OPS, xs, -wi[q], sr.dtype.type(0.5))
    elif r == 5:
        ys = _dft5(ARRAY_OPS, xs, wr[q], -wi[q], wr[2 * q], -wi[2 * q])
    else:
        ys = _dft2k(ARRAY_OPS, xs, wr[q] if r == 8 else None)
    for t, (yr, yi) in enumerate(ys):
        dr[o0 + t * od:o0 + t * od + lanes] = yr
        di[o0 + t * od:o0 + t * od + lanes] = yi


@intrinsic_or(py_twiddle_transpose)
def twiddle_transpose(typingctx, sr, si, s0, ss, dr, di, d0, ds, tr, ti, t0, ts):
    """One square tile of a complex matrix in split format, transposed and times a twiddle.

    With ``L`` the lanes of one vector (:data:`VECTOR_BYTES`): for ``j, i < L``,
    ``d[d0 + j ds + i] = s[s0 + i ss + j] * t[t0 + j ts + i]`` (complex, real and
    imaginary parts in ``*r`` and ``*i``). ``L`` rows of each source loaded as
    vectors and transposed by shuffles (``log2 L`` rounds, each swapping the
    off-diagonal blocks of one size), where a loop would move one float at a time.
    Nothing is checked: the caller keeps the tile inside the arrays.
    """
    arrays = (sr, si, dr, di, tr, ti)
    if not all(isinstance(a, types.Array) and a.ndim == 1 and a.dtype == sr.dtype for a in arrays):
        return None
    if not isinstance(sr.dtype, types.Float) or not all(isinstance(t, types.Integer) for t in (s0, ss, d0, ds, t0, ts)):
        return None
    sig = types.void(sr, si, s0, ss, dr, di, d0, ds, tr, ti, t0, ts)

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        fty = context.get_value_type(aty.dtype)
        size = context.get_abi_sizeof(fty)
        lanes = VECTOR_BYTES // size
        vty = ir.VectorType(fty, lanes)
        i64 = ir.IntType(64)
        srd, sid, drd, did, trd, tid = (context.make_array(aty)(context, builder, args[k]).data for k in (0, 1, 4, 5, 8, 9))
        s0_, ss_, d0_, ds_, t0_, ts_ = (context.cast(builder, args[k], signature.args[k], types.int64)
                                        for k in (2, 3, 6, 7, 10, 11))

        def ptr(data, start, stride, row):
            index = builder.add(start, builder.mul(stride, ir.Constant(i64, row)))
            return builder.bitcast(builder.gep(data, [index]), vty.as_pointer())

        def transposed(data):
            rows = [builder.load(ptr(data, s0_, ss_, r), align=size) for r in range(lanes)]
            h = 1
            while h < lanes:  # swap the off-diagonal h x h blocks of every 2h x 2h block
                for r in range(lanes):
                    if r & h == 0:
                        a, b = rows[r], rows[r + h]
                        lo = [l if l & h == 0 else lanes + l - h for l in range(lanes)]
                        hi = [l + h if l & h == 0 else lanes + l for l in range(lanes)]
                        rows[r], rows[r + h] = builder.shuffle_vector(a, b, _mask(lo)), builder.shuffle_vector(a, b, _mask(hi))
                h *= 2
            return rows

        re, im = transposed(srd), transposed(sid)
        for j in range(lanes):
            wr = builder.load(ptr(trd, t0_, ts_, j), align=size)
            wi = builder.load(ptr(tid, t0_, ts_, j), align=size)
            out_r = builder.fsub(builder.fmul(re[j], wr), builder.fmul(im[j], wi))
            out_i = builder.fadd(builder.fmul(re[j], wi), builder.fmul(im[j], wr))
            builder.store(out_r, ptr(drd, d0_, ds_, j), align=size)
            builder.store(out_i, ptr(did, d0_, ds_, j), align=size)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic_or(py_reversed_vector)
def reversed_vector(typingctx, src, s, dst, d):
    """``dst[d + t] = src[s - t]`` for ``t`` < the lanes of one vector (:data:`VECTOR_BYTES`): one
    vector load, a reversing shuffle and one store, where LLVM leaves a backward loop scalar.
    Nothing is checked."""
    if not all(isinstance(a, types.Array) and a.ndim == 1 and isinstance(a.dtype, types.Float) for a in (src, dst)):
        return None
    if src.dtype != dst.dtype or not all(isinstance(t, types.Integer) for t in (s, d)):
        return None
    sig = types.void(src, s, dst, d)

    def codegen(context, builder, signature, args):
        aty = signature.args[0]
        fty = context.get_value_type(aty.dtype)
        size = context.get_abi_sizeof(fty)
        lanes = VECTOR_BYTES // size
        vty = ir.VectorType(fty, lanes)
        sd = context.make_array(aty)(context, builder, args[0]).data
        dd = context.make_array(signature.args[2])(context, builder, args[2]).data
        s0 = context.cast(builder, args[1], signature.args[1], types.int64)
        d0 = context.cast(builder, args[3], signature.args[3], types.int64)
        first = builder.sub(s0, ir.Constant(ir.IntType(64), lanes - 1))
        v = builder.load(builder.bitcast(builder.gep(sd, [first]), vty.as_pointer()), align=size)
        v = builder.shuffle_vector(v, v, _mask(list(range(lanes - 1, -1, -1))))
        builder.store(v, builder.bitcast(builder.gep(dd, [d0]), vty.as_pointer()), align=size)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic_or(py_butterfly)
def butterfly(typingctx, r, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q):
    """One vector of columns through a radix-``r`` Stockham butterfly (``r`` 2, 3, 4, 5 or 8, a literal).

    With ``L`` the lanes of one vector (:data:`VECTOR_BYTES`), for each of the
    columns ``b < L``: the inputs ``x_t = s[i0 + t iq + b] w[t kst]`` (``t < r``;
    complex, real and imaginary parts in ``*r`` and ``*i``, ``w`` from the
    tables ``wr``, ``wi``) go through an ``r``-point DFT (radix-2 steps for 4
    and 8, the usual symmetric forms for 3 and 5, with their constants read from
    the tables at ``q`` and ``2 q``, ``w^q = exp(-2 pi i / r)``, in the data's
    dtype) into ``d[o0 + s od + b]``. Written
    out because LLVM's vectoriser leaves a loop with this many load and store
    streams scalar (its runtime alias checks give up). Nothing is checked.
    """
    if not isinstance(r, types.IntegerLiteral):
        return None
    radix = r.literal_value
    if radix not in (2, 3, 4, 5, 8):
        return None
    sig = types.void(r, sr, si, i0, iq, dr, di, o0, od, wr, wi, kst, q)

    def codegen(context, builder, signature, args):
        aty = signature.args[1]
        fty = context.get_value_type(aty.dtype)
        size = context.get_abi_sizeof(fty)
        lanes = VECTOR_BYTES // size
        vty = ir.VectorType(fty, lanes)
        i64 = ir.IntType(64)
        data = lambda k: context.make_array(signature.args[k])(context, builder, args[k]).data
        srd, sid, drd, did, wrd, wid = data(1), data(2), data(5), data(6), data(9), data(10)
        as64 = lambda k: context.cast(builder, args[k], signature.args[k], types.int64)
        i0_, iq_, o0_, od_, kst_ = as64(3), as64(4), as64(7), as64(8), as64(11)
        q_ = as64(12)

        def vptr(d, base, stride, t):
            idx = builder.add(base, builder.mul(stride, ir.Constant(i64, t)))
            return builder.bitcast(builder.gep(d, [idx]), vty.as_pointer())

        def splat(s):
            v = builder.insert_element(ir.Constant(vty, ir.Undefined), s, ir.Constant(_I32, 0))
            return builder.shuffle_vector(v, v, _mask([0] * lanes))

        xs = []
        for t in range(radix):
            xr = builder.load(vptr(srd, i0_, iq_, t), align=size)
            xi = builder.load(vptr(sid, i0_, iq_, t), align=size)
            if t:
                widx = builder.mul(kst_, ir.Constant(i64, t))
                a = splat(builder.load(builder.gep(wrd, [widx])))
                b = splat(builder.load(builder.gep(wid, [widx])))
                xr, xi = (builder.fsub(builder.fmul(xr, a), builder.fmul(xi, b)),
                          builder.fadd(builder.fmul(xr, b), builder.fmul(xi, a)))
            xs.append((xr, xi))
        def const(table, index, negate=False):  # a table entry as a vector
            v = splat(builder.load(builder.gep(table, [index])))
            return builder.fneg(v) if negate else v

        if radix == 3:
            ys = _dft3(builder, xs, const(wid, q_, True), ir.Constant(vty, [ir.Constant(fty, 0.5)] * lanes))
        elif radix == 5:
            q2 = builder.add(q_, q_)
            ys = _dft5(builder, xs, const(wrd, q_), const(wid, q_, True), const(wrd, q2), const(wid, q2, True))
        if radix in (3, 5):
            for t, (yr, yi) in enumerate(ys):
                builder.store(yr, vptr(drd, o0_, od_, t), align=size)
                builder.store(yi, vptr(did, o0_, od_, t), align=size)
            return context.get_dummy_value()
        cv = const(wrd, q_) if radix == 8 else None  # cos(pi / 4)
        ys = _dft2k(builder, xs, cv)
        for t, (yr, yi) in enumerate(ys):
            builder.store(yr, vptr(drd, o0_, od_, t), align=size)
            builder.store(yi, vptr(did, o0_, od_, t), align=size)
        return context.get_dummy_value()

    return sig, codegen


def _rot(b, z, n, k, cv):
    """``z * w_n^k``, ``w_n = exp(-2 pi i / n)``, ``n <= 8`` (``cv``: cos(pi / 4))."""
    zr, zi = z
    e = (8 // n) * k % 8  # eighths of a turn
    if e == 0:
        return z
    if e == 2:  # -i
        return zi, b.fneg(zr)
    if e == 4:
        return b.fneg(zr), b.fneg(zi)
    if e == 6:  # +i
        return b.fneg(zi), zr
    if e == 1:  # (c, -c): (zr + zi) c, (zi - zr) c
        return b.fmul(b.fadd(zr, zi), cv), b.fmul(b.fsub(zi, zr), cv)
    if e == 3:  # (-c, -c): (zi - zr) c, -(zr + zi) c
        return b.fmul(b.fsub(zi, zr), cv), b.fneg(b.fmul(b.fadd(zr, zi), cv))
    raise ValueError(e)


def _dft2k(b, v, cv):
    """The DFT of vectors ``v`` (2, 4 or 8 of them) by radix-2 steps, decimation in time."""
    n = len(v)
    if n == 1:
        return v
    even, odd = _dft2k(b, v[0::2], cv), _dft2k(b, v[1::2], cv)
    out = [None] * n
    for k in range(n // 2):
        t = _rot(b, odd[k], n, k, cv)
        out[k] = (b.fadd(even[k][0], t[0]), b.fadd(even[k][1], t[1]))
        out[k + n // 2] = (b.fsub(even[k][0], t[0]), b.fsub(even[k][1], t[1]))
    return out


def _dft3(b, xs, s3, half):
    """The 3-point DFT of vectors ``xs`` (pairs of real and imaginary parts); ``s3 = sin(2 pi / 3)``."""
    (x0r, x0i), (x1r, x1i), (x2r, x2i) = xs
    tr, ti = b.fadd(x1r, x2r), b.fadd(x1i, x2i)
    ur, ui = b.fmul(b.fsub(x1r, x2r), s3), b.fmul(b.fsub(x1i, x2i), s3)
    mr, mi = b.fsub(x0r, b.fmul(half, tr)), b.fsub(x0i, b.fmul(half, ti))
    return [(b.fadd(x0r, tr), b.fadd(x0i, ti)), (b.fadd(mr, ui), b.fsub(mi, ur)), (b.fsub(mr, ui), b.fadd(mi, ur))]


def _dft5(b, xs, c1, s1, c2, s2):
    """The 5-point DFT of vectors ``xs``; ``c1, s1, c2, s2``: cos and sin of 2 pi / 5 and 4 pi / 5."""
    (x0r, x0i), (x1r, x1i), (x2r, x2i), (x3r, x3i), (x4r, x4i) = xs
    p1r, p1i, q1r, q1i = b.fadd(x1r, x4r), b.fadd(x1i, x4i), b.fsub(x1r, x4r), b.fsub(x1i, x4i)
    p2r, p2i, q2r, q2i = b.fadd(x2r, x3r), b.fadd(x2i, x3i), b.fsub(x2r, x3r), b.fsub(x2i, x3i)
    m1r = b.fadd(b.fadd(x0r, b.fmul(c1, p1r)), b.fmul(c2, p2r))
    m1i = b.fadd(b.fadd(x0i, b.fmul(c1, p1i)), b.fmul(c2, p2i))
    m2r = b.fadd(b.fadd(x0r, b.fmul(c2, p1r)), b.fmul(c1, p2r))
    m2i = b.fadd(b.fadd(x0i, b.fmul(c2, p1i)), b.fmul(c1, p2i))
    n1r, n1i = b.fadd(b.fmul(s1, q1r), b.fmul(s2, q2r)), b.fadd(b.fmul(s1, q1i), b.fmul(s2, q2i))
    n2r, n2i = b.fsub(b.fmul(s2, q1r), b.fmul(s1, q2r)), b.fsub(b.fmul(s2, q1i), b.fmul(s1, q2i))
    y0 = (b.fadd(b.fadd(x0r, p1r), p2r), b.fadd(b.fadd(x0i, p1i), p2i))
    return [y0, (b.fadd(m1r, n1i), b.fsub(m1i, n1r)), (b.fadd(m2r, n2i), b.fsub(m2i, n2r)),
            (b.fsub(m2r, n2i), b.fadd(m2i, n2r)), (b.fsub(m1r, n1i), b.fadd(m1i, n1r))]
