"""Small generators of test inputs (made in the tests; no third-party data)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def smooth_image(h=96, w=128, seed=0) -> np.ndarray:
    """A natural-ish RGB image: smooth gradients plus mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 80 * np.sin(x / 17.0) * np.cos(y / 23.0)
    g = 128 + 60 * np.cos((x + y) / 29.0)
    b = 110 + 50 * np.sin(y / 11.0)
    img = np.stack([r, g, b], -1) + rng.normal(0, 3, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def save(arr: np.ndarray, path: Path, **kw) -> Path:
    Image.fromarray(arr).save(path, **kw)
    return path


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def png_bomb(path: Path, w=100_000, h=100_000) -> Path:
    """A tiny PNG whose header claims w x h pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
                     + png_chunk(b"IEND", b""))
    return path


def png_deflate_bomb(path: Path, w=12_000, h=12_000) -> Path:
    """A PNG of w x h black pixels that really decompresses (432 MB raw) from a small file."""
    raw_row = b"\x00" + b"\x00" * (w * 3)
    co = zlib.compressobj(9)
    parts = [co.compress(raw_row) for _ in range(h)]
    parts.append(co.flush())
    idat = b"".join(parts)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
                     + png_chunk(b"IEND", b""))
    return path


def jpeg_size_bomb(path: Path, w=65_000, h=65_000) -> Path:
    """A real small JPEG whose SOF0 header is rewritten to claim w x h."""
    import io

    buf = io.BytesIO()
    Image.fromarray(smooth_image(16, 16)).save(buf, "JPEG", quality=90)
    b = bytearray(buf.getvalue())
    i = b.index(b"\xff\xc0")
    b[i + 5:i + 7] = struct.pack(">H", h)
    b[i + 7:i + 9] = struct.pack(">H", w)
    path.write_bytes(bytes(b))
    return path


def strip_timings(obj):
    """A report (or any JSON value) without its run-dependent fields (elapsed_s, created,
    timings_s), to compare two runs."""
    if isinstance(obj, dict):
        return {k: strip_timings(v) for k, v in obj.items()
                if k not in ("elapsed_s", "created", "timings_s")}
    if isinstance(obj, list):
        return [strip_timings(v) for v in obj]
    return obj
