"""Fusion rule 0: proof before statistics (docs/fusion.md). What the file carries (a decoded
watermark, generator parameters, a signature) decides the label; pixel statistics can add
secondary conclusions (``verdict.also``) but never flip it."""

from __future__ import annotations

import numpy as np
import pytest

from veriscope.core.evidence import Evidence
from veriscope.core.fusion import fuse


def ev(name, score, label=None, level="high"):
    e = Evidence(name, "1", applicable=True, score=score,
                 label=label or ("manipulated" if score >= 0.5 else "no_evidence"))
    if level:
        e.data["reliability"] = {"level": level, "why": f"{name} says {level}"}
    if score >= 0.5:
        e.add("high", f"{name}_hit", f"{name} found something")
    return e


def test_a_decoded_watermark_is_not_outvoted_by_statistics():
    evs = [ev("watermark", 0.95, "synthetic"), ev("resampling", 0.99), ev("noise", 0.95),
           ev("splicebuster", 0.97)]
    v = fuse(evs, kind="image")  # the classic detectors combine to about 1.0
    assert v.label == "synthetic" and v.basis == "provenance"
    assert v.score == pytest.approx(0.95)
    assert v.drivers[0]["detector"] == "watermark"
    assert [a["label"] for a in v.also] == ["manipulated"]
    assert v.also[0]["detector"] == "classic_calibrated" and v.also[0]["score"] > 0.95
    assert "parts may also have been changed after generation" in v.summary


def test_generator_parameters_decide_synthetic_over_a_stronger_pixel_score():
    evs = [ev("metadata", 0.97, "synthetic", level=None), ev("noise", 0.79),
           ev("copy_move", 1.0)]
    v = fuse(evs, kind="image")
    assert (v.label, v.basis) == ("synthetic", "provenance") and v.score == pytest.approx(0.97)
    assert {a["detector"] for a in v.also} >= {"copy_move"}


def test_a_broken_signature_decides_manipulated_and_leads_the_summary():
    evs = [ev("c2pa", 0.9, "manipulated"), ev("noise", 0.99), ev("splicebuster", 0.99)]
    v = fuse(evs, kind="image")
    assert (v.label, v.basis) == ("manipulated", "provenance")
    assert v.drivers[0]["detector"] == "c2pa" and v.score == pytest.approx(0.9)


def test_synthetic_proof_comes_before_a_manipulated_proof():
    evs = [ev("c2pa", 0.9, "manipulated"), ev("watermark", 0.6, "synthetic")]
    v = fuse(evs, kind="image")
    assert v.label == "synthetic" and v.also[0]["detector"] == "c2pa"


def test_low_reliability_does_not_undo_proof():
    evs = [ev("watermark", 0.95, "synthetic", level="low")]
    assert fuse(evs, kind="image").label == "synthetic"


def test_statistics_decide_only_without_proof():
    evs = [ev("metadata", 0.2, level=None), ev("noise", 0.99), ev("splicebuster", 0.99)]
    v = fuse(evs, kind="image")
    assert (v.label, v.basis) == ("manipulated", "signals")
    v = fuse([ev("metadata", 0.2, level=None), ev("noise", 0.1)], kind="image")
    assert (v.label, v.basis, v.also) == ("no_evidence", "none", [])


def test_the_demo_watermark_picture_is_synthetic(tmp_path):
    """The demo's Stable Diffusion watermark picture, analysed by the default set: the
    watermark decides, whatever the resampling statistics say."""
    pytest.importorskip("skimage")
    from PIL import Image
    from skimage import data

    import veriscope
    from veriscope.detectors.provenance.watermark.dwtdct import PAYLOADS, embed_like
    from veriscope.report.schema import validate

    wm = tmp_path / "wm.png"
    Image.fromarray(embed_like(np.asarray(data.astronaut()), PAYLOADS[0])).save(wm)
    rep = veriscope.analyze(wm)
    assert rep.get("watermark").label == "synthetic"
    assert (rep.verdict.label, rep.verdict.basis) == ("synthetic", "provenance")
    validate(json_roundtrip(rep))


