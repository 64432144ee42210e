"""Simulated room impulse responses: exact early image sources, then a matched noise tail.

:func:`simulate_rir` models a shoebox room with uniform wall absorption set
from the requested RT60 by Eyring's formula (:mod:`noisegen._design.room`
says why Eyring). The response has two parts:

- **early** (until the crossover time ``t_c`` = the room diagonal's travel
  time + 50 ms): every image source arriving before ``t_c``, exactly, each a
  64-tap Hann-windowed sinc at its fractional delay with amplitude
  ``beta**order / (4 pi d)``;
- **tail** (from ``t_c`` on): Gaussian noise from noisegen's counter-based
  generator times ``A * 10**(-3 t / RT60)`` (energy falls 60 dB per RT60).
  ``A`` makes the tail's energy over the last 30 ms before ``t_c`` equal to
  the early part's there, less the decaying offset its positive images ride
  on, from 250 Hz to 0.4 times the sample rate (a small room's images hold
  more below that than a white tail continues), so the energy envelope runs
  on without a step in every audible band (the image
  model's mean energy ``c / (4 pi V fs)`` is used instead where that window
  holds too few images). RT60 is the same in every band, so one
  white band is the octave-band sum; air absorption is not modelled.

The RT60 measured from a response (T30 above 50 Hz) is the requested one
within 3 % in rooms up to 10 x 8 x 4 m at 0.4-1.2 s at 16 kHz, random source
and microphone positions (within 2.5 % at 96 kHz; up to 7 % in some rooms at
8 and 48 kHz, where the tail's level, matched over the whole band, meets the
images' uneven spectrum); at 0.2 s, within 6 % in rooms up to 7 x 5 x 3 m and
up to 9 % in a 10 x 8 x 4 m one, whose early part spans much of the range
fitted. Where the exact early
part spans most of the -5 to -35 dB range (a large room at a short RT60:
30 x 20 x 10 m at 0.2 s, 10 x 8 x 4 m at 0.1 s) it follows the images'
geometry: 0.8-1.8x the request, 1.16-1.26x on average.

Every image is positive, so the image sum rides on a slowly decaying offset
that no microphone records (60-90 % of the early part's energy, below 50
Hz; with it a response scaled to unit energy had a DC gain of 9-22, and a
DC offset in the audio came out that many times larger). The whole
response is high-passed at 20 Hz (``HIGHPASS_HZ`` in :mod:`noisegen._design.room`,
a causal second-order Butterworth; pyroomacoustics high-passes its
responses at 10 Hz). In rooms from 3 m up its DC gain is then under 1 % of
a unit-energy response's and up to 13 % of its energy is left below 50 Hz
(more at 8 kHz, less at 48); in closets, whose offset is larger and whose
short responses end before the high-pass has settled, the DC gain reaches
0.06 (1.5-2 m rooms at 0.05 s) and 0.3 (a 1 m cube at 0.05 s), and 30-58 %
of the energy may lie below 50 Hz. Where the images stop the offset is cut
off, and that step and the high-pass's ringing reach into the tail's first
tens of milliseconds: over its first 60 ms it holds more than the image
model run on past the crossover (random positions, 16 kHz) by 9 dB at
60-125 Hz and 4.5 dB at 125-250 Hz in a 3 x 3 x 2.5 m room at 0.3 s (4 and
1.3 dB in a 6 x 4 x 3 m room; 11-13 dB at 125-250 Hz, more below, in
closets); above 250 Hz, and T30 above 50 Hz, as stated above.

The response starts at emission (the direct sound arrives ``d / c`` seconds
in; sinc taps before sample 0 are dropped) and is
``ceil((diagonal / c + rt60_s) * sample_rate) + 32`` samples long: the
tail has decayed by 60 dB one RT60 after the latest possible direct sound.
The length and the crossover depend on the room and RT60 only, and each
microphone's tail on its own geometry only (a hash of room, source and
microphone picks its noise stream), so a microphone array gives exactly the
responses of one call per microphone.
"""

from __future__ import annotations

import math

import numpy as np

