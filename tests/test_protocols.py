"""Python protocols over the public classes: the sequence protocol (len, indexing, negative
indices, slices, iteration, IndexError past the end), pickle and deepcopy round trips (what
DataLoader workers started with ``spawn`` do) and argument types users pass."""

from __future__ import annotations

import numpy as np
import pytest

from noisegen import NoiseBank, ParameterError
from noisegen import transforms as T

SR = 8000


def _banks(data_dir, tmp_path):
    arrays = [np.hanning(50), np.ones(7), np.linspace(-1, 1, 30)]
    return {
        "folder_at": NoiseBank(data_dir / "noise").at(SR),
        "folder_rate": NoiseBank(data_dir / "noise", sample_rate=SR),
        "paths_str": NoiseBank([str(p) for p in sorted((data_dir / "noise").iterdir())], sample_rate=SR),
        "memmapped": NoiseBank(data_dir / "rir", sample_rate=SR, cache_path=tmp_path / "rir.npy"),
        "arrays": NoiseBank.from_arrays(arrays, sample_rate=SR),
        "one_array": NoiseBank.from_arrays([np.ones(5)], sample_rate=SR),
        "arrays_at": NoiseBank(arrays, source_sample_rate=16000).at(SR),
    }


SEQUENCES = ["folder_at", "folder_rate", "paths_str", "memmapped", "arrays", "one_array", "arrays_at",
             "Compose", "OneOf", "SomeOf"]


def _sequence(name, data_dir, tmp_path):
    if name in ("Compose", "OneOf", "SomeOf"):
        children = [T.Gain(p=1.0), T.Clip(p=1.0), T.TimeMask(p=1.0)]
        return getattr(T, name)(children, **({"k": 1} if name == "SomeOf" else {}))
    return _banks(data_dir, tmp_path)[name]


def _same(a, b):
    return np.array_equal(a, b) if isinstance(a, np.ndarray) else a is b


@pytest.mark.parametrize("name", SEQUENCES)
def test_sequence_protocol(name, data_dir, tmp_path):
    seq = _sequence(name, data_dir, tmp_path)
    n = len(seq)
    assert n >= 1 and bool(seq)
    items = list(seq)  # iteration ends at the end (not with a ParameterError)
    assert len(items) == n and len([x for x in seq]) == n
    for i in range(-n, n):
        assert _same(seq[i], items[i])
    assert all(_same(a, b) for a, b in zip(reversed(seq), items[::-1]))
    for bad in (n, n + 1, -n - 1, 10**12):
        with pytest.raises(IndexError):
            seq[bad]
    for s in (slice(None), slice(1, None), slice(None, -1), slice(None, None, -1), slice(n, None), slice(0, 100, 2)):
        got = seq[s]
        assert len(got) == len(items[s]) and all(_same(a, b) for a, b in zip(got, items[s]))
    if isinstance(seq, NoiseBank):  # numpy integers index; an out-of-range index is both errors
        assert _same(seq[np.int64(n - 1)], items[-1]) and _same(seq[np.int32(-1)], items[-1])
        with pytest.raises(ParameterError, match=rf"index must be an integer in \[{-n}, {n - 1}\], got {n}"):
            seq[n]
        for bad in (True, "0", None, 0.5):
            with pytest.raises(ParameterError, match="index must be an integer") as exc:
                seq[bad]
            assert not isinstance(exc.value, IndexError)
        assert all(not y.flags.writeable for y in seq)


def test_a_bank_loaded_per_rate_iterates_only_once_loaded(data_dir):
    bank = NoiseBank(data_dir / "noise")
    assert len(bank) == 3
    with pytest.raises(ParameterError, match=r"bank.at\(sample_rate\)"):
        iter(bank)
    assert len(list(bank.at(SR))) == 3


STREAMS = {
    "chunks": {},
    "whole_items": {"chunk_s": None},
    "with_target": {"target": "clean"},
    "stereo": {"mono": False},
}


