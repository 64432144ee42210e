"""Mixing at SNR: the SNR law on real audio, wrap-around, silent and non-finite inputs, babble."""

from __future__ import annotations

import collections
import collections.abc
import warnings

import numpy as np
import pytest

import noisegen as ng
from noisegen._kernels.cpu import mix as K

SR = 16000


def snr_db(signal, added, reference="rms"):
    """Achieved SNR, measured independently of the implementation."""
    s2 = np.atleast_2d(np.asarray(signal, np.float64))
    a2 = np.atleast_2d(np.asarray(added, np.float64))
    if reference == "rms":
        p_s = np.mean(s2 ** 2)
    else:
        frame = 320
        n = s2.shape[1]
        energies, lengths = [], []
        for a in range(0, n, frame):
            energies.append(np.mean(s2[:, a:a + frame] ** 2))
            lengths.append(min(frame, n - a))
        energies, lengths = np.array(energies), np.array(lengths)
        whole = energies[:n // frame]  # the loudest whole frame sets the threshold (any, if those are silent)
        act = energies >= (whole.max() if whole.size and whole.max() > 0 else energies.max()) / 1e4
        p_s = np.sum(energies[act] * lengths[act]) / np.sum(lengths[act])
    return 10 * np.log10(p_s / np.mean(a2 ** 2))


def naive_mix(signal, noise, snr, offset=0):
    """Slow twin: build the tiled crop explicitly, then scale and add."""
    n = signal.shape[-1]
    crop = noise[..., (offset + np.arange(n)) % noise.shape[-1]]
    g = np.sqrt(np.mean(signal.astype(np.float64) ** 2) / (np.mean(crop.astype(np.float64) ** 2) * 10 ** (snr / 10)))
    return signal + g * crop


@pytest.mark.parametrize("reference", ["rms", "active"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_snr_within_0_01_db_on_real_audio(speech_16k, noise_16k, data_dir, reference, dtype):
    typing = ng.NoiseBank(data_dir / "noise" / "typing_excerpt.wav", sample_rate=SR)[0]
    rng = np.random.default_rng(0)
    speech = speech_16k.astype(dtype)
    for noise in (noise_16k.astype(dtype), typing):
        for target in np.arange(-10.0, 40.5, 2.5):
            offset = int(rng.integers(noise.shape[0]))
            out = ng.mix_at_snr(speech, noise, snr_db=target, noise_offset=offset, reference=reference,
                                sample_rate=SR)
            assert out.dtype == speech.dtype and out.shape == speech.shape
            added = out.astype(np.float64) - speech.astype(np.float64)
            assert abs(snr_db(speech, added, reference) - target) < 0.01


def test_active_reference_ignores_silence(speech_16k, noise_16k):
    padded = np.concatenate([np.zeros(3 * SR), speech_16k, np.zeros(3 * SR)])
    rms = ng.mix_at_snr(padded, noise_16k, snr_db=10.0)
    act = ng.mix_at_snr(padded, noise_16k, snr_db=10.0, reference="active", sample_rate=SR)
    # with 6 s of silence the whole-clip power is lower, so "rms" adds less noise
    assert np.mean((act - padded) ** 2) > 2 * np.mean((rms - padded) ** 2)
    assert abs(snr_db(padded, act - padded, "active") - 10.0) < 0.01


def test_active_threshold_is_not_set_by_a_last_frame_cut_short(speech_16k):
    """reference="active" keeps the frames within 40 dB of the loudest whole 20 ms frame. A last frame of
    a few samples has the mean square of a peak and set the threshold instead: one more sample of speech
    moved the noise by up to 1.6 dB (real speech cut mid-word), in mix_at_snr and in the blockwise stream."""
    from noisegen.effects.mix_stream import SignalPower

    y = np.asarray(speech_16k, np.float64)
    signs = np.random.default_rng(5).choice([-1.0, 1.0], y.shape[0] + 8)  # every crop has power 1
    starts = np.arange(5, y.shape[0] // 320 - 1) * 320
    for n in starts[np.argsort(-np.abs(y[starts]))[:6]]:  # cut where a peak starts the short frame
        base = ng.mix_at_snr(y[:n], signs, snr_db=10.0, reference="active", sample_rate=SR) - y[:n]
        for extra in (1, 3, 17):
            cut = y[:n + extra]
            added = ng.mix_at_snr(cut, signs, snr_db=10.0, reference="active", sample_rate=SR) - cut
            assert abs(snr_db(cut, added, "active") - 10.0) < 1e-6
            assert abs(10 * np.log10(np.mean(added ** 2) / np.mean(base ** 2))) < 0.1, (n, extra)
            power = SignalPower("active", SR)
            for a in range(0, cut.shape[0], 777):
                power.feed(cut[None, a:a + 777])
            assert power.power() == pytest.approx(np.mean(added ** 2) * 10.0, rel=1e-9)


def test_matches_naive_twin_and_wraps_without_concatenation():
    rng = np.random.default_rng(1)
    signal, noise = rng.standard_normal(10_000), rng.standard_normal(777)
    for offset in (0, 5, 776, 777 * 3 + 10):
        out = ng.mix_at_snr(signal, noise, snr_db=3.0, noise_offset=offset)
        np.testing.assert_allclose(out, naive_mix(signal, noise, 3.0, offset), rtol=1e-10, atol=1e-12)


def test_noise_offset_continues_a_stream():
    rng = np.random.default_rng(2)
    signal, noise = rng.standard_normal(3000), rng.standard_normal(1100)
    whole = ng.mix_at_snr(signal, noise, snr_db=None)
    parts = [ng.mix_at_snr(signal[a:a + 700], noise, snr_db=None, noise_offset=a) for a in range(0, 3000, 700)]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-15)


def test_snr_none_adds_as_is():
    signal = np.linspace(-1, 1, 50)
    noise = np.full(20, 0.1)
    np.testing.assert_allclose(ng.mix_at_snr(signal, noise, snr_db=None), signal + 0.1)


def test_multichannel_mono_noise_broadcasts_and_per_channel_noise():
    rng = np.random.default_rng(3)
    signal = rng.standard_normal((2, 4000)) * np.array([[1.0], [0.1]])
    mono = rng.standard_normal(1500)
    out = ng.mix_at_snr(signal, mono, snr_db=6.0)
    added = out - signal
    np.testing.assert_allclose(added[0], added[1])  # the same noise in every channel
    assert abs(snr_db(signal, added) - 6.0) < 1e-9  # one scale from powers over all channels
    per = rng.standard_normal((2, 1500))
    out2 = ng.mix_at_snr(signal, per, snr_db=6.0)
    np.testing.assert_allclose(out2, naive_mix(signal, per, 6.0), rtol=1e-10)
    with pytest.raises(ng.ParameterError):
        ng.mix_at_snr(signal, rng.standard_normal((3, 100)), snr_db=0.0)


@pytest.mark.parametrize("which", ["signal", "noise"])
@pytest.mark.parametrize("reference", ["rms", "active"])
def test_silent_input_warns_and_returns_signal_unchanged(which, reference):
    rng = np.random.default_rng(4)
    signal = np.zeros(1000) if which == "signal" else rng.standard_normal(1000)
    noise = np.zeros(300) if which == "noise" else rng.standard_normal(300)
    with pytest.warns(ng.NoisegenWarning, match=which):
        out = ng.mix_at_snr(signal, noise, snr_db=10.0, reference=reference, sample_rate=SR)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, signal)
    assert out is not signal


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises(bad):
    good = np.ones(100)
    broken = good.copy()
    broken[17] = bad
    with pytest.raises(ng.ParameterError, match=r"\by\b"):
        ng.mix_at_snr(broken, good, snr_db=0.0)
    with pytest.raises(ng.ParameterError, match="noise"):
        ng.mix_at_snr(good, broken, snr_db=0.0)
    with pytest.raises(ng.ParameterError, match=r"\by\b"):
        ng.mix_at_snr(broken, good, snr_db=None)
    with pytest.raises(ng.ParameterError):
        ng.add_background_noises(good, [broken], snr_db=0.0)


def test_bad_arguments():
    y = np.ones(10)
    for kwargs in (dict(snr_db=np.nan), dict(snr_db=0, reference="peak"), dict(snr_db=0, noise_offset=-1),
                   dict(snr_db=0, reference="active")):
        with pytest.raises(ng.ParameterError):
            ng.mix_at_snr(y, y, **kwargs)
    with pytest.raises(ng.ParameterError, match="integer"):
        ng.mix_at_snr(np.ones(10, np.int16), y, snr_db=0)
    with pytest.raises(ng.ParameterError):
        ng.mix_at_snr(y, np.ones(0), snr_db=0)


def test_kernels_match_numpy_twins():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 1001)).astype(np.float32)
    assert K.sum_squares(x) == pytest.approx(np.sum(x.astype(np.float64) ** 2), rel=1e-6)
    idx = (900 + np.arange(2500)) % 1001
    assert K.wrapped_sum_squares(x, 900, 2500) == pytest.approx(np.sum(x[:, idx].astype(np.float64) ** 2), rel=1e-6)
    energies = np.empty(4)
    K.frame_energies(x, 300, energies)
    ref = [np.mean(x[:, a:a + 300].astype(np.float64) ** 2) for a in range(0, 1001, 300)]
    np.testing.assert_allclose(energies, ref, rtol=1e-6)


