"""Tests of the copy-move detector (synthetic forgeries made here + one shared-data check)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from veriscope.core.media import Media
from veriscope.core.metrics import pixel_f1
from veriscope.detectors.base import Context
from veriscope.detectors.image.copy_move.detector import CopyMoveDetector


def _texture(h=360, w=480, seed=0) -> np.ndarray:
    """A photo-like RGB texture: multi-scale (1/f-ish) noise, no repeated structure."""
    import cv2

    rng = np.random.default_rng(seed)
    acc = np.zeros((h, w, 3), np.float32)
    for sigma, amp in ((1.0, 18), (3.0, 30), (9.0, 45), (27.0, 60)):
        n = rng.normal(0, 1, (h, w, 3)).astype(np.float32)
        n = cv2.GaussianBlur(n, (0, 0), sigma)
        acc += amp * n / (n.std() + 1e-6)
    return np.clip(128 + acc, 0, 255).astype(np.uint8)


def _paste(img, rng, angle=0.0, scale=1.0, size=70):
    """Copy a disk of radius size/2 to a place at least 1.5 sizes away; masks of both."""
    import cv2

    h, w = img.shape[:2]
    r = size // 2
    sy, sx = h // 3, w // 4
    src = np.zeros((h, w), np.uint8)
    cv2.circle(src, (sx, sy), r, 255, -1)
    ty, tx = 2 * h // 3, 3 * w // 4
    M = cv2.getRotationMatrix2D((float(sx), float(sy)), angle, scale)
    M[0, 2] += tx - sx
    M[1, 2] += ty - sy
    moved = cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR)
    dst = cv2.warpAffine(src, M, (w, h), flags=cv2.INTER_NEAREST) > 127
    out = img.copy()
    out[dst] = moved[dst]
    return out, src > 127, dst


def _analyze(tmp_path, arr=None, name="x.png", raw: bytes | None = None, **save):
    p = tmp_path / name
    if raw is not None:
        p.write_bytes(raw)
    else:
        Image.fromarray(arr).save(p, **save)
    return CopyMoveDetector().analyze(Media.open(p), Context())


def _full_heat(ev, shape):
    import cv2

    return cv2.resize(ev.heatmap, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def test_translated_copy_is_found_and_both_regions_marked(tmp_path):
    img = _texture(seed=1)
    forged, src, dst = _paste(img, np.random.default_rng(0))
    ev = _analyze(tmp_path, forged)
    assert ev.applicable and ev.score >= 0.5 and ev.label == "manipulated"
    heat = _full_heat(ev, img.shape[:2])
    assert pixel_f1(heat, src | dst, 0.5) > 0.6
    # the map covers the source as well as the copy
    assert heat[src].mean() > 0.5 and heat[dst].mean() > 0.5
    labels = sorted(b.label for b in ev.boxes)
    assert labels[:2] == ["copy", "source"]
    assert any(f.code == "copy_move_region" and f.severity in ("medium", "high")
               for f in ev.findings)
    assert ev.data["reliability"]["level"] in ("high", "medium", "low")


def test_rotated_scaled_jpeg_copy_is_found(tmp_path):
    img = _texture(seed=2)
    forged, src, dst = _paste(img, np.random.default_rng(1), angle=30.0, scale=1.15, size=90)
    ev = _analyze(tmp_path, forged, name="x.jpg", quality=90)
    assert ev.score >= 0.5
    reg = ev.data["regions"][0]
    assert abs(abs(reg["rotation_deg"]) - 30.0) < 4.0
    assert min(reg["scale"], 1 / reg["scale"]) == pytest.approx(1 / 1.15, abs=0.05)
    assert pixel_f1(_full_heat(ev, img.shape[:2]), src | dst, 0.5) > 0.4


def test_pristine_texture_is_not_flagged(tmp_path):
    for seed in (3, 4):
        ev = _analyze(tmp_path, _texture(seed=seed), name=f"p{seed}.png")
        assert ev.score < 0.5 and ev.label == "no_evidence"
        assert not ev.boxes
        assert any(f.code == "copy_move_summary" for f in ev.findings)


def test_repeating_pattern_is_not_a_copy_move(tmp_path):
    """A tiled texture matches itself under many shifts: that is a pattern, not a forgery."""
    tile = _texture(90, 110, seed=9)
    ev = _analyze(tmp_path, np.tile(tile, (4, 4, 1)), name="tiled.png")
    assert ev.score < 0.5
    assert any(r["periodicity"] > 0.5 for r in ev.data["regions"])


def test_robust_to_odd_inputs(tmp_path):
    img = _texture(200, 260, seed=5)
    gray = img[..., 0]
    cases = {
        "gray.png": (gray, {}),
        "rgba.png": (np.dstack([img, np.full(img.shape[:2], 200, np.uint8)]), {}),
        "flat.png": (np.full((200, 260, 3), 90, np.uint8), {}),
        "prog.jpg": (img, {"quality": 80, "progressive": True}),
        "s444.jpg": (img, {"quality": 95, "subsampling": 0}),
        "s411.jpg": (img, {"quality": 75, "subsampling": 2}),
    }
    for name, (arr, kw) in cases.items():
        ev = _analyze(tmp_path, arr, name=name, **kw)
        assert ev.applicable, name
        assert ev.heatmap is not None and ev.heatmap.ndim == 2
        assert abs(ev.heatmap.shape[1] / ev.heatmap.shape[0] - 260 / 200) < 0.02
        assert 0.0 <= ev.score <= 1.0
    # 16-bit grayscale
    p16 = tmp_path / "g16.png"
    Image.fromarray(gray.astype(np.uint16) * 257).save(p16)
    assert CopyMoveDetector().analyze(Media.open(p16), Context()).applicable
    # CMYK JPEG
    buf = io.BytesIO()
    Image.fromarray(img).convert("CMYK").save(buf, "JPEG", quality=85)
    assert _analyze(tmp_path, raw=buf.getvalue(), name="cmyk.jpg").applicable
    # tiny: not applicable, no crash
    ev = _analyze(tmp_path, _texture(40, 50, seed=6), name="tiny.png")
    assert not ev.applicable and "too small" in ev.reason


def test_large_image_is_downscaled_and_says_so(tmp_path):
    import cv2

    img = _texture(300, 400, seed=7)
    forged, src, dst = _paste(img, np.random.default_rng(2), size=80)
    big = cv2.resize(forged, (2000, 1500), interpolation=cv2.INTER_CUBIC)
    ev = _analyze(tmp_path, big, name="big.jpg", quality=92)
    assert any(f.code == "analysed_at_reduced_resolution" for f in ev.findings)
    assert ev.heatmap.shape[0] * ev.heatmap.shape[1] <= 1_000_000  # the 1 MP working copy
    assert ev.score >= 0.5
    # boxes are in input pixels
    copy = next(b for b in ev.boxes if b.label in ("copy", "source"))
    assert copy.x + copy.w <= 2000 and copy.y + copy.h <= 1500 and copy.w > 100


def test_registered():
    from veriscope.core import registry

    assert registry.load("copy_move") is CopyMoveDetector


def test_noso_real_copy_move(shared_data):
    root = shared_data / "noso-copymove"
    det = CopyMoveDetector()
    ev = det.analyze(Media.open(root / "01_mod.png"), Context())
    gt = np.asarray(Image.open(root / "01_mod_gt.png"))[..., 0] > 127
    assert ev.score >= 0.5
    assert pixel_f1(_full_heat(ev, gt.shape), gt, 0.5) > 0.6
    ev0 = det.analyze(Media.open(root / "01.png"), Context())
    assert ev0.score < 0.5


def test_small_copy_in_a_one_megapixel_image_is_analysed_at_full_size(tmp_path):
    """Inputs up to 1 MP are not reduced: a 60 px disk (0.35 % of a 900x900 JPEG per side)
    is outlined; at the former 0.6 MP working size (774x774) nothing was found (F1 0.0)."""
    img = _texture(900, 900, seed=1)
    out, src, dst = _paste(img, np.random.default_rng(0), size=60)
    ev = _analyze(tmp_path, out, name="x.jpg", quality=90)
    assert ev.data["working_size"] == [900, 900]
    assert not any(f.code == "analysed_at_reduced_resolution" for f in ev.findings)
    assert pixel_f1(_full_heat(ev, src.shape), src | dst, 0.15) > 0.6


def test_spread_select_keeps_every_cell_and_the_budget():
    from veriscope.detectors.image.copy_move.sift import spread_select

    rng = np.random.default_rng(0)
    # 900 strong keypoints crowd the left half, 100 weak ones lie on the right half
    pts = np.r_[rng.uniform([0, 0], [200, 400], (900, 2)), rng.uniform([200, 0], [400, 400], (100, 2))]
    resp = np.r_[rng.uniform(0.5, 1.0, 900), rng.uniform(0.0, 0.1, 100)].astype(np.float32)
    plain = spread_select(pts, resp, 300, cell=100.0, share=0.0)
    assert sorted(plain) == sorted(np.argsort(-resp)[:300])  # share 0: the strongest only
    assert (plain >= 900).sum() == 0
    spread = spread_select(pts, resp, 300, cell=100.0, share=1.0)
    assert len(spread) == len(set(spread)) == 300
    cells = {(int(x // 100), int(y // 100)) for x, y in pts[spread]}
    assert len(cells) == 16  # every cell of the 4 x 4 grid keeps keypoints
    assert 100 <= (spread >= 900).sum() <= 160  # the calm half keeps about its share of area
    assert list(spread_select(pts[:50], resp[:50], 300, cell=100.0, share=1.0)) == list(range(50))


def test_copy_in_a_calm_area_next_to_busy_texture_keeps_its_keypoints(tmp_path):
    """Spread keypoints: a copy inside the calm half of an image whose other half is busy
    texture. With the plain response cap (kp_spread 0) the busy half takes the keypoints
    (and without them no keypoint seeds the dense field either, as before version 1.4)."""
    import cv2

    busy = _texture(900, 1000, seed=3)
    calm = (128 + (_texture(900, 1000, seed=4).astype(np.float32) - 128) * 0.35).astype(np.uint8)
    img = np.concatenate([busy[:, :500], calm[:, 500:]], axis=1)
    h, w = img.shape[:2]
    src = np.zeros((h, w), np.uint8)
    cv2.circle(src, (700, 250), 60, 255, -1)
    M = np.float32([[1, 0, 150], [0, 1, 380]])
    moved = cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR)
    dst = cv2.warpAffine(src, M, (w, h), flags=cv2.INTER_NEAREST) > 127
    out = img.copy()
    out[dst] = moved[dst]
    p = tmp_path / "x.jpg"
    Image.fromarray(out).save(p, quality=92)
    both = (src > 127) | dst
    det = CopyMoveDetector()
    ev = det.analyze(Media.open(p), Context())
    ev0 = det.analyze(Media.open(p), Context(options={"copy_move": {"kp_spread": 0.0,
                                                                      "dense_seeds": 0}}))
    f1 = pixel_f1(_full_heat(ev, both.shape), both, 0.5)
    f1_0 = pixel_f1(_full_heat(ev0, both.shape), both, 0.5)
    assert ev.score >= 0.5 and f1 > 0.6, (ev.score, f1)
    assert ev0.score < 0.5 and f1_0 < 0.3, (ev0.score, f1_0)  # 0.0 / 0.0 when written


def test_growth_by_agreement_adds_equal_pixels_only_near_the_region():
    from veriscope.detectors.image.copy_move.verify import grow_by_agreement

    rng = np.random.default_rng(0)
    g = rng.integers(0, 255, (200, 300)).astype(np.uint8)
    g[40:100, 40:100] = 90  # a flat source patch ...
    g[40:100, 180:240] = 90  # ... copied 140 px to the right
    T = np.array([[1.0, 0, -140], [0, 1.0, 0]])  # copy side: x -> its source at x - 140
    core = np.zeros_like(g, bool)
    core[60:80, 200:220] = True  # what the correlation check kept (the calm rest is missed)
    grown = grow_by_agreement(g, T, core, max_diff=4.0, ring=16)
    assert grown[60:80, 200:220].all()
    assert grown[60:80, 185:235].all() and grown[45:95, 200:220].all()  # equal, within 16 px
    assert not grown[:, :170].any() and not grown[:, 250:].any()  # noise does not agree
    assert not grown[41, 181] and not grown[98, 238]  # corners beyond the 16 px ring
    assert grow_by_agreement(g, T, core, max_diff=4.0, ring=0) is core


def test_calm_part_of_a_copy_is_marked(tmp_path):
    """A copy whose middle is calm: the correlation core has a hole there (low contrast),
    growth by agreement fills it in the map."""
    img = _texture(360, 480, seed=2)
    img[100:140, 100:140] = 128 + (img[100:140, 100:140].astype(np.int16) - 128) // 12
    out, src, dst = _paste(img, np.random.default_rng(0), size=110)
    p = tmp_path / "calm.png"
    Image.fromarray(out).save(p)
    both = src | dst
    det = CopyMoveDetector()
    ev = det.analyze(Media.open(p), Context())
    ev0 = det.analyze(Media.open(p), Context(options={"copy_move": {"grow_ring": 0}}))
    assert ev.score == ev0.score >= 0.5  # the score counts the correlated core only
    f1 = pixel_f1(_full_heat(ev, both.shape), both, 0.5)
    f1_0 = pixel_f1(_full_heat(ev0, both.shape), both, 0.5)
    assert f1 > 0.85 and f1 > f1_0 + 0.03, (f1, f1_0)


def test_keypoint_seeds_lead_patchmatch_to_a_small_copy():
    """A 30 px copy in a 400 x 500 texture: random PatchMatch starts almost never land on it,
    a seed pair (a keypoint and its nearest look-alike) does, and propagation fills the patch."""
    import cv2

    from veriscope.detectors.image.copy_move import dense as D

    rng = np.random.default_rng(0)
    g = cv2.GaussianBlur(rng.normal(128, 40, (400, 500)).astype(np.float32), (0, 0), 1.5)
    g[300:330, 400:430] = g[50:80, 60:90]  # offset (+250, +340)
    F = D.zernike_features(g, 8)

    def share(nnf):  # grid points (stride 2) inside the source patch pointing at the copy
        oy, ox = nnf.oy[25:40, 30:45], nnf.ox[25:40, 30:45]
        return float(((abs(oy - 250) <= 1) & (abs(ox - 340) <= 1)).mean())

    seeds = (np.float32([[75, 65]]), np.float32([[415, 315]]))  # (x, y) pairs
    assert share(D.patchmatch(F, min_shift=12, stride=2, seed=0)) < 0.1  # 0.0 when written
    assert share(D.patchmatch(F, min_shift=12, stride=2, seed=0, seeds=seeds)) > 0.4  # 0.54


def test_g2nn_returns_nearest_neighbours_the_ratio_test_rejects():
    from veriscope.detectors.image.copy_move.sift import g2nn_matches

    rng = np.random.default_rng(0)
    d = rng.normal(size=(40, 128)).astype(np.float32)
    d[1] = d[0] + 0.01 * rng.normal(size=128)  # a clear pair: 0 <-> 1
    d[3] = d[2] + 0.05 * rng.normal(size=128)  # an ambiguous triple: 2 ~ 3 ~ 4
    d[4] = d[2] + 0.05 * rng.normal(size=128)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pts = np.arange(40, dtype=np.float32)[:, None] * np.float32([[20, 0]])
    m = g2nn_matches(pts, d, ratio=0.6, min_dist=12, near=1)
    def ids(src, dst):  # keypoint k sits at x = 20 k
        return {tuple(sorted((int(a[0]) // 20, int(b[0]) // 20)))
                for a, b in zip(src, dst, strict=True)}

    pairs, near = ids(m.src, m.dst), ids(m.near_src, m.near_dst)
    assert (0, 1) in pairs and (2, 3) not in pairs and (2, 4) not in pairs
    assert (0, 1) in near and ((2, 3) in near or (2, 4) in near)
    assert len(m.near_src) == 40  # one nearest neighbour per keypoint
    assert g2nn_matches(pts, d, ratio=0.6, min_dist=12).near_src is None


def test_small_copy_found_through_keypoint_seeded_dense_field(tmp_path):
    """A 58 px disk (0.27 % of a 1000 x 800 JPEG per side): version 1.3's dense field (no
    seeds, 6 regions, 8 transforms) found nothing (F1 0.0); 1.4 outlines it, faintly."""
    img = _texture(800, 1000, seed=0)
    out, src, dst = _paste(img, np.random.default_rng(0), size=58)
    p = tmp_path / "small.jpg"
    Image.fromarray(out).save(p, quality=90)
    both = src | dst
    det = CopyMoveDetector()
    ev = det.analyze(Media.open(p), Context())
    old = {"dense_seeds": 0, "dense_max_regions": 6, "max_transforms": 8}
    ev0 = det.analyze(Media.open(p), Context(options={"copy_move": old}))
    f1 = pixel_f1(_full_heat(ev, both.shape), both, 0.1)
    f1_0 = pixel_f1(_full_heat(ev0, both.shape), both, 0.1)
    assert f1 > 0.6 and f1_0 < 0.2, (f1, f1_0)  # 0.92 / 0.0 when written


def _kodak(shared_data, k: int) -> np.ndarray:
    path = shared_data / "pristine-kodak24-cbsd68-mcmaster" / "kodak24" / f"kodim{k:02d}.png"
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("k", [13, 23])
def test_small_shifted_copy_in_a_png_is_found_by_the_exact_stage(shared_data, tmp_path, k):
    """A 30 px disk (0.28 % of a 500 x 500 Kodak photo per side) moved by a plain shift and
    saved as PNG: identical pixel for pixel, so the exact stage outlines it; without that
    stage (version 1.4) nothing was found (F1 0.0 on both photos when written). Saved as
    JPEG the stage does not run (lossy storage keeps no identical pixels)."""
    out, src, dst = _paste(_kodak(shared_data, k), None, size=30)
    both = src | dst
    p = tmp_path / "shift.png"
    Image.fromarray(out).save(p)
    det = CopyMoveDetector()
    ev = det.analyze(Media.open(p), Context())
    ev0 = det.analyze(Media.open(p), Context(options={"copy_move": {"exact": False}}))
    assert ev.score >= 0.5 and ev.data["exact_stage"] == "searched"
    top = ev.data["regions"][0]
    assert top["found_by"] == "exact" and top["identical_blocks"] >= 64
    assert any("identical pixel for pixel" in f.message for f in ev.findings)
    assert pixel_f1(_full_heat(ev, both.shape), both, 0.5) > 0.9
    assert pixel_f1(_full_heat(ev0, both.shape), both, 0.5) < 0.2
    evj = _analyze(tmp_path, out, name="shift.jpg", quality=95)
    assert evj.data["exact_stage"] == "not_lossless"
    assert all(r["found_by"] != "exact" for r in evj.data["regions"])


def test_exact_stage_ignores_identical_blocks_on_a_decoded_jpeg_grid(shared_data):
    """A JPEG decoded and saved losslessly repeats 8x8 blocks that quantized alike, at shifts
    that are multiples of 8: without the grid rule (and without the flatness limit) Kodak 07
    at q30 gives shifts with a solid piece of 64+ identical textured blocks (false copies);
    with it, none."""
    import cv2

    from veriscope.detectors.image.copy_move.exact import exact_transforms

    buf = io.BytesIO()
    Image.fromarray(_kodak(shared_data, 7)).save(buf, "JPEG", quality=30)
    g = cv2.cvtColor(np.asarray(Image.open(buf).convert("RGB")), cv2.COLOR_RGB2GRAY)
    kw = dict(min_shift=12, min_blocks=64, min_texture=1.0, max_group=4)
    raw = exact_transforms(g, skip_grid_shifts=False, **kw)
    assert raw and all(t.M[0, 2] % 8 == 0 and t.M[1, 2] % 8 == 0 for t in raw)
    assert exact_transforms(g, **kw) == []


def _screenshot(shared_data) -> np.ndarray:
    """A rendered feed: three posts with the same photo avatar, the same words and icons."""
    from PIL import ImageDraw, ImageFont

    im = Image.new("RGB", (1080, 1600), "white")
    dr = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=28)
    avatar = Image.fromarray(_kodak(shared_data, 15)).resize((96, 96))
    for k, y in enumerate((40, 560, 1080)):
        im.paste(avatar, (30, y))
        dr.text((150, y + 10), f"User name {k}   @handle{k}", fill=(20, 20, 20), font=font)
        dr.text((150, y + 60), "This is a post about something, reply and share",
                fill=(40, 40, 40), font=font)
        for i, lab in enumerate(("Reply", "Repost", "Like", "Share")):
            dr.ellipse((150 + 220 * i, y + 400, 180 + 220 * i, y + 430), outline=(90, 90, 90),
                       width=3)
            dr.text((190 + 220 * i, y + 400), lab, fill=(90, 90, 90), font=font)
    return np.asarray(im)


def test_repeated_text_and_icons_of_a_screenshot_are_not_exact_copies(shared_data, tmp_path):
    """Letters and icons repeat pixel for pixel in a screenshot. Without the flatness rules
    the exact stage scored a repeated glyph pair 0.8 (written against the first form of 1.5);
    now the screenshot scores as without the stage, under 0.5."""
    ev = _analyze(tmp_path, _screenshot(shared_data), name="feed.png")
    assert ev.data["exact_stage"] == "searched"
    assert ev.score < 0.5
    exact = [r for r in ev.data["regions"] if r["found_by"] == "exact"]
    assert all(r["score"] < 0.5 for r in exact)


def test_block_hashes_are_equal_exactly_for_equal_blocks():
    from veriscope.detectors.image.copy_move.exact import block_hashes

    g = np.random.default_rng(3).integers(0, 256, (40, 50), dtype=np.uint8)
    g[20:28, 30:38] = g[2:10, 5:13]
    h = block_hashes(g)
    assert h.shape == (33, 43)
    assert h[20, 30] == h[2, 5]
    # one block per value: no other pair collides in a random image
    assert len(np.unique(h)) == h.size - 1
    g[27, 37] ^= 1  # one pixel differs by one gray level
    assert block_hashes(g)[20, 30] != h[2, 5]


def test_exact_stage_over_its_size_limit_says_so(shared_data, tmp_path):
    p = tmp_path / "big.png"
    Image.fromarray(_kodak(shared_data, 13)).save(p)
    ev = CopyMoveDetector().analyze(
        Media.open(p), Context(options={"copy_move": {"exact_max_pixels": 100_000}}))
    assert ev.data["exact_stage"] == "too_large"
    assert any(f.code == "exact_search_skipped" for f in ev.findings)


@pytest.mark.parametrize("name", ["12_mod", "09_mod_02"])
def test_noso_small_copies_found_as_exact_duplicates(shared_data, name):
    """Two small NoSo copies (real, hand-made, PNG) that version 1.4 missed (score < 0.5):
    plain shifts, identical pixel for pixel, found by the exact stage (F1 0.88 / 0.90 at 0.5
    when written)."""
    root = shared_data / "noso-copymove"
    ev = CopyMoveDetector().analyze(Media.open(root / f"{name}.png"), Context())
    gt = np.asarray(Image.open(root / f"{name}_gt.png"))[..., 0] > 127
    assert ev.score >= 0.5
    assert ev.data["regions"][0]["found_by"] == "exact"
    assert pixel_f1(_full_heat(ev, gt.shape), gt, 0.5) > 0.7


def _tiled_grid(rows=4, cols=4, h=200, w=240, seed=9) -> np.ndarray:
    """One texture repeated in a grid, each copy with its own noise: a page of near-identical
    pictures (a contact sheet, tiles), where every copy matches every other."""
    rng = np.random.default_rng(0)
    t = _texture(h, w, seed=seed).astype(np.float32)
    grid = np.concatenate([np.concatenate([t + rng.normal(0, 2, t.shape) for _ in range(cols)], 1)
                           for _ in range(rows)], 0)
    return np.clip(grid, 0, 255).astype(np.uint8)


def test_work_budgets_stop_the_stages_on_repetitive_content(tmp_path):
    """A 4 x 4 grid of near-identical tiles gives many large candidate pairs, each tested
    against every other (in 1.5 the checking grew with the square of their number and with
    their size). Each stage stops at its budget, reported in ``data["work"]``; the result is
    the same on every run."""
    from veriscope.detectors.image.copy_move.core import Params

    p = Params()
    ev = _analyze(tmp_path, _tiled_grid(), name="grid.jpg", quality=90)
    w = ev.data["work"]
    npx = ev.data["working_size"][0] * ev.data["working_size"][1]
    assert w["keypoints"] == p.max_keypoints < w["keypoints_detected"]
    assert w["matches_offered"] <= p.max_matches
    assert w["transforms_checked"] <= p.max_transforms
    # outlining: the budget is spent, the remaining candidates are not checked (the last
    # one checked may exceed it by its two first search windows at most)
    assert "verify" in w["capped"] and w["transforms_unchecked"] > 0
    assert w["verify_budget_px"] == int(p.verify_budget * npx)
    assert w["verify_budget_px"] <= w["verify_px"] <= w["verify_budget_px"] + 2 * npx
    # periodicity and lattice tests: measured on tiles once the full tests would exceed the
    # budget (at least one 48 x 48 window per test)
    assert "share" in w["capped"] and w["share_needed_px"] > w["share_budget_px"]
    n = w["transforms_checked"]
    assert w["share_px"] <= w["share_budget_px"] + (6 * n + 2 * n * (n - 1)) * 48 * 48
    assert w["agree_px"] <= w["agree_budget_px"]
    assert any(f.code == "work_budget_reached" for f in ev.findings)
    assert ev.data["reliability"]["level"] == "medium"
    json.dumps(ev.data["work"])  # plain JSON in the report
    assert ev.score < 0.5  # a grid of repeats is a pattern, not a copy-move
    ev2 = _analyze(tmp_path, _tiled_grid(), name="grid2.jpg", quality=90)
    assert ev2.data["work"] == w and ev2.score == ev.score
    assert ev2.data["regions"] == ev.data["regions"]


def test_ordinary_picture_is_not_capped(tmp_path):
    img = _texture(seed=1)
    forged, _, _ = _paste(img, np.random.default_rng(0))
    ev = _analyze(tmp_path, forged)
    # only the keypoint cap, as for every textured photo (more than 5000 detected)
    assert ev.data["work"]["capped"] in ([], ["keypoints"])
    assert not any(f.code == "work_budget_reached" for f in ev.findings)


def test_ransac_stops_at_its_work_budget_and_clusters_are_thinned():
    from veriscope.detectors.image.copy_move.sift import KeypointMatches, find_transforms

    rng = np.random.default_rng(0)
    # 3000 matches without any common transform: every round finds a tiny chance model
    src = rng.uniform(0, 1000, (3000, 2)).astype(np.float32)
    dst = rng.uniform(0, 1000, (3000, 2)).astype(np.float32)
    kw = dict(reproj=3.0, min_inliers=3, min_shift=12.0, cluster_cut=110.0, max_models=24)
    st: dict = {}
    find_transforms(KeypointMatches(src, dst), max_work=4000, stats=st, **kw)
    assert st["ransac_capped"] and st["ransac_rounds"] == 2  # 3000 + 2999.. offered
    assert 4000 <= st["ransac_work"] <= 4000 + 3000
    st0: dict = {}
    find_transforms(KeypointMatches(src, dst), max_work=0, stats=st0, **kw)
    assert st0["ransac_rounds"] > 2 and not st0["ransac_capped"]
    # 1500 matches of one shift packed in a 60 px square: all pairs are within the cut
    a = rng.uniform(200, 260, (1500, 2)).astype(np.float32)
    m = KeypointMatches(a, a + np.float32([300, 120]))
    st1: dict = {}
    out = find_transforms(m, cluster_max_points=600, stats=st1, **kw)
    assert st1["cluster_thinned"] == 1
    assert len(out) == 1 and np.allclose(out[0].M, [[1, 0, 300], [0, 1, 120]], atol=0.05)
    assert out[0].n_inliers > 1400  # the points left out of the clustering join its cluster


def test_match_budget_keeps_the_most_alike_matches_in_order():
    from veriscope.detectors.image.copy_move.sift import KeypointMatches

    src = np.arange(10, dtype=np.float32)[:, None].repeat(2, 1)
    m = KeypointMatches(src, src + 50, dist=np.float32([5, 1, 4, 1, 9, 0, 3, 8, 2, 7]))
    b = m.best(4)
    assert list(b.src[:, 0]) == [1, 3, 5, 8] and list(b.dist) == [1, 1, 0, 2]
    assert m.best(10) is m


def test_share_on_tiles_estimates_the_full_share():
    """Over ``share_budget`` a periodicity or lattice share is measured on tiles of the region:
    close to the full measure, for a fraction of the pixels."""
    import cv2

    from veriscope.detectors.image.copy_move import core

    g = _texture(600, 800, seed=3)[..., 0].astype(np.float32)
    g[300:560, 420:760] = g[20:280, 40:380]  # a copy, shifted by (380, 280)
    g = g - cv2.GaussianBlur(g, (0, 0), 2.0)
    mask = np.zeros(g.shape, bool)
    mask[30:270, 50:370] = True
    mask[100:140, 100:200] = False  # not a plain rectangle
    box = core._box(mask)
    T = np.array([[1.0, 0, 380], [0, 1.0, 280]])
    p = core.Params()
    kw = dict(sigma=2.0, min_std=1.0, min_shift=12.0)
    full, part = [0], [0]
    s_full = core._matched_share(g, box, [T], p, 1.0, full, **kw)
    s_part = core._matched_share(g, box, [T], p, 0.2, part, **kw)
    assert s_full > 0.9 and abs(s_part - s_full) < 0.05
    assert full[0] == box.area and part[0] <= 0.25 * box.area
    other = np.array([[1.0, 0, 150], [0, 1.0, 40]])  # not the copy's shift
    assert core._matched_share(g, box, [other], p, 0.2, **kw) < 0.1


def test_gray_level_mismatch_separates_a_copy_from_a_look_alike():
    """1.7: a copy repeats its source's gray levels; a region with the same texture at another
    brightness (a look-alike object) is verified by the high-pass correlation but pays for its
    mismatch in the evidence."""
    from veriscope.detectors.image.copy_move import core

    img = _texture(seed=5)
    same, src, dst = _paste(img, np.random.default_rng(0))
    brighter = same.copy()
    brighter[dst] = np.clip(brighter[dst].astype(np.int16) + 40, 0, 255).astype(np.uint8)
    r_copy = core.analyze_rgb(same)
    r_look = core.analyze_rgb(brighter)
    r_look_off = core.analyze_rgb(brighter, core.Params(mismatch_weight=0.0))
    assert r_copy.found and r_look.found and r_look_off.found
    assert r_copy.found[0].mismatch < 2.0
    assert r_look.found[0].mismatch == pytest.approx(40.0, abs=4.0)
    # the term costs mismatch_weight per gray level above MISMATCH_FREE, nothing below it
    cost = r_look_off.found[0].evidence - r_look.found[0].evidence
    assert cost == pytest.approx(0.5 * (r_look.found[0].mismatch - core.MISMATCH_FREE), abs=0.05)
    assert r_copy.score >= 0.5 and r_look.score < 0.5 <= r_look_off.score


def test_intensity_mismatch_is_the_median_gray_difference_under_the_map():
    from veriscope.detectors.image.copy_move.core import intensity_mismatch

    g = np.zeros((100, 200), np.uint8)
    g[:, 100:] = 30
    mask = np.zeros_like(g, bool)
    mask[20:60, 10:50] = True
    shift = np.array([[1.0, 0, 120], [0, 1.0, 0]])
    assert intensity_mismatch(g, shift, mask) == pytest.approx(30.0)
    assert intensity_mismatch(g, np.array([[1.0, 0, 20], [0, 1.0, 0]]), mask) == 0.0
    # every mapped point outside the picture: nothing to compare
    assert intensity_mismatch(g, np.array([[1.0, 0, 500], [0, 1.0, 0]]), mask) == 0.0
