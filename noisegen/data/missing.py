"""Why a manifest row's file is missing, where its path names a file as it was likely meant.

A path written elsewhere names no file here, though the file is there:
taken from the current directory instead of the manifest's folder, written
with spaces around it (``a0.wav , yes`` in a CSV), with Windows'
backslashes, in the other Unicode form of its accents (NFC or NFD, which
look the same: macOS writes names in NFD), or in another case
(Windows and macOS ignore it: ``Speech/A.WAV`` for ``speech/a.wav``), or by
name alone for a file of the ``clips`` folder beside it (Common Voice's TSVs).
:func:`check_written_otherwise` says which, as a ParameterError naming the
file that is there; only 'no such audio file' was said, with no word of why.
Nothing is read in its place.
"""

from __future__ import annotations

import os
import unicodedata

from .._core.errors import ParameterError
from .._core.lru import BytesCache

__all__ = ["check_written_otherwise"]


def check_written_otherwise(path: str, manifest: str) -> None:
    """ParameterError when the missing ``path`` of a row of ``manifest`` names a file as it was likely meant."""
    folder = os.path.dirname(os.path.abspath(manifest))
    written = os.path.relpath(path, folder)
    trimmed = os.path.join(folder, written.strip())
    if written.strip() != written and os.path.isfile(trimmed):  # ('a0.wav , yes': a CSV's cell ends at its comma)
        raise ParameterError(f"no such audio file {path!r}: its path is written with spaces around it, and "
                             f"{trimmed!r} is a file; write the paths without them (a cell's spaces are part "
                             "of it)") from None
    if os.path.abspath(written) != os.path.abspath(path) and os.path.isfile(written):
        raise ParameterError(f"no such audio file {path!r}: a relative path is taken from the manifest's "
                             f"folder, not from the current directory (where {written!r} is a file); write "
                             "paths relative to the manifest's folder, or absolute") from None
    if os.sep == "/" and "\\" in written:  # ('sub\\a.wav' is one file name here, not a folder and a file)
        slashed = os.path.normpath(os.path.join(folder, written.replace("\\", "/")))
        there = f" (where {slashed!r} is a file)" if os.path.isfile(slashed) else ""
        raise ParameterError(f"no such audio file {path!r}: its path is written with Windows' '\\' between "
                             f"folders{there}; write paths with '/'") from None
    for form, how in (("NFC", "each accented letter one character"),
                      ("NFD", "a letter and a combining accent, as macOS writes names")):
        for other in (unicodedata.normalize(form, path), os.path.join(folder, unicodedata.normalize(form, written))):
            if other != path and os.path.isfile(other):
                raise ParameterError(f"no such audio file {path!r}: the file is there with its name in Unicode's "
                                     f"{form} form ({how}), {other!r}, which looks the same but is another name; "
                                     f"write the manifest's paths in {form} (unicodedata.normalize({form!r}, path)), "
                                     "or rename the files") from None
    clips = os.path.normpath(os.path.join(folder, "clips", written))
    if not written.startswith(os.pardir) and os.path.isfile(clips):  # (its TSVs name clips/x.mp3 as 'x.mp3')
        raise ParameterError(f"no such audio file {path!r}: {clips!r} is a file (a Common Voice TSV names the "
                             "files of its clips/ folder by name alone); write the paths from the manifest's "
                             "folder, 'clips/...' (with pandas: df['path'] = 'clips/' + df['path'])") from None
    other = _in_another_case(path)
    if other is not None:
        raise ParameterError(f"no such audio file {path!r}: {other!r} is a file, named in another case (Windows "
                             "and macOS ignore case, this system does not); write the manifest's paths as the "
                             "files are named") from None


def _in_another_case(path):
    """The file ``path`` names when its missing parts are matched ignoring case, or None (also where a
    folder holds two names that differ only in case: no guess)."""
    head, parts = os.path.normpath(path), []
    while not os.path.isdir(head):  # the deepest folder that is there
        head, tail = os.path.split(head)
        if not tail:
            return None
        parts.append(tail)
    for part in reversed(parts):
        try:
            match = _names_by_case(head, os.stat(head).st_mtime_ns).get(part.casefold())
        except OSError:
            return None
        if match is None:
            return None
        head = os.path.join(head, match)
    return head if os.path.isfile(head) else None


class _Names(dict):
    """A folder's entries by case-folded name, measured for :class:`~noisegen._core.lru.BytesCache`
    (about what CPython takes for such a dict of short names, a key and a value each)."""

    __slots__ = ("nbytes",)


#: Folder listings kept (by their estimated bytes, not by count: a corpus moved, its missing rows spread
#: over a hundred folders, listed a folder again for every row once more than 8 were asked about).
NAMES_CACHE_BYTES = 32 << 20


_LISTINGS = BytesCache(NAMES_CACHE_BYTES)


def _names_by_case(folder: str, mtime_ns: int) -> dict:
    """A folder's entries by their case-folded name (None for a name two entries share), listed once
    per modification (a manifest whose rows are all missing asks for each row)."""
    return _LISTINGS.get((folder, mtime_ns), lambda: _listed(folder))


def _listed(folder: str) -> _Names:
    names = _Names()
    for name in os.listdir(folder):
        key = name.casefold()
        names[key] = None if key in names else name
    names.nbytes = 200 * (len(names) + 1)
    return names
