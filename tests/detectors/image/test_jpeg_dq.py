"""jpeg_dq (aligned double quantization) and jpeg_ndq (non-aligned double JPEG)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from veriscope.core.media import Media
from veriscope.core.metrics import pixel_f1
from veriscope.detectors.base import Context
from veriscope.detectors.image.jpeg_dq import JpegDQDetector, dct_blocks, jpeg_luma
from veriscope.detectors.image.jpeg_ndq import JpegNDQDetector
from veriscope.synth import forgeries as F


def textured(h: int, w: int, seed: int) -> np.ndarray:
    """A photo-like RGB texture: 1/f noise per channel (rich DCT statistics, no data file)."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    f = np.sqrt(fy ** 2 + fx ** 2)
    f[0, 0] = 1.0
    chans = [np.real(np.fft.ifft2((rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / f))
             for _ in range(3)]
    a = np.stack(chans, -1)
    a = (a - a.mean()) / a.std() * 40 + 120
    return np.clip(a, 0, 255).astype(np.uint8)


def write(tmp_path, name: str, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return Media.open(p)


def run(det, media):
    reason = det.applicable(media)
    if reason is not None:
        return None, reason
    return det.analyze(media, Context()), None


def check_evidence(ev):
    assert ev.score is None or 0.0 <= ev.score <= 1.0
    assert ev.data.get("reliability", {}).get("level") in ("high", "medium", "low")
    assert any(f.severity == "info" for f in ev.findings)
    if ev.heatmap is not None:
        assert ev.heatmap.dtype == np.float32 and ev.heatmap.ndim == 2
        assert 0.0 <= float(ev.heatmap.min()) and float(ev.heatmap.max()) <= 1.0


# ------------------------------------------------------------------ coefficient reading


def test_recomputed_dct_matches_quantization_lattice(tmp_path):
    """The documented route (Pillow YCbCr decode + block DCT / table) gives integers."""
    img = textured(160, 200, 1)
    for q in (50, 75, 90):
        m = write(tmp_path, f"q{q}.jpg", F.jpeg_bytes(img, q))
        lum = jpeg_luma(m)
        c = dct_blocks(lum.y).reshape(-1, 64) / lum.qtable
        err = np.abs(c - np.rint(c))
        assert err.mean() < 0.05, (q, err.mean())
        # not true on a shifted grid (low frequencies: the high ones are ~0 everywhere)
        from veriscope.formats.jpeg import ZIGZAG

        low = list(ZIGZAG[:10])
        c4 = dct_blocks(lum.y, 4, 4).reshape(-1, 64)[:, low] / lum.qtable[low]
        assert np.abs(c4 - np.rint(c4)).mean() > 0.2


# ------------------------------------------------------------------ jpeg_dq


@pytest.mark.parametrize("q1,q2,seed", [(60, 90, 0), (75, 95, 1)])
def test_dq_localizes_aligned_double_jpeg_splice(tmp_path, q1, q2, seed):
    rng = np.random.default_rng(seed)
    f = F.double_jpeg_splice(textured(320, 384, seed), textured(320, 384, seed + 50), rng,
                             q1, q2, aligned=True)
    ev, _ = run(JpegDQDetector(), write(tmp_path, "dj.jpg", f.jpeg_bytes))
    check_evidence(ev)
    assert ev.heatmap.shape == f.mask.shape
    assert pixel_f1(ev.heatmap, f.mask, 0.5) >= 0.6
    assert ev.score >= 0.5 and ev.label == "manipulated"
    assert ev.data["reliability"]["level"] == "high"
    region = [x for x in ev.findings if x.code == "jpeg_dq_region"]
    assert region and region[0].severity in ("medium", "high")
    x, y, w, h = region[0].data["bbox"]
    assert f.mask[y:y + h, x:x + w].sum() > 0.8 * f.mask.sum()
    assert ev.boxes
    # the estimated primary steps are the ones of quality q1 on the used frequencies
    from veriscope.formats.jpeg import ijg_scaled_table

    t1 = ijg_scaled_table(q1)
    used = [fr for fr in ev.data["frequencies"] if fr["used"]]
    assert len(used) >= 5
    assert np.mean([fr["q1"] == t1[fr["k"]] for fr in used]) >= 0.7


def test_dq_untouched_jpegs_not_flagged(tmp_path):
    img = textured(256, 320, 7)
    det = JpegDQDetector()
    single, _ = run(det, write(tmp_path, "s.jpg", F.jpeg_bytes(img, 85)))
    check_evidence(single)
    assert single.score == 0.0 and single.label == "no_evidence"
    assert single.data["reliability"]["level"] == "low"
    first = F.decode_jpeg(F.jpeg_bytes(img, 60))
    resaved, _ = run(det, write(tmp_path, "d.jpg", F.jpeg_bytes(first, 90)))
    check_evidence(resaved)
    assert resaved.data["dq_gain"] > 1.0  # the re-save itself is measured ...
    assert resaved.score < 0.5  # ... but is not evidence of manipulation
    assert resaved.label == "no_evidence"


def test_dq_shifted_splice_is_not_its_job(tmp_path):
    rng = np.random.default_rng(3)
    f = F.double_jpeg_splice(textured(256, 256, 3), textured(256, 256, 4), rng, 60, 90,
                             aligned=False)
    ev, _ = run(JpegDQDetector(), write(tmp_path, "dj.jpg", f.jpeg_bytes))
    assert ev.score < 0.5


def test_dq_and_ndq_not_applicable_to_png(tmp_path):
    p = tmp_path / "x.png"
    Image.fromarray(textured(64, 64, 0)).save(p)
    m = Media.open(p)
    for det in (JpegDQDetector(), JpegNDQDetector()):
        assert det.applicable(m) == "not applicable: not a JPEG file"
        ev = det.analyze(m, Context())
        assert ev.applicable is False and ev.reason == "not applicable: not a JPEG file"


# ------------------------------------------------------------------ jpeg_ndq


@pytest.mark.parametrize("q1,q2,seed", [(60, 90, 1), (70, 95, 2)])
def test_ndq_localizes_shifted_double_jpeg_splice(tmp_path, q1, q2, seed):
    rng = np.random.default_rng(seed)
    f = F.double_jpeg_splice(textured(320, 384, seed), textured(320, 384, seed + 50), rng,
                             q1, q2, aligned=False)
    ev, _ = run(JpegNDQDetector(), write(tmp_path, "dj.jpg", f.jpeg_bytes))
    check_evidence(ev)
    dy, dx = f.params["shift"]
    assert ev.data["grid_candidate"] == [(8 - dy) % 8, (8 - dx) % 8]
    assert pixel_f1(ev.heatmap, f.mask, 0.5) >= 0.6
    assert ev.score >= 0.5 and ev.label == "manipulated"
    assert any(x.code == "jpeg_ndq_region" for x in ev.findings)


def test_ndq_untouched_jpegs_not_flagged(tmp_path):
    img = textured(256, 320, 11)
    det = JpegNDQDetector()
    for name, data in (("single.jpg", F.jpeg_bytes(img, 80)),
                       ("aligned.jpg", F.jpeg_bytes(F.decode_jpeg(F.jpeg_bytes(img, 60)), 90))):
        ev, _ = run(det, write(tmp_path, name, data))
        check_evidence(ev)
        assert ev.score == 0.0, name
        assert ev.data["grid_z"] < 8
    first = F.decode_jpeg(F.jpeg_bytes(img, 60))
    ev, _ = run(det, write(tmp_path, "shifted.jpg",
                           F.jpeg_bytes(np.ascontiguousarray(first[5:, 3:]), 90)))
    check_evidence(ev)
    assert ev.data["grid_candidate"] == [3, 5]  # the re-save is measured ...
    assert ev.score < 0.5  # ... but not called a manipulation


# ------------------------------------------------------------------ robustness


def _odd_files(tmp_path) -> dict:
    import cv2

    rgb = textured(120, 136, 5)
    out = {}

    def save(name, im, **kw):
        b = io.BytesIO()
        im.save(b, **kw)
        out[name] = b.getvalue()

    save("gray.jpg", Image.fromarray(rgb).convert("L"), format="JPEG", quality=80)
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), format="JPEG", quality=80)
    save("progressive.jpg", Image.fromarray(rgb), format="JPEG", quality=80, progressive=True)
    save("restart.jpg", Image.fromarray(rgb), format="JPEG", quality=80,
         restart_marker_blocks=3)
    save("444.jpg", Image.fromarray(rgb), format="JPEG", quality=80, subsampling=0)
    save("422.jpg", Image.fromarray(rgb), format="JPEG", quality=80, subsampling=1)
    ok, b411 = cv2.imencode(".jpg", rgb[..., ::-1].copy(),
                            [cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                             cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411])
    out["411.jpg"] = b411.tobytes()
    save("tiny.jpg", Image.fromarray(rgb[:12, :20]), format="JPEG", quality=90)
    save("thin.jpg", Image.fromarray(rgb[:9, :]), format="JPEG", quality=90)
    save("odd.jpg", Image.fromarray(rgb[:101, :77]), format="JPEG", quality=70)
    save("flat.jpg", Image.fromarray(np.full((96, 96, 3), 128, np.uint8)), format="JPEG")
    save("black.jpg", Image.fromarray(np.zeros((96, 96, 3), np.uint8)), format="JPEG")
    save("q100.jpg", Image.fromarray(rgb), format="JPEG", quality=100)
    save("rgba.png", Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])),
         format="PNG")
    save("gray16.png", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), format="PNG")
    full = F.jpeg_bytes(rgb, 80)
    out["truncated.jpg"] = full[: len(full) // 2]
    return out


@pytest.mark.parametrize("det_cls", [JpegDQDetector, JpegNDQDetector])
def test_robust_on_odd_inputs(tmp_path, det_cls):
    det = det_cls()
    for name, data in _odd_files(tmp_path).items():
        m = write(tmp_path, name, data)
        ev, reason = run(det, m)
        if name.endswith(".png"):
            assert reason == "not applicable: not a JPEG file"
            continue
        check_evidence(ev)
        assert ev.score is None or ev.score < 0.5, name
        if name in ("cmyk.jpg", "truncated.jpg"):
            assert ev.score is None and ev.label == "inconclusive"


def test_grayscale_double_jpeg_splice_dq(tmp_path):
    rng = np.random.default_rng(9)
    host = Image.fromarray(textured(256, 256, 9)).convert("L")
    b = io.BytesIO()
    host.save(b, "JPEG", quality=60)
    first = np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("RGB"))
    f = F.splice(first, textured(256, 256, 19), rng)
    b2 = io.BytesIO()
    Image.fromarray(f.image).convert("L").save(b2, "JPEG", quality=90)
    ev, _ = run(JpegDQDetector(), write(tmp_path, "g.jpg", b2.getvalue()))
    assert pixel_f1(ev.heatmap, f.mask, 0.5) >= 0.5 and ev.score >= 0.5


