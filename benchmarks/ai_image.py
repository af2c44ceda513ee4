"""Measurements of the ``ai_image`` detector (docs/detectors/ai_image.md, docs/benchmarks.md).

1. EVAL (never trained on): RAISE realness test split (21 real vs 69 AI, all 512x384 PNG),
   ML72 AI pictures against the camera JPEGs and the CBSD68 / McMaster pristine photos, and all
   of them pooled. AUC, balanced accuracy at the detector's ``synthetic`` threshold, TPR at 1 %
   and 5 % FPR, false ``synthetic`` labels on real pictures; as they come and after JPEG
   95/85/75, resize 0.5 / 0.75, a centre crop, a screenshot and a social-network chain
   (veriscope.signals.perturb).
2. Shortcuts: a classifier that sees only format, size and JPEG quality, out of fold, on the
   raw TRAIN files (where the shortcut exists) and on the augmented crops the model is trained
   on (where it must be at chance).
3. Leave-one-source-out (``--loso``): retrain both views without one TRAIN source, score that
   source's pictures against the CAL real pictures (never trained on) of the other sources.
4. Speed: one 12 MP picture on one thread, warm and in a fresh ``veriscope analyze`` process.

5. Innocent sets of benchmarks/verdicts.py (``--innocent [--screenshots DIR]``): ai_image's
   ``synthetic`` labels on them, as they come and after web export.
6. A generated region in a real photograph (``--inpaint``): a 384 px square of a RAISE AI
   picture pasted into each camera JPEG; how the map and the score respond.
7. Ablation (``--ablation-steps N``): the CNN alone with the NPR residual or the diagonal Haar
   high band as input, same crops and steps, on EVAL.

Usage: .venv/bin/python benchmarks/ai_image.py [--model DIR] [--extra DIR] [--loso]
       [--loso-steps N] [--loso-sources S ...] [--ablation-steps N] [--skip-eval] [--json OUT]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from veriscope.core import metrics  # noqa: E402
from veriscope.detectors.image import ai_image as det  # noqa: E402
from veriscope.signals import perturb  # noqa: E402
from veriscope.train import ai_image as T  # noqa: E402
from veriscope.train import ai_image_data as D  # noqa: E402

TREATMENTS = {
    "as_is": lambda a: a,
    "jpeg95": lambda a: perturb.jpeg_encode(a, 95)[0],
    "jpeg85": lambda a: perturb.jpeg_encode(a, 85)[0],
    "jpeg75": lambda a: perturb.jpeg_encode(a, 75)[0],
    "resize0.75": lambda a: perturb.resize(a, 0.75)[0],
    "resize0.5": lambda a: perturb.resize(a, 0.5)[0],
    "crop0.6": lambda a: perturb.center_crop(a, 0.6)[0],
    "screenshot": lambda a: perturb.screenshot(a)[0],
    "social": lambda a: perturb.social(a)[0],
}

PAIRS = {
    "raise": (("raise",), ("raise",)),
    "ml72_vs_camera_pristine": (("ml72",), ("camera_jpegs", "pristine_eval")),
    "all_eval": (("raise", "ml72"), ("raise", "camera_jpegs", "pristine_eval")),
}


def score_items(model, items, treatments=TREATMENTS, log=print) -> list[dict]:
    rows = []
    t_syn = model.spec["thresholds"]["synthetic"]
    for i, it in enumerate(items):
        rgb = T.load_rgb(it.path)
        for name, f in treatments.items():
            img = np.asarray(f(rgb))
            r = model.score(img)
            if r is None:
                continue
            rows.append({"file": it.path.name, "source": it.source, "label": it.label,
                         "treatment": name, "z": r["z"], "score": r["score"],
                         "synthetic": bool(r["z"] >= t_syn)})
        if (i + 1) % 50 == 0:
            log(f"  scored {i + 1}/{len(items)}")
    return rows


def pair_metrics(rows, ai_sources, real_sources, treatment) -> dict:
    sel = [r for r in rows if r["treatment"] == treatment and (
        (r["label"] == 1 and r["source"] in ai_sources) or
        (r["label"] == 0 and r["source"] in real_sources))]
    y = np.asarray([r["label"] for r in sel])
    s = np.asarray([r["score"] for r in sel])
    if len(set(y.tolist())) < 2:
        return {}
    flag = np.asarray([r["synthetic"] for r in sel])
    tpr = float(flag[y == 1].mean())
    fpr = float(flag[y == 0].mean())
    return {"n_ai": int((y == 1).sum()), "n_real": int((y == 0).sum()),
            "auc": round(metrics.auc(s, y), 3),
            "balanced_accuracy": round(0.5 * (tpr + 1 - fpr), 3),
            "tpr_at_threshold": round(tpr, 3), "false_synthetic": int(flag[y == 0].sum()),
            "tpr_at_1pct_fpr": round(metrics.tpr_at_fpr(s, y, 0.01)[0], 3),
            "tpr_at_5pct_fpr": round(metrics.tpr_at_fpr(s, y, 0.05)[0], 3)}


# ----------------------------------------------------------------------------- shortcuts

def _file_facts(path: Path) -> list[float]:
    with Image.open(path) as im:
        w, h = im.size
        fmt = im.format or ""
        q = 0.0
        if fmt == "JPEG" and getattr(im, "quantization", None):
            q = float(np.mean(im.quantization[0]))
    return [fmt == "PNG", fmt == "JPEG", np.log(w), np.log(h), w / h, w % 64 == 0, h % 64 == 0, q]


def _crop_facts(pool, rng, n) -> tuple[np.ndarray, np.ndarray]:
    """Format / size / quality of the augmented crops as the model sees them."""
    X, y = [], []
    for k in range(n):
        lab = k % 2
        info: dict = {}
        crop = pool.draw(lab, rng, T.CNN_CROP, info)
        X.append([info["format"] == "jpeg", info["format"] == "webp", np.log(crop.shape[1]),
                  np.log(crop.shape[0]), crop.shape[1] / crop.shape[0], info["quality"],
                  info["subsampling"], info["scale"]])
        y.append(lab)
    return np.asarray(X, float), np.asarray(y, float)


def oof_auc(X: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(y))
    s = np.zeros(len(y))
    for f in range(folds):
        te = idx[f::folds]
        tr = np.setdiff1d(idx, te)
        w = np.ones(len(tr))
        m = T.fit_logistic(X[tr], y[tr], w, 1e-2)
        z = ((X[te] - np.asarray(m["mean"])) / np.asarray(m["scale"])) @ np.asarray(m["weights"])
        s[te] = z + m["bias"]
    return float(metrics.auc(s, y))


def shortcut_table(items, seed=0, log=print) -> dict:
    fit = [it for it in items if it.role == "fit"]
    Xf = np.asarray([_file_facts(it.path) for it in fit], float)
    yf = np.asarray([it.label for it in fit], float)
    pool = T.Pool(fit[::3], seed, log=lambda m: None)
    Xc, yc = _crop_facts(pool, np.random.default_rng(seed), 800)
    return {"raw_files_auc": round(oof_auc(Xf, yf), 3), "raw_files": int(len(yf)),
            "training_crops_auc": round(oof_auc(Xc, yc), 3), "training_crops": int(len(yc))}


# ----------------------------------------------------------------------------- LOSO

def loso(items, steps, seed, held_out=None, max_test=150, log=print) -> list[dict]:
    """Leave-one-source-out. The FIT pictures are read once; for each held-out source the CNN
    is trained again (``steps``) on the other sources, and the trace classifier is refitted
    on the trace rows of the other sources (rows computed once). Test: up to ``max_test`` of
    the held-out source's pictures (FIT and CAL) against the CAL pictures of the other class
    from the other sources (never trained on). Reported: AUC of the CNN view, the trace view
    and their sum (the combination weights are not refitted), TPR at 5 % FPR of the sum."""
    import torch

    train = [it for it in items if it.role != "eval"]
    fit = [it for it in train if it.role == "fit"]
    counts: dict = {}
    for it in train:
        counts[(it.source, it.label)] = counts.get((it.source, it.label), 0) + 1
    sources = held_out or sorted(s for (s, _lab), n in counts.items() if n >= 20)
    pool = T.Pool(fit, seed, log=lambda m: None)
    X, y, src = T.feature_rows(pool, seed, log=lambda m: None)
    spec_trace_names = list(T.ai_traces.FEATURE_NAMES)
    out = []
    for s in sources:
        lab = next(lab for (ss, lab) in counts if ss == s)
        log(f"LOSO: without {s}")
        sub = pool.without(s)
        torch.manual_seed(seed)
        net, _ = T.train_cnn(sub, seed, steps, log=lambda m: None)
        keep = src != s
        feat = T.fit_logistic(X[keep], y[keep], T.balanced_weights(y[keep], src[keep], sub),
                              T.FEATURE_L2)
        with tempfile.TemporaryDirectory() as tmp:
            T.export_onnx(net, Path(tmp) / "ai_image.onnx")
            spec = {"features": spec_trace_names, "trace": feat,
                    "combine": {"cnn": 1.0, "trace": 1.0, "bias": 0.0},
                    "thresholds": {"inconclusive": 0.0, "synthetic": 1.0}}
            model = det.AIImageModel(Path(tmp) / "ai_image.onnx", spec)
            held = [it for it in train if it.source == s]
            held = held[:: max(1, len(held) // max_test)][:max_test]
            others = [it for it in train if it.role == "cal" and it.source != s and it.label != lab]
            res = {"cnn": [], "trace": [], "sum": [], "y": []}
            for it in held + others:
                r = model.score(T.load_rgb(it.path))
                if r is None:
                    continue
                res["cnn"].append(r["cnn_logit"])
                res["trace"].append(r["trace_logit"])
                res["sum"].append(r["cnn_logit"] + r["trace_logit"])
                res["y"].append(it.label)
        yy = np.asarray(res["y"])
        rec = {"held_out": s, "label": "ai" if lab else "real", "n_held": len(held),
               "n_other": len(others), "steps": steps}
        for k in ("cnn", "trace", "sum"):
            rec[f"auc_{k}"] = round(metrics.auc(np.asarray(res[k]), yy), 3)
        rec["tpr_at_5pct_fpr_sum"] = round(metrics.tpr_at_fpr(np.asarray(res["sum"]), yy, 0.05)[0], 3)
        out.append(rec)
        log(f"  {rec}")
    return out


def ablation(items, steps, seed, log=print) -> dict:
    """CNN input ablation: the same CNN, steps and crops with the NPR residual and with the
    diagonal Haar high band (SAFE-style); CNN view alone on EVAL, as they come and after JPEG
    q85, AUC per pair of :data:`PAIRS`."""
    fit = [it for it in items if it.role == "fit"]
    ev = [it for it in items if it.role == "eval"]
    pool = T.Pool(fit, seed, log=lambda m: None)
    out = {}
    for name in ("npr", "wavelet_hh"):
        net, _ = T.train_cnn(pool, seed, steps, log=lambda m: None, cnn_input=name)
        with tempfile.TemporaryDirectory() as tmp:
            T.export_onnx(net, Path(tmp) / "ai_image.onnx")
            spec = {"input": name, "trace": {"mean": [0.0] * len(T.ai_traces.FEATURE_NAMES),
                                             "scale": [1.0] * len(T.ai_traces.FEATURE_NAMES),
                                             "weights": [0.0] * len(T.ai_traces.FEATURE_NAMES),
                                             "bias": 0.0},
                    "combine": {"cnn": 1.0, "trace": 0.0, "bias": 0.0},
                    "thresholds": {"inconclusive": 0.0, "synthetic": 1.0}}
            model = det.AIImageModel(Path(tmp) / "ai_image.onnx", spec)
            rows = score_items(model, ev, {"as_is": TREATMENTS["as_is"],
                                           "jpeg85": TREATMENTS["jpeg85"]}, log=lambda m: None)
        out[name] = {pair: {tr: pair_metrics(rows, ai, real, tr).get("auc")
                            for tr in ("as_is", "jpeg85")} for pair, (ai, real) in PAIRS.items()}
        log(f"ablation {name}: {out[name]}")
    return {"steps": steps, "auc": out}


def innocent(model, screenshots: Path | None, log=print) -> list[dict]:
    """The innocent sets of benchmarks/verdicts.py (issue 15), as they come and after its web
    export (the same copies: same spec, same seed, same cache): how often ai_image says
    ``synthetic`` (and how often while the picture is in scope, where fusion keeps the label),
    how often it lands in its inconclusive band. An upper bound of what ai_image adds to the
    verdict false alarms of docs/benchmarks.md ("Verdict headlines")."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import verdicts as V

    from veriscope.bench.cache import cache_root
    from veriscope.bench.perturb import perturb_records
    from veriscope.core.media import Media
    from veriscope.detectors.image.noise import jpeg_quality
    from veriscope.signals import scope

    sets = V.sets(micc=True)
    sets = {k: v for k, v in sets.items() if k not in ("noso", "micc", "comfyui")}
    if screenshots:
        sets["screenshots"] = V.screenshots(screenshots)
    out = []
    t = model.spec["thresholds"]
    for name, recs in sets.items():
        web, _ = perturb_records(recs, V.WEB, cache_root() / "bench" / "perturb", seed=0)
        for cond, rr in (("as-is", recs), ("web", web)):
            n = syn = syn_in = band = 0
            for r in rr:
                m = Media.open(Path(r.media))
                rgb = m.rgb()
                res = model.score(rgb)
                if res is None:
                    continue
                n += 1
                ok = scope.assess(rgb, jpeg_quality(m))["in_scope"]
                if res["z"] >= t["synthetic"]:
                    syn += 1
                    syn_in += int(ok)
                elif res["z"] >= t["inconclusive"]:
                    band += 1
            rec = {"set": name, "condition": cond, "n": n, "synthetic": syn,
                   "synthetic_in_scope": syn_in, "inconclusive_band": band}
            out.append(rec)
            log(f"  {rec}")
    return out


