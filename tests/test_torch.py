"""noisegen.torch: the IterableDataset adapter under DataLoader workers and ranks."""

from __future__ import annotations

import collections
import hashlib
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import noisegen  # noqa: E402
from noisegen import AugmentStream  # noqa: E402
from noisegen.transforms import AddColoredNoise, Compose, Gain, TimeMask  # noqa: E402
from noisegen.torch import AugmentDataset, collate  # noqa: E402

SR = 16000


def make_stream(data_dir, **kw):
    pipe = Compose([AddColoredNoise(min_snr_db=5, max_snr_db=20, p=0.7), TimeMask(p=0.5), Gain(p=1.0)])
    kw = {"epochs": 2, **kw}
    return AugmentStream(data_dir / "speech", pipe, sample_rate=SR, chunk_s=0.5, rng=21, **kw)


def _hash(x):
    return hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()


def signature_from_batches(batches):
    sig = collections.Counter()
    for b in batches:
        for row, source, start, length in zip(b["samples"].numpy(), b["sources"], b["starts"], b["lengths"].tolist()):
            sig[(source, start, length, _hash(row))] += 1
    return sig


def signature_from_chunks(chunks):
    return collections.Counter((c.source, c.start, c.length, _hash(c.samples)) for c in chunks)


@pytest.mark.parametrize("num_workers", [0, 1, 2])
def test_dataloader_workers_give_the_single_process_multiset(data_dir, num_workers):
    reference = signature_from_chunks(make_stream(data_dir))
    loader = torch.utils.data.DataLoader(
        AugmentDataset(make_stream(data_dir)), batch_size=3, collate_fn=collate, num_workers=num_workers
    )
    assert signature_from_batches(loader) == reference


def test_ranks_times_workers_give_the_single_process_multiset(data_dir):
    reference = signature_from_chunks(make_stream(data_dir))
    merged = collections.Counter()
    for rank in range(2):
        ds = AugmentDataset(make_stream(data_dir, rank=rank, world_size=2))
        loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate, num_workers=2)
        merged += signature_from_batches(loader)
    assert merged == reference


@pytest.mark.parametrize("num_workers", [0, 1, 2])
def test_every_rank_yields_at_least_the_batches_its_loader_counts(data_dir, num_workers):
    """The README's DDP recipe stops every rank at the smallest len(loader) of the ranks: it needs each
    rank to yield at least len(loader) batches (exactly with one worker or none; with more, each worker
    ends on its own partial batch), with a pipeline that changes lengths too, in every epoch."""
    from noisegen.transforms import TimeStretch

    counts = []
    for rank in range(3):
        stream = AugmentStream(data_dir / "speech", Compose([TimeStretch(p=0.8), Gain(p=1.0)]), sample_rate=SR,
                               chunk_s=0.5, rng=21, rank=rank, world_size=3, epochs=1)
        loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=2, collate_fn=collate,
                                             num_workers=num_workers)
        for _ in range(2):  # epochs 0 and 1
            expected, got = len(loader), sum(1 for _ in loader)
            assert got == expected if num_workers <= 1 else got >= expected
            counts.append(expected)
    assert len(set(counts)) > 1  # the ranks' counts differ: what the recipe is for


@pytest.mark.parametrize("num_workers", [0, 1, 2])
def test_with_drop_last_only_one_worker_or_none_yields_the_batches_its_loader_counts(num_workers):
    """The README's DDP recipe (every rank stops at the smallest len(loader)) needs drop_last=False once a rank
    has several workers: with drop_last=True each worker drops its own last partial batch, so the rank
    yields fewer batches than len(loader) and its all-reduce would hang (the README says so)."""
    arrays = [np.full(n, 0.1, np.float32) for n in (900, 400, 1300, 700, 250, 1100, 600, 650, 1000, 300)]
    stream = AugmentStream(arrays, Gain(p=1.0), sample_rate=1000, chunk_s=0.3, rng=0, rank=1, world_size=2)
    loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=4, drop_last=True, collate_fn=collate,
                                         num_workers=num_workers)
    expected, got = len(loader), sum(1 for _ in loader)
    assert got == expected if num_workers <= 1 else got < expected


