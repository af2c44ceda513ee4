"""Exact-duplicate stage of the copy-move detector (private helper of ``copy_move``).

After Fridrich, Soukal & Lukas 2003, "Detection of copy-move forgery in digital images"
(DFRWS), whose first test looks for blocks that are identical pixel for pixel: a region
moved by a plain shift and saved without lossy compression (PNG, TIFF, lossless WebP) is an
exact copy of its source, however small or plain it is. The keypoint and dense stages work
on a reduced copy with features that tolerate noise, and miss small or weakly textured
copies; this stage looks at the image's own pixels and only for identity.

1. Every 8x8 block position of the full-resolution gray image gets a 64-bit polynomial hash
   (two separable passes with wrap-around arithmetic, in strips of rows); equal hashes are
   equal blocks up to rare collisions, which scatter over random shifts and are ignored by
   step 3. Equal hashes are found by sorting them.
2. Only *textured* blocks take part: the mean absolute 4-neighbour Laplacian over the block
   is at least ``min_texture`` gray levels (flat, clipped or smooth-gradient blocks repeat in
   natural pictures) and at most ``max_flat`` of its adjacent pixel pairs are equal (text,
   icons and other flat graphics repeat in screenshots; camera noise leaves few equal
   neighbours). Groups of more than ``max_group`` equal blocks are a repeated pattern, not a
   copy, and are skipped.
3. Pairs of equal blocks vote for their shift; a shift is an exact copy when at least
   ``min_blocks`` of its blocks form one 8-connected piece (repeated letters or icons give
   many small pieces; a copied area gives one solid piece, or a few). Shifts that are multiples of 8 on both axes are ignored: a JPEG picture
   decoded and saved losslessly carries identical 8x8 blocks on its own grid wherever two
   blocks quantized to the same coefficients (measured on the FIT split, see
   docs/detectors/copy_move.md).

Returns the shifts as translation transforms in the coordinates of the given image; the
correlation check of ``verify`` then outlines and scores them like every other
proposal.
"""

from __future__ import annotations

import numpy as np

from veriscope.detectors.image.copy_move.sift import Transform

BLOCK = 8
_P_ROW = np.uint64(0x9E3779B97F4A7C15)
_P_COL = np.uint64(0xC2B2AE3D27D4EB4F)
MAX_POINTS = 2000
"""Block centres kept per transform (evenly subsampled) as its inlier points."""
STRIP_ROWS = 128
"""Block rows hashed at once (memory: about 24 bytes x STRIP_ROWS x width)."""
MAX_SHIFTS = 8
"""At most this many shifts (the most voted) are returned."""


MAX_CANDIDATES = 64
"""Shifts with enough votes examined (most voted first) for solid pieces."""


