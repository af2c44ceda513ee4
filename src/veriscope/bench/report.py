"""Leaderboards from results.json files: ``results.md`` (Markdown) and ``results.html`` (self-contained).

>>> from veriscope.bench.report import write
>>> write(["out/noso/results.json", "out/micc/results.json"], "out/report")

or ``python -m veriscope.bench.report out/*/results.json --out out/report``.

One table per dataset (name + fingerprint): detector x main metrics, with the protocol version.
The HTML adds ROC and PR curves (PNG embedded as data: URIs, drawn with matplotlib's Agg canvas;
needs the optional per-item ``items`` list of results.json) and robustness curves (metric vs
perturbation strength) when the results carry a perturbation sweep. matplotlib is imported only
when the HTML is written (``pip install veriscope[bench]``).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

#: Leaderboard columns, in order (a column is shown when some detector has a value for it).
MAIN_METRICS = ("image_auc", "image_ap", "eer", "balanced_accuracy@0.5", "tpr@0.5", "fpr@0.5",
                "pixel_f1@0.5", "pixel_f1@dataset_best", "pixel_auc", "coverage")
LOWER_IS_BETTER = {"eer", "fpr@0.5", "ece", "brier"}
#: Metrics drawn against perturbation strength, when present.
ROBUSTNESS_METRICS = ("image_auc", "pixel_f1@0.5")
#: Metrics whose 95 % bootstrap interval (results.json ``<metric>_ci95_lo/_hi``) gets a column.
INTERVAL_METRICS = ("image_auc", "pixel_f1@0.5")
DOC = "docs/bench.md"


# --------------------------------------------------------------------------- loading


def load(sources: Iterable) -> list[dict]:
    """results dicts from paths (a results.json, or a folder holding one) or dicts as they are."""
    out = []
    for s in sources:
        if isinstance(s, dict):
            out.append(s)
            continue
        p = Path(s)
        if p.is_dir():
            p = p / "results.json"
        out.append(json.loads(p.read_text()))
    return out


def items(records, runner, fused: bool = True) -> list[dict]:
    """The optional per-item list of results.json: ``{"media", "label", "scores": {detector: s}}``.

    ``media`` is the file name, ``label`` 1 = manipulated, a score is None where the detector was
    not applicable, failed or gave no score (the records its image metrics leave out). ``fused``
    is fusion.fuse() over the detectors' outcomes, built as bench.score.fused_outcome builds it.
    """
    from veriscope.core.evidence import Evidence
    from veriscope.core.fusion import fuse

    out = []
    for r in records:
        outs = {n: runner.outcome(r, n) for n in runner.detectors}
        scores = {n: (round(float(o.score), 6) if o.applicable and not o.error and o.score is not None
                      else None) for n, o in outs.items()}
        if fused:
            evs = [Evidence(n, "bench", applicable=o.applicable, score=o.score, label=o.label,
                            error=o.error, data={"reliability": {"level": o.reliability}})
                   for n, o in outs.items()]
            v = fuse(evs).score
            scores["fused"] = round(float(v), 6) if v is not None else None
        out.append({"media": Path(r.media).name, "label": int(r.label), "scores": scores})
    return out


def _expand(results: list[dict]) -> list[dict]:
    """A results dict with a ``sweep`` list becomes one run per sweep point."""
    runs = []
    for r in results:
        runs.append(r)
        for point in r.get("sweep") or []:
            q = {k: v for k, v in r.items() if k != "sweep"}
            q["perturbation"] = point.get("perturbation")
            q["metrics"] = point.get("metrics") or {}
            q["items"] = point.get("items")
            q["_sweep_point"] = True
            runs.append(q)
    return runs


def detectors(res: dict) -> list[str]:
    """Detector names of one run, in protocol order (``fused`` last when present)."""
    names: list[str] = list((res.get("protocol") or {}).get("detectors") or [])
    for k in res.get("metrics") or {}:
        if "/" in k:
            d = k.split("/", 1)[0]
            if d not in names and d != "fused":
                names.append(d)
    if any(k.startswith("fused/") for k in res.get("metrics") or {}):
        names.append("fused")
    return names


def perturbation(res: dict) -> str | None:
    """The perturbation spec of a perturbed run (e.g. ``jpeg:q=75``), None for a clean one.

    A results dict that carries a ``sweep`` holds clean metrics itself (its top-level
    ``perturbation`` names the whole sweep); each sweep point is a perturbed run. A dict
    perturbation ``{"name": "jpeg", "q": 75}`` reads as ``jpeg:q=75``.
    """
    p = res.get("perturbation")
    if not p or (res.get("sweep") and not res.get("_sweep_point")):
        return None
    if isinstance(p, dict):
        name = str(p.get("name") or p.get("kind") or "perturbation")
        rest = [f"{k}={v}" for k, v in p.items() if k not in ("name", "kind")]
        return name + (":" + ",".join(rest) if rest else "")
    return str(p)


_NUM = re.compile(r"([A-Za-z_]\w*)=(-?\d+(?:\.\d+)?)(?![\d.])")


def _template(spec: str) -> tuple[str, list[str], list[float]]:
    """``resize:s=0.75+jpeg:q=90`` -> (``resize:s={}+jpeg:q={}``, [s, q], [0.75, 90.0])."""
    keys = [m.group(1) for m in _NUM.finditer(spec)]
    vals = [float(m.group(2)) for m in _NUM.finditer(spec)]
    return _NUM.sub(lambda m: m.group(1) + "={}", spec), keys, vals


def groups(results: list[dict]) -> list[tuple[tuple[str, str], list[dict]]]:
    """Runs grouped by dataset (name, fingerprint), in first-seen order."""
    out: dict[tuple[str, str], list[dict]] = {}
    for r in _expand(results):
        d = r.get("dataset") or {}
        out.setdefault((str(d.get("name", "?")), str(d.get("fingerprint", "?"))), []).append(r)
    return list(out.items())


def _num(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return None
    return float(v)


def leaderboard(runs: list[dict]) -> tuple[list[str], list[tuple[str, dict]]]:
    """(columns, rows) of one dataset's table; clean runs only when there are any."""
    clean = [r for r in runs if perturbation(r) is None] or runs
    def label(r: dict, d: str) -> str:
        return d + (f" [{perturbation(r)}]" if perturbation(r) else "")

    times: dict[str, int] = {}
    for r in clean:
        for d in detectors(r):
            times[label(r, d)] = times.get(label(r, d), 0) + 1
    rows: list[tuple[str, dict[str, float | None]]] = []
    for i, r in enumerate(clean):
        m = r.get("metrics") or {}
        for d in detectors(r):
            lab = label(r, d) + (f" (run {i + 1})" if times[label(r, d)] > 1 else "")
            vals: dict = {c: _num(m.get(f"{d}/{c}")) for c in MAIN_METRICS}
            for c in INTERVAL_METRICS:
                lo, hi = _num(m.get(f"{d}/{c}_ci95_lo")), _num(m.get(f"{d}/{c}_ci95_hi"))
                vals[f"{c} 95% CI"] = None if lo is None or hi is None else (lo, hi)
            rows.append((lab, vals))
    cols = [c for c in (*MAIN_METRICS, *(f"{c} 95% CI" for c in INTERVAL_METRICS))
            if any(v[c] is not None for _, v in rows)]
    key = next((c for c in cols if c != "coverage"), None)
    if key:
        sign = 1 if key in LOWER_IS_BETTER else -1
        rows.sort(key=lambda rv: (rv[1][key] is None, sign * (rv[1][key] or 0.0)))
    return cols, [(lab, {c: v[c] for c in cols}) for lab, v in rows]


