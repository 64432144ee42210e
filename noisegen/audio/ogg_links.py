"""Chained Ogg files: streams joined end to end, of which libsndfile reads only the first.

Ogg files joined with ``cat`` (a recorded radio stream, an audiobook's
chapters, clips concatenated) are one valid *chained* file: a stream, then
another whose beginning-of-stream page follows the first one's last page.
libsndfile 1.2 reads the first stream (Vorbis or Opus) and stops there,
saying nothing: the rest of the audio is lost. noisegen reads such a file as
libsndfile does (its own Vorbis decoder takes single streams only) and says so
(:func:`warn_chained`).
"""

from __future__ import annotations

import functools
import io
import os
import struct
import warnings

from .._core.errors import NoisegenWarning
from .._core.labels import user_stacklevel

__all__ = ["ogg_links", "warn_chained"]

_PAGE = struct.Struct("<4sBBqIIIB")  # capture, version, flags, granule, serial, sequence, CRC, segments
_BOS = 0x02  # the page's flag: first page of a stream


def ogg_links(path) -> int:
    """Streams of the Ogg file at ``path`` that follow one another (0: not an Ogg file, or unreadable).

    Streams multiplexed at the start (their first pages side by side, e.g. a Skeleton track beside the
    audio) are one link; a beginning-of-stream page after another stream's pages starts the next.
    Counted from the page headers alone, once per path, size and modification time.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        return 0
    try:
        st = os.stat(path)
        return _links(os.fsencode(path), st.st_size, st.st_mtime_ns)
    except OSError:
        return 0


@functools.lru_cache(maxsize=1024)
def _links(path: bytes, size: int, mtime_ns: int) -> int:
    with open(path, "rb", buffering=1 << 16) as fh:  # (a seek within the buffer reads nothing: 1.9x faster)
        return _counted(fh, size)


def _counted(fh, size: int) -> int:
    """:func:`ogg_links` of the ``size`` bytes of the open ``fh``, walked page by page."""
    links, at, bos_before = 0, 0, False
    while at + _PAGE.size <= size:
        fh.seek(at)
        head = fh.read(_PAGE.size + 255)
        if len(head) < _PAGE.size:  # (a file cut as it is read)
            break
        capture, _, flags, *_, n_segments = _PAGE.unpack_from(head)
        if capture != b"OggS" or len(head) < _PAGE.size + n_segments:
            break  # (not Ogg, or bytes after the last page: libsndfile's to read or refuse)
        bos = bool(flags & _BOS)
        links += bos and not bos_before
        bos_before = bos
        at += _PAGE.size + n_segments + sum(head[_PAGE.size:_PAGE.size + n_segments])
    return links


def warn_chained(path, data=None) -> None:
    """Say that only the first of the streams joined in the Ogg file ``path`` is read (nothing for another
    file); ``data``: the file's bytes (a tar member), ``path`` its name."""
    links = ogg_links(path) if data is None else _counted(io.BytesIO(data), len(data))
    if links > 1:
        warnings.warn(f"{os.fspath(path)!r} is a chained Ogg file, {links} streams joined end to end: only the "
                      "first is read (as libsndfile reads it), the rest of its audio is not; split it into "
                      "one file per stream to use it all", NoisegenWarning, stacklevel=user_stacklevel())
