"""Noise synthesis: white and 1/f**beta noise, and a seamless streaming source.

Every generator here is built on the counter-based RNG of
:mod:`noisegen._kernels.rng`: sample ``i`` of channel ``c`` is a pure function
of ``(key, c, i)``. Coloured noise is white noise through a bank of parallel
one-pole filters whose state is carried from one read to the next, so
:class:`NoiseGenerator` gives exactly the samples of one long read however
it is chunked.

The oscillators (tones, chirps, band-limited waveforms, hum, speech-shaped
noise) live in :mod:`noisegen.synth.oscillators`; :mod:`noisegen.synth` re-exports both.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._core.backend import resolve_backend
from .._core.validation import (
    MAX_SAMPLES,
    check_float_dtype,
    check_n_channels,
    check_n_samples,
    check_real,
    check_sample_rate,
)
from .._core.errors import ParameterError
from .._core.rng import check_rng, resolve_key
from .._design.noise import INIT_STREAM, check_beta, check_min_freq, design_bank, initial_state, run_bank
from .._design.sections import SPEECH_WARM_SAMPLES, speech_shaped_sos
from .._gpu.ops import cuda_colored_noise
from .._kernels.cpu import noise as kernels

__all__ = [
    "white_noise",
    "colored_noise",
    "pink_noise",
    "brown_noise",
    "blue_noise",
    "violet_noise",
    "NoiseGenerator",
    "NOISE_COLORS",
]

#: The named noise colours and their exponent ``beta`` (PSD ~ 1 / f**beta).
NOISE_COLORS = {"white": 0.0, "pink": 1.0, "brown": 2.0, "blue": -1.0, "violet": -2.0}

#: Samples (over all channels) the speech-shaped filter runs on at a time (its warm-up, reads).
WARM_BLOCK = 1 << 18


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
        Sample rate in Hz (sets the speech-shaped filter and places
        ``min_freq_hz``; coloured noise is otherwise defined in normalised
        frequency).
    rng : None, int or numpy.random.Generator
        Seed; the same seed gives the same stream.
    n_channels : int or None
        ``1`` (default) or ``None`` give mono reads of shape ``(n,)``; larger
        values (up to 2**20) give ``(n_channels, n)`` with independent channels.
    min_freq_hz : float or None
        Coloured noise only: as in :func:`colored_noise`, nothing below it.
    dtype : float32 or float64

    Examples
    --------
    >>> gen = NoiseGenerator("pink", sample_rate=16000, rng=0)
    >>> a = gen.read(1000); b = gen.read(24)
    >>> whole = NoiseGenerator("pink", sample_rate=16000, rng=0).read(1024)
    >>> bool(np.array_equal(np.concatenate([a, b]), whole))
    True
    """

    def __init__(self, kind_or_beta, *, sample_rate, rng=None, n_channels=1, min_freq_hz=None, dtype=np.float32):
        self.sample_rate = check_sample_rate(sample_rate)
        self._min_freq = check_min_freq(min_freq_hz, self.sample_rate)
        self.min_freq_hz = None if min_freq_hz is None else float(min_freq_hz)
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
        if self.kind == "speech" and self.min_freq_hz is not None:
            raise ParameterError(f"min_freq_hz applies to coloured noise, not to speech-shaped noise; "
                                 f"got {min_freq_hz!r}")
        if self.kind == "speech" and self.n_channels * self._warm_length() > MAX_SAMPLES:
            raise ParameterError(  # reset() warms the shaping filter up on one second per channel
                f"n_channels={self.n_channels} of speech-shaped noise at {self.sample_rate} Hz needs a warm-up "
                f"of {self.n_channels * self._warm_length():,} samples; the limit is {MAX_SAMPLES:,} "
                "(noisegen._core.validation.MAX_SAMPLES)"
            )
        self.key = resolve_key(rng)
        self.reset()

    def reset(self) -> None:
        """Go back to the first sample (the same samples are produced again)."""
        if self.kind == "speech":
            self._sos = np.array(speech_shaped_sos(self.sample_rate), dtype=np.float64)
            self._zi = self._warm_speech_filter(np.zeros((self._sos.shape[0], self.n_channels, 2)))
        else:
            self._bank = design_bank(float(self.beta), self._min_freq)
            self._state = initial_state(self._bank, self.key, self.n_channels)
        self.position = 0  # (last, with the state made: a reset stopped midway changes nothing)

    def _warm_length(self) -> int:
        # a second, or the samples the filter needs to settle where a second is only a few
        return max(self.sample_rate, SPEECH_WARM_SAMPLES)

    def _warm_speech_filter(self, zi: np.ndarray) -> np.ndarray:
        # Run the shaping filter over a second of noise from a reserved stream
        # so the first sample is already stationary (no start-up transient).
        return self._shape_speech(zi, INIT_STREAM, 0, self._warm_length())

    def _shape_speech(self, zi: np.ndarray, stream0: int, start: int, n: int, out=None) -> np.ndarray:
        """Samples ``start`` to ``start + n`` of white streams ``stream0 + c`` through the shaping filter
        from state ``zi`` (left as it is), into ``out`` when given; returns the state after them. A block
        at a time (the same samples: counter RNG, sosfilt with zi), so the memory is a block's, not n
        samples of every channel's, twice, in float64."""
        from scipy.signal import sosfilt

        step = max(1, WARM_BLOCK // self.n_channels)
        for a in range(0, n, step):
            white = np.empty((self.n_channels, min(step, n - a)))
            kernels.white(white, np.uint64(self.key), stream0, start + a)
            shaped, zi = sosfilt(self._sos, white, axis=-1, zi=zi)
            if out is not None:
                out[:, a:a + white.shape[1]] = shaped
        return zi

    def read(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` samples, shape ``(n,)`` or ``(n_channels, n)``
        (at most ``noisegen._core.validation.MAX_SAMPLES`` samples over all channels)."""
        n = check_n_samples(n_samples, n_channels=None if self._mono else self.n_channels)

        out = np.empty((self.n_channels, n), dtype=self.dtype)
        # The filter state and the position change together once the samples are made: a read stopped
        # midway (Ctrl-C between its pieces) left the filter ahead of the position, and every later read
        # gave other samples than one long read. It now leaves the generator as it was.
        if self.kind == "speech":  # (n = 0: no block, and sosfilt, which refuses an empty signal, is not called)
            zi = self._shape_speech(self._zi, 0, self.position, n, out)
            self._zi, self.position = zi, self.position + n
        else:
            state = self._state.copy()  # (the kernels carry it in place)
            run_bank(out, self._bank, self.key, self.position, state)
            self._state, self.position = state, self.position + n
        return out[0] if self._mono else out

    def __copy__(self) -> "NoiseGenerator":
        """A generator at the same position with its own filter state (reads advance it in place):
        reading one leaves the other as it was."""
        twin = object.__new__(type(self))
        twin.__dict__.update({k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(self).items()})
        return twin

    def __repr__(self) -> str:
        what = self.kind if self.kind != "colored" else f"beta={self.beta:g}"
        if self.min_freq_hz is not None:
            what += f", min_freq_hz={self.min_freq_hz:g}"
        return f"NoiseGenerator({what}, sample_rate={self.sample_rate}, n_channels={self.n_channels}, position={self.position})"


def colored_noise(n_samples, *, beta, rng=None, n_channels=None, dtype=np.float32, min_freq_hz=None, sample_rate=None,
                  backend="auto"):
    """Gaussian noise with power spectral density proportional to ``1 / f**beta``.

    White noise (counter-based RNG) runs through a bank of parallel one-pole
    filters approximating ``f**(-beta/2)`` from ``2e-5 * sample_rate`` (below
    which the spectrum flattens) up to Nyquist; the filter starts in its
    stationary state, so there is no start-up transient, and the output has
    unit variance. The fitted PSD slope is within 0.01 dB/octave of
    ``-3.01 * beta`` from ``5e-4 * sample_rate`` to ``0.47 * sample_rate``
    (measured from the exact filter response).

    With ``min_freq_hz`` the noise follows ``1/f**beta`` from there to
    Nyquist and is removed below it: the bank is multiplied by an order-8
    Butterworth high-pass (48 dB/octave) with its -3 dB corner at
    ``1.2 * min_freq_hz``, or halfway from ``min_freq_hz`` to Nyquist where
    that is lower (``min_freq_hz`` above ``sample_rate / 2.8``): there the
    lower half of the band above ``min_freq_hz`` is more than 3 dB down too
    (at ``0.45 * sample_rate``, a band of 0.025 * sample_rate under Nyquist
    is left). At most 0.45 % of the power (brown noise; less for smaller
    beta) is left below ``min_freq_hz``, where the level is 12.9 dB down
    already (up to ``min_freq_hz = 0.03 * sample_rate``; the digital
    high-pass is steeper above: 13.9 dB at ``0.1 * sample_rate``, 17.9 at
    0.2, 30 at 0.3, about 50 from 0.35 up); from ``2 * min_freq_hz`` up the
    high-pass changes the level by less than 0.002 dB. Still unit variance,
    stationary from the first sample and seamless under any chunking.

    Parameters
    ----------
    n_samples : int
        Number of samples per channel (>= 0); the output may hold at most
        ``noisegen._core.validation.MAX_SAMPLES`` (2**31) samples over all channels.
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
    min_freq_hz : float or None
        Lowest frequency of the noise, in ``[1e-6 * sample_rate,
        sample_rate / 2)``; ``None`` (default): the spectrum runs down to
        ``2e-5 * sample_rate`` and flattens below.
    sample_rate : int or None
        Sample rate in Hz; required with ``min_freq_hz``.
    backend : {"auto", "cpu", "cuda"}
        ``"cuda"`` draws on the GPU and returns a device array (no host copy).

    Returns
    -------
    y : np.ndarray [shape=(n_samples,) or (n_channels, n_samples)]
        A Numba CUDA device array of that shape with ``backend="cuda"``.

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
    >>> brown = colored_noise(32000, beta=2.0, rng=0, min_freq_hz=20, sample_rate=16000)
    >>> bool(abs(brown.mean()) < 0.05 * brown.std())  # nothing near DC
    True
    """
    c = check_n_channels(n_channels)
    n = check_n_samples(n_samples, n_channels=c)
    beta = check_beta(beta)
    dtype = check_float_dtype(dtype)
    check_rng(rng)
    min_freq = check_min_freq(min_freq_hz, sample_rate)
    if resolve_backend(backend, supports_cuda=True) == "cuda":
        return cuda_colored_noise(n, beta=beta, rng=rng, n_channels=c, dtype=dtype, min_freq_hz=min_freq_hz,
                                  sample_rate=sample_rate)
    key = resolve_key(rng)
    bank = design_bank(beta, min_freq)
    out = np.empty((1 if c is None else c, n), dtype=dtype)
    run_bank(out, bank, key, 0, initial_state(bank, key, out.shape[0]))
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

    def fn(n_samples, *, rng=None, n_channels=None, dtype=np.float32, min_freq_hz=None, sample_rate=None,
           backend="auto"):
        return colored_noise(n_samples, beta=beta, rng=rng, n_channels=n_channels, dtype=dtype,
                             min_freq_hz=min_freq_hz, sample_rate=sample_rate, backend=backend)

    fn.__name__ = fn.__qualname__ = f"{color}_noise"
    fn.__doc__ = (
        f"{color.capitalize()} noise: :func:`colored_noise` with ``beta={beta:g}`` "
        f"(PSD slope {-3.0103 * beta:+.2f} dB/octave), unit variance; its other arguments "
        "(``n_samples``, ``rng``, ``n_channels``, ``dtype``, ``min_freq_hz``, ``sample_rate``, ``backend``) as there.\n\n"
        "Examples\n--------\n"
        f">>> {color}_noise(8000, rng=0).shape\n(8000,)\n"
    )
    return fn


pink_noise = _named("pink")
brown_noise = _named("brown")
blue_noise = _named("blue")
violet_noise = _named("violet")
