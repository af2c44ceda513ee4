"""Dense stage of the copy-move detector (private helper of ``copy_move``).

After Cozzolino, Poggi & Verdoliva 2015, "Efficient dense-field copy-move forgery
detection" (IEEE TIFS 10(11)):

1. every pixel of a reduced working copy is described by rotation-invariant features:
   the magnitudes of the Zernike moments (orders <= 4) of the disk around it, computed as
   correlations with the Zernike basis (Ryu et al. 2013 use the same features on blocks);
2. an approximate nearest-neighbour field (NNF) excluding offsets shorter than a minimum
   shift is computed with a vectorised PatchMatch (Barnes et al. 2009): random
   initialisation, offsets hinted by keypoint look-alikes (version 1.4: a small copy is
   rarely hit by random starts), propagation from neighbours at distances 8, 4, 2, 1 (jump
   flooding, evaluated for all pixels at once rather than in scan order) and random search;
3. the field is median-filtered and each pixel gets the dense linear fitting (DLF) error:
   the residual of a least-squares affine model of the offsets in a small window; copied
   regions have a smooth (affine) field, the rest a chaotic one;
4. pixels with a small DLF error, enough texture and a long enough offset are grouped
   into regions, each region gives one affine transform (RANSAC on its pixel matches).

The transforms are handed to the same correlation check as the keypoint transforms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from veriscope.detectors.image.copy_move.sift import Transform, valid_affine

ZERNIKE_ORDERS = ((0, 0), (1, 1), (2, 0), (2, 2), (3, 1), (3, 3), (4, 0), (4, 2), (4, 4))


def _radial(n: int, m: int, rho: np.ndarray) -> np.ndarray:
    m = abs(m)
    out = np.zeros_like(rho)
    for k in range((n - m) // 2 + 1):
        c = ((-1) ** k * math.factorial(n - k)
             / (math.factorial(k) * math.factorial((n + m) // 2 - k)
                * math.factorial((n - m) // 2 - k)))
        out += c * rho ** (n - 2 * k)
    return out


def zernike_kernels(radius: int) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(real, imag or None) correlation kernels of V*_nm over a disk of ``radius`` pixels."""
    r = np.arange(-radius, radius + 1, dtype=np.float64)
    yy, xx = np.meshgrid(r, r, indexing="ij")
    rho = np.hypot(xx, yy) / (radius + 0.5)
    theta = np.arctan2(yy, xx)
    disk = rho <= 1.0
    npx = float(disk.sum())
    out = []
    for n, m in ZERNIKE_ORDERS:
        R = _radial(n, m, rho) * disk * (n + 1) / npx
        if m == 0 and n > 0:
            R = np.where(disk, R - R[disk].mean(), 0.0)  # no leak of the mean brightness
        if m == 0:
            out.append((R.astype(np.float32), None))
        else:
            out.append(((R * np.cos(m * theta)).astype(np.float32),
                        (-R * np.sin(m * theta)).astype(np.float32)))
    return out


def zernike_features(gray: np.ndarray, radius: int) -> np.ndarray:
    """(D, H, W) float32 magnitudes |Z_nm| at every pixel of a float32 gray image."""
    import cv2

    feats = []
    for kr, ki in zernike_kernels(radius):
        re = cv2.filter2D(gray, cv2.CV_32F, kr, borderType=cv2.BORDER_REFLECT)
        if ki is None:
            feats.append(np.abs(re) if len(feats) else re)
        else:
            im = cv2.filter2D(gray, cv2.CV_32F, ki, borderType=cv2.BORDER_REFLECT)
            feats.append(np.sqrt(re * re + im * im))
    return np.stack(feats)


@dataclass
class DenseField:
    oy: np.ndarray  # (H, W) int32 offsets
    ox: np.ndarray
    cost: np.ndarray  # (H, W) float32 feature distance of the match


