"""Cross-source splices in the style of CASIA (protocol ``xsplice/1``): a held-out check of the
classic detectors and of the fused map on splices unlike the synthetic sets they were built on.

Why: the synth sets splice a region from another photo of the same collection (the same
scanner), saved as PNG or double JPEG. Public splice sets (CASIA v1/v2 and the like) paste a
region from a photo of another origin, often rescaled, sometimes with a softened edge, into a
photo of web size, and save the result once as JPEG (or TIFF). Nothing here is fitted: every
source image is EVAL-side (never used to choose a constant), the set is scored once per
detector version.

Protocol (deterministic from ``--seed``):
- sources: real camera JPEGs (exif-samples-camera-jpegs), MICC-F220 originals, and the EVAL film
  scans (cbsd68 + mcmaster); host and donor always come from two DIFFERENT sources;
- host: a window of long side at most L, L cycling through 384, 512, 640, 800 (CASIA's
  sizes; smaller photos are kept whole). A JPEG host is CROPPED at an offset that is a
  multiple of 8 in every other forgery, so its JPEG history survives into the final save (as
  in CASIA, whose composites are JPEG photos saved again), and area-DOWNSCALED in the others
  (a resized web photo: its history is gone); film scans (PNG) are always downscaled;
- donor: area-resized so its long side is s x the host's long side, s uniform in 0.8-1.25;
  a random blob region (3-12 % of the host) of the donor is pasted at a random place; in half
  of the forgeries its edge is feathered (alpha = mask blurred with a Gaussian of sigma 1.5 px);
- saved once: JPEG quality cycling through 75, 85, 90, 95, or PNG (a lossless save, as CASIA's
  TIFFs); the negatives are the same prepared hosts saved in the same way;
- ground truth: the pasted region only (as in CASIA).

``--split fit`` builds the same protocol from the FIT split only (kodak24, one scanner): the
two "sources" are the 24 photos saved once as JPEG (q85/90/95, standing in for camera JPEGs)
and the same photos as PNG; host and donor are always two different photos from the two
sources. It exists to choose fusion constants without touching the EVAL sources.

Metrics: as `benchmarks/classic.py` (veriscope.bench/1): pixel F1 at 0.5 and at the one
threshold best for the whole set (an ORACLE), pixel AUC, image AUC, TPR / FPR at 0.5; then the
fused map by save format and by host preparation.

Usage: .venv/bin/python benchmarks/classic_xsplice.py [--workers 2] [--n 60] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
VERSION = "xsplice/1"
SIZES = (384, 512, 640, 800)
QUALITIES = (75, 85, 90, 95, None)  # None = PNG
sys.path.insert(0, str(Path(__file__).resolve().parent))


def sources(split: str = "eval", work: Path | None = None) -> dict[str, list[Path]]:
    from veriscope.bench import datasets

    if split == "fit":
        from PIL import Image

        kodak = [r.media for r in datasets.load(
            f"pristine:{SHARED / 'pristine-kodak24-cbsd68-mcmaster'}")[1] if r.split == "fit"]
        (work / "src").mkdir(parents=True, exist_ok=True)
        jpegs = []
        for i, p in enumerate(sorted(kodak)):
            q = (85, 90, 95)[i % 3]
            out = work / "src" / f"{p.stem}_q{q}.jpg"
            Image.open(p).convert("RGB").save(out, quality=q)
            jpegs.append(out)
        return {"kodak-jpeg": jpegs, "kodak-png": sorted(kodak)}

    cam = [r.media for r in datasets.load(f"exif-samples:{SHARED / 'exif-samples-camera-jpegs'}")[1]]
    micc = [r.media for r in datasets.load(f"micc-f220:{SHARED / 'micc-f220'}")[1] if r.label == 0]
    scans = [r.media for r in datasets.load(f"pristine:{SHARED / 'pristine-kodak24-cbsd68-mcmaster'}")[1]
             if r.split == "eval"]
    return {"camera": sorted(cam), "micc": sorted(micc), "scans": sorted(scans)}


def _photo(p: Path) -> str:
    """The photo a file shows: FIT's JPEG copies are named <stem>_q<quality>.jpg."""
    return re.sub(r"_q\d+$", "", p.stem)


