"""Plain PCM and float WAV files read (and 16-bit ones written) with NumPy, as libsndfile does.

Speech corpora are mostly WAV files of a few seconds, where going through
libsndfile (its header parse, soundfile's wrapper, a second open to check
for a cut-short file) costs as much as the samples. For a RIFF/WAVE file of
integer PCM (8, 16, 24 or 32 bits) or IEEE float (32 or 64 bits), plain or
``WAVE_FORMAT_EXTENSIBLE``, :meth:`WavFile.open` parses the header and
:meth:`WavFile.read` converts the frames as libsndfile does, to the same
bits (``tests/test_wav.py`` compares every subtype with soundfile):

- integers are scaled by ``2 ** -(bits - 1)`` (24-bit samples moved into
  the top of an int32 first, 8-bit ones offset by 128), after rounding the
  int32 to float32 for float32 output;
- floats are copied, or rounded from float64 to float32.

Anything else (RF64, big-endian RIFX, compressed or companded WAV, a
container wider than its valid bits, a data size of 0 or "unknown", a chunk
before the samples other than the usual ones (``fact``, ``LIST``, ``PEAK``,
``bext``, ``JUNK``, ``cue ``, ...), a rate of 2**31 or more, a second ``fmt``
chunk, samples starting ``OggS`` or ``wvpk``, and a chunk libsndfile parses by its
contents (``PEAK``, ``LIST``, ``cue ``, ``smpl``, ``acid``) whose contents do not fill
it as libsndfile reads them, before or after the samples) gives None and
the caller asks libsndfile, which reads it or says why not. A ``data`` chunk
that claims more bytes than the file holds is read as far as it goes, as
libsndfile does, and :attr:`WavFile.shortfall` says by how much it was cut
short.

:func:`pcm16_wav` writes the layout noisegen writes most, 16-bit PCM, with
the bytes libsndfile writes.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from .._kernels.cpu.pcm import to_pcm16
from .claims import check_float32_range
from .native import NativeFile

__all__ = ["WavFile", "data_shortfall", "is_wav_name", "pcm16_wav"]

_WAV_SUFFIXES = (".wav", ".wave")
#: The 14 bytes after the format code in the sub-format GUID of WAVE_FORMAT_EXTENSIBLE.
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
#: (format code, bits) -> sample kind.
_KINDS = {(1, 8): "u1", (1, 16): "i2", (1, 24): "i3", (1, 32): "i4", (3, 32): "f4", (3, 64): "f8"}
_MAX_CHUNKS = 64  # chunks looked at before "data"
_FMT_BYTES = 40  # of a fmt chunk's body, all that :func:`_format` reads (WAVE_FORMAT_EXTENSIBLE's 40)
#: Chunks before ``data`` that are skipped, as libsndfile skips them for reading samples.
_SKIPPED = frozenset((b"fact", b"LIST", b"PEAK", b"JUNK", b"junk", b"PAD ", b"bext", b"cue ", b"smpl", b"inst",
                      b"acid", b"iXML", b"cart", b"DISP", b"afsp", b"clm ", b"levl", b"umid"))
#: Chunks libsndfile parses by their contents, anywhere in the file: where those do not fill the chunk as
#: its length says, it refuses the file or reads on from the wrong byte (other frames, or none).
_PARSED = frozenset((b"PEAK", b"LIST", b"cue ", b"smpl", b"acid"))


def is_wav_name(path) -> bool:
    """Whether ``path`` (a str or path, not a file object) names a ``.wav``/``.wave`` file."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith(_WAV_SUFFIXES)


