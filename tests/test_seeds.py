"""Keys and generators from noisegen's SeedSequence hash are numpy's, word for word."""

import copy
import pickle

import numpy as np
import pytest

from noisegen._core.rng import as_generator, derive_key, resolve_key, seed_words

# ints at the edges of SeedSequence's 32-bit words: zero, one word, two words, more than two
EDGES = [0, 1, 7, (1 << 32) - 1, 1 << 32, (1 << 32) + 5, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, (1 << 64) + 3, 1 << 100]


def _reference_key(key, *path):
    """derive_key as it was written before the kernel: numpy's SeedSequence itself."""
    seq = np.random.SeedSequence(entropy=key & ((1 << 64) - 1), spawn_key=tuple(p & ((1 << 64) - 1) for p in path))
    return int(seq.generate_state(1, np.uint64)[0])


@pytest.mark.parametrize("entropy", EDGES)
@pytest.mark.parametrize("spawn_key", [(), (0,), (3, 17), (1 << 32, 0, 5), tuple(EDGES[:6]), ((1 << 64) - 1,) * 2])
def test_seed_words_are_numpys(entropy, spawn_key):
    seq = np.random.SeedSequence(entropy, spawn_key=spawn_key)
    for n in (1, 2, 3, 4, 8, 9):
        assert np.array_equal(seed_words(entropy, spawn_key, n).astype(np.uint32), seq.generate_state(n, np.uint32))
        assert np.array_equal(seed_words(entropy, spawn_key, n, wide=True), seq.generate_state(n, np.uint64))


def test_derive_key_resolve_key_and_generators_over_random_inputs():
    rng = np.random.default_rng(2026)
    for _ in range(500):
        key = int(rng.integers(0, 1 << 63)) * int(rng.integers(1, 3)) + int(rng.integers(0, 2))
        path = tuple(int(rng.integers(0, 1 << int(rng.integers(1, 64)))) for _ in range(int(rng.integers(0, 5))))
        assert derive_key(key, *path) == _reference_key(key, *path)
        assert resolve_key(key) == int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0])
        ours, numpys = as_generator(key), np.random.default_rng(key)
        assert ours.bit_generator.state == numpys.bit_generator.state
    assert derive_key(-1, -2) == _reference_key(-1, -2)  # masked to 64 bits, as before


@pytest.mark.skipif(not hasattr(np.random.Generator, "spawn"), reason="Generator.spawn: numpy >= 1.25")
def test_a_generator_from_an_int_behaves_as_numpys_in_every_way():
    ours, numpys = as_generator(12345), np.random.default_rng(12345)
    assert np.array_equal(ours.standard_normal(100), numpys.standard_normal(100))
    assert [g.random() for g in ours.spawn(3)] == [g.random() for g in numpys.spawn(3)]
    assert ours.bit_generator.seed_seq.entropy == 12345
    assert repr(ours.bit_generator.seed_seq) == repr(numpys.bit_generator.seed_seq)
    assert ours.bit_generator.jumped().state == numpys.bit_generator.jumped().state
    assert ours.bit_generator.seed_seq.n_children_spawned == 3
    for twin in (pickle.loads(pickle.dumps(ours)), copy.deepcopy(ours)):
        assert twin.random() == numpys.random()
        numpys = np.random.Generator(np.random.PCG64())
        numpys.bit_generator.state = ours.bit_generator.state


def test_fresh_draws_come_from_one_generator_reseeded_in_a_forked_child():
    """rng=None draws from the process's generator (a SeedSequence from os.urandom per call cost 17 us, more
    than a Gain's whole call); a forked child seeds its own, so workers forked from one parent never share
    their "fresh" draws."""
    import multiprocessing as mp
    from noisegen._core.rng import as_generator, resolve_key

    assert as_generator(None) is as_generator(None)
    assert resolve_key(None) != resolve_key(None)
    if "fork" not in mp.get_all_start_methods():
        return
    resolve_key(None)  # the parent's generator made before the fork
    with mp.get_context("fork").Pool(2) as pool:
        keys = pool.map(_fresh_key, range(4), chunksize=1)
    assert len(set(keys)) == 4


def _fresh_key(_):
    import time
    from noisegen._core.rng import resolve_key

    time.sleep(0.05)  # (the tasks spread over both workers: each draws twice)
    return resolve_key(None)
