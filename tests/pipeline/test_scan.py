"""`veriscope scan DIR --out OUT`: one report folder per file at its relative path, a resumable
index keyed by content, summary.csv, the same reports with 1, 2 workers or Dask."""

import csv
import json
import os
import shutil

import pytest
from click.testing import CliRunner
from helpers import save, smooth_image, strip_timings

from veriscope.cli import cli
from veriscope.pipeline import batch
from veriscope.pipeline import scan as scan_mod

DETS = "metadata,jpeg_tables"
COLUMNS = ["path", "sha256", "size", "status", "label", "score", "band", "basis", "report_folder",
           "error"]


def run(*args):
    """``veriscope scan`` in this process; one worker, analysing in this process unless told
    (so `calls` sees every file)."""
    args = [str(a) for a in args]
    if "--workers" not in args:
        args += ["--workers", "1", "--in-process"]
    return CliRunner().invoke(cli, ["scan", *args])


def summary(out):
    with open(out / "summary.csv", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == COLUMNS
    return {r["path"]: r for r in rows}


@pytest.fixture
def calls(monkeypatch):
    """Paths analysed in this process (in-process runs only)."""
    seen = []
    real = batch.analyze_one

    def counting(job, *a, **kw):
        seen.append(job.path.name)
        return real(job, *a, **kw)

    monkeypatch.setattr(batch, "analyze_one", counting)
    return seen


@pytest.fixture
def tree(tmp_path):
    """DIR with the same name in two folders, a copy, a broken file, a text file, hidden files."""
    d = tmp_path / "in"
    (d / "a").mkdir(parents=True)
    (d / "b").mkdir()
    (d / ".cache").mkdir()
    save(smooth_image(48, 64, seed=0), d / "a" / "x.jpg", quality=90)
    save(smooth_image(48, 64, seed=1), d / "b" / "x.jpg", quality=90)
    save(smooth_image(40, 40, seed=2), d / "c.png")
    shutil.copy(d / "c.png", d / "b" / "copy-of-c.png")
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    (d / "notes.txt").write_text("not media")
    save(smooth_image(16, 16), d / ".hidden.png")
    save(smooth_image(16, 16), d / ".cache" / "thumb.png")
    return d


def test_first_run_writes_folders_per_relative_path_and_a_summary(tree, tmp_path, calls):
    out = tmp_path / "out"
    r = run(tree, "--out", out, "--detectors", DETS)
    assert r.exit_code == 1, r.output  # broken.jpg failed, the run went on
    assert "Traceback" not in r.output
    assert r.stderr.count("error:") == 1 and "broken.jpg" in r.stderr
    assert r.stdout.strip().endswith(f"summary: {out / 'summary.csv'}")
    assert "3 analysed, 1 skipped, 1 failed (1 other files left out)" in r.stdout
    for rel in ("a/x.jpg", "b/x.jpg", "b/copy-of-c.png"):
        assert (out / rel / "report.json").is_file() and (out / rel / "report.html").is_file()
    assert not (out / "c.png").exists() and not (out / "broken.jpg").exists()
    assert not (out / ".scan-tmp").exists()
    a = json.loads((out / "a" / "x.jpg" / "report.json").read_text())
    b = json.loads((out / "b" / "x.jpg" / "report.json").read_text())
    assert a["media"]["sha256"] != b["media"]["sha256"]
    assert sorted(calls) == ["broken.jpg", "copy-of-c.png", "x.jpg", "x.jpg"]

    rows = summary(out)
    assert list(rows) == ["a/x.jpg", "b/copy-of-c.png", "b/x.jpg", "broken.jpg", "c.png"]
    assert rows["a/x.jpg"]["status"] == "done" and rows["a/x.jpg"]["report_folder"] == "a/x.jpg"
    assert rows["a/x.jpg"]["sha256"] == a["media"]["sha256"]
    assert int(rows["a/x.jpg"]["size"]) == (tree / "a" / "x.jpg").stat().st_size
    assert rows["a/x.jpg"]["label"] == a["verdict"]["label"]
    assert rows["a/x.jpg"]["band"] == a["verdict"]["band"]
    assert rows["a/x.jpg"]["basis"] == a["verdict"]["basis"]
    assert float(rows["a/x.jpg"]["score"]) == a["verdict"]["score"]
    # the same content twice in one run: analysed once (first in path order)
    assert rows["c.png"]["status"] == "skipped-duplicate"
    assert rows["c.png"]["report_folder"] == "b/copy-of-c.png"
    bad = rows["broken.jpg"]
    assert bad["status"] == "failed" and "broken.jpg" in bad["error"] and not bad["report_folder"]
    assert all(not rows[p]["error"] for p in rows if p != "broken.jpg")


def test_second_run_skips_done_content_and_retries_failures(tree, tmp_path, calls):
    out = tmp_path / "out"
    run(tree, "--out", out, "--detectors", DETS)
    first = summary(out)
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("report.json")}
    calls.clear()
    r = run(tree, "--out", out, "--detectors", DETS)
    assert r.exit_code == 1
    assert "0 analysed, 4 skipped, 1 failed" in r.stdout
    assert calls == ["broken.jpg"]  # only the failure is tried again
    assert {p: p.stat().st_mtime_ns for p in out.rglob("report.json")} == stamp
    again = summary(out)
    assert {p: r["status"] for p, r in again.items()} == {p: r["status"] for p, r in first.items()}

    (tree / "broken.jpg").unlink()  # fixed by deletion: a clean run exits 0
    r = run(tree, "--out", out, "--detectors", DETS)
    assert r.exit_code == 0, r.output
    assert "broken.jpg" not in summary(out)


