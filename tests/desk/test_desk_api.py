"""The desk's REST API and pages: keys, uploads and their limits, notes, search, escaping,
CSRF, path confinement."""

import os
import re

import numpy as np

from veriscope.desk.worker import Worker


def _case(c, h, name="case"):
    r = c.post("/api/v1/cases", json={"name": name}, headers=h)
    assert r.status_code == 201
    return r.json()["id"]


def _upload(c, h, cid, data, name="x.jpg", **params):
    return c.post(f"/api/v1/cases/{cid}/items", params={"name": name, **params}, content=data,
                  headers=h)


def _tmp_files(store):
    return os.listdir(store.root / "tmp")


def test_every_route_but_health_needs_a_key(client):
    c, h, store = client
    assert c.get("/api/v1/health").status_code == 200
    paths = [p for p in c.app.openapi()["paths"] if p != "/api/v1/health"]
    assert len(paths) >= 8
    for p in paths:
        url = re.sub(r"\{[^}]+\}", "1", p).replace("{rel:path}", "report.json")
        for method in c.app.openapi()["paths"][p]:
            r = c.request(method.upper(), url)
            assert r.status_code == 401, (method, url, r.status_code)
            r = c.request(method.upper(), url, headers={"X-API-Key": "vsk_wrong"})
            assert r.status_code == 401, (method, url)


def test_upload_analyse_annotate_search(client, jpeg):
    c, h, store = client
    cid = _case(c, h)
    data = jpeg(1)
    r = _upload(c, h, cid, data, name="wire photo.jpg")
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["state"] == "queued" and item["size"] == len(data)
    import hashlib

    assert item["sha256"] == hashlib.sha256(data).hexdigest()
    # stored once by content, read-only
    blob = store.blob_path(item["sha256"])
    assert blob.read_bytes() == data and not os.access(blob, os.W_OK) or os.geteuid() == 0
    assert oct(blob.stat().st_mode & 0o777) == "0o444"
    assert c.get(f"/api/v1/items/{item['id']}/report", headers=h).status_code == 409
    assert Worker(store, "w").run_one()
    got = c.get(f"/api/v1/items/{item['id']}", headers=h).json()
    assert got["state"] == "done" and got["verdict"] in ("no_evidence", "inconclusive",
                                                          "manipulated", "synthetic")
    r = c.patch(f"/api/v1/items/{item['id']}", headers=h,
                json={"note": "checked with the wire", "tags": ["Wire", " flood "], "review": "ok"})
    assert r.status_code == 200 and r.json()["tags"] == ["flood", "wire"]
    assert c.patch(f"/api/v1/items/{item['id']}", headers=h,
                   json={"review": "approved"}).status_code == 422
    rep = c.get(f"/api/v1/items/{item['id']}/report", headers=h).json()
    assert rep["schema"] == "veriscope.report/1"
    assert rep["media"]["path"] == "wire photo.jpg"
    assert rep["desk"] == {"item": item["id"], "case": cid, "review": "ok",
                           "note": "checked with the wire", "tags": ["flood", "wire"],
                           "hash_ok": None}
    for q, n in [("wire", 1), ("WIRE PH", 1), (item["sha256"][:10], 1), ("flood", 1),
                 ("nothing", 0), ("%", 0), ("_", 0)]:
        assert len(c.get("/api/v1/search", params={"q": q}, headers=h).json()) == n, q
    v = got["verdict"]
    assert len(c.get("/api/v1/search", params={"verdict": v}, headers=h).json()) == 1
    assert len(c.get("/api/v1/search", params={"tag": "flood"}, headers=h).json()) == 1
    assert c.get(f"/api/v1/items/{item['id']}/original", headers=h).content == data
    assert c.get(f"/api/v1/items/{item['id']}/files/report.html", headers=h).status_code == 200
    audit = c.get("/api/v1/audit/verify", headers=h).json()
    assert audit["ok"] and audit["rows"] >= 6


