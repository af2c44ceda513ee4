"""JPEG 8x8 grid analysis from pixels, a-contrario (in the style of ZERO).

Method (Nikoukhah, Anger, Ehret, Colom, Morel, Grompone von Gioi, "JPEG grid detection
based on the number of DCT zeros and its application to automatic and localized forgery
detection", CVPRW 2019; extended as "ZERO: a local JPEG grid origin detector based on the
number of DCT zeros and its applications in image forensics", IPOL 2021,
doi:10.5201/ipol.2021.390):

1. Luminance Y = round(0.299 R + 0.587 G + 0.114 B).
2. For every 8x8 block position (all 64 grid origins at once) the orthonormal DCT is
   computed and its AC coefficients with |c| < 0.5 are counted ("zeros"): JPEG
   quantization leaves many exact zeros on the blocks of its own grid and few elsewhere.
3. Every pixel votes for the grid origin (y mod 8, x mod 8) of the block, among the 64
   blocks that contain it, with the most zeros; ties, and blocks constant along every row
   or every column, give no vote.
4. The main grid is the most voted origin, kept when its number of false alarms
   NFA = 64^2 (XY)^2 * P[B(XY/64, votes/64, 1/64)] is below 1 (the votes of one 8x8 block
   are strongly dependent, so pixels are counted by 64).
5. Groups of votes for another grid (linked when closer than about 12 px) are tested with
   the same binomial model inside their bounding box; meaningful ones are regions that
   carry a different JPEG grid than the rest (a paste from another JPEG, or a crop shifted
   before pasting).
6. Two additions of ours (see docs/detectors/jpeg_grid.md): (a) when the main grid's votes
   are confined to meaningful regions and the rest of the picture votes at chance level, the
   main grid itself is *local*: a JPEG paste into a never-compressed picture; (b) for files
   that are not JPEG, regions where the main grid is *missing* (valid votes for other grids,
   tested against the picture's own rate of such votes) are reported.

Vectorised: block DCTs by separable 8-tap OpenCV filters over horizontal strips (bounded
memory), the vote by a sliding 8x8 maximum of an encoded key, region growing by connected
components of 8x8 vote cells. Nothing is downscaled (that destroys the grid): very large
images are analysed on evenly spread full-resolution tiles.
"""

from __future__ import annotations

import math

import numpy as np

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector

# ---------------------------------------------------------------- constants (documented)

CELL = 8
"""Votes are binned in CELL x CELL cells for region growing; 8-connected cells are linked,
i.e. votes closer than 8..15 px (ZERO links votes within 12 px)."""
SCORE_SLOPE = 5.0
"""Region score = 1 - 0.5 * 10^(log10(NFA) / SCORE_SLOPE): NFA = 1 gives 0.5 (the a-contrario
detection threshold), NFA = 1e-5 gives 0.82, 1e-10 gives 0.95."""
LNFA_DETECT = 0.0
"""A region is detected when log10(NFA) < LNFA_DETECT (ZERO's epsilon = 1)."""
CROPPED_SCORE = 0.2
"""Main grid not at (0, 0) and no region: the picture was cropped after its last JPEG
compression. Innocent and common (rule constant, kept below 0.5)."""
SECOND_GRID_SCORE = 0.3
"""A second grid meaningful over the whole image but no meaningful region: compressed,
cropped and compressed again (or a very large paste). A hint only (rule, below 0.5)."""
MAP_BACKGROUND_MAX = 0.45
"""Outside detected regions the map shows the local share of votes for the strongest
foreign grid, scaled into [0, MAP_BACKGROUND_MAX] so that the map crosses 0.5 only on
detected regions."""
SECONDARY_MIN_AREA = 0.5
"""Meaningful regions of one foreign grid whose bounding boxes cover at least half of the
picture are a second global grid (re-compression after a crop), not a paste (rule)."""
LOCAL_OUTSIDE_MAX = 3 / 64
"""The main grid is called *local* (a JPEG paste into a never-compressed picture) when,
outside its meaningful regions, its share of the valid votes is at most 3x chance (1/64)."""
LOCAL_MIN_OUTSIDE = 0.2
"""... and at least this share of the valid votes lies outside those regions ..."""
LOCAL_MAX_AREA = 0.5
"""... and their bounding boxes cover at most half of the picture."""
LINK_SHARE = 0.5
"""Local- and missing-grid region growing links only cells where the tested grid (or its
absence) holds the majority of the cell's valid votes."""
MIN_DENSITY = 0.5
"""Local- and missing-grid regions: besides NFA < 1 against the picture's own rate, the
tested votes must be at least half of the valid votes of the region's bounding box (genuine
JPEG areas where the grid is merely weak stay well below one in two; rule constant)."""
TEXTURE_MAX_ZEROS = 32
"""A cell is *textured* (the grid is testable there) when the block half a block off the main
grid has fewer than 32 of its 63 AC coefficients at zero (rule: half; 16 and 48 were tried on
the FIT split, 32 was best)."""
CLIP_LO, CLIP_HI = 1, 254
CLIPPED_MAX = 0.25
"""A cell is left out of the local- and missing-grid tests when a quarter or more of the pixels
its blocks cover (the cell and the 8 px a block reaches beyond it) have a colour channel at
<= 1 or >= 254. Decoding a JPEG clips values out of [0, 255]: in blown highlights, deep
shadows and saturated colours the block pattern is cut off, so the grid is *missing* there in
innocent pictures (stained glass, night scenes: the three false alarms on innocent EVAL photos
that led to this rule, issue 15). Rule constant."""
MAX_ANALYSED_PIXELS = 4_000_000
"""Larger images are analysed on evenly spread full-resolution tiles covering this many px.
Budget (issue 20, speed): the DCT-zero count costs ~0.08 s per MP on one core and cannot be
downscaled, so a 12 MP photo took 1.2-1.4 s; 4 MP keeps it near 0.5 s. The cost: on larger
pictures a paste lying wholly between tiles is not seen (a finding says what share was read).
Every picture of the benchmark sets is below 4 MP except 4 camera JPEGs (8 MP) of the
false-alarm set (docs/detectors/jpeg_grid.md)."""
TILE = 512
"""Tile side (a multiple of 8, so tile votes keep the image's grid phases); 512 rather than
1024 so that the tiles of a budget spread over more of the picture."""
MIN_SIDE = 64
"""Smaller images are not analysed (too few blocks for any meaningful test)."""
STRIP_ROWS = 256
"""Rows of block positions computed at once (memory: about 40 bytes x STRIP_ROWS x width)."""


