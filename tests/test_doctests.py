"""Run the Examples sections of every noisegen module's docstrings.

The modules are found by walking the package, so a new module's examples
run without being listed here.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import noisegen

# The CUDA kernels need numba-cuda to import; ``__main__`` runs the CLI.
NOT_IMPORTED = ("noisegen._kernels.cuda", "noisegen.__main__")
# Adapters for optional extras: their examples run where the extra is installed (CI installs them).
OPTIONAL = {"noisegen.data.lhotse": "lhotse", "noisegen.lhotse": "lhotse", "noisegen.data.hf": "datasets",
            "noisegen.hf": "datasets", "noisegen.torch": "torch"}

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(noisegen.__path__, "noisegen.")
    if not m.name.startswith(NOT_IMPORTED)
)


def test_every_module_with_examples_is_collected():
    assert "noisegen.synth.noise" in MODULES and "noisegen.effects.mix" in MODULES
    assert len(MODULES) > 60


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in OPTIONAL:
        pytest.importorskip(OPTIONAL[name])
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, extraglobs={"np": np}, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"


def _public_callables():
    """Every public function and class of ``noisegen`` (and its cuda and batch packages), with
    the public methods a user calls, as ``(name, callable, docstring)``; dataclass records and
    the subclass hooks (``randomize``, ``prepare``) aside."""
    import dataclasses
    import inspect

    import importlib

    import noisegen.batch
    import noisegen.cuda

    modules = [(noisegen, ""), (noisegen.cuda, "cuda."), (noisegen.batch, "batch.")]
    for extra in ("torch", "hf", "lhotse", "ray"):  # the integrations, where their library is installed
        try:
            modules.append((importlib.import_module(f"noisegen.{extra}"), f"{extra}."))
        except ImportError:
            pass
    found = []
    for module, prefix in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                if dataclasses.is_dataclass(obj) or issubclass(obj, BaseException):
                    continue
                found.append((prefix + name, obj.__init__, (obj.__doc__ or "") + (obj.__init__.__doc__ or "")))
                for method, fn in vars(obj).items():
                    if callable(fn) and not method.startswith("_") and method not in ("randomize", "prepare"):
                        found.append((f"{prefix}{name}.{method}", fn, fn.__doc__ or ""))
            elif callable(obj):
                found.append((prefix + name, obj, obj.__doc__ or ""))
    return found


def test_every_public_parameter_is_documented():
    """A parameter a public function takes is named in its docstring (or the docstring defers its
    arguments to another's: "arguments as :func:`lowpass`")."""
    import inspect
    import re

    missing = {}
    for name, fn, doc in _public_callables():
        if not doc or re.search(r"rguments as :(func|meth|class):", doc):
            continue
        try:
            parameters = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            continue
        lost = [p.name for p in parameters if p.name not in ("self", "cls")
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and not re.search(rf"\b{p.name}\b", doc)]
        if lost:
            missing[name] = lost
    assert missing == {}
