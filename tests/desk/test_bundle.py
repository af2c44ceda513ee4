"""Case bundles: a desk case exported as a signed BagIt bag (folder or zip), and the check
that finds one changed byte anywhere in it."""

import hashlib
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from helpers import save, smooth_image

from veriscope.cli import cli
from veriscope.desk import bundle
from veriscope.desk.store import Store
from veriscope.desk.worker import Worker

pytest.importorskip("bagit")


def _add(store: Store, case_id: int, seed: int, name: str, actor: str = "key:alice", **kw):
    tmp = store.new_tmp(".png")
    save(smooth_image(seed=seed), tmp)
    data = tmp.read_bytes()
    return store.add_item(case_id, tmp, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                          name=name, actor=actor, **kw)


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A desk with case A (two analysed pictures, one still queued) and case B (one analysed
    picture that must not show in A's bundle), and A exported as a folder and as a zip."""
    root = tmp_path_factory.mktemp("bundle")
    store = Store(root / "desk")
    a = store.create_case("Harbour fire", "key:alice")
    b = store.create_case("Unrelated matter", "key:bob")
    one = _add(store, a, 1, "wire photo.png")
    two = _add(store, a, 2, "../second.png", expected_sha256="0" * 64)
    secret = _add(store, b, 3, "secret-source.png", actor="key:bob")
    w = Worker(store, "w", detectors="metadata")
    while w.run_one():
        pass
    store.annotate(one["id"], "key:alice", note="checked with the agency", tags=["wire"],
                   review="ok")
    queued = _add(store, a, 4, "late.png")
    folder = bundle.export_case(store, a, root / "out" / "case-a", "key:alice")
    zpath = bundle.export_case(store, a, root / "out" / "case-a.zip", "key:alice")
    return {"store": store, "root": root, "a": a, "b": b, "items": [one, two, queued],
            "secret": secret, "folder": folder, "zip": zpath}


def _copy(desk, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(desk["folder"], dst)
    return dst


# ------------------------------------------------------------------ export
def test_export_layout_and_verify(desk):
    store, folder = desk["store"], desk["folder"]
    for p in (folder, desk["zip"]):
        res = bundle.verify_bundle(p)
        assert res.ok, res.problems
        assert res.fingerprint == bundle.fingerprint(bundle.installation_key(store))
        assert res.counts["items"] == 3 and res.counts["originals"] == 3
        assert res.counts["reports"] == 2 and res.counts["audit_redacted"] >= 4
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
         "signature.ed25519", "signer.pub", "data"])
    data = folder / "data"
    items = json.loads((data / "items.json").read_text(encoding="utf-8"))
    assert [i["id"] for i in items] == [it["id"] for it in desk["items"]]
    for it, src in zip(items, desk["items"], strict=True):
        assert (data / it["original"]).read_bytes() == store.blob_path(src["sha256"]).read_bytes()
        assert it["original"] == f"originals/{src['sha256']}/{src['name']}"
    one, two, queued = items
    assert one["state"] == "done" and one["verdict"] and one["note"] == "checked with the agency"
    assert one["tags"] == ["wire"] and one["review"] == "ok"
    assert two["name"] == "second.png" and two["hash_ok"] is False
    assert two["expected_sha256"] == "0" * 64
    assert (data / one["report"] / "report.json").is_file()
    assert (data / one["report"] / "report.html").is_file()
    assert queued["state"] == "queued" and queued["report"] is None
    assert not (data / "reports" / str(queued["id"])).exists()
    # tag files: the signature and the key are outside the tag manifest
    tm = (folder / "tagmanifest-sha256.txt").read_text()
    assert "signature.ed25519" not in tm and "signer.pub" not in tm
    info = (folder / "bag-info.txt").read_text(encoding="utf-8")
    for field in ("Source-Organization: veriscope desk", "External-Identifier: case ",
                  "Bagging-Date: ", "Veriscope-Version: ", "Signing-Key-Fingerprint: "):
        assert field in info
    assert "sha256" in (folder / "manifest-sha256.txt").name
    assert not list(folder.glob("manifest-md5.txt"))
    # the zip holds the same bag in one top folder
    with zipfile.ZipFile(desk["zip"]) as zf:
        assert {n.split("/")[0] for n in zf.namelist()} == {"case-a"}
    # key files
    keys = store.root / "keys"
    assert stat.S_IMODE((keys / "ed25519.pem").stat().st_mode) == 0o600
    assert (keys / "ed25519.pub").read_bytes() == (folder / "signer.pub").read_bytes()


