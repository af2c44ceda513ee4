"""`veriscope serve` as a user runs it: the first key printed once, workers kept alive by the
supervisor after a SIGKILL, and no worker left behind when the server stops."""

import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_serve_supervises_workers_and_cleans_up(tmp_path, jpeg, serve):
    log = tmp_path / "serve.log"
    with open(log, "w") as fh:
        proc, base = serve(tmp_path / "d", "--workers", "1", "--detectors", "metadata",
                           "--lease", "2", log=fh)
    try:
        key = re.search(r"vsk_[\w-]+", log.read_text()).group(0)
        h = {"X-API-Key": key}
        cid = httpx.post(base + "/api/v1/cases", json={"name": "c"}, headers=h).json()["id"]
        first = _children(proc.pid)
        assert len(first) == 1
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = [p for p in _children(proc.pid) if _alive(p)]
            if now and now != first:
                break
            time.sleep(0.1)
        assert now and now != first, "the supervisor did not restart the worker"
        item = httpx.post(f"{base}/api/v1/cases/{cid}/items", params={"name": "a.jpg"},
                          content=jpeg(1), headers=h).json()
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/api/v1/items/{item['id']}", headers=h).json()["state"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # a second start does not print a key again (the desk has one)
    finally:
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, log.read_text()
    time.sleep(0.5)
    assert not [p for p in workers if _alive(p)], "a worker outlived the server"
    assert log.read_text().count("First API key") == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_server_leaves_no_orphan_worker(tmp_path, serve):
    proc, _ = serve(tmp_path / "d", "--workers", "2", "--detectors", "metadata")
    deadline = time.monotonic() + 30
    workers = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.1)
    assert len(workers) == 2
    time.sleep(1.0)
    proc.kill()
    proc.wait(10)
    # a worker killed by its parent-death signal, or (if the server died before the worker
    # set it up) stopping at its own parent check once started
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and [p for p in workers if _alive(p)]:
        time.sleep(0.1)
    assert not [p for p in workers if _alive(p)]
