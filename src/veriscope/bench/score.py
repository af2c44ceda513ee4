"""Scoring cached outcomes into the flat ``<detector>/<metric>`` mapping of results.json."""

from __future__ import annotations

import numpy as np

from veriscope.bench.datasets import Record
from veriscope.bench.runner import FUSED, Outcome, Runner
from veriscope.core import metrics as M

PROTOCOL_VERSION = "veriscope.bench/1"


def protocol(detectors: list[str], fused: bool) -> dict:
    return {
        "version": PROTOCOL_VERSION,
        "detectors": list(detectors),
        "fused": fused,
        "image_score": "Evidence.score; records where a detector is not applicable or failed are "
                       "excluded from its image metrics (see <detector>/coverage)",
        "image_metrics": ["image_auc", "image_ap", "eer", "balanced_accuracy@0.5", "tpr@0.5",
                          "fpr@0.5"],
        "pixel_maps": "8-bit maps at the input size, as written by `veriscope analyze --out`, "
                      "divided by 255",
        "pixel_average": "mean over manipulated records that have a mask (IMDL-BenCo / PhotoHolmes "
                         "convention); an applicable detector without a map counts as an all-zero map",
        "pixel_f1": "plain F1 of map >= t against mask > 127 (not the permuted max(F1(m), F1(1-m)))",
        "pixel_f1@0.5": "fixed threshold 0.5",
        "pixel_f1@dataset_best": "one threshold per detector and dataset maximising mean F1 over a "
                                 "grid 0.05..0.95 step 0.05: an oracle, not a deployable number",
        "pixel_auc": "ROC AUC per image, regular-grid subsampling above 1 MP, then averaged",
        "uncertainty": "95 % percentile bootstrap intervals (1000 resamples, seed 0) of image_auc "
                       "(positives and negatives resampled separately) and of pixel_f1@0.5 (images "
                       "resampled): <metric>_ci95_lo / <metric>_ci95_hi",
        "border_exclusion_px": 0,
        "fused_rule": "the fusion of veriscope.core.fusion over the listed detectors (fuse() for the score, "
                 "fuse_map_arrays() for the map), exactly as in `veriscope analyze`",
    }


def _mask(r: Record, shape) -> np.ndarray:
    from veriscope.bench.datasets import read_mask

    m = read_mask(r)  # honours r.mask_rule (default: grey > 127)
    if m.shape != shape:
        import cv2

        m = cv2.resize(m.astype(np.uint8), (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    return m


def fused_outcome(outs: dict[str, Outcome]) -> tuple[float | None, np.ndarray | None]:
    from veriscope.core.evidence import Evidence
    from veriscope.core.fusion import fuse, fuse_map_arrays

    evs = []
    for name, o in outs.items():
        evs.append(Evidence(name, "bench", applicable=o.applicable, score=o.score, label=o.label,
                            error=o.error, data={"reliability": {"level": o.reliability}}))
    v = fuse(evs)
    items = []
    for o in outs.values():
        if o.applicable and not o.error and o.map_path is not None:
            items.append((o.heatmap(), o.score, o.reliability))
    return v.score, fuse_map_arrays(items)


def score(records: list[Record], runner: Runner, fused: bool = True,
          thresholds: dict | None = None) -> dict[str, float]:
    """Every metric for every detector (and ``fused``) over ``records``."""
    names = list(runner.detectors) + ([FUSED] if fused else [])
    img: dict[str, tuple[list, list]] = {n: ([], []) for n in names}
    pix: dict[str, tuple[list, list]] = {n: ([], []) for n in names}
    coverage = {n: 0 for n in names}
    for r in records:
        outs = {n: runner.outcome(r, n) for n in runner.detectors}
        per: dict[str, tuple[float | None, np.ndarray | None, bool]] = {}
        for n, o in outs.items():
            ok = o.applicable and not o.error
            per[n] = (o.score, o.heatmap() if (ok and r.mask is not None) else None, ok)
        if fused:
            s, m = fused_outcome(outs)
            per[FUSED] = (s, m if r.mask is not None else None, s is not None)
        for n, (s, m, ok) in per.items():
            if not ok:
                continue
            coverage[n] += 1
            if s is not None:
                img[n][0].append(s)
                img[n][1].append(r.label)
            if r.label == 1 and r.mask is not None:
                from PIL import Image

                with Image.open(r.mask) as im:
                    shape = (im.size[1], im.size[0])
                mm = m if m is not None else np.zeros(shape, np.float32)
                pix[n][0].append(mm)
                pix[n][1].append(_mask(r, mm.shape))
    out: dict[str, float] = {"n": float(len(records)),
                             "n_manipulated": float(sum(r.label for r in records)),
                             "n_masks": float(sum(1 for r in records if r.label and r.mask))}
    for n in names:
        out[f"{n}/coverage"] = coverage[n] / max(1, len(records))
        s, y = np.asarray(img[n][0], float), np.asarray(img[n][1], bool)
        if s.size and y.any() and (~y).any():
            out[f"{n}/image_auc"] = M.auc(s, y)
            out[f"{n}/image_auc_ci95_lo"], out[f"{n}/image_auc_ci95_hi"] = M.bootstrap_auc_ci(s, y)
            out[f"{n}/image_ap"] = M.average_precision(s, y)
            out[f"{n}/eer"] = M.eer(s, y)
            out[f"{n}/balanced_accuracy@0.5"] = M.balanced_accuracy(s, y, 0.5)
        if s.size:
            tpr, fpr = M.rates_at(s, y, 0.5)
            if y.any():
                out[f"{n}/tpr@0.5"] = tpr
            if (~y).any():
                out[f"{n}/fpr@0.5"] = fpr
        maps, masks = pix[n]
        if maps:
            f05 = [M.pixel_f1(h, m, 0.5) for h, m in zip(maps, masks, strict=True)]
            out[f"{n}/pixel_f1@0.5"] = M.mean_of_defined(f05)
            out[f"{n}/pixel_f1@0.5_ci95_lo"], out[f"{n}/pixel_f1@0.5_ci95_hi"] = \
                M.bootstrap_mean_ci(f05)
            t, f = M.dataset_best_threshold(maps, masks)
            out[f"{n}/pixel_f1@dataset_best"] = f
            out[f"{n}/pixel_best_threshold"] = t
            if thresholds and n in thresholds:
                out[f"{n}/pixel_f1@fixed_{thresholds[n]:.2f}"] = M.mean_f1_at(maps, masks, thresholds[n])
            aucs = [M.pixel_auc(h, m) for h, m in zip(maps, masks, strict=True)]
            aucs = [a for a in aucs if a == a]
            if aucs:
                out[f"{n}/pixel_auc"] = float(np.mean(aucs))
    return {k: (round(v, 6) if isinstance(v, float) and v == v else v) for k, v in out.items()
            if not (isinstance(v, float) and v != v)}
