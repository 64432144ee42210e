"""Noise synthesis: white and 1/f**beta noise, and a seamless streaming source.

Every generator here is built on the counter-based RNG of
:mod:`noisegen._kernels.rng`: sample ``i`` of channel ``c`` is a pure function
of ``(key, c, i)``. Coloured noise is white noise through a bank of parallel
one-pole filters whose state is carried from one read to the next, so
:class:`NoiseGenerator` gives exactly the samples of one long read however
it is chunked.

The oscillators (tones, chirps, band-limited waveforms, hum, speech-shaped
noise) live in :mod:`noisegen.oscillators` and are re-exported here.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

import numpy as np

from ._backend import resolve_backend
from ._validation import (
    MAX_SAMPLES,
    check_float_dtype,
    check_n_channels,
    check_n_samples,
    check_real,
    check_sample_rate,
)
from .errors import ParameterError
from .oscillators import *  # noqa: F401,F403
from .oscillators import __all__ as _osc_all
from .rng import check_rng, resolve_key

__all__ = [
    "white_noise",
    "colored_noise",
    "pink_noise",
    "brown_noise",
    "blue_noise",
    "violet_noise",
    "NoiseGenerator",
    "NOISE_COLORS",
    *_osc_all,
]

#: The named noise colours and their exponent ``beta`` (PSD ~ 1 / f**beta).
NOISE_COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0, "blue": -1.0, "violet": -2.0}

# Lowest corner of the 1/f**beta approximation, in cycles per sample: below
# it the spectrum flattens (0.32 Hz at 16 kHz, 0.96 Hz at 48 kHz), which keeps
# the variance of brown and pink noise finite.
_F_MIN = 2e-5
# Pole/zero pairs per decade of the approximation: 1.5 keeps the fitted
# slope within 0.035 dB/octave of -3.01*beta over 4 Hz-4 kHz at 16 kHz.
_PER_DECADE = 1.5
# The approximation extends past Nyquist so the slope holds up to it.
_F_TOP = 0.8
# The matched-z corners follow 2*sin(w/2) rather than w near Nyquist, which
# tilts the top octave. One extra first-order section (pole, zero), fitted by
# least squares for |beta| on this grid (dB error against the ideal line over
# 2e-4 to 0.47 cycles/sample) and interpolated in between, removes the tilt:
# the fitted slope from 8 Hz to 7.5 kHz at 16 kHz stays within 0.005 dB/octave.
# For negative beta the pole and zero swap roles.
_CORRECTION_BETA = np.arange(0.0, 2.0001, 0.125)
_CORRECTION_POLE = np.array([
    -0.2158, -0.20976, -0.20558, -0.20067, -0.19546, -0.19037, -0.18572, -0.18167, -0.17822,
    -0.17523, -0.17249, -0.16977, -0.16687, -0.16364, -0.16, -0.15246, -0.1438,
])
_CORRECTION_ZERO = np.array([
    -0.2158, -0.22175, -0.22867, -0.23422, -0.23912, -0.24402, -0.24948, -0.25581, -0.26313,
    -0.27131, -0.28013, -0.28927, -0.29839, -0.30718, -0.3154, -0.32097, -0.32556,
])
# Counter-RNG streams used to draw the stationary initial filter state.
_INIT_STREAM = 1 << 62


@dataclass(frozen=True)
class _OnePoleBank:
    """``H(z) = direct + sum_k residues[k] / (1 - poles[k] z^-1)``, unit output variance."""

    poles: np.ndarray
    residues: np.ndarray
    direct: float
    init: np.ndarray  # (K, K): stationary state = init @ N(0, I)


def _analog_corners(beta: float):
    """Pole and zero frequencies (rad/sample) of a 1/f**(beta/2) magnitude staircase.

    Poles sit every 1/_PER_DECADE decades from _F_MIN; each zero sits a fraction
    beta/2 of a step above its pole (below it for negative beta), so each step
    of log-frequency falls by 20 dB/decade for that fraction: on average the
    magnitude falls as f**(-beta/2) and the power as f**(-beta).
    """
    gamma = beta / 2.0
    step = 10.0 ** (1.0 / _PER_DECADE)
    w_min = 2.0 * math.pi * _F_MIN
    n = int(math.ceil(math.log(_F_TOP / _F_MIN) / math.log(step))) + 1
    base = w_min * step ** np.arange(n)
    if gamma > 0:
        poles, zeros = base, base * step**gamma
    else:
        zeros, poles = base, base * step ** (-gamma)
    # A pole and a zero at the same frequency cancel (|beta| = 2 telescopes).
    poles, zeros = list(poles), list(zeros)
    for z in list(zeros):
        match = [p for p in poles if abs(math.log(p / z)) < 1e-9]
        if match:
            poles.remove(match[0])
            zeros.remove(z)
    # Corners far above Nyquist only tilt the top of the band; clamping them
    # keeps the z-plane poles away from 0, where the partial fractions of the
    # parallel form would cancel catastrophically.
    cap = 2.0 * math.pi * _F_TOP
    return np.minimum(poles, cap), np.minimum(zeros, cap)


@functools.lru_cache(maxsize=128)
def _design(beta: float) -> _OnePoleBank:
    """Parallel one-pole bank for PSD ~ 1/f**beta (matched-z poles and zeros)."""
    if beta == 0.0:
        return _OnePoleBank(np.zeros(0), np.zeros(0), 1.0, np.zeros((0, 0)))
    wp, wz = _analog_corners(beta)
    corr_p = float(np.interp(abs(beta), _CORRECTION_BETA, _CORRECTION_POLE))
    corr_q = float(np.interp(abs(beta), _CORRECTION_BETA, _CORRECTION_ZERO))
    if beta < 0:
        corr_p, corr_q = corr_q, corr_p
    p = np.append(np.exp(-wp), corr_p)  # z-plane poles
    q = np.append(np.exp(-wz), corr_q)  # z-plane zeros
    # H(z) = prod_j (1 - q_j u) / prod_k (1 - p_k u), u = z^-1, as many zeros as poles.
    # Partial fractions: the direct term is the limit u -> inf, the residue of
    # pole k is the rest of the product evaluated at u = 1/p_k.
    direct = float(np.prod(q / p)) if len(q) == len(p) else 0.0
    residues = np.empty(len(p))
    for k, pk in enumerate(p):
        num = np.prod(1.0 - q / pk)
        den = np.prod(np.delete(1.0 - p / pk, k))
        residues[k] = num / den
    # Stationary covariance of the one-pole states for unit white input:
    # s_k[n] = sum_m p_k^m x[n-m]  =>  E[s_j s_k] = 1 / (1 - p_j p_k), E[x s_k] = 1.
    cov = 1.0 / (1.0 - np.outer(p, p))
    variance = direct**2 + 2.0 * direct * residues.sum() + residues @ cov @ residues
    scale = 1.0 / math.sqrt(variance)
    evals, evecs = np.linalg.eigh(cov)
    init = evecs * np.sqrt(np.clip(evals, 0.0, None))
    return _OnePoleBank(p, residues * scale, direct * scale, init)


def _check_beta(beta) -> float:
    return check_real(beta, "beta", low=-2.0, high=2.0)


def _shape(out: np.ndarray, n_channels):
    return out[0] if n_channels is None else out


class NoiseGenerator:
    """A seamless noise source: any sequence of reads equals one long read.

    Parameters
    ----------
    kind_or_beta : str or float
        ``"white"``, ``"pink"``, ``"brown"``, ``"blue"``, ``"violet"``,
        ``"speech"`` (speech-shaped noise) or a real exponent ``beta`` in
        [-2, 2] (PSD ~ 1/f**beta).
    sample_rate : int
        Sample rate in Hz (sets the speech-shaped filter; coloured noise is
        defined in normalised frequency).
    rng : None, int or numpy.random.Generator
        Seed; the same seed gives the same stream.
    n_channels : int or None
        ``1`` (default) or ``None`` give mono reads of shape ``(n,)``; larger
        values (up to 2**20) give ``(n_channels, n)`` with independent channels.
    dtype : float32 or float64

    Examples
    --------
    >>> gen = NoiseGenerator("pink", sample_rate=16000, rng=0)
    >>> a = gen.read(1000); b = gen.read(24)
    >>> whole = NoiseGenerator("pink", sample_rate=16000, rng=0).read(1024)
    >>> bool(np.array_equal(np.concatenate([a, b]), whole))
    True
    """

    def __init__(self, kind_or_beta, *, sample_rate, rng=None, n_channels=1, dtype=np.float32):
        self.sample_rate = check_sample_rate(sample_rate)
        n_channels = check_n_channels(n_channels)
        self.n_channels = 1 if n_channels is None else n_channels
        self._mono = n_channels in (None, 1)
        self.dtype = check_float_dtype(dtype)
        if isinstance(kind_or_beta, str):
            name = kind_or_beta.lower().replace("_", "-")
            if name in ("speech", "speech-shaped"):
                self.kind, self.beta = "speech", None
            elif name in NOISE_COLORS:
                self.kind, self.beta = name, NOISE_COLORS[name]
            else:
                options = ", ".join([*NOISE_COLORS, "speech"])
                raise ParameterError(f"kind_or_beta must be one of {options} or a real beta, got {kind_or_beta!r}")
        elif isinstance(kind_or_beta, numbers.Real) and not isinstance(kind_or_beta, bool):
            self.beta = check_real(kind_or_beta, "kind_or_beta", low=-2.0, high=2.0)
            self.kind = "colored"
        else:
            raise ParameterError(f"kind_or_beta must be a colour name or a real beta, got {kind_or_beta!r}")
        if self.kind == "speech" and self.n_channels * self.sample_rate > MAX_SAMPLES:
            raise ParameterError(  # reset() warms the shaping filter up on one second per channel
                f"n_channels={self.n_channels} of speech-shaped noise at {self.sample_rate} Hz needs a warm-up "
                f"of {self.n_channels * self.sample_rate:,} samples; the limit is {MAX_SAMPLES:,} "
                "(noisegen._validation.MAX_SAMPLES)"
            )
        self.key = resolve_key(rng)
        self.reset()

    def reset(self) -> None:
        """Go back to the first sample (the same samples are produced again)."""
        self.position = 0
        if self.kind == "speech":
            from .oscillators import _speech_shaped_sos

            self._sos = np.array(_speech_shaped_sos(self.sample_rate), dtype=np.float64)
            self._zi = np.zeros((self._sos.shape[0], self.n_channels, 2))
            self._warm_speech_filter()
        else:
            self._bank = _design(float(self.beta))
            self._state = _initial_state(self._bank, self.key, self.n_channels)

    def _warm_speech_filter(self) -> None:
        # Run the shaping filter over a second of noise from a reserved stream
        # so the first sample is already stationary (no start-up transient).
        from scipy.signal import sosfilt

        from ._kernels.cpu import noise as kernels

        warm = np.empty((self.n_channels, self.sample_rate))
        kernels.white(warm, np.uint64(self.key), _INIT_STREAM, 0)
        _, self._zi = sosfilt(self._sos, warm, axis=-1, zi=self._zi)

    def read(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` samples, shape ``(n,)`` or ``(n_channels, n)``
        (at most ``noisegen._validation.MAX_SAMPLES`` samples over all channels)."""
        n = check_n_samples(n_samples, n_channels=None if self._mono else self.n_channels)
        from ._kernels.cpu import noise as kernels

        if self.kind == "speech":
            from scipy.signal import sosfilt

            white = np.empty((self.n_channels, n))
            kernels.white(white, np.uint64(self.key), 0, self.position)
            shaped, self._zi = sosfilt(self._sos, white, axis=-1, zi=self._zi)
            out = np.ascontiguousarray(shaped, dtype=self.dtype)
        else:
            out = np.empty((self.n_channels, n), dtype=self.dtype)
            _run_bank(out, self._bank, self.key, self.position, self._state)
        self.position += n
        return out[0] if self._mono else out

    def __repr__(self) -> str:
        what = self.kind if self.kind != "colored" else f"beta={self.beta:g}"
        return f"NoiseGenerator({what}, sample_rate={self.sample_rate}, n_channels={self.n_channels}, position={self.position})"


