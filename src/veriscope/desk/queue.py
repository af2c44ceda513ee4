"""The persistent job queue, in the desk's SQLite database.

A job is claimed under SQLite's writer lock with a lease (``lease_until``, seconds since the
epoch) that its worker renews while it runs. A worker that dies (killed, crashed, machine
restarted) stops renewing; the next claim by anyone finds the expired lease and puts the job
back in the queue (``attempts`` < ``max_attempts``) or fails it with the reason. A result is
accepted only from the worker that holds the current lease, in the same transaction that
marks the job done (the ``results`` table has one row per job): a worker that comes back
after its lease was given away cannot add a second result. Interactive uploads (priority 0)
are claimed before batch work (priority 10); within a priority, oldest first.

Why not huey: huey's SQLite storage keeps tasks in its own tables and loses the job state on a
killed worker (a task is removed from the queue when it is dequeued); here the job states
(queued / running / done / failed with the reason) are rows the API and the UI read, and
retries are decided from leases, in the same database as the items and the audit log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from veriscope.desk.store import Store, decode_post, now

DEFAULT_LEASE_S = 60.0


@dataclass
class Claim:
    job_id: int
    item_id: int
    attempt: int
    worker: str
    sha256: str
    name: str
    detectors: str | None
    post: dict | None = None
    """The caption (and claimed date, place, source) the file was posted with, if any."""


def expire_leases(store: Store, conn, t: float | None = None) -> int:
    """Requeue (or fail, after ``max_attempts``) running jobs whose lease ran out."""
    t = time.time() if t is None else t
    rows = conn.execute("SELECT id, item_id, attempts, max_attempts, worker FROM jobs "
                        "WHERE state = 'running' AND lease_until < ?", (t,)).fetchall()
    for r in rows:
        if r["attempts"] < r["max_attempts"]:
            conn.execute("UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL "
                         "WHERE id = ?", (r["id"],))
            conn.execute("UPDATE items SET state = 'queued' WHERE id = ?", (r["item_id"],))
            store.log(conn, "queue", "job.retry", f"job:{r['id']}",
                      {"item": r["item_id"], "attempt": r["attempts"], "worker": r["worker"],
                       "reason": "the worker stopped renewing its lease (killed or stuck)"})
        else:
            why = (f"the worker stopped during each of {r['attempts']} attempts (killed, out of "
                   "memory or stuck); the file may be too large or hostile")
            _fail(store, conn, r["id"], r["item_id"], why, "queue")
    return len(rows)


def claim(store: Store, worker: str, lease_s: float = DEFAULT_LEASE_S) -> Claim | None:
    """The next job for ``worker``, or None when the queue is empty."""
    with store.tx() as c:
        expire_leases(store, c)
        r = c.execute("SELECT jobs.id, jobs.item_id, jobs.attempts, items.sha256, items.name, "
                      "items.detectors, items.post FROM jobs JOIN items ON items.id = jobs.item_id "
                      "WHERE jobs.state = 'queued' ORDER BY jobs.priority, jobs.id LIMIT 1"
                      ).fetchone()
        if r is None:
            return None
        attempt = r["attempts"] + 1
        c.execute("UPDATE jobs SET state = 'running', attempts = ?, worker = ?, lease_until = ?, "
                  "started = ? WHERE id = ?", (attempt, worker, time.time() + lease_s, now(), r["id"]))
        c.execute("UPDATE items SET state = 'running' WHERE id = ?", (r["item_id"],))
        store.log(c, worker, "job.start", f"job:{r['id']}",
                  {"item": r["item_id"], "attempt": attempt})
    return Claim(r["id"], r["item_id"], attempt, worker, r["sha256"], r["name"], r["detectors"],
                 decode_post(r["post"]))


def _holds(conn, cl: Claim) -> bool:
    r = conn.execute("SELECT state, worker, attempts FROM jobs WHERE id = ?", (cl.job_id,)).fetchone()
    return r is not None and r["state"] == "running" and r["worker"] == cl.worker \
        and r["attempts"] == cl.attempt


def renew(store: Store, cl: Claim, lease_s: float = DEFAULT_LEASE_S) -> bool:
    """Extend the lease; False when the job is no longer this worker's."""
    with store.tx() as c:
        if not _holds(c, cl):
            return False
        c.execute("UPDATE jobs SET lease_until = ? WHERE id = ?", (time.time() + lease_s, cl.job_id))
    return True


def complete(store: Store, cl: Claim, *, report_dir: str, verdict: str | None,
             score: float | None, band: str | None, kind: str | None,
             detectors: list[str], post_label: str | None = None) -> bool:
    """Record the result of a claim; False (and nothing recorded) when the lease was lost.
    ``post_label``: the report's ``post.label`` (items posted with a caption only)."""
    with store.tx() as c:
        if not _holds(c, cl):
            return False
        t = now()
        c.execute("INSERT INTO results (job_id, item_id, attempt, worker, finished) "
                  "VALUES (?, ?, ?, ?, ?)", (cl.job_id, cl.item_id, cl.attempt, cl.worker, t))
        c.execute("UPDATE jobs SET state = 'done', finished = ?, lease_until = NULL, error = NULL "
                  "WHERE id = ?", (t, cl.job_id))
        c.execute("UPDATE items SET state = 'done', error = NULL, verdict = ?, score = ?, band = ?, "
                  "kind = ?, report_dir = ?, post_label = ? WHERE id = ?",
                  (verdict, score, band, kind, report_dir, post_label, cl.item_id))
        detail = {"item": cl.item_id, "attempt": cl.attempt, "verdict": verdict, "score": score,
                  "detectors": detectors}
        if post_label is not None:  # a plain file's row is exactly as before
            detail["post_label"] = post_label
        store.log(c, cl.worker, "job.done", f"job:{cl.job_id}", detail)
    return True


def fail(store: Store, cl: Claim, reason: str) -> bool:
    """The analysis ran and failed (bad input): final, no retry."""
    with store.tx() as c:
        if not _holds(c, cl):
            return False
        _fail(store, c, cl.job_id, cl.item_id, reason, cl.worker)
    return True


def _fail(store: Store, conn, job_id: int, item_id: int, reason: str, actor: str) -> None:
    conn.execute("UPDATE jobs SET state = 'failed', error = ?, finished = ?, lease_until = NULL "
                 "WHERE id = ?", (reason, now(), job_id))
    conn.execute("UPDATE items SET state = 'failed', error = ? WHERE id = ?", (reason, item_id))
    store.log(conn, actor, "job.failed", f"job:{job_id}", {"item": item_id, "reason": reason})


def stats(store: Store) -> dict:
    with store.read() as c:
        rows = c.execute("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").fetchall()
    out = {s: 0 for s in ("queued", "running", "done", "failed")}
    out.update({r["state"]: r["n"] for r in rows})
    return out
