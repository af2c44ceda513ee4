"""Streaming video access (veriscope.core.video) and face tracking (veriscope.signals.faces)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from veriscope.core import video
from veriscope.core.media import Media


def _write_clip(path, frames, fps=25, rotation=None):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        s.options = {"crf": "18", "g": "12"}
        if rotation is not None:
            s.set_display_rotation(rotation)
        for f in frames:
            for pkt in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def _moving(n=50, h=96, w=128, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w * 2, 3), dtype=np.uint8)
    base = np.asarray(__import__("cv2").GaussianBlur(base, (0, 0), 3))
    return [np.ascontiguousarray(base[:, i * 2:i * 2 + w]) for i in range(n)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    frames = _moving()
    frames[20] = frames[19].copy()  # one exact repeat
    p = tmp_path_factory.mktemp("vid") / "moving.mp4"
    _write_clip(p, frames)
    return p


def test_sampling_policy_times():
    p = video.SamplingPolicy(fps=2.0)
    assert p.times(3.0) == pytest.approx([0.25, 0.75, 1.25, 1.75, 2.25, 2.75])
    p = video.SamplingPolicy(fps=None, frames=4)
    assert p.times(8.0) == pytest.approx([1.0, 3.0, 5.0, 7.0])
    assert video.SamplingPolicy(fps=1.0, max_seconds=2.0).times(100.0) == pytest.approx([0.5, 1.5])
    with pytest.raises(ValueError):
        video.SamplingPolicy(frames=0)

    class Ctx:
        video = {"frames": 3, "max_seconds": 5}

    pol = video.policy_from(Ctx())
    assert pol.frames == 3 and pol.fps is None and pol.max_seconds == 5.0


def test_iter_frames_times_and_conversion(clip):
    m = Media.open(clip)
    assert m.kind == "video"
    frames = list(video.iter_frames(m))
    assert len(frames) == 50
    t = np.array([f.time for f in frames])
    assert t[0] == 0.0 and np.allclose(np.diff(t), 0.04, atol=1e-6)
    assert frames[0].key and frames[0].pict_type == "I"
    rgb = frames[3].rgb()
    assert rgb.shape == (96, 128, 3) and rgb.dtype == np.uint8
    assert frames[3].rgb(max_side=64).shape == (48, 64, 3)
    assert frames[3].gray().shape == (96, 128)


def test_duration_cap_sets_log(clip):
    m = Media.open(clip)
    log = video.DecodeLog()
    frames = list(video.iter_frames(m, max_seconds=0.5, log=log))
    assert log.capped and len(frames) == 13 and frames[-1].time <= 0.5


def test_frames_at_nearest(clip):
    m = Media.open(clip)
    got = [(f.index, round(f.time, 3)) for f in video.frames_at(m, [0.0, 0.01, 0.51, 1.0, 99.0])]
    # 0.0 and 0.01 share frame 0; 99 s is past the end: the last frame
    assert got == [(0, 0.0), (13, 0.52), (25, 1.0), (49, 1.96)]


def test_scan_features(clip):
    m = Media.open(clip)
    sc = video.scan(m)
    assert sc.n == 50 and sc.thumbs.shape == (50, video.THUMB, video.THUMB)
    assert np.isnan(sc.diff_prev[0]) and sc.exact_dup[20] and sc.exact_dup.sum() <= 2
    assert np.allclose(sc.hists[:, :video.HIST_BINS].sum(axis=1), 1.0, atol=1e-4)
    assert sc.duration == pytest.approx(2.0, abs=1e-6)
    assert video.scan(m) is sc  # cached


def test_rotation_is_applied(tmp_path):
    frames = [np.zeros((64, 96, 3), np.uint8) for _ in range(6)]
    for f in frames:
        f[:16, :16] = 255  # a bright top-left corner
    p = tmp_path / "rot.mp4"
    _write_clip(p, frames, rotation=90)  # display matrix: turn 90 degrees counter-clockwise
    f = next(video.iter_frames(Media.open(p)))
    assert f._rotation == 90
    rgb = f.rgb()
    assert rgb.shape[:2] == (96, 64)
    assert rgb[-8:, :8].mean() > 200 and rgb[:8, :8].mean() < 50  # top-left went bottom-left
    assert f.gray().shape == (96, 64) and f.rgb(max_side=48).shape[:2] == (48, 32)


def test_not_a_video(tmp_path):
    from veriscope.core.errors import MediaError

    p = tmp_path / "x.png"
    __import__("PIL.Image").Image.new("RGB", (8, 8)).save(p)
    with pytest.raises(MediaError):
        video.stream_info(Media.open(p))


def test_track_faces_on_real_talking_head(shared):
    from veriscope.signals import faces

    if faces.available():
        pytest.skip(faces.available())
    m = Media.open(shared("talking-face-videoretalking-examples") / "face_video" / "2.mp4")
    fs = faces.track_faces(m, max_seconds=2.0)
    assert len(fs.tracks) == 1
    tr = fs.tracks[0]
    assert tr.n >= 0.9 * len(fs.times)
    x, y, w, h = tr.box_at(1.0)
    # a talking head fills the middle of this square crop
    assert 0.15 * fs.width < w < 0.8 * fs.width
    assert abs(x + w / 2 - fs.width * 0.5) < fs.width * 0.25
    assert tr.mouth_open.std() > 0.01  # the mouth moves while talking
    assert tr.mouth_patches.shape == (tr.n, *faces.MOUTH_PATCH)
    assert len(tr.crops) >= 3 and tr.crops[0].rgb.ndim == 3
    assert faces.track_faces(m, max_seconds=2.0) is fs


def test_track_faces_none_in_noise(clip):
    from veriscope.signals import faces

    if faces.available():
        pytest.skip(faces.available())
    fs = faces.track_faces(Media.open(clip))
    assert fs.tracks == [] and len(fs.times) == 50
