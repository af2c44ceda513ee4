"""Shot boundaries, keyframes and the video_shots detector."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from veriscope.core.media import Media
from veriscope.core.video import scan
from veriscope.detectors.base import Context
from veriscope.detectors.video.video_shots import VideoShotsDetector, timecode
from veriscope.signals.shots import Shot, detect_shots
from veriscope.synth.video_edits import Clip, write_clip

FPS = 25


def _scene(seed: int, n: int, color, w: int = 160, h: int = 120) -> list[np.ndarray]:
    """A textured background panning 2 px a frame with a moving white disc."""
    import cv2

    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), (0, 0), 3)
    base = np.clip(tex * 0.6 + np.array(color, np.float32) * 0.4, 0, 255).astype(np.uint8)
    out = []
    for i in range(n):
        f = np.roll(base, 2 * i, axis=1).copy()
        cv2.circle(f, ((20 + 2 * i) % w, h // 2), 12, (255, 255, 255), -1)
        out.append(f)
    return out


@pytest.fixture(scope="session")
def synth(tmp_path_factory):
    import cv2

    d = tmp_path_factory.mktemp("shots")
    a, b = _scene(1, 40, (200, 60, 40)), _scene(2, 40, (40, 80, 200))
    files = {}
    files["one"] = write_clip(Clip(a, Fraction(FPS)), d / "one.mp4")
    files["cut"] = write_clip(Clip(a + b, Fraction(FPS)), d / "cut.mp4")
    mid = [cv2.addWeighted(a[28 + i], 1 - (i + 1) / 13, b[i], (i + 1) / 13, 0) for i in range(12)]
    files["dissolve"] = write_clip(Clip(a[:28] + mid + b[12:], Fraction(FPS)), d / "dis.mp4")
    fo = [(a[32 + i] * (1 - (i + 1) / 9)).astype(np.uint8) for i in range(8)]
    fi = [(b[i] * ((i + 1) / 9)).astype(np.uint8) for i in range(8)]
    black = [np.zeros_like(a[0])] * 4
    files["fade"] = write_clip(Clip(a[:32] + fo + black + fi + b[8:], Fraction(FPS)),
                               d / "fade.mp4")
    c = _scene(3, 40, (60, 200, 60))
    files["three"] = write_clip(Clip(a + b + c, Fraction(FPS)), d / "three.mp4")
    return files


def test_two_shots_one_cut_at_the_right_time(synth):
    shots = detect_shots(scan(Media.open(synth["cut"])))
    assert len(shots) == 2
    s0, s1 = shots
    assert isinstance(s1, Shot) and s1.kind == "cut"
    assert s1.start_index == 40 and abs(s1.start - 40 / FPS) < 1e-6
    assert s0.end == s1.start and s0.end_index == 39
    assert 0 <= s0.key_index <= 39 and 40 <= s1.key_index <= 79
    assert abs(s1.key_time - s1.key_index / FPS) < 1e-6


def test_single_shot_has_no_cut(synth):
    shots = detect_shots(scan(Media.open(synth["one"])))
    assert len(shots) == 1 and shots[0].kind == "start"
    assert shots[0].start_index == 0 and shots[0].end_index == 39


def test_gradual_transitions(synth):
    dis = detect_shots(scan(Media.open(synth["dissolve"])))
    assert len(dis) == 2 and dis[1].kind == "dissolve"
    assert 28 <= dis[1].start_index <= 40  # inside the 12-frame cross-fade (frames 28-39)
    fade = detect_shots(scan(Media.open(synth["fade"])))
    assert len(fade) == 2 and fade[1].kind == "fade"
    assert 40 <= fade[1].start_index <= 52  # black frames 40-43, fade-in 44-51
    k = fade[1].key_index  # the keyframe is not a black or dimmed frame
    assert k >= 52


def test_empty_scan_gives_no_shot(synth):
    sc = scan(Media.open(synth["one"]))
    import dataclasses

    empty = dataclasses.replace(sc, times=sc.times[:0], thumbs=sc.thumbs[:0], hists=sc.hists[:0])
    assert detect_shots(empty) == []


def test_detector_segments_data_and_keyframe_views(synth):
    ev = VideoShotsDetector().analyze(Media.open(synth["three"]), Context())
    assert ev.score is None and ev.label is None
    assert [s.label for s in ev.segments] == ["shot"] * 3
    assert [round(s.start * FPS) for s in ev.segments] == [0, 40, 80]
    assert len(ev.data["shots"]) == 3
    assert set(ev.data["shots"][0]) >= {"start", "end", "key_time", "key_index"}
    assert len(ev.views) == 3
    for q, (name, img) in enumerate(sorted(ev.views.items())):
        assert name == f"keyframe_{q + 1:03d}"
        cap = [k["caption"] for k in ev.data["keyframes"] if k["view"] == name]
        assert cap and cap[0].startswith(f"keyframe {q + 1} @ 00:0")
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert max(img.shape[:2]) <= 640
    # keyframe 2 is a picture of the second (blue) scene
    k2 = ev.views[[n for n in ev.views if n == "keyframe_002"][0]].astype(float)
    assert k2[..., 2].mean() > k2[..., 0].mean()
    assert any(f.code == "shots" for f in ev.findings)


def test_keyframe_cap(synth, monkeypatch):
    import veriscope.detectors.video.video_shots as vs

    monkeypatch.setattr(vs, "MAX_VIEWS", 2)
    ev = VideoShotsDetector().analyze(Media.open(synth["three"]), Context())
    assert len(ev.views) == 2 and len(ev.segments) == 3
    assert any(f.code == "keyframes_capped" for f in ev.findings)


def test_timecode():
    assert timecode(3.2) == "00:03.20"
    assert timecode(75.5) == "01:15.50"
    assert timecode(3725.0) == "1:02:05.00"


def test_not_applicable_to_images_and_broken_video(tmp_path):
    from PIL import Image

    p = tmp_path / "x.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(p)
    assert VideoShotsDetector().applicable(Media.open(p)) is not None
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    try:
        m = Media.open(bad)
    except Exception:
        return  # refused at open: also a clear error
    ev = VideoShotsDetector().analyze(m, Context())
    assert ev.applicable is False and ev.reason


@pytest.mark.shared
def test_real_talking_head_is_one_shot(shared):
    d = shared("talking-face-videoretalking-examples")
    shots = detect_shots(scan(Media.open(d / "face_video" / "3.mp4")))
    assert len(shots) == 1
