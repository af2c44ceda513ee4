"""Tests for the resampling detector (Kirchner-style p-map periodicity, per block)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from veriscope.core.media import Media
from veriscope.core.metrics import pixel_f1
from veriscope.detectors.base import Context
from veriscope.detectors.image import resampling as rs
from veriscope.detectors.image.resampling import GLOBAL_SCORE, ResamplingDetector
from veriscope.synth import forgeries as F


def texture(h=384, w=384, seed=0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    a = cv2.GaussianBlur(rng.normal(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 2.5) * 50
    b = rng.normal(0, 4, (h, w, 3)).astype(np.float32)  # sensor-like grain
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 120 + 40 * np.sin(x / 41.0)[..., None] * np.cos(y / 57.0)[..., None]
    return np.clip(base + a + b, 0, 255).astype(np.uint8)


def upscale_region(img, y0, x0, size, s=1.25):
    import cv2

    patch = img[y0:y0 + size, x0:x0 + size]
    big = cv2.resize(patch, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
    out = img.copy()
    out[y0:y0 + size, x0:x0 + size] = big[:size, :size]
    mask = np.zeros(img.shape[:2], bool)
    mask[y0:y0 + size, x0:x0 + size] = True
    return out, mask


def run(tmp_path, img=None, data=None, name="x.png", mode=None):
    p = tmp_path / name
    if data is not None:
        p.write_bytes(data)
    else:
        im = Image.fromarray(img)
        if mode:
            im = im.convert(mode)
        im.save(p)
    return ResamplingDetector().analyze(Media.open(p), Context())


def test_p_map_is_periodic_after_upscaling():
    import cv2

    y = rs.luminance(texture(256, 256, seed=1))
    up = cv2.resize(y, None, fx=1.25, fy=1.25, interpolation=cv2.INTER_LINEAR)[:256, :256]
    prof = rs.p_map(up).mean(axis=0)
    spec = np.abs(np.fft.rfft(prof - prof.mean())) ** 2
    f = np.fft.rfftfreq(256)
    peak = f[np.argmax(spec * (f > 0.1))]
    assert peak == pytest.approx(0.2, abs=0.01)  # scale 5/4: period 5 pixels
    prof0 = rs.p_map(y).mean(axis=0)
    spec0 = np.abs(np.fft.rfft(prof0 - prof0.mean())) ** 2
    assert spec.max() / np.median(spec) > 5 * spec0.max() / np.median(spec0)


@pytest.mark.parametrize("s", [1.15, 1.3])
def test_upscaled_region_is_localized(tmp_path, s):
    img, mask = upscale_region(texture(seed=2), 100, 130, 160, s)
    ev = run(tmp_path, img)
    assert ev.score >= 0.5 and ev.label == "manipulated"
    assert any(f.code == "resampled_region" and "bbox_xywh" in f.data for f in ev.findings)
    assert ev.heatmap.shape == img.shape[:2]
    assert pixel_f1(ev.heatmap, mask) > 0.5


def test_pristine_not_flagged_and_global_resize_is_only_a_finding(tmp_path):
    import cv2

    img = texture(seed=3)
    ev = run(tmp_path, img)
    assert ev.score < 0.5 and not ev.data["globally_resampled"]
    ev = run(tmp_path, data=F.jpeg_bytes(img, 90), name="p.jpg")
    assert ev.score < 0.5
    up = cv2.resize(img, None, fx=1.25, fy=1.25, interpolation=cv2.INTER_LINEAR)
    ev = run(tmp_path, up, name="up.png")
    assert ev.data["globally_resampled"]
    assert any(f.code == "globally_resampled" for f in ev.findings)
    assert ev.score == GLOBAL_SCORE < 0.5


@pytest.mark.parametrize("case", ["gray", "rgba", "i16", "tiny", "flat", "progressive", "cmyk",
                                  "odd_size"])
def test_robust_inputs(tmp_path, case):
    img = texture(seed=4)
    if case == "gray":
        ev = run(tmp_path, img, mode="L")
    elif case == "rgba":
        ev = run(tmp_path, img, mode="RGBA")
    elif case == "i16":
        g = np.asarray(Image.fromarray(img).convert("L")).astype(np.uint16) * 257
        p = tmp_path / "x16.png"
        Image.fromarray(g).save(p)
        ev = ResamplingDetector().analyze(Media.open(p), Context())
    elif case == "tiny":
        ev = run(tmp_path, img[:50, :70])
        assert not ev.applicable
        return
    elif case == "flat":
        ev = run(tmp_path, np.full((200, 300, 3), 255, np.uint8))
        assert ev.data["reliability"]["level"] == "low"
    elif case == "progressive":
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=85, progressive=True)
        ev = run(tmp_path, data=buf.getvalue(), name="p.jpg")
    elif case == "cmyk":
        buf = io.BytesIO()
        Image.fromarray(img).convert("CMYK").save(buf, "JPEG", quality=85)
        ev = run(tmp_path, data=buf.getvalue(), name="c.jpg")
    else:
        ev = run(tmp_path, texture(211, 397, seed=5), name="odd.png")
    assert ev.applicable and ev.error is None
    assert ev.score is not None and 0.0 <= ev.score < 0.5
    assert ev.heatmap is not None and ev.heatmap.ndim == 2
    assert ev.data["reliability"]["level"] in ("high", "medium", "low")
    assert any(f.severity == "info" for f in ev.findings)


def test_real_data_resample_forgeries_and_camera_jpegs(shared_data, tmp_path):
    pristine = shared_data / "pristine-kodak24-cbsd68-mcmaster" / "mcmaster"
    rng = np.random.default_rng(7)
    hits = 0
    for name in ("02.png", "05.png", "11.png"):
        img = np.asarray(Image.open(pristine / name).convert("RGB"))
        f = F.resample(img, rng)
        ev = run(tmp_path, f.image, name="f_" + name)
        hits += ev.score >= 0.5
        assert run(tmp_path, img, name=name).score < 0.5
    assert hits >= 2
    det = ResamplingDetector()
    cams = [p for p in sorted((shared_data / "exif-samples-camera-jpegs").rglob("*.jpg"))
            if p.stat().st_size < 1_500_000][:10]
    scores = [det.analyze(Media.open(p), Context()).score for p in cams]
    assert np.mean(np.asarray(scores) >= 0.5) <= 0.1


@pytest.mark.parametrize("quality,level", [(90, "low"), (97, "low"), (99, "medium")])
def test_reliability_follows_the_jpeg_quality(tmp_path, quality, level):
    """Resampling traces do not survive JPEG at quality <= 97 (FIT: q95 detects none), so a
    positive on such a file is weak evidence; PNG keeps high reliability."""
    img = texture(256, 320, seed=2)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    ev = run(tmp_path, data=buf.getvalue(), name=f"q{quality}.jpg")
    assert ev.data["reliability"]["level"] == level
    if level == "low":
        assert f"quality about {quality}" in ev.data["reliability"]["why"]
    assert run(tmp_path, img, name="x.png").data["reliability"]["level"] == "high"
