"""Perturbation suite: spec grammar, pure operations, masks that follow, real files, caching."""

import io

import numpy as np
import pytest
from helpers import save, smooth_image
from PIL import Image

from veriscope.bench import perturb as BP
from veriscope.bench.datasets import Record
from veriscope.core.media import Media, sniff_format
from veriscope.signals import perturb as P


def _marked(h=240, w=320, box=(60, 100, 150, 180)):
    """A smooth image with a saturated red rectangle, and the rectangle's mask."""
    img = smooth_image(h, w, seed=3)
    img[..., 0] = np.minimum(img[..., 0], 120)
    y0, y1, x0, x1 = box
    img[y0:y1, x0:x1] = (255, 0, 0)
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return img, m


def _red(img):
    return (img[..., 0] > 200) & (img[..., 1] < 80) & (img[..., 2] < 80)


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


# ------------------------------------------------------------------ grammar
def test_sweep_and_chain_grammar():
    assert [p.spec for p in P.parse("jpeg:q=95,85,75,65,50")] == [
        "jpeg:q=95", "jpeg:q=85", "jpeg:q=75", "jpeg:q=65", "jpeg:q=50"]
    assert [p.spec for p in P.parse("jpeg:95,60")] == ["jpeg:q=95", "jpeg:q=60"]  # main parameter
    assert P.parse_one("resize:s=0.75+jpeg:q=90").spec == "resize:s=0.75+jpeg:q=90"
    assert [p.spec for p in P.parse("blur:sigma=1,2;social")] == ["blur:sigma=1", "blur:sigma=2",
                                                                 "social"]
    assert P.parse_one("format:png|jpeg").spec == "format:to=swap"
    assert P.parse_one("format:to=jpeg,q=70").spec == "format:to=jpeg,q=70"
    assert P.parse_one("resize:s=0.5..1.5").spec == "resize:s=0.5..1.5"
    # product of two swept steps
    assert len(P.parse("resize:s=0.5,0.8+jpeg:q=90,70")) == 4
    for bad in ["", "jpg:q=5", "jpeg:q=500", "jpeg:q=7.5", "jpeg:q=abc", "social:99", "resize:x=1",
                "format:gif", "resize:s=1.5..0.5", "crop:frac=0"]:
        with pytest.raises(P.SpecError):
            P.parse(bad)
    with pytest.raises(P.SpecError):
        P.parse_one("jpeg:q=90,80")


# ------------------------------------------------------------------ operations
def test_jpeg_is_a_real_jpeg_and_quality_matters():
    img = smooth_image(120, 160)
    dec95, b95 = P.jpeg_encode(img, 95)
    dec40, b40 = P.jpeg_encode(img, 40)
    assert sniff_format(b95[:16]) == "jpeg" and sniff_format(b40[:16]) == "jpeg"
    assert len(b40) < len(b95)
    err95 = np.abs(dec95.astype(int) - img).mean()
    err40 = np.abs(dec40.astype(int) - img).mean()
    assert 0 < err95 < err40
    r = P.parse_one("jpeg:q=40").apply(img)
    assert r.format == "jpeg" and r.file_bytes() == b40 and np.array_equal(r.image, dec40)


@pytest.mark.parametrize("spec", ["resize:s=0.5", "resize:s=1.7", "crop:frac=0.6", "screenshot",
                                  "social:long_side=200", "resize:s=0.63+crop:frac=0.8"])
def test_masks_follow_geometry(spec):
    img, m = _marked()
    r = P.parse_one(spec).apply(img, m, seed=0)
    assert r.mask.shape == r.image.shape[:2]
    assert _iou(_red(r.image), r.mask) > 0.85


def test_crop_keeps_the_centre():
    img, m = _marked()
    out, mm = P.center_crop(img, 0.5, m)
    assert out.shape == (120, 160, 3)
    assert np.array_equal(out, img[60:180, 80:240]) and np.array_equal(mm, m[60:180, 80:240])


def test_resize_uses_area_down_and_cubic_up():
    import cv2

    img = smooth_image(100, 100)
    down, _ = P.resize(img, 0.5)
    up, _ = P.resize(img, 1.5)
    assert np.array_equal(down, cv2.resize(img, (50, 50), interpolation=cv2.INTER_AREA))
    assert np.array_equal(up, cv2.resize(img, (150, 150), interpolation=cv2.INTER_CUBIC))


def test_social_chain_limits_long_side_and_never_enlarges():
    big = np.repeat(np.repeat(smooth_image(75, 100), 16, 0), 16, 1)  # 1200 x 1600
    r = P.parse_one("social").apply(big)
    assert r.image.shape[:2] == (810, 1080) and r.format == "jpeg"
    small = smooth_image(300, 400)
    r2 = P.parse_one("social").apply(small)
    assert r2.image.shape[:2] == (300, 400)
    assert r2.file_bytes() == P.jpeg_encode(small, 80)[1]


def test_screenshot_rescales_by_a_non_integer_factor_and_is_png():
    img = smooth_image(200, 300)
    r = P.parse_one("screenshot").apply(img)
    assert r.image.shape[:2] == (160, 240) and r.format == "png"
    assert sniff_format(r.file_bytes()[:16]) == "png"
    r2 = P.parse_one("screenshot:s=1.25,gamma=1,sharpen=0").apply(img)
    assert r2.image.shape[:2] == (250, 375)


