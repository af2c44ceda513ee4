#!/usr/bin/env python
"""FIT and EVAL measurements of the ``faces`` detector (face against its surroundings).

Protocol (docs/detectors/faces.md):

- FIT: the 5 talking-head clips of talking-face-videoretalking-examples (face_video/1..5.mp4).
  Real samples: each clip as shipped and re-encoded with libx264 at CRF 18 / 23 / 28
  (:func:`veriscope.synth.face_swaps.reencode`, the same path as the swaps).
  Fake samples: for every ordered pair (target, source) of different clips, ``--per-pair``
  (default 2) landmark face swaps (:func:`veriscope.synth.face_swaps.make_swap`) with options drawn
  from a fixed grid by a seeded generator, plus one more at a frame scale of 0.5 or 0.35
  = 60 swapped tracks. Real clips are also re-encoded at scales 0.5 and 0.35 (30 real tracks).
  ``--fit`` computes the per-track vectors, reports the leave-one-identity-out AUC of the
  candidate models (held out: every sample whose target or source is that clip; the fold's
  model is fitted on the rest, reals of the other 4 clips included) and prints the constants of
  the final model (fitted on all FIT samples) to paste into src/veriscope/detectors/faces.py.
- EVAL: the 10 videos of icpr2020dfdc-video-samples (FF++ c23: 3 real, 4 fake; DFDC: 3 fake),
  analysed through Media.open + FacesDetector.analyze as in production. Never used to fit or
  choose anything. Reported: per-video score and per-track scores, video AUC (real = 0,
  fake = 1), and the three frame-aligned FF++ pairs (real vs its manipulated version).
- Speed: wall seconds per second of video for each EVAL video (tracking included).

Usage: .venv/bin/python benchmarks/faces.py [--fit] [--eval] [--cache DIR] [--per-pair 2]
(no flag: both).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from veriscope.core.media import Media
from veriscope.core.metrics import auc
from veriscope.detectors.base import Context
from veriscope.detectors.video import faces as F
from veriscope.synth import face_swaps as FS

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
TALK = SHARED / "talking-face-videoretalking-examples" / "face_video"
ICPR = SHARED / "icpr2020dfdc-video-samples" / "test" / "data"

GRID = {
    "feather": (0.03, 0.06, 0.10),
    "shrink": (0.0, 0.03, 0.06),
    "colour": (True, False),
    "poisson": (False, False, True),
    "face_px": (None, 64, 96, 128),
    "crf": (18, 23, 28),
}
REAL_CRFS = (18, 23, 28)
SMALL_SCALES = (0.5, 0.35)
"""The FIT clips have faces 220-340 px wide; frames scaled by these give 80-170 px faces, the
range of ordinary web video (a coverage choice made before any EVAL run)."""


# ------------------------------------------------------------------ FIT set
def build_fit(cache: Path, per_pair: int, seed: int) -> list[dict]:
    """Make (or reuse) the FIT videos; returns [{path, label, target, source, options}]."""
    cache.mkdir(parents=True, exist_ok=True)
    clips = sorted(TALK.glob("*.mp4"))
    media = {p.stem: Media.open(p) for p in clips}
    rng = np.random.default_rng(seed)
    items = []
    for p in clips:
        items.append({"path": str(p), "label": 0, "target": p.stem, "source": None,
                      "options": {"as_shipped": True}})
        for crf in REAL_CRFS:
            out = cache / f"real_{p.stem}_crf{crf}.mp4"
            if not out.exists():
                FS.reencode(media[p.stem], out, crf=crf, audio=False)
            items.append({"path": str(out), "label": 0, "target": p.stem, "source": None,
                          "options": {"crf": crf}})
        for sc in SMALL_SCALES:
            out = cache / f"real_{p.stem}_crf23_x{sc}.mp4"
            if not out.exists():
                FS.reencode(media[p.stem], out, crf=23, audio=False, scale=sc)
            items.append({"path": str(out), "label": 0, "target": p.stem, "source": None,
                          "options": {"crf": 23, "scale": sc}})
    for t in clips:
        for s in clips:
            if s == t:
                continue
            for k in range(per_pair + 1):
                o = {key: vals[int(rng.integers(len(vals)))] for key, vals in GRID.items()}
                # the extra swap of each pair is made at a smaller frame scale
                o["scale"] = 1.0 if k < per_pair else SMALL_SCALES[int(rng.integers(2))]
                opts = FS.SwapOptions(audio=False, **o)
                tag = hashlib.sha1(json.dumps(o, sort_keys=True).encode()).hexdigest()[:8]
                out = cache / f"swap_{t.stem}_{s.stem}_{k}_{tag}.mp4"
                if not out.exists():
                    t0 = time.time()
                    tr = FS.make_swap(media[t.stem], media[s.stem], out, opts)
                    print(f"  made {out.name} ({len(tr.swapped_frames)}/{tr.n_frames} frames "
                          f"swapped, {time.time() - t0:.1f} s) {o}", file=sys.stderr)
                items.append({"path": str(out), "label": 1, "target": t.stem, "source": s.stem,
                              "options": o})
    return items


def _track_cache(path: str, cache: Path):
    """The largest face track of a FIT video (crops and landmarks), pickled in ``cache``."""
    import pickle

    from veriscope.signals.faces import track_faces

    f = cache / "tracks" / (hashlib.sha1(path.encode()).hexdigest()[:16] + ".pkl")
    if f.exists():
        return pickle.loads(f.read_bytes())
    scan = track_faces(Media.open(path))
    tr = max(scan.tracks, key=lambda t: t.n) if scan.tracks else None
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(pickle.dumps(tr))
    return tr


def fit_vectors(items: list[dict], cache: Path) -> tuple[list[dict], float]:
    """Per-track vectors of the FIT items (largest track of each video), with the landmark
    noise (pixels) fitted on the FIT reals: median jitter^2 = a + c^2 / eye_px^2."""
    for it in items:
        tr = _track_cache(it["path"], cache)
        a = F.analyse_track(tr) if tr is not None else {"vector": None}
        it["analysis"] = a
    items = [it for it in items if it["analysis"]["vector"] is not None]
    reals = [it["analysis"] for it in items if it["label"] == 0]
    y = np.array([np.median(a["jitter_raw"]) ** 2 for a in reals])
    X = np.c_[np.ones(len(reals)), [1.0 / a["eye_px"] ** 2 for a in reals]]
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    noise_px = float(np.sqrt(max(coef[1], 0.0)))
    for it in items:
        a = it["analysis"]
        it["vector"] = F.track_vector(a["crop_features"], a["jitter_raw"], a["eye_px"], noise_px)
    return items, noise_px


# ------------------------------------------------------------------ models
def reference(reals: list[dict]) -> tuple[dict, dict]:
    """Centre and scale of each feature over the real tracks.

    The real clips differ far more between each other (person, background, light) than the
    re-encodes of one clip do, so the scale is taken between clips: the clips' medians give the
    centre (their median) and the scale (their standard deviation, floored at 1.4826 MAD of all
    real tracks and at 0.001)."""
    centre, scale = {}, {}
    ids = sorted({it["target"] for it in reals})
    for k in F.FEATURES:
        def vals(rows, k=k):
            v = np.array([r["vector"][k] for r in rows], np.float64)
            return v[np.isfinite(v)]
        per = np.array([np.median(vals([r for r in reals if r["target"] == i])) for i in ids])
        per = per[np.isfinite(per)]
        allv = vals(reals)
        c = float(np.median(per))
        s = max(float(np.std(per, ddof=1)) if len(per) > 1 else 0.0,
                1.4826 * float(np.median(np.abs(allv - np.median(allv)))), 1e-3)
        centre[k], scale[k] = c, s
    return centre, scale


def design(items, centre, scale) -> np.ndarray:
    return np.array([[F.deviations(it["vector"], centre, scale)[k] for k in F.FEATURES]
                     for it in items], np.float64)


def logistic(X: np.ndarray, y: np.ndarray, l2: float, nonneg: bool = True,
             iters: int = 3000) -> tuple[np.ndarray, float]:
    """L2-penalised logistic regression by projected gradient descent (weights >= 0 when
    ``nonneg``: a larger deviation from real faces never lowers the score). Classes are
    weighted to equal total weight."""
    n, d = X.shape
    w, b = np.zeros(d), 0.0
    cw = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum()))
    lr = 0.5
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
        g = p - y
        gw = X.T @ (cw * g) + l2 * w / n
        gb = float(np.sum(cw * g))
        w -= lr * gw
        b -= lr * gb
        if nonneg:
            w = np.maximum(w, 0.0)
    return w, b


TEMPORAL = [F.FEATURES.index(k) for k in F.FLICKER_FEATURES]


def fit_model(items, kind: str) -> dict:
    """``zsum``: equal weights (score = sigmoid(a * mean deviation + b)); ``logit_L``: logistic
    with L2 penalty L; a ``t`` prefix uses the temporal features (flickers, jaw jitter) only."""
    centre, scale = reference([it for it in items if it["label"] == 0])
    X = design(items, centre, scale)
    y = np.array([it["label"] for it in items], np.float64)
    cols = TEMPORAL if kind.startswith("t") else list(range(X.shape[1]))
    Xs = X[:, cols]
    w = np.zeros(X.shape[1])
    if kind.endswith("zsum"):
        a, b = logistic(Xs.mean(axis=1, keepdims=True), y, l2=0.0)
        w[cols] = a[0] / len(cols)
    else:
        wc, b = logistic(Xs, y, l2=float(kind.split("_")[1]))
        w[cols] = wc
    return {"centre": centre, "scale": scale, "weights": dict(zip(F.FEATURES, w.tolist(), strict=True)),
            "bias": float(b)}


def score_with(model, vec) -> float:
    return F.track_score(vec, model["weights"], model["bias"], model["centre"], model["scale"])


def loio(items, kind: str) -> tuple[float, list]:
    """Leave-one-identity-out scores and AUC."""
    ids = sorted({it["target"] for it in items})
    out = []
    for k in ids:
        train = [it for it in items if it["target"] != k and it["source"] != k]
        test = [it for it in items if it["target"] == k]
        m = fit_model(train, kind)
        out += [(score_with(m, it["vector"]), it["label"], it) for it in test]
    return auc([s for s, _, _ in out], [lab for _, lab, _ in out]), out


MODELS = ("zsum", "logit_1", "logit_10", "logit_100", "tzsum", "tlogit_1", "tlogit_10")


def run_fit(args) -> dict:
    t0 = time.time()
    items, noise_px = fit_vectors(build_fit(args.cache, args.per_pair, args.seed), args.cache)
    n_real = sum(1 for it in items if it["label"] == 0)
    print(f"FIT: {n_real} real, {len(items) - n_real} fake tracks ({time.time() - t0:.0f} s)")
    print("\nper-feature LOIO-free separation on FIT (AUC of the raw feature, real vs swap):")
    y = [it["label"] for it in items]
    for k in F.FEATURES:
        v = [it["vector"][k] if it["vector"][k] is not None and np.isfinite(it["vector"][k]) else 0.0
             for it in items]
        r = [it["vector"][k] for it in items if it["label"] == 0]
        f = [it["vector"][k] for it in items if it["label"] == 1]
        print(f"  {k:15s} AUC {auc(v, y):.3f}  real median {np.nanmedian(r):+.3f}  "
              f"swap median {np.nanmedian(f):+.3f}")
    res = {"n_real": n_real, "n_fake": len(items) - n_real, "loio_auc": {},
           "landmark_noise_px": noise_px}
    print(f"landmark noise fitted on the FIT reals: {noise_px:.3f} px")
    print("\nleave-one-identity-out AUC (FIT):")
    for kind in MODELS:
        a, _ = loio(items, kind)
        res["loio_auc"][kind] = a
        print(f"  {kind:10s} {a:.3f}")
    best = args.model or max(MODELS, key=lambda k: res["loio_auc"][k])
    m = fit_model(items, best)
    res["model"] = best
    res["constants"] = m
    fit_scores = [score_with(m, it["vector"]) for it in items]
    res["fit_auc_resubstitution"] = auc(fit_scores, y)
    _, oof = loio(items, best)
    res["loio_real_scores"] = sorted(round(s, 3) for s, lab, _ in oof if lab == 0)
    res["loio_fake_scores"] = sorted(round(s, 3) for s, lab, _ in oof if lab == 1)
    print(f"\nchosen: {best} (LOIO AUC {res['loio_auc'][best]:.3f}; resubstitution "
          f"{res['fit_auc_resubstitution']:.3f})")
    print("LOIO real scores:", res["loio_real_scores"])
    print("LOIO fake scores:", res["loio_fake_scores"])
    print("\n# constants to paste (fitted on FIT):")
    r4 = lambda d: {k: round(v, 4) for k, v in d.items()}  # noqa: E731
    print(f"LANDMARK_NOISE_PX = {noise_px:.3f}")
    print(f"REF_CENTRE = {r4(m['centre'])}")
    print(f"REF_SCALE = {r4(m['scale'])}")
    print(f"WEIGHTS = {r4(m['weights'])}")
    print(f"BIAS = {m['bias']:.4f}")
    return res


# ------------------------------------------------------------------ EVAL
def eval_items() -> list[tuple[str, Path, int]]:
    out = []
    for p in sorted((ICPR / "ffpp").rglob("*.mp4")):
        out.append((p.stem, p, 0 if "original_sequences" in p.parts else 1))
    for meta in sorted((ICPR / "dfdc").rglob("metadata.json")):
        labels = json.loads(meta.read_text())
        for name, d in labels.items():
            p = meta.parent / name
            if p.exists():
                out.append((p.stem, p, 1 if d.get("label") == "FAKE" else 0))
    return out


def run_eval(args) -> dict:
    det = F.FacesDetector()
    rows = []
    for name, p, label in eval_items():
        m = Media.open(p)
        t0 = time.time()
        ev = det.analyze(m, Context())
        dt = time.time() - t0
        dur = float(m.facts.get("duration") or 0.0)
        tracks = [(t["id"], t["score"], t["start"], t["end"], t["n_crops"]) for t in ev.data["tracks"]]
        rows.append({"video": name, "label": label, "score": ev.score, "tracks": tracks,
                     "seconds": round(dur, 2), "wall_s": round(dt, 2),
                     "s_per_video_s": round(dt / max(dur, 1e-9), 3),
                     "findings": [f.code for f in ev.findings],
                     "features": [t["features"] for t in ev.data["tracks"]]})
        print(f"  {name:12s} {'FAKE' if label else 'real'}  score "
              f"{'-' if ev.score is None else f'{ev.score:.3f}'}  tracks "
              f"{[(i, None if s is None else round(s, 3), st, en) for i, s, st, en, _ in tracks]}"
              f"  {dt:.1f} s ({dt / max(dur, 1e-9):.2f} s per video s)")
    scored = [r for r in rows if r["score"] is not None]
    a = auc([r["score"] for r in scored], [r["label"] for r in scored]) if scored else float("nan")
    by = {r["video"]: r["score"] for r in rows}
    pairs = []
    for real, fake in (("004", "004_982"), ("519", "519_515"), ("634", "634_660")):
        if real in by and fake in by and by[real] is not None and by[fake] is not None:
            pairs.append({"real": real, "fake": fake, "real_score": by[real],
                          "fake_score": by[fake], "fake_higher": by[fake] > by[real]})
    print(f"\nEVAL video AUC ({len(scored)} scored of {len(rows)}): {a:.3f}")
    for pr in pairs:
        print(f"  pair {pr['real']} {pr['real_score']:.3f} vs {pr['fake']} {pr['fake_score']:.3f}: "
              f"fake higher = {pr['fake_higher']}")
    sp = [r["s_per_video_s"] for r in rows]
    print(f"speed: median {np.median(sp):.2f} s of wall time per second of video")
    return {"videos": rows, "auc": a, "pairs": pairs, "median_s_per_video_s": float(np.median(sp))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--eval", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/veriscope_faces_fit"))
    ap.add_argument("--per-pair", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--model", choices=MODELS, default=None,
                    help="force a model instead of the best LOIO one")
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = ap.parse_args(argv)
    both = not args.fit and not args.eval
    res = {}
    if args.fit or both:
        res["fit"] = run_fit(args)
    if args.eval or both:
        print("\nEVAL (icpr2020dfdc-video-samples):")
        res["eval"] = run_eval(args)
    if args.out:
        args.out.write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
