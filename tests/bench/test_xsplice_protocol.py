"""The cross-source splice protocol of benchmarks/classic_xsplice.py (xsplice/1)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

_SPEC = importlib.util.spec_from_file_location(
    "classic_xsplice", Path(__file__).resolve().parents[2] / "benchmarks" / "classic_xsplice.py")
xs = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(xs)


def test_crop8_keeps_the_jpeg_grid():
    img = np.arange(600 * 900 * 3, dtype=np.uint32).reshape(600, 900, 3)
    rng = np.random.default_rng(0)
    for long_side in xs.SIZES:
        out = xs._crop8(img, long_side, rng)
        h, w = out.shape[:2]
        assert max(h, w) <= long_side and h % 8 == 0 and w % 8 == 0
        y, x = np.argwhere(img[..., 0] == out[0, 0, 0])[0]  # where the window starts
        assert y % 8 == 0 and x % 8 == 0
        assert abs(w / h - 1.5) < 0.05  # aspect kept


def test_pasted_region_is_the_mask_and_comes_from_the_donor():
    rng = np.random.default_rng(1)
    host = np.full((256, 384, 3), 40, np.uint8)
    donor = np.full((500, 700, 3), 200, np.uint8)
    img, mask = xs.make_one(host, donor, rng, feather=False)
    assert 0.02 <= mask.mean() <= 0.15  # a blob of about 3-12 % of the host
    assert (img[mask] == 200).all() and (img[~mask] == 40).all()
    img2, mask2 = xs.make_one(host, donor, np.random.default_rng(1), feather=True)
    assert (mask2 == mask).all()
    edge = (img2[..., 0] > 40) & (img2[..., 0] < 200)  # feathered: blended values at the edge
    assert edge.any() and (img2[~mask & ~edge] == 40).all()


def test_fit_jpeg_copies_count_as_the_same_photo():
    assert xs._photo(Path("src/kodim05_q90.jpg")) == xs._photo(Path("kodak24/kodim05.png"))
    assert xs._photo(Path("CRW_4853.JPG")) != xs._photo(Path("CRW_4854.jpg"))