def test_text_overlay_draws_a_caption_band_and_leaves_the_mask():
    img, m = _marked(400, 600)
    r = P.parse_one("text").apply(img, m)
    box = r.applied[0]["overlay_box"]
    assert box["y"] > 300 and box["w"] == 600
    assert np.array_equal(r.image[:box["y"]], img[:box["y"]])  # above the band: untouched
    band = r.image[box["y"]:]
    assert (band == 255).all(axis=2).sum() > 200  # white glyph pixels
    assert np.array_equal(r.mask, m)
    # another caption gives other pixels
    r2 = P.parse_one("text:caption=hello").apply(img)
    assert not np.array_equal(r.image, r2.image)


def test_format_swap_goes_both_ways():
    img = smooth_image(64, 64)
    a = P.parse_one("format").apply(img, src_format="png")
    b = P.parse_one("format:png|jpeg").apply(img, src_format="jpeg")
    assert a.format == "jpeg" and sniff_format(a.file_bytes()[:16]) == "jpeg"
    assert b.format == "png" and np.array_equal(b.image, img)


def test_seeded_noise_and_ranges_are_deterministic():
    img = smooth_image(64, 64)
    p = P.parse_one("noise:sigma=4")
    a, b, c = p.apply(img, seed=1), p.apply(img, seed=1), p.apply(img, seed=2)
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)
    assert abs(np.std(a.image.astype(float) - img) - 4) < 0.6
    q = P.parse_one("jpeg:q=50..95")
    drawn = {q.apply(img, seed=s).applied[0]["q"] for s in range(12)}
    assert len(drawn) > 3 and all(50 <= v <= 95 for v in drawn)
    assert q.apply(img, seed=7).applied == q.apply(img, seed=7).applied
    assert P.gaussian_blur(img, 0).tobytes() == img.tobytes()
    assert np.abs(P.gaussian_blur(img, 2).astype(int) - img).mean() > 0.5


# ------------------------------------------------------------------ files and cache
def test_perturb_file_writes_real_files_without_metadata(tmp_path):
    img, m = _marked()
    src = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    Image.fromarray(img).save(src, "JPEG", quality=92, exif=exif.tobytes())
    assert Image.open(src).getexif().get(0x010F) == "TestCam"
    mpath = save((m * 255).astype(np.uint8), tmp_path / "mask.png")
    out = BP.perturb_file(src, "resize:s=0.5+jpeg:q=70", tmp_path / "o", mask=mpath, seed=0)
    assert out["path"].suffix == ".jpg" and sniff_format(out["path"].read_bytes()[:16]) == "jpeg"
    with Image.open(out["path"]) as im:
        assert im.size == (160, 120) and not im.getexif() and "exif" not in im.info
    mk = BP.read_mask(out["mask"])
    assert mk.shape == (120, 160) and _iou(_red(Media.open(out["path"]).rgb()), mk) > 0.8
    png = BP.perturb_file(src, "blur:sigma=1", tmp_path / "p")
    assert png["path"].suffix == ".png" and png["mask"] is None
    assert Media.open(png["path"]).format == "png"


def test_perturb_records_is_cached_by_hash_spec_and_seed(tmp_path):
    img, m = _marked(96, 128, (20, 50, 30, 70))
    recs = [Record(save(img, tmp_path / "a.png"), 1, save((m * 255).astype(np.uint8), tmp_path / "a_m.png")),
            Record(save(smooth_image(96, 128, 5), tmp_path / "b.png"), 0)]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    recs.append(Record(tmp_path / "broken.png", 0))
    cache = tmp_path / "cache"
    out, errors = BP.perturb_records(recs, "noise:sigma=3", cache, seed=0)
    assert len(out) == 2 and len(errors) == 1 and "broken.png" in errors[0]
    assert out[0].mask is not None and out[1].mask is None
    assert out[0].meta["perturbation"] == "noise:sigma=3"
    mtime = out[0].media.stat().st_mtime_ns
    again, _ = BP.perturb_records(recs, "noise:sigma=3", cache, seed=0)
    assert [r.media for r in again] == [r.media for r in out]
    assert again[0].media.stat().st_mtime_ns == mtime  # reused, not rewritten
    other, _ = BP.perturb_records(recs, "noise:sigma=3", cache, seed=1)
    assert other[0].media != out[0].media
    assert other[0].media.read_bytes() != out[0].media.read_bytes()
    # per-image seeds: two images under one seed get different noise fields
    d0 = Media.open(out[1].media).rgb().astype(int) - smooth_image(96, 128, 5)
    d1 = Media.open(out[0].media).rgb().astype(int) - img
    assert not np.array_equal(d0, d1)


def test_pure_functions_reject_non_rgb():
    with pytest.raises(ValueError):
        P.jpeg_encode(np.zeros((8, 8), np.uint8), 90)
    with pytest.raises(ValueError):
        P.resize(np.zeros((8, 8, 3), np.float32), 0.5)


def test_png_bytes_roundtrip():
    img = smooth_image(20, 30)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(P.png_bytes(img)))), img)


def test_perturbed_masks_are_binary_whatever_the_source_mask_rule(tmp_path):
    if "mask_rule" not in Record.__dataclass_fields__:
        pytest.skip("this Record has no mask_rule")
    img, m = _marked(96, 128, (20, 50, 30, 70))
    inv = save(np.where(m, 0, 255).astype(np.uint8), tmp_path / "inv.png")  # black = manipulated
    rec = Record(save(img, tmp_path / "a.png"), 1, inv, mask_rule="inverted")
    (out,), errors = BP.perturb_records([rec], "crop:frac=0.75", tmp_path / "c")
    assert not errors and out.mask_rule is None
    got = BP.read_mask(out.mask)
    assert np.array_equal(got, P.center_crop(img, 0.75, m)[1])
