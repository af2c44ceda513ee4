"""Stateful bench metrics against scikit-learn, hand-computed cases and the edge cases that cause
most "cannot reproduce" reports; the Markdown / HTML report from a small fake results dict."""

import json
import math
import re

import numpy as np
import pytest
from helpers import save, smooth_image
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    jaccard_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from veriscope.bench import metrics as B
from veriscope.bench import report as R
from veriscope.core import metrics as M
from veriscope.detectors.base import Detector


def _image_data(seed, n=120):
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, n).astype(bool)
    s = np.clip(np.round(r.random(n), 1) * 0.8 + 0.25 * y, 0, 1)  # rounded: many tied scores
    return s, y


def _pixel_data(seed, n=8, shape=(24, 32)):
    r = np.random.default_rng(seed)
    maps, masks = [], []
    for _ in range(n):
        m = np.zeros(shape, bool)
        y0, x0 = r.integers(0, shape[0] - 8), r.integers(0, shape[1] - 8)
        m[y0:y0 + r.integers(3, 9), x0:x0 + r.integers(3, 9)] = True
        h = np.clip(0.55 * m + r.random(shape) * 0.6, 0, 1)
        maps.append(np.round(h * 255).astype(np.float32) / 255)  # like the 8-bit bench maps
        masks.append(m)
    return maps, masks


# --------------------------------------------------------------------------- image level


@pytest.mark.parametrize("seed", range(4))
def test_image_metrics_match_sklearn_with_ties(seed):
    s, y = _image_data(seed)
    ms = {m.name: m for m in B.image_metrics()}
    for m in ms.values():
        m.update(s, y)
    assert ms["image_auc"].compute() == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert ms["image_ap"].compute() == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert ms["balanced_accuracy@0.5"].compute() == pytest.approx(
        balanced_accuracy_score(y, s >= 0.5), abs=1e-12)
    assert ms["brier"].compute() == pytest.approx(brier_score_loss(y, s), abs=1e-12)
    assert ms["eer"].compute() == M.eer(s, y)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    for f in (0.01, 0.05):
        want = max([t for t, x in zip(tpr, fpr, strict=True) if x <= f] + [0.0])
        assert ms[f"tpr@fpr={f:g}"].compute() == pytest.approx(want, abs=1e-12)
        assert ms[f"tpr@fpr={f:g}"].compute() == M.tpr_at_fpr(s, y, f)[0]


def test_image_single_class_none_scores_and_all_ties():
    auc, ap, eer, bal = B.ImageAUC(), B.ImageAP(), B.EER(), B.BalancedAccuracy()
    for m in (auc, ap, eer, bal):
        m.update([0.2, 0.9, None], [1, 1, 0])  # the None ("no opinion") item is skipped
    assert auc.n_skipped == 1 and len(auc.scores) == 2
    assert math.isnan(auc.compute()) and math.isnan(eer.compute()) and math.isnan(bal.compute())
    assert ap.compute() == 1.0 == average_precision_score([1, 1], [0.2, 0.9])
    neg = B.ImageAP()
    neg.update([0.1, 0.3], [0, 0])
    assert math.isnan(neg.compute())  # no positive: undefined, not 0
    tie = B.ImageAUC()
    tie.update([0.5] * 4, [0, 1, 0, 1])
    assert tie.compute() == 0.5 == roc_auc_score([0, 1, 0, 1], [0.5] * 4)
    one = B.ImageAUC()
    one.update(0.7, 1)  # a single scalar item
    one.update(np.float32(0.1), 0)
    assert one.compute() == 1.0


def test_calibration_hand_computed():
    ece = B.ECE()
    ece.update([0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1])
    # bin 1: mean label .5 vs mean score .1 (weight 1/2); bin 13: 1 vs .9 (weight 1/2)
    assert ece.compute() == pytest.approx(0.5 * 0.4 + 0.5 * 0.1, abs=1e-12)
    calibrated = B.ECE()
    calibrated.update([0.5, 0.5, 1.0, 0.0], [0, 1, 1, 0])  # 1.0 falls in the last bin
    assert calibrated.compute() == 0.0
    br = B.Brier()
    br.update([0.1, 0.1, 0.9, 0.9], [0, 1, 1, 1])
    assert br.compute() == pytest.approx((0.01 + 0.81 + 0.01 + 0.01) / 4)


