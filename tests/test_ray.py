"""noisegen on Ray: ``augment --engine ray`` and :func:`noisegen.ray.augment` (issue 17).

One local Ray instance with 2 CPUs serves the whole module; tests that kill
processes or start another instance are ``slow``. Without Ray installed only
the "how to install it" test runs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from noisegen.batch import MANIFEST, augment_folder, available_cpus, read_manifest

from test_augment_cli import ROOT, _env, _run_cli, _spawn, audio_outputs, augment, corpus, default_args  # noqa: F401

CONFIG = {"name": "Compose", "transforms": [
    {"name": "SpeedPerturb", "factors": [0.9, 1.1], "p": 0.5},
    {"name": "AddColoredNoise", "min_beta": 0.0, "max_beta": 1.0, "min_snr_db": 5, "max_snr_db": 15, "p": 1.0},
    {"name": "Gain", "min_gain_db": -3, "max_gain_db": 3, "p": 0.5},
]}


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray instance (2 CPUs) for this module; yields its address for subprocess drivers."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    saved = os.environ.get("PYTHONPATH")
    # Ray's worker processes inherit this environment: noisegen importable from any cwd
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved) if p)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


def temp_files(out: Path) -> list[str]:
    """Hidden files other than the locks (which stay, never unlinked)."""
    return sorted(p.name for p in out.rglob(".*") if p.is_file() and not p.name.endswith(".lock"))


def assert_same_run(out: Path, reference: Path):
    assert audio_outputs(out) == audio_outputs(reference)
    assert (out / MANIFEST).read_bytes() == (reference / MANIFEST).read_bytes()  # plan order, byte for byte
    assert temp_files(out) == []


# -- augment --engine ray -----------------------------------------------------------------------
@pytest.mark.parametrize("which", ["default", "config"])
def test_engine_ray_is_byte_identical_to_workers_1(which, corpus, tmp_path, ray_address):
    if which == "config":
        path = tmp_path / "pipeline.json"
        path.write_text(json.dumps(CONFIG))
        args = lambda out: [corpus[0], out, "--config", path, "--copies", 2, "--sample-rate", 8000]  # noqa: E731
    else:
        args = lambda out: default_args(corpus, out, "--copies", 2)  # noqa: E731
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert augment(*args(local), "--workers", 1) == 0
    assert augment(*args(on_ray), "--engine", "ray") == 0
    assert len(audio_outputs(on_ray)) == 8
    assert_same_run(on_ray, local)
    assert augment(*args(on_ray), "--engine", "ray") == 0  # a rerun finds everything complete
    assert_same_run(on_ray, local)


@pytest.mark.parametrize("workers", [0, 1, 3, 64])
def test_workers_unused_on_ray_are_not_capped_at_this_machines_cpus(corpus, tmp_path, ray_address, capsys, workers):
    # (--engine ray --workers 64 said "--workers=64 is more than the 2 CPUs available; using 2" while Ray ran the
    # job on the cluster's CPUs; a local run still says it)
    args = [corpus[0], "--config", tmp_path / "p.json", "--workers", workers]
    (tmp_path / "p.json").write_text(json.dumps(CONFIG))
    assert augment(args[0], tmp_path / "ray", *args[1:], "--engine", "ray") == 0
    assert "warning" not in capsys.readouterr().err
    assert augment(args[0], tmp_path / "local", *args[1:]) == 0
    assert ("CPUs available" in capsys.readouterr().err) == (workers > available_cpus())
    assert audio_outputs(tmp_path / "ray") == audio_outputs(tmp_path / "local")


def test_engine_ray_writes_the_same_webdataset_tars(corpus, tmp_path, ray_address):
    args = lambda out: default_args(corpus, out, "--copies", 2, "--output-format", "webdataset",  # noqa: E731
                                    "--shard-size", 3)
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert augment(*args(local), "--workers", 1) == 0
    assert augment(*args(on_ray), "--engine", "ray") == 0
    names = sorted(p.name for p in on_ray.glob("*.tar"))
    assert names == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    assert all((on_ray / n).read_bytes() == (local / n).read_bytes() for n in names)
    assert (on_ray / MANIFEST).read_bytes() == (local / MANIFEST).read_bytes()
    assert temp_files(on_ray) == []


def test_a_workers_warnings_reach_the_command_line_as_one_line(corpus, tmp_path, ray_address, capsys):
    """Ray workers printed their NoisegenWarnings raw (file, line, source) to the worker log; they now
    come back with the results and show as a local run shows them."""
    rel = "common_voice_en_17299458.wav"
    data = (corpus[0] / rel).read_bytes()
    corpus.write(rel, data[:len(data) // 2])  # a truncated input: read, with a warning
    shown = {}
    for engine in ("--workers", "--engine"):
        out = tmp_path / engine.strip("-")
        assert augment(*default_args(corpus, out), *((engine, 1) if engine == "--workers" else (engine, "ray"))) == 0
        shown[engine] = [line for line in capsys.readouterr().err.splitlines() if "warning:" in line]
    assert len(shown["--engine"]) == 1 and "is truncated" in shown["--engine"][0]
    assert shown["--engine"] == shown["--workers"]
    assert audio_outputs(tmp_path / "engine") == audio_outputs(tmp_path / "workers")



def test_a_ray_workers_warnings_come_at_the_callers_line(corpus, tmp_path, ray_address):
    """augment_folder(engine="ray") warned a worker's warnings at a line of noisegen's ray_engine.py."""
    import warnings

    from noisegen.transforms import Compose, Gain

    rel = "common_voice_en_17299458.wav"
    data = (corpus[0] / rel).read_bytes()
    corpus.write(rel, data[:len(data) // 2])  # a truncated input: read, with a warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        augment_folder(corpus[0], tmp_path / "out", pipeline=Compose([Gain(p=1.0)]), engine="ray", progress=False)
    said = [w for w in caught if "is truncated" in str(w.message)]
    assert len(said) == 1 and said[0].filename == __file__

def test_inputs_grouped_into_ray_tasks_keep_plan_order(corpus, tmp_path, ray_address, monkeypatch):
    from noisegen.batch import ray_engine as _ray_engine

    monkeypatch.setattr(_ray_engine, "_GROUPS_PER_CPU", 1)  # 4 inputs, 2 CPUs: two Ray tasks of two inputs
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert augment(*default_args(corpus, local, "--copies", 3)) == 0
    assert augment(*default_args(corpus, on_ray, "--copies", 3, "--engine", "ray")) == 0
    assert_same_run(on_ray, local)



def test_a_bad_row_is_named_by_its_id():
    """The actor's errors named no row ('y must be finite', 'cannot decode the row's bytes'): which of the
    dataset's rows was it? They now start with the row's id and column (the actor runs here without Ray)."""
    import io

    import soundfile as sf

    import noisegen
    from noisegen.data.ray import _Augmenter

    actor = object.__new__(_Augmenter)  # what __init__ sets, without a Ray object store
    actor.pipeline, actor.seed, actor.epoch, actor.sample_rate = noisegen.Gain(p=1.0), 0, 0, 16000
    actor.column, actor.id_column, actor.params_column = "audio", "path", "params"
    ok = np.full(5, 0.1, np.float32)
    with pytest.raises(noisegen.ParameterError, match=r"^row path='b.wav' of column 'audio': y must be finite"):
        actor({"path": np.array(["a.wav", "b.wav"]), "audio": np.stack([ok, np.full(5, np.nan, np.float32)])})
    garbage = np.empty(1, dtype=object)
    garbage[0] = b"RIFF not audio"
    with pytest.raises(noisegen.NoisegenError, match=r"^row path='c.wav' of column 'audio': cannot decode"):
        actor({"path": np.array(["c.wav"]), "audio": garbage})
    with pytest.raises(FileNotFoundError, match=r"^\[Errno 2\] row path='d.wav' of column 'audio': "):
        actor({"path": np.array(["d.wav"]), "audio": np.array(["/nonexistent/d.wav"], dtype=object)})
    assert actor({"path": np.array(["a.wav"]), "audio": ok[None]})["audio"].shape == (1, 5)
    # a file's frames (bytes, a path, an HF struct) are laid out as the file says: a short file of many
    # channels was refused as a channels-last array, at its own rate or resampled; a plain array still is
    many = np.random.default_rng(3).standard_normal((100, 50)).astype(np.float32) * 0.1
    buffer = io.BytesIO()
    sf.write(buffer, many.T, 16000, format="WAV", subtype="FLOAT")
    for rate in (16000, 8000):
        actor.sample_rate = rate
        for value in (buffer.getvalue(), {"bytes": buffer.getvalue(), "path": None}):
            column = np.empty(1, dtype=object)
            column[0] = value
            assert actor({"path": np.array(["m.wav"]), "audio": column})["audio"].shape == (1, 100, rate // 320)
        with pytest.raises(noisegen.ParameterError, match=r"channels-last"):
            actor({"path": np.array(["m.wav"]), "audio": many[None]})
    actor.sample_rate = 16000
    # a params column the rows already have (an earlier augment's) was replaced, silently
    with pytest.raises(noisegen.ParameterError, match=r"^params_column 'params' is already a column"):
        actor({"path": np.array(["a.wav"]), "audio": ok[None], "params": np.array(["{}"], dtype=object)})


def test_an_epoch_or_row_id_past_2_64_is_refused_not_taken_mod_2_64():
    """row_key (and augment, which keys its rows with it) took the epoch and an integer row id mod 2**64:
    epoch 2**64 gave epoch 0's key, row 2**64 + 3 row 3's, silently (as AugmentStream.order refuses)."""
    import noisegen
    from noisegen.data.ray import row_key

    top = (1 << 64) - 1
    assert row_key(0, top, top) != row_key(0, 0, 0)
    with pytest.raises(noisegen.ParameterError, match="epoch"):
        row_key(0, 1 << 64, 3)
    with pytest.raises(noisegen.ParameterError, match=r"row id must be an integer in \[0, 2\*\*64 - 1\]"):
        row_key(0, 5, (1 << 64) + 3)


def test_row_key_takes_the_int_seed_augment_takes():
    """row_key(None, 0, 3) gave another key on every call (and a Generator seed one that moved on), where
    augment refuses any seed but an int >= 0: the key it promises to reproduce was never the row's
    (found by sigfuzz)."""
    import noisegen
    from noisegen.data.ray import row_key

    assert row_key(np.int64(7), 0, 3) == row_key(7, 0, 3)
    for seed in (None, np.random.default_rng(0), -1, 1.5, "7"):
        with pytest.raises(noisegen.ParameterError, match="seed"):
            row_key(seed, 0, 3)


def test_a_rows_warnings_name_the_row():
    """A silent row warned "Normalize: the input is silent ..." naming no row (its errors name it, and
    noisegen.hf's warnings do); the actor runs here without Ray."""
    import warnings

    import noisegen
    from noisegen.data.ray import _Augmenter

    actor = object.__new__(_Augmenter)  # what __init__ sets, without a Ray object store
    actor.pipeline, actor.seed, actor.epoch, actor.sample_rate = noisegen.Normalize(p=1.0), 0, 0, 16000
    actor.column, actor.id_column, actor.params_column = "audio", "path", "params"
    rows = np.stack([np.full(50, v, np.float32) for v in (0.1, 0.0, 0.2, 0.0)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        actor({"path": np.array(["a.wav", "b.wav", "c.wav", "d.wav"]), "audio": rows})
    said = [str(w.message) for w in caught if issubclass(w.category, noisegen.NoisegenWarning)]
    assert said == [f"Normalize: the input is silent, so no peak level can be set; it is returned unchanged "
                    f"(row path={name!r} of column 'audio')" for name in ("b.wav", "d.wav")]


def test_a_params_column_the_dataset_has_is_refused_before_reading(ray_address):
    import ray

    import noisegen
    import noisegen.ray as ngray
    from noisegen.transforms import Gain

    rows = [{**row, "params": "{}"} for row in _rows("mono", np.float32, n=2)]
    for params_column in ("params", "audio2"):
        ds = ray.data.from_items([{**row, "audio2": row["audio"]} for row in rows])
        with pytest.raises(noisegen.ParameterError, match=rf"params_column '{params_column}' is already a column"):
            ngray.augment(ds, Gain(p=1.0), seed=0, sample_rate=16000, params_column=params_column)
    out = ngray.augment(ray.data.from_items(rows), Gain(p=1.0), seed=0, sample_rate=16000, params_column="again")
    assert [r["params"] for r in out.take_all()] == ["{}", "{}"]

def test_without_ray_engine_ray_says_how_to_install_it(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert augment(corpus[0], tmp_path / "out", "--engine", "ray") == 2
    err = capsys.readouterr().err
    assert 'pip install "noisegen[ray]"' in err and len(err.strip().splitlines()) == 1
    assert err.startswith("noisegen augment: error: --engine='ray': ")  # the option typed, not the argument
    assert not (tmp_path / "out").exists()  # refused before anything is written


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_ray_py_that_shadows_ray_is_named_before_anything_is_written(kind, corpus, tmp_path, capsys, monkeypatch):
    # a ray.py (or ray/ folder) in the current folder was imported as Ray: after OUT_DIR was made,
    # "unexpected AttributeError: module 'ray' has no attribute 'is_initialized'" (exit 1)
    import types

    fake = types.ModuleType("ray")
    if kind == "file":
        fake.__file__ = str(tmp_path / "ray.py")
    else:  # a namespace package
        fake.__path__ = [str(tmp_path / "ray")]
    monkeypatch.setitem(sys.modules, "ray", fake)
    assert augment(corpus[0], tmp_path / "out", "--engine", "ray") == 2
    err = capsys.readouterr().err
    assert f"imported from {tmp_path / 'ray'}" in err and "is not Ray" in err and len(err.strip().splitlines()) == 1
    assert err.startswith("noisegen augment: error: --engine='ray': ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_unreachable_ray_address_exits_2_at_once(scheme, corpus, tmp_path):
    # a Ray Client address (ray://) waited 30 s, then printed Ray's UserWarning (file, line, source) and the error
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _run_cli("augment", corpus[0], tmp_path / "out", "--engine", "ray", "--ray-address",
                    f"{scheme}127.0.0.1:{port}", "--no-progress", timeout=60)
    assert done.returncode == 2 and "no Ray cluster answers there" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert audio_outputs(tmp_path / "out") == {}


@pytest.mark.parametrize("family, address", [
    ("AF_INET", "127.0.0.1:{}"), ("AF_INET", "localhost:{}"), ("AF_INET", "ray://127.0.0.1:{}"),
    ("AF_INET6", "[::1]:{}"), ("AF_INET6", "ray://[::1]:{}"),
])
def test_a_listening_ray_address_passes_the_probe(family, address):
    # Ray writes an IPv6 address as "[::1]:6379": the brackets went into the name lookup, and a running
    # cluster was refused as "no Ray cluster answers there (Name or service not known)"
    import socket

    from noisegen import ParameterError
    from noisegen.batch.ray_engine import _probe

    if family == "AF_INET6" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    with socket.socket(getattr(socket, family)) as s:
        try:
            s.bind(("::1" if family == "AF_INET6" else "127.0.0.1", 0))
        except OSError:
            pytest.skip("no loopback of that family")
        s.listen()
        s.settimeout(10)
        port = s.getsockname()[1]
        assert _probe(address.format(port)) is None  # taken: no ParameterError
        s.accept()[0].close()  # the probe reached this listener (the brackets stripped, the scheme too)
    with pytest.raises(ParameterError, match="no Ray cluster answers there"):
        _probe(address.format(port))  # the same address, nobody listening: refused


def test_a_dead_ray_address_in_the_environment_is_refused_at_once(corpus, tmp_path, monkeypatch):
    # without --ray-address, ray.init() joins RAY_ADDRESS (set on cluster nodes): a dead one retried for
    # minutes, printing Ray's raw log lines
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    done = _run_cli("augment", corpus[0], tmp_path / "out", "--engine", "ray", "--no-progress", timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"noisegen augment: error: RAY_ADDRESS '{address}' (set in the environment): no Ray "
                                   "cluster answers there (Connection refused); start one with `ray start --head`")
    assert audio_outputs(tmp_path / "out") == {}


def test_a_ray_client_timeout_is_one_error_without_rays_warning():
    """A ray:// port that answers but is no Ray Client server (the GCS port, say): Ray warned before its error."""
    import socket
    import warnings

    import noisegen
    from noisegen.batch.ray_engine import _connect

    class FakeRay:
        def is_initialized(self):
            return False

        def init(self, **kwargs):
            warnings.warn("Ray Client connection timed out. Ensure that the Ray Client port ...", UserWarning)
            raise ConnectionError("ray client connection timeout")

    with socket.socket() as s, warnings.catch_warnings():
        s.bind(("127.0.0.1", 0))
        s.listen()
        warnings.simplefilter("error")
        with pytest.raises(noisegen.ParameterError, match=r"cannot join the Ray cluster: ray client connection"):
            _connect(FakeRay(), f"ray://127.0.0.1:{s.getsockname()[1]}")


def test_a_ray_address_other_than_the_joined_cluster_is_warned_of(ray_address):
    """A process already on Ray (ray.init() for Ray Data, say) ran the job there, without a word, whatever
    cluster ray_address named."""
    import warnings

    import ray

    import noisegen
    from noisegen.batch.ray_engine import _connect

    host, port = ray_address.rsplit(":", 1)
    for other in ("head-node.invalid:6379", f"{host}:{int(port) + 1}", f"127.0.0.1:{int(port) + 1}"):
        with pytest.warns(noisegen.NoisegenWarning, match=rf"ray_address '{other}' is not joined: this process is "
                          rf"already on the Ray cluster at '{ray_address}'"):
            assert _connect(ray, other) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for same in (None, ray_address, f"127.0.0.1:{port}", f"localhost:{port}", "auto", "ray://head:10001"):
            assert _connect(ray, same) is False
    assert ray.is_initialized()


def test_a_ray_worker_keeps_only_the_pipeline_of_the_current_run(ray_address):
    """A Ray worker lives on between the runs of one driver (a notebook): it kept every run's pipeline,
    banks and all, for good."""
    import pickle

    import ray

    import noisegen
    from noisegen.batch import ray_engine

    refs = [ray.put(pickle.dumps(noisegen.Gain(min_gain_db=-k, max_gain_db=-k, p=1.0))) for k in range(4)]
    for k in (0, 1, 2, 1, 3, 3):
        assert ray_engine._remote_process([refs[k]], []) == ([], [])
        assert list(ray_engine._PIPELINES) == [refs[k].hex()]
        assert ray_engine._PIPELINES[refs[k].hex()].min_gain_db == -k


def test_ray_address_needs_engine_ray(corpus, tmp_path, capsys):
    assert augment(corpus[0], tmp_path / "out", "--ray-address", "head:6379") == 2
    assert "--ray-address needs --engine ray" in capsys.readouterr().err


def _task_pids() -> list[int]:
    """Pids of Ray workers executing an augment task now (Ray titles them ``ray::<function>``)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if fh.read().startswith(b"ray::_remote_process"):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def _many_inputs(corpus, tmp_path, times: int = 2) -> Path:
    """The corpus ``times`` over (4 inputs each), so a run has tasks left when one is killed."""
    big = tmp_path / "big"
    shutil.copytree(corpus[0], big)
    for k in range(1, times):
        shutil.copytree(corpus[0], big / f"again{k}")
    return big


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray workers through /proc")
def test_killed_ray_worker_is_retried_with_identical_output(corpus, tmp_path, ray_address):
    speech, noise, rir = corpus
    big = _many_inputs(corpus, tmp_path)
    kw = dict(pipeline=None, copies=12, seed=3, progress=False)
    from noisegen.batch import default_pipeline

    pipe = lambda: default_pipeline(noise_dir=noise, rir_dir=rir)  # noqa: E731
    reference = tmp_path / "reference"
    augment_folder(big, reference, **{**kw, "pipeline": pipe()})
    out = tmp_path / "out"
    result = {}
    run = threading.Thread(target=lambda: result.update(
        summary=augment_folder(big, out, **{**kw, "pipeline": pipe()}, engine="ray")))
    run.start()
    killed, deadline = None, time.monotonic() + 120
    while killed is None and run.is_alive() and time.monotonic() < deadline:
        pids = _task_pids()  # titled so only while it runs a task: loading, rendering or writing
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.005)
    run.join(300)
    assert killed is not None, "no task was caught running"
    summary = result["summary"]
    assert summary.failures == [] and summary.n_written == 8 * 12
    assert_same_run(out, reference)


_SIGTERM_ON_RAY = """
import os, signal, sys
from noisegen import cli
from noisegen.batch import ray_engine

drive = ray_engine._drive

def driving(*args, **kwargs):  # Ray joined, the tasks about to go out: a scheduler's stop comes
    os.kill(os.getpid(), signal.SIGTERM)
    return drive(*args, **kwargs)

ray_engine._drive = driving
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_on_ray_is_the_command_lines_stop(corpus, tmp_path, ray_address):
    """ray.init replaced the command line's SIGTERM handler with Ray's: a stop printed a stack dump
    ("*** SIGTERM received at time=...") and ended with status 15, not "terminated; rerun the same command
    to resume" and 143."""
    out = tmp_path / "out"
    args = ["augment", *default_args(corpus, out), "--engine", "ray", "--ray-address", ray_address, "--no-progress"]
    done = subprocess.run([sys.executable, "-c", _SIGTERM_ON_RAY, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=_env())
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "noisegen augment: terminated; rerun the same command to resume"
    assert "SIGTERM received" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert temp_files(out) == []
    assert augment(*default_args(corpus, out)) == 0 and len(read_manifest(out)) == 4


@pytest.mark.slow
def test_killed_driver_then_rerun_resumes_with_identical_output(corpus, tmp_path, ray_address):
    big = _many_inputs(corpus, tmp_path, times=8)  # 32 inputs: a busy machine must not finish before the kill
    # The driver appends the manifest in plan order as groups of inputs come back, so a fast run can
    # write every line at once before the kill lands: then again with four times the outputs.
    for copies in (4, 16, 64):
        args = default_args(corpus, None, "--copies", copies)[2:]
        out = tmp_path / f"out{copies}"
        ray_args = (big, out, *args, "--engine", "ray", "--ray-address", ray_address)
        proc = _spawn(ray_args)
        manifest, deadline = out / MANIFEST, time.monotonic() + 120
        while time.monotonic() < deadline and not (manifest.exists() and manifest.read_bytes().count(b"\n") >= 1):
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver (its Ray tasks die with its job)
        proc.communicate()
        done_before = len(read_manifest(out))
        if done_before < 32 * copies:
            break
    assert 1 <= done_before < 32 * copies, "the kill must land part-way through"
    reference = tmp_path / "reference"
    assert augment(big, reference, *args) == 0
    rerun = _spawn(ray_args)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr.decode()
    assert f"{done_before} already complete" in stdout.decode()
    assert_same_run(out, reference)


@pytest.mark.slow
def test_cli_without_address_starts_and_stops_a_local_ray(corpus, tmp_path):
    pytest.importorskip("ray")
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    assert augment(*default_args(corpus, local)) == 0
    done = _run_cli("augment", *default_args(corpus, on_ray), "--engine", "ray", "--no-progress", timeout=300)
    assert done.returncode == 0, done.stderr
    assert_same_run(on_ray, local)


# -- noisegen.ray.augment -----------------------------------------------------------------------
def _rows(layout, dtype, n=10):
    rng = np.random.default_rng(7)
    shape = (lambda i: (1200 + 53 * i,)) if layout == "mono" else (lambda i: (2, 900))
    return [{"id": 3 * i + 1, "audio": (0.1 * rng.standard_normal(shape(i))).astype(dtype)} for i in range(n)]


def _pipeline(layout):
    from noisegen.transforms import AddBackgroundNoise, AddColoredNoise, Compose, Gain, SpeedPerturb

    noise = AddBackgroundNoise(noise=str(ROOT / "data" / "noise"), min_snr_db=5, max_snr_db=15, p=1.0)
    if layout == "mono":  # a bank held by the actors, and rows that change length
        return Compose([SpeedPerturb(factors=(0.9, 1.0, 1.1), p=0.5), noise, Gain(p=0.5)])
    return Compose([AddColoredNoise(min_snr_db=5, max_snr_db=15, p=1.0), Gain(p=0.5)])


@pytest.mark.parametrize("layout, dtype", [
    ("mono", np.float32), pytest.param("stereo", np.float64, marks=pytest.mark.slow)])
def test_ray_augment_same_for_any_blocks_and_actors_and_equal_to_the_pipeline(layout, dtype, ray_address):
    import ray

    import noisegen.ray as ngray

    rows, pipe, sr = _rows(layout, dtype), _pipeline(layout), 16000
    results = {}
    for blocks, actors in [(1, 1), (4, 1), (4, 2)]:
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        out = ngray.augment(ds, pipe, seed=5, sample_rate=sr, epoch=2, actors=actors, batch_size=3).take_all()
        results[blocks, actors] = {r["id"]: r for r in out}
    first = results[1, 1]
    for other in results.values():
        assert other.keys() == first.keys()
        for i, r in other.items():
            assert r["audio"].dtype == dtype and np.array_equal(r["audio"], first[i]["audio"])
            assert r["params"] == first[i]["params"]
    for row in rows:  # the pipeline applied directly with the same keys
        expected = pipe(row["audio"], sample_rate=sr, rng=ngray.row_key(5, 2, row["id"]))
        got = first[row["id"]]
        assert np.array_equal(got["audio"], expected) and json.loads(got["params"]) == pipe.last_params
    if layout == "mono":  # an integer id keys a row as AugmentStream keys that item (same seed, epoch)
        from noisegen import AugmentStream

        stream = AugmentStream([r["audio"] for r in rows], pipe, sample_rate=sr, rng=5, shuffle=False)
        stream.set_epoch(2)
        for chunk in stream:
            expected = pipe(rows[chunk.item]["audio"], sample_rate=sr, rng=ngray.row_key(5, 2, chunk.item))
            assert chunk.epoch == 2 and np.array_equal(chunk.samples, expected)


@pytest.mark.slow
def test_ray_augment_paths_and_torch_ingestion(ray_address):
    import ray

    import noisegen
    import noisegen.ray as ngray
    from noisegen.transforms import AddColoredNoise, Compose, Gain

    pipe, sr = Compose([AddColoredNoise(min_snr_db=10, max_snr_db=20, p=1.0), Gain(p=0.5)]), 8000
    folder = str(ROOT / "data" / "speech")
    ds = ray.data.read_binary_files(folder, include_paths=True)  # encoded bytes, keyed by path
    # one actor: the read tasks need the second CPU of this 2-CPU instance
    out = ngray.augment(ds, pipe, seed=1, sample_rate=sr, column="bytes", id_column="path", actors=1).take_all()
    assert len(out) == 4
    for r in out:
        y, _ = noisegen.load(r["path"], sample_rate=sr)
        assert np.array_equal(r["bytes"], pipe(y, sample_rate=sr, rng=ngray.row_key(1, 0, r["path"])))
    torch = pytest.importorskip("torch")
    rows = _rows("stereo", np.float32, n=6)
    ds = ngray.augment(ray.data.from_items(rows, override_num_blocks=2), pipe, seed=1, sample_rate=sr, actors=2)
    seen = []
    for batch in ds.select_columns(["id", "audio"]).iter_torch_batches(batch_size=4):
        assert isinstance(batch["audio"], torch.Tensor) and batch["audio"].dtype == torch.float32
        assert tuple(batch["audio"].shape[1:]) == (2, 900)
        seen += batch["id"].tolist()
    assert sorted(seen) == [r["id"] for r in rows]


def test_hugging_face_audio_structs_are_read_and_resampled(ray_address):
    # ray.data.from_huggingface gives the Audio column as structs: {"array", "sampling_rate"} (or {"bytes",
    # "path"} with Audio(decode=False)); each row failed with "y must be float32 or float64 audio, got dtype object"
    import io

    import datasets
    import ray
    import soundfile as sf

    import noisegen
    import noisegen.ray as ngray
    from noisegen.transforms import AddColoredNoise

    pipe, sr = AddColoredNoise(min_snr_db=5, max_snr_db=15, p=1.0), 8000
    rates = [sr, 16000, sr, 11025]

    def clips(shapes):
        return [(0.1 * np.random.default_rng(i).standard_normal(s)).astype(np.float32) for i, s in enumerate(shapes)]

    def wav(y, rate):
        buf = io.BytesIO()
        sf.write(buf, y.T, rate, format="WAV", subtype="FLOAT")
        return {"bytes": buf.getvalue(), "path": None}

    mono, mixed = clips([(700,), (333,), (0,), (1200,)]), clips([(700,), (2, 901), (1, 333), (1200,)])
    for ys, rows in ((mono, [{"array": y, "sampling_rate": r} for y, r in zip(mono, rates)]),
                     (mixed, [wav(y, r) for y, r in zip(mixed, rates)])):
        hf = datasets.Dataset.from_dict({"audio": rows, "id": list(range(len(rows)))})
        # (the Arrow table ray.data.from_huggingface reads a Dataset as: that call needs aiohttp as well)
        out = ngray.augment(ray.data.from_arrow(hf.data.table), pipe, seed=2, sample_rate=sr, num_cpus=0.5).take_all()
        assert sorted(r["id"] for r in out) == list(range(len(rows)))
        for r in out:
            y, rate = ys[r["id"]], rates[r["id"]]
            y = y[0] if y.ndim == 2 and y.shape[0] == 1 else y
            if rate != sr:
                y = noisegen.resample(y, orig_sample_rate=rate, target_sample_rate=sr)
            expected = pipe(y, sample_rate=sr, rng=ngray.row_key(2, 0, r["id"]))
            np.testing.assert_array_equal(np.asarray(r["audio"], dtype=np.float32), expected)


def test_the_module_notes_example_runs_as_written_on_files_of_several_lengths(ray_address):
    # the notes read the augmented read_binary_files rows with iter_torch_batches(batch_size=None), which
    # refuses rows of different lengths ("Numpy array of object dtype cannot be converted to a Torch Tensor")
    import re

    import noisegen
    import noisegen.data.ray as module

    code = re.search(r"::\n\n((?: {4}.*\n|\n)+?)\n(?=\S)", module.__doc__).group(1)
    code = code.replace('"s3://bucket/speech/"', repr(str(ROOT / "data" / "speech"))).replace("...", "seen.append(batch)")
    scope = {"pipeline": noisegen.Gain(p=1.0), "seen": []}
    exec(compile("\n".join(line[4:] for line in code.splitlines()), "noisegen.data.ray notes", "exec"), scope)
    rows = [a for batch in scope["seen"] for a in batch["bytes"]]
    assert len(rows) == 4 and len({a.shape for a in rows}) > 1  # files of several lengths, all read


def test_a_pool_the_cluster_cannot_place_is_warned_of(ray_address):
    # actors=10**9 or num_cpus=1e9 were taken, and the run then waited for ever (the local cluster has 2 CPUs)
    import warnings

    import ray

    import noisegen
    import noisegen.ray as ngray
    from noisegen.transforms import Gain

    ds = ray.data.from_items(_rows("mono", np.float32, n=2))
    for kwargs, match in (({"actors": 3}, r"actors \* num_cpus = 3 CPUs, more than the cluster has \(2\)"),
                          ({"actors": 10**9}, r"actors \* num_cpus = 1e\+09 CPUs"),
                          ({"num_cpus": 1e9}, r"num_cpus=1e\+09 per actor, more than any node of the cluster has \(2\)")):
        with pytest.warns(noisegen.NoisegenWarning, match=match):
            ngray.augment(ds, Gain(p=1.0), seed=0, sample_rate=16000, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ngray.augment(ds, Gain(p=1.0), seed=0, sample_rate=16000, actors=2)  # what the cluster has: no word


class _FakeRay:
    """What ``_warn_if_unschedulable`` asks of ``ray``: a connected cluster of nodes with these CPUs."""

    def __init__(self, *node_cpus):
        self.node_cpus = node_cpus

    def is_initialized(self):
        return True

    def cluster_resources(self):
        return {"CPU": float(sum(self.node_cpus))}

    def nodes(self):
        return [{"Alive": True, "Resources": {"CPU": float(c)}} for c in self.node_cpus]


@pytest.mark.parametrize("node_cpus, actors, num_cpus, left", [
    ((1,), 1, 0.5, "0.5"), ((2,), 2, 1.0, "0"), ((2,), 1, 1.5, "0.5"), ((4, 4), 3, 2.5, "0.5"),
])
def test_a_pool_that_leaves_the_read_tasks_less_than_a_cpu_is_warned_of(node_cpus, actors, num_cpus, left):
    # ray.init(num_cpus=1) with actors=1, num_cpus=0.5 and read_binary_files rows: the pool fits, but the
    # reads (a whole CPU each) never ran, and the run waited for ever without a word
    import warnings

    import noisegen
    from noisegen.data.ray import _warn_if_unschedulable

    ray = _FakeRay(*node_cpus)
    with pytest.warns(noisegen.NoisegenWarning, match=rf"leaves {left}, less than the whole CPU each Ray task"):
        _warn_if_unschedulable(ray, actors, num_cpus, tasks=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_if_unschedulable(ray, actors, num_cpus, tasks=False)  # rows in memory: no task waits
        _warn_if_unschedulable(_FakeRay(2), 1, 1.0, tasks=True)  # a whole CPU left: the reads run
        _warn_if_unschedulable(_FakeRay(4, 4), 3, 2.0, tasks=True)


def test_the_warning_for_read_tasks_follows_the_dataset(ray_address, tmp_path):
    import warnings

    import ray

    import noisegen
    import noisegen.ray as ngray
    from noisegen.data.ray import _runs_tasks
    from noisegen.transforms import Gain

    path = tmp_path / "a.wav"
    noisegen.save(str(path), np.zeros(800, np.float32), sample_rate=16000)
    read = ray.data.read_binary_files([str(path)], include_paths=True)
    items = ray.data.from_items(_rows("mono", np.float32, n=2))
    assert _runs_tasks(read) and _runs_tasks(ray.data.range(3)) and _runs_tasks(items.map(lambda r: r))
    assert not _runs_tasks(items) and not _runs_tasks(items.materialize())
    kwargs = {"seed": 0, "sample_rate": 16000, "column": "bytes", "id_column": "path"}
    with pytest.warns(noisegen.NoisegenWarning, match=r"2 CPU\(s\) leaves 0, less than the whole CPU"):
        ngray.augment(read, Gain(p=1.0), actors=2, **kwargs)  # the 2-CPU cluster: nothing left for the read
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ngray.augment(read, Gain(p=1.0), actors=1, **kwargs)
        ngray.augment(items, Gain(p=1.0), seed=0, sample_rate=16000, actors=2)


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, "seed"), ({"seed": 1e300}, "seed must be a non-negative int, got float"),
    ({"sample_rate": 0}, "sample_rate"), ({"actors": 0}, "actors"),
    ({"id_column": "nope"}, "id_column 'nope'"), ({"column": "nope"}, "column 'nope'"),
    ({"params_column": "id"}, "params_column"), ({"num_cpus": 0}, "num_cpus"),
    ({"id_column": "audio"}, "id_column 'audio' must differ from column"),
])
def test_ray_augment_refuses_bad_arguments_before_reading(kwargs, match, ray_address):
    import ray

    import noisegen
    import noisegen.ray as ngray
    from noisegen.transforms import Gain

    ds = ray.data.from_items(_rows("mono", np.float32, n=2))
    with pytest.raises(noisegen.ParameterError, match=match):
        ngray.augment(ds, Gain(p=1.0), **{"seed": 0, "sample_rate": 16000, **kwargs})
    with pytest.raises(noisegen.ParameterError, match="row id"):
        ngray.row_key(0, 0, -3)


@pytest.mark.parametrize("length", [1, 200, 218, 219, 246])  # output names of 10 to 255 bytes
def test_the_temps_of_killed_attempts_are_removed_for_any_output_name(length, tmp_path):
    """The end of a Ray run looked for each output's name in its temps, but the temps of a name too long
    to repeat (temp_stem) carry its hash: a killed attempt's were left in OUT_DIR after the run."""
    from noisegen._core.tempfiles import temp_stem
    from noisegen.batch.ray_engine import cleanup_temps
    from noisegen.batch.work import CMP_ROOM

    name, other = "x" * length + ".aug0.wav", "y" * length + ".aug0.wav"
    (tmp_path / "sub").mkdir()
    cmp = f"{temp_stem(name, room=CMP_ROOM)}.4242.cmp.wav"
    temps = [f"{temp_stem(name)}.ab12cd34.part", f"{temp_stem(name)}.ab12cd34.f32", cmp,
             f"{temp_stem(cmp)}.ab12cd34.part"]
    kept = [name, f"{temp_stem(other)}.ab12cd34.part"]  # the output, and a temp of an output of no task
    for entry in temps + kept:
        (tmp_path / "sub" / entry).write_bytes(b"half")
    task = (str(tmp_path), str(tmp_path), str(tmp_path), "in.wav", [{"output": f"sub/{name}"}], {}, {}, None)
    assert cleanup_temps(str(tmp_path), [task]) == len(temps)
    assert sorted(os.listdir(tmp_path / "sub")) == sorted(kept)


def test_the_temp_tars_of_killed_attempts_are_removed(tmp_path):
    """--output-format webdataset: a Ray worker killed while writing a tar left its temp tar in OUT_DIR after
    the run (the end-of-run sweep knew only the temps of audio outputs)."""
    from noisegen.batch.ray_engine import cleanup_temps
    from noisegen.batch.wds import SHARD_NAME, ShardTask

    out = str(tmp_path)
    tasks = [ShardTask(out, out, out, SHARD_NAME.format(i), [{"output": SHARD_NAME.format(i)}], {}, [], "j", "", False)
             for i in (0, 1, 1000000)]
    temps = [f".{task.rel}.{pid}.part" for task in tasks for pid in (7, 4194304)]
    kept = ["shard-000000.tar", ".shard-000002.tar.7.part"]  # a tar, and the temp of a tar of no task
    for entry in temps + kept:
        (tmp_path / entry).write_bytes(b"half")
    assert cleanup_temps(out, tasks) == len(temps)
    assert sorted(os.listdir(tmp_path)) == sorted(kept)


class _DyingRay:
    """What ``_drive`` asks of ``ray``: a task holding an input named "bad" dies on every attempt."""

    class exceptions:
        RayError = type("RayError", (Exception,), {})

    def __init__(self):
        self.calls, self.cancelled = [], []

    def submit(self, box, group):  # (what ``.remote`` of a ray.remote(...)-made function is)
        self.calls.append([task[3] for task in group])
        return (len(self.calls), tuple(group))

    def wait(self, refs, num_returns):
        return [refs[-1]], refs[:-1]  # out of order

    def get(self, ref):
        if any(task[3].startswith("bad") for task in ref[1]):
            raise self.exceptions.RayError("WorkerCrashedError: The worker died unexpectedly\nmore")
        return [(task[3], [{"ok": True, "input": task[3]}]) for task in ref[1]], []

    def cancel(self, ref):
        self.cancelled.append(ref)


@pytest.mark.parametrize("names, size", [
    ("a bad c d e", 2), ("bad a b c", 4), ("a b c bad", 4), ("bad1 a bad2 b c", 3), ("a bad", 1), ("bad", 1),
])
def test_an_input_that_kills_its_ray_task_fails_alone(names, size):
    """Inputs grouped into one Ray task with an input that kills its worker were all recorded as failed."""
    from noisegen.batch.ray_engine import _drive

    ray, collected = _DyingRay(), []
    tasks = [(None, None, None, name, ()) for name in names.split()]
    groups = [tasks[i:i + size] for i in range(0, len(tasks), size)]
    _drive(ray, type("Remote", (), {"remote": staticmethod(ray.submit)}), None, groups, collected.append, window=2)
    assert [rel for rel, _ in collected] == names.split()  # plan order
    for rel, results in collected:
        assert results[0]["ok"] == (not rel.startswith("bad"))
        if rel.startswith("bad"):
            assert results[0]["error"] == "on Ray: RayError: WorkerCrashedError: The worker died unexpectedly more"
    assert ray.cancelled == []


class _StoppedRay(_DyingRay):
    """What ``run_tasks`` asks of ``ray``: Ctrl-C lands while it waits for its first task; each task
    in flight has its temp file in OUT_DIR (a task writing its output)."""

    def __init__(self, out, joined):
        super().__init__()
        self.out, self.joined, self.shut = out, joined, False

    def is_initialized(self):
        return self.joined

    def init(self, **kwargs):
        pass

    def get_runtime_context(self):
        return type("Context", (), {"gcs_address": "127.0.0.1:6379"})()

    def cluster_resources(self):
        return {"CPU": 1}

    def remote(self, **kwargs):
        return lambda fn: type("Remote", (), {"remote": staticmethod(self.submit)})

    def submit(self, box, group):
        from noisegen._core.tempfiles import temp_stem

        for task in group:
            (self.out / f"{temp_stem(task[4][0]['output'])}.ab12cd34.part").write_bytes(b"half")
        self.calls.append(group)
        return len(self.calls)

    def put(self, value):
        return value

    def wait(self, refs, num_returns):
        raise KeyboardInterrupt

    def shutdown(self):
        self.shut = True


@pytest.mark.parametrize("joined", [False, True])
def test_a_stopped_run_cancels_its_tasks_only_when_it_did_not_start_ray(joined, tmp_path, monkeypatch):
    """Ctrl-C on augment --engine ray cancelled the tasks in flight, then shut the Ray it had started
    down: a cancel that met a task's reply on its way aborted the driver in Ray's C++ ("Tried to complete
    task that was not pending", about one stop in five on 2 CPUs), exit 1 and a stack dump instead of 130.
    The shutdown alone stops the tasks of a run that started Ray; a process already on Ray cancels them."""
    from noisegen import Gain
    from noisegen.batch import AugmentSummary, ray_engine

    ray = _StoppedRay(tmp_path, joined)
    monkeypatch.setattr(ray_engine, "import_ray", lambda: ray)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    tasks = [(None, None, None, f"{k}.wav", [{"output": f"{k}.aug0.wav"}]) for k in range(3)]
    with pytest.raises(KeyboardInterrupt):
        ray_engine.run_tasks(Gain(p=1.0), tasks, str(tmp_path), lambda r: None, AugmentSummary())
    assert (len(ray.cancelled), ray.shut) == ((3, False) if joined else (0, True))
    assert os.listdir(tmp_path) == []  # the temp files of the tasks stopped


@pytest.mark.parametrize("mode, fix", [(None, "set RAY_AUTH_MODE=token"), ("token", "give this process the cluster's token")])
def test_a_cluster_that_refuses_the_token_is_named(mode, fix, monkeypatch):
    """A cluster with token authentication (`ray start --head` turns it on where ~/.ray/auth_token exists,
    which any local ray.init() writes): Ray joins an address it is given without the token unless
    RAY_AUTH_MODE=token, and said only "Failed to connect to Ray cluster at ..." with nothing of why."""
    import socket

    import noisegen
    from noisegen.batch.ray_engine import _connect

    class RefusingRay:
        def is_initialized(self):
            return False

        def init(self, **kwargs):
            try:  # (as Ray 2.60 raises it: the AuthenticationError is in its cause's text)
                raise RuntimeError("Failed to connect to GCS. Last connection error: Traceback (most recent call "
                                   "last):\n  ...\nray.exceptions.AuthenticationError: RPC error: InvalidAuthToken: "
                                   "Authentication token is missing or incorrect. Note: ...")
            except RuntimeError as exc:
                raise ConnectionError("Failed to connect to Ray cluster at 127.0.0.1:6379") from exc

    if mode is None:
        monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    else:
        monkeypatch.setenv("RAY_AUTH_MODE", mode)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(noisegen.ParameterError) as info:
            _connect(RefusingRay(), f"127.0.0.1:{s.getsockname()[1]}")
    assert "\n" not in str(info.value) and "refused this process's token; " + fix in str(info.value)


def test_the_local_instance_a_run_starts_adds_no_token_notice(monkeypatch, caplog):
    """augment --engine ray without an address printed Ray's "WARNING ... Token authentication is enabled
    for this Ray cluster. Set RAY_AUTH_MODE=disabled to opt out ..." on every run, a timestamped line of no
    use for the instance the run starts and stops. A cluster the run joins keeps Ray's notices."""
    import logging
    import socket

    from noisegen.batch.ray_engine import _connect

    notice = "ray._private.authentication.authentication_token_setup"  # (Ray 2.60's logger of it)

    class NoticingRay:
        def is_initialized(self):
            return False

        def init(self, **kwargs):
            logging.getLogger(notice).warning("Token authentication is enabled for this Ray cluster.")

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with caplog.at_level(logging.WARNING):
        assert _connect(NoticingRay(), None)
    assert caplog.records == [] and logging.getLogger(notice).level == logging.NOTSET
    with socket.socket() as s, caplog.at_level(logging.WARNING):
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert _connect(NoticingRay(), f"127.0.0.1:{s.getsockname()[1]}")
    assert [r.getMessage() for r in caplog.records] == ["Token authentication is enabled for this Ray cluster."]
