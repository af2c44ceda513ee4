"""Sampling helpers shared by detectors and generators: polyphase resampling of sound and the
frame step of a video's timestamps."""

from __future__ import annotations

import numpy as np


def resample(x: np.ndarray, rate: int, to: int) -> np.ndarray:
    """Polyphase resampling along the last axis."""
    if rate == to:
        return np.asarray(x, np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(to))
    return resample_poly(np.asarray(x, np.float64), to // g, rate // g, axis=-1).astype(np.float32)


def frame_step(times) -> float:
    """Median time between consecutive frames (seconds); 1/25 when unknown."""
    t = np.asarray(times, np.float64)
    d = np.diff(t)
    d = d[d > 0]
    return float(np.median(d)) if d.size else 0.04