def test_add_background_noises_each_at_its_snr(speech_16k, noise_16k):
    rng = np.random.default_rng(6)
    other = rng.standard_normal(5000)
    out = ng.add_background_noises(speech_16k, [noise_16k, other], snr_db=[5.0, 15.0], noise_offsets=[100, 7])
    a = naive_mix(speech_16k, noise_16k, 5.0, 100) - speech_16k
    b = naive_mix(speech_16k, other, 15.0, 7) - speech_16k
    np.testing.assert_allclose(out, speech_16k + a + b, rtol=1e-9, atol=1e-12)
    assert abs(snr_db(speech_16k, a) - 5.0) < 1e-6
    with pytest.warns(ng.NoisegenWarning, match="silent"):
        out2 = ng.add_background_noises(speech_16k, [noise_16k, np.zeros(10)], snr_db=5.0)
    np.testing.assert_allclose(out2, naive_mix(speech_16k, noise_16k, 5.0), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("silent", [[0], [1], [0, 2], [0, 1, 2]])
@pytest.mark.parametrize("shape", [(500,), (2, 500)])
def test_add_background_noises_warns_once_however_many_noises_are_silent(silent, shape):
    """One NoisegenWarning a call naming every silent noise (as add_short_noises and babble): it
    gave one per silent noise, so a call with several silent crops warned several times."""
    rng = np.random.default_rng(8)
    y = rng.standard_normal(shape)
    noises = [np.zeros(40) if i in silent else rng.standard_normal(300) for i in range(3)]
    noises[1] = np.r_[np.zeros(600), np.ones(5)] if 1 in silent else noises[1]  # silent over the crop only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = ng.add_background_noises(y, noises, snr_db=[3.0, 6.0, 9.0])
    assert len(caught) == 1 and issubclass(caught[0].category, ng.NoisegenWarning)
    assert str(silent) in str(caught[0].message)
    loud = [i for i in range(3) if i not in silent]
    expected = ng.add_background_noises(y, [noises[i] for i in loud], snr_db=[[3.0, 6.0, 9.0][i] for i in loud]) \
        if loud else y
    np.testing.assert_array_equal(out, expected)


def test_add_short_noises_levels_fades_and_determinism(speech_16k):
    rng = np.random.default_rng(7)
    clicks = [rng.standard_normal(1600), rng.standard_normal(800)]
    signal = np.tile(speech_16k, 3)
    out, events = ng.add_short_noises(signal, clicks, sample_rate=SR, min_snr_db=3, max_snr_db=9,
                                      min_time_between_s=0.5, max_time_between_s=1.0, rng=42,
                                      return_events=True)
    assert len(events) >= 3
    again = ng.add_short_noises(signal, clicks, sample_rate=SR, min_snr_db=3, max_snr_db=9,
                                min_time_between_s=0.5, max_time_between_s=1.0, rng=42)
    np.testing.assert_array_equal(out, again)
    added = out - signal
    p_s = np.mean(signal ** 2)
    covered = np.zeros(signal.shape[0], bool)
    for e in events:
        sound = clicks[e["index"]]
        seg = added[e["start"]:e["start"] + sound.shape[0]]
        covered[e["start"]:e["start"] + sound.shape[0]] = True
        assert 3 <= e["snr_db"] <= 9
        g = np.sqrt(p_s / (np.mean(sound ** 2) * 10 ** (e["snr_db"] / 10)))
        middle = slice(e["fade_in"], seg.shape[0] - e["fade_out"])
        np.testing.assert_allclose(seg[middle], g * sound[: seg.shape[0]][middle], rtol=1e-9, atol=1e-12)
        assert abs(seg[0]) < abs(g * sound[0]) + 1e-12  # faded in
    assert not np.any(added[~covered])


def test_add_short_noises_measures_a_banks_sounds_once(monkeypatch):
    """A bank's sound is measured once, not on every call that draws it (a 30-minute sound cost its
    whole length each time); the samples are those of the same sounds given as a list."""
    from noisegen.effects import mix

    rng = np.random.default_rng(5)
    sounds = [rng.standard_normal(n).astype(np.float32) * 0.3 for n in (3000, 50_000, 800)]
    bank = ng.NoiseBank.from_arrays(sounds, sample_rate=SR)
    y = rng.standard_normal((2, SR)).astype(np.float32)
    measured = []
    original = mix._crop_power
    monkeypatch.setattr(mix, "_crop_power", lambda *a: measured.append(a[2]) or original(*a))
    kwargs = dict(sample_rate=SR, min_time_between_s=0.0, max_time_between_s=0.01)
    for seed in range(6):
        want = ng.add_short_noises(y, sounds, rng=seed, **kwargs)
        np.testing.assert_array_equal(ng.add_short_noises(y, bank, rng=seed, **kwargs), want)
    assert sorted(bank.sound_powers) == [0, 1, 2]
    for i, p in bank.sound_powers.items():
        np.testing.assert_allclose(p, np.mean(np.square(sounds[i], dtype=np.float64)), rtol=1e-6)
    calls = len(measured)
    ng.add_short_noises(y, bank, rng=99, **kwargs)
    assert len(measured) == calls  # the bank's sounds were measured already


@pytest.mark.parametrize("gap_s", [0.0, 1 / SR, 2.5 / SR, 0.01])
def test_add_short_noises_gaps_are_as_drawn_zero_too(gap_s):
    """Each sound starts the drawn gap after the last one ends: a gap of 0 left one sample."""
    out, events = ng.add_short_noises(np.ones(SR), [np.hanning(400) + 0.1], sample_rate=SR,
                                      min_time_between_s=gap_s, max_time_between_s=gap_s, rng=0, return_events=True)
    gap = ng.seconds_to_samples(gap_s, SR)
    starts = [e["start"] for e in events]  # (the first after a gap drawn up to the smallest)
    assert starts == list(range(starts[0], SR, 400 + gap)) and starts[0] <= gap



@pytest.mark.parametrize("bank_rate", [8000, 16000, 44100])
def test_add_short_noises_refuses_a_bank_at_another_rate(bank_rate):
    """A bank's sounds at another rate were added as if at the call's: slower or faster, off pitch."""
    bank = ng.NoiseBank.from_arrays([np.hanning(200)], sample_rate=bank_rate)
    y = np.random.default_rng(1).standard_normal(4000)
    kwargs = dict(min_time_between_s=0.0, max_time_between_s=0.01, rng=0)
    for rate in (8000, 16000, 22050, 44100):
        if rate == bank_rate:
            np.testing.assert_array_equal(ng.add_short_noises(y, bank, sample_rate=rate, **kwargs),
                                          ng.add_short_noises(y, [bank[0]], sample_rate=rate, **kwargs))
        else:
            with pytest.raises(ng.ParameterError, match=f"NoiseBank at {bank_rate} Hz, but sample_rate is {rate}"):
                ng.add_short_noises(y, bank, sample_rate=rate, **kwargs)


def naive_short_noises(y, sounds, events):
    """Slow twin from the events: each whole sound faded (raised cosine over its own length), scaled, then cut."""
    out = np.atleast_2d(np.asarray(y, np.float64)).copy()
    p_s, n = np.mean(out ** 2), out.shape[1]
    for e in events:
        x = np.atleast_2d(np.asarray(sounds[e["index"]], np.float64))
        m, fi, fo = x.shape[1], e["fade_in"], e["fade_out"]
        w = np.ones(m)
        w[:fi] *= 0.5 - 0.5 * np.cos(np.pi * (np.arange(fi) + 0.5) / fi)
        w[m - fo:] *= 0.5 - 0.5 * np.cos(np.pi * (np.arange(fo)[::-1] + 0.5) / fo)
        g = np.sqrt(p_s / (np.mean(x ** 2) * 10 ** (e["snr_db"] / 10)))
        end = min(n, e["start"] + m)
        out[:, e["start"]:end] += (g * w * x)[:, :end - e["start"]]
    return out.reshape(np.shape(y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("channels", [None, 2])
def test_add_short_noises_cut_by_the_end_keeps_its_fades(dtype, channels):
    """A sound cut by the end of the signal is a recording of a longer event: its whole fade-in shape,
    no fade-out at the cut. Its fade-in was squeezed into the part that fits and a fade-out put at the cut."""
    rng = np.random.default_rng(11)
    y = rng.standard_normal((channels or 1, 997)).astype(dtype).reshape((-1, 997) if channels else (997,))
    sounds = [rng.standard_normal(n) for n in (1, 90, 700, 2500)] + [rng.standard_normal((channels or 1, 333))]
    cut = 0
    for seed in range(25):
        out, events = ng.add_short_noises(y, sounds, sample_rate=8000, min_time_between_s=0.0,
                                          max_time_between_s=0.05, min_fade_s=0.0, max_fade_s=0.1, rng=seed,
                                          return_events=True)
        assert out.dtype == dtype and out.shape == y.shape
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, naive_short_noises(y, sounds, events), rtol=tol, atol=tol)
        cut += sum(e["start"] + np.shape(sounds[e["index"]])[-1] > 997 and e["fade_out"] > 0 for e in events)
    assert cut >= 10  # (the cases that matter were drawn)


def draw_sounds_one_by_one(gen, sounds, n, sr, lo_snr, hi_snr, lo_gap, hi_gap, lo_fade, hi_fade):
    """Slow twin of the placement: one sound at a time, the draws in their documented order."""
    def up_to(seconds, limit):
        return min(limit, ng.seconds_to_samples(min(seconds, (limit + 1) / sr), sr))
    events, pos = [], up_to(gen.uniform(0.0, lo_gap), n) if lo_gap > 0 else 0
    while pos < n:
        i = int(gen.integers(len(sounds)))
        snr = float(gen.uniform(lo_snr, hi_snr))
        m = np.shape(sounds[i])[-1]
        fi, fo = up_to(gen.uniform(lo_fade, hi_fade), m), up_to(gen.uniform(lo_fade, hi_fade), m)
        events.append(dict(index=i, start=pos, snr_db=snr, fade_in=fi, fade_out=fo))
        pos += m + up_to(gen.uniform(lo_gap, hi_gap), n)
    return events


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937, np.random.Philox])
def test_add_short_noises_placement_is_the_one_by_one_draws(bit_generator):
    """One sound's placements are drawn in runs (a 100 s input with a 3-sample sound took 9 s): the
    events, the samples and the generator's state after are those of drawing one sound at a time."""
    rng = np.random.default_rng(8)
    y = rng.standard_normal(4001)
    cases = [([rng.standard_normal(3)], (0.0, 0.0, 0.0, 0.0)), ([rng.standard_normal(3)], (0.0, 1e-3, 0.0, 2e-4)),
             ([rng.standard_normal(700)], (1e-3, 0.1, 0.0, 0.05)), ([rng.standard_normal(9000)], (0.0, 1e300, 0.0, 1.0)),
             ([rng.standard_normal(5), rng.standard_normal(60)], (0.0, 2e-3, 1e-4, 1e-3))]
    for seed in range(12):
        for sounds, (lo_gap, hi_gap, lo_fade, hi_fade) in cases:
            kwargs = dict(sample_rate=SR, min_snr_db=-3.0, max_snr_db=17.0, min_time_between_s=lo_gap,
                          max_time_between_s=hi_gap, min_fade_s=lo_fade, max_fade_s=hi_fade)
            gen, twin = (np.random.Generator(bit_generator(seed)) for _ in range(2))
            out, events = ng.add_short_noises(y, sounds, rng=gen, return_events=True, **kwargs)
            assert events == draw_sounds_one_by_one(twin, sounds, y.shape[0], SR, -3.0, 17.0, lo_gap, hi_gap,
                                                    lo_fade, hi_fade)
            assert all(type(v) is type(w) for e in events for v, w in zip(e.values(), (0, 0, 0.0, 0, 0)))
            assert gen.random() == twin.random()
            np.testing.assert_allclose(out, naive_short_noises(y, sounds, events), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(300,), (2, 300)], ids=str)
