"""Augment whole folders of audio files: the engine behind ``noisegen augment``.

:func:`augment_folder` finds the audio files under ``in_dir`` (recursively),
runs a transform pipeline on each and writes ``copies`` augmented versions
per input into the same relative place under ``out_dir``
(``speaker/a.wav`` -> ``speaker/a.aug0.wav``, ``speaker/a.aug1.wav``, ...).

How it stays reproducible and safe:

- **Seeds.** The seed of output ``k`` of input ``rel`` is
  ``derive_key(resolve_key(seed), hash(rel), k)``: it depends on nothing
  else, so outputs are byte-identical for any number of workers, any order
  and any sharding.
- **Atomic writes.** Every output goes to a temporary file in its own
  folder first, then :func:`os.replace` puts it in place
  (:func:`noisegen.save`). Nothing is ever written under ``in_dir``.
- **Manifest.** ``out_dir/manifest.jsonl`` gets one JSON line per output
  (input, output, seed, sample rate, duration, the pipeline and the
  parameters it applied), each appended with a single ``write``; a line is
  enough to rebuild its output exactly (:func:`replay`).
- **Resume.** An output is complete when the manifest holds its line for
  the same job (same seed, pipeline, rate and format), made from the same
  input bytes (size and BLAKE2b recorded in the line), and the file is
  readable with the recorded length. Complete outputs are skipped; outputs
  of an input that changed since (edited, or another ``in_dir`` with the
  same names) are redone and replaced; complete outputs whose noise or RIR
  files changed since (``banks``) are kept and counted, and redone under
  ``overwrite=True``; an output file that exists without
  such a line is recomputed and accepted only if its bytes come out the
  same (otherwise it is refused unless ``overwrite=True``). A killed run
  therefore finishes with exactly the files an uninterrupted run writes.
- **One run at a time.** A run locks ``out_dir`` (per shard; see
  ``noisegen/_outdir.py``); a second run into a busy ``out_dir`` raises
  :class:`~noisegen.ParameterError` naming the running one. The manifest
  never holds two lines for one output.
- **Shards.** ``shard=(k, n)`` keeps the inputs whose relative-path hash is
  ``k`` modulo ``n``: stable when files are added, and the union of all
  shards is the unsharded run.
- **WebDataset.** ``output_format="webdataset"`` writes tar shards
  ``out_dir/shard-000000.tar``, ... instead of the tree, dealt in sorted
  input order, with the same seeds, lock, atomic writes, resume and
  refusal to overwrite, per tar (:mod:`noisegen.batch.wds`).
- **Failures.** An input that cannot be read or processed (or is not a
  regular file: a FIFO, socket or device is never opened, or whose worker
  process dies: the OOM killer) is recorded in ``out_dir/failures.jsonl``
  and the run goes on.
- **Resources.** Workers are capped at the CPUs this process may use; the
  pipeline's noise and RIR banks are loaded in the parent before forking
  (which also checks them once, before the first input).
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import audio, effects, transforms  # noqa: F401  (the packages used, before their modules: noisegen.synth)
from .outdir import FINGERPRINT_FIELDS, OutDirLock, banks_fingerprint, fingerprint_changed, input_fingerprint
from .._core.layout import layout_known
from .._core.progress import Progress as _Progress
from .._core.rng import check_seed
from .._core.validation import check_bool, check_int, check_path, check_real, check_sample_rate, show_value
from .._core.errors import NoisegenWarning, ParameterError
from .._core.tempfiles import sweeping
from ..audio.files import AUDIO_EXTENSIONS, holds_audio_name, unexpanded_home
from ..audio.formats import check_writable
from ..audio.io import load, save
from ..transforms import (AddBackgroundNoise, AddColoredNoise, ApplyImpulseResponse, Compose, Gain, SpeedPerturb,
                          Transform, load_pipeline)
from .long import BLOCKWISE_MIN_S, collect_long, long_source  # noqa: F401  (BLOCKWISE_MIN_S: documented)
from .work import PEAK_LIMIT, _init_worker, _process, _render, run_pool  # noqa: F401
from .ray_engine import check_engine, run_tasks
from .wds import DEFAULT_SHARD_SIZE, plan_shards
from .manifest import FAILURES, MANIFEST, _append_line, _dedupe_manifest, check_ours, read_manifest  # noqa: F401
from .plan import (  # noqa: F401  (output_name, output_seed, check_shard, available_cpus: public within noisegen)
    Plan, _check_banks_apart, _check_workers, _existing_dir, _inside, _one_line, _plan, _prepare, available_cpus,
    check_shard, output_name, output_seed,
)

__all__ = ["augment_folder", "default_pipeline", "replay", "read_manifest", "AugmentSummary"]

FORMATS = {"wav": "WAV", "flac": "FLAC"}
#: Most outputs an input gets (``copies``; the command line's ``--copies`` too): each is planned before any
#: is written, so 10**12 of them was a run that never started.
MAX_COPIES = 10_000
SUBTYPES = ("PCM_16", "FLOAT")


@dataclass
class AugmentSummary:
    """What :func:`augment_folder` did.

    ``audio_s`` is the duration of the outputs written in this run and
    ``xrt`` that duration over the wall-clock time (``x`` real time).
    """

    n_inputs: int = 0
    n_outputs: int = 0
    n_written: int = 0
    n_skipped: int = 0
    n_failed: int = 0
    n_redone: int = 0
    n_other_banks: int = 0
    audio_s: float = 0.0
    wall_s: float = 0.0
    workers: int = 1
    failures: list = field(default_factory=list)

    @property
    def xrt(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")

    def __str__(self):
        lines = [
            f"{_count(self.n_written, 'output')} written, {self.n_skipped} already complete, {self.n_failed} failed "
            f"({_count(self.n_inputs, 'input')}, {_count(self.n_outputs, 'output')} in this shard)",
            f"{self.audio_s:.1f} s ({self.audio_s / 3600:.3f} h) of audio in {self.wall_s:.1f} s: "
            f"{self.xrt:.1f}x real time on {_count(self.workers, 'worker')}"
            if self.n_written else "nothing written" if self.n_failed else "nothing to do",
        ]
        if self.n_redone:
            one = self.n_redone == 1
            lines.append(f"{_count(self.n_redone, 'output')} redone because {'its' if one else 'their'} input changed "
                         f"since {'it was' if one else 'they were'} made")
        if self.n_other_banks:
            one = self.n_other_banks == 1
            lines.append(f"{_count(self.n_other_banks, 'complete output')} kept, though made from other files of "
                         f"the noise or RIR folders (changed since): --overwrite redoes {'it' if one else 'them'}")
        exists = []  # (split in one pass: `f not in exists` compared every failure with every other)
        for f in self.failures:
            if str(f.get("error", "")).startswith("FileExistsError"):
                exists.append(f)
            else:
                lines.append(_shown(f"failed: {f.get('input')}: {f.get('error')}"))
        if exists:  # one line for all: the same cause and the same fix
            one = len(exists) == 1
            lines.append(f"{_count(len(exists), 'output')} already exist{'s' if one else ''} with other content "
                         f"(made with other settings) and {'was' if one else 'were'} kept: use another OUT_DIR, or "
                         f"--overwrite to replace {'it' if one else 'them'}")
        return "\n".join(lines)


#: C0 and C1 control characters (a newline, a tab, ESC), which a file name may hold.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shown(text: str) -> str:
    """``text`` with its control characters written as Python escapes (``\\n``, ``\\x1b``): a failed
    input named with a newline split its summary line in two, and one holding ESC sent the terminal
    its escape sequence."""
    return _CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1 ("1 output", "0 outputs", "2 outputs")."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


# -- pipeline -----------------------------------------------------------------------------------
def default_pipeline(*, noise_dir=None, rir_dir=None, snr_db=(5.0, 20.0)):
    """The pipeline ``noisegen augment`` runs without ``--config``.

    Speed perturbation (0.9/1.0/1.1, p=0.5), a room response from ``rir_dir``
    (p=0.5), background noise from ``noise_dir`` at an SNR in ``snr_db``
    (always; coloured noise when no folder is given) and a mild gain
    (-6..+3 dB, p=0.5).

    Examples
    --------
    >>> [t["name"] for t in default_pipeline().to_dict()["transforms"]]
    ['SpeedPerturb', 'AddColoredNoise', 'Gain']
    """
    try:
        lo, hi = snr_db
    except (TypeError, ValueError):  # (a number, a string, three values: Python's unpacking error)
        raise ParameterError(f"snr_db must be a (min, max) pair in dB, got {show_value(snr_db)}") from None
    steps = [SpeedPerturb(factors=(0.9, 1.0, 1.1), p=0.5)]
    if rir_dir is not None:
        steps.append(ApplyImpulseResponse(rir=os.path.abspath(_existing_dir(rir_dir, "rir_dir")), p=0.5))
    if noise_dir is not None:
        steps.append(AddBackgroundNoise(noise=os.path.abspath(_existing_dir(noise_dir, "noise_dir")),
                                        min_snr_db=lo, max_snr_db=hi, p=1.0))
    else:
        steps.append(AddColoredNoise(min_beta=-1.0, max_beta=2.0, min_snr_db=lo, max_snr_db=hi, p=1.0))
    steps.append(Gain(min_gain_db=-6.0, max_gain_db=3.0, p=0.5))
    return Compose(steps)


def _as_pipeline(pipeline):
    if pipeline is None:
        return default_pipeline()
    if isinstance(pipeline, Transform):
        return pipeline
    if isinstance(pipeline, (str, os.PathLike, dict, list)):
        return load_pipeline(pipeline, name="pipeline")
    raise ParameterError(f"pipeline must be a Transform, a dict or a JSON file path, got {type(pipeline).__name__}")


def _check_out_dir(out_dir: str, in_real: str) -> str:
    out_real = os.path.realpath(out_dir)
    if _inside(out_real, in_real):
        raise ParameterError(f"out_dir {out_dir!r} must not be the input folder or inside it ({in_real!r})")
    try:
        os.makedirs(out_dir, exist_ok=True)
        probe = os.path.join(out_dir, f".noisegen-write-test.{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as exc:
        if os.path.exists(out_dir) and not os.path.isdir(out_dir):  # (makedirs says only "File exists")
            raise ParameterError(f"out_dir {out_dir!r} is a file, not a folder") from None
        if os.path.islink(out_dir) and not os.path.exists(out_dir):  # (so it does of a link that leads nowhere)
            raise ParameterError(f"out_dir {out_dir!r} is a symlink to {os.readlink(out_dir)!r}, which leads nowhere "
                                 "(a dangling symlink or a symlink loop)") from None
        raise ParameterError(f"out_dir {out_dir!r} is not writable: {exc.strerror or exc}") from None
    return out_real


def augment_folder(in_dir, out_dir, *, pipeline=None, copies=1, sample_rate=None, workers=1, seed=0, shard=None,
                   overwrite=False, format="wav", subtype="PCM_16", progress=None, engine="local", ray_address=None,
                   output_format="files", shard_size=None, blockwise_min_s=BLOCKWISE_MIN_S):
    """Write ``copies`` augmented versions of every audio file under ``in_dir`` into ``out_dir``.

    Parameters
    ----------
    in_dir, out_dir : str or os.PathLike
        Input folder (searched recursively for the audio files of
        :data:`noisegen.audio.files.AUDIO_EXTENSIONS`, hidden files and folders left out: names
        starting with ``.``; never written to) and output folder (created; must not be ``in_dir`` or
        inside it). The input tree is mirrored: ``a/b.wav`` gives
        ``a/b.aug0.wav``, ``a/b.aug1.wav``, ...
    pipeline : Transform, dict, JSON file path or None
        The transform to run; ``None`` for :func:`default_pipeline`.
    copies : int
        Outputs per input.
    sample_rate : int or None
        Resample every input to this rate first; ``None`` keeps each file's.
    workers : int
        Processes (``0``: one per CPU). The outputs do not depend on it.
    seed : int
        Base seed; output seeds derive from it, the input's relative path
        and the copy index (:func:`output_seed`).
    shard : (k, n), "k/n" or None
        Process only shard ``k`` of ``n`` (by a hash of the relative path).
    overwrite : bool
        Replace outputs that exist with different content.
    format : {"wav", "flac"}
    subtype : {"PCM_16", "FLOAT"}
    progress : bool or None
        Report progress on stderr (a bar on a terminal, a line every 10 s
        otherwise); ``None``: only when stderr is a terminal.
    engine : {"local", "ray"}
        ``"ray"`` runs the inputs as Ray tasks (``workers`` is then unused);
        the outputs and the manifest are byte-identical to a local run.
        Needs ``pip install "noisegen[ray]"``.
    ray_address : str or None
        With ``engine="ray"``: the cluster to join; ``None`` starts a local
        Ray instance (or uses the one this process has joined).
    output_format : {"files", "webdataset"}
        ``"files"`` mirrors the input tree; ``"webdataset"`` writes tar
        shards ``out_dir/shard-000000.tar``, ... of ``shard_size`` samples
        each (``KEY.<format>`` plus ``KEY.json``), dealt in sorted input
        order; the outputs counted in the summary are then the tars. See
        :mod:`noisegen.batch.wds` for the layout, the keys and resuming.
        Not combinable with ``shard``.
    shard_size : int or None
        Samples per tar with ``output_format="webdataset"`` (default 1000).
    blockwise_min_s : float
        Inputs longer than this (seconds) are processed in blocks, in memory
        that does not grow with their length (:mod:`noisegen.batch.long`;
        their manifest lines, or the samples' JSON members in tar shards,
        say ``"blockwise": true``); default 60.

    Returns
    -------
    AugmentSummary

    Examples
    --------
    >>> import noisegen, tempfile, os
    >>> src, dst = tempfile.mkdtemp(), tempfile.mkdtemp()
    >>> noisegen.save(os.path.join(src, "a.wav"), noisegen.tone(freq_hz=440.0, sample_rate=16000,
    ...               n_samples=1600, amplitude=0.3), sample_rate=16000)
    >>> s = augment_folder(src, dst, copies=2, seed=0, progress=False)
    >>> s.n_written, sorted(f for f in os.listdir(dst) if f.endswith(".wav"))
    (2, ['a.aug0.wav', 'a.aug1.wav'])
    """
    t0 = time.perf_counter()
    shard_size = _check_output_format(output_format, shard_size, shard)
    in_dir = os.path.abspath(_existing_dir(in_dir, "in_dir"))
    in_real = os.path.realpath(in_dir)
    if not holds_audio_name(in_dir):  # (a mistyped folder: said before OUT_DIR is made)
        raise ParameterError(f"in_dir {in_dir!r} holds no audio file ({', '.join(AUDIO_EXTENSIONS)})")
    copies = check_int(copies, "copies", low=1, high=MAX_COPIES)
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate)
    engine = check_engine(engine, ray_address)
    # (Ray runs the tasks on the cluster's CPUs: workers is unused, and no cap at this machine's applies)
    workers = check_int(workers, "workers", low=0) if engine == "ray" else _check_workers(workers)
    seed = check_seed(seed)
    shard = check_shard(shard)
    fmt = format.lower() if isinstance(format, str) else format
    if not isinstance(fmt, str) or fmt not in FORMATS:  # (a list is unhashable: a TypeError from the dict)
        raise ParameterError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not isinstance(subtype, str) or subtype not in SUBTYPES:
        raise ParameterError(f"subtype must be one of {', '.join(SUBTYPES)}, got {subtype!r}")
    if fmt == "flac" and subtype == "FLOAT":
        raise ParameterError("subtype 'FLOAT' is not available for flac output; use PCM_16 or format='wav'")
    if sample_rate is not None:  # channels and lengths are each input's own; the rate is known now
        check_writable(FORMATS[fmt], subtype, n_channels=1, sample_rate=sample_rate)
    pipeline = _as_pipeline(pipeline)
    try:
        pipeline_config = pipeline.to_dict()
        pipeline_json = json.dumps(pipeline_config, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"pipeline must serialise to JSON for the manifest: {exc}") from None
    if not check_path(out_dir, "out_dir").strip():
        raise ParameterError("out_dir must not be empty (it would mean the current folder)")
    if why := unexpanded_home(out_dir):  # ('~/out' in quotes made ./~/out)
        raise ParameterError(f"out_dir {os.fspath(out_dir)!r} {why}")
    if progress is not None:
        progress = check_bool(progress, "progress")
    # (bool() took overwrite="False" or 0.5 for True: outputs replaced; save() refuses them)
    settings = {"sample_rate": sample_rate, "format": fmt, "subtype": subtype,
                "overwrite": check_bool(overwrite, "overwrite"),
                "pipeline": pipeline_config, "banks": banks_fingerprint(pipeline),
                "blockwise_min_s": check_real(blockwise_min_s, "blockwise_min_s", low=0.0)}
    out_dir = os.path.abspath(os.fspath(out_dir))
    _check_banks_apart(pipeline, out_dir)
    made = not os.path.lexists(out_dir)
    _check_out_dir(out_dir, in_real)  # (creates it: after every other check)
    check_ours(out_dir)  # (a dataset's own manifest.jsonl there: refused before anything is added to it)
    with OutDirLock(out_dir, shard, made=made) as lock, sweeping(lock.release):  # (a hard stop's last sweep: _core.tempfiles)
        for holder in lock.stale:
            warnings.warn(f"out_dir {out_dir!r} was locked by a run that did not finish ({holder}); "
                          "taking its lock over", NoisegenWarning, stacklevel=2)
        summary = AugmentSummary(workers=workers)
        try:
            if shard_size is None:
                plan = _plan(in_dir, out_dir, in_real, summary, settings, copies=copies, seed=seed, shard=shard,
                             pipeline_json=pipeline_json)
            else:
                plan = plan_shards(in_dir, out_dir, in_real, summary, settings, copies=copies, seed=seed,
                                   shard_size=shard_size, pipeline_json=pipeline_json)
            _prepare(pipeline, plan, sample_rate, summary, out_dir)
        except BaseException:  # refused before any output (a bank with no usable file): no folder left of it
            lock.remove_made_folder()
            raise
        _run(pipeline, plan, out_dir, summary, progress, engine, ray_address)
    summary.n_failed = len(summary.failures)
    summary.wall_s = time.perf_counter() - t0
    return summary


def _check_output_format(output_format, shard_size, shard):
    """Samples per tar (None for the folder output), with the arguments checked."""
    if output_format not in ("files", "webdataset"):
        raise ParameterError(f"output_format must be 'files' or 'webdataset', got {output_format!r}")
    if output_format == "files":
        if shard_size is not None:
            raise ParameterError(f"shard_size needs output_format='webdataset', got shard_size={shard_size!r}")
        return None
    if shard is not None:
        raise ParameterError(f"shard={shard!r} cannot be combined with output_format='webdataset' (the tars are "
                             "dealt in sorted order over all inputs); run one job, with workers or engine='ray'")
    return DEFAULT_SHARD_SIZE if shard_size is None else check_int(shard_size, "shard_size", low=1)


def _run(pipeline, plan: Plan, out_dir: str, summary: AugmentSummary, progress, engine="local",
         ray_address=None) -> None:
    """Process the planned inputs (here or in a pool of forked workers) and record the results."""
    manifest_path, failures_path = os.path.join(out_dir, MANIFEST), os.path.join(out_dir, FAILURES)
    tasks = plan.tasks
    pending_audio = sum(d for d, _ in plan.estimate.values())
    bar = _Progress(len(tasks), pending_audio, enabled=progress)
    rewritten = set()

    def collect(rel_results):
        rel, results = rel_results
        for r in results:
            if r["ok"]:
                line = r["line"]
                _append_line(manifest_path, line)
                if line["output"] in plan.done:
                    rewritten.add(line["output"])
                summary.n_redone += line["output"] in plan.redone
                summary.n_written += 1
                summary.audio_s += line["duration_s"]
            else:
                rec = {"input": r["input"], "output": r["output"], "error": r["error"]}
                _append_line(failures_path, rec)
                summary.failures.append(rec)
                if r.get("fatal"):
                    raise OSError(r["fatal"], f"{os.strerror(r['fatal'])} writing into {out_dir!r}")
        bar.update(1, plan.estimate[rel][0])

    try:
        with sweeping(plan.sweep):  # what a SIGTERM of the command line removes (_core.tempfiles)
            if engine == "ray" and tasks:  # Ray tasks, collected in plan order
                run_tasks(pipeline, tasks, out_dir, collect, summary, address=ray_address)
            elif summary.workers == 1 or len(tasks) <= 1:
                summary.workers = 1
                _init_worker(pipeline)
                try:
                    for task in tasks:
                        collect(_process(task))
                finally:
                    _init_worker(None)  # the module let go of the pipeline (and its banks) only at the next run
            else:
                if run_pool(pipeline, tasks, min(summary.workers, len(tasks)), collect):
                    plan.sweep()  # a worker died (the OOM killer): the temporary file it was writing goes
    except BaseException:  # Ctrl-C, or a full disk met by the manifest's append or by a worker
        plan.sweep()  # the workers are gone (the pool was terminated): their temporary files go too
        raise
    finally:
        bar.close()
        if rewritten:  # --overwrite, or a changed input, gave outputs a second line: keep the last one
            _dedupe_manifest(out_dir)


def _manifest_line(line, keys) -> dict:
    """A manifest line (a dict or its JSON text) with the keys :func:`replay` needs, else a ParameterError."""
    if isinstance(line, (str, bytes)):
        try:
            line = json.loads(line)
        except ValueError as exc:
            raise ParameterError(f"line is not valid JSON: {exc}") from None
    if not isinstance(line, dict):
        raise ParameterError(f"line must be a manifest line (a dict or its JSON text), got {show_value(line)}")
    missing = [k for k in keys if k not in line]
    if missing:
        raise ParameterError(f"line is not a manifest line of noisegen augment: it lacks {', '.join(missing)}")
    return line


def replay(line, *, in_dir=None, out_path=None):
    """Rebuild one output from its manifest line.

    Loads the input at the line's ``sample_rate``, replays the recorded
    ``params`` through the recorded ``pipeline`` and multiplies by the
    recorded ``peak_scale`` (below 1 when the pipeline's output went over
    full scale), which gives the written samples exactly.

    Parameters
    ----------
    line : dict or str
        A manifest line (parsed, or the JSON text).
    in_dir : str or None
        Where the input lives now (default: the ``in_dir`` recorded in the line).
    out_path : str or None
        Also write the result there, with the recorded format and subtype
        (byte-identical to the original output).

    Returns
    -------
    y : np.ndarray, float32
        The samples that were written (before quantisation).
    sample_rate : int

    Warns
    -----
    NoisegenWarning
        The input's bytes differ from those the line records (it was edited
        since), so the result will differ from the original output; or the
        files of the pipeline's noise, sound or RIR folders do (``banks``).
    """
    line = _manifest_line(line, ("pipeline", "input", "output", "sample_rate", "params")
                          + (("in_dir",) if in_dir is None else ()) + (("subtype",) if out_path is not None else ()))
    # (0, 1]: 1.0, or below 1 where the output went over full scale (README's manifest fields)
    scale = check_real(line.get("peak_scale"), "line['peak_scale']", low=0.0, low_inclusive=False, high=1.0,
                       allow_none=True)
    pipeline = Transform.from_dict(line["pipeline"])
    where = check_path(in_dir, "in_dir") if in_dir else check_path(line["in_dir"], "line['in_dir']")
    path = os.path.join(where, check_path(line["input"], "line['input']"))
    if all(k in line for k in FINGERPRINT_FIELDS) and fingerprint_changed(line, input_fingerprint(path)):
        warnings.warn(f"{path!r} differs from the input {line['output']!r} was made from; the replay will differ",
                      NoisegenWarning, stacklevel=2)
    if line.get("banks") is not None and banks_fingerprint(pipeline) != line["banks"]:
        warnings.warn(f"the noise, sound or RIR files of {line['output']!r}'s pipeline changed since it was made "
                      "(added, removed, edited or touched); the replay may differ", NoisegenWarning, stacklevel=2)
    blockwise = check_bool(line.get("blockwise", False), "line['blockwise']")  # ("false" is no flag)
    source = long_source(path, line["sample_rate"], 0.0) if blockwise else None  # made in blocks
    out = None if source is None else collect_long(pipeline, source, params=line["params"],
                                                   scale=scale, limit=PEAK_LIMIT)
    if out is not None:
        sr = source.sample_rate
    else:
        y, sr = load(path, sample_rate=line["sample_rate"], dtype=np.float32)
    with layout_known():  # (a file's frames, rendered and written back: noisegen._core.layout)
        if out is None:
            out, _, _ = _render(pipeline, y, sr, params=line["params"], scale=scale)
        if out_path is not None:
            save(out_path, out, sample_rate=sr, subtype=line["subtype"])
    return out, sr
