"""Run detectors over dataset records with an on-disk cache, then score them.

Cache layout: ``CACHE/<sha256 of file>/<detector>-<version>-<params hash>.json`` (+ ``.png``
map, 8-bit at the input size, byte-identical to what ``veriscope analyze --out`` writes).
Re-scoring with another metric re-reads the cache and runs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veriscope.bench.datasets import Record

FUSED = "fused"


def params_hash(params: dict | None) -> str:
    return hashlib.sha256(json.dumps(params or {}, sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class Outcome:
    """One detector on one record, as read back from the cache."""

    applicable: bool
    score: float | None
    label: str | None
    error: str | None
    map_path: Path | None
    reliability: str | None = None

    def heatmap(self) -> np.ndarray | None:
        """The map as float in [0, 1] at the input size (from the 8-bit PNG), or None."""
        if self.map_path is None:
            return None
        from PIL import Image

        return np.asarray(Image.open(self.map_path), np.float32) / 255.0


def _entry(cache: Path, sha: str, name: str, version: str, ph: str) -> Path:
    return cache / sha / f"{name}-{version}-{ph}.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load(spec):
    """A detector given by registered name (loaded here, in the worker) or as a class."""
    from veriscope import registry

    return registry.load(spec) if isinstance(spec, str) else spec


def _work(args) -> tuple[str, list[str]]:
    """Worker: run the missing detectors on one file and fill the cache. Returns (sha, ran).

    Detectors come as registered names or as Detector classes (a class defined at module
    level of an importable module pickles by reference)."""
    path, det_names, cache, options, timeout_s = args
    from veriscope.detectors.base import Context
    from veriscope.media import Media
    from veriscope.report import save_map
    from veriscope.runner import run_detector

    sha = _sha256(Path(path))
    todo = []
    for n in det_names:
        cls = _load(n)
        if not _entry(cache, sha, cls.name, cls.version,
                      params_hash((options or {}).get(cls.name))).exists():
            todo.append(cls)
    if not todo:
        return sha, []
    (cache / sha).mkdir(parents=True, exist_ok=True)
    try:
        media = Media.open(path)
        media.decode()
    except Exception as e:  # the record itself is broken: cache that fact for every detector
        for cls in todo:
            _entry(cache, sha, cls.name, cls.version, params_hash((options or {}).get(cls.name))) \
                .write_text(json.dumps({"applicable": False, "score": None, "label": None,
                                        "error": f"input: {e}", "map": None}))
        return sha, [c.name for c in todo]
    ctx = Context(timeout_s=timeout_s, options=options)
    for cls in todo:
        ev = run_detector(cls(), media, ctx)
        ph = params_hash((options or {}).get(cls.name))
        entry = _entry(cache, sha, cls.name, cls.version, ph)
        mp = None
        if ev.heatmap is not None and not ev.error:
            mp = entry.with_suffix(".png")
            save_map(ev.heatmap, mp, media.width, media.height)
        rel = (ev.data.get("reliability") or {}).get("level") if isinstance(ev.data, dict) else None
        entry.write_text(json.dumps({"applicable": ev.applicable, "score": ev.score, "label": ev.label,
                                     "error": ev.error, "map": mp.name if mp else None,
                                     "reliability": rel, "elapsed_s": ev.elapsed_s}))
    return sha, [c.name for c in todo]


class Runner:
    def __init__(self, cache_dir, detectors: list, options: dict | None = None,
                 workers: int = 1, timeout_s: float = 300.0, engine=None):
        """``detectors``: registered names and/or Detector classes. ``engine``: a
        :mod:`veriscope.bench.engine` engine (default: a local one with ``workers``)."""
        self.cache = Path(cache_dir)
        self.specs = list(detectors)
        self._classes = {c.name: c for c in map(_load, self.specs)}
        self.detectors = list(self._classes)
        self.engine = engine
        self.options = options or {}
        self.workers = max(1, int(workers))
        self.timeout_s = timeout_s
        self._sha: dict[Path, str] = {}

    def run(self, records: list[Record], progress=None) -> int:
        """Fill the cache for every record x detector; returns how many detector runs happened."""
        from veriscope.bench.engine import LocalEngine

        jobs = [(r.media, self.specs, self.cache, self.options, self.timeout_s) for r in records]
        ran = 0
        engine = self.engine or LocalEngine(self.workers)
        try:
            for r, (sha, names) in zip(records, engine.map(_work, jobs), strict=True):
                self._sha[r.media] = sha
                ran += len(names)
                if progress:
                    progress()
        finally:
            if engine is not self.engine:
                engine.close()
        return ran

    def outcome(self, record: Record, name: str) -> Outcome:
        sha = self._sha.get(record.media) or _sha256(record.media)
        self._sha[record.media] = sha
        cls = self._classes[name]
        e = _entry(self.cache, sha, name, cls.version, params_hash(self.options.get(name)))
        d = json.loads(e.read_text())
        return Outcome(d["applicable"], d["score"], d["label"], d["error"],
                       e.with_name(d["map"]) if d.get("map") else None, d.get("reliability"))


def cpu_workers() -> int:
    return max(1, (os.cpu_count() or 1))
