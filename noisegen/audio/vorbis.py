"""Ogg Vorbis files decoded by Numba kernels, to the samples libsndfile (libvorbis) gives.

:func:`decode_vorbis` takes a file's bytes and returns ``(samples, sample_rate)``
with ``samples`` float32 ``(frames, channels)``, as
``soundfile.read(path, dtype="float32")`` returns them: the same frame count
(libsndfile's: the last page's granule position less the first audio page's
offset) and the same values to float rounding. Anything it does not take
raises :class:`~noisegen.audio.vorbis_setup.VorbisUnsupported`, and the caller
reads the file with libsndfile: floor type 0, chained or multiplexed streams,
any damage (a page whose CRC fails, a gap in the pages, a comment header or packet libvorbis
refuses or would drop, a last granule position beyond the samples the packets hold),
bytes after the last page.

The setup header (codebooks and all) of a file is parsed in Python; files
from one encoder and setting share it byte for byte, so parsed setups are
kept (:data:`_SETUPS`, keyed by the packet's bytes).
"""

from __future__ import annotations

import os

import numpy as np

from .._kernels.cpu._vorbis_mdct import mdct_tables
from .._kernels.cpu.vorbis import DROPPED, decode_audio, make_scratch
from .._kernels.cpu.vorbis_ogg import BAD, CRC_TABLES, ogg_packets
from .native import NativeFile
from .vorbis_setup import VorbisUnsupported, check_comment, parse_identification, parse_setup

__all__ = ["decode_vorbis", "VorbisFile", "VorbisUnsupported", "is_vorbis_name"]

_SETUPS: dict = {}
_SETUPS_MAX = 64
#: Files larger than this are left to libsndfile: :class:`VorbisFile` reads and indexes the whole
#: file when it opens it, and long recordings are read in blocks (libsndfile's seek) by the stream
#: and the folder job, so a whole-file open would only add the file's bytes to their memory.
MAX_BYTES = 8 << 20
_MDCT: dict = {}
#: libvorbis's inverse MDCT is this multiple of the unscaled one.
SCALE = np.float32(1.0)


def _mdct(n: int):
    t = _MDCT.get(n)
    if t is None:
        t = _MDCT[n] = mdct_tables(n)
    return t


def _setup(pkt: bytes, channels: int):
    key = (pkt, channels)
    s = _SETUPS.get(key)
    if s is None:
        s = parse_setup(pkt, channels)
        if len(_SETUPS) >= _SETUPS_MAX:  # (the oldest; another thread may have dropped it a moment ago)
            _SETUPS.pop(next(iter(_SETUPS)), None)
        _SETUPS[key] = s
    return s


def _blocksize(pkt: bytes, setup, sizes) -> int:
    """libvorbis's ``vorbis_packet_blocksize``, or -1."""
    if not pkt or pkt[0] & 1:
        return -1
    v = int.from_bytes(pkt[:2], "little") >> 1
    mode = v & ((1 << setup.mode_bits) - 1)
    if len(pkt) * 8 < 1 + setup.mode_bits or mode >= len(setup.mode_block):
        return -1
    return sizes[int(setup.mode_block[mode])]


