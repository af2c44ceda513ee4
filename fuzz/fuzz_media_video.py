"""Fuzz target: opening a video and reading frames (veriscope.core.media, veriscope.core.video).

The bytes are written to a scratch file and go through ``Media.open`` (PyAV probe), then
``video.stream_info`` and a bounded read with ``video.iter_frames`` (at most 1 s and 8 frames,
each converted to RGB at full size and at 64 pixels, and to grey), and ``video.scan`` (the
per-frame features of the shot and frame-edit detectors) over the first second. Clean failure:
``MediaError`` (``VeriscopeError``).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _fuzzutil  # noqa: E402

if __name__ == "__main__":
    _fuzzutil.instrument(["veriscope.core.media", "veriscope.core.video"])

from veriscope.core import video  # noqa: E402
from veriscope.core.errors import VeriscopeError  # noqa: E402
from veriscope.core.media import Media  # noqa: E402

MAX_PIXELS = 1_000_000
MAX_SECONDS = 1.0
MAX_FRAMES = 8


def TestOneInput(data: bytes) -> None:
    path = _fuzzutil.scratch_file(data, ".vid")
    try:
        media = Media.open(path, max_pixels=MAX_PIXELS)
        if media.kind != "video":
            return
        video.stream_info(media)
        for i, fr in enumerate(video.iter_frames(media, max_seconds=MAX_SECONDS)):
            fr.rgb()
            fr.rgb(max_side=64)
            fr.gray()
            if i + 1 >= MAX_FRAMES:
                break
        video.scan(media, max_seconds=MAX_SECONDS)
    except VeriscopeError:
        return


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
