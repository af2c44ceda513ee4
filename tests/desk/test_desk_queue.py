"""The job queue: leases, retries, exactly one result per job, workers killed with SIGKILL."""

import os
import signal
import time

from veriscope.desk import queue
from veriscope.desk.worker import Worker, spawn


def test_expired_lease_is_retried_then_failed(store, put, jpeg):
    cid = store.create_case("c", "t")
    it = put(store, cid, jpeg(0))
    for attempt in (1, 2, 3):
        cl = queue.claim(store, f"w{attempt}", lease_s=0.01)
        assert cl is not None and cl.attempt == attempt
        time.sleep(0.02)  # the worker dies: nobody renews
    assert queue.claim(store, "w4") is None  # third expiry: failed, with the reason
    got = store.item(it["id"])
    assert got["state"] == "failed" and "3 attempts" in got["error"]
    actions = [r["action"] for r in store.audit_rows()]
    assert actions.count("job.retry") == 2 and actions.count("job.failed") == 1


def test_a_stale_worker_cannot_add_a_second_result(store, put, jpeg):
    cid = store.create_case("c", "t")
    put(store, cid, jpeg(0))
    old = queue.claim(store, "slow", lease_s=0.01)
    time.sleep(0.02)
    new = queue.claim(store, "fresh", lease_s=60)
    assert new.job_id == old.job_id and new.attempt == 2
    kw = dict(report_dir="reports/x", verdict="no_evidence", score=0.1, band="none", kind="image",
              detectors=[])
    assert not queue.renew(store, old)
    assert not queue.complete(store, old, **kw)
    assert queue.complete(store, new, **kw)
    assert not queue.complete(store, new, **kw)
    with store.read() as c:
        assert c.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1


def test_bad_input_fails_once_with_its_reason(store, put):
    cid = store.create_case("c", "t")
    it = put(store, cid, b"\xff\xd8\xff\xe0" + b"\x00" * 40, name="broken.jpg")
    assert Worker(store, "w", detectors="metadata").run_one()
    got = store.item(it["id"])
    assert got["state"] == "failed" and "broken.jpg" in got["error"]
    assert str(store.root) not in got["error"]  # the path inside the desk is not shown
    assert os.listdir(store.root / "tmp") == []


def test_workers_killed_mid_job_lose_and_duplicate_nothing(store, put, jpeg):
    """40 jobs, two worker processes, SIGKILL four times while jobs run: every job ends done
    with exactly one result, and the audit chain is intact."""
    cid = store.create_case("c", "t")
    items = [put(store, cid, jpeg(i, size=(384, 384)), name=f"{i}.jpg")["id"] for i in range(40)]
    kw = dict(detectors="metadata,noise,splicebuster", lease_s=3.0, poll_s=0.05)
    procs = {n: spawn(store.root, n, **kw) for n in ("a", "b")}
    kills, deadline = 0, time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            st = queue.stats(store)
            if st["queued"] == 0 and st["running"] == 0:
                break
            if kills < 4 and st["running"] and st["done"] >= 4 * (kills + 1):
                with store.read() as c:
                    w = c.execute("SELECT worker FROM jobs WHERE state = 'running' LIMIT 1"
                                  ).fetchone()
                if w and w["worker"] in procs and procs[w["worker"]].poll() is None:
                    os.kill(procs[w["worker"]].pid, signal.SIGKILL)
                    procs[w["worker"]].wait()
                    kills += 1
                    procs[w["worker"]] = spawn(store.root, w["worker"], **kw)
            time.sleep(0.05)
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(10)
    assert kills == 4
    st = queue.stats(store)
    assert st == {"queued": 0, "running": 0, "done": 40, "failed": 0}, st
    with store.read() as c:
        per_item = dict(c.execute("SELECT item_id, COUNT(*) FROM results GROUP BY item_id"))
        retried = c.execute("SELECT COUNT(*) FROM jobs WHERE attempts > 1").fetchone()[0]
    assert per_item == {i: 1 for i in items}
    assert retried >= 1
    for i in items:
        it = store.item(i)
        assert (store.root / it["report_dir"] / "report.json").is_file()
    assert store.verify_audit().ok


def test_sigterm_stops_an_idle_worker_even_when_repeated(store):
    """A burst of SIGTERMs stops an idle worker. (The handler only sets a flag: an Event.set()
    there once deadlocked a worker waiting on that event, orphaning it for good. That race is
    too narrow for a test to hit reliably; the fix is by construction, this checks the path.)"""
    codes = []
    for _ in range(3):
        p = spawn(store.root, "idle", detectors="metadata", poll_s=0.01, tie_to_parent=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _catches_sigterm(p.pid):
            time.sleep(0.05)  # its handler is in place (kernel's caught-signal mask)
        time.sleep(0.3)
        for _ in range(30):
            p.send_signal(signal.SIGTERM)
            time.sleep(0.005)
        try:
            codes.append(p.wait(10))  # raises TimeoutExpired if the worker hangs
        finally:
            if p.poll() is None:
                p.kill()
    # 0, or -SIGTERM for a signal that lands while the interpreter shuts down (Python restores
    # the default handlers then); what matters is that it stops (a deadlock times out above)
    assert set(codes) <= {0, -signal.SIGTERM}


def _catches_sigterm(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            mask = next(ln for ln in fh if ln.startswith("SigCgt:")).split()[1]
        return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))
    except (OSError, StopIteration, ValueError):
        return False
