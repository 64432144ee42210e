"""Random transforms: determinism, replay of last_params, JSON round trips, validation."""

from __future__ import annotations

import codecs
import json
import os

import numpy as np
import pytest

import noisegen
from noisegen import ParameterError
from noisegen.transforms import (
    AddBackgroundNoise,
    AddColoredNoise,
    AddShortNoises,
    ApplyImpulseResponse,
    BandPassFilter,
    BandStopFilter,
    Clip,
    Compose,
    Gain,
    HighPassFilter,
    HighShelf,
    LowPassFilter,
    LowShelf,
    OneOf,
    PeakingEQ,
    PitchShift,
    Shift,
    SomeOf,
    SpeedPerturb,
    TimeMask,
    TimeStretch,
    Transform,
    load_pipeline,
)

SR = 16000


# (id, factory, effects it needs). Every transform with p=1 so it always applies.
FACTORIES = [
    ("gain", lambda d: Gain(min_gain_db=-12, max_gain_db=6, p=1.0), ("gain",)),
    ("clip", lambda d: Clip(min_percentile=1, max_percentile=20, p=1.0), ("clip",)),
    ("time_mask", lambda d: TimeMask(min_fraction=0.05, max_fraction=0.3, p=1.0), ("time_mask",)),
    ("lowpass", lambda d: LowPassFilter(p=1.0), ("lowpass",)),
    ("highpass", lambda d: HighPassFilter(p=1.0), ("highpass",)),
    ("bandpass", lambda d: BandPassFilter(p=1.0), ("bandpass",)),
    ("bandstop", lambda d: BandStopFilter(p=1.0), ("bandstop",)),
    ("peaking", lambda d: PeakingEQ(p=1.0), ("peaking_eq",)),
    ("colored", lambda d: AddColoredNoise(p=1.0), ("colored_noise", "mix_at_snr")),
    ("background", lambda d: AddBackgroundNoise(d / "noise", min_snr_db=0, max_snr_db=20, p=1.0),
     ("mix_at_snr", "NoiseBank")),
    ("short", lambda d: AddShortNoises(d / "noise", min_time_between_s=0.3, max_time_between_s=1.0, p=1.0),
     ("add_short_noises",)),
    ("rir", lambda d: ApplyImpulseResponse(d / "rir", p=1.0), ("convolve_rir",)),
    ("stretch", lambda d: TimeStretch(min_rate=0.8, max_rate=1.25, p=1.0), ("time_stretch",)),
    ("pitch", lambda d: PitchShift(min_semitones=-3, max_semitones=3, p=1.0), ("pitch_shift",)),
    ("speed", lambda d: SpeedPerturb(factors=(0.9, 1.1), p=1.0), ("speed",)),
    ("compose", lambda d: Compose([Gain(p=0.5), TimeMask(p=0.5), LowPassFilter(p=0.5)], shuffle=True),
     ("gain", "time_mask", "lowpass")),
    ("oneof", lambda d: OneOf([Gain(p=1.0), Clip(p=1.0), TimeMask(p=1.0)], weights=[1, 2, 1]),
     ("gain", "clip", "time_mask")),
    ("someof", lambda d: SomeOf([Gain(p=1.0), Clip(p=1.0), HighPassFilter(p=1.0)], k=(1, None)),
     ("gain", "clip", "highpass")),
]


def _params(factories):
    return [pytest.param(f, id=name, marks=()) for name, f, needs in factories]


@pytest.fixture(scope="module")
def speech32(speech_16k):
    return speech_16k[: SR * 2].astype(np.float32)


@pytest.mark.parametrize("factory", _params(FACTORIES))
def test_same_rng_same_output_and_replay(factory, data_dir, speech32):
    t = factory(data_dir)
    out = t(speech32, sample_rate=SR, rng=7)
    params = json.loads(json.dumps(t.last_params))  # plain JSON-able dict
    assert params == t.last_params and params["applied"] is True
    again = t(speech32, sample_rate=SR, rng=7)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert np.array_equal(out, again)
    # last_params (through JSON) replayed reproduces the output bit for bit
    assert np.array_equal(t.apply_params(speech32, sample_rate=SR, params=params), out)
    # from_dict(to_dict) with the same rng is bit-identical
    clone = Transform.from_dict(json.loads(t.to_json()))
    assert type(clone) is type(t)
    assert np.array_equal(clone(speech32, sample_rate=SR, rng=7), out)


@pytest.mark.parametrize("factory", _params(FACTORIES))
def test_different_rng_different_output(factory, data_dir, speech32):
    t = factory(data_dir)
    outs = [t(speech32, sample_rate=SR, rng=seed) for seed in range(4)]
    assert any(
        a.shape != b.shape or not np.array_equal(a, b) for i, a in enumerate(outs) for b in outs[i + 1:]
    )


@pytest.mark.parametrize("factory", _params(FACTORIES))
def test_float64_in_float64_out(factory, data_dir, speech_16k):
    """float64 in, float64 out, computed in float64: the input has values no float32 holds,
    and a transform that went through float32 (then cast back) would lose them."""
    y = speech_16k[:SR] + 1e-9 * np.random.default_rng(0).standard_normal(SR)
    assert not np.array_equal(y, y.astype(np.float32))
    out = factory(data_dir)(y, sample_rate=SR, rng=1)
    assert out.dtype == np.float64
    assert not np.array_equal(out, out.astype(np.float32).astype(np.float64))


def test_generator_advances_and_p():
    y = np.full(100, 0.5)
    g = Gain(min_gain_db=-6, max_gain_db=6, p=0.5)
    gen = np.random.default_rng(0)
    applied = []
    for _ in range(400):
        out = g(y, sample_rate=SR, rng=gen)
        applied.append(g.last_params["applied"])
        if not g.last_params["applied"]:
            assert out is y and set(g.last_params) == {"name", "applied"}
        else:
            assert -6 <= g.last_params["gain_db"] <= 6
    assert 150 < sum(applied) < 250
    never = Gain(p=0.0)
    assert never(y, sample_rate=SR, rng=1) is y and never.last_params == {"name": "Gain", "applied": False}


def test_compositions_record_what_ran():
    y = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    shuffled = Compose([Gain(p=1.0), Clip(p=1.0), TimeMask(p=1.0)], shuffle=True)
    orders = set()
    for seed in range(20):
        shuffled(y, sample_rate=SR, rng=seed)
        lp = shuffled.last_params
        assert sorted(lp["indices"]) == [0, 1, 2]
        assert [c["name"] for c in lp["transforms"]] == [["Gain", "Clip", "TimeMask"][i] for i in lp["indices"]]
        orders.add(tuple(lp["indices"]))
    assert len(orders) > 1
    pick = OneOf([Gain(p=1.0), Clip(p=1.0)], weights=[0, 1])
    for seed in range(10):
        pick(y, sample_rate=SR, rng=seed)
        assert pick.last_params["indices"] == [1] and pick.last_params["transforms"][0]["name"] == "Clip"
    some = SomeOf([Gain(p=1.0), Clip(p=1.0), TimeMask(p=1.0)], k=(1, 2))
    counts = set()
    for seed in range(20):
        some(y, sample_rate=SR, rng=seed)
        idx = some.last_params["indices"]
        assert idx == sorted(set(idx)) and 1 <= len(idx) <= 2
        counts.add(len(idx))
    assert counts == {1, 2}
    off = Compose([Gain(p=1.0)], p=0.0)
    assert off(y, sample_rate=SR, rng=0) is y and off.last_params == {"name": "Compose", "applied": False}


