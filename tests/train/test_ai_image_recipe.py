"""The ai_image training recipe: runs end to end on a tiny subset, never reads EVAL sources,
and blocks the format / size shortcut (issue 16)."""

import json

import numpy as np
import pytest
from PIL import Image

from veriscope.core import metrics

torch = pytest.importorskip("torch")

from veriscope.detectors.image import ai_image as det  # noqa: E402
from veriscope.train import ai_image as T  # noqa: E402
from veriscope.train import ai_image_data as D  # noqa: E402


def test_eval_sources_are_never_in_fit_or_cal(shared_data):
    items = D.with_hashes(D.shared_items(shared_data))
    roles = {}
    for it in items:
        roles.setdefault(it.source, set()).add(it.role)
    for src in D.EVAL_SOURCES:
        assert roles[src] == {"eval"}
    for src, r in roles.items():
        if src not in D.EVAL_SOURCES:
            assert "eval" not in r
    # both classes of the main EVAL pair are there
    raise_labels = {it.label for it in items if it.source == "raise"}
    assert raise_labels == {0, 1}


def test_tiny_training_runs_end_to_end_and_is_reproducible(shared_data, tmp_path):
    log = []
    rep = T.run(tmp_path / "a", seed=3, data_root=shared_data, steps=4, limit=3, log=log.append)
    for f in ("ai_image.onnx", "ai_image.json", "training_report.json"):
        assert (tmp_path / "a" / f).is_file()
    saved = json.loads((tmp_path / "a" / "training_report.json").read_text())
    assert saved["data"]["eval_sources_never_read"] == list(D.EVAL_SOURCES)
    trained_on = {k.split("/")[0] for k in {**saved["data"]["fit"], **saved["data"]["cal"]}}
    assert not trained_on & set(D.EVAL_SOURCES)
    assert rep["cnn"]["steps"] == 4
    m = det.AIImageModel.from_dir(tmp_path / "a")
    cam = next(it for it in D.shared_items(shared_data) if it.source == "camera_jpegs")
    rgb = T.load_rgb(cam.path)
    r = m.score(rgb)
    assert 0.0 <= r["score"] <= det.SCORE_MAX and np.isfinite(r["z"])
    t = json.loads((tmp_path / "a" / "ai_image.json").read_text())["thresholds"]
    assert t["inconclusive"] < t["synthetic"]
    # same seed, same model
    T.run(tmp_path / "b", seed=3, data_root=shared_data, steps=4, limit=3, log=log.append)
    a = json.loads((tmp_path / "a" / "ai_image.json").read_text())
    b = json.loads((tmp_path / "b" / "ai_image.json").read_text())
    assert a["combine"] == pytest.approx(b["combine"], rel=1e-6)
    assert a["trace"]["weights"] == pytest.approx(b["trace"]["weights"], rel=1e-6)


def _oof_auc(X, y):
    idx = np.random.default_rng(0).permutation(len(y))  # folds mix both classes
    s = np.zeros(len(y))
    for f in range(4):
        te = idx[f::4]
        tr = np.setdiff1d(idx, te)
        m = T.fit_logistic(X[tr], y[tr], np.ones(len(tr)), 1e-2)
        s[te] = ((X[te] - np.asarray(m["mean"])) / np.asarray(m["scale"])) @ np.asarray(
            m["weights"]) + m["bias"]
    return metrics.auc(s, y)


def test_format_and_size_tell_nothing_after_augmentation(shared_data):
    """On the raw files, format and size separate real from AI (the shortcut exists); on the
    crops the model is trained on, a classifier that sees only format, size, quality and
    scale is at chance."""
    items = [it for it in D.with_hashes(D.shared_items(shared_data)) if it.role == "fit"]
    picked, seen = [], {}
    for it in items:
        seen[it.source] = seen.get(it.source, 0) + 1
        if seen[it.source] <= 6:
            picked.append(it)
    raw = []
    for it in picked:
        with Image.open(it.path) as im:
            w, h = im.size
            raw.append([im.format == "PNG", np.log(w), np.log(h), w % 64 == 0, h % 64 == 0])
    y_raw = np.asarray([it.label for it in picked], float)
    assert _oof_auc(np.asarray(raw, float), y_raw) > 0.75
    pool = T.Pool(picked, seed=0, log=lambda m: None)
    rng = np.random.default_rng(0)
    X, y = [], []
    for k in range(600):
        info = {}
        crop = pool.draw(k % 2, rng, T.CNN_CROP, info)
        X.append([info["format"] == "jpeg", info["format"] == "webp", info["quality"],
                  info["subsampling"], info["scale"], crop.shape[0], crop.shape[1]])
        y.append(k % 2)
    assert abs(_oof_auc(np.asarray(X, float), np.asarray(y, float)) - 0.5) < 0.08
