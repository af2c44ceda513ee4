"""Small helpers shared by the adapters: file listing, required paths, JSON/text reading."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from veriscope.bench.datasets import AUDIO_EXTS, IMAGE_EXTS, VIDEO_EXTS, Record

__all__ = ["AUDIO_EXTS", "IMAGE_EXTS", "VIDEO_EXTS", "Record", "files", "find_dirs", "find_dir",
           "need_dir", "need_file", "read_json", "read_lines", "by_stem", "nonempty"]


def files(folder: Path, exts: Iterable[str], recursive: bool = True) -> list[Path]:
    """Files under ``folder`` whose suffix (case-insensitive) is in ``exts``, sorted."""
    exts = {e.lower() for e in exts}
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.suffix.lower() in exts and p.is_file()
                  and not p.name.startswith("._"))


def find_dirs(root: Path, match, max_depth: int = 3, prune: bool = True) -> list[Path]:
    """Folders at most ``max_depth`` levels below ``root`` (root included) where ``match(path)``.

    With ``prune`` the walk does not descend into a matching folder.
    """
    out = []
    root = Path(root)
    base = len(root.parts)
    for dirpath, dirnames, _ in os.walk(root):
        d = Path(dirpath)
        depth = len(d.parts) - base
        hit = match(d)
        if hit:
            out.append(d)
        if depth >= max_depth or (hit and prune):
            dirnames[:] = []
        dirnames.sort()
    return sorted(out)


def find_dir(root: Path, names: Iterable[str], max_depth: int = 2) -> Path | None:
    """The shallowest folder named one of ``names`` within ``max_depth`` of ``root``."""
    names = set(names)
    hits = find_dirs(root, lambda d: d.name in names, max_depth, prune=False)
    return min(hits, key=lambda d: (len(d.parts), str(d))) if hits else None


def need_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise ValueError(f"{path}: missing folder ({what})")
    return path


def need_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ValueError(f"{path}: missing file ({what})")
    return path


def read_json(path: Path, what: str):
    need_file(path, what)
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from e


def read_lines(path: Path, what: str) -> list[tuple[int, str]]:
    """(line number, stripped line) for the non-empty lines of a text file."""
    need_file(path, what)
    with open(path, encoding="utf-8", errors="replace") as fh:
        return [(i, ln.strip()) for i, ln in enumerate(fh, 1) if ln.strip()]


def by_stem(paths: Iterable[Path]) -> dict[str, Path]:
    """Map file stem -> path (first in sorted order wins)."""
    out: dict[str, Path] = {}
    for p in sorted(paths):
        out.setdefault(p.stem, p)
    return out


def nonempty(records: list[Record], root: Path, what: str) -> list[Record]:
    if not records:
        raise ValueError(f"{root}: no media found ({what})")
    return records