def test_ready_batches_and_set_epoch(data_dir):
    ds = AugmentDataset(make_stream(data_dir, epochs=1), batch_size=4)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=0)
    epoch0 = list(loader)
    b = epoch0[0]
    assert b["samples"].dtype == torch.float32 and b["samples"].shape == (4, SR // 2)
    assert b["lengths"].dtype == torch.int64 and len(b["params"]) == 4
    ds.set_epoch(0)
    again = list(loader)
    assert [_hash(x["samples"].numpy()) for x in again] == [_hash(x["samples"].numpy()) for x in epoch0]
    ds.set_epoch(1)
    other = list(loader)
    assert {e for x in other for e in x["epochs"]} == {1}
    assert [_hash(x["samples"].numpy()) for x in other] != [_hash(x["samples"].numpy()) for x in epoch0]


def test_dataset_pickles_for_spawned_workers(data_dir):
    ds = AugmentDataset(make_stream(data_dir))
    clone = pickle.loads(pickle.dumps(ds))
    assert type(clone) is AugmentDataset
    assert signature_from_chunks(clone) == signature_from_chunks(ds)
    assert isinstance(ds, torch.utils.data.IterableDataset)


@pytest.mark.slow
def test_training_example_runs_with_two_workers():
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "train_torch.py"
    proc = subprocess.run([sys.executable, str(example), "--steps", "3", "--workers", "2"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "step   0" in proc.stdout and proc.stdout.strip().endswith("done")



@pytest.mark.parametrize("kw, name", [(dict(batch_size=0), "batch_size"), (dict(batch_size=-2), "batch_size"),
                                      (dict(batch_size=1.5), "batch_size"), (dict(batch_size="4"), "batch_size"),
                                      (dict(batch_size=4, drop_last="no"), "drop_last")])
def test_bad_batch_arguments_are_refused_when_the_dataset_is_made(data_dir, kw, name):
    """len(AugmentDataset(stream, batch_size=0)) raised ZeroDivisionError (-2: a ValueError from len(),
    '4': a TypeError), and drop_last='no' dropped the last batch; each is a ParameterError at once now."""
    stream = make_stream(data_dir)
    with pytest.raises(noisegen.ParameterError, match=name):
        AugmentDataset(stream, **kw)
    if "drop_last" in kw:
        with pytest.raises(noisegen.ParameterError, match="drop_last"):
            stream.batches(4, drop_last="no")


@pytest.mark.parametrize("batch_size", [None, 1, 2])
def test_a_gpu_stream_is_refused_when_the_dataset_is_made(batch_size):
    """AugmentDataset(AugmentStream(device="cuda"), batch_size=2) collated chunks that hold no samples (an
    AttributeError from the first batch; None: a ParameterError only once a worker iterated it)."""
    items = [np.full(100, 0.1, np.float32) for _ in range(3)]
    stream = AugmentStream(items, Gain(p=1.0), sample_rate=8000, rng=0, shuffle=False, device="cuda")
    with pytest.raises(noisegen.ParameterError, match=r"device='cpu' .* got device='cuda'; iterate stream\.batches"):
        AugmentDataset(stream, batch_size=batch_size)

# ----------------------------------------------------------------- epochs move on by themselves (issue 13.10)


def small_stream(**kw):
    arrays = [(0.3 * np.random.default_rng(i).standard_normal(n)).astype(np.float32)
              for i, n in enumerate((900, 400, 1300, 700, 250, 1100))]
    # betas >= 0: issue 13.1 (NaN near beta=-1.9) is fixed elsewhere
    pipe = Compose([AddColoredNoise(min_beta=0, max_beta=2, min_snr_db=0, max_snr_db=30, p=0.7), Gain(p=0.8)])
    return AugmentStream(arrays, pipe, **{"sample_rate": 1000, "chunk_s": 0.3, "rng": 8, **kw})


def epoch_signature(e):
    """The chunks of epoch ``e`` as a single process makes them, with their epochs."""
    s = small_stream()
    s.set_epoch(e)
    return signature_from_chunks(s), {e}


def loader_passes(loader, n):
    out = []
    for _ in range(n):
        batches = list(loader)
        out.append((signature_from_batches(batches), {e for b in batches for e in b["epochs"]}))
    return out


LOADERS = [(0, False), (1, False), (2, False), (1, True), (2, True)]


@pytest.mark.parametrize("num_workers, persistent", LOADERS)
def test_each_iteration_of_a_loader_is_the_next_epoch_for_any_workers(num_workers, persistent):
    loader = torch.utils.data.DataLoader(AugmentDataset(small_stream()), batch_size=4, collate_fn=collate,
                                         num_workers=num_workers, persistent_workers=persistent)
    passes = loader_passes(loader, 3)
    assert passes == [epoch_signature(e) for e in range(3)]
    assert len({frozenset(sig.items()) for sig, _ in passes}) == 3  # the epochs differ


@pytest.mark.parametrize("num_workers, persistent", LOADERS)
def test_set_epoch_steers_every_kind_of_loader(num_workers, persistent):
    ds = AugmentDataset(small_stream(epochs=2))
    loader = torch.utils.data.DataLoader(ds, batch_size=5, collate_fn=collate, num_workers=num_workers,
                                         persistent_workers=persistent)
    first = loader_passes(loader, 1)[0]
    ds.set_epoch(0)
    again, after = loader_passes(loader, 2)
    assert again == first and first[1] == {0, 1}  # a pass is `epochs` epochs
    ds.set_epoch(7)
    assert loader_passes(loader, 1)[0][1] == {7, 8}
    assert after[1] == {2, 3}


def _set_epoch_5_in_the_worker(worker_id):
    torch.utils.data.get_worker_info().dataset.set_epoch(5)


def test_set_epoch_in_a_worker_is_refused_not_ignored():
    # dataset.set_epoch(5) in worker_init_fn moved the worker's copy, which its iter() then put back at the
    # main process's count: the loader gave epoch 0, silently
    ds = AugmentDataset(small_stream())
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate, num_workers=1,
                                         worker_init_fn=_set_epoch_5_in_the_worker)
    with pytest.raises(noisegen.NoisegenError, match=r"set_epoch\(5\) was called in DataLoader worker 0.*main process"):
        list(loader)
    ds.set_epoch(5)  # (in the main process: steers the loader)
    assert loader_passes(torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate, num_workers=1), 1)[0] \
        == epoch_signature(5)


def _move_the_stream_in_the_worker(worker_id):
    dataset = torch.utils.data.get_worker_info().dataset
    if worker_id == 0:
        dataset.stream.set_epoch(5)
    else:
        moved = small_stream()
        moved.set_epoch(5)
        dataset.stream.load_state_dict(moved.state_dict())


@pytest.mark.parametrize("num_workers", [1, 2])
def test_moving_the_stream_in_a_worker_is_refused_not_ignored(num_workers):
    # dataset.stream.set_epoch(5) (worker 0) or .load_state_dict (worker 1) in worker_init_fn moved the worker's
    # copy, which its iter() then put back where the main process's count stands: epoch 0, silently
    loader = torch.utils.data.DataLoader(AugmentDataset(small_stream()), batch_size=4, collate_fn=collate,
                                         num_workers=num_workers, worker_init_fn=_move_the_stream_in_the_worker)
    with pytest.raises(noisegen.NoisegenError, match=r"moved \(set_epoch or load_state_dict\) in DataLoader worker"):
        list(loader)


def test_a_loader_reseeded_every_epoch_still_moves_on():
    """torch.manual_seed before each epoch gives every iteration the same base seed."""
    loader = torch.utils.data.DataLoader(AugmentDataset(small_stream()), batch_size=4, collate_fn=collate,
                                         num_workers=2)
    passes = []
    for _ in range(3):
        torch.manual_seed(0)
        passes += loader_passes(loader, 1)
    assert passes == [epoch_signature(e) for e in range(3)]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_restored_stream_finishes_its_pass_then_moves_on(num_workers):
    whole = small_stream(epochs=2)
    full = list(whole)
    donor = small_stream(epochs=2)
    it = iter(donor)
    head = [next(it) for _ in range(len(full) * 3 // 4)]  # into epoch 1
    restored = small_stream(epochs=2)
    restored.load_state_dict(donor.state_dict())
    loader = torch.utils.data.DataLoader(AugmentDataset(restored), batch_size=3, collate_fn=collate,
                                         num_workers=num_workers)
    rest, following = loader_passes(loader, 2)
    assert rest[0] == signature_from_chunks(full[len(head):]) and rest[1] == {1}
    assert following[1] == {2, 3}


@pytest.mark.parametrize("num_workers, persistent", LOADERS)
def test_a_stream_moved_after_its_dataset_was_made_resumes_there(num_workers, persistent):
    """A state loaded into the stream after AugmentDataset(stream) was made was dropped: the loader replayed
    the whole epoch (len(stream) said what was left, len(dataset) the whole epoch)."""
    whole = small_stream(epochs=2)
    full = list(whole)
    donor = small_stream(epochs=2)
    it = iter(donor)
    head = [next(it) for _ in range(len(full) * 3 // 4)]  # into epoch 1
    state = donor.state_dict()
    stream = small_stream(epochs=2, rng=None)  # takes the state's key too
    ds = AugmentDataset(stream)
    loader = torch.utils.data.DataLoader(ds, batch_size=3, collate_fn=collate, num_workers=num_workers,
                                         persistent_workers=persistent)
    assert loader_passes(loader, 1)[0][1] == {0, 1}  # (persistent workers now hold copies of the stream)
    stream.load_state_dict(state)
    assert len(ds) == len(stream) == len(full) - len(head)
    rest = loader_passes(loader, 1)[0]
    assert rest == (signature_from_chunks(full[len(head):]), {1})
    len(loader)  # (an iterator of torch's warns past the length last asked: that of the short pass)
    assert loader_passes(loader, 1)[0][1] == {2, 3}
    stream.load_state_dict(state)  # again, and the loaded state is what the main process's stream says
    assert stream.state_dict() == state and loader_passes(loader, 1)[0] == rest
    stream.set_epoch(6)  # the stream's own set_epoch steers the loader as the dataset's does
    assert len(ds) == len(stream) == len(loader) * 3 and loader_passes(loader, 1)[0][1] == {6, 7}


def generator_stream():
    def arrays():
        for i in range(6):
            yield (0.1 * np.random.default_rng(i).standard_normal(400 + 100 * i)).astype(np.float32)

    return AugmentStream(arrays(), Gain(p=1.0), sample_rate=1000, chunk_s=0.3, rng=0, shuffle=False)


@pytest.mark.parametrize("num_workers, persistent", LOADERS)
def test_a_generator_source_is_read_by_one_iteration_for_any_workers(num_workers, persistent):
    """Each forked worker read its own unread copy of the generator again: epochs 1 and 2 came with workers,
    nothing with num_workers=0 (where the one generator was spent)."""
    make = lambda: torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate,  # noqa: E731
                                               num_workers=num_workers, persistent_workers=persistent)
    nothing = (collections.Counter(), set())
    ds = AugmentDataset(generator_stream())
    loader = make()
    assert loader_passes(loader, 3) == [(signature_from_chunks(generator_stream()), {0}), nothing, nothing]
    ds.set_epoch(0)  # picking an epoch does not make it readable again
    assert loader_passes(loader, 1) == [nothing]
    ds = AugmentDataset(generator_stream())  # a first pass cut short: the next reads no more of it either
    loader = make()
    it = iter(loader)
    assert next(it)["epochs"] == [0, 0]
    del it
    assert loader_passes(loader, 1) == [nothing]


@pytest.mark.parametrize("num_workers, persistent", LOADERS)
def test_the_main_process_state_is_refused_once_workers_hold_it(num_workers, persistent):
    """With workers, the main process's stream never moves: its state_dict() mid-epoch was the pass's start,
    and a resume from it repeated every chunk already trained on."""
    stream = small_stream()
    ds = AugmentDataset(stream)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate, num_workers=num_workers,
                                         persistent_workers=persistent)
    it = iter(loader)
    seen = [s for _ in range(3) for s in next(it)["sources"]]
    if num_workers == 0:  # the stream itself ran: it resumes after the chunks seen
        rest = small_stream()
        rest.load_state_dict(stream.state_dict())
        assert len(seen) + len(list(rest)) == len(list(small_stream()))
    else:
        with pytest.raises(noisegen.NoisegenError, match=r"set_epoch\(e\) \(the next iteration starts at epoch 1\)"):
            stream.state_dict()
    del it
    ds.set_epoch(5)  # an epoch checkpoint: the state says where the next iteration starts
    assert stream.state_dict()["epoch"] == 5 and stream.state_dict()["position"] == 0
    assert loader_passes(loader, 1)[0][1] == {5}



@pytest.mark.parametrize("num_workers, persistent", LOADERS)
def test_a_bad_file_is_warned_of_once_whatever_the_workers_and_epochs(tmp_path, num_workers, persistent):
    """Each worker's copy of the stream kept its own set of the files it had warned of, so with workers a bad
    file was warned of again in every epoch (and by each persistent worker it came to)."""
    import warnings

    import soundfile as sf

    for i in range(5):
        sf.write(tmp_path / f"a{i}.wav", np.full(500, 0.1, np.float32), 1000)
    (tmp_path / "bad.wav").write_bytes(b"RIFF, but no more")
    log = tmp_path / "warnings.log"

    def show(message, *args, **kwargs):  # forked workers inherit it, and write where the test reads
        with open(log, "a") as fh:
            fh.write(f"{message}\n")

    stream = AugmentStream(str(tmp_path), Gain(p=1.0), sample_rate=1000, chunk_s=0.3, rng=0)
    loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=2, collate_fn=collate,
                                         num_workers=num_workers, persistent_workers=persistent)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        for _ in range(4):
            assert sum(len(b["sources"]) for b in loader) == 10
    assert log.read_text().count("skipping") == 1

@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_dataset_made_per_epoch_keeps_the_workers_skips(tmp_path, num_workers):
    """The workers' skips lived in the dataset's record only, removed when the dataset went: with a loader
    made in a function per epoch, stream.skipped then named none of them, and each epoch's workers warned
    of every bad file again (num_workers=0 warned once and named them all)."""
    import warnings

    import soundfile as sf

    for i in range(3):
        sf.write(tmp_path / f"a{i}.wav", np.full(500, 0.1, np.float32), 1000)
    bad = [str(tmp_path / f"bad{i}.wav") for i in range(3)]
    for path in bad:
        with open(path, "wb") as fh:
            fh.write(b"RIFF, but no more")
    log = tmp_path / "warnings.log"

    def show(message, *args, **kwargs):  # forked workers inherit it, and write where the test reads
        with open(log, "a") as fh:
            fh.write(f"{message}\n")

    stream = AugmentStream(str(tmp_path), None, sample_rate=1000, chunk_s=0.3, rng=0)

    def one_epoch():  # the dataset goes when the function returns
        loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=2, collate_fn=collate,
                                             num_workers=num_workers)
        return sum(len(b["sources"]) for b in loader)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        for _ in range(3):
            assert one_epoch() == 6
            assert stream.skipped == bad
    assert log.read_text().count("skipping") == len(bad)


def test_skipped_files_past_the_limit_are_counted_not_named_across_workers(tmp_path):
    """Workers share the count of skipped files: past REPORT_LIMIT the rest go unnamed (each worker
    counting its own would name up to REPORT_LIMIT per worker), and no later epoch names one again."""
    import warnings

    import soundfile as sf

    from noisegen.data.loading import REPORT_LIMIT

    sf.write(tmp_path / "a.wav", np.full(500, 0.1, np.float32), 1000)
    for i in range(REPORT_LIMIT + 15):
        (tmp_path / f"bad{i:02d}.wav").write_bytes(b"RIFF, but no more")
    log = tmp_path / "warnings.log"

    def show(message, *args, **kwargs):  # forked workers inherit it, and write where the test reads
        with open(log, "a") as fh:
            fh.write(f"{message}\n")

    stream = AugmentStream(str(tmp_path), None, sample_rate=1000, chunk_s=0.3, rng=0)
    loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=2, collate_fn=collate, num_workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        for _ in range(2):
            assert sum(len(b["sources"]) for b in loader) == 2
    text = log.read_text()
    # (two workers crossing the limit together: one may count the other's file before that one is named, and
    # each may say the rest go unnamed: the named ones are REPORT_LIMIT give or take one, never one a file)
    more = text.count("later ones are skipped without a warning each")
    assert 1 <= more <= 2
    assert REPORT_LIMIT - 1 <= text.count("skipping") - more <= REPORT_LIMIT + 1


_FULL_TMP = """
import json, resource, sys, warnings
import numpy as np, soundfile as sf, torch
from noisegen import AugmentStream
from noisegen.transforms import Gain
from noisegen.torch import AugmentDataset, collate
folder, workers, room = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(5):
    sf.write(f"{folder}/a{i}.wav", np.full(500, 0.1, np.float32), 1000)
for i in range(3):
    open(f"{folder}/bad{i}.wav", "wb").write(b"RIFF, but no more")
ds = AugmentDataset(AugmentStream(folder, Gain(p=1.0), sample_rate=1000, chunk_s=0.3, rng=0))
resource.setrlimit(resource.RLIMIT_FSIZE, (room, room))  # (a full disk where the lock file is)
warnings.simplefilter("ignore")
loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate, num_workers=workers)
counts = [sum(len(b["sources"]) for b in loader) for _ in range(2)]
with open(ds._passes._lock_path, "rb") as fh:
    print(json.dumps([counts, fh.read().decode(), ds.stream.skipped]))
"""


@pytest.mark.parametrize("room", [0, 40, 250])  # bytes the lock file may hold: none, half a line, lines and more
def test_a_full_tmp_costs_the_shared_skip_record_not_the_training_run(tmp_path, room):
    """Workers share the sources they skip through lines appended to a file in /tmp: with /tmp full (here
    a file-size limit) the first bad file failed the loop with "OSError: No space left on device". (In the
    main process: a file-size limit also stops the workers' shared-memory tensors.)"""
    num_workers = 0
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    res = subprocess.run([sys.executable, "-c", _FULL_TMP, str(tmp_path), str(num_workers), str(room)],
                         capture_output=True, text=True, timeout=300, cwd=str(root),
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    counts, record, skipped = json.loads(res.stdout.strip().splitlines()[-1])
    assert counts == [10, 10]  # every good chunk, in every epoch
    assert len(record.encode()) <= room and record.endswith("\n") == bool(record)  # whole lines only
    assert all(json.loads(line).endswith(".wav") for line in record.splitlines())
    assert len(skipped) == 3


@pytest.mark.slow
@pytest.mark.parametrize("persistent", [False, True])
def test_spawned_workers_share_the_epoch_count(persistent):
    """The count crosses pickling too (spawn/forkserver start methods), not only fork."""
    loader = torch.utils.data.DataLoader(AugmentDataset(small_stream()), batch_size=4, collate_fn=collate,
                                         num_workers=2, multiprocessing_context="spawn",
                                         persistent_workers=persistent)
    assert loader_passes(loader, 3) == [epoch_signature(e) for e in range(3)]


_DDP_SCRIPT = """
import json, sys
import numpy as np, torch, torch.distributed as dist, torch.multiprocessing as mp

def work(rank, store, out_dir):
    dist.init_process_group("gloo", init_method="file://" + store, rank=rank, world_size=2)
    import noisegen
    from noisegen.torch import AugmentDataset, collate
    items = [np.full(100, 0.01 * i, np.float32) for i in range(8)]
    ds = AugmentDataset(noisegen.AugmentStream(items, None, sample_rate=100, chunk_s=1.0, rng=0, shuffle=False))
    got = {}
    for workers, context in ((0, None), (2, "spawn"), (2, "fork")):
        loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate, num_workers=workers,
                                             multiprocessing_context=context)
        got[f"{workers} {context}"] = [len(ds), sorted(s for b in loader for s in b["sources"])]
    with open(f"{out_dir}/{rank}.json", "w") as f:
        json.dump(got, f)
    dist.destroy_process_group()

if __name__ == "__main__":
    mp.spawn(work, args=(sys.argv[1], sys.argv[2]), nprocs=2)
"""


@pytest.mark.slow
def test_spawned_workers_of_a_distributed_rank_take_only_its_share(tmp_path):
    """torch.distributed without rank=: a worker started with "spawn" has no process group of its own."""
    import json
    import subprocess
    import sys

    script = tmp_path / "ddp.py"
    script.write_text(_DDP_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "store"), str(tmp_path)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rank in (0, 1):
        got = json.loads((tmp_path / f"{rank}.json").read_text())
        want = [4, [f"array:{i}" for i in range(rank, 8, 2)]]
        assert got == {"0 None": want, "2 spawn": want, "2 fork": want}


def test_a_stream_keeps_the_rank_it_inherited_through_further_pickling():
    """A stream unpickled where there is no process group keeps its sender's rank; pickled again there (a
    spawned worker's copy of a copy) it lost it, and every rank produced every item."""
    stream = AugmentStream([np.full(50, i, np.float32) for i in range(6)], None, sample_rate=100, rng=0,
                           shuffle=False)
    stream._sender_rank = (1, 2)  # what unpickling in a process without torch.distributed gives
    again = pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(stream))))
    assert again.shard() == (1, 2)
    assert [c.source for c in again] == ["array:1", "array:3", "array:5"]


