"""What a config that misspells a transform's name or one of its arguments is told: the name it
most likely meant, and the names there are (a config is typed by hand: ``"mni_gain_db"``, ``"gain"``)."""

from __future__ import annotations

import difflib
import functools
import inspect

from .._core.errors import ParameterError

__all__ = ["built", "close_to", "step_label", "unknown_arguments", "unknown_name"]


def close_to(word, choices) -> str:
    """``" (did you mean 'X'?)"`` for the one of ``choices`` closest to ``word`` (case aside), or ``""``."""
    by_lower = {c.lower(): c for c in choices}
    hit = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[hit[0]]!r}?)" if hit else ""


def unknown_name(name, named: bool, config: dict, registry) -> str:
    """What a config whose ``name`` (``named``: given at all) names no transform in ``registry`` is told."""
    if not named:  # (torch-audiomentations' {"transform": ..., "params": ...}: said so)
        said = f"no 'name' in keys {sorted(map(str, config))}"
    else:  # ({"name": null} was said to have no 'name')
        said = f"unknown transform name {name!r}{close_to(name, registry) if isinstance(name, str) else ''}"
    return f"{said}; expected one of {', '.join(sorted(registry))}"


def unknown_arguments(cls, config: dict) -> str | None:
    """What to say of the keys of ``config`` that ``cls``'s constructor does not take, or None when it
    takes them all (or takes any keyword: a user's ``**kwargs``). Python said only "__init__() got an
    unexpected keyword argument", never what the transform takes nor which one was meant."""
    takes = _takes(cls)
    if takes is None:
        return None
    unknown = [key for key in config if key not in takes]
    if not unknown:
        return None
    said = ", ".join(f"{key!r}{close_to(key, takes)}" for key in unknown)
    return f"unknown argument{'s' if len(unknown) > 1 else ''} {said}; {cls.__name__} takes {', '.join(takes)}"


@functools.lru_cache(maxsize=None)
def _takes(cls) -> tuple | None:
    """The names ``cls``'s constructor takes as keywords, None for any (``**kwargs``); once per class (a
    config of 450,000 transforms took three times as long to load, asking inspect.signature each time)."""
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    return tuple(n for n, p in params.items() if p.kind is not p.VAR_POSITIONAL)


def built(cls, config: dict):
    """``cls(**config)``; a key its constructor does not take, or its TypeError, is a ParameterError."""
    if why := unknown_arguments(cls, config):
        raise ParameterError(f"bad arguments for {cls.__name__}: {why}")
    try:
        return cls(**config)
    except TypeError as exc:
        raise ParameterError(f"bad arguments for {cls.__name__}: {exc}") from None


def step_label(where: str, config) -> str:
    """``where`` a nested config sits, with the transform it names (``transforms[2] (Gain)``); a name that does
    not print as it stands (a line break; an escape sequence, which reached the terminal raw) as its repr."""
    name = config.get("name") if isinstance(config, dict) else None
    if not isinstance(name, str):
        return where
    return f"{where} ({name if name.isprintable() else repr(name)})"