# --------------------------------------------------------------------------- pixel level


def test_pixel_metrics_match_sklearn_per_image_mean():
    maps, masks = _pixel_data(0)
    ms = {m.name: m for m in B.pixel_metrics()}
    for h, m in zip(maps, masks, strict=True):
        for metric in ms.values():
            metric.update(h, m)
    pred = [(h >= 0.5).ravel() for h in maps]
    truth = [m.ravel() for m in masks]
    assert ms["pixel_f1@0.5"].compute() == pytest.approx(
        np.mean([f1_score(t, p) for t, p in zip(truth, pred, strict=True)]), abs=1e-12)
    assert ms["pixel_iou@0.5"].compute() == pytest.approx(
        np.mean([jaccard_score(t, p) for t, p in zip(truth, pred, strict=True)]), abs=1e-12)
    assert ms["pixel_mcc@0.5"].compute() == pytest.approx(
        np.mean([matthews_corrcoef(t, p) for t, p in zip(truth, pred, strict=True)]), abs=1e-12)
    assert ms["pixel_auc"].compute() == pytest.approx(
        np.mean([roc_auc_score(m.ravel(), h.ravel()) for h, m in zip(maps, masks, strict=True)]),
        abs=1e-12)
    assert ms["pixel_f1_permuted@0.5"].compute() == pytest.approx(np.mean(
        [max(f1_score(t, p), f1_score(t, ~p)) for t, p in zip(truth, pred, strict=True)]), abs=1e-12)
    soft = [2 * np.sum(h * m) / (np.sum(h) + np.sum(m)) for h, m in zip(maps, masks, strict=True)]
    assert ms["pixel_f1_weighted"].compute() == pytest.approx(np.mean(soft), abs=1e-9)
    # the oracle variants against the plain functions of veriscope.core.metrics
    t, f = M.dataset_best_threshold(maps, masks)
    assert ms["pixel_f1@dataset_best"].compute() == pytest.approx(f, abs=1e-12)
    assert ms["pixel_f1@dataset_best"].best_threshold == pytest.approx(t)
    assert ms["pixel_f1@dataset_best"].results()["pixel_best_threshold"] == pytest.approx(t)
    per_image_best = [max(M.pixel_f1(h, m, g) for g in B.DEFAULT_GRID) for h, m in zip(maps, masks, strict=True)]
    assert ms["pixel_f1@image_oracle"].compute() == pytest.approx(np.mean(per_image_best), abs=1e-12)
    assert ms["pixel_f1@image_oracle"].compute() >= ms["pixel_f1@dataset_best"].compute() \
        >= ms["pixel_f1@0.5"].compute() - 1e-12


def test_f1_curve_equals_pixel_f1_at_every_threshold():
    maps, masks = _pixel_data(3, n=3)
    maps.append(np.asarray(maps[0], np.float64))  # float64 maps too
    masks.append(masks[0])
    for h, m in zip(maps, masks, strict=True):
        curve = B.f1_curve(h, m)
        for t, f in zip(B.DEFAULT_GRID, curve, strict=True):
            assert f == pytest.approx(M.pixel_f1(h, m, t), abs=1e-15)


