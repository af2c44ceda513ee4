"""Fuzz target: the invisible-watermark reader (veriscope.detectors.provenance.watermark).

The watermark reader parses no file bytes of its own: it reads the decoded pixels. The input
is therefore turned into a small RGB array (first two bytes: height and width, 1..160 pixels;
the rest, repeated, are the pixel values) and goes through ``WatermarkDetector.analyze`` on an
in-memory Media (YUV conversion, Haar LL band, block votes of every payload/method/reading test,
the thresholds, the findings) and through the lower-level ``decode`` with a length taken from
the input. Clean failures: a not-applicable ``Evidence`` for a picture too small to carry a
payload, ``ValueError`` from ``aggregate`` when there are fewer blocks than bits.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _fuzzutil  # noqa: E402

if __name__ == "__main__":
    _fuzzutil.instrument(["veriscope.detectors.provenance.watermark",
                          "veriscope.detectors.provenance.watermark.detector",
                          "veriscope.detectors.provenance.watermark.dwtdct"])

import numpy as np  # noqa: E402

from veriscope.core.media import Media  # noqa: E402
from veriscope.detectors.base import Context  # noqa: E402
from veriscope.detectors.provenance.watermark import WatermarkDetector  # noqa: E402
from veriscope.detectors.provenance.watermark import dwtdct as W  # noqa: E402

MAX_SIDE = 160


def image_from_bytes(data: bytes) -> np.ndarray | None:
    """A uint8 (H, W, 3) array from fuzz bytes, or None when there are too few bytes."""
    if len(data) < 3:
        return None
    h = 1 + data[0] % MAX_SIDE
    w = 1 + data[1] % MAX_SIDE
    px = np.frombuffer(data[2:], dtype=np.uint8)
    return np.resize(px, (h, w, 3)).astype(np.uint8)


def TestOneInput(data: bytes) -> None:
    rgb = image_from_bytes(data)
    if rgb is None:
        return
    ev = WatermarkDetector().analyze(Media.from_array(rgb), Context())
    _fuzzutil.evidence_json(ev)
    length = 1 + data[2] % 256 if len(data) > 2 else 1
    method = W.METHODS[data[-1] % len(W.METHODS)]
    readings = sorted(W.READINGS)
    reading = readings[data[-2] % len(readings)]
    try:
        W.decode(rgb, length, method, reading)
    except ValueError as e:
        if "cannot carry" not in str(e):
            raise


if __name__ == "__main__":
    _fuzzutil.main(TestOneInput)
