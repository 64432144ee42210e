"""Reading one segment of an audio file: seek to its first frame, read only its frames.

Used by :class:`noisegen.AugmentStream` for whole files and for manifest
rows with ``offset``/``duration``; :func:`segment_span` answers from the
header alone, so a stream can count its samples without decoding audio; but
an MP3's header frame count is an estimate, so an MP3 is decoded once (in
blocks, nothing kept) and counted: ``len(stream)`` is then what a pass yields.
"""

from __future__ import annotations

import functools
import io
import os

import numpy as np

from .._core.errors import NoisegenError, ParameterError
from .._core.layout import layout_known
from .._core.units import to_samples
from .._core.validation import check_bool, check_int, check_rates, check_reach, check_real, check_sample_rate
from ..effects.resample import resample
from .claims import check_claimed_length, count_frames, read_claimed, read_span
from .io import _open_native, _soundfile, _warn_if_truncated, check_regular, mix_down, native_from_bytes, read_native
from .files import aiff_rate_problem, read_error as _read_error
from .native import salvaged, warn_truncated
from .ogg_links import warn_chained

__all__ = ["segment_span", "read_segment", "read_own_rate", "decode", "decode_own_rate", "decoded_span", "resampled_length"]


def resampled_length(n: int, orig_sample_rate: int, sample_rate: int) -> int:
    """Length of ``n`` samples after :func:`noisegen.resample`: ``ceil(n * target / orig)``.

    Raises ParameterError, naming ``orig_sample_rate``, for rates
    :func:`noisegen.resample` cannot convert between (a ratio beyond 256, or
    a rate above 768 kHz): such a file gives no samples.
    """
    if orig_sample_rate == sample_rate:
        return int(n)
    check_reach(orig_sample_rate, sample_rate, "the file")
    orig, target = check_rates(orig_sample_rate, sample_rate)
    return -((-int(n) * target) // orig)


def segment_span(path, offset_s=None, duration_s=None, *, exact=True) -> tuple[int, int, int]:
    """``(first frame, frame count, file sample rate)`` of a segment, from the file's header (an MP3's
    count from decoding it, once per path, size and modification time: :func:`_mp3_frames`; with
    ``exact=False``, the header's estimate: a run's plan, which only estimates durations).

    ``offset_s`` (None: 0) and ``duration_s`` (None: to the end) become
    frames with :func:`noisegen.units.seconds_to_samples`; a duration past
    the end of the file is cut there.

    Raises
    ------
    FileNotFoundError, noisegen.NoisegenError
        As :func:`noisegen.load` does for a missing or undecodable file.
    noisegen.ParameterError
        ``offset_s`` at or past the end of the file.
    """
    check_regular(path)
    native = _open_native(path, header_only=True)
    if native is not None:
        with native:
            return _span(path, native.frames, native.samplerate, offset_s, duration_s)
    sf = _soundfile()
    try:
        meta = sf.info(os.fsencode(path))
        check_claimed_length(path, int(meta.frames), int(meta.channels), os.path.getsize(path))
        total = _mp3_frames(path) if meta.format == "MP3" and exact else int(meta.frames)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise _read_error(path, exc) from None
    return _span(path, total, int(meta.samplerate), offset_s, duration_s)


def _mp3_frames(path) -> int:
    """Frames an MP3 file decodes to (:func:`~noisegen.audio.claims.count_frames`), remembered per
    path, size and modification time: a stream's ``len`` and a long file's blocks count the same file."""
    st = os.stat(path)
    return _counted(os.fsencode(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _counted(path: bytes, size: int, mtime_ns: int) -> int:
    with _soundfile().SoundFile(path) as f:
        return count_frames(f)


def _span(path, total, rate, offset_s, duration_s):
    """:func:`segment_span` from a header's frame count and rate."""
    start = 0 if offset_s is None else to_samples(check_real(offset_s, "offset_s", low=0.0), rate, "offset_s",
                                                  of_file=True)
    if offset_s is not None and offset_s > 0 and start >= total:
        raise ParameterError(f"offset {offset_s!r} s is at or past the end of {os.fspath(path)!r} "
                             f"({total / rate:.3f} s long)")
    n = total - start
    if duration_s is not None:
        n = min(n, to_samples(check_real(duration_s, "duration_s", low=0.0), rate, "duration_s",
                               of_file=True))
    return start, n, rate


def read_segment(path, *, offset_s=None, duration_s=None, sample_rate: int, mono: bool = True,
                 max_n=None) -> np.ndarray | None:
    """One segment of ``path`` as float32 ``(n,)`` or ``(channels, n)`` at ``sample_rate``.

    Only the segment's frames are read (the file is seeked to its first
    frame), as float32, mixed down (:func:`noisegen.audio.io.mix_down`) and
    resampled in float32 with :func:`noisegen.resample`, as :func:`noisegen.load`
    reads with its default ``dtype=np.float32``: a whole file gives ``load``'s
    samples exactly. The output has
    :func:`resampled_length` of the segment's frames. With ``max_n``, a
    segment that would give more samples is not read: None (the caller reads
    it in blocks; the header came with the same open). A file at a rate
    :func:`noisegen.resample` cannot take to ``sample_rate`` (more than 256x
    away) is a ParameterError from its header, naming its rate.
    """
    sample_rate = check_sample_rate(sample_rate)  # (a bad one failed inside check_reach: TypeError, OverflowError)
    mono = check_bool(mono, "mono")  # (as load's: "no" mixed down, None kept the channels)
    max_n = None if max_n is None else check_int(max_n, "max_n", low=0)  # (-1: None, "read it in blocks")

    def too_long(n, rate):  # from the header, before any frame is decoded
        check_reach(rate, sample_rate, _named(path))  # (it was decoded whole, then refused by resample)
        return max_n is not None and resampled_length(n, rate, sample_rate) > max_n

    read = _decoded(path, offset_s, duration_s, mono, too_long)
    return None if read is None else _to_stream(*read, sample_rate, mono)


def read_own_rate(path, *, mono: bool = True) -> tuple[np.ndarray, int]:
    """``(samples, rate)``: the whole of ``path`` as :func:`read_segment` reads it, at the file's own
    rate (one open of the file; resampled with :func:`noisegen.resample` afterwards, the samples
    are those :func:`read_segment` gives at another rate)."""
    data, rate = _decoded(path, None, None, mono, None)
    return _to_stream(data, rate, rate, mono), rate


def _decoded(path, offset_s, duration_s, mono, too_long):
    """``(frames, rate)`` of a segment (``(n, channels)`` float32, as soundfile reads them; a FLAC file
    read as mono: one channel already), or None when ``too_long(n, rate)`` (nothing read)."""
    check_regular(path)
    native = _open_native(path)
    if native is not None:  # a plain WAV or FLAC file: read by noisegen, the same samples (.wav, .flac)
        with native:
            start, n, rate = _span(path, native.frames, native.samplerate, offset_s, duration_s)
            if too_long is not None and too_long(n, rate):
                return None
            data = native.read(start, n, np.float32, mono)
        if data is not None:  # else frames the FLAC reader leaves to libsndfile
            warn_truncated(path, native.shortfall, unit=native.shortfall_unit)
            return data, rate
    sf = _soundfile()
    try:
        with sf.SoundFile(os.fsencode(path)) as f:  # one open: the header, then the frames
            start, n, rate = _span(path, int(f.frames), int(f.samplerate), offset_s, duration_s)
            if too_long is not None and too_long(n, rate):
                return None
            check_claimed_length(path, f.frames, f.channels, os.path.getsize(path))
            data = read_span(f, start, n, np.float32)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        data, rate = salvaged(native, path, _read_error(path, exc)), native.samplerate
    _warn_if_truncated(path)
    return data, rate


def decode(data: bytes, *, sample_rate: int, mono: bool = True, name: str = "audio bytes") -> np.ndarray:
    """Encoded audio (the bytes of a WAV/FLAC/... file, e.g. a tar member) as :func:`read_segment` reads a file.

    Raises
    ------
    noisegen.NoisegenError
        The bytes cannot be decoded (``name`` says whose they are).
    """
    return _to_stream(*_decoded_bytes(data, sample_rate, mono, name), sample_rate, mono)


def decode_own_rate(data: bytes, *, mono: bool = True, name: str = "audio bytes") -> tuple[np.ndarray, int]:
    """``(samples, rate)``: encoded audio as :func:`decode` reads it, at its own rate (as
    :func:`read_own_rate` reads a file); NoisegenError as :func:`decode` raises it."""
    frames, rate = _decoded_bytes(data, None, mono, name)
    return _to_stream(frames, rate, rate, mono), rate


def _named(path) -> str:
    """``path`` as an error names it ('the file' for an open file object, whose name may be anything)."""
    return repr(os.fsdecode(path)) if isinstance(path, (str, bytes, os.PathLike)) else "the file"


def _decoded_bytes(data, sample_rate, mono, name):
    """``(frames, rate)`` of encoded audio (see :func:`_decoded`); a rate :func:`noisegen.resample` cannot
    take to ``sample_rate`` (None: any) is refused from the header, before any frame is decoded."""
    native = _native_member(data, name)
    if native is not None:  # a plain WAV member (noisegen writes 16-bit ones) or a FLAC one
        if sample_rate is not None:
            check_reach(int(native.samplerate), sample_rate, name)
        frames = read_native(native, 0, native.frames, np.float32, mono)
        if frames is not None:
            warn_truncated(name, native.shortfall, unit=native.shortfall_unit)
            return frames, native.samplerate
    sf = _soundfile()
    try:
        with _opened(sf, data, name) as f:
            rate = int(f.samplerate)
            if sample_rate is not None:
                check_reach(rate, sample_rate, name)
            check_claimed_length(name, f.frames, f.channels, len(data))
            frames = read_claimed(f, f.frames, np.float32)  # a count: GSM 6.10 does not seek
        warn_chained(name, data)
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError) as exc:
        error = NoisegenError(f"cannot decode {name}: {getattr(exc, 'error_string', None) or exc}")
        frames, rate = salvaged(native, name, error), native.samplerate  # (a FLAC member cut short)
    return frames, rate


def decoded_span(data: bytes, *, name: str = "audio bytes") -> tuple[int, int]:
    """``(frame count, sample rate)`` of encoded audio, from its header (see :func:`decode`); an MP3's
    count from decoding it (its header's is an estimate), what :func:`decode` reads."""
    native = _native_member(data, name)
    if native is not None:
        with native:
            return native.frames, native.samplerate
    sf = _soundfile()
    try:
        with _opened(sf, data, name) as f:
            check_claimed_length(name, int(f.frames), int(f.channels), len(data))
            frames = count_frames(f) if f.format == "MP3" else int(f.frames)
            return frames, int(f.samplerate)
    except (sf.LibsndfileError, RuntimeError, OSError, TypeError) as exc:
        raise NoisegenError(f"cannot decode {name}: {getattr(exc, 'error_string', None) or exc}") from None


#: The formats libsndfile reads behind ID3v2 tags (others: 'embedding not supported for this file format').
_EMBEDDABLE = frozenset(("WAV", "WAVEX", "AIFF", "AU", "FLAC", "MP3"))


def _opened(sf, data, name):
    """libsndfile's open of encoded bytes (``name``: whose, as its warnings say), past the ID3v2 tags a tagger
    put first. (libsndfile skips them
    as it reads a path, but reading bytes it then takes their length off the end of a WAV or AIFF file's
    samples, 3,000 bytes of tag: 752 of 20,000 stereo frames, and refuses a FLAC file behind two.)"""
    at = 0  # past the tags as libsndfile skips them: "ID3", version 2 to 4, 10 bytes and a syncsafe size
    while bytes(data[at:at + 3]) == b"ID3" and len(data) >= at + 10 and data[at + 3] in (2, 3, 4):
        size = 10 + sum((data[at + 6 + i] & 0x7F) << (21 - 7 * i) for i in range(4))
        if size < 12 or at + size >= len(data):  # (libsndfile refuses a file behind a tag of 0 or 1 bytes)
            break
        at += size
    buf = io.BytesIO(memoryview(data)[at:])
    buf.label = name  # (claims' warnings name it: a damaged member was 'audio bytes')
    if why := aiff_rate_problem(buf):  # (a member at rate 0 read as 1 Hz, as check_headed refuses a file)
        raise RuntimeError(why)
    buf.seek(0)
    f = sf.SoundFile(buf)
    if at and f.format not in _EMBEDDABLE:  # as libsndfile refuses the file on disk
        f.close()
        raise RuntimeError("embedding not supported for this file format")
    return f


def _native_member(data, name):
    """:func:`~noisegen.audio.io.native_from_bytes`, its errors naming ``name``."""
    try:
        return native_from_bytes(data)
    except NoisegenError as exc:
        raise NoisegenError(f"cannot decode {name}: {exc}") from None


def _to_stream(frames, rate, sample_rate, mono):
    """``(frames, channels)`` read by soundfile -> float32 ``(n,)``/``(channels, n)`` at ``sample_rate``."""
    y = frames.T  # (channels, frames)
    if y.shape[0] == 1:
        y = y[0]
    elif mono:
        y = mix_down(y)
    if rate != sample_rate:
        check_reach(rate, sample_rate, "the file")
        try:
            with layout_known():  # (a file's frames: a short file of many channels is no (samples, channels) array)
                y = resample(np.ascontiguousarray(y), orig_sample_rate=rate, target_sample_rate=sample_rate)
        except ParameterError:  # NaN/inf samples: said of the file as at its own rate, not of resample's 'y'
            if np.isfinite(y).all():
                raise
            raise ParameterError("holds NaN or inf samples") from None
    return np.ascontiguousarray(y, dtype=np.float32)

