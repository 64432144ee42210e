"""Hugging Face ``datasets`` adapter (``datasets`` is optional): see :mod:`noisegen.data.hf`.

``import noisegen`` never imports this module.
"""

from .data.hf import (  # noqa: F401
    augment_fn,
    row_key,
    AugmentFn,
)

__all__ = [
    "augment_fn",
    "row_key",
    "AugmentFn",
]
