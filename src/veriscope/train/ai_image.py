"""Training recipe of the ``ai_image`` detector (issue 16; docs/detectors/ai_image.md).

``veriscope train ai-image --out DIR --seed N [--data PATH] [--extra DIR] [--steps K]``

Two views, trained here from scratch on the TRAIN sources of :mod:`.ai_image_data`:

1. a small fully convolutional CNN (:class:`NPRNet`) on the neighbouring-pixel residual
   (:func:`veriscope.signals.ai_traces.npr_residual`), trained on random 96 px crops; exported to
   ONNX (``ai_image.onnx``), run by onnxruntime in the detector;
2. a weighted L2 logistic regression on the hand-crafted trace statistics
   (:func:`veriscope.signals.ai_traces.trace_features`) of random 256 px crops.

Both classes go through the same augmentation (:func:`augment`), so that format, size and
compression history tell nothing: a random crop offset (the 8x8 JPEG grid and the 2x2 cells lose
their phase), an equal rescaling for both classes (one crop in two, factor 0.3-0.9, random
filter, drawn before the class so that its law is the same for both), then a last lossy compression for nearly every crop (JPEG quality 60-100 with 4:4:4 or
4:2:0 chroma, or WebP), then the final crop. Sources are weighted inside each class
(:data:`SOURCE_CAP`: a source of 1,400 pictures weighs as much as one of 150), pictures evenly
inside each source.

The CAL split (one picture in five of each TRAIN source, never seen by either view) then fits
the combination (a logistic regression on the two logits) and the thresholds: the combined
logit at which :data:`FPR_SYNTHETIC` and :data:`FPR_INCONCLUSIVE` of CAL real pictures (as they
come and after everyday treatments) score higher.

Everything is seeded; torch runs on the CPU with deterministic algorithms, so one seed on one
machine gives the same model (a different CPU may change the last digits).
"""

from __future__ import annotations

import io
import json
import math
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from veriscope.core import metrics
from veriscope.core.media import to_rgb8
from veriscope.signals import ai_traces, perturb
from veriscope.train import ai_image_data as data
from veriscope.train import common

CNN_CROP = 96
"""Side of the CNN's training crops (the receptive field of one map cell is about 40 px)."""
REGION = 384
"""Pictures are read once into up to :data:`REGIONS` random native-resolution regions of this
side, one per REGION x REGION of area (no resize: a resize would change the very traces the
model reads)."""
REGIONS = 6
SCALE_MIN = 0.3
RESCALE_SHARE = 0.5
"""Share of crops rescaled (downscaled real photographs lose their sensor grain and must not
look generated)."""
"""Smallest factor of the equal rescaling (real photographs reach users downscaled many times
over; a region of REGION px allows down to (CNN_CROP + 16) / REGION)."""
SOURCE_CAP = 150
"""Inside each class a source is drawn with probability proportional to min(its pictures,
SOURCE_CAP): a source of 1,400 pictures weighs as much as one of 150, one of 20 less."""
BATCH = 64
DEFAULT_STEPS = 2500
LR = 2e-3
WEIGHT_DECAY = 1e-4
FEATURE_CROPS = 4
"""Augmented 256 px crops per TRAIN picture for the trace classifier ..."""
FEATURE_MAX_PER_SOURCE = 240
"""... and at most this many per source."""
FEATURE_L2 = 1e-2
FPR_SYNTHETIC = 0.01
"""Share of CAL real pictures (and their treated copies) allowed at or above the ``synthetic``
threshold: score 0.65 at this point."""
FPR_INCONCLUSIVE = 0.05
"""Share allowed in the inconclusive band or above: score 0.5 at this point."""
SCORE_INCONCLUSIVE = 0.5
SCORE_SYNTHETIC = 0.65


# ----------------------------------------------------------------------------- pictures

def load_rgb(path: Path) -> np.ndarray:
    """The picture as uint8 RGB, by the project's conversion of any mode (core.media.to_rgb8)."""
    with Image.open(path) as im:
        return to_rgb8(im)


def regions_of(rgb: np.ndarray, rng: np.random.Generator, side: int = REGION,
               count: int = REGIONS) -> list[np.ndarray]:
    h, w = rgb.shape[:2]
    if min(h, w) < CNN_CROP + 16:
        return []
    if h <= side and w <= side:
        return [rgb.copy()]
    out = []
    count = min(count, int(math.ceil(h * w / float(side * side))))
    for _ in range(count):
        sh, sw = min(side, h), min(side, w)
        y = int(rng.integers(0, h - sh + 1))
        x = int(rng.integers(0, w - sw + 1))
        out.append(np.ascontiguousarray(rgb[y:y + sh, x:x + sw]))
    return out


