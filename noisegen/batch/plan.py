"""Planning a folder job: discover the inputs, assign shards, name the
outputs and their seeds, skip complete outputs, clean stale temporary files."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable
from pathlib import Path

from .._core.errors import NoisegenWarning, ParameterError, one_line
from .._core.rng import derive_key, resolve_key
from .._core.tempfiles import stem_hash
from .._core.validation import check_int, check_path
from ..audio.files import missing_hint, scan_audio_files
from ..audio.reader import decoding_once
from ..audio.segment import segment_span
from .manifest import (FAILURES, MANIFEST, _append_line, _complete, _dedupe_manifest, _job_key, _read_jsonl,
                       _remove_rewrites, _repair_tail, _rewrite_jsonl, read_plan_lines)
from .outdir import _banks, banks_changed, fingerprint_changed, input_fingerprint, jsonl_lock


def _existing_dir(path, name):
    path = check_path(path, name)  # (os.path.isdir takes an int for a file descriptor and raises for a float)
    if not os.path.isdir(path):
        what = "is not a folder" if os.path.exists(path) else "does not exist" + missing_hint(path)
        raise ParameterError(f"{name} {os.fspath(path)!r} {what}")
    return os.fspath(path)


def _inside(path: str, folder: str) -> bool:
    """``path`` equals ``folder`` or lies under it (both real paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _one_line(exc) -> str:
    return one_line(f"{type(exc).__name__}: {exc}")


# Temporary files left by a killed run: noisegen.save's ".<output>.<8 chars>.part", a long
# input's spill ".<output>.<8 chars>.f32", our ".<output>.<pid>.cmp.<fmt>" (and the save temp or
# spill of that). Group "base" is the output's name, or "hash" its stem_hash where the name is
# too long to repeat (_core.tempfiles.temp_stem). DOTALL and \Z: a name may hold a newline.
_TMP_RE = re.compile(
    r"^\.+(?:~(?P<hash>[0-9a-f]{12})|(?P<base>.+?\.aug\d+\.(?:wav|flac)))"
    r"\.(?:[a-z0-9_]{8}\.(?:part|f32)|\d+\.cmp\.(?:wav|flac)(?:\.[a-z0-9_]{8}\.(?:part|f32))?)\Z", re.DOTALL
)


def _discover(in_dir: str, out_dir=None) -> tuple[list[str], list[tuple[str, str]]]:
    """Relative POSIX paths of the audio files under ``in_dir``, sorted; hidden names skipped (and
    ``out_dir``, which a link in ``in_dir`` may lead to: a rerun would take the outputs as inputs).

    Also returns ``(rel, reason)`` for names with an audio ending that are not
    regular files (FIFO, socket, device, dangling symlink): never opened (a
    FIFO would block), reported as failures.
    """
    found, odd = scan_audio_files(in_dir, skip=None if out_dir is None else os.path.realpath(out_dir))
    for path, why in odd:
        if os.path.realpath(path) == os.path.realpath(in_dir):
            raise ParameterError(f"in_dir {in_dir!r} is {why}")
    rel = lambda path: Path(os.path.relpath(path, in_dir)).as_posix()  # noqa: E731
    return sorted(rel(p) for p in found), sorted((rel(p), why) for p, why in odd)


def _check_banks_apart(pipeline, out_dir: str) -> None:
    """Refuse a noise, sound or RIR folder of ``pipeline`` that is ``out_dir`` or holds it: its
    recursive search would find the outputs, so a rerun read them back as noises (a resume mixed
    other noises than the run it resumes, and every rerun found the bank changed since)."""
    out_real = os.path.realpath(out_dir)
    for bank in _banks(pipeline):  # (a list's folders too: [OUT_DIR] read the outputs back as well)
        for folder in getattr(bank, "_folders", [bank.folder] if bank.folder is not None else []):
            if _inside(out_real, os.path.realpath(folder)):
                raise ParameterError(f"{bank.name} {folder!r} holds the output folder {out_dir!r}: a rerun would "
                                     f"read the outputs back as {bank.name} files; write them elsewhere")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _path_hash(rel: str) -> tuple[int, int]:
    # (surrogateescape: a file name that is not UTF-8 keeps its bytes; a UTF-8 one is unchanged)
    digest = hashlib.sha256(rel.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "little"), int.from_bytes(digest[8:16], "little")


def output_name(rel: str, copy: int, fmt: str = "wav") -> str:
    """``dir/name.ext`` -> ``dir/name.aug<copy>.<fmt>``."""
    stem = rel.rsplit(".", 1)[0] if "." in rel.rsplit("/", 1)[-1] else rel
    return f"{stem}.aug{copy}.{fmt}"


def output_seed(seed: int, rel: str, copy: int) -> int:
    """The seed of output ``copy`` of input ``rel`` (a 64-bit int)."""
    return derive_key(resolve_key(seed, "seed"), *_path_hash(rel), copy)


def _in_shard(rel: str, shard) -> bool:
    if shard is None:
        return True
    k, n = shard
    return _path_hash(rel)[0] % n == k


def check_shard(shard):
    if shard is None:
        return None
    if isinstance(shard, str):
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", shard)
        if not m:
            raise ParameterError(f"shard must look like K/N (e.g. 0/4), got {shard!r}")
        shard = (int(m.group(1)), int(m.group(2)))
    if not isinstance(shard, (tuple, list)) or len(shard) != 2:
        raise ParameterError(f"shard must be (k, n) or 'k/n', got {shard!r}")
    n = check_int(shard[1], "shard n", low=1)
    k = check_int(shard[0], "shard k", low=0, high=n - 1)
    return k, n


# -- jsonl files --------------------------------------------------------------------------------


def _check_workers(workers) -> int:
    """``workers`` (0: all CPUs) capped at the CPUs available, with a warning when capped."""
    workers = check_int(workers, "workers", low=0)
    cpus = available_cpus()
    if workers > cpus:
        warnings.warn(f"workers={workers} is more than the {cpus} CPU{'s' if cpus != 1 else ''} available; "
                      f"using {cpus}", NoisegenWarning, stacklevel=3)
    return min(workers, cpus) or cpus


@dataclass
class Plan:
    tasks: list
    estimate: dict  # input -> (seconds of audio to write, its sample rate or None)
    done: dict  # the manifest at the start, by output
    rates: set | None = None  # the inputs' sample rates, when estimate cannot say (tar shards)
    sweep: Callable = lambda: None  # removes the temporary files of this plan's outputs (any process's)
    redone: set = field(default_factory=set)  # outputs to redo because their input changed (counted once written)


def _name_max(folder) -> int:
    """The longest file name, in bytes, ``folder``'s file system takes (255 where it does not say)."""
    try:
        longest = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # (no pathconf: Windows)
        return 255
    return longest if longest > 0 else 1 << 30  # (-1: no limit)


def _plan(in_dir, out_dir, in_real, summary, settings, *, copies, seed, shard, pipeline_json) -> Plan:
    """Discover and shard the inputs, fingerprint them and find what is still to do."""
    found, odd = _discover(in_dir, out_dir)
    fmt, subtype, sample_rate = settings["format"], settings["subtype"], settings["sample_rate"]
    # a.wav and a.flac in one folder would both write a.aug0.wav: the first in sorted order of
    # all inputs keeps the name, so every shard decides alike (and the shards add up to one run)
    owner: dict[str, str] = {}
    folders: dict[str, str] = {}  # the output tree's folders (the inputs'), each with its first input
    for rel in found:
        owner.setdefault(output_name(rel, 0, fmt), rel)
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folders.setdefault("/".join(parts[:i]), rel)
    inputs = [rel for rel in found if _in_shard(rel, shard)]
    odd = [(rel, reason) for rel, reason in odd if _in_shard(rel, shard)]
    summary.n_inputs = len(inputs) + len(odd)  # a FIFO named a.wav is an input that failed, as an unreadable file is
    for rel, reason in odd:
        summary.failures.append({"input": rel, "output": None, "error": f"not read: {reason}"})
    manifest_path, failures_path = os.path.join(out_dir, MANIFEST), os.path.join(out_dir, FAILURES)
    with jsonl_lock(out_dir):
        _repair_tail(manifest_path)
        _repair_tail(failures_path)
        _remove_rewrites(out_dir)
    _dedupe_manifest(out_dir)
    done = read_plan_lines(out_dir)  # (what the plan compares: whole lines took 6-7 kB each)
    tasks, mine, estimate, redone = [], set(), {}, set()
    inputs_real, leads = _inputs_real(in_dir, in_real, folders), {}
    name_max = _name_max(out_dir)
    for rel in inputs:
        try:
            fingerprint = input_fingerprint(os.path.join(in_dir, rel))
        except (OSError, ParameterError) as exc:
            summary.failures.append({"input": rel, "output": None, "error": _one_line(exc)})
            continue
        jobs = []
        for k in range(copies):
            out_rel = output_name(rel, k, fmt)
            summary.n_outputs += 1
            first = owner[output_name(rel, 0, fmt)]
            if first != rel:  # (its temporary files are the other input's, maybe in another shard's run)
                summary.failures.append({"input": rel, "output": out_rel,
                                         "error": f"output name collides with that of {first}"})
                continue
            if out_rel in folders:  # (an input folder named a.aug0.wav: the folder of the outputs in it wins)
                summary.failures.append({"input": rel, "output": out_rel, "error": (
                    f"output name collides with the output folder of {folders[out_rel]}")})
                continue
            top = out_rel.split("/", 1)[0]
            if top in (MANIFEST, FAILURES):  # (an input folder of that name: made in OUT_DIR, it stops every record)
                summary.failures.append({"input": rel, "output": out_rel, "error": (
                    f"output folder {top} collides with OUT_DIR's own {top}")})
                continue
            folder, _, name = out_rel.rpartition("/")
            if len(os.fsencode(name)) > name_max:  # (found after the work, where written)
                summary.failures.append({"input": rel, "output": out_rel, "error": (
                    f"output name is {len(os.fsencode(name))} bytes, over the {name_max} "
                    "the output folder's file system takes: rename the input")})
                continue
            if folder not in leads:
                leads[folder] = _leads_into(os.path.join(out_dir, folder), inputs_real, out_dir)
            if leads[folder]:  # (a rerun took its outputs for inputs, and every rerun added one more)
                summary.failures.append({"input": rel, "output": out_rel, "error": (
                    f"output folder {folder} of OUT_DIR leads into the input folder {leads[folder]!r} (a symlink): "
                    "refusing to write there")})
                continue
            mine.add(out_rel)
            s = output_seed(seed, rel, k)
            key = _job_key(s, pipeline_json, sample_rate, fmt, subtype)
            job = {"output": out_rel, "copy": k, "seed": s, "job": key, "replace": False}
            line = done.get(out_rel)
            if line is not None:  # (--overwrite replaces what other settings made; a complete output stays)
                if line.get("job") != key and os.path.exists(os.path.join(out_dir, out_rel)):
                    if not settings["overwrite"]:
                        summary.failures.append({"input": rel, "output": out_rel, "error": _made_by(line, rel)})
                        continue
                elif line.get("job") == key and fingerprint_changed(line, fingerprint):
                    job["replace"] = True  # our output, made from other input bytes: redo and replace it
                    redone.add(out_rel)
                elif _complete(out_dir, line, key):
                    if not banks_changed(line, settings["banks"]) or not settings["overwrite"]:
                        summary.n_skipped += 1  # (made from other noise/RIR files: kept, and the summary says so)
                        summary.n_other_banks += banks_changed(line, settings["banks"])
                        continue
                    job["replace"] = True  # made from other noise/RIR files, and --overwrite: redo it
                elif line.get("job") == key:  # this job's own output, cut short or damaged since: redo it
                    job["replace"] = True
            jobs.append(job)
        if jobs:
            header = probe_header(os.path.join(in_dir, rel))  # the worker needs no second look
            tasks.append((in_dir, out_dir, in_real, rel, jobs, settings, fingerprint, header))
            duration, rate = _duration(header)
            estimate[rel] = (duration * len(jobs), rate)  # for the progress report and the banks
    _clean_temps(out_dir, mine)
    # Failures recorded for this shard by earlier runs are superseded by this run.
    with jsonl_lock(out_dir):
        old_failures = _read_jsonl(failures_path)
        kept = [f for f in old_failures if not _in_shard(str(f.get("input")), shard)]
        if kept and len(kept) != len(old_failures):
            _rewrite_jsonl(failures_path, kept)
        elif old_failures and not kept:  # (as a run that never failed: no file)
            os.unlink(failures_path)
    for f in summary.failures:
        _append_line(failures_path, f)
    return Plan(tasks, estimate, done, sweep=lambda: _clean_temps(out_dir, mine), redone=redone)


def _inputs_real(in_dir: str, in_real: str, folders) -> list[str]:
    """IN_DIR's real path and those of the folders in its tree that are links (the scan follows them)."""
    paths = (os.path.join(in_dir, folder) for folder in folders)
    return [in_real] + [os.path.realpath(path) for path in paths if os.path.islink(path)]


def _leads_into(folder: str, inputs_real: list[str], out_dir: str) -> str | None:
    """The input folder (a real path of :func:`_inputs_real`) that output folder ``folder`` leads into
    through a symlink in OUT_DIR (``OUT/corpus -> /data/corpus``, as ``IN/corpus`` is), or None. A
    linked input tree may hold OUT_DIR itself: the scan leaves OUT_DIR out, so that is no input folder."""
    real = os.path.realpath(folder)
    if _inside(real, inputs_real[0]):
        return inputs_real[0]
    if _inside(real, os.path.realpath(out_dir)):
        return None
    return next((r for r in inputs_real[1:] if _inside(real, r)), None)


def _made_by(line: dict, rel: str) -> str:
    """Why input ``rel`` cannot write the output of manifest ``line``, made by another job: with other
    settings, or from another input of its output name (a.wav's, before a.flac came beside it and, first
    in sorted order, took the name; or a.flac's, since removed: "made with other settings" was untrue)."""
    out_rel, other = line["output"], line.get("input")
    if isinstance(other, str) and other != rel:
        return (f"{out_rel} holds the output of {other}, another input of this output name; use another OUT_DIR, "
                "or --overwrite to replace it with this input's")
    return (f"FileExistsError: {out_rel} was made with other settings (seed, pipeline, sample rate or format); "
            "use another OUT_DIR or --overwrite")


def _clean_temps(out_dir: str, mine: set[str]) -> int:
    """Remove temporary files a killed run left for outputs of this shard; returns how many."""
    removed = 0
    hashed = {(os.path.dirname(rel), stem_hash(os.path.basename(rel))): rel for rel in mine}
    for root, dirs, files in os.walk(out_dir):
        for name in files:
            m = _TMP_RE.match(name) if name.startswith(".") else None
            if m is None:
                continue
            folder = Path(os.path.relpath(root, out_dir)).as_posix()
            if m.group("hash"):
                rel = hashed.get(("" if folder == "." else folder, m.group("hash")))
            else:
                rel = Path(os.path.relpath(os.path.join(root, m.group("base")), out_dir)).as_posix()
            if rel in mine:
                os.unlink(os.path.join(root, name))
                removed += 1
    return removed


def probe_header(path: str) -> tuple[int, int] | None:
    """``(frames, sample rate)`` of an input from its header; None if unreadable (the worker reports it).
    An MP3's frames are its header's estimate (not decoded here: the plan estimates durations, and a
    long file's blocks count it exactly)."""
    try:
        _, frames, rate = segment_span(path, exact=False)
        return frames, rate
    except Exception:  # noqa: BLE001 - unreadable: the worker reports it
        return None


def _probe(path: str) -> tuple[float, int | None]:
    """(duration in seconds, sample rate) of an input from its header; (0, None) if unreadable."""
    return _duration(probe_header(path))


def _duration(header) -> tuple[float, int | None]:
    """(duration in seconds, sample rate) of a :func:`probe_header` result."""
    if header is None or header[1] <= 0:
        return 0.0, None
    return header[0] / header[1], header[1]


def _prepare_rates(pipeline, rates) -> dict:
    """Prepare ``pipeline`` at each of ``rates``; ``{rate: (why, its warnings)}`` of those refused."""
    refused = {}
    banks = list(_banks(pipeline))
    for rate in rates:
        reported = [dict(bank._reported) for bank in banks]  # (a file is reported once, at its first rate)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                pipeline.prepare(rate)
            except ParameterError as exc:
                refused[rate] = (one_line(exc), caught)
                # unsaid, its reports are left for the next rate: a silent noise file, first met at a
                # refused rate (an input at 1 Hz), was named nowhere
                for bank, before in zip(banks, reported):
                    bank._reported.clear()
                    bank._reported.update(before)
                continue
        _warn_again(caught)
    return refused


def _prepare(pipeline, plan: Plan, sample_rate, summary, out_dir: str) -> None:
    """Load the pipeline's noise/RIR banks here, once, at every rate the inputs need.

    Forked workers then share them (copy on write) instead of each loading
    its own, and a bad noise or RIR file fails the run once, before the
    first input, instead of failing every input. A rate the pipeline cannot
    run at while others work (an input at 8 Hz: no noise resamples to it)
    fails only the inputs at that rate (in tar shards, their samples, left
    out of their tars), without the bank's warnings about files that are
    fine at the other rates.
    """
    if not plan.tasks:
        return
    per_input = sample_rate is None and plan.rates is None  # each task's rate is known
    rates = ({sample_rate} if sample_rate is not None else plan.rates if plan.rates is not None
             else {r for _, r in plan.estimate.values() if r})
    with decoding_once() if len(rates) > 1 else contextlib.nullcontext():  # (one rate: nothing to hold)
        refused = _prepare_rates(pipeline, sorted(rates))
    if not refused:
        return
    per_sample = sample_rate is None and plan.rates is not None  # tar shards: each sample's rate is known
    if len(refused) == len(rates) or not (per_input or per_sample):
        why, caught = refused[min(refused)]
        _warn_again(caught)
        raise ParameterError(f"pipeline: {why}")
    if per_sample:  # (a tar mixes rates: its samples at a refused rate fail alone, as a folder's inputs do)
        for task in plan.tasks:
            for s in task.samples:
                if s.get("rate") in refused:
                    s["refused"] = f"the pipeline cannot run at {s['rate']} Hz: {refused[s['rate']][0]}"
        return
    kept = []
    for task in plan.tasks:
        rel, jobs = task[3], task[4]
        rate = plan.estimate[rel][1]
        if rate not in refused:
            kept.append(task)
            continue
        for job in jobs:
            rec = {"input": rel, "output": job["output"],
                   "error": f"ParameterError: the pipeline cannot run at {rate} Hz: {refused[rate][0]}"}
            _append_line(os.path.join(out_dir, FAILURES), rec)
            summary.failures.append(rec)
    plan.tasks[:] = kept


def _warn_again(caught) -> None:
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
