"""Measurements of the copy-move detector (tables for docs/detectors/copy_move.md).

Protocol (data discipline: constants are fitted on FIT only, everything else is evaluation):

1. FIT (kodak24): 24 pristine photos (PNG, JPEG q90, JPEG q75) and 4 copy-moves of each
   (small 0.4-1.5 % or larger 1.5-6 % regions, rotation 0-90 deg, scale 0.8-1.25, saved as
   PNG or JPEG q90/80/70). Prints the logistic-regression weights of the evidence terms and
   the evidence threshold chosen by the rule "FIT pristine false-positive rate <= 5 %",
   next to the constants used by the code.
   FIT small (``--fit-small``, kodak24 only): 3 copy-moves of SMALL regions (0.2-0.6 % of
   the image per side) per photo, same transforms and formats, plus each photo as JPEG q90;
   prints the share of copies with a verified pair on them, TPR / FPR at 0.5 and pixel F1.
   FIT large (``--fit-large``, kodak24, whose copies here are 500 x 500 crops, upscaled 1.5x to
   750 x 750, 0.56 MP; NoSo's photos are mostly 1024 x 768, 0.79 MP): the photo as PNG and
   JPEG q90 plus a small, a medium and a large copy-move per photo; prints found / TPR per
   size, FPR and pixel F1 at 0.5 and at the set's best threshold.
   FIT shift (``--fit-shift``, kodak24 upscaled as FIT large): a small and a medium copy
   moved by a plain shift (a clone, a pasted layer), PNG or JPEG q90; negatives as PNG,
   JPEG q90 and JPEG q50 re-saved as PNG; prints found / TPR / pixel F1 per size and
   format (``--param exact=false`` gives the figures without the exact stage).
   ``--param max_keypoints=5000`` (any ``_cmfd_core.Params`` field) applies to every FIT run,
   to compare constants.
2. EVAL synthetic (cbsd68 + mcmaster): one copy-move per photo with (rotation, scale) cycling
   through {0, 15, 45} x {0.8, 1.0, 1.2} (veriscope.synth.forgeries.copy_move), saved as PNG and as
   JPEG q90; the pristine photos (PNG + JPEG q90) are the negatives.
3. MICC-F220 (image labels only) and MICC-F8multi; NoSo (pixel masks of source + copy),
   also re-saved as JPEG q90 (no identical pixels left, so no exact stage);
   false alarms on exif-samples-camera-jpegs.
4. Seconds per image at 1, 4 and 12 MP (one core, decode excluded); and by content
   (``--speed-only`` runs just these): the exif-samples and kodak24 photos as users
   receive them (long side 1536 px, JPEG q85), a page of text and a grid of one photo.

Pixel metrics: the map is resized (bilinear) to the image size; F1 at 0.5, F1 at the one
threshold that is best for the whole dataset (an ORACLE, not deployable), pixel AUC averaged
over manipulated images. The detector marks BOTH the source and the copy, so synthetic sets
are scored against source + copy (and, for reference, against the copy alone).

Usage: .venv/bin/python benchmarks/classic_copymove.py [--workers 2] [--skip-fit] [--limit N]
       .venv/bin/python benchmarks/classic_copymove.py --fit-only --fit-small --fit-large [--param k=v]
       .venv/bin/python benchmarks/classic_copymove.py --speed-only
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VERISCOPE_SHARED", REPO.parent / "shared" / "data"))
PRISTINE = SHARED / "pristine-kodak24-cbsd68-mcmaster"
GRID = np.linspace(0.05, 0.95, 19)
COMBOS = [(a, s) for a in (0, 15, 45) for s in (0.8, 1.0, 1.2)]


# ----------------------------------------------------------------------------- helpers
def _load(p) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(p).convert("RGB"))


def _save(img: np.ndarray, path: Path, quality: int | None) -> Path:
    from PIL import Image

    if quality:
        Image.fromarray(img).save(path, "JPEG", quality=int(quality))
    else:
        Image.fromarray(img).save(path, "PNG")
    return path


def _f1_grid(heat: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from veriscope.core.metrics import pixel_f1

    return np.array([pixel_f1(heat, mask, float(t)) for t in GRID])


def _work(job: dict) -> dict:
    """Run the detector on one file (in a worker process)."""
    import cv2

    cv2.setNumThreads(1)
    from veriscope.core.media import Media
    from veriscope.core.metrics import pixel_auc
    from veriscope.detectors.base import Context
    from veriscope.detectors.image.copy_move.detector import CopyMoveDetector

    m = Media.open(job["path"])
    m.rgb()
    w0, c0 = time.perf_counter(), time.process_time()
    ev = CopyMoveDetector().analyze(m, Context())
    out = {"name": job["name"], "label": job["label"], "group": job.get("group"),
           "wall": time.perf_counter() - w0, "cpu": time.process_time() - c0,
           "applicable": ev.applicable, "score": ev.score if ev.applicable else 0.0,
           "reliability": (ev.data.get("reliability") or {}).get("level"),
           "pairs": sum(1 for b in ev.boxes if b.label == "copy")}
    masks = {}
    for key, mp in (job.get("masks") or {}).items():
        mk = np.load(mp) if str(mp).endswith(".npy") else (_load(mp)[..., 0] > 127)
        masks[key] = mk
    if masks and ev.heatmap is not None:
        h, w = next(iter(masks.values())).shape
        heat = cv2.resize(ev.heatmap, (w, h), interpolation=cv2.INTER_LINEAR)
        for key, mk in masks.items():
            out[f"f1_{key}"] = _f1_grid(heat, mk)
            out[f"auc_{key}"] = pixel_auc(heat, mk)
    return out


def _params(over: dict):
    from veriscope.detectors.image.copy_move import core

    p = core.Params()
    for k, v in (over or {}).items():
        cur = getattr(p, k)
        if isinstance(cur, bool):
            v = str(v).strip().lower() in ("1", "true", "yes", "on")
        setattr(p, k, type(cur)(v))
    return p


def _fit_work(job: dict) -> dict:
    """FIT split: core analysis on the array, per-transform terms and overlap with the truth."""
    import cv2

    cv2.setNumThreads(1)
    from veriscope.core.metrics import pixel_f1
    from veriscope.detectors.image.copy_move import core

    img = _load(job["path"])
    lossless = not str(job["path"]).lower().endswith((".jpg", ".jpeg"))
    res = core.analyze_rgb(img, _params(job.get("params")), native=img if lossless else None)
    gt = np.load(job["masks"]["both"]) if job.get("masks") else None
    out = {"name": job["name"], "label": job["label"], "score": res.score, "size": job.get("size")}
    if gt is not None:
        heat = cv2.resize(res.heat, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_LINEAR)
        out["f1"] = [pixel_f1(heat, gt, t) for t in (0.15, 0.5)]
        out["f1_grid"] = _f1_grid(heat, gt)
        out["hit"] = False
    rows = []
    for f in res.found:
        true = False
        if gt is not None:
            reg = f.src_mask | f.dst_mask
            g = cv2.resize(gt.astype(np.uint8), reg.shape[::-1],
                           interpolation=cv2.INTER_NEAREST) > 0
            true = bool((reg & g).sum() > 0.5 * reg.sum())
            out["hit"] |= true
        rows.append((np.log10(1 + f.support), np.log10(1 + 1000 * f.scored_area / res.heat.size),
                     f.periodic, true, f.evidence))
    out["rows"] = rows
    return out


def _run(fn, jobs, workers):
    if workers <= 1:
        return [fn(j) for j in jobs]
    import multiprocessing as mp

    # spawn: OpenCV's thread pool in this process does not survive fork()
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
        return list(ex.map(fn, jobs, chunksize=2))


# ----------------------------------------------------------------------------- datasets
def _blob_copy_move(img, rng, angle, scale, area):
    """Like veriscope.synth.forgeries.copy_move but with a chosen region size (FIT split only)."""
    import cv2

    from veriscope.synth import forgeries as F

    h, w = img.shape[:2]
    src = F._blob_mask(h, w, rng, area=area)
    y0, y1, x0, x1 = F._bbox(src)
    patch, pm = img[y0:y1, x0:x1], src[y0:y1, x0:x1].astype(np.uint8) * 255
    if angle or scale != 1.0:
        ph, pw = patch.shape[:2]
        M = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, scale)
        c, s = abs(M[0, 0]), abs(M[0, 1])
        nw, nh = int(ph * s + pw * c) + 2, int(ph * c + pw * s) + 2
        M[0, 2] += nw / 2 - pw / 2
        M[1, 2] += nh / 2 - ph / 2
        patch = cv2.warpAffine(patch, M, (nw, nh), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        pm = cv2.warpAffine(pm, M, (nw, nh), flags=cv2.INTER_NEAREST)
    pmask = pm > 127
    ph, pw = pmask.shape
    if ph >= h or pw >= w:
        raise ValueError("region does not fit")
    for _ in range(80):
        ty, tx = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
        if not src[ty:ty + ph, tx:tx + pw][pmask].any():
            break
    else:
        raise ValueError("no free place")
    out = img.copy()
    out[ty:ty + ph, tx:tx + pw][pmask] = patch[pmask]
    full = np.zeros((h, w), bool)
    full[ty:ty + ph, tx:tx + pw] = pmask
    return out, full, src


def _fit_forgery(img, rng, area, qualities, tmp: Path, stem: str, **extra) -> dict | None:
    """One FIT copy-move job (random rotation and scale, a random format from ``qualities``,
    0 = PNG), or None when the region does not fit. The draws keep the FIT sets' order."""
    a = float(rng.choice([0, 0, 5, 15, 30, 45, 90]))
    s = float(rng.choice([0.8, 0.9, 1.0, 1.0, 1.1, 1.25]))
    try:
        out, cm, src = _blob_copy_move(img, rng, a, s, area)
    except ValueError:
        return None
    q = int(rng.choice(qualities))
    p = _save(out, tmp / f"{stem}.{'jpg' if q else 'png'}", q or None)
    mp = tmp / f"{stem}_both.npy"
    np.save(mp, cm | src)
    return {"path": str(p), "name": p.name, "label": 1, "masks": {"both": str(mp)}, **extra}


