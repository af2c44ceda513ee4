"""Fuzz target: the JPEG marker parser (veriscope.formats.jpeg).

Covers ``parse_jpeg`` (both with and without a required scan), then everything a caller reads
from a parsed header: subsampling and colour-space names, comments, the tables in natural and
zigzag order, and the two bounded sub-parsers on APP payloads (Photoshop IRB resources, the Exif
IFD1 thumbnail probe). Clean failure: ``JpegParseError``. (The IJG quality estimate, pure
arithmetic on 64 numbers and slow, is exercised by the jpeg_tables target.)
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _fuzzutil  # noqa: E402

if __name__ == "__main__":
    _fuzzutil.instrument(["veriscope.formats.jpeg"])

from veriscope.formats import jpeg  # noqa: E402


def _use(info: jpeg.JpegInfo) -> None:
    _ = info.subsampling, info.color_space, info.comment_texts()
    for qt in info.quant_tables.values():
        qt.matrix()
        _ = qt.zigzag
    if info.frame is not None:
        f = info.frame
        _ = f.process, f.progressive, f.baseline, f.arithmetic, f.lossless
        jpeg.sampling_factors(f.components)
    for ht in info.huffman_tables:
        ht.is_annex_k()
    for seg in info.app_segments:
        seg.to_dict()
        if seg.n == 13 and seg.payload.startswith(b"Photoshop 3.0\x00"):
            jpeg.photoshop_resources(seg.payload[14:])
        if seg.n == 1:
            jpeg.exif_thumbnail_info(seg.payload)


def TestOneInput(data: bytes) -> None:
    for require_scan in (True, False):
        try:
            info = jpeg.parse_jpeg(data, require_scan=require_scan)
        except jpeg.JpegParseError:
            continue
        _use(info)
    # the sub-parsers also take any bytes directly
    jpeg.photoshop_resources(data)
    jpeg.exif_thumbnail_info(data)


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
