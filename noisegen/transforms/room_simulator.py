"""RoomSimulator: reverberation from a random simulated shoebox room."""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._core.validation import show_at_least, show_value, check_real
from .._core.errors import ParameterError
from .._design import room as design
from ..effects import rooms
from .target import fit_length
from .base import Transform, nested_from_dict
from .params import draw_seed, draw_uniform, real_param, seed_param, uniform_range
from .. import effects
from ..effects.reverb_blocks import convolve_partitioned

__all__ = ["SIMULATED", "RoomSimulator", "as_room_simulator"]

#: The word that, as ApplyImpulseResponse's ``rir``, means simulated rooms (a folder of that name: ``"./simulated"``).
SIMULATED = "simulated"

#: Direction draws before the source-microphone distance is shortened to fit the room.
_PLACEMENT_TRIES = 32


def _vec3(value, name, low=None, high=None):
    """Three finite reals (a list of floats), each in ``[low, high]``."""
    if (isinstance(value, (str, bytes, dict)) or getattr(value, "ndim", 1) != 1  # a 0-d array has no len
            or not hasattr(value, "__len__") or len(value) != 3):
        raise ParameterError(f"{name} must be 3 numbers (x, y, z) in metres, got {show_value(value)}")
    return [check_real(v, f"{name}[{i}]", low=low, high=high) for i, v in enumerate(value)]


def _vec3_param(low=None, high=None):
    return lambda value, name: _vec3(value, name, low, high)


