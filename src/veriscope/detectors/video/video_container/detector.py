"""Video container detector: what the file's boxes and tags say about where it came from.

Rule-based, like the image ``metadata`` detector: it reads the container (MP4/MOV boxes with
:mod:`veriscope.formats.mp4`; every format's tags with PyAV), the encoder signature in the coded stream
(x264/x265 SEI, MPEG-4 user data) and the frame timestamps of one decoding pass
(:func:`veriscope.core.video.scan`), and reports facts and hints as findings (codes ``video.*``):

* tool names: AI video generators and face-swap / lip-sync tools (high), editors (low),
  screen recorders (low), processing tools such as FFmpeg's ``Lavf``/``Lavc``, HandBrake,
  x264 (info); device signatures (Apple Core Media / Android MPEG4Writer handler names, Apple
  and Android make / model keys) and a device signature on a file rewritten by a tool (low);
* times: mvhd / tkhd / mdhd creation and modification times against each other, the Apple
  ``creationdate`` / ``©day`` / XMP dates, the clock and the file's mtime;
* display rotation and mirroring (fact);
* edit lists: cuts, trims, delays, rate changes, an audio/video shift made in the container;
* streams: no audio, audio and video durations or start times that differ;
* frame timing: variable frame rate (interval statistics), long timestamp gaps;
* damage: box-structure problems, packets that fail to decode, and the duration cap.

Every score is a rule constant (table ``SCORES``, rationale in docs/detectors/video_container.md),
not fitted to data, and, except named generator / face tools, stays below the 0.5 verdict
threshold: a container hint says how a file was written, not that its content is false. The
detector's score is the highest finding score; nothing scored gives 0.0, "no_evidence".
Thresholds (seconds, ratios) are rules from how the writers behave, not fitted either.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import numpy as np

from veriscope.core.evidence import Evidence, Segment
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector

SCORES = {
    "generator": 0.97, "face_tool": 0.97, "editor": 0.35, "screen_recording": 0.20,
    "device_file_rewritten": 0.20, "edit_list_cuts": 0.45, "edit_list_trim": 0.20,
    "edit_list_delay": 0.20, "edit_list_rate": 0.20, "edit_list_av_shift": 0.20,
    "time_order_impossible": 0.45, "time_modified_after_creation": 0.20,
    "time_track_mismatch": 0.20, "time_tag_mismatch": 0.25, "time_future": 0.20,
    "time_after_file_mtime": 0.20, "av_duration_mismatch": 0.20, "stream_start_mismatch": 0.20,
    "timestamp_gap": 0.20,
}
"""Score of each scored finding (rule constants; the detector score is the largest). Same
scale as the image metadata detector: 0.97 a named generator, 0.45 an impossible order or a
cut in the container, 0.35 an editor, 0.20-0.25 hints common in innocent files."""

SAME_CLOCK_SLACK_S = 2.0
"""Two times from one clock count as out of order only beyond this."""
EDIT_GAP_S = 60.0
"""Modification this much after creation: the file was rewritten after recording."""
TZ_EAST_S, TZ_WEST_S = 14 * 3600.0, 12 * 3600.0
"""A time whose zone is unknown may be any instant from UTC-12 to UTC+14 around it."""
FUTURE_SLACK_S = 86400.0
CODEC_DELAY_S = 0.25
"""Edit-list shifts up to this are codec delay compensation (AAC priming: 1024-2112 samples,
about 20-50 ms; H.264 B-frame reordering: 2-4 frames, 67-170 ms at 24 fps), not an edit."""
AV_SHIFT_S = 0.2
"""Audio and video edit lists that start the content more than this apart shift lip sync."""
AV_DURATION_S = 0.5
"""Audio and video tracks whose lengths differ by more than this."""
START_DIFF_S = 0.2
VFR_DEVIATION = 0.25
VFR_FRACTION = 0.01
"""Variable frame rate: >= 1 % of frame intervals deviate from the median by > 25 %."""
GAP_FACTOR, GAP_MIN_S = 4.0, 0.5
"""A timestamp gap: an interval >= 4x the median interval and >= 0.5 s (frames missing)."""
MAX_SEI_PACKETS = 8
MAX_SEGMENTS = 50

_SEV_ORDER = {"high": 0, "medium": 1, "low": 2, "info": 3}

# tag keys (lower case) that name software, a device, or free text that recorders fill in
_TOOL_KEYS = ("encoder", "software", "encoded_by", "encoding_tool", "writing_app", "muxing_app",
              "com.apple.quicktime.software", "com.apple.quicktime.author",
              "com.android.version", "handler_name", "compressor", "title", "comment",
              "description", "information", "author", "com.apple.quicktime.comment",
              "com.apple.quicktime.description", "com.apple.quicktime.title", "copyright",
              "host_computer", "make", "model", "com.apple.quicktime.make",
              "com.apple.quicktime.model", "artist", "source")
_FREE_TEXT = {"title", "comment", "description", "information", "com.apple.quicktime.comment",
              "com.apple.quicktime.description", "com.apple.quicktime.title", "copyright",
              "artist", "source"}


_MADE_WITH = re.compile(r"\b(generated|created|made|rendered|produced|animated|synthesi[sz]ed)"
                        r"\s+(with|by|using|in|on)\b", re.I)
"""In a title or comment, a generator's name counts only in a short value (the name itself)
or after words like 'made with' / 'generated by'."""


class VideoContainerDetector(Detector):
    name = "video_container"
    version = "1.0.0"
    modalities = ("video",)
    summary = ("Reads the video container (MP4/MOV boxes, tags, edit lists, times, encoder "
               "signatures, frame timing) for editing tools, generators, rewrites and damage.")
    looks_at = ("How the file was written: the encoder and muxer tags (for example FFmpeg's "
                "'Lavf', HandBrake, editors, screen recorders, AI video generators), the "
                "signature a software encoder leaves in the video stream (x264), the track "
                "handler names and make/model keys that phones write, the creation and "
                "modification times in the MP4 headers, the display rotation, edit lists "
                "(cuts and shifts made in the container without re-encoding), the audio and "
                "video track lengths and start times, the timing of the frames, and packets "
                "that fail to decode.")
    cannot_tell = ("Container data is easy to strip or rewrite, so its absence proves nothing "
                   "and any tag can be forged. Almost every file shared online has passed "
                   "through FFmpeg or a platform's transcoder, which rewrites these boxes; a "
                   "tool's name says the file went through it, not that the content was "
                   "changed. It never looks at the picture or the sound, so a deepfake "
                   "re-encoded like any other clip looks the same here.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        ev = self.evidence()
        opts = ctx.opts(self.name)
        scored: list[float] = []
        failed: list[str] = []

        def add(sev, code, msg, key=None, label="manipulated", **data):
            if key is not None:
                data = {"score": SCORES[key], "label": label, **data}
                scored.append(SCORES[key])
            ev.add(sev, "video." + code, msg, **data)

        def guarded(step, fn, *a):
            try:
                return fn(*a)
            except Exception as e:  # a bug or an input we did not foresee: keep going
                failed.append(f"{step}: {type(e).__name__}: {str(e)[:160]}")
                return None

        facts = guarded("stream facts", _av_facts, media) or {"tags": {}, "streams": []}
        box = None
        if media.format == "mp4":
            box = guarded("MP4 boxes", _read_boxes, media)
        ev.data["container"] = {"format": media.format, "container": media.facts.get("container"),
                                "tags": facts["tags"]}
        if box is not None:
            ev.data["mp4"] = box.to_dict()
        ev.data["streams"] = facts["streams"]
        sei = guarded("bitstream signature", _sei_blobs, media) or []
        enc = guarded("bitstream signature", _bitstream, sei) or []
        ev.data["bitstream_encoder"] = enc

        fields = guarded("tool fields", _tool_fields, facts, box, enc) or []
        guarded("tools", _tools, fields, facts, box, enc, add, ev)
        guarded("times", _times, facts, box, media, opts, add, ev)
        guarded("rotation", _rotation, facts, box, add, ev)
        if box is not None:
            guarded("edit lists", _edit_lists, box, facts, add, ev)
            guarded("box structure", _box_problems, box, add)
        guarded("streams", _streams, facts, box, add, ev)
        guarded("frame timing", _frame_timing, media, ctx, facts, add, ev)

        if failed:
            ev.data["errors"] = failed
            ev.add("info", "video.analysis_step_failed",
                   "Part of the container analysis failed on this file and was skipped: "
                   + "; ".join(failed[:3]) + ".", errors=failed)
        ev.findings.sort(key=lambda f: _SEV_ORDER.get(f.severity, 9))
        if scored:
            ev.score = max(scored)
            ev.label = "synthetic" if any(f.data.get("label") == "synthetic"
                                          and f.data.get("score") == ev.score
                                          for f in ev.findings) else "manipulated"
        else:
            ev.score, ev.label = 0.0, "no_evidence"
        return ev


# ------------------------------------------------------------------------------ reading
def _av_facts(media: Media) -> dict:
    """Tags and stream facts from PyAV (every container format)."""
    import av

    from veriscope.core.media import container_duration, stream_duration

    out: dict = {"tags": {}, "streams": []}
    with av.open(str(media.path), metadata_errors="ignore") as c:
        out["tags"] = {str(k).lower(): str(v)[:4096] for k, v in (c.metadata or {}).items()}
        for s in c.streams:
            d = {"index": s.index, "type": s.type,
                 "codec": s.codec_context.name if s.codec_context else None,
                 "tags": {str(k).lower(): str(v)[:1024] for k, v in (s.metadata or {}).items()}}
            tb = float(s.time_base) if s.time_base else None
            if s.start_time is not None and tb:
                d["start"] = round(s.start_time * tb, 6)
            if (sd := stream_duration(c, s)) is not None:  # Matroska / WebM: from tags
                d["duration"] = sd
            if s.type == "video":
                rate = s.average_rate or s.guessed_rate
                d["fps"] = round(float(rate), 6) if rate else None
                d["frames"] = s.frames or None
                d["width"], d["height"] = s.codec_context.width, s.codec_context.height
            elif s.type == "audio":
                d["sample_rate"] = s.codec_context.sample_rate
            out["streams"].append(d)
        if (cd := container_duration(c)) is not None:
            out["duration"] = cd
    return out


def _read_boxes(media: Media):
    from veriscope.formats import mp4

    return mp4.parse(media.path)


def _sei_blobs(media: Media) -> list[bytes]:
    """The video stream's extradata and its first packets (where encoders put their SEI)."""
    import av

    blobs = []
    with av.open(str(media.path), metadata_errors="ignore") as c:
        if not c.streams.video:
            return []
        s = c.streams.video[0]
        ex = s.codec_context.extradata
        if ex:
            blobs.append(bytes(ex))
        try:
            for i, pkt in enumerate(c.demux(s)):
                if i >= MAX_SEI_PACKETS:
                    break
                if pkt.size:
                    blobs.append(bytes(pkt))
        except av.error.FFmpegError:
            pass
    return blobs


