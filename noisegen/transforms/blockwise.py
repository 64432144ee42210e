"""Long recordings in bounded memory: a pipeline applied block by block, equal to one pass.

A pipeline's parameters depend only on its input's length (draw them for a
:class:`~noisegen.transforms.shape.SignalShape`), and each transform it
applies has a streaming form with its state carried from block to block
(:mod:`noisegen.transforms.block_stages`): resampler history, biquad
state, overlap-add reverb tails, WSOLA's look-ahead window, the position in
the noise. So::

    params = pipeline.draw_params(SignalShape((n,), np.float32), sample_rate=sr, rng=seed)
    for block in apply_blockwise(pipeline, params, read_blocks, n=n, sample_rate=sr):
        ...  # concatenated: pipeline.apply_params(whole, params, sample_rate=sr)

holds only a block (and each stage's look-ahead) at a time.

Whole-signal measures. Noise at an SNR needs the power of its input over the
whole signal, and :class:`Normalize` its level. Such a stage is measured in a
first pass over the input, through the stages before it (themselves
streamed), before the pass that produces the output; ``blocks`` is called
once per pass, so it must give the same blocks each time (a file read again
from its start). A pipeline with noise last costs one extra pass over the
stages before the noise; with ``k`` measured stages, ``k`` extra passes.

Outputs equal the one-pass ones to float rounding: the resampling, WSOLA,
filters and the mixing itself are the same operations in the same order
(identical samples), while FFT reverb and the power sums add up in other
orders (differences near 1e-7 relative, well within 1e-5).

Pipelines with a transform that has no streaming form (see
:func:`blockwise_unsupported`) are processed in one pass by the callers.
"""

from __future__ import annotations

import numpy as np

from .._core.errors import ParameterError
from .._core.layout import layout_known
from .._core.validation import (check_audio, check_float_dtype, check_n_channels, check_n_samples, check_sample_rate,
                                nonfinite_error)
from .block_stages import stage_for
from .compose import _Composition

__all__ = ["apply_blockwise", "blockwise_stages", "blockwise_unsupported"]


def _leaves(t, params):
    """The applied non-composition transforms and their parameters, in the order they run."""
    if not params["applied"]:
        return
    if isinstance(t, _Composition):
        for i, child in zip(params["indices"], params["transforms"]):
            yield from _leaves(t.transforms[i], child)
    else:
        yield t, params


def blockwise_stages(pipeline, params, *, n, sample_rate, n_channels=None, dtype=np.float32):
    """The streaming stages of ``pipeline`` applied with ``params`` to an ``n``-sample input.

    ``n_channels`` None for a mono ``(n,)`` input. Raises ParameterError for
    ``params`` not recorded by ``pipeline`` (checked as
    :meth:`~noisegen.transforms.Transform.apply_params` checks them), or
    naming the first transform without a streaming form.
    """
    sample_rate, dtype = check_sample_rate(sample_rate), check_float_dtype(dtype)
    n_channels = check_n_channels(n_channels)
    n = check_n_samples(n, "n", n_channels=n_channels)
    return _stages(pipeline, _checked_params(pipeline, params, sample_rate), n, sample_rate, n_channels, dtype)


def _checked_params(pipeline, params, sample_rate):
    """``params`` checked as apply_params checks a replay's: another pipeline's raised KeyError or
    IndexError, or ran a transform at the parameters of another that records the same keys (LowShelf,
    HighShelf)."""
    pipeline.prepare(sample_rate)
    return pipeline._check_params(params, sample_rate)


def _stages(pipeline, params, n, sample_rate, n_channels, dtype):
    """:func:`blockwise_stages` of checked arguments."""
    mono = n_channels is None
    rows = 1 if mono else int(n_channels)
    stages = []
    for t, p in _leaves(pipeline, params):
        stage = stage_for(t, p, sample_rate=sample_rate, n_in=n, rows=rows, mono=mono, dtype=dtype)
        if stage is None:
            raise ParameterError(f"{type(t).__name__} has no blockwise form (see noisegen.transforms.block_stages); "
                                 "process this input in one pass")
        stages.append(stage)
        n = stage.n_out
    return stages


def blockwise_unsupported(pipeline, params, *, sample_rate) -> str | None:
    """The name of the first transform ``params`` apply that has no streaming form, or None
    (ParameterError for ``params`` not recorded by ``pipeline``).

    Examples
    --------
    >>> from noisegen.transforms import Clip, Compose, Gain
    >>> pipe = Compose([Gain(p=1.0), Clip(p=1.0)])
    >>> blockwise_unsupported(pipe, pipe.draw_params(None, sample_rate=16000, rng=0), sample_rate=16000)
    'Clip'
    """
    sample_rate = check_sample_rate(sample_rate)
    for t, p in _leaves(pipeline, _checked_params(pipeline, params, sample_rate)):
        if stage_for(t, p, sample_rate=sample_rate, n_in=1, rows=1, mono=True, dtype=np.float32) is None:
            return type(t).__name__
    return None


