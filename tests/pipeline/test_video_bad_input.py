"""Broken and unusual video files: a clear error line or a finding each, never a traceback or
a hang (every run has a time limit)."""

from __future__ import annotations

import json
import struct

import av
import numpy as np
import pytest
from test_bad_input import run_cli
from video_clips import write_clip

from veriscope.core.media import Media
from veriscope.core.video import DEFAULT_MAX_SECONDS
from veriscope.detectors.base import Context
from veriscope.detectors.video.video_container.detector import VideoContainerDetector
from veriscope.pipeline.runner import analyze_media

HAS_VP9 = "libvpx-vp9" in av.codecs_available


def _zero_frame_mkv(path):
    """A Matroska file whose video stream has no frame at all (only audio packets)."""
    c = av.open(str(path), "w")
    v = c.add_stream("libx264", rate=10)
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    a = c.add_stream("aac", rate=16000)
    a.layout = "mono"
    for i in range(10):
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                        layout="mono")
        fr.sample_rate, fr.pts = 16000, i * 1024
        for p in a.encode(fr):
            c.mux(p)
    for p in a.encode():
        c.mux(p)
    c.close()
    return path


@pytest.fixture(scope="session")
def bad(tmp_path_factory):
    d = tmp_path_factory.mktemp("vbad")
    f = {}
    ok = write_clip(d / "ok.mp4")
    full = ok.read_bytes()
    f["ok"] = ok
    f["trunc30"] = d / "trunc30.mp4"
    f["trunc30"].write_bytes(full[: int(len(full) * 0.3)])
    f["trunc95"] = d / "trunc95.mp4"
    f["trunc95"].write_bytes(full[: int(len(full) * 0.95)])
    fast = write_clip(d / "fast_src.mp4", n=60, options={"movflags": "faststart"}).read_bytes()
    f["fast_cut60"] = d / "fast_cut60.mp4"  # moov first, sample data cut
    f["fast_cut60"].write_bytes(fast[: int(len(fast) * 0.6)])
    rng = np.random.default_rng(1)
    f["garbage"] = d / "garbage.mp4"
    f["garbage"].write_bytes(full[:32] + rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    f["audio_only"] = d / "audio_only.m4v"
    c = av.open(str(f["audio_only"]), "w", format="mp4")
    a = c.add_stream("aac", rate=16000)
    a.layout = "mono"
    t = np.arange(16000) / 16000
    for i in range(0, 16000, 1024):
        fr = av.AudioFrame.from_ndarray((0.2 * np.sin(2 * np.pi * 300 * t[None, i:i + 1024]))
                                        .astype(np.float32), format="fltp", layout="mono")
        fr.sample_rate, fr.pts = 16000, i
        for p in a.encode(fr):
            c.mux(p)
    for p in a.encode():
        c.mux(p)
    c.close()
    f["zero_frames"] = _zero_frame_mkv(d / "zero_frames.mkv")
    b = bytearray(write_clip(d / "corrupt.mp4", n=60).read_bytes())
    i = b.index(b"mdat")
    size = struct.unpack(">I", b[i - 4:i])[0]
    mid = i + size // 2
    b[mid:mid + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    f["corrupt"] = d / "corrupt.mp4"
    f["corrupt"].write_bytes(bytes(b))
    pts = np.cumsum([0] + [33, 33, 66, 33, 100, 33, 33, 50] * 4)[:30].tolist()
    f["vfr"] = write_clip(d / "vfr.mp4", pts_ms=pts)
    f["mpeg4_avi"] = write_clip(d / "mpeg4.avi", codec="mpeg4", audio=False)
    f["mjpeg_avi"] = write_clip(d / "mjpeg.avi", codec="mjpeg", pix="yuvj420p", audio=False)
    if HAS_VP9:
        f["vp9_webm"] = write_clip(d / "vp9.webm", codec="libvpx-vp9", audio=False, n=10)
    f["gif"] = write_clip(d / "anim.gif", codec="gif", pix="rgb8", audio=False, fmt="gif", n=10)
    # 64x64 at 1 fps for 11.7 minutes: longer than the default cap, cheap to decode
    f["long"] = write_clip(d / "long.mp4", n=int(DEFAULT_MAX_SECONDS) + 100, fps=1, audio=False,
                           w=64, h=64, noise=False)
    return f


def container(path, timeout_s=60, **video):
    m = Media.open(path)
    rep = analyze_media(m, [VideoContainerDetector], Context(timeout_s=timeout_s,
                                                             video=video or None))
    ev = rep.evidence[0]
    assert ev.error is None, ev.error
    assert "errors" not in ev.data, ev.data["errors"]  # no analysis step crashed
    return m, ev


def codes(ev):
    return {f.code: f for f in ev.findings}


def test_cli_on_every_bad_video(bad):
    order = [k for k in bad if k != "long"]
    r = run_cli("analyze", *[bad[k] for k in order], "--format", "json", timeout=300)
    assert r.returncode == 1, r.stderr  # some inputs could not be analysed at all
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    errs = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    refused = {"trunc30": "truncated", "garbage": "not a readable mp4"}
    assert len(errs) == len(refused), r.stderr
    for key, word in refused.items():
        line = next(ln for ln in errs if bad[key].name in ln)
        assert word in line, line
    reports = {json.loads(ln)["media"]["name"]: json.loads(ln) for ln in r.stdout.splitlines()
               if ln.strip()}
    assert set(reports) == {bad[k].name for k in order if k not in refused}
    for name, rep in reports.items():
        for e in rep["evidence"]:
            assert "traceback" not in e["data"], f"{name}: {e['name']} crashed: {e['error']}"
        vc = next((e for e in rep["evidence"] if e["name"] == "video_container"), None)
        if rep["media"]["kind"] == "video":
            assert vc is not None and vc["applicable"] and vc["error"] is None, (name, vc)
            assert vc["findings"], name
            failed = [f["message"] for f in vc["findings"]
                      if f["code"] == "video.analysis_step_failed"]
            assert not failed, (name, failed)  # an internal step crashed on this input
    au = reports[bad["audio_only"].name]
    assert au["media"]["kind"] == "audio"
    assert any("audio only" in w for w in au["media"]["warnings"])
    assert reports[bad["gif"].name]["media"]["kind"] == "image"


def test_truncated_files(bad):
    _, ev = container(bad["trunc95"])  # moov cut: header facts partly lost
    c = codes(ev)
    assert "truncated" in c["video.container_damaged"].message
    assert ev.data["frames_decoded"] > 0
    _, ev = container(bad["fast_cut60"])  # sample data cut
    c = codes(ev)
    assert "video.container_damaged" in c
    d = c["video.decoded_short"].data
    assert d["decoded_s"] < d["header_s"] - 1.0


def test_corrupted_packets_are_reported_and_decoding_goes_on(bad):
    _, ev = container(bad["corrupt"])
    f = codes(ev)["video.decode_errors"]
    assert f.data["errors"] >= 1 and f.data["times_s"]
    assert 0 < ev.data["frames_decoded"] < 60
    assert any(s.label == "decode_error" for s in ev.segments)


def test_zero_frame_video_stream(bad):
    m, ev = container(bad["zero_frames"])
    assert m.kind == "video"
    assert "no decodable frames" in codes(ev)["video.undecodable"].message


def test_audio_only_mp4_is_analysed_as_audio(bad):
    m = Media.open(bad["audio_only"])
    assert m.kind == "audio"
    rep = analyze_media(m, [VideoContainerDetector], Context(timeout_s=30))
    assert rep.evidence[0].applicable is False


def test_variable_frame_rate_clip(bad):
    _, ev = container(bad["vfr"])
    f = codes(ev)["video.variable_frame_rate"]
    assert f.data["min_s"] == pytest.approx(0.033, abs=1e-3)
    assert f.data["max_s"] == pytest.approx(0.1, abs=1e-3)


@pytest.mark.parametrize("key,codec", [("mpeg4_avi", "mpeg4"), ("mjpeg_avi", "mjpeg"),
                                       ("vp9_webm", "vp9")])
def test_odd_codecs(bad, key, codec):
    if key not in bad:
        pytest.skip("this PyAV build has no libvpx-vp9 encoder")
    m, ev = container(bad[key])
    assert m.kind == "video"
    assert ev.data["streams"][0]["codec"] == codec
    assert ev.data["frames_decoded"] >= 10
    assert "video.processing_tool" in codes(ev)  # Lavf / Lavc tags of the PyAV writer


def test_long_video_duration_cap(bad):
    _, ev = container(bad["long"], max_seconds=5)
    f = codes(ev)["video.duration_capped"]
    assert f.data["max_seconds"] == 5.0
    assert ev.data["frames_decoded"] == 6  # t = 0..5 s at 1 fps
    _, ev = container(bad["long"])  # the default cap
    assert codes(ev)["video.duration_capped"].data["max_seconds"] == DEFAULT_MAX_SECONDS
    assert ev.data["frame_intervals"]["frames"] == int(DEFAULT_MAX_SECONDS) + 1


def test_frames_over_the_pixel_limit_are_refused_not_decoded(bad):
    m = Media.open(bad["ok"], max_pixels=1000)  # 64x48 = 3072 pixels per frame
    rep = analyze_media(m, [VideoContainerDetector], Context(timeout_s=30))
    ev = rep.evidence[0]
    assert ev.error is None
    assert "over the limit" in codes(ev)["video.undecodable"].message
    assert "video.processing_tool" in codes(ev)  # the container is still read


# ------------------------------------------------------------ found by fuzzing (odd containers)
def test_cut_matroska_is_reported_short_using_the_track_duration_tags(tmp_path):
    """Matroska has no per-track duration header, only DURATION tags: with audio beside the
    video, the cut used to go unreported by the video checks."""
    full = write_clip(tmp_path / "full.mkv").read_bytes()  # 3 s of video and of audio
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full[: len(full) // 2])
    m, ev = container(cut)
    assert [s["duration"] for s in m.facts["streams"]] == [pytest.approx(3.0, abs=0.1)] * 2
    d = codes(ev)["video.decoded_short"].data
    assert d["header_s"] == pytest.approx(3.0, abs=0.1) and d["decoded_s"] < 2.0
    _, ev = container(tmp_path / "full.mkv")
    assert "video.decoded_short" not in codes(ev)


def test_matroska_starting_late_is_not_called_truncated(tmp_path):
    """FFmpeg's Matroska writer counts durations from timestamp 0: a clip whose first frame is
    at 1,000,000 s claimed a 1,000,003 s header and was called truncated and capped."""
    p = write_clip(tmp_path / "late.mkv", audio=False,
                   pts_ms=[10**9 + 100 * i for i in range(30)])
    m, ev = container(p, max_seconds=20)
    assert m.facts["duration"] == pytest.approx(3.0, abs=0.01)
    c = codes(ev)
    assert "video.decoded_short" not in c and "video.duration_capped" not in c
    assert ev.data["frames_decoded"] == 30


def test_cut_avi_is_reported_short_from_its_frame_count(tmp_path):
    """A cut AVI loses its index; FFmpeg then derives the duration from what is left, but the
    stream header still counts every frame."""
    full = write_clip(tmp_path / "full.avi", codec="mjpeg", pix="yuvj420p",
                      audio=False).read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full[: len(full) // 2])
    _, ev = container(cut)
    d = codes(ev)["video.decoded_short"].data
    assert d["header_frames"] == 30 and d["header_s"] == pytest.approx(3.0)
    assert d["decoded_s"] < 2.0
    _, ev = container(tmp_path / "full.avi")
    assert "video.decoded_short" not in codes(ev)


def test_timestamp_gap_running_past_the_cap_is_reported(tmp_path):
    pts = [100 * i for i in range(15)] + [60_000 + 100 * i for i in range(15)]
    p = write_clip(tmp_path / "gap.mp4", audio=False, pts_ms=pts)
    _, ev = container(p, max_seconds=20)
    c = codes(ev)
    assert "video.duration_capped" in c
    assert c["video.timestamp_gap"].data["gaps"] == [[1.4, 60.0]]


def test_tiny_frames_are_not_analysed_for_frame_edits(tmp_path):
    """A 1x1 clip with pixel noise was called a frame deletion ('manipulated')."""
    from veriscope.detectors.video.frame_edits import FrameEditsDetector

    p = write_clip(tmp_path / "dot.mkv", codec="ffv1", pix="yuv444p", w=1, h=1, audio=False)
    rep = analyze_media(Media.open(p), [FrameEditsDetector], Context(timeout_s=30))
    ev = rep.evidence[0]
    assert ev.error is None and ev.applicable is False
    assert "1x1" in ev.reason and "too small" in ev.reason


def test_m4a_brand_holding_video_is_analysed_as_video(tmp_path):
    b = bytearray(write_clip(tmp_path / "clip.mp4").read_bytes())
    assert b[4:8] == b"ftyp"
    b[8:12] = b"M4A "
    p = tmp_path / "clip.m4a"
    p.write_bytes(bytes(b))
    m, ev = container(p)
    assert (m.kind, m.format) == ("video", "mp4")
    assert any("holds a video stream" in w for w in m.warnings)
    assert ev.data["frames_decoded"] == 30


def test_animated_gif_says_only_its_first_frame_is_analysed(bad):
    m = Media.open(bad["gif"])
    assert m.kind == "image" and m.facts["n_frames"] == 10
    assert any("10 frames" in w and "only the first frame" in w for w in m.warnings)
