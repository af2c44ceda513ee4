"""DWT-DCT and DWT-DCT-SVD invisible watermarks, as embedded by the Stable Diffusion scripts.

The Stable Diffusion reference scripts mark their outputs with the ``invisible-watermark``
package (PyPI ``invisible-watermark``, module ``imwatermark``, version 0.2.0). This module is an
independent, vectorised re-implementation of its two classical methods, written from a reading of
that package's algorithm. Both methods work the same way up to the per-block rule:

1. The image, in OpenCV BGR channel order, is converted to YUV with ``cv2.cvtColor``. The pixel
   data type matters: uint8 input gives U centred on 128 (rounded, clipped to 0..255); float32
   input gives U centred on 0.5 (unrounded, signed). Callers chose differently (see PAYLOADS), so
   the decoder can read an image either way (a "reading").
2. Only the U channel carries the mark. (The package's default scales are [0, 36, 36] for dwtDct
   and [0, 36, 0] for dwtDctSvd, indexed Y, U, V, but its channel loop stops after index 1, so the
   V channel is never touched.) The top-left crop whose height and width are multiples of 4 is
   used.
3. One level of the Haar DWT; only the approximation band LL (half size) is used. LL is cut into
   4x4 blocks, row-major; block number n carries payload bit ``n mod L`` (L = payload length), so
   every bit is repeated over many blocks. Blocks that do not fit entirely are left alone.
4. Per block, with step ``scale`` = 36, a value v is quantised to ``(floor(v/scale) + 0.25 + 0.5*bit)
   * scale``, which puts it a quarter step into the lower (bit 0) or upper (bit 1) half of its cell:
   * ``dwtDct``: despite the name no DCT is applied. v is the LL coefficient of largest magnitude
     among the block's 16 values except the first (top-left) one; its magnitude is quantised and
     its sign kept.
   * ``dwtDctSvd``: v is the largest singular value of the block's 4x4 orthonormal DCT-II.
5. Inverse Haar DWT and YUV -> BGR. Quirk kept for fidelity: the package passes the two detail
   bands back in swapped order (horizontal <-> vertical), which changes chroma detail without
   affecting the mark; ``embed(..., swap_details=True)`` reproduces it.

Decoding repeats steps 1-3, reads each block's vote ``(|v| mod scale) > scale/2``, averages the
votes of the blocks that carry the same bit, and calls a bit 1 when ``mean * 255 > 127`` (the
package's rule, so a tie reads as 1). The bit accuracy against a known payload is the score.

Everything here is pure numpy / PyWavelets / OpenCV, vectorised over blocks. Heavy modules are
imported inside the functions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

SCALE = 36.0
"""Quantisation step on the U-channel LL band (the package's default for both methods)."""

BLOCK = 4
"""Block size on the LL band (the package's default)."""

METHODS = ("dwtDct", "dwtDctSvd")

READINGS = {
    "u8_bgr": "uint8 pixels in BGR order (cv2.imread-style; what the SD 1.x/2.x scripts encode)",
    "f32_bgr": "float32 pixels in BGR order (SDXL: generative-models, diffusers >= 0.27)",
    "f32_rgb": "float32 pixels in RGB order read as BGR (SDXL: diffusers 0.18 to 0.26)",
}
"""How pixels are handed to the YUV conversion. The mark only decodes under the reading its
embedder used, because the U channel differs (offset, rounding, channel order)."""


def bits_from_bytes(data: bytes) -> tuple[int, ...]:
    """Most-significant bit first, as the package's ``set_watermark('bytes', ...)`` does."""
    return tuple(int(b) for b in np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8)))


def bits_from_int(value: int) -> tuple[int, ...]:
    """``[int(c) for c in bin(value)[2:]]``, as the SDXL code builds its bit list."""
    return tuple(int(c) for c in bin(int(value))[2:])


@dataclass(frozen=True)
class KnownPayload:
    key: str
    name: str
    bits: tuple[int, ...]
    data: bytes | None  # what the source passes to set_watermark('bytes', ...), if bytes
    method: str
    readings: tuple[str, ...]
    source: str
    meaning: str

    @property
    def length(self) -> int:
        return len(self.bits)


SDXL_MESSAGE = 0b101100111110110010010000011110111011000110011110  # = 0xB3EC907BB19E

