"""What the checks of a post's caption share (the ``post`` family)."""

from __future__ import annotations

from veriscope.core.evidence import Evidence
from veriscope.detectors.base import Context, Detector


class CaptionCheck(Detector):
    """A check of a post's caption against its picture: applies to pictures, runs only when the
    input comes with a post (the runner reads ``needs_post``)."""

    modalities = ("image",)
    needs_post = True

    def no_caption(self, ctx: Context) -> Evidence | None:
        """The not-applicable evidence of an input without a caption, else None."""
        if ctx.post and ctx.post.get("caption"):
            return None
        return Evidence.not_applicable(self.name, self.version, "the input has no caption")
