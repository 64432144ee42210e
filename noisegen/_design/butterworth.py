"""Butterworth zeros and poles, and second-order sections from them: ``scipy.signal.butter(..., output="zpk")``
and ``scipy.signal.zpk2sos(z, p, 1.0)`` (its "nearest" pairing, digital) without their array-API layers, which
took 1.5 ms of a 1.8 ms design. A transform that draws its cut-off designs a filter on every call:
:class:`noisegen.LowPassFilter` on a 1 s clip spent four times the filtering's time in it, and ran at 0.4x
audiomentations' (whose ``butter(..., output="sos")`` is the same design); and the first design of a process
imported ``scipy.signal`` (1.5 s). The steps, their order and their arithmetic are scipy's, so the zeros, poles
and sections are scipy's bit for bit (``tests/test_filters.py`` checks over a grid of designs).
"""

from __future__ import annotations

import numpy as np

__all__ = ["butter_zpk", "zpk_sections"]


def butter_zpk(kind: str, order: int, freqs: tuple, sample_rate: float, *, with_gain: bool = False):
    """``(z, p)`` of ``scipy.signal.butter(order, freqs, btype=kind, fs=sample_rate, output="zpk")`` (its steps:
    the analog prototype, pre-warped edges, the band transform, the bilinear transform), and its gain ``k``
    last ``with_gain`` (it under- or overflows at high orders and extreme edges, where the sections do not)."""
    m = np.arange(-order + 1, order, 2, dtype=np.float64)
    z, p, k = np.asarray([], dtype=np.float64), -np.exp(1j * np.pi * m / (2 * order)), 1.0
    wn = np.asarray(freqs, dtype=np.float64) / (float(sample_rate) / 2)
    warped = 2 * 2.0 * np.tan(np.pi * wn / 2.0)
    if kind == "lowpass":
        k = k * float(warped[0]) ** (len(p) - len(z))
        z, p = float(warped[0]) * z, float(warped[0]) * p
    elif kind == "highpass":
        wo = float(warped[0])
        k = k * np.real(np.prod(-z) / np.prod(-p))
        z, p = np.concatenate((wo / z, np.zeros(len(p) - len(z)))), wo / p
    else:
        bw, wo = float(warped[1] - warped[0]), float(np.sqrt(warped[0] * warped[1]))
        degree = len(p) - len(z)
        if kind == "bandpass":
            k = k * bw**degree
            z_lp, p_lp = (z * bw / 2).astype(np.complex128), (p * bw / 2).astype(np.complex128)
            z = np.concatenate((z_lp + np.sqrt(z_lp**2 - wo**2), z_lp - np.sqrt(z_lp**2 - wo**2)))
            p = np.concatenate((p_lp + np.sqrt(p_lp**2 - wo**2), p_lp - np.sqrt(p_lp**2 - wo**2)))
            z = np.concatenate((z, np.zeros(degree)))
        else:
            k = k * np.real(np.prod(-z) / np.prod(-p))
            z_hp, p_hp = ((bw / 2) / z).astype(np.complex128), ((bw / 2) / p).astype(np.complex128)
            z = np.concatenate((z_hp + np.sqrt(z_hp**2 - wo**2), z_hp - np.sqrt(z_hp**2 - wo**2)))
            p = np.concatenate((p_hp + np.sqrt(p_hp**2 - wo**2), p_hp - np.sqrt(p_hp**2 - wo**2)))
            z = np.concatenate((z, np.full(degree, +1j * wo), np.full(degree, -1j * wo)))
    degree = len(p) - len(z)
    zeros, poles = np.concatenate(((4.0 + z) / (4.0 - z), -np.ones(degree))), (4.0 + p) / (4.0 - p)
    if not with_gain:
        return zeros, poles
    return zeros, poles, k * np.real(np.prod(4.0 - z) / np.prod(4.0 - p))


