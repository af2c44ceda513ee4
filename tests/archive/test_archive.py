"""The reference archive: fingerprints, indexing (incremental, bad files skipped), search with
verification, the difference map, which version is earlier, the archive_match detector and
the CLI. Pictures: scikit-image's sample photos (real photos, bundled in its wheel)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

pytest.importorskip("faiss")
pytest.importorskip("imagehash")
data = pytest.importorskip("skimage.data")

from veriscope.archive.build import index_paths  # noqa: E402
from veriscope.archive.search import Query, earlier_version, match  # noqa: E402
from veriscope.archive.store import Archive  # noqa: E402
from veriscope.cli import cli  # noqa: E402
from veriscope.signals import fingerprint as F  # noqa: E402

NAMES = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina",
         "hubble_deep_field", "colorwheel", "coins", "camera", "brick", "moon"]


def _photos() -> dict[str, np.ndarray]:
    out = {}
    for n in NAMES:
        a = getattr(data, n)()
        if a.ndim == 2:
            a = np.stack([a] * 3, -1)
        out[n] = np.ascontiguousarray(a[..., :3]).astype(np.uint8)
    return out


@pytest.fixture(scope="module")
def photos():
    return _photos()


@pytest.fixture(scope="module")
def archive(tmp_path_factory, photos):
    folder = tmp_path_factory.mktemp("pics")
    for n, a in photos.items():
        Image.fromarray(a).save(folder / f"{n}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    (folder / "notes.jpg").write_text("not a picture")
    arc = Archive(tmp_path_factory.mktemp("arc") / "a", create=True)
    rep = index_paths(arc, [folder], source="skimage", date="2019-03-02")
    assert rep.added == len(NAMES) and len(rep.skipped) == 2
    return arc, folder


def _edit(a: np.ndarray, box=(60, 50, 150, 120)) -> tuple[np.ndarray, np.ndarray]:
    im = Image.fromarray(a.copy())
    ImageDraw.Draw(im).ellipse(box, fill=(30, 220, 40))
    mask = np.zeros(a.shape[:2], bool)
    m = Image.new("L", (a.shape[1], a.shape[0]))
    ImageDraw.Draw(m).ellipse(box, fill=255)
    mask = np.asarray(m) > 0
    return np.asarray(im), mask


def _jpeg(a: np.ndarray, q: int = 80) -> np.ndarray:
    import io

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _resize(a, s):
    return np.asarray(Image.fromarray(a).resize((round(a.shape[1] * s), round(a.shape[0] * s)),
                                               Image.Resampling.LANCZOS))


def test_hashes_survive_resize_and_recompression_not_a_different_picture(photos):
    a, b = photos["astronaut"], photos["coffee"]
    ha, hb = F.perceptual_hashes(a), F.perceptual_hashes(b)
    hr = F.perceptual_hashes(_jpeg(_resize(a, 0.5), 70))
    assert F.hamming64(ha["phash"], hr["phash"]) <= 8
    assert F.hamming64(ha["phash"], hb["phash"]) > 20
    hm = F.perceptual_hashes(np.ascontiguousarray(a[:, ::-1]))
    assert F.hamming64(ha["phash_mirror"], hm["phash"]) <= 2


def test_features_round_trip(photos):
    f = F.local_features(F.working_copy(photos["rocket"]))
    g = F.Features.from_bytes(f.to_bytes())
    assert np.array_equal(f.desc, g.desc) and np.allclose(f.xy, g.xy) and f.size == g.size


@pytest.mark.parametrize("name,make", [
    ("resize+jpeg", lambda a: _jpeg(_resize(a, 0.6), 75)),
    ("crop half", lambda a: a[a.shape[0] // 4: 3 * a.shape[0] // 4, a.shape[1] // 4: 3 * a.shape[1] // 4]),
    ("mirror", lambda a: np.ascontiguousarray(a[:, ::-1])),
    ("border", lambda a: np.pad(a, ((40, 40), (40, 40), (0, 0)), constant_values=255)),
])
def test_the_original_is_found_and_verified(archive, photos, name, make):
    arc, _ = archive
    ms = match(arc, Query.from_rgb(make(photos["astronaut"])), top=5)
    assert ms and ms[0].verified and ms[0].item["path"].endswith("astronaut.png"), name
    assert ms[0].item["source"] == "skimage" and ms[0].item["date"].startswith("2019-03-02")
    assert [m for m in ms if m.verified] == ms[:1]  # nothing else verifies


def test_an_unrelated_picture_verifies_nothing(archive):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:400]
    other = np.stack([np.sin(xx / 17) * 90 + 120, np.cos(yy / 23) * 90 + 120,
                      rng.normal(128, 30, (300, 400))], -1).clip(0, 255).astype(np.uint8)
    assert not [m for m in match(arc_of(archive), Query.from_rgb(other)) if m.verified]


def arc_of(archive):
    return archive[0]


def test_difference_map_finds_the_edit_and_not_the_reencoding(archive, photos):
    arc, _ = archive
    edited, mask = _edit(photos["chelsea"])
    m = match(arc, Query.from_rgb(_jpeg(edited, 85)), top=3)[0]
    assert m.verified and m.item["path"].endswith("chelsea.png")
    found = m.diff >= 0.5
    inter = (found & mask).sum()
    assert inter / found.sum() > 0.7 and inter / mask.sum() > 0.7
    assert m.regions and m.regions[0]["x"] <= 60 + 5 and m.regions[0]["y"] <= 50 + 5
    # the same picture only re-encoded and shrunk: no region differs
    clean = match(arc, Query.from_rgb(_jpeg(_resize(photos["chelsea"], 0.7), 75)), top=3)[0]
    assert clean.verified and clean.regions == []
    assert clean.earlier == "archived"  # the archived one has more pixels
    # a colour grade (each channel's gain and offset changed) is not an edit either; the edit
    # under the same grade still is
    graded = np.clip(photos["chelsea"].astype(np.float32) * [0.6, 0.65, 0.55] + [50, 45, 60],
                     0, 255).astype(np.uint8)
    g = match(arc, Query.from_rgb(_jpeg(graded, 85)), top=3)[0]
    assert g.verified and g.regions == []
    eg = np.clip(edited.astype(np.float32) * [0.6, 0.65, 0.55] + [50, 45, 60], 0, 255)
    ge = match(arc, Query.from_rgb(_jpeg(eg.astype(np.uint8), 85)), top=3)[0]
    assert ge.verified and ge.regions and ((ge.diff >= 0.5) & mask).sum() / mask.sum() > 0.7


def test_earlier_version_cues():
    assert earlier_version(1.0, 0.5, 1e5, 4e5, None, None)[0] == "archived"
    assert earlier_version(0.5, 1.0, 4e5, 1e5, None, None)[0] == "query"
    assert earlier_version(1.0, 1.0, 1e5, 1e5, None, None)[0] == "unknown"
    # dates beat the other cues
    assert earlier_version(1.0, 0.5, 1e5, 4e5, "2018-01-01T00:00:00", "2020-01-01")[0] == "query"


def test_incremental_and_bad_files_listed(archive):
    arc, folder = archive
    n = arc.count()
    rep = index_paths(arc, [folder])
    assert rep.added == 0 and rep.already == len(NAMES) and arc.count() == n
    reasons = {s["path"].rsplit("/", 1)[-1]: s["reason"] for s in arc.skipped()}
    assert set(reasons) == {"broken.jpg", "notes.jpg"}
    assert "unsupported" in reasons["notes.jpg"] or "format" in reasons["notes.jpg"]


def test_the_faiss_index_is_rebuilt_when_stale(archive, photos, tmp_path):
    arc, _ = archive
    (arc.root / "features.faiss").write_bytes(b"garbage")
    fresh = Archive(arc.root)
    ms = match(fresh, Query.from_rgb(photos["coffee"]), top=3)
    assert ms[0].verified and ms[0].item["path"].endswith("coffee.png")


def test_detector_and_report(archive, photos, tmp_path):
    from veriscope import analyze

    arc, _ = archive
    edited, _ = _edit(photos["coffee"], box=(100, 80, 220, 170))
    small = _resize(edited, 0.75)
    p = tmp_path / "q.jpg"
    Image.fromarray(small).save(p, quality=90)
    rep = analyze(p, ["archive_match"], options={"archive_match": {"archive": str(arc.root)}})
    ev = rep.get("archive_match")
    assert ev.applicable and ev.score >= 0.6 and ev.label == "manipulated"
    codes = {f.code for f in ev.findings}
    assert {"archive_match", "archive_earlier_differs"} <= codes
    assert ev.heatmap is not None and "archived_version" in ev.views
    assert rep.verdict.label == "manipulated" and "archive" in rep.verdict.headline
    out = rep.write(tmp_path / "out")
    assert (tmp_path / "out" / "maps" / "archive_match.png").is_file()
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Earlier version in your archive" in html and "archived version, aligned" in html
    assert json.loads(out.read_text())["evidence"][0]["data"]["matches"][0]["verified"]
    # without an archive the detector does not apply
    rep2 = analyze(p, ["archive_match"])
    assert not rep2.get("archive_match").applicable


def test_cli_index_and_match(tmp_path, photos):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in NAMES[:4]:
        Image.fromarray(photos[n]).save(folder / f"{n}.png")
    arc = tmp_path / "arc"
    r = CliRunner().invoke(cli, ["index", str(folder), "--archive", str(arc), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["added"] == 4
    q = tmp_path / "q.jpg"
    Image.fromarray(_resize(photos["rocket"], 0.5)).save(q, quality=80)
    r = CliRunner().invoke(cli, ["match", str(q), "--archive", str(arc), "--format", "json",
                                 "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res[0]["verified"] and res[0]["item"]["path"].endswith("rocket.png")
    assert (tmp_path / "m" / "diff_1.png").is_file()
    r = CliRunner().invoke(cli, ["match", str(q), "--archive", str(tmp_path / "none")])
    assert r.exit_code == 2 and "not a veriscope archive" in r.output
    r = CliRunner().invoke(cli, ["index", str(tmp_path / "missing"), "--archive", str(arc)])
    assert r.exit_code == 2 and "no such file" in r.output
    r = CliRunner().invoke(cli, ["index", str(folder), "--archive", str(arc), "--date", "yesterday"])
    assert r.exit_code == 2


def test_workers_and_dask_build_the_same_archive(tmp_path, photos):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in NAMES[:5]:
        Image.fromarray(photos[n]).save(folder / f"{n}.png")
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    rows = {}
    for name, extra in [("one", []), ("two", ["--workers", "2"]),
                        ("dask", ["--engine", "dask", "--scheduler", "local", "--workers", "1"])]:
        if name == "dask":
            pytest.importorskip("distributed")
        arc = tmp_path / name
        r = CliRunner().invoke(cli, ["index", str(folder), "--archive", str(arc), "--json", *extra])
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["added"] == 5 and len(out["skipped"]) == 1
        with Archive(arc).connect() as c:
            rows[name] = [tuple(r) for r in c.execute(
                "SELECT sha256, phash, dhash, whash, phash_mirror, features FROM items ORDER BY sha256")]
    assert rows["one"] == rows["two"] == rows["dask"]


def test_python_api(tmp_path, photos):
    import veriscope

    p = tmp_path / "a.png"
    Image.fromarray(photos["coffee"]).save(p)
    out = veriscope.index(p, tmp_path / "arc", source="desk")
    assert out["added"] == 1
    q = tmp_path / "q.jpg"
    Image.fromarray(_resize(photos["coffee"], 0.5)).save(q, quality=85)
    res = veriscope.find_original(q, tmp_path / "arc")
    assert res[0]["verified"] and res[0]["item"]["source"] == "desk"
    assert res[0]["earlier"] == "archived"
    json.dumps(res)  # JSON-ready
    with pytest.raises(FileNotFoundError):
        veriscope.find_original(q, tmp_path / "nope")


def test_the_search_index_grows_with_the_archive(tmp_path, photos):
    import faiss

    folder = tmp_path / "in"
    folder.mkdir()
    for n in NAMES[:3]:
        Image.fromarray(photos[n]).save(folder / f"{n}.png")
    arc = Archive(tmp_path / "arc", create=True)
    index_paths(arc, [folder])
    idx, own = arc.ann()
    n0 = idx.ntotal
    Image.fromarray(photos["moon"]).save(folder / "moon.png")
    index_paths(arc, [folder])
    ms = match(arc, Query.from_rgb(_resize(photos["moon"], 0.5)), top=3)
    assert ms[0].verified and ms[0].item["path"].endswith("moon.png")
    idx, own = arc.ann()
    assert idx.ntotal > n0 and idx.ntotal == len(own)
    # on disk too: a fresh process loads it without a rebuild
    assert faiss.read_index_binary(str(arc.root / "features.faiss")).ntotal == idx.ntotal
    assert len(np.load(arc.root / "features.ids.npy")) == idx.ntotal


def test_same_layout_different_detail_is_not_the_same_shot():
    """Two pictures that share their layout (large shapes at the same places) but not their
    detail, like aligned faces: points may line up, the high-band agreement refuses."""
    yy, xx = np.mgrid[0:480, 0:640]
    base = np.stack([xx / 640 * 200, yy / 480 * 200, np.full_like(xx, 90.0)], -1)
    for (x, y, r) in [(160, 120, 60), (480, 120, 60), (320, 330, 90)]:
        base[(xx - x) ** 2 + (yy - y) ** 2 < r * r] = (240, 230, 40)
    def detailed(seed):
        t = np.random.default_rng(seed).normal(0, 35, (480, 640, 1))
        import cv2
        t = cv2.GaussianBlur(t, (0, 0), 1.2)[..., None]
        return np.clip(base + t, 0, 255).astype(np.uint8)
    a, b = detailed(2), detailed(3)
    fa, fb = (F.local_features(F.working_copy(x)) for x in (a, b))
    v = F.confirm(fb, fa, F.verify(fb, fa))
    assert not v.verified
    same = F.local_features(F.working_copy(_jpeg(_resize(a, 0.6), 80)))
    v2 = F.confirm(same, fa, F.verify(same, fa))
    assert v2.verified and v2.agreement >= F.AGREE_HIGH


def test_a_picture_inside_a_page_is_found_through_its_own_region(archive, photos):
    """A picture set small on a flat page with a text bar: the embedded region is looked up on
    its own and the match is expressed in the page's coordinates (the edit box too)."""
    arc, _ = archive
    edited, _ = _edit(photos["astronaut"], box=(200, 150, 300, 240))
    small = _resize(edited, 0.5)  # 256 x 256
    page = np.full((520, 700, 3), 242, np.uint8)
    page[:40] = (40, 44, 52)
    im = Image.fromarray(page)
    ImageDraw.Draw(im).text((10, 12), "Shared album  IMG_0042.JPG  12,403 views", fill=(230, 230, 230))
    page = np.asarray(im).copy()
    page[120:376, 300:556] = small
    q = Query.from_rgb(page)
    x0, y0, x1, y1 = q.inner_box
    assert abs(x0 - 300) < 16 and abs(y0 - 120) < 16 and abs(x1 - 556) < 16 and abs(y1 - 376) < 16
    m = match(arc, q, top=3)[0]
    assert m.verified and m.item["path"].endswith("astronaut.png")
    r = m.regions[0]  # the edit, at (300 + 100, 120 + 75) in the page
    assert abs(r["x"] - 400) < 12 and abs(r["y"] - 195) < 12


