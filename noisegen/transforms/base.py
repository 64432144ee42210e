"""The transform base class: random parameters, replay and JSON round trips.

A :class:`Transform` holds ranges and a probability ``p`` (validated in ``__init__``, so a bad configuration
fails at construction). Calling it draws its parameters from ``rng`` and applies the functional effect it wraps::

    out = t(y, sample_rate=16000, rng=0)
    t.last_params        # {"name": "Gain", "applied": True, "gain_db": -3.2}
    params = t.draw_params(y, sample_rate=16000, rng=0)  # the same draw, nothing applied
    t.apply_params(y, params, sample_rate=16000)         # the same output

Every random choice a transform makes is recorded in ``last_params`` (a plain JSON-able dict, nested for
compositions). :meth:`Transform.apply_params` checks a ``params`` dict before using it: a missing key, a wrong
type or a value out of range is a :class:`~noisegen.ParameterError` naming the key.

An empty input (``(0,)`` or ``(n_channels, 0)``) comes back unchanged (the same object, see ``__call__``) from
every transform and composition. Its parameters are still drawn from ``rng`` and recorded, as for
any input, so a pipeline's draws do not change when one clip is empty; replaying them returns the
empty input. Randomness inside an effect (the samples of a synthetic noise, the positions of short
noises) is keyed by a ``seed`` drawn from ``rng`` and recorded too, so replaying ``last_params``
reproduces the output bit for bit.

``to_dict()`` gives ``{"name": <class name>, **constructor arguments}``; ``Transform.from_dict``
(or :func:`load_pipeline` for a JSON file) rebuilds the transform from its registered class name.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .._core.validation import (show_value, check_audio, check_bool, check_n_samples, check_probability,
                                 check_sample_rate, nonfinite_error)
from .._core.layout import layout_known
from .._core.errors import NoisegenWarning, ParameterError
from .._core.rng import as_generator
from ..audio.bank import NoiseBank
from ..effects.level import all_finite
from .config_names import built, step_label, unknown_name
from .pipeline_file import read_pipeline_file, resolve_paths
from .shape import SignalShape, drawn_from, length_after
from .target import check_target_mode, fit_length, keeping_stages
from .settings import built_in as _built_in, counting_construction as _building, rebuilds as _rebuilds, rebuilt_arguments

__all__ = ["Transform", "load_pipeline"]

_REGISTRY: dict[str, type] = {}

#: Attributes a call sets, never constructor arguments: assigned without :meth:`Transform.__setattr__`'s checks
#: (the call paths write them into ``__dict__``: a Compose of four set them 12 times a call, 3 us through it).
_PER_CALL = frozenset(("last_params", "_cached", "_stages"))

#: Deepest nesting of dicts and lists a pipeline config may have (32 levels of compositions).
MAX_PIPELINE_DEPTH = 64


def _jsonable(value, first_channel=False):
    """Constructor arguments as JSON values (recursively): tuples to lists, numpy scalars to Python scalars,
    a transform to its :meth:`~Transform.to_dict`, a bank to its files (:meth:`NoiseBank.config`)."""
    if isinstance(value, Transform):
        return value.to_dict()
    if isinstance(value, NoiseBank):
        return value.config(first_channel=first_channel)  # ParameterError for a bank of arrays
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, first_channel) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, first_channel) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


class Transform:
    """Base class of every random transform.

    Subclasses define :meth:`randomize` (draw their own parameters from a
    :class:`numpy.random.Generator`, return a dict of plain Python values;
    :meth:`draw_params` adds ``name`` and ``applied``),
    :meth:`_apply` (apply the effect for given parameters, deterministically)
    and :meth:`_config` (the constructor arguments, for :meth:`to_dict` and ``repr``: plain
    values, child transforms and banks as they are; :meth:`to_dict` makes them JSON).

    Parameters
    ----------
    p : float
        Probability in [0, 1] that the transform is applied on a call.
    """

    _banks_first_channel = False  # the NoiseBank rule its banks are rebuilt with from a dict
    #: A subclass (a user's) with a draw_params of its own: calls and compositions draw through it (see _draw_for_call).
    _draws_itself = False

    def __init_subclass__(cls, **kwargs):
        """Register the class under its name for :meth:`from_dict`. A class from outside noisegen
        that takes a built-in's name is not registered (a config naming it would build the user's
        class instead of noisegen's, in every later ``from_dict`` and ``--config``): it is warned
        about, and ``from_dict`` builds it only through ``ThatClass.from_dict``."""
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _building(cls.__dict__["__init__"])
        own = "draw_params" in cls.__dict__ and not cls.__module__.startswith("noisegen.")
        cls._draws_itself = own or any(getattr(base, "_draws_itself", False) for base in cls.__bases__)
        if cls.__name__.startswith("_"):
            return
        known = _REGISTRY.get(cls.__name__)
        if known is not None and _built_in(known) and not _built_in(cls):
            warnings.warn(f"{cls.__module__}.{cls.__qualname__} has the name of noisegen's {cls.__name__}: "
                          f"configs naming {cls.__name__!r} still build noisegen's; give it another name to "
                          "load it from a config", NoisegenWarning, stacklevel=2)
            return
        _REGISTRY[cls.__name__] = cls

    def __init__(self, *, p: float = 0.5):
        self.p = p  # (checked by __setattr__)
        self.last_params: dict | None = None
        self._cached = None  # (params, input, output) of a composition's last draw

    def __setattr__(self, name, value):
        if name in _PER_CALL:  # set on every call: no check to make
            return object.__setattr__(self, name, value)
        # ``t.p = 1.5`` after construction is checked as the constructor checks it (it applied always)
        if name == "p":
            value = check_probability(value, "p")
        elif _rebuilds(self, name):
            return self._rebuild_with(name, value)
        super().__setattr__(name, value)

    def _rebuild_with(self, name, value):
        """Set constructor argument ``name`` as building the transform anew with ``value`` would: checked by
        the constructor, what derives from it remade (it was kept unchecked: ``Gain().max_gain_db = 500``
        drew 126 dB gains). Only ``last_params`` is kept."""
        fresh = type(self)(**rebuilt_arguments(self, name, value))
        kept = {k: self.__dict__[k] for k in ("last_params", "_cached") if k in self.__dict__}
        self.__dict__.update(fresh.__dict__, **kept)

    # -- calling -------------------------------------------------------------
    def __call__(self, y, *, sample_rate, rng=None, return_target=None):
        """Draw parameters from ``rng`` (:meth:`draw_params`) and apply them.

        Parameters
        ----------
        y : np.ndarray [shape=(n,) or (n_channels, n)], float32 or float64
        sample_rate : int
        rng : None, int or numpy.random.Generator
            A Generator is advanced by the draws (so consecutive calls differ
            reproducibly); an int always gives the same parameters.
        return_target : {None, "clean", "early"}
            Also return the paired target: ``y`` with every change applied
            that is not a degradation (see :mod:`noisegen.transforms.target`).
            The draws, and so the augmented output, are the same either way.

        Returns
        -------
        np.ndarray, same dtype as ``y`` in native byte order (for a native ndarray ``y``, ``y`` itself
        when the transform is not applied or ``y`` is empty); with ``return_target``,
        ``(augmented, target)``, aligned sample for sample.

        Examples
        --------
        >>> import numpy as np
        >>> from noisegen.transforms import Compose, Gain, TimeMask
        >>> pipe = Compose([TimeMask(min_fraction=0.5, max_fraction=0.5, fade_s=0.0, p=1.0),
        ...                 Gain(min_gain_db=-6.0206, max_gain_db=-6.0206, p=1.0)])
        >>> noisy, target = pipe(np.ones(4), sample_rate=16000, rng=0, return_target="clean")
        >>> np.round(noisy, 3), np.round(target, 3)  # both halved by the gain; only one masked
        (array([0. , 0. , 0.5, 0.5]), array([0.5, 0.5, 0.5, 0.5]))
        """
        return self._call_recorded(y, sample_rate=sample_rate, rng=rng, return_target=return_target)[0]

    def _call_recorded(self, y, *, sample_rate, rng=None, return_target=None):
        """``(what the call returns, the parameters it drew)``: a transform called from several threads
        at once keeps one ``last_params``, the last call's of any thread; this call's are these."""
        y = checked_audio(y)
        sample_rate = check_sample_rate(sample_rate)
        mode = check_target_mode(return_target, "return_target")
        gen = as_generator(rng)
        with layout_known():  # (y is checked: its outputs' layout known)
            if mode is None:
                params = self._draw_for_call(y, sample_rate, gen, False)
                return self._apply_drawn(y, sample_rate, params), params
            with keeping_stages():
                params = self._draw_for_call(y, sample_rate, gen, False)
                out = self._apply_drawn(y, sample_rate, params)
                return (out, self._target_step(y, out, y, sample_rate, params, mode)), params

    def draw_params(self, y, *, sample_rate, rng, force=False) -> dict:
        """Draw the parameters of one application (what a call records in ``last_params``).

        The one way parameters are drawn: the stream and the GPU batch path call it; ``__call__`` and the
        compositions' children enter its core (``_draw``) with their arguments checked once.

        Parameters
        ----------
        y : np.ndarray, SignalShape or None
            The input (draws look at its length, never its samples); a
            :class:`SignalShape` draws what the signal would, without it (long
            recordings in blocks); None for draws that ignore the length (GPU batches).
        sample_rate : int
        rng : None, int or numpy.random.Generator
        force : bool
            Apply whatever ``p`` draws (a child that ``OneOf``/``SomeOf``
            chose); the ``p`` draw is still made, so later draws do not move.

        Returns
        -------
        dict
            ``{"name": <class name>, "applied": bool, ...}``, plain Python
            values (a composition's holds its children's); also kept in
            ``last_params``.

        Examples
        --------
        >>> from noisegen.transforms import Gain
        >>> Gain(min_gain_db=-6, max_gain_db=-6, p=1.0).draw_params(None, sample_rate=16000, rng=0)
        {'name': 'Gain', 'applied': True, 'gain_db': -6.0}
        """
        sample_rate = check_sample_rate(sample_rate)
        y = None if y is None else drawn_from(y, type(self).__name__)
        gen = as_generator(rng)
        force = check_bool(force, "force")  # (before the draw: "no" would have forced it)
        return self._draw(y, sample_rate, gen, force)

    def _draw_for_call(self, y, sample_rate, gen, force):
        """The draw of a call or of a composition's child, its arguments checked: :meth:`_draw`, or a subclass's
        own :meth:`draw_params`, which calls and compositions drew through until they entered _draw directly."""
        if not self._draws_itself:
            return self._draw(y, sample_rate, gen, force)
        params = self.__dict__["last_params"] = self.draw_params(y, sample_rate=sample_rate, rng=gen, force=force)
        return params  # (recorded as drawn: its core recorded what it drew before the subclass changed it)

    def _draw(self, y, sample_rate, gen, force):
        """:meth:`draw_params` of checked arguments: ``y`` None, a SignalShape or checked audio; ``gen`` a
        Generator; ``force`` a bool (a call and a composition's children come here, checked once)."""
        self.prepare(sample_rate)
        applied = bool(gen.random() < self.p) or force
        params = {"name": type(self).__name__, "applied": applied}
        if applied:
            params.update(self.randomize(drawn_from(None, type(self).__name__) if y is None else y, sample_rate, gen))
        self.__dict__["last_params"] = params  # (per-call attributes are set past __setattr__: see _PER_CALL)
        return params

    def _apply_drawn(self, y, sample_rate, params):
        """Apply parameters :meth:`draw_params` just returned (no checks: they are ours).

        A composition computes its output while drawing (each child draws
        from the previous child's output) and keeps it for this call.
        """
        state = self.__dict__
        cached, state["_cached"] = state.get("_cached"), None
        if not params["applied"]:
            return y
        if isinstance(y, SignalShape):  # drawing for a shape: the output's shape
            return y.with_length(length_after(self, y.shape[-1], sample_rate, params))
        if cached is not None and cached[0] is params and cached[1] is y:
            return cached[2]
        return self._apply_checked(y, sample_rate, params)

    def apply_params(self, y, params, *, sample_rate, return_target=None):
        """Apply the transform with given parameters (replay ``last_params``).

        ``return_target`` as in :meth:`__call__`: also return the paired target.

        Raises
        ------
        ParameterError
            When ``params`` is not a dict recorded by this transform: a
            missing key, a value of the wrong type or out of range (the error
            names the key, e.g. ``params['gain_db']``).

        Examples
        --------
        >>> import numpy as np
        >>> from noisegen.transforms import Gain
        >>> t = Gain(min_gain_db=-6, max_gain_db=6, p=1.0)
        >>> y = np.linspace(-0.5, 0.5, 8)
        >>> out = t(y, sample_rate=16000, rng=3)
        >>> np.array_equal(out, t.apply_params(y, t.last_params, sample_rate=16000))
        True
        """
        y = checked_audio(y)
        sample_rate = check_sample_rate(sample_rate)
        mode = check_target_mode(return_target, "return_target")
        self.prepare(sample_rate)
        params = self._check_params(params, sample_rate)
        with keeping_stages(mode is not None), layout_known():  # (y is checked: its outputs' layout known)
            out = self._apply_checked(y, sample_rate, params) if params["applied"] else y
            return out if mode is None else (out, self._target_step(y, out, y, sample_rate, params, mode))

    def _check_params(self, params, sample_rate, name="params") -> dict:
        """A checked copy of ``params``: the keys of :meth:`_param_checks` validated, any other kept as recorded."""
        recorded = params.get("name") if isinstance(params, dict) else None
        if not isinstance(recorded, str) or recorded != type(self).__name__:  # (an array's != is elementwise)
            raise ParameterError(f"{name} must be a dict recorded by {type(self).__name__} (its last_params), "
                                 f"got {show_value(params)}")
        applied = params.get("applied", True)
        if not isinstance(applied, (bool, np.bool_)):
            raise ParameterError(f"{name}['applied'] must be a bool, got {show_value(applied)}")
        clean = {"name": type(self).__name__, "applied": bool(applied)}
        if applied:
            checks = self._param_checks(sample_rate)
            clean.update((k, v) for k, v in params.items() if k not in checks and k not in clean)
            for key, check in checks.items():
                if key not in params:
                    raise ParameterError(f"{name} must hold {key!r} (as {type(self).__name__}.last_params does), "
                                         f"got keys {sorted(map(str, params))}")
                clean[key] = check(params[key], f"{name}[{key!r}]")
        return clean

    def _apply_checked(self, y, sample_rate, params):
        if y.shape[-1] == 0:  # nothing to change; effects need not handle empty input
            return y
        out = self._apply(y, sample_rate, params)
        return out if out.dtype == y.dtype else out.astype(y.dtype)

    def output_length(self, n: int, sample_rate: int, params: dict) -> int:
        """The length :meth:`apply_params` gives an ``n``-sample input at ``sample_rate`` (``params`` checked as it
        checks them)."""
        self.prepare(sample_rate := check_sample_rate(sample_rate))  # (as apply_params, before the checks)
        return length_after(self, check_n_samples(n, "n"), sample_rate, self._check_params(params, sample_rate))

    def _output_length(self, n, sample_rate, params):
        return n  # a non-empty input the transform is applied to; length changers override

    # -- paired targets (see noisegen.transforms.target) ----------------------
    #: True for a degradation, which a paired target skips (noise, reverberation,
    #: codecs, filters, clipping, masks); False for a change the target shares
    #: (gain, level, speed, pitch, stretch, shift, polarity). A transform that
    #: does not say is a degradation.
    degrades = True

    def _target_step(self, y, out, target, sample_rate, params, mode):
        """The paired target after this transform, whose step on the augmented signal took ``y`` to ``out``.

        ``target`` is aligned with ``y``; the result is aligned with ``out``.
        A degradation leaves the target as it is (cut or padded to ``out``'s
        length); a shared change is applied to it with the same ``params``.
        Transforms whose change depends on the signal (a level, splice
        points) override this to take it from ``y``.
        """
        if not params["applied"] or y.shape[-1] == 0:
            return target
        if self.degrades:
            return fit_length(target, out.shape[-1])
        return self._apply_checked(target, sample_rate, params)

    # -- for subclasses ------------------------------------------------------
    def prepare(self, sample_rate: int) -> None:
        """Load and resample whatever the transform needs at ``sample_rate``.

        Called before every call; loading happens once. Call it before
        forking workers so that they share the loaded arrays (copy on write).
        """

    def randomize(self, y, sample_rate, gen) -> dict:
        """Draw this transform's own parameters (plain Python values); ``y`` may be None."""
        return {}

    def _param_checks(self, sample_rate) -> dict:
        """``{key: check(value, name) -> clean value}`` for the keys :meth:`randomize` records (used by
        :meth:`apply_params`, after ``prepare(sample_rate)``; a key left out is replayed unchecked)."""
        return {}

    def _apply(self, y, sample_rate, params):
        raise NotImplementedError

    def _config(self) -> dict:
        """Constructor arguments (JSON-able) for :meth:`to_dict`."""
        return {"p": self.p}

    # -- serialisation -------------------------------------------------------
    def to_dict(self) -> dict:
        """``{"name": <class name>, **constructor arguments}``, JSON-able.

        Examples
        --------
        >>> from noisegen.transforms import Gain
        >>> Gain(min_gain_db=-6, max_gain_db=6, p=0.25).to_dict()
        {'name': 'Gain', 'min_gain_db': -6.0, 'max_gain_db': 6.0, 'p': 0.25}
        """
        return {"name": type(self).__name__, **_jsonable(self._config(), self._banks_first_channel)}

    def to_json(self, **kwargs) -> str:
        """:meth:`to_dict` as a JSON string (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, config: dict) -> "Transform":
        """Build a transform from :meth:`to_dict` output (nested for compositions).

        Unknown names or arguments raise :class:`~noisegen.ParameterError` (in a nested config,
        saying where: ``transforms[2] (OneOf) > transforms[0] (Gain): ...``).
        """
        if not isinstance(config, dict):
            raise ParameterError(f"a transform config must be a dict with a 'name', got {show_value(config)}")
        check_depth(config, "config")
        config, named = dict(config), "name" in config
        name = config.pop("name", None)
        klass = _REGISTRY.get(name) if isinstance(name, str) else None
        if cls is not Transform and name == cls.__name__:  # (a class not registered under its name, too)
            klass = cls
        if klass is None:  # (with the name it most likely meant)
            raise ParameterError(unknown_name(name, named, config, _REGISTRY))
        if cls is not Transform and not issubclass(klass, cls):
            raise ParameterError(f"config names {name!r}, which is not a {cls.__name__}")
        return klass._from_config(config)

    @classmethod
    def _from_config(cls, config: dict) -> "Transform":
        return built(cls, config)  # (a key it does not take is named with the one meant)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())  # a bank: its own short repr
        return f"{type(self).__name__}({args})"


def nested_from_dict(config: dict, where: str) -> "Transform":
    """:meth:`Transform.from_dict` of a config nested in another's argument ``where`` (``transforms[2]``,
    ``noise_transform``): its errors say where it sits, after the steps of any nested deeper."""
    try:
        return Transform.from_dict(config)
    except ParameterError as exc:
        steps = [step_label(where, config), *getattr(exc, "config_steps", ())]
        located = type(exc)(f"{' > '.join(steps)}: {getattr(exc, 'config_message', exc)}")
        located.config_steps, located.config_message = steps, getattr(exc, "config_message", str(exc))
        raise located from None


def load_pipeline(path_or_dict, *, name="path_or_dict") -> Transform:
    """Load a transform (usually a composition) from ``path_or_dict``: a JSON file or a dict.

    A JSON list is read as ``Compose`` of its items. In a file, relative ``noise``, ``sounds`` and
    ``rir`` paths are relative to the file's folder. Errors name ``name`` (a caller's own argument).

    Examples
    --------
    >>> p = load_pipeline({"name": "Gain", "min_gain_db": -3, "max_gain_db": 3, "p": 1.0})
    >>> type(p).__name__
    'Gain'
    """
    if not isinstance(name, str):  # (only words for messages: NaN or a dict was taken and shown there)
        raise ParameterError(f"name must be a str (what messages call path_or_dict), got {show_value(name)}")
    config = path_or_dict
    from_file = isinstance(config, (str, os.PathLike))
    if from_file:
        shown = repr(os.fspath(path_or_dict))
        try:
            config = read_pipeline_file(config)
        except ParameterError as exc:  # not a regular file (a FIFO would block), too big, a key named twice
            raise ParameterError(f"{name}: {exc}") from None
        except UnicodeDecodeError:
            raise ParameterError(f"{name}: {shown} is not UTF-8 text (a pipeline is JSON)") from None
        except json.JSONDecodeError as exc:
            raise ParameterError(f"{name}: {shown} is not valid JSON: {exc}") from None
        except ValueError as exc:  # a number of more than 4300 digits (sys.get_int_max_str_digits)
            raise ParameterError(f"{name}: {shown} cannot be read as JSON: {exc}") from None
        except OSError as exc:  # missing, unreadable (a NUL byte is check_path's ParameterError)
            raise ParameterError(f"{name}: cannot read pipeline file {show_value(path_or_dict)}: {exc}") from None
        except RecursionError:  # the JSON parser's own limit, far below a pipeline's
            raise ParameterError(f"{name}: {shown} nests deeper than {MAX_PIPELINE_DEPTH} levels") from None
    if not isinstance(config, (dict, list)):
        also = "" if name == "path_or_dict" else "a Transform, "  # (a caller's own argument takes one too)
        what = (f"{name}: a JSON file must hold a pipeline" if from_file else
                f"{name} must be {also}a pipeline config or the path of a JSON file of one")
        raise ParameterError(f"{what} (a dict or a list of dicts), got {show_value(config)}")
    check_depth(config, f"{name}: {shown}" if from_file else name)  # (a file: named as the parser's limit names it)
    if from_file:  # relative noise/RIR paths in a file mean "next to this file", not "next to the caller"
        config = resolve_paths(config, os.path.dirname(os.path.abspath(path_or_dict)))
    if isinstance(config, list):
        config = {"name": "Compose", "transforms": config}
    return Transform.from_dict(config)


def check_depth(config, name: str) -> None:
    """Refuse dicts and lists nested deeper than :data:`MAX_PIPELINE_DEPTH` (or cyclic),
    without recursing, before anything walks them recursively."""
    level, depth = [config], 0
    while level:
        depth += 1
        if depth > MAX_PIPELINE_DEPTH:
            raise ParameterError(f"{name} nests dicts and lists deeper than {MAX_PIPELINE_DEPTH} levels "
                                 "(noisegen.transforms.base.MAX_PIPELINE_DEPTH)")
        children = {}  # by id: a structure shared many times is walked once per level
        for item in level:
            for v in item.values() if isinstance(item, dict) else item:
                if isinstance(v, (dict, list, tuple)):
                    children[id(v)] = v
        level = list(children.values())


def checked_audio(y):
    """``check_audio(y, "y")``, its NaN/inf scan by :func:`all_finite` (a third to half of NumPy's time: a
    transform's every call scans its input; a composition's draw on audio too)."""
    y = check_audio(y, "y", finite=False)
    if not all_finite(y):
        raise nonfinite_error(y, "y")
    return y
