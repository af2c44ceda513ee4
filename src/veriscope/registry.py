"""Detector discovery through the ``veriscope.detectors`` entry-point group."""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib.metadata import entry_points

from veriscope.errors import DetectorNotFound

GROUP = "veriscope.detectors"


@lru_cache(maxsize=1)
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    return sorted(_entry_points())


def load(name: str):
    """The detector class registered as ``name`` (imports its module, not its heavy deps)."""
    eps = _entry_points()
    if name not in eps:
        close = difflib.get_close_matches(name, list(eps), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DetectorNotFound(f"unknown detector '{name}'{hint} (see `veriscope detectors`)")
    cls = eps[name].load()
    if getattr(cls, "name", None) != name:
        raise DetectorNotFound(f"entry point '{name}' loads {cls!r} whose name is "
                               f"{getattr(cls, 'name', None)!r}")
    return cls


def select(spec: str | list[str] | None) -> list:
    """Detector classes for a comma-separated list of names, or the default set."""
    if spec is None or spec == "" or spec == []:
        return [c for c in (load(n) for n in names()) if c.default]
    wanted = spec.split(",") if isinstance(spec, str) else list(spec)
    wanted = [w.strip() for w in wanted if w.strip()]
    if wanted == ["all"]:
        return [load(n) for n in names()]
    out, seen = [], set()
    for w in wanted:
        if w not in seen:
            out.append(load(w))
            seen.add(w)
    return out
