"""Training recipe of the ``synthetic_speech`` detector's model (version 2: a small CNN).

``veriscope train synthetic-speech --out DIR --seed N [--data PATH] [--extra DIR] [--steps K]``

Data (nothing is copied into the repository; docs/detectors/synthetic_speech.md lists it all):

- the shared data folder: ``fsdd-spoken-digits-subset`` (real digits, 6 speakers, 8 kHz) and
  ``espnet-tts-real-vs-synth`` (real LJSpeech / LibriTTS sentences and 8 ESPnet TTS systems);
- speech synthesised here, offline, from this module's own sentences with the Debian programs
  that are installed: ``espeak-ng`` (formant synthesis), ``festival`` diphone and HTS voices,
  ``flite`` (diphone and statistical parametric voices); a missing program is skipped and the
  report says so;
- with ``--extra DIR``: public demo-page and sample folders of speech projects, listed file by
  file (repository, commit, path, class, system, family) in
  ``veriscope/train/manifests/synthetic_speech/*.tsv`` and read as ``DIR/<owner+name>/<path>``
  (``benchmarks/fetch_speech_sources.py`` builds DIR from repository snapshots).
- ``resemblyzer-trump-real-fake`` and ``talking-face-videoretalking-examples`` are never read:
  they are evaluation-only.

Shortcuts are blocked by construction: every file is decoded like the detector decodes it,
mixed to mono and resampled to 16 kHz; only frames the voice activity detector calls speech
reach the model (no leading silence, no pause lengths, no duration); each window is
normalised per band (no loudness, no fixed channel colouring); and every file is seen through
random channel chains drawn from one distribution for both classes (speed, EQ, room reverb,
telephone band, 8 kHz band limit, noise, MP3 / AAC / Opus / mu-law / AMR re-encoding).

Split: real files whose group (speaker, sentence) hashes into the calibration fifth
(:func:`is_cal`) are never trained on; they set the threshold offset (file-level false-alarm
rate :data:`TARGET_FPR` over their clean and channel copies). Synthetic files of the same
hash are held out too and give the calibration detection rate.

Model: :class:`Net`, a four-block CNN (3x3 convolutions, batch norm, ReLU, 2x2 max pooling)
over (80 bands x 200 frames), mean over time, a linear layer per remaining band. Trained with
Adam on balanced batches (half real, half synthetic; within a class every source equally
likely, within a source every file) and exported to ONNX; inference needs onnxruntime only.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veriscope.signals import speech_spec as sp
from veriscope.train import common

ESPNET = "espnet-tts-real-vs-synth"
FSDD = "fsdd-spoken-digits-subset"
MANIFESTS = Path(__file__).parent / "manifests" / "synthetic_speech"
MAX_FILE_S = 30.0
"""At most this much of each training file is read."""
N_COPIES = 4
"""Channel copies per file besides the clean one (FSDD digits: :data:`N_COPIES_SHORT`)."""
N_COPIES_SHORT = 1
TARGET_FPR = 0.05
CAL_FOLDS = 5
BATCH = 32
DEFAULT_STEPS = 6000
LR = 2e-3
TIMEOUT_S = 30
CHANNELS = (16, 32, 48, 64)
AUG_P = {"speed": 0.3, "eq": 0.5, "reverb": 0.25, "noise": 0.3}
BAND_P = {"full": 0.55, "tel": 0.2, "bl8k": 0.25}
CODEC_P = {"none": 0.35, "mp3": 0.2, "aac": 0.15, "opus": 0.15, "mulaw": 0.08, "amr": 0.07}
MP3_KBPS = (16, 24, 32, 48, 64, 96, 128)
AAC_KBPS = (24, 32, 48, 64, 96)
OPUS_KBPS = (8, 12, 16, 24, 32, 48)
SPEED_RANGE = (0.9, 1.1)
SNR_DB = (5.0, 30.0)
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
FESTIVAL_VOICES = (("festival_diphone", "voice_kal_diphone"), ("festival_diphone", "voice_ked_diphone"),
                   ("festival_hts", "voice_cmu_us_slt_arctic_hts"))
"""(system, Scheme voice command) of the Debian festival voices used when installed."""
FLITE_VOICES = (("flite_diphone", "kal16"), ("flite_clustergen", "slt"),
                ("flite_clustergen", "rms"), ("flite_clustergen", "awb"))


@dataclass
class Item:
    """One training / evaluation file."""

    key: str
    label: int  # 1 = synthetic
    source: str  # fsdd, espnet_real, espnet_tts, espeak, festival_*, flite_*, or a manifest's
    family: str  # what leave-one-family-out holds out: a real corpus or a synthesis family
    system: str
    group: str  # speaker or sentence: files of one group are on one side of every split
    path: str


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(key.encode())])


def is_cal(item: Item) -> bool:
    """The calibration fifth: decided by the item's source and group, never by chance."""
    return zlib.crc32(f"{item.source}/{item.group}".encode()) % CAL_FOLDS == 0


