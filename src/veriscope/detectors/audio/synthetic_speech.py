"""Synthetic (TTS / vocoded) speech: a small cepstral classifier with per-segment scores.

Pipeline (shared by inference and by the training recipe ``veriscope train synthetic-speech``):

1. Decode the first audio track (``Media.audio``, at most :data:`MAX_SECONDS`), mix to mono,
   resample to 16 kHz (the sample rate never reaches the classifier).
2. Voice activity (:mod:`veriscope.signals.vad`, energy + spectral flatness) and loudness
   normalisation over the voiced frames.
3. Per 10 ms frame: LFCC c1..c20 + deltas + delta-deltas and CQCC-style c1..c20 + deltas
   (:mod:`veriscope.signals.audio_features`; c0, the loudness, is dropped).
4. Windows of :data:`WIN_S` s every :data:`HOP_S` s (one window for shorter files): the mean
   and standard deviation of each feature over the window's *voiced* frames (leading and
   trailing silence are ignored) give a 200-dimensional vector. Windows with fewer than
   :data:`MIN_VOICED_S` s of speech get no score.
5. The committed model (``veriscope/models/synthetic_speech.json``: standardisation + logistic
   regression, trained by :mod:`veriscope.train.synthetic_speech`) turns each vector into a
   probability of synthetic speech. Each window is a :class:`Segment`; the file score is the
   mean of the window probabilities.

Inference needs numpy and scipy only; nothing is downloaded.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from veriscope.core.evidence import Evidence, Segment
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector

WIN_S = 2.0
HOP_S = 1.0
MIN_VOICED_S = 0.2
"""A window needs this much detected speech to be scored (FSDD digits are 0.2-0.9 s long)."""
TAIL_S = 0.25
"""A final window aligned to the end of the file is added when more than this is left over."""
MIN_RATE = 4000
"""Below this sample rate (2 kHz of bandwidth) there is too little speech spectrum to judge."""
MAX_SECONDS = 600.0
"""At most this much audio is decoded (bounded memory); a finding says when the cap applied."""
MAX_SAMPLES = 600 * 48000 * 2
"""Decoded samples (all channels) at most: 10 min of 48 kHz stereo, about 230 MB as float32."""
MIN_SPEECH_RELIABLE_S = 3.0
"""Less detected speech than this makes the verdict low-reliability even in-domain."""
FRAME_RATE = 100  # frames per second (10 ms hop at 16 kHz)
MODEL_FILE = "synthetic_speech.json"
FEATURES_ID = "lfcc20+d+dd_cqcc20+d_meanstd_voiced_v1"
"""Names the feature pipeline; a model trained on another pipeline is refused."""


# ------------------------------------------------------------------ signal -> window vectors
def prepare(x: np.ndarray, rate: int) -> np.ndarray:
    """Decoded samples (n,) or (n, ch) at ``rate`` -> mono float64 at 16 kHz."""
    from veriscope.signals import audio_features as af

    return af.to_rate(af.to_mono(x), int(rate))


def window_bounds(total_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame index bounds [start, end) of the analysis windows."""
    win, hop = int(WIN_S * FRAME_RATE), int(HOP_S * FRAME_RATE)
    if total_frames <= 0:
        return np.zeros(0, int), np.zeros(0, int)
    if total_frames <= win:
        return np.array([0]), np.array([total_frames])
    starts = list(range(0, total_frames - win + 1, hop))
    if total_frames - (starts[-1] + win) > TAIL_S * FRAME_RATE:
        starts.append(total_frames - win)
    s = np.array(starts)
    return s, s + win


