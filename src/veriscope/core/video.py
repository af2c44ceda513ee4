"""Streaming video access shared by the video detectors.

Frames are decoded with PyAV one at a time (no system ffmpeg, nothing loaded whole), so memory
stays flat with duration. Three building blocks:

- :func:`iter_frames` streams frames (optionally only some of them converted to RGB), survives
  corrupted packets mid-stream, applies the display rotation, and stops at a duration cap.
- :class:`SamplingPolicy` says which frames the image detectors look at: ``fps`` frames per
  second (default 1) or ``frames`` evenly spread frames, plus every shot keyframe.
- :func:`scan` makes one cached pass over every frame and keeps only small per-frame features
  (timestamps, codec frame type and packet size, a 64x64 grey thumbnail, a colour histogram, the
  difference to the previous frame). Shot and frame-edit analysis read this instead of decoding
  again.

Times are seconds from the first video frame (``pts * time_base - start``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veriscope.core.errors import MediaError
from veriscope.core.media import Media, container_duration, stream_duration

DEFAULT_MAX_SECONDS = 600.0
"""Analysed duration cap for video (seconds). Longer files are analysed up to the cap and the
detectors say so in a ``video.duration_capped`` finding."""

DEFAULT_MAX_FRAMES = 36_000
"""Decoded frames cap per pass (600 s at 60 fps). A file of very many tiny frames (a hostile
one, or high-speed footage) is analysed up to the cap, like a long one: ``DecodeLog.capped``
and ``DecodeLog.frame_capped`` say so. It bounds the time of a pass and the memory of
:func:`scan` (about 4.3 KB per frame kept)."""

THUMB = 64  # side of the grey thumbnails kept per frame by scan()
SCAN_SIDE = 160  # frames are scaled to this longer side for the per-frame features
HIST_BINS = 16  # per channel, HSV hue / saturation / value


@dataclass
class SamplingPolicy:
    """Which frames the frame-level (image) detectors analyse.

    ``fps``: frames per second of video time (default 1.0); ``frames``: instead, this many frames
    spread evenly over the analysed duration. Shot keyframes are always added. ``max_seconds``
    caps the analysed duration.
    """

    fps: float | None = 1.0
    frames: int | None = None
    keyframes: bool = True
    max_seconds: float = DEFAULT_MAX_SECONDS

    def __post_init__(self):
        if self.frames is not None and self.frames < 1:
            raise ValueError("frames must be >= 1")
        if self.fps is not None and not self.fps > 0:
            raise ValueError("fps must be > 0")
        if self.max_seconds is None or not self.max_seconds > 0:
            raise ValueError("max_seconds must be > 0")

    def times(self, duration: float) -> list[float]:
        """Sample times in seconds for a video of ``duration`` seconds (before keyframes)."""
        d = max(0.0, min(duration, self.max_seconds))
        if self.frames is not None:
            n = self.frames
            return [d * (i + 0.5) / n for i in range(n)]
        step = 1.0 / float(self.fps or 1.0)
        n = max(1, int(np.floor(d / step + 1e-9)))
        return [min(d, (i + 0.5) * step) for i in range(n)]

    def describe(self) -> dict:
        return {"fps": self.fps, "frames": self.frames, "keyframes": self.keyframes,
                "max_seconds": self.max_seconds}


def analysed_seconds(media: Media, cap: float) -> float:
    """Seconds of video a detector will look at under the cap (the total for progress bars):
    the header duration when known, capped; the cap itself otherwise."""
    dur = float(media.facts.get("duration") or 0.0)
    return min(dur, cap) if dur > 0 else cap


def policy_from(ctx) -> SamplingPolicy:
    """The sampling policy of a run (``Context.video`` options), defaults otherwise."""
    o = dict(getattr(ctx, "video", None) or {})
    return SamplingPolicy(fps=o.get("fps", 1.0) if o.get("frames") is None else None,
                          frames=o.get("frames"), keyframes=o.get("keyframes", True),
                          max_seconds=float(o.get("max_seconds", DEFAULT_MAX_SECONDS)))


@dataclass
class Frame:
    """One decoded video frame."""

    index: int  # 0-based position in presentation order among decoded frames
    time: float  # seconds from the first frame
    key: bool  # codec keyframe (I frame that starts a GOP)
    pict_type: str  # "I", "P", "B" or "?"
    packet_size: int | None  # bytes of the compressed frame when known
    _av: Any = field(default=None, repr=False)
    _rotation: int = 0
    _rgb: dict = field(default_factory=dict, repr=False)

    def rgb(self, max_side: int | None = None) -> np.ndarray:
        """(H, W, 3) uint8 with the display rotation applied; converted on first use, cached.

        ``max_side`` scales down (area interpolation in the converter, cheaper than converting
        the full frame) so the longer side is at most that."""
        if max_side in self._rgb:
            return self._rgb[max_side]
        if None in self._rgb or not max_side:
            full = self._rgb.get(None)
            if full is None:
                full = self._convert(format="rgb24")
                if self._rotation:
                    full = _rotate(full, self._rotation)
                self._rgb[None] = full
            if not max_side or max(full.shape[:2]) <= max_side:
                return full
            out = _downscale(full, max_side)
        else:
            w, h = self._av.width, self._av.height
            if max(w, h) <= max_side:
                return self.rgb(None)
            s = max_side / float(max(w, h))
            out = self._convert(width=max(2, round(w * s)), height=max(2, round(h * s)),
                                format="rgb24", interpolation="AREA")
            if self._rotation:
                out = _rotate(out, self._rotation)
        self._rgb[max_side] = out
        return out

    def _convert(self, **kw) -> np.ndarray:
        """``to_ndarray`` of the decoded frame. A damaged stream can declare a colour space
        the converter refuses (FFmpeg: 'Operation not supported'); it is then read as BT.601,
        and a frame that still cannot be converted raises MediaError (found by fuzzing)."""
        import av

        try:
            return self._av.to_ndarray(**kw)
        except av.error.FFmpegError:
            pass
        try:
            return self._av.to_ndarray(src_colorspace="ITU601", **kw)
        except av.error.FFmpegError as e:
            raise MediaError(f"video frame {self.index}", f"cannot be converted to pixels "
                                                          f"({type(e).__name__}: {e})") from None

    def gray(self) -> np.ndarray:
        """(H, W) uint8 luma at full size with the display rotation applied (cheap: no colour
        conversion); cached."""
        g = self._rgb.get("gray")
        if g is None:
            g = self._convert(format="gray")
            if self._rotation:
                g = _rotate(g, self._rotation)
            self._rgb["gray"] = g
        return g

    def release(self) -> None:
        """Drop the decoded picture (keep memory flat when frames are held)."""
        self._av = None
        self._rgb.clear()


@dataclass
class StreamInfo:
    """Facts about the first video stream, read from headers."""

    width: int
    height: int
    fps: float | None
    frames: int | None
    duration: float | None
    codec: str | None
    rotation: int = 0
    time_base: float | None = None
    start: float = 0.0


@dataclass
class DecodeLog:
    """What happened while streaming: decode errors, whether the cap stopped us."""

    frames: int = 0
    errors: int = 0
    first_error: str | None = None
    error_times: list[float] = field(default_factory=list)
    capped: bool = False
    last_time: float = 0.0
    next_time: float | None = None  # when capped: time of the first frame past the cap
    frame_capped: bool = False  # capped by the number of frames, not the duration


def cap_note(log: DecodeLog, max_seconds: float) -> str:
    """What a capped pass analysed, for a finding: the duration cap, or the frame cap (with
    the seconds the frames covered)."""
    if log.frame_capped:
        return (f"Only the first {log.frames} frames ({log.last_time:.3g} s) were analysed "
                "(frame cap).")
    return f"Only the first {max_seconds:g} s were analysed."


def stream_info(media: Media) -> StreamInfo:
    """Header facts of the first video stream (raises MediaError if there is none)."""
    if media.kind != "video":
        raise MediaError(media.path, f"is {media.kind}, not video")
    import av

    try:
        with av.open(str(media.path), metadata_errors="ignore") as c:
            if not c.streams.video:
                raise MediaError(media.path, "has no video stream")
            s = c.streams.video[0]
            rate = s.average_rate or s.guessed_rate
            dur = stream_duration(c, s)  # Matroska / WebM: from the track's DURATION tag
            if dur is None:
                dur = container_duration(c)
            start = float(s.start_time * s.time_base) if s.start_time is not None and s.time_base else 0.0
            return StreamInfo(width=s.codec_context.width, height=s.codec_context.height,
                              fps=float(rate) if rate else None, frames=s.frames or None,
                              duration=dur, codec=s.codec_context.name,
                              rotation=_stream_rotation(s),
                              time_base=float(s.time_base) if s.time_base else None, start=start)
    except MediaError:
        raise
    except Exception as e:
        raise MediaError(media.path, f"video stream cannot be read ({type(e).__name__}: {e})") from None


def _stream_rotation(s) -> int:
    try:
        v = s.metadata.get("rotate")
        if v is not None:
            return int(v) % 360
    except Exception:
        pass
    return 0


def _rotate(rgb: np.ndarray, rotation: int) -> np.ndarray:
    # PyAV's frame.rotation is the display matrix angle, counter-clockwise in degrees.
    r = int(round(rotation / 90.0)) % 4
    if r == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k=r))


def iter_frames(media: Media, *, max_seconds: float = DEFAULT_MAX_SECONDS,
                log: DecodeLog | None = None,
                progress: Callable[[float], None] | None = None,
                max_frames: int = DEFAULT_MAX_FRAMES) -> Iterator[Frame]:
    """Stream frames of the first video stream in presentation order.

    Each :class:`Frame` converts to RGB only when asked (``frame.rgb()``), so frames that are
    not looked at cost only their decoding. Packets that fail to decode are counted in ``log``
    (those frames are missing) and decoding goes on; the stream stops at ``max_seconds`` or
    after ``max_frames`` frames (``log.capped``; ``log.frame_capped`` for the latter).
    ``progress(t)`` is called with the time of each frame.
    """
    import av

    log = log if log is not None else DecodeLog()
    try:
        container = av.open(str(media.path), metadata_errors="ignore")
    except Exception as e:
        raise MediaError(media.path, f"video cannot be opened ({type(e).__name__}: {e})") from None
    with container as c:
        if not c.streams.video:
            raise MediaError(media.path, "has no video stream")
        s = c.streams.video[0]
        w, h = s.codec_context.width or 0, s.codec_context.height or 0
        if w * h > media.max_pixels:  # every decoded frame would be this big: refuse
            raise MediaError(media.path, f"video frames are {w}x{h} = {w * h / 1e6:.0f} MP, over "
                                         f"the limit of {media.max_pixels / 1e6:.0f} MP")
        s.thread_type = "AUTO"
        tb = float(s.time_base) if s.time_base else None
        start = None
        idx = 0
        pending_sizes: dict[int, int] = {}
        try:
            packets = c.demux(s)
            for pkt in packets:
                if pkt.pts is not None and pkt.size:
                    pending_sizes[pkt.pts] = pkt.size
                try:
                    frames = pkt.decode()
                except av.error.EOFError:
                    break
                except Exception as e:  # corrupt packet: count it and go on
                    log.errors += 1
                    log.first_error = log.first_error or f"{type(e).__name__}: {e}"
                    if pkt.pts is not None and tb:
                        log.error_times.append(pkt.pts * tb - (start or 0.0))
                    continue
                for f in frames:
                    t_abs = f.time if f.time is not None else (idx / float(s.average_rate or 25))
                    if start is None:
                        start = t_abs
                    t = max(0.0, t_abs - start)
                    if t > max_seconds or idx >= max_frames:
                        log.capped = True
                        log.frame_capped = t <= max_seconds
                        log.next_time = t
                        return
                    ps = pending_sizes.pop(f.pts, None) if f.pts is not None else None
                    if len(pending_sizes) > 512:
                        pending_sizes.clear()
                    pt = _PICT.get(int(f.pict_type), "?") if isinstance(f.pict_type, int) else \
                        (getattr(f.pict_type, "name", None) or "?")
                    fr = Frame(index=idx, time=t, key=bool(f.key_frame), pict_type=pt[:1] if pt else "?",
                               packet_size=ps, _av=f, _rotation=int(getattr(f, "rotation", 0) or 0))
                    idx += 1
                    log.frames = idx
                    log.last_time = t
                    if progress is not None:
                        progress(t)
                    yield fr
        except MediaError:
            raise
        except av.error.FFmpegError as e:  # demuxer gave up (truncated file): keep what we have
            log.errors += 1
            log.first_error = log.first_error or f"{type(e).__name__}: {e}"
    if log.frames == 0:
        raise MediaError(media.path, "video stream has no decodable frames"
                         + (f" ({log.first_error})" if log.first_error else ""))


_PICT = {1: "I", 2: "P", 3: "B", 4: "S", 5: "I", 6: "P", 7: "B"}


def _downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    s = max_side / float(max(h, w))
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


@dataclass
class Scan:
    """Per-frame features of one pass over a video (see :func:`scan`)."""

    times: np.ndarray  # (n,) float64 seconds
    key: np.ndarray  # (n,) bool codec keyframes
    pict: np.ndarray  # (n,) "<U1" frame types
    packet_size: np.ndarray  # (n,) float64 bytes, nan when unknown
    thumbs: np.ndarray  # (n, THUMB, THUMB) uint8 grey thumbnails
    hists: np.ndarray  # (n, 3 * HIST_BINS) float32 HSV histograms, each channel sums to 1
    diff_prev: np.ndarray  # (n,) float32 mean abs grey difference to the previous frame (0..255)
    exact_dup: np.ndarray  # (n,) bool frame identical to the previous one (at SCAN_SIDE scale)
    width: int
    height: int
    fps: float | None
    log: DecodeLog
    max_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.times)

    @property
    def duration(self) -> float:
        if self.n == 0:
            return 0.0
        step = float(np.median(np.diff(self.times))) if self.n > 1 else (1.0 / (self.fps or 25.0))
        return float(self.times[-1] + step)


def scan(media: Media, *, max_seconds: float = DEFAULT_MAX_SECONDS,
         progress: Callable[[float], None] | None = None) -> Scan:
    """One pass over all frames keeping small features; cached on ``media`` per cap."""
    import cv2

    cache = media.__dict__.setdefault("_video_cache", {})
    key = ("scan", float(max_seconds))
    if key in cache:
        return cache[key]
    info = stream_info(media)
    log = DecodeLog()
    times, keys, picts, sizes, thumbs, hists, diffs, dups = [], [], [], [], [], [], [], []
    prev_small = None
    for fr in iter_frames(media, max_seconds=max_seconds, log=log, progress=progress):
        small = fr.rgb(max_side=SCAN_SIDE)
        gsmall = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        thumbs.append(cv2.resize(gsmall, (THUMB, THUMB), interpolation=cv2.INTER_AREA))
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        hh = [cv2.calcHist([hsv], [c], None, [HIST_BINS], [0, 180 if c == 0 else 256]).ravel()
              for c in range(3)]
        hv = np.concatenate([x / max(1.0, float(x.sum())) for x in hh]).astype(np.float32)
        hists.append(hv)
        if prev_small is not None and prev_small.shape == gsmall.shape:
            d = cv2.absdiff(gsmall, prev_small)
            diffs.append(float(d.mean()))
            dups.append(bool(d.max() == 0))
        else:
            diffs.append(np.nan)
            dups.append(False)
        prev_small = gsmall
        times.append(fr.time)
        keys.append(fr.key)
        picts.append(fr.pict_type)
        sizes.append(np.nan if fr.packet_size is None else float(fr.packet_size))
    res = Scan(times=np.asarray(times, dtype=np.float64), key=np.asarray(keys, dtype=bool),
               pict=np.asarray(picts, dtype="<U1"), packet_size=np.asarray(sizes, dtype=np.float64),
               thumbs=np.stack(thumbs) if thumbs else np.zeros((0, THUMB, THUMB), np.uint8),
               hists=np.stack(hists) if hists else np.zeros((0, 3 * HIST_BINS), np.float32),
               diff_prev=np.asarray(diffs, dtype=np.float32), exact_dup=np.asarray(dups, dtype=bool),
               width=info.width, height=info.height, fps=info.fps, log=log, max_seconds=max_seconds)
    cache[key] = res
    return res


def frames_at(media: Media, times: list[float], *, max_seconds: float = DEFAULT_MAX_SECONDS,
              log: DecodeLog | None = None,
              progress: Callable[[float], None] | None = None) -> Iterator[Frame]:
    """Stream the frame nearest to each of ``times`` (sorted; a frame nearest to several times
    is yielded once).

    Decodes sequentially (no seeking: exact and robust on damaged files); only the frames the
    caller converts with ``frame.rgb()`` cost more than decoding.
    """
    targets = sorted(set(float(t) for t in times if t <= max_seconds + 1e-9))
    if not targets:
        return
    j = 0
    prev: Frame | None = None
    for fr in iter_frames(media, max_seconds=max_seconds, log=log, progress=progress):
        if prev is not None:
            emitted = False
            while j < len(targets) and abs(prev.time - targets[j]) <= abs(fr.time - targets[j]):
                if not emitted:
                    yield prev
                    emitted = True
                j += 1
            if j >= len(targets):
                return
            prev.release() if not emitted else None
        prev = fr
    if prev is not None and j < len(targets):
        yield prev