def _run(stages, source):
    """Blocks through fresh processors of ``stages``, then each one's flush through the ones after it.

    The blocks have the declared layout however short they are (the last of a file, a stage's): the
    channels-last rule is not applied to them (:mod:`noisegen._core.layout`; set per step, never across a
    yield, so the caller's code between blocks keeps it)."""
    procs = [s.open() for s in stages]
    for block in source:
        with layout_known():
            for p in procs:
                block = p.process(block)
        yield block
    for j, p in enumerate(procs):
        with layout_known():
            tail = p.flush()
            for q in procs[j + 1:]:
                tail = q.process(tail)
        yield tail


def _checked(blocks, n, n_channels, dtype):
    """The input blocks as C-contiguous ``(rows, n_i)`` arrays of ``dtype``: float audio of the declared
    layout (``(n_i,)`` for ``n_channels`` None, else ``(n_channels, n_i)``), finite in ``dtype``, and
    ``n`` samples at most in all (the stages were built for ``n``)."""
    lead, seen = () if n_channels is None else (n_channels,), 0
    for block in blocks:
        with layout_known():  # (its layout is declared: n_channels, checked next)
            block = check_audio(block, "block", finite=False)  # finiteness: below, in the dtype it runs in
        if block.shape[:-1] != lead:
            expected = "(n_i,)" if n_channels is None else f"({n_channels}, n_i)"
            raise ParameterError(f"block must have shape {expected} (n_channels={n_channels}), got shape {block.shape}")
        seen += block.shape[-1]
        if seen > n:
            raise ParameterError(f"blocks must hold n={n} samples in all, got at least {seen}")
        with np.errstate(over="ignore"):  # (a float64 sample beyond float32's range becomes inf: refused below)
            block = np.ascontiguousarray(block[None] if block.ndim == 1 else block, dtype=dtype)
        if not np.isfinite(block).all():
            raise nonfinite_error(block, "block")
        yield block


def apply_blockwise(pipeline, params, blocks, *, n, sample_rate, n_channels=None, dtype=np.float32):
    """Apply ``pipeline`` with ``params`` to an ``n``-sample signal given as blocks; yield the output's blocks.

    Parameters
    ----------
    pipeline : Transform
    params : dict
        Drawn for this input's shape (e.g. ``draw_params(SignalShape(...))``).
    blocks : callable
        ``blocks()`` returns a fresh iterator over the input's blocks
        (``(n_i,)`` or ``(n_channels, n_i)``, concatenating to ``n`` samples);
        called once per pass (see the module notes).
    n : int
        The input's length.
    sample_rate : int
    n_channels : int or None
        None for mono ``(n,)`` blocks.
    dtype : float32 or float64

    Yields
    ------
    np.ndarray
        Output blocks (of any lengths, some maybe empty) that concatenate to
        ``pipeline.apply_params(whole, params, sample_rate=sample_rate)``.

    Raises
    ------
    ParameterError
        ``params`` not recorded by ``pipeline`` (as :meth:`~noisegen.transforms.Transform.apply_params`
        checks them), a transform without a streaming form, a block that is not float audio
        of the declared layout, blocks holding more than ``n`` samples,
        non-finite input samples, or a time stretch of a signal whose peak
        lies outside [2**-60, 2**60].

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Compose, AddColoredNoise, SpeedPerturb
    >>> from noisegen.transforms.shape import SignalShape
    >>> pipe = Compose([SpeedPerturb(factors=[1.1], p=1.0), AddColoredNoise(p=1.0)])
    >>> y = np.sin(np.arange(8000) / 9.0).astype(np.float32)
    >>> params = pipe.draw_params(SignalShape(y.shape, y.dtype), sample_rate=8000, rng=0)
    >>> out = np.concatenate(list(apply_blockwise(pipe, params, lambda: np.array_split(y, 5), n=8000,
    ...                                           sample_rate=8000)))
    >>> bool(np.abs(out - pipe.apply_params(y, params, sample_rate=8000)).max() < 1e-6)
    True
    """
    sample_rate, dtype = check_sample_rate(sample_rate), check_float_dtype(dtype)
    n_channels = check_n_channels(n_channels)
    n = check_n_samples(n, "n", n_channels=n_channels)
    if not callable(blocks):
        raise ParameterError(f"blocks must be a callable returning an iterator over the blocks, got "
                             f"{type(blocks).__name__}")
    params = _checked_params(pipeline, params, sample_rate)
    rows = 1 if n_channels is None else n_channels
    if n == 0:  # no blocks to stream (the streaming stages need at least one): the one pass itself
        empty = np.zeros((0,) if n_channels is None else (rows, 0), dtype)
        with layout_known():  # (its layout is declared: 100 channels of 0 samples is no (samples, channels))
            return iter([pipeline.apply_params(empty, params, sample_rate=sample_rate)])
    stages = _stages(pipeline, params, n, sample_rate, n_channels, dtype)
    return _apply(stages, lambda: _checked(blocks(), n, n_channels, dtype), n_channels is None)


def _apply(stages, checked, mono):
    for i, stage in enumerate(stages):
        measurer = stage.measurer()
        if measurer is not None:  # a first pass through the stages before it
            for block in _run(stages[:i], checked()):
                with layout_known():
                    measurer.feed(block)
            stage.measured(measurer)
    for stage in stages:  # each stage's warning once, in order, as the one pass gives them
        stage.notify()
    for block in _run(stages, checked()):
        yield block[0] if mono else block