def fit_jobs(tmp: Path, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    jobs = []
    for f in sorted(glob.glob(str(PRISTINE / "kodak24" / "*.png"))):
        img, n = _load(f), Path(f).stem
        for q in (None, 90, 75):
            p = _save(img, tmp / f"fit_{n}_q{q}.{'jpg' if q else 'png'}", q)
            jobs.append({"path": str(p), "name": p.name, "label": 0})
        for k in range(4):
            area = (0.004, 0.015) if k % 2 == 0 else (0.015, 0.06)
            job = _fit_forgery(img, rng, area, [0, 90, 80, 70], tmp, f"fit_{n}_cm{k}")
            if job:
                jobs.append(job)
    return jobs


def fit_small_jobs(tmp: Path, seed: int = 11) -> list[dict]:
    """FIT small: kodak24 only, 3 small copy-moves (0.2-0.6 % per side) + JPEG q90 per photo."""
    rng = np.random.default_rng(seed)
    jobs = []
    for f in sorted(glob.glob(str(PRISTINE / "kodak24" / "*.png"))):
        img, n = _load(f), Path(f).stem
        p = _save(img, tmp / f"fs_{n}_q90.jpg", 90)
        jobs.append({"path": str(p), "name": p.name, "label": 0})
        for k in range(3):
            job = _fit_forgery(img, rng, (0.002, 0.006), [0, 90, 80], tmp, f"fs_{n}_cm{k}")
            if job:
                jobs.append(job)
    return jobs


def _large_photos(tmp: Path, prefix: str, jobs: list[dict]):
    """Yield (image, stem) for every kodak24 photo upscaled 1.5x (Lanczos), after appending
    the photo as PNG and as JPEG q90 (negatives) to ``jobs``."""
    import cv2

    for f in sorted(glob.glob(str(PRISTINE / "kodak24" / "*.png"))):
        img, n = _load(f), Path(f).stem
        img = cv2.resize(img, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LANCZOS4)
        for q in (None, 90):
            p = _save(img, tmp / f"{prefix}_{n}_q{q}.{'jpg' if q else 'png'}", q)
            jobs.append({"path": str(p), "name": p.name, "label": 0})
        yield img, n


def fit_large_jobs(tmp: Path, seed: int = 21) -> list[dict]:
    """FIT large: kodak24 (500 x 500 crops in ../shared) upscaled 1.5x to 750 x 750, 0.56 MP,
    closer to the size of NoSo's camera photos (mostly 1024 x 768; NoSo is never used to
    choose anything), so the working copy is not reduced and SIFT is not upsampled; the photo as PNG and JPEG q90, and 3
    copy-moves per photo of a small (0.2-0.6 %), medium (0.6-2 %) and large (2-5 %) region."""
    rng = np.random.default_rng(seed)
    jobs: list[dict] = []
    for img, n in _large_photos(tmp, "fl", jobs):
        for k, area in enumerate(((0.002, 0.006), (0.006, 0.02), (0.02, 0.05))):
            job = _fit_forgery(img, rng, area, [0, 90, 80], tmp, f"fl_{n}_cm{k}", size=k)
            if job:
                jobs.append(job)
    return jobs


def fit_shift_jobs(tmp: Path, seed: int = 31) -> list[dict]:
    """FIT shift: kodak24 upscaled 1.5x as in FIT large, one small (0.2-0.6 %) and one medium
    (0.6-2 %) copy moved by a plain shift (no rotation, no scaling: a clone or a pasted layer),
    saved as PNG (2 in 3) or JPEG q90; negatives: each photo as PNG, as JPEG q90, and as a
    JPEG q50 decoded and saved as PNG (identical 8x8 blocks on its grid)."""
    import io

    from PIL import Image

    rng = np.random.default_rng(seed)
    jobs: list[dict] = []
    for img, n in _large_photos(tmp, "fsh", jobs):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=50)
        p = _save(np.asarray(Image.open(buf).convert("RGB")), tmp / f"fsh_{n}_q50png.png", None)
        jobs.append({"path": str(p), "name": p.name, "label": 0})
        for k, area in enumerate(((0.002, 0.006), (0.006, 0.02))):
            try:
                out, cm, src = _blob_copy_move(img, rng, 0, 1.0, area)
            except ValueError:
                continue
            q = int(rng.choice([0, 0, 90]))
            p = _save(out, tmp / f"fsh_{n}_cm{k}.{'jpg' if q else 'png'}", q or None)
            mp = tmp / f"fsh_{n}_cm{k}_both.npy"
            np.save(mp, cm | src)
            jobs.append({"path": str(p), "name": p.name, "label": 1, "masks": {"both": str(mp)},
                         "size": k})
    return jobs