def analyse_signal(y: np.ndarray) -> dict:
    """Window feature vectors of a 16 kHz mono signal.

    Returns ``vectors`` (windows, 200), ``start_s`` / ``end_s`` (seconds), ``voiced_s`` per
    kept window, the frame ``voiced`` mask and ``speech_s`` (total detected speech).
    """
    from veriscope.signals import audio_features as af
    from veriscope.signals import vad

    y = np.asarray(y, dtype=np.float64)
    en = af.filterbank_energies(y)  # block by block: bounded memory
    voiced = vad.voiced_frames(y, en["flat"], en["tonal"])
    out = {"voiced": voiced, "speech_s": float(voiced.sum()) / FRAME_RATE,
           "duration_s": y.size / af.RATE}
    empty = np.zeros(0)
    if not voiced.any():
        out.update(vectors=np.zeros((0, 2 * af.FRAME_DIM)), start_s=empty, end_s=empty,
                   voiced_s=empty)
        return out
    lf, cq = af.cepstra(en, af.loudness_gain(y, voiced))
    n = min(lf.shape[0], cq.shape[0], voiced.size)
    lf, cq, v = lf[:n], cq[:n], voiced[:n]
    d1 = af.deltas(lf)
    feat = np.concatenate([lf, d1, af.deltas(d1), cq, af.deltas(cq)], axis=1)
    s, e = window_bounds(n)
    stats, nv = af.window_stats(feat, v, s, e)
    keep = nv >= MIN_VOICED_S * FRAME_RATE
    dur = y.size / af.RATE
    out.update(vectors=stats[keep], start_s=s[keep] / FRAME_RATE,
               end_s=np.minimum(e[keep] / FRAME_RATE, dur), voiced_s=nv[keep] / FRAME_RATE)
    return out


# ------------------------------------------------------------------ the model
class SpeechModel:
    """Standardisation + a 1-hidden-layer MLP (or logistic regression) from a JSON file.

    ``offset`` (set by the recipe's calibration) is subtracted from every logit, so that 0.5
    corresponds to a measured out-of-fold false-positive rate on real speech.
    """

    def __init__(self, d: dict):
        if d.get("features") != FEATURES_ID:
            raise ValueError(f"model was trained on features {d.get('features')!r}, this code "
                             f"computes {FEATURES_ID!r}")
        self.meta = d
        self.kind = d["kind"]
        self.mean = np.asarray(d["mean"], np.float64)
        self.scale = np.asarray(d["scale"], np.float64)
        self.offset = float(d.get("offset", 0.0))
        if self.kind == "logistic":
            self.w = np.asarray(d["weights"], np.float64)
            self.b = float(d["bias"])
        elif self.kind == "mlp":
            self.w1 = np.asarray(d["w1"], np.float64)
            self.b1 = np.asarray(d["b1"], np.float64)
            self.w2 = np.asarray(d["w2"], np.float64)
            self.b2 = float(d["b2"])
        else:
            raise ValueError(f"unknown model kind {self.kind!r}")

    @classmethod
    def from_file(cls, path) -> SpeechModel:
        return cls(json.loads(Path(path).read_text()))

    def logits(self, X: np.ndarray) -> np.ndarray:
        z = (np.asarray(X, np.float64) - self.mean) / self.scale
        if self.kind == "logistic":
            return z @ self.w + self.b - self.offset
        h = np.tanh(z @ self.w1 + self.b1)
        return h @ self.w2 + self.b2 - self.offset

    def probs(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(X), -50, 50)))


def model_path() -> Path:
    from importlib.resources import files

    return Path(str(files("veriscope") / "models" / MODEL_FILE))


@lru_cache(maxsize=1)
def load_model() -> SpeechModel:
    return SpeechModel.from_file(model_path())


def file_score(window_probs: np.ndarray) -> float | None:
    """File score: the mean window probability (None without scored windows)."""
    p = np.asarray(window_probs, np.float64)
    return float(np.clip(p.mean(), 0.0, 1.0)) if p.size else None


