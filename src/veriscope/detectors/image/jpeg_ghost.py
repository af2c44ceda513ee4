"""JPEG ghosts (Farid 2009): re-save at many qualities, find the region that differs.

Method (H. Farid, "Exposing digital forgeries from JPEG ghosts", IEEE TIFS 4(1), 2009):
re-save the image at a range of JPEG qualities q and measure, for each q, how much every
small area changes. Content that was already compressed at quality q1 changes little when
re-saved at q1 (a "ghost"); content with another history does not share it. The map is
taken at the quality whose ghost is deepest over the image; the area that does not share
that ghost is the suspect one.

Implementation choices (documented in docs/detectors/jpeg_ghost.md):

* Luminance only, in the DCT domain: re-quantizing the block DCT coefficients with the IJG
  table of quality q and summing the squared changes equals, by Parseval's identity, the
  pixel-domain squared difference of a re-save on that 8x8 grid (without the final rounding
  to integers). Only the first 28 zigzag coefficients are used.
* Normalisation: Farid normalises each pixel's difference curve to [0, 1] over the
  qualities. Here each block's change is divided instead by the change expected if the
  block had no history at q (step^2 / 12 for every coefficient larger than half the step;
  smaller ones are zeroed by any re-save and left out). The ratio is ~1 without history and
  near 0 with a ghost, whatever the texture; it is also free of the ripples the libjpeg
  tables put in the raw curve, which lets every integer quality from 40 to 98 be tried.
* Grid: the file's own grid for JPEG files (qualities close to and above the file's own are
  skipped); for other files the 8x8 grid with the strongest quantization periodicity (an
  image that was a JPEG once keeps its grid); for JPEG files whose earlier compression sits
  on a shifted grid (found as in jpeg_ndq), that grid too, keeping the stronger result.
* Averaging over 3x3 blocks (24 px); a block is flagged when its ratio at the chosen quality
  is above the midpoint between the image median and 1.
"""

from __future__ import annotations

import numpy as np

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector
from veriscope.detectors.image.jpeg_dq import (
    add_window_finding,
    analysis_window,
    block_bbox,
    block_heatmap,
    clipped_blocks,
    dct_blocks,
    grid_dct,
    jpeg_luma,
    largest_component,
    reliability,
    window_rgb,
)

# ---------------------------------------------------------------- constants (documented)

QUALITIES = tuple(range(40, 99))
"""Re-save qualities tried (IJG/libjpeg luminance tables), every integer from 40 to 98."""
N_COEF = 28
"""Zigzag coefficients used for the re-quantization difference."""
SMOOTH_BLOCKS = 3
"""Spatial averaging window, in 8x8 blocks (24 px; Farid averages over 16 px)."""
MIN_COUNT = 2.0
"""A block (3x3 average) needs at least this many coefficients larger than half the step
at the chosen quality to carry an opinion (flat areas carry none)."""
QF_MARGIN = 3
"""On the file's own grid, qualities within this margin of the file's own quality (and
above) are skipped: everything re-saves almost unchanged there."""
SELECT_BLOCKS = 6_000
"""The quality with the deepest ghost is chosen on at most this many random blocks."""
SOFT = 0.1
"""Width of the soft threshold of the map, in units of the normalised difference."""
KAPPA0 = 0.3
"""Contrast (median normalised difference of the region minus the image median) below which
a region is not counted: the spread that single-compressed FIT photos show (see doc)."""
STRENGTH_HALF = 70.0
"""Region strength (blocks x excess contrast) that maps to score 0.5: just above the largest
value on untouched FIT photos (64, a single save at quality 60; see doc)."""
DEPTH_HIGH = 0.4
"""Ghost depth (1 - image median ratio) from which the ghost is called clear (rule)."""
ECHO_MARGIN = 5
"""On the file's grid, a ghost less than this many quality steps below the file's own quality
is treated as an echo of the last save (the libjpeg tables of nearby qualities share steps:
a single save at 60/70/75 shows one at 57/67/72 on FIT) for the reliability rating."""
MAX_FLAGGED_FRACTION = 0.5
MOSTLY_FLAGGED_CAP = 0.45
MIN_SIDE = 64


