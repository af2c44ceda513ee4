"""Fuzz target: the MP4 / QuickTime box reader (veriscope.formats.mp4).

The bytes are written to a scratch file and read with ``mp4.parse`` (top-level walk, ``moov``
walk, every leaf box: mvhd/tkhd/mdhd/elst/hdlr/stsd, udta strings, meta keys/ilst, XMP), then
turned into the JSON form a report stores (as the video_container detector does). ``parse`` is
documented never to raise for a damaged file (problems are listed in ``Mp4Info.problems``), so
any exception is a finding.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _fuzzutil  # noqa: E402

if __name__ == "__main__":
    _fuzzutil.instrument(["veriscope.formats.mp4"])

from veriscope.core.evidence import jsonable  # noqa: E402
from veriscope.formats import mp4  # noqa: E402


def TestOneInput(data: bytes) -> None:
    path = _fuzzutil.scratch_file(data, ".mp4")
    info = mp4.parse(path)
    json.dumps(jsonable(info.to_dict()), ensure_ascii=False, allow_nan=False)
    info.tag("encoder", "software")
    for tr in info.tracks:
        _ = tr.rotation, tr.mirrored


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
