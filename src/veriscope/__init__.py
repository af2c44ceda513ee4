"""veriscope: multimodal media forensics.

The public surface is small on purpose; everything else is internal and may move:

- :func:`analyze` (run the applicable detectors on one file and fuse them into a
  :class:`Report`), :class:`Report` (``.verdict``, ``.evidence``, ``.to_dict()``,
  ``.write(dir)``);
- :class:`Media` (what is analysed), :class:`Evidence` (what one detector says about it) and
  its parts :class:`Finding`, :class:`Segment`, :class:`Box`, :class:`Token`;
- :class:`Detector` and :class:`Context`, to write a detector plugin (docs/plugins.md);
- :class:`VeriscopeError` and :class:`MediaError` (input that cannot be analysed).

>>> import veriscope
>>> report = veriscope.analyze("photo.jpg")                  # doctest: +SKIP
>>> report.verdict.label, report.verdict.score               # doctest: +SKIP
>>> report.write("out/photo")                                # report.json, report.html, maps/
"""

from veriscope.core.errors import MediaError, VeriscopeError
from veriscope.core.evidence import Box, Evidence, Finding, Segment, Token
from veriscope.core.media import DEFAULT_MAX_PIXELS, Media
from veriscope.core.version import __version__
from veriscope.detectors.base import Context, Detector
from veriscope.report.document import Report


def analyze(path, detectors=None, *, timeout_s: float = 120.0, max_pixels: int = DEFAULT_MAX_PIXELS,
            options: dict | None = None, video: dict | None = None) -> Report:
    """Analyse one file and return its :class:`Report`.

    ``detectors``: None for the default set, ``"all"``, a comma-separated string of names, or
    a list of names and/or :class:`Detector` classes. ``timeout_s``: seconds each detector
    may take. ``max_pixels``: refuse images whose header claims more (default 120 MP).
    ``options``: per-detector options, e.g. ``{"c2pa": {"trust_anchors": "anchors.pem"}}``.
    ``video``: frame sampling of videos, ``{"fps": 1}`` or ``{"frames": 30}``, and
    ``{"max_seconds": 600}``. Raises :class:`MediaError` for input that cannot be analysed.
    """
    from veriscope.pipeline.runner import analyze_path

    return analyze_path(path, detectors, timeout_s=timeout_s, max_pixels=max_pixels,
                        options=options, video=video)


__all__ = [
    "__version__",
    "Box",
    "Context",
    "Detector",
    "Evidence",
    "Finding",
    "Media",
    "MediaError",
    "Report",
    "Segment",
    "Token",
    "VeriscopeError",
    "analyze",
]
