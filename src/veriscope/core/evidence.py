"""The one output contract every detector returns: :class:`Evidence`.

Scores are in [0, 1] and point one way: higher means more likely manipulated or
synthetic. ``score=None`` means the detector gives no score (a visual aid, or a
detector that could not decide). A detector that does not apply to an input
says so with ``applicable=False`` and a ``reason``; it never guesses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEVERITIES = ("info", "low", "medium", "high")
"""Finding severities, weakest first.

info: a fact worth showing (a camera model, GPS present).
low: a hint that is common in innocent files too (an editor's name).
medium: a real inconsistency that needs a human look (dates disagree).
high: strong evidence on its own (generator parameters, a broken signature).
"""

EVIDENCE_LABELS = ("synthetic", "manipulated", "no_evidence", "inconclusive")


@dataclass
class Finding:
    """One human-readable observation, with a stable machine ``code``."""

    severity: str
    code: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    def to_dict(self) -> dict:
        return {"severity": self.severity, "code": self.code, "message": self.message,
                "data": jsonable(self.data)}


@dataclass
class Segment:
    """A time interval in seconds (audio / video)."""

    start: float
    end: float
    score: float | None = None
    label: str | None = None

    def to_dict(self) -> dict:
        return {"start": float(self.start), "end": float(self.end),
                "score": _opt_float(self.score), "label": self.label}


@dataclass
class Box:
    """A pixel rectangle (x, y = top-left), optionally tied to a video frame time."""

    x: int
    y: int
    w: int
    h: int
    score: float | None = None
    label: str | None = None
    time: float | None = None

    def to_dict(self) -> dict:
        return {"x": int(self.x), "y": int(self.y), "w": int(self.w), "h": int(self.h),
                "score": _opt_float(self.score), "label": self.label, "time": _opt_float(self.time)}


@dataclass
class Token:
    """A span of text (e.g. in a caption) with character offsets."""

    start: int
    end: int
    text: str
    score: float | None = None
    label: str | None = None

    def to_dict(self) -> dict:
        return {"start": int(self.start), "end": int(self.end), "text": self.text,
                "score": _opt_float(self.score), "label": self.label}


@dataclass
class Evidence:
    """What one detector found about one input."""

    name: str
    version: str
    applicable: bool = True
    reason: str | None = None
    score: float | None = None
    label: str | None = None
    heatmap: np.ndarray | None = None
    segments: list[Segment] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float | None = None
    error: str | None = None
    views: dict[str, np.ndarray] = field(default_factory=dict)
    """Visual aids for a person (no score): name -> uint8 image (H, W) or (H, W, 3)."""
    heatmap_path: str | None = None  # set by the report writer once the map is saved
    view_paths: dict[str, str] = field(default_factory=dict)  # set by the report writer

    def __post_init__(self):
        if self.score is not None:
            s = float(self.score)
            if not math.isfinite(s) or s < 0.0 or s > 1.0:
                raise ValueError(f"{self.name}: score must be in [0, 1], got {self.score!r}")
            self.score = s
        if self.label is not None and self.label not in EVIDENCE_LABELS:
            raise ValueError(f"{self.name}: label must be one of {EVIDENCE_LABELS}")
        if self.heatmap is not None:
            hm = np.asarray(self.heatmap, dtype=np.float32)
            if hm.ndim != 2:
                raise ValueError(f"{self.name}: heatmap must be 2-D, got shape {hm.shape}")
            self.heatmap = np.clip(np.nan_to_num(hm, nan=0.0), 0.0, 1.0)

    @classmethod
    def not_applicable(cls, name: str, version: str, reason: str) -> Evidence:
        return cls(name=name, version=version, applicable=False, reason=reason)

    @classmethod
    def failed(cls, name: str, version: str, error: str) -> Evidence:
        return cls(name=name, version=version, applicable=True, error=error)

    def add(self, severity: str, code: str, message: str, **data) -> Finding:
        f = Finding(severity, code, message, data)
        self.findings.append(f)
        return f

    def to_dict(self) -> dict:
        hm = None
        if self.heatmap is not None:
            h, w = self.heatmap.shape
            hm = {"path": self.heatmap_path, "width": int(w), "height": int(h),
                  "mean": round(float(self.heatmap.mean()), 6),
                  "max": round(float(self.heatmap.max()), 6)}
        return {
            "name": self.name,
            "version": self.version,
            "applicable": bool(self.applicable),
            "reason": self.reason,
            "score": _opt_float(self.score),
            "label": self.label,
            "heatmap": hm,
            "segments": [s.to_dict() for s in self.segments],
            "boxes": [b.to_dict() for b in self.boxes],
            "tokens": [t.to_dict() for t in self.tokens],
            "findings": [f.to_dict() for f in self.findings],
            "data": jsonable(self.data),
            "views": [{"name": k, "path": self.view_paths.get(k),
                       "width": int(v.shape[1]), "height": int(v.shape[0])}
                      for k, v in self.views.items()],
            "elapsed_s": _opt_float(self.elapsed_s),
            "error": self.error,
        }


def _opt_float(x):
    return None if x is None else float(x)


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, bytes, tuples and sets into JSON-safe values."""
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bytes, bytearray, memoryview)):
        b = bytes(obj)
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return b.hex()
    return str(obj)
