"""Fuzz target: the reading path of the C2PA detector (veriscope.detectors.provenance.c2pa).

Two halves, chosen by the first byte of the input:

* ``{`` or ``[``: the input is taken as the manifest-store JSON that the c2pa library returns
  (its content is written by whoever signed the file, so it is untrusted) and goes through
  ``summarize_store`` and the detector's judgement (``_judge``), as ``analyze`` would;
  a second JSON document after a NUL byte is used as the crJSON (certificate details).
* anything else: the input is written to a scratch file and read by ``C2PADetector.analyze``
  as a JPEG / PNG / MP4 / WAV ... Media (format from its magic bytes, JPEG when unknown):
  the c2pa library's reader, the error mapping, the embedded-JUMBF search and the judgement.

Clean failures: an ``Evidence`` of any kind (absent, unreadable, failed); ``analyze`` must not
raise, and its evidence must serialise as strict JSON.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _fuzzutil  # noqa: E402

if __name__ == "__main__":
    _fuzzutil.instrument(["veriscope.formats.c2pa_store", "veriscope.detectors.provenance.c2pa"])

from veriscope.core.media import _FORMATS, Media, sniff_format  # noqa: E402
from veriscope.detectors.base import Context  # noqa: E402
from veriscope.detectors.provenance import c2pa as C  # noqa: E402

_DET = C.C2PADetector()


def _json_half(data: bytes) -> None:
    head, _, tail = data.partition(b"\x00")
    try:
        store = json.loads(head)
    except (ValueError, RecursionError):
        return
    try:
        crjson = json.loads(tail) if tail else None
    except (ValueError, RecursionError):
        crjson = None
    if not isinstance(store, dict):
        return  # formats.c2pa_store.read_store refuses a store that is not an object
    if not isinstance(crjson, dict):
        crjson = None
    media = Media(path=_fuzzutil.SCRATCH / "fuzz.jpg", kind="image", format="jpeg",
                  size_bytes=len(data))
    ev = _DET._judge(_DET.evidence(), media, store, crjson, trust_configured=bool(data[-1:] == b"T"))
    _fuzzutil.evidence_json(ev)


def _file_half(data: bytes) -> None:
    fmt = sniff_format(data[:64])
    if fmt not in C.MIME_BY_FORMAT:
        fmt = "jpeg"
    path = _fuzzutil.scratch_file(data, ".c2pa")
    media = Media(path=path, kind=_FORMATS[fmt][0], format=fmt, size_bytes=len(data))
    ev = _DET.analyze(media, Context())
    _fuzzutil.evidence_json(ev)


def TestOneInput(data: bytes) -> None:
    if data[:1] in (b"{", b"["):
        _json_half(data)
    else:
        _file_half(data)


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
