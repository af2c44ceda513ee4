"""Training recipe of the ``synthetic_speech`` detector's model.

``veriscope train synthetic-speech --out DIR --seed N [--data PATH] [--no-tts] [--limit K]``

Data (read in place from the shared data folder, never copied):

- real: ``fsdd-spoken-digits-subset`` (600 digit recordings, 6 speakers, 8 kHz) and the real
  halves of ``espnet-tts-real-vs-synth`` (5 LJSpeech + 5 LibriTTS sentences);
- synthetic: the 40 TTS files of ``espnet-tts-real-vs-synth`` (8 ESPnet systems), plus speech
  synthesized here, offline, with ``espeak-ng`` (formant synthesis, many voices) and
  ``festival`` (diphone synthesis) from this module's own sentences and the ten digit words,
  when those programs are installed (skipped cleanly otherwise; the report says which ran).
- ``resemblyzer-trump-real-fake`` is never read here: it is evaluation-only.

Confound control: every file is resampled to 16 kHz and loudness-normalised over its voiced
frames, and features are pooled over voiced frames only (leading silence does not count).
Each file is also analysed in *augmented* copies, made identically for both classes:
additive noise (SNR 10-35 dB), an MP3 round trip (24-96 kbit/s) and, for full-band sources,
a 4 kHz band limit (an 8 kHz round trip) alone or combined with the others. Window weights
then give real and synthetic speech the same total weight *within each bandwidth stratum*
(full band / 4 kHz), so the band limit of the 8 kHz FSDD recordings cannot be used as a cue
for "real"; within a class and stratum each source (fsdd, espnet real, espnet TTS, espeak,
festival) has the same share, each file the same share within its source.

Model: standardisation + L2-regularised logistic regression fitted with L-BFGS (scipy) from a
zero start: deterministic. The seed drives the augmentations and the synthesized voices
(per-file generators seeded by (seed, file key), so a subset reproduces the same features).

Outputs in DIR: ``synthetic_speech.json`` (the model, loadable by
:class:`veriscope.detectors.audio.synthetic_speech.SpeechModel`) and ``training_report.json``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veriscope.detectors.audio import synthetic_speech as ss
from veriscope.train import common

DEFAULT_L2 = 1e-2
"""L2 penalty on the weights (standardised inputs); 1e-3..1e-1 gave similar
leave-one-TTS-system-out results (benchmarks/synthetic_speech.py)."""
HIDDEN = 16
"""Hidden units of the MLP (it beat logistic regression on every held-out condition of the
leave-one-TTS-system-out protocol, by 0.01-0.06 AUC)."""
MAX_ITER = 3000
HOLDOUT_UTTERANCES = ("LJ050-0033", "672_122797_000002_000002")
"""One sentence per espnet corpus never used to train the committed model: its real recording
and its 8 TTS versions are a sentence-disjoint test split (tests/test_synthetic_speech.py)."""
CAL_TARGET_FPR = 0.05
"""Calibration target: out-of-fold share of real files scoring >= 0.5, averaged over sources."""
CAL_MAX_OFFSET = 6.0
ESPNET = "espnet-tts-real-vs-synth"
FSDD = "fsdd-spoken-digits-subset"
SOURCES_REAL = ("fsdd", "espnet_real")
SOURCES_SYNTH = ("espnet_tts", "espeak", "festival")

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Sentences written for this recipe (not taken from any corpus), varied in length and phonetics.
SENTENCES = (
    "The morning train was late again, so we walked to the harbour instead.",
    "Please call me back before six, the office closes early on Fridays.",
    "A small brown dog chased the bicycle all the way down the hill.",
    "Our budget for the next quarter depends on the results of this survey.",
    "She opened the window and listened to the rain on the roof.",
    "Turn left at the second light, then look for the blue gate.",
    "The committee will publish its findings at the end of the month.",
    "He forgot his keys, his phone and his umbrella on the same day.",
    "Fresh bread, cheese and apples were waiting on the kitchen table.",
    "Nobody expected the quiet student to win the national chess final.",
    "The museum is free on the first Sunday of every month.",
    "Engineers measured the bridge twice before they approved the new design.",
    "I think the meeting went well, but we still need a decision.",
    "Thick fog covered the valley until almost noon.",
    "The old clock in the hallway stopped at a quarter past three.",
    "Could you spell your family name for me, please?",
    "Temperatures will fall sharply overnight, with frost in northern areas.",
    "The children built a castle of sand and shells near the water.",
    "Voters will choose a new mayor on Tuesday, after a long campaign.",
    "My grandmother kept every letter she ever received in a wooden box.",
    "The pilot announced a short delay because of strong winds.",
    "We need three volunteers to help with the charity run this weekend.",
    "A thin layer of ice made the pavement dangerous for cyclists.",
    "Scientists found traces of water in the rocks collected last year.",
    "Thank you for waiting, your call is important to us.",
    "The garden looked wild after two weeks without any rain.",
    "He played the same song on the piano every evening after dinner.",
    "Prices of fruit and vegetables rose again in the spring.",
    "The lighthouse keeper wrote down every ship that passed.",
    "Please remember to switch off the lights when you leave the room.",
    "Our flight to the island takes just under two hours.",
    "The library will be closed for repairs until further notice.",
    "She measured the flour carefully and folded in the eggs.",
    "Heavy traffic is expected on the motorway this afternoon.",
    "The river burst its banks and flooded several fields.",
    "Every answer on the test must be written in ink.",
    "We watched the stars from the roof until the clouds rolled in.",
    "The new software update fixes several problems with the camera.",
    "Two owls were calling to each other across the dark forest.",
    "Sign here, and here, and we will send the documents tomorrow.",
    "The factory shifted to a four day week to save energy.",
    "Do you prefer tea or coffee with your breakfast?",
    "The orchestra rehearsed the final movement one more time.",
    "A sudden gust of wind blew the hat straight off his head.",
    "Local farmers sell honey, eggs and flowers at the Saturday market.",
    "The report says that reading levels improved in most schools.",
    "I will be there at half past eight, unless the bus is late.",
    "The mountain path was narrow, steep and covered with loose stones.",
    "Her speech was short, clear and surprisingly funny.",
    "Keep the receipt in case you want to return the shoes.",
    "The ship's engine failed twenty miles from the coast.",
    "Winter coats are now half price in all of our stores.",
    "They painted the fence white and planted roses along it.",
    "Exactly seven minutes later, the alarm rang for the second time.",
    "Most of the audience stayed long after the concert ended.",
    "The judge asked both sides to present their evidence again.",
    "Wash your hands before you touch the food, please.",
    "The researchers counted more than four hundred species of beetle.",
    "A warm breeze carried the smell of the sea into town.",
    "Which platform does the train to the airport leave from?",
)
ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan",
                 "en-gb-x-gbcwmd")
ESPEAK_VARIANTS = ("", "+m1", "+m2", "+m3", "+m4", "+m5", "+m6", "+m7", "+f1", "+f2", "+f3",
                   "+f4", "+f5")
MP3_KBPS = (24, 32, 48, 64, 96)
N_AUG = 6
"""Augmented copies per espnet / espeak-ng / festival file."""
N_AUG_FSDD = 2
"""Augmented copies per FSDD file (600 files)."""
AUG_P = {"speed": 0.5, "eq": 0.7, "reverb": 0.3, "bl": 0.5, "noise": 0.5, "mp3": 0.5}
"""Probability of each step in a random augmentation chain (same for both classes)."""
SPEED_RANGE = (0.85, 1.15)
"""Speed perturbation factors (a resampling: simulates other vocal-tract lengths)."""
EQ_DB = 4.0
TILT_DB = 3.0
TIMEOUT_S = 30


@dataclass
class Item:
    """One training / evaluation file."""

    key: str
    label: int  # 1 = synthetic
    source: str  # fsdd | espnet_real | espnet_tts | espeak | festival
    system: str  # "real" or the TTS system
    group: str  # utterance id (espnet), speaker (fsdd), text id (espeak / festival)
    path: str
    corpus: str = ""  # ljspeech / libritts for espnet


@dataclass
class FeatureSet:
    """Window vectors of every (item, variant), with bookkeeping arrays (one row per window)."""

    items: list[Item]
    X: np.ndarray
    item: np.ndarray  # index into items
    variant: np.ndarray  # variant name per window
    band: np.ndarray  # "bl" (4 kHz) or "full"
    nwin: np.ndarray  # windows of the same (item, variant)
    info: dict = field(default_factory=dict)

    @property
    def y(self) -> np.ndarray:
        return np.array([self.items[i].label for i in self.item], dtype=np.int8)


# ------------------------------------------------------------------ data
def find_data_root(given: str | Path | None = None) -> Path:
    """The shared data folder that holds the espnet or FSDD sets (see train.common)."""
    return common.find_data_root(given, (ESPNET, FSDD))


def espnet_items(root: Path) -> list[Item]:
    base = root / ESPNET
    out = []
    for corpus in ("ljspeech", "libritts"):
        for p in sorted((base / corpus / "real").glob("*.wav")):
            out.append(Item(f"espnet/{corpus}/real/{p.stem}", 0, "espnet_real", "real", p.stem,
                            str(p), corpus))
        for sysdir in sorted((base / corpus / "synthetic").glob("*")):
            for p in sorted(sysdir.glob("*.wav")):
                out.append(Item(f"espnet/{corpus}/{sysdir.name}/{p.stem}", 1, "espnet_tts",
                                f"{corpus}:{sysdir.name}", p.stem, str(p), corpus))
    return out


def fsdd_items(root: Path, limit: int | None = None) -> list[Item]:
    """FSDD recordings; ``limit`` keeps the first ``limit`` takes of each digit and speaker."""
    out = []
    for p in sorted((root / FSDD / "recordings").glob("*.wav")):
        parts = p.stem.split("_")
        if len(parts) != 3:
            continue
        digit, speaker, take = parts
        if limit is not None and int(take) >= limit:
            continue
        out.append(Item(f"fsdd/{p.stem}", 0, "fsdd", "real", speaker, str(p)))
    return out


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(key.encode())])


def synthesize(workdir: Path, seed: int, n_sentences: int | None = None,
               log=print) -> tuple[list[Item], dict]:
    """Speech made offline with espeak-ng and festival (whichever is installed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    items, info = [], {"espeak-ng": None, "festival": None}
    sents = SENTENCES if n_sentences is None else SENTENCES[:n_sentences]
    espeak = shutil.which("espeak-ng")
    if espeak:
        n = 0
        jobs = [(f"s{i:02d}", t, 2) for i, t in enumerate(sents)]
        jobs += [(f"d{i}", d, 6) for i, d in enumerate(DIGITS)]
        for tid, text, copies in jobs:
            for c in range(copies):
                key = f"espeak/{tid}/{c}"
                r = _rng(seed, key)
                voice = ESPEAK_VOICES[r.integers(len(ESPEAK_VOICES))] + \
                    ESPEAK_VARIANTS[r.integers(len(ESPEAK_VARIANTS))]
                speed, pitch = int(r.integers(120, 200)), int(r.integers(25, 75))
                wav = workdir / f"espeak_{tid}_{c}.wav"
                cmd = [espeak, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), text]
                if _run(cmd) and wav.is_file() and wav.stat().st_size > 1000:
                    items.append(Item(key, 1, "espeak", "espeak-ng", tid, str(wav)))
                    n += 1
        info["espeak-ng"] = {"files": n, "version": _version([espeak, "--version"])}
        log(f"espeak-ng: {n} files")
    else:
        log("espeak-ng not installed: skipped")
    t2w = shutil.which("text2wave")
    if t2w:
        n = 0
        jobs = [(f"s{i:02d}", t) for i, t in enumerate(sents) if i % 2 == 0]
        jobs += [(f"d{i}", d) for i, d in enumerate(DIGITS)] * 2
        seen: dict[str, int] = {}
        for tid, text in jobs:
            c = seen[tid] = seen.get(tid, -1) + 1
            key = f"festival/{tid}/{c}"
            r = _rng(seed, key)
            stretch = round(float(r.uniform(0.85, 1.25)), 2)
            wav = workdir / f"festival_{tid}_{c}.wav"
            cmd = [t2w, "-o", str(wav), "-eval", f"(Parameter.set 'Duration_Stretch {stretch})"]
            if _run(cmd, text) and wav.is_file() and wav.stat().st_size > 1000:
                items.append(Item(key, 1, "festival", "festival", tid, str(wav)))
                n += 1
        info["festival"] = {"files": n, "version": _version(["festival", "--version"])}
        log(f"festival: {n} files")
    else:
        log("festival (text2wave) not installed: skipped")
    return items, info


