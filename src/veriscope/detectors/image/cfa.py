"""CFA / demosaicing trace inconsistency (blind, no training).

Most cameras record one colour per pixel through a Bayer colour filter array
(CFA) and interpolate ("demosaic") the two missing colours. Interpolated values
are, locally, near-linear combinations of their recorded neighbours, so a simple
predictor fits them much better than it fits the recorded ones, with a period-2
pattern. A region pasted from another picture, resampled, blurred, inpainted or
moved by an odd number of pixels lacks that pattern, or has it out of phase.

Method (after A. C. Gallagher & T. Chen 2008, A. E. Dirik & N. Memon 2009 and
P. Ferrara, T. Bianchi, A. De Rosa & A. Piva, "Image forgery localization via
fine-grained analysis of CFA artifacts", IEEE TIFS 2012; implemented from the
papers, no code reused):

1. For every channel, prediction error ``e = x - mean of the 4 nearest neighbours``
   (the bilinear demosaicing kernel used as a predictor).
2. Mean ``e^2`` of each of the four 2x2 lattice positions, per 16x16 cell.
3. Bayer pattern estimation on the whole image: the green quincunx lattice with the
   larger prediction error is the recorded one; red and blue are the remaining
   positions with the largest red / blue error.
4. Per window (2x2 cells, stride one cell) the feature
   ``f = log(E_G acquired / E_G interpolated)`` plus half the red and blue
   analogues; large where demosaicing traces are present with the image's phase,
   near 0 where they are absent, negative where they are out of phase.
5. Ferrara's two-class model, fitted by EM on the image itself: genuine windows
   ``N(mu1, s1^2)`` with mu1 > 0, tampered windows ``N(0, s2^2)``. The map is the
   posterior of the tampered class, smoothed.

Reliability: traces survive only in images that were neither resized nor
JPEG-compressed below high quality. When the whole image shows no trace
(film scans, most web images, resized or recompressed photos) the detector gives
no score and no map: absence of traces everywhere is not evidence of anything.
"""

from __future__ import annotations

import numpy as np

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector, sigmoid
from veriscope.detectors.image.noise import cell_map_to_image, jpeg_quality, regions, scale_box

CELL = 16
MAP_PIXELS = 2_000_000
"""Largest heatmap returned (the writer resizes it to the input size)."""
"""Cell size in pixels (even: the 2x2 lattice must tile it)."""
WINDOW = 2
"""Window size in cells (32 px) for the per-window feature."""
MIN_SIDE = 64
"""Below this many pixels on the short side the image is not analysed."""
MAX_PIXELS = 40_000_000
"""Above this the image is analysed on its central crop of this size (CFA traces do not survive
downscaling, so the detector never downscales)."""

# Constants set on Bayer-mosaiced + demosaiced kodak24 images (FIT split), docs/detectors/cfa.md
TRACE_MIN = 0.35
"""Median window feature below which the image is said to carry no usable demosaicing trace."""
GREEN_EXIT = 0.08
"""|median green log-ratio| below which the image is said to have no trace without looking at
red and blue (FIT: at most 0.016 on the original film scans, at least 0.19 on demosaiced ones)."""
EM_ITERS = 40
SMOOTH = 1.0
"""Gaussian smoothing of the tampered-posterior map, in cells."""
POST_MID = 0.5
"""Posterior at which the map reaches 0.5 (the map is the posterior itself)."""
SCORE_MID = 0.02
"""Image statistic (largest connected area with map >= 0.5, as a fraction of the image) at which
the score reaches 0.5; the largest such area on the 24 pristine FIT mosaics was 0.011."""
SCORE_WIDTH = 0.005

JPEG_MIN_Q = 97
"""Below this estimated JPEG quality the reliability is low and the score is capped at 0.49:
on FIT, demosaiced kodak24 copies saved at q92/q95 (4:2:0) were flagged in 2 of the 8 that kept
traces, at q97-q99 in 0 of 38."""

# pattern name (top-left 2x2, row-major) -> (red phase, blue phase); green is the other lattice
PATTERNS = {"RGGB": ((0, 0), (1, 1)), "GRBG": ((0, 1), (1, 0)),
            "GBRG": ((1, 0), (0, 1)), "BGGR": ((1, 1), (0, 0))}
CV2_CODES = {"RGGB": "BG", "GRBG": "GB", "GBRG": "GR", "BGGR": "RG"}
"""OpenCV's names for the same layouts (checked on a constant-colour mosaic)."""
PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))