def _load(p: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(p) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _fit_long_side(img: np.ndarray, long_side: float) -> np.ndarray:
    from veriscope.signals.perturb import resize

    return resize(img, long_side / max(img.shape[:2]))[0]


def _crop8(img: np.ndarray, long_side: int, rng) -> np.ndarray:
    """A window of long side ``long_side`` (aspect kept) at an offset that is a multiple of 8."""
    h, w = img.shape[:2]
    f = long_side / max(h, w)
    ch, cw = max(8, int(h * f)) // 8 * 8, max(8, int(w * f)) // 8 * 8
    y = int(rng.integers(0, (h - ch) // 8 + 1)) * 8
    x = int(rng.integers(0, (w - cw) // 8 + 1)) * 8
    return img[y:y + ch, x:x + cw]


def make_one(host: np.ndarray, donor: np.ndarray, rng, feather: bool):
    """(forged image, mask of the pasted region) or None when the region does not fit."""
    import cv2

    from veriscope.synth import forgeries as F

    h, w = host.shape[:2]
    d = _fit_long_side(donor, max(h, w) * rng.uniform(0.8, 1.25))
    dh, dw = d.shape[:2]
    m = F._blob_mask(min(h, dh), min(w, dw), rng, area=(0.03, 0.12))
    y0, y1, x0, x1 = F._bbox(m)
    pos = F._place(m, h, w, rng)
    if pos is None:
        return None
    ty, tx = pos
    region = m[y0:y1, x0:x1]
    alpha = region.astype(np.float32)
    if feather:
        alpha = cv2.GaussianBlur(alpha, (0, 0), 1.5)
    out = host.astype(np.float32)
    tile = out[ty:ty + y1 - y0, tx:tx + x1 - x0]
    tile[:] = alpha[..., None] * d[y0:y1, x0:x1] + (1 - alpha[..., None]) * tile
    mask = np.zeros((h, w), bool)
    mask[ty:ty + y1 - y0, tx:tx + x1 - x0] = region
    return np.clip(np.round(out), 0, 255).astype(np.uint8), mask


def build(out_dir: Path, n: int, seed: int, split: str = "eval"):
    """Write the set (reused when already built with the same settings); the records."""
    from PIL import Image

    from veriscope.bench.datasets import Record

    settings = {"version": VERSION, "split": split, "n": n, "seed": seed, "sizes": SIZES,
                "qualities": [q or 0 for q in QUALITIES]}
    man = out_dir / "manifest.json"
    if not (man.exists() and json.loads(man.read_text()).get("settings") == settings):
        out_dir.mkdir(parents=True, exist_ok=True)
        src = sources(split, out_dir)
        names = sorted(src)
        rng = np.random.default_rng(seed)
        rows, made, tries = [], 0, 0
        while made < n and tries < 20 * n:
            tries += 1
            hs = names[made % len(names)]
            ds = names[(made + 1 + int(rng.integers(0, len(names) - 1))) % len(names)]
            if ds == hs:
                continue
            hp = src[hs][int(rng.integers(0, len(src[hs])))]
            dp = src[ds][int(rng.integers(0, len(src[ds])))]
            if _photo(hp) == _photo(dp):
                continue  # the same photo in two formats (FIT split)
            host = _load(hp)
            long_side = SIZES[made % len(SIZES)]
            prep = "whole"
            if max(host.shape[:2]) > long_side:
                crop = hp.suffix.lower() in (".jpg", ".jpeg") and (made // len(QUALITIES)) % 2 == 0
                host = _crop8(host, long_side, rng) if crop else _fit_long_side(host, long_side)
                prep = "crop8" if crop else "resized"
            feather = bool(made % 2)
            got = make_one(host, _load(dp), rng, feather)
            if got is None:
                continue
            img, mask = got
            q = QUALITIES[made % len(QUALITIES)]
            fmt = f"q{q}" if q else "png"
            for label, arr in ((1, img), (0, host)):
                name = f"{'xs' if label else 'host'}_{made:03d}_{fmt}.{'jpg' if q else 'png'}"
                kw = {"quality": q, "subsampling": 2} if q else {}
                Image.fromarray(arr).save(out_dir / name, **kw)
                mname = None
                if label:
                    mname = f"xs_{made:03d}_mask.png"
                    Image.fromarray(mask.astype(np.uint8) * 255).save(out_dir / mname)
                rows.append({"file": name, "label": label, "mask": mname, "format": fmt,
                             "meta": {"prep": prep, "host": f"{hs}/{hp.name}", "donor": f"{ds}/{dp.name}",
                                      "size": list(host.shape[:2]), "feather": feather,
                                      "mask_share": round(float(mask.mean()), 4)}})
            made += 1
        man.write_text(json.dumps({"settings": settings, "records": rows}, indent=1))
    rows = json.loads(man.read_text())["records"]
    return [Record(out_dir / r["file"], r["label"], out_dir / r["mask"] if r["mask"] else None,
                   kind=r["format"], group=r["file"].split("_")[1], meta=r["meta"]) for r in rows]


def main(argv=None) -> int:
    from classic import CLASSIC, available, table

    from veriscope.bench import Benchmark, cache_root
    from veriscope.core import registry

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=80, help="forgeries (and as many negatives)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--split", choices=("eval", "fit"), default="eval")
    ap.add_argument("--map-rule", default=None,
                    help="override veriscope.core.fusion.MAP_RULE (to compare rules on --split fit)")
    ap.add_argument("--out", default=str(REPO / "bench-out" / "xsplice"))
    a = ap.parse_args(argv)
    if a.map_rule:
        from veriscope.core import fusion

        fusion.MAP_RULE = a.map_rule
    if not SHARED.is_dir():
        print(f"{SHARED} not found", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    recs = build(cache_root() / f"xsplice-{a.split}", a.n, a.seed, a.split)
    dets = available(CLASSIC)
    lines = [f"# Cross-source splices ({VERSION}, {a.split.upper()} split, seed {a.seed}"
             f"{', map rule ' + a.map_rule if a.map_rule else ''})", "",
             f"Detectors: {', '.join(d + ' ' + registry.load(d).version for d in dets)}; "
             "fused = veriscope.core.fusion over them.", ""]
    b = Benchmark((f"xsplice-{a.split}", recs), dets, workers=a.workers)
    res = b.run()
    Benchmark.write(res, Path(a.out) / "all")
    lines += table(f"xsplice-{a.split}", res)
    lines += ["### fused by save format and by host preparation", "",
              "| group | forged / negatives | pixel_f1@0.5 | pixel_auc | image_auc | tpr@0.5 | fpr@0.5 |",
              "|---|---|---:|---:|---:|---:|---:|"]
    groups = [(fmt, lambda r, f=fmt: r.kind == f) for fmt in
              [f"q{q}" if q else "png" for q in QUALITIES]]
    groups += [(f"host {p}", lambda r, p=p: r.meta["prep"] == p)
               for p in ("crop8", "resized", "whole")]
    for gname, sel in groups:
        sub = [r for r in recs if sel(r)]
        npos = sum(x.label for x in sub)
        if npos == 0 or npos == len(sub):
            continue
        # every detector output is cached by the run above: score in this process
        r = Benchmark((f"xsplice-{gname}", sub), dets, workers=1).run()["metrics"]
        lines.append(f"| {gname} | {npos} / {len(sub) - npos} | " + " | ".join(
            f"{r.get('fused/' + c, float('nan')):.3f}"
            for c in ("pixel_f1@0.5", "pixel_auc", "image_auc", "tpr@0.5", "fpr@0.5")) + " |")
    lines += ["", f"_{time.perf_counter() - t0:.0f} s_", ""]
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "xsplice.md").write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
