"""NoisegenWarning that says what was being worked on.

A warning raised deep inside an effect ("the noise is silent") is of little
use without the input file and the noise file it concerns. Callers that know
them (AugmentStream, ``noisegen augment``, AddBackgroundNoise) describe their
work with :func:`about`; :func:`warn` appends those descriptions::

    with about("input 'a.wav'"), about("noise 'tap.wav' from sample 1200"):
        warn("mix_at_snr: the noise is silent ...")
    # mix_at_snr: the noise is silent ... (input 'a.wav'; noise 'tap.wav' from sample 1200)

A context variable holds them, so threads and asyncio tasks each see their own.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import sys
import warnings

from .errors import NoisegenWarning

_ABOUT: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("noisegen_about", default=())
_QUIET: contextvars.ContextVar[bool] = contextvars.ContextVar("noisegen_quiet", default=False)


@contextlib.contextmanager
def about(description: str):
    """Name what the enclosed code works on, for :func:`warn`."""
    token = _ABOUT.set(_ABOUT.get() + (description,))
    try:
        yield
    finally:
        _ABOUT.reset(token)


@contextlib.contextmanager
def quiet():
    """Within (in this thread or task only), :func:`warn` says nothing. ``warnings.catch_warnings``
    would swap the process's filters: it silences other threads meanwhile, and two threads inside
    it at once can leave an "ignore" filter in place for good."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


#: The folder of the noisegen package: frames of files under it are the library's own.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_IMPORTLIB = os.path.dirname(os.path.abspath(importlib.__file__)) + os.sep


def user_stacklevel(skip: tuple[str, ...] = ()) -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the calling function that names the first
    line outside noisegen: the user's call, however deep in the library (a transform inside a
    Compose, a bank a stream loads) the warning is raised; a fixed count names a library line
    whenever one path reaches the warning through more frames than another. ``skip``: folders
    of other packages passed over too (Numba's, for a warning raised while it compiles)."""
    inside = (_PACKAGE, _IMPORTLIB, *skip)  # (importlib: import_module, of a lazy import)
    frame, level = sys._getframe(1), 1
    while os.path.abspath(frame.f_code.co_filename).startswith(inside):
        up = frame.f_back
        while up is not None and _importing(up):  # (warnings.warn counts no such frame: nor does this)
            up = up.f_back
        if up is None:
            break
        frame, level = up, level + 1
    return level


def _importing(frame) -> bool:
    """Whether ``frame`` is one of importlib's (warnings' ``_is_internal_frame``): a warning raised while
    a module imports (a lazy import in a call) named the noisegen line that imported it."""
    name = frame.f_code.co_filename
    return "importlib" in name and "_bootstrap" in name


def warn(message: str) -> None:
    """Warn with a NoisegenWarning naming what is being worked on (nothing within :func:`quiet`),
    at the user's line (:func:`user_stacklevel`)."""
    if _QUIET.get():
        return
    context = _ABOUT.get()
    if context:
        message = f"{message} ({'; '.join(context)})"
    warnings.warn(message, NoisegenWarning, stacklevel=user_stacklevel())
