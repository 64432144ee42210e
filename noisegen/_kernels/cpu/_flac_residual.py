"""FLAC subframe residuals (RFC 9639 section 9.2.7) and the FIXED and LPC predictions added to them.

:func:`_residual` decodes a subframe's partitioned residual (Rice codes, or raw
escaped values) into the sample buffer; :func:`_restored` then adds the
prediction in place. Both follow :mod:`noisegen._kernels.cpu.flac`'s bounds
rules: the data padded with zeros, positions checked against its end.
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import kernel
from ._bits import _bits, _signed, _zeros, leading_zeros, load_be64


@kernel
def _predicted(dst, i, coefs, order, shift):
    """``(sum_j coefs[j] dst[i-1-j]) >> shift``: the prediction of sample ``i`` (any order)."""
    acc = np.int64(0)
    for j in range(order):
        acc += coefs[j] * dst[i - 1 - j]
    return acc >> shift


@kernel
def _reader(buf, bp):
    """``(w, cnt, ptr)``: a bit buffer at bit ``bp``; ``w`` holds ``cnt`` (49-56) valid bits
    from its MSB on (those after them are zeros or the stream's next ones), and the bit after
    them starts byte ``ptr``."""
    return load_be64(buf, bp >> 3) << np.uint64(bp & 7), 56 - (bp & 7), (bp >> 3) + 7


@kernel
def _rice_value(buf, end, k, w, cnt, ptr):
    """``(v, w, cnt, ptr)``: the next Rice code of parameter ``k`` (folded, before its sign is
    unfolded) from the bit buffer ``(w, cnt, ptr)`` and the buffer after it; ``v`` is -1 when the
    code runs past bit ``end`` or beyond the 32 bits libFLAC takes.

    The refill ORs the next word in at ``cnt`` and moves ``ptr`` by the whole bytes taken, so
    ``cnt`` >= 56 before each code and the load's address does not wait for the code before it
    (Giesen's "lookahead" refill)."""
    w |= load_be64(buf, ptr) >> np.uint64(cnt)
    ptr += (63 - cnt) >> 3
    cnt |= 56
    q = leading_zeros(w)
    if q + k < 56:  # quotient, stop bit and remainder among the 56 bits
        v = ((np.int64(q) - 1) << k) + np.int64((w << np.uint64(q)) >> np.uint64(63 - k))
        n = q + 1 + k
        w <<= np.uint64(n)
        cnt -= n
    else:  # a long quotient: counted in steps, then the remainder peeked
        bp = ptr * 8 - cnt
        q = _zeros(buf, bp, end)
        if q < 0:
            return np.int64(-1), w, cnt, ptr
        bp += q + 1
        v = np.int64(q) << k
        if k:
            v |= _bits(buf, bp, k)
            bp += k
        if bp > end:
            return np.int64(-1), w, cnt, ptr
        w, cnt, ptr = _reader(buf, bp)
    if v >> 32:  # beyond libFLAC's 32-bit residuals: it refuses the frame
        return np.int64(-1), w, cnt, ptr
    return v, w, cnt, ptr


@kernel
def _rice(buf, bp, end, k, dst, i0, count):
    """Decode ``count`` Rice-coded residuals with parameter ``k`` from bit ``bp`` into
    ``dst[i0:]``; the bit after them, or -1.

    Two codes a refill when both fit its 56 bits (as short codes do): the second code's quotient
    is counted while the first's value is formed, and the refill's chain is paid once a pair."""
    w, cnt, ptr = _reader(buf, bp)
    i, stop, k1 = i0, i0 + count, k + 1
    while i < stop:
        w |= load_be64(buf, ptr) >> np.uint64(cnt)
        ptr += (63 - cnt) >> 3
        cnt |= 56
        q = leading_zeros(w)
        first = w << np.uint64(q & 63)  # the first code from its stop bit (& 63: w is 0 at the data's end)
        second = first << np.uint64(k1)
        q2 = leading_zeros(second)
        n = q + q2 + 2 * k1
        if n <= 56 and i + 1 < stop:  # both codes among the 56 bits (k <= 26: both values < 2**32)
            v = ((np.int64(q) - 1) << k) + np.int64(first >> np.uint64(63 - k))
            v2 = ((np.int64(q2) - 1) << k) + np.int64((second << np.uint64(q2)) >> np.uint64(63 - k))
            w = second << np.uint64(q2 + k1)
            cnt -= n
            dst[i] = (v >> 1) ^ -(v & 1)
            dst[i + 1] = (v2 >> 1) ^ -(v2 & 1)
            i += 2
        else:
            v, w, cnt, ptr = _rice_value(buf, end, k, w, cnt, ptr)
            if v < 0:
                return -1
            dst[i] = (v >> 1) ^ -(v & 1)
            i += 1
    bp = ptr * 8 - cnt
    return bp if bp <= end else -1


@kernel
def _fixed_restored(dst, n, order):
    """Residuals ``dst[order:n]`` plus the FIXED prediction of ``order``, in place: each order's
    recurrence in adds and shifts (the LPC loop took eight multiplies a sample for them)."""
    if order == 1:
        a = dst[0]
        for i in range(1, n):
            a += dst[i]
            dst[i] = a
    elif order == 2:
        a, b = dst[1], dst[0]
        for i in range(2, n):
            x = dst[i] + 2 * a - b
            dst[i] = x
            a, b = x, a
    elif order == 3:
        a, b, c = dst[2], dst[1], dst[0]
        for i in range(3, n):
            x = dst[i] + 3 * (a - b) + c
            dst[i] = x
            a, b, c = x, a, b
    elif order == 4:
        a, b, c, d = dst[3], dst[2], dst[1], dst[0]
        for i in range(4, n):
            x = dst[i] + 4 * (a + c) - 6 * b - d
            dst[i] = x
            a, b, c, d = x, a, b, c


#: Bound of the samples' float64 copies: a sample beyond it is damage (beyond any ``bps``, which the
#: frame's range check refuses); the bound keeps every sum of the copies within int64, so that its
#: conversion stays defined.
_MIRROR_BOUND = 1 << 40


@kernel
def _step(dst, mirror, i, older, shift, c0, c1, c2, last, last1, last2):
    """Sample ``i`` restored from its older terms' sum ``older`` (an integer-valued float64) and the
    three newest samples; ``(last1, last, x)``."""
    x = dst[i] + ((np.int64(older) + c2 * last2 + c1 * last1 + c0 * last) >> shift)
    dst[i] = x
    mirror[i] = min(max(x, -_MIRROR_BOUND), _MIRROR_BOUND)
    return last1, last, x


def _lpc_restorer(width):
    """The kernel adding the LPC prediction of ``order`` <= ``width`` (8, 12, 16 or 32)
    coefficients to the residuals ``dst[order:n]``, in place, after the whole residual is decoded.

    From sample ``width`` on, the terms of the samples four or more back are a dot product of
    that fixed width (a constant here, so LLVM unrolls it) with ``window`` (float64: those
    coefficients reversed, zeros first) over ``mirror`` (float64 copies of the samples so far),
    for four samples at once: none of them needs another of the four, so the four sums run side
    by side in vector lanes, off the chain from one sample to the next, which keeps only the
    three newest samples' int64 terms. The sums are exact: samples of at most 25 bits (24 and the
    side channel's one, in every frame that passes the range check) times coefficients of at
    most 15 make products below 2**40 and sums of 29 below 2**45, integers float64 holds
    exactly, whatever their order. (Over int64 dot
    products the predictor's multiplies bound the loop: in one A/B run, 3.3 / 4.0 / 9.3 ns a
    sample at orders 8 / 12 / 32, against 2.9 / 3.5 / 4.7 here, with a copy of the block in
    both; 10-12 % off the decoding of real files.)
    """

    @kernel
    def restored(dst, n, coefs, order, shift, mirror):
        for i in range(order, min(width, n)):
            dst[i] += _predicted(dst, i, coefs, order, shift)
        if n <= width:
            return
        # A fresh array (one a subframe): LLVM knows no store to dst or mirror changes it, and keeps
        # the taps in registers (a slice of a shared scratch array was reloaded every group).
        window = np.zeros(width - 3)
        for j in range(3, order):
            window[width - 1 - j] = coefs[j]
        for i in range(width):
            mirror[i] = min(max(dst[i], -_MIRROR_BOUND), _MIRROR_BOUND)
        c0 = coefs[0]
        c1 = coefs[1] if order > 1 else 0
        c2 = coefs[2] if order > 2 else 0
        last, last1, last2 = dst[width - 1], dst[width - 2], dst[width - 3]
        i = width
        while i + 4 <= n:
            b = i - width
            a0, a1, a2, a3 = 0.0, 0.0, 0.0, 0.0
            for m in range(width - 3):
                w = window[m]
                a0 += w * mirror[b + m]
                a1 += w * mirror[b + m + 1]
                a2 += w * mirror[b + m + 2]
                a3 += w * mirror[b + m + 3]
            last2, last1, last = _step(dst, mirror, i, a0, shift, c0, c1, c2, last, last1, last2)
            last2, last1, last = _step(dst, mirror, i + 1, a1, shift, c0, c1, c2, last, last1, last2)
            last2, last1, last = _step(dst, mirror, i + 2, a2, shift, c0, c1, c2, last, last1, last2)
            last2, last1, last = _step(dst, mirror, i + 3, a3, shift, c0, c1, c2, last, last1, last2)
            i += 4
        for i in range(i, n):  # the last few, one at a time
            a = 0.0
            for m in range(width - 3):
                a += window[m] * mirror[i - width + m]
            last2, last1, last = _step(dst, mirror, i, a, shift, c0, c1, c2, last, last1, last2)

    return restored


_lpc_restored_8, _lpc_restored_12, _lpc_restored_16, _lpc_restored_32 = (_lpc_restorer(w) for w in (8, 12, 16, 32))


@kernel
def _residual(buf, bp, end, bs, dst, order):
    """The residual of a FIXED or LPC subframe of ``order`` into ``dst[order:bs]``; the bit after
    it, or -1."""
    if bp + 6 > end:
        return -1
    method = _bits(buf, bp, 2)
    if method > 1:
        return -1
    pbits = 4 + method
    escape = (1 << pbits) - 1
    po = _bits(buf, bp + 2, 4)
    bp += 6
    part = bs >> po
    if (part << po) != bs or part < order:
        return -1
    i = order
    for p in range(1 << po):
        count = part - (order if p == 0 else 0)
        if bp + pbits > end:
            return -1
        k = _bits(buf, bp, pbits)
        bp += pbits
        if k == escape:  # raw residuals of nb bits
            if bp + 5 > end:
                return -1
            nb = _bits(buf, bp, 5)
            bp += 5
            if bp + nb * count > end:
                return -1
            for j in range(i, i + count):
                dst[j] = _signed(buf, bp, nb)
                bp += nb
        else:
            bp = _rice(buf, bp, end, k, dst, i, count)
            if bp < 0:
                return -1
        i += count
    return bp


@kernel
def _restored(dst, bs, coefs, order, shift, mirror, fixed):
    """The residuals ``dst[order:bs]`` plus the FIXED (``fixed``) or LPC prediction of ``order``
    (``coefs[:order]`` and ``shift`` for LPC), in place; ``mirror`` (float64, ``bs``) is scratch
    for the LPC loop."""
    if fixed:
        _fixed_restored(dst, bs, order)
    elif order <= 8:
        _lpc_restored_8(dst, bs, coefs, order, shift, mirror)
    elif order <= 12:
        _lpc_restored_12(dst, bs, coefs, order, shift, mirror)
    elif order <= 16:
        _lpc_restored_16(dst, bs, coefs, order, shift, mirror)
    else:
        _lpc_restored_32(dst, bs, coefs, order, shift, mirror)
