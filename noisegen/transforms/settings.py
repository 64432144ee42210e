"""Telling a transform under construction from a built one: what lets :meth:`Transform.__setattr__`
check a setting assigned after construction as the constructor checks it (by building the transform
anew with it), and leave the constructor's own assignments alone."""

from __future__ import annotations

import functools
import inspect

__all__ = ["DEPTH", "built_in", "counting_construction", "kept_setting", "rebuilds", "rebuilt_arguments"]


def built_in(cls) -> bool:
    """A transform class defined in the noisegen package."""
    return cls.__module__ == "noisegen" or cls.__module__.startswith("noisegen.")


#: Where an instance counts how deep its construction is: Transform's private name (mangled as ``__building``
#: is), so that a user's transform may hold its own ``_building`` (one was overwritten with 0 after construction).
DEPTH = "_Transform__building"


def counting_construction(init):
    """``init`` (a transform class's constructor) counting in ``self.__building`` how deep construction
    is, so that :meth:`Transform.__setattr__` tells a built transform's settings from its constructor's."""
    def wrapped(self, *args, **kwargs):
        depth = self.__dict__.get(DEPTH, 0)
        object.__setattr__(self, DEPTH, depth + 1)
        try:
            init(self, *args, **kwargs)
        finally:
            object.__setattr__(self, DEPTH, depth)
    wrapped.__wrapped__ = init
    for attr in ("__doc__", "__name__", "__qualname__", "__module__"):
        setattr(wrapped, attr, getattr(init, attr))
    return wrapped


def rebuilds(transform, name) -> bool:
    """Whether assigning ``name`` to ``transform`` builds it anew (:meth:`Transform._rebuild_with`): a
    built transform of noisegen's own (no count at all: unpickled from a release before the count, so
    built) and one of its constructor arguments, held under its own name or not: a source (``noise``,
    ``sounds``, ``rir``) lives in a bank, and ``t.noise = folder`` was kept aside, unused and unsaid."""
    return (name[0] != "_" and name != "last_params" and transform.__dict__.get(DEPTH, 0) == 0
            and built_in(type(transform)) and name in _arguments(type(transform)))


def rebuilt_arguments(transform, name, value) -> dict:
    """What :meth:`Transform._rebuild_with` builds ``transform`` anew with: its ``_config()``, what its class's
    ``_more_arguments(name, value)`` adds (constructor arguments kept in a bank: ApplyImpulseResponse's
    rir_sample_rate), and ``name=value``."""
    more = getattr(transform, "_more_arguments", None)
    return {**transform._config(), **({} if more is None else more(name, value)), name: value}


@functools.lru_cache(maxsize=None)
def _arguments(cls) -> frozenset:
    """The names ``cls``'s constructor takes (not only _config()'s: ApplyImpulseResponse's rir_sample_rate,
    which its bank keeps, was kept aside unused)."""
    return frozenset(inspect.signature(cls).parameters)


class kept_setting:
    """A constructor argument a built-in keeps elsewhere (a source, in a bank), read back from its ``_config()``.

    Not a property: a property with no setter made a user's subclass that assigns the name (``self.noise =
    noise`` in its ``__init__``) an AttributeError; this descriptor lets the instance's own attribute win,
    as any setting of a user's class does. A built-in's assignment is a rebuild (:func:`rebuilds`)."""

    def __init__(self, doc):
        self.__doc__ = doc

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, transform, owner=None):
        return self if transform is None else transform._config()[self.name]
