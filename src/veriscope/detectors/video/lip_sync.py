"""lip_sync: does the sound go with the moving mouth? (audio-visual consistency)

Method (docs/detectors/lip_sync.md). Canonical correlation between mouth appearance and
speech-band energy follows Slaney & Covell, "FaceSync: a linear operator for measuring
synchronization of video facial images and audio tracks" (NIPS 2000); implemented from the
idea, numpy / scipy only.

1. Faces: :func:`veriscope.signals.faces.track_faces` (dlib landmarks, 24x40 grey mouth patches aligned
   on the mouth corners, mouth opening). Each face track of at least ``MIN_TRACK_S`` seconds is
   put on a uniform time grid at the video's frame step (median time between decoded frames).
2. Signals, per grid frame. Mouth: the first ``n`` principal components of the track's mouth
   patches plus the mouth opening. Sound (mono, aligned with the picture through the streams'
   start times): log power in ``m`` log-spaced bands between 300 and 4000 Hz in a window of two
   frames centred on the frame. Both are high-passed (minus their moving average over
   ``HP_S`` seconds: speech rhythm, not slow level drifts) and standardized.
3. Offset: for every lag k within +-``MAX_LAG_S``, the first regularized canonical correlation
   r(k) of mouth[t] with sound[t + k], always over the same frames (a smaller sample would
   inflate the correlation of the longer lags). One set of (n, m, ridge) choices over-fits
   differently at each lag, so r(k) is averaged over a fixed ensemble :data:`MEMBERS` of 18
   (n in 3/6/10 components, m in 4/8 bands, ridge 0.1/0.3/1.0 of the mean variance). The peak,
   refined with a parabola through its neighbours, minus the bias ``BIAS_FRAMES`` is the
   offset, POSITIVE when the sound lags the picture. Confidence (rule, no fitted constant):
   ``(r_peak - r_second) / (r_peak - median r)``, clipped to [0, 1], where r_second is the
   highest local maximum more than 2 frames from the peak: 1 when nothing else stands out of
   the lag curve, 0 when another lag fits as well (a syllable rhythm gives such twin peaks).
4. Where the sound stops fitting the mouth: windows of ``WIN_S`` seconds every 0.1 s, at the
   global lag. For each window the canonical weights are fitted on the rest of the track only
   and the correlation is measured inside the window (held out, so that a window cannot be
   fitted to itself), averaged over the ensemble. Windows with speech in >= half of their
   frames are compared with the track's own level (the median window): drop = median -
   correlation. Windows whose drop is at least ``DROP_MIN`` are candidates; strongest first,
   each is kept unless it overlaps a kept one by more than half (non-maximum suppression), and
   scores ``logistic((drop - DROP_MID) / DROP_WIDTH)``. The per-frame curve ``data["curve"]``
   is, at each frame, the largest candidate score covering it.
5. Activity findings (speech: band level within 30 dB of the 95th percentile and above
   -60 dBFS; silence otherwise). "Mouth moves while the audio is silent": a silent run of at
   least ``RUN_S`` with the mouth opening's 0.5 s standard deviation (in eye-corner distances)
   averaging >= ``MO_ACTIVE``. "Speech with no mouth motion": a speech run of at least
   ``RUN_S`` with a tracked face whose mouth deviation averages <= ``MO_STATIC``. These
   findings do not enter the score (a muted video or a pause with moving lips is innocent).

Score (rule): the largest of the segment scores and the offset score
``confidence x clip((|offset| - 1.5) / 3, 0, 1)`` (frames): an offset within 1.5 frames is the
method's own spread on unedited clips, 4.5 frames and more with full confidence count fully.

Fitted constants (``BIAS_FRAMES``, ``DROP_MIN``, ``DROP_MID``, ``MO_ACTIVE``, ``MO_STATIC``,
and ``HP_S`` chosen from 0.3/0.5/0.8 s) were fitted on the 5 clips of
talking-face-videoretalking-examples (their shifted and replaced versions) with
``benchmarks/lip_sync.py --fit``; the numbers reported for that set are leave-one-clip-out (each
clip scored with constants fitted on the other four). The other constants are design choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from veriscope.core.evidence import Evidence, Segment
from veriscope.core.media import Media
from veriscope.detectors.base import Context, FaceVideoDetector

# ---------------------------------------------------------------- design constants
BAND_LO, BAND_HI = 300.0, 4000.0
"""Speech band (Hz) of the sound features."""
WORK_RATE = 16000
"""The sound is resampled to at most this rate before the band filters."""
MEMBERS = tuple((n, m, g) for n in (3, 6, 10) for m in (4, 8) for g in (0.1, 0.3, 1.0))
"""(mouth-patch components, sound bands, ridge) of the canonical-correlation ensemble."""
MAX_PCS = max(n for n, _, _ in MEMBERS)
MAX_LAG_S = 0.6
"""Lags searched: +-0.6 s (15 frames at 25 fps)."""
MIN_TRACK_S = 3.0
"""Shorter face tracks are not analysed (too few syllables to align)."""
MIN_SUPPORT_S = 2.0
"""Frames every lag is measured over, at least (the lag range shrinks on short tracks)."""
MIN_LAG_FRAMES = 3
WIN_S = 1.0
"""Window of the local (held-out) correlation."""
WIN_STEP_S = 0.1
SIDE_PEAK_FRAMES = 2
"""A competing peak must be more than this many frames from the main one."""
SPEECH_DB = 30.0
"""Speech frames: band level within 30 dB of the clip's 95th percentile ..."""
SILENCE_ABS_DB = -60.0
"""... and above -60 dBFS (below it a frame is silent whatever the rest of the clip does)."""
ACTIVITY_S = 0.5
"""Window of the mouth-opening standard deviation (mouth activity)."""
RUN_S = 1.0
"""Shortest silent / speech run for the activity findings."""
OFFSET_FREE = 1.5
OFFSET_FULL = 4.5
"""Offset score ramps from 0 at 1.5 frames to 1 at 4.5 frames (times the confidence)."""
GOOD_CONFIDENCE = 0.3
"""Offsets are reported as a finding from this confidence on."""
MAX_CURVE_POINTS = 2000

