"""The copy-move analysis on a decoded RGB array (private helper of ``copy_move``).

Stages (see docs/detectors/copy_move.md for the papers and every constant):
keypoints (``sift``) and dense field (``dense``) propose affine transforms;
duplicates are merged; each transform is checked densely by correlation
(``verify``), which gives its source and copy regions; each verified transform
gets an evidence value from its support and area, mapped to a score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from veriscope.detectors.image.copy_move.sift import KeypointMatches, Transform, valid_affine


@dataclass
class Params:
    max_pixels: int = 1_000_000  # keypoints + correlation check run on a copy this size at most
    dense_max_pixels: int = 500_000  # the dense field runs on a copy this size at most
    sift_min_pixels: int = 400_000  # smaller working copies are upsampled for SIFT only
    max_keypoints: int = 5000
    sift_contrast: float = 0.01
    kp_spread: float = 1.0  # share of the keypoint budget spread over a grid (sift.py)
    kp_cell: float = 48.0  # px of the SIFT image, grid cell of that spread
    g2nn_ratio: float = 0.6
    min_shift: float = 12.0  # px (working copy): shorter displacements are not copy-moves
    reproj: float = 3.0  # RANSAC tolerance, px
    min_inliers: int = 3
    cluster_frac: float = 0.08  # single-linkage cut, fraction of the diagonal
    max_transforms: int = 24  # candidate transforms checked (1.3: 8)
    # work budgets (1.6): the cost is bounded by the working copy's size, not by its content;
    # see "Work budgets" in the doc. The *_budget values are multiples of the working copy's
    # pixels.
    # (each above the largest need of the 504 pictures of the four kodak24 FIT sets, so no
    # FIT picture is capped: matches 313, RANSAC work 889, verify 5.5, share 9.0, agree 1.0)
    max_matches: int = 1000  # keypoint matches offered to RANSAC (most alike first)
    ransac_max_work: int = 2000  # matches offered over all sequential RANSAC rounds
    cluster_max_points: int = 600  # inliers of one model clustered exactly (more: thinned)
    verify_budget: float = 6.0  # pixels correlated to outline the candidates' regions
    share_budget: float = 10.0  # pixels correlated by the periodicity and lattice tests
    agree_budget: float = 2.0  # pixels examined by the growth by agreement
    dense: bool = True
    zernike_radius: int = 8
    dense_stride: int = 2
    dlf_radius: int = 3
    dlf_max: float = 0.5  # grid units^2
    dense_min_std: float = 3.0
    dense_min_points: int = 25
    dense_seeds: int = 2  # nearest keypoint neighbours per keypoint offered to PatchMatch
    dense_seed_radius: int = 4  # grid steps around a seeded keypoint
    dense_max_regions: int = 20  # largest coherent regions of the field made transforms (1.3: 6)
    corr_sigma: float = 2.0
    corr_highpass: float = 2.0  # correlate g - Gaussian(g, this sigma): ramps cancel out
    corr_min_std: float = 1.0
    min_aperture: float = 0.1  # region's gradient energy along the shift / total (aperture)
    corr_thr: float = 0.6
    # 1.7: evidence lost per gray level of mismatch above MISMATCH_FREE (a copy repeats its
    # source's gray levels, a look-alike object only its texture); 0 turns the term off
    mismatch_weight: float = 0.5
    min_region_area: int = 64  # px of the working copy, per side
    roi_margin: float = 1.0  # a region is searched within its inliers' box grown by this x size
    roi_min_margin: int = 48  # px, and by at least this
    grow_ring: int = 16  # px: verified regions grow this far into pixels equal under the map
    grow_diff: float = 4.0  # gray levels (3x3 mean of |g(x) - g(T x)|) counted as equal
    # image score = logistic((evidence - EVIDENCE_AT_HALF) / EVIDENCE_WIDTH), see the doc
    evidence_at_half: float = 2.6  # fitted on FIT, see EVIDENCE_WEIGHTS and the doc
    evidence_width: float = 0.5
    exact: bool = True  # exact-duplicate stage (exact.py) on the native pixels, when given
    exact_min_blocks: int = 64  # identical textured 8x8 block pairs sharing one shift
    exact_min_texture: float = 1.0  # gray levels, mean |Laplacian| of a block taking part
    exact_max_group: int = 4  # more identical blocks than this = a repeated pattern
    exact_max_flat: float = 0.5  # blocks with more equal neighbour pairs are graphics
    exact_max_pixels: int = 16_000_000  # larger images skip the exact stage (cost)
    seed: int = 0


@dataclass
class Found:
    """One verified copy-move hypothesis."""

    T: Transform
    src_mask: np.ndarray
    dst_mask: np.ndarray
    support: int  # keypoint matches consistent with T
    dense_points: int  # dense-field points consistent with T (0 if not from the dense stage)
    corr: float  # mean correlation over the two regions
    periodic: float = 0.0  # share of the source region that also matches under T applied twice
    evidence: float = 0.0
    score: float = 0.0
    core_area: int = -1  # source + copy area of the correlated core (what the score counts)
    exact_blocks: int = 0  # identical 8x8 block pairs under T in the native pixels (0: none)
    mismatch: float = 0.0  # median |g(x) - g(T x)| over the correlated source core, gray levels
    flat_around: float = 0.0  # share of flat pixels (3x3 constant) around an exact pair

    @property
    def area(self) -> int:
        return int(self.src_mask.sum() + self.dst_mask.sum())

    @property
    def scored_area(self) -> int:
        return self.core_area if self.core_area >= 0 else self.area


@dataclass
class Result:
    heat: np.ndarray  # float32 map at the working size
    found: list[Found]
    score: float
    scale: float  # working size / input size
    n_keypoints: int = 0
    n_matches: int = 0
    n_dense_points: int = 0
    timings: dict = field(default_factory=dict)
    work: dict = field(default_factory=dict)  # what each stage did, against its budget


def _resize_to(rgb: np.ndarray, max_pixels: int) -> tuple[np.ndarray, float]:
    import cv2

    h, w = rgb.shape[:2]
    if h * w <= max_pixels:
        return rgb, 1.0
    s = (max_pixels / (h * w)) ** 0.5
    nw, nh = max(1, int(round(w * s))), max(1, int(round(h * s)))
    return cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA), nw / w


def _apply(M: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ M[:, :2].T + M[:, 2]


def _inverse(M: np.ndarray) -> np.ndarray:
    A = np.vstack([M, [0.0, 0.0, 1.0]])
    return np.linalg.inv(A)[:2]


def consistent_matches(M: np.ndarray, m: KeypointMatches, tol: float) -> np.ndarray:
    """Indexes of keypoint matches fitting M in either orientation."""
    if len(m.src) == 0:
        return np.zeros(0, np.int64)
    f = np.linalg.norm(_apply(M, m.src) - m.dst, axis=1) <= tol
    b = np.linalg.norm(_apply(M, m.dst) - m.src, axis=1) <= tol
    return np.nonzero(f | b)[0]


def same_transform(a: Transform, b: Transform, tol: float) -> bool:
    """True when b maps a's inliers like a does (or like a's inverse does)."""
    if len(a.src) == 0:
        return False
    e1 = np.median(np.linalg.norm(_apply(b.M, a.src) - a.dst, axis=1))
    e2 = np.median(np.linalg.norm(_apply(b.M, a.dst) - a.src, axis=1))
    return bool(min(e1, e2) <= tol)


def compose(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The affine map x -> A(B(x))."""
    a = np.vstack([A, [0.0, 0.0, 1.0]])
    b = np.vstack([B, [0.0, 0.0, 1.0]])
    return (a @ b)[:2]


