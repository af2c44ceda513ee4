#!/usr/bin/env python
"""Seconds per megapixel of the image pipeline: per detector, at 1 / 2 / 4 / 12 MP, on one
thread, and the default set on 1 and 2 workers, as ratios to the decode time (issue 3).

Protocol:

1. Inputs: the real camera photo ``exif-samples-camera-jpegs/hdr/iphone_hdr_NO.jpg`` (iPhone,
   3264x2448) resized with Lanczos to 1, 2, 4 and 12 MP (4:3; 12 MP = 4000x3000, an upscale
   of x1.22) and saved as baseline JPEG q90, 4:2:0 (Pillow). Cached in bench-out/image_speed/.
2. One thread: each size analysed in a fresh child process with OpenCV, BLAS and OpenMP
   limited to one thread (``cv2.setNumThreads(1)``, ``OMP_NUM_THREADS=1``,
   ``OPENBLAS_NUM_THREADS=1``, threadpoolctl), after an untimed warm-up analysis of a
   320x240 JPEG (imports and one-time set-up excluded). Decode = ``Media.open`` + full RGB decode,
   timed before the detectors (the detectors' time excludes it). Per detector:
   ``Evidence.elapsed_s``; the best of ``--repeat`` runs (default 2) for each number.
3. Workers: ``--batch`` copies (default 4) of the 2 MP and of the 12 MP JPEG analysed by the
   default set (a) by 1 single-threaded worker process, one image after the other, and
   (b) by 2 single-threaded worker processes in parallel (half the batch each). Reported:
   wall seconds per image of the batch (throughput) and per MP; process start, imports and
   the warm-up included.

Absolute seconds depend on the machine and on what else runs on it (the load average at the
start and end of the run is printed); ratios measured within one run are the comparable figures.

Usage: .venv/bin/python benchmarks/image_speed.py [--repeat 2] [--batch 4] [--sizes 1,2,4,12]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "exif-samples-camera-jpegs" / "hdr" / "iphone_hdr_NO.jpg"
CACHE = REPO / "bench-out" / "image_speed"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def make_jpeg(mp: float) -> Path:
    from PIL import Image

    CACHE.mkdir(parents=True, exist_ok=True)
    dst = CACHE / f"iphone_{mp:g}mp_q90.jpg"
    if not dst.exists():
        w = int(round((mp * 1e6 * 4 / 3) ** 0.5 / 8) * 8)
        h = w * 3 // 4
        img = Image.open(SOURCE).convert("RGB").resize((w, h), Image.Resampling.LANCZOS)
        img.save(dst, quality=90, subsampling=2)
    return dst


def child(paths: list[str]) -> dict:
    """Analyse each path on one thread; decode and per-detector seconds (JSON on stdout)."""
    import cv2

    cv2.setNumThreads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    from veriscope.core.media import Media
    from veriscope.detectors.base import Context
    from veriscope.pipeline.runner import analyze_media

    # warm-up, untimed: imports and one-time set-up of every detector on a small JPEG, so the
    # per-detector seconds below are per-image costs (the worker table includes start-up)
    warm = CACHE / "warmup_256.jpg"
    if not warm.exists():
        from PIL import Image

        Image.open(SOURCE).convert("RGB").resize((320, 240)).save(warm, quality=90)
    analyze_media(Media.open(warm), None, Context(timeout_s=600.0))
    out = []
    t_all = time.perf_counter()
    for p in paths:
        t0 = time.perf_counter()
        m = Media.open(p)
        m.rgb()
        dec = time.perf_counter() - t0
        t0 = time.perf_counter()
        rep = analyze_media(m, None, Context(timeout_s=600.0))
        out.append({"path": p, "mp": m.rgb().shape[0] * m.rgb().shape[1] / 1e6, "decode": dec,
                    "detectors": time.perf_counter() - t0,
                    "per": {e.name: e.elapsed_s for e in rep.evidence if e.applicable}})
    return {"items": out, "wall": time.perf_counter() - t_all}


def spawn(paths: list[Path]) -> subprocess.Popen:
    env = dict(os.environ, **ONE_THREAD)
    return subprocess.Popen([sys.executable, __file__, "--child", *map(str, paths)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def result(proc: subprocess.Popen) -> dict:
    out, _ = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"child failed with {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--sizes", default="1,2,4,12")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child)))
        return 0
    if not SOURCE.exists():
        print(f"{SOURCE} is missing: nothing to measure")
        return 1
    sizes = [float(s) for s in a.sizes.split(",")]
    files = {mp: make_jpeg(mp) for mp in sizes}
    print("# Image pipeline speed (`benchmarks/image_speed.py`)\n")
    print(f"Machine: {os.cpu_count()} CPU cores; load average at start {os.getloadavg()[0]:.1f}.\n")
    runs = {}
    for mp, f in files.items():
        best = None
        for _ in range(a.repeat):
            it = result(spawn([f]))["items"][0]
            if best is None:
                best = it
            else:  # element-wise best of the repeats
                best["decode"] = min(best["decode"], it["decode"])
                best["detectors"] = min(best["detectors"], it["detectors"])
                best["per"] = {k: min(v, it["per"].get(k, v)) for k, v in best["per"].items()}
        runs[mp] = best
    names = sorted({k for r in runs.values() for k in r["per"]},
                   key=lambda k: -max(r["per"].get(k, 0) for r in runs.values()))
    print("## One thread: seconds per MP (s / MP) by image size; ratio = detector / decode\n")
    hdr = " | ".join(f"{r['mp']:.1f} MP s/MP" for r in runs.values())
    print(f"| detector | {hdr} | 12 MP s | ratio to decode at 12 MP |")
    print("|---|" + "---:|" * (len(runs) + 2))
    big = runs[max(runs)]
    for n in ["decode", "all detectors"] + names:
        def val(r, n=n):
            return (r["decode"] if n == "decode" else r["detectors"] if n == "all detectors"
                    else r["per"].get(n, float("nan")))
        cells = " | ".join(f"{val(r) / r['mp']:.3f}" for r in runs.values())
        print(f"| {n} | {cells} | {val(big):.2f} | {val(big) / big['decode']:.1f} |")
    print("\n## Default set on 1 and 2 single-threaded worker processes (throughput)\n")
    print("| input | images | 1 worker: s / image | 2 workers: s / image | speed-up | "
          "1 worker s / MP | 2 workers s / MP |\n|---|---:|---:|---:|---:|---:|---:|")
    for mp in (m for m in (2.0, 12.0) if m in files):
        batch = [files[mp]] * a.batch
        t0 = time.perf_counter()
        result(spawn(batch))
        one = (time.perf_counter() - t0) / len(batch)
        t0 = time.perf_counter()
        procs = [spawn(batch[0::2]), spawn(batch[1::2])]
        for p in procs:
            result(p)
        two = (time.perf_counter() - t0) / len(batch)
        rmp = runs[mp]["mp"]
        print(f"| {rmp:.1f} MP JPEG | {len(batch)} | {one:.2f} | {two:.2f} | {one / two:.2f} | "
              f"{one / rmp:.3f} | {two / rmp:.3f} |")
    print("\n(worker times include starting each process, importing veriscope and the warm-up, "
          "a few seconds per process.)")
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
