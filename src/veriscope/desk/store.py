"""The desk's data folder: one SQLite database (WAL) and the files, stored by content.

Layout of ``DATA``::

    desk.sqlite3        cases, items, jobs, API keys, the audit log
    audit.head          sequence number and hash of the last audit row (see audit.py)
    files/ab/abcdef...  each original once, named by its SHA-256, read-only (0444)
    reports/<item>/     the analysis folder of an item (report.json, report.html, maps/)
    tmp/                uploads and reports in progress (emptied at start)
    keys/               the installation's Ed25519 signing key (bundle.py)

Every change a person or a worker makes goes through this module, which writes the audit row
in the same transaction as the change: the database and its log cannot disagree.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import sqlite3
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path

from veriscope.core.version import __version__
from veriscope.desk import audit

REVIEW_STATES = ("unreviewed", "ok", "to_check", "warning")
POST_FIELDS = ("caption", "date", "place", "source")
"""An item's post as stored and shown: the fields of :func:`veriscope.core.post.make_post`."""
POST_TEXT_FIELDS = ("caption", "place", "source")
"""The fields of a post that the search's text query looks in (:meth:`Store.items`)."""
PRIORITY_INTERACTIVE, PRIORITY_BATCH = 0, 10
TOOL = f"veriscope {__version__}"

MIGRATIONS = {"items": (("post", "TEXT"), ("post_label", "TEXT"))}
"""Columns added after the first release of the desk (table: ((column, type), ...)). A database
made by an earlier version gains them when it is opened (:meth:`Store.migrate`); they are
nullable, so the rows already there read as before (no caption)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    expected_sha256 TEXT,
    hash_ok INTEGER,
    created TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    error TEXT,
    verdict TEXT,
    score REAL,
    band TEXT,
    kind TEXT,
    detectors TEXT,
    review TEXT NOT NULL DEFAULT 'unreviewed',
    note TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '',
    report_dir TEXT,
    post TEXT,
    post_label TEXT
);
CREATE INDEX IF NOT EXISTS items_sha ON items(sha256);
CREATE INDEX IF NOT EXISTS items_case ON items(case_id);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    priority INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    lease_until REAL,
    worker TEXT,
    error TEXT,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT
);
CREATE INDEX IF NOT EXISTS jobs_claim ON jobs(state, priority, id);
CREATE TABLE IF NOT EXISTS results (
    job_id INTEGER PRIMARY KEY REFERENCES jobs(id),
    item_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    finished TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    key_name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
"""


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def safe_name(name: str, limit: int = 200) -> str:
    """A file name as shown and exported: the last path component only (no folders, no
    ``..``), control characters removed, Unicode normalised (NFC), at most ``limit`` chars."""
    name = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    name = name.lstrip(".") or "unnamed"
    return name[:limit]