def find_data_root(given: str | Path | None = None) -> Path:
    return common.find_data_root(given, (ESPNET, FSDD))


# ------------------------------------------------------------------ sources
def shared_items(root: Path, limit: int | None = None) -> list[Item]:
    out = []
    base = root / ESPNET
    for corpus in ("ljspeech", "libritts"):
        reals = sorted((base / corpus / "real").glob("*.wav"))[:limit]
        out += [Item(f"espnet/{corpus}/real/{p.stem}", 0, "espnet_real", f"real:{corpus}",
                     "real", p.stem, str(p)) for p in reals]
        for sysdir in sorted((base / corpus / "synthetic").glob("*")):
            for p in sorted(sysdir.glob("*.wav"))[:limit]:
                out.append(Item(f"espnet/{corpus}/{sysdir.name}/{p.stem}", 1, "espnet_tts",
                                "espnet", f"espnet:{sysdir.name}", p.stem, str(p)))
    for p in sorted((root / FSDD / "recordings").glob("*.wav")):
        parts = p.stem.split("_")
        if len(parts) != 3 or (limit is not None and int(parts[2]) >= limit):
            continue
        out.append(Item(f"fsdd/{p.stem}", 0, "fsdd", "real:fsdd", "real", parts[1], str(p)))
    return out


def manifest_rows(manifests: Path = MANIFESTS) -> list[dict]:
    """Rows of every manifest, each with its ``repo`` and ``stem`` (folder name) added."""
    rows = []
    for f in sorted(manifests.glob("*.tsv")):
        meta, rs = common.read_manifest(f)
        rows += [{**r, "repo": meta.get("repo", f.stem.replace("+", "/")), "stem": f.stem}
                 for r in rs]
    return rows


def extra_items(extra: Path | None, limit: int | None = None, log=print) -> list[Item]:
    """Files of the manifests found under ``extra`` (missing ones are counted and skipped)."""
    if extra is None:
        return []
    out, missing, seen = [], 0, {}
    for r in manifest_rows():
        p = Path(extra) / r["stem"] / r["path"]
        k = (r["source"], r["label"])
        if limit is not None and seen.get(k, 0) >= limit:
            continue
        if not p.is_file():
            missing += 1
            continue
        seen[k] = seen.get(k, 0) + 1
        lab = 1 if r["label"] == "synthetic" else 0
        fam = r["family"] if lab else f"real:{r['source']}"
        out.append(Item(f"{r['repo']}/{r['path']}", lab, r["source"], fam, r["system"],
                        r["group"], str(p)))
    if missing:
        log(f"extra: {missing} manifest file(s) not found under {extra}")
    return out


