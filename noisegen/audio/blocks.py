"""Long files in blocks: read (seek, decode, mix down, resample on the fly) and write progressively.

:class:`FileBlocks` gives the samples :func:`noisegen.load` (float32) and
:func:`~noisegen.audio.segment.read_segment` would return, as blocks of at
most ``block_frames`` file frames: the same float32 reads,
mixdown and resampling (the streaming :class:`noisegen.Resampler`, whose
blocks concatenate to :func:`noisegen.resample` exactly), so the blocks
concatenate to those readers' arrays sample for sample (an Ogg Vorbis file
that noisegen decodes is decoded here in runs of whole pages, another Ogg file
read in ``load``'s reads and cut into blocks after; an MP3 file is
decoded whole, from its first frame, in every pass: libsndfile's MP3 decoding
goes wrong for milliseconds after some of the points where a read ends or a
seek lands, see :func:`~noisegen.audio.claims.read_claimed`; and its length
is counted by decoding it once, as its header's is an estimate). Calling it again
reads the file again from its first frame (a blockwise pipeline makes one
pass per whole-signal measure). :func:`save_blocks` writes blocks as
:func:`noisegen.save` writes an array: to a temporary file next to the
destination, renamed into place when complete.
"""

from __future__ import annotations

import os

import numpy as np

from .._core.errors import NoisegenError, ParameterError
from .._core.validation import check_reach, check_sample_rate
from ..effects.resample import Resampler
from .claims import WHOLE_READ_SAMPLES, read_blocks, read_span, seek_frame
from .flac import FlacFile, unknown_length_end
from .formats import check_subtype, check_writable, format_of
from .io import _read_error, _soundfile, _wav_shortfall, mix_down, write_frames
from .native import warn_truncated
from .ogg_links import warn_chained
from .._core.tempfiles import write_atomically
from .segment import resampled_length, segment_span
from .vorbis import VorbisFile, VorbisUnsupported, is_vorbis_name

__all__ = ["FileBlocks", "save_blocks"]

#: File frames decoded per block.
BLOCK_FRAMES = 1 << 17


