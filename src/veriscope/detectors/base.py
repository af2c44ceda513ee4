"""The detector plugin contract.

A detector is a class with a few declarative attributes and one ``analyze``
method. It is registered under the entry-point group ``veriscope.detectors``
(built-ins are registered the same way in ``pyproject.toml``). Heavy imports
belong inside ``analyze`` so that listing detectors stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media


@dataclass
class Context:
    """Run-time settings shared by all detectors for one input."""

    timeout_s: float = 120.0
    options: dict | None = None  # per-detector options: {detector_name: {key: value}}
    video: dict | None = None
    """Video settings of the run: ``fps`` or ``frames`` (frame sampling for the frame-level
    detectors), ``max_seconds`` (analysed duration cap); see :class:`veriscope.core.video.SamplingPolicy`."""
    progress: Callable[[str, float, float], None] | None = None
    """Called as ``progress(what, done, total)`` by long detectors (e.g. seconds of video)."""
    post: dict | None = None
    """The post this input belongs to (:mod:`veriscope.core.post`: caption and the claimed date,
    place and source), or None for a plain file. Read by the ``post`` family."""

    def opts(self, name: str) -> dict:
        return dict((self.options or {}).get(name, {}))

    def tick(self, what: str, done: float, total: float) -> None:
        """Report progress of long work; never lets a broken callback break a detector."""
        if self.progress is not None:
            try:
                self.progress(what, float(done), float(total))
            except Exception:
                pass


class Detector:
    """Base class. Subclasses set the class attributes and implement :meth:`analyze`."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    modalities: ClassVar[tuple[str, ...]] = ("image",)
    formats: ClassVar[tuple[str, ...] | None] = None  # None: every format of the modalities
    requires: ClassVar[tuple[str, ...]] = ()  # importable modules it needs
    localizes: ClassVar[bool] = False  # produces a heatmap
    default: ClassVar[bool] = True  # part of the default set
    summary: ClassVar[str] = ""  # one line for `veriscope detectors`
    looks_at: ClassVar[str] = ""  # "what this looks at", shown in the report
    cannot_tell: ClassVar[str] = ""  # "what it cannot tell", shown in the report
    how_to_read: ClassVar[str] = ""  # how to read its map or curve, shown next to it
    claims: ClassVar[str] = "manipulated"  # what a score >= 0.5 stands for (video_frames reads it)
    needs_post: ClassVar[bool] = False
    """A check of a post's caption (the ``post`` family): run only when the input comes with a
    post, and left out of the image verdict (its evidence goes to the report's ``post``)."""

    def applicable(self, media: Media) -> str | None:
        """Return None when the detector applies, else the reason it does not."""
        if media.kind not in self.modalities:
            return f"applies to {'/'.join(self.modalities)}, not {media.kind}"
        if self.formats is not None and media.format not in self.formats:
            return f"applies to {'/'.join(self.formats)} files, not {media.format}"
        return None

    def analyze(self, media: Media, ctx: Context) -> Evidence:  # pragma: no cover - abstract
        raise NotImplementedError

    # helpers for subclasses
    def evidence(self, **kw) -> Evidence:
        return Evidence(name=self.name, version=self.version, **kw)

    @classmethod
    def missing_requirements(cls) -> list[str]:
        import importlib.util

        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    @classmethod
    def describe(cls) -> dict:
        return {"name": cls.name, "version": cls.version, "modalities": list(cls.modalities),
                "formats": list(cls.formats) if cls.formats else None,
                "requires": list(cls.requires), "localizes": cls.localizes,
                "default": cls.default, "summary": cls.summary, "looks_at": cls.looks_at,
                "cannot_tell": cls.cannot_tell, "how_to_read": cls.how_to_read}


class FaceVideoDetector(Detector):
    """Base of the video detectors that need face landmarks (``veriscope.signals.faces``): they do not
    apply when the face models cannot be loaded."""

    modalities: ClassVar[tuple[str, ...]] = ("video",)

    def applicable(self, media: Media) -> str | None:
        why = super().applicable(media)
        if why:
            return why
        from veriscope.signals.faces import available

        return available()

    def over_video(self, media: Media, ctx: Context, work: Callable, failed: str):
        """:func:`over_video`, and not applicable when the face models are missing."""
        from veriscope.signals.faces import available

        why = available()
        if why:
            return None, Evidence.not_applicable(self.name, self.version, why)
        return over_video(self, media, ctx, work, failed)


def over_video(det: Detector, media: Media, ctx: Context, work: Callable, failed: str,
               label: str | None = None):
    """Run ``work(max_seconds=..., progress=...)`` for ``det`` with the analysed-duration cap of
    ``ctx`` and a progress callback over video time (shown as ``label``, default the detector's
    name). Returns ``(result, None)``, or ``(None, not-applicable Evidence)`` when the video
    cannot be decoded (``failed`` starts that reason)."""
    from veriscope.core.errors import MediaError
    from veriscope.core.video import analysed_seconds, policy_from

    cap = policy_from(ctx).max_seconds
    total = analysed_seconds(media, cap)
    what = label or det.name
    try:
        return work(max_seconds=cap, progress=lambda t: ctx.tick(what, t, total)), None
    except MediaError as e:
        return None, Evidence.not_applicable(det.name, det.version, f"{failed}: {e.message}")


def video_scan(det: Detector, media: Media, ctx: Context):
    """The shared, cached per-frame scan (:func:`veriscope.core.video.scan`) under ``ctx``'s sampling
    policy, with progress shown as "<detector>: scanning". Returns ``(scan, policy, None)``, or
    ``(None, policy, not-applicable Evidence)`` when the video cannot be decoded."""
    from veriscope.core.video import policy_from, scan

    sc, na = over_video(det, media, ctx, lambda **kw: scan(media, **kw),
                        "the video cannot be decoded", label=f"{det.name}: scanning")
    return sc, policy_from(ctx), na


def working_rgb(media: Media, max_pixels: int) -> tuple:
    """The decoded RGB image, downscaled (INTER_AREA) if it has more than ``max_pixels``.

    Returns (rgb uint8 array, scale) with scale = working size / original size (1.0 when
    untouched). Detectors that downscale must say so in a finding and upsample their map
    (the report writer resizes maps to the input size).
    """
    rgb = media.rgb()
    h, w = rgb.shape[:2]
    if h * w <= max_pixels:
        return rgb, 1.0
    import cv2

    # one copy per size and input, shared by the detectors that ask for it (noise and
    # splicebuster both work on 1 MP), read-only like media.rgb()
    cache = media.__dict__.setdefault("_working_rgb", {})
    key = (int(max_pixels), id(rgb))  # the entry holds rgb, so its id is not reused meanwhile
    if key not in cache:
        s = (max_pixels / (h * w)) ** 0.5
        out = cv2.resize(rgb, (max(1, int(w * s)), max(1, int(h * s))),
                         interpolation=cv2.INTER_AREA)
        out.setflags(write=False)
        if len(cache) >= 4:
            cache.clear()
        cache[key] = (out, s, rgb)
    out, s, _ = cache[key]
    return out, s


def sigmoid(x):
    """Logistic function, clipped so large inputs do not overflow (scores from statistics)."""
    import numpy as np

    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
