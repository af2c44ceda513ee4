"""The fast paths of issue 20 (speed) give the results of the plain ones they replaced.

Each test compares a fast path with a straightforward reference written here (the code it
replaced), so that a wrong shortcut fails even when it is still fast."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import save, smooth_image
from PIL import Image

from veriscope.core.maps import map_to_u8


# ---------------------------------------------------------------- maps and fusion
def _map_to_u8_reference(m, width, height):
    import cv2

    m = np.asarray(m, np.float32)
    if m.shape != (height, width):
        m = cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(np.nan_to_num(m, nan=0.0) * 255.0), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("shape,size", [((40, 50), (200, 160)), ((33, 47), (47, 33)),
                                        ((7, 9), (640, 481))])
def test_map_to_u8_equals_round_half_even_of_the_resized_map(shape, size):
    rng = np.random.default_rng(3)
    m = rng.random(shape).astype(np.float32) * 1.4 - 0.2  # values outside [0, 1] too
    m[0, 0] = np.nan
    m[1, 1] = 0.5 / 255  # exact halves: rounding must be to even, as np.rint
    m[1, 2] = 1.5 / 255
    got = map_to_u8(m, *size)
    assert got.dtype == np.uint8 and got.shape == (size[1], size[0])
    ref = _map_to_u8_reference(m, *size)
    if shape == (size[1], size[0]):
        assert np.array_equal(got, ref)
    else:  # NaN spreads through the bilinear resize in both; compare where it did not
        assert np.array_equal(got[np.isfinite(cv_resized(m, size))],
                              ref[np.isfinite(cv_resized(m, size))])


def cv_resized(m, size):
    import cv2

    return cv2.resize(np.asarray(m, np.float32), size, interpolation=cv2.INTER_LINEAR)


def test_fused_map_running_mean_equals_the_weighted_mean():
    from veriscope.core.evidence import Evidence
    from veriscope.core.fusion import fuse_map_arrays, fuse_maps, reliability_of

    rng = np.random.default_rng(0)
    evs = []
    for i, (shape, rel) in enumerate([((30, 40), "high"), ((60, 80), "low"), ((15, 20), None)]):
        evs.append(Evidence(f"d{i}", "1", score=float(rng.random()),
                            heatmap=rng.random(shape).astype(np.float32),
                            data={"reliability": {"level": rel}} if rel else {}))
    got = fuse_maps(evs, (80, 60))
    ref = fuse_map_arrays([(map_to_u8(e.heatmap, 80, 60).astype(np.float32) / 255.0, e.score,
                            reliability_of(e)) for e in evs])
    assert got.shape == (60, 80)
    assert np.abs(got - ref).max() < 1e-6


# ---------------------------------------------------------------- watermark decoding
def _block_votes_reference(image, method, reading):
    """The decoder as it was: pywt.dwt2 on the U channel of a reversed / float copy."""
    import cv2
    import pywt

    from veriscope.detectors.provenance.watermark import dwtdct as W

    a = image[..., ::-1] if reading.endswith("_bgr") else image
    a = np.ascontiguousarray(a, np.float32 if reading.startswith("f32") else np.uint8)
    h4, w4 = a.shape[0] // 4 * 4, a.shape[1] // 4 * 4
    u = cv2.cvtColor(a[:h4, :w4], cv2.COLOR_BGR2YUV)[:, :, 1]
    ca = pywt.dwt2(u, "haar")[0]
    blocks = W._blocks(ca)
    if method == "dwtDct":
        flat = blocks.reshape(len(blocks), 16)
        pos = np.argmax(np.abs(flat[:, 1:]), axis=1) + 1
        vals = np.abs(flat[np.arange(len(flat)), pos])
    else:
        d = W._dct_matrix().astype(blocks.dtype)
        vals = np.linalg.svd(d @ blocks @ d.T, compute_uv=False)[:, 0]
    return (np.mod(vals, W.SCALE) > 0.5 * W.SCALE).astype(np.uint8)


def test_haar_ll_is_bit_identical_to_pywt():
    import pywt

    from veriscope.detectors.provenance.watermark.dwtdct import haar_ll

    rng = np.random.default_rng(1)
    for dtype in (np.uint8, np.float32, np.float64):
        x = rng.integers(0, 256, (64, 98)).astype(dtype)
        if dtype != np.uint8:
            x = x + rng.random(x.shape).astype(dtype)
        ref = pywt.dwt2(x, "haar")[0]
        got = haar_ll(x)
        assert got.dtype == ref.dtype and np.array_equal(got, ref)


def test_shared_decoding_pass_gives_the_votes_of_the_reference_decoder():
    from veriscope.detectors.provenance.watermark import dwtdct as W

    rng = np.random.default_rng(2)
    img = smooth_image(200, 264, seed=5)
    img = np.clip(img.astype(np.int16) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
    marked = W.embed_like(img, W.PAYLOADS[0])
    tests = [("dwtDct", "u8_bgr"), ("dwtDct", "f32_bgr"), ("dwtDct", "f32_rgb"),
             ("dwtDctSvd", "u8_bgr")]
    for im in (img, marked):
        got = W.votes_for_tests(im, tests, strip_rows=64)
        for t in tests:
            assert np.array_equal(got[t], _block_votes_reference(im, *t)), t
    b = W._blocks(rng.random((40, 40)) * 255)
    assert np.allclose(W._top_singular(b), np.linalg.svd(b, compute_uv=False)[:, 0],
                       rtol=1e-12, atol=1e-9)


# ---------------------------------------------------------------- aids and jpeg_grid helpers
def test_percentile_u8_equals_numpy():
    from veriscope.detectors.image.aids import percentile_u8

    rng = np.random.default_rng(4)
    for _ in range(200):
        a = rng.integers(0, int(rng.integers(1, 256)) + 1, int(rng.integers(1, 400)))
        a = a.astype(np.uint8)
        for q in (0, 0.5, 37.5, 99, 99.5, 100):
            assert percentile_u8(a, q) == pytest.approx(float(np.percentile(a, q)), abs=1e-9)


def _clipped_reference(rgb, cshape, cell=8, lo=1, hi=254, share_max=0.25):
    a = rgb if rgb.ndim == 3 else rgb[..., None]
    clip = np.any((a <= lo) | (a >= hi), axis=2)
    h, w = clip.shape
    out = np.zeros(cshape, bool)
    for cy in range(cshape[0]):
        for cx in range(cshape[1]):
            win = clip[cy * cell:cy * cell + 2 * cell, cx * cell:cx * cell + 2 * cell]
            out[cy, cx] = win.size > 0 and win.mean() >= share_max
    return out


@pytest.mark.parametrize("shape", [(64, 80, 3), (61, 77, 3), (40, 48)])
def test_clipped_cells_equals_the_window_share(shape):
    from veriscope.detectors.image.jpeg_grid import clipped_cells

    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, shape).astype(np.uint8)
    a[: shape[0] // 3] = 255
    a[rng.random(shape[:2]) < 0.2] = 0
    cs = (-(-shape[0] // 8), -(-shape[1] // 8))
    assert np.array_equal(clipped_cells(a, cs), _clipped_reference(a, cs))


# ---------------------------------------------------------------- what Report.write puts on disk
def test_written_maps_are_the_quantized_maps_and_large_views_are_jpeg(tmp_path, monkeypatch):
    import veriscope
    from veriscope.report import document

    monkeypatch.setattr(document, "VIEW_PNG_MAX_PIXELS", 100 * 100)
    img = smooth_image(160, 200, seed=4)
    img[20:60, 20:60] = img[100:140, 140:180]
    rep = veriscope.analyze(save(img, tmp_path / "a.png"), detectors="noise,copy_move,aids")
    out = rep.write(tmp_path / "out").parent
    mapped = [e for e in rep.evidence if e.heatmap is not None and not e.error]
    assert "noise" in [e.name for e in mapped]
    for e in mapped:
        saved = np.asarray(Image.open(out / "maps" / f"{e.name}.png"))
        assert np.array_equal(saved, map_to_u8(e.heatmap, 200, 160))
    fused = np.asarray(Image.open(out / "maps" / "fused.png"))
    assert np.array_equal(fused, map_to_u8(rep.fused_map, 200, 160))
    d = json.loads((out / "report.json").read_text())
    views = {v["name"]: v for e in d["evidence"] for v in e["views"]}
    assert views and all(v["path"].endswith(".jpg") for v in views.values())
    for v in views.values():
        with Image.open(out / v["path"]) as im:
            assert im.format == "JPEG" and im.size == (v["width"], v["height"])
    monkeypatch.setattr(document, "VIEW_PNG_MAX_PIXELS", 10**9)
    rep2 = veriscope.analyze(save(img, tmp_path / "b.png"), detectors="aids")
    out2 = rep2.write(tmp_path / "out2").parent
    assert sorted(p.suffix for p in (out2 / "views").iterdir()) == [".png"] * len(views)


def test_analyze_timings_file_says_where_the_time_went(tmp_path):
    from click.testing import CliRunner

    from veriscope.cli import cli

    p = save(smooth_image(120, 160, seed=1), tmp_path / "a.png")
    t = tmp_path / "t.jsonl"
    r = CliRunner().invoke(cli, ["analyze", str(p), "--detectors", "noise,metadata",
                                 "--out", str(tmp_path / "o"), "--timings", str(t)])
    assert r.exit_code == 0, r.output
    rec = json.loads(t.read_text().splitlines()[-1])
    assert rec["ok"] and rec["path"] == str(p) and rec["setup_s"] >= 0
    ph = rec["phases"]
    for k in ("open", "decode", "detector.noise", "detector.metadata", "fusion",
              "write.maps.png", "write.json", "write.html"):
        assert k in ph and ph[k] >= 0, k
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    r = CliRunner().invoke(cli, ["analyze", str(bad), "--out", str(tmp_path / "o2"),
                                 "--timings", str(t)])
    assert r.exit_code == 1
    rec = json.loads(t.read_text().splitlines()[-1])
    assert rec["ok"] is False and rec["path"] == str(bad)


def _flat_share_reference(rgb, block=4, max_side=1024, tol=2):
    a = rgb if rgb.ndim == 3 else rgb[..., None]
    nby, nbx = a.shape[0] // block, a.shape[1] // block
    if nby == 0 or nbx == 0:
        return 0.0
    sy, sx = max(1, nby // (max_side // block)), max(1, nbx // (max_side // block))
    flat = []
    for by in range(0, nby, sy):
        for bx in range(0, nbx, sx):
            b = a[by * block:(by + 1) * block, bx * block:(bx + 1) * block].astype(np.float64)
            flat.append(bool(np.all(b.max(axis=(0, 1)) - b.min(axis=(0, 1)) <= tol)))
    return float(np.mean(flat))


@pytest.mark.parametrize("shape", [(3, 5, 3), (37, 41, 3), (120, 97), (2100, 90, 3)])
def test_flat_share_equals_the_per_block_test(shape):
    from veriscope.signals.scope import flat_share

    rng = np.random.default_rng(6)
    a = rng.integers(0, 6, shape).astype(np.uint8)
    a[: shape[0] // 2] = 7  # a flat half
    assert flat_share(a) == _flat_share_reference(a)


@pytest.mark.parametrize("shape", [(1, 1), (1, 300), (257, 1), (3000, 17), (480, 640)])
@pytest.mark.parametrize("isal", [True, False])
def test_gray_png_writer_round_trips(tmp_path, shape, isal, monkeypatch):
    import builtins

    from veriscope.core import maps

    if not isal:  # the zlib fallback writes the same pixels
        real_import = builtins.__import__

        def no_isal(name, *a, **k):
            if name.startswith("isal"):
                raise ImportError(name)
            return real_import(name, *a, **k)

        monkeypatch.setattr(builtins, "__import__", no_isal)
    rng = np.random.default_rng(7)
    u = rng.integers(0, 256, shape).astype(np.uint8)
    u[: shape[0] // 2] = 200  # smooth part: the "Up" differences are zero there
    maps.PNG_IDAT_CHUNK = 4096  # several IDAT chunks
    try:
        maps.write_gray_png(tmp_path / "m.png", u)
    finally:
        maps.PNG_IDAT_CHUNK = 1 << 20
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "L" and im.size == (shape[1], shape[0])
        assert np.array_equal(np.asarray(im), u)
    import cv2

    assert np.array_equal(cv2.imread(str(tmp_path / "m.png"), cv2.IMREAD_UNCHANGED), u)
    with pytest.raises(ValueError):
        maps.write_gray_png(tmp_path / "x.png", np.zeros((0, 5), np.uint8))


def test_overlay_png_is_red_with_the_map_as_opacity():
    import base64
    import io

    from veriscope.report.html import _overlay_uri

    m = np.linspace(0, 1, 50 * 40, dtype=np.float32).reshape(40, 50)
    uri = _overlay_uri(m, (50, 40))
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
        rgba = np.asarray(im.convert("RGBA")).astype(int)
    a = np.clip(m * 255.0, 0, 255).astype(np.uint8).astype(int)
    assert np.array_equal(rgba[..., 3], a)
    assert np.all(rgba[..., 0] == 255) and np.all(rgba[..., 2] == 0)
    assert np.array_equal(rgba[..., 1], (255 - a) // 3)


def test_working_copy_made_once_per_size_and_read_only(tmp_path):
    import cv2

    from veriscope.core.media import Media
    from veriscope.detectors.base import working_rgb

    m = Media.open(save(smooth_image(400, 500, seed=2), tmp_path / "w.png"))
    a, s = working_rgb(m, 50_000)
    b, s2 = working_rgb(m, 50_000)
    c, _ = working_rgb(m, 80_000)
    assert a is b and s == s2 and c is not a and not a.flags.writeable
    h, w = m.rgb().shape[:2]
    ref = cv2.resize(m.rgb(), (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
    assert np.array_equal(a, ref)
    full, one = working_rgb(m, 10**9)
    assert full is m.rgb() and one == 1.0
