"""The benchmark suite: a quick smoke run, the JSON record schema, the
harness's ratio/skip logic and its quality measures."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import import_bench

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_KEYS = {"op", "params", "library", "clip_s", "xrt", "compile_s", "quality"}


@pytest.fixture(scope="module")
def h():
    """bench._harness, imported without leaking its thread pins into this process's environment."""
    return import_bench("_harness")


@pytest.fixture(scope="module")
def report():
    return import_bench("_report")


@pytest.fixture(scope="module")
def quality():
    return import_bench("_quality")


def _run_bench(tmp_path, *args, timeout=300):
    out = tmp_path / "out.json"
    res = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out), *args],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(out.read_text()), res.stdout


def _check_schema(records):
    assert isinstance(records, list) and records
    for r in records:
        assert REQUIRED_KEYS <= set(r), r
        assert isinstance(r["params"], dict) and isinstance(r["quality"], dict)
        if r["status"] == "ok" and r["clip_s"] is not None:
            assert r["xrt"] > 0 and r["median_s"] > 0 and r["iqr_s"] >= 0


def test_quick_synth_smoke(tmp_path):
    records, stdout = _run_bench(tmp_path, "--only", "synth", "--clip-s", "1", "--no-cold")
    _check_schema(records)
    ok = {(r["library"], r["params"]["color"]) for r in records if r["status"] == "ok"}
    assert {("numpy", c) for c in ("white", "pink", "brown")} <= ok
    assert all(r["clip_s"] == 1.0 for r in records)
    assert "| colored_noise |" in stdout  # the Markdown table
    for r in records:
        if r["status"] == "ok":  # every method, noisegen included, keeps the slope within 0.2 dB/octave
            assert abs(r["quality"]["slope_err_db_oct"]) < 0.2, r
    env = json.loads((tmp_path / "out.env.json").read_text())
    assert env["threads"]["OMP_NUM_THREADS"] == "1" and env["versions"]["numpy"]


def test_missing_noisegen_op_and_anchor_are_reported_not_raised(h):
    cfg = h.Config(clips=(0.25,), repeats=3, min_repeat_s=0.001, max_total_s=0.05, cold=False,
                   compile_each=False, log=lambda m: None)
    cases = [
        h.Case("x", {}, "noisegen", "noisegen x", "bench.bench_synth:make_noisegen", {"color": "no_such_xyz"}),
        h.Case("x", {}, "ghostlib", "ghost", "bench._harness:ng", {"name": "x"}, requires=("no_such_module_xyz",)),
    ]
    recs = h.run_cases(cases, cfg)
    assert [r["status"] for r in recs] == ["not available", "skipped"]
    assert "no_such_xyz_noise" in recs[0]["note"] and recs[0]["xrt"] is None
    assert "no_such_module_xyz" in recs[1]["note"]


def test_compile_time_is_measured_for_each_parameter_set_of_an_op(h, monkeypatch):
    """One op's parameters reach different kernels (resample 16 -> 8 kHz a decimator, 44.1 -> 16 kHz the
    rational one): each row's compile time is its own, not the first row's copied to all."""
    measured = []

    def cold(case, clip_s, *, fresh_cache):
        measured.append(case.params["orig"])
        return {"first": case.params["orig"] / 1000.0, "warm": 0.0}

    monkeypatch.setattr(h, "cold_first_call", cold)
    cfg = h.Config(clips=(0.05,), repeats=3, min_repeat_s=0.0, max_total_s=0.01, compile_each=True,
                   log=lambda m: None)
    cases = [h.Case("resample", {"orig": orig}, lib, lib, "bench.bench_synth:make_numpy", {"color": "white"})
             for orig in (44100, 16000) for lib in ("noisegen", "numpy")]
    recs = h.run_cases(cases, cfg)
    assert sorted(measured) == [16000, 44100]  # once per parameter set, noisegen's only
    got = {(r["library"], r["params"]["orig"]): r["compile_s"] for r in recs}
    assert got == {("noisegen", 44100): 44.1, ("noisegen", 16000): 16.0, ("numpy", 44100): None,
                   ("numpy", 16000): None}


def make_failing_on_call(n):
    """A case factory (used by name below): a function that fails from its ``n``-th call on."""
    calls = [0]

    def fn(clip):
        calls[0] += 1
        if calls[0] >= n:
            raise RuntimeError(f"call {calls[0]} failed")
        return clip

    return fn


