"""Frame-level image forensics over a video: the image detectors run on sampled frames.

Which frames (the sampling policy, :class:`veriscope.core.video.SamplingPolicy`, set with
``veriscope analyze --sample-fps F`` / ``--sample-frames N`` / ``--max-video-seconds S``):

1. Regular samples: ``fps`` frames per second of video (default 1), or ``frames`` frames spread
   evenly, each the decoded frame nearest to the sample time, up to ``max_seconds``.
2. Keyframes, always: the keyframe of every shot from :func:`veriscope.signals.shots.detect_shots`
   (data ``keyframe_source: "shots"``), or, when that module is not installed, the codec
   keyframes read from the packets (``"codec"``). When there are more keyframes than regular
   samples, only as many as there are regular samples are added: those farthest from any
   regular sample (so keyframes at most double the work).

Which detectors (``ctx.opts("video_frames")["detectors"]``, a list or comma-separated names):
:data:`DEFAULT_FRAME_DETECTORS`. A decoded frame of a lossy video is not a JPEG file (no
quantization tables, no EXIF, no C2PA manifest: jpeg_dq / jpeg_ndq / jpeg_ghost / jpeg_tables /
metadata / c2pa do not apply), and its colour-filter-array traces are gone after 4:2:0 chroma
subsampling and the codec's filtering (cfa finds none). The default set was chosen by per-frame
cost at 720p and by how often each detector flags frames of unedited videos; the measurements
(on the shared real videos, so not an independent evaluation) are in docs/benchmarks.md
("Video"). Frames are analysed at their full size (the image detectors bound their own cost:
noise and splicebuster work on at most 1 MP, resampling tiles the frame). Scaling frames down
here would itself leave resampling traces: at 1280 px, every frame of three 1080p videos
scored 0.65-0.69 in resampling. Option ``max_side`` downscales anyway (with a finding).

Outputs:

- ``data["curves"]``: per detector ``{"t": [...], "score": [...]}`` over the analysed frames;
  ``data["curve"]``: the maximum over detectors at each time.
- ``segments``: per detector, each run of consecutive analysed frames scoring >= 0.5 becomes one
  segment (label = detector name) covering the time closer to those frames than to the
  neighbouring analysed frames; its score is the mean of its frames' scores.
- ``score`` (documented rule, not fitted): the largest segment score, each segment's score
  weighted by its support ``min(1, frames / MIN_SUPPORT)``: a segment seen on a single analysed
  frame counts half, since a single flagged frame is weak evidence given how often the image
  detectors flag frames of unedited video. 0 when nothing reaches 0.5.
- views: for the :data:`TOP_VIEWS` highest-scoring frames, the frame with the fused map of the
  frame detectors (:func:`veriscope.core.fusion.fuse_map_arrays`) overlaid in red; small thumbnails
  of the keyframes (listed in ``data["keyframes"]`` for the report's timeline).

Work stops (with a finding) when ``0.85 x`` the detector time limit is used, so a long video
gives a partial but valid result instead of a timeout.

Speed: while frames are analysed, BLAS is limited to one thread (``threadpoolctl``, a dependency;
without it, e.g. in a stripped install, nothing is limited). The frame detectors do many small linear-algebra calls (splicebuster's PCA
``eigh``); OpenBLAS threads busy-wait on them, and on a loaded 2-core machine that cost 7x the
CPU time (0.81 vs 0.11 CPU s per 720p frame for splicebuster, measured while other jobs ran).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from veriscope.core.evidence import Evidence, Segment
from veriscope.core.media import Media
from veriscope.core.timecode import clock
from veriscope.core.video import DEFAULT_MAX_FRAMES
from veriscope.detectors.base import Context, Detector

DEFAULT_FRAME_DETECTORS = ("noise", "splicebuster", "resampling")
"""Image detectors run on every analysed frame by default (see docs/benchmarks.md, Video)."""
NOT_FOR_FRAMES = ("metadata", "c2pa", "jpeg_tables", "jpeg_dq", "jpeg_ndq", "jpeg_ghost", "cfa",
                  "watermark", "aids")
"""Image detectors that say nothing about a decoded frame: file-level provenance and JPEG-file
detectors (a frame is no file), CFA (erased by chroma subsampling), the watermark detector
(image generators' watermarks; run it on a frame explicitly if needed) and the visual aids
(no score)."""
MAX_PACKETS = 2 * DEFAULT_MAX_FRAMES
"""Packets read by the packet-only passes (codec keyframe times, duration without a header):
enough for every frame a decoding pass can look at (issue 21: a file of millions of tiny
packets would otherwise be listed whole)."""
MAX_SIDE = None
"""Default of option ``max_side``: None = analyse frames at full size (see module docstring)."""
FLAG = 0.5
MIN_SUPPORT = 2
"""Analysed frames a segment needs for its full score in the video score (rule, not fitted)."""
TOP_VIEWS = 3
VIEW_SIDE = 640
"""Longer side of the overlay views of the top frames."""
KEYFRAME_SIDE = 320
MAX_KEYFRAME_VIEWS = 48
STRIP_FRAMES = 10
"""With fewer keyframes than this, evenly spread sampled frames are added to the thumbnails
listed in ``data["keyframes"]`` (kind ``"sample"``) so the report's strip shows the video."""
BUDGET_SHARE = 0.85


@dataclass
class _Top:
    score: float
    time: float
    rgb: np.ndarray
    fused: np.ndarray | None
    dets: list[str] = field(default_factory=list)


def frame_detector_names(opts: dict) -> list[str]:
    """The frame detector names of a run (option ``detectors``: list or comma-separated)."""
    want = opts.get("detectors")
    if want is None:
        return list(DEFAULT_FRAME_DETECTORS)
    if isinstance(want, str):
        want = [w.strip() for w in want.split(",") if w.strip()]
    return [str(w) for w in want]


def keyframe_times(media: Media, policy, sample_times: list[float]) -> tuple[list[float], str]:
    """Keyframe times (shot keyframes, else codec keyframes), capped as the module says."""
    if not policy.keyframes:
        return [], "none"
    try:
        from veriscope.signals.shots import detect_shots
    except ImportError:
        detect_shots = None
    if detect_shots is not None:
        from veriscope.core.video import scan

        sc = scan(media, max_seconds=policy.max_seconds)
        keys, source = [float(s.key_time) for s in detect_shots(sc)], "shots"
    else:
        keys, source = codec_keyframe_times(media, policy.max_seconds), "codec"
    return cap_keyframes(keys, sample_times), source


def cap_keyframes(keys: list[float], sample_times: list[float]) -> list[float]:
    """At most len(sample_times) keyframes: those farthest from every regular sample."""
    keys = sorted(set(float(k) for k in keys))
    n = max(1, len(sample_times))
    if len(keys) <= n:
        return keys
    s = np.asarray(sorted(sample_times), np.float64)
    k = np.asarray(keys, np.float64)
    d = np.min(np.abs(k[:, None] - s[None, :]), axis=1) if len(s) else np.ones(len(k))
    keep = np.sort(np.argsort(-d, kind="stable")[:n])
    return [float(x) for x in k[keep]]


def codec_keyframe_times(media: Media, max_seconds: float) -> list[float]:
    """Times of the codec keyframes from the packets (no decoding)."""
    import av

    out: list[float] = []
    try:
        with av.open(str(media.path), metadata_errors="ignore") as c:
            s = c.streams.video[0]
            tb = float(s.time_base) if s.time_base else None
            if tb is None:
                return []
            pts = [(p.pts, bool(p.is_keyframe)) for p in islice(c.demux(s), MAX_PACKETS)
                   if p.pts is not None]
    except Exception:
        return out
    if not pts:
        return out
    start = min(p for p, _ in pts)
    for p, key in pts:
        t = (p - start) * tb
        if key and t <= max_seconds:
            out.append(float(t))
    return out


def video_duration(media: Media, info, max_seconds: float) -> float:
    """Analysed duration in seconds (header, else the container, else a packet pass)."""
    d = info.duration or media.facts.get("duration")
    if not d:
        import av

        try:
            with av.open(str(media.path), metadata_errors="ignore") as c:
                s = c.streams.video[0]
                tb = float(s.time_base)
                pts = [p.pts for p in islice(c.demux(s), MAX_PACKETS) if p.pts is not None]
                d = (max(pts) - min(pts)) * tb + (1.0 / (info.fps or 25.0)) if pts else 0.0
        except Exception:
            d = 0.0
    return float(min(float(d or 0.0), max_seconds))


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive index ranges of consecutive True values."""
    f = np.asarray(flags, bool)
    if not f.any():
        return []
    d = np.diff(np.concatenate([[0], f.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), (np.flatnonzero(d == -1) - 1).tolist(),
                    strict=True))


def segments_from_samples(t: np.ndarray, s: np.ndarray, duration: float,
                          label: str) -> list[Segment]:
    """Segments where the sampled score stays >= FLAG (see module docstring)."""
    t = np.asarray(t, np.float64)
    s = np.asarray(s, np.float64)
    out = []
    for a, b in runs(s >= FLAG):
        start = 0.0 if a == 0 else (t[a - 1] + t[a]) / 2.0
        end = duration if b == len(t) - 1 else (t[b] + t[b + 1]) / 2.0
        end = max(end, t[b])
        seg = Segment(float(max(0.0, start)), float(end), round(float(np.mean(s[a:b + 1])), 4), label)
        seg._support = b - a + 1  # type: ignore[attr-defined]
        out.append(seg)
    return out


def support_weight(n_frames: int) -> float:
    return min(1.0, n_frames / float(MIN_SUPPORT))


def overlay(rgb: np.ndarray, m: np.ndarray | None) -> np.ndarray:
    """The frame with a [0, 1] map blended in red (alpha = 0.75 x map)."""
    if m is None:
        return rgb
    import cv2

    h, w = rgb.shape[:2]
    a = cv2.resize(np.asarray(m, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    a = np.clip(a, 0, 1) * 0.75
    red = np.array([255, 30, 30], np.float32)
    return np.clip(rgb.astype(np.float32) * (1 - a) + red * a, 0, 255).astype(np.uint8)


def _small(rgb: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return rgb.copy()
    s = side / float(max(h, w))
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


def _view_name(prefix: str, i: int) -> str:
    return f"{prefix}_{i:02d}"


class VideoFramesDetector(Detector):
    name = "video_frames"
    version = "1"
    modalities = ("video",)
    default = True
    localizes = False
    summary = "Image forensics (noise, splicebuster, resampling by default) on sampled video frames."
    looks_at = ("Sampled frames (1 per second by default, plus each shot's keyframe), each analysed "
                "by the image detectors that apply to decoded frames; per-frame scores over time "
                "and where in the frame the top-scoring frames look edited.")
    cannot_tell = ("Face swaps, reenactment and fully generated video (no frame-level splice "
                   "traces); edits shorter than the sampling interval; anything hidden by strong "
                   "compression. A decoded frame is not a JPEG file, so JPEG-file, metadata and "
                   "CFA checks do not run on frames.")
    how_to_read = ("One curve per image detector run on sampled frames; a run of frames above 0.5 is a "
                   "flagged segment. A single high frame is weak evidence: image detectors often flag "
                   "single frames of unedited video.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.core import registry
        from veriscope.core.fusion import fuse_map_arrays, reliability_of
        from veriscope.core.video import DecodeLog, frames_at, policy_from, stream_info

        t_start = time.perf_counter()
        opts = ctx.opts(self.name)
        policy = policy_from(ctx)
        max_side = opts.get("max_side", MAX_SIDE)
        max_side = int(max_side) if max_side else None
        ev = self.evidence()

        # ------------------------------------------------------------ which detectors
        dets, refused = [], {}
        for n in frame_detector_names(opts):
            try:
                cls = registry.load(n)
            except Exception as e:
                refused[n] = f"unknown or broken detector ({e})"
                continue
            if "image" not in cls.modalities:
                refused[n] = f"not an image detector ({'/'.join(cls.modalities)})"
            elif cls.missing_requirements():
                refused[n] = f"needs {', '.join(cls.missing_requirements())}"
            else:
                dets.append(cls)
        if not dets:
            return Evidence.not_applicable(self.name, self.version,
                                           "no usable frame detector selected: "
                                           + "; ".join(f"{k}: {v}" for k, v in refused.items()))
        sub_ctx = Context(timeout_s=ctx.timeout_s, options=ctx.options, video=ctx.video)

        # ------------------------------------------------------------ which frames
        info = stream_info(media)
        duration = video_duration(media, info, policy.max_seconds)
        samples = policy.times(duration)
        keys, key_source = keyframe_times(media, policy, samples)
        fps = info.fps or 25.0
        targets = sorted(set(samples) | set(keys))

        # ------------------------------------------------------------ frames
        names = [c.name for c in dets]
        times: list[float] = []
        scores: dict[str, list[float]] = {n: [] for n in names}
        rel: dict[str, list[str | None]] = {n: [] for n in names}
        errors: dict[str, str] = {}
        spent = {n: 0.0 for n in names}
        cpu = {n: 0.0 for n in names}
        not_app: dict[str, str] = {}
        tops: list[_Top] = []
        keyframes: list[tuple[float, np.ndarray]] = []
        key_arr = np.asarray(keys, np.float64)
        extra = max(0, STRIP_FRAMES - len(keys))
        strip_arr = np.asarray([samples[i] for i in np.unique(np.linspace(
            0, len(samples) - 1, min(extra, len(samples))).round().astype(int))]
            if extra and samples else [], np.float64)
        log = DecodeLog()
        budget = BUDGET_SHARE * ctx.timeout_s
        stopped_at = None
        downscaled = None
        frame_size = None
        with _one_blas_thread():
            for fr in frames_at(media, targets, max_seconds=policy.max_seconds, log=log):
                if time.perf_counter() - t_start > budget:
                    stopped_at = fr.time
                    break
                rgb = fr.rgb(max_side)
                if frame_size is None:  # display size: the rotation may swap width and height
                    swap = int(round(fr._rotation / 90.0)) % 2 == 1
                    frame_size = (info.height, info.width) if swap else (info.width, info.height)
                    if (rgb.shape[1], rgb.shape[0]) != frame_size:
                        downscaled = (int(rgb.shape[1]), int(rgb.shape[0]))
                fm = Media.from_array(rgb, f"{media.name}@{fr.time:.3f}s")
                times.append(fr.time)
                maps = []
                for cls in dets:
                    n = cls.name
                    det = cls()
                    why = det.applicable(fm)
                    if why:
                        not_app.setdefault(n, why)
                        scores[n].append(np.nan)
                        rel[n].append(None)
                        continue
                    t_det, c_det = time.perf_counter(), time.process_time()
                    try:
                        e = det.analyze(fm, sub_ctx)
                    except Exception as exc:  # one frame or detector never breaks the video
                        errors.setdefault(n, f"{type(exc).__name__}: {exc}")
                        spent[n] += time.perf_counter() - t_det
                        cpu[n] += time.process_time() - c_det
                        scores[n].append(np.nan)
                        rel[n].append(None)
                        continue
                    spent[n] += time.perf_counter() - t_det
                    cpu[n] += time.process_time() - c_det
                    if e.error or not e.applicable or e.score is None:
                        if e.error:
                            errors.setdefault(n, e.error)
                        elif not e.applicable:
                            not_app.setdefault(n, e.reason or "not applicable")
                        scores[n].append(np.nan)
                        rel[n].append(None)
                        continue
                    scores[n].append(float(e.score))
                    rel[n].append(reliability_of(e))
                    if e.heatmap is not None:
                        maps.append((e.heatmap, e.score, reliability_of(e)))
                fscore = max((scores[n][-1] for n in names if np.isfinite(scores[n][-1])), default=None)
                if fscore is not None and (len(tops) < TOP_VIEWS or fscore > tops[-1].score):
                    small = _small(rgb, VIEW_SIDE)
                    fused = None
                    if maps:
                        import cv2

                        sz = (small.shape[1], small.shape[0])
                        fused = fuse_map_arrays([(cv2.resize(np.asarray(m, np.float32), sz,
                                                             interpolation=cv2.INTER_AREA), s, r)
                                                 for m, s, r in maps])
                    flagged = [n for n in names if np.isfinite(scores[n][-1]) and scores[n][-1] >= FLAG]
                    tops.append(_Top(fscore, fr.time, small, fused, flagged))
                    tops.sort(key=lambda x: -x.score)
                    del tops[TOP_VIEWS:]
                if len(key_arr) and np.min(np.abs(key_arr - fr.time)) < 0.5 / fps:
                    keyframes.append((fr.time, _small(rgb, KEYFRAME_SIDE), key_source))
                elif len(strip_arr) and np.min(np.abs(strip_arr - fr.time)) <= 0.5 / fps + 1e-6:
                    keyframes.append((fr.time, _small(rgb, KEYFRAME_SIDE), "sample"))
                fr.release()
                ctx.tick("frames", fr.time, duration)
        if not times:
            return Evidence.not_applicable(self.name, self.version,
                                           "no frame could be decoded at the sample times")
        ctx.tick("frames", duration, duration)

        # ------------------------------------------------------------ curves, segments, score
        t = np.asarray(times, np.float64)
        curves, segs = {}, []
        for n in names:
            s = np.asarray(scores[n], np.float64)
            ok = np.isfinite(s)
            if not ok.any():
                continue
            curves[n] = {"t": [round(float(x), 4) for x in t[ok]],
                         "score": [round(float(x), 4) for x in s[ok]]}
            segs += segments_from_samples(t[ok], s[ok], duration, n)
        allm = np.full(len(t), np.nan)
        for n in curves:
            s = np.asarray(scores[n], np.float64)
            allm = np.fmax(allm, s)
        ok = np.isfinite(allm)
        curve = {"t": [round(float(x), 4) for x in t[ok]],
                 "score": [round(float(x), 4) for x in allm[ok]]}
        best, best_v = None, 0.0
        for sg in segs:
            v = sg.score * support_weight(sg._support)
            if v > best_v:
                best, best_v = sg, v
        segs.sort(key=lambda sg: (sg.start, sg.label or ""))
        ev.segments = [Segment(sg.start, sg.end, sg.score, sg.label) for sg in segs]
        ev.score = round(float(best_v), 6) if curves else None
        # the label is what the best segment's detector claims (ai_image: synthetic)
        claims = {c.name: c.claims for c in dets}
        ev.label = claims[best.label] if best is not None and best_v >= FLAG else None

        # ------------------------------------------------------------ reliability
        if best is not None:
            lv = [r for tt, r in zip(times, rel[best.label], strict=True)
                  if best.start <= tt <= best.end and r is not None]
            level = _majority(lv)
            if level is not None:
                ev.data["reliability"] = {
                    "level": level,
                    "why": f"{best.label} on the flagged frames reports {level} reliability "
                           f"(majority of {len(lv)} frames)."}

        # ------------------------------------------------------------ findings
        pol = policy.describe()
        how = (f"{pol['frames']} frames spread evenly" if pol["frames"] is not None
               else f"{pol['fps']:g} frame(s) per second")
        ev.add("info", "video_frames.sampled",
               f"Analysed {len(times)} frames ({how}, plus {len(keys)} keyframes from "
               f"{key_source}) with {', '.join(names)}.", frames=len(times), keyframes=len(keys),
               keyframe_source=key_source, detectors=names)
        for sg in sorted(segs, key=lambda x: -x.score * support_weight(x._support)):
            if sg.score >= FLAG:
                n_f = sg._support
                sev = "medium" if support_weight(n_f) * sg.score >= FLAG else "low"
                ev.add(sev, "video_frames.segment",
                       f"{sg.label} flags frames {clock(sg.start)}-{clock(sg.end)} (mean score "
                       f"{sg.score:.2f} over {n_f} analysed frame{'s' if n_f != 1 else ''})"
                       + ("" if sev == "medium" else "; a single frame is weak on its own"),
                       detector=sg.label, start=round(sg.start, 4), end=round(sg.end, 4),
                       score=sg.score, frames=n_f)
        for n, why in refused.items():
            ev.add("low", "video_frames.detector_refused", f"Frame detector {n} not used: {why}.",
                   detector=n)
        for n, why in not_app.items():
            ev.add("info", "video_frames.detector_not_applicable",
                   f"Frame detector {n} does not apply to decoded frames: {why}.", detector=n)
        for n, why in errors.items():
            ev.add("low", "video_frames.detector_failed",
                   f"Frame detector {n} failed on some frames: {why}.", detector=n)
        if downscaled:
            ev.add("info", "video_frames.downscaled",
                   f"Frames of {frame_size[0]}x{frame_size[1]} were analysed at {downscaled[0]}x"
                   f"{downscaled[1]} (option max_side {max_side} px); scaling leaves "
                   "interpolation traces that resampling may flag.", size=list(downscaled))
        if stopped_at is not None:
            ev.add("low", "video_frames.time_limit",
                   f"Stopped at {clock(stopped_at)} of {clock(duration)} to stay within the time "
                   f"limit ({ctx.timeout_s:g} s); later frames were not analysed.",
                   stopped_at=round(stopped_at, 3))
        if log.capped or (info.duration or 0) > policy.max_seconds:
            ev.add("info", "video.duration_capped",
                   f"Only the first {policy.max_seconds:g} s of the video were analysed.",
                   max_seconds=policy.max_seconds)
        if log.errors:
            ev.add("low", "video_frames.decode_errors",
                   f"{log.errors} packet(s) could not be decoded; those frames are missing.",
                   errors=log.errors, first_error=log.first_error)

        # ------------------------------------------------------------ views
        captions = {}
        for i, tp in enumerate(sorted(tops, key=lambda x: x.time)):
            v = _view_name("top_frame", i + 1)
            ev.views[v] = overlay(tp.rgb, tp.fused)
            what = ("fused map of " + ", ".join(names)) if tp.fused is not None else "no map"
            captions[v] = (f"frame at {clock(tp.time)}, frame score {tp.score:.2f}; {what}"
                           + (f"; flagged by {', '.join(tp.dets)}" if tp.dets else ""))
        kf = []
        if len(keyframes) > MAX_KEYFRAME_VIEWS:
            pick = np.unique(np.linspace(0, len(keyframes) - 1, MAX_KEYFRAME_VIEWS).round().astype(int))
            keyframes = [keyframes[i] for i in pick]
        for i, (tt, img, kind) in enumerate(keyframes):
            v = _view_name("keyframe" if kind != "sample" else "frame", i + 1)
            ev.views[v] = img
            captions[v] = (f"keyframe at {clock(tt)} ({kind})" if kind != "sample"
                           else f"sampled frame at {clock(tt)}")
            kf.append({"time": round(float(tt), 4), "view": v, "kind": kind})
        ev.data.update({
            "policy": pol, "duration": round(duration, 4), "detectors": names,
            "keyframe_source": key_source, "frames_analysed": len(times),
            "frame_size": list(frame_size), "analysed_size": list(downscaled or frame_size),
            "seconds": {n: round(v, 3) for n, v in spent.items()},
            "cpu_seconds": {n: round(v, 3) for n, v in cpu.items()},
            "seconds_total": round(time.perf_counter() - t_start, 3),
            "curves": curves, "curve": curve, "keyframes": kf, "captions": captions,
            "score_rule": f"max over segments of mean segment score x min(1, frames / "
                          f"{MIN_SUPPORT})",
        })
        if best is not None:
            ev.data["strongest_segment"] = {"start": round(best.start, 4),
                                            "end": round(best.end, 4), "detector": best.label,
                                            "score": best.score, "frames": best._support}
        return ev


def _one_blas_thread():
    """A context that limits BLAS to one thread (threadpoolctl), or does nothing without it."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    try:
        return threadpool_limits(limits=1, user_api="blas")
    except Exception:
        return contextlib.nullcontext()


def _majority(levels: list) -> str | None:
    if not levels:
        return None
    order = ("low", "medium", "high")  # ties go to the less reliable level
    counts = {lv: levels.count(lv) for lv in order}
    return max(order, key=lambda lv: (counts[lv], -order.index(lv)))
