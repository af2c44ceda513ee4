"""Hostile and broken inputs: one clear line each, others still analysed, bounded memory."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import jpeg_size_bomb, png_bomb, png_deflate_bomb, save, smooth_image

VERISCOPE = [sys.executable, "-m", "veriscope.cli"]


def run_cli(*args, cwd=None, timeout=120):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    return subprocess.run([*VERISCOPE, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


@pytest.fixture
def hostile(tmp_path):
    good = save(smooth_image(80, 96), tmp_path / "good.png")
    full = (tmp_path / "full.jpg")
    save(smooth_image(200, 240), full, quality=90)
    files = {
        "empty": tmp_path / "empty.jpg",
        "truncated_jpeg": tmp_path / "truncated.jpg",
        "truncated_png": tmp_path / "truncated.png",
        "text_as_jpg": tmp_path / "notes.jpg",
        "unsupported": tmp_path / "data.bin",
        "bomb_png": png_bomb(tmp_path / "bomb.png"),
        "bomb_jpeg": jpeg_size_bomb(tmp_path / "bomb.jpg"),
        "directory": tmp_path / "adir",
        "missing": tmp_path / "missing.png",
    }
    files["empty"].write_bytes(b"")
    files["truncated_jpeg"].write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    files["truncated_png"].write_bytes(good.read_bytes()[:200])
    files["text_as_jpg"].write_text("this is not a picture\n")
    files["unsupported"].write_bytes(bytes(range(256)) * 4)
    files["directory"].mkdir()
    return good, files


def test_each_bad_input_gets_one_clear_line_and_others_are_analysed(hostile, tmp_path):
    good, files = hostile
    paths = [files["empty"], good, *[p for k, p in files.items() if k != "empty"]]
    r = run_cli("analyze", *paths, "--format", "json")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    reports = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert [rep["media"]["name"] for rep in reports] == ["good.png"]
    err_lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(err_lines) == len(files), r.stderr
    expect = {
        "empty": "empty", "truncated_jpeg": "truncated", "truncated_png": "truncated",
        "text_as_jpg": "unsupported", "unsupported": "unsupported", "bomb_png": "decompression bomb",
        "bomb_jpeg": "decompression bomb", "directory": "directory", "missing": "no such file",
    }
    for key, word in expect.items():
        line = next((ln for ln in err_lines if str(files[key]) in ln), None)
        assert line is not None, f"no error line names {files[key]}"
        assert word in line, line


def test_wrong_extension_is_analysed_with_a_warning(tmp_path):
    p = save(smooth_image(), tmp_path / "really_a_png.jpg", format="PNG")
    r = run_cli("analyze", p, "--format", "json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["media"]["format"] == "png"
    assert any("does not match its content" in w for w in rep["media"]["warnings"])


def test_decompression_bomb_memory_stays_bounded(tmp_path):
    """A 12000x12000 PNG that really inflates to 432 MB is refused before decoding.

    The child reports its own peak (VmHWM of its address space), which, unlike
    ru_maxrss, does not include memory inherited from the pytest process.
    """
    bomb = png_deflate_bomb(tmp_path / "deflate_bomb.png")
    assert bomb.stat().st_size < 3_000_000
    code = ("import atexit, sys\n"
            "def peak():\n"
            "    s = open('/proc/self/status').read()\n"
            "    print('VMHWM_KB', s.split('VmHWM:')[1].split()[0], file=sys.stderr)\n"
            "atexit.register(peak)\n"
            "from veriscope.cli import main\n"
            "main()\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, "-c", code, "analyze", str(bomb), "--format", "json"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 1 and "decompression bomb" in r.stderr, r.stderr
    peak_kb = int(r.stderr.split("VMHWM_KB")[1].split()[0])
    assert peak_kb < 400 * 1024, f"peak RSS {peak_kb / 1024:.0f} MiB"


def test_unknown_detector_gets_did_you_mean(tmp_path):
    p = save(smooth_image(), tmp_path / "a.png")
    r = run_cli("analyze", p, "--detectors", "metdata")
    assert r.returncode == 2
    assert "did you mean 'metadata'" in r.stderr and "Traceback" not in r.stderr


def test_out_dir_layout_and_name_collisions(tmp_path):
    a = tmp_path / "x" / "same.png"
    b = tmp_path / "y" / "same.png"
    a.parent.mkdir()
    b.parent.mkdir()
    save(smooth_image(seed=1), a)
    save(smooth_image(seed=2), b)
    out = tmp_path / "out"
    r = run_cli("analyze", a, b, "--out", out)
    assert r.returncode == 0, r.stderr
    for d in ("same.png", "same.png-2"):
        rep = json.loads((out / d / "report.json").read_text())
        assert rep["schema"] == "veriscope.report/1"
        assert (out / d / "report.html").stat().st_size > 1000
    assert "report.html" in r.stdout


def test_schema_command_prints_the_schema():
    r = run_cli("schema")
    assert r.returncode == 0
    assert json.loads(r.stdout)["properties"]["schema"]["const"] == "veriscope.report/1"


def test_detectors_command_lists_builtins():
    r = run_cli("detectors", "--json")
    assert r.returncode == 0, r.stderr
    names = {d["name"] for d in json.loads(r.stdout)}
    assert {"metadata", "c2pa", "watermark", "jpeg_tables"} <= names


def test_python_api(tmp_path):
    import veriscope

    rep = veriscope.analyze(save(smooth_image(), tmp_path / "a.png"))
    assert rep.verdict.label in ("no_evidence", "inconclusive", "manipulated", "synthetic")
    assert Path(rep.media.path).name == "a.png"


def test_audio_and_video_are_probed_and_truncated_ones_refused(shared, tmp_path):
    vids = sorted(shared("icpr2020dfdc-video-samples").rglob("*.mp4"))
    wavs = sorted(shared("fsdd-spoken-digits-subset").rglob("*.wav"))
    from veriscope.core.errors import MediaError
    from veriscope.core.media import Media

    v = Media.open(vids[0])
    assert v.kind == "video" and v.facts["duration"] > 1 and v.width > 0
    a = Media.open(wavs[0])
    assert a.kind == "audio" and a.facts["streams"][0]["sample_rate"] > 0
    x, sr = a.audio()
    assert x.ndim == 2 and x.dtype.name == "float32" and abs(x.shape[0] / sr - a.facts["duration"]) < 0.05
    y, vsr = v.audio(mono=True, max_seconds=2.0)
    assert y.shape == (int(2.0 * vsr), 1) and 0 < abs(y).max() <= 1.0
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(vids[0].read_bytes()[:4000])
    with pytest.raises(MediaError, match="cut.mp4"):
        Media.open(cut)
    r = run_cli("analyze", vids[0], "--format", "json", "--max-video-seconds", "2")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["media"]["kind"] == "video" and rep["verdict"]["summary"]
