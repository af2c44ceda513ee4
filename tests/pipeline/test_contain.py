"""Containment (veriscope.pipeline.contain): a detector that hangs in native code, crashes the
process or runs away with memory costs its own evidence; a decoder that crashes costs its input
one error line; the batch goes on, outputs stay in input order."""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import save, smooth_image

from veriscope.core import registry
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector
from veriscope.pipeline.batch import Job, analyze_many
from veriscope.pipeline.contain import ContainedRunner, Limits, parse_size, rss_bytes, run_contained


class HangsHoldingTheGIL(Detector):
    name, version, kinds = "t_gil_hang", "1", ("image",)

    def analyze(self, media, ctx):
        ctypes.PyDLL(None).sleep(600)  # a C call that keeps the GIL: no thread timeout can fire


class Segfaults(Detector):
    name, version, kinds = "t_segv", "1", ("image",)

    def analyze(self, media, ctx):
        os.kill(os.getpid(), signal.SIGSEGV)


class ExitsTheProcess(Detector):
    name, version, kinds = "t_exit", "1", ("image",)

    def analyze(self, media, ctx):
        os._exit(3)  # as a native library calling exit() would


class EatsMemory(Detector):
    name, version, kinds = "t_hog", "1", ("image",)

    def analyze(self, media, ctx):
        keep = []
        for _ in range(100):  # up to 5 GB, 50 MB at a time: the limit must stop it first
            keep.append(np.ones(50 << 20, np.uint8))
            time.sleep(0.005)
        return self.evidence(score=0.0)


class SleepsPolitely(Detector):
    name, version, kinds = "t_sleep", "1", ("image",)

    def analyze(self, media, ctx):
        time.sleep(600)  # releases the GIL: the runner's own time limit fires


def _report(outcome):
    assert outcome.ok, outcome.error
    return json.loads(outcome.json)


def _by_name(rep):
    return {e["name"]: e for e in rep["evidence"]}


@pytest.fixture
def picture(tmp_path):
    return save(smooth_image(160, 200), tmp_path / "pic.png")


def test_runaway_detectors_cost_their_own_evidence_only(picture, tmp_path):
    noise, metadata = registry.load("noise"), registry.load("metadata")
    classes = [metadata, HangsHoldingTheGIL, Segfaults, ExitsTheProcess, EatsMemory, noise]
    base = rss_bytes(os.getpid())
    limits = Limits(timeout_s=2, memory_bytes=base + (1200 << 20), grace_s=1)
    runner = ContainedRunner(classes, Context(timeout_s=2), workers=1, limits=limits)
    out = list(runner.run([Job(picture, tmp_path / "out", want_json=True)]))
    rep = _report(out[0])
    ev = _by_name(rep)
    assert [e["name"] for e in rep["evidence"]] == [c.name for c in classes]
    assert ev["t_gil_hang"]["error"].startswith("stopped after")
    assert "crashed (SIGSEGV)" in ev["t_segv"]["error"]
    assert "over the memory limit" in ev["t_hog"]["error"]
    assert ev["t_exit"]["error"].startswith("ended its process (exit status 3)")
    for name in ("t_gil_hang", "t_segv", "t_exit", "t_hog"):
        assert ev[name]["data"]["contained"] is True
        assert "the other detectors ran without it" in ev[name]["error"]
    for name in ("metadata", "noise"):  # the others ran, for real
        assert ev[name]["error"] is None and ev[name]["applicable"]
    assert ev["noise"]["score"] is not None
    # 4 of 6 failed: the verdict cannot be "no evidence" (docs/fusion.md rule 6)
    assert rep["verdict"]["label"] == "inconclusive"
    assert set(rep["verdict"]["failed"]) >= {"t_gil_hang", "t_segv", "t_exit", "t_hog"}
    assert runner.stats["retries"] == 4 and runner.stats["crashed"] == 2
    assert runner.stats["stopped_time"] == 1 and runner.stats["stopped_memory"] == 1
    # the report folder is the last try's: no map of a stopped try left behind
    assert json.loads((tmp_path / "out" / "report.json").read_text())["evidence"][1]["error"]


