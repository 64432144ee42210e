"""What an audio file holds, without holding it: :func:`info`.

libsndfile gives the header and reads the samples block by block, so a file
of any length is measured in bounded memory. A file libsndfile refuses that
:func:`~noisegen.audio.io.load` still reads (a WAV file of more than
libsndfile's 1,024 channels, a FLAC file cut short in its last frame) is
measured from the samples ``load`` gives, with its warning, so the two never
disagree on what a file is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import numpy as np

from .._core.errors import NoisegenError
from .._core.validation import check_path
from .claims import read_blocks, warn_decoded_short
from .files import read_error as _read_error
from .flac import FlacFile, unknown_length_end
from .io import _BLOCK_FRAMES, _soundfile, _warn_if_truncated, check_regular, read_frames
from .vorbis import VorbisFile
from .wav import WavFile

__all__ = ["info", "AudioInfo"]

#: libsndfile's names for what noisegen's readers read: (format, subtype) by reader and sample kind.
_WAV_SUBTYPES = {"u1": "PCM_U8", "i2": "PCM_16", "i3": "PCM_24", "i4": "PCM_32", "f4": "FLOAT", "f8": "DOUBLE"}
_FLAC_SUBTYPES = {8: "PCM_S8", 16: "PCM_16", 24: "PCM_24"}


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`info` reports about an audio file.

    ``peak_dbfs`` and ``rms_dbfs`` are over all channels (``-inf`` for silence);
    0 dBFS is a full-scale sample (``|x| = 1``). A float file can hold NaN or
    infinite samples: they are counted in ``n_nonfinite`` and left out of the
    levels.
    """

    path: str
    sample_rate: int
    channels: int
    frames: int
    duration_s: float
    subtype: str
    format: str
    peak_dbfs: float
    rms_dbfs: float
    n_nonfinite: int = 0


class _Levels:
    """Peak, sum of squares and non-finite count of samples seen block by block."""

    def __init__(self):
        self.peak, self.sumsq, self.count, self.nonfinite = 0.0, 0.0, 0, 0

    def add(self, block):
        finite = np.isfinite(block)
        if not finite.all():
            self.nonfinite += int(block.size - np.count_nonzero(finite))
            block = block[finite]
        if block.size:
            top = float(np.max(np.abs(block)))
            if top > self.peak:  # squares summed scaled by the peak so far: no overflow past 1e154 (nor underflow)
                self.sumsq, self.peak = self.sumsq * (self.peak / top) ** 2, top
            if self.peak > 0:
                self.sumsq += float(np.sum(np.square(block / self.peak)))
            self.count += block.size

    def info(self, path, rate, channels, frames, subtype, fmt):
        peak, sumsq = self.peak, self.sumsq
        return AudioInfo(
            path=path,
            sample_rate=int(rate),
            channels=int(channels),
            frames=int(frames),
            duration_s=frames / rate,
            subtype=str(subtype),
            format=str(fmt),
            peak_dbfs=20.0 * math.log10(peak) if peak > 0 else -math.inf,
            rms_dbfs=20.0 * math.log10(peak) + 10.0 * math.log10(sumsq / self.count) if sumsq > 0 else -math.inf,
            n_nonfinite=self.nonfinite,
        )


