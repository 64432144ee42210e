"""Slow NumPy reference of the windowed-sinc resampler (test-only).

The interpolation kernel is a Kaiser-windowed sinc in units of *input*
samples::

    h(tau) = fc * sinc(fc * tau) * kaiser(tau / half_width, beta)

``fc`` is the cut-off as a fraction of the input Nyquist frequency (below 1
when the output rate is lower) and ``half_width`` the one-sided support, in
input samples.  Written from the formula in plain Python, independently of
the vectorised tables in :mod:`noisegen._design.resample`, so that the
resampler's output can be checked against it sample by sample.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from noisegen._design.resample import Plan, equiripple_parts


def bessel_i0(x):
    """Modified Bessel function of the first kind, order 0 (``x >= 0``; A&S 9.8.1-2, rel. error < 2e-7)."""
    if x < 3.75:
        t = (x / 3.75) * (x / 3.75)
        return 1.0 + t * (3.5156229 + t * (3.0899424 + t * (1.2067492 + t * (
            0.2659732 + t * (0.0360768 + t * 0.0045813)))))
    t = 3.75 / x
    poly = 0.39894228 + t * (0.01328592 + t * (0.00225319 + t * (-0.00157565 + t * (
        0.00916281 + t * (-0.02057706 + t * (0.02635537 + t * (-0.01647633 + t * 0.00392377)))))))
    return poly * math.exp(x) / math.sqrt(x)


def kaiser(u, beta, i0_beta):
    """Kaiser window at ``u`` in [-1, 1] (0 outside); ``i0_beta = bessel_i0(beta)``."""
    if u <= -1.0 or u >= 1.0:
        return 0.0
    return bessel_i0(beta * math.sqrt(1.0 - u * u)) / i0_beta


def sinc(x):
    """Normalised sinc: ``sin(pi x) / (pi x)``."""
    if x == 0.0:
        return 1.0
    px = math.pi * x
    return math.sin(px) / px


def sinc_kernel(tau, fc, half_width, beta, i0_beta):
    """Kaiser-windowed low-pass sinc ``h(tau)`` (``tau`` in input samples)."""
    return fc * sinc(fc * tau) * kaiser(tau / half_width, beta, i0_beta)


def naive_resample(x, ratio, n_out):
    """Slow twin: evaluate sum_m x[m] h(t_k - m) directly from the filter formula.

    ``h`` is the Kaiser sinc, or for rational downsampling by 0.6 or less the
    equiripple prototype ``sum_n h_d[n] phi(t - n + c)`` (phi a Kaiser sinc)."""
    spec = Plan(ratio, np.float64).spec
    parts = equiripple_parts(float(ratio)) if isinstance(ratio, Fraction) and ratio.numerator > 1 else None

    def h(tau):
        if parts is None:
            return sinc_kernel(tau, spec.fc, spec.half_width, spec.beta, bessel_i0(spec.beta))
        h_d, phi = parts
        c = (len(h_d) - 1) / 2
        return sum(h_d[n] * sinc_kernel(tau - n + c, phi.fc, phi.half_width, phi.beta, bessel_i0(phi.beta))
                   for n in range(len(h_d)) if abs(tau - n + c) < phi.half_width)

    out = np.zeros(n_out)
    for k in range(n_out):
        t = k / ratio if isinstance(ratio, float) else float(Fraction(k) / ratio)
        m = np.arange(math.floor(t) - spec.half - 2, math.floor(t) + spec.half + 3)
        m = m[(m >= 0) & (m < len(x))]
        out[k] = np.dot([h(t - mm) for mm in m], x[m])
    return out
