"""Tempo, pitch and speed changes: WSOLA, phase vocoder, resampling.

- :func:`speed` plays the audio faster or slower (tempo and pitch together),
  Kaldi/sox style, through the band-limited resampler.
- :func:`time_stretch` changes tempo and keeps pitch: WSOLA by default (no
  FFT, suited to speech), or a phase-locked phase vocoder.
- :func:`pitch_shift` changes pitch and keeps the length: a time stretch and a
  resampling, in the order that resamples fewer samples.

Every output length is exact: ``round(n / rate)``, ``round(n / factor)`` or
``n`` (Python's ``round``, half to even). Multichannel audio is stretched
with the same splice points in every channel, so the channels stay aligned;
they are chosen where the channels together match (their correlations
summed), so channels in anti-phase, whose mean is silence, splice as one.
The phase vocoder likewise locks every channel's phases to the peaks of the
channels' mean magnitude, and a channel holding the same sound as the one
loudest at a peak to that one's phase (so the channels keep their phase and
time differences). Either way a channel stretched alone can differ
from the same channel stretched with others (``librosa`` stretches each on
its own), and so can a pitch shift (a WSOLA stretch).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .._core.backend import resolve_backend
from .._core.errors import ParameterError
from .._core.validation import (
    MAX_RATE_FACTOR,
    check_audio,
    check_choice,
    check_finite_output,
    check_int,
    check_output_size,
    check_rate_factor,
    check_real,
    check_sample_rate,
    nonfinite_error,
)
from .level import max_magnitude as _peak
from .resample import resample_to_length as _resample_to_length
from .._design.kaiser import filter_table
from .._design.ratios import exact_ratio, near_ratio, speed_ratio
from .._gpu.ops import cuda_speed
from .._kernels.cpu import pvoc as pvoc_kernels
from .._kernels.cpu import wsola as wsola_kernels

__all__ = ["speed", "time_stretch", "pitch_shift"]

#: WSOLA hop (half the Hann frame), seconds: 15 ms, frames of 30 ms.
WSOLA_HOP_S = 0.015
#: WSOLA search tolerance around the ideal input position, seconds.
WSOLA_TOLERANCE_S = 0.010
#: Sample rate of the decimated guide used by the coarse WSOLA search, Hz.
WSOLA_COARSE_RATE = 4000


def speed(y, *, factor, sample_rate, backend="auto"):
    """Speed perturbation: play ``y`` ``factor`` times faster (tempo and pitch change together).

    The Kaldi/sox recipe: the signal is resampled from ``sample_rate *
    factor`` to ``sample_rate`` with the band-limited resampler of
    :func:`noisegen.resample`, so its pitch moves by ``12 * log2(factor)``
    semitones.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)], float32 or float64
    factor : float in [1/256, 256]
        Speed factor; 1.1 is 10 % faster (shorter, higher). The output may
        hold at most ``noisegen._core.validation.MAX_SAMPLES`` (2**31) samples.
    sample_rate : int
        Sample rate of ``y`` (and of the output), Hz.
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    np.ndarray [shape=(..., round(n / factor))], same dtype as ``y``.

    Examples
    --------
    >>> import numpy as np, noisegen
    >>> noisegen.speed(np.zeros(16001, dtype=np.float32), factor=1.1, sample_rate=16000).shape
    (14546,)
    """
    if resolve_backend(backend, y, supports_cuda=True) == "cuda":
        return cuda_speed(y, factor=factor, sample_rate=sample_rate)
    y = check_audio(y, finite=False)  # _resample_to_length checks for NaN/inf through its output
    factor = check_rate_factor(factor, "factor")
    check_sample_rate(sample_rate)
    n_out = check_output_size(round(y.shape[-1] / factor), _rows(y), "factor", factor)
    if factor == 1.0:
        return check_audio(y).copy()
    return _resample_to_length(y, speed_ratio(factor), n_out)


def _rows(y):
    """Channel count for :func:`check_output_size` (None for mono)."""
    return None if y.ndim == 1 else y.shape[0]


#: Taps and phases of the fractional-delay filter WSOLA reads frames through.
_FRAC_TAPS = 16
_FRAC_PHASES = 128


@lru_cache(maxsize=4)
def _frac_table(dtype_char):
    """Kaiser-windowed sinc fractional delays (60 dB design, cut-off at Nyquist)."""
    half = _FRAC_TAPS // 2
    table = filter_table(_FRAC_PHASES + 1, _FRAC_PHASES, _FRAC_TAPS, half, 1.0, float(half), 0.1102 * (60.0 - 8.7))
    return table.astype(dtype_char)


@lru_cache(maxsize=16)
def _hann(length, dtype_char):
    """Periodic Hann window (sums to one at 50 % overlap)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(dtype_char)


