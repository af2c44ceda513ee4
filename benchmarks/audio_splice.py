#!/usr/bin/env python
"""Splice localization measurements for the ``audio_splice`` and ``audio_facts`` detectors.

Protocol (docs/detectors/audio_splice.md):

- Splices are made from real recordings with :mod:`veriscope.synth.audio_splices` (true boundaries
  known, donor level matched to the host, crossfades of 0 / 5 / 20 ms, cuts in pauses):
  * FIT: FSDD digit sequences of speakers george, jackson, lucas (4-6 takes, 1-2 takes replaced
    by another FIT speaker) and same-speaker sequences. ``--fit`` grid-searches the two
    segmentation thresholds and fits the segment-score logistic on FIT only, and prints them.
  * EVAL-fsdd: the same construction with speakers nicolas, theo, yweweler.
  * EVAL-espnet: the REAL LJSpeech / LibriTTS recordings of espnet-tts-real-vs-synth as hosts,
    with a 0.7-2 s piece of another real recording (another LibriTTS speaker, the other corpus,
    or the same LJSpeech speaker and room) or 2-3 EVAL-speaker FSDD digits (8 kHz: a
    band-limited insert) inserted at a pause or appended. Never used for fitting.
- Every EVAL file is written as 16-bit WAV and analysed through Media.open + analyze, as in
  production.
- Metrics: segment AP at IoU 0.5, both as the AV-Deepfake1M / LAV-DF code computes it
  (veriscope.bench.metrics.TemporalAP, which skips the first recall step) and as the usual
  all-point AP; proposals = every non-host segment with its score; same-source files count
  their proposals as false positives. Boundary error: for each true boundary, the distance to
  the nearest reported boundary (median, and share within 50 / 100 ms; boundaries more than
  0.5 s from any report count as missed). File level: share of spliced files with score >= 0.5
  and false-alarm rate (score >= 0.5) on unspliced real recordings.
- False alarms on unspliced real files: the 10 espnet real recordings, FSDD originals (most are
  under 1 s: not applicable), FSDD same-speaker sequences, the 2 WAVs and 5 videos of
  talking-face-videoretalking-examples, and the 12 real MP3s of resemblyzer-trump-real-fake
  (YouTube interviews: these may contain genuine edits and several speakers, so their flag
  rate is an upper bound on false alarms).
- Speed: seconds of audio per second of CPU on one core (threads pinned to 1).

Usage: .venv/bin/python benchmarks/audio_splice.py [--fit] [--n 80] [--no-speed]
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from veriscope.bench.metrics import TemporalAP, iou_1d  # noqa: E402
from veriscope.core.media import Media  # noqa: E402
from veriscope.detectors.audio import audio_splice as AS  # noqa: E402
from veriscope.detectors.audio.audio_facts import AudioFactsDetector  # noqa: E402
from veriscope.detectors.audio.audio_splice import AudioSpliceDetector  # noqa: E402
from veriscope.detectors.base import Context  # noqa: E402
from veriscope.synth import audio_splices as S  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
FSDD = SHARED / "fsdd-spoken-digits-subset"
ESPNET = SHARED / "espnet-tts-real-vs-synth"
TALK = SHARED / "talking-face-videoretalking-examples"
TRUMP = SHARED / "resemblyzer-trump-real-fake"


# ------------------------------------------------------------------ metrics
def all_point_ap(items) -> float:
    """Usual all-point AP at IoU > 0.5: items = [(proposals [[conf, s, e]], gt [[s, e]])]."""
    confs, tps, n_gt = [], [], 0
    for props, gt in items:
        p = np.asarray(props, np.float64).reshape(-1, 3)
        p = p[np.argsort(-p[:, 0], kind="stable")]
        g = np.asarray(gt, np.float64).reshape(-1, 2)
        n_gt += len(g)
        used = np.zeros(len(g), bool)
        iou = iou_1d(p[:, 1:], g) if len(g) and len(p) else np.zeros((len(p), len(g)))
        for i in range(len(p)):
            ok = np.nonzero((iou[i] > 0.5) & ~used)[0] if len(g) else []
            tp = len(ok) > 0
            if tp:
                used[ok[np.argmax(iou[i][ok])]] = True
            confs.append(p[i, 0])
            tps.append(tp)
    if not n_gt:
        return float("nan")
    o = np.argsort(-np.asarray(confs), kind="stable")
    tp = np.asarray(tps, bool)[o]
    cum = np.cumsum(tp)
    prec = cum / np.arange(1, len(tp) + 1)
    rec = cum / n_gt
    env = np.maximum.accumulate(prec[::-1])[::-1] if len(prec) else prec
    r_prev, ap = 0.0, 0.0
    for r, pr in zip(rec, env, strict=True):
        ap += (r - r_prev) * pr
        r_prev = r
    return float(ap)


def boundary_errors(true_b, found_b, reach=0.5):
    out = []
    for b in true_b:
        d = min((abs(b - f) for f in found_b), default=None)
        out.append(d if d is not None and d <= reach else None)
    return out


def summarize(rows) -> dict:
    """rows: dicts with props, gt, true_b, found_b, score, spliced."""
    ap = TemporalAP((0.5,))
    for r in rows:
        ap.update(r["props"], r["gt"])
    errs = [e for r in rows if r["spliced"] for e in boundary_errors(r["true_b"], r["found_b"])]
    hit = np.array([e for e in errs if e is not None]) * 1000
    sp = [r for r in rows if r["spliced"]]
    neg = [r for r in rows if not r["spliced"]]
    return {
        "n_spliced": len(sp), "n_unspliced": len(neg),
        "ap50_avdf1m": ap.compute()["temporal_ap@0.5"],
        "ap50": all_point_ap([(r["props"], r["gt"]) for r in rows]),
        "boundary_found": len(hit) / max(1, len(errs)),
        "boundary_median_ms": float(np.median(hit)) if len(hit) else float("nan"),
        "boundary_mean_ms": float(np.mean(hit)) if len(hit) else float("nan"),
        "within_50ms": float(np.mean([e is not None and e <= 0.05 for e in errs])) if errs else 0,
        "within_100ms": float(np.mean([e is not None and e <= 0.1 for e in errs])) if errs else 0,
        "detected": float(np.mean([r["score"] >= 0.5 for r in sp])) if sp else float("nan"),
        "false_alarm": float(np.mean([r["score"] >= 0.5 for r in neg])) if neg else float("nan"),
    }


# ------------------------------------------------------------------ running
def row_from_locate(sp: S.AudioSplice, r: dict) -> dict:
    props = [[p["score"], p["start"], p["end"]] for p in r["segments"]]
    return {"props": props, "gt": sp.segments, "true_b": sp.boundaries if sp.segments else [],
            "found_b": [b["time_s"] for b in r["boundaries"]],
            "score": max([p[0] for p in props], default=0.0), "spliced": bool(sp.segments)}


def row_from_evidence(sp: S.AudioSplice, ev) -> dict:
    props = [[s.score or 0.0, s.start, s.end] for s in ev.segments]
    found = [b["time_s"] for b in ev.data.get("boundaries", [])] if ev.applicable else []
    return {"props": props, "gt": sp.segments, "true_b": sp.boundaries if sp.segments else [],
            "found_b": found, "score": ev.score or 0.0, "spliced": bool(sp.segments),
            "applicable": ev.applicable}


def run_detectors(items, tmp: Path, facts: bool = True):
    det, fdet = AudioSpliceDetector(), AudioFactsDetector()
    rows, frows = [], []
    for name, sp in items:
        p = S.write_wav(tmp / f"{name}.wav", sp.audio, sp.rate)
        m = Media.open(p)
        rows.append({**row_from_evidence(sp, det.analyze(m, Context())), "name": name,
                     "meta": sp.params})
        if facts:
            ev = fdet.analyze(m, Context())
            bl = [s for s in ev.segments if s.label == "band_limited_insert"]
            frows.append({"props": [[s.score, s.start, s.end] for s in bl], "gt": sp.segments,
                          "score": ev.score or 0.0, "spliced": bool(sp.segments), "name": name,
                          "true_b": [], "found_b": [],
                          "relation": sp.params.get("relation", "fsdd")})
        p.unlink()
    return rows, frows


# ------------------------------------------------------------------ fitting (FIT split only)
def _to_s(i, T, tt, duration):
    return 0.0 if i <= 0 else (duration if i >= T else float(tt[i] - AS.HOP_S / 2))


def fit(n: int, seed: int):
    from scipy.optimize import minimize

    items = S.fsdd_set(FSDD, S.FIT_SPEAKERS, n=n, seed=seed) + \
        S.espnet_set(ESPNET, FSDD, n=n, seed=seed, fsdd_speakers=S.FIT_SPEAKERS,
                     stems=S.ESPNET_FIT)
    prepped = [(sp, AS.prepare(sp.audio, sp.rate)) for _, sp in items]
    print(f"FIT: {len(items)} files ({sum(bool(sp.segments) for sp, _ in prepped)} spliced)")
    best = None
    for peak in (2.0, 4.0, 8.0):
        for merge in (4.0, 8.0, 12.0, 16.0, 24.0, 32.0):
            rows = []
            for sp, F in prepped:
                seg = AS.segment(F, peak_t2=peak, merge_t2=merge)
                pieces = AS.score_segments(F, seg["boundaries"], w=(1.0, 0.5, 0.0, 0.0), b=0.0,
                                           join_t2=merge)
                T = seg["T"]
                tt = F["t"]
                props = [[p["score"], _to_s(p["frames"][0], T, tt, sp.duration),
                          _to_s(p["frames"][1], T, tt, sp.duration)] for p in pieces]
                rows.append((props, sp.segments))
            ap = all_point_ap(rows)
            print(f"  peak_t2={peak:g} merge_t2={merge:g}: AP@0.5 {ap:.3f}")
            if best is None or ap > best[0]:
                best = (ap, peak, merge)
    _, peak, merge = best
    X, y = [], []
    for sp, F in prepped:
        seg = AS.segment(F, peak_t2=peak, merge_t2=merge)
        T = seg["T"]
        tt = F["t"]
        for p in AS.score_segments(F, seg["boundaries"], join_t2=merge):
            a, b = p["frames"]
            s0 = 0.0 if a <= 0 else float(tt[a] - AS.HOP_S / 2)
            s1 = sp.duration if b >= T else float(tt[b] - AS.HOP_S / 2)
            iou = float(iou_1d(np.array([[s0, s1]]), np.array(sp.segments)).max()) \
                if sp.segments else 0.0
            X.append(p["features"])
            y.append(1.0 if iou > 0.5 else 0.0)
    X, y = np.array(X), np.array(y)

    def loss(v):
        z = X @ v[:-1] + v[-1]
        return float(np.mean(np.logaddexp(0, z) - y * z) + 1e-3 * np.sum(v[:-1] ** 2))

    res = minimize(loss, np.zeros(X.shape[1] + 1), method="BFGS")
    w, b = res.x[:-1], res.x[-1]
    print(f"best: PEAK_T2 = {peak:g}, MERGE_T2 = {merge:g} (FIT AP@0.5 {best[0]:.3f})")
    print(f"segment logistic on {len(y)} FIT segments ({int(y.sum())} true): "
          f"LOGIT_W = ({', '.join(f'{v:.3f}' for v in w)}), LOGIT_B = {b:.3f}")
    z = X @ w + b
    p = 1 / (1 + np.exp(-z))
    print(f"  FIT: segments >= 0.5: {int((p >= 0.5).sum())}, of them true {int(y[p >= 0.5].sum())}")


# ------------------------------------------------------------------ false alarms
def real_files() -> dict[str, list[Path]]:
    return {
        "espnet real (LJSpeech, LibriTTS)": S.espnet_real_files(ESPNET),
        "fsdd originals": sorted(FSDD.rglob("*.wav")),
        "talking-face wav + mp4": sorted(TALK.rglob("*.wav")) + sorted(TALK.rglob("*.mp4")),
        "trump real mp3 (YouTube; upper bound)": sorted((TRUMP).rglob("real/*.mp3")),
    }


def false_alarms():
    det, fdet = AudioSpliceDetector(), AudioFactsDetector()
    out = []
    for name, files in real_files().items():
        n_app, fl, flr, ffl, secs, t_s, t_f = 0, 0, 0, 0, 0.0, 0.0, 0.0
        for p in files:
            m = Media.open(p)
            t0 = time.process_time()
            ev = det.analyze(m, Context())
            t1 = time.process_time()
            fe = fdet.analyze(m, Context())
            t2 = time.process_time()
            t_s += t1 - t0
            t_f += t2 - t1
            if ev.applicable:
                n_app += 1
                fl += (ev.score or 0) >= 0.5
                flr += (ev.score or 0) >= 0.5 and ev.data["reliability"]["level"] != "low"
                secs += ev.data.get("analysed_s", 0.0)
            ffl += (fe.score or 0) >= 0.5
        out.append((name, len(files), n_app, fl, flr, ffl, secs))
    return out


def speed():
    """The longest real MP3 (330 s interview) and the espnet real recordings concatenated 5
    times (318 s WAV); decoding timed separately."""
    mp3 = sorted(TRUMP.rglob("real/*.mp3"), key=lambda p: -p.stat().st_size)[:1]  # longest
    det, fdet = AudioSpliceDetector(), AudioFactsDetector()
    res = []
    with tempfile.TemporaryDirectory() as td:
        x = np.concatenate([S.read_mono(p, 24000)[0] for p in S.espnet_real_files(ESPNET)] * 5)
        wav = S.write_wav(Path(td) / "long.wav", x, 24000)
        for p in ([mp3[0]] if mp3 else []) + [wav]:
            m = Media.open(p)
            from veriscope.detectors.audio.audio_facts import load_audio

            t0 = time.process_time()
            inp = load_audio(m)
            t1 = time.process_time()
            det.analyze(m, Context())
            t2 = time.process_time()
            fdet.analyze(m, Context())
            t3 = time.process_time()
            res.append((p.name, inp.seconds, inp.rate, t1 - t0, t2 - t1, t3 - t2))
    return res


def fmt(v, pct=False):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.0%}" if pct else (f"{v:.3f}" if isinstance(v, float) else str(v))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="fit the constants on FIT and stop")
    ap.add_argument("--n", type=int, default=80, help="spliced files per set")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-fa", action="store_true", help="skip the false-alarm sets")
    a = ap.parse_args(argv)
    if not FSDD.is_dir() or not ESPNET.is_dir():
        sys.exit(f"shared data missing under {SHARED}")
    if a.fit:
        fit(a.n, a.seed)
        return
    sets = {
        "EVAL-fsdd (nicolas, theo, yweweler)": S.fsdd_set(FSDD, S.EVAL_SPEAKERS, n=a.n,
                                                         seed=a.seed + 1),
        "EVAL-espnet (real LJSpeech/LibriTTS hosts)": S.espnet_set(ESPNET, FSDD, n=a.n,
                                                                  seed=a.seed + 2),
        "FIT-fsdd (george, jackson, lucas; seen in fitting)": S.fsdd_set(
            FSDD, S.FIT_SPEAKERS, n=a.n, seed=a.seed),
        "FIT-espnet (LJ 0029-0030, LibriTTS 121, 237; seen in fitting)": S.espnet_set(
            ESPNET, FSDD, n=a.n, seed=a.seed, fsdd_speakers=S.FIT_SPEAKERS, stems=S.ESPNET_FIT),
    }
    for key, stems in (("EVAL-espnet", S.ESPNET_EVAL), ("FIT-espnet", S.ESPNET_FIT)):
        name = next(k for k in sets if k.startswith(key))
        for p in S.espnet_real_files(ESPNET):  # the unspliced hosts are negatives too
            if p.stem in stems:
                x, sr = S.read_mono(p)
                sets[name].append((f"orig_{p.stem}", S.AudioSplice(x, sr, [], [], "original",
                                                                   {"relation": "original"})))
    print("## audio_splice: segment localization (AP at IoU 0.5, boundary error)\n")
    print("| set | spliced / unspliced | AP@0.5 | AP@0.5 (AVDF1M code) | boundary found (<=0.5 s)"
          " | median / mean error | within 50 / 100 ms | files >= 0.5 | false alarms (same-source) |")
    print("|---|---|---|---|---|---|---|---|---|")
    facts_rows = {}
    by_rel: dict[str, list] = {}
    with tempfile.TemporaryDirectory() as td:
        for name, items in sets.items():
            rows, frows = run_detectors(items, Path(td), facts=True)
            facts_rows[name] = frows
            if name.startswith("EVAL-espnet"):
                for r in rows:
                    by_rel.setdefault(r["meta"].get("relation", "?"), []).append(r)
            m = summarize(rows)
            print(f"| {name} | {m['n_spliced']} / {m['n_unspliced']} | {fmt(m['ap50'])} | "
                  f"{fmt(m['ap50_avdf1m'])} | {fmt(m['boundary_found'], True)} | "
                  f"{m['boundary_median_ms']:.0f} / {m['boundary_mean_ms']:.0f} ms | "
                  f"{fmt(m['within_50ms'], True)} / {fmt(m['within_100ms'], True)} | "
                  f"{fmt(m['detected'], True)} | {fmt(m['false_alarm'], True)} |")
    print("\nEVAL-espnet by donor:\n")
    print("| donor | n | AP@0.5 | median boundary error | files >= 0.5 |")
    print("|---|---|---|---|---|")
    for rel, rows in sorted(by_rel.items()):
        if rel == "original":
            continue
        m = summarize(rows)
        print(f"| {rel} | {len(rows)} | {fmt(m['ap50'])} | {m['boundary_median_ms']:.0f} ms | "
              f"{fmt(m['detected'], True)} |")
    print("\n## audio_facts: band-limited inserts (segments labelled band_limited_insert)\n")
    print("| set / donor | n spliced | AP@0.5 | files with an insert finding (score >= 0.5) |")
    print("|---|---|---|---|")
    for name, frows in facts_rows.items():
        groups: dict[str, list] = {}
        for r in frows:
            groups.setdefault(r["relation"], []).append(r)
        for rel, rs in sorted(groups.items()):
            sp = [r for r in rs if r["spliced"]]
            if not sp:
                continue
            print(f"| {name.split(' ')[0]} / {rel} | {len(sp)} | "
                  f"{fmt(all_point_ap([(r['props'], r['gt']) for r in rs]))} | "
                  f"{fmt(float(np.mean([r['score'] >= 0.5 for r in sp])), True)} |")
    if not a.no_fa:
        print("\n## False alarms on unspliced real recordings (score >= 0.5)\n")
        print("| set | files | audio_splice applicable | audio_splice flagged | ... with reliability"
              " not low | audio_facts flagged | seconds analysed |")
        print("|---|---|---|---|---|---|---|")
        for name, n, n_app, fl, flr, ffl, secs in false_alarms():
            print(f"| {name} | {n} | {n_app} | {fl} | {flr} | {ffl} | {secs:.0f} |")
    if not a.no_speed:
        print("\n## Speed (one core, CPU seconds)\n")
        print("| file | audio s | rate | decode s | audio_splice s (x real time) | "
              "audio_facts s (x real time) |")
        print("|---|---|---|---|---|---|")
        for name, secs, rate, dec, ts, tf in speed():
            print(f"| {name} | {secs:.0f} | {rate} | {dec:.2f} | {ts:.2f} (x{secs / ts:.0f}) | "
                  f"{tf:.2f} (x{secs / tf:.0f}) |")


if __name__ == "__main__":
    main()