def test_a_case_failing_in_the_timed_rounds_is_its_own_error_record(h):
    """time_group returns the exception of a function that fails after its two warm-up calls, as it does for
    one whose first call fails; raised, it stopped run_cases and the area kept none of its records."""
    got = h.time_group([make_failing_on_call(4), lambda x: x], 1, repeats=5, min_repeat_s=0.0, max_total_s=0.01)
    assert isinstance(got[0], RuntimeError) and "call 4 failed" in str(got[0])
    assert got[1]["repeats"] == 5 and got[1]["median_s"] > 0
    cfg = h.Config(clips=(0.05,), repeats=3, min_repeat_s=0.0, max_total_s=0.01, compile_each=False,
                   log=lambda m: None)
    cases = [h.Case("f", {}, "noisegen", "flaky", "test_bench:make_failing_on_call", {"n": 3}),
             h.Case("f", {}, "numpy", "numpy", "bench.bench_synth:make_numpy", {"color": "white"})]
    recs = h.run_cases(cases, cfg)
    assert [(r["variant"], r["status"]) for r in recs] == [("flaky", "error"), ("numpy", "ok")]
    assert "call 3 failed" in recs[0]["note"] and recs[1]["xrt"] > 0


def test_summary_ratio_uses_fastest_like_for_like_anchor(h, report):
    def rec(lib, xrt, lfl=True):
        return {"op": "f", "params": {"a": 1}, "library": lib, "variant": lib, "clip_s": 4.0, "xrt": xrt,
                "median_s": 4.0 / xrt, "iqr_s": 0.0, "compile_s": None, "first_call_s": 0.0, "quality": {},
                "like_for_like": lfl, "status": "ok", "note": ""}

    rows = report.summary_rows([rec("noisegen", 300.0), rec("scipy", 100.0), rec("numpy", 150.0),
                           rec("cheat", 1000.0, lfl=False)])
    assert len(rows) == 1
    assert rows[0]["anchor"]["library"] == "numpy"
    assert rows[0]["ratio"] == pytest.approx(2.0)
    md = report.markdown([rec("noisegen", 300.0), rec("numpy", 150.0)], h.environment())
    assert "2.00x" in md


def test_quality_measures(h, quality):
    rng = np.random.default_rng(0)
    n = 1 << 17
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    pink = np.fft.irfft(spec / np.sqrt(f), n)
    assert quality.psd_slope_db_per_oct(pink) == pytest.approx(-3.0103, abs=0.05)
    assert quality.psd_slope_db_per_oct(rng.standard_normal(n)) == pytest.approx(0.0, abs=0.05)
    tone = h.harmonic_tone(64000, f0=220.0)
    assert quality.f0_hz(tone, 220.0) == pytest.approx(220.0, abs=0.01)
    shifted = h.harmonic_tone(64000, f0=220.0 * 2 ** (2 / 12))
    assert quality.semitones(quality.f0_hz(shifted, 247.0), 220.0) == pytest.approx(2.0, abs=0.002)
    s, noise = rng.standard_normal(8000), rng.standard_normal(8000)
    g = np.sqrt(np.sum(s**2) / np.sum(noise**2) / 10)
    assert quality.snr_error_db(s, s + g * noise, 10.0) == pytest.approx(0.0, abs=1e-9)
    assert quality.snr_error_db(s, s + 2 * g * noise, 10.0) == pytest.approx(-6.0206, abs=1e-3)
    y = rng.standard_normal(16000)
    assert quality.log_mel_distance(y, y) == pytest.approx(0.0, abs=1e-9)
    assert quality.log_mel_distance(0.1 * y, y) > 5


@pytest.mark.slow
def test_quick_run_has_noisegen_and_anchors_for_the_same_ops(tmp_path):
    """Must show: ``python -m bench --quick --json out.json`` writes records for noisegen and at least
    librosa, scipy and soxr for the same operations."""
    pytest.importorskip("librosa")
    pytest.importorskip("soxr")
    records, stdout = _run_bench(tmp_path, timeout=600)
    _check_schema(records)
    errors = [(r["op"], r["library"], r["clip_s"], r["note"]) for r in records if r["status"] == "error"]
    assert not errors, errors  # an anchor that fails drops out of the comparison silently
    ok = [r for r in records if r["status"] == "ok" and r["clip_s"] is not None]
    ops = {lib: {r["op"] for r in ok if r["library"] == lib} for lib in ("noisegen", "librosa", "scipy", "soxr")}
    for lib in ("librosa", "scipy", "soxr"):
        assert ops[lib] and ops[lib] <= ops["noisegen"], (lib, ops)
    assert {"colored_noise", "mix_at_snr", "bandpass", "convolve_rir", "time_stretch", "pitch_shift", "speed",
            "chain"} <= ops["noisegen"]
    assert {r["clip_s"] for r in ok} == {1.0, 4.0}