def _run(cmd: list[str], stdin: str | None = None) -> bool:
    try:
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=TIMEOUT_S)
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _version(cmd: list[str]) -> str | None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        return (r.stdout or r.stderr).strip().splitlines()[0][:120]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


# ------------------------------------------------------------------ signals and augmentation
def load_16k(path: str) -> np.ndarray:
    """Decode like the detector does (Media.audio) and resample to mono 16 kHz."""
    from veriscope.core.media import Media

    m = Media.open(path)
    x, rate = m.audio(mono=True, max_seconds=ss.MAX_SECONDS)
    return ss.prepare(x, rate)


def native_band(item: Item) -> str:
    return "bl" if item.source == "fsdd" else "full"


def random_chain(item: Item, r: np.random.Generator) -> str:
    """A random augmentation chain, e.g. ``"eq+reverb+mp3"`` (steps in a fixed order)."""
    steps = []
    if r.random() < AUG_P["speed"]:
        steps.append("speed")
    if r.random() < AUG_P["eq"]:
        steps.append("eq")
    if r.random() < AUG_P["reverb"]:
        steps.append("reverb")
    if native_band(item) == "full" and r.random() < AUG_P["bl"]:
        steps.append("bl")
    if r.random() < AUG_P["noise"]:
        steps.append("noise")
    if r.random() < AUG_P["mp3"]:
        steps.append("mp3")
    return "+".join(steps) or "eq"


