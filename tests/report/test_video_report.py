"""Video end to end: CLI flags, report.json against the schema, the HTML timeline, progress."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from veriscope.cli import cli, video_settings
from veriscope.core.evidence import Box, Evidence, Segment
from veriscope.core.fusion import fuse
from veriscope.core.media import Media
from veriscope.demo import make_spliced_video
from veriscope.detectors.base import Context
from veriscope.report.document import Report
from veriscope.report.schema import validate


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("vr")
    return make_spliced_video(d / "clip.mp4", width=320, height=180, seconds=2.0, paste=(0.8, 1.6),
                              audio=True, seed=5)


@pytest.fixture(scope="session")
def full_run(clip, tmp_path_factory):
    """The default detector set through the CLI, with --out."""
    out = tmp_path_factory.mktemp("vr-out")
    r = CliRunner().invoke(cli, ["analyze", str(clip), "--out", str(out), "--sample-fps", "2"])
    return r, out / clip.name


def _frames(out_dir, name="clip.mp4") -> int:
    d = json.loads((out_dir / name / "report.json").read_text())
    ev = next(e for e in d["evidence"] if e["name"] == "video_frames")
    return ev["data"]["frames_analysed"]


def test_default_run_writes_a_valid_report_with_a_timeline(full_run):
    r, dest = full_run
    assert r.exit_code == 0, r.output
    d = json.loads((dest / "report.json").read_text())
    validate(d)
    names = {e["name"]: e for e in d["evidence"]}
    vf = names["video_frames"]
    assert vf["applicable"] and vf["error"] is None
    assert vf["data"]["policy"]["fps"] == 2.0
    for v in vf["views"]:  # every view was written and is listed with its file
        assert (dest / v["path"]).is_file()
    assert any(v["name"].startswith(("keyframe", "frame_")) for v in vf["views"])
    html = (dest / "report.html").read_text()
    assert "<h2>Video timeline</h2>" in html and "id='timeline'" in html
    assert "alt='keyframes'" in html and "alt='spectrogram'" in html
    assert "alt='video_frames score curve'" in html
    from veriscope.core.timecode import clock

    for k in vf["data"]["keyframes"]:
        if k["kind"] != "sample":
            assert f"<span class='kf'>{clock(k['time'])}</span>" in html
    assert "<h2>Audio</h2>" not in html  # a video's sound is drawn inside the timeline
    # keyframe thumbnails are in the strip, not repeated in the visual aids
    assert "keyframe 01</b> (video_frames)" not in html
    assert "top frame 01</b> (video_frames)" in html
    assert len(html) < 3_000_000


def test_sampling_flags_change_the_number_of_frames(clip, tmp_path):
    runner = CliRunner()
    counts = {}
    for flag in (["--sample-frames", "2"], ["--sample-fps", "4"], ["--sample-fps", "4",
                                                                  "--max-video-seconds", "1"]):
        out = tmp_path / "-".join(flag)
        r = runner.invoke(cli, ["analyze", str(clip), "--detectors", "video_frames", "--no-html",
                                "--out", str(out), *flag])
        assert r.exit_code == 0, r.output
        counts[" ".join(flag)] = _frames(out)
    a, b, c = counts.values()
    assert b > c > 0 and b > a > 0
    assert a <= 2 + 2  # 2 regular samples plus at most as many keyframes
    assert b >= 8  # 4 per second over 2 s
    r = runner.invoke(cli, ["analyze", str(clip), "--sample-fps", "1", "--sample-frames", "2"])
    assert r.exit_code == 2 and "not both" in r.output
    r = runner.invoke(cli, ["analyze", str(clip), "--sample-fps", "0"])
    assert r.exit_code == 2


def test_video_settings_from_flags():
    assert video_settings() is None
    assert video_settings(sample_fps=2.5) == {"fps": 2.5}
    assert video_settings(sample_frames=7, max_video_seconds=30) == {"frames": 7,
                                                                     "max_seconds": 30.0}


def test_progress_callback_is_called_over_video_time(clip):
    from veriscope.core import registry
    from veriscope.pipeline.runner import analyze_media

    calls = []
    ctx = Context(video={"fps": 2}, progress=lambda what, done, total: calls.append(
        (what, done, total)))
    rep = analyze_media(Media.open(clip), [registry.load("video_frames")], ctx)
    assert rep.get("video_frames").error is None
    frames = [c for c in calls if c[0] == "frames"]
    assert len(frames) >= 4
    done = [c[1] for c in frames]
    assert done == sorted(done) and frames[-1][1] == pytest.approx(frames[-1][2])
    assert frames[-1][2] == pytest.approx(2.0, abs=0.1)


def test_json_output_has_no_progress_text(clip):
    r = CliRunner().invoke(cli, ["analyze", str(clip), "--detectors", "video_frames",
                                 "--format", "json", "--sample-frames", "2"])
    assert r.exit_code == 0
    d = json.loads(r.stdout.strip().splitlines()[-1])
    validate(d)


def _fake_video_report(clip, *, faces=True, lip=True):
    """A report built by hand: video_frames-like keyframes, faces boxes with time, lip_sync."""
    media = Media.open(clip)
    thumb = np.full((90, 160, 3), 60, np.uint8)
    kf = Evidence("video_frames", "1", score=0.7, label="manipulated",
                  segments=[Segment(0.8, 1.6, 0.7, "splicebuster")],
                  views={f"keyframe_{i:02d}": thumb for i in range(1, 31)},
                  data={"keyframes": [{"time": 0.06 * i, "view": f"keyframe_{i:02d}",
                                       "kind": "shot"} for i in range(1, 31)],
                        "frame_size": [320, 180], "duration": 2.0,
                        "curves": {"noise": {"t": [0.5, 1.0, 1.5], "score": [0.1, 0.7, 0.2]}}})
    ev = [kf]
    if faces:
        ev.append(Evidence("faces", "1", boxes=[Box(40, 20, 100, 100, time=0.06 * i, label="face 1")
                                                 for i in range(1, 31)]))
    if lip:
        ev.append(Evidence("lip_sync", "1", score=0.2, data={"offset_seconds": 0.24}))
    return Report(media=media, evidence=ev, verdict=fuse(ev, "video"))


def test_timeline_with_many_keyframes_faces_and_lip_sync(clip, tmp_path):
    from veriscope.report.html import FACE_BOX_MAX_DT, keyframe_strip, render_html

    rep = _fake_video_report(clip)
    rep.write(tmp_path / "out")
    d = json.loads((tmp_path / "out" / "report.json").read_text())
    validate(d)  # 30 keyframe views and boxes with time
    assert len(d["evidence"][0]["views"]) == 30
    assert all(b["time"] is not None for b in d["evidence"][1]["boxes"])
    html = render_html(rep)
    assert "Lip sync" in html and "+0.24 s" in html
    assert "faces found within" in html
    strip, shown, total = keyframe_strip(rep, 2.0)
    assert total == 30 and 1 <= shown <= 30 and strip.size[0] == 1600
    a = np.asarray(strip)
    cyan = (a[..., 0] < 60) & (a[..., 1] > 160) & (a[..., 2] > 200)
    assert cyan.sum() > 50  # face boxes drawn on the thumbnails
    no_faces = _fake_video_report(clip, faces=False, lip=False)
    a2 = np.asarray(keyframe_strip(no_faces, 2.0)[0])
    assert ((a2[..., 0] < 60) & (a2[..., 1] > 160) & (a2[..., 2] > 200)).sum() == 0
    assert "Lip sync" not in render_html(no_faces)
    assert FACE_BOX_MAX_DT > 0


def test_verdict_summary_names_the_time_range(clip):
    rep = _fake_video_report(clip, faces=False, lip=False)
    assert rep.verdict.label == "manipulated"
    assert re.search(r"in frames 00:00\.8-00:01\.6", rep.verdict.summary), rep.verdict.summary
    from veriscope.core.fusion import _where, strongest_segment

    e = Evidence("audio_splice", "1", score=0.7, label="manipulated",
                 segments=[Segment(0.2, 0.5, 0.3), Segment(0.8, 1.6, 0.7)])
    assert _where(e, "image") == ""  # no time range for a picture
    assert _where(e, "audio") == " in audio 00:00.8-00:01.6"
    assert _where(e, "video") == " in audio 00:00.8-00:01.6"  # a detector that listens
    e.data["strongest_segment"] = {"start": 0.2, "end": 0.5, "score": 0.6}
    assert strongest_segment(e).start == 0.2  # the detector's own choice wins


def test_frame_detectors_flag_picks_the_image_detectors_on_frames(clip, tmp_path):
    r = CliRunner().invoke(cli, ["analyze", str(clip), "--detectors", "video_frames", "--no-html",
                                 "--out", str(tmp_path), "--sample-frames", "2",
                                 "--frame-detectors", "noise,ai_image"])
    assert r.exit_code == 0, r.output
    d = json.loads((tmp_path / "clip.mp4" / "report.json").read_text())
    ev = next(e for e in d["evidence"] if e["name"] == "video_frames")
    assert sorted(ev["data"]["curves"]) == ["ai_image", "noise"]
