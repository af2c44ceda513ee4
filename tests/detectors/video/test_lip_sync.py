"""Tests for the lip_sync detector and the audio-edit generator (veriscope.synth.av_edits)."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import numpy as np
import pytest

from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.video import lip_sync as LS
from veriscope.detectors.video.lip_sync import LipSyncDetector
from veriscope.synth import av_edits as E

TF = "talking-face-videoretalking-examples"


def iou(a, b):
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


# ------------------------------------------------------------------ no shared data needed
def test_registered():
    assert "lip_sync" in {e.name for e in entry_points(group="veriscope.detectors")}
    d = LipSyncDetector.describe()
    assert d["modalities"] == ["video"] and d["default"]


def test_shift_and_replace_generator_are_exact():
    rate, fps = 8000, 25.0
    x = np.random.default_rng(0).normal(0, 0.1, (2, rate * 3)).astype(np.float32)
    y, t = E.shift_audio(x, rate, 2, fps)
    assert t.shift_seconds == pytest.approx(0.08) and y.shape == x.shape
    np.testing.assert_array_equal(y[:, 640:], x[:, :-640])
    assert not y[:, :640].any()
    y, t = E.shift_audio(x, rate, -3, fps)
    np.testing.assert_array_equal(y[:, :-960], x[:, 960:])
    donor = np.sin(np.arange(16000 * 2) * 0.05).astype(np.float32)[None] * 0.9
    y, t = E.replace_audio(x, rate, 1.0, donor, 16000, seconds=1.0, donor_start=0.5,
                           video_offset=0.04)
    assert t.segment == pytest.approx((1.0, 2.0))
    i0, i1 = int(1.04 * rate), int(2.04 * rate)
    np.testing.assert_array_equal(y[:, :i0], x[:, :i0])
    np.testing.assert_array_equal(y[:, i1:], x[:, i1:])
    inner = y[:, i0 + 100:i1 - 100]
    assert np.sqrt(np.mean(inner ** 2)) == pytest.approx(np.sqrt(np.mean(x[:, i0:i1] ** 2)), rel=0.1)
    assert np.corrcoef(inner[0], x[0, i0 + 100:i1 - 100])[0, 1] < 0.2


def _synthetic_signals(delay: int, n: int = 240, seed: int = 1) -> LS.TrackSignals:
    """Mouth components and sound bands where the sound is a noisy mix of the mouth delayed by
    ``delay`` frames (positive: the sound comes later)."""
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(seed)
    z = gaussian_filter1d(rng.normal(size=(n + 40, 4)), 1.5, axis=0)
    pcs = np.concatenate([z[20:20 + n], rng.normal(size=(n, LS.MAX_PCS - 4)) * 0.1], axis=1)
    src = z[20 - delay:20 - delay + n] @ rng.normal(size=(4, 1))
    bands = {m: src @ rng.normal(size=(1, m)) + 0.5 * rng.normal(size=(n, m)) for m in (4, 8)}
    grid = np.arange(n) * 0.04
    return LS.TrackSignals(0, grid, 0.04, pcs, z[20:20 + n, 0], bands[4][:, 0], bands)


@pytest.mark.parametrize("delay", [-4, 0, 3])
def test_offset_sign_on_synthetic_signals(delay):
    sc = LS.offset_scan(_synthetic_signals(delay), LS.Params(bias_frames=0.0))
    assert sc is not None
    assert sc["offset_frames"] == pytest.approx(delay, abs=0.5)
    assert sc["confidence"] > 0.5


def test_no_face_video_is_inconclusive(tmp_path):
    import av

    p = tmp_path / "noface.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(p), "w") as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 96, 96, "yuv420p"
        a = c.add_stream("aac", rate=16000, layout="mono")
        for _ in range(50):
            fr = av.VideoFrame.from_ndarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8),
                                            format="rgb24")
            for pk in vs.encode(fr):
                c.mux(pk)
        for pk in vs.encode():
            c.mux(pk)
        s = (0.3 * np.sin(np.arange(32000) * 0.2)).astype(np.float32)[None]
        for i in range(0, s.shape[1], 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(s[:, i:i + 1024]), format="fltp",
                                            layout="mono")
            af.sample_rate, af.pts = 16000, i
            for pk in a.encode(af):
                c.mux(pk)
        for pk in a.encode():
            c.mux(pk)
    ev = LipSyncDetector().analyze(Media.open(p), Context())
    assert ev.applicable and ev.score is None and ev.label == "inconclusive"
    assert any(f.code == "no_face" for f in ev.findings)
    json.dumps(ev.to_dict())


# ------------------------------------------------------------------ real clips (shared data)
@pytest.fixture(scope="session")
def edits(shared_data, tmp_path_factory):
    """Edited copies of two real clips and the detector's evidence for each (computed once)."""
    src = shared_data / TF / "face_video"
    if not src.is_dir():
        pytest.skip(f"{src} not present")
    d = tmp_path_factory.mktemp("lipsync")
    jobs = {"none": ("3", "none", {}), "plus6": ("3", "shift", {"k": 6}),
            "minus6": ("3", "shift", {"k": -6}), "silent": ("3", "silent", {}),
            "no_audio": ("3", "no_audio", {}),
            # one of the replaced positions of the benchmark (clip 4, 3-4 s, clip 1's sound)
            "replace": ("4", "replace", {"start": 3.0, "donor": src / "1.mp4"})}
    out = {}
    for name, (clip, kind, kw) in jobs.items():
        p = d / f"{name}.mp4"
        truth = E.make(src / f"{clip}.mp4", p, kind, **kw)
        out[name] = (truth, LipSyncDetector().analyze(Media.open(p), Context()))
    return out


