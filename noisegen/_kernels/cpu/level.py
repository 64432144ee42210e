"""Sample-wise level kernels."""

from __future__ import annotations

from ..._core.jit import kernel


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