def robustness(runs: list[dict]) -> list[dict]:
    """The perturbed runs of one dataset as sweeps: variants that differ only in numbers form one.

    Each sweep: ``label`` (the spec with the varying number shown as ``x``, e.g. ``jpeg:q=x``),
    ``numeric`` (whether the points have a numeric x), ``points`` [(x or spec, spec)], and
    ``values`` {metric: {detector: [(x or spec, value), ...]}} for :data:`ROBUSTNESS_METRICS`.
    """
    by_tmpl: dict[str, list[tuple[str, list[str], list[float], dict]]] = {}
    for r in runs:
        spec = perturbation(r)
        if spec is not None:
            tmpl, keys, vals = _template(spec)
            by_tmpl.setdefault(tmpl, []).append((spec, keys, vals, r))
    out = []
    for tmpl, members in by_tmpl.items():
        keys = members[0][1]
        varying = [i for i in range(len(keys)) if len({m[2][i] for m in members}) > 1]
        if varying:
            i = varying[0]
            fill = [("x" if j == i else ("*" if j in varying else f"{members[0][2][j]:g}"))
                    for j in range(len(keys))]
            label = tmpl.format(*fill)
            members.sort(key=lambda m: m[2][i])
            xs = [m[2][i] for m in members]
        else:
            label, xs = members[0][0], [m[0] for m in members]
        values: dict[str, dict[str, list]] = {}
        for x, (_, _, _, r) in zip(xs, members, strict=True):
            m = r.get("metrics") or {}
            for d in detectors(r):
                for metric in ROBUSTNESS_METRICS:
                    v = _num(m.get(f"{d}/{metric}"))
                    if v is not None:
                        values.setdefault(metric, {}).setdefault(d, []).append((x, v))
        out.append({"label": label, "numeric": bool(varying),
                    "points": [(x, mm[0]) for x, mm in zip(xs, members, strict=True)],
                    "values": values})
    return out


