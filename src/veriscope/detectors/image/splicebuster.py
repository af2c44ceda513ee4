"""Splicebuster: blind splicing localization from co-occurrences of noise residuals.

After D. Cozzolino, G. Poggi and L. Verdoliva, "Splicebuster: a new blind image
splicing detector", IEEE WIFS 2015 (implemented from the paper; no code reused).

1. Third-order high-pass residuals, horizontally and vertically:
   ``r[i, j] = x[i, j-1] - 3 x[i, j] + 3 x[i, j+1] - x[i, j+2]`` (and its transpose),
   on the luma (as in the paper) and, an addition of ours, on Cr and Cb.
2. Quantised and truncated: ``c = clip(round(r / q), -T, T)`` with T = 2 (5 levels).
3. Co-occurrences of 4 consecutive quantised residuals along the filter direction
   (5^4 = 625 patterns), merged under sign change and reversal into 169 classes;
   horizontal and vertical counts are pooled (Cr and Cb pooled too).
4. Per-cell histograms with one ``np.bincount`` over encoded (cell, class) indices,
   then sliding-window histograms (window of ``win`` cells, stride one cell) by
   integral images, normalised and square-rooted; luma and chroma concatenated.
5. PCA to ``N_COMPONENTS`` dimensions, then the paper's unsupervised two-class
   model fitted by EM on the image itself: the host's features are Gaussian,
   spliced features are outliers, uniform over the feature range. The per-window
   log-likelihood ratio (as log of the Mahalanobis distance to the host Gaussian, a
   monotone function of it) is placed at the window centre and mapped to [0, 1]
   with logistic constants fitted on kodak24 forgeries (FIT split).
"""

from __future__ import annotations

import numpy as np

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector, sigmoid, working_rgb
from veriscope.detectors.image.noise import (
    box_sum,
    cell_map_to_image,
    centre_map,
    jpeg_quality,
    regions,
    scale_box,
)

MAX_PIXELS = 1_000_000
"""Working-copy size; larger images are area-downscaled (speed budget)."""
T = 2
"""Truncation of the quantised residual (paper: T = 2)."""
Q = 4.5
"""Quantisation step of the luma residual (fitted on FIT among 1, 2, 3, 4.5, 6, 9)."""
QC = 2.0
"""Quantisation step of the chroma (Cr, Cb) residuals (fitted on FIT among 1, 2)."""
N_COMPONENTS = 10
"""PCA dimensions kept (paper: 25; 10 was better on the small FIT images, see the doc)."""
MIN_SIDE = 64
"""Below this many pixels on the short side the image is not analysed."""
EM_ITERS = 30
MAX_ZERO = 0.9
"""Above this median share of all-zero residual 4-tuples per cell the picture is called
noise-free and no score is given."""

# Map and score constants fitted on kodak24 forgeries (FIT split): docs/detectors/splicebuster.md
MAP_MID = 3.5
"""log(Mahalanobis / dims) at which the map reaches 0.5 (about 2 % of pristine FIT pixels above)."""
MAP_WIDTH = 0.4
SCORE_MID = 6.5
"""99th percentile of the window values at which the score reaches 0.5 (95th percentile of
pristine FIT images, PNG and JPEG q75/q90 copies)."""
SCORE_WIDTH = 1.2