def variant_names(item: Item, seed: int) -> list[str]:
    """The clean file plus N_AUG random chains (N_AUG_FSDD for the 600 FSDD digits)."""
    k = N_AUG_FSDD if item.source == "fsdd" else N_AUG
    return ["clean"] + [random_chain(item, _rng(seed, f"{item.key}#chain{i}")) for i in range(k)]


def random_eq(y: np.ndarray, r: np.random.Generator, rate: int = 16000) -> np.ndarray:
    """Zero-phase random equaliser (a microphone / channel colouring): gains drawn with a
    standard deviation of EQ_DB dB at 8 log-spaced knots (60 Hz - 7.5 kHz) plus a random tilt
    of up to +-TILT_DB dB per octave around 1 kHz, interpolated along log frequency."""
    f = np.fft.rfftfreq(y.size, 1.0 / rate)
    knots = np.geomspace(60.0, 7500.0, 8)
    g = r.normal(0.0, EQ_DB, knots.size) + r.uniform(-TILT_DB, TILT_DB) * np.log2(knots / 1000)
    gain_db = np.interp(np.log2(np.maximum(f, 1.0)), np.log2(knots), g)
    return np.fft.irfft(np.fft.rfft(y) * 10 ** (gain_db / 20), n=y.size)


def random_reverb(y: np.ndarray, r: np.random.Generator, rate: int = 16000) -> np.ndarray:
    """Convolution with a synthetic room response: a direct path plus exponentially decaying
    noise (RT60 0.15-0.7 s, direct-to-reverberant ratio 0-12 dB)."""
    from scipy.signal import fftconvolve

    rt60 = float(r.uniform(0.15, 0.7))
    n = int(rt60 * rate)
    t = np.arange(n) / rate
    tail = r.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail[: int(0.002 * rate)] = 0.0
    drr = float(r.uniform(0, 12))
    tail *= 10 ** (-drr / 20) / max(float(np.sqrt(np.sum(tail**2))), 1e-12)
    h = tail
    h[0] = 1.0
    return fftconvolve(y, h)[: y.size]


