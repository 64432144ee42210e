"""Scalar biquad math shared by the CPU and CUDA filter kernels.

One second-order section in transposed direct form II (the form scipy's
``sosfilt`` uses)::

    y   = b0*x + z1
    z1' = b1*x - a1*y + z2
    z2' = b2*x - a2*y

with ``a0 == 1``. The two state values are carried in float64 whatever the
sample dtype, so a long cascade stays accurate in float32 audio.

The state update is rewritten with ``d1 = b1 - a1*b0`` and ``d2 = b2 - a2*b0``
(substituting ``y``)::

    z1' = d1*x + z2 - a1*z1
    z2' = d2*x - a2*z1

so the recursion ``z1 -> z1'`` is one multiply-add instead of two chained
ones (``z1 -> y -> z1'``): half the latency per sample, same state values as
scipy's ``zi``/``zf`` (up to rounding).
"""

from __future__ import annotations

from .._core.jit import scalar


@scalar
def biquad_step(x, b0, d1, d2, a1, a2, z1, z2):
    """Filter one sample ``x``; returns ``(y, z1_new, z2_new)``."""
    y = b0 * x + z1
    z1n = (d1 * x + z2) - a1 * z1
    z2n = d2 * x - a2 * z1
    return y, z1n, z2n


@scalar
def biquad_coefficients(b0, b1, b2, a1, a2):
    """``(b0, d1, d2, a1, a2)`` for :func:`biquad_step` from a normalised section."""
    return b0, b1 - a1 * b0, b2 - a2 * b0, a1, a2