@pytest.mark.parametrize("case", list(STREAMS))
def test_chunks_and_batches_compare_by_value(case):
    import copy
    import pickle

    from noisegen import AugmentStream

    rows = np.random.default_rng(0).standard_normal((2, 2500)).astype(np.float32) * 0.1
    items = [rows, rows[:, :1200], rows[:, ::-1]]  # (channels, samples); a negative stride too
    kwargs = {"sample_rate": 1000, "chunk_s": 1.0, "rng": 5, "mono": True, **STREAMS[case]}
    pipe = T.Compose([T.Gain(p=1.0), T.AddColoredNoise(p=0.5)])
    stream = AugmentStream(items, pipe, **kwargs)
    first, again = list(stream), list(AugmentStream(items, pipe, **kwargs))
    assert len(first) >= 3 and first == again  # dataclass equality compared arrays as a tuple: ValueError
    for c in first:
        assert c == copy.deepcopy(c) == pickle.loads(pickle.dumps(c))
        changed = copy.deepcopy(c)
        changed.samples[..., 0] += 1.0
        assert changed != c and c != copy.copy(c).__class__(**{**vars(c), "samples": c.samples.astype(np.float64)})
        with pytest.raises(TypeError):
            hash(c)
    assert all((a == b) == (i == j) for i, a in enumerate(first) for j, b in enumerate(first))
    assert first[0] != "chunk" and first[0] != None  # noqa: E711 - other types compare unequal, no error
    batches = list(AugmentStream(items, pipe, **kwargs).batches(2))
    assert batches == list(AugmentStream(items, pipe, **kwargs).batches(2))
    for b in batches:
        assert b == copy.deepcopy(b) == pickle.loads(pickle.dumps(b))
        assert b != copy.copy(b).__class__(**{**vars(b), "lengths": b.lengths + 1})
    assert batches[0] != batches[1]


def _calls():
    """``(function, positional args, keyword args)`` of the functional API, every keyword a number."""
    import noisegen as n

    rng = np.random.default_rng(0)
    y = (rng.standard_normal(2000) * 0.1).astype(np.float32)
    rir = (rng.standard_normal(400) * np.exp(-np.arange(400) / 50)).astype(np.float32)
    return [
        (n.mix_at_snr, (y, y[::-1].copy()), dict(snr_db=5.0, noise_offset=7, sample_rate=SR)),
        (n.add_background_noises, (y, [y]), dict(snr_db=[5.0], sample_rate=SR)),  # snr_db: one per noise
        (n.add_short_noises, (y, [y[:300]]), dict(sample_rate=SR, min_snr_db=1.0, max_snr_db=3.0,
                                                   min_time_between_s=0.05, max_time_between_s=0.1,
                                                   min_fade_s=0.001, max_fade_s=0.002, rng=3)),
        (n.gain, (y,), dict(gain_db=-3.0)),
        (n.clip, (y,), dict(threshold=0.5)),
        (n.clip, (y,), dict(percentile=10)),
        (n.bitcrush, (y,), dict(bit_depth=6)),
        (n.time_mask, (y,), dict(start_s=0.01, duration_s=0.05, sample_rate=SR, fade_s=0.001)),
        (n.lowpass, (y,), dict(cutoff_hz=2000, sample_rate=SR, order=4)),
        (n.bandpass, (y,), dict(low_hz=500, high_hz=2000, sample_rate=SR, order=2)),
        (n.peaking_eq, (y,), dict(center_hz=1000, gain_db=6, q=2, sample_rate=SR)),
        (n.high_shelf, (y,), dict(cutoff_hz=3000, gain_db=6, sample_rate=SR)),
        (n.early_rir, (rir,), dict(sample_rate=SR, early_s=0.01)),
        (n.resample, (y,), dict(orig_sample_rate=SR, target_sample_rate=11025)),
        (n.codec, (y,), dict(sample_rate=SR, format="mulaw")),
        (n.packet_loss, (y,), dict(sample_rate=SR, loss_rate=0.3, frame_ms=10.0, mean_burst_frames=2.0,
                                   fade_ms=1.0, rng=2)),
        (n.speed, (y,), dict(factor=1.1, sample_rate=SR)),
        (n.time_stretch, (y,), dict(rate=0.9, sample_rate=SR)),
        (n.pitch_shift, (y,), dict(sample_rate=SR, n_steps=2, bins_per_octave=24)),
        (n.white_noise, (100,), dict(rng=3, n_channels=2)),
        (n.colored_noise, (100,), dict(beta=1.0, rng=3, n_channels=2, sample_rate=SR)),
        (n.tone, (), dict(freq_hz=440.0, sample_rate=SR, duration_s=0.01, amplitude=0.5, phase=0.1)),
        (n.hum, (), dict(sample_rate=SR, n_samples=100, mains_hz=60)),
        (n.simulate_rir, (), dict(sample_rate=SR, room_dim_m=(5, 4, 3), source_m=(1, 1, 1.5), mic_m=(3, 2, 1.5),
                                  rt60_s=0.3, max_order=3, rng=1)),
    ]