def mp3_roundtrip(y: np.ndarray, kbps: int, rate: int = 16000) -> np.ndarray:
    import io

    import av

    x = np.clip(y, -1, 1).astype(np.float32)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as c:
        st = c.add_stream("libmp3lame", rate=rate)
        st.layout = "mono"
        st.bit_rate = int(kbps) * 1000
        fr = av.AudioFrame.from_ndarray(x[None, :], format="flt", layout="mono")
        fr.sample_rate = rate
        for p in st.encode(fr):
            c.mux(p)
        for p in st.encode(None):
            c.mux(p)
    buf.seek(0)
    with av.open(buf) as c:
        out = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    return out.astype(np.float64)


def augment(y: np.ndarray, variant: str, r: np.random.Generator) -> np.ndarray:
    """Apply a chain such as ``"eq+reverb+bl+noise+mp3"`` (``"clean"``: unchanged)."""
    from veriscope.signals import audio_features as af
    from veriscope.signals import vad

    out = y
    for step in variant.split("+"):
        if step == "clean":
            continue
        if step == "speed":  # speed perturbation: pitch and formants move together
            f = float(r.uniform(*SPEED_RANGE))
            out = af.to_rate(out, int(round(16000 * f)), 16000)
        elif step == "eq":
            out = random_eq(out, r)
        elif step == "reverb":
            out = random_reverb(out, r)
        elif step == "bl":
            out = af.band_limit(out, 8000)
        elif step == "noise":
            v = vad.voiced_frames(out)
            rms = 0.05 / af.loudness_gain(out, v)
            snr = float(r.uniform(10, 35))
            noise = r.standard_normal(out.size)
            if r.random() < 0.5:  # pink-ish: one-pole low-pass of white noise
                from scipy.signal import lfilter

                noise = lfilter([1.0], [1.0, -0.95], noise)
                noise /= max(float(np.std(noise)), 1e-12)
            out = out + noise * rms * 10 ** (-snr / 20)
        elif step == "mp3":
            out = mp3_roundtrip(out, int(MP3_KBPS[r.integers(len(MP3_KBPS))]))
        else:
            raise ValueError(f"unknown augmentation {step!r}")
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return out / peak * 0.99 if peak > 0.99 else out


