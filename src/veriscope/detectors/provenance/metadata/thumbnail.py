"""Compare an embedded preview thumbnail with the main image (private helper).

Cameras write a small preview (EXIF IFD1, usually a 160x120 JPEG) made from the same pixels as
the main image. Some editors rewrite the main image but keep the old thumbnail, so a preview
that shows a *different picture* means the main image was changed after capture.

Similarity is the normalised cross-correlation (Pearson r) of the two grayscale images after
both are brought to a common small grid and lightly blurred. Layout differences are absorbed by
trying every plausible placement (stretch, letterbox with detected or computed bars, centre
crop) and the four rotations plus the EXIF orientation, and keeping the best.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np

GRID = 48
"""Long side, in pixels, of the grid on which thumbnail and image are compared."""

MISMATCH_R = 0.75
"""Below this best-placement correlation the thumbnail is called a different picture.

Chosen between the two populations measured on /work/shared/data/exif-samples-camera-jpegs
(see docs/detectors/metadata.md): a camera's own preview vs its image scored 0.938 at worst
(median 0.998), a preview vs a *different* photo scored at most 0.694 (mean 0.07). The line sits
nearer the different-photo side because a false alarm here is a high-severity claim."""

LOCAL_MISMATCH_R = 0.50
"""A 3x3 block whose correlation falls below this, while the whole matches, marks a local change.
Camera files measured 0.836 at worst (median 0.985); pasting a foreign patch over 5 % of a
photo already brought its block to 0.39."""

WEAK_MATCH_R = 0.90
"""Between MISMATCH_R and this, the match is reported as weak (info only, no score)."""

MIN_THUMB_SIDE = 16
MIN_THUMB_STD = 2.0
MAX_THUMB_BYTES = 2 * 1024 * 1024


def extract_ifd1_thumbnail(exif_raw: bytes | None, ifd1: dict):
    """Decode the IFD1 thumbnail as a PIL image, or return (None, reason)."""
    from PIL import Image

    if not exif_raw or not ifd1:
        return None, "no IFD1 thumbnail"
    try:
        if 0x201 in ifd1:
            off, ln = int(ifd1[0x201]), int(ifd1.get(0x202, 0))
            if off <= 0 or ln <= 0 or ln > MAX_THUMB_BYTES or off + ln > len(exif_raw):
                return None, "IFD1 thumbnail pointer is out of range"
            blob = exif_raw[off:off + ln]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im = Image.open(io.BytesIO(blob))
                if im.width * im.height > 4_000_000:
                    return None, "IFD1 thumbnail is implausibly large"
                im.load()
            return im, None
        if ifd1.get(0x103) == 1 and 0x111 in ifd1:  # uncompressed strips
            w, h = int(ifd1.get(0x100, 0)), int(ifd1.get(0x101, 0))
            photo = ifd1.get(0x106)
            spp = int(ifd1.get(0x115, 3))
            offs = ifd1[0x111]
            offs = offs if isinstance(offs, (tuple, list)) else (offs,)
            counts = ifd1.get(0x117, ())
            counts = counts if isinstance(counts, (tuple, list)) else (counts,)
            if photo != 2 or spp != 3 or not (0 < w <= 1024 and 0 < h <= 1024):
                return None, "uncompressed IFD1 thumbnail in an unsupported layout"
            data = b"".join(exif_raw[int(o):int(o) + int(c)] for o, c in zip(offs, counts, strict=False))
            if len(data) < w * h * 3:
                return None, "uncompressed IFD1 thumbnail is truncated"
            return Image.frombytes("RGB", (w, h), data[:w * h * 3]), None
    except (OSError, ValueError, struct.error, TypeError, SyntaxError) as e:
        return None, f"IFD1 thumbnail cannot be decoded ({type(e).__name__})"
    except Exception as e:  # Pillow raises many types on broken JPEG data
        return None, f"IFD1 thumbnail cannot be decoded ({type(e).__name__})"
    return None, "no IFD1 thumbnail"


def decode_jpeg_blob(blob: bytes | None):
    from PIL import Image

    if not blob or len(blob) > MAX_THUMB_BYTES:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(blob))
            if im.width * im.height > 4_000_000:
                return None
            im.load()
        return im
    except Exception:
        return None


def _gray(im) -> np.ndarray:
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")
    a = np.asarray(im.convert("L"), dtype=np.float32)
    return a


def _resize(a: np.ndarray, w: int, h: int) -> np.ndarray:
    from PIL import Image

    w, h = max(1, int(round(w))), max(1, int(round(h)))
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize(
        (w, h), Image.Resampling.BOX if a.shape[1] >= w else Image.Resampling.BILINEAR),
        dtype=np.float32)


def _blur(a: np.ndarray) -> np.ndarray:
    k = np.array([1, 2, 1], dtype=np.float32) / 4.0
    p = np.pad(a, 1, mode="edge")
    p = k[0] * p[:-2, :] + k[1] * p[1:-1, :] + k[2] * p[2:, :]
    return k[0] * p[:, :-2] + k[1] * p[:, 1:-1] + k[2] * p[:, 2:]


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if den <= 1e-6:
        return 0.0
    return float((a * b).sum() / den)


def _content_box(t: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the thumbnail after trimming flat border bars."""
    h, w = t.shape

    def flat(line):
        return float(line.std()) < 4.0

    top, bottom, left, right = 0, h, 0, w
    ref = t
    while top < h // 3 and flat(ref[top, :]) and abs(float(ref[top, :].mean()) -
                                                    float(ref[0, :].mean())) < 8:
        top += 1
    while bottom > h - h // 3 and flat(ref[bottom - 1, :]) and abs(
            float(ref[bottom - 1, :].mean()) - float(ref[h - 1, :].mean())) < 8:
        bottom -= 1
    while left < w // 3 and flat(ref[top:bottom, left]) and abs(
            float(ref[top:bottom, left].mean()) - float(ref[top:bottom, 0].mean())) < 8:
        left += 1
    while right > w - w // 3 and flat(ref[top:bottom, right - 1]) and abs(
            float(ref[top:bottom, right - 1].mean()) - float(ref[top:bottom, w - 1].mean())) < 8:
        right -= 1
    return top, bottom, left, right


