"""A FLAC writer for tests: streams that use every part of the format (RFC 9639) on purpose.

libFLAC, the encoder behind libsndfile, never writes LPC orders above 12,
partition orders it does not need, escaped partitions, variable block sizes
or most of the frame header's codes, yet other encoders do and the reader
must take them. This writer encodes integer samples with whatever the caller
chooses per frame and subframe; its bits, CRCs and predictions are written
from the RFC here, independently of the reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FIXED = [[], [1], [2, -1], [3, -3, 1], [4, -6, 4, -1]]
#: The frame header's block size codes that name a size outright.
BLOCK_CODES = {192: 1, 576: 2, 1152: 3, 2304: 4, 4608: 5, 256: 8, 512: 9, 1024: 10, 2048: 11, 4096: 12,
               8192: 13, 16384: 14, 32768: 15}
RATE_CODES = {88200: 1, 176400: 2, 192000: 3, 8000: 4, 16000: 5, 22050: 6, 24000: 7, 32000: 8, 44100: 9,
              48000: 10, 96000: 11}
DEPTH_CODES = {8: 1, 12: 2, 16: 4, 20: 5, 24: 6, 32: 7}


def crc8(data):
    c = 0
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


def crc16(data):
    c = 0
    for byte in data:
        c ^= byte << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x8005) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
    return c


class Bits:
    """MSB-first bit writer."""

    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, width):
        self.acc = (self.acc << width) | (int(value) & ((1 << width) - 1))
        self.n += width
        while self.n >= 8:
            self.n -= 8
            self.out.append((self.acc >> self.n) & 0xFF)
        self.acc &= (1 << self.n) - 1

    def unary(self, zeros):
        while zeros >= 32:
            self.put(0, 32)
            zeros -= 32
        self.put(1, zeros + 1)

    def align(self):
        if self.n:
            self.put(0, 8 - self.n)


def utf8_number(v):
    """FLAC's UTF-8-like coding of a frame or sample number (up to 36 bits)."""
    if v < 0x80:
        return bytes([v])
    for extra in range(1, 7):
        if v < 1 << (6 - extra + 6 * extra):
            break
    lead = (0xFF00 >> (extra + 1)) & 0xFF
    out = [lead | (v >> (6 * extra))]
    out += [0x80 | ((v >> (6 * k)) & 0x3F) for k in range(extra - 1, -1, -1)]
    return bytes(out)


@dataclass
class Subframe:
    """How one channel of a frame is coded: ``kind`` "constant", "verbatim", "fixed" or "lpc"; the
    predictor (``order``; ``coefs``, ``precision``, ``shift`` for LPC); ``wasted`` low zero bits
    taken out; the residual's ``partition_order``, ``rice`` parameters (one per partition, None
    for an escaped one) and ``rice5`` (5-bit parameters)."""

    kind: str = "lpc"
    order: int = 0
    coefs: list = field(default_factory=list)
    precision: int = 15
    shift: int = 0
    wasted: int = 0
    partition_order: int = 0
    rice: list = field(default_factory=list)
    rice5: bool = False


def _residual(bits, res, sub, bs):
    parts = 1 << sub.partition_order
    bits.put(1 if sub.rice5 else 0, 2)
    bits.put(sub.partition_order, 4)
    escape = 31 if sub.rice5 else 15
    per = bs >> sub.partition_order
    at = 0
    for p in range(parts):
        chunk = res[at: at + per - (sub.order if p == 0 else 0)]
        at += len(chunk)
        k = sub.rice[p]
        if k is None:  # escaped: raw signed values of just enough bits
            nb = max((int(abs(v)) * 2 + 1).bit_length() for v in chunk) if len(chunk) and np.any(chunk) else 0
            bits.put(escape, 5 if sub.rice5 else 4)
            bits.put(nb, 5)
            for v in chunk if nb else ():
                bits.put(v, nb)
            continue
        bits.put(k, 5 if sub.rice5 else 4)
        for v in chunk:
            u = 2 * int(v) if v >= 0 else -2 * int(v) - 1  # zigzag
            bits.unary(u >> k)
            if k:
                bits.put(u & ((1 << k) - 1), k)


def predict(x, coefs, shift):
    """``(sum_j coefs[j] x[i-1-j]) >> shift`` for ``i >= len(coefs)`` (exact integers)."""
    x = [int(v) for v in x]
    order = len(coefs)
    return [sum(c * x[i - 1 - j] for j, c in enumerate(coefs)) >> shift for i in range(order, len(x))]