def _clean_value(runs: list[dict], detector: str, metric: str) -> float | None:
    for r in runs:
        if perturbation(r) is None:
            v = _num((r.get("metrics") or {}).get(f"{detector}/{metric}"))
            if v is not None:
                return v
    return None


def _fmt(v: float | tuple | None) -> str:
    if isinstance(v, tuple):  # an interval
        return f"{v[0]:.3f}-{v[1]:.3f}"
    return "—" if v is None else f"{v:.3f}"


def _header(key: tuple[str, str], runs: list[dict]) -> list[str]:
    r0 = runs[0]
    d = r0.get("dataset") or {}
    m = r0.get("metrics") or {}
    versions = sorted({str((r.get("protocol") or {}).get("version", "?")) for r in runs})
    tools = sorted({str(r.get("tool_version", "?")) for r in runs})
    lines = [f"protocol {', '.join(versions)}; veriscope {', '.join(tools)}",
             f"dataset fingerprint {key[1]}",
             f"n = {d.get('n', '?')}"
             + (f", manipulated = {int(m['n_manipulated'])}" if _num(m.get("n_manipulated")) is not None else "")
             + (f", with masks = {int(m['n_masks'])}" if _num(m.get("n_masks")) is not None else "")]
    if len(versions) > 1:
        lines.append("WARNING: these runs use different protocol versions and are not comparable")
    return lines


# --------------------------------------------------------------------------- Markdown


def markdown(results: list[dict]) -> str:
    out = ["# veriscope bench results", "",
           f"Metric definitions and protocol settings: {DOC}. Values are rounded to 3 decimals; "
           "`—` = not defined for this detector on this set (e.g. a single class present). "
           "`pixel_f1@dataset_best` is an oracle over the evaluated set, not a deployable number.", ""]
    for key, runs in groups(results):
        out += [f"## {key[0]}", ""]
        out += [f"- {line}" for line in _header(key, runs)]
        out.append("")
        cols, rows = leaderboard(runs)
        if not rows:
            out += ["(no detector metrics)", ""]
            continue
        out.append("| detector | " + " | ".join(cols) + " |")
        out.append("|---|" + "---:|" * len(cols))
        for label, vals in rows:
            out.append(f"| {label} | " + " | ".join(_fmt(vals[c]) for c in cols) + " |")
        out.append("")
        for sw in robustness(runs):
            heads = [f"{x:g}" if sw["numeric"] else str(x) for x, _ in sw["points"]]
            for metric, per_det in sw["values"].items():
                out += [f"### Robustness: {metric} under {sw['label']}", ""]
                out.append("| detector | clean | " + " | ".join(heads) + " |")
                out.append("|---|---:|" + "---:|" * len(heads))
                for d, pts in per_det.items():
                    vals = dict(pts)
                    out.append(f"| {d} | {_fmt(_clean_value(runs, d, metric))} | "
                               + " | ".join(_fmt(vals.get(x)) for x, _ in sw["points"]) + " |")
                out.append("")
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------- curves


def roc_points(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, TPR) of ``score >= t`` at every distinct score, from (0, 0) to (1, 1)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, bool)
    ts = np.unique(s)[::-1]
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    tpr = (pos.size - np.searchsorted(pos, ts, side="left")) / max(1, pos.size)
    fpr = (neg.size - np.searchsorted(neg, ts, side="left")) / max(1, neg.size)
    return np.r_[0.0, fpr], np.r_[0.0, tpr]


def pr_points(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) of ``score >= t`` at every distinct score, recall ascending, from (0, 1)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, bool)
    ts = np.unique(s)[::-1]
    pos, allv = np.sort(s[y]), np.sort(s)
    tp = pos.size - np.searchsorted(pos, ts, side="left")
    k = allv.size - np.searchsorted(allv, ts, side="left")
    return np.r_[0.0, tp / max(1, pos.size)], np.r_[1.0, tp / k]


def _scored(items: list[dict], detector: str) -> tuple[np.ndarray, np.ndarray]:
    s, y = [], []
    for it in items or []:
        v = _num((it.get("scores") or {}).get(detector))
        if v is not None and it.get("label") is not None:
            s.append(v)
            y.append(bool(it["label"]))
    return np.asarray(s, np.float64), np.asarray(y, bool)


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 3.8), dpi=100)
    return fig, fig.add_subplot(1, 1, 1)


