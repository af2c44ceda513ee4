"""Shots and keyframes of a video: an aid for a person, no score.

The video is cut into shots with :func:`veriscope.signals.shots.detect_shots` (hard cuts from colour
histogram and thumbnail changes against an adaptive local threshold, fades through flat frames,
cheap dissolve detection; see that module). Each shot's keyframe (its most representative sharp
frame) is extracted as a view, named ``keyframe_NNN`` (caption ``keyframe N @ MM:SS.ss`` in data.keyframes), ready for reverse image search
(what InVID's keyframe tool is used for). At most ``MAX_VIEWS`` keyframes are extracted, spread
evenly over the shots when there are more.
"""

from __future__ import annotations

import numpy as np

from veriscope.core.evidence import Evidence, Segment
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector, video_scan

MAX_VIEWS = 48
"""Most keyframe views per video (the report stays readable; the rest are listed in data)."""
VIEW_SIDE = 640
"""Keyframe views are scaled so their longer side is at most this."""


def timecode(t: float) -> str:
    """MM:SS.ss (or H:MM:SS.ss past an hour)."""
    t = max(0.0, float(t))
    h, rem = divmod(t, 3600.0)
    m, s = divmod(rem, 60.0)
    if h >= 1:
        return f"{int(h)}:{int(m):02d}:{s:05.2f}"
    return f"{int(m):02d}:{s:05.2f}"


def _pick(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, k).round().astype(int).tolist()))


class VideoShotsDetector(Detector):
    name = "video_shots"
    version = "1.0"
    modalities = ("video",)
    default = True
    summary = "Shot boundaries and one keyframe per shot (for reverse image search); no score"
    looks_at = ("Where the picture changes from one take to another (cuts, fades, dissolves), "
                "and one representative frame of each shot for a person to inspect or to search "
                "the web with.")
    cannot_tell = ("Whether anything was manipulated: shots and keyframes are an aid. Very "
                   "slow dissolves, cuts between near-identical framings and flashes can be "
                   "missed or mistaken for cuts.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.core.errors import MediaError
        from veriscope.core.video import frames_at
        from veriscope.signals.shots import detect_shots

        sc, pol, na = video_scan(self, media, ctx)
        if na is not None:
            return na
        shots = detect_shots(sc)
        ev = self.evidence(score=None, label=None)
        for s in shots:
            ev.segments.append(Segment(s.start, s.end, None, "shot"))
        chosen = _pick(len(shots), MAX_VIEWS)
        names: dict[float, str] = {}
        for q in chosen:
            s = shots[q]
            names.setdefault(s.key_time, _view_name(q))
        failed = 0
        if names:
            try:
                for fr in frames_at(media, sorted(names), max_seconds=pol.max_seconds):
                    # frames_at yields the frame nearest to each requested time, once
                    best = min(names, key=lambda t: abs(t - fr.time))
                    if names[best] not in ev.views:
                        ev.views[names[best]] = np.ascontiguousarray(fr.rgb(max_side=VIEW_SIDE))
                    fr.release()
            except MediaError:
                failed = len(names) - len(ev.views)
        cuts = {k: sum(1 for s in shots[1:] if s.kind == k) for k in ("cut", "fade", "dissolve")}
        ev.data["shots"] = [{"start": round(s.start, 4), "end": round(s.end, 4),
                             "key_time": round(s.key_time, 4), "key_index": s.key_index,
                             "start_index": s.start_index, "end_index": s.end_index,
                             "kind": s.kind, "strength": round(s.strength, 4)} for s in shots]
        ev.data["keyframes"] = [{"shot": q + 1, "time": round(shots[q].key_time, 4),
                                 "view": _view_name(q),
                                 "caption": f"keyframe {q + 1} @ {timecode(shots[q].key_time)}",
                                 "kind": "shot"}
                                for q in chosen if _view_name(q) in ev.views]
        ev.data["transitions"] = cuts
        ev.data["frames"] = sc.n
        ev.data["duration"] = round(sc.duration, 4)
        ev.add("info", "shots",
               f"{len(shots)} shot(s) in {sc.duration:.1f} s ({cuts['cut']} cut(s), "
               f"{cuts['fade']} fade(s), {cuts['dissolve']} dissolve(s)); "
               f"{len(ev.views)} keyframe(s) extracted for inspection or reverse image search.",
               shots=len(shots), **cuts)
        if len(shots) > MAX_VIEWS:
            ev.add("info", "keyframes_capped",
                   f"{len(shots)} shots: only {len(chosen)} keyframes, spread evenly over the "
                   "video, were extracted (all shot times are in the data).",
                   shots=len(shots), extracted=len(chosen))
        if failed:
            ev.add("low", "keyframes_missing",
                   f"{failed} keyframe(s) could not be decoded.", missing=failed)
        if sc.log.capped:
            ev.add("info", "video.duration_capped",
                   f"Only the first {pol.max_seconds:g} s were analysed.")
        return ev


def _view_name(q: int) -> str:
    """Schema-safe view name of shot q's keyframe (the readable caption is in data.keyframes)."""
    return f"keyframe_{q + 1:03d}"