def fit_shift_report(res: list[dict]) -> None:
    pos = [r for r in res if r["label"] == 1]
    neg = [r for r in res if r["label"] == 0]
    print(f"\n### FIT shift (kodak24 upscaled 1.5x, copies moved by a plain shift): "
          f"{len(pos)} forgeries, {len(neg)} pristine\n")
    print("| copy | saved as | n | verified pair | TPR@0.5 | pixel F1@0.5 |")
    print("|---|---|---:|---:|---:|---:|")
    for k, lab in enumerate(("small 0.2-0.6 %", "medium 0.6-2 %")):
        for ext in (".png", ".jpg"):
            sub = [r for r in pos if r["size"] == k and r["name"].endswith(ext)]
            if sub:
                print(f"| {lab} | {ext[1:].upper()} | {len(sub)} | "
                      f"{_pct(np.mean([r['hit'] for r in sub]))} | "
                      f"{_pct(np.mean([r['score'] >= 0.5 for r in sub]))} | "
                      f"{np.mean([r['f1'][1] for r in sub]):.3f} |")
    for lab, sub in (("PNG", [r for r in neg if r["name"].endswith("None.png")]),
                     ("JPEG q90", [r for r in neg if r["name"].endswith(".jpg")]),
                     ("JPEG q50 saved as PNG", [r for r in neg if r["name"].endswith("q50png.png")])):
        print(f"- pristine {lab}: FPR@0.5 {_pct(np.mean([r['score'] >= 0.5 for r in sub]))} "
              f"({sum(r['score'] >= 0.5 for r in sub)}/{len(sub)})")