def _cost(FR: np.ndarray, FsR: np.ndarray, shape: tuple[int, int], oy: np.ndarray,
          ox: np.ndarray, ys: np.ndarray, xs: np.ndarray, min_shift2: float) -> np.ndarray:
    """Squared feature distance between grid points (ys, xs) and pixels (ys+oy, xs+ox).

    ``FR`` is the feature image as rows (H*W, D) and ``FsR`` the grid points' rows, so that
    one gather reads all features of a pixel from one cache line.
    """
    H, W = shape
    ty, tx = ys + oy, xs + ox
    ok = (ty >= 0) & (ty < H) & (tx >= 0) & (tx < W) & (oy * oy + ox * ox >= min_shift2)
    flat = np.where(ok, ty * W + tx, 0).ravel()
    x = FR.take(flat, axis=0)
    x -= FsR
    c = np.einsum("ij,ij->i", x, x).reshape(oy.shape)
    c[~ok] = np.inf
    return c


def _seed_fields(seeds, oy, ox, stride: int, radius: int, rounds: int, rng):
    """Candidate offset fields from point pairs: around each seed's first point (within
    ``radius`` grid steps) the offset to its second point; elsewhere the current offset.
    Overlapping windows overwrite each other, so the seeds are laid down ``rounds`` times
    in random orders."""
    src, dst = seeds
    gh, gw = oy.shape
    sy = np.clip(np.round(src[:, 1] / stride).astype(np.int64), 0, gh - 1)
    sx = np.clip(np.round(src[:, 0] / stride).astype(np.int64), 0, gw - 1)
    ody = np.round(dst[:, 1] - src[:, 1]).astype(np.int32)
    odx = np.round(dst[:, 0] - src[:, 0]).astype(np.int32)
    d = np.arange(-radius, radius + 1)
    wy, wx = np.meshgrid(d, d, indexing="ij")
    wy, wx = wy.ravel(), wx.ravel()
    for _ in range(rounds):
        order = rng.permutation(len(sy))
        yy = np.clip(sy[order, None] + wy[None], 0, gh - 1).ravel()
        xx = np.clip(sx[order, None] + wx[None], 0, gw - 1).ravel()
        cy, cx = oy.copy(), ox.copy()
        # the seed pair's own offset for the whole window (rotation and scale ignored: the
        # propagation and the random search refine it)
        cy[yy, xx] = np.repeat(ody[order], len(wy))
        cx[yy, xx] = np.repeat(odx[order], len(wx))
        yield cy, cx


def patchmatch(F: np.ndarray, *, min_shift: float, stride: int = 2, iters: int = 3,
               seed: int = 0, seeds=None, seed_radius: int = 4,
               seed_rounds: int = 3) -> DenseField:
    """Vectorised PatchMatch NNF from the points of a stride grid of F (D, H, W) to any pixel.

    Propagation copies a grid neighbour's offset (neighbours at 8, 4, 2, 1 grid steps in
    the first iteration, then 1): every grid point is updated at once, so one iteration
    spreads a good offset over the whole copied region in a few steps. ``seeds`` = (src,
    dst) arrays of (x, y) point pairs (keypoints and their nearest look-alikes): before
    propagating, the grid points within ``seed_radius`` steps of each src also try the pair's
    offset, kept only where it lowers their cost.
    """
    D, H, W = F.shape
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:H:stride, 0:W:stride].astype(np.int32)
    FR = np.ascontiguousarray(F.reshape(D, -1).T)
    FsR = np.ascontiguousarray(F[:, ::stride, ::stride].reshape(D, -1).T)
    shape = ys.shape
    ms2 = float(min_shift) ** 2

    def rand_field():
        return (rng.integers(0, H, shape).astype(np.int32) - ys,
                rng.integers(0, W, shape).astype(np.int32) - xs)

    oy, ox = rand_field()
    cost = _cost(FR, FsR, (H, W), oy, ox, ys, xs, ms2)

    def try_(cy, cx):
        nonlocal oy, ox, cost
        c = _cost(FR, FsR, (H, W), cy, cx, ys, xs, ms2)
        b = c < cost
        oy = np.where(b, cy, oy)
        ox = np.where(b, cx, ox)
        cost = np.where(b, c, cost)

    try_(*rand_field())
    if seeds is not None and len(seeds[0]):
        for cy, cx in _seed_fields(seeds, oy, ox, stride, seed_radius, seed_rounds, rng):
            try_(cy, cx)
    for it in range(iters):
        steps = (8, 4, 2, 1) if it == 0 else (1,)
        for s in steps:
            for dy, dx in ((0, s), (s, 0), (0, -s), (-s, 0)):
                # candidate: the offset of the grid neighbour at p - (dy, dx)
                try_(np.roll(oy, (dy, dx), axis=(0, 1)), np.roll(ox, (dy, dx), axis=(0, 1)))
        rad = max(H, W) / 8.0 if it == 0 else 4.0 * stride
        while rad >= 1.0:
            r = int(rad)
            try_(oy + rng.integers(-r, r + 1, shape).astype(np.int32),
                 ox + rng.integers(-r, r + 1, shape).astype(np.int32))
            rad /= 4.0
    return DenseField(oy, ox, cost)


