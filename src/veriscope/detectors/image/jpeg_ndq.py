"""Non-aligned double JPEG compression (NA-DJPG): regions missing a shifted earlier grid.

When a JPEG photo is decompressed, cropped (or pasted at an offset), edited and saved again,
its first compression lives on an 8x8 grid shifted by (r, c) != (0, 0) from the grid of the
file. On that shifted grid the DCT coefficients of the untouched part still cluster around
multiples of the first quantization steps Q1 (blurred by the noise of the second
compression); a region pasted in before the second save does not.

Method (implemented from the papers' equations):

* Bianchi, Piva, "Detection of nonaligned double JPEG compression based on integer
  periodicity maps", IEEE TIFS 7(2), 2012, and "Image forgery localization via block-grained
  analysis of JPEG artifacts", IEEE TIFS 7(3), 2012 (NA-DJPG model): at the right shift,
  y = Q1 * u + e with e ~ N(0, sigma^2) under H0 (untouched, double compressed), against a
  smooth distribution under H1 (tampered); Q1, sigma and the tampered fraction are fitted
  by maximum likelihood (EM) per frequency; per-block likelihood ratios are multiplied over
  frequencies.
* Grid search in the spirit of an a-contrario test: for each of the 63 non-zero shifts and
  each low frequency, the phase coherence |mean exp(2 pi i y / Q)| of the block DCT
  coefficients is compared with its median over all shifts (the shifts with no grid are the
  background); the shift whose coherence stands out most is the candidate first grid, kept
  only when its excess is far beyond what the other shifts show (robust z-score).

Reading the coefficients: the luminance plane is decoded by Pillow without colour conversion
and the orthonormal 8x8 DCT of ``Y - 128`` is computed on the shifted grid (see jpeg_dq).
"""

from __future__ import annotations

import functools

import numpy as np

from veriscope.core.evidence import Evidence
from veriscope.detectors.base import Detector
from veriscope.detectors.image.jpeg_dq import (
    JpegFileDetector,
    JpegLuma,
    block_heatmap,
    clipped_blocks,
    dct_rows_sampled,
    finish_region_evidence,
    grid_dct,
    reliability,
)

# ---------------------------------------------------------------- constants (documented)

N_FREQS = 10
"""Frequencies analysed: the first 10 of the zigzag scan (DC included)."""
GRID_BLOCKS = 2000
"""Blocks sampled per shift for the grid search."""
BIN = 0.5
"""Histogram bin width (DCT units) for coherence and likelihoods."""
RANGE = 1024.0
"""Coefficients are histogrammed over [-RANGE, RANGE)."""
Q_MIN, Q_MAX = 2, 40
"""Primary quantization steps searched."""
GRID_Z_MIN = 8.0
"""Robust z-score of the best shift's grid score over the other shifts, above which the
shifted earlier grid is accepted (fitted on FIT photos, see doc)."""
SIGMAS = (0.4, 0.6, 0.8, 1.0, 1.4, 2.0, 2.8, 4.0)
"""Noise std candidates (DCT units) of the second compression seen on the shifted grid."""
GAIN_MIN = 0.05
"""A frequency is used when the NA-DJPG mixture beats the smooth model by this many nats per
coefficient (fitted on FIT, see doc)."""
SIGMA_RATIO_MAX = 3.0
"""sigma may be at most q1 / SIGMA_RATIO_MAX (beyond that the lattice is invisible)."""
N_CLASSES = 5
"""Blocks are split into this many texture classes (terciles of high-frequency energy); both
hypotheses are modelled per class."""
CLASS_GAIN_MIN = 0.05
"""A texture class gives evidence only when its own lattice fit gains this much (nats per
coefficient; fitted on FIT: it halves the largest false region on untouched FIT photos)."""
LLR_CLIP = 4.0
P1_SMOOTH = 1.0
"""Std (DCT units) of the Gaussian that smooths the reference histogram into P(y | H1)."""
SMOOTH_BLOCKS = 3
FIT_MAX_BLOCKS = 60_000
STRENGTH_HALF = 300.0
"""Region strength (summed smoothed LLR of the strongest flagged region, nats) that maps to
score 0.5: just above the largest value on untouched FIT photos re-saved on a shifted grid
(283, at q1=60, q2=80)."""
MIN_BLOCKS = 64


def _zz(n: int) -> np.ndarray:
    from veriscope.formats.jpeg import ZIGZAG

    return np.asarray(ZIGZAG[:n], dtype=np.int64)


