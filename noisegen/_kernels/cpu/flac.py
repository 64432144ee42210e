"""CPU kernel of FLAC frame decoding (RFC 9639), to the samples libFLAC gives.

:func:`decode_frames` decodes the frames of a FLAC stream from its first
frame, checks every frame header's CRC-8 and every frame's CRC-16 and, as
libFLAC does, the zero bits that pad a frame's last subframe to a byte and
that every sample fits the stream's depth (damage behind good CRCs), checks
that every frame's number follows the one before it, and writes
the samples of ``[start, stop)`` scaled by ``2 ** -(bits - 1)`` (as
libsndfile scales libFLAC's integers) into a float output. It returns a
negative status (:data:`FAILED`), never raises, on anything it does not take
or that is damaged, and the caller hands the file to libsndfile, so a damaged file reads
exactly as libsndfile reads it.

The bit reader peeks a big-endian 64-bit word at any bit position of a
buffer padded with :data:`PADDING` zero bytes; every loop checks its position against
the end of the data before the next peek, so no input reads or writes out
of bounds (kernels run without bounds checks). The Rice decoder's bit buffer
checks only at a partition's end: a code that runs past the data's end is read
from the zero padding, and the next peek there sees no one bit (the long-code
path, which checks) or the partition ends.
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import kernel
from ._bits import _bits, _signed, _zeros, load_be64
from ._flac_residual import _residual, _restored

#: What :func:`decode_frames` returns for a stream it leaves to libsndfile.
FAILED = -1
#: Headers :func:`last_frame` checks a CRC-16 from (each to the end: a file of headers would cost hours).
LAST_HEADERS = 64
#: Zero bytes the caller pads the data with (the bit reader peeks up to 17 bytes past a position it checked).
PADDING = 24


def _crc_tables():
    """CRC-8 (poly 0x07) and CRC-16 (poly 0x8005) byte tables, MSB first, as FLAC uses them; the
    CRC-16 table has 16 rows, row ``r`` for a byte followed by ``r`` zero bytes (slicing by 16),
    as int32 (16 KiB: it stays in L1 beside the decoder's data)."""
    crc8, crc16 = np.zeros(256, np.int64), np.zeros((16, 256), np.int64)
    for b in range(256):
        c8, c16 = b, b << 8
        for _ in range(8):
            c8 = ((c8 << 1) ^ 0x07) & 0xFF if c8 & 0x80 else (c8 << 1) & 0xFF
            c16 = ((c16 << 1) ^ 0x8005) & 0xFFFF if c16 & 0x8000 else (c16 << 1) & 0xFFFF
        crc8[b], crc16[0, b] = c8, c16
    for r in range(1, 16):
        crc16[r] = ((crc16[r - 1] << 8) & 0xFFFF) ^ crc16[0, crc16[r - 1] >> 8]
    return crc8, crc16.astype(np.int32)


CRC8, CRC16 = _crc_tables()
#: Block sizes of the 4-bit code (0: reserved; 6 and 7: read from the header's end).
BLOCK_SIZES = np.array([0, 192, 576, 1152, 2304, 4608, -1, -2, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768],
                       np.int64)
#: Sample rates of the 4-bit code (0: STREAMINFO's; 12-14: read from the header's end; 15: invalid).
SAMPLE_RATES = np.array([0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000,
                         -1, -2, -3, -4], np.int64)
#: Bits per sample of the 3-bit code (0: STREAMINFO's; 3: reserved).
SAMPLE_BITS = np.array([0, 8, 12, -1, 16, 20, 24, 32], np.int64)


@kernel
def _subframe(buf, bp, end, bs, bps, dst, coefs, mirror):
    """One subframe of ``bs`` samples of ``bps`` bits into ``dst[:bs]``; the bit after it, or -1
    (``coefs``: int64 scratch of 32; ``mirror``: float64 scratch of ``bs``)."""
    if bp + 8 > end:
        return -1
    head = _bits(buf, bp, 8)
    bp += 8
    kind = (head >> 1) & 0x3F
    if head >> 7:
        return -1
    wasted = 0
    if head & 1:
        z = _zeros(buf, bp, end)
        if z < 0:
            return -1
        bp += z + 1
        wasted = z + 1
        bps -= wasted
        if bps < 1:
            return -1
    if kind == 0:  # CONSTANT
        if bp + bps > end:
            return -1
        v = _signed(buf, bp, bps)
        bp += bps
        for i in range(bs):
            dst[i] = v
    elif kind == 1:  # VERBATIM
        if bp + bps * bs > end:
            return -1
        for i in range(bs):
            dst[i] = _signed(buf, bp, bps)
            bp += bps
    elif 8 <= kind <= 12 or kind >= 32:  # FIXED, LPC
        order = kind - 8 if kind < 32 else kind - 31
        if order >= bs or bp + bps * order > end:  # libFLAC refuses a predictor as long as the block
            return -1
        for i in range(order):
            dst[i] = _signed(buf, bp, bps)
            bp += bps
        shift = 0
        if kind >= 32:
            if bp + 9 > end:
                return -1
            precision = _bits(buf, bp, 4) + 1
            shift = _signed(buf, bp + 4, 5)
            bp += 9
            if precision == 16 or shift < 0 or bp + precision * order > end:
                return -1
            for j in range(order):
                coefs[j] = _signed(buf, bp, precision)
                bp += precision
        bp = _residual(buf, bp, end, bs, dst, order)
        if bp < 0:
            return -1
        _restored(dst, bs, coefs, order, shift, mirror, kind < 32)
    else:
        return -1
    if wasted:
        for i in range(bs):
            dst[i] <<= wasted
    return bp


@kernel
def _crc8(buf, a, b):
    """FLAC's CRC-8 of ``buf[a:b]``."""
    c = np.int64(0)
    for i in range(a, b):
        c = CRC8[c ^ buf[i]]
    return c


@kernel
def _crc16(buf, a, b):
    """FLAC's CRC-16 of ``buf[a:b]``, sixteen bytes a step (``CRC16[r]``: a byte then ``r`` zeros).

    Only the two lookups of a step's first two bytes wait for the CRC so far; the other fourteen
    run ahead of it."""
    c = np.int64(0)
    i = a
    t = CRC16
    while i + 16 <= b:
        hi, lo = load_be64(buf, i), load_be64(buf, i + 8)
        y = np.int64(0)
        for j in range(8):
            y ^= t[7 - j, (lo >> np.uint64(56 - 8 * j)) & np.uint64(255)]
        for j in range(2, 8):
            y ^= t[15 - j, (hi >> np.uint64(56 - 8 * j)) & np.uint64(255)]
        h = np.int64(hi >> np.uint64(48)) ^ c
        c = y ^ t[15, h >> 8] ^ t[14, h & 255]
        i += 16
    for j in range(i, b):
        c = ((c << 8) & 0xFFFF) ^ t[0, (c >> 8) ^ buf[j]]
    return c


@kernel
def _coded_number(buf, q, strategy):
    """``(number, byte after it)`` of the frame or sample number at byte ``q`` of a frame header
    (UTF-8-like), or ``(FAILED, 0)``."""
    lead = np.int64(buf[q])
    extra = 0
    while extra < 8 and lead & (0x80 >> extra):
        extra += 1
    if extra == 1 or extra == 8 or (strategy == 0 and extra == 7):  # fixed: a frame number of <= 31 bits
        return FAILED, 0
    coded = lead & (0x7F >> extra)
    for k in range(1, extra):
        if buf[q + k] & 0xC0 != 0x80:
            return FAILED, 0
        coded = coded << 6 | (buf[q + k] & 0x3F)
    return coded, q + max(extra, 1)


@kernel
def frame_header(buf, p, size, rate, bps, channels, strategy, number):
    """``(block size, channel assignment, byte after the header)`` of the frame header at byte ``p``,
    or ``(FAILED, 0, 0)``: a header that is damaged or disagrees with STREAMINFO, ``strategy``
    (the blocking-strategy bit of the first frame) or ``number`` (the frame's index, or its first
    sample's with variable block sizes; what libFLAC does with a gap depends on its version; a
    negative ``number``: any)."""
    if p + 6 > size:
        return FAILED, 0, 0
    if buf[p] != 0xFF or buf[p + 1] & 0xFE != 0xF8 or (buf[p + 1] & 1) != strategy:
        return FAILED, 0, 0
    bs_code, rate_code = buf[p + 2] >> 4, buf[p + 2] & 15
    assignment, bits_code = buf[p + 3] >> 4, (buf[p + 3] >> 1) & 7
    if bs_code == 0 or rate_code == 15 or assignment > 10 or bits_code == 3 or buf[p + 3] & 1:
        return FAILED, 0, 0
    q = p + 4
    coded, q = _coded_number(buf, q, strategy)
    if coded < 0 or (number >= 0 and coded != number):
        return FAILED, 0, 0
    bs = BLOCK_SIZES[bs_code]
    if bs == -1:
        bs = np.int64(buf[q]) + 1
        q += 1
    elif bs == -2:
        bs = (np.int64(buf[q]) << 8 | buf[q + 1]) + 1
        q += 2
    r = SAMPLE_RATES[rate_code]
    if r == -1:
        r = np.int64(buf[q]) * 1000
        q += 1
    elif r == -2 or r == -3:
        r = (np.int64(buf[q]) << 8 | buf[q + 1]) * (1 if r == -2 else 10)
        q += 2
    if (r != 0 and r != rate) or (SAMPLE_BITS[bits_code] != 0 and SAMPLE_BITS[bits_code] != bps):
        return FAILED, 0, 0
    if (assignment < 8 and assignment + 1 != channels) or (assignment >= 8 and channels != 2):
        return FAILED, 0, 0
    if q + 1 > size or _crc8(buf, p, q) != buf[q]:
        return FAILED, 0, 0
    return bs, assignment, q + 1


@kernel
def decode_frames(buf, size, rate, bps, channels, max_block, total, start, out, reached, first=0, number=0):
    """Decode the frames of ``buf[:size]`` (a stream's bytes from its first frame on, padded with
    :data:`PADDING` zero bytes) and write samples ``start .. start + out.shape[1]`` of the ``total`` in the stream,
    scaled to ``[-1, 1)``, into ``out`` (channels, n) of float32 or float64; ``out`` of one row for
    a stream of two channels receives their mean instead (the bits
    :func:`noisegen.audio.io.mix_down` gives the two rows: the integer sum, exact, is rounded once).

    ``rate``, ``bps`` (<= 24), ``channels``, ``max_block`` and ``total`` come from STREAMINFO.
    Returns the samples decoded (>= ``start + out.shape[1]``), or :data:`FAILED`; then ``reached``
    (int64, 2) holds the samples of the good frames before the one that failed and that frame's
    first byte. ``buf`` may also start at a later frame: ``first`` is its first sample, ``number``
    its index (a stream's last frame, decoded alone).
    """
    stop = start + out.shape[1]
    mean = out.shape[0] != channels  # one row for two channels
    scratch = np.empty((channels, max_block), np.int64)
    coefs = np.empty(32, np.int64)
    mirror = np.empty(max_block, np.float64)  # :func:`_restored`'s float64 copy of the samples
    scale = out.dtype.type(1.0 / (1 << (bps - 1)))
    end = size * 8
    strategy = buf[1] & 1
    p = 0
    pos = first
    frame = number
    reached[0], reached[1] = pos, 0
    while pos < stop:
        reached[0], reached[1] = pos, p
        bs, assignment, q = frame_header(buf, p, size, rate, bps, channels, strategy, pos if strategy else frame)
        if bs < 0 or bs > max_block or pos + bs > total:
            return FAILED
        bp = q * 8
        for c in range(channels):
            side = (assignment == 8 and c == 1) or (assignment == 9 and c == 0) or (assignment == 10 and c == 1)
            bp = _subframe(buf, bp, end, bs, bps + side, scratch[c], coefs, mirror)
            if bp < 0:
                return FAILED
        if bp & 7 and _bits(buf, bp, 8 - (bp & 7)) != 0:  # libFLAC: non-zero padding is lost sync
            return FAILED
        q = (bp + 7) >> 3
        if q + 2 > size or _crc16(buf, p, q) != (np.int64(buf[q]) << 8 | buf[q + 1]):
            return FAILED
        if not _decorrelated(scratch, bs, assignment, bps):
            return FAILED
        a, b = max(start, pos), min(stop, pos + bs)
        if a < b:  # a frame before start: out[c, a - start:b - start] would count b - start from the end
            if mean:
                _mean_scaled(scratch[0, a - pos:b - pos], scratch[1, a - pos:b - pos], out[0, a - start:b - start],
                             scale * 0.5)
            else:
                for c in range(channels):
                    _scaled(scratch[c, a - pos:b - pos], out[c, a - start:b - start], scale)
        pos += bs
        frame += 1
        p = q + 2
    return pos


@kernel
def next_frame(buf, p, size, rate, bps, channels, strategy):
    """The first byte after ``p`` where a frame header of this stream (any number) checks out, or
    :data:`FAILED`: none, so a frame that failed at ``p`` was the stream's last (cut short)."""
    for k in range(p + 1, size - 1):
        if buf[k] == 0xFF and buf[k + 1] & 0xFE == 0xF8:
            if frame_header(buf, k, size, rate, bps, channels, strategy, -1)[0] > 0:
                return k
    return FAILED


@kernel
def last_frame(buf, size, rate, bps, channels, strategy):
    """``(number, block size, whole, byte)`` of the last frame in ``buf[:size]`` (the last bytes of a
    stream): the last header that checks out and whose frame's CRC-16 holds to ``size`` (``whole``
    1), else the last header that checks out (``whole`` 0: a frame cut short, or none of the last
    :data:`LAST_HEADERS` headers ends there); ``(FAILED, 0, 0, -1)`` without one (the number: the
    frame's index, or its first sample's with variable block sizes; ``byte``: its header's offset)."""
    crc = np.int64(buf[size - 2]) << 8 | buf[size - 1] if size >= 2 else -1
    tries, last, last_bs = 0, -1, 0
    for k in range(size - 9, -1, -1):  # (a frame takes 9 bytes at least)
        if buf[k] == 0xFF and buf[k + 1] & 0xFE == 0xF8:
            bs = frame_header(buf, k, size, rate, bps, channels, strategy, -1)[0]
            if bs > 0:
                if _crc16(buf, k, size - 2) == crc:
                    return _coded_number(buf, k + 4, strategy)[0], bs, 1, k
                if last < 0:
                    last, last_bs = k, bs
                tries += 1
                if tries == LAST_HEADERS:
                    break
    if last < 0:
        return FAILED, 0, 0, -1
    return _coded_number(buf, last + 4, strategy)[0], last_bs, 0, last


@kernel
def _scaled(row, dst, scale):
    """``dst[:] = row * scale`` (exact: every sample fits the output's mantissa).

    A loop of its own over two views, indexed from 0: indexed by ``i - start`` in the frame
    loop, Numba could not rule out a negative index, and LLVM did not vectorise it."""
    for i in range(dst.shape[0]):
        dst[i] = row[i] * scale


@kernel
def _mean_scaled(left, right, dst, half_scale):
    """``dst[:] = (left + right) * half_scale``: the mean of two channels, scaled. The integer sum
    is exact and rounds once to the output (``half_scale``, a power of two, is exact), as
    :func:`noisegen.audio.io.mix_down` rounds the sum of the two scaled rows before halving it."""
    for i in range(dst.shape[0]):
        dst[i] = (left[i] + right[i]) * half_scale


@kernel
def _decorrelated(s, bs, assignment, bps):
    """Left/side (8), side/right (9) and mid/side (10) stereo back to left and right, in place,
    and whether every sample of the frame fits ``bps`` bits, as libFLAC checks before it hands a
    frame over (a damaged frame with good CRCs can decode to samples beyond full scale); one pass
    for both (they were two, and the frame's third was the conversion)."""
    lo, hi = np.int64(0), np.int64(0)
    if assignment == 8:
        for i in range(bs):
            left, right = s[0, i], s[0, i] - s[1, i]
            s[1, i] = right
            lo, hi = min(lo, left, right), max(hi, left, right)
    elif assignment == 9:
        for i in range(bs):
            left, right = s[0, i] + s[1, i], s[1, i]
            s[0, i] = left
            lo, hi = min(lo, left, right), max(hi, left, right)
    elif assignment == 10:
        for i in range(bs):
            mid = (s[0, i] << 1) | (s[1, i] & 1)
            side = s[1, i]
            left, right = (mid + side) >> 1, (mid - side) >> 1
            s[0, i], s[1, i] = left, right
            lo, hi = min(lo, left, right), max(hi, left, right)
    else:
        for c in range(s.shape[0]):
            row = s[c]
            for i in range(bs):
                lo, hi = min(lo, row[i]), max(hi, row[i])
    return lo >= -(np.int64(1) << (bps - 1)) and hi < np.int64(1) << (bps - 1)
