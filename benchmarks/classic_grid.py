"""Measurements for the jpeg_grid, resampling and aids detectors (issue 3).

Protocol (see docs/detectors/jpeg_grid.md and docs/detectors/resampling.md):

- FIT split: kodak24 (``--fit`` prints the calibration statistics the constants were set
  from; nothing here is fitted on EVAL).
- EVAL split: cbsd68 + mcmaster (86 pristine PNGs). Forgeries are synthesized from them with
  a fixed seed; every test file is written to a temporary folder and analysed through
  ``Media.open`` + ``Detector.analyze`` exactly as in production.
- False alarms: EVAL pristine pictures (as PNG, as JPEG, as JPEG-then-PNG) and the 30 camera
  JPEGs of exif-samples-camera-jpegs.

Metrics: pixel F1 of the map at 0.5 (fixed), pixel F1 at the dataset-best threshold (an
ORACLE, reported as such), pixel AUC averaged over manipulated images, image AUC of the
score (forgeries vs the matching pristine set), detection rate (score >= 0.5), false-alarm
rate (score >= 0.5) on real photos. Speed: CPU seconds per detector at 1, 4 and 12 MP.

Usage: .venv/bin/python benchmarks/classic_grid.py [--fit] [--limit N] [--no-speed]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from veriscope.core.media import Media
from veriscope.core.metrics import auc, dataset_best_threshold, mean_f1_at, pixel_auc
from veriscope.detectors.base import Context
from veriscope.detectors.image.aids import VisualAidsDetector
from veriscope.detectors.image.jpeg_grid import JpegGridDetector
from veriscope.detectors.image.resampling import ResamplingDetector
from veriscope.synth import forgeries as F

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PRISTINE = SHARED / "pristine-kodak24-cbsd68-mcmaster"
CAMERA = SHARED / "exif-samples-camera-jpegs"


def load(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]


# ------------------------------------------------------------------ forgery makers

def paste_jpeg_region(host: np.ndarray, donor: np.ndarray, rng, qd: int | None):
    """A blob of ``donor`` (JPEG-compressed at qd first, or raw when qd is None) pasted into
    ``host`` at an offset that is NOT a multiple of 8 (when qd is set), so its JPEG grid is
    misaligned with the host's. Returns (image, mask)."""
    h, w = host.shape[:2]
    dh, dw = donor.shape[:2]
    d = F.decode_jpeg(F.jpeg_bytes(donor, qd)) if qd else donor
    m = F._blob_mask(min(h, dh), min(w, dw), rng)
    y0, y1, x0, x1 = F._bbox(m)
    pos = None
    for _ in range(200):
        pos = F._place(m, h, w, rng)
        if pos is None:
            break
        ty, tx = pos
        if qd is None or ((ty - y0) % 8, (tx - x0) % 8) != (0, 0):
            break
    if pos is None:
        raise ValueError("region does not fit")
    ty, tx = pos
    out = host.copy()
    reg = m[y0:y1, x0:x1]
    out[ty:ty + y1 - y0, tx:tx + x1 - x0][reg] = d[y0:y1, x0:x1][reg]
    mask = np.zeros((h, w), bool)
    mask[ty:ty + y1 - y0, tx:tx + x1 - x0] = reg
    return out, mask


def jpeg_round(img: np.ndarray, q: int) -> np.ndarray:
    return F.decode_jpeg(F.jpeg_bytes(img, q))


# ------------------------------------------------------------------ running

class Runner:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.n = 0
        self.ctx = Context()

    def run(self, det, img: np.ndarray | None = None, jpeg: bytes | None = None,
            path: Path | None = None):
        if path is None:
            self.n += 1
            if jpeg is not None:
                path = self.tmp / f"{self.n}.jpg"
                path.write_bytes(jpeg)
            else:
                path = self.tmp / f"{self.n}.png"
                Image.fromarray(img).save(path)
        m = Media.open(path)
        ev = det.analyze(m, self.ctx)
        if path.parent == self.tmp:
            path.unlink()
        return ev