def test_expected_hash_mismatch_is_recorded_for_good(client, jpeg):
    c, h, store = client
    cid = _case(c, h)
    data = jpeg(2)
    r = _upload(c, h, cid, data, expected_sha256="ab" * 32)
    assert r.status_code == 201 and r.json()["hash_ok"] is False
    rows = store.audit_rows()
    assert any(r["action"] == "item.hash_mismatch" for r in rows)
    import hashlib

    ok = _upload(c, h, cid, data, expected_sha256=hashlib.sha256(data).hexdigest().upper())
    assert ok.json()["hash_ok"] is True
    assert _upload(c, h, cid, data, expected_sha256="xyz").status_code == 422


def test_limits_refuse_with_413_and_leave_no_temp_file(client, jpeg):
    c, h, store = client
    cid = _case(c, h)
    big = b"\xff\xd8" + b"\0" * 500_000
    r = _upload(c, h, cid, big)
    assert r.status_code == 413 and "400000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        for _ in range(100):
            yield b"\0" * 10_000

    r = c.post(f"/api/v1/cases/{cid}/items", params={"name": "s.bin"}, content=chunks(), headers=h)
    assert r.status_code == 413
    # pixels from the header (nothing decoded): 2000 x 2000 > 1 MP
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (2000, 2000), (90, 120, 30)).save(buf, "PNG")
    assert len(buf.getvalue()) < 400_000
    r = _upload(c, h, cid, buf.getvalue(), name="flat.png")
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    # duration: 8 s of audio > 5 s
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(8 * 8000, dtype=np.float32), 8000, format="WAV")
    r = _upload(c, h, cid, buf.getvalue(), name="long.wav")
    assert r.status_code == 413 and "5 s" in r.json()["detail"]
    assert _upload(c, h, cid, b"", name="e.jpg").status_code == 400
    r = _upload(c, h, cid, b"<html><script>alert(1)</script></html>", name="page.jpg")
    assert r.status_code == 415
    assert _tmp_files(store) == []
    assert c.get(f"/api/v1/cases/{cid}/items", headers=h).json() == []
    assert _upload(c, h, 999, jpeg(4)).status_code == 404


def test_decompression_bombs_are_refused_from_their_header(client, tmp_path):
    from helpers import jpeg_size_bomb, png_bomb, png_deflate_bomb

    c, h, store = client
    cid = _case(c, h)
    for make in (png_bomb, jpeg_size_bomb, png_deflate_bomb):
        data = (make(tmp_path / "bomb", 6000, 6000) if make is png_deflate_bomb
                else make(tmp_path / "bomb")).read_bytes()
        assert len(data) < 400_000
        r = _upload(c, h, cid, data, name=f"{make.__name__}.png")
        assert r.status_code == 413, (make.__name__, r.status_code, r.text)
    assert _tmp_files(store) == []
    assert c.get(f"/api/v1/cases/{cid}/items", headers=h).json() == []


def test_job_rows_name_the_detector_versions(client, jpeg):
    c, h, store = client
    cid = _case(c, h)
    _upload(c, h, cid, jpeg(9))
    Worker(store, "w").run_one()
    done = [r for r in store.audit_rows() if r["action"] == "job.done"]
    import json

    dets = json.loads(done[0]["detail"])["detectors"]
    assert dets and all(re.fullmatch(r"[a-z_0-9]+ \S+", d) for d in dets)
    assert done[0]["tool"].startswith("veriscope ")


def test_names_are_confined_and_escaped(client, jpeg):
    c, h, store = client
    cid = _case(c, h, name="<script>alert('case')</script>")
    evil = "../../etc/<img src=x onerror=alert(1)>.jpg"
    item = _upload(c, h, cid, jpeg(5), name=evil).json()
    assert item["name"] == "<img src=x onerror=alert(1)>.jpg"  # last component only
    assert Worker(store, "w").run_one()
    c.patch(f"/api/v1/items/{item['id']}", headers=h, json={"note": "</textarea><script>x()</script>"})
    # nothing was written outside the data folder
    assert not (store.root.parent / "etc").exists()
    key = h["X-API-Key"]
    c.post("/login", data={"key": key})
    for url in ["/", f"/cases/{cid}", f"/items/{item['id']}", "/search?q=img"]:
        page = c.get(url)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "</textarea><script>" not in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
    # report files: only inside the item's report folder, sandboxed
    for rel in ["..%2F..%2Fdesk.sqlite3", "%2e%2e/%2e%2e/desk.sqlite3", "maps/../../../audit.head"]:
        # (a client may fold the dots itself: then the route does not match at all, 422)
        assert c.get(f"/api/v1/items/{item['id']}/files/{rel}", headers=h).status_code in (404, 422)
    r = c.get(f"/api/v1/items/{item['id']}/files/report.html", headers=h)
    assert "sandbox" in r.headers["content-security-policy"]