from .._design import room as design
from .._design.sections import design_sos
from .._core.validation import (
    check_float_dtype,
    check_int,
    check_output_size,
    check_real,
    check_real_array,
    check_sample_rate,
    show_at_least,
    show_value,
)
from .._core.backend import resolve_backend
from .._core.errors import ParameterError
from .._core.rng import check_rng, derive_key, resolve_key
from .._kernels.cpu import biquad as biquad_kernels
from .._kernels.cpu import room as kernels

__all__ = ["simulate_rir", "simulate_rirs"]

#: Accepted RT60 range in seconds.
MIN_RT60_S, MAX_RT60_S = 0.05, 5.0
#: Accepted room side range in metres.
MIN_ROOM_DIM_M, MAX_ROOM_DIM_M = 0.5, 1000.0
#: Closest a microphone may be to the source (1 cm).
MIN_SOURCE_DISTANCE_M = 0.01
#: Rounding allowed below it: a microphone placed 1 cm away is not always 0.01 m away in float64
#: (2.34 - 2.33 is 0.00999999999999979), nor one RoomSimulator places at a drawn 0.01 m.
_DISTANCE_ROUNDING_M = 1e-9
#: Lowest sample rate (the 64-tap sinc spans 64 ms at 1 kHz).
MIN_SAMPLE_RATE = 1000
#: Most microphones in one call.
MAX_MICS = 1024


def _check_room(room_dim_m, name):
    dims = _vectors(room_dim_m, name, single=True)[0]
    for axis, d in enumerate(dims):
        check_real(float(d), f"{name}[{axis}]", low=MIN_ROOM_DIM_M, high=MAX_ROOM_DIM_M)
    return tuple(float(d) for d in dims)


