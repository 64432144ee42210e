"""The benchmark's Markdown report: one summary row per operation (noisegen against the fastest
like-for-like anchor), then every record."""

from __future__ import annotations

import json

__all__ = ["summary_rows", "markdown"]


def _fmt_xrt(x):
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _fmt_q(q: dict) -> str:
    if not q:
        return ""
    parts = []
    for k, v in q.items():
        if isinstance(v, float):
            parts.append(f"{k}={v:.3g}")
        else:
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def _cell(text) -> str:
    """``text`` as one Markdown table cell: a newline in an error message (a Numba typing error has
    several) would end the row there, a pipe would split it into more columns."""
    return " ".join(str(text).splitlines()).replace("|", "\\|")


def _params(params: dict) -> str:
    return _cell(", ".join(f"{k}={v}" for k, v in params.items()))


def _key(rec):
    return rec["op"], json.dumps(rec["params"], sort_keys=True), rec["clip_s"]


def summary_rows(records: list) -> list:
    """One row per (op, params, clip): noisegen vs the fastest like-for-like anchor."""
    groups: dict = {}
    for r in records:
        groups.setdefault(_key(r), []).append(r)
    rows = []
    for (op, params, clip_s), recs in groups.items():
        mine = [r for r in recs if r["library"] == "noisegen" and r["xrt"] is not None]
        anchors = [r for r in recs if r["library"] != "noisegen" and r["xrt"] is not None and r["like_for_like"]]
        best = max(anchors, key=lambda r: r["xrt"]) if anchors else None
        me = mine[0] if mine else None
        ratio = me["xrt"] / best["xrt"] if (me and best) else None
        na = [r for r in recs if r["library"] == "noisegen" and r["xrt"] is None]
        rows.append({"op": op, "params": json.loads(params), "clip_s": clip_s, "noisegen": me, "anchor": best,
                     "ratio": ratio, "noisegen_status": (na[0]["status"] if na else None)})
    return rows


def _cold_row(r) -> str:
    """A row of the cold-start and end-to-end table. A record without a ``what`` (the corpus area's five,
    the CLI's) is named by its variant too, and one without ``quality["seconds"]`` shows its ``median_s``:
    the corpus rows read alike, "corpus=...", with no seconds. The quality figures go after the note
    (the corpus stages' shares, the rooms' T30)."""
    what = r["params"].get("what") or f"{r['variant']}: {_params(r['params'])}"
    sec = r["quality"].get("seconds")
    sec = r["median_s"] if sec is None else sec
    figures = _fmt_q({k: v for k, v in r["quality"].items() if k != "seconds"})
    note = "; ".join(t for t in (r["note"], figures) if t)
    return (f"| {r['op']} | {_cell(what)} | {'—' if sec is None else f'{sec:.3g}'} | {_fmt_xrt(r['xrt'])} "
            f"| {r['status'] + ': ' if r['status'] != 'ok' else ''}{_cell(note)} |")


def markdown(records: list, env: dict, *, title: str = "noisegen benchmark") -> str:
    out = [f"# {title}", ""]
    out.append(f"Machine: {env['cpu']}, {env['cores']} cores ({env['cores_usable']} usable), "
               f"Python {env['python']}, {env['platform']}. Threads pinned: "
               f"{', '.join(f'{k}={v}' for k, v in env['threads'].items())}. Date: {env['date']}.")
    out.append("")
    out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v) + ".")
    out.append("")
    out.append("xRT = seconds of 16 kHz mono float32 audio processed per wall-clock second, median of "
               "repeats after a warm-up (IQR in brackets, as % of the median). ratio = noisegen xRT / "
               "xRT of the fastest like-for-like anchor (> 1: noisegen is faster). compile = first call in "
               "a fresh process with an empty Numba cache minus a warm call (once per operation and parameters).")
    clips = [r["clip_s"] for r in records if r["clip_s"] is not None]
    quality_clip = 4.0 if 4.0 in clips else (clips[0] if clips else 4.0)  # as bench._harness.run_cases picks it
    out.append(f"Quality columns (measured once per operation and library, on the {quality_clip:g} s clip): "
               "slope_err_db_oct = fitted PSD slope (20 Hz-6 kHz, mean of 4 draws) minus -3.01*beta; "
               "snr_err_db = achieved minus requested SNR (worst of 3 calls); max_rel_err = max |y - scipy| / "
               "max |scipy| (filters: sosfilt in float64; RIR: fftconvolve, first n samples), corr = correlation "
               "with it; len_err = output length minus the expected length in samples; st_err = F0 error in "
               "semitones of a 220 Hz harmonic tone; logmel_db = mean |dB| log-mel distance between the stretched "
               "speech and the original re-timed; alias_atten_db = level of a tone above the new Nyquist after "
               "resampling (image_atten_db when upsampling: the level of the image at orig - f of a tone at 0.85 of the input Nyquist), pass_gain_db = level change of a 1 kHz tone. ≠ marks a column left out of the "
               "'fastest anchor' choice.")
    out.append("")
    rows = summary_rows(records)
    cold = [r for r in records if r["clip_s"] is None]
    for clip_s in sorted({r["clip_s"] for r in rows if r["clip_s"] is not None}):
        out.append(f"## {clip_s:g} s clips")
        out.append("")
        out.append("| operation | params | noisegen xRT | compile s | fastest anchor | anchor xRT | ratio "
                   "| noisegen quality | anchor quality |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for row in rows:
            if row["clip_s"] != clip_s:
                continue
            me, best = row["noisegen"], row["anchor"]
            if me:
                iqr = f" ({100 * me['iqr_s'] / me['median_s']:.0f}%)" if me["median_s"] else ""
                mx = _fmt_xrt(me["xrt"]) + iqr
            else:
                mx = row["noisegen_status"] or "—"
            comp = f"{me['compile_s']:.2f}" if me and me["compile_s"] is not None else "—"
            out.append(
                f"| {row['op']} | {_params(row['params'])} | {_cell(mx)} | {comp} | "
                f"{_cell(best['variant']) if best else '—'} | "
                f"{_fmt_xrt(best['xrt']) if best else '—'} | "
                f"{('%.2fx' % row['ratio']) if row['ratio'] else '—'} | "
                f"{_cell(_fmt_q(me['quality'])) if me else ''} | {_cell(_fmt_q(best['quality'])) if best else ''} |")
        out.append("")
    if cold:
        out.append("## Cold start and end to end")
        out.append("")
        out.append("| operation | what | seconds | xRT | note |")
        out.append("|---|---|---|---|---|")
        for r in cold:
            out.append(_cold_row(r))
        out.append("")
    out.append("## All records")
    out.append("")
    out.append("| operation | params | library | variant | clip s | xRT | IQR % | first call s | compile s "
               "| quality | status |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        if r["clip_s"] is None:
            continue
        iqr = f"{100 * r['iqr_s'] / r['median_s']:.0f}" if r["median_s"] else ""
        fc = f"{r['first_call_s']:.3f}" if r["first_call_s"] is not None else ""
        cs = f"{r['compile_s']:.2f}" if r["compile_s"] is not None else ""
        mark = "" if r["like_for_like"] else " ≠"
        status = _cell(r["status"] + (f": {r['note']}" if r["note"] else ""))
        out.append(f"| {r['op']} | {_params(r['params'])} | {r['library']} | {_cell(r['variant'])}{mark} | "
                   f"{r['clip_s']:g} | {_fmt_xrt(r['xrt'])} | {iqr} | {fc} | {cs} | {_cell(_fmt_q(r['quality']))} | "
                   f"{status} |")
    out.append("")
    return "\n".join(out)
