"""The Vorbis I audio-packet loop: one call decodes a stream's packets to float32 samples, as
libvorbis (through libsndfile) gives them.

Each packet: its mode, every channel's floor (:func:`floor1_decode`), the
residues of each submap, inverse coupling, floor times residue, the IMDCT
(:func:`dct4` and its symmetries), then libvorbis's overlap-add: the left
half of this block against the right half of the one before, each weighted
by the power-sine window of the shorter of the two; the first packet gives no
samples, each later one the samples from the previous block's centre to its
own. Granule positions trim the stream as libvorbis does (the end of the last
packet of the stream to its granule position; a first page with fewer samples
than decoded loses them at its start), and the output stops at ``frames``
(libsndfile's frame count).

A packet libvorbis would drop (not an audio packet, a mode out of range,
ended inside its header) stops the decode with :data:`DROPPED`: the caller
reads the file with libsndfile, which drops it. So does a page before the
last whose granule position is not the samples decoded so far, or, on the
first page that has one, is short of them by more than its last packet gives
(out of spec: libvorbis believes the page, and libsndfile's reads then differ).
"""

from __future__ import annotations

import numpy as np

from ..._core.jit import UNCOUNTED, kernel
from ._vorbis_codec import floor1_apply, floor1_decode, read_bits, residue_decode
from ._vorbis_mdct import dct4

DROPPED = -1
MAX_POSTS = 65


def make_scratch(channels: int, blocksize1: int):
    """The working arrays of :func:`decode_audio` for a stream of ``channels`` and long blocks of
    ``blocksize1`` samples."""
    half1 = blocksize1 >> 1
    return (np.zeros((channels, half1), np.float32), np.zeros((channels, half1), np.float32),
            np.zeros(half1, np.float32), np.zeros(half1, np.float32), np.zeros(max(half1 >> 1, 1), np.float32),
            np.zeros(max(half1 >> 1, 1), np.float32), np.zeros((channels, MAX_POSTS), np.int64),
            np.zeros(channels, np.bool_), np.zeros(channels, np.bool_), np.zeros(channels, np.bool_),
            np.zeros(channels, np.int64), np.zeros((channels, half1 * channels + 1), np.int64),
            np.zeros((1, half1 * channels), np.float32), np.zeros(half1, np.int64), np.zeros(half1, np.int32))


@kernel(inline="always")
def _imdct_halves(vec, m, t, re, im, u, left, right, scale):
    """The block's IMDCT, from its ``m`` coefficients ``vec``: ``left`` = samples ``0 .. m``,
    ``right`` = samples ``m .. 2m`` (both scaled by ``scale``)."""
    dct4(vec, m, t, re, im, u)
    h = m >> 1
    for i in range(h):
        left[i] = scale * u[h + i]
        left[h + i] = -scale * u[m - 1 - i]
        right[i] = -scale * u[h - 1 - i]
        right[h + i] = -scale * u[i]


