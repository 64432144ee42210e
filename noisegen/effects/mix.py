"""Mixing noise into speech at a signal-to-noise ratio.

SNR is the power ratio ``10*log10(P_signal / P_noise)`` in dB. ``P_noise``
is measured over exactly the noise samples that are added (the crop), so
the achieved SNR is the requested one up to float rounding.

Noise shorter than the signal is tiled with wrap-around: sample ``i`` of the
added noise is ``noise[(noise_offset + i) % len(noise)]``. Nothing is
concatenated; the kernel reads the noise in place, which is what makes
mixing from a preloaded :class:`~noisegen.NoiseBank` cheap.

Multichannel rule (every function here): a mono noise ``(m,)`` (or
``(1, m)``) is added to every channel of a ``(n_channels, n)`` signal; a
noise of shape ``(n_channels, m)`` gives one noise per channel. One scale
factor is used for all channels, from powers averaged over all channels,
so the balance between channels is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .._kernels.cpu import mix as _mix
from .._core.validation import (check_audio, check_bool, check_choice, check_finite_output, check_int, check_real,
                                 check_recordings, check_sample_rate, check_sequence)
from .._core.backend import resolve_backend
from .._core.labels import warn as _warn_about
from .._core.errors import ParameterError
from .._core.rng import as_generator
from .._design.placement import place_sounds
from .._design.snr import (EXACT_TOTAL, MAX_SNR_DB, MIN_SNR_DB, SILENT, check_snr_db, exactly_squared,
                           power_exactly, silent_part, snr_ratio, snr_scale)
from .._gpu.ops import cuda_mix_at_snr
from .mix_power import _crop_power, _not_finite, _signal_power

__all__ = ["mix_at_snr", "add_background_noises", "add_short_noises"]


# ----------------------------------------------------------------------------- helpers


def _shape_only(y, name):
    """Validate dtype and shape without scanning the samples (finiteness comes from power sums)."""
    if isinstance(y, np.ndarray) and y.dtype.kind == "f" and 1 <= y.ndim <= 2:
        y = check_audio(y, name, finite=False)  # a non-native byte order comes back converted
        return y if y.flags.c_contiguous else np.ascontiguousarray(y)
    return check_audio(y, name)


def _as_2d(y):
    return y[None, :] if y.ndim == 1 else y


def _noise_2d(noise, n_channels, name="noise"):
    noise = _shape_only(noise, name)
    if noise.shape[-1] == 0:
        raise ParameterError(f"{name} must hold at least one sample, got shape {noise.shape}")
    n2 = _as_2d(noise)
    if n2.shape[0] not in (1, n_channels):
        raise ParameterError(
            f"{name} must be mono or have the signal's {n_channels} channel(s), got shape {noise.shape}"
        )
    return n2


#: Half the largest value of each float dtype: a mix bounded below it cannot overflow.
_HALF_MAX = {"f": float(np.finfo(np.float32).max) / 2, "d": float(np.finfo(np.float64).max) / 2}


def _check_sum(out, bound, what, y):
    """Overflow check of a sum of scaled arrays, skipped when it cannot overflow.

    ``bound`` bounds every ``|out|`` sample: the sum over the added arrays of
    ``scale * sqrt(sum of squares)`` (a sample is at most the L2 norm), which
    the power measurements give for free. ``what`` names the setting in the
    error: a string, or mix_at_snr's ``snr_db`` (a float or None), formatted
    only when needed.
    """
    if bound < _HALF_MAX[out.dtype.char]:
        return
    if not isinstance(what, str):
        what = "snr_db=None (signal + noise)" if what is None else f"snr_db={what:g}"
    check_finite_output(out, what, y=y)


def _check_reference(reference, sample_rate):
    """The checked ``reference`` and ``sample_rate`` (needed with "active"; checked whenever given)."""
    check_choice(reference, "reference", ("rms", "active"))
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate)
    if reference == "active" and sample_rate is None:
        raise ParameterError("sample_rate is required with reference='active' (it sets the 20 ms frames)")
    return sample_rate


def _warn(message):
    _warn_about(message)  # names the input and noise files its callers work on


# ----------------------------------------------------------------------------- mix_at_snr


def mix_at_snr(y, noise, *, snr_db, noise_offset=0, reference="rms", sample_rate=None, backend="auto"):
    """Add noise to a signal at a signal-to-noise ratio.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
    noise : np.ndarray [shape=(m,) or (n_channels, m)], float32 or float64
        Tiled with wrap-around when ``m < n``; mono noise goes to every
        channel (see the module notes). Only the samples that are added are
        read (and must be finite).
    snr_db : float or None
        Target SNR in dB, in [-100, 200]. ``None`` adds the noise as it is.
    noise_offset : int
        Index of the first noise sample used (taken modulo ``m``), so a
        stream can continue where the last chunk stopped
        (``noise_offset + n``).
    reference : {"rms", "active"}
        ``"rms"``: signal power over the whole clip. ``"active"``: over the
        20 ms frames whose energy is within 40 dB of the loudest whole frame
        (speech activity), which ignores leading and trailing silence. The
        last frame, cut short by the end, counts if it is within them.
    sample_rate : int or None
        Needed only for ``reference="active"``.
    backend : {"auto", "cpu", "cuda"}
        "auto" runs on the GPU when ``y`` is a CUDA array (numba, CuPy, PyTorch), else on the CPU.

    Returns
    -------
    np.ndarray, the signal's shape and dtype: ``y + g * noise_crop``.

    Warns
    -----
    NoisegenWarning
        When the signal or the noise crop is silent (all zeros, or float64
        samples all below about 1e-162, whose squares are zero): no SNR can
        be defined and a copy of the signal is returned unchanged.

    Raises
    ------
    ParameterError
        Non-finite samples, mismatched channels, bad arguments, or a result
        that overflows the dtype (a loud signal at a very low SNR in float32).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> speech, noise = rng.standard_normal(16000), rng.standard_normal(4000)
    >>> out = mix_at_snr(speech, noise, snr_db=10.0)
    >>> round(float(10 * np.log10(np.mean(speech**2) / np.mean((out - speech)**2))), 6)
    10.0
    """
    if sample_rate is not None:  # used by reference="active" only, but never taken unchecked
        sample_rate = check_sample_rate(sample_rate)
    if _plain(y, noise, snr_db, noise_offset, reference, backend):
        return _mix_plain(y, noise, noise_offset % noise.shape[0], snr_db)
    if resolve_backend(backend, y, noise, supports_cuda=True, names=("y", "noise")) == "cuda":
        return cuda_mix_at_snr(y, noise, snr_db=snr_db, noise_offset=noise_offset, reference=reference,
                               sample_rate=sample_rate)
    sample_rate = _check_reference(reference, sample_rate)
    if snr_db is not None:
        snr_db = check_snr_db(snr_db)
    offset = check_int(noise_offset, "noise_offset", low=0)
    noise = _shape_only(noise, "noise")
    s = _shape_only(y, "y")  # after the arguments: it copies a broadcast y
    s2 = _as_2d(s)
    n2 = _noise_2d(noise, s2.shape[0])
    return _mix_checked(s, s2, n2, offset % n2.shape[1], snr_db, reference, sample_rate)


#: The dtypes of :func:`_plain` (native byte order).
_PLAIN_DTYPES = frozenset((np.dtype(np.float32), np.dtype(np.float64)))


def _plain(y, noise, snr_db, noise_offset, reference, backend):
    """True for the common call that needs none of the general checks: mono, C-contiguous
    float32 or float64 arrays of one dtype, a non-empty noise, a float SNR in range, an
    ``int`` offset >= 0, ``reference="rms"`` on the CPU (the general path decides the rest)."""
    return (
        type(y) is np.ndarray and type(noise) is np.ndarray and y.ndim == 1 and noise.ndim == 1
        and y.dtype in _PLAIN_DTYPES and noise.dtype == y.dtype and noise.shape[0] > 0
        and y.flags.c_contiguous and noise.flags.c_contiguous
        and isinstance(snr_db, float) and MIN_SNR_DB <= snr_db <= MAX_SNR_DB
        and type(noise_offset) is int and noise_offset >= 0
        and isinstance(reference, str) and reference == "rms" and (backend == "auto" or backend == "cpu")
    )


def _mix_plain(y, noise, offset, snr_db):
    """mix_at_snr for a :func:`_plain` call: one kernel call on the 1-D arrays. A mix the
    powers do not allow, or one that might overflow, is redone by the general path (same
    bits), which raises or warns."""
    out = np.empty_like(y)
    signal_total, noise_total, scale = _mix.mix_at_ratio_1d(y, noise, offset, snr_ratio(snr_db), out)
    if (scale > 0.0 and math.sqrt(signal_total) + scale * math.sqrt(noise_total) < _HALF_MAX[y.dtype.char]
            and min(signal_total, noise_total) >= EXACT_TOTAL):
        return out
    return _mix_checked(y, y[None], noise[None], offset, snr_db, "rms", None)


def _mix_checked(s, s2, n2, offset, snr_db, reference, sample_rate):
    """mix_at_snr once its arguments are checked: one pass for both powers (they also find
    non-finite samples), one pass writing the mix; errors and warnings when the powers allow none."""
    n = s2.shape[1]
    out = np.empty_like(s2)
    if n == 0:
        return out.reshape(s.shape)
    if snr_db is not None and reference == "rms":  # the common case: one kernel call
        signal_total, noise_total, scale = _mix.mix_at_ratio(s2, n2, offset, snr_ratio(snr_db), out)
        if scale > 0.0 and min(signal_total, noise_total) >= EXACT_TOTAL:
            _check_sum(out, math.sqrt(signal_total) + scale * math.sqrt(noise_total), snr_db, s)
            return out.reshape(s.shape)
    else:
        signal_total, noise_total = _mix.crop_powers(s2, n2, offset)
    if snr_db is None:  # no power is needed: samples whose squares overflow float64 (|x| > ~1e154) still add
        for x, total, name in ((n2, noise_total, "noise"), (s2, signal_total, "y")):
            if not math.isfinite(total):
                check_audio(x, name)  # names NaN/inf samples
        _mix.mix_wrapped(s2, n2, offset, 1.0, out)
        _check_sum(out, math.sqrt(signal_total) + math.sqrt(noise_total), None, s)  # (inf: the output is scanned)
        return out.reshape(s.shape)
    if not math.isfinite(noise_total):
        _not_finite(n2, "noise")
    measured, n2, e, signal_total, noise_total = exactly_squared(s2, n2, offset, signal_total, noise_total)
    p_noise = noise_total / (n * n2.shape[0])
    noise_norm = math.sqrt(noise_total)
    p_signal, signal_norm = _signal_power(measured, reference, sample_rate, total=signal_total)
    which = silent_part(p_signal, p_noise)
    if which is not None:
        _warn(SILENT.format(which=which))
        return s.copy()
    scale = math.ldexp(snr_scale(p_signal, p_noise, snr_db), e)
    _mix.mix_wrapped(s2, n2, offset, scale, out)
    _check_sum(out, math.ldexp(signal_norm, e) + scale * noise_norm, snr_db, s)
    return out.reshape(s.shape)


def add_background_noises(y, noises, *, snr_db, noise_offsets=None, reference="rms",
                          sample_rate=None, backend="auto"):
    """Add several background noises at once, each at its own SNR against the signal.

    Each noise ``k`` is scaled so that ``P_signal / P_noise_k`` is
    ``snr_db[k]`` (the noises are not measured against each other, so the
    SNR of the sum is lower: two noises at 10 dB make about 7 dB).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)]
    noises : sequence of np.ndarray
        Each as the ``noise`` of :func:`mix_at_snr` (wrap-around, channels); one 1-D array is one noise.
    snr_db : float or sequence of float
        One SNR for all noises or one per noise.
    noise_offsets : None or sequence of int
        Where each noise starts (default 0 for all).
    reference, sample_rate, backend
        As in :func:`mix_at_snr`.

    Returns
    -------
    np.ndarray, the signal's shape and dtype

    Warns
    -----
    NoisegenWarning
        Silent signal (returned unchanged) or silent noises (skipped; one warning names them all).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> out = add_background_noises(rng.standard_normal(800), [rng.standard_normal(300),
    ...                             rng.standard_normal(900)], snr_db=[5.0, 20.0])
    >>> out.shape
    (800,)
    """
    resolve_backend(backend, y)
    noises = check_recordings(noises, "noises")
    k = len(noises)
    # one value (None, a str or a 0-d array too: "must be a list or tuple" hid that one number will do)
    one = not isinstance(snr_db, Iterable) or isinstance(snr_db, (str, bytes)) or getattr(snr_db, "ndim", 1) == 0
    snrs = [check_snr_db(snr_db)] * k if one else check_sequence(snr_db, "snr_db")
    offsets = [0] * k if noise_offsets is None else check_sequence(noise_offsets, "noise_offsets")
    if len(snrs) != k or len(offsets) != k:
        raise ParameterError(
            f"snr_db and noise_offsets must give one value per noise ({k}), got {len(snrs)} and {len(offsets)}"
        )
    snrs = [check_snr_db(v) for v in snrs]
    sample_rate = _check_reference(reference, sample_rate)
    offsets = [check_int(o, "noise_offsets", low=0) for o in offsets]
    noises = [_shape_only(x, f"noises[{i}]") for i, x in enumerate(noises)]
    s = _shape_only(y, "y")  # after the arguments: it copies a broadcast y
    s2 = _as_2d(s)
    n2s = [_noise_2d(x, s2.shape[0], f"noises[{i}]") for i, x in enumerate(noises)]
    offsets = [o % x.shape[1] for o, x in zip(offsets, n2s)]
    out = s2.copy()
    if s2.shape[1] == 0 or k == 0:
        return out.reshape(s.shape)
    n = s2.shape[1]
    p_signal, bound = _signal_power(s2, reference, sample_rate)
    # (float64 audio near 1e-160 squares to subnormals: powers of scaled copies, as mix_at_snr's)
    p_signal, e_s = power_exactly(s2, p_signal, bound * bound, lambda c: _signal_power(c, reference, sample_rate)[0])
    powers = [_crop_power(x, o, n, f"noises[{i}]") for i, (x, o) in enumerate(zip(n2s, offsets))]
    if p_signal == 0.0:
        _warn("add_background_noises: the signal is silent, so no SNR can be set; it is returned unchanged")
        return out.reshape(s.shape)
    silent = [i for i, p in enumerate(powers) if p == 0.0]
    if silent:  # one warning a call, however many are silent (as add_short_noises and babble)
        _warn(f"add_background_noises: noises {silent} are silent over the samples used; they are skipped")
    for x, o, p, snr in zip(n2s, offsets, powers, snrs):
        if p == 0.0:
            continue
        p, e_k = power_exactly(x, p, p * n * x.shape[0], lambda c: _crop_power(c, o, n))  # (o: called at once)
        scale = math.ldexp(snr_scale(p_signal, p, snr), e_s - e_k)
        _mix.mix_wrapped(out, x, o, scale, out)
        bound += scale * math.ldexp(math.sqrt(p * n * x.shape[0]), e_k)
    _check_sum(out, bound, f"snr_db={snr_db!r}", s)
    return out.reshape(s.shape)


# ----------------------------------------------------------------------------- transients, babble


def add_short_noises(y, noises, *, sample_rate, min_snr_db=0.0, max_snr_db=24.0,
                     min_time_between_s=2.0, max_time_between_s=8.0, min_fade_s=0.005, max_fade_s=0.08,
                     rng=None, return_events=False, backend="auto"):
    """Add short noises (door slams, coughs, clicks) at random times, with fades.

    The first sound starts at a uniform time in ``[0, min_time_between_s)``;
    each next one starts ``uniform(min_time_between_s, max_time_between_s)``
    seconds after the previous one ends, until the end of the signal. Each
    sound is a uniformly chosen entry of ``noises``, added in full with
    raised-cosine fade-in and fade-out of uniform lengths in
    ``[min_fade_s, max_fade_s]`` (at most the sound's length), scaled so
    that the signal's whole-clip power over the sound's own power is an SNR
    drawn uniformly from ``[min_snr_db, max_snr_db]``. A sound that runs
    past the end of the signal is faded first and then cut, as
    audiomentations does: it keeps its own fade-in and has no fade-out at
    the cut, like a recording of a longer event. Every sound's dtype and
    shape are checked on each call, whichever are drawn; only the sounds
    drawn must be finite.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n_channels, n)]
    noises : sequence of np.ndarray, or a NoiseBank
        Mono or per-channel sounds (see the module notes); one 1-D array is one sound.
        A bank must be at ``sample_rate``.
    sample_rate : int
    min_snr_db, max_snr_db, min_time_between_s, max_time_between_s, min_fade_s, max_fade_s : float
    rng : None, int or numpy.random.Generator
    return_events : bool
        Also return the list of placed sounds (dicts with ``index``,
        ``start`` (samples), ``snr_db``, ``fade_in``, ``fade_out`` (samples)).
    backend : {"auto", "cpu"}

    Returns
    -------
    out : np.ndarray, the signal's shape and dtype
    events : list of dict (only with ``return_events=True``)

    Warns
    -----
    NoisegenWarning
        Silent signal (returned unchanged) or silent sounds (skipped).

    Examples
    --------
    >>> import numpy as np
    >>> speech = np.random.default_rng(0).standard_normal(16000 * 6)
    >>> click = np.hanning(800)
    >>> out, events = add_short_noises(speech, [click], sample_rate=16000, rng=1, return_events=True)
    >>> len(events) >= 1
    True
    """
    resolve_backend(backend, y)
    sample_rate = check_sample_rate(sample_rate)
    lo_snr = check_snr_db(min_snr_db, "min_snr_db")
    hi_snr = check_real(max_snr_db, "max_snr_db", low=lo_snr, high=200.0)
    lo_gap = check_real(min_time_between_s, "min_time_between_s", low=0.0)
    hi_gap = check_real(max_time_between_s, "max_time_between_s", low=lo_gap)
    lo_fade = check_real(min_fade_s, "min_fade_s", low=0.0)
    hi_fade = check_real(max_fade_s, "max_fade_s", low=lo_fade)
    return_events = check_bool(return_events, "return_events")
    bank_rate = getattr(noises, "sample_rate", None)  # a NoiseBank's (its sounds at another rate would play
    if bank_rate is not None and bank_rate != sample_rate:  # slower or faster, and off pitch)
        raise ParameterError(f"noises is a NoiseBank at {bank_rate} Hz, but sample_rate is {sample_rate}: "
                             f"use a bank at {sample_rate} Hz (or one without a sample_rate, and its .at)")
    powers = _known_powers(noises)
    noises = check_recordings(noises, "noises")
    if len(noises) == 0:
        raise ParameterError("noises must hold at least one sound, got an empty collection")
    s = _shape_only(y, "y")  # after the arguments: it copies a broadcast y
    s2 = _as_2d(s)
    g = as_generator(rng)
    n = s2.shape[1]
    out = s2.copy()
    p_signal, bound = _signal_power(s2, "rms", sample_rate) if n else (0.0, 0.0)
    sounds = {}  # index -> the sound as a checked 2-D array (native order), once a call
    if not checked_when_made(noises):  # every one, not only those drawn: a bad sound failed for some seeds only
        sounds = {i: _noise_2d(a, s2.shape[0], f"noises[{i}]") for i, a in enumerate(noises)}

    def length_of(i):
        if i not in sounds:
            sounds[i] = _noise_2d(noises[i], s2.shape[0], f"noises[{i}]")
        if i not in powers:  # (finite only where drawn, as mix_at_snr's noise)
            powers[i] = _crop_power(sounds[i], 0, sounds[i].shape[1], f"noises[{i}]")
        return sounds[i].shape[1]  # a fade is at most the sound, a gap at most the signal

    index, start, snrs, fade_in, fade_out = place_sounds(g, len(noises), length_of, n, sample_rate,
                                                         (lo_snr, lo_fade, lo_gap), (hi_snr, hi_fade, hi_gap))
    if index and p_signal == 0.0:
        _warn("add_short_noises: the signal is silent, so no SNR can be set; it is returned unchanged")
        index, start, snrs, fade_in, fade_out = [], [], [], [], []
    silent = sorted({i for i in index if powers[i] == 0.0})
    if silent:
        _warn(f"add_short_noises: noises {silent} are silent; they are skipped")
    # (float64 audio near 1e-160 squares to subnormals: powers of scaled copies, as mix_at_snr's)
    p_signal, e_s = power_exactly(s2, p_signal, bound * bound, lambda c: _signal_power(c, "rms", sample_rate)[0])
    exact = {i: power_exactly(sounds[i], powers[i], powers[i] * sounds[i].size,
                              lambda c: _crop_power(c, 0, c.shape[1])) for i in set(index)}
    scales = [math.ldexp(snr_scale(p_signal, exact[i][0], snr), e_s - exact[i][1]) if powers[i] else 0.0
              for i, snr in zip(index, snrs)]
    groups = {}  # sound -> its places: one kernel call a sound (sounds never overlap: any order adds alike)
    for e, (i, scale) in enumerate(zip(index, scales)):
        if scale:
            groups.setdefault(i, []).append(e)
    columns = [np.array(c, dtype) for c, dtype in zip((start, scales, fade_in, fade_out), "qdqq")]
    for i, at in groups.items():
        at = np.array(at)
        _mix.add_sounds(out, sounds[i], *(c[at] for c in columns))
    for i, scale in zip(index, scales):
        bound += scale * math.ldexp(math.sqrt(exact[i][0] * sounds[i].size), exact[i][1])
    _check_sum(out, bound, f"min_snr_db={lo_snr:g}", s)
    out = out.reshape(s.shape)
    if not return_events:
        return out
    return out, [dict(index=i, start=a, snr_db=snr, fade_in=fi, fade_out=fo) for i, a, snr, fi, fo in
                 zip(index, start, snrs, fade_in, fade_out)]


def checked_when_made(sounds) -> bool:
    """Whether ``sounds`` checked its items when it was made: a NoiseBank (known by its ``sound_powers``, as
    :func:`_known_powers` knows it: audio/ sits above effects/). Any other sequence (a list, a tuple, an array,
    a pandas Series, a deque) has every item checked on each call, not only those the rng draws."""
    return isinstance(getattr(sounds, "sound_powers", None), dict)


def _known_powers(noises):
    """Each sound's mean square by index, as :func:`add_short_noises` measures it: kept by a bank
    (a ``sound_powers`` dict, :class:`~noisegen.NoiseBank`'s) across calls, where a long sound would
    cost its whole length on every call that draws it; a fresh dict for other sequences."""
    known = getattr(noises, "sound_powers", None)
    return known if isinstance(known, dict) else {}
