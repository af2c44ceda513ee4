"""Keypoint stage of the copy-move detector (private helper of ``copy_move``).

SIFT keypoints (Lowe 2004) described with RootSIFT (Arandjelovic & Zisserman 2012),
matched inside the same image with the generalised 2NN test (g2NN) of Amerini et al.
2011, then grouped into geometric transformations with sequential RANSAC on a
similarity model (rotation + isotropic scale + translation), refined to a full affine
map when enough inliers support it, and split into spatially coherent clusters
(single-linkage on the matched pairs, as Amerini et al. cluster matched keypoints).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class KeypointMatches:
    src: np.ndarray  # (N, 2) float32 x, y of one end of each match
    dst: np.ndarray  # (N, 2) float32 x, y of the other end
    n_keypoints: int = 0
    # nearest neighbours of every keypoint (no ratio test): offset hints for the dense field
    near_src: np.ndarray | None = None
    near_dst: np.ndarray | None = None
    # descriptor distance of each match (smaller = more alike), for the match budget
    dist: np.ndarray | None = None

    def best(self, n: int) -> KeypointMatches:
        """The ``n`` matches of smallest descriptor distance (ties: original order), in their
        original order; ``self`` when there are not more than ``n``."""
        if len(self.src) <= n or self.dist is None:
            return self
        keep = np.sort(np.argsort(self.dist, kind="stable")[:n])
        return KeypointMatches(self.src[keep], self.dst[keep], self.n_keypoints,
                               self.near_src, self.near_dst, self.dist[keep])


@dataclass
class Transform:
    """An affine map ``dst = M @ [x, y, 1]`` from a source region to its copy (working pixels)."""

    M: np.ndarray  # (2, 3) float64
    src: np.ndarray  # inlier source points (K, 2)
    dst: np.ndarray  # inlier copy points (K, 2)
    origin: str = "keypoints"
    extra: dict = field(default_factory=dict)

    @property
    def n_inliers(self) -> int:
        return int(len(self.src))

    def scale(self) -> float:
        return float(np.sqrt(abs(np.linalg.det(self.M[:, :2]))))

    def angle_deg(self) -> float:
        a = self.M[:, :2]
        return float(np.degrees(np.arctan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1])))

    def shift(self) -> float:
        """Median displacement of the inliers, in working pixels."""
        if len(self.src) == 0:
            return 0.0
        return float(np.median(np.linalg.norm(self.dst - self.src, axis=1)))


def valid_affine(M) -> bool:
    """A plausible copy-move map: finite, no reflection, scale 0.4-2.5, near-isotropic."""
    if M is None:
        return False
    M = np.asarray(M, np.float64)
    if M.shape != (2, 3) or not np.isfinite(M).all():
        return False
    A = M[:, :2]
    if np.linalg.det(A) <= 0:
        return False
    sv = np.linalg.svd(A, compute_uv=False)
    return bool(0.4 <= sv[1] and sv[0] <= 2.5 and sv[0] / sv[1] < 1.5)


def root_sift(desc: np.ndarray) -> np.ndarray:
    d = desc.astype(np.float32)
    d /= d.sum(axis=1, keepdims=True) + 1e-7
    return np.sqrt(d)


def spread_select(pts: np.ndarray, response: np.ndarray, n: int, cell: float,
                  share: float) -> np.ndarray:
    """Indices of at most ``n`` keypoints, a ``share`` of them spread over the image.

    The spread part goes round the cells of a ``cell``-pixel grid: the strongest keypoint
    of every cell first, then the second strongest of every cell, and so on; the rest of
    the budget goes to the strongest keypoints left anywhere. A plain cap on the response
    keeps the keypoints of busy texture and drops those of calmer areas, where a copy
    then has too few keypoints left to match its source.
    """
    m = len(pts)
    if m <= n:
        return np.arange(m)
    n_spread = int(round(n * min(max(share, 0.0), 1.0)))
    chosen = np.zeros(m, bool)
    if n_spread > 0:
        cx = np.floor(pts[:, 0] / cell).astype(np.int64)
        cy = np.floor(pts[:, 1] / cell).astype(np.int64)
        cid = cy * (int(cx.max()) + 1) + cx
        order = np.lexsort((-response, cid))  # by cell, strongest first within a cell
        sc = cid[order]
        start = np.r_[0, np.nonzero(np.diff(sc))[0] + 1]
        first = np.repeat(start, np.diff(np.r_[start, m]))
        rank = np.empty(m, np.int64)
        rank[order] = np.arange(m) - first
        rr = np.lexsort((-response, rank))  # all rank-0 keypoints, then rank 1, ...
        chosen[rr[:n_spread]] = True
    rest = np.nonzero(~chosen)[0]
    rest = rest[np.argsort(-response[rest], kind="stable")][: n - int(chosen.sum())]
    chosen[rest] = True
    return np.nonzero(chosen)[0]


def detect(gray: np.ndarray, max_keypoints: int, contrast: float = 0.02,
           spread_share: float = 0.0, spread_cell: float = 48.0, stats: dict | None = None):
    """SIFT keypoints and RootSIFT descriptors of a uint8 gray image.

    With ``spread_share`` > 0 every keypoint is detected first and at most
    ``max_keypoints`` are kept by ``spread_select`` before the descriptors are computed
    (``stats["keypoints_detected"]``: how many were detected).
    """
    import cv2

    if spread_share <= 0:
        sift = cv2.SIFT_create(nfeatures=int(max_keypoints), contrastThreshold=float(contrast))
        kps, desc = sift.detectAndCompute(gray, None)
    else:
        sift = cv2.SIFT_create(nfeatures=0, contrastThreshold=float(contrast))
        kps = sift.detect(gray, None)
        if stats is not None:
            stats["keypoints_detected"] = len(kps)
        if len(kps) > max_keypoints:
            xy = np.array([k.pt for k in kps], np.float32)
            resp = np.array([k.response for k in kps], np.float32)
            keep = spread_select(xy, resp, int(max_keypoints), spread_cell, spread_share)
            kps = [kps[i] for i in keep]
        kps, desc = sift.compute(gray, kps)
    if desc is None or len(kps) < 4:
        return np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32)
    pts = np.array([k.pt for k in kps], np.float32)
    return pts, root_sift(desc)


def g2nn_matches(pts: np.ndarray, desc: np.ndarray, *, ratio: float, min_dist: float,
                 k: int = 6, chunk: int = 2048, near: int = 0) -> KeypointMatches:
    """Same-image matches accepted by the generalised 2NN test.

    For every keypoint the ``k`` nearest descriptors (other than itself and other than
    keypoints closer than ``min_dist`` pixels) are sorted by distance d1 <= d2 <= ...;
    neighbour i is kept while d_i / d_{i+1} < ratio (Amerini et al. 2011, section III-A).
    RootSIFT descriptors have unit L2 norm, so d^2 = 2 - 2 <a, b>.
    With ``near`` > 0, the ``near`` nearest neighbours of every keypoint (before the ratio
    test) are also returned as ``near_src`` / ``near_dst``.
    """
    n = len(pts)
    if n < 3:
        z = np.zeros((0, 2), np.float32)
        return KeypointMatches(z, z.copy(), n)
    k = min(k, n - 1)
    idx = np.empty((n, k), np.int64)
    sim = np.empty((n, k), np.float32)
    rows = np.arange(n)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        S = desc[a:b] @ desc.T
        r = np.arange(b - a)
        S[r, rows[a:b]] = -4.0  # itself
        for j in range(k):
            am = S.argmax(axis=1)
            idx[a:b, j] = am
            sim[a:b, j] = S[r, am]
            S[r, am] = -4.0
    dist = np.sqrt(np.clip(2.0 - 2.0 * sim, 0.0, None))
    # spatially close neighbours (same structure / duplicate orientations) are not candidates
    sp = np.linalg.norm(pts[idx] - pts[:, None, :], axis=2)
    dist = np.where(sp < min_dist, np.inf, dist)
    order = np.argsort(dist, axis=1, kind="stable")
    dist = np.take_along_axis(dist, order, axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    # keep neighbour i while d_i / d_{i+1} < ratio (unknown d_{i+1}: stop, conservatively)
    d0, d1 = dist[:, :-1], dist[:, 1:]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(d1) & (d0 < ratio * d1)
    keep = np.cumprod(ok, axis=1).astype(bool)
    ii, jj = np.nonzero(keep)
    a, b = ii, idx[ii, jj]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    if len(lo):
        pairs, inv = np.unique(np.stack([lo, hi], 1), axis=0, return_inverse=True)
        pd = np.full(len(pairs), np.inf, np.float32)
        np.minimum.at(pd, inv.ravel(), dist[ii, jj].astype(np.float32))
    else:
        pairs, pd = np.zeros((0, 2), np.int64), np.zeros(0, np.float32)
    out = KeypointMatches(pts[pairs[:, 0]].astype(np.float32),
                          pts[pairs[:, 1]].astype(np.float32), n, dist=pd)
    if near > 0:
        fin = np.isfinite(dist[:, :near])
        ii, jj = np.nonzero(fin)
        out.near_src = pts[ii].astype(np.float32)
        out.near_dst = pts[idx[ii, jj]].astype(np.float32)
    return out


def _single_link_groups(points: np.ndarray, cut: float, max_points: int = 0) -> np.ndarray:
    """Connected components of the graph 'closer than cut' (single-linkage clustering).

    The graph can have up to n^2 / 2 edges (all points within ``cut`` of each other), so with
    ``max_points`` > 0 and more points than that, the components are found on ``max_points``
    evenly spaced points (in their given order) and every other point joins the component
    of its nearest kept point, or none (label -1) when that one is farther than ``cut``.
    """
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(points)
    if n == 0:
        return np.zeros(0, np.int64)
    if 0 < max_points < n:
        kept = np.linspace(0, n - 1, max_points).round().astype(np.int64)
        sub = _single_link_groups(points[kept], cut)
        d, j = cKDTree(points[kept]).query(points, k=1)
        lab = np.where(d <= cut, sub[j], -1)
        lab[kept] = sub
        return lab
    tree = cKDTree(points)
    g = tree.sparse_distance_matrix(tree, cut, output_type="coo_matrix")
    _, lab = connected_components(g, directed=False)
    return lab


def find_transforms(m: KeypointMatches, *, reproj: float, min_inliers: int, min_shift: float,
                    cluster_cut: float, max_models: int = 8, seed: int = 0,
                    max_work: int = 0, cluster_max_points: int = 0,
                    stats: dict | None = None) -> list[Transform]:
    """Sequential RANSAC over the matches, each used in both directions.

    A match (p, q) can be source->copy or copy->source, so both orientations are offered to
    RANSAC; once a model is found, every match fitting it in either orientation is removed
    and the search repeats. Each model's inliers are then split into single-linkage clusters
    (on the 4-D vector source+copy position) and every cluster with at least ``min_inliers``
    matches gets its own refitted transform.

    Budgets (0 = none): a RANSAC round costs up to 3000 hypotheses x the matches still
    alive, so the rounds stop once the matches offered over all rounds reach ``max_work``
    (the round that crosses it still runs); ``cluster_max_points``: see
    :func:`_single_link_groups`. ``stats`` (a dict) receives ``ransac_rounds``, ``ransac_work``,
    ``ransac_capped`` and ``cluster_thinned`` (models whose inliers were thinned).
    """
    import cv2

    n = len(m.src)
    out: list[Transform] = []
    st = {} if stats is None else stats
    st.update(ransac_rounds=0, ransac_work=0, ransac_capped=False, cluster_thinned=0)
    if n < min_inliers:
        return out
    cv2.setRNGSeed(seed)
    alive = np.ones(n, bool)
    A_all = np.concatenate([m.src, m.dst]).astype(np.float32)
    B_all = np.concatenate([m.dst, m.src]).astype(np.float32)
    for _ in range(max_models * 2):
        if alive.sum() < min_inliers or len(out) >= max_models:
            break
        if max_work and st["ransac_work"] >= max_work:
            st["ransac_capped"] = True
            break
        st["ransac_rounds"] += 1
        st["ransac_work"] += int(alive.sum())
        sel = np.concatenate([alive, alive])
        A, B = A_all[sel], B_all[sel]
        M, inl = cv2.estimateAffinePartial2D(A, B, method=cv2.RANSAC, ransacReprojThreshold=reproj,
                                             maxIters=3000, confidence=0.995, refineIters=10)
        if M is None or inl is None:
            break
        inl = inl.ravel().astype(bool)
        ids = np.nonzero(sel)[0][inl]  # indexes into A_all/B_all
        pair = ids % n
        fwd = ids < n
        # a match fitting in both directions (shift ~ 0) is useless; keep one orientation each
        pair, first = np.unique(pair, return_index=True)
        fwd = fwd[first]
        if len(pair) < min_inliers:
            break
        alive[pair] = False
        src = np.where(fwd[:, None], m.src[pair], m.dst[pair])
        dst = np.where(fwd[:, None], m.dst[pair], m.src[pair])
        s = float(np.sqrt(abs(np.linalg.det(M[:, :2]))))
        if not (0.4 <= s <= 2.5):
            continue
        if 0 < cluster_max_points < len(src):
            st["cluster_thinned"] += 1
        lab = _single_link_groups(np.concatenate([src, dst], 1), cluster_cut, cluster_max_points)
        for g in np.unique(lab[lab >= 0]):
            if len(out) >= max_models:  # one round can split into many clusters: at most
                break  # max_models transforms in all, each refitted (1.6)
            gi = lab == g
            if gi.sum() < min_inliers:
                continue
            t = _refit(src[gi], dst[gi], M, reproj)
            if t is None or not valid_affine(t.M) or t.shift() < min_shift:
                continue
            out.append(t)
    return out


def _refit(src: np.ndarray, dst: np.ndarray, M0: np.ndarray, reproj: float) -> Transform | None:
    """Least-squares similarity (or affine with >= 8 well spread inliers) on one cluster."""
    import cv2

    M = M0
    if len(src) >= 3:
        Ms, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
        if Ms is not None:
            M = Ms
    if len(src) >= 8:
        spread = np.linalg.svd(src - src.mean(0), compute_uv=False)
        if spread[-1] > 3.0 * np.sqrt(len(src)):
            Ma, inl = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=reproj)
            if Ma is not None:
                sv = np.linalg.svd(Ma[:, :2], compute_uv=False)
                if sv[0] / max(sv[1], 1e-6) < 1.5 and 0.4 <= np.sqrt(sv[0] * sv[1]) <= 2.5:
                    M = Ma
    res = np.linalg.norm(src @ M[:, :2].T + M[:, 2] - dst, axis=1)
    keep = res <= 2.5 * reproj
    if keep.sum() < 2:
        return None
    return Transform(np.asarray(M, np.float64), src[keep], dst[keep])
