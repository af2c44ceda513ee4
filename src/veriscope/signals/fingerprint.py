"""Fingerprints of pictures for near-duplicate search, and the comparison of two versions.

Pure functions over arrays (no storage; the archive keeps what they return):

- :func:`working_copy`: the picture at a bounded size (long side :data:`WORK_SIDE`) in gray,
  the one every feature below is computed on, so that cost does not grow with the input.
- :func:`perceptual_hashes`: pHash, dHash and wavelet hash (the ImageHash package), 64 bits
  each, of the picture and of its mirror image. They survive resizing, re-compression and
  colour changes, not crops or large overlays.
- :func:`local_features`: ORB keypoints (oriented FAST + rotated BRIEF, 256-bit binary
  descriptors), at most ``n``, spread over a grid so that a crop keeps a share of them;
  positions normalised by the long side, so that two sizes of one picture agree.
- :func:`verify`: matches two sets of local features (Hamming distance, ratio test) and fits
  a similarity transform (rotation, uniform scale, shift) with RANSAC; the inliers decide
  whether two pictures show the same scene from the same shot.
- :func:`difference_map`: the archived picture warped onto the query, colours matched on the
  overlap, and where they differ more than re-encoding explains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WORK_SIDE = 640
"""Long side (px) of the working copy features are computed on."""
N_FEATURES = 256
"""Local features kept per picture (archive and query alike). A quarter of the picture (a crop
of half its width and height) keeps about a quarter of them: with 160 such crops of five
sample photos verified with 9-54 matching points, with 256 with 18-69."""
N_SEARCH = 96
"""Of those, how many per archived picture go into the nearest-neighbour index (the first
ones: the strongest of each grid cell): enough for a crop to gather votes, a third of the
index size of all 256. All of them are kept for verification."""
MIN_INLIERS = 10
"""Matches consistent with one similarity transform needed (with the agreement rule of
:func:`confirm`) to call two pictures one shot."""
AGREE_HIGH = 0.6
"""High-band photometric agreement that confirms a match on its own ..."""
AGREE_LOW_STRONG, AGREE_HIGH_WEAK = 0.9, 0.35
"""... or a low-band agreement this strong with at least this much high-band agreement.
Set on FIT data that no evaluation uses (benchmarks/archive_fit.py): 1,000 ImageNet sample
pictures (600 indexed) and 256 aligned generated faces (128 indexed), queried after
perturbations and as never-indexed negatives. With 10 points: 94.0 % of ImageNet positives and
99.1 % of face positives verified; unrelated pictures verified: ImageNet 0 (points alone: 294;
low band >= 0.7 alone: 0), faces 26 (points alone: 2,889; low band >= 0.7 alone: 406). Aligned
faces share their layout, so only fine detail (the high band) tells two people apart."""



def working_copy(rgb: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """uint8 gray picture scaled so that its long side is ``side`` (area-averaged down,
    bilinear up): two sizes of one picture then show its objects at the same scale, which the
    local features need (a copy at a third of the size matched 3 of 160 features at its own
    size, 31 when brought to the archive's)."""
    import cv2

    a = np.asarray(rgb)
    g = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY) if a.ndim == 3 else a
    h, w = g.shape[:2]
    s = side / max(h, w)
    if s != 1:
        g = cv2.resize(g, (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    return np.ascontiguousarray(g)


def embedded_region(rgb: np.ndarray, side: int = 256) -> tuple[int, int, int, int] | None:
    """The box (x0, y0, x1, y1, pixels) of the largest textured area when it fills only part
    of the frame (15-85 %): a picture inside a screenshot, a page or a frame. Textured bands
    thinner than 17 px at 256 px (lines of text, title bars) are removed first. None otherwise.
    The sizes were chosen on FIT (ImageNet sample pictures set in a UI screenshot,
    benchmarks/archive_fit.py's perturbation): a box covering at least 70 % of the picture and
    at most 1.3x its area in 45 of 80 cases with a 17 px opening, 0 with 9 px; then 59 of 60 such
    screenshots found their original first, against 34 without the box."""
    import cv2

    a = np.asarray(rgb)
    g = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY) if a.ndim == 3 else a
    h, w = g.shape[:2]
    s = side / max(h, w)
    small = cv2.resize(g, (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    m1 = cv2.blur(small, (7, 7))
    m2 = cv2.blur(small * small, (7, 7))
    textured = (np.sqrt(np.maximum(m2 - m1 * m1, 0)) > 6).astype(np.uint8)
    textured = cv2.morphologyEx(textured, cv2.MORPH_OPEN, np.ones((17, 17), np.uint8))
    textured = cv2.morphologyEx(textured, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(textured, connectivity=8)
    if n < 2:
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh = (int(v) for v in stats[k, :4])
    frac = (bw * bh) / float(small.shape[0] * small.shape[1])
    if not 0.15 <= frac <= 0.85:
        return None
    x0, y0 = int(x / s), int(y / s)
    x1, y1 = min(w, int(np.ceil((x + bw) / s))), min(h, int(np.ceil((y + bh) / s)))
    return (x0, y0, x1, y1) if x1 - x0 >= 32 and y1 - y0 >= 32 else None


def perceptual_hashes(rgb: np.ndarray) -> dict[str, int]:
    """64-bit pHash, dHash and wavelet hash of the picture and pHash of its mirror image, as
    signed 64-bit integers (SQLite's integer type)."""
    import imagehash
    from PIL import Image

    im = Image.fromarray(np.asarray(rgb)).convert("L")
    if max(im.size) > 512:  # the hashes look at 8-32 px; a smaller copy changes nothing
        im.thumbnail((512, 512), Image.Resampling.BILINEAR)
    mir = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return {"phash": _to_int(imagehash.phash(im)), "dhash": _to_int(imagehash.dhash(im)),
            "whash": _to_int(imagehash.whash(im)), "phash_mirror": _to_int(imagehash.phash(mir))}


def _to_int(h) -> int:
    bits = np.asarray(h.hash, dtype=np.uint8).ravel()
    v = int("".join("1" if b else "0" for b in bits), 2)
    return v - (1 << 64) if v >= 1 << 63 else v


def hamming64(a: int, b: int) -> int:
    return bin((a ^ b) & ((1 << 64) - 1)).count("1")


THUMB_SIDE = 64
"""Long side of the gray thumbnail kept with the features, for the photometric check."""


@dataclass
class Features:
    """Local features of one picture: ``xy`` (n, 2) float32 positions divided by the working
    copy's long side, ``desc`` (n, 32) uint8 ORB descriptors, ``size`` the working copy's
    (width, height), ``thumb`` a gray thumbnail (long side :data:`THUMB_SIDE`) of the same
    copy."""

    xy: np.ndarray
    desc: np.ndarray
    size: tuple[int, int]
    thumb: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.xy)

    def to_bytes(self) -> bytes:
        n = len(self.xy)
        head = np.array([n, self.size[0], self.size[1]], dtype="<i4").tobytes()
        out = head + self.xy.astype("<f4").tobytes() + self.desc.astype(np.uint8).tobytes()
        if self.thumb is not None:
            th, tw = self.thumb.shape
            out += np.array([tw, th], dtype="<i4").tobytes() + self.thumb.astype(np.uint8).tobytes()
        return out

    @classmethod
    def from_bytes(cls, b: bytes) -> Features:
        n, w, h = (int(v) for v in np.frombuffer(b[:12], dtype="<i4"))
        end = 12 + 40 * n
        xy = np.frombuffer(b[12:12 + 8 * n], dtype="<f4").reshape(n, 2)
        desc = np.frombuffer(b[12 + 8 * n:end], dtype=np.uint8).reshape(n, 32)
        thumb = None
        if len(b) >= end + 8:
            tw, th = (int(v) for v in np.frombuffer(b[end:end + 8], dtype="<i4"))
            thumb = np.frombuffer(b[end + 8:end + 8 + tw * th], dtype=np.uint8).reshape(th, tw)
        return cls(xy, desc, (w, h), thumb)


def local_features(gray: np.ndarray, n: int = N_FEATURES, grid: int = 4) -> Features:
    """At most ``n`` ORB features of a working copy, the strongest of each cell of a
    ``grid`` x ``grid`` partition first (so that every part of the picture is represented),
    then the strongest of the rest."""
    import cv2

    h, w = gray.shape[:2]
    orb = cv2.ORB_create(nfeatures=max(4 * n, 500), scaleFactor=1.2, nlevels=8, edgeThreshold=15,
                         patchSize=31, fastThreshold=10)
    kps, desc = orb.detectAndCompute(gray, None)
    side = float(max(h, w))
    thumb = _thumb(gray)
    if desc is None or not kps:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), (w, h), thumb)
    resp = np.array([k.response for k in kps])
    pts = np.array([k.pt for k in kps], dtype=np.float32)
    cell = (np.minimum(pts[:, 0] * grid // max(w, 1), grid - 1) * grid
            + np.minimum(pts[:, 1] * grid // max(h, 1), grid - 1)).astype(int)
    order = np.argsort(-resp, kind="stable")
    per_cell = max(1, n // (grid * grid) // 2)
    taken, count = [], np.zeros(grid * grid, int)
    for i in order:
        if count[cell[i]] < per_cell:
            taken.append(i)
            count[cell[i]] += 1
    seen = set(taken)
    rest = [i for i in order if i not in seen]
    chosen = (taken + rest)[:n]
    return Features(pts[chosen] / side, desc[chosen].astype(np.uint8), (w, h), thumb)


def _thumb(gray: np.ndarray) -> np.ndarray:
    import cv2

    h, w = gray.shape[:2]
    s = THUMB_SIDE / max(h, w)
    return cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))),
                      interpolation=cv2.INTER_AREA)


def photometric_agreement(query: Features, cand: Features, v: Verification,
                          band: str = "low") -> float | None:
    """Correlation of the two thumbnails where they overlap once the archived one is warped
    onto the query with the verified transform: the same shot agrees (re-encoding, resizing and
    colour grading keep it high), two different pictures whose features happen to line up do
    not. None when a thumbnail is missing or the overlap is too small to tell."""
    import cv2

    if query.thumb is None or cand.thumb is None or v.matrix is None:
        return None
    qt, ct = query.thumb.astype(np.float32), cand.thumb.astype(np.float32)
    qh, qw = qt.shape
    ch, cw = ct.shape
    lq, lc = max(qh, qw), max(ch, cw)
    full = (np.diag([lq, lq, 1.0]) @ np.vstack([v.matrix, [0, 0, 1]])
            @ np.diag([1 / lc, 1 / lc, 1.0]))[:2]
    # bring both to the coarser of their two resolutions before comparing: the one shown
    # larger is blurred as much as the other lost (otherwise detail one lacks reads as a
    # disagreement, e.g. a picture set small inside a screenshot)
    k = float(np.sqrt(abs(np.linalg.det(full[:, :2]))))  # query px per archived px
    if k < 0.95:
        ct = cv2.GaussianBlur(ct, (0, 0), 0.6 * np.sqrt(1 / k ** 2 - 1))
    elif k > 1.05:
        qt = cv2.GaussianBlur(qt, (0, 0), 0.6 * np.sqrt(k ** 2 - 1))
    warped = cv2.warpAffine(ct, full, (qw, qh), flags=cv2.INTER_LINEAR, borderValue=0)
    cover = cv2.warpAffine(np.ones_like(ct), full, (qw, qh), flags=cv2.INTER_NEAREST,
                           borderValue=0)
    mask = cv2.erode(cover, np.ones((3, 3), np.uint8)) > 0
    if mask.sum() < 0.15 * qh * qw or mask.sum() < 100:
        return None
    if band == "high":  # fine detail only: aligned faces or products share their layout
        a = (cv2.GaussianBlur(qt, (0, 0), 0.7) - cv2.GaussianBlur(qt, (0, 0), 2.5))[mask]
        b = (cv2.GaussianBlur(warped, (0, 0), 0.7) - cv2.GaussianBlur(warped, (0, 0), 2.5))[mask]
    else:
        a = cv2.GaussianBlur(qt, (0, 0), 1.0)[mask]
        b = cv2.GaussianBlur(warped, (0, 0), 1.0)[mask]
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-6 else None


@dataclass
class Verification:
    """The outcome of :func:`verify`: ``matrix`` maps the archived picture's normalised
    positions onto the query's (2x3), ``mirrored`` when the query is the mirror image."""

    verified: bool
    inliers: int
    matches: int
    matrix: np.ndarray | None = None
    mirrored: bool = False
    scale: float | None = None
    rotation_deg: float | None = None
    pairs: np.ndarray | None = field(default=None, repr=False)
    agreement: float | None = None
    agreement_low: float | None = None

    def to_dict(self) -> dict:
        return {"verified": self.verified, "inliers": self.inliers, "matches": self.matches,
                "mirrored": self.mirrored,
                "agreement": None if self.agreement is None else round(self.agreement, 4),
                "agreement_low": None if self.agreement_low is None
                else round(self.agreement_low, 4),
                "scale": None if self.scale is None else round(self.scale, 4),
                "rotation_deg": None if self.rotation_deg is None else round(self.rotation_deg, 2),
                "matrix": None if self.matrix is None else np.round(self.matrix, 6).tolist()}


def verify(query: Features, cand: Features, *, ratio: float = 0.8, max_dist: int = 64,
           min_inliers: int = MIN_INLIERS) -> Verification:
    """Match ``cand`` (archived) to ``query`` and fit a similarity transform cand -> query."""
    import cv2

    if len(query) < 3 or len(cand) < 3:
        return Verification(False, 0, 0)
    bf = cv2.BFMatcher(cv2.NORM_HAMMING)
    knn = bf.knnMatch(cand.desc, query.desc, k=2)
    good = []
    for m in knn:
        if not m:
            continue
        if m[0].distance > max_dist:
            continue
        if len(m) == 2 and m[0].distance > ratio * m[1].distance:
            continue
        good.append((m[0].queryIdx, m[0].trainIdx))
    if len(good) < 3:
        return Verification(False, 0, len(good))
    src = np.float32([cand.xy[i] for i, _ in good])
    dst = np.float32([query.xy[j] for _, j in good])
    mat, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                           ransacReprojThreshold=0.012, maxIters=2000,
                                           confidence=0.995)
    if mat is None or inl is None:
        return Verification(False, 0, len(good))
    n_in = int(inl.sum())
    scale = float(np.hypot(mat[0, 0], mat[1, 0]))
    rot = float(np.degrees(np.arctan2(mat[1, 0], mat[0, 0])))
    ok = n_in >= min_inliers and 0.05 < scale < 20
    pairs = np.array(good)[inl.ravel().astype(bool)]
    return Verification(ok, n_in, len(good), mat.astype(np.float64), False, scale, rot, pairs)


