"""Tests for the Stable Diffusion invisible-watermark detector (DWT-DCT / DWT-DCT-SVD)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.provenance.watermark import dwtdct as W
from veriscope.detectors.provenance.watermark.detector import WatermarkDetector

DATA = Path(__file__).resolve().parents[2] / "data" / "watermark"
BY_KEY = {p.key: p for p in W.PAYLOADS}

# fixture file -> (payload, method, reading); written by the reference package (make_fixtures.py)
FIXTURES = {
    "ref_sd1_dwtdct_u8.png": ("sd1", "dwtDct", "u8_bgr"),
    "ref_sd2_dwtdct_u8.png": ("sd2", "dwtDct", "u8_bgr"),
    "ref_sdxl_dwtdct_f32bgr.png": ("sdxl", "dwtDct", "f32_bgr"),
    "ref_sdxl_dwtdct_f32rgb.png": ("sdxl", "dwtDct", "f32_rgb"),
    "ref_sd2_dwtdctsvd_u8.png": ("sd2", "dwtDctSvd", "u8_bgr"),
}


def _png(tmp_path: Path, rgb: np.ndarray, name: str = "img.png") -> Path:
    p = tmp_path / name
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(p)
    return p


def _analyze(path: Path) -> Evidence:
    return WatermarkDetector().analyze(Media.open(path), Context())


def _astronaut(y: int = 128, x: int = 128, size: int = 256) -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(data.astronaut()[y:y + size, x:x + size])


def _colour_noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A textured, saturated synthetic image (no dependency on sample data)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    im = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 12, size=(h, w, 3))
    return np.clip(np.asarray(im, dtype=np.float64) + noise, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- payload table
def test_payload_table():
    assert set(BY_KEY) == {"sd1", "sd2", "sdxl"}
    assert BY_KEY["sd1"].length == 136 and BY_KEY["sd1"].data == b"StableDiffusionV1"
    assert BY_KEY["sd2"].length == 32 and BY_KEY["sd2"].data == b"SDV2"
    assert BY_KEY["sd2"].bits[:8] == (0, 1, 0, 1, 0, 0, 1, 1)  # 'S' = 0x53, MSB first
    sdxl = BY_KEY["sdxl"]
    assert sdxl.length == 48
    assert int("".join(map(str, sdxl.bits)), 2) == 0xB3EC907BB19E
    for p in W.PAYLOADS:
        assert p.method == "dwtDct" and p.source and p.meaning
        assert set(p.readings) <= set(W.READINGS)


def test_thresholds_meet_fpr_target():
    for p in W.PAYLOADS:
        t = W.threshold_for(p)
        k, n = t["min_matching_bits"], p.length
        assert W.binomial_tail(n, k) * t["tests"] <= W.FPR_TARGET_PER_PAYLOAD
        assert W.binomial_tail(n, k - 1) > t["alpha_per_test"]  # smallest such k
        assert 0.5 < t["accuracy"] < 1.0
    assert W.binomial_tail(32, 32) == pytest.approx(2.0**-32)
    assert W.binomial_tail(10, 0) == 1.0


def test_aggregate_tie_reads_as_one():
    votes = np.array([1, 0, 0, 0, 1, 1], dtype=np.uint8)  # bit0: 1,0,1 ; bit1: 0,0,1 ; len 2
    bits, mean = W.aggregate(votes, 2)
    assert list(bits) == [1, 0]
    bits, _ = W.aggregate(np.array([1, 0], dtype=np.uint8), 1)  # mean 0.5 -> 1 (255*0.5 > 127)
    assert list(bits) == [1]
    with pytest.raises(ValueError):
        W.aggregate(np.zeros(3, dtype=np.uint8), 4)


def test_strips_give_the_full_image_result():
    rgb = _colour_noise(203, 157, seed=5)  # LL block rows do not fill the last strip
    for method in W.METHODS:
        for reading in W.READINGS:
            a = W.block_votes(rgb, method, reading, strip_rows=8)
            b = W.block_votes(rgb, method, reading, strip_rows=4096)
            assert a.size == W.n_blocks(203, 157) and np.array_equal(a, b)
    with pytest.raises(ValueError):
        W.block_votes(rgb, "dwtDct", strip_rows=12)


# --------------------------------------------------------------------------- round trips
ROUND_TRIPS = [(p.key, p.method, r) for p in W.PAYLOADS for r in p.readings] + \
              [(p.key, "dwtDctSvd", "u8_bgr") for p in W.PAYLOADS]


@pytest.mark.parametrize("key,method,reading", ROUND_TRIPS)
def test_round_trip_own_encoder(key, method, reading):
    p = BY_KEY[key]
    cover = _colour_noise(320, 384, seed=1)
    marked = W.embed_like(cover, p, reading, method)
    assert marked.shape == cover.shape and marked.dtype == np.uint8
    bits = W.decode(marked, p.length, method, reading)
    assert W.bit_accuracy(bits, p.bits) >= 0.95
    scored = W.score_image(marked)
    hit = [r for r in scored["results"] if r["payload"] == key and r["detected"]]
    assert hit, scored
    # the unmarked cover does not carry it
    assert not any(r["detected"] for r in W.score_image(cover)["results"])


def test_round_trip_through_detector(tmp_path):
    cover = _astronaut(256, 256)
    path = _png(tmp_path, W.embed_like(cover, BY_KEY["sd1"]))
    ev = _analyze(path)
    assert ev.label == "synthetic" and ev.score == pytest.approx(0.97)
    assert ev.findings[0].severity == "high" and ev.findings[0].code == "watermark_sd1"
    assert "reference scripts embed this mark" in ev.findings[0].message
    assert ev.data["matched_payload"] == "sd1"
    assert {"sd1", "sd2", "sdxl"} <= set(ev.data["thresholds"])
    json.dumps(ev.to_dict())  # JSON-safe
    ev0 = _analyze(_png(tmp_path, cover, "cover.png"))
    assert ev0.score == 0.0 and ev0.label == "no_evidence"
    assert ev0.findings[0].code == "watermark_not_found"
    assert len(ev0.data["accuracies"]) == sum(len(W.payload_tests(p)) for p in W.PAYLOADS)


def test_odd_sizes_and_alpha(tmp_path):
    p = BY_KEY["sdxl"]
    cover = _colour_noise(263, 301, seed=2)  # not multiples of 4 or 8
    marked = W.embed_like(cover, p, "f32_bgr")
    assert W.bit_accuracy(W.decode(marked, p.length, "dwtDct", "f32_bgr"), p.bits) >= 0.95
    rgba = np.dstack([marked, np.full(marked.shape[:2], 255, np.uint8)])
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    ev = _analyze(path)
    assert ev.label == "synthetic" and ev.data["matched_payload"] == "sdxl"


def test_svd_finding_says_method_is_unusual(tmp_path):
    path = _png(tmp_path, W.embed_like(_colour_noise(256, 256, 3), BY_KEY["sd2"], "u8_bgr",
                                       "dwtDctSvd"))
    ev = _analyze(path)
    assert ev.label == "synthetic"
    f = ev.findings[0]
    assert f.data["method"] == "dwtDctSvd" and "does not use" in f.message


# --------------------------------------------------------------------------- reference interop
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_reference_fixtures_decode(name):
    key, method, reading = FIXTURES[name]
    p = BY_KEY[key]
    rgb = np.asarray(Image.open(DATA / name).convert("RGB"))
    acc = W.bit_accuracy(W.decode(rgb, p.length, method, reading), p.bits)
    assert acc >= W.threshold_for(p)["accuracy"]
    assert acc >= 0.95
    ev = _analyze(DATA / name)
    assert ev.label == "synthetic" and ev.score == pytest.approx(0.97)
    assert ev.data["matched_payload"] == key


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_own_encoder_reproduces_reference_pixels(name):
    """Our encoder applied to the same cover gives the reference package's pixels exactly."""
    key, method, reading = FIXTURES[name]
    cover = _astronaut(128, 128)  # the fixtures' cover (see make_fixtures.py)
    ours = W.embed_like(cover, BY_KEY[key], reading, method)
    ref = np.asarray(Image.open(DATA / name).convert("RGB"))
    diff = np.abs(ours.astype(int) - ref.astype(int))
    if method == "dwtDct":
        assert diff.max() == 0
    else:  # SVD path: float rounding may move a rare value across an integer
        assert diff.max() <= 1 and np.mean(diff > 0) < 1e-3


