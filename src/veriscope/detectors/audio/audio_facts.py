"""Audio facts: container and codec history, bandwidth, clipping, silence gaps, DC, loudness.

Rule-based facts about an audio track (an audio file or the sound of a video). Most of them
are common in innocent files and keep the score below 0.5; one, a *band-limited insert*
(a stretch whose bandwidth differs from the rest of the recording), is evidence of an edit.
Score rules and constants: docs/detectors/audio_facts.md.

1. Container / codec (``media.facts``): lossy codecs, the decoded length against the declared
   one, a WAV whose data chunk is cut short, identical or silent channels.
2. Long-term spectrum: the effective bandwidth against the sample rate. A sharp cutoff well
   below Nyquist says the sound passed through a lower sample rate (at the Nyquist frequency
   of a common rate: upsampled) or through a lossy encoder's lowpass (MP3/AAC) before it was
   stored, e.g. an MP3 decoded to WAV.
3. The same cutoff test per 0.5 s window: a run of speech windows band-limited at a
   frequency where the rest of the file has content (or the reverse) is a band-limited insert.
4. Clipping: runs of >= 3 samples at the file's extreme values near full scale.
5. Digital silence: runs of exact zeros (all channels) >= 20 ms between non-silent audio: a
   recorded pause always carries some noise, an edit or a noise gate writes zeros.
6. DC offset, and a step of DC offset between parts of the file.
7. Loudness jumps: the active speech level (400 ms frames) before and after a point differs
   by >= 10 dB.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from veriscope.core.evidence import Evidence, Segment
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector

# ---------------------------------------------------------------- decoding limits (shared)
MAX_SECONDS = 600.0
"""At most this much audio is decoded (a finding says so when the file is longer)."""
MAX_SAMPLES = 1 << 25
"""... and at most this many samples per channel (33.5 M: 700 s at 48 kHz, 87 s at 384 kHz)."""
MIN_RATE = 2000
"""Below this sample rate the signal tests are skipped (a finding names the rate)."""
MIN_SIGNAL_S = 0.25
"""Shorter audio gets only the container facts and the clipping count."""
MAX_RATE = 768_000
LOSSY_CODECS = {"mp3", "mp3float", "mp2", "aac", "aac_latm", "opus", "libopus", "vorbis",
                "wmav1", "wmav2", "ac3", "eac3", "amrnb", "amrwb", "gsm", "gsm_ms", "speex",
                "adpcm_ima_wav", "adpcm_ms", "g722", "g723_1", "g729", "pcm_mulaw", "pcm_alaw",
                "mp1", "dts", "atrac3", "ra_144", "ra_288", "qdm2", "nellymoser", "iac", "ilbc"}
LOSSLESS_CODECS_PREFIX = ("pcm_", "flac", "alac", "wavpack", "tta", "ape", "mlp", "truehd")

# ---------------------------------------------------------------- rule constants (not fitted)
EDGE_DROP_DB = 25.0
"""A cutoff is 'sharp' when the mean level falls by this much across 4 % of Nyquist."""
EDGE_SPAN = 0.04
"""Width of each side of the edge test, as a fraction of Nyquist."""
EDGE_KEEP_DB = 6.0
"""The edge frequency is the highest bin near the drop still within 6 dB of the passband level
(median over 12 % to 4 % of Nyquist below the drop): the -6 dB point of the cutoff."""
BANDLIMITED_FRACTION = 0.9
"""A sharp cutoff below this fraction of Nyquist makes the file band-limited (ADC
anti-alias filters sit at 0.9-1.0 of Nyquist)."""
STANDARD_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
UPSAMPLED_TOL = 0.06
UPSAMPLED_OVER = 0.03
"""A cutoff from 6 % below to 3 % above half a standard rate is read as 'upsampled from that
rate' (the closest one wins); elsewhere as a lowpass (lossy encoder or filter)."""
WIN_S, HOP_S = 0.5, 0.25
"""Windows of the per-window bandwidth and DC tests."""
BL_WIN_S, BL_HOP_S = 0.3, 0.1
"""Windows of the band-limited insert test (short, so that a single inserted word fills one)."""
INSERT_MIN_S = 0.3
"""Shortest band-limited stretch reported as an insert."""
INSERT_MIN_EDGE_HZ = 1500.0
"""Window edges below 1.5 kHz are speech (nasals, vowels), not a sample rate or a codec."""
INSERT_BELOW_DB = 15.0
"""... and its level above the edge is >= 15 dB below the 10th percentile of the other
windows (their pauses included) in that band..."""
INSERT_FLOOR_DB = -80.0
"""... and below -80 dBFS: a resampler leaves almost nothing above the old Nyquist, while a
quiet vowel or a vocoder's weak high band stays above it (rule; espnet TTS windows reach
-64 dBFS, upsampled 8 kHz inserts -85 to -110 dBFS)."""
SILENT_WINDOW_DB = -70.0
"""Windows quieter than -70 dBFS overall (digital or near-digital silence) are left out of
that 10th percentile."""
INSERT_GAP_DB = 25.0
"""A window is narrow when its level above the edge, relative to just below it, is 25 dB
under the median speech window (wide: 25 dB over)."""
CLIP_RUN = 3
CLIP_LEVEL = 0.98
"""Clipping: runs of >= 3 equal extreme samples at >= 98 % of full scale."""
ZERO_GAP_S = 0.02
"""Digital silence gaps: exact zeros for >= 20 ms with sound on both sides."""
ZERO_GATED_COUNT = 8
"""With this many gaps or more the file looks noise-gated throughout (weaker hint)."""
DC_LEVEL = 0.01
"""|mean| >= 1 % of full scale is a DC offset (-40 dBFS)."""
DC_STEP = 0.005
"""A DC step: two parts whose offsets differ by >= 0.5 % of full scale and by >= 8 standard
errors of the window means."""
DC_SPREAD = 4.0
"""... and by >= 4 x the median absolute deviation of the window means on either side."""
LOUD_JUMP_DB = 10.0
LOUD_WIN_S = 2.0
"""Loudness jump: active speech level over 2 s before vs after a point differs by >= 10 dB."""