@pytest.mark.parametrize("args, says", [
    (["--clip-s", "0"], "--clip-s: must be at least 0.01, got 0"), (["--clip-s", "nan"], "--clip-s: must be at least"),
    (["--clip-s", "0.00001"], "--clip-s: must be at least 0.01"), (["--json", ""], "cannot write"),
    (["--threads", "0"], "--threads: must be at least 1, got 0"), (["--json", "/nonexistent/x.json"], "cannot write"),
    (["--markdown", "{tmp}"], "cannot write"), (["--only", "nope"], "unknown area 'nope'"),
    (["--json", "{tmp}/r.md", "--markdown", "{tmp}/r.md"], "--json and --markdown name one file"),
    (["--json", "{tmp}/r.json", "--markdown", "{tmp}/r.env.json"], "--json's .env.json and --markdown name one file"),
    (["--only", "startup", "--no-cold"], "--no-cold leaves it nothing to run"),
])
def test_bad_options_are_refused_before_the_run(tmp_path, args, says):
    """--clip-s 0 and --threads 0 failed inside the run (a traceback, or every noisegen row 'not
    available'); an unwritable --json failed after it, its results lost."""
    res = subprocess.run([sys.executable, "-m", "bench", *(a.format(tmp=tmp_path) for a in args)], cwd=str(ROOT),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and says in res.stderr and "Traceback" not in res.stderr, res.stderr[-2000:]


@pytest.mark.parametrize("bad_at", [0, 1, 39])
def test_a_failed_results_write_keeps_the_previous_file(h, tmp_path, monkeypatch, bad_at):
    """--json and --markdown were opened for writing in place: a write that failed part-way (a record
    that would not serialise, a full disk, Ctrl-C) left the previous results truncated."""
    main = import_bench("__main__")
    monkeypatch.setenv("NOISEGEN_BENCH_THREADS", "1")
    env = {"cpu": "x", "cores": 1, "cores_usable": 1, "python": "3", "platform": "p", "threads": {},
           "versions": {}, "date": "d"}
    good = {"op": "f", "params": {}, "library": "numpy", "variant": "numpy", "clip_s": 1.0, "xrt": 2.0,
            "median_s": 0.5, "iqr_s": 0.0, "compile_s": None, "first_call_s": 0.1, "quality": {},
            "like_for_like": True, "status": "ok", "note": ""}
    records = [dict(good) for _ in range(40)]
    monkeypatch.setattr(h, "environment", lambda: dict(env))
    monkeypatch.setattr(h, "run_cases", lambda cases, cfg: [dict(r) for r in records])
    out, md = tmp_path / "out.json", tmp_path / "out.md"
    assert main.main(["--only", "synth", "--no-cold", "--json", str(out), "--markdown", str(md)]) == 0
    assert json.loads(out.read_text()) == records and md.read_text().startswith("# noisegen benchmark")
    before = out.read_bytes(), md.read_bytes()
    records[bad_at]["quality"] = {"flag": object()}  # fails to serialise, part of the file written
    with pytest.raises(TypeError):
        main.main(["--only", "synth", "--no-cold", "--json", str(out), "--markdown", str(md)])
    assert (out.read_bytes(), md.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.env.json", "out.json", "out.md"]


@pytest.mark.parametrize("installed", [False, True])
def test_rooms_reports_a_missing_or_failing_anchor(h, monkeypatch, installed):
    """bench rooms dropped pyroomacoustics without a record when it was not installed (or its call
    raised): the report read as if noisegen had no anchor there, unlike every other area."""
    rooms = import_bench("bench_rooms")

    def decaying(rt60):
        rng = np.random.default_rng(0)
        t = np.arange(int(1.5 * rt60 * h.SR)) / h.SR
        return lambda clip: rng.standard_normal(len(t)) * 10 ** (-3 * t / rt60)

    def failing(rt60):
        def fn(clip):
            raise RuntimeError("room too small")
        return fn

    monkeypatch.setattr(rooms, "make_noisegen", decaying)
    monkeypatch.setattr(rooms, "make_pyroomacoustics", failing)
    monkeypatch.setattr(rooms, "have", lambda module: installed)
    cfg = h.Config(repeats=3, min_repeat_s=0.0, max_total_s=0.01, cold=False, compile_each=False, quick=True,
                   log=lambda m: None)
    recs = rooms.extra(cfg)
    anchor = [r for r in recs if r["library"] == "pyroomacoustics"]
    assert sorted(r["params"]["rt60_s"] for r in anchor) == sorted(rooms.RT60S)
    want = ("error", "RuntimeError: room too small") if installed else ("skipped", "not installed: pyroomacoustics")
    assert {(r["status"], r["note"]) for r in anchor} == {want}
    assert all(r["median_s"] is None and r["quality"] == {"seconds": None} for r in anchor)
    assert [r["status"] for r in recs if r["library"] == "noisegen"] == ["ok"] * len(rooms.RT60S)
    report = import_bench("_report").markdown(recs, h.environment())
    assert report.count(f"| {want[0]}: {want[1]} |") == len(rooms.RT60S)


def test_codec_area_times_pedalboard_gsm_and_mp3_in_the_same_run(h):
    """bench_codec said no anchor library was installed and timed noisegen alone, while pedalboard (a
    bench dependency) ships GSM 6.10 and LAME MP3: both run now, GSM like for like, MP3 (VBR) not."""
    codec = import_bench("bench_codec")
    cfg = h.Config(clips=(0.25,), repeats=1, min_repeat_s=0.0, max_total_s=0.01, cold=False, compile_each=False,
                   quick=True, log=lambda m: None)
    anchors = {c.params["format"]: c for c in codec.cases(cfg) if c.op == "codec" and c.library == "pedalboard"}
    assert sorted(anchors) == ["gsm", "mp3"] and anchors["gsm"].like_for_like and not anchors["mp3"].like_for_like
    # (the cases above are there whether pedalboard is or not; running them needs it: the bench extra, not CI's)
    pytest.importorskip("pedalboard")
    clip = h.Clip.make(0.25)
    for case in anchors.values():
        q = case.quality(case.build(), clip)
        assert q["lag"] == 0 and q["snr_db"] > 5, (case.variant, q)


def test_an_anchor_whose_dependency_fails_to_import_is_skipped_naming_it(tmp_path):
    """With soxr unusable, librosa still imported (it loads soxr on first call), so every librosa row
    was an "error"; audiomentations, installed but failing on its own dependency, read "not installed"."""
    for name in ("soxr", "python_stretch"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('simulated: {name} is broken')\n")
    script = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(tmp_path)!r}, {str(ROOT)!r}]\n"
        "from bench import _harness as h, bench_time as bt\n"
        "cfg = h.Config(clips=(0.25,), repeats=3, min_repeat_s=0.0, max_total_s=0.01, cold=False,\n"
        "               compile_each=False, log=lambda m: None)\n"
        "cases = [c for c in bt.cases(cfg) if c.library in ('librosa', 'audiomentations', 'soxr')]\n"
        "print(json.dumps(h.run_cases(cases, cfg)))\n")
    res = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    recs = json.loads(res.stdout.splitlines()[-1])
    libs = {r["library"] for r in recs}
    assert libs == {"librosa", "audiomentations", "soxr"}
    for r in recs:
        assert r["status"] == "skipped", r
        if r["library"] == "soxr":
            assert "soxr fails to import (ImportError: simulated: soxr is broken)" in r["note"], r
        elif importlib.util.find_spec(r["library"]) is None:  # (audiomentations: not in every test environment)
            assert r["note"] == f"not installed: {r['library']}", r
        else:
            assert f"{r['library']} fails to import" in r["note"] or "soxr fails to import" in r["note"], r
            assert "not installed" not in r["note"], r