def test_numeric_arguments_take_numpy_scalars_and_refuse_bools_strings_and_lists():
    """Every numeric keyword of the functional API: a NumPy scalar of the same value gives the same
    output; True, the value as a string or in a list is a ParameterError naming the argument (also
    an argument the call does not use, such as mix_at_snr's sample_rate with reference="rms")."""
    checked = 0
    for f, args, kwargs in _calls():
        ref = f(*args, **kwargs)
        for key, value in kwargs.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            same = [np.float64(value)] + ([np.int64(value), np.int32(value)] if isinstance(value, int) else [])
            for v in same if key != "rng" else same[1:]:
                np.testing.assert_array_equal(f(*args, **{**kwargs, key: v}), ref, err_msg=f"{f.__name__} {key}={v!r}")
            for v in (True, str(value), [value]):
                with pytest.raises(ParameterError, match=key):
                    f(*args, **{**kwargs, key: v})
                    pytest.fail(f"{f.__name__}({key}={v!r}) was accepted")
                checked += 1
    assert checked > 150


def _transforms(d):
    """Every transform class, with parameters away from their defaults (p < 1 so some calls skip)."""
    return {
        "AddBackgroundNoise": T.AddBackgroundNoise(d / "noise", min_snr_db=1, max_snr_db=9, reference="active",
                                                   noise_transform=T.Gain(p=1.0), p=0.9),
        "AddBackgroundNoise_bank": T.AddBackgroundNoise(NoiseBank(d / "noise", sample_rate=SR, min_duration_s=3.5),
                                                        noise_level="absolute", p=0.9),
        "AddBackgroundNoise_paths": T.AddBackgroundNoise([d / "noise" / "typing_excerpt.wav", str(d / "rir")], p=0.9),
        "AddColoredNoise": T.AddColoredNoise(min_beta=-1, max_beta=1.5, min_snr_db=2, max_snr_db=5, min_freq_hz=50,
                                             p=0.9),
        "AddShortNoises": T.AddShortNoises(d / "noise", min_snr_db=1, max_snr_db=5, min_time_between_s=0.05,
                                           max_time_between_s=0.1, min_fade_s=0.01, max_fade_s=0.02, p=0.9),
        "ApplyImpulseResponse": T.ApplyImpulseResponse(d / "rir", keep_tail=True, trim_db=40.0, p=0.9),
        "ApplyImpulseResponse_simulated": T.ApplyImpulseResponse("simulated", p=0.9),
        "RoomSimulator": T.RoomSimulator(min_rt60_s=0.3, max_rt60_s=0.4, min_distance_m=1.0, max_distance_m=2.0,
                                         p=0.9),
        "TimeStretch": T.TimeStretch(min_rate=0.9, max_rate=1.1, p=0.9),
        "PitchShift": T.PitchShift(min_semitones=-2, max_semitones=2, p=0.9),
        "SpeedPerturb": T.SpeedPerturb(factors=(0.95, 1.05), p=0.9),
        "Gain": T.Gain(min_gain_db=-3, max_gain_db=2, p=0.9),
        "LowPassFilter": T.LowPassFilter(min_cutoff_hz=1000, max_cutoff_hz=3000, order=2, p=0.9),
        "HighPassFilter": T.HighPassFilter(min_cutoff_hz=100, max_cutoff_hz=300, order=6, p=0.9),
        "BandPassFilter": T.BandPassFilter(min_center_hz=500, max_center_hz=1000, min_bandwidth_fraction=0.7,
                                           max_bandwidth_fraction=1.2, order=2, p=0.9),
        "BandStopFilter": T.BandStopFilter(min_center_hz=500, max_center_hz=1000, order=6, p=0.9),
        "PeakingEQ": T.PeakingEQ(min_center_hz=300, max_center_hz=900, min_gain_db=-3, max_gain_db=3, min_q=1,
                                 max_q=2, p=0.9),
        "Clip": T.Clip(min_percentile=5, max_percentile=10, p=0.9),
        "TimeMask": T.TimeMask(min_fraction=0.1, max_fraction=0.3, fade_s=0.01, p=0.9),
        "Codec": T.Codec(formats=("mulaw", "gsm"), min_bitrate_kbps=16, max_bitrate_kbps=32, p=0.9),
        "PacketLoss": T.PacketLoss(min_loss_rate=0.1, max_loss_rate=0.3, frame_ms=10.0, concealment="repeat",
                                   mean_burst_frames=2.0, fade_ms=1.0, p=0.9),
        "Shift": T.Shift(min_shift=-100, max_shift=200, shift_unit="samples", rollover=False, fade_s=0.0, p=0.9),
        "PolarityInversion": T.PolarityInversion(p=0.7),
        "Normalize": T.Normalize(mode="rms", min_target_db=-20, max_target_db=-10, p=0.9),
        "Resample": T.Resample(min_sample_rate=4000, max_sample_rate=6000, p=0.9),
        "BitCrush": T.BitCrush(min_bit_depth=4, max_bit_depth=8, p=0.9),
        "LowShelf": T.LowShelf(min_cutoff_hz=100, max_cutoff_hz=200, min_gain_db=-5, max_gain_db=5, p=0.9),
        "HighShelf": T.HighShelf(min_cutoff_hz=2000, max_cutoff_hz=3000, min_gain_db=-5, max_gain_db=5, p=0.9),
        "Compose": T.Compose([T.Gain(p=1.0), T.TimeMask(p=0.5)], shuffle=True, p=0.9),
        "OneOf": T.OneOf([T.Gain(p=1.0), T.Compose([T.Clip(p=1.0)])], weights=[1, 3], p=0.9),
        "SomeOf": T.SomeOf([T.Gain(p=1.0), T.Clip(p=1.0), T.TimeMask(p=1.0)], k=(1, None), p=0.9),
    }