def summarize(name: str, evs, masks, neg_scores) -> dict:
    maps = [e.heatmap for e in evs]
    scores = [e.score for e in evs]
    best_t, best_f1 = dataset_best_threshold(maps, masks)
    pa = [pixel_auc(m, k) for m, k in zip(maps, masks, strict=True)]
    pa = [v for v in pa if v == v]
    iauc = auc(list(scores) + list(neg_scores), [1] * len(scores) + [0] * len(neg_scores)) \
        if neg_scores else float("nan")
    return {"case": name, "n": len(evs), "f1_05": mean_f1_at(maps, masks, 0.5),
            "f1_best": best_f1, "t_best": best_t,
            "pauc": float(np.mean(pa)) if pa else float("nan"), "iauc": iauc,
            "det": float(np.mean(np.asarray(scores) >= 0.5))}


def table(rows: list[dict]) -> str:
    out = ["| case | n | pixel F1 @0.5 | pixel F1 @best (oracle, t) | pixel AUC | image AUC "
           "| detected (score >= 0.5) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['case']} | {r['n']} | {r['f1_05']:.3f} | {r['f1_best']:.3f} "
                   f"({r['t_best']:.2f}) | {r['pauc']:.3f} | {r['iauc']:.3f} | {r['det']:.2f} |")
    return "\n".join(out)


def fa_table(rows: list[tuple[str, list]]) -> str:
    out = ["| real photos | n | false alarms (score >= 0.5) | mean score |", "|---|---|---|---|"]
    for name, evs in rows:
        s = np.array([e.score for e in evs], float)
        out.append(f"| {name} | {len(s)} | {np.mean(s >= 0.5):.3f} | {np.mean(s):.3f} |")
    return "\n".join(out)


def findings_rate(evs, code: str) -> float:
    return float(np.mean([any(f.code == code for f in e.findings) for e in evs]))


# ------------------------------------------------------------------ EVAL

def eval_jpeg_grid(R: Runner, eval_imgs, rng) -> str:
    det = JpegGridDetector()
    n = len(eval_imgs)
    cases = {k: ([], []) for k in ("png: misaligned JPEG paste into EVAL host as is",
                                   "png: misaligned JPEG paste into JPEG'd host",
                                   "png: uncompressed paste into JPEG'd host (missing grid)",
                                   "jpg: double_jpeg_splice aligned=False, q1<q2",
                                   "jpg: double_jpeg_splice aligned=False, q1>q2")}
    names = list(cases)
    neg_png, neg_jpg2png, neg_jpg = [], [], []
    crop_png, crop_jpg = [], []
    for i, img in enumerate(eval_imgs):
        donor = eval_imgs[(i + 17) % n]
        qh, qd = int(rng.integers(70, 96)), int(rng.integers(60, 96))
        host_j = jpeg_round(img, qh)
        out, mask = paste_jpeg_region(img, donor, rng, qd)
        cases[names[0]][0].append(R.run(det, out))
        cases[names[0]][1].append(mask)
        out, mask = paste_jpeg_region(host_j, donor, rng, qd)
        cases[names[1]][0].append(R.run(det, out))
        cases[names[1]][1].append(mask)
        out, mask = paste_jpeg_region(host_j, donor, rng, None)
        cases[names[2]][0].append(R.run(det, out))
        cases[names[2]][1].append(mask)
        q1 = int(rng.integers(60, 81))
        f = F.double_jpeg_splice(img, donor, rng, q1, int(rng.integers(q1 + 5, 96)), aligned=False)
        cases[names[3]][0].append(R.run(det, jpeg=f.jpeg_bytes))
        cases[names[3]][1].append(f.mask)
        q2 = int(rng.integers(60, 81))
        f = F.double_jpeg_splice(img, donor, rng, int(rng.integers(q2 + 5, 96)), q2, aligned=False)
        cases[names[4]][0].append(R.run(det, jpeg=f.jpeg_bytes))
        cases[names[4]][1].append(f.mask)
        # negatives and crops
        neg_png.append(R.run(det, img))
        neg_jpg2png.append(R.run(det, host_j))
        neg_jpg.append(R.run(det, jpeg=F.jpeg_bytes(img, qh)))
        dy, dx = int(rng.integers(0, 8)), int(rng.integers(1, 8))
        crop_png.append(R.run(det, host_j[dy:, dx:]))
        crop_jpg.append(R.run(det, jpeg=F.jpeg_bytes(host_j[dy:, dx:], int(rng.integers(90, 101)))))
    neg_png_scores = [e.score for e in neg_png + neg_jpg2png]
    neg_jpg_scores = [e.score for e in neg_jpg]
    rows = []
    for k, (evs, masks) in cases.items():
        rows.append(summarize(k, evs, masks,
                              neg_jpg_scores if k.startswith("jpg") else neg_png_scores))
    cam = [R.run(det, path=p) for p in sorted(CAMERA.rglob("*.jpg"))]
    lines = ["### jpeg_grid on EVAL forgeries (cbsd68 + mcmaster)", "", table(rows), "",
             "Image AUC negatives: the EVAL pictures as PNG and as JPEG-then-PNG (png cases), "
             "or as JPEG files (jpg cases).", "",
             "### jpeg_grid false alarms", "",
             fa_table([("EVAL pristine PNG (cbsd68 was JPEG once, mcmaster never)", neg_png),
                       ("EVAL JPEG q70-95 then PNG", neg_jpg2png),
                       ("EVAL JPEG q70-95 (.jpg)", neg_jpg),
                       ("EVAL JPEG, cropped by (0-7, 1-7) px, PNG", crop_png),
                       ("EVAL JPEG, cropped, re-saved JPEG q90-100", crop_jpg),
                       ("exif-samples-camera-jpegs", cam)]), "",
             "### jpeg_grid crop detection (image level, finding `jpeg_grid_shifted`)", "",
             "| set | n | shifted-grid finding |", "|---|---|---|",
             f"| JPEG then PNG, uncropped | {len(neg_jpg2png)} | "
             f"{findings_rate(neg_jpg2png, 'jpeg_grid_shifted'):.3f} |",
             f"| JPEG then PNG, cropped | {len(crop_png)} | "
             f"{findings_rate(crop_png, 'jpeg_grid_shifted'):.3f} |",
             f"| JPEG, cropped, re-saved JPEG q90-100 | {len(crop_jpg)} | "
             f"{findings_rate(crop_jpg, 'jpeg_grid_shifted'):.3f} |",
             f"| camera JPEGs | {len(cam)} | {findings_rate(cam, 'jpeg_grid_shifted'):.3f} |"]
    return "\n".join(lines)