@pytest.mark.filterwarnings("ignore:A single label was found")
def test_pixel_edge_cases_empty_full_authentic_and_no_map():
    empty = np.zeros((10, 10), bool)
    full = np.ones((10, 10), bool)
    zeros, ones = np.zeros((10, 10)), np.ones((10, 10))

    def run(metric, *pairs):
        for h, m in pairs:
            metric.update(h, m)
        return metric.compute()

    # empty mask + empty prediction: undefined F1 / IoU, left out of the mean
    assert math.isnan(run(B.PixelF1(), (zeros, empty)))
    assert run(B.PixelF1(), (zeros, empty), (ones, full)) == 1.0
    assert run(B.PixelF1(), (ones, empty)) == 0.0  # all false positives
    assert math.isnan(run(B.PixelIoU(), (zeros, empty)))
    assert run(B.PixelF1("permuted"), (zeros, empty)) == 0.0  # the complement is all FP
    assert run(B.PixelF1("permuted"), (zeros, full)) == 1.0  # inverted map forgiven
    assert run(B.PixelF1(), (zeros, full)) == 0.0
    # all-positive mask
    assert run(B.PixelF1(), (ones, full)) == 1.0 == f1_score(full.ravel(), ones.ravel() >= 0.5)
    assert run(B.PixelIoU(), (ones, full)) == 1.0
    assert run(B.PixelMCC(), (ones, full)) == 0.0 == matthews_corrcoef(full.ravel(), full.ravel())
    assert math.isnan(run(B.PixelAUC(), (ones, full)))  # a single class in the mask
    assert math.isnan(run(B.PixelAUC(), (zeros, empty)))
    assert math.isnan(run(B.PixelF1Weighted(), (zeros, empty)))
    assert math.isnan(run(B.PixelF1("dataset_best"), (zeros, empty)))
    # authentic items and items without a mask are ignored; a missing map is all zero
    f = B.PixelF1()
    f.update(ones, empty, label=0)
    f.update(ones, None)
    f.update(None, full)
    assert (f.n_authentic, f.n_no_mask, f.n) == (1, 1, 1) and f.compute() == 0.0
    # 8-bit maps and 0/255 masks are read like the bench's PNGs
    g = B.PixelF1()
    g.update(np.full((4, 4), 200, np.uint8), np.full((4, 4), 255, np.uint8))
    assert g.compute() == 1.0
    with pytest.raises(ValueError):
        B.PixelF1().update(np.zeros((3, 3)), np.zeros((4, 4), bool))


def test_dataset_best_ties_go_to_lowest_threshold():
    m = np.zeros((20, 20), bool)
    m[5:10, 5:10] = True
    h = m * 0.3 + 0.1  # every threshold in (0.1, 0.4] separates perfectly
    d = B.PixelF1("dataset_best")
    d.update(h, m)
    assert d.compute() == 1.0 and d.best_threshold == 0.15


# --------------------------------------------------------------------------- merge