@pytest.mark.parametrize("num_workers", [1, 2])
def test_every_dataset_over_a_stream_guards_its_state_and_a_deep_copy_counts_its_own_epochs(num_workers):
    import copy

    stream = small_stream()
    first, second = AugmentDataset(stream), AugmentDataset(stream)
    loader = torch.utils.data.DataLoader(first, batch_size=2, collate_fn=collate, num_workers=num_workers)
    next(iter(loader))
    with pytest.raises(noisegen.NoisegenError, match="set_epoch"):
        stream.state_dict()  # the first dataset's workers ran, though the second was made after it
    assert second.stream is stream
    twin = copy.deepcopy(AugmentDataset(small_stream()))
    loader = torch.utils.data.DataLoader(twin, batch_size=4, collate_fn=collate, num_workers=num_workers)
    assert [epochs for _, epochs in loader_passes(loader, 3)] == [{0}, {1}, {2}]  # a deep copy was stuck at 0
    with pytest.raises(noisegen.NoisegenError, match="set_epoch"):
        twin.stream.state_dict()


@pytest.mark.parametrize("num_workers", [0, 2])
def test_datasets_made_one_after_another_let_go_of_their_shared_words(num_workers):
    """The stream kept the pass counter of every AugmentDataset ever made over it, each holding a file
    descriptor (its shared memory) and a lock file in /tmp, and pickled them all to each worker: a dataset
    made per epoch or per evaluation grew the process by one descriptor each, to 'Too many open files'."""
    import gc
    import os

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("counts open descriptors in /proc")
    stream = small_stream()
    for i in range(10):
        loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=2, collate_fn=collate,
                                             num_workers=num_workers)
        assert len([b for b in loader]) > 0
        del loader
        gc.collect()
        if i == 1:
            before = (len(os.listdir("/proc/self/fd")), len(pickle.dumps(stream)))
    assert len(os.listdir("/proc/self/fd")) <= before[0]
    assert len(pickle.dumps(stream)) < before[1] + 1000  # (each counter kept added 2.4 kB: its 266 words)
    if num_workers:  # the workers advanced their copies: still refused, though their datasets have gone
        with pytest.raises(noisegen.NoisegenError, match="set_epoch"):
            stream.state_dict()
    stream.set_epoch(3)
    assert stream.state_dict()["epoch"] == 3
    loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=2, collate_fn=collate,
                                         num_workers=num_workers)
    assert {e for b in loader for e in b["epochs"]} == {3}


