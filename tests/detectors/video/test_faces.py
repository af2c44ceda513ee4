"""Tests for the ``faces`` detector and the face-swap generator (veriscope.synth.face_swaps)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.video import faces as F
from veriscope.detectors.video.faces import FacesDetector
from veriscope.synth import face_swaps as FS

SECONDS = 3.0
TALK = "talking-face-videoretalking-examples"


@pytest.fixture(scope="session")
def clips(tmp_path_factory, shared_data) -> dict:
    """3 s of clip 5 re-encoded (control) and the face of clip 1 pasted on it (swap)."""
    d = shared_data / TALK / "face_video"
    out = tmp_path_factory.mktemp("faces")
    control = out / "control.mp4"
    swap = out / "swap.mp4"
    target = Media.open(d / "5.mp4")
    FS.reencode(target, control, max_seconds=SECONDS)
    truth = FS.make_swap(target, Media.open(d / "1.mp4"), swap, FS.SwapOptions(audio=False),
                         max_seconds=SECONDS)
    det = FacesDetector()
    return {"control": control, "swap": swap, "truth": truth,
            "ev_control": det.analyze(Media.open(control), Context()),
            "ev_swap": det.analyze(Media.open(swap), Context())}


def _write_video(path: Path, frames, fps=10):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_real_clip_has_one_track_with_boxes_on_the_face(clips):
    import cv2

    ev = clips["ev_control"]
    assert ev.applicable and ev.error is None
    tracks = ev.data["tracks"]
    assert len(tracks) == 1
    tr = tracks[0]
    n_frames = clips["truth"].n_frames
    assert tr["n_frames"] >= 0.9 * n_frames
    assert tr["end"] - tr["start"] >= 0.9 * (SECONDS - 0.1)
    assert tr["score"] is not None and 0.0 <= tr["score"] <= 1.0
    assert ev.score == tr["score"]
    assert ev.data["method"].startswith("dlib")
    assert ev.segments and ev.segments[0].label == "face 0"
    # boxes: at most ~4 per second, on the face found by an independent detector (OpenCV Haar)
    assert 4 <= len(ev.boxes) <= 4 * SECONDS + 2
    assert all(b.label == "face 0" and b.time is not None for b in ev.boxes)
    rgb = next(iter(_frames(clips["control"])))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    found = cascade.detectMultiScale(grey, 1.1, 5, minSize=(80, 80))
    assert len(found) >= 1
    hx, hy, hw, hh = max(found, key=lambda b: b[2] * b[3])
    b = min(ev.boxes, key=lambda b: b.time)
    assert b.time < 0.3
    assert _iou((b.x, b.y, b.w, b.h), (hx, hy, hw, hh)) > 0.4
    # timeline curve in seconds, scores in [0, 1]
    c = ev.data["curve"]
    assert len(c["t"]) == len(c["score"]) >= F.MIN_CROPS
    assert all(0 <= s <= 1 for s in c["score"]) and c["t"] == sorted(c["t"])
    assert ev.data["reliability"]["level"] == "low"
    json.dumps(ev.to_dict())


def test_swap_scores_higher_than_the_same_clip_unmodified(clips):
    # clip 5 and clip 1 are FIT clips: this checks the pipeline end to end, not generalisation
    truth = clips["truth"]
    assert truth.fake and len(truth.swapped_frames) >= 0.9 * truth.n_frames
    assert truth.start == pytest.approx(0.0, abs=0.1)
    s_real, s_fake = clips["ev_control"].score, clips["ev_swap"].score
    assert s_fake > s_real + 0.2, (s_real, s_fake)
    # the swap changes the face, not the frame size or count
    a, b = Media.open(clips["control"]), Media.open(clips["swap"])
    assert (a.facts.get("width"), a.facts.get("height")) == (b.facts.get("width"), b.facts.get("height"))


def test_swap_only_changes_the_face(clips):
    import cv2

    ctl, swp = _frames(clips["control"]), _frames(clips["swap"])
    assert len(ctl) == len(swp) == clips["truth"].n_frames
    a, b = ctl[len(ctl) // 2].astype(np.int16), swp[len(swp) // 2].astype(np.int16)
    diff = np.abs(a - b).max(axis=2) > 24
    ys, xs = np.nonzero(diff)
    assert len(xs) > 500
    # the changed pixels sit in the face region (the middle of this head-and-shoulders clip)
    h, w = diff.shape
    assert np.median(xs) == pytest.approx(w / 2, abs=0.2 * w)
    grey_a = cv2.cvtColor(a.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    grey_b = cv2.cvtColor(b.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    corner = (slice(0, h // 8), slice(0, w // 8))
    assert np.abs(grey_a[corner].astype(int) - grey_b[corner]).mean() < 2.0


def test_no_face_gives_no_score(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(10)]
    p = _write_video(tmp_path / "noise.mp4", frames)
    ev = FacesDetector().analyze(Media.open(p), Context())
    assert ev.applicable and ev.score is None and ev.label is None
    assert ev.data["tracks"] == [] and ev.boxes == [] and ev.segments == []
    assert any(f.code == "no_face" and "says nothing" in f.message for f in ev.findings)


def test_not_applicable_and_bad_input(tmp_path):
    from PIL import Image

    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(img)
    assert FacesDetector().applicable(Media.open(img)) is not None
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200)
    try:
        m = Media.open(bad)
    except Exception as e:  # rejected at open: a clear error, fine
        assert "broken.mp4" in str(e)
        return
    ev = FacesDetector().analyze(m, Context())
    assert isinstance(ev, Evidence) and not ev.applicable and ev.reason


def test_features_on_a_synthetic_crop():
    from veriscope.signals.faces import FaceCrop

    rng = np.random.default_rng(1)
    img = np.full((256, 256, 3), 120, np.uint8)
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    pts = np.c_[128 + 64 * np.cos(t), 128 + 80 * np.sin(t)].astype(np.float32)
    crop = FaceCrop(time=0.0, rgb=img, box=(64, 48, 128, 160), landmarks=pts)
    f = F.crop_features(crop)
    # one uniform noise field: no noise or sharpness difference between face and surroundings
    assert abs(f["noise_ratio"]) < 0.15 and abs(f["sharp_diff"]) < 0.1
    smooth = img.copy()
    import cv2

    inner = np.zeros(img.shape[:2], np.uint8)
    cv2.fillConvexPoly(inner, np.round(pts).astype(np.int32), 1)
    smooth[inner > 0] = cv2.GaussianBlur(img, (0, 0), 2.0)[inner > 0]
    g = F.crop_features(FaceCrop(time=0.0, rgb=smooth, box=crop.box, landmarks=pts))
    assert g["noise_ratio"] < f["noise_ratio"] - 0.5  # a smoothed face has less noise


def test_tracking_is_deterministic_on_padded_frames(clips):
    # frames whose width is not a multiple of 32 are stored with padded rows; dlib must be
    # given a contiguous copy or it reads the padding (results varied between runs)
    from veriscope.signals.faces import track_faces

    a = track_faces(Media.open(clips["control"]))
    b = track_faces(Media.open(clips["control"]))
    assert len(a.tracks) == len(b.tracks) == 1
    np.testing.assert_array_equal(a.tracks[0].landmarks, b.tracks[0].landmarks)


def _frames(path):
    from veriscope.core.video import iter_frames

    out = []
    for fr in iter_frames(Media.open(path)):
        out.append(fr.rgb())
        fr.release()
    return out


def _iou(a, b):
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)
