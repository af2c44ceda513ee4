"""A hostile corpus: broken, lying and tricky inputs of every supported format (issue 21).

Everything is made here from small synthetic files (numpy, Pillow, PyAV, soundfile); nothing
is read from ../shared and no binary is committed. ``build(out_dir)`` writes the files and
returns one :class:`Case` per input: its path, the kind of hostility and the expected outcome
of ``veriscope analyze`` on it: ``"error"`` (one ``error:`` line), ``"report"`` (a report) or
``"either"`` (any of the two, but never a traceback, a crash or a hang).

Usage: python tests/hostile/corpus.py OUT_DIR   (prints one line per case: expect, kind, name)
"""

from __future__ import annotations

import fractions
import io
import os
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from helpers import png_chunk, smooth_image  # noqa: E402

SEED = 21


@dataclass(frozen=True)
class Case:
    """One input of the corpus. ``kind``: the hostility (``truncated``, ``bitflip``,
    ``zero_chunk``, ``polyglot``, ``wrong_ext``, ``huge_dims``, ``huge_frames``, ``mp4_boxes``,
    ``exif_loop``, ``bomb``, ``audio_params``, ``many_frames``, ``name``, ``special``);
    ``expect``: ``error``, ``report`` or ``either``; ``fmt``: the format it was made from."""

    path: Path
    kind: str
    expect: str
    fmt: str = ""
    note: str = ""


