"""Inter-frame edit detection (frame_edits) and the edit generator (video_edits)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from veriscope.detectors.base import Context
from veriscope.detectors.frame_edits import FrameEditsDetector, analyze_scan
from veriscope.media import Media
from veriscope.video import scan
from veriscope.video_edits import Clip, apply_edit, make_edit, read_clip, write_clip

AT = 40


@pytest.fixture(scope="session")
def real(shared_data, tmp_path_factory):
    """A real talking-head clip (downscaled to 192 px, 100 frames) and edited versions of it,
    each re-encoded with libx264 (the edit must survive the re-encoding)."""
    d = tmp_path_factory.mktemp("edits")
    src = shared_data / "talking-face-videoretalking-examples" / "face_video" / "3.mp4"
    clip = read_clip(src, max_side=192, max_frames=100)
    out = {}
    for kind, k in (("none", 0), ("duplicate", 8), ("freeze", 8), ("delete", 10),
                    ("insert_far", 8)):
        p = d / f"{kind}.mp4"
        out[kind] = (p, make_edit(clip, p, kind, k, at=AT))
    return clip, out


def _flagged(path):
    ev = FrameEditsDetector().analyze(Media.open(path), Context())
    return ev, [s for s in ev.segments if s.label]


def _iou(a, b):
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


@pytest.mark.parametrize("kind,label", [("duplicate", "duplicate"), ("freeze", "freeze"),
                                        ("delete", "deletion"), ("insert_far", "insertion")])
def test_edit_found_in_the_right_place(real, kind, label):
    _, out = real
    path, truth = out[kind]
    ev, segs = _flagged(path)
    assert ev.score is not None and ev.score >= 0.5 and ev.label == "manipulated"
    best = max(segs, key=lambda s: _iou((s.start, s.end), truth.segment))
    assert best.label == label
    assert _iou((best.start, best.end), truth.segment) > 0.5
    f = [f for f in ev.findings if f.code == f"frames_{label}"]
    assert f and "frame" in f[0].message
    curve = ev.data["curve"]
    assert len(curve["t"]) == len(curve["score"]) == truth.n_frames
    i = int(np.argmax(curve["score"]))
    assert truth.segment[0] - 0.25 <= curve["t"][i] <= truth.segment[1] + 0.25


def test_duplicate_names_its_source_frames(real):
    _, out = real
    path, truth = out["duplicate"]
    ev, _ = _flagged(path)
    ed = [e for e in ev.data["edits"] if e["kind"] == "duplicate"][0]
    assert ed["lag"] == truth.k
    assert abs(ed["source_index"] - truth.source_index) <= 1


def test_unedited_real_clip_has_no_edit(real):
    _, out = real
    ev, segs = _flagged(out["none"][0])
    assert segs == []
    assert ev.score < 0.5 and ev.label == "no_evidence"
    assert any(f.code == "no_frame_edit_found" for f in ev.findings)


def test_hard_cut_between_shots_is_not_an_edit(real, shared_data, tmp_path):
    clip, _ = real
    other = read_clip(shared_data / "talking-face-videoretalking-examples" / "face_video"
                      / "2.mp4", max_side=192, max_frames=50)
    p = write_clip(Clip(clip.frames[:50] + other.frames, clip.fps), tmp_path / "cut.mp4")
    sc = scan(Media.open(p))
    a = analyze_scan(sc)
    assert len(a.shots) == 2 and a.shots[1].start_index == 50
    assert [e for e in a.edits if e.score >= 0.5 and abs(e.start_index - 50) <= 5] == []


def test_static_scene_is_not_a_freeze(tmp_path):
    rng = np.random.default_rng(0)
    still = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    p = write_clip(Clip([still] * 40, Fraction(25)), tmp_path / "still.mp4")
    ev, segs = _flagged(p)
    assert segs == [] and ev.score < 0.5


def test_generator_truth(real):
    clip, _ = real
    n = len(clip.frames)
    e, t = apply_edit(clip, "duplicate", 5, 20)
    assert len(e.frames) == n + 5 and (t.start_index, t.end_index) == (25, 29)
    assert all(np.array_equal(e.frames[25 + i], clip.frames[20 + i]) for i in range(5))
    e, t = apply_edit(clip, "freeze", 4, 20)
    assert len(e.frames) == n + 4 and all(e.frames[21 + i] is clip.frames[20] for i in range(4))
    e, t = apply_edit(clip, "delete", 6, 20)
    assert len(e.frames) == n - 6 and e.frames[20] is clip.frames[26]
    assert t.segment == pytest.approx((20 / t.fps - 0.2, 20 / t.fps + 0.2))
    e, t = apply_edit(clip, "insert_far", 5, 20)
    assert len(e.frames) == n + 5 and e.frames[20] is clip.frames[n - 5]
    assert t.segment == pytest.approx((20 / t.fps, 25 / t.fps))
    with pytest.raises(ValueError):
        apply_edit(clip, "delete", 6, n - 2)
    with pytest.raises(ValueError):
        apply_edit(clip, "insert", 3, 10)  # needs another clip


def test_not_applicable(tmp_path):
    p = write_clip(Clip([np.zeros((32, 32, 3), np.uint8)] * 3, Fraction(25)), tmp_path / "s.mp4")
    ev = FrameEditsDetector().analyze(Media.open(p), Context())
    assert ev.applicable is False and "frame" in ev.reason