class WavFile(NativeFile):
    """An open plain WAV file: its layout from the header, frames read on demand.

    Use as a context manager; :meth:`open` returns None for a file this
    reader leaves to libsndfile (see the module notes).
    """

    MAGIC = b"RIFF"

    def __init__(self, fh, size, layout):
        super().__init__(fh)
        self.kind, self.channels, self.samplerate, self._data_offset, self.frames, self.shortfall = layout
        # frames: whole frames in the file; shortfall: bytes the data chunk claims beyond its end

    @staticmethod
    def _layout(fh, size):
        return _layout(fh, size)

    def read(self, start: int, n: int, dtype, mono: bool = False) -> np.ndarray:
        """Frames ``start .. start + n`` (clipped to the file) as ``(frames, channels)`` of ``dtype``
        (``mono`` is not used here: every channel comes back, and the caller mixes them)."""
        n = max(0, min(n, self.frames - start))
        width = int(self.kind[1])
        self._fh.seek(self._data_offset + start * self.channels * width)
        raw = self._fh.read(n * self.channels * width)
        n = len(raw) // (self.channels * width)  # the file may have shrunk since the header was read
        raw = raw[: n * self.channels * width]
        if self.kind == "f8" and np.dtype(dtype) == np.float32:
            check_float32_range(np.frombuffer(raw, "<f8"), self.name or "the WAV data")
        return _convert(raw, self.kind, np.dtype(dtype)).reshape(n, self.channels)


def _layout(fh, size):
    """``(kind, channels, rate, data offset, frames, shortfall)`` from the header of a ``size``-byte
    file, or None."""
    if not _riff_wave(fh):
        return None
    fmt = layout = None
    for cid, length in _chunks(fh):
        if cid in _PARSED and not _parsed_whole(fh, cid, length, fmt) or cid == b"fmt " and layout is None and fmt:
            return None  # (libsndfile does not skip a second fmt chunk: it reads its bytes as the next chunk)
        if layout is not None:  # after the samples: a second data chunk is libsndfile's to judge
            if cid == b"data":  # (it reads none of an empty one, and refuses a full one)
                return None
            continue
        if cid not in _SKIPPED and cid not in (b"fmt ", b"data") or (cid == b"fact" and length != 4):
            return None  # a chunk libsndfile may read its own way (or stop at): leave the file to it
        if cid == b"fmt ":
            fmt = _format(fh.read(min(length, _FMT_BYTES)))  # (not its length: a header may claim 4 GiB)
            if fmt is None:
                return None
        elif cid == b"data":
            if fmt is None or length in (0, 0xFFFFFFFF):
                return None
            kind, channels, rate = fmt
            offset = fh.tell()
            if fh.read(4) in (b"OggS", b"wvpk"):  # libsndfile refuses these samples as WavPack data
                return None
            present = min(length, size - offset)
            frame_bytes = channels * int(kind[1])
            layout = kind, channels, rate, offset, present // frame_bytes, max(length - (size - offset), 0)
            if offset + length + (length & 1) + 8 > size:  # no room for another chunk (the usual end)
                return layout
    return layout


def _parsed_whole(fh, cid, length, fmt) -> bool:
    """Whether libsndfile 1.2 (``wav.c``) parses the chunk ``cid`` of ``length`` bytes (``fh`` at its body;
    ``fmt``: the format read so far, or None) to its end and takes the file: a PEAK chunk after the
    format, of 8 bytes and 8 a channel; acid and smpl chunks of their 24 and 36 bytes or more, even (it
    skips an odd one's pad byte twice); cue points within the chunk; LIST subchunks that end at its end
    (or one that runs past it: libsndfile skips to the end then), none of them data."""
    if cid == b"PEAK":
        return fmt is not None and length == 8 + 8 * fmt[1]
    if cid in (b"acid", b"smpl"):
        return length % 2 == 0 and length >= (24 if cid == b"acid" else 36)
    start = fh.tell()
    head = fh.read(4)
    if cid == b"cue ":  # (libsndfile skips more than 2,500 points)
        count = int.from_bytes(head, "little")
        return length >= 4 and (count > 2500 or 4 + 24 * count <= length)
    if length <= 8:  # LIST: libsndfile reads its type and skips the rest
        return length >= 4
    if head not in (b"INFO", b"adtl"):
        return False
    at = 4
    for _ in range(_MAX_CHUNKS * 16):
        if at >= length:
            return True
        fh.seek(start + at)
        sub = fh.read(8)
        size = int.from_bytes(sub[4:], "little")
        if at + (12 if sub[:4] == b"labl" else 8) > length or len(sub) < 8 or size >= 1 << 31 or (
                sub[:4] in (b"data", b"exif", b"INFO", b"adtl")):
            return False  # read past the chunk's end, a size its sums wrap, or a subchunk of its own rules
        at += 8 + size + (size & 1)
    return False