@pytest.mark.parametrize("fails", ["fresh process", "in process", "both"])
def test_corpus_reports_a_failed_augment_run(h, monkeypatch, fails):
    """bench corpus left out the augment_corpus record of a run that failed (the CLI exiting non-zero,
    augment_folder writing nothing): the report read as if the measurement did not exist."""
    import noisegen.batch as nb

    corpus = import_bench("bench_corpus")

    class Pipeline:
        def prepare(self, sr):
            pass

    def augment_folder(src, out, **kw):
        return nb.AugmentSummary(n_written=0 if fails != "fresh process" else 3,
                                 audio_s=0.0 if fails != "fresh process" else 12.5, wall_s=0.1)

    def run(cmd, **kw):
        rc = 1 if fails != "in process" else 0
        if not rc:
            Path(cmd[5]).mkdir(parents=True)
            (Path(cmd[5]) / "manifest.jsonl").write_text('{"duration_s": 4.0}\n{"duration_s": 8.5}\n')
        return subprocess.CompletedProcess(cmd, rc, "", "Traceback ...\nOSError: no space left" if rc else "")

    monkeypatch.setattr(nb, "default_pipeline", lambda **kw: Pipeline())
    monkeypatch.setattr(nb, "augment_folder", augment_folder)
    monkeypatch.setattr(corpus, "run_child", run)
    cfg = h.Config(quick=True, cold=False, log=lambda m: None)
    recs = {r["variant"]: r for r in corpus._augment_records(cfg)}
    assert set(recs) == {"in process", "fresh process"}
    failed = {"in process", "fresh process"} if fails == "both" else {fails}
    for variant, r in recs.items():
        if variant in failed:
            assert r["status"] == "error" and r["xrt"] is None and r["median_s"] is None, r
            assert ("no space left" if variant == "fresh process" else "wrote nothing") in r["note"], r
        else:
            assert r["status"] == "ok" and r["xrt"] == pytest.approx(12.5 / r["median_s"]), r


