"""Measurements of the ``synthetic_speech`` detector (see docs/detectors/synthetic_speech.md).

Protocols:

1. Leave-one-TTS-system-out on espnet-tts-real-vs-synth (8 systems). For a held-out system S
   of corpus C and each utterance u of C (5-fold, one utterance at a time): train on every
   training source *except* system S and except every espnet file of utterance u (real or
   synthetic, so no sentence is seen in training), then score S's file of u and the real
   file of u. Per system: 5 synthetic vs 5 real file scores -> AUC and EER. Robustness: the
   same held-out files after a 4 kHz band limit, an MP3 round trip and added noise.
2. Held-out FSDD speaker (6 folds): train without that speaker and without one sixth of the
   espeak-ng / festival texts; test its real digits against the held-out synthetic files.
3. Dataset-separation checks: mean held-out scores of real files per dataset (a model that
   separated datasets would score espnet's *real* files like espnet's TTS files), and the
   score shift of held-out files under band limiting.
4. Untouched by training, with the committed model through ``Media.open`` + ``analyze``:
   resemblyzer-trump-real-fake (12 real vs 6 fake MP3s of another voice and channel) and
   the 7 real clips of talking-face-videoretalking-examples (false alarms).
5. Speed: real-time factor of ``analyze`` on one thread.

Usage: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/synthetic_speech.py
       [--seed N] [--l2 X] [--no-tts] [--skip-loso] [--json OUT]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core: before numpy is imported
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from veriscope.core.media import Media  # noqa: E402
from veriscope.core.metrics import auc, eer  # noqa: E402
from veriscope.detectors.audio import synthetic_speech as ss  # noqa: E402
from veriscope.detectors.base import Context  # noqa: E402
from veriscope.train import synthetic_speech as T  # noqa: E402


def file_scores(model, fs, mask) -> dict[int, float]:
    """Mean window probability per item over the windows in ``mask``."""
    out = {}
    if not mask.any():
        return out
    p = model.probs(fs.X[mask])
    idx = fs.item[mask]
    for i in np.unique(idx):
        out[int(i)] = float(p[idx == i].mean())
    return out


def rnd(x, k=3):
    return None if x is None or x != x else round(float(x), k)


EVAL_VARIANTS = ("clean", "bl", "mp3", "noise", "eq+reverb")
"""Fixed conditions of the held-out test files (training copies are random chains)."""


def loso(fs, ft, l2: float, kind: str = "mlp", offset: float = 0.0, log=print) -> dict:
    """``fs``: training features (all sources, augmented); ``ft``: espnet test features in
    EVAL_VARIANTS."""
    items = fs.items
    sysname = np.array([it.system for it in items])
    source = np.array([it.source for it in items])
    corpus = np.array([it.corpus for it in items])
    utt = np.array([it.group for it in items])
    t_sys = np.array([it.system for it in ft.items])
    t_corpus = np.array([it.corpus for it in ft.items])
    t_utt = np.array([it.group for it in ft.items])
    systems = sorted({it.system for it in items if it.source == "espnet_tts"})
    res, pooled = {}, {v: ([], []) for v in EVAL_VARIANTS}
    for S in systems:
        C = S.split(":")[0]
        sc = {v: ([], []) for v in EVAL_VARIANTS}
        for u in sorted(set(utt[(source == "espnet_real") & (corpus == C)])):
            held_item = (sysname == S) | ((corpus == C) & (utt == u) & (source != "fsdd"))
            model = T.train_on(fs, ~held_item[fs.item], l2, kind)
            model.offset = offset
            test_items = np.nonzero(((t_sys == S) | (t_sys == "real")) & (t_corpus == C)
                                    & (t_utt == u))[0]
            for v in sc:
                m = np.isin(ft.item, test_items) & (ft.variant == v)
                for i, s in file_scores(model, ft, m).items():
                    sc[v][0].append(s)
                    sc[v][1].append(ft.items[i].label)
        row = {}
        for v, (s, y) in sc.items():
            s, y = np.array(s), np.array(y)
            row[v] = {"auc": rnd(auc(s, y)), "eer": rnd(eer(s, y)),
                      "mean_real": rnd(s[y == 0].mean()), "mean_synth": rnd(s[y == 1].mean())}
            pooled[v][0].extend(s)
            pooled[v][1].extend(y)
        res[S] = row
        log(f"  {S:34s} AUC {row['clean']['auc']:.3f} EER {row['clean']['eer']:.3f}  "
            + ", ".join(f"{v} {row[v]['auc']:.3f}" for v in EVAL_VARIANTS[1:]))
    out = {"systems": res}
    for v, (s, y) in pooled.items():
        s, y = np.array(s), np.array(y)
        out[f"pooled_{v}"] = {"auc": rnd(auc(s, y)), "eer": rnd(eer(s, y)),
                              "fpr_at_0.5": rnd((s[y == 0] >= 0.5).mean()),
                              "tpr_at_0.5": rnd((s[y == 1] >= 0.5).mean()),
                              "mean_real": rnd(s[y == 0].mean()),
                              "mean_synth": rnd(s[y == 1].mean())}
    out["mean_auc_clean"] = rnd(np.mean([r["clean"]["auc"] for r in res.values()]))
    out["mean_eer_clean"] = rnd(np.mean([r["clean"]["eer"] for r in res.values()]))
    return out


def fsdd_speaker_folds(fs, l2: float, kind: str = "mlp", offset: float = 0.0, log=print) -> dict:
    items = fs.items
    source = np.array([it.source for it in items])
    group = np.array([it.group for it in items])
    speakers = sorted(set(group[source == "fsdd"]))
    texts = sorted(set(group[np.isin(source, ("espeak", "festival"))]))
    s_all, y_all, per = [], [], {}
    for k, spk in enumerate(speakers):
        held_texts = set(texts[k::len(speakers)])
        held = ((source == "fsdd") & (group == spk)) | (
            np.isin(source, ("espeak", "festival")) & np.isin(group, list(held_texts)))
        model = T.train_on(fs, ~held[fs.item], l2, kind)
        model.offset = offset
        m = held[fs.item] & (fs.variant == "clean")
        sc = file_scores(model, fs, m)
        s = np.array(list(sc.values()))
        y = np.array([items[i].label for i in sc])
        per[spk] = {"real_files": int((y == 0).sum()), "synth_files": int((y == 1).sum()),
                    "fpr_at_0.5": rnd((s[y == 0] >= 0.5).mean()),
                    "tpr_at_0.5": rnd((s[y == 1] >= 0.5).mean()), "auc": rnd(auc(s, y))}
        s_all += list(s)
        y_all += list(y)
    s_all, y_all = np.array(s_all), np.array(y_all)
    out = {"speakers": per, "auc": rnd(auc(s_all, y_all)), "eer": rnd(eer(s_all, y_all)),
           "fpr_at_0.5": rnd((s_all[y_all == 0] >= 0.5).mean()),
           "tpr_at_0.5": rnd((s_all[y_all == 1] >= 0.5).mean()),
           "mean_real": rnd(s_all[y_all == 0].mean()), "mean_synth": rnd(s_all[y_all == 1].mean())}
    log(f"  FSDD held-out speakers vs held-out espeak/festival texts: AUC {out['auc']:.3f} "
        f"EER {out['eer']:.3f} FPR@0.5 {out['fpr_at_0.5']:.3f} TPR@0.5 {out['tpr_at_0.5']:.3f}")
    return out


def analyze_files(paths, labels, det=None) -> dict:
    det = det or ss.SyntheticSpeechDetector()
    ctx = Context(options={"synthetic_speech": {"views": False}})
    rows, s, y, ws, wy = [], [], [], [], []
    for p, lab in zip(paths, labels, strict=True):
        ev = det.analyze(Media.open(p), ctx)
        rows.append({"file": Path(p).name, "label": lab, "score": rnd(ev.score),
                     "applicable": ev.applicable, "speech_s": ev.data.get("speech_s"),
                     "windows": len(ev.segments)})
        if ev.score is not None:
            s.append(ev.score)
            y.append(lab)
            ws += [sg.score for sg in ev.segments]
            wy += [lab] * len(ev.segments)
    s, y, ws, wy = map(np.array, (s, y, ws, wy))
    out = {"files": rows}
    if len(s):
        out.update({"fpr_at_0.5": rnd((s[y == 0] >= 0.5).mean()) if (y == 0).any() else None,
                    "tpr_at_0.5": rnd((s[y == 1] >= 0.5).mean()) if (y == 1).any() else None,
                    "mean_real": rnd(s[y == 0].mean()) if (y == 0).any() else None,
                    "mean_synth": rnd(s[y == 1].mean()) if (y == 1).any() else None})
        if (y == 0).any() and (y == 1).any():
            out.update({"auc": rnd(auc(s, y)), "eer": rnd(eer(s, y)),
                        "window_auc": rnd(auc(ws, wy)), "window_eer": rnd(eer(ws, wy))})
    return out


def speed(path: Path, reps: int = 2) -> dict:
    det = ss.SyntheticSpeechDetector()
    ctx = Context(options={"synthetic_speech": {"views": False}})
    m = Media.open(path)
    ev = det.analyze(m, ctx)  # warm-up (imports, model)
    best = 1e9
    for _ in range(reps):
        m = Media.open(path)
        t = time.process_time()
        ev = det.analyze(m, ctx)
        best = min(best, time.process_time() - t)
    dur = ev.data.get("analysed_s") or 0.0
    return {"file": path.name, "audio_s": rnd(dur, 1), "cpu_s": rnd(best, 3),
            "x_real_time": rnd(dur / best, 1) if best > 0 else None}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--l2", type=float, default=T.DEFAULT_L2)
    ap.add_argument("--kind", choices=sorted(T.FITTERS), default="mlp")
    ap.add_argument("--offset", type=float, default=None,
                    help="logit offset of the fold models (default: the committed model's)")
    ap.add_argument("--no-tts", action="store_true", help="skip espeak-ng / festival speech")
    ap.add_argument("--skip-loso", action="store_true")
    ap.add_argument("--data", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", dest="json_out", default=None)
    a = ap.parse_args(argv)
    root = T.find_data_root(a.data)
    offset = ss.load_model().offset if a.offset is None else a.offset
    res: dict = {"seed": a.seed, "l2": a.l2, "kind": a.kind, "offset": offset}
    if not a.skip_loso:
        items = T.espnet_items(root) + T.fsdd_items(root)
        with tempfile.TemporaryDirectory() as td:
            if not a.no_tts:
                synth, info = T.synthesize(Path(td), a.seed)
                items += synth
                res["tts_tools"] = info
            t = time.time()
            fs = T.featurize(items, a.seed, workers=a.workers)
            ft = T.featurize(T.espnet_items(root), a.seed, variants=EVAL_VARIANTS,
                             workers=a.workers)
            res["feature_seconds"] = round(time.time() - t, 1)
        print("Leave-one-TTS-system-out (espnet), file level:")
        res["loso"] = loso(fs, ft, a.l2, a.kind, offset)
        for v in EVAL_VARIANTS:
            r = res["loso"][f"pooled_{v}"]
            print(f"  pooled [{v:9s}] AUC {r['auc']:.3f} EER {r['eer']:.3f} "
                  f"FPR@0.5 {r['fpr_at_0.5']:.3f} TPR@0.5 {r['tpr_at_0.5']:.3f}")
        print(f"  mean per-system AUC {res['loso']['mean_auc_clean']:.3f}, "
              f"EER {res['loso']['mean_eer_clean']:.3f}")
        res["fsdd_speakers"] = fsdd_speaker_folds(fs, a.l2, a.kind, offset)
    print("Committed model, untouched data (Media.open + analyze):")
    trump = root / "resemblyzer-trump-real-fake" / "donald_trump"
    if trump.is_dir():
        paths = sorted((trump / "real").glob("*.mp3")) + sorted((trump / "fake").glob("*.mp3"))
        labels = [0 if p.parent.name == "real" else 1 for p in paths]
        r = res["trump"] = analyze_files(paths, labels)
        print(f"  resemblyzer-trump: AUC {r.get('auc')} EER {r.get('eer')} FPR@0.5 "
              f"{r.get('fpr_at_0.5')} TPR@0.5 {r.get('tpr_at_0.5')} (windows: AUC "
              f"{r.get('window_auc')} EER {r.get('window_eer')})")
    tf = root / "talking-face-videoretalking-examples"
    if tf.is_dir():
        paths = sorted((tf / "audio").glob("*.wav")) + sorted((tf / "face_video").glob("*.mp4"))
        r = res["talking_face_real"] = analyze_files(paths, [0] * len(paths))
        print(f"  talking-face (real): FPR@0.5 {r.get('fpr_at_0.5')} mean {r.get('mean_real')}")
    if trump.is_dir():
        longest = max((trump / "real").glob("*.mp3"), key=lambda p: p.stat().st_size)
        res["speed"] = speed(longest)
        print(f"  speed: {res['speed']}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(res, indent=2) + "\n")
        print(f"wrote {a.json_out}")
    return res


if __name__ == "__main__":
    main()
