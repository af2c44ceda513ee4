"""Stateful benchmark metrics: ``update()`` item by item, ``compute()`` once, ``merge()`` across workers.

Every metric keeps only exact state (Python lists concatenated in order, or integer counts), so
``a.merge(b).compute()`` over two halves of a dataset equals one pass over all of it, and sums of
per-item values use :func:`math.fsum` (exactly rounded, independent of order). Each metric has a
stable ``name`` (the key in results.json, e.g. ``pixel_f1@dataset_best``) and a one-sentence
``definition``; docs/bench.md is the full protocol text.

Conventions: scores and maps are floats in [0, 1], higher = more likely manipulated; labels and
masks are booleans (True = manipulated). Pixel metrics are averaged over manipulated items only
(``update(..., label=0)`` is counted and ignored). A value that is undefined for an item (NaN, e.g.
F1 of an empty prediction on an empty mask) is left out of that metric's mean; a metric that is
undefined for the whole set computes to NaN (callers drop NaN from results.json).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

import numpy as np

from veriscope.core import metrics as M

#: The threshold grid of the oracle variants (same as metrics.dataset_best_threshold).
DEFAULT_GRID: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(1, 20))
NAN = float("nan")


def _fmt(x: float) -> str:
    return f"{x:g}"


def _mean(values: Iterable[float]) -> float:
    v = [float(x) for x in values if x == x]
    return math.fsum(v) / len(v) if v else NAN


class Metric:
    """Base class: declare state with :meth:`add_state`; implement ``update`` and ``compute``.

    ``reduce`` of a state says how :meth:`merge` combines two workers' states: ``"cat"`` (lists,
    concatenated in order) or ``"sum"`` (integers or integer arrays, added).
    """

    name: str = "metric"
    higher_is_better: bool = True

    def __init__(self) -> None:
        self._states: dict[str, tuple[object, str]] = {}

    @property
    def definition(self) -> str:
        return (type(self).__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")

    def add_state(self, name: str, default, reduce: str = "cat") -> None:
        if reduce not in ("cat", "sum"):
            raise ValueError(f"reduce must be 'cat' or 'sum', not {reduce!r}")
        self._states[name] = (copy.deepcopy(default), reduce)
        setattr(self, name, copy.deepcopy(default))

    def update(self, *args, **kwargs) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def compute(self) -> float | dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def reset(self) -> Metric:
        for name, (default, _) in self._states.items():
            setattr(self, name, copy.deepcopy(default))
        return self

    def config(self) -> tuple:
        """Everything that must agree for two metrics to be merged (class and settings)."""
        return (type(self).__name__, self.name)

    def merge(self, other: Metric) -> Metric:
        """Add ``other``'s state to this one (in place; returns self). Settings must agree."""
        if type(other) is not type(self) or other.config() != self.config():
            raise ValueError(f"cannot merge {other.config()} into {self.config()}")
        for name, (_, reduce) in self._states.items():
            a, b = getattr(self, name), getattr(other, name)
            if reduce == "cat":
                setattr(self, name, list(a) + list(b))
            else:
                setattr(self, name, a + b)
        return self

    def results(self) -> dict[str, float]:
        """``compute()`` as a flat ``{name: value}`` mapping."""
        v = self.compute()
        return dict(v) if isinstance(v, dict) else {self.name: float(v)}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def merged(metrics: Sequence[Metric]) -> Metric:
    """A new metric holding the merged state of ``metrics`` (e.g. one per worker), in order."""
    if not metrics:
        raise ValueError("nothing to merge")
    out = copy.deepcopy(metrics[0])
    for m in metrics[1:]:
        out.merge(m)
    return out


def compute_all(metrics: Iterable[Metric], drop_nan: bool = True) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in metrics:
        for k, v in m.results().items():
            if not (drop_nan and v != v):
                out[k] = v
    return out


# --------------------------------------------------------------------------- image level