def test_moved_renamed_and_added_files(tree, tmp_path, calls):
    out = tmp_path / "out"
    (tree / "broken.jpg").unlink()
    assert run(tree, "--out", out, "--detectors", DETS).exit_code == 0
    (tree / "d").mkdir()
    os.rename(tree / "a" / "x.jpg", tree / "d" / "renamed.jpg")
    save(smooth_image(48, 64, seed=5), tree / "a" / "new.jpg", quality=80)
    calls.clear()
    r = run(tree, "--out", out, "--detectors", DETS)
    assert r.exit_code == 0, r.output
    assert calls == ["new.jpg"]
    assert "1 analysed, 4 skipped, 0 failed" in r.stdout
    rows = summary(out)
    assert rows["d/renamed.jpg"]["status"] == "skipped-duplicate"
    assert rows["d/renamed.jpg"]["report_folder"] == "a/x.jpg"  # the earlier folder
    assert rows["a/new.jpg"]["status"] == "done"
    assert (out / "a" / "new.jpg" / "report.json").is_file()
    assert "a/x.jpg" not in rows  # the summary lists this DIR as it is now
    index = [json.loads(line) for line in (out / "scan-index.jsonl").read_text().splitlines()]
    dup = [e for e in index if e.get("status") == "skipped-duplicate"]
    assert {(e["path"], e["duplicate_of"]) for e in dup} == {("c.png", "b/copy-of-c.png"),
                                                            ("d/renamed.jpg", "a/x.jpg")}
    # a third run records nothing new
    n = len(index)
    run(tree, "--out", out, "--detectors", DETS)
    assert len((out / "scan-index.jsonl").read_text().splitlines()) == n


def test_a_file_changed_in_place_gets_a_new_folder(tmp_path, calls):
    d, out = tmp_path / "in", tmp_path / "out"
    d.mkdir()
    save(smooth_image(32, 32, seed=1), d / "p.png")
    run(d, "--out", out, "--detectors", DETS)
    save(smooth_image(32, 32, seed=2), d / "p.png")
    r = run(d, "--out", out, "--detectors", DETS)
    assert r.exit_code == 0 and "1 analysed" in r.stdout
    row = summary(out)["p.png"]
    assert row["status"] == "done" and row["report_folder"] == "p.png-2"
    rep = json.loads((out / "p.png-2" / "report.json").read_text())
    assert rep["media"]["sha256"] == row["sha256"]