def fit_large_report(res: list[dict]) -> float:
    """Prints the FIT large report; returns the set's best threshold (a FIT choice)."""
    pos = [r for r in res if r["label"] == 1]
    neg = [r for r in res if r["label"] == 0]
    G = np.array([r["f1_grid"] for r in pos])
    b = int(G.mean(0).argmax())
    print(f"\n### FIT large (kodak24 upscaled 1.5x, 750 x 750): {len(pos)} forgeries, "
          f"{len(neg)} pristine\n")
    for k, lab in enumerate(("small 0.2-0.6 %", "medium 0.6-2 %", "large 2-5 %")):
        sub = [r for r in pos if r["size"] == k]
        print(f"- {lab}: verified pair on {_pct(np.mean([r['hit'] for r in sub]))}, TPR@0.5 "
              f"{_pct(np.mean([r['score'] >= 0.5 for r in sub]))}, pixel F1@0.5 "
              f"{np.mean([r['f1'][1] for r in sub]):.3f}")
    print(f"- all: TPR@0.5 {_pct(np.mean([r['score'] >= 0.5 for r in pos]))}, FPR@0.5 "
          f"{_pct(np.mean([r['score'] >= 0.5 for r in neg]))}; pixel F1 (source + copy) @0.5 "
          f"{G[:, 9].mean():.3f}, at the set's best t={GRID[b]:.2f} {G[:, b].mean():.3f}")
    return float(GRID[b])


def fit_small_report(res: list[dict]) -> None:
    pos = [r for r in res if r["label"] == 1]
    neg = [r for r in res if r["label"] == 0]
    F = np.array([r["f1"] for r in pos])
    print(f"\n### FIT small (kodak24, copies of 0.2-0.6 % per side): {len(pos)} forgeries, "
          f"{len(neg)} pristine\n")
    print(f"- copies with a verified pair on them: {_pct(np.mean([r['hit'] for r in pos]))}; "
          f"TPR@0.5 {_pct(np.mean([r['score'] >= 0.5 for r in pos]))}, FPR@0.5 "
          f"{_pct(np.mean([r['score'] >= 0.5 for r in neg]))}; pixel F1 (source + copy) at "
          f"0.15 {F[:, 0].mean():.3f}, at 0.5 {F[:, 1].mean():.3f}")


