"""Aligned double JPEG quantization (A-DJPG): a per-block probability map of tampering.

Method (from the papers, implemented here from their equations):

* Lin, He, Tang, Tang, "Fast, automatic and fine-grained tampered JPEG image detection via
  DCT coefficient analysis", Pattern Recognition 42(11), 2009: when a JPEG photo is
  decompressed, edited and saved again on the same 8x8 grid, the histogram of each DCT
  frequency shows the periodic pattern of double quantization (DQ) everywhere except in the
  pasted region, which was quantized only once; a per-block posterior probability of
  "tampered" follows from the histogram.
* Bianchi, Piva, "Image forgery localization via block-grained analysis of JPEG artifacts",
  IEEE TIFS 7(3), 2012: an explicit statistical model of the two hypotheses per frequency,
  H0 (double compressed, primary step Q1 then final step Q2) and H1 (compressed once with
  Q2), with the unquantized coefficient distribution estimated by calibration (the DCT on a
  grid shifted by 4 pixels), Q1 and the tampered fraction estimated by maximum likelihood
  (EM), and per-block likelihood ratios multiplied over frequencies (naive Bayes).

How the quantized DCT coefficients are read: decoding the entropy-coded coefficients is not
done in pure Python here. Instead Pillow's libjpeg decodes the luminance plane *without*
colour conversion (``Image.draft("YCbCr")``), the orthonormal 8x8 DCT of ``Y - 128`` is
recomputed on the file's own grid (origin at the top-left pixel) and divided by the file's
luminance quantization table. Rounding gives the stored coefficients up to the decoder's
IDCT rounding and clipping (measured: mean error 0.006-0.07 quantization steps for quality
50-95; blocks with clipped pixels carry larger errors). See docs/detectors/jpeg_dq.md.

The helpers at the top of this module (luminance reading, block DCT, cache) are shared by
``jpeg_ndq`` and ``jpeg_ghost``.
"""

from __future__ import annotations

import io
import threading
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector

# ---------------------------------------------------------------- constants (documented)

N_FREQS = 15
"""DCT frequencies analysed: the first 15 of the zigzag scan (DC included)."""
SIGMA_E = 0.6
"""Std (in DCT units) of the rounding error between the first decompression and the second
compression (pixel rounding to uint8 and RGB<->YCbCr conversion); set by rule."""
Q1_MAX = 64
"""Largest primary quantization step tried."""
GAIN_MIN = 0.10
"""A frequency is used when the DQ mixture model beats the single-compression model by at
least this many nats per coefficient (fitted on FIT single-compressed photos, see doc)."""
DQ_GAIN_MIN = 0.5
"""Sum of per-frequency gains (nats/coefficient) above which the image is called double
compressed (fitted on FIT, see doc)."""
LLR_CLIP = 4.0
"""Per-frequency log-likelihood ratios are clipped to +-LLR_CLIP (robustness to outliers)."""
SMOOTH_BLOCKS = 3
"""The block LLR map is averaged over SMOOTH_BLOCKS x SMOOTH_BLOCKS blocks."""
MIN_BLOCKS = 64
"""Fewer complete 8x8 blocks than this: too small to estimate histograms."""
CLIP_LO, CLIP_HI = 3, 252
"""A decoded pixel with any RGB channel <= CLIP_LO or >= CLIP_HI is called clipped."""
CLIP_FRAC = 0.10
"""Blocks with more than this fraction of clipped pixels give no evidence (LLR set to 0):
clipping in an earlier decompression breaks the quantization model (snow, bright colours)."""
CAL_MAX_BLOCKS = 60_000
STRENGTH_HALF = 400.0
"""Region strength (summed smoothed LLR of the strongest flagged region, nats) that maps to
score 0.5: about twice the largest value on untouched FIT photos saved twice on one grid
(201; aligned FIT splices with q2 > q1: median 6870, 1 of 36 below 400)."""
PRIOR_MIN, PRIOR_MAX = 0.02, 0.5
"""Range of the estimated tampered fraction used as prior (set by rule: at most even odds)."""
MAX_FLAGGED_FRACTION = 0.5
"""When more than this fraction of blocks is flagged, the evidence is ambiguous."""
MOSTLY_FLAGGED_CAP = 0.45
"""Score cap in that ambiguous case (below 0.5 by rule)."""
HEATMAP_FULL_MAX_PIXELS = 4_000_000
"""Heatmaps are at pixel resolution up to this size, else one value per 8x8 block."""
MAX_ANALYSED_PIXELS = 24_000_000
"""Larger images are analysed on a central window of this many pixels (see analysis_window)."""
"""Calibration (shifted-grid) coefficients are computed on at most this many blocks."""

