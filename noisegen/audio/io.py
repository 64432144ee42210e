"""Reading and writing audio files (noisegen's WAV, FLAC and Vorbis readers, else libsndfile).

:func:`load` returns float audio with time on the last axis, optionally resampled and downmixed
(:func:`read_frames` reads the file's frames); :func:`save` writes atomically (a temporary file in the
destination folder, then :func:`os.replace`), so a reader never sees a half-written file, and writes float
WAV/AIFF without libsndfile's time-stamped ``PEAK`` chunk and Ogg with a serial number of its own (libsndfile's
comes from the clock), so the same audio always gives the same bytes. :func:`noisegen.audio.info.info` reports
format, length and levels of a file without loading it whole.
"""

from __future__ import annotations

import io
import os
import stat
import warnings

import numpy as np

from .._core.validation import (MAX_SAMPLE_RATE, check_audio, check_bool, check_float_dtype, check_path,
                                check_sample_rate, out_of_reach)
from .files import (AUDIO_EXTENSIONS, audio_files, check_headed, file_kind, missing_hint, read_error as _read_error,
                    unexpanded_home)
from .claims import check_claimed_length, read_claimed
from .flac import FlacFile, is_flac_name
from .vorbis import VorbisFile, is_vorbis_name
from .native import salvaged, warn_truncated
from .ogg_links import warn_chained
from .formats import check_frames, check_subtype, check_writable, format_of
from .stable_bytes import settle_bytes
from .wav import WavFile, data_shortfall, is_wav_name, pcm16_wav
from .._core.errors import NoisegenWarning, ParameterError
from .._core.layout import layout_known
from .._core.labels import user_stacklevel
from .._core.tempfiles import write_atomically
from ..effects.resample import resample
from .._kernels.cpu.pcm import to_pcm16

__all__ = ["load", "save", "AUDIO_EXTENSIONS", "audio_files"]

#: libsndfile command ``SFC_SET_ADD_PEAK_CHUNK`` (sndfile.h): turn the PEAK
#: chunk (which holds a time stamp) of float WAV/AIFF files on or off.
_SFC_SET_ADD_PEAK_CHUNK = 0x1050
#: libsndfile's ``SF_ERR_SYSTEM``: an open failed on the file's I/O, not on the format.
_SF_ERR_SYSTEM = 2

_BLOCK_FRAMES = 1 << 16


def _soundfile():
    import soundfile

    return soundfile


def check_regular(path) -> None:
    """Refuse a path that is not a regular file before anything opens it.

    Opening a FIFO blocks until a writer appears, and devices and sockets are not audio files: they
    raise :class:`~noisegen.ParameterError`. A missing path (or a dangling symlink) and a folder raise
    what a failed read raises. Open file objects are passed through; anything else is a ParameterError.
    A ``.au`` or ``.snd`` file without a header raises a NoisegenError (:func:`.files.check_headed`).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        if not hasattr(path, "read"):  # (an open file is read as it is)
            check_path(path)
        return
    check_path(path)  # (a NUL byte)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(2, "no such audio file" + (" (dangling symlink)" if os.path.islink(path) else missing_hint(path)),
                                os.fspath(path)) from None
    except OSError as exc:
        raise _read_error(path, exc) from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "is a directory, not an audio file", os.fspath(path))
    if not stat.S_ISREG(mode):
        raise ParameterError(f"path {os.fspath(path)!r} is {file_kind(mode)}, not a regular file; "
                             "only regular files are read")
    check_headed(path)


def _wav_shortfall(path) -> int:
    """Bytes a RIFF/WAVE file's ``data`` chunk claims beyond the end of the file (0 if none or not WAV).

    libsndfile quietly reads what is there; this lets :func:`load` and
    :func:`info` say that the file was cut short (:func:`.wav.data_shortfall`).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        return 0
    try:
        with open(path, "rb") as fh:
            return data_shortfall(fh, os.fstat(fh.fileno()).st_size)
    except OSError:
        return 0


