"""A desk case exported as a signed evidence bundle (BagIt), and the check of such a bundle.

Layout of a bundle (a folder, or a zip holding that folder)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
    signature.ed25519   Ed25519 signature of the bytes of tagmanifest-sha256.txt (base64)
    signer.pub          the public key that made it (PEM, SubjectPublicKeyInfo)
    data/
      originals/<sha256>/<file name>   each file as received, byte for byte
      reports/<item id>/               the item's report folder (report.json, report.html, maps/...)
      items.json                       every item of the case (state, verdict, notes, hashes,
                                       the caption it was posted with...)
      audit.jsonl                      the desk's whole audit chain; rows about other cases
                                       reduced to {seq, prev, hash, redacted}
      case.jsonld                      the case in CASE/UCO JSON-LD (with each item's post:
                                       caption and claimed date, place, source)

The signature covers the tag manifest, which covers bag-info.txt and the payload manifest,
which covers every payload file: one changed byte anywhere breaks one link of that chain.
The signing key is the desk installation's own (``keys/ed25519.pem`` in the data folder,
created on first use); its fingerprint (:func:`fingerprint`) is what a recipient compares,
out of band, with the one the desk shows. A holder of the key can re-sign a changed bundle:
the signature proves which installation vouches for the bundle, not that nobody changed it
before it was signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from veriscope.core.version import __version__
from veriscope.desk import audit
from veriscope.desk.store import Store, decode_post, safe_name

KEY_FILE, PUB_FILE = "ed25519.pem", "ed25519.pub"
SIGNATURE, SIGNER = "signature.ed25519", "signer.pub"
TAGMANIFEST, MANIFEST = "tagmanifest-sha256.txt", "manifest-sha256.txt"
TAG_FILES = ("bagit.txt", "bag-info.txt", MANIFEST)  # what the tag manifest must list
ROOT_FILES = {*TAG_FILES, TAGMANIFEST, SIGNATURE, SIGNER}
SOURCE_ORGANIZATION = "veriscope desk"
DEFAULT_MAX_BYTES = 64 << 30  # the most a zip may unpack to when it is verified
MAX_MEMBERS = 200_000
_CHUNK = 1 << 20
# bagit.make_bag changes the process's working directory while it runs: one bag at a time
_BAGIT_LOCK = threading.Lock()


class BundleError(Exception):
    """The bundle cannot be made (no such case, a damaged stored file, dest taken)."""


# ------------------------------------------------------------------ the installation key
def installation_key(store: Store) -> Ed25519PrivateKey:
    """The desk's Ed25519 signing key, created on first use: ``keys/ed25519.pem`` (PKCS8 PEM,
    unencrypted, mode 0600) and ``keys/ed25519.pub`` (PEM) beside it. Two processes creating
    it at once end up with the same key (the file is linked into place only if absent)."""
    keys = store.root / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    path = keys / KEY_FILE
    if not path.exists():
        new = Ed25519PrivateKey.generate()
        pem = new.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = keys / f".{KEY_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # fails if another process made one meanwhile
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise BundleError(f"{path}: not a readable, unencrypted PEM private key ({e})") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"{path}: not an Ed25519 private key")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, 0o600)
    pub = keys / PUB_FILE
    pem_pub = public_pem(key.public_key())
    if not pub.is_file() or pub.read_bytes() != pem_pub:
        tmp = keys / f".{PUB_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_bytes(pem_pub)
        tmp.replace(pub)
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def raw_public(key) -> bytes:
    """The 32 raw bytes of an Ed25519 public key (given the public or the private key)."""
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key) -> str:
    """First 16 hex characters of the SHA-256 of the raw public key (a key object, either
    half, or the 32 raw bytes)."""
    raw = key if isinstance(key, bytes | bytearray) else raw_public(key)
    return hashlib.sha256(bytes(raw)).hexdigest()[:16]


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM, the 32 raw bytes, or their hex (64 characters)."""
    data = bytes(data)
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    text = data.strip()
    if re.fullmatch(rb"[0-9a-fA-F]{64}", text):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.decode("ascii")))
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise ValueError("not an Ed25519 public key (PEM, 32 raw bytes or 64 hex digits)") from e
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