def synthesize(workdir: Path, seed: int, n_sentences: int | None = None,
               log=print) -> tuple[list[Item], dict]:
    """Speech made offline with espeak-ng, festival and flite (whichever are installed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    sents = SENTENCES if n_sentences is None else SENTENCES[:n_sentences]
    texts = [(f"s{i:02d}", t) for i, t in enumerate(sents)] + \
        [(f"d{i}", d) for i, d in enumerate(DIGITS[: n_sentences or None])]
    items, info = [], {}
    espeak = shutil.which("espeak-ng")
    if espeak:
        n = 0
        for tid, text in texts:
            for c in range(2):
                key = f"espeak/{tid}/{c}"
                r = _rng(seed, key)
                voice = ESPEAK_VOICES[r.integers(len(ESPEAK_VOICES))] + \
                    ESPEAK_VARIANTS[r.integers(len(ESPEAK_VARIANTS))]
                wav = workdir / f"espeak_{tid}_{c}.wav"
                cmd = [espeak, "-v", voice, "-s", str(int(r.integers(120, 200))), "-p",
                       str(int(r.integers(25, 75))), "-w", str(wav), text]
                if _run(cmd) and _ok(wav):
                    items.append(Item(key, 1, "espeak", "classic_tts", "espeak-ng", tid, str(wav)))
                    n += 1
        info["espeak-ng"] = {"files": n, "version": _version([espeak, "--version"])}
    t2w = shutil.which("text2wave")
    if t2w:
        def festival(voice, key, text, wav):
            stretch = round(float(_rng(seed, key).uniform(0.85, 1.2)), 2)
            return [t2w, "-o", str(wav), "-eval", f"({voice})", "-eval",
                    f"(Parameter.set 'Duration_Stretch {stretch})"], text

        _voices("festival", FESTIVAL_VOICES, texts, workdir, festival, items, info)
        info["festival"] = {"version": _version(["festival", "--version"])}
    flite = shutil.which("flite")
    if flite:
        _voices("flite", FLITE_VOICES, texts, workdir,
                lambda voice, key, text, wav: ([flite, "-voice", voice, "-t", text, "-o",
                                                str(wav)], None), items, info)
    for tool, found in (("espeak-ng", espeak), ("festival", t2w), ("flite", flite)):
        log(f"{tool}: " + ("used" if found else "not installed, skipped"))
    return items, info


def _voices(tool: str, voices, texts, workdir: Path, make, items: list[Item], info: dict):
    """One file per (voice, text) of a TTS program: ``make(voice, key, text, wav)`` gives the
    command and its standard input; made files are added to ``items``, counts to ``info``."""
    for system, voice in voices:
        n = 0
        for tid, text in texts:
            key = f"{tool}/{voice}/{tid}"
            wav = workdir / f"{tool}_{voice}_{tid}.wav"
            cmd, stdin = make(voice, key, text, wav)
            if _run(cmd, stdin) and _ok(wav):
                items.append(Item(key, 1, system, "classic_tts", f"{tool}:{voice}", tid,
                                  str(wav)))
                n += 1
        info[f"{tool} {voice}"] = {"files": n}


def _ok(wav: Path) -> bool:
    return wav.is_file() and wav.stat().st_size > 1000


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


# ------------------------------------------------------------------ channel chains
def load_16k(path: str, max_s: float = MAX_FILE_S) -> tuple[np.ndarray, int]:
    """Decode like the detector does (Media.audio): (mono 16 kHz signal, native rate)."""
    from veriscope.core.media import Media
    from veriscope.detectors.audio import synthetic_speech as ss

    x, rate = Media.open(path).audio(mono=True, max_seconds=max_s)
    return ss.prepare(x, rate), int(rate)


NARROW_STEPS = ("tel", "bl8k", "mulaw", "amr")


def is_narrow(chain: str, native_rate: int) -> bool:
    """Speech limited to 4 kHz or less: an 8 kHz file or a telephone / 8 kHz channel step."""
    return native_rate <= 8000 or any(s in NARROW_STEPS for s in chain.split("+"))


def random_eq(y: np.ndarray, r: np.random.Generator, rate: int = 16000) -> np.ndarray:
    """Zero-phase random equaliser: 8 log-spaced knots (60 Hz-7.5 kHz), 4 dB spread, plus a
    tilt of up to 3 dB per octave around 1 kHz."""
    f = np.fft.rfftfreq(y.size, 1.0 / rate)
    knots = np.geomspace(60.0, 7500.0, 8)
    g = r.normal(0.0, 4.0, knots.size) + r.uniform(-3.0, 3.0) * np.log2(knots / 1000)
    gain_db = np.interp(np.log2(np.maximum(f, 1.0)), np.log2(knots), g)
    return np.fft.irfft(np.fft.rfft(y) * 10 ** (gain_db / 20), n=y.size)


def random_reverb(y: np.ndarray, r: np.random.Generator, rate: int = 16000) -> np.ndarray:
    """A synthetic room: direct path plus exponentially decaying noise (RT60 0.15-0.8 s,
    direct-to-reverberant ratio 0-12 dB)."""
    from scipy.signal import fftconvolve

    rt60 = float(r.uniform(0.15, 0.8))
    t = np.arange(int(rt60 * rate)) / rate
    h = r.standard_normal(t.size) * np.exp(-6.9 * t / rt60)
    h[: int(0.002 * rate)] = 0.0
    h *= 10 ** (-float(r.uniform(0, 12)) / 20) / max(float(np.sqrt(np.sum(h**2))), 1e-12)
    h[0] = 1.0
    return fftconvolve(y, h)[: y.size]


def telephone(y: np.ndarray) -> np.ndarray:
    """Telephone band: 300-3400 Hz band-pass at 8 kHz, back to 16 kHz."""
    from scipy.signal import butter, sosfiltfilt

    from veriscope.signals import audio_features as af

    z = af.to_rate(y, 16000, 8000)
    if z.size > 30:
        z = sosfiltfilt(butter(4, [300, 3400], btype="band", fs=8000, output="sos"), z)
    out = af.to_rate(z, 8000, 16000)
    return out[: y.size] if out.size >= y.size else np.pad(out, (0, y.size - out.size))


CODECS = {"mp3": ("mp3", "libmp3lame", 16000), "aac": ("adts", "aac", 16000),
          "opus": ("ogg", "libopus", 16000), "mulaw": ("wav", "pcm_mulaw", 8000),
          "amr": ("amr", "libopencore_amrnb", 8000)}


def codec_roundtrip(y: np.ndarray, codec: str, kbps: int | None = None) -> np.ndarray:
    """Encode and decode with PyAV's FFmpeg (same decoder as ``Media.audio``): 16 kHz, the
    input's length."""
    import io

    import av

    from veriscope.signals import audio_features as af

    fmt, enc, rate = CODECS[codec]
    x = af.to_rate(y, 16000, rate) if rate != 16000 else y
    x = np.clip(x, -1, 1).astype(np.float32)
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as c:
        st = c.add_stream(enc, rate=rate)
        st.layout = "mono"
        if kbps:
            st.bit_rate = int(kbps) * 1000
        fmt_in = st.codec_context.codec.audio_formats[0].name if enc != "aac" else "fltp"
        fr = av.AudioFrame.from_ndarray(x[None, :], format="flt", layout="mono")
        fr.sample_rate = rate
        rs = av.AudioResampler(format=fmt_in, layout="mono", rate=rate,
                               frame_size=st.codec_context.frame_size or None)
        for f in [*rs.resample(fr), *rs.resample(None)]:
            for p in st.encode(f):
                c.mux(p)
        for p in st.encode(None):
            c.mux(p)
    buf.seek(0)
    with av.open(buf) as c:
        parts = [f.to_ndarray().reshape(-1) for f in c.decode(audio=0)]
        rate_out = c.streams.audio[0].rate
    out = np.concatenate(parts)
    if np.issubdtype(out.dtype, np.integer):  # s16 / s32 samples -> [-1, 1)
        out = out / float(np.iinfo(out.dtype).max + 1)
    out = af.to_rate(out.astype(np.float64), int(rate_out), 16000)[: y.size]
    return np.pad(out, (0, y.size - out.size))  # the input's length (codec delay kept)