def _bitstream(blobs: list[bytes]) -> list[dict]:
    from veriscope.detectors.video.video_container.tags import bitstream_encoders

    return bitstream_encoders(blobs)


def _tool_fields(facts: dict, box, enc: list[dict]) -> list[tuple[str, str, str]]:
    """(where, key, value) of every field that may name software or a device."""
    out: list[tuple[str, str, str]] = []
    seen = set()

    def put(where, key, val):
        if not isinstance(val, str) or not val.strip():
            return
        v = val.strip()
        if (key, v) in seen:
            return
        seen.add((key, v))
        out.append((where, key, v))

    tags = dict(facts.get("tags", {}))
    if box is not None:
        for k, v in box.tags.items():
            put("MP4 tag", k.lower(), v)
    for k, v in tags.items():
        if k in _TOOL_KEYS or k.startswith(("com.android.", "com.apple.proapps", "com.apple.quicktime.")):
            put("container tag", k, v)
    for st in facts.get("streams", []):
        for k, v in st.get("tags", {}).items():
            if k in ("encoder", "handler_name", "vendor_id"):
                put(f"{st['type']} stream tag", k, v)
    if box is not None:
        for tr in box.tracks:
            if tr.handler_name:
                put(f"{tr.handler or '?'} track handler", "handler_name", tr.handler_name)
            if tr.compressor:
                put("video sample description", "compressor", tr.compressor)
        for x in box.xmp:
            for key in ("CreatorTool", "softwareAgent"):
                for m in re.finditer(rf"{key}(?:=\"|>)([^\"<]{{1,200}})", x):
                    put("XMP", f"xmp:{key}", m.group(1))
    return out