def test_corpus_area_leaves_the_warning_filters_as_it_found_them(h, monkeypatch):
    """bench corpus set warnings.simplefilter("ignore") for the whole process: every area run after it
    (cli, rooms, codec, ... in a full run) lost its warnings, a failed compile-time run's among them."""
    import warnings

    corpus = import_bench("bench_corpus")
    monkeypatch.setattr(corpus, "_pipeline", lambda: object())
    monkeypatch.setattr(corpus, "_decode_record", lambda cfg, repeats: {"op": "stream_corpus"})
    monkeypatch.setattr(corpus, "_stream_pass", lambda pipe, seed, clock=False: (2.0, 0.01, {"read": 0.004}))
    monkeypatch.setattr(corpus, "_augment_records", lambda cfg: [])
    cfg = h.Config(quick=True, cold=False, log=lambda m: None)
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        before = list(warnings.filters)
        recs = corpus.extra(cfg)
        assert list(warnings.filters) == before
        with pytest.warns(UserWarning, match="cold run"):
            warnings.warn("cold run of x failed")
    assert [r.get("variant") for r in recs] == [None, "read", "default"]


@pytest.mark.parametrize("stderr", ["Traceback ...\nOSError: no space left\n", ""])
def test_cli_area_reports_a_failed_run_with_a_text_note(h, report, monkeypatch, stderr):
    """A failing `noisegen augment` gave the cli record a list as its note (["OSError: ..."], or [] with
    no stderr): the JSON broke its schema and the Markdown showed the list's brackets."""
    cli = import_bench("bench_cli")

    def run(cmd, **kw):
        rc = 0 if "--help" in cmd else 3
        return subprocess.CompletedProcess(cmd, rc, "usage: ..." if rc == 0 else "", "" if rc == 0 else stderr)

    monkeypatch.setattr(cli, "run_child", run)
    recs = cli.extra(h.Config(quick=True, cold=False, log=lambda m: None))
    assert [r["status"] for r in recs] == ["error"]
    note = recs[0]["note"]
    assert isinstance(note, str) and note.startswith("exit status 3: ") and "[" not in note
    assert ("OSError: no space left" in note) == bool(stderr)
    assert f"| error: {note} |" in report.markdown(recs, h.environment())


@pytest.mark.parametrize("failed", [(1,), (1, 10), (10,), ()])
def test_memory_ratio_is_against_the_first_length_only(monkeypatch, failed):
    """When the 1-minute run failed, the next length became the baseline: the 10-minute record read
    "1.00x the 1-minute file" (bounded memory) with no 1-minute figure behind it."""
    memory = import_bench("bench_memory")
    peaks = {1: 100.0, 10: 130.0, 60: 150.0}
    monkeypatch.setattr(memory, "make_wav", lambda path, minutes: path)
    monkeypatch.setattr(memory, "measure", lambda what, wav, work: (
        (None, 1.0, "MemoryError", 0.0) if int(wav.split("long")[-1][:-4]) in failed
        else (peaks[int(wav.split("long")[-1][:-4])], 2.0, "", 60.0)))
    recs = memory.run((1, 10, 60), whats=("stream",), log=lambda m: None)
    for m, r in zip((1, 10, 60), recs):
        ratio = r["quality"]["rss_ratio"]
        if m in failed:
            assert r["status"] == "error" and ratio is None and r["note"] == "MemoryError", r
        elif 1 in failed:
            assert ratio is None and "x the 1-minute" not in r["note"] and "1-minute run failed" in r["note"], r
        else:
            assert ratio == pytest.approx(peaks[m] / peaks[1]) and f"{ratio:.2f}x the 1-minute" in r["note"], r


@pytest.mark.parametrize("note", ["TypingError: Failed in nopython mode pipeline\nNo implementation of function\n",
                                  "ValueError: expected a | b", "x\r\ny | z\n\n", "plain"])
def test_markdown_rows_keep_their_columns_whatever_the_note(h, report, note):
    """A record whose note held a newline (a Numba typing error, a multi-line exception) or a pipe broke
    the Markdown tables: the row ended mid-cell, or gained columns."""
    def rec(lib, clip_s, status="ok", xrt=2.0):
        return {"op": "f", "params": {"what": f"w {note}"} if clip_s is None else {"a": note}, "library": lib,
                "variant": f"{lib} {note}", "clip_s": clip_s, "xrt": xrt if status == "ok" else None,
                "median_s": 0.5 if status == "ok" else None, "iqr_s": 0.0, "compile_s": None,
                "first_call_s": None, "quality": {"q": note}, "like_for_like": True, "status": status,
                "note": note}

    records = [rec("noisegen", 1.0, "error"), rec("numpy", 1.0), rec("noisegen", 4.0), rec("numpy", 4.0),
               rec("noisegen", None, "error")]
    md = report.markdown(records, h.environment())
    prose = ("# ", "## ", "Machine: ", "Versions: ", "xRT = ", "Quality columns ")
    assert all(line.startswith(("|",) + prose) for line in md.splitlines() if line), md
    blocks, block = [], []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    for block in blocks:  # every row of a table has its header's columns
        widths = [len(re.split(r"(?<!\\)\|", line)) for line in block]
        assert widths == [widths[0]] * len(block), block
    assert sum(line.startswith("| f |") for b in blocks for line in b) == 2 + 1 + 4  # summaries, cold, records