def _initial_state(bank: _OnePoleBank, key: int, n_channels: int) -> np.ndarray:
    """A draw of the one-pole states from their stationary distribution."""
    n_sections = bank.poles.shape[0]
    if n_sections == 0:
        return np.zeros((n_channels, 0))
    from ._kernels.cpu import noise as kernels

    z = np.empty((n_channels, n_sections))
    kernels.white(z, np.uint64(key), _INIT_STREAM, 0)
    return np.ascontiguousarray(z @ bank.init.T)


def _run_bank(out: np.ndarray, bank: _OnePoleBank, key: int, start: int, state: np.ndarray) -> None:
    from ._kernels.cpu import noise as kernels

    if bank.poles.shape[0] == 0:
        kernels.white(out, np.uint64(key), 0, start)
    else:
        kernels.colored(out, np.uint64(key), start, bank.poles, bank.residues, bank.direct, state)


def colored_noise(n_samples, *, beta, rng=None, n_channels=None, dtype=np.float32, backend="auto"):
    """Gaussian noise with power spectral density proportional to ``1 / f**beta``.

    White noise (counter-based RNG) runs through a bank of parallel one-pole
    filters approximating ``f**(-beta/2)`` from ``2e-5 * sample_rate`` (below
    which the spectrum flattens) up to Nyquist; the filter starts in its
    stationary state, so there is no start-up transient, and the output has
    unit variance. The fitted PSD slope is within 0.01 dB/octave of
    ``-3.01 * beta`` from ``5e-4 * sample_rate`` to ``0.47 * sample_rate``
    (measured from the exact filter response).

    Parameters
    ----------
    n_samples : int
        Number of samples per channel (>= 0); the output may hold at most
        ``noisegen._validation.MAX_SAMPLES`` (2**31) samples over all channels.
    beta : float
        Spectral exponent in [-2, 2]: 0 white, 1 pink, 2 brown, -1 blue,
        -2 violet; any real value in between.
    rng : None, int or numpy.random.Generator
        Seed. The same ``rng`` gives the same noise, however it is chunked
        (see :class:`NoiseGenerator`).
    n_channels : int or None
        ``None`` gives shape ``(n_samples,)``; an int in [1, 2**20] gives
        ``(n_channels, n_samples)`` with independent channels.
    dtype : float32 or float64
    backend : {"auto", "cpu", "cuda"}

    Returns
    -------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]

    See Also
    --------
    white_noise, pink_noise, brown_noise, NoiseGenerator

    Examples
    --------
    >>> y = colored_noise(16000, beta=1.0, rng=0)
    >>> y.shape, y.dtype
    ((16000,), dtype('float32'))
    >>> bool(np.array_equal(y, colored_noise(16000, beta=1.0, rng=0)))
    True
    """
    c = check_n_channels(n_channels)
    n = check_n_samples(n_samples, n_channels=c)
    beta = _check_beta(beta)
    dtype = check_float_dtype(dtype)
    check_rng(rng)
    if resolve_backend(backend, supports_cuda=True) == "cuda":
        from ._cuda_dispatch import cuda_colored_noise

        return cuda_colored_noise(n, beta=beta, rng=rng, n_channels=c, dtype=dtype)
    key = resolve_key(rng)
    bank = _design(beta)
    out = np.empty((1 if c is None else c, n), dtype=dtype)
    _run_bank(out, bank, key, 0, _initial_state(bank, key, out.shape[0]))
    return _shape(out, c)