def test_load_pipeline_from_json_file(tmp_path, speech32):
    pipe = Compose([Gain(min_gain_db=-3, max_gain_db=3, p=0.8), OneOf([LowPassFilter(p=1.0), TimeMask(p=1.0)])])
    path = tmp_path / "pipeline.json"
    path.write_text(pipe.to_json(indent=2))
    loaded = load_pipeline(path)
    assert loaded.to_dict() == pipe.to_dict()
    for seed in range(5):
        assert np.array_equal(loaded(speech32, sample_rate=SR, rng=seed), pipe(speech32, sample_rate=SR, rng=seed))
    # a JSON list is a Compose
    as_list = load_pipeline(json.loads(path.read_text())["transforms"])
    assert isinstance(as_list, Compose) and len(as_list) == 2
    # a byte-order mark (Windows Notepad saves UTF-8 with one) is no part of the JSON: it was "not valid JSON"
    for text in (pipe.to_json(indent=2), json.dumps(pipe.to_dict()["transforms"])):
        path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
        assert load_pipeline(path).to_dict() == pipe.to_dict()



def test_a_folder_named_simulated_beside_a_config_is_found_there(tmp_path, monkeypatch, data_dir):
    # "simulated" was never joined to the config's folder, for any path argument: only ApplyImpulseResponse's
    # rir given as that one word means simulated rooms ("missing path 'simulated'", or the current folder's)
    import shutil

    shutil.copytree(data_dir / "noise", tmp_path / "cfg" / "simulated")
    shutil.copy(data_dir / "rir" / "rir_clap.wav", tmp_path / "cfg" / "simulated" / "rir_clap.wav")
    config = [{"name": "AddBackgroundNoise", "noise": "simulated"}, {"name": "AddShortNoises", "sounds": ["simulated"]},
              {"name": "ApplyImpulseResponse", "rir": ["simulated/rir_clap.wav"]},
              {"name": "ApplyImpulseResponse", "rir": "simulated"}]
    (tmp_path / "cfg" / "p.json").write_text(json.dumps(config))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    noise, sounds, rir, rooms = load_pipeline(tmp_path / "cfg" / "p.json").to_dict()["transforms"]
    here = str(tmp_path / "cfg" / "simulated")
    assert noise["noise"] == here and sounds["sounds"] and all(f.startswith(here + os.sep) for f in sounds["sounds"])
    assert rir["rir"] == [os.path.join(here, "rir_clap.wav")] and rooms["rir"]["name"] == "RoomSimulator"


def test_load_pipeline_reads_only_a_regular_json_file(tmp_path):
    # a FIFO would block, /dev/zero never end; a binary file is no JSON; a NUL byte names no file
    cases = {tmp_path: "a folder, not a regular file", "/dev/zero": "a character device, not a regular file",
             "a\x00b.json": "NUL", tmp_path / "missing.json": "cannot read pipeline file"}
    binary = tmp_path / "noise.json"
    binary.write_bytes(bytes(range(256)))
    cases[binary] = "not UTF-8 text"
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.json")
        cases[tmp_path / "fifo.json"] = "a FIFO, not a regular file"
    for path, why in cases.items():
        with pytest.raises(ParameterError, match=why) as err:
            load_pipeline(path)
        assert str(err.value).startswith("path_or_dict: ")

def test_load_pipeline_refuses_a_number_json_cannot_convert(tmp_path):
    # valid JSON, but an integer literal past int-to-str's 4300 digits makes json.load raise a bare ValueError
    path = tmp_path / "huge.json"
    path.write_text('{"name": "Gain", "max_gain_db": ' + "9" * 5000 + "}")
    with pytest.raises(ParameterError, match="cannot be read as JSON") as err:
        load_pipeline(path)
    assert str(err.value).startswith("path_or_dict: ")



@pytest.mark.parametrize("text, twice, where", [
    ('{"name": "Gain", "p": 0.1, "min_gain_db": -3, "p": 1.0}', "'p'", "'Gain'"),
    ('{"name": "Gain", "name": "Clip"}', "'name'", "'Clip'"),
    ('[{"name": "Gain"}, {"name": "OneOf", "transforms": [{"name": "Clip", "p": 1, "p": 0}]}]', "'p'", "'Clip'"),
    ('{"name": "AddBackgroundNoise", "noise": "a", "p": 1, "noise": "b", "p": 0.5}', "'noise', 'p'",
     "'AddBackgroundNoise'"),
    ('{"name": "Compose", "transforms": [], "shuffle": {"x": 1, "x": 2}}', "'x'", "an object"),
])
def test_load_pipeline_refuses_a_key_named_twice_in_one_object(tmp_path, text, twice, where):
    # (json keeps the last value silently: a merged config ran with p=1.0 where it said 0.1 too, and no word)
    path = tmp_path / "dup.json"
    path.write_text(text)
    with pytest.raises(ParameterError) as err:
        load_pipeline(path)
    assert str(err.value).startswith(f"path_or_dict: pipeline file {str(path)!r} names {twice} more than once in "
                                     f"{where if where == 'an object' else 'the object of ' + where}"), err.value


@pytest.mark.parametrize("n", [6, 100, 3000])
def test_a_key_named_twice_is_refused_in_one_short_line_however_many(tmp_path, n):
    """An object naming thousands of keys twice (a config concatenated with itself) was refused in a message
    listing every key (26,000 characters for 3,000), found by a count per key (minutes for 20,000)."""
    body = ", ".join(f'"k{i:05d}": {i}' for i in range(n))
    path = tmp_path / "dup.json"
    path.write_text('{"name": "Gain", ' + body + ", " + body + "}")
    with pytest.raises(ParameterError) as err:
        load_pipeline(path)
    message = str(err.value)
    assert "names 'k00000', 'k00001', 'k00002', 'k00003', 'k00004' and " in message, message
    assert f"and {n - 5} other key(s) more than once in the object of 'Gain'" in message and len(message) < 400
@pytest.mark.parametrize(
    "build",
    [
        lambda: Gain(min_gain_db=6, max_gain_db=-6),
        lambda: Gain(p=-0.1),
        lambda: Gain(p=1.5),
        lambda: Clip(min_percentile=30, max_percentile=10),
        lambda: TimeMask(min_fraction=0.5, max_fraction=0.1),
        lambda: TimeMask(max_fraction=1.5),
        lambda: LowPassFilter(min_cutoff_hz=4000, max_cutoff_hz=1000),
        lambda: BandPassFilter(min_center_hz=3000, max_center_hz=200),
        lambda: PeakingEQ(min_q=3, max_q=1),
        lambda: AddColoredNoise(min_beta=1, max_beta=-1),
        lambda: AddColoredNoise(min_beta=-3, max_beta=0),
        lambda: AddColoredNoise(min_snr_db=20, max_snr_db=0),
        lambda: AddBackgroundNoise("data/noise", min_snr_db=20, max_snr_db=0),
        lambda: AddBackgroundNoise("no/such/folder"),
        lambda: AddBackgroundNoise("data/noise", reference="peak"),
        lambda: ApplyImpulseResponse("data/rir", p=2),
        lambda: TimeStretch(min_rate=1.2, max_rate=0.9),
        lambda: TimeStretch(min_rate=0.0, max_rate=1.0),
        lambda: PitchShift(min_semitones=2, max_semitones=-2),
        lambda: SpeedPerturb(factors=()),
        lambda: SpeedPerturb(factors=(0.9, -1.0)),
        lambda: Compose([Gain()], p=1.1),
        lambda: Compose(Gain()),
        lambda: Compose([Gain(), "Gain"]),
        lambda: OneOf([Gain(), Clip()], weights=[1]),
        lambda: OneOf([Gain(), Clip()], weights=[0, 0]),
        lambda: SomeOf([Gain(), Clip()], k=3),
        lambda: SomeOf([Gain(), Clip()], k=(2, 1)),
        lambda: load_pipeline({"name": "NoSuchTransform", "p": 0.5}),
        lambda: load_pipeline({"name": "Compose", "transforms": [{"name": "Gain"}, {"name": "Reverbb"}]}),
        lambda: load_pipeline({"name": "Gain", "min_gain": 3}),
        lambda: load_pipeline({"name": "Gain", "min_gain_db": 6, "max_gain_db": 0}),
        lambda: load_pipeline({"p": 0.5}),
    ],
)
def test_bad_configuration_raises_at_construction(build, monkeypatch, data_dir):
    monkeypatch.chdir(data_dir.parent)
    with pytest.raises(ParameterError):
        build()


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "0.5", None])
@pytest.mark.parametrize("build", [lambda: Gain(p=0.5), lambda: Compose([Gain()]), lambda: OneOf([Gain(), Clip()])])
def test_p_set_after_construction_is_checked(build, bad):
    """``t.p = 1.5`` is refused as ``Gain(p=1.5)`` is, and the transform keeps its p; a valid value
    (a NumPy float too) is taken as the constructor takes it."""
    t = build()
    with pytest.raises(ParameterError, match=r"\bp must"):
        t.p = bad
    assert t.p == 0.5 if not isinstance(t, (Compose, OneOf)) else t.p == 1.0
    t.p = np.float32(0.25)
    assert t.p == 0.25 and type(t.p) is float
    y = np.ones(8, np.float32)
    t.p = 0.0
    assert t(y, sample_rate=8000, rng=0) is y