#: Transforms holding in-memory arrays: no dict (a ParameterError), but a short repr and a pickle.
def _array_transforms():
    # (a long second array: repr must not dump it; decaying, as an RIR array must not be one value throughout)
    noise = [np.hanning(3000) * np.sin(np.arange(3000)), np.exp(-np.arange(200_000) / 20_000) * 0.1]
    return {
        "AddBackgroundNoise_arrays": T.AddBackgroundNoise(noise, noise_transform=T.Gain(p=1.0), p=0.9),
        "AddShortNoises_arrays": T.AddShortNoises(noise[:1], min_time_between_s=0.05, max_time_between_s=0.1, p=0.9),
        "ApplyImpulseResponse_arrays": T.ApplyImpulseResponse(noise, rir_sample_rate=16000, p=0.9),
        "nested_arrays": T.Compose([T.Gain(p=0.5), T.OneOf([T.AddBackgroundNoise(noise, p=1.0), T.Clip(p=1.0)])]),
    }


def test_every_transform_class_is_in_the_protocol_grid(data_dir):
    covered = {name.split("_")[0] for name in _transforms(data_dir)}
    assert covered == {n for n in T.__all__ if isinstance(getattr(T, n), type)} - {"Transform"}


@pytest.mark.parametrize("array_sources", [False, True], ids=["files", "arrays"])
def test_transforms_survive_pickle_deepcopy_dicts_and_repr(array_sources, data_dir):
    """A DataLoader worker started with spawn gets a pickled pipeline; a config file gets to_dict():
    each copy gives the same outputs for the same rng as the original, before and after it ran,
    and repr never fails or dumps samples (a bank of arrays used to make repr raise)."""
    import copy
    import json
    import pickle

    y = (np.random.default_rng(0).standard_normal((2, 1600)) * 0.1).astype(np.float32)
    grid = _array_transforms() if array_sources else _transforms(data_dir)
    for name, t in grid.items():
        text = repr(t)
        assert text.startswith(type(t).__name__ + "(") and len(text) < 1500, (name, text)
        clones = [pickle.loads(pickle.dumps(t)), copy.deepcopy(t)]  # before the first call (nothing loaded)
        ref = [t(y, sample_rate=SR, rng=seed) for seed in range(3)]
        clones += [pickle.loads(pickle.dumps(t)), copy.deepcopy(t)]  # loaded, with last_params
        if array_sources:
            with pytest.raises(ParameterError, match="cannot be written to a dict"):
                t.to_dict()
        else:
            config = json.loads(json.dumps(t.to_dict()))
            rebuilt = T.Transform.from_dict(config)
            assert rebuilt.to_dict() == config and repr(rebuilt) == repr(T.Transform.from_dict(config))
            clones.append(rebuilt)
        for clone in clones:
            for seed in range(3):
                np.testing.assert_array_equal(clone(y, sample_rate=SR, rng=seed), ref[seed], err_msg=name)
        assert clones[0].last_params == t.last_params


