"""Mutations of Ogg Vorbis files for the decoder's robustness check (tests/test_vorbis.py).

Some mutations leave the page CRCs wrong (the decoder must refuse the file);
the others recompute them, so that damaged headers, page fields and packets
(including packets cut short inside a floor or residue) reach the decoder.
"""

from __future__ import annotations

import numpy as np


def _crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_TABLE = _crc_table()


def ogg_crc(page: bytes) -> int:
    """The Ogg CRC of a page (its CRC field zeroed), byte by byte."""
    c = 0
    for b in page:
        c = ((c << 8) & 0xFFFFFFFF) ^ _TABLE[((c >> 24) ^ b) & 0xFF]
    return c


def pages(data: bytes):
    """``(offset, header length, body length)`` of each page while the capture pattern holds."""
    at = 0
    while at + 27 <= len(data) and data[at:at + 4] == b"OggS":
        n = data[at + 26]
        body = sum(data[at + 27:at + 27 + n])
        yield at, 27 + n, body
        at += 27 + n + body


def fix_crcs(data) -> bytes:
    data = bytearray(data)
    for at, head, body in list(pages(bytes(data))):
        if at + head + body > len(data):
            break
        data[at + 22:at + 26] = b"\0\0\0\0"
        data[at + 22:at + 26] = ogg_crc(bytes(data[at:at + head + body])).to_bytes(4, "little")
    return bytes(data)


def mutate(data: bytes, rng: np.random.Generator):
    """``(kind, mutated bytes)``: one random mutation of an Ogg file."""
    kind = int(rng.integers(0, 10))
    d = bytearray(data)
    pg = list(pages(data))
    if kind == 0:
        for _ in range(rng.integers(1, 4)):
            d[rng.integers(0, len(d))] ^= 1 << int(rng.integers(0, 8))
        return "flip", bytes(d)
    if kind == 1:
        return "truncate", bytes(d[:rng.integers(0, len(d))])
    if kind == 2:
        at = rng.integers(0, len(d))
        extra = bytes(rng.integers(0, 256, rng.integers(1, 9)).astype(np.uint8))
        return "insert", bytes(d[:at]) + extra + bytes(d[at:])
    if kind == 3:
        at, n = rng.integers(0, len(d)), rng.integers(1, 9)
        return "delete", bytes(d[:at] + d[at + n:])
    if kind in (4, 5):  # bits of the header packets
        at, head, body = pg[min(len(pg) - 1, int(rng.integers(0, min(3, len(pg)))))]
        for _ in range(rng.integers(1, 4)):
            p = at + head + int(rng.integers(0, max(body, 1)))
            if p < len(d):
                d[p] ^= 1 << int(rng.integers(0, 8))
        return "header bits", fix_crcs(d)
    if kind == 6:  # bytes of audio packets
        at, head, body = pg[int(rng.integers(min(2, len(pg) - 1), len(pg)))]
        for _ in range(rng.integers(1, 6)):
            p = at + head + int(rng.integers(0, max(body, 1)))
            if p < len(d):
                d[p] = int(rng.integers(0, 256))
        return "audio bytes", fix_crcs(d)
    if kind == 7:  # page header fields
        at, head, body = pg[int(rng.integers(0, len(pg)))]
        field = rng.integers(0, 4)
        if field == 0:
            d[at + 6:at + 14] = int(rng.integers(-2, 1 << 40)).to_bytes(8, "little", signed=True)
        elif field == 1:
            d[at + 5] = int(rng.integers(0, 8))
        elif field == 2:
            d[at + 18:at + 22] = int(rng.integers(0, 1 << 32)).to_bytes(4, "little")
        elif head > 27:
            d[at + 27 + int(rng.integers(0, head - 27))] = int(rng.integers(0, 256))
        return "page field", fix_crcs(d)
    if kind == 8:  # the file cut inside its last page
        at, head, body = pg[-1]
        return "cut last page", fix_crcs(d[:at + head + int(rng.integers(0, max(body, 1)))])
    # a packet cut short: its last lacing value lowered, its bytes removed
    at, head, body = pg[int(rng.integers(min(3, len(pg) - 1), len(pg)))]
    laces = list(d[at + 27:at + head])
    ends = [k for k, v in enumerate(laces) if v < 255]
    if not ends:
        return "short packet", bytes(d)
    k = ends[int(rng.integers(0, len(ends)))]
    cut = int(rng.integers(1, laces[k] + 1)) if laces[k] else 0
    stop = at + head + sum(laces[:k + 1])
    laces[k] -= cut
    d[at + 27:at + head] = bytes(laces)
    return "short packet", fix_crcs(d[:stop - cut] + d[stop:])


def run(paths, n: int, seed: int = 0) -> dict:
    """Decode ``n`` mutations of the files ``paths``; ``{(kind, outcome): count}`` where outcome is
    "ok", "fallback" (VorbisUnsupported) or the repr of any other exception."""
    from noisegen.audio.vorbis import VorbisUnsupported, decode_vorbis

    blobs = [open(p, "rb").read() for p in paths]
    counts: dict = {}
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        kind, data = mutate(blobs[i % len(blobs)], rng)
        try:
            out, _ = decode_vorbis(data)
            outcome = "ok" if out.dtype == np.float32 and out.ndim == 2 else "bad output"
        except VorbisUnsupported:
            outcome = "fallback"
        except Exception as e:  # noqa: BLE001 - reported to the parent
            outcome = repr(e)[:300]
        counts[(kind, outcome)] = counts.get((kind, outcome), 0) + 1
    return counts


def packets(data: bytes) -> list:
    """The packets of a single-stream Ogg file, in order."""
    out, current = [], b""
    for at, head, body in pages(data):
        q = at + head
        for lace in data[at + 27:at + head]:
            current += data[q:q + lace]
            q += lace
            if lace < 255:
                out.append(current)
                current = b""
    return out


def one_page_each(packets_, granules) -> bytes:
    """An Ogg stream of one page per packet (each under 64 KiB), with these granule positions (-1: none)."""
    out = b""
    for i, packet in enumerate(packets_):
        laces = [255] * (len(packet) // 255) + [len(packet) % 255]
        kind = (2 if i == 0 else 0) | (4 if i == len(packets_) - 1 else 0)
        head = (b"OggS" + bytes([0, kind]) + int(granules[i]).to_bytes(8, "little", signed=True)
                + (1).to_bytes(4, "little") + i.to_bytes(4, "little") + bytes(4) + bytes([len(laces)]) + bytes(laces))
        out += head + packet
    return fix_crcs(out)
