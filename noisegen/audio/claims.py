"""A header's frame count checked against the bytes that could hold it, before a read allocates for it.

libsndfile takes an Ogg file's length from its last page's granule
position, and a FLAC file's from STREAMINFO; a damaged or hostile header can
claim 2**60 frames of a few kilobytes, and a read would then try to
allocate exabytes (a ``MemoryError`` from NumPy, or worse, a machine that
swaps). Readers call :func:`check_claimed_length` first and refuse such a
file with a :class:`~noisegen.NoisegenError` naming it. A claim within that
bound may still be untrue (a FLAC header of 16,384 samples a byte claims
gigabytes of a megabyte): :func:`read_claimed` reads a large claim in blocks,
so memory follows the frames the decoder gives, not the header.
"""

from __future__ import annotations

import functools
import os
import warnings

import numpy as np

from .._core.errors import NoisegenError, NoisegenWarning, ParameterError
from .._core.labels import user_stacklevel
from .._kernels.cpu.vorbis_ogg import CRC_TABLES, page_crc

__all__ = ["MAX_SAMPLES_PER_BYTE", "OGG_READ_FRAMES", "WHOLE_READ_SAMPLES", "check_claimed_length",
           "check_float32_range", "count_frames", "read_blocks", "read_claimed", "read_span", "seek_frame",
           "vorbis_seek_limit"]

#: The most samples (frames x channels) a file of any format libsndfile reads packs into a byte:
#: digital silence in Ogg Vorbis takes ~130-250 a byte, a FLAC file of 65,535-sample blocks of
#: silence ~7,000; beyond 16,384 the header is not telling the truth.
MAX_SAMPLES_PER_BYTE = 1 << 14
#: Samples (frames x channels) above which :func:`read_claimed` reads in blocks (64 MB of float32).
WHOLE_READ_SAMPLES = 1 << 24
#: Frames per read of an Ogg file by libsndfile, in every reader: at a damaged page its decoding
#: depends on where the reads end (one read of 88,200 frames stopped at frame 74,888 and went on
#: to 88,200; reads of 65,536 stopped at 79,304 and ended there).
OGG_READ_FRAMES = 1 << 16


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


