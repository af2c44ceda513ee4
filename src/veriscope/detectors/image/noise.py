"""Local noise-level inconsistency (blind, no training).

A photo straight from one camera has one noise "personality": at a given
brightness, every part of the picture carries about the same amount of sensor
noise. A region pasted from another photo, or a region that was blurred,
denoised, inpainted or had noise added, usually carries a different amount.

Method (docs/detectors/noise.md has the details, every constant and the numbers):

1. A working copy of at most ``MAX_PIXELS`` (area-downscaled above), split into
   luma Y and chroma Cr, Cb.
2. For every channel, band-pass responses to the 15 AC basis functions of the
   4x4 DCT; the variance of every band is summed per 8x8 cell (vectorised).
3. Two texture-robust local noise estimates per window of 4x4 cells (32 px):
   the variance of the *lowest-energy band* in the window (texture puts energy in
   a few oriented bands, white noise in all of them; cf. Lyu, Pan & Zhang 2014 and
   Pyatykh, Hesser & Zheng 2013, who pick the least-textured directions), and the
   *median over the window's cells* of each cell's lowest band variance (a flat
   cell inside a textured window still sees the noise).
4. Intensity dependence: sensor noise grows with brightness and is clipped near
   black and white. Log noise is compared with a curve of log noise versus window
   brightness fitted on the image itself (medians in 12 brightness quantile
   bins); windows with more than 25 % clipped pixels are ignored.
5. The deviation (natural-log ratio of the window's noise to the curve) is back-
   projected onto cells, averaged over the two estimators, its absolute value
   averaged over Y, Cr and Cb, and smoothed (Gaussian, 3 cells).
6. Map: a logistic of the deviation; image score: a logistic of the 95th
   percentile of the deviation map. The logistic constants were fitted on
   forgeries synthesised from kodak24 only (the FIT split). Grey pictures use
   luma only, with their own constants.
"""

from __future__ import annotations

import numpy as np

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector, sigmoid, working_rgb

MAX_PIXELS = 1_000_000
"""Working-copy size: above this the image is area-downscaled (speed budget, see the doc)."""
CELL = 8
"""Cell size in pixels: band variances are summed per cell, windows are made of cells."""
WINDOW = 4
"""Window size in cells (32 px at the working scale)."""
SMOOTH = 3.0
"""Gaussian smoothing of the deviation map, in cells."""
MIN_SIDE = 64
"""Below this many pixels on the short side the image is not analysed."""
MIN_VALID = 0.2
"""Below this fraction of usable (not clipped) windows no score is given."""
VAR_FLOOR = 0.1
"""Floor on band variances (noise std ~0.3 grey levels): JPEG flattens smooth areas to zero
noise, and without a floor those areas would look like a different noise level."""
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0)
"""Weights of Y, Cr, Cb in the deviation map (equal was best on FIT; luma-only, (2,1,1) and
(1,.25,.25) were worse)."""

# Map and score constants, fitted on kodak24 (FIT split) only: see docs/detectors/noise.md.
D_MID = 0.45
"""Deviation (|log noise ratio|, channel mean) at which the map reaches 0.5."""
D_WIDTH = 0.08
"""Logistic width of the map."""
SCORE_MID = 0.75
"""95th percentile of the deviation map at which the score reaches 0.5: the 95th percentile of
that statistic over 120 pristine FIT images (kodak24 as PNG, JPEG q75, JPEG q90, Bayer-
demosaiced PNG, demosaiced JPEG q95)."""
SCORE_WIDTH = 0.12
D_MID_GREY = 0.9
"""Map midpoint for grey pictures (luma only: deviations are larger; about 3 % of pristine FIT
pixels above it, as for D_MID on colour pictures)."""
SCORE_MID_GREY = 1.45
"""Score midpoint for grey pictures: 95th percentile of the luma-only statistic on the same 120
pristine FIT images."""
SCORE_WIDTH_GREY = 0.2
FLAT_CAP = 0.3
"""Above this fraction of windows at the noise floor the reliability is low and the score is
capped at 0.49 (on FIT no pristine or forged image exceeded 0.3; heavily compressed or
denoised photos do)."""
MAX_FLAT = 0.8
"""Above this fraction of windows at the noise floor the picture is called noise-free
(synthetic, heavily denoised or compressed) and no score is given."""
"""Logistic width of the score."""


# ---------------------------------------------------------------------------- helpers

