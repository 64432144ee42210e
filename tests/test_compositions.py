"""OneOf/SomeOf: a chosen child always applies, whatever its own p (issue 13.16)."""

from __future__ import annotations

import numpy as np
import pytest

from noisegen.transforms import Compose, Gain, OneOf, SomeOf, TimeMask

SR = 16000
N_CALLS = 4000


def _fire_counts(comp, n_calls=N_CALLS, seed=0):
    """How often the composition and each child applied, over seeded calls."""
    gen = np.random.default_rng(seed)
    y = np.full(64, 0.25, dtype=np.float32)
    applied, per_child = 0, np.zeros(len(comp), dtype=int)
    for _ in range(n_calls):
        comp(y, sample_rate=SR, rng=gen)
        params = comp.last_params
        if params["applied"]:
            applied += 1
            for i, child in zip(params["indices"], params["transforms"]):
                assert child["applied"], child  # chosen means applied
                per_child[i] += 1
    return applied / n_calls, per_child / n_calls


def _within(rate, expected, n=N_CALLS):
    """Within 5 binomial standard deviations (the seeds are fixed: no flakes)."""
    return abs(rate - expected) <= 5 * np.sqrt(expected * (1 - expected) / n) + 1e-12


def _children(child_p, n):
    gains = [Gain(min_gain_db=g, max_gain_db=g, p=child_p) for g in (-6.0, 3.0, 6.0)]
    return (gains + [TimeMask(p=child_p)])[:n]


@pytest.mark.parametrize("child_p", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("p", [0.25, 0.5, 1.0])
def test_oneof_fires_each_child_at_its_weight_whatever_its_own_p(p, child_p):
    weights = [1.0, 2.0, 1.0]
    rate, per_child = _fire_counts(OneOf(_children(child_p, 3), weights=weights, p=p), seed=int(100 * p + child_p))
    assert _within(rate, p)
    for got, w in zip(per_child, weights):
        assert _within(got, p * w / sum(weights)), (got, p * w / sum(weights))


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 1.0], [0.0, 1.0, 0.0], [5.0, 0.0, 1e-9], [0.1] * 7, [3.0]])
def test_oneof_draws_what_generator_choice_draws(weights):
    # the choice is Generator.choice(n, p=...)'s own: same index, same generator state after it,
    # so a seed picks the same transforms as it always did (and zero weights are never picked)
    n = 3 if weights is None else len(weights)
    comp = OneOf([Gain(p=1.0) for _ in range(n)], weights=weights)
    probs = np.full(n, 1.0 / n) if weights is None else np.asarray(weights) / sum(weights)
    for seed in range(2000):
        ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
        (index,) = comp._choose(ours)
        assert index == int(theirs.choice(n, p=probs)) and probs[index] > 0, (weights, seed)
        assert ours.random() == theirs.random()


@pytest.mark.parametrize("child_p", [0.0, 0.5])
@pytest.mark.parametrize("k, mean_k", [(2, 2.0), ((1, 3), 2.0), ((0, 1), 0.5)])
def test_someof_fires_k_children_whatever_their_own_p(k, mean_k, child_p):
    n, p = 4, 0.5
    rate, per_child = _fire_counts(SomeOf(_children(child_p, n), k=k, p=p), seed=7)
    assert _within(rate, p)
    for got in per_child:
        assert _within(got, p * mean_k / n), (got, p * mean_k / n)


def test_a_chosen_nested_composition_applies_and_its_children_keep_their_p():
    inner = Compose([Gain(p=0.3), TimeMask(p=0.3)], p=0.1)
    outer = OneOf([inner, Gain(p=0.0)], p=1.0)
    gen = np.random.default_rng(3)
    inner_runs, grandchild_runs = 0, 0
    for _ in range(N_CALLS):
        outer(np.full(64, 0.25), sample_rate=SR, rng=gen)
        if outer.last_params["indices"] == [0]:
            nested = outer.last_params["transforms"][0]
            assert nested["applied"]
            inner_runs += 1
            grandchild_runs += sum(c["applied"] for c in nested["transforms"])
    assert _within(inner_runs / N_CALLS, 0.5)
    assert _within(grandchild_runs / (2 * inner_runs), 0.3, n=2 * inner_runs)


def test_chosen_children_replay_exactly():
    comp = SomeOf([Gain(p=0.2), TimeMask(p=0.2), Gain(min_gain_db=-3, max_gain_db=-1, p=0.0)], k=(1, 3), p=1.0)
    y = np.random.default_rng(0).standard_normal((2, 800)).astype(np.float32)
    for seed in range(20):
        out = comp(y, sample_rate=SR, rng=seed)
        np.testing.assert_array_equal(comp.apply_params(y, sample_rate=SR, params=comp.last_params), out)
        assert not np.array_equal(out, y)  # something always ran


