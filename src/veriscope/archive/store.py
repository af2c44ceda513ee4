"""The archive folder: ``archive.sqlite3`` and ``features.faiss``.

One row per indexed picture or video keyframe: the file's SHA-256 (with the keyframe's time
for video), its path when indexed, size, the item's metadata (source, date if known, caption),
its four 64-bit perceptual hashes and its local features (256 positions and ORB descriptors,
10 kB). The faiss index holds the first ``N_SEARCH`` (96) descriptors of each item with the row
id of its item (3 kB per item); it is a
cache of the database (``features.faiss`` plus the row count it covers), rebuilt when it does
not cover every row, so an interrupted indexing run never leaves the two out of step.
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
        self._index_rows = -1

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
    def has(self, sha256: str) -> bool:
        with self.connect() as c:
            return c.execute("SELECT 1 FROM items WHERE sha256 = ? LIMIT 1",
                             (sha256,)).fetchone() is not None

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
        with self.connect() as c:
            r = c.execute(f"SELECT {', '.join(ITEM_FIELDS)} FROM items WHERE id = ?",
                          (item_id,)).fetchone()
        return dict(r) if r else None

    def features(self, ids) -> dict[int, Features]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        with self.connect() as c:
            rows = c.execute(f"SELECT id, features FROM items WHERE id IN "
                             f"({','.join('?' * len(ids))})", ids).fetchall()
        return {r["id"]: Features.from_bytes(r["features"]) for r in rows}

    def count(self) -> int:
        with self.connect() as c:
            return c.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    def skipped(self) -> list[dict]:
        with self.connect() as c:
            return [dict(r) for r in c.execute("SELECT * FROM skipped ORDER BY path")]

    def hash_candidates(self, hashes: dict, max_dist: int = 10, limit: int = 50) -> list[tuple]:
        """(distance, item id) of items whose pHash is within ``max_dist`` bits of the query's
        pHash or of its mirror's (a scan of 8 bytes per item, fast to a few million)."""
        with self.connect() as c:
            rows = c.execute("SELECT id, phash FROM items").fetchall()
        if not rows:
            return []
        ids = np.array([r[0] for r in rows])
        ph = np.array([r[1] for r in rows], dtype=np.int64).view(np.uint64)
        out = []
        for key in ("phash", "phash_mirror"):
            q = np.uint64(np.int64(hashes[key]).view(np.uint64))
            x = np.bitwise_xor(ph, q)
            d = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(1)
            for i in np.flatnonzero(d <= max_dist):
                out.append((int(d[i]), int(ids[i]), key == "phash_mirror"))
        out.sort()
        return out[:limit]

    # ------------------------------------------------------------------ the faiss index
    def ann(self):
        """(faiss binary index, row -> item id array), rebuilt when stale."""
        n = self.count()
        if self._index is not None and self._index_rows == n:
            return self._index
        import faiss

        path, ids_path = self.root / "features.faiss", self.root / "features.ids.npy"
        if path.is_file() and ids_path.is_file():
            try:
                idx = faiss.read_index_binary(str(path))
                owner = np.load(ids_path)
                if int(owner[-1]) == n if len(owner) else n == 0:
                    self._index, self._index_rows = (idx, owner[:-1]), n
                    return self._index
            except (RuntimeError, ValueError, OSError, IndexError):
                pass
        self._index = self._build_ann()
        self._index_rows = n
        return self._index

    def _build_ann(self):
        import faiss

        descs, owner = [], []
        with self.connect() as c:
            for r in c.execute("SELECT id, features FROM items ORDER BY id"):
                f = Features.from_bytes(r["features"])
                descs.append(f.desc[:N_SEARCH])
                owner.append(np.full(len(descs[-1]), r["id"], dtype=np.int64))
        n_items = self.count()
        d = np.concatenate(descs) if descs else np.zeros((0, 32), np.uint8)
        own = np.concatenate(owner) if owner else np.zeros(0, np.int64)
        if len(d) > 400_000:  # inverted lists: about sqrt(n) cells, 16 probed per query
            nlist = int(min(65536, 4 * np.sqrt(len(d))))
            quant = faiss.IndexBinaryFlat(256)
            idx = faiss.IndexBinaryIVF(quant, 256, nlist)
            rng = np.random.default_rng(0)
            idx.train(d[rng.choice(len(d), min(len(d), nlist * 40), replace=False)])
            idx.nprobe = 16
        else:
            idx = faiss.IndexBinaryFlat(256)
        if len(d):
            idx.add(np.ascontiguousarray(d))
        tmp = self.root / "features.faiss.tmp"
        faiss.write_index_binary(idx, str(tmp))
        tmp.replace(self.root / "features.faiss")
        np.save(self.root / "features.ids.tmp.npy", np.append(own, n_items))
        (self.root / "features.ids.tmp.npy").replace(self.root / "features.ids.npy")
        return idx, own
