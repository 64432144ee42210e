"""CPU kernels of the polyphase windowed-sinc resampler.

Output sample ``k`` sits at input time ``t_k`` (``k * down / up`` for a
rational ratio, ``k * step`` otherwise); with ``i = floor(t_k)`` and
``f = t_k - i`` it is the dot product of the taps ``x[i + 1 - half + j]``,
``j = 0 .. n_taps - 1`` (``n_taps >= 2 * half``, padded with zero taps
to a multiple of 16 so the vectorised loop has no tail), with the table row
of phase ``f``::

    row_f[j] = h(f + half - 1 - j)          (h: noisegen._kernels.resample.sinc_kernel)

The table is built on the host by :func:`noisegen._resample_design.filter_table`
(NumPy, no compile). Rational ratios use one exact row per phase ``r / up``. Other ratios use
``n_phases + 1`` rows at ``p / n_phases`` and blend the two dot products of
the phases around ``f`` linearly. The input is passed zero-padded, together
with the absolute index ``offset`` of its first sample, so a streaming caller
and a one-shot caller run the same arithmetic for every output sample.
"""

from __future__ import annotations

import math

from ..._jit import kernel

#: Outputs computed per load of a table row (the slot count of :func:`_rational_row`).
SLOTS = 12


@kernel
def resample_rational(xp, offset, k0, up, down, half, padded, out):
    """``out[c, m]`` = output sample ``k0 + m`` of the ratio ``up / down``.

    ``xp[c, 0]`` is input sample ``offset`` (negative indices are zero padding).
    Twelve outputs that share a table row are computed together: one load of
    each tap serves twelve dot products, and twelve independent accumulators
    hide the FMA latency (2.5x one output at a time; twelve measured 3-5 %
    over eight). Slots past the end reuse the first window and are not
    stored, so every output runs the same arithmetic however the outputs are
    chunked.

    The loop is bound by loads, and an unaligned 8-float load straddles two
    cache lines 7 times in 16, so every input load falls on a 32-byte
    boundary (1.2-1.4x). ``padded[r]`` is table row ``r`` with 8 zeros on
    either side; read from ``8 - a`` it is the row moved ``a`` taps later, so
    the window of an output whose first tap falls on absolute input index
    ``s`` can start at ``s - a``, ``a = s mod 8`` (only the one table load per
    twelve multiply-adds stays unaligned). The caller makes absolute index
    ``8 q`` land on a 32-byte boundary (``offset`` a multiple of 8, rows of
    ``xp`` aligned: :func:`noisegen.resample._aligned_zeros`). The arithmetic
    of each output depends only on ``s mod 8``, never on the buffer, so
    chunked and one-shot runs agree exactly (and a misaligned buffer is only
    slower). The twelve slots of a group are ``spacing`` outputs apart, which
    moves their windows by a multiple of 8 inputs: they share one row and
    one shift.
    """
    for c in range(out.shape[0]):
        _rational_row(xp[c], offset, k0, up, down, half, padded, out[c])