def _warn_if_truncated(path) -> None:  # (after libsndfile read it: cut short, or only its first Ogg stream)
    warn_truncated(path, _wav_shortfall(path))
    warn_chained(path)


def _open_native(path, *, header_only=False):
    """``path`` (a regular file) as an open :class:`.wav.WavFile`, :class:`.flac.FlacFile` or
    :class:`.vorbis.VorbisFile`, or None (libsndfile reads it). ``header_only``: no VorbisFile (its open
    indexes the whole file; libsndfile's header read is cheaper and gives the same frame count)."""
    try:
        if is_wav_name(path):
            return WavFile.open(path)
        if is_vorbis_name(path):
            return None if header_only else VorbisFile.open(path)
        return FlacFile.open(path) if is_flac_name(path) else None
    except OSError as exc:
        raise _read_error(path, exc) from None


def native_from_bytes(data):
    """:func:`_open_native` of a file's bytes (a tar member): a WavFile, FlacFile, VorbisFile, or None."""
    return WavFile.from_bytes(data) or FlacFile.from_bytes(data) or VorbisFile.from_bytes(data)


def read_native(native, start: int, n: int, dtype, mono: bool = False):
    """``native.read(start, n, dtype, mono)`` for an open WavFile, FlacFile or VorbisFile, closing it;
    None when its reader leaves those frames to libsndfile (see :mod:`noisegen.audio.flac` and
    :mod:`noisegen.audio.vorbis`). ``mono``: the reader may give the channels' mean instead of the
    channels (FLAC does for two)."""
    with native:
        return native.read(start, n, dtype, mono)


def read_frames(path, dtype, mono: bool = False, *, rate_check=None):
    """``(frames, sample rate, native)``: every frame of the regular file ``path`` as ``(frames,
    channels)`` of ``dtype`` (``mono``: a stereo FLAC file may come as its channels' mean, one
    column), read as :func:`load` reads it: a plain WAV, FLAC or Ogg Vorbis file by noisegen
    (``native``: its open reader, closed; the same samples as libsndfile), anything else or
    what those readers leave by libsndfile (``native`` None), and a file libsndfile refuses that
    noisegen's reader salvaged (a FLAC file cut short) as far as it goes. A file cut short is
    reported by a warning at the user's line.
    ``rate_check`` (or None) is called with the file's rate once its header is read, before any
    frame is: what it raises is raised, and nothing is decoded."""
    sf = _soundfile()
    native = _open_native(path)
    if native is not None and rate_check is not None:
        try:
            rate_check(int(native.samplerate))
        except ParameterError:
            native.close()
            raise
    try:
        # a plain WAV, FLAC or Ogg Vorbis file: read by noisegen, the same samples (noisegen.audio.wav,
        # .flac, .vorbis)
        data = None if native is None else read_native(native, 0, native.frames, dtype, mono)
        if data is not None:
            warn_truncated(path, native.shortfall, unit=native.shortfall_unit)
            return data, int(native.samplerate), native
        with sf.SoundFile(os.fsencode(path)) as f:  # (bytes: soundfile cannot encode a non-UTF-8 name)
            if rate_check is not None:
                rate_check(int(f.samplerate))
            check_claimed_length(path, f.frames, f.channels, os.path.getsize(path))
            data, file_rate = read_claimed(f, f.frames, dtype), f.samplerate
        _warn_if_truncated(path)
        return data, int(file_rate), None
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        return salvaged(native, path, _read_error(path, exc)), int(native.samplerate), native


