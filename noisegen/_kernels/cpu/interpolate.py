"""CPU kernel of upsampling by 2 with a symmetric FIR: outputs across vector lanes.

Both outputs of an input instant are sums of pairs of inputs
(:mod:`noisegen._design.folded`): the even one on the instant, the odd
one halfway to the next. Each block of the input is staged in a small buffer
(zeros outside the signal); for every group of ``FIR_VECTORS * lanes``
instants :func:`~noisegen._kernels.cpu._simd.folded_fir` forms the even
outputs and then the odd ones, consecutive outputs side by side in the lanes
(both members of a pair forward loads, no lane sums), and the two are
interleaved into the output. Every output has the same arithmetic wherever
it falls, so streaming and one-shot runs agree bit for bit. A pair sum
overflows when both inputs exceed half the largest float: an output that
comes out NaN or inf is computed again as a plain dot product, as the
decimator does.
"""

from __future__ import annotations

import math

import numpy as np

from ..._core.jit import kernel
from ._simd import FIR_VECTORS, VECTOR_BYTES, folded_fir
from .decimate import BLOCK_INPUTS, plain_dot, stage_phases


@kernel
def interpolate2(x, offset, k0, chains0, taps0, h0, chains1, taps1, h1, lead, reach, scratch, out):
    """``out[c, m]`` = output ``k0 + m`` of upsampling ``x[c]`` by 2 (``x[c, t]`` is input
    ``offset + t``, zero outside the row).

    ``chains0, taps0`` and ``chains1, taps1`` are the folded pairs of the
    even row (plain taps ``h0``, ``2 half - 1``) and the odd row (``h1``,
    ``2 half``) (:func:`noisegen._design.folded.interpolation_folds`; ``lead``
    and ``reach`` cover both). ``scratch`` holds one staged block (at
    least ``lanes * FIR_VECTORS + lead + reach + 32``). Returns the sum of the
    outputs (NaN or inf when one of them is).
    """
    lanes = VECTOR_BYTES // out.itemsize
    group = FIR_VECTORS * lanes
    per_block = max(group, min(BLOCK_INPUTS, scratch.shape[0] - lead - reach - 16) // group * group)
    width = -(-(per_block + lead + reach) // 16) * 16  # whole 64-byte lines
    if width > scratch.shape[0]:
        raise ValueError("scratch holds less than one group of outputs")
    a0, b0 = lead + chains0[:, 1], lead + chains0[:, 3]
    a1, b1 = lead + chains1[:, 1], lead + chains1[:, 3]
    half = h1.shape[0] // 2
    centre_tap = h0[half - 1]
    zero = out.dtype.type(0.0)
    even = np.empty(group, out.dtype)
    odd = np.empty(group, out.dtype)
    n_out = out.shape[1]
    total = zero
    if n_out == 0:
        return total
    i_end = (k0 + n_out - 1) // 2 + 1  # past the last instant with an output
    for c in range(out.shape[0]):
        o = out[c]
        for i0 in range(k0 // 2, i_end, per_block):
            stage_phases(x[c], i0 - lead - offset, 1, width, scratch)
            for m in range(0, min(per_block, i_end - i0), group):
                s_even = folded_fir(scratch[m:], a0, b0, taps0, lead, centre_tap, even, 0)
                s_odd = folded_fir(scratch[m:], a1, b1, taps1, lead, zero, odd, 0)
                i = i0 + m  # the instant of even[0]
                # Each sum checked on its own: LLVM folded away the check of their sum (measured).
                redo = not (math.isfinite(s_even) and math.isfinite(s_odd))
                if redo:  # a pair sum may have overflowed: those outputs again, plainly
                    _redo(x[c], i + 1 - half - offset, h0, h1, even, odd)
                base = 2 * i - k0  # where even[0] goes in o
                if not redo and base >= 0 and base + 2 * group <= n_out:
                    for q in range(group):
                        o[base + 2 * q] = even[q]
                        o[base + 2 * q + 1] = odd[q]
                    total += s_even + s_odd
                else:  # the first or last group of the call, or one redone
                    for q in range(group):
                        if 0 <= base + 2 * q < n_out:
                            o[base + 2 * q] = even[q]
                            total += even[q]
                        if 0 <= base + 2 * q + 1 < n_out:
                            o[base + 2 * q + 1] = odd[q]
                            total += odd[q]
    return total


@kernel
def _redo(x, first, h0, h1, even, odd):
    """The non-finite outputs of a group again, as plain dot products with the rows' taps (the
    window of instant ``q`` of the group starts at ``x[first + q]``)."""
    for q in range(even.shape[0]):
        if not math.isfinite(even[q]):
            even[q] = plain_dot(x, first + q, h0)
        if not math.isfinite(odd[q]):
            odd[q] = plain_dot(x, first + q, h1)
