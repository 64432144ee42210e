"""The three Vorbis I header packets, parsed and checked into the flat tables the Numba decoder reads.

Every index a table holds is checked here (a codebook number below the
number of codebooks, a floor's posts distinct and at most 65, a mapping's
channels below the channel count, ...), so the audio kernels
(:mod:`noisegen._kernels.cpu.vorbis`) may use them unchecked; they check
only what comes from the audio packets themselves. Anything this decoder
does not take (floor type 0, a malformed or unusual header) raises
:class:`VorbisUnsupported`: the caller reads the file with libsndfile.

Codebooks are turned into a 10-bit lookup table (``FAST_BITS``) indexed by
the next bits of the packet (Vorbis packs bits from the least significant
end, so the table is indexed by the bit-reversed codeword), plus, for longer
codewords, a sorted list of left-aligned codewords searched by bisection.
Vector-quantised books (lookup types 1 and 2) are unpacked to a dense
``entries x dim`` float32 table. Codeword assignment follows libvorbis
(``_make_words``): over-full trees are refused, and so are incomplete ones
but for the single-entry book.
"""

from __future__ import annotations

import numpy as np

from .._kernels.cpu._vorbis_books import INCOMPLETE, OVERFULL, fill_fast, huffman_codes, sparse_lengths

__all__ = ["VorbisUnsupported", "Identification", "check_comment", "parse_identification", "parse_setup", "Setup",
           "FAST_BITS"]

FAST_BITS = 10
MAX_POSTS = 65
#: Codebook entries a setup may declare in all (each costs ~70 bytes of tables). Encoders' books
#: hold a few thousand (libvorbis: 6,561 at most, ~12,000 a setup); an "ordered" book declares millions in a few
#: bytes, and 256 such books took 100 GB: a stream past this is left to libsndfile.
MAX_SETUP_ENTRIES = 1 << 20
_FLOOR1_RANGE = (256, 128, 86, 64)


class VorbisUnsupported(ValueError):
    """An Ogg Vorbis stream this decoder does not take (or a damaged one): read it with libsndfile."""


class _Bits:
    """An LSB-first reader over a packet's bytes (Vorbis bit packing); reading past the end raises."""

    def __init__(self, data: bytes, start: int = 0):
        self.data = bytes(data) + b"\0" * 8
        self.array = np.frombuffer(self.data, np.uint8)
        self.bits = 8 * len(data)
        self.pos = 8 * start

    def read(self, n: int) -> int:
        if n == 0:
            return 0
        p = self.pos
        if p + n > self.bits:
            raise VorbisUnsupported("Vorbis header packet ends early")
        self.pos = p + n
        if n <= 56:
            v = int.from_bytes(self.data[p >> 3:(p >> 3) + 8], "little") >> (p & 7)
        else:
            v = int.from_bytes(self.data[p >> 3:(p >> 3) + 9], "little") >> (p & 7)
        return v & ((1 << n) - 1)

    def read_many(self, count: int, n: int) -> np.ndarray:
        """``count`` consecutive ``n``-bit fields (n <= 32) as int64."""
        if count == 0:
            return np.zeros(0, np.int64)
        p = self.pos
        if p + count * n > self.bits:
            raise VorbisUnsupported("Vorbis header packet ends early")
        first, last = p >> 3, (p + count * n + 7) >> 3
        raw = np.unpackbits(np.frombuffer(self.data, np.uint8, last - first, first), bitorder="little")
        bits = raw[(p & 7):(p & 7) + count * n].reshape(count, n).astype(np.int64)
        self.pos = p + count * n
        return bits @ (np.int64(1) << np.arange(n, dtype=np.int64))


def _ilog(v: int) -> int:
    return int(v).bit_length() if v > 0 else 0


def _float32_unpack(x: int) -> float:
    """libvorbis's ``_float32_unpack``: its exponent clamped to +-63, as libvorbis clamps it (a damaged
    setup's exponent of up to 235 was inf here, and its samples NaN, where libvorbis's are finite)."""
    mant, exp = x & 0x1FFFFF, (x & 0x7FE00000) >> 21
    if x & 0x80000000:
        mant = -mant
    return float(np.float32(np.ldexp(float(mant), min(max(exp - 788, -63), 63))))


