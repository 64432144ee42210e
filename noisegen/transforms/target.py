"""Paired targets: the speech a pipeline degrades, changed as the pipeline changes it.

A pipeline called with ``return_target="clean"`` returns ``(augmented,
target)``. The target goes through the same stages with the same
parameters, except that every degradation (a transform whose ``degrades``
is True: noise, reverberation, codecs, filters, clipping, bit crushing,
masks, packet loss, band-limiting) passes it through unchanged, while the
changes the target shares (gain, level, speed, pitch, time stretch, shift,
polarity) are applied to it identically: the same gain factor, the same
resampling, the same WSOLA splice points (those of the augmented signal),
so the target stays aligned sample for sample. With only linear
degradations (noise, reverberation, filters) ``augmented - target`` is
exactly what they added, carried through the later stages.

``return_target="early"`` keeps the direct sound and early reflections of
reverberation in the target: it is convolved with the first
:data:`noisegen.effects.reverb.EARLY_S` (50 ms) of the same response after
its direct path (:func:`noisegen.effects.early_rir`), the usual
dereverberation target.

A degradation that changes the length (``ApplyImpulseResponse(keep_tail=True)``)
pads the target with zeros to the augmented signal's length.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from .._core.validation import check_choice

__all__ = ["TARGET_MODES", "check_target_mode", "fit_length", "keeping_stages", "stages_kept"]

#: The kinds of paired target: ``"clean"`` (no degradation) or ``"early"`` (early reverberation kept).
TARGET_MODES = ("clean", "early")

# Set while a pipeline that returns a target draws, so that compositions keep
# their children's intermediate outputs (the inputs each child's target step needs).
_KEEP_STAGES = ContextVar("noisegen_keep_stages", default=False)


def check_target_mode(mode, name: str):
    """None (no target) or one of :data:`TARGET_MODES`."""
    return None if mode is None else check_choice(mode, name, TARGET_MODES)


@contextmanager
def keeping_stages(keep=True):
    """Within (when ``keep``): compositions keep their intermediate outputs for a target step."""
    if not keep:
        yield
        return
    token = _KEEP_STAGES.set(True)
    try:
        yield
    finally:
        _KEEP_STAGES.reset(token)


def stages_kept() -> bool:
    """Whether a composition drawing now should keep its intermediate outputs."""
    return _KEEP_STAGES.get()


def fit_length(target: np.ndarray, n: int) -> np.ndarray:
    """``target`` cut or zero-padded (at the end) to ``n`` samples.

    Examples
    --------
    >>> fit_length(np.ones(3), 5)
    array([1., 1., 1., 0., 0.])
    """
    have = target.shape[-1]
    if have == n:
        return target
    if have > n:
        return np.ascontiguousarray(target[..., :n])
    out = np.zeros(target.shape[:-1] + (n,), dtype=target.dtype)
    out[..., :have] = target
    return out
