"""Audio splice localization: where does the recording change source?

A splice joins pieces of different recordings (another speaker, room, microphone or
channel). The pieces then differ in what a single recording keeps constant: the background
noise floor between words, the long-term spectral envelope of the channel, the reverberation,
and, when mains hum was recorded, the phase of the hum (electric network frequency, ENF).
Method (docs/detectors/audio_splice.md), all numpy / scipy:

1. Mono, at most 48 kHz (higher rates are resampled), frames of ~32 ms every 10 ms. Per
   frame, log power in 32 bands: 4 low bands (0-40-80-160-300 Hz: rumble, mains hum and the
   microphone's high-pass live there) and 28 linear bands from 300 Hz to Nyquist (the top
   ones hold the recording chain's anti-alias roll-off).
2. Two frame descriptors: the spectral *envelope* (band levels minus the frame level) of
   speech frames (within 35 dB of the loudest), and the *noise floor* track (per band, the
   minimum over 0.25 s: minimum statistics, which finds the pauses between syllables).
3. A change curve: for every 10 ms point, Welch two-sample t^2 of each descriptor between the
   0.4 s before and after it (averaged over bands, with the frame counts divided by the
   overlap of neighbouring frames). Its local maxima are candidate boundaries, each moved to
   the best split within +-0.15 s by a diagonal-Gaussian BIC gain on the envelope.
4. Bottom-up merging: the boundary whose two neighbouring *pieces* (all their frames, not
   windows) differ least is removed, until every remaining one exceeds MERGE_T2.
5. The longest piece is taken as the host recording. Every other piece is compared with it:
   envelope t^2, noise-floor t^2 and the difference of reverberation decay rates (the
   fastest energy decays after speech offsets, in dB/s). A logistic model fitted on the FIT
   split turns them into a per-segment score.
6. ENF: when a 50/60 Hz hum (or a harmonic) stands out of the spectrum, its phase is tracked
   (complex demodulation, 2 Hz lowpass) and phase jumps at a point give boundaries of their
   own (rule scores). Otherwise the ENF test is skipped with a reason.

The per-frame score curve in ``data["curve"]`` is the score of the segment each frame
belongs to (0 for the host), raised near ENF jumps.
"""

from __future__ import annotations

import numpy as np

from veriscope.core.evidence import Evidence, Segment
from veriscope.core.media import Media
from veriscope.detectors.audio.audio_facts import MAX_SECONDS, load_audio
from veriscope.detectors.base import Context, Detector

# ---------------------------------------------------------------- design constants (rule)
WORK_MAX_RATE = 48000
MIN_RATE = 4000
"""Below 4 kHz (2 kHz of bandwidth) there is too little spectrum to compare."""
MIN_SECONDS = 1.0
"""Shorter audio cannot hold two pieces long enough to compare."""
HOP_S = 0.01
FRAME_S = 0.032
N_LIN_BANDS = 28
LF_EDGES = (0.0, 40.0, 80.0, 160.0, 300.0)
ACTIVE_DB = 35.0
"""Speech frames: within 35 dB of the 99th-percentile frame level."""
NOISE_WIN = 25
"""Frames of the minimum filter of the noise-floor track (0.25 s)."""
WINDOW_S = 0.4
"""Each side of the change-curve test."""
REDUCE_ENV, REDUCE_NOISE = 3.0, 12.0
"""Frame counts are divided by these in the t^2 (neighbouring 32 ms frames overlap 3x; the
0.25 s minimum filter correlates the noise track over ~12 frames)."""
VAR_FLOOR = 1.0
"""dB^2 added to every variance (a floor for nearly constant bands)."""
W_NOISE = 0.5
"""Weight of the noise-floor t^2 against the envelope t^2 in the change statistic."""
PEAK_S = 0.15
"""Candidate boundaries: local maxima of the change curve within +-0.15 s."""
REFINE_S = 0.15
MIN_PIECE_S = 0.1
MIN_ACTIVE_FRAMES = 5
HOST_SEEDS = 4
"""Host groups are grown from each of the 4 longest pieces; the one covering most time wins."""

# ---------------------------------------------------------------- fitted on FIT (benchmarks/audio_splice.py --fit)
PEAK_T2 = 8.0
"""Smallest change-curve value that makes a candidate."""
MERGE_T2 = 12.0
"""Bottom-up merging stops when all neighbouring pieces differ by more than this."""
LOGIT_W = (0.477, 0.422, 0.763, 4.150)
"""Weights of the segment score logistic over (log1p envelope t^2, log1p noise t^2,
reverberation log-ratio, log10 piece seconds) against the host."""
LOGIT_B = -3.654
CURVE_MID, CURVE_WIDTH = 12.0, 0.5
"""change_curve = logistic((log1p(statistic) - log1p(CURVE_MID)) / CURVE_WIDTH)."""

