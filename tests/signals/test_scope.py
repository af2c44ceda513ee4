"""signals.scope and the scope detector: which pictures the pixel checks were not built for."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.image.scope import ScopeDetector, jpeg_quality
from veriscope.signals import scope


def photo(h=480, w=640, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 110 + 60 * np.sin(x / 40.0) * np.cos(y / 55.0)
    return np.clip(base[..., None] + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)


def graphic(h=480, w=640):
    g = np.full((h, w, 3), 240, np.uint8)  # a user interface: panels, bars, text-like strokes
    g[:40] = (30, 60, 120)
    g[60:420, 20:200] = (250, 250, 250)
    for r in range(80, 400, 24):
        g[r:r + 6, 40:180] = 20
    return g


def test_a_photo_is_in_scope_and_a_graphic_is_not():
    assert scope.assess(photo())["in_scope"]
    res = scope.assess(graphic())
    assert not res["in_scope"] and [r["code"] for r in res["reasons"]] == ["graphic"]
    assert res["facts"]["flat_share"] > scope.FLAT_MAX


def test_tiny_and_heavily_compressed_pictures_are_out_of_scope():
    assert [r["code"] for r in scope.assess(photo(100, 150))["reasons"]] == ["tiny"]
    assert [r["code"] for r in scope.assess(photo(), jpeg_quality=30)["reasons"]] == \
        ["heavy_compression"]
    assert scope.assess(photo(), jpeg_quality=scope.MIN_QUALITY)["in_scope"]


def test_flat_share_counts_flat_blocks():
    a = photo()
    assert scope.flat_share(a) < 0.01
    a[:240] = 128
    assert abs(scope.flat_share(a) - 0.5) < 0.02
    assert scope.flat_share(np.zeros((2, 2, 3), np.uint8)) == 0.0


def test_a_graphic_resaved_as_jpeg_stays_out_of_scope(tmp_path):
    """JPEG ringing breaks exact flatness; FLAT_TOL keeps the re-saved graphic a graphic."""
    p = tmp_path / "ui.jpg"
    Image.fromarray(graphic()).save(p, quality=80)
    a = np.asarray(Image.open(p).convert("RGB"))
    assert scope.assess(a)["facts"]["flat_share"] > scope.FLAT_MAX
    assert not scope.assess(a, jpeg_quality(Media.open(p)))["in_scope"]


def test_detector_reads_the_jpeg_quality(tmp_path):
    for q, inside in ((30, False), (90, True)):
        p = tmp_path / f"q{q}.jpg"
        Image.fromarray(photo()).save(p, quality=q)
        m = Media.open(p)
        assert abs(jpeg_quality(m) - q) <= 1
        ev = ScopeDetector().analyze(m, Context())
        assert ev.score is None and ev.data["scope"]["in_scope"] is inside
    buf = io.BytesIO()
    Image.fromarray(graphic()).save(buf, "PNG")
    p = tmp_path / "ui.png"
    p.write_bytes(buf.getvalue())
    ev = ScopeDetector().analyze(Media.open(p), Context())
    assert jpeg_quality(Media.open(p)) is None
    assert any(f.code == "out_of_scope_graphic" for f in ev.findings)
