"""Make simple face-swap videos from real clips, with ground truth (benchmarks and tests).

:func:`make_swap` takes the face of a *source* clip and pastes it onto the tracked face of a
*target* clip, frame by frame, the way the classic landmark face-swap pipelines do:

1. Faces and 68 landmarks of both clips come from :func:`veriscope.signals.faces.track_faces` (the
   longest track of each clip is used). Source frame ``i`` is pasted on target frame ``i``
   (the source loops when it is shorter).
2. A similarity transform (rotation, uniform scale, shift) fitted on the 68 landmark pairs
   (``cv2.estimateAffinePartial2D``, LMEDS) warps the source frame onto the target face.
3. Optionally the warped face is resampled to ``face_px`` pixels wide and back (a face made at
   low resolution and upscaled, as the auto-encoder swaps do).
4. Mask: the convex hull of the target landmarks, intersected with the warped hull of the
   source landmarks, eroded by ``shrink`` x face width, then feathered with a Gaussian blur of
   ``feather`` x face width (sigma).
5. Optional colour transfer: mean and standard deviation of each LAB channel of the warped
   face are matched to the target's face inside the mask (Reinhard-style).
6. Optional Poisson blending (``cv2.seamlessClone``, normal clone) instead of the feathered
   alpha blend.
7. Optionally the whole frame is scaled (``scale``: smaller faces, as in lower-resolution
   video). The result is written with libx264 (yuv420p, ``crf``, preset veryfast), the target's sound
   re-encoded as AAC when asked.

The unmodified control is :func:`reencode`: the same decode / encode path with no face pasted,
so that a swap and its control differ only by the swap. Ground truth (:class:`SwapTruth`) is the
swapped frames of the target track: their indices, time span and the track's boxes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from veriscope.core.errors import MediaError
from veriscope.core.media import Media


@dataclass
class SwapOptions:
    feather: float = 0.06  # Gaussian sigma of the mask edge, in face widths
    shrink: float = 0.03  # mask erosion before feathering, in face widths
    colour: bool = True  # LAB mean/std colour transfer
    poisson: bool = False  # cv2.seamlessClone instead of the alpha blend
    face_px: int | None = None  # resample the pasted face to this width and back
    crf: int = 23
    audio: bool = True  # copy (re-encode) the target's sound
    scale: float = 1.0  # output frame size over the target's (area interpolation)


@dataclass
class SwapTruth:
    target: str
    source: str | None  # None for the unmodified control
    fps: float
    n_frames: int
    swapped_frames: list[int] = field(default_factory=list)
    start: float | None = None  # seconds, first / last swapped frame
    end: float | None = None
    options: dict = field(default_factory=dict)

    @property
    def fake(self) -> bool:
        return self.source is not None and bool(self.swapped_frames)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["swapped_frames"] = len(self.swapped_frames)
        return d


def _longest(scan):
    if not scan.tracks:
        return None
    tr = max(scan.tracks, key=lambda t: t.n)
    return {int(i): np.asarray(tr.landmarks[k], np.float32)
            for k, i in enumerate(np.asarray(tr.frame_index))}, tr


def _hull_mask(pts: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    m = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(m, hull, 255)
    return m


def _colour_transfer(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match mean / std of each LAB channel of ``face`` to ``target`` inside ``mask``."""
    import cv2

    sel = mask > 127
    if sel.sum() < 50:
        return face
    a = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    b = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    ma, sa = a[sel].mean(axis=0), a[sel].std(axis=0) + 1e-3
    mb, sb = b[sel].mean(axis=0), b[sel].std(axis=0) + 1e-3
    out = (a - ma) * (sb / sa) + mb
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def swap_frame(target: np.ndarray, t_pts: np.ndarray, source: np.ndarray, s_pts: np.ndarray,
               opts: SwapOptions) -> np.ndarray:
    """``target`` (RGB) with the face of ``source`` pasted on it (see the module docstring).

    All work happens in a region of the face box plus 0.4 face widths on each side (the
    feathered mask edge stays well inside it)."""
    import cv2

    h, w = target.shape[:2]
    m, _ = cv2.estimateAffinePartial2D(s_pts.astype(np.float32), t_pts.astype(np.float32),
                                       method=cv2.LMEDS)
    if m is None:
        return target
    fw = float(np.ptp(t_pts[:, 0])) or 1.0
    x0, y0 = np.floor(t_pts.min(axis=0) - 0.4 * fw).astype(int)
    x1, y1 = np.ceil(t_pts.max(axis=0) + 0.4 * fw).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return target
    rw, rh = x1 - x0, y1 - y0
    m_roi = m.copy()
    m_roi[:, 2] -= (x0, y0)  # warp straight into the region's coordinates
    warped = cv2.warpAffine(source, m_roi, (rw, rh), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    base = target[y0:y1, x0:x1]
    off = np.array([x0, y0], np.float32)
    if opts.face_px and float(opts.face_px) < fw:
        s = float(opts.face_px) / fw
        small = cv2.resize(warped, (max(2, round(rw * s)), max(2, round(rh * s))),
                           interpolation=cv2.INTER_AREA)
        warped = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_CUBIC)
    s_warp = s_pts @ m_roi[:, :2].T + m_roi[:, 2]
    mask = cv2.bitwise_and(_hull_mask(t_pts - off, (rh, rw)), _hull_mask(s_warp, (rh, rw)))
    k = int(round(opts.shrink * fw))
    if k > 0:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    if mask.max() == 0:
        return target
    if opts.colour:
        warped = _colour_transfer(warped, base, mask)
    out = target.copy()
    if opts.poisson:
        # seamlessClone wants the mask's bounding box strictly inside the destination
        pad = 2
        big = np.zeros((h, w), np.uint8)
        big[y0:y1, x0:x1] = mask
        big[:pad], big[-pad:], big[:, :pad], big[:, -pad:] = 0, 0, 0, 0
        ys, xs = np.nonzero(big)
        if len(xs):
            src_full = out.copy()
            src_full[y0:y1, x0:x1] = warped
            cx, cy = int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2)
            try:
                return cv2.seamlessClone(src_full, target, big, (cx, cy), cv2.NORMAL_CLONE)
            except cv2.error:  # fall back to the alpha blend
                pass
    sig = max(0.5, opts.feather * fw)
    a = mask.astype(np.float32) * (1.0 / 255.0)
    q = int(min(4, sig // 2)) if sig >= 4 else 1  # wide blurs run at 1/q resolution
    if q > 1:
        a = cv2.resize(a, (max(1, rw // q), max(1, rh // q)), interpolation=cv2.INTER_AREA)
        a = cv2.resize(cv2.GaussianBlur(a, (0, 0), sig / q), (rw, rh), interpolation=cv2.INTER_LINEAR)
    else:
        a = cv2.GaussianBlur(a, (0, 0), sig)
    alpha = a[..., None]
    blend = base.astype(np.float32) * (1.0 - alpha) + warped.astype(np.float32) * alpha
    out[y0:y1, x0:x1] = np.clip(blend + 0.5, 0, 255).astype(np.uint8)
    return out


def make_swap(target, source, out_path, opts: SwapOptions | None = None, *,
              max_seconds: float | None = None) -> SwapTruth:
    """Paste the face of ``source`` on the face of ``target``; write ``out_path`` (mp4).

    ``target`` / ``source`` are paths or opened :class:`Media` (whose face tracks are cached, so
    several swaps of the same clips track them once). ``source=None`` writes the unmodified
    control (same decode / encode path)."""
    import cv2

    from veriscope.core.video import DEFAULT_MAX_SECONDS, iter_frames, stream_info
    from veriscope.signals.faces import track_faces

    opts = opts or SwapOptions()
    cap = float(max_seconds or DEFAULT_MAX_SECONDS)
    tm = target if isinstance(target, Media) else Media.open(target)
    info = stream_info(tm)
    t_lm = None
    sm = None
    s_lm = None
    if source is not None:
        got = _longest(track_faces(tm, max_seconds=cap))
        if got is None:
            raise MediaError(tm.path, "no face found in the target clip")
        t_lm = got[0]
        sm = source if isinstance(source, Media) else Media.open(source)
        got = _longest(track_faces(sm, max_seconds=cap))
        if got is None:
            raise MediaError(sm.path, "no face found in the source clip")
        s_lm = got[0]
    fps = Fraction(info.fps or 25.0).limit_denominator(1001)
    truth = SwapTruth(target=str(tm.path), source=str(sm.path) if sm else None, fps=float(fps),
                      n_frames=0, options=asdict(opts))
    src_iter = None
    last_src = None

    def next_source(i: int):
        nonlocal src_iter, last_src
        for _ in range(2):
            if src_iter is None:
                src_iter = iter_frames(sm, max_seconds=cap)
            fr = next(src_iter, None)
            if fr is None:  # loop the source
                src_iter = None
                continue
            pts = s_lm.get(fr.index)
            if pts is not None:
                last_src = (fr.rgb(), pts)
            fr.release()
            return last_src
        return last_src

    sound = None
    if opts.audio:
        try:
            sound = tm.audio(max_seconds=min(cap, (info.duration or cap) + 1.0))
        except MediaError:
            sound = None
    frames = iter_frames(tm, max_seconds=cap)
    times = []
    with _Writer(out_path, fps, opts.crf, sound) as wr:
        for fr in frames:
            rgb = fr.rgb()
            times.append(fr.time)
            if sm is not None:
                src = next_source(fr.index)
                pts = t_lm.get(fr.index)
                if src is not None and pts is not None:
                    rgb = swap_frame(rgb, pts, src[0], src[1], opts)
                    truth.swapped_frames.append(fr.index)
            if opts.scale != 1.0:
                h, w = rgb.shape[:2]
                rgb = cv2.resize(rgb, (max(2, round(w * opts.scale)), max(2, round(h * opts.scale))),
                                 interpolation=cv2.INTER_AREA if opts.scale < 1 else cv2.INTER_CUBIC)
            wr.write(rgb)
            fr.release()
            truth.n_frames += 1
        wr.duration = (len(times) / float(fps)) if times else 0.0
    if truth.swapped_frames:
        truth.start = float(times[truth.swapped_frames[0]])
        truth.end = float(times[truth.swapped_frames[-1]])
    return truth


def reencode(target, out_path, *, crf: int = 23, audio: bool = True, scale: float = 1.0,
             max_seconds: float | None = None) -> SwapTruth:
    """The unmodified control: ``target`` decoded and re-encoded like a swap."""
    return make_swap(target, None, out_path, SwapOptions(crf=crf, audio=audio, scale=scale),
                     max_seconds=max_seconds)


class _Writer:
    """Streaming H.264 (yuv420p) writer; frames are cropped to even sizes."""

    def __init__(self, path, fps: Fraction, crf: int, sound=None):
        self.path, self.fps, self.crf = Path(path), fps, int(crf)
        self.c = None
        self.vs = None
        self.sound = sound  # (samples (n, ch) float32, rate) or None
        self.duration = None
        self._audio = None

    def __enter__(self):
        import av

        self.c = av.open(str(self.path), "w")
        return self

    def write(self, rgb: np.ndarray):
        import av

        if self.vs is None:
            h, w = rgb.shape[:2]
            self.vs = self.c.add_stream("libx264", rate=self.fps)
            self.vs.width, self.vs.height, self.vs.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
            self.vs.options = {"crf": str(self.crf), "preset": "veryfast"}
            if self.sound is not None:  # every stream must exist before the first packet
                x, rate = self.sound
                a = np.ascontiguousarray(np.asarray(x, np.float32).T[:2])
                layout = "stereo" if a.shape[0] >= 2 else "mono"
                st = self.c.add_stream("aac", rate=int(rate), layout=layout)
                self._audio = (st, a, int(rate), layout)
        fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: self.vs.height, : self.vs.width]),
                                        format="rgb24")
        for p in self.vs.encode(fr):
            self.c.mux(p)

    def __exit__(self, *exc):
        import av

        try:
            if self.vs is not None:
                for p in self.vs.encode():
                    self.c.mux(p)
            if self._audio is not None and exc[0] is None:
                st, a, rate, layout = self._audio
                if self.duration is not None:
                    a = a[:, : int(round(self.duration * rate))]
                for i in range(0, a.shape[1], 1024):
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(a[:, i:i + 1024]),
                                                    format="fltp", layout=layout)
                    af.sample_rate = rate
                    af.pts = i
                    for p in st.encode(af):
                        self.c.mux(p)
                for p in st.encode():
                    self.c.mux(p)
        finally:
            self.c.close()
        return False
