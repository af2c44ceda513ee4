"""Fuzz target: the embedded-metadata reader (veriscope.formats.metadata) and the metadata
detector that judges what it read (veriscope.detectors.provenance.metadata).

Three paths per input:

* the byte-level parsers called directly on the input: PNG chunks (tEXt/zTXt/iTXt/tIME/eXIf),
  the XMP packet finder and flattener, the ICC 'desc' tag reader, JPEG extended-XMP reassembly;
* ``read_all`` on the input opened as an image ``Media`` (EXIF through Pillow, XMP, IPTC,
  Photoshop resources, PNG chunks, ICC), which collects problems instead of raising;
* ``MetadataDetector.analyze`` on the same Media.

Clean failures: ``MediaError`` when the bytes are no image ``Media.open`` accepts; problems
listed in ``Meta.problems``; an ``Evidence`` (any label) from the detector.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _fuzzutil  # noqa: E402

if __name__ == "__main__":
    _fuzzutil.instrument(["veriscope.formats.metadata",
                          "veriscope.detectors.provenance.metadata",
                          "veriscope.detectors.provenance.metadata.detector",
                          "veriscope.detectors.provenance.metadata.dates",
                          "veriscope.detectors.provenance.metadata.generators",
                          "veriscope.detectors.provenance.metadata.thumbnail"])

from veriscope.core.errors import MediaError  # noqa: E402
from veriscope.core.media import Media  # noqa: E402
from veriscope.detectors.base import Context  # noqa: E402
from veriscope.detectors.provenance.metadata import MetadataDetector  # noqa: E402
from veriscope.formats import metadata  # noqa: E402

MAX_PIXELS = 4_000_000
"""Pixel limit of the fuzzed Media (the detector decodes pixels for the thumbnail check)."""


def _direct(data: bytes) -> None:
    meta = metadata.Meta()
    metadata.read_png_chunks(meta, data)
    metadata.png_chunk_body(data, b"eXIf")
    metadata.parse_xmp(data.decode("utf-8", errors="replace"))
    metadata.icc_desc_from_bytes(data)
    metadata.read_icc(meta, data)
    metadata._jpeg_extended_xmp([("APP1", data)])
    metadata.decode_bytes(data)
    metadata.decode_user_comment(data)


def TestOneInput(data: bytes) -> None:
    _direct(data)
    path = _fuzzutil.scratch_file(data, ".img")
    try:
        media = Media.open(path, max_pixels=MAX_PIXELS)
    except MediaError:
        return
    if media.kind != "image":
        return
    meta = metadata.read_all(media)
    meta.has_any()
    meta.xmp_get("CreatorTool")
    ev = MetadataDetector().analyze(media, Context())
    _fuzzutil.evidence_json(ev)


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
