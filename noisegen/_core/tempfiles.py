"""The temporary files this process and its workers may be writing, so that a stop removes them.

Interrupted (Ctrl-C, or SIGTERM through the command line's handler), a
command unwinds: each writer removes its own file, and ``noisegen augment``
sweeps its output folder for the files of the pool workers it terminated (a
worker keeps the default SIGTERM, which kills it where it stands; a Python
handler can miss a signal that lands just as the worker blocks on its task
queue, and the pool would then wait on it forever). Should the unwinding
not happen (an exception raised from a signal handler is dropped when it
lands in a destructor or a weakref callback), :func:`exit_removing` ends
the process instead: it removes the files named with :func:`live` (from
just after they are created until they are renamed into place or removed)
and runs the sweeps registered with :func:`sweeping`.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["live", "sweeping", "exit_removing"]

_LIVE: set = set()
_SWEEPS: list = []


@contextlib.contextmanager
def live(path: str):
    """Name ``path`` as a temporary file of this process while the block runs."""
    _LIVE.add(path)
    try:
        yield path
    finally:
        _LIVE.discard(path)


@contextlib.contextmanager
def sweeping(sweep):
    """While the block runs, ``sweep()`` removes the temporary files of its work (any process's)."""
    _SWEEPS.append(sweep)
    try:
        yield
    finally:
        _SWEEPS.remove(sweep)


def exit_removing(signum, frame=None):
    """Signal handler: remove the live temporary files, run the sweeps, end the process (128 + signal)."""
    for path in list(_LIVE):
        try:
            os.unlink(path)
        except OSError:  # renamed into place a moment ago, or never written
            pass
    for sweep in list(_SWEEPS):
        try:
            sweep()
        except Exception:  # noqa: BLE001 - leave the rest to the next run's sweep
            pass
    os._exit(128 + signum)
