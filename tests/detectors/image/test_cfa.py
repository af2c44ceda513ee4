"""CFA / demosaicing trace detector (veriscope.detectors.image.cfa)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from veriscope.core import metrics as M
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.image import cfa as C
from veriscope.detectors.image.cfa import CFADetector, mosaic_demosaic
from veriscope.synth import forgeries as F


def _run(tmp_path, img, name="x.png", **save):
    p = tmp_path / name
    Image.fromarray(img).save(p, **save)
    return CFADetector().analyze(Media.open(p), Context())


def _scene(h=320, w=400, seed=0):
    """Textured colour scene (content at all frequencies, as in photos), not demosaiced."""
    import cv2

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([128 + 70 * np.sin(x / 13.0) * np.cos(y / 17.0),
                     128 + 60 * np.cos((x + 2 * y) / 9.0),
                     110 + 50 * np.sin(y / 7.0 + x / 23.0)], -1)
    tex = cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)), (0, 0), 1.0)
    return np.clip(base + tex, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("algo", ["bilinear", "vng", "ea"])
def test_pattern_estimation(algo):
    rng = np.random.default_rng(0)
    for pattern in C.PATTERNS:
        res = C.analyse(mosaic_demosaic(_scene(), pattern, algo, 1.0, rng))
        assert res["ok"] and res["traces"], (pattern, algo, res.get("strength"))
        assert res["pattern"] == pattern


def test_splice_of_non_demosaiced_region(tmp_path):
    rng = np.random.default_rng(1)
    host = mosaic_demosaic(_scene(seed=0), "GRBG", "bilinear", 1.0, rng)
    pristine = _run(tmp_path, host, "p.png")
    assert pristine.score is not None and pristine.score < 0.5
    assert pristine.data["pattern"] == "GRBG"
    assert pristine.data["reliability"]["level"] == "high"
    f = F.splice(host, _scene(seed=5), rng)
    ev = _run(tmp_path, f.image, "f.png")
    assert ev.score >= 0.5 and ev.label == "manipulated"
    assert M.pixel_f1(ev.heatmap, f.mask) > 0.5
    finding = next(x for x in ev.findings if x.code == "cfa_trace_missing_region")
    assert finding.severity in ("medium", "high") and ev.boxes


def test_phase_shifted_splice(tmp_path):
    rng = np.random.default_rng(2)
    host = mosaic_demosaic(_scene(seed=0), "RGGB", "ea", 1.0, rng)
    donor = mosaic_demosaic(_scene(seed=3), "RGGB", "ea", 1.0, rng)[1:, :]  # green lattice flips
    f = F.splice(host, donor, rng)
    ev = _run(tmp_path, f.image)
    assert M.pixel_auc(ev.heatmap, f.mask) > 0.85
    assert ev.score >= 0.5


def test_no_traces_means_no_opinion(tmp_path):
    ev = _run(tmp_path, _scene())
    assert ev.applicable and ev.score is None and ev.label == "inconclusive"
    assert ev.heatmap is None
    assert ev.data["reliability"]["level"] == "low"
    assert any(f.code == "cfa_no_traces" for f in ev.findings)


def test_jpeg_erases_traces(tmp_path):
    host = mosaic_demosaic(_scene(), "BGGR", "bilinear", 1.0, np.random.default_rng(0))
    ev = _run(tmp_path, host, "q75.jpg", quality=75)
    assert ev.score is None or (ev.score < 0.5 and ev.data["reliability"]["level"] == "low")
    assert ev.data["jpeg_quality"] == 75


@pytest.mark.parametrize("kind", ["grey", "rgba", "16bit", "tiny", "progressive", "cmyk",
                                  "palette", "odd"])
def test_robust_inputs(tmp_path, kind):
    img = mosaic_demosaic(_scene(200, 260), "RGGB", "bilinear", 1.0, np.random.default_rng(0))
    ext = "jpg" if kind in ("progressive", "cmyk") else "png"
    p = tmp_path / f"{kind}.{ext}"
    im = Image.fromarray(img)
    if kind == "grey":
        im.convert("L").save(p)
    elif kind == "rgba":
        Image.fromarray(np.dstack([img, np.full(img.shape[:2], 90, np.uint8)])).save(p)
    elif kind == "16bit":
        Image.fromarray(img[..., 1].astype(np.uint16) * 257).save(p)
    elif kind == "tiny":
        Image.fromarray(img[:40, :40]).save(p)
    elif kind == "progressive":
        im.save(p, quality=98, progressive=True)
    elif kind == "cmyk":
        im.convert("CMYK").save(p, quality=98)
    elif kind == "palette":
        im.convert("P").save(p)
    else:  # odd size, cropped by one pixel: the detector must find the shifted pattern
        Image.fromarray(img[1:, 1:][:-2]).save(p)
    ev = CFADetector().analyze(Media.open(p), Context())
    if kind == "tiny":
        assert not ev.applicable and ev.reason
        return
    assert ev.score is None or 0.0 <= ev.score <= 1.0
    assert ev.data["reliability"]["level"] in ("low", "medium", "high")
    assert ev.findings
    if kind in ("grey", "16bit"):
        assert ev.score is None and any(f.code == "cfa_no_colour" for f in ev.findings)
    if kind in ("rgba", "odd"):
        assert ev.score is not None and ev.score < 0.5
    if kind == "odd":
        assert ev.data["pattern"] == "BGGR"  # RGGB shifted by (1, 1)
    ev.to_dict()


def test_shared_real_sets(shared_data):
    import tempfile
    from pathlib import Path

    root = shared_data / "pristine-kodak24-cbsd68-mcmaster"
    det = CFADetector()
    # film scans and resampled photos: no demosaicing trace, so no opinion
    for p in sorted((root / "kodak24").glob("*.png"))[:6]:
        ev = det.analyze(Media.open(p), Context())
        assert ev.score is None and ev.label == "inconclusive"
    imgs = [np.asarray(Image.open(p).convert("RGB")) for p in sorted((root / "mcmaster").glob("*.png"))[:6]]
    rng = np.random.default_rng(0)
    hits = 0
    with tempfile.TemporaryDirectory() as td:
        for i in range(5):
            host = mosaic_demosaic(imgs[i], "GBRG", "ea", 1.0, rng)
            f = F.splice(host, imgs[(i + 1) % 6], rng)
            q = Path(td) / f"{i}.png"
            Image.fromarray(f.image).save(q)
            ev = det.analyze(Media.open(q), Context())
            hits += ev.score is not None and ev.score >= 0.5 and M.pixel_f1(ev.heatmap, f.mask) > 0.4
    assert hits >= 4
