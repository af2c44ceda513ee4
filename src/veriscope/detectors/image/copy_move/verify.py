"""Dense verification of a copy-move transform (private helper of ``copy_move``).

Given an affine map from a source region to its copy, the image is warped with the map
and with its inverse, and the zero-mean normalised cross-correlation (ZNCC) between the
image and each warped version is computed in a small Gaussian window at every pixel
(the localisation step of Amerini et al. 2013, "Copy-move forgery detection and
localization by means of robust clustering with J-Linkage", Signal Processing: Image
Communication 28(6)). Pixels where the correlation is high, where the local contrast is
enough for a correlation to mean something, and which are displaced by the map by more
than a few pixels, are the source (warp by M) and the copy (warp by M^-1).
"""

from __future__ import annotations

import numpy as np


def _gauss(x: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def local_stats(a: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-window mean and variance of a float32 image."""
    m = _gauss(a, sigma)
    v = _gauss(a * a, sigma)
    v -= m * m
    np.maximum(v, 0.0, out=v)
    return m, v


def zncc(a: np.ndarray, b: np.ndarray, sigma: float,
         a_stats: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Local ZNCC of two float32 images in a Gaussian window; also min(local std).
    ``a_stats``: ``local_stats(a, sigma)`` when already known (a region tested under
    several maps). In-place arithmetic: the same values as the plain expressions."""
    ma, va = local_stats(a, sigma) if a_stats is None else a_stats
    mb, vb = local_stats(b, sigma)
    cov = _gauss(a * b, sigma)
    cov -= ma * mb
    den = va * vb
    den += 1e-6
    np.sqrt(den, out=den)
    cov /= den
    sd = np.minimum(va, vb)
    np.sqrt(sd, out=sd)
    return cov, sd


def roi_around(points: np.ndarray, shape, margin_frac: float, min_margin: int):
    """(x0, y0, x1, y1): the bounding box of ``points`` grown by a margin, inside the image."""
    h, w = shape
    if len(points) == 0:
        return 0, 0, w, h
    lo, hi = points.min(axis=0), points.max(axis=0)
    m = max(float(min_margin), margin_frac * float(max(hi - lo)))
    x0, y0 = int(max(0, np.floor(lo[0] - m))), int(max(0, np.floor(lo[1] - m)))
    x1, y1 = int(min(w, np.ceil(hi[0] + m) + 1)), int(min(h, np.ceil(hi[1] + m) + 1))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def structure_tensor(img: np.ndarray, sigma: float) -> tuple[np.ndarray, ...]:
    """Gaussian-windowed (Jxx, Jxy, Jyy) of the image gradient."""
    import cv2

    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    return _gauss(gx * gx, sigma), _gauss(gx * gy, sigma), _gauss(gy * gy, sigma)


def affine_maps(T: np.ndarray, roi) -> tuple[np.ndarray, ...]:
    """float32 maps (sx, sy) = T x for the pixels x of ``roi``, and the ROI's pixel
    coordinates as a float32 row (xs) and column (ys): the values of
    ``(T[0, 0] * xs + T[0, 1] * ys + T[0, 2]).astype(float32)`` on full grids, computed with
    one float64 buffer."""
    x0, y0, x1, y1 = roi
    xs = np.arange(x0, x1, dtype=np.float32)[None, :]  # broadcast: no full-size grids
    ys = np.arange(y0, y1, dtype=np.float32)[:, None]
    buf = np.empty((y1 - y0, x1 - x0), np.float64)
    out = []
    for k in range(2):
        np.add(T[k, 0] * xs, T[k, 1] * ys, out=buf)
        m = np.empty(buf.shape, np.float32)
        np.add(buf, T[k, 2], out=m, casting="unsafe")
        out.append(m)
    return out[0], out[1], xs, ys


def side_correlation(feat: np.ndarray, T: np.ndarray, roi, *, sigma: float, min_std: float,
                     min_shift: float, at: tuple | None = None,
                     a_stats: tuple | None = None) -> np.ndarray:
    """ZNCC between feat(x) and feat(T x) for the pixels x of ``roi``; 0 where undefined.

    Undefined: T x outside the image, too little local contrast (std < ``min_std``), or a
    displacement |T x - x| under ``min_shift``. ``at`` = (rows, cols) in the ROI: only the
    values at those pixels; ``a_stats``: ``local_stats`` of ``feat``'s ROI, when already
    known.
    """
    import cv2

    H, W = feat.shape
    x0, y0, x1, y1 = roi
    sx, sy, xs, ys = affine_maps(T, roi)
    wimg = cv2.remap(feat, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0)
    a = np.ascontiguousarray(feat[y0:y1, x0:x1])
    r, sd = zncc(a, wimg, sigma, a_stats)
    if at is not None:
        iy, ix = at
        r, sd, sx, sy = r[iy, ix], sd[iy, ix], sx[iy, ix], sy[iy, ix]
        xs, ys = xs[0, ix], ys[iy, 0]
    dx = sx - xs
    dx *= dx
    dy = sy - ys
    dy *= dy
    dx += dy
    ok = sx >= 0
    ok &= sx <= W - 1
    ok &= sy >= 0
    ok &= sy <= H - 1
    ok &= sd >= min_std
    ok &= dx >= min_shift * min_shift
    r[~ok] = 0.0
    return r


def aperture_ratio(tensor, T: np.ndarray, mask: np.ndarray) -> float:
    """Share of the region's gradient energy along the displacement T(x) - x.

    About 0.5 for a 2-D texture; near 0 when the region is an edge or a line shifted along
    itself, which matches itself whatever the content (the aperture problem): a mast, a
    horizon, a pole.
    """
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return 0.0
    jxx, jxy, jyy = (t[ys, xs] for t in tensor)
    xf, yf = xs.astype(np.float32), ys.astype(np.float32)
    dx = (T[0, 0] - 1) * xf + T[0, 1] * yf + T[0, 2]
    dy = T[1, 0] * xf + (T[1, 1] - 1) * yf + T[1, 2]
    d2 = dx * dx + dy * dy + 1e-6
    along = (dx * dx * jxx + 2 * dx * dy * jxy + dy * dy * jyy) / d2
    return float(along.sum() / ((jxx + jyy).sum() + 1e-6))


def grow_region(feat: np.ndarray, T: np.ndarray, seeds: np.ndarray, *, thr: float,
                min_area: int, margin_frac: float, min_margin: int, max_grow: int = 3,
                max_pixels: int | None = None,
                **corr_kw) -> tuple[np.ndarray, np.ndarray, tuple, int]:
    """The correlated region around ``seeds`` (full-size mask, its corr values, final ROI,
    pixels correlated).

    The search window starts as the seeds' box plus a margin and is enlarged (x2 margin)
    while the region touches a window side that is not the image border, unless the pixels
    correlated so far plus the larger window would exceed ``max_pixels`` (the first window
    is always searched): then the region found in the last window is kept.
    """
    H, W = feat.shape
    margin = margin_frac
    mm = min_margin
    used = 0
    for it in range(max_grow):
        roi = roi_around(seeds, (H, W), margin, mm)
        area = (roi[2] - roi[0]) * (roi[3] - roi[1])
        if it > 0 and max_pixels is not None and used + area > max_pixels:
            break
        x0, y0, x1, y1 = roi
        used += area
        r = side_correlation(feat, T, roi, **corr_kw)
        m = region_from_corr(r, seeds - np.array([x0, y0]), thr=thr, min_area=min_area)
        touches = ((m[0].any() and y0 > 0) or (m[-1].any() and y1 < H)
                   or (m[:, 0].any() and x0 > 0) or (m[:, -1].any() and x1 < W))
        if not touches:
            break
        margin, mm = 2 * margin + 0.5, 2 * mm
    full = np.zeros((H, W), bool)
    full[y0:y1, x0:x1] = m
    return full, r[m], (x0, y0, x1, y1), used


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Background components not touching the border become foreground."""
    import cv2

    inv = (~mask).astype(np.uint8)
    n, lab = cv2.connectedComponents(inv, connectivity=4)
    if n <= 1:
        return mask
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    hole = np.ones(n, bool)
    hole[border] = False
    hole[0] = False
    return mask | hole[lab]


def region_from_corr(r: np.ndarray, seeds: np.ndarray | None, *, thr: float,
                     min_area: int, seed_reach: int = 15) -> np.ndarray:
    """Binary region: corr >= thr, cleaned; only components near a seed point if seeds given."""
    import cv2

    m = (r >= thr).astype(np.uint8)
    k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    k7 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k3)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k7)
    if not m.any():
        return m.astype(bool)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_area
    keep[0] = False
    if seeds is not None and len(seeds):
        h, w = m.shape
        sx = np.clip(np.round(seeds[:, 0]).astype(int), 0, w - 1)
        sy = np.clip(np.round(seeds[:, 1]).astype(int), 0, h - 1)
        # a seed counts for the component within a few pixels of it: the largest label in
        # the seed_reach x seed_reach window around it (a dilation of the labels, read at
        # the seeds only)
        d = np.arange(seed_reach) - seed_reach // 2
        wy = np.clip(sy[:, None] + d, 0, h - 1)
        wx = np.clip(sx[:, None] + d, 0, w - 1)
        near = lab[wy[:, :, None], wx[:, None, :]].reshape(len(sy), -1).max(axis=1)
        hit = np.zeros(n, bool)
        hit[near] = True
        hit[lab[sy, sx]] = True
        keep &= hit
    return fill_holes(keep[lab])


def grow_by_agreement(gray: np.ndarray, T: np.ndarray, mask: np.ndarray, *, max_diff: float,
                      ring: int) -> np.ndarray:
    """``mask`` grown into neighbouring pixels x where the image equals itself under T.

    The correlation check leaves out pixels with too little local contrast (a flat patch
    inside a copied region correlates with nothing), so copies with calm parts come out
    with holes and bays. A copied pixel also equals its source: |g(x) - g(T x)| (gray
    levels, after a 3 x 3 mean) <= ``max_diff``. Such pixels are added when they connect
    to the region and lie at most ``ring`` px from it.
    """
    import cv2

    if ring <= 0 or not mask.any():
        return mask
    H, W = gray.shape
    ys, xs = np.nonzero(mask)
    x0, y0 = max(0, int(xs.min()) - ring - 1), max(0, int(ys.min()) - ring - 1)
    x1, y1 = min(W, int(xs.max()) + ring + 2), min(H, int(ys.max()) + ring + 2)
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    sx = (T[0, 0] * gx + T[0, 1] * gy + T[0, 2]).astype(np.float32)
    sy = (T[1, 0] * gx + T[1, 1] * gy + T[1, 2]).astype(np.float32)
    g = np.ascontiguousarray(gray[y0:y1, x0:x1], np.float32)
    warped = cv2.remap(np.ascontiguousarray(gray, np.float32), sx, sy, cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=-1e4)
    inside = (sx >= 0) & (sx <= W - 1) & (sy >= 0) & (sy <= H - 1)
    d = cv2.blur(np.abs(g - warped), (3, 3))
    m = mask[y0:y1, x0:x1].astype(np.uint8)
    near = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * ring + 1,) * 2)) > 0
    cand = ((d <= max_diff) & inside & near) | (m > 0)
    n, lab = cv2.connectedComponents(cand.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(lab[m > 0])] = True
    keep[0] = False
    out = mask.copy()
    out[y0:y1, x0:x1] = fill_holes(keep[lab]) | (m > 0)
    return out

