"""Vorbis codebook construction: codeword assignment (libvorbis's ``_make_words``) and the lookup
table of short codewords, run once per setup header (in Python they took ~12 ms a header)."""

from __future__ import annotations

import numpy as np

from ..._core.jit import kernel

OVERFULL = -1
INCOMPLETE = -2


@kernel
def huffman_codes(lengths, codes):
    """MSB-first codewords of the entries with a length (1..32) into ``codes``, in entry order,
    each the lowest free one of its length. Returns the number of them, :data:`OVERFULL`, or
    :data:`INCOMPLETE` (a tree with unused leaves; one entry of length 1 is allowed)."""
    marker = np.zeros(33, np.int64)
    used = 0
    longest = 0
    for i in range(lengths.shape[0]):
        length = lengths[i]
        if length <= 0:
            continue
        longest = max(longest, length)
        entry = marker[length]
        if length < 32 and (entry >> length) != 0:
            return OVERFULL
        codes[i] = entry
        used += 1
        for j in range(length, 0, -1):
            if marker[j] & 1:
                if j == 1:
                    marker[1] += 1
                else:
                    marker[j] = marker[j - 1] << 1
                break
            marker[j] += 1
        for j in range(length + 1, 33):
            if (marker[j] >> 1) == entry:
                entry = marker[j]
                marker[j] = marker[j - 1] << 1
            else:
                break
    if not (used == 1 and longest == 1):
        for i in range(1, 33):
            if marker[i] & (0xFFFFFFFF >> (32 - i)):
                return INCOMPLETE
    return used


@kernel
def fill_fast(lengths, codes, row, bits):
    """``row[x] = entry << 6 | length`` for every ``bits``-bit ``x`` that starts (first bit lowest)
    with the codeword of an entry of at most ``bits`` bits; -1 elsewhere."""
    row[:] = -1
    for e in range(lengths.shape[0]):
        n = lengths[e]
        if n <= 0 or n > bits:
            continue
        c = codes[e]
        r = 0
        for k in range(n):  # the codeword's bits reversed: first bit read is the lowest
            r |= ((c >> k) & 1) << (n - 1 - k)
        v = (e << 6) | n
        for x in range(r, 1 << bits, 1 << n):
            row[x] = v


@kernel
def _bit_field(buf, pos, n):
    v = 0
    for k in range(n):
        p = pos + k
        v |= ((np.int64(buf[p >> 3]) >> (p & 7)) & 1) << k
    return v


@kernel
def sparse_lengths(buf, pos, nbits, lengths):
    """A sparse codebook's lengths (a flag bit per entry, then 5 bits of length - 1 when set) read
    from bit ``pos`` of ``buf`` (``nbits`` long) into ``lengths``; the bit after them, or -1 when
    they run past the end."""
    for i in range(lengths.shape[0]):
        if pos + 1 > nbits:
            return -1
        flag = _bit_field(buf, pos, 1)
        pos += 1
        if flag:
            if pos + 5 > nbits:
                return -1
            lengths[i] = _bit_field(buf, pos, 5) + 1
            pos += 5
        else:
            lengths[i] = 0
    return pos
