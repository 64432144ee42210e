"""The channels-last rule for audio arrays, and where it is not applied.

A 2-D array with more than :data:`CHANNELS_LAST_LIMIT` channels and more
channels than samples is taken for a ``(samples, channels)`` array its caller
forgot to transpose, and refused (:func:`~noisegen._core.validation.check_audio`).
The rule judges what a caller gives. A transform's own arrays come from audio
it checked where it came in: a speed-up makes 100 channels of 96 samples of
100 of 120, a resampling round trip 100 of 60 on the way. Within
:func:`layout_known` (a transform's call, replay or drawing) the rule is not
applied to them.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["CHANNELS_LAST_LIMIT", "layout_known", "looks_channels_last"]

#: A 2-D array with more channels than this *and* more channels than samples is
#: taken for a channels-last ``(samples, channels)`` array and refused.
CHANNELS_LAST_LIMIT = 64

# A context variable: each thread and asyncio task has its own.
_KNOWN: contextvars.ContextVar[bool] = contextvars.ContextVar("noisegen_layout_known", default=False)


@contextlib.contextmanager
def layout_known():
    """Within: the audio checked is laid out as noisegen lays it out (made from audio a transform
    checked where it came in), so the channels-last rule is not applied to it."""
    token = _KNOWN.set(True)
    try:
        yield
    finally:
        _KNOWN.reset(token)


def looks_channels_last(shape: tuple) -> bool:
    """Whether an audio array of ``shape`` falls under the channels-last rule (never within :func:`layout_known`).

    Examples
    --------
    >>> looks_channels_last((100, 96)), looks_channels_last((2, 1)), looks_channels_last((100, 100))
    (True, False, False)
    >>> with layout_known():
    ...     looks_channels_last((100, 96))
    False
    """
    return len(shape) == 2 and shape[0] > max(shape[1], CHANNELS_LAST_LIMIT) and not _KNOWN.get()