def _split_feed(make, feed, data):
    whole, a, b = make(), make(), make()
    for i, x in enumerate(data):
        feed(whole, x)
        feed(a if i < len(data) // 2 else b, x)
    return whole, a, b


@pytest.mark.parametrize("make", [B.ImageAUC, B.ImageAP, B.EER, lambda: B.BalancedAccuracy(0.4),
                                  lambda: B.TPRAtFPR(0.05), B.ECE, B.Brier])
def test_merge_two_halves_equals_one_pass_image(make):
    s, y = _image_data(7)
    whole, a, b = _split_feed(make, lambda m, x: m.update(*x), list(zip(s, y, strict=True)))
    assert a.merge(b).results() == whole.results()


@pytest.mark.parametrize("make", [lambda: B.PixelF1(), lambda: B.PixelF1("permuted"),
                                  lambda: B.PixelF1("dataset_best"), lambda: B.PixelF1("image_oracle"),
                                  B.PixelIoU, B.PixelMCC, B.PixelAUC, B.PixelF1Weighted])
def test_merge_two_halves_equals_one_pass_pixel(make):
    maps, masks = _pixel_data(5, n=9)
    whole, a, b = _split_feed(make, lambda m, x: m.update(*x), list(zip(maps, masks, strict=True)))
    assert B.merged([a, b]).results() == whole.results()
    assert a.results() != whole.results() or b.results() != whole.results()


def test_merge_refuses_other_settings_and_reset_clears():
    a, b = B.PixelF1(threshold=0.5), B.PixelF1(threshold=0.4)
    with pytest.raises(ValueError):
        a.merge(b)
    with pytest.raises(ValueError):
        B.ImageAUC().merge(B.ImageAP())
    m = B.ImageAUC()
    m.update([0.1, 0.9], [0, 1])
    assert m.compute() == 1.0
    m.reset()
    assert m.scores == [] and math.isnan(m.compute())


# --------------------------------------------------------------------------- temporal


def _temporal_videos():
    return [
        # video 1: a perfect proposal and a lower-ranked duplicate of it
        ([[0.9, 0, 10], [0.7, 0, 9]], [[0, 10]]),
        # video 2: a miss
        ([[0.8, 20, 21]], [[5, 6]]),
        # video 3: real, any proposal is a false positive
        ([[0.95, 1, 2]], []),
    ]


def test_temporal_ap_hand_computed():
    ap = B.TemporalAP()
    for p, s in _temporal_videos():
        ap.update(p, s)
    # ranking 0.95 FP, 0.9 TP, 0.8 FP, 0.7 FP(duplicate); 2 segments:
    # precision .0 .5 .33 .25, recall 0 .5 .5 .5 -> AP = .5 x .5
    assert ap.compute() == {"temporal_ap@0.5": 0.25, "temporal_ap@0.75": 0.25,
                            "temporal_ap@0.9": 0.25, "temporal_ap@0.95": 0.25}
    # the reference sum leaves out the first recall step [0, recall_1]: two perfect proposals on
    # two segments give 0.5, not 1 (docs/bench.md)
    perfect = B.TemporalAP(iou_thresholds=[0.5])
    perfect.update([[0.9, 0, 1], [0.8, 2, 3]], [[0, 1], [2, 3]])
    assert perfect.compute() == {"temporal_ap@0.5": 0.5}
    # IoU must be strictly above the threshold: [0, 5] vs [0, 10] has IoU 0.5
    strict = B.TemporalAP(iou_thresholds=[0.5])
    strict.update([[0.9, 0, 5], [0.8, 0, 10]], [[0, 10]])
    strict.update([[0.5, 0, 1]], [[0, 1]])
    # ranking: 0.9 FP, 0.8 TP, 0.5 TP -> recall 0 .5 1, precision 0 .5 .67; the envelope
    # (max precision at this rank or later) makes both recall steps count 2/3
    assert strict.compute()["temporal_ap@0.5"] == pytest.approx(0.5 * 2 / 3 + 0.5 * 2 / 3)
    none = B.TemporalAP()
    none.update([[0.5, 0, 1]], [])
    assert all(math.isnan(v) for v in none.compute().values())  # no segment at all


def test_temporal_ar_hand_computed_and_fps():
    def run(**kw):
        ar = B.TemporalAR(n_proposals=[2, 1], **kw)
        ar.update([[0.5, 20, 26], [0.9, 0, 10]], [[0, 10], [20, 30]])  # given unsorted
        ar.update([], [[0, 1]])  # no proposal at all
        ar.update([[0.3, 0, 1]], [])  # real video
        return ar.compute()

    # top-1: [0, 10] recalled at every IoU threshold, [20, 30] never -> 0.5.
    # top-2: [20, 26] vs [20, 30] has IoU 0.6 -> recalled at 0.5 and 0.55 only.
    assert run() == pytest.approx({"temporal_ar@2": (2 * 1 + 8 * 0.5) / 10, "temporal_ar@1": 0.5})
    assert run(empty_counts_as_miss=True) == pytest.approx(
        {"temporal_ar@2": (2 * 2 / 3 + 8 / 3) / 10, "temporal_ar@1": 1 / 3})
    frames = B.TemporalAR(n_proposals=[1], fps=25.0)
    frames.update([[0.9, 0, 250]], [[0, 10]])  # proposals in frames, segments in seconds
    assert frames.compute() == {"temporal_ar@1": 1.0}


def test_temporal_merge_two_halves_equals_one_pass():
    vids = _temporal_videos() * 3
    for make in (B.TemporalAP, B.TemporalAR):
        whole, a, b = _split_feed(make, lambda m, x: m.update(*x), vids)
        assert a.merge(b).compute() == whole.compute()


# --------------------------------------------------------------------------- DGM4 text / box


def test_token_metrics_match_sklearn_micro():
    r = np.random.default_rng(2)
    items = [(r.random(n) > 0.6, r.random(n) > 0.7) for n in (5, 12, 9, 1)]
    items.append((np.zeros(6, bool), np.zeros(6, bool)))  # a real caption
    tok = B.TokenF1()
    for p, t in items:
        tok.update(p, t)
    P = np.concatenate([p for p, _ in items])
    T = np.concatenate([t for _, t in items])
    res = tok.compute()
    assert res["token_precision"] == pytest.approx(precision_score(T, P))
    assert res["token_recall"] == pytest.approx(recall_score(T, P))
    assert res["token_f1"] == pytest.approx(f1_score(T, P))
    assert res["token_accuracy"] == pytest.approx(np.mean(P == T))
    none = B.TokenF1()
    none.update([0, 0], [0, 0])
    assert math.isnan(none.compute()["token_f1"]) and none.compute()["token_accuracy"] == 1.0
    with pytest.raises(ValueError):
        tok.update([1, 0], [1])


def test_box_iou_dgm4_convention():
    assert B.box_iou([0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(1 / 7)
    assert B.box_iou(None, None) == 1.0  # real image, no box predicted
    assert B.box_iou([0, 0, 0, 0], [0, 0, 0, 0]) == 1.0
    assert B.box_iou([0.1, 0.1, 0.5, 0.5], None) == 0.0  # a box where there is none
    assert B.box_iou(None, [0.1, 0.1, 0.5, 0.5]) == 0.0
    bx = B.BoxIoU()
    for p, g in [([0, 0, 2, 2], [1, 1, 3, 3]), (None, None), ([0, 0, 1, 1], [0, 0, 1, 0.8])]:
        bx.update(p, g)
    res = bx.compute()
    assert res["box_iou"] == pytest.approx((1 / 7 + 1 + 0.8) / 3)
    assert res["box_iou_acc@0.5"] == pytest.approx(2 / 3)
    assert res["box_iou_acc@0.95"] == pytest.approx(1 / 3)


def test_every_metric_has_a_distinct_name_and_a_definition():
    d = B.definitions()
    for key in ("pixel_f1@0.5", "pixel_f1@dataset_best", "pixel_f1@image_oracle",
                "pixel_f1_permuted@0.5", "pixel_auc", "image_auc", "image_ap", "eer", "ece",
                "brier", "temporal_ap@0.5", "temporal_ar@50", "token_f1", "box_iou"):
        assert key in d and len(d[key]) > 20
    names = [m.name for m in [*B.image_metrics(), *B.pixel_metrics()]]
    assert len(names) == len(set(names))


# --------------------------------------------------------------------------- report


def _fake_results():
    r = np.random.default_rng(0)
    labels = [0] * 10 + [1] * 10
    items = [{"media": f"im{i:02d}.png", "label": y,
              "scores": {"alpha": round(float(r.random() * 0.5 + 0.4 * y), 3),
                         "beta": None if i == 3 else round(float(r.random()), 3),
                         "fused": round(float(r.random() * 0.6 + 0.3 * y), 3)}}
             for i, y in enumerate(labels)]

    def sweep_point(q, a):
        return {"perturbation": f"jpeg:q={q}", "n": 20, "n_skipped": 0,
                "metrics": {"alpha/image_auc": a, "beta/image_auc": 0.5, "fused/image_auc": a - 0.01}}

    return {
        "protocol": {"version": "veriscope.bench/1", "detectors": ["alpha", "beta"], "fused": True},
        "tool_version": "0.0.test",
        "dataset": {"name": "fakeset", "fingerprint": "f" * 64, "n": 20},
        "perturbation": "jpeg:q=90,70,50",
        "metrics": {"n": 20.0, "n_manipulated": 10.0, "n_masks": 10.0,
                    "alpha/coverage": 1.0, "alpha/image_auc": 0.91234, "alpha/eer": 0.15,
                    "alpha/pixel_f1@0.5": 0.4321,
                    "beta/coverage": 0.95, "beta/image_auc": 0.5,
                    "fused/coverage": 1.0, "fused/image_auc": 0.88, "fused/pixel_f1@0.5": 0.40},
        "items": items,
        "sweep": [sweep_point(90, 0.9), sweep_point(50, 0.7), sweep_point(70, 0.8)],
    }


def test_markdown_leaderboard_values(tmp_path):
    p = tmp_path / "run" / "results.json"
    p.parent.mkdir()
    p.write_text(json.dumps(_fake_results()))
    md = R.markdown(R.load([p.parent]))  # a folder holding results.json
    assert "veriscope.bench/1" in md and "f" * 64 in md and "## fakeset" in md
    board = md.split("### Robustness")[0]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in board.splitlines() if line.startswith("| ")}
    head = rows["detector"]
    assert head[:2] == ["image_auc", "eer"] and "pixel_f1@0.5" in head and "coverage" in head
    alpha = dict(zip(head, rows["alpha"], strict=True))
    assert alpha["image_auc"] == "0.912" and alpha["eer"] == "0.150" and alpha["pixel_f1@0.5"] == "0.432"
    assert dict(zip(head, rows["beta"], strict=True))["eer"] == "—"
    # sorted by image_auc, best first
    order = [line.split("|")[1].strip() for line in board.splitlines() if line.startswith("| ")]
    assert order.index("alpha") < order.index("fused") < order.index("beta")
    # the sweep becomes a robustness table over q, in increasing order, with the clean value
    assert "Robustness: image_auc under jpeg:q=x" in md
    rob = md.split("Robustness: image_auc under jpeg:q=x")[1]
    assert "| detector | clean | 50 | 70 | 90 |" in rob
    assert "| alpha | 0.912 | 0.700 | 0.800 | 0.900 |" in rob


def test_html_is_self_contained_with_curves(tmp_path):
    pytest.importorskip("matplotlib")
    paths = R.write([_fake_results()], tmp_path)
    text = paths["html"].read_text()
    assert not re.search(r"https?://", text)
    assert not re.search(r"<(script|link)\b", text)
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(pngs) == 3  # ROC, PR, robustness (image_auc vs q)
    import base64

    assert all(base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n" for b in pngs)
    assert "0.912" in text and paths["md"].exists()


def test_curve_points_match_sklearn():
    s, y = _image_data(1)
    fpr, tpr = R.roc_points(s, y)
    f2, t2, _ = roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, f2) and np.allclose(tpr, t2)
    rec, prec = R.pr_points(s, y)
    assert np.sum(np.diff(rec) * prec[1:]) == pytest.approx(average_precision_score(y, s))


def test_report_module_does_not_import_matplotlib_for_markdown(tmp_path):
    import subprocess
    import sys

    p = tmp_path / "results.json"
    p.write_text(json.dumps(_fake_results()))
    code = ("import sys; from veriscope.bench import report as R; "
            f"R.write([{str(p)!r}], {str(tmp_path / 'o')!r}, html_out=False); "
            "assert 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- Benchmark integration


class EnergyMapDet(Detector):
    """Test detector: local energy of the high-pass residual (deterministic localizer)."""

    name = "energy_map_test"
    version = "1"
    localizes = True

    def analyze(self, media, ctx):
        import cv2

        g = media.gray()
        res = g - cv2.GaussianBlur(g, (0, 0), 1.5)
        hm = np.clip(np.sqrt(cv2.blur(res * res, (7, 7))) / 12.0, 0, 1)
        return self.evidence(score=min(1.0, 8 * float((hm > 0.5).mean())), label="manipulated",
                             heatmap=hm)


def test_benchmark_items_and_objects_reproduce_score_py(tmp_path):
    from veriscope.bench import Benchmark
    from veriscope.bench.datasets import Record
    from veriscope.bench.score import _mask

    rng = np.random.default_rng(0)
    recs = []
    for i in range(6):
        img = smooth_image(64, 80, seed=i)
        if i % 2:
            y, x = int(rng.integers(2, 30)), int(rng.integers(2, 44))
            sq = img[y:y + 24, x:x + 24].astype(float) + rng.normal(0, 25 + 5 * i, (24, 24, 3))
            img[y:y + 24, x:x + 24] = np.clip(sq, 0, 255).astype(np.uint8)
            m = np.zeros((64, 80), np.uint8)
            m[y:y + 24, x:x + 24] = 255
            recs.append(Record(save(img, tmp_path / f"i{i}.png"), 1, save(m, tmp_path / f"i{i}_m.png")))
        else:
            recs.append(Record(save(img, tmp_path / f"i{i}.png"), 0))
    b = Benchmark(("tiny", recs), [EnergyMapDet], cache_dir=tmp_path / "cache", fused=False)
    res = b.run()
    det = EnergyMapDet.name
    assert [it["media"] for it in res["items"]] == [r.media.name for r in recs]
    assert [it["label"] for it in res["items"]] == [r.label for r in recs]
    s = [it["scores"][det] for it in res["items"]]
    assert M.auc(s, [r.label for r in recs]) == pytest.approx(res["metrics"][f"{det}/image_auc"], abs=1e-6)
    metrics = [B.ImageAUC(), B.ImageAP(), B.EER(), B.PixelF1(), B.PixelF1("dataset_best"), B.PixelAUC()]
    for r in recs:
        o = b.runner.outcome(r, det)
        for m in metrics[:3]:
            m.update(o.score, r.label)
        if r.label:
            h = o.heatmap()
            for m in metrics[3:]:
                m.update(h, _mask(r, h.shape))
    ours = B.compute_all(metrics)
    assert set(ours) == {"image_auc", "image_ap", "eer", "pixel_f1@0.5", "pixel_f1@dataset_best",
                         "pixel_best_threshold", "pixel_auc"}
    for k, v in ours.items():
        assert v == pytest.approx(res["metrics"][f"{det}/{k}"], abs=1e-6), k
    md = R.markdown([res])
    assert f"| {det} | {ours['image_auc']:.3f} |" in md


def test_bootstrap_intervals():
    rng = np.random.default_rng(3)
    v = rng.uniform(0, 1, 18)
    lo, hi = M.bootstrap_mean_ci(v)
    assert lo < v.mean() < hi and (lo, hi) == M.bootstrap_mean_ci(v)  # reproducible
    # by hand: the same resamples, then the 2.5 / 97.5 % quantiles of their means
    idx = np.random.default_rng(M.BOOTSTRAP_SEED).integers(0, 18, (M.BOOTSTRAP_RESAMPLES, 18))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(v[idx].mean(axis=1), [0.025, 0.975])))
    lo4, hi4 = M.bootstrap_mean_ci(np.tile(v, 4))  # 4x the items: about half the width
    assert 0.35 < (hi4 - lo4) / (hi - lo) < 0.65
    assert M.bootstrap_mean_ci([np.nan, 0.2, 0.2]) == (0.2, 0.2)  # NaN items are left out
    assert all(x != x for x in M.bootstrap_mean_ci([np.nan]))
    s = np.r_[rng.normal(1, 1, 60), rng.normal(0, 1, 80)]
    y = np.r_[np.ones(60, bool), np.zeros(80, bool)]
    alo, ahi = M.bootstrap_auc_ci(s, y)
    assert alo < M.auc(s, y) < ahi and 0.05 < ahi - alo < 0.3
    assert M.bootstrap_auc_ci([0.9, 0.8, 0.1], [1, 1, 0]) == (1.0, 1.0)
    assert M.bootstrap_auc_ci([0.5, 0.5], [1, 0]) == (0.5, 0.5)  # ties count half
    assert all(x != x for x in M.bootstrap_auc_ci([0.3, 0.4], [1, 1]))


def test_bootstrap_of_large_sets_runs_in_blocks(monkeypatch):
    rng = np.random.default_rng(5)
    s, y = rng.normal(size=3000), rng.random(3000) < 0.4
    whole = M.bootstrap_auc_ci(s, y), M.bootstrap_mean_ci(s)
    monkeypatch.setattr(M, "_BOOTSTRAP_BLOCK", 50_000)  # 16 resamples of 3000 per block
    assert M._blocks(1000, 3000) == [16] * 62 + [8]
    blocked = M.bootstrap_auc_ci(s, y), M.bootstrap_mean_ci(s)
    # other draws, the same distribution: the intervals agree to sampling noise
    for (a, b), (c, d) in zip(whole, blocked, strict=True):
        assert abs(a - c) < 0.01 and abs(b - d) < 0.01


def test_score_writes_intervals_around_the_point_values(tmp_path):
    from veriscope.bench import Benchmark
    from veriscope.bench.datasets import Record

    recs = []
    rng = np.random.default_rng(0)
    for i in range(8):
        img = smooth_image(64, 64, seed=i)
        mask = np.zeros((64, 64), bool)
        mask[10:30, 10:40] = True
        if i % 2:
            img = img.copy()
            img[mask] = rng.integers(0, 255, (int(mask.sum()), 3))
        p = save(img, tmp_path / f"im{i}.png")
        mp = save((mask * 255).astype(np.uint8), tmp_path / f"im{i}_mask.png")
        recs.append(Record(p, i % 2, mp if i % 2 else None))
    res = Benchmark(("t", recs), ["noise"], cache_dir=tmp_path / "cache").run()
    m = res["metrics"]
    for k in ("image_auc", "pixel_f1@0.5"):
        assert m[f"noise/{k}_ci95_lo"] <= m[f"noise/{k}"] <= m[f"noise/{k}_ci95_hi"], k
    md = R.markdown([res])  # the leaderboard shows them as columns
    head = next(line for line in md.splitlines() if line.startswith("| detector |"))
    assert head.endswith("| image_auc 95% CI | pixel_f1@0.5 95% CI |")
    lo, hi = m["noise/image_auc_ci95_lo"], m["noise/image_auc_ci95_hi"]
    assert f"| {lo:.3f}-{hi:.3f} |" in md