@pytest.mark.parametrize("exc", [subprocess.TimeoutExpired(["python", "-c", "..."], 300), OSError(28, "No space left")])
def test_an_area_that_raises_is_an_error_record_and_the_run_goes_on(h, tmp_path, monkeypatch, exc):
    """An exception out of one area (a cold-start child past its timeout, a full disk) ended
    `python -m bench` with a traceback: every area's records, minutes of work, were lost."""
    main = import_bench("__main__")
    synth = import_bench("bench_synth")
    monkeypatch.setenv("NOISEGEN_BENCH_THREADS", "1")
    env = {"cpu": "x", "cores": 1, "cores_usable": 1, "python": "3", "platform": "p", "threads": {},
           "versions": {}, "date": "d"}
    monkeypatch.setattr(h, "environment", lambda: dict(env))
    monkeypatch.setattr(h, "run_cases", lambda cases, cfg: [
        {"op": "f", "params": {"n": len(cases)}, "library": "numpy", "variant": "numpy", "clip_s": 1.0, "xrt": 2.0,
         "median_s": 0.5, "iqr_s": 0.0, "compile_s": None, "first_call_s": 0.1, "quality": {},
         "like_for_like": True, "status": "ok", "note": ""}])

    def run(*args, **kwargs):
        raise exc

    monkeypatch.setattr(synth.subprocess, "run", run)  # the cold-start children of the synth area
    out, md = tmp_path / "out.json", tmp_path / "out.md"
    rc = main.main(["--quick", "--only", "synth,stream", "--json", str(out), "--markdown", str(md)])
    assert rc == 1
    recs = json.loads(out.read_text())
    assert [(r["op"], r["status"]) for r in recs] == [("f", "ok"), ("synth", "error"), ("f", "ok")]
    assert recs[1]["note"] == f"the area stopped: {type(exc).__name__}: {exc}"
    assert f"| synth | synth area | — | — | error: the area stopped: {type(exc).__name__}" in md.read_text()


@pytest.mark.parametrize("damage, want", [(None, 0.0), ("lsb", 2.0 ** -15), ("short", None)])
def test_flac_decode_rows_carry_the_difference_from_soundfile(h, monkeypatch, damage, want):
    """The flac_decode rows had no quality figure (the vorbis ones did), so a FLAC reader returning
    other samples than libFLAC's would have been timed and compared as if it were equal."""
    import io

    import soundfile as sf

    codec = import_bench("bench_codec")

    def fake_reader(fmt, layout):  # noisegen's layout, (channels, n)
        files = codec._encoded_files(fmt, layout)

        def fn(clip):
            y = sf.read(io.BytesIO(files(clip)[0]), dtype="float32", always_2d=True)[0].T.copy()
            if damage == "lsb":
                y[-1, 100] += 2.0 ** -15
            return y[:, :-1] if damage == "short" else y
        return fn

    monkeypatch.setattr(codec, "make_decode_noisegen", fake_reader)
    cfg = h.Config(clips=(0.25,), repeats=3, min_repeat_s=0.0, max_total_s=0.01, cold=False,
                   compile_each=False, log=lambda m: None)
    recs = h.run_cases([c for c in codec.cases(cfg) if c.op == "flac_decode"], cfg)
    assert len(recs) == 4 and all(r["status"] == "ok" for r in recs)
    for r in recs:
        got = r["quality"].get("max_abs_diff", "missing")
        if r["library"] == "soundfile":
            assert got == 0.0, r
        elif want is None:  # inf, written as null
            assert got is None, r
        else:
            assert got == pytest.approx(want, rel=1e-3, abs=1e-12), r


@pytest.mark.parametrize("clips, says", [((1.0, 4.0), 4), ((1.0,), 1), ((30.0, 1.0), 30), ((0.5, 4.0, 30.0), 4)])
def test_markdown_names_the_clip_the_quality_was_measured_on(h, report, clips, says):
    """The report always said quality was measured "on the 4 s clip", also for --clip-s runs without one
    (run_cases then measures on the first clip given)."""
    cfg = h.Config(clips=clips, repeats=3, min_repeat_s=0.0, max_total_s=0.001, cold=False, compile_each=False,
                   log=lambda m: None)
    seen = []

    def q(fn, clip):
        seen.append(clip.clip_s)
        return {"n": clip.n}

    case = h.Case("x", {}, "numpy", "numpy", "bench.bench_synth:make_numpy", {"color": "white"}, q)
    recs = h.run_cases([case], cfg)
    assert seen == [float(says)]
    md = report.markdown(recs, h.environment())
    assert f"Quality columns (measured once per operation and library, on the {says:g} s clip)" in md


