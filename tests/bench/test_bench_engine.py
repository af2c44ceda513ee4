"""Execution engines give identical metrics; the cache follows detector versions and params;
perturbation sweeps land in results.json."""

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import save, smooth_image

from veriscope.bench import Benchmark
from veriscope.bench.datasets import Record
from veriscope.bench.runner import Runner
from veriscope.cli import cli
from veriscope.detectors.base import Detector
from veriscope.pipeline.engine import DaskEngine, LocalEngine, make_engine


class NoiseMapDet(Detector):
    """Test detector: local energy of the high-pass residual, a deterministic localizer."""

    name = "noise_map_test"
    version = "1"
    localizes = True

    def analyze(self, media, ctx):
        import cv2

        g = media.gray()
        res = g - cv2.GaussianBlur(g, (0, 0), 1.5)
        energy = np.sqrt(cv2.blur(res * res, (7, 7)))
        hm = np.clip(energy / 12.0, 0, 1)
        frac = float((hm > 0.5).mean())
        return self.evidence(score=min(1.0, 8 * frac), label="manipulated", heatmap=hm)


class CountingDet(Detector):
    """Test detector whose score depends on its params (ctx options)."""

    name = "counting_test"
    version = "1"

    def analyze(self, media, ctx):
        gain = float(ctx.opts(self.name).get("gain", 1.0))
        s = float(media.rgb().mean()) / 255.0
        return self.evidence(score=min(1.0, s * gain / 4), label="manipulated")


class CountingDetV2(CountingDet):
    version = "2"


