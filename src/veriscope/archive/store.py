"""The archive folder: ``archive.sqlite3`` and ``features.faiss``.

One row per indexed picture or video keyframe: the file's SHA-256 (with the keyframe's time
for video), its path when indexed, size, the item's metadata (source, date if known, caption),
its four 64-bit perceptual hashes and its local features (256 positions and ORB descriptors,
10 kB). The faiss index holds the first ``N_SEARCH`` (96) descriptors of each item with the row
id of its item (3 kB per item); it is a
cache of the database (``features.faiss`` and ``features.ids.npy``, the item of each row):
items added since it was saved are appended to it, and a missing, damaged or mismatched file
is rebuilt from the database, so an interrupted indexing run never leaves the two out of step.
"""

from __future__ import annotations

import datetime as _dt
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from veriscope.signals.fingerprint import N_SEARCH, Features

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    t REAL NOT NULL DEFAULT -1,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    date TEXT,
    source TEXT,
    caption TEXT,
    indexed TEXT NOT NULL,
    phash INTEGER NOT NULL,
    dhash INTEGER NOT NULL,
    whash INTEGER NOT NULL,
    phash_mirror INTEGER NOT NULL,
    features BLOB NOT NULL,
    UNIQUE (sha256, t)
);
CREATE TABLE IF NOT EXISTS skipped (
    path TEXT PRIMARY KEY,
    sha256 TEXT,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
"""

ITEM_FIELDS = ("id", "sha256", "t", "path", "kind", "size", "width", "height", "date", "source",
               "caption", "indexed")


class Archive:
    def __init__(self, path, *, create: bool = False):
        self.root = Path(path)
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        elif not (self.root / "archive.sqlite3").is_file():
            raise FileNotFoundError(f"{self.root}: not a veriscope archive (no archive.sqlite3; "
                                    "make one with `veriscope index DIR --archive PATH`)")
        self.db_path = self.root / "archive.sqlite3"
        with self.connect() as c:
            c.executescript(SCHEMA)
        self._index = None
        self._index_last = -1
        self._hashes = None

    @contextmanager
    def connect(self):
        conn = sqlite3.connect(self.db_path, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        try:
            yield conn
            conn.commit()
        finally:
            conn.close()

    # ------------------------------------------------------------------ items
    def add(self, conn, *, sha256: str, t: float, path: str, kind: str, size: int, width: int,
            height: int, hashes: dict, features: Features, date: str | None = None,
            source: str | None = None, caption: str | None = None) -> int:
        cur = conn.execute(
            "INSERT OR IGNORE INTO items (sha256, t, path, kind, size, width, height, date, source, "
            "caption, indexed, phash, dhash, whash, phash_mirror, features) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sha256, t, path, kind, size, width, height, date, source, caption,
             _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), hashes["phash"],
             hashes["dhash"], hashes["whash"], hashes["phash_mirror"], features.to_bytes()))
        return cur.lastrowid

    def skip(self, conn, path: str, sha256: str | None, reason: str) -> None:
        conn.execute("INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?)",
                     (path, sha256, reason, _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")))

    def item(self, item_id: int) -> dict | None:
        return self.items([item_id]).get(int(item_id))

    def _rows(self, ids, columns: str) -> list:
        """Rows of the items with these ids (one query; missing ids left out)."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        with self.connect() as c:
            return c.execute(f"SELECT {columns} FROM items WHERE id IN "
                             f"({','.join('?' * len(ids))})", ids).fetchall()

    def items(self, ids) -> dict[int, dict]:
        """:meth:`item` for many ids in one query (missing ids left out)."""
        return {r["id"]: dict(r) for r in self._rows(ids, ", ".join(ITEM_FIELDS))}

    def features(self, ids) -> dict[int, Features]:
        return {r["id"]: Features.from_bytes(r["features"]) for r in self._rows(ids, "id, features")}

    def count(self) -> int:
        with self.connect() as c:
            return c.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def skipped(self) -> list[dict]:
        with self.connect() as c:
            return [dict(r) for r in c.execute("SELECT * FROM skipped ORDER BY path")]

    def last_id(self) -> int:
        """The largest item id (items are only appended: a cheap key for "has it changed")."""
        with self.connect() as c:
            return c.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0]

    def _hash_arrays(self):
        """(ids, pHashes as uint64) of every item, kept in memory and extended with the rows
        added since the last call."""
        last = self.last_id()
        ids, ph = self._hashes if self._hashes is not None else (np.zeros(0, np.int64),
                                                                 np.zeros(0, np.uint64))
        seen = int(ids[-1]) if len(ids) else 0
        if last > seen:
            with self.connect() as c:
                rows = c.execute("SELECT id, phash FROM items WHERE id > ? ORDER BY id",
                                 (seen,)).fetchall()
            ids = np.concatenate([ids, np.array([r[0] for r in rows], dtype=np.int64)])
            ph = np.concatenate([ph, np.array([r[1] for r in rows], dtype=np.int64)
                                 .view(np.uint64)])
            self._hashes = (ids, ph)
        return ids, ph

    def hash_candidates(self, hashes: dict, max_dist: int = 10, limit: int = 50) -> list[tuple]:
        """(distance, item id, mirrored) of items whose pHash is within ``max_dist`` bits of the
        query's pHash or of its mirror's (a vectorised popcount over 8 bytes per item)."""
        ids, ph = self._hash_arrays()
        if not len(ids):
            return []
        out = []
        for key in ("phash", "phash_mirror"):
            q = np.uint64(np.int64(hashes[key]).view(np.uint64))
            d = _popcount(np.bitwise_xor(ph, q))
            for i in np.flatnonzero(d <= max_dist):
                out.append((int(d[i]), int(ids[i]), key == "phash_mirror"))
        out.sort()
        return out[:limit]

    # ------------------------------------------------------------------ the faiss index
    def ann(self):
        """(faiss binary index, row -> item id array), brought up to date: the items added
        since it was saved are appended; it is rebuilt only when missing or damaged, or when
        it outgrows the exact index (then inverted lists are trained)."""
        last = self.last_id()
        if self._index is not None and self._index_last == last:
            return self._index
        import faiss

        idx, owner = None, None
        if self._index is not None:
            idx, owner = self._index
        else:
            path, ids_path = self.root / "features.faiss", self.root / "features.ids.npy"
            if path.is_file() and ids_path.is_file():
                try:
                    idx = faiss.read_index_binary(str(path))
                    owner = np.load(ids_path)
                    if hasattr(idx, "nprobe"):
                        idx.nprobe = 16
                    if idx.ntotal != len(owner) or (len(owner) and owner.max() > last):
                        idx, owner = None, None
                except (RuntimeError, ValueError, OSError):
                    idx, owner = None, None
        seen = int(owner.max()) if owner is not None and len(owner) else 0
        d, own = self._descriptors(after=seen if idx is not None else 0)
        changed = True
        if idx is None or (isinstance(idx, faiss.IndexBinaryFlat)
                           and idx.ntotal + len(d) > IVF_FROM):
            d, own = self._descriptors(after=0)
            idx = _new_index(d)
        elif len(d):
            idx.add(np.ascontiguousarray(d))
            own = np.concatenate([owner, own])
        else:
            own, changed = owner, seen < last  # items without descriptors: save the new mark
        if idx.ntotal != len(own):  # pragma: no cover - a bug, never a silent mismatch
            raise RuntimeError("the search index and its item list disagree")
        if changed:
            self._save(idx, own)
        self._index, self._index_last = (idx, own), last
        return self._index

    def _descriptors(self, after: int = 0):
        descs, owner = [], []
        with self.connect() as c:
            for r in c.execute("SELECT id, features FROM items WHERE id > ? ORDER BY id",
                               (after,)):
                f = Features.from_bytes(r["features"])
                descs.append(f.desc[:N_SEARCH])
                owner.append(np.full(len(descs[-1]), r["id"], dtype=np.int64))
        d = np.concatenate(descs) if descs else np.zeros((0, 32), np.uint8)
        own = np.concatenate(owner) if owner else np.zeros(0, np.int64)
        return d, own

    def _save(self, idx, own) -> None:
        import os
        import secrets

        import faiss

        tag = f"{os.getpid()}.{secrets.token_hex(4)}"  # readers in other processes may save too
        tmp, tmp_ids = self.root / f".features.{tag}.faiss", self.root / f".features.{tag}.npy"
        faiss.write_index_binary(idx, str(tmp))
        np.save(tmp_ids, own)
        # the item list first: a crash between the two leaves a list that does not match the
        # index's size, which the next load detects and rebuilds
        tmp_ids.replace(self.root / "features.ids.npy")
        tmp.replace(self.root / "features.faiss")


