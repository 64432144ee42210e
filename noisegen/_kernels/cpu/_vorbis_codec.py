"""Vorbis I audio-packet pieces: the LSB-first bit reader, codebook (Huffman) decoding, floor 1
and residues 0/1/2, as libvorbis 1.3 decodes them.

The tables come from :mod:`noisegen.audio.vorbis_setup`, which has checked
every index they hold; what comes from the packet (a codeword, a floor value,
a classification) is checked here before it indexes anything. Bits are read
with a 64-bit little-endian load (``buf`` holds 16 bytes past the last packet);
a read that runs past the packet's end (bit ``end``) is the end-of-packet
condition: the floor of that channel is unused, the residue stops where it
is, as the Vorbis I specification (and libvorbis) say.

``books`` is ``(fast, long_off, long_key, long_len, long_entry, dim, vq_off, vq)``:
a codeword of at most ``FAST_BITS`` bits is found by one lookup of the next
bits in ``fast`` (``entry << 6 | length``), a longer one by bisection over the
book's left-aligned codewords ``long_key``.
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import kernel
from ._bits import load_le64

FAST_BITS = 10
_FAST_MASK = (1 << FAST_BITS) - 1
_RANGE = np.array([256, 128, 86, 64], np.int64)
_RANGE_BITS = np.array([8, 7, 7, 6], np.int64)
#: Floor 1's inverse-dB table: 256 steps of 35/64 dB from -139.45 dB to 0 dB (the specification's table).
FROM_DB = (10.0 ** ((np.arange(256) - 255) * (35.0 / 64.0) / 20.0)).astype(np.float32)


@kernel(inline="always")
def peek32(buf, bp):
    """The 32 bits of ``buf`` from bit ``bp`` on, first bit lowest."""
    return np.int64((load_le64(buf, bp >> 3) >> np.uint64(bp & 7)) & np.uint64(0xFFFFFFFF))


@kernel(inline="always")
def read_bits(buf, bp, n):
    """``(value, bp + n)``: the ``n``-bit (n <= 32) field at bit ``bp``."""
    return peek32(buf, bp) & ((np.int64(1) << n) - 1), bp + n


@kernel(inline="always")
def _bitrev32(x):
    x = ((x >> 1) & 0x55555555) | ((x & 0x55555555) << 1)
    x = ((x >> 2) & 0x33333333) | ((x & 0x33333333) << 2)
    x = ((x >> 4) & 0x0F0F0F0F) | ((x & 0x0F0F0F0F) << 4)
    x = ((x >> 8) & 0x00FF00FF) | ((x & 0x00FF00FF) << 8)
    return ((x >> 16) & 0xFFFF) | ((x & 0xFFFF) << 16)


@kernel
def _decode_long(x, book, long_off, long_key, long_len, long_entry):
    """``(entry, length)`` of the codeword longer than FAST_BITS at the start of ``x``, or (-1, 0)."""
    lo = np.int64(long_off[book])
    hi = np.int64(long_off[book + 1])
    if lo == hi:
        return -1, 0
    w = _bitrev32(x)
    if long_key[lo] > w:
        return -1, 0
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if long_key[mid] <= w:
            lo = mid
        else:
            hi = mid
    n = np.int64(long_len[lo])
    if (w >> (32 - n)) != (long_key[lo] >> (32 - n)):
        return -1, 0
    return np.int64(long_entry[lo]), n


@kernel(inline="always")
def decode_entry(buf, bp, book, fast, books):
    """``(entry, bp after it)``, or ``(-1, bp)`` when the bits are no codeword of ``book``
    (``fast``: ``books[0]``, passed on its own so that the hot loops touch no tuple)."""
    x = peek32(buf, bp)
    v = np.int64(fast[book, x & _FAST_MASK])
    if v >= 0:
        return v >> 6, bp + (v & 63)
    e, n = _decode_long(x, book, books[1], books[2], books[3], books[4])
    return e, bp + n


@kernel(inline="always")
def floor1_decode(buf, bp, end, k, fl, books, y):
    """``(used, bp)``: floor ``k``'s posts of one channel into ``y`` (used is False when the floor is
    unused or the packet ended)."""
    partitions, pclass, cdim, csub, cmaster, subbook, mult = fl[0], fl[1], fl[2], fl[3], fl[4], fl[5], fl[6]
    fast = books[0]
    if bp > end:  # an earlier channel met the end: read nothing more
        return False, bp
    flag, bp = read_bits(buf, bp, 1)
    if flag == 0 or bp > end:
        return False, bp
    rbits = _RANGE_BITS[mult[k] - 1]
    y[0], bp = read_bits(buf, bp, rbits)
    y[1], bp = read_bits(buf, bp, rbits)
    off = 2
    for i in range(partitions[k]):
        c = pclass[k, i]
        bits = csub[k, c]
        cval = np.int64(0)
        if bits > 0:
            cval, bp = decode_entry(buf, bp, cmaster[k, c], fast, books)
            if cval < 0 or bp > end:
                return False, bp
        mask = (np.int64(1) << bits) - 1
        for j in range(cdim[k, c]):
            book = subbook[k, c, cval & mask]
            cval >>= bits
            if book >= 0:
                e, bp = decode_entry(buf, bp, book, fast, books)
                if e < 0 or bp > end:
                    return False, bp
                y[off + j] = e
            else:
                y[off + j] = 0
        off += cdim[k, c]
    return bp <= end, bp


@kernel(inline="always")
def floor1_apply(k, fl, y, n2, vec, curve):
    """Multiply ``vec[:n2]`` by floor ``k``'s curve through the decoded posts ``y`` (changed in place:
    libvorbis's amplitude synthesis, then its line rendering).

    libvorbis steps along each line with an error accumulator; after ``i`` steps from ``(x0, y0)``
    it stands at ``y0 +- (i |dy|) // adx`` (the accumulator holds the remainder), which is computed
    here directly, as ``floor((i |dy| + 1/2) / adx)`` in float64: exact, since ``i |dy| / adx`` is
    an integer or at least ``1 / adx`` above one, and the products stay far below 2**52. So the
    loop carries nothing from one sample to the next and is vectorised. The predictions of the
    amplitude synthesis are the same integer quotients (``fl[12]`` holds ``1 / (x_hi - x_lo)``).
    """
    mult, posts, xs, order, lo_n, hi_n, inv = fl[6], fl[7], fl[8], fl[9], fl[10], fl[11], fl[12]
    rng = _RANGE[mult[k] - 1]
    for i in range(2, posts[k]):
        lo = lo_n[k, i]
        hi = hi_n[k, i]
        y0 = y[lo] & 0x7FFF
        dy = (y[hi] & 0x7FFF) - y0
        off = np.int64((abs(dy) * (np.int64(xs[k, i]) - xs[k, lo]) + 0.5) * inv[k, i])
        pred = y0 - off if dy < 0 else y0 + off
        hiroom = rng - pred
        loroom = pred
        room = (hiroom if hiroom < loroom else loroom) << 1
        val = y[i]
        if val != 0:
            if val >= room:
                val = val - loroom if hiroom > loroom else -1 - (val - hiroom)
            else:
                val = -((val + 1) >> 1) if val & 1 else val >> 1
            y[i] = (val + pred) & 0x7FFF
            y[lo] &= 0x7FFF
            y[hi] &= 0x7FFF
        else:
            y[i] = pred | 0x8000
    m = np.int64(mult[k])
    lx = np.int64(0)
    hx = np.int64(0)
    ly = min(max(y[0] * m, 0), 255)
    for j in range(1, posts[k]):
        cur = order[k, j]
        hy = y[cur] & 0x7FFF
        if hy != y[cur]:
            continue
        hx = np.int64(xs[k, cur])
        hy = min(max(hy * m, 0), 255)
        stop = min(hx, n2)
        dy = hy - ly
        ady = np.float64(abs(dy))
        rec = 1.0 / np.float64(hx - lx)
        sign = 1 if dy >= 0 else -1
        for x in range(lx, stop):
            curve[x] = ly + sign * np.int32(((x - lx) * ady + 0.5) * rec)
        lx = hx
        ly = hy
    for x in range(hx, n2):
        curve[x] = ly
    for x in range(n2):  # a gather: vectorised
        vec[x] *= FROM_DB[curve[x]]


@kernel
def _residue0_part(buf, bp, end, book, fast, books, v, row, start, n, ent):
    """Residue 0: ``n // dim`` codewords, their vectors interleaved into ``v[row, start:start + n]``.
    Returns the bit position, or -1 at the end of the packet."""
    dims, vq_off, vq = books[5], books[6], books[7]
    dim = np.int64(dims[book])
    base = vq_off[book]
    step = n // dim
    for i in range(step):
        e, bp = decode_entry(buf, bp, book, fast, books)
        if e < 0 or bp > end:
            return -1
        ent[i] = base + e * dim
    o = 0
    for i in range(dim):
        for j in range(step):
            if o + j >= n:
                break
            v[row, start + o + j] += vq[ent[j] + i]
        o += step
    return bp


@kernel(inline="always")
def residue_decode(buf, bp, end, r, re, books, vec, chans, nch, used, n2, classes, inter, ent):
    """Residue ``r`` of the ``nch`` channels ``chans[:nch]`` (``used[c]``: the channel is decoded)
    into ``vec[chans[c], :n2]`` (zeroed by the caller; ``inter``: a (1, n) scratch for residue 2).
    Returns the bit position (past ``end`` after the end of the packet).

    The codeword lookups are written out in the loops (no helper taking arrays): each array passed
    to a Numba function costs a reference count update, which here cost more than the decoding.
    """
    kind, begin, r_end, psize, nclass, classbook, rbooks, stages = re
    fast, long_off, long_key, long_len, long_entry, dims, vq_off, vq = books
    kind_r = kind[r]
    if bp > end:  # an earlier residue met the end: nothing more is read
        return bp
    any_used = False
    for c in range(nch):
        any_used = any_used or used[c]
    if not any_used:
        return bp
    limit = n2 * nch if kind_r == 2 else n2
    stop = min(r_end[r], limit)
    start = begin[r]
    if stop <= start:
        return bp
    ps = psize[r]
    parts = (stop - start) // ps
    cbook = classbook[r]
    per_word = np.int64(dims[cbook])
    ncl = np.int64(nclass[r])
    partvals = np.int64(1)
    for _ in range(per_word):
        partvals *= ncl
    groups = 1 if kind_r == 2 else nch
    if kind_r == 2:
        inter[0, :limit] = 0
    eop = False
    for s in range(stages[r]):
        i = 0
        while i < parts and not eop:
            if s == 0:
                for c in range(groups):
                    if kind_r != 2 and not used[c]:
                        continue
                    x = np.int64((load_le64(buf, bp >> 3) >> np.uint64(bp & 7)) & np.uint64(0xFFFFFFFF))
                    v = np.int64(fast[cbook, x & _FAST_MASK])
                    if v >= 0:
                        temp = v >> 6
                        bp += v & 63
                    else:
                        temp, n = _decode_long(x, cbook, long_off, long_key, long_len, long_entry)
                        bp += n
                    if temp < 0 or temp >= partvals or bp > end:
                        eop = True
                        break
                    for w in range(per_word - 1, -1, -1):
                        if i + w < classes.shape[1]:
                            classes[c, i + w] = temp % ncl
                        temp //= ncl
                if eop:
                    break
            for _ in range(per_word):
                if i >= parts or eop:
                    break
                off = start + i * ps
                for c in range(groups):
                    if kind_r != 2 and not used[c]:
                        continue
                    book = rbooks[r, classes[c, i], s]
                    if book < 0:
                        continue
                    if kind_r == 0:
                        bp = _residue0_part(buf, bp, end, book, fast, books, vec, chans[c], off, ps, ent)
                        if bp < 0:
                            eop = True
                            break
                        continue
                    dim = np.int64(dims[book])
                    base = vq_off[book]
                    if kind_r == 2:
                        row = 0
                        j = off // nch * nch
                        hi = (off + ps) // nch * nch
                    else:
                        row = chans[c]
                        j = off
                        hi = off + ps
                    # a bit buffer: `acc` holds the bits from `bp + taken` on (at least 32 of them), so
                    # the codeword loop carries only `acc` (mask, table, shift) and not a byte load
                    acc = load_le64(buf, bp >> 3) >> np.uint64(bp & 7)
                    taken = np.int64(0)
                    while j < hi:
                        if taken > 25:
                            bp += taken
                            taken = 0
                            acc = load_le64(buf, bp >> 3) >> np.uint64(bp & 7)
                        v = np.int64(fast[book, np.int64(acc & np.uint64(_FAST_MASK))])
                        if v >= 0:
                            e = v >> 6
                            n = v & 63
                        else:
                            e, n = _decode_long(np.int64(acc & np.uint64(0xFFFFFFFF)), book, long_off, long_key,
                                                long_len, long_entry)
                        acc >>= np.uint64(n)
                        taken += n
                        if e < 0 or bp + taken > end:
                            eop = True
                            break
                        at = base + e * dim
                        n = min(dim, hi - j)
                        if kind_r == 2:
                            if n == 2:
                                inter[0, j] += vq[at]
                                inter[0, j + 1] += vq[at + 1]
                            else:
                                for k in range(n):
                                    inter[0, j + k] += vq[at + k]
                        elif n == 4:
                            vec[row, j] += vq[at]
                            vec[row, j + 1] += vq[at + 1]
                            vec[row, j + 2] += vq[at + 2]
                            vec[row, j + 3] += vq[at + 3]
                        elif n == 2:
                            vec[row, j] += vq[at]
                            vec[row, j + 1] += vq[at + 1]
                        else:
                            for k in range(n):
                                vec[row, j + k] += vq[at + k]
                        j += n
                    bp += taken
                    if eop:
                        break
                i += 1
    return _finish(kind_r, vec, chans, nch, inter, n2, end + 1 if eop else bp)


@kernel(inline="always")
def _finish(kind, vec, chans, nch, inter, n2, bp):
    """Residue 2's interleaved vector, dealt out to its channels."""
    if kind == 2:
        flat = inter[0]
        if nch == 1:
            for i in range(n2):
                vec[chans[0], i] += flat[i]
        else:
            for c in range(nch):
                row = vec[chans[c]]
                for i in range(n2):
                    row[i] += flat[i * nch + c]
    return bp