def test_add_short_noises_takes_sounds_in_any_byte_order_and_as_lists(shape):
    """Sounds were checked (and converted) when drawn but added as given: a big-endian sound was a numba
    TypingError and a list of numbers an AttributeError ('list' object has no attribute 'ndim')."""
    y = np.random.default_rng(2).standard_normal((2, 4000)).astype(np.float32)
    sound = np.hanning(300) * np.ones(shape)
    kwargs = dict(sample_rate=SR, min_time_between_s=0.0, max_time_between_s=0.01, rng=3)
    want = ng.add_short_noises(y, [sound], **kwargs)
    for given in (sound.astype(">f8"), sound.tolist()):
        np.testing.assert_array_equal(ng.add_short_noises(y, [given], **kwargs), want)

def test_add_short_noises_silent_signal_warns():
    with pytest.warns(ng.NoisegenWarning, match="silent"):
        out = ng.add_short_noises(np.zeros(SR * 4), [np.ones(100)], sample_rate=SR, rng=0)
    assert not np.any(out)


def test_babble_equal_levels_and_determinism(data_dir):
    bank = ng.NoiseBank(data_dir / "speech", sample_rate=SR)
    b1 = ng.babble(bank, 3, n_samples=2 * SR, rng=5)
    b2 = ng.babble(bank, 3, n_samples=2 * SR, rng=5)
    np.testing.assert_array_equal(b1, b2)
    assert b1.dtype == np.float32 and b1.shape == (2 * SR,)
    assert np.isfinite(b1).all()
    # one talker: unit RMS over its crop (its float32 samples' power is summed in float32 blocks: ~1e-8)
    one = ng.babble(bank, 1, n_samples=SR, rng=1, dtype=np.float64)
    assert np.sqrt(np.mean(one ** 2)) == pytest.approx(1.0, rel=1e-7)
    # each talker enters at RMS 1/sqrt(k): reconstruct with the same draws
    g = np.random.default_rng(9)
    picks = g.choice(len(bank), size=3, replace=False)
    ref = np.zeros(SR)
    for i in picks:
        src = np.asarray(bank[int(i)], np.float64)
        off = int(g.integers(src.shape[0]))
        crop = src[(off + np.arange(SR)) % src.shape[0]]
        ref += crop / np.sqrt(np.mean(crop ** 2)) / np.sqrt(3)
    np.testing.assert_allclose(ng.babble(bank, 3, n_samples=SR, rng=np.random.default_rng(9), dtype=np.float64),
                               ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_array_of_recordings_is_one_recording_everywhere(dtype):
    # As NoiseBank(array) takes it; read as a sequence, each of its numbers was a "recording"
    # (babble: "speech_sources[447] must be a numpy float array, got float32").
    rng = np.random.default_rng(4)
    y, sound = rng.standard_normal(4000).astype(dtype), rng.standard_normal(700).astype(dtype)
    calls = {
        "babble": lambda s: ng.babble(s, 3, n_samples=1500, rng=2, dtype=dtype),
        "add_background_noises": lambda s: ng.add_background_noises(y, s, snr_db=5.0),
        "add_short_noises": lambda s: ng.add_short_noises(y, s, sample_rate=SR, rng=3),
        "NoiseBank.from_arrays": lambda s: ng.NoiseBank.from_arrays(s, sample_rate=SR)[0],
    }
    for name, call in calls.items():
        np.testing.assert_array_equal(call(sound), call([sound]), err_msg=name)
    assert repr(ng.NoiseBank.from_arrays(sound, sample_rate=SR)).startswith("NoiseBank(1 arrays,")
    # an object array of recordings stays a sequence of them
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = sound, sound[:300]
    np.testing.assert_array_equal(ng.babble(ragged, 2, n_samples=900, rng=1),
                                  ng.babble([sound, sound[:300]], 2, n_samples=900, rng=1))


def test_no_warning_on_normal_mix(speech_16k, noise_16k):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any NoisegenWarning fails the test
        out = ng.mix_at_snr(speech_16k, noise_16k, snr_db=0.0)
    assert np.isfinite(out).all() and not np.array_equal(out, speech_16k)


@pytest.mark.parametrize("snr_db", [-100.0, -40.0, 0.0])
@pytest.mark.parametrize("level", [1e36, 1e30, 1.0])
def test_loud_mix_is_exact_in_float64_and_refused_when_float32_overflows(snr_db, level):
    rng = np.random.default_rng(2)
    for shape in ((3000,), (2, 3000)):
        s = rng.standard_normal(shape) * level
        noise = rng.standard_normal(shape[-1])
        out64 = ng.mix_at_snr(s, noise, snr_db=snr_db)  # float64 holds every result here
        achieved = 10 * np.log10(np.mean(s**2) / np.mean((out64 - s) ** 2))
        assert achieved == pytest.approx(snr_db, abs=1e-6)
        fits = np.max(np.abs(out64)) < np.finfo(np.float32).max
        try:
            out32 = ng.mix_at_snr(s.astype(np.float32), noise.astype(np.float32), snr_db=snr_db)
        except ng.ParameterError as err:
            assert not fits and f"snr_db={snr_db:g} overflows float32" in str(err)
            continue
        assert fits and np.isfinite(out32).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_power_sums_do_not_depend_on_alignment(dtype):
    # The same samples at any memory offset give the same bits (no alignment peeling),
    # equal to a float64 reference within rounding (float32 audio: blocks summed in float32).
    from noisegen._kernels.cpu import mix as kernels

    rng = np.random.default_rng(3)
    data = rng.standard_normal(4099).astype(dtype)
    want = float(np.sum(data.astype(np.float64) ** 2))
    base = np.zeros(4099 + 64, dtype=dtype)
    sums, wrapped = set(), set()
    for shift in range(16):
        view = base[shift:shift + 4099]
        view[:] = data
        sums.add(kernels.sum_squares(view[None]))
        bank = np.concatenate([base[:shift], data, data])[None]
        wrapped.add(kernels.wrapped_sum_squares(bank, shift + 4099 - 13, 4099))
    assert len(sums) == 1 and len(wrapped) == 1
    rel = 1e-7 if dtype == np.float32 else 1e-13
    assert sums.pop() == pytest.approx(want, rel=rel)
    assert wrapped.pop() == pytest.approx(want, rel=rel)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("level", [1e-22, 1e-12, 1.0, 1e18, 1e21])
def test_power_sums_exact_where_float32_squares_underflow_or_overflow(dtype, level):
    # float32 blocks whose squares leave float32's range are summed again in float64
    rng = np.random.default_rng(7)
    for n in (1, 7, 511, 512, 513, 4099):
        for rows in (1, 3):
            x = (rng.standard_normal((rows, n)) * level).astype(dtype)
            want = float(np.sum(x.astype(np.float64) ** 2))
            rel = 1e-13 if dtype == np.float64 or level < 1e-19 or level > 1e19 else 1e-7
            assert K.sum_squares(x) == pytest.approx(want, rel=rel, abs=0)
            assert K.wrapped_sum_squares(x, n // 3, 2 * n + 5) == pytest.approx(
                float(np.sum(x[:, (n // 3 + np.arange(2 * n + 5)) % n].astype(np.float64) ** 2)), rel=rel, abs=0)
            energies = np.empty(-(-n // 64))
            assert K.frame_energies(x, 64, energies) == pytest.approx(want, rel=rel, abs=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("level", [1e-22, 1.0, 1e21])
def test_both_power_sums_in_one_pass_equal_each_sum_alone(dtype, level):
    # crop_powers sums a mono signal and a crop that does not wrap in one pass: the same bits as
    # sum_squares and wrapped_sum_squares alone (same additions, same order), at every length
    # around the pass's blocks, offsets up to the last that does not wrap and past it, and levels
    # where float32 squares underflow or overflow (summed again in float64)
    rng = np.random.default_rng(11)
    for n in (0, 1, 511, 512, 513, 2047, 2048, 2049, 4099, 64000):
        y = (rng.standard_normal(n) * level).astype(dtype)
        bank = (rng.standard_normal(n + 37) * rng.uniform(0.5, 2.0)).astype(dtype)
        for offset in (0, 1, 17, 36, 37, 38, n + 36):
            got = K.crop_powers(y[None], bank[None], offset)
            alone = (K.sum_squares(y[None]), K.wrapped_sum_squares(bank[None], offset, n))
            assert got == alone, (n, offset)
            crop = bank[(offset + np.arange(n)) % bank.shape[0]].astype(np.float64)
            want = (float(np.sum(y.astype(np.float64) ** 2)), float(np.sum(crop ** 2)))
            assert got == pytest.approx(want, rel=1e-6 if dtype == np.float32 else 1e-12, abs=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_path_equals_general_path(dtype):
    # a float SNR, an int offset and mono contiguous arrays take the short path; the
    # general path (int SNR, numpy offset, strided or 2-D input) must give the same bits
    rng = np.random.default_rng(8)
    for n, m in ((1, 1), (100, 7), (4099, 4099), (5000, 1234), (513, 20000), (64001, 100003)):
        y = rng.standard_normal(n).astype(dtype)
        noise = rng.standard_normal(m).astype(dtype)
        for offset in (0, 3, m - 1, 5 * m + 2):
            fast = ng.mix_at_snr(y, noise, snr_db=7.0, noise_offset=offset)
            general = ng.mix_at_snr(y, np.repeat(noise, 2)[::2], snr_db=7, noise_offset=np.int64(offset))
            np.testing.assert_array_equal(fast, general)
            np.testing.assert_array_equal(ng.mix_at_snr(y[None], noise, snr_db=7.0, noise_offset=offset)[0], fast)


def test_fast_path_refuses_what_the_general_path_refuses():
    y = np.ones(64, np.float32)
    # a byte-swapped array is no fast-path case: the general path converts it, as every audio argument
    np.testing.assert_array_equal(ng.mix_at_snr(y.astype(">f4"), y, snr_db=0.0), ng.mix_at_snr(y, y, snr_db=0.0))
    with pytest.raises(ng.ParameterError, match="dtype"):
        ng.mix_at_snr(y.astype(">f2"), y, snr_db=0.0)
    with pytest.raises(ng.ParameterError, match="noise_offset"):
        ng.mix_at_snr(y, y, snr_db=0.0, noise_offset=True)
    with pytest.raises(ng.ParameterError, match="snr_db"):
        ng.mix_at_snr(y, y, snr_db=250.0)
    with pytest.raises(ng.ParameterError, match="backend"):
        ng.mix_at_snr(y, y, snr_db=0.0, backend="gpu")


@pytest.mark.parametrize("dtype, level", [(np.float32, 1e-40), (np.float32, 1e-44), (np.float32, 1e-30),
                                          (np.float64, 1e-160), (np.float64, 1e-156), (np.float64, 1e-100)])
@pytest.mark.parametrize("snr", [-20.0, 0.0, 5.0, 10.0, 40.0])
def test_a_noise_too_quiet_for_its_squares_still_mixes_at_the_snr(dtype, level, snr):
    """A subnormal noise needs a scale past float32 (1e-40 at 5 dB: 1e39), or a power ratio past
    float64 (1e-160 noise: 1e-320 power): the mix came out inf, or was refused as an overflow."""
    rng = np.random.default_rng(3)
    y = (0.1 * rng.standard_normal((2, 1000))).astype(dtype)
    noise = (level * rng.choice([-1.0, 1.0], 300)).astype(dtype)  # +-level: exact in the dtype
    tol = 0.01 if level * level < np.finfo(np.float64).tiny else 1e-4  # subnormal squares keep few bits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reference in ("rms", "active"):
            out = ng.mix_at_snr(y, noise, snr_db=snr, reference=reference, sample_rate=SR)
            assert out.dtype == dtype and np.all(np.isfinite(out))
            assert snr_db(y, out.astype(np.float64) - y, reference) == pytest.approx(snr, abs=tol)
        out = ng.add_background_noises(y, [noise, noise[::-1].copy()], snr_db=[snr, snr + 3.0])
        assert np.all(np.isfinite(out))


@pytest.mark.parametrize("dtype, noise_dtype, level", [(np.float32, np.float32, 1e38), (np.float32, np.float64, 1e40),
                                                       (np.float32, np.float64, 1e60), (np.float32, np.float64, 1e150),
                                                       (np.float64, np.float64, 1e150)])
@pytest.mark.parametrize("snr", [-20.0, 0.0, 20.0, 60.0, 100.0])
def test_a_noise_far_louder_than_the_signal_still_mixes_at_the_snr(dtype, noise_dtype, level, snr):
    """The mirror of the quiet noise: a scale below float32's normal range (1e-43 for a 1e38 noise
    at 60 dB) kept few bits (2.7 dB off), or rounded to 0 and the float32 signal came back without
    any noise (a float64 noise of 1e60 at 0 dB)."""
    rng = np.random.default_rng(4)
    y = (0.1 * rng.standard_normal((2, 1000))).astype(dtype)
    noise = (level * rng.choice([-1.0, 1.0], 300)).astype(noise_dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reference in ("rms", "active"):
            out = ng.mix_at_snr(y, noise, snr_db=snr, reference=reference, sample_rate=SR)
            assert out.dtype == dtype and np.all(np.isfinite(out))
            assert snr_db(y, out.astype(np.float64) - y, reference) == pytest.approx(snr, abs=0.01)
        out = ng.mix_at_snr(y[0], noise, snr_db=snr)  # (the mono fast path)
        assert snr_db(y[0], out.astype(np.float64) - y[0]) == pytest.approx(snr, abs=0.01)
        out = ng.add_background_noises(y, [noise], snr_db=snr)
        assert snr_db(y, out.astype(np.float64) - y) == pytest.approx(snr, abs=0.01)


def test_a_0d_array_snr_is_refused_like_any_non_number():
    y, noise = np.full(100, 0.1), np.full(50, 0.1)
    for call in (lambda v: ng.add_background_noises(y, [noise], snr_db=v), lambda v: ng.mix_at_snr(y, noise, snr_db=v)):
        with pytest.raises(ng.ParameterError, match="snr_db"):
            call(np.array(3.0))


@pytest.mark.parametrize("k", [0, 1, 2])
@pytest.mark.parametrize("bad", [None, "10", np.array(3.0), np.nan, 250.0], ids=repr)
def test_add_background_noises_names_a_bad_snr_as_one_number(bad, k):
    """One bad SNR was refused as 'snr_db must be a list or tuple, got None' (or '10'): as if one number would
    not do. It is checked as one, as mix_at_snr checks it (for no noises too), and a list still works."""
    y, noises = np.full(100, 0.1), [np.full(50, 0.1)] * k
    with pytest.raises(ng.ParameterError, match=r"^snr_db must be (a finite real number|in \[-100, 200\]), got"):
        ng.add_background_noises(y, noises, snr_db=bad)
    with pytest.raises(ng.ParameterError, match="^snr_db must be a list or tuple"):
        ng.add_background_noises(y, noises, snr_db={"a": 1.0})
    want = ng.add_background_noises(y, noises, snr_db=[3.0] * k)
    for one in (3.0, 3, np.float32(3.0), np.int64(3)):
        np.testing.assert_array_equal(ng.add_background_noises(y, noises, snr_db=one), want)


def test_a_noise_whose_power_underflows_float64_counts_as_silent():
    """Below ~1e-162 a float64 noise's squares are zero: no power, no SNR (the silent-noise rule)."""
    y = np.full(1000, 0.1)
    with pytest.warns(ng.NoisegenWarning, match="silent"):
        np.testing.assert_array_equal(ng.mix_at_snr(y, np.full(100, 1e-200), snr_db=10.0), y)


class _Column(collections.abc.Sequence):
    """A sequence of clips that is no list, tuple or array (a dataset's column, a pandas Series): only those
    three had every item checked; in any other a bad one was refused only by the seeds that drew it."""

    def __init__(self, items):
        self.items = list(items)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_babble_draws_a_pandas_series_by_position():
    """A Series filtered to some rows keeps their labels: babble drew series[i] by label (KeyError)."""
    pd = pytest.importorskip("pandas")
    clips = [np.random.default_rng(k).standard_normal(300) for k in range(3)]
    series = pd.Series(clips, index=[4, 9, 2])
    for seed in range(4):
        np.testing.assert_array_equal(ng.babble(series, 2, n_samples=100, rng=seed),
                                      ng.babble(clips, 2, n_samples=100, rng=seed))


@pytest.mark.parametrize("bad", [None, "talker.wav", np.arange(300), np.zeros((2, 300)), np.zeros(0), [[0.1], [0.2, 0.3]]],
                         ids=["None", "path", "int", "stereo", "empty", "ragged"])
@pytest.mark.parametrize("container", [list, tuple, collections.deque, lambda x: _Column(x)],
                         ids=["list", "tuple", "deque", "column"])
def test_babble_refuses_a_bad_recording_whichever_the_rng_draws(bad, container):
    """A bad recording among the sources was refused only by the seeds that drew it (rng=1 drew
    the good one alone and returned babble): a training loop failed at some random later call."""
    good = np.random.default_rng(0).standard_normal(300)
    for sources in (container([good, bad]), container([bad, good])):
        for seed in range(6):
            with pytest.raises(ng.ParameterError, match=r"speech_sources\[[01]\]"):
                ng.babble(sources, 1, n_samples=100, rng=seed)


@pytest.mark.parametrize("shape", [(2, 300), (5, 40), (2, 1)])
@pytest.mark.parametrize("as_list", [False, True])
def test_babble_refuses_a_multichannel_recording_in_its_own_words(shape, as_list):
    """It said "must be mono or have the signal's 1 channel(s)": babble has no signal."""
    stereo = np.random.default_rng(0).standard_normal(shape)
    with pytest.raises(ng.ParameterError) as caught:
        ng.babble([np.ones(50), stereo.tolist() if as_list else stereo], 1, n_samples=10, rng=0)
    message = str(caught.value)
    assert message.startswith("speech_sources[1] must be one mono recording") and str(shape) in message
    assert "signal" not in message


def test_babble_of_silent_crops_warns_once_a_call():
    """One silent source drawn for three talkers gave three identical warnings."""
    loud = np.sin(np.arange(400) / 5.0).astype(np.float32)
    for sources, n_silent in (([np.zeros(100, np.float32)], 3), ([np.zeros(100, np.float32), loud], 2)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = ng.babble(sources, 3, n_samples=300, rng=2)  # (rng=2 draws source 0 for two of three talkers)
        messages = [str(w.message) for w in caught if issubclass(w.category, ng.NoisegenWarning)]
        assert len(messages) == 1 and "speech_sources[0]" in messages[0] and "speech_sources[1]" not in messages[0]
        if n_silent == 3:
            assert "3 of 3 talkers" in messages[0] and "the babble is silent" in messages[0] and not out.any()
        else:
            assert "2 of 3 talkers" in messages[0] and "talkers are skipped" in messages[0] and out.any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(800,), (2, 800)])
@pytest.mark.parametrize("which", ["signal", "noise"])
def test_silent_warnings_name_the_callers_line(which, shape, dtype):
    # mix_at_snr's fast path and its general one, a transform and a Compose of it reach the
    # warning through different depths: each must still point at this file, not at mix.py.
    sound = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    mono = np.ascontiguousarray(sound.reshape(-1)[:shape[-1]])
    y, noise = (np.zeros(shape, dtype), mono) if which == "signal" else (sound, np.zeros(shape[-1], dtype))
    bg = ng.AddBackgroundNoise([noise], min_snr_db=5.0, max_snr_db=5.0, p=1.0)
    calls = [lambda: ng.mix_at_snr(y, noise, snr_db=5.0),
             lambda: ng.mix_at_snr(y, noise, snr_db=5),
             lambda: ng.mix_at_snr(y, noise, snr_db=5.0, reference="active", sample_rate=16000),
             lambda: bg(y, sample_rate=16000, rng=0),
             lambda: ng.Compose([ng.Compose([bg])])(y, sample_rate=16000, rng=0)]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert [w.filename for w in caught] == [__file__], [str(w.message) for w in caught]


@pytest.mark.parametrize("rates", [(1, 2, 100), (100, 7, 150), (3, 150)])
def test_a_bank_refused_at_a_rate_says_why_at_that_rate(tmp_path, rates):
    """A bank loaded at several rates (a transform given each call's sample_rate) refused a later rate with
    the reason its file had at the first one ('at 2 Hz ... too far from 1 Hz'); each rate says its own."""
    import soundfile as sf

    sf.write(tmp_path / "n.wav", np.random.default_rng(0).standard_normal(4800) * 0.1, 48000)
    sf.write(tmp_path / "short.wav", np.random.default_rng(1).standard_normal(100) * 0.1, 16000)
    t = ng.AddBackgroundNoise(tmp_path / "n.wav", p=1.0)
    short = ng.NoiseBank(tmp_path / "short.wav", min_duration_s=1.0)
    with pytest.warns(ng.NoisegenWarning):  # (each file is reported once, at its first rate)
        for rate in rates:
            with pytest.raises(ng.ParameterError, match=rf"at {rate} Hz \(all 1 were skipped; .*too far from {rate} Hz"):
                t(np.ones(64, np.float32), sample_rate=rate, rng=0)
        for rate in (8000, 16000, 4000):
            with pytest.raises(ng.ParameterError, match=rf"at {rate} Hz .*too short \({100 * rate // 16000} samples\)"):
                short.at(rate)
    assert t(np.ones(64, np.float32), sample_rate=16000, rng=0).shape == (64,)  # nothing lost at a rate that works


@pytest.mark.parametrize("bad", [None, "a.wav", np.zeros(0), np.ones((3, 50)), np.ones(50, np.int16), [[1.0], [2.0, 3.0]]])
@pytest.mark.parametrize("container", [list, tuple, collections.deque, lambda x: _Column(x)],
                         ids=["list", "tuple", "deque", "column"])
def test_add_short_noises_refuses_a_bad_sound_whichever_the_rng_draws(bad, container):
    # a bad sound in a list was checked only when drawn: the call returned audio for some seeds and raised
    # for others (babble's twin); every sound's dtype and shape are checked before anything is drawn
    y = np.sin(np.arange(16000 * 10) / 7.0).astype(np.float32) * 0.3
    good = np.hanning(400).astype(np.float32)
    for sounds in (container([good, bad]), container([bad, good])):
        for seed in range(8):  # (with the default gaps, a 10 s signal draws 1-3 sounds: some seeds not the bad one)
            with pytest.raises(ng.ParameterError, match=r"noises\[[01]\]"):
                ng.add_short_noises(y, sounds, sample_rate=16000, rng=seed)


def test_a_mix_without_an_snr_adds_float64_audio_whose_squares_overflow():
    """snr_db=None needs no power, yet a finite float64 signal or noise past ~1e154 (squares past
    float64) was refused as 'y is too loud: its power overflows float64', and so was every call of
    AddBackgroundNoise(noise_level="absolute") on such a signal; they now add, and only a sum that
    overflows (or NaN/inf samples) is refused."""
    y, noise = np.full((2, 1000), 1e160), np.full(100, 0.5)
    y[1] *= -1.0
    np.testing.assert_array_equal(ng.mix_at_snr(y, noise, snr_db=None), y + 0.5)
    np.testing.assert_array_equal(ng.mix_at_snr(noise[:50], y[0, :50], snr_db=None), y[0, :50] + 0.5)
    t = ng.AddBackgroundNoise([np.full(4000, 0.1)], noise_level="absolute", p=1.0)
    out = t(y[0], sample_rate=SR, rng=0)
    assert np.all(np.isfinite(out)) and t.last_params["applied"]
    with pytest.raises(ng.ParameterError, match=r"snr_db=None \(signal \+ noise\) overflows float64"):
        ng.mix_at_snr(np.full(10, 1.7e308), np.full(10, 1.7e308), snr_db=None)
    with pytest.raises(ng.ParameterError, match="y must be finite"):
        ng.mix_at_snr(np.array([1e160, np.nan]), noise, snr_db=None)


def _one_near_1e_160(which, y, noise):
    """``(y, noise, up)`` with the ``which`` one ("signal" or "noise") scaled to near 1e-160, and the factor
    that brings the signal back to a level whose squares are normal (the references square in float64 too)."""
    if which == "signal":
        return y * 1e-160, noise, 2.0**530
    return y, noise * 1e-160, 1.0


@pytest.mark.parametrize("which", ["signal", "noise"])
def test_float64_audio_whose_squares_are_subnormal_mixes_at_the_snr(which):
    """A float64 signal (or noise) near 1e-160 squares to subnormals and zeros: its power came out too
    low and the mix was off its SNR without a word (0.28 dB for speech peaking at 1e-160, 10 dB asked;
    0.017 dB for this signal, 0.0008 dB for this noise); powers are now measured on copies scaled by
    powers of two."""
    rng = np.random.default_rng(8)
    y, noise, up = _one_near_1e_160(which, 0.3 * rng.standard_normal((2, 4000)), 0.3 * rng.standard_normal(1500))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reference in ("rms", "active"):
            out = ng.mix_at_snr(y, noise, snr_db=10.0, noise_offset=700, reference=reference, sample_rate=SR)
            assert snr_db(y * up, (out - y) * up, reference) == pytest.approx(10.0, abs=1e-9)
        out = ng.mix_at_snr(y[0], noise, snr_db=10.0)  # (the mono fast path)
        assert snr_db(y[0] * up, (out - y[0]) * up) == pytest.approx(10.0, abs=1e-9)


@pytest.mark.parametrize("which", ["signal", "noise"])
def test_float64_audio_whose_squares_are_subnormal_is_added_at_its_snr_by_every_mixer(which):
    """mix_at_snr's powers near 1e-160 were fixed alone: add_background_noises (0.19 dB off for speech
    peaking at 1e-160, 10 dB asked) and add_short_noises (0.03 dB) still measured the signal, and a
    sound that quiet, too low; both now measure on copies scaled by powers of two."""
    rng = np.random.default_rng(8)
    y, noise, up = _one_near_1e_160(which, 0.3 * rng.standard_normal((2, 4000)),
                                    np.hanning(1500) * rng.standard_normal(1500))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reference in ("rms", "active"):
            out = ng.add_background_noises(y, [noise, noise], snr_db=[10.0, 30.0], noise_offsets=[700, 0],
                                           reference=reference, sample_rate=SR)
            first = ng.add_background_noises(y, [noise], snr_db=10.0, noise_offsets=[700], reference=reference,
                                             sample_rate=SR)
            assert snr_db(y * up, (first - y) * up, reference) == pytest.approx(10.0, abs=1e-9)
            assert snr_db(y * up, (out - first) * up, reference) == pytest.approx(30.0, abs=1e-6)
        out = ng.add_short_noises(y, [noise], sample_rate=SR, min_snr_db=10.0, max_snr_db=10.0, rng=3)
    plain_y, plain_noise = (y / 1e-160, noise) if which == "signal" else (y, noise / 1e-160)
    plain = ng.add_short_noises(plain_y, [plain_noise], sample_rate=SR, min_snr_db=10.0, max_snr_db=10.0, rng=3)
    # the sound added is as loud against the signal as at unit level (it scales with the signal, not the sound)
    np.testing.assert_allclose((out - y) / (1e-160 if which == "signal" else 1.0), plain - plain_y, rtol=1e-9,
                               atol=1e-12)
