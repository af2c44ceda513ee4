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
                progress: Callable[[Path, int, int], None] | None = None,
                map_fn: Callable | None = None) -> IndexReport:
    """Index every media file under ``paths``; ``progress(path, i, n)`` after each file.

    ``map_fn(fn, items)`` (default: the built-in ``map``) runs the per-file work (hashing,
    decoding, fingerprints) and yields results in order: pass an engine's ``map`` (a process
    pool, a Dask cluster) to spread it; this process only writes the database, so the archive
    is the same whatever runs the work."""
    files = list(walk(paths, exclude=archive.root))
    rep = IndexReport()
    with archive.connect() as c:
        known = {r[0] for r in c.execute("SELECT DISTINCT sha256 FROM items")}
    todo, done = [], 0
    for p in files:  # hashing here is cheap next to decoding: resumed runs skip at once
        try:
            sha = file_sha256(p)
        except OSError as e:
            sha = None
            with archive.connect() as c:
                archive.skip(c, str(p), None, f"cannot be read ({e.strerror or e})")
            rep.skipped.append((str(p), f"cannot be read ({e.strerror or e})"))
        if sha is not None and sha in known:
            rep.already += 1
        elif sha is not None:
            todo.append(p)
            continue
        done += 1
        if progress is not None:
            progress(p, done, len(files))
    results = (map_fn or map)(fingerprint_file, [(str(p), max_pixels, date) for p in todo])
    for p, res in zip(todo, results, strict=True):
        if "error" in res:
            with archive.connect() as c:
                archive.skip(c, str(p), res.get("sha256"), res["error"])
            rep.skipped.append((str(p), res["error"]))
        elif res["sha256"] in known:
            rep.already += 1
        else:
            common = {"sha256": res["sha256"], "path": str(p.resolve()), "size": res["size"],
                      "source": source, "caption": caption, "date": res["date"]}
            with archive.connect() as c:  # one file (all keyframes of a video) or nothing
                for row in res["rows"]:
                    archive.add(c, t=row["t"], kind=res["kind"], width=row["width"],
                                height=row["height"], hashes=row["hashes"],
                                features=F.Features.from_bytes(row["features"]), **common)
            known.add(res["sha256"])
            rep.added += 1
            if res["kind"] == "keyframe":
                rep.keyframes += len(res["rows"])
        done += 1
        if progress is not None:
            progress(p, done, len(files))
    return rep


def fingerprint_file(job: tuple) -> dict:
    """Hash, decode and fingerprint one file (module level: it runs in worker processes).
    Returns ``{sha256, kind, size, date, rows: [{t, width, height, hashes, features}]}`` or
    ``{error}``; never raises for bad input."""
    path, max_pixels, date = job
    p = Path(path)
    sha = None
    try:
        sha = file_sha256(p)
        media = Media.open(p, max_pixels=max_pixels)
        out = {"sha256": sha, "size": media.size_bytes, "date": date or capture_date(media)}
        if media.kind == "image":
            rgb = media.rgb()
            hashes, feats = fingerprint(rgb)
            return {**out, "kind": "image", "rows": [
                {"t": -1, "width": rgb.shape[1], "height": rgb.shape[0], "hashes": hashes,
                 "features": feats.to_bytes()}]}
        if media.kind != "video":
            return {"sha256": sha, "error": f"{media.kind} files are not indexed (pictures and "
                                            "video keyframes only)"}
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
            rows.append({"t": round(float(fr.time), 4), "width": rgb.shape[1],
                         "height": rgb.shape[0], "hashes": hashes, "features": feats.to_bytes()})
            fr.release()
        if not rows:
            return {"sha256": sha, "error": "no frame could be decoded"}
        return {**out, "kind": "keyframe", "rows": rows}
    except MediaError as e:
        return {"sha256": sha, "error": e.message}
    except (OSError, ValueError) as e:
        return {"sha256": sha, "error": f"{type(e).__name__}: {e}"}
    except Exception as e:  # a decoder bug on a hostile file: listed, the run goes on
        return {"sha256": sha, "error": f"cannot be indexed ({type(e).__name__}: {e})"}


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
