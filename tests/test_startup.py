"""Cold start (issue 18.5): ``import noisegen`` stays light, the lazy public
namespace is complete and identical to an eager import, and ``noisegen
warmup`` leaves nothing to compile for the next process."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import noisegen
from conftest import import_bench

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
    # (the units check their arguments with the shared validators, whose channels-last rule is in layout:
    # NumPy and the standard library only)
    assert loaded == ["noisegen", "noisegen._core", "noisegen._core.errors", "noisegen._core.layout",
                      "noisegen._core.units", "noisegen._core.validation"]


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
    # no stray name of the package's own workings (it listed ``importlib``): the public names, the
    # subpackages imported so far, private and dunder names
    assert {n for n in seen["dir"] if not n.startswith("_")} - set(seen["all"]) <= set(noisegen._SUBPACKAGES)


def test_all_is_the_eager_names_plus_each_lazy_module_and_every_name_resolves():
    expected = list(noisegen._EAGER)
    for module, names in noisegen._LAZY.items():
        mod = importlib.import_module(module, "noisegen")
        names = mod.__all__ if names == "*" else names
        for name in names:  # a name two modules export (AUDIO_EXTENSIONS, babble) must be one object, listed once
            assert getattr(noisegen, name) is getattr(mod, name), name
        expected += [name for name in names if name not in expected]
    assert noisegen.__all__ == expected
    for name in noisegen._SUBPACKAGES:
        assert getattr(noisegen, name) is importlib.import_module(f"noisegen.{name}")
    namespace: dict = {}
    exec("from noisegen import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(expected)


def test_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no_such_thing"):
        noisegen.no_such_thing  # noqa: B018
    assert not hasattr(noisegen, "__wrapped__")


# -- noisegen warmup ------------------------------------------------------------------------------

from noisegen.cli import main  # noqa: E402
from noisegen.cli import warmup  # noqa: E402


def test_every_kernel_is_found_and_cached_on_disk():
    found = warmup.kernels()
    assert len(found) >= 30
    assert {d.py_func.__module__ for d in found} >= {"noisegen._kernels.cpu.mix", "noisegen._kernels.cpu.noise"}
    assert [d.__name__ for d in found if type(d._cache).__name__ == "NullCache"] == []


_COLD_PROBE = """
import numpy as np
from noisegen.cli.warmup import cache_is_cold, _PROBES
before = cache_is_cold()
from noisegen._kernels.cpu import level
x = np.ones(4, np.float32)
level.scale(x, np.float32(1.0), x)  # one of the probes, compiled into the (new) cache
print(before, cache_is_cold(), len(_PROBES))
"""


def test_cache_is_cold_until_a_probe_kernel_is_cached(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.run([sys.executable, "-c", _COLD_PROBE], capture_output=True, text=True, cwd=str(ROOT),
                           env=env, timeout=300) for _ in range(2)]
    assert [r.stdout.split() for r in runs] == [["True", "False", "3"], ["False", "False", "3"]], \
        runs[0].stderr[-2000:] + runs[1].stderr[-2000:]


def test_warmup_help_and_usage_errors(capsys):
    assert main(["warmup", "--help"]) == 0
    assert "--quiet" in capsys.readouterr().out
    assert main(["warmup", "--bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments: --bogus" in err[0]


def test_warmup_with_the_jit_disabled_says_so_at_once(monkeypatch, capsys):
    # it ran every operation as plain Python (minutes), then blamed NUMBA_CACHE_DIR for the empty cache
    import numba

    monkeypatch.setattr(numba.config, "DISABLE_JIT", True)
    monkeypatch.setattr(warmup, "warm", lambda **kw: pytest.fail("warmed up with the JIT disabled"))
    for quiet in ([], ["--quiet"]):
        assert main(["warmup", *quiet]) == 1
        assert capsys.readouterr().err.strip().splitlines() == [
            "noisegen warmup: error: NUMBA_DISABLE_JIT=1 is set: kernels run as plain Python, nothing to compile; "
            "nothing compiled"]


def test_warmup_failure_is_one_line_without_traceback(monkeypatch, capsys):
    def broken(folder):
        yield "gain (float32, mono)", lambda: 1 / 0

    monkeypatch.setattr(warmup, "_exercises", broken)
    assert main(["warmup", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["noisegen warmup: error: warming up gain (float32, mono) failed: ZeroDivisionError: division by zero"]


_WARMUP_HARD_STOP = """
import ctypes, os, signal, sys
from noisegen import cli
from noisegen.cli import warmup

