"""The channels-last rule for audio arrays, and where it is not applied.

A 2-D array with more than :data:`CHANNELS_LAST_LIMIT` channels and more
channels than samples is taken for a ``(samples, channels)`` array its caller
forgot to transpose, and refused (:func:`~noisegen._core.validation.check_audio`).
The rule judges what a caller gives. A transform's own arrays come from audio
it checked where it came in: a speed-up makes 100 channels of 96 samples of
100 of 120, a resampling round trip 100 of 60 on the way. Within
:func:`layout_known` (a transform's call, replay or drawing) the rule is not
applied to them. Nor to a stream's chunk of the channels its stream already has
(:func:`stream_chunk`): its layout was set by the stream's first chunk or its filter state.
:func:`pcm_hint` says how integer PCM, which is refused, becomes floats.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["CHANNELS_LAST_LIMIT", "layout_known", "looks_channels_last", "pcm_hint", "stream_chunk"]

#: A 2-D array with more channels than this *and* more channels than samples is
#: taken for a channels-last ``(samples, channels)`` array and refused.
CHANNELS_LAST_LIMIT = 64

# A context variable: each thread and asyncio task has its own.
_KNOWN: contextvars.ContextVar[bool] = contextvars.ContextVar("noisegen_layout_known", default=False)


class layout_known:  # noqa: N801 (a context manager used as a function)
    """Within: the audio checked is laid out as noisegen lays it out (made from audio a transform
    checked where it came in), so the channels-last rule is not applied to it.

    A class, not a ``contextlib.contextmanager``: it is entered on every transform call, and a
    generator-based one cost a microsecond of a Gain's 10."""

    __slots__ = ("_token",)

    def __enter__(self):
        self._token = _KNOWN.set(True)

    def __exit__(self, *exc):
        _KNOWN.reset(self._token)


def stream_chunk(x, channels):
    """:func:`layout_known` for ``x``, a 2-D chunk of a stream whose ``channels`` are set (by its first
    chunk, or by a filter state ``zi``; None: not yet) when ``x`` has that many; else no change.

    Such a chunk is laid out as its stream is, however short: the last 50 samples of a stream of 100
    channels were refused as a (samples, channels) array ('pass chunk.T'), its chunks of 1000 taken.
    """
    shape = getattr(x, "shape", None)
    known = channels is not None and shape is not None and len(shape) == 2 and shape[0] == channels
    return layout_known() if known else contextlib.nullcontext()


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


def pcm_hint(dtype, name: str) -> str:
    """How to bring integer PCM of ``dtype`` to [-1, 1): its own full scale, not int16's (int32 PCM
    divided by 32768 came out 65536 times too loud), and unsigned PCM (8-bit WAV) centred on its midpoint;
    a 64-bit array holds narrower PCM, so its hint gives 16-bit's scale."""
    bits = dtype.itemsize * 8
    if bits > 32:  # no PCM is 64-bit: a widened array (np.array of Python ints, a LongTensor) holds narrower PCM
        return (f"; load files with noisegen.load(...) or convert with {name}.astype(np.float32) / 32768 "
                f"for 16-bit PCM (divide by the full scale of the PCM {name} holds, not {dtype}'s)")
    if dtype.kind == "u":
        convert = f"({name}.astype(np.float32) - {2 ** (bits - 1)}) / {2 ** (bits - 1)}"
    else:
        convert = f"{name}.astype(np.float32) / {2 ** (bits - 1)}"
    return f"; load files with noisegen.load(...) or convert with {convert}"
