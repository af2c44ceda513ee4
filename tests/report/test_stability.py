"""Verdict stability under everyday re-encodings (`veriscope analyze --stability N`)."""

import json
import wave

import jsonschema
import pytest
from click.testing import CliRunner
from helpers import save, smooth_image

from veriscope.cli import cli
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector
from veriscope.pipeline import stability as S
from veriscope.pipeline.runner import analyze_media
from veriscope.report.html import render_html
from veriscope.report.schema import REPORT_SCHEMA


class PngOnlyDet(Detector):
    """Test detector that flags every PNG file and nothing else: fragile by construction."""

    name = "png_probe_test"
    version = "1"

    def analyze(self, media, ctx):
        return self.evidence(score=0.9 if media.format == "png" else 0.0, label="manipulated")


class FakeMetadataDet(PngOnlyDet):
    """The same fragile rule under a provenance detector's name."""

    name = "metadata"


class SteadyDet(Detector):
    """Test detector whose score depends on the mean brightness only (survives re-encoding)."""

    name = "steady_test"
    version = "1"

    def analyze(self, media, ctx):
        return self.evidence(score=0.2 if media.rgb().mean() < 200 else 0.8, label="manipulated")


def _png(tmp_path):
    return save(smooth_image(160, 200, seed=2), tmp_path / "x.png")


def _assess(path, classes, n):
    media = Media.open(path)
    ctx = Context(timeout_s=30)
    rep = analyze_media(media, classes, ctx)
    ev = S.assess(media, rep, classes, ctx, n)
    rep.evidence.append(ev)
    return rep, ev


def test_flip_rate_counts_verdict_changes(tmp_path):
    rep, ev = _assess(_png(tmp_path), [PngOnlyDet, SteadyDet], 6)
    assert rep.verdict.label == "manipulated"
    d = ev.data
    assert [v["perturbation"] for v in d["variants"]] == [s for s, _ in S.VARIANTS[:6]]
    # social, jpeg 90, jpeg 75, resize+jpeg and the PNG->JPEG swap are JPEG: the PNG rule goes
    # quiet; the screenshot is a PNG again
    flipped = [v["perturbation"] for v in d["variants"] if v["flipped"]]
    assert flipped == ["social", "jpeg:q=90", "jpeg:q=75", "resize:s=0.75+jpeg:q=90",
                       "format:to=swap"]
    assert d["flip_rate"] == pytest.approx(5 / 6) and d["signal_flip_rate"] == pytest.approx(5 / 6)
    assert ev.score is None and ev.label is None
    f = ev.findings[0]
    assert f.code == "verdict_stability" and f.severity == "medium"
    assert "5 of 6" in f.message and "legitimately change" in f.message
    assert d["variants"][0]["changed_detectors"]["png_probe_test"]["from"] == "manipulated>=0.5"
    assert d["variants"][4]["format"] == "png" and d["variants"][4]["width"] == 160


def test_provenance_flips_are_separated_from_signal_flips(tmp_path):
    _, ev = _assess(_png(tmp_path), [FakeMetadataDet, SteadyDet], 4)
    assert ev.data["flip_rate"] == 1.0
    assert ev.data["signal_flip_rate"] == 0.0
    assert "without them the verdict changed under 0 of 4" in ev.findings[0].message


def test_stable_verdict_is_info_and_report_stays_valid(tmp_path):
    rep, ev = _assess(_png(tmp_path), [SteadyDet], 3)
    assert ev.data["flip_rate"] == 0.0 and ev.findings[0].severity == "info"
    assert "stayed the same under all 3" in ev.findings[0].message
    d = json.loads(rep.to_json())
    jsonschema.validate(d, REPORT_SCHEMA)
    st = next(e for e in d["evidence"] if e["name"] == "stability")
    assert st["score"] is None and len(st["data"]["variants"]) == 3
    html = render_html(rep)
    assert "Verdict stability" in html and "jpeg:q=90" in html


def test_deterministic_and_not_applicable_to_audio(tmp_path):
    p = _png(tmp_path)
    a = _assess(p, [PngOnlyDet], 8)[1].data
    b = _assess(p, [PngOnlyDet], 8)[1].data
    assert a == b and a["n_done"] == 8
    wav = tmp_path / "a.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    media = Media.open(wav)
    ev = S.assess(media, analyze_media(media, [PngOnlyDet]), [PngOnlyDet], Context(), 3)
    assert not ev.applicable and "images only" in ev.reason


def test_cli_analyze_stability(tmp_path):
    p = _png(tmp_path)
    r = CliRunner().invoke(cli, ["analyze", str(p), "--detectors", "metadata", "--stability", "2",
                                 "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output.strip().splitlines()[-1])
    st = next(e for e in d["evidence"] if e["name"] == "stability")
    assert [v["perturbation"] for v in st["data"]["variants"]] == ["social", "jpeg:q=90"]
    assert st["findings"][0]["code"] == "verdict_stability"
    r = CliRunner().invoke(cli, ["analyze", str(p), "--stability", "11"])
    assert r.exit_code == 2


def test_batch_applies_rule_11_to_a_fragile_statistical_verdict(tmp_path):
    """analyze_one with stability: PngOnlyDet's flag vanishes in every JPEG variant, so the
    verdict keeps its label but its band drops one step and a reason says why."""
    from veriscope.pipeline.batch import Job, analyze_one

    p = _png(tmp_path)
    plain = analyze_one(Job(p, want_json=True), [PngOnlyDet], Context(timeout_s=30))
    out = analyze_one(Job(p, want_json=True), [PngOnlyDet], Context(timeout_s=30), stability=3)
    assert plain.verdict.band == "strong" and plain.verdict.confidence["stability"] == "not_run"
    v = json.loads(out.json)["verdict"]
    assert v["label"] == "manipulated" and v["band"] == "moderate"
    assert v["confidence"] == {"groups": 1, "stability": "fragile", "effect": "band_lowered"}
    assert "did not survive 3 of 3" in v["reasons"][-1]
