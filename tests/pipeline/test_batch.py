"""`veriscope analyze --workers N`: the same reports and the same output order as one worker."""

import json
import os
import subprocess
import sys

import pytest
from helpers import save, smooth_image, strip_timings

from veriscope.pipeline import batch

DETS = "noise,metadata,jpeg_grid,copy_move"


def run_cli(*args, timeout=300):
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "veriscope.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def inputs(tmp_path):
    files = []
    for i in range(4):
        img = smooth_image(120, 160, seed=i)
        if i == 2:  # a pasted block: something for copy_move to find
            img[10:40, 10:40] = img[70:100, 100:130]
        files.append(save(img, tmp_path / f"in{i}.{'jpg' if i % 2 else 'png'}", quality=90))
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    files.insert(1, bad)
    # the same file name twice: folders name and name-2, in input order
    (tmp_path / "sub").mkdir()
    files.append(save(smooth_image(64, 64, seed=9), tmp_path / "sub" / "in0.png"))
    return files


def test_two_workers_write_the_same_reports_in_the_same_order(tmp_path, inputs):
    outs = {}
    for n in (1, 2):
        out = tmp_path / f"out{n}"
        r = run_cli("analyze", *inputs, "--detectors", DETS, "--out", out, "--no-html",
                    "--workers", n)
        assert r.returncode == 1, r.stderr  # the broken file fails, the others do not
        assert r.stderr.count("error:") == 1 and "broken.jpg" in r.stderr
        outs[n] = out
    names = sorted(p.name for p in outs[1].iterdir())
    assert names == ["in0.png", "in0.png-2", "in1.jpg", "in2.png", "in3.jpg"]
    assert sorted(p.name for p in outs[2].iterdir()) == names
    for name in names:
        a = json.loads((outs[1] / name / "report.json").read_text())
        b = json.loads((outs[2] / name / "report.json").read_text())
        assert strip_timings(a) == strip_timings(b), name
        for png in (outs[1] / name).rglob("*.png"):
            assert png.read_bytes() == (outs[2] / name / png.relative_to(outs[1] / name)).read_bytes()
    in2 = json.loads((outs[2] / "in2.png" / "report.json").read_text())
    assert in2["media"]["name"] == "in2.png"


def test_json_lines_keep_the_input_order(inputs):
    good = [p for p in inputs if p.name != "broken.jpg"]
    r = run_cli("analyze", *good, "--detectors", "noise,metadata", "--format", "json",
                "--workers", 3)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert [d["media"]["path"] for d in lines] == [str(p) for p in good]


def test_default_workers_are_capped_by_cores_memory_and_inputs(monkeypatch):
    monkeypatch.setattr(batch, "cpu_count", lambda: 8)
    monkeypatch.setattr(batch, "available_memory", lambda: 64 << 30)
    assert batch.default_workers(100) == 8
    assert batch.default_workers(3) == 3
    monkeypatch.setattr(batch, "available_memory", lambda: 5 << 30)  # room for two workers
    assert batch.default_workers(100) == 2
    monkeypatch.setattr(batch, "available_memory", lambda: 1 << 30)
    assert batch.default_workers(100) == 1
    monkeypatch.setattr(batch, "available_memory", lambda: None)  # unknown: cores only
    assert batch.default_workers(100) == 8
    assert batch.default_workers(0) == 1


def test_a_worker_that_dies_becomes_an_error_not_a_hang(tmp_path, monkeypatch):
    from veriscope.core import registry
    from veriscope.detectors.base import Context

    files = [save(smooth_image(48, 48, seed=i), tmp_path / f"x{i}.png") for i in range(3)]
    jobs = [batch.Job(p) for p in files]
    monkeypatch.setattr(batch, "_run_in_worker", _die)  # pickled by name: the workers see it too
    outs = list(batch.analyze_many(jobs, [registry.load("noise")], Context(), workers=2))
    assert [o.path for o in outs] == files
    assert all(not o.ok and "worker process died" in o.error for o in outs)


def _die(job):
    os._exit(3)
