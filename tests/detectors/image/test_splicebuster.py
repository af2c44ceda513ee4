"""Splicebuster detector (veriscope.detectors.image.splicebuster)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from veriscope.core import metrics as M
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.image import splicebuster as S
from veriscope.detectors.image.splicebuster import SplicebusterDetector
from veriscope.synth import forgeries as F


def _run(tmp_path, img, name="x.png", **save):
    p = tmp_path / name
    Image.fromarray(img).save(p, **save)
    return SplicebusterDetector().analyze(Media.open(p), Context())


def _scene(h=360, w=480, sigma=1.5, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([128 + 80 * np.sin(x / 37.0) * np.cos(y / 43.0),
                     128 + 60 * np.cos((x + y) / 49.0),
                     110 + 50 * np.sin(y / 31.0 + seed)], -1)
    return np.clip(np.rint(base + rng.normal(0, sigma, base.shape)), 0, 255).astype(np.uint8)


def test_symmetry_classes():
    table, n = S.symmetry_classes(2)
    assert n == S.N_CLASSES == 169
    L = 5

    def code(d):
        return sum((v + 2) * L ** k for k, v in enumerate(d))

    for d in ([2, -1, 0, 1], [0, 0, 0, 0], [-2, 2, -2, 1], [1, 1, -1, 0]):
        c = table[code(d)]
        assert table[code([-v for v in d])] == c
        assert table[code(d[::-1])] == c
    assert table[code([1, 0, 0, 0])] != table[code([2, 0, 0, 0])]


def test_residual_codes_and_histograms():
    g = np.random.default_rng(0).normal(128, 5, (64, 80)).astype(np.float32)
    ch, cv = S.residual_codes(g)
    assert ch.shape == (64, 74) and cv.shape == (58, 80)
    assert ch.min() >= 0 and ch.max() < S.N_CLASSES
    hist = S.cell_histograms(g, 8)
    assert hist.shape == (8, 10, S.N_CLASSES)
    assert hist.sum() == ch.size + cv.size  # every tuple counted once
    flat = S.cell_histograms(np.full((64, 80), 100, np.float32), 8)
    zero = int(S._TABLE[(5 ** 4 - 1) // 2])
    assert flat[..., zero].sum() == flat.sum()


def test_em_finds_outliers():
    rng = np.random.default_rng(0)
    Z = rng.normal(0, 1, (2000, 5))
    Z[:100] += 6.0
    em = S.em_gaussian_uniform(Z)
    assert 0.02 < em["pi_out"] < 0.2
    assert np.median(em["llr"][:100]) > np.percentile(em["llr"][100:], 95)


def test_noisy_region_flagged_and_localized(tmp_path):
    img = _scene()
    mask = np.zeros(img.shape[:2], bool)
    mask[120:250, 170:330] = True
    n = np.random.default_rng(1).normal(0, 6, img.shape) * mask[..., None]
    forged = np.clip(np.rint(img + n), 0, 255).astype(np.uint8)
    ev = _run(tmp_path, forged)
    assert ev.score >= 0.5 and ev.label == "manipulated"
    assert M.pixel_f1(ev.heatmap, mask) > 0.5
    f = next(f for f in ev.findings if f.code == "residual_anomaly_region")
    assert f.severity in ("medium", "high") and len(f.data["bbox"]) == 4
    pristine = _run(tmp_path, img, "p.png")
    assert pristine.score < 0.5 and pristine.label == "no_evidence"


def test_real_photo_blurred_splice(tmp_path):
    data = pytest.importorskip("skimage.data")
    import cv2

    host, donor = data.astronaut(), data.chelsea()
    pristine = _run(tmp_path, host, "p.png")
    assert pristine.score < 0.5
    f = F.splice(host, cv2.GaussianBlur(donor, (0, 0), 1.2), np.random.default_rng(1))
    ev = _run(tmp_path, f.image, "f.png")
    assert M.pixel_auc(ev.heatmap, f.mask) > 0.85
    assert M.pixel_f1(ev.heatmap, f.mask) > 0.2


def test_flat_pictures_give_no_score(tmp_path):
    for v in (0, 128, 255):
        ev = _run(tmp_path, np.full((200, 240, 3), v, np.uint8), f"flat{v}.png")
        assert ev.score is None and ev.label == "inconclusive"


@pytest.mark.parametrize("kind", ["grey", "rgba", "16bit", "tiny", "progressive", "cmyk", "q30",
                                  "big"])
def test_robust_inputs(tmp_path, kind):
    img = _scene(240, 300)
    ext = "jpg" if kind in ("progressive", "cmyk", "q30") else "png"
    p = tmp_path / f"{kind}.{ext}"
    im = Image.fromarray(img)
    if kind == "grey":
        im.convert("L").save(p)
    elif kind == "rgba":
        Image.fromarray(np.dstack([img, np.full(img.shape[:2], 90, np.uint8)])).save(p)
    elif kind == "16bit":
        Image.fromarray(img[..., 1].astype(np.uint16) * 257).save(p)
    elif kind == "tiny":
        Image.fromarray(img[:50, :50]).save(p)
    elif kind == "progressive":
        im.save(p, quality=85, progressive=True)
    elif kind == "cmyk":
        im.convert("CMYK").save(p, quality=90)
    elif kind == "q30":
        im.save(p, quality=30)
    else:
        Image.fromarray(_scene(900, 1300, seed=2)).save(p)
    ev = SplicebusterDetector().analyze(Media.open(p), Context())
    if kind == "tiny":
        assert not ev.applicable and ev.reason
        return
    assert ev.score is None or 0.0 <= ev.score <= 1.0
    assert ev.data["reliability"]["level"] in ("low", "medium", "high")
    assert ev.findings
    if ev.heatmap is not None:
        assert ev.heatmap.ndim == 2 and ev.heatmap.dtype == np.float32
        h, w = ev.heatmap.shape
        H, W = Media.open(p).rgb().shape[:2]
        assert abs(w / h - W / H) < 0.05
    if kind == "big":
        assert any(f.code == "reduced_resolution" for f in ev.findings)
    if kind == "q30":
        assert ev.data["reliability"]["level"] == "low"
    ev.to_dict()


def test_shared_pristine_and_blur_splices(shared_data):
    import tempfile
    from pathlib import Path

    import cv2

    root = shared_data / "pristine-kodak24-cbsd68-mcmaster" / "cbsd68"
    files = sorted(root.glob("*.png"))[:10]
    assert len(files) == 10
    det = SplicebusterDetector()
    flagged = sum((det.analyze(Media.open(p), Context()).score or 0.0) >= 0.5 for p in files)
    assert flagged <= 2
    imgs = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    rng = np.random.default_rng(0)
    aucs = []
    with tempfile.TemporaryDirectory() as td:
        for i in range(6):
            donor = cv2.GaussianBlur(imgs[(i + 3) % 10], (0, 0), 1.2)
            f = F.splice(imgs[i], donor, rng)
            q = Path(td) / f"{i}.png"
            Image.fromarray(f.image).save(q)
            aucs.append(M.pixel_auc(det.analyze(Media.open(q), Context()).heatmap, f.mask))
    assert sum(a > 0.85 for a in aucs) >= 4, aucs