@pytest.mark.parametrize("num_workers, persistent", LOADERS)
def test_a_dataset_made_per_epoch_moves_on_for_any_workers(num_workers, persistent):
    """With workers the main process's stream never moves, and a new AugmentDataset(stream) started where it
    stood: a loader made per epoch trained on epoch 0 every time, and read a generator source again, where
    num_workers=0 moved on (the stream itself had advanced)."""
    make = lambda ds: torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=collate,  # noqa: E731
                                                  num_workers=num_workers, persistent_workers=persistent)
    stream = small_stream(epochs=2)
    passes = [loader_passes(make(AugmentDataset(stream)), 1)[0][1] for _ in range(3)]
    assert passes == [{0, 1}, {2, 3}, {4, 5}]
    ds = AugmentDataset(stream)
    assert len(ds) == len(small_stream(epochs=2))  # (counts the pass it will give: epochs 6 and 7)
    stream.set_epoch(1)  # an explicit move still wins
    assert loader_passes(make(AugmentDataset(stream)), 1)[0][1] == {1, 2}
    nothing = (collections.Counter(), set())
    stream = generator_stream()
    assert loader_passes(make(AugmentDataset(stream)), 1) == [(signature_from_chunks(generator_stream()), {0})]
    assert loader_passes(make(AugmentDataset(stream)), 1) == [nothing]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_stream_skipped_names_the_workers_skips(tmp_path, num_workers):
    """The warning past REPORT_LIMIT sends the user to AugmentStream.skipped, which 'names every one', but
    read through DataLoader workers the stream in the main process listed none."""
    import warnings

    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.full(500, 0.1, np.float32), 1000)
    bad = [str(tmp_path / f"bad{i:02d}.wav") for i in range(25)]
    for path in bad:
        with open(path, "wb") as fh:
            fh.write(b"RIFF, but no more")
    stream = AugmentStream(str(tmp_path), None, sample_rate=1000, chunk_s=0.3, rng=0)
    loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=2, collate_fn=collate,
                                         num_workers=num_workers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            assert sum(len(b["sources"]) for b in loader) == 2
            assert stream.skipped == bad