class _ScoreMetric(Metric):
    """Image-level metric over (score, label) pairs; a score of None ("no opinion") is skipped."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("scores", [], "cat")
        self.add_state("labels", [], "cat")
        self.add_state("n_skipped", 0, "sum")

    def update(self, scores, labels) -> None:
        """``scores``/``labels``: one item (scalars) or a batch (sequences of the same length)."""
        if scores is None or np.ndim(scores) == 0:
            scores, labels = [scores], [labels]
        for s, y in zip(list(scores), list(np.atleast_1d(labels)), strict=True):
            if s is None or s != s:
                self.n_skipped += 1
                continue
            self.scores.append(float(s))
            self.labels.append(int(bool(y)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.scores, np.float64), np.asarray(self.labels, bool)

    def _two_classes(self) -> bool:
        y = np.asarray(self.labels, bool)
        return bool(y.any() and (~y).any())


class ImageAUC(_ScoreMetric):
    """ROC AUC of the image scores (Mann-Whitney statistic, tied scores count 1/2; equals scikit-learn's roc_auc_score); NaN unless both classes are present."""

    name = "image_auc"

    def compute(self) -> float:
        return M.auc(*self.arrays()) if self._two_classes() else NAN


class ImageAP(_ScoreMetric):
    """Average precision of the image scores, manipulated = positive (step-wise sum over distinct thresholds, equals scikit-learn's average_precision_score); NaN without a positive."""

    name = "image_ap"

    def compute(self) -> float:
        s, y = self.arrays()
        return M.average_precision(s, y) if y.any() else NAN


class EER(_ScoreMetric):
    """Equal error rate: where FPR and FNR of `score >= t` cross, linearly interpolated between the two neighbouring distinct thresholds; NaN unless both classes are present."""

    name = "eer"
    higher_is_better = False

    def compute(self) -> float:
        return M.eer(*self.arrays()) if self._two_classes() else NAN


class BalancedAccuracy(_ScoreMetric):
    """(TPR + TNR) / 2 of the decision `score >= threshold`; NaN unless both classes are present."""

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__()
        self.threshold = float(threshold)
        self.name = f"balanced_accuracy@{_fmt(self.threshold)}"

    def compute(self) -> float:
        return M.balanced_accuracy(*self.arrays(), self.threshold) if self._two_classes() else NAN


class TPRAtFPR(_ScoreMetric):
    """Highest TPR of `score >= t` over every t whose FPR does not exceed the target (an oracle threshold chosen on the evaluated set); NaN unless both classes are present."""

    def __init__(self, max_fpr: float = 0.01) -> None:
        super().__init__()
        self.max_fpr = float(max_fpr)
        self.name = f"tpr@fpr={_fmt(self.max_fpr)}"
        self.threshold: float | None = None

    def compute(self) -> float:
        if not self._two_classes():
            return NAN
        s, y = self.arrays()
        ts = np.unique(s)  # candidate thresholds: every distinct score (decision: score >= t)
        neg, pos = np.sort(s[~y]), np.sort(s[y])
        fpr = (neg.size - np.searchsorted(neg, ts, side="left")) / neg.size
        tpr = (pos.size - np.searchsorted(pos, ts, side="left")) / pos.size
        ok = fpr <= self.max_fpr
        if not ok.any() or tpr[ok].max() <= 0:
            self.threshold = None
            return 0.0
        i = int(np.nonzero(ok & (tpr == tpr[ok].max()))[0][0])
        self.threshold = float(ts[i])
        return float(tpr[i])


class ECE(_ScoreMetric):
    """Expected calibration error of the score read as P(manipulated): 15 equal-width bins on [0, 1] (bin i holds i/15 <= s < (i+1)/15, the last also s = 1), sum over bins of (items in bin / n) x |mean label - mean score|."""

    name = "ece"
    higher_is_better = False

    def __init__(self, n_bins: int = 15) -> None:
        super().__init__()
        self.n_bins = int(n_bins)
        if self.n_bins != 15:
            self.name = f"ece@{self.n_bins}bins"

    def compute(self) -> float:
        s, y = self.arrays()
        if not s.size:
            return NAN
        b = np.clip(np.floor(np.clip(s, 0.0, 1.0) * self.n_bins).astype(int), 0, self.n_bins - 1)
        total = []
        for i in range(self.n_bins):
            sel = b == i
            k = int(sel.sum())
            if k:
                gap = abs(math.fsum(y[sel].astype(float)) / k - math.fsum(s[sel]) / k)
                total.append(k * gap)
        return math.fsum(total) / s.size


class Brier(_ScoreMetric):
    """Brier score: mean of (score - label)^2 (equals scikit-learn's brier_score_loss)."""

    name = "brier"
    higher_is_better = False

    def compute(self) -> float:
        s, y = self.arrays()
        return math.fsum((s - y) ** 2) / s.size if s.size else NAN


# --------------------------------------------------------------------------- pixel level


def as_mask(mask) -> np.ndarray:
    """Boolean mask from bool, 0/1 or 8-bit (0..255, binarised at > 127) arrays."""
    m = np.asarray(mask)
    if m.dtype == bool:
        return m
    if np.issubdtype(m.dtype, np.integer):
        return m > (127 if m.size and m.max() > 1 else 0)
    return m > 0.5


def as_map(heatmap, shape) -> np.ndarray:
    """Float map in [0, 1] (8-bit maps are divided by 255; NaN counts as 0; None = all-zero)."""
    if heatmap is None:
        return np.zeros(shape, np.float32)
    h = np.asarray(heatmap)
    if np.issubdtype(h.dtype, np.integer):
        h = h.astype(np.float32) / 255.0
    elif h.dtype not in (np.float32, np.float64):
        h = h.astype(np.float32)
    if h.shape != tuple(shape):
        raise ValueError(f"map shape {h.shape} differs from mask shape {tuple(shape)}")
    return np.nan_to_num(h, nan=0.0) if np.isnan(h).any() else h


def counts(pred: np.ndarray, mask: np.ndarray) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) of a boolean prediction against a boolean mask."""
    tp = int(np.count_nonzero(pred & mask))
    fp = int(np.count_nonzero(pred & ~mask))
    fn = int(np.count_nonzero(~pred & mask))
    return tp, fp, fn, int(mask.size) - tp - fp - fn


def f1_from_counts(tp, fp, fn) -> np.ndarray | float:
    """2TP / (2TP + FP + FN); NaN where the denominator is 0 (empty mask, empty prediction)."""
    tp, fp, fn = (np.asarray(x, np.float64) for x in (tp, fp, fn))
    d = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(d > 0, 2 * tp / np.where(d > 0, d, 1), np.nan)
    return float(f) if f.ndim == 0 else f


def f1_curve(heatmap: np.ndarray, mask: np.ndarray, grid: Sequence[float] = DEFAULT_GRID) -> np.ndarray:
    """Plain F1 of ``heatmap >= t`` for every t of an ascending grid, in one pass over the pixels.

    Thresholds are compared in the map's own dtype, exactly like ``heatmap >= t`` with a Python
    float, so every entry equals :func:`veriscope.core.metrics.pixel_f1` at that threshold.
    """
    h = np.asarray(heatmap)
    thr = np.asarray(grid, dtype=h.dtype if h.dtype in (np.float32, np.float64) else np.float64)
    if np.any(np.diff(thr) <= 0):
        raise ValueError("the threshold grid must be strictly increasing")
    k = np.searchsorted(thr, h.ravel(), side="right")  # pixel is >= thr[j] iff j < k
    m = mask.ravel()
    n = thr.size + 1
    pos = np.bincount(k[m], minlength=n)
    neg = np.bincount(k[~m], minlength=n)
    tp = np.cumsum(pos[::-1])[::-1][1:]
    fp = np.cumsum(neg[::-1])[::-1][1:]
    fn = int(m.sum()) - tp
    return f1_from_counts(tp, fp, fn)


class _PixelMetric(Metric):
    """Per-item pixel metric, averaged over manipulated items that have a mask."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("values", [], "cat")
        self.add_state("n_authentic", 0, "sum")
        self.add_state("n_no_mask", 0, "sum")

    def update(self, heatmap, mask, label: int | bool = 1) -> None:
        """One item: ``heatmap`` (None = the detector gave no map: all zero), ``mask`` (None: skipped)."""
        if not label:
            self.n_authentic += 1
            return
        if mask is None:
            self.n_no_mask += 1
            return
        m = as_mask(mask)
        self.values.append(self.item(as_map(heatmap, m.shape), m))

    def item(self, h: np.ndarray, m: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def n(self) -> int:
        return len(self.values)

    def compute(self) -> float:
        return _mean(self.values)


VARIANTS = ("fixed", "permuted", "dataset_best", "image_oracle")


class PixelF1(_PixelMetric):
    """Pixel F1 of the binarised map (`map >= t`) against the mask, mean of per-image F1 over manipulated images.

    Variants (each has its own name): ``fixed`` -> ``pixel_f1@<t>``; ``permuted`` ->
    ``pixel_f1_permuted@<t>`` = per image max(F1(pred), F1(not pred)); ``dataset_best`` ->
    ``pixel_f1@dataset_best``: one threshold from ``grid`` for the whole set, the one maximising
    the mean per-image F1 (state: per-image F1 at every grid threshold; ties go to the lowest
    threshold); ``image_oracle`` -> ``pixel_f1@image_oracle``: per image the best grid threshold.
    """

    def __init__(self, variant: str = "fixed", threshold: float = 0.5,
                 grid: Sequence[float] = DEFAULT_GRID) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        self.variant = variant
        self.threshold = float(threshold)
        self.grid = tuple(float(t) for t in grid)
        self.best_threshold: float | None = None
        self.name = {"fixed": f"pixel_f1@{_fmt(self.threshold)}",
                     "permuted": f"pixel_f1_permuted@{_fmt(self.threshold)}",
                     "dataset_best": "pixel_f1@dataset_best",
                     "image_oracle": "pixel_f1@image_oracle"}[variant]

    @property
    def definition(self) -> str:
        t = _fmt(self.threshold)
        g = f"the grid {_fmt(self.grid[0])}..{_fmt(self.grid[-1])} ({len(self.grid)} thresholds)"
        return {
            "fixed": f"Mean over manipulated images of the plain F1 of `map >= {t}` against the mask.",
            "permuted": f"Mean over manipulated images of max(F1(map >= {t}), F1(map < {t})): "
                        "forgives a detector that marks the wrong side of the boundary.",
            "dataset_best": f"Mean per-image F1 at the one threshold of {g} that maximises it over "
                            "the evaluated set: an oracle, not a deployable number.",
            "image_oracle": f"Mean over manipulated images of each image's best F1 over {g}: "
                            "an upper bound, not a deployable number.",
        }[self.variant]

    def config(self) -> tuple:
        return (*super().config(), self.variant, self.threshold, self.grid)

    def item(self, h, m):
        if self.variant == "fixed":
            return M.pixel_f1(h, m, self.threshold)
        if self.variant == "permuted":
            p = h >= self.threshold
            a = f1_from_counts(*counts(p, m)[:3])
            b = f1_from_counts(*counts(~p, m)[:3])
            return NAN if (a != a and b != b) else max(x for x in (a, b) if x == x)
        curve = f1_curve(h, m, self.grid)
        if self.variant == "image_oracle":
            return float(np.nanmax(curve)) if np.isfinite(curve).any() else NAN
        return [float(x) for x in curve]

    def curve(self) -> list[float]:
        """dataset_best only: the mean per-image F1 at every grid threshold."""
        if self.variant != "dataset_best":
            raise ValueError("curve() is for the dataset_best variant")
        return [_mean(v[j] for v in self.values) for j in range(len(self.grid))]

    def compute(self) -> float:
        if self.variant != "dataset_best":
            return _mean(self.values)
        best_t, best_f = None, -1.0
        for t, f in zip(self.grid, self.curve(), strict=True):
            if f == f and f > best_f:
                best_t, best_f = t, f
        self.best_threshold = best_t
        return best_f if best_t is not None else NAN

    def results(self) -> dict[str, float]:
        out = {self.name: self.compute()}
        if self.variant == "dataset_best" and self.best_threshold is not None:
            out["pixel_best_threshold"] = self.best_threshold
        return out


class PixelIoU(_PixelMetric):
    """Mean over manipulated images of the IoU (Jaccard) TP / (TP + FP + FN) of `map >= t` against the mask; NaN (left out) for an empty prediction on an empty mask."""

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__()
        self.threshold = float(threshold)
        self.name = f"pixel_iou@{_fmt(self.threshold)}"

    def config(self) -> tuple:
        return (*super().config(), self.threshold)

    def item(self, h, m):
        tp, fp, fn, _ = counts(h >= self.threshold, m)
        d = tp + fp + fn
        return tp / d if d else NAN


class PixelMCC(_PixelMetric):
    """Mean over manipulated images of the Matthews correlation of `map >= t` against the mask; 0 when undefined (a row or column of the confusion matrix is empty), as scikit-learn's matthews_corrcoef."""

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__()
        self.threshold = float(threshold)
        self.name = f"pixel_mcc@{_fmt(self.threshold)}"

    def config(self) -> tuple:
        return (*super().config(), self.threshold)

    def item(self, h, m):
        tp, fp, fn, tn = counts(h >= self.threshold, m)
        den = float(tp + fp) * float(tp + fn) * float(tn + fp) * float(tn + fn)
        return (float(tp) * tn - float(fp) * fn) / math.sqrt(den) if den > 0 else 0.0


class PixelAUC(_PixelMetric):
    """Mean over manipulated images of the per-image pixel ROC AUC of the continuous map (regular-grid subsampling above 1 MP); images whose mask has a single class are left out."""

    name = "pixel_auc"

    def __init__(self, max_pixels: int = 1_000_000) -> None:
        super().__init__()
        self.max_pixels = int(max_pixels)

    def config(self) -> tuple:
        return (*super().config(), self.max_pixels)

    def item(self, h, m):
        return M.pixel_auc(h, m, self.max_pixels)


class PixelF1Weighted(_PixelMetric):
    """Soft (weighted) F1: the continuous map as soft prediction, 2*sum(h*m) / (2*sum(h*m) + sum((1-h)*m) + sum(h*(1-m))) = 2*sum(h*m) / (sum(h) + sum(m)), mean over manipulated images (PhotoHolmes F1_weighted_v1); NaN (left out) when the map and the mask are both all zero."""

    name = "pixel_f1_weighted"

    def item(self, h, m):
        hm = float(np.sum(h[m], dtype=np.float64))
        d = float(np.sum(h, dtype=np.float64)) + float(np.count_nonzero(m))
        return 2 * hm / d if d > 0 else NAN


# --------------------------------------------------------------------------- temporal (1-D)

#: AV-Deepfake1M evaluation settings (README / examples/batfd/evaluate.py of ControlNet/AV-Deepfake1M).
AP_IOU_THRESHOLDS = (0.5, 0.75, 0.9, 0.95)
AR_N_PROPOSALS = (50, 30, 20, 10, 5)
AR_IOU_THRESHOLDS = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))