def test_unsafe_and_colliding_names(tmp_path):
    d, out = tmp_path / "in", tmp_path / "out"
    d.mkdir()
    save(smooth_image(24, 24, seed=1), d / "a:b?.png")
    save(smooth_image(24, 24, seed=2), d / "a_b_.png")
    save(smooth_image(24, 24, seed=3), d / "summary.csv", format="PNG")  # under a reserved name
    r = run(d, "--out", out, "--detectors", DETS)
    assert "Traceback" not in r.output
    rows = summary(out)
    folders = {p: row["report_folder"] for p, row in rows.items()}
    assert folders["a:b?.png"] == "a_b_.png" and folders["a_b_.png"] == "a_b_.png-2"
    assert folders["summary.csv"] == "summary.csv-2"
    assert (out / "summary.csv").is_file()
    r = run(d, "--out", out, "--detectors", DETS)
    assert "0 analysed, 3 skipped" in r.stdout
    assert scan_mod.safe_name("x" * 300 + ".jpg").endswith(".jpg")
    assert len(scan_mod.safe_name("é" * 300).encode()) <= 200
    assert scan_mod.safe_name("CON.jpg") == "_CON.jpg"
    assert scan_mod.safe_name("caf\udce9.png") == "caf_.png"  # a name that is not UTF-8


def test_index_round_trips_names_that_are_not_utf8(tmp_path):
    name = os.fsdecode(b"caf\xe9/x.png")
    idx = scan_mod.Index(tmp_path / "i.jsonl")
    idx.load()
    idx.append({"sha256": "ab", "path": name, "status": "done", "folder": "caf_/x.png"})
    idx.close()
    again = scan_mod.Index(tmp_path / "i.jsonl")
    again.load()
    again.close()
    assert again.by_sha["ab"]["path"] == name and again.by_path[name]["folder"] == "caf_/x.png"


def test_interrupted_run_recovers(tree, tmp_path, calls):
    out = tmp_path / "out"
    (tree / "broken.jpg").unlink()
    run(tree, "--out", out, "--detectors", DETS)
    # what a kill leaves: a half-written folder, a complete folder whose index line was never
    # written, a torn last line
    lines = (out / "scan-index.jsonl").read_text().splitlines(keepends=True)
    kept = [x for x in lines if '"path": "b/x.jpg"' not in x]
    assert len(kept) == len(lines) - 1
    (out / "scan-index.jsonl").write_text("".join(kept) + '{"sha256": "ab12", "pa')
    (out / ".scan-tmp" / "deadbeef").mkdir(parents=True)
    (out / ".scan-tmp" / "deadbeef" / "report.json").write_text("{")
    stamp = (out / "b" / "x.jpg" / "report.json").stat().st_mtime_ns
    calls.clear()
    r = run(tree, "--out", out, "--detectors", DETS)
    assert r.exit_code == 0, r.output
    assert calls == []  # the complete folder is adopted (its report.json names the same SHA-256)
    assert (out / "b" / "x.jpg" / "report.json").stat().st_mtime_ns == stamp
    assert not (out / ".scan-tmp").exists()
    text = (out / "scan-index.jsonl").read_text()
    assert '"pa' not in text.replace('"path"', "")  # the torn line is gone, later lines whole
    assert all(json.loads(x) for x in text.splitlines())
    assert summary(out)["b/x.jpg"]["status"] == "done"

    # a folder that is not a complete report of this content is replaced, not adopted
    lines = (out / "scan-index.jsonl").read_text().splitlines(keepends=True)
    (out / "scan-index.jsonl").write_text("".join(x for x in lines if '"path": "a/x.jpg"' not in x))
    rep = json.loads((out / "a" / "x.jpg" / "report.json").read_text())
    rep["media"]["sha256"] = "0" * 64
    (out / "a" / "x.jpg" / "report.json").write_text(json.dumps(rep))
    calls.clear()
    assert run(tree, "--out", out, "--detectors", DETS).exit_code == 0
    assert calls == ["x.jpg"]
    rep = json.loads((out / "a" / "x.jpg" / "report.json").read_text())
    assert rep["media"]["sha256"] == summary(out)["a/x.jpg"]["sha256"]


