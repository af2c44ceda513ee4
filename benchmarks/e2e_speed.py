#!/usr/bin/env python
"""Speed as the user sees it: `veriscope analyze FILE --out DIR` in a fresh process (issue 20).

Protocol (everything as a user runs it: the installed `veriscope` command, the default
detectors, ``--out`` with report.html, maps and views written; no thread settings of ours):

1. Sizes and kinds, one core (``taskset -c 0``): four kinds of picture at 1, 4 and 12 MP (4:3
   or the source's aspect), made from third-party files of ``../shared/data`` and cached in
   ``bench-out/e2e_speed/``:
   - ``camera``: the iPhone photo ``exif-samples-camera-jpegs/hdr/iphone_hdr_NO.jpg`` resized
     (Lanczos) and saved as JPEG q90 4:2:0 (the inputs of ``image_speed.py``);
   - ``exported``: the Nokia photo ``exif-samples-camera-jpegs/.../HMD_Nokia_8.3_5G.jpg``
     resized and saved as JPEG q75 4:2:0, progressive, no metadata (a web export);
   - ``ai``: ``comfyui-generated-with-metadata/flux__flux_dev_example.png`` resized (Lanczos)
     and saved as PNG (generators and upscalers write PNG);
   - ``screenshot``: the iPhone photo through ``veriscope.signals.perturb.screenshot`` (s=0.8)
     set in a plain UI frame (title bar and margins), saved as PNG.
   Each file is analysed ``--repeat`` times (default 2), each time in a new process; the
   figure is the run with the least wall time. Wall time is measured around the process
   (start to exit); the phases come from ``veriscope analyze --timings``: start-up = from the
   launch to the command's entry (interpreter, imports of the CLI) plus set-up (loading the
   detector plugins, the jobs), then open, decode, each detector (its lazy imports and model
   loading included), fusion, each output written, and exit = what is left (the summary
   table, interpreter shut-down). Peak memory = the child's
   maximum resident set (``wait4``). The project's bytecode is compiled first (``compileall``,
   as ``pip install`` does) and the children may cache bytecode (PYTHONDONTWRITEBYTECODE unset).
2. Varied pictures up to 2 MP, one core: 6 files spread over the sorted list of each of the 10
   picture folders of ``../shared/data`` (60 files); files over 2 MP are exported first (resized
   to 2 MP, Lanczos, same format; JPEG q90). One fresh process per file, once. Reported:
   median, slowest, slowest / median, and the slowest files with their slowest detector.
3. Batch throughput: the same 60 files in one `veriscope analyze --out` process with
   ``--workers 1`` and ``--workers 2`` (both cores; no taskset), alternating, best of
   ``--batch-repeat`` (default 1) runs each.

Absolute seconds depend on the machine and its load (printed at start and end); ratios measured
in the same run are the comparable figures. Results: Markdown on stdout and
``benchmarks/results/e2e_speed.json``.

Usage: .venv/bin/python benchmarks/e2e_speed.py [--repeat 2] [--sizes 1,4,12] [--kinds ...]
       [--no-varied] [--no-batch] [--core 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CACHE = REPO / "bench-out" / "e2e_speed"
RESULTS = REPO / "benchmarks" / "results" / "e2e_speed.json"
CLI = Path(sys.executable).with_name("veriscope")
CAMERA = SHARED / "exif-samples-camera-jpegs" / "hdr" / "iphone_hdr_NO.jpg"
KINDS = ("camera", "exported", "ai", "screenshot")
PICTURE_FOLDERS = ("comfyui-generated-extra-subset", "comfyui-generated-with-metadata",
                   "deepface-real-faces-subset", "exif-samples-camera-jpegs",
                   "gan-faces-stylegan-basemax-subset", "micc-f220", "ml72-ai-images-559px",
                   "noso-copymove", "pristine-kodak24-cbsd68-mcmaster", "raise-realness-test")
PER_FOLDER = 6
VARIED_MAX_PIXELS = 2_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
"""The children's environment: Python may cache bytecode, as on a user's machine (pip compiles
an installed package; an editable checkout caches on first import). With
PYTHONDONTWRITEBYTECODE=1, as in some sandboxes, every run compiles the project's sources
again: about 0.6 s of a run on this machine that no user pays."""


# ------------------------------------------------------------------ inputs
def _find(folder: str, name: str) -> Path:
    hits = sorted((SHARED / folder).rglob(name))
    if not hits:
        raise SystemExit(f"missing input {folder}/**/{name} in {SHARED}")
    return hits[0]


def _size_for(mp: float, aspect: float) -> tuple[int, int]:
    """(w, h), multiples of 8, about ``mp`` megapixels at width / height = ``aspect``."""
    h = (mp * 1e6 / aspect) ** 0.5
    w = int(round(h * aspect / 8) * 8)
    return w, int(round(h / 8) * 8)


def make_input(kind: str, mp: float) -> Path:
    from PIL import Image

    CACHE.mkdir(parents=True, exist_ok=True)
    ext = "jpg" if kind in ("camera", "exported") else "png"
    dst = CACHE / f"{kind}_{mp:g}mp.{ext}"
    if dst.exists():
        return dst
    tmp = dst.with_suffix(".tmp." + ext)
    if kind == "camera":
        src = Image.open(CAMERA).convert("RGB")
        src.resize(_size_for(mp, 4 / 3), Image.Resampling.LANCZOS).save(
            tmp, quality=90, subsampling=2)
    elif kind == "exported":
        src = Image.open(_find("exif-samples-camera-jpegs", "HMD_Nokia_8.3_5G.jpg")).convert("RGB")
        src.resize(_size_for(mp, src.width / src.height), Image.Resampling.LANCZOS).save(
            tmp, "JPEG", quality=75, subsampling=2, progressive=True)
    elif kind == "ai":
        src = Image.open(_find("comfyui-generated-with-metadata", "flux__flux_dev_example.png"))
        src = src.convert("RGB")
        src.resize(_size_for(mp, src.width / src.height), Image.Resampling.LANCZOS).save(tmp)
    elif kind == "screenshot":
        import numpy as np

        from veriscope.signals.perturb import screenshot

        # the frame adds ~7 % to each side: the photo is sized so that the whole is ~mp
        inner = _size_for(mp / 1.16, 4 / 3)
        photo = np.asarray(Image.open(CAMERA).convert("RGB").resize(
            (round(inner[0] / 0.8), round(inner[1] / 0.8)), Image.Resampling.LANCZOS))
        shot, _ = screenshot(photo, None, s=0.8)
        ih, iw = shot.shape[:2]
        top, side, bottom = max(24, ih // 14), max(16, iw // 40), max(20, ih // 18)
        canvas = np.full((ih + top + bottom, iw + 2 * side, 3), 246, np.uint8)
        canvas[: top - 4] = (40, 44, 52)
        canvas[top:top + ih, side:side + iw] = shot
        Image.fromarray(canvas).save(tmp)
    else:
        raise ValueError(kind)
    tmp.replace(dst)
    return dst


def varied_inputs() -> list[Path]:
    """6 pictures spread over each picture folder; those over 2 MP exported to 2 MP."""
    from PIL import Image

    out = []
    for folder in PICTURE_FOLDERS:
        files = sorted(p for p in (SHARED / folder).rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SystemExit(f"no pictures in {SHARED / folder}")
        k = min(PER_FOLDER, len(files))
        idx = sorted({round(i * (len(files) - 1) / max(1, k - 1)) for i in range(k)})
        for i in idx:
            p = files[i]
            with Image.open(p) as im:
                w, h = im.size
            if w * h <= VARIED_MAX_PIXELS:
                out.append(p)
                continue
            dst = CACHE / "varied" / f"{folder}__{p.stem}.jpg"
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                s = (VARIED_MAX_PIXELS / (w * h)) ** 0.5
                with Image.open(p) as im:
                    im.convert("RGB").resize((int(w * s), int(h * s)),
                                             Image.Resampling.LANCZOS).save(dst, quality=90)
            out.append(dst)
    return out


# ------------------------------------------------------------------ one fresh process
def run_one(path: Path, out_dir: Path, core: int | None) -> dict:
    """`veriscope analyze PATH --out OUT --timings T` in a new process; wall, phases, peak RSS."""
    tfile = out_dir / "timings.jsonl"
    if tfile.exists():
        tfile.unlink()
    cmd = [str(CLI), "analyze", str(path), "--out", str(out_dir / "reports"),
           "--timings", str(tfile)]
    if core is not None:
        cmd = ["taskset", "-c", str(core)] + cmd
    t_launch = time.time()
    p0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - p0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode not in (0, 1) or not tfile.exists():
        raise RuntimeError(f"{path}: exit {proc.returncode}: {err[-2000:]}")
    rec = json.loads(tfile.read_text().splitlines()[-1])
    phases = rec["phases"]
    startup = max(0.0, rec["command_entered_unix"] - t_launch)
    inside = sum(phases.values()) + rec["setup_s"]
    return {"path": str(path), "ok": rec["ok"], "wall_s": round(wall, 3),
            "startup_s": round(startup, 3), "setup_s": rec["setup_s"], "phases": phases,
            "exit_s": round(max(0.0, wall - startup - inside), 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def groups(rec: dict) -> dict:
    """Start-up / open+decode / detectors / fusion / outputs / exit of one run."""
    ph = rec["phases"]
    det = sum(v for k, v in ph.items() if k.startswith("detector."))
    out = sum(v for k, v in ph.items() if k.startswith("write."))
    return {"startup": rec["startup_s"] + rec["setup_s"], "decode": ph.get("open", 0) + ph.get("decode", 0),
            "detectors": det, "fusion": ph.get("fusion", 0), "outputs": out,
            "exit": rec["exit_s"], "wall": rec["wall_s"]}


def best_of(path: Path, repeat: int, core: int | None, tmp: Path) -> dict:
    runs = []
    for i in range(repeat):
        d = tmp / f"r{i}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        runs.append(run_one(path, d, core))
    best = min(runs, key=lambda r: r["wall_s"])
    best["walls"] = [r["wall_s"] for r in runs]
    return best


def batch(files: list[Path], workers: int, tmp: Path) -> tuple[float, float]:
    """Wall seconds of one batch run and the CPU seconds (user + system) it used, its worker
    processes included (they are waited for by the command, the command by us)."""
    import resource

    out = tmp / f"batch-w{workers}"
    shutil.rmtree(out, ignore_errors=True)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = ru.ru_utime + ru.ru_stime
    t = time.perf_counter()
    r = subprocess.run([str(CLI), "analyze", *map(str, files), "--out", str(out),
                        "--workers", str(workers)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=ENV)
    wall = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime - cpu0
    if r.returncode not in (0, 1):
        raise RuntimeError(f"batch exit {r.returncode}: {r.stderr.decode()[-2000:]}")
    n = sum(1 for _ in out.glob("*/report.json"))
    if n != len(files):
        raise RuntimeError(f"batch wrote {n} reports for {len(files)} files")
    return wall, cpu


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sizes", default="1,4,12")
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--core", type=int, default=0, help="core for the one-core runs")
    ap.add_argument("--no-varied", action="store_true")
    ap.add_argument("--no-batch", action="store_true")
    ap.add_argument("--batch-repeat", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    if not CLI.exists():
        raise SystemExit(f"{CLI} not found: run from the project's venv (make venv)")
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed for the one-core runs")
    # compile the package's bytecode once, as `pip install` does
    import veriscope

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(veriscope.__file__).parent)],
                   check=True, stdout=subprocess.DEVNULL, env=ENV)
    sizes = [float(s) for s in a.sizes.split(",") if s]
    kinds = [k for k in a.kinds.split(",") if k]
    res: dict = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.platform(),
                 "cpus": os.cpu_count(), "load_start": os.getloadavg()[0], "sizes": [],
                 "protocol": __doc__.split("Usage:")[0].strip()}
    print(f"# End-to-end speed ({res['date']}, load average {res['load_start']:.2f})\n")
    with tempfile.TemporaryDirectory(prefix="veriscope-e2e-") as td:
        tmp = Path(td)
        # ---------------------------------------------------------- sizes x kinds
        if sizes and kinds:
            print("| kind | size | file | wall s | start-up | decode | detectors | fusion | "
                  "outputs | exit | peak MB | slowest detectors (s) |")
            print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
            for kind in kinds:
                for mp in sizes:
                    path = make_input(kind, mp)
                    rec = best_of(path, a.repeat, a.core, tmp)
                    from PIL import Image

                    with Image.open(path) as im:
                        rec["width"], rec["height"] = im.size
                    rec.update(kind=kind, mp=mp)
                    res["sizes"].append(rec)
                    g = groups(rec)
                    dets = sorted(((v, k.split(".", 1)[1]) for k, v in rec["phases"].items()
                                   if k.startswith("detector.")), reverse=True)[:3]
                    print(f"| {kind} | {rec['width']}x{rec['height']} | {path.suffix[1:]} | "
                          f"{g['wall']:.2f} | {g['startup']:.2f} | {g['decode']:.2f} | "
                          f"{g['detectors']:.2f} | {g['fusion']:.3f} | {g['outputs']:.2f} | "
                          f"{g['exit']:.2f} | {rec['peak_rss_mb']:.0f} | "
                          + ", ".join(f"{k} {v:.2f}" for v, k in dets) + " |", flush=True)
            print()
            # per-phase table of the largest size of the first kind (the headline)
            head = [r for r in res["sizes"] if r["mp"] == max(sizes)]
            if head:
                names = sorted({k for r in head for k in r["phases"]})
                print(f"Every phase at {max(sizes):g} MP (seconds, best run of each file):\n")
                print("| phase | " + " | ".join(r["kind"] for r in head) + " |")
                print("|---|" + "---:|" * len(head))
                for k in ["startup", "setup"] + names + ["exit"]:
                    vals = [r["startup_s"] if k == "startup" else r["setup_s"] if k == "setup"
                            else r["exit_s"] if k == "exit" else r["phases"].get(k, 0.0)
                            for r in head]
                    if max(vals) >= 0.005:
                        print(f"| {k} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
                print("| **wall** | " + " | ".join(f"**{r['wall_s']:.2f}**" for r in head)
                      + " |\n")
                for r in head:
                    dec = r["phases"].get("open", 0) + r["phases"].get("decode", 0)
                    det = sum(v for k, v in r["phases"].items() if k.startswith("detector."))
                    print(f"- {r['kind']}: detectors / decode = {det / max(dec, 1e-9):.1f}x")
                print()
        # ---------------------------------------------------------- varied pictures
        files = varied_inputs() if not (a.no_varied and a.no_batch) else []
        if not a.no_varied:
            recs = []
            for p in files:
                d = tmp / "varied"
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir()
                r = run_one(p, d, a.core)
                recs.append(r)
            walls = [r["wall_s"] for r in recs]
            med = statistics.median(walls)
            res["varied"] = {"files": len(recs), "median_s": med, "max_s": max(walls),
                             "max_over_median": max(walls) / med, "runs": recs}
            print(f"Varied pictures up to 2 MP ({len(recs)} files, one fresh process each, one "
                  f"core): median {med:.2f} s, slowest {max(walls):.2f} s, slowest / median "
                  f"{max(walls) / med:.2f}.\n")
            print("| file | wall s | detectors s | outputs s | slowest detector |")
            print("|---|---:|---:|---:|---|")
            for r in sorted(recs, key=lambda r: -r["wall_s"])[:8]:
                g = groups(r)
                top = max(((v, k.split(".", 1)[1]) for k, v in r["phases"].items()
                           if k.startswith("detector.")), default=(0, "-"))
                print(f"| {Path(r['path']).parent.name}/{Path(r['path']).name} | {g['wall']:.2f} | "
                      f"{g['detectors']:.2f} | {g['outputs']:.2f} | {top[1]} {top[0]:.2f} |")
            print()
        # ---------------------------------------------------------- batch throughput
        if not a.no_batch:
            runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
            for i in range(a.batch_repeat):
                for w in ((1, 2) if i % 2 == 0 else (2, 1)):
                    runs[w].append(batch(files, w, tmp))
            (b1, c1), (b2, c2) = min(runs[1]), min(runs[2])
            ncpu = len(os.sched_getaffinity(0))
            res["batch"] = {"files": len(files), "workers_1_s": b1, "workers_2_s": b2,
                            "speedup": b1 / b2, "runs": {w: [x[0] for x in v] for w, v in runs.items()},
                            "cpu_s": {"1": c1, "2": c2},
                            "cores_busy": {"1": c1 / b1, "2": c2 / b2},
                            "ceiling": ncpu / (c1 / b1)}
            print(f"Batch of {len(files)} files, one `veriscope analyze --out` process: 1 worker "
                  f"{b1:.1f} s ({len(files) / b1:.2f} files/s), 2 workers {b2:.1f} s "
                  f"({len(files) / b2:.2f} files/s): **{b1 / b2:.2f}x**. CPU time (user + "
                  f"system, workers included): 1 worker {c1:.1f} s = {c1 / b1:.2f} cores busy "
                  f"on average, 2 workers {c2:.1f} s = {c2 / b2:.2f} cores: with {ncpu} cores, "
                  f"the most a second worker could give is {ncpu / (c1 / b1):.2f}x.\n")
    res["load_end"] = os.getloadavg()[0]
    print(f"Load average at the end: {res['load_end']:.2f}.")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
