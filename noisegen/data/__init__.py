"""Training data: the deterministic :class:`AugmentStream` (:mod:`.stream`),
its batch type (:mod:`.stream`), the stream's GPU path (:mod:`.gpu`) and the
PyTorch adapter (:mod:`.torch`, imported only on use)."""

from .. import audio, cuda, effects, transforms  # noqa: F401  (the packages used, before their modules: noisegen.synth)