MANY_SEGMENTS = 3
MANY_FRACTION = 0.4
"""With 3 or more flagged segments, or flagged segments covering over 40 % of the audio, the
recording itself changes character (turns, crowd, music): reliability low (rule)."""

# ---------------------------------------------------------------- ENF rule constants
ENF_MIN_PROMINENCE_DB = 12.0
"""A hum is present when its peak stands this far above the median of +-8 Hz around it."""
ENF_JUMP_RAD = 0.6
"""A phase jump of at least this much (about 35 degrees) ..."""
ENF_JUMP_Z = 6.0
"""... and this many robust standard deviations of the file's phase residual is a splice."""
ENF_SCORE = 0.75
"""Score of a segment bounded by an ENF phase jump (rule: the hum of one recording is
continuous; a jump needs a cut or a different recording)."""
ENF_POINT_S = 0.25
"""A jump with no segment end near it is reported as the segment +-0.25 s around it (a cut
point: something was removed or joined there)."""
ENF_MAX_SECONDS = 600.0
ENF_EDGE = 40
"""Phase jumps are not searched in the first and last 0.6 + 0.4 s (filter transients)."""
ENF_MAX_MAD_RAD = 0.5
"""The hum phase is trackable when the robust spread of the phase-jump statistic over the
file is below 0.5 rad (a clean hum gives ~0.02-0.05 rad)."""


# ---------------------------------------------------------------- features
def band_edges(rate: int) -> np.ndarray:
    nyq = rate / 2.0
    lf = [e for e in LF_EDGES if e < nyq]
    lin = list(np.linspace(LF_EDGES[-1], nyq, N_LIN_BANDS + 1)[1:]) if nyq > LF_EDGES[-1] \
        else [nyq]
    return np.array(lf + lin, np.float64)


def frame_features(y: np.ndarray, rate: int) -> dict:
    """Band levels L (T, B) dB, frame level e (T,) dB and frame centre times t (T,)."""
    hop = max(1, int(round(HOP_S * rate)))
    n_fft = int(2 ** np.round(np.log2(max(FRAME_S * rate, 16))))
    y = np.asarray(y, np.float32)
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    T = 1 + (len(y) - n_fft) // hop
    f = np.fft.rfftfreq(n_fft, 1.0 / rate)
    ed = band_edges(rate)
    bi = np.clip(np.searchsorted(ed, f, side="right") - 1, 0, len(ed) - 2)
    M = np.zeros((len(f), len(ed) - 1), np.float32)
    M[np.arange(len(f)), bi] = 1.0
    M /= np.maximum(M.sum(axis=0, keepdims=True), 1.0)
    w = np.hanning(n_fft).astype(np.float32)
    norm = float(np.sum(w * w))
    L = np.empty((T, M.shape[1]), np.float32)
    e = np.empty(T, np.float32)
    for a in range(0, T, 4096):
        b = min(T, a + 4096)
        idx = np.arange(a, b)[:, None] * hop + np.arange(n_fft)[None]
        P = np.abs(np.fft.rfft(y[idx] * w, axis=1)) ** 2 / norm
        L[a:b] = 10 * np.log10(P @ M + 1e-10)
        e[a:b] = 10 * np.log10(P.mean(axis=1) + 1e-10)
    t = (np.arange(T) * hop + n_fft / 2.0) / rate
    return {"L": L, "e": e, "t": t, "hop": hop, "n_fft": n_fft}


class _Cum:
    """Cumulative sums of masked frame features: O(1) mean / variance of any frame range."""

    def __init__(self, X: np.ndarray, mask: np.ndarray):
        Xm = np.where(mask[:, None], X, 0.0).astype(np.float64)
        z = np.zeros((1, X.shape[1]))
        self.c1 = np.vstack([z, np.cumsum(Xm, axis=0)])
        self.c2 = np.vstack([z, np.cumsum(Xm * Xm, axis=0)])
        self.cn = np.concatenate([[0], np.cumsum(mask.astype(np.int64))])

    def ranges(self, rs):
        """(n, mean, var) pooled over a list of (a, b) frame ranges."""
        n, s1, s2 = 0, 0.0, 0.0
        for a, b in rs:
            n += int(self.cn[b] - self.cn[a])
            s1 = s1 + (self.c1[b] - self.c1[a])
            s2 = s2 + (self.c2[b] - self.c2[a])
        m = s1 / max(n, 1)
        return n, m, np.maximum(s2 / max(n, 1) - m * m, 0.0)

    def windows(self, a, b):
        """Vectorised (n, mean, var) for arrays of ranges [a, b)."""
        n = self.cn[b] - self.cn[a]
        nn = np.maximum(n, 1)[:, None]
        m = (self.c1[b] - self.c1[a]) / nn
        v = np.maximum((self.c2[b] - self.c2[a]) / nn - m * m, 0.0)
        return n, m, v


