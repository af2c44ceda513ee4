"""Foundation figures for docs/benchmarks.md (issue 2).

1. Verdicts of the default detectors on every image set in ../shared/data
   (ComfyUI outputs must all be `synthetic` naming their model; real camera
   JPEGs must never be `synthetic`; everything else: no crash, distribution).
2. Speed: time of the default detectors per image vs the time to decode the
   same file (Media.open + RGB decode), for a generated 12-megapixel JPEG and for
   the shared sets. Times are medians measured in this one run.

Usage: .venv/bin/python benchmarks/foundation.py [--out bench-out]
"""

from __future__ import annotations

import argparse
import collections
import csv
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from veriscope.core import registry
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.pipeline.runner import analyze_media

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
IMAGE_SETS = ["comfyui-generated-with-metadata", "exif-samples-camera-jpegs", "micc-f220",
              "noso-copymove", "pristine-kodak24-cbsd68-mcmaster"]
EXTS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}


def images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTS)


def decode_time(path: Path) -> float:
    t0 = time.perf_counter()
    Media.open(path).rgb()
    return time.perf_counter() - t0


def analyze_time(path: Path, classes) -> tuple[float, dict]:
    m = Media.open(path)
    m.rgb()  # decode outside the timed region: the ratio is detectors / decode
    t0 = time.perf_counter()
    rep = analyze_media(m, classes, Context())
    return time.perf_counter() - t0, {e.name: e.elapsed_s for e in rep.evidence}


def make_12mp_jpeg(path: Path) -> Path:
    from skimage import data

    rng = np.random.default_rng(0)
    base = Image.fromarray(data.astronaut()).resize((4000, 3000), Image.Resampling.BICUBIC)
    arr = np.asarray(base, np.float32) + rng.normal(0, 2.0, (3000, 4000, 3))
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def verdict_section(classes) -> list[str]:
    lines = ["## Verdicts of the default detectors on the shared image sets", "",
             f"Detectors: {', '.join(c.name + ' ' + c.version for c in classes)}.", ""]
    lines += ["| set | images | no_evidence | manipulated | synthetic | inconclusive | errors |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    details: dict[str, list] = {}
    for s in IMAGE_SETS:
        folder = SHARED / s
        if not folder.is_dir():
            continue
        counts, errs, rows = collections.Counter(), 0, []
        for p in images(folder):
            try:
                rep = analyze_media(Media.open(p), classes, Context())
            except Exception as e:  # noqa: BLE001 - a crash is a result here
                errs += 1
                rows.append((p, None, str(e)))
                continue
            counts[rep.verdict.label] += 1
            rows.append((p, rep, None))
        details[s] = rows
        n = sum(counts.values()) + errs
        lines.append(f"| {s} | {n} | {counts['no_evidence']} | {counts['manipulated']} | "
                     f"{counts['synthetic']} | {counts['inconclusive']} | {errs} |")
    lines.append("")

    if "comfyui-generated-with-metadata" in details:
        lab = {}
        with open(SHARED / "comfyui-generated-with-metadata" / "labels.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                lab[row.get("file") or next(iter(row.values()))] = row
        lines += ["### ComfyUI outputs: generator and model named by the metadata detector", "",
                  "| file | verdict | band | models named |", "|---|---|---|---|"]
        for p, rep, err in details["comfyui-generated-with-metadata"]:
            if rep is None:
                lines.append(f"| {p.name} | error: {err} | | |")
                continue
            md = rep.get("metadata")
            gen = (md.data.get("generator") or {}) if md else {}
            models = ", ".join(gen.get("models", []))
            lines.append(f"| {p.name} | {rep.verdict.label} | {rep.verdict.band} | {models} |")
        lines.append("")

    if "exif-samples-camera-jpegs" in details:
        lines += ["### Real camera JPEGs: verdict and findings (codes, severity)", "",
                  "| file | verdict | score | findings above info |", "|---|---|---:|---|"]
        for p, rep, err in details["exif-samples-camera-jpegs"]:
            if rep is None:
                lines.append(f"| {p.parent.name}/{p.name} | error: {err} | | |")
                continue
            fs = [f"{e.name}:{f.code} ({f.severity})" for e in rep.evidence for f in e.findings
                  if f.severity != "info"]
            sc = "" if rep.verdict.score is None else f"{rep.verdict.score:.2f}"
            lines.append(f"| {p.parent.name}/{p.name} | {rep.verdict.label} | {sc} | "
                         f"{'; '.join(fs) or '-'} |")
        lines.append("")
    return lines


def speed_section(classes, tmp: Path, per_set: int = 20) -> list[str]:
    lines = ["## Speed: default detectors vs decoding the same file", "",
             f"Default set: {', '.join(c.name for c in classes)}.", "",
             "Median seconds per image in one run on this machine (2 cores); ratio = detectors / "
             "decode. Decode = Media.open + full RGB decode.", "",
             "| input | images | decode s | detectors s | ratio | slowest detector (median s) |",
             "|---|---:|---:|---:|---:|---|"]
    big = make_12mp_jpeg(tmp / "synthetic_12mp.jpg")
    cases = [("12 MP JPEG (generated, q90)", [big] * 3)]
    for s in IMAGE_SETS:
        if (SHARED / s).is_dir():
            cases.append((s, images(SHARED / s)[:per_set]))
    for label, paths in cases:
        dec, ana, per = [], [], collections.defaultdict(list)
        for p in paths:
            dec.append(decode_time(p))
            t, d = analyze_time(p, classes)
            ana.append(t)
            for k, v in d.items():
                if v is not None:
                    per[k].append(v)
        md, ma = statistics.median(dec), statistics.median(ana)
        slow = max(per, key=lambda k: statistics.median(per[k])) if per else "-"
        slow_t = statistics.median(per[slow]) if per else 0
        lines.append(f"| {label} | {len(paths)} | {md:.3f} | {ma:.3f} | {ma / md:.2f} | "
                     f"{slow} ({slow_t:.3f}) |")
    lines.append("")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "bench-out"))
    ap.add_argument("--verdict-detectors", default="metadata,c2pa,watermark,jpeg_tables",
                    help="detectors for the verdict section ('default' = the default set)")
    ap.add_argument("--speed-per-set", type=int, default=20, help="images per shared set for speed")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    classes = registry.select(None)
    vd = registry.select(None if args.verdict_detectors == "default" else args.verdict_detectors)
    lines = ["# Foundation (issue 2) figures", ""]
    lines += verdict_section(vd)
    lines += speed_section(classes, out, args.speed_per_set)
    text = "\n".join(lines) + "\n"
    (out / "foundation.md").write_text(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
