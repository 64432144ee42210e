"""CPU kernels of the polyphase windowed-sinc resampler.

Output sample ``k`` sits at input time ``t_k`` (``k * down / up`` for a
rational ratio, ``k * step`` otherwise); with ``i = floor(t_k)`` and
``f = t_k - i`` it is the dot product of the taps ``x[i + 1 - half + j]``,
``j = 0 .. n_taps - 1`` (``n_taps >= 2 * half``, padded with zero taps
to a multiple of 16 so a vectorised loop has no tail), with the table row
of phase ``f``::

    row_f[j] = h(f + half - 1 - j)          (h: the low-pass prototype of the plan)

The table is built on the host by :func:`noisegen._design.resample.filter_table`
(NumPy, no compile). Rational ratios use one exact row per phase ``r / up``. Other ratios use
``n_phases + 1`` rows at ``p / n_phases`` and blend the two dot products of
the phases around ``f`` linearly. The input is passed zero-padded, together
with the absolute index ``offset`` of its first sample, so a streaming caller
and a one-shot caller run the same arithmetic for every output sample.
"""

from __future__ import annotations

import math

from ..._core.jit import kernel
from ._simd import dot_products

#: Outputs computed per load of a table row (the slot count of :func:`_slot_group`).
SLOTS = 12
#: Inputs one tile of :func:`_rational_row` spans (24 KiB of float32: fits L1 with the table rows).
TILE_INPUTS = 6144


@kernel
def resample_rational(xp, offset, k0, up, down, half, padded, out):
    """``out[c, m]`` = output sample ``k0 + m`` of the ratio ``up / down``.

    ``xp[c, 0]`` is input sample ``offset`` (negative indices are zero padding).
    Twelve outputs that share a table row are computed together: one load of
    each vector of taps serves twelve dot products
    (:func:`noisegen._kernels.cpu._simd.dot_products`, explicit 32-byte vectors
    whose arithmetic does not depend on how many outputs share it, so
    chunked and one-shot runs agree exactly).

    The loop is bound by loads, and an unaligned 8-float load straddles two
    cache lines 7 times in 16, so every input load falls on a 32-byte
    boundary. ``padded[r]`` is table row ``r`` with 8 zeros
    before its taps and zeros after them; read from ``8 - a`` it is the row
    moved ``a`` taps later, so the window of an output whose first tap falls
    on absolute input index ``s`` can start at ``s - a``, ``a = s mod 8``
    (only the one table load per twelve multiply-adds stays unaligned). A
    window is the taps after the largest shift any output of the ratio
    needs, in whole vectors (:func:`noisegen._design.resample.window_width`).
    The caller makes absolute index ``8 q`` land on a 32-byte boundary
    (``offset`` a multiple of 8, rows of ``xp`` aligned:
    :func:`noisegen.effects.resample._aligned_zeros`). The arithmetic of each output
    depends only on ``s mod 8``, never on the buffer (a misaligned buffer is
    only slower). The twelve slots of a group are ``spacing`` outputs apart,
    which moves their windows by a multiple of 8 inputs: they share one row
    and one shift. Returns the sum of the outputs (NaN or inf when one of them is).
    """
    total = out.dtype.type(0.0)
    for c in range(out.shape[0]):
        total += _rational_row(xp[c], offset, k0, up, down, half, padded, out[c])
    return total


@kernel
def resample_rational_blocked(y, up, down, half, padded, scratch, out):
    """:func:`resample_rational` of a whole signal ``y[c]`` (zero outside it), one block at a time.

    Each block of outputs copies the inputs it reads into ``scratch`` (a
    reused, 64-byte aligned buffer that stays in cache) and runs the same row
    loop, so ``y`` needs no padded copy and may have any alignment. The
    outputs are those of :func:`resample_rational`, bit for bit (each output's
    arithmetic depends only on its absolute index). Returns the sum of the
    outputs: NaN or inf when one of them is, so the caller needs no second
    pass to find them.
    """
    n, n_out = y.shape[1], out.shape[1]
    n_taps = padded.shape[1] - 8
    total = out.dtype.type(0.0)
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
            total += _rational_row(buf, lo, k0, up, down, half, padded, out[c][k0:k1])
    return total


