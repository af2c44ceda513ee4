"""The desk's worker: takes jobs from the queue, analyses, records the result.

Run by ``veriscope serve`` as separate processes (``python -m veriscope.desk.worker --data
DIR``), so that a crash in native code or a kill takes down one job, never the server: the
job's lease runs out and another worker retries it (queue.py). While a job runs, a thread
renews its lease. The report is written to a folder of its own per attempt
(``reports/<item>-a<attempt>``, built under ``tmp/`` and renamed when complete), so that two
attempts never write into one folder; only the attempt that still holds the lease is recorded.

``--engine dask --scheduler ADDR`` runs the analysis itself on a Dask cluster (the workers
there must see the data folder at the same path); the queue, leases and results stay here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from veriscope.desk import queue
from veriscope.desk.store import Store


def analyze_task(args: tuple) -> dict:
    """Analyse one stored file into ``dest`` (module level: it runs in a worker process or on
    a Dask worker). ``args`` = (source path, display name, dest folder, detectors, timeout_s,
    max_pixels[, post]); ``post``: the caption it was posted with (a checked post dict, or
    None), so that the report gains its ``post`` object. Returns the verdict summary (with
    ``post_label`` for a post), or ``error``."""
    src, name, dest, detectors, timeout_s, max_pixels = args[:6]
    post = args[6] if len(args) > 6 else None
    from veriscope.core import registry
    from veriscope.detectors.base import Context
    from veriscope.pipeline.batch import Job, analyze_one

    dest = Path(dest)
    work = dest.parent / (dest.name + ".in")
    work.mkdir(parents=True, exist_ok=True)
    # the report names the file as it was uploaded; an upload is a media file even when its
    # name ends like a post file (*.post.json), which analyse_one would read as a post
    from veriscope.core.post import is_post_file

    link = work / (name + ".upload" if is_post_file(name) else name)
    try:
        if not link.exists():
            os.symlink(src, link)
        classes = registry.select(detectors)
        out = analyze_one(Job(link, dest, html=True, display=True, post=post), classes,
                          Context(timeout_s=timeout_s), max_pixels=max_pixels)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not out.ok:
        return {"error": out.error.replace(str(link), name), "internal": out.internal}
    rj = dest / "report.json"
    rep = json.loads(rj.read_text(encoding="utf-8"))
    rep["media"]["path"] = name
    rj.write_text(json.dumps(rep, indent=2, ensure_ascii=False), encoding="utf-8")
    v = rep["verdict"]
    return {"verdict": v["label"], "score": v["score"], "band": v["band"],
            "kind": rep["media"]["kind"],
            "detectors": [f"{e['name']} {e['version']}" for e in
                          rep["evidence"] + (rep.get("post") or {}).get("evidence", [])],
            "post_label": (rep.get("post") or {}).get("label")}


class Worker:
    def __init__(self, store: Store, name: str, *, detectors: str | None = None,
                 timeout_s: float = 120.0, max_pixels: int | None = None,
                 lease_s: float = queue.DEFAULT_LEASE_S, engine=None):
        from veriscope.core.media import DEFAULT_MAX_PIXELS

        self.store, self.name = store, name
        self.detectors, self.timeout_s = detectors, timeout_s
        self.max_pixels = max_pixels or DEFAULT_MAX_PIXELS
        self.lease_s, self.engine = lease_s, engine
        self.stop = threading.Event()  # set by another thread (tests, an embedding program)
        self.signalled = False  # set by the SIGTERM handler (never Event.set there: see main)

    def run_one(self) -> bool:
        """Claim and run one job; False when the queue was empty."""
        cl = queue.claim(self.store, self.name, self.lease_s)
        if cl is None:
            return False
        final_rel = f"reports/{cl.item_id}-a{cl.attempt}"
        tmp = self.store.root / "tmp" / f"job{cl.job_id}-a{cl.attempt}-{os.getpid()}"
        lost = threading.Event()
        done = threading.Event()

        def keep_lease():
            while not done.wait(self.lease_s / 3):
                if not queue.renew(self.store, cl, self.lease_s):
                    lost.set()
                    return

        hb = threading.Thread(target=keep_lease, daemon=True)
        hb.start()
        try:
            args = (str(self.store.blob_path(cl.sha256)), cl.name, str(tmp),
                    cl.detectors or self.detectors, self.timeout_s, self.max_pixels, cl.post)
            if self.engine is None:
                res = analyze_task(args)
            else:
                res = next(iter(self.engine.map(analyze_task, [args])))
        except Exception as e:  # a bug or an unknown detector name: final, with the reason
            res = {"error": f"internal error ({type(e).__name__}: {e})", "internal": True}
        finally:
            done.set()
            hb.join()
        if lost.is_set():
            shutil.rmtree(tmp, ignore_errors=True)
            return True
        if "error" in res:
            shutil.rmtree(tmp, ignore_errors=True)
            queue.fail(self.store, cl, res["error"])
            return True
        final = self.store.root / final_rel
        shutil.rmtree(final, ignore_errors=True)  # a dead earlier run of this very attempt
        os.replace(tmp, final)
        if not queue.complete(self.store, cl, report_dir=final_rel, verdict=res["verdict"],
                              score=res["score"], band=res["band"], kind=res["kind"],
                              detectors=res["detectors"], post_label=res.get("post_label")):
            shutil.rmtree(final, ignore_errors=True)
        return True

    def loop(self, poll_s: float = 0.5, once: bool = False, parent: int | None = None) -> None:
        """Run jobs until stopped (or, with ``once``, until the queue is empty). ``parent``: the
        pid of the server that started this worker; when it is gone, stop."""
        while not (self.stop.is_set() or self.signalled):
            if parent is not None and os.getppid() != parent:
                return
            worked = self.run_one()
            if once and not worked:
                return
            if not worked:
                time.sleep(poll_s)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m veriscope.desk.worker",
                                 description="Run desk analysis jobs from the queue.")
    ap.add_argument("--data", required=True, help="the desk data folder")
    ap.add_argument("--name", default=f"worker-{os.getpid()}")
    ap.add_argument("--detectors", default=None)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--lease", type=float, default=queue.DEFAULT_LEASE_S)
    ap.add_argument("--poll", type=float, default=0.5)
    ap.add_argument("--once", action="store_true", help="stop when the queue is empty")
    ap.add_argument("--parent", type=int, default=None,
                    help="stop when the process with this pid (the server) is gone")
    ap.add_argument("--engine", choices=["local", "dask"], default="local")
    ap.add_argument("--scheduler", default=None)
    a = ap.parse_args(argv)
    if a.parent is not None:
        _die_with_parent()
        if os.getppid() != a.parent:  # the server died before the signal was set up
            return 0
    engine = None
    if a.engine == "dask":
        from veriscope.pipeline.engine import make_engine

        engine = make_engine("dask", scheduler=a.scheduler)
    w = Worker(Store(a.data, create=False), a.name, detectors=a.detectors, timeout_s=a.timeout,
               lease_s=a.lease, engine=engine)
    # A handler runs between two bytecodes of the main thread: calling Event.set() there while
    # the main thread holds the event's lock inside Event.wait() deadlocks (seen: a worker
    # orphaned for good). The handler only sets a flag; the loop sleeps and looks.
    def _on_term(signum, frame):
        w.signalled = True

    signal.signal(signal.SIGTERM, _on_term)
    try:
        w.loop(a.poll, once=a.once, parent=a.parent)
    except KeyboardInterrupt:
        pass
    finally:
        if engine is not None:
            engine.close()
    return 0


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGTERM to this worker when its parent dies (a server killed
    with SIGKILL leaves no orphan analysing in the background); elsewhere the loop's parent
    check does it between jobs."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn(data_dir, name: str, *, detectors: str | None = None, timeout_s: float = 120.0,
          lease_s: float = queue.DEFAULT_LEASE_S, engine: str = "local",
          scheduler: str | None = None, poll_s: float = 0.5, once: bool = False,
          tie_to_parent: bool = True):
    """Start a worker process; returns its ``subprocess.Popen``. With ``tie_to_parent`` the
    worker stops when this process ends."""
    import subprocess

    cmd = [sys.executable, "-m", "veriscope.desk.worker", "--data", str(data_dir), "--name", name,
           "--timeout", str(timeout_s), "--lease", str(lease_s), "--poll", str(poll_s),
           "--engine", engine]
    if tie_to_parent:
        cmd += ["--parent", str(os.getpid())]
    if detectors:
        cmd += ["--detectors", detectors]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    if once:
        cmd.append("--once")
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL)


if __name__ == "__main__":  # pragma: no cover - a process of its own
    sys.exit(main())