def _variants(main: np.ndarray, orientation, thumb_shape) -> list[tuple[str, np.ndarray]]:
    """Orientations of the main image worth trying.

    Cameras store thumbnail and image in the same (sensor) orientation, so "as stored" is the
    normal case. The EXIF orientation (mirrors included) covers software that rotated the
    pixels and the preview differently; a quarter turn is also tried when the image and the
    preview disagree on portrait/landscape. Trying fewer variants keeps chance matches of
    different pictures low.
    """
    out = [("as stored", main)]
    try:
        o = int(orientation) if orientation is not None else 1
    except (TypeError, ValueError):
        o = 1
    ops = {2: lambda a: a[:, ::-1], 3: lambda a: np.rot90(a, 2), 4: lambda a: a[::-1, :],
           5: lambda a: a.T, 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).T,
           8: lambda a: np.rot90(a, 1)}
    if o in ops:
        out.append((f"EXIF orientation {o}", ops[o](main)))
    th, tw = thumb_shape
    mh, mw = main.shape
    if (tw > th * 1.05 and mh > mw * 1.05) or (th > tw * 1.05 and mw > mh * 1.05):
        if o not in (6, 8):
            out += [("rotated 90", np.rot90(main, 1)), ("rotated 270", np.rot90(main, -1))]
    return out