class FileBlocks:
    """A file (or a segment of it) as a re-readable source of float32 blocks at ``sample_rate``.

    Parameters
    ----------
    path : str
    sample_rate : int
    mono : bool
        Mix the channels down (as the stream does), or
        keep them (a one-channel file always gives ``(n,)`` blocks).
    offset_s, duration_s : float or None
        A segment, as ``read_segment`` takes it.
    block_frames : int

    Attributes
    ----------
    n : int
        Samples per channel of the whole output.
    n_channels : int or None
        None for ``(n,)`` blocks.

    Examples
    --------
    >>> import numpy as np, noisegen, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.wav")
    >>> noisegen.save(path, 0.1 * noisegen.white_noise(44100, rng=0), sample_rate=44100)
    >>> src = FileBlocks(path, sample_rate=16000, block_frames=1000)
    >>> whole, _ = noisegen.load(path, sample_rate=16000)
    >>> bool(np.array_equal(np.concatenate(list(src())), whole)), src.n
    (True, 16000)
    """

    def __init__(self, path, *, sample_rate, mono=False, offset_s=None, duration_s=None,
                 block_frames=BLOCK_FRAMES):
        self.path = os.fspath(path)
        self.sample_rate = check_sample_rate(sample_rate)
        self.start, self.frames, self.rate = segment_span(self.path, offset_s, duration_s)
        check_reach(self.rate, self.sample_rate, repr(self.path))  # (resampled_length said only "the file")
        sf = _soundfile()
        try:
            meta = sf.info(os.fsencode(self.path))
            channels = meta.channels
            self._mp3 = meta.format == "MP3"  # (its frames: what it decodes, counted by segment_span)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise _read_error(self.path, exc) from None
        # A WAV file cut short: its whole frames (segment_span counts them), read in blocks as libsndfile
        # reads what is there, with load's warning on the first pass (it was read whole, in memory that
        # grew with its length: 1.2 GB for 60 minutes at 16 kHz). A FLAC file cut short is read whole.
        self._shortfall = _wav_shortfall(self.path)
        self._said_chained = False  # (a chained Ogg file: its first stream is read, with a warning)
        self._last = unknown_length_end(self.path) if meta.format == "FLAC" else None
        self.truncated = (meta.format == "FLAC" and self._last is None
                          and not _last_frame_decodes(self.path, self.start + self.frames))
        self._vorbis = _native_vorbis(self.path, self.start, self.frames, int(block_frames))
        self.mixdown = channels > 1 and mono
        self.n_channels = None if channels == 1 or mono else channels
        self.n = resampled_length(self.frames, self.rate, self.sample_rate)
        self.block_frames = int(block_frames)

    def __call__(self):
        """A fresh iterator over the blocks, from the first frame."""
        if self._shortfall:  # (once: a pipeline makes a pass per whole-signal measure)
            warn_truncated(self.path, self._shortfall)
            self._shortfall = 0
        if not self._said_chained:
            warn_chained(self.path)
            self._said_chained = True
        sf = _soundfile()
        resampler = None
        if self.rate != self.sample_rate:
            resampler = Resampler(orig_sample_rate=self.rate, target_sample_rate=self.sample_rate)
        read = 0
        if self._vorbis is not None:  # decoded here in runs of packets, as load decodes it whole
            for data in self._vorbis.decode_blocks(self.frames, self.block_frames, self.start):
                yield self._shape(data.T, resampler)
            if resampler is not None:
                yield self._cast(resampler.flush())
            return
        try:
            with sf.SoundFile(os.fsencode(self.path)) as f:
                if self._mp3:  # whole, as load reads it (claims.read_span), then cut into blocks
                    whole = read_span(f, self.start, self.frames, np.float32)
                    reads = _cut([whole], self.block_frames)
                elif f.format == "OGG":  # in load's reads (claims.read_claimed's), then cut into blocks:
                    # libsndfile decodes an Opus stream's last packet otherwise when a read starts inside
                    # it (up to 0.85 off), and a damaged page otherwise where a read ends there
                    seek_frame(f, self.start)
                    size = max(1, WHOLE_READ_SAMPLES // max(int(f.channels), 1))
                    reads = _cut(read_blocks(f, self.frames, size, np.float32, start=self.start), self.block_frames)
                else:
                    reads = self._reads(f)
                for data in reads:
                    if data.shape[0] == 0:
                        break
                    read += data.shape[0]
                    yield self._shape(data.T, resampler)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise _read_error(self.path, exc) from None
        if read != self.frames:
            raise NoisegenError(f"{self.path!r} gave {read} frames where its header promises {self.frames}")
        if resampler is not None:
            yield self._cast(resampler.flush())

    def _reads(self, f):
        """The span's frames in blocks: read by libsndfile, but for the last frame of a FLAC stream of unknown
        length (:func:`~noisegen.audio.flac.unknown_length_end`), decoded here."""
        stop = self.start + self.frames
        head = self.frames if self._last is None else max(0, min(stop, self._last) - self.start)
        if head:
            seek_frame(f, self.start)
            yield from read_blocks(f, head, self.block_frames, np.float32, start=self.start)
        if head < self.frames:
            with FlacFile.open(self.path) as native:
                last = native.read_last(self.start + head, np.float32)
            if last is None:
                raise NoisegenError(f"{self.path!r}: its last FLAC frame no longer decodes")
            yield from _cut([last[: stop - self.start - head]], self.block_frames)

    def _shape(self, y, resampler):
        y = y[0] if y.shape[0] == 1 else (mix_down(y) if self.mixdown else y)
        if resampler is not None:
            try:
                y = resampler.process(np.ascontiguousarray(y))
            except ParameterError:  # NaN/inf samples: name the file as load does, not the resampler's 'chunk'
                if np.isfinite(y).all():
                    raise
                raise ParameterError(f"cannot resample {self.path!r} to sample_rate={self.sample_rate}: "
                                     "it holds NaN or inf samples") from None
        return self._cast(y)

    @staticmethod
    def _cast(y):
        return np.ascontiguousarray(y, dtype=np.float32)


def _cut(reads, block):
    """The frames of ``reads`` (``(n, channels)`` arrays) in pieces of at most ``block`` frames."""
    for data in reads:
        for a in range(0, data.shape[0], block):
            yield data[a:a + block]


def _last_frame_decodes(path, stop: int) -> bool:
    """Whether libsndfile decodes frame ``stop - 1`` of ``path``. A FLAC file cut short in its last
    frame reads here until a block reaches that frame, then fails ('lost sync'); :func:`noisegen.load`
    and the segment readers give its whole frames with a warning (:mod:`noisegen.audio.flac`)."""
    if stop <= 0:
        return True
    sf = _soundfile()
    try:
        with sf.SoundFile(os.fsencode(path)) as f:
            seek_frame(f, stop - 1)  # (not f.seek: libsndfile's fails near the end of a FLAC file behind an ID3 tag)
            return f.read(1, dtype="float32").shape[0] == 1
    except (sf.LibsndfileError, RuntimeError, OSError):
        return False


def _native_vorbis(path, start, frames, block_frames):
    """The stream of an Ogg Vorbis file that :func:`noisegen.load` (and a segment's read) decodes here
    (not libsndfile): its blocks must be this decoder's too, which differs from libvorbis by an ulp
    here and there (and a time stretch's splices can turn an ulp into another output). None for
    anything else. The span is decoded once here, a block at a time, to know that it decodes to
    its end, as the whole decode must."""
    if not is_vorbis_name(path):
        return None
    native = VorbisFile.open(path)
    if native is None:
        return None
    with native:
        stream = native._stream
    try:
        for _ in stream.decode_blocks(frames, block_frames, start):
            pass
    except VorbisUnsupported:
        return None
    return stream


def save_blocks(path, blocks, *, sample_rate, n_channels=None, subtype=None):
    """Write ``blocks`` (``(n_i,)`` or ``(n_channels, n_i)`` floats in [-1, 1]) to ``path``, atomically.

    As :func:`noisegen.save` (format from the extension, default subtype,
    no time-stamped PEAK chunk, a temporary file renamed into place), but
    with the audio given block by block; integer subtypes clip. The file's
    bytes are those ``save`` writes for the concatenated blocks.

    Examples
    --------
    >>> import numpy as np, noisegen, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.flac")
    >>> save_blocks(path, (np.full(100, 0.25) for _ in range(3)), sample_rate=8000)
    >>> noisegen.info(path).frames
    300
    """
    path = os.fspath(path)
    sample_rate = check_sample_rate(sample_rate)
    fmt = format_of(path)
    subtype = check_subtype(fmt, subtype, path)
    channels = 1 if n_channels is None else int(n_channels)
    check_writable(fmt, subtype, n_channels=channels, sample_rate=sample_rate, channels_name="n_channels")
    is_float = subtype in ("FLOAT", "DOUBLE", "VORBIS", "OPUS")

    def frames():
        for block in blocks:
            f = block.T if block.ndim == 2 else block
            yield f if is_float else np.clip(f, -1.0, 1.0)

    write_atomically(path, lambda fh: write_frames(fh, frames(), sample_rate, channels, fmt, subtype))
