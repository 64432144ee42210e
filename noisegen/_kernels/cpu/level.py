"""Sample-wise level kernels."""

from __future__ import annotations

import numpy as np

from ..._core.jit import exact_kernel, kernel


@kernel
def scale(x, g, out):
    """``out[i] = x[i] * g`` over 1-D contiguous arrays (``g`` in their dtype); returns the sum of
    the outputs in their dtype, NaN or inf when an output is (or, rarely, when the sum overflows
    on its own): the caller's finiteness check, from the same pass."""
    total = out.dtype.type(0.0)
    for i in range(x.shape[0]):
        v = x[i] * g
        out[i] = v
        total += v
    return total


@kernel
def max_magnitude_bits(bits, mask):
    """The largest ``bits[i] & mask`` (0 when empty): the bit pattern of the largest magnitude of
    the floats that ``bits`` views (``mask`` clears the sign), ordered as the magnitudes are, with
    inf above every finite value and NaN above inf. Integer arithmetic: one vectorised pass, where
    a float maximum is not vectorised without assuming no NaN. (Each masked value is cast back to
    ``bits``' type: Numba widens a 32-bit ``&`` to 64 bits, which halved the vector lanes.)"""
    t = bits.dtype.type
    m = t(0)
    for i in range(bits.shape[0]):
        b = t(bits[i] & mask)
        m = b if b > m else m
    return m


@exact_kernel
def crush(x, scale, inv, out):
    """``out[i] = rint(x[i] * scale) * inv`` over 1-D contiguous arrays (``scale`` a power of two in their
    dtype, ``inv`` its exact reciprocal: the bits of ``np.round(x * scale) / scale``), or ``x[i]`` itself where
    ``x[i] * scale`` overflows (such a sample is a whole multiple of the step already). Strict arithmetic: the
    samples of NumPy's expression, in one pass."""
    for i in range(x.shape[0]):
        v = np.rint(x[i] * scale) * inv
        out[i] = v if np.isfinite(v) else x[i]


@exact_kernel
def mask_span(out, start, head, zeros_to, ramp_back):
    """In place over the rows of 2-D ``out``: sample ``start + k`` times ``head[k]`` (the fade out), times 0
    from there to ``start + zeros_to``, then times ``ramp_back`` read backwards (the fade back in). Strict
    arithmetic: the samples of NumPy's ``out[..., start:stop] *= window`` (0 keeps a sample's sign)."""
    h, m = head.shape[0], ramp_back.shape[0]
    zero = out.dtype.type(0.0)
    for r in range(out.shape[0]):
        # each part a slice indexed from 0: indices Numba can see are not negative (the wrap-around check of
        # out[r, start + k] kept the loops scalar, 5x slower)
        fade_out = out[r, start:start + h]
        for k in range(h):
            fade_out[k] = fade_out[k] * head[k]
        zeros = out[r, start + h:start + zeros_to]
        for k in range(zeros.shape[0]):
            zeros[k] = zeros[k] * zero
        fade_in = out[r, start + zeros_to:start + zeros_to + m]
        for k in range(m):
            fade_in[k] = fade_in[k] * ramp_back[m - 1 - k]


@exact_kernel
def divide(x, first, second, factor, out):
    """``out[i] = x[i] / first / second * factor`` in float64 (``first``, ``second``, ``factor`` float64),
    rounded to ``out``'s dtype, over 1-D contiguous arrays. Strict arithmetic: the samples of NumPy's
    ``(x.astype(np.float64) / first / second * factor).astype(out.dtype)``, in one pass (dividing by a
    ``second`` of 1.0, which is exact, is skipped: a float64 division costs more than the pass)."""
    if second == 1.0:
        for i in range(x.shape[0]):
            out[i] = np.float64(x[i]) / first * factor
    else:
        for i in range(x.shape[0]):
            out[i] = np.float64(x[i]) / first / second * factor