def eval_jobs(tmp: Path, seed: int = 2) -> list[dict]:
    from veriscope.synth import forgeries as F

    rng = np.random.default_rng(seed)
    files = sorted(glob.glob(str(PRISTINE / "cbsd68" / "*.png"))) + \
        sorted(glob.glob(str(PRISTINE / "mcmaster" / "*.png")))
    jobs = []
    for i, f in enumerate(files):
        img, n = _load(f), Path(f).parent.name + "_" + Path(f).stem
        for q in (None, 90):
            p = _save(img, tmp / f"ev_{n}_q{q}.{'jpg' if q else 'png'}", q)
            jobs.append({"path": str(p), "name": p.name, "label": 0, "group": f"pristine_q{q}"})
        a, s = COMBOS[i % len(COMBOS)]
        fg = None
        for _ in range(5):
            try:
                fg = F.copy_move(img, rng, angle=a, scale=s)
                break
            except ValueError:
                continue
        if fg is None:
            continue
        both, copy = tmp / f"ev_{n}_both.npy", tmp / f"ev_{n}_copy.npy"
        np.save(both, fg.mask | fg.params["source_mask"])
        np.save(copy, fg.mask)
        for q in (None, 90):
            p = _save(fg.image, tmp / f"ev_{n}_cm_q{q}.{'jpg' if q else 'png'}", q)
            jobs.append({"path": str(p), "name": p.name, "label": 1,
                         "group": f"rot{a}_scale{s}_q{q}",
                         "masks": {"both": str(both), "copy": str(copy)}})
    return jobs


def micc_jobs() -> list[dict]:
    root = SHARED / "micc-f220" / "MICC-F220"
    jobs = []
    for line in (root / "groundtruthDB_220.txt").read_text().splitlines():
        if "," not in line:
            continue
        name, lab = line.strip().split(",")
        jobs.append({"path": str(root / name), "name": name, "label": int(lab), "group": "F220"})
    for p in sorted((SHARED / "micc-f220" / "MICC-F8multi").glob("*.jpg")):
        jobs.append({"path": str(p), "name": p.name, "label": 1, "group": "F8multi"})
    return jobs


def noso_jobs() -> list[dict]:
    root = SHARED / "noso-copymove"
    jobs = []
    for p in sorted(root.glob("*.png")):
        if p.stem.endswith("_gt"):
            continue
        if "_mod" in p.stem:
            jobs.append({"path": str(p), "name": p.name, "label": 1,
                         "masks": {"gt": str(p.with_name(p.stem + "_gt.png"))}})
        else:
            jobs.append({"path": str(p), "name": p.name, "label": 0})
    return jobs


def noso_jpeg_jobs(tmp: Path) -> list[dict]:
    """NoSo re-saved as JPEG q90 (as after sharing): identical pixels are gone, so this is
    NoSo without the exact stage."""
    from PIL import Image

    jobs = []
    for j in noso_jobs():
        p = tmp / (Path(j["path"]).stem + "_q90.jpg")
        Image.open(j["path"]).convert("RGB").save(p, quality=90)
        jobs.append(dict(j, path=str(p), name=p.name))
    return jobs


def exif_jobs() -> list[dict]:
    root = SHARED / "exif-samples-camera-jpegs"
    return [{"path": str(p), "name": p.name, "label": 0}
            for p in sorted(root.rglob("*")) if p.suffix.lower() in (".jpg", ".jpeg")]


# ----------------------------------------------------------------------------- reports
def _pct(x):
    return "n/a" if x != x else f"{100 * x:.1f}%"


def image_table(title: str, res: list[dict]) -> None:
    from veriscope.core import metrics as MT

    s = np.array([r["score"] for r in res])
    y = np.array([r["label"] for r in res], bool)
    tpr, fpr = MT.rates_at(s, y, 0.5)
    auc = MT.auc(s, y)
    best = MT.tpr_at_fpr(s, y, 0.10)[0] if (~y).any() and y.any() else float("nan")
    print(f"| {title} | {y.sum()} / {(~y).sum()} | {_pct(tpr)} | {_pct(fpr)} | "
          f"{auc:.3f} | {_pct(best)} |")


def pixel_table(title: str, res: list[dict], key: str) -> None:
    pos = [r for r in res if r["label"] == 1 and f"f1_{key}" in r]
    if not pos:
        return
    F = np.array([r[f"f1_{key}"] for r in pos])
    mean_at = np.array([np.nanmean(F[:, i]) for i in range(len(GRID))])
    i05 = int(np.argmin(abs(GRID - 0.5)))
    ib = int(np.nanargmax(mean_at))
    auc = np.nanmean([r[f"auc_{key}"] for r in pos])
    print(f"| {title} | {len(pos)} | {mean_at[i05]:.3f} | {mean_at[ib]:.3f} (t={GRID[ib]:.2f}) | "
          f"{auc:.3f} |")


def bootstrap_line(title: str, res: list[dict], key: str, n: int = 2000, seed: int = 0) -> None:
    """95 % percentile intervals of F1@0.5 and of the oracle F1 (its threshold re-chosen in
    every resample), images resampled with replacement."""
    pos = [r for r in res if r["label"] == 1 and f"f1_{key}" in r]
    if len(pos) < 2:
        return
    F = np.nan_to_num(np.array([r[f"f1_{key}"] for r in pos]))
    i05 = int(np.argmin(abs(GRID - 0.5)))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(F), (n, len(F)))
    at05 = F[idx, i05].mean(axis=1)
    best = F[idx].mean(axis=1).max(axis=1)
    lo, hi = np.percentile(at05, [2.5, 97.5])
    blo, bhi = np.percentile(best, [2.5, 97.5])
    print(f"| {title} | {len(pos)} | {lo:.3f}-{hi:.3f} | {blo:.3f}-{bhi:.3f} |")