def eval_resampling(R: Runner, eval_imgs, rng) -> str:
    import cv2

    det = ResamplingDetector()
    loc, loc_m, loc_j, neg, neg_j = [], [], [], [], []
    glob_rows = []
    for img in eval_imgs:
        f = F.resample(img, rng)
        loc.append(R.run(det, f.image))
        loc_m.append(f.mask)
        loc_j.append(R.run(det, jpeg=F.jpeg_bytes(f.image, 90)))
        neg.append(R.run(det, img))
        neg_j.append(R.run(det, jpeg=F.jpeg_bytes(img, 90)))
    rows = [summarize("png: forgeries.resample (region scaled 1.1-1.4)", loc, loc_m,
                      [e.score for e in neg]),
            summarize("jpg q90: forgeries.resample then JPEG", loc_j, loc_m,
                      [e.score for e in neg_j])]
    for sc in (0.8, 0.9, 1.1, 1.25, 1.5, 2.0):
        evs = []
        for img in eval_imgs[::2]:
            interp = cv2.INTER_AREA if sc < 1 else cv2.INTER_LINEAR
            evs.append(R.run(det, cv2.resize(img, None, fx=sc, fy=sc, interpolation=interp)))
        glob_rows.append(f"| x{sc} ({'area' if sc < 1 else 'bilinear'}) | {len(evs)} | "
                         f"{findings_rate(evs, 'globally_resampled'):.3f} | "
                         f"{np.mean([e.score >= 0.5 for e in evs]):.3f} |")
    cam = [R.run(det, path=p) for p in sorted(CAMERA.rglob("*.jpg"))]
    lines = ["### resampling on EVAL forgeries (cbsd68 + mcmaster)", "", table(rows), "",
             "### resampling: globally resized EVAL pictures (PNG)", "",
             "| resize | n | `globally_resampled` finding | score >= 0.5 (should be 0) |",
             "|---|---|---|---|", *glob_rows, "",
             "### resampling false alarms", "",
             fa_table([("EVAL pristine PNG", neg), ("EVAL JPEG q90", neg_j),
                       ("exif-samples-camera-jpegs", cam)])]
    return "\n".join(lines)


