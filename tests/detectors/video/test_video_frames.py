"""video_frames: image detectors on sampled frames; sampling policy and segment rules."""

from __future__ import annotations

import numpy as np
import pytest

from veriscope.core.errors import MediaError
from veriscope.core.media import Media
from veriscope.core.video import SamplingPolicy
from veriscope.demo import make_spliced_video
from veriscope.detectors.base import Context
from veriscope.detectors.video import video_frames as VF
from veriscope.pipeline.runner import run_detector

PASTE = (1.0, 2.0)


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("vf")
    spliced = make_spliced_video(d / "spliced.mp4", width=480, height=270, seconds=3.0,
                                 paste=PASTE, seed=3)
    clean = make_spliced_video(d / "clean.mp4", width=480, height=270, seconds=3.0, paste=None,
                               seed=3)
    return {"spliced": spliced, "clean": clean}


def _run(path, **ctx_kw):
    return run_detector(VF.VideoFramesDetector(), Media.open(path), Context(**ctx_kw))


@pytest.fixture(scope="session")
def spliced_ev(clips):
    return _run(clips["spliced"], video={"fps": 3})


def test_curve_is_higher_on_the_pasted_frames(spliced_ev):
    e = spliced_ev
    assert e.error is None and e.applicable
    t = np.asarray(e.data["curve"]["t"])
    s = np.asarray(e.data["curve"]["score"])
    inside = (t > PASTE[0] + 0.05) & (t < PASTE[1] - 0.05)
    outside = (t < PASTE[0] - 0.05) | (t > PASTE[1] + 0.05)
    assert inside.sum() >= 3 and outside.sum() >= 5
    assert s[inside].min() > s[outside].max()
    assert s[inside].mean() - s[outside].mean() > 0.3
    # per-detector curves exist for the default set, on the same sample times
    assert set(e.data["curves"]) == set(VF.DEFAULT_FRAME_DETECTORS)
    for c in e.data["curves"].values():
        assert len(c["t"]) == len(c["score"]) > 0


def test_segments_and_score_follow_the_paste(spliced_ev):
    e = spliced_ev
    flagged = [s for s in e.segments if s.score >= 0.5]
    assert flagged, [f.message for f in e.findings]
    for s in flagged:  # each flagged segment overlaps the pasted interval and stays near it
        assert s.start < PASTE[1] and s.end > PASTE[0]
        assert s.start >= PASTE[0] - 0.3 and s.end <= PASTE[1] + 0.3
        assert s.label in VF.DEFAULT_FRAME_DETECTORS
    assert e.score >= 0.5 and e.label == "manipulated"
    best = e.data["strongest_segment"]
    assert PASTE[0] - 0.3 <= best["start"] < best["end"] <= PASTE[1] + 0.3
    seg = [f for f in e.findings if f.code == "video_frames.segment"]
    assert seg and seg[0].message.startswith(best["detector"])
    # top-frame overlays are inside the paste; thumbnails for the timeline are listed
    tops = [k for k in e.views if k.startswith("top_frame")]
    assert 1 <= len(tops) <= VF.TOP_VIEWS
    assert any(PASTE[0] <= float(cap.split("frame at 00:0")[1][:3]) <= PASTE[1]
               for k, cap in e.data["captions"].items() if k.startswith("top_frame"))
    assert e.data["keyframes"] and all(k["view"] in e.views for k in e.data["keyframes"])


def test_clean_clip_scores_low(clips):
    e = _run(clips["clean"], video={"frames": 4})
    assert e.error is None
    assert e.score < 0.5 and e.label is None
    assert not [s for s in e.segments if s.score >= 0.5]


def test_sampling_policy_math():
    p = SamplingPolicy(fps=2.0)
    assert p.times(3.0) == pytest.approx([0.25, 0.75, 1.25, 1.75, 2.25, 2.75])
    assert SamplingPolicy(frames=4).times(8.0) == pytest.approx([1.0, 3.0, 5.0, 7.0])
    assert SamplingPolicy(fps=1.0, max_seconds=2.0).times(100.0) == pytest.approx([0.5, 1.5])
    assert SamplingPolicy(fps=1.0).times(0.2) == pytest.approx([0.2])  # at least one frame
    for bad in ({"frames": 0}, {"fps": 0}, {"max_seconds": 0}):
        with pytest.raises(ValueError):
            SamplingPolicy(**bad)


