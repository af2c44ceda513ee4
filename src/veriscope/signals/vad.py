"""Voice activity detection: frame energy + spectral flatness (numpy only, no model).

silero-vad was the first choice, but its PyPI package requires torch (checked: silero-vad
6.2.3 lists ``torch>=1.12.0`` as a hard dependency, onnxruntime only as an extra), and this
project does not depend on torch. This module is a documented rule-based substitute.

Method, on 25 ms frames every 10 ms of a 16 kHz mono signal:

1. Frame energy in dB (mean square of the Hann-windowed frame). Reference levels: the noise
   floor is the 10th percentile of frame energies, the speech peak the 95th percentile.
2. A frame is *loud enough* when its energy is above all of
   ``ABS_FLOOR_DB`` (-60 dBFS: digital silence and dither never count as speech),
   ``peak - DYNAMIC_DB`` (45 dB below the speech peak) and
   ``min(floor + FLOOR_MARGIN_DB, peak - MIN_SPAN_DB)`` (10 dB above the noise floor, but
   never more than 15 dB below the peak, for files with no pause at all).
3. Spectral flatness (geometric over arithmetic mean of the power spectrum, 100-4000 Hz) is
   about 0.56 for a white-noise frame and far lower for speech (harmonics, formants). A loud
   frame counts as speech when its flatness is below ``FLATNESS_MAX`` (0.45), or when it is
   ``STRONG_DB`` (20 dB) above the noise floor (loud fricatives are flat but still speech).
4. A frame whose 100-4000 Hz power lies almost entirely (> ``TONAL_SHARE`` = 0.99) within 5
   FFT bins (156 Hz) is a single steady tone (a test tone, a beep, a whistle), not speech,
   however loud and however low its flatness. Over 10,404 voiced frames of real speech
   (fsdd digits, ESPnet LJSpeech/LibriTTS references) that share has median 0.52, 99.9th
   percentile 0.986, maximum 0.992; a sine reads 0.998-0.999. The rare speech frame above
   it is put back by the gap filling of step 5.
5. Smoothing: gaps shorter than ``MIN_GAP_S`` (0.2 s) are filled, then runs shorter than
   ``MIN_RUN_S`` (0.05 s) are dropped.

The constants are set by rule (levels an engineer would pick), not fitted. Known weak spots:
speech under loud broadband noise (flatness stays high, energy gap small), music and other
harmonic sounds (counted as speech: a 200 Hz square wave, share 0.82, still is), very quiet
speech below -60 dBFS.
"""

from __future__ import annotations

import numpy as np

from veriscope.signals.audio_features import (  # noqa: F401 (spectral_flatness: vad's API too)
    HOP,
    LFCC_NFFT,
    LFCC_WIN,
    RATE,
    TONAL_BINS,
    spectral_flatness,
    tonal_share,
)

ABS_FLOOR_DB = -60.0
DYNAMIC_DB = 45.0
FLOOR_MARGIN_DB = 10.0
MIN_SPAN_DB = 15.0
STRONG_DB = 20.0
FLATNESS_MAX = 0.45
TONAL_SHARE = 0.99
MIN_GAP_S = 0.2
MIN_RUN_S = 0.05
FRAME_S = HOP / RATE
BACKEND = "energy+flatness"


def frame_energy_db(x: np.ndarray) -> np.ndarray:
    """Energy (dB, mean square of the Hann-windowed frame) of every 10 ms frame."""
    from veriscope.signals.audio_features import frame_blocks

    w = np.hanning(LFCC_WIN + 2)[1:-1]
    ww = float(np.mean(w**2))
    out = [np.mean((fr * w) ** 2, axis=1) / ww for _, fr in frame_blocks(x, LFCC_WIN, HOP)]
    if not out:
        return np.zeros(0)
    return 10.0 * np.log10(np.concatenate(out) + 1e-12)


def _fill_and_prune(mask: np.ndarray, min_gap: int, min_run: int) -> np.ndarray:
    m = mask.copy()
    if not m.any():
        return m
    for target, limit in ((False, min_gap), (True, min_run)):
        # runs of `target` shorter than `limit` are flipped (gaps only between speech)
        d = np.diff(np.r_[0, (m == target).astype(np.int8), 0])
        starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
        for s, e in zip(starts, ends, strict=True):
            if e - s < limit and (target or (s > 0 and e < m.size)):
                m[s:e] = not target
    return m


def voiced_frames(x: np.ndarray, flatness: np.ndarray | None = None,
                  tonal: np.ndarray | None = None) -> np.ndarray:
    """Boolean speech mask, one entry per 10 ms frame of a 16 kHz mono signal
    (``flatness`` / ``tonal``: precomputed per-frame spectral flatness and tonal share, e.g.
    ``flat`` and ``tonal`` of :func:`veriscope.signals.audio_features.filterbank_energies`)."""
    from veriscope.signals.audio_features import filterbank_energies

    e = frame_energy_db(x)
    if e.size == 0:
        return np.zeros(0, bool)
    if flatness is None or tonal is None:
        en = filterbank_energies(x)
        flatness, tonal = en["flat"], en["tonal"]
    flat = flatness[: e.size]
    steady_tone = np.zeros(e.size, bool)
    steady_tone[: tonal.size] = tonal[: e.size] > TONAL_SHARE
    floor = float(np.percentile(e, 10))
    peak = float(np.percentile(e, 95))
    thr = max(ABS_FLOOR_DB, peak - DYNAMIC_DB, min(floor + FLOOR_MARGIN_DB, peak - MIN_SPAN_DB))
    loud = e > thr
    speech = loud & ((flat < FLATNESS_MAX) | (e > floor + STRONG_DB)) & ~steady_tone
    return _fill_and_prune(speech, int(round(MIN_GAP_S / FRAME_S)), int(round(MIN_RUN_S / FRAME_S)))


def regions(mask: np.ndarray, frame_s: float = FRAME_S) -> list[tuple[float, float]]:
    """Speech regions in seconds from a frame mask."""
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    starts, ends = np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
    return [(float(s * frame_s), float(e * frame_s)) for s, e in zip(starts, ends, strict=True)]
