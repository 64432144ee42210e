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