def _in_solid_pieces(ys: np.ndarray, xs: np.ndarray, min_blocks: int) -> np.ndarray:
    """Which of the block corners (ys, xs) of one shift lie in 8-connected pieces of at least
    ``min_blocks // 4`` corners, all of them empty unless the largest piece has
    ``min_blocks``: a copied area is one solid piece of identical blocks (or a few, when
    an untextured part splits it), while repeated letters or icons give many small ones."""
    import cv2

    y0, x0 = int(ys.min()), int(xs.min())
    grid = np.zeros((int(ys.max()) - y0 + 1, int(xs.max()) - x0 + 1), np.uint8)
    grid[ys - y0, xs - x0] = 1
    _, lab, stats, _ = cv2.connectedComponentsWithStats(grid, connectivity=8)
    area = stats[:, cv2.CC_STAT_AREA]
    area[0] = 0  # the background
    if area.max() < min_blocks:
        return np.zeros(len(ys), bool)
    return area[lab[ys - y0, xs - x0]] >= max(1, min_blocks // 4)


def _blocks_mask(shape, ys: np.ndarray, xs: np.ndarray, b: int = BLOCK) -> np.ndarray:
    """Union of the b x b blocks whose top-left corners are (ys, xs)."""
    import cv2

    corners = np.zeros(shape, np.uint8)
    corners[ys, xs] = 1
    return cv2.dilate(corners, np.ones((b, b), np.uint8), anchor=(b - 1, b - 1),
                      borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0


def block_hashes(gray8: np.ndarray, b: int = BLOCK) -> np.ndarray:
    """(H - b + 1, W - b + 1) uint64 hash of the b x b block whose top-left corner is each
    pixel: sum of pixel * P_ROW^dx * P_COL^dy modulo 2^64."""
    g = np.ascontiguousarray(gray8, dtype=np.uint8).astype(np.uint64)
    h, w = g.shape
    with np.errstate(over="ignore"):
        rows = np.zeros((h, w - b + 1), np.uint64)
        m = np.uint64(1)
        for k in range(b):
            rows += g[:, k:w - b + 1 + k] * m
            m = m * _P_ROW
        out = np.zeros((h - b + 1, w - b + 1), np.uint64)
        m = np.uint64(1)
        for k in range(b):
            out += rows[k:h - b + 1 + k] * m
            m = m * _P_COL
    return out


def block_texture(gray8: np.ndarray, b: int = BLOCK) -> np.ndarray:
    """Mean |4-neighbour Laplacian| over the b x b block at each top-left corner."""
    import cv2

    lap = np.abs(cv2.Laplacian(gray8.astype(np.float32), cv2.CV_32F, ksize=1))
    h, w = gray8.shape
    box = cv2.boxFilter(lap, -1, (b, b), anchor=(0, 0), normalize=True,
                        borderType=cv2.BORDER_CONSTANT)
    return box[:h - b + 1, :w - b + 1]


def block_flatness(gray8: np.ndarray, b: int = BLOCK) -> np.ndarray:
    """Share of the horizontally and vertically adjacent pixel pairs of each b x b block
    (top-left corner) that are exactly equal: flat graphics, text and user-interface
    elements have most of them equal, camera pictures few (noise)."""
    import cv2

    g = gray8.astype(np.int16)
    eq = np.zeros(g.shape, np.float32)
    eq[:, :-1] += g[:, 1:] == g[:, :-1]
    eq[:-1, :] += g[1:, :] == g[:-1, :]
    h, w = g.shape
    box = cv2.boxFilter(eq, -1, (b, b), anchor=(0, 0), normalize=True,
                        borderType=cv2.BORDER_CONSTANT)
    return box[:h - b + 1, :w - b + 1] / 2.0


def exact_transforms(gray8: np.ndarray, *, min_shift: float, min_blocks: int,
                     min_texture: float, max_group: int, max_flat: float = 1.0,
                     skip_grid_shifts: bool = True) -> list[Transform]:
    """Shifts under which at least ``min_blocks`` textured 8x8 blocks repeat exactly.

    Each transform is a pure translation (origin ``exact``)
    whose ``extra`` holds ``exact_blocks`` (the number of identical block pairs) and
    ``src_mask`` / ``dst_mask`` (bool, the image's shape: the union of those blocks).
    """
    h, w = gray8.shape
    if h < 2 * BLOCK or w < 2 * BLOCK:
        return []
    cap = (h - BLOCK + 1) * (w - BLOCK + 1)  # filled in place: no copy of the full arrays
    ys, xs, keys = np.empty(cap, np.int32), np.empty(cap, np.int32), np.empty(cap, np.uint64)
    n = 0
    for r0 in range(0, h - BLOCK + 1, STRIP_ROWS):  # in strips of rows: bounded temporaries
        strip = gray8[r0:r0 + STRIP_ROWS + BLOCK - 1]
        ok = block_texture(strip) >= min_texture
        if max_flat < 1.0:
            ok &= block_flatness(strip) <= max_flat
        sy, sx = np.nonzero(ok)
        m = len(sy)
        if m:
            keys[n:n + m] = block_hashes(strip)[sy, sx]
            ys[n:n + m] = sy + r0
            xs[n:n + m] = sx
            n += m
    if n < 2 * min_blocks:
        return []
    ys, xs, keys = ys[:n], xs[:n], keys[:n]
    # sort (hash, index) packed in one uint64: the hash keeps its top 64 - nbits bits, which
    # leaves a few random collisions at 16 MP, scattered over random shifts (step 3 drops them)
    nbits = max(1, int(len(keys) - 1).bit_length())
    sh = np.uint64(nbits)
    keys >>= sh
    keys <<= sh
    keys |= np.arange(len(keys), dtype=np.uint64)
    keys.sort()
    top = keys >> sh
    eq = np.flatnonzero(top[1:] == top[:-1])  # sorted position i equals i + 1 (few)
    del top
    if len(eq) == 0:
        return []
    # runs of consecutive equal positions are the groups of equal blocks
    first = np.r_[0, np.flatnonzero(np.diff(eq) != 1) + 1]
    starts = eq[first]
    sizes = np.diff(np.r_[first, len(eq)]) + 1
    low = np.uint64((1 << nbits) - 1)

    def index(at: np.ndarray) -> np.ndarray:
        return (keys[at] & low).astype(np.int64)

    a_idx, b_idx = [], []
    for n in range(2, max_group + 1):
        st = starts[sizes == n]
        for i in range(n):
            for j in range(i + 1, n):
                a_idx.append(index(st + i))
                b_idx.append(index(st + j))
    if not a_idx:
        return []
    a, b = np.concatenate(a_idx), np.concatenate(b_idx)
    # orient every pair so that the shift points down (or right on the same row)
    dy, dx = ys[b] - ys[a], xs[b] - xs[a]
    flip = (dy < 0) | ((dy == 0) & (dx < 0))
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    dy, dx = ys[b] - ys[a], xs[b] - xs[a]
    keep = np.hypot(dy, dx) >= min_shift
    if skip_grid_shifts:
        keep &= ~((dy % BLOCK == 0) & (dx % BLOCK == 0))
    a, b, dy, dx = a[keep], b[keep], dy[keep], dx[keep]
    if len(a) == 0:
        return []
    code = (dy.astype(np.int64) + h) * (2 * w + 1) + (dx.astype(np.int64) + w)
    _, inv, cnt = np.unique(code, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    by_shift = np.argsort(inv, kind="stable")  # the pairs of each shift, in their order
    first = np.r_[0, np.cumsum(cnt)]
    out: list[Transform] = []
    half = (BLOCK - 1) / 2.0
    for ci in np.argsort(-cnt, kind="stable")[:MAX_CANDIDATES]:
        if cnt[ci] < min_blocks or len(out) == MAX_SHIFTS:
            break
        sel = by_shift[first[ci]:first[ci + 1]]  # = np.flatnonzero(inv == ci)
        sel = sel[_in_solid_pieces(ys[a[sel]], xs[a[sel]], min_blocks)]
        if len(sel) == 0:
            continue  # identical blocks scattered in small pieces: repeated glyphs, icons
        extra = {"exact_blocks": int(len(sel)),
                 "src_mask": _blocks_mask((h, w), ys[a[sel]], xs[a[sel]]),
                 "dst_mask": _blocks_mask((h, w), ys[b[sel]], xs[b[sel]])}
        if len(sel) > MAX_POINTS:
            sel = sel[np.linspace(0, len(sel) - 1, MAX_POINTS).astype(int)]
        src = np.c_[xs[a[sel]] + half, ys[a[sel]] + half].astype(np.float64)
        dst = np.c_[xs[b[sel]] + half, ys[b[sel]] + half].astype(np.float64)
        M = np.array([[1.0, 0.0, float(dx[sel[0]])], [0.0, 1.0, float(dy[sel[0]])]])
        out.append(Transform(M, src, dst, origin="exact", extra=extra))
    return out