def test_each_outcome_is_indexed_before_the_next_file(tree, tmp_path, monkeypatch):
    """Each outcome is on disk (index line flushed) before the next file starts."""
    out = tmp_path / "out"
    seen = []
    real = scan_mod.scan_one

    def watching(task):
        seen.append(len((out / "scan-index.jsonl").read_text().splitlines()))
        return real(task)

    monkeypatch.setattr(scan_mod, "scan_one", watching)
    run(tree, "--out", out, "--detectors", DETS)
    assert seen == [1, 2, 3, 4]  # the header, then one more line before each file


def test_usage_errors_are_one_line(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    cases = [(tmp_path / "missing", tmp_path / "o", "no such folder"),
             (d, tmp_path / "o", "no media files found (empty folder)"),
             (d, d, "is the folder being scanned")]
    for root, out, msg in cases:
        r = run(root, "--out", out)
        assert r.exit_code == 2 and msg in r.stderr and "Traceback" not in r.output, r.output
    (d / "a.txt").write_text("x")
    r = run(d, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "no media files found (1 other files left out)" in r.stderr
    save(smooth_image(16, 16), d / "p.png")
    r = run(d, "--out", tmp_path / "o", "--detectors", "nope")
    assert r.exit_code == 2 and "unknown detector" in r.stderr
    r = run(d, "--out", d / "reports", "--detectors", DETS)  # OUT inside DIR: left out
    assert r.exit_code == 0 and "left out of the scan" in r.stderr
    r = run(d, "--out", d / "reports", "--detectors", DETS)
    assert "0 analysed, 1 skipped" in r.stdout and list(summary(d / "reports")) == ["p.png"]
    r = run(d / "reports", "--out", d)
    assert r.exit_code == 2 and "lies inside --out" in r.stderr
    r = run(d, "--out", tmp_path / "o", "--scheduler", "local")
    assert r.exit_code == 2 and "--scheduler needs --engine dask" in r.stderr


def _reports(out):
    return {p.relative_to(out).as_posix(): strip_timings(json.loads(p.read_text()))
            for p in sorted(out.rglob("report.json"))}


@pytest.fixture
def small_tree(tmp_path):
    d = tmp_path / "in"
    (d / "s").mkdir(parents=True)
    save(smooth_image(48, 64, seed=0), d / "a.jpg", quality=85)
    img = smooth_image(64, 64, seed=1)
    img[8:24, 8:24] = img[40:56, 40:56]
    save(img, d / "s" / "b.png")
    save(smooth_image(48, 48, seed=3), d / "s" / "c.jpg", quality=70)
    return d


def test_two_workers_write_the_same_reports(small_tree, tmp_path):
    outs = {}
    for n in (1, 2):
        outs[n] = tmp_path / f"out{n}"
        r = run(small_tree, "--out", outs[n], "--detectors", DETS + ",noise", "--workers", n)
        assert r.exit_code == 0, r.output
    assert _reports(outs[1]) == _reports(outs[2]) and len(_reports(outs[1])) == 3
    maps = sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*.png") if p.is_file())
    assert maps  # noise writes a map
    assert all((outs[1] / m).read_bytes() == (outs[2] / m).read_bytes() for m in maps)
    s1, s2 = summary(outs[1]), summary(outs[2])
    assert s1 == s2


def test_dask_engine_writes_the_same_reports(small_tree, tmp_path):
    pytest.importorskip("distributed")
    ref, out = tmp_path / "ref", tmp_path / "dask"
    assert run(small_tree, "--out", ref, "--detectors", DETS, "--workers", 1).exit_code == 0
    r = run(small_tree, "--out", out, "--detectors", DETS, "--engine", "dask",
            "--scheduler", "local", "--workers", 2)
    assert r.exit_code == 0, r.output
    assert _reports(ref) == _reports(out) and summary(ref) == summary(out)


def test_library_call_without_the_cli(small_tree, tmp_path):
    from veriscope.core import registry

    counts = scan_mod.scan(small_tree, tmp_path / "out", registry.select(DETS), html=False)
    assert (counts.analysed, counts.skipped, counts.failed) == (3, 0, 0)
    assert not list((tmp_path / "out").rglob("report.html"))


def test_a_second_scan_into_the_same_out_is_refused(small_tree, tmp_path):
    from veriscope.core import registry

    classes = registry.select(DETS)
    with scan_mod.Scan(small_tree, tmp_path / "out", classes):
        with pytest.raises(scan_mod.ScanError, match="another scan is writing there"):
            scan_mod.Scan(small_tree, tmp_path / "out", classes).__enter__()
    with scan_mod.Scan(small_tree, tmp_path / "out", classes):  # released on exit
        pass


def test_a_file_that_crashes_its_worker_fails_alone(tree, tmp_path, monkeypatch):
    """Contained (the default): a decoder crash on one file is one error line and one FAILED
    row; every other file gets its report."""
    import os
    import signal

    from veriscope.core.media import Media

    real = Media.decode

    def decode(self):  # inherited by the forked workers
        if self.path.name == "copy-of-c.png":
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(self)

    monkeypatch.setattr(Media, "decode", decode)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["scan", str(tree), "--out", str(out), "--detectors", DETS,
                                 "--workers", "2"])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert "copy-of-c.png: analysis crashed (SIGSEGV) while decoding it" in r.stderr
    assert (out / "a" / "x.jpg" / "report.json").is_file()
    assert (out / "b" / "x.jpg" / "report.json").is_file()
    assert summary(out)["b/copy-of-c.png"]["status"] == "failed"


def _post_tree(tmp_path):
    d = tmp_path / "posts"
    (d / "p").mkdir(parents=True)
    save(smooth_image(48, 64, seed=3), d / "p" / "photo.jpg", quality=90)
    save(smooth_image(48, 64, seed=4), d / "plain.jpg", quality=90)
    (d / "p" / "flood.post.json").write_text(json.dumps(
        {"image": "photo.jpg", "caption": "Floods in Paris, 3 June 2024"}))
    (d / "bad.post.json").write_text("{not json")
    (d / "outside.post.json").write_text(json.dumps(
        {"image": "../elsewhere.jpg", "caption": "Two men in Paris"}))
    save(smooth_image(16, 16, seed=5), tmp_path / "elsewhere.jpg")
    return d


def test_post_files_are_analysed_as_posts_and_their_picture_once(tmp_path, calls):
    pytest.importorskip("dateparser")
    d, out = _post_tree(tmp_path), tmp_path / "out"
    r = run(d, "--out", out, "--detectors", DETS)
    assert r.exit_code == 1, r.output  # the two broken posts fail, the rest is analysed
    assert sorted(calls) == ["flood.post.json", "plain.jpg"]  # photo.jpg not on its own
    rows = summary(out)
    assert rows["p/flood.post.json"]["status"] == "done"
    assert rows["p/photo.jpg"]["status"] == "in-post"
    assert rows["p/photo.jpg"]["report_folder"] == rows["p/flood.post.json"]["report_folder"]
    assert rows["plain.jpg"]["status"] == "done"
    assert rows["bad.post.json"]["status"] == "failed"
    assert "not a JSON post file" in rows["bad.post.json"]["error"]
    assert "outside the scanned folder" in rows["outside.post.json"]["error"]
    assert "Traceback" not in r.output
    rep = json.loads((out / rows["p/flood.post.json"]["report_folder"] / "report.json").read_text())
    assert rep["post"]["caption"] == "Floods in Paris, 3 June 2024"
    assert rep["media"]["path"].endswith("photo.jpg")
    # a second run analyses nothing; a changed picture makes the post a new content
    calls.clear()
    run(d, "--out", out, "--detectors", DETS)
    assert calls == []
    save(smooth_image(48, 64, seed=9), d / "p" / "photo.jpg", quality=90)
    run(d, "--out", out, "--detectors", DETS)
    assert calls == ["flood.post.json"]