def test_a_bank_that_drops_short_files_per_rate_is_not_written_as_its_folder(data_dir):
    """Its folder would come back without the filter, so the replay would draw other noises."""
    lazy = NoiseBank(data_dir / "noise", min_duration_s=3.5)
    assert len(lazy.at(SR)) < len(lazy)
    for t in (T.AddBackgroundNoise(lazy, p=1.0), T.AddShortNoises(lazy, p=1.0), T.ApplyImpulseResponse(lazy, p=1.0)):
        with pytest.raises(ParameterError, match="min_duration_s=3.5 cannot be written"):
            t.to_dict()
        assert "3 sources" in repr(t)


SEQUENCE_ARGUMENTS = [  # (class, argument, a valid value, other arguments)
    (T.SpeedPerturb, "factors", [0.9, 1.1], {}),
    (T.Codec, "formats", ["mulaw", "gsm"], {}),
    (T.OneOf, "weights", [1.0, 3.0], {"transforms": [T.Gain(), T.Clip()]}),
    (T.RoomSimulator, "min_room_dim_m", [3.0, 3.5, 2.5], {}),
    (T.RoomSimulator, "max_room_dim_m", [9.0, 8.0, 4.0], {}),
]


@pytest.mark.parametrize("cls, name, value, others", SEQUENCE_ARGUMENTS, ids=lambda v: getattr(v, "__name__", None))
def test_list_arguments_take_tuples_and_arrays_alike(cls, name, value, others):
    ref = cls(**others, **{name: value}).to_dict()
    for same in (tuple(value), np.array(value), list(np.array(value))):  # the last: NumPy scalars
        assert cls(**others, **{name: same}).to_dict() == ref, (name, same)
    for bad in (value[0], str(value[0]), np.array(value[0]), {value[0]: 1}):
        with pytest.raises(ParameterError, match=name):
            cls(**others, **{name: bad})
            pytest.fail(f"{cls.__name__}({name}={bad!r}) was accepted")


def test_sequence_arguments_refuse_scalars_and_0d_arrays_with_a_parameter_error():
    """A 0-d array has __len__ but no length: these raised TypeError from len() or iter()."""
    calls = {
        "arrays": lambda v: NoiseBank.from_arrays(v, sample_rate=SR),
        "room_dim_m": lambda v: T.RoomSimulator(p=1.0).apply_params(
            np.ones(800), {"name": "RoomSimulator", "applied": True, "room_dim_m": v, "source_m": [1, 1, 1],
                           "mic_m": [2, 2, 1], "rt60_s": 0.3, "seed": 0}, sample_rate=SR),
        **{name: (lambda v, c=cls, n=name, o=others: c(**o, **{n: v})) for cls, name, _, others in SEQUENCE_ARGUMENTS},
    }
    for name, call in calls.items():
        for bad in (np.array(1.0), np.float32(1.0), 3, "x") + ((None,) if name != "weights" else ()):
            with pytest.raises(ParameterError, match=name):
                call(bad)
                pytest.fail(f"{name}={bad!r} was accepted")


def test_signal_shapes_are_hashable_values_and_check_their_shape():
    from noisegen.transforms.shape import SignalShape

    shapes = [SignalShape(s, d) for s in [(0,), (5,), (2, 5), [np.int64(2), 5]] for d in (np.float32, np.float64)]
    assert len(set(shapes)) == 6 and len({s: 1 for s in shapes}) == 6
    assert all(a == b and hash(a) == hash(b) for a, b in zip(shapes[4:6], shapes[6:8]))
    for bad in [5, (1.5,), (True,), (-1,), (1, 2, 3), (), "16000", np.array(3)]:
        with pytest.raises(ParameterError, match="shape"):
            SignalShape(bad)