def subframe_bits(bits, x, bps, sub):
    """Write ``x`` (integers of ``bps`` bits) as the subframe ``sub`` describes."""
    x = np.asarray(x, np.int64)
    if sub.wasted:
        assert not np.any(x & ((1 << sub.wasted) - 1))
        x = x >> sub.wasted
        bps -= sub.wasted
    kind = {"constant": 0, "verbatim": 1}.get(sub.kind)
    if kind is None:
        kind = 8 + sub.order if sub.kind == "fixed" else 31 + sub.order
    bits.put(0, 1)
    bits.put(kind, 6)
    if sub.wasted:
        bits.put(1, 1)
        bits.unary(sub.wasted - 1)
    else:
        bits.put(0, 1)
    if sub.kind == "constant":
        assert np.all(x == x[0])
        bits.put(x[0], bps)
        return
    if sub.kind == "verbatim":
        for v in x:
            bits.put(v, bps)
        return
    for v in x[: sub.order]:
        bits.put(v, bps)
    coefs = FIXED[sub.order] if sub.kind == "fixed" else sub.coefs
    shift = 0 if sub.kind == "fixed" else sub.shift
    if sub.kind == "lpc":
        bits.put(sub.precision - 1, 4)
        bits.put(shift, 5)
        for c in coefs:
            bits.put(c, sub.precision)
    res = np.array([int(v) - p for v, p in zip(x[sub.order:], predict(x, coefs, shift))], dtype=object)
    _residual(bits, res, sub, len(x))


def frame_bytes(channels_data, bps, rate, assignment, subs, number, *, variable=False, rate_code=None,
                depth_code=None):
    """One frame: ``channels_data`` the integer samples of each coded channel (side channels
    already formed), ``assignment`` the channel assignment code, ``number`` the frame number (or
    the first sample's, ``variable``); ``rate_code``/``depth_code`` 0 to defer to STREAMINFO."""
    bs = len(channels_data[0])
    head = bytearray([0xFF, 0xF8 | int(variable)])
    code = BLOCK_CODES.get(bs, 6 if bs <= 256 else 7)
    if rate_code is None:
        rate_code = RATE_CODES.get(rate, 12 if rate % 1000 == 0 and rate // 1000 < 256 else 13)
    depth = DEPTH_CODES[bps] if depth_code is None else depth_code
    head.append(code << 4 | rate_code)
    head.append(assignment << 4 | depth << 1)
    head += utf8_number(number)
    if code == 6:
        head.append(bs - 1)
    elif code == 7:
        head += (bs - 1).to_bytes(2, "big")
    if rate_code == 12:
        head.append(rate // 1000)
    elif rate_code == 13:
        head += rate.to_bytes(2, "big")
    elif rate_code == 14:
        head += (rate // 10).to_bytes(2, "big")
    head.append(crc8(head))
    bits = Bits()
    for c, (x, sub) in enumerate(zip(channels_data, subs)):
        side = (assignment == 8 and c == 1) or (assignment == 9 and c == 0) or (assignment == 10 and c == 1)
        subframe_bits(bits, x, bps + side, sub)
    bits.align()
    body = bytes(head) + bytes(bits.out)
    return body + crc16(body).to_bytes(2, "big")


def stream_bytes(frames, *, rate, channels, bps, total, min_block, max_block):
    """``fLaC``, a STREAMINFO block (frame sizes and MD5 unknown) and the frames."""
    info = Bits()
    info.put(min_block, 16)
    info.put(max_block, 16)
    info.put(0, 24)
    info.put(0, 24)
    info.put(rate, 20)
    info.put(channels - 1, 3)
    info.put(bps - 1, 5)
    info.put(total, 36)
    block = bytes(info.out) + bytes(16)
    return b"fLaC" + bytes([0x80, 0, 0, len(block)]) + block + b"".join(frames)


def coded_channels(x, assignment):
    """The channels a frame codes for ``x`` (channels, n) under ``assignment``."""
    if assignment < 8:
        return list(x)
    left, right = x[0], x[1]
    side = left - right
    if assignment == 8:
        return [left, side]
    if assignment == 9:
        return [side, right]
    return [(left + right) >> 1, side]
