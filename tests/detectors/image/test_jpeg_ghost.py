"""jpeg_ghost (Farid 2009 JPEG ghosts, DCT-domain re-quantization)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from test_jpeg_dq import _odd_files, check_evidence, textured, write

from veriscope.core.media import Media
from veriscope.core.metrics import pixel_f1
from veriscope.detectors.base import Context
from veriscope.detectors.image.jpeg_ghost import JpegGhostDetector
from veriscope.synth import forgeries as F


def png(img: np.ndarray) -> bytes:
    b = io.BytesIO()
    Image.fromarray(img).save(b, "PNG")
    return b.getvalue()


def analyze(tmp_path, name, data):
    return JpegGhostDetector().analyze(write(tmp_path, name, data), Context())


@pytest.mark.parametrize("q1,q2,aligned,seed", [(60, 90, True, 0), (70, 95, False, 1)])
def test_ghost_localizes_double_jpeg_splice(tmp_path, q1, q2, aligned, seed):
    rng = np.random.default_rng(seed)
    f = F.double_jpeg_splice(textured(320, 384, seed), textured(320, 384, seed + 50), rng,
                             q1, q2, aligned=aligned)
    ev = analyze(tmp_path, "dj.jpg", f.jpeg_bytes)
    check_evidence(ev)
    assert ev.heatmap.shape == f.mask.shape
    assert pixel_f1(ev.heatmap, f.mask, 0.5) >= 0.6
    assert ev.score >= 0.5 and ev.label == "manipulated"
    assert abs(ev.data["ghost_quality"] - q1) <= 2  # the ghost sits at the first quality
    assert ev.data["reliability"]["level"] == "high"
    if not aligned:
        dy, dx = f.params["shift"]
        assert ev.data["grid"] == [(8 - dy) % 8, (8 - dx) % 8]
    region = [x for x in ev.findings if x.code == "jpeg_ghost_region"]
    assert region and region[0].severity in ("medium", "high")


def test_ghost_on_png_saved_after_a_jpeg_splice(tmp_path):
    rng = np.random.default_rng(4)
    first = F.decode_jpeg(F.jpeg_bytes(textured(320, 320, 4), 70))
    f = F.splice(first, textured(320, 320, 40), rng)
    ev = analyze(tmp_path, "s.png", png(f.image))
    check_evidence(ev)
    assert pixel_f1(ev.heatmap, f.mask, 0.5) >= 0.6
    assert ev.score >= 0.5
    assert ev.data["reliability"]["level"] == "medium"  # history inferred, not a JPEG file
    assert abs(ev.data["ghost_quality"] - 70) <= 2


def test_ghost_untouched_images_not_flagged(tmp_path):
    img = textured(256, 320, 8)
    cases = {
        "single.jpg": F.jpeg_bytes(img, 80),
        "resaved.jpg": F.jpeg_bytes(F.decode_jpeg(F.jpeg_bytes(img, 60)), 90),
        "pristine.png": png(img),
        "jpeg_then.png": png(F.decode_jpeg(F.jpeg_bytes(img, 75))),
    }
    for name, data in cases.items():
        ev = analyze(tmp_path, name, data)
        check_evidence(ev)
        assert ev.score is not None and ev.score < 0.5, name
    # a never-compressed PNG has no JPEG grid: nothing to compare against
    ev = analyze(tmp_path, "p.png", cases["pristine.png"])
    assert ev.score == 0.0 and ev.data["reliability"]["level"] == "low"


def test_ghost_robust_on_odd_inputs(tmp_path):
    det = JpegGhostDetector()
    for name, data in _odd_files(tmp_path).items():
        m = write(tmp_path, name, data)
        assert det.applicable(m) is None
        ev = det.analyze(m, Context())
        check_evidence(ev)
        assert ev.score is None or ev.score < 0.5, name
        if name == "truncated.jpg":
            assert ev.score is None and ev.label == "inconclusive"


def test_ghost_real_photos(shared_data, tmp_path):
    cams = sorted((shared_data / "exif-samples-camera-jpegs" / "exif-org").glob("*.jpg"))[:6]
    assert cams
    for p in cams:
        ev = JpegGhostDetector().analyze(Media.open(p), Context())
        check_evidence(ev)
        assert ev.score is not None and ev.score < 0.5, p.name
    kodak = sorted((shared_data / "pristine-kodak24-cbsd68-mcmaster" / "kodak24").glob("*.png"))
    host = np.asarray(Image.open(kodak[2]).convert("RGB"))
    donor = np.asarray(Image.open(kodak[9]).convert("RGB"))
    f = F.double_jpeg_splice(host, donor, np.random.default_rng(1), 60, 85, aligned=False)
    ev = analyze(tmp_path, "k.jpg", f.jpeg_bytes)
    assert pixel_f1(ev.heatmap, f.mask, 0.5) >= 0.5 and ev.score >= 0.5
