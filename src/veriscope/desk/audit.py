"""The audit log: append-only rows, each carrying the hash of the previous one.

A row is ``(seq, ts, actor, action, target, detail, tool, prev, hash)``. ``hash`` is the
SHA-256 of the canonical JSON of every other field, ``prev`` included, so a row cannot be
edited, removed or moved without breaking the chain at that point. The database refuses
UPDATE and DELETE on the table (triggers), and the last row's sequence number and hash are
also written to a head file beside the database after each append, so that cutting rows off
the end (which leaves a valid shorter chain) is caught too. :func:`verify` re-derives every
hash and says where the first break is.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

GENESIS = "0" * 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    tool TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

FIELDS = ("seq", "ts", "actor", "action", "target", "detail", "tool", "prev")


def row_hash(row: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of a row's fields other than ``hash``."""
    body = {k: row[k] for k in FIELDS}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(conn: sqlite3.Connection, *, ts: str, actor: str, action: str, target: str,
           detail: dict | None, tool: str, head_file: Path | None = None) -> dict:
    """Append one row inside the caller's transaction (the caller commits); returns it."""
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (1, GENESIS) if last is None else (last[0] + 1, last[1])
    row = {"seq": seq, "ts": ts, "actor": actor, "action": action, "target": str(target),
           "detail": json.dumps(detail or {}, sort_keys=True, ensure_ascii=False),
           "tool": tool, "prev": prev}
    row["hash"] = row_hash(row)
    conn.execute("INSERT INTO audit (seq, ts, actor, action, target, detail, tool, prev, hash) "
                 "VALUES (:seq, :ts, :actor, :action, :target, :detail, :tool, :prev, :hash)", row)
    if head_file is not None:
        write_head(head_file, seq, row["hash"])
    return row


def write_head(path: Path, seq: int, digest: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{seq} {digest}\n", encoding="ascii")
    tmp.replace(path)


def read_head(path: Path) -> tuple[int, str] | None:
    try:
        seq, digest = path.read_text(encoding="ascii").split()
        return int(seq), digest
    except (OSError, ValueError):
        return None


@dataclass
class ChainCheck:
    ok: bool
    rows: int
    head: str
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "rows": self.rows, "head": self.head, "problems": self.problems}


def verify_rows(rows: list[dict], head: tuple[int, str] | None = None) -> ChainCheck:
    """Check a list of rows (in stored order): sequence numbers 1, 2, 3..., each ``prev``
    equal to the hash before it, each hash re-derived from its fields, and the last row
    equal to ``head`` (sequence number and hash) when one is given."""
    problems: list[str] = []
    prev, expect = GENESIS, 1
    for row in rows:
        seq = row.get("seq")
        if seq != expect:
            problems.append(f"row {seq}: expected sequence number {expect} "
                            "(a row was deleted, inserted or moved)")
        if row.get("prev") != prev:
            problems.append(f"row {seq}: does not follow the row before it (prev hash differs)")
        if row_hash(row) != row.get("hash"):
            problems.append(f"row {seq}: its content does not match its hash (edited)")
        prev = row.get("hash")
        expect = (seq if isinstance(seq, int) else expect) + 1
    last_seq = rows[-1]["seq"] if rows else 0
    if head is not None and (head[0] != last_seq or (rows and head[1] != rows[-1]["hash"])):
        problems.append(f"the log ends at row {last_seq} but the head file records row {head[0]} "
                        "(rows were cut off the end or the head file was replaced)")
    return ChainCheck(not problems, len(rows), prev if rows else GENESIS, problems)


def read_rows(conn: sqlite3.Connection) -> list[dict]:
    cur = conn.execute("SELECT seq, ts, actor, action, target, detail, tool, prev, hash "
                       "FROM audit ORDER BY rowid")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