def _featurize_item(args):
    item, seed, variants = args
    y = load_16k(item.path)
    rows = []
    for k, v in enumerate(variants):
        z = augment(y, v, _rng(seed, f"{item.key}#{k}#{v}"))
        a = ss.analyse_signal(z)
        band = "bl" if ("bl" in v.split("+") or native_band(item) == "bl") else "full"
        rows.append((v, band, a["vectors"]))
    return rows


def featurize(items: list[Item], seed: int, variants: list[str] | None = None, workers: int = 1,
              log=print) -> FeatureSet:
    """Window vectors of all items: the clean file and its augmented copies
    (:func:`variant_names`), or exactly ``variants`` for every item when given."""
    jobs = [(it, seed, list(variants) if variants is not None else variant_names(it, seed))
            for it in items]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as ex:
            results = list(ex.map(_featurize_item, jobs, chunksize=8))
    else:
        results = [_featurize_item(j) for j in jobs]
    Xs, idx, var, band, nwin = [], [], [], [], []
    for i, rows in enumerate(results):
        for v, b, vec in rows:
            k = vec.shape[0]
            if k == 0:
                continue
            Xs.append(vec)
            idx += [i] * k
            var += [v] * k
            band += [b] * k
            nwin += [k] * k
    from veriscope.signals.audio_features import FRAME_DIM

    X = np.concatenate(Xs) if Xs else np.zeros((0, 2 * FRAME_DIM))
    log(f"features: {len(items)} files, {X.shape[0]} windows")
    return FeatureSet(items, X, np.array(idx, int), np.array(var), np.array(band),
                      np.array(nwin, float))


def balanced_weights(fs: FeatureSet, mask: np.ndarray) -> np.ndarray:
    """Window weights (0 outside ``mask``): in each (class, band) cell sources share equally,
    items share equally within a source, windows within an (item, variant); every cell that
    holds data sums to 1."""
    w = np.zeros(fs.X.shape[0])
    ys = fs.y
    src = np.array([fs.items[i].source for i in fs.item])
    base = 1.0 / fs.nwin
    for c in (0, 1):
        for b in ("full", "bl"):
            cell = mask & (ys == c) & (fs.band == b)
            sources = sorted(set(src[cell]))
            for s in sources:
                m = cell & (src == s)
                items_in = np.unique(fs.item[m])
                # each item's windows (over its variants) sum to 1, then items and sources share
                per_item = np.zeros(fs.X.shape[0])
                for it in items_in:
                    mi = m & (fs.item == it)
                    per_item[mi] = base[mi] / base[mi].sum()
                w[m] = per_item[m] / (len(items_in) * len(sources))
    return w


# ------------------------------------------------------------------ model fitting
def _minimize(f, theta0):
    return common.minimize(f, theta0, MAX_ITER, 1e-9, 1e-14)


def fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = DEFAULT_L2,
                 seed: int = 0) -> dict:
    """Weighted, standardised, L2-regularised logistic regression (L-BFGS from zero)."""
    mean, scale, coef, bias, res = common.fit_logistic(X, y, w, l2, maxiter=MAX_ITER,
                                                       gtol=1e-9, ftol=1e-14)
    return {"kind": "logistic", "features": ss.FEATURES_ID, "mean": mean.tolist(),
            "scale": scale.tolist(), "weights": coef.tolist(), "bias": bias,
            "offset": 0.0,
            "fit": {"l2": l2, "iterations": int(res.nit), "converged": bool(res.success),
                    "loss": float(res.fun)}}