def test_audit_rows_of_other_cases_are_redacted(desk):
    store, folder = desk["store"], desk["folder"]
    rows = [json.loads(x) for x in (folder / "data" / "audit.jsonl").read_text().splitlines()]
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    full = [r for r in rows if not r.get("redacted")]
    red = [r for r in rows if r.get("redacted")]
    assert all(set(r) == {"seq", "prev", "hash", "redacted"} for r in red)
    targets = {r["target"] for r in full}
    assert f"case:{desk['a']}" in targets and f"case:{desk['b']}" not in targets
    assert f"item:{desk['secret']['id']}" not in targets
    assert {f"item:{i['id']}" for i in desk["items"]} <= targets
    assert any(r["action"] == "job.done" for r in full)  # jobs of the case's items, in full
    # nothing of case B anywhere in the bundle
    for p in folder.rglob("*"):
        if p.is_file():
            blob = p.read_bytes()
            assert b"secret-source" not in blob and b"Unrelated matter" not in blob, p
            assert desk["secret"]["sha256"].encode() not in blob, p
    # the rows kept are the desk's rows, byte for byte in their fields
    by_seq = {r["seq"]: r for r in store.audit_rows()}
    for r in full:
        assert r == by_seq[r["seq"]]
    # the export itself is in the desk's chain, naming the bundle's tag manifest
    exports = [r for r in store.audit_rows() if r["action"] == "case.export"]
    tm = hashlib.sha256((folder / "tagmanifest-sha256.txt").read_bytes()).hexdigest()
    detail = json.loads(exports[0]["detail"])
    assert exports[0]["target"] == f"case:{desk['a']}" and detail["tagmanifest_sha256"] == tm
    assert detail["fingerprint"] == bundle.verify_bundle(folder).fingerprint
    assert store.verify_audit().ok


def test_case_jsonld_parses_and_names_the_hashes(desk):
    rdflib = pytest.importorskip("rdflib")
    path = desk["folder"] / "data" / "case.jsonld"
    g = rdflib.Graph()
    g.parse(path, format="json-ld")
    types = {str(o) for o in g.objects(None, rdflib.RDF.type)}
    for t in ("https://ontology.caseontology.org/case/investigation/Investigation",
              "https://ontology.caseontology.org/case/investigation/InvestigativeAction",
              "https://ontology.unifiedcyberontology.org/uco/core/Bundle",
              "https://ontology.unifiedcyberontology.org/uco/observable/File",
              "https://ontology.unifiedcyberontology.org/uco/tool/AnalyticTool",
              "https://ontology.unifiedcyberontology.org/uco/identity/Identity"):
        assert t in types, t
    hv = rdflib.URIRef("https://ontology.unifiedcyberontology.org/uco/types/hashValue")
    values = {str(o).lower() for o in g.objects(None, hv)}
    for it in desk["items"]:
        assert it["sha256"] in values
    names = {str(o) for o in g.objects(
        None, rdflib.URIRef("https://ontology.unifiedcyberontology.org/uco/core/name"))}
    assert "key:alice" in names and "Harbour fire" in names
    cv = pytest.importorskip("case_utils.case_validate")
    result = cv.validate(str(path))  # the CASE ontology ships with case_utils: offline
    assert result.conforms, result.text


def _nodes(doc: dict, kind: str) -> list[dict]:
    return [n for n in doc["@graph"] if n["@type"] == kind]


def test_case_jsonld_has_no_post_node_without_caption(desk):
    doc = json.loads((desk["folder"] / "data" / "case.jsonld").read_text(encoding="utf-8"))
    text = json.dumps(doc)
    for word in ("Message", "Relationship", "messageText", "Attachment_Of"):
        assert word not in text, word
    ingests = [n for n in _nodes(doc, "case-investigation:InvestigativeAction")
               if n["uco-core:name"] == "ingest"]
    assert len(ingests) == 3 and all(len(n["uco-action:result"]) == 1 for n in ingests)


