"""Make inter-frame edits to a real clip, with ground truth (benchmarks and tests).

:func:`make_edit` decodes a clip with PyAV, applies one edit to its frame sequence and writes the
result with libx264 (same frame rate; the sound track, when asked for, gets the same edit in
samples and is re-encoded as AAC). The unedited control is made with ``kind="none"``: the same
decode / scale / crop / re-encode path, so that edited and unedited clips differ only by the edit.

Edit kinds (``k`` frames, at frame ``at`` of the source):

- ``"duplicate"``: frames at..at+k-1 are repeated right after themselves (a copied run).
- ``"freeze"``: frame at is repeated k more times (a frozen picture).
- ``"delete"``: frames at..at+k-1 are removed.
- ``"insert"``: k frames from ``other`` (another clip, scaled to fit) are inserted before frame at.
- ``"insert_far"``: k frames from far away in the same clip are inserted before frame at.

Ground truth (:class:`EditTruth`) is given in the edited clip: the frame indices of the added
frames (duplicate / freeze / insert), or, for a deletion, the junction: the first frame after
the removed ones. Its ``segment`` in seconds is ``[start_index / fps, (end_index + 1) / fps]``;
a deletion, which has no duration in the edited clip, gets the *junction window*
``junction_time +- JUNCTION_HALF_S`` (the detector reports deletions the same way, so that a
temporal IoU can be computed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

KINDS = ("none", "duplicate", "freeze", "delete", "insert", "insert_far")
JUNCTION_HALF_S = 0.2
"""Half width of the time window given to a deletion junction (ground truth and detector)."""


@dataclass
class Clip:
    """Decoded frames of a clip (RGB uint8, all of one size) and its timing / sound."""

    frames: list[np.ndarray]
    fps: Fraction
    audio: np.ndarray | None = None  # (channels, samples) float32
    rate: int | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.frames[0].shape[:2] if self.frames else (0, 0)


@dataclass
class EditTruth:
    """Where the edit is in the edited clip."""

    kind: str
    k: int
    fps: float
    n_frames: int  # frames of the edited clip
    start_index: int | None = None  # first added frame / junction frame; None for "none"
    end_index: int | None = None  # last added frame (inclusive); = start_index for delete
    source_index: int | None = None  # where the added frames come from (source clip frames)
    detail: dict = field(default_factory=dict)

    @property
    def segment(self) -> tuple[float, float] | None:
        if self.start_index is None:
            return None
        if self.kind == "delete":
            t = self.start_index / self.fps
            return (max(0.0, t - JUNCTION_HALF_S), t + JUNCTION_HALF_S)
        return (self.start_index / self.fps, (self.end_index + 1) / self.fps)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["segment"] = self.segment
        return d


def _even(x: int) -> int:
    return max(2, int(x) // 2 * 2)


def read_clip(path, *, max_side: int | None = None, max_frames: int | None = None,
              crop: tuple[int, int, int, int] | None = None, audio: bool = False) -> Clip:
    """Decode a clip. ``crop`` = (x, y, w, h) in source pixels is applied before scaling to
    ``max_side``; the size is rounded to even numbers (for yuv420p)."""
    import av
    import cv2

    frames: list[np.ndarray] = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fps = Fraction(s.average_rate or s.guessed_rate or 25).limit_denominator(1001)
        for f in c.decode(s):
            rgb = f.to_ndarray(format="rgb24")
            if crop is not None:
                x, y, w, h = crop
                rgb = rgb[y:y + h, x:x + w]
            h, w = rgb.shape[:2]
            sc = 1.0 if not max_side or max(h, w) <= max_side else max_side / float(max(h, w))
            nw, nh = _even(round(w * sc)), _even(round(h * sc))
            if (nw, nh) != (w, h):
                rgb = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
            frames.append(np.ascontiguousarray(rgb))
            if max_frames and len(frames) >= max_frames:
                break
    if not frames:
        raise ValueError(f"{path}: no video frames")
    clip = Clip(frames=frames, fps=fps)
    if audio:
        clip.audio, clip.rate = _read_audio(path, len(frames) / float(fps))
    return clip


def _read_audio(path, max_seconds: float):
    import av

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None, None
        s = c.streams.audio[0]
        rate = s.codec_context.sample_rate
        chunks = []
        for f in c.decode(s):
            a = f.to_ndarray()
            if a.dtype.kind == "i":
                a = a.astype(np.float32) / float(np.iinfo(a.dtype).max)
            if not f.format.is_planar:  # packed: (1, samples * channels)
                a = a.reshape(-1, len(f.layout.channels)).T
            chunks.append(a.astype(np.float32))
        if not chunks:
            return None, None
        a = np.concatenate(chunks, axis=1)
        return a[:, : int(round(max_seconds * rate))], rate


def write_clip(clip: Clip, path, *, crf: int = 20, preset: str = "veryfast",
               gop: int | None = None) -> Path:
    """Encode ``clip`` as H.264 (yuv420p) MP4, with AAC sound when the clip has some.

    ``gop``: keyframe interval in frames (libx264's default, 250, when None)."""
    import av

    path = Path(path)
    h, w = clip.shape
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=clip.fps)
        vs.width, vs.height, vs.pix_fmt = _even(w), _even(h), "yuv420p"
        vs.options = {"crf": str(crf), "preset": preset}
        if gop:
            vs.options = {**vs.options, "g": str(int(gop)), "keyint_min": str(int(gop))}
        astream = None
        if clip.audio is not None and clip.rate:
            ch = clip.audio.shape[0]
            astream = out.add_stream("aac", rate=clip.rate, layout="stereo" if ch >= 2 else "mono")
        for rgb in clip.frames:
            fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: vs.height, : vs.width]),
                                            format="rgb24")
            for p in vs.encode(fr):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if astream is not None:
            a = np.ascontiguousarray(clip.audio[:2].astype(np.float32))
            step = 1024
            for i in range(0, a.shape[1], step):
                chunk = np.ascontiguousarray(a[:, i:i + step])
                af = av.AudioFrame.from_ndarray(chunk, format="fltp",
                                                layout="stereo" if a.shape[0] >= 2 else "mono")
                af.sample_rate = clip.rate
                af.pts = i
                for p in astream.encode(af):
                    out.mux(p)
            for p in astream.encode():
                out.mux(p)
    return path