def iou_1d(proposals: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """(P, L) IoU of [start, end] intervals: overlap / (max end - min start), 0 when undefined."""
    p = np.asarray(proposals, np.float64).reshape(-1, 2)
    s = np.asarray(segments, np.float64).reshape(-1, 2)
    inter = np.clip(np.minimum(p[:, None, 1], s[None, :, 1]) - np.maximum(p[:, None, 0], s[None, :, 0]),
                    0, None)
    hull = np.maximum(p[:, None, 1], s[None, :, 1]) - np.minimum(p[:, None, 0], s[None, :, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(hull > 0, inter / np.where(hull > 0, hull, 1), 0.0)
    return iou


def _proposals(proposals, fps: float) -> np.ndarray:
    """(P, 3) rows [confidence, start, end], start/end divided by fps, sorted by confidence (stable)."""
    p = np.asarray(proposals if proposals is not None else [], np.float64).reshape(-1, 3).copy()
    p[:, 1:] /= fps
    return p[np.argsort(-p[:, 0], kind="stable")]


class TemporalAP(Metric):
    """Temporal-localisation AP at IoU thresholds, exactly as the AV-Deepfake1M / LAV-DF evaluation code.

    Per video, each ground-truth segment in turn claims the first (highest-confidence) unclaimed
    proposal whose IoU with it is > the threshold (a true positive); all proposals of all videos
    are then ranked by confidence (stable), precision = TP/rank, recall = TP/(all segments), and
    AP = sum over ranks i >= 2 of (recall_i - recall_{i-1}) x max(precision_j, j >= i), the
    reference implementation's interpolated sum (which leaves out the first step [0, recall_1]).
    """

    def __init__(self, iou_thresholds: Sequence[float] = AP_IOU_THRESHOLDS, fps: float = 1.0) -> None:
        super().__init__()
        self.iou_thresholds = tuple(float(t) for t in iou_thresholds)
        self.fps = float(fps)
        self.name = "temporal_ap"
        self.add_state("confidences", [], "cat")  # one array per video
        self.add_state("is_tp", [], "cat")  # one (n_thresholds, P) bool array per video
        self.add_state("n_segments", 0, "sum")

    def config(self) -> tuple:
        return (*super().config(), self.iou_thresholds, self.fps)

    def update(self, proposals, segments) -> None:
        """One video: proposals [[confidence, start, end], ...], ground-truth segments [[start, end], ...]."""
        p = _proposals(proposals, self.fps)
        s = np.asarray(segments if segments is not None else [], np.float64).reshape(-1, 2)
        iou = iou_1d(p[:, 1:], s) if len(s) else np.zeros((len(p), 0))
        tp = np.zeros((len(self.iou_thresholds), len(p)), bool)
        for k, thr in enumerate(self.iou_thresholds):
            ok = iou > thr
            for j in range(s.shape[0]):
                free = np.nonzero(ok[:, j] & ~tp[k])[0]
                if free.size:
                    tp[k, free[0]] = True
        self.confidences.append(p[:, 0])
        self.is_tp.append(tp)
        self.n_segments += int(s.shape[0])

    def compute(self) -> dict[str, float]:
        names = [f"temporal_ap@{_fmt(t)}" for t in self.iou_thresholds]
        if not self.n_segments:
            return {n: NAN for n in names}
        conf = np.concatenate(self.confidences) if self.confidences else np.zeros(0)
        order = np.argsort(-conf, kind="stable")
        out = {}
        for k, n in enumerate(names):
            tp = np.concatenate([t[k] for t in self.is_tp])[order] if len(conf) else np.zeros(0, bool)
            cum = np.cumsum(tp)
            prec = cum / np.arange(1, len(tp) + 1)
            rec = cum / self.n_segments
            env = np.maximum.accumulate(prec[::-1])[::-1]
            out[n] = float(np.sum(np.diff(rec) * env[1:])) if len(tp) > 1 else 0.0
        return out


class TemporalAR(Metric):
    """Temporal-localisation AR@N, exactly as the AV-Deepfake1M / LAV-DF evaluation code.

    Per video, a ground-truth segment is recalled at IoU threshold t when one of the N
    highest-confidence proposals overlaps it with IoU > t (one proposal may recall several
    segments); TP and FN are summed over videos, recall = TP / (TP + FN) per threshold, and AR@N
    is the mean recall over the IoU thresholds 0.5:0.05:0.95. As in the reference code, a video
    without any proposal adds neither TP nor FN (``empty_counts_as_miss=True`` counts its
    segments as missed instead).
    """

    def __init__(self, n_proposals: Sequence[int] = AR_N_PROPOSALS,
                 iou_thresholds: Sequence[float] = AR_IOU_THRESHOLDS, fps: float = 1.0,
                 empty_counts_as_miss: bool = False) -> None:
        super().__init__()
        self.n_proposals = tuple(int(n) for n in n_proposals)
        self.iou_thresholds = tuple(float(t) for t in iou_thresholds)
        self.fps = float(fps)
        self.empty_counts_as_miss = bool(empty_counts_as_miss)
        self.name = "temporal_ar"
        shape = (len(self.iou_thresholds), len(self.n_proposals))
        self.add_state("tp", np.zeros(shape, np.int64), "sum")
        self.add_state("fn", np.zeros(shape, np.int64), "sum")

    def config(self) -> tuple:
        return (*super().config(), self.n_proposals, self.iou_thresholds, self.fps,
                self.empty_counts_as_miss)

    def update(self, proposals, segments) -> None:
        """One video: proposals [[confidence, start, end], ...], ground-truth segments [[start, end], ...]."""
        p = _proposals(proposals, self.fps)[: max(self.n_proposals)]
        s = np.asarray(segments if segments is not None else [], np.float64).reshape(-1, 2)
        n_seg = s.shape[0]
        if not n_seg:
            return
        if not len(p):
            if self.empty_counts_as_miss:
                self.fn += n_seg
            return
        best = np.maximum.accumulate(iou_1d(p[:, 1:], s), axis=0)  # (P, L)
        for j, n in enumerate(self.n_proposals):
            row = best[min(n, len(p)) - 1]
            for k, thr in enumerate(self.iou_thresholds):
                hit = int(np.count_nonzero(row > thr))
                self.tp[k, j] += hit
                self.fn[k, j] += n_seg - hit

    def compute(self) -> dict[str, float]:
        den = self.tp + self.fn
        rec = np.where(den > 0, self.tp / np.where(den > 0, den, 1), 0.0)
        return {f"temporal_ar@{n}": float(np.mean(rec[:, j])) for j, n in enumerate(self.n_proposals)}


# --------------------------------------------------------------------------- DGM4-style text / box


class TokenF1(Metric):
    """Micro precision / recall / F1 (and accuracy) of fake-token predictions, TP/FP/FN/TN summed over every token of every item (real items included), as DGM4 / HAMMER's evaluation does; F1 = 2TP / (2TP + FP + FN)."""

    name = "token_f1"

    def __init__(self) -> None:
        super().__init__()
        self.add_state("tp", 0, "sum")
        self.add_state("fp", 0, "sum")
        self.add_state("fn", 0, "sum")
        self.add_state("tn", 0, "sum")

    def update(self, predicted, truth) -> None:
        """One item: per-token booleans (True = fake token), same length."""
        p = np.asarray(predicted, bool).ravel()
        t = np.asarray(truth, bool).ravel()
        if p.shape != t.shape:
            raise ValueError(f"{p.size} predicted tokens for {t.size} ground-truth tokens")
        tp, fp, fn, tn = counts(p, t)
        self.tp += tp
        self.fp += fp
        self.fn += fn
        self.tn += tn

    def compute(self) -> dict[str, float]:
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        n = tp + fp + fn + tn
        return {"token_precision": tp / (tp + fp) if tp + fp else NAN,
                "token_recall": tp / (tp + fn) if tp + fn else NAN,
                "token_f1": 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else NAN,
                "token_accuracy": (tp + tn) / n if n else NAN}


def _no_box(b) -> bool:
    return b is None or len(b) == 0 or all(float(x) == 0.0 for x in b)


def box_iou(pred, gt) -> float:
    """IoU of two [x0, y0, x1, y1] boxes with DGM4's convention for "no box" (None or all zeros).

    No ground-truth box: 1 if the prediction is also none (every coordinate < 1e-4), else 0.
    """
    if _no_box(gt):
        return 1.0 if (pred is None or len(pred) == 0 or all(float(x) < 1e-4 for x in pred)) else 0.0
    if pred is None or len(pred) == 0:
        return 0.0
    px0, py0, px1, py1 = (float(x) for x in pred)
    gx0, gy0, gx1, gy1 = (float(x) for x in gt)
    iw = max(0.0, min(px1, gx1) - max(px0, gx0))
    ih = max(0.0, min(py1, gy1) - max(py0, gy0))
    inter = iw * ih
    union = (px1 - px0) * (py1 - py0) + (gx1 - gx0) * (gy1 - gy0) - inter
    return inter / union if union > 0 else 0.0


class BoxIoU(Metric):
    """Mean IoU of the predicted vs ground-truth fake-face box over every item (DGM4: one box per item, "no box" = all zeros, a correct "no box" scores 1), plus the fraction of items with IoU > 0.5 / 0.75 / 0.95."""

    name = "box_iou"

    def __init__(self, acc_thresholds: Sequence[float] = (0.5, 0.75, 0.95)) -> None:
        super().__init__()
        self.acc_thresholds = tuple(float(t) for t in acc_thresholds)
        self.add_state("values", [], "cat")

    def config(self) -> tuple:
        return (*super().config(), self.acc_thresholds)

    def update(self, pred_box, gt_box) -> None:
        """One item: [x0, y0, x1, y1] boxes (any consistent unit), None = no box."""
        self.values.append(box_iou(pred_box, gt_box))

    def compute(self) -> dict[str, float]:
        v = np.asarray(self.values, np.float64)
        out = {"box_iou": math.fsum(v) / v.size if v.size else NAN}
        for t in self.acc_thresholds:
            out[f"box_iou_acc@{_fmt(t)}"] = float(np.count_nonzero(v > t)) / v.size if v.size else NAN
        return out


# --------------------------------------------------------------------------- suites


def image_metrics(max_fpr: Sequence[float] = (0.01, 0.05)) -> list[Metric]:
    return [ImageAUC(), ImageAP(), EER(), BalancedAccuracy(0.5), *(TPRAtFPR(f) for f in max_fpr),
            ECE(), Brier()]


def pixel_metrics(threshold: float = 0.5, grid: Sequence[float] = DEFAULT_GRID) -> list[Metric]:
    return [PixelF1("fixed", threshold), PixelF1("permuted", threshold),
            PixelF1("dataset_best", grid=grid), PixelF1("image_oracle", grid=grid),
            PixelIoU(threshold), PixelMCC(threshold), PixelAUC(), PixelF1Weighted()]


def definitions() -> dict[str, str]:
    """Every default metric name -> its definition (the table of docs/bench.md)."""
    out = {}
    for m in [*image_metrics(), *pixel_metrics(), TemporalAP(), TemporalAR(), TokenF1(), BoxIoU()]:
        v = m.compute()
        for k in (v if isinstance(v, dict) else [m.name]):
            out[k] = m.definition
    return out