def test_results_written_through_a_symbolic_link(h, tmp_path, monkeypatch):
    """--json and --markdown naming a link write the file it points to (as before the atomic writes)."""
    main = import_bench("__main__")
    monkeypatch.setenv("NOISEGEN_BENCH_THREADS", "1")
    monkeypatch.setattr(h, "environment", lambda: {"cpu": "x", "cores": 1, "cores_usable": 1, "python": "3",
                                                   "platform": "p", "threads": {}, "versions": {}, "date": "d"})
    monkeypatch.setattr(h, "run_cases", lambda cases, cfg: [])
    (tmp_path / "real").mkdir()
    for name in ("out.json", "out.md"):
        (tmp_path / "real" / name).write_text("old")
        (tmp_path / name).symlink_to(tmp_path / "real" / name)
    assert main.main(["--only", "mix", "--no-cold", "--json", str(tmp_path / "out.json"),
                      "--markdown", str(tmp_path / "out.md")]) == 0
    assert (tmp_path / "out.json").is_symlink() and (tmp_path / "out.md").is_symlink()
    assert json.loads((tmp_path / "real" / "out.json").read_text()) == []
    assert (tmp_path / "real" / "out.md").read_text().startswith("# noisegen benchmark")


@pytest.mark.parametrize("args", [
    ["--only", "synth,synth", "--clip-s", "1"], ["--only", "synth", "--only", "synth"],
    ["--only", "synth", "--clip-s", "1", "1"], ["--only", "synth", "--clip-s", "1", "4", "1"]])
def test_repeated_areas_and_clip_lengths_are_run_once(h, tmp_path, monkeypatch, args):
    """`--only synth,synth` or `--clip-s 1 1` timed everything twice, and the summary then set the first
    noisegen record against the faster of both runs' anchors."""
    main = import_bench("__main__")
    monkeypatch.setenv("NOISEGEN_BENCH_THREADS", "1")
    monkeypatch.setattr(h, "environment", lambda: {"cpu": "x", "cores": 1, "cores_usable": 1, "python": "3",
                                                   "platform": "p", "threads": {}, "versions": {}, "date": "d"})
    calls = []
    monkeypatch.setattr(h, "run_cases", lambda cases, cfg: calls.append(cfg.clips) or [])
    assert main.main(["--no-cold", *args]) == 0
    assert len(calls) == 1 and len(set(calls[0])) == len(calls[0]) and calls[0][0] == 1.0


def _ends(pid, seconds=5.0):
    """Whether process ``pid`` ends within ``seconds`` (killed: a zombie until its new parent, init,
    reaps it, if it does)."""
    import time

    for _ in range(int(seconds / 0.05)):
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_a_child_past_its_time_is_killed_with_what_it_started(h, tmp_path):
    """The CLI, corpus, memory and Ray areas ran their children with no time limit: one that hung hung the
    bench. Past the limit the child's whole session is killed (the memory area's wrapper starts the run it
    measures) and the area's error says so."""
    import time

    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(120)")
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError, match="did not finish in 2 s"):
        h.run_child([sys.executable, "-c", code], timeout=2)
    assert time.perf_counter() - t0 < 60
    grandchild = int(pid_file.read_text())
    assert _ends(grandchild), f"the child's own child {grandchild} outlived the timeout"
    assert h.run_child([sys.executable, "-c", "print('ok')"]).stdout == "ok\n"


def test_an_interrupted_bench_kills_its_child(h, tmp_path, monkeypatch):
    """A child runs in a session of its own (so its whole session can be killed past its time), which
    Ctrl-C no longer reaches: an interrupted bench stopped, and its child ran on, as did what it started."""
    import os
    import subprocess
    import time

    pid_file = tmp_path / "child.pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    communicate = subprocess.Popen.communicate

    def interrupted(self, *args, timeout=None, **kwargs):  # Ctrl-C once the child is running
        if timeout is None:
            return communicate(self, *args, **kwargs)
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.05)
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess.Popen, "communicate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        h.run_child([sys.executable, "-c", code], timeout=60)
    child = int(pid_file.read_text())
    if not _ends(child):
        os.kill(child, 9)
        raise AssertionError(f"the child {child} outlived the bench's interrupt")


