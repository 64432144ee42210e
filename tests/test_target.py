"""Paired targets: ``return_target=`` on pipelines, ``target=`` on the stream.

The target is the input with every shared change (gain, level, speed, pitch,
stretch, shift, polarity) applied identically and no degradation; with
linear degradations, augmented - target is exactly what they added.
"""

import numpy as np
import pytest

import noisegen
from noisegen import AugmentStream, ParameterError
from noisegen import transforms as T
from noisegen.effects import early_rir, pitch_shift, time_stretch
from noisegen.transforms.base import _REGISTRY, Transform

SR = 16000
SHARED = {"Gain", "SpeedPerturb", "Shift", "PolarityInversion", "Normalize", "TimeStretch", "PitchShift"}


def _speech(n=6000, channels=None, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    y = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(n)
    if channels:
        y = np.stack([y * (1 - 0.2 * c) for c in range(channels)])
    return y.astype(dtype)


def _noise(seed=1):
    return [np.random.default_rng(seed).standard_normal(20000).astype(np.float32)]


def _rirs():
    rng = np.random.default_rng(5)
    tail = 0.2 * rng.standard_normal(4000) * np.exp(-np.arange(4000) / 800.0)  # below the direct path
    return [np.r_[np.zeros(37), 1.0, tail].astype(np.float32)]


def _degradations():
    return [T.AddBackgroundNoise(_noise(), min_snr_db=0, max_snr_db=15, p=1.0),
            T.ApplyImpulseResponse(_rirs(), p=1.0)]


def _shared():
    return [T.SpeedPerturb(factors=(0.9, 1.1), p=1.0), T.Gain(p=1.0)]


def _sub(params, indices):
    """A Compose's params restricted to the children at ``indices`` (replayed by a Compose of those)."""
    return {"name": "Compose", "applied": True, "indices": list(range(len(indices))),
            "transforms": [params["transforms"][i] for i in indices]}


def test_every_transform_says_what_it_is():
    for name, cls in _REGISTRY.items():
        # (noisegen's own: other test files register transforms of their own, which need not say)
        if issubclass(cls, T.compose._Composition) or name.startswith("_") or not cls.__module__.startswith("noisegen."):
            continue
        declared = next(k for k in cls.__mro__ if "degrades" in vars(k))
        assert declared is not Transform, f"{name} does not say whether it degrades"
        assert cls.degrades is (name not in SHARED), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 2])
def test_clean_target_is_the_shared_changes_alone(dtype, channels):
    # the case: noise + reverb + speed + gain; target = speed + gain on the same key
    y = _speech(channels=channels, dtype=dtype)
    full = T.Compose(_degradations() + _shared())
    for seed in range(6):
        noisy, target = full(y, sample_rate=SR, rng=seed, return_target="clean")
        params = full.last_params
        assert target.shape == noisy.shape and target.dtype == noisy.dtype == dtype
        np.testing.assert_array_equal(noisy, full(y, sample_rate=SR, rng=seed))  # draws unchanged
        alone = T.Compose(_shared()).apply_params(y, _sub(params, [2, 3]), sample_rate=SR)
        np.testing.assert_allclose(target, alone, atol=1e-6, rtol=0)
        # samples - target: the noise + reverberation difference, through speed and gain
        degraded = T.Compose(_degradations()).apply_params(y, _sub(params, [0, 1]), sample_rate=SR)
        added = T.Compose(_shared()).apply_params(degraded - y, _sub(params, [2, 3]), sample_rate=SR)
        np.testing.assert_allclose(noisy - target, added, atol=1e-5 if dtype == np.float32 else 1e-12, rtol=0)


SIGNAL_DEPENDENT = [
    T.TimeStretch(min_rate=0.8, max_rate=1.25, p=1.0),
    T.PitchShift(min_semitones=-3, max_semitones=3, p=1.0),
    T.Normalize(mode="rms", min_target_db=-25, max_target_db=-15, p=1.0),
    T.Shift(min_shift=-0.3, max_shift=0.3, p=1.0),
    T.PolarityInversion(p=1.0),
]