# ------------------------------------------------------------------------------ tools
def _tools(fields, facts, box, enc, add, ev) -> None:
    from veriscope.detectors.provenance.metadata import generators as _meta_gen
    from veriscope.detectors.video.video_container.tags import (
        EDITORS,
        FACE_TOOLS,
        GENERATORS,
        PROCESSORS,
        SCREEN_RECORDERS,
        ffmpeg_version,
        handler_signature,
        match,
    )

    found = {"generator": {}, "face_tool": {}, "editor": {}, "screen_recorder": {},
             "processor": {}, "device": {}}
    for where, key, val in fields:
        if key == "handler_name":
            sig = handler_signature(val)
            if sig:
                found["device"].setdefault(sig[0], (where, key, val, sig[1]))
            continue
        text = val if len(val) <= 2000 else val[:2000]
        if key in _FREE_TEXT:
            # free text: only strong names (a comment may mention an editor in passing)
            tables = (("generator", GENERATORS), ("face_tool", FACE_TOOLS),
                      ("screen_recorder", SCREEN_RECORDERS), ("processor", PROCESSORS[:2]))
        else:
            tables = (("generator", GENERATORS), ("generator", _meta_gen.GENERATOR_NAMES),
                      ("face_tool", FACE_TOOLS), ("editor", EDITORS),
                      ("screen_recorder", SCREEN_RECORDERS), ("processor", PROCESSORS))
        for kind, table in tables:
            name = match(text, table)
            if name and key in _FREE_TEXT and kind in ("generator", "face_tool") \
                    and len(text) > 40 and not _MADE_WITH.search(text):
                continue  # a title or comment that only mentions a generator
            if name:
                found[kind].setdefault(name, (where, key, val))
                break
        # ComfyUI (and similar) video savers put the whole generation graph in a comment
        if key in ("comment", "description", "prompt", "workflow") and val[:1] in "{[":
            g = _comfy(val)
            if g:
                found["generator"].setdefault("ComfyUI", (where, key, f"node graph: {g}"))
    tags = {k.lower(): v for k, v in (facts.get("tags") or {}).items()}
    if box is not None:
        tags.update({k.lower(): v for k, v in box.tags.items()})
    make = tags.get("com.apple.quicktime.make") or tags.get("com.android.manufacturer") \
        or tags.get("make")
    model = tags.get("com.apple.quicktime.model") or tags.get("com.android.model") \
        or tags.get("model")
    osver = tags.get("com.apple.quicktime.software") or tags.get("com.android.version")
    dev = {k: v for k, v in (("make", make), ("model", model), ("software", osver)) if v} \
        if (make or model) else {}
    if "com.android.version" in tags:
        found["device"].setdefault("Android (com.android.version key)",
                                   ("container tag", "com.android.version",
                                    tags["com.android.version"], "android"))
    if any(k.startswith("com.apple.quicktime.") for k in tags) and (make or "").lower().startswith("apple"):
        found["device"].setdefault("Apple (com.apple.quicktime keys)",
                                   ("container tag", "com.apple.quicktime.make", make, "apple"))
    if box is not None and box.major_brand == "qt  ":
        ev.data["quicktime_brand"] = True
    ev.data["tools"] = {k: sorted(v) for k, v in found.items() if v}
    if dev:
        ev.data["device"] = dev

    for name, (where, key, val) in found["generator"].items():
        add("high", "generator_tag",
            f"The {where} '{key}' names an AI video or image generator: {name} ('{_short(val)}'). "
            "The program that wrote the file says it generates content; only a deliberate "
            "forgery puts this on a camera recording.", "generator", "synthetic",
            tool=name, field=key, value=_short(val, 300))
    for name, (where, key, val) in found["face_tool"].items():
        add("high", "face_tool_tag",
            f"The {where} '{key}' names a face-swap / lip-sync tool: {name} ('{_short(val)}'). "
            "Such tools replace or re-animate faces.", "face_tool", "manipulated",
            tool=name, field=key, value=_short(val, 300))
    for name, (where, key, val) in found["editor"].items():
        add("low", "editor_tag",
            f"The {where} '{key}' names a video editor: {name} ('{_short(val)}'). The file was "
            "exported by an editing program; that is a hint, not proof: editors are used for "
            "trimming, titles and colour as much as for deceptive edits.", "editor",
            tool=name, field=key, value=_short(val, 300))
    for name, (where, key, val) in found["screen_recorder"].items():
        add("low", "screen_recording",
            f"The {where} '{key}' names a screen recorder: {name} ('{_short(val)}'). The video "
            "is a recording of a screen (a re-capture of something played back or shown), not "
            "a camera original.", "screen_recording", tool=name, field=key,
            value=_short(val, 300))
    procs = dict(found["processor"])
    if procs:
        parts = []
        for name, (where, key, val) in procs.items():
            ver = ffmpeg_version(val)
            parts.append(f"{name}{' ' + ver if ver and ver.split()[0] not in name else ''} "
                         f"({where} '{key}' = '{_short(val)}')")
        ffm = any("FFmpeg" in n for n in procs)
        msg = ("The file was written or encoded by processing software: " + "; ".join(parts)
               + ".")
        if ffm:
            msg += (" FFmpeg's names mean the file was re-muxed or re-encoded by a tool "
                    "(converters, editors, upload pipelines and download tools use them), so it "
                    "is not a phone's or camera's own file; this alone says nothing about the "
                    "content.")
        add("info", "processing_tool", msg, tools=sorted(procs),
            values={n: _short(v[2], 200) for n, v in procs.items()})
    elif box is not None and box.major_brand == "isom" and box.minor_version == 512 \
            and box.compatible_brands[:4] == ["isom", "iso2", "avc1", "mp41"]:
        add("info", "processing_tool",
            "No encoder tag, but the file type box (isom, minor version 512, brands "
            "isom/iso2/avc1/mp41) is the one FFmpeg's MP4 muxer writes by default: probably "
            "written by FFmpeg with its tags removed (or lost).", tools=["FFmpeg (ftyp signature)"])
    if enc:
        e0 = enc[0]
        opt = e0.get("options") or {}
        add("info", "bitstream_encoder",
            f"The video stream itself was encoded by {e0['encoder']} ('{e0['text']}'"
            + (", " + ", ".join(f"{k}={v}" for k, v in opt.items()) if opt else "")
            + "). " + ("This software encoder is used by FFmpeg, HandBrake, OBS and editors; "
                       "phone and camera recordings use hardware encoders, so the picture was "
                       "(re-)encoded by software." if e0["encoder"] in ("x264", "x265") else ""),
            **e0)
    devs = found["device"]
    if devs or dev:
        name = " ".join(v for v in (make, model) if v) if (make or model) else None
        desc = "; ".join(f"{n} ({w} '{k}' = '{_short(v)}')" for n, (w, k, v, _f) in devs.items())
        msg = ("The container carries the signature of a device's own recording software: "
               + (f"device {name}" + (f", software {osver}" if osver else "") + "; " if name else "")
               + desc + ".").replace("; .", ".")
        add("info", "device_signature", msg, device=dev, signatures=sorted(devs))
        rewriters = sorted(set(procs) | set(found["editor"]) | {e["encoder"] for e in enc
                                                                  if e["encoder"] in ("x264", "x265")})
        if rewriters:
            add("low", "device_file_rewritten",
                "The file carries a device's recording signature ("
                + ", ".join(sorted(devs) or [name or "make/model"]) + ") but was written by "
                + ", ".join(rewriters) + ": it is not the device's original file; the names "
                "were carried over by a re-mux or re-encode (often harmless: a conversion or "
                "upload; edits made in between leave no other trace here).",
                "device_file_rewritten", signatures=sorted(devs), writers=rewriters)
    loc = tags.get("com.apple.quicktime.location.iso6709") or tags.get("location") \
        or tags.get("location-eng")
    if loc:
        ev.data["location"] = loc
        add("info", "location", f"The container holds a location: {_short(loc, 60)} (ISO 6709 "
            "latitude/longitude).", location=loc)


