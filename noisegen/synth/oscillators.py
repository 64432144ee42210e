"""Deterministic test signals: tones, chirps, band-limited waveforms, clicks, hum,
and speech-shaped noise.

Every oscillator evaluates its phase per sample index from a closed form in
float64 (no accumulated increment, hence no drift), and the band-limited
waveforms are sums of their exact Fourier series truncated below Nyquist, so
they contain no aliased partial at all (PolyBLEP only attenuates them).

All functions take ``sample_rate`` and exactly one of ``duration_s`` or
``n_samples``; the length is ``round(duration_s * sample_rate)``. With
``n_channels=None`` the result has shape ``(n_samples,)``, otherwise
``(n_channels, n_samples)`` (identical rows for the deterministic signals,
independent noise streams for :func:`speech_shaped_noise`).
"""

from __future__ import annotations

import math

import numpy as np

from .._core.validation import (
    check_choice,
    check_duration,
    check_finite_output,
    check_float_dtype,
    check_n_channels,
    check_n_samples,
    check_real,
    check_real_array,
    check_sample_rate,
    show_value,
)
from .._core.errors import ParameterError
from .._design.sections import LTASS_CENTERS_HZ, LTASS_LEVELS_DB, speech_shaped_sos  # noqa: F401
from .._kernels.cpu import osc
from .noise import NoiseGenerator

__all__ = [
    "tone",
    "chirp",
    "square",
    "sawtooth",
    "triangle",
    "impulse_train",
    "hum",
    "speech_shaped_noise",
]

_TWO_PI = 2.0 * math.pi

#: Default hum harmonic levels (dB re the fundamental) for harmonics 1, 2, 3, ...:
#: odd harmonics dominate, as with the rectifier and transformer loads that cause hum.
HUM_HARMONIC_LEVELS_DB = (0.0, -18.0, -6.0, -24.0, -12.0, -30.0, -18.0, -36.0, -24.0, -42.0)


# ----------------------------------------------------------------------------- validation


def _length(duration_s, n_samples, sample_rate: int, n_channels=None) -> int:
    """The output length; refused beyond ``MAX_SAMPLES`` over all channels."""
    if (duration_s is None) == (n_samples is None):
        raise ParameterError(
            "exactly one of duration_s and n_samples must be given, "
            f"got duration_s={duration_s!r}, n_samples={n_samples!r}"
        )
    if n_samples is not None:
        return check_n_samples(n_samples, n_channels=n_channels)
    return check_duration(duration_s, "duration_s", sample_rate, n_channels=n_channels)


def _common(sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype):
    sample_rate = check_sample_rate(sample_rate)
    n_channels = check_n_channels(n_channels)
    n = _length(duration_s, n_samples, sample_rate, n_channels)
    amplitude = check_real(amplitude, "amplitude")
    phase = check_real(phase, "phase")
    if abs(phase) > _TWO_PI:  # to (-pi, pi], exactly (libm's sin and cos reduce any argument): the
        phase = math.atan2(math.sin(phase), math.cos(phase))  # kernels' cycle count loses it past 2**53
    dtype = check_float_dtype(dtype)
    return sample_rate, n, amplitude, phase, n_channels, dtype


def _freq(freq_hz, name, sample_rate, *, allow_zero, allow_nyquist):
    nyq = sample_rate / 2.0
    try:
        return check_real(freq_hz, name, low=0.0, high=nyq, low_inclusive=allow_zero, high_inclusive=allow_nyquist)
    except ParameterError as exc:  # the range moves with the rate: say which (a default can be out of it)
        raise ParameterError(f"{exc} (Hz, up to the Nyquist frequency of sample_rate {sample_rate})") from None


def _channels(row: np.ndarray, n_channels):
    if n_channels is None:
        return row
    # a copy: ascontiguousarray handed back broadcast_to's read-only view wherever that view counts as
    # contiguous (one channel, or no samples), and `y *= 0.5` then raised
    return np.array(np.broadcast_to(row, (n_channels, row.shape[0])), order="C")


#: Operations (samples times harmonics) of one kernel call, some milliseconds: a call holds the
#: interpreter, so a Ctrl-C waits for it.
_CALL_WORK = 1 << 24