def test_oneof_weights_set_after_construction_are_drawn_with_and_checked():
    """``t.weights = [0, 1]`` kept drawing with the weights of construction (child 0 half the time) while
    to_dict wrote the new ones, and a replay of its own last_params was refused; a child appended was
    never drawn. Draws now follow the weights and children as they stand, checked as the constructor checks."""
    y = np.ones(8)
    t = OneOf([Gain(p=1.0), Clip(p=1.0)])
    t.weights = [0, 1]
    rebuilt = Transform.from_dict(t.to_dict())
    for seed in range(20):
        out = t(y, sample_rate=8000, rng=seed)
        assert t.last_params["indices"] == [1]
        np.testing.assert_array_equal(t.apply_params(y, t.last_params, sample_rate=8000), out)
        np.testing.assert_array_equal(rebuilt(y, sample_rate=8000, rng=seed), out)
    t.weights[0] = 1.0  # changed in place: drawn with too
    assert {t.draw_params(y, sample_rate=8000, rng=s)["indices"][0] for s in range(20)} == {0, 1}
    for bad, name in (([1.0], "weights"), ([-1.0, 1.0], r"weights\[0\]"), ([0, 0], "weights"), ("x", "weights")):
        with pytest.raises(ParameterError, match=name):
            t.weights = bad
    assert t.weights == [1.0, 1.0]
    t.weights = None
    t.transforms.append(TimeMask(p=1.0))
    assert {t.draw_params(y, sample_rate=8000, rng=s)["indices"][0] for s in range(40)} == {0, 1, 2}


def test_someof_k_set_after_construction_is_checked_and_drawn_with():
    """``t.k = 2`` (the constructor's own form) was kept as given: every call then raised TypeError
    (and to_dict too); ``t.k = (1, 5)`` over 3 children raised NumPy's ValueError at some draws and
    was written by to_dict for from_dict to refuse. k is now checked on assignment as the constructor checks it."""
    y = np.ones(8)
    t = SomeOf([Gain(p=1.0), Clip(p=1.0), TimeMask(p=1.0)], k=1)
    t.k = 2
    rebuilt = Transform.from_dict(t.to_dict())
    for seed in range(10):
        out = t(y, sample_rate=8000, rng=seed)
        assert len(t.last_params["indices"]) == 2
        np.testing.assert_array_equal(rebuilt(y, sample_rate=8000, rng=seed), out)
    t.k = [0, None]
    assert t.k == (0, 3)
    for bad, name in (((1, 5), r"k\[1\]"), ("2", "k"), (4, "k"), ((2, 1), "k")):
        with pytest.raises(ParameterError, match=name):
            t.k = bad
    assert t.k == (0, 3)


def test_someof_kmax_none_means_all_the_children_it_holds_when_it_draws():
    """``k=(1, None)`` ("all of them") was resolved to the first children's count: after ``t.transforms =``
    three (or one appended) at most two were drawn, and to_dict wrote ``[1, 2]``. It is now kept."""
    y = np.ones(8)
    t = SomeOf([Gain(p=1.0), Clip(p=1.0)], k=(1, None))
    t.transforms = [Gain(p=1.0), Clip(p=1.0), TimeMask(p=1.0)]
    assert t.to_dict()["k"] == [1, None]
    rebuilt = Transform.from_dict(t.to_dict())
    counts = set()
    for seed in range(40):
        out = t(y, sample_rate=8000, rng=seed)
        counts.add(len(t.last_params["indices"]))
        np.testing.assert_array_equal(rebuilt(y, sample_rate=8000, rng=seed), out)
    assert counts == {1, 2, 3}
    t.transforms.append(Gain(p=1.0))  # in place, too
    assert max(len(t.draw_params(y, sample_rate=8000, rng=s)["indices"]) for s in range(60)) == 4


def test_impulse_response_trim_db_set_after_a_call_cuts_there_and_is_checked():
    """``t.trim_db = 10`` after a call was ignored (responses stayed cut, and their convolvers kept, at the
    old value) while to_dict wrote 10: the rebuilt pipeline reverberated otherwise. It now cuts there."""
    rng = np.random.default_rng(0)
    rir = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300.0)
    y = rng.standard_normal(4000)
    t = ApplyImpulseResponse([rir], p=1.0)
    t(y, sample_rate=8000, rng=0)
    for trim_db in (10.0, None, 60.0):
        t.trim_db = trim_db
        out = t(y, sample_rate=8000, rng=0)
        np.testing.assert_array_equal(out, ApplyImpulseResponse([rir], trim_db=trim_db, p=1.0)(y, sample_rate=8000, rng=0))
        assert f"trim_db={trim_db!r}" in repr(t)  # (what to_dict writes for a pipeline of files)
    for bad in (0.0, -1.0, "10", float("nan")):
        with pytest.raises(ParameterError, match="trim_db"):
            t.trim_db = bad
    assert t.trim_db == 60.0


def test_unknown_name_in_json_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"name": "Compose", "transforms": [{"name": "Gain", "p": 1.0}, {"name": "Wobble"}]}))
    with pytest.raises(ParameterError, match="Wobble"):
        load_pipeline(path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ParameterError):
        load_pipeline(tmp_path / "bad.json")


@pytest.mark.parametrize("config, said", [
    # Python's TypeError ("unexpected keyword argument 'mni_gain_db'") said neither what it takes nor what was meant
    ([{"name": "Gain", "mni_gain_db": 1}],
     "transforms[0] (Gain): bad arguments for Gain: unknown argument 'mni_gain_db' (did you mean 'min_gain_db'?); "
     "Gain takes min_gain_db, max_gain_db, p"),
    ({"name": "Gain", "min_gain_in_db": -6, "bogus": 1},
     "bad arguments for Gain: unknown arguments 'min_gain_in_db' (did you mean 'min_gain_db'?), 'bogus'; Gain takes"),
    ({"name": "SomeOf", "transforms": [], "K": 1},
     "bad arguments for SomeOf: unknown argument 'K' (did you mean 'k'?); SomeOf takes transforms, k, p"),
    ({"name": "gain"}, "unknown transform name 'gain' (did you mean 'Gain'?); expected one of"),
    ({"name": "Gian", "p": 1}, "unknown transform name 'Gian' (did you mean 'Gain'?); expected one of"),
    ({"name": "Wobble"}, "unknown transform name 'Wobble'; expected one of"),
    ({"name": None}, "unknown transform name None; expected one of"),  # (it was said to have no 'name')
])
def test_a_misspelt_name_or_argument_is_told_the_one_it_likely_meant(config, said):
    with pytest.raises(ParameterError) as caught:
        load_pipeline(config)
    assert str(caught.value).startswith(said), str(caught.value)