def test_gpu_bench_torch_audiomentations_filters_the_same_band(monkeypatch):
    """The torch-audiomentations row band-passes the band noisegen's rows do: it cuts at
    ``centre * (1 -+ fraction / 2)`` (its BandPassFilter.apply_transform)."""
    import types

    gpu = import_bench("bench_gpu")
    made = {}

    def transform(name):
        return lambda **kw: made.setdefault(name, kw)

    fake_ta = types.SimpleNamespace(**{n: transform(n) for n in ("AddColoredNoise", "BandPassFilter", "Gain")},
                                    Compose=lambda transforms, **kw: (lambda x, sample_rate: x))
    fake_torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: True, synchronize=lambda: None),
                                       as_tensor=lambda x, device: x)
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    monkeypatch.setitem(sys.modules, "torch_audiomentations", fake_ta)
    gpu._torch_audiomentations(np.zeros((2, 160), np.float32), 16000)
    bp = made["BandPassFilter"]
    assert bp["min_center_frequency"] == bp["max_center_frequency"]
    assert bp["min_bandwidth_fraction"] == bp["max_bandwidth_fraction"] < 2.0
    centre, fraction = bp["min_center_frequency"], bp["min_bandwidth_fraction"]
    assert (centre * (1 - fraction / 2), centre * (1 + fraction / 2)) == pytest.approx(gpu.PIPELINE["band_hz"])


def test_quick_help_promises_no_duration_the_cold_starts_exceed(capsys):
    """--quick still runs the startup area's empty-cache first chunk and ``noisegen warmup`` (28 s and 90 s
    in the README's run, 87 s and 288 s on a busy 2-core VM): its help said "< 2 minutes"."""
    main = import_bench("__main__")
    with pytest.raises(SystemExit):
        main.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    start = text.index("--quick", text.index("options:"))
    quick = text[start:text.index("--json", start)]
    assert "< 2 minutes" not in quick and "--no-cold" in quick


def test_cold_table_names_each_corpus_record_and_shows_its_seconds_and_figures(h, report):
    """The corpus area's records have no ``what`` and no ``quality["seconds"]``: their rows read alike
    ("corpus=...", "—" seconds) and the stages' shares, like the rooms' T30, were in the JSON only."""
    def rec(op, variant, params, median_s, quality, note):
        return {"op": op, "params": params, "library": "noisegen", "variant": variant, "clip_s": None,
                "xrt": 100.0, "median_s": median_s, "iqr_s": None, "compile_s": None, "first_call_s": None,
                "quality": quality, "like_for_like": True, "status": "ok", "note": note}

    md = report.markdown([
        rec("stream_corpus", "read", {"corpus": "data/speech"}, 0.25, {"audio_s": 25.0}, "reading only"),
        rec("stream_corpus", "default", {"corpus": "data/speech"}, 0.5, {"audio_s": 25.0, "share_read": 0.31},
            "the pipeline"),
        rec("simulate_rir", "noisegen simulate_rir", {"what": "noisegen simulate_rir, RT60 0.3 s"}, 0.00068,
            {"seconds": 0.00068, "t30_s": 0.299}, "0.68 ms per response")], h.environment())
    rows = [line for line in md.splitlines() if line.startswith(("| stream_corpus", "| simulate_rir"))]
    assert rows[0].startswith("| stream_corpus | read: corpus=data/speech | 0.25 | 100 | reading only")
    assert rows[1].startswith("| stream_corpus | default: corpus=data/speech | 0.5 | 100 | the pipeline")
    assert "share_read=0.31" in rows[1]
    assert rows[2].startswith("| simulate_rir | noisegen simulate_rir, RT60 0.3 s | 0.00068 |") and "t30_s=0.299" in rows[2]


def test_calls_area_times_each_cheap_transform_against_audiomentations_in_one_run(h):
    """bench_calls: every cheap transform (and p=0.5, and a composition) beside audiomentations' of the
    same name, its cases there whether audiomentations is installed or not; noisegen's run and keep the
    length, drawing new parameters each call."""
    calls = import_bench("bench_calls")
    import bench.__main__ as main_

    assert "calls" in main_.AREAS
    cases = calls.cases(None)
    ops = {c.op for c in cases}
    assert ops == {f"call_{op}" for op in (*calls.PAIRS, "compose4")}
    for op in ops:
        libs = {c.library: c for c in cases if c.op == op}
        assert sorted(libs) == ["audiomentations", "noisegen"], op
        assert libs["audiomentations"].requires == ("audiomentations",) and libs["noisegen"].requires == ()
    cfg = h.Config(clips=(0.25,), repeats=3, min_repeat_s=0.0, max_total_s=0.01, cold=False, compile_each=False,
                   quick=True, log=lambda m: None)
    recs = h.run_cases(cases, cfg)
    for r in recs:
        if r["library"] == "noisegen" or importlib.util.find_spec("audiomentations") is not None:
            assert r["status"] == "ok" and r["quality"] == {"len_err": 0}, r
        else:
            assert r["status"] == "skipped" and r["note"] == "not installed: audiomentations", r
    gain = calls.make_noisegen("gain")
    clip = h.Clip.make(0.25)
    assert not np.array_equal(gain(clip), gain(clip))  # a gain drawn per call
