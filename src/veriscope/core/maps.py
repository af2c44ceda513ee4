"""Heatmaps as the report writer stores them: [0, 1] floats to 8-bit at the input size."""

from __future__ import annotations

import numpy as np


def map_to_u8(m: np.ndarray, width: int, height: int) -> np.ndarray:
    """A [0, 1] float map as uint8 at exactly width x height (255 = most suspicious)."""
    import cv2

    m = np.asarray(m, np.float32)
    if m.shape != (height, width):
        m = cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(m * 255.0), 0, 255).astype(np.uint8)
