"""Run detectors on one input, isolated from each other, and fuse their evidence."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Sequence

from veriscope.core import registry, timing
from veriscope.core.errors import MediaError
from veriscope.core.evidence import Evidence
from veriscope.core.fusion import fuse
from veriscope.core.media import DEFAULT_MAX_PIXELS, Media
from veriscope.detectors.base import Context, Detector
from veriscope.report.document import Report

DEFAULT_TIMEOUT_S = 120.0

_ABANDONED: list[threading.Thread] = []


def abandoned_threads() -> int:
    """Detector threads left behind after their time limit that are still running."""
    _ABANDONED[:] = [t for t in _ABANDONED if t.is_alive()]
    return len(_ABANDONED)


def run_detector(det: Detector, media: Media, ctx: Context) -> Evidence:
    """Run one detector with a time limit; any failure becomes an error entry.

    The detector runs in a daemon thread: past ``ctx.timeout_s`` the run moves
    on and records a timeout (the thread is abandoned; Python cannot kill it,
    but it will not keep the process alive at exit).
    """
    name, version = det.name, det.version
    missing = det.missing_requirements()
    if missing:
        return Evidence.not_applicable(
            name, version, f"needs the Python module(s) {', '.join(missing)}, not installed")
    reason = det.applicable(media)
    if reason:
        return Evidence.not_applicable(name, version, reason)

    box: dict = {}

    def target():
        try:
            box["ev"] = det.analyze(media, ctx)
        except MediaError as e:
            box["err"] = e.message
        except MemoryError:
            box["err"] = "ran out of memory"
        except Exception as e:  # isolation: one detector never breaks a run
            box["err"] = f"{type(e).__name__}: {e}"
            box["tb"] = traceback.format_exc()

    t0 = time.perf_counter()
    th = threading.Thread(target=target, name=f"veriscope-{name}", daemon=True)
    th.start()
    th.join(ctx.timeout_s)
    elapsed = time.perf_counter() - t0
    if th.is_alive():
        _ABANDONED.append(th)
        ev = Evidence.failed(name, version, f"timed out after {ctx.timeout_s:g} s")
    elif "err" in box:
        ev = Evidence.failed(name, version, box["err"])
        if "tb" in box:
            ev.data["traceback"] = box["tb"]
    else:
        ev = box.get("ev")
        if not isinstance(ev, Evidence):
            ev = Evidence.failed(name, version, f"returned {type(ev).__name__}, not Evidence")
    ev.elapsed_s = round(elapsed, 6)
    return ev


def _no_beat(phase: str) -> None:
    pass


def _run_each(classes, media: Media, ctx: Context, skip: dict[str, str] | None,
              beat: Callable[[str], None]) -> list[Evidence]:
    """Each detector in turn (:func:`run_detector`); those in ``skip`` get an error entry
    marked ``contained`` instead of running."""
    evidence = []
    for cls in classes:
        if skip and cls.name in skip:
            ev = Evidence.failed(cls.name, cls.version, skip[cls.name])
            ev.data["contained"] = True
        else:
            beat(f"detector:{cls.name}")
            ev = run_detector(cls(), media, ctx)
            if ev.elapsed_s is not None:
                timing.add(f"detector.{ev.name}", ev.elapsed_s)
        evidence.append(ev)
    return evidence


def analyze_media(media: Media, detectors: Sequence[type[Detector]] | None = None,
                  ctx: Context | None = None, *, skip: dict[str, str] | None = None,
                  beat: Callable[[str], None] | None = None) -> Report:
    """Decode ``media``, run each detector (isolated: :func:`run_detector`), fuse.

    ``skip``: detectors not to run, with the reason (containment stopped them on an earlier
    try: :mod:`veriscope.pipeline.contain`); each gets an error entry marked ``contained``.
    ``beat(step)`` is called before each step (``decode``, ``detector:<name>``, ``fusion``).
    """
    ctx = ctx or Context(timeout_s=DEFAULT_TIMEOUT_S)
    beat = beat or _no_beat
    classes = list(detectors) if detectors is not None else registry.select(None)
    # the checks of a caption run only with a post, apart from the image's detectors
    post_classes = [c for c in classes if getattr(c, "needs_post", False)]
    classes = [c for c in classes if not getattr(c, "needs_post", False)]
    if ctx.post is not None and not post_classes:
        post_classes = [c for c in registry.select(None) if getattr(c, "needs_post", False)]
    t0 = time.perf_counter()
    beat("decode")
    with timing.phase("decode"):
        media.decode()  # a broken file fails here, once, with a clear MediaError
    evidence = _run_each(classes, media, ctx, skip, beat)
    beat("fusion")
    with timing.phase("fusion"):
        verdict = fuse(evidence, kind=media.kind)
    post_evidence, post = [], None
    if ctx.post is not None:
        from veriscope.core.post import summarize

        post_evidence = _run_each(post_classes, media, ctx, skip, beat)
        post = summarize(ctx.post, post_evidence, evidence, verdict.label)
    return Report(media=media, evidence=evidence, verdict=verdict,
                  elapsed_s=time.perf_counter() - t0,
                  detectors_requested=[c.name for c in classes],
                  post=post, post_evidence=post_evidence)


def analyze_path(path, detectors: str | Sequence | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 max_pixels: int = DEFAULT_MAX_PIXELS, options: dict | None = None,
                 video: dict | None = None, post: dict | None = None) -> Report:
    """Open ``path``, run the detectors (names, classes, or None for the default set), fuse.
    ``video``: :attr:`Context.video` (frame sampling and duration cap of videos). ``post``: a
    checked post dict (:func:`veriscope.core.post.make_post`); a ``*.post.json`` path brings its
    own (giving both is an error).

    Raises :class:`MediaError` for input that cannot be analysed at all, :class:`PostError`
    for a post that cannot be used.
    """
    from veriscope.core.post import PostError, is_post_file, load_post_file

    if is_post_file(path):
        if post is not None:
            raise PostError(f"{path}: a post file brings its own caption; do not give another")
        path, post = load_post_file(path)
    if detectors is None or isinstance(detectors, str):
        classes = registry.select(detectors)
    else:
        classes = [registry.load(d) if isinstance(d, str) else d for d in detectors]
    media = Media.open(path, max_pixels=max_pixels)
    return analyze_media(media, classes, Context(timeout_s=timeout_s, options=options, video=video,
                                                 post=post))
