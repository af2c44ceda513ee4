#!/usr/bin/env python
"""What containment costs a user: `veriscope analyze FILE --out DIR` with the watched worker
(the default) and with ``--in-process``, in fresh processes, one core (issue 21).

Protocol: the 1 MP and 4 MP ``camera`` JPEGs of ``e2e_speed.py`` (made from the third-party
iPhone photo of ``../shared/data/exif-samples-camera-jpegs``; built by that script into
``bench-out/e2e_speed/`` if missing), each analysed ``--repeat`` times (default 5) per mode,
the two modes alternating, ``taskset -c 0``, bytecode compiled first and cached. Wall time
around the process; peak resident memory of the command and its worker (``wait4``). Reported:
median per mode and contained / in-process. Results: Markdown on stdout and
``benchmarks/results/contain_overhead.json``.

Usage: .venv/bin/python benchmarks/contain_overhead.py [--repeat 5] [--core 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "contain_overhead.json"
sys.path.insert(0, str(REPO / "benchmarks"))


def run_once(path: Path, in_process: bool, core: int) -> tuple[float, float]:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["taskset", "-c", str(core), str(REPO / ".venv" / "bin" / "veriscope"), "analyze",
               str(path), "--out", tmp]
        if in_process:
            cmd.append("--in-process")
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"analyze failed on {path}")
        return wall, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--core", type=int, default=0)
    args = ap.parse_args()
    import e2e_speed

    subprocess.run([str(REPO / ".venv" / "bin" / "python"), "-m", "compileall", "-q",
                    str(REPO / "src" / "veriscope")], check=True)
    rows = []
    for mp in (1, 4):
        src = e2e_speed.make_input("camera", mp)
        run_once(src, False, args.core)  # warm the page cache and bytecode
        times = {False: [], True: []}
        rss = {False: [], True: []}
        for _ in range(args.repeat):
            for mode in (False, True):
                w, r = run_once(src, mode, args.core)
                times[mode].append(w)
                rss[mode].append(r)
        c, i = statistics.median(times[False]), statistics.median(times[True])
        rows.append({"input": f"camera {mp} MP", "contained_s": round(c, 3),
                     "in_process_s": round(i, 3), "ratio": round(c / i, 3),
                     "contained_peak_rss_mb": round(max(rss[False]), 1),
                     "in_process_peak_rss_mb": round(max(rss[True]), 1),
                     "runs": {"contained": [round(x, 3) for x in times[False]],
                              "in_process": [round(x, 3) for x in times[True]]}})
    res = {"date": time.strftime("%Y-%m-%d %H:%M"), "load": os.getloadavg(),
           "repeat": args.repeat, "core": args.core, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print("| input | contained s (median) | --in-process s | ratio | peak RSS MB contained / in-process |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['input']} | {r['contained_s']:.2f} | {r['in_process_s']:.2f} | "
              f"{r['ratio']:.2f} | {r['contained_peak_rss_mb']:.0f} / {r['in_process_peak_rss_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
