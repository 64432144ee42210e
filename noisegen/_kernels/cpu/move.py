"""Moving audio in time (Shift): a roll or a zero-filled move, with its fades, in one pass."""

from __future__ import annotations

from ..._core.jit import exact_kernel


@exact_kernel
def shift_rows(x, shift, rollover, ramp, in_at, in_len, out_at, out_len, out):
    """``out`` = the rows of 2-D C-contiguous ``x`` moved ``shift`` samples (``0 <= shift < n`` with ``rollover``,
    else ``|shift| <= n``, the places left behind zero), then the ``in_len`` samples from ``in_at`` times
    ``ramp`` (the fade in) and the ``out_len`` samples before ``out_at`` times ``ramp`` read backwards (the fade
    out). Strict arithmetic: the samples of ``np.roll`` and NumPy's in-place products. Each part is a slice
    indexed from 0, so Numba sees no negative index to wrap (which kept such loops scalar, 5x slower)."""
    n = x.shape[1]
    zero = out.dtype.type(0.0)
    for r in range(x.shape[0]):
        if shift >= 0:
            dst, src = out[r, shift:], x[r, : n - shift]
            for k in range(n - shift):
                dst[k] = src[k]
            dst, src = out[r, :shift], x[r, n - shift :]
            for k in range(shift):
                dst[k] = src[k] if rollover else zero
        else:
            dst, src = out[r, : n + shift], x[r, -shift:]
            for k in range(n + shift):
                dst[k] = src[k]
            dst = out[r, n + shift :]
            for k in range(-shift):
                dst[k] = zero
        part = out[r, in_at : in_at + in_len]
        for q in range(in_len):
            part[q] = part[q] * ramp[q]
        part = out[r, out_at - out_len : out_at]
        for q in range(out_len):
            part[q] = part[q] * ramp[out_len - 1 - q]
