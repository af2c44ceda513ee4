#!/usr/bin/env python
"""FIT for the archive's candidate search (not an evaluation): an archive that holds many
versions of one picture.

An archive of a newsroom or a platform keeps every version of a picture that went round: the
original, crops, edits. Versions of one shot share almost every keypoint descriptor, so each
query descriptor's nearest neighbours in the search index are taken up by the versions, and
with few neighbours per descriptor (``search.NN_K``) the one version that is the query's own
file can be left out of the candidates altogether. This script measures, for several values
of ``NN_K`` and two orders of the verified matches (most matching points first, as before;
closest in appearance first, ``search._rank``), whether the query's exact version comes back.

Data (FIT only; none of it is in the archive benchmark): the ImageNet sample pictures of
EliSchwartz/imagenet-sample-images at bc69043e2862758a1906c6a24a792bb28c6bb2ff (as in
``benchmarks/archive_fit.py``: extracted with ``git archive`` into
``~/.cache/veriscope/archive-fit/imagenet``). The pictures 600-999 (sorted by name; never used
by archive_fit's indexed set) are split: the first 60 are *families*, each indexed as itself
plus 11 edited versions (``archive_retrieval._edit``: splice, removal, copy-move, 4 or 3 of
each with their own seeds, regions of 4-10 % of the area; saved as JPEG q92, as a news
picture would be re-saved), the other 340 are indexed as they are; plus the first 5,000
generated distractors of the archive benchmark (``g000000``-``g004999`` in
``~/.cache/veriscope/archive-bench/distractors``, made by ``archive_retrieval.py``; none shows
an ImageNet picture). Queries: one version of each family (drawn with seed 0) under the
perturbations below; recall@1 (the first result is that exact version, verified) and recall@10
(it is among the 10 results), and the same for "any version" of the family.

Usage: .venv/bin/python benchmarks/archive_versions_fit.py [--k 5,10,16]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import archive_retrieval as AR  # noqa: E402

FIT = Path.home() / ".cache" / "veriscope" / "archive-fit"
PERTURB = ["none", "jpeg:q=50", "resize:s=0.25", "crop50", "text_boxes", "screenshot_ui"]
N_FAMILIES, N_VERSIONS, N_DISTRACTORS = 60, 11, 5000
KINDS = ("splice", "removal", "copy_move")


def build(root: Path, files: list[Path]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The FIT archive (cached): families with their versions, the rest, the distractors.
    Returns each family's SHA-256s and paths, the unedited picture first."""
    from PIL import Image

    from veriscope.archive.store import Archive
    from veriscope.core.media import file_sha256

    vdir = FIT / "versions"
    fams, plain = files[:N_FAMILIES], files[N_FAMILIES:]
    fam_files: dict[str, list[Path]] = {}
    vdir.mkdir(parents=True, exist_ok=True)
    for k, f in enumerate(fams):
        rgb = AR._load_rgb(str(f))
        donor = AR._load_rgb(str(plain[k]))
        out = [f]
        for j in range(N_VERSIONS):
            p = vdir / f"{f.stem}_v{j:02d}.jpg"
            if not p.exists():
                rng = np.random.default_rng([k, j])
                img, _ = AR._edit(KINDS[j % 3], rgb, donor, rng)
                Image.fromarray(img).save(p, quality=92)
            out.append(p)
        fam_files[f.stem] = out
    dpaths = [AR.CACHE / "distractors" / f"g{i:06d}.jpg" for i in range(N_DISTRACTORS)]
    if not all(p.exists() for p in dpaths):
        raise SystemExit("run benchmarks/archive_retrieval.py once first (it makes the "
                         "distractors)")
    every = [p for v in fam_files.values() for p in v] + plain + dpaths
    meta = root / "fit-build.json"
    key = "\n".join(map(str, every))
    if not (meta.exists() and json.loads(meta.read_text()).get("key") == key):
        if root.exists():
            shutil.rmtree(root)
        Archive(root, create=True)
        AR.run_indexers(root, every, 2)
        AR.build_ann(root)
        meta.write_text(json.dumps({"key": key}))
    sha = {str(p): file_sha256(p) for v in fam_files.values() for p in v}
    return {fam: [sha[str(p)] for p in v] for fam, v in fam_files.items()}, \
        {fam: [str(p) for p in v] for fam, v in fam_files.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", default="5,10,16")
    a = ap.parse_args(argv)
    files = sorted((FIT / "imagenet").glob("*.JPEG"))
    if len(files) < 1000:
        print(f"{FIT}/imagenet: expected the 1,000 ImageNet samples; see the docstring")
        return 2
    import cv2
    import faiss

    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    import veriscope.archive.search as S
    from veriscope.archive.search import Query, match
    from veriscope.archive.store import Archive
    from veriscope.signals.perturb import derive_seed

    root = FIT / "archive-versions"
    fam_sha, fam_path = build(root, files[600:])
    arc = Archive(root)
    arc.ann()
    rng = np.random.default_rng(0)
    picks = {fam: int(rng.integers(0, N_VERSIONS + 1)) for fam in sorted(fam_sha)}
    queries = []
    for fam, j in picks.items():
        rgb = AR._load_rgb(fam_path[fam][j])
        for p in PERTURB:
            img, _ = AR.apply_perturbation(p, rgb, None, derive_seed(0, fam_sha[fam][j], p))
            queries.append((fam, fam_sha[fam][j], p, Query.from_rgb(img)))
    result = {"data": {"families": N_FAMILIES, "versions_per_family": N_VERSIONS + 1,
                       "plain": len(files) - 600 - N_FAMILIES, "distractors": N_DISTRACTORS,
                       "imagenet": "EliSchwartz/imagenet-sample-images@"
                                   "bc69043e2862758a1906c6a24a792bb28c6bb2ff"},
              "perturbations": PERTURB, "k": {}}
    def by_points(m):  # the order before: most points first
        return (not m.verified, -(m.verification.inliers if m.verified else 0), -m.votes)

    keep_k, keep_rank = S.NN_K, S._rank
    try:
        for k in [int(x) for x in a.k.split(",") if x]:
            for order, fn in (("points", by_points), ("appearance", keep_rank)):
                S.NN_K, S._rank = k, fn
                per: dict[str, dict] = {}
                times = []
                for fam, sha, p, q in queries:
                    t = time.perf_counter()
                    ms = match(arc, q, top=10, diff_top=0)
                    times.append(time.perf_counter() - t)
                    r = per.setdefault(p, {"n": 0, "recall1": 0, "recall10": 0, "any10": 0})
                    r["n"] += 1
                    r["recall1"] += bool(ms and ms[0].verified and ms[0].item["sha256"] == sha)
                    r["recall10"] += any(m.item["sha256"] == sha for m in ms)
                    r["any10"] += any(m.item["sha256"] in fam_sha[fam] for m in ms)
                row = {"per_perturbation": per,
                       "match_p50_ms": round(1000 * float(np.median(times)), 1),
                       "match_p95_ms": round(1000 * float(np.percentile(times, 95)), 1)}
                result["k"][f"{k}/{order}"] = row
                print(f"k={k}, {order} first: "
                      + "; ".join(f"{p} {v['recall1']}/{v['recall10']}/{v['any10']}"
                                  for p, v in per.items())
                      + f" (of {len(picks)}); match p50 {row['match_p50_ms']} ms", flush=True)
    finally:
        S.NN_K, S._rank = keep_k, keep_rank
    out = Path(__file__).resolve().parent / "results" / "archive_versions_fit.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out} (recall@1 / recall@10 of the exact version / any version in the top 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