def fit_mlp(X: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = DEFAULT_L2,
            seed: int = 0, hidden: int = HIDDEN) -> dict:
    """Weighted, standardised 1-hidden-layer tanh MLP with L2 on the weights (L-BFGS from a
    seeded Glorot-style start): logit = tanh(z W1 + b1) w2 + b2."""
    keep = w > 0
    y, w = y[keep].astype(np.float64), w[keep] / w[keep].sum()
    Z, mean, scale = common.standardise(X[keep], w)
    d, h = Z.shape[1], hidden
    r = np.random.default_rng([int(seed), 7])
    theta0 = np.r_[r.normal(0, 1 / np.sqrt(d), d * h), np.zeros(h),
                   r.normal(0, 1 / np.sqrt(h), h), 0.0]
    s = 2 * y - 1

    def unpack(th):
        return th[: d * h].reshape(d, h), th[d * h: d * h + h], th[d * h + h: d * h + 2 * h], th[-1]

    def f(th):
        W1, b1, w2, b2 = unpack(th)
        hid = np.tanh(Z @ W1 + b1)
        z = hid @ w2 + b2
        g = w * (1.0 / (1.0 + np.exp(-z)) - y)
        val = float(w @ np.logaddexp(0.0, -s * z)) + 0.5 * l2 * (float(np.sum(W1 * W1))
                                                                 + float(w2 @ w2))
        gh = np.outer(g, w2) * (1 - hid * hid)
        grad = np.r_[(Z.T @ gh + l2 * W1).ravel(), gh.sum(axis=0), hid.T @ g + l2 * w2, g.sum()]
        return val, grad

    res = _minimize(f, theta0)
    W1, b1, w2, b2 = unpack(res.x)
    return {"kind": "mlp", "features": ss.FEATURES_ID, "mean": mean.tolist(),
            "scale": scale.tolist(), "w1": W1.tolist(), "b1": b1.tolist(), "w2": w2.tolist(),
            "b2": float(b2), "offset": 0.0,
            "fit": {"l2": l2, "hidden": h, "iterations": int(res.nit),
                    "converged": bool(res.success), "loss": float(res.fun)}}


FITTERS = {"mlp": fit_mlp, "logistic": fit_logistic}


def train_on(fs: FeatureSet, mask: np.ndarray, l2: float = DEFAULT_L2, kind: str = "mlp",
             seed: int = 0) -> ss.SpeechModel:
    d = FITTERS[kind](fs.X, fs.y, balanced_weights(fs, mask), l2, seed)
    return ss.SpeechModel(d)


def cv_folds(items: list[Item]) -> np.ndarray:
    """Group folds for calibration: FSDD by speaker (6 folds), every other source by its
    group (sentence / text id) hashed into the same number of folds."""
    speakers = sorted({it.group for it in items if it.source == "fsdd"})
    k = max(2, len(speakers))
    return np.array([speakers.index(it.group) if it.source == "fsdd"
                     else zlib.crc32(f"{it.source}/{it.group}".encode()) % k for it in items])


def calibrate(fs: FeatureSet, l2: float, kind: str, seed: int,
              target_fpr: float = CAL_TARGET_FPR) -> dict:
    """Offset subtracted from every window logit so that, out of fold, real files score 0.5 or
    more at most ``target_fpr`` of the time (averaged over the real sources).

    Out-of-fold window logits come from group folds (:func:`cv_folds`: unseen FSDD speakers,
    unseen sentences); file score = mean window probability, as in the detector.
    """
    folds = cv_folds(fs.items)
    logits: dict[int, np.ndarray] = {}
    for k in np.unique(folds):
        held = folds == k
        model = train_on(fs, ~held[fs.item], l2, kind, seed)
        m = held[fs.item] & (fs.variant == "clean")
        if not m.any():
            continue
        lg = model.logits(fs.X[m])
        idx = fs.item[m]
        for i in np.unique(idx):
            logits[int(i)] = lg[idx == i]
    src = {i: fs.items[i].source for i in logits}

    def rates(delta):
        out = {}
        for s in sorted(set(src.values())):
            sc = [float(np.mean(1 / (1 + np.exp(-(logits[i] - delta))))) for i in logits
                  if src[i] == s]
            out[s] = float(np.mean(np.array(sc) >= 0.5))
        return out

    grid = np.round(np.arange(0.0, CAL_MAX_OFFSET + 1e-9, 0.1), 2)
    delta, r = 0.0, rates(0.0)
    for dlt in grid:
        r = rates(dlt)
        real = [r[s] for s in SOURCES_REAL if s in r]
        if not real or float(np.mean(real)) <= target_fpr:
            delta = float(dlt)
            break
    else:
        delta = float(grid[-1])
    rr0 = rates(0.0)
    return {"offset": delta, "target_fpr": target_fpr, "folds": int(len(np.unique(folds))),
            "oof_files": len(logits),
            "oof_rate_at_0.5": {s: round(v, 4) for s, v in r.items()},
            "oof_rate_at_0.5_uncalibrated": {s: round(v, 4) for s, v in rr0.items()},
            "note": "rate = share of out-of-fold files scoring >= 0.5: false-positive rate for "
                    "real sources, detection rate for synthetic ones"}


