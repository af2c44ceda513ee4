"""caption_faces: counts of people in a caption against the faces found in the picture."""

import os

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("dlib")

from veriscope.core.media import Media  # noqa: E402
from veriscope.core.post import make_post  # noqa: E402
from veriscope.detectors.base import Context  # noqa: E402
from veriscope.detectors.post import caption_faces as cf  # noqa: E402
from veriscope.detectors.post.claims import count_claims  # noqa: E402
from veriscope.pipeline.runner import analyze_path  # noqa: E402


def _faces(*widths):
    return [{"box": [i * 300, 10, w, w], "score": 1.0} for i, w in enumerate(widths)]


def _check(caption, faces):
    claims = count_claims(caption)
    return [(c["text"], r["status"]) for c, r in zip(claims, cf.check_counts(claims, faces, caption),
                                                     strict=True)]


def test_fewer_faces_than_claimed_never_contradicts():
    assert _check("Three people at the market", _faces(100)) == [("Three people", "unchecked")]
    assert _check("A crowd of 12 gathered", []) == [("A crowd of 12", "unchecked")]
    assert _check("Two men talk", _faces(100, 90)) == [("Two men", "consistent")]


def test_more_faces_contradict_only_when_clearly_more():
    assert _check("A woman waits", _faces(100, 95)) == [("A woman", "unchecked")]
    assert _check("A woman waits", _faces(100, 95, 80)) == [("A woman", "contradicted")]
    assert _check("Two men talk", _faces(100, 95, 80)) == [("Two men", "unchecked")]
    assert _check("Two men talk", _faces(100, 95, 80, 70)) == [("Two men", "contradicted")]
    # small faces in the background are not prominent: they do not count
    assert _check("A woman waits", _faces(200, 60, 50, 40, 30)) == [("A woman", "consistent")]


def test_counts_of_one_caption_are_added_up_and_other_people_disarm_them():
    assert _check("Two men and a woman talk", _faces(100, 90, 80)) == [
        ("Two men", "consistent"), ("a woman", "consistent")]
    assert _check("A man takes a selfie with fans", _faces(100, 95, 90, 85)) == [
        ("A man", "unchecked")]
    assert _check("A man and hundreds of protesters", _faces(*[100] * 6)) == [
        ("A man", "unchecked"), ("hundreds of protesters", "unchecked")]


def test_people_the_picture_need_not_show_are_not_compared():
    assert _check("Five killed in the blast", _faces(*[100] * 12)) == [("Five killed", "unchecked")]
    assert _check("Two men were arrested", _faces(*[100] * 6)) == [("Two men", "unchecked")]
    assert _check("5 dead after the storm", _faces(*[100] * 12)) == [("5 dead", "unchecked")]


def test_vague_counts_get_a_hint_never_a_contradiction():
    claims = count_claims("Hundreds of protesters in the square")
    (r,) = cf.check_counts(claims, _faces(100), "Hundreds of protesters in the square")
    assert r["status"] == "unchecked" and r.get("hint") and "weak hint" in r["why"]
    (r,) = cf.check_counts(claims, _faces(*[50] * 8), "Hundreds of protesters in the square")
    assert r["status"] == "unchecked" and not r.get("hint")


def _plain(tmp_path):
    p = tmp_path / "grey.jpg"
    Image.new("RGB", (160, 120), (120, 130, 140)).save(p)
    return p


def test_not_applicable_without_a_count_and_faces_cached_per_picture(tmp_path, monkeypatch):
    p = _plain(tmp_path)
    det = cf.CaptionFacesDetector()
    ev = det.analyze(Media.open(p), Context(post=make_post("Floods in Paris, 2024")))
    assert not ev.applicable
    m = Media.open(p)
    calls = []
    real = cf.working_rgb
    monkeypatch.setattr(cf, "working_rgb", lambda *a: calls.append(1) or real(*a))
    ev = det.analyze(m, Context(post=make_post("Two men in Paris")))
    assert ev.applicable and ev.boxes == [] and cf.find_faces(m) == []
    assert len(calls) == 1  # the second look-up is the cached one
    (c,) = ev.data["claims"]
    assert c["status"] == "unchecked" and "not confirmed" in c["why"]


def test_group_photo_contradicts_a_single_person(shared):
    d = shared("deepface-real-faces-subset")
    r = analyze_path(d / "selfie-many-people.jpg", "metadata",
                     post=make_post("A man takes a selfie in London"))
    post = r.to_dict()["post"]
    count = next(c for c in post["claims"] if c["kind"] == "count")
    assert count["status"] == "contradicted"
    assert post["label"] == "contradicted" and post["fake_text_pos"] == [0, 1]
    ev = next(e for e in r.post_evidence if e.name == "caption_faces")
    f = next(f for f in ev.findings if f.code == "post.count_contradicted")
    assert f.data["fact"]["prominent_faces"] >= 3 and len(f.data["fact"]["boxes"]) >= 3
    assert len(ev.boxes) == f.data["fact"]["faces"]
    assert [t.text for t in ev.tokens] == ["A man"]


def test_portrait_confirms_one_person_and_does_not_contradict_three(shared):
    d = shared("deepface-real-faces-subset")
    one = analyze_path(d / "img10.jpg", "metadata", post=make_post("A woman at the premiere"))
    assert one.to_dict()["post"]["label"] == "consistent"
    three = analyze_path(d / "img10.jpg", "metadata", post=make_post("Three people at the premiere"))
    assert three.to_dict()["post"]["label"] == "unchecked"
