"""Plain metric functions over numpy arrays (image and pixel level).

Conventions: scores/maps are floats, higher = more likely manipulated; masks
and labels are booleans (True = manipulated). Pixel F1 is the plain F1 of the
map thresholded at ``t`` against the mask (not the permuted max(F1(map),
F1(1-map)) variant). AUCs are the Mann-Whitney statistic with ties counted
half, so they equal scikit-learn's ``roc_auc_score``.
"""

from __future__ import annotations

import numpy as np


def auc(scores, labels) -> float:
    """ROC AUC (Mann-Whitney, ties = 1/2). NaN when only one class is present."""
    from scipy.stats import rankdata

    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels, bool).ravel()
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def pixel_auc(heatmap, mask, max_pixels: int = 1_000_000) -> float:
    """Pixel ROC AUC of one map; large maps are subsampled on a regular grid."""
    h = np.asarray(heatmap, np.float32)
    m = np.asarray(mask, bool)
    step = max(1, int(np.sqrt(h.size / max_pixels)))
    return auc(h[::step, ::step], m[::step, ::step])


def f1_counts(tp: float, fp: float, fn: float) -> float:
    d = 2 * tp + fp + fn
    return float(2 * tp / d) if d > 0 else float("nan")


def pixel_f1(heatmap, mask, threshold: float = 0.5) -> float:
    """Plain pixel F1 of ``heatmap >= threshold``. NaN if both the mask and the prediction are empty."""
    p = np.asarray(heatmap) >= threshold
    m = np.asarray(mask, bool)
    tp = float(np.count_nonzero(p & m))
    return f1_counts(tp, float(np.count_nonzero(p & ~m)), float(np.count_nonzero(~p & m)))


def mean_of_defined(values) -> float:
    """Mean of the values that are not NaN; NaN when none is."""
    vals = [v for v in values if v == v]
    return float(np.mean(vals)) if vals else float("nan")


def mean_f1_at(maps, masks, threshold: float) -> float:
    return mean_of_defined(pixel_f1(h, m, threshold) for h, m in zip(maps, masks, strict=True))


def dataset_best_threshold(maps, masks, grid=None) -> tuple[float, float]:
    """The one threshold (same for every image) that maximises the mean pixel F1; returns (t, F1).

    This is an oracle over the evaluated set: report it as such, never as a fixed-threshold result.
    """
    grid = np.linspace(0.05, 0.95, 19) if grid is None else grid
    best = (0.5, -1.0)
    for t in grid:
        f = mean_f1_at(maps, masks, float(t))
        if f == f and f > best[1]:
            best = (float(t), f)
    return best


def tpr_at_fpr(scores, labels, max_fpr: float) -> tuple[float, float]:
    """Highest TPR whose FPR <= max_fpr, and the threshold achieving it (score >= t)."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, bool)
    best = (0.0, float("inf"))
    for t in np.unique(s):
        pred = s >= t
        fpr = pred[~y].mean() if (~y).any() else 0.0
        tpr = pred[y].mean() if y.any() else 0.0
        if fpr <= max_fpr and tpr > best[0]:
            best = (float(tpr), float(t))
    return best


def rates_at(scores, labels, threshold: float) -> tuple[float, float]:
    """(TPR, FPR) of ``score >= threshold``."""
    s = np.asarray(scores, np.float64)
    y = np.asarray(labels, bool)
    pred = s >= threshold
    return float(pred[y].mean()) if y.any() else float("nan"), \
        float(pred[~y].mean()) if (~y).any() else float("nan")


def average_precision(scores, labels) -> float:
    """Average precision (step-wise, as scikit-learn's average_precision_score)."""
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels, bool).ravel()
    if not y.any():
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # group ties: precision/recall evaluated only at distinct thresholds
    distinct = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = np.cumsum(y)[distinct]
    fp = (distinct + 1) - tp
    prec = tp / (tp + fp)
    rec = tp / y.sum()
    rec_prev = np.r_[0.0, rec[:-1]]
    return float(np.sum((rec - rec_prev) * prec))