def data_shortfall(fh, size: int) -> int:
    """Bytes the ``data`` chunk of a ``size``-byte RIFF/WAVE file claims beyond its end (0 if none or
    not WAV; sizes 0 and 0xFFFFFFFF, written by streaming encoders, mean "unknown" and are not checked)."""
    if not _riff_wave(fh):
        return 0
    for cid, length in _chunks(fh):
        if cid == b"data":
            return max(length - (size - fh.tell()), 0) if length not in (0, 0xFFFFFFFF) else 0
    return 0


def _riff_wave(fh) -> bool:
    head = fh.read(12)
    return len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE"


def _chunks(fh):
    """``(id, length)`` of the chunks after the RIFF/WAVE header, at most :data:`_MAX_CHUNKS`; ``fh``
    stands at the chunk's body when it is yielded, and at the next chunk (past the pad byte of an
    odd length) when the walk resumes, whatever the caller read."""
    for _ in range(_MAX_CHUNKS):
        chunk = fh.read(8)
        if len(chunk) < 8:
            return
        length = int.from_bytes(chunk[4:], "little")
        body = fh.tell()
        yield chunk[:4], length
        fh.seek(body + length + (length & 1))


def _format(body: bytes):
    """``(kind, channels, rate)`` of a ``fmt`` chunk this reader handles, else None."""
    if len(body) < 16:
        return None
    code, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
    if code == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the real code is in the sub-format GUID
        if len(body) < 40 or body[26:40] != _GUID_TAIL:
            return None
        valid_bits = int.from_bytes(body[18:20], "little")
        code = int.from_bytes(body[24:26], "little")
        if valid_bits not in (0, bits):
            return None
    kind = _KINDS.get((code, bits))
    if kind is None or channels < 1 or not 1 <= rate < 1 << 31 or block_align != channels * (bits // 8):
        return None
    return kind, channels, rate


def _convert(raw: bytes, kind: str, dtype: np.dtype) -> np.ndarray:
    """Samples of ``kind`` as ``dtype``, as libsndfile converts them (the module notes)."""
    if kind == "f4" or kind == "f8":
        return np.frombuffer(raw, "<" + kind).astype(dtype)
    if kind == "u1":
        ints = np.frombuffer(raw, np.uint8).astype(np.int16) - 128
        scale = 2.0**-7
    elif kind == "i2":
        ints = np.frombuffer(raw, "<i2")
        scale = 2.0**-15
    elif kind == "i3":  # into the top three bytes of an int32, as libsndfile reads them
        wide = np.zeros((len(raw) // 3, 4), np.uint8)
        wide[:, 1:] = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        ints = wide.view("<i4").reshape(-1)
        scale = 2.0**-31
    else:
        ints = np.frombuffer(raw, "<i4")
        scale = 2.0**-31
    out = ints.astype(dtype)  # int32 -> float32 rounds to nearest, as libsndfile's (float) cast
    out *= dtype.type(scale)  # a power of two: exact
    return out


def pcm16_wav(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """A 16-bit PCM WAV file of float ``frames`` (``(n,)`` or ``(n, channels)``), as bytes in a uint8
    array: the 44-byte header libsndfile writes for any channel count, then the samples rounded as
    libsndfile rounds them (:func:`~noisegen._kernels.cpu.pcm.to_pcm16`, straight into the buffer)."""
    channels = 1 if frames.ndim == 1 else frames.shape[1]
    size = frames.size * 2
    out = np.empty(44 + size, np.uint8)
    out[:44] = np.frombuffer(b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16) + b"data"
        + struct.pack("<I", size), np.uint8)
    to_pcm16(np.ascontiguousarray(frames).reshape(-1), out[44:].view(np.int16))
    return out