# ---------------------------------------------------------------- core maths

ZERO_ABS = 0.4999
"""A DCT coefficient counts as zero when |c| <= ZERO_ABS (ZERO: |c| < 0.5)."""
ZERO_SCALE = 0.5 / ZERO_ABS
"""|c| * ZERO_SCALE rounds to 0 exactly when |c| <= ZERO_ABS (rounding half to even)."""


def _dct_basis() -> np.ndarray:
    k = np.arange(8)
    return np.array([math.sqrt((1 if u == 0 else 2) / 8.0) * np.cos((2 * k + 1) * u * np.pi / 16)
                     for u in range(8)], np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ZERO's luminance round(0.299 R + 0.587 G + 0.114 B), as uint8 (OpenCV fixed point)."""
    import cv2

    rgb = np.asarray(rgb)
    if rgb.ndim == 2:
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3], dtype=np.uint8), cv2.COLOR_RGB2GRAY)


def zero_counts(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AC DCT zeros of the 8x8 block whose top-left corner is each pixel.

    Returns (z uint8 (H, W), const bool (H, W)); positions whose block leaves the image get
    z = 0. ``const`` marks blocks constant along every row or along every column.
    """
    import cv2

    h, w = y.shape
    z = np.zeros((h, w), np.uint8)
    const = np.zeros((h, w), bool)
    if h < 8 or w < 8:
        return z, const
    d = _dct_basis()
    one = np.ones(1, np.float32)
    k_row, k_col = np.ones((1, 8), np.uint8), np.ones((8, 1), np.uint8)
    o = (0, 0)
    b = cv2.BORDER_REPLICATE
    for r0 in range(0, h - 7, STRIP_ROWS):
        r1 = min(h - 7, r0 + STRIP_ROWS)  # block rows [r0, r1) need image rows [r0, r1 + 7)
        s = np.ascontiguousarray(y[r0:r1 + 7], dtype=np.float32)
        # constant along x: every one of the 8 rows has max == min over its 8 columns
        row_c = (cv2.dilate(s, k_row, anchor=o, borderType=b)
                 == cv2.erode(s, k_row, anchor=o, borderType=b)).astype(np.uint8)
        col_c = (cv2.dilate(s, k_col, anchor=o, borderType=b)
                 == cv2.erode(s, k_col, anchor=o, borderType=b)).astype(np.uint8)
        cst = (cv2.erode(row_c, k_col, anchor=o, borderType=b) > 0) | \
              (cv2.erode(col_c, k_row, anchor=o, borderType=b) > 0)
        nonzero = np.zeros(s.shape, np.uint8)
        for u in range(8):
            ru = cv2.sepFilter2D(s, cv2.CV_32F, d[u], one, anchor=o,
                                 borderType=cv2.BORDER_CONSTANT)
            for v in range(8):
                if u == 0 and v == 0:
                    continue  # the DC coefficient is not counted
                c = cv2.filter2D(ru, -1, d[v][:, None], anchor=o, borderType=cv2.BORDER_CONSTANT)
                # round(|c| * ZERO_SCALE) is 0 exactly where |c| <= ZERO_ABS (one fast pass to
                # uint8; a float inRange took about 40 % longer over the whole count)
                a = cv2.convertScaleAbs(c, alpha=ZERO_SCALE)
                cv2.min(a, 1, dst=a)
                cv2.add(nonzero, a, dst=nonzero)
        z[r0:r1] = (63 - nonzero)[: r1 - r0]
        const[r0:r1] = cst[: r1 - r0]
    z[:, w - 7:] = 0
    z[h - 7:, :] = 0
    return z, const


def votes_from_counts(z: np.ndarray, const: np.ndarray) -> np.ndarray:
    """Per-pixel grid vote (int8: gy * 8 + gx, -1 = no vote) from the zero counts.

    The 64 blocks containing a pixel are the block positions in the 8x8 window ending at
    it; they have 64 distinct grid phases, so a sliding maximum of (zeros, phase) keys gives
    the winner, and a second maximum with the phase order reversed reveals ties. Computed
    in strips of STRIP_ROWS rows (each strip reads the 7 rows above it), so the temporary
    arrays stay small and the cost per pixel does not grow with the picture.
    """
    import cv2

    h, w = z.shape
    v = np.empty((h, w), np.int8)
    kern = np.ones((8, 8), np.uint8)
    a = (7, 7)  # window [y-7, y] x [x-7, x]
    col_phase = (np.arange(w) % 8).astype(np.uint16)[None, :]
    for r0 in range(0, h, STRIP_ROWS):
        r1 = min(h, r0 + STRIP_ROWS)
        s0 = max(0, r0 - 7)  # rows above the strip that its windows reach
        phase = (np.arange(s0, r1) % 8).astype(np.uint16)[:, None] * 8 + col_phase
        z16 = z[s0:r1].astype(np.uint16)
        hi = cv2.dilate(z16 * 128 + const[s0:r1].astype(np.uint16) * 64 + phase, kern,
                        anchor=a, borderType=cv2.BORDER_CONSTANT, borderValue=0)[r0 - s0:]
        lo = cv2.dilate(z16 * 64 + (63 - phase), kern, anchor=a,
                        borderType=cv2.BORDER_CONSTANT, borderValue=0)[r0 - s0:]
        vs = (hi & 63).astype(np.int8)
        vs[((hi & 63) != 63 - (lo & 63)) | ((hi & 64) > 0) | ((hi >> 7) == 0)] = -1
        v[r0:r1] = vs
    # only pixels covered by 64 blocks lying fully inside the image vote (ZERO's border rule)
    v[:7, :] = -1
    v[:, :7] = -1
    v[h - 7:, :] = -1
    v[:, w - 7:] = -1
    return v


def grid_votes(y: np.ndarray) -> np.ndarray:
    return votes_from_counts(*zero_counts(y))


def _votes_and_counts(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z, const = zero_counts(y)
    return votes_from_counts(z, const), z


def log_nfa(n: int, k: int, p: float, log_nt: float) -> float:
    """log10(NT * P[Binomial(n, p) >= k]) (tail summed in log space, no underflow)."""
    if n <= 0 or k <= 0:
        return log_nt
    k = min(k, n)
    if k <= n * p:
        return log_nt  # the tail is at least about 1/2: never meaningful
    first = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
             + k * math.log(p) + (n - k) * math.log1p(-p))
    s, term, q = 1.0, 1.0, p / (1 - p)
    for i in range(k + 1, n + 1):
        term *= (n - i + 1) / i * q
        s += term
        if term < 1e-10 * s:
            break
    return (first + math.log(s)) / math.log(10) + log_nt


def log_nt(h: int, w: int) -> float:
    """Number of tests: 64 grids x 64 ... as ZERO: 64^2 candidate grids x (XY)^2 rectangles."""
    return 2 * math.log10(64) + 2 * math.log10(max(w, 1)) + 2 * math.log10(max(h, 1))


def global_grid(votes: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(main grid or -1, votes per grid (64,), log10 NFA per grid (64,))."""
    h, w = votes.shape
    v8 = votes.view(np.uint8)  # -1 (no vote) reads 255; counted in strips (small temporaries)
    counts = sum((np.bincount(v8[r:r + STRIP_ROWS].ravel(), minlength=256)
                  for r in range(0, h, STRIP_ROWS)), np.zeros(256, np.int64))[:64]
    lt = log_nt(h, w)
    n = h * w // 64
    lnfa = np.array([log_nfa(n, int(c) // 64, 1 / 64, lt) for c in counts])
    main = int(np.argmax(counts)) if counts.max() > 0 else -1
    if main >= 0 and lnfa[main] >= LNFA_DETECT:
        main = -1
    return main, counts, lnfa


def cell_histogram(votes: np.ndarray, cell: int = CELL) -> np.ndarray:
    """Votes per grid in every cell x cell cell: uint8 (ceil(H/cell), ceil(W/cell), 64).

    Counted in bands of cell rows (about STRIP_ROWS pixel rows each) so the temporary
    arrays stay small and the cost per pixel does not grow with the picture.
    """
    h, w = votes.shape
    hc, wc = -(-h // cell), -(-w // cell)
    hist = np.empty((hc, wc, 64), np.uint8)
    band = max(1, STRIP_ROWS // cell)  # cell rows per band
    base = (np.arange(band * wc, dtype=np.int64) * 65)[:, None]
    for c0 in range(0, hc, band):
        c1 = min(hc, c0 + band)
        pad = np.full(((c1 - c0) * cell, wc * cell), -1, np.int8)
        rows = votes[c0 * cell:min(h, c1 * cell)]
        pad[:rows.shape[0], :w] = rows
        c = pad.reshape(c1 - c0, cell, wc, cell).transpose(0, 2, 1, 3).reshape(-1, cell * cell)
        idx = base[:len(c)] + (c.astype(np.int64) + 1)
        cnt = np.bincount(idx.ravel(), minlength=len(c) * 65).reshape(c1 - c0, wc, 65)
        hist[c0:c1] = cnt[..., 1:]
    return hist


def grid_regions(hist: np.ndarray, grids, shape, lt: float, cell: int = CELL,
                 p: float = 1 / 64, valid: np.ndarray | None = None,
                 link_share: float = 0.0, min_density: float = 0.0) -> list[dict]:
    """Meaningful groups of votes for each grid in ``grids`` (a-contrario region growing).

    ``hist`` is (cells_y, cells_x, G) vote counts. Cells holding at least one vote for grid
    g are linked by 8-connectivity; each group is tested with NFA = NT * P[B(n, k, p)],
    k = its votes / 64 and n = its bounding-box pixels / 64 (ZERO), or, when ``valid`` (valid
    votes per cell) is given, the valid votes in the bounding box / 64. p = 1/64 for a grid
    (a vote is uniform over the 64 grids where there is no grid). With ``link_share`` > 0
    (needs ``valid``) only cells where the grid has at least that share of the valid votes
    are linked, and ``min_density`` asks that share of the bounding box's votes too.
    """
    import cv2

    h, w = shape
    min_votes = math.ceil(64 * lt / math.log10(64))
    totals = hist.reshape(-1, hist.shape[-1]).sum(axis=0, dtype=np.int64)
    vint = None
    if valid is not None:
        vint = np.pad(valid.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    out = []
    todo = [g for g in grids if totals[g] >= min_votes]
    # one transposed copy: each grid's plane contiguous (64 strided copies cost ~3x more)
    planes = np.ascontiguousarray(np.moveaxis(hist[..., todo], -1, 0)) if todo else None
    for j, g in enumerate(todo):
        hg = planes[j]
        m = hg > 0
        if link_share > 0 and valid is not None:
            m &= hg >= link_share * valid
        m = m.astype(np.uint8)
        nlab, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        if nlab <= 1:
            continue
        k_per = np.bincount(lab.ravel(), weights=hg.ravel(), minlength=nlab)
        for i in np.nonzero(k_per >= min_votes)[0]:
            if i == 0:
                continue
            x0, y0, ww, hh = (int(s) for s in stats[i, :4])
            bw = min(w, (x0 + ww) * cell) - x0 * cell
            bh = min(h, (y0 + hh) * cell) - y0 * cell
            if vint is None:
                n = bw * bh
            else:
                n = int(vint[y0 + hh, x0 + ww] - vint[y0, x0 + ww] - vint[y0 + hh, x0]
                        + vint[y0, x0])
            k = int(k_per[i])
            lnfa = log_nfa(max(1, n // 64), k // 64, p, lt)
            if lnfa < LNFA_DETECT and k >= min_density * n:
                out.append({"grid": int(g), "lnfa": float(lnfa), "votes": k,
                            "bbox": [x0 * cell, y0 * cell, bw, bh], "cells": lab == i,
                            "density": k / max(1, n)})
    return out


def regions_to_map(regions: list[dict], cshape, shape, cell: int = CELL) -> np.ndarray:
    """Region strength per pixel: each region's score, over its cells closed by ~12 px."""
    import cv2

    h, w = shape
    acc = np.zeros(cshape, np.float32)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    for reg in regions:
        m = cv2.morphologyEx(reg["cells"].astype(np.uint8), cv2.MORPH_CLOSE, k)
        np.maximum(acc, m.astype(np.float32) * region_score(reg["lnfa"]), out=acc)
    full = np.repeat(np.repeat(acc, cell, axis=0), cell, axis=1)
    return full[:h, :w]


def background_map(hist: np.ndarray, main: int, shape, cell: int = CELL,
                   local: bool = False) -> np.ndarray:
    """Local share (5x5 cells) of the votes for the most voted non-main grid, in [0, 1]
    (``local``: of the votes for the main grid, which is then the anomaly)."""
    import cv2

    h, w = shape
    f = hist.astype(np.float32)
    if local:
        f = f[..., main:main + 1]
    elif main >= 0:
        f[..., main] = 0
    # box filter every grid channel over 5x5 cells at once (OpenCV takes up to 512 channels)
    sm = cv2.blur(np.ascontiguousarray(f), (5, 5), borderType=cv2.BORDER_REFLECT)
    if sm.ndim == 2:  # a single channel comes back without its channel axis
        sm = sm[..., None]
    share = sm.max(axis=-1) / float(cell * cell)
    share = np.clip(share / 0.6, 0.0, 1.0)  # 60 % of the pixels voting one foreign grid = full
    full = np.repeat(np.repeat(share, cell, axis=0), cell, axis=1)
    return full[:h, :w]


def region_score(lnfa: float) -> float:
    return float(min(0.99, 1.0 - 0.5 * 10.0 ** (min(lnfa, 0.0) / SCORE_SLOPE)))


# ---------------------------------------------------------------- whole-image analysis

def _tiles(h: int, w: int, budget: int) -> list[tuple[int, int, int, int]]:
    """Evenly spread TILE x TILE tiles (origins on multiples of 8) covering ~budget pixels."""
    ny, nx = -(-h // TILE), -(-w // TILE)
    allt = [(ty * TILE, tx * TILE, min(TILE, h - ty * TILE), min(TILE, w - tx * TILE))
            for ty in range(ny) for tx in range(nx)]
    want = max(1, budget // (TILE * TILE))
    if want >= len(allt):
        return allt
    pick = np.unique(np.linspace(0, len(allt) - 1, want).round().astype(int))
    return [allt[i] for i in pick]


def compute_votes(y: np.ndarray, budget: int = MAX_ANALYSED_PIXELS):
    """Votes (and zero counts) for the whole luminance image, or for evenly spread tiles of it
    when larger than ``budget``. Returns (votes, zero counts, analysed fraction)."""
    h, w = y.shape
    if h * w <= budget:
        v, z = _votes_and_counts(y)
        return v, z, 1.0
    votes = np.full((h, w), -1, np.int8)
    z = np.full((h, w), 255, np.uint8)  # 255: not analysed (never "textured")
    done = 0
    for ty, tx, th, tw in _tiles(h, w, budget):
        votes[ty:ty + th, tx:tx + tw], z[ty:ty + th, tx:tx + tw] = \
            _votes_and_counts(y[ty:ty + th, tx:tx + tw])
        done += th * tw
    return votes, z, done / (h * w)


def textured_cells(z: np.ndarray, main: int, cshape, cell: int = CELL) -> np.ndarray:
    """Cells where the grid is testable: the block half a block off the main grid has fewer
    than TEXTURE_MAX_ZEROS zeros (in flat areas every block position is full of zeros, so
    the grid cannot be seen there whether or not it exists)."""
    gy, gx = divmod(main, 8)
    oy, ox = (gy + 4) % 8, (gx + 4) % 8
    zm = z[oy::cell, ox::cell]
    out = np.zeros(cshape, bool)
    hh, ww = min(cshape[0], zm.shape[0]), min(cshape[1], zm.shape[1])
    out[:hh, :ww] = zm[:hh, :ww] < TEXTURE_MAX_ZEROS
    return out


def clipped_cells(rgb: np.ndarray, cshape, cell: int = CELL) -> np.ndarray:
    """Cells where clipping hides the grid (see :data:`CLIPPED_MAX`): the share of clipped
    pixels over each cell and its right, lower and lower-right neighbours (the pixels its
    blocks cover). One uint8 mask and its integral image (OpenCV): about 5 bytes a pixel."""
    import cv2

    a = np.ascontiguousarray(rgb if rgb.ndim == 3 else rgb[..., None], dtype=np.uint8)
    nch = a.shape[2]
    if nch in (1, 3, 4):  # OpenCV: 255 where every channel is inside (CLIP_LO, CLIP_HI)
        ok = cv2.inRange(a, (CLIP_LO + 1,) * nch, (CLIP_HI - 1,) * nch)
    else:
        ok = np.all((a > CLIP_LO) & (a < CLIP_HI), axis=2).astype(np.uint8) * 255
    clip = (ok == 0).view(np.uint8)
    h, w = clip.shape
    ii = cv2.integral(clip, sdepth=cv2.CV_32S)  # (h + 1, w + 1)
    ny, nx = -(-h // cell), -(-w // cell)
    y0 = np.arange(ny) * cell
    x0 = np.arange(nx) * cell
    y1 = np.minimum(y0 + 2 * cell, h)  # the cell and the next one down / right, inside the image
    x1 = np.minimum(x0 + 2 * cell, w)
    cnt = (ii[y1][:, x1] - ii[y0][:, x1] - ii[y1][:, x0] + ii[y0][:, x0]).astype(np.int64)
    area = (y1 - y0)[:, None].astype(np.int64) * (x1 - x0)[None, :]
    share = cnt / np.maximum(1, area)
    out = np.zeros(cshape, bool)
    hh, ww = min(cshape[0], ny), min(cshape[1], nx)
    out[:hh, :ww] = share[:hh, :ww] >= CLIPPED_MAX
    return out


def analyze_rgb(rgb: np.ndarray, *, is_jpeg_file: bool = False, missing_grid: bool = True,
                budget: int = MAX_ANALYSED_PIXELS) -> dict:
    """The whole analysis on one uint8 RGB (or gray) array; returns a plain dict."""
    y = luminance(rgb)
    h, w = y.shape
    votes, z, analysed = compute_votes(y, budget)
    main, counts, lnfa = global_grid(votes)
    lt = log_nt(h, w)
    hist = cell_histogram(votes)
    valid_cells = hist.sum(axis=-1, dtype=np.int32)
    n_valid = int(valid_cells.sum())
    regions = grid_regions(hist, [g for g in range(64) if g != main], (h, w), lt)
    for r in regions:
        r["kind"] = "foreign_grid"
    # a foreign grid spread over much of the picture is a second *global* grid (compressed,
    # cropped, compressed again at high quality), not a pasted region
    secondary = []
    for g in sorted({r["grid"] for r in regions}):
        cover = np.zeros((h, w), bool)
        for r in regions:
            if r["grid"] == g:
                x, y, bw, bh = r["bbox"]
                cover[y:y + bh, x:x + bw] = True
        if cover.mean() >= SECONDARY_MIN_AREA:
            secondary.append(g)
    regions = [r for r in regions if r["grid"] not in secondary]
    local, missing = [], []
    local_tested = missing_tested = False
    if main >= 0:
        # only textured cells can show whether the grid is there (flat cells are full of
        # zeros at every shift): both tests below count votes in textured cells only
        tex = textured_cells(z, main, valid_cells.shape) & ~clipped_cells(rgb, valid_cells.shape)
        v_tex = np.where(tex, valid_cells, 0)
        m_tex = np.where(tex, hist[..., main], 0).astype(np.int32)
        n_tex = int(v_tex.sum())
        # (a) the main grid may be *local*: a JPEG paste in a picture that never was JPEG
        mreg = grid_regions(m_tex[..., None], [0], (h, w), lt, valid=v_tex,
                            link_share=LINK_SHARE, min_density=MIN_DENSITY)
        inside = np.zeros(valid_cells.shape, bool)
        for r in mreg:
            inside |= r["cells"]
        v_out = int(v_tex[~inside].sum())
        bbox_area = sum(r["bbox"][2] * r["bbox"][3] for r in mreg)
        if mreg and v_out >= LOCAL_MIN_OUTSIDE * n_tex and bbox_area <= LOCAL_MAX_AREA * h * w:
            local_tested = True
            p_out = float(m_tex[~inside].sum()) / max(1, v_out)
            if p_out <= LOCAL_OUTSIDE_MAX:
                local = mreg
                for r in local:
                    r["kind"] = "local_grid"
                    r["grid"] = main
        # (b) regions where the main grid is missing (not for JPEG files: their last
        # compression writes the (0, 0) grid everywhere)
        if missing_grid and not is_jpeg_file and not local and n_tex > 0:
            missing_tested = True
            cand = (v_tex - m_tex)[..., None]
            p0 = float(cand.sum()) / n_tex
            missing = grid_regions(cand, [0], (h, w), lt, p=max(1 / 64, p0), valid=v_tex,
                                   link_share=LINK_SHARE, min_density=MIN_DENSITY)
            for r in missing:
                r["kind"] = "missing_grid"
    regions = sorted(regions + local + missing, key=lambda r: r["lnfa"])
    return {"votes": votes, "main": main, "counts": counts, "lnfa": lnfa, "hist": hist,
            "regions": regions, "valid_fraction": n_valid / max(1, h * w), "log_nt": lt,
            "analysed_fraction": analysed, "missing_grid_tested": missing_tested,
            "local_grid_tested": local_tested, "secondary_grids": secondary, "shape": (h, w)}


def make_map(res: dict) -> np.ndarray:
    h, w = res["shape"]
    local = any(r["kind"] == "local_grid" for r in res["regions"])
    bg = background_map(res["hist"], res["main"], (h, w), local=local) * MAP_BACKGROUND_MAX
    if res["main"] < 0:
        bg *= 0.5  # without a main grid every vote is "foreign": keep the background faint
    if res["regions"]:
        rm = regions_to_map(res["regions"], res["hist"].shape[:2], (h, w))
        bg = np.maximum(bg, rm)
    return bg.astype(np.float32)


def grid_name(g: int) -> str:
    return f"(row {g // 8}, col {g % 8})"


# ---------------------------------------------------------------- detector

class JpegGridDetector(Detector):
    name = "jpeg_grid"
    version = "1.1"  # 1.1: clipped cells left out of the local- and missing-grid tests
    modalities = ("image",)
    localizes = True
    default = True
    summary = "JPEG 8x8 grid from pixels (DCT zeros, a-contrario): crops and misaligned pastes"
    looks_at = ("Which 8x8 JPEG block grid each part of the picture carries, counted from the "
                "pixels (works on PNGs that were JPEG once), and regions whose grid differs "
                "from the rest or is missing.")
    cannot_tell = ("Anything in pictures that never were JPEG-compressed, pastes aligned on the "
                   "same grid, or pastes hidden by a later, stronger JPEG compression; a grid "
                   "not at (0, 0) only shows a crop, which is innocent on its own.")
    how_to_read = ("Red = regions whose JPEG 8x8 block grid is missing or shifted compared with the rest "
                   "of the picture. Flat areas, blown highlights, deep shadows and saturated colours carry no "
                   "grid and are left out.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        opts = ctx.opts(self.name)
        rgb = media.rgb()
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            return Evidence.not_applicable(self.name, self.version,
                                           f"image is {w}x{h}; at least {MIN_SIDE} px per side "
                                           "are needed for the grid statistics")
        is_jpeg = media.format == "jpeg"
        res = analyze_rgb(rgb, is_jpeg_file=is_jpeg,
                          budget=int(opts.get("max_pixels", MAX_ANALYSED_PIXELS)))
        return self._evidence(res, is_jpeg, w, h)

    def _evidence(self, res: dict, is_jpeg: bool, w: int, h: int) -> Evidence:
        main = res["main"]
        lnfa = res["lnfa"]
        counts = res["counts"]
        valid = res["valid_fraction"]
        ev = self.evidence()
        sig = [int(g) for g in np.argsort(lnfa) if lnfa[g] < LNFA_DETECT]
        region_grids = {r["grid"] for r in res["regions"]}
        others = [g for g in res["secondary_grids"]] + \
                 [g for g in sig if g != main and g not in region_grids
                  and g not in res["secondary_grids"]]
        regions = res["regions"]
        ev.data.update({
            "main_grid": None if main < 0 else {"row": main // 8, "col": main % 8,
                                                 "log10_nfa": float(lnfa[main]),
                                                 "votes": int(counts[main])},
            "significant_grids": [{"row": g // 8, "col": g % 8, "log10_nfa": float(lnfa[g])}
                                  for g in sig[:8]],
            "valid_vote_fraction": round(valid, 4),
            "analysed_fraction": round(res["analysed_fraction"], 4),
            "missing_grid_tested": res["missing_grid_tested"],
            "regions": [{"kind": r["kind"], "grid": {"row": r["grid"] // 8, "col": r["grid"] % 8},
                         "log10_nfa": round(r["lnfa"], 2), "bbox_xywh": r["bbox"],
                         "votes": r["votes"], "score": round(region_score(r["lnfa"]), 3)}
                        for r in regions[:20]],
        })
        if res["analysed_fraction"] < 1.0:
            ev.add("info", "analysed_tiles",
                   f"The image is large: {res['analysed_fraction']:.0%} of it was analysed, on "
                   "evenly spread full-resolution tiles (downscaling would erase the JPEG grid).",
                   analysed_fraction=res["analysed_fraction"])

        # ---- image-level findings
        if main < 0:
            ev.add("info", "no_jpeg_grid",
                   "No JPEG block grid was found in the pixels: the picture was probably never "
                   "JPEG-compressed, or only at very high quality, or it was resized after.",
                   jpeg_file=is_jpeg)
        else:
            ev.add("info", "jpeg_grid_found",
                   f"A JPEG 8x8 block grid was found in the pixels with origin {grid_name(main)} "
                   f"(log10 NFA {lnfa[main]:.0f}).", row=main // 8, col=main % 8)
        score = 0.0
        if main > 0:
            score = max(score, CROPPED_SCORE)
            ev.add("low", "jpeg_grid_shifted",
                   f"The main JPEG grid starts at {grid_name(main)}, not at the top-left corner: "
                   "the picture was cropped after it was last JPEG-compressed"
                   + (" and then saved again as JPEG." if is_jpeg else "."),
                   row=main // 8, col=main % 8)
        if others:
            score = max(score, SECOND_GRID_SCORE)
            g = others[0]
            ev.add("low", "several_jpeg_grids",
                   f"Besides the main grid, a second JPEG grid {grid_name(g)} is significant over "
                   "the whole picture: it was JPEG-compressed at least twice with a crop in "
                   "between, or a large part comes from another JPEG.",
                   grids=[{"row": x // 8, "col": x % 8} for x in others[:4]])

        # ---- regions
        for r in regions[:5]:
            s = region_score(r["lnfa"])
            x, y, bw, bh = r["bbox"]
            sev = "high" if s >= 0.8 else "medium"
            if r["kind"] == "foreign_grid":
                what = (f"carries a JPEG grid {grid_name(r['grid'])} different from the rest of "
                        "the picture" if main >= 0 else
                        f"carries a JPEG grid {grid_name(r['grid'])} while the rest shows none")
            elif r["kind"] == "local_grid":
                what = (f"carries a JPEG grid {grid_name(r['grid'])} while the rest of the "
                        "picture shows no JPEG grid")
            else:
                what = "lacks the JPEG grid that the rest of the picture carries"
            ev.add(sev, f"jpeg_grid_{r['kind']}",
                   f"A region of {bw}x{bh} px at ({x}, {y}) {what} (log10 NFA {r['lnfa']:.1f}); "
                   "it may have been pasted from another image.",
                   bbox_xywh=[x, y, bw, bh], log10_nfa=r["lnfa"], grid=r["grid"])
            ev.boxes.append(Box(x, y, bw, bh, score=s, label=r["kind"]))
        if regions:
            score = max(score, region_score(regions[0]["lnfa"]))
        ev.score = float(score)
        ev.label = "manipulated" if score >= 0.5 else "no_evidence"
        ev.heatmap = make_map(res)

        # ---- reliability
        if main < 0 and not regions:
            rel = ("low", "no JPEG grid was found, so misaligned or missing grids cannot be seen")
        elif valid < 0.3:
            rel = ("low", "most of the picture is flat or saturated and gives no grid votes")
        elif main >= 0 and lnfa[main] > -50:
            rel = ("medium", "the JPEG grid is only weakly present (high quality or small image)")
        else:
            rel = ("high", "a strong JPEG grid is present, so regions where it differs are "
                           "measurable")
        ev.data["reliability"] = {"level": rel[0], "why": rel[1][0].upper() + rel[1][1:] + "."}
        if not regions:
            ev.add("info", "no_grid_anomaly",
                   "No region with a different or missing JPEG grid was found.")
        return ev
