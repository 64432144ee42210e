"""Oscillator kernels: tones, chirps, additive band-limited waveforms, clicks.

Each kernel writes ``out[j]`` = sample ``start + j`` of the waveform into a
caller-allocated 1-D float32/float64 array, computing in float64. They are
declared :func:`~noisegen._core.jit.exact_kernel` (no fast-math), so a sample's
value depends only on its index: any chunking gives bit-identical output.
"""

from __future__ import annotations

import math

import numpy as np

from ..._core.jit import exact_kernel
from ..osc import TWO_PI, cycle_position, is_impulse, linear_chirp_cycles, log_chirp_cycles

#: Samples per block of the additive kernel: small enough for the per-sample
#: recurrence state to stay in L1 cache, large enough to vectorise.
_BLOCK = 256


@exact_kernel
def cosine(out, start, inc, phase0, amplitude):
    """``out[j] = amplitude * cos(2*pi*frac((start + j)*inc + phase0))``."""
    for j in range(out.shape[0]):
        out[j] = amplitude * math.cos(TWO_PI * cycle_position(start + j, inc, phase0))


@exact_kernel
def linear_chirp(out, start, inc0, half_rate, phase0, amplitude):
    """Cosine of a linear sweep; see :func:`noisegen._kernels.osc.linear_chirp_cycles`."""
    for j in range(out.shape[0]):
        c = linear_chirp_cycles(start + j, inc0, half_rate) + phase0
        out[j] = amplitude * math.cos(TWO_PI * (c - math.floor(c)))


@exact_kernel
def log_chirp(out, start, inc0, growth, phase0, amplitude):
    """Cosine of an exponential sweep; see :func:`noisegen._kernels.osc.log_chirp_cycles`."""
    for j in range(out.shape[0]):
        c = log_chirp_cycles(start + j, inc0, growth) + phase0
        out[j] = amplitude * math.cos(TWO_PI * (c - math.floor(c)))


@exact_kernel
def additive(out, start, inc, phase0, amps):
    """``out[j] = sum_k amps[k-1] * sin(k * theta_j)`` with ``theta_j`` the phase of sample ``start + j``.

    ``sin(k*theta)`` comes from the Chebyshev recurrence
    ``s[k+1] = 2*cos(theta)*s[k] - s[k-1]`` (one multiply-add a harmonic;
    its rounding error grows at most like ``k**2 * eps``, about 1e-10 for a
    thousand harmonics). The recurrence runs over harmonics with samples in the
    inner loop, a block at a time, so the compiler vectorises across samples;
    each sample's arithmetic is independent of its block position.
    """
    n = out.shape[0]
    n_harm = amps.shape[0]
    two_c = np.empty(_BLOCK, dtype=np.float64)
    s_prev = np.empty(_BLOCK, dtype=np.float64)
    s_cur = np.empty(_BLOCK, dtype=np.float64)
    acc = np.empty(_BLOCK, dtype=np.float64)
    for b0 in range(0, n, _BLOCK):
        m = min(_BLOCK, n - b0)
        a1 = amps[0]
        for j in range(m):
            theta = TWO_PI * cycle_position(start + b0 + j, inc, phase0)
            s = math.sin(theta)
            two_c[j] = 2.0 * math.cos(theta)
            s_prev[j] = 0.0
            s_cur[j] = s
            acc[j] = a1 * s
        for k in range(1, n_harm):
            a = amps[k]
            for j in range(m):
                s_next = two_c[j] * s_cur[j] - s_prev[j]
                s_prev[j] = s_cur[j]
                s_cur[j] = s_next
                acc[j] += a * s_next
        for j in range(m):
            out[b0 + j] = acc[j]


@exact_kernel
def impulses(out, start, inc, phase0, amplitude):
    """``amplitude`` on the sample nearest each whole cycle, 0 elsewhere."""
    for j in range(out.shape[0]):
        out[j] = amplitude if is_impulse(start + j, inc, phase0) else 0.0