@pytest.mark.parametrize("shared", SIGNAL_DEPENDENT, ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("channels", [None, 2])
def test_linear_degradations_leave_exactly_what_they_added(shared, channels):
    # Splice points and levels come from the augmented signal, so the target stays aligned
    # and the difference is the degradation carried through the shared change.
    y = _speech(channels=channels, dtype=np.float64)
    degrade = T.Compose([T.AddColoredNoise(min_snr_db=0, max_snr_db=10, p=1.0),
                         T.ApplyImpulseResponse(_rirs(), p=1.0), T.LowPassFilter(p=1.0)])
    full = T.Compose([degrade, shared])
    for seed in range(4):
        noisy, target = full(y, sample_rate=SR, rng=seed, return_target="clean")
        p = full.last_params["transforms"]
        mid = degrade.apply_params(y, p[0], sample_rate=SR)
        assert np.abs(target - noisy).max() > 1e-3  # the degradations really are missing from it
        diff = noisy - target
        np.testing.assert_allclose(diff, _replay_shared(shared, mid, mid - y, p[1]), atol=1e-9, rtol=0)


def _replay_shared(t, guide, x, params):
    """``t``'s change with ``params`` applied to ``x`` as it was applied to ``guide``."""
    return t._target_step(guide, t.apply_params(guide, params, sample_rate=SR), x, SR, t._check_params(params, SR),
                          "clean")


def test_nested_compositions_and_replay():
    pipe = T.Compose([
        T.OneOf([T.TimeStretch(p=1.0), T.PitchShift(p=1.0), T.SpeedPerturb(p=1.0)]),
        T.SomeOf([T.AddBackgroundNoise(_noise(), p=1.0), T.ApplyImpulseResponse(_rirs(), p=1.0),
                  T.Clip(p=1.0), T.TimeMask(p=1.0)], k=(0, None)),
        T.Compose([T.Gain(p=0.5), T.Shift(p=0.5)], shuffle=True),
    ])
    y = _speech(8000)
    for seed in range(12):
        noisy, target = pipe(y, sample_rate=SR, rng=seed, return_target="clean")
        params = pipe.last_params
        np.testing.assert_array_equal(noisy, pipe(y, sample_rate=SR, rng=seed))
        again, target2 = pipe.apply_params(y, params, sample_rate=SR, return_target="clean")
        np.testing.assert_array_equal(again, noisy)
        np.testing.assert_array_equal(target2, target)
        assert target.shape == noisy.shape
        # the degradations in the middle do not reach the target: it equals the same
        # pipeline with the SomeOf's draws replaced by "none applied"
        quiet = dict(params, transforms=[params["transforms"][0], {**params["transforms"][1], "indices": [],
                                                                    "transforms": []}, params["transforms"][2]])
        clean_only = pipe.apply_params(y, quiet, sample_rate=SR)
        if params["transforms"][0]["indices"] != [0] and params["transforms"][0]["indices"] != [1]:
            np.testing.assert_allclose(target, clean_only, atol=1e-6, rtol=0)  # no splice points to share


def test_nonlinear_stages_and_level_from_the_augmented_signal():
    y = _speech(4000, dtype=np.float64)
    pipe = T.Compose([T.AddColoredNoise(min_snr_db=0, max_snr_db=0, p=1.0),
                      T.Normalize(mode="peak", min_target_db=-1, max_target_db=-1, p=1.0),
                      T.Clip(p=1.0)])
    noisy, target = pipe(y, sample_rate=SR, rng=0, return_target="clean")
    mid = pipe.transforms[0].apply_params(y, pipe.last_params["transforms"][0], sample_rate=SR)
    gain = 10 ** (-1 / 20) / np.abs(mid).max()  # Normalize's factor, set on the noisy signal
    np.testing.assert_allclose(target, y * gain, rtol=1e-12)


@pytest.mark.parametrize("keep_tail", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_early_target_keeps_50_ms_after_the_direct_path(keep_tail, dtype):
    y = _speech(5000, dtype=dtype)
    rir = _rirs()[0]
    t = T.Compose([T.ApplyImpulseResponse([rir], keep_tail=keep_tail, trim_db=None, p=1.0), T.Gain(p=1.0)])
    noisy, early = t(y, sample_rate=SR, rng=3, return_target="early")
    _, clean = t(y, sample_rate=SR, rng=3, return_target="clean")
    gain = 10 ** (t.last_params["transforms"][1]["gain_db"] / 20)
    direct = 37
    h = rir.astype(np.float64) / np.sqrt(np.sum(rir.astype(np.float64) ** 2))  # the full response's scale
    want = np.convolve(y.astype(np.float64), h[: direct + 1 + int(0.05 * SR)])[: noisy.shape[-1]] * gain
    want = np.pad(want, (0, noisy.shape[-1] - want.shape[-1]))
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(early, want, atol=tol, rtol=0)
    assert clean.shape == noisy.shape
    if keep_tail:
        assert noisy.shape[-1] == y.shape[-1] + rir.shape[-1] - 1
        np.testing.assert_array_equal(clean[y.shape[-1]:], 0)  # the clean target padded to the tail's end
    # a response with nothing after 50 ms: the early target is the reverberant signal itself
    short = [np.r_[np.zeros(5), 1.0, 0.5 * np.ones(100)]]
    r = T.ApplyImpulseResponse(short, p=1.0)
    noisy, early = r(y, sample_rate=SR, rng=0, return_target="early")
    np.testing.assert_allclose(early, noisy, atol=tol, rtol=0)


def test_early_target_with_simulated_rooms():
    y = _speech(4000)
    t = T.RoomSimulator(min_rt60_s=0.5, max_rt60_s=0.5, p=1.0)
    noisy, early = t(y, sample_rate=SR, rng=2, return_target="early")
    _, clean = t(y, sample_rate=SR, rng=2, return_target="clean")
    np.testing.assert_array_equal(clean, y)
    # the early part has less energy than the whole reverberation, more than nothing
    assert 0 < np.sum((early - noisy) ** 2) and np.sum(early ** 2) > 0.1 * np.sum(noisy ** 2)


@pytest.mark.parametrize("make", [lambda: T.RoomSimulator(p=1.0), lambda: T.ApplyImpulseResponse("simulated", p=1.0)])
def test_early_target_of_a_simulated_room_starts_at_its_direct_sound(make):
    """The early part ran 50 ms from the strongest sample, which two reflections arriving together (or
    the dense early part) put above the direct sound in 15 % of the default rooms at 8 kHz, up to 41 ms
    after it: such a target held up to 91 ms of reverberation."""
    sr, y, t = 8000, _speech(1200, dtype=np.float64), make()
    late = 0
    for seed in range(40):
        noisy, early = t(y, sample_rate=sr, rng=seed, return_target="early")
        p = t.last_params
        h = noisegen.simulate_rir(sample_rate=sr, room_dim_m=p["room_dim_m"], source_m=p["source_m"],
                                  mic_m=p["mic_m"], rt60_s=p["rt60_s"], rng=p["seed"], dtype=np.float64)[0]
        direct = round(np.linalg.norm(np.subtract(p["mic_m"], p["source_m"])) / 343.0 * sr)
        late += int(np.argmax(np.abs(h))) > direct + 2
        want = np.convolve(y, h[: direct + 1 + int(0.05 * sr)] / np.sqrt(np.sum(h**2)))[: y.shape[-1]]
        np.testing.assert_allclose(early, want, atol=1e-10, rtol=0)
    assert late > 0  # the case this guards is among the draws
    with pytest.raises(ParameterError, match="direct_s"):
        early_rir(np.ones(4), sample_rate=sr, direct_s=-1.0)


def test_early_rir():
    h = np.r_[np.zeros(10), 2.0, np.ones(30)]
    e = early_rir(h, sample_rate=100, early_s=0.05, normalize="peak")
    np.testing.assert_array_equal(e, [np.r_[np.zeros(10), 1.0, 0.5 * np.ones(5)]])
    assert early_rir(h, sample_rate=100, early_s=0.0).shape == (1, 11)
    with pytest.raises(ParameterError, match="early_s"):
        early_rir(h, sample_rate=100, early_s=-1.0)


@pytest.mark.parametrize("shape", [(0,), (2, 0)])
def test_empty_input(shape):
    y = np.zeros(shape, np.float32)
    out, target = T.Compose(_degradations() + _shared())(y, sample_rate=SR, rng=0, return_target="clean")
    assert out.shape == target.shape == shape


def test_bad_modes():
    with pytest.raises(ParameterError, match="return_target"):
        T.Gain(p=1.0)(np.ones(10), sample_rate=SR, return_target="dirty")
    with pytest.raises(ParameterError, match="return_target"):
        T.Gain(p=1.0).apply_params(np.ones(10), {"name": "Gain", "applied": False}, sample_rate=SR,
                                   return_target=1)
    with pytest.raises(ParameterError, match="target"):
        AugmentStream([np.ones(100)], None, sample_rate=SR, target="noisy")
    with pytest.raises(ParameterError, match="device='cpu'"):
        AugmentStream([np.ones(100)], T.Gain(p=1.0), sample_rate=SR, target="clean", device="cuda")


# -- guides of the time-scale effects ---------------------------------------------------------


@pytest.mark.parametrize("op", ["stretch_up", "stretch_down", "pitch_up", "pitch_down"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 3])
def test_guided_time_scale_is_linear_and_matches_its_guide(op, dtype, channels):
    clean = _speech(5001, channels=channels, dtype=dtype)
    noise = (0.1 * np.random.default_rng(7).standard_normal(clean.shape)).astype(dtype)
    noisy = clean + noise
    f = {"stretch_up": lambda x, **k: time_stretch(x, rate=1.3, sample_rate=SR, **k),
         "stretch_down": lambda x, **k: time_stretch(x, rate=0.77, sample_rate=SR, **k),
         "pitch_up": lambda x, **k: pitch_shift(x, n_steps=2.6, sample_rate=SR, **k),
         "pitch_down": lambda x, **k: pitch_shift(x, n_steps=-3.3, sample_rate=SR, **k)}[op]
    np.testing.assert_array_equal(f(noisy, guide=noisy), f(noisy))
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(f(noisy), f(clean, guide=noisy) + f(noise, guide=noisy), atol=tol, rtol=0)
    # a guide far from float range's middle splices where it does at unit scale
    np.testing.assert_allclose(f(clean, guide=noisy * 2.0**80), f(clean, guide=noisy), atol=tol, rtol=0)
    # a float64 guide beyond float32's range (or below it): the same splices (scaled by a power of two: any
    # other scale rounds the guide otherwise, and a near tie of two lags may then go the other way)
    for scale in (2.0**1000, 2.0**-1000):
        np.testing.assert_allclose(f(clean, guide=noisy.astype(np.float64) * scale), f(clean, guide=noisy),
                                   atol=tol, rtol=0)


def test_guide_checks():
    y = np.ones(1000)
    with pytest.raises(ParameterError, match="guide"):
        time_stretch(y, rate=1.2, sample_rate=SR, guide=np.ones(999))
    with pytest.raises(ParameterError, match="guide"):
        time_stretch(y, rate=1.2, sample_rate=SR, method="phase_vocoder", guide=y)
    with pytest.raises(ParameterError, match="guide"):
        pitch_shift(y, n_steps=1, sample_rate=SR, guide=np.full(1000, np.nan))


# -- the stream ---------------------------------------------------------------------------------


def _items():
    return [_speech(n, seed=i) for i, n in enumerate([7000, 3000, 12345, 16000])]


@pytest.mark.parametrize("chunk_s", [None, 0.25, 0.4])
@pytest.mark.parametrize("mode", ["clean", "early"])
def test_stream_targets_align_with_chunks(chunk_s, mode):
    pipe = T.Compose(_degradations() + _shared())
    kw = dict(sample_rate=SR, chunk_s=chunk_s, rng=9, epochs=2)
    plain = list(AugmentStream(_items(), pipe, **kw))
    paired = list(AugmentStream(_items(), pipe, target=mode, **kw))
    assert len(plain) == len(paired)
    for a, b in zip(plain, paired):
        np.testing.assert_array_equal(a.samples, b.samples)  # the augmented chunks are unchanged
        assert a.target is None and b.target.shape == b.samples.shape and b.target.dtype == np.float32
        assert (b.source, b.start, b.length, b.params) == (a.source, a.start, a.length, a.params)
        np.testing.assert_array_equal(b.target[b.length:], 0)  # padded as the samples are
    # each chunk's target is the matching piece of the item's target, computed directly
    for c in paired:
        y = _items()[c.item]
        _, target = pipe.apply_params(y, c.params, sample_rate=SR, return_target=mode)
        np.testing.assert_array_equal(c.target[: c.length], target[c.start:c.start + c.length].astype(np.float32))


def test_stream_without_pipeline_and_batches():
    stream = AugmentStream(_items(), None, sample_rate=SR, chunk_s=0.5, rng=0, target="clean")
    for c in stream:
        np.testing.assert_array_equal(c.target, c.samples)
    batches = list(AugmentStream(_items(), T.Compose(_degradations()), sample_rate=SR, chunk_s=0.5, rng=0,
                                 target="clean").batches(4))
    for b in batches:
        assert b.target.shape == b.samples.shape
        for i, c in enumerate(b.chunks):
            np.testing.assert_array_equal(b.target[i, : c.target.shape[-1]], c.target)
    assert AugmentStream(_items(), None, sample_rate=SR, chunk_s=0.5).batches(2).__next__().target is None


def test_collate_refuses_mixed_targets():
    c = list(AugmentStream(_items()[:2], None, sample_rate=SR, rng=0, target="clean", shuffle=False))
    c[1].target = None
    with pytest.raises(ParameterError, match="target"):
        noisegen.data.batch.collate(c)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_carries_targets(num_workers):
    torch = pytest.importorskip("torch")
    from noisegen.torch import AugmentDataset, collate

    pipe = T.Compose(_degradations() + _shared())
    stream = AugmentStream(_items(), pipe, sample_rate=SR, chunk_s=0.3, rng=4, target="clean")
    loader = torch.utils.data.DataLoader(AugmentDataset(stream, batch_size=3), batch_size=None,
                                         num_workers=num_workers)
    seen = 0
    for batch in loader:
        assert batch["target"].shape == batch["samples"].shape
        for i, (item, start, params) in enumerate(zip(batch["items"], batch["starts"], batch["params"])):
            noisy, target = pipe.apply_params(_items()[item], params, sample_rate=SR, return_target="clean")
            n = int(batch["lengths"][i])
            np.testing.assert_array_equal(batch["samples"][i, :n].numpy(), noisy[start:start + n])
            np.testing.assert_array_equal(batch["target"][i, :n].numpy(), target[start:start + n])
            seen += 1
    assert seen == sum(1 for _ in AugmentStream(_items(), pipe, sample_rate=SR, chunk_s=0.3, rng=4))
    # a DataLoader's own batching collates chunks with the torch collate
    loader = torch.utils.data.DataLoader(AugmentDataset(stream), batch_size=4, collate_fn=collate,
                                         num_workers=num_workers)
    assert all(b["target"].shape == b["samples"].shape for b in loader)
