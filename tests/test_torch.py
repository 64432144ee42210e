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
pytestmark = pytest.mark.skipif(
    not all(hasattr(noisegen, n) for n in ("gain", "time_mask", "colored_noise", "mix_at_snr")),
    reason="effects not available yet",
)


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
