"""Audio splices made on purpose from real recordings, with the true boundaries known.

Used to measure the ``audio_splice`` and ``audio_facts`` detectors
(``benchmarks/audio_splice.py``) and in tests. Every function is deterministic for a given
``numpy.random.Generator`` and needs only numpy, scipy and soundfile.

What a splice is here: pieces of two different recordings (another speaker, another room,
another microphone or another corpus) joined so that the result plays as one recording.

- :func:`insert`: a donor piece is put into the host at a cut point (host[:t] + donor + host[t:]).
- :func:`append`: host + donor (the donor is the shorter, "foreign" part).
- :func:`digit_sequence`: a spoken digit sequence from one FSDD speaker in which one or two
  digits are replaced by another speaker's takes (e.g. a changed phone number).

The donor is resampled to the host's rate (so a donor recorded at a lower rate is a
band-limited insert), its active speech level is matched to the host's (an editor would do
so; loudness alone must not give it away), and an optional short crossfade smooths the
joints. Ground truth: ``segments`` = the foreign parts in seconds; ``boundaries`` = every
joint in seconds (centre of the crossfade).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veriscope.signals.sampling import resample  # noqa: F401 (also the generator API)

FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FIT_SPEAKERS = ("george", "jackson", "lucas")
"""FSDD speakers whose recordings may be used to fit constants (FIT split)."""
EVAL_SPEAKERS = ("nicolas", "theo", "yweweler")
"""FSDD speakers kept for reporting (EVAL split), never used to fit."""
ESPNET_FIT = ("LJ050-0029", "LJ050-0030", "121_121726_000004_000003", "121_121726_000005_000001",
              "237_126133_000002_000003")
"""Real espnet recordings (file stems) that FIT splices are made of: LJSpeech 0029-0030 and
LibriTTS speakers 121 and 237."""
ESPNET_EVAL = ("LJ050-0031", "LJ050-0032", "LJ050-0033", "260_123286_000005_000001",
               "672_122797_000002_000002")
"""... and EVAL splices (LJSpeech 0031-0033, LibriTTS speakers 260 and 672)."""


@dataclass
class AudioSplice:
    audio: np.ndarray  # float32 mono
    rate: int
    segments: list[tuple[float, float]]  # foreign parts (seconds); [] for a same-source join
    boundaries: list[float]  # every joint (seconds)
    kind: str
    params: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.audio) / float(self.rate)


# ------------------------------------------------------------------ basic signal helpers


def read_mono(path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a sound file as float32 mono (channels averaged), optionally resampled to ``rate``."""
    import soundfile as sf

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1).astype(np.float32)
    if rate is not None and rate != sr:
        x, sr = resample(x, sr, rate), rate
    return x, int(sr)


def frame_db(x: np.ndarray, sr: int, hop_s: float = 0.01) -> np.ndarray:
    """Power in dBFS of consecutive non-overlapping frames of ``hop_s`` seconds."""
    n = max(1, int(round(hop_s * sr)))
    m = len(x) // n
    if m == 0:
        return np.array([10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12)])
    f = np.asarray(x[: m * n], np.float64).reshape(m, n)
    return 10 * np.log10(np.mean(f * f, axis=1) + 1e-12)


def active_level_db(x: np.ndarray, sr: int) -> float:
    """A simple active speech level: mean power of the 10 ms frames within 30 dB of the loudest
    (the 99th percentile frame), in dBFS. Close in spirit to ITU-T P.56, not a conformant one."""
    e = frame_db(x, sr)
    top = np.percentile(e, 99)
    act = e[e > top - 30]
    return float(10 * np.log10(np.mean(10 ** (act / 10)) + 1e-12))


def match_level(donor: np.ndarray, donor_sr: int, host: np.ndarray, host_sr: int) -> np.ndarray:
    """Scale ``donor`` so that its active speech level equals the host's (no clipping above 0.99)."""
    g = 10 ** ((active_level_db(host, host_sr) - active_level_db(donor, donor_sr)) / 20)
    peak = float(np.max(np.abs(donor))) * g
    if peak > 0.99:
        g *= 0.99 / peak
    return (donor * g).astype(np.float32)


def quiet_times(x: np.ndarray, sr: int, lo: float, hi: float, rng: np.random.Generator,
                k: int = 1) -> list[float]:
    """``k`` distinct cut times in [lo, hi] seconds, drawn among the quietest 10 ms frames
    (the lowest quarter of the frame levels in that range): an editor cuts in pauses."""
    e = frame_db(x, sr)
    t = (np.arange(len(e)) + 0.5) * 0.01
    ok = np.nonzero((t >= lo) & (t <= hi))[0]
    if ok.size == 0:
        return sorted(float(v) for v in rng.uniform(lo, hi, k))
    thr = np.percentile(e[ok], 25)
    cand = ok[e[ok] <= thr]
    pick = rng.choice(cand, size=min(k, cand.size), replace=False)
    return sorted(float(t[i]) for i in pick)