class _Stream:
    """An Ogg Vorbis file's packets and headers, parsed and checked, ready to decode.

    Whether a file is decoded here depends on the file alone (never on what was read before),
    so a file gives the same samples in every process: a replayed augmentation is byte for byte
    the first one."""

    def __init__(self, data):
        buf = np.frombuffer(data, np.uint8)
        count, payload, starts, ends, granules, eos = ogg_packets(buf, CRC_TABLES)
        if count == BAD or count < 4:
            raise VorbisUnsupported("not a clean single-stream Ogg file")
        packet = lambda i: payload[starts[i]:ends[i]].tobytes()  # noqa: E731
        # the identification header alone on its page, the setup header ending its page
        if granules[0] == -1 or granules[2] == -1:
            raise VorbisUnsupported("Vorbis headers share a page with audio")
        ident = parse_identification(packet(0))
        if not packet(1).startswith(b"\x03vorbis"):
            raise VorbisUnsupported("no Vorbis comment header")
        check_comment(packet(1))  # (one libvorbis refuses: libsndfile reads no frame, and says the header's count)
        setup = _setup(packet(2), ident.channels)
        sizes = (ident.blocksize0, ident.blocksize1)
        # libsndfile's offset: the first audio page's granule less the samples of its packets
        last = 3
        while last < count and granules[last] == -1:
            last += 1
        if last == count or granules.min() < -1:
            raise VorbisUnsupported("no granule position on the first audio page")
        duration, before = 0, -1
        for i in range(3, last + 1):
            this = _blocksize(packet(i), setup, sizes)
            if this >= 0:
                if before != -1:
                    duration += (before + this) >> 2
                before = this
        gp = int(granules[last])
        if eos[last] and gp <= duration:
            start = 0
        elif gp < duration:
            raise VorbisUnsupported("granule position below the first page's samples")
        else:
            start = gp - duration
        self.frames = int(granules[granules != -1][-1]) - start
        if self.frames < 0 or self.frames > (count - 3) * (sizes[1] // 2):
            # (more than the packets can hold: libsndfile's reader says what it says of such a file)
            raise VorbisUnsupported("a last granule position out of reach of the stream's packets")
        self.channels, self.rate, self._sizes, self._setup = ident.channels, ident.rate, sizes, setup
        self._packets = (payload, starts, ends, granules, eos, count)
        self._first_position = last  # the first audio packet with a granule position
        self._offset = start  # the granule position of frame 0

    def decode(self, stop: int) -> np.ndarray:
        """The first ``stop`` (at most :attr:`frames`) frames as float32 ``(frames, channels)``."""
        out = self._packets_decoded(3, self._packets[-1], stop)
        if out.shape[0] < stop:  # libsndfile's frame count (from the last granule position) is more than the stream holds
            raise VorbisUnsupported("the Vorbis stream ends before its last granule position")
        return out

    def _resume(self, start: int) -> tuple[int, int]:
        """``(first, skip)``: decoding from packet ``first`` (after the packet before it, which only
        primes the overlap; 3: from the stream's start) gives frame ``start`` after ``skip`` frames.
        ``first`` follows the last page ending at or before ``start`` (see :meth:`decode_blocks`)."""
        granules, count = self._packets[3], self._packets[-1]
        ends = np.flatnonzero(granules[self._first_position:count - 1] != -1) + self._first_position
        positions = granules[ends] - self._offset  # frames decoded before each page end's next packet
        k = int(np.searchsorted(positions, start, side="right")) - 1
        return (3, start) if k < 0 else (int(ends[k]) + 1, start - int(positions[k]))

    def decode_span(self, start: int, n: int) -> np.ndarray:
        """Frames ``start .. start + n`` (within :attr:`frames`): ``decode(start + n)[start:]``,
        decoded from the page before ``start`` only (:meth:`decode_blocks`' blocks, joined)."""
        blocks = list(self.decode_blocks(n, n, start))
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def decode_blocks(self, stop: int, block_frames: int, start: int = 0):
        """:meth:`decode` as consecutive blocks of about ``block_frames`` frames (or more: whole pages),
        which concatenate to its array bit for bit, in memory of a block; from frame ``start`` on
        (``stop`` frames), decoded from the page before it.

        Each block is a run of packets ending a page, decoded after the packet before it (which
        gives no samples, only the half block the first overlaps): the same arithmetic for every
        packet, and the granule bookkeeping starts from that packet's page's position, which is the
        count so far (the first run holds the first position, and its trimming; :mod:`the kernel
        <noisegen._kernels.cpu.vorbis>` leaves any stream whose positions disagree with its count)."""
        granules, count = self._packets[3], self._packets[-1]
        per = max(1, int(block_frames) // (self._sizes[1] // 2))
        first, skip = self._resume(start)
        done, cut = 0, max(self._first_position + 1, first + per)
        while done < stop and first < count:
            while cut < count and granules[cut - 1] == -1:  # a run ends its page
                cut += 1
            out = self._packets_decoded(first if first == 3 else first - 1, min(cut, count), skip + stop - done)
            out, skip = out[skip:], 0  # (a first run reaches past start: it ends a page after start's)
            done += out.shape[0]
            yield out
            first, cut = cut, cut + per
        if done < stop:
            raise VorbisUnsupported("the Vorbis stream ends before its last granule position")

    def _packets_decoded(self, first: int, last: int, stop: int) -> np.ndarray:
        """The samples of packets ``first .. last`` (the first of a run after the stream's start only
        primes the overlap), at most ``stop``, as float32 ``(frames, channels)``."""
        payload, starts, ends, granules, eos, _ = self._packets
        sizes, channels = self._sizes, self.channels
        cap = min(stop, (last - first) * (sizes[1] // 2)) + sizes[1]
        out = np.empty((channels, cap), np.float32)
        modes, maps, floors, residues, books = self._setup.tuples()
        n = decode_audio(payload, starts, ends, granules, eos, first, last, channels, np.array(sizes, np.int64),
                         self._setup.mode_bits, modes, maps, floors, residues, books, _mdct(sizes[0]),
                         _mdct(sizes[1]), SCALE, make_scratch(channels, sizes[1]), out, stop)
        if n == DROPPED:
            raise VorbisUnsupported("a Vorbis packet libvorbis drops")
        return out[:, :n].T


def decode_vorbis(data) -> tuple[np.ndarray, int]:
    """``(samples (frames, channels) float32, sample_rate)`` of an Ogg Vorbis file's bytes.

    Raises VorbisUnsupported for a file to read with libsndfile instead.
    """
    stream = _Stream(data)
    return stream.decode(stream.frames), stream.rate


def is_vorbis_name(path) -> bool:
    """Whether ``path`` (a str or path, not a file object) names an ``.ogg`` or ``.oga`` file."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).lower().endswith((".ogg", ".oga"))


class VorbisFile(NativeFile):
    """An open Ogg Vorbis file, for :func:`noisegen.load` and the segment readers (as
    :class:`~noisegen.audio.flac.FlacFile`): :meth:`open` gives None for a file left to libsndfile
    (not Vorbis, or anything :class:`_Stream` refuses), :meth:`read` None for frames left to it
    (a packet that fails). A segment is decoded from the page before it: the samples of a whole
    read, where libsndfile 1.2's seek into the last page lands up to a few hundred frames late."""

    MAGIC = b"OggS"
    shortfall = 0
    shortfall_unit = "frames"
    salvaged = None

    def __init__(self, fh, size, layout):
        super().__init__(fh)
        self._stream = layout
        self.channels, self.samplerate, self.frames = layout.channels, layout.rate, layout.frames

    @staticmethod
    def _layout(fh, size):
        if size > MAX_BYTES:
            return None
        return _Stream(fh.read())

    def read(self, start: int, n: int, dtype, mono: bool = False) -> np.ndarray | None:
        """Frames ``start .. start + n`` (clipped to the file) as ``(frames, channels)`` of ``dtype``,
        or None: frames this reader leaves to libsndfile (``mono`` is not used here: every channel
        comes back, and the caller mixes them)."""
        n = max(0, min(n, self.frames - start))
        if n == 0:
            return np.empty((0, self.channels), dtype)
        try:
            out = self._stream.decode(n) if start == 0 else self._stream.decode_span(start, n)
        except VorbisUnsupported:
            return None
        return out if out.dtype == np.dtype(dtype) else out.astype(dtype)
