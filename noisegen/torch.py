"""PyTorch adapter for :class:`noisegen.AugmentStream` (torch is optional).

``import noisegen`` never imports torch; this module imports it when its
names are first used::

    from noisegen.torch import AugmentDataset, collate
    loader = torch.utils.data.DataLoader(
        AugmentDataset(stream), batch_size=32, collate_fn=collate, num_workers=2
    )
    for epoch in range(n_epochs):
        loader.dataset.set_epoch(epoch)
        for batch in loader:          # {"samples": (32, T) float32 tensor, "lengths": ..., ...}
            ...

Each DataLoader worker (and each distributed rank) takes its own share of
the items (:class:`~noisegen.AugmentStream` reads
``torch.utils.data.get_worker_info()``), so every item is produced exactly
once per epoch and the set of batches' chunks is the same for any
``num_workers``. ``set_epoch`` before each ``iter(loader)`` gives each epoch
its own order and augmentation (as with ``DistributedSampler``; with
``persistent_workers=True`` use ``AugmentStream(..., epochs=None)`` instead).
"""

from __future__ import annotations

__all__ = ["AugmentDataset", "collate"]

_CLASS = None


def _dataset_class():
    global _CLASS
    if _CLASS is None:
        from torch.utils.data import IterableDataset

        class AugmentDataset(IterableDataset):
            """An ``IterableDataset`` over an :class:`~noisegen.AugmentStream`.

            Parameters
            ----------
            stream : AugmentStream
            batch_size : int or None
                None yields :class:`~noisegen.Chunk` s (batch them with the
                DataLoader's ``batch_size`` and ``collate_fn=collate``); an
                int yields ready batches from ``stream.batches`` (use the
                DataLoader with ``batch_size=None``).
            """

            def __init__(self, stream, *, batch_size=None, drop_last=False):
                super().__init__()
                from .stream import AugmentStream

                if not isinstance(stream, AugmentStream):
                    from .errors import ParameterError

                    raise ParameterError(f"stream must be an AugmentStream, got {type(stream).__name__}")
                self.stream = stream
                self.batch_size = batch_size
                self.drop_last = drop_last

            def set_epoch(self, epoch: int) -> None:
                """Make the next ``iter`` produce ``epoch`` (call before each epoch)."""
                self.stream.set_epoch(epoch)

            def __iter__(self):
                if self.batch_size is None:
                    yield from self.stream
                else:
                    for batch in self.stream.batches(self.batch_size, drop_last=self.drop_last):
                        yield collate(batch.chunks)

        AugmentDataset.__module__ = __name__
        AugmentDataset.__qualname__ = "AugmentDataset"  # picklable through __getattr__
        _CLASS = AugmentDataset
    return _CLASS


def __getattr__(name):
    if name == "AugmentDataset":
        return _dataset_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def collate(chunks) -> dict:
    """Stack :class:`~noisegen.Chunk` s into torch tensors.

    Returns a dict: ``samples`` (B, T) or (B, channels, T) float32 tensor
    (zero-padded), ``lengths`` (B,) int64 tensor, and the lists ``sources``,
    ``starts``, ``epochs``, ``items`` and ``params``.
    """
    import torch

    from .stream import collate as _stack

    batch = _stack(chunks)
    return {
        "samples": torch.from_numpy(batch.samples),
        "lengths": torch.from_numpy(batch.lengths),
        "sources": [c.source for c in batch.chunks],
        "starts": [int(c.start) for c in batch.chunks],
        "epochs": [int(c.epoch) for c in batch.chunks],
        "items": [int(c.item) for c in batch.chunks],
        "params": [c.params for c in batch.chunks],
    }
