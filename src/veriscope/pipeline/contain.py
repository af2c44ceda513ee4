"""Containment: each input is analysed in a worker process that this process watches.

A worker runs :func:`veriscope.pipeline.batch.analyze_one` and says, before each step, what it
is doing (``open``, ``decode``, ``detector:<name>``, ``fusion``, ``stability``, ``write``).
This process (the supervisor) enforces two limits on every worker:

- **time**: a step that runs longer than ``timeout_s`` plus a grace period is stopped. Inside
  the worker, a detector that runs past ``timeout_s`` is already left behind by the runner
  (its thread is abandoned, an error entry is written, the others go on); the supervisor's
  limit catches what the runner cannot: native code that never gives control back.
- **memory**: the worker's resident memory is read every :data:`POLL_S` seconds; above
  ``memory_bytes`` the worker is stopped.

A worker that is stopped, or that dies (a crash in native code, the kernel's out-of-memory
killer), is replaced. When it was running a detector, the input is analysed again without that
detector, which gets an error entry saying what happened (``contained``): one runaway detector
costs its own evidence, never the report. When it was opening, decoding or writing the input,
the input gets a one-line error and the batch goes on. Nothing here trusts the worker: it may
die at any time, and every input still gets a report or an error line, in input order.

Workers are forked from this process (they inherit the loaded detector classes, so a worker
starts in milliseconds); they replace their standard streams with fresh objects and ignore
Ctrl-C, which this process handles by stopping them all.
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from veriscope.core.media import DEFAULT_MAX_PIXELS
from veriscope.detectors.base import Context
from veriscope.pipeline.batch import Job, Outcome, analyze_one, available_memory, cpu_count

POLL_S = 0.05
"""How often the supervisor reads each worker's memory and clocks (seconds)."""

DEFAULT_GRACE_S = 15.0
"""Seconds a step may run past ``timeout_s`` before its worker is stopped. The runner's own
limit (an abandoned thread and an error entry) fires at ``timeout_s``; this margin is for a
step that cannot be left behind that way."""

MIN_MEMORY = 1 << 30
"""The smallest default memory limit per worker (bytes)."""

MEMORY_SHARE = 0.8
"""Default memory limit per worker: this share of the memory available at start, divided
among the workers (at least :data:`MIN_MEMORY`)."""


def default_memory_limit(workers: int = 1) -> int:
    """Bytes of resident memory one worker may use by default."""
    mem = available_memory()
    if mem is None:
        return 4 << 30
    return max(MIN_MEMORY, int(mem * MEMORY_SHARE / max(1, workers)))


def parse_size(text: str) -> int:
    """'512M', '4G', '2.5GiB', '1000000' -> bytes. Raises ValueError."""
    t = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    mult = 1
    if t and t[-1] in "KMGT":
        mult = 1 << (10 * ("KMGT".index(t[-1]) + 1))
        t = t[:-1]
    value = float(t)
    if not value > 0:
        raise ValueError(f"not a positive size: {text!r}")
    return int(value * mult)


@dataclass
class Limits:
    """What one worker may spend. ``timeout_s``: per step (each detector, opening, decoding,
    writing); ``memory_bytes``: resident memory of the worker (None: no limit)."""

    timeout_s: float = 120.0
    memory_bytes: int | None = None
    grace_s: float = DEFAULT_GRACE_S

    def step_limit(self, phase: str, n_detectors: int, stability: int) -> float:
        if phase == "stability":  # every detector again on each variant
            return self.timeout_s * max(1, n_detectors) * max(1, stability) + self.grace_s
        return self.timeout_s + self.grace_s


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (Linux /proc), None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


@contextmanager
def _cv_threads_for_fork(n: int | None):
    """OpenCV's thread count for a worker about to be forked. It is set here, in this process,
    around the fork: a forked child that calls ``cv2.setNumThreads`` after this process has used
    OpenCV's thread pool waits forever on pool threads that were not copied by the fork."""
    if not n:
        yield
        return
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(int(n))
    try:
        yield
    finally:
        cv2.setNumThreads(before)