def dlf_error(oy: np.ndarray, ox: np.ndarray, radius: int) -> np.ndarray:
    """Mean squared residual of a local affine fit of the offset field (box window)."""
    import cv2

    H, W = oy.shape
    k = 2 * radius + 1
    n = float(k * k)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    sxx = n * (k * k - 1) / 12.0  # sum of centred x^2 over a full k x k window

    def box(a):
        return cv2.boxFilter(a, cv2.CV_32F, (k, k), normalize=False,
                             borderType=cv2.BORDER_REFLECT)

    err = np.zeros((H, W), np.float32)
    for u in (oy.astype(np.float32), ox.astype(np.float32)):
        su, suu = box(u), box(u * u)
        sxu = box(xx * u) - xx * su
        syu = box(yy * u) - yy * su
        err += suu - su * su / n - sxu * sxu / sxx - syu * syu / sxx
    return np.maximum(err, 0.0) / n


def dense_transforms(gray: np.ndarray, *, radius: int, min_shift: float, stride: int,
                     dlf_radius: int, dlf_max: float, min_std: float, min_points: int,
                     seed: int = 0, max_regions: int = 6, seeds=None,
                     seed_radius: int = 4) -> tuple[list[Transform], dict]:
    """Transforms of the coherent regions of the NNF of a float32 gray image."""
    import cv2

    H, W = gray.shape
    F = zernike_features(gray, radius)
    nnf = patchmatch(F, min_shift=min_shift, stride=stride, seed=seed, seeds=seeds,
                     seed_radius=seed_radius)
    oy = cv2.medianBlur(nnf.oy.astype(np.float32), 5)
    ox = cv2.medianBlur(nnf.ox.astype(np.float32), 5)
    err = dlf_error(oy, ox, dlf_radius) / float(stride * stride)  # in grid units^2
    # local contrast over the disk (flat areas match anything: no evidence there)
    k = 2 * radius + 1
    mu = cv2.blur(gray, (k, k))
    sd = np.sqrt(np.maximum(cv2.blur(gray * gray, (k, k)) - mu * mu, 0.0))[::stride, ::stride]
    good = (err <= dlf_max) & (sd >= min_std) & (oy * oy + ox * ox >= min_shift ** 2)
    good &= np.isfinite(nnf.cost)
    good = cv2.morphologyEx(good.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    info = {"dense_points": int(good.sum())}
    if not good.any():
        return [], info
    n, lab, stats, _ = cv2.connectedComponentsWithStats(good, connectivity=8)
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1
    gy, gx = np.mgrid[0:H:stride, 0:W:stride]
    out: list[Transform] = []
    rng = np.random.default_rng(seed)
    for c in order[: max_regions * 2]:
        npts = int(stats[c, cv2.CC_STAT_AREA])
        if npts < min_points:
            break
        sel = lab == c
        src = np.stack([gx[sel], gy[sel]], 1).astype(np.float32)
        dst = src + np.stack([ox[sel], oy[sel]], 1).astype(np.float32)
        if len(src) > 600:
            pick = rng.choice(len(src), 600, replace=False)
            src, dst = src[pick], dst[pick]
        M, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                             ransacReprojThreshold=1.5 * stride)
        if M is None:
            continue
        inl = inl.ravel().astype(bool)
        if inl.sum() < 0.5 * len(src):
            continue
        if not valid_affine(M):
            continue
        out.append(Transform(np.asarray(M, np.float64), src[inl], dst[inl], origin="dense",
                             extra={"points": npts}))
        if len(out) >= max_regions:
            break
    return out, info