def compress(rgb: np.ndarray, rng: np.random.Generator, info: dict | None = None) -> np.ndarray:
    """The last lossy save every training crop gets (both classes alike). ``info`` receives
    the format and quality drawn."""
    u = rng.random()
    im = Image.fromarray(rgb)
    buf = io.BytesIO()
    info = info if info is not None else {}
    if u < 0.85:
        q = int(rng.integers(60, 101))
        sub = int(rng.choice([0, 2]))
        im.save(buf, "JPEG", quality=q, subsampling=sub)
        info.update(format="jpeg", quality=q, subsampling=sub)
    elif u < 0.95:
        q = int(rng.integers(60, 101))
        im.save(buf, "WEBP", quality=q)
        info.update(format="webp", quality=q, subsampling=2)
    else:
        info.update(format="none", quality=100, subsampling=0)
        return rgb
    buf.seek(0)
    with Image.open(buf) as r:
        return np.asarray(r.convert("RGB"))


_FILTERS = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS,
            Image.Resampling.BOX)


def draw_scale(rng: np.random.Generator) -> float:
    """The equal rescaling factor of one crop: 1 (no rescaling) for half of the crops, else
    uniform in [SCALE_MIN, 0.9]. Drawn before the class and the picture, so that its
    distribution is the same for both classes."""
    return 1.0 if rng.random() >= RESCALE_SHARE else float(rng.uniform(SCALE_MIN, 0.9))


def augment(region: np.ndarray, rng: np.random.Generator, side: int,
            info: dict | None = None, f: float = 1.0) -> np.ndarray | None:
    """One training crop of ``side`` px from ``region``: random offset, rescaling by ``f``,
    last lossy save (``info`` receives the scale and the save drawn). None when the region is
    too small for ``f`` (the caller then picks another region, never another factor)."""
    h, w = region.shape[:2]
    need = int(math.ceil((side + 16) / f))
    if need > min(h, w):
        return None
    y = int(rng.integers(0, h - need + 1))
    x = int(rng.integers(0, w - need + 1))
    c = region[y:y + need, x:x + need]
    if f < 1.0:
        n = max(side + 8, int(round(need * f)))
        c = np.asarray(Image.fromarray(c).resize((n, n), _FILTERS[int(rng.integers(len(_FILTERS)))]))
    c = compress(c, rng, info)
    if info is not None:
        info["scale"] = f
    hh, ww = c.shape[:2]
    y = int(rng.integers(0, hh - side + 1))
    x = int(rng.integers(0, ww - side + 1))
    return c[y:y + side, x:x + side]


class Pool:
    """Regions of the pictures of one role, grouped by class and source for even sampling."""

    def __init__(self, items: list[data.Item], seed: int, log=print):
        self.by_class: dict[int, dict[str, list[list[np.ndarray]]]] = {0: {}, 1: {}}
        self.skipped: list[str] = []
        for i, it in enumerate(items):
            rng = np.random.default_rng([seed, int(it.key[:12], 16)])
            try:
                regs = regions_of(load_rgb(it.path), rng)
            except Exception as e:  # noqa: BLE001 - a picture that fails to decode is reported
                self.skipped.append(f"{it.path.name}: {type(e).__name__}")
                continue
            if not regs:
                self.skipped.append(f"{it.path.name}: too small")
                continue
            self.by_class[it.label].setdefault(it.source, []).append(regs)
            if (i + 1) % 100 == 0:
                log(f"  read {i + 1}/{len(items)} pictures")

    def without(self, source: str) -> Pool:
        """The same regions without one source (leave-one-source-out), nothing read again."""
        sub = object.__new__(Pool)
        sub.skipped = list(self.skipped)
        sub.by_class = {c: {k: v for k, v in d.items() if k != source}
                        for c, d in self.by_class.items()}
        return sub

    def sources(self, label: int) -> list[str]:
        return sorted(self.by_class[label])

    def source_weights(self, label: int) -> np.ndarray:
        n = np.asarray([min(len(self.by_class[label][s]), SOURCE_CAP)
                        for s in self.sources(label)], float)
        return n / n.sum()

    def draw(self, label: int, rng: np.random.Generator, side: int,
             info: dict | None = None) -> np.ndarray:
        """One augmented crop of class ``label``: the rescaling factor first (the same law for
        both classes), then a source, a picture and a region large enough for it."""
        srcs = self.sources(label)
        p = self.source_weights(label)
        f = draw_scale(rng)
        for attempt in range(1000):
            if attempt == 999:
                f = 1.0  # no region of this class is large enough: keep the crop unscaled
            pics = self.by_class[label][srcs[int(rng.choice(len(srcs), p=p))]]
            regs = pics[int(rng.integers(len(pics)))]
            crop = augment(regs[int(rng.integers(len(regs)))], rng, side, info, f)
            if crop is not None:
                return crop
        raise ValueError("no region large enough for a crop")


