"""veriscope: multimodal media forensics.

The public surface is small on purpose; everything else is internal and may move:

- :func:`analyze` (run the applicable detectors on one file and fuse them into a
  :class:`Report`), :class:`Report` (``.verdict``, ``.evidence``, ``.to_dict()``,
  ``.write(dir)``);
- :class:`Media` (what is analysed), :class:`Evidence` (what one detector says about it) and
  its parts :class:`Finding`, :class:`Segment`, :class:`Box`, :class:`Token`;
- :class:`Detector` and :class:`Context`, to write a detector plugin (docs/plugins.md);
- :class:`VeriscopeError` and :class:`MediaError` (input that cannot be analysed);
- :func:`index` and :func:`find_original`: a local reference archive (docs/archive.md).

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
            options: dict | None = None, video: dict | None = None, caption: str | None = None,
            post: dict | None = None) -> Report:
    """Analyse one file and return its :class:`Report`.

    ``detectors``: None for the default set, ``"all"``, a comma-separated string of names, or
    a list of names and/or :class:`Detector` classes. ``timeout_s``: seconds each detector
    may take. ``max_pixels``: refuse images whose header claims more (default 120 MP).
    ``options``: per-detector options, e.g. ``{"c2pa": {"trust_anchors": "anchors.pem"}}``.
    ``video``: frame sampling of videos, ``{"fps": 1}`` or ``{"frames": 30}``, and
    ``{"max_seconds": 600}``. Raises :class:`MediaError` for input that cannot be analysed.

    A picture with its caption (docs/posts.md): ``caption="..."``, or ``post={"caption": ...,
    "date": "YYYY-MM-DD", "place": ..., "source": ...}``, or a ``*.post.json`` path; the report
    gains ``report.post`` (label, claims, DGM4 fields). A caption that cannot be used (empty,
    binary, too long) raises :class:`VeriscopeError`.
    """
    from veriscope.core.post import PostError, make_post
    from veriscope.pipeline.runner import analyze_path

    if caption is not None and post is not None:
        raise PostError("give caption= or post=, not both")
    if caption is not None:
        post = make_post(caption)
    elif post is not None:
        if not isinstance(post, dict):
            raise PostError(f"post must be a dict, not {type(post).__name__}")
        unknown = sorted(set(post) - {"caption", "date", "place", "source"})
        if unknown:
            raise PostError(f"unknown post field(s) {', '.join(map(str, unknown))}")
        post = make_post(post.get("caption"), date=post.get("date"), place=post.get("place"),
                         source=post.get("source"))
    return analyze_path(path, detectors, timeout_s=timeout_s, max_pixels=max_pixels,
                        options=options, video=video, post=post)


def index(paths, archive, *, source: str | None = None, date: str | None = None,
          caption: str | None = None) -> dict:
    """Add the pictures and video keyframes under ``paths`` (files or folders) to the archive
    folder ``archive`` (created if missing); returns ``{added, keyframes, already, skipped}``."""
    from veriscope.archive.build import index_paths
    from veriscope.archive.store import Archive

    if isinstance(paths, (str, bytes)) or hasattr(paths, "__fspath__"):
        paths = [paths]
    return index_paths(Archive(archive, create=True), paths, source=source, date=date,
                       caption=caption).to_dict()


def find_original(path, archive, *, top: int = 10, max_pixels: int = DEFAULT_MAX_PIXELS) -> list:
    """Matches of the picture ``path`` in the archive, best first, as dicts (item, score,
    verified, verification, changed_fraction, regions, coverage, earlier, earlier_reasons);
    the same as ``veriscope match --format json``."""
    from veriscope.archive.build import capture_date
    from veriscope.archive.search import Query, match
    from veriscope.archive.store import Archive

    media = Media.open(path, max_pixels=max_pixels)
    if media.kind != "image":
        raise MediaError(path, f"is {media.kind}; find_original takes a picture")
    q = Query.from_rgb(media.rgb(), date=capture_date(media))
    return [m.to_dict() for m in match(Archive(archive), q, top=top)]


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
    "find_original",
    "index",
]