def speed(R: Runner) -> str:
    import cv2

    base = np.asarray(Image.open(PRISTINE / "kodak24" / "kodim05.png").convert("RGB"))
    rows = ["| detector | 1 MP | 4 MP | 12 MP |", "|---|---|---|---|"]
    dets = [JpegGridDetector(), ResamplingDetector(), VisualAidsDetector()]
    res = {d.name: [] for d in dets}
    for w, h in ((1200, 900), (2400, 1700), (4000, 3000)):
        img = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
        noise = np.random.default_rng(0).normal(0, 2, img.shape)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
        p = R.tmp / f"speed_{w}.jpg"
        Image.fromarray(img).save(p, quality=90)
        for d in dets:
            m = Media.open(p)
            m.rgb()
            t = time.process_time()
            d.analyze(m, R.ctx)
            res[d.name].append(time.process_time() - t)
        p.unlink()
    for k, v in res.items():
        rows.append(f"| {k} | " + " | ".join(f"{x:.2f} s" for x in v) + " |")
    return "### CPU seconds per picture (JPEG q90, decode excluded, one core)\n\n" + "\n".join(rows)


# ------------------------------------------------------------------ FIT statistics

def fit_report(fit_imgs, rng) -> str:
    """The statistics the fitted constants were read from (kodak24 only)."""
    import cv2

    from veriscope.detectors.image import resampling as rs

    negb, posb, neg, forg, glob_ = [], [], [], [], {}
    for im in fit_imgs:
        for v in (im, jpeg_round(im, 90), jpeg_round(im, 75)):
            r = rs.analyze_luma(rs.luminance(v))
            negb.append(r["stat"].ravel())
            neg.append(r)
        for _ in range(2):
            f = F.resample(im, rng)
            r = rs.analyze_luma(rs.luminance(f.image))
            ny, nx = r["stat"].shape
            s, c = rs.STRIDE, rs.STRIDE // 2
            cov = np.array([[f.mask[y * s + c:y * s + c + s, x * s + c:x * s + c + s].mean()
                             for x in range(nx)] for y in range(ny)])
            posb.append(r["stat"][cov > 0.6])
            forg.append(r)
        for sc in (0.9, 1.1, 1.25, 1.5):
            glob_.setdefault(sc, []).append(rs.analyze_luma(rs.luminance(
                cv2.resize(im, None, fx=sc, fy=sc, interpolation=cv2.INTER_LINEAR))))
    negb, posb = np.concatenate(negb), np.concatenate(posb)

    def summ(r):
        bm = rs.block_map(r["stat"])
        return r["global"], float((bm >= 0.5).mean()), rs.largest_group(bm)[0]

    out = ["resampling block statistic (FIT): pristine percentiles and forged-block TPR"]
    for q in (95, 99, 99.5):
        t = np.percentile(negb, q)
        out.append(f"  p{q}: {t:.3f}  TPR {np.mean(posb > t):.3f}")
    ns, fs = np.array([summ(r) for r in neg]), np.array([summ(r) for r in forg])
    out.append(f"  pristine global max {ns[:, 0].max():.2f}, forgeries global median {np.median(fs[:, 0]):.2f} max {fs[:, 0].max():.2f}, suspicious-fraction max "
               f"{ns[:, 1].max():.3f}; forgeries suspicious-fraction max {fs[:, 1].max():.3f}")
    for sc, rr in glob_.items():
        g = np.array([summ(r) for r in rr])
        out.append(f"  resize x{sc}: global min {g[:, 0].min():.2f}, fraction min {g[:, 1].min():.2f}")
    for nmin in (4, 6, 8, 10):
        out.append(f"  group >= {nmin}: pristine FPR {np.mean(ns[:, 2] >= nmin):.3f}, forgery "
                   f"TPR {np.mean(fs[:, 2] >= nmin):.3f}")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true", help="print FIT-split calibration statistics")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N EVAL pictures")
    ap.add_argument("--no-speed", action="store_true")
    a = ap.parse_args(argv)
    if not PRISTINE.is_dir():
        print(f"missing {PRISTINE}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(2024)
    if a.fit:
        print(fit_report(load(PRISTINE / "kodak24"), rng))
        return 0
    eval_imgs = load(PRISTINE / "cbsd68") + load(PRISTINE / "mcmaster")
    if a.limit:
        eval_imgs = eval_imgs[:a.limit]
    t0 = time.time()
    with tempfile.TemporaryDirectory() as d:
        R = Runner(Path(d))
        print(eval_jpeg_grid(R, eval_imgs, rng))
        print()
        print(eval_resampling(R, eval_imgs, rng))
        print()
        if not a.no_speed:
            print(speed(R))
    print(f"\n(total {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