def _comfy(s: str) -> str | None:
    from veriscope.detectors.provenance.metadata import generators as _meta_gen

    if len(s) > 16 * 1024 * 1024:
        return None
    try:
        obj = json.loads(s)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    for cand in (obj, obj.get("prompt"), obj.get("workflow")):
        if isinstance(cand, str):
            try:
                cand = json.loads(cand)
            except (ValueError, RecursionError):
                continue
        if isinstance(cand, dict):
            g = _meta_gen.parse_comfy_prompt(cand) if "nodes" not in cand else \
                _meta_gen.parse_comfy_workflow(cand)
            if g:
                models = g.get("models") or []
                return f"{len(models)} model file(s)" + (": " + ", ".join(models[:3]) if models else "")
    return None


def _short(v, n: int = 80) -> str:
    s = str(v).replace("\n", " ")
    return s if len(s) <= n else s[: n - 3] + "..."


# ------------------------------------------------------------------------------ times
def _times(facts, box, media: Media, opts, add, ev) -> None:
    from veriscope.detectors.provenance.metadata.dates import parse_iso
    from veriscope.formats import mp4

    stamps: dict[str, tuple[dt.datetime, bool]] = {}  # name -> (UTC instant, zone known)
    raw_zero: list[str] = []
    placeholder: list[str] = []

    def put_raw(name, v):
        if not v:
            raw_zero.append(name)
            return
        t = mp4.mac_time(v)
        if t is None or t.year < 1990:
            placeholder.append(name)
            return
        stamps[name] = (t, True)

    if box is not None:
        put_raw("mvhd_created", box.movie_created)
        put_raw("mvhd_modified", box.movie_modified)
        for tr in box.tracks:
            k = {"vide": "video", "soun": "audio"}.get(tr.handler or "", tr.handler or "track")
            k = f"{k}{tr.track_id or ''}"
            put_raw(f"tkhd_{k}_created", tr.created)
            put_raw(f"tkhd_{k}_modified", tr.modified)
            put_raw(f"mdhd_{k}_created", tr.media_created)
            put_raw(f"mdhd_{k}_modified", tr.media_modified)
    tags = {k.lower(): v for k, v in (facts.get("tags") or {}).items()}
    if box is not None:
        tags.update({k.lower(): v for k, v in box.tags.items()})
    tag_stamps: dict[str, tuple[dt.datetime, bool]] = {}
    for key in ("com.apple.quicktime.creationdate", "date", "creation_time", "date_recorded",
                "com.android.capture.date"):
        v = tags.get(key)
        if not v:
            continue
        t, off, has_time = parse_iso(v)
        if t is None or not has_time or t.year < 1990:
            continue
        if off is not None:
            tag_stamps[key] = ((t - off).replace(tzinfo=dt.UTC), True)
        else:
            tag_stamps[key] = (t.replace(tzinfo=dt.UTC), False)
    if box is not None:
        for x in box.xmp:
            for key in ("CreateDate", "ModifyDate", "MetadataDate"):
                m = re.search(rf"xmp:{key}(?:=\"|>)([^\"<]{{4,40}})", x)
                if m:
                    t, off, has_time = parse_iso(m.group(1))
                    if t and has_time:
                        tag_stamps[f"xmp_{key}"] = ((t - off).replace(tzinfo=dt.UTC), True) \
                            if off is not None else (t.replace(tzinfo=dt.UTC), False)
    ev.data["times"] = {k: mp4.iso(v[0]) + ("" if v[1] else " (zone unknown)")
                        for k, v in {**stamps, **tag_stamps}.items()}
    if raw_zero:
        ev.data["times_unset"] = raw_zero
    if box is not None and not stamps and not tag_stamps:
        add("info", "times_unset",
            "The MP4 headers carry no creation or modification time (all zero"
            + (", or placeholders before 1990" if placeholder else "") + "). FFmpeg and many "
            "tools write none unless told to, and it is easily stripped: this says nothing "
            "either way.", unset=raw_zero + placeholder)
    elif placeholder:
        add("info", "time_placeholder",
            "Some header times are placeholders before 1990 (" + ", ".join(placeholder[:6])
            + "): the writer's clock was not set.", fields=placeholder)

    def span(a, b):  # seconds a - b
        return (a - b).total_seconds()

    # 1. modification before creation (same header)
    pairs = [("mvhd_modified", "mvhd_created")]
    pairs += [(k, k.replace("_modified", "_created")) for k in stamps
              if k.endswith("_modified") and k != "mvhd_modified"]
    for a, b in pairs:
        if a in stamps and b in stamps:
            d = span(stamps[a][0], stamps[b][0])
            if d < -SAME_CLOCK_SLACK_S:
                add("medium", "time_order_impossible",
                    f"The header says it was modified ({mp4.iso(stamps[a][0])}) {_fmt_s(-d)} "
                    f"before it was created ({mp4.iso(stamps[b][0])}), which a recorder does "
                    "not write: the times were edited, or written by a tool with a broken clock.",
                    "time_order_impossible", modified_field=a, created_field=b, gap_s=-d)
                break
    # 2. rewritten after creation
    if "mvhd_modified" in stamps and "mvhd_created" in stamps:
        d = span(stamps["mvhd_modified"][0], stamps["mvhd_created"][0])
        if d > EDIT_GAP_S:
            add("low", "time_modified_after_creation",
                f"The movie header's modification time is {_fmt_s(d)} after its creation time "
                f"({mp4.iso(stamps['mvhd_created'][0])} -> {mp4.iso(stamps['mvhd_modified'][0])}): "
                "software rewrote the file after recording (trim, export, re-mux; often "
                "harmless).", "time_modified_after_creation", gap_s=d)
    # 3. track/media creation vs movie creation
    if "mvhd_created" in stamps:
        m0 = stamps["mvhd_created"][0]
        off = {k: span(v[0], m0) for k, v in stamps.items()
               if k.endswith("_created") and k != "mvhd_created"}
        bad = {k: d for k, d in off.items() if abs(d) > EDIT_GAP_S}
        if bad:
            k = max(bad, key=lambda z: abs(bad[z]))
            add("low", "time_track_mismatch",
                f"Track creation times differ from the movie's ({mp4.iso(m0)}): {k} is "
                f"{_fmt_s(abs(bad[k]))} {'later' if bad[k] > 0 else 'earlier'}"
                + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else "")
                + ". A recorder writes one time for all; tracks taken from another file or a "
                "file assembled by a tool show this.", "time_track_mismatch",
                offsets_s={k: round(v, 3) for k, v in bad.items()})
    # 4. tag dates vs header
    created = stamps.get("mvhd_created")
    dur = float(facts.get("duration") or (box.movie_duration if box else 0) or 0)
    if created:
        for key, (t, zone) in tag_stamps.items():
            if key == "creation_time":
                continue  # PyAV derives it from mvhd
            d = span(t, created[0])
            slack = EDIT_GAP_S + dur
            lo, hi = (d, d) if zone else (d - TZ_WEST_S, d + TZ_EAST_S)
            if lo > slack or hi < -slack:
                add("low", "time_tag_mismatch",
                    f"The '{key}' tag ({tags.get(key) or mp4.iso(t)}) and the movie header's "
                    f"creation time ({mp4.iso(created[0])}) are {_fmt_s(abs(d))} apart"
                    + ("" if zone else ", more than any time zone explains") + ": one of them "
                    "was rewritten, or the tag was copied from another recording.",
                    "time_tag_mismatch", tag=key, difference_s=round(d, 3))
                break
    # 5. future
    now = dt.datetime.now(dt.UTC)
    fut = {k: v for k, v in {**stamps, **tag_stamps}.items()
           if span(v[0], now) > FUTURE_SLACK_S + (0 if v[1] else TZ_EAST_S)}
    if fut:
        k = sorted(fut)[0]
        add("low", "time_future",
            f"A time lies in the future: {k} = {mp4.iso(fut[k][0])}. The writer's clock was "
            "wrong, or the time was edited.", "time_future", fields=sorted(fut))
    # 6. file modified before the recording was created
    if opts.get("file_mtime", True):
        try:
            mt = dt.datetime.fromtimestamp(media.path.stat().st_mtime, tz=dt.UTC)
        except (OSError, OverflowError, ValueError):
            mt = None
        first = created or tag_stamps.get("com.apple.quicktime.creationdate")
        if mt is not None and first is not None:
            # mvhd is UTC by the standard, but some cameras write local time: allow any zone
            d = span(mt, first[0]) + (TZ_EAST_S if not first[1] or first is created else 0.0)
            if d < -EDIT_GAP_S:
                add("low", "time_after_file_mtime",
                    f"The file system says the file was last changed ({mp4.iso(mt)}) "
                    f"{_fmt_s(-d)} before the recording was created ({mp4.iso(first[0])}), even "
                    "allowing for time zones: a clock was wrong, or the time was edited "
                    "(option file_mtime: False turns this off for copies).",
                    "time_after_file_mtime", file_mtime=mp4.iso(mt), created=mp4.iso(first[0]))


