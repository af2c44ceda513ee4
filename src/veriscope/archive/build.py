"""Indexing: folders of pictures and videos into an archive.

Incremental and resumable: a file whose SHA-256 is already in the archive is skipped, and each
file is committed on its own, so an interrupted run loses at most the file in progress. A file
that cannot be read (not media, truncated, hostile, over the limits) is recorded in the
archive's ``skipped`` table with the reason and never stops the run. Videos are indexed by
their keyframes, one per shot (``signals.shots``), each an item with its time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from veriscope.archive.store import Archive
from veriscope.core.errors import MediaError
from veriscope.core.media import DEFAULT_MAX_PIXELS, MEDIA_EXTENSIONS, Media, file_sha256
from veriscope.signals import fingerprint as F

MAX_KEYFRAMES = 50
"""Most keyframes indexed per video."""


@dataclass
class IndexReport:
    added: int = 0
    keyframes: int = 0
    already: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"added": self.added, "keyframes": self.keyframes, "already": self.already,
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}


def walk(paths: Iterable, exclude: Path | None = None) -> Iterator[Path]:
    """Media files under ``paths`` (files as given; folders recursively, sorted, hidden names
    and symlinked folders left out; files chosen by extension)."""
    ex = exclude.resolve() if exclude is not None else None
    for p in paths:
        p = Path(p)
        if p.is_file():
            yield p
            continue
        if not p.is_dir():
            raise FileNotFoundError(f"{p}: no such file or folder")
        for root, dirs, files in os.walk(p, followlinks=False):
            r = Path(root)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                             and not (r / d).is_symlink()
                             and (ex is None or (r / d).resolve() != ex))
            for f in sorted(files):
                if not f.startswith(".") and Path(f).suffix.lower() in MEDIA_EXTENSIONS:
                    yield r / f


def fingerprint(rgb) -> tuple[dict, F.Features]:
    return F.perceptual_hashes(rgb), F.local_features(F.working_copy(rgb))


def index_paths(archive: Archive, paths: Iterable, *, source: str | None = None,
                date: str | None = None, caption: str | None = None,
                max_pixels: int = DEFAULT_MAX_PIXELS,
                progress: Callable[[Path, int, int], None] | None = None) -> IndexReport:
    """Index every media file under ``paths``; ``progress(path, i, n)`` after each file."""
    files = list(walk(paths, exclude=archive.root))
    rep = IndexReport()
    for i, p in enumerate(files):
        try:
            _index_one(archive, p, rep, source=source, date=date, caption=caption,
                       max_pixels=max_pixels)
        except (MediaError, OSError, ValueError) as e:
            reason = e.message if isinstance(e, MediaError) else f"{type(e).__name__}: {e}"
            with archive.connect() as c:
                archive.skip(c, str(p), None, reason)
            rep.skipped.append((str(p), reason))
        if progress is not None:
            progress(p, i + 1, len(files))
    return rep


def _index_one(archive: Archive, p: Path, rep: IndexReport, *, source, date, caption,
               max_pixels) -> None:
    sha = file_sha256(p)
    if archive.has(sha):
        rep.already += 1
        return
    media = Media.open(p, max_pixels=max_pixels)
    meta_date = date or capture_date(media)
    common = {"sha256": sha, "path": str(p.resolve()), "size": media.size_bytes,
              "source": source, "caption": caption}
    if media.kind == "image":
        rgb = media.rgb()
        hashes, feats = fingerprint(rgb)
        with archive.connect() as c:
            archive.add(c, t=-1, kind="image", width=rgb.shape[1], height=rgb.shape[0],
                        hashes=hashes, features=feats, date=meta_date, **common)
        rep.added += 1
        return
    if media.kind != "video":
        raise ValueError(f"{media.kind} files are not indexed (pictures and video keyframes only)")
    from veriscope.core.video import frames_at, scan
    from veriscope.signals.shots import detect_shots

    shots = detect_shots(scan(media))
    if len(shots) > MAX_KEYFRAMES:
        step = len(shots) / MAX_KEYFRAMES
        shots = [shots[int(k * step)] for k in range(MAX_KEYFRAMES)]
    rows = []
    for fr in frames_at(media, [s.key_time for s in shots]):
        rgb = fr.rgb(max_side=1280)
        hashes, feats = fingerprint(rgb)
        rows.append((fr.time, rgb.shape, hashes, feats))
        fr.release()
    if not rows:
        raise ValueError("no frame could be decoded")
    with archive.connect() as c:  # all keyframes of a video, or none
        for t, shape, hashes, feats in rows:
            archive.add(c, t=round(float(t), 4), kind="keyframe", width=shape[1], height=shape[0],
                        hashes=hashes, features=feats, date=meta_date, **common)
    rep.added += 1
    rep.keyframes += len(rows)


def capture_date(media: Media) -> str | None:
    """The capture date in the file's EXIF (DateTimeOriginal), if any, as ISO text."""
    if media.kind != "image":
        return None
    try:
        exif = media.pil().getexif()
        raw = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    except Exception:  # metadata is a bonus; a broken EXIF block never stops indexing
        return None
    if not raw or not isinstance(raw, str) or len(raw) < 19:
        return None
    return raw[:10].replace(":", "-") + "T" + raw[11:19]