def make_set(root, n=8, size=(96, 128)):
    """n/2 authentic smooth images, n/2 with a noisy pasted square (mask known)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    recs, rows = [], ["file,label,mask"]
    h, w = size
    for i in range(n):
        img = smooth_image(h, w, seed=i)
        if i % 2:
            y, x = int(rng.integers(4, h - 40)), int(rng.integers(4, w - 40))
            sq = img[y:y + 32, x:x + 32].astype(float) + rng.normal(0, 30, (32, 32, 3))
            img[y:y + 32, x:x + 32] = np.clip(sq, 0, 255).astype(np.uint8)
            m = np.zeros((h, w), np.uint8)
            m[y:y + 32, x:x + 32] = 255
            mp = save(m, root / f"img{i}_mask.png")
            recs.append(Record(save(img, root / f"img{i}.png"), 1, mp))
            rows.append(f"img{i}.png,1,img{i}_mask.png")
        else:
            recs.append(Record(save(img, root / f"img{i}.png"), 0))
            rows.append(f"img{i}.png,0,")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return ("test-set", recs)


def _n_entries(cache):
    return len(list(cache.glob("*/*.json")))


def test_local_and_dask_engines_give_identical_metrics(tmp_path):
    distributed = pytest.importorskip("distributed")
    ds = make_set(tmp_path / "data")
    dets = [NoiseMapDet, "metadata"]  # a class, and a name loaded from the registry in workers
    spec = "jpeg:q=70"
    r1 = Benchmark(ds, dets, cache_dir=tmp_path / "c1", workers=1, perturb=spec).run()
    r2 = Benchmark(ds, dets, cache_dir=tmp_path / "c2", workers=2, perturb=spec).run()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  host="127.0.0.1", protocol="tcp://", dashboard_address=None) as lc:
        assert lc.scheduler_address.startswith("tcp://127.0.0.1:")
        b3 = Benchmark(ds, dets, cache_dir=tmp_path / "c3", engine="dask",
                       scheduler=lc.scheduler_address, perturb=spec)
        r3 = b3.run()
        assert b3._engine is None  # closed after the run (its client, not the cluster)
    for c in ("c1", "c2", "c3"):  # every engine computed (8 records + 8 perturbed) x 2 detectors
        assert _n_entries(tmp_path / c) == 32
    m = r1["metrics"]
    assert m["noise_map_test/pixel_f1@0.5"] > 0.6 and m["noise_map_test/image_auc"] > 0.9
    for r in (r2, r3):
        assert r["metrics"] == r1["metrics"]
        assert r["sweep"] == r1["sweep"]  # same perturbed bytes (fingerprint) and metrics


def test_engine_map_keeps_order_and_factory_checks():
    with LocalEngine(2) as eng:
        assert list(eng.map(abs, [-3, 1, -2, 5])) == [3, 1, 2, 5]
        assert list(eng.map(abs, [-1, -2])) == [1, 2]  # the pool is reused
    assert list(LocalEngine(1).map(abs, [-1])) == [1]
    with pytest.raises(ValueError):
        make_engine("local", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ValueError):
        make_engine("spark")


def test_dask_engine_on_an_existing_client_leaves_it_open():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  host="127.0.0.1", protocol="tcp://",
                                  dashboard_address=None) as lc, \
            distributed.Client(lc, set_as_default=False) as client:
        eng = DaskEngine(client)
        assert list(eng.map(abs, range(-5, 0))) == [5, 4, 3, 2, 1]
        eng.close()
        assert client.status == "running"


def test_cache_is_invalidated_when_version_or_params_change(tmp_path):
    _, recs = make_set(tmp_path / "data", n=4)
    cache = tmp_path / "cache"
    r = Runner(cache, [CountingDet])
    assert r.run(recs) == 4
    assert r.run(recs) == 0  # cached
    s1 = [r.outcome(x, "counting_test").score for x in recs]
    r2 = Runner(cache, [CountingDetV2])  # same name, new version
    assert r2.run(recs) == 4 and r2.run(recs) == 0
    r3 = Runner(cache, [CountingDetV2], options={"counting_test": {"gain": 2.0}})  # new params
    assert r3.run(recs) == 4 and r3.run(recs) == 0
    s3 = [r3.outcome(x, "counting_test").score for x in recs]
    assert all(b == pytest.approx(min(1.0, 2 * a)) for a, b in zip(s1, s3, strict=True))
    assert Runner(cache, [CountingDet]).run(recs) == 0  # the old entries are still there
    assert Runner(cache, [CountingDetV2], options={"counting_test": {"gain": 2.0}}).run(recs) == 0


def test_cache_is_invalidated_when_the_detector_code_changes(tmp_path, monkeypatch):
    # the code files of a detector follow its imports through veriscope, transitively
    import veriscope
    from veriscope.bench import runner as R
    from veriscope.core import registry

    root = Path(veriscope.__file__).resolve().parent
    files = {f.relative_to(root).as_posix() for f in R.code_files(registry.load("copy_move"))}
    assert {"detectors/image/copy_move/detector.py", "detectors/image/copy_move/core.py",
            "detectors/image/copy_move/dense.py", "detectors/image/copy_move/verify.py",
            "detectors/base.py", "core/media.py"} <= files
    assert "report/html.py" not in files and "cli.py" not in files  # not imported by it
    # a relative import inside a function counts too
    pkg = tmp_path / "veriscope"
    (pkg / "detectors").mkdir(parents=True)
    (pkg / "detectors" / "x.py").write_text("def f():\n    from ._h import g\n    return g\n")
    (pkg / "detectors" / "_h.py").write_text("g = 1\n")
    assert R._veriscope_imports(pkg / "detectors" / "x.py", pkg) == {pkg / "detectors" / "_h.py"}
    # same name and version, other code: a new cache entry, not the stale one
    _, recs = make_set(tmp_path / "data", n=2)
    cache = tmp_path / "cache"
    assert Runner(cache, [CountingDet]).run(recs) == 2
    assert Runner(cache, [CountingDet]).run(recs) == 0
    monkeypatch.setitem(R._CODE_HASHES, CountingDet.__module__, "edited-code0")
    assert Runner(cache, [CountingDet]).run(recs) == 2


def test_sweep_keeps_unperturbed_metrics_and_masks_follow_crops(tmp_path):
    ds = make_set(tmp_path / "data")
    base = Benchmark(ds, [NoiseMapDet], cache_dir=tmp_path / "c").run()
    res = Benchmark(ds, [NoiseMapDet], cache_dir=tmp_path / "c", perturb="jpeg:q=95,60;crop:frac=0.7",
                    seed=3).run()
    assert base["perturbation"] is None and "sweep" not in base
    assert res["metrics"] == base["metrics"]
    assert res["perturbation"] == "jpeg:q=95,60;crop:frac=0.7"
    assert [e["perturbation"] for e in res["sweep"]] == ["jpeg:q=95", "jpeg:q=60", "crop:frac=0.7"]
    assert res["protocol"]["perturbation"]["seed"] == 3
    for e in res["sweep"]:
        assert e["n"] == 8 and e["n_skipped"] == 0 and "noise_map_test/pixel_f1@0.5" in e["metrics"]
    crop = res["sweep"][2]["metrics"]["noise_map_test/pixel_f1@0.5"]
    assert crop > base["metrics"]["noise_map_test/pixel_f1@0.5"] - 0.15  # the mask was cropped too
    out = Benchmark.write(res, tmp_path / "out")
    assert json.loads(out.read_text())["sweep"][0]["metrics"] == res["sweep"][0]["metrics"]


def test_cli_bench_perturb_sweep(tmp_path):
    make_set(tmp_path / "data", n=4)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["bench", "--dataset", f"folder:{tmp_path / 'data'}", "--detectors",
                                 "metadata", "--cache", str(tmp_path / "c"), "--out", str(out),
                                 "--perturb", "jpeg:q=90,70"])
    assert r.exit_code == 0, r.output
    d = json.loads((out / "results.json").read_text())
    assert d["perturbation"] == "jpeg:q=90,70" and len(d["sweep"]) == 2
    assert "[jpeg:q=70] metadata/coverage" in r.output
    bad = CliRunner().invoke(cli, ["bench", "--dataset", f"folder:{tmp_path / 'data'}", "--out",
                                   str(out), "--perturb", "jpeg:q=900"])
    assert bad.exit_code == 2 and "outside" in bad.output
    bad = CliRunner().invoke(cli, ["bench", "--dataset", f"folder:{tmp_path / 'data'}", "--out",
                                   str(out), "--scheduler", "tcp://127.0.0.1:1"])
    assert bad.exit_code == 2 and "--engine dask" in bad.output
