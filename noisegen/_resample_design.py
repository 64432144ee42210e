"""Filter design of the resampler: Kaiser-windowed sinc tables and equiripple decimators.

Everything here runs once per ratio on the host (NumPy, plus ``scipy.signal``
for the equiripple designs) and is cached; the kernels that use the tables
live in :mod:`noisegen._kernels.cpu.resample` and
:mod:`noisegen._kernels.cuda.resample`.

Frequencies are fractions of the *input* Nyquist frequency throughout.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

#: Stop-band attenuation the Kaiser window is designed for (dB).
ATTENUATION_DB = 85.0
#: Pass-band edge as a fraction of the lower Nyquist frequency.
PASSBAND = 0.9
#: Largest integer decimation factor designed as an equiripple FIR.
MAX_EQUIRIPPLE_FACTOR = 8


class FilterSpec(NamedTuple):
    """A Kaiser-windowed sinc low-pass in units of input samples."""

    fc: float  #: cut-off, fraction of the input Nyquist frequency
    half_width: float  #: one-sided support of the window, input samples
    beta: float  #: Kaiser shape parameter
    half: int  #: taps at or before the output instant
    n_taps: int  #: table width: ``2 * half`` rounded up to a multiple of 16 (zero taps)


def kaiser_spec(pass_edge: float, stop_edge: float, attenuation_db: float = ATTENUATION_DB) -> FilterSpec:
    """Kaiser-windowed sinc flat to ``pass_edge`` and ``attenuation_db`` down from ``stop_edge``.

    The cut-off sits mid-way; Kaiser's formulas give the window length and
    shape (the pass band ripples by the same relative amount, ~5e-5 at 85 dB).
    """
    fc = (pass_edge + stop_edge) / 2.0
    delta_omega = math.pi * (stop_edge - pass_edge)  # rad per input sample
    half_width = (attenuation_db - 7.95) / (2.285 * delta_omega) / 2.0
    beta = 0.1102 * (attenuation_db - 8.7)
    half = int(math.ceil(half_width))
    return FilterSpec(fc, half_width, beta, half, -(-2 * half // 16) * 16)


def design_filter(ratio: float, *, attenuation_db: float = ATTENUATION_DB, passband: float = PASSBAND) -> FilterSpec:
    """Anti-aliasing / interpolation filter for an output/input rate ``ratio``.

    The transition band runs from ``passband`` to 1 times the lower Nyquist
    frequency.
    """
    scale = min(1.0, float(ratio))
    return kaiser_spec(passband * scale, scale, attenuation_db)


def _bessel_i0(x):
    """Vectorised twin of :func:`noisegen._kernels.resample.bessel_i0` (same A&S formulas)."""
    x = np.asarray(x, dtype=np.float64)
    t = (np.minimum(x, 3.75) / 3.75) ** 2
    small = 1.0 + t * (3.5156229 + t * (3.0899424 + t * (1.2067492 + t * (0.2659732 + t * (0.0360768 + t * 0.0045813)))))
    xs = np.maximum(x, 3.75)
    t = 3.75 / xs
    poly = 0.39894228 + t * (0.01328592 + t * (0.00225319 + t * (-0.00157565 + t * (
        0.00916281 + t * (-0.02057706 + t * (0.02635537 + t * (-0.01647633 + t * 0.00392377)))))))
    return np.where(x < 3.75, small, poly * np.exp(xs) / np.sqrt(xs))


def filter_table(rows: int, denom: int, n_taps: int, half: int, fc: float, half_width: float, beta: float):
    """Polyphase table ``table[r, j] = h(r / denom + half - 1 - j)`` (float64, NumPy).

    ``h`` is the Kaiser-windowed sinc of :func:`noisegen._kernels.resample.sinc_kernel`,
    evaluated here in vectorised NumPy (a Numba build of the same loop costs
    seconds of compile time for a table that takes a millisecond).
    """
    tau = np.arange(rows)[:, None] / denom + (half - 1 - np.arange(n_taps))[None, :]
    u = tau / half_width
    window = np.where(np.abs(u) < 1.0, _bessel_i0(beta * np.sqrt(np.clip(1.0 - u * u, 0.0, None))), 0.0)
    arg = np.pi * fc * tau
    safe = np.where(arg == 0.0, 1.0, arg)
    sinc = np.where(arg == 0.0, 1.0, np.sin(safe) / safe)
    return fc * sinc * window / _bessel_i0(beta)


@lru_cache(maxsize=64)
def kaiser_table(rows: int, denom: int, pass_edge: float, stop_edge: float, dtype_char: str):
    """``(spec, table)`` of :func:`kaiser_spec` sampled at ``rows`` phases ``r / denom`` (read-only)."""
    spec = kaiser_spec(pass_edge, stop_edge)
    table = filter_table(rows, denom, spec.n_taps, spec.half, spec.fc, spec.half_width, spec.beta)
    table = table.astype(np.dtype(dtype_char))
    table.flags.writeable = False
    return spec, table


def equiripple_taps(down: int):
    """Odd-length linear-phase low-pass for decimation by ``down`` (float64), or None.

    Same band edges as :func:`design_filter` (pass band to 0.9, stop band from
    1.0 of the output Nyquist frequency). The length is the shortest
    ``16 q - 1`` (so the table row has no zero padding) whose measured response
    has at most 5e-4 pass-band ripple and at least 84 dB stop-band rejection.
    """
    from scipy.signal import freqz, remez

    pass_edge, stop_edge = PASSBAND * 0.5 / down, 0.5 / down
    grid = np.linspace(0.0, 0.5, 16384 * down)
    q = int(math.ceil((84.0 * down + 1) / 16))  # below the measured minimum (about 87 * down taps)
    for n in range(16 * q - 1, 16 * q + 160 * down, 16):
        try:
            h = remez(n, [0.0, pass_edge, stop_edge, 0.5], [1.0, 0.0], weight=[1.0, 8.0], fs=1.0, maxiter=100)
        except Exception:  # remez did not converge: try longer, then give up
            continue
        mag = np.abs(freqz(h, worN=grid, fs=1.0)[1])
        if np.max(np.abs(mag[grid <= pass_edge] - 1.0)) <= 5e-4 and np.max(mag[grid >= stop_edge]) <= 10 ** (-84 / 20):
            return h
    return None


@lru_cache(maxsize=16)
def decimation_table(down: int, dtype_char: str):
    """``(spec, table)`` of the equiripple decimator by ``down`` (one row), or None."""
    h = equiripple_taps(down) if down <= MAX_EQUIRIPPLE_FACTOR else None
    if h is None:
        return None
    half = (len(h) + 1) // 2  # centre tap h[half - 1] sits at the output instant
    n_taps = -(-2 * half // 16) * 16
    table = np.zeros((1, n_taps))
    table[0, : len(h)] = h  # row[j] weighs x[i + 1 - half + j]; h is symmetric
    table = table.astype(np.dtype(dtype_char))
    table.flags.writeable = False
    spec = design_filter(1.0 / down)
    return FilterSpec(spec.fc, spec.half_width, spec.beta, half, n_taps), table
