"""Compositions: apply several transforms, one of them, or some of them.

A chosen child of ``OneOf`` or ``SomeOf`` always applies (its own ``p`` is
ignored); ``Compose`` runs every child with its own ``p``.

Their ``last_params`` nest the children's: ``{"name": ..., "applied": ...,
"indices": [i, ...], "transforms": [params of child i, ...]}`` where
``indices`` are the children that ran, in the order they ran.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._core.validation import show_value, check_int, check_real, check_sequence
from .._core.layout import layout_known
from .._core.errors import ParameterError
from .base import Transform, checked_audio, nested_from_dict
from .shape import SignalShape, length_after
from .target import stages_kept

__all__ = ["Compose", "OneOf", "SomeOf"]


def _check_transforms(transforms, name="transforms"):
    if isinstance(transforms, Transform) or not isinstance(transforms, (list, tuple)):
        raise ParameterError(f"{name} must be a list of transforms, got {type(transforms).__name__} {show_value(transforms)}")
    out = []
    for i, t in enumerate(transforms):
        if isinstance(t, dict):
            t = nested_from_dict(t, f"{name}[{i}]")
        if not isinstance(t, Transform):  # (it said only "got type" of Compose([Gain, Clip]))
            called = f" (a class: call it, {t.__name__}())" if isinstance(t, type) and issubclass(t, Transform) else ""
            raise ParameterError(f"{name}[{i}] must be a Transform (or its dict), got {show_value(t)}{called}")
        out.append(t)
    return out


def _check_weights(weights, n):
    """OneOf's ``weights``: None, or ``n`` non-negative numbers (floats) with a positive, finite sum."""
    if weights is None:
        return None
    weights = check_sequence(weights, "weights")  # a list, tuple or 1-D array
    if len(weights) != n:
        raise ParameterError(f"weights must be a list of {n} non-negative numbers, got {weights!r}")
    w = [check_real(x, f"weights[{i}]", low=0.0) for i, x in enumerate(weights)]
    if sum(w) <= 0:
        raise ParameterError(f"weights must not all be 0, got {weights!r}")
    if not math.isfinite(sum(w)):  # the probabilities would be 0/inf and NaN: always the first
        raise ParameterError(f"weights must have a finite float64 sum, got {weights!r}")
    return w


def _check_k(k, n):
    """SomeOf's ``k`` as ``(kmin, kmax)``, each in ``[0, n]`` (``kmax=None``: ``n``)."""
    if isinstance(k, numbers.Real) and not isinstance(k, (bool, np.bool_)):  # (2.0 as in k=[2.0, 2.0])
        kmin = kmax = check_int(k, "k", low=0, high=n)
    # (np.ndim of a ragged list such as [[1], 2] raised NumPy's bare ValueError)
    elif (isinstance(k, (list, tuple)) or (isinstance(k, np.ndarray) and k.ndim == 1)) and len(k) == 2:
        kmin = check_int(k[0], "k[0]", low=0, high=n)
        kmax = n if k[1] is None else check_int(k[1], "k[1]", low=0, high=n)
        if kmin > kmax:
            raise ParameterError(f"k must be (kmin, kmax) with kmin <= kmax, got {tuple(k)!r}")
    else:
        raise ParameterError(f"k must be an int or a (kmin, kmax) pair, got {k!r}")
    return kmin, kmax


def _all_children(k) -> bool:
    """Whether ``k`` (checked by :func:`_check_k`) is a ``(kmin, None)`` range: all children at most."""
    return not isinstance(k, numbers.Real) and k[1] is None


