"""Benchmark of the JPEG double-compression detectors: jpeg_dq, jpeg_ndq, jpeg_ghost.

Protocol (docs/detectors/jpeg_dq.md, "Benchmark"):

* Forgeries are synthesized with ``veriscope.synth.forgeries.double_jpeg_splice`` from the EVAL
  split (cbsd68 + mcmaster; the FIT split kodak24 was used to set every constant, see the
  detector docs): host saved at q1, a region of another EVAL photo pasted, saved at q2,
  with the first grid aligned or shifted by 1..7 px, for (q1, q2) in PAIRS.
* Negatives of the same split: each pristine photo saved once as JPEG (quality cycling over
  60/75/90/95), re-saved twice without any edit (aligned, and cropped by 1..7 px before the
  second save), and, for jpeg_ghost only, PNG files (never compressed, and JPEG then PNG).
* A "JPEG then PNG" splice set (host saved at q1, region pasted, saved as PNG) for
  jpeg_ghost, the only one of the three that reads non-JPEG files.
* Real photos: the 30 camera JPEGs of exif-samples-camera-jpegs as they are, and re-saved
  once (decoded and saved at quality 90, and cropped by (3, 5) px then saved at 85): innocent
  double compression at camera sizes.
* MICC-F220 (copy-move JPEGs, image labels only): image-level AUC.

Metrics: pixel F1 of the map at the fixed threshold 0.5; pixel F1 at the one threshold
that is best over the whole set (an ORACLE, reported for comparison only); pixel AUC
averaged over manipulated images; image AUC of the score (forgeries vs negatives of the
same file type); false-alarm rate = share of negatives with score >= 0.5. "fused" is the
map of the three detectors fused by ``veriscope.core.fusion.fuse_maps`` (reliability-weighted
mean) with the largest of their scores as image score.

Usage: .venv/bin/python benchmarks/classic_jpeg.py [--per-pair 16] [--split eval] [--quick]
Runs in a few minutes on 2 cores; prints Markdown.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from veriscope.core.fusion import fuse_maps
from veriscope.core.media import Media
from veriscope.core.metrics import auc, dataset_best_threshold, mean_f1_at, pixel_auc
from veriscope.detectors.base import Context
from veriscope.detectors.image.jpeg_dq import JpegDQDetector
from veriscope.detectors.image.jpeg_ghost import JpegGhostDetector
from veriscope.detectors.image.jpeg_ndq import JpegNDQDetector
from veriscope.synth import forgeries as F

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PRISTINE = SHARED / "pristine-kodak24-cbsd68-mcmaster"
SPLITS = {"fit": ("kodak24",), "eval": ("cbsd68", "mcmaster")}
PAIRS = ((60, 80), (70, 90), (80, 95), (90, 70))
SINGLE_Q = (60, 75, 90, 95)
DETS = (JpegDQDetector, JpegNDQDetector, JpegGhostDetector)
NAMES = [d.name for d in DETS] + ["fused"]


def load_split(split: str) -> list[np.ndarray]:
    out = []
    for sub in SPLITS[split]:
        for p in sorted((PRISTINE / sub).glob("*.png")):
            out.append(np.asarray(Image.open(p).convert("RGB")))
    return out


def png_bytes(img: np.ndarray) -> bytes:
    b = io.BytesIO()
    Image.fromarray(img).save(b, "PNG")
    return b.getvalue()


def build_items(split: str, per_pair: int, seed: int = 0) -> list[dict]:
    """Every synthesized file as {set, bytes, ext, mask or None, label, meta}."""
    imgs = load_split(split)
    rng = np.random.default_rng(seed)
    items = []
    n = len(imgs)
    for q1, q2 in PAIRS:
        for aligned in (True, False):
            made = 0
            while made < per_pair:
                i, j = int(rng.integers(n)), int(rng.integers(n))
                if i == j:
                    continue
                try:
                    f = F.double_jpeg_splice(imgs[i], imgs[j], rng, q1, q2, aligned)
                except ValueError:
                    continue
                items.append({"set": "dj_aligned" if aligned else "dj_shifted",
                              "bytes": f.jpeg_bytes, "ext": "jpg", "mask": f.mask, "label": 1,
                              "meta": {"q1": q1, "q2": q2, "aligned": aligned}})
                made += 1
    # JPEG then PNG splices (jpeg_ghost only)
    made = 0
    while made < per_pair:
        i, j = int(rng.integers(n)), int(rng.integers(n))
        if i == j:
            continue
        q1 = (60, 75, 90)[made % 3]
        first = F.decode_jpeg(F.jpeg_bytes(imgs[i], q1))
        try:
            f = F.splice(first, imgs[j], rng)
        except ValueError:
            continue
        items.append({"set": "png_splice", "bytes": png_bytes(f.image), "ext": "png",
                      "mask": f.mask, "label": 1, "meta": {"q1": q1}})
        made += 1
    # negatives
    for k, img in enumerate(imgs):
        q = SINGLE_Q[k % len(SINGLE_Q)]
        items.append({"set": "jpeg_single", "bytes": F.jpeg_bytes(img, q), "ext": "jpg",
                      "mask": None, "label": 0, "meta": {"q": q}})
        q1, q2 = PAIRS[k % len(PAIRS)]
        first = F.decode_jpeg(F.jpeg_bytes(img, q1))
        items.append({"set": "jpeg_double_aligned", "bytes": F.jpeg_bytes(first, q2),
                      "ext": "jpg", "mask": None, "label": 0, "meta": {"q1": q1, "q2": q2}})
        dy, dx = 1 + k % 7, 1 + (3 * k) % 7
        items.append({"set": "jpeg_double_shifted",
                      "bytes": F.jpeg_bytes(np.ascontiguousarray(first[dy:, dx:]), q2),
                      "ext": "jpg", "mask": None, "label": 0,
                      "meta": {"q1": q1, "q2": q2, "shift": [dy, dx]}})
        if k % 2 == 0:
            items.append({"set": "png_pristine", "bytes": png_bytes(img), "ext": "png",
                          "mask": None, "label": 0, "meta": {}})
        else:
            items.append({"set": "png_of_jpeg", "bytes": png_bytes(F.decode_jpeg(
                F.jpeg_bytes(img, (60, 75, 90)[k % 3]))), "ext": "png", "mask": None,
                "label": 0, "meta": {}})
    return items


def camera_items() -> list[dict]:
    items = []
    folder = SHARED / "exif-samples-camera-jpegs"
    for p in sorted(folder.rglob("*.jpg")):
        data = p.read_bytes()
        items.append({"set": "camera", "bytes": data, "ext": "jpg", "mask": None, "label": 0,
                      "meta": {"file": p.name}})
        try:
            img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        except Exception:  # noqa: BLE001 - a camera file Pillow cannot decode is skipped
            continue
        items.append({"set": "camera_resaved", "bytes": F.jpeg_bytes(img, 90), "ext": "jpg",
                      "mask": None, "label": 0, "meta": {"file": p.name, "q2": 90}})
        items.append({"set": "camera_resaved_shifted",
                      "bytes": F.jpeg_bytes(np.ascontiguousarray(img[3:, 5:]), 85),
                      "ext": "jpg", "mask": None, "label": 0, "meta": {"file": p.name}})
    return items


def micc_items(limit: int | None = None) -> list[dict]:
    root = SHARED / "micc-f220" / "MICC-F220"
    gt = {}
    for line in (root / "groundtruthDB_220.txt").read_text().splitlines():
        if "," in line:
            name, lab = line.strip().split(",")[:2]
            gt[name.strip()] = int(lab)
    items = []
    for p in sorted(root.glob("*.jpg")):
        if p.name in gt:
            items.append({"set": "micc", "path": p, "ext": "jpg", "mask": None,
                          "label": gt[p.name], "meta": {}})
    return items[:limit] if limit else items


def run_item(item: dict, tmp: Path, idx: int) -> dict:
    if "path" in item:
        path = item["path"]
    else:
        path = tmp / f"{idx:05d}.{item['ext']}"
        path.write_bytes(item["bytes"])
    m = Media.open(path)
    m.rgb()
    out = {"set": item["set"], "label": item["label"], "meta": item["meta"], "mask": item["mask"]}
    evs = []
    for cls in DETS:
        det = cls()
        t0 = time.process_time()
        if det.applicable(m) is not None:
            out[det.name] = None
            continue
        ev = det.analyze(m, Context())
        ev.elapsed_s = time.process_time() - t0
        evs.append(ev)
        rel = ev.data.get("reliability", {}).get("level")
        keep = item["mask"] is not None
        out[det.name] = {"score": ev.score, "rel": rel,
                         "map": _small(ev.heatmap, m) if keep else None, "t": ev.elapsed_s,
                         "strength": ev.data.get("region_strength")}
    fused = fuse_maps(evs, (m.width, m.height)) if evs and item["mask"] is not None else None
    scores = [e.score for e in evs if e.score is not None]
    out["fused"] = {"score": max(scores) if scores else None, "rel": None,
                    "map": None if fused is None else fused.astype(np.float32), "t": 0.0}
    if "path" not in item:
        path.unlink()
    return out


def _small(hm, m):
    """Keep a map only at input size (for pixel metrics)."""
    if hm is None:
        return None
    if hm.shape != (m.height, m.width):
        import cv2

        hm = cv2.resize(hm, (m.width, m.height), interpolation=cv2.INTER_LINEAR)
    return hm.astype(np.float32)


def pixel_rows(results: list[dict], title: str) -> list[str]:
    lines = [f"### {title}", "",
             "| detector | n | pixel F1 @0.5 | pixel F1 @best (oracle t) | pixel AUC | "
             "score>=0.5 |", "|---|---:|---:|---:|---:|---:|"]
    for name in NAMES:
        rs = [r for r in results if r.get(name) is not None]
        maps = [r[name]["map"] if r[name]["map"] is not None else np.zeros(r["mask"].shape)
                for r in rs]
        masks = [r["mask"] for r in rs]
        if not rs:
            lines.append(f"| {name} | 0 | n/a | n/a | n/a | n/a |")
            continue
        f05 = mean_f1_at(maps, masks, 0.5)
        t, fb = dataset_best_threshold(maps, masks)
        pa = np.nanmean([pixel_auc(mp, mk) for mp, mk in zip(maps, masks, strict=True)])
        det = np.mean([(r[name]["score"] or 0) >= 0.5 for r in rs])
        lines.append(f"| {name} | {len(rs)} | {f05:.3f} | {fb:.3f} (t={t:.2f}) | {pa:.3f} | "
                     f"{det:.2f} |")
    return lines + [""]


def fpr_rows(results: list[dict], sets: list[str], title: str) -> list[str]:
    lines = [f"### {title}", "", "| set | n | " + " | ".join(NAMES) + " |",
             "|---|---:|" + "---:|" * len(NAMES)]
    for s in sets:
        rs = [r for r in results if r["set"] == s]
        cells = []
        for name in NAMES:
            v = [r[name]["score"] for r in rs if r.get(name) and r[name]["score"] is not None]
            cells.append(f"{np.mean([x >= 0.5 for x in v]):.3f} ({len(v)})" if v else "n/a")
        lines.append(f"| {s} | {len(rs)} | " + " | ".join(cells) + " |")
    return lines + [""]


def auc_rows(results: list[dict], pos_sets, neg_sets, title: str) -> list[str]:
    lines = [f"### {title}", "", "| detector | positives | negatives | image AUC |",
             "|---|---:|---:|---:|"]
    for name in NAMES:
        rs = [r for r in results if r["set"] in pos_sets + neg_sets and r.get(name)
              and r[name]["score"] is not None]
        y = [r["label"] for r in rs]
        s = [r[name]["score"] for r in rs]
        a = auc(s, y) if rs else float("nan")
        lines.append(f"| {name} | {sum(y)} | {len(y) - sum(y)} | {a:.3f} |")
    return lines + [""]


def _dump(results: list[dict], path: str) -> None:
    import csv
    import json

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["set", "label", "meta"] + [f"{n}_{k}" for n in NAMES[:-1]
                                               for k in ("score", "strength", "rel")])
        for r in results:
            row = [r["set"], r["label"], json.dumps(r["meta"])]
            for n in NAMES[:-1]:
                d = r.get(n) or {}
                row += [d.get("score"), d.get("strength"), d.get("rel")]
            w.writerow(row)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-pair", type=int, default=16)
    ap.add_argument("--split", default="eval", choices=sorted(SPLITS))
    ap.add_argument("--quick", action="store_true", help="small run (smoke test)")
    ap.add_argument("--no-micc", action="store_true")
    ap.add_argument("--dump", help="write one CSV row per file (scores, region strengths)")
    args = ap.parse_args(argv)
    per_pair = 3 if args.quick else args.per_pair
    t_start = time.time()
    items = build_items(args.split, per_pair)
    items += camera_items() if not args.quick else camera_items()[:6]
    if not args.no_micc:
        items += micc_items(20 if args.quick else None)
    results = []
    with tempfile.TemporaryDirectory() as td:
        for i, it in enumerate(items):
            results.append(run_item(it, Path(td), i))
    if args.dump:
        _dump(results, args.dump)
    out = [f"## JPEG double-compression detectors ({args.split.upper()} split, "
           f"{per_pair} forgeries per (q1, q2, grid) cell)", ""]
    for aligned in (True, False):
        sname = "dj_aligned" if aligned else "dj_shifted"
        good = [r for r in results if r["set"] == sname and r["meta"]["q2"] > r["meta"]["q1"]]
        out += pixel_rows(good, f"{sname}, q2 > q1 (pairs {[p for p in PAIRS if p[1] > p[0]]})")
        bad = [r for r in results if r["set"] == sname and r["meta"]["q2"] < r["meta"]["q1"]]
        out += pixel_rows(bad, f"{sname}, q2 < q1 (90, 70): expected to fail")
    allq = [r for r in results if r["set"] in ("dj_aligned", "dj_shifted")
            and r["meta"]["q2"] > r["meta"]["q1"]]
    out += pixel_rows(allq, "all double-JPEG splices with q2 > q1 (aligned + shifted)")
    out += pixel_rows([r for r in results if r["set"] == "png_splice"],
                      "JPEG-then-PNG splices (only jpeg_ghost applies)")
    # per pair breakdown of F1 @0.5
    out += ["### Pixel F1 @0.5 per (q1, q2, grid)", "",
            "| q1 | q2 | grid | n | " + " | ".join(NAMES) + " |",
            "|---:|---:|---|---:|" + "---:|" * len(NAMES)]
    for q1, q2 in PAIRS:
        for sname in ("dj_aligned", "dj_shifted"):
            rs = [r for r in results if r["set"] == sname and r["meta"]["q1"] == q1
                  and r["meta"]["q2"] == q2]
            cells = []
            for name in NAMES:
                mp = [r[name]["map"] if r.get(name) and r[name]["map"] is not None
                      else np.zeros(r["mask"].shape) for r in rs]
                cells.append(f"{mean_f1_at(mp, [r['mask'] for r in rs], 0.5):.3f}")
            out.append(f"| {q1} | {q2} | {sname[3:]} | {len(rs)} | " + " | ".join(cells) + " |")
    out.append("")
    out += auc_rows(results, ["dj_aligned", "dj_shifted"],
                    ["jpeg_single", "jpeg_double_aligned", "jpeg_double_shifted"],
                    "Image AUC: double-JPEG splices (all pairs) vs untouched JPEGs of the split")
    out += auc_rows(results, ["png_splice"], ["png_pristine", "png_of_jpeg"],
                    "Image AUC: JPEG-then-PNG splices vs PNG negatives")
    out += fpr_rows(results, ["jpeg_single", "jpeg_double_aligned", "jpeg_double_shifted",
                              "png_pristine", "png_of_jpeg", "camera", "camera_resaved",
                              "camera_resaved_shifted"],
                    "False-alarm rate (score >= 0.5) on untouched images (n scored)")
    if not args.no_micc:
        out += auc_rows(results, ["micc"], ["micc"], "MICC-F220 (copy-move, image labels)")
        out += fpr_rows(results, ["micc"], "MICC-F220: share with score >= 0.5 (all 220)")
    # timings
    out += ["### CPU seconds per image (median over the camera JPEGs, 0.3-12 MP)", "",
            "| detector | median s | max s |", "|---|---:|---:|"]
    cams = [r for r in results if r["set"] == "camera"]
    for name in NAMES[:-1]:
        ts = [r[name]["t"] for r in cams if r.get(name)]
        if ts:
            out.append(f"| {name} | {np.median(ts):.3f} | {np.max(ts):.3f} |")
    out += ["", f"Total wall time: {time.time() - t_start:.0f} s for {len(results)} files."]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