# ---------------------------------------------------------------- shared helpers


def _zigzag() -> np.ndarray:
    from veriscope.formats.jpeg import ZIGZAG

    return np.asarray(ZIGZAG, dtype=np.int64)


def dct_blocks(y: np.ndarray, oy: int = 0, ox: int = 0) -> np.ndarray:
    """Orthonormal 8x8 DCT-II of ``y - 128`` on the grid with origin (oy, ox).

    Returns float32 (nby, nbx, 64), coefficients in natural (row-major) order; only blocks
    that fit entirely in the image are kept.
    """
    from scipy.fft import dctn

    a = np.asarray(y)[oy:, ox:]
    nby, nbx = a.shape[0] // 8, a.shape[1] // 8
    if nby == 0 or nbx == 0:
        return np.zeros((nby, nbx, 64), np.float32)
    b = a[:nby * 8, :nbx * 8].astype(np.float32) - 128.0
    b = b.reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3)
    return dctn(b, axes=(2, 3), norm="ortho").reshape(nby, nbx, 64).astype(np.float32, copy=False)


@dataclass
class JpegLuma:
    """The decoded luminance plane of a JPEG file and its quantization table."""

    y: np.ndarray  # uint8 (H, W), exactly as libjpeg's IDCT produced it
    qtable: np.ndarray  # float64 (64,), natural order, luminance table
    color: str  # "YCbCr" or "gray"
    full_shape: tuple[int, int] = (0, 0)  # size of the whole image
    crop: tuple[int, int] = (0, 0)  # top-left of the analysed window (multiples of 8)
    _dct0: np.ndarray | None = field(default=None, repr=False)
    memo: dict = field(default_factory=dict, repr=False)  # results shared between detectors

    @property
    def dct0(self) -> np.ndarray:
        """Block DCT on the file's own grid, (nby, nbx, 64) float32 (computed once)."""
        if self._dct0 is None:
            self._dct0 = dct_blocks(self.y)
        return self._dct0


_cache_lock = threading.Lock()
_cache: list = [None, None]  # [weakref to Media, JpegLuma | str]


def jpeg_luma(media: Media) -> JpegLuma | str:
    """The JPEG luminance plane and table of ``media``, or a plain reason why not.

    Cached for the last Media object, so jpeg_dq, jpeg_ndq and jpeg_ghost decode once.
    """
    with _cache_lock:
        ref, val = _cache
        if ref is not None and ref() is media:
            return val
    val = _read_jpeg_luma(media)
    with _cache_lock:
        _cache[0], _cache[1] = weakref.ref(media, _drop_cache), val
    return val


def _drop_cache(ref) -> None:
    """The cached Media was garbage-collected: release its planes and DCTs."""
    with _cache_lock:
        if _cache[0] is ref:
            _cache[0] = _cache[1] = None