def hash_key(key: str) -> str:
    """API keys are stored as SHA-256 of the key (they are long random strings, so a plain
    hash suffices; a leaked database does not give working keys)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Store:
    """The data folder. Each call opens its own SQLite connection (threads and processes
    share the folder; SQLite serialises the writers)."""

    def __init__(self, data_dir, *, create: bool = True):
        self.root = Path(data_dir).resolve()
        if create:
            for sub in ("files", "reports", "tmp", "keys"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        elif not (self.root / "desk.sqlite3").is_file():
            raise FileNotFoundError(f"{self.root}: not a desk data folder (no desk.sqlite3)")
        self.db_path = self.root / "desk.sqlite3"
        self.head_path = self.root / "audit.head"
        with self.read() as c:  # executescript runs its own transaction
            c.executescript(SCHEMA + audit.SCHEMA)
        self.migrate()

    def migrate(self) -> list[str]:
        """Add the columns of :data:`MIGRATIONS` that an older database lacks (under the writer
        lock: the server and its workers may open the folder at once). Returns what was added.
        Schema changes are not audit rows: they change no case, item or job."""
        added = []
        with self.read() as c:
            missing = any(col not in _columns(c, table) for table, cols in MIGRATIONS.items()
                          for col, _ in cols)
        if not missing:
            return added
        with self.tx() as c:
            for table, cols in MIGRATIONS.items():
                have = _columns(c, table)
                for col, kind in cols:
                    if col not in have:
                        c.execute(f"ALTER TABLE {table} ADD COLUMN {col} {kind}")
                        added.append(f"{table}.{col}")
        return added

    # ------------------------------------------------------------------ connections
    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.create_function("post_matches", 2, _post_matches, deterministic=True)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def tx(self):
        """One write transaction (BEGIN IMMEDIATE: the writer lock is taken at once, so two
        workers never claim the same job)."""
        conn = self.connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextmanager
    def read(self):
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    def log(self, conn, actor: str, action: str, target, detail: dict | None = None) -> dict:
        return audit.append(conn, ts=now(), actor=actor, action=action, target=str(target),
                            detail=detail, tool=TOOL, head_file=self.head_path)

    # ------------------------------------------------------------------ API keys
    def add_key(self, name: str, actor: str = "admin") -> str:
        """Create an API key; returns it (shown once, only its hash is kept)."""
        key = "vsk_" + secrets.token_urlsafe(32)
        with self.tx() as c:
            cur = c.execute("INSERT INTO api_keys (name, key_hash, created) VALUES (?, ?, ?)",
                            (name, hash_key(key), now()))
            self.log(c, actor, "key.create", f"key:{cur.lastrowid}", {"name": name})
        return key

    def check_key(self, key: str | None) -> str | None:
        """The key's name when it is valid and not revoked, else None."""
        if not key:
            return None
        digest = hash_key(key)
        with self.read() as c:
            rows = c.execute("SELECT name, key_hash FROM api_keys WHERE revoked = 0").fetchall()
        for r in rows:
            if hmac.compare_digest(r["key_hash"], digest):
                return r["name"]
        return None

    # ------------------------------------------------------------------ browser sessions
    def open_session(self, key_name: str, ttl_s: float = 12 * 3600) -> tuple[str, str]:
        """A browser session for a checked key: (cookie token, CSRF token). Only the token's
        hash is stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self.tx() as c:
            c.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            c.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                      (hash_key(token), key_name, csrf, time.time() + ttl_s))
            self.log(c, key_name, "session.open", f"key:{key_name}", {})
        return token, csrf

    def session(self, token: str | None) -> tuple[str, str] | None:
        """(key name, CSRF token) of a live session, else None."""
        if not token:
            return None
        with self.read() as c:
            r = c.execute("SELECT key_name, csrf, expires FROM sessions WHERE token_hash = ?",
                          (hash_key(token),)).fetchone()
        if r is None or r["expires"] < time.time():
            return None
        return r["key_name"], r["csrf"]

    def close_session(self, token: str) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM sessions WHERE token_hash = ?", (hash_key(token),))

    # ------------------------------------------------------------------ cases
    def create_case(self, name: str, actor: str) -> int:
        name = " ".join(str(name).split())[:200] or "untitled case"
        with self.tx() as c:
            cid = c.execute("INSERT INTO cases (name, created) VALUES (?, ?)",
                            (name, now())).lastrowid
            self.log(c, actor, "case.create", f"case:{cid}", {"name": name})
        return cid

    def cases(self) -> list[dict]:
        with self.read() as c:
            rows = c.execute(
                "SELECT cases.*, COUNT(items.id) AS n_items, "
                "TOTAL(items.state = 'done') AS n_done, TOTAL(items.state = 'failed') AS n_failed "
                "FROM cases LEFT JOIN items ON items.case_id = cases.id "
                "GROUP BY cases.id ORDER BY cases.id DESC").fetchall()
        return [{**dict(r), "n_done": int(r["n_done"]), "n_failed": int(r["n_failed"])}
                for r in rows]

    def case(self, case_id: int) -> dict | None:
        with self.read() as c:
            r = c.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
        return dict(r) if r else None

    # ------------------------------------------------------------------ files and items
    def blob_path(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("not a SHA-256")
        return self.root / "files" / sha256[:2] / sha256

    def new_tmp(self, suffix: str = "") -> Path:
        return self.root / "tmp" / (secrets.token_hex(12) + suffix)

    def store_blob(self, tmp: Path, sha256: str) -> Path:
        """Move a fully received upload into files/ (once per content), read-only."""
        dest = self.blob_path(sha256)
        if dest.exists():
            tmp.unlink(missing_ok=True)
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
        return dest

    def add_item(self, case_id: int, tmp: Path, *, sha256: str, size: int, name: str,
                 actor: str, expected_sha256: str | None = None,
                 priority: int = PRIORITY_INTERACTIVE, detectors: str | None = None,
                 post: dict | None = None) -> dict:
        """Record an uploaded file (already hashed while it streamed in) in a case and queue its
        analysis. An expected hash that differs is recorded for good (``hash_ok`` = 0 and an
        audit row); the file is still kept and analysed, since it is what was received.
        ``post``: the caption (and claimed date, place, source) it was posted with, already
        checked by :func:`veriscope.core.post.make_post`; it is part of what was received, so
        the ingest row of the audit log records it too."""
        if self.case(case_id) is None:
            raise KeyError(f"no case {case_id}")
        self.store_blob(tmp, sha256)
        exp = expected_sha256.lower().strip() if expected_sha256 else None
        hash_ok = None if exp is None else int(hmac.compare_digest(exp, sha256))
        name = safe_name(name)
        if post is not None:
            post = {k: post.get(k) for k in POST_FIELDS}
        with self.tx() as c:
            iid = c.execute(
                "INSERT INTO items (case_id, sha256, name, size, expected_sha256, hash_ok, created, "
                "detectors, post) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, sha256, name, size, exp, hash_ok, now(), detectors,
                 None if post is None else json.dumps(post, ensure_ascii=False))).lastrowid
            detail = {"case": case_id, "sha256": sha256, "name": name, "size": size,
                      "expected_sha256": exp, "hash_ok": hash_ok}
            if post is not None:  # a plain file's row is exactly as before
                detail["post"] = post
            self.log(c, actor, "item.ingest", f"item:{iid}", detail)
            if hash_ok == 0:
                self.log(c, actor, "item.hash_mismatch", f"item:{iid}",
                         {"expected": exp, "received": sha256})
            jid = c.execute("INSERT INTO jobs (item_id, priority, created) VALUES (?, ?, ?)",
                            (iid, priority, now())).lastrowid
            self.log(c, actor, "job.queue", f"job:{jid}", {"item": iid, "priority": priority})
        return self.item(iid)

    def item(self, item_id: int) -> dict | None:
        with self.read() as c:
            r = c.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        return _item(r) if r else None

    def items(self, case_id: int | None = None, *, query: str | None = None,
              verdict: str | None = None, tag: str | None = None, limit: int = 500) -> list[dict]:
        """Items of a case (or all), newest first, filtered by a text query, a verdict label
        and/or a tag. The query matches an item whose file name contains it, whose SHA-256
        starts with it (4 to 64 hex digits), which has it as a tag, or which was posted with a
        caption, claimed place or source containing it (:data:`POST_TEXT_FIELDS`; the decoded
        fields, not the stored JSON, so "caption" or "{" match no post by accident). ``%`` and
        ``_`` are literal; the file name ignores ASCII case (SQL LIKE), the post any case
        (Unicode case folding)."""
        sql, args = "SELECT * FROM items WHERE 1=1", []
        if case_id is not None:
            sql += " AND case_id = ?"
            args.append(case_id)
        if query:
            q = query.strip()
            like = "%" + _like(q) + "%"
            sha = q.lower() + "%" if re.fullmatch(r"[0-9a-fA-F]{4,64}", q) else "-"
            sql += (" AND (name LIKE ? ESCAPE '\\' OR sha256 LIKE ? OR ',' || tags || ',' LIKE ?"
                    " ESCAPE '\\' OR post_matches(post, ?))")
            args += [like, sha, "%," + (_like(_tag(q)) or "-") + ",%", _fold(q)]
        if verdict:
            sql += " AND verdict = ?"
            args.append(verdict)
        if tag:
            sql += " AND ',' || tags || ',' LIKE ? ESCAPE '\\'"
            args.append("%," + (_like(_tag(tag)) or "-") + ",%")
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(int(limit))
        with self.read() as c:
            return [_item(r) for r in c.execute(sql, args).fetchall()]

    def annotate(self, item_id: int, actor: str, *, note: str | None = None,
                 tags: list[str] | None = None, review: str | None = None) -> dict:
        """Change an item's note, tags and/or review status (each change audited)."""
        if review is not None and review not in REVIEW_STATES:
            raise ValueError(f"review must be one of {', '.join(REVIEW_STATES)}")
        with self.tx() as c:
            cur = c.execute("SELECT note, tags, review FROM items WHERE id = ?",
                            (item_id,)).fetchone()
            if cur is None:
                raise KeyError(f"no item {item_id}")
            changes = {}
            if note is not None and note != cur["note"]:
                changes["note"] = str(note)[:20000]
            if tags is not None:
                clean = sorted({_tag(t) for t in tags if _tag(t)})
                if ",".join(clean) != cur["tags"]:
                    changes["tags"] = ",".join(clean)
            if review is not None and review != cur["review"]:
                changes["review"] = review
            if changes:
                sets = ", ".join(f"{k} = ?" for k in changes)
                c.execute(f"UPDATE items SET {sets} WHERE id = ?", (*changes.values(), item_id))
                self.log(c, actor, "item.annotate", f"item:{item_id}", changes)
        return self.item(item_id)

    def report_path(self, item: dict) -> Path | None:
        return self.root / item["report_dir"] if item.get("report_dir") else None

    def report(self, item: dict) -> dict | None:
        p = self.report_path(item)
        if p is None:
            return None
        try:
            return json.loads((p / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    # ------------------------------------------------------------------ audit
    def audit_rows(self) -> list[dict]:
        with self.read() as c:
            return audit.read_rows(c)

    def verify_audit(self) -> audit.ChainCheck:
        return audit.verify_rows(self.audit_rows(), audit.read_head(self.head_path))

    def clean_tmp(self) -> int:
        """Remove what interrupted uploads and reports left in tmp/ (at start)."""
        n = 0
        for p in (self.root / "tmp").iterdir():
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            n += 1
        return n


def _like(text: str) -> str:
    """Text as a literal inside a LIKE pattern (ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fold(text: str) -> str:
    """Text as compared by the search of posts: NFC, case folded (Unicode, not only ASCII)."""
    return unicodedata.normalize("NFC", text).casefold()


def _post_matches(text, needle) -> int:
    """SQL function ``post_matches(post, folded query)``: 1 when the item's stored post has the
    query in one of :data:`POST_TEXT_FIELDS` (a plain substring: no LIKE wildcards), else 0.
    It must not raise: an error in an SQL function fails the whole query."""
    try:
        post = decode_post(text)
        if post is None or not isinstance(needle, str):
            return 0
        return int(any(isinstance(post[k], str) and needle in _fold(post[k])
                       for k in POST_TEXT_FIELDS))
    except Exception:  # a damaged row is no match, never a failed search
        return 0


def _tag(t: str) -> str:
    return re.sub(r"[^\w\- ]+", "", str(t).strip().lower())[:40].strip()


def _columns(conn, table: str) -> set[str]:
    return {r[1] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}


def _item(r) -> dict:
    d = dict(r)
    d["tags"] = [t for t in (d.get("tags") or "").split(",") if t]
    d["post"] = decode_post(d.get("post"))
    return d


def decode_post(text) -> dict | None:
    """The stored post of an item (JSON text, or NULL for a plain file) as a dict."""
    if not text:
        return None
    try:
        d = json.loads(text)
    except ValueError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("caption"), str):
        return None
    return {k: d.get(k) for k in POST_FIELDS}