def _lookup1_values(entries: int, dim: int) -> int:
    r = int(entries ** (1.0 / dim))
    while (r + 1) ** dim <= entries:
        r += 1
    while r > 0 and r ** dim > entries:
        r -= 1
    return r


class Identification:
    __slots__ = ("channels", "rate", "blocksize0", "blocksize1")

    def __init__(self, channels, rate, b0, b1):
        self.channels, self.rate, self.blocksize0, self.blocksize1 = channels, rate, b0, b1


def parse_identification(pkt: bytes) -> Identification:
    if len(pkt) < 30 or pkt[:7] != b"\x01vorbis":
        raise VorbisUnsupported("not a Vorbis identification header")
    b = _Bits(pkt, 7)
    version, channels, rate = b.read(32), b.read(8), b.read(32)
    b.read(32), b.read(32), b.read(32)
    e0, e1 = b.read(4), b.read(4)
    framing = b.read(1)
    # (libsndfile refuses a rate of 2**31 or more, which its int cannot hold: "SF_INFO struct incomplete")
    if version != 0 or channels == 0 or not 1 <= rate < 1 << 31 or not 6 <= e0 <= e1 <= 13 or framing != 1:
        raise VorbisUnsupported("Vorbis identification header out of range")
    return Identification(channels, rate, 1 << e0, 1 << e1)


def check_comment(pkt: bytes) -> None:
    """Raise :class:`VorbisUnsupported` for a comment header libvorbis refuses (as ``_vorbis_unpack_comment``
    reads it: a length of 2**31 or more or past the packet's end, more comments than 4 bytes each
    leave room for, no framing bit after them), where libsndfile then reads no frame of the file."""
    at, end = 7, len(pkt)

    def word():
        nonlocal at
        value = int.from_bytes(pkt[at:at + 4], "little") if at + 4 <= end else -1
        at += 4
        if not 0 <= value < 1 << 31:
            raise VorbisUnsupported("a Vorbis comment header libvorbis refuses")
        return value

    vendor = word()
    if vendor > end - 8:
        raise VorbisUnsupported("a Vorbis comment header libvorbis refuses")
    at += vendor
    count = word()
    if count > (end - at) >> 2:
        raise VorbisUnsupported("a Vorbis comment header libvorbis refuses")
    for _ in range(count):
        length = word()
        if length > end - at:
            raise VorbisUnsupported("a Vorbis comment header libvorbis refuses")
        at += length
    if at >= end or not pkt[at] & 1:
        raise VorbisUnsupported("a Vorbis comment header libvorbis refuses")


def _make_codes(lengths: np.ndarray):
    """libvorbis's codeword assignment: MSB-first codewords for the used entries (length > 0)."""
    codes = np.zeros(len(lengths), np.int64)
    used = huffman_codes(lengths, codes)
    if used == OVERFULL:
        raise VorbisUnsupported("over-full Vorbis codebook")
    if used == INCOMPLETE:
        raise VorbisUnsupported("incomplete Vorbis codebook")
    return codes, used


class _Book:
    __slots__ = ("entries", "dim", "lengths", "codes", "vq")


