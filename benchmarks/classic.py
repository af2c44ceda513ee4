"""Issue 3 figures: every classic pixel detector and the fused map, on every image set.

Protocol: veriscope.bench/1 (see docs/bench.md); datasets:
- synth-fit   forgeries from kodak24 (the FIT split: fusion rule and thresholds chosen here)
- synth-eval  forgeries from cbsd68 + mcmaster (EVAL split, never used for fitting)
- noso        18 copy-moves with masks + 13 originals
- micc-f220   110 copy-moves / 110 originals, image level only
- exif-samples (30 real camera JPEGs) and pristine (EVAL split only): false alarms at 0.5

Usage: .venv/bin/python benchmarks/classic.py [--workers 2] [--sets synth-eval,noso,...]
Detector outputs are cached (VERISCOPE_CACHE or ~/.cache/veriscope/bench), so a re-run only scores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from veriscope.bench import Benchmark, datasets
from veriscope.core import registry

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CLASSIC = ["jpeg_dq", "jpeg_ndq", "jpeg_ghost", "jpeg_grid", "noise", "splicebuster", "cfa",
           "copy_move", "resampling"]
SETS = {
    "synth-fit": f"synth-fit:{SHARED / 'pristine-kodak24-cbsd68-mcmaster'}",
    "synth-eval": f"synth-eval:{SHARED / 'pristine-kodak24-cbsd68-mcmaster'}",
    "noso": f"noso:{SHARED / 'noso-copymove'}",
    "micc-f220": f"micc-f220:{SHARED / 'micc-f220'}",
    "exif-samples": f"exif-samples:{SHARED / 'exif-samples-camera-jpegs'}",
    "pristine-eval": f"pristine:{SHARED / 'pristine-kodak24-cbsd68-mcmaster'}",
}
COLS = ["pixel_f1@0.5", "pixel_f1@dataset_best", "pixel_auc", "image_auc", "tpr@0.5", "fpr@0.5"]


def available(names):
    have = set(registry.names())
    return [n for n in names if n in have]


def table(name, res) -> list[str]:
    m = res["metrics"]
    dets = res["protocol"]["detectors"] + ["fused"]
    cols = [c for c in COLS if any(f"{d}/{c}" in m for d in dets)]
    out = [f"### {name} (n={res['dataset']['n']}, fingerprint {res['dataset']['fingerprint'][:12]})", "",
           "| detector | " + " | ".join(cols) + " | coverage |", "|---|" + "---:|" * (len(cols) + 1)]
    for d in dets:
        cells = [f"{m[f'{d}/{c}']:.3f}" if f"{d}/{c}" in m else "" for c in cols]
        out.append(f"| {d} | " + " | ".join(cells) + f" | {m.get(f'{d}/coverage', 0):.2f} |")
    ci = [f"{lab} {m[f'fused/{k}_ci95_lo']:.3f}-{m[f'fused/{k}_ci95_hi']:.3f}"
          for k, lab in (("pixel_f1@0.5", "pixel F1@0.5"), ("image_auc", "image AUC"))
          if f"fused/{k}_ci95_lo" in m]
    if ci:
        out += ["", "95 % bootstrap intervals of the fused row: " + ", ".join(ci) + "."]
    return out + [""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--detectors", default=",".join(CLASSIC))
    ap.add_argument("--out", default=str(REPO / "bench-out" / "classic"))
    ap.add_argument("--map-rule", default=None, help="override veriscope.core.fusion.MAP_RULE (to compare "
                    "rules on the FIT split)")
    args = ap.parse_args(argv)
    if args.map_rule:
        from veriscope.core import fusion

        fusion.MAP_RULE = args.map_rule
    dets = available(args.detectors.split(","))
    lines = ["# Classic image forensics (issue 3)", "",
             f"Detectors: {', '.join(d + ' ' + registry.load(d).version for d in dets)}; "
             "fused = veriscope.core.fusion over them.", ""]
    for key in args.sets.split(","):
        spec = SETS[key]
        name, recs = datasets.load(spec)
        if key == "pristine-eval":
            recs = [r for r in recs if r.split == "eval"]
        t0 = time.perf_counter()
        b = Benchmark((key, recs), dets, workers=args.workers)
        try:
            res = b.run()
        finally:
            b.close()
        Benchmark.write(res, Path(args.out) / key)
        lines += table(key, res)
        lines.append(f"_{time.perf_counter() - t0:.0f} s_")
        lines.append("")
        print("\n".join(table(key, res)), flush=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "classic.md").write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
