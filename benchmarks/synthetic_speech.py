"""Measurements of the ``synthetic_speech`` detector, version 2 (docs/detectors/synthetic_speech.md).

Protocols (features come from ``veriscope.train.synthetic_speech.prepare``, the recipe's own
data and channel copies, cached with ``--cache``):

1. Leave-one-family-out (``--lofo``): for each held-out family F, a model is trained, with the
   recipe's settings but ``--fold-steps`` steps, on every training file except those of F;
   its offset is calibrated on the calibration real files (never trained on) as the recipe
   does. Test: F's files (all of them: none was trained on) against the calibration real
   files of the other sources. A synthetic family gives AUC, EER, the detection rate at the
   threshold that keeps the test real files' false alarms at 5 %, and the detection rate at
   the calibrated default (0.5); a real corpus gives its false-alarm rate at 0.5. Clean files
   and all channel copies are reported separately.
2. Robustness (``--model DIR``, default: the committed model): the calibration files (never
   trained on) through fixed channels: clean, MP3 64 kbit/s, Opus 24 kbit/s, telephone band,
   white / pink noise at 10 dB SNR.
3. Third-party sets never used for training or tuning, through ``Media.open`` and the
   detector: resemblyzer-trump-real-fake (12 real, 6 voice clones) and the 7 real
   talking-face-videoretalking-examples clips (false alarms).
4. Splices: a synthetic calibration utterance inserted into a real calibration recording of
   another source: is the best window on the insert; share of windows flagged on and off it.
5. Shortcut check: a logistic regression on facts of each calibration copy that the model
   must not use (native sample rate, narrow band, codec step, speech duration, leading
   silence, loudness) predicts the class; its AUC is reported next to the model's.
6. Music (``--music DIR``): every file of DIR through the detector (scored? at 0.5?).
7. Speed: real-time factor of the detector on one thread (decode included), warm.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/synthetic_speech.py --extra DIR
       [--cache FILE] [--lofo [FAMILY ...]] [--fold-steps N] [--model DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from veriscope.core.media import Media
from veriscope.core.metrics import auc, eer
from veriscope.detectors.audio import synthetic_speech as ss
from veriscope.train import synthetic_speech as T

ROBUST_CHAINS = ("clean", "mp364", "opus24", "tel", "noise10")
DEFAULT_FOLDS = ("gan_vocoder", "other_vocoder", "neural_codec", "ar_tts", "nar_tts",
                 "diffusion_tts", "yourtts_cloning", "codec_lm_cloning", "voice_conversion",
                 "espnet", "classic_tts",
                 "real:fsdd+real:spear-speech-database+real:tortoise-tts+real:speechbrain")


def rnd(x, k=3):
    return None if x is None or x != x else round(float(x), k)


def rates(real: list[float], fake: list[float]) -> dict:
    """AUC, EER, detection at the 5 %-false-alarm threshold of ``real`` and at 0.5."""
    s = np.r_[real, fake]
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    out = {"real": len(real), "synthetic": len(fake)}
    if real and fake:
        thr = float(np.quantile(real, 0.95))
        out.update(auc=rnd(auc(s, y)), eer=rnd(eer(s, y)),
                   tpr_at_fpr5=rnd(np.mean(np.asarray(fake) > thr)))
    if fake:
        out["tpr_at_0.5"] = rnd(np.mean(np.asarray(fake) >= 0.5))
    if real:
        out["fpr_at_0.5"] = rnd(np.mean(np.asarray(real) >= 0.5))
    return out


def scores_of(rows, offset, clean_only):
    """File scores of ``rows`` (one per file and chain: a random chain that came out empty is
    the clean file again and is counted once)."""
    seen, out = set(), []
    for r in rows:
        if (clean_only and r["chain"] != "clean") or (r["key"], r["chain"]) in seen:
            continue
        seen.add((r["key"], r["chain"]))
        out.append(T.file_score(r["logits"], offset))
    return out


def lofo(items, feats, folds, seed, steps, log=print) -> dict:
    """``folds``: family names; ``a+b`` holds out several families in one fold (each is
    reported on its own)."""
    out = {}
    cal_real = [it for it in items if T.is_cal(it) and it.label == 0]
    for fold in folds:
        fams = set(fold.split("+"))
        held = [it for it in items if it.family in fams]
        if not held:
            log(f"lofo {fold}: no files, skipped")
            continue
        train = [it for it in items if not T.is_cal(it) and it.family not in fams]
        t0 = time.time()
        with T._threads(2):
            net, _fit = T.train_net(train, feats, seed, steps, log=lambda *_: None)

            def score(X, net=net):
                return T.net_logits(net, X)

            cal_rows = T.file_logits(score, [it for it in cal_real if it.family not in fams],
                                     feats)
            off = T.calibrate(cal_rows)["offset"]
            held_rows = T.file_logits(score, held, feats)
        secs = round(time.time() - t0)
        for fam in sorted(fams):
            rows = [r for r in held_rows if r["family"] == fam]
            res = {"files": len({r["key"] for r in rows}), "offset": off, "seconds": secs,
                   "fold": fold}
            for name, clean in (("clean", True), ("all_copies", False)):
                real = scores_of(cal_rows, off, clean)
                real_nf = scores_of([r for r in cal_rows if r["family"] != "real:fsdd"], off,
                                    clean)
                mine = scores_of(rows, off, clean)
                if rows and rows[0]["label"] == 1:
                    res[name] = rates(real, mine)
                    res[name + "_without_fsdd"] = rates(real_nf, mine)
                else:  # a real corpus: its false alarms at the default threshold
                    res[name] = {"fpr_at_0.5": rnd(np.mean(np.asarray(mine) >= 0.5)),
                                 "scored": len(mine)}
            out[fam] = res
            log(f"lofo {fam}: {json.dumps(res)}")
    return out


def robustness(model, items, seed, log=print) -> dict:
    cal = [it for it in items if T.is_cal(it) and not it.key.startswith(("espeak", "festival",
                                                                           "flite"))]
    feats = T.featurize(cal, seed, workers=2, chains=list(ROBUST_CHAINS), log=log)
    rows = T.file_logits(lambda X: model.logits(X) + model.offset, cal, feats)
    out = {}
    for ch in ROBUST_CHAINS:
        sc = [(x["family"], x["label"], T.file_score(x["logits"], model.offset))
              for x in rows if x["chain"] == ch]
        res = {"pooled": rates([s for _f, y, s in sc if y == 0], [s for _f, y, s in sc if y])}
        real_nf = [s for f, y, s in sc if y == 0 and f != "real:fsdd"]
        res["without_fsdd"] = rates(real_nf, [s for _f, y, s in sc if y])
        res["by_family"] = {fam: rates(real_nf, [s for f, y, s in sc if y and f == fam])
                            for fam in sorted({f for f, y, _ in sc if y})}
        res["real_fpr_at_0.5"] = {fam: rnd(np.mean([s >= 0.5 for f, y, s in sc
                                                    if y == 0 and f == fam]))
                                  for fam in sorted({f for f, y, _ in sc if not y})}
        out[ch] = res
        log(f"robustness {ch}: {json.dumps(res)}")
    return out


def third_party(root: Path, log=print) -> dict:
    from veriscope.detectors.base import Context

    det = ss.SyntheticSpeechDetector()
    ctx = Context(options={"synthetic_speech": {"views": False}})

    def score(p):
        ev = det.analyze(Media.open(p), ctx)
        return ev.score if ev.applicable else None

    base = root / "resemblyzer-trump-real-fake" / "donald_trump"
    real = [score(p) for p in sorted((base / "real").iterdir())]
    fake = [score(p) for p in sorted((base / "fake").iterdir())]
    tf = root / "talking-face-videoretalking-examples"
    clips = sorted(tf.glob("**/*.wav")) + sorted(tf.glob("face_video/*.mp4"))
    talk = [s for s in (score(p) for p in clips) if s is not None]
    out = {"resemblyzer_trump": {**rates([s for s in real if s is not None],
                                         [s for s in fake if s is not None]),
                                 "real_scores": [rnd(s) for s in real],
                                 "fake_scores": [rnd(s) for s in fake]},
           "talking_face_real": {"fpr_at_0.5": rnd(np.mean(np.asarray(talk) >= 0.5)),
                                 "files": len(talk), "scores": [rnd(s) for s in talk]}}
    log(f"third party: {json.dumps(out)}")
    return out


def splice(items, n: int = 30, seed: int = 0, log=print) -> dict:
    """A synthetic utterance (calibration file, never trained on) inserted into a real
    recording (calibration file of another source, at least 6 s) after its first 3 s: is the
    best window over the insert, and which windows are flagged?"""
    import os
    import tempfile

    import soundfile as sf

    from veriscope.detectors.base import Context

    rng = np.random.default_rng([seed, 11])
    cal = [it for it in items if T.is_cal(it) and "/" in it.key and Path(it.path).is_file()]
    real = [it for it in cal if it.label == 0]
    fake = [it for it in cal if it.label == 1]
    det = ss.SyntheticSpeechDetector()
    ctx = Context(options={"synthetic_speech": {"views": False}})
    hits, inside_flag, outside_flag, inside_n, outside_n, done = 0, 0, 0, 0, 0, 0
    with tempfile.TemporaryDirectory() as td:
        for _ in range(20 * n):
            if done >= n:
                break
            r = real[int(rng.integers(len(real)))]
            f = fake[int(rng.integers(len(fake)))]
            if r.source == f.source:
                continue
            yr, _ = T.load_16k(r.path)
            yf, _ = T.load_16k(f.path)
            if yr.size < 6 * 16000 or yf.size < 2 * 16000:
                continue
            yf = yf * (np.std(yr) / max(float(np.std(yf)), 1e-9))
            cut = 3 * 16000
            z = np.r_[yr[:cut], yf, yr[cut:]]
            a, b = cut / 16000, (cut + yf.size) / 16000
            p = os.path.join(td, "s.wav")
            sf.write(p, (z / max(1.0, float(np.max(np.abs(z))))).astype(np.float32), 16000)
            ev = det.analyze(Media.open(p), ctx)
            if not ev.applicable or not ev.segments:
                continue
            done += 1
            best = max(ev.segments, key=lambda sg: sg.score)
            hits += best.start < b and best.end > a
            for sg in ev.segments:
                over = min(sg.end, b) - max(sg.start, a)
                if over >= 0.5 * (sg.end - sg.start):
                    inside_n += 1
                    inside_flag += sg.score >= 0.5
                elif over <= 0:
                    outside_n += 1
                    outside_flag += sg.score >= 0.5
    out = {"splices": done, "best_window_on_insert": rnd(hits / max(done, 1)),
           "insert_windows_flagged": rnd(inside_flag / max(inside_n, 1)),
           "real_windows_flagged": rnd(outside_flag / max(outside_n, 1)),
           "insert_windows": inside_n, "real_windows": outside_n}
    log(f"splice: {out}")
    return out


def music(folder: Path, log=print) -> dict:
    """Non-speech sound (music, singing): how many files are scored, how many reach 0.5."""
    from veriscope.detectors.base import Context

    det = ss.SyntheticSpeechDetector()
    ctx = Context(options={"synthetic_speech": {"views": False}})
    out = {}
    for p in sorted(folder.iterdir()):
        ev = det.analyze(Media.open(p), ctx)
        out[p.name] = {"score": rnd(ev.score) if ev.applicable else None,
                       "reliability": ev.data.get("reliability", {}).get("level"),
                       "speech_s": ev.data.get("speech_s")}
    sc = [v["score"] for v in out.values() if v["score"] is not None]
    res = {"files": len(out), "scored": len(sc), "at_0.5": int(sum(x >= 0.5 for x in sc)),
           "per_file": out}
    log(f"music: {json.dumps(res)}")
    return res


def shortcut_check(model, items, seed, log=print) -> dict:
    """Can facts the model must ignore tell the classes apart on the calibration copies?"""
    import re

    from veriscope.signals import vad
    from veriscope.train import common

    cal, per = [], {}
    for it in items:  # at most 25 calibration files per source
        if T.is_cal(it) and per.get(it.source, 0) < 25:
            per[it.source] = per.get(it.source, 0) + 1
            cal.append(it)
    X, y, s_model = [], [], []
    for it in cal:
        try:
            y0, rate = T.load_16k(it.path)
        except Exception:  # noqa: BLE001 - the synthesized files live in a deleted folder
            continue
        for k, ch in enumerate(T.chains_for(it, seed)):
            z = T.augment(y0, ch, T._rng(seed, f"{it.key}#{k}#{ch}"))
            v = vad.voiced_frames(z)
            if v.sum() < 20:
                continue
            first = int(np.argmax(v))
            codec = re.search(r"(mp3|aac|opus|mulaw|amr)", ch)
            loud = 10 * np.log10(np.mean(z**2) + 1e-12)
            X.append([np.log(rate), float(T.is_narrow(ch, rate)), float(bool(codec)),
                      np.log1p(v.sum() / 100), np.log1p(first / 100), loud])
            y.append(it.label)
            sm = model.probs(ss.analyse_signal(z)["inputs"])
            s_model.append(float(sm.mean()) if sm.size else 0.0)
    X, y = np.asarray(X), np.asarray(y)
    w = np.where(y == 1, 0.5 / max((y == 1).sum(), 1), 0.5 / max((y == 0).sum(), 1))
    # in-sample fit: an upper bound of what these facts can tell
    mean, scale, coef, b, _ = common.fit_logistic(X, y, w, 1e-3, maxiter=500, gtol=1e-6,
                                                  ftol=1e-10)
    p = ((X - mean) / scale) @ coef + b
    names = ["log native rate", "narrow band", "codec step", "log speech s",
             "log leading silence s", "loudness dB"]
    sm = np.asarray(s_model)
    single = {}
    for k, nm in enumerate(names):  # one fact alone, either direction
        a_ = auc(X[:, k], y)
        single[nm] = rnd(max(a_, 1 - a_))
    strata = {"native rate >= 22050": X[:, 0] >= np.log(22050),
              "native rate 16000": np.abs(X[:, 0] - np.log(16000)) < 1e-6,
              "narrow band": X[:, 1] > 0, "wide band": X[:, 1] == 0,
              "codec step": X[:, 2] > 0, "no codec step": X[:, 2] == 0,
              "speech >= 2 s": X[:, 3] >= np.log1p(2.0), "speech < 2 s": X[:, 3] < np.log1p(2.0)}
    within = {k: {"copies": int(m.sum()), "model_auc": rnd(auc(sm[m], y[m]))}
              for k, m in strata.items() if m.sum() and 0 < y[m].mean() < 1}
    out = {"copies": int(len(y)), "facts": names,
           "facts_auc_in_sample": rnd(auc(p, y)), "single_fact_auc": single,
           "model_auc": rnd(auc(sm, y)), "model_auc_within": within}
    log(f"shortcut check: {out}")
    return out


def speed(log=print) -> dict:
    import os
    import tempfile

    import soundfile as sf

    from veriscope.detectors.base import Context

    root = T.find_data_root()
    x, rate = sf.read(str(next((root / "espnet-tts-real-vs-synth" / "ljspeech" / "real")
                               .glob("*.wav"))), dtype="float32")
    x = np.tile(x, int(np.ceil(60 * rate / x.size)))[: 60 * rate]
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "minute.wav")
        sf.write(p, x, rate)
        det = ss.SyntheticSpeechDetector()
        ctx = Context(options={"synthetic_speech": {"views": False}})
        det.analyze(Media.open(p), ctx)  # warm up (model load)
        t0 = time.perf_counter()
        for _ in range(3):
            det.analyze(Media.open(p), ctx)
        dt = (time.perf_counter() - t0) / 3
    out = {"seconds_per_minute": rnd(dt, 3), "real_time_factor": rnd(60 / dt, 1)}
    log(f"speed: {out}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    home = Path.home() / ".cache" / "veriscope" / "train"
    ap.add_argument("--extra", type=Path, default=home / "synthetic_speech",
                    help="fetched sources (benchmarks/fetch_sources.py synthetic_speech DIR); "
                         "'none': shared data and local TTS only")
    ap.add_argument("--cache", type=Path, default=home / "synthetic_speech_feats_seed0.pkl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lofo", nargs="*", default=None,
                    help="families to hold out (none given: the default list)")
    ap.add_argument("--fold-steps", type=int, default=2000)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--skip", nargs="*", default=(),
                    choices=("robustness", "third_party", "splice", "shortcuts", "speed"))
    ap.add_argument("--music", type=Path, default=None,
                    help="a folder of music / singing files (false-alarm check)")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    extra = None if str(a.extra) == "none" or not a.extra.is_dir() else a.extra
    items, feats, _ = T.prepare(extra=extra, seed=a.seed, cache=a.cache if extra else None)
    model = ss.SpeechModel.from_dir(a.model) if a.model else ss.load_model()
    ss.load_model = lambda: model  # the detector (third-party sets, speed) uses this model
    res: dict = {"seed": a.seed, "model": str(a.model or ss.model_dir()),
                 "fold_steps": a.fold_steps}
    if "speed" not in a.skip:
        res["speed"] = speed()
    if "third_party" not in a.skip:
        res["third_party"] = third_party(T.find_data_root())
    if "robustness" not in a.skip:
        res["robustness"] = robustness(model, items, a.seed)
    if a.music:
        res["music"] = music(a.music)
    if "splice" not in a.skip:
        res["splice"] = splice(items, seed=a.seed)
    if "shortcuts" not in a.skip:
        res["shortcuts"] = shortcut_check(model, items, a.seed)
    if a.lofo is not None:
        res["lofo"] = lofo(items, feats, a.lofo or DEFAULT_FOLDS, a.seed, a.fold_steps)
    text = json.dumps(res, indent=1)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
