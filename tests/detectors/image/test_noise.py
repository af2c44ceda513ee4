"""Noise-level inconsistency detector (veriscope.detectors.image.noise)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from veriscope.core import metrics as M
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.image.noise import NoiseDetector, box_sum, centre_map
from veriscope.synth import forgeries as F


def _run(tmp_path, img, name="x.png", **save):
    p = tmp_path / name
    Image.fromarray(img).save(p, **save)
    return NoiseDetector().analyze(Media.open(p), Context())


def _noisy(img, mask, sigma, rng):
    n = rng.normal(0, sigma, img.shape) * mask[..., None]
    return np.clip(np.rint(img.astype(np.float64) + n), 0, 255).astype(np.uint8)


def _camera_like(h=320, w=400, sigma=1.5, seed=0):
    """Smooth scene + signal-dependent noise (sigma grows with brightness, like a sensor)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([128 + 80 * np.sin(x / 37.0) * np.cos(y / 43.0),
                     128 + 60 * np.cos((x + y) / 49.0),
                     110 + 50 * np.sin(y / 31.0 + seed)], -1)
    s = sigma * np.sqrt(np.maximum(base, 1.0) / 128.0)
    return np.clip(np.rint(base + rng.normal(0, 1, base.shape) * s), 0, 255).astype(np.uint8)


def test_box_sum_and_centre_map():
    a = np.arange(30, dtype=float).reshape(5, 6)
    b = box_sum(a, 2)
    assert b.shape == (4, 5)
    assert b[1, 2] == a[1:3, 2:4].sum()
    assert centre_map(b, 2).shape == a.shape


def test_noisy_region_flagged_and_localized(tmp_path):
    img = _camera_like()
    mask = np.zeros(img.shape[:2], bool)
    mask[100:220, 150:290] = True
    forged = _noisy(img, mask, 6.0, np.random.default_rng(1))
    ev = _run(tmp_path, forged)
    assert ev.score >= 0.5 and ev.label == "manipulated"
    assert M.pixel_f1(ev.heatmap, mask) > 0.6
    codes = {f.code: f for f in ev.findings}
    assert codes["noise_inconsistent_region"].severity in ("medium", "high")
    x, y, w, h = codes["noise_inconsistent_region"].data["bbox"]
    assert 100 <= x + w / 2 <= 340 and 60 <= y + h / 2 <= 260
    assert ev.boxes


def test_signal_dependent_noise_is_not_flagged(tmp_path):
    # a brightness ramp with sensor-like noise: noise differs across the picture, but it
    # follows brightness, which the intensity curve must absorb
    ev = _run(tmp_path, _camera_like(sigma=2.5, seed=3))
    assert ev.score < 0.5 and ev.label == "no_evidence"
    assert float((ev.heatmap >= 0.5).mean()) < 0.1
    assert ev.data["reliability"]["level"] in ("medium", "high")
    assert any(f.code == "noise_summary" for f in ev.findings)


def test_real_photo_splice_with_added_noise(tmp_path):
    data = pytest.importorskip("skimage.data")
    host, donor = data.astronaut(), data.chelsea()
    pristine = _run(tmp_path, host, "p.png")
    assert pristine.score < 0.5
    f = F.splice(host, donor, np.random.default_rng(1))
    forged = _run(tmp_path, _noisy(f.image, f.mask, 3.0, np.random.default_rng(2)), "f.png")
    assert M.pixel_auc(forged.heatmap, f.mask) > 0.85
    assert M.pixel_f1(forged.heatmap, f.mask) > 0.3
    assert forged.score > pristine.score


def test_flat_and_clipped_pictures_give_no_score(tmp_path):
    for v in (0, 128, 255):
        ev = _run(tmp_path, np.full((200, 240, 3), v, np.uint8), f"flat{v}.png")
        assert ev.score is None and ev.label == "inconclusive"
        assert ev.data["reliability"]["level"] == "low"


def test_reduced_resolution_finding(tmp_path):
    img = _camera_like(820, 1300, seed=5)
    ev = _run(tmp_path, img, "big.png")
    assert any(f.code == "reduced_resolution" for f in ev.findings)
    assert ev.data["scale"] < 1.0
    h, w = ev.heatmap.shape
    assert abs(w / h - 1300 / 820) < 0.05


@pytest.mark.parametrize("kind", ["grey", "rgba", "16bit", "tiny", "thin", "progressive", "cmyk",
                                  "444", "q30", "palette", "long"])
def test_robust_inputs(tmp_path, kind):
    img = _camera_like(200, 260)
    p = tmp_path / f"{kind}.{'jpg' if kind in ('progressive', 'cmyk', '444', 'q30') else 'png'}"
    im = Image.fromarray(img)
    if kind == "grey":
        im.convert("L").save(p)
    elif kind == "rgba":
        Image.fromarray(np.dstack([img, np.full(img.shape[:2], 90, np.uint8)])).save(p)
    elif kind == "16bit":
        Image.fromarray(img[..., 1].astype(np.uint16) * 257).save(p)
    elif kind == "tiny":
        Image.fromarray(img[:40, :40]).save(p)
    elif kind == "thin":
        Image.fromarray(img[:30]).save(p)
    elif kind == "progressive":
        im.save(p, quality=85, progressive=True)
    elif kind == "cmyk":
        im.convert("CMYK").save(p, quality=90)
    elif kind == "444":
        im.save(p, quality=95, subsampling=0)
    elif kind == "q30":
        im.save(p, quality=30)
    elif kind == "palette":
        im.convert("P").save(p)
    else:
        Image.fromarray(np.tile(img, (1, 12, 1))[:70, :3000]).save(p)
    ev = NoiseDetector().analyze(Media.open(p), Context())
    if kind in ("tiny", "thin"):
        assert not ev.applicable and ev.reason
        return
    assert ev.score is None or 0.0 <= ev.score <= 1.0
    assert ev.data["reliability"]["level"] in ("low", "medium", "high")
    assert ev.findings and ev.findings[0].severity == "info" or ev.findings
    if ev.heatmap is not None:
        assert ev.heatmap.dtype == np.float32 and ev.heatmap.ndim == 2
        assert 0.0 <= ev.heatmap.min() and ev.heatmap.max() <= 1.0
    if kind == "q30":
        assert ev.data["reliability"]["level"] == "low"
    ev.to_dict()


def test_shared_pristine_and_noisy_splices(shared_data):
    root = shared_data / "pristine-kodak24-cbsd68-mcmaster" / "mcmaster"
    files = sorted(root.glob("*.png"))[:10]
    assert len(files) == 10
    imgs = [np.asarray(Image.open(p).convert("RGB")) for p in files]
    det = NoiseDetector()
    flagged = 0
    for p in files:
        ev = det.analyze(Media.open(p), Context())
        flagged += ev.score is not None and ev.score >= 0.5
    assert flagged <= 2
    rng = np.random.default_rng(0)
    aucs = []
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as td:
        for i in range(6):
            f = F.splice(imgs[i], imgs[(i + 3) % 10], rng)
            q = Path(td) / f"{i}.png"
            Image.fromarray(_noisy(f.image, f.mask, 3.0, rng)).save(q)
            ev = det.analyze(Media.open(q), Context())
            aucs.append(M.pixel_auc(ev.heatmap, f.mask))
    assert sum(a > 0.85 for a in aucs) >= 4, aucs
