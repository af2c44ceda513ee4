"""`Media`: one input file, identified by content, hashed, decoded lazily.

Opening a Media object checks what can be checked cheaply (the path exists, it
is a regular non-empty file, its bytes look like a format we know, the image
header's claimed size is within limits). Decoding happens on first use and is
cached, so detectors that share a decoded image pay for it once.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veriscope.core.errors import MediaError

DEFAULT_MAX_PIXELS = 120_000_000
"""Largest image (width x height) decoded by default: about 360 MB as 8-bit RGB."""

DEFAULT_MAX_BYTES = 4 * 1024**3
"""Largest file accepted by default (4 GiB)."""

MAX_SAMPLE_RATE = 1_000_000
"""Highest audio sample rate accepted (Hz); 0 or less, or more, is refused with a MediaError
(the sample rate sizes every buffer a detector allocates for N seconds of sound)."""

MAX_CHANNELS = 64
"""Most audio channels accepted; more (or none) is refused with a MediaError."""

MAX_AUDIO_SAMPLES = 1 << 26
"""Most audio samples (frames x channels) one :meth:`Media.audio` call decodes: 256 MiB as
float32, 600 s of 48 kHz stereo plus margin. Past it the decoded sound is cut and a warning
says so; headers that claim more samples than the file holds allocate nothing up front."""

KINDS = ("image", "video", "audio", "post")

# (format name, kind, extensions that normally carry it)
_FORMATS = {
    "jpeg": ("image", {".jpg", ".jpeg", ".jpe", ".jfif"}),
    "png": ("image", {".png", ".apng"}),
    "gif": ("image", {".gif"}),
    "bmp": ("image", {".bmp", ".dib"}),
    "tiff": ("image", {".tif", ".tiff", ".dng"}),
    "webp": ("image", {".webp"}),
    "heif": ("image", {".heic", ".heif", ".avif"}),
    "mp4": ("video", {".mp4", ".m4v", ".mov", ".3gp"}),
    "m4a": ("audio", {".m4a", ".aac", ".mp4"}),
    "matroska": ("video", {".mkv", ".webm"}),
    "avi": ("video", {".avi"}),
    "wav": ("audio", {".wav", ".wave"}),
    "flac": ("audio", {".flac"}),
    "ogg": ("audio", {".ogg", ".oga", ".opus"}),
    "mp3": ("audio", {".mp3"}),
}

MEDIA_EXTENSIONS = frozenset(e for _, exts in _FORMATS.values() for e in exts)
"""File name extensions (lower case, with the dot) of the formats :func:`sniff_format` knows."""

# Formats Pillow decodes for us; others are recognised but need a later detector family.
_PIL_FORMATS = {"jpeg", "png", "gif", "bmp", "tiff", "webp"}


def sniff_format(head: bytes) -> str | None:
    """Name the container format from the first bytes of a file, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"avif"):
            return "heif"
        if brand in (b"M4A ", b"M4B "):
            return "m4a"
        return "mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0
                                   and (head[1] & 0x06) != 0):
        return "mp3"
    return None


