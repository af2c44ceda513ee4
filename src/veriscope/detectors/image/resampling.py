"""Resampling (interpolation) traces: periodic correlations of a linear-predictor residue.

Method (Kirchner, "Fast and reliable resampling detection by spectral analysis of fixed
linear predictor residue", ACM MM&Sec 2008, after Popescu & Farid, "Exposing digital
forgeries by detecting traces of resampling", IEEE TSP 2005):

1. Luminance Y (full resolution: downscaling would erase the traces).
2. Residue of a fixed linear predictor e = Y - sum(alpha * neighbours) with Kirchner's
   3x3 filter (alpha = +1/2 for the 4-neighbours, -1/4 for the diagonals) and the
   "p-map" p = exp(-e^2) (lambda = 1, sigma = 1, tau = 2 in Kirchner's notation).
   Interpolated pixels are well predicted from their neighbours in a periodic pattern, so
   p is periodic where the picture was scaled or rotated.
3. p is cut into 64 x 64 blocks (stride 32). Each block gives two 1-D profiles (p averaged
   over its rows, and over its columns: scaling makes p periodic along x and along y, and
   averaging 64 lines lifts that periodicity above the noise). Each profile is
   Hann-windowed, its power spectrum normalised by its median; spectra of the 3 x 3
   neighbouring blocks are averaged (Welch). Low frequencies (< 0.085 cycles/px: picture
   content) are ignored and, when p shows the JPEG 8 x 8 pattern, the 8-periodic mean of
   each profile is removed, the bins within one bin of multiples of 1/8 are ignored and
   the lowest frequency searched is raised to 0.1
   (JPEG block artifacts make peaks there that are NOT resampling).
4. Each bin is then divided by its median over all blocks of the picture (whitening: what
   every block shows, such as JPEG leakage, camera demosaicing or a global resize, says
   nothing about a region). Block statistic: log of the mean of the two strongest
   whitened, Welch-averaged peaks. The map is a
   logistic of it with constants fitted on the FIT split (kodak24 forgeries); the image
   score grows with the largest 8-connected group of suspicious blocks.
5. The spectra averaged over the whole picture tell a *global* resampling (the whole
   picture was resized or rotated): reported as a finding, not as a localized forgery.
"""

from __future__ import annotations

import numpy as np

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector
from veriscope.detectors.image.noise import jpeg_quality

# ---------------------------------------------------------------- constants

ALPHA = ((-0.25, 0.5, -0.25), (0.5, 0.0, 0.5), (-0.25, 0.5, -0.25))
"""Kirchner's fixed predictor."""
BLOCK = 64
STRIDE = 32
TOP_K = 2
"""Block statistic: log of the mean of the TOP_K strongest normalised peaks."""
WELCH_R = 1
"""Spectra of (2 WELCH_R + 1)^2 neighbouring blocks are averaged."""
MIN_FREQ = 0.085
"""Frequencies below this (cycles/pixel) carry picture content, not interpolation (scale 1.1 still peaks at 0.091)."""
MIN_FREQ_JPEG = 0.1
"""... 0.1 when the JPEG pattern is present (its leakage and content meet at 0.094)."""
LATTICE_RATIO = 3.0
"""The JPEG 1/8 lattice is masked when its mean normalised power (whole picture) exceeds
this many times the median bin (rule constant)."""
MAX_PIXELS = 24_000_000
"""Larger pictures are analysed on an evenly spread subset of full-resolution tiles."""
TILE = 1024
MIN_SIDE = 96

# fitted on the FIT split only (benchmarks/classic_grid.py --fit); see docs/detectors/resampling.md
MAP_MID = 2.07
"""Block statistic at which the map reaches 0.5: the 99.5th percentile of FIT pristine blocks
(kodak24 as PNG and as JPEG q90/q75)."""
MAP_WIDTH = 0.16
"""Logistic width: the FIT pristine 95th percentile block (1.59) maps to 0.05."""
SCORE_MIN_BLOCKS = 10
"""Score 0.5 needs a group of this many 8-connected blocks >= 0.5 on the map (FIT: no
pristine picture reaches it, 98 % of resample forgeries do)."""
GLOBAL_MID = 1.5
"""Whole-picture statistic above which the picture is called globally resampled when no
local group reaches SCORE_MIN_BLOCKS (FIT pristine maximum 1.20; FIT resizes by 0.9-1.5
minimum 1.83). Blocks are whitened by the picture's own median spectrum, so a global resize
does not light up the map."""
GLOBAL_SCORE = 0.25
# JPEG files of at most this (IJG-estimated) quality give low reliability: on FIT (kodak24,
# forgeries.resample then JPEG) q95 detects 0 % (image AUC 0.52), q96-97 8-13 % at 4 % false
# alarms (AUC 0.62-0.63), q98 42 % (AUC 0.88): compression erases the traces it looks for
LOW_RELIABILITY_MAX_QUALITY = 97
"""Score for a globally resampled picture (a resize is common and innocent; below 0.5)."""


