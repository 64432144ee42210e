"""Cold start (issue 18.5): ``import noisegen`` stays light, the lazy public
namespace is complete and identical to an eager import, and ``noisegen
warmup`` leaves nothing to compile for the next process."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import noisegen

ROOT = Path(__file__).resolve().parents[1]


def _fresh(code: str, **env) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line, returned here."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=600)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


_MODULES_AFTER = """
import json, sys
{code}
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('noisegen', 'numba', 'scipy', 'llvmlite',
                                                                     'soundfile', 'torch'))))
"""


def test_import_noisegen_loads_only_errors_and_units():
    loaded = _fresh(_MODULES_AFTER.format(code="import noisegen"))
    assert loaded == ["noisegen", "noisegen._core", "noisegen._core.errors", "noisegen._core.units"]


@pytest.mark.parametrize("code", [
    "import noisegen; noisegen.ParameterError; noisegen.db_to_amplitude(6.0); noisegen.__version__",
    "import noisegen; hasattr(noisegen, '__wrapped__'); hasattr(noisegen, '__test__')",
    "from noisegen import NoisegenWarning, seconds_to_samples",
], ids=["eager-names", "dunder-probes", "from-import-eager"])
def test_eager_names_and_dunder_probes_import_nothing_more(code):
    loaded = _fresh(_MODULES_AFTER.format(code=code))
    assert not [m for m in loaded if m.split(".")[0] != "noisegen" or m.count(".") > 1 and "_core" not in m]
    assert "numba" not in loaded and "noisegen.effects" not in loaded


_FIRST_USE = """
import json, noisegen
{access}
print(json.dumps({{"all": noisegen.__all__, "dir": dir(noisegen)}}))
"""


@pytest.mark.parametrize("access", [
    "noisegen.mix_at_snr",            # a function
    "noisegen.transforms.Gain",       # a subpackage attribute, as before
    "from noisegen import *",         # __all__ through the hook
    "dir(noisegen)",
], ids=["function", "subpackage", "star", "dir"])
def test_any_first_use_gives_the_whole_eager_namespace(access):
    seen = _fresh(_FIRST_USE.format(access=access))
    assert seen["all"] == noisegen.__all__
    assert set(seen["all"]) <= set(seen["dir"])
    assert {"synth", "effects", "audio", "transforms", "data"} <= set(seen["dir"])


def test_all_is_the_eager_names_plus_each_lazy_module_and_every_name_resolves():
    expected = list(noisegen._EAGER)
    for module, names in noisegen._LAZY.items():
        mod = importlib.import_module(module, "noisegen")
        names = mod.__all__ if names == "*" else names
        for name in names:  # a name two modules export (AUDIO_EXTENSIONS) must be one object
            assert getattr(noisegen, name) is getattr(mod, name), name
        expected += names
    assert noisegen.__all__ == expected
    namespace: dict = {}
    exec("from noisegen import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(expected)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no_such_thing"):
        noisegen.no_such_thing  # noqa: B018
    assert not hasattr(noisegen, "__wrapped__")
