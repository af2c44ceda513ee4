"""Fuzz target: opening and decoding sound (veriscope.core.media).

The bytes are written to a scratch file and go through ``Media.open`` (format sniffing, the
PyAV stream probe) then ``audio(max_seconds=2)`` and ``audio(mono=True, max_seconds=2)``
(soundfile for WAV/FLAC/Ogg, PyAV with the tolerant packet decoder for MP3, AAC/M4A and the
sound of videos). Clean failure: ``MediaError`` (``VeriscopeError``).
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

MAX_SECONDS = 2.0


def TestOneInput(data: bytes) -> None:
    path = _fuzzutil.scratch_file(data, ".snd")
    try:
        media = Media.open(path)
        if media.kind not in ("audio", "video"):
            return
        x, sr = media.audio(max_seconds=MAX_SECONDS)
        assert x.ndim == 2 and x.shape[0] > 0 and sr > 0, (x.shape, sr)
        media.audio(mono=True, max_seconds=MAX_SECONDS)
        media.describe()
    except VeriscopeError:
        return


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