_SHARED: dict[str, Archive] = {}


def open_configured(path) -> Archive | str:
    """For the detectors that read an archive: :func:`open_shared` of ``path``, or the reason
    there is none (no path configured, no archive there)."""
    if not path:
        return "no reference archive configured (--archive PATH or VERISCOPE_ARCHIVE)"
    try:
        return open_shared(path)
    except FileNotFoundError as e:
        return str(e)


def open_shared(path) -> Archive:
    """The archive at ``path``, opened once per process and shared by its readers (the
    ``archive_match`` and ``caption_archive`` detectors), so that its search index is read from
    disk once, not once per input and per reader. Raises like :class:`Archive`."""
    key = str(path)
    a = _SHARED.get(key)
    if a is None:
        a = _SHARED[key] = Archive(key)
    return a


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(x)
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(1)


IVF_FROM = 400_000
"""Descriptors from which the index uses inverted lists (about 4,200 items of 96): exact
search below, approximate above (16 of about 4 sqrt(n) lists probed per query)."""


def _new_index(d: np.ndarray):
    import faiss

    if len(d) > IVF_FROM:
        nlist = int(min(65536, 4 * np.sqrt(len(d))))
        idx = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, nlist)
        rng = np.random.default_rng(0)
        idx.train(d[rng.choice(len(d), min(len(d), nlist * 40), replace=False)])
        idx.nprobe = 16
    else:
        idx = faiss.IndexBinaryFlat(256)
    if len(d):
        idx.add(np.ascontiguousarray(d))
    return idx