def test_case_jsonld_carries_the_post_of_a_posted_item(tmp_path):
    """A posted item's caption and claimed fields are in case.jsonld: a Message (its
    MessageFacet's messageText is the caption) received by the item's ingest action, and an
    ObservableRelationship from the item's File to it; the plain item has none."""
    store = Store(tmp_path / "desk")
    cid = store.create_case("Posts", "key:alice")
    caption = 'Floods in "Paris", 3 June 2024 — Île de la Cité'
    posted = _add(store, cid, 5, "posted.png", post={
        "caption": caption, "date": "2024-06-03", "place": "Paris", "source": "AFP"})
    plain = _add(store, cid, 6, "plain.png")
    folder = bundle.export_case(store, cid, tmp_path / "case", "key:alice")
    res = bundle.verify_bundle(folder)
    assert res.ok, res.problems
    path = folder / "data" / "case.jsonld"
    doc = json.loads(path.read_text(encoding="utf-8"))
    by_id = {n["@id"]: n for n in doc["@graph"]}

    def file_of(sha: str) -> str:
        for n in _nodes(doc, "uco-observable:File"):
            facet = n["uco-core:hasFacet"][1]
            if facet["uco-observable:hash"][0]["uco-types:hashValue"]["@value"] == sha.upper():
                return n["@id"]
        raise AssertionError(sha)

    (msg,) = _nodes(doc, "uco-observable:Message")
    (facet,) = msg["uco-core:hasFacet"]
    assert facet["@type"] == "uco-observable:MessageFacet"
    assert facet["uco-observable:messageText"] == caption
    for claim in ("claimed date: 2024-06-03", "claimed place: Paris", "source: AFP"):
        assert claim in msg["uco-core:description"], claim
    (rel,) = _nodes(doc, "uco-observable:ObservableRelationship")
    assert rel["uco-core:source"] == [{"@id": file_of(posted["sha256"])}]
    assert rel["uco-core:target"] == {"@id": msg["@id"]}
    assert rel["uco-core:kindOfRelationship"] == "Attachment_Of"
    assert rel["uco-core:isDirectional"] is True
    ingest = {n["uco-core:description"].split(":")[0]: n
              for n in _nodes(doc, "case-investigation:InvestigativeAction")}
    assert ingest[f"item {posted['id']} received"]["uco-action:result"] == [
        {"@id": file_of(posted["sha256"])}, {"@id": msg["@id"]}]
    assert ingest[f"item {plain['id']} received"]["uco-action:result"] == [
        {"@id": file_of(plain["sha256"])}]
    # every new node is in the investigation and in the bundle
    inv = _nodes(doc, "case-investigation:Investigation")[0]
    bundle_node = _nodes(doc, "uco-core:Bundle")[0]
    for nid in (msg["@id"], rel["@id"]):
        assert {"@id": nid} in inv["uco-core:object"]
        assert {"@id": nid} in bundle_node["uco-core:object"]
        assert nid in by_id
    rdflib = pytest.importorskip("rdflib")
    g = rdflib.Graph()
    g.parse(path, format="json-ld")
    text = rdflib.URIRef("https://ontology.unifiedcyberontology.org/uco/observable/messageText")
    assert [str(o) for o in g.objects(None, text)] == [caption]
    cv = pytest.importorskip("case_utils.case_validate")
    result = cv.validate(str(path))
    assert result.conforms, result.text


# ------------------------------------------------------------------ one changed byte
TAMPER = ["original", "report.json", "data/audit.jsonl", "data/items.json",
          "manifest-sha256.txt", "bag-info.txt", "tagmanifest-sha256.txt", "signature.ed25519",
          "signer.pub"]