def load(path, *, sample_rate=None, mono=False, dtype=np.float32):
    """Read an audio file as float samples with time on the last axis.

    Parameters
    ----------
    path : str or os.PathLike
        Any format libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, MP3 with
        libsndfile >= 1.1, ...).
    sample_rate : int or None
        Resample to this rate with :func:`noisegen.resample`; ``None`` keeps the
        file's rate.
    mono : bool
        Average the channels into one.
    dtype : float32 or float64
        Samples are in ``[-1, 1)`` for integer PCM files (``k / 2**(bits - 1)``),
        except that float32 rounds 32-bit PCM's top values (above
        ``1 - 2**-25``) to 1.0; ``float64`` keeps every 32-bit value below 1.

    Returns
    -------
    y : np.ndarray [shape=(n,) or (n_channels, n)]
        ``(n,)`` for a one-channel file or with ``mono=True``.
    sample_rate : int
        The sample rate of ``y``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    OSError
        The OS cannot open it, with its reason (a :class:`PermissionError`
        "Permission denied", a symlink loop, ...).
    noisegen.ParameterError
        The path is not a regular file (a FIFO, socket or device); it is
        never opened. Or ``sample_rate`` is out of :func:`noisegen.resample`'s
        reach from the file's rate (more than 256x from it, or the file
        above 768 kHz): refused from the header, before any frame is decoded.
    noisegen.NoisegenError
        The file exists but cannot be decoded.

    Warns
    -----
    noisegen.NoisegenWarning
        A WAV or FLAC file cut short (the samples that are there are
        returned), or a chained Ogg file (its first stream is returned).

    See Also
    --------
    save, info

    Examples
    --------
    >>> import noisegen, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> noisegen.save(path, noisegen.tone(freq_hz=440.0, sample_rate=16000, n_samples=800, amplitude=0.5),
    ...               sample_rate=16000)
    >>> y, sr = noisegen.load(path, sample_rate=8000)
    >>> y.shape, sr, y.dtype
    ((400,), 8000, dtype('float32'))
    """
    dtype = check_float_dtype(dtype)
    mono = check_bool(mono, "mono")
    target = None if sample_rate is None else check_sample_rate(sample_rate)
    path = check_path(path)  # (bytes: a str, so that noisegen's readers take it, as info's do)
    check_regular(path)
    # read, mix and resample in the dtype asked: float32 is twice as fast, exact to its rounding
    rate_check = None if target is None else lambda rate: _check_resampling(path, rate, target)
    data, file_rate, _ = read_frames(path, dtype, mono, rate_check=rate_check)
    y = data.T  # (channels, frames)
    if mono or y.shape[0] == 1:
        y = mix_down(y)
    if target is not None and target != file_rate:
        try:
            y = resample_to(np.ascontiguousarray(y), int(file_rate), target)
        except ParameterError as exc:  # NaN/inf samples, or an overflow: name the file, not resample's y
            why = "it holds NaN or inf samples" if not np.isfinite(y).all() else str(exc)
            raise ParameterError(f"cannot resample {os.fspath(path)!r} to sample_rate={target}: {why}") from None
        file_rate = target
    return np.ascontiguousarray(y, dtype=dtype), int(file_rate)


def _check_resampling(path, file_rate: int, target: int) -> None:
    """Refuse, from the header, a ``target`` rate :func:`noisegen.resample` cannot reach from the file's (a 384 kHz
    file loaded at 1 kHz was decoded whole first, then refused with resample's arguments, never given)."""
    why = out_of_reach(file_rate, target)
    if why:
        steps = " and resample it in steps" if file_rate <= MAX_SAMPLE_RATE else ""  # (past 768 kHz, nothing can)
        raise ParameterError(f"cannot resample {os.fspath(path)!r} to sample_rate={target}: the file is {why}; "
                             f"load it at its own rate (sample_rate=None){steps}")


def mix_down(y: np.ndarray) -> np.ndarray:
    """The channel mean of ``(channels, n)`` audio as a new ``(n,)`` array (``y[0]`` itself for one channel).

    Adds whole rows: for the transposed view of interleaved frames that a
    read gives, ``y.mean(axis=0)`` reduces along the short strided axis,
    about ten times slower. Sums in channel order, then divides, as
    ``np.mean`` does for fewer than 8 channels.

    Examples
    --------
    >>> mix_down(np.array([[1.0, 2.0], [3.0, 5.0]]))
    array([2. , 3.5])
    """
    if y.shape[0] == 1:
        return y[0]
    out = y[0] + y[1]
    for row in y[2:]:
        out += row
    out /= y.shape[0]
    return out