def _fmt_s(s: float) -> str:
    s = abs(float(s))
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.0f} days"


# ------------------------------------------------------------------------------ rotation
def _rotation(facts, box, add, ev) -> None:
    rot, mir, src = 0, False, None
    if box is not None:
        vt = next((t for t in box.tracks if t.handler == "vide"), None)
        if vt is not None and vt.matrix:
            rot, mir, src = vt.rotation, vt.mirrored, "tkhd display matrix"
    if src is None:
        for st in facts.get("streams", []):
            if st["type"] == "video" and st.get("tags", {}).get("rotate"):
                try:
                    rot, src = int(float(st["tags"]["rotate"])) % 360, "rotate tag"
                except ValueError:
                    pass
                break
    ev.data["rotation"] = {"degrees_clockwise": rot, "mirrored": mir, "source": src}
    if rot or mir:
        add("info", "rotation",
            f"The video is stored {'mirrored and ' if mir else ''}with a display rotation of "
            f"{rot}° clockwise ({src}); players turn it when showing it. Phones record this "
            "way when held upright; it is a fact, not a sign of editing.",
            degrees_clockwise=rot, mirrored=mir, source=src)


# ------------------------------------------------------------------------------ edit lists
def _delay_tolerance(kind: str, facts) -> float:
    """Largest shift read as codec delay: CODEC_DELAY_S, or 4 frames / 4096 samples when longer
    (a 1 fps clip with B-frames is delayed 2 s; AAC at 8 kHz primes 0.26 s)."""
    st = next((s for s in facts.get("streams", []) if s["type"] == kind), {})
    if kind == "video" and st.get("fps"):
        return max(CODEC_DELAY_S, 4.0 / float(st["fps"]))
    if kind == "audio" and st.get("sample_rate"):
        return max(CODEC_DELAY_S, 4096.0 / float(st["sample_rate"]))
    return CODEC_DELAY_S


