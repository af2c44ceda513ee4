#!/usr/bin/env python
"""The desk under load and faults, on loopback only, as a user runs it (`veriscope serve`).

Protocol (each run a fresh data folder and fresh `veriscope serve` processes on 127.0.0.1):

1. **Queue and faults**: N small distinct PNGs (96x128 noise, about 37 kB; ``--jobs``, default
   1000) uploaded through the API by 4 client threads (upload throughput and latency) while no
   worker runs, then analysed by ``serve --workers 2`` with the cheap detectors ``metadata,jpeg_tables`` (so that the figure
   is the queue's, not the detectors'), lease 3 s. While the queue drains, a worker process is
   killed with SIGKILL ``--kills`` times (default 5) and the server itself is stopped and
   started again once halfway; a thread reads the file page of a random done item every
   0.2 s (p50 / p95 latency). At the end: jobs lost (not done), results per job (must be 1),
   the audit chain.
2. **Drain rate, 1 vs 2 workers**: the same cheap jobs (``--drain-jobs``, default 300) with 1
   and then 2 workers, no faults.
3. **Real pictures, 1 vs 2 workers**: the 24 photos of
   ``../shared/data/pristine-kodak24-cbsd68-mcmaster/kodak24`` (500x500 PNG) with the default detector set,
   as a desk user gets them.

Writes benchmarks/results/desk_load.json and prints a Markdown summary.
Usage: .venv/bin/python benchmarks/desk_load.py [--jobs 1000] [--kills 5] [--drain-jobs 300]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CHEAP = "metadata,jpeg_tables"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Desk:
    def __init__(self, data: Path, workers: int, detectors: str | None, lease: float = 3.0):
        self.data, self.workers, self.detectors, self.lease = data, workers, detectors, lease
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.key = subprocess.run([sys.executable, "-m", "veriscope.cli", "desk", "key", "bench",
                                   "--data", str(data)], check=True, capture_output=True,
                                  text=True).stdout.strip()
        self.proc = None
        self.start()

    def start(self):
        cmd = [sys.executable, "-m", "veriscope.cli", "serve", "--data", str(self.data), "--port",
               str(self.port), "--workers", str(self.workers), "--lease", str(self.lease)]
        if self.detectors:
            cmd += ["--detectors", self.detectors]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                if httpx.get(self.base + "/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the desk did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)

    def worker_pids(self) -> list[int]:
        kids = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                kids += [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                pass
        return kids

    def stats(self) -> dict:
        return httpx.get(self.base + "/api/v1/health", timeout=10).json()["queue"]

    @property
    def headers(self):
        return {"X-API-Key": self.key}


def _png(i: int) -> bytes:
    a = (np.random.default_rng(i).random((96, 128, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def upload_all(desk: Desk, files: list[tuple[str, bytes]], threads: int = 4) -> dict:
    cid = httpx.post(desk.base + "/api/v1/cases", json={"name": "load"}, headers=desk.headers,
                     timeout=30).json()["id"]
    lat, lock, todo = [], threading.Lock(), list(enumerate(files))

    def run():
        with httpx.Client(timeout=60) as c:
            while True:
                with lock:
                    if not todo:
                        return
                    _, (name, data) = todo.pop()
                t = time.perf_counter()
                r = c.post(f"{desk.base}/api/v1/cases/{cid}/items", params={"name": name},
                           content=data, headers=desk.headers)
                r.raise_for_status()
                with lock:
                    lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    return {"case": cid, "files": len(files), "wall_s": round(wall, 2),
            "files_per_s": round(len(files) / wall, 1), **_pct(lat, "upload")}


def _pct(xs: list[float], name: str) -> dict:
    if not xs:
        return {}
    xs = sorted(xs)
    return {f"{name}_p50_ms": round(1000 * statistics.median(xs), 1),
            f"{name}_p95_ms": round(1000 * xs[int(0.95 * (len(xs) - 1))], 1),
            f"{name}_n": len(xs)}


def drain(desk: Desk, total: int, *, kills: int = 0, restart: bool = False,
          page_probe: bool = False, timeout_s: float = 3600) -> dict:
    """Wait for the queue to empty, killing workers and restarting the server on the way."""
    t0 = time.perf_counter()
    page_lat, stop = [], threading.Event()

    def probe():  # the file page of a done item, as a signed-in browser asks for it
        with httpx.Client(timeout=30) as c:
            c.post(desk.base + "/login", data={"key": desk.key})
            while not stop.wait(0.2):
                try:
                    done = c.get(desk.base + "/api/v1/search", params={"verdict": ""},
                                 headers=desk.headers).json()
                    ids = [i["id"] for i in done if i["state"] == "done"]
                    if not ids:
                        continue
                    t = time.perf_counter()
                    r = c.get(f"{desk.base}/items/{random.choice(ids)}")
                    if r.status_code == 200:
                        page_lat.append(time.perf_counter() - t)
                except httpx.HTTPError:  # the server is restarting
                    time.sleep(0.2)

    th = threading.Thread(target=probe, daemon=True)
    if page_probe:
        th.start()
    killed, restarted = 0, False
    while time.perf_counter() - t0 < timeout_s:
        try:
            st = desk.stats()
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if st["queued"] == 0 and st["running"] == 0:
            break
        frac = st["done"] / total
        if killed < kills and frac >= (killed + 1) / (kills + 2) and st["running"]:
            pids = desk.worker_pids()
            if pids:
                os.kill(random.choice(pids), signal.SIGKILL)
                killed += 1
        if restart and not restarted and frac >= 0.5:
            desk.stop()
            desk.start()
            restarted = True
        time.sleep(0.1)
    wall = time.perf_counter() - t0
    stop.set()
    st = desk.stats()
    return {"wall_s": round(wall, 2), "jobs_per_s": round(st["done"] / wall, 2), "kills": killed,
            "server_restarted": restarted, "final": st, **_pct(page_lat, "file_page")}


def integrity(data: Path) -> dict:
    from veriscope.desk.store import Store

    s = Store(data, create=False)
    with s.read() as c:
        jobs = c.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        done = c.execute("SELECT COUNT(*) FROM jobs WHERE state = 'done'").fetchone()[0]
        results = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        dup = c.execute("SELECT COUNT(*) FROM (SELECT item_id FROM results GROUP BY item_id "
                        "HAVING COUNT(*) > 1)").fetchone()[0]
        retried = c.execute("SELECT COUNT(*) FROM jobs WHERE attempts > 1").fetchone()[0]
        first, last = c.execute("SELECT MIN(started), MAX(finished) FROM jobs").fetchone()
    chk = s.verify_audit()
    from datetime import datetime

    span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds() \
        if first and last else None
    return {"jobs": jobs, "lost": jobs - done, "results": results, "duplicated": dup,
            "retried": retried, "audit_ok": chk.ok, "audit_rows": chk.rows,
            # the queue's own clock: first claim to last result (worker start-up excluded)
            "span_s": round(span, 2) if span else None,
            "jobs_per_s_span": round(done / span, 2) if span else None}


def markdown(res: dict) -> str:
    fu, fd, fi = res["faults_upload"], res["faults_drain"], res["faults_integrity"]
    lines = [f"## Desk under load and faults ({res['cores']} cores, load average "
             f"{res['load_start']:.1f} -> {res['load_end']:.1f})", "",
             f"- uploads: {fu['files']} files through the API, 4 clients: {fu['files_per_s']} "
             f"files/s, p50 {fu['upload_p50_ms']} ms, p95 {fu['upload_p95_ms']} ms",
             f"- drain with 2 workers, {fd['kills']} workers killed (SIGKILL), server restarted: "
             f"{fd['server_restarted']}: {fi['jobs']} jobs, {fi['lost']} lost, "
             f"{fi['duplicated']} duplicated, {fi['retried']} retried, audit chain intact: "
             f"{fi['audit_ok']}; {fi['jobs_per_s_span']} jobs/s; file page p50 "
             f"{fd.get('file_page_p50_ms')} ms, p95 {fd.get('file_page_p95_ms')} ms "
             f"(n={fd.get('file_page_n')})", "",
             "| run | workers | jobs | jobs/s (first claim to last result) | file page p95 ms |",
             "|---|---|---|---|---|"]
    for kind in ("drain", "photos"):
        for n in (1, 2):
            r = res.get(f"{kind}_{n}")
            if r:
                lines.append(f"| {kind} | {n} | {r['integrity']['jobs']} | "
                             f"{r['integrity']['jobs_per_s_span']} | "
                             f"{r.get('file_page_p95_ms', '')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--drain-jobs", type=int, default=300)
    ap.add_argument("--photos", type=int, default=24)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "desk_load.json")
    a = ap.parse_args(argv)
    random.seed(0)
    res: dict = {"cores": len(os.sched_getaffinity(0)), "load_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="veriscope-desk-load-") as tmp:
        tmp = Path(tmp)
        # 1. faults
        desk = Desk(tmp / "faults", 0, CHEAP)
        files = [(f"{i:05d}.png", _png(i)) for i in range(a.jobs)]
        res["faults_upload"] = upload_all(desk, files)
        desk.stop()  # the whole queue waits; then two workers drain it, with faults
        desk.workers = 2
        desk.start()
        res["faults_drain"] = drain(desk, a.jobs, kills=a.kills, restart=True, page_probe=True)
        desk.stop()
        res["faults_integrity"] = integrity(tmp / "faults")
        # 2. drain rate, cheap detectors
        for n in (1, 2):
            desk = Desk(tmp / f"drain{n}", 0, CHEAP)
            upload_all(desk, files[: a.drain_jobs])
            desk.stop()
            desk.workers = n
            desk.start()
            res[f"drain_{n}"] = drain(desk, a.drain_jobs)
            desk.stop()
            res[f"drain_{n}"]["integrity"] = integrity(tmp / f"drain{n}")
        # 3. real photos, default detectors
        folder = SHARED / "pristine-kodak24-cbsd68-mcmaster"
        photos = sorted((folder / "kodak24").glob("*.png"))[: a.photos]
        pfiles = [(p.name, p.read_bytes()) for p in photos]
        for n in (1, 2):
            desk = Desk(tmp / f"photos{n}", 0, None, lease=60)
            upload_all(desk, pfiles)
            desk.stop()
            desk.workers = n
            desk.start()
            res[f"photos_{n}"] = drain(desk, len(pfiles), page_probe=True)
            desk.stop()
            res[f"photos_{n}"]["integrity"] = integrity(tmp / f"photos{n}")
        res["photos"] = {"folder": str(folder.relative_to(SHARED)), "n": len(pfiles),
                         "sizes": sorted({Image.open(p).size for p in photos})}
    res["load_end"] = os.getloadavg()[0]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=2))
    print(markdown(res))
    return 0 if res["faults_integrity"]["lost"] == 0 and res["faults_integrity"]["duplicated"] == 0 \
        else 1


if __name__ == "__main__":
    sys.exit(main())
