"""Tiny test videos written with PyAV, and byte-level edits of their MP4 boxes.

FFmpeg's MP4 muxer puts ``moov`` after ``mdat`` (no faststart), so the movie header can be
rebuilt with other sizes without moving the sample data its chunk offsets point to.
"""

from __future__ import annotations

import fractions
import struct
from pathlib import Path

import av
import numpy as np

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta", b"dinf"}


def frames(n: int, w: int = 64, h: int = 48, noise: bool = True, seed: int = 0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    for i in range(n):
        img = np.stack([(x * 4 + i * 3) % 256, (y * 5 + i * 2) % 256, ((x + y) * 2 + i) % 256],
                       -1).astype(np.int16)
        if noise:
            img = img + rng.integers(-8, 8, img.shape)
        yield np.clip(img, 0, 255).astype(np.uint8)


def write_clip(path: Path, n: int = 30, fps: int = 10, codec: str = "libx264", fmt: str | None = None,
               pix: str = "yuv420p", audio: bool = True, w: int = 64, h: int = 48,
               meta: dict | None = None, vmeta: dict | None = None, ameta: dict | None = None,
               options: dict | None = None, pts_ms: list[int] | None = None,
               audio_s: float | None = None, rotation: float | None = None,
               noise: bool = True) -> Path:
    """A clip of ``n`` frames (moving gradient) plus, optionally, a 16 kHz AAC tone."""
    c = av.open(str(path), "w", format=fmt, options=options or {})
    for k, v in (meta or {}).items():
        c.metadata[k] = v
    vs = c.add_stream(codec, rate=fps)
    vs.width, vs.height, vs.pix_fmt = w, h, pix
    if rotation is not None:
        vs.set_display_rotation(rotation)
    if pts_ms is not None:
        vs.codec_context.time_base = fractions.Fraction(1, 1000)
    for k, v in (vmeta or {}).items():
        vs.metadata[k] = v
    a = None
    if audio:
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        for k, v in (ameta or {}).items():
            a.metadata[k] = v
    for i, img in enumerate(frames(n, w, h, noise)):
        f = av.VideoFrame.from_ndarray(img, format="rgb24")
        if pts_ms is not None:
            f.pts, f.time_base = pts_ms[i], fractions.Fraction(1, 1000)
        for p in vs.encode(f):
            c.mux(p)
    for p in vs.encode():
        c.mux(p)
    if a is not None:
        sr = 16000
        dur = audio_s if audio_s is not None else n / fps
        t = np.arange(int(sr * dur)) / sr
        sig = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i in range(0, len(sig), 1024):
            fr = av.AudioFrame.from_ndarray(sig[None, i:i + 1024], format="fltp", layout="mono")
            fr.sample_rate, fr.pts = sr, i
            for p in a.encode(fr):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    c.close()
    return path


# ------------------------------------------------------------------ box editing
def _boxes(b: bytes, s: int, e: int):
    out = []
    while s + 8 <= e:
        size, t = struct.unpack(">I4s", b[s:s + 8])
        out.append((t, s, s + size))
        s += size
    return out


def _tree(b: bytes, s: int, e: int):
    return [(t, _tree(b, bs + 8, be) if t in CONTAINERS else b[bs + 8:be])
            for t, bs, be in _boxes(b, s, e)]


def _ser(tree) -> bytes:
    out = b""
    for t, v in tree:
        body = _ser(v) if isinstance(v, list) else v
        out += struct.pack(">I4s", 8 + len(body), t) + body
    return out


def edit_moov(path: Path, fn) -> Path:
    """Rebuild the (last, after-mdat) moov box with ``fn(tree)`` applied; tree = [(type, payload
    bytes or child list)]."""
    b = path.read_bytes()
    top = _boxes(b, 0, len(b))
    t, s, e = top[-1]
    assert t == b"moov", "moov must be the last box (FFmpeg default)"
    tree = _tree(b, s + 8, e)
    fn(tree)
    path.write_bytes(b[:s] + _ser([(b"moov", tree)]) + b[e:])
    return path


def find(tree, *types):
    """All nodes [type, value] reached by the path of box types (lists so they can be edited)."""
    nodes = [tree]
    for i, t in enumerate(types):
        nxt = []
        for lst in nodes:
            for j, (bt, v) in enumerate(lst):
                if bt == t:
                    if i == len(types) - 1:
                        nxt.append((lst, j))
                    elif isinstance(v, list):
                        nxt.append(v)
        nodes = nxt
    return nodes  # (parent list, index) pairs for the last type


def track(tree, handler: bytes):
    """The children list of the trak whose hdlr is ``handler`` (b'vide' / b'soun')."""
    for t, v in tree:
        if t == b"trak":
            for lst, j in find(v, b"mdia", b"hdlr"):
                if lst[j][1][8:12] == handler:
                    return v
    raise KeyError(handler)


def elst(entries, version=0) -> bytes:
    """An elst payload; entries are (segment duration in movie units, media time in media
    units or -1, rate)."""
    body = struct.pack(">B3xI", version, len(entries))
    for d, mt, rate in entries:
        body += struct.pack(">IiI", d, mt, int(rate * 65536))
    return body


def set_times(payload: bytes, created: int | None = None, modified: int | None = None) -> bytes:
    """Rewrite the version-0 creation/modification fields of mvhd/tkhd/mdhd (1904 seconds)."""
    assert payload[0] == 0
    p = bytearray(payload)
    if created is not None:
        p[4:8] = struct.pack(">I", created)
    if modified is not None:
        p[8:12] = struct.pack(">I", modified)
    return bytes(p)


def mvhd_v1(payload: bytes, created: int, modified: int) -> bytes:
    """A version-0 mvhd payload rewritten as version 1 (64-bit times and duration)."""
    assert payload[0] == 0
    ts, dur = struct.unpack(">II", payload[12:20])
    return (b"\x01" + payload[1:4] + struct.pack(">QQIQ", created, modified, ts, dur)
            + payload[20:])


MAC_EPOCH_OFFSET = 2082844800  # seconds from 1904-01-01 to 1970-01-01


def mac(unix_seconds: float) -> int:
    return int(unix_seconds + MAC_EPOCH_OFFSET)