def _conjugate_pairs(z: np.ndarray):
    """scipy's ``_cplxreal``: ``(zc, zr)``, one of each conjugate pair (the pair's mean, sorted by real
    part) and the real values (sorted)."""
    if z.size == 0:
        return z, z
    tol = 100 * np.finfo((1.0 * z).dtype).eps
    z = z[np.lexsort((abs(z.imag), z.real))]
    real = abs(z.imag) <= tol * abs(z)
    zr = z[real].real
    if len(zr) == len(z):
        return np.array([]), zr
    z = z[~real]
    zp, zn = z[z.imag > 0], z[z.imag < 0]
    if len(zp) != len(zn):
        raise ValueError("Array contains complex value with no matching conjugate.")
    same_real = np.diff(zp.real) <= tol * abs(zp[:-1])
    diffs = np.diff(np.concatenate(([0], same_real, [0])))
    for start, stop in zip(np.nonzero(diffs > 0)[0], np.nonzero(diffs < 0)[0] + 1):
        for chunk in (zp[start:stop], zn[start:stop]):
            chunk[...] = chunk[np.lexsort([abs(chunk.imag)])]
    if any(abs(zp - zn.conj()) > tol * abs(zn)):
        raise ValueError("Array contains complex value with no matching conjugate.")
    return (zp + zn.conj()) / 2, zr


def _nearest(fro: list, to: complex, which: str) -> int:
    """scipy's ``_nearest_real_complex_idx``: the index of the element of ``fro`` nearest ``to`` (of
    ``which`` kind: "real", "complex" or "any"; the first of equals, as its argsort of a few)."""
    order = sorted(range(len(fro)), key=lambda i: abs(fro[i] - to))
    if which == "any":
        return order[0]
    return next(i for i in order if (fro[i].imag == 0) == (which == "real"))


def _worst(p: list) -> int:
    """The index of the pole nearest the unit circle (the first of equals, as ``np.argmin``)."""
    gaps = [abs(1 - abs(x)) for x in p]
    return gaps.index(min(gaps))


def _poly(roots: list) -> list:
    """scipy's ``poly`` of up to two roots (its ``np.convolve`` of ``[1, -root]``, the same operations),
    with the real parts kept (every root here is real or has its conjugate beside it)."""
    if not roots:
        return [1.0]
    if len(roots) == 1:
        return [1.0, (-roots[0]).real]
    r1, r2 = roots
    return [1.0, ((-r2) + (-r1)).real, ((-r1) * (-r2)).real]


def _section(z: list, p: list) -> list:
    b, a = _poly(z), _poly(p)
    return [0.0] * (3 - len(b)) + b + [0.0] * (3 - len(a)) + a


def zpk_sections(z, p) -> np.ndarray:
    """``scipy.signal.zpk2sos(z, p, 1.0)`` of a digital filter with as many zeros as poles (or fewer)."""
    z, p = np.asarray(z), np.asarray(p)
    p = np.concatenate((p, np.zeros(max(len(z) - len(p), 0))))
    z = np.concatenate((z, np.zeros(max(len(p) - len(z), 0))))
    n_sections = (max(len(p), len(z)) + 1) // 2
    if len(p) % 2 == 1:
        p, z = np.concatenate((p, [0.0])), np.concatenate((z, [0.0]))
    z = [complex(x) for x in np.concatenate(_conjugate_pairs(z))]
    p = [complex(x) for x in np.concatenate(_conjugate_pairs(p))]
    sos = [None] * n_sections
    for si in range(n_sections - 1, -1, -1):  # the poles nearest the unit circle last
        p1 = p.pop(_worst(p))
        real_poles = sum(x.imag == 0 for x in p)
        if p1.imag == 0 and real_poles == 0:  # the last real pole
            z1 = z.pop(_nearest(z, p1, "real"))
            sos[si] = _section([z1, 0j], [p1, 0j])
        elif len(p) + 1 == len(z) and p1.imag != 0 and real_poles == 1 and sum(x.imag == 0 for x in z) == 1:
            z1 = z.pop(_nearest(z, p1, "complex"))  # one real pole and one real zero left: a complex zero here
            sos[si] = _section([z1, z1.conjugate()], [p1, p1.conjugate()])
        else:
            if p1.imag == 0:
                reals = [i for i, x in enumerate(p) if x.imag == 0]
                p2 = p.pop(reals[_worst([p[i] for i in reals])])
            else:
                p2 = p1.conjugate()
            if not z:
                sos[si] = _section([], [p1, p2])
                continue
            z1 = z.pop(_nearest(z, p1, "any"))
            if z1.imag != 0:
                sos[si] = _section([z1, z1.conjugate()], [p1, p2])
            elif z:
                sos[si] = _section([z1, z.pop(_nearest(z, p1, "real"))], [p1, p2])
            else:
                sos[si] = _section([z1], [p1, p2])
    return np.array(sos, dtype=np.float64)
