"""`Report`: everything said about one input, and how it is written to disk.

Layout written by :meth:`Report.write` into ``DIR``::

    report.json        validates against `veriscope schema` (veriscope.report/1)
    report.html        one self-contained file for a person
    maps/<name>.png    8-bit grayscale at the input's width x height, 255 = most suspicious
    maps/fused.png     whenever any map exists
    views/<detector>__<view>.png   visual aids (no score), e.g. error level analysis; views
                       larger than VIEW_PNG_MAX_PIXELS (512 x 512) are written as .jpg
                       (quality 95, no chroma subsampling): the PNG of a 2 MP colour view cost
                       ~0.15 s, its JPEG ~0.02 s
    display.jpg        only when asked (the desk): the picture as analysed, at most 2048 px
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veriscope.core import timing
from veriscope.core.evidence import Evidence
from veriscope.core.fusion import Verdict, fuse_maps
from veriscope.core.maps import map_to_u8, write_gray_png
from veriscope.core.media import Media
from veriscope.core.version import __version__

SCHEMA_ID = "veriscope.report/1"
DISPLAY_SIDE = 2048
MAP_PNG_LEVEL = 1
"""zlib level of the view PNGs (small views; maps go through :func:`write_gray_png`: issue 20,
28 default-level PNG encodes took 10 s at 12 MP)."""
VIEW_PNG_MAX_PIXELS = 262_144
VIEW_JPEG_QUALITY = 95


@dataclass
class Report:
    media: Media
    evidence: list[Evidence]
    verdict: Verdict
    elapsed_s: float = 0.0
    detectors_requested: list[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.UTC)
                         .isoformat(timespec="seconds"))
    fused_map_path: str | None = None
    post: dict | None = None
    """The post's summary (:func:`veriscope.core.post.summarize`), None for a plain file."""
    post_evidence: list[Evidence] = field(default_factory=list)
    """What the checks of the caption (the ``post`` family) found; not part of the verdict."""
    _fused: np.ndarray | None = field(default=None, repr=False)
    _u8: dict = field(default_factory=dict, repr=False)

    @property
    def fused_map(self) -> np.ndarray | None:
        """Fused map at the input size (see :func:`veriscope.core.fusion.fuse_maps`)."""
        if self._fused is None:
            size = (self.media.width, self.media.height) if self.media.width else None
            if size is not None:
                for e in self.evidence:
                    if e.heatmap is not None and not e.error and e.applicable:
                        self.map_u8(e)
            self._fused = fuse_maps(self.evidence, size, self._u8)
        return self._fused

    def map_u8(self, e: Evidence) -> np.ndarray:
        """``e``'s map as saved (8 bits, input size), computed once per report."""
        u = self._u8.get(e.name)
        if u is None:
            u = self._u8[e.name] = map_to_u8(e.heatmap, self.media.width, self.media.height)
        return u

    def get(self, name: str) -> Evidence | None:
        return next((e for e in self.evidence if e.name == name), None)

    def to_dict(self) -> dict:
        fused = self.fused_map
        d = {
            "schema": SCHEMA_ID,
            "tool": {"name": "veriscope", "version": __version__},
            "created": self.created,
            "media": self.media.describe(),
            "verdict": self.verdict.to_dict(),
            "evidence": [e.to_dict() for e in self.evidence],
            "fused_map": None if fused is None else {
                "path": self.fused_map_path, "width": int(fused.shape[1]),
                "height": int(fused.shape[0])},
            "detectors_requested": list(self.detectors_requested),
            "elapsed_s": round(float(self.elapsed_s), 6),
        }
        if self.post is not None:  # only for a post: a plain file's report is unchanged
            d["post"] = {**self.post, "evidence": [e.to_dict() for e in self.post_evidence]}
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, **kw)

    # ------------------------------------------------------------------ writing
    def write(self, out_dir, *, html: bool = True, display: bool = False) -> Path:
        """Write report.json, report.html and maps/ into ``out_dir``; returns the JSON path.
        ``display``: also ``display.jpg``, the picture as analysed (so the maps line up with it)
        at most :data:`DISPLAY_SIDE` px long, for browsers (the desk's file page)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        w, h = self.media.width, self.media.height
        maps = [e for e in self.evidence if e.heatmap is not None and not e.error]
        if maps and w and h:
            (out / "maps").mkdir(exist_ok=True)
            for e in maps:
                with timing.phase("write.maps.to_8bit"):
                    u = self.map_u8(e)
                with timing.phase("write.maps.png"):
                    write_gray_png(out / "maps" / f"{e.name}.png", u)
                e.heatmap_path = f"maps/{e.name}.png"
            with timing.phase("write.maps.fuse"):
                fused = self.fused_map
            with timing.phase("write.maps.png"):
                save_map(fused, out / "maps" / "fused.png", w, h)
            self.fused_map_path = "maps/fused.png"
        with timing.phase("write.views"):
            self._write_views(out)
        if display and self.media.kind == "image":
            from PIL import Image

            with timing.phase("write.display"):
                im = Image.fromarray(self.media.rgb())  # decoded once already, for the detectors
                im.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.LANCZOS)
                im.save(out / "display.jpg", quality=90)
        jpath = out / "report.json"
        with timing.phase("write.json"):
            d = self.to_dict()
            jpath.write_text(json.dumps(d, ensure_ascii=False, allow_nan=False, indent=2),
                             encoding="utf-8")
        if html:
            from veriscope.report.html import render_html

            with timing.phase("write.html"):
                (out / "report.html").write_text(render_html(self, d), encoding="utf-8")
        return jpath

    def _write_views(self, out: Path) -> None:
        for e in self.evidence:
            if e.views and not e.error:
                (out / "views").mkdir(exist_ok=True)
                used: set[str] = set()
                for vname, img in e.views.items():
                    stem = f"{e.name}__{_safe_name(vname)}"
                    ext = _view_ext(img)
                    fname, i = f"{stem}{ext}", 1
                    while fname in used:  # two names that differ only in unsafe characters
                        i += 1
                        fname = f"{stem}-{i}{ext}"
                    used.add(fname)
                    save_view(img, out / "views" / fname)
                    e.view_paths[vname] = f"views/{fname}"


def _safe_name(name: str) -> str:
    """A view name as a portable file name part ([a-z0-9_], as the schema asks of view names)."""
    import re

    return re.sub(r"[^a-z0-9_]+", "_", str(name).lower()).strip("_") or "view"


def _view_ext(img: np.ndarray) -> str:
    h, w = np.shape(img)[:2]
    return ".jpg" if h * w > VIEW_PNG_MAX_PIXELS else ".png"


def save_view(img: np.ndarray, path: Path) -> None:
    """A view as PNG, or as JPEG (quality 95, 4:4:4) when ``path`` ends in .jpg."""
    from PIL import Image

    a = np.asarray(img)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if path.suffix == ".jpg":
        Image.fromarray(a).save(path, quality=VIEW_JPEG_QUALITY, subsampling=0)
    else:
        Image.fromarray(a).save(path, compress_level=MAP_PNG_LEVEL)


def save_map(m: np.ndarray, path: Path, width: int, height: int) -> None:
    write_gray_png(path, map_to_u8(m, width, height))
