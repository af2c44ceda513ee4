#!/usr/bin/env python
"""Inter-frame edit detection (``frame_edits``) and shot detection (``video_shots``) measurements.

Protocol (docs/detectors/frame_edits.md, docs/detectors/video_shots.md):

- Edited clips are made from real clips with :mod:`veriscope.synth.video_edits`: each clip is decoded,
  scaled to at most ``MAX_SIDE`` px (first ``MAX_FRAMES`` frames), edited, and written with
  libx264 (crf 20, preset veryfast). Kinds: duplicate (a run of k frames repeated right after
  itself), freeze (one frame shown k more times), delete (k frames removed), insert (k frames of
  another clip of the split), insert_far (k frames from the other end of the same clip), at
  k = 3, 10, 25, at a random frame of the middle 60% of the clip (``--seeds`` positions).
- Unedited controls go through the same path (decode, scale, re-encode) at crf 20, at crf 28,
  and at crf 20 with a keyframe every 30 frames (I-frame quality pulses).
- Splits: FIT = talking-face-videoretalking-examples face_video/*.mp4 (5 clips; the only data
  the thresholds were chosen on, ``--fit`` prints the sweep), EVAL = icpr2020dfdc-video-samples
  (10 FF++ / DFDC clips, real and face-swapped; never used for fitting). For "insert", the
  other clip is the next clip of the split with a different source video.
- Metrics per kind (and per k): share of edited clips flagged (score >= 0.5), hit rate (a
  flagged segment with temporal IoU > 0.5 with the truth), detection AUC (edited vs unedited
  clip scores), temporal AP@IoU0.5 (veriscope.bench.metrics.TemporalAP, AV-Deepfake1M
  convention; proposals = flagged segments with their scores; unedited clips add their
  proposals as false positives). A deletion is scored on its junction window (+-0.2 s).
  False alarms: share of unedited clips with any flagged segment.
- ``--robust``: the k = 10 edited clips re-encoded a second time at crf 28 (a re-upload).
- Shots: cuts found on the original (not re-encoded) real clips (all are single shots), and on
  synthetic joins of two EVAL clips (a hard cut, a 12-frame dissolve, a fade through black):
  found / at the right frame (+-2 frames for cuts, within the transition for gradual ones).
- Speed: seconds of processing per second of video, on the original files (full resolution):
  scan (decoding + per-frame features, shared by both detectors), shot detection, edit analysis.

Usage: .venv/bin/python benchmarks/video_edits.py [--split fit|eval|both] [--fit] [--seeds 1]
       [--robust] [--out bench-out/video_edits.md]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from veriscope.bench.metrics import TemporalAP, iou_1d  # noqa: E402
from veriscope.core import video  # noqa: E402
from veriscope.core.media import Media  # noqa: E402
from veriscope.core.metrics import auc  # noqa: E402
from veriscope.detectors.video import frame_edits as FE  # noqa: E402
from veriscope.signals.shots import detect_shots  # noqa: E402
from veriscope.synth import video_edits as VE  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
FIT_DIR = SHARED / "talking-face-videoretalking-examples" / "face_video"
EVAL_DIR = SHARED / "icpr2020dfdc-video-samples"
CACHE = REPO / "bench-out" / "video_edits"

MAX_SIDE = 480
MAX_FRAMES = 300
KS = (3, 10, 25)
KINDS = ("duplicate", "freeze", "delete", "insert", "insert_far")
NEG_VARIANTS = {"none": {"crf": 20}, "none_crf28": {"crf": 28}, "none_gop30": {"crf": 20, "gop": 30}}
FAMILY = {"duplicate": ("duplicate", "freeze"), "freeze": ("duplicate", "freeze"),
          "delete": ("deletion", "insertion"), "insert": ("deletion", "insertion"),
          "insert_far": ("deletion", "insertion")}


def clips(split: str) -> list[Path]:
    if split == "fit":
        return sorted(FIT_DIR.glob("*.mp4"))
    return sorted(EVAL_DIR.rglob("*.mp4"))


def source_id(p: Path) -> str:
    """FF++ fakes share frames with their target original: one id per source footage."""
    return p.stem.split("_")[0]


def build(split: str, seeds: int, robust: bool) -> list[dict]:
    """Generate (or reuse) the edited and unedited clips of a split; returns their records."""
    out = CACHE / split
    out.mkdir(parents=True, exist_ok=True)
    files = clips(split)
    recs: list[dict] = []
    loaded: dict[Path, VE.Clip] = {}

    def load(p):
        if p not in loaded:
            loaded.clear() if len(loaded) > 2 else None
            loaded[p] = VE.read_clip(p, max_side=MAX_SIDE, max_frames=MAX_FRAMES)
        return loaded[p]

    for i, f in enumerate(files):
        others = [g for g in files[i + 1:] + files[:i] if source_id(g) != source_id(f)]
        other = others[0]
        jobs = [(v, "none", 0, 0, kw) for v, kw in NEG_VARIANTS.items()]
        jobs += [(f"{kind}_{k}_s{s}", kind, k, s, {"crf": 20})
                 for kind in KINDS for k in KS for s in range(seeds)]
        for tag, kind, k, s, kw in jobs:
            name = f"{f.stem}__{tag}"
            dst = out / f"{name}.mp4"
            meta = out / f"{name}.json"
            if not (dst.exists() and meta.exists()):
                clip = load(f)
                oth = load(other) if kind == "insert" else None
                tr = VE.make_edit(clip, dst, kind, k, other=oth, seed=1000 * s + 7 * k + i,
                                  **kw)
                meta.write_text(json.dumps(tr.to_dict()))
            recs.append({"file": str(dst), "clip": f.stem, "kind": kind, "k": k, "seed": s,
                         "tag": tag, "truth": json.loads(meta.read_text()), "gen": 1})
            if robust and kind != "none" and k == 10:
                dst2 = out / f"{name}__re28.mp4"
                if not dst2.exists():
                    c2 = VE.read_clip(dst)
                    VE.write_clip(c2, dst2, crf=28)
                recs.append({"file": str(dst2), "clip": f.stem, "kind": kind, "k": k, "seed": s,
                             "tag": tag + "_re28", "truth": json.loads(meta.read_text()),
                             "gen": 2})
        loaded.clear()
    return recs


def scan_all(recs: list[dict]) -> None:
    for r in recs:
        if "scan" not in r:
            r["scan"] = video.scan(Media.open(r["file"]))


def evaluate(recs: list[dict]) -> None:
    """Run the edit analysis on every record (module constants as they are now)."""
    for r in recs:
        sc = r["scan"]
        a = FE.analyze_scan(sc)
        flagged = [e for e in a.edits if e.score >= 0.5]
        r["score"] = max([e.score for e in flagged], default=float(a.curve.max()))
        r["props"] = [(e.score, *FE.edit_segment(e, sc.times, sc.duration), e.kind)
                      for e in flagged]


def hit(r: dict) -> bool:
    seg = r["truth"]["segment"]
    if not seg or not r["props"]:
        return False
    p = np.array([[s, e] for _, s, e, _ in r["props"]])
    return bool((iou_1d(p, np.array([seg])) > 0.5).any())


def kind_ok(r: dict) -> bool:
    """The hit segment has the right family label."""
    seg = r["truth"]["segment"]
    want = {"duplicate": "dup", "freeze": "dup", "delete": "deletion",
            "insert": "insertion", "insert_far": "insertion"}[r["kind"]]
    for _sc, s, e, kind in r["props"]:
        if iou_1d(np.array([[s, e]]), np.array([seg]))[0, 0] > 0.5:
            k = "dup" if kind in ("duplicate", "freeze") else kind
            return k == want
    return False


def table(recs: list[dict], title: str) -> list[str]:
    neg = [r for r in recs if r["kind"] == "none"]
    lines = [f"### {title}", "",
             f"Unedited controls: {len(neg)} clips; false alarms (any flagged segment): "
             f"{sum(bool(r['props']) for r in neg)}/{len(neg)}; mean score "
             f"{np.mean([r['score'] for r in neg]):.3f}.", "",
             "| kind | k | n | flagged | hit@IoU0.5 | right kind | AUC vs unedited | AP@0.5 |",
             "|---|---|---|---|---|---|---|---|"]
    for kind in KINDS:
        for k in (*KS, "all"):
            pos = [r for r in recs if r["kind"] == kind and (k == "all" or r["k"] == k)]
            if not pos:
                continue
            ap = TemporalAP(iou_thresholds=(0.5,))
            for r in pos + neg:
                ap.update([[s, a, b] for s, a, b, _ in r["props"]],
                          [r["truth"]["segment"]] if r["truth"]["segment"] else [])
            scores = [r["score"] for r in pos + neg]
            labels = [1] * len(pos) + [0] * len(neg)
            hits = [hit(r) for r in pos]
            lines.append(
                f"| {kind} | {k} | {len(pos)} | {np.mean([r['score'] >= 0.5 for r in pos]):.2f} "
                f"| {np.mean(hits):.2f} | {np.mean([kind_ok(r) for r in pos]):.2f} "
                f"| {auc(scores, labels):.3f} | {ap.compute()['temporal_ap@0.5']:.3f} |")
    lines.append("")
    return lines


# ---------------------------------------------------------------- fitting (FIT only)
def fit(recs: list[dict]) -> list[str]:
    """Grid search of the thresholds on FIT: per family, hit rate minus false-alarm rate."""
    neg = [r for r in recs if r["kind"] == "none"]
    out = ["### Threshold sweep on FIT (objective: hit rate - false-alarm rate per family)", ""]

    def objective(kinds: tuple[str, ...], fam: tuple[str, ...]) -> tuple[float, float, float]:
        evaluate(recs)
        pos = [r for r in recs if r["kind"] in kinds]
        h = float(np.mean([hit(r) for r in pos]))
        fa = float(np.mean([any(p[3] in fam for p in r["props"]) for r in neg]))
        return h - fa, h, fa

    saved = {k: getattr(FE, k) for k in ("FREEZE_RATIO", "REPEAT_LOGS", "JUMP_RATIO",
                                          "SPIKE_RATIO", "CONTINUITY_RATIO")}
    best = {}
    grids = [
        (("duplicate", "freeze"), ("duplicate", "freeze"),
         {"FREEZE_RATIO": (0.1, 0.15, 0.2, 0.3),
          "REPEAT_LOGS": (-0.15, -0.2, -0.25, -0.3, -0.4, -0.5, -0.6)}),
        (("delete", "insert", "insert_far"), ("deletion", "insertion"),
         {"JUMP_RATIO": (3.0, 4.0, 5.0, 6.0, 8.0), "SPIKE_RATIO": (1.5, 2.0, 2.5, 3.0, 3.5, 4.0),
          "CONTINUITY_RATIO": (2.0, 2.5, 3.0, 4.0)}),
    ]
    for kinds, fam, grid in grids:
        names = list(grid)
        rows = []
        for vals in itertools.product(*grid.values()):
            for n_, v in zip(names, vals, strict=True):
                setattr(FE, n_, v)
            rows.append((*objective(kinds, fam), vals))
        for n_, v in saved.items():
            setattr(FE, n_, v)
        rows.sort(key=lambda x: (-round(x[0], 6), x[2]))
        out.append(f"{'/'.join(kinds)} over {', '.join(names)}:")
        out.append("")
        out.append("| " + " | ".join(names) + " | hit | false alarms | objective |")
        out.append("|" + "---|" * (len(names) + 3))
        for obj, h, fa, vals in rows[:8]:
            out.append("| " + " | ".join(f"{v:g}" for v in vals)
                       + f" | {h:.2f} | {fa:.2f} | {obj:.2f} |")
        out.append("")
        best.update(dict(zip(names, rows[0][3], strict=True)))
    out.append(f"Best: {best} (current module values: {saved})")
    out.append("")
    return out


# ---------------------------------------------------------------- shots
def _join(a: VE.Clip, b: VE.Clip, mode: str, n: int = 60, trans: int = 12):
    import cv2

    h, w = a.shape
    fb = [cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA) for x in b.frames[:n]]
    fa = a.frames[:n]
    if mode == "cut":
        return VE.Clip(fa + fb, a.fps), (n, n)
    if mode == "dissolve":
        mid = []
        for i in range(trans):
            al = (i + 1) / (trans + 1)
            mid.append(cv2.addWeighted(fa[n - trans + i], 1 - al, fb[i], al, 0))
        return VE.Clip(fa[: n - trans] + mid + fb[trans:], a.fps), (n - trans, n)
    # fade through black: 8 frames out, 4 black, 8 frames in
    out_ = [(x.astype(np.float32) * (1 - (i + 1) / 9)).astype(np.uint8)
            for i, x in enumerate(fa[n - 8:])]
    black = [np.zeros_like(fa[0])] * 4
    in_ = [(x.astype(np.float32) * ((i + 1) / 9)).astype(np.uint8) for i, x in enumerate(fb[:8])]
    return VE.Clip(fa[: n - 8] + out_ + black + in_ + fb[8:], a.fps), (n - 8, n + 12)


def shots_bench() -> list[str]:
    lines = ["### Shot detection", "",
             "Cuts found on the original clips (all single shots, so every cut is false):", "",
             "| split | clips | video seconds | cuts found | scan s/s | shots s/s | edits s/s |",
             "|---|---|---|---|---|---|---|"]
    for split in ("fit", "eval"):
        n_cuts, secs, t_scan, t_shots, t_edit = 0, 0.0, 0.0, 0.0, 0.0
        fs = clips(split)
        for f in fs:
            m = Media.open(f)
            t0 = time.perf_counter()
            sc = video.scan(m)
            t1 = time.perf_counter()
            sh = detect_shots(sc)
            t2 = time.perf_counter()
            FE.analyze_scan(sc, sh)
            t3 = time.perf_counter()
            n_cuts += len(sh) - 1
            secs += sc.duration
            t_scan += t1 - t0
            t_shots += t2 - t1
            t_edit += t3 - t2
        lines.append(f"| {split} | {len(fs)} | {secs:.1f} | {n_cuts} | {t_scan / secs:.3f} "
                     f"| {t_shots / secs:.4f} | {t_edit / secs:.4f} |")
    lines += ["", "(s/s: seconds of processing per second of video, one thread; scan = decoding "
              "and per-frame features, shared by both detectors.)", "",
              "Synthetic joins of two EVAL clips (2 s each, 480 px, libx264 crf 20):", "",
              "| transition | joins | found | at the right place | extra boundaries |",
              "|---|---|---|---|---|"]
    fs = clips("eval")
    pairs = [(a, b) for a, b in itertools.combinations(fs, 2) if source_id(a) != source_id(b)]
    rng = np.random.default_rng(0)
    pairs = [pairs[i] for i in rng.choice(len(pairs), size=min(12, len(pairs)), replace=False)]
    out = CACHE / "shots"
    out.mkdir(parents=True, exist_ok=True)
    cache: dict = {}

    def load(p):
        if p not in cache:
            cache[p] = VE.read_clip(p, max_side=MAX_SIDE, max_frames=60)
        return cache[p]

    for mode in ("cut", "dissolve", "fade"):
        found = right = extra = 0
        for a, b in pairs:
            dst = out / f"{a.stem}__{b.stem}__{mode}.mp4"
            clip, (t0, t1) = _join(load(a), load(b), mode)
            if not dst.exists():
                VE.write_clip(clip, dst)
            sh = detect_shots(video.scan(Media.open(dst)))
            starts = [s.start_index for s in sh[1:]]
            lo, hi = (t0 - 2, t1 + 2) if mode == "cut" else (t0 - 1, t1 + 1)
            good = [x for x in starts if lo <= x <= hi]
            found += bool(starts)
            right += bool(good)
            extra += len(starts) - min(1, len(good))
        lines.append(f"| {mode} | {len(pairs)} | {found} | {right} | {extra} |")
    lines.append("")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("fit", "eval", "both"), default="both")
    ap.add_argument("--fit", action="store_true", help="print the threshold sweep on FIT")
    ap.add_argument("--seeds", type=int, default=1, help="edit positions per clip, kind and k")
    ap.add_argument("--robust", action="store_true", help="also k=10 edits re-encoded at crf 28")
    ap.add_argument("--no-shots", action="store_true")
    ap.add_argument("--out", default=str(REPO / "bench-out" / "video_edits.md"))
    a = ap.parse_args(argv)
    if not FIT_DIR.is_dir() or not EVAL_DIR.is_dir():
        print(f"shared data missing under {SHARED}", file=sys.stderr)
        return 2
    lines = ["## frame_edits / video_shots benchmark", "",
             f"Clips scaled to <= {MAX_SIDE} px, first {MAX_FRAMES} frames, libx264 crf 20; "
             f"{a.seeds} edit position(s) per clip, kind and k.", ""]
    splits = ("fit", "eval") if a.split == "both" else (a.split,)
    for split in splits:
        t0 = time.perf_counter()
        recs = build(split, a.seeds, a.robust)
        scan_all(recs)
        if a.fit and split == "fit":
            lines += fit([r for r in recs if r["gen"] == 1])
        evaluate(recs)
        name = "FIT (talking-face-videoretalking-examples)" if split == "fit" else \
            "EVAL (icpr2020dfdc-video-samples, never fitted on)"
        lines += table([r for r in recs if r["gen"] == 1], name)
        if a.robust:
            neg = [r for r in recs if r["kind"] == "none"]
            lines += table([r for r in recs if r["gen"] == 2] + neg,
                           name + ": k=10 edits re-encoded again at crf 28")
        print(f"[{split}: {len(recs)} clips, {time.perf_counter() - t0:.0f} s]", file=sys.stderr)
        for r in recs:
            r.pop("scan", None)
    if not a.no_shots:
        lines += shots_bench()
    text = "\n".join(lines)
    print(text)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
