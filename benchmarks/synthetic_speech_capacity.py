"""Does the synthetic_speech model want more steps or more width? (docs/detectors/synthetic_speech.md)

Same cached features, split, calibration and evaluation as the recipe
(``veriscope.train.synthetic_speech``): models are trained on the training files and scored on
the clean calibration files (AUC / EER against the real ones without the FSDD digits, the
calibrated 0.5, FSDD false alarms, per-family AUC) and on resemblyzer-trump-real-fake.
Rows: the committed model (6,000 steps, channels 16-64), the same network after 1,200 steps
(the leave-one-family-out fold length) and a 4x wider one (32-128 channels) after 3,000 steps.

Usage: .venv/bin/python benchmarks/synthetic_speech_capacity.py [--json OUT]   (about 35 min)
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

RUNS = (("small, 1,200 steps", (16, 32, 48, 64), 1200),
        ("wide, 3,000 steps", (32, 64, 96, 128), 3000))


def evaluate(name, score, cal, feats, trump) -> dict:
    with T._threads(2):
        rows = T.file_logits(score, cal, feats)
    off = T.calibrate(rows)["offset"]
    seen, sc = set(), []
    for r in rows:
        if r["chain"] == "clean" and r["key"] not in seen:
            seen.add(r["key"])
            sc.append((r["label"], r["family"], T.file_score(r["logits"], off)))
    lab = np.array([x[0] for x in sc])
    fam = np.array([x[1] for x in sc])
    s = np.array([x[2] for x in sc])
    keep = fam != "real:fsdd"
    by = {}
    for f in sorted(set(fam[lab == 1])):
        m = ((lab == 0) & keep) | (fam == f)
        by[f] = round(auc(s[m], lab[m]), 3)
    ts = np.array([T.file_score(score(X), off) for _, X in trump])
    ty = np.array([y for y, _ in trump])
    res = {"name": name, "offset": off, "cal_auc_wo_fsdd": round(auc(s[keep], lab[keep]), 3),
           "cal_eer_wo_fsdd": round(eer(s[keep], lab[keep]), 3),
           "detected_at_0.5": round(float(np.mean(s[lab == 1] >= 0.5)), 3),
           "real_fpr_at_0.5_wo_fsdd": round(float(np.mean(s[keep & (lab == 0)] >= 0.5)), 3),
           "fsdd_fpr_at_0.5": round(float(np.mean(s[fam == "real:fsdd"] >= 0.5)), 3),
           "by_family_auc": by, "trump_auc": round(auc(ts, ty), 3),
           "trump_clones_at_0.5": int((ts[ty == 1] >= 0.5).sum()),
           "trump_real_at_0.5": int((ts[ty == 0] >= 0.5).sum())}
    print(json.dumps(res), flush=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    home = Path.home() / ".cache" / "veriscope" / "train"
    ap.add_argument("--extra", type=Path, default=home / "synthetic_speech")
    ap.add_argument("--cache", type=Path, default=home / "synthetic_speech_feats_seed0.pkl")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    items, feats, _ = T.prepare(extra=a.extra, seed=0, cache=a.cache)
    train = [it for it in items if not T.is_cal(it)]
    cal = [it for it in items if T.is_cal(it)]
    base = T.find_data_root() / "resemblyzer-trump-real-fake" / "donald_trump"
    trump = []
    for y, sub in ((0, "real"), (1, "fake")):
        for p in sorted((base / sub).iterdir()):
            x, r = Media.open(p).audio(mono=True, max_seconds=600)
            trump.append((y, ss.analyse_signal(ss.prepare(x, r))["inputs"]))
    m = ss.load_model()
    out = [evaluate("committed (small, 6,000 steps)", lambda X: m.logits(X) + m.offset, cal,
                    feats, trump)]
    make = T.make_net
    for name, chans, steps in RUNS:
        T.make_net = lambda c=chans: make(channels=c)
        t0 = time.time()
        with T._threads(2):
            net, fit = T.train_net(train, feats, 0, steps, log=lambda *_: None)
        res = evaluate(name, lambda X, net=net: T.net_logits(net, X), cal, feats, trump)
        res.update(weights=int(sum(p.numel() for p in net.parameters())),
                   train_seconds=round(time.time() - t0), final_loss=fit["final_loss"])
        out.append(res)
    T.make_net = make
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