# ------------------------------------------------------------------ the recipe
def select_items(root: Path, limit: int | None, holdout: bool = True) -> list[Item]:
    """Training files; ``limit`` keeps the first ``limit`` takes of each FSDD digit/speaker and
    the first ``limit`` files of each espnet folder (a tiny subset for tests). ``holdout``
    leaves out every espnet file of :data:`HOLDOUT_UTTERANCES` (the committed model's test
    split)."""
    items = [it for it in espnet_items(root)
             if not (holdout and it.group in HOLDOUT_UTTERANCES)] + fsdd_items(root, limit)
    if limit is None:
        return items
    keep, seen = [], {}
    for it in items:
        k = (it.source, it.system, it.corpus)
        seen[k] = seen.get(k, 0) + 1
        if it.source == "fsdd" or seen[k] <= limit:
            keep.append(it)
    return keep


def run(out: Path, seed: int = 0, data: str | Path | None = None, tts: bool = True,
        limit: int | None = None, workers: int = 1, l2: float = DEFAULT_L2, kind: str = "mlp",
        calibration: bool = True, holdout: bool = True, log=print) -> dict:
    """Train on every training source and write the model + report into ``out``."""
    t0 = time.time()
    root = find_data_root(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items = select_items(root, limit, holdout)
    tts_info: dict = {}
    with _one_blas_thread(), tempfile.TemporaryDirectory(prefix="veriscope-tts-") as td:
        if tts:
            synth, tts_info = synthesize(Path(td), seed,
                                         n_sentences=None if limit is None else limit, log=log)
            items += synth
        fs = featurize(items, seed, workers=workers, log=log)
        cal = calibrate(fs, l2, kind, seed) if calibration else {"offset": 0.0}
        log(f"calibration: offset {cal['offset']}")
        model = FITTERS[kind](fs.X, fs.y, balanced_weights(fs, np.ones(fs.X.shape[0], bool)),
                              l2, seed)
    model["offset"] = cal["offset"]
    counts: dict[str, int] = {}
    for it in items:
        counts[it.source] = counts.get(it.source, 0) + 1
    model["training"] = {
        "seed": seed, "recipe": "veriscope.train.synthetic_speech",
        "files": counts, "windows": int(fs.X.shape[0]),
        "augmentation": {"copies": N_AUG, "copies_fsdd": N_AUG_FSDD, "p": AUG_P,
                         "speed": SPEED_RANGE, "eq_db": EQ_DB, "tilt_db": TILT_DB,
                         "mp3_kbps": MP3_KBPS},
        "tts_tools": tts_info, "limit": limit, "calibration": cal,
        "held_out_utterances": list(HOLDOUT_UTTERANCES) if holdout else [],
        "window_s": ss.WIN_S, "hop_s": ss.HOP_S, "rate": 16000,
    }
    (out / ss.MODEL_FILE).write_text(json.dumps(model, separators=(",", ":")) + "\n")
    report = {"model": str(out / ss.MODEL_FILE), "seconds": round(time.time() - t0, 1),
              **model["training"], "fit": model["fit"]}
    (out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {out / ss.MODEL_FILE} ({report['seconds']} s)")
    return model


def _one_blas_thread():
    """Limit BLAS to one thread while training when threadpoolctl is installed: the matrices
    are small, and spinning BLAS threads only slow a busy 2-core machine down."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)