@lru_cache(maxsize=64)
def _wsola_geometry(n, n_out, sample_rate):
    """``(hop, tol, dec, n_frames, pad, total)`` of :func:`_wsola`: frame hop, search tolerance and
    decimation (samples), frames, zeros before the input and padded length."""
    hop = max(2, int(round(WSOLA_HOP_S * sample_rate)))
    tol = max(1, int(round(WSOLA_TOLERANCE_S * sample_rate)))
    short = n < 2 * hop
    if short:  # a clip shorter than two hops: frames of a quarter of it (with 15 ms ones, the frames
        # after the first looked past its end, and time_stretch(100 samples, rate=0.5) was the clip, then silence)
        hop = max(2, n // 4)
        tol = min(tol, hop)
    dec = max(1, sample_rate // WSOLA_COARSE_RATE)
    if short:  # (a hop rounded up to 48 kHz's 12-sample decimation outgrew such a clip again: a
        # 10-sample clip stretched to 20 at 48 kHz was the clip, then silence); a coarse step of a quarter hop at most
        dec = max(1, min(dec, hop // 4))
    hop = -(-hop // dec) * dec  # frame a multiple of dec
    n_frames = -(-max(n_out - 1, 0) // hop) + 1
    step = hop * n / max(n_out, 1)
    pad = hop + tol + 2 * dec + _FRAC_TAPS
    pad = -(-pad // dec) * dec
    right = int(math.ceil(step)) + 2 * hop + tol + 2 * dec + _FRAC_TAPS + 8
    total = pad + n + right
    total = -(-total // dec) * dec
    return hop, tol, dec, n_frames, pad, total


def _wsola(y, n_out, sample_rate, guide=None):
    """WSOLA of ``y`` (2-D, C-contiguous) to exactly ``n_out`` samples.

    The splice points follow ``guide`` (2-D, ``y``'s length and dtype, any number of channels; None:
    ``y`` itself), so a second signal can be spliced where the first was.
    """

    n_ch, n = y.shape
    hop, tol, dec, n_frames, pad, total = _wsola_geometry(n, n_out, sample_rate)
    xp = np.zeros((n_ch, total), dtype=y.dtype)
    xp[:, pad : pad + n] = y
    if guide is None:
        guide = xp
    else:
        padded = np.zeros((guide.shape[0], total), dtype=y.dtype)
        padded[:, pad : pad + n] = guide
        guide = padded
    csum = np.empty(total + 1)
    guide_d = np.empty((guide.shape[0], total // dec), dtype=y.dtype)
    csum_d = np.empty(guide_d.shape[1] + 1)
    wsola_kernels.wsola_guide(guide, dec, csum, guide_d, csum_d)
    positions = np.empty(n_frames, dtype=np.float64)
    wsola_kernels.wsola_positions(guide, csum, guide_d, csum_d, dec, hop, tol, n, max(n_out, 1), pad, positions)
    window = _hann(2 * hop, y.dtype.char)
    out = np.zeros((n_ch, (n_frames + 1) * hop), dtype=y.dtype)
    wsola_kernels.wsola_overlap_add(xp, positions, hop, window, _frac_table(y.dtype.char), out)
    return out[:, hop : hop + n_out]


#: Phase-vocoder frame length, seconds (rounded to a power of two: 1024 at 16 kHz; at most twice a shorter clip).
PVOC_FRAME_S = 0.064


def _phase_vocoder(y, n_out, sample_rate):
    """Phase-locked phase vocoder of ``y`` (2-D) to exactly ``n_out`` samples."""
    import scipy.fft


    n_ch, n = y.shape
    n_fft = 2 ** max(4, int(round(math.log2(PVOC_FRAME_S * sample_rate))))
    # Frames of at most twice a shorter clip (a power of two): with one frame longer than the clip
    # every output frame repeated it a hop apart, and a slow-down was the clip, then near silence
    n_fft = min(n_fft, max(16, 1 << ((2 * n).bit_length() - 1)))
    hop = n_fft // 4
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(y.dtype)
    # Centred frames: n_fft // 2 zeros on the left, enough on the right.
    n_frames = n // hop + 1
    xp = np.zeros((n_ch, (n_frames - 1) * hop + n_fft), dtype=y.dtype)
    xp[:, n_fft // 2 : n_fft // 2 + n] = y
    frames = np.lib.stride_tricks.sliding_window_view(xp, n_fft, axis=-1)[:, ::hop][:, :n_frames]
    spec = np.zeros((n_ch, n_frames + 1, n_fft // 2 + 1), dtype=np.result_type(y.dtype, np.complex64))
    spec[:, :n_frames] = scipy.fft.rfft(frames * window, axis=-1)
    n_out_frames = -(-n_out // hop) + 1
    # Output frame j sits at input frame j * n / n_out; the last ones (at high
    # rates many, the whole synthesis window) fall past the input's end. They
    # hold the last frame the window covers fully (the middle one of a clip
    # shorter than n_fft): extrapolating the magnitudes past the end blew them
    # up (a 0.5 tone came out at 3.5 at rate 32), and interpolating into the
    # zero padding faded the tail (-3 dB over the last eighth at rate 256).
    last = max((n - n_fft // 2) // hop, round(n / (2 * hop)))
    steps = np.minimum(np.arange(n_out_frames) * (n / n_out), last)
    out_spec = np.empty((n_ch, n_out_frames, spec.shape[-1]), dtype=spec.dtype)
    pvoc_kernels.pvoc_frames(spec, steps, hop, n_fft, out_spec)
    out_frames = np.ascontiguousarray(scipy.fft.irfft(out_spec, n=n_fft, axis=-1).astype(y.dtype))
    total = (n_out_frames - 1) * hop + n_fft
    out = np.zeros((n_ch, total), dtype=y.dtype)
    norm = np.zeros(total, dtype=y.dtype)
    pvoc_kernels.overlap_add(out_frames, window, hop, out, norm)
    out = out[:, n_fft // 2 : n_fft // 2 + n_out]
    norm = norm[n_fft // 2 : n_fft // 2 + n_out]
    return out / np.maximum(norm, np.finfo(y.dtype).tiny)


def _guide_of(guide, n, dtype):
    """The 2-D guide WSOLA aligns on: ``guide``'s channels at ``dtype``, as ``_wsola`` takes ``y``'s own."""
    return np.ascontiguousarray(np.asarray(guide).reshape(-1, n), dtype=dtype)


def _checked_peak(y, name="y"):
    """``max |y|`` of audio ``y`` (checked with ``finite=False``); raises :func:`check_audio`'s
    error when ``y`` holds NaN or inf."""
    peak = _peak(np.ascontiguousarray(y))
    if not math.isfinite(peak):
        raise nonfinite_error(y, name)
    return peak


def _pow2_exponent(peak):
    """An exponent ``e`` with ``x / 2**e`` safely inside float range for a signal of this peak
    (0 when it already is)."""
    return 0 if peak == 0.0 or 2.0**-60 <= peak <= 2.0**60 else math.frexp(peak)[1]


def _stretch_to(y, n_out, sample_rate, method, guide=None, peak=None):
    """Time-stretch ``y`` to exactly ``n_out`` samples (pitch kept), splicing where ``guide`` matches
    (``peak``: ``max |y|`` when known)."""
    shape = y.shape
    y2 = np.ascontiguousarray(y.reshape(math.prod(shape[:-1]), shape[-1]))
    if n_out == shape[-1]:
        return y.copy()
    if shape[-1] == 0 or n_out == 0:
        return np.zeros(shape[:-1] + (n_out,), dtype=y.dtype)
    # Both methods are homogeneous (f(a*y) = a*f(y)) but square and sum the
    # signal (WSOLA's energies, the vocoder's spectra), which over- or
    # underflows far from 1: run them on y scaled by a power of two (exact).
    # The splice points do not change under that scaling, so a guide is scaled on its own.
    exp = _pow2_exponent(_peak(y2) if peak is None else peak)
    x2 = np.ldexp(y2, -exp).astype(y.dtype, copy=False) if exp else y2
    if guide is not None:  # scaled in its own dtype, before y's dtype could overflow
        g = np.ascontiguousarray(guide)
        g_exp = _pow2_exponent(_peak(g))
        guide = _guide_of(np.ldexp(g, -g_exp) if g_exp else g, shape[-1], y.dtype)
    if method == "wsola":
        out = _wsola(x2, n_out, sample_rate, guide)
    else:
        out = _phase_vocoder(x2, n_out, sample_rate)
    if exp:
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.ldexp(out, exp).astype(y.dtype, copy=False)
    out = np.ascontiguousarray(out)
    check_finite_output(out, f"time stretch to {n_out} samples", y=y, total=_peak(out))
    return out.reshape(shape[:-1] + (n_out,))


def _check_guide(guide, y, method="wsola"):
    """``guide`` checked against ``y``: finite audio of the same length (WSOLA only)."""
    if guide is None:
        return None
    guide = check_audio(guide, "guide", finite=False)
    _checked_peak(guide, "guide")
    if guide.shape[-1] != y.shape[-1]:
        raise ParameterError(f"guide must have y's length {y.shape[-1]}, got {guide.shape[-1]} samples")
    if method != "wsola":
        raise ParameterError(f"guide needs method='wsola' (the phase vocoder has no splice points), got {method!r}")
    return guide


def time_stretch(y, *, rate, sample_rate, method="wsola", guide=None, backend="auto"):
    """Change the tempo of ``y`` by ``rate`` and keep its pitch.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)], float32 or float64
        The channels are stretched together (shared splice points, or phases
        locked to shared peaks): not each as it would be alone.
    rate : float in [1/256, 256]
        Tempo factor; 2.0 is twice as fast (half as long). The output may
        hold at most ``noisegen._core.validation.MAX_SAMPLES`` (2**31) samples.
    sample_rate : int
        Sample rate of ``y``, Hz (sets the WSOLA frame of 30 ms and search of +-10 ms; a clip
        shorter than 30 ms is spliced in frames of half its length; the phase vocoder's frame of
        64 ms, a power of two, at most twice the clip's length).
    method : {"wsola", "phase_vocoder"}
        ``"wsola"`` (default, for speech): overlap-add of input frames spliced
        where the waveforms match, found with a coarse-to-fine
        cross-correlation search. ``"phase_vocoder"``: STFT phase vocoder with
        Laroche-Dolson identity phase locking (for music-like material).
    guide : np.ndarray or None
        Splice where this signal (``y``'s length; all its channels together) matches
        instead of where ``y`` does (WSOLA only). ``time_stretch(clean,
        guide=noisy)`` stretches ``clean`` exactly as ``noisy`` is stretched,
        so ``time_stretch(noisy) - time_stretch(clean, guide=noisy)`` is the
        stretched difference (the paired targets of :class:`noisegen.AugmentStream`).
    backend : {"auto", "cpu"}

    Returns
    -------
    np.ndarray [shape=(..., round(n / rate))], same dtype as ``y``.

    See Also
    --------
    pitch_shift, speed

    Examples
    --------
    >>> import numpy as np, noisegen
    >>> y = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32)
    >>> noisegen.time_stretch(y, rate=1.25, sample_rate=16000).shape
    (12800,)
    """
    resolve_backend(backend, y)  # no batched GPU form: raises BackendError for CUDA
    y = check_audio(y, finite=False)
    rate = check_rate_factor(rate, "rate")
    sample_rate = check_sample_rate(sample_rate)
    method = check_choice(method, "method", ("wsola", "phase_vocoder"))
    guide = _check_guide(guide, y, method)
    n_out = check_output_size(round(y.shape[-1] / rate), _rows(y), "rate", rate)
    peak = _checked_peak(y)  # after the arguments: it copies a broadcast y
    return _stretch_to(y, n_out, sample_rate, method, guide, peak)


def pitch_shift(y, *, sample_rate, n_steps, bins_per_octave=12, guide=None, backend="auto"):
    """Shift the pitch of ``y`` by ``n_steps`` and keep its length.

    The pitch ratio ``r = 2 ** (n_steps / bins_per_octave)`` comes from
    resampling by ``1 / r`` (band-limited; an irrational ``r`` by the nearest
    fraction of at most 512 phases, 1024 from 65,536 outputs on, that moves no
    output instant by more than two input samples over the clip and the pitch
    by at most 0.09 cents, when there is one, see :mod:`noisegen._design.ratios`); a WSOLA time
    stretch restores the length. The stretch runs after the resampling when
    pitching up and before it when pitching down, so the resampler always
    produces the fewer samples.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n)], float32 or float64
    sample_rate : int
        Sample rate of ``y``, Hz.
    n_steps : float
        Shift in steps (semitones with the default ``bins_per_octave``), in
        ``[-8, 8]`` octaves: ``|n_steps| <= 8 * bins_per_octave`` (the pitch
        ratio lies in [1/256, 256], as the rates of :func:`speed`).
    bins_per_octave : int in [1, 1200]
    guide : np.ndarray or None
        Splice where this signal matches instead of ``y`` (as in
        :func:`time_stretch`): the same shift, applied to a paired signal.
    backend : {"auto", "cpu"}

    Returns
    -------
    np.ndarray [shape=(..., n)], same dtype as ``y``.

    Examples
    --------
    >>> import numpy as np, noisegen
    >>> y = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32)
    >>> noisegen.pitch_shift(y, sample_rate=16000, n_steps=-2).shape
    (16000,)
    """
    resolve_backend(backend, y)  # no batched GPU form: raises BackendError for CUDA
    y = check_audio(y, finite=False)
    sample_rate = check_sample_rate(sample_rate)
    bins_per_octave = check_int(bins_per_octave, "bins_per_octave", low=1, high=1200)
    octaves = math.log2(MAX_RATE_FACTOR)
    n_steps = check_real(n_steps, "n_steps", low=-octaves * bins_per_octave, high=octaves * bins_per_octave)
    guide = _check_guide(guide, y)
    peak = _checked_peak(y)  # after the arguments: it copies a broadcast y
    n = y.shape[-1]
    if n_steps == 0 or n == 0:
        return y.copy()
    up, m, resampling = _shift_plan(n_steps, bins_per_octave, n)
    if up:
        # Up: resample n -> m = n / r samples (higher pitch, shorter), then stretch back to n.
        shorter = _resample_to_length(y, resampling, m)
        if guide is not None:  # spliced where the guide, resampled as y is, matches; a guide far
            # outside y's range is scaled by a power of two first (the splices do not change)
            g_exp = _pow2_exponent(_checked_peak(guide, "guide"))
            g = np.ldexp(guide, -g_exp) if g_exp else guide
            guide = _resample_to_length(np.ascontiguousarray(g, dtype=y.dtype), resampling, m, name="guide")
        return _stretch_to(shorter, n, sample_rate, "wsola", guide)
    # Down: stretch n -> m = n * r samples (fewer), then resample back up to n (lower pitch).
    shorter = _stretch_to(y, m, sample_rate, "wsola", guide, peak)
    return _resample_to_length(shorter, resampling, n)


@lru_cache(maxsize=64)
def _shift_plan(n_steps, bins_per_octave, n):
    """``(up, m, resampling)`` of :func:`pitch_shift` for ``n`` samples: whether the pitch goes up,
    the length between the two stages and the resampling ratio (kept per shift and length: a
    repeated shift skips the continued fractions of :func:`exact_ratio` and :func:`near_ratio`)."""
    r = 2.0 ** (n_steps / bins_per_octave)
    ratio = exact_ratio(r)
    if r > 1.0:
        m = max(1, round(n / r))
        return True, m, near_ratio(1 / ratio, m)
    return False, max(1, round(n * r)), near_ratio(1 / ratio, n)
