"""Names of software and devices found in video container tags (private helper of
``video_container``).

Each table is a list of (regular expression on the lower-cased value, display name). The
patterns are word-bounded where a short name could occur inside another word. They are
hand-written from the names the tools are sold under and the strings they are known to write
(FFmpeg: ``Lavf<version>`` / ``Lavc<version> <codec>``; x264: ``x264 - core <n>`` in an SEI
message; Apple AVFoundation: handler names ``Core Media Video``/``Core Media Audio``; Android
MPEG4Writer: ``VideoHandle``/``SoundHandle``), not fitted to any data.
"""

from __future__ import annotations

import re

# Programs that synthesise video (or faces in video) from prompts, images or audio.
GENERATORS = [
    (r"\bsora\b", "OpenAI Sora"), (r"\brunwayml\b|\brunway gen|\brunway ml\b", "Runway"),
    (r"\bpika ?labs\b|\bpika\.art\b", "Pika"), (r"\bkling ?ai\b|\bkling\b", "Kling"),
    (r"\bgoogle veo\b|\bveo ?[23]\b", "Google Veo"),
    (r"\bluma ?ai\b|\bdream machine\b|\bluma labs\b", "Luma Dream Machine"),
    (r"\bsynthesia\b", "Synthesia"), (r"\bheygen\b", "HeyGen"), (r"\bd-id\b", "D-ID"),
    (r"\bhedra\b", "Hedra"), (r"\bhaiper\b", "Haiper"), (r"\bhailuo\b", "MiniMax Hailuo"),
    (r"stable video diffusion", "Stable Video Diffusion"), (r"\banimatediff\b", "AnimateDiff"),
    (r"\bdeforum\b", "Deforum"), (r"\bcogvideo", "CogVideo"), (r"\bltx-?video\b", "LTX-Video"),
    (r"\bhunyuan ?video\b", "HunyuanVideo"), (r"\bwanvideo\b|\bwan ?2\.[0-9]\b", "Wan"),
]
# Face swap / lip-sync / face reenactment tools.
FACE_TOOLS = [
    (r"deepfacelab", "DeepFaceLab"), (r"\bfacefusion\b", "FaceFusion"), (r"\broop\b", "roop"),
    (r"\bsimswap\b", "SimSwap"), (r"\bwav2lip\b", "Wav2Lip"), (r"\bsadtalker\b", "SadTalker"),
    (r"\bliveportrait\b", "LivePortrait"), (r"\breface\b", "Reface"),
    (r"\bfaceswap\b", "faceswap"), (r"video-?retalking", "VideoReTalking"),
    (r"deep-?live-?cam", "Deep-Live-Cam"),
]
EDITORS = [
    (r"premiere", "Adobe Premiere"), (r"after effects", "Adobe After Effects"),
    (r"adobe media encoder", "Adobe Media Encoder"), (r"adobe express", "Adobe Express"),
    (r"final cut", "Apple Final Cut Pro"), (r"\bimovie\b", "Apple iMovie"),
    (r"davinci resolve|blackmagic design", "DaVinci Resolve"), (r"\bcapcut\b", "CapCut"),
    (r"剪映|\bjianying\b", "Jianying (CapCut)"), (r"filmora|wondershare", "Wondershare Filmora"),
    (r"\binshot\b", "InShot"), (r"kinemaster", "KineMaster"), (r"powerdirector", "PowerDirector"),
    (r"\bvegas pro\b|sony vegas|magix vegas", "Vegas Pro"), (r"camtasia", "Camtasia"),
    (r"\bshotcut\b", "Shotcut"), (r"kdenlive", "Kdenlive"), (r"openshot", "OpenShot"),
    (r"avidemux", "Avidemux"), (r"lumafusion", "LumaFusion"), (r"clipchamp", "Clipchamp"),
    (r"movavi", "Movavi"), (r"pinnacle studio", "Pinnacle Studio"), (r"lightworks", "Lightworks"),
    (r"hitfilm", "HitFilm"), (r"videoleap", "Videoleap"), (r"\bvn video editor\b", "VN"),
    (r"\bgopro quik\b", "GoPro Quik"), (r"\bcanva\b", "Canva"), (r"\bveed\.io\b|\bveed\b", "VEED"),
    (r"\bkapwing\b", "Kapwing"), (r"\bfacetune\b", "Facetune"), (r"\bfaceapp\b", "FaceApp"),
    (r"\bmeitu\b|美图", "Meitu"), (r"\bvideoproc\b", "VideoProc"), (r"\bblender\b", "Blender"),
    (r"\bvideopad\b", "VideoPad"), (r"\bsnapseed\b", "Snapseed"), (r"\bsplice video\b", "Splice"),
]
SCREEN_RECORDERS = [
    (r"evcapture|ev录屏|\bieway\b", "EV Capture"), (r"\bobs studio\b|\bobs-output\b|^obs\b",
                                                    "OBS Studio"),
    (r"bandicam", "Bandicam"), (r"\bsharex\b", "ShareX"), (r"\bfraps\b", "Fraps"),
    (r"snagit", "Snagit"), (r"screenflow", "ScreenFlow"), (r"xrecorder", "XRecorder"),
    (r"mobizen", "Mobizen"), (r"apowersoft|apowerrec", "Apowersoft"),
    (r"screen ?recorder|screen ?recording|screencast|录屏|屏幕录制", "a screen recorder"),
]
PROCESSORS = [
    (r"\blavf\d+\.\d+\.\d+", "FFmpeg (libavformat)"), (r"\blavc\d+\.\d+\.\d+", "FFmpeg (libavcodec)"),
    (r"\bffmpeg\b", "FFmpeg"), (r"handbrake", "HandBrake"), (r"\bx264\b", "x264"),
    (r"\bx265\b", "x265"), (r"\bgpac\b|mp4box", "GPAC MP4Box"),
    (r"mkvmerge|libmatroska|libebml|mkvtoolnix", "MKVToolNix"), (r"bento4", "Bento4"),
    (r"mencoder|mplayer", "MEncoder"), (r"\bvlc\b|libvlc", "VLC"),
    (r"produced by google|\byoutube\b", "Google / YouTube"), (r"\bxvid", "Xvid"),
    (r"\bdivx", "DivX"), (r"shutter encoder", "Shutter Encoder"),
    (r"format ?factory", "Format Factory"), (r"\bwhatsapp\b", "WhatsApp"),
    (r"\btelegram\b", "Telegram"), (r"\btiktok\b|bytedance|\bdouyin\b|抖音", "TikTok / ByteDance"),
    (r"\bapple compressor\b", "Apple Compressor"), (r"\blibav\b", "Libav"),
]

