"""Ogg Vorbis files decoded by Numba kernels, to the samples libsndfile (libvorbis) gives.

:func:`decode_vorbis` takes a file's bytes and returns ``(samples, sample_rate)``
with ``samples`` float32 ``(frames, channels)``, as
``soundfile.read(path, dtype="float32")`` returns them: the same frame count
(libsndfile's: the last page's granule position less the first audio page's
offset) and the same values to float rounding. Anything it does not take
raises :class:`~noisegen.audio.vorbis_setup.VorbisUnsupported`, and the caller
reads the file with libsndfile: floor type 0, chained or multiplexed streams,
any damage (a page whose CRC fails, a gap in the pages, a packet libvorbis
would drop, a last granule position beyond the samples the packets hold),
bytes after the last page.

The setup header (codebooks and all) of a file is parsed in Python; files
from one encoder and setting share it byte for byte, so parsed setups are
kept (:data:`_SETUPS`, keyed by the packet's bytes).
"""

from __future__ import annotations

import numpy as np

from .._kernels.cpu._vorbis_mdct import mdct_tables
from .._kernels.cpu.vorbis import DROPPED, decode_audio, make_scratch
from .._kernels.cpu.vorbis_ogg import BAD, CRC_TABLES, ogg_packets
from .vorbis_setup import VorbisUnsupported, parse_identification, parse_setup

__all__ = ["decode_vorbis", "VorbisUnsupported"]

_SETUPS: dict = {}
_SETUPS_MAX = 64
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
        if len(_SETUPS) >= _SETUPS_MAX:
            _SETUPS.pop(next(iter(_SETUPS)))
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


def decode_vorbis(data) -> tuple[np.ndarray, int]:
    """``(samples (frames, channels) float32, sample_rate)`` of an Ogg Vorbis file's bytes.

    Raises VorbisUnsupported for a file to read with libsndfile instead.
    """
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
    frames = int(granules[granules != -1][-1]) - start
    if frames < 0:
        raise VorbisUnsupported("negative length")
    channels = ident.channels
    cap = min(frames, (count - 3) * (ident.blocksize1 // 2)) + ident.blocksize1
    out = np.empty((channels, cap), np.float32)
    modes, maps, floors, residues, books = setup.tuples()
    blocksizes = np.array(sizes, np.int64)
    n = decode_audio(payload, starts, ends, granules, eos, 3, count, channels, blocksizes, setup.mode_bits,
                     modes, maps, floors, residues, books, _mdct(sizes[0]), _mdct(sizes[1]), SCALE,
                     make_scratch(channels, ident.blocksize1), out,
                     frames)
    if n == DROPPED:
        raise VorbisUnsupported("a Vorbis packet libvorbis drops")
    if n < frames:  # libsndfile's frame count (from the last granule position) is more than the stream holds
        raise VorbisUnsupported("the Vorbis stream ends before its last granule position")
    return out[:, :n].T, ident.rate