@pytest.mark.parametrize("target", TAMPER)
def test_one_changed_byte_is_found(desk, tmp_path, target):
    items = json.loads((desk["folder"] / "data" / "items.json").read_text(encoding="utf-8"))
    rel = {"original": f"data/{items[0]['original']}",
           "report.json": f"data/{items[0]['report']}/report.json"}.get(target, target)
    size = (desk["folder"] / rel).stat().st_size
    for pos in sorted({0, size // 2, size - 1}):
        for bit in (0x01, 0x20):
            shutil.rmtree(tmp_path / "copy", ignore_errors=True)
            bag = _copy(desk, tmp_path)
            p = bag / rel
            b = bytearray(p.read_bytes())
            b[pos] ^= bit
            p.write_bytes(bytes(b))
            res = bundle.verify_bundle(bag)
            assert not res.ok, (rel, pos, bit)
            assert any(Path(rel).name in m for m in res.problems), (rel, pos, bit, res.problems)
    # one byte more (Payload-Oxum then differs too; the problems still name the file)
    shutil.rmtree(tmp_path / "copy", ignore_errors=True)
    bag = _copy(desk, tmp_path)
    with open(bag / rel, "ab") as fh:
        fh.write(b"x")
    res = bundle.verify_bundle(bag)
    assert not res.ok and any(Path(rel).name in m for m in res.problems), res.problems


def test_a_changed_zip_fails(desk, tmp_path):
    data = bytearray(desk["zip"].read_bytes())
    data[len(data) // 3] ^= 0x01
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    res = bundle.verify_bundle(bad)
    assert not res.ok and res.problems


def test_resigned_bundle_passes_only_without_a_trusted_key(desk, tmp_path, resign):
    """Whoever holds a key can re-sign a changed bundle (the signature says who vouches for
    it); a removed audit row still breaks the chain, and --key refuses the other signer."""
    bag = _copy(desk, tmp_path)
    audit = bag / "data" / "audit.jsonl"
    lines = audit.read_text().splitlines(keepends=True)
    red = next(i for i, x in enumerate(lines) if '"redacted":true' in x)
    audit.write_text("".join(lines[:red] + lines[red + 1:]))
    resign(bag)
    res = bundle.verify_bundle(bag)
    assert not res.ok
    assert any("audit.jsonl" in p and "removed" in p for p in res.problems), res.problems
    assert any("Signing-Key-Fingerprint" in p for p in res.problems)


def test_trusted_key(desk, tmp_path):
    store = desk["store"]
    pub = (store.root / "keys" / "ed25519.pub").read_bytes()
    raw = bundle.raw_public(bundle.installation_key(store))
    for key in (pub, raw, raw.hex().encode()):
        res = bundle.verify_bundle(desk["zip"], key)
        assert res.ok and res.trusted, res.problems
    foreign = bundle.public_pem(Ed25519PrivateKey.generate().public_key())
    res = bundle.verify_bundle(desk["folder"], foreign)
    assert not res.ok and res.trusted is False
    assert any("not by the trusted key" in p for p in res.problems)


# ------------------------------------------------------------------ hostile zips
def _zip_with(desk, tmp_path, name: str, data: bytes = b"x", mode: int | None = None) -> Path:
    out = tmp_path / "hostile.zip"
    with zipfile.ZipFile(desk["zip"]) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        zi = zipfile.ZipInfo(name)
        if mode is not None:
            zi.external_attr = mode << 16
        dst.writestr(zi, data)
    return out


@pytest.mark.parametrize("name,mode,why", [
    ("../evil", None, "unsafe path"),
    ("case-a/../../evil", None, "unsafe path"),
    ("/tmp/evil", None, "unsafe path"),
    ("case-a/link", stat.S_IFLNK | 0o777, "symbolic link"),
])
def test_hostile_zip_members_are_refused(desk, tmp_path, name, mode, why):
    z = _zip_with(desk, tmp_path, name, b"/etc/passwd" if mode else b"pwned", mode)
    before = set(os.listdir(tmp_path))
    res = bundle.verify_bundle(z)
    assert not res.ok and any(why in p for p in res.problems), res.problems
    assert set(os.listdir(tmp_path)) == before and not Path("/tmp/evil").exists()


def test_zip_size_cap(desk):
    res = bundle.verify_bundle(desk["zip"], max_bytes=1000)
    assert not res.ok and "more than 1000 bytes" in res.problems[0]


# ------------------------------------------------------------------ command line
def test_cli_export_and_verify(desk, tmp_path):
    store = desk["store"]
    run = CliRunner().invoke
    data = ["--data", str(store.root)]
    r = run(cli, ["desk", "export", str(desk["a"]), *data, "--out", str(tmp_path / "c.zip")])
    assert r.exit_code == 0, r.output
    assert bundle.verify_bundle(tmp_path / "c.zip").ok
    r = run(cli, ["desk", "export", str(desk["a"]), *data, "--out", str(tmp_path / "c.zip")])
    assert r.exit_code == 2 and "already exists" in r.output
    r = run(cli, ["desk", "export", "999", *data, "--out", str(tmp_path / "d")])
    assert r.exit_code == 2 and "no case 999" in r.output
    r = run(cli, ["desk", "export", str(desk["a"]), "--data", str(tmp_path / "nodesk"),
                  "--out", str(tmp_path / "e")])
    assert r.exit_code == 2 and "Traceback" not in r.output

    r = run(cli, ["verify-bundle", str(tmp_path / "c.zip")])
    assert r.exit_code == 0 and "bundle intact" in r.output, r.output
    r = run(cli, ["verify-bundle", str(desk["folder"]), "--key",
                  str(store.root / "keys" / "ed25519.pub"), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["ok"] and out["trusted"] and out["problems"] == []
    foreign = tmp_path / "foreign.pub"
    foreign.write_bytes(bundle.public_pem(Ed25519PrivateKey.generate().public_key()))
    r = run(cli, ["verify-bundle", str(desk["folder"]), "--key", str(foreign)])
    assert r.exit_code == 1 and "BROKEN" in r.output
    bag = _copy(desk, tmp_path)
    (bag / "data" / "items.json").write_text("[]")
    r = run(cli, ["verify-bundle", str(bag)])
    assert r.exit_code == 1 and "items.json" in r.output and "Traceback" not in r.output
    r = run(cli, ["verify-bundle", str(tmp_path / "missing.zip")])
    assert r.exit_code == 2
    notkey = tmp_path / "notkey.pub"
    notkey.write_text("hello")
    r = run(cli, ["verify-bundle", str(desk["folder"]), "--key", str(notkey)])
    assert r.exit_code == 2 and "Traceback" not in r.output


# ------------------------------------------------------------------ API and page
def test_api_bundle_route(desk, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from veriscope.desk.app import create_app

    store = desk["store"]
    app = create_app(store.root)
    key = store.add_key("t")
    with TestClient(app) as c:
        assert c.get(f"/api/v1/cases/{desk['a']}/bundle").status_code == 401
        r = c.get(f"/api/v1/cases/{desk['a']}/bundle", headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/zip"
        assert f'filename="case-{desk["a"]}.zip"' in r.headers["content-disposition"]
        z = tmp_path / "api.zip"
        z.write_bytes(r.content)
        res = bundle.verify_bundle(z, (store.root / "keys" / "ed25519.pub").read_bytes())
        assert res.ok, res.problems
        assert not any(p.name.endswith("-export") for p in (store.root / "tmp").iterdir())
        assert c.get("/api/v1/cases/999/bundle", headers={"X-API-Key": key}).status_code == 404
        last = store.audit_rows()[-1]
        assert last["action"] == "case.export" and last["actor"] == "key:t"
        # the case page links to it
        c.post("/login", data={"key": key})
        page = c.get(f"/cases/{desk['a']}").text
        assert 'id="export"' in page and f"/api/v1/cases/{desk['a']}/bundle" in page
        assert "Export bundle (signed)" in page


def test_a_damaged_stored_file_is_not_exported(tmp_path):
    """The desk's copy no longer matches its SHA-256: the export refuses and says why (the
    API answers 409), rather than sign a bundle that cannot verify."""
    store = Store(tmp_path / "desk")
    cid = store.create_case("c", "key:alice")
    it = _add(store, cid, 5, "p.png")
    blob = store.blob_path(it["sha256"])
    os.chmod(blob, 0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    with pytest.raises(bundle.BundleError, match="no longer matches its SHA-256"):
        bundle.export_case(store, cid, tmp_path / "out", "key:alice")
    assert not (tmp_path / "out").exists()
    assert not [r for r in store.audit_rows() if r["action"] == "case.export"]
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from veriscope.desk.app import create_app

    key = store.add_key("t")
    with TestClient(create_app(store.root)) as c:
        r = c.get(f"/api/v1/cases/{cid}/bundle", headers={"X-API-Key": key})
        assert r.status_code == 409 and "SHA-256" in r.json()["detail"]
    assert not list((store.root / "tmp").iterdir())
