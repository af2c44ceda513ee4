"""Many inputs, one or several worker processes, results in input order.

``veriscope analyze --workers N`` (and any caller with a list of files) goes through
:func:`analyze_many`. Each input is analysed by :func:`analyze_one`, the same function in one
process or in N: a worker opens the file, runs the detectors, adds the stability evidence
when asked, writes the report folder and sends back only the verdict (and the JSON text when
asked), so that results cross process boundaries cheaply. Outcomes come back in the order of
the inputs, whatever order the workers finish in.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from veriscope.core.errors import VeriscopeError
from veriscope.core.fusion import Verdict
from veriscope.core.media import DEFAULT_MAX_PIXELS, Media
from veriscope.detectors.base import Context

WORKER_MEMORY = 2 << 30
"""Memory set aside per worker when choosing the default number of workers (bytes): the
largest inputs the limits admit (120 MP pictures, 600 s of video) peak below this."""


@dataclass
class Job:
    """One input: where it is, where its report folder goes (None: not written), whether to
    write report.html (and display.jpg: :meth:`Report.write`) and to return the report as
    JSON text."""

    path: Path
    dest: Path | None = None
    html: bool = True
    want_json: bool = False
    display: bool = False
    post: dict | None = None
    """The post this picture belongs to (:mod:`veriscope.core.post`); a ``path`` ending in
    ``.post.json`` is read as one (the picture it names is analysed)."""


@dataclass
class Outcome:
    """What became of one :class:`Job`: a verdict, or an error (``internal``: a bug, not bad
    input; ``trace`` holds its traceback)."""

    path: Path
    dest: Path | None = None
    verdict: Verdict | None = None
    json: str | None = None
    error: str | None = None
    internal: bool = False
    trace: str | None = None
    post: dict | None = None
    """For a post: its ``label`` and ``summary`` (:func:`veriscope.core.post.summarize`)."""
    timings: dict | None = None
    """Seconds per phase of this input (open, decode, detector.<name>, fusion, write.*):
    :mod:`veriscope.core.timing`."""

    @property
    def ok(self) -> bool:
        return self.error is None


def analyze_one(job: Job, classes: Sequence, ctx: Context, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                stability: int = 0, skip: dict[str, str] | None = None,
                beat: Callable[[str], None] | None = None) -> Outcome:
    """Analyse one input; never raises for bad input or a detector bug (KeyboardInterrupt
    aside): the outcome says what went wrong. ``skip`` and ``beat``: see
    :func:`veriscope.pipeline.runner.analyze_media` (``beat`` also hears ``open``,
    ``stability`` and ``write``; ``skip`` may name ``stability``)."""
    from veriscope.core import timing
    from veriscope.pipeline.runner import analyze_media

    p = Path(job.path)
    beat = beat or (lambda phase: None)
    timing.take()  # this input's phases only
    try:
        beat("open")
        from veriscope.core.post import PostError, is_post_file, load_post_file

        image, post = p, job.post
        if is_post_file(p):
            if post is not None:
                raise PostError(f"{p}: a post file brings its own caption; do not give another")
            image, post = load_post_file(p)
        if post is not None:
            ctx = replace(ctx, post=post)
        with timing.phase("open"):
            media = Media.open(image, max_pixels=max_pixels)
        report = analyze_media(media, classes, ctx, skip=skip, beat=beat)
        if stability and skip and "stability" in skip:
            from veriscope.core.evidence import Evidence
            from veriscope.pipeline.stability import NAME, VERSION

            st = Evidence.failed(NAME, VERSION, skip["stability"])
            st.data["contained"] = True
            report.evidence.append(st)
        elif stability:
            from veriscope.core.fusion import apply_stability
            from veriscope.pipeline.stability import assess

            beat("stability")
            st = assess(media, report, classes, replace(ctx, post=None), stability)
            report.evidence.append(st)
            if st.applicable and not st.error:
                apply_stability(report.verdict, st.data)
        beat("write")
        if job.dest is not None:
            report.write(job.dest, html=job.html, display=job.display)
        return Outcome(p, job.dest, verdict=report.verdict,
                       json=report.to_json() if job.want_json else None, timings=timing.take(),
                       post=None if report.post is None else {
                           k: report.post[k] for k in ("label", "summary")})
    except VeriscopeError as e:
        return Outcome(p, job.dest, error=str(e), timings=timing.take())
    except KeyboardInterrupt:
        raise
    except Exception as e:  # last line of defence: one line for the user, the trace on request
        return Outcome(p, job.dest, error=f"{p}: internal error ({type(e).__name__}: {e})",
                       internal=True, trace=traceback.format_exc())


def available_memory() -> int | None:
    """Bytes of memory available to new work (MemAvailable on Linux), None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers(n_inputs: int) -> int:
    """The number of cores, capped by memory (one worker per :data:`WORKER_MEMORY` available)
    and by the number of inputs; at least 1."""
    n = cpu_count()
    mem = available_memory()
    if mem is not None:
        n = min(n, max(1, mem // WORKER_MEMORY))
    return max(1, min(n, n_inputs))


# ------------------------------------------------------------------ worker processes
_W: dict = {}


def _init_worker(names: list[str], ctx_kw: dict, max_pixels: int, stability: int,
                 cv_threads: int | None = None) -> None:
    """Runs once in each worker: loads the detector classes by name. BLAS keeps its default
    threads: with one thread per worker, splicebuster's PCA differs from a one-worker run in
    the last digits (seen on the shared data), and reports must be identical. OpenCV's thread
    pool is cut to the worker's share of the cores (``cv_threads``): N workers each running
    as many OpenCV threads as there are cores oversubscribe the machine (issue 20)."""
    if cv_threads:
        import cv2

        cv2.setNumThreads(int(cv_threads))
    from veriscope.core import registry

    _W.update(classes=[registry.load(n) for n in names], ctx=Context(**ctx_kw),
              max_pixels=max_pixels, stability=stability)


def _run_in_worker(job: Job) -> Outcome:
    return analyze_one(job, _W["classes"], _W["ctx"], max_pixels=_W["max_pixels"],
                       stability=_W["stability"])


def analyze_many(jobs: Sequence[Job], classes: Sequence, ctx: Context, *, workers: int = 1,
                 max_pixels: int = DEFAULT_MAX_PIXELS, stability: int = 0,
                 on_start: Callable[[int, Job], None] | None = None) -> Iterator[Outcome]:
    """Outcomes of ``jobs`` in their order, without containment (the contained form, which
    the CLI uses, is :func:`veriscope.pipeline.contain.run_contained`, same arguments plus
    ``limits``). ``workers`` == 1 runs here, in this process; more analyses them in a
    process pool (detectors are loaded there by name, so ``classes`` must be registered
    detectors; ``ctx.progress`` is only called in-process, ``on_start`` before each
    in-process job). A pool worker that dies turns its input and those still queued into
    errors, never a hang."""
    jobs = list(jobs)
    workers = max(1, min(int(workers), len(jobs)))
    if workers == 1:
        for i, job in enumerate(jobs):
            if on_start is not None:
                on_start(i, job)
            yield analyze_one(job, classes, ctx, max_pixels=max_pixels, stability=stability)
        return

    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx_kw = {"timeout_s": ctx.timeout_s, "options": ctx.options, "video": ctx.video}
    names = [c.name for c in classes]
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method),
                               initializer=_init_worker,
                               initargs=(names, ctx_kw, max_pixels, stability,
                                         max(1, cpu_count() // workers)))
    try:
        futures = [pool.submit(_run_in_worker, job) for job in jobs]
        for job, fut in zip(jobs, futures, strict=True):
            try:
                yield fut.result()
            except BrokenProcessPool:
                yield Outcome(Path(job.path), job.dest, error=f"{job.path}: a worker process "
                              "died (crash or out of memory) before this input was done",
                              internal=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
