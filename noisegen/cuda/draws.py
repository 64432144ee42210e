"""The per-item values :func:`noisegen.cuda.augment_batch` draws on the host: a number, a ``(min, max)``
range or a ``(B,)`` array per parameter, and speed factors from a list of choices."""

from __future__ import annotations

import numbers

import numpy as np

from .._core.errors import ParameterError
from .._core.validation import MAX_RATE_FACTOR, check_real, check_real_array, show_value

__all__ = ["draw", "draw_speed", "shown"]


def draw(value, name, b, gen, *, low, high):
    """Per-item values from a number, a ``(lo, hi)`` range (uniform) or a ``(B,)`` ndarray."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        values = check_real_array(value, name, f"a ({b},) array of numbers")
        if values.shape != (b,):
            raise ParameterError(f"{name} as an array must have shape ({b},) (one per item), got {values.shape}")
    elif isinstance(value, tuple) and len(value) == 2:
        bounds = check_real_array(value, f"{name} range", "(min, max) numbers")
        if bounds.shape != (2,):
            raise ParameterError(f"{name} range must be (min, max) numbers, got {show_value(value)}")
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo <= hi:
            raise ParameterError(f"{name} range must have min <= max, got {value!r}")
        if not (low <= lo and hi <= high):  # before drawing: (-1e308, 1e308) would overflow numpy's uniform
            raise ParameterError(f"{name} range must lie in [{low:g}, {high:g}], got {value!r}")
        values = gen.uniform(lo, hi, size=b) if lo < hi else np.full(b, lo)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        values = np.full(b, check_real(value, name))
    else:
        raise ParameterError(f"{name} must be a number, a (min, max) tuple or a ({b},) ndarray, got {shown(value, name)}")
    if not (np.all(np.isfinite(values)) and np.all(values >= low) and np.all(values <= high)):
        raise ParameterError(f"{name} values must lie in [{low:g}, {high:g}], got {values!r}")
    return values


def draw_speed(speed, b, gen):
    """Speed factors in speed()'s range, [1 / MAX_RATE_FACTOR, MAX_RATE_FACTOR] (checked before any table)."""
    if speed is None:
        return None
    low, high = 1.0 / MAX_RATE_FACTOR, float(MAX_RATE_FACTOR)
    if isinstance(speed, (list, tuple)) and not isinstance(speed, np.ndarray):
        choices = check_real_array(speed, "speed", "a list of factors")
        if choices.size == 0 or not np.all((choices >= low) & (choices <= high)):
            raise ParameterError(f"speed choices must be factors in [{low:g}, {high:g}], got {speed!r}")
        return gen.choice(choices, size=b)
    if not isinstance(speed, (np.ndarray, numbers.Real)) or isinstance(speed, bool):
        # (not draw's message: a tuple here is a list of factors, never a (min, max) range)
        raise ParameterError(f"speed must be a number, a list of factors or a ({b},) ndarray, got {shown(speed, 'speed')}")
    return draw(speed, "speed", b, gen, low=low, high=high)


def shown(value, name):
    """``value`` in a refusal: a tensor named with the way to a NumPy array (its repr showed its values)."""
    if hasattr(value, "__cuda_array_interface__"):  # (per-item values are NumPy: a CUDA tensor's numpy() fails)
        return f"a {type(value).__name__} on the GPU (pass {name} as a NumPy array: .cpu().numpy() or .get())"
    return f"a {type(value).__name__} on the host (pass {name}.numpy())" if hasattr(value, "numpy") else repr(value)