# ------------------------------------------------------------------ export
def export_case(store: Store, case_id: int, dest, actor: str) -> Path:
    """Write case ``case_id`` as a signed BagIt bundle to ``dest`` (a folder that must not
    exist or be empty; a path ending in ``.zip`` gets a zip of the bag). The bag is built in
    the desk's ``tmp/`` and moved into place complete. Records ``case.export`` in the audit
    log (tag manifest SHA-256, key fingerprint). Returns ``dest``."""
    dest = Path(dest).absolute()  # make_bag changes the working directory while it runs
    as_zip = dest.suffix.lower() == ".zip"
    if dest.exists() and (as_zip or not dest.is_dir() or any(dest.iterdir())):
        raise BundleError(f"{dest} already exists")
    key = installation_key(store)
    fp = fingerprint(key)
    snap = _snapshot(store, case_id)
    work = store.new_tmp("-bundle")
    bag = work / (dest.stem if as_zip else dest.name)
    try:
        bag.mkdir(parents=True)
        _write_payload(store, snap, bag, fp, actor)
        head = snap["audit"][-1] if snap["audit"] else None
        case = snap["case"]
        info = {
            "Source-Organization": SOURCE_ORGANIZATION,
            "External-Identifier": f"case {case['id']}: {case['name']}",
            "External-Description": f"veriscope desk case {case['id']} ({len(snap['items'])} "
                                    "items): originals, reports, custody log",
            "Veriscope-Version": __version__,
            "Signing-Key-Fingerprint": fp,
            "Audit-Head": f"{head['seq']} {head['hash']}" if head else f"0 {audit.GENESIS}",
            "Exported-By": actor,
        }
        import bagit

        with _BAGIT_LOCK:
            bagit.make_bag(str(bag), bag_info=info, processes=1, checksums=["sha256"])
        tm = (bag / TAGMANIFEST).read_bytes()
        (bag / SIGNATURE).write_bytes(base64.b64encode(key.sign(tm)) + b"\n")
        (bag / SIGNER).write_bytes(public_pem(key.public_key()))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if as_zip:
            part = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:12]}.partial"
            try:
                _zip_dir(bag, part, bag.name)
                os.replace(part, dest)
            finally:
                part.unlink(missing_ok=True)
        else:
            if dest.is_dir():
                dest.rmdir()  # empty (checked above)
            shutil.move(str(bag), str(dest))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with store.tx() as c:
        store.log(c, actor, "case.export", f"case:{case_id}",
                  {"bundle": dest.name, "format": "zip" if as_zip else "folder",
                   "tagmanifest_sha256": hashlib.sha256(tm).hexdigest(),
                   "fingerprint": fp, "items": len(snap["items"]),
                   "audit_head": head["seq"] if head else 0})
    return dest


def _snapshot(store: Store, case_id: int) -> dict:
    """The case, its items, their job ids and the audit rows, read in one transaction (one
    consistent state of the database)."""
    with store.read() as c:
        c.execute("BEGIN")
        try:
            case = c.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
            if case is None:
                raise BundleError(f"no case {case_id}")
            items = [dict(r) for r in c.execute(
                "SELECT * FROM items WHERE case_id = ? ORDER BY id", (case_id,)).fetchall()]
            ids = [it["id"] for it in items]
            jobs = set()
            if ids:
                marks = ",".join("?" * len(ids))
                jobs = {r[0] for r in c.execute(
                    f"SELECT id FROM jobs WHERE item_id IN ({marks})", ids).fetchall()}
            rows = audit.read_rows(c)
        finally:
            c.execute("COMMIT")
    for it in items:
        it["tags"] = [t for t in (it.get("tags") or "").split(",") if t]
        it["hash_ok"] = None if it["hash_ok"] is None else bool(it["hash_ok"])
        it["post"] = decode_post(it.get("post"))
    check = audit.verify_rows(rows)
    if not check.ok:
        raise BundleError("the desk's audit chain is broken (" + "; ".join(check.problems[:3])
                          + "); run `veriscope desk verify-audit` before exporting")
    return {"case": dict(case), "items": items, "jobs": jobs, "audit": rows}


def _concerns(row: dict, case_id: int, items: set[int], jobs: set[int]) -> bool:
    kind, _, num = row["target"].partition(":")
    if not num.isdigit():
        return False
    n = int(num)
    if kind == "case":
        return n == case_id
    if kind == "item":
        return n in items
    if kind == "job":
        if n in jobs:
            return True
        try:
            return json.loads(row["detail"]).get("item") in items
        except (ValueError, AttributeError):
            return False
    return False