@pytest.mark.parametrize("backend", ["auto", "cpu"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int16])
@pytest.mark.parametrize("shape", [(4, 160), (1, 1), (2, 1, 160)])
def test_augment_batch_refuses_a_cpu_tensor_with_a_parameter_error(backend, dtype, shape):
    """A CPU torch tensor (torch-audiomentations' batches) is no host batch: a ParameterError naming batch that
    says how to pass it, not NumPy's TypeError about torch's dtype."""
    from noisegen.cuda import augment_batch

    x = torch.zeros(shape, dtype=dtype)
    with pytest.raises(noisegen.ParameterError, match=r"batch must be .*got Tensor.*batch\.numpy\(\)"):
        augment_batch(x, sample_rate=SR, gain_db=-3.0, rng=0, backend=backend)
    host = x.numpy().astype(np.float32).reshape(shape[0], -1)
    assert np.array_equal(augment_batch(host, sample_rate=SR, gain_db=0.0, rng=0, backend=backend).samples, host)

    class ArrayLike:  # (an h5py or zarr array: a NumPy dtype, read through __array__ and indexing) still taken
        def __init__(self, a):
            self.a, self.shape, self.dtype = a, a.shape, a.dtype

        def __array__(self, dtype=None, copy=None):
            return self.a

        def __getitem__(self, key):
            return self.a[key]

    assert np.array_equal(augment_batch(ArrayLike(host), sample_rate=SR, gain_db=0.0, rng=0, backend=backend).samples,
                          host)


