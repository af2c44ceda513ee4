"""Forgeries made on purpose from pristine photos, with masks known by construction.

Used to measure pixel-level detectors (``benchmarks/classic.py``) and in tests.
Every function takes and returns uint8 RGB arrays and a boolean mask (True =
tampered), is deterministic for a given ``numpy.random.Generator``, and has no
dependency beyond numpy, OpenCV and Pillow.

Kinds:
- ``splice``: a random smooth-edged region from a donor photo pasted into a host.
- ``copy_move``: a region of the same photo copied elsewhere, optionally rotated
  and scaled (mask = the pasted copy; ``source_mask`` in the params).
- ``removal``: a region removed by OpenCV inpainting (Telea).
- ``resample``: a region re-sampled in place (scaled up by 1.1-1.4 and cropped back).
- ``splice`` + double JPEG: see :func:`double_jpeg_splice` (host compressed at Q1,
  region pasted, whole image saved at Q2; aligned or with the 8x8 grid shifted).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Forgery:
    image: np.ndarray  # uint8 RGB, or the decoded JPEG when jpeg_bytes is set
    mask: np.ndarray  # bool (H, W), True = tampered
    kind: str
    params: dict = field(default_factory=dict)
    jpeg_bytes: bytes | None = None  # the file to write, when the forgery is a JPEG


def _blob_mask(h: int, w: int, rng: np.random.Generator, area=(0.03, 0.12)) -> np.ndarray:
    """A random smooth blob (union of ellipses, blurred and thresholded) covering area*H*W."""
    import cv2

    target = rng.uniform(*area) * h * w
    m = np.zeros((h, w), np.uint8)
    cy, cx = rng.uniform(0.25, 0.75) * h, rng.uniform(0.25, 0.75) * w
    r = np.sqrt(target / np.pi)
    for _ in range(int(rng.integers(1, 4))):
        ay, ax = r * rng.uniform(0.6, 1.3), r * rng.uniform(0.6, 1.3)
        oy, ox = rng.normal(0, r * 0.3), rng.normal(0, r * 0.3)
        cv2.ellipse(m, (int(cx + ox), int(cy + oy)), (max(2, int(ax)), max(2, int(ay))),
                    float(rng.uniform(0, 180)), 0, 360, 255, -1)
    k = max(3, int(r * 0.3) | 1)
    m = cv2.GaussianBlur(m, (k, k), 0)
    return m > 127


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def _place(mask: np.ndarray, h: int, w: int, rng, avoid: np.ndarray | None = None,
           tries: int = 50) -> tuple[int, int] | None:
    """Top-left offset to paste the bbox of ``mask`` into an (h, w) image, avoiding ``avoid``."""
    y0, y1, x0, x1 = _bbox(mask)
    bh, bw = y1 - y0, x1 - x0
    if bh >= h or bw >= w:
        return None
    for _ in range(tries):
        ty, tx = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        if avoid is None:
            return ty, tx
        if not avoid[ty:ty + bh, tx:tx + bw][mask[y0:y1, x0:x1]].any():
            return ty, tx
    return None


def splice(host: np.ndarray, donor: np.ndarray, rng: np.random.Generator) -> Forgery:
    h, w = host.shape[:2]
    dh, dw = donor.shape[:2]
    m = _blob_mask(min(h, dh), min(w, dw), rng)
    y0, y1, x0, x1 = _bbox(m)
    pos = _place(m, h, w, rng)
    if pos is None:
        raise ValueError("region does not fit")
    ty, tx = pos
    out = host.copy()
    region = m[y0:y1, x0:x1]
    out[ty:ty + y1 - y0, tx:tx + x1 - x0][region] = donor[y0:y1, x0:x1][region]
    mask = np.zeros((h, w), bool)
    mask[ty:ty + y1 - y0, tx:tx + x1 - x0] = region
    return Forgery(out, mask, "splice", {"offset": [ty, tx]})


def copy_move(img: np.ndarray, rng: np.random.Generator, angle: float = 0.0,
              scale: float = 1.0) -> Forgery:
    import cv2

    h, w = img.shape[:2]
    src_mask = _blob_mask(h, w, rng, area=(0.02, 0.06))
    y0, y1, x0, x1 = _bbox(src_mask)
    patch = img[y0:y1, x0:x1]
    pm = src_mask[y0:y1, x0:x1].astype(np.uint8) * 255
    if angle or scale != 1.0:
        ph, pw = patch.shape[:2]
        M = cv2.getRotationMatrix2D((pw / 2, ph / 2), angle, scale)
        cos, sin = abs(M[0, 0]), abs(M[0, 1])
        nw, nh = int(ph * sin + pw * cos) + 2, int(ph * cos + pw * sin) + 2
        M[0, 2] += nw / 2 - pw / 2
        M[1, 2] += nh / 2 - ph / 2
        patch = cv2.warpAffine(patch, M, (nw, nh), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        pm = cv2.warpAffine(pm, M, (nw, nh), flags=cv2.INTER_NEAREST)
    pmask = pm > 127
    full = np.zeros((h, w), bool)
    ph, pw = pmask.shape
    if ph >= h or pw >= w:
        raise ValueError("region does not fit")
    pos = None
    for _ in range(80):
        ty, tx = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
        if not src_mask[ty:ty + ph, tx:tx + pw][pmask].any():
            pos = (ty, tx)
            break
    if pos is None:
        raise ValueError("no free place for the copy")
    ty, tx = pos
    out = img.copy()
    out[ty:ty + ph, tx:tx + pw][pmask] = patch[pmask]
    full[ty:ty + ph, tx:tx + pw] = pmask
    return Forgery(out, full, "copy_move", {"angle": angle, "scale": scale,
                                            "source_mask": src_mask})


def removal(img: np.ndarray, rng: np.random.Generator) -> Forgery:
    import cv2

    h, w = img.shape[:2]
    m = _blob_mask(h, w, rng, area=(0.01, 0.04))
    k = np.ones((5, 5), np.uint8)
    m8 = cv2.dilate(m.astype(np.uint8) * 255, k)
    out = cv2.inpaint(np.ascontiguousarray(img), m8, 5, cv2.INPAINT_TELEA)
    return Forgery(out, m8 > 0, "removal", {"method": "telea"})


def resample(img: np.ndarray, rng: np.random.Generator) -> Forgery:
    import cv2

    h, w = img.shape[:2]
    m = _blob_mask(h, w, rng, area=(0.04, 0.12))
    y0, y1, x0, x1 = _bbox(m)
    s = float(rng.uniform(1.1, 1.4))
    patch = img[y0:y1, x0:x1]
    big = cv2.resize(patch, None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
    oy, ox = (big.shape[0] - patch.shape[0]) // 2, (big.shape[1] - patch.shape[1]) // 2
    crop = big[oy:oy + patch.shape[0], ox:ox + patch.shape[1]]
    out = img.copy()
    region = m[y0:y1, x0:x1]
    out[y0:y1, x0:x1][region] = crop[region]
    return Forgery(out, m, "resample", {"scale": s})


def jpeg_bytes(img: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=int(quality), subsampling=2)
    return buf.getvalue()


def decode_jpeg(b: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))


def double_jpeg_splice(host: np.ndarray, donor: np.ndarray, rng: np.random.Generator,
                       q1: int, q2: int, aligned: bool = True) -> Forgery:
    """Host saved at q1 and decoded; a donor region (never JPEG'd at q1) pasted; saved at q2.

    With ``aligned=False`` the first-compressed host is cropped by a random (dy, dx) in 1..7
    before the paste, so its 8x8 grid no longer lines up with the second compression.
    """
    first = decode_jpeg(jpeg_bytes(host, q1))
    shift = (0, 0)
    if not aligned:
        shift = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        first = first[shift[0]:, shift[1]:]
    f = splice(first, donor, rng)
    b = jpeg_bytes(f.image, q2)
    return Forgery(decode_jpeg(b), f.mask, "double_jpeg_splice",
                   {"q1": q1, "q2": q2, "aligned": aligned, "shift": list(shift)}, jpeg_bytes=b)
