#!/usr/bin/env python
"""Verdict headlines on innocent and on known-answer pictures, as they come and after a
web-style export (issue 15): how often does the default pipeline call an innocent photo
manipulated or synthetic, or give up (inconclusive)?

Protocol:
- Innocent EVAL sets (nothing here was fitted on any of them): ``pristine-eval`` (the 86
  cbsd68 + mcmaster photos, PNG), ``camera`` (the 30 camera JPEGs of exif-samples),
  ``faces-real`` (the 44 real face photos of deepface), ``raise-real`` (the 21 real photos of
  RAISE, PNG 512x384). Reported apart, because they hold genuinely repeated objects:
  ``noso-originals``, ``micc-originals`` (MICC-F220 originals, with ``--micc``);
  ``screenshots`` (with ``--screenshots DIR``: 53 terminal and UI screenshots, charts and
  diagrams of two MIT-licensed repositories, benchmarks/data/screenshots.tsv), the kind of
  input the ``scope`` detector puts out of scope.
- Known answers: ``comfyui`` (all 26 ComfyUI pictures, generator named in their PNG chunks:
  every one should be ``synthetic``); ``noso`` and ``micc`` (copy-move forgeries with their
  originals, as they come only; ``micc`` with ``--micc``); ``synth-eval`` (the synth/1 EVAL
  forgeries and originals, only when named in ``--sets``).
- Second table: the same verdicts fused again from each report's evidence under calibration
  rule 2 (the fitted sum) and rule 3 (bounded, the default): TPR and FPR of the label, ECE of
  the verdict score (10 bins; no score counts as 0) and the number of "very strong" scores.
- Third table: a reliability diagram of the verdict score, every set and condition pooled
  (per band: pictures, mean score, share that are forgeries or AI pictures).
- Conditions: ``as-is``, and ``web``: resized to 0.5-0.8 of each side, then JPEG q75-90
  (``resize:s=0.5..0.8+jpeg:q=75..90``, drawn per picture from seed 0 by
  veriscope.signals.perturb; copies cached by veriscope.bench.perturb).
- The default detector set, fused by the default rule; the label of ``verdict`` is counted.
  A false alarm is ``manipulated`` or ``synthetic`` on an innocent picture.

Usage: .venv/bin/python benchmarks/verdicts.py [--workers 2] [--micc] [--sets a,b]
       [--json FILE] [--save DIR]   (every verdict / every report.json, to re-fuse later)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
WEB = "resize:s=0.5..0.8+jpeg:q=75..90"
LABELS = ("no_evidence", "inconclusive", "manipulated", "synthetic")


def sets(micc: bool) -> dict:
    from veriscope.bench.datasets import micc_f220, noso
    from veriscope.bench.records import Record, _images

    P = SHARED / "pristine-kodak24-cbsd68-mcmaster"
    out = {
        "pristine-eval": [Record(p, 0) for p in _images(P / "cbsd68") + _images(P / "mcmaster")],
        "camera": [Record(p, 0) for p in _images(SHARED / "exif-samples-camera-jpegs")],
        "faces-real": [Record(p, 0) for p in _images(SHARED / "deepface-real-faces-subset")],
        "raise-real": [Record(p, 0) for p in _images(SHARED / "raise-realness-test")
                       if p.name.startswith("r")],
        "noso-originals": [r for r in noso(SHARED / "noso-copymove") if r.label == 0],
        "noso": noso(SHARED / "noso-copymove"),
        "comfyui": [Record(p, 1) for d in ("comfyui-generated-with-metadata",
                                           "comfyui-generated-extra-subset")
                    for p in _images(SHARED / d)],
    }
    if micc:
        out["micc-originals"] = [r for r in micc_f220(SHARED / "micc-f220") if r.label == 0]
        out["micc"] = micc_f220(SHARED / "micc-f220")
    return out


SCREENSHOTS = REPO / "benchmarks" / "data" / "screenshots.tsv"


def screenshots(folder: Path) -> list:
    """The innocent screenshots and graphics of ``SCREENSHOTS`` found in ``folder`` (each
    checked against its SHA-256; a missing or changed file is an error)."""
    from veriscope.bench.records import Record, file_matches, read_manifest

    out, bad = [], []
    for sha, name in read_manifest(SCREENSHOTS):
        f = folder / name
        if not file_matches(f, sha):
            bad.append(name)
            continue
        out.append(Record(f, 0))
    if bad:
        raise SystemExit(f"{len(bad)} screenshots missing or changed in {folder} (e.g. {bad[0]}); "
                         f"see the header of {SCREENSHOTS} for where they come from")
    return out


def synth_eval() -> list:
    """The synth/1 EVAL split (forgeries and originals made from cbsd68 + mcmaster), built
    once in the bench cache."""
    from veriscope.bench.datasets import load

    return load(f"synth-eval:{SHARED / 'pristine-kodak24-cbsd68-mcmaster'}")[1]


AS_IS_ONLY = {"noso", "micc", "synth-eval"}
"""Sets with forgeries: measured as they come (their forgeries' masks do not follow a resize)."""


def evidence_of(d: dict):
    """An Evidence rebuilt from its report.json form, with what fusion reads: applicability,
    error, score, label, reliability, findings, segments."""
    from veriscope.core.evidence import Evidence, Finding, Segment

    e = Evidence(d["name"], d.get("version") or "?", applicable=d.get("applicable", True),
                 score=d.get("score"), label=d.get("label"), error=d.get("error"),
                 data={k: v for k, v in (d.get("data") or {}).items()
                       if k in ("reliability", "strongest_segment", "contributions")})
    for f in d.get("findings") or []:
        e.findings.append(Finding(f["severity"], f["code"], f["message"], f.get("data") or {}))
    for sg in d.get("segments") or []:
        e.segments.append(Segment(sg["start"], sg["end"], sg.get("score"), sg.get("label")))
    return e


def refuse(rep: dict, bounded: bool):
    """The verdict of a report fused again under calibration rule 3 (bounded) or rule 2."""
    from veriscope.core import calibration as C
    from veriscope.core.fusion import fuse

    keep = C.BOUNDED
    C.BOUNDED = bounded
    try:
        evs = [evidence_of(d) for d in rep["evidence"]
               if d["name"] not in ("classic_calibrated", "stability")]
        return fuse(evs, kind=rep["media"]["kind"])
    finally:
        C.BOUNDED = keep


def run(records, workers: int) -> list:
    from veriscope.core import registry
    from veriscope.detectors.base import Context
    from veriscope.pipeline.batch import Job, analyze_many

    jobs = [Job(Path(r.media), want_json=True) for r in records]
    return list(analyze_many(jobs, registry.select(None), Context(), workers=workers))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--micc", action="store_true")
    ap.add_argument("--sets", default=None, help="comma-separated subset of the set names")
    ap.add_argument("--json", type=Path, default=None, help="also write every verdict here")
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="folder with the files of benchmarks/data/screenshots.tsv: adds the "
                         "innocent set 'screenshots' (out of scope for the pixel checks)")
    ap.add_argument("--save", type=Path, default=None,
                    help="also write every report.json here (DIR/set/condition/file.json)")
    a = ap.parse_args(argv)
    from veriscope.bench.cache import cache_root
    from veriscope.bench.perturb import perturb_records

    all_sets = sets(a.micc)
    names = a.sets.split(",") if a.sets else list(all_sets)
    if "synth-eval" in names:  # only when asked: it builds 256 pictures first
        all_sets["synth-eval"] = synth_eval()
    if a.screenshots:
        all_sets["screenshots"] = screenshots(a.screenshots)
        if a.sets is None:
            names.append("screenshots")
    rows, dump, cal = [], {}, []
    t0 = time.perf_counter()
    for name in names:
        recs = all_sets[name]
        conds = [("as-is", recs)]
        if name not in AS_IS_ONLY:
            web, errs = perturb_records(recs, WEB, cache_root() / "bench" / "perturb", seed=0)
            conds.append(("web", web))
        for cond, rr in conds:
            outs = run(rr, a.workers)
            reps = [json.loads(o.json) if o.ok else None for o in outs]
            if a.save:
                d = a.save / name / cond
                d.mkdir(parents=True, exist_ok=True)
                for o in outs:
                    if o.ok:
                        (d / f"{o.path.name}.json").write_text(o.json)
            cal.append((name, cond, [r.label for r in rr],
                        {b: [refuse(rep, b) if rep else None for rep in reps]
                         for b in (False, True)}))
            c = Counter(o.verdict.label if o.ok else "error" for o in outs)
            drivers, bands = Counter(), Counter()
            for o in outs:
                if o.ok and o.verdict.label in ("manipulated", "synthetic"):
                    bands[o.verdict.band] += 1
                    if o.verdict.drivers:
                        drivers[o.verdict.drivers[0]["detector"]] += 1
            rows.append((name, cond, len(outs), c, drivers, bands))
            dump[f"{name}/{cond}"] = {str(o.path.name): (o.verdict.label if o.ok else o.error,
                                                         o.verdict.score if o.ok else None)
                                      for o in outs}
            print(f"{name} {cond}: {dict(c)} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print("| set | condition | n | no_evidence | inconclusive | manipulated | synthetic | "
          "false alarms | of which very strong | headline drivers of the alarms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, cond, n, c, drivers, bands in rows:
        fa = c["manipulated"] + c["synthetic"]
        rate = ("n/a (all synthetic)" if name == "comfyui" else "see below (forgeries)"
                if name in AS_IS_ONLY else f"{fa / n:.1%}" if n else "-")
        dr = ", ".join(f"{k} {v}" for k, v in drivers.most_common()) or "-"
        vs = "-" if name == "comfyui" else str(bands["very_strong"])
        print(f"| {name} | {cond} | {n} | {c['no_evidence']} | {c['inconclusive']} | "
              f"{c['manipulated']} | {c['synthetic']} | {rate} | {vs} | {dr} |")
    print("\n### Calibration rule 2 (fitted sum) vs rule 3 (bounded), verdicts fused again\n")
    print("| set | condition | n (pos) | rule 2 TPR | rule 2 FPR | rule 2 ECE | rule 2 very strong "
          "(neg / pos) | rule 3 TPR | rule 3 FPR | rule 3 ECE | rule 3 very strong (neg / pos) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    from veriscope.core.metrics import ece

    for name, cond, labels, by_rule in cal:
        y = np.array(labels, bool)
        cells = []
        for b in (False, True):
            vs = by_rule[b]
            ok = np.array([v is not None for v in vs])
            flag = np.array([v is not None and v.label in ("manipulated", "synthetic") for v in vs])
            sc = np.array([(v.score or 0.0) if v is not None else 0.0 for v in vs])
            tpr = f"{flag[y & ok].mean():.3f}" if (y & ok).any() else "-"
            fpr = f"{flag[~y & ok].mean():.3f}" if (~y & ok).any() else "-"
            vsn = f"{int(((sc >= 0.95) & ~y & ok).sum())} / {int(((sc >= 0.95) & y & ok).sum())}"
            cells += [tpr, fpr, f"{ece(sc[ok], y[ok]):.3f}", vsn]
        print(f"| {name} | {cond} | {len(labels)} ({int(y.sum())}) | " + " | ".join(cells) + " |")
    print("\n### Reliability diagram of the verdict score (rule 3, every set and condition pooled)\n")
    print(reliability_table(cal))
    if a.json:
        a.json.write_text(json.dumps(dump, indent=1))
    return 0


def reliability_table(cal) -> str:
    """Pooled over ``cal`` ((set, condition, labels, {bounded: verdicts})): per band of the
    verdict score (no score counts as 0), the number of pictures, their mean score and the
    share that are forgeries or AI pictures."""
    from veriscope.core.metrics import reliability_bins

    sc, ys = [], []
    for _name, _cond, labels, by_rule in cal:
        for y, v in zip(labels, by_rule[True], strict=True):
            if v is not None:
                sc.append(v.score or 0.0)
                ys.append(int(y))
    lines = ["| verdict score | n | mean score | share manipulated or synthetic |",
             "|---|---|---|---|"]
    for r in reliability_bins(sc, ys):
        ms = "-" if r["mean_score"] is None else f"{r['mean_score']:.3f}"
        ps = "-" if r["positive_share"] is None else f"{r['positive_share']:.3f}"
        lines.append(f"| [{r['lo']:.2f}, {r['hi']:.2f}{']' if r['hi'] == 1.0 else ')'} | "
                     f"{r['n']} | {ms} | {ps} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
