"""Where :func:`noisegen.add_short_noises` puts its sounds: the draws, in their order, as arrays.

Each sound draws, in this order: which sound (``integers(n_sounds)``, which
draws nothing when there is one sound), its SNR, its fade-in, its fade-out
and the gap after it. With one sound nothing but uniform draws is made, and
numpy forms each as ``low + (high - low) * next_double`` whether the bounds
are scalars or arrays, so one ``uniform(lows, highs, size=(count, 4))``
call gives the bits of ``4 * count`` scalar calls: whole runs of sounds are
drawn at once, as many as are sure to start before the end (each moves the
next start on by at most the sound plus the longest gap), which leaves the
generator where sound-by-sound drawing leaves it; fewer than :data:`RUN`
are drawn one at a time, which costs less. (A 100 s input with a
3-sample sound and no gaps: 533,334 sounds, 9.4 s -> 0.6 s here.) With
several sounds an integer draw comes between, and the loop stays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RUN", "samples_up_to", "samples_up_to_each", "place_sounds"]


def samples_up_to(seconds, sample_rate, limit):
    """``seconds`` as a sample count, at most ``limit``: ``round(seconds * sample_rate)`` (half to
    even), as :func:`noisegen.seconds_to_samples` computes it; :func:`samples_up_to_each` for arrays."""
    return min(limit, round(min(seconds, (limit + 1) / sample_rate) * sample_rate))


def samples_up_to_each(seconds, sample_rate, limit):
    """:func:`samples_up_to` of each of the float64 array ``seconds`` (``limit``: an int or an
    array), as int64: the same float operations, elementwise."""
    limit = np.asarray(limit, dtype=np.int64)
    return np.minimum(limit, np.rint(np.minimum(seconds, (limit + 1) / sample_rate) * sample_rate)).astype(np.int64)


#: Runs shorter than this are drawn one sound at a time (arrays cost more for a few).
RUN = 16


def place_sounds(gen, n_sounds, length_of, n, sample_rate, lows, highs):
    """Draw the sounds that start in ``n`` samples (module notes).

    ``length_of(index)``: a sound's length in samples (>= 1; it may check the
    sound). ``lows``, ``highs``: the ``(snr_db, fade_s, gap_s)`` ranges.
    Returns lists ``(index, start, snr_db, fade_in, fade_out)``, one entry a
    sound; the fades in samples, at most the sound.
    """
    (lo_snr, lo_fade, lo_gap), (hi_snr, hi_fade, hi_gap) = lows, highs
    integers, uniform = gen.integers, gen.uniform
    pos = samples_up_to(float(uniform(0.0, lo_gap)), sample_rate, n) if lo_gap > 0 else 0  # past n: none
    placed = index, start, snrs, fade_in, fade_out = [], [], [], [], []
    known, longest = {}, (n + 1) / sample_rate
    while pos < n:  # (kept lean: the cost of many sounds; 4 scalar uniform calls cost less than 1 of arrays)
        if n_sounds == 1:
            i, m = 0, known.get(0) or known.setdefault(0, length_of(0))
            most = m + samples_up_to(hi_gap, sample_rate, n) + 1  # (+1: a draw may pass hi_gap by an ulp)
            count = -(-(n - pos) // most)  # sounds sure to start before n
            if count >= RUN:
                pos = _run(gen, count, m, pos, n, sample_rate, lows, highs, placed)
                continue
        else:
            i = int(integers(n_sounds))
        d = (uniform(lo_snr, hi_snr), uniform(lo_fade, hi_fade), uniform(lo_fade, hi_fade), uniform(lo_gap, hi_gap))
        m = known.get(i) or known.setdefault(i, length_of(i))
        index.append(i)
        start.append(pos)
        snrs.append(d[0])
        fade_in.append(samples_up_to(d[1], sample_rate, m))
        fade_out.append(samples_up_to(d[2], sample_rate, m))
        pos += m + min(n, round(min(d[3], longest) * sample_rate))  # samples_up_to(d[3], sample_rate, n)
    return placed


def _run(gen, count, m, pos, n, sample_rate, lows, highs, placed):
    """Draw ``count`` placements of the one ``m``-sample sound from ``pos`` in one call, append
    them to the lists ``placed`` and return the next start."""
    (lo_snr, lo_fade, lo_gap), (hi_snr, hi_fade, hi_gap) = lows, highs
    d = gen.uniform([lo_snr, lo_fade, lo_fade, lo_gap], [hi_snr, hi_fade, hi_fade, hi_gap], size=(count, 4))
    steps = m + samples_up_to_each(d[:, 3], sample_rate, n)
    ends = pos + np.cumsum(steps)
    index, start, snrs, fade_in, fade_out = placed
    index.extend([0] * count)
    start.extend((ends - steps).tolist())
    snrs.extend(d[:, 0].tolist())
    fade_in.extend(samples_up_to_each(d[:, 1], sample_rate, m).tolist())
    fade_out.extend(samples_up_to_each(d[:, 2], sample_rate, m).tolist())
    return int(ends[-1])
