"""``noisegen augment --output-format webdataset``: augmented copies written as WebDataset tar shards.

Layout. ``OUT_DIR/shard-000000.tar``, ``shard-000001.tar``, ... (six digits,
from 0), read back with ``"OUT_DIR/shard-{000000..000002}.tar"``. The
samples are every ``(input, copy)`` in sorted input order (inputs by their
path relative to ``IN_DIR``, then copy 0, 1, ...): tar ``i`` holds samples
``i * shard_size`` to ``(i + 1) * shard_size - 1``, so where a sample lands
depends on the inputs alone, never on the workers or the order they finish in.

Samples. Each sample is two members, ``KEY.<format>`` (the audio, the bytes
:func:`noisegen.save` would write) then ``KEY.json`` (an object: ``input``,
``copy``, ``seed``, ``sample_rate``, ``n_samples``, ``n_channels``,
``duration_s``, ``peak_scale``, ``params``, ``format``, ``subtype``; and
``blockwise``: true for an input longer than ``blockwise_min_s``, made in
blocks into a file beside the tar, then copied in: memory does not grow
with its length, see :mod:`noisegen.batch.long`). ``KEY``
(:func:`sample_key_for`) is the input's relative path without its extension,
with ``%`` and ``.`` percent-escaped (``%25``, ``%2E``; webdataset cuts a
member's key at the first dot of its file name) and ``_aug<copy>`` appended:
``sub/a.b.wav`` copy 1 is ``sub/a%2Eb_aug1``. Two inputs that differ only by
their extension (``a.wav``, ``a.flac``) would share keys: the second is a
recorded failure, as in the folder output.

Bytes. Members have a fixed mtime (0), mode 0644, uid/gid 0 and empty
user/group names, in the PAX format: the same inputs, seed and settings give
byte-identical tars for any ``workers`` or engine. Each tar is written to
``.shard-NNNNNN.tar.<pid>.part`` beside it and renamed into place.

Resume and refusal. ``manifest.jsonl`` gets one line per tar (``output``,
the ``job`` key of its settings and samples, the hash of its inputs' bytes,
``bytes``, ``n_items``, ``pipeline``, ``in_dir``, ``failed`` inputs). A tar
with its line, the same job and inputs and no failed input is complete and
skipped; one whose inputs changed since, or of this job with a failed input
or cut short since, is redone and replaced; an existing tar without such a
line is rebuilt and accepted only if its bytes come out the same, else
refused (``FileExistsError``) unless ``overwrite``. An input that cannot be
read is left out of its tar and recorded in ``failures.jsonl`` (a rerun
retries that tar). A ``shard-NNNNNN.tar`` past this job's count is a failure;
``overwrite`` removes it only when noisegen wrote it (listed, or its first
sample's JSON is ours), never another tool's. ``replay(dict(tar_line, **sample_json))``
rebuilds one sample's audio.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import hashlib
import io
import json
import os
import re
import tarfile
from typing import NamedTuple

from .._core.errors import ParameterError
from .._core.labels import about
from .._core.layout import layout_known
from .._core.tempfiles import live
from ..audio.bank import BANK_RULES
from ..audio.files import open_regular
from ..audio.io import encode
from .manifest import (FAILURES, MANIFEST, _append_line, _dedupe_manifest, _read_jsonl, _repair_tail,
                       _rewrite_jsonl, read_manifest)
from .outdir import banks_changed, input_fingerprint, jsonl_lock
from .plan import Plan, _discover, _one_line, _probe, output_seed
from .long import BLOCKWISE_MIN_S, long_source, render_long
from .work import _FATAL_ERRNOS, PEAK_LIMIT, _check_unchanged, _render, load_input

__all__ = ["SHARD_NAME", "DEFAULT_SHARD_SIZE", "sample_key_for", "plan_shards", "ShardTask"]

#: Name of tar ``i`` in OUT_DIR.
SHARD_NAME = "shard-{:06d}.tar"
DEFAULT_SHARD_SIZE = 1000
_TEMP_RE = re.compile(r"^\.\.?(?P<tar>shard-\d{6,}\.tar)\.\d+\.(part$|member\.)")  # a tar, a long sample's files
_SHARD_RE = re.compile(r"shard-(\d{6,})\.tar")


def sample_key_for(rel: str, copy: int) -> str:
    """The WebDataset key of output ``copy`` of input ``rel`` (see the module docstring).

    Examples
    --------
    >>> sample_key_for("sub/a.b.wav", 1), sample_key_for("v1.2/100%.flac", 0)
    ('sub/a%2Eb_aug1', 'v1%2E2/100%25_aug0')
    """
    stem = rel.rsplit(".", 1)[0] if "." in rel.rsplit("/", 1)[-1] else rel
    return stem.replace("%", "%25").replace(".", "%2E") + f"_aug{copy}"


def _hash(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def plan_shards(in_dir, out_dir, in_real, summary, settings, *, copies, seed, shard_size, pipeline_json) -> Plan:
    """Discover the inputs, deal their copies into tars in sorted order and find the tars still to write."""
    found, odd = _discover(in_dir, out_dir)
    summary.n_inputs = len(found) + len(odd)  # a FIFO named a.wav is an input that failed, as an unreadable file is
    failures = [{"input": rel, "output": None, "error": f"not read: {why}"} for rel, why in odd]
    with jsonl_lock(out_dir):
        _repair_tail(os.path.join(out_dir, MANIFEST))
        _repair_tail(os.path.join(out_dir, FAILURES))
    _dedupe_manifest(out_dir)
    done = read_manifest(out_dir)
    samples, owner = [], {}
    for rel in found:
        try:
            fingerprint = input_fingerprint(os.path.join(in_dir, rel))
        except (OSError, ValueError) as exc:
            failures.append({"input": rel, "output": None, "error": _one_line(exc)})
            continue
        for k in range(copies):
            key = sample_key_for(rel, k)
            if key in owner:
                failures.append({"input": rel, "output": key, "error": f"sample key collides with that of {owner[key]}"})
                continue
            owner[key] = rel
            samples.append({"input": rel, "copy": k, "seed": output_seed(seed, rel, k), "key": key,
                            "fingerprint": fingerprint})
    tasks, estimate, rates, redone = [], {}, set(), set()
    probes = {}
    for i in range(0, len(samples), shard_size):
        name = SHARD_NAME.format(i // shard_size)
        group = samples[i:i + shard_size]
        summary.n_outputs += 1
        job = _hash([pipeline_json, settings["sample_rate"], settings["format"], settings["subtype"],
                     [(s["input"], s["copy"], s["seed"]) for s in group], BANK_RULES])
        inputs = _hash([(s["fingerprint"]["input_size"], s["fingerprint"]["input_blake2b"]) for s in group])
        line, exists = done.get(name), os.path.exists(os.path.join(out_dir, name))
        replace = False
        if line is not None:  # (overwrite replaces what other settings made; a complete tar stays)
            if line.get("job") != job and exists:
                if not settings["overwrite"]:
                    failures.append({"input": name, "output": name, "error": (
                        f"FileExistsError: {name} was made with other settings or inputs (seed, pipeline, sample "
                        "rate, format, shard size or the set of input files); use another OUT_DIR or --overwrite")})
                    continue
            elif line.get("job") == job and line.get("inputs") != inputs:
                replace = True  # our tar, made from other input bytes: redo and replace it
                redone.add(name)
            elif line.get("job") == job and not line.get("failed") and _size(out_dir, name) == line.get("bytes"):
                if not banks_changed(line, settings["banks"]) or not settings["overwrite"]:
                    summary.n_skipped += 1  # (made from other noise/RIR files: kept, and the summary says so)
                    summary.n_other_banks += banks_changed(line, settings["banks"])
                    continue
                replace = True  # made from other noise/RIR files, and overwrite: redo it
            elif line.get("job") == job:  # our own tar, with samples left out or cut short since: redo it
                replace = True
        tasks.append(ShardTask(in_dir, out_dir, in_real, name, [{"output": name}], settings, group, job, inputs,
                               replace))
        for s in group:
            probes.setdefault(s["input"], _probe(os.path.join(in_dir, s["input"])))
            s["rate"] = probes[s["input"]][1]  # (plan._prepare: a rate the pipeline cannot run at)
        estimate[name] = (sum(probes[s["input"]][0] for s in group), None)
        rates.update(probes[s["input"]][1] for s in group if probes[s["input"]][1])
    failures += _stale_tars(out_dir, done, -(-len(samples) // shard_size), settings["overwrite"])
    _clean_temps(out_dir)
    with jsonl_lock(out_dir):  # failures of earlier runs are superseded by this run's
        try:
            os.unlink(os.path.join(out_dir, FAILURES))
        except FileNotFoundError:
            pass
    summary.failures.extend(failures)
    for f in failures:
        _append_line(os.path.join(out_dir, FAILURES), f)
    return Plan(tasks, estimate, done, rates, sweep=lambda: _clean_temps(out_dir), redone=redone)


def _stale_tars(out_dir: str, done: dict, n_tars: int, overwrite: bool) -> list[dict]:
    """Tars of an earlier run (listed, or left by a killed one) that this job has no number for
    (another ``--shard-size``, fewer inputs): ``shard-*.tar`` would read their samples beside this
    job's. Removed with their lines under ``overwrite``; else each is a recorded failure (exit 1)."""
    listed_or_present = set(done) | set(os.listdir(out_dir))  # (a killed run's tars may have no line yet)
    stale = sorted(name for name in listed_or_present
                   if (m := _SHARD_RE.fullmatch(name)) is not None and int(m.group(1)) >= n_tars)
    # (--overwrite removed any shard-NNNNNN.tar past this job's count, one noisegen never wrote too)
    foreign = [name for name in stale if name not in done and not _ours(os.path.join(out_dir, name))]
    failures = [{"input": name, "output": name, "error": (
        f"FileExistsError: {name} is a tar noisegen augment did not write, named as this job's tars are: its "
        "samples would be read beside this job's; move it, or use another OUT_DIR")} for name in foreign]
    stale = [name for name in stale if name not in foreign]
    if not overwrite:
        return failures + [{"input": name, "output": name, "error": (
            f"FileExistsError: {name} is a tar of an earlier run that this job does not make (another shard size "
            "or set of inputs): its samples would be read beside this job's; remove it, use another OUT_DIR "
            "or --overwrite")} for name in stale]
    if stale:
        with jsonl_lock(out_dir):
            path = os.path.join(out_dir, MANIFEST)
            _rewrite_jsonl(path, [rec for rec in _read_jsonl(path) if rec.get("output") not in stale])
            for name in stale:
                try:
                    os.unlink(os.path.join(out_dir, name))
                except FileNotFoundError:  # (removed meanwhile)
                    pass
    return failures


