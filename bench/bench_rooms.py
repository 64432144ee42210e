"""Simulated room impulse responses: noisegen ``simulate_rir`` vs pyroomacoustics.

One 6 x 4 x 3 m room, source and microphone 2.5 m apart, 16 kHz, RT60 0.3,
0.6 and 1.0 s. noisegen: exact image sources for the first 50 ms after the
room diagonal's travel time, then a matched noise tail. pyroomacoustics: its
full-order image method (``pra.inverse_sabine(rt60, room_dim)`` gives the
absorption and ``max_order``; ``ShoeBox(..., materials=pra.Material(e_absorption),
max_order=..., air_absorption=False)``, ``room.compute_rir()``), built anew for
every response as a user making random rooms would. Both timed in the same
interleaved rounds, one thread. Quality: the RT60 measured from each response
above 50 Hz (Schroeder backward integration, line fit from -5 to -35 dB: T30)
and its error against the request. Records have ``clip_s`` None (a response is not a
clip): seconds per response, the ratio in the note.
"""

from __future__ import annotations

import numpy as np

from bench._harness import SR, Case, _clean, cold_first_call, have, ng, time_group

ROOM = [6.0, 4.0, 3.0]
SOURCE = [1.5, 1.2, 1.4]
MIC = [3.9, 1.9, 1.6]
RT60S = (0.3, 0.6, 1.0)


def t30(h, fs=SR):
    """RT60 from Schroeder backward integration, least-squares line from -5 to -35 dB, of what is above
    50 Hz (pyroomacoustics high-passes its responses at 10 Hz; noisegen's images ride on an offset below
    any audible band that decays by its own law)."""
    from scipy.signal import butter, sosfiltfilt

    h = sosfiltfilt(butter(2, 50.0, "high", fs=fs, output="sos"), np.asarray(h, np.float64))
    e = np.cumsum((np.asarray(h, np.float64) ** 2)[::-1])[::-1]
    db = 10 * np.log10(e / e[0])
    i5, i35 = int(np.argmax(db <= -5)), int(np.argmax(db <= -35))
    return float(-60.0 / np.polyfit(np.arange(i5, i35) / fs, db[i5:i35], 1)[0])


def make_noisegen(rt60):
    fn = ng("simulate_rir")
    if fn is None:
        raise AttributeError("noisegen.simulate_rir is not available")
    seeds = iter(range(1 << 30))
    return lambda clip: fn(sample_rate=SR, room_dim_m=ROOM, source_m=SOURCE, mic_m=MIC, rt60_s=rt60,
                           rng=next(seeds))[0]


def make_pyroomacoustics(rt60):
    import pyroomacoustics as pra

    def fn(clip):
        e_absorption, max_order = pra.inverse_sabine(rt60, ROOM)
        room = pra.ShoeBox(ROOM, fs=SR, materials=pra.Material(e_absorption), max_order=max_order,
                           air_absorption=False)
        room.add_source(SOURCE)
        room.add_microphone(MIC)
        room.compute_rir()
        return np.asarray(room.rir[0][0])

    return fn


def _record(library, variant, rt60, t, quality, note, compile_s=None, status="ok"):
    """One response's record; ``t`` is empty for a library that did not run (``status`` says why)."""
    return _clean({"op": "simulate_rir", "params": {"what": f"{variant}, RT60 {rt60} s", "rt60_s": rt60},
                   "library": library, "variant": variant, "clip_s": None, "xrt": None,
                   "median_s": t.get("median_s"), "iqr_s": t.get("iqr_s"), "repeats": t.get("repeats"),
                   "number": t.get("number"), "first_call_s": t.get("first_call_s"), "compile_s": compile_s,
                   "quality": {"seconds": t.get("median_s"), **quality}, "like_for_like": True, "status": status,
                   "note": note})


def cases(cfg):
    return []


def extra(cfg):
    if ng("simulate_rir") is None:
        cfg.log("  skip simulate_rir: not available")
        return []
    compile_s = None
    if cfg.cold:
        case = Case("simulate_rir", {}, "noisegen", "noisegen simulate_rir", "bench.bench_rooms:make_noisegen",
                    {"rt60": 0.6})
        cold = cold_first_call(case, 1.0, fresh_cache=True)
        compile_s = None if cold is None else max(0.0, cold["first"] - cold["warm"])
    records = []
    for rt60 in RT60S:
        fns = [make_noisegen(rt60)]
        names = [("noisegen", "noisegen simulate_rir")]
        if have("pyroomacoustics"):
            fns.append(make_pyroomacoustics(rt60))
            names.append(("pyroomacoustics", "pyroomacoustics ShoeBox full order"))
        else:  # a record saying so, as every area's missing anchor gets (not a silent absence)
            records.append(_record("pyroomacoustics", "pyroomacoustics ShoeBox full order", rt60, {}, {},
                                   "not installed: pyroomacoustics", status="skipped"))
        times = time_group(fns, None, repeats=3 if cfg.quick else 5, min_repeat_s=cfg.min_repeat_s,
                           max_total_s=cfg.max_total_s)
        base = times[1]["median_s"] if len(times) > 1 and not isinstance(times[1], Exception) else None
        for (library, variant), t in zip(names, times):
            if isinstance(t, Exception):
                records.append(_record(library, variant, rt60, {}, {}, f"{type(t).__name__}: {t}", status="error"))
                cfg.log(f"  ERR  simulate_rir {variant} RT60 {rt60}: {t}")
                continue
            measured = t30(t.pop("out"))
            quality = {"t30_s": round(measured, 4), "rt60_err_pct": round(100 * (measured / rt60 - 1), 2)}
            note = f"{1e3 * t['median_s']:.2f} ms per response"
            if base and library == "noisegen":
                note += f", {base / t['median_s']:.0f}x pyroomacoustics"
            records.append(_record(library, variant, rt60, t, quality, note,
                                   compile_s if library == "noisegen" else None))
            cfg.log(f"  simulate_rir RT60 {rt60} {variant:<36} {1e3 * t['median_s']:10.2f} ms  "
                    f"T30 {measured:.3f} s  {note}")
    return records
