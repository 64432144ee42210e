"""CPU kernels of WSOLA (waveform-similarity overlap-add) time stretching.

Output frame ``k`` is centred on output sample ``k * hop`` and spans
``2 * hop`` samples under a periodic Hann window (the windows sum to one).
It copies the input frame centred on ``p_k``, chosen within ``+-tol`` of the
ideal position ``a_k = round(k * hop * n_in / n_out)`` to best continue the
previous frame: the input region around ``p_k`` must look like the region
around ``p_{k-1} + hop``, which is what naturally followed the previous
frame. Similarity is the normalised cross-correlation over ``2 * hop``
samples of a guide signal (the input itself, or a paired signal's), summed
over its channels (their dot products over their energies: the correlation
of the frames as vectors of every channel's samples; the channel mean
vanished for channels in anti-phase, and splices chosen on silence tore a
stereo stretch apart), searched coarse-to-fine: every
lag of a ``dec``-times decimated guide first, then the full-rate lags within
``+-dec`` of the coarse winner. Energies come from prefix sums, so each lag
costs one dot product, and neighbouring lags share the loads of the
reference (:func:`_correlations`: eight lags per load); the coarse search
ranks lags by ``dot * |dot| / energy``, the square of the correlation with
its sign, which saves a square root per lag (the search reads ~90 lags per
frame at 16 kHz).

The splice is refined below one sample: the normalised correlation around
the best lag is fitted by a parabola, and the frame is read at that
fractional position through a short windowed-sinc fractional-delay filter
(``frac_table``, one row per 1/Q sample). Without it, a harmonic whose
period is not a whole number of samples would jump in phase at every splice
(sidebands near -35 dB on a 10-harmonic tone instead of below -60 dB).

Positions are in padded coordinates: input sample ``s`` is ``xp[..., s + pad]``.
"""

from __future__ import annotations

import math

import numpy as np

from ..._core.jit import exact_kernel, kernel
from ._simd import VECTOR_BYTES, dot_products, lane_dots


#: Taps of the fractional-delay filter the overlap-add reads frames through (unrolled in its loop).
FRAC_TAPS = 16


@kernel
def wsola_guide(g, dec, csum, gd, csum_d):
    """For a ``(channels, n)`` guide: prefix sums of ``g**2`` summed over the channels (``csum``), the
    ``dec``-sample means ``gd`` (per channel) and the prefix sums of their squares (summed likewise)."""
    csum[0] = 0.0
    csum_d[0] = 0.0
    wsola_guide_from(g, dec, csum, gd, csum_d)


@kernel
def wsola_guide_from(g, dec, csum, gd, csum_d):
    """:func:`wsola_guide` continuing sums that end at ``csum[0]`` and ``csum_d[0]`` (a stream's
    next block: the same additions in the same order, so the same prefix sums as in one pass)."""
    # One loop for both chains of additions (each in its own order, as two loops would add):
    # the CPU runs the one beside the other instead of waiting out each in turn.
    acc = csum[0]
    acc_d = csum_d[0]
    scale = 1.0 / dec
    channels = g.shape[0]
    sums = np.zeros(channels)
    for q in range(gd.shape[1]):
        if channels == 1:  # (one channel: its sums stay in registers; the loop below took twice as long)
            s = 0.0
            for i in range(q * dec, q * dec + dec):
                v = np.float64(g[0, i])
                acc += v * v
                csum[i + 1] = acc
                s += v
            sums[0] = s
        else:
            sums[:] = 0.0
            for i in range(q * dec, q * dec + dec):
                for c in range(channels):
                    v = np.float64(g[c, i])
                    acc += v * v
                    sums[c] += v
                csum[i + 1] = acc
        for c in range(channels):
            s = sums[c] * scale
            gd[c, q] = s
            acc_d += s * s
        csum_d[q + 1] = acc_d
    for i in range(gd.shape[1] * dec, g.shape[1]):  # samples after the last whole cell
        for c in range(channels):
            v = np.float64(g[c, i])
            acc += v * v
        csum[i + 1] = acc