def test_every_comfyui_picture_is_synthetic(shared_data):
    """All 26 ComfyUI pictures of the shared data name their generator in the PNG chunks; with
    the detectors that decided their verdicts before rule 0 (metadata and the classic pixel
    detectors, whose calibrated score beat the metadata on Stable Cascade) they are synthetic."""
    import veriscope

    files = sorted((shared_data / "comfyui-generated-with-metadata").glob("*.png")) + \
        sorted((shared_data / "comfyui-generated-extra-subset").glob("*.png"))
    assert len(files) == 26
    dets = "metadata,noise,splicebuster,resampling,jpeg_ghost"
    labels = {f.name: veriscope.analyze(f, detectors=dets).verdict.label for f in files}
    assert set(labels.values()) == {"synthetic"}, labels


def json_roundtrip(rep):
    import json

    return json.loads(rep.to_json())


def test_headlines_are_one_plain_sentence_per_case():
    v = fuse([ev("watermark", 0.95, "synthetic"), ev("noise", 0.99)], kind="image")
    assert v.headline.startswith("Made by AI: it carries the invisible watermark")
    v = fuse([ev("c2pa", 0.9, "manipulated")], kind="image")
    assert v.headline.startswith("Altered: its signed Content Credentials no longer match")
    v = fuse([ev("copy_move", 0.9)], kind="image")
    assert v.headline == ("Likely edited: parts of this picture look copied from elsewhere in "
                          "the same picture.")
    v = fuse([ev("noise", 0.9), ev("resampling", 0.9)], kind="image")  # two kinds of trace
    assert v.headline.startswith("Likely edited: several independent traces")
    v = fuse([ev("noise", 0.9)], kind="image")
    assert "noise differs" in v.headline
    v = fuse([ev("noise", 0.1), ev("metadata", 0.0, level=None)], kind="image")
    assert v.headline.startswith("Nothing suspicious found by the 2 checks")
    assert "does not prove the image authentic" in v.headline
    v = fuse([ev("faces", 0.9, level="low")], kind="video")
    assert v.headline.startswith("No conclusion: the only signs come from checks that are "
                                 "unreliable")
    v = fuse([], kind="audio")
    assert v.headline.startswith("No conclusion:")
    for v in (fuse([ev("copy_move", 0.9)]), fuse([])):
        assert v.headline.count(".") >= 1 and "\n" not in v.headline
        assert v.to_dict()["headline"] == v.headline


def scope_ev(in_scope, code="graphic", message="most of the picture is flat colour"):
    e = Evidence("scope", "1", applicable=True, score=None, label=None)
    e.data["scope"] = {"in_scope": in_scope,
                       "reasons": [] if in_scope else [{"code": code, "message": message}]}
    return e


def test_rule_10_statistics_on_an_out_of_scope_picture_are_inconclusive():
    v = fuse([ev("copy_move", 0.9), scope_ev(False)], kind="image")
    assert v.label == "inconclusive" and v.basis == "signals"
    assert v.headline.startswith("No conclusion: most of the picture is flat colour")
    assert v.reasons[0].startswith("Out of scope:")
    assert fuse([ev("copy_move", 0.9), scope_ev(True)], kind="image").label == "manipulated"
    # proof is unaffected
    v = fuse([ev("watermark", 0.95, "synthetic"), ev("noise", 0.9), scope_ev(False)])
    assert v.label == "synthetic" and v.basis == "provenance"
    # nothing found stays no_evidence, with the caveat first among the limits
    v = fuse([ev("noise", 0.1), scope_ev(False, "tiny", "the picture is small")])
    assert v.label == "no_evidence" and "weak on this kind of picture" in v.limits[0]


def test_reasons_cite_findings_and_limits_say_what_cannot_be_told():
    v = fuse([ev("copy_move", 0.9)], kind="image")
    assert v.reasons == ["copy_move found something [copy_move: copy_move_hit]."]
    assert any(x.startswith("copy_move cannot tell:") for x in v.limits)
    assert "check the marked region yourself" in v.limits[0]
    v = fuse([ev("noise", 0.1), ev("metadata", 0.0, level=None)], kind="image")
    assert v.reasons[0].startswith("2 checks ran and none reached its threshold")
    assert "does not prove the image authentic" in v.limits[0]
    assert any("AI" in x for x in v.limits)
    v = fuse([ev("watermark", 0.95, "synthetic")], kind="image")
    assert v.limits[0].startswith("Declared provenance")
    d = v.to_dict()
    assert d["reasons"] == v.reasons and d["limits"] == v.limits
    assert fuse([]).reasons and fuse([]).limits