# ---------------------------------------------------------------- fitted (benchmarks/lip_sync.py --fit)
# All fitted on the 5 clips of talking-face-videoretalking-examples (their re-encoded, shifted
# and replaced versions); the numbers reported for that set are leave-one-clip-out.
HP_S = 0.3
"""High-pass window (s), chosen from 0.3 / 0.5 / 0.8 by offset accuracy."""
BIAS_FRAMES = -0.16
"""Median raw offset of the unedited clips (frames), removed from every estimate."""
DROP_MIN = 0.1
"""Windows whose correlation falls at least this far below the track's median become segments
(chosen by segment AP@0.5)."""
DROP_MID = 0.9
"""Drop at which a segment scores 0.5 (chosen by flagged hits minus false flags; on the fitting
set no value gained, so this sits at the top of the grid and segments are rarely flagged)."""
DROP_WIDTH = 0.1
"""Slope of the segment score logistic (design choice, not fitted)."""
MO_ACTIVE = 0.0258
"""Mouth activity (0.5 s std of the mouth opening, in eye-corner distances) of a mouth that
moves as in speech: the median over clips of the 25th percentile during speech."""
MO_STATIC = 0.0034
"""A still mouth: half the smallest 5th percentile during speech over the clips."""


@dataclass
class Params:
    """Tunable constants (defaults: the module constants); the benchmark varies them."""

    hp_s: float = HP_S
    bias_frames: float = BIAS_FRAMES
    drop_min: float = DROP_MIN
    drop_mid: float = DROP_MID
    drop_width: float = DROP_WIDTH
    mo_active: float = MO_ACTIVE
    mo_static: float = MO_STATIC
    members: tuple = MEMBERS
    max_lag_s: float = MAX_LAG_S
    win_s: float = WIN_S

    def but(self, **kw) -> Params:
        return replace(self, **kw)