def _dct_basis(n: int = 4) -> np.ndarray:
    k = np.arange(n)
    b = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))
    b[0] /= np.sqrt(2)
    return (b * np.sqrt(2.0 / n)).astype(np.float32)


def _cell_sum(a: np.ndarray, gh: int, gw: int, cell: int) -> np.ndarray:
    return a.reshape(gh, cell, gw, cell).sum(axis=(1, 3), dtype=np.float64)


def box_sum(a: np.ndarray, w: int) -> np.ndarray:
    """Sums over every w x w window of the last two axes (valid positions, stride 1)."""
    c = np.cumsum(np.cumsum(a, axis=-2), axis=-1)
    c = np.pad(c, [(0, 0)] * (a.ndim - 2) + [(1, 0), (1, 0)])
    return c[..., w:, w:] - c[..., :-w, w:] - c[..., w:, :-w] + c[..., :-w, :-w]


def backproject(v: np.ndarray, valid: np.ndarray, w: int) -> np.ndarray:
    """Mean of window values over the valid windows covering each cell (NaN where none)."""
    gh, gw = v.shape[0] + w - 1, v.shape[1] + w - 1
    num = np.zeros((gh + w - 1, gw + w - 1))
    den = np.zeros_like(num)
    num[w - 1:w - 1 + v.shape[0], w - 1:w - 1 + v.shape[1]] = np.where(valid, v, 0.0)
    den[w - 1:w - 1 + v.shape[0], w - 1:w - 1 + v.shape[1]] = valid
    n, d = box_sum(num, w), box_sum(den, w)
    return np.where(d > 0, n / np.maximum(d, 1e-9), np.nan)


def centre_map(v: np.ndarray, w: int) -> np.ndarray:
    """Window values (windows of w cells, stride 1) placed at their centre cells; the border
    half-window is filled by replication. Every cell then carries one window's value, so border
    cells are not noisier than inner ones (as they are with back-projection)."""
    a = w // 2
    return np.pad(v, ((a, w - 1 - a), (a, w - 1 - a)), mode="edge")