@pytest.mark.parametrize("name, shown", [("Gain\x1b[2J", r"'Gain\x1b[2J'"), ("Gain\nX", r"'Gain\nX'"),
                                         ("Gian", "Gian")])
def test_a_nested_config_is_located_by_a_name_that_prints_as_it_stands(name, shown):
    # "transforms[0] (Gain\x1b[2J)": the escape sequence went to the terminal raw (it cleared the screen)
    with pytest.raises(ParameterError) as caught:
        load_pipeline([{"name": name}])
    assert str(caught.value).startswith(f"transforms[0] ({shown}): unknown transform name {name!r}"), str(caught.value)


def test_a_transform_of_any_keyword_still_gets_its_config():
    class Anything(Transform):  # a user's transform taking **kwargs: every key goes to it
        def __init__(self, p=0.5, **kwargs):
            super().__init__(p=p)
            self.kwargs = kwargs

    assert Transform.from_dict({"name": "Anything", "width": 3}).kwargs == {"width": 3}


def test_apply_params_refuses_foreign_params():
    y = np.ones(10)
    with pytest.raises(ParameterError):
        Gain().apply_params(y, sample_rate=SR, params={"name": "Clip", "applied": True, "percentile": 1.0})


def test_array_noise_is_not_serialisable(noise_16k):
    t = AddBackgroundNoise([noise_16k.astype(np.float32)], p=1.0)
    with pytest.raises(ParameterError, match="arrays"):
        t.to_dict()


def test_frequency_ranges_fit_below_nyquist():
    y = np.random.default_rng(1).standard_normal(4000)
    lp = LowPassFilter(min_cutoff_hz=5000, max_cutoff_hz=7500, p=1.0)
    lp(y, sample_rate=8000, rng=0)
    assert lp.last_params["cutoff_hz"] < 4000
    bp = BandPassFilter(min_center_hz=3500, max_center_hz=3900, p=1.0)
    for seed in range(5):
        bp(y, sample_rate=8000, rng=seed)
        assert 0 < bp.last_params["low_hz"] < bp.last_params["high_hz"] < 4000


def test_mel_drawn_frequencies_stay_inside_narrow_ranges():
    # the hz -> mel -> hz round trip rounds: [123.456, 123.456 + 2 ulps] drew 123.45599999999996 every time
    for lo in (7.0, 123.456, 1000.0, 3000.3):
        hi = lo
        for ulps in (1, 2, 5, 50):
            while hi < lo + ulps * np.spacing(lo):
                hi = float(np.nextafter(hi, np.inf))
            for t, key in ((LowPassFilter(min_cutoff_hz=lo, max_cutoff_hz=hi, p=1.0), "cutoff_hz"),
                           (PeakingEQ(min_center_hz=lo, max_center_hz=hi, p=1.0), "center_hz"),
                           (LowShelf(min_cutoff_hz=lo, max_cutoff_hz=hi, p=1.0), "cutoff_hz")):
                for seed in range(20):
                    drawn = t.draw_params(None, sample_rate=16000, rng=seed)[key]
                    assert lo <= drawn <= hi, (type(t).__name__, lo, hi, drawn)


@pytest.mark.parametrize("sample_rate", [16000, 44100, 48000, 96000])
def test_low_frequency_ranges_are_kept_at_high_rates(sample_rate):
    # a range the filters take is used as drawn: a floor of 1e-3 * sample_rate moved it (48 Hz at 48 kHz)
    y = np.random.default_rng(1).standard_normal(2000)
    cases = [(HighPassFilter(min_cutoff_hz=5, max_cutoff_hz=30, p=1.0), ("cutoff_hz",), 5, 30),
             (LowPassFilter(min_cutoff_hz=2, max_cutoff_hz=10, order=2, p=1.0), ("cutoff_hz",), 2, 10),
             (LowShelf(min_cutoff_hz=8, max_cutoff_hz=40, p=1.0), ("cutoff_hz",), 8, 40),
             (PeakingEQ(min_center_hz=10, max_center_hz=45, p=1.0), ("center_hz",), 10, 45),
             (BandPassFilter(min_center_hz=40, max_center_hz=40, min_bandwidth_fraction=1.5,
                             max_bandwidth_fraction=1.5, order=2, p=1.0), ("low_hz", "high_hz"), 10, 70)]
    for t, keys, lo, hi in cases:
        for seed in range(4):
            out = t(y, sample_rate=sample_rate, rng=seed)
            assert np.isfinite(out).all()
            for key in keys:
                assert lo <= t.last_params[key] <= hi, (type(t).__name__, t.last_params)


@pytest.mark.parametrize("sample_rate", [1, 1000, 8000, 11025, 768000])
def test_replayed_filter_frequencies_are_checked_against_what_the_filters_take(sample_rate):
    """A replayed cutoff was checked against (0, Nyquist), so one a hair inside that passed and the filter
    then refused it under its own name ("cutoff_hz must be in [0.08, 3999.92] Hz", no params[...]); at
    Nyquist the check itself named (0, 4000), a range whose edges the filters refuse. A replayed band
    with low_hz >= high_hz was likewise refused only by the filter, unnamed."""
    from noisegen.effects.filters import FREQ_MARGIN

    y = np.random.default_rng(2).standard_normal(300)
    lo, hi, mid = FREQ_MARGIN * sample_rate, (0.5 - FREQ_MARGIN) * sample_rate, 0.3 * sample_rate
    cases = [(LowPassFilter(p=1.0), "cutoff_hz", {}, (lo, mid, hi)),
             (HighPassFilter(order=3, p=1.0), "cutoff_hz", {}, (lo, mid, hi)),
             (LowShelf(p=1.0), "cutoff_hz", {"gain_db": 6.0}, (lo, mid, hi)),
             (HighShelf(p=1.0), "cutoff_hz", {"gain_db": -6.0}, (lo, mid, hi)),
             (PeakingEQ(p=1.0), "center_hz", {"gain_db": 6.0, "q": 2.0}, (lo, mid, hi)),
             (BandPassFilter(p=1.0), "low_hz", {"high_hz": hi}, (lo, mid)),
             (BandStopFilter(p=1.0), "high_hz", {"low_hz": lo}, (mid, hi))]
    for t, key, rest, accepted in cases:
        name = type(t).__name__
        for value in accepted:  # the bounds the filters take replay
            t.apply_params(y, {"name": name, "applied": True, key: value, **rest}, sample_rate=sample_rate)
        for value in (lo * 0.999, hi * 1.0001, np.nextafter(sample_rate / 2, 0.0), sample_rate / 2, 1e-300):
            params = {"name": name, "applied": True, key: value, **rest}
            with pytest.raises(ParameterError, match=rf"^params\['{key}'\] must be in \[[^,]+, [^\]]+\] Hz"):
                t.apply_params(y, params, sample_rate=sample_rate)
            outer = {"name": "Compose", "applied": True, "indices": [0], "transforms": [params]}
            with pytest.raises(ParameterError, match=rf"^params\['transforms'\]\[0\]\['{key}'\] must be in"):
                Compose([t], p=1.0).apply_params(y, outer, sample_rate=sample_rate)
    for t in (BandPassFilter(p=1.0), BandStopFilter(p=1.0)):
        for low, high in ((0.3, 0.2), (0.2, 0.2)):
            params = {"name": type(t).__name__, "applied": True, "low_hz": low * sample_rate, "high_hz": high * sample_rate}
            with pytest.raises(ParameterError, match=r"^params\['low_hz'\] must be < params\['high_hz'\], got "):
                t.apply_params(y, params, sample_rate=sample_rate)