PAYLOADS: tuple[KnownPayload, ...] = (
    KnownPayload(
        key="sd1",
        name='Stable Diffusion 1.x ("StableDiffusionV1")',
        bits=bits_from_bytes(b"StableDiffusionV1"),
        data=b"StableDiffusionV1",
        method="dwtDct",
        readings=("u8_bgr",),
        source=("CompVis/stable-diffusion scripts/txt2img.py and img2img.py: wm = "
                "\"StableDiffusionV1\", set_watermark('bytes', ...), put_watermark() converts the "
                "uint8 PIL image RGB->BGR and calls encode(img, 'dwtDct')"),
        meaning="the Stable Diffusion 1.x reference scripts embed this mark in every image they save",
    ),
    KnownPayload(
        key="sd2",
        name='Stable Diffusion 2.x ("SDV2")',
        bits=bits_from_bytes(b"SDV2"),
        data=b"SDV2",
        method="dwtDct",
        readings=("u8_bgr",),
        source=("Stability-AI/stablediffusion scripts/txt2img.py (and img2img, gradio/streamlit "
                "demos): wm = \"SDV2\", same put_watermark() on uint8 BGR, 'dwtDct'"),
        meaning="the Stable Diffusion 2.x reference scripts embed this mark in every image they save",
    ),
    KnownPayload(
        key="sdxl",
        name="Stable Diffusion XL (48-bit 0xB3EC907BB19E)",
        bits=bits_from_int(SDXL_MESSAGE),
        data=None,
        method="dwtDct",
        readings=("u8_bgr", "f32_bgr", "f32_rgb"),
        source=("Stability-AI/generative-models sgm/inference/helpers.py and "
                "scripts/demo/streamlit_helpers.py: WATERMARK_MESSAGE = 0b1011...0011110, "
                "set_watermark('bits', ...), encode() on float32 BGR in [0, 255], 'dwtDct' "
                "(BGR order since generative-models PR #25); huggingface/diffusers "
                "StableDiffusionXLWatermarker copies the message (float32 RGB order until PR #7013, "
                "BGR from diffusers 0.27); generative-models scripts/demo/detect.py decodes it "
                "from uint8 BGR"),
        meaning=("the Stable Diffusion XL reference code (Stability AI's generative-models and the "
                 "diffusers SDXL pipelines) embeds this mark by default"),
    ),
)
"""Every known payload, with where it comes from. Keep this the only list."""


# --------------------------------------------------------------------------- thresholds
FPR_TARGET_PER_PAYLOAD = 1e-4
"""Wanted chance that one unmarked image passes any test of one payload."""


