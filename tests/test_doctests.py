"""Run the Examples sections of the public modules' docstrings."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

MODULES = [
    "noisegen.units",
    "noisegen.rng",
    "noisegen.synth",
    "noisegen.oscillators",
    "noisegen.mix",
    "noisegen.effects",
    "noisegen.filters",
    "noisegen.reverb",
    "noisegen.resample",
    "noisegen.timescale",
    "noisegen.io",
    "noisegen.sources",
    "noisegen.transforms.base",
    "noisegen.stream",
    "noisegen._stream_cuda",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, extraglobs={"np": np}, verbose=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"
