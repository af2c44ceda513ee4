"""Pixel traces of image generators, as pure functions over arrays (issue 16).

Two views feed the ``ai_image`` detector:

1. :func:`npr_residual`: the neighbouring-pixel residual of NPR (Tan et al., CVPR 2024). A
   generator builds its output by upsampling (transposed convolutions, nearest or bilinear
   upsampling in GAN and diffusion decoders), which ties each pixel to its neighbours in a 2x2
   cell. Subtracting the picture's own nearest-neighbour 2x down-up copy leaves exactly those
   local ties. The learned CNN of the detector reads this residual, never the picture itself.
2. :func:`trace_features`: hand-crafted statistics with names (:data:`FEATURE_NAMES`) for a
   small linear classifier:

   - periodic peaks in the spectrum of a high-pass residual at multiples of 1/8 and at odd
     multiples of 1/16 cycles per pixel (latent diffusion decodes an 8x smaller latent; the
     JPEG 8x8 grid also gives 1/8 peaks, which is why the model is trained on JPEG-compressed
     pictures of both classes) and at 1/4 and 1/2 (2x upsampling chains of GANs);
   - the radial spectrum of the residual in eight bands, its angular share along the axes,
     and the high-frequency deficit of the picture (generated pictures are often smoother);
   - colour statistics (saturation, inter-channel correlation of residuals: demosaicing ties
     the channels of camera pictures together);
   - camera demosaicing traces (green residual energy on the two quincunx lattices):
     supporting evidence only, scans and downscaled photographs lack them too;
   - noise level and its spread over blocks, and the lag-1 / lag-2 correlation of residuals.

All functions take uint8 or float arrays in 0..255 and crop nothing themselves: the callers
decide where to look (:func:`crop_grid`).
"""

from __future__ import annotations

import numpy as np

CROP = 256
"""Side of the square crops the hand-crafted features are computed on."""

_RADIAL_BANDS = 8


def to_float(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb, dtype=np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return a[..., :3]


def npr_residual(rgb: np.ndarray) -> np.ndarray:
    """x - up2(down2(x)) with nearest neighbours, per channel, in units of grey levels / 64.

    The picture is trimmed to even sides first. Shape (3, H, W) float32, channels first, as the
    CNN reads it.
    """
    a = to_float(rgb)
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    a = a[:h, :w]
    low = a[::2, ::2]
    up = np.repeat(np.repeat(low, 2, axis=0), 2, axis=1)
    return np.ascontiguousarray(((a - up) / 64.0).transpose(2, 0, 1))


def wavelet_hh(rgb: np.ndarray) -> np.ndarray:
    """The diagonal high band of an undecimated Haar transform (SAFE-style input, the CNN
    ablation): (x[y,x] - x[y,x+1] - x[y+1,x] + x[y+1,x+1]) / 2 per channel, in grey levels / 64,
    trimmed to even sides like :func:`npr_residual` (last row and column repeated)."""
    a = to_float(rgb)
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    a = a[:h, :w]
    p = np.pad(a, ((0, 1), (0, 1), (0, 0)), mode="edge")
    hh = (p[:-1, :-1] - p[:-1, 1:] - p[1:, :-1] + p[1:, 1:]) / 2.0
    return np.ascontiguousarray((hh / 64.0).transpose(2, 0, 1))


INPUTS = {"npr": npr_residual, "wavelet_hh": wavelet_hh}
"""The CNN's input transforms by name (the model's ``input`` field; ``npr`` by default)."""


def luma(rgb: np.ndarray) -> np.ndarray:
    a = to_float(rgb)
    return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]


def highpass(g: np.ndarray) -> np.ndarray:
    """Residual of a 3x3 mean prediction (the picture minus its local mean), 'valid' part."""
    k = (g[:-2, :-2] + g[:-2, 1:-1] + g[:-2, 2:] + g[1:-1, :-2] + g[1:-1, 2:]
         + g[2:, :-2] + g[2:, 1:-1] + g[2:, 2:]) / 8.0
    return g[1:-1, 1:-1] - k


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.ravel() - a.mean()
    b = b.ravel() - b.mean()
    d = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d > 1e-9 else 0.0


def _peak(power: np.ndarray, fy: np.ndarray, fx: np.ndarray, freqs: list[float]) -> tuple:
    """Max and mean log ratio of the power at the given (fy, fx) frequency pairs (cycles/px)
    to the median power of the spectrum around them."""
    n = power.shape[0]
    vals = []
    for f1 in freqs:
        for f2 in freqs:
            if f1 == 0 and f2 == 0:
                continue
            iy, ix = int(round(f1 * n)) % n, int(round(f2 * n)) % n
            y0, x0 = iy - 3, ix - 3
            ys = np.arange(y0, y0 + 7) % n
            xs = np.arange(x0, x0 + 7) % n
            nb = power[np.ix_(ys, xs)].ravel()
            ref = np.median(nb) + 1e-9
            vals.append(np.log(power[iy, ix] / ref + 1e-9))
    v = np.asarray(vals) if vals else np.zeros(1)
    return float(v.max()), float(v.mean())


