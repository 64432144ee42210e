"""CPU kernels of the phase-locked phase vocoder (FFTs run outside, in scipy.fft).

For output frame ``j`` at fractional input frame ``t = steps[j]`` (``i =
floor(t)``, ``a = t - i``) the magnitude is interpolated between analysis
frames ``i`` and ``i + 1``; every bin's phase advances by its instantaneous
frequency times the hop (the standard phase vocoder). Laroche-Dolson
identity phase locking then rewrites the output phase: each bin takes the
accumulated phase of the spectral peak whose region it belongs to, plus the
analysis phase difference between itself and that peak (in frame ``i``, or
in frame 1 between frames 0 and 1: frame 0 is half zero padding), so the
bins of one sinusoid keep the phase relations of the input (far less
"phasiness").
Peaks are local maxima of the channel-mean magnitude, so all channels share
their regions. A channel whose phase advances at a peak as the loudest
channel's does there (one sound in both: a delayed or scaled copy) follows that
channel's peak phase and keeps its analysis phase difference to it, so the
channels keep their phase and time differences (each channel's own peak phase,
accumulated apart, drifted from the others': a stereo pair 1.25 ms apart came
out -1.6 to +2 ms apart at rate 1.3). A channel holding another sound there
keeps its own peak phase.
"""

from __future__ import annotations

import math

import numpy as np

from ..._core.jit import kernel


#: Largest difference of two channels' phase advances at a peak (radians per hop) for which the
#: quieter channel follows the louder one's phase: one sound in both (a delayed or scaled copy).
COHERENT_RAD = 0.1


#: Below this magnitude :func:`_unit` divides as reals, on ``z`` scaled by :data:`_UP` (exact), and a
#: peak's phase advance is taken from unit phasors: the complex division ``z / |z|`` squares ``|z|``,
#: which underflowed for a complex64 bin below ~1e-22 (complex128: ~1e-154) and made it NaN (a float32
#: clip with a quiet tail, a reverb decay or denormals, beside louder audio, which sets the stretch's
#: scaling, was refused as "overflows float32"), as the product of two frames' bins underflowed.
_SMALL = 1e-18
_UP = 2.0**600


@kernel
def _unit(z):
    """``z / |z|`` (1 for 0)."""
    m = abs(z)
    if m >= _SMALL:
        return z / m
    if m > 0.0:
        re, im = float(z.real) * _UP, float(z.imag) * _UP  # (float64: as plain Python too)
        s = math.hypot(re, im)
        return complex(re / s, im / s)
    return z * 0.0 + 1.0


