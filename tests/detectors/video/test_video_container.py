"""video_container detector and the MP4 box reader, on clips written here with known tags,
times, edit lists and frame timing (and on the shared talking-face / FF++ samples)."""

from __future__ import annotations

import datetime as dt
import json
import os
import struct

import numpy as np
import pytest
from video_clips import edit_moov, elst, find, mac, mvhd_v1, set_times, track, write_clip

from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.video.video_container.detector import SCORES, VideoContainerDetector
from veriscope.detectors.video.video_container.tags import (
    EDITORS,
    GENERATORS,
    SCREEN_RECORDERS,
    match,
)
from veriscope.formats import mp4
from veriscope.pipeline.runner import run_detector

C2021 = dt.datetime(2021, 5, 1, 10, 0, tzinfo=dt.UTC).timestamp()

COMFY = json.dumps({
    "3": {"class_type": "KSampler", "inputs": {"seed": 7, "steps": 20, "model": ["4", 0],
                                               "positive": ["6", 0], "negative": ["7", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple",
          "inputs": {"ckpt_name": "wan2.1_t2v_1.3B.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
})


def _mdhd_timescale(trak) -> int:
    (lst, j), = find(trak, b"mdia", b"mdhd")
    return struct.unpack(">I", lst[j][1][12:16])[0]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("vc")
    c = {}
    c["plain"] = write_clip(d / "plain.mp4")
    c["silent"] = write_clip(d / "silent.mp4", audio=False, n=10)
    c["apple"] = write_clip(
        d / "apple.mp4", options={"movflags": "use_metadata_tags"},
        meta={"com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 12",
              "com.apple.quicktime.software": "16.1",
              "com.apple.quicktime.location.ISO6709": "+48.8584+002.2945+035.000/",
              "com.apple.quicktime.creationdate": "2021-05-03T12:00:00+0200",
              "creation_time": "2021-05-01T10:00:00.000000Z"},
        vmeta={"handler_name": "Core Media Video"}, ameta={"handler_name": "Core Media Audio"})
    c["android"] = write_clip(d / "android.mp4", vmeta={"handler_name": "VideoHandle"},
                              ameta={"handler_name": "SoundHandle"})
    c["editor"] = write_clip(d / "editor.mp4", options={"movflags": "use_metadata_tags"},
                             meta={"com.apple.quicktime.software": "Adobe Premiere Pro 2024.1"})
    c["comfy"] = write_clip(d / "comfy.mp4", meta={"comment": COMFY}, audio=False, n=10)
    c["screen"] = write_clip(d / "screen.mp4", audio=False, n=10,
                             meta={"title": "Recorded with OBS Studio 30.0",
                                   "comment": "Our take on what the new Sora model means for news"})
    c["runway"] = write_clip(d / "runway.mp4", audio=False, n=10,
                             meta={"comment": "Video generated with Runway Gen-3 Alpha Turbo"})
    c["rotated"] = write_clip(d / "rotated.mp4", rotation=-90, audio=False, n=10)
    c["av_mismatch"] = write_clip(d / "avm.mp4", n=10, audio_s=2.0)
    pts = [i * 40 for i in range(20)] + [760 + 1500 + i * 40 for i in range(20)]
    c["gap"] = write_clip(d / "gap.mp4", n=40, pts_ms=pts, audio=False)

    # times: modified a day before created, audio track created 3 h later, file mtime in 2000
    def bad_times(tree):
        (lst, j), = find(tree, b"mvhd")
        lst[j] = (b"mvhd", set_times(lst[j][1], mac(C2021), mac(C2021 - 86400)))
        (lst, j), = find(track(tree, b"soun"), b"tkhd")
        lst[j] = (b"tkhd", set_times(lst[j][1], mac(C2021 + 3 * 3600)))

    c["times"] = edit_moov(write_clip(d / "times.mp4", meta={"creation_time": "2021-05-01T10:00:00Z"}),
                           bad_times)
    t2000 = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()
    os.utime(c["times"], (t2000, t2000))

    # movie header (64-bit times) created 30 years from now, rewritten an hour later
    def later(tree):
        (lst, j), = find(tree, b"mvhd")
        created = mac(dt.datetime.now(dt.UTC).timestamp() + 30 * 365 * 86400)
        lst[j] = (b"mvhd", mvhd_v1(lst[j][1], created, created + 3600))

    c["future"] = edit_moov(write_clip(d / "future.mp4"), later)

    # edit lists: two pieces of the video (0.2-1.2 s and 2.0-3.0 s of media)
    def cuts(tree):
        v = track(tree, b"vide")
        ts = _mdhd_timescale(v)
        (lst, j), = find(v, b"edts", b"elst")
        lst[j] = (b"elst", elst([(1000, int(0.2 * ts), 1.0), (1000, int(2.0 * ts), 1.0)]))

    c["cuts"] = edit_moov(write_clip(d / "cuts.mp4"), cuts)

    # video starts 1.2 s into its media, audio delayed by an empty edit of 0.8 s
    def shifted(tree):
        v = track(tree, b"vide")
        ts = _mdhd_timescale(v)
        (lst, j), = find(v, b"edts", b"elst")
        lst[j] = (b"elst", elst([(1800, int(1.2 * ts), 1.0)]))
        a = track(tree, b"soun")
        (lst, j), = find(a, b"edts", b"elst")
        lst[j] = (b"elst", elst([(800, -1, 1.0), (2900, 1024, 1.0)]))

    c["shifted"] = edit_moov(write_clip(d / "shifted.mp4"), shifted)
    return c


def run(path, **video) -> object:
    ctx = Context(timeout_s=60, video=video or None)
    ev = run_detector(VideoContainerDetector(), Media.open(path), ctx)
    assert ev.error is None, ev.error
    assert "errors" not in ev.data, ev.data["errors"]  # no analysis step crashed
    return ev


def codes(ev) -> dict:
    return {f.code: f for f in ev.findings}


def test_plain_ffmpeg_clip_is_facts_only(clips):
    ev = run(clips["plain"])
    c = codes(ev)
    assert {"video.processing_tool", "video.bitstream_encoder", "video.times_unset"} <= set(c)
    assert "FFmpeg (libavformat)" in c["video.processing_tool"].data["tools"]
    assert c["video.bitstream_encoder"].data["encoder"] == "x264"
    assert ev.score == 0.0 and ev.label == "no_evidence"
    # FFmpeg's codec-delay edit lists (2 B-frames of video, AAC priming) are no finding
    assert not any(k.startswith("video.edit_list") for k in c)
    assert ev.data["mp4"]["tags"]["encoder"].startswith("Lavf")
    assert ev.data["frame_intervals"]["median_s"] == pytest.approx(0.1, abs=1e-6)
    assert "video.variable_frame_rate" not in c and "video.audio_missing" not in c


def test_silent_clip_reports_missing_audio(clips):
    c = codes(run(clips["silent"]))
    assert c["video.audio_missing"].severity == "info"


def test_apple_signature_on_ffmpeg_file(clips):
    ev = run(clips["apple"])
    c = codes(ev)
    assert "iPhone 12" in c["video.device_signature"].message
    assert ev.data["device"] == {"make": "Apple", "model": "iPhone 12", "software": "16.1"}
    rw = c["video.device_file_rewritten"]
    assert rw.severity == "low" and rw.data["score"] == SCORES["device_file_rewritten"]
    assert "FFmpeg (libavformat)" in rw.data["writers"]
    assert "+48.8584+002.2945" in c["video.location"].message
    # creationdate 2021-05-03 12:00+02:00 vs mvhd 2021-05-01 10:00 UTC: 2 days apart
    assert c["video.time_tag_mismatch"].data["difference_s"] == pytest.approx(2 * 86400, abs=1)
    assert ev.score == SCORES["time_tag_mismatch"] and ev.label == "manipulated"


def test_android_handler_names(clips):
    c = codes(run(clips["android"]))
    assert "Android MPEG4Writer" in c["video.device_signature"].data["signatures"]
    assert "video.device_file_rewritten" in c


def test_editor_generator_and_screen_recorder_tags(clips):
    ed = run(clips["editor"])
    f = codes(ed)["video.editor_tag"]
    assert f.severity == "low" and f.data["tool"] == "Adobe Premiere"
    assert ed.score == SCORES["editor"] < 0.5
    assert "video.device_signature" not in codes(ed)  # a software key alone is no device

    gen = run(clips["comfy"])
    g = codes(gen)["video.generator_tag"]
    assert g.severity == "high" and "wan2.1_t2v_1.3B.safetensors" in g.message
    assert gen.score == SCORES["generator"] and gen.label == "synthetic"

    sc = codes(run(clips["screen"]))
    assert sc["video.screen_recording"].data["tool"] == "OBS Studio"
    assert "video.generator_tag" not in sc  # a comment that only mentions Sora
    rw = codes(run(clips["runway"]))["video.generator_tag"]
    assert rw.data["tool"] == "Runway" and rw.data["field"] == "comment"


def test_tool_tables():
    assert match("Adobe Premiere Pro 2023.0 (Windows)", EDITORS) == "Adobe Premiere"
    assert match("CapCut 12.1", EDITORS) == "CapCut"
    assert match("LumaFusion 4.1", EDITORS) == "LumaFusion"
    assert match("LumaFusion 4.1", GENERATORS) is None  # not Luma AI
    assert match("Made with Runway Gen-3 Alpha", GENERATORS) == "Runway"
    assert match("Bandicam 2023", SCREEN_RECORDERS) == "Bandicam"
    assert match("Lavf58.29.100", EDITORS) is None


def test_impossible_and_mismatched_times(clips):
    ev = run(clips["times"])
    c = codes(ev)
    o = c["video.time_order_impossible"]
    assert o.severity == "medium" and o.data["gap_s"] == pytest.approx(86400, abs=1)
    tm = c["video.time_track_mismatch"]
    assert any(abs(v - 3 * 3600) < 2 for v in tm.data["offsets_s"].values())
    assert "video.time_after_file_mtime" in c  # file says 2000, movie says 2021
    assert ev.score == SCORES["time_order_impossible"]
    assert ev.data["times"]["mvhd_created"] == "2021-05-01T10:00:00Z"


def test_future_and_rewritten_times(clips):
    c = codes(run(clips["future"]))
    assert "video.time_future" in c
    assert c["video.time_modified_after_creation"].data["gap_s"] == pytest.approx(3600, abs=1)


def test_file_mtime_rule_can_be_switched_off(clips):
    m = Media.open(clips["times"])
    ctx = Context(timeout_s=60, options={"video_container": {"file_mtime": False}})
    ev = run_detector(VideoContainerDetector(), m, ctx)
    assert "video.time_after_file_mtime" not in codes(ev)


def test_rotation_is_a_fact(clips):
    ev = run(clips["rotated"])
    f = codes(ev)["video.rotation"]
    assert f.severity == "info" and f.data["degrees_clockwise"] == 90
    assert ev.data["rotation"]["source"] == "tkhd display matrix"


def test_edit_list_cuts(clips):
    ev = run(clips["cuts"])
    f = codes(ev)["video.edit_list_cuts"]
    assert f.severity == "medium" and f.data["track"] == "video"
    assert f.data["skipped_s"][0] == pytest.approx(0.8, abs=0.01)
    assert ev.score == SCORES["edit_list_cuts"]
    assert len(ev.data["mp4"]["tracks"][0]["edits"]) == 2


def test_edit_list_trim_delay_and_av_shift(clips):
    c = codes(run(clips["shifted"]))
    assert c["video.edit_list_trim"].data["media_time_s"] == pytest.approx(1.2, abs=0.01)
    assert c["video.edit_list_delay"].data["delay_s"] == pytest.approx(0.8, abs=0.01)
    # audio content starts at 0.8 - 0.064 s, video at -1.2 s of movie time
    assert c["video.edit_list_av_shift"].data["shift_s"] == pytest.approx(0.8 - 0.064 + 1.2, abs=0.01)


def test_audio_video_duration_mismatch(clips):
    f = codes(run(clips["av_mismatch"]))["video.av_duration_mismatch"]
    assert f.data["audio_s"] - f.data["video_s"] == pytest.approx(1.0, abs=0.1)


def test_frame_timing_gap_and_vfr(clips):
    ev = run(clips["gap"])
    c = codes(ev)
    g = c["video.timestamp_gap"]
    assert len(g.data["gaps"]) == 1
    a, b = g.data["gaps"][0]
    assert a == pytest.approx(0.76, abs=0.01) and b - a == pytest.approx(1.5, abs=0.01)
    assert c["video.variable_frame_rate"].data["median_s"] == pytest.approx(0.04, abs=1e-6)
    assert [s.label for s in ev.segments] == ["timestamp_gap"]


def test_mp4_reader_survives_hostile_boxes(tmp_path):
    good = write_clip(tmp_path / "g.mp4", n=5, audio=False).read_bytes()
    rng = np.random.default_rng(0)
    cases = {
        "garbage": good[:32] + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "huge": good[:32] + struct.pack(">I4sQ", 1, b"moov", 1 << 62) + b"\0" * 64,
        "tiny_size": good[:32] + struct.pack(">I4s", 3, b"moov") + b"\0" * 64,
        "deep": good[:32] + struct.pack(">I4s", 8 + 8 * 200, b"moov")
        + b"".join(struct.pack(">I4s", 8 * (200 - i), b"trak") for i in range(200)),
        "inner_overflow": good[:32] + struct.pack(">I4s", 24, b"moov")
        + struct.pack(">I4s", 10_000, b"mvhd") + b"\0" * 8,
        "cut_moov": good[: len(good) - 50],
    }
    for name, data in cases.items():
        p = tmp_path / f"{name}.mp4"
        p.write_bytes(data)
        info = mp4.parse(p)  # never raises
        assert info.problems, name
        assert info.major_brand == "isom"
    deep = mp4.parse(tmp_path / "deep.mp4")
    assert any("deeper" in q for q in deep.problems)


def test_real_samples(shared):
    tf = shared("talking-face-videoretalking-examples") / "face_video"
    ev = run(tf / "1.mp4")
    c = codes(ev)
    assert c["video.screen_recording"].data["tool"] == "EV Capture"
    assert "FFmpeg (libavformat)" in c["video.processing_tool"].data["tools"]
    assert "Lavf57.25.100" in c["video.processing_tool"].message
    assert "video.variable_frame_rate" in c
    c4 = codes(run(tf / "4.mp4"))
    assert "Apple AVFoundation (Core Media)" in c4["video.device_file_rewritten"].data["signatures"]
    ff = shared("icpr2020dfdc-video-samples")
    real = next(ff.rglob("original_sequences/youtube/c23/videos/004.mp4"))
    e = run(real)
    assert "video.audio_missing" in codes(e) and e.score == 0.0