# ------------------------------------------------------------------ real data


def test_real_photos(shared_data, tmp_path):
    """Camera JPEGs are not flagged; a splice into a real photo (kodak) is localized."""
    cams = sorted((shared_data / "exif-samples-camera-jpegs" / "exif-org").glob("*.jpg"))[:6]
    assert cams
    for p in cams:
        m = Media.open(p)
        for det in (JpegDQDetector(), JpegNDQDetector()):
            ev = det.analyze(m, Context())
            check_evidence(ev)
            assert ev.score is not None and ev.score < 0.5, (p.name, det.name)
    kodak = sorted((shared_data / "pristine-kodak24-cbsd68-mcmaster" / "kodak24").glob("*.png"))
    host = np.asarray(Image.open(kodak[4]).convert("RGB"))
    donor = np.asarray(Image.open(kodak[12]).convert("RGB"))
    f = F.double_jpeg_splice(host, donor, np.random.default_rng(0), 70, 90, aligned=True)
    ev = JpegDQDetector().analyze(write(tmp_path, "k.jpg", f.jpeg_bytes), Context())
    assert pixel_f1(ev.heatmap, f.mask, 0.5) >= 0.5 and ev.score >= 0.5


def test_large_image_is_analysed_on_a_central_window(tmp_path, monkeypatch):
    """Above MAX_ANALYSED_PIXELS a central, grid-aligned window is analysed (no downscale);
    maps keep the input size, and the window is reported."""
    import veriscope.detectors.image.jpeg_dq as J

    monkeypatch.setattr(J, "MAX_ANALYSED_PIXELS", 100_000)
    monkeypatch.setattr(J, "HEATMAP_FULL_MAX_PIXELS", 1_000)  # block-resolution maps too
    f = F.double_jpeg_splice(textured(400, 480, 1), textured(400, 480, 2),
                             np.random.default_rng(1), 60, 90, aligned=True)
    m = write(tmp_path, "big.jpg", f.jpeg_bytes)
    cy, cx, h, w = J.analysis_window(m.height, m.width)
    assert h * w <= 100_000 and cy % 8 == 0 and cx % 8 == 0
    ev = JpegDQDetector().analyze(m, Context())
    assert "analysed_window" in {x.code for x in ev.findings}
    assert ev.heatmap.shape == (50, 60)  # one value per 8x8 block of the whole image
    from veriscope.core.maps import map_to_u8

    hm = map_to_u8(ev.heatmap, m.width, m.height) / 255.0
    win = (slice(cy, cy + h), slice(cx, cx + w))
    assert pixel_f1(hm[win], f.mask[win], 0.5) >= 0.6
