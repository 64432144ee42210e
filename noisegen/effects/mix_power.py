"""The powers a mix is set by (:mod:`.mix`, :mod:`.mix_stream`): the whole clip's mean square
(``reference="rms"``) or that of its speech-active 20 ms frames (``"active"``), and a noise crop's."""

from __future__ import annotations

import math

import numpy as np

from .._core.errors import ParameterError
from .._core.units import seconds_to_samples
from .._core.validation import check_audio
from .._kernels.cpu import mix as _mix

__all__ = ["ACTIVE_FRAME_S", "ACTIVE_RANGE_DB", "active_power"]

#: Speech-activity rule of ``reference="active"``: 20 ms frames within 40 dB of the loudest.
ACTIVE_FRAME_S = 0.020
ACTIVE_RANGE_DB = 40.0


def _not_finite(y, name):
    """Raise the right error once a power sum came out non-finite."""
    check_audio(y, name)  # names NaN/inf samples
    raise ParameterError(f"{name} is too loud: its power overflows float64")


def _signal_power(s2, reference, sample_rate, name="y", total=None):
    """Power of the signal: whole clip (``"rms"``) or speech-active frames (``"active"``),
    and its L2 norm (which bounds its samples). ``total``: its sum of squares, when known."""
    if reference == "rms":
        if total is None:
            total = _mix.sum_squares(s2)
        if not math.isfinite(total):
            _not_finite(s2, name)
        return total / s2.size, math.sqrt(total)
    frame = max(1, seconds_to_samples(ACTIVE_FRAME_S, sample_rate))
    n = s2.shape[1]
    n_frames = -(-n // frame)
    energies = np.empty(n_frames)
    total = _mix.frame_energies(s2, frame, energies)
    if not math.isfinite(total):
        _not_finite(s2, name)
    if total == 0.0:
        return 0.0, 0.0
    lengths = np.full(n_frames, frame, dtype=np.float64)
    lengths[-1] = n - frame * (n_frames - 1)
    return active_power(energies, lengths, n // frame), math.sqrt(total)


def active_power(energies, lengths, whole):
    """The mean power of the active frames: ``energies`` (mean squares) of frames of ``lengths``
    samples, the first ``whole`` of them whole 20 ms frames (the last may be cut short by the end).

    The loudest whole frame sets the threshold (any frame, where all whole ones are silent): a last
    frame of a sample or a few has the mean square of a peak, and set it up to 1.6 dB higher for one
    more sample of real speech, which left out frames within 40 dB of the loudest 20 ms.
    """
    loudest = np.max(energies[:whole], initial=0.0) or energies.max()
    active = energies >= loudest * 10.0 ** (-ACTIVE_RANGE_DB / 10.0)
    return float(np.sum(energies[active] * lengths[active]) / np.sum(lengths[active]))


def _crop_power(n2, offset, n, name="noise"):
    total = _mix.wrapped_sum_squares(n2, offset, n)
    if not math.isfinite(total):
        _not_finite(n2, name)
    return total / (n * n2.shape[0])