class _GradCudaTensor:
    """A torch CUDA tensor that requires grad, as noisegen sees it: torch's ``__cuda_array_interface__``
    raises RuntimeError for it (torch/_tensor.py), so ``hasattr`` raises instead of answering."""

    requires_grad = True
    dtype = torch.float32

    def __init__(self, shape):
        self.shape = shape

    @property
    def __cuda_array_interface__(self):
        raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad. "
                           "If gradients aren't required, use var.detach() to get Variable that doesn't require gradient.")


def _grad_cuda_tensors():
    yield from (_GradCudaTensor(s) for s in ((16,), (2, 16), (4, 16)))
    if torch.cuda.is_available():
        yield torch.zeros(2, 16, device="cuda", requires_grad=True)


@pytest.mark.parametrize("call, name", [
    (lambda x: noisegen.gain(x, gain_db=-3.0), "y"),
    (lambda x: noisegen.lowpass(x, cutoff_hz=1000.0, sample_rate=SR), "y"),
    (lambda x: noisegen.pitch_shift(x, sample_rate=SR, n_steps=1.0), "y"),
    (lambda x: noisegen.mix_at_snr(np.ones(16, np.float32), x, snr_db=5.0), "noise"),
    (lambda x: Gain(p=1.0)(x, sample_rate=SR, rng=0), "y"),
    (lambda x: Compose([Gain(p=1.0)])(x, sample_rate=SR, rng=0), "y"),
    (lambda x: __import__("noisegen.cuda").cuda.augment_batch(x, sample_rate=SR, gain_db=-3.0, rng=0), "batch"),
    (lambda x: __import__("noisegen.cuda").cuda.augment_batch(np.ones((2, 16)), sample_rate=SR, noise=x, snr_db=5.0,
                                                              rng=0), "noise"),
])
def test_a_cuda_tensor_that_requires_grad_is_a_parameter_error_saying_detach(call, name):
    """A CUDA tensor that requires grad (torch-audiomentations' transforms take them) made every call raise
    torch's RuntimeError from inside noisegen's backend check; the kernels are not differentiable, so it is
    refused as bad input, saying to detach it."""
    for x in _grad_cuda_tensors():
        with pytest.raises(noisegen.ParameterError, match=rf"requires grad; .*not differentiable: pass {name}\.detach\(\)"):
            call(x)