def _edit_lists(box, facts, add, ev) -> None:
    shifts = {}
    summary = []
    tol = {}
    for tr in box.tracks:
        if tr.edits is None or tr.handler not in ("vide", "soun"):
            continue
        kind = "video" if tr.handler == "vide" else "audio"
        tol[kind] = _delay_tolerance(kind, facts)
        edits = tr.edits
        if not edits:
            continue
        lead = 0.0
        i = 0
        while i < len(edits) and edits[i].media_time is None:
            lead += edits[i].duration
            i += 1
        media_edits = [e for e in edits[i:] if e.media_time is not None]
        later_empty = [e for e in edits[i:] if e.media_time is None]
        first_mt = media_edits[0].media_time if media_edits else 0.0
        shifts[kind] = lead - (first_mt or 0.0)
        summary.append({"track": kind, "entries": len(edits), "lead_empty_s": round(lead, 6),
                        "first_media_time_s": round(first_mt or 0.0, 6)})
        ed = [e.to_dict() for e in edits[:20]]
        if len(media_edits) >= 2 or later_empty:
            cut = []
            for a, b in zip(media_edits, media_edits[1:], strict=False):
                end_a = a.media_time + a.duration * (a.rate or 1.0)
                cut.append(round(b.media_time - end_a, 3))
            add("medium", "edit_list_cuts",
                f"The {kind} track's edit list plays {len(media_edits)} separate pieces of its "
                "media" + (f" with {len(later_empty)} empty gap(s)" if later_empty else "")
                + ": content was cut, reordered or joined inside the container without "
                "re-encoding (lossless cutters and some editors do this). Skipped media (s) "
                f"between pieces: {cut[:10]}.", "edit_list_cuts", track=kind, edits=ed,
                skipped_s=cut[:50])
            continue
        if lead > tol[kind]:
            add("low", "edit_list_delay",
                f"The {kind} track starts with an empty edit of {lead:.3f} s: the container "
                "delays it against the other tracks (a re-timing done without re-encoding).",
                "edit_list_delay", track=kind, delay_s=round(lead, 6), edits=ed)
        if first_mt and first_mt > tol[kind]:
            add("low", "edit_list_trim",
                f"The {kind} track's edit list starts {first_mt:.3f} s into its media: the "
                "beginning was trimmed in the container without re-encoding (the hidden part is "
                "still in the file).", "edit_list_trim", track=kind,
                media_time_s=round(first_mt, 6), edits=ed)
        if media_edits and tr.media_duration:
            e0 = media_edits[0]
            shown = e0.duration * (e0.rate or 1.0)
            hidden = tr.media_duration - (e0.media_time or 0.0) - shown
            if hidden > max(tol[kind], 0.5) and len(media_edits) == 1:
                add("low", "edit_list_trim",
                    f"The {kind} track's edit list shows {shown:.2f} s of its "
                    f"{tr.media_duration:.2f} s of media: the end ({hidden:.2f} s) was trimmed "
                    "in the container without re-encoding (the hidden part is still in the "
                    "file).", "edit_list_trim", track=kind, hidden_end_s=round(hidden, 3),
                    edits=ed)
        if any(abs((e.rate or 0) - 1.0) > 1e-3 for e in media_edits):
            add("low", "edit_list_rate",
                f"The {kind} track's edit list plays part of its media at another speed "
                f"(rates {sorted({round(e.rate, 3) for e in media_edits})}): slowed or sped up "
                "in the container.", "edit_list_rate", track=kind, edits=ed)
    ev.data["edit_lists"] = summary
    if "video" in shifts and "audio" in shifts:
        d = shifts["audio"] - shifts["video"]
        if abs(d) > max(AV_SHIFT_S, tol.get("video", 0.0), tol.get("audio", 0.0)):
            add("low", "edit_list_av_shift",
                f"The audio and video edit lists place the start of their content {abs(d):.3f} s "
                f"apart (audio {'later' if d > 0 else 'earlier'}): sound and picture were shifted "
                "against each other in the container.", "edit_list_av_shift",
                shift_s=round(d, 6))