def resample_to(y: np.ndarray, orig_sample_rate: int, sample_rate: int) -> np.ndarray:
    """``y`` at ``sample_rate`` (the same array when the rates are equal), with :func:`noisegen.resample`.

    ``y`` is a file's frames or an array checked where it came in: a short file of many channels (100
    of 50 frames) is no channels-last array (:mod:`noisegen._core.layout`), at any rate it is loaded at."""
    if orig_sample_rate == sample_rate:
        return y
    with layout_known():
        return resample(y, orig_sample_rate=orig_sample_rate, target_sample_rate=sample_rate)


def save(path, y, *, sample_rate, subtype=None, overwrite=True):
    """Write audio to a file, atomically.

    The samples go to a temporary file next to ``path`` which then replaces ``path`` in one step
    (:func:`os.replace`): an interrupted write never leaves a truncated file behind. Float WAV/AIFF
    files are written without a ``PEAK`` chunk (it holds a time stamp; RF64 keeps it, stamped 0) and an
    Ogg stream's serial number comes from its bytes, so identical audio gives identical bytes. An Ogg
    Opus file (``.opus``) may read back with its last few milliseconds faded: libsndfile's Opus writer
    does not flush the encoder's look-ahead (6.5 ms), and the file keeps the input's length
    (:func:`noisegen.codec` pads the signal instead, and cuts it again).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the format follows the extension (``.wav``, ``.flac``,
        ``.ogg``, ``.aiff``, ...).
    y : np.ndarray [shape=(n,) or (n_channels, n)]
        float32/float64 samples, nominally in ``[-1, 1]``.
    sample_rate : int
    subtype : str or None
        libsndfile subtype such as ``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"``;
        ``None`` takes the format's default (``PCM_16`` for WAV and FLAC).
        Integer subtypes clip samples outside ``[-1, 1]`` (with a
        :class:`~noisegen.NoisegenWarning`).
    overwrite : bool
        False: never replace a file at ``path`` that holds other bytes
        (:class:`FileExistsError`); one that holds these very bytes (the
        same audio saved again) is left as it is.

    Raises
    ------
    noisegen.ParameterError
        A bad argument, or channels, a sample rate or a length the format
        cannot hold (:mod:`noisegen.audio.formats`: FLAC at most 8 channels,
        Ogg at most 255, Vorbis at most 200 kHz, Opus and MP3 their fixed
        rates, any format at most 1024 channels, a length a block codec such
        as GSM610 or IMA_ADPCM would pad, ...), before anything is written
        under ``path``.

    Examples
    --------
    >>> import noisegen, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "noise.wav")
    >>> noisegen.save(path, 0.1 * noisegen.white_noise(1600, rng=0), sample_rate=16000, subtype="FLOAT")
    >>> noisegen.info(path).frames
    1600
    """
    path = check_path(path)
    y, sample_rate = check_audio(y, "y"), check_sample_rate(sample_rate)
    replace = check_bool(overwrite, "overwrite")
    frames, n_channels, fmt, subtype = _frames(y, format_of(path), subtype, sample_rate, path)
    data = _encoded(frames, sample_rate, n_channels, fmt, subtype)  # in memory, written in one call
    try:
        write_atomically(path, lambda fh: fh.write(data), replace=replace,
                         same=lambda old: memoryview(data).cast("B") == old)
    except FileNotFoundError as exc:  # ('~/x.wav' from Python said only "cannot write into '/cwd/~'")
        if why := unexpanded_home(path):
            exc.strerror = f"{exc.strerror}; path {why}"
        raise