def info(path) -> AudioInfo:
    """Format, length and levels of an audio file, read block by block.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    AudioInfo
        ``sample_rate``, ``channels``, ``frames``, ``duration_s``, ``subtype``,
        ``format``, ``peak_dbfs``, ``rms_dbfs`` and ``n_nonfinite`` (NaN or
        infinite samples, left out of the levels).

    Raises and warns as :func:`load` does (a path that is not a regular file
    is never opened), and reports what ``load`` reads of a file libsndfile
    refuses (see the module notes).

    Examples
    --------
    >>> import noisegen, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> noisegen.save(path, noisegen.tone(freq_hz=1000.0, sample_rate=16000, n_samples=16000, amplitude=0.5),
    ...               sample_rate=16000, subtype="FLOAT")
    >>> meta = noisegen.info(path)
    >>> meta.channels, meta.duration_s, round(meta.peak_dbfs, 2), round(meta.rms_dbfs, 2)
    (1, 1.0, -6.02, -9.03)
    """
    sf = _soundfile()
    path = check_path(path)
    check_regular(path)
    levels, meta = _Levels(), None
    try:
        with sf.SoundFile(os.fsencode(path)) as f:
            meta = _Header(int(f.samplerate), int(f.channels), int(f.frames), f.subtype, f.format)
            last = unknown_length_end(path) if meta.format == "FLAC" else None
            if last is not None:  # (libsndfile reads no such stream to its end: its last frame is decoded here)
                frames = _measured(f, replace(meta, frames=last), levels) + _last_frame(path, last, levels)
                meta = replace(meta, frames=frames)
            else:
                frames = _measured(f, meta, levels)
            warn_decoded_short(f, frames, meta.frames)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        return _as_load_reads(path, _read_error(path, exc), meta)
    _warn_if_truncated(path)
    return levels.info(path, meta.samplerate, meta.channels, frames, meta.subtype, meta.format)


@dataclass(frozen=True)
class _Header:
    samplerate: int
    channels: int
    frames: int
    subtype: str
    format: str


def _measured(f, meta, levels) -> int:
    """The frames libsndfile decodes from the open ``f`` (at most its header's, as ``load`` reads
    them), added to ``levels`` block by block; the count. (Not ``soundfile.blocks``: when the
    decoder gives fewer frames than the header claims, as from a damaged Ogg or an MP3 whose
    header estimates, it yields whole blocks anyway, the last one's samples again.)"""
    # (An MP3 in blocks too: its levels may differ from load's by the decoder's bursts at block ends,
    # see claims.read_claimed, but a long file is measured in bounded memory; the count is the same.
    # No reused buffer: a last short read then joins the one before it, as in load's reads of an Ogg file.)
    read = 0
    for block in read_blocks(f, meta.frames, _BLOCK_FRAMES, np.float64):
        levels.add(block)
        read += block.shape[0]
    return read


def _last_frame(path, first, levels) -> int:
    """The last frame of a FLAC stream of unknown length, from sample ``first`` (see
    :func:`~noisegen.audio.flac.unknown_length_end`), added to ``levels``; its frames (it was read whole,
    where libsndfile's block reader failed at the end: 733 MB for 60 minutes at 16 kHz)."""
    with FlacFile.open(path) as native:
        block = native.read_last(first, np.float64)
    if block is None:
        raise NoisegenError(f"{path!r}: its last FLAC frame no longer decodes")
    levels.add(block)
    return block.shape[0]


def _as_load_reads(path, refused, meta) -> AudioInfo:
    """:func:`info` of a file libsndfile's block reader refused (``refused``; ``meta``: its header,
    or None): the levels of the frames :func:`~noisegen.audio.io.load` gives, or what ``load``
    raises."""
    frames, rate, native = read_frames(path, np.float64)
    levels = _Levels()
    for a in range(0, frames.shape[0], _BLOCK_FRAMES):
        levels.add(frames[a:a + _BLOCK_FRAMES])
    if isinstance(native, WavFile):
        fmt, subtype = "WAV", _WAV_SUBTYPES[native.kind]
    elif isinstance(native, FlacFile):
        fmt, subtype = "FLAC", _FLAC_SUBTYPES[native.bps]
    elif isinstance(native, VorbisFile):
        fmt, subtype = "OGG", "VORBIS"
    elif meta is not None:  # read whole by libsndfile, which gave its header
        fmt, subtype = meta.format, meta.subtype
    else:
        raise refused
    return levels.info(path, rate, frames.shape[1], frames.shape[0], subtype, fmt)