def test_rule_11_stability_lowers_but_never_raises_a_statistical_verdict():
    from veriscope.core.fusion import apply_stability

    v = fuse([ev("copy_move", 0.9)], kind="image")
    assert v.band == "strong" and v.confidence == {"groups": 1, "stability": "not_run",
                                                   "effect": "none"}
    v = apply_stability(v, {"signal_flip_rate": 0.6, "n_done": 5})
    assert v.band == "moderate" and v.confidence["effect"] == "band_lowered"
    assert v.label == "manipulated" and "did not survive 3 of 5" in v.reasons[-1]
    v = apply_stability(fuse([ev("copy_move", 0.9)]), {"signal_flip_rate": 0.0, "n_done": 4})
    assert v.band == "strong" and v.confidence["stability"] == "held"
    assert "held under all 4" in v.reasons[-1]
    # proof is untouched by re-encoding, and nothing-found verdicts have no band to lower
    v = apply_stability(fuse([ev("watermark", 0.95, "synthetic")]),
                        {"signal_flip_rate": 1.0, "n_done": 3})
    assert v.band == "very_strong" and v.confidence["effect"] == "none"
    v = apply_stability(fuse([ev("noise", 0.1)]), {"signal_flip_rate": 1.0, "n_done": 3})
    assert v.label == "no_evidence" and v.band == "none"
    assert apply_stability(fuse([]), {"signal_flip_rate": None, "n_done": 0}).confidence[
        "stability"] == "not_run"


def test_independent_groups_count_once():
    v = fuse([ev("noise", 0.9), ev("splicebuster", 0.9)], kind="image")  # one trace
    assert v.confidence["groups"] == 1
    v = fuse([ev("noise", 0.9), ev("resampling", 0.9), ev("copy_move", 0.8)], kind="image")
    assert v.confidence["groups"] == 3


def _c2pa_capture(state="Trusted", source="digitalCapture", ai=()):
    e = ev("c2pa", 0.0, "no_evidence", level=None)
    e.data["summary"] = {"validation_state": state, "ai_declarations": list(ai),
                         "actions": [{"action": "c2pa.created", "digitalSourceType": source}]}
    return e


def test_rule_0b_a_trusted_signed_capture_outranks_a_pixel_synthetic():
    ai = ev("ai_image", 0.56, "synthetic")
    v = fuse([_c2pa_capture(), ai], kind="image")
    assert v.label == "no_evidence"
    assert "declare a camera capture" in v.reasons[0] and "ai_image (0.56)" in v.reasons[0]
    # only a trusted, capture-declaring manifest does this
    for c in (_c2pa_capture(state="Valid"), _c2pa_capture(source="trainedAlgorithmicMedia"),
              _c2pa_capture(ai=["c2pa.created: trainedAlgorithmicMedia"])):
        assert fuse([c, ev("ai_image", 0.56, "synthetic")], kind="image").label == "synthetic"
    # and it does not hide an edit found by the pixel checks
    v = fuse([_c2pa_capture(), ev("copy_move", 0.99)], kind="image")
    assert v.label == "manipulated"


def test_rule_6_a_failed_proof_check_leaves_no_evidence_inconclusive():
    quiet = [ev("noise", 0.1), ev("splicebuster", 0.2), ev("cfa", 0.05), ev("jpeg_grid", 0.1)]
    assert fuse([ev("c2pa", 0.0), *quiet], kind="image").label == "no_evidence"
    stopped = Evidence.failed("c2pa", "1", "crashed (SIGSEGV); contained")
    v = fuse([stopped, *quiet], kind="image")
    assert v.label == "inconclusive" and v.failed == ["c2pa"]
    assert v.headline == ("No conclusion: the check for proof of origin (c2pa) failed to run "
                          "on this file.")
    # one pixel check failing among many leaves "no evidence" standing
    v = fuse([ev("c2pa", 0.0), Evidence.failed("noise", "1", "timed out"), *quiet[1:]],
             kind="image")
    assert v.label == "no_evidence" and v.failed == ["noise"]