# Signatures of the software that writes a device's own recordings.
HANDLER_SIGNATURES = [
    (r"^core media (video|audio|metadata|data|text)", "Apple AVFoundation (Core Media)", "apple"),
    (r"^(video|sound)handle$", "Android MPEG4Writer", "android"),
    (r"^gopro (avc|aac|met|tcd|h\.?265|hevc)", "GoPro camera", "camera"),
    (r"^dji\.|\bdji\b", "DJI camera", "camera"),
]

_COMPILED: dict[int, list] = {}


def _compiled(table) -> list:
    key = id(table)
    if key not in _COMPILED:
        _COMPILED[key] = [(re.compile(p), *rest) for p, *rest in table]
    return _COMPILED[key]


def match(value: str, table) -> str | None:
    """Display name of the first entry of ``table`` found in ``value`` (case-insensitive)."""
    low = value.lower()
    for rx, name, *_ in _compiled(table):
        if rx.search(low):
            return name
    return None


def handler_signature(name: str) -> tuple[str, str] | None:
    """(who, family) when a track handler name is typical of a device's own writer."""
    low = name.strip().lower()
    for rx, who, fam in _compiled(HANDLER_SIGNATURES):
        if rx.search(low):
            return who, fam
    return None


_FFMPEG_VER = re.compile(r"\b(lav[fc])(\d+)\.(\d+)\.(\d+)", re.I)


def ffmpeg_version(value: str) -> str | None:
    """``Lavf58.29.100`` -> 'libavformat 58.29.100' (the FFmpeg release line it came from)."""
    m = _FFMPEG_VER.search(value)
    if not m:
        return None
    lib = "libavformat" if m.group(1).lower() == "lavf" else "libavcodec"
    return f"{lib} {m.group(2)}.{m.group(3)}.{m.group(4)}"


_SEI = [
    (re.compile(rb"x264 - core (\d+)(?: r(\d+))?"), "x264"),
    (re.compile(rb"x265 \(build (\d+)\)"), "x265"),
    (re.compile(rb"(Lavc\d+\.\d+\.\d+)"), "FFmpeg libavcodec"),
    (re.compile(rb"(XviD\d{4})"), "Xvid"),
    (re.compile(rb"(DivX\d{3,4}(?:Build\d+)?)"), "DivX"),
]
_X264_OPTS = re.compile(rb"options: ([ -~]{0,3000})")


def bitstream_encoders(blobs: list[bytes]) -> list[dict]:
    """Encoder signatures that software encoders embed in the coded stream itself (H.264 /
    HEVC SEI 'user data unregistered', MPEG-4 Part 2 user data)."""
    out, seen = [], set()
    for b in blobs:
        for rx, name in _SEI:
            m = rx.search(b)
            if not m or name in seen:
                continue
            seen.add(name)
            d = {"encoder": name, "text": m.group(0).decode("latin-1")[:80]}
            if name == "x264":
                om = _X264_OPTS.search(b, m.end())
                if om:
                    opts = dict(kv.split("=", 1) for kv in om.group(1).decode("latin-1").split()
                                if "=" in kv)
                    keep = {k: opts[k] for k in ("rc", "crf", "bitrate", "keyint", "bframes",
                                                 "threads") if k in opts}
                    d["options"] = keep
            out.append(d)
    return out
