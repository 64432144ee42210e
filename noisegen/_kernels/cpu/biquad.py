"""Biquad-cascade kernels (the loops; the per-sample math is in ``_kernels/biquad.py``).

``sos`` has scipy's layout: one row ``[b0, b1, b2, 1, a1, a2]`` per section.
``state[c, s, :]`` holds the two TDF-II state values of section ``s`` for
channel ``c`` (float64), read before the first sample and written back after
the last, so a stream of chunks equals one pass.

Speed: the recursion of one section is latency-bound (a multiply-add chain
per sample). Running up to four sections per sample with every coefficient
and state value in a local variable lets the CPU overlap the sections'
chains (section k on sample n while section k+1 is on sample n-1), instead of
reloading state from memory per section as a generic loop does. Longer
cascades run in passes of four, then two, then one section.

fastmath is limited to ``contract`` (fused multiply-add) here
(:data:`~noisegen._core.jit.CONTRACT_ONLY`: with ``reassoc`` LLVM regroups
``(d1*x + z2) - a1*z1`` into a longer dependency chain through ``z1`` and the
kernel runs slower, bench/KERNELS.md).
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import CONTRACT_ONLY, kernel
from ..biquad import biquad_coefficients, biquad_step


@kernel(**CONTRACT_ONLY)
def _pass4(sos, s, x, out, st):
    b00, b01, b02, a01, a02 = biquad_coefficients(sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5])
    b10, b11, b12, a11, a12 = biquad_coefficients(sos[s + 1, 0], sos[s + 1, 1], sos[s + 1, 2], sos[s + 1, 4], sos[s + 1, 5])
    b20, b21, b22, a21, a22 = biquad_coefficients(sos[s + 2, 0], sos[s + 2, 1], sos[s + 2, 2], sos[s + 2, 4], sos[s + 2, 5])
    b30, b31, b32, a31, a32 = biquad_coefficients(sos[s + 3, 0], sos[s + 3, 1], sos[s + 3, 2], sos[s + 3, 4], sos[s + 3, 5])
    p1, p2 = st[s, 0], st[s, 1]
    q1, q2 = st[s + 1, 0], st[s + 1, 1]
    r1, r2 = st[s + 2, 0], st[s + 2, 1]
    t1, t2 = st[s + 3, 0], st[s + 3, 1]
    for i in range(x.shape[0]):
        v = 1.0 * x[i]
        v, p1, p2 = biquad_step(v, b00, b01, b02, a01, a02, p1, p2)
        v, q1, q2 = biquad_step(v, b10, b11, b12, a11, a12, q1, q2)
        v, r1, r2 = biquad_step(v, b20, b21, b22, a21, a22, r1, r2)
        v, t1, t2 = biquad_step(v, b30, b31, b32, a31, a32, t1, t2)
        out[i] = v
    st[s, 0], st[s, 1] = p1, p2
    st[s + 1, 0], st[s + 1, 1] = q1, q2
    st[s + 2, 0], st[s + 2, 1] = r1, r2
    st[s + 3, 0], st[s + 3, 1] = t1, t2


@kernel(**CONTRACT_ONLY)
def _pass2(sos, s, x, out, st):
    b00, b01, b02, a01, a02 = biquad_coefficients(sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5])
    b10, b11, b12, a11, a12 = biquad_coefficients(sos[s + 1, 0], sos[s + 1, 1], sos[s + 1, 2], sos[s + 1, 4], sos[s + 1, 5])
    p1, p2 = st[s, 0], st[s, 1]
    q1, q2 = st[s + 1, 0], st[s + 1, 1]
    for i in range(x.shape[0]):
        v = 1.0 * x[i]
        v, p1, p2 = biquad_step(v, b00, b01, b02, a01, a02, p1, p2)
        v, q1, q2 = biquad_step(v, b10, b11, b12, a11, a12, q1, q2)
        out[i] = v
    st[s, 0], st[s, 1] = p1, p2
    st[s + 1, 0], st[s + 1, 1] = q1, q2


@kernel(**CONTRACT_ONLY)
def _pass1(sos, s, x, out, st):
    b00, b01, b02, a01, a02 = biquad_coefficients(sos[s, 0], sos[s, 1], sos[s, 2], sos[s, 4], sos[s, 5])
    p1, p2 = st[s, 0], st[s, 1]
    for i in range(x.shape[0]):
        v, p1, p2 = biquad_step(1.0 * x[i], b00, b01, b02, a01, a02, p1, p2)
        out[i] = v
    st[s, 0], st[s, 1] = p1, p2


#: Samples per block of the float64 scratch buffer (fits in L1 cache).
BLOCK = 2048


@kernel(**CONTRACT_ONLY)
def _next_pass(sos, s, src, dst, st):
    """Run sections ``s..`` (four, two or one of them) from ``src`` into ``dst``; returns the next section."""
    left = sos.shape[0] - s
    if left >= 4:
        _pass4(sos, s, src, dst, st)
        return s + 4
    if left >= 2:
        _pass2(sos, s, src, dst, st)
        return s + 2
    _pass1(sos, s, src, dst, st)
    return s + 1


@kernel(**CONTRACT_ONLY)
def _cascade(sos, src, dst, st):
    """Run every section over ``src`` into the float64 ``dst`` (later passes in place)."""
    s = _next_pass(sos, 0, src, dst, st)
    while s < sos.shape[0]:
        s = _next_pass(sos, s, dst, dst, st)


@kernel(**CONTRACT_ONLY)
def sosfilt(sos, x, out, state):
    """Filter every row of ``x`` (channels, n) through the cascade into ``out``.

    ``out`` may be ``x`` itself (in place). The signal between passes is held
    in a float64 block buffer, never in ``out``'s dtype: a float32
    intermediate would round (and could under- or overflow) between sections.
    Returns the sum of the outputs as stored (NaN or inf when one of them is).
    """
    n = x.shape[1]
    tmp = np.empty(min(n, BLOCK))
    total = 0.0
    for c in range(x.shape[0]):
        st = state[c]
        for i0 in range(0, n, BLOCK):
            i1 = min(i0 + BLOCK, n)
            buf = tmp[: i1 - i0]
            _cascade(sos, x[c, i0:i1], buf, st)
            total += _store(buf, out[c, i0:i1])
    return total


@kernel
def _store(buf, dst):
    """Copy ``buf`` into ``dst`` (rounding to its dtype); returns the sum of the stored values.

    Default fast-math (``reassoc``) so the sum vectorises instead of adding a
    serial chain per sample; NaN and inf still reach the sum.
    """
    acc = 0.0
    for i in range(buf.shape[0]):
        dst[i] = buf[i]
        acc += dst[i]
    return acc
