"""Image-level calibration of the classic detectors (issue 3): fit on FIT, report on EVAL.

Protocol (docs/fusion.md, "Image-level calibration of classic detectors"):

FIT (the only data any constant of ``veriscope/models/classic_calibration.json`` is fitted on),
all made from the 24 kodak24 photos of ../shared/data/pristine-kodak24-cbsd68-mcmaster:
- ``synth-fit``        the FIT split of veriscope.bench.synth (84 forgeries, 48 originals as
                       PNG and JPEG q90);
- ``synth-fit-crops``  the same recipe (seed 1) on two random crops of every kodak24 photo
                       (short side 256..480 px), so that smaller pictures, where the noise
                       detectors report medium reliability, are part of FIT;
- ``kodak-crops-jpeg`` the 48 crops saved once as JPEG at quality 70, 80 or 95 (negatives);
- ``fit-processed``    every PNG record of the two synth sets (forgeries and originals) after
                       one everyday processing chain, round-robin: saved as JPEG q75..95;
                       JPEG q70..90 then PNG; downscaled x0.6..0.9 then JPEG q80..95
                       (veriscope.signals.perturb specs in PROCESSING).
- ``camera-fit``       165 innocent camera photos (many makes and phones, 0.9-22 MP) of
                       https://github.com/drewnoakes/metadata-extractor-images at CAMERA_COMMIT
                       (listed with SHA-256 in benchmarks/data/camera_fit.tsv; pass the clone's
                       jpg/ folder with --camera-dir), as they come (negatives);
- ``camera-fit-treated`` each of them once more after one innocent treatment, round-robin
                       (INNOCENT: web export, social re-encode, screenshot, crop + JPEG, PNG
                       re-save, downscaled PNG).

EVAL (never fitted on): synth-eval (cbsd68 + mcmaster forgeries and originals), pristine EVAL
(cbsd68 + mcmaster originals), exif-samples (30 camera JPEGs), noso (copy-moves and
originals), micc-f220 (copy-moves and originals, image labels only).

Usage: .venv/bin/python benchmarks/calibration.py [--workers 1] [--write]
Detector outputs come from the bench cache (VERISCOPE_CACHE or ~/.cache/veriscope/bench);
missing ones are computed once. ``--write`` rewrites the committed model and the FIT table
used by tests/test_calibration.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PRISTINE = SHARED / "pristine-kodak24-cbsd68-mcmaster"
CROP_SEED = 20240501
CROPS_PER_PHOTO = 2
CROP_SHORT = (256, 480)
JPEG_QS = (70, 80, 95)
PROCESSING = ("jpeg:q=75..95", "jpeg:q=70..90+format:to=png", "resize:s=0.6..0.9+jpeg:q=80..95")
PROCESS_SEED = 7
CAMERA_MANIFEST = REPO / "benchmarks" / "data" / "camera_fit.tsv"
CAMERA_REPO = "https://github.com/drewnoakes/metadata-extractor-images"
CAMERA_COMMIT = "4beba640487802442bc9931fb01274e908102d3a"
INNOCENT = ("resize:s=0.3..0.6+jpeg:q=75..90", "social:long_side=1080,q=70..85",
            "screenshot:s=0.4..0.8", "crop:frac=0.5..0.9+jpeg:q=85..95", "format:to=png",
            "resize:s=0.5..0.8+format:to=png")
"""The innocent treatments of the camera photos (round-robin, one per photo): web export,
social-network re-encode, screenshot, crop and re-save, PNG re-save, downscaled PNG."""
INNOCENT_SEED = 11


def camera_photos(src: Path, out_root: Path) -> list:
    """The camera-fit photos of ``CAMERA_MANIFEST`` (innocent FIT negatives), copied from
    ``src`` (the jpg/ folder of a clone of CAMERA_REPO at CAMERA_COMMIT) into out_root, each
    checked against its SHA-256. Group = one photo."""
    import re
    import shutil

    from veriscope.bench.records import Record, file_matches, read_manifest

    out_root.mkdir(parents=True, exist_ok=True)
    recs, missing = [], []
    for i, (sha, _w, _h, name) in enumerate(read_manifest(CAMERA_MANIFEST)):
        group = f"mei{i:03d}"
        dst = out_root / f"{group}_{re.sub(r'[^A-Za-z0-9.-]+', '-', name)}"
        if not dst.exists():
            if not file_matches(src / name, sha):
                missing.append(name)
                continue
            shutil.copyfile(src / name, dst)
        recs.append(Record(dst, 0, split="fit", group=group, kind="camera"))
    if missing:
        raise SystemExit(f"{len(missing)} camera-fit photos missing or changed under {src} "
                         f"(e.g. {missing[0]!r}): clone {CAMERA_REPO}, check out {CAMERA_COMMIT} "
                         "and pass its jpg/ folder with --camera-dir")
    return recs


def kodak_crops(out_root: Path) -> list[Path]:
    """Two random crops of every kodak24 photo (deterministic), PNG, in out_root/kodak24/."""
    from veriscope.bench.datasets import _images

    d = out_root / "kodak24"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(CROP_SEED)
    out = []
    for p in _images(PRISTINE / "kodak24"):
        img = np.asarray(Image.open(p).convert("RGB"))
        H, W = img.shape[:2]
        for k in range(CROPS_PER_PHOTO):
            short = int(rng.integers(CROP_SHORT[0], CROP_SHORT[1] + 1))
            long_ = int(rng.integers(short, min(H, W) + 1))
            h, w = (short, long_) if rng.random() < 0.5 else (long_, short)
            y, x = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
            f = d / f"{p.stem}_c{k}.png"
            if not f.exists():
                Image.fromarray(np.ascontiguousarray(img[y:y + h, x:x + w])).save(f)
            out.append(f)
    return out


def round_robin(records: list, specs, seed: int, what: str) -> list[tuple]:
    """Every record once, after one of ``specs`` in turn (record i gets spec i mod n), as
    (spec, perturbed record), grouped by spec; copies cached by veriscope.bench.perturb."""
    from veriscope.bench import cache_root
    from veriscope.bench.perturb import perturb_records

    out = []
    for i, spec in enumerate(specs):
        recs, errors = perturb_records(records[i::len(specs)], spec,
                                       cache_root() / "bench" / "perturb", seed=seed)
        if errors:
            raise RuntimeError(f"{what} failed: {errors[:3]}")
        out += [(spec, r) for r in recs]
    return out


def fit_records(camera_dir: Path | None = None) -> dict:
    """The FIT sets as {name: [Record]} (built once under the cache folder)."""
    from veriscope.bench import cache_root, datasets, synth
    from veriscope.bench.datasets import Record
    from veriscope.synth import forgeries as F

    root = cache_root() / "calib"
    crops = kodak_crops(root / "kodak24-crops")
    sets = {"synth-fit": datasets.load(f"synth-fit:{PRISTINE}")[1],
            "synth-fit-crops": synth.build(root / "kodak24-crops", root / "synth-fit-crops",
                                           split="fit", seed=1)}
    jd = root / "kodak-crops-jpeg"
    jd.mkdir(parents=True, exist_ok=True)
    neg = []
    for i, p in enumerate(crops):
        q = JPEG_QS[i % len(JPEG_QS)]
        f = jd / f"{p.stem}_q{q}.jpg"
        if not f.exists():
            f.write_bytes(F.jpeg_bytes(np.asarray(Image.open(p).convert("RGB")), q))
        neg.append(Record(f, 0, split="fit", group=p.stem.split("_")[0], kind="original_jpeg"))
    sets["kodak-crops-jpeg"] = neg
    # every PNG record of the two synth sets once more, after one everyday processing chain
    # (round-robin over PROCESSING): forgeries and originals alike
    pngs = [r for k in ("synth-fit", "synth-fit-crops") for r in sets[k]
            if r.media.suffix.lower() == ".png"]
    sets["fit-processed"] = [r for _spec, r in round_robin(pngs, PROCESSING, PROCESS_SEED,
                                                           "FIT processing")]
    # innocent camera photos of many makes, as they come and after one innocent treatment
    cams = camera_photos(camera_dir or root / "metadata-extractor-images", root / "camera-fit")
    sets["camera-fit"] = cams
    treated = [replace(r, kind=f"camera {spec}")
               for spec, r in round_robin(cams, INNOCENT, INNOCENT_SEED, "FIT treatment")]
    sets["camera-fit-treated"] = treated
    return sets


EVAL_SETS = ("synth-eval", "pristine-eval", "exif-samples", "noso", "micc-f220")
FIT_TABLE = REPO / "tests" / "data" / "calibration_fit.csv"


def classic():
    sys.path.insert(0, str(REPO / "benchmarks"))
    from classic import CLASSIC

    return CLASSIC


def eval_records() -> dict:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from classic import SETS

    from veriscope.bench import datasets

    out = {}
    for key in EVAL_SETS:
        recs = datasets.load(SETS[key])[1]
        if key == "pristine-eval":
            recs = [r for r in recs if r.split == "eval"]
        out[key] = recs
    return out


def rows_of(name: str, records, runner) -> list[dict]:
    """One row per record: label, group (kodak24 photo for FIT), scores and reliability levels
    of the classic detectors (score None where a detector did not apply, failed or gave none)."""
    rows = []
    for r in records:
        scores, levels = {}, {}
        for d in runner.detectors:
            o = runner.outcome(r, d)
            ok = o.applicable and not o.error and o.score is not None
            scores[d] = float(o.score) if ok else None
            levels[d] = o.reliability if ok else None
        group = (r.group or r.media.stem).split("_")[0]
        rows.append({"set": name, "file": r.media.name, "label": int(r.label), "kind": r.kind,
                     "group": group, "scores": scores, "levels": levels})
    return rows


def collect(sets: dict, workers: int) -> dict:
    from veriscope.bench import cache_root
    from veriscope.bench.runner import Runner

    out = {}
    for name, recs in sets.items():
        runner = Runner(cache_root() / "bench", classic(), workers=workers)
        t0 = time.time()
        n = runner.run(recs)
        if n:
            print(f"[{name}: {n} detector runs, {time.time() - t0:.0f} s]", file=sys.stderr)
        out[name] = rows_of(name, recs, runner)
    return out


def describe(m: dict, rows: list[dict]) -> dict:
    """Add the model card fields (what FIT data, how selected) to a fitted model."""
    from veriscope.core import calibration as C

    sets = sorted({r["set"] for r in rows})
    m["fit_data"] = {
        "sets": {s: {"n": sum(r["set"] == s for r in rows),
                     "n_manipulated": sum(r["label"] for r in rows if r["set"] == s)} for s in sets},
        "what": "FIT only: forgeries and originals made from the 24 kodak24 photos of "
                "pristine-kodak24-cbsd68-mcmaster: synth-fit; the synth/1 recipe (seed 1) on two "
                "random crops of each photo; the crops as JPEG q70/80/95; every PNG record of "
                "the two synth sets after one everyday processing chain (PROCESSING); and "
                "camera-fit, 165 innocent camera photos of many makes from "
                f"drewnoakes/metadata-extractor-images@{CAMERA_COMMIT[:10]} "
                "(benchmarks/data/camera_fit.tsv), as they come and after one innocent "
                "treatment each (INNOCENT). Built by benchmarks/calibration.py; table in "
                "tests/data/calibration_fit.csv.",
        "table_sha256": __import__("hashlib").sha256(FIT_TABLE.read_bytes()).hexdigest()
        if FIT_TABLE.exists() else None,
        "selection": f"grouped {C.FOLDS}-fold CV on FIT (groups = kodak24 or camera photo) over "
                     "veriscope.core.calibration.GRID; among grid points within "
                     f"{C.TOLERANCE} of the lowest balanced log-loss the simplest (fewest knots, "
                     "strongest L2, earliest reliability option); intercept then shifted so that "
                     f"at most {C.TARGET_FPR:.0%} of FIT negatives score >= 0.5 out of fold",
        "history": "the FIT design (processing chains added; camera-fit added in issue 15 "
                   "after the verdict false alarms on innocent EVAL photos were seen) and the "
                   "grid (knots >= 0.5 only, parsimony rule) were revised after earlier fits had "
                   "been evaluated on EVAL; nothing was fitted on EVAL, but the EVAL figures are "
                   "not fully blind (docs/fusion.md)",
    }
    return m


def v1_score(row: dict) -> float | None:
    s = [v for v in row["scores"].values() if v is not None]
    return max(s) if s else None


def _fused(row: dict):
    """veriscope.core.fusion.fuse over the classic evidence of this row (scores, labels and
    reliability levels as the detectors reported them)."""
    from veriscope.core.evidence import Evidence
    from veriscope.core.fusion import fuse

    evs = [Evidence(d, "bench", applicable=s is not None, score=s,
                    label=None if s is None else "manipulated" if s >= 0.5 else "no_evidence",
                    data={"reliability": {"level": row["levels"][d]}})
           for d, s in row["scores"].items()]
    return fuse(evs, kind="image")


def v2_score(row: dict) -> float | None:
    """The verdict score of the fusion over the classic evidence of this row."""
    return _fused(row).score


def v2_verdict(row: dict) -> str:
    """The verdict label of the fusion over the classic evidence of this row: a score >= 0.5
    whose supporting detectors all report low reliability is ``inconclusive``."""
    return _fused(row).label


def metrics_row(rows, fn) -> dict:
    from veriscope.core.metrics import auc, rates_at

    s = np.array([fn(r) for r in rows], float)
    y = np.array([r["label"] for r in rows], bool)
    out = {"n": len(rows), "n_pos": int(y.sum())}
    if y.any() and (~y).any():
        out["auc"] = auc(s, y)
    tpr, fpr = rates_at(s, y, 0.5)
    if y.any():
        out["tpr"] = tpr
        out["n_tp"] = int((s[y] >= 0.5).sum())
    if (~y).any():
        out["fpr"] = fpr
        out["n_fp"] = int((s[~y] >= 0.5).sum())
    return out


def fmt(m: dict, k: str) -> str:
    if k not in m:
        return ""
    if k == "tpr":
        return f"{m['tpr']:.3f} ({m['n_tp']}/{m['n_pos']})"
    if k == "fpr":
        return f"{m['fpr']:.3f} ({m['n_fp']}/{m['n'] - m['n_pos']})"
    return f"{m[k]:.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--write", action="store_true",
                    help="rewrite src/veriscope/models/classic_calibration.json and the FIT table")
    ap.add_argument("--no-eval", action="store_true", help="fit and cross-validate only")
    ap.add_argument("--from-table", action="store_true",
                    help="FIT rows from the committed table (tests/data/calibration_fit.csv) "
                         "instead of running the detectors on FIT")
    ap.add_argument("--camera-dir", type=Path, default=None,
                    help=f"the jpg/ folder of a clone of {CAMERA_REPO} at {CAMERA_COMMIT[:10]} "
                         "(default: <cache>/calib/metadata-extractor-images)")
    a = ap.parse_args(argv)
    from veriscope.core import calibration as C

    if a.from_table:
        fit_rows = C.read_table(FIT_TABLE)
    else:
        fit_rows = [r for rs in collect(fit_records(a.camera_dir), a.workers).values() for r in rs]
    if a.write:
        C.write_table(fit_rows, FIT_TABLE)
        fit_rows = C.read_table(FIT_TABLE)  # fit on exactly what the tests refit from
    model, cv = C.fit_protocol(fit_rows)
    model = describe(model, fit_rows)
    lines = ["# Image-level calibration of the classic detectors (benchmarks/calibration.py)", "",
             f"FIT: {len(fit_rows)} records ({sum(r['label'] for r in fit_rows)} manipulated), "
             f"modelled detectors: {', '.join(model['detectors'])}.", "",
             f"## Grouped CV on FIT (out of fold, before the intercept shift; best 8 of {len(cv)})",
             "", "| knots | rho (medium, low) | l2 | balanced log-loss | AUC |",
             "|---:|---|---:|---:|---:|"]
    for c in sorted(cv, key=lambda c: c["logloss"])[:8]:
        lines.append(f"| {c['knots']} | {tuple(c['rho'])} | {c['l2']} | {c['logloss']:.4f} | "
                     f"{c['auc']:.3f} |")
    keys = ("knots", "reliability_factor", "l2", "intercept_fit", "intercept_shift", "intercept",
            "weights")
    lines += ["", f"Selected (simplest within {C.TOLERANCE} of the lowest log-loss "
              f"{model['cv_lowest_logloss']:.4f}): {json.dumps(model['cv_best'])}", "",
              "Model: " + json.dumps({k: model[k] for k in keys}), ""]
    if a.write:
        C.MODEL_PATH.write_text(json.dumps(model, indent=1) + "\n")
        C._load.cache_clear()
        lines += [f"written: {C.MODEL_PATH.relative_to(REPO)}, {FIT_TABLE.relative_to(REPO)}", ""]
    cur = C.load_model() if C.MODEL_PATH.exists() else {}
    if any(cur.get(k) != model.get(k) for k in ("weights", "intercept", "knots",
                                                 "reliability_factor")):
        lines += ["**The committed model differs from this fit (run with --write).**", ""]
        print("\n".join(lines))
        return 1
    sets = {f"FIT: {k}": [r for r in fit_rows if r["set"] == k]
            for k in dict.fromkeys(r["set"] for r in fit_rows)}
    sets["FIT: all"] = fit_rows
    if not a.no_eval:
        sets.update(collect(eval_records(), a.workers))
    lines += ["## Verdict score over the classic detectors: max rule (v1) vs calibrated (v2)", "",
              "| set | n | v1 image AUC | v1 TPR@0.5 | v1 FPR@0.5 | v2 image AUC | v2 TPR@0.5 | "
              "v2 FPR@0.5 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, rows in sets.items():
        m1, m2 = metrics_row(rows, v1_score), metrics_row(rows, v2_score)
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(fmt(m1, k) for k in ("auc", "tpr", "fpr"))
                     + " | " + " | ".join(fmt(m2, k) for k in ("auc", "tpr", "fpr")) + " |")
    lines += ["", "### Bounded combination (rule 3) vs the fitted sum (rule 2)", "",
              "Rule 3 counts correlated detectors once and lets one kind of trace lift the "
              f"combined score to at most {C.GROUP_MAX} (veriscope.core.calibration.GROUPS). "
              "ECE: 10 equal-width bins. '>= 0.95': scores in the 'very strong' band.", "",
              "| set | n | rule 2 TPR@0.5 | rule 2 FPR@0.5 | rule 2 ECE | rule 2 >= 0.95 (neg / pos) | "
              "rule 3 TPR@0.5 | rule 3 FPR@0.5 | rule 3 ECE | rule 3 >= 0.95 (neg / pos) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, rows in sets.items():
        cells = []
        for bounded in (False, True):
            sc = np.array([combined_score(r, bounded) for r in rows], float)
            y = np.array([r["label"] for r in rows], bool)
            m = metrics_row(rows, lambda r, b=bounded: combined_score(r, b))
            from veriscope.core.metrics import ece

            cells += [fmt(m, "tpr"), fmt(m, "fpr"), f"{ece(sc, y):.3f}",
                      f"{int((sc[~y] >= 0.95).sum())} / {int((sc[y] >= 0.95).sum())}"]
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")
    kinds = sorted({r["kind"] for r in sets.get("synth-eval", []) if r["label"]})
    if kinds:
        lines += ["", "### synth-eval by forgery kind (TPR@0.5)", "", "| kind | n | v1 | v2 |",
                  "|---|---:|---:|---:|"]
        for k in kinds:
            rows = [r for r in sets["synth-eval"] if r["kind"] == k]
            m1, m2 = metrics_row(rows, v1_score), metrics_row(rows, v2_score)
            lines.append(f"| {k} | {len(rows)} | {fmt(m1, 'tpr')} | {fmt(m2, 'tpr')} |")
    lines += ["", "### What a user reads: v2 verdict labels", "",
              "| set | negatives: score >= 0.5 | `manipulated` | `inconclusive` | "
              "positives: `manipulated` | `inconclusive` |", "|---|---:|---:|---:|---:|---:|"]
    for name, rows in sets.items():
        neg = [r for r in rows if not r["label"]]
        pos = [r for r in rows if r["label"]]
        lab_n = [v2_verdict(r) for r in neg]
        lab_p = [v2_verdict(r) for r in pos]
        hi = sum((v2_score(r) or 0) >= 0.5 for r in neg)

        def cnt(labels, want, n):
            return f"{labels.count(want)}/{n}" if n else ""
        lines.append(f"| {name} | {hi}/{len(neg)} | {cnt(lab_n, 'manipulated', len(neg))} | "
                     f"{cnt(lab_n, 'inconclusive', len(neg))} | "
                     f"{cnt(lab_p, 'manipulated', len(pos))} | "
                     f"{cnt(lab_p, 'inconclusive', len(pos))} |")
    lines += ["", "### What drives the v2 false alarms (negatives with v2 score >= 0.5)", "",
              "| set | false alarms | driven by (largest log-odds, or an uncalibrated detector) |",
              "|---|---:|---|"]
    for name, rows in sets.items():
        if name.startswith("FIT: ") and name != "FIT: all":
            continue
        why = {}
        for r in rows:
            if r["label"] or (v2_score(r) or 0) < 0.5:
                continue
            k = driver(r)
            why[k] = why.get(k, 0) + 1
        lines.append(f"| {name} | {sum(why.values())} | "
                     + ", ".join(f"{k} {n}" for k, n in sorted(why.items(), key=lambda kv: -kv[1]))
                     + " |")
    print("\n".join(lines))
    return 0


def combined_score(row: dict, bounded: bool) -> float:
    """The calibrated combination alone (0 when no modelled detector scored), rule 3 when
    ``bounded``, else the fitted sum of rule 2."""
    from veriscope.core import calibration as C

    m = C.load_model()
    c = C.combine({d: s for d, s in row["scores"].items() if d in m["detectors"]}, row["levels"],
                  m, bounded=bounded)
    return 0.0 if c is None else c.score


def driver(row: dict) -> str:
    """The detector behind a v2 score >= 0.5: an uncalibrated classic detector at >= 0.5, or
    the largest contribution of the calibrated combination."""
    from veriscope.core import calibration as C

    m = C.load_model()
    free = {d: s for d, s in row["scores"].items() if d not in m["detectors"] and s is not None}
    c = C.combine({d: s for d, s in row["scores"].items() if d in m["detectors"]}, row["levels"], m)
    if c is None or c.score < 0.5:
        top = max(free, key=free.get)
        return top + (" (own bar)" if top in C.OWN_BAR else " (uncalibrated)")
    return max(c.contributions, key=lambda d: c.contributions[d]["log_odds"])


if __name__ == "__main__":
    raise SystemExit(main())