def _fill(kernel_name: str, n: int, dtype, level: str, *args) -> np.ndarray:
    """The kernel's ``n`` samples; a level past ``dtype``'s range (``level`` names the argument,
    e.g. ``"amplitude=1e+39"``) is a ParameterError, not inf or NaN samples.

    The kernel runs on pieces of the output (a sample depends on its index alone, so the bits are
    the same), so a Ctrl-C stops a long signal within a piece, not after it all (hours for a long
    low band-limited wave: 100,000 harmonics a sample)."""
    out = np.empty(n, dtype=dtype)
    kernel = getattr(osc, kernel_name)
    per_sample = args[-1].shape[0] if kernel_name == "additive" else 1  # (its last argument: the amplitudes)
    step = max(_CALL_WORK // per_sample, 256)
    for a in range(0, n, step):
        kernel(out[a:a + step], a, *args)
    return check_finite_output(out, level)


# ----------------------------------------------------------------------------- tones


def tone(*, freq_hz, sample_rate, duration_s=None, n_samples=None, amplitude=1.0, phase=0.0,
         n_channels=None, dtype=np.float32):
    """A pure tone ``amplitude * cos(2*pi*freq_hz*t + phase)``, ``t = n / sample_rate``.

    Parameters
    ----------
    freq_hz : float
        Frequency in Hz, in ``[0, sample_rate / 2]``.
    sample_rate : int
        Sample rate in Hz.
    duration_s, n_samples : float or int
        Length; give exactly one. ``duration_s`` is rounded to the nearest sample.
        The output may hold at most ``noisegen._core.validation.MAX_SAMPLES``
        (2**31) samples over all channels.
    amplitude : float
        Peak amplitude.
    phase : float
        Phase at ``t = 0`` in radians.
    n_channels : int or None
        ``None`` for shape ``(n,)``; an int in [1, 2**20] for ``(n_channels, n)`` (identical rows).
    dtype : float32 or float64

    Returns
    -------
    y : np.ndarray [shape=(n,) or (n_channels, n)]

    See Also
    --------
    chirp, hum

    Examples
    --------
    >>> import noisegen
    >>> y = noisegen.tone(freq_hz=440.0, sample_rate=16000, duration_s=0.5)
    >>> y.shape, y.dtype, float(y[0])
    ((8000,), dtype('float32'), 1.0)
    """
    sr, n, amplitude, phase, n_channels, dtype = _common(
        sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype
    )
    f = _freq(freq_hz, "freq_hz", sr, allow_zero=True, allow_nyquist=True)
    row = _fill("cosine", n, dtype, f"amplitude={amplitude:g}", f / sr, phase / _TWO_PI, amplitude)
    return _channels(row, n_channels)


def chirp(*, freq_hz, end_freq_hz, sample_rate, duration_s=None, n_samples=None, method="linear",
          amplitude=1.0, phase=0.0, n_channels=None, dtype=np.float32):
    """A frequency sweep from ``freq_hz`` at ``t = 0`` to ``end_freq_hz`` at ``t = n / sample_rate``.

    The same signal as ``scipy.signal.chirp(t, f0=freq_hz, t1=n/sample_rate,
    f1=end_freq_hz, method=method, phi=degrees(phase))`` with
    ``t = arange(n) / sample_rate``, computed without phase drift.

    Parameters
    ----------
    freq_hz, end_freq_hz : float
        Start and end frequencies in Hz, in ``[0, sample_rate / 2]`` (both
        ``> 0`` for ``method="logarithmic"``).
    sample_rate : int
    duration_s, n_samples : float or int
        Length; give exactly one.
    method : {"linear", "logarithmic"}
        Instantaneous frequency linear in time, or exponential (constant octaves
        per second).
    amplitude, phase, n_channels, dtype
        As in :func:`tone`.

    Returns
    -------
    y : np.ndarray [shape=(n,) or (n_channels, n)]

    Examples
    --------
    >>> import noisegen
    >>> y = noisegen.chirp(freq_hz=100.0, end_freq_hz=4000.0, sample_rate=16000,
    ...                    duration_s=1.0, method="logarithmic")
    >>> y.shape
    (16000,)
    """
    sr, n, amplitude, phase, n_channels, dtype = _common(
        sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype
    )
    method = check_choice(method, "method", ("linear", "logarithmic"))
    log = method == "logarithmic"
    f0 = _freq(freq_hz, "freq_hz", sr, allow_zero=not log, allow_nyquist=True)
    f1 = _freq(end_freq_hz, "end_freq_hz", sr, allow_zero=not log, allow_nyquist=True)
    inc0 = f0 / sr
    phase0 = phase / _TWO_PI
    if n == 0:
        return _channels(np.empty(0, dtype=dtype), n_channels)
    if log and f0 != f1:
        if not 0.0 < f1 / f0 < math.inf:  # (the growth was +-inf: NaN samples, or log(0) raised ValueError)
            low, high, name = (f0, f1, "freq_hz") if f0 < f1 else (f1, f0, "end_freq_hz")
            raise ParameterError(
                f"{name}={low:g} is too low for a logarithmic chirp with {high:g} Hz at its other end: "
                f"the ratio of the two must be at most {np.finfo(np.float64).max:.4g} (a float64)"
            )
        growth = math.log(f1 / f0) / n  # per sample: f(n) = f0 * exp(growth * n)
        row = _fill("log_chirp", n, dtype, f"amplitude={amplitude:g}", inc0, growth, phase0, amplitude)
    else:
        half_rate = 0.5 * (f1 - f0) / sr / n  # cycles per sample**2, halved
        row = _fill("linear_chirp", n, dtype, f"amplitude={amplitude:g}", inc0, half_rate, phase0, amplitude)
    return _channels(row, n_channels)


# ----------------------------------------------------------------------------- band-limited waveforms


#: Most harmonics of a band-limited waveform: the additive kernel costs one multiply-add per
#: harmonic and sample, and its recurrence error grows like ``k**2 * eps`` (1e-6 at this many).
MAX_HARMONICS = 100_000


def _n_harmonics(f: float, sr: int) -> int:
    """Number of harmonics strictly below Nyquist (at most 2**53: a subnormal ``f`` has no count)."""
    k = int(math.floor(min(sr / (2.0 * f), 2.0**53)))
    if k * f >= sr / 2.0:
        k -= 1
    return max(k, 1)


def _harmonics_needed(n_harm: int, f: float, sr: int) -> str:
    """The count of :func:`_n_harmonics` as an error states it: past its 2**53 cap that count is not
    the need (1e-300 Hz at 16 kHz needs about 8e+303, not 9007199254740992)."""
    if n_harm < 2**53:
        return str(n_harm)
    need = sr / (2.0 * f)  # (inf for a subnormal f)
    return f"about {need:.3g}" if math.isfinite(need) else f"more than {np.finfo(np.float64).max:.3g}"


def _series(kind: str, n_harm: int) -> tuple[np.ndarray, float]:
    """Sine-series amplitudes of harmonics 1..n_harm and the phase offset (cycles)."""
    k = np.arange(1, n_harm + 1, dtype=np.float64)
    odd = (k % 2) == 1
    if kind == "sawtooth":  # 2*frac(x) - 1 = -(2/pi) sum sin(k x) / k
        return -2.0 / (math.pi * k), 0.0
    if kind == "square":  # sign(sin x) = (4/pi) sum_odd sin(k x) / k
        return np.where(odd, 4.0 / (math.pi * k), 0.0), 0.0
    # triangle, -1 at x = 0 rising to +1 at x = pi: -(8/pi^2) sum_odd cos(k x) / k^2,
    # and for odd k, cos(k x) = (-1)**((k-1)/2) * sin(k (x + pi/2)): a quarter-cycle shift.
    sign = np.where(((k - 1) // 2) % 2 == 0, 1.0, -1.0)
    return np.where(odd, -8.0 / (math.pi**2 * k**2) * sign, 0.0), 0.25


def _band_limited(kind, freq_hz, sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype):
    sr, n, amplitude, phase, n_channels, dtype = _common(
        sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype
    )
    f = _freq(freq_hz, "freq_hz", sr, allow_zero=False, allow_nyquist=False)
    n_harm = _n_harmonics(f, sr)
    if n_harm > MAX_HARMONICS:
        raise ParameterError(
            f"freq_hz must be at least {sr / (2.0 * MAX_HARMONICS):g} Hz at {sr} Hz for a band-limited {kind} "
            f"(it would need {_harmonics_needed(n_harm, f, sr)} harmonics, at most {MAX_HARMONICS}), got {f:g}"
        )
    amps, shift = _series(kind, n_harm)
    with np.errstate(over="ignore"):  # an infinite harmonic makes inf/NaN samples: _fill's error
        amps = amps * amplitude
    row = _fill("additive", n, dtype, f"amplitude={amplitude:g}", f / sr, phase / _TWO_PI + shift, amps)
    return _channels(row, n_channels)


_BL_DOC = """A band-limited {what} wave: its Fourier series truncated below Nyquist.

    The periodic waveform of ``scipy.signal.{ref}(2*pi*freq_hz*t + phase)``
    with every harmonic at or above ``sample_rate / 2`` removed, so there is no
    aliasing at all (the harmonics are summed exactly; Gibbs ripple near the
    edges is the price, as with any band-limited {what}).

    Parameters
    ----------
    freq_hz : float
        Fundamental frequency in Hz, in ``(0, sample_rate / 2)``.
    sample_rate : int
    duration_s, n_samples : float or int
        Length; give exactly one.
    amplitude : float
        Amplitude of the ideal (unlimited) waveform.
    phase : float
        Phase offset in radians.
    n_channels, dtype
        As in :func:`tone`.

    Returns
    -------
    y : np.ndarray [shape=(n,) or (n_channels, n)]

    Examples
    --------
    >>> import noisegen
    >>> y = noisegen.{name}(freq_hz=3000.0, sample_rate=16000, n_samples=16000)
    >>> y.shape
    (16000,)
    """


def square(*, freq_hz, sample_rate, duration_s=None, n_samples=None, amplitude=1.0, phase=0.0,
           n_channels=None, dtype=np.float32):
    return _band_limited("square", freq_hz, sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype)


def sawtooth(*, freq_hz, sample_rate, duration_s=None, n_samples=None, amplitude=1.0, phase=0.0,
             n_channels=None, dtype=np.float32):
    return _band_limited("sawtooth", freq_hz, sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype)


def triangle(*, freq_hz, sample_rate, duration_s=None, n_samples=None, amplitude=1.0, phase=0.0,
             n_channels=None, dtype=np.float32):
    return _band_limited("triangle", freq_hz, sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype)


square.__doc__ = _BL_DOC.format(what="square", ref="square", name="square")
sawtooth.__doc__ = _BL_DOC.format(what="sawtooth (rising ramp)", ref="sawtooth", name="sawtooth")
triangle.__doc__ = _BL_DOC.format(what="triangle", ref="sawtooth(..., width=0.5)", name="triangle")


def impulse_train(*, freq_hz, sample_rate, duration_s=None, n_samples=None, amplitude=1.0, phase=0.0,
                  n_channels=None, dtype=np.float32):
    """Clicks: ``amplitude`` on the sample nearest each period start, zeros elsewhere.

    Period starts are at ``t = (m - phase / (2*pi)) / freq_hz``, so with
    ``phase=0`` the first impulse is sample 0. Non-integer periods are rounded
    per impulse (no drift: impulse ``m`` is within half a sample of its ideal time).

    Parameters
    ----------
    freq_hz : float
        Impulses per second, in ``(0, sample_rate / 2]``.
    sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype
        As in :func:`tone`.

    Returns
    -------
    y : np.ndarray [shape=(n,) or (n_channels, n)]

    Examples
    --------
    >>> import noisegen
    >>> y = noisegen.impulse_train(freq_hz=4000.0, sample_rate=16000, n_samples=9)
    >>> y.tolist()
    [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    """
    sr, n, amplitude, phase, n_channels, dtype = _common(
        sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype
    )
    f = _freq(freq_hz, "freq_hz", sr, allow_zero=False, allow_nyquist=True)
    row = _fill("impulses", n, dtype, f"amplitude={amplitude:g}", f / sr, phase / _TWO_PI, amplitude)
    return _channels(row, n_channels)


def hum(*, sample_rate, duration_s=None, n_samples=None, mains_hz=50.0,
        harmonic_levels_db=HUM_HARMONIC_LEVELS_DB, amplitude=1.0, phase=0.0, n_channels=None,
        dtype=np.float32):
    """Mains hum: ``mains_hz`` and its harmonics at given levels.

    ``y = amplitude * sum_k 10**(harmonic_levels_db[k-1] / 20) * sin(k * (2*pi*mains_hz*t + phase))``
    over the harmonics below Nyquist.

    Parameters
    ----------
    sample_rate, duration_s, n_samples
        As in :func:`tone`.
    mains_hz : float
        Mains frequency (50 or 60 Hz in practice; any value in ``(0, sample_rate / 2)``).
    harmonic_levels_db : sequence of float
        Level in dB of harmonic 1, 2, 3, ... relative to ``amplitude``; ``-inf``
        leaves a harmonic out. The default,
        ``noisegen.synth.oscillators.HUM_HARMONIC_LEVELS_DB`` (0, -18, -6, -24,
        -12, -30, -18, -36, -24, -42 dB), has strong odd harmonics.
    amplitude : float
        Amplitude of a harmonic at 0 dB (the fundamental by default); the peak of
        the sum can exceed it.
    phase, n_channels, dtype
        As in :func:`tone`.

    Returns
    -------
    y : np.ndarray [shape=(n,) or (n_channels, n)]

    Examples
    --------
    >>> import noisegen
    >>> y = noisegen.hum(sample_rate=16000, duration_s=1.0, mains_hz=60.0, amplitude=0.1)
    >>> y.shape
    (16000,)
    """
    sr, n, amplitude, phase, n_channels, dtype = _common(
        sample_rate, duration_s, n_samples, amplitude, phase, n_channels, dtype
    )
    f = _freq(mains_hz, "mains_hz", sr, allow_zero=False, allow_nyquist=False)
    levels = check_real_array(harmonic_levels_db, "harmonic_levels_db", "a sequence of levels in dB")
    if levels.ndim != 1 or not levels.size or np.isnan(levels).any() or (levels == math.inf).any():
        raise ParameterError(
            "harmonic_levels_db must be a non-empty sequence of finite levels (or -inf), "
            f"got {show_value(harmonic_levels_db)}"
        )
    levels = levels[: _n_harmonics(f, sr)]
    with np.errstate(over="ignore"):  # an infinite harmonic makes inf/NaN samples: _fill's error
        amps = amplitude * np.power(10.0, levels / 20.0)
    level = f"amplitude={amplitude:g} with harmonic_levels_db={show_value(tuple(levels.tolist()))}"
    row = _fill("additive", n, dtype, level, f / sr, phase / _TWO_PI, amps)
    return _channels(row, n_channels)


# ----------------------------------------------------------------------------- speech-shaped noise

def speech_shaped_noise(*, sample_rate, duration_s=None, n_samples=None, rng=None, amplitude=1.0,
                        n_channels=None, dtype=np.float32):
    """Gaussian noise with the long-term average speech spectrum (LTASS).

    White noise from :func:`noisegen.white_noise` through a small IIR filter
    fitted to the universal LTASS of Byrne et al. (1994): a broad maximum
    around 400-500 Hz, a steep fall below 100 Hz and, above 1 kHz, a power
    density falling about 6.5 dB/octave (7.5 from 1 to 2 kHz, 5 from 4 to
    8 kHz, as the LTASS's own). The filter starts in its stationary state (no
    onset transient), and the samples are exactly those of
    ``NoiseGenerator("speech", ...)`` with the same ``rng``. The fit holds the
    LTASS's octaves within about 2 dB up to 192 kHz; above it the filter stops
    growing (a larger one is ill-conditioned) and the octaves stray further:
    3-5 dB off at 384-768 kHz (the same fall above 1 kHz), variance still 1.

    Parameters
    ----------
    sample_rate : int
    duration_s, n_samples : float or int
        Length; give exactly one.
    rng : None, int or numpy.random.Generator
        Source of randomness; the same ``rng`` gives the same noise.
    amplitude : float
        RMS of the noise (unit variance times ``amplitude``), >= 0.
    n_channels : int or None
        ``None`` for shape ``(n,)``, otherwise independent channels ``(n_channels, n)``.
    dtype : float32 or float64

    Returns
    -------
    y : np.ndarray [shape=(n,) or (n_channels, n)]

    Examples
    --------
    >>> import noisegen
    >>> y = noisegen.speech_shaped_noise(sample_rate=16000, duration_s=1.0, rng=0)
    >>> y.shape, y.dtype
    ((16000,), dtype('float32'))
    """

    sr = check_sample_rate(sample_rate)
    n_channels = check_n_channels(n_channels)
    n = _length(duration_s, n_samples, sr, n_channels)
    amplitude = check_real(amplitude, "amplitude", low=0.0)  # an RMS: -1 gave RMS 1, silently
    dtype = check_float_dtype(dtype)
    gen = NoiseGenerator("speech", sample_rate=sr, rng=rng, n_channels=n_channels or 1, dtype=np.float64)
    y = np.empty((n_channels or 1, n), dtype=dtype)
    # read in blocks (any sequence of reads equals one long read): the float64 samples and their
    # scaled copy take a block's memory, not two or three times the output's; a block holds
    # _SSN_BLOCK samples over all channels, however many channels there are
    step = max(1, _SSN_BLOCK // (n_channels or 1))
    for a in range(0, n, step):
        block = gen.read(min(step, n - a))
        with np.errstate(over="ignore"):  # past dtype's range: the error below
            y[:, a:a + block.shape[-1]] = block * amplitude if amplitude != 1.0 else block
    y = y if n_channels is not None else y[0]
    return check_finite_output(y, f"amplitude={amplitude:g}")


#: Samples (over all channels) :func:`speech_shaped_noise` reads from its generator at a time.
_SSN_BLOCK = 1 << 18