def random_chain(r: np.random.Generator) -> str:
    """A chain such as ``"eq+tel+noise+opus24"``, drawn the same way for both classes."""
    steps = [s for s in ("speed", "eq", "reverb") if r.random() < AUG_P[s]]
    band = r.choice(list(BAND_P), p=list(BAND_P.values()))
    if band != "full":
        steps.append(str(band))
    if r.random() < AUG_P["noise"]:
        steps.append("noise")
    codec = str(r.choice(list(CODEC_P), p=list(CODEC_P.values())))
    if codec in ("mp3", "aac", "opus"):
        rates = {"mp3": MP3_KBPS, "aac": AAC_KBPS, "opus": OPUS_KBPS}[codec]
        steps.append(f"{codec}{int(rates[r.integers(len(rates))])}")
    elif codec != "none":
        steps.append(codec)
    return "+".join(steps) or "clean"


def augment(y: np.ndarray, chain: str, r: np.random.Generator) -> np.ndarray:
    """Apply a chain (:func:`random_chain`; ``"clean"``: unchanged)."""
    import re

    from veriscope.signals import audio_features as af
    from veriscope.signals import vad

    out = y
    for step in chain.split("+"):
        m = re.fullmatch(r"(mp3|aac|opus)(\d+)", step)
        if step == "clean":
            continue
        if step == "speed":
            out = af.to_rate(out, int(round(16000 * float(r.uniform(*SPEED_RANGE)))), 16000)
        elif step == "eq":
            out = random_eq(out, r)
        elif step == "reverb":
            out = random_reverb(out, r)
        elif step == "tel":
            out = telephone(out)
        elif step == "bl8k":
            out = af.band_limit(out, 8000)
        elif step.startswith("noise"):  # "noise": random SNR; "noise10": 10 dB
            rms = 0.05 / af.loudness_gain(out, vad.voiced_frames(out))
            noise = r.standard_normal(out.size)
            if r.random() < 0.5:  # pink-ish
                from scipy.signal import lfilter

                noise = lfilter([1.0], [1.0, -0.95], noise)
                noise /= max(float(np.std(noise)), 1e-12)
            snr = float(step[5:]) if step[5:].isdigit() else float(r.uniform(*SNR_DB))
            out = out + noise * rms * 10 ** (-snr / 20)
        elif m:
            out = codec_roundtrip(out * (0.5 / max(float(np.max(np.abs(out))), 1e-9)),
                                  m.group(1), int(m.group(2)))
        elif step in ("mulaw", "amr"):
            out = codec_roundtrip(out * (0.5 / max(float(np.max(np.abs(out))), 1e-9)), step)
        else:
            raise ValueError(f"unknown channel step {step!r}")
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return out / peak * 0.99 if peak > 0.99 else out


