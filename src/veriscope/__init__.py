"""veriscope: multimodal media forensics.

The public surface is small on purpose: :class:`Media` (what is analysed),
:class:`Evidence` (what one detector says about it), :func:`analyze` (run the
applicable detectors and fuse them into a :class:`Report`).
"""

__version__ = "0.1.0"

from veriscope.core.errors import MediaError, VeriscopeError  # noqa: E402
from veriscope.core.evidence import Box, Evidence, Finding, Segment, Token  # noqa: E402
from veriscope.core.media import Media  # noqa: E402


def analyze(path, **kwargs):
    """Analyse one file; see :func:`veriscope.pipeline.runner.analyze_path`."""
    from veriscope.pipeline.runner import analyze_path

    return analyze_path(path, **kwargs)


__all__ = [
    "__version__",
    "Box",
    "Evidence",
    "Finding",
    "Media",
    "MediaError",
    "Segment",
    "Token",
    "VeriscopeError",
    "analyze",
]
