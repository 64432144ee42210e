"""PyTorch adapter for :class:`noisegen.AugmentStream` (torch is optional).

``import noisegen`` never imports torch; :mod:`noisegen.data.torch` holds the
implementation and imports torch when its names are first used::

    from noisegen.torch import AugmentDataset, collate
"""

from .data.torch import AugmentDataset, collate

__all__ = ["AugmentDataset", "collate"]
