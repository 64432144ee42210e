"""Per-call cost of the cheap transforms, their parameters drawn per call (as a pipeline runs them).

Each of ``Gain``, ``PolarityInversion``, ``Normalize``, ``Clip``, ``Shift``, ``TimeMask``,
``BitCrush`` (``p=1``), ``Gain`` at ``p=0.5`` and a ``Compose`` of four cheap transforms is called
once per timed call on the clip's speech (float32, 16 kHz), noisegen's with a ``Generator`` that
advances with every call, against audiomentations' transform of the same name and defaults
(``ClippingDistortion`` for ``Clip``), timed in the same rounds. On a second of audio these calls
last microseconds: the fixed cost of a call (argument checks, the draw, the record of what was
applied) is what this area shows, where the other areas time the work on the samples. The
audiomentations cases skip cleanly where it is not installed (it is a bench dependency only).
Quality: the output's length error (none may change it).
"""

from __future__ import annotations

import numpy as np

from bench._harness import SR, Case, ng

#: op -> (noisegen transform and its arguments, audiomentations transform and its arguments); p=1 unless said.
PAIRS = {
    "gain": (("Gain", {}), ("Gain", {})),
    "polarity_inversion": (("PolarityInversion", {}), ("PolarityInversion", {})),
    "normalize": (("Normalize", {}), ("Normalize", {})),
    "clip": (("Clip", {}), ("ClippingDistortion", {})),
    "shift": (("Shift", {}), ("Shift", {})),
    "time_mask": (("TimeMask", {}), ("TimeMask", {})),
    "bitcrush": (("BitCrush", {}), ("BitCrush", {})),
    "gain_p0.5": (("Gain", {"p": 0.5}), ("Gain", {"p": 0.5})),
}
#: The composition: (name, p) of each step, in both libraries.
COMPOSE = (("Gain", 1.0), ("PolarityInversion", 0.5), ("Shift", 0.5), ("TimeMask", 0.5))


def _noisegen(name, kwargs):
    cls = ng(name)
    if cls is None:
        raise AttributeError(f"noisegen.{name} is not available")
    return cls(**{"p": 1.0, **kwargs})


def make_noisegen(op):
    if op == "compose4":
        t = ng("Compose")([_noisegen(name, {"p": p}) for name, p in COMPOSE])
    else:
        t = _noisegen(*PAIRS[op][0])
    gen = np.random.default_rng(0)  # advanced by every call: parameters drawn per call
    return lambda clip: t(clip.speech, sample_rate=SR, rng=gen)


def make_audiomentations(op):
    import audiomentations as am

    if op == "compose4":
        t = am.Compose([getattr(am, name)(p=p) for name, p in COMPOSE])
    else:
        name, kwargs = PAIRS[op][1]
        t = getattr(am, name)(**{"p": 1.0, **kwargs})
    return lambda clip: t(clip.speech, sample_rate=SR)


def q_len(fn, clip):
    return {"len_err": int(np.asarray(fn(clip)).shape[-1] - clip.n)}


def cases(cfg):
    m = "bench.bench_calls:"
    out = []
    for op in (*PAIRS, "compose4"):
        if op == "compose4":
            params, ours, theirs = {"steps": "+".join(f"{n}({p:g})" for n, p in COMPOSE)}, "Compose", "Compose"
        else:
            (ours, kw), (theirs, _) = PAIRS[op]
            params = {"p": kw.get("p", 1.0)}
        out += [
            Case(f"call_{op}", params, "noisegen", f"noisegen {ours} (drawn per call)", m + "make_noisegen",
                 {"op": op}, q_len),
            Case(f"call_{op}", params, "audiomentations", f"audiomentations {theirs}", m + "make_audiomentations",
                 {"op": op}, q_len, requires=("audiomentations",)),
        ]
    return out