# ---------------------------------------------------------------- signal helpers
class BandBank:
    """Cumulative band energies of a sound track at 1 ms resolution, computed once per file, so
    that band levels in any window are two look-ups. The sound is first resampled to at most
    ``WORK_RATE`` (the bands end at 4 kHz)."""

    HOP_S = 0.001

    def __init__(self, x: np.ndarray, rate: int):
        from veriscope.signals.sampling import resample

        x = np.nan_to_num(np.asarray(x, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if rate > WORK_RATE:
            x, rate = resample(x, rate, WORK_RATE), WORK_RATE
        self.x = np.asarray(x, np.float64)
        self.rate = int(rate)
        self.hop = max(1, int(round(self.HOP_S * rate)))
        self._cum: dict[int, np.ndarray] = {}

    @property
    def seconds(self) -> float:
        return len(self.x) / float(self.rate)

    def cumulative(self, n_bands: int) -> np.ndarray:
        """(hops + 1, n_bands) cumulative energy at hop boundaries."""
        if n_bands not in self._cum:
            from scipy.signal import butter, sosfiltfilt

            rate, x = self.rate, self.x
            hi = min(BAND_HI, 0.45 * rate)
            lo = min(BAND_LO, hi / 2)
            edges = np.geomspace(lo, hi, n_bands + 1)
            nh = len(x) // self.hop
            out = np.zeros((nh + 1, n_bands))
            for j in range(n_bands):
                if len(x) > 64:
                    sos = butter(4, [edges[j], edges[j + 1]], btype="band", fs=rate, output="sos")
                    y = sosfiltfilt(sos, x)
                else:
                    y = np.zeros(len(x))
                e = (y[: nh * self.hop] ** 2).reshape(nh, self.hop).sum(axis=1)
                out[1:, j] = np.cumsum(e)
            self._cum[n_bands] = out
        return self._cum[n_bands]

    def levels(self, times: np.ndarray, win: float, n_bands: int) -> np.ndarray:
        """(n, n_bands) log power (dB re full scale) in windows of ``win`` s centred on
        ``times`` (seconds from the first sample); -120 dB outside the track."""
        c = self.cumulative(n_bands)
        nh = len(c) - 1
        t = np.asarray(times, np.float64)
        a = np.clip(np.round((t - win / 2) / self.HOP_S).astype(np.int64), 0, nh)
        b = np.clip(np.round((t + win / 2) / self.HOP_S).astype(np.int64), 0, nh)
        e = (c[b] - c[a]) / np.maximum((b - a) * self.hop, 1)[:, None]
        return 10.0 * np.log10(e + 1e-12)


def band_levels(x: np.ndarray, rate: int, times: np.ndarray, win: float, n_bands: int) -> np.ndarray:
    """(n, n_bands) log power (dB re full scale) of ``x`` in log-spaced bands between 300 and
    4000 Hz, in windows of ``win`` seconds centred on ``times`` (one-off use of BandBank)."""
    return BandBank(x, rate).levels(times, win, n_bands)


def highpass(M: np.ndarray, frames: int) -> np.ndarray:
    """Each column minus its moving average over ``frames`` (edges: nearest), standardized."""
    from scipy.ndimage import uniform_filter1d

    M = np.asarray(M, np.float64)
    if M.ndim == 1:
        M = M[:, None]
    if frames > 1:
        M = M - uniform_filter1d(M, frames, axis=0, mode="nearest")
    M = M - M.mean(axis=0)
    s = M.std(axis=0)
    return M / np.where(s > 1e-12, s, 1.0)


def _whiten(C: np.ndarray, reg: float) -> np.ndarray:
    C = C + reg * (np.trace(C) / len(C) + 1e-12) * np.eye(len(C))
    w, U = np.linalg.eigh(C)
    return (U / np.sqrt(np.maximum(w, 1e-12))) @ U.T


def cca(X: np.ndarray, Y: np.ndarray, reg: float) -> tuple[float, np.ndarray, np.ndarray]:
    """First regularized canonical correlation of X (n, p) and Y (n, q), and the weights."""
    X = X - X.mean(axis=0)
    Y = Y - Y.mean(axis=0)
    n = max(len(X), 1)
    Wx = _whiten(X.T @ X / n, reg)
    Wy = _whiten(Y.T @ Y / n, reg)
    U, s, Vt = np.linalg.svd(Wx @ (X.T @ Y / n) @ Wy)
    return float(s[0]), Wx @ U[:, 0], Wy @ Vt[0]


def lag_curve(V: np.ndarray, A: np.ndarray, max_lag: int, reg: float) -> np.ndarray:
    """r(k), k = -max_lag..max_lag: first canonical correlation of V[t] with A[t + k] over the
    same frames max_lag..n-max_lag-1 of V for every lag."""
    n = len(V)
    lo, hi = max_lag, n - max_lag
    return np.array([cca(V[lo:hi], A[lo + k:hi + k], reg)[0] for k in range(-max_lag, max_lag + 1)])


def parabolic(r: np.ndarray, i: int) -> float:
    """Sub-sample position of the peak at i from a parabola through its neighbours."""
    if i <= 0 or i >= len(r) - 1:
        return float(i)
    a, b, c = r[i - 1], r[i], r[i + 1]
    d = a - 2 * b + c
    return float(i) if d >= 0 else float(i + 0.5 * (a - c) / d)


def peak_confidence(r: np.ndarray, i: int) -> tuple[float, float]:
    """(confidence, second peak) of the lag curve ``r`` with its maximum at ``i`` (see module
    docstring)."""
    k = np.arange(len(r))
    loc = np.ones(len(r), bool)
    loc[1:] &= r[1:] >= r[:-1]
    loc[:-1] &= r[:-1] >= r[1:]
    far = loc & (np.abs(k - i) > SIDE_PEAK_FRAMES)
    second = float(r[far].max()) if far.any() else float(np.median(r))
    spread = float(r[i] - np.median(r))
    if spread <= 1e-9:
        return 0.0, second
    return float(np.clip((r[i] - second) / spread, 0.0, 1.0)), second


def moving_std(x: np.ndarray, w: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter1d

    x = np.asarray(x, np.float64)
    m = uniform_filter1d(x, max(1, w), mode="nearest")
    m2 = uniform_filter1d(x * x, max(1, w), mode="nearest")
    return np.sqrt(np.maximum(m2 - m * m, 0.0))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a boolean array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True))


# ---------------------------------------------------------------- per-track analysis
@dataclass
class TrackSignals:
    track_id: int
    grid: np.ndarray  # video times (s) of the uniform grid
    dt: float
    pcs: np.ndarray  # (n, MAX_PCS) mouth-patch components
    mouth_open: np.ndarray  # (n,)
    level: np.ndarray  # (n,) speech-band level, dB
    bands: dict = field(default_factory=dict)  # n_bands -> (n, n_bands) levels, dB


def track_signals(track, bank: BandBank, av_offset: float, dt: float,
                  band_counts=(4, 8)) -> TrackSignals:
    """Mouth and sound signals of one face track on a uniform grid of step ``dt``.

    ``av_offset`` = video start - audio start (s): the sound of video time t is at sample
    ``(t + av_offset) * rate``."""
    t = np.asarray(track.times, np.float64)
    grid = np.arange(t[0], t[-1] + 1e-9, dt)
    P = np.asarray(track.mouth_patches, np.float64).reshape(len(t), -1)
    P = P - P.mean(axis=0)
    U, S, _ = np.linalg.svd(P, full_matrices=False)
    k = min(MAX_PCS, U.shape[1])
    pcs = U[:, :k] * S[:k]
    if k < MAX_PCS:
        pcs = np.concatenate([pcs, np.zeros((len(t), MAX_PCS - k))], axis=1)
    pcs = np.stack([np.interp(grid, t, pcs[:, j]) for j in range(MAX_PCS)], axis=1)
    mo = np.interp(grid, t, np.asarray(track.mouth_open, np.float64))
    at = grid + av_offset
    level = bank.levels(at, 2 * dt, 1)[:, 0]
    bands = {m: bank.levels(at, 2 * dt, m) for m in sorted(set(band_counts))}
    return TrackSignals(track.id, grid, dt, pcs, mo, level, bands)


def speech_mask(level: np.ndarray, ref_db: float) -> np.ndarray:
    """Speech frames: within SPEECH_DB of the clip's reference (95th percentile) level and above
    SILENCE_ABS_DB."""
    return (level > ref_db - SPEECH_DB) & (level > SILENCE_ABS_DB)


def _member_views(sig: TrackSignals, p: Params):
    hpf = max(1, int(round(p.hp_s / sig.dt)))
    out = []
    cache = {}
    for n, m, g in p.members:
        if n not in cache:
            cache[n] = highpass(np.concatenate([sig.pcs[:, :n], sig.mouth_open[:, None]], axis=1), hpf)
        if ("a", m) not in cache:
            cache[("a", m)] = highpass(sig.bands[m], hpf)
        out.append((cache[n], cache[("a", m)], g))
    return out


def offset_scan(sig: TrackSignals, p: Params) -> dict | None:
    """Lag curve (ensemble mean), offset in frames (bias removed) and confidence; None when the
    track is too short."""
    n = len(sig.grid)
    K = min(int(round(p.max_lag_s / sig.dt)), (n - int(round(MIN_SUPPORT_S / sig.dt))) // 2)
    if K < MIN_LAG_FRAMES:
        return None
    views = _member_views(sig, p)
    r = np.mean([lag_curve(V, A, K, g) for V, A, g in views], axis=0)
    i = int(np.argmax(r))
    raw = parabolic(r, i) - K
    conf, second = peak_confidence(r, i)
    return {"lags": np.arange(-K, K + 1), "r": r, "peak_index": i, "lag": i - K,
            "raw_offset_frames": raw, "offset_frames": raw - p.bias_frames,
            "confidence": conf, "r_peak": float(r[i]), "r_second": second,
            "r_median": float(np.median(r)), "max_lag": K, "views": views}


def _whiten_batch(C: np.ndarray, reg: float) -> np.ndarray:
    k = C.shape[-1]
    tr = np.trace(C, axis1=-2, axis2=-1) / k + 1e-12
    C = C + (reg * tr)[:, None, None] * np.eye(k)
    w, U = np.linalg.eigh(C)
    return (U / np.sqrt(np.maximum(w, 1e-12))[:, None, :]) @ np.swapaxes(U, -1, -2)


def window_scan(sig: TrackSignals, lag: int, views, p: Params) -> dict:
    """Held-out canonical correlation in windows of ``p.win_s`` at the global ``lag``.

    For each window the canonical weights are fitted on every other frame of the track and the
    correlation of the two projections is measured inside the window. Computed for all windows
    at once from cumulative sums of the joint second moments (a window's training statistics
    are the track's minus the window's)."""
    n = len(sig.grid)
    if lag >= 0:
        iv, ia = np.arange(0, n - lag), np.arange(lag, n)
    else:
        iv, ia = np.arange(-lag, n), np.arange(0, n + lag)
    m = len(iv)
    w = max(3, int(round(p.win_s / sig.dt)))
    step = max(1, int(round(WIN_STEP_S / sig.dt)))
    if m < 2 * w:
        return {"starts": np.zeros(0, int), "w": w, "rho": np.zeros(0), "iv": iv}
    starts = np.arange(0, m - w + 1, step)
    rho = np.zeros(len(starts))
    stats: dict = {}
    for V, A, g in views:
        key = (id(V), id(A))
        if key not in stats:
            Z = np.concatenate([V[iv], A[ia]], axis=1)
            d = Z.shape[1]
            S1 = np.concatenate([np.zeros((1, d)), np.cumsum(Z, axis=0)])
            S2 = np.concatenate([np.zeros((1, d, d)),
                                 np.cumsum(Z[:, :, None] * Z[:, None, :], axis=0)])
            W1, W2 = S1[starts + w] - S1[starts], S2[starts + w] - S2[starts]
            nt = m - w
            T1, T2 = S1[-1] - W1, S2[-1] - W2
            C = T2 / nt - (T1 / nt)[:, :, None] * (T1 / nt)[:, None, :]
            Cw = W2 / w - (W1 / w)[:, :, None] * (W1 / w)[:, None, :]
            stats[key] = (V.shape[1], C, Cw)
        px, C, Cw = stats[key]
        Wx = _whiten_batch(C[:, :px, :px], g)
        Wy = _whiten_batch(C[:, px:, px:], g)
        U, _, Vt = np.linalg.svd(Wx @ C[:, :px, px:] @ Wy)
        a = np.einsum("nij,nj->ni", Wx, U[:, :, 0])
        b = np.einsum("nij,nj->ni", Wy, Vt[:, 0, :])
        cxy = np.einsum("ni,nij,nj->n", a, Cw[:, :px, px:], b)
        cxx = np.einsum("ni,nij,nj->n", a, Cw[:, :px, :px], a)
        cyy = np.einsum("ni,nij,nj->n", b, Cw[:, px:, px:], b)
        den = np.sqrt(np.maximum(cxx * cyy, 0.0))
        rho += np.where(den > 1e-12, cxy / np.where(den > 1e-12, den, 1.0), 0.0)
    return {"starts": starts, "w": w, "rho": rho / len(views), "iv": iv}


def logistic(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def analyse_track(sig: TrackSignals, ref_db: float, p: Params) -> dict:
    """Offset, windows, segments, curve and activity runs of one track."""
    out: dict = {"track_id": sig.track_id, "start": float(sig.grid[0]), "end": float(sig.grid[-1]),
                 "dt": sig.dt}
    speech = speech_mask(sig.level, ref_db)
    out["speech_s"] = float(speech.sum() * sig.dt)
    # activity
    act = moving_std(sig.mouth_open, int(round(ACTIVITY_S / sig.dt)))
    min_run = max(1, int(round(RUN_S / sig.dt)))
    silent_active, speech_static = [], []
    for a, b in runs(~speech):
        if b - a >= min_run and float(act[a:b].mean()) >= p.mo_active:
            silent_active.append((float(sig.grid[a]), float(sig.grid[b - 1] + sig.dt),
                                  float(act[a:b].mean()), float(np.median(sig.level[a:b]))))
    for a, b in runs(speech):
        if b - a >= min_run and float(act[a:b].mean()) <= p.mo_static:
            speech_static.append((float(sig.grid[a]), float(sig.grid[b - 1] + sig.dt),
                                  float(act[a:b].mean()), float(np.median(sig.level[a:b]))))
    out["silent_active"], out["speech_static"] = silent_active, speech_static
    out["mouth_activity_median"] = float(np.median(act))
    # offset
    scan = offset_scan(sig, p) if speech.sum() * sig.dt >= MIN_SUPPORT_S / 2 else None
    out["scan"] = scan
    out["segments"], out["windows"] = [], []
    out["curve_t"], out["curve"] = sig.grid, np.zeros(len(sig.grid))
    if scan is None:
        return out
    ws = window_scan(sig, scan["lag"], scan["views"], p)
    iv, w = ws["iv"], ws["w"]
    if not len(ws["rho"]):
        return out
    sp_frac = np.array([speech[iv[a:a + w]].mean() for a in ws["starts"]])
    valid = sp_frac >= 0.5
    if valid.sum() < 3:
        return out
    ref = float(np.median(ws["rho"][valid]))
    drop = np.where(valid, ref - ws["rho"], -np.inf)
    t0 = sig.grid[iv[ws["starts"]]]
    t1 = sig.grid[iv[np.minimum(ws["starts"] + w - 1, len(iv) - 1)]] + sig.dt
    out["windows"] = [{"start": round(float(a), 3), "end": round(float(b), 3),
                       "corr": round(float(c), 4), "speech": round(float(s), 2)}
                      for a, b, c, s in zip(t0, t1, ws["rho"], sp_frac, strict=True)]
    out["window_ref"] = ref
    out["win"] = {"t0": t0, "t1": t1, "drop": drop, "idx": [iv[a:a + w] for a in ws["starts"]]}
    out["segments"], out["curve"] = segments_from_windows(out["win"], len(sig.grid), p)
    return out


def segments_from_windows(win: dict, n: int, p: Params) -> tuple[list[dict], np.ndarray]:
    """Segments: windows whose drop reaches ``p.drop_min``, strongest first, each kept unless
    it overlaps an already kept window by more than half its length (non-maximum
    suppression: segments come at the window's resolution, a longer mismatch gives several
    adjacent ones). Score ``logistic((drop - drop_mid) / drop_width)``. The per-frame curve is
    the largest score of a candidate window covering the frame."""
    t0, t1, drop = win["t0"], win["t1"], win["drop"]
    cand = np.isfinite(drop) & (drop >= p.drop_min)
    score = np.where(cand, logistic((np.where(cand, drop, 0.0) - p.drop_mid) / p.drop_width), 0.0)
    curve = np.zeros(n)
    for idx, sc in zip(win["idx"], score, strict=True):
        if sc > 0:
            curve[idx] = np.maximum(curve[idx], sc)
    kept: list[int] = []
    for q in np.argsort(-np.where(cand, drop, -np.inf), kind="stable"):
        if not cand[q]:
            break
        half = 0.5 * (t1[q] - t0[q])
        if all(min(t1[q], t1[j]) - max(t0[q], t0[j]) <= half for j in kept):
            kept.append(int(q))
    kept.sort(key=lambda q: t0[q])
    return ([{"start": float(t0[q]), "end": float(t1[q]), "drop": float(drop[q]),
              "score": float(score[q])} for q in kept], curve)


def offset_score(offset_frames: float, confidence: float) -> float:
    """Rule: confidence x ramp of |offset| from OFFSET_FREE to OFFSET_FULL frames."""
    ramp = (abs(offset_frames) - OFFSET_FREE) / (OFFSET_FULL - OFFSET_FREE)
    return float(confidence * np.clip(ramp, 0.0, 1.0))


# ---------------------------------------------------------------- media-level helpers
def stream_starts(media: Media) -> tuple[float, float | None]:
    """(video start, audio start) in seconds from the container headers; audio None when there
    is no audio stream."""
    import av

    with av.open(str(media.path), metadata_errors="ignore") as c:
        vs = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None

        def start(s):
            if s is None or s.start_time is None or s.time_base is None:
                return 0.0
            return float(s.start_time * s.time_base)

        return start(vs), (start(a) if a is not None else None)


def prepare(media: Media, *, max_seconds: float | None = None, band_counts=(4, 8),
            progress=None) -> dict:
    """Decode sound, track faces and build every track's signals (no fitted constant is used
    here, so the benchmark can analyse the result with several :class:`Params`)."""
    from veriscope.core.errors import MediaError
    from veriscope.core.video import DEFAULT_MAX_SECONDS
    from veriscope.signals.faces import track_faces
    from veriscope.signals.sampling import frame_step

    cap = float(max_seconds or DEFAULT_MAX_SECONDS)
    vstart, astart = stream_starts(media)
    if astart is None:
        return {"status": "no_audio"}
    try:
        x, rate = media.audio(mono=True, max_seconds=cap + 2 * MAX_LAG_S + max(vstart - astart, 0.0))
    except MediaError as e:
        return {"status": "bad_audio", "reason": e.message}
    bank = BandBank(x[:, 0], rate)
    del x
    scan = track_faces(media, max_seconds=cap, progress=progress)
    dt = frame_step(scan.times)
    av_off = vstart - astart
    all_t = np.asarray(scan.times, np.float64)
    level_all = bank.levels(all_t + av_off, 2 * dt, 1)[:, 0] if len(all_t) else np.zeros(0)
    ref_db = float(np.percentile(level_all, 95)) if len(level_all) else -120.0
    tracks = [tr for tr in scan.tracks if tr.end - tr.start >= MIN_TRACK_S]
    sigs = [track_signals(tr, bank, av_off, dt, band_counts) for tr in tracks]
    speech_all = speech_mask(level_all, ref_db)
    return {"status": "ok", "signals": sigs, "dt": dt, "av_offset": av_off, "rate": rate,
            "ref_db": ref_db, "audio_peak_db": float(level_all.max()) if len(level_all) else -120.0,
            "speech_s": float(speech_all.sum() * dt), "frames": len(all_t),
            "face_frames": int(scan.frames_with_face().sum()), "n_tracks": len(scan.tracks),
            "analysed_s": float(all_t[-1] + dt) if len(all_t) else 0.0,
            "capped": scan.log.capped, "decode_errors": scan.log.errors,
            "audio_seconds": bank.seconds}


def finish(prep: dict, p: Params | None = None) -> dict:
    """Analyse prepared signals with the constants ``p``."""
    p = p or Params()
    if prep.get("status") != "ok":
        return dict(prep)
    res = {k: v for k, v in prep.items() if k != "signals"}
    res["tracks"] = [analyse_track(sig, prep["ref_db"], p) for sig in prep["signals"]]
    res["params"] = p
    return res


def analyse(media: Media, p: Params | None = None, *, max_seconds: float | None = None,
            progress=None) -> dict:
    """Whole analysis of a video (used by the detector)."""
    p = p or Params()
    prep = prepare(media, max_seconds=max_seconds, band_counts={m for _, m, _ in p.members},
                   progress=progress)
    return finish(prep, p)


def best_track(res: dict) -> dict | None:
    """The track whose lag curve peaks highest (the face that speaks the sound, if any)."""
    cands = [t for t in res.get("tracks", []) if t.get("scan") is not None]
    if not cands:
        return None
    return max(cands, key=lambda t: t["scan"]["r_peak"])


def downsample_curve(t: np.ndarray, s: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> dict:
    n = len(s)
    if n == 0:
        return {"t": [], "score": []}
    k = max(1, int(np.ceil(n / max_points)))
    m = n // k * k
    tt = t[:m].reshape(-1, k).mean(axis=1)
    ss = s[:m].reshape(-1, k).max(axis=1)
    if m < n:
        tt = np.append(tt, t[m:].mean())
        ss = np.append(ss, s[m:].max())
    return {"t": [round(float(v), 3) for v in tt], "score": [round(float(v), 4) for v in ss]}


# ---------------------------------------------------------------- detector
class LipSyncDetector(FaceVideoDetector):
    name = "lip_sync"
    version = "1.0"
    default = True
    localizes = False
    summary = "Audio-visual sync: offset between mouth motion and speech, and stretches where they stop matching"
    looks_at = ("Whether the sound fits the tracked mouth: the time offset between mouth "
                "movements and speech energy (audio early or late), stretches where the sound "
                "stops following the mouth (e.g. replaced speech), a mouth that moves over "
                "silence, and speech over a still mouth.")
    cannot_tell = ("Whether speech that fits the mouth is genuine (a good lip-sync deepfake, or "
                   "dubbing done well, fits); who speaks when the speaker is off screen; faces "
                   "turned away, very small or covered. Offsets within about 1.5 frames are "
                   "within its own error; on continuous speech a syllable rhythm can make two "
                   "lags fit equally (low confidence). Validated only on 5 short talking-head "
                   "clips.")
    how_to_read = ("The curve rises where the mouth opening stops following the loudness of the speech; "
                   "stretches above 0.5 are where sound and lips disagree. Off-screen speakers, dubbing "
                   "and music make them disagree too.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        res, na = self.over_video(media, ctx, lambda **kw: analyse(media, Params(), **kw),
                                  "the video cannot be analysed")
        if na is not None:
            return na
        if res["status"] == "no_audio":
            return Evidence.not_applicable(self.name, self.version,
                                           "the video has no audio track: nothing to compare the "
                                           "mouth with")
        if res["status"] == "bad_audio":
            return Evidence.not_applicable(self.name, self.version,
                                           f"the audio track cannot be used: {res['reason']}")
        ev = self._evidence(res)
        if res.get("capped"):
            ev.add("info", "analysis_capped", f"Only the first {res['analysed_s']:.1f} s of the "
                   "video were analysed (duration cap).")
        if res.get("decode_errors"):
            ev.add("info", "decode_errors", f"{res['decode_errors']} video packet(s) could not be "
                   "decoded; those frames are missing from the face tracks.")
        return ev

    def _evidence(self, res: dict) -> Evidence:
        ev = self.evidence()
        dt = res["dt"]
        tracks = res["tracks"]
        silent_track = res["audio_peak_db"] <= SILENCE_ABS_DB
        data = {"frame_step_s": round(dt, 5), "analysed_s": round(res["analysed_s"], 3),
                "speech_s": round(res["speech_s"], 2), "faces_tracked": res["n_tracks"],
                "face_coverage": round(res["face_frames"] / max(res["frames"], 1), 3),
                "audio_peak_db": round(res["audio_peak_db"], 1),
                "audio_video_start_offset_s": round(res["av_offset"], 4),
                "offset_seconds": None, "offset_frames": None, "offset_confidence": None}
        if silent_track:
            ev.add("info", "audio_silent", f"The audio track is silent throughout (speech-band "
                   f"peak {res['audio_peak_db']:.0f} dBFS).")
        if not tracks:
            msg = ("No face was tracked long enough to compare with the sound (at least "
                   f"{MIN_TRACK_S:g} s of a frontal face is needed)")
            ev.add("info", "no_face", msg + ".", faces_tracked=res["n_tracks"])
            data["reliability"] = {"level": "low", "why": msg + "."}
            ev.data.update(data)
            ev.score, ev.label = None, "inconclusive"
            return ev
        # activity findings (every analysed track); they do not enter the score: a muted
        # video, or a pause with moving lips, is innocent
        for tr in tracks:
            for a, b, m, lv in tr["silent_active"]:
                why = ("the video may be muted, or its sound removed" if silent_track else
                       "the sound may have been removed or replaced there")
                ev.add("low" if silent_track else "medium", "mouth_moves_audio_silent",
                       f"Face {tr['track_id']} moves its mouth as in speech from {a:.2f} to "
                       f"{b:.2f} s while the audio is silent (speech-band level {lv:.0f} dBFS): "
                       f"{why}.",
                       track=tr["track_id"], start=round(a, 3), end=round(b, 3),
                       mouth_activity=round(m, 4), level_db=round(lv, 1))
                ev.segments.append(Segment(a, b, None, "mouth_moves_silent"))
            for a, b, m, lv in tr["speech_static"]:
                ev.add("low", "speech_without_mouth_motion",
                       f"Speech plays from {a:.2f} to {b:.2f} s while the mouth of face "
                       f"{tr['track_id']} stays still (the speaker may be off screen, or the "
                       "speech was added).", track=tr["track_id"], start=round(a, 3),
                       end=round(b, 3), mouth_activity=round(m, 4), level_db=round(lv, 1))
        best = best_track(res)
        data["tracks"] = [self._track_data(t) for t in tracks]
        if best is None:
            why = ("the audio is silent" if silent_track else
                   "too little speech or too short a face track to align the sound with the mouth")
            ev.add("info", "offset_not_measured", f"No audio-video offset was measured: {why}.")
            ev.score, ev.label = None, "inconclusive"
            data["reliability"] = {"level": "low", "why": f"No offset measured: {why}."}
            ev.data.update(data)
            return ev
        sc = best["scan"]
        off_f = float(sc["offset_frames"])
        conf = float(sc["confidence"])
        data.update({"offset_frames": round(off_f, 2), "offset_seconds": round(off_f * dt, 4),
                     "offset_confidence": round(conf, 3), "speaker_track": best["track_id"],
                     "lag_curve": {"lag_frames": sc["lags"].tolist(),
                                   "r": [round(float(v), 4) for v in sc["r"]]},
                     "bias_frames_removed": res["params"].bias_frames})
        o_score = offset_score(off_f, conf)
        if abs(off_f) > 1.0 and conf >= GOOD_CONFIDENCE:
            ms = off_f * dt * 1000.0
            who = "the audio lags the picture" if off_f > 0 else "the audio leads the picture"
            sev = "high" if o_score >= 0.5 else ("medium" if o_score > 0 else "low")
            ev.add(sev, "av_offset",
                   f"Audio and mouth are out of sync by {abs(off_f):.1f} frames "
                   f"({abs(ms):.0f} ms): {who} (confidence {conf:.2f}).",
                   offset_frames=round(off_f, 2), offset_ms=round(ms, 1), confidence=round(conf, 3))
        else:
            ev.add("info", "av_offset_measured",
                   f"Audio-video offset {off_f:+.1f} frames ({off_f * dt * 1000:+.0f} ms, positive = "
                   f"audio late), confidence {conf:.2f}: "
                   + ("in sync within the method's error." if abs(off_f) <= 1.0 else
                      "too uncertain to report as an offset."),
                   offset_frames=round(off_f, 2), confidence=round(conf, 3))
        seg_score = 0.0
        for s in best["segments"]:
            ev.segments.append(Segment(s["start"], s["end"], round(s["score"], 8), "av_mismatch"))
            seg_score = max(seg_score, s["score"])
            if s["score"] >= 0.5:
                ev.add("high" if s["score"] >= 0.8 else "medium", "av_mismatch_segment",
                       f"From {s['start']:.2f} to {s['end']:.2f} s the sound stops following the "
                       f"mouth (window correlation {s['drop']:.2f} below the clip's own level, "
                       f"score {s['score']:.2f}): the audio may have been replaced there.",
                       start=round(s["start"], 3), end=round(s["end"], 3),
                       drop=round(s["drop"], 3), score=round(s["score"], 3))
        score = max(o_score, seg_score)
        ev.score = float(np.clip(score, 0.0, 1.0))
        ev.label = "manipulated" if ev.score >= 0.5 else "no_evidence"
        data["offset_score"] = round(o_score, 4)
        data["curve"] = downsample_curve(best["curve_t"], best["curve"])
        data["reliability"] = self._reliability(res, best, conf)
        ev.data.update(data)
        return ev

    @staticmethod
    def _track_data(t: dict) -> dict:
        d = {"track": t["track_id"], "start": round(t["start"], 3), "end": round(t["end"], 3),
             "speech_s": round(t["speech_s"], 2),
             "mouth_activity_median": round(t["mouth_activity_median"], 4)}
        sc = t.get("scan")
        if sc is not None:
            d.update({"offset_frames": round(float(sc["offset_frames"]), 2),
                      "confidence": round(float(sc["confidence"]), 3),
                      "r_peak": round(sc["r_peak"], 4), "r_second": round(sc["r_second"], 4),
                      "r_median": round(sc["r_median"], 4)})
        if t.get("windows"):
            d["window_ref_corr"] = round(t["window_ref"], 4)
            d["segments"] = [{k: round(v, 4) for k, v in s.items()} for s in t["segments"]]
        return d

    @staticmethod
    def _reliability(res: dict, best: dict, conf: float) -> dict:
        dur = best["end"] - best["start"]
        sp = best["speech_s"]
        if conf < GOOD_CONFIDENCE:
            return {"level": "low", "why": f"The lag curve has competing peaks (confidence "
                    f"{conf:.2f}): the offset is uncertain."}
        if sp < 3.0 or dur < 4.0:
            return {"level": "low", "why": f"Only {sp:.1f} s of speech over a {dur:.1f} s face "
                    "track: too few syllables for a stable alignment."}
        if conf >= 0.6 and sp >= 8.0:
            return {"level": "medium", "why": f"Clear lag peak (confidence {conf:.2f}) over "
                    f"{sp:.1f} s of speech; validated only on 5 short talking-head clips."}
        return {"level": "low", "why": f"{sp:.1f} s of speech, confidence {conf:.2f}; the "
                "method was validated only on 5 short talking-head clips (offset within 1 frame "
                "of the truth on 3 of them, leave-one-clip-out)."}
