"""FLAC files (8, 16 or 24-bit) decoded by a Numba kernel, to libsndfile's samples.

Speech corpora ship as FLAC (LibriSpeech, and most lossless archives), and
libsndfile's FLAC path (libFLAC's callbacks, then libsndfile's copy and
conversion) decodes ~75 M samples/s here; the kernel
(:mod:`noisegen._kernels.cpu.flac`) decodes and scales in one pass.
:meth:`FlacFile.open` parses the STREAMINFO block; :meth:`FlacFile.read`
decodes the frames up to the last one asked for and gives the samples
libsndfile gives, bit for bit (``tests/test_flac.py`` compares them over
bit depths, channel counts, block sizes and compression levels).

Anything else gives None and the caller asks libsndfile: a file not
starting with ``fLaC`` (an ID3 tag first, Ogg FLAC), a second STREAMINFO block, a depth other than 8,
16 or 24 bits, a length unknown and no frame header at the end, a segment starting beyond its own length
(libsndfile seeks instead of decoding from the start), and every frame
whose header or CRC does not check out, so a damaged file reads exactly as
libsndfile reads it. libsndfile refuses a whole file cut short (an
interrupted copy or download: its last frame fails, with no frame header
after it); :meth:`FlacFile.read` then keeps the frames before that last one
(:attr:`FlacFile.salvaged`), which the readers give, with a warning, when
libsndfile refuses the file, as a cut-short WAV file reads;
:attr:`FlacFile.shortfall` says how many frames STREAMINFO promised beyond. A STREAMINFO that claims more samples than the file's
bytes can hold (every frame at its smallest and fullest) is an error, raised
before anything is allocated for them. A STREAMINFO that gives no count
(0, "unknown": a stream encoded to a pipe) takes it from the last frame's
header (libsndfile reads such a stream's last frames as an error, and
reports 2**63 - 1 frames); one cut short in its last frame reads as a cut-short
file does, here, with the warning.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from .._core.errors import NoisegenError
from .._kernels.cpu.flac import FAILED, PADDING, decode_frames, frame_header, last_frame, next_frame
from .claims import WHOLE_READ_SAMPLES, check_claimed_length
from .native import NativeFile

__all__ = ["FlacFile", "is_flac_name", "unknown_length_end"]

_STREAMINFO = 0
_DEPTHS = (8, 16, 24)
_MAX_BLOCKS = 1024  # metadata blocks looked at before the first frame
#: The fewest bytes a frame takes: a 6-byte header, a byte per subframe, the CRC-16.
_MIN_FRAME_BYTES = 9
#: Above this many bytes of frames, a read that stops early reads only about its share of them
#: (a quarter more, and this many bytes more): a frame cut off fails its CRC, and libsndfile reads.
_PREFIX_FROM = 4 << 20
_PREFIX_SLACK = 1 << 20


def is_flac_name(path) -> bool:
    """Whether ``path`` (a str or path, not a file object) names a ``.flac`` file."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith(".flac")


def unknown_length_end(path) -> int | None:
    """The first sample of the last frame of a FLAC stream of unknown length (STREAMINFO's count 0: ffmpeg's
    or flac's output to a pipe) whose last frame decodes, else None. libsndfile reads such a stream up to
    that frame, never to its end ('Internal psf_fseek() failed'), so the blocks take its last frame from
    :meth:`FlacFile.read_last` (:class:`~noisegen.audio.blocks.FileBlocks` took the file for one cut short,
    and read it whole: 2 GB for 60 minutes at 16 kHz where its twin with a count took 220 MB; so did
    :func:`noisegen.info`)."""
    try:
        native = FlacFile.open(path)
        if native is None:
            return None
        with native:
            if not native.counted:
                return None
            first, _, whole, _, _ = native.last_frame()
            return first if whole and native.read_last(first, np.float32) is not None else None
    except (OSError, ValueError, NoisegenError):  # (a damaged file: left to the checks of libsndfile's reads)
        return None