class _Composition(Transform):
    def __init__(self, transforms, *, p):
        super().__init__(p=p)
        self.transforms = _check_transforms(transforms)

    def prepare(self, sample_rate):
        for t in self.transforms:
            t.prepare(sample_rate)

    def __getstate__(self):
        """What a pickle or copy holds: not the last draw's audio, kept for the call that applies it (a
        pipeline previewed with ``draw_params(y)`` pickled its input and output to every worker)."""
        return {**self.__dict__, "_cached": None, "_stages": None}

    def draw_params(self, y, *, sample_rate, rng, force=False) -> dict:
        # a composition's draw applies its children to audio (each draws from the output before it): the
        # audio is scanned for NaN/inf as a call scans it (a child's application scanned it for itself, until
        # the children applied what they drew unchecked: Compose([Clip()]).draw_params(nan) drew)
        if y is not None and not isinstance(y, SignalShape):
            y = checked_audio(y)
        return super().draw_params(y, sample_rate=sample_rate, rng=rng, force=force)

    def _choose(self, gen) -> list[int]:
        raise NotImplementedError

    def _drawable(self, indices) -> str | None:
        """None when :meth:`_choose` could draw ``indices``, else what it draws (for the error)."""
        raise NotImplementedError

    #: Whether a chosen child always applies (OneOf, SomeOf) or draws its own ``p`` (Compose).
    _chosen_apply = False

    def _draw(self, y, sample_rate, gen, force):
        """Draw which children run and, in turn, their parameters (see :meth:`Transform.draw_params`).

        Each child draws from the output of the children before it, so with
        audio the children also run here; the output is kept for the call
        that applies these parameters. With ``y=None`` only the draws are made.
        """
        applied = bool(gen.random() < self.p) or force
        params = {"name": type(self).__name__, "applied": applied}
        out, stages = y, [y]
        if applied:
            indices = self._choose(gen)
            children = []
            with layout_known():  # (y is checked: the children's outputs are laid out as it is)
                for i in indices:
                    t = self.transforms[i]
                    child = t._draw_for_call(out, sample_rate, gen, self._chosen_apply)
                    if out is not None:
                        out = t._apply_drawn(out, sample_rate, child)
                        stages.append(out)
                    children.append(child)
            params["indices"] = indices
            params["transforms"] = children
        state = self.__dict__  # (per-call attributes are set past __setattr__: see base._PER_CALL)
        state["_cached"] = None if y is None else (params, y, out)
        self._keep_stages(params, stages)
        state["last_params"] = params
        return params

    def _keep_stages(self, params, stages):
        """Keep the children's outputs for :meth:`_target_step` (only while a target is wanted)."""
        self.__dict__["_stages"] = (params, stages) if stages_kept() and stages[0] is not None else None

    def _target_step(self, y, out, target, sample_rate, params, mode):
        """Each child's target step in turn, on the inputs it had (kept, or recomputed)."""
        if not params["applied"] or y.shape[-1] == 0:
            return target
        state = self.__dict__
        kept, state["_stages"] = state.get("_stages"), None
        if kept is not None and kept[0] is params and kept[1][0] is y:
            stages = kept[1]
        else:  # not drawn or applied just now: replay the children
            stages = [y]
            for i, child in zip(params["indices"], params["transforms"]):
                step = self.transforms[i]
                stages.append(step._apply_checked(stages[-1], sample_rate, child) if child["applied"] else stages[-1])
        for j, (i, child) in enumerate(zip(params["indices"], params["transforms"])):
            target = self.transforms[i]._target_step(stages[j], stages[j + 1], target, sample_rate, child, mode)
        return target

    def _check_params(self, params, sample_rate, name="params"):
        clean = super()._check_params(params, sample_rate, name)
        if not clean["applied"]:
            return clean
        indices, children = params.get("indices"), params.get("transforms")
        if not isinstance(indices, list) or not isinstance(children, list) or len(indices) != len(children):
            raise ParameterError(
                f"{name} must hold 'indices' and 'transforms', two lists of the same length "
                f"(as {type(self).__name__}.last_params does), got {show_value(indices)} and {show_value(children)}"
            )
        n = len(self.transforms)
        clean["indices"] = [check_int(i, f"{name}['indices'][{j}]", low=0, high=n - 1) for j, i in enumerate(indices)]
        why = self._drawable(clean["indices"])
        if why:  # (a replay must be one the draws could make: a child twice, or one left out, is none)
            raise ParameterError(f"{name}['indices'] must be {why}, got {show_value(indices)}")
        clean["transforms"] = [
            self.transforms[i]._check_params(child, sample_rate, f"{name}['transforms'][{j}]")
            for j, (i, child) in enumerate(zip(clean["indices"], children))
        ]
        if self._chosen_apply:  # (a chosen child always applies: a replay that skips one is none a draw makes)
            for j, child in enumerate(clean["transforms"]):
                if not child["applied"]:
                    raise ParameterError(f"{name}['transforms'][{j}]['applied'] must be True: the children "
                                         f"{type(self).__name__} chooses always apply, got False")
        return clean

    def _apply(self, y, sample_rate, params):
        # params were checked by _check_params, the children's too
        out, stages = y, [y]
        for i, child in zip(params["indices"], params["transforms"]):
            if child["applied"]:
                out = self.transforms[i]._apply_checked(out, sample_rate, child)
            stages.append(out)
        self._keep_stages(params, stages)
        return out

    def _output_length(self, n, sample_rate, params):
        for i, child in zip(params["indices"], params["transforms"]):
            n = length_after(self.transforms[i], n, sample_rate, child)
        return n

    def _config(self):
        return {"transforms": list(self.transforms), "p": self.p}

    def __len__(self):
        return len(self.transforms)

    def __getitem__(self, i):
        return self.transforms[i]


class Compose(_Composition):
    """Apply every transform in turn (each with its own ``p``).

    Parameters
    ----------
    transforms : list of Transform (or their dicts)
    p : float
        Probability that the whole chain is applied.
    shuffle : bool
        Run the transforms in a random order (drawn from ``rng``, recorded).

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import Compose, Gain
    >>> chain = Compose([Gain(min_gain_db=-6, max_gain_db=-6, p=1.0), Gain(min_gain_db=6, max_gain_db=6, p=1.0)])
    >>> y = np.full(4, 0.5)
    >>> np.allclose(chain(y, sample_rate=16000, rng=0), y)
    True
    >>> chain.last_params["indices"]
    [0, 1]
    """

    def __init__(self, transforms, *, shuffle: bool = False, p: float = 1.0):
        super().__init__(transforms, p=p)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ParameterError(f"shuffle must be a bool, got {shuffle!r}")
        self.shuffle = bool(shuffle)

    def _choose(self, gen):
        n = len(self.transforms)
        if self.shuffle:
            return [int(i) for i in gen.permutation(n)]
        return list(range(n))

    def _drawable(self, indices):
        n = len(self.transforms)
        if self.shuffle:
            return None if sorted(indices) == list(range(n)) else f"an order of all {n} children (each once)"
        return None if indices == list(range(n)) else f"{list(range(n))} (every child, in order: shuffle=False)"

    def _config(self):
        return {"transforms": list(self.transforms), "shuffle": self.shuffle, "p": self.p}