def test_of_several_versions_of_one_picture_the_query_s_own_comes_first(tmp_path, photos):
    """Versions of one picture verify with about as many points each; the order among them
    is by appearance, so the query's own version is the first result, even from a small copy
    (with the most points first, 2 of these 12 queries got another version first)."""
    a = photos["astronaut"]
    h, w = a.shape[:2]
    folder = tmp_path / "versions"
    folder.mkdir()
    boxes = [(x, y, x + w // 4, y + h // 4) for x, y in
             ((10, 10), (w // 2, 20), (30, h // 2), (w // 2 + 20, h // 2 + 10), (w // 3, h // 3))]

    def brighten(box):  # a local change of brightness: an edit that keeps most keypoints
        out = a.astype(np.int16)
        x0, y0, x1, y1 = box
        out[y0:y1, x0:x1] += 70
        return np.clip(out, 0, 255).astype(np.uint8)

    versions = [a] + [brighten(box) for box in boxes]
    for k, v in enumerate(versions):
        Image.fromarray(v).save(folder / f"v{k}.png")
    arc = Archive(tmp_path / "arc", create=True)
    index_paths(arc, [folder])
    for s in (0.3, 0.25):
        for k, v in enumerate(versions):
            ms = match(arc, Query.from_rgb(_jpeg(_resize(v, s), 80)), diff_top=0)
            assert sum(m.verified for m in ms) >= 2  # the versions look alike
            assert ms[0].item["path"].endswith(f"v{k}.png"), (s, k)


def test_a_large_archived_jpeg_is_read_at_the_map_s_scale(tmp_path, photos, monkeypatch):
    """The difference map needs the archived picture only at the query's scale: a large
    archived JPEG is decoded at a reduced size (fewer pixels to decode), and the map, the
    regions and the pixel count behind "which is earlier" are those of the file itself."""
    from veriscope.core.media import Media

    big = _resize(photos["chelsea"], 5)  # 2255 x 1500
    folder = tmp_path / "big"
    folder.mkdir()
    Image.fromarray(big).save(folder / "big.jpg", quality=95)
    arc = Archive(tmp_path / "arc", create=True)
    index_paths(arc, [folder])
    shapes = []
    orig = Media.rgb_at_least

    def spy(self, long_side):
        out = orig(self, long_side)
        shapes.append(out.shape[:2])
        return out

    monkeypatch.setattr(Media, "rgb_at_least", spy)
    edited, mask = _edit(big, box=(600, 500, 1050, 850))
    q = _jpeg(_resize(edited, 0.3), 85)  # 676 x 450
    m = match(arc, Query.from_rgb(q), top=3)[0]
    assert m.verified and shapes == [(750, 1128)]  # decoded at 1/2, still over the map's 676
    small_mask = np.asarray(Image.fromarray(mask).resize((q.shape[1], q.shape[0]))) > 0
    found = m.diff >= 0.5
    assert (found & small_mask).sum() / small_mask.sum() > 0.7 and m.regions
    assert m.earlier == "archived"
    assert abs(m.coverage["common_pixels_archived"] / (2255 * 1500) - 1) < 0.1