def _frames(y, fmt, subtype, sample_rate, where):
    """``(frames (n, channels), n_channels, format, subtype)`` checked for writing to ``where``."""
    y = check_audio(y, "y")
    subtype = check_subtype(fmt, subtype, where)
    frames = y.T if y.ndim == 2 else y  # soundfile wants (frames, channels)
    n_channels = 1 if y.ndim == 1 else y.shape[0]
    if y.ndim == 2 and n_channels == 0:
        raise ParameterError(f"y must have at least one channel, got shape {y.shape}")
    check_writable(fmt, subtype, n_channels=n_channels, sample_rate=sample_rate, n_frames=y.shape[-1])
    is_float = subtype in ("FLOAT", "DOUBLE", "VORBIS", "OPUS")
    wide = is_float and subtype != "DOUBLE" and y.dtype == np.float64  # may hold what float32 cannot
    peak = float(np.max(np.abs(y))) if y.size and (wide or not is_float) else 0.0
    if wide and peak > float(np.finfo(np.float32).max):  # stored as float32: inf
        raise ParameterError(f"y peaks at {peak:.3g}, beyond float32's range, which {subtype} stores: "
                             "use subtype='DOUBLE' or lower the level")
    if not is_float and peak > 1.0:
        warnings.warn(f"saving to {where!r} as {subtype} clips samples outside [-1, 1] (peak {peak:.3g}); "
                      f"{_unclipped_advice(fmt, peak)}", NoisegenWarning, stacklevel=user_stacklevel())
        frames = np.clip(frames, -1.0, 1.0)
    return frames, n_channels, fmt, subtype


def _unclipped_advice(fmt, peak) -> str:
    """How to keep samples beyond full scale in a ``fmt`` file: a FLAC or MP3 file has no FLOAT
    subtype to suggest (``subtype='FLOAT'`` there is refused), and a peak past float32's range
    needs DOUBLE (FLOAT, advised, was then refused as "beyond float32's range")."""
    wide = "DOUBLE" if peak > float(np.finfo(np.float32).max) else "FLOAT"
    if wide in _soundfile().available_subtypes(fmt):
        return f"use subtype='{wide}' or lower the level"
    kind = "64-bit float" if wide == "DOUBLE" else "float"
    return f"{fmt} files hold no {kind} samples: lower the level, or save a .wav file with subtype='{wide}'"


def _encoded(frames, sample_rate, n_channels, fmt, subtype):
    """The file's bytes (a buffer): 16-bit WAV from float frames directly (the header and samples
    libsndfile writes, byte for byte, at a quarter of the time), anything else through libsndfile
    (its seeks and small writes cost more on a file object than in memory)."""
    if fmt == "WAV" and subtype == "PCM_16" and frames.dtype.kind == "f" and frames.size < 1 << 30:
        return pcm16_wav(frames, sample_rate)
    buf = io.BytesIO()
    write_frames(buf, [frames], sample_rate, n_channels, fmt, subtype)
    return buf.getbuffer()


def write_frames(target, blocks, sample_rate, n_channels, fmt, subtype) -> None:
    """Write ``(n_i, channels)`` (or ``(n_i,)``) frame blocks to ``target`` (a file object or path).

    The caller has checked the layout with :func:`.formats.check_writable`; a combination libsndfile
    still refuses on opening (another libsndfile version) raises a :class:`~noisegen.ParameterError`.
    """
    sf = _soundfile()
    pcm16 = fmt == "WAV" and subtype == "PCM_16"  # libsndfile's rounding there is to_pcm16's (not FLAC's)
    try:
        f = sf.SoundFile(target, "w", samplerate=sample_rate, channels=n_channels, subtype=subtype, format=fmt)
    except sf.LibsndfileError as exc:
        if exc.code == _SF_ERR_SYSTEM:  # the target's own I/O (a full disk, say): not the layout
            raise
        raise ParameterError(f"libsndfile cannot write {n_channels} channel(s) at {sample_rate} Hz as "
                             f"{fmt} ({subtype}): {exc.error_string}") from None
    n = 0
    with f:
        if subtype in ("FLOAT", "DOUBLE"):
            # Must be sent before any audio is written; the PEAK chunk's time stamp
            # would make two saves of the same audio differ.
            sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        if subtype == "VORBIS":  # its encoder's blocks follow the writes: save's writes, whatever the blocks
            blocks = _regrouped(blocks, _WRITE_FRAMES)
        for frames in blocks:
            frames = np.ascontiguousarray(frames)
            for a in range(0, max(frames.shape[0], 1), _WRITE_FRAMES):  # (libsndfile's Vorbis encoder
                part = frames[a:a + _WRITE_FRAMES]  # crashes the process on ~2 M frames in one write)
                f.write(_pcm16(part) if pcm16 and part.dtype.kind == "f" else part)
            n += frames.shape[0]
        check_frames(fmt, subtype, n, "the number of frames written", n_channels)  # before closing: a broken file
    settle_bytes(target, fmt)  # (an Ogg serial number and an RF64 PEAK time stamp: from the clock)
    if subtype not in _WHOLE_FRAMES:
        _check_read_back(sf, target, fmt, subtype, n)