def _audio_span(clip: Clip, a: int, b: int) -> tuple[int, int]:
    r = clip.rate / float(clip.fps)
    return int(round(a * r)), int(round(b * r))


def apply_edit(clip: Clip, kind: str, k: int, at: int, *, other: Clip | None = None,
               source: int | None = None) -> tuple[Clip, EditTruth]:
    """The edited clip and its ground truth (see the module docstring)."""
    import cv2

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    fr = clip.frames
    n = len(fr)
    fps = float(clip.fps)
    k = int(k)
    if kind != "none" and not (1 <= at < n and k >= 1):
        raise ValueError(f"edit position {at} / k={k} out of range for {n} frames")
    au = clip.audio
    new_audio = au
    src = None
    if kind == "none":
        out = list(fr)
        truth = EditTruth(kind, 0, fps, n)
    elif kind == "duplicate":
        if at + k > n:
            raise ValueError("duplicate run runs past the end")
        out = fr[: at + k] + fr[at: at + k] + fr[at + k:]
        truth = EditTruth(kind, k, fps, len(out), at + k, at + 2 * k - 1, at)
        if au is not None:
            a0, a1 = _audio_span(clip, at, at + k)
            new_audio = np.concatenate([au[:, :a1], au[:, a0:a1], au[:, a1:]], axis=1)
    elif kind == "freeze":
        out = fr[: at + 1] + [fr[at]] * k + fr[at + 1:]
        truth = EditTruth(kind, k, fps, len(out), at + 1, at + k, at)
        if au is not None:
            a0, a1 = _audio_span(clip, at + 1, at + 1 + k)
            new_audio = np.concatenate([au[:, :a0], np.zeros((au.shape[0], a1 - a0), au.dtype),
                                        au[:, a0:]], axis=1)
    elif kind == "delete":
        if at + k >= n:
            raise ValueError("deletion runs past the end")
        out = fr[:at] + fr[at + k:]
        truth = EditTruth(kind, k, fps, len(out), at, at, at)
        if au is not None:
            a0, a1 = _audio_span(clip, at, at + k)
            new_audio = np.concatenate([au[:, :a0], au[:, a1:]], axis=1)
    else:
        if kind == "insert":
            if other is None:
                raise ValueError("insert needs another clip")
            h, w = clip.shape
            s0 = 0 if source is None else int(source)
            pool = other.frames[s0: s0 + k]
            if len(pool) < k:
                raise ValueError("other clip is too short")
            ins = [cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA) if x.shape[:2] != (h, w)
                   else x for x in pool]
            src = s0
        else:
            # far away: the run farthest from `at` that fits
            s0 = int(source) if source is not None else (n - k if at < n / 2 else 0)
            if s0 < 0 or s0 + k > n:
                raise ValueError("insert_far source run out of range")
            ins = fr[s0: s0 + k]
            src = s0
        out = fr[:at] + list(ins) + fr[at:]
        truth = EditTruth(kind, k, fps, len(out), at, at + k - 1, src)
        if au is not None:
            a0, a1 = _audio_span(clip, at, at + k)
            if kind == "insert_far":
                b0, b1 = _audio_span(clip, src, src + k)
                piece = au[:, b0:b1]
            else:
                piece = np.zeros((au.shape[0], a1 - a0), au.dtype)
            new_audio = np.concatenate([au[:, :a0], piece, au[:, a0:]], axis=1)
    return Clip(frames=out, fps=clip.fps, audio=new_audio, rate=clip.rate), truth


def make_edit(src, dst, kind: str, k: int, *, at: int | None = None, other=None,
              source: int | None = None, seed: int = 0, max_side: int | None = 640,
              max_frames: int | None = None, crop=None, audio: bool = False,
              crf: int = 20, gop: int | None = None) -> EditTruth:
    """Read ``src`` (a path or a :class:`Clip`), edit it, write ``dst``; returns the truth.

    ``at`` defaults to a random frame (``seed``) in the middle 60% of the clip. ``other`` is a
    path or Clip (for ``"insert"``)."""
    clip = src if isinstance(src, Clip) else read_clip(src, max_side=max_side,
                                                      max_frames=max_frames, crop=crop,
                                                      audio=audio)
    n = len(clip.frames)
    if at is None:
        rng = np.random.default_rng(seed)
        lo, hi = int(0.2 * n), max(int(0.2 * n) + 1, int(0.8 * n) - k)
        at = int(rng.integers(lo, hi))
    oth = None
    if kind == "insert":
        oth = other if isinstance(other, Clip) else read_clip(other, max_side=max_side,
                                                             max_frames=(source or 0) + k + 1)
    edited, truth = apply_edit(clip, kind, k, at, other=oth, source=source)
    write_clip(edited, dst, crf=crf, gop=gop)
    return truth
