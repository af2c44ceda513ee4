"""Benchmark harness: dataset adapters, cached detector runs, metrics, versioned protocols.

>>> from veriscope.bench import Benchmark
>>> res = Benchmark("noso:../shared/data/noso-copymove", ["copy_move"]).run()
>>> res["metrics"]["fused/pixel_f1@0.5"]
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from veriscope import __version__


def cache_root() -> Path:
    return Path(os.environ.get("VERISCOPE_CACHE") or Path.home() / ".cache" / "veriscope")


class Benchmark:
    def __init__(self, dataset, detectors, *, cache_dir=None, workers: int = 1, fused: bool = True,
                 options: dict | None = None):
        from veriscope import registry
        from veriscope.bench import datasets

        if isinstance(dataset, str):
            self.dataset_name, self.records = datasets.load(dataset)
        else:
            self.dataset_name, self.records = dataset
        names = detectors.split(",") if isinstance(detectors, str) else list(detectors)
        names = [n.strip() for n in names if n.strip() and n.strip() != "fused"]
        if not names:
            names = [c.name for c in registry.select(None)]
        self.classes = [registry.load(n) for n in names]
        self.detectors = [c.name for c in self.classes]
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root() / "bench"
        self.workers = workers
        self.fused = fused
        self.options = options or {}
        self._runner = None

    @property
    def runner(self):
        from veriscope.bench.runner import Runner

        if self._runner is None:
            self._runner = Runner(self.cache_dir, self.detectors, self.options, self.workers)
        return self._runner

    def run(self, progress=None) -> dict:
        from veriscope.bench.datasets import fingerprint
        from veriscope.bench.score import protocol, score

        self.runner.run(self.records, progress=progress)
        return {
            "protocol": protocol(self.detectors, self.fused),
            "tool_version": __version__,
            "dataset": {"name": self.dataset_name, "fingerprint": fingerprint(self.records),
                        "n": len(self.records)},
            "detectors": {c.name: {"version": c.version, "params": self.options.get(c.name, {})}
                          for c in self.classes},
            "perturbation": None,
            "metrics": score(self.records, self.runner, fused=self.fused),
        }

    @staticmethod
    def write(results: dict, out_dir) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        p = out / "results.json"
        p.write_text(json.dumps(results, indent=2))
        return p