def _box_problems(box, add) -> None:
    if box.problems:
        add("low", "container_damaged",
            "The MP4 box structure is damaged: " + "; ".join(box.problems[:3])
            + ". Truncated downloads and interrupted recordings do this; damage is not a sign "
            "of editing, but what follows was read from an incomplete file.",
            problems=box.problems[:20])
    if box.fragmented:
        add("info", "fragmented",
            "The file is a fragmented MP4 (moof boxes): written by a live recorder, a screen "
            "recorder or a streaming packager rather than as one finished movie.")


# ------------------------------------------------------------------------------ streams
def _streams(facts, box, add, ev) -> None:
    streams = facts.get("streams", [])
    vids = [s for s in streams if s["type"] == "video"]
    auds = [s for s in streams if s["type"] == "audio"]
    others = [s for s in streams if s["type"] not in ("video", "audio")]
    ev.data["track_counts"] = {"video": len(vids), "audio": len(auds), "other": len(others)}
    if not auds and box is not None and box.problems:
        add("info", "audio_missing",
            "No audio track could be read; the container is damaged (see "
            "video.container_damaged), so a sound track may have been lost with it.",
            damaged=True)
    elif not auds:
        add("info", "audio_missing",
            "The file has no audio track. Many sources publish silent video (research sets, "
            "GIF-like clips, muted uploads); a removed sound track cannot be told from one "
            "that never existed.")
    if len(vids) > 1 or len(auds) > 1:
        add("info", "extra_tracks",
            f"The file holds {len(vids)} video and {len(auds)} audio tracks; only the first of "
            "each is analysed.", video=len(vids), audio=len(auds))
    if not vids or not auds:
        return
    v, a = vids[0], auds[0]
    vd, ad = v.get("duration"), a.get("duration")
    if box is not None:  # presentation durations (after edit lists) when the boxes say
        vt = next((t for t in box.tracks if t.handler == "vide"), None)
        at = next((t for t in box.tracks if t.handler == "soun"), None)
        if vt is not None and vt.duration:
            vd = vt.duration
        if at is not None and at.duration:
            ad = at.duration
    if vd and ad and abs(vd - ad) > AV_DURATION_S:
        add("low", "av_duration_mismatch",
            f"The audio track lasts {ad:.2f} s and the video {vd:.2f} s ({abs(ad - vd):.2f} s "
            "apart). A recorder writes both for the same time; a sound track replaced, "
            "extended or cut separately from the picture shows this (so do some converters).",
            "av_duration_mismatch", video_s=round(vd, 3), audio_s=round(ad, 3))
    vs, as_ = v.get("start"), a.get("start")
    if vs is not None and as_ is not None and abs(vs - as_) > START_DIFF_S:
        add("low", "stream_start_mismatch",
            f"The audio starts at {as_:.3f} s and the video at {vs:.3f} s of the file's "
            "timeline: one was offset against the other.", "stream_start_mismatch",
            video_start_s=vs, audio_start_s=as_)


