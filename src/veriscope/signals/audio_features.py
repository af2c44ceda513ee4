"""Spectral features of speech for the synthetic-speech detector (numpy / scipy, vectorised).

Everything works on mono float signals resampled to :data:`RATE` (16 kHz) with
:func:`to_rate`, so the sample rate of a file cannot become a feature.

- :func:`power_spectrogram` - framed, Hann-windowed power spectrum (one rfft call).
- :func:`lfcc` - linear-frequency cepstral coefficients: triangular filters evenly spaced on a
  linear frequency axis, log energies, DCT-II (Sahidullah, Kinnunen & Hanilci, "A comparison
  of features for synthetic speech detection", Interspeech 2015; the LFCC front end of the
  ASVspoof 2019 baseline). c0 (overall log energy, i.e. loudness) is dropped.
- :func:`cqcc_like` - a CQCC-*style* cepstrum (after Todisco, Delgado & Evans, "Constant Q
  cepstral coefficients", Odyssey 2016). A true constant-Q transform is replaced by
  triangular filters with constant Q (geometrically spaced centres, bandwidth proportional to
  the centre frequency, never narrower than two FFT bins) on a long-window STFT; the log
  energies are resampled to a uniform grid along the octave axis before the DCT. It is an
  approximation of CQCC (the low-frequency resolution is bounded by the STFT window), not
  the reference implementation.
- :func:`deltas` - regression deltas over +-2 frames.
- :func:`window_stats` - mean and standard deviation of frame features over the voiced frames
  of sliding windows, computed with cumulative sums (one pass for all windows).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

RATE = 16000
"""Every signal is analysed at 16 kHz."""
HOP = 160
"""10 ms frame hop at 16 kHz (all features share it, so frames line up)."""
LFCC_NFFT = 512
LFCC_WIN = 400  # 25 ms
LFCC_FILTERS = 30
LFCC_CEPS = 20
CQ_NFFT = 1024
CQ_WIN = 1024  # 64 ms: the low-frequency resolution of the constant-Q filters
CQ_FMIN = 100.0
CQ_BINS_PER_OCTAVE = 12
CQ_CEPS = 20
CQ_UNIFORM = 96
"""Points of the uniform grid the constant-Q log spectrum is resampled to before the DCT."""
EPS = 1e-10
TONAL_BINS = 5  # adjacent FFT bins of a steady tone (tonal_share; vad's steady-tone rule)


# ------------------------------------------------------------------ signal preparation
def to_mono(x: np.ndarray) -> np.ndarray:
    """(n,) or (n, channels) -> (n,) float64 (channel mean)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        a = a.mean(axis=1)
    return np.nan_to_num(a.ravel(), nan=0.0, posinf=0.0, neginf=0.0)


