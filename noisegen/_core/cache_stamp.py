"""Numba cache entries of noisegen's kernels follow every kernel source, not only their own file.

Numba stamps a cached kernel with its own file's content, so an entry stays
valid when a helper it inlines from another module changes (a kernel of
``_kernels/cpu/mix.py`` calling ``_simd.dot_products``, the Vorbis and FLAC
decoders over several modules): after a ``git checkout`` or an edit, the old
machine code of that helper would run. :func:`install` adds a digest of
every source under ``noisegen/_kernels`` and ``noisegen/_core`` (where all
kernels and their helpers live) to the stamp of each function defined in the
package, so a change to any of them recompiles the package's kernels; other
code's caches are left as Numba keeps them. It uses Numba's cache locator (not
public API): where that is missing, nothing is installed and kernels keep
Numba's own stamp.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys

__all__ = ["install", "sources_digest"]

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: The folders (under the package) whose sources every kernel's cache entry depends on.
KERNEL_FOLDERS = ("_kernels", "_core")


def sources_digest(root: str = PACKAGE_DIR, folders=KERNEL_FOLDERS) -> str:
    """A digest of the content of every ``.py`` file under ``root``'s ``folders`` (and their names)."""
    h = hashlib.blake2b(digest_size=16)
    for folder in folders:
        for here, dirs, files in os.walk(os.path.join(root, folder)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(f for f in files if f.endswith(".py")):
                path = os.path.join(here, name)
                h.update(os.path.relpath(path, root).encode("utf-8", "surrogateescape") + b"\0")
                with open(path, "rb") as fh:
                    h.update(hashlib.blake2b(fh.read(), digest_size=16).digest())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _package_digest() -> str:
    return sources_digest()  # once a process: the sources do not change under a running program


def install() -> bool:
    """Make the cache stamps of noisegen's functions include :func:`sources_digest` (idempotent).
    Returns whether it is installed."""
    try:
        from numba.core import caching

        mixin = caching._SourceFileBackedLocatorMixin
        plain = mixin.get_source_stamp
    except (ImportError, AttributeError):
        return False
    if getattr(plain, "noisegen_stamp", False):
        return True
    prefix = PACKAGE_DIR + os.sep

    def get_source_stamp(self):
        stamp = plain(self)
        path = getattr(self, "_py_file", None)
        if getattr(sys, "frozen", False) or not isinstance(path, str) or not os.path.abspath(path).startswith(prefix):
            return stamp
        return (stamp, _package_digest())

    get_source_stamp.noisegen_stamp = True
    mixin.get_source_stamp = get_source_stamp
    return True