def read_blocks(f, frames: int, block: int, dtype, *, start: int = 0, out=None):
    """Blocks of at most ``block`` frames (``(n, channels)`` of ``dtype``) of the open
    :class:`soundfile.SoundFile` ``f``, standing at frame ``start``: ``frames`` in all, or as far as
    the decoder goes (into ``out``, ``(block, channels)``, reused, when given).

    Read from where the decoder stands, as :func:`noisegen.load` always read (libFLAC's seek fails
    where frames are out of order, and a read from the start then goes on); when that first read
    gives no frame or fails (a FLAC decoder that opened off its first frame), read again after a
    seek to ``start``, as :func:`soundfile.read` does. Without ``out``, a last block shorter
    than a quarter of ``block`` joins the one before it.

    An Ogg file is read in reads of at most :data:`OGG_READ_FRAMES`, whoever asks (``load``,
    ``info``, the stream's blocks), and a read that gives fewer frames than asked is followed by
    another: libsndfile's Ogg reader ends a read at a damaged page (a hole) and goes on at the
    next read, and where the reads end moves what it decodes there (``load`` in one read stopped
    at the hole and ``info`` in blocks did not). Frames after a hole come with a
    :class:`NoisegenWarning` naming the file; the reads end at the first that gives nothing. In
    any other format a short read is the last (after one, libsndfile's FLAC reader gives the
    frames before it again).

    64-bit float samples read as float32 (without ``out``) are read as float64 and checked first:
    libsndfile turns those beyond float32's range into inf (:func:`check_float32_range`)."""
    dtype = np.dtype(dtype).name
    wide = dtype == "float32" and out is None and getattr(f, "subtype", None) == "DOUBLE"

    def read_some(n):
        if not wide:
            return f.read(n, dtype=dtype, always_2d=True, out=None if out is None else out[:n])
        data = f.read(n, dtype="float64", always_2d=True)
        check_float32_range(data, _label(f))
        return data.astype(np.float32)

    if f.format == "OGG":
        block = min(block, OGG_READ_FRAMES)
    read, hole = 0, None
    while read < frames:
        n = min(block, frames - read)
        if out is None and frames - read - n < max(block // 4, 1):  # no short last read: libsndfile
            n = frames - read  # decodes an Opus stream's last frame otherwise when read alone (off by 0.17)
        try:
            data = read_some(n)
        except RuntimeError:  # (soundfile's LibsndfileError)
            if read or not f.seekable():
                raise
            data = None
        if not read and (data is None or data.shape[0] == 0) and f.seekable():
            f.seek(start)
            data = read_some(n)
        if data.shape[0] == 0:
            return
        if hole is not None:
            _warn_hole(f, hole)
            hole = None
        yield data
        read += data.shape[0]
        if data.shape[0] < n:
            if f.format != "OGG":  # (libsndfile's FLAC reader gives its last frames again)
                return
            hole = read  # the end, or a hole: the next read says which


def check_float32_range(samples: np.ndarray, name) -> None:
    """Refuse 64-bit float ``samples`` that float32 would hold as inf (a read as float32 of a DOUBLE
    file), naming ``name`` (a path, or None for bytes)."""
    peak = float(np.max(np.abs(samples), where=np.isfinite(samples), initial=0.0))  # NaN/inf stay as they are
    if peak > float(np.finfo(np.float32).max):
        raise ParameterError(f"{os.fspath(name) if name is not None else 'the audio data'!r} holds 64-bit float "
                             f"samples beyond float32's range (peak {peak:.3g}): noisegen.load(..., dtype=np.float64) reads "
                             "them; streams, banks and augment read float32")


def _label(f) -> str:
    """The path of the open ``f`` (soundfile's name: the path given, bytes here), else the ``label`` of
    the buffer it reads (a tar member's name, see :func:`noisegen.audio.segment.decode`), or "audio bytes"."""
    name = f.name if isinstance(f.name, (str, bytes, os.PathLike)) else getattr(f.name, "label", "audio bytes")
    return os.fsdecode(name) if isinstance(name, bytes) else os.fspath(name)


def _warn_hole(f, frame: int) -> None:
    """Warn that the decoder of the open ``f`` stopped at ``frame`` and went on (a damaged page)."""
    label = _label(f)
    warnings.warn(f"{label!r} is damaged: its decoding stopped at frame {frame} and went on after the damage "
                  "(the samples around it may be wrong)", NoisegenWarning, stacklevel=user_stacklevel())


def read_claimed(f, frames: int, dtype) -> np.ndarray:
    """The next ``frames`` frames of the open ``f`` as ``(frames read, channels)`` of ``dtype``
    (:func:`read_blocks`): in one read up to :data:`WHOLE_READ_SAMPLES` samples, else in blocks of
    that many (``f.read`` allocates all it is asked for first). An MP3 file in one read, always:
    libsndfile's MP3 decoding goes wrong for a few milliseconds after some of the points where a
    read ends (bursts of 0.1 full scale, at reads of 2**17 frames), or where a seek lands, so a
    segment of an MP3 is read from its first frame (:func:`read_span`)."""
    channels = max(int(f.channels), 1)
    start = f.tell() if f.seekable() else 0  # (GSM 6.10 does not seek, nor tell)
    block = max(frames, 1) if f.format == "MP3" else max(1, WHOLE_READ_SAMPLES // channels)
    parts = list(read_blocks(f, frames, block, dtype, start=start))
    warn_decoded_short(f, start + sum(p.shape[0] for p in parts), start + frames)
    if not parts:
        return np.empty((0, channels), np.dtype(dtype))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def warn_decoded_short(f, got: int, promised: int) -> None:
    """Say that the Ogg file ``f`` decoded to frame ``got`` where its header promises ``promised``: a
    setup header libvorbis refuses decodes to nothing, and ``load`` gave 0 of 48,000 frames without a
    word. (Ogg only: an MP3 header's count is an estimate, a FLAC or WAV cut short warns as such.)"""
    if got < promised and f.format == "OGG":
        warnings.warn(f"{_label(f)!r} decodes to frame {got} of the {promised} its header promises (a damaged "
                      "file?); reading the frames that decode", NoisegenWarning, stacklevel=user_stacklevel())


def count_frames(f, block: int = 1 << 16) -> int:
    """Frames :func:`read_claimed` gives from the just opened ``f`` read whole (at most its header's),
    counted in blocks of ``block`` frames into one reused buffer, nothing kept. An MP3's header
    count is its decoder's estimate (a Common Voice clip claimed 114,246 frames and decoded to
    114,048); where a read ends moves its samples, not their count."""
    buf = np.empty((block, max(int(f.channels), 1)), np.float32)
    return sum(b.shape[0] for b in read_blocks(f, int(f.frames), block, np.float32, out=buf))


def read_span(f, start: int, n: int, dtype) -> np.ndarray:
    """Frames ``start .. start + n`` of the just opened ``f`` (:func:`read_claimed`): after a seek to
    ``start`` (:func:`seek_frame`), but an MP3 from its first frame in one read, cut there (its decoding after a seek
    differs from ``load``'s, see :func:`read_claimed`)."""
    if f.format != "MP3":
        seek_frame(f, start)
        return read_claimed(f, n, dtype)
    data = read_claimed(f, start + n, dtype)
    return data[start:].copy() if start else data


def seek_frame(f, start: int, block: int = 1 << 16) -> None:
    """Move the just opened ``f`` to frame ``start``: a seek, or, in a codec that cannot seek (GSM 6.10,
    G.721/G.723: libsndfile's 'Seek attempted on unseekable file type'), decoding the frames before it
    in blocks of ``block`` into one reused buffer, nothing kept. An Ogg Vorbis file is seeked no
    further than its last two pages (:func:`vorbis_seek_limit`) and decoded on from there; a FLAC
    file behind an ID3v2 tag is decoded from its first frame (:func:`_flac_behind_id3`)."""
    if not start:
        return
    at = 0
    if f.seekable() and not _flac_behind_id3(f) and not _vorbis_undecodable(f):
        at = min(start, vorbis_seek_limit(f)) if f.format == "OGG" and f.subtype == "VORBIS" else start
        f.seek(at)
        if at == start:
            return
    buf = np.empty((block, max(int(f.channels), 1)), np.float32)
    for _ in read_blocks(f, start - at, block, np.float32, start=at, out=buf):
        pass


def _flac_behind_id3(f) -> bool:
    """Whether the open ``f`` is a FLAC file that starts with an ID3v2 tag (a tagger's, libsndfile skips
    it): libsndfile 1.2 seeks it as if the tag were not there, so a seek into its last frames (as many
    bytes from the end as the tag takes) fails with 'Internal psf_fseek() failed', leaving the file
    unreadable, where reading from the start gives every frame."""
    name = f.name
    if f.format != "FLAC" or not isinstance(name, (str, bytes, os.PathLike)):
        return False
    try:
        with open(name, "rb") as fh:
            return fh.read(3) == b"ID3"
    except OSError:
        return False


def _vorbis_undecodable(f) -> bool:
    """Whether the open ``f`` is an Ogg Vorbis file of frames libsndfile decodes none of, from a fresh
    handle on its path (``f`` stays where it is): a setup header with a codebook libvorbis refuses
    (over-full, or incomplete), where its decoder never starts. libsndfile 1.2 reads no frame of such a
    file, and its seek there crashes the process (SIGSEGV), so it is read from the first frame instead.
    False for a file object (nothing to open again). Asked once per path, size and modification time:
    a fresh open for every seek cost 0.6-1 ms of each 10-20 ms read of a 4 s segment."""
    name = f.name
    if f.format != "OGG" or f.subtype != "VORBIS" or not isinstance(name, (str, bytes, os.PathLike)):
        return False
    try:
        st = os.stat(name)
    except OSError:
        return True
    return _undecodable(type(f), os.fsencode(name), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1024)
def _undecodable(opener, path: bytes, size: int, mtime_ns: int) -> bool:
    try:
        with opener(path) as fresh:
            return fresh.read(1, dtype="float32").shape[0] == 0
    except (RuntimeError, OSError):  # (soundfile's LibsndfileError is a RuntimeError)
        return True


#: Bytes at the end of an Ogg file searched for its last pages (three of the largest, 65,307 bytes).
_OGG_TAIL = 1 << 18


def vorbis_seek_limit(f) -> int:
    """The last frame libsndfile's seek in the open Ogg Vorbis file ``f`` is trusted to reach: the first
    of its second-to-last page (with a granule position). A first seek into the last page lands late
    (40 frames in a 44.1 kHz file, 219 in a 22.05 kHz one, and on other samples yet in its last
    frames); a seek before it, then a decode on, gives the whole read's samples. ``f.frames`` (any
    frame) when the file's tail is not pages this finds (the seek is then as it was)."""
    name = f.name
    if not isinstance(name, (str, bytes, os.PathLike)):
        return int(f.frames)
    try:
        with open(name, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - _OGG_TAIL))
            tail = fh.read()
    except OSError:
        return int(f.frames)
    granules = _last_granules(tail)
    if granules is None:
        return int(f.frames)
    last, page_start = granules
    return max(0, page_start - (last - int(f.frames)))  # libsndfile's frame 0: the last granule less its frame count


def _last_granules(raw: bytes):
    """``(last page's granule position, that of the page before the one before it)`` of the pages
    ending ``raw`` (each page's CRC checked; positions -1 skipped), or None."""
    pages = {}  # end offset -> (start offset, granule position) of each page found whole in the tail
    tail = np.frombuffer(raw, np.uint8)
    at = raw.find(b"OggS")
    while at >= 0:
        if at + 27 <= tail.size and tail[at + 4] == 0:
            nseg = int(tail[at + 26])
            stop = at + 27 + nseg + int(tail[at + 27:at + 27 + nseg].sum(dtype=np.int64))
            if at + 27 + nseg <= tail.size and stop <= tail.size and (
                    int(page_crc(tail, at, stop, CRC_TABLES)) == int.from_bytes(raw[at + 22:at + 26], "little")):
                pages[stop] = at, int.from_bytes(raw[at + 6:at + 14], "little", signed=True)
        at = raw.find(b"OggS", at + 1)
    found, end = [], tail.size
    while end in pages and len(found) < 3:
        end, granule = pages[end]
        if granule != -1:
            found.append(granule)
    return (found[0], found[2]) if len(found) == 3 else None