def confirm(query: Features, cand: Features, v: Verification) -> Verification:
    """Geometric verification plus photometric agreement: ``v.verified`` stays True only when
    the aligned thumbnails agree in fine detail (high band >= :data:`AGREE_HIGH`, or low band
    >= :data:`AGREE_LOW_STRONG` with high band >= :data:`AGREE_HIGH_WEAK`). When it cannot be
    measured (the overlap covers under 15 % of the query) the match is not verified: on FIT,
    such matches were unrelated pictures in all but 1 of 936 cases, with up to 40 points.
    ``v.agreement`` keeps the high band's value (``v.agreement_low`` the low band's)."""
    v.agreement = v.agreement_low = None
    if v.matrix is None or v.inliers < MIN_INLIERS or not 0.05 < (v.scale or 0) < 20:
        v.verified = False
        return v
    low = photometric_agreement(query, cand, v)
    high = photometric_agreement(query, cand, v, band="high")
    v.agreement, v.agreement_low = high, low
    if low is None or high is None:
        v.verified = False
    else:
        v.verified = high >= AGREE_HIGH or (low >= AGREE_LOW_STRONG and high >= AGREE_HIGH_WEAK)
    return v


def difference_map(query_rgb: np.ndarray, cand_rgb: np.ndarray, v: Verification,
                   side: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the query differs from the registered archived picture.

    Both are compared at the query's size capped at ``side`` (long side). Returns (diff, overlap,
    warped): ``diff`` float32 in [0, 1] (0 where the two agree up to re-encoding, 1 where they
    clearly differ), ``overlap`` bool (the query's pixels the archived picture covers),
    ``warped`` the archived picture in the query's frame (uint8 RGB, for a side-by-side view).
    """
    import cv2

    q = np.asarray(query_rgb)
    if v.mirrored:  # the transform maps onto the mirrored query: compare there, flip back
        d, o, w = difference_map(np.ascontiguousarray(q[:, ::-1]), cand_rgb,
                                 Verification(**{**v.__dict__, "mirrored": False}), side)
        return d[:, ::-1].copy(), o[:, ::-1].copy(), w[:, ::-1].copy()
    c = np.asarray(cand_rgb)
    qh, qw = q.shape[:2]
    s = min(1.0, side / max(qh, qw))
    W, H = max(1, round(qw * s)), max(1, round(qh * s))
    qs = cv2.resize(q, (W, H), interpolation=cv2.INTER_AREA) if s < 1 else q.copy()
    ch, cw = c.shape[:2]
    # normalised coordinates: x / long side. Pixel maps: cand px -> cand norm -> query norm -> px
    a = np.array([[1 / max(ch, cw), 0, 0], [0, 1 / max(ch, cw), 0], [0, 0, 1]])
    m = np.vstack([v.matrix, [0, 0, 1]])
    b = np.array([[max(H, W), 0, 0], [0, max(H, W), 0], [0, 0, 1]])
    full = (b @ m @ a)[:2]
    warped = cv2.warpAffine(np.ascontiguousarray(c), full, (W, H), flags=cv2.INTER_AREA,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    cover = cv2.warpAffine(np.full((ch, cw), 255, np.uint8), full, (W, H), flags=cv2.INTER_NEAREST,
                           borderValue=0)
    overlap = cv2.erode(cover, np.ones((5, 5), np.uint8)) > 0
    if overlap.sum() < 64:
        return np.zeros((H, W), np.float32), overlap, warped
    sigma = max(1.5, max(H, W) / 300)
    k = 2 * int(np.ceil(2 * sigma)) + 5  # the blur below mixes in what lies outside the overlap
    inner = cv2.erode(cover, np.ones((k, k), np.uint8)) > 0
    m = k // 2  # and the picture's own edges, where resizing and warping differ most
    inner[:m], inner[-m:], inner[:, :m], inner[:, -m:] = False, False, False, False
    lq = cv2.cvtColor(qs, cv2.COLOR_RGB2LAB).astype(np.float32)
    lc = cv2.cvtColor(warped, cv2.COLOR_RGB2LAB).astype(np.float32)
    # colour changes (grading, white balance) are not edits: the archived picture's channels
    # take the query's mean and spread over the overlap; one pass gives the three of each
    ov = overlap.view(np.uint8)
    mq, sq = (x.ravel() for x in cv2.meanStdDev(lq, mask=ov))
    mc, sc = (x.ravel() for x in cv2.meanStdDev(lc, mask=ov))
    gain = (sq + 1e-3) / (sc + 1e-3)
    # the blur is linear: blurring the difference is blurring each side and subtracting, once
    affine = np.hstack([np.diag(gain), (mq - mc * gain)[:, None]])  # per channel, one pass
    delta = cv2.subtract(lq, cv2.transform(lc, affine))
    bd = cv2.GaussianBlur(delta, (0, 0), sigma)  # re-encoding and resampling noise averaged out
    d = np.sqrt(np.einsum("ijk,ijk->ij", bd, bd))
    d[~inner] = 0
    vals = d[inner] if inner.any() else d[overlap]
    med = float(np.median(vals))
    floor = med + 3 * 1.4826 * float(np.median(np.abs(vals - med)))
    floor = max(floor, 6.0)  # about 6 units of Lab: below that, a re-encoding, not an edit
    diff = np.clip((d - floor) / (2 * floor), 0, 1).astype(np.float32)
    diff = cv2.morphologyEx(diff, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return diff, overlap, warped
