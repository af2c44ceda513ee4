"""The result contract: bench metrics equal what the maps of `analyze --out` yield when scored alone."""

import json

import numpy as np
from PIL import Image

from veriscope.bench import Benchmark, datasets
from veriscope.core.media import Media
from veriscope.core.metrics import mean_f1_at
from veriscope.detectors.base import Context, Detector
from veriscope.pipeline.runner import analyze_media


class LocalContrast(Detector):
    """Test detector: normalised local contrast (real arithmetic, no forensic claim)."""

    name = "test_contrast"
    version = "1"
    localizes = True

    def analyze(self, media, ctx):
        import cv2

        g = media.gray()
        m = np.abs(g - cv2.blur(g, (15, 15)))
        m = m / max(1e-6, float(m.max()))
        ev = self.evidence(score=float(min(1.0, m.mean() * 4)), label="manipulated", heatmap=m[::3, ::3])
        ev.data["reliability"] = {"level": "medium", "why": "test"}
        return ev


class Brightness(Detector):
    name = "test_brightness"
    version = "1"
    localizes = True

    def analyze(self, media, ctx):
        g = media.gray() / 255.0
        return self.evidence(score=float(g.mean()), label="manipulated", heatmap=g)


def test_fused_pixel_f1_equals_scoring_the_saved_maps(shared, tmp_path):
    recs = [r for r in datasets.noso(shared("noso-copymove")) if r.label == 1][:3]
    dets = [LocalContrast, Brightness]
    b = Benchmark(("noso-sub", recs), dets, cache_dir=tmp_path / "cache")
    try:
        res = b.run()
    finally:
        b.close()
    assert res["protocol"]["version"].startswith("veriscope.bench/")
    assert res["dataset"]["n"] == 3 and len(res["dataset"]["fingerprint"]) == 64
    maps, masks = {"fused": [], "test_contrast": []}, []
    for r in recs:
        rep = analyze_media(Media.open(r.media), dets, Context())
        out = tmp_path / "out" / r.media.name
        rep.write(out, html=False)
        d = json.loads((out / "report.json").read_text())
        assert d["fused_map"]["path"] == "maps/fused.png"
        for k in maps:
            maps[k].append(np.asarray(Image.open(out / "maps" / f"{k}.png"), np.float32) / 255.0)
        masks.append(datasets.read_mask(r) if hasattr(datasets, "read_mask")
                     else np.asarray(Image.open(r.mask).convert("L")) > 127)
    for k in maps:
        assert res["metrics"][f"{k}/pixel_f1@0.5"] == round(mean_f1_at(maps[k], masks, 0.5), 6)


def test_bench_cli_writes_results_json_and_leaderboard(shared, tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "res"
    env = dict(os.environ, VERISCOPE_CACHE=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "veriscope.cli", "bench", "--dataset",
                        f"noso:{shared('noso-copymove')}", "--detectors", "metadata",
                        "--out", str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert {"protocol", "tool_version", "dataset", "metrics"} <= set(res)
    assert res["dataset"]["name"] == "noso" and res["dataset"]["n"] == 31
    assert "fused/coverage" in res["metrics"] and "metadata/image_auc" in res["metrics"]
    assert (out / "results.md").read_text().count("|") > 4
