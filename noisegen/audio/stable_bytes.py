"""The same audio, the same bytes: what libsndfile writes that changes from one save to the next,
made a function of the file's own bytes.

libsndfile draws an Ogg stream's serial number from the clock (``psf_rand_int32``): the same audio
saved twice differed in 4 bytes and in the CRC of every page, so a rerun of ``noisegen synth
x.ogg --seed 1`` failed ("holds something else") and ``save(..., overwrite=False)`` refused the
very audio already there. The ``PEAK`` chunk of a float file holds the time of writing (1 s
resolution): float WAV/AIFF leave it out (:func:`noisegen.audio.io.write_frames` asks libsndfile
not to write it), but libsndfile's RF64 writer keeps it, so its time stamp is zeroed.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from .._kernels.cpu.vorbis_ogg import CRC_TABLES, page_crc

__all__ = ["settle_bytes"]


def settle_bytes(target, fmt: str) -> None:
    """Rewrite the varying bytes of the ``fmt`` file libsndfile just wrote to ``target`` (a readable
    and writable file object, or a path)."""
    settle = _settle_ogg_serial if fmt == "OGG" else _zero_peak_stamp if fmt == "RF64" else None
    if settle is None:
        return
    if hasattr(target, "seek"):
        settle(target)
        return
    with open(target, "r+b") as fh:
        settle(fh)


def _zero_peak_stamp(fh) -> None:
    """Zero the time stamp of the ``PEAK`` chunk in the header of the RF64 file in ``fh`` (if it has one)."""
    fh.seek(12)  # past "RF64", its size and "WAVE": the chunks, up to the samples
    while len(head := fh.read(8)) == 8 and head[:4] != b"data":
        if head[:4] == b"PEAK":  # dwVersion, then dwTimeStamp
            fh.seek(4, os.SEEK_CUR)
            fh.write(bytes(4))
            return
        size = int.from_bytes(head[4:], "little")
        fh.seek(size + (size & 1), os.SEEK_CUR)


def _settle_ogg_serial(fh) -> None:
    """Give every page of the Ogg stream in ``fh`` a serial number taken from the stream's other bytes,
    and its CRC again; other audio gets another serial, so files joined into a chained stream keep
    theirs apart."""
    pages, digest, at = [], hashlib.blake2b(digest_size=4), 0
    fh.seek(0)
    while head := fh.read(27):  # (a page at a time: a long file is never held whole)
        if len(head) < 27 or head[:4] != b"OggS":
            return  # not the stream libsndfile writes: left as it is
        lacing = fh.read(head[26])
        digest.update(head[:14] + lacing + fh.read(sum(lacing)))  # (not the serial, sequence number or CRC)
        pages.append((at, 27 + len(lacing) + sum(lacing)))
        at += pages[-1][1]
    serial = digest.digest()
    for at, size in pages:
        fh.seek(at)
        page = np.frombuffer(fh.read(size), np.uint8).copy()
        page[14:18] = np.frombuffer(serial, np.uint8)
        fh.seek(at + 14)
        fh.write(serial + page[18:22].tobytes() + int(page_crc(page, 0, size, CRC_TABLES)).to_bytes(4, "little"))
