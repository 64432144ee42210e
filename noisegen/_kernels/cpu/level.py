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
