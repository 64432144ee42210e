"""Filter design of the resampler: its plans, equiripple decimators and polyphase tables.

Everything here runs once per ratio on the host (NumPy, plus ``scipy.signal``
for the equiripple designs) and is cached; the kernels that use the tables
live in :mod:`noisegen._kernels.cpu.resample` and
:mod:`noisegen._kernels.cuda.resample`.

Frequencies are fractions of the *input* Nyquist frequency throughout.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .._core.cache_stamp import sources_digest
from .._core.diskcache import cached_array
from .._core.lru import BytesCache
from .._kernels.cpu import decimate as cpu_decimate
from .._kernels.cpu import interpolate as cpu_interpolate
from .._kernels.cpu import resample as cpu_kernels
from .._kernels.cpu import tables as cpu_tables
from .kaiser import (ATTENUATION_DB, N_PHASES, PASSBAND, FilterSpec, cutoff_cell, kaiser_sinc, kaiser_spec,
                     kaiser_table, sampled_table)
from .folded import INTERPOLATOR_HALVES, folded_chains, interpolation_folds, interpolation_rows
from .ratios import MAX_RATIONAL_PHASES, NearRatio, exact_ratio

# designs cached on disk are redone when this folder's code changes: an equiripple table samples
# kaiser.py's sinc too (keyed on this file alone, an upgrade changing only kaiser.py kept the old table)
_SOURCE = sources_digest(folders=("_design",))

#: Largest integer decimation factor designed as an equiripple FIR.
MAX_EQUIRIPPLE_FACTOR = 8


def design_filter(ratio: float, *, attenuation_db: float = ATTENUATION_DB, passband: float = PASSBAND) -> FilterSpec:
    """Anti-aliasing / interpolation filter for an output/input rate ``ratio``.

    The transition band runs from ``passband`` to 1 times the lower Nyquist
    frequency.
    """
    scale = min(1.0, float(ratio))
    return kaiser_spec(passband * scale, scale, attenuation_db)


#: Pass-band ripple every equiripple design is held to (0.013 dB; the Kaiser sincs ripple ~5e-5).
EQUIRIPPLE_RIPPLE = 1.5e-3
#: Stop-band rejection every equiripple design is checked for (dB).
EQUIRIPPLE_DB = 84.0


def _remez_lowpass(pass_edge: float, stop_edge: float, lengths, ripple: float = 5e-4):
    """The first odd length in ``lengths`` whose equiripple low-pass (edges in units of the
    sample rate) measures at most ``ripple`` in the pass band and 84 dB stop-band rejection; or None.

    Kept on disk (:mod:`noisegen._core.diskcache`, keyed by the arguments, this
    file's source and SciPy's version): the design and its check take ~0.1 s,
    and importing ``scipy.signal`` ~1 s, in every new process otherwise.
    """
    import scipy

    lengths = tuple(int(n) for n in lengths)
    key = ("remez_lowpass", float(pass_edge), float(stop_edge), lengths, float(ripple), _SOURCE, scipy.__version__)
    return cached_array("designs", key, lambda: _design_remez_lowpass(pass_edge, stop_edge, lengths, ripple))


def _design_remez_lowpass(pass_edge, stop_edge, lengths, ripple):
    from scipy.signal import freqz, remez

    grid = np.linspace(0.0, 0.5, max(16384, int(64 / (stop_edge - pass_edge))))
    weight = ripple / 10 ** (-EQUIRIPPLE_DB / 20)  # pass-band over stop-band error, as the targets
    for n in lengths:
        try:
            h = remez(n, [0.0, pass_edge, stop_edge, 0.5], [1.0, 0.0], weight=[1.0, weight], fs=1.0, maxiter=100)
        except Exception:  # remez did not converge: try longer, then give up
            continue
        mag = np.abs(freqz(h, worN=grid, fs=1.0)[1])
        if (np.max(np.abs(mag[grid <= pass_edge] - 1.0)) <= ripple
                and np.max(mag[grid >= stop_edge]) <= 10 ** (-EQUIRIPPLE_DB / 20)):
            return h
    return None


def max_shift(up: int, down: int, half: int) -> int:
    """Largest shift ``a = (floor(k down / up) + 1 - half) mod 8`` of an output's first tap over
    all outputs ``k`` (it repeats every ``8 up`` outputs); the rational kernel's windows start
    ``a`` inputs early, on a multiple of 8."""
    if math.gcd(down, 8 * up) <= up:  # k down mod 8 up meets every stretch of `up`: every remainder
        return 7
    k = np.arange(8 * up)
    return int(np.max(((k * down) // up + 1 - half) % 8))


def window_width(row_len: int, up: int, down: int, half: int) -> int:
    """Inputs each output of the rational kernel reads: ``row_len`` taps after up to
    :func:`max_shift` leading zeros, rounded up to whole 8-float vectors."""
    return -(-(row_len + max_shift(up, down, half)) // 8) * 8


def equiripple_taps(down: int):
    """Odd-length linear-phase low-pass for decimation by ``down`` (float64), or None.

    Same band edges as :func:`design_filter` (pass band to 0.9, stop band from
    1.0 of the output Nyquist frequency), designed for :data:`EQUIRIPPLE_RIPPLE`
    (0.013 dB) and 84 dB. What an output costs is the kernel's window
    (:func:`window_width`: the taps, their shift, whole 8-float vectors), so
    the lengths tried are the longest that fit each window, narrowest window
    first: at 2:1, 161 taps in 168 inputs (pass band within 1.5e-3, 85.8 dB)
    where 175 taps at 5e-4 would cost 184.
    """
    fits = {}  # window -> longest odd length whose window it is
    for n in range(76 * down + 1, 100 * down + 200, 2):  # from below the measured minimum (~80 down)
        width = window_width(n, 1, down, (n + 1) // 2)
        fits[width] = max(fits.get(width, 0), n)
    lengths = [fits[w] for w in sorted(fits)]
    return _remez_lowpass(PASSBAND * 0.5 / down, 0.5 / down, lengths, EQUIRIPPLE_RIPPLE)


#: Largest output/input ratio designed by :func:`equiripple_polyphase`; closer to 1
#: the smoothing kernel grows longer than the taps the equiripple design saves.
MAX_EQUIRIPPLE_RATIO = 0.6


@lru_cache(maxsize=16)
def equiripple_parts(r: float):
    """``(h_d, phi)`` of :func:`equiripple_polyphase` for the ratio ``r``, or None
    (``h_c(t) = sum_n h_d[n] phi(t - n + (len(h_d) - 1) / 2)``, ``phi`` a :class:`FilterSpec`)."""
    if not 1.0 / MAX_EQUIRIPPLE_FACTOR <= r <= MAX_EQUIRIPPLE_RATIO:  # lower: remez gets slow and unsure
        return None
    width = 0.05 * r  # transition band, units of the input rate
    # Lengths from just below the measured minimum (~4.0 / width) to 4.5 / width in a dozen
    # tries, then the Kaiser sinc; 1e-4 of the ripple is left to phi and the table's sampling.
    start = int(3.9 / width) // 2 * 2 + 1
    step = max(2, int(0.6 / width / 12) // 2 * 2)
    h_d = _remez_lowpass(0.45 * r, 0.5 * r, range(start, start + 12 * step, step), EQUIRIPPLE_RIPPLE - 1e-4)
    if h_d is None:
        return None
    h_d.flags.writeable = False
    return h_d, kaiser_spec(PASSBAND * r, 2.0 - r, attenuation_db=90.0)  # phi: input-Nyquist units


def equiripple_polyphase(up: int, down: int, dtype_char: str):
    """``(spec, table)`` of an equiripple polyphase low-pass for downsampling by ``up / down``; or None.

    Kaiser sincs spend taps on a stop band that keeps falling far below the
    84 dB needed; an equiripple design reaches the same band edges with about
    20 % fewer (44.1 kHz -> 16 kHz: 240 taps instead of 304). Polyphase rows
    need the filter *between* input samples, so the prototype is continuous::

        h_c(t) = sum_n h_d[n] phi(t - n)

    ``h_d`` is the equiripple FIR at the input rate (pass band to 0.45, stop
    band from 0.5 times ``up / down`` of the input rate) and ``phi`` a short
    Kaiser-windowed sinc (90 dB) that is flat over ``h_d``'s pass band and
    stops the images of it around multiples of the input rate (from ``1 - r /
    2``; 9 taps at 44.1 kHz -> 16 kHz). ``H_c = H_d Phi`` keeps ``h_d``'s
    pass band and stop band. The table's measured response is checked (pass
    band within 1.5e-3, stop band 83 dB) before it is used; None when the ratio
    is above :data:`MAX_EQUIRIPPLE_RATIO` or below ``1 / MAX_EQUIRIPPLE_FACTOR``,
    or the design or its check fails. Kept on disk, and in memory by the plan
    cache alone (``up`` rows: tens of MB for odd rates).
    """
    parts = equiripple_parts(up / down)
    if parts is None:
        return None
    h_d, phi = parts
    half = int(math.ceil((len(h_d) - 1) / 2 + phi.half_width))
    n_taps = -(-2 * half // 16) * 16
    # sampling the prototype and measuring it (a long FFT) is cached on disk as the design is
    key = ("equiripple_polyphase", up, down, h_d.tobytes(), _SOURCE)
    table = cached_array("designs", key, lambda: _polyphase_table(h_d, phi, up, down, half, n_taps))
    if table is None:
        return None
    table = table.astype(np.dtype(dtype_char))
    table.flags.writeable = False
    return FilterSpec(phi.fc, half - 0.5, phi.beta, half, n_taps), table


def _polyphase_table(h_d, phi, up, down, half, n_taps):
    """The ``(up, n_taps)`` float64 table sampling ``h_c`` (see :func:`equiripple_polyphase`),
    or None when its measured response misses the targets."""
    r = up / down
    centre = (len(h_d) - 1) / 2
    tau = np.arange(up)[:, None] / up + (half - 1 - np.arange(n_taps))[None, :]  # (up, n_taps)
    reach = int(math.ceil(phi.half_width)) + 1
    table = np.zeros((up, n_taps))
    for o in range(-reach, reach + 1):  # the input samples n whose phi reaches tau
        n = np.floor(tau + centre).astype(int) + o
        u = tau - (n - centre)
        ok = (n >= 0) & (n < len(h_d)) & (np.abs(u) < phi.half_width)
        weight = kaiser_sinc(u, phi.fc, phi.half_width, phi.beta)
        table += np.where(ok, h_d[np.clip(n, 0, len(h_d) - 1)] * weight, 0.0)
    return table if _polyphase_ok(table, r) else None


def _polyphase_ok(table, r: float) -> bool:
    """Measure the prototype a polyphase ``table`` samples (rows = phases ``p / up``):
    pass band (to 0.45 r of the input rate) within :data:`EQUIRIPPLE_RIPPLE`, stop band (from 0.5 r) 83 dB down."""
    up, n_taps = table.shape
    proto = table[:, ::-1].T.reshape(-1)  # interleave the phases: the filter at up x the input rate
    n_fft = 1 << int(math.ceil(math.log2(16 * len(proto))))
    mag = np.abs(np.fft.rfft(proto, n_fft))  # DC gain up (one tap per phase)
    f = np.fft.rfftfreq(n_fft) * up  # units of the input rate
    passband, stopband = mag[f <= 0.45 * r] / up, mag[f >= 0.5 * r] / up
    return bool(np.max(np.abs(passband - 1.0)) <= EQUIRIPPLE_RIPPLE and np.max(stopband) <= 10 ** (-83 / 20))


@lru_cache(maxsize=4)
def interpolation_design(dtype_char: str):
    """``(spec, table)`` of the 2x interpolator (:mod:`.folded`), or None: an equiripple
    prototype at the output rate with the decimators' band edges (pass band to 0.9 of the input
    Nyquist frequency within :data:`EQUIRIPPLE_RIPPLE`, 84 dB from the input Nyquist frequency)."""
    lengths = [4 * h - 1 for h in INTERPOLATOR_HALVES]
    f = _remez_lowpass(PASSBAND * 0.25, 0.25, lengths, EQUIRIPPLE_RIPPLE)
    if f is None:
        return None
    half, table = interpolation_rows(f, dtype_char)
    return FilterSpec(PASSBAND, half - 0.5, 0.0, half, table.shape[1]), table


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


# ----------------------------------------------------------------------------- plans

def interpolated_rows(up: int, scale: float, dtype_char: str):
    """``(spec, table)``: the rows of the interpolated table of cut-off ``scale`` at the phases
    ``j / up``, each blended from its two neighbours as the interpolating kernel blends their
    outputs (the plan of a :class:`~noisegen._design.ratios.NearRatio`)."""
    spec, table = kaiser_table(N_PHASES + 1, N_PHASES, PASSBAND * scale, scale, dtype_char)
    pos = np.arange(up) * (N_PHASES / up)
    lo = pos.astype(np.intp)
    weight = (pos - lo).astype(table.dtype)
    rows = np.empty((up, table.shape[1]), dtype=table.dtype)
    cpu_tables.blend_rows(table, lo, weight, rows)  # low + (high - low) * weight, each step rounded
    return spec, rows


#: Most taps (rows x taps) of an exact table with more rows than the interpolated one's.
MAX_EXACT_TAPS = 1 << 21


def exact_rows_fit(up: int, scale: float) -> bool:
    """Whether a ratio of ``up`` phases and cut-off ``scale`` gets one exact row per phase. An exact
    table holds ``up`` rows of ~``107 / scale`` taps, ~``107 down`` in all: 768 kHz -> 8,008 Hz
    (1001 / 96000) took 82 MB in float32 (twice, padded), 0.5 GB while designing and 7-14 s for
    10 samples, and as much on disk per ratio. Beyond :data:`MAX_EXACT_TAPS` the interpolated
    table (``N_PHASES + 1`` rows, same pass and stop band) is the smaller one."""
    return up <= N_PHASES + 1 or up * kaiser_spec(PASSBAND * scale, scale).n_taps <= MAX_EXACT_TAPS


class Plan:
    """Where output sample ``k`` reads the input, and the table that weighs it."""

    def __init__(self, ratio, dtype):
        # ratio: output samples per input sample, a Fraction (exact) or a float.
        dtype = np.dtype(dtype)
        # a float: its small exact fraction when it is one (0.9 -> 9/10), else its exact binary value
        frac = Fraction(exact_ratio(ratio) if isinstance(ratio, float) else ratio)
        self.rational = frac.numerator <= MAX_RATIONAL_PHASES and (
            isinstance(ratio, NearRatio) or exact_rows_fit(frac.numerator, min(1.0, float(frac))))
        self.fold = None  # folded_chains of an integer decimator
        self.fold_up = None  # interpolation_folds of the 2x interpolator
        scale = min(1.0, float(frac))
        if self.rational:
            self.up, self.down = frac.numerator, frac.denominator
            lanes = cpu_decimate.VECTOR_BYTES // dtype.itemsize
            if isinstance(ratio, NearRatio):  # the interpolated table's rows, blended at the phases j / up
                designed = interpolated_rows(self.up, cutoff_cell(scale), dtype.char)
            elif self.up == 1:
                designed = decimation_table(self.down, dtype.char)
                if designed is not None:  # symmetric: pairs of inputs added, then weighed once
                    self.fold = folded_chains(designed[1][0], designed[0].half, self.down, lanes)
            elif (self.up, self.down) == (2, 1):
                designed = interpolation_design(dtype.char)
            else:
                designed = equiripple_polyphase(self.up, self.down, dtype.char)
            # (sampled_table: a table of `up` rows may hold tens of MB, and the plan cache keeps it)
            self.spec, self.table = designed or sampled_table(self.up, self.up, PASSBAND * scale, scale, dtype.char)
            if (self.up, self.down) == (2, 1):  # both rows symmetric: pairs, as the decimator's
                self.fold_up = interpolation_folds(self.table, self.spec.half, lanes)
        else:
            self.step = 1.0 / float(ratio)
            scale = cutoff_cell(scale)
            self.spec, self.table = kaiser_table(N_PHASES + 1, N_PHASES, PASSBAND * scale, scale, dtype.char)
        self.half = self.spec.half
        # Rational ratios read windows that start up to 7 inputs early on a 32-byte boundary, through rows
        # with 8 zeros before their taps; a window: the taps after the largest shift, in whole 8-float vectors.
        self.padded = None
        width = self.table.shape[1]  # inputs read from the first tap (interpolated tables)
        if self.rational:
            row_len = cpu_tables.last_tap(self.table)  # up to the last column holding a tap
            width = window_width(row_len, self.up, self.down, self.half)
            self.padded = np.zeros((self.table.shape[0], width + 8), dtype=self.table.dtype)
            self.padded[:, 8 : 8 + row_len] = self.table[:, :row_len]
        self.reach = width - self.half  # inputs read after the instant, + 1
        self.lead = -(-(self.half + 7) // 8) * 8  # zeros before input 0: a multiple of 8
        group = cpu_decimate.VECTORS * cpu_decimate.VECTOR_BYTES // dtype.itemsize
        if self.fold is not None:  # staged phases of one group of outputs
            lead, reach = self.fold[2], self.fold[3]
            self.group_inputs = self.down * (-(-(group + lead + reach) // 16) * 16 + 16)
        elif self.fold_up is not None:  # one staged group of instants
            lead, reach = self.fold_up[2], self.fold_up[3]
            self.group_inputs = -(-(group + lead + reach) // 16) * 16 + 16
            self.reach = max(self.reach, reach)  # the padded pairs read further than the table's rows
        elif self.rational:  # inputs one full set of the kernel's slot groups reads
            k = cpu_kernels
            self.group_inputs = k.SLOTS * k._slot_period(self.down) * self.down + self.padded.shape[1] + 16

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the plan holds (a cache's measure)."""
        parts = [self.table, self.padded, *(self.fold or ()), *(self.fold_up or ())]
        parts += [a for p in parts if isinstance(p, tuple) for a in p]
        return sum(a.nbytes for a in parts if isinstance(a, np.ndarray))

    @property
    def staged(self) -> bool:
        """True when :meth:`run` stages blocks of the input in a ``scratch`` buffer (the folded kernels)."""
        return self.fold is not None or self.fold_up is not None

    def index(self, k: int) -> int:
        """``floor(t_k)``: the input sample at or before output sample ``k``."""
        if self.rational:
            return (k * self.down) // self.up
        return int(math.floor(k * self.step))

    def count_ready(self, last_input: int) -> int:
        """Number of outputs ``k`` with ``index(k) <= last_input`` (0 if negative)."""
        if last_input < 0:
            return 0
        if self.rational:
            return -((-(last_input + 1) * self.up) // self.down)
        k = int(math.ceil((last_input + 1) / self.step))
        while k > 0 and self.index(k - 1) > last_input:
            k -= 1
        while self.index(k) <= last_input:
            k += 1
        return k

    def keep_from(self, k: int) -> int:
        """First input index that outputs ``k ..`` can read (a multiple of 8)."""
        return (self.index(k) + 1 - self.half - 7) // 8 * 8

    def run(self, xp, offset, k0, out, scratch=None):
        """Outputs ``k0 ..`` into ``out[c, :]``; ``xp[c, 0]`` is input ``offset`` (see :func:`_aligned_zeros`),
        zero outside it for a decimator. ``scratch``: a buffer of at least ``group_inputs``
        (allocated when None). Returns their sum (NaN or inf when one of them is)."""
        k = cpu_kernels
        if self.fold_up is not None:
            if scratch is None:
                scratch = np.empty(self.group_inputs, dtype=xp.dtype)
            (chains0, taps0, _, _, h0), (chains1, taps1, _, _, h1), lead, reach = self.fold_up
            return cpu_interpolate.interpolate2(xp, offset, k0, chains0, taps0, h0, chains1, taps1, h1, lead, reach,
                                                scratch, out)
        if self.fold is not None:
            if scratch is None:
                scratch = np.empty(self.group_inputs, dtype=xp.dtype)
            chains, taps, lead, reach, h = self.fold
            return cpu_decimate.decimate(xp, offset, k0, self.down, self.half, chains, taps, lead, reach, h, scratch, out)
        if self.rational:
            return k.resample_rational(xp, offset, k0, self.up, self.down, self.half, self.padded, out)
        return k.resample_interp(xp, offset, k0, self.step, self.half, N_PHASES, self.table, out)


def cached_plan(ratio, dtype_char):
    """The cached :class:`Plan` of ``ratio`` (plans hold no stream state)."""
    if isinstance(ratio, NearRatio):
        return _near_plan(ratio.numerator, ratio.denominator, dtype_char)
    if isinstance(ratio, Fraction):  # keyed on two ints: hashing a Fraction costs a microsecond
        return _rational_plan(ratio.numerator, ratio.denominator, dtype_char)
    return _float_plan(ratio, dtype_char)


def _near_plan(up, down, dtype_char):
    return _NEAR_PLANS.get((up, down, dtype_char), lambda: Plan(NearRatio(up, down), np.dtype(dtype_char)))


#: Bytes of exact-ratio plans kept. One holds ``up`` rows of about ``109 down / up`` taps, twice
#: (padded): up to ~7 MB in float64 for 48 kHz to a rate drawn from 8-48 kHz, and 128 of them
#: (the count this cache had) held ~0.85 GB; ratios of odd rates reach 100 MB each.
PLAN_CACHE_BYTES = 128 << 20
_RATIONAL_PLANS = BytesCache(PLAN_CACHE_BYTES)


def _rational_plan(up, down, dtype_char):
    return _RATIONAL_PLANS.get((up, down, dtype_char), lambda: Plan(Fraction(up, down), np.dtype(dtype_char)))


#: Bytes of near-ratio and of interpolating plans kept. Random pitch shifts rarely meet one ratio
#: twice; a near plan of a few semitones holds 0.1-0.5 MB (up to ~1.2 MB) and an interpolating one
#: shares its cut-off cell's table (:func:`~noisegen._design.kaiser.kaiser_table`), but far below 1
#: (speed 64-256x, 6-8 octaves up) either holds up to 57 MB: 8 and 128 of them, the counts these
#: caches had, held GBs. The near plans' bound is about what 8 typical ones took: keeping 16 MB of
#: plans that random shifts never meet again made each pitch shift 2-4 % slower (memory not reused
#: while still warm).
NEAR_PLAN_CACHE_BYTES = 4 << 20
FLOAT_PLAN_CACHE_BYTES = 64 << 20
_NEAR_PLANS = BytesCache(NEAR_PLAN_CACHE_BYTES)
_FLOAT_PLANS = BytesCache(FLOAT_PLAN_CACHE_BYTES)


def _float_plan(ratio, dtype_char):
    return _FLOAT_PLANS.get((ratio, dtype_char), lambda: Plan(ratio, np.dtype(dtype_char)))
