#!/usr/bin/env python
"""Wall time of `veriscope analyze` on many files with 1 and with N workers, as a user runs it.

Protocol: the 60-file sample of ``layout_identity.py`` (4 files spread over each folder of
``../shared/data``: pictures, sound and video), the default detector set, ``--out DIR`` with
report.html and maps written, each run a fresh ``veriscope`` process (imports, worker start
and writing included). The runs alternate (1, N, N, 1 for ``--repeat 2``) so that a drift in
the machine's load touches both; the figure is the best run of each, and their ratio. The
reports of the two settings are compared (times left out): they must be identical.

Usage: .venv/bin/python benchmarks/analyze_workers.py [--workers 2] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import layout_identity as L  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args(argv)
    files = L.sample()
    order = []
    for i in range(a.repeat):
        order += [1, a.workers] if i % 2 == 0 else [a.workers, 1]
    times: dict[int, list[float]] = {1: [], a.workers: []}
    digests: dict[int, dict] = {}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="veriscope-workers-") as tmp:
        for k, n in enumerate(order):
            out = Path(tmp) / f"run{k}"
            times[n].append(L.run(files, out, n, options=(), quiet=True))
            if n not in digests:
                digests[n] = {p.name: L.digest_dir(p) for p in sorted(out.iterdir())
                              if (p / "report.json").is_file()}
    load1 = os.getloadavg()[0]
    same = digests[1] == digests[a.workers]
    b1, bn = min(times[1]), min(times[a.workers])
    print(f"## analyze --workers: {len(files)} shared files, default detectors, reports written\n")
    print(f"cores {_cores()}, load average {load0:.2f} at the start, {load1:.2f} at the end; "
          f"runs in the order {order}\n")
    print(f"| workers | wall s (best of {a.repeat}) | s per file | speed-up |")
    print("|---|---|---|---|")
    print(f"| 1 | {b1:.1f} | {b1 / len(files):.2f} | 1.00 |")
    print(f"| {a.workers} | {bn:.1f} | {bn / len(files):.2f} | {b1 / bn:.2f} |")
    print(f"\nreports identical between 1 and {a.workers} workers: {same} "
          f"({len(digests[1])} reports)")
    return 0 if same else 1


def _cores() -> int:
    from veriscope.pipeline.batch import cpu_count

    return cpu_count()


if __name__ == "__main__":
    sys.exit(main())
