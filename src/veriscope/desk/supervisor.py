"""Keeps the desk's worker processes running while the server runs.

A worker that exits (killed, crashed, out of memory) is started again after a short pause that
grows when it keeps dying (1 s, 2 s, ... at most 30 s), so that a poisoned queue does not spin
the machine. The job it held is retried by the queue once its lease runs out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from veriscope.desk import worker as worker_mod


class Supervisor:
    def __init__(self, data_dir: Path, n: int, *, detectors: str | None = None,
                 timeout_s: float = 120.0, lease_s: float = worker_mod.queue.DEFAULT_LEASE_S,
                 engine: str = "local", scheduler: str | None = None,
                 log: Callable[[str], None] = lambda m: None):
        self.data_dir, self.n = Path(data_dir), int(n)
        self.kw = {"detectors": detectors, "timeout_s": timeout_s, "lease_s": lease_s,
                   "engine": engine, "scheduler": scheduler}
        self.log = log
        self.procs: dict[str, object] = {}
        self.restarts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _start(self, name: str):
        self.procs[name] = worker_mod.spawn(self.data_dir, name, **self.kw)

    def start(self) -> None:
        for i in range(self.n):
            self._start(f"worker-{i + 1}")
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        next_start: dict[str, float] = {}
        while not self._stop.wait(0.5):
            for name, p in list(self.procs.items()):
                if p.poll() is None:
                    continue
                if name not in next_start:
                    k = self.restarts.get(name, 0)
                    next_start[name] = time.monotonic() + min(30.0, 2.0 ** k)
                    self.log(f"worker {name} stopped (exit {p.returncode}); restarting")
                elif time.monotonic() >= next_start[name]:
                    del next_start[name]
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    self._start(name)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + timeout_s
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except Exception:
                p.kill()