def jpeg_quality(media: Media) -> int | None:
    """Approximate IJG quality of a JPEG's luminance table (None if not a JPEG or unknown)."""
    if media.format != "jpeg":
        return None
    try:
        q = media.pil().quantization
        t = [int(v) for v in q[min(q)]]
    except Exception:  # noqa: BLE001 - any odd file simply has no estimate
        return None
    if len(t) != 64:
        return None
    try:
        from veriscope.formats.jpeg import estimate_ijg_quality

        return int(estimate_ijg_quality(t, chroma=False).quality)
    except Exception:  # noqa: BLE001 - fall back to a mean-ratio estimate
        pass
    # ITU-T T.81 Annex K luminance table, natural order (as Pillow returns tables).
    std = np.array([16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16,
                    24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109,
                    103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120,
                    101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)
    scale = float(np.mean(np.asarray(t, np.float64) / std)) * 100.0
    q_est = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return int(np.clip(round(q_est), 1, 100))


def regions(heat: np.ndarray, thr: float = 0.5, min_frac: float = 0.002, top: int = 3) -> list[dict]:
    """Connected regions of ``heat >= thr`` (largest first) with bbox (x, y, w, h), area, peak."""
    import cv2

    m = (heat >= thr).astype(np.uint8)
    if not m.any():
        return []
    n, lab, st, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, a = (int(v) for v in st[i])
        if a < min_frac * heat.size:
            continue
        out.append({"x": x, "y": y, "w": w, "h": h, "area_frac": a / heat.size,
                    "peak": float(heat[lab == i].max()), "mean": float(heat[lab == i].mean())})
    out.sort(key=lambda r: -r["area_frac"])
    return out[:top]


def scale_box(r: dict, sx: float, sy: float, width: int, height: int) -> dict:
    """Region bbox from map coordinates to original-image pixels."""
    x0, y0 = int(r["x"] * sx), int(r["y"] * sy)
    x1 = min(width, int(np.ceil((r["x"] + r["w"]) * sx)))
    y1 = min(height, int(np.ceil((r["y"] + r["h"]) * sy)))
    return {**r, "x": x0, "y": y0, "w": max(1, x1 - x0), "h": max(1, y1 - y0)}


def cell_map_to_image(cmap: np.ndarray, h: int, w: int, cell: int) -> np.ndarray:
    """Upsample a cell map to h x w (cells cover the top-left gh*cell x gw*cell; edges replicate)."""
    import cv2

    gh, gw = cmap.shape
    full = cv2.resize(cmap.astype(np.float32), (gw * cell, gh * cell), interpolation=cv2.INTER_LINEAR)
    return np.pad(full, ((0, h - full.shape[0]), (0, w - full.shape[1])), mode="edge")


# ---------------------------------------------------------------------------- core maths

def band_cell_variance(img: np.ndarray, cell: int = CELL) -> np.ndarray:
    """Per-cell means (r, r^2) of the 15 AC 4x4-DCT band responses of every channel of ``img``
    (H, W, C): array (C, 15, 2, gh, gw)."""
    import cv2

    h, w = img.shape[:2]
    gh, gw = h // cell, w // cell
    g = np.ascontiguousarray(img[:gh * cell, :gw * cell], dtype=np.float32)
    if g.ndim == 2:
        g = g[..., None]
    nc = g.shape[2]
    basis = _dct_basis(4)
    s = np.empty((nc, 15, 2, gh, gw))
    k = 0
    for u in range(4):
        for v in range(4):
            if u == 0 and v == 0:
                continue
            r = cv2.sepFilter2D(g, cv2.CV_32F, basis[v], basis[u], borderType=cv2.BORDER_REFLECT)
            # INTER_AREA with an integer factor is the exact cell mean (and much faster than numpy)
            m1 = cv2.resize(r, (gw, gh), interpolation=cv2.INTER_AREA).reshape(gh, gw, nc)
            m2 = cv2.resize(r * r, (gw, gh), interpolation=cv2.INTER_AREA).reshape(gh, gw, nc)
            s[:, k, 0] = np.moveaxis(m1, -1, 0)
            s[:, k, 1] = np.moveaxis(m2, -1, 0)
            k += 1
    return s


def window_estimates(s: np.ndarray, w: int, cell: int = CELL) -> list[np.ndarray]:
    """Two log-noise estimates per window of w x w cells (stride one cell)."""
    from numpy.lib.stride_tricks import sliding_window_view

    cvar = np.maximum(s[:, 1] - s[:, 0] ** 2, VAR_FLOOR)  # (15, gh, gw)
    S = box_sum(s, w) / (w * w)
    wvar = np.maximum(S[:, 1] - S[:, 0] ** 2, VAR_FLOOR)
    lowest_band = 0.5 * np.log(wvar.min(0))
    cmin = cvar.min(0)
    med_cell = 0.5 * np.log(np.median(sliding_window_view(cmin, (w, w)), axis=(-1, -2)))
    return [lowest_band, med_cell]


def intensity_curve(x: np.ndarray, y: np.ndarray, nbins: int = 12) -> np.ndarray:
    """Robust curve y(x): medians in quantile bins of x, linearly interpolated."""
    qs = np.unique(np.quantile(x, np.linspace(0, 1, nbins + 1)))
    if qs.size < 3:
        return np.full_like(y, np.median(y))
    idx = np.clip(np.searchsorted(qs, x, side="right") - 1, 0, qs.size - 2)
    cx, cy = [], []
    for i in range(qs.size - 1):
        sel = idx == i
        if sel.sum() >= 3:
            cx.append(np.median(x[sel]))
            cy.append(np.median(y[sel]))
    if len(cx) < 2:
        return np.full_like(y, np.median(y))
    return np.interp(x, np.asarray(cx), np.asarray(cy))


def analyse(rgb: np.ndarray) -> dict:
    """Deviation map (cells) and statistics for one uint8 RGB image."""
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells are handled below
        return _analyse(rgb)


def _analyse(rgb: np.ndarray) -> dict:
    import cv2

    ycc = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    h, w = ycc.shape[:2]
    gh, gw = h // CELL, w // CELL
    if gh < WINDOW + 2 or gw < WINDOW + 2:
        return {"ok": False, "why": "too small"}
    y = ycc[:gh * CELL, :gw * CELL, 0]
    norm = CELL * CELL * WINDOW * WINDOW
    mean = box_sum(_cell_sum(y, gh, gw, CELL), WINDOW) / norm
    clipped = ((y <= 3) | (y >= 252)).astype(np.float32)
    cfrac = box_sum(_cell_sum(clipped, gh, gw, CELL), WINDOW) / norm
    valid = cfrac < 0.25
    nvalid = int(valid.sum())
    # grey pictures (or colour ones with no chroma variation): luma only, own constants
    colour = bool(np.ptp(ycc[..., 1]) > 2 or np.ptp(ycc[..., 2]) > 2)
    out = {"ok": True, "grid": (gh, gw), "valid_fraction": nvalid / valid.size,
           "n_windows": valid.size, "colour": colour}
    if nvalid < 16:
        out.update(ok=False, why="too few usable windows")
        return out
    mu = mean[valid]
    bands = band_cell_variance(ycc if colour else ycc[..., :1])
    per_channel = []
    sigma_y = None
    for c in range(bands.shape[0]):
        ests = window_estimates(bands[c], WINDOW)
        devs = []
        for e in ests:
            ls = e[valid]
            d = np.zeros(e.shape)
            d[valid] = ls - intensity_curve(mu, ls)
            d[valid] -= np.median(d[valid])
            devs.append(backproject(d, valid, WINDOW))
        if c == 0:
            sigma_y = float(np.exp(np.median(ests[0][valid])))
            flat = float(np.mean(ests[0][valid] <= 0.5 * np.log(VAR_FLOOR) + 0.05))
        per_channel.append(np.abs(np.nanmean(np.stack(devs), axis=0)))
    pc = np.stack(per_channel)
    wts = np.asarray(CHANNEL_WEIGHTS[:pc.shape[0]], np.float64)[:, None, None]
    fin = np.isfinite(pc)
    dev = np.nansum(pc * wts, axis=0) / np.maximum(np.sum(fin * wts, axis=0), 1e-9)
    usable = fin.any(axis=0)
    dev = np.where(usable, dev, 0.0).astype(np.float32)
    dev = cv2.GaussianBlur(dev, (0, 0), SMOOTH)
    out.update(dev=dev, usable=usable, per_channel=pc, sigma_y=sigma_y, flat_fraction=flat,
               stat=float(np.percentile(dev[usable], 95)) if usable.any() else 0.0)
    return out


def dev_to_map(dev: np.ndarray, colour: bool = True) -> np.ndarray:
    mid = D_MID if colour else D_MID_GREY
    return sigmoid((dev - mid) / D_WIDTH).astype(np.float32)


def stat_to_score(stat: float, colour: bool = True) -> float:
    if colour:
        return float(sigmoid((stat - SCORE_MID) / SCORE_WIDTH))
    return float(sigmoid((stat - SCORE_MID_GREY) / SCORE_WIDTH_GREY))


# ---------------------------------------------------------------------------- detector

class NoiseDetector(Detector):
    name = "noise"
    version = "1.0.0"
    modalities = ("image",)
    requires = ("cv2",)
    localizes = True
    summary = "Local noise-level inconsistency (texture-robust, brightness-aware noise map)"
    looks_at = ("How much fine-grained noise each part of the picture carries, in brightness and "
                "colour, compared with what the rest of the same picture carries at the same "
                "brightness.")
    cannot_tell = ("Regions pasted from a photo with the same noise level, copy-moves within the "
                   "same photo, or anything on very dark, blown-out, flat or heavily compressed "
                   "pictures; strong texture, focus blur and local denoising also change the "
                   "noise level in innocent photos.")
    how_to_read = ("Red = the local noise level differs from what the rest of the picture has at the "
                   "same brightness. A pasted object often lights up along its whole outline; broad red "
                   "over sky, shadows or very smooth areas is usually the picture's content or a "
                   "denoiser.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        rgb, scale = working_rgb(media, MAX_PIXELS)
        H, W = media.rgb().shape[:2]
        h, w = rgb.shape[:2]
        if min(h, w) < MIN_SIDE:
            return Evidence.not_applicable(self.name, self.version,
                                           f"image is {W}x{H}: too small for local noise "
                                           f"analysis (needs at least {MIN_SIDE} px per side)")
        res = analyse(rgb)
        q = jpeg_quality(media)
        data = {"working_size": [w, h], "scale": scale, "jpeg_quality": q,
                "valid_fraction": res.get("valid_fraction")}
        if res.get("ok") and res.get("flat_fraction", 0.0) > MAX_FLAT:
            ev = self.evidence(score=None, label="inconclusive", data=data)
            data["reliability"] = {"level": "low", "why": "The picture carries almost no "
                                   "measurable noise (flat, synthetic, denoised or heavily "
                                   "compressed)."}
            ev.add("info", "noise_unmeasurable", "The noise level could not be compared: the "
                   "picture carries almost no measurable noise.",
                   flat_fraction=res["flat_fraction"])
            return ev
        if not res["ok"] or res["valid_fraction"] < MIN_VALID:
            ev = self.evidence(score=None, label="inconclusive", data=data)
            data["reliability"] = {"level": "low", "why": "Most of the picture is clipped to "
                                   "black or white, so its noise cannot be measured."}
            ev.add("info", "noise_unmeasurable", "The noise level could not be measured: most "
                   "of the picture is too dark, too bright or too small.")
            return ev
        dev = res["dev"]
        heat = cell_map_to_image(dev_to_map(dev, res["colour"]), h, w, CELL)
        score = stat_to_score(res["stat"], res["colour"])
        data.update(statistic_p95=res["stat"], median_noise_sigma_luma=res["sigma_y"],
                    channels="Y, Cr, Cb" if res["colour"] else "Y (grey picture)",
                    max_log_ratio=float(dev.max()))
        data["reliability"] = _reliability(min(H, W), min(h, w), res["valid_fraction"], q, scale)
        data["flat_fraction"] = res["flat_fraction"]
        capped = res["flat_fraction"] > FLAT_CAP and score >= 0.5
        if res["flat_fraction"] > FLAT_CAP:
            data["reliability"] = {"level": "low", "why": "Much of the picture carries no "
                                   "measurable noise (smoothed by compression or denoising), so "
                                   "textured parts stand out for the wrong reason."}
            score = min(score, 0.49)
        ev = self.evidence(score=score, label="manipulated" if score >= 0.5 else "no_evidence",
                           heatmap=heat, data=data)
        if scale < 1.0:
            ev.add("info", "reduced_resolution", f"Analysed at reduced resolution ({w}x{h} "
                   f"instead of {W}x{H}) to stay within the time budget.", scale=scale)
        factor = float(np.exp(dev.max()))
        regs = [scale_box(r, W / w, H / h, W, H) for r in regions(heat)]
        data["regions"] = regs
        if score >= 0.5 and regs:
            r = regs[0]
            sev = "high" if score >= 0.8 and data["reliability"]["level"] != "low" else "medium"
            ev.add(sev, "noise_inconsistent_region",
                   f"A region of about {100 * r['area_frac']:.0f}% of the picture (box at x={r['x']}, "
                   f"y={r['y']}, {r['w']}x{r['h']} px) has a noise level that differs from the "
                   f"rest of the picture at the same brightness, as pasted or retouched areas "
                   "often do.", bbox=[r["x"], r["y"], r["w"], r["h"]],
                   area_fraction=r["area_frac"])
            for rr in regs:
                ev.boxes.append(Box(rr["x"], rr["y"], rr["w"], rr["h"], score=rr["peak"],
                                    label="noise_inconsistency"))
            ev.add("info", "noise_summary", f"Noise levels are uneven: the most deviant area "
                   f"carries about {factor:.1f}x more or less noise than expected.",
                   statistic=res["stat"], score=score)
        elif capped:
            ev.add("info", "noise_summary", "Noise levels vary (the most deviant area differs "
                   f"by a factor of about {factor:.1f}), but much of this picture carries no "
                   "measurable noise, so the difference is not taken as evidence.",
                   statistic=res["stat"], score=score)
        elif regs:
            ev.add("info", "noise_summary", "Noise levels vary somewhat (the most deviant area "
                   f"differs by a factor of about {factor:.1f}), but no more than in many "
                   "untouched photos.", statistic=res["stat"], score=score)
        else:
            ev.add("info", "noise_summary", "Noise levels look consistent across the picture "
                   f"(the most deviant area differs by a factor of about {factor:.1f}).",
                   statistic=res["stat"], score=score)
        return ev


def _reliability(orig_short: int, work_short: int, valid: float, q: int | None,
                 scale: float) -> dict:
    if work_short < 200:
        return {"level": "low", "why": "The picture is small, so each local noise estimate "
                                       "rests on few pixels."}
    if valid < 0.5:
        return {"level": "low", "why": "Much of the picture is clipped to black or white, "
                                       "where noise cannot be measured."}
    if q is not None and q < 75:
        return {"level": "low", "why": f"The JPEG quality (about {q}) is low: compression has "
                                       "removed most of the sensor noise."}
    if q is not None and q < 90:
        return {"level": "medium", "why": f"JPEG compression (quality about {q}) has flattened "
                                          "part of the noise."}
    if scale < 0.5:
        return {"level": "medium", "why": "The picture was analysed at much reduced resolution, "
                                          "which averages away part of the noise."}
    if work_short < 400:
        return {"level": "medium", "why": "The picture is fairly small for local noise "
                                          "estimates."}
    return {"level": "high", "why": "Large enough, mostly well exposed and not strongly "
                                    "compressed: local noise levels can be compared."}
