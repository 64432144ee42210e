"""CPU kernel of integer decimation by a symmetric FIR: outputs across vector lanes.

Output ``k`` of decimation by ``down`` with the ``2 half - 1`` taps of a
linear-phase filter (centre tap ``h[half - 1]`` on input ``down * k``) is::

    y[k] = h[half - 1] x[down k] + sum_{d >= 1} h[half - 1 + d] (x[down k - d] + x[down k + d])

Each block of the input is first split into its ``down`` phases ``P_p[i] =
x[down i + p]`` (deinterleaved). In that layout consecutive outputs read
consecutive elements of every phase, so a vector holds consecutive outputs,
both members of a pair are forward loads (no reversed copies), and no lane
sums are needed (:func:`noisegen._kernels.cpu._simd.folded_fir`: a pair is
added, then multiply-added; pairs go in chains whose windows move by whole
vectors, so one load serves several outputs). Every output has the same
arithmetic wherever it falls, so streaming and one-shot runs agree bit for
bit. A pair sum overflows when both inputs exceed half the largest float:
an output that comes out NaN or inf is computed again as a plain dot
product (:func:`plain_dot`), so it is non-finite only when that is.
"""

from __future__ import annotations

import math

import numpy as np

from ..._core.jit import kernel
from ._simd import FIR_STEPS, FIR_VECTORS, VECTOR_BYTES, folded_fir

#: Pairs per chain and vectors of outputs per call of the folded FIR (its unrolling).
STEPS, VECTORS = FIR_STEPS, FIR_VECTORS
#: Inputs staged per block (all phases): the block and its outputs stay in L1/L2.
BLOCK_INPUTS = 4096


@kernel
def decimate(x, offset, k0, down, half, chains, taps, lead, reach, h, scratch, out):
    """``out[c, m]`` = output ``k0 + m`` of decimation by ``down`` of ``x[c]``
    (``x[c, t]`` is input ``offset + t``, zero outside the row).

    ``chains`` (rows ``phase_a, off_a, phase_b, off_b``) and ``taps`` are the
    folded filter of :func:`noisegen._design.folded.folded_chains` (with its
    ``lead`` and ``reach``: phase elements read before and after an output);
    ``h`` the plain taps. ``scratch`` holds the staged phases (at least
    ``down * (lanes * FIR_VECTORS + lead + reach + 16)``). Returns the sum of
    the outputs (NaN or inf when one of them is).
    """
    lanes = VECTOR_BYTES // out.itemsize
    group = FIR_VECTORS * lanes
    per_block = max(group, min(BLOCK_INPUTS // down, scratch.shape[0] // down - lead - reach - 16) // group * group)
    width = -(-(per_block + lead + reach) // 16) * 16  # one phase row, whole 64-byte lines
    if down * width > scratch.shape[0]:
        raise ValueError("scratch holds less than one group of outputs")
    a_starts = np.empty(chains.shape[0], np.int64)
    b_starts = np.empty(chains.shape[0], np.int64)
    for ch in range(chains.shape[0]):
        a_starts[ch] = chains[ch, 0] * width + lead + chains[ch, 1]
        b_starts[ch] = chains[ch, 2] * width + lead + chains[ch, 3]
    centre_tap = h[half - 1]
    tmp = np.empty(group, out.dtype)
    n_out = out.shape[1]
    total = out.dtype.type(0.0)
    for c in range(out.shape[0]):
        for m0 in range(0, n_out, per_block):
            stage_phases(x[c], down * (k0 + m0 - lead) - offset, down, width, scratch)
            o = out[c, m0 : min(n_out, m0 + per_block)]
            for m in range(0, o.shape[0], group):
                full = m + group <= o.shape[0]
                dst = o[m : m + group] if full else tmp  # the last outputs go through tmp
                s = folded_fir(scratch[m:], a_starts, b_starts, taps, lead, centre_tap, dst, 0)
                if not math.isfinite(s):  # a pair sum may have overflowed: those outputs again, plainly
                    first = down * (k0 + m0 + m) + 1 - half - offset
                    s = out.dtype.type(0.0)
                    for i in range(group):
                        if not math.isfinite(dst[i]):
                            dst[i] = plain_dot(x[c], first + down * i, h)
                        s += dst[i]
                if not full:
                    s = out.dtype.type(0.0)
                    for i in range(o.shape[0] - m):
                        o[m + i] = tmp[i]
                        s += tmp[i]
                total += s
    return total


@kernel
def plain_dot(x, first, h):
    """``sum_j h[j] x[first + j]`` (zero outside ``x``) over every tap, so its arithmetic
    does not depend on where ``x`` starts."""
    acc = x.dtype.type(0.0)
    for j in range(h.shape[0]):
        acc += h[j] * _at(x, first + j)
    return acc


@kernel(inline="always")
def _at(x, j):
    """``x[j]``, zero outside ``x``."""
    return x[j] if 0 <= j < x.shape[0] else x.dtype.type(0.0)


@kernel
def stage_phases(x, at, down, width, buf):
    """``buf[p * width + i] = x[at + down * i + p]`` for the ``down`` phases ``p``, zero outside ``x``."""
    n = x.shape[0]
    i0 = min(width, max(0, -(at // down)))  # first i whose every phase lies in x
    i1 = min(width, max(i0, (n - at) // down))  # past the last
    for p in range(down):
        row = buf[p * width : (p + 1) * width]
        for i in range(i0):
            row[i] = _at(x, at + down * i + p)
        for i in range(i1, width):
            row[i] = _at(x, at + down * i + p)
    src = x[at + down * i0 : at + down * i1]
    if down == 2:  # constant strides: LLVM vectorises these with shuffles
        r0, r1 = buf[i0:i1], buf[width + i0 : width + i1]
        for i in range(i1 - i0):
            r0[i] = src[2 * i]
            r1[i] = src[2 * i + 1]
    elif down == 3:
        r0, r1, r2 = buf[i0:i1], buf[width + i0 : width + i1], buf[2 * width + i0 : 2 * width + i1]
        for i in range(i1 - i0):
            r0[i] = src[3 * i]
            r1[i] = src[3 * i + 1]
            r2[i] = src[3 * i + 2]
    else:
        for p in range(down):
            row = buf[p * width + i0 : p * width + i1]
            for i in range(i1 - i0):
                row[i] = src[down * i + p]