class _Float8CudaTensor(_GradCudaTensor):
    """A torch CUDA tensor of a dtype torch has no CUDA typestr for (float8): its ``__cuda_array_interface__``
    raises KeyError (torch/_tensor.py's _dtype_to_typestr), which reached the caller as a bare KeyError."""

    requires_grad = False
    dtype = getattr(torch, "float8_e4m3fn", torch.float16)

    @property
    def __cuda_array_interface__(self):
        raise KeyError(self.dtype)


@pytest.mark.parametrize("call, name", [
    (lambda x: noisegen.gain(x, gain_db=-3.0), "y"),
    (lambda x: noisegen.mix_at_snr(np.ones(16, np.float32), x, snr_db=5.0), "noise"),
    (lambda x: Gain(p=1.0)(x, sample_rate=SR, rng=0), "y"),
    (lambda x: __import__("noisegen.cuda").cuda.augment_batch(x, sample_rate=SR, gain_db=-3.0, rng=0), "batch"),
])
def test_a_cuda_tensor_of_a_dtype_without_an_interface_is_a_parameter_error(call, name):
    for shape in ((16,), (2, 16)):
        with pytest.raises(noisegen.ParameterError, match=rf"^{name} cannot be read as a CUDA array of dtype "
                                                          r".*float32 or float64.*KeyError"):
            call(_Float8CudaTensor(shape))