class OneOf(_Composition):
    """Apply one transform, chosen at random (optionally weighted).

    Parameters
    ----------
    transforms : list of Transform (or their dicts)
    weights : list of float or None
        Relative probabilities of the transforms (non-negative, not all 0);
        None for equal weights.
    p : float
        Probability that one transform is applied at all.

    Notes
    -----
    The chosen child always applies: its own ``p`` is ignored (kept only in
    its dict). ``OneOf([a, b], p=0.5)`` applies ``a`` or ``b`` on half of the
    calls, whatever ``a.p`` and ``b.p`` are.
    """

    _chosen_apply = True

    def __init__(self, transforms, *, weights=None, p: float = 1.0):
        super().__init__(transforms, p=p)
        if not self.transforms:
            raise ParameterError("transforms must hold at least one transform for OneOf")
        # (assigned later, checked as here by Transform.__setattr__'s rebuild; the draws follow it)
        self.weights = _check_weights(weights, len(self.transforms))

    def _choice_cdf(self):
        """The CDF a draw searches, made from the weights and children as they stand now (a list
        changed in place, a child appended), kept while they stay so."""
        key = (len(self.transforms), None if self.weights is None else tuple(self.weights))
        kept = getattr(self, "_cdf", None)  # (an array in a pickle of the previous release)
        if not isinstance(kept, tuple) or kept[0] != key:
            weights = _check_weights(self.weights, len(self.transforms))
            probs = np.full(key[0], 1.0 / key[0]) if weights is None else np.asarray(weights) / sum(weights)
            # gen.choice(n, p=probs) draws one uniform and finds it in this CDF; done here without
            # choice's checks of p (~25 us a call), with the same draw and the same index
            cdf = np.cumsum(np.asarray(probs, dtype=np.float64))
            kept = self._cdf = (key, cdf / cdf[-1])
        return kept[1]

    def _choose(self, gen):
        return [int(self._choice_cdf().searchsorted(gen.random(), side="right"))]

    def _drawable(self, indices):
        if len(indices) == 1 and (self.weights is None or self.weights[indices[0]] > 0):
            return None
        return "one child's index" if self.weights is None else "one index of a child whose weight is above 0"

    def _config(self):
        return {"transforms": list(self.transforms), "weights": self.weights, "p": self.p}


class SomeOf(_Composition):
    """Apply ``k`` transforms chosen at random (in their listed order).

    Parameters
    ----------
    transforms : list of Transform (or their dicts)
    k : int or (int, int)
        How many to apply: a fixed count, or a ``(kmin, kmax)`` range drawn
        uniformly (inclusive; ``kmax=None`` means all of them).
    p : float
        Probability that any is applied.

    Notes
    -----
    Every chosen child applies: its own ``p`` is ignored (kept only in its
    dict), so ``k`` transforms really run whenever the composition applies.
    """

    _chosen_apply = True

    def __init__(self, transforms, *, k, p: float = 1.0):
        super().__init__(transforms, p=p)
        self.k = _check_k(k, len(self.transforms))  # (assigned later: checked as here, by the rebuild)
        # kmax=None is "all of them" as the children stand: kept, or children assigned or appended later
        # were capped at the count of the first ones (to_dict wrote that count)
        self._k_all = _all_children(k)

    def _k_range(self):
        kmin, kmax = self.k
        return (kmin, len(self.transforms)) if self.__dict__.get("_k_all") else (kmin, kmax)  # (older pickles: none)

    def _choose(self, gen):
        # against the children as they stand (one removed in place: NumPy's ValueError, "Cannot take a
        # larger sample than population"), as OneOf checks its weights
        kmin, kmax = _check_k(self._k_range(), len(self.transforms))
        count = kmin if kmin == kmax else int(gen.integers(kmin, kmax + 1))
        chosen = gen.choice(len(self.transforms), size=count, replace=False)
        return sorted(int(i) for i in chosen)

    def _drawable(self, indices):
        kmin, kmax = self._k_range()
        ok = kmin <= len(indices) <= kmax and all(a < b for a, b in zip(indices, indices[1:]))
        return None if ok else f"{kmin}..{kmax} distinct children's indices in their listed order"

    def _config(self):
        kmin, kmax = self.k
        k = [kmin, None] if self.__dict__.get("_k_all") else kmin if kmin == kmax else [kmin, kmax]
        return {"transforms": list(self.transforms), "k": k, "p": self.p}