SCORES = {
    "lossy_codec": 0.0, "lossy_history": 0.2, "upsampled": 0.2, "band_limited": 0.15,
    "band_limited_insert": 0.7, "band_limited_stretch": 0.3, "clipping": 0.05, "digital_silence_gap": 0.35,
    "digital_silence_gated": 0.2, "dc_offset": 0.0, "dc_offset_step": 0.55,
    "loudness_jump": 0.3, "wav_truncated": 0.1, "decoded_duration_mismatch": 0.1,
    "implausible_sample_rate": 0.0, "dual_mono": 0.0, "silent_channel": 0.0,
}
"""Score of each finding (rules; the detector score is the largest). Below 0.5: common in
innocent files. 0.7: a band-limited insert is rarely innocent. 0.55: a DC step needs two
sources or a filter applied to a part."""


# ---------------------------------------------------------------- decoding (shared helper)
@dataclass
class AudioInput:
    """Decoded audio and what is known about how it was decoded."""

    x: np.ndarray  # float32 (n, channels)
    rate: int
    stream: dict = field(default_factory=dict)
    declared_s: float | None = None
    cap_s: float = MAX_SECONDS
    capped: bool = False

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def seconds(self) -> float:
        return self.n / float(self.rate) if self.rate else 0.0

    def mono(self) -> np.ndarray:
        a = self.x.mean(axis=1) if self.x.shape[1] > 1 else self.x[:, 0]
        return np.nan_to_num(np.asarray(a, np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def audio_stream(media: Media) -> dict:
    """The first audio stream's probe facts ({} when none is listed)."""
    for st in media.facts.get("streams") or []:
        if isinstance(st, dict) and st.get("type") == "audio":
            return st
    return {}


def decode_cap(media: Media, max_seconds: float = MAX_SECONDS) -> float:
    """Seconds to decode: ``max_seconds``, less for high sample rates (MAX_SAMPLES)."""
    rate = audio_stream(media).get("sample_rate") or 0
    try:
        rate = float(rate)
    except (TypeError, ValueError):
        rate = 0.0
    cap = float(max_seconds)
    if rate > 0:
        cap = min(cap, MAX_SAMPLES / rate)
    return max(cap, 1e-3)


def load_audio(media: Media, max_seconds: float = MAX_SECONDS) -> AudioInput:
    """Decode the audio track (capped); raises MediaError when it cannot be decoded."""
    cap = decode_cap(media, max_seconds)
    x, rate = media.audio(mono=False, max_seconds=cap)
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    st = audio_stream(media)
    declared = media.facts.get("duration") or st.get("duration")
    try:
        declared = float(declared) if declared is not None else None
    except (TypeError, ValueError):
        declared = None
    n = x.shape[0]
    capped = n >= int(cap * rate) - 1 and (declared is None or declared > cap + 0.01)
    return AudioInput(x=x, rate=int(rate), stream=st, declared_s=declared, cap_s=cap,
                      capped=bool(capped))


# ---------------------------------------------------------------- spectra
def _nfft_for(rate: int, resolution_hz: float) -> int:
    return int(min(1 << 16, max(64, 1 << int(np.ceil(np.log2(max(rate / resolution_hz, 2)))))))


def window_spectra(y: np.ndarray, rate: int, n_fft: int, win_s: float = WIN_S,
                   hop_s: float = HOP_S) -> tuple[np.ndarray, np.ndarray]:
    """Mean power spectrum (dB) of each ``win_s`` window (hop ``hop_s``) from Hann frames of
    ``n_fft`` with 50 % overlap; returns (spectra (W, n_fft//2+1) dB, window start times)."""
    y = np.asarray(y, np.float32)
    hop = max(1, n_fft // 2)
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    n_frames = 1 + (len(y) - n_fft) // hop
    w = np.hanning(n_fft).astype(np.float32)
    norm = float(np.sum(w * w)) or 1.0
    P = np.empty((n_frames, n_fft // 2 + 1), np.float32)
    for a in range(0, n_frames, 2048):
        b = min(n_frames, a + 2048)
        idx = np.arange(a, b)[:, None] * hop + np.arange(n_fft)[None]
        P[a:b] = (np.abs(np.fft.rfft(y[idx] * w, axis=1)) ** 2 / norm).astype(np.float32)
    fpw = max(1, int(round(win_s * rate / hop)))
    fph = max(1, int(round(hop_s * rate / hop)))
    starts = list(range(0, max(1, n_frames - fpw + 1), fph))
    c = np.vstack([np.zeros((1, P.shape[1]), np.float64), np.cumsum(P, axis=0, dtype=np.float64)])
    S = np.empty((len(starts), P.shape[1]), np.float32)
    for i, s in enumerate(starts):
        e = min(n_frames, s + fpw)
        S[i] = (c[e] - c[s]) / max(1, e - s)
    return 10 * np.log10(S + 1e-15), np.array(starts, np.float64) * hop / rate


def find_edge(spec_db: np.ndarray, rate: int, lo_frac: float = 0.05, hi_frac: float = 0.985
              ) -> dict:
    """The sharpest downward edge of a spectrum (dB per rfft bin up to Nyquist).

    drop(f) = mean level over [f - span, f) minus mean level over [f, f + span) with span =
    EDGE_SPAN x Nyquist; the edge is the -6 dB point of the largest drop (see EDGE_KEEP_DB).
    ``flat_above``: the 90th percentile of the level from one span above the drop up to
    ``hi_frac`` x Nyquist stays half the drop below the level under it (no content returning
    above the cutoff)."""
    s = np.asarray(spec_db, np.float64)
    nb = len(s)
    nyq = rate / 2.0
    span = max(2, int(round(EDGE_SPAN * (nb - 1))))
    c = np.concatenate([[0.0], np.cumsum(s)])
    lo = max(span, int(lo_frac * (nb - 1)))
    hi = min(nb - span, int(hi_frac * (nb - 1)))
    if hi <= lo:
        return {"edge_hz": None, "drop_db": 0.0, "flat_above": False}
    k = np.arange(lo, hi)
    below = (c[k] - c[k - span]) / span
    above = (c[k + span] - c[k]) / span
    drop = below - above
    j = int(np.argmax(drop))
    kk = int(k[j])
    # refine: the highest bin near the edge still within EDGE_KEEP_DB of the level below it
    # (the midpoint would follow a resampler's leaky transition band upwards)
    lo_r = max(0, kk - 2 * span)
    ref = float(np.median(s[max(0, kk - 3 * span): max(1, kk - span)]))  # the passband
    seg = s[lo_r: min(nb, kk + span)]
    hit = np.nonzero(seg >= ref - EDGE_KEEP_DB)[0]
    if hit.size:
        kk = lo_r + int(hit[-1])
    top = min(nb, int(hi_frac * (nb - 1)) + 1)
    k0 = int(k[j]) + span  # past the transition band of the drop
    rest = s[k0: top] if k0 < top else s[int(k[j]):top]
    flat = bool(len(rest) == 0 or np.percentile(rest, 90) < below[j] - 0.5 * drop[j])
    return {"edge_hz": float(kk * nyq / (nb - 1)), "drop_db": float(drop[j]), "flat_above": flat,
            "level_below_db": float(below[j]), "level_above_db": float(above[j])}


def classify_cutoff(edge_hz: float, rate: int) -> tuple[str, int | None]:
    """('upsampled', original rate) when the cutoff sits just below half a standard rate,
    else ('lowpass', None)."""
    best = None
    for r in STANDARD_RATES:
        if r >= rate:
            break
        h = r / 2.0
        if h * (1 - UPSAMPLED_TOL) <= edge_hz <= h * (1 + UPSAMPLED_OVER):
            d = abs(np.log(edge_hz / h))
            if best is None or d < best[0]:
                best = (d, r)
    return ("upsampled", best[1]) if best else ("lowpass", None)


def bandwidth_facts(y: np.ndarray, rate: int) -> dict:
    """Long-term spectrum edge of the whole signal (see :func:`find_edge`) and its reading."""
    n_fft = _nfft_for(rate, 25.0)
    n_fft = min(n_fft, max(64, 1 << int(np.floor(np.log2(max(len(y), 64))))))
    spec, _ = window_spectra(y, rate, n_fft)
    if len(spec) >= 5:  # median over speech windows: a minority insert cannot move it
        lvl = 10 * np.log10(np.mean(10 ** (spec / 10), axis=1) + 1e-15)
        act = lvl > np.percentile(lvl, 95) - 30
        s = np.median(spec[act], axis=0) if act.sum() >= 3 else np.median(spec, axis=0)
    else:
        s = 10 * np.log10(np.mean(10 ** (spec / 10), axis=0) + 1e-15)
    e = find_edge(s, rate)
    nyq = rate / 2.0
    out = {"n_fft": n_fft, **e, "nyquist_hz": nyq, "band_limited": False}
    if e["edge_hz"] and e["drop_db"] >= EDGE_DROP_DB and e["flat_above"] \
            and e["edge_hz"] < BANDLIMITED_FRACTION * nyq:
        kind, orig = classify_cutoff(e["edge_hz"], rate)
        out.update(band_limited=True, kind=kind, from_rate=orig,
                   effective_bandwidth_hz=e["edge_hz"], fraction_of_nyquist=e["edge_hz"] / nyq)
    else:
        out["effective_bandwidth_hz"] = nyq if not e["edge_hz"] or e["drop_db"] < EDGE_DROP_DB \
            else e["edge_hz"]
        out["fraction_of_nyquist"] = out["effective_bandwidth_hz"] / nyq
    return out


def _half_rates(rate: int) -> list[float]:
    """Candidate edges: half of each standard rate below BANDLIMITED_FRACTION x Nyquist."""
    return [r / 2.0 for r in STANDARD_RATES if r / 2.0 < BANDLIMITED_FRACTION * rate / 2.0
            and r / 2.0 >= INSERT_MIN_EDGE_HZ]


def bandlimited_segments(y: np.ndarray, rate: int, file_edge_hz: float | None = None
                         ) -> tuple[list, dict]:
    """Stretches whose bandwidth differs from the rest (band-limited inserts).

    For each candidate edge E (half of a standard sample rate), every window gets hf =
    its mean level (dB) over [1.05 E, min(2 E, 0.97 Nyquist)] and lf = over [0.6 E, 0.95 E].
    A speech window is *narrow* at E when hf - lf is INSERT_GAP_DB below the median of the
    speech windows AND hf is INSERT_BELOW_DB below the 10th percentile of hf over the other
    windows (quiet ones included, near-digital silence left out) AND below INSERT_FLOOR_DB: it has less above E than the rest
    of the file has even in its pauses, as after a lower sample rate. The E flagging most
    windows wins (ties: the lower, the more precise claim). When the whole file is band-limited at ``file_edge_hz``, the reverse is tested
    (*wide* windows: hf above the edge INSERT_GAP_DB over the median). Runs of >= INSERT_MIN_S
    (one quiet window bridged) are reported; their ends are refined on 10 ms frames."""
    n_fft = _nfft_for(rate, max(rate / 512.0, 25.0))
    info: dict = {"windows": 0}
    if len(y) < rate * (WIN_S + 2 * HOP_S):
        return [], info
    spec, t0 = window_spectra(y, rate, n_fft, BL_WIN_S, BL_HOP_S)
    lvl = 10 * np.log10(np.mean(10 ** (spec / 10), axis=1) + 1e-15)
    active = lvl > max(float(np.percentile(lvl, 95)) - 30, -90)
    nyq = rate / 2.0
    freqs = np.linspace(0, nyq, spec.shape[1])
    info = {"windows": int(len(spec)), "active_windows": int(active.sum())}
    if active.sum() < 3:
        return [], info
    best = None
    for E in _half_rates(rate):
        hb = (freqs > 1.05 * E) & (freqs < min(2 * E, 0.97 * nyq))
        lb = (freqs > 0.6 * E) & (freqs < 0.95 * E)
        if not hb.any() or not lb.any():
            continue
        hf = spec[:, hb].mean(axis=1)
        lf = spec[:, lb].mean(axis=1)
        tilt = hf - lf
        cand = active & (tilt < np.median(tilt[active]) - INSERT_GAP_DB)
        others = ~cand & (lvl > SILENT_WINDOW_DB)  # digital silence says nothing of the floor
        if not cand.any() or others.sum() < 3:
            continue
        ref = float(np.percentile(hf[others], 10))
        narrow = cand & (hf < ref - INSERT_BELOW_DB) & (hf < INSERT_FLOOR_DB)
        k = int(narrow.sum())
        if k and k <= 0.5 * active.sum() and (best is None or k > best[0]):
            best = (k, E, narrow, ref, "narrow")
    if file_edge_hz:  # reverse: a band-limited file with full-band windows
        E = float(file_edge_hz)
        hb = (freqs > 1.05 * E) & (freqs < min(2 * E, 0.97 * nyq))
        if hb.any():
            hf = spec[:, hb].mean(axis=1)
            med = float(np.median(hf[active]))
            wide = active & (hf > med + INSERT_GAP_DB)
            k = int(wide.sum())
            if k and k <= 0.5 * active.sum() and (best is None or k > best[0]):
                best = (k, E, wide, med, "wide")
    if best is None:
        return [], info
    _, E, flag, ref, kind = best
    info.update(edge_hz=E, kind=kind, flagged_windows=int(flag.sum()))
    flag = flag.copy()
    for i in range(1, len(flag) - 1):  # bridge one quiet window
        if not active[i] and flag[i - 1] and flag[i + 1]:
            flag[i] = True
    segs = []
    dur = len(y) / rate
    s0, s1 = runs(flag)
    for i, j in zip(s0, s1, strict=True):
        a, b = float(t0[i]), min(float(t0[j - 1] + BL_WIN_S), dur)
        a, b = _refine_band_edges(y, rate, E, a, b, kind)
        if b - a >= INSERT_MIN_S and (b - a) < 0.9 * dur:
            segs.append({"start": round(a, 3), "end": round(b, 3), "kind": kind, "edge_hz": E})
    return segs, info


def _refine_band_edges(y, rate, E, a, b, kind):
    """Move the ends of a flagged stretch to the first / last 10 ms frame (within 0.3 s of
    them) whose level above E is on the stretch's side of the midpoint between the stretch's
    median level above E and the surrounding audio's."""
    n_fft = _nfft_for(rate, max(rate / 256.0, 50.0))
    hop = max(1, int(0.01 * rate))
    lo, hi = max(0, int((a - 0.4) * rate)), min(len(y), int((b + 0.4) * rate))
    seg = y[lo:hi]
    if len(seg) < n_fft + hop:
        return a, b
    nfr = 1 + (len(seg) - n_fft) // hop
    idx = np.arange(nfr)[:, None] * hop + np.arange(n_fft)[None]
    w = np.hanning(n_fft).astype(np.float32)
    P = np.abs(np.fft.rfft(seg[idx] * w, axis=1)) ** 2
    f = np.fft.rfftfreq(n_fft, 1.0 / rate)
    hb = (f > 1.05 * E) & (f < min(2 * E, 0.97 * rate / 2))
    if not hb.any():
        return a, b
    hf = 10 * np.log10(P[:, hb].mean(axis=1) + 1e-15)
    t = (lo + np.arange(nfr) * hop + n_fft / 2) / rate
    inside = (t >= a + 0.1) & (t <= b - 0.1)
    outside = (t < a - 0.1) | (t > b + 0.1)
    if inside.sum() < 3 or outside.sum() < 3:
        return a, b
    mi, mo = np.median(hf[inside]), np.median(hf[outside])
    mid = 0.5 * (mi + mo)
    on = hf < mid if kind == "narrow" else hf > mid
    near_a = np.nonzero(on & (t >= a - 0.3) & (t <= a + 0.3))[0]
    near_b = np.nonzero(on & (t >= b - 0.3) & (t <= b + 0.3))[0]
    na = float(t[near_a[0]] - hop / (2 * rate)) if near_a.size else a
    nb = float(t[near_b[-1]] + hop / (2 * rate)) if near_b.size else b
    return (na, nb) if nb > na else (a, b)


# ---------------------------------------------------------------- sample-level facts
def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a boolean array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    d = np.diff(m.astype(np.int8))
    return np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]


def clipping_facts(x: np.ndarray) -> dict:
    """Runs of >= CLIP_RUN samples equal to a channel's extreme value near full scale."""
    out = {"clipped_samples": 0, "runs": 0, "fraction": 0.0, "regions_s": []}
    n = x.shape[0]
    if n < CLIP_RUN:
        return out
    total_runs, total = 0, 0
    regions = []
    for ch in range(x.shape[1]):
        a = x[:, ch]
        for ext in (float(a.max()), float(a.min())):
            if abs(ext) < CLIP_LEVEL:
                continue
            s, e = runs(np.abs(a - ext) <= 1e-6 * max(1.0, abs(ext)))
            k = (e - s) >= CLIP_RUN
            total_runs += int(k.sum())
            total += int((e - s)[k].sum())
            regions.extend(zip(s[k].tolist(), e[k].tolist(), strict=True))
    out.update(clipped_samples=total, runs=total_runs, fraction=total / float(n * x.shape[1]))
    out["regions"] = sorted(regions)[:200]
    return out


def zero_gaps(x: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """Runs of exact zeros in every channel >= ZERO_GAP_S with non-silent audio on both sides."""
    z = np.all(x == 0, axis=1)
    s, e = runs(z)
    min_len = max(2, int(round(ZERO_GAP_S * rate)))
    keep = [(int(a), int(b)) for a, b in zip(s, e, strict=True)
            if b - a >= min_len and a > 0 and b < len(z)]
    out = []
    for a, b in keep:  # sound on both sides: >= 10 ms of non-zero within 0.2 s
        w = max(1, int(0.2 * rate))
        left, right = x[max(0, a - w):a], x[b:b + w]
        if np.count_nonzero(np.any(left != 0, axis=1)) >= 0.01 * rate and \
                np.count_nonzero(np.any(right != 0, axis=1)) >= 0.01 * rate:
            out.append((a, b))
    return out


def dc_facts(y: np.ndarray, rate: int) -> dict:
    """Overall DC offset and the largest step of the DC offset between two parts.

    Window means (0.5 s, hop 0.25 s) are compared on both sides of every window boundary
    (medians over up to 8 windows each side); a step must exceed DC_STEP and 8 standard errors
    (robust spread of the window means)."""
    out = {"dc": float(np.mean(y)) if len(y) else 0.0, "step": None}
    w = int(WIN_S * rate)
    h = max(1, int(HOP_S * rate))
    if w < 16 or len(y) < 4 * w:
        return out
    starts = np.arange(0, len(y) - w + 1, h)
    c = np.concatenate([[0.0], np.cumsum(y, dtype=np.float64)])
    m = (c[starts + w] - c[starts]) / w
    if len(m) < 8:
        return out
    se = 1.4826 * np.median(np.abs(np.diff(m))) / np.sqrt(2) + 1e-6
    k = 8
    dd = np.zeros(len(m))
    for i in range(4, len(m) - 3):
        a, b = m[max(0, i - k):i - 1], m[i + 1:i + k]  # skip the windows straddling the point
        if len(a) < 3 or len(b) < 3:
            continue
        d = float(np.median(b) - np.median(a))
        spread = max(float(np.median(np.abs(a - np.median(a)))),
                     float(np.median(np.abs(b - np.median(b)))))
        if abs(d) >= DC_SPREAD * spread:  # else not a clean step (e.g. a clipped burst)
            dd[i] = d
    if np.any(dd):
        j = int(np.argmax(np.abs(dd)))
        d = float(dd[j])
        lo = hi = j  # the plateau of near-equal steps around the best: take its middle
        while lo > 0 and dd[lo - 1] * d > 0 and abs(dd[lo - 1]) >= 0.8 * abs(d):
            lo -= 1
        while hi + 1 < len(dd) and dd[hi + 1] * d > 0 and abs(dd[hi + 1]) >= 0.8 * abs(d):
            hi += 1
        i = (lo + hi) // 2
        t = float(starts[i] / rate + WIN_S / 2)
        out["step"] = {"time_s": t, "delta": d, "z": abs(d) / se}
        out["step_found"] = bool(abs(d) >= DC_STEP and abs(d) / se >= 8)
        if out["step_found"]:  # extent: the shorter side (the minority part is the odd one)
            out["step"]["side"] = "after" if len(y) / rate - t <= t else "before"
    return out


def loudness_jumps(y: np.ndarray, rate: int) -> list[dict]:
    """Points where the active level differs by >= LOUD_JUMP_DB between the LOUD_WIN_S before
    and after: median level of the 400 ms frames (hop 100 ms, 60 Hz high-pass first) within
    30 dB of the file's loudest, on each side (at least 4 such frames a side); local maxima over +-LOUD_WIN_S."""
    f = int(0.4 * rate)
    h = max(1, int(0.1 * rate))
    if f < 8 or len(y) < 2 * LOUD_WIN_S * rate + f:
        return []
    from scipy.signal import butter, sosfilt

    # the RLB high-pass of ITU-R BS.1770 loudness, approximated: DC and rumble do not count
    yh = sosfilt(butter(2, min(60.0, 0.4 * rate / 2), "highpass", fs=rate, output="sos"),
                 np.asarray(y, np.float64))
    starts = np.arange(0, len(y) - f + 1, h)
    c = np.concatenate([[0.0], np.cumsum(np.square(yh))])
    db = 10 * np.log10((c[starts + f] - c[starts]) / f + 1e-12)
    act = db > np.percentile(db, 95) - 30
    k = int(round(LOUD_WIN_S / 0.1))
    d = np.zeros(len(db))
    for i in range(k, len(db) - k + 1):
        la, ra = act[i - k:i], act[i:i + k]
        if la.sum() >= 4 and ra.sum() >= 4:
            d[i] = np.median(db[i:i + k][ra]) - np.median(db[i - k:i][la])
    out = []
    for i in np.argsort(-np.abs(d), kind="stable"):
        if abs(d[i]) < LOUD_JUMP_DB:
            break
        if all(abs(i - j) > k for j in (o[0] for o in out)):
            out.append((int(i), float(d[i])))
    return [{"time_s": round(float(starts[i] / rate + 0.15), 3), "jump_db": round(v, 2)}
            for i, v in sorted(out)]


def wav_truncation(path) -> dict | None:
    """For RIFF/WAVE files: the data chunk size the header declares vs the bytes present."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            fh.seek(0, 2)
            size = fh.tell()
            pos = 12
            while pos + 8 <= size:
                fh.seek(pos)
                hdr = fh.read(8)
                cid, n = hdr[:4], struct.unpack("<I", hdr[4:8])[0]
                if cid == b"data":
                    present = size - (pos + 8)
                    if n in (0, 0xFFFFFFFF):  # streaming writers leave it open
                        return {"declared": n, "present": present, "truncated": False}
                    return {"declared": n, "present": present, "truncated": present < n}
                pos += 8 + n + (n & 1)
    except OSError:
        return None
    return None


# ---------------------------------------------------------------- detector
def _fmt_s(t: float) -> str:
    return f"{t:.2f} s"


class AudioFactsDetector(Detector):
    name = "audio_facts"
    version = "1.0"
    modalities = ("audio", "video")
    default = True
    summary = "Audio facts: codec history, bandwidth vs sample rate, band-limited inserts, clipping, silence gaps"
    looks_at = ("The audio codec and container, the effective bandwidth against the sample rate "
                "(upsampling, an MP3/AAC lowpass), stretches of different bandwidth, clipping, "
                "exact-zero silences, DC offset and loudness jumps.")
    cannot_tell = ("Who edited the file or why: most of these facts (a lossy codec, a re-save, "
                   "clipping, a noise gate) are common in innocent recordings. An insert with the "
                   "same bandwidth as the rest leaves no bandwidth trace.")
    how_to_read = ("Segments mark stretches with a narrower bandwidth, clipping, silence gaps or "
                   "loudness jumps: facts to check by ear, each common in innocent recordings too.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.core.errors import MediaError

        opts = ctx.opts(self.name)
        st = audio_stream(media)
        if media.kind == "video" and not st:
            return Evidence.not_applicable(self.name, self.version, "the video has no audio track")
        ev = self.evidence()
        codec = str(st.get("codec") or "")
        container = str(media.facts.get("container") or media.format)
        declared_rate = st.get("sample_rate")
        ev.data.update({"container": container, "codec": codec or None,
                        "declared_sample_rate": declared_rate, "channels": st.get("channels"),
                        "declared_duration_s": media.facts.get("duration")})
        scores: list[float] = []

        def add(sev, code, msg, score_key=None, **data):
            ev.add(sev, code, msg, **data)
            if score_key is not None:
                scores.append(SCORES[score_key])

        lossy = codec in LOSSY_CODECS
        if codec:
            add("info", "lossy_codec" if lossy else "audio_codec",
                f"The audio track is stored as {codec} ({'lossy' if lossy else 'lossless or PCM'})"
                f" in a {container} container.", "lossy_codec" if lossy else None,
                codec=codec, lossy=lossy)
        if media.format == "wav":
            tr = wav_truncation(media.path)
            if tr and tr["truncated"]:
                add("low", "wav_truncated",
                    f"The WAV header declares {tr['declared']} bytes of audio but only "
                    f"{tr['present']} are present: the file was cut short (interrupted copy or "
                    "deliberate truncation).", "wav_truncated", **tr)

        try:
            inp = load_audio(media, float(opts.get("max_seconds", MAX_SECONDS)))
        except MediaError as e:
            if "empty" in e.message:
                add("low", "empty_audio", "The audio track holds no samples (zero-length audio): "
                    "there is nothing to analyse.", error=e.message)
                ev.data["reliability"] = {"level": "low", "why": "the audio track is empty"}
                return ev
            add("medium", "audio_undecodable",
                f"The audio track cannot be decoded ({e.message}): the file is corrupt, truncated "
                "or uses an unsupported codec.", error=e.message)
            ev.data["reliability"] = {"level": "low", "why": "the audio could not be decoded"}
            return ev  # score None: nothing was measured
        rate, n = inp.rate, inp.n
        ev.data.update({"sample_rate": rate, "decoded_samples": n,
                        "decoded_s": round(inp.seconds, 6), "analysed_channels": inp.x.shape[1]})
        if inp.capped:
            add("info", "analysis_capped",
                f"Only the first {inp.seconds:.1f} s of {inp.declared_s:.1f} s were analysed "
                "(decoding limit).", cap_s=inp.cap_s)
        elif inp.declared_s and abs(inp.declared_s - inp.seconds) > max(0.5, 0.05 * inp.declared_s):
            add("low", "decoded_duration_mismatch",
                f"The container declares {inp.declared_s:.2f} s of audio but {inp.seconds:.2f} s "
                "could be decoded: the file is truncated, padded or its header was rewritten.",
                "decoded_duration_mismatch", declared_s=inp.declared_s, decoded_s=inp.seconds)
        if rate < MIN_RATE or rate > MAX_RATE:
            add("medium", "implausible_sample_rate",
                f"The audio declares a sample rate of {rate} Hz, outside the range of real "
                f"recordings ({MIN_RATE}-{MAX_RATE} Hz); signal tests were skipped.",
                "implausible_sample_rate", sample_rate=rate)
            ev.data["reliability"] = {"level": "low", "why": f"sample rate {rate} Hz"}
            return self._finish(ev, scores)
        if n < int(0.05 * rate):
            add("info", "too_short",
                f"The audio is only {n} sample(s) ({n / rate * 1000:.1f} ms) long: too short "
                "for the signal tests.", samples=n)
            ev.data["reliability"] = {"level": "low", "why": f"only {n} samples of audio"}
            return self._finish(ev, scores)

        x = np.nan_to_num(inp.x, nan=0.0, posinf=0.0, neginf=0.0)
        y = inp.mono()
        dur = n / rate
        # -- channels
        if x.shape[1] > 1:
            if all(np.array_equal(x[:, 0], x[:, c]) for c in range(1, x.shape[1])):
                add("info", "dual_mono", "All channels carry identical samples (mono stored as "
                    "multichannel).", "dual_mono")
            silent = [c for c in range(x.shape[1]) if not np.any(x[:, c])]
            if silent and len(silent) < x.shape[1]:
                add("info", "silent_channel", f"Channel(s) {silent} are completely silent.",
                    "silent_channel", channels=silent)
        if not np.any(y):
            add("info", "all_silent", "The decoded audio is digital silence (all samples zero).")
            ev.data["reliability"] = {"level": "low", "why": "the audio is all zeros"}
            return self._finish(ev, scores)

        if dur < MIN_SIGNAL_S:
            add("info", "too_short",
                f"The audio is only {dur * 1000:.0f} ms long: too short for the bandwidth, "
                "silence and loudness tests.", samples=n)
            cl = clipping_facts(x)
            ev.data["clipping"] = {k: v for k, v in cl.items() if k != "regions"}
            ev.data["reliability"] = {"level": "low", "why": f"only {dur * 1000:.0f} ms of audio"}
            return self._finish(ev, scores)
        # -- bandwidth (whole file)
        bw = bandwidth_facts(y, rate)
        ev.data["bandwidth"] = {k: (round(v, 3) if isinstance(v, float) else v)
                                for k, v in bw.items()}
        if bw["band_limited"]:
            f_k = bw["edge_hz"] / 1000
            if bw["kind"] == "upsampled":
                add("low", "upsampled",
                    f"The sound has no content above {f_k:.1f} kHz although the file is sampled at "
                    f"{rate} Hz: it was recorded or stored at {bw['from_rate']} Hz and upsampled.",
                    "upsampled", edge_hz=bw["edge_hz"], from_rate=bw["from_rate"],
                    drop_db=bw["drop_db"])
            elif not lossy:
                add("low", "lossy_history",
                    f"The spectrum stops sharply at {f_k:.1f} kHz ({bw['fraction_of_nyquist']:.0%} "
                    f"of the {rate / 2000:.1f} kHz available): typical of an MP3/AAC encoder's "
                    f"lowpass, so this {codec or media.format} file was probably decoded from a "
                    "lossy file (or deliberately filtered).", "lossy_history",
                    edge_hz=bw["edge_hz"], drop_db=bw["drop_db"])
            else:
                add("info", "band_limited",
                    f"The spectrum stops sharply at {f_k:.1f} kHz ({bw['fraction_of_nyquist']:.0%} "
                    "of Nyquist), as the lossy encoder's lowpass does.", "band_limited",
                    edge_hz=bw["edge_hz"], drop_db=bw["drop_db"])
        # -- band-limited inserts
        segs, info = bandlimited_segments(y, rate, bw["edge_hz"] if bw["band_limited"] else None)
        ev.data["bandwidth_windows"] = info
        for s in segs:
            what = (f"has no content above {s['edge_hz'] / 1000:.1f} kHz while the rest of the "
                    "recording does" if s["kind"] == "narrow" else
                    f"has content above {s['edge_hz'] / 1000:.1f} kHz that the rest of the "
                    "recording lacks")
            if lossy:
                add("low", "band_limited_stretch",
                    f"The stretch {_fmt_s(s['start'])}-{_fmt_s(s['end'])} {what}; in a {codec} "
                    "file this is weak evidence of an insert, because lossy encoders drop high "
                    "frequencies in some passages.", "band_limited_stretch", **s)
                key = "band_limited_stretch"
            else:
                add("high", "band_limited_insert",
                    f"The stretch {_fmt_s(s['start'])}-{_fmt_s(s['end'])} {what}: a piece from a "
                    "recording with a different bandwidth (another sample rate or codec) was "
                    "probably inserted.", "band_limited_insert", **s)
                key = "band_limited_insert"
            ev.segments.append(Segment(s["start"], s["end"], SCORES[key], key))
        # -- clipping
        cl = clipping_facts(x)
        ev.data["clipping"] = {k: v for k, v in cl.items() if k != "regions"}
        if cl["runs"]:
            add("low" if cl["fraction"] < 0.01 else "medium", "clipping",
                f"{cl['clipped_samples']} samples in {cl['runs']} runs sit at full scale "
                f"({cl['fraction']:.2%} of the audio): the recording was clipped (too loud), "
                "which is common and not a sign of editing.", "clipping",
                runs=cl["runs"], fraction=cl["fraction"],
                first_s=[round(a / rate, 3) for a, _ in cl["regions"][:20]])
        # -- digital silence
        gaps = zero_gaps(x, rate)
        ev.data["digital_silence_gaps"] = len(gaps)
        if gaps:
            gated = len(gaps) >= ZERO_GATED_COUNT
            key = "digital_silence_gated" if gated else "digital_silence_gap"
            for a, b in gaps[:50]:
                ev.segments.append(Segment(a / rate, b / rate, SCORES[key], "digital_silence"))
            lst = ", ".join(f"{a / rate:.2f}-{b / rate:.2f} s" for a, b in gaps[:5])
            more = f" and {len(gaps) - 5} more" if len(gaps) > 5 else ""
            add("low", key,
                f"{len(gaps)} stretch(es) of exact digital silence between sounds ({lst}{more}): "
                + ("so many that a noise gate or voice-activity coder probably wrote them." if gated
                   else "a recorded pause always carries some noise, so these were written by an "
                   "editor, a noise gate or a codec."), key,
                gaps_s=[(round(a / rate, 4), round(b / rate, 4)) for a, b in gaps[:50]])
        # -- DC offset
        dc = dc_facts(y, rate)
        ev.data["dc_offset"] = round(dc["dc"], 6)
        if abs(dc["dc"]) >= DC_LEVEL:
            add("info", "dc_offset", f"The audio has a DC offset of {dc['dc']:+.3f} (full scale "
                "= 1), typical of some sound cards and microphones.", "dc_offset", dc=dc["dc"])
        if dc.get("step_found"):
            s = dc["step"]
            a, b = (s["time_s"], dur) if s["side"] == "after" else (0.0, s["time_s"])
            add("medium", "dc_offset_step",
                f"The DC offset changes by {s['delta']:+.4f} at {_fmt_s(s['time_s'])}: the parts "
                "before and after were probably recorded on different equipment or processed "
                "separately.", "dc_offset_step", **s)
            ev.segments.append(Segment(a, b, SCORES["dc_offset_step"], "dc_offset_step"))
        # -- loudness jumps
        jumps = loudness_jumps(y, rate)
        ev.data["loudness_jumps"] = jumps
        for j in jumps[:20]:
            t = j["time_s"]
            ev.segments.append(Segment(max(0.0, t - 0.1), min(dur, t + 0.1),
                                       SCORES["loudness_jump"], "loudness_jump"))
        if jumps:
            lst = ", ".join(f"{j['time_s']:.2f} s ({j['jump_db']:+.0f} dB)" for j in jumps[:5])
            add("low", "loudness_jump",
                f"The speech level jumps by {LOUD_JUMP_DB:.0f} dB or more at {lst}: a change of "
                "speaker, distance or gain, or a join of two recordings.", "loudness_jump",
                jumps=jumps[:20])
        level = "high"
        why = "lossless audio, long enough for every test"
        if lossy:
            level, why = "medium", f"lossy codec ({codec}) smooths bandwidth and silence traces"
        if dur < 2.0:
            level, why = "low", f"only {dur:.2f} s of audio"
        ev.data["reliability"] = {"level": level, "why": why[0].upper() + why[1:] + "."}
        return self._finish(ev, scores)

    def _finish(self, ev: Evidence, scores: list[float]) -> Evidence:
        ev.score = float(max(scores)) if scores else 0.0
        ev.label = "manipulated" if ev.score >= 0.5 else "no_evidence"
        ev.segments.sort(key=lambda s: s.start)
        return ev