def test_a_timed_out_thread_retires_its_worker(picture, tmp_path):
    classes = [SleepsPolitely, registry.load("noise")]
    runner = ContainedRunner(classes, Context(timeout_s=1), workers=1,
                             limits=Limits(timeout_s=1, grace_s=30))
    jobs = [Job(picture, None, want_json=True), Job(picture, None, want_json=True)]
    reps = [_report(o) for o in runner.run(jobs)]
    for rep in reps:  # the runner's own limit fired (not the supervisor's): one try each
        assert _by_name(rep)["t_sleep"]["error"] == "timed out after 1 s"
        assert _by_name(rep)["noise"]["score"] is not None
    assert runner.stats["retries"] == 0
    assert runner.stats["workers_started"] == 3  # a fresh worker after each abandoned thread


def test_a_decoder_crash_is_one_error_line_and_the_batch_goes_on(tmp_path, monkeypatch):
    good = [save(smooth_image(96, 120, seed=i), tmp_path / f"good{i}.png") for i in range(3)]
    bad = save(smooth_image(96, 120), tmp_path / "poison.png")
    real = Media.decode

    def decode(self):  # inherited by the forked workers
        if self.path.name == "poison.png":
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(self)

    monkeypatch.setattr(Media, "decode", decode)
    paths = [good[0], bad, good[1], tmp_path / "missing.png", good[2]]
    jobs = [Job(p, None, want_json=True) for p in paths]
    out = list(run_contained(jobs, [registry.load("noise")], Context(timeout_s=30), workers=2,
                             limits=Limits(timeout_s=30)))
    assert [o.path for o in out] == paths
    assert [o.ok for o in out] == [True, False, True, False, True]
    assert out[1].error == f"{bad}: analysis crashed (SIGSEGV) while decoding it"
    assert "no such file" in out[3].error
    assert not out[1].internal


def test_contained_and_in_process_reports_agree(picture):
    classes = [registry.load(n) for n in ("metadata", "noise", "jpeg_grid", "cfa")]
    ctx = Context(timeout_s=60)
    a = list(run_contained([Job(picture, None, want_json=True)], classes, ctx))
    b = list(analyze_many([Job(picture, None, want_json=True)], classes, ctx))
    ra, rb = _report(a[0]), _report(b[0])
    for r in (ra, rb):
        r.pop("elapsed_s", None)
        for e in r["evidence"]:
            e.pop("elapsed_s", None)
    assert ra["verdict"] == rb["verdict"] and ra["evidence"] == rb["evidence"]


def test_parse_size():
    assert parse_size("512M") == 512 << 20
    assert parse_size("2G") == 2 << 30
    assert parse_size("1.5GiB") == int(1.5 * (1 << 30))
    assert parse_size("1000") == 1000
    for bad in ("", "lots", "-1G", "0"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_cli_rejects_a_bad_memory_size_and_analyses_in_process(picture, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "veriscope.cli", "analyze", str(picture), "--detectors", "noise"]
    r = subprocess.run([*cmd, "--max-memory", "lots"], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "--max-memory 'lots'" in r.stderr
    for flag in ("--in-process", "--max-memory=3G"):
        r = subprocess.run([*cmd, flag, "--format", "json"], capture_output=True, text=True,
                           env=env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["evidence"][0]["name"] == "noise"


def test_the_html_says_which_checks_did_not_run(picture, tmp_path):
    classes = [registry.load("metadata"), Segfaults, registry.load("noise")]
    out = list(run_contained([Job(picture, tmp_path / "r")], classes, Context(timeout_s=30),
                             limits=Limits(timeout_s=30)))
    assert out[0].ok
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "Partly analysed: 1 of 3 applicable checks did not run to the end." in page
    assert "<b>t_segv</b>: crashed (SIGSEGV); contained" in page


def test_workers_start_after_this_process_used_opencv_threads(tmp_path):
    """Two workers (OpenCV's threads divided among them) forked from a process whose OpenCV
    thread pool is running: a child that set its own thread count waited forever on pool
    threads the fork did not copy (seen in CI). The count is set here, around the fork."""
    import cv2

    a = np.random.default_rng(0).random((2000, 2000)).astype(np.float32)
    for _ in range(3):  # start OpenCV's thread pool in this process
        cv2.GaussianBlur(a, (31, 31), 5)
    threads = cv2.getNumThreads()
    pics = [save(smooth_image(96, 120, seed=i), tmp_path / f"p{i}.png") for i in range(3)]
    out = list(run_contained([Job(p, None) for p in pics], [registry.load("noise")],
                             Context(timeout_s=5), workers=2, limits=Limits(timeout_s=5, grace_s=5)))
    assert [o.error for o in out] == [None, None, None]
    assert cv2.getNumThreads() == threads  # this process keeps its own setting