#: Frames handed to libsndfile in one write.
_WRITE_FRAMES = 1 << 16


def _regrouped(blocks, size):
    """The frames of ``blocks`` as arrays of ``size`` frames (the last shorter; an empty one for no frames)."""
    pending, held, empty, given = [], 0, None, False
    for frames in blocks:
        frames = np.asarray(frames)
        empty = frames[:0]
        while frames.shape[0]:
            take = min(size - held, frames.shape[0])
            pending.append(frames[:take])
            held, frames = held + take, frames[take:]
            if held == size:
                yield np.concatenate(pending)
                pending, held, given = [], 0, True
    if pending or (empty is not None and not given):  # (no empty write after whole ones)
        yield np.concatenate(pending) if pending else empty
#: Subtypes whose files hold any number of frames exactly (no codec blocks, no pad byte read as a frame).
_WHOLE_FRAMES = frozenset(("PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"))


def _check_read_back(sf, target, fmt, subtype, n) -> None:
    """Refuse a file just written that libsndfile reads back with another length: a codec that
    stores whole blocks pads the last (GSM 6.10, the ADPCMs, G.72x), and an odd count of 8-bit or
    companded AIFF samples gains the pad byte as a frame."""
    if hasattr(target, "seek"):
        target.seek(0)
    try:
        got = sf.info(target if hasattr(target, "seek") else os.fsencode(target)).frames
    except (sf.LibsndfileError, RuntimeError):
        return  # not one libsndfile reads back at all: the caller's formats check its own
    if got != n:
        raise ParameterError(
            f"{n} frame(s) cannot be saved exactly as {fmt} ({subtype}): libsndfile reads the file back as "
            f"{got} frames (the codec stores whole blocks, or the format pads the data); save a length "
            "it keeps, or use another subtype such as PCM_16")


def _pcm16(frames):
    """Float frames as the int16 samples libsndfile would make of them (:mod:`.._kernels.cpu.pcm`)."""
    out = np.empty(frames.shape, np.int16)
    to_pcm16(frames.reshape(-1), out.reshape(-1))
    return out


def encode(y, *, sample_rate, format, subtype=None) -> bytes:
    """The bytes :func:`save` would write for ``y`` to a ``.<format>`` file (for archives such as tar shards).

    Examples
    --------
    >>> import noisegen, soundfile as sf, io
    >>> data = encode(noisegen.white_noise(160, rng=0) * 0.1, sample_rate=16000, format="flac")
    >>> data[:4], sf.info(io.BytesIO(data)).frames
    (b'fLaC', 160)
    """
    sample_rate = check_sample_rate(sample_rate)
    expected = "an extension that save writes, such as 'wav' or 'flac'"
    if not isinstance(format, str) or not format.isalnum():  # ("x/y.wav" was read as .wav)
        raise ParameterError(f"format must be {expected}, got {format!r}")
    try:
        fmt = format_of(f"audio.{format}")
    except ParameterError as exc:  # (its words are of a path 'audio.<format>', which the caller never gave)
        why = str(exc).partition(": ")[2].rpartition(", got ")[0] if "not written" in str(exc) else ""
        raise ParameterError(f"format must be {expected}, got {format!r}" + (f": {why}" if why else "")) from None
    subtype = check_subtype(fmt, subtype, f"audio.{format}")  # (format="opus": Ogg Opus)
    frames, n_channels, fmt, subtype = _frames(y, fmt, subtype, sample_rate, f"a .{format} member")
    return bytes(_encoded(frames, sample_rate, n_channels, fmt, subtype))
