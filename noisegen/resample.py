"""Band-limited resampling: Kaiser-windowed sinc, polyphase, in Numba.

Output sample ``k`` is the input evaluated at time ``k * orig / target``
(output sample 0 sits on input sample 0; nothing is delayed) through a
Kaiser-windowed sinc low-pass. The filter is designed from the *lower* of the
two Nyquist frequencies: flat (ripple far below 0.1 dB) up to 0.9 of it,
attenuated by at least 80 dB (85 dB by design) from it on, so nothing above
the output Nyquist folds back.

Rational ratios (``target / orig`` reduced by their gcd, up to
:data:`MAX_RATIONAL_PHASES` phases) use one exact table row per phase.
Integer decimation (``1 / D``, ``D`` up to :data:`MAX_EQUIRIPPLE_FACTOR`,
e.g. 16 kHz -> 8 kHz, 48 kHz -> 16 kHz) uses an equiripple (Parks-McClellan)
low-pass with the same band edges instead of the Kaiser sinc: it spends the
allowed pass-band ripple (kept below 5e-4, 0.004 dB) to reach the same
stop band with about 20 % fewer taps. Any
other ratio (speed factors such as ``2 ** (1/12)``) uses a table of 256
phases and blends the dot products of the two neighbouring phases. Tables are
cached per ratio.

Output length of :func:`resample`: ``ceil(n * target / orig)`` (the rule of
``scipy.signal.resample_poly`` and ``librosa.resample``).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ._backend import resolve_backend
from ._validation import check_audio, check_sample_rate
from .errors import ParameterError

__all__ = ["resample", "Resampler"]

#: Stop-band attenuation the Kaiser window is designed for (dB).
ATTENUATION_DB = 85.0
#: Pass-band edge as a fraction of the lower Nyquist frequency.
PASSBAND = 0.9
#: Largest ``up`` (after gcd reduction) handled with one exact row per phase.
MAX_RATIONAL_PHASES = 1024
#: Phases of the interpolated table used for every other ratio.
N_PHASES = 256
#: Largest integer decimation factor designed as an equiripple FIR.
MAX_EQUIRIPPLE_FACTOR = 8
#: Cut-off grid (steps per octave) of the interpolated tables when downsampling.
_SCALE_GRID = 192


class FilterSpec(NamedTuple):
    """A Kaiser-windowed sinc low-pass in units of input samples."""

    fc: float  #: cut-off, fraction of the input Nyquist frequency
    half_width: float  #: one-sided support of the window, input samples
    beta: float  #: Kaiser shape parameter
    half: int  #: taps at or before the output instant
    n_taps: int  #: table width: ``2 * half`` rounded up to a multiple of 16 (zero taps)


def design_filter(ratio: float, *, attenuation_db: float = ATTENUATION_DB, passband: float = PASSBAND) -> FilterSpec:
    """Anti-aliasing / interpolation filter for an output/input rate ``ratio``.

    The transition band runs from ``passband`` to 1 times the lower Nyquist
    frequency; Kaiser's formulas give the window length and shape for
    ``attenuation_db`` of stop-band rejection (the pass band ripples by the
    same relative amount, ~5e-5 at 85 dB).
    """
    scale = min(1.0, float(ratio))
    fc = scale * (1.0 + passband) / 2.0
    delta_omega = math.pi * scale * (1.0 - passband)  # rad per input sample
    length = (attenuation_db - 7.95) / (2.285 * delta_omega)
    half_width = length / 2.0
    beta = 0.1102 * (attenuation_db - 8.7)
    half = int(math.ceil(half_width))
    return FilterSpec(fc, half_width, beta, half, -(-2 * half // 16) * 16)


def _cpu():
    from ._kernels.cpu import resample as k

    return k


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
def _table(rows: int, denom: int, scale_key: float, dtype_char: str):
    spec = design_filter(scale_key)
    table = filter_table(rows, denom, spec.n_taps, spec.half, spec.fc, spec.half_width, spec.beta)
    table = table.astype(np.dtype(dtype_char))
    table.flags.writeable = False
    return spec, table


def _equiripple_taps(down: int):
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
def _decimation_table(down: int, dtype_char: str):
    """``(spec, table)`` of the equiripple decimator by ``down`` (one row), or None."""
    h = _equiripple_taps(down) if down <= MAX_EQUIRIPPLE_FACTOR else None
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


class _Plan:
    """Where output sample ``k`` reads the input, and the table that weighs it."""

    def __init__(self, ratio, dtype):
        # ratio: output samples per input sample, a Fraction (exact) or a float.
        dtype = np.dtype(dtype)
        frac = Fraction(ratio) if not isinstance(ratio, Fraction) else ratio
        if isinstance(ratio, float):
            approx = frac.limit_denominator(MAX_RATIONAL_PHASES)
            if abs(float(approx) - ratio) <= 1e-12 * ratio:
                frac = approx
        self.rational = frac.numerator <= MAX_RATIONAL_PHASES
        scale = min(1.0, float(frac))
        if self.rational:
            self.up, self.down = frac.numerator, frac.denominator
            designed = _decimation_table(self.down, dtype.char) if self.up == 1 else None
            if designed is None:
                designed = _table(self.up, self.up, scale, dtype.char)
            self.spec, self.table = designed
        else:
            self.step = 1.0 / float(ratio)
            if scale < 1.0:
                # Reuse tables across nearby ratios (random pitch shifts): round the
                # cut-off *down* to a grid of 1/192 octave, so the stop band still
                # starts at or below the output Nyquist frequency; the pass band edge
                # moves by at most 0.36 % (measured: still flat within 0.01 dB at 0.9).
                scale = 2.0 ** (math.floor(math.log2(scale) * _SCALE_GRID) / _SCALE_GRID)
            self.spec, self.table = _table(N_PHASES + 1, N_PHASES, scale, dtype.char)
        self.half = self.spec.half
        self.reach = self.spec.n_taps - self.half  # taps after the output instant, plus one

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

    def run(self, xp, offset, k0, out):
        k = _cpu()
        if self.rational:
            k.resample_rational(xp, offset, k0, self.up, self.down, self.half, self.table, out)
        else:
            k.resample_interp(xp, offset, k0, self.step, self.half, N_PHASES, self.table, out)


def _apply(y, ratio, n_out):
    """Resample ``y`` (1-D or 2-D, float) by ``ratio`` to exactly ``n_out`` samples."""
    x2 = y.reshape(int(np.prod(y.shape[:-1], dtype=int)), y.shape[-1])
    plan = _Plan(ratio, y.dtype)
    n, half = x2.shape[1], plan.half
    last = plan.index(max(n_out - 1, 0))
    xp = np.zeros((x2.shape[0], half + max(n, last + 1) + plan.reach + 2), dtype=y.dtype)
    xp[:, half : half + n] = x2
    out = np.empty((x2.shape[0], n_out), dtype=y.dtype)
    plan.run(xp, -half, 0, out)
    return out.reshape(y.shape[:-1] + (n_out,))


def resample(y, *, orig_sample_rate, target_sample_rate, backend="auto"):
    """Change the sample rate of ``y`` with a band-limited (Kaiser sinc) filter.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)], float32 or float64
        Audio, time on the last axis.
    orig_sample_rate, target_sample_rate : int
        Sample rates in Hz.
    backend : {"auto", "cpu"}
        Where to run ("cuda" is not available yet).

    Returns
    -------
    np.ndarray [shape=(..., ceil(n * target / orig))]
        Same dtype as ``y``. The pass band (up to 0.9 of the lower Nyquist
        frequency) is kept flat within 0.001 dB; everything above the output
        Nyquist frequency is attenuated by at least 80 dB.

    See Also
    --------
    Resampler : the same filter over a stream of chunks.
    noisegen.speed : speed perturbation through this resampler.

    Examples
    --------
    >>> import numpy as np, noisegen
    >>> y = np.zeros(16000, dtype=np.float32)
    >>> noisegen.resample(y, orig_sample_rate=16000, target_sample_rate=8000).shape
    (8000,)
    >>> noisegen.resample(np.zeros((2, 441)), orig_sample_rate=44100, target_sample_rate=16000).shape
    (2, 160)
    """
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        from ._cuda_dispatch import cuda_resample

        return cuda_resample(y, orig_sample_rate=orig_sample_rate, target_sample_rate=target_sample_rate)
    y = check_audio(y)
    orig = check_sample_rate(orig_sample_rate, "orig_sample_rate")
    target = check_sample_rate(target_sample_rate, "target_sample_rate")
    if orig == target:
        return y.copy()
    n = y.shape[-1]
    n_out = -((-n * target) // orig)
    return _apply(y, Fraction(target, orig), n_out)


class Resampler:
    """Streaming form of :func:`resample`: chunks in, chunks out, same samples.

    The concatenation of ``process(c)`` for every chunk ``c`` followed by
    ``flush()`` equals ``resample`` of the concatenated input exactly,
    whatever the chunk sizes.

    Parameters
    ----------
    orig_sample_rate, target_sample_rate : int
        Sample rates in Hz.

    Examples
    --------
    >>> import numpy as np, noisegen
    >>> r = noisegen.Resampler(orig_sample_rate=48000, target_sample_rate=16000)
    >>> y = np.random.default_rng(0).standard_normal(4800)
    >>> out = np.concatenate([r.process(y[:1000]), r.process(y[1000:]), r.flush()])
    >>> np.array_equal(out, noisegen.resample(y, orig_sample_rate=48000, target_sample_rate=16000))
    True
    """

    def __init__(self, *, orig_sample_rate, target_sample_rate):
        self.orig_sample_rate = check_sample_rate(orig_sample_rate, "orig_sample_rate")
        self.target_sample_rate = check_sample_rate(target_sample_rate, "target_sample_rate")
        self._ratio = Fraction(self.target_sample_rate, self.orig_sample_rate)
        self.reset()

    def reset(self):
        """Forget the stream: the next chunk starts a new signal."""
        self._plan = None
        self._buf = None
        self._buf_start = 0
        self._n_in = 0
        self._k = 0
        self._shape = None

    def _start(self, chunk):
        self._plan = _Plan(self._ratio, chunk.dtype)
        self._shape = chunk.shape[:-1]
        half = self._plan.half
        self._buf = np.zeros((int(np.prod(self._shape, dtype=int)), half), dtype=chunk.dtype)
        self._buf_start = -half

    def _emit(self, k_end):
        plan = self._plan
        n_new = max(k_end - self._k, 0)
        out = np.empty((self._buf.shape[0], n_new), dtype=self._buf.dtype)
        if n_new:
            plan.run(self._buf, self._buf_start, self._k, out)
            self._k = k_end
            keep_from = plan.index(k_end) + 1 - plan.half - self._buf_start
            if keep_from > 0:
                self._buf = np.ascontiguousarray(self._buf[:, keep_from:])
                self._buf_start += keep_from
        return out.reshape(self._shape + (n_new,))

    def process(self, chunk):
        """Feed the next chunk ``[shape=(n,) or (channels, n)]``; return the outputs now ready."""
        chunk = check_audio(chunk, "chunk")
        if self._plan is None:
            self._start(chunk)
        elif chunk.shape[:-1] != self._shape or chunk.dtype != self._buf.dtype:
            raise ParameterError(
                f"chunk must have {self._shape} leading shape and dtype {self._buf.dtype} like the "
                f"first chunk, got shape {chunk.shape} and dtype {chunk.dtype}"
            )
        if self.orig_sample_rate == self.target_sample_rate:
            return chunk.copy()
        self._buf = np.concatenate([self._buf, chunk.reshape(self._buf.shape[0], -1)], axis=1)
        self._n_in += chunk.shape[-1]
        return self._emit(self._plan.count_ready(self._n_in - 1 - self._plan.reach))

    def flush(self):
        """Return the last outputs (the input is zero beyond its end) and reset the stream."""
        if self._plan is None or self.orig_sample_rate == self.target_sample_rate:
            shape = self._shape if self._shape is not None else ()
            dtype = self._buf.dtype if self._buf is not None else np.float64
            self.reset()
            return np.zeros(shape + (0,), dtype=dtype)
        total = -((-self._n_in * self._ratio.numerator) // self._ratio.denominator)
        pad = np.zeros((self._buf.shape[0], self._plan.reach + 2), dtype=self._buf.dtype)
        self._buf = np.concatenate([self._buf, pad], axis=1)
        out = self._emit(total)
        self.reset()
        return out