# ----------------------------------------------------------------------------- CNN view

def build_net():
    import torch.nn as nn

    def block(cin, cout, stride):
        return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    class NPRNet(nn.Module):
        """Fully convolutional: (N, 3, H, W) residual -> (N, 1, H/8, W/8) logits."""

        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(*block(3, 24, 1), *block(24, 32, 2), *block(32, 48, 1),
                                      *block(48, 64, 2), *block(64, 64, 1), *block(64, 64, 2),
                                      nn.Conv2d(64, 1, 1))

        def forward(self, x):
            return self.body(x)

    return NPRNet()


def batch_of(pool: Pool, rng: np.random.Generator, n: int = BATCH, cnn_input: str = "npr"):
    xs, ys = [], []
    f = ai_traces.INPUTS[cnn_input]
    for k in range(n):
        lab = k % 2
        xs.append(f(pool.draw(lab, rng, CNN_CROP)))
        ys.append(lab)
    return np.stack(xs).astype(np.float32), np.asarray(ys, np.float32)


def train_cnn(pool: Pool, seed: int, steps: int, log=print, cnn_input: str = "npr"):
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    net = build_net()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng([seed, 1])
    lossf = torch.nn.BCEWithLogitsLoss()
    t0 = time.time()
    hist = []
    net.train()
    for step in range(steps):
        x, y = batch_of(pool, rng, cnn_input=cnn_input)
        logit = net(torch.from_numpy(x)).mean(dim=(1, 2, 3))
        loss = lossf(logit, torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(float(loss.detach()))
        if (step + 1) % 100 == 0 or step + 1 == steps:
            acc = float(((logit.detach() > 0).float() == torch.from_numpy(y)).float().mean())
            el = time.time() - t0
            log(f"  cnn step {step + 1}/{steps}: loss {np.mean(hist[-100:]):.3f}, batch acc "
                f"{acc:.2f}, {el:.0f} s ({(step + 1) * BATCH / el:.0f} crops/s)")
    net.eval()
    return net, {"input": cnn_input, "steps": steps, "batch": BATCH, "crop": CNN_CROP, "seconds": round(time.time() - t0, 1),
                 "final_loss": round(float(np.mean(hist[-100:])), 4)}


def export_onnx(net, path: Path) -> None:
    import torch

    x = torch.zeros(1, 3, 128, 128)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, still exact here
        warnings.simplefilter("ignore")
        _export(torch, net, x, path)


def _export(torch, net, x, path: Path) -> None:
    torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["residual"],
                      output_names=["logits"], opset_version=17,
                      dynamic_axes={"residual": {0: "n", 2: "h", 3: "w"},
                                    "logits": {0: "n", 2: "h", 3: "w"}})


# ----------------------------------------------------------------------------- trace view

def feature_rows(pool: Pool, seed: int, per_picture: int = FEATURE_CROPS,
                 most: int = FEATURE_MAX_PER_SOURCE, log=print):
    """Augmented 256 px crops, ``per_picture`` per picture and at most ``most`` per source:
    (X, y, source names)."""
    rng = np.random.default_rng([seed, 2])
    X, y, src = [], [], []
    for lab in (0, 1):
        for s in pool.sources(lab):
            pics = pool.by_class[lab][s]
            for k in range(min(most, per_picture * len(pics))):
                regs = pics[k % len(pics)]
                f = draw_scale(rng)
                crop = None
                for g in (f, 1.0):  # a region too small for f is read unscaled
                    crop = augment(regs[int(rng.integers(len(regs)))], rng, ai_traces.CROP,
                                   f=g)
                    if crop is not None:
                        break
                if crop is None:
                    continue
                X.append(ai_traces.trace_features(crop))
                y.append(lab)
                src.append(s)
        log(f"  trace features: class {lab} done ({len(X)} crops)")
    return np.asarray(X), np.asarray(y, float), np.asarray(src)


def fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> dict:
    """Weighted, standardised, L2 logistic regression by L-BFGS from zero (deterministic)."""
    mean, scale, coef, bias, res = common.fit_logistic(X, y, w, l2, maxiter=5000, gtol=1e-10,
                                                       ftol=1e-15)
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": coef.tolist(),
            "bias": bias, "l2": l2, "converged": bool(res.success)}


def balanced_weights(y: np.ndarray, src: np.ndarray, pool: Pool | None = None) -> np.ndarray:
    """Row weights: the classes weigh the same; inside a class each source weighs as in
    :meth:`Pool.source_weights` (evenly without a pool), each row of a source the same."""
    w = np.zeros(len(y))
    for lab in (0, 1):
        srcs = sorted(set(src[y == lab]))
        share = dict(zip(pool.sources(lab), pool.source_weights(lab), strict=False)) if pool else {}
        for s in srcs:
            m = (y == lab) & (src == s)
            w[m] = share.get(s, 1.0 / len(srcs)) / m.sum()
    return w


# ----------------------------------------------------------------------------- CAL split

def treatments(rgb: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The picture as it comes and after everyday treatments (the thresholds must hold there)."""
    out = {"as_is": rgb}
    h, w = rgb.shape[:2]
    f = float(rng.uniform(0.5, 0.8))
    small = Image.fromarray(rgb).resize((max(1, int(w * f)), max(1, int(h * f))),
                                        Image.Resampling.LANCZOS)
    out["web"] = perturb.jpeg_encode(np.asarray(small), int(rng.integers(75, 91)))[0]
    out["jpeg85"] = perturb.jpeg_encode(rgb, 85)[0]
    return out


def run(out: Path, seed: int = 0, data_root: str | Path | None = None,
        extra: Path | None = None, steps: int = DEFAULT_STEPS, limit: int | None = None,
        exclude: tuple[str, ...] = (), log=print) -> dict:
    """Train both views, fit the combination and thresholds on CAL, write DIR/ai_image.onnx,
    DIR/ai_image.json and DIR/training_report.json. ``limit`` keeps that many pictures per
    source (a tiny run for tests); ``exclude`` leaves whole sources out (leave-one-source-out)."""
    from veriscope.detectors.image import ai_image as det

    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = data.find_data_root(data_root)
    items = data.shared_items(root)
    stats = {}
    if extra is not None:
        more, stats = data.manifest_items(Path(extra))
        items += more
    items = [it for it in data.with_hashes(items) if it.source not in exclude]
    if limit:
        kept, seen = [], {}
        for it in items:
            seen[it.source] = seen.get(it.source, 0) + 1
            if seen[it.source] <= limit:
                kept.append(it)
        items = kept
    fit = [it for it in items if it.role == "fit"]
    cal = [it for it in items if it.role == "cal"]
    log(f"ai-image: {len(fit)} FIT and {len(cal)} CAL pictures from "
        f"{len({it.source for it in fit})} sources; EVAL sources never read: "
        f"{', '.join(data.EVAL_SOURCES)}")
    pool = Pool(fit, seed, log)
    if not pool.sources(0) or not pool.sources(1):
        raise FileNotFoundError("training needs real and AI pictures; found sources "
                                f"{pool.sources(0)} / {pool.sources(1)}")
    net, cnn_info = train_cnn(pool, seed, steps, log)
    export_onnx(net, out / "ai_image.onnx")

    X, y, src = feature_rows(pool, seed, log=log)
    feat = fit_logistic(X, y, balanced_weights(y, src, pool), FEATURE_L2)

    model = {"version": 1, "features": list(ai_traces.FEATURE_NAMES), "trace": feat,
             "combine": {"cnn": 1.0, "trace": 1.0, "bias": 0.0},
             "thresholds": {"inconclusive": 0.0, "synthetic": 1.0}}
    rows = cal_rows(det.AIImageModel(out / "ai_image.onnx", model), cal, seed)
    if not rows:
        raise FileNotFoundError("no CAL picture could be scored")
    write_cal_rows(rows, out / "cal_scores.tsv")
    cal_report = fit_rule(model, rows)
    report = {
        "seed": seed, "steps": steps, "seconds": round(time.time() - t0, 1),
        "data": {"root": str(root), "fit": _count(fit), "cal": _count(cal),
                 "skipped": pool.skipped, "extra": stats,
                 "eval_sources_never_read": list(data.EVAL_SOURCES)},
        "cnn": cnn_info,
        "trace": {"crops": int(len(y)), "converged": feat["converged"]},
        "cal": cal_report,
    }
    model["training"] = {"seed": seed, "steps": steps, "fit_pictures": len(fit),
                         "cal_pictures": len(cal)}
    (out / "ai_image.json").write_text(json.dumps(model, indent=1) + "\n")
    (out / "training_report.json").write_text(json.dumps(report, indent=1) + "\n")
    log(f"ai-image: done in {report['seconds']:.0f} s; CAL AUC {report['cal']['auc']:.3f}, "
        f"real >= synthetic threshold {report['cal']['real_above_synthetic']:.3f}, AI >= it "
        f"{report['cal']['ai_above_synthetic']}")
    return report


def cal_rows(scorer, cal: list[data.Item], seed: int) -> list[dict]:
    """Both views' logits of every CAL picture, as it comes and after :func:`treatments`."""
    rows = []
    rng = np.random.default_rng([seed, 3])
    for it in cal:
        try:
            rgb = load_rgb(it.path)
        except Exception:  # noqa: BLE001 - an undecodable picture is left out
            continue
        for name, img in treatments(rgb, rng).items():
            r = scorer.score(img)
            if r is None:
                continue
            rows.append({"source": it.source, "label": it.label, "treatment": name,
                         "file": it.path.name, "cnn": r["cnn_logit"], "trace": r["trace_logit"]})
    return rows


def write_cal_rows(rows: list[dict], path: Path) -> None:
    keys = ["source", "label", "treatment", "file", "cnn", "trace"]
    lines = ["\t".join(keys)] + ["\t".join(str(r[k]) for k in keys) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_cal_rows(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    keys = lines[0].split("\t")
    out = []
    for ln in lines[1:]:
        r = dict(zip(keys, ln.split("\t"), strict=True))
        r.update(label=int(r["label"]), cnn=float(r["cnn"]), trace=float(r["trace"]))
        out.append(r)
    return out


def fit_rule(model: dict, rows: list[dict], fpr_synthetic: float = FPR_SYNTHETIC,
             fpr_inconclusive: float = FPR_INCONCLUSIVE) -> dict:
    """Fit the combination (logistic regression on the two logits, classes and sources
    weighted) and the two thresholds (the combined logit that the given shares of CAL real
    rows reach, sources weighted evenly) into ``model``; return the CAL figures."""
    C = np.asarray([[r["cnn"], r["trace"]] for r in rows])
    cy = np.asarray([r["label"] for r in rows], float)
    csrc = np.asarray([r["source"] for r in rows])
    comb = fit_logistic(C, cy, balanced_weights(cy, csrc), 1e-3)
    a = np.asarray(comb["weights"]) / np.asarray(comb["scale"])
    b = comb["bias"] - float(a @ np.asarray(comb["mean"]))
    z = C @ a + b
    real_z = z[cy == 0]
    wr = balanced_weights(cy, csrc)[cy == 0]
    t_syn = weighted_quantile(real_z, wr, 1 - fpr_synthetic)
    t_inc = weighted_quantile(real_z, wr, 1 - fpr_inconclusive)
    if t_inc >= t_syn:
        t_inc = t_syn - 0.5
    model["combine"] = {"cnn": float(a[0]), "trace": float(a[1]), "bias": float(b)}
    model["thresholds"] = {"inconclusive": float(t_inc), "synthetic": float(t_syn)}
    model["rule"] = {"fpr_synthetic": fpr_synthetic, "fpr_inconclusive": fpr_inconclusive}
    ai_z = z[cy == 1]
    return {"rows": len(rows), "real_above_synthetic": float(np.mean(real_z >= t_syn)),
            "real_above_inconclusive": float(np.mean(real_z >= t_inc)),
            "ai_above_synthetic": float(np.mean(ai_z >= t_syn)) if len(ai_z) else None,
            "ai_above_inconclusive": float(np.mean(ai_z >= t_inc)) if len(ai_z) else None,
            "auc": metrics.auc(z, cy)}


def _count(items: list[data.Item]) -> dict:
    """Pictures per "source/class"."""
    return dict(sorted(Counter(f"{it.source}/{'ai' if it.label else 'real'}"
                               for it in items).items()))


def weighted_quantile(v: np.ndarray, w: np.ndarray, q: float) -> float:
    o = np.argsort(v)
    cw = np.cumsum(w[o]) / w.sum()
    return float(v[o][min(len(v) - 1, int(np.searchsorted(cw, q)))])