def welch_t2(sa, sb, reduce: float) -> np.ndarray | float:
    """Mean over bands of the Welch two-sample t^2 (counts divided by ``reduce``)."""
    na, ma, va = sa
    nb, mb, vb = sb
    na = np.maximum(np.asarray(na, np.float64) / reduce, 1.0)
    nb = np.maximum(np.asarray(nb, np.float64) / reduce, 1.0)
    if np.ndim(na):
        na, nb = na[:, None], nb[:, None]
    t2 = (ma - mb) ** 2 / ((va + VAR_FLOOR) / na + (vb + VAR_FLOOR) / nb)
    return t2.mean(axis=-1)


def prepare(y: np.ndarray, rate: int) -> dict:
    """Frame features and their cumulative sums."""
    from scipy.ndimage import minimum_filter1d

    F = frame_features(y, rate)
    L, e = F["L"], F["e"]
    valid = e > -95.0  # digital silence carries no information about the source
    top = float(np.percentile(e[valid], 99)) if valid.any() else 0.0
    active = valid & (e > top - ACTIVE_DB)
    N = minimum_filter1d(L, size=NOISE_WIN, axis=0, mode="nearest")
    F.update(valid=valid, active=active, env=_Cum(L - e[:, None], active), noise=_Cum(N, valid))
    return F