def _inside(mask: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    x = np.clip(np.round(pts[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(pts[:, 1]).astype(int), 0, h - 1)
    return mask[y, x]


EVIDENCE_WEIGHTS = (1.0, 2.0, 7.0)
"""(matches, area, periodicity) weights of :func:`evidence_of`: a logistic regression of
'transform overlaps the true forgery' on the three terms over the FIT split (kodak24
forgeries), normalised to the first weight and rounded (benchmarks/classic_copymove.py
prints the fit)."""


LATTICE_MIN_OTHERS = 3
"""A region also matching under this many other verified transforms counts as periodic."""


MISMATCH_FREE = 9.0
"""Gray levels of median |g(x) - g(T x)| over a pair's correlated source core that cost
nothing (JPEG noise, the interpolation of a rotated or scaled copy: FIT copies reach 9.2).
Above it each gray level costs ``Params.mismatch_weight`` (0.5) of evidence: a copy repeats
the gray levels of its source, while look-alike objects (the windows of a facade, two similar
flowers) repeat their texture at another brightness (FIT look-alikes: 8-15). Chosen on FIT
only (kodak24 forgeries and originals of ``benchmarks/classic_copymove.py``, the 164
camera-fit photos of ``benchmarks/calibration.py``), among weights 0.2-2 and free levels 5-10,
as the pair that keeps every FIT forgery found at 0.5 and at the verdict's bar 0.6 and
removes the most FIT false alarms (docs/detectors/copy_move.md, version 1.7)."""


def intensity_mismatch(gray: np.ndarray, M: np.ndarray, mask: np.ndarray,
                       max_points: int = 20000) -> float:
    """Median |g(x) - g(M x)| (gray levels) over the pixels x of ``mask`` whose image M x
    lies inside the picture (at most ``max_points`` of them, evenly spaced); 0 when none.
    ``gray``: the gray image, uint8 or float32."""
    import cv2

    ys, xs = np.nonzero(mask)
    if len(xs) > max_points:
        keep = np.linspace(0, len(xs) - 1, max_points).astype(np.int64)
        ys, xs = ys[keep], xs[keep]
    H, W = gray.shape
    sx = M[0, 0] * xs + M[0, 1] * ys + M[0, 2]
    sy = M[1, 0] * xs + M[1, 1] * ys + M[1, 2]
    ok = (sx >= 0) & (sx <= W - 1) & (sy >= 0) & (sy <= H - 1)
    n = int(ok.sum())
    if n == 0:
        return 0.0
    m = -(-n // 1024) * 1024  # cv2.remap wants maps under 32767 px a side: rows of 1024
    mx = np.zeros(m, np.float32)
    my = np.zeros(m, np.float32)
    mx[:n], my[:n] = sx[ok], sy[ok]
    g = gray if gray.dtype == np.float32 else gray.astype(np.float32)
    moved = cv2.remap(g, mx.reshape(-1, 1024), my.reshape(-1, 1024), cv2.INTER_LINEAR)
    diff = np.abs(moved.ravel()[:n] - g[ys[ok], xs[ok]])
    return float(np.median(diff))


def evidence_of(f: Found, n_pixels: int, mismatch_weight: float = 0.0) -> float:
    """log10(1 + matches) + 2 log10(1 + area in 1/1000 of the image) - 7 periodicity
    - mismatch_weight * max(0, mismatch - MISMATCH_FREE).

    matches: keypoint matches consistent with the transform; area: the verified source +
    copy area of the correlated core (before ``grow_by_agreement``); periodicity: see
    :func:`periodicity` (a facade or a fence repeats, a copy does not); mismatch: see
    :func:`intensity_mismatch` (a copy keeps its source's gray levels).
    """
    wm, wa, wp = EVIDENCE_WEIGHTS
    area_permille = 1000.0 * f.scored_area / max(n_pixels, 1)
    return float(wm * np.log10(1.0 + f.support) + wa * np.log10(1.0 + area_permille)
                 - wp * f.periodic - mismatch_weight * max(0.0, f.mismatch - MISMATCH_FREE))


def logistic(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


EXACT_MIN_SCORE = 0.8
"""Score floor of a verified shift that repeats at least ``Params.exact_min_blocks`` textured
8x8 blocks pixel for pixel (rule, see the doc): natural scenes and cameras do not repeat a
textured area exactly; none of the FIT photos, as PNG or as JPEG q30-95 decoded and saved
losslessly (192 pictures at 500 and 750 px), has such a shift, even at 16 blocks."""
EXACT_MAX_PERIODIC = 0.25
"""... unless the pair also matches under its own shift repeated (a repeated pattern) ..."""
EXACT_MAX_FLAT_AROUND = 0.5
"""... or most pixels around the pair are flat (constant over 3x3): text, icons and other
graphics of a screenshot repeat exactly by nature. Innocent FIT photos have at most 16 % of
flat pixels over the whole picture (43 % once re-saved from JPEG q50); a rendered
screenshot 95 %."""
EXACT_RING = 16
"""px (working copy) around an exact pair in which ``flat_around`` is measured."""


def score_found(f: Found, n_pixels: int, p: Params) -> None:
    """Set ``f.evidence`` (:func:`evidence_of`) and ``f.score``, with the exact-copy floor."""
    f.evidence = evidence_of(f, n_pixels, p.mismatch_weight)
    if (f.exact_blocks >= p.exact_min_blocks and f.periodic <= EXACT_MAX_PERIODIC
            and f.flat_around <= EXACT_MAX_FLAT_AROUND):
        floor = p.evidence_at_half + p.evidence_width * float(
            np.log(EXACT_MIN_SCORE / (1.0 - EXACT_MIN_SCORE)))
        f.evidence = max(f.evidence, floor)
    f.score = logistic((f.evidence - p.evidence_at_half) / p.evidence_width)


@dataclass
class Proposals:
    transforms: list[Transform]
    matches: KeypointMatches
    n_keypoints: int
    n_dense_points: int
    pts: np.ndarray | None = None  # keypoint positions (N, 2)
    desc: np.ndarray | None = None  # RootSIFT descriptors (N, 128)
    work: dict = field(default_factory=dict)


def propose(gray8: np.ndarray, p: Params, tm: dict | None = None,
            native: np.ndarray | None = None) -> Proposals:
    """Candidate transforms from exact duplicates in ``native`` (the full-resolution gray
    image, when given), keypoints and the dense field, duplicates merged."""
    import cv2

    from veriscope.detectors.image.copy_move import dense as _cmfd_dense
    from veriscope.detectors.image.copy_move import exact as _cmfd_exact
    from veriscope.detectors.image.copy_move import sift as _cmfd_sift

    tm = {} if tm is None else tm
    work: dict = {}
    exact: list[Transform] = []
    if p.exact and native is not None and native.size <= p.exact_max_pixels:
        t = time.perf_counter()
        k = gray8.shape[1] / native.shape[1]  # native px -> working px
        ets = _cmfd_exact.exact_transforms(
            native, min_shift=p.min_shift / k, min_blocks=p.exact_min_blocks,
            min_texture=p.exact_min_texture, max_group=p.exact_max_group,
            max_flat=p.exact_max_flat)
        for e in ets:
            M = e.M.copy()
            M[:, 2] *= k
            if k != 1.0:  # the identical blocks, outlined on the working copy
                for key in ("src_mask", "dst_mask"):
                    e.extra[key] = cv2.resize(e.extra[key].astype(np.uint8), gray8.shape[::-1],
                                              interpolation=cv2.INTER_AREA) > 0
            exact.append(Transform(M, e.src * k, e.dst * k, origin="exact", extra=e.extra))
        tm["exact"] = time.perf_counter() - t
    H, W = gray8.shape
    diag = float(np.hypot(H, W))
    t = time.perf_counter()
    g = gray8
    if gray8.size < p.sift_min_pixels:  # small images: upsample so small copies get keypoints
        import cv2

        f = (p.sift_min_pixels / gray8.size) ** 0.5
        g = cv2.resize(gray8, (int(round(W * f)), int(round(H * f))),
                       interpolation=cv2.INTER_CUBIC)
    k = W / g.shape[1]  # SIFT px -> working px
    pts, desc = _cmfd_sift.detect(g, p.max_keypoints, p.sift_contrast, p.kp_spread, p.kp_cell,
                                  stats=work)
    pts = pts * k
    matches = _cmfd_sift.g2nn_matches(pts, desc, ratio=p.g2nn_ratio, min_dist=p.min_shift,
                                      near=p.dense_seeds if p.dense else 0)
    offered = matches.best(p.max_matches) if p.max_matches > 0 else matches
    work.update(keypoints=len(pts), matches=len(matches.src), matches_offered=len(offered.src))
    transforms = _cmfd_sift.find_transforms(
        offered, reproj=p.reproj, min_inliers=p.min_inliers, min_shift=p.min_shift,
        cluster_cut=p.cluster_frac * diag, max_models=p.max_transforms, seed=p.seed,
        max_work=p.ransac_max_work, cluster_max_points=p.cluster_max_points, stats=work)
    tm["keypoints"] = time.perf_counter() - t

    n_dense = 0
    if p.dense:
        t = time.perf_counter()
        dwork, dscale = _resize_to(gray8, p.dense_max_pixels)
        k = gray8.shape[1] / dwork.shape[1]  # dense px -> working px
        seeds = None
        if matches.near_src is not None:
            seeds = (matches.near_src / k, matches.near_dst / k)
        dts, dinfo = _cmfd_dense.dense_transforms(
            dwork.astype(np.float32), radius=p.zernike_radius, min_shift=p.min_shift / k,
            stride=p.dense_stride, dlf_radius=p.dlf_radius, dlf_max=p.dlf_max,
            min_std=p.dense_min_std, min_points=p.dense_min_points, seed=p.seed, seeds=seeds,
            seed_radius=p.dense_seed_radius, max_regions=p.dense_max_regions)
        n_dense = dinfo.get("dense_points", 0)
        for d in dts:
            M = d.M.copy()
            M[:, 2] *= k
            transforms.append(Transform(M, d.src * k, d.dst * k, origin="dense", extra=d.extra))
        tm["dense"] = time.perf_counter() - t

    # merge duplicates: keep the first (exact shifts first, then keypoint transforms ordered
    # by support, then the dense ones)
    uniq: list[Transform] = []
    for tr in exact + transforms:
        dup = next((u for u in uniq if same_transform(tr, u, 2.0 * p.reproj)), None)
        if dup is None:
            uniq.append(tr)
        elif tr.origin == "dense":
            dup.extra["points"] = dup.extra.get("points", 0) + tr.extra.get("points", 0)
    work.update(transforms=len(uniq), transforms_checked=min(len(uniq), p.max_transforms))
    return Proposals(uniq[: p.max_transforms], matches, len(pts), n_dense, pts, desc, work)


def periodicity(feat: np.ndarray, M: np.ndarray, Minv: np.ndarray, src: _Box | None,
                dst: _Box | None, p: Params, frac: float = 1.0, work: list | None = None,
                **kw) -> float:
    """How much the pair looks like part of a repeating pattern (a facade, tiles, a fence).

    A copy matches its source and nothing else; a periodic texture shifted by one period
    also matches when shifted once more, or by a half or a third of the shift (when the
    shift is 2 or 3 periods). The source region is tested against T(T x), T^-1(x) and the
    map with half and a third of T's translation, the copy against T(x) and T^-1(T^-1 x);
    the result is the largest share of matching pixels among the tests where at least
    30 % of the region stays in the image. (``verify`` also tests each region against the
    other transforms found in the image: a lattice of repeats gives many.) ``src`` /
    ``dst``: the regions' boxes (:func:`_box`); ``frac``, ``work``: see
    :func:`_matched_share`.
    """
    half, third = M.copy(), M.copy()
    half[:, 2] /= 2.0
    third[:, 2] /= 3.0
    return max(_matched_share(feat, src, [compose(M, M), Minv, half, third], p, frac, work, **kw),
               _matched_share(feat, dst, [M, compose(Minv, Minv)], p, frac, work, **kw))


@dataclass
class _Box:
    """A region's bounding box (x0, y0, x1, y1) and its mask inside the box."""

    roi: tuple
    inside: np.ndarray
    stats: tuple | None = None  # verify.local_stats of the image in the box, once computed
    at: tuple | None = None  # (rows, cols) of the region's pixels in the box, once computed

    @property
    def area(self) -> int:
        return int(self.inside.size)

    def local_stats(self, feat: np.ndarray, sigma: float) -> tuple:
        from veriscope.detectors.image.copy_move import verify as _cmfd_verify

        if self.stats is None:
            x0, y0, x1, y1 = self.roi
            self.stats = _cmfd_verify.local_stats(np.ascontiguousarray(feat[y0:y1, x0:x1]), sigma)
        return self.stats

    def pixels(self) -> tuple:
        if self.at is None:
            self.at = np.nonzero(self.inside)
        return self.at


def _box(mask: np.ndarray) -> _Box | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return None
    x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    return _Box((x0, y0, x1, y1), mask[y0:y1, x0:x1])


SHARE_TILE = 32
"""px: side of the tiles on which a share is measured when the full test would exceed
``share_budget``."""


def _share_tiles(box: _Box, frac: float, margin: int) -> np.ndarray | None:
    """Top-left corners (row, col, in the box) of the tiles on which a share is measured to
    spend about ``frac`` of the box's pixels: None (the whole box) when ``frac`` >= 1 or
    when the tiles would cover the box anyway, else evenly spaced ones (in raster order)
    among the ``SHARE_TILE`` x ``SHARE_TILE`` tiles holding region pixels, at least one."""
    if frac >= 1.0:
        return None
    h, w = box.inside.shape
    t = SHARE_TILE
    nty, ntx = -(-h // t), -(-w // t)
    n = int(frac * h * w // (t + 2 * margin) ** 2)
    if n >= nty * ntx:
        return None
    pad = np.zeros((nty * t, ntx * t), bool)
    pad[:h, :w] = box.inside
    occ = np.flatnonzero(pad.reshape(nty, t, ntx, t).any(axis=(1, 3)))
    pick = occ[np.unique(np.linspace(0, len(occ) - 1, max(n, 1)).round().astype(int))]
    return np.stack([pick // ntx * t, pick % ntx * t], 1)


def _tile_values(feat: np.ndarray, T: np.ndarray, box: _Box, corners: np.ndarray, margin: int,
                 *, sigma: float, min_std: float, min_shift: float) -> tuple[np.ndarray, int]:
    """``verify.side_correlation`` on the given tiles of a box, all at once: each tile is
    correlated in a window ``margin`` px larger on every side (its own surroundings, so
    its values are those of a correlation over a larger area), the windows stacked in one
    mosaic. Returns the values at the region's pixels of the tiles and the pixels
    correlated."""
    import cv2

    from veriscope.detectors.image.copy_move import verify as _cmfd_verify

    H, W = feat.shape
    t, m = SHARE_TILE, margin
    S = t + 2 * m
    x0, y0 = box.roi[0], box.roi[1]
    d = np.arange(S) - m
    yy = (y0 + corners[:, :1] + d[None, :]).astype(np.int64)  # (n, S) image rows
    xx = (x0 + corners[:, 1:] + d[None, :]).astype(np.int64)
    a = feat[np.clip(yy, 0, H - 1)[:, :, None], np.clip(xx, 0, W - 1)[:, None, :]]
    ys = np.broadcast_to(yy[:, :, None], a.shape).astype(np.float32)
    xs = np.broadcast_to(xx[:, None, :], a.shape).astype(np.float32)
    sx = (T[0, 0] * xs + T[0, 1] * ys + T[0, 2]).astype(np.float32)
    sy = (T[1, 0] * xs + T[1, 1] * ys + T[1, 2]).astype(np.float32)
    n = len(corners)
    a, sx, sy = (np.ascontiguousarray(v.reshape(n * S, S)) for v in (a, sx, sy))
    wimg = cv2.remap(feat, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=0)
    r, sd = _cmfd_verify.zncc(a, wimg, sigma)
    dx, dy = sx - xs.reshape(n * S, S), sy - ys.reshape(n * S, S)
    ok = (sx >= 0) & (sx <= W - 1) & (sy >= 0) & (sy <= H - 1)
    ok &= (sd >= min_std) & (dx * dx + dy * dy >= min_shift * min_shift)
    r = np.where(ok, r, 0.0).reshape(n, S, S)[:, m:m + t, m:m + t]
    h, w = box.inside.shape
    pad = np.zeros((h + t, w + t), bool)
    pad[:h, :w] = box.inside
    inside = np.stack([pad[cy:cy + t, cx:cx + t] for cy, cx in corners])
    return r[inside], n * S * S


def _matched_share(feat: np.ndarray, box: _Box | None, maps: list, p: Params,
                   frac: float = 1.0, work: list | None = None, **kw) -> float:
    """Largest share of the region's pixels correlating under one of ``maps`` (>= 30 %
    defined). ``frac`` < 1: measured on tiles of the region spending about that share of
    its box's pixels (``share_budget``); ``work``: a one-item list the pixels correlated are
    added to."""
    from veriscope.detectors.image.copy_move import verify as _cmfd_verify

    if box is None:
        return 0.0
    margin = int(np.ceil(4.0 * kw.get("sigma", 2.0)))  # the Gaussian window's reach
    corners = _share_tiles(box, frac, margin)
    best = 0.0
    for T in maps:
        if corners is None:
            vals = _cmfd_verify.side_correlation(feat, T, box.roi, at=box.pixels(),
                                                 a_stats=box.local_stats(feat, kw["sigma"]),
                                                 **kw)
            px = box.area
        else:
            vals, px = _tile_values(feat, T, box, corners, margin, **kw)
        if work is not None:
            work[0] += px
        defined = vals != 0
        if len(vals) and defined.sum() >= 0.3 * len(vals):
            best = max(best, float((vals[defined] >= p.corr_thr).mean()))
    return best


def verify(gray8: np.ndarray, props: Proposals, p: Params, tm: dict | None = None,
           work: dict | None = None) -> list[Found]:
    """Correlation check of every proposal; the verified ones with their regions and scores.

    Three work budgets, in multiples of the working copy's pixels, bound the cost whatever
    the content (a page of text, a facade or a grid of near-identical pictures give many
    large candidate regions, each tested against every other): ``verify_budget`` for
    outlining the candidates (in their order: candidates left when it is spent are not
    checked; a region's search window stops growing rather than exceed it),
    ``share_budget`` for the periodicity tests and then the lattice test (measured on tiles
    of each region when the full tests would exceed it) and ``agree_budget`` for the growth
    by agreement (the highest-scoring pairs first; the others keep their correlated core).
    ``work`` (a dict) receives what was spent.
    """
    import cv2

    from veriscope.detectors.image.copy_move import verify as _cmfd_verify

    tm = {} if tm is None else tm
    work = {} if work is None else work
    t = time.perf_counter()
    H, W = gray8.shape
    npx = H * W
    grayf = gray8.astype(np.float32)
    if p.corr_highpass > 0:
        grayf = grayf - cv2.GaussianBlur(grayf, (0, 0), p.corr_highpass)
    tensor = _cmfd_verify.structure_tensor(grayf, 3.0) if p.min_aperture > 0 else None
    found: list[Found] = []
    kw = dict(sigma=p.corr_sigma, min_std=p.corr_min_std, min_shift=p.min_shift)
    flat = None  # pixels whose 3x3 neighbourhood is constant, for exact pairs only
    if any(tr.origin == "exact" for tr in props.transforms):
        k3 = np.ones((3, 3), np.uint8)
        flat = cv2.dilate(gray8, k3) == cv2.erode(gray8, k3)
    capped: list[str] = []
    budget = int(p.verify_budget * npx)
    used = 0
    n_unchecked = 0
    checked: list = []  # (transform, its inverse, source mask, copy mask, correlations)
    for tr in props.transforms:
        if not valid_affine(tr.M):
            continue
        if used >= budget:
            n_unchecked += 1
            continue
        Minv = _inverse(tr.M)
        ms, cs, _, u = _cmfd_verify.grow_region(
            grayf, tr.M, tr.src, thr=p.corr_thr, min_area=p.min_region_area,
            margin_frac=p.roi_margin, min_margin=p.roi_min_margin,
            max_pixels=max(budget - used, 0), **kw)
        used += u
        md, cd, _, u = _cmfd_verify.grow_region(
            grayf, Minv, tr.dst, thr=p.corr_thr, min_area=p.min_region_area,
            margin_frac=p.roi_margin, min_margin=p.roi_min_margin,
            max_pixels=max(budget - used, 0), **kw)
        used += u
        if tr.origin == "exact":  # identical pixels: the blocks themselves are the proof
            ms, md = ms | tr.extra["src_mask"], md | tr.extra["dst_mask"]
        if ms.sum() < p.min_region_area or md.sum() < p.min_region_area:
            continue
        if tr.origin != "exact" and tensor is not None and \
                _cmfd_verify.aperture_ratio(tensor, tr.M, ms) < p.min_aperture:
            continue  # an edge or a line matching itself along its own direction
        checked.append((tr, Minv, ms, md, np.concatenate([cs, cd])))
    if used > budget or n_unchecked:
        capped.append("verify")
    work.update(verify_px=used, verify_budget_px=budget, transforms_unchecked=n_unchecked)

    # periodicity of every pair, then the lattice test, within ``share_budget``: first the
    # pixels the full tests would correlate, then the share of each box they may use
    boxes = [(_box(ms), _box(md)) for _, _, ms, md, _ in checked]
    others = [[j for j, (trj, *_) in enumerate(checked)
               if j != i and not same_transform(tri, trj, 2.0 * p.reproj)]
              for i, (tri, *_) in enumerate(checked)]
    need_per = sum(4 * (bs.area if bs else 0) + 2 * (bd.area if bd else 0) for bs, bd in boxes)
    need_lat = sum(2 * len(o) * (bs.area if bs else 0)
                   for o, (bs, _) in zip(others, boxes, strict=True) if len(o) >= LATTICE_MIN_OTHERS)
    sbudget = int(p.share_budget * npx)
    spent = [0]
    frac = min(1.0, sbudget / need_per) if need_per else 1.0
    gray32 = gray8.astype(np.float32)  # the gray levels themselves, for the mismatch term
    for (tr, Minv, ms, md, cc), (bs, bd) in zip(checked, boxes, strict=True):
        sup = len(consistent_matches(tr.M, props.matches, p.reproj))
        per = periodicity(grayf, tr.M, Minv, bs, bd, p, frac, spent, **kw)
        f = Found(tr, ms, md, support=sup, dense_points=int(tr.extra.get("points", 0)),
                  corr=float(cc.mean()) if len(cc) else 1.0,
                  periodic=per,
                  exact_blocks=int(tr.extra.get("exact_blocks", 0)),
                  mismatch=intensity_mismatch(gray32, tr.M, ms))
        if tr.origin == "exact" and flat is not None:
            ring = cv2.dilate((ms | md).astype(np.uint8), np.ones((2 * EXACT_RING + 1,) * 2,
                                                                  np.uint8)) > 0
            f.flat_around = float(flat[ring].mean())
        score_found(f, npx, p)
        found.append(f)
    # a region that matches under three or more other transforms is a repeating pattern
    # (a lattice of repeats); one or two others can be legitimate multiple clones
    frac_lat = min(1.0, max(sbudget - spent[0], 0) / need_lat) if need_lat else 1.0
    if frac < 1.0 or frac_lat < 1.0:
        capped.append("share")
    for i, fi in enumerate(found):
        if len(others[i]) >= LATTICE_MIN_OTHERS:
            bs = boxes[i][0]
            shares = sorted((max(_matched_share(grayf, bs, [found[j].T.M], p, frac_lat, spent, **kw),
                                 _matched_share(grayf, bs, [_inverse(found[j].T.M)], p, frac_lat,
                                                spent, **kw))
                             for j in others[i]), reverse=True)
            per = shares[LATTICE_MIN_OTHERS - 1]
            if per > fi.periodic:
                fi.periodic = per
                score_found(fi, npx, p)
    work.update(share_px=spent[0], share_budget_px=sbudget, share_needed_px=need_per + need_lat)
    if p.grow_ring > 0:  # localisation only: evidence and scores above use the correlated core
        abudget = int(p.agree_budget * npx)
        aused = 0
        for f in sorted(found, key=lambda f: -f.score):  # stable: ties keep their order
            f.core_area = f.area
            need = sum(_grown_box_area(m, p.grow_ring, (H, W)) for m in (f.src_mask, f.dst_mask))
            if aused + need > abudget:
                if "agree" not in capped:
                    capped.append("agree")
                continue
            aused += need
            f.src_mask = _cmfd_verify.grow_by_agreement(gray8, f.T.M, f.src_mask,
                                                        max_diff=p.grow_diff, ring=p.grow_ring)
            f.dst_mask = _cmfd_verify.grow_by_agreement(gray8, _inverse(f.T.M), f.dst_mask,
                                                        max_diff=p.grow_diff, ring=p.grow_ring)
        work.update(agree_px=aused, agree_budget_px=abudget)
    work["capped"] = capped
    found.sort(key=lambda f: -f.score)
    tm["verify"] = time.perf_counter() - t
    return found


def capped_stages(work: dict, p: Params) -> list[str]:
    """The stages whose budget bound in this analysis, in pipeline order (``keypoints``: more
    keypoints were detected than ``max_keypoints``, the usual case for a photo)."""
    out = []
    if work.get("keypoints_detected", 0) > p.max_keypoints:
        out.append("keypoints")
    if work.get("matches", 0) > work.get("matches_offered", 0):
        out.append("matches")
    if work.get("ransac_capped"):
        out.append("ransac")
    if work.get("cluster_thinned"):
        out.append("cluster")
    if work.get("transforms", 0) > work.get("transforms_checked", 0):
        out.append("transforms")
    return out + [c for c in work.get("capped", []) if c not in out]


def _grown_box_area(mask: np.ndarray, ring: int, shape) -> int:
    """Pixels of the window ``verify.grow_by_agreement`` examines around ``mask``."""
    b = _box(mask)
    if b is None:
        return 0
    H, W = shape
    x0, y0, x1, y1 = b.roi
    return ((min(W, x1 + ring + 1) - max(0, x0 - ring - 1))
            * (min(H, y1 + ring + 1) - max(0, y0 - ring - 1)))


def analyze_rgb(rgb: np.ndarray, p: Params | None = None, *,
                native: np.ndarray | None = None) -> Result:
    """Copy-move analysis of ``rgb`` (reduced to ``p.max_pixels`` inside). ``native``: the
    picture's own full-resolution RGB when it was stored losslessly (the exact-duplicate
    stage looks for identical pixels, which lossy compression does not keep); None skips
    that stage."""
    import cv2

    p = p or Params()
    tm: dict[str, float] = {}
    t0 = time.perf_counter()
    work, scale = _resize_to(np.ascontiguousarray(rgb), p.max_pixels)
    gray8 = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY)
    H, W = gray8.shape
    ngray = None
    if native is not None and p.exact:
        if native is rgb and scale == 1.0:
            ngray = gray8
        elif native.ndim == 2:
            ngray = np.ascontiguousarray(native, dtype=np.uint8)
        else:
            ngray = cv2.cvtColor(np.ascontiguousarray(native[..., :3]), cv2.COLOR_RGB2GRAY)
    props = propose(gray8, p, tm, native=ngray)
    work = dict(props.work)
    found = verify(gray8, props, p, tm, work)
    work["capped"] = capped_stages(work, p)
    heat = np.zeros((H, W), np.float32)
    for f in found:
        reg = (f.src_mask | f.dst_mask).astype(np.float32)
        heat = np.maximum(heat, reg * f.score)
    score = found[0].score if found else 0.0
    tm["total"] = time.perf_counter() - t0
    return Result(heat, found, float(score), scale, n_keypoints=props.n_keypoints,
                  n_matches=len(props.matches.src), n_dense_points=props.n_dense_points,
                  timings=tm, work=work)