# ------------------------------------------------------------------ the worker side
def _worker_main(conn, classes, ctx_kw: dict, max_pixels: int, stability: int) -> None:
    """Runs in a forked worker until told to stop (None) or its pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    faulthandler.disable()  # a crash is reported by the supervisor, in one line
    # A fork copies locks in whatever state other threads held them (a progress bar may have
    # been writing): the worker gets standard streams of its own.
    try:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
        sys.stderr = os.fdopen(os.dup(2), "w", encoding="utf-8", errors="replace",
                               buffering=1)
    except OSError:
        pass
    from veriscope.pipeline import runner

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg is None:
            break
        idx, job, skip = msg
        last = [0.0]

        def beat(phase: str, idx=idx) -> None:
            conn.send(("beat", idx, phase))

        def progress(what: str, done: float, total: float, idx=idx, last=last) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.1 or done >= total:
                last[0] = now
                conn.send(("progress", idx, what, float(done), float(total)))

        ctx = Context(progress=progress, **ctx_kw)
        recycle = True
        try:
            out = analyze_one(job, classes, ctx, max_pixels=max_pixels, stability=stability,
                              skip=skip, beat=beat)
            recycle = runner.abandoned_threads() > 0  # a timed-out detector may still run
            conn.send(("done", idx, out, recycle))
        except (OSError, EOFError):  # the supervisor is gone
            break
        except BaseException as e:  # noqa: BLE001 - a bug, or a library calling exit: say so
            out = Outcome(job.path, job.dest, error=f"{job.path}: internal error in the worker "
                          f"({type(e).__name__}: {e})", internal=True,
                          trace=traceback.format_exc())
            try:
                conn.send(("done", idx, out, True))
            except Exception:  # noqa: BLE001 - nothing more can be said from here
                pass
        if recycle:
            break
    try:
        conn.close()
    finally:
        os._exit(0)  # no interpreter teardown: nothing is left to flush or close


# ------------------------------------------------------------------ the supervisor side
@dataclass
class _Task:
    idx: int
    job: Job
    skip: dict = field(default_factory=dict)
    """Detectors stopped on earlier tries, with why: one more per retry, so a task is tried at
    most once per detector (and once more for ``stability``)."""
    dest_existed: bool = False


@dataclass
class _Slot:
    proc: object
    conn: object
    task: _Task | None = None
    phase: str = "idle"
    since: float = 0.0
    stopped: str | None = None  # why the supervisor stopped it


_PHASE_WORDS = {"open": "opening the file", "decode": "decoding it", "fusion": "fusing the evidence",
                "write": "writing the report", "idle": "starting", "dispatch": "starting"}


class ContainedRunner:
    """Analyse jobs in ``workers`` watched worker processes; :meth:`run` yields outcomes in
    input order. ``stats`` counts what containment did (workers stopped or lost, retries)."""

    def __init__(self, classes: Sequence, ctx: Context, *, workers: int = 1,
                 max_pixels: int = DEFAULT_MAX_PIXELS, stability: int = 0,
                 limits: Limits | None = None):
        import multiprocessing as mp

        self.classes = list(classes)
        self.ctx = ctx
        self.workers = max(1, int(workers))
        self.max_pixels, self.stability = max_pixels, stability
        self.limits = limits or Limits(timeout_s=ctx.timeout_s)
        self._mp = mp.get_context("fork")
        self._ctx_kw = {"timeout_s": ctx.timeout_s, "options": ctx.options, "video": ctx.video}
        self._cv_threads = max(1, cpu_count() // self.workers) if self.workers > 1 else None
        self.stats = {"workers_started": 0, "stopped_time": 0, "stopped_memory": 0,
                      "crashed": 0, "retries": 0}

    # -- workers
    def _spawn(self) -> _Slot:
        parent, child = self._mp.Pipe()
        proc = self._mp.Process(target=_worker_main, name="veriscope-worker", daemon=True,
                                args=(child, self.classes, self._ctx_kw, self.max_pixels,
                                      self.stability))
        with _cv_threads_for_fork(self._cv_threads):
            proc.start()
        child.close()
        self.stats["workers_started"] += 1
        return _Slot(proc, parent)

    @staticmethod
    def _stop(slot: _Slot) -> None:
        try:
            slot.proc.kill()
        except (OSError, AttributeError):  # pragma: no cover - already gone
            pass
        slot.proc.join(5)
        try:
            slot.conn.close()
        except OSError:  # pragma: no cover
            pass

    # -- the loop
    def run(self, jobs: Sequence[Job],
            on_start: Callable[[int, Job], None] | None = None) -> Iterator[Outcome]:
        from multiprocessing.connection import wait

        jobs = list(jobs)
        if not jobs:
            return
        pending: deque[_Task] = deque(_Task(i, j) for i, j in enumerate(jobs))
        done: dict[int, Outcome] = {}
        slots = [self._spawn() for _ in range(min(self.workers, len(jobs)))]
        next_out = 0
        try:
            while next_out < len(jobs):
                for k, slot in enumerate(slots):  # hand out work
                    if slot.task is None and pending:
                        task = pending.popleft()
                        if not task.skip:  # its first try
                            task.dest_existed = bool(task.job.dest and Path(task.job.dest).exists())
                            if on_start is not None:
                                on_start(task.idx, task.job)
                        try:
                            slot.conn.send((task.idx, task.job, dict(task.skip)))
                        except (OSError, ValueError):  # the worker is gone: handled below
                            pending.appendleft(task)
                            self._replace(slots, k, None, pending, done)
                            continue
                        slot.task, slot.phase, slot.since = task, "dispatch", time.monotonic()
                busy = [s for s in slots if s.task is not None]
                ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in slots],
                             timeout=POLL_S)
                for k, slot in enumerate(list(slots)):
                    if slot.conn in ready or slot.proc.sentinel in ready:
                        self._drain(slots, k, pending, done)
                self._watch(slots)
                for k, slot in enumerate(list(slots)):
                    if slot.stopped is not None or not slot.proc.is_alive():
                        self._drain(slots, k, pending, done)  # last words, if any
                        if slots[k] is slot and (slot.stopped is not None or not slot.proc.is_alive()):
                            self._replace(slots, k, slot, pending, done)
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
        finally:
            for slot in slots:
                try:
                    slot.conn.send(None)
                except (OSError, ValueError):
                    pass
            for slot in slots:
                slot.proc.join(2)
                if slot.proc.is_alive():
                    self._stop(slot)

    def _drain(self, slots: list, k: int, pending: deque, done: dict) -> None:
        slot = slots[k]
        try:
            while slot.conn.poll():
                msg = slot.conn.recv()
                kind, idx = msg[0], msg[1]
                if slot.task is None or idx != slot.task.idx:
                    continue
                if kind == "beat":
                    slot.phase, slot.since = msg[2], time.monotonic()
                elif kind == "progress":
                    if self.ctx.progress is not None:
                        self.ctx.progress(msg[2], msg[3], msg[4])
                elif kind == "done":
                    done[idx] = msg[2]
                    slot.task, slot.phase = None, "idle"
                    if msg[3]:  # the worker leaves: an abandoned thread may still be running
                        slot.proc.join(5)
                        self._replace(slots, k, slot, pending, done)
                        return
        except Exception:  # noqa: BLE001 - a worker that died mid-message: settled as dead
            pass

    def _watch(self, slots: list) -> None:
        now = time.monotonic()
        n = len(self.classes)
        for slot in slots:
            if slot.task is None or slot.stopped is not None:
                continue
            limit = self.limits.step_limit(slot.phase, n, self.stability)
            if now - slot.since > limit:
                slot.stopped = (f"stopped after {now - slot.since:.0f} s without finishing "
                                f"(limit {self.limits.timeout_s:g} s per step)")
                self.stats["stopped_time"] += 1
                self._stop(slot)
                continue
            if self.limits.memory_bytes:
                rss = rss_bytes(slot.proc.pid)
                if rss is not None and rss > self.limits.memory_bytes:
                    slot.stopped = (f"stopped when its worker used {_mib(rss)}, over the memory "
                                    f"limit of {_mib(self.limits.memory_bytes)}")
                    self.stats["stopped_memory"] += 1
                    self._stop(slot)

    def _replace(self, slots: list, k: int, slot: _Slot | None, pending: deque, done: dict) -> None:
        """Slot ``k``'s worker is gone (stopped, crashed or leaving): settle its input, start a
        new worker."""
        slot = slot or slots[k]
        if slot.proc.is_alive():
            self._stop(slot)
        else:
            slot.proc.join(1)
            try:
                slot.conn.close()
            except OSError:  # pragma: no cover
                pass
        task = slot.task
        if task is not None:
            if slot.stopped is not None:
                why = slot.stopped
            else:
                code = slot.proc.exitcode
                self.stats["crashed"] += 1
                why = (f"crashed ({_signal_name(code)})" if code is not None and code < 0
                       else f"ended its process (exit status {code})")
                if code == -signal.SIGKILL:
                    why += "; killed from outside, perhaps by the system for lack of memory"
            self._settle(task, slot.phase, why, pending, done)
        slots[k] = self._spawn()

    def _settle(self, task: _Task, phase: str, why: str, pending: deque, done: dict) -> None:
        job = task.job
        if phase.startswith("detector:") or phase == "stability":
            name = phase.removeprefix("detector:")
            if name not in task.skip:
                task.skip[name] = f"{why}; contained: the other detectors ran without it"
                self.stats["retries"] += 1
                if job.dest and not task.dest_existed:
                    shutil.rmtree(job.dest, ignore_errors=True)  # what the stopped try left
                pending.appendleft(task)
                return
        words = _PHASE_WORDS.get(phase, phase)
        done[task.idx] = Outcome(Path(job.path), job.dest,
                                 error=f"{job.path}: analysis {why} while {words}")


def run_contained(jobs: Sequence[Job], classes: Sequence, ctx: Context, *, workers: int = 1,
                  max_pixels: int = DEFAULT_MAX_PIXELS, stability: int = 0,
                  limits: Limits | None = None,
                  on_start: Callable[[int, Job], None] | None = None) -> Iterator[Outcome]:
    """Outcomes of ``jobs`` in their order, each analysed in a watched worker process."""
    runner = ContainedRunner(classes, ctx, workers=workers, max_pixels=max_pixels,
                             stability=stability, limits=limits)
    yield from runner.run(jobs, on_start=on_start)