@kernel
def pvoc_frames(spec, steps, hop, n_fft, out):
    """Fill ``out[c, j, :]`` (complex) from the analysis frames ``spec[c, :, :]``.

    ``spec`` has one zero frame appended at the end. Peak ``r`` advances its
    output phase by its instantaneous frequency over one hop (one ``atan2``
    and one ``cos``/``sin`` per peak and channel); bin ``b`` of its region takes
    ``unit(s[b]) * unit(s_L[r])^* * e^(1j phase_out_L[r])``, i.e. the output peak
    phase plus the analysis phase difference ``phase[b] - phase_L[r]``, where
    ``L`` is the channel loudest at ``r`` when the two advance alike there (within
    :data:`COHERENT_RAD`), else the channel itself.
    """
    n_ch, n_frames, n_bins = spec.shape
    n_out = steps.shape[0]
    prev = np.empty((n_ch, n_bins), dtype=out.dtype)  # unit phasors of the previous output frame
    omega = np.empty(n_bins)
    for b in range(n_bins):
        omega[b] = 2.0 * math.pi * hop * b / n_fft
    region = np.empty(n_bins, dtype=np.int64)
    mag_g = np.empty(n_bins)
    mags = np.empty((n_ch, n_bins))
    rot = np.empty((n_ch, n_bins), dtype=out.dtype)
    advance = np.zeros((n_ch, n_bins))  # each peak's phase advance over the hop, per channel
    lead = np.zeros(n_bins, dtype=np.int64)  # per peak: the channel loudest there
    for j in range(n_out):
        t = steps[j]
        i = int(math.floor(t))
        if i > n_frames - 2:
            i = n_frames - 2
        a = t - i
        # Interpolated magnitudes, their channel mean, its peaks and each bin's
        # peak region (boundaries halfway between neighbouring peaks).
        for b in range(n_bins):
            mag_g[b] = 0.0
        for c in range(n_ch):
            for b in range(n_bins):
                m = (1.0 - a) * abs(spec[c, i, b]) + a * abs(spec[c, i + 1, b])
                mags[c, b] = m
                mag_g[b] += m
        last_peak = -1
        for b in range(n_bins):
            left = mag_g[b - 1] if b > 0 else -1.0
            right = mag_g[b + 1] if b < n_bins - 1 else -1.0
            if mag_g[b] > left and mag_g[b] >= right:
                if last_peak < 0:
                    for q in range(0, b):
                        region[q] = b
                else:
                    mid = (last_peak + b) // 2
                    for q in range(last_peak, mid + 1):
                        region[q] = last_peak
                    for q in range(mid + 1, b):
                        region[q] = b
                region[b] = b
                last_peak = b
        if last_peak < 0:
            for b in range(n_bins):
                region[b] = b
        else:
            for q in range(last_peak, n_bins):
                region[q] = last_peak
        for b in range(n_bins):
            if region[b] == b:
                best = 0
                for c in range(1, n_ch):
                    if mags[c, b] > mags[best, b]:
                        best = c
                lead[b] = best
        for c in range(n_ch):
            s0 = spec[c, i]
            s1 = spec[c, i + 1]
            # The phase relations between bins come from frame i, but frame 0 (centred on
            # sample 0) is half zeros: its relations put a grain's energy off its centre, and
            # the frames a slow-down places between frames 0 and 1 cancelled (a 0.5 tone dipped
            # to 0.2 over the first hop). Those take frame 1's.
            ref = s1 if i == 0 and a > 0.0 else s0
            for b in range(n_bins):
                if region[b] != b:
                    continue
                if j == 0:
                    rot[c, b] = 1.0
                    continue
                z = s1[b] * s0[b].conjugate()
                if abs(z) >= _SMALL or s0[b] == 0.0 or s1[b] == 0.0:  # (a zero bin: no advance of its own)
                    dphi = math.atan2(z.imag, z.real) - omega[b]
                else:  # (underflowed to 0, or to a few bits, in a quiet stretch: from unit phasors)
                    u = _unit(s1[b]) * _unit(s0[b]).conjugate()
                    dphi = math.atan2(u.imag, u.real) - omega[b]
                dphi = omega[b] + dphi - 2.0 * math.pi * math.floor((dphi + math.pi) / (2.0 * math.pi))
                advance[c, b] = dphi
                new = prev[c, b] * complex(math.cos(dphi), math.sin(dphi))
                rot[c, b] = new * _unit(ref[b]).conjugate()
        for c in range(n_ch):
            ref = spec[c, 1] if i == 0 and a > 0.0 else spec[c, i]
            for b in range(n_bins):
                r = region[b]
                follow = lead[r]
                d = advance[c, r] - advance[follow, r]
                if abs(d - 2.0 * math.pi * math.floor((d + math.pi) / (2.0 * math.pi))) > COHERENT_RAD:
                    follow = c  # another sound than the lead channel's (another frequency): its own phase
                u = _unit(ref[b]) * rot[follow, r]
                prev[c, b] = u
                out[c, j, b] = mags[c, b] * u


@kernel
def overlap_add(frames, window, hop, out, norm):
    """``out[c, j*hop + m] += window[m] * frames[c, j, m]``; ``norm`` accumulates ``window**2``."""
    n_ch, n_frames, n_fft = frames.shape
    for j in range(n_frames):
        seg = norm[j * hop : j * hop + n_fft]
        for m in range(n_fft):
            seg[m] += window[m] * window[m]
    for c in range(n_ch):
        for j in range(n_frames):
            dst = out[c, j * hop : j * hop + n_fft]
            src = frames[c, j]
            for m in range(n_fft):
                dst[m] += window[m] * src[m]