def _dct1() -> np.ndarray:
    """(8, 8) orthonormal 1-D DCT-II matrix, row a = basis function of frequency a."""
    n = np.arange(8)
    d = np.sqrt(2 / 8) * np.cos(np.pi * (2 * n[None, :] + 1) * n[:, None] / 16)
    d[0] /= np.sqrt(2)
    return d


def _sample_coeffs(y: np.ndarray, ks: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Coefficients ``ks`` for all 64 shifts at the same ``n`` random block positions.

    Each sampled position contributes a 15x15 patch that holds its block for every shift;
    the separable DCT is evaluated on sliding windows. Returns (64, n, len(ks)) float32;
    shift index = r * 8 + c.
    """
    from numpy.lib.stride_tricks import sliding_window_view as swv

    H, W = y.shape
    nby, nbx = (H - 7) // 8, (W - 7) // 8  # block positions valid for every shift
    tot = nby * nbx
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(tot, n, replace=False)) if tot > n else np.arange(tot)
    by, bx = idx // nbx, idx % nbx
    ii = np.arange(15)
    rows = by[:, None] * 8 + ii[None, :]
    cols = bx[:, None] * 8 + ii[None, :]
    P = y[rows[:, :, None], cols[:, None, :]].astype(np.float32) - 128.0  # (n, 15, 15)
    rs, cs = ks // 8, ks % 8
    A, B = int(rs.max()) + 1, int(cs.max()) + 1
    d = _dct1().astype(np.float32)
    V = swv(P, 8, axis=1) @ d[:A].T  # (n, 8 row shifts, 15, A)
    Hh = swv(V, 8, axis=2)  # (n, 8, 8 col shifts, A, 8)
    Cc = Hh @ d[:B].T  # (n, 8, 8, A, B)
    out = Cc[:, :, :, rs, cs]  # (n, 8, 8, K)
    return np.ascontiguousarray(out.reshape(idx.size, 64, ks.size).transpose(1, 0, 2))


def _hist(v: np.ndarray) -> np.ndarray:
    nb = int(2 * RANGE / BIN)
    i = np.clip(((v + RANGE) / BIN).astype(np.int64), 0, nb - 1)
    return np.bincount(i, minlength=nb).astype(np.float64)


def _hists(co: np.ndarray) -> np.ndarray:
    """Histograms of (S, n, K) coefficients -> (S * K, nb), row = s * K + k."""
    nb = int(2 * RANGE / BIN)
    S, n, K = co.shape
    i = np.clip(((co + RANGE) / BIN).astype(np.int64), 0, nb - 1)
    i += (np.arange(S)[:, None, None] * K + np.arange(K)[None, None, :]) * nb
    return np.bincount(i.ravel(), minlength=S * K * nb).reshape(S * K, nb).astype(np.float64)


def _centers() -> np.ndarray:
    nb = int(2 * RANGE / BIN)
    return -RANGE + BIN * (np.arange(nb) + 0.5)


@functools.lru_cache(maxsize=1)
def _phase_tables():
    """Candidate periods and cos/sin of 2 pi x / Q at the bin centres, (nb, nQ) float32."""
    qs = np.arange(Q_MIN, Q_MAX + 1, dtype=np.float64)
    ph = 2 * np.pi * _centers()[:, None] / qs[None, :]
    return qs, np.cos(ph).astype(np.float32), np.sin(ph).astype(np.float32)


def grid_search(y: np.ndarray, ks: np.ndarray, seed: int = 0,
                include_aligned: bool = False) -> dict:
    """Phase-coherence search of an earlier 8x8 grid.

    JPEG files (default): only the 49 shifts with r != 0 and c != 0 are candidates and form
    the background (a shift aligned with the file's grid on one axis inherits part of the
    file's own quantization). ``include_aligned``: all 64 shifts (for images that are not
    JPEG files, whose former grid may well be (0, 0))."""
    co = _sample_coeffs(y, ks, GRID_BLOCKS, seed)  # (64, n, K)
    n = co.shape[1]
    qs, cosm, sinm = _phase_tables()
    hist = _hists(co).astype(np.float32)
    P = np.hypot(hist @ cosm, hist @ sinm) / max(n, 1)  # (64*K, nQ)
    P = P.reshape(64, ks.size, qs.size)
    if include_aligned:
        cand = np.arange(64)
    else:
        cand = np.array([s for s in range(64) if s // 8 and s % 8])  # r != 0 and c != 0
    others = P[cand]
    med = np.median(others, axis=0)
    mad = np.median(np.abs(others - med), axis=0) * 1.4826 + 1.0 / np.sqrt(max(n, 1))
    z = (P - med) / mad  # (64, K, nQ)
    zk = z.max(axis=2)  # best period per shift and frequency
    G = np.clip(zk, 0, None).sum(axis=1)
    g = G[cand]
    best = int(cand[int(np.argmax(g))])
    gm = float(np.median(g))
    gs = float(np.median(np.abs(g - gm)) * 1.4826) + 1e-6
    gz = float((G[best] - gm) / gs)
    G[[s for s in range(64) if s not in set(cand.tolist())]] = np.nan
    # reference shift for the smooth (H1) distribution: the least periodic one
    ref = int(cand[int(np.argmin(g))])
    return {"best": best, "z": gz, "G": G, "ref": ref, "zq": z[best], "qs": qs}


def shifted_grid(lum: JpegLuma) -> dict:
    """grid_search on a JPEG file's luminance, computed once per file (shared with jpeg_ghost)."""
    if "grid_search" not in lum.memo:
        lum.memo["grid_search"] = grid_search(lum.y, _zz(N_FREQS))
    return lum.memo["grid_search"]


@functools.lru_cache(maxsize=32)
def _gauss_kernel(sigma: float) -> np.ndarray:
    h = int(np.ceil(4 * sigma / BIN))
    t = np.arange(-h, h + 1) * BIN
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _p1_from_ref(ref: np.ndarray) -> np.ndarray:
    """Smooth density (per bin) of the reference coefficients: histogram convolved with a
    1-unit Gaussian, plus a floor."""
    h = _hist(ref)
    p = np.convolve(h, _gauss_kernel(P1_SMOOTH), mode="same")
    p = np.clip(p, 0, None)
    p = p / max(p.sum(), 1e-12)
    return 0.995 * p + 0.005 / p.size


def _comb(p1: np.ndarray, q1: float) -> np.ndarray:
    """The mass of p1 gathered on the lattice points q1 * u (as a per-bin array)."""
    cen = _centers()
    u = np.rint(cen / q1)
    uu = (u - u.min()).astype(np.int64)
    pu = np.bincount(uu, weights=p1)
    lat = u.min() + np.arange(pu.size)
    pos = np.clip(((lat * q1 + RANGE) / BIN).astype(np.int64), 0, p1.size - 1)
    return np.bincount(pos, weights=pu, minlength=p1.size)


def _p0_lattice(comb: np.ndarray, sigma: float) -> np.ndarray:
    """The lattice mass blurred by N(0, sigma^2): P(y | H0)."""
    p0 = np.convolve(comb, _gauss_kernel(sigma), mode="same")
    p0 = np.clip(p0, 0, None)
    p0 = p0 / max(p0.sum(), 1e-12)
    return 0.995 * p0 + 0.005 / p0.size


def _em_multi(hh: np.ndarray, comps: np.ndarray, iters: int = 15) -> tuple:
    """EM for the weights of mixtures of fixed components, many models at once.

    comps: (M, J, B) = M models of J components over B bins (component 0 is H1);
    hh: (B,) counts. Returns (weights (M, J), loglik (M,))."""
    n = hh.sum()
    M, J, _ = comps.shape
    w = np.full((M, J, 1), 1.0 / J)
    for _ in range(iters):
        t = w * comps
        m = t.sum(1, keepdims=True)
        w = (hh * t / m).sum(2, keepdims=True) / n
        w = np.maximum(w, 1e-3)
        w = w / w.sum(1, keepdims=True)
    ll = (hh * np.log((w * comps).sum(1))).sum(1)
    return w[:, :, 0], ll


def fit_na(h: np.ndarray, p1: np.ndarray, q_cands, sigmas=SIGMAS) -> tuple:
    """Best (gain, q1, sigma, alpha, p0) of alpha * p1 + (1 - alpha) * p0(q1, sigma).

    gain = log-likelihood improvement over p1 alone, nats per coefficient."""
    n = h.sum()
    nz = h > 0
    if n <= 0:
        return 0.0, None, None, 1.0, None
    hh = h[nz]
    ll1 = float((hh * np.log(p1[nz])).sum())
    models, p0s = [], []
    for q1 in q_cands:
        comb = _comb(p1, q1)
        for sg in sigmas:
            if sg <= q1 / SIGMA_RATIO_MAX:  # else the lattice is blurred beyond recognition
                p0s.append(_p0_lattice(comb, sg))
                models.append((q1, sg))
    if not models:
        return 0.0, None, None, 1.0, None
    P0 = np.stack(p0s)
    comps = np.stack([np.broadcast_to(p1[nz], (len(models), hh.size)), P0[:, nz]], axis=1)
    w, ll = _em_multi(hh, comps)
    j = int(np.argmax(ll))
    g = float((ll[j] - ll1) / n)
    if g <= 0:
        return 0.0, None, None, 1.0, None
    return g, models[j][0], models[j][1], float(w[j, 0]), P0[j]


def fit_na_mix(h: np.ndarray, p1: np.ndarray, q1: float) -> tuple:
    """H0 with two noise levels (sigma and 2 sigma) mixed: best (gain, sigma, alpha, p0)."""
    n = h.sum()
    nz = h > 0
    if n <= 0:
        return 0.0, None, 1.0, None
    hh = h[nz]
    ll1 = float((hh * np.log(p1[nz])).sum())
    comb = _comb(p1, q1)
    sg_ok = [sg for sg in SIGMAS if 2 * sg <= q1 / SIGMA_RATIO_MAX]
    if not sg_ok:
        return 0.0, None, 1.0, None
    pa = np.stack([_p0_lattice(comb, sg) for sg in sg_ok])
    pb = np.stack([_p0_lattice(comb, 2 * sg) for sg in sg_ok])
    comps = np.stack([np.broadcast_to(p1[nz], (len(sg_ok), hh.size)), pa[:, nz], pb[:, nz]],
                     axis=1)
    w, ll = _em_multi(hh, comps)
    j = int(np.argmax(ll))
    g = float((ll[j] - ll1) / n)
    if g <= 0:
        return 0.0, None, 1.0, None
    p0 = (w[j, 1] * pa[j] + w[j, 2] * pb[j]) / (w[j, 1] + w[j, 2])
    return g, sg_ok[j], float(w[j, 0]), p0


def _activity(C: np.ndarray) -> np.ndarray:
    """Block activity: energy of the AC coefficients beyond the analysed ones (zigzag >= 10).

    Computed the same way on every grid; used to condition both hypotheses on texture, since
    the noise of the second compression seen on the shifted grid grows with it."""
    from veriscope.formats.jpeg import ZIGZAG

    hi = np.asarray(ZIGZAG[N_FREQS:], dtype=np.int64)
    X = C[:, hi]
    return np.sqrt(np.einsum("ij,ij->i", X, X))


class JpegNDQDetector(JpegFileDetector):
    name = "jpeg_ndq"
    what = "shifted double-compression check"
    version = "1.0.0"
    modalities = ("image",)
    formats = ("jpeg",)
    localizes = True
    summary = "Non-aligned double JPEG: regions missing the shifted grid of an earlier compression"
    looks_at = ("The DCT coefficients on each of the 63 shifted 8x8 grids: a photo compressed, "
                "cropped and compressed again keeps the quantization pattern of its first "
                "compression on a shifted grid; a region pasted in before the second save "
                "does not.")
    cannot_tell = ("Anything about a photo compressed once, or whose earlier compression is on "
                   "the same grid as the file (see jpeg_dq); weak when the second quality is "
                   "much lower than the first.")
    how_to_read = ("Red = blocks whose compression grid is shifted against the picture's own, as in a "
                   "region pasted from another JPEG. Flat areas say nothing.")

    def core(self, lum: JpegLuma, rgb: np.ndarray | None) -> Evidence:
        return analyze_ndq(self, lum, rgb)


def analyze_ndq(det: Detector, lum: JpegLuma, rgb: np.ndarray | None = None) -> Evidence:
    from scipy import ndimage

    y = lum.y
    h0, w0 = y.shape
    H, W = lum.full_shape if lum.full_shape != (0, 0) else y.shape
    cy, cx = lum.crop
    if (h0 // 8) * (w0 // 8) < MIN_BLOCKS or h0 < 40 or w0 < 40:
        ev = det.evidence(score=None, label="inconclusive",
                          heatmap=np.zeros((max(1, H // 8), max(1, W // 8)), np.float32))
        ev.data["reliability"] = reliability("low", "The image is too small for DCT statistics.")
        ev.add("info", "jpeg_ndq_too_small",
               "The image is too small to look for a shifted earlier JPEG compression.")
        return ev
    ks = _zz(N_FREQS)
    gs = shifted_grid(lum)
    best = gs["best"]
    r, c = best // 8, best % 8
    data = {"grid_z": round(gs["z"], 3), "grid_candidate": [r, c],
            "grid_scores": [round(float(v), 2) if np.isfinite(v) else None for v in gs["G"]]}
    if gs["z"] < GRID_Z_MIN:
        ev = det.evidence(score=0.0, label="no_evidence",
                          heatmap=block_heatmap(np.zeros((h0 // 8, w0 // 8), np.float32), (H, W), cy, cx))
        ev.data.update(data)
        ev.data["reliability"] = reliability(
            "low", "No shifted earlier JPEG grid was found, so this method cannot separate "
                   "regions in this file.")
        ev.add("info", "jpeg_ndq_none",
               "No trace of an earlier JPEG compression on a shifted grid was found, so this "
               "check has nothing to compare regions against.", grid_z=round(gs["z"], 2))
        return ev
    # full-image coefficients on the candidate grid and on the reference grid
    C = grid_dct(lum, r, c)
    nby, nbx = C.shape[:2]
    Cf = C.reshape(-1, 64)
    rr, rc = gs["ref"] // 8, gs["ref"] % 8
    R = dct_rows_sampled(y, rr, rc, FIT_MAX_BLOCKS)
    fitsel = np.arange(Cf.shape[0])
    if fitsel.size > FIT_MAX_BLOCKS:
        fitsel = np.random.default_rng(2).choice(fitsel.size, FIT_MAX_BLOCKS, replace=False)
    # activity classes (terciles on the candidate grid, same edges on the reference grid)
    act_c = _activity(Cf)
    act_r = _activity(R)
    edges = np.quantile(act_c[fitsel], np.linspace(0, 1, N_CLASSES + 1)[1:-1])
    cls_c = np.searchsorted(edges, act_c)
    cls_r = np.searchsorted(edges, act_r)
    cls_idx = [np.flatnonzero(cls_c == ci) for ci in range(N_CLASSES)]
    llr = np.zeros(Cf.shape[0])
    freqs = []
    nb = int(2 * RANGE / BIN)
    for j, k in enumerate(ks):
        zq = gs["zq"][j]
        order = np.argsort(zq)[::-1][:2]
        cands = set()
        for i in order:
            q = int(gs["qs"][i])
            cands.update(d for d in range(Q_MIN, q + 1) if q % d == 0 and d >= Q_MIN)
        p1 = _p1_from_ref(R[:, k])
        h = _hist(Cf[fitsel, k])
        gain, q1, sg, a, p0 = fit_na(h, p1, sorted(cands))
        used = gain >= GAIN_MIN and p0 is not None
        f = {"k": int(k), "q1": q1, "sigma": sg, "alpha": round(float(a), 4),
             "gain": round(float(gain), 4), "used": bool(used)}
        freqs.append(f)
        if not used:
            continue
        bi = np.clip(((Cf[:, k] + RANGE) / BIN).astype(np.int64), 0, nb - 1)
        f["classes"] = []
        for ci in range(N_CLASSES):
            sel_c = cls_idx[ci]
            ref_c = R[cls_r == ci, k]
            if ref_c.size < MIN_BLOCKS or sel_c.size < MIN_BLOCKS:
                f["classes"].append(None)
                continue
            p1c = _p1_from_ref(ref_c)
            hc = _hist(Cf[fitsel[cls_c[fitsel] == ci], k])
            g_c, sg_c, a_c, p0c = fit_na_mix(hc, p1c, q1)
            f["classes"].append({"sigma": sg_c, "alpha": round(float(a_c), 4),
                                 "gain": round(float(g_c), 4)})
            if p0c is None or g_c < CLASS_GAIN_MIN:
                continue
            lr = np.clip(np.log(p1c / p0c), -LLR_CLIP, LLR_CLIP)
            llr[sel_c] += lr[bi[sel_c]]
    used = [f for f in freqs if f["used"]]
    data.update({"frequencies": freqs, "n_frequencies_used": len(used),
                 "ndq_gain": round(float(sum(f["gain"] for f in used)), 4)})
    if not used:
        ev = det.evidence(score=0.0, label="no_evidence",
                          heatmap=block_heatmap(np.zeros((h0 // 8, w0 // 8), np.float32), (H, W), cy, cx))
        ev.data.update(data)
        ev.data["reliability"] = reliability(
            "low", "A shifted grid was suggested but no frequency fitted the double-compression "
                   "model.")
        ev.add("info", "jpeg_ndq_none",
               "No usable trace of an earlier JPEG compression on a shifted grid was found.",
               grid_z=round(gs["z"], 2))
        return ev
    llr = llr.reshape(nby, nbx)
    llr[clipped_blocks(rgb, y, r, c, lum=lum)] = 0.0
    sm = ndimage.uniform_filter(llr, SMOOTH_BLOCKS, mode="nearest")
    post = 1.0 / (1.0 + np.exp(-np.clip(sm, -30, 30)))  # equal priors (see doc)
    return finish_region_evidence(
        det, post, sm, (H, W), data, origin=(r + cy, c + cx), strength_half=STRENGTH_HALF,
        what="a region without the earlier, shifted JPEG compression of the rest of the photo",
        code="jpeg_ndq_region", method=f"shifted ({r}, {c}) double-compression")