def _placements(t: np.ndarray, m: np.ndarray):
    """Yield (name, thumb region, main region) pairs to compare, on roughly the thumb grid."""
    th, tw = t.shape
    mh, mw = m.shape
    # 1. stretch whole image onto whole thumbnail
    yield "stretch", t, _resize(m, tw, th)
    # 2. letterbox: bars detected in the thumbnail
    top, bottom, left, right = _content_box(t)
    if (bottom - top, right - left) != (th, tw) and bottom - top >= 8 and right - left >= 8:
        yield "letterbox (detected bars)", t[top:bottom, left:right], \
            _resize(m, right - left, bottom - top)
    # 3. letterbox computed from the aspect ratios (fit inside, centred)
    s = min(tw / mw, th / mh)
    fw, fh = mw * s, mh * s
    if abs(fw - tw) >= 2 or abs(fh - th) >= 2:
        x0, y0 = int(round((tw - fw) / 2)), int(round((th - fh) / 2))
        x1, y1 = x0 + int(round(fw)), y0 + int(round(fh))
        if x1 - x0 >= 8 and y1 - y0 >= 8:
            yield "letterbox (computed)", t[y0:y1, x0:x1], _resize(m, x1 - x0, y1 - y0)
    # 4. crop of the main image to the thumbnail's aspect ratio, at five positions along the
    #    long axis (cameras crop from the centre or from one edge)
    ta, ma = tw / th, mw / mh
    if abs(ta / ma - 1) > 0.02:
        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
            if ma > ta:
                cw = max(1, int(round(mh * ta)))
                x0 = int(round((mw - cw) * frac))
                crop = m[:, x0:x0 + cw]
            else:
                ch = max(1, int(round(mw / ta)))
                y0 = int(round((mh - ch) * frac))
                crop = m[y0:y0 + ch, :]
            yield f"crop at {frac:.2f}", t, _resize(crop, tw, th)


def _to_grid(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    s = GRID / max(h, w)
    if s < 1:
        a = _resize(a, w * s, h * s)
    return _blur(a)


_BLOCK_NAMES = (("top left", "top", "top right"), ("left", "centre", "right"),
                ("bottom left", "bottom", "bottom right"))


def compare(thumb_im, main_im, orientation=None) -> dict:
    """Best normalised correlation between the thumbnail and the main image over placements."""
    t = _gray(thumb_im)
    if min(t.shape) < MIN_THUMB_SIDE:
        return {"comparable": False, "reason": f"thumbnail too small ({t.shape[1]}x{t.shape[0]})"}
    if float(t.std()) < MIN_THUMB_STD:
        return {"comparable": False, "reason": "thumbnail is blank (a flat colour)"}
    # main image reduced once to a few times the thumbnail size (area average)
    m0 = _gray(main_im)
    mh, mw = m0.shape
    s = min(1.0, 4 * max(t.shape) / max(mh, mw))
    if s < 1:
        m0 = _resize(m0, mw * s, mh * s)
    best = {"r": -2.0}
    for vname, m in _variants(m0, orientation, t.shape):
        for pname, tr, mr in _placements(t, m):
            if tr.shape != mr.shape or min(tr.shape) < 6:
                continue
            a, b = _to_grid(tr), _to_grid(mr)
            r = _ncc(a, b)
            if r > best["r"]:
                best = {"r": r, "transform": vname, "placement": pname, "a": a, "b": b}
    if best["r"] < -1.5:
        return {"comparable": False, "reason": "no placement could be compared"}
    a, b = best.pop("a"), best.pop("b")
    # local check: worst 3x3 block correlation on the best placement
    h, w = a.shape
    blocks = []
    for i in range(3):
        for j in range(3):
            ys, ye = i * h // 3, (i + 1) * h // 3
            xs, xe = j * w // 3, (j + 1) * w // 3
            pa, pb = a[ys:ye, xs:xe], b[ys:ye, xs:xe]
            if pa.std() > 3 and pb.std() > 3:
                blocks.append((_ncc(pa, pb), i, j))
    best.update({"comparable": True, "similarity": round(best.pop("r"), 4),
                 "min_block_similarity": round(min(blocks)[0], 4) if blocks else None,
                 "worst_block": _BLOCK_NAMES[min(blocks)[1]][min(blocks)[2]] if blocks else None,
                 "thumb_size": f"{thumb_im.width}x{thumb_im.height}",
                 "threshold": MISMATCH_R})
    return best
