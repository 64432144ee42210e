"""The stream and the folder job over a real mixed-rate corpus, with the share of each stage.

The corpus is ``../shared/data/speech`` when it is there (mixed 8-48 kHz
WAV, FLAC, OGG and MP3, mono and stereo), else the bundled ``data/speech``;
noises and rooms likewise (``noise/``, ``rir/``). The pipeline is the
default one of the issue: background noise at 0-20 dB, a real room, one of
stretch / pitch / speed, gain. Everything runs on one core, after a warm-up
pass (compiled kernels, loaded banks).

Records:

- ``stream_corpus`` ``decode only (libsndfile)``: ``soundfile.read`` of every
  file, nothing else: the ceiling of any read path built on libsndfile;
- ``stream_corpus`` ``read``: ``AugmentStream(pipeline=None, chunk_s=1)``:
  reading, decoding, resampling to 16 kHz and chunking alone;
- ``stream_corpus`` ``default``: the same with the pipeline, and where the
  time goes (``share_*``: reading, each transform, and the rest: drawing,
  chunking, bookkeeping), measured by timing each stage inside the run;
- ``augment_corpus``: ``noisegen augment`` with the default pipeline, in
  process (``augment_folder``, steady state: the banks loaded first) and as a
  fresh process (start-up, bank loading and the Numba cache load included;
  the second of two, so that a bench started on an empty cache does not time
  the first child's compilation).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench._harness import DATA, ROOT, SR, _clean, run_child

SHARED = ROOT.parent / "shared" / "data"


def _folder(kind: str) -> Path:
    shared = SHARED / kind
    return shared if shared.is_dir() else DATA / kind


def cases(cfg):
    return []


def _pipeline():
    import noisegen as ng

    return ng.Compose([
        ng.AddBackgroundNoise(str(_folder("noise")), min_snr_db=0, max_snr_db=20, p=1.0),
        ng.ApplyImpulseResponse(str(_folder("rir")), p=1.0),
        ng.OneOf([ng.TimeStretch(p=1.0), ng.PitchShift(p=1.0), ng.SpeedPerturb(p=1.0)]),
        ng.Gain(p=1.0),
    ])


def _leaves(t):
    children = getattr(t, "transforms", None)
    if children is None:
        return [t]
    return [leaf for c in children for leaf in _leaves(c)]


class _StageClock:
    """Seconds spent in each leaf transform and in reading, while installed."""

    def __init__(self, pipeline, stream):
        self.seconds = {}
        self._undo = []
        for leaf in _leaves(pipeline) if pipeline is not None else []:
            self._wrap(leaf, "_apply_checked", type(leaf).__name__)
        self._wrap(stream._items, "load", "read")

    def _wrap(self, obj, name, label):
        original = getattr(obj, name)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - t0
        setattr(obj, name, timed)
        self._undo.append((obj, name))

    def remove(self):
        for obj, name in self._undo:
            delattr(obj, name)


def _stream_pass(pipeline, seed, clock=False):
    import noisegen as ng

    stream = ng.AugmentStream(str(_folder("speech")), pipeline, sample_rate=SR, chunk_s=1.0, rng=seed,
                              shuffle=False)
    stages = _StageClock(pipeline, stream) if clock else None
    t0 = time.perf_counter()
    samples = sum(c.length for c in stream)
    wall = time.perf_counter() - t0
    if stages is not None:
        stages.remove()
    return samples / SR, wall, (stages.seconds if stages else None)


def _record(op, variant, audio_s, seconds, quality=None, note="", library="noisegen", status="ok"):
    xrt = audio_s / seconds if seconds and status == "ok" else None
    return _clean({"op": op, "params": {"corpus": str(_folder("speech").relative_to(ROOT.parent))
                                        if _folder("speech").is_relative_to(ROOT.parent) else "data/speech"},
                   "library": library, "variant": variant, "clip_s": None, "xrt": xrt, "median_s": seconds,
                   "iqr_s": None, "repeats": None, "number": 1, "first_call_s": None, "compile_s": None,
                   "quality": {"audio_s": round(audio_s, 2), **(quality or {})}, "like_for_like": True,
                   "status": status, "note": note})


def _decode_pass(paths):
    """Seconds for libsndfile alone to decode every file once (float32, as the stream asks)."""
    import soundfile as sf

    t0 = time.perf_counter()
    for path in paths:
        sf.read(path, dtype="float32", always_2d=True)
    return time.perf_counter() - t0


def _decode_record(cfg, repeats):
    """The ceiling of reading: ``soundfile.read`` of the corpus, timed in the same run."""
    import soundfile as sf

    from noisegen.audio.files import audio_files

    paths = audio_files(str(_folder("speech")))
    audio_s = sum(sf.info(p).duration for p in paths)
    _decode_pass(paths)
    wall = statistics.median(_decode_pass(paths) for _ in range(repeats))
    cfg.log(f"  stream_corpus decode only (libsndfile): {audio_s / wall:.0f}x real time")
    return _record("stream_corpus", "decode only (libsndfile)", audio_s, wall, library="soundfile",
                   note=f"soundfile.read(dtype='float32') of every file, nothing else: the ceiling of the read "
                        f"path on this corpus; median of {repeats} passes")


def _stream_records(cfg):
    pipeline = _pipeline()
    repeats = 3 if cfg.quick else 7
    records = [_decode_record(cfg, repeats)]
    for variant, pipe in (("read", None), ("default", pipeline)):
        _stream_pass(pipe, 0)  # warm-up: compile, load banks
        runs = [_stream_pass(pipe, seed) for seed in range(1, repeats + 1)]
        audio_s, wall = runs[0][0], statistics.median(r[1] for r in runs)
        quality = {}
        if pipe is not None:
            _, clocked, stages = _stream_pass(pipe, 1, clock=True)
            quality = {f"share_{k}": round(v / clocked, 3) for k, v in sorted(stages.items())}
            quality["share_other"] = round(1.0 - sum(stages.values()) / clocked, 3)
        what = "read + decode + resample + chunk" if pipe is None else "noise, room, stretch/pitch/speed, gain"
        records.append(_record("stream_corpus", variant, audio_s, wall, quality,
                               f"AugmentStream chunk_s=1, {what}; median of {repeats} passes"))
        cfg.log(f"  stream_corpus {variant}: {audio_s / wall:.0f}x real time")
    return records


def _written_s(out_dir):
    """Seconds of audio an augment run wrote into ``out_dir``, from its manifest."""
    path = Path(out_dir) / "manifest.jsonl"
    if not path.is_file():
        return 0.0
    with open(path) as f:
        return sum(json.loads(line)["duration_s"] for line in f if line.strip())


def _augment_records(cfg):
    import noisegen.batch as nb

    speech, noise, rir = (str(_folder(k)) for k in ("speech", "noise", "rir"))
    records = []
    with tempfile.TemporaryDirectory(prefix="ngbench-corpus-") as tmp:
        pipeline = nb.default_pipeline(noise_dir=noise, rir_dir=rir) if hasattr(nb, "default_pipeline") else None
        if pipeline is None:
            return []
        pipeline.prepare(SR)
        nb.augment_folder(speech, f"{tmp}/warm", pipeline=pipeline, seed=100, workers=1)  # warm-up, as the stream's
        walls = []
        for i in range(1 if cfg.quick else 5):
            t0 = time.perf_counter()
            summary = nb.augment_folder(speech, f"{tmp}/in{i}", pipeline=pipeline, seed=i, workers=1)
            walls.append(time.perf_counter() - t0)
        audio_s = float(getattr(summary, "audio_s", 0.0) or 0.0)
        if audio_s:
            records.append(_record("augment_corpus", "in process", audio_s, statistics.median(walls),
                                   note=f"augment_folder, default pipeline, banks loaded, one worker; median of "
                                        f"{len(walls)} passes after a warm-up pass"))
        else:  # a failed measurement is a record saying so, never a silent absence
            records.append(_record("augment_corpus", "in process", 0.0, None, status="error",
                                   note=f"augment_folder wrote nothing: {str(summary).splitlines()[0]}"))
        def cli(out):
            cmd = [sys.executable, "-m", "noisegen", "augment", speech, f"{tmp}/{out}", "--noise-dir", noise,
                   "--rir-dir", rir, "--seed", "0", "--workers", "1"]
            t0 = time.perf_counter()
            done = run_child(cmd, cwd=str(ROOT))
            return done, time.perf_counter() - t0

        cli("cli-warm")  # a first child compiles what the in-process passes did not cache where it looks
        res, wall = cli("cli")
        cli_s = _written_s(f"{tmp}/cli")  # its own outputs (its seed draws other lengths than the passes')
        if res.returncode == 0 and cli_s:
            records.append(_record("augment_corpus", "fresh process", cli_s, wall,
                                   note="noisegen augment, default pipeline, one worker: start-up and bank "
                                        "loading included"))
        else:
            last = (res.stderr.strip().splitlines() or ["wrote nothing"])[-1]
            records.append(_record("augment_corpus", "fresh process", cli_s, None, status="error",
                                   note=f"noisegen augment (exit status {res.returncode}): {last}"))
    for r in records:
        cfg.log(f"  augment_corpus {r['variant']}: " + (f"{r['xrt']:.0f}x real time" if r["xrt"] else r["note"]))
    return records


def extra(cfg):
    # Unusable corpus files are reported once; not the point here. Scoped: the areas run after this
    # one (in the same process) keep their warnings, a failed compile-time run's among them.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _stream_records(cfg) + _augment_records(cfg)
