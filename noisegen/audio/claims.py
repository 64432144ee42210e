"""A header's frame count checked against the bytes that could hold it, before a read allocates for it.

libsndfile takes an Ogg file's length from its last page's granule
position, and a FLAC file's from STREAMINFO; a damaged or hostile header can
claim 2**60 frames of a few kilobytes, and a read would then try to
allocate exabytes (a ``MemoryError`` from NumPy, or worse, a machine that
swaps). Readers call :func:`check_claimed_length` first and refuse such a
file with a :class:`~noisegen.NoisegenError` naming it.
"""

from __future__ import annotations

import os

from .._core.errors import NoisegenError

__all__ = ["MAX_SAMPLES_PER_BYTE", "check_claimed_length"]

#: The most samples (frames x channels) a file of any format libsndfile reads packs into a byte:
#: digital silence in Ogg Vorbis takes ~130-250 a byte, a FLAC file of 65,535-sample blocks of
#: silence ~7,000; beyond 16,384 the header is not telling the truth.
MAX_SAMPLES_PER_BYTE = 1 << 14


def check_claimed_length(name, frames: int, channels: int, nbytes: int, *, most: int | None = None) -> None:
    """Raise :class:`~noisegen.NoisegenError` when ``frames`` of ``channels`` claimed by the header of
    ``name`` (a path, or a label for bytes) cannot fit in its ``nbytes``: more than ``most`` frames
    (a format's own bound) or, by default, more than :data:`MAX_SAMPLES_PER_BYTE` samples a byte."""
    if most is None:
        most = MAX_SAMPLES_PER_BYTE * max(int(nbytes), 1) // max(int(channels), 1)
    if frames > most:
        label = os.fspath(name) if isinstance(name, (str, os.PathLike)) else name
        raise NoisegenError(f"{label!r} is damaged: its header claims {frames} frames of {channels} channel(s), "
                            f"more than its {nbytes} bytes can hold")
