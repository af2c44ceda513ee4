#!/usr/bin/env python
"""FIT for the archive's verification rule (not an evaluation): how many matching points and
how much photometric agreement separate the same shot from unrelated pictures.

Data (FIT only, never in the archive benchmark): the 1,000 ImageNet sample pictures of
EliSchwartz/imagenet-sample-images at bc69043e2862758a1906c6a24a792bb28c6bb2ff (one picture per
ImageNet class; fetched with the fetch tool into /work/.mirror, extracted with `git archive`
into ~/.cache/veriscope/archive-fit/imagenet). The first 600 (sorted by name) are indexed; 150
of those are queried after each perturbation of benchmarks/archive_retrieval.py (positives),
and 200 of the 400 others, never indexed, are queried as they are and as UI screenshots
(every candidate they verify is a false match). Each candidate's geometric verification is
recorded with a low bar (8 points) and its photometric agreement, so that any rule can be
read off. Prints the table; writes benchmarks/results/archive_fit.json.

Usage: .venv/bin/python benchmarks/archive_fit.py [--folder DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import archive_retrieval as AR  # noqa: E402

from veriscope.archive.build import index_paths  # noqa: E402
from veriscope.archive.search import Query, candidates  # noqa: E402
from veriscope.archive.store import Archive  # noqa: E402
from veriscope.core.media import Media  # noqa: E402
from veriscope.signals import fingerprint as F  # noqa: E402

PERTURB = ["none", "jpeg:q=50", "resize:s=0.25", "crop50", "mirror", "borders", "text_boxes",
           "screenshot_ui"]


def records(arc: Archive, rgb: np.ndarray, truth: str | None) -> list[dict]:
    q = Query.from_rgb(rgb)
    out = []
    cands = candidates(arc, q)
    feats = arc.features(cands)
    for iid in cands:
        f = feats.get(iid)
        if f is None:
            continue
        best = None
        for qf, mir in ((q.feats, False), (q.feats_mirror, True)):
            v = F.verify(qf, f, min_inliers=8)
            v.mirrored = mir
            if best is None or v.inliers > best[0].inliers:
                best = (v, qf)
        v, qf = best
        if not v.verified:
            continue
        ncc = F.photometric_agreement(qf, f, v)
        out.append({"same": arc.item(iid)["sha256"] == truth, "inliers": v.inliers,
                    "matches": v.matches, "ratio": v.inliers / max(1, v.matches),
                    "scale": v.scale, "rot": v.rotation_deg, "ncc": ncc})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path,
                    default=Path.home() / ".cache" / "veriscope" / "archive-fit" / "imagenet")
    a = ap.parse_args(argv)
    files = sorted(a.folder.glob("*.JPEG"))
    if len(files) < 1000:
        print(f"{a.folder}: expected the 1,000 ImageNet samples (see the docstring)")
        return 2
    indexed, others = files[:600], files[600:]
    rng = np.random.default_rng(0)
    pos = [indexed[i] for i in rng.choice(600, 150, replace=False)]
    neg = [others[i] for i in rng.choice(400, 200, replace=False)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        arc = Archive(Path(tmp) / "a", create=True)
        index_paths(arc, indexed)
        arc.ann()
        for k, p in enumerate(pos):
            m = Media.open(p)
            rgb = m.rgb()
            for name in PERTURB:
                img = AR.apply_perturbation(name, rgb, None, k)[0]
                for r in records(arc, img, m.sha256):
                    rows.append({**r, "perturbation": name, "query": "indexed"})
        for k, p in enumerate(neg):
            rgb = Media.open(p).rgb()
            for name in ("none", "screenshot_ui"):
                img = AR.apply_perturbation(name, rgb, None, k)[0]
                for r in records(arc, img, None):
                    rows.append({**r, "perturbation": name, "query": "not indexed"})
    n_pos_queries = len(pos) * len(PERTURB)
    table = []
    for min_in in (8, 10, 12, 16, 20):
        for min_ncc in (None, 0.5, 0.6, 0.7, 0.75):
            def keep(r, min_in=min_in, min_ncc=min_ncc):
                return r["inliers"] >= min_in and (min_ncc is None or (r["ncc"] or -1) >= min_ncc)

            tp = {(r["perturbation"], id(r)) for r in rows if r["same"] and keep(r)}
            false = [r for r in rows if not r["same"] and keep(r)]
            per = {}
            for name in PERTURB:
                same = [r for r in rows if r["same"] and r["perturbation"] == name and keep(r)]
                per[name] = len(same) / len(pos)
            table.append({"min_inliers": min_in, "min_ncc": min_ncc,
                          "true_verified": len(tp) / n_pos_queries, "per_perturbation": per,
                          "false_verified": len(false),
                          "false_by_query": {"indexed": sum(r["query"] == "indexed" for r in false),
                                             "not indexed": sum(r["query"] == "not indexed"
                                                                for r in false)}})
    out = {"data": "EliSchwartz/imagenet-sample-images@bc69043e2862758a1906c6a24a792bb28c6bb2ff",
           "indexed": 600, "positive_queries": n_pos_queries, "negative_queries": len(neg) * 2,
           "table": table,
           "ncc_same": np.percentile([r["ncc"] for r in rows if r["same"] and r["ncc"] is not None],
                                     [1, 5, 50]).round(3).tolist(),
           "ncc_false": np.percentile([r["ncc"] for r in rows if not r["same"]
                                       and r["ncc"] is not None] or [0], [50, 95, 99]).round(3).tolist()}
    Path(__file__).resolve().parent.joinpath("results", "archive_fit.json").write_text(
        json.dumps(out, indent=2))
    print(f"FIT: {out['data']}; {n_pos_queries} positive queries, {len(neg) * 2} negative")
    print(f"photometric agreement, same shot: 1/5/50 % percentiles {out['ncc_same']}; "
          f"unrelated verified with >= 8 points: 50/95/99 % {out['ncc_false']}")
    print("| min points | min agreement | same shot verified | " + " | ".join(PERTURB)
          + " | false verified (indexed / not indexed queries) |")
    print("|---|---|---|" + "---|" * len(PERTURB) + "---|")
    for t in table:
        print(f"| {t['min_inliers']} | {t['min_ncc']} | {t['true_verified']:.3f} | "
              + " | ".join(f"{t['per_perturbation'][n]:.2f}" for n in PERTURB)
              + f" | {t['false_verified']} ({t['false_by_query']['indexed']} / "
              f"{t['false_by_query']['not indexed']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
