"""Measurements for the noise, splicebuster and cfa detectors (docs/detectors/{noise,splicebuster,cfa}.md).

Protocol (fixed seeds; nothing here is tuned: the detectors' constants were fitted on the
FIT split, kodak24, before this script was run on the EVAL sets):

* Synthesized forgeries from the EVAL pristine split (cbsd68 + mcmaster, 86 photos), one of
  each kind per host, donor = a different photo of the split:
  splice, splice_noise (donor region + Gaussian noise sigma U(2, 4), independent per RGB
  channel), splice_noise_mono (same noise on all three channels), splice_blur (donor
  Gaussian-blurred, sigma U(0.8, 1.5)), removal (OpenCV Telea inpainting), copy_move.
  Negatives for image AUC: the 86 pristine photos.
* CFA set: the same photos Bayer-mosaiced (random layout, raw noise sigma U(0.5, 2)) and
  demosaiced by OpenCV (bilinear, VNG or edge-aware at random); forgeries: splice of a
  non-demosaiced photo (cfa_splice_raw), splice of another demosaiced photo shifted by one
  pixel (cfa_splice_shift), removal, copy_move, resample; negatives: the demosaiced photos.
* NoSo copy-move (18 forged with masks, 13 originals), MICC-F220 (image level only).
* False alarms (score >= 0.5) on the 86 pristine EVAL photos, on JPEG q90 copies of them,
  and on the 30 camera JPEGs of exif-samples-camera-jpegs.

Pixel F1 is the plain F1 of map >= t (veriscope.core.metrics); pixel AUC is averaged over the
manipulated images that got a map; "F1@best" uses one dataset-wide threshold chosen on the
evaluated set itself: an oracle, not a deployable number.

Usage: .venv/bin/python benchmarks/classic_noise.py [--quick] [--no-micc] [--timing]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from veriscope.core import metrics as M
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.image.cfa import CFADetector, mosaic_demosaic
from veriscope.detectors.image.noise import NoiseDetector
from veriscope.detectors.image.splicebuster import SplicebusterDetector
from veriscope.synth import forgeries as F

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
PRISTINE = SHARED / "pristine-kodak24-cbsd68-mcmaster"
DETECTORS = [NoiseDetector(), SplicebusterDetector(), CFADetector()]
KINDS = ("splice", "splice_noise", "splice_noise_mono", "splice_blur", "removal", "copy_move")
CFA_KINDS = ("cfa_splice_raw", "cfa_splice_shift", "cfa_removal", "cfa_copy_move", "cfa_resample")


def load_split(split: str) -> list[np.ndarray]:
    subs = ["kodak24"] if split == "fit" else ["cbsd68", "mcmaster"]
    files = sorted(p for s in subs for p in (PRISTINE / s).glob("*.png"))
    return [np.asarray(Image.open(p).convert("RGB")) for p in files]


def add_noise(img, mask, rng, sigma, mono=False):
    shape = img.shape[:2] + ((1,) if mono else (3,))
    n = rng.normal(0, sigma, shape).astype(np.float32) * mask[..., None]
    return np.clip(np.rint(img.astype(np.float32) + n), 0, 255).astype(np.uint8)


def synth(imgs, rng, kinds=KINDS):
    import cv2

    out = []
    n = len(imgs)
    for i, host in enumerate(imgs):
        for k in kinds:
            donor = imgs[(i + 1 + int(rng.integers(0, n - 1))) % n]
            try:
                if k == "splice":
                    f = F.splice(host, donor, rng)
                elif k in ("splice_noise", "splice_noise_mono"):
                    f = F.splice(host, donor, rng)
                    f.image = add_noise(f.image, f.mask, rng, rng.uniform(2, 4),
                                        k.endswith("mono"))
                elif k == "splice_blur":
                    f = F.splice(host, cv2.GaussianBlur(donor, (0, 0), rng.uniform(0.8, 1.5)), rng)
                elif k == "removal":
                    f = F.removal(host, rng)
                else:
                    f = F.copy_move(host, rng)
            except ValueError:
                continue
            out.append((k, f.image, f.mask))
    return out


def synth_cfa(imgs, rng):
    pats, algos = ["RGGB", "GRBG", "GBRG", "BGGR"], ["bilinear", "vng", "ea"]

    def cfa(x):
        return mosaic_demosaic(x, pats[int(rng.integers(4))], algos[int(rng.integers(3))],
                               float(rng.uniform(0.5, 2)), rng)

    forg, neg = [], []
    n = len(imgs)
    for i, host in enumerate(imgs):
        hc = cfa(host)
        neg.append(hc)
        donor = imgs[(i + 1 + int(rng.integers(0, n - 1))) % n]
        try:
            f = F.splice(hc, donor, rng)
            forg.append(("cfa_splice_raw", f.image, f.mask))
            dc = cfa(donor)
            dy, dx = [(0, 1), (1, 0), (1, 1)][int(rng.integers(3))]
            f = F.splice(hc, dc[dy:, dx:], rng)
            forg.append(("cfa_splice_shift", f.image, f.mask))
            f = F.removal(hc, rng)
            forg.append(("cfa_removal", f.image, f.mask))
            f = F.copy_move(hc, rng)
            forg.append(("cfa_copy_move", f.image, f.mask))
            f = F.resample(hc, rng)
            forg.append(("cfa_resample", f.image, f.mask))
        except ValueError:
            continue
    return forg, neg


class Runner:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.n = 0

    def file(self, img: np.ndarray, jpeg_q: int | None = None) -> Path:
        self.n += 1
        if jpeg_q:
            p = self.tmp / f"{self.n}.jpg"
            Image.fromarray(img).save(p, quality=jpeg_q)
        else:
            p = self.tmp / f"{self.n}.png"
            Image.fromarray(img).save(p, compress_level=1)
        return p

    def run(self, path: Path) -> dict:
        """{detector name: (score or None, heatmap or None, reliability level)}"""
        m = Media.open(path)
        out = {}
        for d in DETECTORS:
            ev = d.analyze(m, Context())
            if not ev.applicable:
                out[d.name] = (None, None, None)
                continue
            rel = (ev.data.get("reliability") or {}).get("level")
            out[d.name] = (ev.score, ev.heatmap, rel)
        path.unlink(missing_ok=True)
        return out


def _fit(hm, shape):
    import cv2

    if hm is None:
        return None
    if hm.shape != shape:
        hm = cv2.resize(hm, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return hm


def pixel_rows(results, masks, name):
    maps, ms = [], []
    for r, m in zip(results, masks, strict=True):
        hm = _fit(r[name][1], m.shape)
        if hm is not None:
            maps.append(hm)
            ms.append(m)
    if not maps:
        return None
    f05 = M.mean_f1_at(maps, ms, 0.5)
    tb, fb = M.dataset_best_threshold(maps, ms)
    pa = float(np.nanmean([M.pixel_auc(h, m) for h, m in zip(maps, ms, strict=True)]))
    return {"n_maps": len(maps), "f1@0.5": f05, "f1@best": fb, "t_best": tb, "pixel_auc": pa}


def image_auc(pos, neg, name):
    s1 = [r[name][0] for r in pos if r[name][0] is not None]
    s0 = [r[name][0] for r in neg if r[name][0] is not None]
    if not s1 or not s0:
        return float("nan"), len(s1), len(s0)
    return M.auc(s1 + s0, [1] * len(s1) + [0] * len(s0)), len(s1), len(s0)


def fpr(results, name):
    s = [r[name][0] for r in results if r[name][0] is not None]
    if not s:
        return float("nan"), 0
    return float(np.mean(np.asarray(s) >= 0.5)), len(s)


def fmt(x, nd=3):
    return "n/a" if x is None or x != x else f"{x:.{nd}f}"


def table_pixel(title, groups, negs, names):
    lines = [f"### {title}", "",
             "| detector | kind | n | maps | F1@0.5 | F1@best (oracle t) | pixel AUC | image AUC | TPR@0.5 |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in names:
        for kind, (res, masks) in groups.items():
            pr = pixel_rows(res, masks, name)
            ia, n1, _ = image_auc(res, negs, name)
            s1 = [r[name][0] for r in res if r[name][0] is not None]
            tpr = float(np.mean(np.asarray(s1) >= 0.5)) if s1 else float("nan")
            if pr is None:
                lines.append(f"| {name} | {kind} | {len(res)} | 0 | n/a | n/a | n/a | {fmt(ia)} | "
                             f"{fmt(tpr, 2)} |")
            else:
                lines.append(f"| {name} | {kind} | {len(res)} | {pr['n_maps']} | {fmt(pr['f1@0.5'])} "
                             f"| {fmt(pr['f1@best'])} ({pr['t_best']:.2f}) | {fmt(pr['pixel_auc'])} "
                             f"| {fmt(ia)} | {fmt(tpr, 2)} |")
    return lines + [""]


def timing_section() -> list[str]:
    import cv2

    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    base = load_split("eval")[0]
    lines = ["### Seconds per image (one thread, decoded image cached, median of 3)", "",
             "| detector | 1 MP | 4 MP | 12 MP |", "|---|---:|---:|---:|"]
    rows = {d.name: [] for d in DETECTORS}
    with tempfile.TemporaryDirectory() as td:
        for mp in (1, 4, 12):
            w = int((mp * 1e6 * 4 / 3) ** 0.5)
            h = int(w * 3 / 4)
            big = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
            big = np.clip(big + rng.normal(0, 2, big.shape), 0, 255).astype(np.uint8)
            p = Path(td) / f"{mp}.jpg"
            Image.fromarray(big).save(p, quality=92)
            m = Media.open(p)
            m.rgb()
            for d in DETECTORS:
                ts = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    d.analyze(m, Context())
                    ts.append(time.perf_counter() - t0)
                rows[d.name].append(float(np.median(ts)))
    for name, v in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{x:.3f}" for x in v) + " |")
    return lines + [""]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="first 20 EVAL hosts only")
    ap.add_argument("--no-micc", action="store_true")
    ap.add_argument("--timing", action="store_true", help="also time 1/4/12 MP images")
    ap.add_argument("--split", default="eval", choices=["eval", "fit"])
    args = ap.parse_args()
    names = [d.name for d in DETECTORS]
    t_start = time.time()
    imgs = load_split(args.split)
    if args.quick:
        imgs = imgs[:20]
    out = [f"## Noise / Splicebuster / CFA on the {args.split.upper()} split", ""]
    with tempfile.TemporaryDirectory() as td:
        R = Runner(Path(td))
        rng = np.random.default_rng(2024)
        pristine = [R.run(R.file(x)) for x in imgs]
        pristine_jpeg = [R.run(R.file(x, 90)) for x in imgs]
        groups = {}
        for k, img, mask in synth(imgs, rng):
            groups.setdefault(k, ([], []))
            groups[k][0].append(R.run(R.file(img)))
            groups[k][1].append(mask)
        out += table_pixel(f"Synthesized forgeries ({args.split}: "
                           f"{'kodak24' if args.split == 'fit' else 'cbsd68 + mcmaster'}, "
                           f"{len(imgs)} hosts; image AUC against the {len(imgs)} pristine photos)",
                           groups, pristine, names)
        cforg, cneg = synth_cfa(imgs, np.random.default_rng(7))
        cneg_res = [R.run(R.file(x)) for x in cneg]
        cneg_jpeg = [R.run(R.file(x, 95)) for x in cneg]
        cgroups = {}
        for k, img, mask in cforg:
            cgroups.setdefault(k, ([], []))
            cgroups[k][0].append(R.run(R.file(img)))
            cgroups[k][1].append(mask)
        out += table_pixel("Bayer-mosaiced + OpenCV-demosaiced photos with forgeries (image AUC "
                           "against the demosaiced pristine photos)", cgroups, cneg_res, names)
        cov = [f"CFA coverage: traces found (score given) on {sum(r['cfa'][0] is not None for r in cneg_res)}"
               f"/{len(cneg_res)} demosaiced PNGs, {sum(r['cfa'][0] is not None for r in cneg_jpeg)}"
               f"/{len(cneg_jpeg)} of their JPEG q95 copies, "
               f"{sum(r['cfa'][0] is not None for r in pristine)}/{len(pristine)} of the original "
               "photos of the split (film scans / JPEG-origin / resampled: no traces "
               "expected).", ""]
        out += cov
        # NoSo
        noso = SHARED / "noso-copymove"
        ngroups, nneg = {"noso_copy_move": ([], [])}, []
        if noso.is_dir():
            for p in sorted(noso.glob("*.png")):
                if p.stem.endswith("_gt"):
                    continue
                if "_mod" in p.stem:
                    gt = p.with_name(p.stem + "_gt.png")
                    m = np.asarray(Image.open(gt).convert("L")) > 127
                    ngroups["noso_copy_move"][0].append(_run_keep(R, p))
                    ngroups["noso_copy_move"][1].append(m)
                else:
                    nneg.append(_run_keep(R, p))
            out += table_pixel("NoSo copy-move (18 forged vs 13 originals; PNG)", ngroups, nneg,
                               names)
        # MICC-F220
        micc = SHARED / "micc-f220" / "MICC-F220"
        if micc.is_dir() and not args.no_micc:
            labels = {}
            for line in (micc / "groundtruthDB_220.txt").read_text(errors="replace").splitlines():
                parts = [x.strip() for x in line.replace("\t", ",").split(",") if x.strip()]
                if len(parts) >= 2:
                    labels[parts[0]] = parts[1] == "1"
            pos, neg = [], []
            for fn, lab in sorted(labels.items()):
                p = micc / fn
                if p.exists():
                    (pos if lab else neg).append(_run_keep(R, p))
            out += ["### MICC-F220 copy-move (image level only; JPEG)", "",
                    "| detector | image AUC | TPR@0.5 | FPR@0.5 | scored |", "|---|---:|---:|---:|---:|"]
            for name in names:
                ia, n1, n0 = image_auc(pos, neg, name)
                tp, _ = fpr(pos, name)
                fp, _ = fpr(neg, name)
                out.append(f"| {name} | {fmt(ia)} | {fmt(tp, 2)} | {fmt(fp, 2)} | {n1 + n0}/{len(pos) + len(neg)} |")
            out.append("")
        # false alarms
        cams = sorted((SHARED / "exif-samples-camera-jpegs").rglob("*.jpg"))
        cam_res = [_run_keep(R, p) for p in cams]
        out += ["### False alarms (share of images with score >= 0.5; scored/total)", "",
                "| detector | pristine photos (PNG) | same as JPEG q90 | demosaiced PNG | demosaiced JPEG q95 | camera JPEGs |",
                "|---|---:|---:|---:|---:|---:|"]
        for name in names:
            cells = []
            for res in (pristine, pristine_jpeg, cneg_res, cneg_jpeg, cam_res):
                v, n = fpr(res, name)
                cells.append(f"{fmt(v, 3)} ({n}/{len(res)})")
            out.append(f"| {name} | " + " | ".join(cells) + " |")
        out.append("")
        rel = {}
        for r in cam_res:
            for name in names:
                rel.setdefault(name, {}).setdefault(r[name][2], 0)
                rel[name][r[name][2]] += 1
        out += ["Reliability levels given on the camera JPEGs: " +
                "; ".join(f"{k}: {v}" for k, v in rel.items()), ""]
    if args.timing:
        out += timing_section()
    out.append(f"_Run time: {time.time() - t_start:.0f} s._")
    print("\n".join(out))


def _run_keep(R: Runner, p: Path) -> dict:
    """Run on a file that must not be deleted (shared data)."""
    m = Media.open(p)
    out = {}
    for d in DETECTORS:
        ev = d.analyze(m, Context())
        if not ev.applicable:
            out[d.name] = (None, None, None)
            continue
        out[d.name] = (ev.score, ev.heatmap, (ev.data.get("reliability") or {}).get("level"))
    return out


if __name__ == "__main__":
    main()
