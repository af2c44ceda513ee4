"""Detector discovery through the ``veriscope.detectors`` entry-point group."""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib.metadata import entry_points

from veriscope.core.errors import DetectorNotFound, VeriscopeError

GROUP = "veriscope.detectors"


@lru_cache(maxsize=1)
def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


class DetectorLoadError(VeriscopeError):
    """A registered detector's module failed to import."""


BROKEN: dict[str, str] = {}
"""Default-set detectors skipped because they failed to load: name -> error."""


def names() -> list[str]:
    return sorted(_entry_points())


def load(name: str):
    """The detector class registered as ``name`` (imports its module, not its heavy deps)."""
    eps = _entry_points()
    if name not in eps:
        close = difflib.get_close_matches(name, list(eps), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DetectorNotFound(f"unknown detector '{name}'{hint} (see `veriscope detectors`)")
    try:
        cls = eps[name].load()
    except Exception as e:  # a broken plugin gets one clear line, not a traceback
        raise DetectorLoadError(f"detector '{name}' cannot be loaded: {type(e).__name__}: {e}") from None
    if getattr(cls, "name", None) != name:
        raise DetectorNotFound(f"entry point '{name}' loads {cls!r} whose name is "
                               f"{getattr(cls, 'name', None)!r}")
    return cls


def select(spec: str | list[str] | None) -> list:
    """Detector classes for a comma-separated list of names, or the default set."""
    if spec is None or spec == "" or spec == []:
        out = []
        for n in names():
            try:
                cls = load(n)
            except DetectorLoadError as e:
                BROKEN[n] = str(e)
                continue
            if cls.default:
                out.append(cls)
        return out
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
