"""Ogg pages to packets, for the Vorbis decoder: every page checked (capture pattern, CRC, serial
number, sequence number, continuation) the way libogg reads a clean single-stream file.

:func:`ogg_packets` walks the pages of one logical stream and copies the
packets, end to end, into one buffer (with 16 zero bytes after it for the bit
reader); each packet gets libogg's granule position (the page's, on the packet
that ends with the page's last lacing value, else -1) and end-of-stream flag.
Anything libogg would read differently from a clean file (a CRC mismatch, a
gap in the sequence numbers, a second stream, bytes between or after pages)
gives a negative code instead, and the caller leaves the file to libsndfile.
The CRC (polynomial 0x04C11DB7, not reflected) is computed 8 bytes a step
(slicing-by-8), as libogg does.
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import kernel


def _crc_tables():
    """Slicing-by-8 tables: ``t[k, i]`` is the CRC of byte ``i`` followed by ``k`` zero bytes."""
    r = np.arange(256, dtype=np.uint64) << np.uint64(24)
    for _ in range(8):
        r = np.where(r & np.uint64(0x80000000), (r << np.uint64(1)) ^ np.uint64(0x04C11DB7), r << np.uint64(1))
        r &= np.uint64(0xFFFFFFFF)
    t = np.zeros((8, 256), np.uint32)
    t[0] = r
    for k in range(1, 8):
        prev = t[k - 1].astype(np.uint64)
        t[k] = ((prev << np.uint64(8)) & np.uint64(0xFFFFFFFF)) ^ t[0][(prev >> np.uint64(24)).astype(np.int64)]
    return t


CRC_TABLES = _crc_tables()
PADDING = 16
BAD = -1


@kernel
def page_crc(data, start, stop, tables):
    """The Ogg CRC of ``data[start:stop]`` with the four CRC bytes (22..25 of the page) as zeros."""
    crc = np.int64(0)
    i = start
    while i < stop:
        b = np.int64(data[i])
        if i - start >= 22 and i - start < 26:
            b = 0
        if i - start >= 26 and stop - i >= 8:  # eight bytes at once
            c = crc ^ ((np.int64(data[i]) << 24) | (np.int64(data[i + 1]) << 16)
                       | (np.int64(data[i + 2]) << 8) | np.int64(data[i + 3]))
            crc = np.int64(tables[7, c >> 24] ^ tables[6, (c >> 16) & 0xFF] ^ tables[5, (c >> 8) & 0xFF]
                           ^ tables[4, c & 0xFF] ^ tables[3, data[i + 4]] ^ tables[2, data[i + 5]]
                           ^ tables[1, data[i + 6]] ^ tables[0, data[i + 7]])
            i += 8
            continue
        crc = ((crc << 8) & 0xFFFFFFFF) ^ np.int64(tables[0, ((crc >> 24) ^ b) & 0xFF])
        i += 1
    return crc


@kernel
def _le(data, at, n):
    v = np.uint64(0)
    for k in range(n):
        v |= np.uint64(data[at + k]) << np.uint64(8 * k)
    return v


@kernel
def _count_ends(data):
    """Lacing values below 255 (packet ends) in the pages of ``data``, read as far as they hold."""
    size = data.shape[0]
    pos = 0
    n = 0
    while size - pos >= 27:
        nseg = np.int64(data[pos + 26])
        if pos + 27 + nseg > size:
            break
        body = 0
        for k in range(nseg):
            lace = np.int64(data[pos + 27 + k])
            body += lace
            n += np.int64(lace < 255)
        pos += 27 + nseg + body
    return n


@kernel
def ogg_packets(data, tables):
    """``(status, payload, starts, ends, granules, eos)`` of the single Ogg stream in ``data``.

    ``status`` is the number of packets, or :data:`BAD`: a file this reader leaves to libsndfile
    (also when a page ends no packet besides a continued one, or ends 255 or more of them, or
    ends some without a granule position).
    ``ends[i]`` is exclusive; ``payload`` holds the packets' bytes, then :data:`PADDING` zeros.
    """
    size = data.shape[0]
    payload = np.zeros(size + PADDING, np.uint8)
    cap = _count_ends(data) + 1
    starts = np.zeros(cap, np.int64)
    ends = np.zeros(cap, np.int64)
    granules = np.full(cap, -1, np.int64)
    eos = np.zeros(cap, np.uint8)
    pos = 0
    out = 0
    count = 0
    open_packet = False
    serial = np.uint64(0)
    seq = np.uint64(0)
    page = 0
    ended = False
    while pos < size:
        if ended or size - pos < 27:
            return BAD, payload, starts, ends, granules, eos
        if data[pos] != 79 or data[pos + 1] != 103 or data[pos + 2] != 103 or data[pos + 3] != 83:
            return BAD, payload, starts, ends, granules, eos
        flags = data[pos + 5]
        if data[pos + 4] != 0 or flags > 7:
            return BAD, payload, starts, ends, granules, eos
        granule = np.int64(_le(data, pos + 6, 8))
        this_serial = _le(data, pos + 14, 4)
        this_seq = _le(data, pos + 18, 4)
        crc = _le(data, pos + 22, 4)
        nseg = np.int64(data[pos + 26])
        head = pos + 27
        if head + nseg > size:
            return BAD, payload, starts, ends, granules, eos
        body = 0
        for k in range(nseg):
            body += np.int64(data[head + k])
        stop = head + nseg + body
        if stop > size or page_crc(data, pos, stop, tables) != np.int64(crc):
            return BAD, payload, starts, ends, granules, eos
        if page == 0:
            if (flags & 2) == 0:
                return BAD, payload, starts, ends, granules, eos
            serial = this_serial
        elif (flags & 2) != 0 or this_serial != serial or this_seq != seq + np.uint64(1):
            return BAD, payload, starts, ends, granules, eos
        seq = this_seq
        if ((flags & 1) != 0) != open_packet:
            return BAD, payload, starts, ends, granules, eos
        at = head + nseg
        ended_here = 0
        for k in range(nseg):
            lace = np.int64(data[head + k])
            if not open_packet:
                starts[count] = out
                open_packet = True
            payload[out:out + lace] = data[at:at + lace]
            out += lace
            at += lace
            if lace < 255:
                ends[count] = out
                if k == nseg - 1:
                    granules[count] = granule
                    if (flags & 4) != 0:
                        eos[count] = 1
                count += 1
                ended_here += 1
                open_packet = False
        last_open = nseg > 0 and data[head + nseg - 1] == 255
        # a page that ends packets has their granule position: -1 there is out of spec (libsndfile's count of such a
        # stream is its own), as is a position on a page whose packet runs on
        if ended_here >= 255 or (page > 0 and (last_open and granule != -1 or ended_here > 0 and granule == -1)):
            return BAD, payload, starts, ends, granules, eos
        if (flags & 4) != 0:
            ended = True
        page += 1
        pos = stop
    if open_packet or page == 0:
        return BAD, payload, starts, ends, granules, eos
    return count, payload, starts, ends, granules, eos
