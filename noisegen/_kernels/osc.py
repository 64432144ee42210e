"""Scalar math of the oscillators, shared by CPU and (later) CUDA kernels.

Every oscillator evaluates its phase *per sample index* from a closed form
instead of accumulating an increment, so there is no drift however long the
signal is and sample ``i`` depends only on ``i`` (chunking never matters).
Phases are counted in cycles: the position ``i * inc + phase0`` reduced to
``[0, 1)``; its float64 rounding error is about ``1e-16`` of the number of
cycles elapsed (``1e-8`` of a cycle after 10**8 cycles).
"""

from __future__ import annotations

import math

from .._core.jit import scalar

TWO_PI = 2.0 * math.pi


@scalar
def cycle_position(index, inc, phase0):
    """Fractional part in ``[0, 1)`` of ``index * inc + phase0`` (cycles)."""
    c = float(index) * inc + phase0
    return c - math.floor(c)


@scalar
def linear_chirp_cycles(index, inc0, half_rate):
    """Cycles elapsed at sample ``index`` of a linear chirp (not reduced).

    ``inc0`` is the start frequency in cycles per sample and ``half_rate`` half
    the sweep rate in cycles per sample squared: ``n*inc0 + half_rate*n**2``.
    """
    n = float(index)
    return n * (inc0 + half_rate * n)


@scalar
def log_chirp_cycles(index, inc0, growth):
    """Cycles elapsed at sample ``index`` of an exponential (logarithmic) chirp.

    The frequency is ``inc0 * exp(growth * n)`` cycles per sample, whose
    integral is ``inc0 * expm1(growth * n) / growth`` (``expm1`` keeps it exact
    for sweeps that barely move).
    """
    n = float(index)
    return inc0 * math.expm1(growth * n) / growth


@scalar
def is_impulse(index, inc, phase0):
    """True when sample ``index`` is the sample nearest an integer cycle count.

    An integer lies in ``(e(index - 1), e(index)]``, ``e(i) = (i + 1/2) inc + phase0``
    the cycle count half-way to the next sample; for ``inc <= 1/2`` at most one
    sample of each cycle qualifies. Each sample's lower edge is its neighbour's
    upper edge, evaluated by the same float operations, so every whole cycle goes
    to exactly one sample (a cycle that falls half-way to the next sample went to
    neither or both when the edges were rounded apart).
    """
    return math.floor((float(index) + 0.5) * inc + phase0) > math.floor((float(index) - 0.5) * inc + phase0)