def luminance(rgb: np.ndarray) -> np.ndarray:
    import cv2

    if rgb.ndim == 2:
        return rgb.astype(np.float32)
    return cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.float32)


def p_map(y: np.ndarray) -> np.ndarray:
    """Kirchner's p-map exp(-e^2) of the fixed-predictor residue e."""
    import cv2

    e = y - cv2.filter2D(y, -1, np.array(ALPHA, np.float32), borderType=cv2.BORDER_REFLECT)
    return np.exp(-(e * e))


def _allowed(b: int, jpeg: bool) -> np.ndarray:
    """rfft bins of a length-b profile that are searched for peaks."""
    f = np.fft.rfftfreq(b)
    allow = f >= (MIN_FREQ_JPEG if jpeg else MIN_FREQ)
    if jpeg:  # bins within one bin of a multiple of 1/8: JPEG block artifacts
        k = np.abs(((f * b + b / 16) % (b / 8)) - b / 16)
        allow &= k > 1
    return allow


def block_spectra(p: np.ndarray, b: int = BLOCK, s: int = STRIDE, remove_8: bool = False):
    """Median-normalised power spectra of the row and column profiles of b x b blocks
    (stride s), allowed bins only, concatenated: (ny, nx, 2 * n_allowed).

    The row profile (mean of p over the block's rows) carries periodicity along x, the
    column profile along y; averaging 64 lines first raises the periodic part above the
    noise. ``remove_8``: the 8-periodic mean of each profile is subtracted first, which
    removes exactly the JPEG block-artifact energy at multiples of 1/8."""
    v = np.lib.stride_tricks.sliding_window_view(p, (b, b))[::s, ::s]
    ny, nx = v.shape[:2]
    win = np.hanning(b).astype(np.float32)
    allow = _allowed(b, remove_8)
    out = []
    for ax in (2, 3):
        prof = v.mean(axis=ax, dtype=np.float32)  # (ny, nx, b)
        if remove_8:
            q = prof.reshape(ny, nx, b // 8, 8)
            prof = (q - q.mean(axis=2, keepdims=True)).reshape(ny, nx, b)
        prof = prof - prof.mean(axis=-1, keepdims=True)
        pw = (np.abs(np.fft.rfft(prof * win, axis=-1)) ** 2)[..., allow]
        out.append(pw / (np.median(pw, axis=-1, keepdims=True) + 1e-12))
    return np.concatenate(out, axis=-1).astype(np.float32)


def _box3(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over (2r+1)^2 neighbouring blocks (edge-replicated) of the first two axes."""
    if r == 0:
        return a
    k = 2 * r + 1
    c = np.pad(a, ((r + 1, r), (r + 1, r)) + ((0, 0),) * (a.ndim - 2), mode="edge")
    c = c.cumsum(0).cumsum(1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def _top(a: np.ndarray, k: int = TOP_K) -> np.ndarray:
    return np.log(np.partition(a, -k, axis=-1)[..., -k:].mean(axis=-1) + 1e-12)


def jpeg_lattice_ratio(p: np.ndarray) -> float:
    """Strength of the 8 x 8-periodic pattern of p (JPEG blocks) over its chance level."""
    h8, w8 = (p.shape[0] // 8) * 8, (p.shape[1] // 8) * 8
    q = p[:h8, :w8].reshape(h8 // 8, 8, w8 // 8, 8)
    pattern = q.mean(axis=(0, 2))
    return float(pattern.std() / max(1e-9, float(q.std()) / np.sqrt(q.size / 64)))


def analyze_luma(y: np.ndarray) -> dict:
    p = p_map(y)
    if min(p.shape) < BLOCK:
        return {"stat": np.zeros((0, 0), np.float32), "global": 0.0, "jpeg_lattice": False,
                "peak_freq": None, "lattice_ratio": 0.0}
    lat = jpeg_lattice_ratio(p)
    jpeg = lat > LATTICE_RATIO
    sp = block_spectra(p, remove_8=jpeg)
    g = sp.reshape(-1, sp.shape[-1]).mean(axis=0)
    g = g / max(1e-12, float(np.median(g)))
    f = np.fft.rfftfreq(BLOCK)[_allowed(BLOCK, jpeg)]
    gi = int(np.argmax(g))
    peak = {"axis": "x" if gi < len(f) else "y", "cycles_per_pixel": float(f[gi % len(f)])}
    # whiten by the picture's own typical spectrum: bins that are high in every block (JPEG
    # leakage, a global resize, CFA) say nothing about a *region*
    spw = sp / (np.median(sp.reshape(-1, sp.shape[-1]), axis=0) + 1e-12)
    stat = _top(_box3(spw, WELCH_R)).astype(np.float32)
    return {"stat": stat, "global": float(_top(g)), "jpeg_lattice": bool(jpeg),
            "lattice_ratio": lat, "peak_freq": peak}


def block_map(stat: np.ndarray) -> np.ndarray:
    z = np.clip((np.asarray(stat, np.float32) - MAP_MID) / MAP_WIDTH, -50, 50)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def to_pixel_map(bm: np.ndarray, shape, stride: int = STRIDE) -> np.ndarray:
    """Block values (block (i, j) covers [i*S, i*S+B) x [j*S, j*S+B)) to a pixel map: each
    stride x stride cell takes the max of the blocks that cover it."""
    h, w = shape
    hc, wc = -(-h // stride), -(-w // stride)
    cells = np.zeros((hc, wc), np.float32)
    ny, nx = bm.shape
    k = max(1, BLOCK // stride)
    for dy in range(k):
        for dx in range(k):
            sub = cells[dy:dy + ny, dx:dx + nx]
            np.maximum(sub, bm[:sub.shape[0], :sub.shape[1]], out=sub)
    full = np.repeat(np.repeat(cells, stride, axis=0), stride, axis=1)
    return full[:h, :w]


def largest_group(bm: np.ndarray) -> tuple[int, tuple[int, int, int, int] | None, float]:
    """(blocks, bbox in block units (x, y, w, h), mean value) of the largest 8-connected
    group of blocks with map >= 0.5."""
    import cv2

    m = (bm >= 0.5).astype(np.uint8)
    if not m.any():
        return 0, None, 0.0
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    i = int(np.argmax(stats[1:, 4])) + 1
    x, y, ww, hh, a = (int(v) for v in stats[i])
    return a, (x, y, ww, hh), float(bm[lab == i].mean())


def image_score(n_blocks: int) -> float:
    """1 - 0.5^(n / SCORE_MIN_BLOCKS): 0.5 for SCORE_MIN_BLOCKS connected suspicious blocks,
    0.75 for twice as many; capped at 0.95."""
    if n_blocks <= 0:
        return 0.0
    return float(min(0.95, 1.0 - 0.5 ** (n_blocks / SCORE_MIN_BLOCKS)))


def _tiles(h: int, w: int, budget: int) -> list[tuple[int, int, int, int]]:
    ny, nx = -(-h // TILE), -(-w // TILE)
    allt = [(ty * TILE, tx * TILE, min(TILE, h - ty * TILE), min(TILE, w - tx * TILE))
            for ty in range(ny) for tx in range(nx)]
    want = max(1, budget // (TILE * TILE))
    if want >= len(allt):
        return allt
    pick = np.unique(np.linspace(0, len(allt) - 1, want).round().astype(int))
    return [allt[i] for i in pick]


class ResamplingDetector(Detector):
    name = "resampling"
    version = "1.1"
    modalities = ("image",)
    localizes = True
    default = True
    summary = "Resampling traces: periodic linear-predictor residue (Kirchner 2008), per block"
    looks_at = ("Periodic patterns that interpolation leaves in how well each pixel is predicted "
                "from its neighbours: they appear where part of the picture was scaled or "
                "rotated.")
    cannot_tell = ("Downscaled or strongly re-compressed regions (the traces fade), nor why a "
                   "region was resampled; periodic textures (fences, fabrics) can look alike, "
                   "and a whole-picture resize is common and innocent.")
    how_to_read = ("Red = blocks with the periodic traces of being scaled or rotated, which the rest of "
                   "the picture lacks. A resize of the whole picture is not shown here (it is a note in "
                   "the findings), and JPEG compression at quality 95 or below erases these traces.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        rgb = media.rgb()
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            return Evidence.not_applicable(self.name, self.version,
                                           f"image is {w}x{h}; at least {MIN_SIDE} px per side "
                                           "are needed for block spectra")
        y = luminance(rgb)
        ev = self.evidence()
        if h * w > MAX_PIXELS:
            res, heat, frac = self._tiled(y)
            ev.add("info", "analysed_tiles",
                   f"The image is large: {frac:.0%} of it was analysed on evenly spread "
                   "full-resolution tiles (downscaling would erase resampling traces).",
                   analysed_fraction=frac)
        else:
            res = analyze_luma(y)
            bm = block_map(res["stat"])
            res["bm"] = bm
            heat = to_pixel_map(bm, (h, w))
        return self._evidence(ev, res, heat, media, rgb)

    def _tiled(self, y: np.ndarray):
        h, w = y.shape
        heat = np.zeros((h, w), np.float32)
        best = None
        globs, done = [], 0
        bms = []
        for ty, tx, th, tw in _tiles(h, w, MAX_PIXELS):
            r = analyze_luma(y[ty:ty + th, tx:tx + tw])
            if r["stat"].size == 0:
                continue
            bm = block_map(r["stat"])
            heat[ty:ty + th, tx:tx + tw] = to_pixel_map(bm, (th, tw))
            globs.append(r["global"])
            bms.append(bm)
            done += th * tw
            if best is None or largest_group(bm)[0] > largest_group(best["bm"])[0]:
                best = dict(r, bm=bm, offset=(tx, ty))
        if best is None:
            best = {"stat": np.zeros((0, 0)), "global": 0.0, "jpeg_lattice": False,
                    "peak_freq": None, "bm": np.zeros((0, 0))}
        best["global"] = float(np.median(globs)) if globs else 0.0
        return best, heat, done / (h * w)

    def _evidence(self, ev: Evidence, res: dict, heat: np.ndarray, media: Media, rgb) -> Evidence:
        bm = res["bm"]
        glob = res["global"]
        n, bbox, mval = largest_group(bm) if bm.size else (0, None, 0.0)
        frac_susp = float((bm >= 0.5).mean()) if bm.size else 0.0
        is_global = glob >= GLOBAL_MID and n < SCORE_MIN_BLOCKS
        ev.data.update({"global_statistic": round(glob, 3), "globally_resampled": is_global,
                        "jpeg_lattice_masked": res["jpeg_lattice"],
                        "peak_frequency": res.get("peak_freq"),
                        "suspicious_block_fraction": round(frac_susp, 4),
                        "largest_group_blocks": n, "blocks": list(bm.shape)})
        score = 0.0
        if is_global:
            ev.add("low", "globally_resampled",
                   "The whole picture shows periodic interpolation traces: it was probably "
                   "resized or rotated as a whole (common and innocent on its own).",
                   statistic=glob, peak=res.get("peak_freq"))
            score = GLOBAL_SCORE
        if bbox is not None and n > 0 and not is_global:
            s = image_score(n)
            off = res.get("offset", (0, 0))
            st = STRIDE
            x, y = bbox[0] * st + off[0], bbox[1] * st + off[1]
            bw, bh = (bbox[2] - 1) * st + BLOCK, (bbox[3] - 1) * st + BLOCK
            if s >= 0.5:
                ev.add("high" if s >= 0.8 else "medium", "resampled_region",
                       f"A region of about {bw}x{bh} px at ({x}, {y}) shows periodic "
                       "interpolation traces that the rest of the picture lacks: it may have "
                       "been scaled or rotated and pasted.", bbox_xywh=[x, y, bw, bh],
                       blocks=n)
                ev.boxes.append(Box(x, y, bw, bh, score=s, label="resampled"))
            score = s
        ev.add("info", "resampling_summary",
               "Periodic interpolation traces: "
               + ("over the whole picture." if is_global else
                  f"{n} connected suspicious block(s) of {bm.size}." if n else "none found."))
        ev.score = float(score)
        ev.label = "manipulated" if score >= 0.5 else "no_evidence"
        ev.heatmap = heat
        # reliability
        g = luminance(rgb) if rgb.ndim == 3 else rgb
        sat = float(((g <= 3) | (g >= 252)).mean())
        q = jpeg_quality(media)  # None unless a JPEG with a readable table
        if q is not None and q <= LOW_RELIABILITY_MAX_QUALITY:
            rel = ("low", f"the file is a JPEG of quality about {q}: regions resampled before "
                          f"such a compression are not seen (measured: none at quality 95, "
                          f"chance-level scores), so a positive here is weak evidence")
        elif media.format == "jpeg" or res["jpeg_lattice"]:
            rel = ("medium", "JPEG compression weakens interpolation traces and its 1/8 "
                             "frequencies are ignored")
        else:
            rel = ("high", "the picture shows no JPEG pattern, so interpolation traces are "
                           "well preserved")
        if sat > 0.3 or min(rgb.shape[:2]) < 2 * BLOCK:
            rel = ("low", "the picture is small or largely flat/saturated")
        ev.data["reliability"] = {"level": rel[0], "why": rel[1][0].upper() + rel[1][1:] + "."}
        return ev
