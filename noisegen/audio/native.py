"""The one way a file whose header noisegen parses itself is opened: :class:`NativeFile`.

:class:`~noisegen.audio.wav.WavFile` and :class:`~noisegen.audio.flac.FlacFile`
open a path or a file's bytes (a tar member), parse the header with their
``_layout``, and give None for a file they leave to libsndfile; the handle is
closed when they give None, when they raise, and on leaving the ``with``.
"""

from __future__ import annotations

import io
import os
import struct
import warnings

from .._core.errors import NoisegenWarning
from .._core.labels import user_stacklevel

__all__ = ["NativeFile", "warn_truncated", "salvaged"]


class NativeFile:
    """Base of the readers noisegen runs itself; subclasses set :attr:`MAGIC` and define
    ``_layout(fh, size)`` (a tuple, or None to leave the file) and ``__init__(fh, size, layout)``."""

    MAGIC = b""  # the first four bytes of every file the reader may take
    shortfall_unit = "bytes of audio"  # what ``shortfall`` (set by each reader) counts

    @classmethod
    def open(cls, path):
        """The file at ``path`` ready to read, or None (a file this reader leaves to libsndfile).

        Raises what :func:`open` raises (the caller has checked that the path is a regular file).
        """
        fh = open(os.fspath(path), "rb")  # noqa: SIM115 - closed by __exit__, or in _taken when not taken
        return cls._taken(fh, os.fstat(fh.fileno()).st_size)

    @classmethod
    def from_bytes(cls, data):
        """:meth:`open` of a file's bytes (a tar member, say); None when this reader leaves them."""
        if not isinstance(data, (bytes, bytearray, memoryview)) or bytes(data[:4]) != cls.MAGIC:
            return None
        return cls._taken(io.BytesIO(data), len(data))

    @classmethod
    def _taken(cls, fh, size):
        reader = None
        try:
            layout = cls._layout(fh, size)
            if layout is not None:
                reader = cls(fh, size, layout)
        except (OSError, ValueError, struct.error, MemoryError):
            pass  # a header it cannot parse (or whose tables do not fit): libsndfile's to read, or to refuse
        finally:
            if reader is None:  # left, or refused by raising: the handle is not kept
                fh.close()
        return reader

    def __init__(self, fh):
        self._fh = fh
        self.name = getattr(fh, "name", None)  # the path, as soundfile names an open file

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._fh.close()


def warn_truncated(path, missing: int, unit: str = "bytes of audio") -> None:
    """Say that ``path`` was cut short, when its header promises ``missing`` > 0 more ``unit`` than it holds
    (at the user's line: load, a bank and a stream reach here through different depths)."""
    if missing:
        warnings.warn(f"{os.fspath(path)!r} is truncated: its header promises {missing} more {unit} "
                      "than the file holds; reading the samples that are there", NoisegenWarning,
                      stacklevel=user_stacklevel())


def salvaged(native, path, error: Exception):
    """What ``native`` (or None) kept of a file libsndfile refused (a FLAC file cut short: the
    frames before its last), with a warning naming ``path``; else ``error`` is raised. A read
    ``native`` left to libsndfile for its cost (a segment far from the first frame, a long file's
    share of bytes) is decoded here from the first frame first, every byte: libsndfile refuses
    any read reaching the cut of a file cut short."""
    left = getattr(native, "left_read", None)
    if left is not None and native.salvaged is None:
        again = type(native).open(path)
        if again is not None:
            with again:
                again.read(*left, cheap=False)
            native = again
    if getattr(native, "salvaged", None) is None:
        raise error from None
    warn_truncated(path, native.shortfall, unit=native.shortfall_unit)
    return native.salvaged
