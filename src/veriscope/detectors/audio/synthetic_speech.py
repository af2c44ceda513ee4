"""Synthetic (TTS / vocoded / cloned) speech: a small CNN over speech-only spectrograms.

Pipeline (shared by inference and by the training recipe ``veriscope train synthetic-speech``):

1. Decode the first audio track (``Media.audio``, at most :data:`MAX_SECONDS`), mix to mono,
   resample to 16 kHz (the sample rate never reaches the model).
2. :mod:`veriscope.signals.speech_spec`: 80 linear log-energy bands (0-8 kHz) per 10 ms frame;
   only the frames the voice activity detector calls speech are kept (silence, pauses and
   duration never reach the model); windows of 2 s of speech every 1 s, each normalised per
   band (loudness and a fixed channel colouring cancel out).
3. The committed model (``veriscope/models/synthetic_speech.onnx`` + ``.json``: a four-block
   CNN trained by :mod:`veriscope.train.synthetic_speech`, run by onnxruntime on one thread)
   gives each window a logit; minus the calibration offset, the logistic gives the window
   probability. Each window is a :class:`Segment` (start and end of the speech it covers);
   the file score is the mean window probability.

Nothing is downloaded; torch is not needed.
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
"""Less detected speech than this is not scored."""
MIN_RATE = 4000
"""Below this sample rate (2 kHz of bandwidth) there is too little speech spectrum to judge."""
MAX_SECONDS = 600.0
"""At most this much audio is decoded (bounded memory); a finding says when the cap applied."""
MAX_SAMPLES = 600 * 48000 * 2
"""Decoded samples (all channels) at most: 10 min of 48 kHz stereo, about 230 MB as float32."""
MIN_SPEECH_RELIABLE_S = 3.0
"""Less detected speech than this makes the verdict low-reliability."""
NARROW_HZ = 4800
"""Speech with no energy above this gets low reliability: telephone, AMR and 8 kHz recordings
read 3.6-4.5 kHz here (an 8 kHz round trip 4.5 kHz), full-band speech 7.4-8 kHz (MP3 64k 7.4)."""
HEAVY_CODEC_KBPS = 32.0
"""An audio-only file under this bitrate gets low reliability (Opus 24 kbit/s: AUC 0.894 ->
0.860 and 4x the FSDD false alarms on the calibration files, docs/detectors/synthetic_speech.md)."""
RELIABILITY = "low"
RELIABILITY_WHY = ("a small model; on voices and synthesis systems it was not trained on it "
                   "misses some fakes (docs/detectors/synthetic_speech.md)")
ONNX_FILE = "synthetic_speech.onnx"
META_FILE = "synthetic_speech.json"
MODEL_FILE = ONNX_FILE
BATCH = 32


# ------------------------------------------------------------------ signal -> windows
def prepare(x: np.ndarray, rate: int) -> np.ndarray:
    """Decoded samples (n,) or (n, ch) at ``rate`` -> mono float64 at 16 kHz."""
    from veriscope.signals import audio_features as af

    return af.to_rate(af.to_mono(x), int(rate))


def analyse_signal(y: np.ndarray) -> dict:
    """Model inputs of a 16 kHz mono signal: ``inputs`` (windows, 1, 80, 200), ``start_s`` /
    ``end_s`` per window, the frame ``voiced`` mask, ``speech_s`` and ``duration_s``."""
    from veriscope.signals import audio_features as af
    from veriscope.signals import speech_spec as sp

    s = sp.speech_frames(y)
    xs, t0, t1 = sp.windows(s)
    return {"inputs": xs, "start_s": t0, "end_s": np.minimum(t1, y.size / af.RATE),
            "voiced": s["voiced"], "speech_s": s["speech_s"], "duration_s": y.size / af.RATE,
            "bandwidth_hz": sp.bandwidth_hz(s["bands"])}


# ------------------------------------------------------------------ the model
class SpeechModel:
    """The ONNX network and its metadata (features id, calibration offset)."""

    def __init__(self, onnx_path, meta: dict):
        from veriscope.signals import speech_spec as sp

        if meta.get("features") != sp.FEATURES_ID:
            raise ValueError(f"model was trained on features {meta.get('features')!r}, this "
                             f"code computes {sp.FEATURES_ID!r}")
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), so,
                                            providers=["CPUExecutionProvider"])
        self.meta = meta
        self.offset = float(meta.get("offset", 0.0))

    @classmethod
    def from_dir(cls, folder) -> SpeechModel:
        folder = Path(folder)
        return cls(folder / ONNX_FILE, json.loads((folder / META_FILE).read_text()))

    def logits(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float32)
        out = [self.session.run(None, {"bands": X[i: i + BATCH]})[0].reshape(-1)
               for i in range(0, X.shape[0], BATCH)]
        z = np.concatenate(out).astype(np.float64) if out else np.zeros(0)
        return z - self.offset

    def probs(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.logits(X), -50, 50)))


def model_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("veriscope") / "models"))


def model_path() -> Path:
    return model_dir() / ONNX_FILE


@lru_cache(maxsize=1)
def load_model() -> SpeechModel:
    return SpeechModel.from_dir(model_dir())


def file_score(window_probs: np.ndarray) -> float | None:
    """File score: the mean window probability (None without scored windows)."""
    p = np.asarray(window_probs, np.float64)
    return float(np.clip(p.mean(), 0.0, 1.0)) if p.size else None


# ------------------------------------------------------------------ detector
class SyntheticSpeechDetector(Detector):
    name = "synthetic_speech"
    version = "2.0"
    requires = ("onnxruntime",)
    modalities = ("audio", "video")
    default = True
    summary = "Synthetic (TTS/vocoder/cloned) speech: CNN on speech spectrograms, per-2 s-segment scores"
    looks_at = ("The fine time-frequency texture of the voice (80 log-energy bands, 0-8 kHz) in "
                "2-second windows of detected speech, scored by a small CNN trained on real "
                "speech and many kinds of synthetic speech through many channels and codecs.")
    cannot_tell = ("Voices from synthesis systems unlike everything it was trained on, which "
                   "recording a real voice came from, or whether the words are true; a heavy "
                   "codec, a telephone line or music under the voice can shift its score.")
    how_to_read = ("Each point scores a 2 s window of speech for traces of synthetic speech "
                   "(text-to-speech, vocoder, voice cloning); stretches above 0.5 are flagged. "
                   "Silence and pauses are skipped, so a window can span several seconds of the "
                   "file. A high curve on a phone or radio recording is weaker evidence than on "
                   "a clean one.")

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
        except Exception as e:  # noqa: BLE001 - a damaged model file (onnxruntime raises its own types)
            return Evidence.failed(self.name, self.version,
                                   f"model file cannot be loaded: {type(e).__name__}: {e}")
        y = prepare(x, rate)
        a = analyse_signal(y)
        kbps = _audio_bitrate(media, st)
        if a["speech_s"] == 0:
            return Evidence.not_applicable(self.name, self.version,
                                           "no speech detected (silence or non-speech sound)")
        if a["inputs"].shape[0] == 0:
            return Evidence.not_applicable(
                self.name, self.version, f"too little speech: {a['speech_s']:.2f} s detected, "
                f"a segment needs {MIN_VOICED_S:g} s")
        probs = model.probs(a["inputs"])
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
            "reliability": _reliability(a["speech_s"], a["bandwidth_hz"], kbps),
            "bitrate_kbps": None if kbps is None else round(kbps, 1),
            "bandwidth_hz": a["bandwidth_hz"],
            "sample_rate": rate, "analysed_s": round(analysed, 3),
            "speech_s": round(a["speech_s"], 2), "windows": len(ev.segments),
            "window_s": WIN_S, "hop_s": HOP_S, "flagged_windows": len(flagged),
            "mean_window_score": round(score, 4), "max_window_score": round(float(probs.max()), 4),
            "vad": "energy+flatness", "truncated": capped,
            "model": {"kind": "cnn", "features": model.meta.get("features"),
                      "offset": model.offset,
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
               "The voice resembles synthetic speech (text-to-speech, voice cloning or "
               f"conversion, a vocoder): {len(flagged)} of {nwin} speech segments score 0.5 "
               f"or more (mean {score:.2f}).",
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


def _audio_bitrate(media: Media, st: dict) -> float | None:
    """kbit/s of an audio-only file (file size over duration), else None."""
    streams = media.facts.get("streams", [])
    dur = float(st.get("duration") or media.facts.get("duration") or 0.0)
    if len(streams) != 1 or dur <= 0:
        return None
    try:
        return Path(media.path).stat().st_size * 8 / dur / 1000
    except (OSError, TypeError):
        return None


def _reliability(speech_s: float, bandwidth_hz: float | None, kbps: float | None = None) -> dict:
    if speech_s < MIN_SPEECH_RELIABLE_S:
        return {"level": "low", "why": f"only {speech_s:.1f} s of speech"}
    if bandwidth_hz is not None and bandwidth_hz <= NARROW_HZ:
        return {"level": "low", "why": f"the speech has no energy above about "
                f"{bandwidth_hz / 1000:.1f} kHz (telephone or 8 kHz audio), where the model "
                "is weaker (docs/detectors/synthetic_speech.md)"}
    if kbps is not None and kbps < HEAVY_CODEC_KBPS:
        return {"level": "low", "why": f"heavily compressed audio (about {kbps:.0f} kbit/s), "
                "where the model is weaker (docs/detectors/synthetic_speech.md)"}
    return {"level": RELIABILITY, "why": RELIABILITY_WHY}


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
