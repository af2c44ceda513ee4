"""Speech-only log band spectrograms: the input of the learned ``synthetic_speech`` model.

Pure functions over numpy arrays, shared by the detector and its training recipe
(``veriscope.train.synthetic_speech``) so that both see exactly the same numbers.

1. :func:`band_spectrogram`: a 16 kHz mono signal -> per 10 ms frame, the energy of
   :data:`N_BANDS` linear, equally wide triangular bands from 0 to 8 kHz (100 Hz each; 25 ms
   Hann frames, 512-point FFT), plus the spectral flatness and tonal share that the voice
   activity detector needs. Block by block: memory stays bounded on long files.
2. :func:`speech_frames`: keeps only the frames the voice activity detector
   (:mod:`veriscope.signals.vad`) calls speech, brought to a fixed speech loudness, in dB.
   Leading and trailing silence, pauses, the length of the silences and whether they are
   digital zeros never reach the model.
3. :func:`windows`: windows of :data:`WIN` speech frames (2 s of speech) every :data:`HOP`
   frames; a file with less speech gives one window, its frames repeated to :data:`WIN`.
4. :func:`normalise`: per window, each band's mean over time is subtracted (a fixed channel
   colouring, microphone or EQ, and the overall loudness cancel out), values more than
   :data:`FLOOR_DB` below the window's loudest cell are raised to that floor, and everything
   is divided by 20 (1.0 = 20 dB).
"""

from __future__ import annotations

import numpy as np

from veriscope.signals import audio_features as af

N_BANDS = 80
WIN = 200
"""Speech frames per window (10 ms each: 2 s of speech)."""
HOP = 100
MIN_FRAMES = 20
"""Less speech than this (0.2 s) is not scored."""
FLOOR_DB = 80.0
SCALE_DB = 20.0
EPS = 1e-10
FEATURES_ID = "logband80_speechonly_cmn_win200_v1"
"""Names this pipeline; a model trained on another one is refused."""


def _bank() -> np.ndarray:
    return af._cached(("speech_spec", N_BANDS),
                      lambda: af.linear_filterbank(N_BANDS, af.LFCC_NFFT, af.RATE, 0.0, 8000.0))


def band_spectrogram(y: np.ndarray, block: int = af.BLOCK_FRAMES) -> dict:
    """``bands`` (frames, N_BANDS) energies (linear), ``flat`` and ``tonal`` (frames,)."""
    fb = _bank()
    bands, flat, tonal = [], [], []
    for _, fr in af.frame_blocks(np.asarray(y, np.float64), af.LFCC_WIN, af.HOP, block):
        p = af._power(fr, af.LFCC_NFFT)
        bands.append(p @ fb.T)
        flat.append(af.spectral_flatness(p))
        tonal.append(af.tonal_share(p))
    if not bands:
        return {"bands": np.zeros((0, N_BANDS), np.float32), "flat": np.zeros(0),
                "tonal": np.zeros(0)}
    return {"bands": np.concatenate(bands), "flat": np.concatenate(flat),
            "tonal": np.concatenate(tonal)}


def speech_frames(y: np.ndarray) -> dict:
    """``bands`` of the speech frames only, ``index`` (their frame numbers in the file),
    ``voiced`` (the whole-file speech mask) and ``speech_s``."""
    from veriscope.signals import vad

    spec = band_spectrogram(y)
    y = np.asarray(y, np.float64)
    voiced = vad.voiced_frames(y, spec["flat"], spec["tonal"])
    n = min(voiced.size, spec["bands"].shape[0])
    voiced = voiced[:n]
    idx = np.nonzero(voiced)[0]
    g2 = af.loudness_gain(y, voiced) ** 2 if idx.size else 1.0  # speech at a fixed level
    bands = (10.0 * np.log10(spec["bands"][:n][idx] * g2 + EPS)).astype(np.float32)
    return {"bands": bands, "index": idx, "voiced": voiced,
            "speech_s": idx.size * af.HOP / af.RATE, "frames": n}


def bandwidth_hz(bands: np.ndarray, span_db: float = 50.0) -> float | None:
    """Upper edge (Hz) of the highest band whose mean level over the speech frames is within
    ``span_db`` of the loudest band's: about 4000 for telephone or 8 kHz audio, 8000 for
    full-band speech; None without speech frames."""
    if bands.shape[0] == 0:
        return None
    m = np.asarray(bands, np.float64).mean(axis=0)
    top = int(np.nonzero(m >= m.max() - span_db)[0].max())
    return float((top + 1) * 8000 / N_BANDS)


def window_starts(n: int, win: int = WIN, hop: int = HOP) -> np.ndarray:
    """Start offsets (in speech frames) of the windows over ``n`` speech frames; a final
    window aligned to the end is added when more than a quarter window is left over."""
    if n < MIN_FRAMES:
        return np.zeros(0, int)
    if n <= win:
        return np.array([0])
    s = list(range(0, n - win + 1, hop))
    if n - (s[-1] + win) > win // 4:
        s.append(n - win)
    return np.array(s)


def fit_length(x: np.ndarray, win: int = WIN) -> np.ndarray:
    """(t, bands) -> (win, bands): cut, or repeat the frames when there are fewer."""
    if x.shape[0] >= win:
        return x[:win]
    reps = -(-win // max(x.shape[0], 1))
    return np.tile(x, (reps, 1))[:win]


def normalise(x: np.ndarray) -> np.ndarray:
    """(t, bands) dB -> (bands, t) float32 model input (see the module text)."""
    x = np.asarray(x, np.float32)
    x = np.maximum(x, x.max() - FLOOR_DB)
    x = x - x.mean(axis=0, keepdims=True)
    return (x / SCALE_DB).T.astype(np.float32)


def windows(sp: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs (windows, 1, N_BANDS, WIN) of :func:`speech_frames` output, and each
    window's start and end time in seconds (first and last speech frame it covers)."""
    b, idx = sp["bands"], sp["index"]
    starts = window_starts(b.shape[0])
    if starts.size == 0:
        return (np.zeros((0, 1, N_BANDS, WIN), np.float32), np.zeros(0), np.zeros(0))
    xs = np.stack([normalise(fit_length(b[s: s + WIN])) for s in starts])[:, None]
    last = np.minimum(starts + WIN, b.shape[0]) - 1
    fs = af.HOP / af.RATE
    return xs, idx[starts] * fs, (idx[last] + 1) * fs
