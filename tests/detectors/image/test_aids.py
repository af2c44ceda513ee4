"""Tests for the visual-aids detector (views only, no score)."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.image import aids
from veriscope.detectors.image.aids import VisualAidsDetector

NAMES = {"error_level", "noise_residual", "luminance_gradient", "pca", "level_sweep"}


def picture(h=240, w=320, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([120 + 60 * np.sin(x / 23), 110 + 50 * np.cos(y / 31),
                    100 + 40 * np.sin((x + y) / 17)], -1) + rng.normal(0, 3, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def run(tmp_path, img, name="x.png", mode=None):
    p = tmp_path / name
    im = Image.fromarray(img)
    if mode:
        im = im.convert(mode)
    im.save(p)
    return VisualAidsDetector().analyze(Media.open(p), Context())


def test_views_are_uint8_with_captions_and_no_score(tmp_path):
    img = picture()
    ev = run(tmp_path, img)
    assert ev.score is None and ev.label is None
    assert VisualAidsDetector.localizes is False and VisualAidsDetector.default is True
    assert set(ev.views) == NAMES
    assert set(ev.data["captions"]) == NAMES
    for k, v in ev.views.items():
        assert v.dtype == np.uint8 and v.shape[:2] == img.shape[:2], k
        assert v.ndim in (2, 3)
        assert v.max() > v.min(), k  # not blank
        assert ev.data["captions"][k] and "\n" not in ev.data["captions"][k]
    d = ev.to_dict()
    assert d["score"] is None and len(d["views"]) == 5


def test_error_level_shows_a_pasted_uncompressed_patch():
    """ELA of a JPEG with a never-compressed patch: the patch re-compresses worse."""
    img = picture(seed=1)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=75)
    j = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()
    j[80:160, 100:200] = picture(seed=2)[80:160, 100:200]
    e = aids.error_level(j).astype(np.float32).mean(axis=2)
    inside, outside = e[88:152, 108:192].mean(), np.r_[e[:60].ravel(), e[190:].ravel()].mean()
    assert inside > 1.5 * outside


def test_pca_view_exposes_a_faint_colour_shift():
    img = picture(seed=3).astype(np.int16)
    img[50:120, 60:160, 2] += 4  # invisible blue tint
    v = aids.pca_view(np.clip(img, 0, 255).astype(np.uint8)).astype(np.float32)
    assert abs(v[60:110, 70:150].mean() - v[150:, :].mean()) > 10


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16", "P", "CMYK"])
def test_odd_modes(tmp_path, mode):
    img = picture(seed=4)
    if mode == "I;16":
        p = tmp_path / "x16.png"
        Image.fromarray(np.asarray(Image.fromarray(img).convert("L")).astype(np.uint16) * 257).save(p)
        ev = VisualAidsDetector().analyze(Media.open(p), Context())
    elif mode == "CMYK":
        p = tmp_path / "c.jpg"
        Image.fromarray(img).convert("CMYK").save(p, quality=90)
        ev = VisualAidsDetector().analyze(Media.open(p), Context())
    else:
        ev = run(tmp_path, img, mode=mode)
    assert set(ev.views) == NAMES and ev.score is None


def test_tiny_and_flat_pictures(tmp_path):
    ev = run(tmp_path, picture(5, 6))
    assert ev.score is None and not ev.views and ev.findings
    ev = run(tmp_path, np.full((64, 64, 3), 200, np.uint8))  # flat: views exist, no crash
    assert set(ev.views) == NAMES


def test_12_megapixels_are_analysed_on_a_bounded_working_copy(tmp_path):
    """Run in a child process: a 12 MP picture would otherwise stay in this process's heap
    (and in every process it forks later). Its speed is measured in benchmarks/image_speed.py
    (aids at 12 MP), not asserted here: a timed test fails at random on a busy machine."""
    code = f"""
import numpy as np
from PIL import Image
from veriscope.detectors.image import aids
from veriscope.detectors.image.aids import VisualAidsDetector
from veriscope.detectors.base import Context
from veriscope.core.media import Media
rng = np.random.default_rng(6)
y, x = np.mgrid[0:375, 0:500].astype(np.float32)
tile = np.stack([120 + 60 * np.sin(x / 23), 110 + 50 * np.cos(y / 31),
                 100 + 40 * np.sin((x + y) / 17)], -1) + rng.normal(0, 3, (375, 500, 3))
img = np.tile(np.clip(tile, 0, 255).astype(np.uint8), (8, 8, 1))
p = {str(tmp_path / "big.jpg")!r}
Image.fromarray(img).save(p, quality=90)
m = Media.open(p)
ev = VisualAidsDetector().analyze(m, Context())
v = ev.views["pca"]
assert any(f.code == "analysed_at_reduced_resolution" for f in ev.findings)
assert v.shape[0] * v.shape[1] <= aids.MAX_PIXELS
print(v.shape[0] * v.shape[1])
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert 0 < int(r.stdout.strip().splitlines()[-1]) <= aids.MAX_PIXELS


def test_real_photo_views(shared_data, tmp_path):
    p = sorted((shared_data / "exif-samples-camera-jpegs").rglob("*.jpg"))[0]
    ev = VisualAidsDetector().analyze(Media.open(p), Context())
    assert set(ev.views) == NAMES and ev.score is None
