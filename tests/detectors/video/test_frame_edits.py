"""Inter-frame edit detection (frame_edits) and the edit generator (video_edits)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from veriscope.core.media import Media
from veriscope.core.video import scan
from veriscope.detectors.base import Context
from veriscope.detectors.video.frame_edits import FrameEditsDetector, analyze_scan
from veriscope.synth.video_edits import Clip, apply_edit, make_edit, read_clip, write_clip

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


def _scene_with_inset(n=60, switch=None, drop=0, at=30, h=128, w=160):
    """A smooth background with a soft bright blob (a 'presenter') drifting steadily, and
    optionally a framed inset picture (36x36 px, top left) whose content switches to another,
    unrelated picture at frame ``switch``; ``drop`` frames of the motion removed at ``at``."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bg = 60 + 0.4 * xx + 0.2 * yy
    pic_a, pic_b = (np.kron(rng.integers(0, 256, (6, 6)).astype(np.float32),
                            np.ones((6, 6), np.float32)) for _ in range(2))
    frames = []
    for k, t in enumerate(t for t in range(n + drop) if not at <= t < at + drop):
        cx, cy = 60 + 0.9 * t, 64 + 3 * np.sin(t / 5.0)
        g = bg + 120 * np.exp(-(((xx - cx) / 22) ** 2 + ((yy - cy) / 28) ** 2))
        if switch is not None:
            g[6:42, 6:42] = pic_a if k < switch else pic_b
        frames.append(np.repeat(np.clip(g, 0, 255).astype(np.uint8)[..., None], 3, axis=2))
    return Clip(frames, Fraction(25))


def test_inset_switch_is_not_a_deletion_but_a_real_deletion_is(tmp_path):
    """A small inset whose picture is replaced makes a one-frame spike as big as a deletion
    (jump ratio ~7 here, but a change value far below the cut floor CUT_MIN): it must be taken
    for a partial change (content replaced), while removed frames of the moving subject (content
    displaced, still correlated) remain a deletion."""
    from veriscope.signals.shots import partial_changes, region_correlation

    sc = scan(Media.open(write_clip(_scene_with_inset(switch=AT - 10), tmp_path / "inset.mp4")))
    a = analyze_scan(sc)
    assert a.jump[AT - 10] > 3.0  # the switch is a jump as big as a deletion's
    assert AT - 10 in partial_changes(sc)
    area, corr = region_correlation(sc.thumbs, AT - 10, AT - 11)
    assert 0 < area < 0.4 and corr < 0.5
    assert [e for e in a.edits if e.score >= 0.5] == []

    sc = scan(Media.open(write_clip(_scene_with_inset(drop=8, at=AT - 10), tmp_path / "del.mp4")))
    a = analyze_scan(sc)
    assert partial_changes(sc) == []
    assert region_correlation(sc.thumbs, AT - 10, AT - 11)[1] > 0.8
    dels = [e for e in a.edits if e.kind == "deletion" and e.score >= 0.5]
    assert [e.start_index for e in dels] == [AT - 10]