@kernel(inline="always")
def _slot_period(down):
    """Smallest power of two ``p`` (at most 8) with ``p * down`` a multiple of 8."""
    period = 8
    while period > 1 and (period // 2) * down % 8 == 0:
        period //= 2
    return period


@kernel
def _rational_row(x, offset, k0, up, down, half, padded, o):
    """One channel of :func:`resample_rational`: ``o[m]`` = output ``k0 + m`` from ``x``.

    Phase ``m0 < spacing`` fixes a table row and a shift; its outputs ``m0 +
    g * spacing`` read that row through windows ``jump`` inputs apart, twelve
    at a time. The outputs go in tiles of about :data:`TILE_INPUTS` inputs:
    within a tile, phase by phase, so the row and shift are worked out once
    per phase and tile and the windows stay in L1 (rather than one group of
    every phase in turn).
    """
    n_out = o.shape[0]
    n_taps = padded.shape[1] - 8  # each window: the row's taps after up to 7 leading zeros
    period = _slot_period(down)
    spacing = period * up  # outputs between slots
    jump = period * down  # inputs between slots, a multiple of 8
    block = SLOTS * spacing  # outputs of one group of every phase
    step = SLOTS * jump  # inputs from one group of a phase to its next
    tile = max(1, TILE_INPUTS // step)  # groups per tile
    n_groups = -(-n_out // block)
    total = o.dtype.type(0.0)
    for g0 in range(0, n_groups, tile):
        g1 = min(n_groups, g0 + tile)
        for m0 in range(min(spacing, n_out - g0 * block)):
            pos = (k0 + g0 * block + m0) * down
            i = pos // up
            first = i + 1 - half
            a = first % 8
            row = padded[pos - i * up, 8 - a : 8 - a + n_taps]
            start = first - a - offset
            for g in range(g0, g1):
                m = g * block + m0
                if m >= n_out:
                    break
                if m + (SLOTS - 1) * spacing < n_out:
                    total += _slot_group(x, start, jump, row, o, m, spacing)
                else:  # the phase's last slots
                    count = (n_out - 1 - m) // spacing + 1
                    total += _slot_group_tail(x, start, jump, count, row, o, m, spacing)
                start += step
    return total


@kernel(inline="always")  # inlined into the tile loop (bench/KERNELS.md)
def _slot_group(x, start, jump, row, o, m, spacing):
    """``o[m + w * spacing]`` = ``row`` . ``x[start + w * jump :]`` for the twelve slots ``w``;
    returns their sum.

    One load of each vector of taps serves twelve dot products, and twelve
    independent accumulators hide the FMA latency (why twelve:
    bench/KERNELS.md).
    """
    s = start
    windows = (s, s + jump, s + 2 * jump, s + 3 * jump, s + 4 * jump, s + 5 * jump, s + 6 * jump,
               s + 7 * jump, s + 8 * jump, s + 9 * jump, s + 10 * jump, s + 11 * jump)
    a = dot_products(x, windows, row, 0, row.shape[0])
    for w in range(SLOTS):
        o[m + w * spacing] = a[w]
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7] + a[8] + a[9] + a[10] + a[11]


@kernel
def _slot_group_tail(x, start, jump, count, row, o, m, spacing):
    """:func:`_slot_group` for the last ``count < 12`` slots of a phase, four at a time, then the
    last three or two together, the last one alone (:func:`dot_products` gives every output the
    same bits however many it computes together); returns their sum. A ratio of many phases
    (a random pitch shift's 256-512) has only a few slots per phase and shift, and single
    chains load the row again for each slot and wait on their own multiply-adds."""
    total = o.dtype.type(0.0)
    w = 0
    while w + 4 <= count:
        s = start + w * jump
        a = dot_products(x, (s, s + jump, s + 2 * jump, s + 3 * jump), row, 0, row.shape[0])
        for v in range(4):
            o[m + (w + v) * spacing] = a[v]
            total += a[v]
        w += 4
    if count - w == 3:
        s = start + w * jump
        a3 = dot_products(x, (s, s + jump, s + 2 * jump), row, 0, row.shape[0])
        for v in range(3):
            o[m + (w + v) * spacing] = a3[v]
            total += a3[v]
        w += 3
    elif count - w == 2:
        s = start + w * jump
        a2 = dot_products(x, (s, s + jump), row, 0, row.shape[0])
        for v in range(2):
            o[m + (w + v) * spacing] = a2[v]
            total += a2[v]
        w += 2
    while w < count:
        o[m + w * spacing] = dot_products(x, (start + w * jump,), row, 0, row.shape[0])[0]
        total += o[m + w * spacing]
        w += 1
    return total


@kernel
def resample_interp(xp, offset, k0, step, half, n_phases, table, out):
    """``out[c, m]`` = output sample ``k0 + m`` at input time ``(k0 + m) * step``.

    Each output blends the dot products of its window with the two table
    rows around its phase. Four outputs go together through
    :func:`~noisegen._kernels.cpu._simd.dot_products` (eight products, eight
    accumulators; the window's taps are loaded once for both rows), the last
    few one at a time with the same bits. Returns the sum of the outputs.
    """
    n_ch, n_out = out.shape
    n_taps = table.shape[1]
    flat = table.reshape(-1)  # row p starts at p * n_taps
    total = out.dtype.type(0.0)
    for c in range(n_ch):
        x = xp[c]
        o = out[c]
        m = 0
        while m + 4 <= n_out:
            s0, r0, w0 = _interp_phase(k0 + m, step, half, n_phases, offset, n_taps)
            s1, r1, w1 = _interp_phase(k0 + m + 1, step, half, n_phases, offset, n_taps)
            s2, r2, w2 = _interp_phase(k0 + m + 2, step, half, n_phases, offset, n_taps)
            s3, r3, w3 = _interp_phase(k0 + m + 3, step, half, n_phases, offset, n_taps)
            a = dot_products(x, (s0, s0, s1, s1, s2, s2, s3, s3), flat,
                             (r0, r0 + n_taps, r1, r1 + n_taps, r2, r2 + n_taps, r3, r3 + n_taps), n_taps)
            o[m] = a[0] + (a[1] - a[0]) * w0
            o[m + 1] = a[2] + (a[3] - a[2]) * w1
            o[m + 2] = a[4] + (a[5] - a[4]) * w2
            o[m + 3] = a[6] + (a[7] - a[6]) * w3
            total += o[m] + o[m + 1] + o[m + 2] + o[m + 3]
            m += 4
        while m < n_out:
            s0, r0, w0 = _interp_phase(k0 + m, step, half, n_phases, offset, n_taps)
            a1 = dot_products(x, (s0, s0), flat, (r0, r0 + n_taps), n_taps)
            o[m] = a1[0] + (a1[1] - a1[0]) * w0
            total += o[m]
            m += 1
    return total


@kernel(inline="always")
def _interp_phase(k, step, half, n_phases, offset, n_taps):
    """``(window start in xp, offset of the lower table row in the flat table, blend weight)`` of output ``k``."""
    t = k * step
    i = math.floor(t)
    pf = (t - i) * n_phases
    p = int(pf)
    if p > n_phases - 1:
        p = n_phases - 1
    return int(i) + 1 - half - offset, p * n_taps, pf - p