def concat(pieces: list[np.ndarray], rate: int, crossfade_ms: float = 0.0
           ) -> tuple[np.ndarray, list[float]]:
    """Join pieces with an equal-power crossfade of ``crossfade_ms``; returns (audio, joint times)."""
    c = int(round(crossfade_ms * rate / 1000.0))
    out = np.asarray(pieces[0], np.float32)
    joints = []
    for p in pieces[1:]:
        p = np.asarray(p, np.float32)
        cc = min(c, len(out) // 2, len(p) // 2)
        if cc > 0:
            w = np.sin(0.5 * np.pi * (np.arange(cc) + 0.5) / cc).astype(np.float32)
            mid = out[-cc:] * w[::-1] + p[:cc] * w
            joints.append((len(out) - cc / 2.0) / rate)
            out = np.concatenate([out[:-cc], mid, p[cc:]])
        else:
            joints.append(len(out) / float(rate))
            out = np.concatenate([out, p])
    return out.astype(np.float32), joints


# ------------------------------------------------------------------ splice makers


def insert(host: np.ndarray, donor: np.ndarray, rate: int, at: float, *, crossfade_ms: float = 0.0,
           donor_rate: int | None = None, level: bool = True, params: dict | None = None
           ) -> AudioSplice:
    """host[:at] + donor + host[at:] at the host's rate; the donor is the true segment."""
    d = resample(donor, donor_rate or rate, rate)
    if level:
        d = match_level(d, rate, host, rate)
    i = int(round(at * rate))
    out, j = concat([host[:i], d, host[i:]], rate, crossfade_ms)
    return AudioSplice(out, rate, [(j[0], j[1])], j, "insert",
                       {"at": at, "crossfade_ms": crossfade_ms, **(params or {})})


def append(host: np.ndarray, donor: np.ndarray, rate: int, *, crossfade_ms: float = 0.0,
           donor_rate: int | None = None, level: bool = True, params: dict | None = None
           ) -> AudioSplice:
    """host + donor; the donor (meant to be the shorter piece) is the true segment."""
    d = resample(donor, donor_rate or rate, rate)
    if level:
        d = match_level(d, rate, host, rate)
    out, j = concat([host, d], rate, crossfade_ms)
    return AudioSplice(out, rate, [(j[0], len(out) / float(rate))], j, "append",
                       {"crossfade_ms": crossfade_ms, **(params or {})})


def digit_sequence(host_takes: list[np.ndarray], donor_takes: list[np.ndarray], rate: int,
                   replace_at: int, *, crossfade_ms: float = 0.0, level: bool = True,
                   params: dict | None = None) -> AudioSplice:
    """Takes of one speaker in a row with ``len(donor_takes)`` of them, from ``replace_at`` on,
    replaced by another speaker's takes (same rate). With no donor takes: a same-source join
    (``segments`` empty, the joints are still listed in ``boundaries``)."""
    host_all = np.concatenate(host_takes)
    donor = [match_level(d, rate, host_all, rate) if level else d for d in donor_takes]
    n_d = len(donor)
    pieces = list(host_takes[:replace_at]) + donor + list(host_takes[replace_at + n_d:])
    out, j = concat(pieces, rate, crossfade_ms)
    edges = [0.0] + j + [len(out) / float(rate)]
    segs = [(edges[replace_at], edges[replace_at + n_d])] if n_d else []
    kind = "digit_replace" if n_d else "same_source"
    return AudioSplice(out, rate, segs, j, kind,
                       {"replace_at": replace_at, "n_foreign": n_d, "n_takes": len(pieces),
                        "crossfade_ms": crossfade_ms, **(params or {})})


def piece(x: np.ndarray, sr: int, dur: float, rng: np.random.Generator) -> np.ndarray:
    """A piece of about ``dur`` seconds cut from ``x`` at pauses (the whole file if shorter)."""
    total = len(x) / sr
    if total <= dur + 0.2:
        return x
    a = quiet_times(x, sr, 0.0, total - dur, rng)[0]
    b = quiet_times(x, sr, min(a + dur * 0.8, total), min(a + dur * 1.25, total), rng)[0]
    return x[int(a * sr): max(int(b * sr), int(a * sr) + int(0.2 * sr))]


def toy_speech(seconds: float, rate: int, rng: np.random.Generator, *, noise_db: float = -60.0,
               rt60: float = 0.0, tilt: float = 0.0, hum_hz: float | None = None,
               hum_db: float = -45.0, level_db: float = -20.0) -> np.ndarray:
    """A speech-like test signal (no recording needed): voiced syllables of 0.12-0.35 s (a
    harmonic series around a random pitch of 100-200 Hz through the two formant resonances of
    one of four random vowels, levels +-2 dB), pauses of 0.05-0.3 s,
    optional exponential-decay reverberation (``rt60`` s), a spectral ``tilt`` (first-order
    emphasis, -0.9..0.9), white background noise at ``noise_db`` dBFS and an optional mains
    hum (frequency wandering by +-0.02 Hz). Only for tests and examples, not for fitting."""
    from scipy.signal import lfilter

    n = int(seconds * rate)
    out = np.zeros(n)
    f0_mean = rng.uniform(100, 200)  # one voice: its pitch range and four vowels
    vowels = [(rng.uniform(300, 900), rng.uniform(1000, min(2600, rate / 2.5))) for _ in range(4)]
    pos = int(rng.uniform(0.05, 0.2) * rate)
    while pos < n:
        d = int(rng.uniform(0.12, 0.35) * rate)
        f0 = f0_mean * rng.uniform(0.8, 1.25)
        t = np.arange(d) / rate
        f = f0 * (1 + 0.05 * np.sin(2 * np.pi * rng.uniform(2, 5) * t))
        ph = 2 * np.pi * np.cumsum(f) / rate
        k_max = max(1, int((rate / 2 - 100) / (f0 * 1.06)))
        k = np.arange(1, min(k_max, 60) + 1)
        src = (np.sin(np.outer(ph, k)) / k).sum(axis=1)
        for fc in vowels[int(rng.integers(len(vowels)))]:
            r = 0.97
            w = 2 * np.pi * fc / rate
            src = lfilter([1 - r], [1, -2 * r * np.cos(w), r * r], src)
        src = src / (np.sqrt(np.mean(src ** 2)) + 1e-12) * 10 ** (rng.normal(0, 2.0) / 20)
        seg = src * np.hanning(d)
        end = min(n, pos + d)
        out[pos:end] += seg[: end - pos]
        pos = end + int(rng.uniform(0.05, 0.3) * rate)
    if tilt:
        out = lfilter([1, -tilt], [1], out)
    if rt60 > 0:
        m = int(rt60 * rate)
        ir = rng.normal(0, 1, m) * np.exp(-6.9 * np.arange(m) / m)
        ir[0] = 1.0 / 0.3
        out = np.convolve(out, ir * 0.3)[:n]
    rms = np.sqrt(np.mean(out[np.abs(out) > 0] ** 2)) if np.any(out) else 1.0
    out = out / rms * 10 ** (level_db / 20)
    peak = float(np.max(np.abs(out))) if len(out) else 0.0
    if peak > 0.9:
        out *= 0.9 / peak
    out += rng.normal(0, 10 ** (noise_db / 20), n)
    if hum_hz:
        tt = np.arange(n) / rate
        fh = hum_hz + 0.02 * np.sin(2 * np.pi * tt / 7.0)
        out += 10 ** (hum_db / 20) * np.sqrt(2) * np.sin(2 * np.pi * np.cumsum(fh) / rate
                                                           + rng.uniform(0, 2 * np.pi))
    return np.clip(out, -1, 1).astype(np.float32)


def write_wav(path, x: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    import soundfile as sf

    sf.write(str(path), np.clip(x, -1.0, 1.0), int(rate), subtype=subtype)
    return Path(path)


# ------------------------------------------------------------------ sets from the shared data


def fsdd_files(root: Path, speakers=FSDD_SPEAKERS) -> dict[str, list[Path]]:
    """``fsdd-spoken-digits-subset`` recordings per speaker (file name digit_speaker_take.wav)."""
    out: dict[str, list[Path]] = {s: [] for s in speakers}
    for p in sorted(Path(root).rglob("*.wav")):
        parts = p.stem.split("_")
        if len(parts) == 3 and parts[1] in out:
            out[parts[1]].append(p)
    return out


def fsdd_set(root: Path, speakers=EVAL_SPEAKERS, n: int = 60, seed: int = 0,
             crossfade_ms=(0.0, 5.0)) -> list[tuple[str, AudioSplice]]:
    """``n`` digit sequences with 1-2 digits replaced by another speaker of ``speakers``, and
    ``n // 2`` same-speaker sequences (no foreign segment). 4-6 takes each, 8 kHz."""
    rng = np.random.default_rng(seed)
    files = fsdd_files(root, speakers)
    spk = [s for s in speakers if files.get(s)]
    if len(spk) < 2:
        raise ValueError(f"{root}: need recordings of at least two of {speakers}")
    cache: dict[Path, np.ndarray] = {}

    def take(p):
        if p not in cache:
            cache[p] = read_mono(p, 8000)[0]
        return cache[p]

    out = []
    for i in range(n + n // 2):
        a = str(rng.choice(spk))
        k = int(rng.integers(4, 7))
        hp = [files[a][j] for j in rng.choice(len(files[a]), size=k, replace=False)]
        host = [take(p) for p in hp]
        cf = float(rng.choice(crossfade_ms))
        if i < n:
            b = str(rng.choice([s for s in spk if s != a]))
            nd = int(rng.integers(1, 3))
            dp = [files[b][j] for j in rng.choice(len(files[b]), size=nd, replace=False)]
            at = int(rng.integers(0, k - nd + 1))
            sp = digit_sequence(host, [take(p) for p in dp], 8000, at, crossfade_ms=cf,
                                params={"host": a, "donor": b, "files": [p.name for p in hp],
                                        "donor_files": [p.name for p in dp]})
            out.append((f"fsdd_{i:03d}_{a}_{b}", sp))
        else:
            sp = digit_sequence(host, [], 8000, 0, crossfade_ms=cf,
                                params={"host": a, "files": [p.name for p in hp]})
            out.append((f"fsdd_{i:03d}_{a}_same", sp))
    return out


def espnet_real_files(root: Path) -> list[Path]:
    """The REAL halves of ``espnet-tts-real-vs-synth`` (LJSpeech and LibriTTS ground truth)."""
    return sorted(Path(root).glob("*/real/*.wav"))


def espnet_set(root: Path, fsdd_root: Path | None = None, n: int = 60, seed: int = 0,
               fsdd_speakers=EVAL_SPEAKERS, stems=ESPNET_EVAL) -> list[tuple[str, AudioSplice]]:
    """``n`` splices on the real LJSpeech / LibriTTS recordings named in ``stems`` (hosts and
    donors both): a 0.7-2 s piece of another of them (other corpus, other LibriTTS speaker, or
    the same LJSpeech speaker and room) or 2-3 FSDD digits of ``fsdd_speakers`` (8 kHz, so a
    band-limited insert) inserted at a pause or appended."""
    rng = np.random.default_rng(seed)
    real = [p for p in espnet_real_files(root) if stems is None or p.stem in stems]
    if len(real) < 2:
        raise ValueError(f"{root}: no */real/*.wav recordings")
    audio = {p: read_mono(p) for p in real}
    fs = fsdd_files(fsdd_root, fsdd_speakers) if fsdd_root else {}
    fs_all = [p for v in fs.values() for p in v]
    out = []
    for i in range(n):
        hp = real[int(rng.integers(len(real)))]
        host, sr = audio[hp]
        corpus = hp.parent.parent.name
        donors = [p for p in real if p != hp]
        src = str(rng.choice(["other", "other", "fsdd"] if fs_all else ["other"]))
        if src == "fsdd":
            ps = [fs_all[j] for j in rng.choice(len(fs_all), size=int(rng.integers(2, 4)),
                                               replace=False)]
            d = np.concatenate([read_mono(p, 8000)[0] for p in ps])
            dsr, dname = 8000, "+".join(p.stem for p in ps)
            relation = "fsdd_8k"
        else:
            dp = donors[int(rng.integers(len(donors)))]
            dx, dsr = audio[dp]
            d = piece(dx, dsr, min(float(rng.uniform(0.7, 2.0)), 0.6 * len(host) / sr), rng)
            dname = dp.stem
            same = (corpus == "ljspeech" and dp.parent.parent.name == "ljspeech") or \
                (corpus == "libritts" and dp.stem.split("_")[0] == hp.stem.split("_")[0])
            relation = "same_speaker_room" if same else "other_speaker"
        cf = float(rng.choice([0.0, 5.0, 20.0]))
        meta = {"host": hp.stem, "corpus": corpus, "donor": dname, "relation": relation}
        total = len(host) / sr
        if rng.uniform() < 0.7 and total > 1.5:
            at = quiet_times(host, sr, 0.5, total - 0.5, rng)[0]
            sp = insert(host, d, sr, at, crossfade_ms=cf, donor_rate=dsr, params=meta)
        else:
            sp = append(host, d, sr, crossfade_ms=cf, donor_rate=dsr, params=meta)
        out.append((f"espnet_{i:03d}_{corpus}_{relation}", sp))
    return out
