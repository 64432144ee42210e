"""Scalar math of the windowed-sinc resampler, shared by CPU and CUDA kernels.

The interpolation kernel is a Kaiser-windowed sinc in units of *input*
samples::

    h(tau) = fc * sinc(fc * tau) * kaiser(tau / half_width, beta)

``fc`` is the cut-off as a fraction of the input Nyquist frequency (below 1
when the output rate is lower) and ``half_width`` the one-sided support, in
input samples. Everything here is plain Python that Numba inlines.
"""

from __future__ import annotations

import math

from .._jit import scalar


@scalar
def bessel_i0(x):
    """Modified Bessel function of the first kind, order 0 (power series).

    48 terms reach full double precision for ``x <= 20`` (Kaiser betas used
    here are below 10).
    """
    half = 0.5 * x
    term = 1.0
    total = 1.0
    for k in range(1, 48):
        term *= (half / k) * (half / k)
        total += term
    return total


@scalar
def kaiser(u, beta, i0_beta):
    """Kaiser window at ``u`` in [-1, 1] (0 outside); ``i0_beta = bessel_i0(beta)``."""
    if u <= -1.0 or u >= 1.0:
        return 0.0
    return bessel_i0(beta * math.sqrt(1.0 - u * u)) / i0_beta


@scalar
def sinc(x):
    """Normalised sinc: ``sin(pi x) / (pi x)``."""
    if x == 0.0:
        return 1.0
    px = math.pi * x
    return math.sin(px) / px


@scalar
def sinc_kernel(tau, fc, half_width, beta, i0_beta):
    """Kaiser-windowed low-pass sinc ``h(tau)`` (``tau`` in input samples)."""
    return fc * sinc(fc * tau) * kaiser(tau / half_width, beta, i0_beta)


@scalar
def hann(j, length):
    """Periodic Hann window of ``length`` at integer index ``j`` (sums to 1 at 50% overlap)."""
    return 0.5 - 0.5 * math.cos(2.0 * math.pi * j / length)