# ------------------------------------------------------------------ valid base files
def _pil_bytes(arr, fmt, **kw) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def _gif() -> bytes:
    from PIL import Image

    frames = [Image.fromarray(smooth_image(24, 32, seed=i)).convert("P", palette=Image.ADAPTIVE,
                                                                     colors=16) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _video(fmt: str | None, codec: str, *, n=10, w=32, h=32, fps=10, audio=True,
           pix="yuv420p") -> bytes:
    import av

    buf = io.BytesIO()
    c = av.open(buf, "w", format=fmt)
    vs = c.add_stream(codec, rate=fps)
    vs.width, vs.height, vs.pix_fmt = w, h, pix
    if codec == "libx264":
        vs.options = {"preset": "ultrafast"}
    a = None
    if audio:
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
    y, x = np.mgrid[0:h, 0:w]
    for i in range(n):
        img = np.stack([(x * 8 + i * 9) % 256, (y * 8 + i * 5) % 256, ((x + y) * 4) % 256],
                       -1).astype(np.uint8)
        for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(p)
    for p in vs.encode():
        c.mux(p)
    if a is not None:
        _encode_tone(a, c, 16000, n / fps)
    c.close()
    return buf.getvalue()


def _encode_tone(stream, container, sr, seconds, fmt="fltp"):
    import av

    t = np.arange(int(sr * seconds)) / sr
    sig = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    step = stream.codec_context.frame_size or 1024
    for i in range(0, len(sig), step):
        fr = av.AudioFrame.from_ndarray(sig[None, i:i + step], format=fmt, layout="mono")
        fr.sample_rate, fr.pts = sr, i
        for p in stream.encode(fr):
            container.mux(p)
    for p in stream.encode():
        container.mux(p)


def _audio_av(fmt: str, codec: str, sr=16000, seconds=0.6, sample_fmt="fltp") -> bytes:
    import av

    buf = io.BytesIO()
    c = av.open(buf, "w", format=fmt)
    a = c.add_stream(codec, rate=sr)
    a.layout = "mono"
    _encode_tone(a, c, sr, seconds, sample_fmt)
    c.close()
    return buf.getvalue()


def _soundfile(fmt: str, subtype: str | None = None, sr=16000, seconds=0.6) -> bytes:
    import soundfile as sf

    t = np.arange(int(sr * seconds)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, format=fmt,
             subtype=subtype)
    return buf.getvalue()


def base_files() -> dict[str, tuple[str, bytes]]:
    """Valid small files of every supported format: name -> (extension, bytes)."""
    img = smooth_image(48, 64, seed=3)
    exif = _exif_blob(loop=False)
    return {
        "jpeg": (".jpg", _pil_bytes(img, "JPEG", quality=90, exif=exif)),
        "png": (".png", _pil_bytes(img, "PNG")),
        "gif": (".gif", _gif()),
        "bmp": (".bmp", _pil_bytes(img[:32, :32], "BMP")),
        "tiff": (".tif", _pil_bytes(img[:32, :32], "TIFF", compression="tiff_adobe_deflate")),
        "webp": (".webp", _pil_bytes(img[:32, :32], "WEBP", quality=80)),
        "mp4": (".mp4", _video("mp4", "libx264")),
        "mov": (".mov", _video("mov", "libx264")),
        "mkv": (".mkv", _video("matroska", "libx264")),
        "webm": (".webm", _video("webm", "libvpx", audio=False)),
        "avi": (".avi", _video("avi", "mpeg4", audio=False)),
        "wav": (".wav", _soundfile("WAV", "PCM_16")),
        "flac": (".flac", _soundfile("FLAC", "PCM_16")),
        "ogg": (".ogg", _soundfile("OGG", "VORBIS")),
        "mp3": (".mp3", _audio_av("mp3", "libmp3lame", sample_fmt="fltp")),
        "m4a": (".m4a", _audio_av("ipod", "aac")),
    }


# ------------------------------------------------------------------ generic mutations
TRUNCATIONS = (40, 0.25, 0.6, 0.95)
"""Where each base file is cut: the first 40 bytes (a header at most), then fractions."""


def truncations(data: bytes):
    for t in TRUNCATIONS:
        n = t if isinstance(t, int) else int(len(data) * t)
        yield (f"{t}b" if isinstance(t, int) else f"{int(t * 100)}pc"), data[:n]


def bitflips(data: bytes, seed: int):
    """Two seeded damaged copies; the first 16 bytes are kept so the format is still sniffed
    and the damage reaches the deeper parsers: 8 single-bit flips, then 1 % of the bytes
    randomised."""
    rng = np.random.default_rng(seed)
    b = bytearray(data)
    for pos in rng.integers(16, len(b), 8):
        b[pos] ^= 1 << int(rng.integers(0, 8))
    yield "flip8", bytes(b)
    b = bytearray(data)
    n = max(1, len(b) // 100)
    pos = rng.integers(16, len(b), n)
    b_arr = np.frombuffer(bytes(b), np.uint8).copy()
    b_arr[pos] = rng.integers(0, 256, n, dtype=np.uint8)
    yield "rand1pc", b_arr.tobytes()


# ------------------------------------------------------------------ format editing helpers
def png_chunks(b: bytes) -> list[tuple[bytes, bytes]]:
    out, i = [], 8
    while i + 8 <= len(b):
        n, t = struct.unpack(">I4s", b[i:i + 8])
        out.append((t, b[i + 8:i + 8 + n]))
        i += 12 + n
    return out


def png_join(chunks) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(t, d) for t, d in chunks)


def png_with_size(png: bytes, w: int, h: int) -> bytes:
    ch = png_chunks(png)
    ch[0] = (b"IHDR", struct.pack(">II", w, h) + ch[0][1][8:])
    return png_join(ch)


def jpeg_with_size(jpg: bytes, w: int, h: int) -> bytes:
    b = bytearray(jpg)
    i = b.index(b"\xff\xc0")
    b[i + 5:i + 9] = struct.pack(">HH", h, w)
    return bytes(b)


def jpeg_insert(jpg: bytes, segment: bytes) -> bytes:
    """``segment`` (marker and all) put right after SOI."""
    return jpg[:2] + segment + jpg[2:]


def bmp_with_size(bmp: bytes, w: int, h: int) -> bytes:
    b = bytearray(bmp)
    b[18:26] = struct.pack("<ii", w, h)
    return bytes(b)


def gif_with_size(gif: bytes, w: int, h: int) -> bytes:
    b = bytearray(gif)
    b[6:10] = struct.pack("<HH", w, h)
    i = b.index(b"\x2c", 13 + 3 * (2 << (b[10] & 7)))  # first image descriptor
    b[i + 5:i + 9] = struct.pack("<HH", w, h)
    return bytes(b)


def tiff_entries(b: bytes) -> tuple[int, list[tuple[int, int, int, int, int]]]:
    """(offset of the first IFD, [(entry offset, tag, type, count, value)]) of a little-endian
    TIFF."""
    ifd = struct.unpack("<I", b[4:8])[0]
    n = struct.unpack("<H", b[ifd:ifd + 2])[0]
    out = []
    for k in range(n):
        o = ifd + 2 + 12 * k
        tag, typ, cnt = struct.unpack("<HHI", b[o:o + 8])
        out.append((o, tag, typ, cnt, struct.unpack("<I", b[o + 8:o + 12])[0]))
    return ifd, out


def tiff_patch(b: bytes, patches: dict[int, tuple[int, int, int]]) -> bytes:
    """Rewrite entries of the first IFD in place: tag -> (type, count, inline value)."""
    out = bytearray(b)
    _, entries = tiff_entries(b)
    for o, tag, _typ, _cnt, _v in entries:
        if tag in patches:
            typ, cnt, val = patches[tag]
            out[o + 2:o + 12] = struct.pack("<HII", typ, cnt, val)
    return bytes(out)


def tiff_next_ifd(b: bytes, offset: int) -> bytes:
    ifd, entries = tiff_entries(b)
    o = ifd + 2 + 12 * len(entries)
    out = bytearray(b)
    out[o:o + 4] = struct.pack("<I", offset)
    return bytes(out)


def _exif_blob(*, loop: bool, absurd_count: bool = False) -> bytes:
    """A little-endian EXIF TIFF structure. ``loop``: IFD0's next-IFD offset and its Exif
    sub-IFD pointer both point back at IFD0; ``absurd_count``: an ASCII entry claiming 4e9
    bytes and a SHORT entry claiming 2e9 values."""
    entries = []
    make_off = 8 + 2 + 12 * 4 + 4
    make = b"veriscope\x00"
    entries.append((0x010F, 2, 0xFFFF_FFF0 if absurd_count else len(make), make_off))
    entries.append((0x0112, 3, 0x7FFF_FFFF if absurd_count else 1, 1))
    entries.append((0x0132, 2, 20, 0xFFFF_FF00 if absurd_count else make_off))  # offset out
    entries.append((0x8769, 4, 1, 8 if loop else make_off + len(make)))
    body = struct.pack("<H", len(entries))
    for tag, typ, cnt, val in entries:
        body += struct.pack("<HHII", tag, typ, cnt, val)
    body += struct.pack("<I", 8 if loop else 0)
    out = b"II*\x00" + struct.pack("<I", 8) + body + make
    out += struct.pack("<H", 1) + struct.pack("<HHII", 0x9003, 2, 20, 8 if loop else 0)
    out += struct.pack("<I", 8 if loop else 0)
    return b"Exif\x00\x00" + out


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def mp4_boxes(b: bytes, s: int = 0, e: int | None = None):
    e = len(b) if e is None else e
    out = []
    while s + 8 <= e:
        size, t = struct.unpack(">I4s", b[s:s + 8])
        if size < 8:
            break
        out.append((t, s, s + size))
        s += size
    return out


def mp4_find(b: bytes, *path: bytes) -> tuple[int, int]:
    """(start, end) of the box reached by the path of box types (first match each level)."""
    s, e = 0, len(b)
    for t in path:
        hit = next((x for x in mp4_boxes(b, s, e) if x[0] == t), None)
        if hit is None:
            raise KeyError(t)
        s, e = hit[1], hit[2]
        if t != path[-1]:
            s += 8 + (8 if t == b"meta" else 0)
    return s, e


def mp4_set_box(b: bytes, start: int, end: int, new: bytes) -> bytes:
    """Replace the box at [start, end) by ``new`` and fix the sizes of the boxes around it
    (moov is the last box in FFmpeg's files, so no chunk offset moves)."""
    o = bytearray(b[:start] + new + b[end:])
    delta = len(new) - (end - start)
    s, e = 0, len(b)
    while True:  # every box that strictly contains the replaced one grows by delta
        hit = next((x for x in mp4_boxes(b, s, e) if x[1] < start < x[2]), None)
        if hit is None:
            break
        _, bs, be = hit
        o[bs:bs + 4] = struct.pack(">I", be - bs + delta)
        s, e = bs + 8, be
    return bytes(o)


def mp4_insert_in(b: bytes, parent: tuple[bytes, ...], new: bytes) -> bytes:
    """``new`` appended as the last child of the box at ``parent``."""
    _, end = mp4_find(b, *parent)
    o = bytearray(b[:end] + new + b[end:])
    for k in range(1, len(parent) + 1):
        s, e = mp4_find(b, *parent[:k])
        o[s:s + 4] = struct.pack(">I", e - s + len(new))
    return bytes(o)


def mp4_patch_payload(b: bytes, path: tuple[bytes, ...], offset: int, data: bytes) -> bytes:
    """Overwrite bytes of a box's payload (``offset`` from the end of its 8-byte header)."""
    s, _ = mp4_find(b, *path)
    o = bytearray(b)
    o[s + 8 + offset:s + 8 + offset + len(data)] = data
    return bytes(o)


def _video_trak(b: bytes) -> tuple[int, int]:
    """(start, end) of the trak whose handler is 'vide'."""
    ms, me = mp4_find(b, b"moov")
    for t, s, e in mp4_boxes(b, ms + 8, me):
        if t == b"trak" and b"vide" in b[s:e][:400]:
            return s, e
    raise KeyError("vide")


def _in_video_trak(b: bytes, *path: bytes) -> tuple[int, int]:
    ts, te = _video_trak(b)
    sub = b[ts:te]
    s, e = 8, len(sub)
    for t in path:
        hit = next((x for x in mp4_boxes(sub, s, e) if x[0] == t), None)
        if hit is None:
            raise KeyError(t)
        s, e = hit[1], hit[2]
        if t != path[-1]:
            s += 8
    return ts + s, ts + e


def ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_pages(b: bytes) -> list[tuple[int, int]]:
    out, i = [], 0
    while i + 27 <= len(b) and b[i:i + 4] == b"OggS":
        nseg = b[i + 26]
        n = 27 + nseg + sum(b[i + 27:i + 27 + nseg])
        out.append((i, i + n))
        i += n
    return out


def ogg_page(serial: int, seq: int, granule: int, segments: list[bytes], flags=0) -> bytes:
    lacing = b""
    for s in segments:
        lacing += b"\xff" * (len(s) // 255) + bytes([len(s) % 255])
    h = (b"OggS\x00" + bytes([flags]) + struct.pack("<qII", granule, serial, seq) + b"\x00\x00\x00\x00"
         + bytes([len(lacing)]) + lacing)
    page = bytearray(h + b"".join(segments))
    page[22:26] = struct.pack("<I", ogg_crc(bytes(page)))
    return bytes(page)


def ogg_fix_crc(page: bytes) -> bytes:
    p = bytearray(page)
    p[22:26] = b"\x00\x00\x00\x00"
    p[22:26] = struct.pack("<I", ogg_crc(bytes(p)))
    return bytes(p)


def wav_bytes(*, rate=16000, channels=1, bits=16, n_frames=800, fmt_size=16, data_size=None,
              block_align=None, riff_size=None, fmt_tag=1) -> bytes:
    """A PCM WAV with every header field settable (no sanity applied)."""
    ba = block_align if block_align is not None else max(1, channels * bits // 8) & 0xFFFF
    data = (np.sin(np.arange(n_frames * max(1, min(channels, 8))) / 7.0) * 8000).astype("<i2")
    data = data.tobytes()
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate & 0xFFFFFFFF,
                      (rate * ba) & 0xFFFFFFFF, ba, bits)
    fmt = (fmt + b"\x00" * max(0, fmt_size - 16))[:fmt_size]
    ds = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", fmt_size) + fmt + b"data" + struct.pack("<I", ds) + data
    rs = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", rs) + body


def flac_streaminfo_patch(flac: bytes, *, rate=None, total=None, length=None) -> bytes:
    b = bytearray(flac)
    si = 8  # after "fLaC" and the 4-byte block header
    if length is not None:
        b[5:8] = length.to_bytes(3, "big")
    word = int.from_bytes(b[si + 10:si + 18], "big")  # rate 20 | ch-1 3 | bps-1 5 | total 36
    if rate is not None:
        word = (word & ~(0xFFFFF << 44)) | ((rate & 0xFFFFF) << 44)
    if total is not None:
        word = (word & ~((1 << 36) - 1)) | (total & ((1 << 36) - 1))
    b[si + 10:si + 18] = word.to_bytes(8, "big")
    return bytes(b)


def ebml_zero_size(b: bytes, element_id: bytes) -> bytes:
    """Set the size of the first ``element_id`` element to zero (same vint length)."""
    i = b.index(element_id)
    j = i + len(element_id)
    first = b[j]
    n = 1
    while n <= 8 and not first & (0x80 >> (n - 1)):
        n += 1
    out = bytearray(b)
    out[j:j + n] = bytes([0x80 >> (n - 1)]) + b"\x00" * (n - 1)
    return bytes(out)


def riff_chunk_size(b: bytes, fourcc: bytes, size: int, nth: int = 0) -> bytes:
    i = -1
    for _ in range(nth + 1):
        i = b.index(fourcc, i + 1)
    out = bytearray(b)
    out[i + 4:i + 8] = struct.pack("<I", size & 0xFFFFFFFF)
    return bytes(out)


# ------------------------------------------------------------------ the corpus
def build(out_dir) -> list[Case]:
    """Write the corpus into ``out_dir`` (created) and return its cases."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str, data: bytes, kind: str, expect: str, fmt: str = "", note: str = ""):
        p = out / name
        p.write_bytes(data)
        cases.append(Case(p, kind, expect, fmt, note))
        return p

    base = base_files()
    for i, (fmt, (ext, data)) in enumerate(base.items()):
        add(f"{fmt}-valid{ext}", data, "valid", "report", fmt)
        for tag, cut in truncations(data):
            add(f"{fmt}-trunc-{tag}{ext}", cut, "truncated",
                "error" if tag == "40b" and fmt not in ("mp3",) else "either", fmt)
        for tag, flipped in bitflips(data, SEED + i):
            add(f"{fmt}-{tag}{ext}", flipped, "bitflip", "either", fmt)

    _zero_chunks(base, add)
    _polyglots(base, add)
    _wrong_ext(base, add)
    _huge_dims(base, add)
    _mp4_boxes(base, add)
    _exif(base, add)
    _bombs(base, add)
    _audio_params(base, add)
    _frames(base, add)
    _names(base, out, add)
    _special(out, cases)
    return cases


def _zero_chunks(base, add):
    jpg, png = base["jpeg"][1], base["png"][1]
    add("jpeg-zero-app1.jpg", jpeg_insert(jpg, b"\xff\xe1\x00\x02"), "zero_chunk", "either", "jpeg")
    add("jpeg-zero-len-com.jpg", jpeg_insert(jpg, b"\xff\xfe\x00\x00"), "zero_chunk", "either",
        "jpeg")
    ch = png_chunks(png)
    add("png-zero-chunks.png", png_join(ch[:1] + [(b"IDAT", b""), (b"tEXt", b""), (b"iCCP", b""),
                                                  (b"eXIf", b""), (b"zTXt", b""), (b"iTXt", b"")]
                                        + ch[1:]), "zero_chunk", "either", "png")
    add("png-zero-ihdr.png", png_join([(b"IHDR", b"")] + ch[1:]), "zero_chunk", "error", "png")
    gif = bytearray(base["gif"][1])
    i = gif.index(b"\x21\xf9")  # graphic control extension: sub-block size 0
    gif[i + 2] = 0
    add("gif-zero-block.gif", bytes(gif), "zero_chunk", "either", "gif")
    bmp = bytearray(base["bmp"][1])
    bmp[14:18] = struct.pack("<I", 0)  # info header size 0
    add("bmp-zero-header.bmp", bytes(bmp), "zero_chunk", "error", "bmp")
    tif = base["tiff"][1]
    add("tiff-zero-stripbytes.tif", tiff_patch(tif, {279: (4, 1, 0)}), "zero_chunk", "either",
        "tiff")
    ifd, _ = tiff_entries(tif)
    t = bytearray(tif)
    t[ifd:ifd + 2] = b"\x00\x00"
    add("tiff-zero-entries.tif", bytes(t), "zero_chunk", "error", "tiff")
    webp = base["webp"][1]
    add("webp-zero-vp8.webp", riff_chunk_size(webp, b"VP8 ", 0), "zero_chunk", "either", "webp")
    add("webp-zero-riff.webp", riff_chunk_size(webp, b"RIFF", 0), "zero_chunk", "either", "webp")
    for fmt in ("mp4", "mov", "m4a"):
        ext, b = base[fmt]
        s, _ = mp4_find(b, b"moov")
        add(f"{fmt}-zero-size-box-before-moov{ext}", b[:s] + struct.pack(">I4s", 0, b"free") + b[s:],
            "zero_chunk", "either", fmt, "size 0 = to the end of file: hides moov")
        add(f"{fmt}-empty-boxes{ext}", mp4_insert_in(b, (b"moov",), struct.pack(">I4s", 8, b"udta")
                                                     + struct.pack(">I4s", 8, b"free")),
            "zero_chunk", "either", fmt)
        ss, se = mp4_find(b, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsz")
        add(f"{fmt}-zero-stsz{ext}", mp4_set_box(b, ss, se, struct.pack(">I4s", 8, b"stsz")),
            "zero_chunk", "either", fmt)
    for fmt in ("mkv", "webm"):
        ext, b = base[fmt]
        add(f"{fmt}-zero-tracks{ext}", ebml_zero_size(b, b"\x16\x54\xae\x6b"), "zero_chunk",
            "either", fmt)
        add(f"{fmt}-zero-cluster{ext}", ebml_zero_size(b, b"\x1f\x43\xb6\x75"), "zero_chunk",
            "either", fmt)
    avi = base["avi"][1]
    add("avi-zero-movi.avi", riff_chunk_size(avi, b"LIST", 4, nth=2), "zero_chunk", "either", "avi")
    add("avi-zero-strl.avi", riff_chunk_size(avi, b"LIST", 0, nth=1), "zero_chunk", "either", "avi")
    wav = base["wav"][1]
    add("wav-zero-data.wav", wav_bytes(n_frames=0), "zero_chunk", "error", "wav")
    add("wav-zero-fmt.wav", wav_bytes(fmt_size=0), "zero_chunk", "error", "wav")
    add("wav-zero-riff.wav", riff_chunk_size(wav, b"RIFF", 0), "zero_chunk", "either", "wav")
    flac = base["flac"][1]
    add("flac-zero-streaminfo.flac", flac[:5] + b"\x00\x00\x00" + flac[8 + 34:], "zero_chunk",
        "either", "flac")
    ogg = base["ogg"][1]
    pages = ogg_pages(ogg)
    serial = struct.unpack("<I", ogg[14:18])[0]
    s2 = pages[2][0] if len(pages) > 2 else pages[-1][0]
    add("ogg-zero-page.ogg", ogg[:s2] + ogg_page(serial, 99, -1, []) + ogg[s2:], "zero_chunk",
        "either", "ogg")
    mp3 = base["mp3"][1]
    body = mp3[10 + _syncsafe(mp3[6:10]):] if mp3.startswith(b"ID3") else mp3
    add("mp3-zero-id3.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + body, "zero_chunk", "either",
        "mp3")
    add("mp3-zero-id3-frame.mp3", b"ID3\x03\x00\x00\x00\x00\x00\x0a" + b"TIT2\x00\x00\x00\x00\x00\x00"
        + body, "zero_chunk", "either", "mp3")


def _syncsafe(b: bytes) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def _polyglots(base, add):
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("readme.txt", "a zip appended to a picture\n" * 20)
        z.writestr("payload.html", "<script>alert(1)</script>")
    add("polyglot-jpeg-zip.jpg", base["jpeg"][1] + zbuf.getvalue(), "polyglot", "report", "jpeg")
    html = b"<html><body><script>alert('veriscope')</script></body></html>"
    ch = png_chunks(base["png"][1])
    add("polyglot-png-html.png", png_join(ch[:-1] + [(b"tEXt", b"Comment\x00" + html)] + ch[-1:])
        + html, "polyglot", "report", "png")
    add("polyglot-html-then-png.png", html + base["png"][1], "polyglot", "error", "png")
    add("polyglot-mp4-zip.mp4", base["mp4"][1] + zbuf.getvalue(), "polyglot", "either", "mp4")
    add("polyglot-wav-zip.wav", base["wav"][1] + zbuf.getvalue(), "polyglot", "report", "wav")
    add("polyglot-gif-js.gif", base["gif"][1] + b"\n/*" + b"*/alert(1);", "polyglot", "report",
        "gif")


def _wrong_ext(base, add):
    for src, ext in (("png", ".jpg"), ("jpeg", ".png"), ("mp4", ".wav"), ("wav", ".mp4"),
                     ("flac", ".mp3"), ("webm", ".gif"), ("gif", ".mp4"), ("tiff", ".bmp"),
                     ("m4a", ".mkv")):
        add(f"wrongext-{src}{ext}", base[src][1], "wrong_ext", "report", src)
    add("wrongext-text.png", b"just some text, not a picture\n" * 4, "wrong_ext", "error")
    add("wrongext-noext", base["png"][1], "wrong_ext", "report", "png")


def _huge_dims(base, add):
    jpg, png, bmp, gif = base["jpeg"][1], base["png"][1], base["bmp"][1], base["gif"][1]
    tif, webp = base["tiff"][1], base["webp"][1]
    add("huge-png-65535.png", png_with_size(png, 65535, 65535), "huge_dims", "error", "png")
    add("huge-png-1e6.png", png_with_size(png, 1_000_000, 1_000_000), "huge_dims", "error", "png")
    add("huge-png-2e31.png", png_with_size(png, 0x7FFF_FFFF, 1), "huge_dims", "error", "png")
    add("huge-png-zero.png", png_with_size(png, 0, 48), "huge_dims", "error", "png")
    add("huge-jpeg-65535.jpg", jpeg_with_size(jpg, 65535, 65535), "huge_dims", "error", "jpeg")
    add("huge-jpeg-wide.jpg", jpeg_with_size(jpg, 65535, 1), "huge_dims", "either", "jpeg")
    add("huge-bmp-1e6.bmp", bmp_with_size(bmp, 1_000_000, 1_000_000), "huge_dims", "error", "bmp")
    add("huge-bmp-negative.bmp", bmp_with_size(bmp, 32, -2_000_000_000), "huge_dims", "error", "bmp")
    add("huge-gif-65535.gif", gif_with_size(gif, 65535, 65535), "huge_dims", "error", "gif")
    add("huge-tiff-1e6.tif", tiff_patch(tif, {256: (4, 1, 1_000_000), 257: (4, 1, 1_000_000)}),
        "huge_dims", "error", "tiff")
    add("huge-tiff-4e9.tif", tiff_patch(tif, {256: (4, 1, 0xFFFF_FFFF), 257: (4, 1, 2)}),
        "huge_dims", "error", "tiff")
    w = bytearray(webp)
    i = w.index(b"\x9d\x01\x2a")
    w[i + 3:i + 7] = struct.pack("<HH", 16383, 16383)
    add("huge-webp-16383.webp", bytes(w), "huge_dims", "error", "webp")
    mp4 = base["mp4"][1]
    s, e = _in_video_trak(mp4, b"mdia", b"minf", b"stbl", b"stsd")
    stsd = bytearray(mp4[s:e])
    stsd[8 + 8 + 8 + 24:8 + 8 + 8 + 28] = struct.pack(">HH", 65535, 65535)  # avc1 width/height
    add("huge-mp4-avc1-65535.mp4", mp4[:s] + bytes(stsd) + mp4[e:], "huge_dims", "either", "mp4")
    s, e = _in_video_trak(mp4, b"tkhd")
    tk = bytearray(mp4[s:e])
    tk[-8:] = struct.pack(">II", 65535 << 16, 65535 << 16)
    add("huge-mp4-tkhd-65535.mp4", mp4[:s] + bytes(tk) + mp4[e:], "huge_dims", "either", "mp4")
    avi = bytearray(base["avi"][1])
    i = avi.index(b"strf")
    avi[i + 12:i + 20] = struct.pack("<ii", 100_000, 100_000)
    add("huge-avi-strf-1e5.avi", bytes(avi), "huge_dims", "either", "avi")


def _mp4_boxes(base, add):
    mp4 = base["mp4"][1]
    depth = 20_000
    nested = b""
    for k in range(depth):
        nested = struct.pack(">I4s", 8 + len(nested), b"udta" if k % 2 else b"meta"[:4]) + nested
    add("mp4-nested-20000.mp4", mp4_insert_in(mp4, (b"moov",), nested), "mp4_boxes", "either",
        "mp4", "20000 nested boxes in moov")
    trak_nest = b""
    for _ in range(2000):
        trak_nest = struct.pack(">I4s", 8 + len(trak_nest), b"trak") + trak_nest
    add("mp4-nested-trak.mp4", mp4_insert_in(mp4, (b"moov",), trak_nest), "mp4_boxes", "either",
        "mp4")
    s, e = mp4_find(mp4, b"moov")
    for tag, box in (("size4", struct.pack(">I4s", 4, b"free")),
                     ("size1-large0", struct.pack(">I4sQ", 1, b"free", 0)),
                     ("size1-large8", struct.pack(">I4sQ", 1, b"free", 8)),
                     ("size1-huge", struct.pack(">I4sQ", 1, b"free", 1 << 62)),
                     ("size-over-end", struct.pack(">I4s", 0xFFFF_FFF0, b"udta"))):
        add(f"mp4-box-{tag}.mp4", mp4_insert_in(mp4, (b"moov",), box + b"\x00" * 16),
            "mp4_boxes", "either", "mp4")
    o = bytearray(mp4)
    o[s:s + 4] = struct.pack(">I", 8)  # moov claims only its header
    add("mp4-moov-size8.mp4", bytes(o), "mp4_boxes", "either", "mp4")
    o = bytearray(mp4)
    ts, te = _video_trak(mp4)
    o[ts:ts + 4] = struct.pack(">I", te - ts + 100_000)  # trak points over moov's end
    add("mp4-trak-over-parent.mp4", bytes(o), "mp4_boxes", "either", "mp4")
    # a moov that loops: 'size' walking back is impossible (sizes are unsigned) but a box
    # whose size lands inside itself (size 9..15 for a container) is the closest
    o = bytearray(mp4)
    o[ts:ts + 4] = struct.pack(">I", 9)
    add("mp4-trak-size9.mp4", bytes(o), "mp4_boxes", "either", "mp4")
    add("mp4-two-moov.mp4", mp4 + mp4[s:e], "mp4_boxes", "either", "mp4")
    add("mp4-moov-only.mp4", mp4[:mp4_find(mp4, b"mdat")[0]] + mp4[s:e], "mp4_boxes", "either",
        "mp4")
    # chunk offsets pointing past the end / backwards into the header
    cs, ce = _in_video_trak(mp4, b"mdia", b"minf", b"stbl", b"stco")
    n = struct.unpack(">I", mp4[cs + 12:cs + 16])[0]
    for tag, off in (("past-end", 0xFFFF_FF00), ("into-header", 0)):
        add(f"mp4-stco-{tag}.mp4", mp4[:cs + 16] + struct.pack(">I", off) * n + mp4[cs + 16 + 4 * n:],
            "mp4_boxes", "either", "mp4")


def _exif(base, add):
    jpg = base["jpeg"][1]
    # drop the valid APP1 Exif Pillow wrote, put hostile ones instead
    i = jpg.index(b"\xff\xe1")
    n = struct.unpack(">H", jpg[i + 2:i + 4])[0]
    bare = jpg[:i] + jpg[i + 2 + n:]
    add("exif-loop.jpg", jpeg_insert(bare, _app1(_exif_blob(loop=True))), "exif_loop", "report",
        "jpeg")
    add("exif-absurd-counts.jpg", jpeg_insert(bare, _app1(_exif_blob(loop=False, absurd_count=True))),
        "exif_loop", "report", "jpeg")
    add("exif-loop-absurd.jpg", jpeg_insert(bare, _app1(_exif_blob(loop=True, absurd_count=True))),
        "exif_loop", "report", "jpeg")
    many = b"Exif\x00\x00II*\x00\x08\x00\x00\x00" + struct.pack("<H", 0xFFFF) + b"\x00" * 64
    add("exif-65535-entries.jpg", jpeg_insert(bare, _app1(many)), "exif_loop", "report", "jpeg")
    ch = png_chunks(base["png"][1])
    add("exif-loop.png", png_join(ch[:1] + [(b"eXIf", _exif_blob(loop=True, absurd_count=True)[6:])]
                                  + ch[1:]), "exif_loop", "report", "png")
    tif = base["tiff"][1]
    ifd, _ = tiff_entries(tif)
    add("tiff-ifd-self-loop.tif", tiff_next_ifd(tif, ifd), "exif_loop", "either", "tiff")
    add("tiff-ifd-offset-past-end.tif", tiff_next_ifd(tif, 0xFFFF_FFF0), "exif_loop", "either",
        "tiff")
    add("tiff-absurd-counts.tif", tiff_patch(tif, {273: (4, 0x3FFF_FFFF, 8),
                                                   279: (4, 0x3FFF_FFFF, 8)}),
        "exif_loop", "either", "tiff")
    webp_exif = _exif_blob(loop=True, absurd_count=True)[6:]
    add("exif-loop-in-xmp-name.webp", _webp_with_exif(base["webp"][1], webp_exif), "exif_loop",
        "either", "webp")


def _webp_with_exif(webp: bytes, exif: bytes) -> bytes:
    vp8 = webp[12:]
    i = webp.index(b"\x9d\x01\x2a")
    w, h = (x & 0x3FFF for x in struct.unpack("<HH", webp[i + 3:i + 7]))
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([0x08, 0, 0, 0]) + \
        (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    ex = b"EXIF" + struct.pack("<I", len(exif)) + exif + (b"\x00" if len(exif) % 2 else b"")
    body = b"WEBP" + vp8x + vp8 + ex
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _bombs(base, add):
    # a 64x48 PNG whose IDAT inflates to 256 MiB (only 9 KiB of it are pixels)
    co = zlib.compressobj(9)
    raw = b"".join(b"\x00" + bytes(64 * 3) for _ in range(48))
    parts = [co.compress(raw)]
    block = bytes(1 << 20)
    parts += [co.compress(block) for _ in range(256)]
    parts.append(co.flush())
    ihdr = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    add("bomb-png-idat-256mib.png", png_join([(b"IHDR", ihdr), (b"IDAT", b"".join(parts)),
                                              (b"IEND", b"")]), "bomb", "either", "png")
    # a PNG claiming 20000x20000 whose data really inflates (a decompression bomb)
    co = zlib.compressobj(9)
    row = b"\x00" + bytes(20000)
    parts = [co.compress(row) for _ in range(2000)] + [co.flush()]
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    add("bomb-png-20000.png", png_join([(b"IHDR", ihdr), (b"IDAT", b"".join(parts)), (b"IEND", b"")]),
        "bomb", "error", "png")
    # a huge zTXt / iCCP: text chunks that inflate to 64 MiB each
    big = zlib.compress(bytes(64 << 20), 9)
    ch = png_chunks(base["png"][1])
    add("bomb-png-ztxt.png", png_join(ch[:1] + [(b"zTXt", b"Comment\x00\x00" + big),
                                                (b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00"
                                                 + big)] + ch[1:]), "bomb", "either", "png")
    add("bomb-png-iccp.png", png_join(ch[:1] + [(b"iCCP", b"icc\x00\x00" + big)] + ch[1:]), "bomb",
        "either", "png")
    # TIFF: one deflate strip claiming 4 GiB; the strip inflates to far more than the picture
    tif = base["tiff"][1]
    add("bomb-tiff-strip-4g.tif", tiff_patch(tif, {279: (4, 1, 0xFFFF_FFFF)}), "bomb", "either",
        "tiff")
    img = np.zeros((4000, 4000, 3), np.uint8)  # 48 MB of zeros -> a few tens of KB
    add("bomb-tiff-16mp.tif", _pil_bytes(img, "TIFF", compression="tiff_adobe_deflate"), "bomb",
        "either", "tiff", "16 MP within limits: decodes (bounded by --max-pixels)")
    rows = 0x7FFF_FFFF
    add("bomb-tiff-rowsperstrip.tif", tiff_patch(tif, {278: (4, 1, rows)}), "bomb", "either", "tiff")
    # a GIF whose LZW data never ends (the 'bomb' is the frame loop)
    add("bomb-jpeg-progressive-scans.jpg", _many_scans(), "bomb", "either", "jpeg")


def _many_scans() -> bytes:
    """A progressive JPEG with its last scan repeated many times (a CPU bomb for decoders
    that re-run every scan)."""
    b = _pil_bytes(smooth_image(64, 64), "JPEG", quality=90, progressive=True)
    i = b.rindex(b"\xff\xda")
    last = b[i:-2]
    return b[:i] + last * 400 + b"\xff\xd9"


def _audio_params(base, add):
    for tag, kw, expect in (
            ("rate0", {"rate": 0}, "error"), ("rate1", {"rate": 1}, "either"),
            ("rate4e9", {"rate": 4_000_000_000}, "error"),
            ("rate2mhz", {"rate": 2_000_000}, "error"),
            ("ch0", {"channels": 0}, "error"), ("ch1000", {"channels": 1000}, "error"),
            ("ch65535", {"channels": 65535}, "error"),
            ("bits0", {"bits": 0}, "error"), ("bits255", {"bits": 255}, "error"),
            ("blockalign0", {"block_align": 0}, "either"),
            ("datasize-4g", {"data_size": 0xFFFF_FFFF}, "either"),
            ("riffsize-4g", {"riff_size": 0xFFFF_FFFF}, "either"),
            ("fmt-tag-ffff", {"fmt_tag": 0xFFFF}, "error"),
            ("fmt-size-4g", {"fmt_size": 16}, "either")):
        data = wav_bytes(**kw)
        if tag == "fmt-size-4g":
            data = riff_chunk_size(data, b"fmt ", 0xFFFF_FFF0)
        add(f"wav-{tag}.wav", data, "audio_params", expect, "wav")
    flac = base["flac"][1]
    add("flac-rate0.flac", flac_streaminfo_patch(flac, rate=0), "audio_params", "either", "flac")
    add("flac-rate1.flac", flac_streaminfo_patch(flac, rate=1), "audio_params", "either", "flac")
    add("flac-rate-max.flac", flac_streaminfo_patch(flac, rate=0xFFFFF), "audio_params", "error",
        "flac", "1048575 Hz")
    add("flac-total-2e36.flac", flac_streaminfo_patch(flac, total=(1 << 36) - 1), "huge_frames",
        "either", "flac", "claims 68.7e9 samples")
    add("flac-streaminfo-len-16m.flac", flac_streaminfo_patch(flac, length=0xFFFFFF),
        "audio_params", "either", "flac")
    ogg = base["ogg"][1]
    pages = ogg_pages(ogg)
    first = bytearray(ogg[pages[0][0]:pages[0][1]])
    hdr = 27 + first[26]
    for tag, rate, ch in (("rate0", 0, 1), ("rate4e9", 4_000_000_000, 1), ("ch255", 16000, 255)):
        p = bytearray(first)
        p[hdr + 11] = ch
        p[hdr + 12:hdr + 16] = struct.pack("<I", rate)
        add(f"ogg-{tag}.ogg", ogg_fix_crc(bytes(p)) + ogg[pages[0][1]:], "audio_params", "either",
            "ogg")
    last_s, last_e = pages[-1]
    p = bytearray(ogg[last_s:last_e])
    p[6:14] = struct.pack("<q", (1 << 62))
    add("ogg-granule-huge.ogg", ogg[:last_s] + ogg_fix_crc(bytes(p)), "huge_frames", "either",
        "ogg", "last page claims 2^62 samples")
    m4a = base["m4a"][1]
    s, e = mp4_find(m4a, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")
    entry = s + 16  # mp4a sample entry
    for tag, off, val in (("ch0", 16, struct.pack(">H", 0)), ("ch65535", 16, struct.pack(">H", 65535)),
                          ("rate0", 24, struct.pack(">I", 0)),
                          ("rate-max", 24, struct.pack(">I", 0xFFFF_0000))):
        o = bytearray(m4a)
        o[entry + 8 + off:entry + 8 + off + len(val)] = val
        add(f"m4a-stsd-{tag}.m4a", bytes(o), "audio_params", "either", "m4a")
    s, e = mp4_find(m4a, b"moov", b"trak", b"mdia", b"mdhd")
    o = bytearray(m4a)
    o[s + 20:s + 24] = struct.pack(">I", 0)  # media timescale 0
    add("m4a-mdhd-timescale0.m4a", bytes(o), "audio_params", "either", "m4a")
    o = bytearray(m4a)
    o[s + 20:s + 28] = struct.pack(">II", 1, 0xFFFF_FFFF)  # 1 Hz, 136 years
    add("m4a-mdhd-136-years.m4a", bytes(o), "huge_frames", "either", "m4a")
    # an MP3 frame header whose sample-rate index is the reserved value 3
    mp3 = bytearray(base["mp3"][1])
    i = mp3.index(b"\xff\xfb") if b"\xff\xfb" in mp3 else mp3.index(b"\xff\xf3")
    mp3[i + 2] |= 0x0C
    add("mp3-reserved-rate.mp3", bytes(mp3), "audio_params", "either", "mp3")
    add("mp3-id3-size-256m.mp3", b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + base["mp3"][1],
        "audio_params", "either", "mp3")


def _many_frames_mp4(n: int, side: int = 16, fps: int = 1000) -> bytes:
    import av

    buf = io.BytesIO()
    c = av.open(buf, "w", format="mp4")
    s = c.add_stream("libx264", rate=fps)
    s.width = s.height = side
    s.pix_fmt = "yuv420p"
    s.options = {"preset": "ultrafast", "tune": "zerolatency"}
    s.codec_context.time_base = fractions.Fraction(1, fps)
    f = av.VideoFrame.from_ndarray(np.zeros((side, side, 3), np.uint8), format="rgb24")
    for i in range(n):
        f.pts = i
        for p in s.encode(f):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return buf.getvalue()


def _frames(base, add):
    add("many-frames-100k-16px.mp4", _many_frames_mp4(100_000), "many_frames", "report", "mp4",
        "100000 frames of 16x16 at 1000 fps (100 s)")
    mp4 = base["mp4"][1]
    s, e = _in_video_trak(mp4, b"mdia", b"minf", b"stbl", b"stsz")
    o = bytearray(mp4)
    o[s + 12:s + 20] = struct.pack(">II", 1, 0x7FFF_FFFF)  # constant size 1, 2^31 - 1 samples
    add("mp4-stsz-2e31-samples.mp4", bytes(o[:s + 20]) + bytes(o[e:]), "huge_frames", "either",
        "mp4", "stsz claims 2^31-1 samples of 1 byte")
    s, e = _in_video_trak(mp4, b"mdia", b"minf", b"stbl", b"stts")
    add("mp4-stts-4e9.mp4", mp4[:s + 16] + struct.pack(">II", 0xFFFF_FFFF, 1) + mp4[s + 24:],
        "huge_frames", "either", "mp4")
    s, e = _in_video_trak(mp4, b"mdia", b"mdhd")
    o = bytearray(mp4)
    o[s + 20:s + 28] = struct.pack(">II", 1, 0xFFFF_FFFF)
    add("mp4-mdhd-136-years.mp4", bytes(o), "huge_frames", "either", "mp4")
    s, e = mp4_find(mp4, b"moov", b"mvhd")
    o = bytearray(mp4)
    o[s + 20:s + 28] = struct.pack(">II", 1, 0xFFFF_FFFF)
    add("mp4-mvhd-136-years.mp4", bytes(o), "huge_frames", "either", "mp4")
    avi = bytearray(base["avi"][1])
    i = avi.index(b"avih")
    avi[i + 8 + 16:i + 8 + 20] = struct.pack("<I", 0xFFFF_FFFF)  # dwTotalFrames
    j = avi.index(b"strh")
    avi[j + 8 + 32:j + 8 + 36] = struct.pack("<I", 0xFFFF_FFFF)  # dwLength
    add("avi-frames-4e9.avi", bytes(avi), "huge_frames", "either", "avi")
    avi = bytearray(base["avi"][1])
    avi[j + 8 + 20:j + 8 + 28] = struct.pack("<II", 1, 1_000_000)  # dwScale 1, dwRate 1e6 fps
    add("avi-rate-1e6fps.avi", bytes(avi), "huge_frames", "either", "avi")
    gif = _gif_many_frames(20_000)
    add("gif-20000-frames.gif", gif, "many_frames", "either", "gif")


def _gif_many_frames(n: int) -> bytes:
    """A 2x2 GIF with ``n`` frames, written by hand (each frame is 19 bytes)."""
    head = b"GIF89a" + struct.pack("<HHBBB", 2, 2, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    head += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (b"\x21\xf9\x04\x04\x01\x00\x00\x00" + b"\x2c" + struct.pack("<HHHHB", 0, 0, 2, 2, 0)
             + b"\x02\x02\x44\x01\x00")
    return head + frame * n + b"\x3b"


def _names(base, out: Path, add):
    png = base["png"][1]
    names = {
        "rtl": "name-\u202egnp.exe.png",
        "newline": "name-with\nnewline.png",
        "tab-cr": "name-with\ttab\rcr.png",
        "long": "n" * 240 + ".png",
        "dash": "-leading-dash.png",
        "option": "--help.png",
        "option-eq": "--out=evil.png",
        "markup": "[bold]markup[red] [link=x] [red.png",
        "ansi": "ansi-\x1b[31mred\x1b[0m.png",
        "unicode": "\u00e9t\u00e9-\u6f22\u5b57-\U0001f600.png",
        "spaces": "  spaces  .png",
        "quote": "quo'te\"s.png",
        "percent": "%s%n%x{0}.png",
        "nonutf8": os.fsdecode(b"bad-\xff\xfe-bytes.png"),
        "dots": "...png",
    }
    for tag, name in names.items():
        add(name, png, "name", "report", "png", tag)
    # the same hostile names on files that fail: the error line must name them
    add("-dash-broken.jpg", base["jpeg"][1][:40], "name", "error", "jpeg", "dash, truncated")
    add("[bold]markup[[-broken.jpg", base["jpeg"][1][:40], "name", "error", "jpeg", "markup, truncated")
    add("\u202ertl-broken.jpg", base["jpeg"][1][:40], "name", "error", "jpeg", "rtl, truncated")


def _special(out: Path, cases: list[Case]):
    p = out / "empty.jpg"
    p.write_bytes(b"")
    cases.append(Case(p, "special", "error", "", "empty file"))
    d = out / "directory.jpg"
    d.mkdir(exist_ok=True)
    cases.append(Case(d, "special", "error", "", "a directory named like a picture"))
    z = out / "dev-zero.png"
    if not z.is_symlink():
        z.symlink_to("/dev/zero")
    cases.append(Case(z, "special", "error", "", "symlink to /dev/zero"))
    loop = out / "symlink-loop.png"
    if not loop.is_symlink():
        loop.symlink_to(loop.name)
    cases.append(Case(loop, "special", "error", "", "symlink to itself"))
    dangling = out / "dangling.png"
    if not dangling.is_symlink():
        dangling.symlink_to("does-not-exist.png")
    cases.append(Case(dangling, "special", "error", "", "dangling symlink"))
    f = out / "fifo.wav"
    if not f.exists():
        try:
            os.mkfifo(f)
        except (OSError, AttributeError):
            f = None
    if f is not None:
        cases.append(Case(f, "special", "error", "", "a FIFO (reading it would block)"))
    n = out / "null-bytes.mp4"
    n.write_bytes(bytes(4096))
    cases.append(Case(n, "special", "error", "", "4 KiB of zeros"))
    m = out / "magic-only.png"
    m.write_bytes(b"\x89PNG\r\n\x1a\n")
    cases.append(Case(m, "special", "error", "png", "signature only"))


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    cases = build(args[0])
    for c in cases:
        print(f"{c.expect}\t{c.kind}\t{c.path.name!r}")
    print(f"{len(cases)} cases in {args[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