def _codebook(b: _Bits, room: int) -> _Book:
    """The next codebook, of at most ``room`` entries (else VorbisUnsupported, before any table)."""
    if b.read(24) != 0x564342:
        raise VorbisUnsupported("bad Vorbis codebook sync")
    dim, entries = b.read(16), b.read(24)
    if dim == 0 or entries == 0 or _ilog(dim) + _ilog(entries) > 24:
        raise VorbisUnsupported("Vorbis codebook size out of range")
    if entries > room:
        raise VorbisUnsupported(f"Vorbis codebooks of over {MAX_SETUP_ENTRIES} entries in all")
    ordered = b.read(1)
    if not ordered:
        sparse = b.read(1)
        if sparse:
            lengths = np.zeros(entries, np.int64)
            pos = sparse_lengths(b.array, b.pos, b.bits, lengths)
            if pos < 0:
                raise VorbisUnsupported("Vorbis header packet ends early")
            b.pos = pos
        else:
            lengths = b.read_many(entries, 5) + 1
    else:
        lengths = np.zeros(entries, np.int64)
        current, length = 0, b.read(5) + 1
        while current < entries:
            number = b.read(_ilog(entries - current))
            if current + number > entries or length > 32:
                raise VorbisUnsupported("Vorbis codebook lengths overrun")
            lengths[current:current + number] = length
            current += number
            length += 1
    lookup = b.read(4)
    vq = None
    if lookup in (1, 2):
        minimum, delta = _float32_unpack(b.read(32)), _float32_unpack(b.read(32))
        value_bits, sequence_p = b.read(4) + 1, b.read(1)
        nvals = _lookup1_values(entries, dim) if lookup == 1 else entries * dim
        if nvals == 0 or entries * dim > (1 << 24):
            raise VorbisUnsupported("Vorbis codebook lookup table too large")
        mult = b.read_many(nvals, value_bits).astype(np.float32)
        e = np.arange(entries, dtype=np.int64)
        vq = np.empty((entries, dim), np.float32)
        last = np.zeros(entries, np.float32)
        f_delta, f_min = np.float32(delta), np.float32(minimum)
        divisor = 1
        for i in range(dim):
            off = (e // divisor) % nvals if lookup == 1 else e * dim + i
            val = mult[off] * f_delta + f_min + last
            vq[:, i] = val
            if sequence_p:
                last = val
            divisor *= nvals
    elif lookup != 0:
        raise VorbisUnsupported("Vorbis codebook lookup type out of range")
    book = _Book()
    book.entries, book.dim, book.lengths, book.vq = entries, dim, lengths, vq
    book.codes, used = _make_codes(lengths)
    if used == 0:
        raise VorbisUnsupported("empty Vorbis codebook")
    return book


class Setup:
    """The decoder's tables: flat NumPy arrays, every index in them checked."""

    def tuples(self):
        """``(modes, maps, floors, residues, books)``: the tables in the order the kernel takes them."""
        return ((self.mode_block, self.mode_mapping),
                (self.map_submaps, self.map_mux, self.map_floor, self.map_residue, self.map_coupling,
                 self.map_mag, self.map_ang),
                (self.fl_partitions, self.fl_pclass, self.fl_cdim, self.fl_csub, self.fl_cmaster,
                 self.fl_subbook, self.fl_mult, self.fl_posts, self.fl_x, self.fl_sorted, self.fl_lo,
                 self.fl_hi, self.fl_inv),
                (self.re_type, self.re_begin, self.re_end, self.re_psize, self.re_classes,
                 self.re_classbook, self.re_books, self.re_stages),
                (self.cb_fast, self.cb_long_off, self.cb_long_key, self.cb_long_len, self.cb_long_entry,
                 self.cb_dim, self.cb_vq_off, self.cb_vq))


def _pack_books(books, s: Setup) -> None:
    nb = len(books)
    size = 1 << FAST_BITS
    s.cb_dim = np.array([bk.dim for bk in books], np.int32)
    s.cb_entries = np.array([bk.entries for bk in books], np.int32)
    s.cb_fast = np.empty((nb, size), np.int32)
    long_key, long_len, long_entry, long_off = [], [], [], [0]
    vq_off, vq_parts, at = np.zeros(nb, np.int64), [], 0
    for i, bk in enumerate(books):
        lens = bk.lengths
        used = np.nonzero(lens > 0)[0]
        fill_fast(lens, bk.codes, s.cb_fast[i], FAST_BITS)
        short = lens[used] <= FAST_BITS
        lu = used[~short]
        if len(lu):
            keys = (bk.codes[lu] << (32 - lens[lu])).astype(np.int64)
            order = np.argsort(keys, kind="stable")
            long_key.append(keys[order])
            long_len.append(lens[lu][order])
            long_entry.append(lu[order])
        long_off.append(long_off[-1] + len(lu))
        vq_off[i] = at if bk.vq is not None else -1
        if bk.vq is not None:
            vq_parts.append(bk.vq.ravel())
            at += bk.vq.size
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(1, dt)  # noqa: E731
    s.cb_long_key = cat(long_key, np.int64)
    s.cb_long_len = cat(long_len, np.int32)
    s.cb_long_entry = cat(long_entry, np.int32)
    s.cb_long_off = np.array(long_off, np.int32)
    s.cb_vq_off = vq_off
    s.cb_vq = cat(vq_parts, np.float32)


def _floor1(b: _Bits, nbooks: int, s: Setup, k: int) -> None:
    partitions = b.read(5)
    pclass = [b.read(4) for _ in range(partitions)]
    nclass = max(pclass) + 1 if pclass else 0
    for c in range(nclass):
        s.fl_cdim[k, c] = b.read(3) + 1
        sub = s.fl_csub[k, c] = b.read(2)
        if sub:
            m = s.fl_cmaster[k, c] = b.read(8)
            if m >= nbooks:
                raise VorbisUnsupported("Vorbis floor book out of range")
        for j in range(1 << sub):
            bk = s.fl_subbook[k, c, j] = b.read(8) - 1
            if bk >= nbooks:
                raise VorbisUnsupported("Vorbis floor book out of range")
    s.fl_mult[k] = b.read(2) + 1
    rangebits = b.read(4)
    xs = [0, 1 << rangebits]
    for i in range(partitions):
        s.fl_pclass[k, i] = pclass[i]
        cdim = int(s.fl_cdim[k, pclass[i]])
        if len(xs) + cdim > MAX_POSTS:
            raise VorbisUnsupported("too many Vorbis floor posts")
        xs.extend(b.read(rangebits) for _ in range(cdim))
    if len(set(xs)) != len(xs):
        raise VorbisUnsupported("repeated Vorbis floor post")
    s.fl_partitions[k] = partitions
    n = s.fl_posts[k] = len(xs)
    s.fl_x[k, :n] = xs
    s.fl_sorted[k, :n] = np.argsort(xs, kind="stable")
    for i in range(2, n):
        lo = max((j for j in range(i) if xs[j] < xs[i]), key=lambda j: xs[j])
        hi = min((j for j in range(i) if xs[j] > xs[i]), key=lambda j: xs[j])
        s.fl_lo[k, i], s.fl_hi[k, i] = lo, hi
        s.fl_inv[k, i] = 1.0 / (xs[hi] - xs[lo])


def parse_setup(pkt: bytes, channels: int) -> Setup:
    """The tables of a setup header packet for a ``channels``-channel stream."""
    if pkt[:7] != b"\x05vorbis":
        raise VorbisUnsupported("not a Vorbis setup header")
    b = _Bits(pkt, 7)
    books, declared = [], 0
    for _ in range(b.read(8) + 1):
        books.append(_codebook(b, MAX_SETUP_ENTRIES - declared))
        declared += books[-1].entries
    nb = len(books)
    s = Setup()
    _pack_books(books, s)
    for _ in range(b.read(6) + 1):
        if b.read(16) != 0:
            raise VorbisUnsupported("Vorbis time-domain transform not zero")
    nf = b.read(6) + 1
    s.fl_partitions = np.zeros(nf, np.int32)
    s.fl_pclass = np.zeros((nf, 32), np.int32)
    s.fl_cdim = np.zeros((nf, 16), np.int32)
    s.fl_csub = np.zeros((nf, 16), np.int32)
    s.fl_cmaster = np.zeros((nf, 16), np.int32)
    s.fl_subbook = np.full((nf, 16, 8), -1, np.int32)
    s.fl_mult = np.zeros(nf, np.int32)
    s.fl_posts = np.zeros(nf, np.int32)
    s.fl_x = np.zeros((nf, MAX_POSTS), np.int32)
    s.fl_sorted = np.zeros((nf, MAX_POSTS), np.int32)
    s.fl_lo = np.zeros((nf, MAX_POSTS), np.int32)
    s.fl_hi = np.zeros((nf, MAX_POSTS), np.int32)
    s.fl_inv = np.zeros((nf, MAX_POSTS), np.float64)
    for k in range(nf):
        kind = b.read(16)
        if kind != 1:
            raise VorbisUnsupported(f"Vorbis floor type {kind} (only floor 1 is decoded here)")
        _floor1(b, nb, s, k)
    nr = b.read(6) + 1
    s.re_type = np.zeros(nr, np.int32)
    s.re_begin = np.zeros(nr, np.int64)
    s.re_end = np.zeros(nr, np.int64)
    s.re_psize = np.zeros(nr, np.int64)
    s.re_classes = np.zeros(nr, np.int32)
    s.re_classbook = np.zeros(nr, np.int32)
    s.re_books = np.full((nr, 64, 8), -1, np.int32)
    s.re_stages = np.zeros(nr, np.int32)
    for k in range(nr):
        kind = s.re_type[k] = b.read(16)
        if kind > 2:
            raise VorbisUnsupported("Vorbis residue type out of range")
        s.re_begin[k], s.re_end[k], s.re_psize[k] = b.read(24), b.read(24), b.read(24) + 1
        classes = s.re_classes[k] = b.read(6) + 1
        cb = s.re_classbook[k] = b.read(8)
        if cb >= nb or s.re_end[k] < s.re_begin[k]:
            raise VorbisUnsupported("Vorbis residue out of range")
        partvals, dim = 1, books[cb].dim
        for _ in range(dim):
            partvals *= classes
            if partvals > books[cb].entries:
                raise VorbisUnsupported("Vorbis residue classbook too small")
        cascade = []
        for _ in range(classes):
            low, high = b.read(3), 0
            if b.read(1):
                high = b.read(5)
            cascade.append(high * 8 + low)
        s.re_stages[k] = max(c.bit_length() for c in cascade)
        for c in range(classes):
            for j in range(8):
                if cascade[c] >> j & 1:
                    bk = b.read(8)
                    if bk >= nb or books[bk].vq is None:
                        raise VorbisUnsupported("Vorbis residue book out of range")
                    s.re_books[k, c, j] = bk
    nm = b.read(6) + 1
    s.map_submaps = np.zeros(nm, np.int32)
    s.map_mux = np.zeros((nm, channels), np.int32)
    s.map_floor = np.zeros((nm, 16), np.int32)
    s.map_residue = np.zeros((nm, 16), np.int32)
    s.map_coupling = np.zeros(nm, np.int32)
    s.map_mag = np.zeros((nm, 256), np.int32)
    s.map_ang = np.zeros((nm, 256), np.int32)
    for k in range(nm):
        if b.read(16) != 0:
            raise VorbisUnsupported("Vorbis mapping type out of range")
        submaps = s.map_submaps[k] = b.read(4) + 1 if b.read(1) else 1
        if b.read(1):
            steps = s.map_coupling[k] = b.read(8) + 1
            width = _ilog(channels - 1)
            for i in range(steps):
                mag, ang = b.read(width), b.read(width)
                if mag == ang or mag >= channels or ang >= channels:
                    raise VorbisUnsupported("Vorbis coupling out of range")
                s.map_mag[k, i], s.map_ang[k, i] = mag, ang
        if b.read(2) != 0:
            raise VorbisUnsupported("Vorbis mapping reserved field set")
        if submaps > 1:
            for c in range(channels):
                mux = s.map_mux[k, c] = b.read(4)
                if mux >= submaps:
                    raise VorbisUnsupported("Vorbis mapping mux out of range")
        for i in range(submaps):
            b.read(8)
            fl, re = b.read(8), b.read(8)
            if fl >= nf or re >= nr:
                raise VorbisUnsupported("Vorbis submap out of range")
            s.map_floor[k, i], s.map_residue[k, i] = fl, re
    nmodes = b.read(6) + 1
    s.mode_block = np.zeros(nmodes, np.int32)
    s.mode_mapping = np.zeros(nmodes, np.int32)
    for k in range(nmodes):
        s.mode_block[k] = b.read(1)
        if b.read(16) != 0 or b.read(16) != 0:
            raise VorbisUnsupported("Vorbis mode window/transform type out of range")
        m = s.mode_mapping[k] = b.read(8)
        if m >= nm:
            raise VorbisUnsupported("Vorbis mode mapping out of range")
    if b.read(1) != 1:
        raise VorbisUnsupported("Vorbis setup framing bit unset")
    s.mode_bits = _ilog(nmodes - 1)
    return s
