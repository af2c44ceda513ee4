#!/usr/bin/env python
"""The hostile corpus, one fresh `veriscope analyze` process per file (issue 21).

Builds ``tests/hostile/corpus.py`` into a temporary folder and runs
``veriscope analyze FILE --out DIR --format json --workers 1`` on each file in a new process,
pinned to one core (``taskset -c CORE``), with the default detectors and limits. Per file:
outcome (``report`` / ``error``), the ``error:`` line, exit code, wall time and peak RSS of the
child (``os.wait4``). Summary: files tried, crashes (an exit code other than 0 and 1, the
clean "some inputs failed" code, or a signal), files whose output shows a traceback (the goal
is 0; a report.json holding a detector's traceback counts), detectors that timed out, the
largest peak memory and the longest time, with their files.

Results: Markdown on stdout and ``benchmarks/results/hostile.json``.

Usage: .venv/bin/python benchmarks/hostile.py [--core 1] [--timeout 600] [--only SUBSTRING]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "hostile.json"
CLI = Path(sys.executable).with_name("veriscope")
sys.path.insert(0, str(REPO / "tests" / "hostile"))

from corpus import build  # noqa: E402


def shown(path: Path) -> str:
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def run_one(path: Path, out: Path, core: int | None, timeout: float) -> dict:
    cmd = [str(CLI), "analyze", "--out", str(out), "--format", "json", "--workers", "1", "--",
           str(path)]
    if core is not None:
        cmd = ["taskset", "-c", str(core), *cmd]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, env=env)
        deadline = t0 + timeout
        killed = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                killed = True
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        so.seek(0)
        se.seek(0)
        stdout = so.read().decode("utf-8", "backslashreplace")
        stderr = se.read().decode("utf-8", "backslashreplace")
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    reports = list(out.glob("*/report.json"))
    tb_in_report, timeouts = False, []
    for rj in reports:
        text = rj.read_text(encoding="utf-8")
        tb_in_report |= "Traceback" in text
        for ev in json.loads(text).get("evidence", []):
            if "timed out" in (ev.get("error") or ""):
                timeouts.append(ev["name"])
    return {
        "file": shown(Path(path.name)), "outcome": "report" if reports else "error" if errors else "none",
        "error": errors[0][len("error: "):] if errors else None, "exit": proc.returncode,
        "killed_after_timeout": killed, "wall_s": round(wall, 3),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "traceback": "Traceback" in stdout or "Traceback" in stderr or tb_in_report,
        "detector_timeouts": timeouts,
        "crash": killed or proc.returncode not in (0, 1),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--core", type=int, default=1, help="core to pin each child to (-1: none)")
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="kill a child after this many seconds (counted as a crash)")
    ap.add_argument("--only", default="", help="only files whose name contains this")
    ap.add_argument("--no-write", action="store_true", help="do not write the results file")
    a = ap.parse_args(argv)
    core = None if a.core < 0 else a.core
    work = Path(tempfile.mkdtemp(prefix="veriscope-hostile-"))
    try:
        t0 = time.perf_counter()
        cases = build(work / "corpus")
        build_s = time.perf_counter() - t0
        cases = [c for c in cases if a.only in c.path.name]
        rows = []
        for i, c in enumerate(cases):
            out = work / "out" / str(i)
            r = run_one(c.path, out, core, a.timeout)
            r.update(kind=c.kind, expect=c.expect,
                     expect_ok=c.expect == "either" or c.expect == r["outcome"])
            rows.append(r)
            shutil.rmtree(out, ignore_errors=True)
            print(f"{i + 1}/{len(cases)} {r['outcome']:6} {r['wall_s']:7.2f} s "
                  f"{r['peak_rss_mib']:7.1f} MiB  {c.path.name!r}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    big = max(rows, key=lambda r: r["peak_rss_mib"])
    slow = max(rows, key=lambda r: r["wall_s"])
    summary = {
        "files": len(rows), "build_s": round(build_s, 2),
        "reports": sum(r["outcome"] == "report" for r in rows),
        "errors": sum(r["outcome"] == "error" for r in rows),
        "no_outcome": sum(r["outcome"] == "none" for r in rows),
        "crashes": sum(r["crash"] for r in rows),
        "tracebacks": sum(r["traceback"] for r in rows),
        "detector_timeouts": sum(bool(r["detector_timeouts"]) for r in rows),
        "expectation_failures": [r["file"] for r in rows if not r["expect_ok"]],
        "peak_rss_max_mib": big["peak_rss_mib"], "peak_rss_max_file": big["file"],
        "wall_max_s": slow["wall_s"], "wall_max_file": slow["file"],
        "wall_median_s": sorted(r["wall_s"] for r in rows)[len(rows) // 2],
        "wall_total_s": round(sum(r["wall_s"] for r in rows), 1),
    }
    doc = {"benchmark": "hostile", "machine": {"python": platform.python_version(),
                                               "platform": platform.platform(),
                                               "core": core},
           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "summary": summary, "files": rows}
    if not a.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("| figure | value |\n|---|---|")
    for k, v in summary.items():
        print(f"| {k} | {v} |")
    slowest = sorted(rows, key=lambda r: -r["wall_s"])[:5]
    print("\nslowest:", ", ".join(f"{r['file']!r} {r['wall_s']} s" for r in slowest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