def curve_pngs(runs: list[dict]) -> list[tuple[str, str]]:
    """[(caption, base64 PNG)] ROC and PR curves of a dataset's clean runs that carry items."""
    from veriscope.core import metrics as M

    curves = []
    for r in [r for r in runs if perturbation(r) is None] or runs:
        items = r.get("items") or []
        for d in detectors(r):
            s, y = _scored(items, d)
            if s.size and y.any() and (~y).any():
                curves.append((d, s, y))
    if not curves:
        return []
    roc, ax_roc = _figure()
    pr, ax_pr = _figure()
    for d, s, y in curves:
        fpr, tpr = roc_points(s, y)
        ax_roc.plot(fpr, tpr, label=f"{d} (AUC {M.auc(s, y):.3f})", lw=1.5)
        rec, prec = pr_points(s, y)
        ax_pr.step(rec, prec, where="pre", label=f"{d} (AP {M.average_precision(s, y):.3f})", lw=1.5)
    ax_roc.plot([0, 1], [0, 1], ls=":", c="grey", lw=1)
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02),
               title="ROC (image level)")
    base = float(np.mean(curves[0][2]))
    ax_pr.axhline(base, ls=":", c="grey", lw=1)
    ax_pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="Precision-recall")
    for ax in (ax_roc, ax_pr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right" if ax is ax_roc else "lower left")
    return [("ROC curve", _png(roc)), ("Precision-recall curve", _png(pr))]


def robustness_pngs(runs: list[dict]) -> list[tuple[str, str]]:
    """[(caption, base64 PNG)] metric vs strength, one plot per numeric sweep and metric."""
    out = []
    for sw in robustness(runs):
        if not sw["numeric"] or len(sw["points"]) < 2:
            continue
        for metric, per_det in sw["values"].items():
            fig, ax = _figure()
            for d, pts in per_det.items():
                xs, ys = zip(*pts, strict=True)
                (line,) = ax.plot(xs, ys, marker="o", lw=1.5, label=d)
                c = _clean_value(runs, d, metric)
                if c is not None:
                    ax.axhline(c, ls="--", lw=1, c=line.get_color())
            ax.set(xlabel=f"x in {sw['label']}", ylabel=metric,
                   title=f"{metric} under {sw['label']} (dashed: clean)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
            out.append((f"Robustness: {metric} under {sw['label']}", _png(fig)))
    return out


# --------------------------------------------------------------------------- HTML

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
.meta{color:#555;font-size:90%}figure{display:inline-block;margin:0 1em 1em 0}
figcaption{font-size:85%;color:#555}.warn{color:#a00}"""


def html_report(results: list[dict]) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>veriscope bench results</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>veriscope bench results</h1>",
             f"<p class=meta>Metric definitions and protocol settings: {e(DOC)}. "
             "&mdash; = not defined for this detector on this set. "
             "<code>pixel_f1@dataset_best</code> is an oracle over the evaluated set.</p>"]
    for key, runs in groups(results):
        parts.append(f"<h2>{e(key[0])}</h2><ul class=meta>")
        for line in _header(key, runs):
            cls = ' class="warn"' if line.startswith("WARNING") else ""
            parts.append(f"<li{cls}>{e(line)}</li>")
        parts.append("</ul>")
        cols, rows = leaderboard(runs)
        if rows:
            parts.append("<table><tr><th>detector</th>" + "".join(f"<th>{e(c)}</th>" for c in cols)
                         + "</tr>")
            for label, vals in rows:
                parts.append(f"<tr><td>{e(label)}</td>"
                             + "".join(f'<td class="num">{e(_fmt(vals[c]))}</td>' for c in cols) + "</tr>")
            parts.append("</table>")
        for caption, b64 in curve_pngs(runs) + robustness_pngs(runs):
            parts.append(f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{b64}">'
                         f"<figcaption>{e(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write(sources: Iterable, out_dir, html_out: bool = True) -> dict[str, Path]:
    """Write results.md (and results.html) for the given results files or dicts."""
    results = load(sources)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "results.md"}
    paths["md"].write_text(markdown(results), encoding="utf-8")
    if html_out:
        paths["html"] = out / "results.html"
        paths["html"].write_text(html_report(results), encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m veriscope.bench.report", description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", help="results.json files (or folders holding one)")
    ap.add_argument("--out", required=True, help="output folder for results.md and results.html")
    ap.add_argument("--no-html", action="store_true", help="write the Markdown only (no matplotlib)")
    a = ap.parse_args(argv)
    for p in write(a.results, a.out, html_out=not a.no_html).values():
        print(p)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["MAIN_METRICS", "load", "groups", "leaderboard", "robustness", "markdown", "html_report",
           "roc_points", "pr_points", "write", "main"]