def _read_jpeg_luma(media: Media) -> JpegLuma | str:
    from PIL import Image

    if media.format != "jpeg":
        return "not a JPEG file"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(media.read_bytes()))
            tables = dict(getattr(im, "quantization", None) or {})
            layer = getattr(im, "layer", None) or []
            mode = im.mode
            if mode == "RGB":
                im.draft("YCbCr", im.size)
            elif mode not in ("L",):
                return f"JPEG colour mode {mode} (only YCbCr and grayscale files are analysed)"
            im.load()
            a = np.asarray(im)
    except Exception as e:  # Pillow raises many types on broken files
        return f"the JPEG could not be decoded ({type(e).__name__})"
    if not tables:
        return "the JPEG has no quantization table"
    tid = layer[0][3] if layer and len(layer[0]) > 3 else min(tables)
    q = tables.get(tid, tables[min(tables)])
    q = np.asarray(list(q), dtype=np.float64)
    if q.size != 64 or (q <= 0).any():
        return "the JPEG luminance quantization table is unusable"
    if a.ndim == 3:
        if im.mode != "YCbCr":  # draft refused (e.g. Adobe RGB-coded JPEG)
            return "the JPEG stores RGB without a luminance channel"
        a = a[..., 0]
    H, W = a.shape[:2]
    cy, cx, h, w = analysis_window(H, W)
    return JpegLuma(y=np.ascontiguousarray(a[cy:cy + h, cx:cx + w], dtype=np.uint8), qtable=q,
                    color="gray" if mode == "L" else "YCbCr", full_shape=(H, W), crop=(cy, cx))


def analysis_window(H: int, W: int, max_pixels: int | None = None) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the central window analysed: the whole image up to
    MAX_ANALYSED_PIXELS, else a central window of that many pixels whose corner lies on the
    8x8 grid (nothing is downscaled: resampling would destroy the JPEG traces)."""
    max_pixels = max_pixels or MAX_ANALYSED_PIXELS
    if H * W <= max_pixels:
        return 0, 0, H, W
    s = (max_pixels / (H * W)) ** 0.5
    h, w = max(8, int(H * s) // 8 * 8), max(8, int(W * s) // 8 * 8)
    cy, cx = (H - h) // 2 // 8 * 8, (W - w) // 2 // 8 * 8
    return cy, cx, h, w


def window_rgb(rgb: np.ndarray | None, crop: tuple[int, int], shape: tuple[int, int]):
    """The decoded RGB cut to the analysed window (None stays None)."""
    if rgb is None:
        return None
    cy, cx = crop
    return rgb[cy:cy + shape[0], cx:cx + shape[1]]


def add_window_finding(ev: Evidence, crop: tuple[int, int], shape: tuple[int, int],
                       full: tuple[int, int]) -> None:
    if tuple(shape) != tuple(full):
        ev.add("info", "analysed_window",
               f"Only the central {shape[1]}x{shape[0]} px of the {full[1]}x{full[0]} px image "
               f"were analysed (it is larger than {MAX_ANALYSED_PIXELS // 1_000_000} MP; "
               "nothing is downscaled, since that would erase JPEG traces).",
               window=[crop[1], crop[0], shape[1], shape[0]])
        ev.data["analysed_window"] = [crop[1], crop[0], shape[1], shape[0]]


def clipped_pixels(rgb: np.ndarray | None, y: np.ndarray) -> np.ndarray:
    """uint8 (H, W): 1 where any RGB channel (or the luma) is <= CLIP_LO or >= CLIP_HI."""
    import cv2

    lut = np.zeros(256, np.uint8)
    lut[:CLIP_LO + 1] = 1
    lut[CLIP_HI:] = 1
    if rgb is not None and rgb.ndim == 3 and rgb.shape[:2] == y.shape:
        m = cv2.LUT(np.ascontiguousarray(rgb), lut)
        return cv2.max(cv2.max(m[..., 0], m[..., 1]), m[..., 2])
    yy = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return cv2.LUT(yy, lut)


def clipped_blocks(rgb: np.ndarray | None, y: np.ndarray, oy: int = 0, ox: int = 0,
                   frac: float = CLIP_FRAC, lum: JpegLuma | None = None) -> np.ndarray:
    """Boolean (nby, nbx): blocks of the grid at (oy, ox) with too many clipped pixels."""
    if lum is not None:
        if "clip_px" not in lum.memo:
            lum.memo["clip_px"] = clipped_pixels(rgb, y)
        c = lum.memo["clip_px"]
    else:
        c = clipped_pixels(rgb, y)
    c = c[oy:, ox:]
    nby, nbx = c.shape[0] // 8, c.shape[1] // 8
    c = c[:nby * 8, :nbx * 8].reshape(nby, 8, nbx, 8).sum(axis=(1, 3), dtype=np.int32)
    return c > frac * 64


def grid_dct(lum: JpegLuma, oy: int, ox: int) -> np.ndarray:
    """dct_blocks on the grid (oy, ox) of a JPEG file's luminance, computed once per file."""
    if (oy, ox) == (0, 0):
        return lum.dct0
    key = ("dct", oy, ox)
    if key not in lum.memo:
        lum.memo[key] = dct_blocks(lum.y, oy, ox)
    return lum.memo[key]