exercises = warmup._exercises
c_dropped = ctypes.CFUNCTYPE(None)(lambda: os.kill(os.getpid(), signal.SIGTERM))  # (its exception dropped)

def stopped_early(folder):
    for i, exercise in enumerate(exercises(folder)):
        if i == 2:
            c_dropped()
        yield exercise

warmup._exercises = stopped_early
sys.exit(cli.main(["warmup", "--quiet"]))
"""


def test_a_hard_stop_of_warmup_removes_its_folder(tmp_path):
    """A stop that cannot unwind ends the command where it stands; warmup's folder of exercise inputs
    (a TemporaryDirectory, removed only by unwinding) was left in the temporary folder."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = subprocess.run([sys.executable, "-c", _WARMUP_HARD_STOP], capture_output=True, text=True, cwd=str(ROOT),
                          env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}, timeout=600)
    assert (done.returncode, done.stderr) == (143, "noisegen warmup: terminated\n")
    assert list(tmp.iterdir()) == []


def test_warmup_removes_the_folders_of_warmups_killed_long_ago(tmp_path, monkeypatch):
    """SIGKILL runs no sweep: each killed warmup left its input folder in the temporary folder for good.
    A warmup removes those untouched for an hour (not a live one's, nor anything else there)."""
    monkeypatch.setattr(warmup.tempfile, "tempdir", str(tmp_path))
    old, young, other = (tmp_path / name for name in ("noisegen-warmup-dead1", "noisegen-warmup-live2", "mine"))
    for folder in (old, young, other):
        (folder / "x").mkdir(parents=True)
    hour_ago = time.time() - 3700
    for folder in (old, other):
        os.utime(folder, (hour_ago, hour_ago))
    (tmp_path / "noisegen-warmup-file").write_text("not a folder")
    os.utime(tmp_path / "noisegen-warmup-file", (hour_ago, hour_ago))
    monkeypatch.setattr(warmup, "_exercises", lambda folder: iter(()))
    warmup.warm()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "noisegen-warmup-file", "noisegen-warmup-live2"]


_CACHE_DIR_PROBE = """
from noisegen.cli.warmup import _cache_dir, kernels
print(_cache_dir(kernels()))
"""