class RoomSimulator(Transform):
    """Reverberate with the response of a random simulated room.

    Each application draws a room (each side uniform between
    ``min_room_dim_m`` and ``max_room_dim_m``), an RT60, a source-microphone
    distance, a source and a direction (both at least ``wall_margin_m`` from
    every wall; when the drawn distance does not fit after 32 directions it
    is shortened to the longest that fits, never below 1 cm: a room too thin
    for that along all of them takes its diagonal), and a ``seed`` for the tail. The
    response from :func:`noisegen.simulate_rir` at the call's sample rate is
    applied with :func:`noisegen.convolve_rir` as
    :class:`ApplyImpulseResponse` does (``mode="same"``, unit-energy
    response, direct-path delay kept; one response for every channel).
    ``last_params``: ``room_dim_m``, ``source_m``, ``mic_m``, ``rt60_s``,
    ``seed`` (replaying them rebuilds the same response).

    Parameters
    ----------
    min_rt60_s, max_rt60_s : float
        RT60 range in [0.05, 5] s; ``min_rt60_s`` must be reachable in the
        largest room.
    min_room_dim_m, max_room_dim_m : sequence of 3 floats
        Per-axis ranges of the room's sides (x, y, z) in [0.5, 1000] m.
    min_distance_m, max_distance_m : float
        Source-microphone distance range, from 0.01 m.
    wall_margin_m : float
        Least distance of the source and the microphone from any wall; twice
        it must be less than the smallest room side.
    p : float

    Examples
    --------
    >>> import numpy as np
    >>> from noisegen.transforms import RoomSimulator
    >>> t = RoomSimulator(min_rt60_s=0.3, max_rt60_s=0.3, p=1.0)
    >>> y = np.zeros(8000, dtype=np.float32); y[0] = 1.0
    >>> out = t(y, sample_rate=16000, rng=0)
    >>> out.shape, out.dtype, t.last_params["rt60_s"]
    ((8000,), dtype('float32'), 0.3)
    """

    degrades = True  # a degradation: paired targets skip it

    def __init__(self, *, min_rt60_s: float = 0.2, max_rt60_s: float = 1.0,
                 min_room_dim_m=(3.0, 3.0, 2.5), max_room_dim_m=(10.0, 8.0, 4.0),
                 min_distance_m: float = 0.5, max_distance_m: float = 3.0, wall_margin_m: float = 0.5,
                 p: float = 0.5):
        super().__init__(p=p)
        self.min_rt60_s, self.max_rt60_s = uniform_range(
            min_rt60_s, max_rt60_s, "min_rt60_s", "max_rt60_s", low=rooms.MIN_RT60_S, high=rooms.MAX_RT60_S)
        lo = _vec3(min_room_dim_m, "min_room_dim_m", rooms.MIN_ROOM_DIM_M, rooms.MAX_ROOM_DIM_M)
        hi = _vec3(max_room_dim_m, "max_room_dim_m", rooms.MIN_ROOM_DIM_M, rooms.MAX_ROOM_DIM_M)
        for axis in range(3):
            uniform_range(lo[axis], hi[axis], f"min_room_dim_m[{axis}]", f"max_room_dim_m[{axis}]")
        self.min_room_dim_m, self.max_room_dim_m = lo, hi
        self.wall_margin_m = check_real(wall_margin_m, "wall_margin_m", low=0.0, low_inclusive=False,
                                        high=min(lo) / 2.0, high_inclusive=False)
        self.min_distance_m, self.max_distance_m = uniform_range(
            min_distance_m, max_distance_m, "min_distance_m", "max_distance_m", low=rooms.MIN_SOURCE_DISTANCE_M)
        inner = math.sqrt(sum((d - 2.0 * self.wall_margin_m) ** 2 for d in lo))
        if self.min_distance_m > inner:
            raise ParameterError(
                f"min_distance_m={self.min_distance_m:g} does not fit the smallest room {lo} m with "
                f"wall_margin_m={self.wall_margin_m:g} (at most {show_at_least(inner, most=True)} m)"
            )
        # the most image cells a draw may need, over a grid of the rooms allowed (a room's cells fall with
        # each side and rise with its diagonal: the largest count may lie inside the ranges)
        grid, origin = np.linspace(lo, hi, 5), np.zeros((1, 3))
        cells = max(design.cell_count(r, origin, design.SPEED_OF_SOUND * design.crossover_s(r))
                    for r in itertools.product(*grid.T))
        if cells > design.MAX_IMAGE_CELLS:
            raise ParameterError(
                f"min_room_dim_m={lo} and max_room_dim_m={hi} allow rooms needing about {cells:.3g} image cells "
                f"(the limit is {design.MAX_IMAGE_CELLS:,}): raise the smallest sides or lower the largest")
        shortest = design.min_rt60(hi, design.crossover_s(hi))
        if self.min_rt60_s < shortest:
            raise ParameterError(
                f"min_rt60_s={self.min_rt60_s:g} s is out of reach for the largest room {hi} m "
                f"(at least {show_at_least(shortest)} s)"
            )

    def prepare(self, sample_rate):
        # refused here, not at the first call: a folder job at this rate fails once, before any input
        rooms.check_room_rate(sample_rate)

    def _place(self, gen, room, distance):
        """Source and microphone at ``distance`` (shortened if it cannot fit), both inside the margins."""
        lo = np.full(3, self.wall_margin_m)
        span = np.asarray(room) - 2.0 * self.wall_margin_m
        best_u, best_fit = None, -1.0
        for _ in range(_PLACEMENT_TRIES):
            u = gen.standard_normal(3)
            u /= max(float(np.linalg.norm(u)), 1e-300)
            fit = float(np.min(span / np.maximum(np.abs(u), 1e-300)))  # longest distance along u
            if fit > best_fit:
                best_u, best_fit = u, fit
            if fit >= distance:
                break
        if best_fit < rooms.MIN_SOURCE_DISTANCE_M:  # thin on every side: the diagonal, the longest fit, fits
            best_u, best_fit = np.copysign(span, best_u) / np.linalg.norm(span), float(np.linalg.norm(span))
        u, distance = best_u, min(distance, best_fit)
        step = distance * u
        low = lo + np.maximum(0.0, -step)
        high = lo + span - np.maximum(0.0, step)
        source = low + gen.random(3) * (high - low)
        mic = np.clip(source + step, lo, lo + span)
        return [float(v) for v in source], [float(v) for v in mic]

    def randomize(self, y, sample_rate, gen):
        room = [draw_uniform(gen, a, b) for a, b in zip(self.min_room_dim_m, self.max_room_dim_m)]
        rt60 = draw_uniform(gen, self.min_rt60_s, self.max_rt60_s)
        source, mic = self._place(gen, room, draw_uniform(gen, self.min_distance_m, self.max_distance_m))
        return {"room_dim_m": room, "source_m": source, "mic_m": mic, "rt60_s": rt60, "seed": draw_seed(gen)}

    def _param_checks(self, sample_rate):
        room = _vec3_param(rooms.MIN_ROOM_DIM_M, rooms.MAX_ROOM_DIM_M)
        return {"room_dim_m": room, "source_m": _vec3_param(0.0), "mic_m": _vec3_param(0.0),
                "rt60_s": real_param(rooms.MIN_RT60_S, rooms.MAX_RT60_S), "seed": seed_param()}

    def _rir(self, sample_rate, params):
        """The response ``params`` describe (1-D float64)."""
        return effects.simulate_rir(
            sample_rate=sample_rate, room_dim_m=params["room_dim_m"], source_m=params["source_m"],
            mic_m=params["mic_m"], rt60_s=params["rt60_s"], rng=params["seed"], dtype=np.float64)[0]

    def _apply(self, y, sample_rate, params):
        return convolve_partitioned(y, self._rir(sample_rate, params).astype(y.dtype), mode="same")

    def _target_step(self, y, out, target, sample_rate, params, mode):
        if mode != "early" or not params["applied"] or y.shape[-1] == 0:
            return super()._target_step(y, out, target, sample_rate, params, mode)
        return early_target(target, self._rir(sample_rate, params).astype(y.dtype), sample_rate, out.shape[-1],
                            direct_s=self._direct_s(params))

    @staticmethod
    def _direct_s(params):
        """When the direct sound arrives (the early target's start: a pair of reflections arriving
        together, or the dense early part, may peak above it)."""
        return math.dist(params["mic_m"], params["source_m"]) / design.SPEED_OF_SOUND

    def _config(self):
        return {
            "min_rt60_s": self.min_rt60_s, "max_rt60_s": self.max_rt60_s,
            "min_room_dim_m": list(self.min_room_dim_m), "max_room_dim_m": list(self.max_room_dim_m),
            "min_distance_m": self.min_distance_m, "max_distance_m": self.max_distance_m,
            "wall_margin_m": self.wall_margin_m, "p": self.p,
        }


def early_target(target, rir, sample_rate, n_out, direct_s=None):
    """``target`` convolved with the early part of ``rir`` (:func:`noisegen.effects.early_rir`:
    50 ms after the direct path, at ``direct_s`` when given, scaled as ``convolve_rir`` scales the
    whole response), ``n_out`` long."""
    early = effects.early_rir(rir, sample_rate=sample_rate, direct_s=direct_s).astype(target.dtype)
    return fit_length(effects.convolve_rir(target, early, mode="full", normalize=None), n_out)


def as_room_simulator(rir):
    """The :class:`RoomSimulator` that ``ApplyImpulseResponse(rir=...)`` uses, or None for recorded responses.

    ``"simulated"`` gives one with the default ranges; a RoomSimulator or its
    ``to_dict()`` gives that one (its ``p`` is not used).
    """
    if isinstance(rir, str) and rir == SIMULATED:
        return RoomSimulator(p=1.0)
    if isinstance(rir, RoomSimulator):
        return rir
    if isinstance(rir, dict) and isinstance(rir.get("name"), str) and rir["name"] == "RoomSimulator":
        return nested_from_dict(rir, "rir")
    return None