@kernel
def _correlations(ref, sig, start, count, out):
    """``out[j] = ref . sig[start + j : start + j + len(ref)]`` for ``j < count``, in ``sig``'s dtype:
    the search's correlations at neighbouring lags, and the overlap-add's frame read through a
    row of the fractional-delay table.

    Eight lags per load of each vector of ``ref``, the last 9 to 12 as one group (the fine search's
    11 lags at 16 and 48 kHz: one chain of multiply-adds per lag, all in flight together, instead
    of eight and then three more chains), fewer one by one (:func:`dot_products` gives a lag the
    same bits alone or in a group), the last ``len(ref) % lanes`` taps in a scalar loop.
    """
    n = ref.shape[0]
    main = n // (VECTOR_BYTES // sig.itemsize) * (VECTOR_BYTES // sig.itemsize)
    j = 0
    while count - j > 12:
        s = start + j
        d = dot_products(sig, (s, s + 1, s + 2, s + 3, s + 4, s + 5, s + 6, s + 7), ref, 0, main)
        for t in range(8):
            out[j + t] = d[t]
        j += 8
    if count - j >= 8:
        _last_lags(ref, sig, start, j, count - j, main, out)
        j = count
    while j < count:
        out[j] = dot_products(sig, (start + j,), ref, 0, main)[0]
        j += 1
    if main < n:
        for j in range(count):
            acc = sig.dtype.type(0.0)
            for i in range(main, n):
                acc += ref[i] * sig[start + j + i]
            out[j] = sig.dtype.type(out[j]) + acc


@kernel(inline="always")
def _last_lags(ref, sig, start, j, r, main, out):
    """``out[j : j + r]``: the correlations of :func:`_correlations` at its last ``r`` lags (8 to 12) in one group."""
    s = start + j
    if r == 8:
        d8 = dot_products(sig, (s, s + 1, s + 2, s + 3, s + 4, s + 5, s + 6, s + 7), ref, 0, main)
        for t in range(8):
            out[j + t] = d8[t]
    elif r == 9:
        d9 = dot_products(sig, (s, s + 1, s + 2, s + 3, s + 4, s + 5, s + 6, s + 7, s + 8), ref, 0, main)
        for t in range(9):
            out[j + t] = d9[t]
    elif r == 10:
        d10 = dot_products(sig, (s, s + 1, s + 2, s + 3, s + 4, s + 5, s + 6, s + 7, s + 8, s + 9), ref, 0, main)
        for t in range(10):
            out[j + t] = d10[t]
    elif r == 11:
        d11 = dot_products(sig, (s, s + 1, s + 2, s + 3, s + 4, s + 5, s + 6, s + 7, s + 8, s + 9, s + 10),
                           ref, 0, main)
        for t in range(11):
            out[j + t] = d11[t]
    else:
        d12 = dot_products(sig, (s, s + 1, s + 2, s + 3, s + 4, s + 5, s + 6, s + 7, s + 8, s + 9, s + 10, s + 11),
                           ref, 0, main)
        for t in range(12):
            out[j + t] = d12[t]


@kernel
def _channel_correlations(g, ref_start, n, start, count, out, more):
    """``out[j]``: the correlations of :func:`_correlations` of the ``n`` samples of each channel of
    ``g`` from ``ref_start`` with its samples from ``start + j``, summed over the channels."""
    _correlations(g[0, ref_start:ref_start + n], g[0], start, count, out)
    for c in range(1, g.shape[0]):
        _correlations(g[c, ref_start:ref_start + n], g[c], start, count, more)
        for j in range(count):
            out[j] += more[j]


