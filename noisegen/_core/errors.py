"""Exceptions and warnings raised by noisegen.

Every error noisegen raises on purpose derives from :class:`NoisegenError`, so
``except noisegen.NoisegenError`` catches them all. Bad arguments raise
:class:`ParameterError`, which is also a :class:`ValueError` so that generic
code that expects ``ValueError`` keeps working.
"""

from __future__ import annotations

import re

__all__ = ["NoisegenError", "ParameterError", "ParameterIndexError", "BackendError", "NoisegenWarning", "one_line"]

_BREAKS = re.compile(r"\s*[\r\n]\s*")


def one_line(text) -> str:
    """``text`` (a message) on one line: each line break, with the blanks around it, becomes one space.
    Runs of spaces within a line stay: they may be a file name's ("Track  01.wav"), which
    ``" ".join(text.split())`` turned into a name no file has."""
    return _BREAKS.sub(" ", str(text).strip())


class NoisegenError(Exception):
    """Root of every exception raised by noisegen."""


class ParameterError(NoisegenError, ValueError):
    """An argument has a bad value; the message names the argument and the value."""


class ParameterIndexError(ParameterError, IndexError):
    """An index out of range: a :class:`ParameterError` that is also an :class:`IndexError`, so
    Python's sequence protocol (``for x in seq``, ``list(seq)``, ``except IndexError``) ends there."""


class BackendError(NoisegenError, RuntimeError):
    """A compute backend (CUDA) was asked for but cannot be used here."""


class NoisegenWarning(UserWarning):
    """A recoverable oddity: silent noise, clipping, a skipped file."""