def test_warmup_says_where_the_cache_went_and_fails_when_not_where_asked(tmp_path, monkeypatch, capsys):
    # with NUMBA_CACHE_DIR not a writable folder, Numba cached beside the modules and warmup named the folder asked for
    said = {}
    for name, value in (("file", tmp_path / "a.wav"), ("under /dev/null", "/dev/null/x"), ("folder", tmp_path / "c")):
        if name == "file":
            value.write_bytes(b"RIFF")
        env = {**os.environ, "NUMBA_CACHE_DIR": str(value)}
        run = subprocess.run([sys.executable, "-c", _CACHE_DIR_PROBE], capture_output=True, text=True, cwd=str(ROOT),
                             env=env, timeout=300)
        said[name] = run.stdout.strip()
    assert said["folder"] == str(tmp_path / "c")
    for name, value in (("file", tmp_path / "a.wav"), ("under /dev/null", "/dev/null/x")):
        assert said[name].endswith(f"NUMBA_CACHE_DIR={str(value)!r} is not a folder Numba can write"), said
    summary = {"operations": 1, "kernels": 1, "signatures": 1, "compiled": 1, "loaded": 0, "unused": [], "seconds": 0.1,
               "cache_dir": said["file"]}
    monkeypatch.setattr(warmup, "warm", lambda: summary)
    assert main(["warmup", "--quiet"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"noisegen warmup: error: the kernels were cached {said['file']}"]
    monkeypatch.setattr(warmup, "warm", lambda: {**summary, "cache_dir": str(tmp_path / "c")})
    assert main(["warmup", "--quiet"]) == 0


_UNWRITABLE_CACHE = """
import warnings
warnings.simplefilter("always")
import numba, noisegen
noisegen.pink_noise(64, rng=0)
from noisegen._core import jit
print(jit.REFUSED_CACHE_DIR, numba.config.CACHE_DIR, jit.KERNEL_OPTIONS["cache"])
"""


def test_an_unwritable_numba_cache_dir_is_replaced_by_a_user_cache_and_said(tmp_path):
    """Numba writes to its cache even to load from it: with NUMBA_CACHE_DIR read-only it fell back beside the
    modules without a word, and where that was read-only too every kernel raised 'no locator available'."""
    (tmp_path / "file").write_bytes(b"")
    refused, xdg = str(tmp_path / "file" / "x"), tmp_path / "xdg"
    env = {**os.environ, "NUMBA_CACHE_DIR": refused, "XDG_CACHE_HOME": str(xdg), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", _UNWRITABLE_CACHE], capture_output=True, text=True, env=env,
                         cwd=str(ROOT), timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [refused, str(xdg / "noisegen" / "numba"), "True"]
    assert f"NUMBA_CACHE_DIR={refused!r} is not writable" in run.stderr and "caching in" in run.stderr
    # at the call that imported it (it named a noisegen module's import of the jit options)
    assert run.stderr.startswith("<string>:5: NoisegenWarning: NUMBA_CACHE_DIR="), run.stderr
    assert any((xdg / "noisegen" / "numba").rglob("*.nbi"))  # the kernel went to the user cache
    warm = subprocess.run([sys.executable, "-m", "noisegen", "warmup"], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=300)  # refused before compiling anything
    assert warm.returncode == 1 and "is not a folder Numba can write; nothing compiled" in warm.stderr
    assert "Traceback" not in warm.stderr


_TILDE_CACHE = """
import os, warnings
warnings.simplefilter("always")
import numba
from noisegen._core import jit
print(jit.REFUSED_CACHE_DIR, numba.config.CACHE_DIR, os.listdir("."))
"""


def test_a_numba_cache_dir_starting_with_an_unexpanded_tilde_makes_no_folder_here(tmp_path):
    """NUMBA_CACHE_DIR='~/nbc' (a Dockerfile's ENV, a quoted .env line: no shell expands it) made ./~/nbc in the
    folder each process started in, a folder named '~' that a later 'rm -rf ~' takes for the home folder, and
    every kernel compiled again in each; it is refused as an unwritable one is, saying why."""
    work, xdg = tmp_path / "cwd", tmp_path / "xdg"
    work.mkdir()
    env = {**os.environ, "NUMBA_CACHE_DIR": "~/nbc", "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(xdg),
           "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", _TILDE_CACHE], capture_output=True, text=True, env=env, cwd=str(work),
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["~/nbc", str(xdg / "noisegen" / "numba"), "[]"] and os.listdir(work) == []
    assert f"NUMBA_CACHE_DIR='~/nbc' starts with '~', which only a shell expands (write {str(tmp_path / 'home' / 'nbc')!r}" \
        in run.stderr and "caching in" in run.stderr
    (work / "~").mkdir()  # a folder of that name, made on purpose: taken as it is
    run = subprocess.run([sys.executable, "-c", _TILDE_CACHE], capture_output=True, text=True, env=env, cwd=str(work),
                         timeout=300)
    assert run.returncode == 0 and run.stdout.split() == ["None", "~/nbc", "['~']"], run.stderr


def test_with_no_writable_cache_location_kernels_compile_uncached(monkeypatch):
    from noisegen._core import jit

    monkeypatch.setattr(jit, "_writable", lambda path: False)
    monkeypatch.setattr(jit.tempfile, "gettempdir", lambda: (_ for _ in ()).throw(FileNotFoundError("no temp")))
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/nowhere")
    assert jit._ensure_cache_dir() == ("/nowhere", False)
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    assert jit._ensure_cache_dir() == (None, False)  # (no usable temporary directory: not an error)


_AFTER_WARMUP = """
import json
import numpy as np
import noisegen
from noisegen.batch import default_pipeline
from noisegen.cli.warmup import kernels, warm

def compiled():
    return {f"{d.py_func.__module__}.{d.__name__}": [str(s) for s, n in d.stats.cache_misses.items() if n]
            for d in kernels() if any(d.stats.cache_misses.values())}

pipe = default_pipeline(noise_dir="data/noise", rir_dir="data/rir")
next(iter(noisegen.AugmentStream("data/speech", pipe, sample_rate=16000, chunk_s=1.0, rng=0)))
stream = compiled()
rng = np.random.default_rng(0)
for dtype, other in ((np.float32, np.float64), (np.float64, np.float32)):
    for shape in ((16000,), (2, 16000), (3, 9999)):
        y = (0.1 * rng.standard_normal(shape)).astype(dtype)
        noise = (0.1 * rng.standard_normal(40000)).astype(other)
        noisegen.gain(y[..., ::2], gain_db=3)                   # a strided view, an int
        noisegen.mix_at_snr(np.asfortranarray(y), noise[::3], snr_db=0, noise_offset=5)
        noisegen.lowpass(y, cutoff_hz=1000, sample_rate=16000)
        noisegen.resample(y, orig_sample_rate=16000, target_sample_rate=12000)
        noisegen.time_stretch(y, rate=0.8, sample_rate=16000)
        noisegen.pitch_shift(y, sample_rate=16000, n_steps=-3)
        noisegen.speed(y, factor=0.9, sample_rate=16000)
        noisegen.convolve_rir(y, noise[:3000])
        noisegen.pink_noise(777, rng=1, dtype=dtype, n_channels=3 if y.ndim == 2 else None)
        noisegen.tone(freq_hz=100, sample_rate=8000, n_samples=100, dtype=dtype)
user = compiled()
print(json.dumps({"stream": stream, "user": user, **warm()}))
"""


@pytest.mark.slow
def test_after_warmup_a_new_process_compiles_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    res = subprocess.run([sys.executable, "-m", "noisegen", "warmup"], capture_output=True, text=True,
                         cwd=str(ROOT), env=env, timeout=1200)
    assert res.returncode == 0, res.stderr
    assert "compiled" in res.stdout and "not reached" not in res.stderr, res.stderr
    assert any((tmp_path / "numba").rglob("*.nbi"))
    # a new process: the default stream, user-style calls over dtypes, layouts and odd lengths,
    # then every operation warmup runs: all kernels load from the cache, none compiles
    seen = _fresh(_AFTER_WARMUP, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    assert seen["stream"] == {} and seen["user"] == {}
    assert seen["compiled"] == 0 and seen["loaded"] > 0 and seen["unused"] == []


# -- designs cached on disk (the cache itself: tests/test_diskcache.py) ------------------------------

_RESAMPLE = """
import json, sys
import numpy as np
import noisegen
y = np.random.default_rng(0).standard_normal(9999).astype(np.float32)
out = [noisegen.resample(y, orig_sample_rate=sr, target_sample_rate=16000).tolist() for sr in (32000, 48000, 44100)]
print(json.dumps({"signal": "scipy.signal" in sys.modules, "out": out}))
"""


@pytest.mark.slow  # compiles the resampling kernels into an empty cache
def test_resampling_designs_load_from_disk_without_scipy_signal_and_equal_a_fresh_design(tmp_path):
    # 2:1 and 3:1 equiripple decimators and the 160/441 equiripple polyphase table
    cold = _fresh(_RESAMPLE, NUMBA_CACHE_DIR=str(tmp_path))
    warm = _fresh(_RESAMPLE, NUMBA_CACHE_DIR=str(tmp_path))
    assert cold["signal"] and not warm["signal"]
    assert warm["out"] == cold["out"]
    assert len(list((tmp_path / "noisegen" / "designs").glob("*.npy"))) >= 3


def test_the_startup_bench_is_registered_and_its_snippets_compile():
    main_, startup = import_bench("__main__"), import_bench("bench_startup")
    assert "startup" in main_.AREAS and startup.cases(None) == []
    compile(startup._FIRST_CHUNK.format(rir="r", noise="n", speech="s"), "first_chunk", "exec")
    compile(startup._IMPORT.format(stmt="import noisegen"), "import", "exec")

    class Off:
        cold = False

    assert startup.extra(Off()) == []


@pytest.mark.parametrize("code", [
    "import noisegen.transforms",
    "from noisegen.transforms import Gain",
    "import noisegen.effects",
    "import noisegen.data.stream",
    "import noisegen.synth",
    "import noisegen.audio",
])
def test_importing_one_subpackage_directly_does_not_load_the_namespace(code):
    loaded = _fresh(_MODULES_AFTER.format(code=code + "\nimport noisegen\n"
                                                "assert not {'__all__', 'mix_at_snr', 'white_noise'} & set(vars(noisegen))"))
    assert code.split()[1] in loaded
    if "data" not in code and "transforms" not in code:  # the stream imports the transforms
        assert "noisegen.transforms" not in loaded


_DAMAGED_CACHE = """
import errno, sys, warnings
import numpy as np
warnings.simplefilter("always")
if sys.argv[1] == "full":
    from numba.core import caching
    def full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", path)
    caching.IndexDataCacheFile._open_for_write = full
import noisegen
print(noisegen.pink_noise(256, rng=3).tobytes().hex())
"""


def test_a_damaged_or_unwritable_numba_cache_costs_a_compile_not_the_run(tmp_path):
    """A truncated index raised EOFError/UnpicklingError in every command until the cache was cleared by
    hand; a cache folder on a full disk failed every command with a bare 'No space left on device'."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}

    def run(mode):
        res = subprocess.run([sys.executable, "-c", _DAMAGED_CACHE, mode], capture_output=True, text=True, env=env,
                             cwd=str(ROOT), timeout=300)
        assert res.returncode == 0, res.stderr
        return res.stdout.strip(), res.stderr

    want, _ = run("fill")
    indexes = list((tmp_path / "cache").rglob("*.nbi"))
    assert indexes
    for damage in (lambda b: b[: len(b) // 2], lambda b: b"", lambda b: b[:20] + b"\x00garbage" * 20):
        for path in indexes:
            path.write_bytes(damage(path.read_bytes()))
        got, err = run("load")
        assert got == want and "Traceback" not in err
    got, err = run("load")  # the indexes were written anew
    assert got == want
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "full")
    got, err = run("full")
    assert got == want and err.count("cannot write the Numba cache in") == 1 and "No space left" in err
    # at the user's line (the script's pink_noise call), not at a line of Numba's dispatcher
    (said,) = [line for line in err.splitlines() if "cannot write the Numba cache" in line]
    assert said.startswith("<string>:11: NoisegenWarning"), said


@pytest.mark.parametrize("which", ["*.nbi", "*.nbc", "*.nb?"])
def test_a_numba_cache_entry_the_user_may_not_read_costs_a_compile_not_the_run(tmp_path, unprivileged, which):
    """A cache folder shared by users whose umask keeps others out holds entries a user may not read:
    an index that could not be opened failed every kernel with a PermissionError traceback."""
    cache = tmp_path / "cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}

    def run(prefix):
        res = subprocess.run([*prefix, sys.executable, "-c", _DAMAGED_CACHE, "load"], capture_output=True,
                             text=True, env=env, cwd=str(ROOT), timeout=300)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        return res.stdout.strip()

    want = run([])
    entries = list(cache.rglob(which))
    assert entries
    for path in entries:
        path.chmod(0)
    prefix = unprivileged(entries[0])
    assert run(prefix) == want
    assert run(prefix) == want  # (and again, whatever the first run could write)


@pytest.mark.slow
def test_a_data_file_damaged_where_its_pickle_still_reads_costs_a_compile_not_the_run(tmp_path):
    """Numba keeps no checksum: bytes changed inside a data file's bitcode or machine code failed in
    LLVM's parser with a traceback, or crashed the process when the code ran. noisegen's data files
    are sealed with a digest, and one that does not match (or has no seal) is compiled again."""
    from noisegen._core.cache_guard import SEAL

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}

    def run():
        res = subprocess.run([sys.executable, "-c", _DAMAGED_CACHE, "load"], capture_output=True, text=True,
                             env=env, cwd=str(ROOT), timeout=300)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        return res.stdout.strip()

    def flipped(b, at):  # 64 bytes inverted from the fraction ``at`` of the file on
        i = int(len(b) * at)
        return b[:i] + bytes(x ^ 0xFF for x in b[i:i + 64]) + b[i + 64:]

    want = run()
    datas = list((tmp_path / "cache").rglob("*.nbc"))
    assert datas and all(SEAL in p.read_bytes()[-64:] for p in datas)
    for damage in (lambda b: flipped(b, 0.5), lambda b: flipped(b, 0.9), lambda b: b[: b.rindex(SEAL)],
                   lambda b: b[: len(b) // 2]):
        for path in datas:
            path.write_bytes(damage(path.read_bytes()))
        assert run() == want
        assert all(SEAL in p.read_bytes()[-64:] for p in datas)  # written anew, sealed


_ONE_DTYPE = """
import sys
import numpy as np
import noisegen
dtype = np.dtype(sys.argv[1])
y = np.cos(np.arange(400) / 7.0).astype(dtype)
out = noisegen.mix_at_snr(y, noisegen.pink_noise(300, rng=3, dtype=dtype), snr_db=5.0)
print(out.dtype, out.tobytes().hex())
"""


def test_a_cache_entry_holding_another_signatures_code_costs_a_compile_not_the_run(tmp_path):
    """Numba extends an index without a lock: two processes saving a kernel's float32 and float64
    code at once can both take its next data file, leaving the one key naming the other's code.
    Every later process loaded it and failed ("TypeError: can't unbox array"); it is compiled again."""
    def run(folder, dtype):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / folder), "PYTHONPATH": str(ROOT)}
        res = subprocess.run([sys.executable, "-c", _ONE_DTYPE, dtype], capture_output=True, text=True, env=env,
                             cwd=str(ROOT), timeout=300)
        assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
        return res.stdout.strip()

    want = {dtype: run(dtype, dtype) for dtype in ("float32", "float64")}
    for ours, theirs in (("float64", "float32"), ("float32", "float64")):
        mixed = tmp_path / f"{ours}-with-{theirs}"
        shutil.copytree(tmp_path / ours, mixed)
        crossed = 0
        for data in (tmp_path / theirs).rglob("*.nbc"):  # the other signature's code under this one's key
            target = mixed / data.relative_to(tmp_path / theirs)
            if target.exists():
                shutil.copyfile(data, target)
                crossed += 1
        assert crossed
        assert run(mixed.name, ours) == want[ours]
        assert run(mixed.name, ours) == want[ours]  # (and the entry written anew is good)


_FIRST_USE_FROM_THREADS = """
import threading
import noisegen
names = ["audio", "transforms", "effects", "synth", "data", "cuda", "load", "AugmentStream", "white_noise"]
barrier, failed = threading.Barrier(len(names)), []
def use(name):
    barrier.wait()
    try:
        getattr(noisegen, name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
threads = [threading.Thread(target=use, args=(name,)) for name in names]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(failed)
"""


def test_first_use_of_the_namespace_from_threads_at_once():
    """A thread's first noisegen.audio while another's noisegen.transforms (or noisegen.effects while
    noisegen.synth) imported a module of the package before the package: both failed, ImportError
    ('partially initialized module noisegen.audio.bank') or importlib's _DeadlockError."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(4):
        res = subprocess.run([sys.executable, "-c", _FIRST_USE_FROM_THREADS], capture_output=True, text=True,
                             env=env, cwd=str(ROOT), timeout=300)
        assert res.returncode == 0 and res.stdout.strip() == "[]", res.stdout + res.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_compiles_can_compile():
    """A fork while another thread compiled (its first call of a kernel, or its load from the disk
    cache) left Numba's compiler lock held in the child, which has no such thread: a DataLoader worker
    forked then hung at its first call. A fork now waits for the compile to end."""
    import signal
    import threading

    import numba
    from numba.core.compiler_lock import global_compiler_lock

    importlib.import_module("noisegen._core.jit")  # (what registers the wait)

    compiling, done = threading.Event(), threading.Event()

    def compile_slowly():  # a compile in progress, as long as the test needs it
        with global_compiler_lock:
            compiling.set()
            done.wait(0.5)

    thread = threading.Thread(target=compile_slowly, daemon=True)
    thread.start()
    compiling.wait()
    pid = os.fork()
    if pid == 0:  # the child: ends with 0 when it compiles, by SIGALRM when it hangs
        signal.alarm(10)
        try:
            os._exit(0 if numba.njit(lambda x: x + 1)(1) == 2 else 3)
        finally:
            os._exit(4)
    done.set()
    thread.join()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"


def test_noisegen_torch_without_torch_says_which_extra_to_install():
    code = ("import sys; sys.modules['torch'] = None\n"
            "try:\n    from noisegen.torch import AugmentDataset\nexcept ImportError as exc:\n    print(exc)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(ROOT),
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert res.returncode == 0 and 'pip install "noisegen[torch]"' in res.stdout, res.stdout + res.stderr


@pytest.mark.slow
def test_the_designs_warmup_stores_are_the_size_the_readme_says(tmp_path, monkeypatch):
    import re

    monkeypatch.setenv("NOISEGEN_CACHE_DIR", str(tmp_path))
    warmup.warm()
    stored = sum(p.stat().st_size for p in tmp_path.rglob("*.npy")) / 2**20
    claim = re.search(r"range \(about (\d+) MB\)", (ROOT / "README.md").read_text().replace("\n", " "))
    assert claim and 0.75 <= stored / int(claim.group(1)) <= 1.25, (stored, claim and claim.group(0))


_TRIM = """
import json, sys
import numpy as np
from noisegen.transforms.apply_impulse_response import trimmed_length
t = np.arange(96000) / 48000
h = np.random.default_rng(0).standard_normal(96000) * (np.exp(-t / 0.1) + 3e-3)  # a decay into a floor
kept = trimmed_length(h, 60.0, 48000)  # (the floor cut: the 4 kHz band split runs)
print(json.dumps({"signal": "scipy.signal" in sys.modules, "kept": kept}))
"""


def test_trimming_a_recorded_response_imports_no_scipy_signal():
    # the noise-floor rule's 4 kHz band split designed its filters with scipy.signal (lowpass/highpass):
    # importing it took 1-1.5 s of every `noisegen augment`'s start, its only use there
    seen = _fresh(_TRIM)
    assert not seen["signal"] and 0 < seen["kept"] < 96000


_DRAWN_DESIGNS = """
import json, sys
import numpy as np
from noisegen.transforms import AddColoredNoise, BandStopFilter, HighPassFilter, LowPassFilter
y = np.random.default_rng(0).standard_normal(1600).astype(np.float32) * 0.1
for t in (LowPassFilter(p=1.0), HighPassFilter(p=1.0), BandStopFilter(p=1.0), AddColoredNoise(p=1.0)):
    t(y, sample_rate=16000, rng=3)
print(json.dumps({"signal": "scipy.signal" in sys.modules, "out": 0}))
"""


def test_filters_and_coloured_noise_that_draw_their_design_import_no_scipy_signal():
    # every Butterworth design (and coloured noise's high-pass) went through scipy.signal.butter: the first
    # drawn filter of a process imported it (1-1.5 s, a fresh `noisegen augment --config` with a filter)
    assert not _fresh(_DRAWN_DESIGNS)["signal"]
