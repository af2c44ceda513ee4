"""Tests for the audio_facts detector (codec history, bandwidth, inserts, clipping, gaps, DC)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from veriscope.core.media import Media
from veriscope.detectors.audio import audio_facts as A
from veriscope.detectors.audio.audio_facts import AudioFactsDetector
from veriscope.detectors.base import Context
from veriscope.synth import audio_splices as S


def speech(seconds=6.0, rate=22050, seed=0, **kw):
    return S.toy_speech(seconds, rate, np.random.default_rng(seed), **kw)


def run(tmp_path, x, rate, name="a.wav", subtype="PCM_16"):
    p = S.write_wav(tmp_path / name, x, rate, subtype=subtype)
    return AudioFactsDetector().analyze(Media.open(p), Context())


def codes(ev):
    return {f.code for f in ev.findings}


def test_clean_recording_has_no_evidence(tmp_path):
    ev = run(tmp_path, speech(), 22050)
    assert ev.applicable and ev.score == 0.0 and ev.label == "no_evidence"
    assert not ev.segments
    assert ev.data["bandwidth"]["band_limited"] is False
    assert ev.data["reliability"]["level"] == "high"


def test_upsampled_file_is_a_low_fact(tmp_path):
    x8 = speech(rate=8000, seed=1, noise_db=-55)
    ev = run(tmp_path, S.resample(x8, 8000, 44100), 44100)
    assert "upsampled" in codes(ev)
    f = next(f for f in ev.findings if f.code == "upsampled")
    assert f.data["from_rate"] == 8000 and 3700 < f.data["edge_hz"] < 4700
    assert 0 < ev.score < 0.5 and ev.label == "no_evidence"


def _mp3_roundtrip(x, rate, bit_rate=128000):
    av = pytest.importorskip("av")
    try:
        av.codec.Codec("libmp3lame", "w")
    except Exception:
        pytest.skip("PyAV has no MP3 encoder here")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as c:
        st = c.add_stream("libmp3lame", rate=rate)
        st.bit_rate = bit_rate
        st.layout = "mono"
        fr = av.AudioFrame.from_ndarray((x * 32767).astype(np.int16)[None], format="s16",
                                        layout="mono")
        fr.sample_rate = rate
        for pkt in st.encode(fr):
            c.mux(pkt)
        for pkt in st.encode(None):
            c.mux(pkt)
    data = buf.getvalue()
    buf.seek(0)
    with av.open(buf) as c:
        y = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
    return y.astype(np.float32), data


def test_mp3_decoded_to_wav_shows_a_lossy_lowpass(tmp_path):
    x = speech(rate=44100, seed=2, noise_db=-50)  # white noise floor reaches Nyquist
    y, data = _mp3_roundtrip(x, 44100, 64000)  # LAME lowpass ~15 kHz at 64 kbit/s
    ev = run(tmp_path, y, 44100)
    assert "lossy_history" in codes(ev) or "upsampled" in codes(ev)
    assert ev.data["bandwidth"]["band_limited"] and ev.data["bandwidth"]["edge_hz"] < 19000
    assert ev.score < 0.5  # decoding an MP3 is innocent
    mp3 = tmp_path / "a.mp3"
    mp3.write_bytes(data)
    ev2 = AudioFactsDetector().analyze(Media.open(mp3), Context())
    assert "lossy_codec" in codes(ev2) and ev2.data["reliability"]["level"] == "medium"
    assert ev2.score < 0.5


def test_band_limited_insert_is_localized(tmp_path):
    rate = 22050
    host = speech(8.0, rate, seed=3, noise_db=-62)
    donor8 = speech(1.5, 8000, seed=4, noise_db=-62)
    sp = S.insert(host, donor8, rate, 3.0, donor_rate=8000)
    ev = run(tmp_path, sp.audio, rate)
    ins = [s for s in ev.segments if s.label == "band_limited_insert"]
    assert len(ins) == 1 and ev.score >= 0.5 and ev.label == "manipulated"
    (a, b), s = sp.segments[0], ins[0]
    inter = max(0.0, min(b, s.end) - max(a, s.start))
    assert inter / (max(b, s.end) - min(a, s.start)) > 0.5
    f = next(f for f in ev.findings if f.code == "band_limited_insert")
    assert f.data["edge_hz"] == 4000.0 and f.severity == "high"


def test_reverse_insert_full_band_into_upsampled_file(tmp_path):
    host = S.resample(speech(8.0, 8000, seed=5, noise_db=-60), 8000, 22050)
    donor = speech(1.5, 22050, seed=6, noise_db=-50)
    sp = S.insert(host, donor, 22050, 4.0)
    ev = run(tmp_path, sp.audio, 22050)
    assert "upsampled" in codes(ev)
    ins = [s for s in ev.segments if s.label == "band_limited_insert"]
    assert ins and ins[0].start < sp.segments[0][1] and ins[0].end > sp.segments[0][0]


def test_clipping_digital_silence_dc_and_loudness(tmp_path):
    rate = 16000
    x = speech(12.0, rate, seed=7, noise_db=-55)
    # clipping: a loud stretch hard-clipped at full scale
    x[int(1.0 * rate):int(2.0 * rate)] = np.clip(x[int(1.0 * rate):int(2.0 * rate)] * 40, -1, 1)
    # a 50 ms gap of exact zeros mid-file
    x[int(5.0 * rate):int(5.05 * rate)] = 0.0
    ev = run(tmp_path, x, rate)
    c = codes(ev)
    assert {"clipping", "digital_silence_gap"} <= c
    gap = [s for s in ev.segments if s.label == "digital_silence"]
    assert len(gap) == 1 and abs(gap[0].start - 5.0) < 0.01 and abs(gap[0].end - 5.05) < 0.01
    assert ev.score < 0.5  # both are common in innocent files

    y = speech(12.0, rate, seed=8, noise_db=-55, level_db=-26)
    y[int(7 * rate):] += 0.02  # DC step: the last part recorded through another input
    ev = run(tmp_path, y, rate, "b.wav")
    assert "dc_offset_step" in codes(ev) and ev.score >= 0.5 and ev.label == "manipulated"
    step = next(f for f in ev.findings if f.code == "dc_offset_step")
    assert abs(step.data["time_s"] - 7.0) < 0.5 and step.data["side"] == "after"
    assert "loudness_jump" not in codes(ev)

    z = speech(12.0, rate, seed=9, noise_db=-60, level_db=-32)
    z[int(6 * rate):] *= 5.0  # 14 dB louder from 6 s on
    ev = run(tmp_path, z, rate, "c.wav")
    assert "loudness_jump" in codes(ev) and "dc_offset_step" not in codes(ev)
    jump = ev.data["loudness_jumps"][0]
    assert abs(jump["time_s"] - 6.0) < 0.6 and jump["jump_db"] > 10
    assert ev.score < 0.5


def test_multichannel_dual_mono_and_silent_channel(tmp_path):
    x = speech(3.0, 16000, seed=9)
    ev = run(tmp_path, np.stack([x, x], 1), 16000)
    assert "dual_mono" in codes(ev) and ev.data["analysed_channels"] == 2
    ev = run(tmp_path, np.stack([x, np.zeros_like(x)], 1), 16000, "b.wav")
    assert "silent_channel" in codes(ev)


def test_edge_finder_and_cutoff_reading():
    rate = 32000
    f = np.linspace(0, rate / 2, 1025)
    spec = np.where(f < 8000, -30.0, -110.0) - f / 2000.0
    e = A.find_edge(spec, rate)
    assert abs(e["edge_hz"] - 8000) < 200 and e["drop_db"] > 60 and e["flat_above"]
    assert A.classify_cutoff(7950.0, 44100) == ("upsampled", 16000)
    assert A.classify_cutoff(16500.0, 44100)[0] == "lowpass"


# ------------------------------------------------------------------ bad input
def _wav(path, x, rate):
    import soundfile as sf

    sf.write(str(path), x, rate, subtype="PCM_16")
    return path


def test_bad_audio_never_crashes(tmp_path):
    from veriscope.core.errors import MediaError

    x = speech(1.0, 8000, seed=10)
    zero = _wav(tmp_path / "zero.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(MediaError, match=r"audio stream is empty \(0 samples\)"):
        Media.open(zero)  # refused at open (issue 21), no detector sees it
    cases = {
        "one.wav": (x[:1], 16000),
        "rate1.wav": (x[:100], 1),
        "rate384k.wav": (S.toy_speech(1.2, 384000, np.random.default_rng(1)), 384000),
    }
    out = {}
    for name, (sig, rate) in cases.items():
        out[name] = AudioFactsDetector().analyze(Media.open(_wav(tmp_path / name, sig, rate)),
                                                 Context())
    assert "too_short" in codes(out["one.wav"])
    assert "implausible_sample_rate" in codes(out["rate1.wav"])
    assert out["rate384k.wav"].data["sample_rate"] == 384000
    assert out["rate384k.wav"].score is not None and out["rate384k.wav"].score < 0.5
    for ev in out.values():
        ev.to_dict()  # JSON-ready

    full = _wav(tmp_path / "full.wav", speech(2.0, 8000, seed=11), 8000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:12000])
    ev = AudioFactsDetector().analyze(Media.open(cut), Context())
    assert "wav_truncated" in codes(ev) and ev.score < 0.5

    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 20)
    with pytest.raises(MediaError):
        Media.open(bad)  # a clear error before any detector runs


def test_corrupt_mp3_body_gives_a_finding(tmp_path):
    y, data = _mp3_roundtrip(speech(3.0, 16000, seed=12), 16000, 32000)
    b = bytearray(data)
    n = len(b)
    b[n // 3: 2 * n // 3] = np.random.default_rng(0).integers(0, 256, len(b[n // 3: 2 * n // 3]),
                                                               dtype=np.uint8).tobytes()
    p = tmp_path / "mid.mp3"
    p.write_bytes(bytes(b))
    ev = AudioFactsDetector().analyze(Media.open(p), Context())
    assert ev.error is None
    assert ("audio_undecodable" in codes(ev)) or ev.score is not None


def test_decode_cap_bounds_samples(tmp_path):
    m = Media.open(_wav(tmp_path / "hi.wav", np.zeros(1000, np.float32), 384000))
    assert A.decode_cap(m) == pytest.approx(A.MAX_SAMPLES / 384000)
    m = Media.open(_wav(tmp_path / "lo.wav", np.zeros(1000, np.float32), 8000))
    assert A.decode_cap(m) == A.MAX_SECONDS


# ------------------------------------------------------------------ shared data
def test_real_recordings_stay_below_threshold(shared):
    root = shared("espnet-tts-real-vs-synth")
    det = AudioFactsDetector()
    for p in S.espnet_real_files(root):
        ev = det.analyze(Media.open(p), Context())
        assert ev.score < 0.5, (p.name, [f.code for f in ev.findings])
    fsdd = sorted(shared("fsdd-spoken-digits-subset").rglob("*.wav"))[::50]
    for p in fsdd:
        assert det.analyze(Media.open(p), Context()).score < 0.5


def test_fsdd_digits_inserted_into_real_speech_are_found(shared, tmp_path):
    items = S.espnet_set(shared("espnet-tts-real-vs-synth"), shared("fsdd-spoken-digits-subset"),
                         n=24, seed=5)
    items = [(n, sp) for n, sp in items if sp.params["relation"] == "fsdd_8k"][:5]
    assert items
    hits = 0
    for name, sp in items:
        ev = run(tmp_path, sp.audio, sp.rate, f"{name}.wav")
        ins = [s for s in ev.segments if s.label == "band_limited_insert"]
        a, b = sp.segments[0]
        hits += any(min(b, s.end) - max(a, s.start) > 0.5 * (b - a) for s in ins)
    assert hits >= len(items) - 1