def binomial_tail(n: int, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return sum(math.comb(n, j) for j in range(k, n + 1)) / 2.0**n


@functools.lru_cache(maxsize=256)
def min_matching_bits(n: int, alpha: float) -> int:
    """Smallest k with P(X >= k) <= alpha under the no-watermark model (bits are fair coins).
    Cached: the detector asks for the same few (length, alpha) pairs on every image."""
    for k in range(n + 1):
        if binomial_tail(n, k) <= alpha:
            return k
    return n + 1


def payload_tests(payload: KnownPayload) -> list[tuple[str, str]]:
    """(method, reading) pairs tried for a payload: its own method under each reading its
    embedders used, plus the other method under the plain uint8 reading."""
    tests = [(payload.method, r) for r in payload.readings]
    for m in METHODS:
        if m != payload.method:
            tests.append((m, "u8_bgr"))
    return tests


def threshold_for(payload: KnownPayload) -> dict:
    """Detection threshold for one payload: Bonferroni split of the per-payload FPR target
    over its tests, then the binomial tail for its length."""
    n_tests = len(payload_tests(payload))
    alpha = FPR_TARGET_PER_PAYLOAD / n_tests
    k = min_matching_bits(payload.length, alpha)
    return {"bits": payload.length, "min_matching_bits": k, "accuracy": k / payload.length,
            "tests": n_tests, "alpha_per_test": alpha,
            "binomial_tail_per_test": binomial_tail(payload.length, k)}


# --------------------------------------------------------------------------- core transforms
def _dct_matrix(n: int = BLOCK) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d


def _as_pixels(image: np.ndarray, reading: str, *, rgb_input: bool) -> np.ndarray:
    """Hand pixels to the YUV conversion the way an embedder did. ``image`` is uint8 HxWx3."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {a.shape}")
    if reading not in READINGS:
        raise ValueError(f"unknown reading {reading!r}")
    bgr_order = reading.endswith("_bgr")
    if rgb_input == bgr_order:  # need to reverse channels
        a = a[..., ::-1]
    if reading.startswith("f32"):
        return np.ascontiguousarray(a, dtype=np.float32)
    return np.ascontiguousarray(a, dtype=np.uint8)


def block_grid(height: int, width: int) -> tuple[int, int]:
    """(rows, cols) of 4x4 LL blocks for an image of this size."""
    ll_h = (height // 4 * 4) // 2
    ll_w = (width // 4 * 4) // 2
    return ll_h // BLOCK, ll_w // BLOCK


def n_blocks(height: int, width: int) -> int:
    r, c = block_grid(height, width)
    return r * c


def _u_channel_ll(pixels: np.ndarray):
    """YUV conversion, U channel crop, Haar DWT. Returns (yuv, crop_hw, cA, (cH, cV, cD))."""
    import cv2
    import pywt

    yuv = cv2.cvtColor(pixels, cv2.COLOR_BGR2YUV)
    h4, w4 = pixels.shape[0] // 4 * 4, pixels.shape[1] // 4 * 4
    ca, details = pywt.dwt2(yuv[:h4, :w4, 1], "haar")
    return yuv, (h4, w4), ca, details


def _blocks(ca: np.ndarray) -> np.ndarray:
    """(N, 4, 4) view-copy of the whole 4x4 blocks of the LL band, in row-major block order."""
    br, bc = ca.shape[0] // BLOCK, ca.shape[1] // BLOCK
    b = ca[: br * BLOCK, : bc * BLOCK].reshape(br, BLOCK, bc, BLOCK).swapaxes(1, 2)
    return b.reshape(br * bc, BLOCK, BLOCK)


def _unblocks(ca: np.ndarray, blocks: np.ndarray) -> None:
    br, bc = ca.shape[0] // BLOCK, ca.shape[1] // BLOCK
    ca[: br * BLOCK, : bc * BLOCK] = (
        blocks.reshape(br, bc, BLOCK, BLOCK).swapaxes(1, 2).reshape(br * BLOCK, bc * BLOCK))


def _top_singular(c: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    """Largest singular value of each 4x4 matrix: the square root of the largest eigenvalue of
    its Gram matrix (symmetric eigensolver: about 2x faster than a batched SVD; the two agree
    to ~1e-15)."""
    out = np.empty(c.shape[0], dtype=c.dtype)
    for s in range(0, c.shape[0], chunk):
        b = c[s:s + chunk]
        ev = np.linalg.eigvalsh(np.swapaxes(b, 1, 2) @ b)[:, -1]
        out[s:s + chunk] = np.sqrt(np.maximum(ev, 0.0))
    return out


_HAAR = 0.7071067811865476
"""pywt's Haar analysis low-pass tap (1/sqrt(2) as a double)."""


def haar_ll(u: np.ndarray) -> np.ndarray:
    """The LL band of a one-level Haar DWT, bit-identical to ``pywt.dwt2(u, "haar")[0]`` for
    even-sized input (same products and sums in the same precision: float64 for integer input,
    float32 for float32), without computing the three detail bands (3-8x faster)."""
    x = np.asarray(u)
    if x.dtype != np.float32:
        x = x.astype(np.float64)
    c = x.dtype.type(_HAAR)
    r = x[0::2] * c + x[1::2] * c
    return r[:, 0::2] * c + r[:, 1::2] * c


def _block_values(blocks: np.ndarray, method: str) -> np.ndarray:
    """The per-block value the method quantises (magnitude)."""
    if method == "dwtDct":
        flat = blocks.reshape(blocks.shape[0], BLOCK * BLOCK)
        return np.abs(flat[:, 1:]).max(axis=1)  # |the largest-magnitude AC term|
    if method == "dwtDctSvd":  # the top singular value of D B D^T (D orthonormal) is B's
        return _top_singular(blocks)
    raise ValueError(f"unknown method {method!r}")


STRIP_ROWS = 1024
"""Rows converted at a time when decoding (a multiple of 8, so strips hold whole LL blocks). The
YUV conversion and the Haar DWT are local, so strips give exactly the full-image result while
bounding memory on very large images."""


def _votes_from_ll(ca: np.ndarray, method: str, scale: float) -> np.ndarray:
    vals = _block_values(_blocks(ca), method)
    return (np.mod(vals, scale) > 0.5 * scale).astype(np.uint8)


def block_votes(image: np.ndarray, method: str, reading: str = "u8_bgr", *,
                rgb_input: bool = True, scale: float = SCALE,
                strip_rows: int = STRIP_ROWS) -> np.ndarray:
    """0/1 vote of every 4x4 LL block (row-major) of a uint8 HxWx3 image under one reading."""
    return votes_for_tests(image, [(method, reading)], rgb_input=rgb_input, scale=scale,
                           strip_rows=strip_rows)[(method, reading)]


def votes_for_tests(image: np.ndarray, tests, *, rgb_input: bool = True, scale: float = SCALE,
                    strip_rows: int = STRIP_ROWS) -> dict[tuple[str, str], np.ndarray]:
    """:func:`block_votes` of several (method, reading) tests in one pass over the image: each
    reading's U-channel LL band is computed once per strip and shared by the methods."""
    import cv2

    tests = list(dict.fromkeys(tests))
    for method, reading in tests:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}")
        if reading not in READINGS:
            raise ValueError(f"unknown reading {reading!r}")
    if strip_rows <= 0 or strip_rows % 8:
        raise ValueError("strip_rows must be a positive multiple of 8")
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {a.shape}")
    h4, w4 = a.shape[0] // 4 * 4, a.shape[1] // 4 * 4
    out: dict[tuple[str, str], list] = {t: [np.zeros(0, dtype=np.uint8)] for t in tests}
    readings = list(dict.fromkeys(r for _m, r in tests))
    if w4 == 0:  # narrower than 4 pixels: no block (OpenCV refuses an empty strip)
        h4 = 0
    for y in range(0, h4, strip_rows):
        strip = np.ascontiguousarray(a[y:min(y + strip_rows, h4), :w4], dtype=np.uint8)
        f32 = None
        for reading in readings:
            # the embedder handed pixels in BGR (or RGB) order to a BGR->YUV conversion: on our
            # array that is BGR2YUV when the orders agree, RGB2YUV otherwise (OpenCV runs the
            # same code with the channels swapped: no reversed copy needed)
            same_order = reading.endswith("_bgr") != rgb_input
            code = cv2.COLOR_BGR2YUV if same_order else cv2.COLOR_RGB2YUV
            if reading.startswith("f32"):
                f32 = strip.astype(np.float32) if f32 is None else f32
                part = f32
            else:
                part = strip
            ca = haar_ll(cv2.cvtColor(part, code)[:, :, 1])
            for method, r in tests:
                if r == reading:
                    out[(method, r)].append(_votes_from_ll(ca, method, scale))
    return {t: np.concatenate(v) for t, v in out.items()}


