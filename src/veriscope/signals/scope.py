"""Is a picture within what the pixel checks were built for? (issue 15, fusion rule 10)

The statistical image detectors were built and measured on photographs: camera pictures,
scans and their everyday re-saves. Some inputs lie outside that, and there a confident
"manipulated" from pixel statistics is more often wrong than right:

- ``tiny``: a short side under :data:`MIN_SIDE` px leaves too few blocks for any noise,
  compression or resampling statistic;
- ``heavy_compression``: a last JPEG compression at an estimated quality under
  :data:`MIN_QUALITY` erases the fine traces (noise, double compression, interpolation) the
  checks read, and leaves block artefacts that look like local differences;
- ``graphic``: most of the picture in flat 4x4 blocks (:data:`FLAT_MAX`, :data:`FLAT_TOL`), as in
  screenshots of user interfaces, text, charts, drawings and cartoons. In a photograph sensor
  noise makes neighbouring pixels differ; flat blocks come from smooth areas a JPEG
  compression reduced to their mean, blown highlights and deep shadows, and stay a minority
  (docs/detectors/scope.md has the figures).

Pure functions over arrays; the ``scope`` detector wraps them and fusion reads its result.
Thresholds are rule constants, checked on the innocent FIT photos (camera-fit and its
treatments, benchmarks/calibration.py), where they must leave photos in scope.
"""

from __future__ import annotations

import numpy as np

MIN_SIDE = 160
"""Short side in px under which a picture is out of scope (the block statistics of noise,
splicebuster and resampling use 32-64 px windows: a 160 px side holds 2-5 of them)."""
MIN_QUALITY = 50
"""Estimated libjpeg quality of the luminance table under which compression is heavy."""
FLAT_MAX = 0.6
"""Share of flat 4x4 blocks (see :data:`FLAT_TOL`) above which a picture counts as a graphic."""
FLAT_TOL = 2
"""A block is flat when every channel varies by at most this many grey levels inside it:
exact flatness (0) misses screenshots re-saved as JPEG, whose ringing breaks it (docs/detectors/
scope.md)."""
BLOCK = 4
MAX_SIDE = 1024
"""The flat-block share is measured on a centre-weighted subsample: every k-th block row and
column so that at most about MAX_SIDE / BLOCK blocks per side are read (no resize: a resize
would blur flat edges)."""


def flat_share(rgb: np.ndarray) -> float:
    """Share of 4x4 blocks whose pixels differ by at most :data:`FLAT_TOL` in every channel.

    The sampled blocks are gathered side by side into one small image, and their maxima and
    minima read by a 4x4 dilation and erosion (OpenCV) at the block origins: the same blocks
    and the same test as a per-block reduction, about 2.5x faster."""
    import cv2

    a = rgb if rgb.ndim == 3 else rgb[..., None]
    h, w = a.shape[:2]
    nby, nbx = h // BLOCK, w // BLOCK
    if nby == 0 or nbx == 0:
        return 0.0
    sy = max(1, nby // (MAX_SIDE // BLOCK))
    sx = max(1, nbx // (MAX_SIDE // BLOCK))
    rows = (np.arange(0, nby, sy)[:, None] * BLOCK + np.arange(BLOCK)).ravel()
    cols = (np.arange(0, nbx, sx)[:, None] * BLOCK + np.arange(BLOCK)).ravel()
    sub = a[rows][:, cols]  # (ny*4, nx*4, C): the sampled blocks side by side
    if sub.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        sub = sub.astype(np.float64)
    k = np.ones((BLOCK, BLOCK), np.uint8)
    flat = np.ones((len(rows) // BLOCK, len(cols) // BLOCK), bool)
    for c in range(sub.shape[2]):
        ch = np.ascontiguousarray(sub[..., c])
        mx = cv2.dilate(ch, k, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::BLOCK, ::BLOCK]
        mn = cv2.erode(ch, k, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[::BLOCK, ::BLOCK]
        flat &= (mx.astype(np.float64) - mn.astype(np.float64)) <= FLAT_TOL
    return float(flat.mean())


def assess(rgb: np.ndarray, jpeg_quality: int | None = None) -> dict:
    """{"in_scope", "reasons": [{"code", "message"}], "facts": {...}} for one picture."""
    h, w = rgb.shape[:2]
    reasons = []
    if min(h, w) < MIN_SIDE:
        reasons.append({"code": "tiny", "message": f"the picture is small ({w}x{h} px): too few "
                        "pixels for the statistical checks"})
    if jpeg_quality is not None and jpeg_quality < MIN_QUALITY:
        reasons.append({"code": "heavy_compression",
                        "message": f"the picture was compressed heavily (JPEG quality about "
                                   f"{jpeg_quality}), which erases the traces the pixel checks "
                                   "read and adds block artefacts"})
    fs = flat_share(rgb)
    if fs > FLAT_MAX:
        reasons.append({"code": "graphic",
                        "message": f"{fs:.0%} of the picture is flat colour (a "
                                   "plain or cut-out background, a screenshot, a drawing, a "
                                   "chart): the pixel checks read the grain of photographs, "
                                   "which is missing there"})
    return {"in_scope": not reasons, "reasons": reasons,
            "facts": {"width": w, "height": h, "jpeg_quality": jpeg_quality,
                      "flat_share": round(fs, 4)}}
