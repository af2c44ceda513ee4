"""Audio edits of a real talking-head clip, with ground truth (lip-sync benchmark and tests).

The picture is never touched: the video packets are copied as they are (same frames, same
timestamps), only the sound track is rewritten, re-encoded as AAC with the same start time as
the source's. So an edited clip and its source differ by the edit of the sound alone.

Edits (:class:`AVTruth` says what was done, in seconds of the edited clip):

- :func:`shift_audio`: the sound moved by ``k`` video frames. Positive ``k``: the sound is
  delayed (it plays ``k`` frames after the picture; ``k / fps`` s of silence open the track and
  the end is cut); negative: it plays early (the first ``|k|`` frames of sound are dropped and
  silence is added at the end). The track keeps its length.
- :func:`replace_audio`: ``seconds`` of the sound, from ``start``, replaced by a piece of other
  speech (another clip's sound, a WAV), resampled to the host rate, its RMS level matched to the
  replaced part, 10 ms crossfades at both joints.
- ``audio=None`` in :func:`write_av` writes the picture alone (no sound track); an all-zero
  array writes a silent sound track.

``fps`` here is the clip's frame step as the lip-sync detector measures it: one over the
median time between decoded frames (:func:`frame_step`), so that "k frames" means the same thing
on both sides, also for variable-frame-rate files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veriscope.signals.sampling import frame_step, resample  # noqa: F401 (frame_step: part of the generator API)

CROSSFADE_S = 0.01


@dataclass
class AVSource:
    """The sound of a clip and the timing facts needed to edit it."""

    path: Path
    audio: np.ndarray  # (channels, samples) float32
    rate: int
    fps: float  # 1 / median frame step
    video_start: float  # first video timestamp, seconds
    audio_start: float  # first audio timestamp, seconds
    duration: float  # of the video stream, seconds

    @property
    def seconds(self) -> float:
        return self.audio.shape[1] / float(self.rate)


@dataclass
class AVTruth:
    """What was done to the sound of a clip (times in seconds of the edited clip)."""

    kind: str  # "none", "shift", "replace", "silent", "no_audio"
    shift_frames: int = 0  # positive: the sound plays late
    shift_seconds: float = 0.0
    segment: tuple[float, float] | None = None  # replaced stretch, video time
    detail: dict = field(default_factory=dict)


def read_av(path) -> AVSource:
    """Decode the sound of ``path`` (every channel) and read the video timing."""
    import av

    path = Path(path)
    with av.open(str(path)) as c:
        if not c.streams.video:
            raise ValueError(f"{path}: no video stream")
        if not c.streams.audio:
            raise ValueError(f"{path}: no audio stream")
        vs = c.streams.video[0]
        vstart = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.0
        times = []
        for pkt in c.demux(vs):
            if pkt.pts is not None:
                times.append(float(pkt.pts * pkt.time_base))
        times.sort()
        duration = (times[-1] - times[0] + frame_step(times)) if times else 0.0
    audio, rate, astart = read_audio(path)
    return AVSource(path=path, audio=audio, rate=rate, fps=1.0 / frame_step(times),
                    video_start=vstart, audio_start=astart, duration=duration)


def read_audio(path) -> tuple[np.ndarray, int, float]:
    """(channels, samples) float32, sample rate and start time (s) of the first sound track of
    an audio or video file."""
    import av

    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        start = float(s.start_time * s.time_base) if s.start_time is not None else 0.0
        chunks, rate = [], s.codec_context.sample_rate
        for f in c.decode(s):
            a = f.to_ndarray()
            if a.dtype.kind == "i":
                a = a.astype(np.float32) / float(np.iinfo(a.dtype).max)
            if not f.format.is_planar:
                a = a.reshape(-1, len(f.layout.channels)).T
            chunks.append(a.astype(np.float32))
            rate = f.sample_rate
    if not chunks:
        raise ValueError(f"{path}: no decodable audio")
    return np.concatenate(chunks, axis=1), int(rate), start


def shift_audio(audio: np.ndarray, rate: int, k: int, fps: float) -> tuple[np.ndarray, AVTruth]:
    """The sound moved by ``k`` frames (positive: delayed), same length, silence filled in."""
    a = np.atleast_2d(np.asarray(audio, np.float32))
    n = a.shape[1]
    s = int(round(k / float(fps) * rate))
    out = np.zeros_like(a)
    if s >= 0:
        out[:, s:] = a[:, : max(0, n - s)]
    else:
        out[:, : n + s] = a[:, -s:]
    return out, AVTruth("shift", shift_frames=int(k), shift_seconds=s / float(rate),
                        detail={"samples": s, "fps": fps})


def loudest_start(x: np.ndarray, rate: int, seconds: float) -> float:
    """Start (s) of the ``seconds`` long window of ``x`` (channels, n) with the most energy."""
    m = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1]).mean(axis=0)
    w = int(round(seconds * rate))
    if len(m) <= w:
        return 0.0
    c = np.concatenate([[0.0], np.cumsum(m * m)])
    e = c[w:] - c[:-w]
    hop = max(1, rate // 100)
    i = int(np.argmax(e[::hop])) * hop
    return i / float(rate)


def replace_audio(audio: np.ndarray, rate: int, start: float, donor: np.ndarray,
                  donor_rate: int, *, seconds: float = 1.0, donor_start: float | None = None,
                  video_offset: float = 0.0) -> tuple[np.ndarray, AVTruth]:
    """``seconds`` of the sound from ``start`` (video time) replaced by other speech.

    ``donor`` (channels, n) at ``donor_rate``: the piece starts at ``donor_start`` seconds
    (default: the loudest window of that length). Its RMS is scaled to the RMS of the part it
    replaces; 10 ms linear crossfades at both joints. ``video_offset`` = video start - audio
    start of the clip (sample ``i`` of the track plays at video time ``i / rate -
    video_offset``)."""
    a = np.atleast_2d(np.asarray(audio, np.float32)).copy()
    d = np.atleast_2d(np.asarray(donor, np.float32))
    ch = a.shape[0]
    d = d.mean(axis=0, keepdims=True) if d.shape[0] != ch else d
    d = np.repeat(d, ch, axis=0) if d.shape[0] != ch else d
    d = resample(d, donor_rate, rate)
    if donor_start is None:
        donor_start = loudest_start(d, rate, seconds)
    i0 = int(round((start + video_offset) * rate))
    w = int(round(seconds * rate))
    j0 = int(round(donor_start * rate))
    if i0 < 0 or i0 + w > a.shape[1]:
        raise ValueError(f"the replaced part {start:.2f}+{seconds:.2f} s is outside the track")
    if j0 < 0 or j0 + w > d.shape[1]:
        raise ValueError(f"the donor piece {donor_start:.2f}+{seconds:.2f} s is outside the donor")
    piece = d[:, j0:j0 + w].astype(np.float64)
    host = a[:, i0:i0 + w].astype(np.float64)
    rp, rh = float(np.sqrt(np.mean(piece ** 2))), float(np.sqrt(np.mean(host ** 2)))
    gain = rh / rp if rp > 1e-9 else 0.0
    piece *= gain
    f = max(1, int(round(CROSSFADE_S * rate)))
    ramp = np.ones(w)
    ramp[:f] = np.linspace(0.0, 1.0, f)
    ramp[-f:] = np.minimum(ramp[-f:], np.linspace(1.0, 0.0, f))
    a[:, i0:i0 + w] = (host * (1 - ramp) + piece * ramp).astype(np.float32)
    return a, AVTruth("replace", segment=(i0 / rate - video_offset, (i0 + w) / rate - video_offset),
                      detail={"donor_start": round(float(donor_start), 3), "gain": round(gain, 4),
                              "seconds": seconds})


def write_av(src, out, audio: np.ndarray | None, rate: int | None = None, *,
             audio_start: float = 0.0) -> Path:
    """Copy the video packets of ``src`` into ``out`` (MP4) with ``audio`` (channels, n) encoded
    as AAC starting at ``audio_start`` seconds; ``audio=None``: no sound track."""
    from fractions import Fraction

    import av

    out = Path(out)
    with av.open(str(src)) as inp, av.open(str(out), "w") as dst:
        vin = inp.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        ast = None
        if audio is not None:
            a = np.atleast_2d(np.asarray(audio, np.float32))[:2]
            layout = "stereo" if a.shape[0] == 2 else "mono"
            ast = dst.add_stream("aac", rate=int(rate), layout=layout)
            ast.time_base = Fraction(1, int(rate))
        for pkt in inp.demux(vin):
            if pkt.dts is None:
                continue
            pkt.stream = vout
            dst.mux(pkt)
        if ast is not None:
            n = a.shape[1]
            p0 = int(round(audio_start * rate))
            step = 1024
            for i in range(0, n, step):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(a[:, i:i + step]),
                                                format="fltp", layout=layout)
                af.sample_rate = int(rate)
                af.pts = p0 + i
                for p in ast.encode(af):
                    dst.mux(p)
            for p in ast.encode():
                dst.mux(p)
    return out


def make(src, out, kind: str = "none", *, k: int = 0, start: float = 0.0, donor=None,
         seconds: float = 1.0, donor_start: float | None = None) -> AVTruth:
    """Write one edited copy of ``src`` to ``out`` and return its truth.

    kind: "none" (the sound re-encoded unchanged), "shift" (by ``k`` frames), "replace"
    (``seconds`` from ``start`` by ``donor``, a path to an audio or video file),
    "silent" (an all-zero sound track), "no_audio" (picture only)."""
    s = read_av(src)
    off = s.video_start - s.audio_start
    if kind == "none":
        a, truth = s.audio, AVTruth("none")
    elif kind == "shift":
        a, truth = shift_audio(s.audio, s.rate, k, s.fps)
    elif kind == "replace":
        if donor is None:
            raise ValueError("replace needs a donor")
        d, drate, _ = read_audio(donor)
        a, truth = replace_audio(s.audio, s.rate, start, d, drate, seconds=seconds,
                                 donor_start=donor_start, video_offset=off)
        truth.detail["donor"] = Path(donor).name
    elif kind == "silent":
        a, truth = np.zeros_like(s.audio), AVTruth("silent")
    elif kind == "no_audio":
        a, truth = None, AVTruth("no_audio")
    else:
        raise ValueError(f"unknown edit kind {kind!r}")
    write_av(src, out, a, s.rate, audio_start=s.audio_start)
    truth.detail["fps"] = s.fps
    return truth