# ------------------------------------------------------------------ features
def chains_for(item: Item, seed: int, copies: int | None = None) -> list[str]:
    k = copies if copies is not None else (N_COPIES_SHORT if item.source == "fsdd" else N_COPIES)
    return ["clean"] + [random_chain(_rng(seed, f"{item.key}#chain{i}")) for i in range(k)]


def _featurize(args):
    item, seed, chains = args
    try:
        y, rate = load_16k(item.path)
    except Exception as e:  # noqa: BLE001 - a bad training file is reported, not fatal
        return item.key, [], f"{type(e).__name__}: {e}"
    out = []
    for k, ch in enumerate(chains):
        z = augment(y, ch, _rng(seed, f"{item.key}#{k}#{ch}"))
        b = sp.speech_frames(z)["bands"]
        if b.shape[0] >= sp.MIN_FRAMES:
            out.append((ch, b.astype(np.float16), is_narrow(ch, rate)))
    return item.key, out, None


def featurize(items: list[Item], seed: int, workers: int = 1, copies: int | None = None,
              chains: list[str] | None = None, log=print) -> dict[str, list]:
    """{item key: [(chain, speech bands (t, 80) float16, narrow band?), ...]}: the clean file
    and its channel copies (exactly ``chains`` for every file when given)."""
    jobs = [(it, seed, list(chains) if chains else chains_for(it, seed, copies)) for it in items]
    res: dict[str, list] = {}
    bad = 0
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as ex:
            results = ex.map(_featurize, jobs, chunksize=4)
            for i, (key, rows, err) in enumerate(results):
                res[key] = rows
                bad += err is not None
                if (i + 1) % 500 == 0:
                    log(f"features: {i + 1}/{len(jobs)} files")
    else:
        for key, rows, err in map(_featurize, jobs):
            res[key] = rows
            bad += err is not None
    log(f"features: {len(items)} files ({bad} unreadable), "
        f"{sum(len(v) for v in res.values())} copies")
    return res