def aggregate(votes: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Average the votes of blocks n with n mod length == i. Returns (bits, mean vote)."""
    if votes.size < length:
        raise ValueError(f"{votes.size} blocks cannot carry {length} bits")
    idx = np.arange(votes.size) % length
    mean = np.bincount(idx, weights=votes, minlength=length) / np.bincount(idx, minlength=length)
    return (mean * 255 > 127).astype(np.uint8), mean


def decode(image: np.ndarray, length: int, method: str = "dwtDct", reading: str = "u8_bgr",
           *, rgb_input: bool = True) -> np.ndarray:
    """Decode ``length`` bits from a uint8 HxWx3 image (RGB unless ``rgb_input=False``)."""
    return aggregate(block_votes(image, method, reading, rgb_input=rgb_input), length)[0]


def bit_accuracy(decoded: np.ndarray, payload_bits) -> float:
    p = np.asarray(payload_bits, dtype=np.uint8)
    return float(np.mean(np.asarray(decoded, dtype=np.uint8) == p))


# --------------------------------------------------------------------------- embedding
def _quantise(v: np.ndarray, bits: np.ndarray, scale: float) -> np.ndarray:
    return (np.floor_divide(v, scale) + 0.25 + 0.5 * bits) * scale


def embed(image: np.ndarray, bits, method: str = "dwtDct", *, scale: float = SCALE,
          swap_details: bool = True) -> np.ndarray:
    """Embed ``bits`` the way the reference encoder does, on an image in OpenCV BGR order.

    The image's dtype picks the path exactly as the reference package does: uint8 (the SD 1.x/2.x
    scripts) or float32 in [0, 255] (SDXL code). Returns the same dtype, BGR. Like the reference,
    the modified U channel is written back with a plain numpy cast (uint8: truncation) and the
    detail bands are swapped on reconstruction unless ``swap_details=False``.
    """
    import cv2
    import pywt

    bgr = np.ascontiguousarray(image)
    if bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {bgr.shape}")
    bits = np.asarray(bits, dtype=np.uint8).ravel()
    if bits.size == 0:
        raise ValueError("empty payload")
    nb = n_blocks(bgr.shape[0], bgr.shape[1])
    if nb < bits.size:
        raise ValueError(f"image has {nb} blocks, fewer than the {bits.size} payload bits")
    yuv, (h4, w4), ca, (ch, cv, cd) = _u_channel_ll(bgr)
    blocks = _blocks(ca)
    n = blocks.shape[0]
    b = bits[np.arange(n) % bits.size].astype(np.float64)
    if method == "dwtDct":
        flat = blocks.reshape(n, BLOCK * BLOCK)
        rows = np.arange(n)
        pos = np.argmax(np.abs(flat[:, 1:]), axis=1) + 1
        val = flat[rows, pos]
        sign = np.where(val >= 0, 1.0, -1.0).astype(ca.dtype)
        flat[rows, pos] = sign * _quantise(np.abs(val).astype(np.float64), b, scale)
        blocks = flat.reshape(n, BLOCK, BLOCK)
    elif method == "dwtDctSvd":
        d = _dct_matrix().astype(ca.dtype)
        u, s, vt = np.linalg.svd(d @ blocks @ d.T)
        s[:, 0] = _quantise(s[:, 0].astype(np.float64), b, scale)
        c = (u * s[:, None, :]) @ vt
        blocks = (d.T @ c @ d).astype(ca.dtype)
    else:
        raise ValueError(f"unknown method {method!r}")
    _unblocks(ca, blocks)
    rec = pywt.idwt2((ca, (cv, ch, cd) if swap_details else (ch, cv, cd)), "haar")
    with np.errstate(invalid="ignore", over="ignore"):
        yuv[:h4, :w4, 1] = rec
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)


def embed_like(image_rgb: np.ndarray, payload: KnownPayload, reading: str | None = None,
               method: str | None = None) -> np.ndarray:
    """Simulate a known pipeline on a uint8 RGB image and return the uint8 RGB result it saves.

    ``u8_bgr``: SD 1.x/2.x ``put_watermark`` (uint8 RGB->BGR, encode, back to RGB).
    ``f32_bgr``: generative-models SDXL (float32 BGR in [0, 255], encode, clamp to [0, 1],
    ``(255 * x).astype(uint8)``).
    ``f32_rgb``: diffusers < 0.27 SDXL (float32 RGB handed over as if BGR, clamp, ``round()``).
    """
    reading = reading or payload.readings[0]
    method = method or payload.method
    rgb = np.ascontiguousarray(image_rgb, dtype=np.uint8)
    if reading == "u8_bgr":
        return np.ascontiguousarray(embed(rgb[..., ::-1], payload.bits, method)[..., ::-1])
    if reading == "f32_bgr":
        out = embed(rgb[..., ::-1].astype(np.float32), payload.bits, method)[..., ::-1]
        x = np.clip(out / np.float32(255), 0, 1).astype(np.float32)
        return np.ascontiguousarray((np.float32(255.0) * x).astype(np.uint8))
    if reading == "f32_rgb":
        out = embed(rgb.astype(np.float32), payload.bits, method)
        x = np.clip(out / np.float32(255), 0, 1).astype(np.float32)
        return np.ascontiguousarray(np.round(x * np.float32(255)).astype(np.uint8))
    raise ValueError(f"unknown reading {reading!r}")


# --------------------------------------------------------------------------- scoring
def score_image(image_rgb: np.ndarray, payloads=PAYLOADS) -> dict:
    """Decode every (payload, method, reading) test on a uint8 RGB image.

    Returns ``{"blocks": N, "results": [...], "skipped": [...]}``; each result has payload key,
    method, reading, bits, matching bits, accuracy, threshold and ``detected``.
    """
    h, w = image_rgb.shape[:2]
    nb = n_blocks(h, w)
    results, skipped = [], []
    todo = [p for p in payloads if nb >= p.length]
    votes_cache = votes_for_tests(image_rgb, [t for p in todo for t in payload_tests(p)]) \
        if todo else {}
    for p in payloads:
        if nb < p.length:
            skipped.append({"payload": p.key, "bits": p.length, "blocks": nb})
            continue
        thr = threshold_for(p)
        for method, reading in payload_tests(p):
            key = (method, reading)
            bits, _ = aggregate(votes_cache[key], p.length)
            match = int(np.sum(bits == np.asarray(p.bits, dtype=np.uint8)))
            results.append({"payload": p.key, "method": method, "reading": reading,
                            "bits": p.length, "matching_bits": match,
                            "accuracy": match / p.length,
                            "threshold": thr["accuracy"],
                            "detected": match >= thr["min_matching_bits"]})
    return {"blocks": nb, "results": results, "skipped": skipped}
