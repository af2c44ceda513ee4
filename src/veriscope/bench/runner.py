"""Run detectors over dataset records with an on-disk cache, then score them.

Cache layout: ``CACHE/<sha256 of file>/<detector>-<version>+<code hash>-<params hash>.json``
(+ ``.png`` map, 8-bit at the input size, byte-identical to what ``veriscope analyze --out``
writes). Re-scoring with another metric re-reads the cache and runs nothing. The code hash
(:func:`code_hash`) covers the detector's module and every veriscope module it imports, directly
or not, so an edit that changes a detector's output without a version bump cannot reuse stale
cached results.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from veriscope.bench.cache import file_sha256
from veriscope.bench.datasets import Record

FUSED = "fused"


def _veriscope_imports(path: Path, package_root: Path) -> set[Path]:
    """Source files of the veriscope modules imported anywhere in ``path`` (function-level
    imports included), resolved against ``package_root`` (the directory of ``veriscope``)."""
    import ast

    out: set[Path] = set()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return out
    pkg = path.relative_to(package_root.parent).with_suffix("").parts[:-1]

    def find(name: str) -> Path | None:
        parts = name.split(".")
        if not parts or parts[0] != "veriscope":
            return None
        cand = package_root.parent.joinpath(*parts)
        for f in (cand.with_suffix(".py"), cand / "__init__.py"):
            if f.is_file():
                return f
        return None

    for node in ast.walk(tree):
        found: list[Path | None] = []
        if isinstance(node, ast.Import):
            found = [find(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(pkg[: len(pkg) - node.level + 1]) if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            for a in node.names:  # a submodule when there is one, else the module itself
                found.append(find(f"{mod}.{a.name}") or find(mod))
        out.update(f for f in found if f is not None)
    return out


def code_files(cls) -> list[Path]:
    """Source files of ``cls``'s module and of every veriscope module it imports, directly or
    through other veriscope modules (imports inside functions included), sorted."""
    import importlib
    import inspect

    try:
        start = Path(inspect.getsourcefile(importlib.import_module(cls.__module__)) or "")
    except (TypeError, ImportError, OSError, AttributeError):
        return []
    if not start.is_file():
        return []
    import veriscope

    root = Path(veriscope.__file__).resolve().parent
    seen: set[Path] = set()
    todo = [start.resolve()]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        if root in f.parents:
            todo.extend(_veriscope_imports(f, root) - seen)
    return sorted(seen)


def code_hash(cls) -> str:
    """12 hex digits over :func:`code_files` of ``cls`` (computed once per module)."""
    key = getattr(cls, "__module__", "")
    if key not in _CODE_HASHES:
        h = hashlib.sha256()
        for f in code_files(cls):
            h.update(f.name.encode())
            h.update(f.read_bytes())
        _CODE_HASHES[key] = h.hexdigest()[:12]
    return _CODE_HASHES[key]


_CODE_HASHES: dict[str, str] = {}


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


def _entry(cache: Path, sha: str, cls, ph: str) -> Path:
    return cache / sha / f"{cls.name}-{cls.version}+{code_hash(cls)}-{ph}.json"


def _load(spec):
    """A detector given by registered name (loaded here, in the worker) or as a class."""
    from veriscope.core import registry

    return registry.load(spec) if isinstance(spec, str) else spec


def _work(args) -> tuple[str, list[str]]:
    """Worker: run the missing detectors on one file and fill the cache. Returns (sha, ran).

    Detectors come as registered names or as Detector classes (a class defined at module
    level of an importable module pickles by reference)."""
    path, det_names, cache, options, timeout_s = args
    from veriscope.core.media import Media
    from veriscope.detectors.base import Context
    from veriscope.pipeline.runner import run_detector
    from veriscope.report.document import save_map

    sha = file_sha256(Path(path))
    todo = []
    for n in det_names:
        cls = _load(n)
        if not _entry(cache, sha, cls, params_hash((options or {}).get(cls.name))).exists():
            todo.append(cls)
    if not todo:
        return sha, []
    (cache / sha).mkdir(parents=True, exist_ok=True)
    try:
        media = Media.open(path)
        media.decode()
    except Exception as e:  # the record itself is broken: cache that fact for every detector
        for cls in todo:
            _entry(cache, sha, cls, params_hash((options or {}).get(cls.name))) \
                .write_text(json.dumps({"applicable": False, "score": None, "label": None,
                                        "error": f"input: {e}", "map": None}))
        return sha, [c.name for c in todo]
    ctx = Context(timeout_s=timeout_s, options=options)
    for cls in todo:
        ev = run_detector(cls(), media, ctx)
        ph = params_hash((options or {}).get(cls.name))
        entry = _entry(cache, sha, cls, ph)
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
        :mod:`veriscope.pipeline.engine` engine (default: a local one with ``workers``)."""
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
        from veriscope.pipeline.engine import LocalEngine

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
        sha = self._sha.get(record.media) or file_sha256(record.media)
        self._sha[record.media] = sha
        cls = self._classes[name]
        e = _entry(self.cache, sha, cls, params_hash(self.options.get(name)))
        d = json.loads(e.read_text())
        return Outcome(d["applicable"], d["score"], d["label"], d["error"],
                       e.with_name(d["map"]) if d.get("map") else None, d.get("reliability"))


def cpu_workers() -> int:
    return max(1, (os.cpu_count() or 1))
