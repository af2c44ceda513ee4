"""Fuzz target: opening and decoding an image file (veriscope.core.media).

The bytes are written to a scratch file and go through ``Media.open`` (format sniffing, the
Pillow header probe, the pixel limit) then ``decode()``, ``rgb()`` and ``gray()`` (Pillow's
decoders for JPEG, PNG, GIF, BMP, TIFF and WebP; the conversion of every Pillow mode to 8-bit
RGB). Clean failure: ``MediaError`` (``VeriscopeError``).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _fuzzutil  # noqa: E402

if __name__ == "__main__":
    _fuzzutil.instrument(["veriscope.core.media"])

from veriscope.core.errors import VeriscopeError  # noqa: E402
from veriscope.core.media import Media  # noqa: E402

MAX_PIXELS = 4_000_000
"""Pixel limit of the fuzzed Media (keeps one input's decoding short)."""


def TestOneInput(data: bytes) -> None:
    path = _fuzzutil.scratch_file(data, ".img")
    try:
        media = Media.open(path, max_pixels=MAX_PIXELS)
        if media.kind != "image":
            return
        media.decode()
        rgb = media.rgb()
        assert rgb.dtype.name == "uint8" and rgb.ndim == 3 and rgb.shape[2] == 3, rgb.shape
        media.gray()
        media.describe()
    except VeriscopeError:
        return


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