@kernel(**UNCOUNTED)
def decode_audio(payload, starts, ends, granules, eos, first, count, channels, blocksizes, mode_bits,
                 modes, maps, fl, re, books, t0, t1, scale, scratch, out, frames):
    """Decode packets ``first .. count`` into ``out[:, :n]`` and return ``n`` (at most ``frames``),
    or :data:`DROPPED` (``scratch``: :func:`make_scratch`).

    Compiled without Numba's reference counting (:data:`~noisegen._core.jit.UNCOUNTED`): the
    array views it takes per packet and channel cost an atomic update each otherwise, about a
    tenth of the decoding time.
    """
    mode_block, mode_mapping = modes
    submaps, mux, map_floor, map_residue, coupling, mag, ang = maps
    nmodes = mode_block.shape[0]
    vec, prev, left, u, fre, fim, ys, floor_used, used, sub_used, chans, classes, inter, ent, curve = scratch
    cap = out.shape[1]
    pos = 0
    pn = 0  # half of the previous block (0 before the first)
    sample_count = -1
    gran = np.int64(-1)
    for p in range(first, count):
        if pos >= frames:
            break
        bp = starts[p] * 8
        end = ends[p] * 8
        kind, bp = read_bits(payload, bp, 1)
        mode, bp = read_bits(payload, bp, mode_bits)
        if kind != 0 or mode >= nmodes or bp > end:
            return DROPPED
        big = mode_block[mode]
        if big:
            _, bp = read_bits(payload, bp, 2)
            if bp > end:
                return DROPPED
        n2 = np.int64(blocksizes[big] >> 1)
        mp = mode_mapping[mode]
        for c in range(channels):
            floor_used[c], bp = floor1_decode(payload, bp, end, map_floor[mp, mux[mp, c]], fl, books, ys[c])
            used[c] = floor_used[c]
        for i in range(coupling[mp]):
            if used[mag[mp, i]] or used[ang[mp, i]]:
                used[mag[mp, i]] = True
                used[ang[mp, i]] = True
        vec[:, :n2] = 0
        for s in range(submaps[mp]):
            nch = 0
            for c in range(channels):
                if mux[mp, c] == s:
                    chans[nch] = c
                    sub_used[nch] = used[c]
                    nch += 1
            bp = residue_decode(payload, bp, end, map_residue[mp, s], re, books, vec, chans, nch, sub_used,
                                n2, classes, inter, ent)
        for i in range(coupling[mp] - 1, -1, -1):
            vm = vec[mag[mp, i]]
            va = vec[ang[mp, i]]
            for j in range(n2):
                mv = vm[j]
                av = va[j]
                if mv > 0:
                    if av > 0:
                        va[j] = mv - av
                    else:
                        va[j] = mv
                        vm[j] = mv + av
                else:
                    if av > 0:
                        va[j] = mv + av
                    else:
                        va[j] = mv
                        vm[j] = mv - av
        produced = 0 if pn == 0 else (pn >> 1) + (n2 >> 1)
        if pos + produced > cap:
            return DROPPED
        t = t1 if big else t0
        for c in range(channels):
            row = vec[c]
            if floor_used[c]:
                floor1_apply(map_floor[mp, mux[mp, c]], fl, ys[c], n2, row, curve)
            else:
                row[:n2] = 0
            pr = prev[c]
            _imdct_halves(row, n2, t, fre, fim, u, left, row, scale)  # right half into row
            o = out[c, pos:pos + produced]
            if pn == n2:
                w = t[5]
                for i in range(n2):
                    o[i] = pr[i] * w[n2 - 1 - i] + left[i] * w[i]
            elif pn > n2:
                w = t0[5]
                a = (pn >> 1) - (n2 >> 1)
                for i in range(a):
                    o[i] = pr[i]
                for i in range(n2):
                    o[a + i] = pr[a + i] * w[n2 - 1 - i] + left[i] * w[i]
            elif pn > 0:
                w = t0[5]
                b = (n2 >> 1) - (pn >> 1)
                for i in range(pn):
                    o[i] = pr[i] * w[pn - 1 - i] + left[b + i] * w[i]
                for i in range(pn, produced):
                    o[i] = left[b + i]
            for i in range(n2):
                pr[i] = row[i]
        pn = n2
        # libvorbis's granule bookkeeping (vorbis_synthesis_blockin)
        g = granules[p]
        keep_from = 0
        keep_to = produced
        if sample_count == -1:
            sample_count = 0
        else:
            sample_count += produced
        if gran == -1:
            if g != -1:
                gran = g
                if sample_count > gran:
                    extra = sample_count - gran
                    if extra > produced and not eos[p]:  # more than this packet's: out of spec, as below
                        return DROPPED
                    if eos[p]:
                        keep_to = produced - min(extra, produced)
                    else:
                        keep_from = min(extra, produced)
        else:
            gran += produced
            if g != -1 and gran != g:
                if not eos[p]:  # out of spec mid-stream: libvorbis believes it, libsndfile's count does
                    return DROPPED  # not follow (the caller leaves such a stream to libsndfile)
                if gran > g:
                    keep_to = produced - min(gran - g, produced)
                gran = g
        if keep_from > 0:
            for c in range(channels):
                for i in range(keep_to - keep_from):  # to the left: in order is safe
                    out[c, pos + i] = out[c, pos + keep_from + i]
        pos += keep_to - keep_from
    return min(pos, frames)