def eer(scores, labels) -> float:
    """Equal error rate: where the false-positive and false-negative rates cross (interpolated)."""
    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels, bool).ravel()
    if y.all() or not y.any():
        return float("nan")
    ts = np.r_[-np.inf, np.unique(s), np.inf]
    fpr = np.array([(s[~y] >= t).mean() for t in ts])
    fnr = np.array([(s[y] < t).mean() for t in ts])
    d = fpr - fnr
    i = int(np.nonzero(d <= 0)[0][0])
    if i == 0 or d[i] == 0:
        return float((fpr[i] + fnr[i]) / 2)
    a, b = d[i - 1], d[i]
    w = a / (a - b)
    return float(((1 - w) * fpr[i - 1] + w * fpr[i] + (1 - w) * fnr[i - 1] + w * fnr[i]) / 2)


def balanced_accuracy(scores, labels, threshold: float = 0.5) -> float:
    tpr, fpr = rates_at(scores, labels, threshold)
    if tpr != tpr or fpr != fpr:
        return float("nan")
    return float((tpr + (1 - fpr)) / 2)


def ece(scores, labels, bins: int = 10) -> float:
    """Expected calibration error: over ``bins`` equal-width score bins, the mean of
    |share of positives - mean score| weighted by the bin's share of the items (0 = a score
    of p means "manipulated" p of the time). NaN without items."""
    s = np.asarray(scores, float)
    y = np.asarray(labels, float)
    if s.size == 0:
        return float("nan")
    idx = np.minimum((np.clip(s, 0.0, 1.0) * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.sum() * abs(y[m].mean() - s[m].mean())
    return float(total / s.size)


def reliability_bins(scores, labels, edges=(0.0, 0.5, 0.65, 0.8, 0.95, 1.0)) -> list[dict]:
    """A reliability diagram as rows: for each score bin [lo, hi) (the last one closed), the
    number of items, their mean score and the share of positives among them (None when the bin
    is empty). A calibrated score has mean score close to the share in every bin."""
    s = np.clip(np.asarray(scores, float), 0.0, 1.0)
    y = np.asarray(labels, float)
    out = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        m = (s >= lo) & ((s < hi) if i < len(edges) - 2 else (s <= hi))
        n = int(m.sum())
        out.append({"lo": lo, "hi": hi, "n": n,
                    "mean_score": float(s[m].mean()) if n else None,
                    "positive_share": float(y[m].mean()) if n else None})
    return out


BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
_BOOTSTRAP_BLOCK = 4_000_000  # resampled values held at once (larger sets go in row blocks)


def _blocks(n_boot: int, size: int) -> list[int]:
    """Rows (resamples) per block so that a block holds at most _BOOTSTRAP_BLOCK values."""
    per = max(1, _BOOTSTRAP_BLOCK // max(1, size))
    return [min(per, n_boot - i) for i in range(0, n_boot, per)]


def bootstrap_mean_ci(values, level: float = 0.95, n_boot: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-item values (NaN items left out):
    items resampled with replacement ``n_boot`` times from a fixed seed, so it is
    reproducible. (nan, nan) without items."""
    v = np.asarray(values, np.float64).ravel()
    v = v[v == v]
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.concatenate([v[rng.integers(0, v.size, (b, v.size))].mean(axis=1)
                            for b in _blocks(n_boot, v.size)])
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    return float(lo), float(hi)


def bootstrap_auc_ci(scores, labels, level: float = 0.95, n_boot: int = BOOTSTRAP_RESAMPLES,
                     seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`auc`, positives and negatives resampled
    separately (each resample keeps both class sizes). (nan, nan) unless both classes."""
    from scipy.stats import rankdata

    s = np.asarray(scores, np.float64).ravel()
    y = np.asarray(labels, bool).ravel()
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    n1, n0 = pos.size, neg.size
    aucs = []
    for b in _blocks(n_boot, n1 + n0):
        p = pos[rng.integers(0, n1, (b, n1))]
        n = neg[rng.integers(0, n0, (b, n0))]
        r = rankdata(np.concatenate([p, n], axis=1), axis=1)  # ties share their mean rank
        aucs.append((r[:, :n1].sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0))
    aucs = np.concatenate(aucs)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(aucs, [a, 1.0 - a])
    return float(lo), float(hi)