def test_browser_session_needs_csrf_token(client, jpeg):
    c, h, store = client
    cid = _case(c, h)
    item = _upload(c, h, cid, jpeg(6)).json()
    assert c.get("/", follow_redirects=False).headers["location"] == "/login"
    assert c.post("/login", data={"key": "vsk_nope"}).status_code == 401
    r = c.post("/login", data={"key": h["X-API-Key"]}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = c.get(f"/items/{item['id']}").text
    csrf = re.search(r'name="csrf" content="([^"]+)"', page).group(1)
    # the cookie alone cannot change anything (a cross-site request has no token)
    assert c.patch(f"/api/v1/items/{item['id']}", json={"note": "x"}).status_code == 403
    assert c.patch(f"/api/v1/items/{item['id']}", json={"note": "x"},
                   headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert c.post("/cases", data={"name": "forged"}, follow_redirects=False).status_code == 403
    r = c.patch(f"/api/v1/items/{item['id']}", json={"note": "x"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["note"] == "x"
    r = c.post("/cases", data={"name": "from the form", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    # reading with the cookie is fine
    assert c.get("/api/v1/cases").status_code == 200
    c.post("/logout", data={"csrf": csrf})
    assert c.get("/api/v1/cases").status_code == 401


def test_priority_interactive_before_batch(client, jpeg):
    c, h, store = client
    cid = _case(c, h)
    b1 = _upload(c, h, cid, jpeg(7), name="b1.jpg", batch="true").json()
    i1 = _upload(c, h, cid, jpeg(8), name="i1.jpg").json()
    w = Worker(store, "w")
    w.run_one()
    assert store.item(i1["id"])["state"] == "done" and store.item(b1["id"])["state"] == "queued"


def test_pages_serve_local_assets_only(client):
    c, h, store = client
    c.post("/login", data={"key": h["X-API-Key"]})
    page = c.get("/").text
    assert not re.search(r"(src|href)=\"https?://", page)
    assert c.get("/static/desk.js").status_code == 200
    assert c.get("/static/desk.css").status_code == 200
    assert c.get("/static/..%2Fapp.py").status_code == 404
    assert c.get("/docs").status_code == 404  # would load Swagger from a CDN
    assert "/api/v1/cases/{case_id}/items" in c.get("/openapi.json").json()["paths"]


def test_an_oversized_picture_is_refused_before_its_body_ends(client):
    """The pixel limit is enforced from the first 64 kB (the message is the header check's,
    not the whole-file check's; the test client sends the whole body regardless)."""
    from helpers import png_bomb

    c, h, store = client
    cid = _case(c, h)
    import tempfile
    from pathlib import Path

    head = png_bomb(Path(tempfile.mkdtemp()) / "b.png", 20_000, 20_000).read_bytes()

    def body():
        yield head + b"\0" * (70_000 - len(head))
        for _ in range(30):  # 300 kB more, under the byte limit
            yield b"\0" * 10_000

    r = c.post(f"/api/v1/cases/{cid}/items", params={"name": "big.png"}, content=body(), headers=h)
    assert r.status_code == 413 and "header claims more pixels" in r.json()["detail"]
    # a header under PIL's own bomb bar: the message gives the size
    head = png_bomb(Path(tempfile.mkdtemp()) / "c.png", 3000, 3000).read_bytes()
    r = c.post(f"/api/v1/cases/{cid}/items", params={"name": "c.png"},
               content=iter([head + b"\0" * (70_000 - len(head))]), headers=h)
    assert r.status_code == 413 and "3000x3000" in r.json()["detail"]
    assert _tmp_files(store) == []