def fit_report(res: list[dict]) -> None:
    from scipy.optimize import minimize

    from veriscope.detectors.image.copy_move import core

    X = np.array([r[:3] for d in res for r in d["rows"]], float).reshape(-1, 3)
    Y = np.array([r[3] for d in res for r in d["rows"]], float)
    print("\n### FIT split (kodak24): fitted constants\n")
    print(f"{sum(d['label'] for d in res)} forgeries, {sum(1 - d['label'] for d in res)} "
          f"pristine files, {len(Y)} verified transforms ({int(Y.sum())} on the true region)\n")
    if len(Y) >= 5 and 0 < Y.sum() < len(Y):
        def nll(w):
            z = X @ w[1:] + w[0]
            return np.sum(np.logaddexp(0, z) - Y * z) + 0.01 * np.sum(w[1:] ** 2)

        w = minimize(nll, np.zeros(4)).x
        print(f"- logistic regression weights (matches, area, periodicity) normalised: "
              f"{w[1] / w[1]:.2f}, {w[2] / w[1]:.2f}, {w[3] / w[1]:.2f}; code uses "
              f"{core.EVIDENCE_WEIGHTS}")
    neg = np.sort([max([r[4] for r in d["rows"]], default=-1.0) for d in res
                   if d["label"] == 0])[::-1]
    k = int(np.floor(0.05 * len(neg)))
    e0 = float(np.ceil((neg[k] + 1e-9) * 10) / 10) if len(neg) else float("nan")
    print(f"- evidence threshold by the rule 'FIT pristine FPR <= 5 %' (above the {k + 1}th highest "
          f"of {len(neg)} pristine files, rounded up to 0.1): {e0:.1f}; code uses "
          f"{core.Params().evidence_at_half:.1f}")
    pos = np.array([max([r[4] for r in d["rows"]], default=-1.0) for d in res if d["label"] == 1])
    e = core.Params().evidence_at_half
    print(f"- at the code's threshold: FIT TPR {_pct((pos >= e).mean())}, "
          f"FIT FPR {_pct((neg >= e).mean())}")