def test_streaming_objects_have_short_reprs_and_resume_after_pickle(data_dir, tmp_path):
    """Resampler and RirConvolver printed as '<... object at 0x...>'; every stateful object pickled
    (or deep-copied) mid-stream continues with exactly the samples the original gives."""
    import copy
    import pickle

    import noisegen as ng

    x = (np.random.default_rng(0).standard_normal((2, 3000)) * 0.1).astype(np.float32)
    makers = {
        "Resampler": (lambda: ng.Resampler(orig_sample_rate=16000, target_sample_rate=11025), "process"),
        "RirConvolver": (lambda: ng.RirConvolver(np.hanning(300)), "process"),
        "NoiseGenerator": (lambda: ng.NoiseGenerator("pink", sample_rate=SR, rng=3, n_channels=2), "read"),
    }
    for name, (make, method) in makers.items():
        obj = make()
        step = (lambda o, a: getattr(o, method)(a.shape[-1])) if method == "read" else \
            (lambda o, a: getattr(o, method)(a))
        step(obj, x[:, :1000])
        clones = [pickle.loads(pickle.dumps(obj)), copy.deepcopy(obj)]
        ref = step(obj, x[:, 1000:])
        for clone in clones:
            np.testing.assert_array_equal(step(clone, x[:, 1000:]), ref, err_msg=name)
        text = repr(obj)
        assert text.startswith(name + "(") and " at 0x" not in text and len(text) < 200, text
    for obj in (*_banks(data_dir, tmp_path).values(), NoiseBank(data_dir / "noise"),
                ng.AugmentStream(data_dir / "speech", None, sample_rate=SR), ng.info(data_dir / "rir" / "rir_clap.wav")):
        text = repr(obj)
        assert " at 0x" not in text and len(text) < 300 and "array(" not in text, text


@pytest.mark.parametrize("module", ["noisegen", "noisegen.audio", "noisegen.synth", "noisegen.effects",
                                    "noisegen.transforms", "noisegen.torch", "noisegen.lhotse", "noisegen.hf",
                                    "noisegen.ray", "noisegen.cuda", "noisegen.batch"])
def test_public_names_are_listed_once_and_resolve(module):
    """``noisegen.__all__`` listed AUDIO_EXTENSIONS twice (audio.io's and audio.bank's)."""
    import importlib

    if module in ("noisegen.torch", "noisegen.lhotse", "noisegen.hf", "noisegen.ray"):
        pytest.importorskip({"noisegen.hf": "datasets"}.get(module, module.split(".")[1]))
    mod = importlib.import_module(module)
    names = list(mod.__all__)
    assert len(names) == len(set(names)), sorted(n for n in set(names) if names.count(n) > 1)
    assert all(hasattr(mod, n) for n in names)


def test_someof_takes_its_k_range_as_a_list_tuple_or_array():
    children = [T.Gain(), T.Clip(), T.TimeMask()]
    for k in ([1, 3], (1, 3), np.array([1, 3]), [np.int64(1), np.int32(3)], (1, None)):
        assert T.SomeOf(children, k=k).k == (1, 3)
    assert T.SomeOf(children, k=np.int64(2)).k == (2, 2)
    for bad in (np.array(1), np.array([1]), [1, 2, 3], np.ones((2, 2), int), "12", True, [True, 2], 1.5):
        with pytest.raises(ParameterError, match="k"):
            T.SomeOf(children, k=bad)


def test_stream_order_checks_its_epoch(data_dir):
    """order() took True, 1.5 and "1" as epoch 1 and -1 as 2**64 - 1."""
    from noisegen import AugmentStream

    stream = AugmentStream(data_dir / "speech", None, sample_rate=SR)
    assert stream.order(np.int64(1)).tolist() == stream.order(1).tolist()
    assert sorted(stream.order(2**40).tolist()) == list(range(stream.n_items))
    for bad in (True, 1.5, "1", -1, None):
        with pytest.raises(ParameterError, match="epoch"):
            stream.order(bad)
    one_pass = AugmentStream(iter([np.ones(10, np.float32)]), None, sample_rate=SR, shuffle=False)
    with pytest.raises(TypeError, match="one-pass"):
        one_pass.order(0)