def test_reference_package_live():
    """Only where the reference package imports (it is not a project dependency)."""
    iw = pytest.importorskip("imwatermark")
    rgb = _colour_noise(256, 320, seed=4)
    for p in W.PAYLOADS:
        for method in W.METHODS:
            enc = iw.WatermarkEncoder()
            enc.set_watermark("bits", list(p.bits))
            ref = enc.encode(np.ascontiguousarray(rgb[:, :, ::-1]), method)
            assert W.bit_accuracy(W.decode(ref, p.length, method, "u8_bgr", rgb_input=False),
                                  p.bits) >= 0.95
            dec = iw.WatermarkDecoder("bits", p.length)
            ours = W.embed(np.ascontiguousarray(rgb[:, :, ::-1]), p.bits, method)
            ref_bits = np.asarray(dec.decode(ours, method), dtype=np.uint8)
            assert np.array_equal(ref_bits, W.decode(ours, p.length, method, "u8_bgr",
                                                     rgb_input=False))


# --------------------------------------------------------------------------- real photos
REAL = [
    "pristine-kodak24-cbsd68-mcmaster/kodak24/kodim05.png",
    "pristine-kodak24-cbsd68-mcmaster/cbsd68/101085.png",
    "pristine-kodak24-cbsd68-mcmaster/mcmaster/01.png",
    "exif-samples-camera-jpegs/exif-org/canon-ixus.jpg",
    "exif-samples-camera-jpegs/gps/DSCN0010.jpg",
    "noso-copymove/01.png",
]


