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
their regions.
"""

from __future__ import annotations

import math

import numpy as np

from ..._core.jit import kernel


@kernel
def _unit(z):
    """``z / |z|`` (1 for 0)."""
    m = abs(z)
    if m > 0.0:
        return z / m
    return z * 0.0 + 1.0


@kernel
def pvoc_frames(spec, steps, hop, n_fft, out):
    """Fill ``out[c, j, :]`` (complex) from the analysis frames ``spec[c, :, :]``.

    ``spec`` has one zero frame appended at the end. Peak ``r`` advances its
    output phase by its instantaneous frequency over one hop (one ``atan2``
    and one ``cos``/``sin`` per peak); bin ``b`` of its region takes
    ``unit(s[b]) * unit(s[r])^* * e^(1j phase_out[r])``, i.e. the output peak
    phase plus the analysis phase difference ``phase[b] - phase[r]``.
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
    rot = np.empty(n_bins, dtype=out.dtype)
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
                    rot[b] = 1.0
                    continue
                z = s1[b] * s0[b].conjugate()
                dphi = math.atan2(z.imag, z.real) - omega[b]
                dphi = omega[b] + dphi - 2.0 * math.pi * math.floor((dphi + math.pi) / (2.0 * math.pi))
                new = prev[c, b] * complex(math.cos(dphi), math.sin(dphi))
                rot[b] = new * _unit(ref[b]).conjugate()
            for b in range(n_bins):
                u = _unit(ref[b]) * rot[region[b]]
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
