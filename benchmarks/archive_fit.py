#!/usr/bin/env python
"""FIT for the archive's verification rule (not an evaluation): how many matching points and
how much photometric agreement separate the same shot from unrelated pictures.

Data (FIT only, never in the archive benchmark): (1) the 1,000 ImageNet sample pictures of
EliSchwartz/imagenet-sample-images at bc69043e2862758a1906c6a24a792bb28c6bb2ff (one picture per
ImageNet class; fetched with the fetch tool into /work/.mirror, extracted with `git archive`
into ~/.cache/veriscope/archive-fit/imagenet). The first 600 (sorted by name) are indexed; 150
of those are queried after each perturbation of benchmarks/archive_retrieval.py (positives),
and 200 of the 400 others, never indexed, are queried as they are and as UI screenshots
(every candidate they verify is a false match). (2) Aligned generated faces, the hard case of
pictures that share their layout: the four 64-face example grids of
a312863063/seeprettyface-generator-{star,wanghong,yellow,babies} (examples/64_examples.jpg,
fetched into /work/.mirror; extracted with `git show` into ~/.cache/veriscope/archive-fit/
faces/grid_<name>.jpg), cut into 256 faces of 128 px: 128 indexed, 64 of them queried after 5
perturbations, the other 128 queried as negatives. Each candidate's geometric verification is
recorded with a low bar (8 points) and its photometric agreements (low band: blurred gray
values; high band: a difference of Gaussians), so that any rule can be read off. Prints the
table; writes benchmarks/results/archive_fit.json (the rows go to the cache folder).

Usage: .venv/bin/python benchmarks/archive_fit.py [--folder ~/.cache/veriscope/archive-fit]
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
        hp = F.photometric_agreement(qf, f, v, band="high")
        out.append({"same": arc.item(iid)["sha256"] == truth, "inliers": v.inliers,
                    "matches": v.matches, "ratio": v.inliers / max(1, v.matches),
                    "scale": v.scale, "rot": v.rotation_deg, "ncc": ncc, "hp": hp})
    return out


def faces(folder: Path) -> list[np.ndarray]:
    """The 256 faces of the four 64-face example grids (8 x 8 of 128 px)."""
    from PIL import Image

    out = []
    for g in sorted(folder.glob("grid_*.jpg")):
        a = np.asarray(Image.open(g).convert("RGB"))
        out += [a[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128].copy()
                for i in range(8) for j in range(8)]
    return out


def run_set(name, indexed: list[Path], pos: list[Path], neg: list[Path], perturb, rows):
    with tempfile.TemporaryDirectory() as tmp:
        arc = Archive(Path(tmp) / "a", create=True)
        index_paths(arc, indexed)
        arc.ann()
        for k, p in enumerate(pos):
            m = Media.open(p)
            rgb = m.rgb()
            for pname in perturb:
                img = AR.apply_perturbation(pname, rgb, None, k)[0]
                for r in records(arc, img, m.sha256):
                    rows.append({**r, "set": name, "perturbation": pname, "query": "indexed"})
        for k, p in enumerate(neg):
            rgb = Media.open(p).rgb()
            for pname in ("none", "screenshot_ui"):
                img = AR.apply_perturbation(pname, rgb, None, k)[0]
                for r in records(arc, img, None):
                    rows.append({**r, "set": name, "perturbation": pname, "query": "not indexed"})


RULES = [(pts, low, high) for pts in (10, 12) for low in (None, 0.7)
         for high in (None, 0.5, 0.6, 0.7)]


def keep(r, rule) -> bool:
    pts, low, high = rule
    return (r["inliers"] >= pts and (low is None or (r["ncc"] or -1) >= low)
            and (high is None or (r["hp"] or -1) >= high))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path,
                    default=Path.home() / ".cache" / "veriscope" / "archive-fit")
    a = ap.parse_args(argv)
    files = sorted((a.folder / "imagenet").glob("*.JPEG"))
    face_imgs = faces(a.folder / "faces")
    if len(files) < 1000 or len(face_imgs) < 256:
        print(f"{a.folder}: expected imagenet/ (1,000 samples) and faces/ (4 grids); see the "
              "docstring")
        return 2
    rng = np.random.default_rng(0)
    rows: list[dict] = []
    indexed, others = files[:600], files[600:]
    n_pos = {"imagenet": 150 * len(PERTURB), "faces": 64 * 5}
    run_set("imagenet", indexed, [indexed[i] for i in rng.choice(600, 150, replace=False)],
            [others[i] for i in rng.choice(400, 200, replace=False)], PERTURB, rows)
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        paths = []
        for k, f in enumerate(face_imgs):
            paths.append(Path(tmp) / f"face{k:03d}.png")
            Image.fromarray(f).save(paths[-1])
        perm = rng.permutation(len(paths))
        fi, fo = [paths[i] for i in perm[:128]], [paths[i] for i in perm[128:]]
        run_set("faces", fi, fi[:64], fo,
                ["none", "jpeg:q=50", "resize:s=0.5", "text_boxes", "crop50"], rows)
    table = []
    for rule in RULES:
        row = {"rule": {"min_points": rule[0], "min_agreement_low": rule[1],
                        "min_agreement_high": rule[2]}}
        for name in ("imagenet", "faces"):
            sub = [r for r in rows if r["set"] == name]
            found = {(r["perturbation"], r.get("qid")) for r in sub if r["same"] and keep(r, rule)}
            row[name] = {"true_verified": sum(1 for r in sub if r["same"] and keep(r, rule))
                         / n_pos[name],
                         "false_verified": sum(1 for r in sub if not r["same"] and keep(r, rule))}
            del found
        table.append(row)
    def chosen(r):  # the rule of signals.fingerprint.confirm
        lo, hi = r["ncc"], r["hp"]
        if lo is None or hi is None:
            return False
        return r["inliers"] >= F.MIN_INLIERS and (
            hi >= F.AGREE_HIGH or (lo >= F.AGREE_LOW_STRONG and hi >= F.AGREE_HIGH_WEAK))

    table.append({"rule": {"min_points": F.MIN_INLIERS, "confirm": "fingerprint.confirm: high "
                           f">= {F.AGREE_HIGH} or (low >= {F.AGREE_LOW_STRONG} and high >= "
                           f"{F.AGREE_HIGH_WEAK})", "min_agreement_low": "(or)",
                           "min_agreement_high": "(rule)"},
                  **{name: {"true_verified": sum(1 for r in rows if r["set"] == name
                                                 and r["same"] and chosen(r)) / n_pos[name],
                            "false_verified": sum(1 for r in rows if r["set"] == name
                                                  and not r["same"] and chosen(r))}
                     for name in ("imagenet", "faces")}})
    cache = a.folder / "archive_fit_rows.json"
    cache.write_text(json.dumps(rows))
    out = {"data": {"imagenet": "EliSchwartz/imagenet-sample-images@"
                                "bc69043e2862758a1906c6a24a792bb28c6bb2ff (600 indexed, 150 "
                                "queried x 8 perturbations, 200 never indexed x 2)",
                    "faces": "a312863063/seeprettyface-generator-{star,wanghong,yellow,babies} "
                             "examples/64_examples.jpg cut into 256 faces (128 indexed, 64 "
                             "queried x 5 perturbations, 128 never indexed x 2)"},
           "table": table, "rows": str(cache)}
    Path(__file__).resolve().parent.joinpath("results", "archive_fit.json").write_text(
        json.dumps(out, indent=2))
    print("| min points | min low-band agreement | min high-band agreement | ImageNet: same shot "
          "verified | ImageNet: false verified | faces: same shot verified | faces: false "
          "verified |")
    print("|---|---|---|---|---|---|---|")
    for t in table:
        r = t["rule"]
        print(f"| {r['min_points']} | {r['min_agreement_low']} | {r['min_agreement_high']} | "
              f"{t['imagenet']['true_verified']:.3f} | {t['imagenet']['false_verified']} | "
              f"{t['faces']['true_verified']:.3f} | {t['faces']['false_verified']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