def _vectors(value, name, *, single=False):
    """A float64 ``(n, 3)`` array of finite coordinates from ``(3,)`` or ``(n, 3)`` input."""
    arr = np.array(check_real_array(value, name, "3 coordinates in metres"))  # a copy
    if arr.ndim == 1 and arr.shape == (3,):
        arr = arr[None, :]
    elif single or arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
        expected = "shape (3,)" if single else "shape (3,) or (n_mics, 3)"
        raise ParameterError(f"{name} must have {expected}, got {show_value(value)} of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ParameterError(f"{name} must be finite, got {show_value(value)}")
    return arr


def _check_inside(points, room, name):
    inside = (points > 0.0) & (points < np.array(room))
    if not inside.all():
        i, axis = np.argwhere(~inside)[0]
        where = f"{name}[{i}]" if points.shape[0] > 1 else name
        raise ParameterError(
            f"{where} must lie strictly inside the room {list(room)} m, got {points[i].tolist()} "
            f"(coordinate {axis} outside (0, {room[axis]:g}))"
        )


def check_room_rate(sample_rate):
    """``sample_rate`` checked, and refused below :data:`MIN_SAMPLE_RATE` (used by :class:`RoomSimulator`'s
    ``prepare`` too, so a folder job at such a rate fails once, not at every input)."""
    sample_rate = check_sample_rate(sample_rate)
    if sample_rate < MIN_SAMPLE_RATE:
        raise ParameterError(f"sample_rate must be at least {MIN_SAMPLE_RATE} Hz for simulated rooms, got {sample_rate}")
    return sample_rate


def _check_geometry(sample_rate, room_dim_m, source_m, mic_m, rt60_s, max_order):
    """Validated ``(sample_rate, room, source, mics, rt60, max_order)``; nothing large is allocated."""
    sample_rate = check_room_rate(sample_rate)
    room = _check_room(room_dim_m, "room_dim_m")
    source = _vectors(source_m, "source_m", single=True)
    mics = _vectors(mic_m, "mic_m")
    if mics.shape[0] > MAX_MICS:
        raise ParameterError(f"mic_m must hold at most {MAX_MICS} microphones, got {mics.shape[0]}")
    _check_inside(source, room, "source_m")
    _check_inside(mics, room, "mic_m")
    dist = np.sqrt(np.sum((mics - source) ** 2, axis=1))
    if np.min(dist) < MIN_SOURCE_DISTANCE_M - _DISTANCE_ROUNDING_M:
        i = int(np.argmin(dist))
        raise ParameterError(
            f"mic_m {mics[i].tolist()} is {dist[i]:.3g} m from source_m; it must be at least "
            f"{MIN_SOURCE_DISTANCE_M} m away"
        )
    rt60 = check_real(rt60_s, "rt60_s", low=MIN_RT60_S, high=MAX_RT60_S)
    shortest = design.min_rt60(room, design.crossover_s(room))
    if rt60 < shortest:
        raise ParameterError(
            f"rt60_s={rt60:g} s is out of reach for a {room[0]:g} x {room[1]:g} x {room[2]:g} m room: by Eyring's "
            f"law (shoebox-corrected) even walls absorbing {design.MAX_ABSORPTION:g} of the energy give "
            f"{show_at_least(shortest)} s"
        )
    if max_order is not None:
        max_order = check_int(max_order, "max_order", low=0, high=10**6)
    cells = design.cell_count(room, mics, design.SPEED_OF_SOUND * design.crossover_s(room))
    if cells > design.MAX_IMAGE_CELLS:
        raise ParameterError(
            f"room_dim_m={list(room)} needs about {cells:.3g} image cells for its early part; the limit is "
            f"{design.MAX_IMAGE_CELLS:,} (noisegen._design.room.MAX_IMAGE_CELLS): widen its narrowest sides "
            "(or shorten its longest)"
        )
    if cells * mics.shape[0] > design.MAX_IMAGE_PAIRS:
        raise ParameterError(
            f"mic_m holds {mics.shape[0]} microphones and room_dim_m={list(room)} needs about {cells:.3g} image "
            f"cells for each: {cells * mics.shape[0]:.3g} in all, over the limit of {design.MAX_IMAGE_PAIRS:,} "
            "(noisegen._design.room.MAX_IMAGE_PAIRS); simulate fewer microphones a call"
        )
    return sample_rate, room, source[0], mics, rt60, max_order


def rir_length(room, rt60_s, sample_rate):
    """Samples in a response: one RT60 past the room diagonal's travel time, plus half the sinc."""
    diagonal_s = math.sqrt(sum(d * d for d in room)) / design.SPEED_OF_SOUND
    return int(math.ceil((diagonal_s + rt60_s) * sample_rate)) + design.SINC_TAPS // 2


def _render(out, sample_rate, room, source, mics, rt60, max_order, key):
    """Write one room's responses into ``out`` (float64, zeros, ``(n_mics, >= rir_length)``)."""

    c = design.SPEED_OF_SOUND
    t_c = design.crossover_s(room)
    beta = design.reflection_coefficient(room, rt60, t_c)
    radius = c * t_c
    lists = design.image_lists(room, source, mics, radius, beta)
    order_cap = 2**62 if max_order is None else max_order
    complete = max_order is None or max_order >= design.max_axis_order(lists)
    half = design.SINC_TAPS // 2
    (xp, xa, xo), (yp, ya, yo), (zp, za, zo) = lists
    kernels.add_images(out, mics, xp, xa, xo, yp, ya, yo, zp, za, zo, order_cap, radius, sample_rate / c, half)
    n_c = int(math.ceil(t_c * sample_rate))
    match = int(round(design.MATCH_S * sample_rate))
    amps = np.empty(mics.shape[0])
    streams = np.empty(mics.shape[0], dtype=np.uint64)
    for m, mic in enumerate(mics):
        direct = float(np.sqrt(np.sum((mic - source) ** 2))) / c * sample_rate
        start = max(n_c - match, int(math.ceil(direct)) + half)
        dense = complete and design.expected_images(room, start / sample_rate, t_c) >= design.MIN_MATCH_IMAGES
        amps[m] = design.tail_amplitude(out[m], start, n_c, room, sample_rate, rt60, dense)
        streams[m] = design.geometry_stream(room, source, mic)
    kernels.add_tail(out, np.uint64(key), streams, n_c, amps, design.decay_per_sample(rt60, sample_rate))
    # the images' offset is no sound a microphone records (module notes): high-passed away, in place
    highpass = design_sos("highpass", sample_rate=sample_rate, cutoff_hz=design.HIGHPASS_HZ, order=2)
    biquad_kernels.sosfilt(highpass, out, out, np.zeros((out.shape[0], 1, 2)))


def simulate_rir(*, sample_rate, room_dim_m, source_m, mic_m, rt60_s, max_order=None, rng=None, dtype=np.float32,
                 backend="auto"):
    """Impulse responses of a shoebox room: image sources, then a matched noise tail.

    See the module notes for the model (Eyring absorption, crossover, tail
    level, length).

    Parameters
    ----------
    sample_rate : int
        At least 1000 Hz.
    room_dim_m : array-like [shape=(3,)]
        Room sides in metres, each in [0.5, 1000].
    source_m : array-like [shape=(3,)]
        Source position, strictly inside the room.
    mic_m : array-like [shape=(3,) or (n_mics, 3)]
        Microphone positions, strictly inside the room and at least 1 cm
        from the source; they share one image enumeration.
    rt60_s : float
        Reverberation time in [0.05, 5] s, reachable for the room (walls
        absorb at most 99 % of the energy: a large room cannot be very dry).
    max_order : int or None
        Highest reflection order among the exact images (None: all of them).
        The crossover does not move: ``max_order=1`` gives the direct sound,
        the first-order reflections that arrive before it (all six, as
        pyroomacoustics' ``max_order=1``, unless the room is long: a far
        wall's echo arriving after the crossover is left to the tail) and
        then the tail at the image model's mean level.
    rng : None, int or numpy.random.Generator
        Keys the tail's noise; the same ``rng`` gives the same response.
    dtype : np.float32 or np.float64
        Output dtype (computed in float64).
    backend : {"auto", "cpu"}
        The CPU computes it (a CUDA request is a BackendError).

    Returns
    -------
    np.ndarray [shape=(n_mics, n_samples)]
        Always 2-D, one row per microphone, unnormalised (the direct sound at
        distance ``d`` has peak about ``1 / (4 pi d)``).

    Raises
    ------
    ParameterError
        A bad or out-of-range argument, a point outside the room, an RT60 the
        room cannot reach, or a room needing too many images (for all its microphones together).

    See Also
    --------
    simulate_rirs : many rooms per call.
    convolve_rir : apply a response to audio.
    noisegen.transforms.RoomSimulator : random rooms as a transform.

    Examples
    --------
    >>> import noisegen
    >>> h = noisegen.simulate_rir(sample_rate=16000, room_dim_m=[5, 4, 3], source_m=[1, 1, 1.5],
    ...                           mic_m=[[3, 2, 1.5], [3.1, 2, 1.5]], rt60_s=0.4, rng=0)
    >>> h.shape, h.dtype
    ((2, 6762), dtype('float32'))
    >>> int(abs(h[0]).argmax()) == round(((2**2 + 1**2) ** 0.5) / 343 * 16000)
    True
    """
    resolve_backend(backend)
    check_rng(rng)
    dtype = check_float_dtype(dtype)
    sample_rate, room, source, mics, rt60, max_order = _check_geometry(
        sample_rate, room_dim_m, source_m, mic_m, rt60_s, max_order)
    n = rir_length(room, rt60, sample_rate)
    check_output_size(n, mics.shape[0], "rt60_s", rt60_s)
    out = np.zeros((mics.shape[0], n))
    _render(out, sample_rate, room, source, mics, rt60, max_order, resolve_key(rng))
    return out.astype(dtype, copy=False)


def _per_room(value, n_rooms, name, ndim):
    """``value`` as an array with a leading room axis (a single item is broadcast)."""
    arr = check_real_array(value, name, "numbers in metres or seconds")
    if arr.ndim == ndim - 1:
        return [value] * n_rooms
    if arr.ndim < ndim - 1 or arr.shape[0] != n_rooms:
        raise ParameterError(f"{name} must give one value per room ({n_rooms}) or one for all, got shape {arr.shape}")
    return list(arr)


def simulate_rirs(*, sample_rate, room_dim_m, source_m, mic_m, rt60_s, max_order=None, rng=None, dtype=np.float32,
                  backend="auto"):
    """Many simulated responses in one call, zero-padded to a common length.

    Parameters
    ----------
    sample_rate : int
    room_dim_m : array-like [shape=(n_rooms, 3)]
    source_m : array-like [shape=(3,) or (n_rooms, 3)]
    mic_m : array-like [shape=(3,), (n_rooms, 3) or (n_rooms, n_mics, 3)]
        The same number of microphones in every room.
    rt60_s : float or array-like [shape=(n_rooms,)]
    max_order : int or None
    rng : None, int, numpy.random.Generator, or a sequence of ``n_rooms`` of them
        A sequence (a list, tuple, range or 1-D array) gives room ``i`` exactly ``simulate_rir(..., rng=rng[i])``;
        a single ``rng`` is resolved once and room ``i`` keyed by
        ``noisegen._core.rng.derive_key(key, i)``.
    dtype : np.float32 or np.float64
    backend : {"auto", "cpu"}

    Returns
    -------
    np.ndarray [shape=(n_rooms, n_mics, n_samples)]
        Room ``i`` is :func:`simulate_rir`'s response followed by zeros up to
        the longest response.

    Examples
    --------
    >>> import noisegen
    >>> h = noisegen.simulate_rirs(sample_rate=8000, room_dim_m=[[4, 3, 2.5], [6, 5, 3]],
    ...                            source_m=[1, 1, 1], mic_m=[2, 2, 1.2], rt60_s=[0.3, 0.5], rng=[0, 1])
    >>> h.shape
    (2, 1, 4228)
    """
    resolve_backend(backend)
    dtype = check_float_dtype(dtype)
    rooms = check_real_array(room_dim_m, "room_dim_m", "an array of shape (n_rooms, 3)")
    if rooms.ndim != 2 or rooms.shape[1] != 3 or rooms.shape[0] == 0:
        raise ParameterError(f"room_dim_m must have shape (n_rooms, 3), got shape {np.shape(room_dim_m)}")
    n_rooms = rooms.shape[0]
    try:
        mic_ndim = np.ndim(mic_m)
    except ValueError:  # a ragged list
        raise ParameterError(f"mic_m must have shape (3,), (n_rooms, 3) or (n_rooms, n_mics, 3), got {show_value(mic_m)}") from None
    mics = _per_room(mic_m, n_rooms, "mic_m", 3 if mic_ndim == 3 else 2)
    sources = _per_room(source_m, n_rooms, "source_m", 2)
    rt60s = _per_room(rt60_s, n_rooms, "rt60_s", 1)
    # The output is at least one (clamped) RT60 wide: refused on that bound before every room's
    # checks (~50 us each: a million rooms took a minute before their width was refused)
    rt = check_real_array(rt60_s, "rt60_s").reshape(-1)
    longest = float(np.clip(rt[np.isfinite(rt)], 0.0, MAX_RT60_S).max(initial=0.0))
    check_output_size(math.ceil(longest * check_sample_rate(sample_rate)), n_rooms, "room_dim_m", f"{n_rooms} rooms")
    # (an array or range of seeds is a sequence too: it was refused as "rng must be None, an int or a Generator")
    if isinstance(rng, (list, tuple, range)) or (isinstance(rng, np.ndarray) and rng.ndim == 1):
        if len(rng) != n_rooms:
            raise ParameterError(f"rng must be one seed for all rooms or {n_rooms} of them, got {len(rng)}")
        keys = [resolve_key(r, f"rng[{i}]") for i, r in enumerate(rng)]
    else:
        root = resolve_key(rng)
        keys = [derive_key(root, i) for i in range(n_rooms)]
    checked = []
    for i in range(n_rooms):
        try:
            checked.append(_check_geometry(sample_rate, rooms[i], sources[i], mics[i], rt60s[i], max_order))
        except ParameterError as exc:
            raise ParameterError(f"room {i}: {exc}") from None
    n_mics = {c[3].shape[0] for c in checked}
    if len(n_mics) > 1:
        raise ParameterError(f"mic_m must give every room the same number of microphones, got {sorted(n_mics)}")
    n = max(rir_length(c[1], c[4], c[0]) for c in checked)
    check_output_size(n, n_rooms * n_mics.pop(), "room_dim_m", f"{n_rooms} rooms")
    out = np.zeros((n_rooms, checked[0][3].shape[0], n), dtype=dtype)
    for i, (sr, room, source, mic, rt60, order) in enumerate(checked):
        m = rir_length(room, rt60, sr)
        row = np.zeros((mic.shape[0], m))
        _render(row, sr, room, source, mic, rt60, order, keys[i])
        out[i, :, :m] = row
    return out