class FlacFile(NativeFile):
    """An open FLAC file: its layout from STREAMINFO, frames decoded on demand.

    Use as a context manager; :meth:`open` returns None for a file left to
    libsndfile, and :meth:`read` returns None for frames it leaves to it.
    """

    MAGIC = b"fLaC"
    shortfall = 0  # frames STREAMINFO promises past a cut-short file's last whole frame (set by read)
    shortfall_unit = "frames"
    salvaged = None  # a cut-short file's frames before its last: (frames, channels), set by read
    left_read = None  # (start, n, dtype, mono) of a read left to libsndfile for its cost, set by read

    def __init__(self, fh, size, layout):
        super().__init__(fh)
        self._size = size
        self._first, self.channels, self.samplerate, self.bps, self.max_block, self.frames = layout
        # _first: the byte offset of the first frame
        self.counted = self.frames == 0  # STREAMINFO's "unknown" (a stream encoded to a pipe): the last
        if self.counted:  # frame's end (nothing is left to libsndfile then, which reads no such stream whole)
            self.frames = self._frames_to_end()
        check_claimed_length(self.name or "the FLAC data", self.frames, self.channels, size,
                             most=-(-(size - self._first) // _MIN_FRAME_BYTES) * self.max_block)

    @staticmethod
    def _layout(fh, size):
        return _layout(fh, size)

    def read(self, start: int, n: int, dtype, mono: bool = False, cheap: bool = True) -> np.ndarray | None:
        """Frames ``start .. start + n`` (clipped to the file) as ``(frames, channels)`` of ``dtype``,
        or None: frames this reader leaves to libsndfile. ``mono``: two channels come as their
        mean, ``(frames, 1)``, the samples :func:`~noisegen.audio.io.mix_down` gives (other counts
        as they are: the caller mixes them). ``cheap``: leave a segment far from the first frame
        to libsndfile's seek, and read a long file's share of bytes only (a read left for its cost:
        :attr:`left_read`); False: decode from the first frame, every byte there (a file libsndfile
        refused)."""
        n = max(0, min(n, self.frames - start))
        rows = 1 if mono and self.channels == 2 else self.channels
        if n == 0:
            return np.empty((0, rows), dtype)
        cheap = cheap and not self.counted
        if start > n and cheap:  # decoding from the first frame would cost more than libsndfile's seek
            self.left_read = start, n, dtype, mono
            return None
        # a large claim is checked against the frames there before memory is given to it: against the last
        # frame's header, or (a count taken from that header) the frame headers there, of max_block at most
        reach = self.frames
        if rows * n > WHOLE_READ_SAMPLES:
            reach = self._headers() * self.max_block if self.counted else self._reach()
        short = reach < start + n  # frames claimed past the frames there: cut short, or a lie
        if short:
            if reach <= start:
                return None
            n, cheap = reach - start, False
        out = np.empty((rows, n), dtype)
        buf, size = self._frame_bytes(start + n if cheap else self.frames)
        reached = np.zeros(2, np.int64)
        got = decode_frames(buf, size, self.samplerate, self.bps, self.channels, self.max_block, self.frames, start,
                            out, reached)
        if got != FAILED and short:  # every frame there: kept for when libsndfile refuses the file
            self.salvaged, self.shortfall = out.T, self.frames - reach
            return self.salvaged if self.counted else None
        if got != FAILED:
            return out.T
        good, at = int(reached[0]), int(reached[1])
        if size < self._size - self._first:  # (the share fell short, or a frame failed in it)
            self.left_read = start, n, dtype, mono
        elif good > start and not self._later_frame(buf, size, at):
            # cut short (or damaged) in its last frame: kept for when libsndfile refuses the file
            self.salvaged, self.shortfall = out[:, :good - start].T, self.frames - good
            if self.counted:  # (libsndfile reads no stream of unknown length to its end)
                return self.salvaged
        return None

    def _frames_to_end(self) -> int:
        """The frames of a stream whose STREAMINFO gives no count: where its last frame ends, from
        that frame's header (the one whose CRC-16 holds to the file's end, else the last one: a
        frame cut short, whose frames :meth:`read` then finds missing) and the first frame's block
        size. Raises ValueError (the file is libsndfile's to refuse) without a header there."""
        first, bs, _ = self.last_frame()[:3]
        return first + bs

    def last_frame(self):
        """``(first sample, block size, whole, byte, index)`` of a stream's last frame (as
        :meth:`_frames_to_end` finds it; ``whole``: its CRC-16 holds to the file's end, ``byte``: its
        offset in the file). Raises ValueError without a header there."""
        length = self._size - self._first
        self._fh.seek(self._first)
        # 32 bytes, zeros past the end: the header scans below take 32 (with a stream of fewer, they read
        # beyond the array, unchecked)
        head = np.frombuffer(self._fh.read(32).ljust(32, b"\0") + bytes(PADDING), np.uint8)
        strategy = int(head[1] & 1)
        tail = min(length, self.max_block * self.channels * 4 + 4096)  # more than the largest frame
        buf = np.zeros(tail + PADDING, np.uint8)
        self._fh.seek(self._size - tail)
        size = self._fh.readinto(memoryview(buf)[:tail])
        number, bs, whole, at = last_frame(buf, size, self.samplerate, self.bps, self.channels, strategy)
        first = next_frame(head, -1, 32, self.samplerate, self.bps, self.channels, strategy)
        if number < 0 or first != 0:
            raise ValueError("a FLAC stream of unknown length with no frame header at its end")
        byte = self._size - tail + at
        if strategy:  # variable block sizes: the number is the frame's first sample
            return number, bs, whole, byte, number
        return number * int(frame_header(head, 0, 32, self.samplerate, self.bps, self.channels, 0, 0)[0]), bs, whole, \
            byte, number

    def read_last(self, start: int, dtype) -> np.ndarray | None:
        """Frames ``start`` to the end, all in the last frame, as ``(frames, channels)`` of ``dtype``, decoded
        from that frame's bytes alone (libsndfile reads no stream of unknown length to its end, and
        :meth:`read` decodes from the first frame); None where that frame fails to decode."""
        first, bs, _, byte, number = self.last_frame()
        n = max(0, first + bs - start)
        buf = np.zeros(self._size - byte + PADDING, np.uint8)
        self._fh.seek(byte)
        size = self._fh.readinto(memoryview(buf)[:self._size - byte])
        out = np.empty((self.channels, n), dtype)
        got = decode_frames(buf, size, self.samplerate, self.bps, self.channels, self.max_block, first + bs, start,
                            out, np.zeros(2, np.int64), first, number)
        return None if got == FAILED else out.T

    def _headers(self) -> int:
        """The frame headers of this stream that check out in the file: at most that many frames of
        ``max_block`` samples are there."""
        buf, size = self._frame_bytes(self.frames)
        strategy = int(buf[1] & 1)
        count, at = 0, next_frame(buf, -1, size, self.samplerate, self.bps, self.channels, strategy)
        while at != FAILED:
            count += 1
            at = next_frame(buf, at, size, self.samplerate, self.bps, self.channels, strategy)
        return count

    def _reach(self) -> int:
        """The frames before the end of the last frame, by its header (:meth:`_frames_to_end`; 0 without one)."""
        try:
            return self._frames_to_end()
        except ValueError:
            return 0

    def _later_frame(self, buf, size, at) -> bool:
        """Whether a frame header of this stream follows byte ``at`` (where a frame failed)."""
        strategy = int(buf[1] & 1)
        return next_frame(buf, at, size, self.samplerate, self.bps, self.channels, strategy) != FAILED

    def _frame_bytes(self, stop: int):
        """``(buffer, size)``: the file's bytes from the first frame, enough of them to hold frame
        ``stop - 1`` (``size`` of them, then :data:`PADDING` zeros)."""
        length = self._size - self._first
        if length > _PREFIX_FROM and stop < self.frames:  # frames of similar size: a little over the share
            length = min(length, int(length * stop / self.frames * 1.25) + _PREFIX_SLACK)
        buf = np.empty(length + PADDING, np.uint8)
        self._fh.seek(self._first)
        size = self._fh.readinto(memoryview(buf)[:length])
        buf[size:] = 0
        return buf, size


def _layout(fh, size):
    """``(first frame offset, channels, rate, bits, max block size, frames)`` from the metadata
    blocks of a ``size``-byte file, or None."""
    if fh.read(4) != b"fLaC":
        return None
    info = None
    at = 4
    for _ in range(_MAX_BLOCKS):
        head = fh.read(4)
        if len(head) < 4:
            return None
        kind, length = head[0] & 0x7F, int.from_bytes(head[1:], "big")
        if info is None:
            if kind != _STREAMINFO or length != 34:
                return None
            info = _streaminfo(fh.read(34))
            if info is None:
                return None
        elif kind in (_STREAMINFO, 127):  # a second STREAMINFO (libsndfile takes its rate and length), or invalid
            return None
        at += 4 + length
        if at > size:
            return None
        if head[0] & 0x80:
            return at, *info
        fh.seek(at)
    return None


def _streaminfo(block: bytes):
    """``(channels, rate, bits, max block size, frames)`` of a STREAMINFO block this reader takes, or None."""
    min_block, max_block = struct.unpack(">HH", block[:4])
    packed = int.from_bytes(block[10:18], "big")
    rate = packed >> 44
    channels = ((packed >> 41) & 7) + 1
    bps = ((packed >> 36) & 31) + 1
    frames = packed & ((1 << 36) - 1)
    if rate == 0 or bps not in _DEPTHS or max_block < 16 or min_block > max_block:  # (frames 0: unknown)
        return None
    return channels, rate, bps, max_block, frames
