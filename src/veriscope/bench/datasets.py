"""Dataset adapters: every layout becomes a list of :class:`Record`.

A record's ``label`` is 1 for manipulated or synthetic media and 0 for media
with no known manipulation; ``mask`` (if any) is a path to a binary image
(nonzero = manipulated) of the same size as the media.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}


@dataclass
class Record:
    media: Path
    label: int
    mask: Path | None = None
    segments: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    tokens: list = field(default_factory=list)
    split: str | None = None
    group: str | None = None
    kind: str | None = None  # e.g. the forgery type
    meta: dict = field(default_factory=dict)


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def noso(root: Path) -> list[Record]:
    """NoSo copy-move: NN.png originals (0), NN_mod*.png forgeries (1) with NN_mod*_gt.png masks."""
    out = []
    for p in sorted(root.glob("*.png")):
        stem = p.stem
        if stem.endswith("_gt"):
            continue
        if "_mod" in stem:
            gt = p.with_name(stem + "_gt.png")
            out.append(Record(p, 1, gt if gt.exists() else None, group=stem[:2], kind="copy_move"))
        else:
            out.append(Record(p, 0, group=stem[:2]))
    return out


def micc_f220(root: Path) -> list[Record]:
    """MICC-F220 image-level labels from groundtruthDB_220.txt (no masks)."""
    base = root / "MICC-F220" if (root / "MICC-F220").is_dir() else root
    gt = base / "groundtruthDB_220.txt"
    out = []
    with open(gt, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            parts = [x.strip() for x in line.replace("\t", ",").split(",") if x.strip()]
            if len(parts) < 2:
                continue
            p = base / parts[0]
            if p.exists():
                out.append(Record(p, int(parts[1]), kind="copy_move" if parts[1] == "1" else None))
    return out


def all_real(root: Path) -> list[Record]:
    return [Record(p, 0, group=p.parent.name) for p in _images(root)]


def all_fake(root: Path) -> list[Record]:
    return [Record(p, 1, group=p.parent.name) for p in _images(root)]


def pristine(root: Path) -> list[Record]:
    """pristine-kodak24-cbsd68-mcmaster: all real; split = subfolder (kodak24 is the FIT split)."""
    return [Record(p, 0, split="fit" if p.parent.name == "kodak24" else "eval", group=p.parent.name)
            for p in _images(root)]


def folder(root: Path) -> list[Record]:
    """Generic: labels.csv (columns file,label[,mask][,split][,group]) or real/ and fake/ subfolders."""
    csv_path = root / "labels.csv"
    if csv_path.exists():
        out = []
        with open(csv_path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                lab = str(row.get("label", "")).strip().lower()
                y = 1 if lab in ("1", "fake", "manipulated", "synthetic", "tampered", "ai") else 0
                mask = row.get("mask") or None
                out.append(Record(root / row["file"], y, root / mask if mask else None,
                                  split=row.get("split") or None, group=row.get("group") or None))
        return out
    out = []
    for sub, y in (("real", 0), ("authentic", 0), ("fake", 1), ("tampered", 1), ("manipulated", 1)):
        if (root / sub).is_dir():
            out += [Record(p, y, group=sub) for p in _images(root / sub)]
    if not out:
        raise ValueError(f"{root}: no labels.csv and no real/ fake/ subfolders")
    return out


def _synth(split: str):
    def adapter(root: Path) -> list[Record]:
        from veriscope.bench import cache_root, synth

        return synth.build(root, cache_root() / "synth" / split, split=split)

    adapter.__doc__ = f"Forgeries synthesized from the {split.upper()} split of the pristine set (synth/1)."
    return adapter


ADAPTERS: dict[str, Callable[[Path], list[Record]]] = {
    "noso": noso,
    "micc-f220": micc_f220,
    "exif-samples": all_real,
    "pristine": pristine,
    "comfyui": all_fake,
    "folder": folder,
    "synth-fit": _synth("fit"),
    "synth-eval": _synth("eval"),
}


def load(spec: str) -> tuple[str, list[Record]]:
    """``NAME:PATH`` -> (name, records). NAME picks the adapter."""
    if ":" not in spec:
        raise ValueError(f"dataset must be NAME:PATH, got {spec!r} (names: {', '.join(ADAPTERS)})")
    name, path = spec.split(":", 1)
    if name not in ADAPTERS:
        raise ValueError(f"unknown dataset adapter {name!r} (known: {', '.join(ADAPTERS)})")
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory")
    return name, ADAPTERS[name](root)


def fingerprint(records: list[Record]) -> str:
    """sha256 over (relative name, size, label, mask name) of every record: detects a changed set."""
    h = hashlib.sha256()
    for r in records:
        h.update(f"{r.media.name}|{r.media.stat().st_size}|{r.label}|"
                 f"{r.mask.name if r.mask else ''}\n".encode())
    return h.hexdigest()