@kernel
def _ncc(dot, start, n, csum):
    """``dot`` (of a reference with ``n`` samples from ``start``) divided by their RMS norm (0 on silence)."""
    energy = csum[start + n] - csum[start]
    # No epsilon: ``energy + 1e-20`` outweighed the energy of a quiet signal (peak 2**-35 and below),
    # whose frames were then ranked by raw correlation; scores scale with the signal, splices do not
    return dot / math.sqrt(energy) if energy > 0.0 else 0.0


@kernel
def wsola_positions(g, csum, gd, csum_d, dec, hop, tol, n_in, n_out, pad, positions):
    """Choose the input centre ``positions[k]`` (padded coordinates) of every output frame."""
    wsola_positions_from(g, csum, gd, csum_d, dec, hop, tol, n_in, n_out, pad, 0, 0, 0.0, positions)


@kernel
def wsola_positions_from(g, csum, gd, csum_d, dec, hop, tol, n_in, n_out, pad, origin, k0, prev, positions):
    """:func:`wsola_positions` of frames ``k0, k0 + 1, ...`` over a window of the guide.

    ``g[i]`` is padded sample ``origin + i`` (``origin`` a multiple of ``dec``;
    ``gd``, ``csum`` and ``csum_d`` start there too, holding the one-pass
    prefix sums); ``prev`` is the position of frame ``k0 - 1``. Positions
    stay in padded coordinates, so a stream of windows chooses exactly the
    positions of one pass.
    """
    frame = 2 * hop
    frame_d = frame // dec
    step = hop * (n_in / n_out)
    # Equally quiet lags for a silent reference: the first (earliest) in a slow-down, the last in a
    # speed-up, so that the frame reaching a click after silence can be continued within +-tol (the
    # natural continuation runs ahead of the ideal positions in a slow-down, behind them in a speed-up:
    # with the first, a speed-up of 1.1-1.5 played such clicks at 0.4-0.8 of their level or twice).
    # When none is silent (each holds the click just played: energies are unweighted), the last in a
    # slow-down too: the click at the frame's start, under its rising edge, and not read again by the
    # frames continuing it (the first put it mid-frame: at rate 0.5, up to 6 of 14 clicks twice).
    late = step > hop
    origin_d = origin // dec
    # The last centre whose frame lies within the input (the middle of an input shorter than a
    # frame): frames past it read the zeros after the input, and the output's end faded out (the
    # last ~10 ms of a stretch, down to exact zeros).
    last = pad + max(n_in - hop - 1, n_in // 2)
    dots = np.empty((2 * tol + 2 * dec) // dec + 2 * dec + 8)  # the coarse lags, or the fine ones and one either side
    more = np.empty_like(dots)  # a further channel's
    for i in range(positions.shape[0]):
        k = k0 + i
        if k == 0:
            positions[i] = pad
            prev = positions[i]
            continue
        ideal = min(pad + int(math.floor(k * step + 0.5)), last)
        # Centre of the frame that followed the previous one; search against its
        # whole-sample part and add the fraction back at the end.
        natural_f = prev + hop
        natural = int(math.floor(natural_f))
        frac_natural = natural_f - natural
        ref_start = natural - hop
        # Coarse: every lag of the decimated guide.
        lo = (ideal - tol - hop) // dec
        hi = (min(ideal + tol, last) - hop) // dec
        # A silent reference (digital silence) correlates 0 with every lag, and the first lag won: up
        # to 10 ms early, it read a click after silence again (a slow-down played it twice, 13 ms
        # apart). Silence is continued by the quietest lag instead.
        silent = csum[ref_start - origin + frame] - csum[ref_start - origin] == 0.0
        best_c = (ideal - hop) // dec
        best = -1e300
        _channel_correlations(gd, ref_start // dec - origin_d, frame_d, lo - origin_d, hi - lo + 1, dots, more)
        for c in range(lo, hi + 1):
            d = dots[c - lo]
            energy = csum_d[c - origin_d + frame_d] - csum_d[c - origin_d]  # (prefix sums: never negative)
            score = d * abs(d) / energy if energy > 0.0 else 0.0  # (as _ncc: no epsilon)
            if silent:
                score = -energy
            if score > best or (silent and score == best and (late or score < 0.0)):  # (score: -energy)
                best = score
                best_c = c
        # Fine: full-rate lags around the coarse winner (same offset within the decimation cell),
        # correlated one lag further either side for the parabola below.
        centre = best_c * dec + (ref_start - (ref_start // dec) * dec) + hop
        first = centre - dec
        _channel_correlations(g, ref_start - origin, frame, first - 1 - hop - origin, 2 * dec + 3, dots, more)
        for p in range(first - 1, centre + dec + 2):
            start = p - hop - origin
            if silent:
                dots[p - first + 1] = -(csum[start + frame] - csum[start])
            else:
                dots[p - first + 1] = _ncc(dots[p - first + 1], start, frame, csum)
        best = -1e300
        best_p = ideal
        for p in range(first, min(centre + dec, last) + 1):
            score = dots[p - first + 1]
            if score > best or (silent and score == best and (late or score < 0.0)):
                best = score
                best_p = p
        # Sub-sample peak: parabola through the scores at best_p - 1, best_p, best_p + 1
        # (none when no score beat -1e300: non-finite scores keep the ideal position; none on silence).
        delta = 0.0
        if first <= best_p <= centre + dec and not silent:
            s_m = dots[best_p - first]
            s_p = dots[best_p - first + 2]
            curve = s_m - 2.0 * best + s_p
            if curve < 0.0:
                delta = 0.5 * (s_m - s_p) / curve
                delta = min(0.5, max(-0.5, delta))
        positions[i] = min(best_p + delta + frac_natural, last)
        prev = positions[i]


@exact_kernel
def _frac_frame(x, start, row, tmp, count):
    """``tmp[j] = row . x[start + j : start + j + FRAC_TAPS]`` for ``j < count * lanes`` (:func:`lane_dots`,
    with no fast-math flags: LLVM would reorder its sums, which must stay :func:`dot_products`')."""
    lane_dots(x, start, row, FRAC_TAPS, tmp, count)


@kernel
def wsola_overlap_add(xp, positions, hop, window, frac_table, out):
    """``out[c, k*hop + j] += window[j] * x_c(positions[k] - hop + j)`` (``out`` zeroed by the caller).

    ``x_c(t)`` at a fractional ``t`` is read through the row of ``frac_table``
    nearest to its fraction (``n_taps`` taps starting ``n_taps // 2 - 1``
    samples before ``floor(t)``). ``out`` starts ``hop`` samples before output
    sample 0 and holds ``(n_frames + 1) * hop`` samples.
    """
    n_ch = xp.shape[0]
    frame = 2 * hop
    n_q = frac_table.shape[0] - 1
    n_taps = frac_table.shape[1]
    lead = n_taps // 2 - 1
    tmp = np.empty(frame, dtype=out.dtype)
    lanes = VECTOR_BYTES // xp.itemsize
    for c in range(n_ch):
        x = xp[c]
        o = out[c]
        for k in range(positions.shape[0]):
            start_f = positions[k] - hop
            i0 = int(math.floor(start_f))
            q = int(math.floor((start_f - i0) * n_q + 0.5))
            if q == n_q:
                i0 += 1
                q = 0
            dst = o[k * hop : k * hop + frame]
            if q == 0:
                src = x[i0 : i0 + frame]
                for j in range(frame):
                    dst[j] += window[j] * src[j]
                continue
            # the frame at its fractional delay: a vector of outputs at a time (lane_dots), the rest
            # (a frame that is no whole number of vectors) as correlations, with the same bits
            row = frac_table[q]
            main = frame // lanes * lanes if n_taps == FRAC_TAPS else 0
            if main:
                _frac_frame(x, i0 - lead, row, tmp, main // lanes)
            if main < frame:
                _correlations(row, x, i0 - lead + main, frame - main, tmp[main:])
            for j in range(frame):
                dst[j] += window[j] * tmp[j]
