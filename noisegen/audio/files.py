"""Regular files only: what kind of file a path is, and opening one for
reading without ever blocking on a FIFO."""

from __future__ import annotations

import os
import stat

from .._core.errors import ParameterError

__all__ = ["file_kind", "open_regular"]


def file_kind(mode: int) -> str:
    """A readable name for a file type that is not a regular file."""
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path) -> int:
    """Open ``path`` for reading and return the fd, refusing anything but a regular file.

    ``O_NONBLOCK`` makes opening a FIFO return at once (instead of waiting for
    a writer); the type is then checked on the open descriptor, so a file
    swapped for a FIFO after a ``stat`` is caught too.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ParameterError(f"path {os.fspath(path)!r} is {file_kind(mode)}, not a regular file; "
                             "only regular files are read")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd
