"""The contract: Evidence validation, runner isolation, fusion rule, maps, schema."""

import json
import time

import numpy as np
import pytest
from helpers import save, smooth_image

from veriscope.core import registry
from veriscope.core.errors import DetectorNotFound
from veriscope.core.evidence import Evidence, Finding
from veriscope.core.fusion import band_of, fuse
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector
from veriscope.pipeline.runner import analyze_media, run_detector
from veriscope.report.schema import validate


class BrightMap(Detector):
    """Test detector: a real (if forensically meaningless) map of normalised brightness."""

    name = "test_bright"
    version = "0.0.1"
    localizes = True

    def analyze(self, media, ctx):
        g = media.gray()
        m = (g - g.min()) / max(1e-6, float(g.max() - g.min()))
        return self.evidence(score=float(m.mean()), label="manipulated", heatmap=m[::2, ::2],
                             views={"inverted": 255 - media.rgb()})


class Boom(Detector):
    name = "test_boom"
    version = "1"

    def analyze(self, media, ctx):
        raise RuntimeError("kaboom")


class Sleepy(Detector):
    name = "test_sleepy"
    version = "1"

    def analyze(self, media, ctx):
        time.sleep(3)
        return self.evidence(score=0.0)


class AudioOnly(Detector):
    name = "test_audio"
    version = "1"
    modalities = ("audio",)

    def analyze(self, media, ctx):  # pragma: no cover - never applicable to images
        raise AssertionError("must not run")


def test_evidence_validates_score_and_label():
    with pytest.raises(ValueError):
        Evidence("x", "1", score=1.5)
    with pytest.raises(ValueError):
        Evidence("x", "1", score=float("nan"))
    with pytest.raises(ValueError):
        Evidence("x", "1", label="authentic")
    with pytest.raises(ValueError):
        Finding("critical", "c", "m")
    e = Evidence("x", "1", heatmap=np.array([[2.0, np.nan], [-1, 0.5]]))
    assert e.heatmap.min() == 0.0 and e.heatmap.max() == 1.0


def test_runner_isolates_errors_timeouts_and_applicability(tmp_path):
    media = Media.open(save(smooth_image(), tmp_path / "a.png"))
    ctx = Context(timeout_s=0.3)
    boom = run_detector(Boom(), media, ctx)
    assert boom.applicable and boom.error.startswith("RuntimeError: kaboom") and boom.score is None
    t0 = time.perf_counter()
    slow = run_detector(Sleepy(), media, ctx)
    assert time.perf_counter() - t0 < 2.0  # behaviour, not speed: the 3 s sleep was abandoned
    assert "timed out" in slow.error
    na = run_detector(AudioOnly(), media, ctx)
    assert not na.applicable and "audio" in na.reason


def test_report_maps_and_schema(tmp_path):
    img = smooth_image(97, 131)
    media = Media.open(save(img, tmp_path / "odd size.png"))
    rep = analyze_media(media, [BrightMap, Boom, AudioOnly], Context(timeout_s=10))
    out = tmp_path / "out"
    jpath = rep.write(out)
    d = json.loads(jpath.read_text())
    validate(d)
    assert d["schema"] == "veriscope.report/1"
    assert d["media"]["sha256"] == media.sha256 and len(media.sha256) == 64
    from PIL import Image

    for name in ("test_bright", "fused"):
        im = Image.open(out / "maps" / f"{name}.png")
        assert im.mode == "L" and im.size == (131, 97)
    ev = {e["name"]: e for e in d["evidence"]}
    assert ev["test_bright"]["heatmap"]["path"] == "maps/test_bright.png"
    assert ev["test_boom"]["error"] and ev["test_audio"]["applicable"] is False
    assert d["fused_map"]["path"] == "maps/fused.png"
    view = ev["test_bright"]["views"][0]
    assert view["name"] == "inverted" and (out / view["path"]).is_file()
    html = (out / "report.html").read_text()
    assert "data:image/jpeg;base64" in html and "test_bright" in html and "Visual aids" in html and "http" not in html.replace(
        "https://json-schema.org", "")


def test_schema_rejects_bad_reports(tmp_path):
    import jsonschema

    media = Media.open(save(smooth_image(), tmp_path / "a.png"))
    d = analyze_media(media, [BrightMap], Context()).to_dict()
    validate(d)
    bad = json.loads(json.dumps(d))
    bad["verdict"]["label"] = "authentic"
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    bad = json.loads(json.dumps(d))
    bad["evidence"][0]["score"] = 1.2
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def ev(name, score, label=None, sev="high", error=None, applicable=True):
    e = Evidence(name, "1", applicable=applicable, score=score, label=label, error=error)
    if score is not None and not error:
        e.add(sev, f"{name}_code", f"{name} found something")
    return e


def test_fusion_rule():
    v = fuse([ev("a", 0.97, "synthetic"), ev("b", 0.9, "manipulated")])
    assert v.label == "synthetic" and v.band == "very_strong" and v.score == pytest.approx(0.97)
    assert "a found something" in v.summary and "b (manipulated, 0.90)" in v.summary
    assert v.drivers[0]["code"] == "a_code"
    v = fuse([ev("a", 0.35, "manipulated", sev="low"), ev("b", 0.0, "no_evidence", sev="info")])
    assert v.label == "no_evidence" and v.band == "none" and "a found something" in v.summary
    assert "authentic" in v.summary  # says it does not prove authenticity
    v = fuse([ev("a", None, error="boom"), ev("b", None, applicable=False)])
    assert v.label == "inconclusive" and v.score is None and "failed" in v.summary
    v = fuse([])
    assert v.label == "inconclusive"
    v = fuse([ev("a", 0.1, "no_evidence"), ev("b", None, error="x"), ev("c", None, error="y")])
    assert v.label == "inconclusive"
    low = ev("noisy", 0.8, "manipulated")
    low.data["reliability"] = {"level": "low", "why": "the image is tiny"}
    high = ev("dq", 0.05, "no_evidence", sev="info")
    high.data["reliability"] = {"level": "high", "why": "a JPEG file"}
    v = fuse([low, high])
    assert v.label == "inconclusive" and "the image is tiny" in v.summary and "dq" in v.summary
    high.score = 0.9
    high.label = "manipulated"
    assert fuse([low, high]).label == "manipulated"
    assert [band_of(s) for s in (0.2, 0.5, 0.7, 0.85, 0.95)] == [
        "none", "weak", "moderate", "strong", "very_strong"]


def test_registry_did_you_mean_and_selection():
    with pytest.raises(DetectorNotFound, match="did you mean 'metadata'"):
        registry.select("metadta")
    assert [c.name for c in registry.select("metadata,metadata")] == ["metadata"]
    names = registry.names()
    assert {"metadata", "c2pa", "watermark", "jpeg_tables"} <= set(names)


def test_media_error_crosses_a_process_pool(tmp_path):
    """A MediaError raised in a worker process arrives as itself (path and message), instead of
    failing to unpickle and breaking the pool (found when a FIT benchmark met one bad file)."""
    import multiprocessing as mp
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from veriscope.core.errors import MediaError

    e = pickle.loads(pickle.dumps(MediaError("a.jpg", "empty file")))
    assert (e.path, e.message, str(e)) == ("a.jpg", "empty file", "a.jpg: empty file")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as ex:
        fut = ex.submit(Media.open, str(empty))
        with pytest.raises(MediaError) as got:
            fut.result(timeout=120)
    assert got.value.path == str(empty) and "empty" in got.value.message


def test_rgb_at_least_decodes_a_large_jpeg_smaller(tmp_path):
    """A JPEG is decoded at 1/2, 1/4 or 1/8 of its size when the long side asked for allows
    it (what a difference map needs of a large archived picture); anything else is full size."""
    import cv2

    from veriscope.core.errors import MediaError

    a = smooth_image(600, 800, seed=3)
    jpg = save(a, tmp_path / "a.jpg", quality=92)
    full = Media.open(jpg).rgb()
    for want, got in ((100, (75, 100)), (150, (150, 200)), (400, (300, 400)), (401, (600, 800)),
                      (800, (600, 800)), (5000, (600, 800))):
        r = Media.open(jpg).rgb_at_least(want)
        assert r.shape == (*got, 3), want
        assert not r.flags.writeable
        if got != (600, 800):  # the same picture, only smaller
            ref = cv2.resize(full, (got[1], got[0]), interpolation=cv2.INTER_AREA)
            assert np.abs(r.astype(int) - ref).mean() < 3
    png = save(a, tmp_path / "a.png")
    assert Media.open(png).rgb_at_least(100).shape == (600, 800, 3)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpg.read_bytes()[:2000])
    with pytest.raises(MediaError):
        Media.open(cut).rgb_at_least(100)