def test_gain_values():
    t = Gain(min_gain_db=-20, max_gain_db=-20, p=1.0)
    out = t(np.full(8, 0.5), sample_rate=SR, rng=0)
    np.testing.assert_allclose(out, 0.05)


def assert_bitwise_equal(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()


def _refuse_calls(monkeypatch, module, *names):
    """Make ``module``'s ``names`` raise when called: a transform that must not reach them."""
    def refused(name):
        def call(*args, **kwargs):
            raise AssertionError(f"{name} called")
        return call
    for name in names:
        monkeypatch.setattr(module, name, refused(name))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (2,), (777,), (2, 3), (3, 65)])
def test_gain_checks_its_input_once_and_gives_the_functional_gain(dtype, shape, monkeypatch):
    """A Gain call checked its input (checked by the call), the backend and the gain it drew again in
    noisegen.gain: a third of a call on a second of audio. It applies its gain unchecked now, with
    noisegen.gain's output for every layout."""
    import noisegen.effects.level as level
    y = np.random.default_rng(7).standard_normal(shape).astype(dtype)
    t = Gain(min_gain_db=-30, max_gain_db=30, p=1.0)
    layouts = (y, np.asfortranarray(y), y[..., ::-1])
    expected = [[noisegen.gain(v, gain_db=t.draw_params(v, sample_rate=SR, rng=seed)["gain_db"]) for v in layouts]
                for seed in range(4)]
    _refuse_calls(monkeypatch, level, "check_audio", "resolve_backend", "check_real")
    for seed in range(4):
        for v, want in zip(layouts, expected[seed]):
            assert_bitwise_equal(t(v, sample_rate=SR, rng=seed), want)
            assert_bitwise_equal(t.apply_params(v, t.last_params, sample_rate=SR), want)
    with pytest.raises(ParameterError, match=r"^y must be finite, got 1 NaN/inf sample\(s\)$"):
        t(np.where(np.arange(y.size) == 0, np.nan, 1.0).reshape(shape).astype(dtype), sample_rate=SR, rng=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_time_mask_checks_its_input_once_and_gives_the_functional_mask(dtype, monkeypatch):
    """A TimeMask call checked its input (its finiteness again), the rate and three durations in
    noisegen.time_mask: it masks the stretch it drew unchecked now, with noisegen.time_mask's output."""
    import noisegen.effects.level as level
    y = np.random.default_rng(8).standard_normal((2, 1001)).astype(dtype)
    t = TimeMask(min_fraction=0.0, max_fraction=0.6, fade_s=0.002, p=1.0)
    want = []
    for seed in range(8):
        params = t.draw_params(y, sample_rate=SR, rng=seed)
        want.append(noisegen.time_mask(y, start_s=params["start_s"], duration_s=params["duration_s"],
                                       sample_rate=SR, fade_s=t.fade_s))
    _refuse_calls(monkeypatch, level, "check_audio", "resolve_backend", "check_duration", "check_sample_rate")
    for seed in range(8):
        assert_bitwise_equal(t(y, sample_rate=SR, rng=seed), want[seed])
        assert_bitwise_equal(t.apply_params(y, t.last_params, sample_rate=SR), want[seed])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_finds_its_level_from_one_partition_and_checks_its_input_once(dtype, monkeypatch):
    """A Clip call checked its input again in noisegen.clip and took np.percentile of |y|, which
    partitions at four ranks (0, n - 1 and the two around the percentile): 185 us a 1 s call, about
    audiomentations' ClippingDistortion. One partition and the next order statistic give the same level."""
    import noisegen.effects.level as level
    y = np.random.default_rng(9).standard_normal((2, 1001)).astype(dtype)
    t = Clip(min_percentile=0.0, max_percentile=60.0, p=1.0)
    want = [noisegen.clip(y, percentile=t.draw_params(y, sample_rate=SR, rng=seed)["percentile"]) for seed in range(8)]
    _refuse_calls(monkeypatch, level, "check_audio", "resolve_backend", "check_real")
    _refuse_calls(monkeypatch, np, "percentile")
    for seed in range(8):
        assert_bitwise_equal(t(y, sample_rate=SR, rng=seed), want[seed])
        assert_bitwise_equal(t.apply_params(y, t.last_params, sample_rate=SR), want[seed])


def test_background_noise_hits_the_drawn_snr(data_dir, speech_16k):
    t = AddBackgroundNoise(data_dir / "noise", min_snr_db=0, max_snr_db=20, p=1.0)
    for seed in range(3):
        out = t(speech_16k, sample_rate=SR, rng=seed)
        noise = out - speech_16k
        snr = 10 * np.log10(np.mean(speech_16k**2) / np.mean(noise**2))
        assert abs(snr - t.last_params["snr_db"]) < 0.05


def _band_power(y, lo_hz, sample_rate=SR):
    """Periodogram power above ``lo_hz``, summed over channels."""
    spec = np.abs(np.fft.rfft(np.asarray(y, dtype=np.float64), axis=-1)) ** 2
    return spec[..., np.fft.rfftfreq(np.shape(y)[-1], 1.0 / sample_rate) >= lo_hz].sum()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_channels", [None, 2])
def test_colored_noise_snr_holds_over_the_audio_band(dtype, n_channels):
    # issue 13.2: the SNR over [20 Hz, Nyquist] is the requested one, and the
    # noise has no DC drift, for every beta (with the default min_freq_hz=20)
    x = 0.1 * noisegen.colored_noise(4 * SR, beta=0.0, rng=100, n_channels=n_channels, dtype=dtype,
                                     min_freq_hz=20, sample_rate=SR)
    t = AddColoredNoise(p=1.0)
    assert t.min_freq_hz == 20.0
    for k, beta in enumerate([-2.0, -1.9, -1.0, 0.0, 1.0, 2.0]):
        for snr_db in (0.0, 12.5):
            params = {"name": "AddColoredNoise", "applied": True, "beta": beta, "snr_db": snr_db, "seed": 1000 + k}
            noise = t.apply_params(x, sample_rate=SR, params=params) - x
            band_snr = 10 * np.log10(_band_power(x, 20.0) / _band_power(noise, 20.0))
            assert abs(band_snr - snr_db) < 0.1, (beta, snr_db, band_snr)
            seconds = noise.reshape(-1, 4, SR)
            assert np.all(np.abs(seconds.mean(axis=-1)) < 0.05 * seconds.std(axis=-1)), beta
    # without it, brown noise's power far below the audio band sets the SNR
    params = {"name": "AddColoredNoise", "applied": True, "beta": 2.0, "snr_db": 10.0, "seed": 3}
    noise = AddColoredNoise(p=1.0, min_freq_hz=None).apply_params(x, sample_rate=SR, params=params) - x
    assert 10 * np.log10(_band_power(x, 20.0) / _band_power(noise, 20.0)) > 11.0


def test_colored_noise_min_freq_round_trips_and_is_validated():
    for t, value in [(AddColoredNoise(), 20.0), (AddColoredNoise(min_freq_hz=None), None),
                     (AddColoredNoise(min_freq_hz=35.5, p=0.2), 35.5)]:
        d = t.to_dict()
        assert d["min_freq_hz"] == value
        back = Transform.from_dict(json.loads(json.dumps(d)))
        assert back.min_freq_hz == value and back.to_dict() == d
    for bad in (0, -3, float("nan"), "20"):
        with pytest.raises(ParameterError, match="min_freq_hz"):
            AddColoredNoise(min_freq_hz=bad)
    x = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    with pytest.raises(ParameterError, match="min_freq_hz"):  # 20 Hz is above Nyquist at 30 Hz
        AddColoredNoise(p=1.0)(x, sample_rate=30, rng=0)


def test_transforms_exported_at_top_level():
    for name in noisegen.transforms.__all__:
        assert getattr(noisegen, name) is getattr(noisegen.transforms, name)
        assert name in noisegen.__all__


# -- every exported transform class (issue 13.4, 13.14) -----------------------------------------

import inspect  # noqa: E402


def _minimal(cls, data_dir, **overrides):
    """``cls`` with p=1 and the fewest arguments it needs (the bundled noise / RIR folders), and ``overrides``."""
    extra = {
        "AddBackgroundNoise": {"noise": data_dir / "noise"},
        "AddShortNoises": {"sounds": data_dir / "noise", "min_time_between_s": 0.05, "max_time_between_s": 0.1},
        "ApplyImpulseResponse": {"rir": data_dir / "rir"},
        "Compose": {"transforms": [Gain(p=1.0), TimeMask(p=1.0)]},
        "OneOf": {"transforms": [Gain(p=1.0), Clip(p=1.0)]},
        "SomeOf": {"transforms": [Gain(p=1.0), Clip(p=1.0)], "k": 1},
    }.get(cls.__name__, {})
    return cls(p=1.0, **{**extra, **overrides})


TRANSFORM_CLASSES = [
    getattr(noisegen.transforms, name)
    for name in noisegen.transforms.__all__
    if inspect.isclass(getattr(noisegen.transforms, name)) and getattr(noisegen.transforms, name) is not Transform
]
_CLASS_IDS = [cls.__name__ for cls in TRANSFORM_CLASSES]


def test_every_transform_class_is_covered():
    assert len(TRANSFORM_CLASSES) >= 18 and all(issubclass(c, Transform) for c in TRANSFORM_CLASSES)


@pytest.mark.parametrize("cls", TRANSFORM_CLASSES, ids=_CLASS_IDS)
@pytest.mark.parametrize("shape", [(0,), (1, 0), (2, 0)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_empty_input_comes_back_unchanged(cls, shape, dtype, data_dir):
    t = _minimal(cls, data_dir)
    y = np.zeros(shape, dtype=dtype)
    out = t(y, sample_rate=SR, rng=3)
    assert out is y
    params = t.last_params
    assert params["applied"] is True and params == json.loads(json.dumps(params))
    # the parameters were drawn as for any input, deterministically, and replay to the empty input
    t(y, sample_rate=SR, rng=3)
    assert t.last_params == params
    assert t.apply_params(y, sample_rate=SR, params=params) is y
    # inside a composition too (the chain keeps drawing for the children after it)
    chain = Compose([t, Gain(p=1.0)])
    assert chain(y, sample_rate=SR, rng=3) is y
    assert [c["name"] for c in chain.last_params["transforms"]] == [cls.__name__, "Gain"]


def _valid_params(t):
    """A recorded ``last_params`` of ``t`` (applied) on a short signal."""
    t(np.random.default_rng(0).standard_normal(1600), sample_rate=SR, rng=1)
    assert t.last_params["applied"] is True
    return t.last_params


#: Values of the wrong type for any recorded parameter: always a ParameterError.
WRONG_TYPES = ["1", None, ["1"], {"a": 1}, b"1", object()]
#: Hostile values of a plausible type: a ParameterError or a normal (finite) output, never a raw exception.
HOSTILE = [float("nan"), float("inf"), -float("inf"), 1e300, -1e300, 1e5, -1e5, -1, 0, 2**70, -(2**70), 0.5, True]


@pytest.mark.parametrize("cls", TRANSFORM_CLASSES, ids=_CLASS_IDS)
def test_apply_params_refuses_malformed_params(cls, data_dir):
    t = _minimal(cls, data_dir)
    params = _valid_params(t)
    y = np.random.default_rng(0).standard_normal((2, 1600)).astype(np.float32)
    keys = [k for k in params if k not in ("name", "applied")]
    assert keys or cls.__name__ == "PolarityInversion"  # it draws nothing but "applied"
    bad = [None, [], "params", {}, {**params, "name": "Gain" if cls is not Gain else "Clip"}]
    bad += [{"name": cls.__name__}, {"name": cls.__name__, "applied": True}] if keys else []
    bad += [{**params, "applied": v} for v in ("yes", 1.0, None, [True])]
    bad += [{k: v for k, v in params.items() if k != key} for key in keys]
    bad += [{**params, key: v} for key in keys for v in WRONG_TYPES]
    for p in bad:
        with pytest.raises(ParameterError, match="params"):
            t.apply_params(y, sample_rate=SR, params=p)
    for key in keys:
        for v in HOSTILE:
            try:
                out = t.apply_params(y, sample_rate=SR, params={**params, key: v})
            except ParameterError as exc:
                assert key in str(exc) or "params" in str(exc)
            else:
                assert out.dtype == y.dtype and np.isfinite(out).all()


@pytest.mark.parametrize("cls", [Compose, OneOf, SomeOf], ids=lambda c: c.__name__)
def test_composition_params_name_the_bad_child(cls, data_dir):
    t = _minimal(cls, data_dir)
    params = _valid_params(t)
    y = np.ones(800)
    n = len(t.transforms)
    child = params["transforms"][0]
    for index in (n, 5, -1, n + 10**9, "0", 0.5, None, [0]):
        with pytest.raises(ParameterError, match=r"params\['indices'\]\[0\]"):
            t.apply_params(y, sample_rate=SR, params={**params, "indices": [index] + params["indices"][1:]})
    for indices, children in (([0, 0, 0], [child]), ("0", [child]), ([0], child), (None, None), ([0], "x")):
        with pytest.raises(ParameterError, match="indices"):
            t.apply_params(y, sample_rate=SR, params={**params, "indices": indices, "transforms": children})
    wrong_child = {**child, "name": "Nope"}
    missing_key = {"name": child["name"], "applied": True}
    for c in (wrong_child, missing_key, {}, None, 3):
        with pytest.raises(ParameterError, match=r"params\['transforms'\]\[0\]"):
            t.apply_params(y, sample_rate=SR, params={**params, "transforms": [c] + params["transforms"][1:]})


def _nested(depth):
    config = {"name": "Gain", "p": 1.0}
    for _ in range(depth):
        config = {"name": "Compose", "transforms": [config]}
    return config


@pytest.mark.parametrize("depth", [40, 100, 5000, 100_000])
def test_load_pipeline_bounds_the_nesting_depth(depth, tmp_path):
    # a dict, the same as a JSON file, and a list of lists hidden in an argument
    with pytest.raises(ParameterError, match="64 levels"):
        load_pipeline(_nested(depth))
    path = tmp_path / "deep.json"
    path.write_text('{"name": "Compose", "transforms": [' * depth + '{"name": "Gain"}' + "]}" * depth)
    with pytest.raises(ParameterError, match="64 levels"):
        load_pipeline(path)
    deep_list = 0.0
    for _ in range(2 * depth):
        deep_list = [deep_list]
    with pytest.raises(ParameterError, match="64 levels"):
        Transform.from_dict({"name": "Gain", "min_gain_db": deep_list})


def test_load_pipeline_depth_limit_leaves_real_pipelines_alone():
    t = load_pipeline(_nested(30))  # 30 compositions: 61 levels of dicts and lists
    assert t(np.ones(4), sample_rate=SR, rng=0).shape == (4,)
    shared = 0.0
    for _ in range(40):  # 2**40 leaves, 41 levels: a shared structure is walked once per level
        shared = [shared, shared]
    with pytest.raises(ParameterError, match="min_gain_db must be a finite real"):
        Transform.from_dict({"name": "Gain", "min_gain_db": shared})


@pytest.mark.parametrize("bad", [(-1000.0, 10.0), (0.0, 1e6), (-101.0, 0.0), (0.0, 201.0)])
def test_snr_ranges_are_bounded_at_construction(bad, data_dir):
    """A config's SNR outside mix_at_snr's range fails when the pipeline is built, not once per file."""
    lo, hi = bad
    makers = [
        lambda: noisegen.AddColoredNoise(min_snr_db=lo, max_snr_db=hi),
        lambda: noisegen.AddBackgroundNoise(str(data_dir / "noise"), min_snr_db=lo, max_snr_db=hi),
        lambda: noisegen.AddShortNoises(str(data_dir / "noise"), min_snr_db=lo, max_snr_db=hi),
    ]
    for make in makers:
        with pytest.raises(noisegen.ParameterError, match="snr_db"):
            make()
    noisegen.AddColoredNoise(min_snr_db=-100.0, max_snr_db=200.0)  # the ends of the range are fine


# -- a range the constructor accepts is one the apply path takes --------------------------------

_GAINS = [-1e308, -1e6, -130.0, -121.0, -120.0, -61.0, -60.0, -6.0, 0.0, 6.0, 60.0, 61.0, 120.0, 121.0, 130.0, 1e308]


@pytest.mark.parametrize("cls", [Gain, PeakingEQ, LowShelf, HighShelf], ids=lambda c: c.__name__)
def test_every_gain_range_the_constructor_accepts_is_applied_and_replayed(cls):
    """Gain(130, 130) and PeakingEQ(gain 100) were built, then refused on every call; a (-1e308, 1e308)
    range raised numpy's OverflowError on drawing. Over all pairs of gains: refused at construction, or
    drawn, applied and replayed."""
    y = 0.1 * np.random.default_rng(0).standard_normal(800)
    accepted = 0
    for lo in _GAINS:
        for hi in _GAINS:
            try:
                t = cls(min_gain_db=lo, max_gain_db=hi, p=1.0)
            except ParameterError:
                continue
            accepted += 1
            for seed in range(3):
                out = t(y, sample_rate=SR, rng=seed)
                assert np.array_equal(out, t.apply_params(y, t.last_params, sample_rate=SR)), (lo, hi, seed)
    assert accepted >= 15  # the ordered pairs of -60, -6, 0, 6, 60 (in every range) still build


_EXTREMES = [-1e308, -1e6, -130.0, -121.0, -61.0, -1.0, 0.0, 1e-300, 1e-3, 0.5, 1.0, 99.99, 129.0, 1001.0, 8001.0,
             1e6, 1e308]
_PAIRS = [(v, v) for v in _EXTREMES] + [(-1e308, 1e308), (-1e308, 0.0), (0.0, 1e308), (-130.0, 130.0), (0.5, 1e308)]


def _range_pairs(cls):
    names = [p.name for p in inspect.signature(cls.__init__).parameters.values() if p.kind == p.KEYWORD_ONLY]
    return [(n, "max_" + n[4:]) for n in names if n.startswith("min_") and "max_" + n[4:] in names]


_RANGED = [cls for cls in TRANSFORM_CLASSES if _range_pairs(cls)]


@pytest.mark.parametrize("cls", _RANGED, ids=[cls.__name__ for cls in _RANGED])
def test_every_range_the_constructor_accepts_is_drawn_applied_and_replayed(cls, data_dir):
    """Each min/max pair of every transform over extremes: refused at construction with a
    ParameterError, or drawn, applied and replayed at 8 and 48 kHz. AddShortNoises with
    min_time_between_s=1e308 was built, then refused on every call (its first gap became a sample
    count); the gain ranges are the test above's."""
    y = 0.1 * np.random.default_rng(0).standard_normal(1600)
    for lo_name, hi_name in _range_pairs(cls):
        for lo, hi in _PAIRS:
            try:
                t = _minimal(cls, data_dir, **{lo_name: lo, hi_name: hi})
            except ParameterError:
                continue
            for sr in (8000, 48000):
                for seed in range(2):
                    out = t(y, sample_rate=sr, rng=seed)
                    replay = t.apply_params(y, t.last_params, sample_rate=sr)
                    assert np.array_equal(out, replay), (lo_name, lo, hi, sr, seed)


@pytest.mark.parametrize("build, needle", [
    (lambda: Gain(min_gain_db=130, max_gain_db=130), "min_gain_db must be in [-120, 120], got 130"),
    (lambda: Gain(min_gain_db=-121, max_gain_db=0), "min_gain_db must be in [-120, 120]"),
    (lambda: Gain(min_gain_db=-1e308, max_gain_db=1e308), "min_gain_db must be in [-120, 120]"),
    (lambda: PeakingEQ(min_gain_db=0, max_gain_db=61), "max_gain_db must be in [-60, 60], got 61"),
    (lambda: PeakingEQ(min_gain_db=-1e308, max_gain_db=1e308), "min_gain_db must be in [-60, 60]"),
    (lambda: PeakingEQ(min_q=0.5, max_q=1001), "max_q must be in [0.001, 1000], got 1001"),
    (lambda: load_pipeline({"name": "Gain", "min_gain_db": 130, "max_gain_db": 130}), "min_gain_db"),
    (lambda: AddColoredNoise(min_freq_hz=1e308), "min_freq_hz must be in [1e-06, 384000)"),
    (lambda: AddColoredNoise(min_freq_hz=1e-300), "min_freq_hz must be in [1e-06, 384000)"),
    (lambda: TimeMask(fade_s=1e6), "fade_s must be in [0, 2796.2"),
    (lambda: OneOf([Gain(), Clip()], weights=[1e308, 1e308]), "weights must have a finite float64 sum"),
])
def test_ranges_the_apply_path_refuses_are_refused_at_construction(build, needle):
    with pytest.raises(ParameterError) as info:
        build()
    assert needle in str(info.value)


def test_uniform_range_refuses_a_span_that_overflows():
    from noisegen.transforms.params import draw_uniform, uniform_range

    with pytest.raises(ParameterError, match="max_x - min_x must be a finite float64"):
        uniform_range(-1e308, 1e308, "min_x", "max_x")
    lo, hi = uniform_range(-8e307, 8e307, "min_x", "max_x")  # the widest spans still draw
    gen = np.random.default_rng(0)
    assert all(lo <= draw_uniform(gen, lo, hi) <= hi for _ in range(100))


@pytest.mark.parametrize("sample_rate", [16000, 48000, 768000])
def test_shift_in_seconds_replays_what_it_draws_at_any_rate(sample_rate):
    """A day's shift at 48 kHz is 4.1e9 samples: drawn, but refused on replay (limit 2**31) before."""
    y = np.random.default_rng(0).standard_normal(1000)
    for seconds in (-86400.0, -50000.0, 50000.0, 86400.0):
        t = Shift(min_shift=seconds, max_shift=seconds, shift_unit="seconds", p=1.0)
        out = t(y, sample_rate=sample_rate, rng=0)
        assert np.array_equal(out, t.apply_params(y, t.last_params, sample_rate=sample_rate))


@pytest.mark.parametrize("cls", TRANSFORM_CLASSES, ids=_CLASS_IDS)
def test_output_length_checks_what_it_is_given(cls, data_dir):
    """output_length used its arguments unchecked: another transform's params (or None) raised KeyError or
    TypeError, and n=-5, 1.5 or "10" came back as a "length" (-5, 13416.5 or "10")."""
    t = _minimal(cls, data_dir)
    y = 0.1 * np.random.default_rng(0).standard_normal(4801)
    for n, sample_rate in ((1601, SR), (0, SR), (1, 8000), (4801, 48000)):
        out = t(y[:n], sample_rate=sample_rate, rng=2)
        params = json.loads(json.dumps(t.last_params))
        assert t.output_length(n, sample_rate, params) == out.shape[-1]
        assert t.output_length(np.int64(n), np.int64(sample_rate), params) == out.shape[-1]
    other = Gain(p=1.0) if cls is not Gain else Clip(p=1.0)
    foreign = [None, {"name": cls.__name__, "applied": "yes"}, other.draw_params(None, sample_rate=SR, rng=0), [params]]
    for bad in foreign:
        with pytest.raises(ParameterError, match=r"^params"):
            t.output_length(1601, SR, bad)
    for n in (-5, 1.5, "10", None, 1e300):
        with pytest.raises(ParameterError, match=r"^n\b"):
            t.output_length(n, SR, params)
    for sample_rate in (0, 16000.5, "16000", None):
        with pytest.raises(ParameterError, match=r"^sample_rate must be"):
            t.output_length(1601, sample_rate, params)


def test_the_brown_noise_band_snr_stays_within_the_figure_the_docstring_states():
    # AddColoredNoise's docstring said brown noise's SNR over [20 Hz, Nyquist] was off by 0.07 dB
    # at most; 2 in 100 one-second draws at 16 kHz went past it (0.086 dB), so it states 100 draws' worst
    import re

    stated = float(re.search(r"([0-9.]+) dB at most in 100 at 16 kHz", " ".join(AddColoredNoise.__doc__.split()))[1])
    t = AddColoredNoise(min_beta=2.0, max_beta=2.0, min_snr_db=10.0, max_snr_db=10.0, p=1.0)
    worst = 0.0
    for seed in range(100):
        x = 0.1 * np.random.default_rng(seed).standard_normal(SR)
        noise = t(x, sample_rate=SR, rng=seed) - x
        worst = max(worst, abs(10 * np.log10(_band_power(x, 20.0) / _band_power(noise, 20.0)) - 10.0))
    assert worst <= stated


def test_a_uniform_draw_is_numpys_bit_for_bit_and_advances_the_generator_as_far():
    """draw_uniform computes Generator.uniform's low + (high - low) * random() itself (1.2 us less a draw)."""
    from noisegen.transforms.params import draw_uniform

    grid = np.random.default_rng(5)
    for i in range(3000):
        lo, hi = sorted(grid.standard_normal(2) * 10.0 ** grid.integers(-6, 7, 2))
        if i % 5 == 0:
            lo, hi = int(grid.integers(-100, 100)), int(grid.integers(100, 200))
        ours, numpys = np.random.default_rng(i), np.random.default_rng(i)
        assert draw_uniform(ours, lo, hi) == float(numpys.uniform(lo, hi))
        assert ours.random() == numpys.random()
    assert draw_uniform(np.random.default_rng(0), 2.5, 2.5) == 2.5
    with pytest.raises(OverflowError):
        draw_uniform(np.random.default_rng(0), -1e308, 1e308)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("factory", [
    lambda: noisegen.Gain(p=1.0), lambda: noisegen.BitCrush(p=1.0), lambda: noisegen.Clip(p=1.0),
    lambda: noisegen.Normalize(p=1.0), lambda: noisegen.PolarityInversion(p=1.0),
    lambda: noisegen.Shift(rollover=True, p=1.0), lambda: noisegen.Shift(rollover=False, p=1.0),
], ids=["gain", "bitcrush", "clip", "normalize", "polarity", "shift-roll", "shift-zeros"])
def test_a_sample_by_sample_transform_keeps_a_fortran_order_input_in_its_order(factory, dtype):
    """Shift and BitCrush, made one kernel pass over C-ordered samples, returned Fortran-order stereo
    C-ordered (np.roll and NumPy's arithmetic keep the input's order, as Normalize's pass does): the
    order comes back as it went in, the samples those of the C-ordered input."""
    rng = np.random.default_rng(4)
    for shape in [(2, 1001), (5, 64)]:
        y = (rng.standard_normal(shape) * 0.3).astype(dtype)
        for seed in range(3):
            want = factory()(y, sample_rate=16000, rng=seed)
            out = factory()(np.asfortranarray(y), sample_rate=16000, rng=seed)
            assert out.flags.f_contiguous and out.dtype == dtype, shape
            assert out.tobytes(order="C") == want.tobytes(order="C"), (shape, seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_a_call_refuses_nan_and_inf_in_any_layout_and_takes_the_largest_finite_values(dtype):
    """A call scans its input for NaN and inf by the bits of the samples' magnitudes (NumPy's scan where the
    samples are not contiguous): one NaN, inf or -inf anywhere, in C or Fortran order or a strided view,
    is refused naming y, applied or not, in a call and a replay; the largest finite values, subnormals and
    -0.0 pass."""
    big = np.finfo(dtype).max
    for bad in (np.nan, np.inf, -np.inf, -np.nan):
        for shape, at in [((1,), 0), ((16001,), 16000), ((16001,), 7), ((2, 999), (1, 998)), ((3, 64), (0, 0))]:
            y = np.zeros(shape, dtype)
            y[at] = bad
            for view in (y, np.asfortranarray(y), np.repeat(y, 2, axis=-1)[..., ::2]):
                for p in (1.0, 0.0):
                    with pytest.raises(ParameterError, match="y must be finite, got 1 NaN/inf"):
                        Gain(p=p)(view, sample_rate=16000, rng=0)
                with pytest.raises(ParameterError, match="y must be finite"):
                    Gain(p=1.0).apply_params(view, {"name": "Gain", "applied": False}, sample_rate=16000)
    edge = np.array([[big, -big, np.finfo(dtype).smallest_subnormal, -0.0]], dtype)
    for view in (edge, edge[0], np.asfortranarray(np.repeat(edge, 2, axis=0)), edge[:, ::-1], edge[:, :0]):
        assert np.array_equal(Gain(min_gain_db=0, max_gain_db=0, p=1.0)(view, sample_rate=16000, rng=0), view)


@pytest.mark.parametrize("cls", [AddColoredNoise, AddShortNoises, noisegen.PacketLoss, noisegen.RoomSimulator],
                         ids=lambda c: c.__name__)
def test_a_recorded_seed_that_went_through_a_float_is_refused_not_replayed_as_other_noise(cls, data_dir):
    # seeds are drawn in [0, 2**63): one held as a float64 past 2**53 (a pandas column with NaN for the
    # calls not applied, JavaScript) lost its low digits, and the replay gave other noise with no error
    t = _minimal(cls, data_dir)
    params = _valid_params(t)
    y = np.random.default_rng(0).standard_normal(1600)
    seed = params["seed"]
    assert seed >= 2**53  # (a draw in [0, 2**63): nearly always)
    for lossy in (float(seed), np.float64(seed)):
        with pytest.raises(ParameterError, match=r"params\['seed'\].*float"):
            t.apply_params(y, {**params, "seed": lossy}, sample_rate=SR)
    with pytest.raises(ParameterError, match=r"params\['seed'\]"):  # (a 0-d array: not an integer at all)
        t.apply_params(y, {**params, "seed": np.array(float(seed))}, sample_rate=SR)
    # exact forms replay as the int does: numpy ints, a whole float below 2**53
    out = t.apply_params(y, params, sample_rate=SR)
    np.testing.assert_array_equal(t.apply_params(y, {**params, "seed": np.uint64(seed)}, sample_rate=SR), out)
    small = t.apply_params(y, {**params, "seed": 12345}, sample_rate=SR)
    np.testing.assert_array_equal(t.apply_params(y, {**params, "seed": 12345.0}, sample_rate=SR), small)
