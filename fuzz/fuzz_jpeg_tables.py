"""Fuzz target: the jpeg_tables detector (veriscope.detectors.provenance.jpeg_tables).

The input is handed to the detector as the bytes of a JPEG Media (no pixel decoding: the
detector only reads the header through ``formats.jpeg`` and the EXIF camera claim through
Pillow) and the evidence is serialised as the report would. Clean failures: an inconclusive
``Evidence`` for an unreadable structure; the detector itself must never raise.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _fuzzutil  # noqa: E402

if __name__ == "__main__":
    _fuzzutil.instrument(["veriscope.formats.jpeg", "veriscope.detectors.provenance.jpeg_tables"])

from veriscope.core.media import Media  # noqa: E402
from veriscope.detectors.base import Context  # noqa: E402
from veriscope.detectors.provenance.jpeg_tables import JpegTablesDetector  # noqa: E402


def TestOneInput(data: bytes) -> None:
    media = Media(path=Path("fuzz.jpg"), kind="image", format="jpeg", size_bytes=len(data))
    media._bytes = bytes(data)
    ev = JpegTablesDetector().analyze(media, Context())
    _fuzzutil.evidence_json(ev)


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