FEATURE_NAMES = (
    ["peak8_max", "peak8_mean", "peak16_max", "peak16_mean", "peak4_max", "peak2_max"]
    + [f"radial_{i}" for i in range(_RADIAL_BANDS)]
    + ["axis_share", "hf_deficit",
       "sat_mean", "sat_std", "rg_res_corr", "gb_res_corr",
       "cfa_nyquist", "noise_level", "noise_spread", "res_lag1", "res_lag2", "res_kurtosis"]
)


def trace_features(crop: np.ndarray) -> np.ndarray:
    """The :data:`FEATURE_NAMES` statistics of one RGB crop (ideally :data:`CROP` square)."""
    a = to_float(crop)
    g = luma(a)
    r = highpass(g)
    n = min(r.shape)
    r = r[:n, :n]
    win = np.hanning(n).astype(np.float32)
    spec = np.abs(np.fft.fft2((r - r.mean()) * win[:, None] * win[None, :])) ** 2
    spec = spec.astype(np.float64) + 1e-9
    f = np.fft.fftfreq(n)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    p8 = _peak(spec, fy, fx, [k / 8 for k in range(0, 5)])
    p16 = _peak(spec, fy, fx, [k / 16 for k in (1, 3, 5, 7)])
    p4 = _peak(spec, fy, fx, [0.0, 0.25])
    p2 = _peak(spec, fy, fx, [0.0, 0.5])
    rad = np.sqrt(fy ** 2 + fx ** 2)
    total = spec.sum()
    edges = np.linspace(0.0, 0.5 * np.sqrt(2) + 1e-6, _RADIAL_BANDS + 1)
    bands = [np.log(spec[(rad >= lo) & (rad < hi)].mean() + 1e-9) - np.log(total / spec.size)
             for lo, hi in zip(edges[:-1], edges[1:], strict=False)]
    axis = ((np.abs(fy) < 0.02) | (np.abs(fx) < 0.02)) & (rad > 0.05)
    axis_share = float(spec[axis].sum() / total)
    # High-frequency deficit of the picture itself: energy above 0.25 c/px against 0.1-0.25.
    gs = g[:n, :n]
    ispec = np.abs(np.fft.fft2((gs - gs.mean()) * win[:, None] * win[None, :])) ** 2 + 1e-9
    hf = ispec[(rad > 0.25)].mean()
    mf = ispec[(rad > 0.1) & (rad <= 0.25)].mean()
    hf_deficit = float(np.log(hf / mf))
    mx = a.max(axis=2)
    mn = a.min(axis=2)
    sat = (mx - mn) / (mx + 1e-3)
    rr, gr, br = (highpass(a[..., c]) for c in range(3))
    # Camera demosaicing: in a Bayer mosaic green is measured on one quincunx lattice and
    # interpolated on the other, so the residual energy differs between the two lattices.
    gres = gr[: (gr.shape[0] // 2) * 2, : (gr.shape[1] // 2) * 2] ** 2
    qa = 0.5 * (gres[0::2, 0::2].mean() + gres[1::2, 1::2].mean())
    qb = 0.5 * (gres[0::2, 1::2].mean() + gres[1::2, 0::2].mean())
    cfa = float(abs(np.log((qa + 1e-3) / (qb + 1e-3))))
    mad = np.abs(r)
    bs = 32
    hb, wb = mad.shape[0] // bs, mad.shape[1] // bs
    if hb and wb:
        blk = mad[: hb * bs, : wb * bs].reshape(hb, bs, wb, bs).mean(axis=(1, 3))
        spread = float(blk.std() / (blk.mean() + 1e-6))
    else:
        spread = 0.0
    noise = float(np.log(np.median(mad) + 1e-3))
    lag1 = 0.5 * (_corr(r[:, :-1], r[:, 1:]) + _corr(r[:-1], r[1:]))
    lag2 = 0.5 * (_corr(r[:, :-2], r[:, 2:]) + _corr(r[:-2], r[2:]))
    rv = r.ravel() - r.mean()
    kurt = float(np.log((rv ** 4).mean() / ((rv ** 2).mean() ** 2 + 1e-9) + 1e-9))
    vals = [*p8, *p16, p4[0], p2[0], *bands, axis_share, hf_deficit,
            float(sat.mean()), float(sat.std()), _corr(rr, gr), _corr(gr, br),
            cfa, noise, spread, lag1, lag2, kurt]
    return np.asarray(vals, dtype=np.float64)


def crop_grid(h: int, w: int, side: int, max_crops: int) -> list[tuple[int, int]]:
    """Top-left corners of up to ``max_crops`` non-overlapping ``side`` crops spread evenly over
    an h x w picture (all of them when fewer fit). Corners are even, so that the 2x2 cells of
    :func:`npr_residual` keep the picture's own phase."""
    if h < side or w < side:
        return []
    ny, nx = h // side, w // side
    ys = np.linspace(0, h - side, ny).astype(int) if ny > 1 else np.array([(h - side) // 2])
    xs = np.linspace(0, w - side, nx).astype(int) if nx > 1 else np.array([(w - side) // 2])
    corners = [(int(y) & ~1, int(x) & ~1) for y in ys for x in xs]
    if len(corners) > max_crops:
        idx = np.linspace(0, len(corners) - 1, max_crops).round().astype(int)
        corners = [corners[i] for i in idx]
    return corners