def test_a_replay_no_draw_could_make_is_refused():
    # Compose.apply_params ran a child twice (indices [0, 0]) or dropped one ([0]): no draw makes either
    import copy

    from noisegen import ParameterError, TimeStretch

    y = np.random.default_rng(0).standard_normal(SR // 2).astype(np.float32) * 0.1
    cases = [
        (Compose([TimeStretch(min_rate=1.25, max_rate=1.25, p=1.0), Gain(p=1.0)], shuffle=True),
         [[0, 0], [1], [0, 1, 1], []], "an order of all 2 children"),
        (Compose([Gain(p=1.0), TimeMask(p=1.0)]), [[1, 0], [0]], r"\[0, 1\] \(every child, in order"),
        (OneOf([Gain(p=1.0), TimeMask(p=1.0)]), [[0, 1], []], "one child's index"),
        (SomeOf([Gain(p=1.0), TimeMask(p=1.0), Gain(p=1.0)], k=2), [[1, 0], [2, 2], [0]], "2..2 distinct"),
    ]
    for pipe, bad, why in cases:
        out = pipe(y, sample_rate=SR, rng=3)
        good = copy.deepcopy(pipe.last_params)
        np.testing.assert_array_equal(pipe.apply_params(y, good, sample_rate=SR), out)
        for indices in bad:
            params = copy.deepcopy(good)
            params["indices"] = indices
            params["transforms"] = [good["transforms"][0]] * len(indices)
            with pytest.raises(ParameterError, match=rf"^params\['indices'\] must be {why}"):
                pipe.apply_params(y, params, sample_rate=SR)


def test_an_error_in_a_nested_config_says_where_it_sits():
    """load_pipeline named the bad argument but not which of a pipeline's transforms held it."""
    from noisegen import ParameterError, load_pipeline

    bad_gain = {"name": "Gain", "min_gain_db": "x"}
    cases = [
        ({"name": "Compose", "transforms": [{"name": "Gain"}, {"name": "OneOf", "transforms": [{"name": "Gain"}, bad_gain]}]},
         "transforms[1] (OneOf) > transforms[1] (Gain): min_gain_db must be"),
        ([{"name": "Gain"}, {"name": "SomeOf", "k": 1, "transforms": [{"name": "Gain", "bogus": 1}]}],
         "transforms[1] (SomeOf) > transforms[0] (Gain): bad arguments for Gain"),
        ([{"name": "Nope"}], "transforms[0] (Nope): unknown transform name 'Nope'"),
        # torch-audiomentations' shape of a config: it said "unknown transform name None"
        ({"transform": "Gain", "params": {"min_gain_in_db": -12.0}}, "no 'name' in keys ['params', 'transform']; "
                                                                     "expected one of AddBackgroundNoise"),
        ([{"name": "Gain"}, {"transform": "Compose", 3: []}], "transforms[1]: no 'name' in keys ['3', 'transform']"),
        ({}, "no 'name' in keys []"),
        ([5], "transforms[0] must be a Transform"),
        ({"name": "AddBackgroundNoise", "noise": ".", "noise_transform": {"name": "Compose", "transforms": [bad_gain]}},
         "noise_transform (Compose) > transforms[0] (Gain): min_gain_db must be"),
        ({"name": "ApplyImpulseResponse", "rir": {"name": "RoomSimulator", "p": "q"}}, "rir (RoomSimulator): p must be"),
        ({"name": "Gain", "p": 2}, "p must be in [0, 1], got 2"),
    ]
    for config, start in cases:
        with pytest.raises(ParameterError) as caught:
            load_pipeline(config)
        assert str(caught.value).startswith(start), str(caught.value)


@pytest.mark.parametrize("build", [lambda: Compose([Gain, TimeMask(p=1.0)]), lambda: OneOf([Gain()] + [TimeMask]),
                                   lambda: SomeOf([Gain(), TimeMask], k=1)])
def test_a_transform_class_given_for_a_transform_is_said_to_need_calling(build):
    # it said "transforms[0] must be a Transform (or its dict), got type"
    from noisegen import ParameterError

    with pytest.raises(ParameterError, match=r"must be a Transform \(or its dict\), got <class 'noisegen\.transforms\."
                                             r"\w+\.\w+'> \(a class: call it, (Gain|TimeMask)\(\)\)$"):
        build()
    with pytest.raises(ParameterError, match=r"^transforms\[1\] must be a Transform \(or its dict\), got 5$"):
        Compose([Gain(), 5])


@pytest.mark.parametrize("k, said", [
    ([[1], 1], r"k\[0\] must be an integer, got \[1\]"), ([1, [2]], r"k\[1\] must be an integer, got \[2\]"),
    (([1, 2], [3]), r"k\[0\] must be an integer"), ([[1, 2], [3, 4]], r"k\[0\] must be an integer"),
    (np.array([[1, 2], [1, 2]]), "k must be an int or a"), (np.array(1), "k must be an int or a"),
    ([1], "k must be an int or a"), ([1, 2, 3], "k must be an int or a"), ("12", "k must be an int or a"),
])
def test_someof_k_that_is_no_count_or_pair_is_a_parameter_error_naming_it(k, said):
    # a ragged k ([[1], 1], from a config) raised NumPy's bare ValueError ("inhomogeneous shape")
    from noisegen import ParameterError, load_pipeline

    builds = [lambda: SomeOf([Gain(), Gain()], k=k)]
    if not isinstance(k, np.ndarray):  # (a config's k is JSON)
        builds.append(lambda: load_pipeline({"name": "SomeOf", "transforms": [{"name": "Gain"}] * 2, "k": k}))
    for build in builds:
        with pytest.raises(ParameterError, match=said):
            build()
    assert SomeOf([Gain(), Gain()], k=np.array([1, 2])).k == (1, 2)  # a pair as an array still builds


def test_a_replay_of_a_chosen_child_that_did_not_apply_or_of_weight_zero_is_refused():
    # OneOf/SomeOf replays ran a chosen child recorded as not applied, or OneOf's child of weight 0: no draw
    # makes either (a chosen child always applies; a weight of 0 is never drawn)
    import copy

    from noisegen import ParameterError

    y = np.random.default_rng(0).standard_normal(SR // 4) * 0.1
    for pipe in (OneOf([Gain(p=1.0), TimeMask(p=1.0)]), SomeOf([Gain(p=1.0), TimeMask(p=1.0)], k=(1, 2)),
                 OneOf([Gain(p=1.0), TimeMask(p=1.0)], weights=[0.0, 1.0])):
        for seed in range(6):
            out = pipe(y, sample_rate=SR, rng=seed)
            good = copy.deepcopy(pipe.last_params)
            np.testing.assert_array_equal(pipe.apply_params(y, good, sample_rate=SR), out)
            for j in range(len(good["transforms"])):
                bad = copy.deepcopy(good)
                bad["transforms"][j] = {"name": bad["transforms"][j]["name"], "applied": False}
                with pytest.raises(ParameterError, match=rf"params\['transforms'\]\[{j}\]\['applied'\] must be True"):
                    pipe.apply_params(y, bad, sample_rate=SR)
    weighted = OneOf([Gain(p=1.0), TimeMask(p=1.0)], weights=[0.0, 1.0])
    weighted(y, sample_rate=SR, rng=0)
    bad = copy.deepcopy(weighted.last_params)
    bad["indices"], bad["transforms"] = [0], [Gain(p=1.0).draw_params(y, sample_rate=SR, rng=0)]
    with pytest.raises(ParameterError, match="one index of a child whose weight is above 0"):
        weighted.apply_params(y, bad, sample_rate=SR)


@pytest.mark.parametrize("force", ["no", 0, 1, None, np.array([True])])
def test_draw_params_force_must_be_a_bool(force):
    # force="no" forced the transform to apply (read as truthy)
    from noisegen import ParameterError

    for t in (Gain(p=0.0), Compose([Gain(p=1.0)], p=0.0)):
        with pytest.raises(ParameterError, match="force must be True or False"):
            t.draw_params(None, sample_rate=SR, rng=0, force=force)
        assert t.draw_params(None, sample_rate=SR, rng=0, force=np.bool_(True))["applied"]


def test_someof_takes_a_whole_float_k_as_it_takes_a_pair_of_them():
    # k=[2.0, 2.0] built and k=2.0 was refused
    from noisegen import ParameterError

    assert SomeOf([Gain(), Gain()], k=2.0).k == SomeOf([Gain(), Gain()], k=[2.0, 2.0]).k == (2, 2)
    assert SomeOf([Gain(), Gain()], k=np.int64(1)).k == (1, 1)
    for k in (2.5, float("nan"), 3.0, -1.0, True):
        with pytest.raises(ParameterError, match="k"):
            SomeOf([Gain(), Gain()], k=k)


@pytest.mark.parametrize("k", [[np.zeros(3), np.zeros(5)], (np.zeros(2), 1), [1, [1, 2]], ([0], [1, 2, 3]),
                               [np.ones(2), None]], ids=repr)
def test_someof_k_of_two_things_not_integers_names_k(k):
    """A k of two items that are not integers is a ParameterError naming k: np.ndim(k) made an array of a
    ragged pair first, and NumPy's "setting an array element with a sequence" ValueError came out."""
    from noisegen import ParameterError

    with pytest.raises(ParameterError, match=r"^k(\[[01]\])? must be"):
        SomeOf([Gain(p=1.0), TimeMask(p=1.0)], k=k)


@pytest.mark.parametrize("kind", ["Compose", "OneOf", "SomeOf", "nested"])
def test_a_previewed_pipeline_pickles_and_copies_without_its_draws_audio(kind):
    """draw_params(y) keeps the composition's output for the call that applies it: the pipeline then pickled
    (to every DataLoader worker or Ray task) and deep-copied with its input and output, 80 MB for a
    10-million-sample preview. Neither is one now, and the copies give the same audio."""
    import copy
    import pickle

    leaf = [Gain(min_gain_db=-6.0, max_gain_db=6.0, p=1.0), TimeMask(p=1.0)]
    t = {"Compose": lambda: Compose(leaf), "OneOf": lambda: OneOf(leaf), "SomeOf": lambda: SomeOf(leaf, k=2),
         "nested": lambda: Compose([OneOf([Compose(leaf)]), SomeOf([Compose(leaf)], k=1)])}[kind]()
    small = len(pickle.dumps(t))
    y = np.random.default_rng(2).standard_normal(200_000).astype(np.float32) * 0.1
    for seed in range(3):
        params = t.draw_params(y, sample_rate=16000, rng=seed)
        for other in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
            assert len(pickle.dumps(other)) < small + 4000  # (last_params: a few hundred bytes)
            np.testing.assert_array_equal(other.apply_params(y, params, sample_rate=16000),
                                          t.apply_params(y, params, sample_rate=16000))
            np.testing.assert_array_equal(other(y, sample_rate=16000, rng=seed), t(y, sample_rate=16000, rng=seed))
        assert len(pickle.dumps(t)) < small + 4000


def test_someof_whose_children_were_removed_in_place_says_so_by_k():
    # SomeOf([a, b, c], k=3) with a child popped from its list drew through NumPy's ValueError ("Cannot
    # take a larger sample than population"); k is checked against the children as they stand
    from noisegen import ParameterError
    t = SomeOf([Gain(p=1.0), Gain(p=1.0), TimeMask(p=1.0)], k=(1, 3))
    t.transforms.pop()
    with pytest.raises(ParameterError, match=r"^k\[1\] must be an integer in \[0, 2\], got 3"):
        t(np.ones(800), sample_rate=16000, rng=0)
    t.transforms.append(Gain(p=1.0))
    assert t(np.ones(800), sample_rate=16000, rng=0).shape == (800,)


@pytest.mark.parametrize("composition", ["Compose", "OneOf", "SomeOf"])
def test_a_composition_drawing_on_audio_refuses_nan_and_inf_as_its_call_does(composition):
    """A composition's draw applies its children to the audio. Their applications scanned it for NaN/inf
    until the cheap ones applied what they drew unchecked: Compose([Clip()]).draw_params(nan) drew, and the
    draw a call makes refused. A draw on audio scans it now; on a shape nothing is scanned."""
    import noisegen as ng
    from noisegen import ParameterError
    from noisegen.transforms.shape import SignalShape

    children = [ng.Clip(p=1.0), ng.BitCrush(p=1.0), ng.TimeMask(p=1.0), ng.Shift(p=1.0), ng.Normalize(p=1.0)]
    t = getattr(ng, composition)(children, p=1.0, **({"k": 3} if composition == "SomeOf" else {}))
    y = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    for bad in (np.nan, np.inf):
        for view in (y.copy(), np.stack([y, y]), np.stack([y, y]).T.copy().T):
            view[..., 1234] = bad
            with pytest.raises(ParameterError, match=rf"y must be finite, got {view.ndim} NaN/inf"):
                t.draw_params(view, sample_rate=16000, rng=0)
            with pytest.raises(ParameterError, match="y must be finite"):
                t(view, sample_rate=16000, rng=0)
    drawn = t.draw_params(y, sample_rate=16000, rng=3)
    t(y, sample_rate=16000, rng=3)
    assert drawn == t.last_params
    assert t.draw_params(SignalShape((4000,)), sample_rate=16000, rng=3)["applied"]
