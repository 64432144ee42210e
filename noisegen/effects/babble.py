"""Babble: several talkers summed at equal level, from a bank of speech recordings.

Each talker is a crop of one recording (with wrap-around), scaled to the same
RMS over the crop, and added with the mixing kernels of :mod:`.mix`.
"""

from __future__ import annotations

import math

import numpy as np

from .._core.backend import resolve_backend
from .._core.errors import ParameterError
from .._core.rng import as_generator
from .._core.validation import check_float_dtype, check_int, check_n_samples, check_recordings
from .._kernels.cpu import mix as _mix
from .mix import _crop_power, _noise_2d, _shape_only, _warn, checked_when_made

__all__ = ["babble"]

#: Most talkers one :func:`babble` sums (each is a pass over the output).
MAX_TALKERS = 4096


def _recording(src, name):
    """One talker's recording as a checked ``(1, n)`` array. A multichannel one is refused in babble's
    words (mixing's said "must be mono or have the signal's 1 channel(s)", of a signal babble has not)."""
    src = _shape_only(src, name)
    if src.ndim == 2 and src.shape[0] != 1:
        raise ParameterError(f"{name} must be one mono recording, shape (n,) or (1, n), got shape {src.shape}")
    return _noise_2d(src, 1, name)


def babble(speech_sources, n_talkers, *, n_samples, rng=None, dtype=np.float32, backend="auto"):
    """Babble noise: the sum of ``n_talkers`` talkers at equal level.

    Talkers are drawn from ``speech_sources`` (without replacement when
    there are enough), each read from a uniform random offset with
    wrap-around for ``n_samples`` samples and scaled to an RMS of
    ``1 / sqrt(n_talkers)`` over that crop, so the babble has an RMS near 1
    (exactly 1 for uncorrelated talkers). Silent crops are skipped with a
    :class:`NoisegenWarning`. Every recording's dtype and shape are checked
    on each call, whichever are drawn; only the samples a talker reads must be
    finite (as with :func:`noisegen.mix_at_snr`'s noise).

    Parameters
    ----------
    speech_sources : sequence of 1-D np.ndarray, or a NoiseBank
        One 1-D array is one recording.
    n_talkers : int
        At least 1.
    n_samples : int
    rng : None, int or numpy.random.Generator
    dtype : float32 or float64
    backend : {"auto", "cpu"}
        The CPU mixes it (CUDA arrays and requests are a BackendError).

    Returns
    -------
    np.ndarray [shape=(n_samples,)]

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> talkers = [rng.standard_normal(3000) for _ in range(5)]
    >>> b = babble(talkers, 4, n_samples=8000, rng=0)
    >>> b.shape, b.dtype
    ((8000,), dtype('float32'))
    """
    n_talkers = check_int(n_talkers, "n_talkers", low=1, high=MAX_TALKERS)
    n_samples = check_n_samples(n_samples)
    sources = speech_sources if isinstance(speech_sources, (list, tuple)) else ()
    resolve_backend(backend, *sources, names=[f"speech_sources[{i}]" for i in range(len(sources))])
    dt = check_float_dtype(dtype)
    speech_sources = check_recordings(speech_sources, "speech_sources")
    k = len(speech_sources)
    if k == 0:
        raise ParameterError("speech_sources must hold at least one recording, got an empty collection")
    if not checked_when_made(speech_sources):  # every one, not only those the rng draws: a bad recording failed
        # only for the seeds that drew it; kept as a list, drawn by position (a pandas Series indexes by label)
        speech_sources = [_recording(src, f"speech_sources[{i}]") for i, src in enumerate(speech_sources)]
    g = as_generator(rng)
    picks = g.choice(k, size=n_talkers, replace=n_talkers > k)
    out = np.zeros((1, n_samples), dtype=dt)
    target = 1.0 / math.sqrt(n_talkers)
    silent = []  # sources drawn silent over their crops (a source may be drawn for several talkers)
    for i in picks:
        src = _recording(speech_sources[int(i)], f"speech_sources[{int(i)}]")
        offset = int(g.integers(src.shape[1]))
        if n_samples == 0:
            continue
        p = _crop_power(src, offset, n_samples, f"speech_sources[{int(i)}]")
        if p == 0.0:
            silent.append(int(i))
            continue
        _mix.mix_wrapped(out, src, offset, target / math.sqrt(p), out)
    if silent:  # one warning a call
        names = ", ".join(f"speech_sources[{i}]" for i in sorted(set(silent)))
        quiet = "the babble is silent" if len(silent) == n_talkers else "those talkers are skipped"
        _warn(f"babble: {len(silent)} of {n_talkers} talkers drew a crop that is silent ({names}); {quiet}")
    return out[0]