def white_noise(n_samples, *, rng=None, n_channels=None, dtype=np.float32, backend="auto"):
    """Gaussian white noise with zero mean and unit variance.

    Parameters
    ----------
    n_samples : int
    rng : None, int or numpy.random.Generator
    n_channels : int or None
        ``None``: shape ``(n_samples,)``; int: ``(n_channels, n_samples)``.
    dtype : float32 or float64
    backend : {"auto", "cpu", "cuda"}

    Examples
    --------
    >>> y = white_noise(48000, rng=1, n_channels=2, dtype=np.float64)
    >>> y.shape
    (2, 48000)
    >>> bool(abs(y.std() - 1.0) < 0.01)
    True
    """
    return colored_noise(n_samples, beta=0.0, rng=rng, n_channels=n_channels, dtype=dtype, backend=backend)


def _named(color: str):
    beta = NOISE_COLORS[color]

    def fn(n_samples, *, rng=None, n_channels=None, dtype=np.float32, backend="auto"):
        return colored_noise(n_samples, beta=beta, rng=rng, n_channels=n_channels, dtype=dtype, backend=backend)

    fn.__name__ = fn.__qualname__ = f"{color}_noise"
    fn.__doc__ = (
        f"{color.capitalize()} noise: :func:`colored_noise` with ``beta={beta:g}`` "
        f"(PSD slope {-3.0103 * beta:+.2f} dB/octave), unit variance.\n\n"
        "Examples\n--------\n"
        f">>> {color}_noise(8000, rng=0).shape\n(8000,)\n"
    )
    return fn


pink_noise = _named("pink")
brown_noise = _named("brown")
blue_noise = _named("blue")
violet_noise = _named("violet")