# ------------------------------------------------------------------ detector
class SyntheticSpeechDetector(Detector):
    name = "synthetic_speech"
    version = "1.1"
    modalities = ("audio", "video")
    default = True
    summary = "Synthetic (TTS/vocoder) speech: cepstral classifier, per-2 s-segment scores"
    looks_at = ("The fine spectral shape of the voice (LFCC and CQCC-style cepstra) in 2-second "
                "windows of detected speech, scored by a small model trained on real and TTS speech.")
    cannot_tell = ("Voices from TTS or voice-conversion systems unlike its small training set, "
                   "which recording a real voice came from, or whether the words are true; a "
                   "different microphone, room or codec can shift its score (channel confound).")
    how_to_read = ("Each point scores a 2 s window of speech for traces of a synthetic (text-to-speech) "
                   "voice; stretches above 0.5 are flagged. It was trained on few systems: a high curve "
                   "on a phone or radio recording is weaker evidence than on a clean one.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.core.errors import MediaError

        opts = ctx.opts(self.name)
        max_s = float(opts.get("max_seconds", MAX_SECONDS))
        st = next((d for d in media.facts.get("streams", []) if d.get("type") == "audio"), {})
        rate0, ch0 = int(st.get("sample_rate") or 0), int(st.get("channels") or 0)
        if rate0 > 0 and ch0 > 0:  # high rates / many channels: fewer seconds, same memory
            max_s = min(max_s, MAX_SAMPLES / (rate0 * ch0))
        try:
            x, rate = media.audio(mono=True, max_seconds=max_s)
        except MediaError as e:
            return Evidence.not_applicable(self.name, self.version, f"no usable audio: {e.message}")
        rate = int(rate or 0)
        n = int(x.shape[0])
        if rate < MIN_RATE:
            return Evidence.not_applicable(
                self.name, self.version, f"audio sample rate {rate} Hz is below {MIN_RATE} Hz: "
                "too little bandwidth to analyse speech")
        if n < MIN_VOICED_S * rate:
            return Evidence.not_applicable(
                self.name, self.version, f"audio is only {n} sample(s) ({n / rate:.3f} s): "
                f"needs at least {MIN_VOICED_S:g} s of speech")
        try:
            model = load_model()
        except (OSError, ValueError, KeyError) as e:
            return Evidence.failed(self.name, self.version, f"model file cannot be loaded: {e}")
        y = prepare(x, rate)
        a = analyse_signal(y)
        if a["speech_s"] == 0:
            return Evidence.not_applicable(self.name, self.version,
                                           "no speech detected (silence or non-speech sound)")
        if a["vectors"].shape[0] == 0:
            return Evidence.not_applicable(
                self.name, self.version, f"too little speech: {a['speech_s']:.2f} s detected, "
                f"a segment needs {MIN_VOICED_S:g} s")
        probs = model.probs(a["vectors"])
        score = file_score(probs)
        ev = self.evidence(score=score, label="synthetic" if score >= 0.5 else "no_evidence")
        for s0, s1, p in zip(a["start_s"], a["end_s"], probs, strict=True):
            ev.segments.append(Segment(float(s0), float(s1), float(p),
                                       "synthetic" if p >= 0.5 else None))
        flagged = [sg for sg in ev.segments if sg.score >= 0.5]
        total = float(media.facts.get("duration") or 0.0)
        analysed = n / rate
        capped = n >= int(max_s * rate) and (not total or total > analysed + 0.5)
        _findings(ev, score, probs, flagged, a, analysed, capped, total)
        ev.data.update({
            "reliability": _reliability(a["speech_s"]),
            "sample_rate": rate, "analysed_s": round(analysed, 3),
            "speech_s": round(a["speech_s"], 2), "windows": len(ev.segments),
            "window_s": WIN_S, "hop_s": HOP_S, "flagged_windows": len(flagged),
            "mean_window_score": round(score, 4), "max_window_score": round(float(probs.max()), 4),
            "vad": "energy+flatness", "truncated": capped,
            "model": {"kind": model.kind, "features": FEATURES_ID,
                      "seed": model.meta.get("training", {}).get("seed"),
                      "training_files": model.meta.get("training", {}).get("files")},
        })
        if opts.get("views", True):
            ev.views["spectrogram"] = spectrogram_view(y, ev.segments)
        return ev


def _findings(ev, score, probs, flagged, a, analysed, capped, total):
    nwin = len(ev.segments)
    if score >= 0.5:
        ev.add("high" if score >= 0.8 else "medium", "synthetic_speech",
               f"The voice resembles synthetic (text-to-speech) speech: {len(flagged)} of {nwin} "
               f"speech segments score 0.5 or more (mean {score:.2f}).",
               score=round(score, 4), flagged=len(flagged), windows=nwin)
    elif flagged:
        spans = ", ".join(f"{sg.start:.0f}-{sg.end:.0f} s" for sg in flagged[:5])
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        ev.add("low", "synthetic_speech_segments",
               f"Some speech segments ({spans}{more}) resemble synthetic speech although the "
               "recording as a whole does not; worth listening to.",
               segments=[[sg.start, sg.end, round(sg.score, 4)] for sg in flagged])
    ev.add("info", "synthetic_speech_summary",
           f"Scored {nwin} two-second segment(s) over {a['speech_s']:.1f} s of detected speech; "
           f"mean synthetic-speech score {score:.2f}, highest {float(probs.max()):.2f}.",
           speech_s=round(a["speech_s"], 2), windows=nwin)
    if a["speech_s"] < MIN_SPEECH_RELIABLE_S:
        ev.add("info", "little_speech",
               f"Only {a['speech_s']:.1f} s of speech was found, so the score rests on little "
               "evidence.", speech_s=round(a["speech_s"], 2))
    if capped:
        whole = f" of {total:.0f} s" if total else ""
        ev.add("info", "audio_truncated",
               f"Only the first {analysed:.0f} s{whole} were analysed (length cap).",
               analysed_s=round(analysed, 3), duration_s=total or None)


def _reliability(speech_s: float) -> dict:
    if speech_s < MIN_SPEECH_RELIABLE_S:
        return {"level": "low", "why": f"only {speech_s:.1f} s of speech, and the model is small "
                "and trained on few voices and TTS systems"}
    return {"level": "low", "why": "small model trained on 8 ESPnet TTS systems, espeak-ng and "
            "festival voices and about 10 real speakers; it missed every voice clone of an "
            "unseen voice, channel and TTS family (see docs/detectors/synthetic_speech.md)"}


def spectrogram_view(y: np.ndarray, segments: list[Segment], max_cols: int = 1200) -> np.ndarray:
    """Log spectrogram (0-8 kHz, low frequencies at the bottom) with a score strip below it:
    one column per time step, strip colour from green (0) through yellow to red (1)."""
    from veriscope.signals import audio_features as af

    t = af.n_frames(y.size)
    if t == 0:
        return np.zeros((8, 8, 3), np.uint8)
    step = max(1, int(np.ceil(t / max_cols)))
    cols = -(-t // step)
    p = np.zeros((cols, 257))
    for a, fr in af.frame_blocks(y, 400, af.HOP, block=step * 256):  # whole columns per block
        pb = af._power(fr, 512)
        c0 = a // step
        k = -(-pb.shape[0] // step)
        pad = k * step - pb.shape[0]
        if pad:
            pb = np.concatenate([pb, np.repeat(pb[-1:], pad, axis=0)])
        p[c0: c0 + k] = pb.reshape(k, step, -1).mean(axis=1)
    db = 10 * np.log10(p + 1e-12)
    hi = float(np.percentile(db, 99.5))
    g = np.clip((db - (hi - 80.0)) / 80.0, 0, 1).T[::-1]  # (257, cols), low freq at bottom
    g = g[::2]  # 129 rows
    img = np.stack([g * 255 * 0.9, g * 255 * 0.95, np.sqrt(g) * 255], -1)
    sec_per_col = step * af.HOP / af.RATE
    best = np.full(img.shape[1], -1.0)  # highest window score covering each column
    for sg in segments:
        if sg.score is None:
            continue
        a = min(int(sg.start / sec_per_col), img.shape[1] - 1)
        b = max(a + 1, int(np.ceil(sg.end / sec_per_col)))
        np.maximum(best[a:b], float(sg.score), out=best[a:b])
    sc = np.clip(best, 0, 1)
    strip_row = np.stack([255 * np.minimum(1.0, 2 * sc), 255 * np.minimum(1.0, 2 * (1 - sc)),
                          np.full_like(sc, 40.0)], -1)
    strip_row[best < 0] = 40.0  # no scored window here
    strip = np.repeat(strip_row[None], 16, axis=0)
    return np.clip(np.concatenate([img, np.full((2, img.shape[1], 3), 0.0), strip]), 0,
                   255).astype(np.uint8)
