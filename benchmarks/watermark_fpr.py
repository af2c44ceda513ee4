#!/usr/bin/env python
"""False- and true-positive statistics of the `watermark` detector on real photos.

Run:  .venv/bin/python benchmarks/watermark_fpr.py [--ref-python /tmp/wmref/bin/python]

Real photos (none carries a watermark), read in place from ../shared/data:
  pristine-kodak24-cbsd68-mcmaster (all 110), exif-samples-camera-jpegs (all 30),
  micc-f220 originals (the 110 with label 0 in groundtruthDB_220.txt), noso-copymove originals
  (the 13 files NN.png).

FPR: every decoding test of every payload on every photo; reports the bit-accuracy distribution,
its maximum and how many photos reach the detection threshold.

TPR: each photo is used as a cover. Each known payload is embedded the way its pipeline does it
(SD 1.x/2.x: uint8 BGR dwtDct; SDXL: float32 BGR as in generative-models and float32 RGB as in
diffusers < 0.27), plus dwtDctSvd on uint8 for every payload, once with this project's encoder and
once with the reference `invisible-watermark` package when it is available (importable here, or
through --ref-python, an interpreter of a separate venv that has it). Each marked image is decoded
clean (lossless), after a JPEG re-save at quality 90 and 75 (Pillow, 4:2:0), and after a 0.5x
bicubic resize. "Detected" uses the detector's rule: any test of that payload reaches its threshold.

Side check (separate tables): the AI-generated PNGs of comfyui-generated-with-metadata (ComfyUI
does not embed this watermark) as further unmarked negatives, and as covers for the same TPR
test, since Stable Diffusion outputs are closer to them than to camera photos.

Prints Markdown tables. --limit N keeps N photos per dataset for a quick run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

CONDITIONS = ("clean", "jpeg90", "jpeg75", "resize50")

# Pipeline simulation for the reference encoder, run in the reference interpreter.
# (imwatermark's package __init__ imports its rivaGan module, which needs torch; the classical
# methods do not, so that one module is replaced by a stub.)
REF_HELPER = r'''
import json, sys, types
import numpy as np
stub = types.ModuleType("imwatermark.rivaGan")
class RivaWatermark:
    def __init__(self, *a, **k):
        raise RuntimeError("rivaGan is not available in this helper")
    @classmethod
    def loadModel(cls):
        raise RuntimeError("rivaGan is not available in this helper")
stub.RivaWatermark = RivaWatermark
sys.modules["imwatermark.rivaGan"] = stub
from imwatermark import WatermarkEncoder

for job in json.load(open(sys.argv[1])):
    rgb = np.load(job["in"])
    enc = WatermarkEncoder()
    if job["bytes_hex"]:
        enc.set_watermark("bytes", bytes.fromhex(job["bytes_hex"]))
    else:
        enc.set_watermark("bits", job["bits"])
    r, m = job["reading"], job["method"]
    if r == "u8_bgr":
        out = enc.encode(np.ascontiguousarray(rgb[:, :, ::-1]), m)[:, :, ::-1]
    elif r == "f32_bgr":
        out = enc.encode(np.ascontiguousarray(rgb[:, :, ::-1]).astype(np.float32), m)[:, :, ::-1]
        x = np.clip(out / np.float32(255), 0, 1).astype(np.float32)
        out = (np.float32(255.0) * x).astype(np.uint8)
    elif r == "f32_rgb":
        out = enc.encode(rgb.astype(np.float32), m)
        x = np.clip(out / np.float32(255), 0, 1).astype(np.float32)
        out = np.round(x * np.float32(255)).astype(np.uint8)
    else:
        raise ValueError(r)
    np.save(job["out"], np.ascontiguousarray(out, dtype=np.uint8))
'''


def real_photos(shared: Path, limit: int | None) -> list[tuple[str, Path]]:
    sets: dict[str, list[Path]] = {}
    d = shared / "pristine-kodak24-cbsd68-mcmaster"
    sets["pristine-kodak24-cbsd68-mcmaster"] = sorted(d.glob("*/*.png"))
    d = shared / "exif-samples-camera-jpegs"
    sets["exif-samples-camera-jpegs"] = sorted(p for p in d.rglob("*") if p.suffix.lower() in
                                               (".jpg", ".jpeg"))
    d = shared / "micc-f220" / "MICC-F220"
    gt = (d / "groundtruthDB_220.txt").read_text().split()
    originals = [line.split(",")[0] for line in gt if line.strip().endswith(",0")]
    sets["micc-f220 (originals)"] = sorted(d / n for n in originals)
    d = shared / "noso-copymove"
    sets["noso-copymove (originals)"] = sorted(p for p in d.glob("*.png") if p.stem.isdigit())
    out = []
    for name, paths in sets.items():
        for p in paths[:limit] if limit else paths:
            out.append((name, p))
    return out


def ai_images(shared: Path, limit: int | None) -> list[tuple[str, Path]]:
    d = shared / "comfyui-generated-with-metadata"
    paths = sorted(d.glob("*.png"))
    return [("comfyui-generated (AI, unmarked)", p) for p in (paths[:limit] if limit else paths)]


def embed_configs():
    """(payload key, method, reading) of every simulated pipeline."""
    from veriscope.detectors.provenance.watermark import dwtdct as W

    cfgs = []
    for p in W.PAYLOADS:
        cfgs += [(p.key, p.method, r) for r in p.readings]
    for p in W.PAYLOADS:
        for m in W.METHODS:
            if m != p.method:
                cfgs.append((p.key, m, "u8_bgr"))
    return cfgs


def load_rgb(path: Path) -> np.ndarray:
    from veriscope.core.media import Media

    return np.asarray(Media.open(path).rgb())


def transform(rgb: np.ndarray, cond: str) -> np.ndarray:
    from PIL import Image

    if cond == "clean":
        return rgb
    im = Image.fromarray(rgb)
    if cond.startswith("jpeg"):
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=int(cond[4:]))
        buf.seek(0)
        return np.asarray(Image.open(buf).convert("RGB"))
    if cond == "resize50":
        w, h = im.size
        return np.asarray(im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BICUBIC))
    raise ValueError(cond)


def detected_payloads(scored: dict) -> dict[str, float]:
    """payload key -> best accuracy over its tests, plus the set that reached threshold."""
    best: dict[str, float] = {}
    hit: set[str] = set()
    for r in scored["results"]:
        best[r["payload"]] = max(best.get(r["payload"], 0.0), r["accuracy"])
        if r["detected"]:
            hit.add(r["payload"])
    return {"best": best, "hit": sorted(hit)}


def work(item):
    """One photo: FPR tests on the original, then TPR for every config/encoder/condition."""
    idx, group, dataset, path, ref_dir, do_tpr = item
    from veriscope.detectors.provenance.watermark import dwtdct as W

    t0 = time.time()
    rgb = load_rgb(Path(path))
    scored = W.score_image(rgb)
    res = {"dataset": dataset, "group": group, "path": str(path), "shape": list(rgb.shape[:2]),
           "fpr": scored["results"], "skipped": scored["skipped"], "tpr": []}
    if do_tpr:
        by_key = {p.key: p for p in W.PAYLOADS}
        for key, method, reading in embed_configs():
            marked_by = {"veriscope": W.embed_like(rgb, by_key[key], reading, method)}
            if ref_dir:
                marked_by["reference"] = np.load(
                    Path(ref_dir) / f"ref_{idx}_{key}_{method}_{reading}.npy")
            for enc_name, marked in marked_by.items():
                for cond in CONDITIONS:
                    s = W.score_image(transform(marked, cond))
                    d = detected_payloads(s)
                    res["tpr"].append({
                        "payload": key, "method": method, "reading": reading,
                        "encoder": enc_name, "condition": cond,
                        "detected": key in d["hit"],
                        "best_accuracy": d["best"].get(key),
                        "other_hits": [k for k in d["hit"] if k != key]})
    res["seconds"] = time.time() - t0
    return res


def find_ref_python(arg: str | None) -> str | None:
    if arg:
        return arg
    if os.environ.get("WM_REF_PYTHON"):
        return os.environ["WM_REF_PYTHON"]
    try:
        import imwatermark  # noqa: F401

        return sys.executable
    except Exception:
        return None


def reference_embed(photos, ref_python: str, tmp: Path, jobs: int) -> bool:
    from veriscope.detectors.provenance.watermark import dwtdct as W

    by_key = {p.key: p for p in W.PAYLOADS}
    job_lists: list[list[dict]] = [[] for _ in range(max(1, jobs))]
    for i, (_, path) in enumerate(photos):
        inp = tmp / f"in_{i}.npy"
        np.save(inp, load_rgb(path))
        for key, method, reading in embed_configs():
            p = by_key[key]
            job_lists[i % len(job_lists)].append({
                "in": str(inp), "out": str(tmp / f"ref_{i}_{key}_{method}_{reading}.npy"),
                "bits": list(p.bits), "bytes_hex": p.data.hex() if p.data else None,
                "method": method, "reading": reading})
    helper = tmp / "ref_helper.py"
    helper.write_text(REF_HELPER)
    procs = []
    for k, jl in enumerate(job_lists):
        jf = tmp / f"jobs_{k}.json"
        jf.write_text(json.dumps(jl))
        procs.append(subprocess.Popen([ref_python, str(helper), str(jf)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    ok = True
    for pr in procs:
        out, err = pr.communicate()
        if pr.returncode != 0:
            print(f"reference helper failed ({pr.returncode}): {err.strip()[-2000:]}",
                  file=sys.stderr)
            ok = False
    return ok


def pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100.0 * k / n:.1f}%)" if n else "n/a"


def report(all_results, ref_used: str | None, elapsed: float) -> str:
    from veriscope.detectors.provenance.watermark import dwtdct as W

    results = [r for r in all_results if r["group"] == "real"]
    ai = [r for r in all_results if r["group"] == "ai"]
    lines = []
    n = len(results)
    lines.append(f"Real photos: {n} "
                 f"({', '.join(f'{k}: {v}' for k, v in sorted(_count(results).items()))}); "
                 f"run time {elapsed:.0f} s.\n")

    lines.append("### Thresholds (binomial tail, Bonferroni over the payload's tests)\n")
    lines.append("| payload | bits | tests | min matching bits | accuracy threshold | "
                 "binomial tail per test | bound per payload |")
    lines.append("|---|---|---|---|---|---|---|")
    for p in W.PAYLOADS:
        t = W.threshold_for(p)
        lines.append(f"| {p.key} | {p.length} | {t['tests']} | {t['min_matching_bits']} | "
                     f"{t['accuracy']:.4f} | {t['binomial_tail_per_test']:.2e} | "
                     f"{t['binomial_tail_per_test'] * t['tests']:.2e} |")

    lines.append("\n### False positives: bit accuracy of unmarked real photos, per test\n")
    lines.append("| payload | method | reading | n | mean | sd (binomial sd) | max | "
                 "> binomial 1% tail (expected ~1%) | >= threshold |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    per_test = defaultdict(list)
    for r in results:
        for t in r["fpr"]:
            per_test[(t["payload"], t["method"], t["reading"])].append(t)
    for (key, method, reading), ts in per_test.items():
        L = ts[0]["bits"]
        acc = np.array([t["accuracy"] for t in ts])
        k1 = W.min_matching_bits(L, 0.01)
        over1 = int(np.sum(np.array([t["matching_bits"] for t in ts]) >= k1))
        det = sum(t["detected"] for t in ts)
        lines.append(f"| {key} | {method} | {reading} | {len(ts)} | {acc.mean():.3f} | "
                     f"{acc.std():.3f} ({0.5 / np.sqrt(L):.3f}) | {acc.max():.3f} | "
                     f"{pct(over1, len(ts))} | {pct(det, len(ts))} |")

    lines.append("\n### False positives per payload (any of its tests) and per dataset\n")
    lines.append("| payload | photos tested | max accuracy (any test) | threshold | "
                 "photos detected (measured FPR) |")
    lines.append("|---|---|---|---|---|")
    for p in W.PAYLOADS:
        tested = [r for r in results if any(t["payload"] == p.key for t in r["fpr"])]
        mx = max((t["accuracy"] for r in tested for t in r["fpr"] if t["payload"] == p.key),
                 default=float("nan"))
        det = sum(any(t["detected"] for t in r["fpr"] if t["payload"] == p.key) for r in tested)
        lines.append(f"| {p.key} | {len(tested)} | {mx:.3f} | "
                     f"{W.threshold_for(p)['accuracy']:.3f} | {pct(det, len(tested))} |")
    lines.append("")
    lines.append("| dataset | photos | photos detected as any payload |")
    lines.append("|---|---|---|")
    for ds, cnt in sorted(_count(results).items()):
        det = sum(any(t["detected"] for t in r["fpr"]) for r in results if r["dataset"] == ds)
        lines.append(f"| {ds} | {cnt} | {pct(det, cnt)} |")
    any_det = sum(any(t["detected"] for t in r["fpr"]) for r in results)
    lines.append(f"| **all** | {n} | {pct(any_det, n)} |")

    rows = [t for r in results for t in r["tpr"]]
    if rows:
        lines.append("\n### True positives: payload embedded into the same photos, then decoded\n")
        lines.append(f"Reference encoder: {ref_used or 'not available (run with --ref-python)'}. "
                     "Cell: detected/n (%), mean best bit accuracy in brackets.\n")
        lines += tpr_table(rows)
    if ai:
        lines.append("\n### Side check: AI-generated images without the mark (comfyui set)\n")
        mx = max(t["accuracy"] for r in ai for t in r["fpr"])
        det = sum(any(t["detected"] for t in r["fpr"]) for r in ai)
        lines.append(f"Unmarked: {pct(det, len(ai))} detected as any payload; max bit accuracy "
                     f"of any test {mx:.3f}.\n")
        ai_rows = [t for r in ai for t in r["tpr"]]
        if ai_rows:
            lines.append("Same TPR test with these images as covers:\n")
            lines += tpr_table(ai_rows)
    return "\n".join(lines)


def tpr_table(rows) -> list[str]:
    lines = []
    if rows:
        lines.append("| payload | method | embedding pipeline | encoder | " +
                     " | ".join(CONDITIONS) + " |")
        lines.append("|---|---|---|---|" + "---|" * len(CONDITIONS))
        groups = defaultdict(list)
        for t in rows:
            groups[(t["payload"], t["method"], t["reading"], t["encoder"], t["condition"])].append(t)
        seen = []
        for (key, method, reading, enc, _c) in groups:
            if (key, method, reading, enc) not in seen:
                seen.append((key, method, reading, enc))
        for key, method, reading, enc in seen:
            cells = []
            for c in CONDITIONS:
                g = groups.get((key, method, reading, enc, c), [])
                k = sum(t["detected"] for t in g)
                acc = np.mean([t["best_accuracy"] for t in g if t["best_accuracy"] is not None])
                cells.append(f"{100.0 * k / len(g):.1f}% ({acc:.2f})" if g else "n/a")
            lines.append(f"| {key} | {method} | {reading} | {enc} | " + " | ".join(cells) + " |")
        other = sum(bool(t["other_hits"]) for t in rows)
        lines.append(f"\nMarked images where a *different* payload also reached its threshold: "
                     f"{other} of {len(rows)} decodes.")
        pairs = defaultdict(int)
        for t in rows:
            for o in t["other_hits"]:
                pairs[(t["payload"], t["method"], t["reading"], t["condition"], o,
                       t["detected"])] += 1
        for (key, method, reading, cond, o, own), k in sorted(pairs.items()):
            lines.append(f"- embedded {key} ({method}, {reading}), {cond}: {o} also above "
                         f"threshold in {k} decodes (embedded payload itself detected: {own})")
    return lines


def _count(results):
    c = defaultdict(int)
    for r in results:
        c[r["dataset"]] += 1
    return dict(c)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--ref-python", default=None,
                    help="python of a venv with invisible-watermark (default: $WM_REF_PYTHON, "
                         "or this interpreter if it can import imwatermark)")
    ap.add_argument("--limit", type=int, default=None, help="photos per dataset (quick run)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-tpr", action="store_true", help="only the false-positive part")
    ap.add_argument("--json", type=Path, default=None, help="also write raw results here")
    args = ap.parse_args(argv)

    if not args.shared.is_dir():
        print(f"shared data not found at {args.shared}", file=sys.stderr)
        return 2
    photos = [("real", ds, p) for ds, p in real_photos(args.shared, args.limit)]
    photos += [("ai", ds, p) for ds, p in ai_images(args.shared, args.limit)]
    t0 = time.time()
    ref_python = None if args.no_tpr else find_ref_python(args.ref_python)
    with tempfile.TemporaryDirectory(prefix="wm_bench_") as tmp:
        ref_dir = None
        if ref_python:
            if reference_embed([(ds, p) for _, ds, p in photos], ref_python, Path(tmp),
                               args.jobs):
                ref_dir = tmp
            else:
                ref_python = None
        items = [(i, g, ds, str(p), ref_dir, not args.no_tpr)
                 for i, (g, ds, p) in enumerate(photos)]
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as ex:
                results = list(ex.map(work, items, chunksize=1))
        else:
            results = [work(it) for it in items]
    text = report(results, ref_python and "invisible-watermark via " + ref_python,
                  time.time() - t0)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