def test_keyframe_cap_keeps_the_farthest_from_samples():
    samples = [0.5, 1.5, 2.5]
    keys = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    kept = VF.cap_keyframes(keys, samples)
    assert len(kept) == 3
    assert 0.5 not in kept and 1.5 not in kept and 2.5 not in kept  # those coincide with samples
    assert VF.cap_keyframes([1.2, 0.3], samples) == [0.3, 1.2]  # under the cap: all, sorted


def test_segments_from_samples_and_score_rule():
    t = np.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5])
    s = np.array([0.1, 0.8, 0.6, 0.2, 0.9, 0.1])
    segs = VF.segments_from_samples(t, s, 6.0, "noise")
    assert [(x.start, x.end) for x in segs] == [(1.0, 3.0), (4.0, 5.0)]
    assert segs[0].score == pytest.approx(0.7) and segs[1].score == pytest.approx(0.9)
    assert [x._support for x in segs] == [2, 1]
    assert VF.support_weight(1) == 0.5 and VF.support_weight(2) == VF.support_weight(5) == 1.0
    edge = VF.segments_from_samples(np.array([0.5, 1.5]), np.array([0.7, 0.9]), 2.0, "x")
    assert [(x.start, x.end) for x in edge] == [(0.0, 2.0)]
    assert VF.runs(np.array([1, 1, 0, 1], bool)) == [(0, 1), (3, 3)]


def test_clock_format():
    from veriscope.core.timecode import clock

    assert clock(3.24) == "00:03.2" and clock(61.27) == "01:01.3"
    assert clock(3725.0) == "1:02:05.0"
    assert clock(-1) == "00:00.0"


def test_detector_set_is_configurable_and_reports_what_does_not_apply(clips):
    opts = {"video_frames": {"detectors": "splicebuster,jpeg_dq,no_such_detector"}}
    e = _run(clips["spliced"], video={"frames": 3}, options=opts)
    assert e.error is None
    assert list(e.data["curves"]) == ["splicebuster"]
    codes = {f.code: f for f in e.findings}
    assert "video_frames.detector_refused" in codes  # unknown name
    na = [f for f in e.findings if f.code == "video_frames.detector_not_applicable"]
    assert na and na[0].data["detector"] == "jpeg_dq"
    e2 = _run(clips["spliced"], options={"video_frames": {"detectors": ["no_such_detector"]}})
    assert not e2.applicable and "no usable frame detector" in e2.reason


def test_from_array_rejects_bad_arrays():
    m = Media.from_array(np.zeros((4, 6, 3), np.uint8), "x.raw")
    assert m.kind == "image" and m.format == "raw" and (m.width, m.height) == (6, 4)
    assert len(m.sha256) == 64 and m.rgb().shape == (4, 6, 3)
    for bad in (np.zeros((4, 6), np.uint8), np.zeros((4, 6, 3), np.float32),
                np.zeros((0, 6, 3), np.uint8)):
        with pytest.raises(MediaError):
            Media.from_array(bad)


def test_not_a_video_and_broken_video(tmp_path):
    from helpers import save, smooth_image

    img = Media.open(save(smooth_image(), tmp_path / "a.png"))
    e = run_detector(VF.VideoFramesDetector(), img, Context())
    assert not e.applicable
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    with pytest.raises(MediaError):
        Media.open(bad)


def test_ai_image_runs_on_frames_and_labels_synthetic_only_above_its_band(clips, monkeypatch):
    opts = {"video_frames": {"detectors": "ai_image"}}
    e = _run(clips["clean"], video={"frames": 3}, options=opts)
    assert e.error is None and list(e.data["curves"]) == ["ai_image"]
    assert e.label in (None, "synthetic")  # never "manipulated" from ai_image frames
    # the label rule on a fixed frame score: the inconclusive band gives no label
    from veriscope.detectors.image import ai_image

    for frame_score, want in ((0.45, None), (0.8, "synthetic")):
        def fake(self, media, ctx, s=frame_score):
            ev = self.evidence(score=s, label="synthetic" if s >= 0.5 else None)
            return ev
        monkeypatch.setattr(ai_image.AIImageDetector, "analyze", fake)
        e = _run(clips["clean"], video={"frames": 3}, options=opts)
        assert e.label == want, (frame_score, e.label, e.score)