# ---------------------------------------------------------------------------- synthesis helper

def mosaic_demosaic(rgb: np.ndarray, pattern: str = "RGGB", algo: str = "bilinear",
                    noise: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """Simulate a camera: sample ``rgb`` through a Bayer CFA (optionally adding raw noise)
    and demosaic it with OpenCV (``bilinear``, ``vng`` or ``ea``). Used by tests/benchmarks."""
    import cv2

    h, w = rgb.shape[:2]
    h, w = h - h % 2, w - w % 2
    x = rgb[:h, :w].astype(np.float32)
    (ry, rx), (by, bx) = PATTERNS[pattern]
    raw = x[..., 1].copy()
    raw[ry::2, rx::2] = x[ry::2, rx::2, 0]
    raw[by::2, bx::2] = x[by::2, bx::2, 2]
    if noise > 0:
        rng = rng or np.random.default_rng(0)
        raw += rng.normal(0, noise, raw.shape).astype(np.float32)
    raw8 = np.clip(np.rint(raw), 0, 255).astype(np.uint8)
    suffix = {"bilinear": "", "vng": "_VNG", "ea": "_EA"}[algo]
    code = getattr(cv2, f"COLOR_Bayer{CV2_CODES[pattern]}2RGB{suffix}")
    return cv2.cvtColor(raw8, code)


# ---------------------------------------------------------------------------- core

def phase_energies(img: np.ndarray, cell: int = CELL, strip: int = 256) -> np.ndarray:
    """Mean squared 4-neighbour prediction error per channel, 2x2 phase and cell:
    array (C, 4, gh, gw) in PHASES order. ``img`` is (H, W) or (H, W, C), any strides.
    Processed in horizontal strips (cache-friendly)."""
    import cv2

    if img.ndim == 2:
        img = img[..., None]
    nc = img.shape[2]
    h, w = img.shape[:2]
    gh, gw = h // cell, w // cell
    H, W = gh * cell, gw * cell
    k = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)
    out = np.empty((nc, 4, gh, gw))
    strip = max(cell, strip - strip % cell)
    for y in range(0, H, strip):
        y1 = min(H, y + strip)
        a, b = max(0, y - 1), min(h, y1 + 1)  # one-row halo for the 3x3 predictor
        x = img[a:b, :W].astype(np.float32)
        e = x - cv2.filter2D(x, -1, k, borderType=cv2.BORDER_REFLECT).reshape(x.shape)
        e = e[y - a:y - a + (y1 - y)]
        e2 = e * e  # (rows, W, nc), contiguous
        ch = (y1 - y) // cell
        # (rows/2, 2, W/2, 2*nc): for a row phase py, the columns hold (px, channel) pairs, so
        # one INTER_AREA resize gives the per-cell means of both column phases of all channels
        v = e2.reshape(e2.shape[0] // 2, 2, W // 2, 2 * nc)
        for py in (0, 1):
            m = cv2.resize(v[:, py], (gw, ch), interpolation=cv2.INTER_AREA)
            m = m.reshape(ch, gw, 2, nc)
            for px in (0, 1):
                out[:, PHASES.index((py, px)), y // cell:y // cell + ch] = np.moveaxis(
                    m[:, :, px], -1, 0)
    return out


def _box(a: np.ndarray, w: int) -> np.ndarray:
    from veriscope.detectors.image.noise import box_sum

    return box_sum(a, w)


def estimate_pattern(E: np.ndarray, valid: np.ndarray) -> tuple[str, dict]:
    """Bayer layout from window energies E (3, 4, ...) over valid windows."""
    eps = 1e-3
    lg = np.log((E[1, 0] + E[1, 3] + eps) / (E[1, 1] + E[1, 2] + eps))[valid]
    # the recorded green lattice has the LARGER prediction error: lg > 0 means green was
    # recorded on the main diagonal (0,0),(1,1) and red/blue sit on (0,1),(1,0)
    g_main = float(np.median(lg)) >= 0
    cand = [(0, 1), (1, 0)] if g_main else [(0, 0), (1, 1)]
    ia, ib = PHASES.index(cand[0]), PHASES.index(cand[1])
    r_pref = float(np.median(np.log((E[0, ia] + eps) / (E[0, ib] + eps))[valid]))
    b_pref = float(np.median(np.log((E[2, ib] + eps) / (E[2, ia] + eps))[valid]))
    red = cand[0] if r_pref + b_pref >= 0 else cand[1]
    name = next(n for n, (r, _b) in PATTERNS.items() if r == red)
    return name, {"green_log_ratio": float(np.median(lg)), "red_blue_preference": r_pref + b_pref}


def window_feature(E: np.ndarray, pattern: str) -> np.ndarray:
    """f = log(E_G acq / E_G int) + 0.5 (log-ratio of R acq vs rest + same for B)."""
    eps = 1e-3
    (ry, rx), (by, bx) = PATTERNS[pattern]
    ir, ib = PHASES.index((ry, rx)), PHASES.index((by, bx))
    ig = [i for i in range(4) if i not in (ir, ib)]
    ii = [ir, ib]
    fg = np.log((E[1, ig].sum(0) + eps) / (E[1, ii].sum(0) + eps))
    fr = np.log((3 * E[0, ir] + eps) / (E[0].sum(0) - E[0, ir] + eps))
    fb = np.log((3 * E[2, ib] + eps) / (E[2].sum(0) - E[2, ib] + eps))
    return fg + 0.5 * (fr + fb)


def em_ferrara(f: np.ndarray, iters: int = EM_ITERS) -> dict:
    """Two-class 1-D EM: genuine N(mu1, s1^2), tampered N(0, s2^2) (mean fixed at 0)."""
    mu1 = float(np.median(f))
    s1 = float(1.4826 * np.median(np.abs(f - mu1))) + 1e-3
    s2 = max(s1, 0.1)
    pt = 0.1
    for _ in range(iters):
        l1 = -0.5 * ((f - mu1) / s1) ** 2 - np.log(s1) + np.log(1 - pt)
        l2 = -0.5 * (f / s2) ** 2 - np.log(s2) + np.log(pt)
        post = sigmoid(l2 - l1)
        w1, w2 = (1 - post).sum(), post.sum()
        if w1 < 2:
            break
        mu1 = float(((1 - post) * f).sum() / w1)
        s1 = float(np.sqrt(((1 - post) * (f - mu1) ** 2).sum() / w1)) + 1e-3
        if w2 > 1:
            s2 = float(np.sqrt((post * f ** 2).sum() / w2)) + 1e-3
        pt = float(np.clip(w2 / f.size, 1e-3, 0.5))
    l1 = -0.5 * ((f - mu1) / s1) ** 2 - np.log(s1) + np.log(1 - pt)
    l2 = -0.5 * (f / s2) ** 2 - np.log(s2) + np.log(pt)
    return {"post": sigmoid(l2 - l1), "mu1": mu1, "s1": s1, "s2": s2, "pt": pt}


def analyse(rgb: np.ndarray) -> dict:
    import cv2

    h, w = rgb.shape[:2]
    gh, gw = h // CELL, w // CELL
    if gh < WINDOW + 2 or gw < WINDOW + 2:
        return {"ok": False, "why": "too small"}
    # green first: without a period-2 green pattern there is no trace to analyse (fast exit)
    Eg = _box(phase_energies(rgb[..., 1]), WINDOW) / (WINDOW * WINDOW)
    lum = cv2.cvtColor(np.ascontiguousarray(rgb[:gh * CELL, :gw * CELL]), cv2.COLOR_RGB2GRAY)
    sat = ((lum <= 2) | (lum >= 253)).astype(np.float32)
    satc = cv2.resize(sat, (gw, gh), interpolation=cv2.INTER_AREA).astype(np.float64)
    satw = _box(satc, WINDOW) / (WINDOW * WINDOW)
    active = Eg[0].mean(0)
    valid = (satw < 0.2) & (active > 0.5)
    out = {"ok": True, "grid": (gh, gw), "valid_fraction": float(valid.mean())}
    if valid.sum() < 8:
        out.update(ok=False, why="too few usable windows")
        return out
    lg = np.log((Eg[0, 0] + Eg[0, 3] + 1e-3) / (Eg[0, 1] + Eg[0, 2] + 1e-3))[valid]
    g_ratio = float(np.median(lg))
    if abs(g_ratio) < GREEN_EXIT:
        out.update(pattern=None, pattern_info={"green_log_ratio": g_ratio}, strength=abs(g_ratio),
                   traces=False)
        return out
    Erb = _box(phase_energies(rgb[..., ::2]), WINDOW) / (WINDOW * WINDOW)
    E = np.stack([Erb[0], Eg[0], Erb[1]])  # (3, 4, wh, ww) in R, G, B order
    pattern, pinfo = estimate_pattern(E, valid)
    f = window_feature(E, pattern)
    strength = float(np.median(f[valid]))
    out.update(pattern=pattern, pattern_info=pinfo, strength=strength, feature=f, valid=valid)
    if strength < TRACE_MIN:
        out["traces"] = False
        return out
    out["traces"] = True
    em = em_ferrara(f[valid])
    post = np.zeros(f.shape)
    post[valid] = em["post"]
    a = WINDOW // 2
    cells = np.pad(post, ((a, WINDOW - 1 - a), (a, WINDOW - 1 - a)), mode="edge")
    cells = cv2.GaussianBlur(cells.astype(np.float32), (0, 0), SMOOTH)
    out.update(cells=cells, em={k: v for k, v in em.items() if k != "post"})
    return out


def _map_at_most(cells: np.ndarray, h: int, w: int, max_pixels: int) -> tuple[np.ndarray, float]:
    """The cell map as an image of the analysed size, scaled down to at most max_pixels
    (the cells are 16 px, so a full-size map adds nothing); returns (map, scale)."""
    import cv2

    s = min(1.0, (max_pixels / (h * w)) ** 0.5)
    if s >= 1.0:
        return cell_map_to_image(cells, h, w, CELL), 1.0
    gh, gw = cells.shape
    mh, mw = max(1, round(h * s)), max(1, round(w * s))
    ch, cw = min(mh, max(1, round(gh * CELL * s))), min(mw, max(1, round(gw * CELL * s)))
    m = cv2.resize(cells.astype(np.float32), (cw, ch), interpolation=cv2.INTER_LINEAR)
    return np.pad(m, ((0, mh - ch), (0, mw - cw)), mode="edge"), s


def posterior_to_map(cells: np.ndarray) -> np.ndarray:
    return np.clip(cells, 0.0, 1.0).astype(np.float32)


def statistic(heat_cells: np.ndarray) -> float:
    """Largest connected area with map >= 0.5, as a fraction of the image."""
    r = regions(heat_cells, 0.5, min_frac=0.0, top=1)
    return r[0]["area_frac"] if r else 0.0


def stat_to_score(stat: float) -> float:
    return float(sigmoid((stat - SCORE_MID) / SCORE_WIDTH))


class CFADetector(Detector):
    name = "cfa"
    version = "1.0.0"
    modalities = ("image",)
    requires = ("cv2",)
    localizes = True
    summary = "Demosaicing (Bayer CFA) trace inconsistency"
    looks_at = ("The period-2 pattern that a camera's colour filter array and demosaicing leave "
                "between neighbouring pixels, and whether any region lacks it or has it out of "
                "phase with the rest of the picture.")
    cannot_tell = ("Anything on pictures without demosaicing traces (film scans, resized or "
                   "JPEG-compressed below high quality, screenshots, most web images); a "
                   "region pasted from a camera picture with the same aligned Bayer phase; "
                   "smooth or saturated areas also lack traces in untouched photos.")
    how_to_read = ("Red = regions that lack the camera's colour-filter (demosaicing) pattern found "
                   "elsewhere in the picture. Pictures that were resized, strongly compressed or "
                   "generated have no such pattern anywhere; then the map says nothing.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        rgb = media.rgb()
        H, W = rgb.shape[:2]
        if min(H, W) < MIN_SIDE:
            return Evidence.not_applicable(self.name, self.version,
                                           f"image is {W}x{H}: too small for CFA analysis "
                                           f"(needs at least {MIN_SIDE} px per side)")
        y0 = x0 = 0
        if H * W > MAX_PIXELS:
            s = (MAX_PIXELS / (H * W)) ** 0.5
            ch, cw = int(H * s) & ~1, int(W * s) & ~1
            y0, x0 = ((H - ch) // 2) & ~1, ((W - cw) // 2) & ~1
            rgb = rgb[y0:y0 + ch, x0:x0 + cw]
        h, w = rgb.shape[:2]
        q = jpeg_quality(media)
        data = {"jpeg_quality": q, "analysed_region": [x0, y0, w, h]}
        sub = rgb[::7, ::7].astype(np.int16)
        if not (np.abs(sub[..., 0] - sub[..., 1]).max() > 2 or
                np.abs(sub[..., 2] - sub[..., 1]).max() > 2):
            ev = self.evidence(score=None, label="inconclusive", data=data)
            data["reliability"] = {"level": "low", "why": "The picture has no colour, so no "
                                   "colour-filter pattern can be checked."}
            ev.add("info", "cfa_no_colour", "This picture is not a colour photo, so demosaicing "
                   "traces cannot be checked.")
            return ev
        res = analyse(rgb)
        data["valid_fraction"] = res.get("valid_fraction")
        if not res["ok"]:
            ev = self.evidence(score=None, label="inconclusive", data=data)
            data["reliability"] = {"level": "low", "why": "Too little usable (non-flat, "
                                   "non-clipped) area to measure demosaicing traces."}
            ev.add("info", "cfa_unmeasurable", "Demosaicing traces could not be measured: the "
                   "picture is too small, too flat or too clipped.")
            return ev
        data.update(pattern=res["pattern"], trace_strength=res["strength"],
                    pattern_info=res["pattern_info"])
        if not res["traces"]:
            ev = self.evidence(score=None, label="inconclusive", data=data)
            data["reliability"] = {"level": "low", "why": _no_trace_reason(q)}
            ev.add("info", "cfa_no_traces", "No demosaicing (colour filter) traces were found "
                   "anywhere in the picture, so this check cannot say anything: "
                   + _no_trace_reason(q), trace_strength=res["strength"])
            return ev
        cells = posterior_to_map(res["cells"])
        heat, ms = _map_at_most(cells, h, w, MAP_PIXELS)
        stat = statistic(cells)
        score = stat_to_score(stat)
        data.update(statistic=stat, em=res["em"])
        data["reliability"] = _reliability(q, res["strength"], res["valid_fraction"])
        if data["reliability"]["level"] == "low":
            score = min(score, 0.49)
        ev = self.evidence(score=score, label="manipulated" if score >= 0.5 else "no_evidence",
                           heatmap=heat, data=data)
        if (h, w) != (H, W):
            ev.add("info", "cfa_central_crop", f"Only the central {w}x{h} part of this very "
                   "large picture was analysed (demosaicing traces cannot be analysed on a "
                   "downscaled copy).", region=[x0, y0, w, h])
        regs = [scale_box(r, 1.0 / ms, 1.0 / ms, w, h) for r in regions(heat)]
        for r in regs:
            r["x"] += x0
            r["y"] += y0
        data["regions"] = regs
        if score >= 0.5 and regs:
            r = regs[0]
            sev = "high" if score >= 0.8 and data["reliability"]["level"] == "high" else "medium"
            ev.add(sev, "cfa_trace_missing_region",
                   f"The picture carries camera demosaicing traces ({res['pattern']} pattern), "
                   f"but a region of about {100 * r['area_frac']:.0f}% of it (box at x={r['x']}, "
                   f"y={r['y']}, {r['w']}x{r['h']} px) lacks them, as pasted, resampled or "
                   "retouched areas do.", bbox=[r["x"], r["y"], r["w"], r["h"]],
                   area_fraction=r["area_frac"])
            for rr in regs:
                ev.boxes.append(Box(rr["x"], rr["y"], rr["w"], rr["h"], score=rr["peak"],
                                    label="cfa_trace_missing"))
            ev.add("info", "cfa_summary", f"Demosaicing traces ({res['pattern']} Bayer pattern) "
                   "are present but missing in part of the picture.", score=score)
        else:
            ev.add("info", "cfa_summary", f"Demosaicing traces ({res['pattern']} Bayer "
                   "pattern) are present and consistent across the picture.", score=score)
        return ev


def _no_trace_reason(q: int | None) -> str:
    if q is not None and q < 95:
        return (f"JPEG compression (quality about {q}) usually erases them, as do resizing "
                "and film scanning.")
    return ("they are erased by resizing, strong compression or denoising, and absent in film "
            "scans, screenshots and computer graphics.")


def _reliability(q: int | None, strength: float, valid: float) -> dict:
    if q is not None and q < JPEG_MIN_Q:
        return {"level": "low", "why": f"JPEG compression (quality about {q}) erases demosaicing "
                                       "traces unevenly (flat areas first), so missing traces "
                                       "mean little here."}
    if strength < 2 * TRACE_MIN or valid < 0.4:
        return {"level": "medium", "why": "Demosaicing traces are present but weak or "
                                          "measurable on only part of the picture."}
    if q is not None and q < 99:
        return {"level": "medium", "why": f"JPEG compression (quality about {q}) weakens "
                                          "demosaicing traces."}
    return {"level": "high", "why": "Strong demosaicing traces over most of the picture."}