def inpaint(model, seed: int = 0, side: int = 384) -> list[dict]:
    """A generated region in a real photograph: a ``side`` px square of a RAISE AI picture
    pasted (lossless) into each camera JPEG of at least 600 px (both EVAL, never trained on).
    Per picture: the share of the region read by a tile, the map's mean inside and outside
    (where tiles read), the map's pixel AUC (0 where no tile read), the picture's score."""
    from veriscope.core.metrics import pixel_auc

    items = D.shared_items(D.find_data_root())
    cams = [it for it in items if it.source == "camera_jpegs"]
    ais = [it for it in items if it.source == "raise" and it.label == 1]
    rng = np.random.default_rng(seed)
    out = []
    for i, cam in enumerate(cams):
        bg = T.load_rgb(cam.path).copy()
        h, w = bg.shape[:2]
        if min(h, w) < 600:
            continue
        y, x = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
        bg[y:y + side, x:x + side] = T.load_rgb(ais[i % len(ais)].path)[:side, :side]
        mask = np.zeros((h, w), bool)
        mask[y:y + side, x:x + side] = True
        r = model.score(bg)
        heat = model.heatmap(r, h, w)
        hm = np.asarray(Image.fromarray((heat * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.NEAREST)) / 255.0
        read = np.asarray(Image.fromarray(((heat > 0) * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.NEAREST)) > 0
        inside = float(hm[mask & read].mean()) if (mask & read).any() else None
        out.append({"file": cam.path.name, "size": [w, h],
                    "region_read": round(float((read & mask).sum() / mask.sum()), 3),
                    "map_inside": None if inside is None else round(inside, 3),
                    "map_outside": round(float(hm[~mask & read].mean()), 3),
                    "pixel_auc": round(float(pixel_auc(hm, mask)), 3),
                    "score": round(r["score"], 3)})
    return out


# ----------------------------------------------------------------------------- speed

def speed(model_dir: Path | None) -> dict:
    root = D.find_data_root()
    cam = next(it for it in D.shared_items(root) if it.source == "camera_jpegs")
    rgb = T.load_rgb(cam.path)
    big = np.asarray(Image.fromarray(rgb).resize((4000, 3000), Image.Resampling.BICUBIC))
    model = det.load_model(str(model_dir) if model_dir else None)
    model.score(big)
    t = []
    for _ in range(3):
        t0 = time.perf_counter()
        model.score(big)
        t.append(time.perf_counter() - t0)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "photo12mp.jpg"
        Image.fromarray(big).save(p, quality=90)
        cmd = ["taskset", "-c", "0", sys.executable, "-m", "veriscope.cli", "analyze", str(p),
               "--detectors", "ai_image", "--out", str(Path(tmp) / "out")]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        fresh = time.perf_counter() - t0
        cmd2 = ["taskset", "-c", "0", sys.executable, "-c", "import veriscope.cli"]
        t0 = time.perf_counter()
        subprocess.run(cmd2, check=True, capture_output=True)
        start = time.perf_counter() - t0
    return {"warm_score_12mp_s": round(float(np.median(t)), 3),
            "fresh_analyze_12mp_s": round(fresh, 2), "python_import_s": round(start, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--extra", type=Path, default=Path.home() / ".cache/veriscope/train/ai_image")
    ap.add_argument("--loso", action="store_true")
    ap.add_argument("--loso-steps", type=int, default=500)
    ap.add_argument("--loso-sources", nargs="*", default=None)
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--inpaint", action="store_true",
                    help="also paste a generated region into real photos and read the map")
    ap.add_argument("--innocent", action="store_true",
                    help="also score the innocent sets of benchmarks/verdicts.py (issue 15)")
    ap.add_argument("--screenshots", type=Path, default=None,
                    help="with --innocent: folder of benchmarks/data/screenshots.tsv")
    ap.add_argument("--ablation-steps", type=int, default=0,
                    help="also train the CNN alone with each input (npr, wavelet_hh) this long")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    root = D.find_data_root()
    items = D.shared_items(root)
    if a.extra and a.extra.is_dir():
        items += D.manifest_items(a.extra)[0]
    items = D.with_hashes(items)
    res: dict = {"model": str(a.model or det.MODEL_DIR)}
    if not a.skip_eval:
        model = det.load_model(str(a.model) if a.model else None)
        ev = [it for it in items if it.role == "eval"]
        print(f"EVAL: {len(ev)} pictures")
        rows = score_items(model, ev)
        res["eval"] = {name: {tr: pair_metrics(rows, ai, real, tr) for tr in TREATMENTS}
                       for name, (ai, real) in PAIRS.items()}
        res["eval_rows"] = rows
        for name, per in res["eval"].items():
            print(f"\n{name}")
            for tr, m in per.items():
                print(f"  {tr:12s} {m}")
        save(a.json, res)
        res["shortcuts"] = shortcut_table(items, a.seed)
        print("\nshortcuts:", res["shortcuts"])
        save(a.json, res)
    if not a.skip_speed:
        res["speed"] = speed(a.model)
        print("speed:", res["speed"])
        save(a.json, res)
    if a.innocent:
        res["innocent"] = innocent(det.load_model(str(a.model) if a.model else None),
                                   a.screenshots)
        save(a.json, res)
    if a.inpaint:
        res["inpaint"] = inpaint(det.load_model(str(a.model) if a.model else None), a.seed)
        for r in res["inpaint"]:
            print(r)
        save(a.json, res)
    if a.loso:
        res["loso"] = loso(items, a.loso_steps, a.seed, a.loso_sources)
        save(a.json, res)
    if a.ablation_steps:
        res["ablation"] = ablation(items, a.ablation_steps, a.seed)
        save(a.json, res)


def save(path: Path | None, res: dict) -> None:
    """Written after every stage, so that a later failure loses nothing."""
    if path:
        path.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