@pytest.mark.shared
@pytest.mark.parametrize("rel", REAL)
def test_real_photos_not_detected(shared_data, rel):
    path = shared_data / rel
    assert path.is_file(), path
    ev = _analyze(path)
    assert ev.applicable and ev.error is None
    assert ev.score == 0.0 and ev.label == "no_evidence", ev.findings
    assert all(not a["detected"] for a in ev.data["accuracies"])


@pytest.mark.shared
def test_real_photo_marked_then_detected(shared_data):
    rgb = np.asarray(Media.open(shared_data / REAL[1]).rgb())
    marked = W.embed_like(rgb, BY_KEY["sd2"])
    assert any(r["payload"] == "sd2" and r["detected"]
               for r in W.score_image(marked)["results"])


# --------------------------------------------------------------------------- robustness
def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_svd_mark_survives_jpeg90():
    """dwtDctSvd usually survives JPEG q90 (benchmark: TPR about 100%); dwtDct does not, so
    it is not tested here."""
    rgb = np.asarray(Image.open(DATA / "ref_sd2_dwtdctsvd_u8.png").convert("RGB"))
    again = _jpeg(rgb, 90)
    assert any(r["payload"] == "sd2" and r["method"] == "dwtDctSvd" and r["detected"]
               for r in W.score_image(again)["results"])


# --------------------------------------------------------------------------- odd input
def test_too_small_not_applicable(tmp_path):
    path = _png(tmp_path, _colour_noise(40, 40))
    det = WatermarkDetector()
    m = Media.open(path)
    assert W.n_blocks(40, 40) < 32
    reason = det.applicable(m)
    assert reason and "too small" in reason
    ev = det.analyze(m, Context())
    assert ev.applicable is False and "too small" in ev.reason


def test_small_image_skips_long_payload(tmp_path):
    h, w = 64, 80  # 8 x 10 = 80 blocks: enough for 32 and 48 bits, not 136
    assert 48 <= W.n_blocks(h, w) < 136
    ev = _analyze(_png(tmp_path, _colour_noise(h, w)))
    assert ev.applicable
    assert [s["payload"] for s in ev.data["skipped_payloads"]] == ["sd1"]
    assert {a["payload"] for a in ev.data["accuracies"]} == {"sd2", "sdxl"}


def test_grayscale_and_flat_images(tmp_path):
    g = tmp_path / "gray.png"
    Image.fromarray(_colour_noise(200, 200)[..., 0], "L").save(g)
    flat = _png(tmp_path, np.full((300, 300, 3), 200, np.uint8), "flat.png")
    for path in (g, flat):
        ev = _analyze(path)
        assert ev.score == 0.0 and ev.label == "no_evidence"


def test_embed_rejects_bad_input():
    with pytest.raises(ValueError):
        W.embed(np.zeros((32, 32, 3), np.uint8), BY_KEY["sd1"].bits)
    with pytest.raises(ValueError):
        W.embed(np.zeros((256, 256), np.uint8), BY_KEY["sd2"].bits)
    with pytest.raises(ValueError):
        W.decode(np.zeros((256, 256, 3), np.uint8), 32, "rivaGan")


def test_detector_attributes():
    d = WatermarkDetector
    assert d.name == "watermark" and d.version == "1.0.0"
    assert d.modalities == ("image",) and d.requires == ("pywt", "cv2")
    assert d.cannot_tell
