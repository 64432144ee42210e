"""Where :func:`noisegen.add_short_noises` puts its sounds: the draws, in their order, as arrays.

Each sound draws, in this order: which sound (``integers(n_sounds)``, which
draws nothing when there is one sound), its SNR, its fade-in, its fade-out
and the gap after it. With one sound nothing but uniform draws is made, and
numpy forms each as ``low + (high - low) * next_double`` whether the bounds
are scalars or arrays, so one ``uniform(lows, highs, size=(count, 4))``
call gives the bits of ``4 * count`` scalar calls: whole runs of sounds are
drawn at once, as many as are sure to start before the end (each moves the
next start on by at most the sound plus the longest gap), which leaves the
generator where sound-by-sound drawing leaves it. (A 100 s input with a
3-sample sound and no gaps: 533,334 sounds, 9.4 s -> 0.6 s here.) With
several sounds an integer draw comes between, and the loop stays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["samples_up_to", "samples_up_to_each", "place_sounds"]


def samples_up_to(seconds, sample_rate, limit):
    """``seconds`` as a sample count, at most ``limit``: ``round(seconds * sample_rate)`` (half to
    even), as :func:`noisegen.seconds_to_samples` computes it; :func:`samples_up_to_each` for arrays."""
    return min(limit, round(min(seconds, (limit + 1) / sample_rate) * sample_rate))


def samples_up_to_each(seconds, sample_rate, limit):
    """:func:`samples_up_to` of each of the float64 array ``seconds`` (``limit``: an int or an
    array), as int64: the same float operations, elementwise."""
    limit = np.asarray(limit, dtype=np.int64)
    return np.minimum(limit, np.rint(np.minimum(seconds, (limit + 1) / sample_rate) * sample_rate)).astype(np.int64)


def place_sounds(gen, n_sounds, length_of, n, sample_rate, lows, highs):
    """Draw the sounds that start in ``n`` samples (module notes).

    ``length_of(index)``: a sound's length in samples (>= 1; it may check the
    sound). ``lows``, ``highs``: the ``(snr_db, fade_s, gap_s)`` ranges.
    Returns ``(index, start, snr_db, fade_in, fade_out)``, arrays with one
    entry a sound: int64 but ``snr_db`` (float64); the fades in samples, at
    most the sound.
    """
    (lo_snr, lo_fade, lo_gap), (hi_snr, hi_fade, hi_gap) = lows, highs
    pos = samples_up_to(float(gen.uniform(0.0, lo_gap)), sample_rate, n) if lo_gap > 0 else 0  # past n: none
    if n_sounds == 1:
        low4, high4 = np.array([lo_snr, lo_fade, lo_fade, lo_gap]), np.array([hi_snr, hi_fade, hi_fade, hi_gap])
        m = length_of(0) if pos < n else 1
        most = m + samples_up_to(hi_gap, sample_rate, n) + 1  # (+1: a draw may pass hi_gap by an ulp)
        start, draws = [np.zeros(0, np.int64)], [np.zeros((0, 4))]
        while pos < n:
            count = -(-(n - pos) // most)  # sounds sure to start before n
            d = gen.uniform(low4, high4, size=(count, 4))
            steps = m + samples_up_to_each(d[:, 3], sample_rate, n)
            ends = pos + np.cumsum(steps)
            start.append(ends - steps)
            draws.append(d)
            pos = int(ends[-1])
        start, d = np.concatenate(start), np.concatenate(draws)
        index, lengths = np.zeros_like(start), np.full_like(start, m)
    else:
        integers, uniform = gen.integers, gen.uniform
        index, start, draws, known = [], [], [], {}
        longest = (n + 1) / sample_rate
        while pos < n:  # (kept lean: the cost of many sounds; 4 scalar uniform calls cost less than 1 of arrays)
            i = int(integers(n_sounds))
            d = (uniform(lo_snr, hi_snr), uniform(lo_fade, hi_fade), uniform(lo_fade, hi_fade), uniform(lo_gap, hi_gap))
            m = known.get(i) or known.setdefault(i, length_of(i))
            index.append(i)
            start.append(pos)
            draws.append(d)
            pos += m + min(n, round(min(d[3], longest) * sample_rate))  # samples_up_to(d[3], sample_rate, n)
        lengths = np.fromiter(map(known.__getitem__, index), np.int64, len(index))  # (not a table of them all:
        index, start = np.array(index, np.int64), np.array(start, np.int64)          # a bank may hold millions)
        d = np.array(draws, np.float64).reshape(-1, 4)
    fade_in, fade_out = (samples_up_to_each(d[:, c], sample_rate, lengths) for c in (1, 2))
    return index, start, d[:, 0], fade_in, fade_out
