"""Benchmark harness: dataset adapters, cached detector runs, metrics, versioned protocols.

>>> from veriscope.bench import Benchmark
>>> res = Benchmark("noso:../shared/data/noso-copymove", ["copy_move"]).run()
>>> res["metrics"]["fused/pixel_f1@0.5"]
"""

from __future__ import annotations

import json
from pathlib import Path

from veriscope.bench.cache import cache_root  # noqa: F401 (public: veriscope.bench.cache_root)
from veriscope.core.version import __version__


def _code_hash(cls) -> str:
    from veriscope.bench.runner import code_hash

    return code_hash(cls)


def perturb_version() -> str:
    from veriscope.signals.perturb import VERSION

    return VERSION


class Benchmark:
    def __init__(self, dataset, detectors, *, cache_dir=None, workers: int = 1, fused: bool = True,
                 options: dict | None = None, perturb: str | None = None, seed: int = 0,
                 engine="local", scheduler=None):
        """``detectors``: names (comma-separated string or list) and/or Detector classes.
        ``perturb``: a :mod:`veriscope.signals.perturb` spec; each variant is benchmarked too
        (results["sweep"]). ``engine``: "local", "dask" (with ``scheduler``) or an
        :class:`~veriscope.pipeline.engine.Engine`."""
        from veriscope.bench import datasets
        from veriscope.core import registry

        if isinstance(dataset, str):
            self.dataset_name, self.records = datasets.load(dataset)
        else:
            self.dataset_name, self.records = dataset
        names = detectors.split(",") if isinstance(detectors, str) else list(detectors)
        names = [n.strip() if isinstance(n, str) else n for n in names]
        names = [n for n in names if not isinstance(n, str) or (n and n != "fused")]
        if not names:
            names = [c.name for c in registry.select(None)]
        self._specs = names  # names stay names: workers load them from the registry
        self.classes = [registry.load(n) if isinstance(n, str) else n for n in names]
        self.detectors = [c.name for c in self.classes]
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root() / "bench"
        self.workers = workers
        self.fused = fused
        self.options = options or {}
        self._runner = None
        self.perturb = perturb
        self.seed = int(seed)
        self.variants = []
        if perturb:
            from veriscope.signals.perturb import parse

            self.variants = parse(perturb)  # a bad spec fails here, before any work
        self._engine_arg, self.scheduler = engine, scheduler
        self._engine = None

    @property
    def engine(self):
        from veriscope.pipeline.engine import Engine, make_engine

        if self._engine is None:
            if isinstance(self._engine_arg, Engine):
                self._engine = self._engine_arg
            else:
                self._engine = make_engine(self._engine_arg, workers=self.workers,
                                           scheduler=self.scheduler)
        return self._engine

    def close(self):
        """Close the engine if this benchmark started it."""
        from veriscope.pipeline.engine import Engine

        if self._engine is not None and not isinstance(self._engine_arg, Engine):
            self._engine.close()
        self._engine = None
        if self._runner is not None:
            self._runner.engine = None

    @property
    def runner(self):
        from veriscope.bench.runner import Runner

        if self._runner is None:
            self._runner = Runner(self.cache_dir, self._specs, self.options, self.workers)
        return self._runner

    def run(self, progress=None) -> dict:
        try:
            self.runner.engine = self.engine
            self.runner.run(self.records, progress=progress)
            res = self._results()
            if self.variants:
                res["perturbation"] = self.perturb
                res["protocol"]["perturbation"] = {
                    "version": perturb_version(), "spec": self.perturb, "seed": self.seed,
                    "variants": [v.spec for v in self.variants],
                    "files": "re-encoded from the decoded pixels (no metadata carried over); "
                             "masks follow resize/crop; records that cannot be decoded are left "
                             "out of that variant (n_skipped)",
                }
                res["sweep"] = [self._variant(v, progress) for v in self.variants]
            return res
        finally:
            self.close()

    def _variant(self, variant, progress=None) -> dict:
        from veriscope.bench.datasets import fingerprint
        from veriscope.bench.perturb import perturb_records
        from veriscope.bench.score import score

        recs, errors = perturb_records(self.records, variant, self.cache_dir / "perturb",
                                       seed=self.seed, engine=self.engine)
        self.runner.run(recs, progress=progress)
        return {"perturbation": variant.spec, "n": len(recs), "n_skipped": len(errors),
                "skipped": errors[:20], "fingerprint": fingerprint(recs),
                "metrics": score(recs, self.runner, fused=self.fused)}

    def _results(self) -> dict:
        from veriscope.bench.datasets import fingerprint
        from veriscope.bench.report import items
        from veriscope.bench.score import protocol, score

        return {
            "protocol": protocol(self.detectors, self.fused),
            "tool_version": __version__,
            "dataset": {"name": self.dataset_name, "fingerprint": fingerprint(self.records),
                        "n": len(self.records)},
            "detectors": {c.name: {"version": c.version, "code": _code_hash(c),
                                   "params": self.options.get(c.name, {})}
                          for c in self.classes},
            "perturbation": None,
            "metrics": score(self.records, self.runner, fused=self.fused),
            # per-item scores for ROC/PR curves (veriscope.bench.report; docs/bench.md)
            "items": items(self.records, self.runner, fused=self.fused),
        }

    @staticmethod
    def write(results: dict, out_dir) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        p = out / "results.json"
        p.write_text(json.dumps(results, indent=2))
        return p