def _ours(path: str) -> bool:
    """Whether a tar's first sample is one noisegen augment wrote (its JSON member has our keys): a
    killed run's last tar may have no manifest line."""
    try:  # (never opened by name: a FIFO named like a tar hung the plan, waiting for a writer)
        with os.fdopen(open_regular(path), "rb") as fh, tarfile.open(fileobj=fh) as tf:
            for _, member in zip(range(4), tf):
                if member.isfile() and member.name.endswith(".json") and member.size < 1 << 20:
                    meta = json.loads(tf.extractfile(member).read())
                    return isinstance(meta, dict) and {"input", "seed", "params", "peak_scale"} <= meta.keys()
    except (OSError, tarfile.TarError, ValueError):  # (ValueError: a ParameterError for a FIFO too)
        pass
    return False


def _size(out_dir: str, name: str) -> int | None:
    try:
        return os.stat(os.path.join(out_dir, name)).st_size
    except OSError:
        return None


def _clean_temps(out_dir: str) -> None:
    """Remove the temporary tars a killed run left."""
    for name in os.listdir(out_dir):
        if _TEMP_RE.match(name):
            os.unlink(os.path.join(out_dir, name))


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class ShardTask(NamedTuple):
    """One tar to write: planned by :func:`plan_shards`, run by :func:`noisegen.batch.work._process`.

    Its first fields line up with a folder task's (``rel`` is the tar's name,
    ``jobs`` its one output), so the local pool and the Ray engine handle both alike.
    """

    in_dir: str
    out_dir: str
    in_real: str
    rel: str
    jobs: list
    settings: dict
    samples: list
    job: str
    inputs: str
    replace: bool

    def run(self, pipeline):
        """Render the samples into a temporary tar and put it in place; ``(name, [result dicts])``."""
        path = os.path.join(self.out_dir, self.rel)
        tmp = os.path.join(self.out_dir, f".{self.rel}.{os.getpid()}.part")
        results, failed, n_items, duration = [], [], 0, 0.0
        held = {}  # the input of the sample before: its copies follow it, read (and warned of) once, as in a tree
        try:
            if os.path.isdir(path) and not os.path.islink(path):  # (before any work: --overwrite cannot replace it)
                raise IsADirectoryError(errno.EISDIR, "a folder is in the way of the output", self.rel)
            with live(tmp):  # (what a SIGTERM's hard stop removes: _core.tempfiles)
                with open(tmp, "wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.PAX_FORMAT) as tf:
                    for s in self.samples:
                        try:
                            audio, meta = self._sample(pipeline, s, held)
                        except Exception as exc:  # noqa: BLE001 - an unreadable input is a recorded failure
                            if isinstance(exc, OSError) and exc.errno in _FATAL_ERRNOS:
                                raise  # a full disk (a long sample's file) fails every sample alike: the run stops
                            failed.append(s["input"])
                            results.append({"ok": False, "input": s["input"], "output": f"{self.rel}/{s['key']}",
                                            "error": _one_line(exc)})
                            continue
                        self._add(tf, s["key"], audio, meta)
                        n_items, duration = n_items + 1, duration + meta["duration_s"]
                self._put(tmp, path)
        except BaseException as exc:  # an interrupt too leaves no temporary tar
            _unlink(tmp)
            if not isinstance(exc, Exception):
                raise
            fatal = isinstance(exc, OSError) and exc.errno in _FATAL_ERRNOS
            return self.rel, results + [{"ok": False, "input": self.rel, "output": self.rel, "error": _one_line(exc),
                                         "fatal": exc.errno if fatal else None}]
        line = {"output": self.rel, "job": self.job, "inputs": self.inputs, "bytes": os.stat(path).st_size,
                "n_items": n_items, "duration_s": duration, "failed": failed, "format": self.settings["format"],
                "subtype": self.settings["subtype"], "sample_rate": self.settings["sample_rate"],
                "pipeline": self.settings["pipeline"], "in_dir": self.in_dir}
        if self.settings.get("banks"):
            line["banks"] = self.settings["banks"]
        return self.rel, results + [{"ok": True, "line": line}]

    def _add(self, tf, key, audio, meta):
        """The sample's two members: its audio (bytes, or a long input's file, copied in blocks and
        removed), then its JSON."""
        with live(audio) if isinstance(audio, str) else contextlib.nullcontext():
            try:
                body = json.dumps(meta, sort_keys=True, allow_nan=False).encode("utf-8")
                name = f"{key}.{self.settings['format']}"
                if isinstance(audio, str):
                    with open(audio, "rb") as fa:
                        tf.addfile(_member(name, os.fstat(fa.fileno()).st_size), fa)
                else:
                    tf.addfile(_member(name, len(audio)), io.BytesIO(audio))
                tf.addfile(_member(f"{key}.json", len(body)), io.BytesIO(body))
            finally:
                if isinstance(audio, str):
                    _unlink(audio)

    def _sample(self, pipeline, s, held):
        """``(audio, meta)``: the encoded bytes, or for a long input the path of its encoded file. ``held``
        keeps the input of the last sample (its block reader, its samples or why they cannot be read)."""
        if "refused" in s:
            raise ParameterError(s["refused"])
        if held.get("input") != s["input"]:
            held.clear()
            held["input"] = s["input"]
            held["source"] = long_source(os.path.join(self.in_dir, s["input"]), self.settings["sample_rate"],
                                         self.settings.get("blockwise_min_s", BLOCKWISE_MIN_S))
        long = self._long_sample(pipeline, s, held["source"])
        if long is not None:
            return long
        if "whole" not in held:
            try:
                held["whole"] = load_input(self.in_dir, s["input"], self.settings, s["fingerprint"])
            except Exception as exc:  # (each copy fails alike, without reading it again)
                held["whole"] = exc
        if isinstance(held["whole"], Exception):
            raise held["whole"]
        y, sr = held["whole"]
        with about(f"input {s['input']!r}"), layout_known():  # (about: named in the pipeline's warnings; y is a
            out, params, scale = _render(pipeline, y, sr, seed=s["seed"])  # file's frames: _core.layout)
            audio = encode(out, sample_rate=sr, format=self.settings["format"], subtype=self.settings["subtype"])
        n_channels = 1 if out.ndim == 1 else int(out.shape[0])
        return audio, self._meta(s, sr, out.shape[-1], n_channels, scale, params)

    def _meta(self, s, sr, n_out, n_channels, scale, params):
        return {"input": s["input"], "copy": s["copy"], "seed": s["seed"], "sample_rate": sr, "n_samples": int(n_out),
                "n_channels": n_channels, "duration_s": n_out / sr, "peak_scale": scale, "params": params,
                "format": self.settings["format"], "subtype": self.settings["subtype"]}

    def _long_sample(self, pipeline, s, source):
        """:meth:`_sample` of an input longer than ``blockwise_min_s`` (``source``: its :func:`long_source`),
        made in blocks (as a tree's output, :mod:`noisegen.batch.long`) into a file beside the tar; None for a
        short input, or one whose parameters cannot be applied in blocks (made whole). A whole 60-minute
        input took 1,060 MB."""
        path = os.path.join(self.in_dir, s["input"])
        if source is None:
            return None
        _check_unchanged(path, s["fingerprint"])
        target = os.path.join(self.out_dir, f".{self.rel}.{os.getpid()}.member.{self.settings['format']}")
        with live(target):
            try:
                with about(f"input {s['input']!r}"):
                    done = render_long(pipeline, source, target=target, subtype=self.settings["subtype"],
                                       limit=PEAK_LIMIT, seed=s["seed"])
                if done is None:
                    return None
                _check_unchanged(path, s["fingerprint"])
            except BaseException:
                _unlink(target)
                raise
        params, scale, n_out, n_channels = done
        meta = self._meta(s, source.sample_rate, n_out, n_channels, scale, params)
        meta["blockwise"] = True  # (replay makes it in blocks too)
        return target, meta

    def _put(self, tmp: str, path: str) -> None:
        """Rename the finished tar into place; an existing tar with other bytes is kept unless asked."""
        if os.path.exists(path) and not (self.settings["overwrite"] or self.replace):
            if not filecmp.cmp(tmp, path, shallow=False):
                raise FileExistsError(f"{self.rel} exists with different content (pass --overwrite)")
        os.replace(tmp, path)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