@kernel
def resample_rational_blocked(y, up, down, half, padded, scratch, out):
    """:func:`resample_rational` of a whole signal ``y[c]`` (zero outside it), one block at a time.

    Each block of outputs copies the inputs it reads into ``scratch`` (a
    reused, 64-byte aligned buffer that stays in cache) and runs the same row
    loop, so ``y`` needs no padded copy and may have any alignment. The
    outputs are those of :func:`resample_rational`, bit for bit (each output's
    arithmetic depends only on its absolute index).
    """
    n, n_out = y.shape[1], out.shape[1]
    n_taps = padded.shape[1] - 8
    group = SLOTS * _slot_period(down) * up  # outputs of one full set of slot groups
    fits = (scratch.shape[0] - n_taps - 16) * up // down // group * group
    per_block = max(group, fits)
    for c in range(out.shape[0]):
        x = y[c]
        for k0 in range(0, n_out, per_block):
            k1 = min(n_out, k0 + per_block)
            lo = (((k0 * down) // up + 1 - half) // 8) * 8  # aligned; the first window starts here or later
            hi = ((k1 - 1) * down) // up + 1 - half + n_taps + 8  # past the last input read
            width = hi - lo
            if width > scratch.shape[0]:
                raise ValueError("scratch holds less than one set of slot groups")
            buf = scratch[:width]
            a = min(max(0, -lo), width)  # buf[a:b] holds inputs, zeros around them
            b = max(a, min(n - lo, width))
            # Explicit loops over slices (slice assignment here costs seconds of compile;
            # slices let LLVM drop the negative-index wraparound and vectorise the copy).
            head, body, tail, src = buf[:a], buf[a:b], buf[b:], x[lo + a : lo + b]
            for t in range(head.shape[0]):
                head[t] = 0.0
            for t in range(body.shape[0]):
                body[t] = src[t]
            for t in range(tail.shape[0]):
                tail[t] = 0.0
            _rational_row(buf, lo, k0, up, down, half, padded, out[c][k0:k1])


@kernel(inline="always")
def _slot_period(down):
    """Smallest power of two ``p`` (at most 8) with ``p * down`` a multiple of 8."""
    period = 8
    while period > 1 and (period // 2) * down % 8 == 0:
        period //= 2
    return period


@kernel
def _rational_row(x, offset, k0, up, down, half, padded, o):
    """One channel of :func:`resample_rational`: ``o[m]`` = output ``k0 + m`` from ``x``."""
    n_out = o.shape[0]
    n_taps = padded.shape[1] - 8  # each window: the row's taps plus up to 7 leading zeros
    period = _slot_period(down)
    spacing = period * up  # outputs between slots
    jump = period * down  # inputs between slots, a multiple of 8
    block = SLOTS * spacing  # (the twelve slots below are written out: SLOTS must stay 12)
    for base in range(0, n_out, block):
        for m0 in range(spacing):
            m = base + m0
            if m >= n_out:
                break
            pos = (k0 + m) * down
            i = pos // up
            first = i + 1 - half
            a = first % 8
            row = padded[pos - i * up, 8 - a : 8 - a + n_taps]
            s0 = first - a - offset
            s1 = s0 + 1 * jump if m + 1 * spacing < n_out else s0
            s2 = s0 + 2 * jump if m + 2 * spacing < n_out else s0
            s3 = s0 + 3 * jump if m + 3 * spacing < n_out else s0
            s4 = s0 + 4 * jump if m + 4 * spacing < n_out else s0
            s5 = s0 + 5 * jump if m + 5 * spacing < n_out else s0
            s6 = s0 + 6 * jump if m + 6 * spacing < n_out else s0
            s7 = s0 + 7 * jump if m + 7 * spacing < n_out else s0
            s8 = s0 + 8 * jump if m + 8 * spacing < n_out else s0
            s9 = s0 + 9 * jump if m + 9 * spacing < n_out else s0
            s10 = s0 + 10 * jump if m + 10 * spacing < n_out else s0
            s11 = s0 + 11 * jump if m + 11 * spacing < n_out else s0
            x0 = x[s0 : s0 + n_taps]
            x1 = x[s1 : s1 + n_taps]
            x2 = x[s2 : s2 + n_taps]
            x3 = x[s3 : s3 + n_taps]
            x4 = x[s4 : s4 + n_taps]
            x5 = x[s5 : s5 + n_taps]
            x6 = x[s6 : s6 + n_taps]
            x7 = x[s7 : s7 + n_taps]
            x8 = x[s8 : s8 + n_taps]
            x9 = x[s9 : s9 + n_taps]
            x10 = x[s10 : s10 + n_taps]
            x11 = x[s11 : s11 + n_taps]
            zero = o.dtype.type(0.0)
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = a10 = a11 = zero
            for j in range(n_taps):
                h = row[j]
                a0 += h * x0[j]
                a1 += h * x1[j]
                a2 += h * x2[j]
                a3 += h * x3[j]
                a4 += h * x4[j]
                a5 += h * x5[j]
                a6 += h * x6[j]
                a7 += h * x7[j]
                a8 += h * x8[j]
                a9 += h * x9[j]
                a10 += h * x10[j]
                a11 += h * x11[j]
            o[m] = a0
            if s11 != s0:  # all twelve slots are in range
                o[m + 1 * spacing] = a1
                o[m + 2 * spacing] = a2
                o[m + 3 * spacing] = a3
                o[m + 4 * spacing] = a4
                o[m + 5 * spacing] = a5
                o[m + 6 * spacing] = a6
                o[m + 7 * spacing] = a7
                o[m + 8 * spacing] = a8
                o[m + 9 * spacing] = a9
                o[m + 10 * spacing] = a10
                o[m + 11 * spacing] = a11
            else:
                for w, acc in enumerate((a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11)):
                    if m + (w + 1) * spacing < n_out:
                        o[m + (w + 1) * spacing] = acc


@kernel
def resample_interp(xp, offset, k0, step, half, n_phases, table, out):
    """``out[c, m]`` = output sample ``k0 + m`` at input time ``(k0 + m) * step``."""
    n_ch, n_out = out.shape
    n_taps = table.shape[1]
    for c in range(n_ch):
        x = xp[c]
        o = out[c]
        for m in range(n_out):
            t = (k0 + m) * step
            i = math.floor(t)
            pf = (t - i) * n_phases
            p = int(pf)
            if p > n_phases - 1:
                p = n_phases - 1
            w = pf - p
            start = int(i) + 1 - half - offset
            xs = x[start : start + n_taps]
            row0 = table[p]
            row1 = table[p + 1]
            acc0 = o.dtype.type(0.0)
            acc1 = o.dtype.type(0.0)
            for j in range(n_taps):
                v = xs[j]
                acc0 += row0[j] * v
                acc1 += row1[j] * v
            o[m] = acc0 + (acc1 - acc0) * w

