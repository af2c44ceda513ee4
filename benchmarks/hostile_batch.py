#!/usr/bin/env python
"""A batch of 1,000 files of which 20 % are hostile, in one `veriscope analyze` (issue 21).

Protocol:

1. Good files (800 by default): pictures of at most 1 MP from the picture folders of
   ``../shared/data`` (third-party files; every file of each folder, sorted by path, folders in
   sorted order) and 8 kHz speech clips of ``fsdd-spoken-digits-subset`` to fill up to the
   number asked (sorted, every k-th one). Each is linked into the work folder under a unique
   name (``g0001_<name>``).
2. Hostile files (200 by default): the hostile corpus of ``tests/hostile/corpus.py``
   (truncated, bit-flipped, polyglots, lying headers, bombs, MP4 box loops, EXIF loops, absurd
   audio parameters, tricky names, special files), built from synthetic files; when more are
   asked than the corpus has, its regular files are copied again under numbered names.
3. Good and hostile files are shuffled together (seed 21) and given to one
   ``veriscope analyze --out OUT`` process (report.html written), default workers (the number
   of cores, capped by memory), default containment (each input in a watched worker; default
   time and memory limits).
4. Checked: every good file has its report folder (report.json naming it); every hostile file
   whose corpus entry expects an error has exactly one ``error:`` line and no report; no
   ``Traceback`` anywhere; exit status 1 (some inputs failed). Measured: wall time, files per
   second, peak resident memory of the command and its workers (``wait4``), and how many
   detector results were stopped by containment (``data.contained``).

Results: Markdown on stdout and ``benchmarks/results/hostile_batch.json``.

Usage: .venv/bin/python benchmarks/hostile_batch.py [--good 800] [--hostile 200] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
WORK = REPO / "bench-out" / "hostile_batch"
RESULTS = REPO / "benchmarks" / "results" / "hostile_batch.json"
PICTURE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
MAX_PIXELS = 1_000_000


def good_files(n: int) -> list[Path]:
    from PIL import Image

    pics = []
    for folder in sorted(p for p in SHARED.iterdir() if p.is_dir()):
        for f in sorted(folder.rglob("*")):
            if f.suffix.lower() not in PICTURE_EXTS or not f.is_file():
                continue
            try:
                with Image.open(f) as im:
                    if im.width * im.height > MAX_PIXELS:
                        continue
            except Exception:
                continue
            pics.append(f)
    pics = pics[:n]
    if len(pics) < n:
        wavs = sorted((SHARED / "fsdd-spoken-digits-subset").rglob("*.wav"))
        need = n - len(pics)
        step = max(1, len(wavs) // need)
        pics += wavs[::step][:need]
    return pics


def hostile_files(n: int, dest: Path) -> list[tuple[Path, str, str]]:
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO / "tests" / "hostile"))
    from corpus import build

    cases = build(dest / "corpus")
    out = [(c.path, c.kind, c.expect) for c in cases][:n]
    regular = [c for c in cases if c.path.is_file() and not c.path.is_symlink()]
    k = 0
    while len(out) < n and regular:
        c = regular[k % len(regular)]
        p = dest / "again" / f"h{k:04d}_{c.path.name[-60:].lstrip('-')}"
        p.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(c.path, p)
        out.append((p, c.kind, c.expect))
        k += 1
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--good", type=int, default=800)
    ap.add_argument("--hostile", type=int, default=200)
    ap.add_argument("--keep", action="store_true", help="keep bench-out/hostile_batch/")
    args = ap.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "good").mkdir(parents=True)
    good = []
    for i, f in enumerate(good_files(args.good)):
        link = WORK / "good" / f"g{i:04d}_{f.name}"
        link.symlink_to(f)
        good.append(link)
    hostile = hostile_files(args.hostile, WORK / "hostile")
    entries = [(p, "good", "report") for p in good] + [(p, k, e) for p, k, e in hostile]
    random.Random(21).shuffle(entries)
    out = WORK / "out"
    cmd = [str(REPO / ".venv" / "bin" / "veriscope"), "analyze", "--out", str(out),
           *[str(p) for p, _, _ in entries]]
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    so, se = WORK / "stdout.txt", WORK / "stderr.txt"
    t0 = time.perf_counter()
    with open(so, "wb") as fo, open(se, "wb") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # the command and the workers it waited for
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = so.read_text(encoding="utf-8", errors="replace")
    stderr = se.read_text(encoding="utf-8", errors="replace")

    reported, contained = {}, []
    for rj in out.glob("*/report.json"):
        rep = json.loads(rj.read_text(encoding="utf-8"))
        reported[rep["media"]["path"]] = rep
        contained += [(rep["media"]["path"], e["name"], e["error"]) for e in rep["evidence"]
                      if (e.get("data") or {}).get("contained")]
    err_lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    problems = []
    n_err = {"good": 0, "hostile": 0}
    for p, kind, expect in entries:
        has_report = str(p) in reported
        lines = [ln for ln in err_lines if str(p) in ln]
        who = "good" if kind == "good" else "hostile"
        n_err[who] += bool(lines)
        if expect == "report" and not has_report:
            problems.append(f"{p.name}: no report ({lines[:1]})")
        if expect == "error" and (has_report or len(lines) != 1):
            problems.append(f"{p.name}: expected one error line, got {len(lines)} "
                            f"(report: {has_report})")
        if expect == "either" and not has_report and not lines:
            problems.append(f"{p.name}: neither a report nor an error line")
    tracebacks = stdout.count("Traceback") + stderr.count("Traceback")
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
        "load": os.getloadavg(), "files": len(entries), "good": len(good),
        "hostile": len(hostile), "exit_status": proc.returncode, "wall_s": round(wall, 1),
        "files_per_s": round(len(entries) / wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "reports": len(reported), "error_lines": len(err_lines),
        "good_with_error": n_err["good"], "hostile_with_error": n_err["hostile"],
        "hostile_with_report": sum(1 for p, k, _ in entries if k != "good" and str(p) in reported),
        "tracebacks": tracebacks, "contained_results": len(contained),
        "contained": contained[:20], "problems": problems[:50], "n_problems": len(problems),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print("| files | good | hostile | exit | wall s | files/s | peak RSS MB | reports | "
          "error lines | tracebacks | contained | problems |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {res['files']} | {res['good']} | {res['hostile']} | {res['exit_status']} | "
          f"{res['wall_s']} | {res['files_per_s']} | {res['peak_rss_mb']} | {res['reports']} | "
          f"{res['error_lines']} | {tracebacks} | {len(contained)} | {len(problems)} |")
    for pr in problems[:20]:
        print("-", pr)
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    ok = proc.returncode == 1 and not problems and not tracebacks
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
