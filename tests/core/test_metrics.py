"""Metrics against scikit-learn and hand-computed cases, including the edge cases."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score, roc_curve

from veriscope.core import metrics as M


@pytest.mark.parametrize("seed", range(6))
def test_image_metrics_match_sklearn(seed):
    r = np.random.default_rng(seed)
    y = r.integers(0, 2, 80).astype(bool)
    s = np.round(r.random(80), 1) + 0.3 * y  # many ties on purpose
    assert M.auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert M.average_precision(s, y) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1 - tpr
    i = np.nanargmin(np.abs(fnr - fpr))
    assert abs(M.eer(s, y) - (fpr[i] + fnr[i]) / 2) < 0.06


def test_pixel_f1_matches_sklearn_and_edge_cases():
    r = np.random.default_rng(1)
    m = r.random((40, 50)) > 0.7
    h = np.clip(m * 0.6 + r.random((40, 50)) * 0.5, 0, 1)
    assert M.pixel_f1(h, m, 0.5) == pytest.approx(f1_score(m.ravel(), (h >= 0.5).ravel()))
    empty = np.zeros((10, 10), bool)
    assert np.isnan(M.pixel_f1(np.zeros((10, 10)), empty))  # nothing to find, nothing found
    assert M.pixel_f1(np.ones((10, 10)), empty) == 0.0  # all false positives
    full = np.ones((10, 10), bool)
    assert M.pixel_f1(np.ones((10, 10)), full) == 1.0
    assert M.pixel_f1(np.zeros((10, 10)), full) == 0.0
    assert np.isnan(M.pixel_auc(h, full))  # a single class present
    assert M.pixel_auc(m.astype(float), m) == 1.0


def test_single_class_and_ties():
    assert np.isnan(M.auc([0.1, 0.2], [1, 1]))
    assert np.isnan(M.eer([0.1, 0.2], [0, 0]))
    assert M.auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5
    assert M.tpr_at_fpr([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0], 0.0) == (1.0, 0.8)
    assert M.balanced_accuracy([0.9, 0.2, 0.6, 0.1], [1, 1, 0, 0]) == 0.5


def test_dataset_best_threshold_is_the_argmax():
    m = np.zeros((20, 20), bool)
    m[5:10, 5:10] = True
    h = m * 0.3 + 0.1
    t, f = M.dataset_best_threshold([h], [m])
    assert f == 1.0 and 0.1 < t <= 0.4


def test_ece():
    from veriscope.core.metrics import ece

    assert ece([0.05, 0.05, 0.95, 0.95], [0, 0, 1, 1]) == pytest.approx(0.05)
    assert ece([0.9] * 10, [0] * 10) == pytest.approx(0.9)  # sure and always wrong
    assert ece([0.55] * 4, [1, 0, 1, 0]) == pytest.approx(0.05)
    assert ece([1.0], [1]) == 0.0
    assert np.isnan(ece([], []))


def test_reliability_bins_count_and_share():
    from veriscope.core.metrics import reliability_bins

    rows = reliability_bins([0.1, 0.2, 0.55, 0.9, 1.0, 0.97], [0, 0, 1, 1, 1, 0])
    assert [r["n"] for r in rows] == [2, 1, 0, 1, 2]
    assert rows[0]["positive_share"] == 0.0 and rows[1]["positive_share"] == 1.0
    assert rows[2]["mean_score"] is None and rows[4]["positive_share"] == 0.5
    assert abs(rows[4]["mean_score"] - 0.985) < 1e-9
