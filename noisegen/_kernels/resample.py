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

from .._core.jit import scalar


@scalar
def bessel_i0(x):
    """Modified Bessel function of the first kind, order 0 (``x >= 0``).

    Abramowitz & Stegun 9.8.1 and 9.8.2 (relative error below 2e-7, ample for
    a window shape); loop-free so that Numba inlines it cleanly.
    """
    if x < 3.75:
        t = (x / 3.75) * (x / 3.75)
        return 1.0 + t * (3.5156229 + t * (3.0899424 + t * (1.2067492 + t * (
            0.2659732 + t * (0.0360768 + t * 0.0045813)))))
    t = 3.75 / x
    poly = 0.39894228 + t * (0.01328592 + t * (0.00225319 + t * (-0.00157565 + t * (
        0.00916281 + t * (-0.02057706 + t * (0.02635537 + t * (-0.01647633 + t * 0.00392377)))))))
    return poly * math.exp(x) / math.sqrt(x)


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
