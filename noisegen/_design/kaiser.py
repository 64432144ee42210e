"""Kaiser-windowed sinc low-passes and the polyphase tables sampled from them.

The resampler's plans (:mod:`noisegen._design.resample`) take their tables
from here when no equiripple design serves: :func:`kaiser_table` samples
:func:`kaiser_spec`'s filter at ``rows`` phases (NumPy, no compile), and
keeps each table in memory and on disk (:mod:`noisegen._core.diskcache`).
Random ratios (pitch shifts) share tables through cut-off cells of 1/192
octave (:func:`cutoff_cell`); :func:`design_cells` makes every cell of a
range ahead of time (``noisegen warmup``).

Frequencies are fractions of the *input* Nyquist frequency throughout.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .._core.diskcache import cached_array, source_digest
from .._core.lru import BytesCache

__all__ = ["ATTENUATION_DB", "PASSBAND", "N_PHASES", "FilterSpec", "kaiser_spec", "kaiser_sinc", "filter_table",
           "kaiser_table", "sampled_table", "cutoff_cell", "design_cells"]

_SOURCE = source_digest(__file__)  # tables cached on disk are redone when this file changes

#: Stop-band attenuation the Kaiser window is designed for (dB).
ATTENUATION_DB = 85.0
#: Pass-band edge as a fraction of the lower Nyquist frequency.
PASSBAND = 0.9


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


def _bessel_i0_small(x):
    """I0 for ``x < 3.75`` (Abramowitz & Stegun 9.8.1, rel. error < 2e-7)."""
    t = (x / 3.75) ** 2
    return 1.0 + t * (3.5156229 + t * (3.0899424 + t * (1.2067492 + t * (0.2659732 + t * (0.0360768 + t * 0.0045813)))))


def _bessel_i0_large(x):
    """I0 for ``x >= 3.75`` (Abramowitz & Stegun 9.8.2, rel. error < 2e-7)."""
    t = 3.75 / x
    poly = 0.39894228 + t * (0.01328592 + t * (0.00225319 + t * (-0.00157565 + t * (
        0.00916281 + t * (-0.02057706 + t * (0.02635537 + t * (-0.01647633 + t * 0.00392377)))))))
    return poly * np.exp(x) / np.sqrt(x)


def _bessel_i0(x):
    """Modified Bessel function I0, vectorised (Abramowitz & Stegun 9.8.1-2, rel. error < 2e-7)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x < 3.75, _bessel_i0_small(np.minimum(x, 3.75)), _bessel_i0_large(np.maximum(x, 3.75)))


def filter_table(rows: int, denom: int, n_taps: int, half: int, fc: float, half_width: float, beta: float):
    """Polyphase table ``table[r, j] = h(r / denom + half - 1 - j)`` (float64, NumPy).

    ``h`` is the Kaiser-windowed sinc ``fc * sinc(fc * tau) * kaiser(tau / half_width, beta)``.
    Every entry is ``h(t / denom)`` at an integer ``t = r + denom * (half - 1 - j)``, and ``h``
    is even, so ``h`` is evaluated once on ``t = 0, 1, ...`` up to the window's edge (in
    vectorised NumPy, each branch of the Bessel function on its own run of ``t``) and the
    table gathered from it: a quarter of the time of evaluating every entry (a cut-off cell
    of random pitch shifts is designed per new cell; a Numba build of the loop would cost
    seconds of compile time for a table that takes a millisecond).
    """
    t = np.abs(np.arange(rows)[:, None] + denom * (half - 1 - np.arange(n_taps))[None, :])
    grid = np.zeros(int(t.max()) + 1)
    inside = min(grid.shape[0], int(math.ceil(half_width * denom)))  # h is zero from half_width on
    grid[:inside] = _kaiser_sinc_grid(inside, denom, fc, half_width, beta)
    return grid[t]


def _kaiser_sinc_grid(count, denom, fc, half_width, beta):
    """``h(t / denom)`` for ``t = 0 .. count - 1`` (all within the window: ``t / denom < half_width``)."""
    tau = np.arange(count) / denom
    u = tau / half_width
    x = beta * np.sqrt(np.clip(1.0 - u * u, 0.0, None))  # falls with t: the large-x branch comes first
    split = int(np.searchsorted(-x, -3.75, side="right"))  # x >= 3.75 before it
    window = np.empty(count)
    window[:split] = _bessel_i0_large(x[:split])
    window[split:] = _bessel_i0_small(x[split:])
    arg = np.pi * fc * tau
    sinc = np.ones(count)
    sinc[1:] = np.sin(arg[1:]) / arg[1:]
    return fc * sinc * window / _bessel_i0(beta)