def speed_report() -> None:
    import cv2

    from veriscope.core.media import Media
    from veriscope.detectors.base import Context
    from veriscope.detectors.image.copy_move.detector import CopyMoveDetector

    cv2.setNumThreads(1)
    src = SHARED / "exif-samples-camera-jpegs" / "hdr" / "iphone_hdr_NO.jpg"
    base = _load(src)
    print("\n### Speed (one process, cv2 single thread; decode excluded)\n")
    print("| image | wall s (median of 3) | CPU s (median of 3) | of which the exact stage, s |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as td:
        for ext, q in (("jpg", 90), ("png", None)):
            for mp in (1, 4, 12):
                s = (mp * 1e6 / (base.shape[0] * base.shape[1])) ** 0.5
                img = cv2.resize(base, (int(base.shape[1] * s), int(base.shape[0] * s)),
                                 interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
                p = _save(img, Path(td) / f"speed_{mp}.{ext}", q)
                walls, cpus, exact = [], [], []
                for _ in range(3):
                    m = Media.open(p)
                    m.rgb()
                    w0, c0 = time.perf_counter(), time.process_time()
                    ev = CopyMoveDetector().analyze(m, Context())
                    walls.append(time.perf_counter() - w0)
                    cpus.append(time.process_time() - c0)
                    exact.append(ev.data["timings_s"].get("exact", 0.0))
                print(f"| {img.shape[1]}x{img.shape[0]} ({mp} MP {ext.upper()}) | "
                      f"{np.median(walls):.2f} | {np.median(cpus):.2f} | "
                      f"{np.median(exact):.2f} |")


def _content_set(td: Path) -> list[tuple[str, Path]]:
    """Photos as users receive them (long side 1536 px, Lanczos, JPEG q85): every
    exif-samples camera photo and every kodak24 photo; and two pictures full of similar
    areas, 1536 x 1152 JPEG q85: a page of text and a 3 x 3 grid of one photo (kodim08,
    each copy with its own noise)."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    out = []
    files = sorted((SHARED / "exif-samples-camera-jpegs").rglob("*.jpg")) + \
        sorted((PRISTINE / "kodak24").glob("*.png"))
    for f in files:
        im = ImageOps.exif_transpose(Image.open(f)).convert("RGB")
        s = 1536 / max(im.size)
        im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.Resampling.LANCZOS)
        p = td / f"exp_{f.parent.name}_{f.stem}.jpg"
        im.save(p, quality=85)
        out.append(("photo", p))
    page = Image.new("RGB", (1536, 1152), "white")
    dr = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=22)
    for y in range(10, 1140, 30):
        dr.text((10, y), "the quick brown fox jumps over the lazy dog 0123456789 " * 3,
                fill=(20, 20, 20), font=font)
    page.save(td / "text_page.jpg", quality=85)
    out.append(("text page", td / "text_page.jpg"))
    rng = np.random.default_rng(0)
    t = np.asarray(Image.open(PRISTINE / "kodak24" / "kodim08.png").convert("RGB")
                   .resize((512, 384), Image.Resampling.LANCZOS), np.float32)
    grid = np.concatenate([np.concatenate([t + rng.normal(0, 2, t.shape) for _ in range(3)], 1)
                           for _ in range(3)], 0)
    Image.fromarray(np.clip(grid, 0, 255).astype(np.uint8)).save(td / "grid.jpg", quality=85)
    out.append(("3 x 3 grid of one photo", td / "grid.jpg"))
    return out


def speed_content_report(reps: int = 2) -> None:
    """Seconds per picture at one size (photos as users receive them), one thread: how
    much the time depends on the content."""
    import cv2

    from veriscope.core.media import Media
    from veriscope.detectors.base import Context
    from veriscope.detectors.image.copy_move.detector import CopyMoveDetector

    cv2.setNumThreads(1)
    det = CopyMoveDetector()
    with tempfile.TemporaryDirectory() as td:
        items = _content_set(Path(td))
        res = []
        for kind, p in items:
            m = Media.open(p)
            m.rgb()
            walls = []
            for _ in range(reps):
                w0 = time.perf_counter()
                ev = det.analyze(m, Context())
                walls.append(time.perf_counter() - w0)
            res.append((kind, p.name, min(walls), ev.data.get("work", {}).get("capped", [])))
    w = np.array([r[2] for r in res if r[0] == "photo"])
    print(f"\n### Speed by content (one thread, decode excluded, best of {reps})\n")
    print(f"{len(w)} photos (exif-samples + kodak24) resized to a long side of 1536 px, JPEG q85: "
          f"median {np.median(w):.2f} s, 90th percentile {np.percentile(w, 90):.2f} s, "
          f"max {w.max():.2f} s ({max(res, key=lambda r: r[2] if r[0] == 'photo' else 0)[1]}), "
          f"max / median {w.max() / np.median(w):.2f}")
    for kind, _name, t, capped in res:
        if kind != "photo":
            print(f"- {kind}: {t:.2f} s ({t / np.median(w):.1f} x the median photo); "
                  f"budgets reached: {', '.join(c for c in capped if c != 'keypoints') or 'none'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-fit", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--fit-only", action="store_true", help="only the FIT split report")
    ap.add_argument("--fit-small", action="store_true", help="also the FIT small-copy report")
    ap.add_argument("--fit-large", action="store_true",
                    help="also the FIT large report (kodak24 upscaled to NoSo's size)")
    ap.add_argument("--fit-shift", action="store_true",
                    help="also the FIT shift report (plain-shift copies, PNG and JPEG)")
    ap.add_argument("--param", action="append", default=[],
                    help="k=v: a _cmfd_core.Params field for the FIT runs (to compare constants)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N items per set")
    ap.add_argument("--speed-only", action="store_true",
                    help="only the speed tables (by size, and by content: photos as users "
                         "receive them and two pictures full of similar areas)")
    a = ap.parse_args(argv)
    over = dict(kv.split("=", 1) for kv in a.param)
    if not SHARED.is_dir():
        print(f"{SHARED} not found", file=sys.stderr)
        return 2
    if a.speed_only:
        speed_report()
        speed_content_report()
        return 0
    lim = (lambda j: j[: a.limit]) if a.limit else (lambda j: j)
    fit_t = None  # FIT large's best threshold, when that report runs
    t0 = time.time()
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        def with_params(jobs):
            return [dict(j, params=over) for j in lim(jobs)]

        if not a.skip_fit:
            fit_report(_run(_fit_work, with_params(fit_jobs(tmp)), a.workers))
        if a.fit_small:
            fit_small_report(_run(_fit_work, with_params(fit_small_jobs(tmp)), a.workers))
        if a.fit_shift:
            fit_shift_report(_run(_fit_work, with_params(fit_shift_jobs(tmp)), a.workers))
        if a.fit_large:
            fit_t = fit_large_report(_run(_fit_work, with_params(fit_large_jobs(tmp)), a.workers))
        if a.fit_only:
            return 0
        ev = _run(_work, lim(eval_jobs(tmp)), a.workers)
        nosoj = _run(_work, lim(noso_jpeg_jobs(tmp)), a.workers)
    micc = _run(_work, lim(micc_jobs()), a.workers)
    noso = _run(_work, lim(noso_jobs()), a.workers)
    exif = _run(_work, lim(exif_jobs()), a.workers)

    print("\n### Image level (score >= 0.5 = manipulated)\n")
    print("| set | manipulated / pristine | TPR@0.5 | FPR@0.5 | AUC | TPR at FPR<=10% (oracle) |")
    print("|---|---|---|---|---|---|")
    image_table("MICC-F220", [r for r in micc if r["group"] == "F220"])
    image_table("NoSo (18 forged / 13 originals)", noso)
    image_table("NoSo re-saved as JPEG q90", nosoj)
    image_table("EVAL synthetic, PNG", [r for r in ev if r["name"].endswith(".png")])
    image_table("EVAL synthetic, JPEG q90", [r for r in ev if r["name"].endswith(".jpg")])
    f8 = [r for r in micc if r["group"] == "F8multi"]
    if f8:
        print(f"\nMICC-F8multi (8 images with several clones): {sum(r['score'] >= 0.5 for r in f8)}"
              f"/8 flagged, {sum(r['pairs'] for r in f8)} region pairs reported in total.")
    fa = np.mean([r["score"] >= 0.5 for r in exif]) if exif else float("nan")
    evp = [r for r in ev if r["label"] == 0]
    print(f"\nFalse alarms at 0.5: exif-samples-camera-jpegs {sum(r['score'] >= 0.5 for r in exif)}"
          f"/{len(exif)} ({_pct(fa)}); pristine EVAL (PNG + JPEG q90) "
          f"{sum(r['score'] >= 0.5 for r in evp)}/{len(evp)}; MICC-F220 originals "
          f"{sum(r['score'] >= 0.5 for r in micc if r['label'] == 0)}/"
          f"{sum(1 for r in micc if r['label'] == 0)}; NoSo originals "
          f"{sum(r['score'] >= 0.5 for r in noso if r['label'] == 0)}/"
          f"{sum(1 for r in noso if r['label'] == 0)}.")

    print("\n### Pixel level (manipulated images only)\n")
    print("| set | images | F1@0.5 | F1 at dataset-best t (ORACLE) | pixel AUC |")
    print("|---|---|---|---|---|")
    pixel_table("NoSo (mask = source + copy)", noso, "gt")
    pixel_table("NoSo re-saved as JPEG q90", nosoj, "gt")
    for q, ext in (("PNG", ".png"), ("JPEG q90", ".jpg")):
        sub = [r for r in ev if r["name"].endswith(ext)]
        pixel_table(f"EVAL synthetic {q}, mask = source + copy", sub, "both")
        pixel_table(f"EVAL synthetic {q}, mask = copy only", sub, "copy")

    if fit_t is not None and not over:
        pos = [r for r in noso if r["label"] == 1 and "f1_gt" in r]
        i = int(np.argmin(abs(GRID - fit_t)))
        print(f"\nNoSo pixel F1 at the threshold chosen on FIT large (t={fit_t:.2f}, not an "
              f"oracle): {np.nanmean([r['f1_gt'][i] for r in pos]):.3f}")
    print("\nBootstrap 95 % intervals of the pixel F1 (images resampled 2000 times; the oracle's "
          "threshold is re-chosen in every resample):\n")
    print("| set | images | F1@0.5 | F1 at dataset-best t (ORACLE) |")
    print("|---|---|---|---|")
    bootstrap_line("NoSo (mask = source + copy)", noso, "gt")
    for q, ext in (("PNG", ".png"), ("JPEG q90", ".jpg")):
        bootstrap_line(f"EVAL synthetic {q}, mask = source + copy",
                       [r for r in ev if r["name"].endswith(ext)], "both")

    print("\n### EVAL synthetic: detection rate per transform (score >= 0.5)\n")
    print("| rotation | scale | PNG | JPEG q90 |\n|---|---|---|---|")
    for ang, sc in COMBOS:
        cells = []
        for q in ("None", "90"):
            sub = [r for r in ev if r["group"] == f"rot{ang}_scale{sc}_q{q}"]
            cells.append(f"{sum(r['score'] >= 0.5 for r in sub)}/{len(sub)}")
        print(f"| {ang} | {sc} | {cells[0]} | {cells[1]} |")

    rel = {}
    for r in micc + noso + exif + ev:
        rel[r["reliability"]] = rel.get(r["reliability"], 0) + 1
    print(f"\nReliability levels over all files: {rel}")
    allw = [r["wall"] for r in micc + noso + exif + ev]
    allc = [r["cpu"] for r in micc + noso + exif + ev]
    print(f"Mean seconds per file in the runs above: wall {np.mean(allw):.2f}, CPU {np.mean(allc):.2f}")
    if not a.skip_speed:
        speed_report()
        speed_content_report()
    print(f"\n(total benchmark time {time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