def _json_line(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _fs_name(name: str) -> str:
    """safe_name, also cut to 200 bytes of UTF-8 (file systems count bytes)."""
    name = safe_name(name)
    while len(name.encode("utf-8")) > 200:
        name = name[:-1]
    return name or "unnamed"


def _copy_hashed(src: Path, dst: Path) -> str:
    h = hashlib.sha256()
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while chunk := fi.read(_CHUNK):
            h.update(chunk)
            fo.write(chunk)
    return h.hexdigest()


def _write_payload(store: Store, snap: dict, bag: Path, fp: str, actor: str) -> None:
    case, items = snap["case"], snap["items"]
    item_ids = {it["id"] for it in items}
    originals, reports = bag / "originals", bag / "reports"
    originals.mkdir()
    reports.mkdir()
    out_items, report_files = [], {}
    for it in items:
        sha = it["sha256"]
        rel = f"originals/{sha}/{_fs_name(it['name'])}"
        target = bag / rel
        if not target.exists():
            src = store.blob_path(sha)
            if not src.is_file():
                raise BundleError(f"item {it['id']}: its stored file {src} is missing")
            target.parent.mkdir(exist_ok=True)
            got = _copy_hashed(src, target)
            if got != sha:
                raise BundleError(f"item {it['id']}: its stored file {src} no longer matches its "
                                  f"SHA-256 (it hashes to {got}); the desk's copy is damaged")
        rep = None
        src_dir = store.report_path(it)
        if src_dir is not None:
            if not src_dir.is_dir():
                raise BundleError(f"item {it['id']}: its report folder {src_dir} is missing")
            rep = f"reports/{it['id']}"
            _copy_regular_tree(src_dir, bag / rep)
            rj = bag / rep / "report.json"
            if rj.is_file():
                report_files[it["id"]] = (f"{rep}/report.json", rj.stat().st_size,
                                          hashlib.sha256(rj.read_bytes()).hexdigest())
        out_items.append({**it, "original": rel, "report": rep})
    (bag / "items.json").write_text(json.dumps(out_items, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    lines = []
    for row in snap["audit"]:
        if _concerns(row, case["id"], item_ids, snap["jobs"]):
            lines.append(_json_line(row))
        else:
            lines.append(_json_line({"seq": row["seq"], "prev": row["prev"],
                                     "hash": row["hash"], "redacted": True}))
    (bag / "audit.jsonl").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    doc = case_jsonld(case, out_items, snap["audit"], report_files, fp, actor)
    (bag / "case.jsonld").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")


def _copy_regular_tree(src: Path, dst: Path) -> None:
    """Copy the regular files of ``src`` (links and special files are left out)."""
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel = Path(dirpath).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            if p.is_file() and not p.is_symlink():
                shutil.copyfile(p, dst / rel / fn)


def _zip_dir(folder: Path, zpath: Path, top: str) -> None:
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for fn in sorted(filenames):
                p = Path(dirpath) / fn
                zf.write(p, f"{top}/{p.relative_to(folder).as_posix()}")


# ------------------------------------------------------------------ CASE / UCO
CASE_CONTEXT = {
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def _dt(ts: str) -> dict:
    return {"@type": "xsd:dateTime", "@value": ts}


def _hash_node(kb, sha: str) -> dict:
    return {"@id": kb("Hash", sha), "@type": "uco-types:Hash",
            "uco-types:hashMethod": "SHA256",
            "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": sha.upper()}}


def _file_node(kb, key: str, name: str, size: int, sha: str) -> dict:
    return {"@id": kb("File", key), "@type": "uco-observable:File",
            "uco-core:hasFacet": [
                {"@id": kb("FileFacet", key), "@type": "uco-observable:FileFacet",
                 "uco-observable:fileName": name,
                 "uco-observable:sizeInBytes": {"@type": "xsd:integer", "@value": str(size)}},
                {"@id": kb("ContentDataFacet", key), "@type": "uco-observable:ContentDataFacet",
                 "uco-observable:sizeInBytes": {"@type": "xsd:integer", "@value": str(size)},
                 "uco-observable:hash": [_hash_node(kb, sha)]}]}


POST_CLAIMS = (("date", "claimed date"), ("place", "claimed place"), ("source", "source"))


def _post_nodes(kb, it: dict, fid: str) -> list[dict]:
    """The post an item came with, in CASE/UCO: [the Message (its MessageFacet's messageText is
    the caption; its description names the claimed date, place and source), the relationship
    "the file is an Attachment_Of the message"], or [] for an item without caption."""
    post = it.get("post")
    if not isinstance(post, dict) or not isinstance(post.get("caption"), str):
        return []
    key = f"post/{it['id']}"
    claims = "; ".join(f"{label}: {post[k]}" for k, label in POST_CLAIMS
                       if isinstance(post.get(k), str))
    msg = {"@id": kb("Message", key), "@type": "uco-observable:Message",
           "uco-core:name": f"post of item {it['id']}",
           "uco-core:description": f"the post item {it['id']} was received with, as the sender "
                                   "gave it" + (f"; {claims}" if claims else ""),
           "uco-core:hasFacet": [
               {"@id": kb("MessageFacet", key), "@type": "uco-observable:MessageFacet",
                "uco-observable:messageText": post["caption"]}]}
    rel = {"@id": kb("ObservableRelationship", key),
           "@type": "uco-observable:ObservableRelationship",
           "uco-core:source": [{"@id": fid}], "uco-core:target": {"@id": msg["@id"]},
           "uco-core:kindOfRelationship": "Attachment_Of", "uco-core:isDirectional": True}
    return [msg, rel]


def case_jsonld(case: dict, items: list[dict], rows: list[dict], report_files: dict,
                fp: str, actor: str) -> dict:
    """A small CASE/UCO description of the case: the investigation, each original and report
    file with its SHA-256, the ingest and analysis actions (tool: veriscope with its version)
    and who ingested each file (an identity per API key). An item posted with a caption also
    has the post (:func:`_post_nodes`): a ``uco-observable:Message`` that its ingest action
    received too, and an ``uco-observable:ObservableRelationship`` saying the file is an
    attachment of that message; an item without caption adds nothing."""
    base = f"urn:veriscope:{fp}:case-{case['id']}:"

    def kb(kind: str, key) -> str:
        return f"kb:{kind}-{uuid.uuid5(uuid.NAMESPACE_URL, f'{base}{kind}/{key}')}"

    by_item: dict[int, dict] = {}
    for r in rows:  # first ingest and last completed analysis per item
        kind, _, num = r["target"].partition(":")
        if r["action"] == "item.ingest" and kind == "item" and num.isdigit():
            by_item.setdefault(int(num), {})["ingest"] = r
        elif r["action"] == "job.done":
            try:
                iid = json.loads(r["detail"]).get("item")
            except ValueError:
                continue
            by_item.setdefault(iid, {})["done"] = r
    tool = {"@id": kb("Tool", __version__), "@type": "uco-tool:AnalyticTool",
            "uco-core:name": "veriscope", "uco-tool:version": __version__,
            "uco-tool:toolType": "media forensics"}
    graph: list[dict] = [tool]
    identities: dict[str, str] = {}

    def identity(name: str) -> dict:
        if name not in identities:
            identities[name] = kb("Identity", name)
            graph.append({"@id": identities[name], "@type": "uco-identity:Identity",
                          "uco-core:name": name})
        return {"@id": identities[name]}

    members = [{"@id": tool["@id"]}]
    done_files: set[str] = set()
    for it in items:
        fkey = f"{it['sha256']}/{it['original']}"
        fid = kb("File", fkey)
        if fid not in done_files:
            done_files.add(fid)
            graph.append(_file_node(kb, fkey, it["original"].rsplit("/", 1)[-1], it["size"],
                                    it["sha256"]))
        members.append({"@id": fid})
        ev = by_item.get(it["id"], {})
        ing = ev.get("ingest")
        act = {"@id": kb("InvestigativeAction", f"ingest/{it['id']}"),
               "@type": "case-investigation:InvestigativeAction",
               "uco-core:name": "ingest",
               "uco-core:description": f"item {it['id']} received: {it['original']}",
               "uco-action:instrument": {"@id": tool["@id"]},
               "uco-action:result": [{"@id": fid}],
               "uco-action:startTime": _dt(ing["ts"] if ing else it["created"])}
        if ing:
            act["uco-action:performer"] = identity(ing["actor"])
        post_nodes = _post_nodes(kb, it, fid)
        if post_nodes:  # the post was received with the file
            act["uco-action:result"].append({"@id": post_nodes[0]["@id"]})
        graph.append(act)
        members.append({"@id": act["@id"]})
        graph += post_nodes
        members += [{"@id": n["@id"]} for n in post_nodes]
        if it["id"] in report_files:
            rel, size, sha = report_files[it["id"]]
            rid = kb("File", f"{sha}/{rel}")
            graph.append(_file_node(kb, f"{sha}/{rel}", rel, size, sha))
            done = ev.get("done")
            ana = {"@id": kb("InvestigativeAction", f"analysis/{it['id']}"),
                   "@type": "case-investigation:InvestigativeAction",
                   "uco-core:name": "analysis",
                   "uco-core:description": f"item {it['id']}: verdict {it.get('verdict')} "
                                           f"(score {it.get('score')})",
                   "uco-action:instrument": {"@id": tool["@id"]},
                   "uco-action:object": [{"@id": fid}],
                   "uco-action:result": [{"@id": rid}]}
            if done:
                ana["uco-action:endTime"] = _dt(done["ts"])
            graph.append(ana)
            members += [{"@id": rid}, {"@id": ana["@id"]}]
    inv = {"@id": kb("Investigation", case["id"]), "@type": "case-investigation:Investigation",
           "uco-core:name": case["name"],
           "uco-core:description": f"veriscope desk case {case['id']}",
           "case-investigation:focus": "media authenticity",
           "uco-core:objectCreatedTime": _dt(case["created"]),
           "uco-core:object": members}
    exporter = identity(actor)
    bundle = {"@id": kb("Bundle", "bundle"), "@type": "uco-core:Bundle",
              "uco-core:description": f"evidence bundle of veriscope desk case {case['id']}, "
                                      f"exported by {actor}, signed by key {fp}",
              "uco-core:object": [{"@id": inv["@id"]}, exporter]
              + [{"@id": n["@id"]} for n in graph]}
    return {"@context": {"kb": base, **CASE_CONTEXT}, "@graph": [bundle, inv, *graph]}


# ------------------------------------------------------------------ verification
@dataclass
class BundleCheck:
    ok: bool
    problems: list[str] = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    fingerprint: str | None = None
    trusted: bool | None = None  # None: no trusted key was given
    path: str = ""

    def to_dict(self) -> dict:
        return {"ok": self.ok, "path": self.path, "fingerprint": self.fingerprint,
                "trusted": self.trusted, "counts": self.counts, "problems": self.problems}


def verify_bundle(path, trusted_pub: bytes | None = None, *,
                  max_bytes: int = DEFAULT_MAX_BYTES) -> BundleCheck:
    """Check a bundle (its folder or its zip): the signature over the tag manifest (by
    ``trusted_pub`` when given: PEM, raw or hex), every tag and payload hash, Payload-Oxum,
    the audit chain, the originals against their names and items.json. Never raises for a
    damaged bundle (the problems say what); FileNotFoundError when ``path`` does not exist."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    res = BundleCheck(ok=False, path=str(path))
    if path.is_dir():
        _verify_guarded(path.absolute(), trusted_pub, res)
    elif zipfile.is_zipfile(path):
        with tempfile.TemporaryDirectory(prefix="veriscope-bundle-") as td:
            root = Path(td)
            why = _safe_extract(path, root, max_bytes)
            if why:
                res.problems.append(why)
            else:
                bag = _bag_root(root)
                if bag is None:
                    res.problems.append("the zip holds no bag (no bagit.txt at its top or in "
                                        "its single top folder)")
                else:
                    _verify_guarded(bag, trusted_pub, res)
    else:
        res.problems.append(f"{path.name}: neither a bag folder nor a zip file")
    res.ok = not res.problems
    return res


def _verify_guarded(bag: Path, trusted_pub: bytes | None, res: BundleCheck) -> None:
    """_verify_bag, with anything a hostile bundle could still make it raise turned into a
    problem (a damaged bundle is a result, never a crash)."""
    try:
        _verify_bag(bag, trusted_pub, res)
    except Exception as e:  # reported as a problem: the bundle fails
        res.problems.append(f"the bundle could not be checked fully ({type(e).__name__}: {e})")


def _safe_extract(zpath: Path, root: Path, max_bytes: int) -> str | None:
    """Unpack ``zpath`` under ``root``; the reason it was refused, or None."""
    try:
        with zipfile.ZipFile(zpath) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                return f"the zip has {len(infos)} members (at most {MAX_MEMBERS} are accepted)"
            seen, total = set(), 0
            for info in infos:
                name = info.filename
                parts = name.rstrip("/").split("/")
                mode = (info.external_attr >> 16) & 0o170000
                if (name.startswith("/") or "\\" in name or "\x00" in name or not name.strip("/")
                        or any(p in ("", ".", "..") for p in parts) or ":" in parts[0]):
                    return f"refused: the zip member {name!r} is an unsafe path"
                if mode == stat.S_IFLNK:
                    return f"refused: the zip member {name!r} is a symbolic link"
                if mode not in (0, stat.S_IFREG, stat.S_IFDIR):
                    return f"refused: the zip member {name!r} is not a regular file"
                if info.flag_bits & 0x1:
                    return f"refused: the zip member {name!r} is encrypted"
                key = name.rstrip("/")
                if key in seen:
                    return f"refused: the zip holds {name!r} twice"
                seen.add(key)
                target = root.joinpath(*parts)
                if root.resolve() not in target.resolve().parents:
                    return f"refused: the zip member {name!r} is an unsafe path"
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "xb") as dst:
                    while chunk := src.read(_CHUNK):
                        total += len(chunk)
                        if total > max_bytes:
                            return (f"refused: the zip unpacks to more than {max_bytes} bytes "
                                    "(the limit)")
                        dst.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
            NotImplementedError) as e:  # zipfile raises NotImplementedError for a compression
        # method it does not support: a bundle it cannot read, reported as such
        return f"the zip is damaged or unreadable ({e})"
    return None


def _bag_root(root: Path) -> Path | None:
    if (root / "bagit.txt").is_file():
        return root
    subs = list(root.iterdir())
    if len(subs) == 1 and subs[0].is_dir() and (subs[0] / "bagit.txt").is_file():
        return subs[0]
    return None


def _read(p: Path) -> bytes | None:
    try:
        return p.read_bytes() if p.is_file() and not p.is_symlink() else None
    except OSError:
        return None


def _verify_bag(bag: Path, trusted_pub: bytes | None, res: BundleCheck) -> None:
    P = res.problems
    names = {p.name for p in bag.iterdir()}
    for extra in sorted(names - ROOT_FILES - {"data"}):
        P.append(f"{extra}: unexpected file beside the bag's payload (not covered by the "
                 "signature)")
    for missing in sorted(ROOT_FILES - names):
        P.append(f"{missing}: missing")
    if not (bag / "data").is_dir():
        P.append("data/: the payload folder is missing")
        return
    # -- the signer and the signature over the tag manifest
    pub = None
    pem = _read(bag / SIGNER)
    if pem is not None:
        try:
            pub = load_public_key(pem)
        except ValueError as e:
            P.append(f"{SIGNER}: {e}")
        if pub is not None and public_pem(pub) != pem:
            P.append(f"{SIGNER}: not in its canonical PEM form (changed)")
            pub = None
    if pub is not None:
        res.fingerprint = fingerprint(pub)
        if trusted_pub is not None:
            try:
                trusted = load_public_key(trusted_pub)
            except ValueError as e:
                P.append(f"the trusted key: {e}")
                res.trusted = False
            else:
                res.trusted = raw_public(trusted) == raw_public(pub)
                if not res.trusted:
                    P.append(f"{SIGNER}: the bundle was signed by key {res.fingerprint}, not by "
                             f"the trusted key {fingerprint(trusted)}")
    tm = _read(bag / TAGMANIFEST)
    sig_text = _read(bag / SIGNATURE)
    if sig_text is not None:
        sig = _signature(sig_text)
        if sig is None:
            P.append(f"{SIGNATURE}: not a base64 Ed25519 signature in its canonical form "
                     "(changed)")
        elif pub is not None and tm is not None:
            try:
                pub.verify(sig, tm)
            except InvalidSignature:
                P.append(f"{SIGNATURE}: the signature does not match {TAGMANIFEST} and "
                         f"{SIGNER} (the tag manifest, the signature or the key was changed)")
    # -- the tag manifest: exactly the tag files, each hash
    tag_bad: set[str] = set()
    if tm is not None:
        listed = {}
        for n, line in enumerate(tm.decode("utf-8", "replace").splitlines(), 1):
            m = re.fullmatch(r"([0-9a-f]{64}) +(\S.*)", line)
            if not m:
                P.append(f"{TAGMANIFEST}: line {n} is not '<sha256> <file>'")
                continue
            listed[m.group(2)] = m.group(1)
        if set(listed) != set(TAG_FILES):
            P.append(f"{TAGMANIFEST}: lists {sorted(listed)}, expected {sorted(TAG_FILES)}")
        for name, digest in sorted(listed.items()):
            data = _read(bag / name) if name in TAG_FILES else None
            if data is not None and hashlib.sha256(data).hexdigest() != digest:
                tag_bad.add(name)
                P.append(f"{name}: its SHA-256 differs from the one in {TAGMANIFEST} (changed)")
    # -- bagit: Payload-Oxum, completeness, every payload hash
    info = _bagit_validate(bag, tag_bad, res)
    if info is not None and pub is not None:
        got = info.get("Signing-Key-Fingerprint")
        if got != res.fingerprint:
            P.append(f"bag-info.txt: Signing-Key-Fingerprint {got!r} is not the fingerprint of "
                     f"{SIGNER} ({res.fingerprint})")
    # -- the payload's own consistency
    data = bag / "data"
    rows = _verify_audit(data / "audit.jsonl", info, res)
    _verify_items(data, rows, res)


def _signature(text: bytes) -> bytes | None:
    try:
        sig = base64.b64decode(text.rstrip(b"\n"), validate=True)
    except ValueError:
        return None
    if len(sig) != 64 or base64.b64encode(sig) + b"\n" != text:
        return None
    return sig


def _bagit_validate(bag: Path, tag_bad: set[str], res: BundleCheck) -> dict | None:
    import logging

    import bagit

    P = res.problems
    log = logging.getLogger("bagit")
    level = log.level
    log.setLevel(logging.CRITICAL)  # its warnings repeat what the problems say
    try:
        try:
            b = bagit.Bag(str(bag))
        except (bagit.BagError, UnicodeError, ValueError, OSError) as e:
            P.append(f"the bag cannot be read (payload hashes not checked): {e}")
            return None
        info = {k: (v[0] if isinstance(v, list) else v) for k, v in b.info.items()}
        if set(b.algorithms) != {"sha256"}:
            P.append(f"manifests: expected sha256 only, found {sorted(b.algorithms)}")
        files = list(b.payload_files())
        res.counts["payload_files"] = len(files)
        res.counts["payload_bytes"] = sum((bag / f).stat().st_size for f in files)
        for _ in range(2):
            try:
                b.validate(processes=1)
            except bagit.BagValidationError as e:
                for d in e.details:
                    if not (isinstance(d, bagit.ChecksumMismatch) and d.path in tag_bad):
                        P.append(_bagit_detail(d))
                if not e.details:
                    P.append(f"bagit: {e.message}")
            except (bagit.BagError, UnicodeError, ValueError, OSError) as e:
                P.append(f"bagit: {e}")
            else:
                break
            # a wrong Payload-Oxum stops bagit before the hashes: check them without it,
            # so that the problems name the changed file
            if "Payload-Oxum" not in P[-1] or b.info.pop("Payload-Oxum", None) is None:
                break
        return info
    finally:
        log.setLevel(level)


def _bagit_detail(d) -> str:
    import bagit

    if isinstance(d, bagit.ChecksumMismatch):
        return f"{d.path}: its SHA-256 differs from the one in the manifest (changed)"
    if isinstance(d, bagit.FileMissing):
        return f"{d.path}: listed in the manifest but missing"
    if isinstance(d, bagit.UnexpectedFile):
        return f"{d.path}: present but not listed in the manifest (added or renamed)"
    return f"bagit: {d}"


def _verify_audit(p: Path, info: dict | None, res: BundleCheck) -> list[dict]:
    """The audit chain: seq 1, 2, 3...; each prev the hash before it; full rows rehash."""
    P = res.problems
    text = _read(p)
    if text is None:
        P.append("data/audit.jsonl: missing")
        return []
    rows, prev, redacted = [], audit.GENESIS, 0
    for n, line in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
        try:
            row = json.loads(line)
            assert isinstance(row, dict)
        except (ValueError, AssertionError):
            P.append(f"data/audit.jsonl: line {n} is not a JSON object")
            return rows
        seq = row.get("seq")
        if seq != n:
            P.append(f"data/audit.jsonl: line {n} holds row {seq!r}, expected row {n} "
                     "(a row was removed, added or moved)")
        if row.get("prev") != prev:
            P.append(f"data/audit.jsonl: row {seq}: does not follow the row before it "
                     "(prev hash differs)")
        if row.get("redacted") is True:
            redacted += 1
            if set(row) != {"seq", "prev", "hash", "redacted"}:
                P.append(f"data/audit.jsonl: redacted row {seq} carries other fields")
        else:
            try:
                if audit.row_hash(row) != row.get("hash"):
                    P.append(f"data/audit.jsonl: row {seq}: its content does not match its "
                             "hash (edited)")
            except (KeyError, TypeError):
                P.append(f"data/audit.jsonl: row {seq}: fields are missing")
        prev = row.get("hash")
        rows.append(row)
    res.counts["audit_rows"], res.counts["audit_redacted"] = len(rows), redacted
    if info is not None:
        last = f"{rows[-1].get('seq')} {rows[-1].get('hash')}" if rows else f"0 {audit.GENESIS}"
        if info.get("Audit-Head") != last:
            P.append(f"data/audit.jsonl: ends at {last!r} but bag-info.txt records Audit-Head "
                     f"{info.get('Audit-Head')!r} (rows were cut off or added)")
    return rows


def _verify_items(data: Path, rows: list[dict], res: BundleCheck) -> None:
    """Originals against their folder names; items.json against the originals and the
    ingest rows of the audit chain."""
    P = res.problems
    hashes: dict[str, str] = {}
    odir = data / "originals"
    if odir.is_dir():
        for folder in sorted(odir.iterdir()):
            files = sorted(folder.iterdir()) if folder.is_dir() else []
            if not folder.is_dir() or not re.fullmatch(r"[0-9a-f]{64}", folder.name) or not files:
                P.append(f"data/originals/{folder.name}: not a folder named by a SHA-256 "
                         "holding the file")
                continue
            for f in files:
                rel = f"originals/{folder.name}/{f.name}"
                if not f.is_file() or f.is_symlink():
                    P.append(f"data/{rel}: not a regular file")
                    continue
                h = hashlib.sha256()
                with open(f, "rb") as fh:
                    while chunk := fh.read(_CHUNK):
                        h.update(chunk)
                hashes[rel] = h.hexdigest()
                if hashes[rel] != folder.name:
                    P.append(f"data/{rel}: its SHA-256 is {hashes[rel]}, not the name of its "
                             "folder (the original was changed)")
    res.counts["originals"] = len(hashes)
    raw = _read(data / "items.json")
    try:
        items = json.loads(raw) if raw is not None else None
        assert isinstance(items, list) and all(isinstance(i, dict) for i in items)
    except (ValueError, AssertionError):
        P.append("data/items.json: missing or not a JSON list of items")
        return
    res.counts["items"] = len(items)
    res.counts["reports"] = sum(1 for i in items if i.get("report"))
    ingest, posted = {}, {}
    for r in rows:
        if r.get("action") == "item.ingest" and not r.get("redacted"):
            try:
                detail = json.loads(r["detail"])
                ingest[r["target"]] = detail.get("sha256")
                posted[r["target"]] = detail.get("post")
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
    used = set()
    for it in items:
        iid, sha, rel = it.get("id"), it.get("sha256"), it.get("original")
        if not isinstance(rel, str) or rel not in hashes:
            P.append(f"data/items.json: item {iid}: its original {rel!r} is not in the bundle")
        elif hashes[rel] != sha or not rel.startswith(f"originals/{sha}/"):
            P.append(f"data/items.json: item {iid}: SHA-256 {sha} does not match its original "
                     f"{rel} ({hashes[rel]})")
        if isinstance(rel, str):
            used.add(rel)
        exp = it.get("expected_sha256")
        if exp is not None and it.get("hash_ok") is not (exp == sha):
            P.append(f"data/items.json: item {iid}: hash_ok {it.get('hash_ok')!r} contradicts "
                     "its expected and received hashes")
        if rows and ingest.get(f"item:{iid}") != sha:
            P.append(f"data/items.json: item {iid}: the audit chain's ingest row records "
                     f"{ingest.get(f'item:{iid}')!r}, not {sha}")
        if rows and posted.get(f"item:{iid}") != it.get("post"):
            P.append(f"data/items.json: item {iid}: its post (caption) differs from the one "
                     "the audit chain's ingest row records")
        rep = it.get("report")
        if rep is not None and not (isinstance(rep, str) and (data / rep).is_dir()):
            P.append(f"data/items.json: item {iid}: its report folder {rep} is missing")
    for rel in sorted(set(hashes) - used):
        P.append(f"data/{rel}: an original that no item of items.json names")