def test_unshifted_clip_is_in_sync(edits):
    _, ev = edits["none"]
    assert ev.applicable and ev.score is not None and ev.score < 0.5
    off = ev.data["offset_frames"]
    assert abs(off) <= 1.0
    assert ev.data["offset_seconds"] == pytest.approx(off * ev.data["frame_step_s"], abs=1e-3)
    assert 0.0 <= ev.data["offset_confidence"] <= 1.0
    assert not [f for f in ev.findings if f.severity in ("medium", "high")]
    c = ev.data["curve"]
    assert len(c["t"]) == len(c["score"]) > 0 and all(0.0 <= v <= 1.0 for v in c["score"])
    assert ev.data["reliability"]["level"] in ("low", "medium", "high")
    json.dumps(ev.to_dict())


@pytest.mark.parametrize("name,k", [("plus6", 6), ("minus6", -6)])
def test_shift_is_measured(edits, name, k):
    truth, ev = edits[name]
    assert truth.shift_frames == k
    off = ev.data["offset_frames"]
    assert abs(off - k) <= 1.0
    assert np.sign(ev.data["offset_seconds"]) == np.sign(k)
    # this clip's lag peak is clear (confidence ~0.4 in the benchmark): the offset is reported
    assert ev.data["offset_confidence"] >= LS.GOOD_CONFIDENCE
    f = next(f for f in ev.findings if f.code == "av_offset")
    assert ("lags" if k > 0 else "leads") in f.message and f.severity in ("medium", "high")
    assert ev.score > edits["none"][1].score + 0.2


def test_replaced_second_is_localized(edits):
    truth, ev = edits["replace"]
    segs = [s for s in ev.segments if s.label == "av_mismatch"]
    assert segs
    assert any(iou((s.start, s.end), truth.segment) > 0 for s in segs)
    top = max(segs, key=lambda s: s.score)
    assert iou((top.start, top.end), truth.segment) > 0.5
    c = ev.data["curve"]
    t = np.asarray(c["t"])
    s = np.asarray(c["score"])
    inside = (t >= truth.segment[0]) & (t <= truth.segment[1])
    assert s[inside].max() == pytest.approx(s.max())


def test_video_without_audio_is_not_applicable(edits):
    _, ev = edits["no_audio"]
    assert not ev.applicable and "audio" in ev.reason


def test_silent_audio_track_gives_a_finding(edits):
    _, ev = edits["silent"]
    assert ev.applicable and ev.score is None and ev.label == "inconclusive"
    codes = {f.code for f in ev.findings}
    assert {"audio_silent", "mouth_moves_audio_silent"} <= codes
    f = next(f for f in ev.findings if f.code == "mouth_moves_audio_silent")
    assert f.data["end"] - f.data["start"] >= LS.RUN_S
    json.dumps(ev.to_dict())