# ------------------------------------------------------------------------------ frame timing
def _frame_timing(media: Media, ctx: Context, facts, add, ev) -> None:
    from veriscope.core.errors import MediaError
    from veriscope.core.video import policy_from, scan

    cap = policy_from(ctx).max_seconds
    total = float(facts.get("duration") or 0.0) or cap
    t0 = time.perf_counter()
    try:
        sc = scan(media, max_seconds=cap,
                  progress=lambda t: ctx.tick("video_container: frames", min(t, total), min(total, cap)))
    except MediaError as e:
        add("low", "undecodable",
            f"No frame of the video could be decoded ({e.message}); only the container was "
            "analysed.", reason=e.message)
        return
    ev.data["scan_s"] = round(time.perf_counter() - t0, 3)
    log = sc.log
    times = sc.times
    ev.data["frames_decoded"] = int(sc.n)
    if log.errors:
        et = [round(float(t), 3) for t in log.error_times[:200]]
        add("low", "decode_errors",
            f"{log.errors} packet(s) of the video failed to decode"
            + (f", at {', '.join(f'{t:.2f}' for t in et[:8])} s" if et else "")
            + f" ({log.first_error}); those frames are missing from every analysis. The file "
            "is damaged (transfer error, bad storage, cut download); damage is not a sign of "
            "editing.", errors=int(log.errors), times_s=et, first_error=log.first_error)
        for t in et[:MAX_SEGMENTS]:
            ev.segments.append(Segment(max(0.0, t - 0.02), t + 0.02, None, "decode_error"))
    if log.capped:
        add("info", "duration_capped",
            f"The video is longer than the analysis cap of {cap:g} s; frames after {cap:g} s "
            "were not looked at (raise the cap, e.g. Context.video['max_seconds'], to analyse "
            "all).", max_seconds=cap, header_duration_s=facts.get("duration"))
    vstream = next((st for st in facts.get("streams", []) if st["type"] == "video"), {})
    hdr = vstream.get("duration") or (facts.get("duration") if len(facts.get("streams", [])) == 1
                                     else None)
    # AVI keeps the frame count of its stream header even when FFmpeg, missing the index of a
    # cut file, derives the duration from what is left: the count still tells the length.
    n_hdr, fps_hdr = vstream.get("frames"), vstream.get("fps")
    by_count = (n_hdr / fps_hdr if media.format == "avi" and n_hdr and fps_hdr and n_hdr > 1
                else None)
    if by_count and (not hdr or by_count > hdr):
        hdr = round(by_count, 3)
    if hdr and not log.capped and sc.n and hdr - sc.duration > 1.0:
        add("low", "decoded_short",
            f"The header says the video lasts {hdr:.2f} s but decodable frames stop at "
            f"{sc.duration:.2f} s: the file is truncated or its end is damaged.",
            header_s=hdr, decoded_s=round(sc.duration, 3), header_frames=n_hdr)
    if len(times) < 3:
        ev.data["frame_intervals"] = {"frames": int(len(times))}
        return
    dtv = np.diff(times)
    dtv = dtv[np.isfinite(dtv)]
    pos = dtv[dtv > 0]
    if pos.size == 0:
        return
    med = float(np.median(pos))
    dev = np.abs(pos - med) / med
    frac = float(np.mean(dev > VFR_DEVIATION))
    stats = {"frames": int(len(times)), "median_s": round(med, 6),
             "mean_s": round(float(pos.mean()), 6), "std_s": round(float(pos.std()), 6),
             "min_s": round(float(pos.min()), 6), "max_s": round(float(pos.max()), 6),
             "p1_s": round(float(np.percentile(pos, 1)), 6),
             "p99_s": round(float(np.percentile(pos, 99)), 6),
             "fps_median": round(1.0 / med, 3), "fraction_off_median": round(frac, 4),
             "zero_or_negative": int(np.sum(dtv <= 0)),
             "exact_duplicate_frames": int(sc.exact_dup.sum())}
    ev.data["frame_intervals"] = stats
    if frac >= VFR_FRACTION:
        add("info", "variable_frame_rate",
            f"Variable frame rate: {frac * 100:.1f} % of frame intervals differ from the median "
            f"({med * 1000:.1f} ms, {1 / med:.2f} fps) by more than {VFR_DEVIATION:.0%}; intervals "
            f"range {pos.min() * 1000:.1f}-{pos.max() * 1000:.1f} ms (1st-99th percentile "
            f"{stats['p1_s'] * 1000:.1f}-{stats['p99_s'] * 1000:.1f} ms). Phones and screen "
            "recorders write variable frame rates; on its own this says nothing.", **stats)
    gaps = np.nonzero(dtv >= max(GAP_FACTOR * med, GAP_MIN_S))[0]
    segs = [(float(times[i]), float(times[i + 1])) for i in gaps[:MAX_SEGMENTS]]
    n_gaps = int(gaps.size)
    if log.capped and log.next_time is not None \
            and log.next_time - float(times[-1]) >= max(GAP_FACTOR * med, GAP_MIN_S):
        # the gap runs past the cap: the frame after it was read (and stopped the scan)
        n_gaps += 1
        if len(segs) < MAX_SEGMENTS:
            segs.append((float(times[-1]), float(log.next_time)))
    if segs:
        add("low", "timestamp_gap",
            f"{n_gaps} gap(s) in the frame timestamps of at least {GAP_MIN_S:g} s and "
            f"{GAP_FACTOR:g}x the usual interval: "
            + ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in segs[:5])
            + ". Frames are missing there (cut out without re-timing, or dropped by the "
            "recorder).", "timestamp_gap", gaps=[[round(a, 3), round(b, 3)] for a, b in segs])
        for a, b in segs:
            ev.segments.append(Segment(a, b, SCORES["timestamp_gap"], "timestamp_gap"))