def change_curve(F: dict, W: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame index c, envelope t^2, noise t^2) between [c-W, c) and [c, c+W)."""
    T = len(F["e"])
    c = np.arange(W, T - W + 1)
    if len(c) == 0:
        return c, np.zeros(0), np.zeros(0)
    la, lb = F["env"].windows(c - W, c), F["env"].windows(c, c + W)
    A = welch_t2(la, lb, REDUCE_ENV)
    A = np.where((la[0] >= MIN_ACTIVE_FRAMES) & (lb[0] >= MIN_ACTIVE_FRAMES), A, 0.0)
    N = welch_t2(F["noise"].windows(c - W, c), F["noise"].windows(c, c + W), REDUCE_NOISE)
    return c, A, N


def _refine(F: dict, p: int, R: int, W: int) -> int:
    """Best split within p +- R by a diagonal-Gaussian BIC gain on the envelope (all frames)."""
    L = F["L"] - F["e"][:, None]
    T = len(L)
    lo, hi = max(0, p - R - W), min(T, p + R + W)
    X = L[lo:hi].astype(np.float64)
    n = len(X)
    if n < 12:
        return p
    z = np.zeros((1, X.shape[1]))
    c1 = np.vstack([z, np.cumsum(X, axis=0)])
    c2 = np.vstack([z, np.cumsum(X * X, axis=0)])
    ks = np.arange(max(4, p - R - lo), min(n - 4, p + R - lo + 1))
    if len(ks) == 0:
        return p

    def logdet(a, b):
        m = (b - a).astype(np.float64)[:, None]
        mu = (c1[b] - c1[a]) / m
        v = (c2[b] - c2[a]) / m - mu * mu
        return m[:, 0] * np.sum(np.log(np.maximum(v, 0.0) + VAR_FLOOR), axis=1)

    gain = -logdet(np.zeros_like(ks), ks) - logdet(ks, np.full_like(ks, n))
    return int(lo + ks[int(np.argmax(gain))])


def piece_stats(F: dict, r1, r2) -> tuple[float, float]:
    """(envelope t^2, noise t^2) between two sets of frame ranges."""
    a1, a2 = F["env"].ranges(r1), F["env"].ranges(r2)
    A = float(welch_t2(a1, a2, REDUCE_ENV)) if min(a1[0], a2[0]) >= MIN_ACTIVE_FRAMES else 0.0
    N = float(welch_t2(F["noise"].ranges(r1), F["noise"].ranges(r2), REDUCE_NOISE))
    return A, N


def decay_rate(F: dict, rs) -> float | None:
    """Fastest energy decay (dB/s, positive) in frame ranges: minus the 10th percentile of the
    40 ms level slope over frames >= 20 dB above the 5th-percentile level; None if < 5 such
    falling frames. Reverberation limits how fast the level can fall after a word ends."""
    e = F["e"]
    k = 4
    out = []
    floor = float(np.percentile(e[F["valid"]], 5)) if F["valid"].any() else -100.0
    for a, b in rs:
        seg = e[a:min(b + k, len(e))]
        if len(seg) <= k:
            continue
        s = (seg[k:] - seg[:-k]) / (k * HOP_S)
        base = seg[:-k]
        # a fall into digital silence is an editor's cut, not the room's decay
        out.append(s[(base > floor + 20) & (s < 0) & (seg[k:] > -95.0)])
    v = np.concatenate(out) if out else np.zeros(0)
    return float(-np.percentile(v, 10)) if len(v) >= 5 else None


# ---------------------------------------------------------------- segmentation
def segment(F: dict, *, peak_t2: float = PEAK_T2, merge_t2: float = MERGE_T2) -> dict:
    """Candidate boundaries, refinement and bottom-up merging. Returns frame indices."""
    from scipy.ndimage import maximum_filter1d

    T = len(F["e"])
    W = max(5, int(round(WINDOW_S / HOP_S)))
    c, A, N = change_curve(F, W)
    S = A + W_NOISE * N
    out = {"c": c, "S": S, "boundaries": [], "T": T}
    if len(c) == 0:
        return out
    size = 2 * int(round(PEAK_S / HOP_S)) + 1
    mx = maximum_filter1d(S, size=size, mode="nearest")
    pk = c[(S >= mx) & (S >= peak_t2)]
    R = int(round(REFINE_S / HOP_S))
    strength = {}
    for p in pk:
        q = _refine(F, int(p), R, W)
        v = float(S[int(np.clip(p - c[0], 0, len(S) - 1))])
        strength[q] = max(strength.get(q, 0.0), v)
    min_piece = max(1, int(round(MIN_PIECE_S / HOP_S)))
    bnd: list[int] = []
    for b in sorted(strength, key=lambda q: -strength[q]):
        if min_piece <= b <= T - min_piece and all(abs(b - o) >= min_piece for o in bnd):
            bnd.append(int(b))
    bnd.sort()

    def stat(i, bl):
        e = [0] + bl + [T]
        a, n = piece_stats(F, [(e[i], e[i + 1])], [(e[i + 1], e[i + 2])])
        return a + W_NOISE * n

    st = [stat(i, bnd) for i in range(len(bnd))]
    while bnd:
        j = int(np.argmin(st))
        if st[j] >= merge_t2:
            break
        bnd.pop(j)
        st.pop(j)
        for i in (j - 1, j):
            if 0 <= i < len(bnd):
                st[i] = stat(i, bnd)
    out["boundaries"] = bnd
    out["boundary_t2"] = st
    return out


def score_segments(F: dict, bnd: list[int], *, w=LOGIT_W, b=LOGIT_B,
                   join_t2: float = MERGE_T2) -> list[dict]:
    """Pieces between boundaries, grouped into a host recording and scored segments.

    A host group starts from one of the HOST_SEEDS longest pieces and grows by the piece
    closest to it (envelope t^2 + W_NOISE x noise t^2 against all group frames) while that
    distance is below ``join_t2``; the group covering the most time is the host. Each run of
    consecutive non-host pieces becomes one segment, scored against the host."""
    T = len(F["e"])
    e = [0] + list(bnd) + [T]
    pieces = [(e[i], e[i + 1]) for i in range(len(e) - 1)]
    if len(pieces) < 2:
        return []
    lengths = np.array([q - p for p, q in pieces])
    host, best_len = set(), -1
    sums = (_piece_sums(F["env"], pieces), _piece_sums(F["noise"], pieces))
    for seed in np.argsort(-lengths, kind="stable")[:HOST_SEEDS]:
        grp = _grow(F, pieces, int(seed), join_t2, sums)
        tot = int(lengths[sorted(grp)].sum())
        if tot > best_len:
            host, best_len = grp, tot
    hr = [pieces[i] for i in sorted(host)]
    r_host = decay_rate(F, hr)
    runs_, cur = [], []
    for i in range(len(pieces)):
        if i in host:
            if cur:
                runs_.append(cur)
            cur = []
        else:
            cur.append(i)
    if cur:
        runs_.append(cur)
    out = []
    for run in runs_:
        p = (pieces[run[0]][0], pieces[run[-1]][1])
        A, N = piece_stats(F, [p], hr)
        r = decay_rate(F, [p])
        rev = abs(float(np.log(r / r_host))) if r and r_host else 0.0
        dur = (p[1] - p[0]) * HOP_S
        x = np.array([np.log1p(A), np.log1p(N), rev, np.log10(max(dur, 0.05))])
        z = float(np.dot(w, x) + b)
        out.append({"frames": p, "env_t2": A, "noise_t2": N, "decay_db_s": r,
                    "host_decay_db_s": r_host, "reverb_logratio": rev, "seconds": dur,
                    "pieces": len(run), "features": x.tolist(),
                    "score": float(1.0 / (1.0 + np.exp(-z)))})
    return out


def _piece_sums(C: _Cum, pieces: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.array([p for p, _ in pieces])
    b = np.array([q for _, q in pieces])
    return (C.cn[b] - C.cn[a]).astype(np.float64), C.c1[b] - C.c1[a], C.c2[b] - C.c2[a]


def _t2_to_group(sums, grp_mask: np.ndarray, reduce: float) -> np.ndarray:
    """Welch t^2 (band mean) of every piece against the pooled frames of the group."""
    n, s1, s2 = sums
    gn = n[grp_mask].sum()
    g1, g2 = s1[grp_mask].sum(axis=0), s2[grp_mask].sum(axis=0)
    gm = g1 / max(gn, 1.0)
    gv = np.maximum(g2 / max(gn, 1.0) - gm * gm, 0.0)
    nn = np.maximum(n, 1.0)[:, None]
    m = s1 / nn
    v = np.maximum(s2 / nn - m * m, 0.0)
    t2 = welch_t2((n, m, v), (np.full(len(n), gn), np.broadcast_to(gm, m.shape),
                              np.broadcast_to(gv, v.shape)), reduce)
    return np.asarray(t2), gn


def _grow(F: dict, pieces: list, seed: int, join_t2: float, sums=None) -> set:
    """Grow a group from ``seed`` by the closest piece while its distance < ``join_t2``
    (vectorised over pieces: the distance is the same as :func:`piece_stats`)."""
    env, noise = sums if sums is not None else (_piece_sums(F["env"], pieces),
                                                _piece_sums(F["noise"], pieces))
    grp = np.zeros(len(pieces), bool)
    grp[seed] = True
    while not grp.all():
        A, gn = _t2_to_group(env, grp, REDUCE_ENV)
        A = np.where((env[0] >= MIN_ACTIVE_FRAMES) & (gn >= MIN_ACTIVE_FRAMES), A, 0.0)
        N, _ = _t2_to_group(noise, grp, REDUCE_NOISE)
        d = np.where(grp, np.inf, A + W_NOISE * N)
        i = int(np.argmin(d))
        if not np.isfinite(d[i]) or d[i] >= join_t2:
            break
        grp[i] = True
    return {int(i) for i in np.nonzero(grp)[0]}


# ---------------------------------------------------------------- ENF
def hum_presence(y: np.ndarray, rate: int) -> dict:
    """The most prominent mains hum component: 50/60 Hz or a harmonic up to the 4th."""
    from scipy.signal import welch

    if rate < 400 or len(y) < rate * 2:
        return {"present": False, "reason": "audio shorter than 2 s or sample rate below 400 Hz"}
    seg = y[: int(min(len(y), 120 * rate))]
    nper = int(min(len(seg), 2 ** int(np.ceil(np.log2(rate / 0.25)))))
    f, P = welch(seg, fs=rate, nperseg=nper, noverlap=nper // 2)
    Pdb = 10 * np.log10(P + 1e-20)
    best = None
    for base in (50.0, 60.0):
        for h in (1, 2, 3, 4):
            fc = base * h
            if fc > rate / 2 - 20:
                continue
            pk = (f >= fc - 0.6 * h) & (f <= fc + 0.6 * h)
            nb = (np.abs(f - fc) >= 2.0) & (np.abs(f - fc) <= 8.0)
            if not pk.any() or not nb.any():
                continue
            prom = float(Pdb[pk].max() - np.median(Pdb[nb]))
            fpk = float(f[pk][np.argmax(Pdb[pk])])
            if best is None or prom > best["prominence_db"]:
                best = {"nominal_hz": base, "harmonic": h, "peak_hz": fpk, "prominence_db": prom}
    if best is None:
        return {"present": False, "reason": "no 50/60 Hz band in this sample rate"}
    best["present"] = best["prominence_db"] >= ENF_MIN_PROMINENCE_DB
    if not best["present"]:
        best["reason"] = (f"no mains hum: the strongest 50/60 Hz component stands only "
                          f"{best['prominence_db']:.1f} dB above its surroundings "
                          f"(< {ENF_MIN_PROMINENCE_DB:g} dB)")
    return best


def enf_phase(y: np.ndarray, rate: int, hum: dict) -> dict:
    """Phase of the hum component every 10 ms and the phase jumps in it.

    Complex demodulation at the hum's peak frequency of a signal decimated to ~1 kHz, 2 Hz
    zero-phase lowpass, unwrapped phase. At each 10 ms point the lines fitted to the phase over
    [t-0.6, t-0.15] and [t+0.15, t+0.6] s are extrapolated to t; their difference (wrapped)
    is the jump. A continuous hum drifts slowly; a splice makes a step."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    fh = float(hum["peak_hz"])
    y = np.asarray(y[: int(ENF_MAX_SECONDS * rate)], np.float64)
    fs = 1000.0
    if rate > 2000:
        from math import gcd

        g = gcd(int(rate), 1000)
        x = resample_poly(y, 1000 // g, int(rate) // g)
    else:
        x, fs = y, float(rate)
    n = np.arange(len(x))
    z = x * np.exp(-2j * np.pi * fh * n / fs)
    sos = butter(4, 2.0, fs=fs, output="sos")
    zr = sosfiltfilt(sos, z.real)
    zi = sosfiltfilt(sos, z.imag)
    step = int(fs * 0.01)
    ph = np.unwrap(np.arctan2(zi, zr)[::step])
    amp = np.hypot(zr, zi)[::step]
    t = np.arange(len(ph)) * 0.01
    g0, g1 = 15, 60  # 0.15 s guard, 0.6 s reach
    jumps = np.zeros(len(ph))
    if len(ph) > 2 * g1 + 1:
        # least-squares line through ph[i + k] (x = k) evaluated at x = 0 is a fixed linear
        # combination sum_k c_k ph[i + k]; the left side uses the same c_k on ph[i - k]
        k = np.arange(g0, g1 + 1, dtype=np.float64)
        xm = k.mean()
        c = 1.0 / len(k) - xm * (k - xm) / np.sum((k - xm) ** 2)
        i = np.arange(g1, len(ph) - g1)
        right = ph[i[:, None] + k.astype(int)[None]] @ c
        left = ph[i[:, None] - k.astype(int)[None]] @ c
        jumps[i] = np.angle(np.exp(1j * (right - left)))
    edge = g1 + ENF_EDGE  # the zero-phase filter settles within about 1 s of either end
    jumps[:edge] = 0.0
    jumps[max(edge, len(ph) - edge):] = 0.0
    inner = jumps[edge: len(ph) - edge] if len(ph) > 2 * edge + 1 else np.zeros(0)
    mad = float(np.median(np.abs(inner - np.median(inner)))) * 1.4826 if len(inner) else 0.0
    z_ = np.abs(jumps) / max(mad, 1e-3)
    found = []
    if len(inner):
        order = np.argsort(-np.abs(jumps))
        for i in order:
            if abs(jumps[i]) < ENF_JUMP_RAD or z_[i] < ENF_JUMP_Z:
                break
            if all(abs(i - j) > g1 for j, _, _ in found):
                found.append((int(i), float(jumps[i]), float(z_[i])))
    return {"t": t, "phase": ph, "amplitude": amp, "jump": jumps,
            "jumps": [{"time_s": round(float(t[i]), 3), "jump_rad": round(j, 3),
                       "z": round(zz, 1)} for i, j, zz in sorted(found)],
            "residual_mad_rad": mad}


# ---------------------------------------------------------------- whole analysis
def locate(y: np.ndarray, rate: int, *, peak_t2: float = PEAK_T2, merge_t2: float = MERGE_T2,
           w=LOGIT_W, b=LOGIT_B, enf: bool = True) -> dict:
    """Splice analysis of a mono signal: segments (seconds, scores), boundaries, curves, ENF."""
    y = np.nan_to_num(np.asarray(y, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if rate > WORK_MAX_RATE:
        from veriscope.signals.sampling import resample

        y, rate = resample(y, rate, WORK_MAX_RATE), WORK_MAX_RATE
    F = prepare(y, rate)
    seg = segment(F, peak_t2=peak_t2, merge_t2=merge_t2)
    T = seg["T"]
    t = F["t"]
    dur = len(y) / float(rate)

    def tsec(i):
        if i <= 0:
            return 0.0
        if i >= T:
            return dur
        return float(t[i] - HOP_S / 2)

    pieces = score_segments(F, seg["boundaries"], w=w, b=b)
    for p in pieces:
        p["start"], p["end"] = tsec(p["frames"][0]), tsec(p["frames"][1])
    bnds = [{"time_s": round(tsec(i), 3), "t2": round(float(s), 2)}
            for i, s in zip(seg["boundaries"], seg.get("boundary_t2", []), strict=False)]
    # ENF
    enf_out: dict = {"applied": False}
    if enf:
        hum = hum_presence(y, rate)
        if hum.get("present"):
            ph = enf_phase(y, rate, hum)
            hum_f = {k: v for k, v in hum.items() if k != "present"}
            if ph["residual_mad_rad"] > ENF_MAX_MAD_RAD:
                enf_out = {"applied": False, **hum_f,
                           "residual_mad_rad": round(ph["residual_mad_rad"], 4),
                           "reason": f"a {hum['peak_hz']:.1f} Hz hum is present but too weak "
                                     "against the sound to track its phase (phase residual "
                                     f"{ph['residual_mad_rad']:.2f} rad > {ENF_MAX_MAD_RAD:g})"}
            else:
                enf_out = {"applied": True, **hum_f, "jumps": ph["jumps"],
                           "residual_mad_rad": round(ph["residual_mad_rad"], 4)}
        else:
            enf_out = {"applied": False, "reason": hum.get("reason", "no mains hum")}
    # per-frame curve: the score of the piece each frame is in; ENF jumps add their segments
    score_t = np.zeros(T, np.float32)
    for p in pieces:
        a, b_ = p["frames"]
        score_t[a:b_] = np.maximum(score_t[a:b_], p["score"])
    for j in enf_out.get("jumps", []):
        i = int(np.clip(np.searchsorted(t, j["time_s"]), 0, max(T - 1, 0)))
        lo, hi = max(0, i - 10), min(T, i + 10)
        score_t[lo:hi] = np.maximum(score_t[lo:hi], ENF_SCORE)
    change = np.zeros(T, np.float32)
    if len(seg["c"]):
        z = (np.log1p(np.maximum(seg["S"], 0)) - np.log1p(CURVE_MID)) / CURVE_WIDTH
        change[seg["c"]] = 1.0 / (1.0 + np.exp(-z))
    return {"rate": rate, "seconds": dur, "t": t, "curve": score_t, "change_curve": change,
            "segments": pieces, "boundaries": bnds, "enf": enf_out,
            "active_s": float(F["active"].sum() * HOP_S),
            "n_candidates": int(len(seg.get("boundary_t2", []))), "F": F}


def downsample_curve(t: np.ndarray, s: np.ndarray, max_points: int = 2000) -> dict:
    """At most ``max_points`` points (max-pooled, so peaks survive)."""
    n = len(s)
    if n == 0:
        return {"t": [], "score": []}
    k = max(1, int(np.ceil(n / max_points)))
    m = n // k * k
    tt = t[:m].reshape(-1, k).mean(axis=1) if m else t[:1]
    ss = s[:m].reshape(-1, k).max(axis=1) if m else s[:1]
    if m < n:
        tt = np.append(tt, t[m:].mean())
        ss = np.append(ss, s[m:].max())
    return {"t": [round(float(v), 3) for v in tt], "score": [round(float(v), 4) for v in ss]}


# ---------------------------------------------------------------- detector
class AudioSpliceDetector(Detector):
    name = "audio_splice"
    version = "1.0"
    modalities = ("audio", "video")
    default = True
    summary = "Audio splice localization: noise floor, spectral envelope, reverberation and ENF changes"
    looks_at = ("Where the recording changes source: the background noise between words, the "
                "channel's long-term spectral shape, how fast sound dies away (reverberation) and "
                "the phase of any mains hum (ENF), compared between parts of the file.")
    cannot_tell = ("A splice between two parts of the same recording (same room, microphone and "
                   "noise), which leaves none of these traces; a genuine change of speaker, room or "
                   "phone line (an interview, a call) looks like a splice. Short files (a few "
                   "seconds) give weak statistics.")
    how_to_read = ("The curve rises where the sound before and after a moment differs (noise floor, "
                   "spectral envelope, room echo, mains hum): a sharp peak at one instant is what a cut "
                   "or an insert looks like; slow waves follow changes of speaker, room or music.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.core.errors import MediaError

        opts = ctx.opts(self.name)
        try:
            inp = load_audio(media, float(opts.get("max_seconds", MAX_SECONDS)))
        except MediaError as e:
            return Evidence.not_applicable(self.name, self.version,
                                           f"the audio cannot be decoded: {e.message}")
        rate = inp.rate
        if rate < MIN_RATE:
            return Evidence.not_applicable(
                self.name, self.version, f"sample rate {rate} Hz is below {MIN_RATE} Hz: too "
                "little bandwidth to compare parts of the recording")
        if inp.seconds < MIN_SECONDS:
            return Evidence.not_applicable(
                self.name, self.version, f"the audio is {inp.n} sample(s) ({inp.seconds:.3f} s) "
                f"long: at least {MIN_SECONDS:g} s is needed to compare two parts")
        y = inp.mono()
        if not np.any(y):
            return Evidence.not_applicable(self.name, self.version,
                                           "the audio is digital silence (all samples zero)")
        r = locate(y, rate, enf=bool(opts.get("enf", True)))
        ev = self.evidence()
        segs = sorted(r["segments"], key=lambda p: p["start"])
        # ENF: a jump inside a host stretch splits it; the side away from the longer part is flagged
        enf = r["enf"]
        for j in enf.get("jumps", []):
            t0 = j["time_s"]
            ev.add("high", "enf_phase_jump",
                   f"The mains hum ({enf['nominal_hz']:g} Hz network, {enf['peak_hz']:.2f} Hz "
                   f"component) jumps in phase by {abs(j['jump_rad']):.2f} rad at {t0:.2f} s: "
                   "one recording's hum is continuous, so the audio was cut or joined there.",
                   **j)
        for p in segs:
            s = p["score"]
            for j in enf.get("jumps", []):
                if min(abs(j["time_s"] - p["start"]), abs(j["time_s"] - p["end"])) <= 0.2:
                    s = max(s, ENF_SCORE)
                    p["enf_jump_s"] = j["time_s"]
            p["score"] = s
            ev.segments.append(Segment(p["start"], p["end"], round(s, 4),
                                       "splice" if s >= 0.5 else None))
        for j in enf.get("jumps", []):  # a jump away from every segment end: a cut point
            if not any("enf_jump_s" in p and p["enf_jump_s"] == j["time_s"] for p in segs):
                t0 = j["time_s"]
                ev.segments.append(Segment(max(0.0, t0 - ENF_POINT_S),
                                           min(r["seconds"], t0 + ENF_POINT_S), ENF_SCORE,
                                           "splice_point"))
        flagged = [s for s in ev.segments if (s.score or 0) >= 0.5]
        score = max([s.score or 0.0 for s in ev.segments], default=0.0)
        ev.score = float(score)
        ev.label = "manipulated" if score >= 0.5 else "no_evidence"
        for p in segs:
            if p["score"] >= 0.5:
                cues = []
                if p["env_t2"] >= MERGE_T2:
                    cues.append("spectral envelope")
                if p["noise_t2"] >= MERGE_T2 / 2:
                    cues.append("background noise floor")
                if p["reverb_logratio"] >= 0.4:
                    cues.append("reverberation")
                if "enf_jump_s" in p:
                    cues.append("mains-hum phase")
                what = ", ".join(cues) or "combined channel statistics"
                ev.add("high" if p["score"] >= 0.8 else "medium", "splice_segment",
                       f"The stretch {p['start']:.2f}-{p['end']:.2f} s differs from the rest of "
                       f"the recording in {what} (score {p['score']:.2f}): it probably comes "
                       "from another recording.", start=p["start"], end=p["end"],
                       score=p["score"], env_t2=p["env_t2"], noise_t2=p["noise_t2"],
                       reverb_logratio=p["reverb_logratio"])
        if not flagged:
            ev.add("info", "no_splice_found",
                   f"No part of the {r['seconds']:.1f} s analysed differs from the rest enough "
                   f"to call it a splice ({len(segs)} candidate segment(s), highest score "
                   f"{score:.2f}).")
        if not enf.get("applied"):
            ev.add("info", "enf_skipped", f"ENF test skipped: {enf.get('reason', 'no hum')}.")
        if inp.capped:
            ev.add("info", "analysis_capped",
                   f"Only the first {inp.seconds:.1f} s of {inp.declared_s:.1f} s were analysed.")
        if r["rate"] != rate:
            ev.add("info", "resampled", f"Analysed at {r['rate']} Hz (file: {rate} Hz).")
        curve = downsample_curve(r["t"], r["curve"])
        ev.data.update({
            "curve": curve,
            "change_curve": downsample_curve(r["t"], r["change_curve"]),
            "segments": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in p.items()
                          if k not in ("frames", "features")} for p in segs],
            "boundaries": r["boundaries"], "enf": enf, "analysed_s": round(r["seconds"], 3),
            "speech_s": round(r["active_s"], 2), "analysis_rate": r["rate"],
            "reliability": _reliability(r, media, flagged),
        })
        return ev


def _reliability(r: dict, media: Media, flagged: list) -> dict:
    """high / medium / low, with the reason (see docs/detectors/audio_splice.md)."""
    from veriscope.detectors.audio.audio_facts import LOSSY_CODECS, audio_stream

    codec = str(audio_stream(media).get("codec") or "")
    sp = r["active_s"]
    frac = sum(s.end - s.start for s in flagged) / max(r["seconds"], 1e-9)
    if sp < 3.0:
        return {"level": "low", "why": f"Only {sp:.1f} s of speech: piece statistics are noisy."}
    if len(flagged) >= MANY_SEGMENTS or frac > MANY_FRACTION:
        return {"level": "low", "why": f"The sound changes character in {len(flagged)} places "
                f"({frac:.0%} of the time): speaker turns, crowd or music cannot be told apart "
                "from splices."}
    if codec in LOSSY_CODECS:
        return {"level": "low", "why": f"Lossy codec ({codec}): coding noise masks the noise "
                "floor between words, and the detector was not validated on lossy audio."}
    if sp < 10.0:
        return {"level": "medium", "why": f"{sp:.1f} s of speech: short pieces compare weakly."}
    return {"level": "high", "why": "Lossless audio with enough speech on both sides of any "
                                    "boundary."}