def kaiser_sinc(tau, fc: float, half_width: float, beta: float):
    """Kaiser-windowed sinc ``h(tau)``, vectorised (zero beyond ``half_width``)."""
    u = tau / half_width
    window = np.where(np.abs(u) < 1.0, _bessel_i0(beta * np.sqrt(np.clip(1.0 - u * u, 0.0, None))), 0.0)
    arg = np.pi * fc * tau
    safe = np.where(arg == 0.0, 1.0, arg)
    sinc = np.where(arg == 0.0, 1.0, np.sin(safe) / safe)
    return fc * sinc * window / _bessel_i0(beta)


#: Bytes of interpolated tables :func:`kaiser_table` keeps in memory. Every cut-off cell of random
#: pitch shifts within +-9 semitones (1/192-octave grid, ~150 kB each in float32) fits; a cell far
#: below (speed 64-256x, pitch shifts of 6-8 octaves up) holds 257 rows of ~107 / scale taps, up to
#: 28 MB (57 MB in float64): 160 of them, the count an lru_cache kept, held 6 GB.
KAISER_CACHE_BYTES = 64 << 20


class _Designed(tuple):
    """``(spec, table)`` measured in bytes for :class:`~noisegen._core.lru.BytesCache`."""

    __slots__ = ()

    @property
    def nbytes(self) -> int:
        return self[1].nbytes


class _CacheInfo(NamedTuple):
    hits: int
    misses: int
    maxsize: int | None
    currsize: int


_TABLES = BytesCache(KAISER_CACHE_BYTES)


def kaiser_table(rows: int, denom: int, pass_edge: float, stop_edge: float, dtype_char: str):
    """``(spec, table)`` of :func:`kaiser_spec` sampled at ``rows`` phases ``r / denom`` (read-only).

    Kept on disk as the equiripple designs are (:mod:`noisegen._core.diskcache`):
    a cut-off cell takes ~0.6 ms to design and 0.05-0.3 ms to load, and every new
    process (each DataLoader worker, each epoch's workers) meets the cells of
    random pitch shifts and speeds again. Kept in memory too, within
    :data:`KAISER_CACHE_BYTES` (least recently used dropped): for tables of a
    few hundred rows at most (:func:`sampled_table` for one row per phase of
    any ratio, which may be thousands of times larger).
    ``kaiser_table.cache_info()`` and ``kaiser_table.cache_clear()`` as an lru_cache's.
    """
    key = (int(rows), int(denom), float(pass_edge), float(stop_edge), np.dtype(dtype_char).char)
    return _TABLES.get(key, lambda: _Designed(sampled_table(rows, denom, pass_edge, stop_edge, dtype_char)))


kaiser_table.cache_info = lambda: _CacheInfo(_TABLES.hits, _TABLES.misses, None, len(_TABLES))
kaiser_table.cache_clear = _TABLES.clear


def sampled_table(rows: int, denom: int, pass_edge: float, stop_edge: float, dtype_char: str):
    """:func:`kaiser_table`, from the on-disk cache only (not kept in memory)."""
    spec = kaiser_spec(pass_edge, stop_edge)
    dtype = np.dtype(dtype_char)
    key = ("kaiser_table", int(rows), int(denom), float(pass_edge), float(stop_edge), dtype.str, _SOURCE)

    def design():
        return filter_table(rows, denom, spec.n_taps, spec.half, spec.fc, spec.half_width, spec.beta).astype(dtype)

    table = cached_array("designs", key, design, shape=(rows, spec.n_taps), dtype=dtype)
    table.flags.writeable = False
    return spec, table


#: Phases of the interpolated table used for every other ratio.
N_PHASES = 256
#: Cut-off grid (steps per octave) of the interpolated tables when downsampling.
_SCALE_GRID = 192


def cutoff_cell(scale: float) -> float:
    """The cut-off (``min(1, ratio)``) of an interpolated table, rounded *down* to a grid of 1/192
    octave so nearby ratios (random pitch shifts) share tables: the stop band still starts at or
    below the output Nyquist frequency; the pass band edge moves by at most 0.36 % (measured:
    still flat within 0.01 dB at 0.9)."""
    return scale if scale >= 1.0 else 2.0 ** (math.floor(math.log2(scale) * _SCALE_GRID) / _SCALE_GRID)


def design_cells(lowest: float, dtype_char: str) -> int:
    """Design (or load) the interpolated table of every cut-off cell of the ratios in ``[lowest, 1)``:
    what resampling by random ratios down to ``lowest`` meets (a pitch shift up by ``s`` semitones
    resamples by ``2 ** (-s / 12)``). For ``noisegen warmup``; returns the number of cells."""
    steps = range(math.floor(math.log2(lowest) * _SCALE_GRID), 0)  # as cutoff_cell rounds
    for j in steps:
        cell = 2.0 ** (j / _SCALE_GRID)
        kaiser_table(N_PHASES + 1, N_PHASES, PASSBAND * cell, cell, dtype_char)
    return len(steps)
