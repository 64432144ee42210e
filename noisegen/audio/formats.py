"""The file formats :func:`noisegen.save` writes, and what each can hold.

The format follows the file name's extension and the subtype defaults to the
format's own; :func:`check_writable` then refuses, with a
:class:`~noisegen.ParameterError` naming the format and its limit, the
channel counts, sample rates and lengths that libsndfile refuses to write,
crashes on, or writes as a file nothing can read back. The limits were
measured with libsndfile 1.2.2 (python-soundfile 0.14's) over every format
and subtype it offers, 1-1025 channels, 1 Hz-768 kHz and 0-5000 frames; the
channel rules are its ``sf_format_check``:

- every format: at most 1024 channels (``SF_MAX_CHANNELS``); libsndfile
  opens no more (noisegen's own WAV reader does: a wider WAV loads), so the
  16-bit WAV that noisegen writes itself keeps to it too;
- FLAC: at most 8 channels; up to 65,535 Hz any rate, above it multiples of
  10 Hz up to 655,350 Hz (what a frame header can say: libFLAC refuses the
  others on the first write); at least one frame (an empty FLAC is written
  as zero bytes);
- Ogg Vorbis: at most 255 channels (its header holds the count in a byte)
  and 200,000 Hz (libvorbis has no encoder setup above); past either,
  libsndfile crashes the process (SIGSEGV) when the file is closed. Ogg
  Opus: at most 255 channels, at 8, 12, 16, 24 or 48 kHz, and at least one
  frame;
- MP3: at most 2 channels, at the nine MPEG rates, and at least one frame;
  libsndfile writes MPEG layer III only;
- one channel for GSM 6.10, G.721/G.723, NMS ADPCM, DWVW and VOX ADPCM, two
  for IMA and MS ADPCM, eight for ALAC (one for ALAC_20 and ALAC_24, see
  below), and the formats' own: AVR, VOC and MPC2K 2, IRCAM 256, SVX, XI,
  HTK, SDS and WVE 1;
- SVX and MPC2K: at most 65,535 Hz (a 16-bit header field: 65,536 Hz is
  written as a file libsndfile cannot open, higher rates wrap);
- 8-bit PVF: at least 10 Hz (below, libsndfile reads one frame fewer back);
- rates a header holds only rounded are refused, with the rate the file would
  read back at: HTK (a sample period in 100 ns: 22,050 Hz reads back as
  22,075 Hz), 8-bit VOC (a time-constant byte: 22,050 Hz reads back as
  22,222 Hz), XI (44,100 Hz only) and WVE (8,000 Hz only); the rate is
  probed once, by writing one frame to memory;
- float AIFF (FLOAT, DOUBLE), which noisegen writes without the PEAK chunk:
  at least the frames of that chunk's ``16 + 8 n_channels`` bytes (6 mono
  FLOAT frames): a shorter file is read back with frames never written;
- AIFF's DWVW_16 and DWVW_24 and PAF's PCM_24 are not written: libsndfile
  cannot read the first two back, and reads the third back short (4,096
  of 4,097 frames); SDS is not written at all: libsndfile reads its files
  back with other sample values;
- CAF's ALAC_32, and ALAC_20 and ALAC_24 beyond one channel, are not
  written: libsndfile's ALAC encoder stores a frame it cannot compress (loud
  noise) as raw samples, and writes those of these layouts wrongly (20-bit
  pairs cut to 16 bits, say): the file reads back as other audio, up to
  full-scale garbage, where a quiet or tonal signal reads back exactly;
- the block codecs (GSM 6.10, IMA, MS and NMS ADPCM, G.721/G.723) and
  8-bit, A-law and µ-law AIFF and VOC pad the length to a whole block (or
  an even byte count): such a file reads back longer, its last samples
  the codec's silence. Nothing written is lost;
- a ``.opus`` name gets Ogg Opus (the Ogg default subtype is Vorbis);
- RAW (headerless) is not written: nothing reads it back without being told its layout;
- SD2 is not written at all: libsndfile keeps its resource fork in a file
  ``._NAME`` beside it, which a write through memory puts in the working
  folder as ``._`` (where it then breaks libsndfile's detection of in-memory
  MP3s), leaving the ``.sd2`` file unreadable.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache

import numpy as np

from .._core.errors import ParameterError

__all__ = ["MAX_CHANNELS", "format_of", "check_subtype", "check_writable", "check_frames"]

#: libsndfile's ``SF_MAX_CHANNELS``: no format it writes or reads holds more channels.
MAX_CHANNELS = 1024

#: Most channels of a format, whatever its subtype.
_FORMAT_CHANNELS = {"FLAC": 8, "OGG": 255, "MP3": 2, "IRCAM": 256, "AVR": 2, "VOC": 2, "MPC2K": 2,
                    "SVX": 1, "XI": 1, "HTK": 1, "SDS": 1, "WVE": 1}
#: Most channels of a subtype, in any format.
_SUBTYPE_CHANNELS = {"GSM610": 1, "G721_32": 1, "G723_24": 1, "G723_40": 1, "NMS_ADPCM_16": 1, "NMS_ADPCM_24": 1,
                     "NMS_ADPCM_32": 1, "DWVW_12": 1, "DWVW_16": 1, "DWVW_24": 1, "VOX_ADPCM": 1,
                     "IMA_ADPCM": 2, "MS_ADPCM": 2, "ALAC_16": 8, "ALAC_20": 1, "ALAC_24": 1}
#: Why a subtype holds fewer channels than its codec could, said with the refusal.
_CHANNELS_WHY = dict.fromkeys(("ALAC_20", "ALAC_24"), " (libsndfile's ALAC encoder writes loud multichannel audio "
                              "at this depth wrongly; use ALAC_16, or FLAC for up to 24 bits)")

_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

#: Sample rates per ``(format, subtype)`` (None: any subtype): ``(allowed(rate), what is expected)``.
_RATES = {
    ("FLAC", None): (lambda r: r <= 65_535 or (r <= 655_350 and r % 10 == 0),
                     "at most 65535 Hz, or a multiple of 10 Hz up to 655350 Hz,"),
    ("OGG", "VORBIS"): (lambda r: r <= 200_000, "at most 200000 Hz"),
    ("OGG", "OPUS"): (lambda r: r in _OPUS_RATES, f"one of {', '.join(map(str, _OPUS_RATES))} Hz"),
    ("MP3", None): (lambda r: r in _MP3_RATES, f"one of {', '.join(map(str, _MP3_RATES))} Hz"),
    ("SVX", None): (lambda r: r <= 65_535, "at most 65535 Hz"),
    ("MPC2K", None): (lambda r: r <= 65_535, "at most 65535 Hz"),
    # a one-digit rate in the text header: libsndfile reads one frame fewer back
    ("PVF", "PCM_S8"): (lambda r: r >= 10, "at least 10 Hz"),
}
#: Formats (and subtypes) libsndfile writes as an empty or unreadable file when given no frames.
_NEEDS_FRAMES = {("FLAC", None), ("MP3", None), ("OGG", "OPUS")}
#: Formats whose sizes are 32-bit fields (RIFF, AIFF's FORM), and the bytes a sample of a subtype takes
#: there: beyond 4 GiB libsndfile writes a header that reads back short, without an error.
_SIZE_LIMITED = ("WAV", "WAVEX", "AIFF")
_SAMPLE_BYTES = {"PCM_S8": 1, "PCM_U8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
                 "FLOAT": 4, "DOUBLE": 8}
#: Largest audio data (bytes) written to one of those formats, a header's room short of 4 GiB.
MAX_RIFF_BYTES = (1 << 32) - (1 << 12)
#: Subtypes libsndfile lists for a format but refuses to write there.
_UNWRITABLE = {("MP3", "MPEG_LAYER_I"), ("MP3", "MPEG_LAYER_II"), ("WAV", "MPEG_LAYER_III"), ("AIFF", "DWVW_12"),
               ("AIFF", "DWVW_16"), ("AIFF", "DWVW_24"), ("PAF", "PCM_24"),  # (these three: unreadable, short)
               ("CAF", "ALAC_32")}  # (an incompressible frame reads back as other samples)
#: Formats (and subtypes) whose header holds the sample rate rounded, or one rate only.
_ROUNDED_RATES = {("HTK", None), ("XI", None), ("WVE", None), ("VOC", "PCM_U8")}

#: Extensions of a format named otherwise (every name the folder scan reads is written).
_ALIASES = {"AIF": "AIFF", "AIFC": "AIFF", "WAVE": "WAV", "SND": "AU", "OGA": "OGG", "OPUS": "OGG"}
#: Extensions that name the subtype as well as the format.
_EXTENSION_SUBTYPES = {"OPUS": "OPUS"}
#: Formats libsndfile lists that noisegen does not write, and why.
_UNWRITABLE_FORMATS = {"SD2": "libsndfile keeps an SD2 file's resource fork in a second file beside it",
                       "RAW": "a headerless file records no sample rate, channel count or sample format, "
                              "so nothing reads it back",
                       "SDS": "libsndfile reads its SDS files back with other sample values than were written"}


def _soundfile():
    import soundfile

    return soundfile


@lru_cache(maxsize=1)
def _formats() -> dict:
    return _soundfile().available_formats()  # ~40 us a call; what libsndfile can write does not change


def format_of(path: str) -> str:
    """The libsndfile format (``"WAV"``, ``"FLAC"``, ``"OGG"``, ...) to write a file named ``path`` in."""
    ext = os.path.splitext(path)[1].lstrip(".").upper()
    fmt = _ALIASES.get(ext, ext)
    if fmt not in _formats():
        known = ", ".join("." + k.lower() for k in ("wav", "flac", "ogg", "aiff", "w64", "rf64"))
        raise ParameterError(f"path must end in a known audio extension ({known}, ...), got {path!r}")
    if fmt in _UNWRITABLE_FORMATS:
        raise ParameterError(f"path must not end in .{ext.lower()}: {fmt} files are not written "
                             f"({_UNWRITABLE_FORMATS[fmt]}), got {path!r}")
    return fmt


def check_subtype(fmt: str, subtype, path: str | None = None) -> str:
    """``subtype`` (None: the format's default, or the one ``path``'s extension names: a
    ``.opus`` file is Ogg Opus, not the Ogg default Vorbis) checked against ``fmt``, upper-case."""
    sf = _soundfile()
    named = _EXTENSION_SUBTYPES.get(os.path.splitext(path)[1].lstrip(".").upper()) if path else None
    if subtype is None:
        return named or sf.default_subtype(fmt)
    name = subtype.upper() if isinstance(subtype, str) else None
    if name is None or not sf.check_format(fmt, name) or (fmt, name) in _UNWRITABLE:
        options = ", ".join(sorted(s for s in sf.available_subtypes(fmt) if (fmt, s) not in _UNWRITABLE))
        raise ParameterError(f"subtype must be one of {options} for {fmt} files, got {subtype!r}")
    if named is not None and name != named:
        raise ParameterError(f"subtype must be {named} for a {os.path.splitext(path)[1]} file, got {subtype!r}")
    return name


def _lookup(table, fmt, subtype):
    return table.get((fmt, subtype), table.get((fmt, None)))


@lru_cache(maxsize=256)
def _stored_rate(fmt: str, subtype: str | None, sample_rate: int, n_channels: int) -> int:
    """The rate a one-frame ``fmt`` file written at ``sample_rate`` reads back at (written to memory;
    the channel count matters: stereo 8-bit VOC rounds otherwise than mono)."""
    sf = _soundfile()
    buf = io.BytesIO()
    sf.write(buf, np.zeros((1, n_channels), np.float32), sample_rate, format=fmt, subtype=subtype)
    buf.seek(0)
    return sf.info(buf).samplerate


def _label(fmt, subtype) -> str:
    return f"{fmt} ({subtype})" if subtype else fmt


def max_channels(fmt: str, subtype: str | None) -> int:
    """The most channels a ``fmt`` file of ``subtype`` holds."""
    return min(_FORMAT_CHANNELS.get(fmt, MAX_CHANNELS), _SUBTYPE_CHANNELS.get(subtype, MAX_CHANNELS), MAX_CHANNELS)


def check_writable(fmt: str, subtype: str | None, *, n_channels: int, sample_rate: int, n_frames=None,
                   channels_name: str = "y's channel count", frames_name: str = "y's length") -> None:
    """Refuse, with a :class:`~noisegen.ParameterError`, what a ``fmt`` file of ``subtype`` cannot hold.

    ``n_channels`` channels at ``sample_rate`` Hz and (when given)
    ``n_frames`` frames; ``channels_name`` and ``frames_name`` name where
    the channel count and the length came from in the message.
    """
    most = max_channels(fmt, subtype)
    if n_channels > most:
        raise ParameterError(f"{channels_name} must be at most {most} for {_label(fmt, subtype)} files, "
                             f"got {n_channels}{_CHANNELS_WHY.get(subtype, '')}")
    rates = _lookup(_RATES, fmt, subtype)
    if rates is not None and not rates[0](sample_rate):
        raise ParameterError(f"sample_rate must be {rates[1]} for {_label(fmt, subtype)} files, got {sample_rate}")
    if (fmt, subtype) in _ROUNDED_RATES or (fmt, None) in _ROUNDED_RATES:
        stored = _stored_rate(fmt, subtype, sample_rate, n_channels)
        if stored != sample_rate:
            raise ParameterError(f"sample_rate must be one a {_label(fmt, subtype)} file's header holds exactly, "
                                 f"got {sample_rate} (the file would read back at {stored} Hz)")
    if n_frames is not None:
        check_frames(fmt, subtype, n_frames, frames_name, n_channels)


def check_frames(fmt: str, subtype: str | None, n_frames: int, name: str = "y's length", n_channels: int = 1) -> None:
    """Refuse more audio than a WAV or AIFF file's 32-bit sizes count, zero frames for a format that
    libsndfile writes as an empty or unreadable file then, and a float AIFF (of ``n_channels``) too
    short: written without its PEAK chunk (noisegen leaves it out: it holds a time stamp), the file
    keeps that chunk's ``16 + 8 n_channels`` bytes, and libsndfile reads every whole frame in them
    back (6 of 1 written, mono FLOAT)."""
    if n_frames < 1 and ((fmt, subtype) in _NEEDS_FRAMES or (fmt, None) in _NEEDS_FRAMES):
        raise ParameterError(f"{name} must be at least 1 frame for {_label(fmt, subtype)} files "
                             f"(libsndfile writes no readable file of 0 frames), got {n_frames}")
    width = _SAMPLE_BYTES.get(subtype or "PCM_16", 0) if fmt in _SIZE_LIMITED else 0
    if n_frames * n_channels * width > MAX_RIFF_BYTES:
        raise ParameterError(f"{name} is too long for {_label(fmt, subtype)} files: {n_frames} frames of "
                             f"{n_channels} channel(s) take {n_frames * n_channels * width} bytes, more than its "
                             f"header can count (4 GiB); write .w64, .rf64 or .flac instead")
    frame = {"FLOAT": 4, "DOUBLE": 8}.get(subtype, 0) * n_channels if fmt == "AIFF" else 0
    fewest = (16 + 8 * n_channels) // frame if frame else 0  # the frames in the space of the PEAK chunk left out
    if n_frames < fewest:
        raise ParameterError(f"{name} must be at least {fewest} frames for {n_channels}-channel "
                             f"{_label(fmt, subtype)} files (libsndfile reads a shorter one back with frames "
                             f"that were never written), got {n_frames}")