def _zz(n: int) -> np.ndarray:
    from veriscope.formats.jpeg import ZIGZAG

    return np.asarray(ZIGZAG[:n], dtype=np.int64)


def _table(q: int) -> np.ndarray:
    from veriscope.formats.jpeg import ijg_scaled_table

    return np.asarray(ijg_scaled_table(int(q)), np.float32)[_zz(N_COEF)]


def ghost_terms(X: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per block: re-quantization error energy, its expectation without history, and the
    count of coefficients that matter, for quality q. X: (..., N_COEF) coefficients.

    A coefficient smaller than half the step is zeroed by any re-save whatever its history,
    so it is left out of both sums; a larger one that has no history at q moves by a
    uniformly distributed amount (expected squared error step^2 / 12), while one that was
    already quantized at q barely moves."""
    t = _table(q)
    big = np.abs(X) >= t / 2
    r = X - t * np.rint(X / t)
    num = np.where(big, r * r, 0.0).sum(-1)
    den = (big * (t * t / 12.0)).sum(-1)
    return num, den, big.sum(-1).astype(np.float32)


def ghost_quality(X: np.ndarray, qualities) -> tuple[int, float, list]:
    """The quality whose re-save changes the image least relative to expectation.

    X: (n, N_COEF) coefficients of sampled blocks. Returns (q*, median ratio at q*, curve)."""
    curve = []
    for q in qualities:
        num, den, cnt = ghost_terms(X, q)
        ok = cnt >= 1
        curve.append(float(np.median(num[ok] / den[ok])) if ok.sum() >= 16 else 1.0)
    j = int(np.argmin(curve))
    return int(qualities[j]), curve[j], curve


def ghost_map(y: np.ndarray, grid: tuple[int, int], qualities, rgb=None,
              seed: int = 0, lum=None) -> dict | None:
    """Normalised ghost map on one grid at the best quality, and its region statistics."""
    from scipy import ndimage

    r, c = grid
    C = grid_dct(lum, r, c) if lum is not None else dct_blocks(y, r, c)
    nby, nbx = C.shape[:2]
    if nby < 4 or nbx < 4 or not qualities:
        return None
    X = C.reshape(-1, 64)[:, _zz(N_COEF)]
    sel = X
    if X.shape[0] > SELECT_BLOCKS:
        idx = np.random.default_rng(seed).choice(X.shape[0], SELECT_BLOCKS, replace=False)
        sel = X[idx]
    q, m_sel, curve = ghost_quality(sel, qualities)
    num, den, cnt = ghost_terms(X, q)
    f = (SMOOTH_BLOCKS, SMOOTH_BLOCKS)
    num = ndimage.uniform_filter(num.reshape(nby, nbx), f, mode="nearest")
    den = ndimage.uniform_filter(den.reshape(nby, nbx), f, mode="nearest")
    cnt = ndimage.uniform_filter(cnt.reshape(nby, nbx), f, mode="nearest")
    rho = num / np.maximum(den, 1e-6)
    valid = (cnt >= MIN_COUNT) & ~clipped_blocks(rgb, y, r, c, lum=lum)
    if valid.sum() < 16:
        return None
    mr = float(np.median(rho[valid]))
    thr = 0.5 * (mr + 1.0)
    post = 1.0 / (1.0 + np.exp(-np.clip((rho - thr) / SOFT, -30, 30)))
    post[~valid] = 0.0
    flagged = (post >= 0.5) & valid
    frac = float(flagged.sum() / valid.sum())
    comp = largest_component(flagged, post)
    kappa = float(np.median(rho[comp]) - mr) if comp.any() else 0.0
    strength = float(comp.sum()) * max(kappa - KAPPA0, 0.0)
    return {"grid": (r, c), "quality": q, "median_ratio": mr, "post": post, "comp": comp,
            "kappa": kappa, "strength": strength, "flagged_fraction": frac,
            "valid_fraction": float(valid.mean()),
            "curve": {int(qq): round(v, 4) for qq, v in zip(qualities, curve, strict=True)}}


class JpegGhostDetector(Detector):
    name = "jpeg_ghost"
    version = "1.0.0"
    modalities = ("image",)
    localizes = True
    summary = "JPEG ghosts: re-saves at many qualities reveal a region with another JPEG history"
    looks_at = ("How much each part of the picture changes when it is re-saved as JPEG at "
                "every quality from 40 to 98: content saved before at some quality barely "
                "changes when re-saved at that quality, so a pasted part with another history "
                "stands out.")
    cannot_tell = ("Anything when the whole picture has one JPEG history (e.g. saved once), "
                   "or when the later save was at a lower quality than the earlier one; "
                   "flat or clipped areas give no opinion; resizing after the edit erases it.")
    how_to_read = ("Red = regions that react to recompression at another quality than the rest (a JPEG "
                   "'ghost'), as content compressed at a different quality does. Smooth areas react "
                   "little and stay dark either way.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.detectors.image.jpeg_ndq import GRID_Z_MIN, grid_search, shifted_grid
        from veriscope.detectors.image.jpeg_ndq import _zz as ndq_zz
        from veriscope.formats.jpeg import estimate_ijg_quality

        is_jpeg = media.format == "jpeg"
        try:
            rgb = media.rgb()
        except Exception as e:  # noqa: BLE001 - a file that cannot be decoded is reported
            ev = self.evidence(score=None, label="inconclusive")
            ev.data["reliability"] = reliability("low", "The image could not be decoded.")
            ev.add("info", "jpeg_ghost_not_analysed",
                   f"JPEG ghosts were not checked: the image could not be decoded ({e}).")
            return ev
        H, W = rgb.shape[:2]
        if min(H, W) < MIN_SIDE:
            ev = self.evidence(score=None, label="inconclusive",
                               heatmap=np.zeros((max(1, H // 8), max(1, W // 8)), np.float32))
            ev.data["reliability"] = reliability("low", "The image is too small for JPEG "
                                                        "ghosts.")
            ev.add("info", "jpeg_ghost_too_small",
                   f"The image ({W}x{H} px) is too small to look for JPEG ghosts.")
            return ev
        lum = jpeg_luma(media) if is_jpeg else None
        grids: list[tuple[tuple[int, int], tuple]] = []
        data: dict = {"is_jpeg_file": is_jpeg}
        if isinstance(lum, str) or lum is None:
            # not a (readable YCbCr/gray) JPEG: luma from the decoded pixels
            cy, cx, h, w = analysis_window(H, W)
            rgb = window_rgb(rgb, (cy, cx), (h, w))
            y = (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(
                np.float32)
            if isinstance(lum, str):
                data["note"] = lum
            gs = grid_search(y, ndq_zz(10), include_aligned=True)
            data["grid_z"] = round(gs["z"], 3)
            if gs["z"] >= GRID_Z_MIN:
                grids.append(((gs["best"] // 8, gs["best"] % 8), QUALITIES))
            qf = None
        else:
            y = lum.y
            cy, cx = lum.crop
            rgb = window_rgb(rgb, lum.crop, y.shape)
            qf = estimate_ijg_quality([int(v) for v in lum.qtable], chroma=False).quality
            data["file_quality"] = qf
            grids.append(((0, 0), tuple(q for q in QUALITIES if q <= qf - QF_MARGIN)))
            gs = shifted_grid(lum)
            data["shifted_grid_z"] = round(gs["z"], 3)
            if gs["z"] >= GRID_Z_MIN:
                grids.append(((gs["best"] // 8, gs["best"] % 8), QUALITIES))
        jl = lum if not isinstance(lum, str) else None
        results = [g for g in (ghost_map(y, grid, qs, rgb, lum=jl) for grid, qs in grids)
                   if g is not None]
        if not results:
            ev = self.evidence(score=0.0, label="no_evidence",
                               heatmap=np.zeros((max(1, H // 8), max(1, W // 8)), np.float32))
            ev.data.update(data)
            ev.data["reliability"] = reliability(
                "low", "No trace of an earlier JPEG compression was found to compare regions "
                       "against." if not is_jpeg else "Too little texture to compare regions.")
            ev.add("info", "jpeg_ghost_none",
                   "No JPEG ghost was found: this check has nothing to compare regions "
                   "against in this image.")
            add_window_finding(ev, (cy, cx), y.shape, (H, W))
            return ev
        best = max(results, key=lambda g: (g["strength"], -g["median_ratio"]))
        ev = self._finish(best, results, data, (H, W), is_jpeg, (cy, cx))
        add_window_finding(ev, (cy, cx), y.shape, (H, W))
        return ev

    def _finish(self, g: dict, results: list, data: dict, shape, is_jpeg: bool,
                crop: tuple[int, int] = (0, 0)) -> Evidence:
        H, W = shape
        oy, ox = g["grid"][0] + crop[0], g["grid"][1] + crop[1]
        strength = g["strength"]
        score = strength / (strength + STRENGTH_HALF) if strength > 0 else 0.0
        mostly = g["flagged_fraction"] > MAX_FLAGGED_FRACTION
        if mostly:
            score = min(score, MOSTLY_FLAGGED_CAP)
        heat = block_heatmap(g["post"], (H, W), oy, ox)
        ev = self.evidence(score=round(score, 4),
                           label="manipulated" if score >= 0.5 else "no_evidence", heatmap=heat)
        ev.data.update(data)
        ev.data.update({
            "grid": list(g["grid"]), "ghost_quality": g["quality"],
            "median_ratio": round(g["median_ratio"], 4), "region_contrast": round(g["kappa"], 4),
            "region_strength": round(strength, 3), "strength_half": STRENGTH_HALF,
            "flagged_fraction": round(g["flagged_fraction"], 4),
            "valid_fraction": round(g["valid_fraction"], 4), "ratio_curve": g["curve"],
            "grids_tried": [list(r["grid"]) for r in results]})
        ghost_depth = 1.0 - g["median_ratio"]
        qf = data.get("file_quality")
        echo = qf is not None and tuple(g["grid"]) == (0, 0) and g["quality"] > qf - ECHO_MARGIN
        if ghost_depth >= DEPTH_HIGH and is_jpeg and not echo:
            rel = reliability("high", f"The file is a JPEG and most of it shows a clear ghost "
                                      f"at quality {g['quality']}, an earlier compression.")
        elif ghost_depth >= DEPTH_HIGH and not is_jpeg:
            rel = reliability("medium", f"Most of the image shows a ghost at quality "
                                        f"{g['quality']}, but the file is not a JPEG, so the "
                                        "grid and history are inferred.")
        elif echo:
            rel = reliability("low", f"The only ghost is at quality {g['quality']}, close to "
                                     f"the file's own quality {qf}: probably an echo of the "
                                     "last save rather than an earlier compression.")
        else:
            rel = reliability("low", "No clear ghost covers most of the image, so regions "
                                     "cannot be told apart reliably.")
        if mostly:
            rel = reliability("low", "Most of the image lacks the ghost, so which part is "
                                     "original is ambiguous.")
        ev.data["reliability"] = rel
        bbox = block_bbox(g["comp"], 8, oy, ox) if g["comp"].any() else None
        if bbox is not None:
            ev.data["region_bbox"] = list(bbox)
        if score >= 0.5 and bbox is not None:
            x, y, w, h = bbox
            ev.boxes.append(Box(x, y, w, h, score=round(score, 4), label="manipulated"))
            ev.add("high" if score >= 0.8 else "medium", "jpeg_ghost_region",
                   f"The area at x={x}, y={y} ({w}x{h} px) does not share the JPEG ghost at "
                   f"quality {g['quality']} that the rest of the picture shows: it has another "
                   "compression history, as pasted content does.",
                   bbox=[x, y, w, h], quality=g["quality"], score=round(score, 4))
        ev.add("info", "jpeg_ghost_summary",
               f"Re-saving at quality {g['quality']} changes the picture least (median ratio "
               f"{g['median_ratio']:.2f} of the change expected without history); "
               f"{g['flagged_fraction']:.0%} of the analysed area does not share that ghost.",
               quality=g["quality"], median_ratio=round(g["median_ratio"], 4))
        return ev
