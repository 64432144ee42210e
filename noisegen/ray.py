"""Ray adapter (Ray is optional): see :mod:`noisegen.data.ray`.

``import noisegen`` never imports this module or Ray.
"""

from .data.ray import augment, row_key  # noqa: F401

__all__ = ["augment", "row_key"]
