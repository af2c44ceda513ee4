#!/usr/bin/env python
"""The whole default pipeline on the 10 videos of icpr2020dfdc-video-samples.

Protocol: every video of ``../shared/data/icpr2020dfdc-video-samples/test/data`` (FF++ c23:
originals 004, 519, 634 = real; Deepfakes 519_515, FaceSwap 634_660, Face2Face 750_743,
NeuralTextures 004_982 = fake; DFDC brtujopkby, widuwuoiur, yhffcuhhjy = fake) through
``Media.open`` + ``analyze_media`` with the default detector set and the default sampling, as
``veriscope analyze`` runs it. Nothing was fitted or chosen on these videos (the detectors' FIT
data is listed in their docs; frame_edits rules were revised after looking at false alarms on
these clips, see docs/detectors/frame_edits.md). Reported per video: truth, fused verdict and
score, each video detector's score, the fused summary's time range, and wall time / duration;
then the image-level AUC of the fused score and of each video detector (real = 0, fake = 1; a
detector with no score counts as 0), and how many of each class reach 0.5.

Usage: .venv/bin/python benchmarks/video_icpr.py
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "icpr2020dfdc-video-samples" / "test" / "data"
DETS = ("video_container", "frame_edits", "video_frames", "faces", "lip_sync")


def videos() -> list[tuple[Path, str, str]]:
    out = []
    for p in sorted(DATA.rglob("*.mp4")):
        parts = p.relative_to(DATA).parts
        if parts[0] == "ffpp" and parts[1] == "original_sequences":
            out.append((p, "real", "FF++ original"))
        elif parts[0] == "ffpp":
            out.append((p, "fake", f"FF++ {parts[2]}"))
        else:
            out.append((p, "fake", "DFDC"))
    return out


def main() -> int:
    from veriscope.core.media import Media
    from veriscope.core.metrics import auc
    from veriscope.detectors.base import Context
    from veriscope.pipeline.runner import analyze_media

    vids = videos()
    if not vids:
        print(f"{DATA} is missing: nothing to measure")
        return 1
    print("# Default pipeline on icpr2020dfdc-video-samples (`benchmarks/video_icpr.py`)\n")
    print(f"Machine: {os.cpu_count()} CPU cores, load average at start {os.getloadavg()[0]:.1f}.\n")
    print("| video | truth | source | verdict | fused score | " + " | ".join(DETS)
          + " | time range named | wall / duration |")
    print("|---|---|---|---|---:|" + "---:|" * len(DETS) + "---|---:|")
    rows = []
    for p, truth, src in vids:
        t0 = time.perf_counter()
        media = Media.open(p)
        rep = analyze_media(media, None, Context(timeout_s=600.0))
        wall = time.perf_counter() - t0
        dur = float(media.facts.get("duration") or 0.0) or float("nan")
        sc = {}
        for n in DETS:
            e = rep.get(n)
            sc[n] = None if e is None or not e.applicable or e.score is None else float(e.score)
        m = re.search(r"(\d\d:\d\d\.\d-\d\d:\d\d\.\d)", rep.verdict.summary)
        rows.append((truth, rep.verdict.score or 0.0, sc))
        cells = " | ".join("–" if sc[n] is None else f"{sc[n]:.2f}" for n in DETS)
        print(f"| {p.stem} | {truth} | {src} | {rep.verdict.label} | {rep.verdict.score or 0:.3f} | "
              f"{cells} | {m.group(1) if m else '–'} | {wall / dur:.2f} |", flush=True)
    labels = [1 if t == "fake" else 0 for t, _s, _d in rows]
    print("\n| score | AUC (7 fake vs 3 real) | fakes >= 0.5 | reals >= 0.5 |\n|---|---:|---:|---:|")
    cols = [("fused", [s for _t, s, _d in rows])]
    cols += [(n, [d[n] or 0.0 for _t, _s, d in rows]) for n in DETS]
    for name, s in cols:
        fk = sum(1 for v, lab in zip(s, labels, strict=True) if lab and v >= 0.5)
        rl = sum(1 for v, lab in zip(s, labels, strict=True) if not lab and v >= 0.5)
        print(f"| {name} | {auc(s, labels):.3f} | {fk}/7 | {rl}/3 |")
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