def crop(b: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """A random window of speech frames, normalised like the detector's (1, 80, WIN)."""
    b = b.astype(np.float32)
    if b.shape[0] > sp.WIN:
        s = int(r.integers(b.shape[0] - sp.WIN + 1))
        b = b[s: s + sp.WIN]
    return sp.normalise(sp.fit_length(b))[None]


# ------------------------------------------------------------------ model
def make_net(channels=CHANNELS):
    import torch
    from torch import nn

    class Net(nn.Module):
        """(n, 1, 80, t) -> (n,) logits; any t >= 16."""

        def __init__(self):
            super().__init__()
            layers, c_in = [], 1
            for c in channels:
                layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                           nn.ReLU(), nn.MaxPool2d(2)]
                c_in = c
            self.body = nn.Sequential(*layers)
            self.drop = nn.Dropout(0.2)
            self.head = nn.Linear(c_in * (sp.N_BANDS // 2 ** len(channels)), 1)

        def forward(self, x):
            h = self.body(x).mean(dim=3)  # mean over time: (n, c, bands')
            return self.head(self.drop(torch.flatten(h, 1)))[:, 0]

    return Net()


class Sampler:
    """Balanced batches: half real, half synthetic; within a class, half narrow-band copies
    (4 kHz or less: :func:`is_narrow`) and half wide-band ones, so that bandwidth cannot stand
    for the class; then every source equally likely, every file within a source, every copy
    within a file."""

    def __init__(self, items: list[Item], feats: dict[str, list], seed: int):
        self.rng = np.random.default_rng([seed, 7])
        self.by: dict = {(lab, nb): {} for lab in (0, 1) for nb in (False, True)}
        for it in items:
            for nb in (False, True):
                rows = [r for r in feats.get(it.key) or [] if r[2] == nb]
                if rows:
                    self.by[(it.label, nb)].setdefault(it.source, []).append(rows)
        for lab in (0, 1):
            if not (self.by[(lab, False)] or self.by[(lab, True)]):
                raise ValueError("training needs real and synthetic speech")

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for k in range(n):
            lab = k % 2
            nb = bool((k // 2) % 2)
            if not self.by[(lab, nb)]:
                nb = not nb
            cell = self.by[(lab, nb)]
            srcs = sorted(cell)
            files = cell[srcs[int(self.rng.integers(len(srcs)))]]
            rows = files[int(self.rng.integers(len(files)))]
            xs.append(crop(rows[int(self.rng.integers(len(rows)))][1], self.rng))
            ys.append(lab)
        return np.stack(xs), np.array(ys, np.float32)


def train_net(items: list[Item], feats: dict[str, list], seed: int, steps: int,
              log=print):
    import torch

    torch.manual_seed(seed)
    net = make_net()
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, LR, total_steps=steps, pct_start=0.1)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    sam = Sampler(items, feats, seed)
    net.train()
    t0, run = time.time(), []
    for i in range(steps):
        x, y = sam.batch(BATCH)
        x = spec_mask(x, sam.rng)
        loss = loss_fn(net(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run.append(loss.item())
        if (i + 1) % 100 == 0 or i + 1 == steps:
            log(f"step {i + 1}/{steps} loss {np.mean(run[-100:]):.4f} "
                f"({(i + 1) * BATCH / (time.time() - t0):.0f} crops/s)")
    net.eval()
    return net, {"steps": steps, "batch": BATCH, "final_loss": round(float(np.mean(run[-100:])), 4),
                 "seconds": round(time.time() - t0, 1)}


def spec_mask(x: np.ndarray, r: np.random.Generator) -> np.ndarray:
    """One random band stripe (up to 8 bands) and one time stripe (up to 20 frames) set to 0
    per crop (a mild SpecAugment)."""
    x = x.copy()
    for k in range(x.shape[0]):
        f0, fw = int(r.integers(sp.N_BANDS)), int(r.integers(9))
        t0, tw = int(r.integers(sp.WIN)), int(r.integers(21))
        x[k, 0, f0: f0 + fw] = 0.0
        x[k, 0, :, t0: t0 + tw] = 0.0
    return x


def export_onnx(net, path: Path) -> None:
    import warnings

    import torch

    x = torch.zeros(1, 1, sp.N_BANDS, sp.WIN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (x,), str(path), dynamo=False, input_names=["bands"],
                          output_names=["logits"], opset_version=17,
                          dynamic_axes={"bands": {0: "n", 3: "t"}, "logits": {0: "n"}})


def net_logits(net, X: np.ndarray, batch: int = 256) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(X[i: i + batch])).numpy()
                               for i in range(0, X.shape[0], batch)]) if X.shape[0] else np.zeros(0)


# ------------------------------------------------------------------ scoring and calibration
def detector_windows(b: np.ndarray) -> np.ndarray:
    """The detector's windows (:func:`veriscope.signals.speech_spec.windows`) of speech bands."""
    t = b.shape[0]
    return sp.windows({"bands": b.astype(np.float32), "index": np.arange(t)})[0]


def file_logits(score_fn, items: list[Item], feats: dict[str, list]) -> list[dict]:
    """One row per (file, copy): the window logits as the detector computes them, file score =
    mean window probability at offset 0 (``logits`` kept so that an offset can be applied)."""
    rows = []
    for it in items:
        for ch, b, nb in feats.get(it.key) or []:
            z = score_fn(detector_windows(b))
            rows.append({"key": it.key, "label": it.label, "source": it.source,
                         "family": it.family, "chain": ch, "narrow": nb, "logits": z})
    return rows


def file_score(logits: np.ndarray, offset: float) -> float:
    return float(np.mean(1.0 / (1.0 + np.exp(-(np.asarray(logits) - offset)))))


def calibrate(rows: list[dict], target: float = TARGET_FPR) -> dict:
    """Smallest offset (0.1 steps, from 0) whose file-level false-alarm rate on the real
    calibration rows is <= ``target``; sources weigh equally."""
    real = [r for r in rows if r["label"] == 0]
    if not real:
        return {"offset": 0.0, "note": "no real calibration files"}

    def fpr(off):
        by: dict[str, list] = {}
        for r in real:
            by.setdefault(r["source"], []).append(file_score(r["logits"], off) >= 0.5)
        return float(np.mean([np.mean(v) for v in by.values()]))

    off = 0.0
    while fpr(off) > target and off < 8.0:
        off = round(off + 0.1, 1)
    rates: dict[str, list] = {}
    for r in rows:
        rates.setdefault(r["source"], []).append(file_score(r["logits"], off) >= 0.5)
    return {"offset": off, "target_fpr": target, "fpr": round(fpr(off), 4),
            "rate_at_0.5": {s: round(float(np.mean(v)), 4) for s, v in sorted(rates.items())},
            "rows": len(rows)}


# ------------------------------------------------------------------ the recipe
def collect(root: Path, extra: Path | None, seed: int, workdir: Path, tts: bool = True,
            limit: int | None = None, log=print) -> tuple[list[Item], dict]:
    items = shared_items(root, limit) + extra_items(extra, limit, log)
    info: dict = {}
    if tts:
        synth, info = synthesize(workdir, seed, limit, log)
        items += synth
    return items, info


def counts(items: list[Item]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        out[it.source] = out.get(it.source, 0) + 1
    return dict(sorted(out.items()))


def prepare(data: str | Path | None = None, extra: Path | None = None, seed: int = 0,
            tts: bool = True, limit: int | None = None, workers: int = 2,
            cache: Path | None = None, log=print) -> tuple[list[Item], dict, dict]:
    """(items, features, TTS tool info): every file and its channel copies. ``cache``: a pickle
    file reused when it was made with the same arguments (features take minutes)."""
    import pickle

    key = {"data": str(data), "extra": str(extra), "seed": seed, "tts": tts, "limit": limit,
           "features": sp.FEATURES_ID, "copies": [N_COPIES, N_COPIES_SHORT],
           "chains": [AUG_P, BAND_P, CODEC_P]}
    if cache is not None and Path(cache).is_file():
        with Path(cache).open("rb") as fh:
            got = pickle.load(fh)
        if got.get("key") == json.loads(json.dumps(key)):
            log(f"features: reused {cache}")
            return got["items"], got["feats"], got["tts"]
    root = find_data_root(data)
    with tempfile.TemporaryDirectory(prefix="veriscope-tts-") as td, _threads(1):
        items, tts_info = collect(root, extra, seed, Path(td), tts, limit, log)
        feats = featurize(items, seed, workers=workers, log=log)
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        with Path(cache).open("wb") as fh:
            pickle.dump({"key": json.loads(json.dumps(key)), "items": items, "feats": feats,
                         "tts": tts_info}, fh)
    return items, feats, tts_info


def run(out: Path, seed: int = 0, data: str | Path | None = None, extra: Path | None = None,
        tts: bool = True, limit: int | None = None, steps: int = DEFAULT_STEPS,
        workers: int = 2, cache: Path | None = None, log=print) -> dict:
    """Train on every training source and write the model, its metadata and a report."""
    from veriscope.detectors.audio import synthetic_speech as ss

    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    items, feats, tts_info = prepare(data, extra, seed, tts, limit, workers, cache, log)
    train = [it for it in items if not is_cal(it)]
    cal = [it for it in items if is_cal(it)]
    log(f"train {len(train)} files, calibration {len(cal)} files")
    with _threads(workers):
        net, fit = train_net(train, feats, seed, steps, log)
        cal_rows = file_logits(lambda X: net_logits(net, X), cal, feats)
    calib = calibrate(cal_rows)
    log(f"calibration: offset {calib['offset']} (real false-alarm rate {calib.get('fpr')})")
    export_onnx(net, out / ss.ONNX_FILE)
    meta = {
        "features": sp.FEATURES_ID, "offset": calib["offset"], "channels": list(CHANNELS),
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "training": {"seed": seed, "recipe": "veriscope.train.synthetic_speech", "fit": fit,
                     "files": counts(train), "calibration_files": counts(cal),
                     "calibration": calib, "tts_tools": tts_info, "limit": limit,
                     "extra": bool(extra),
                     "channel_chains": {"copies": N_COPIES, "copies_fsdd": N_COPIES_SHORT,
                                        "p": AUG_P, "band": BAND_P, "codec": CODEC_P,
                                        "mp3_kbps": MP3_KBPS, "aac_kbps": AAC_KBPS,
                                        "opus_kbps": OPUS_KBPS}},
    }
    (out / ss.META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    with (out / "cal_scores.tsv").open("w") as fh:
        fh.write("key\tlabel\tsource\tfamily\tchain\tscore\n")
        for r in cal_rows:
            fh.write(f"{r['key']}\t{r['label']}\t{r['source']}\t{r['family']}\t{r['chain']}\t"
                     f"{file_score(r['logits'], calib['offset']):.4f}\n")
    report = {"seconds": round(time.time() - t0, 1), **meta["training"]}
    (out / "training_report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {out / ss.ONNX_FILE} ({report['seconds']} s)")
    return meta


def _threads(n: int):
    """Limit BLAS and torch to ``n`` threads while training (a 2-core machine)."""
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(n)