def prior_log_odds(alphas) -> float:
    """log(alpha / (1 - alpha)) with alpha = the median fraction of once-compressed
    coefficients estimated by EM over the used frequencies, kept in [PRIOR_MIN, PRIOR_MAX]:
    the prior of "tampered" in the block posterior (equal priors would flag every block
    whose evidence is barely positive)."""
    a = float(np.median(alphas)) if len(alphas) else 0.5
    a = min(max(a, PRIOR_MIN), PRIOR_MAX)
    return float(np.log(a / (1.0 - a)))


def reliability(level: str, why: str) -> dict:
    return {"level": level, "why": why}


def block_bbox(mask_blocks: np.ndarray, bs: int = 8, oy: int = 0, ox: int = 0):
    """Pixel bounding box (x, y, w, h) of True blocks of a block map."""
    ys, xs = np.nonzero(mask_blocks)
    if ys.size == 0:
        return None
    return (int(ox + xs.min() * bs), int(oy + ys.min() * bs),
            int((xs.max() - xs.min() + 1) * bs), int((ys.max() - ys.min() + 1) * bs))


def largest_component(mask: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """The connected component (8-connectivity) of ``mask`` with the largest total weight."""
    from scipy import ndimage

    lab, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros_like(mask, bool)
    w = np.ones(mask.shape) if weight is None else weight
    sums = ndimage.sum(w, lab, index=np.arange(1, n + 1))
    return lab == (int(np.argmax(sums)) + 1)


def upsample_blocks(m: np.ndarray, shape: tuple[int, int], bs: int = 8, oy: int = 0,
                    ox: int = 0, fill: float = 0.0) -> np.ndarray:
    """A block map to a pixel map of ``shape`` (nearest), grid origin (oy, ox)."""
    out = np.full(shape, fill, np.float32)
    up = np.repeat(np.repeat(m.astype(np.float32), bs, 0), bs, 1)
    h = min(up.shape[0], shape[0] - oy)
    w = min(up.shape[1], shape[1] - ox)
    if h > 0 and w > 0:
        out[oy:oy + h, ox:ox + w] = up[:h, :w]
    return out


# ---------------------------------------------------------------- A-DJPG model


class _Cdf:
    """Probability mass of intervals under the calibrated (unquantized) distribution.

    Empirical distribution of the calibrated coefficients, mixed with 2% of a Laplacian of the
    same mean absolute value so that no interval has zero mass.
    """

    def __init__(self, v: np.ndarray):
        self.s = np.sort(np.asarray(v, np.float64))
        self.n = max(1, self.s.size)
        self.b = max(float(np.mean(np.abs(self.s))) if self.s.size else 1.0, 0.5)

    def mass(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        e = (np.searchsorted(self.s, hi) - np.searchsorted(self.s, lo)) / self.n
        return 0.98 * e + 0.02 * (self._lap(hi) - self._lap(lo))

    def _lap(self, t):
        t = np.asarray(t, np.float64)
        return np.where(t < 0, 0.5 * np.exp(np.minimum(t, 0) / self.b),
                        1 - 0.5 * np.exp(-np.maximum(t, 0) / self.b))


@dataclass
class FreqFit:
    k: int  # natural index 0..63
    q2: int
    q1: int | None
    alpha: float  # estimated fraction of single-compressed coefficients
    gain: float  # nats per coefficient, mixture vs single compression
    used: bool

    def to_dict(self) -> dict:
        return {"k": self.k, "row": self.k // 8, "col": self.k % 8, "q2": self.q2,
                "q1": self.q1, "alpha": round(self.alpha, 4), "gain": round(self.gain, 4),
                "used": self.used}


def _dq_pmfs(cdf: _Cdf, q1s: list[int], q2: float, xs: np.ndarray) -> np.ndarray:
    """P(x | H0) for every primary step in ``q1s`` (rows): quantized by q1, dequantized,
    rounding noise N(0, SIGMA_E^2), requantized by q2. Vectorised over all candidates."""
    from scipy.special import ndtr

    X = int(xs[-1])
    nx = xs.size + 4
    cand, us = [], []
    for j, q1 in enumerate(q1s):
        U = int(np.ceil((X + 1) * q2 / q1)) + 1
        u = np.arange(-U, U + 1, dtype=np.float64)
        us.append(u)
        cand.append(np.full(u.size, j, np.int64))
    u = np.concatenate(us)
    cj = np.concatenate(cand)
    q1v = np.asarray(q1s, np.float64)[cj]
    pu = cdf.mass(q1v * (u - 0.5), q1v * (u + 0.5))
    mu = q1v * u
    c = np.rint(mu / q2)
    out = np.zeros(len(q1s) * nx)
    for d in (-2, -1, 0, 1, 2):
        x = c + d
        w = ndtr((q2 * (x + 0.5) - mu) / SIGMA_E) - ndtr((q2 * (x - 0.5) - mu) / SIGMA_E)
        idx = np.clip(x + X + 2, 0, nx - 1).astype(np.int64) + cj * nx
        out += np.bincount(idx, weights=pu * w, minlength=len(q1s) * nx)
    return out.reshape(len(q1s), nx)[:, 2:-2]


def fit_frequency(x: np.ndarray, cal: np.ndarray, q2: float, k: int):
    """Fit H0/H1 on the quantized values ``x`` of one frequency.

    Returns (FreqFit, xs, p1, p0) where p1/p0 are the pmfs over ``xs`` (None when unused).
    """
    q2i = int(round(q2))
    if x.size < MIN_BLOCKS:
        return FreqFit(k, q2i, None, 1.0, 0.0, False), None, None, None
    X = int(min(max(np.quantile(np.abs(x), 0.999), 2), 300))
    xs = np.arange(-X, X + 1)
    inside = np.abs(x) <= X
    h = np.bincount((x[inside] + X).astype(np.int64), minlength=xs.size).astype(np.float64)
    n = h.sum()
    cdf = _Cdf(cal)
    p1 = cdf.mass(q2 * (xs - 0.5), q2 * (xs + 0.5))
    p1 = p1 / p1.sum() + 1e-6
    ll1 = float((h * np.log(p1)).sum())
    cands = [q for q in range(1, Q1_MAX + 1) if q != q2i and not (q < q2i and q2i % q == 0)]
    if not cands:
        return FreqFit(k, q2i, None, 1.0, 0.0, False), None, None, None
    P0 = _dq_pmfs(cdf, cands, q2, xs)
    P0 = P0 / np.maximum(P0.sum(1, keepdims=True), 1e-12) + 1e-6
    # EM for the single-compressed fraction alpha, all candidates at once
    a = np.full((len(cands), 1), 0.3)
    for _ in range(40):
        m = a * p1 + (1 - a) * P0
        a = np.clip((h * (a * p1) / m).sum(1, keepdims=True) / n, 1e-3, 1 - 1e-3)
    ll = (h * np.log(a * p1 + (1 - a) * P0)).sum(1)
    j = int(np.argmax(ll))
    gain = float((ll[j] - ll1) / n)
    fit = FreqFit(k, q2i, int(cands[j]), float(a[j, 0]), gain, gain >= GAIN_MIN)
    return fit, xs, p1, P0[j]


def adjpg_llr(C: np.ndarray, cal: np.ndarray, q: np.ndarray, n_freqs: int = N_FREQS):
    """Per-block log-likelihood ratio log p(H1: single) / p(H0: double) and per-freq fits.

    C: (N, 64) coefficients on the file grid; cal: (M, 64) calibration coefficients.
    """
    zz = _zigzag()[:n_freqs]
    llr = np.zeros(C.shape[0], np.float64)
    fits = []
    for k in zz:
        q2 = float(q[k])
        x = np.rint(C[:, k] / q2).astype(np.int64)
        fit, xs, p1, p0 = fit_frequency(x, cal[:, k], q2, int(k))
        fits.append(fit)
        if fit.used:
            X = int(xs[-1])
            inside = np.abs(x) <= X
            lr = np.clip(np.log(p1 / p0), -LLR_CLIP, LLR_CLIP)
            llr[inside] += lr[x[inside] + X]
    return llr, fits


def dct_rows_sampled(y: np.ndarray, oy: int, ox: int, max_blocks: int) -> np.ndarray:
    """(n, 64) block DCT on the grid (oy, ox), using evenly spaced block rows only when the
    image has more than ``max_blocks`` blocks (cheap sampling for histograms)."""
    a = np.asarray(y)[oy:, ox:]
    nby, nbx = a.shape[0] // 8, a.shape[1] // 8
    if nby * nbx > max_blocks and nbx > 0:
        step = int(np.ceil(nby * nbx / max_blocks))
        a = a[:nby * 8].reshape(nby, 8, a.shape[1])[::step].reshape(-1, a.shape[1])
    return dct_blocks(a, 0, 0).reshape(-1, 64)


def calibration_coeffs(y: np.ndarray) -> np.ndarray:
    """DCT coefficients on the grid shifted by (4, 4): an estimate of the unquantized ones
    (at most CAL_MAX_BLOCKS blocks, from evenly spaced block rows)."""
    return dct_rows_sampled(y, 4, 4, CAL_MAX_BLOCKS)


# ---------------------------------------------------------------- detector


class JpegFileDetector(Detector):
    """Shared frame of the detectors that read a JPEG file's own 8x8 grid (jpeg_dq, jpeg_ndq).

    Subclasses set ``what`` (used in the not-analysed finding) and implement :meth:`core`.
    """

    formats = ("jpeg",)
    what = "check"

    def applicable(self, media: Media) -> str | None:
        if media.kind == "image" and media.format != "jpeg":
            return "not applicable: not a JPEG file"
        return super().applicable(media)

    def core(self, lum: JpegLuma, rgb: np.ndarray | None) -> Evidence:  # pragma: no cover
        raise TypeError(f"{type(self).__name__} must define core()")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        if media.format != "jpeg":
            return Evidence.not_applicable(self.name, self.version,
                                           "not applicable: not a JPEG file")
        lum = jpeg_luma(media)
        if isinstance(lum, str):
            ev = self.evidence(score=None, label="inconclusive")
            ev.data["reliability"] = reliability("low", f"Not analysed: {lum}.")
            ev.add("info", f"{self.name}_not_analysed", f"The {self.what} could not run: {lum}.")
            return ev
        ev = self.core(lum, window_rgb(media.rgb(), lum.crop, lum.y.shape))
        add_window_finding(ev, lum.crop, lum.y.shape, lum.full_shape)
        return ev


class JpegDQDetector(JpegFileDetector):
    name = "jpeg_dq"
    what = "double-compression check"
    version = "1.0.0"
    modalities = ("image",)
    formats = ("jpeg",)
    localizes = True
    summary = "Aligned double JPEG compression: regions quantized once in a twice-compressed photo"
    looks_at = ("The histograms of the JPEG's DCT coefficients, frequency by frequency: a photo "
                "saved twice as JPEG on the same 8x8 grid shows a periodic pattern there, and a "
                "region pasted in before the second save does not.")
    cannot_tell = ("Anything about a photo saved as JPEG only once, or when the second quality "
                   "is lower than the first (the pattern then mostly vanishes); a pasted region "
                   "that was itself a JPEG of the same quality on the same grid; edits whose "
                   "8x8 grid no longer matches (see jpeg_ndq).")
    how_to_read = ("Red = 8x8 blocks whose DCT coefficients lack the double-compression pattern of the "
                   "rest, as in a region pasted into a JPEG that was saved again. Only JPEG files saved "
                   "at least twice carry this pattern; flat areas say nothing.")

    def core(self, lum: JpegLuma, rgb: np.ndarray | None) -> Evidence:
        return analyze_luma(self, lum, rgb)


def analyze_luma(det: Detector, lum: JpegLuma, rgb: np.ndarray | None = None) -> Evidence:
    from scipy import ndimage

    C = lum.dct0
    nby, nbx = C.shape[:2]
    H, W = lum.full_shape if lum.full_shape != (0, 0) else lum.y.shape
    cy, cx = lum.crop
    if nby * nbx < MIN_BLOCKS or nby < 4 or nbx < 4:
        ev = det.evidence(score=None, label="inconclusive",
                          heatmap=np.zeros((max(1, H // 8), max(1, W // 8)), np.float32))
        ev.data["reliability"] = reliability("low", "The image is too small for DCT histograms.")
        ev.add("info", "jpeg_dq_too_small",
               "The image is too small to measure double JPEG compression.")
        return ev
    cal = calibration_coeffs(lum.y)
    llr, fits = adjpg_llr(C.reshape(-1, 64), cal, lum.qtable)
    used = [f for f in fits if f.used]
    total_gain = float(sum(f.gain for f in used))
    llr = llr.reshape(nby, nbx)
    clipped = clipped_blocks(rgb, lum.y, lum=lum)
    llr[clipped] = 0.0
    sm = ndimage.uniform_filter(llr, SMOOTH_BLOCKS, mode="nearest")
    prior = prior_log_odds([f.alpha for f in used])
    post = 1.0 / (1.0 + np.exp(-np.clip(sm + prior, -30, 30)))
    ev_data = {"frequencies": [f.to_dict() for f in fits], "dq_gain": round(total_gain, 4),
               "prior_log_odds": round(prior, 3),
               "n_frequencies_used": len(used), "grid": [0, 0],
               "quality_table": [int(v) for v in lum.qtable]}
    if total_gain < DQ_GAIN_MIN or not used:
        ev = det.evidence(score=0.0, label="no_evidence",
                          heatmap=block_heatmap(np.zeros((nby, nbx), np.float32), (H, W), cy, cx))
        ev.data.update(ev_data)
        ev.data["reliability"] = reliability(
            "low", "No double-compression pattern was measured, so this method cannot separate "
                   "regions in this file.")
        ev.add("info", "jpeg_dq_single",
               "No trace of an earlier JPEG compression on the same grid was found, so this "
               "check has nothing to compare regions against.", dq_gain=round(total_gain, 4))
        return ev
    return finish_region_evidence(
        det, post, sm, (H, W), ev_data, origin=(cy, cx), strength_half=STRENGTH_HALF,
        what="a region that was compressed only once, inside a photo compressed twice",
        code="jpeg_dq_region", method="double-quantization")


def finish_region_evidence(det: Detector, post: np.ndarray, sm: np.ndarray,
                           shape: tuple[int, int], data: dict, origin: tuple[int, int],
                           strength_half: float, what: str, code: str,
                           method: str) -> Evidence:
    """Score, findings and heatmap shared by jpeg_dq and jpeg_ndq.

    post: block posterior map; sm: smoothed block LLR map (positive = tampered); the region
    strength is the summed positive smoothed LLR of the strongest connected flagged region.
    score = strength / (strength + strength_half): 0.5 exactly at ``strength_half``.
    shape: the whole image; origin: pixel position of block (0, 0) of ``post`` in it.
    """
    H, W = shape
    oy, ox = origin
    flagged = post >= 0.5
    frac = float(flagged.mean())
    comp = largest_component(flagged, np.maximum(sm, 0))
    strength = float(np.maximum(sm, 0)[comp].sum()) if comp.any() else 0.0
    score = strength / (strength + strength_half) if strength > 0 else 0.0
    mostly = frac > MAX_FLAGGED_FRACTION
    if mostly:
        score = min(score, MOSTLY_FLAGGED_CAP)
    heat = block_heatmap(post, (H, W), oy, ox)
    ev = det.evidence(score=round(score, 4), label="manipulated" if score >= 0.5 else "no_evidence",
                      heatmap=heat)
    ev.data.update(data)
    ev.data.update({"flagged_fraction": round(frac, 4), "region_strength": round(strength, 3),
                    "strength_half": strength_half})
    bbox = block_bbox(comp, 8, oy, ox) if comp.any() else None
    if bbox is not None:
        ev.data["region_bbox"] = list(bbox)
    level = "high" if data.get("n_frequencies_used", 0) >= 3 else "medium"
    ev.data["reliability"] = reliability(
        level, f"The file shows a clear {method} pattern, against which regions without it "
               "stand out.")
    if mostly:
        ev.data["reliability"] = reliability(
            "low", f"Most of the image lacks the {method} pattern, so which part is original "
                   "is ambiguous.")
        ev.add("low", f"{code}_mostly", f"Most of the image ({frac:.0%}) does not show the "
               f"{method} pattern seen in the rest; the file may mix sources, but which part is "
               "original cannot be told.", flagged_fraction=round(frac, 4))
    if score >= 0.5 and bbox is not None:
        x, y, w, h = bbox
        ev.boxes.append(Box(x, y, w, h, score=round(score, 4), label="manipulated"))
        ev.add("high" if score >= 0.8 else "medium", code,
               f"The area at x={x}, y={y} ({w}x{h} px) looks like {what}, which is what pasting "
               "content into a JPEG photo and saving it again leaves behind.",
               bbox=[x, y, w, h], region_strength=round(strength, 2), score=round(score, 4))
    ev.add("info", f"{code}_summary",
           f"The photo was compressed twice ({method} pattern found); "
           + (f"{frac:.0%} of its 8x8 blocks look compressed only once."
              if frac > 0 else "every block fits the twice-compressed pattern."),
           flagged_fraction=round(frac, 4), region_strength=round(strength, 2))
    return ev


def block_heatmap(post: np.ndarray, shape: tuple[int, int], oy: int = 0,
                  ox: int = 0) -> np.ndarray:
    """A block map as a heatmap: pixel resolution up to 4 MP, else one value per 8x8 block
    (covering the whole image with the edge blocks repeated; the report writer resizes)."""
    H, W = shape
    if H * W <= HEATMAP_FULL_MAX_PIXELS:
        return upsample_blocks(post, (H, W), 8, oy, ox)
    nby, nbx = -(-H // 8), -(-W // 8)
    out = np.zeros((nby, nbx), np.float32)
    by, bx = oy // 8, ox // 8  # a grid origin not on a multiple of 8 moves under one block
    h, w = min(post.shape[0], nby - by), min(post.shape[1], nbx - bx)
    if h > 0 and w > 0:
        out[by:by + h, bx:bx + w] = post[:h, :w]
    return out