def to_rate(x: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """Resample a mono signal to ``target`` Hz with a polyphase anti-aliasing filter.

    Awkward rate ratios (e.g. a prime rate) are approximated by a ratio with small terms
    (relative error < 0.2 %), which keeps the filter short; a pitch change that small does
    not matter for these features.
    """
    x = np.asarray(x, dtype=np.float64)
    if rate == target or x.size == 0:
        return x.copy()
    from scipy.signal import resample_poly

    fr = Fraction(int(target), int(rate)).limit_denominator(1000)
    up, down = fr.numerator, fr.denominator
    if up == 0:
        return np.zeros(0)
    if down > 64 * up:  # extreme down-sampling: do it in two steps to bound the filter length
        mid = target * 8
        return to_rate(to_rate(x, rate, mid), mid, target)
    return resample_poly(x, up, down)


def band_limit(x: np.ndarray, cutoff_rate: int, rate: int = RATE) -> np.ndarray:
    """Round-trip through ``cutoff_rate`` Hz: keeps only the band below cutoff_rate / 2."""
    y = to_rate(to_rate(x, rate, cutoff_rate), cutoff_rate, rate)
    n = x.size
    return y[:n] if y.size >= n else np.pad(y, (0, n - y.size))


def loudness_gain(x: np.ndarray, voiced: np.ndarray | None = None,
                  target_rms: float = 0.05) -> float:
    """Gain that brings the RMS over voiced frames (or the whole signal) to ``target_rms``."""
    x = np.asarray(x, dtype=np.float64)
    if voiced is not None and voiced.any():
        total, count = 0.0, 0
        for a, fr in frame_blocks(x, LFCC_WIN):
            m = np.zeros(fr.shape[0], bool)
            v = voiced[a: a + fr.shape[0]]
            m[: v.size] = v
            if m.any():
                total += float(np.sum(fr[m] ** 2))
                count += int(m.sum()) * fr.shape[1]
        rms = float(np.sqrt(total / count)) if count else 0.0
    else:
        rms = float(np.sqrt(np.mean(x**2))) if x.size else 0.0
    return 1.0 if rms <= 1e-8 else target_rms / rms


def normalise_loudness(x: np.ndarray, voiced: np.ndarray | None = None,
                       target_rms: float = 0.05) -> np.ndarray:
    """Scale so the RMS over voiced frames (or the whole signal) is ``target_rms``."""
    return np.asarray(x, dtype=np.float64) * loudness_gain(x, voiced, target_rms)


# ------------------------------------------------------------------ spectra
def n_frames(n_samples: int, hop: int = HOP) -> int:
    """Frames in a signal: one per hop, centred frames (frame i covers sample i * hop)."""
    return max(0, (n_samples + hop - 1) // hop) if n_samples > 0 else 0


def frames(x: np.ndarray, win: int, hop: int = HOP) -> np.ndarray:
    """Centred frames: frame i is centred on sample i*hop (zero padding at both ends)."""
    n = n_frames(x.size, hop)
    if n == 0:
        return np.zeros((0, win))
    pad = win // 2
    xp = np.pad(np.asarray(x, dtype=np.float64), (pad, pad + win))
    return np.lib.stride_tricks.sliding_window_view(xp, win)[::hop][:n]  # read-only view


BLOCK_FRAMES = 2048
"""Frames processed at once (about 20 s): bounds the memory of long files."""


def frame_blocks(x: np.ndarray, win: int, hop: int = HOP, block: int = BLOCK_FRAMES):
    """Yield (first frame index, frames view) in blocks of ``block`` frames."""
    fr = frames(x, win, hop)
    for a in range(0, fr.shape[0], block):
        yield a, fr[a: a + block]


def _power(fr: np.ndarray, n_fft: int) -> np.ndarray:
    w = _cached(("hann", fr.shape[1]), lambda: np.hanning(fr.shape[1] + 2)[1:-1])
    spec = np.fft.rfft(fr * w, n=n_fft, axis=1)
    return spec.real**2 + spec.imag**2


def power_spectrogram(x: np.ndarray, n_fft: int, win: int, hop: int = HOP) -> np.ndarray:
    """(frames, n_fft // 2 + 1) power spectrum of Hann-windowed centred frames (whole signal:
    for long signals use :func:`filterbank_energies`, which works block by block)."""
    fr = frames(x, win, hop)
    if fr.shape[0] == 0:
        return np.zeros((0, n_fft // 2 + 1))
    return _power(fr, n_fft)


def spectral_flatness(power: np.ndarray, rate: int = RATE, n_fft: int = LFCC_NFFT,
                      fmin: float = 100.0, fmax: float = 4000.0) -> np.ndarray:
    """Per-frame flatness of a power spectrogram (frames, bins) in [fmin, fmax]."""
    if power.shape[0] == 0:
        return np.zeros(0)
    f = np.arange(power.shape[1]) * rate / n_fft
    band = power[:, (f >= fmin) & (f <= fmax)] + 1e-12
    return np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)


def tonal_share(power: np.ndarray, rate: int = RATE, n_fft: int = LFCC_NFFT,
                fmin: float = 100.0, fmax: float = 4000.0, bins: int = TONAL_BINS) -> np.ndarray:
    """Per-frame share of the [fmin, fmax] power that lies in the strongest ``bins``
    adjacent FFT bins (close to 1 for a single steady tone)."""
    if power.shape[0] == 0:
        return np.zeros(0)
    f = np.arange(power.shape[1]) * rate / n_fft
    band = power[:, (f >= fmin) & (f <= fmax)]
    c = np.cumsum(np.pad(band, ((0, 0), (1, 0))), axis=1)
    return (c[:, bins:] - c[:, :-bins]).max(axis=1) / (c[:, -1] + 1e-20)


def filterbank_energies(x: np.ndarray, rate: int = RATE, block: int = BLOCK_FRAMES) -> dict:
    """Per-frame linear (LFCC) and constant-Q filterbank energies, spectral flatness and tonal
    share (:func:`tonal_share`) of a 16 kHz signal, computed block by block (memory bounded by ``block`` frames).

    The cepstra follow from these energies and a gain g (loudness normalisation) as
    log(g^2 E + EPS) @ DCT: see :func:`cepstra`.
    """
    fb = _cached(("lin", rate), lambda: linear_filterbank(rate=rate))
    cqfb, _ = _cached(("cq", rate), lambda: constant_q_filterbank(rate=rate))
    lin, cq, flat, tonal = [], [], [], []
    for _, fr in frame_blocks(x, LFCC_WIN, HOP, block):
        p = _power(fr, LFCC_NFFT)
        lin.append(p @ fb.T)
        flat.append(spectral_flatness(p))
        tonal.append(tonal_share(p))
    for _, fr in frame_blocks(x, CQ_WIN, HOP, block):
        cq.append(_power(fr, CQ_NFFT) @ cqfb.T)
    n = n_frames(np.asarray(x).size)
    if not lin:
        return {"lin": np.zeros((0, fb.shape[0])), "cq": np.zeros((0, cqfb.shape[0])),
                "flat": np.zeros(0), "tonal": np.zeros(0), "frames": 0}
    return {"lin": np.concatenate(lin), "cq": np.concatenate(cq), "flat": np.concatenate(flat),
            "tonal": np.concatenate(tonal), "frames": n}


def cepstra(energies: dict, gain: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(LFCC c1..c20, CQCC-style c1..c20) per frame from :func:`filterbank_energies` of a
    signal, as if the signal had been multiplied by ``gain``."""
    g2 = gain * gain
    dct = _cached(("dct", LFCC_FILTERS, LFCC_CEPS), lambda: _dct_matrix(LFCC_FILTERS, LFCC_CEPS))
    nq = energies["cq"].shape[1]
    m = _cached(("cqu", nq), lambda: _interp_matrix(nq, CQ_UNIFORM) @ _dct_matrix(CQ_UNIFORM, CQ_CEPS))
    return np.log(energies["lin"] * g2 + EPS) @ dct, np.log(energies["cq"] * g2 + EPS) @ m


def _triangles(centres_hz: np.ndarray, lows_hz: np.ndarray, highs_hz: np.ndarray,
               n_fft: int, rate: int) -> np.ndarray:
    """(filters, bins) triangular filters with given low edge, centre and high edge."""
    f = np.arange(n_fft // 2 + 1) * rate / n_fft
    c, lo, hi = centres_hz[:, None], lows_hz[:, None], highs_hz[:, None]
    up = (f[None, :] - lo) / np.maximum(c - lo, 1e-9)
    down = (hi - f[None, :]) / np.maximum(hi - c, 1e-9)
    fb = np.clip(np.minimum(up, down), 0.0, None)
    fb /= np.maximum(fb.sum(axis=1, keepdims=True), 1e-12)  # unit area: level-independent of width
    return fb


def linear_filterbank(n_filters: int = LFCC_FILTERS, n_fft: int = LFCC_NFFT, rate: int = RATE,
                      fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    fmax = rate / 2 if fmax is None else fmax
    edges = np.linspace(fmin, fmax, n_filters + 2)
    return _triangles(edges[1:-1], edges[:-2], edges[2:], n_fft, rate)


def constant_q_filterbank(fmin: float = CQ_FMIN, bins_per_octave: int = CQ_BINS_PER_OCTAVE,
                          n_fft: int = CQ_NFFT, rate: int = RATE) -> tuple[np.ndarray, np.ndarray]:
    """Filters with geometric centres fmin * 2^(k/B) up to 0.95 * Nyquist; returns (fb, centres)."""
    n = int(np.floor(bins_per_octave * np.log2(0.95 * rate / 2 / fmin))) + 1
    c = fmin * 2.0 ** (np.arange(n) / bins_per_octave)
    ratio = 2.0 ** (1.0 / bins_per_octave)
    min_half = 2.0 * rate / n_fft  # never narrower than two FFT bins each side
    lo = c - np.maximum(c - c / ratio, min_half)
    hi = c + np.maximum(c * ratio - c, min_half)
    return _triangles(c, lo, hi, n_fft, rate), c


def _dct_matrix(n_in: int, n_out: int, first: int = 1) -> np.ndarray:
    """Orthonormal DCT-II rows first..first+n_out-1 as an (n_in, n_out) matrix."""
    k = np.arange(first, first + n_out)[None, :]
    n = np.arange(n_in)[:, None]
    m = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    return m


_CACHE: dict = {}


def _cached(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def lfcc(x: np.ndarray, rate: int = RATE, *, power: np.ndarray | None = None) -> np.ndarray:
    """(frames, LFCC_CEPS) LFCC c1..c20 of a 16 kHz signal (c0 dropped)."""
    if power is None:
        power = power_spectrogram(x, LFCC_NFFT, LFCC_WIN)
    fb = _cached(("lin", rate), lambda: linear_filterbank(rate=rate))
    dct = _cached(("dct", LFCC_FILTERS, LFCC_CEPS), lambda: _dct_matrix(LFCC_FILTERS, LFCC_CEPS))
    loge = np.log(power @ fb.T + EPS)
    return loge @ dct


def cqcc_like(x: np.ndarray, rate: int = RATE) -> np.ndarray:
    """(frames, CQ_CEPS) CQCC-style cepstrum c1..c20 of a 16 kHz signal (see module doc)."""
    power = power_spectrogram(x, CQ_NFFT, CQ_WIN)
    fb, centres = _cached(("cq", rate), lambda: constant_q_filterbank(rate=rate))
    loge = np.log(power @ fb.T + EPS)
    # uniform resampling of the log spectrum (linear interpolation along the filter index)
    # (interpolation then DCT, folded into one matrix)
    m = _cached(("cqu", fb.shape[0]), lambda: _interp_matrix(fb.shape[0], CQ_UNIFORM)
                @ _dct_matrix(CQ_UNIFORM, CQ_CEPS))
    return loge @ m


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_in, n_out) matrix of linear interpolation from n_in to n_out evenly spaced points."""
    pos = np.linspace(0, n_in - 1, n_out)
    i0 = np.clip(np.floor(pos).astype(int), 0, n_in - 2)
    w = pos - i0
    m = np.zeros((n_in, n_out))
    m[i0, np.arange(n_out)] = 1 - w
    m[i0 + 1, np.arange(n_out)] += w
    return m


def deltas(feat: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas: sum_k k (c[t+k] - c[t-k]) / (2 sum_k k^2), edges repeated."""
    if feat.shape[0] == 0:
        return feat.copy()
    p = np.pad(feat, ((width, width), (0, 0)), mode="edge")
    t = feat.shape[0]
    num = sum(k * (p[width + k: width + k + t] - p[width - k: width - k + t])
              for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def frame_features(x: np.ndarray) -> np.ndarray:
    """(frames, 100) per-frame features of a 16 kHz signal:
    LFCC (20) + delta (20) + delta-delta (20) + CQCC-style (20) + delta (20)."""
    lf = lfcc(x)
    cq = cqcc_like(x)
    n = min(lf.shape[0], cq.shape[0])
    lf, cq = lf[:n], cq[:n]
    d1 = deltas(lf)
    return np.concatenate([lf, d1, deltas(d1), cq, deltas(cq)], axis=1)


FRAME_DIM = 3 * LFCC_CEPS + 2 * CQ_CEPS


# ------------------------------------------------------------------ pooling
def window_stats(feat: np.ndarray, voiced: np.ndarray, starts: np.ndarray, ends: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of ``feat`` over the voiced frames of each window [starts[i], ends[i]).

    Returns (stats of shape (windows, 2 * dims), voiced frame count per window).
    """
    v = voiced.astype(np.float64)[:, None]
    f = feat * v
    z = np.zeros((1, feat.shape[1]))
    c1 = np.concatenate([z, np.cumsum(f, axis=0)])
    c2 = np.concatenate([z, np.cumsum(f * feat, axis=0)])
    cn = np.concatenate([[0.0], np.cumsum(voiced.astype(np.float64))])
    n = cn[ends] - cn[starts]
    nn = np.maximum(n, 1.0)[:, None]
    mean = (c1[ends] - c1[starts]) / nn
    var = np.maximum((c2[ends] - c2[starts]) / nn - mean**2, 0.0)
    return np.concatenate([mean, np.sqrt(var)], axis=1), n