def symmetry_classes(t: int = T) -> tuple[np.ndarray, int]:
    """Lookup table from the (2t+1)^4 co-occurrence codes to classes merged under sign change
    and reversal of the 4-tuple; returns (table, number of classes)."""
    L = 2 * t + 1
    codes = np.arange(L ** 4)
    digits = np.stack([(codes // L ** k) % L for k in range(4)], axis=1) - t  # values -t..t
    def enc(d):
        return ((d + t) * (L ** np.arange(4))).sum(axis=1)
    variants = np.stack([enc(digits), enc(-digits), enc(digits[:, ::-1]), enc(-digits[:, ::-1])])
    canon = variants.min(axis=0)
    uniq, table = np.unique(canon, return_inverse=True)
    return table.astype(np.int64), int(uniq.size)


_TABLE, N_CLASSES = symmetry_classes(T)
_TABLE32 = _TABLE.astype(np.int32)


def residual_codes(gray: np.ndarray, q: float = Q, t: int = T) -> tuple[np.ndarray, np.ndarray]:
    """Class index of the horizontal and vertical 4-tuples at each position.

    Returns (ch, cv): ch has shape (H, W-6) (the tuple at column j covers columns j..j+6),
    cv has shape (H-6, W)."""
    L = 2 * t + 1
    x = gray.astype(np.float32) * np.float32(1.0 / q)

    def quant(r):
        return (np.clip(np.rint(r), -t, t) + t).astype(np.int32)

    rh = quant(x[:, :-3] - 3 * x[:, 1:-2] + 3 * x[:, 2:-1] - x[:, 3:])
    rv = quant(x[:-3] - 3 * x[1:-2] + 3 * x[2:-1] - x[3:])
    ch = rh[:, :-3] + L * rh[:, 1:-2] + L * L * rh[:, 2:-1] + L ** 3 * rh[:, 3:]
    cv = rv[:-3] + L * rv[1:-2] + L * L * rv[2:-1] + L ** 3 * rv[3:]
    return np.take(_TABLE32, ch), np.take(_TABLE32, cv)


def cell_histograms(gray: np.ndarray, cell: int, q: float = Q) -> np.ndarray:
    """Pooled co-occurrence counts per cell: array (gh, gw, N_CLASSES)."""
    h, w = gray.shape
    gh, gw = h // cell, w // cell
    ch, cv = residual_codes(gray, q)
    total = np.zeros(gh * gw * N_CLASSES, np.float64)
    for codes, (oy, ox) in ((ch, (0, 3)), (cv, (3, 0))):
        # each tuple is attributed to the cell of its centre pixel
        ys = np.minimum((np.arange(codes.shape[0], dtype=np.int32) + oy) // cell, gh - 1)
        xs = np.minimum((np.arange(codes.shape[1], dtype=np.int32) + ox) // cell, gw - 1)
        cid = (ys[:, None] * gw + xs[None, :]) * N_CLASSES
        cid += codes
        total += np.bincount(cid.ravel(), minlength=total.size)
    return total.reshape(gh, gw, N_CLASSES)


def window_features(hist: np.ndarray, win: int) -> np.ndarray:
    """Square-rooted normalised histograms of every win x win-cell window: (gh', gw', K)."""
    hw = box_sum(np.moveaxis(hist, -1, 0), win)  # (K, gh', gw')
    hw = np.moveaxis(hw, 0, -1)
    n = np.maximum(hw.sum(-1, keepdims=True), 1.0)
    return np.sqrt(hw / n)


def pca(X: np.ndarray, d: int) -> np.ndarray:
    Xc = X - X.mean(0)
    C = (Xc.T @ Xc) / max(1, X.shape[0] - 1)
    ev, V = np.linalg.eigh(C)
    V = V[:, ::-1][:, :d]
    return Xc @ V


def _gauss_logpdf(Z: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = Z.shape[1]
    cov = cov + 1e-9 * (np.trace(cov) / d + 1e-12) * np.eye(d)
    sign, logdet = np.linalg.slogdet(cov)
    P = np.linalg.inv(cov)
    Zc = Z - mu
    maha = ((Zc @ P) * Zc).sum(1)
    return -0.5 * (maha + logdet + d * np.log(2 * np.pi)), maha


def em_gaussian_uniform(Z: np.ndarray, iters: int = EM_ITERS) -> dict:
    """EM for a Gaussian (host) plus uniform (outlier) mixture; returns per-sample LLR."""
    n, d = Z.shape
    span = np.maximum(Z.max(0) - Z.min(0), 1e-6)
    log_u = -float(np.log(span).sum())
    mu = np.median(Z, axis=0)
    cov = np.cov(Z, rowvar=False).reshape(d, d) + 1e-6 * np.eye(d)
    pi_out = 0.1
    for _ in range(iters):
        log_g, _ = _gauss_logpdf(Z, mu, cov)
        a = np.log(1 - pi_out) + log_g
        b = np.log(pi_out) + log_u
        g = 1.0 / (1.0 + np.exp(np.clip(b - a, -50, 50)))  # host responsibility
        sw = g.sum()
        if sw < d + 2:
            break
        mu = (g @ Z) / sw
        Zc = Z - mu
        cov = (g[:, None] * Zc).T @ Zc / sw + 1e-6 * np.eye(d)
        pi_out = float(np.clip(1 - sw / n, 1e-3, 0.5))
    log_g, maha = _gauss_logpdf(Z, mu, cov)
    llr = (np.log(pi_out) + log_u) - (np.log(1 - pi_out) + log_g)
    return {"llr": llr, "maha": maha, "pi_out": pi_out, "dim": d}


def layout(h: int, w: int) -> tuple[int, int]:
    """(cell px, window in cells): 8 px cells; windows of about 1/6 of the short side, 48..128 px."""
    cell = 8 if h * w <= 600_000 else 16
    win_px = int(np.clip(min(h, w) / 6, 48, 128))
    return cell, max(3, int(round(win_px / cell)))


def layout_ok(h: int, w: int) -> bool:
    cell, win = layout(h, w)
    return h // cell >= win + 3 and w // cell >= win + 3


def analyse(rgb: np.ndarray, q: float = Q, qc: float = QC, dims: int = N_COMPONENTS) -> dict:
    """Anomaly map (cells) of one uint8 RGB image."""
    import cv2

    h, w = rgb.shape[:2]
    cell, win = layout(h, w)
    gh, gw = h // cell, w // cell
    if gh < win + 3 or gw < win + 3:
        return {"ok": False, "why": "too small"}
    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    hy = cell_histograms(ycc[..., 0], cell, q)
    zero = int(_TABLE[((2 * T + 1) ** 4 - 1) // 2])  # class of the all-zero 4-tuple
    tot = hy.sum(-1)
    flat = float(np.median(hy[..., zero] / np.maximum(tot, 1)))
    F = window_features(hy, win)
    hc = cell_histograms(ycc[..., 1], cell, qc) + cell_histograms(ycc[..., 2], cell, qc)
    F = np.concatenate([F, window_features(hc, win)], axis=-1)
    wh, ww = F.shape[:2]
    X = F.reshape(-1, F.shape[-1])
    d = int(min(dims, max(2, X.shape[0] // 20)))
    em = em_gaussian_uniform(pca(X, d))
    # log(maha / d): a monotone function of the EM log-likelihood ratio (outlier vs host),
    # about 0 for windows typical of the host model
    v = np.log(np.maximum(em["maha"], 1e-9) / d).reshape(wh, ww)
    cells = centre_map(v, win)
    return {"ok": True, "cell": cell, "win": win, "grid": (gh, gw), "cells": cells,
            "zero_fraction": flat,
            "pi_out": em["pi_out"], "dim": d, "gray_clipped": float(
                ((ycc[..., 0] <= 3) | (ycc[..., 0] >= 252)).mean())}


def value_to_map(cells: np.ndarray) -> np.ndarray:
    return sigmoid((cells - MAP_MID) / MAP_WIDTH).astype(np.float32)


def map_statistic(cells: np.ndarray) -> float:
    """Image statistic: the 99th percentile of the cell values."""
    return float(np.percentile(cells, 99))


def stat_to_score(stat: float) -> float:
    return float(sigmoid((stat - SCORE_MID) / SCORE_WIDTH))


class SplicebusterDetector(Detector):
    name = "splicebuster"
    version = "1.0.0"
    modalities = ("image",)
    requires = ("cv2",)
    localizes = True
    summary = "Splicebuster: blind splicing localization from noise-residual co-occurrences"
    looks_at = ("The statistics of the finest-grained pixel noise (co-occurrences of high-pass "
                "residuals) in sliding windows, and which windows do not fit the model learned "
                "from the rest of the same picture.")
    cannot_tell = ("Splices from a camera with the same noise statistics, copy-moves within one "
                   "picture; strong JPEG compression, resizing, saturated or very flat areas and "
                   "strong texture changes can also stand out in untouched photos.")
    how_to_read = ("Red = the fine texture of the noise residual differs from the picture's dominant "
                   "pattern. A compact region with a clear edge is telling; a map that colours half the "
                   "picture usually follows content (sky against foliage), not editing.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        rgb, scale = working_rgb(media, MAX_PIXELS)
        H, W = media.rgb().shape[:2]
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            return Evidence.not_applicable(self.name, self.version,
                                           f"image is {W}x{H}: too small for Splicebuster "
                                           f"(needs at least {MIN_SIDE} px per side)")
        res = analyse(rgb)
        q = jpeg_quality(media)
        data = {"working_size": [w, h], "scale": scale, "jpeg_quality": q}
        if not res["ok"]:
            return Evidence.not_applicable(self.name, self.version,
                                           f"image is {W}x{H}: too small for sliding-window "
                                           "statistics")
        if res["zero_fraction"] > MAX_ZERO:
            ev = self.evidence(score=None, label="inconclusive", data=data)
            data["reliability"] = {"level": "low", "why": "The picture carries almost no "
                                   "fine-grained noise (flat, synthetic, clipped or heavily "
                                   "compressed)."}
            ev.add("info", "residual_unmeasurable", "The fine-grained noise could not be "
                   "modelled: the picture carries almost none.",
                   zero_fraction=res["zero_fraction"])
            return ev
        hc = value_to_map(res["cells"])
        stat = map_statistic(res["cells"])
        score = stat_to_score(stat)
        heat = cell_map_to_image(hc, h, w, res["cell"])
        data.update(statistic=stat, outlier_fraction=res["pi_out"], pca_dims=res["dim"],
                    cell_px=res["cell"], window_px=res["cell"] * res["win"])
        data["reliability"] = _reliability(min(h, w), q, scale, res["gray_clipped"])
        ev = self.evidence(score=score, label="manipulated" if score >= 0.5 else "no_evidence",
                           heatmap=heat, data=data)
        if scale < 1.0:
            ev.add("info", "reduced_resolution", f"Analysed at reduced resolution ({w}x{h} "
                   f"instead of {W}x{H}) to stay within the time budget.", scale=scale)
        regs = [scale_box(r, W / w, H / h, W, H) for r in regions(heat)]
        data["regions"] = regs
        if score >= 0.5 and regs:
            r = regs[0]
            sev = "high" if score >= 0.8 and data["reliability"]["level"] != "low" else "medium"
            ev.add(sev, "residual_anomaly_region",
                   f"A region of about {100 * r['area_frac']:.0f}% of the picture (box at "
                   f"x={r['x']}, y={r['y']}, {r['w']}x{r['h']} px) has fine-grained noise "
                   "statistics unlike the rest of the picture, as a region pasted from another "
                   "photo often has.", bbox=[r["x"], r["y"], r["w"], r["h"]],
                   area_fraction=r["area_frac"])
            for rr in regs:
                ev.boxes.append(Box(rr["x"], rr["y"], rr["w"], rr["h"], score=rr["peak"],
                                    label="residual_anomaly"))
            ev.add("info", "splicebuster_summary", "Part of the picture does not fit the noise "
                   "model learned from the rest of it.", statistic=stat, score=score)
        elif regs:
            ev.add("info", "splicebuster_summary", "Some windows fit the picture's own noise "
                   "model less well than the rest, but no more than in many untouched photos "
                   "(smooth, clipped or unusual textures do this).", statistic=stat, score=score)
        else:
            ev.add("info", "splicebuster_summary", "The fine-grained noise statistics fit one "
                   "model across the picture: no region stands out.", statistic=stat,
                   score=score)
        return ev


def _reliability(short: int, q: int | None, scale: float, clipped: float) -> dict:
    if short < 200:
        return {"level": "low", "why": "The picture is small, so each window holds few "
                                       "residual samples."}
    if clipped > 0.4:
        return {"level": "low", "why": "Much of the picture is clipped to black or white, "
                                       "where there is no noise to model."}
    if q is not None and q < 75:
        return {"level": "low", "why": f"The JPEG quality (about {q}) is low: compression "
                                       "dominates the fine-grained noise."}
    if (q is not None and q < 90) or scale < 0.5 or short < 400:
        why = (f"JPEG compression (quality about {q}) alters the fine-grained noise." if
               q is not None and q < 90 else "The picture was analysed at much reduced "
               "resolution." if scale < 0.5 else "The picture is fairly small for window "
               "statistics.")
        return {"level": "medium", "why": why}
    return {"level": "high", "why": "Large enough, mostly well exposed and not strongly "
                                    "compressed."}
