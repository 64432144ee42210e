"""Row counts of a batch (``lengths``, ``starts``), checked: whole numbers, and never a toolkit's
relative lengths taken for counts."""

from __future__ import annotations

import numpy as np

from .._core.errors import ParameterError
from .._core.validation import check_real_array, show_value

__all__ = ["check_counts"]


def check_counts(values, name, b, most=None):
    """``values`` as ``b`` whole numbers in ``[0, most]`` (int64), else ParameterError naming ``name``."""
    arr = check_real_array(values, name, f"{b} whole numbers >= 0")  # (float64: for the checks only)
    if most is not None and most > 1 and _relative(values, arr):
        raise ParameterError(f"{name} must hold {b} whole numbers in [0, {most}] (samples), got {show_value(values)}: "
                             f"fractions of the width (SpeechBrain's relative lengths) where counts are wanted (1.0 "
                             f"would keep 1 sample of a full row); pass (lengths * {most}).round() as integers")
    most = 2**63 - 1 if most is None else most
    if arr.shape != (b,) or not np.all((arr >= 0) & (arr == np.floor(arr)) & (arr <= most)):
        raise ParameterError(f"{name} must hold {b} whole numbers in [0, {most}], got {show_value(values)}")
    return np.asarray(values).astype(np.int64)  # (exact: 2**60 + 1 stays itself)


def _relative(values, arr):
    """Whether float ``values`` look like relative lengths: at most 1 and not all 0.

    A toolkit's float lengths of 1.0 mean a full row; read as a count they
    passed the whole-number check and kept one sample of every row."""
    floats = np.asarray(values).dtype.kind == "f"  # (a float torch tensor too; integer counts are never fractions)
    return floats and arr.size > 0 and bool(0 < np.max(arr) <= 1)