@pytest.mark.parametrize("make, name", [(lambda s: noisegen.ApplyImpulseResponse(s, p=1.0), "rir"),
                                        (lambda s: noisegen.AddBackgroundNoise(s, p=1.0), "noise"),
                                        (lambda s: noisegen.AddShortNoises(s, p=1.0), "sounds")])
@pytest.mark.parametrize("source, held", [([torch.ones(64)], "Tensor"), ((torch.ones(64), torch.ones(8)), "Tensor"),
                                          ([np.ones(64), torch.ones(64)], "Tensor, ndarray"),
                                          ([np.ones(64), 3.0], "float, ndarray")])
def test_a_bank_of_tensors_is_refused_saying_what_the_list_holds(make, name, source, held):
    """Recordings given as a list of torch tensors (torch-audiomentations users hold them so) were refused with
    'must be ... a list of float arrays, got list': the error now says the list holds tensors, not NumPy arrays."""
    with pytest.raises(noisegen.ParameterError, match=rf"{name} must be .*list of float arrays \(NumPy\), got "
                                                      rf"{type(source).__name__} of {held}$"):
        make(source)


@pytest.mark.parametrize("one_pass", [False, True])
@pytest.mark.parametrize("at", [0, 1, 2])
def test_a_source_tensor_that_requires_grad_is_skipped_as_an_unreadable_item(one_pass, at):
    """np.asarray of a tensor that requires grad raises RuntimeError: len(stream) and the loop over a source
    holding one raised it (a crash of the training loop); it is skipped and reported as a bad item is."""
    good = [torch.full((800,), 0.1), (torch.full((1, 400), 0.2), 8000)]
    items = good[:at] + [torch.full((800,), 0.3, requires_grad=True)] + good[at:]
    source = iter(items) if one_pass else items
    stream = AugmentStream(source, Gain(min_gain_db=0.0, max_gain_db=0.0, p=1.0), sample_rate=SR, chunk_s=None,
                           rng=0, shuffle=False)
    if not one_pass:
        assert len(stream) == 2
    with pytest.warns(noisegen.NoisegenWarning, match=r"requires grad"):
        chunks = list(stream)
    assert [float(c.samples[400]) for c in chunks] == pytest.approx([0.1, 0.2], abs=1e-3)
    assert [c.samples.shape for c in chunks] == [(800,), (800,)]