@dataclass
class Media:
    """One input. Create with :meth:`Media.open`."""

    path: Path
    kind: str
    format: str
    size_bytes: int
    max_pixels: int = DEFAULT_MAX_PIXELS
    facts: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _sha256: str | None = field(default=None, repr=False)
    _bytes: bytes | None = field(default=None, repr=False)
    _pil: Any = field(default=None, repr=False)
    _rgb: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path, *, max_pixels: int = DEFAULT_MAX_PIXELS,
             max_bytes: int = DEFAULT_MAX_BYTES) -> Media:
        p = Path(path)
        if not p.exists():
            raise MediaError(p, "no such file")
        if p.is_dir():
            raise MediaError(p, "is a directory, not a media file")
        if not p.is_file():
            raise MediaError(p, "is not a regular file")
        try:
            size = p.stat().st_size
            with open(p, "rb") as fh:
                head = fh.read(64)
        except OSError as e:
            raise MediaError(p, f"cannot be read ({e.strerror or e})") from None
        if size == 0:
            raise MediaError(p, "is empty (0 bytes)")
        if size > max_bytes:
            raise MediaError(p, f"is {size} bytes, over the limit of {max_bytes} bytes")
        fmt = sniff_format(head)
        if fmt is None:
            raise MediaError(p, "unsupported or unrecognised format (content is not a known "
                                "image, video or audio container)")
        kind, exts = _FORMATS[fmt]
        m = cls(path=p, kind=kind, format=fmt, size_bytes=size, max_pixels=max_pixels)
        ext = p.suffix.lower()
        if ext and ext not in exts:
            m.warnings.append(f"file extension '{ext}' does not match its content ({fmt}); "
                              f"analysed as {fmt}")
        if kind == "image":
            m._probe_image()
        else:
            m._probe_av()
        return m

    @classmethod
    def from_array(cls, rgb: np.ndarray, name: str = "frame.raw") -> Media:
        """An in-memory image (format ``raw``) from a uint8 (H, W, 3) array, e.g. a decoded
        video frame. It has no file: detectors that read file bytes do not apply to it
        (``raw`` is no file format they know); ``sha256`` is that of the pixel bytes."""
        a = np.asarray(rgb)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3 or 0 in a.shape:
            raise MediaError(Path(name), f"from_array needs a uint8 (H, W, 3) array, not "
                                         f"{a.dtype} {a.shape}")
        a = np.ascontiguousarray(a)
        a.setflags(write=False)
        from PIL import Image

        m = cls(path=Path(name), kind="image", format="raw", size_bytes=int(a.nbytes))
        m.facts.update({"width": int(a.shape[1]), "height": int(a.shape[0]), "mode": "RGB",
                        "n_frames": 1})
        m._rgb = a
        m._pil = Image.fromarray(a)
        m._sha256 = hashlib.sha256(a.tobytes()).hexdigest()
        return m

    def _probe_av(self):
        """Container and stream facts of audio/video files with PyAV (headers only, no decoding)."""
        try:
            import av
        except ImportError:  # pragma: no cover - av is a default dependency
            self.warnings.append("PyAV is not installed: stream facts unavailable")
            return
        try:
            with av.open(str(self.path), metadata_errors="ignore") as c:
                facts: dict[str, Any] = {"container": c.format.name}
                if (cd := container_duration(c)) is not None:
                    facts["duration"] = cd
                streams = []
                for st in c.streams:
                    d: dict[str, Any] = {"index": st.index, "type": st.type,
                                         "codec": st.codec_context.name if st.codec_context else None}
                    if (sd := stream_duration(c, st)) is not None:
                        d["duration"] = sd
                    if st.type == "audio":
                        d["sample_rate"] = st.codec_context.sample_rate
                        d["channels"] = st.codec_context.channels
                        if (bad := audio_params_problem(d["sample_rate"], d["channels"])):
                            d["refused"] = bad
                    elif st.type == "video":
                        d["width"] = st.codec_context.width
                        d["height"] = st.codec_context.height
                        rate = st.average_rate or st.guessed_rate
                        d["fps"] = round(float(rate), 6) if rate else None
                        d["frames"] = st.frames or None
                        if _attached_picture(st):
                            d["attached_pic"] = True  # cover art, not a moving picture
                    streams.append(d)
        except Exception as e:
            raise MediaError(self.path, f"not a readable {self.format} file ({_short(e)})"
                             + _mp4_hint(self.path, self.format)) from None
        if not any(st["type"] in ("audio", "video") for st in streams):
            raise MediaError(self.path, "contains no audio or video stream")
        moving = [st for st in streams if st["type"] == "video" and not st.get("attached_pic")]
        if self.kind == "video" and not moving:
            self.kind = "audio"  # e.g. an MP4 holding only sound (and perhaps cover art)
            self.warnings.append("container holds audio only; analysed as audio")
        elif self.kind == "audio" and self.format == "m4a" and moving:
            self.kind, self.format = "video", "mp4"  # an 'M4A ' brand on a file with a picture
            self.warnings.append("file is branded as M4A audio but holds a video stream; "
                                 "analysed as mp4 video")
        facts["streams"] = streams
        first_audio = next((st for st in streams if st["type"] == "audio"), None)
        if first_audio is not None and self.format in ("wav", "flac", "ogg") \
                and not first_audio.get("refused"):
            first_audio["refused"] = self._soundfile_params_problem()
        if first_audio is not None and first_audio.get("refused"):
            if self.kind == "audio":
                raise MediaError(self.path, f"audio stream {first_audio['refused']}")
            self.warnings.append(f"audio stream {first_audio['refused']}: the sound is not "
                                 "analysed")
        v = next((st for st in streams if st["type"] == "video"), None)
        if v is not None:
            facts["width"], facts["height"] = v["width"], v["height"]
        self.facts.update(facts)

    def _soundfile_params_problem(self) -> str | None:
        """The header check of :func:`audio_params_problem` as libsndfile (which decodes WAV,
        FLAC and Ogg) reads the header: FFmpeg may take the rate from elsewhere (FLAC frame
        headers)."""
        try:
            import soundfile as sf

            info = sf.info(str(self.path))
        except Exception:
            return None  # libsndfile cannot read it: audio() says so when asked
        if info.frames == 0:
            return "is empty (0 samples)"
        return audio_params_problem(info.samplerate, info.channels)

    def _probe_image(self):
        if self.format not in _PIL_FORMATS:
            raise MediaError(self.path, f"{self.format} images are recognised but not decodable "
                                        "in this version")
        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # Header only: Pillow's own bomb check is replaced by ours just below,
                # which names the claimed size. Decoding (pil()) keeps Pillow's check.
                Image.MAX_IMAGE_PIXELS = None
                im = Image.open(self.path)
                w, h = im.size
                info = {"mode": im.mode, "n_frames": getattr(im, "n_frames", 1)}
                im.close()
        except Image.DecompressionBombError:
            raise MediaError(self.path, "image dimensions exceed the pixel limit "
                                        "(possible decompression bomb)") from None
        except Exception as e:  # Pillow raises many types for a broken header
            raise MediaError(self.path, f"not a readable {self.format} image ({_short(e)})") from None
        if w <= 0 or h <= 0:
            raise MediaError(self.path, f"image header claims an empty size {w}x{h}")
        if w * h > self.max_pixels:
            raise MediaError(self.path, f"image header claims {w}x{h} = {w * h / 1e6:.0f} MP, over "
                                        f"the limit of {self.max_pixels / 1e6:.0f} MP (possible "
                                        "decompression bomb; raise --max-pixels to analyse it)")
        self.facts.update({"width": w, "height": h, **info})
        if int(info.get("n_frames") or 1) > 1:  # animated GIF / APNG / WebP, multi-page TIFF
            self.warnings.append(f"{self.format} holds {info['n_frames']} frames; analysed as an "
                                 "image: only the first frame is looked at")

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        """The file name as text that can be written anywhere (see :func:`printable`)."""
        return printable(self.path.name)

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = file_sha256(self.path)
        return self._sha256

    @property
    def width(self) -> int | None:
        return self.facts.get("width")

    @property
    def height(self) -> int | None:
        return self.facts.get("height")

    def read_bytes(self) -> bytes:
        """The whole file, read once and cached (images only; streams are not cached)."""
        if self._bytes is None:
            self._bytes = self.path.read_bytes()
        return self._bytes

    # ------------------------------------------------------------------ decoding
    def pil(self):
        """The decoded first frame as a PIL image (cached). Raises MediaError if broken."""
        if self.kind != "image":
            raise MediaError(self.path, f"is {self.kind}, not an image")
        if self._pil is None:
            self._pil = self._decode()
        return self._pil

    def _decode(self, draft: tuple[int, int] | None = None):
        """The first frame decoded by Pillow (with ``draft``, a JPEG at the smallest DCT scale
        that keeps that size); MediaError if broken or over the pixel limit."""
        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Image.MAX_IMAGE_PIXELS = max(self.max_pixels, DEFAULT_MAX_PIXELS)
                im = Image.open(self.path)
                if draft is not None:
                    im.draft(im.mode, draft)
                im.load()
        except Image.DecompressionBombError:
            raise MediaError(self.path, "image exceeds the pixel limit") from None
        except Exception as e:
            raise MediaError(self.path, f"cannot be decoded: {_short(e)} "
                                        "(truncated or corrupt file?)") from None
        return im

    def rgb(self) -> np.ndarray:
        """The first frame as a read-only uint8 array of shape (H, W, 3) (cached)."""
        if self._rgb is None:
            self._rgb = to_rgb8(self.pil())
            self._rgb.setflags(write=False)
        return self._rgb

    def rgb_at_least(self, long_side: int) -> np.ndarray:
        """The first frame with a long side of at least ``long_side`` pixels, decoded smaller
        when the file allows it: a JPEG is decoded at 1/2, 1/4 or 1/8 of its size by libjpeg's
        DCT scaling, the largest reduction that keeps the long side; anything else, or a JPEG
        that cannot be reduced, is :meth:`rgb` (full size). Not cached; the same errors as
        :meth:`pil`."""
        if self.kind != "image":
            raise MediaError(self.path, f"is {self.kind}, not an image")
        w, h = self.width or 0, self.height or 0
        if (self._rgb is not None or self.format != "jpeg" or not w or not h
                or max(w, h) < 2 * max(1, long_side)):
            return self.rgb()
        r = max(1, long_side) / max(w, h)
        with self._decode((max(1, int(np.ceil(w * r))), max(1, int(np.ceil(h * r))))) as im:
            out = to_rgb8(im)
        out.setflags(write=False)
        return out

    def gray(self) -> np.ndarray:
        """Luma (ITU-R BT.601) as float32 in [0, 255], shape (H, W)."""
        rgb = self.rgb().astype(np.float32)
        return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114

    def decode(self) -> None:
        """Decode now so a broken file fails before any detector runs."""
        if self.kind == "image":
            self.rgb()

    def audio(self, *, mono: bool = False, max_seconds: float | None = None):
        """Decode the (first) audio track: returns (float32 samples of shape (n, channels), rate).

        WAV/FLAC/Ogg go through soundfile, everything else (MP3, AAC, the sound of a video)
        through PyAV. ``max_seconds`` caps what is decoded (the caller should say so in a
        finding). Raises MediaError when there is no audio or it cannot be decoded.
        """
        if self.kind not in ("audio", "video"):
            raise MediaError(self.path, f"is {self.kind}: no audio track")
        st = next((d for d in self.facts.get("streams", ()) if d.get("type") == "audio"), None)
        if st is not None and st.get("refused"):
            raise MediaError(self.path, f"audio stream {st['refused']}")
        key = ("audio", mono, max_seconds)
        cached = getattr(self, "_audio_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            if self.format in ("wav", "flac", "ogg"):
                try:
                    x, sr = self._audio_soundfile(max_seconds)
                except (RuntimeError, OSError) as e:  # libsndfile gave up (e.g. a header
                    x, sr = self._audio_av(max_seconds)  # claiming more than is there):
                    self.warnings.append(f"libsndfile could not read the sound ({_short(e)}); "
                                         "decoded with FFmpeg")  # FFmpeg reads what it can
            else:
                x, sr = self._audio_av(max_seconds)
        except MediaError:
            raise
        except Exception as e:
            raise MediaError(self.path, f"audio cannot be decoded: {_short(e)}") from None
        if x.size == 0:
            raise MediaError(self.path, "audio track is empty (0 samples)")
        if (bad := audio_params_problem(sr, x.shape[1])):
            raise MediaError(self.path, f"decoded audio {bad}")
        if mono and x.shape[1] > 1:
            x = x.mean(axis=1, keepdims=True)
        self._audio_cache = (key, (x, sr))
        return x, sr

    def _audio_soundfile(self, max_seconds):
        """Read in blocks, never trusting the header's frame count for an allocation."""
        import soundfile as sf

        with sf.SoundFile(str(self.path)) as f:
            sr, ch = int(f.samplerate), int(f.channels)
            if (bad := audio_params_problem(sr, ch)):
                raise MediaError(self.path, f"audio stream {bad}")
            limit = self._sample_limit(sr, ch, max_seconds)
            chunks, total = [], 0
            while total < limit:
                try:
                    x = f.read(min(1 << 18, limit - total), dtype="float32", always_2d=True)
                except RuntimeError as e:  # libsndfile: the header claims more than is there
                    if not chunks:
                        raise
                    self.warnings.append(f"audio ends before the length its header claims "
                                         f"({_short(e)}); analysed what was decoded")
                    break
                if not len(x):
                    break
                chunks.append(x)
                total += len(x)
            if total >= limit and f.tell() < f.frames and self._cut_by_samples(sr, ch, max_seconds):
                self._note_sample_cap(limit, sr)
        x = np.concatenate(chunks) if chunks else np.zeros((0, ch), np.float32)
        return x, sr

    @staticmethod
    def _sample_limit(sr: int, ch: int, max_seconds) -> int:
        """Frames one decode may return: the duration cap, and :data:`MAX_AUDIO_SAMPLES`."""
        cap = MAX_AUDIO_SAMPLES // max(1, ch)
        if max_seconds is not None:
            cap = min(cap, max(0, int(max_seconds * sr)))
        return cap

    @staticmethod
    def _cut_by_samples(sr, ch, max_seconds) -> bool:
        return max_seconds is None or int(max_seconds * sr) > MAX_AUDIO_SAMPLES // max(1, ch)

    def _note_sample_cap(self, frames: int, sr: int) -> None:
        msg = (f"audio cut at {frames} frames ({frames / sr:.1f} s): the decoding limit of "
               f"{MAX_AUDIO_SAMPLES} samples")
        if msg not in self.warnings:
            self.warnings.append(msg)

    def _audio_av(self, max_seconds):
        import av

        chunks, sr, total, limit = [], None, 0, None
        with av.open(str(self.path), metadata_errors="ignore") as c:
            if not c.streams.audio:
                raise MediaError(self.path, "has no audio track")
            st = c.streams.audio[0]
            for frame in _decode_tolerant(c, st, self):
                a = frame.to_ndarray()
                if sr is None:
                    sr = frame.sample_rate
                    nch = (frame.layout.nb_channels if hasattr(frame.layout, "nb_channels")
                           else len(frame.layout.channels))
                    if (bad := audio_params_problem(sr, nch)):
                        raise MediaError(self.path, f"decoded audio {bad}")
                    limit = self._sample_limit(sr, nch, max_seconds)
                elif frame.sample_rate != sr:
                    continue  # a rate change mid-stream: keep the first rate's sound only
                if frame.format.is_planar:
                    a = a.T
                else:
                    a = a.reshape(-1, nch)
                if a.shape[1] != nch:
                    continue
                if a.dtype.kind == "i":
                    a = a.astype(np.float32) / float(np.iinfo(a.dtype).max)
                chunks.append(a.astype(np.float32, copy=False))
                total += a.shape[0]
                if total >= limit:
                    if self._cut_by_samples(sr, nch, max_seconds):
                        self._note_sample_cap(limit, sr)
                    break
        if not chunks:
            raise MediaError(self.path, "audio track has no decodable frames")
        x = np.concatenate(chunks, axis=0)
        return x[:limit], int(sr)

    def describe(self) -> dict:
        """The JSON-ready description stored in every report."""
        d = {"path": printable(str(self.path)), "name": self.name, "kind": self.kind, "format": self.format,
             "sha256": self.sha256, "size_bytes": self.size_bytes}
        d.update(self.facts)
        d["warnings"] = list(self.warnings)
        return d


def audio_params_problem(rate, channels) -> str | None:
    """Why an audio stream's sample rate or channel count is refused, or None when both are
    sane (see :data:`MAX_SAMPLE_RATE`, :data:`MAX_CHANNELS`)."""
    try:
        rate, channels = int(rate or 0), int(channels or 0)
    except (TypeError, ValueError):
        return f"declares an unreadable sample rate or channel count ({rate!r}, {channels!r})"
    if not 0 < rate <= MAX_SAMPLE_RATE:
        return f"declares a sample rate of {rate} Hz (accepted: 1 to {MAX_SAMPLE_RATE} Hz)"
    if not 0 < channels <= MAX_CHANNELS:
        return f"declares {channels} channels (accepted: 1 to {MAX_CHANNELS})"
    return None


def printable(text: str) -> str:
    """``text`` (a path) as valid Unicode: bytes of a file name that are not UTF-8 (which Python
    keeps as lone surrogates, and which no UTF-8 file or JSON encoder accepts) become ``\\xNN``
    escapes. Valid names are returned unchanged."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")


def file_sha256(path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks (the media hash, the key of cached bench
    outputs, the check of the files listed in manifests)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_rgb8(im) -> np.ndarray:
    """Convert any Pillow image mode to uint8 RGB, scaling high bit depths (no clipping)."""
    mode = im.mode
    if mode in ("RGB",):
        return np.asarray(im, dtype=np.uint8).copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im).astype(np.float64)
        if mode.startswith("I;16"):
            a = a / 257.0
        else:
            lo, hi = float(a.min()), float(a.max())
            a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
        g = np.clip(np.rint(a), 0, 255).astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        return np.asarray(im.convert("RGBA").convert("RGB"), dtype=np.uint8).copy()
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def _decode_tolerant(container, stream, media):
    """Decoded frames of ``stream``; packets that fail to decode are skipped and counted in
    ``media.facts['audio_decode_errors']`` (a damaged middle does not lose the rest), and a
    demuxer that gives up mid-file (truncation) ends the stream with what was decoded."""
    import av

    errors = 0
    try:
        for pkt in container.demux(stream):
            try:
                frames = pkt.decode()
            except av.error.EOFError:
                break
            except Exception:
                errors += 1
                continue
            yield from frames
    except av.error.FFmpegError:
        errors += 1
    if errors:
        media.facts["audio_decode_errors"] = errors
        msg = f"{errors} damaged audio packet(s) could not be decoded and were skipped"
        if msg not in media.warnings:
            media.warnings.append(msg)


def _mp4_hint(path: Path, fmt: str) -> str:
    """Why an MP4/MOV that FFmpeg refuses is broken, from its box layout ('' when unknown)."""
    if fmt not in ("mp4", "m4a"):
        return ""
    try:
        from veriscope.formats import mp4

        problems = mp4.read(path).problems
    except Exception:
        return ""
    for p in problems:
        if "truncated" in p or "no movie header" in p:
            return f"; {p}"
    return f"; {problems[0]}" if problems else ""


def _tag_seconds(metadata) -> float | None:
    """Seconds from a ``DURATION`` tag ("HH:MM:SS.fffffffff"), or None."""
    try:
        v = (metadata or {}).get("DURATION") or (metadata or {}).get("duration")
        m = re.fullmatch(r"\s*(\d+):([0-5]?\d):(\d+(?:\.\d*)?)\s*", str(v)) if v else None
        if m is None:
            return None
        secs = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    except Exception:
        return None
    return secs if math.isfinite(secs) and secs > 0 else None


def _attached_picture(stream) -> bool:
    try:
        return bool(int(stream.disposition) & int(stream.disposition.__class__.attached_pic))
    except Exception:
        return False


def _is_matroska(container) -> bool:
    return "matroska" in str(getattr(getattr(container, "format", None), "name", "") or "")


def stream_duration(container, stream) -> float | None:
    """Length in seconds of one PyAV stream from its headers, or None.

    Matroska and WebM store no per-stream duration; FFmpeg's muxer (and mkvmerge) write a
    ``DURATION`` tag per track instead, which is used here. Without it a cut or damaged track
    could not be told from the container's duration, that of the longest track. FFmpeg's
    Matroska writer counts that tag (and the segment duration) from timestamp zero, not from
    the first frame, so a track whose timestamps start late has its start subtracted."""
    tb = stream.time_base
    if stream.duration is not None and tb:
        return round(float(stream.duration * tb), 6)
    d = _tag_seconds(stream.metadata)
    if d is None:
        return None
    if _is_matroska(container) and stream.start_time and tb:
        start = float(stream.start_time * tb)
        if 0 < start < d:
            d -= start
    return round(d, 6)


def container_duration(container) -> float | None:
    """The container's duration in seconds (the longest track), or None; for Matroska, counted
    from the first timestamp (see :func:`stream_duration`)."""
    if container.duration is None:
        return None
    d = float(container.duration) / 1_000_000
    if _is_matroska(container) and container.start_time:
        start = float(container.start_time) / 1_000_000
        if 0 < start < d:
            d -= start
    return round(d, 6)


def _short(e: Exception) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg[:200]


def file_mtime_iso(path: Path) -> str:
    import datetime as _dt

    t = os.stat(path).st_mtime
    return _dt.datetime.fromtimestamp(t, tz=_dt.UTC).isoformat(timespec="seconds")
